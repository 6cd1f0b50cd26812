/*
 * test_qmp_proxy.c - the VM launcher's QMP through its confined reader
 * (src/vm/qmp_proxy.c).
 *
 * The reader against a fake QEMU on a socketpair (lines scripted before
 * it reads them: command ids 1 for qmp_capabilities, then 2, 3, ...): the
 * handshake and commands come back as results, QEMU's errors too; the
 * reader runs confined (as root: nobody's ids, no_new_privs, seccomp);
 * garbage or EOF from QEMU reaches the launcher as a broken QMP, after
 * which every call fails.  The launcher's side against a reader played
 * by the test: packets of the wrong size, op or result are refused and
 * break the link; a result nobody asked for too; a late result of a call
 * that timed out is dropped.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/io.h"
#include "lib/util.h"
#include "unit.h"
#include "vm/qmp_proxy.h"

#define GREETING                                                               \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, "    \
	"\"major\": 7}, \"package\": \"Debian\"}, \"capabilities\": "          \
	"[\"oob\"]}}\n"
#define RETURN(id) "{\"return\": {}, \"id\": " #id "}\n"
#define NOBODY     65534

struct fx {
	int qemu; /* the fake QEMU's end */
	struct vq v;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	int sv[2];

	assert_non_null(f);
	assert_int_equal(
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vq_start(&f->v, sv[0], NOBODY, NOBODY), 0);
	(void)close(sv[0]);
	f->qemu = sv[1];
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	vq_stop(&f->v);
	assert_int_equal(f->v.pid, -1);
	if (f->qemu >= 0)
		(void)close(f->qemu);
	free(f);
	return 0;
}

static void
say(struct fx *f, const char *s)
{
	assert_int_equal(io_write_all(f->qemu, s, strlen(s)), 0);
}

/* /proc/PID/status's value for key, stripped. */
static void
status_of(pid_t pid, const char *key, char *out, size_t outlen)
{
	char path[64], line[256];
	FILE *fp;
	size_t kl = strlen(key);

	out[0] = '\0';
	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fp = fopen(path, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			char *v = line + kl + 1;

			v += strspn(v, " \t");
			v[strcspn(v, "\n")] = '\0';
			(void)snprintf(out, outlen, "%s", v);
		}
	(void)fclose(fp);
}

/* the launcher's poll loop: wait for the reader, take what it says */
static int
input_within(struct vq *v, int ms)
{
	assert_int_equal(io_wait_until(v->fd, POLLIN, io_deadline(ms)), 0);
	return vq_input(v);
}

static void
test_commands(void **state)
{
	struct fx *f = *state;
	char v[128];

	/*
	 * The reader reads QMP as soon as it can after the handshake, and a
	 * reply before its command is garbage: the replies are all there
	 * before the handshake, which reads them ahead.
	 */
	say(f,
	    GREETING RETURN(1) RETURN(2) RETURN(
	        3) "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}, "
	           "\"id\": 4}\n" RETURN(5));
	assert_int_equal(vq_call(&f->v, VQ_HANDSHAKE, 5000), 0);
	assert_int_equal(vq_call(&f->v, VQ_CONT, 5000), 0);
	assert_int_equal(vq_call(&f->v, VQ_STOP, 5000), 0);
	/* QEMU's error: the command's result */
	assert_int_equal(vq_call(&f->v, VQ_CONT, 5000), -EIO);
	assert_int_equal(vq_call(&f->v, VQ_QUIT, 5000), 0);
	/* the reader is confined */
	status_of(f->v.pid, "Seccomp", v, sizeof(v));
	assert_string_equal(v, "2");
	status_of(f->v.pid, "NoNewPrivs", v, sizeof(v));
	assert_string_equal(v, "1");
	if (geteuid() == 0) {
		status_of(f->v.pid, "Uid", v, sizeof(v));
		assert_string_equal(v, "65534\t65534\t65534\t65534");
		status_of(f->v.pid, "Groups", v, sizeof(v));
		assert_string_equal(v, "");
	}
	/* an event is only logged by the reader: nothing for the launcher */
	say(f,
	    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
	    "\"event\": \"RESUME\"}\n");
	assert_int_equal(
	    io_wait_until(f->v.fd, POLLIN, io_deadline(300)), -ETIMEDOUT);
	/* QEMU closes: the launcher hears that QMP ended; calls fail */
	(void)shutdown(f->qemu, SHUT_WR);
	assert_int_equal(input_within(&f->v, 5000), -EPIPE);
	assert_int_equal(vq_call(&f->v, VQ_CONT, 100), -EPIPE);
	assert_int_equal(vq_input(&f->v), -EPIPE);
}

static void
test_garbage_breaks(void **state)
{
	struct fx *f = *state;
	int status;
	pid_t pid;

	say(f, GREETING RETURN(1));
	assert_int_equal(vq_call(&f->v, VQ_HANDSHAKE, 5000), 0);
	say(f, "{\"return\": [1, 2, \n");
	assert_int_equal(input_within(&f->v, 5000), -EBADMSG);
	/* broken for good; the reader has ended */
	assert_int_equal(vq_call(&f->v, VQ_CONT, 100), -EBADMSG);
	assert_int_equal(vq_input(&f->v), -EBADMSG);
	pid = f->v.pid;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	vq_reaped(&f->v, pid);
	assert_int_equal(f->v.pid, -1);
}

static void
test_handshake_garbage(void **state)
{
	struct fx *f = *state;

	/* an event before the greeting: no handshake, QMP is over */
	say(f,
	    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
	    "\"event\": \"STOP\"}\n" GREETING RETURN(1));
	assert_int_equal(vq_call(&f->v, VQ_HANDSHAKE, 5000), -EBADMSG);
	assert_int_equal(vq_call(&f->v, VQ_CONT, 100), -EBADMSG);
}

static void
test_bad_requests(void **state)
{
	struct fx *f = *state;

	/* refused before anything is sent */
	assert_int_equal(vq_call(&f->v, VQ_DONE, 100), -EINVAL);
	assert_int_equal(vq_call(&f->v, VQ_CONT, -1), -EINVAL);
	assert_int_equal(
	    vq_call(&f->v, VQ_CONT, VQ_MAX_TIMEOUT_MS + 1), -EINVAL);
	/* the link still works */
	say(f, GREETING RETURN(1));
	assert_int_equal(vq_call(&f->v, VQ_HANDSHAKE, 5000), 0);
	/* the reader killed: the launcher hears it died, not that QMP
	 * ended */
	assert_int_equal(kill(f->v.pid, SIGKILL), 0);
	assert_int_equal(input_within(&f->v, 5000), -ECONNRESET);
	assert_int_equal(vq_call(&f->v, VQ_CONT, 100), -ECONNRESET);
}

/* ---- the launcher's side against a hostile reader ---- */

static void
test_msg_parse(void **state)
{
	struct vq_msg m, got;
	char buf[16] = {0};

	(void)state;
	m = (struct vq_msg){.vm_op = VQ_DONE, .vm_arg = 0};
	assert_int_equal(vq_msg_parse(&m, sizeof(m), &got), 0);
	assert_int_equal(got.vm_op, VQ_DONE);
	m.vm_arg = -EIO;
	assert_int_equal(vq_msg_parse(&m, sizeof(m), &got), 0);
	m = (struct vq_msg){.vm_op = VQ_BROKEN, .vm_arg = -EPIPE};
	assert_int_equal(vq_msg_parse(&m, sizeof(m), &got), 0);
	m.vm_arg = -4095;
	assert_int_equal(vq_msg_parse(&m, sizeof(m), &got), 0);
	/* sizes */
	memcpy(buf, &m, sizeof(m));
	assert_int_equal(vq_msg_parse(buf, sizeof(m) - 1, &got), -EBADMSG);
	assert_int_equal(vq_msg_parse(buf, sizeof(m) + 1, &got), -EBADMSG);
	assert_int_equal(vq_msg_parse(buf, 0, &got), -EBADMSG);
	/* ops the reader does not send */
	for (uint32_t op = 0; op < VQ_OP_MAX + 2; op++) {
		m = (struct vq_msg){.vm_op = op, .vm_arg = -1};
		assert_int_equal(vq_msg_parse(&m, sizeof(m), &got),
		    op == VQ_DONE || op == VQ_BROKEN ? 0 : -EBADMSG);
	}
	/* results: 0 or an errno; BROKEN never 0 */
	m = (struct vq_msg){.vm_op = VQ_DONE, .vm_arg = 1};
	assert_int_equal(vq_msg_parse(&m, sizeof(m), &got), -EBADMSG);
	m.vm_arg = -4096;
	assert_int_equal(vq_msg_parse(&m, sizeof(m), &got), -EBADMSG);
	m.vm_arg = INT32_MIN;
	assert_int_equal(vq_msg_parse(&m, sizeof(m), &got), -EBADMSG);
	m = (struct vq_msg){.vm_op = VQ_BROKEN, .vm_arg = 0};
	assert_int_equal(vq_msg_parse(&m, sizeof(m), &got), -EBADMSG);
}

/* A struct vq whose reader is the test: *ret_reader is its end. */
static void
played(struct vq *v, int *ret_reader)
{
	int sv[2];

	assert_int_equal(
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	*v = (struct vq){.pid = -1, .fd = sv[0]};
	*ret_reader = sv[1];
}

static void
reader_says(int fd, const void *p, size_t len)
{
	assert_int_equal(send(fd, p, len, 0), (ssize_t)len);
}

static void
test_hostile_reader(void **state)
{
	struct vq_msg done = {.vm_op = VQ_DONE, .vm_arg = 0}, req;
	struct vq v;
	int r;
	char big[9] = {0};

	(void)state;
	/* a packet of the wrong size: the link is broken for good */
	played(&v, &r);
	reader_says(r, big, sizeof(big));
	assert_int_equal(vq_call(&v, VQ_CONT, 1000), -EBADMSG);
	assert_int_equal(recv(r, &req, sizeof(req), 0), (ssize_t)sizeof(req));
	assert_int_equal(req.vm_op, VQ_CONT);
	assert_int_equal(req.vm_arg, 1000);
	reader_says(r, &done, sizeof(done));
	assert_int_equal(vq_call(&v, VQ_CONT, 1000), -EBADMSG);
	assert_int_equal(vq_input(&v), -EBADMSG);
	vq_stop(&v);
	(void)close(r);

	/* a result nobody asked for */
	played(&v, &r);
	reader_says(r, &done, sizeof(done));
	assert_int_equal(vq_input(&v), -EBADMSG);
	assert_int_equal(vq_call(&v, VQ_CONT, 1000), -EBADMSG);
	vq_stop(&v);
	(void)close(r);

	/* a call that timed out: its late result is dropped, the next
	 * call gets its own */
	played(&v, &r);
	assert_int_equal(vq_call(&v, VQ_STOP, 0), -ETIMEDOUT);
	assert_int_equal(v.late, 1);
	reader_says(r, &done, sizeof(done));
	assert_int_equal(input_within(&v, 1000), 0);
	assert_int_equal(v.late, 0);
	assert_int_equal(v.broken, 0);
	/* one late result, then the next call's own: the first is dropped */
	assert_int_equal(vq_call(&v, VQ_STOP, 0), -ETIMEDOUT);
	reader_says(r, &done, sizeof(done));
	done.vm_arg = -EIO;
	reader_says(r, &done, sizeof(done));
	assert_int_equal(vq_call(&v, VQ_CONT, 1000), -EIO);
	assert_int_equal(v.late, 0);
	vq_stop(&v);
	(void)close(r);

	/* the reader gone without a word: not QMP's end (QEMU may run on
	 * out of our hands), so the launcher kills it */
	played(&v, &r);
	(void)close(r);
	assert_int_equal(vq_call(&v, VQ_CONT, 1000), -ECONNRESET);
	assert_int_equal(vq_input(&v), -ECONNRESET);
	vq_stop(&v);
	played(&v, &r);
	(void)close(r);
	assert_int_equal(input_within(&v, 1000), -ECONNRESET);
	vq_stop(&v);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_commands),
	    T(test_garbage_breaks),
	    T(test_handshake_garbage),
	    T(test_bad_requests),
	    cmocka_unit_test(test_msg_parse),
	    cmocka_unit_test(test_hostile_reader),
	};

	(void)signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
