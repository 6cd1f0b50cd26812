/*
 * test_admin_client.c - the Admin API client of the qvm-* tools
 * (src/cli/admin_client.c) and the shared tool helpers (src/cli/cli.c):
 * reply frames (success, exception with and without %-arguments, empty,
 * truncated, wrong header), request headers, every body parser at its
 * limits and with each malformation, GetAll's escaping, the event frame
 * parser fed byte by byte, and calls over a real socket to a tiny server
 * thread: in parallel, with short reads and EINTR, a server that closes
 * without a reply, none at all, and the event stream.  Allocation failures
 * are injected (tests/unit/wrap.c) into the parsers.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/admin_client.h"
#include "cli/cli.h"
#include "unit.h"

/* ---- reply frames ---- */

static void
test_reply_ok(void **state)
{
	struct admin_reply r;
	static const char ok[] = "0\0hello";
	static const char empty[] = "0";

	(void)state;
	assert_int_equal(admin_reply_parse(ok, sizeof(ok) - 1, &r), 0);
	assert_true(r.ok);
	assert_int_equal(r.len, 5);
	assert_memory_equal(r.data, "hello", 5);
	admin_reply_free(&r);
	/* "0\0" alone: success with no data (what writes answer) */
	assert_int_equal(admin_reply_parse(empty, 2, &r), 0);
	assert_true(r.ok);
	assert_int_equal(r.len, 0);
	admin_reply_free(&r);
	/* freeing twice, or a NULL, is harmless */
	admin_reply_free(&r);
	admin_reply_free(NULL);
}

static void
test_reply_bad(void **state)
{
	struct admin_reply r;

	(void)state;
	assert_int_equal(admin_reply_parse("", 0, &r), -ENODATA);
	assert_int_equal(admin_reply_parse("0", 1, &r), -EBADMSG);
	assert_int_equal(admin_reply_parse("0x", 2, &r), -EBADMSG);
	/* an event frame is no reply to a call */
	assert_int_equal(admin_reply_parse("1\0\0e\0\0", 6, &r), -EBADMSG);
	assert_int_equal(admin_reply_parse("3\0", 2, &r), -EBADMSG);
	assert_int_equal(admin_reply_parse("x\0", 2, &r), -EBADMSG);
}

static void
test_reply_exception(void **state)
{
	static const char full[] = "2\0QubesVMNotFoundError\0\0No such "
	                           "domain: 'x'\0";
	static const char tb[] = "2\0QubesException\0Traceback...\0oops\0";
	static const char args[] =
	    "2\0QubesException\0\0%s is %r, 100%%\0a\0b\0";
	static const char unknown[] = "2\0SomethingElseError\0\0m\0";
	static const char proto[] = "2\0ProtocolError\0\0\0";
	struct admin_reply r;

	(void)state;
	assert_int_equal(admin_reply_parse(full, sizeof(full) - 1, &r), 0);
	assert_false(r.ok);
	assert_string_equal(r.exc_type, "QubesVMNotFoundError");
	assert_string_equal(r.exc_msg, "No such domain: 'x'");
	assert_int_equal(r.exc, ADMIN_EXC_VM_NOT_FOUND);
	admin_reply_free(&r);

	assert_int_equal(admin_reply_parse(tb, sizeof(tb) - 1, &r), 0);
	assert_string_equal(r.exc_msg, "oops");
	admin_reply_free(&r);

	/* %-arguments are applied, as Qubes' client does */
	assert_int_equal(admin_reply_parse(args, sizeof(args) - 1, &r), 0);
	assert_string_equal(r.exc_msg, "a is 'b', 100%");
	admin_reply_free(&r);

	assert_int_equal(
	    admin_reply_parse(unknown, sizeof(unknown) - 1, &r), 0);
	assert_int_equal(r.exc, ADMIN_EXC_QUBES);
	admin_reply_free(&r);

	assert_int_equal(admin_reply_parse(proto, sizeof(proto) - 1, &r), 0);
	assert_int_equal(r.exc, ADMIN_EXC_PROTOCOL);
	assert_string_equal(r.exc_msg, "");
	admin_reply_free(&r);
}

static void
test_reply_exception_bad(void **state)
{
	struct admin_reply r;
	char big[300];

	(void)state;
	/* fields: type, traceback, message, each NUL-ended */
	assert_int_equal(admin_reply_parse("2\0T\0\0m", 6, &r), -EBADMSG);
	assert_int_equal(admin_reply_parse("2\0T\0\0", 5, &r), -EBADMSG);
	assert_int_equal(admin_reply_parse("2\0", 2, &r), -EBADMSG);
	/* the type: a non-empty identifier of at most ADMIN_EXC_TYPE_MAX */
	assert_int_equal(admin_reply_parse("2\0\0\0m\0", 6, &r), -EBADMSG);
	assert_int_equal(admin_reply_parse("2\0A B\0\0m\0", 9, &r), -EBADMSG);
	memset(big, 'A', sizeof(big));
	big[0] = '2';
	big[1] = '\0';
	big[2 + ADMIN_EXC_TYPE_MAX + 1] = '\0';
	big[2 + ADMIN_EXC_TYPE_MAX + 2] = '\0';
	big[2 + ADMIN_EXC_TYPE_MAX + 3] = '\0';
	assert_int_equal(
	    admin_reply_parse(big, 2 + ADMIN_EXC_TYPE_MAX + 4, &r), -EBADMSG);
	/* exactly the maximum type length is fine */
	big[2 + ADMIN_EXC_TYPE_MAX] = '\0';
	assert_int_equal(
	    admin_reply_parse(big, 2 + ADMIN_EXC_TYPE_MAX + 3, &r), 0);
	admin_reply_free(&r);
	/* out of memory for the message */
	fault_set(F_ALLOC, -1, 0, 1, ENOMEM);
	assert_int_equal(admin_reply_parse("2\0T\0\0m\0", 7, &r), -ENOMEM);
	fault_reset();
}

static void
test_exc_family(void **state)
{
	(void)state;
	assert_true(
	    admin_exc_is(ADMIN_EXC_VM_NOT_RUNNING, ADMIN_EXC_VM_NOT_STARTED));
	assert_true(
	    admin_exc_is(ADMIN_EXC_VM_NOT_PAUSED, ADMIN_EXC_VM_NOT_STARTED));
	assert_true(admin_exc_is(ADMIN_EXC_VM_NOT_STARTED, ADMIN_EXC_QUBES));
	assert_true(admin_exc_is(ADMIN_EXC_PROPERTY_VALUE, ADMIN_EXC_VALUE));
	assert_false(
	    admin_exc_is(ADMIN_EXC_VM_NOT_HALTED, ADMIN_EXC_VM_NOT_STARTED));
	assert_false(admin_exc_is(ADMIN_EXC_PROTOCOL, ADMIN_EXC_QUBES));
	assert_false(admin_exc_is(ADMIN_EXC_PERMISSION, ADMIN_EXC_QUBES));
	assert_false(admin_exc_is(ADMIN_EXC_NONE, ADMIN_EXC_NONE));
	assert_int_equal(
	    admin_exc_from_name("QubesVMInUseError"), ADMIN_EXC_VM_IN_USE);
	assert_int_equal(
	    admin_exc_from_name("PermissionDenied"), ADMIN_EXC_PERMISSION);
	assert_int_equal(admin_exc_from_name(""), ADMIN_EXC_QUBES);
}

/* ---- requests ---- */

static void
test_request_header(void **state)
{
	char buf[64];
	int n;

	(void)state;
	n = admin_request_header(
	    buf, sizeof(buf), "dom0", "work", "admin.vm.Start", NULL);
	assert_int_equal(n, (int)sizeof("admin.vm.Start+ dom0 name work"));
	assert_memory_equal(buf, "admin.vm.Start+ dom0 name work", (size_t)n);
	assert_true(admin_request_header(buf, sizeof(buf), "dom0", "work",
	                "admin.vm.Shutdown", "force+wait") > 0);
	assert_string_equal(buf, "admin.vm.Shutdown+force+wait dom0 name work");
	/* no space, control character or '+' where the daemon splits */
	assert_int_equal(admin_request_header(buf, sizeof(buf), "dom0", "a b",
	                     "admin.vm.Start", NULL),
	    -EINVAL);
	assert_int_equal(admin_request_header(buf, sizeof(buf), "dom0", "w",
	                     "admin.vm.Start", "a b"),
	    -EINVAL);
	assert_int_equal(admin_request_header(buf, sizeof(buf), "dom0", "w",
	                     "admin.vm.Start", "a\n"),
	    -EINVAL);
	assert_int_equal(admin_request_header(
	                     buf, sizeof(buf), "dom0", "w", "admin+x", NULL),
	    -EINVAL);
	assert_int_equal(
	    admin_request_header(buf, sizeof(buf), "dom0", "w", "", NULL),
	    -EINVAL);
	assert_int_equal(admin_request_header(buf, sizeof(buf), "dom0", "",
	                     "admin.vm.List", NULL),
	    -EINVAL);
	assert_int_equal(admin_request_header(
	                     buf, sizeof(buf), "", "w", "admin.vm.List", NULL),
	    -EINVAL);
	/* exactly fits (with the NUL), then one byte short */
	n = (int)sizeof("m+ s name d");
	assert_int_equal(
	    admin_request_header(buf, (size_t)n, "s", "d", "m", ""), n);
	assert_int_equal(
	    admin_request_header(buf, (size_t)n - 1, "s", "d", "m", ""),
	    -ENAMETOOLONG);
}

/* ---- bodies ---- */

static void
test_parse_lines(void **state)
{
	struct admin_strv sv = {NULL, 0};
	static const char nul[] = "a\0\n";

	(void)state;
	assert_int_equal(admin_parse_lines("a\nbb\n", 5, &sv), 0);
	assert_int_equal(sv.n, 2);
	assert_string_equal(sv.v[1], "bb");
	assert_int_equal(admin_strv_find(&sv, "bb"), 1);
	assert_int_equal(admin_strv_find(&sv, "b"), -1);
	admin_strv_free(&sv);
	assert_int_equal(admin_parse_lines("", 0, &sv), 0);
	assert_int_equal(sv.n, 0);
	assert_int_equal(admin_parse_lines("a", 1, &sv), -EBADMSG);
	assert_int_equal(admin_parse_lines("a\n\n", 3, &sv), -EBADMSG);
	assert_int_equal(admin_parse_lines(nul, 3, &sv), -EBADMSG);
	fault_set(F_ALLOC, -1, 1, 1, ENOMEM);
	assert_int_equal(admin_parse_lines("a\nb\n", 4, &sv), -ENOMEM);
	fault_reset();
}

static void
test_parse_vm_list(void **state)
{
	static const char good[] =
	    "dom0 class=AdminVM state=Running uuid=00000000-0000\n"
	    "work class=AppVM state=Halted uuid=u extra=1\n"
	    "min class=AppVM\n";
	struct admin_vm_list l = {NULL, 0};
	const struct admin_vm *vm;
	static const char *const bad[] = {
	    "work state=Running\n",    /* no class */
	    "work class=\n",           /* empty class */
	    "work class=AppVM junk\n", /* a token without = */
	    "work class=AppVM =x\n",   /* an empty key */
	    "work  class=AppVM\n",     /* two spaces */
	    " work class=AppVM\n",     /* leading space */
	    "work class=AppVM \n",     /* trailing space */
	    "1work class=AppVM\n",     /* not a qube name */
	    "w\x01 class=AppVM\n",     /* control character */
	    "work class=App\x7fVM\n",
	    "work class=AppVM\nwork class=AppVM\n", /* twice */
	    "work class=AppVM",                     /* no newline */
	};
	char longname[ADMIN_NAME_MAX + 32];
	size_t i;

	(void)state;
	assert_int_equal(admin_parse_vm_list(good, sizeof(good) - 1, &l), 0);
	assert_int_equal(l.n, 3);
	vm = admin_vm_list_find(&l, "work");
	assert_non_null(vm);
	assert_string_equal(vm->klass, "AppVM");
	assert_string_equal(vm->state, "Halted");
	assert_string_equal(vm->uuid, "u");
	vm = admin_vm_list_find(&l, "min");
	assert_string_equal(vm->state, "");
	assert_null(admin_vm_list_find(&l, "nope"));
	admin_vm_list_free(&l);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    admin_parse_vm_list(bad[i], strlen(bad[i]), &l), -EBADMSG);
	/* one more than the longest name that fits, then that one */
	memset(longname, 'a', ADMIN_NAME_MAX);
	(void)snprintf(longname + ADMIN_NAME_MAX, 32, " class=AppVM\n");
	assert_int_equal(
	    admin_parse_vm_list(longname, strlen(longname), &l), -EBADMSG);
	(void)snprintf(longname + ADMIN_NAME_MAX - 1, 32, " class=AppVM\n");
	assert_int_equal(
	    admin_parse_vm_list(longname, strlen(longname), &l), 0);
	admin_vm_list_free(&l);
	assert_false(admin_vm_name_valid(""));
	assert_false(admin_vm_name_valid("-a"));
	assert_true(admin_vm_name_valid("a-b.c_d9"));
}

static void
test_parse_property(void **state)
{
	struct admin_prop p;

	(void)state;
	assert_int_equal(
	    admin_parse_property("default=True type=vm sys-net", 28, &p), 0);
	assert_true(p.is_default);
	assert_int_equal(p.type, ADMIN_PROP_VM);
	assert_string_equal(p.value, "sys-net");
	assert_false(admin_prop_is_empty(&p));
	admin_prop_free(&p);
	/* the space after the type is there even for an empty value */
	assert_int_equal(
	    admin_parse_property("default=False type=vm ", 22, &p), 0);
	assert_false(p.is_default);
	assert_string_equal(p.value, "");
	assert_true(admin_prop_is_empty(&p));
	admin_prop_free(&p);
	assert_int_equal(
	    admin_parse_property("default=False type=str ", 23, &p), 0);
	assert_false(admin_prop_is_empty(&p));
	admin_prop_free(&p);
	/* values keep spaces and newlines */
	assert_int_equal(
	    admin_parse_property("default=False type=str a b\nc", 28, &p), 0);
	assert_string_equal(p.value, "a b\nc");
	admin_prop_free(&p);
	assert_int_equal(
	    admin_parse_property("default=False type=vm", 21, &p), -EBADMSG);
	assert_int_equal(
	    admin_parse_property("default=false type=vm x", 23, &p), -EBADMSG);
	assert_int_equal(
	    admin_parse_property("default=True type=list x", 24, &p), -EBADMSG);
	assert_int_equal(
	    admin_parse_property("default=True typ=int 1", 22, &p), -EBADMSG);
	assert_int_equal(admin_parse_property("", 0, &p), -EBADMSG);
	assert_int_equal(
	    admin_parse_property("default=True type=int 1\0", 24, &p),
	    -EBADMSG);
	assert_string_equal(admin_prop_type_name(ADMIN_PROP_LABEL), "label");
	fault_set(F_ALLOC, -1, 0, 1, ENOMEM);
	assert_int_equal(
	    admin_parse_property("default=True type=int 1", 23, &p), -ENOMEM);
	fault_reset();
}

static void
test_parse_property_all(void **state)
{
	static const char good[] = "description default=False type=str "
	                           "a\\nb \\\\ c\n"
	                           "label default=False type=label red\n"
	                           "vcpus default=True type=int 2\n";
	struct admin_prop_list l = {NULL, 0};
	const struct admin_prop *p;
	char out[16];

	(void)state;
	assert_int_equal(
	    admin_parse_property_all(good, sizeof(good) - 1, &l), 0);
	assert_int_equal(l.n, 3);
	p = admin_prop_list_find(&l, "description");
	assert_string_equal(p->value, "a\nb \\ c");
	p = admin_prop_list_find(&l, "vcpus");
	assert_true(p->is_default);
	assert_null(admin_prop_list_find(&l, "netvm"));
	admin_prop_list_free(&l);
	assert_int_equal(admin_parse_property_all("", 0, &l), 0);
	assert_int_equal(l.n, 0);
	/* other escapes, a trailing backslash, no name, a duplicate */
	assert_int_equal(
	    admin_parse_property_all("a default=True type=str \\t\n", 26, &l),
	    -EBADMSG);
	assert_int_equal(
	    admin_parse_property_all("a default=True type=str \\\n", 25, &l),
	    -EBADMSG);
	assert_int_equal(
	    admin_parse_property_all(" default=True type=str x\n", 25, &l),
	    -EBADMSG);
	assert_int_equal(admin_parse_property_all("a default=True type=str x\n"
	                                          "a default=True type=str y\n",
	                     52, &l),
	    -EBADMSG);
	assert_int_equal(
	    admin_parse_property_all("a default=True type=str x", 25, &l),
	    -EBADMSG);
	assert_int_equal(admin_unescape("x\\\\y", 4, out), 3);
	assert_string_equal(out, "x\\y");
	/* out of memory at each allocation in turn */
	for (int skip = 0; skip < 4; skip++) {
		fault_set(F_ALLOC, -1, skip, 1, ENOMEM);
		assert_int_equal(
		    admin_parse_property_all(good, sizeof(good) - 1, &l),
		    -ENOMEM);
		fault_reset();
	}
}

static void
test_kv(void **state)
{
	static const char cs[] =
	    "mem=409600 mem_static_max=4096000 cputime=12 power_state=Running";
	static const char info[] = "pool=lvm\nsize=10\nusage=2\n";
	char out[16];

	(void)state;
	assert_int_equal(
	    admin_kv_get(cs, sizeof(cs) - 1, "mem", out, sizeof(out)), 1);
	assert_string_equal(out, "409600");
	assert_int_equal(
	    admin_parse_power_state(cs, sizeof(cs) - 1, out, sizeof(out)), 0);
	assert_string_equal(out, "Running");
	assert_int_equal(
	    admin_kv_get(info, sizeof(info) - 1, "usage", out, sizeof(out)), 1);
	assert_string_equal(out, "2");
	assert_int_equal(
	    admin_kv_get(info, sizeof(info) - 1, "rw", out, sizeof(out)), 0);
	assert_int_equal(admin_kv_get("a=1 b", 5, "a", out, sizeof(out)), 1);
	assert_int_equal(
	    admin_kv_get("b a=1", 5, "a", out, sizeof(out)), -EBADMSG);
	/* "12345" and its NUL: 6 bytes fit, 5 do not */
	assert_int_equal(
	    admin_kv_get("a=12345", 7, "a", out, 5), -ENAMETOOLONG);
	assert_int_equal(admin_kv_get("a=12345", 7, "a", out, 6), 1);
	assert_int_equal(
	    admin_parse_power_state("mem=1", 5, out, sizeof(out)), -EBADMSG);
	assert_int_equal(
	    admin_parse_power_state("power_state=", 12, out, sizeof(out)),
	    -EBADMSG);
	assert_true(admin_state_is_running("Paused"));
	assert_false(admin_state_is_running("Halted"));
	assert_false(admin_state_is_running("NA"));
	assert_false(admin_state_is_running(""));
}

/* ---- events ---- */

static void
test_event_parse(void **state)
{
	static const char two[] = "1\0work\0domain-start\0start_guid\0True\0\0"
	                          "1\0\0connection-established\0\0";
	struct admin_event ev;
	size_t used, i;

	(void)state;
	/* every prefix of the first frame is incomplete */
	for (i = 0; i < 37; i++)
		assert_int_equal(
		    admin_event_parse(two, i, &used, &ev), -EAGAIN);
	assert_int_equal(
	    admin_event_parse(two, sizeof(two) - 1, &used, &ev), 0);
	assert_int_equal(used, 37);
	assert_string_equal(ev.subject, "work");
	assert_string_equal(ev.name, "domain-start");
	assert_int_equal(ev.nkw, 1);
	assert_string_equal(ev.key[0], "start_guid");
	assert_string_equal(ev.value[0], "True");
	admin_event_free(&ev);
	assert_int_equal(
	    admin_event_parse(two + used, sizeof(two) - 1 - used, &used, &ev),
	    0);
	assert_string_equal(ev.subject, "");
	assert_string_equal(ev.name, "connection-established");
	assert_int_equal(ev.nkw, 0);
	admin_event_free(&ev);
	admin_event_free(NULL);
	/* exception, other headers, an empty name, control characters */
	assert_int_equal(admin_event_parse("2\0", 2, &used, &ev), -EPROTO);
	assert_int_equal(admin_event_parse("0\0", 2, &used, &ev), -EBADMSG);
	assert_int_equal(admin_event_parse("1x", 2, &used, &ev), -EBADMSG);
	assert_int_equal(
	    admin_event_parse("1\0s\0\0\0", 6, &used, &ev), -EBADMSG);
	assert_int_equal(
	    admin_event_parse("1\0s\0e\x1b\0\0", 8, &used, &ev), -EBADMSG);
	assert_int_equal(
	    admin_event_parse("1\0s\0e\0k\0v\x01\0\0", 12, &used, &ev),
	    -EBADMSG);
	/* a key without its value: the empty string is the value */
	assert_int_equal(
	    admin_event_parse("1\0s\0e\0k\0\0\0", 10, &used, &ev), 0);
	assert_int_equal(ev.nkw, 1);
	assert_string_equal(ev.value[0], "");
	admin_event_free(&ev);
	fault_set(F_ALLOC, -1, 0, 1, ENOMEM);
	assert_int_equal(
	    admin_event_parse("1\0s\0e\0\0", 7, &used, &ev), -ENOMEM);
	fault_reset();
}

static void
test_event_limits(void **state)
{
	size_t len = 4 + 2 * (ADMIN_EVENT_KW_MAX + 1) * 4 + 8, o = 0, i;
	char *buf = calloc(len, 1);
	struct admin_event ev;
	size_t used;

	(void)state;
	assert_non_null(buf);
	memcpy(buf, "1\0s\0e\0", 6);
	o = 6;
	for (i = 0; i < ADMIN_EVENT_KW_MAX; i++) {
		memcpy(buf + o, "k\0v\0", 4);
		o += 4;
	}
	buf[o] = '\0';
	/* exactly ADMIN_EVENT_KW_MAX pairs */
	assert_int_equal(admin_event_parse(buf, o + 1, &used, &ev), 0);
	assert_int_equal(ev.nkw, ADMIN_EVENT_KW_MAX);
	admin_event_free(&ev);
	/* one more */
	memcpy(buf + o, "k\0v\0", 4);
	buf[o + 4] = '\0';
	assert_int_equal(admin_event_parse(buf, o + 5, &used, &ev), -EBADMSG);
	free(buf);
	/* a frame longer than ADMIN_EVENT_FRAME_MAX without its end */
	buf = calloc(ADMIN_EVENT_FRAME_MAX + 16, 1);
	assert_non_null(buf);
	buf[0] = '1';
	memset(buf + 2, 'x', ADMIN_EVENT_FRAME_MAX + 8);
	assert_int_equal(
	    admin_event_parse(buf, ADMIN_EVENT_FRAME_MAX + 10, &used, &ev),
	    -EBADMSG);
	free(buf);
}

/* ---- calls over a socket ---- */

/* A server thread: answers each connection with the next of replies. */
struct server {
	char *dir;
	char *path;
	int lfd;
	pthread_t thread;
	const char *const *replies;
	const size_t *lens;
	size_t n;
	/* the headers it got, and the bytes after each: NUL and payload */
	char requests[8][256];
	size_t nreq;
	bool hold; /* keep the last connection open (events) */
	int held_fd;
};

static void *
server_main(void *arg)
{
	struct server *s = arg;
	size_t i;

	for (i = 0; i < s->n; i++) {
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		char *req;
		size_t len;

		if (fd < 0)
			break;
		/* the request ends at EOF: there is no length field */
		len = unit_read_eof(fd, &req);
		if (s->nreq < 8)
			(void)snprintf(s->requests[s->nreq++], 256, "%s|%zu",
			    req, len - strlen(req));
		free(req);
		if (s->lens[i] > 0)
			(void)send(fd, s->replies[i], s->lens[i], MSG_NOSIGNAL);
		if (s->hold && i + 1 == s->n) {
			s->held_fd = fd;
			break;
		}
		(void)close(fd);
	}
	return NULL;
}

static void
server_start(
    struct server *s, const char *const *replies, const size_t *lens, size_t n)
{
	memset(s, 0, sizeof(*s));
	s->dir = unit_tmpdir();
	s->path = unit_path(s->dir, "qubesd.sock");
	s->lfd = unit_listen(s->path);
	s->replies = replies;
	s->lens = lens;
	s->n = n;
	s->held_fd = -1;
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
}

static void
server_stop(struct server *s)
{
	assert_int_equal(pthread_join(s->thread, NULL), 0);
	unit_close(&s->held_fd);
	unit_close(&s->lfd);
	free(s->path);
	unit_rmtree(s->dir);
}

static void
test_call(void **state)
{
	static const char r0[] = "0\0data";
	static const char r1[] = "2\0QubesVMNotHaltedError\0\0Domain is not "
	                         "powered off: 'w'\0";
	static const char *const replies[] = {r0, r1};
	static const size_t lens[] = {sizeof(r0) - 1, sizeof(r1) - 1};
	struct server s;
	struct admin_reply r;
	static const char payload[] = "name=x label=red";

	(void)state;
	server_start(&s, replies, lens, 2);
	assert_int_equal(admin_call(s.path, "dom0", "admin.vm.Create.AppVM",
	                     "fedora", payload, sizeof(payload) - 1, &r),
	    0);
	assert_true(r.ok);
	assert_int_equal(r.len, 4);
	assert_string_equal(r.data, "data");
	admin_reply_free(&r);
	/* short reads and EINTR on the way: the same reply */
	faults[F_READ].cap = 3;
	fault_set(F_READ, -1, 1, 1, EINTR);
	assert_int_equal(
	    admin_call(s.path, "w", "admin.vm.Start", NULL, NULL, 0, &r), 0);
	fault_reset();
	assert_false(r.ok);
	assert_int_equal(r.exc, ADMIN_EXC_VM_NOT_HALTED);
	assert_string_equal(r.exc_msg, "Domain is not powered off: 'w'");
	admin_reply_free(&r);
	server_stop(&s);
	assert_string_equal(
	    s.requests[0], "admin.vm.Create.AppVM+fedora dom0 name dom0|17");
	assert_string_equal(s.requests[1], "admin.vm.Start+ dom0 name w|1");
}

static void
test_call_errors(void **state)
{
	static const char ev[] = "1\0\0x\0\0";
	static const char *const replies[] = {"", ev};
	static const size_t lens[] = {0, sizeof(ev) - 1};
	struct server s;
	struct admin_reply r;
	char *big;

	(void)state;
	server_start(&s, replies, lens, 2);
	/* closed without a reply: qubesd's internal error */
	assert_int_equal(
	    admin_call(s.path, "w", "admin.vm.Start", NULL, NULL, 0, &r),
	    -ENODATA);
	assert_int_equal(
	    admin_call(s.path, "w", "admin.vm.Start", NULL, NULL, 0, &r),
	    -EBADMSG);
	server_stop(&s);
	/* no daemon */
	assert_int_equal(admin_call("/nonexistent/qubesd.sock", "w",
	                     "admin.vm.Start", NULL, NULL, 0, &r),
	    -ENOENT);
	/* malformed and oversized requests are not sent */
	assert_int_equal(admin_call("/nonexistent", "a b", "admin.vm.Start",
	                     NULL, NULL, 0, &r),
	    -EINVAL);
	big = calloc(ADMIN_REQUEST_MAX, 1);
	assert_non_null(big);
	assert_int_equal(admin_call("/nonexistent", "w", "admin.vm.Start", NULL,
	                     big, ADMIN_REQUEST_MAX, &r),
	    -E2BIG);
	free(big);
}

static void
test_call_many(void **state)
{
	const char *replies[ADMIN_PARALLEL_MAX + 4];
	size_t lens[ADMIN_PARALLEL_MAX + 4];
	struct admin_call calls[ADMIN_PARALLEL_MAX + 4];
	struct server s;
	size_t i, n = ADMIN_PARALLEL_MAX + 4;

	(void)state;
	for (i = 0; i < n; i++) {
		replies[i] = "0\0ok";
		lens[i] = 4;
	}
	server_start(&s, replies, lens, n);
	memset(calls, 0, sizeof(calls));
	for (i = 0; i < n; i++) {
		calls[i].dest = "w";
		calls[i].method = "admin.vm.Kill";
	}
	/* more calls than connections at once: all are answered */
	assert_int_equal(admin_call_many(s.path, calls, n), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(calls[i].error, 0);
		assert_true(calls[i].reply.ok);
		assert_string_equal(calls[i].reply.data, "ok");
		admin_reply_free(&calls[i].reply);
	}
	server_stop(&s);
	/* one bad request: nothing is sent */
	calls[1].dest = "";
	assert_int_equal(admin_call_many("/nonexistent", calls, 2), -EINVAL);
}

static void
test_events(void **state)
{
	/* the subscription, then two events in one write */
	static const char stream[] = "1\0\0connection-established\0\0"
	                             "1\0work\0domain-shutdown\0\0"
	                             "1\0\0domain-add\0vm\0new\0\0";
	static const char *const replies[] = {stream};
	static const size_t lens[] = {sizeof(stream) - 1};
	static const char exc0[] = "2\0PermissionDenied\0\0\0";
	static const char *const exc[] = {exc0};
	static const size_t exc_len[] = {sizeof(exc0) - 1};
	struct admin_events es;
	struct admin_event ev;
	struct server s;

	(void)state;
	server_start(&s, replies, lens, 1);
	s.hold = true;
	faults[F_READ].cap = 5;
	assert_int_equal(admin_events_open(s.path, "dom0", &es), 0);
	assert_int_equal(admin_events_next(&es, 1000, &ev), 1);
	assert_string_equal(ev.subject, "work");
	assert_string_equal(ev.name, "domain-shutdown");
	admin_event_free(&ev);
	assert_int_equal(admin_events_next(&es, 1000, &ev), 1);
	assert_string_equal(ev.name, "domain-add");
	assert_string_equal(ev.value[0], "new");
	admin_event_free(&ev);
	fault_reset();
	/* nothing more: a timeout, then the daemon goes away */
	assert_int_equal(admin_events_next(&es, 50, &ev), 0);
	assert_int_equal(pthread_join(s.thread, NULL), 0);
	unit_close(&s.held_fd);
	assert_int_equal(admin_events_next(&es, 1000, &ev), -EPIPE);
	admin_events_close(&es);
	unit_close(&s.lfd);
	free(s.path);
	unit_rmtree(s.dir);
	assert_string_equal(s.requests[0], "admin.Events+ dom0 name dom0|1");

	/* refused: the exception is kept for the caller */
	server_start(&s, exc, exc_len, 1);
	assert_int_equal(admin_events_open(s.path, "dom0", &es), -EPROTO);
	assert_int_equal(es.exc.exc, ADMIN_EXC_PERMISSION);
	admin_events_close(&es);
	server_stop(&s);
}

/* ---- cli.c helpers ---- */

static void
test_cli_quote(void **state)
{
	char out[16];

	(void)state;
	assert_string_equal(
	    cli_quote("a\x1b[1m", out, sizeof(out)), "a\\x1b[1m");
	/* UTF-8 stays, broken UTF-8 does not */
	assert_string_equal(
	    cli_quote("\xc3\xa9\xc3", out, sizeof(out)), "\xc3\xa9\\xc3");
	assert_string_equal(
	    cli_quote("0123456789abcdef", out, sizeof(out)), "0123456789a...");
}

static void
test_cli_prop_text(void **state)
{
	struct admin_prop p = {NULL, false, ADMIN_PROP_INT, "0400"};
	char buf[32];

	(void)state;
	assert_string_equal(cli_prop_text(&p, buf, sizeof(buf)), "400");
	p.value = "x1";
	assert_string_equal(cli_prop_text(&p, buf, sizeof(buf)), "x1");
	p.value = "";
	assert_null(cli_prop_text(&p, buf, sizeof(buf)));
	p.type = ADMIN_PROP_BOOL;
	p.value = "true";
	assert_string_equal(cli_prop_text(&p, buf, sizeof(buf)), "False");
	p.value = "True";
	assert_string_equal(cli_prop_text(&p, buf, sizeof(buf)), "True");
	p.type = ADMIN_PROP_VM;
	p.value = "";
	assert_null(cli_prop_text(&p, buf, sizeof(buf)));
	p.type = ADMIN_PROP_STR;
	assert_string_equal(cli_prop_text(&p, buf, sizeof(buf)), "");
}

static void
test_cli_table(void **state)
{
	char *cells[] = {"NAME", "STATE", "X", "w\xc3\xa9", "Running", "",
	    "longer", "-", "z"};
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	(void)state;
	assert_non_null(f);
	cli_print_table(f, cells, 3, 3);
	cli_wrap(f, "name  one two three four", 15, 2, 8);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(out,
	    "NAME    STATE    X\n"
	    "w\xc3\xa9      Running  \n"
	    "longer  -        z\n"
	    "  name  one two\n"
	    "        three\n"
	    "        four\n");
	free(out);
}

/* Run fn(arg) with stderr going to a file; returns what it wrote. */
static char *
stderr_of(void (*fn)(void *), void *arg)
{
	FILE *f = tmpfile();
	int saved = dup(STDERR_FILENO);
	char *out;
	long len;

	assert_non_null(f);
	assert_true(saved >= 0);
	(void)fflush(stderr);
	assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
	fn(arg);
	(void)fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	(void)close(saved);
	len = ftell(f);
	assert_true(len >= 0);
	out = calloc((size_t)len + 1, 1);
	assert_non_null(out);
	rewind(f);
	assert_int_equal(fread(out, 1, (size_t)len, f), (size_t)len);
	(void)fclose(f);
	return out;
}

struct report_args {
	const struct admin_call *calls;
	size_t n;
	enum admin_exc ok_exc;
	int rc;
};

static void
run_report(void *arg)
{
	struct report_args *a = arg;

	a->rc = cli_report_calls(a->calls, a->n, a->ok_exc);
}

static void
test_cli_report_calls(void **state)
{
	struct admin_call calls[3];
	struct report_args a;
	char *err;

	(void)state;
	cli_init("qvm-test");
	memset(calls, 0, sizeof(calls));
	calls[0].dest = "ok";
	calls[0].method = "admin.vm.Kill";
	calls[0].reply.ok = true;
	/* QubesVMNotRunningError: of the QubesVMNotStartedError family */
	calls[1].dest = "halted";
	calls[1].method = "admin.vm.Kill";
	calls[1].reply.exc = ADMIN_EXC_VM_NOT_RUNNING;
	calls[1].reply.exc_type = "QubesVMNotRunningError";
	calls[1].reply.exc_msg = "Domain is not running";
	calls[2].dest = "broken";
	calls[2].method = "admin.vm.Kill";
	calls[2].error = -EPIPE;

	a = (struct report_args){calls, 2, ADMIN_EXC_VM_NOT_STARTED, -1};
	err = stderr_of(run_report, &a);
	assert_int_equal(a.rc, CLI_EXIT_OK);
	assert_string_equal(err, "");
	free(err);
	/* ADMIN_EXC_NONE: every exception is a failure */
	a = (struct report_args){calls, 2, ADMIN_EXC_NONE, -1};
	err = stderr_of(run_report, &a);
	assert_int_equal(a.rc, CLI_EXIT_FAIL);
	assert_string_equal(err, "qvm-test: halted: Domain is not running\n");
	free(err);
	/* a transport error is one whatever ok_exc is */
	a = (struct report_args){calls, 3, ADMIN_EXC_VM_NOT_STARTED, -1};
	err = stderr_of(run_report, &a);
	assert_int_equal(a.rc, CLI_EXIT_FAIL);
	assert_string_equal(
	    err, "qvm-test: broken: admin.vm.Kill: Broken pipe\n");
	free(err);
	a = (struct report_args){calls, 0, ADMIN_EXC_NONE, -1};
	err = stderr_of(run_report, &a);
	assert_int_equal(a.rc, CLI_EXIT_OK);
	free(err);
}

static void
test_cli_in_list(void **state)
{
	static const char *const list[] = {"netvm", "template", NULL};

	(void)state;
	assert_true(cli_in_list(list, "netvm"));
	assert_true(cli_in_list(list, "template"));
	assert_false(cli_in_list(list, "net"));
	assert_false(cli_in_list(list, ""));
	assert_false(cli_in_list(NULL, "netvm"));
}

struct features_args {
	const char *prefix;
	struct cli_feature_list fl;
	int rc;
};

static void
run_get_features(void *arg)
{
	struct features_args *a = arg;

	a->rc = cli_get_features("w", a->prefix, &a->fl);
}

static void
test_cli_get_features(void **state)
{
	/* the List, then a Get each but for "a"; "service.gone" went since */
	static const char list[] = "0\0a\nservice.b\nservice.gone\nservice.c\n";
	static const char on[] = "0\0"
	                         "1";
	static const char gone[] = "2\0QubesFeatureNotFoundError\0\0\0";
	static const char off[] = "0\0";
	static const char *const replies[] = {list, on, gone, off};
	static const size_t lens[] = {sizeof(list) - 1, sizeof(on) - 1,
	    sizeof(gone) - 1, sizeof(off) - 1};
	/* a malformed List; a Get refused */
	static const char bad[] = "0\0a\n\n";
	static const char one[] = "0\0x\n";
	static const char denied[] = "2\0PermissionDenied\0\0\0";
	static const char *const replies2[] = {bad, one, denied};
	static const size_t lens2[] = {
	    sizeof(bad) - 1, sizeof(one) - 1, sizeof(denied) - 1};
	struct features_args a;
	struct server s;
	char *err;

	(void)state;
	cli_init("qvm-test");
	server_start(&s, replies, lens, 4);
	assert_int_equal(setenv(ADMIN_SOCKET_ENV, s.path, 1), 0);
	a.prefix = "service.";
	err = stderr_of(run_get_features, &a);
	assert_string_equal(err, "");
	free(err);
	assert_int_equal(a.rc, 0);
	assert_int_equal(a.fl.n, 2);
	assert_string_equal(a.fl.f[0].name, "service.b");
	assert_int_equal(a.fl.f[0].value.len, 1);
	assert_string_equal(a.fl.f[0].value.data, "1");
	assert_string_equal(a.fl.f[1].name, "service.c");
	assert_int_equal(a.fl.f[1].value.len, 0);
	cli_feature_list_free(&a.fl);
	assert_int_equal(a.fl.n, 0);
	server_stop(&s);
	assert_int_equal(s.nreq, 4);
	assert_string_equal(
	    s.requests[0], "admin.vm.feature.List+ dom0 name w|1");
	assert_string_equal(
	    s.requests[1], "admin.vm.feature.Get+service.b dom0 name w|1");
	assert_string_equal(
	    s.requests[2], "admin.vm.feature.Get+service.gone dom0 name w|1");
	assert_string_equal(
	    s.requests[3], "admin.vm.feature.Get+service.c dom0 name w|1");

	server_start(&s, replies2, lens2, 3);
	assert_int_equal(setenv(ADMIN_SOCKET_ENV, s.path, 1), 0);
	a.prefix = "";
	err = stderr_of(run_get_features, &a);
	assert_int_equal(a.rc, -1);
	assert_string_equal(err,
	    "qvm-test: admin.vm.feature.List: malformed reply from the "
	    "daemon\n");
	free(err);
	err = stderr_of(run_get_features, &a);
	assert_int_equal(a.rc, -1);
	assert_string_equal(err, "qvm-test: w: permission denied\n");
	free(err);
	assert_int_equal(unsetenv(ADMIN_SOCKET_ENV), 0);
	server_stop(&s);
}

static void
test_cli_power_state(void **state)
{
	static const char paused[] = "0\0mem=400 power_state=Paused";
	static const char none[] = "0\0mem=400";
	static const char exc[] = "2\0QubesVMNotFoundError\0\0\0";
	static const char *const replies[] = {paused, none, exc};
	static const size_t lens[] = {
	    sizeof(paused) - 1, sizeof(none) - 1, sizeof(exc) - 1};
	struct server s;
	char ps[ADMIN_NAME_MAX];

	(void)state;
	server_start(&s, replies, lens, 3);
	assert_int_equal(setenv(ADMIN_SOCKET_ENV, s.path, 1), 0);
	cli_power_state("w", ps, sizeof(ps));
	assert_string_equal(ps, "Paused");
	/* no state in the reply, an exception, no daemon: unknown */
	cli_power_state("w", ps, sizeof(ps));
	assert_string_equal(ps, "");
	cli_power_state("w", ps, sizeof(ps));
	assert_string_equal(ps, "");
	server_stop(&s);
	cli_power_state("w", ps, sizeof(ps));
	assert_string_equal(ps, "");
	assert_int_equal(unsetenv(ADMIN_SOCKET_ENV), 0);
	assert_string_equal(
	    s.requests[0], "admin.vm.CurrentState+ dom0 name w|1");
}

static int
setup(void **state)
{
	(void)state;
	fault_reset();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_reply_ok, setup),
	    cmocka_unit_test_setup(test_reply_bad, setup),
	    cmocka_unit_test_setup(test_reply_exception, setup),
	    cmocka_unit_test_setup(test_reply_exception_bad, setup),
	    cmocka_unit_test_setup(test_exc_family, setup),
	    cmocka_unit_test_setup(test_request_header, setup),
	    cmocka_unit_test_setup(test_parse_lines, setup),
	    cmocka_unit_test_setup(test_parse_vm_list, setup),
	    cmocka_unit_test_setup(test_parse_property, setup),
	    cmocka_unit_test_setup(test_parse_property_all, setup),
	    cmocka_unit_test_setup(test_kv, setup),
	    cmocka_unit_test_setup(test_event_parse, setup),
	    cmocka_unit_test_setup(test_event_limits, setup),
	    cmocka_unit_test_setup(test_call, setup),
	    cmocka_unit_test_setup(test_call_errors, setup),
	    cmocka_unit_test_setup(test_call_many, setup),
	    cmocka_unit_test_setup(test_events, setup),
	    cmocka_unit_test_setup(test_cli_quote, setup),
	    cmocka_unit_test_setup(test_cli_prop_text, setup),
	    cmocka_unit_test_setup(test_cli_table, setup),
	    cmocka_unit_test_setup(test_cli_report_calls, setup),
	    cmocka_unit_test_setup(test_cli_in_list, setup),
	    cmocka_unit_test_setup(test_cli_get_features, setup),
	    cmocka_unit_test_setup(test_cli_power_state, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
