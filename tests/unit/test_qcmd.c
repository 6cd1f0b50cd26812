/*
 * test_qcmd.c - command lines and per-service configuration
 * (src/lib/qcmd.c).
 *
 * qcmd_parse: user and nogui prefixes, QUBESRPC words, descriptor and name
 * lengths at the maximum and one over, invalid characters, every missing
 * part, and ENOMEM at each allocation.
 *
 * qcmd_config_parse follows Qubes' TOML subset (libqrexec/toml.c and the
 * cases of qrexec/tests/socket/agent.py): "wait-for-session = 00", "01",
 * an empty value, "\"a\"" and a missing '=' are errors; a line comment
 * after a value is fine; a key twice is an error; unknown keys are
 * ignored (but their values must still parse); force-user cannot be
 * combined with skip-service-descriptor or exit-on-*-eof.
 *
 * qcmd_load_config: the lookup order over a path list (service+arg before
 * service), missing files, non-regular and oversized files, parse errors
 * reported as file:line.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/qcmd.h"
#include "unit.h"

static int
setup(void **state)
{
	(void)state;
	fault_reset();
	return 0;
}

static void
test_parse_rpc(void **state)
{
	struct qcmd *c = NULL;
	char err[128] = "";

	(void)state;
	assert_int_equal(qcmd_parse("user:QUBESRPC qubes.Svc+a.b dom0", true,
	                     &c, err, sizeof(err)),
	    0);
	assert_string_equal(c->user, "user");
	assert_false(c->nogui);
	assert_true(c->is_rpc);
	assert_string_equal(c->command, "QUBESRPC qubes.Svc+a.b dom0");
	assert_string_equal(c->rpc_words, "qubes.Svc+a.b dom0");
	assert_string_equal(c->descriptor, "qubes.Svc+a.b");
	assert_string_equal(c->service_name, "qubes.Svc");
	assert_string_equal(c->arg, "a.b");
	assert_string_equal(c->source_domain, "dom0");
	/* defaults of the configuration */
	assert_true(c->send_descriptor);
	assert_false(c->wait_for_session);
	assert_false(c->exit_on_client_eof);
	assert_false(c->exit_on_service_eof);
	assert_null(c->force_user);
	qcmd_free(c);

	/* no argument: the descriptor gets its '+', the argument is "" */
	assert_int_equal(qcmd_parse("root:nogui:QUBESRPC qubes.Svc @adminvm "
	                            "keyword @default",
	                     true, &c, err, sizeof(err)),
	    0);
	assert_true(c->nogui);
	assert_string_equal(c->descriptor, "qubes.Svc+");
	assert_string_equal(c->service_name, "qubes.Svc");
	assert_string_equal(c->arg, "");
	assert_string_equal(c->source_domain, "@adminvm");
	assert_string_equal(
	    c->rpc_words, "qubes.Svc @adminvm keyword @default");
	qcmd_free(c);

	/* an empty argument after '+' is the same descriptor */
	assert_int_equal(
	    qcmd_parse("QUBESRPC qubes.Svc+ work", false, &c, err, sizeof(err)),
	    0);
	assert_null(c->user);
	assert_string_equal(c->descriptor, "qubes.Svc+");
	assert_string_equal(c->arg, "");
	qcmd_free(c);
	qcmd_free(NULL);
}

static void
test_parse_plain(void **state)
{
	struct qcmd *c = NULL;
	char err[128];

	(void)state;
	assert_int_equal(
	    qcmd_parse("user:echo hi: there", true, &c, err, sizeof(err)), 0);
	assert_string_equal(c->user, "user");
	assert_false(c->is_rpc);
	assert_string_equal(c->command, "echo hi: there");
	assert_null(c->descriptor);
	qcmd_free(c);
	/* an empty user and an empty command are the caller's business */
	assert_int_equal(qcmd_parse(":", true, &c, err, sizeof(err)), 0);
	assert_string_equal(c->user, "");
	assert_string_equal(c->command, "");
	qcmd_free(c);
	/* without a user part, a colon is part of the command */
	assert_int_equal(
	    qcmd_parse("nogui:a:b", false, &c, err, sizeof(err)), 0);
	assert_true(c->nogui);
	assert_string_equal(c->command, "a:b");
	qcmd_free(c);
	/* "QUBESRPC" must be a word of its own */
	assert_int_equal(
	    qcmd_parse("QUBESRPCx svc dom0", false, &c, err, sizeof(err)),
	    -EINVAL);
}

static void
test_parse_errors(void **state)
{
	static const char *const bad[] = {
	    "QUBESRPC",
	    "QUBESRPC svc",
	    "QUBESRPC  dom0",
	    "QUBESRPC +arg dom0",
	    "QUBESRPC svc ",
	    "QUBESRPC svc  dom0",
	    "QUBESRPC sv/c dom0",
	    "QUBESRPC svc+a/b dom0",
	    "QUBESRPC svc do/m0",
	    "QUBESRPC svc dom0\x01",
	    "QUBESRPC svc+\xff dom0",
	    "QUBESRPC\tsvc dom0",
	};
	struct qcmd *c = (struct qcmd *)0x1;
	char err[128];
	size_t i;

	(void)state;
	assert_int_equal(
	    qcmd_parse("no user part", true, &c, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "no user part (missing ':')");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(
		    qcmd_parse(bad[i], false, &c, err, sizeof(err)), -EINVAL);
		assert_true(strlen(err) > 0);
	}
	/* the pointer is left alone on failure */
	assert_ptr_equal(c, (struct qcmd *)0x1);
	/* a source domain of 63 characters, and of 64 */
	{
		char cmd[128];

		(void)snprintf(cmd, sizeof(cmd), "QUBESRPC svc %063d", 0);
		assert_int_equal(
		    qcmd_parse(cmd, false, &c, err, sizeof(err)), 0);
		qcmd_free(c);
		(void)snprintf(cmd, sizeof(cmd), "QUBESRPC svc %064d", 0);
		assert_int_equal(
		    qcmd_parse(cmd, false, &c, err, sizeof(err)), -EINVAL);
	}
}

static void
test_parse_lengths(void **state)
{
	size_t pre = strlen("QUBESRPC "), max = QREXEC_MAX_SERVICE_NAME_LEN;
	char *cmd = malloc(pre + max + 16);
	struct qcmd *c = NULL;
	char err[128];

	(void)state;
	assert_non_null(cmd);
	/* a service name of NAME_MAX characters, and one more */
	memcpy(cmd, "QUBESRPC ", pre);
	memset(cmd + pre, 'n', NAME_MAX);
	(void)strcpy(cmd + pre + NAME_MAX, "+arg dom0");
	assert_int_equal(qcmd_parse(cmd, false, &c, err, sizeof(err)), 0);
	assert_int_equal(strlen(c->service_name), NAME_MAX);
	qcmd_free(c);
	memset(cmd + pre, 'n', NAME_MAX + 1);
	(void)strcpy(cmd + pre + NAME_MAX + 1, "+arg dom0");
	assert_int_equal(qcmd_parse(cmd, false, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "service name too long"));

	/* a descriptor of the maximum length, and one more */
	memcpy(cmd + pre, "svc+", 4);
	memset(cmd + pre + 4, 'a', max - 4);
	(void)strcpy(cmd + pre + max, " dom0");
	assert_int_equal(qcmd_parse(cmd, false, &c, err, sizeof(err)), 0);
	assert_int_equal(strlen(c->descriptor), max);
	assert_int_equal(strlen(c->arg), max - 4);
	qcmd_free(c);
	memset(cmd + pre + 4, 'a', max - 3);
	(void)strcpy(cmd + pre + max + 1, " dom0");
	assert_int_equal(qcmd_parse(cmd, false, &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "too long"));
	free(cmd);
}

static void
test_parse_enomem(void **state)
{
	static const char *const cmds[] = {
	    "u:QUBESRPC qubes.Svc+arg dom0",
	    "u:QUBESRPC qubes.Svc dom0",
	    "u:echo hi",
	};
	struct qcmd *c;
	char err[128];
	size_t i;
	int n, r;

	(void)state;
	/* fail the 1st, 2nd, ... allocation until none is left to fail */
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		for (n = 0;; n++) {
			fault_set(F_ALLOC, -1, n, 1, ENOMEM);
			c = NULL;
			r = qcmd_parse(cmds[i], true, &c, err, sizeof(err));
			if (faults[F_ALLOC].calls <= n) {
				assert_int_equal(r, 0);
				qcmd_free(c);
				break;
			}
			assert_int_equal(r, -ENOMEM);
			assert_null(c);
		}
		assert_true(n >= 2);
	}
	fault_reset();
}

/* Parse text into a fresh RPC command; returns the result. */
static int
conf(const char *text, struct qcmd **ret, char *err, size_t errlen)
{
	char e[128];

	assert_int_equal(
	    qcmd_parse("QUBESRPC qubes.Svc dom0", false, ret, e, sizeof(e)), 0);
	err[0] = '\0';
	return qcmd_config_parse(
	    *ret, "svc.conf", text, strlen(text), err, errlen);
}

/* The text must be refused, with an error naming line `line`. */
static void
conf_bad(const char *text, int line)
{
	struct qcmd *c;
	char err[256], where[32];

	assert_int_equal(conf(text, &c, err, sizeof(err)), -EINVAL);
	if (line > 0) {
		(void)snprintf(where, sizeof(where), "svc.conf:%d: ", line);
		assert_true(strncmp(err, where, strlen(where)) == 0);
	} else {
		assert_true(strncmp(err, "svc.conf: ", 10) == 0);
	}
	qcmd_free(c);
}

static void
test_config_values(void **state)
{
	struct qcmd *c;
	char err[256];

	(void)state;
	assert_int_equal(conf("# comment\n\nwait-for-session = true\n"
	                      "skip-service-descriptor=true\n"
	                      "exit-on-client-eof = true\t\n"
	                      "exit-on-service-eof= true # yes\r\n"
	                      "unknown-key = 'ignored'\n",
	                     &c, err, sizeof(err)),
	    0);
	assert_true(c->wait_for_session);
	assert_false(c->send_descriptor);
	assert_true(c->exit_on_client_eof);
	assert_true(c->exit_on_service_eof);
	assert_null(c->force_user);
	qcmd_free(c);

	assert_int_equal(conf("wait-for-session = 1 # line comment\n"
	                      "force-user = 'alice' # comment\n"
	                      "skip-service-descriptor = false\n"
	                      "exit-on-client-eof = false\n"
	                      "exit-on-service-eof = false",
	                     &c, err, sizeof(err)),
	    0);
	assert_true(c->wait_for_session);
	assert_true(c->send_descriptor);
	assert_string_equal(c->force_user, "alice");
	qcmd_free(c);

	assert_int_equal(conf("wait-for-session = 0", &c, err, sizeof(err)), 0);
	assert_false(c->wait_for_session);
	qcmd_free(c);
	assert_int_equal(
	    conf("wait-for-session=false", &c, err, sizeof(err)), 0);
	assert_false(c->wait_for_session);
	qcmd_free(c);
	/* an empty file, and one of comments only */
	assert_int_equal(conf("", &c, err, sizeof(err)), 0);
	qcmd_free(c);
	assert_int_equal(conf("#\n# x = 1\n", &c, err, sizeof(err)), 0);
	qcmd_free(c);
	/*
	 * A line of blanks only is skipped.  Qubes' parser refuses it
	 * ("whitespace at start of line": it strips trailing blanks only
	 * down to one character); TOML allows it, and accepting more than
	 * Qubes breaks no Qubes configuration.
	 */
	assert_int_equal(
	    conf("   \n\t\nwait-for-session = 1\n", &c, err, sizeof(err)), 0);
	assert_true(c->wait_for_session);
	qcmd_free(c);
	/* a quoted value may hold '#' and blanks */
	assert_int_equal(conf("force-user = 'a#b c'", &c, err, sizeof(err)), 0);
	assert_string_equal(c->force_user, "a#b c");
	qcmd_free(c);
}

static void
test_config_qubes_cases(void **state)
{
	(void)state;
	/* the invalid configurations of Qubes' agent and daemon tests */
	conf_bad("wait-for-session = 00\n", 1);
	conf_bad("wait-for-session = 01\n", 1);
	conf_bad("wait-for-session = \n", 1);
	conf_bad("wait-for-session = \"a\"\n", 1);
	conf_bad("wait-for-session\n", 1);
}

static void
test_config_errors(void **state)
{
	(void)state;
	conf_bad("wait-for-session = 2\n", 1);
	conf_bad("wait-for-session = 'true'\n", 1);
	conf_bad("wait-for-session = truex\n", 1);
	conf_bad("wait-for-session = t\n", 1);
	conf_bad("wait-for-session = True\n", 1);
	conf_bad("wait-for-session = -1\n", 1);
	conf_bad("wait-for-session = 1 1\n", 1);
	conf_bad("\n# c\nexit-on-client-eof = 1\n", 3);
	conf_bad("exit-on-service-eof = 0\n", 1);
	conf_bad("skip-service-descriptor = 'yes'\n", 1);
	conf_bad("force-user = alice\n", 1);
	conf_bad("force-user = 1\n", 1);
	conf_bad("force-user = \"alice\"\n", 1);
	conf_bad("force-user = '''alice'''\n", 1);
	conf_bad("force-user = 'alice\n", 1);
	conf_bad("force-user = ''\n", 1);
	conf_bad("force-user = 'a:b'\n", 1);
	conf_bad("force-user = 'alice' x\n", 1);
	conf_bad("[section]\n", 1);
	conf_bad(" wait-for-session = 1\n", 1);
	conf_bad("\twait-for-session = 1\n", 1);
	conf_bad("1key = 1\n", 1);
	conf_bad("-key = 1\n", 1);
	conf_bad("=1\n", 1);
	conf_bad("key/x = 1\n", 1);
	/* an unknown key is ignored, but its value must still parse */
	conf_bad("unknown = bogus\n", 1);
	conf_bad("unknown = \"x\"\n", 1);
	conf_bad("unknown\n", 1);
	/* a NUL anywhere */
	{
		struct qcmd *c;
		char err[128], e[128];

		assert_int_equal(
		    qcmd_parse("QUBESRPC a dom0", false, &c, e, sizeof(e)), 0);
		assert_int_equal(
		    qcmd_config_parse(c, "n", "a = 1\n\0", 7, err, sizeof(err)),
		    -EINVAL);
		assert_string_equal(err, "n: NUL byte in file");
		qcmd_free(c);
	}
}

static void
test_config_duplicates(void **state)
{
	static const char *const keys[] = {"wait-for-session = 1",
	    "wait-for-session = false", "force-user = 'a'",
	    "skip-service-descriptor = false", "exit-on-client-eof = false",
	    "exit-on-service-eof = false"};
	char text[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		(void)snprintf(
		    text, sizeof(text), "%s\n#\n%s\n", keys[i], keys[i]);
		conf_bad(text, 3);
	}
	conf_bad("wait-for-session = 1\nwait-for-session = true\n", 2);
	/* unknown keys may repeat */
	{
		struct qcmd *c;
		char err[128];

		assert_int_equal(
		    conf("x = 1\nx = 2\n", &c, err, sizeof(err)), 0);
		qcmd_free(c);
	}
}

static void
test_config_force_user(void **state)
{
	char user[300], text[400];
	struct qcmd *c;
	char err[256];

	(void)state;
	/* force-user with any of the socket-only options is refused */
	conf_bad("force-user = 'a'\nskip-service-descriptor = true\n", 0);
	conf_bad("exit-on-client-eof = true\nforce-user = 'a'\n", 0);
	conf_bad("force-user = 'a'\nexit-on-service-eof = true\n", 0);
	/* a user name of 255 characters, and of 256 */
	memset(user, 'u', sizeof(user));
	user[255] = '\0';
	(void)snprintf(text, sizeof(text), "force-user = '%s'\n", user);
	assert_int_equal(conf(text, &c, err, sizeof(err)), 0);
	assert_string_equal(c->force_user, user);
	qcmd_free(c);
	user[255] = 'u';
	user[256] = '\0';
	(void)snprintf(text, sizeof(text), "force-user = '%s'\n", user);
	conf_bad(text, 1);
	/* no memory for the user name */
	assert_int_equal(
	    qcmd_parse("QUBESRPC a dom0", false, &c, err, sizeof(err)), 0);
	fault_set(F_ALLOC, -1, 0, 1, ENOMEM);
	assert_int_equal(
	    qcmd_config_parse(c, "n", "force-user = 'a'", 16, err, sizeof(err)),
	    -ENOMEM);
	fault_reset();
	qcmd_free(c);
}

static void
test_regress_conf_int_ullong_max(void **state)
{
	struct qcmd *c;
	char err[256];

	(void)state;
	/*
	 * Regression: the overflow check refused 18446744073709551610..615
	 * ("integer too large"), which Qubes' strtoull() accepts, so a
	 * config with such a value under an unknown key broke the service.
	 */
	assert_int_equal(
	    conf("big = 18446744073709551615\n", &c, err, sizeof(err)), 0);
	qcmd_free(c);
	assert_int_equal(
	    conf("big = 18446744073709551610\n", &c, err, sizeof(err)), 0);
	qcmd_free(c);
	/* one more is out of range */
	conf_bad("big = 18446744073709551616\n", 1);
	conf_bad("big = 99999999999999999999999\n", 1);
	conf_bad("big = 0x10\n", 1);
}

static void
test_config_line_length(void **state)
{
	char *text = malloc(4200);
	struct qcmd *c;
	char err[256];
	size_t n;

	(void)state;
	assert_non_null(text);
	/* the longest line (4095 bytes and its newline), and one more */
	n = (size_t)snprintf(text, 4200, "# ");
	memset(text + n, 'c', 4095 - n);
	(void)strcpy(text + 4095, "\nwait-for-session = 1\n");
	assert_int_equal(conf(text, &c, err, sizeof(err)), 0);
	assert_true(c->wait_for_session);
	qcmd_free(c);
	memset(text + n, 'c', 4096 - n);
	(void)strcpy(text + 4096, "\nwait-for-session = 1\n");
	conf_bad(text, 1);
	free(text);
}

struct cfgdir {
	char *a, *b, *path;
};

static int
cfg_setup(void **state)
{
	struct cfgdir *d = calloc(1, sizeof(*d));

	fault_reset();
	if (d == NULL)
		return -1;
	d->a = unit_tmpdir();
	d->b = unit_tmpdir();
	if (asprintf(&d->path, "%s::%s", d->a, d->b) < 0)
		return -1;
	*state = d;
	return 0;
}

static int
cfg_teardown(void **state)
{
	struct cfgdir *d = *state;

	fault_reset();
	unit_rmtree(d->a);
	unit_rmtree(d->b);
	free(d->path);
	free(d);
	return 0;
}

static int
load(struct cfgdir *d, const char *cmd, struct qcmd **ret, char *err,
    size_t errlen)
{
	char e[128];

	assert_int_equal(qcmd_parse(cmd, false, ret, e, sizeof(e)), 0);
	err[0] = '\0';
	return qcmd_load_config(*ret, d->path, err, errlen);
}

static void
test_load_order(void **state)
{
	struct cfgdir *d = *state;
	struct qcmd *c;
	char err[512];

	/* nothing configured: not an error, nothing changes */
	assert_int_equal(
	    load(d, "QUBESRPC svc+arg dom0", &c, err, sizeof(err)), 0);
	assert_false(c->wait_for_session);
	qcmd_free(c);
	/* the service's file applies to every argument */
	unit_write_file(d->a, "svc", "wait-for-session = 1\n", 0644);
	assert_int_equal(
	    load(d, "QUBESRPC svc+arg dom0", &c, err, sizeof(err)), 0);
	assert_true(c->wait_for_session);
	qcmd_free(c);
	/* "svc+arg" wins over "svc", even in a later directory */
	unit_write_file(d->b, "svc+arg", "exit-on-client-eof = true\n", 0644);
	assert_int_equal(
	    load(d, "QUBESRPC svc+arg dom0", &c, err, sizeof(err)), 0);
	assert_false(c->wait_for_session);
	assert_true(c->exit_on_client_eof);
	qcmd_free(c);
	/* another argument still gets "svc" */
	assert_int_equal(
	    load(d, "QUBESRPC svc+other dom0", &c, err, sizeof(err)), 0);
	assert_true(c->wait_for_session);
	qcmd_free(c);
	/* no argument: "svc+" then "svc" */
	unit_write_file(d->b, "svc+", "skip-service-descriptor = true\n", 0644);
	assert_int_equal(load(d, "QUBESRPC svc dom0", &c, err, sizeof(err)), 0);
	assert_false(c->send_descriptor);
	assert_false(c->wait_for_session);
	qcmd_free(c);
}

static void
test_load_errors(void **state)
{
	struct cfgdir *d = *state;
	struct qcmd *c;
	char err[512], *p, *big;
	size_t n;

	/* a parse error names the file and the line */
	unit_write_file(d->a, "bad", "\nwait-for-session = 00\n", 0644);
	assert_int_equal(
	    load(d, "QUBESRPC bad dom0", &c, err, sizeof(err)), -EINVAL);
	p = unit_path(d->a, "bad:2: ");
	assert_true(strncmp(err, p, strlen(p)) == 0);
	free(p);
	qcmd_free(c);
	/* a directory where the file should be */
	p = unit_path(d->a, "dir");
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
	assert_int_equal(
	    load(d, "QUBESRPC dir dom0", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	qcmd_free(c);
	/* exactly the maximum size, and one byte more */
	big = malloc(QCMD_MAX_CONFIG_SIZE + 2);
	assert_non_null(big);
	n = QCMD_MAX_CONFIG_SIZE;
	memset(big, '\n', n);
	(void)memcpy(big, "wait-for-session = 1", 20);
	big[n] = '\0';
	unit_write_file(d->a, "big", big, 0644);
	assert_int_equal(load(d, "QUBESRPC big dom0", &c, err, sizeof(err)), 0);
	assert_true(c->wait_for_session);
	qcmd_free(c);
	big[n] = '\n';
	big[n + 1] = '\0';
	unit_write_file(d->a, "big", big, 0644);
	assert_int_equal(
	    load(d, "QUBESRPC big dom0", &c, err, sizeof(err)), -EINVAL);
	qcmd_free(c);
	free(big);
	/* a symlink through a file: a lookup error, not "not found" */
	p = unit_path(d->a, "loop");
	assert_int_equal(symlink("/etc/passwd/x", p), 0);
	free(p);
	assert_int_equal(
	    load(d, "QUBESRPC loop dom0", &c, err, sizeof(err)), -ENOTDIR);
	assert_non_null(strstr(err, "config for loop+"));
	qcmd_free(c);
	/* no memory for the text */
	unit_write_file(d->a, "ok", "wait-for-session = 1\n", 0644);
	assert_int_equal(
	    qcmd_parse("QUBESRPC ok dom0", false, &c, err, sizeof(err)), 0);
	fault_set(F_ALLOC, -1, 0, 1, ENOMEM);
	assert_int_equal(
	    qcmd_load_config(c, d->path, err, sizeof(err)), -ENOMEM);
	fault_reset();
	assert_false(c->wait_for_session);
	qcmd_free(c);
	/* a short read (the file shrank, or an I/O error) */
	assert_int_equal(
	    qcmd_parse("QUBESRPC ok dom0", false, &c, err, sizeof(err)), 0);
	faults[F_READ].cap = 3;
	assert_int_equal(qcmd_load_config(c, d->path, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "short read"));
	fault_set(F_READ, -1, 0, 1, EIO);
	faults[F_READ].cap = 0;
	assert_int_equal(qcmd_load_config(c, d->path, err, sizeof(err)), -EIO);
	fault_reset();
	qcmd_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_parse_rpc, setup),
	    cmocka_unit_test_setup(test_parse_plain, setup),
	    cmocka_unit_test_setup(test_parse_errors, setup),
	    cmocka_unit_test_setup(test_parse_lengths, setup),
	    cmocka_unit_test_setup(test_parse_enomem, setup),
	    cmocka_unit_test_setup(test_config_values, setup),
	    cmocka_unit_test_setup(test_config_qubes_cases, setup),
	    cmocka_unit_test_setup(test_config_errors, setup),
	    cmocka_unit_test_setup(test_config_duplicates, setup),
	    cmocka_unit_test_setup(test_config_force_user, setup),
	    cmocka_unit_test_setup(test_regress_conf_int_ullong_max, setup),
	    cmocka_unit_test_setup(test_config_line_length, setup),
	    cmocka_unit_test_setup_teardown(
	        test_load_order, cfg_setup, cfg_teardown),
	    cmocka_unit_test_setup_teardown(
	        test_load_errors, cfg_setup, cfg_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
