/*
 * fuzz_svc_tcp.c - the TCP-service target parsing of svc_lookup() (the
 * static tcp_target() in src/lib/service.c), reached the way an agent
 * reaches it: a qube's service argument ("qubes.ConnectTCP+HOST+PORT")
 * meets a service that is a symlink to /dev/tcp[/HOST[/PORT]].
 *
 * tcp_target() is static, so this goes through the public svc_lookup()
 * over a private service directory (made once per process in $TMPDIR,
 * removed at exit) holding the symlinks t0..t4 below and t5, rewritten
 * for every input with a fuzzed suffix after "/dev/tcp".
 *
 * Input: byte 0 picks the service t0..t5 (modulo 6); the rest is the
 * argument, up to a '\n'; after it, the suffix of t5's link target.
 *
 * Invariants beyond "no crash":
 *  - a found TCP service has a port of 1..65535 in decimal without a
 *    leading zero, and a host that is exactly the link's host part if the
 *    link names one, else the argument's part before its last '+' with
 *    '+' read as ':' and no '_';
 *  - an argument given to a link that names a port is refused, and a link
 *    without a port needs an argument.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "lib/qcmd.h"
#include "lib/service.h"

static const char *const links[] = {
    "/dev/tcp",
    "/dev/tcp/127.0.0.1",
    "/dev/tcp/::1/22",
    "/dev/tcp/",
    "/dev/tcp//80",
};
#define NLINKS    (sizeof(links) / sizeof(links[0]))
#define FUZZ_LINK NLINKS /* t5 */

static char dir[PATH_MAX];

static void
cleanup(void)
{
	char p[PATH_MAX + 16];
	size_t i;

	for (i = 0; i <= NLINKS; i++) {
		(void)snprintf(p, sizeof(p), "%s/t%zu", dir, i);
		(void)unlink(p);
	}
	(void)rmdir(dir);
}

static int
setup(void)
{
	const char *tmp = getenv("TMPDIR");
	char p[PATH_MAX + 16];
	size_t i;

	if (dir[0] != '\0')
		return 0;
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	(void)snprintf(dir, sizeof(dir), "%s/fuzz_svc_tcp.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		dir[0] = '\0';
		return -1;
	}
	for (i = 0; i < NLINKS; i++) {
		(void)snprintf(p, sizeof(p), "%s/t%zu", dir, i);
		if (symlink(links[i], p) < 0)
			return -1;
	}
	(void)atexit(cleanup);
	return 0;
}

/* "1".."65535", decimal, no leading zero */
static bool
port_ok(const char *s)
{
	unsigned long v = 0;
	size_t i;

	if (s[0] < '1' || s[0] > '9' || strlen(s) > 5)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

static void
check(const char *link, const char *arg, int r, const struct svc_target *t)
{
	const char *rest = link + strlen("/dev/tcp");
	bool link_host = rest[0] == '/';
	bool link_port = link_host && strchr(rest + 1, '/') != NULL;

	if (link_port && arg[0] != '\0')
		FUZZ_CHECK(r < 0);
	if (!link_port && arg[0] == '\0')
		FUZZ_CHECK(r < 0);
	if (r < 0)
		return;
	FUZZ_CHECK(t->kind == SVC_TCP);
	FUZZ_CHECK(port_ok(t->port));
	FUZZ_CHECK(memchr(t->host, '\0', sizeof(t->host)) != NULL);
	if (link_host) {
		size_t hl = strcspn(rest + 1, "/");

		FUZZ_CHECK(strlen(t->host) == hl &&
		    memcmp(t->host, rest + 1, hl) == 0);
		FUZZ_CHECK(
		    strcmp(t->port,
		        link_port ? strchr(rest + 1, '/') + 1 : arg) == 0);
	} else {
		const char *plus = strrchr(arg, '+');
		size_t i, hl;

		FUZZ_CHECK(plus != NULL);
		hl = (size_t)(plus - arg);
		FUZZ_CHECK(strlen(t->host) == hl);
		for (i = 0; i < hl; i++)
			FUZZ_CHECK(
			    t->host[i] == (arg[i] == '+' ? ':' : arg[i]));
		FUZZ_CHECK(strchr(t->host, '_') == NULL);
		FUZZ_CHECK(strcmp(t->port, plus + 1) == 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char link[PATH_MAX], err[512], *arg, *cmd, *nl;
	struct svc_target *t;
	struct qcmd *c = NULL;
	size_t idx, cmdlen;
	int r;

	if (size < 1 || setup() < 0)
		return 0;
	idx = data[0] % (NLINKS + 1);
	arg = malloc(size);
	if (arg == NULL)
		return 0;
	memcpy(arg, data + 1, size - 1);
	arg[size - 1] = '\0';
	nl = strchr(arg, '\n');
	if (nl != NULL)
		*nl = '\0';

	if (idx == FUZZ_LINK) {
		char p[PATH_MAX + 16];
		const char *suffix = nl ? nl + 1 : "";
		int n = snprintf(link, sizeof(link), "/dev/tcp%s", suffix);

		if (n < 0 || (size_t)n >= sizeof(link)) {
			free(arg);
			return 0;
		}
		(void)snprintf(p, sizeof(p), "%s/t%zu", dir, idx);
		(void)unlink(p);
		if (symlink(link, p) < 0) {
			free(arg);
			return 0;
		}
	} else {
		(void)snprintf(link, sizeof(link), "%s", links[idx]);
	}

	cmdlen = strlen(arg) + 64;
	cmd = malloc(cmdlen);
	t = calloc(1, sizeof(*t));
	if (cmd == NULL || t == NULL)
		goto out;
	(void)snprintf(
	    cmd, cmdlen, "QUBESRPC t%zu%s%s src", idx, arg[0] ? "+" : "", arg);
	if (qcmd_parse(cmd, false, &c, err, sizeof(err)) < 0)
		goto out;
	r = svc_lookup(dir, c, t, err, sizeof(err));
	/* a suffix not starting with '/' is no TCP link, just a bad one */
	if (idx != FUZZ_LINK || link[8] == '\0' || link[8] == '/')
		check(link, c->arg, r, t);
out:
	qcmd_free(c);
	free(t);
	free(cmd);
	free(arg);
	return 0;
}
