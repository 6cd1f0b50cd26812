/*
 * test_seccomp.c - the namespace qube's filter (src/sandbox/seccomp.c),
 * built as the launcher builds it and read back in libseccomp's pseudo
 * filter code: the calls the issue names and the ones added later are
 * denied with the error the source gives; every x86_64 number from
 * SANDBOX_SECCOMP_FIRST_UNREVIEWED on (calls newer than the review,
 * none of which exist yet, so a qube cannot show this) reports ENOSYS;
 * ordinary calls are allowed; other ABIs are killed.  (Loading it into a
 * qube and trying calls there: test_sandbox.py.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>
#include <seccomp.h>

#include "sandbox/sandbox.h"

static char *pfc;

static int
setup(void **state)
{
	void *ctx = NULL;
	FILE *f;
	long n;
	int fd;

	(void)state;
	assert_int_equal(sandbox_seccomp_build(&ctx), 0);
	fd = memfd_create("pfc", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(seccomp_export_pfc(ctx, fd), 0);
	seccomp_release(ctx);
	f = fdopen(fd, "r");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	pfc = calloc(1, (size_t)n + 1);
	assert_non_null(pfc);
	assert_int_equal(fread(pfc, 1, (size_t)n, f), (size_t)n);
	(void)fclose(f);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	free(pfc);
	return 0;
}

/*
 * The action of call nr: "ERRNO(N)" for a rule of its own, "ARGS" for a
 * rule that looks at its arguments first, or NULL if the filter has no
 * rule for it (the default: allow).
 */
static const char *
action_of(long nr, char *buf, size_t len)
{
	char want[64];
	const char *p, *e;

	(void)snprintf(want, sizeof(want), "if ($syscall == %ld)\n", nr);
	p = strstr(pfc, want);
	if (p == NULL)
		return NULL;
	p += strlen(want);
	while (*p == ' ')
		p++;
	if (strncmp(p, "action ", 7) != 0)
		return "ARGS";
	p += 7;
	e = strchr(p, ';');
	assert_non_null(e);
	assert_true((size_t)(e - p) < len);
	memcpy(buf, p, (size_t)(e - p));
	buf[e - p] = '\0';
	return buf;
}

static void
expect(long nr, const char *action)
{
	char buf[64];
	const char *got = action_of(nr, buf, sizeof(buf));

	if (action == NULL) {
		if (got != NULL)
			fail_msg("call %ld: %s, not allowed", nr, got);
		return;
	}
	if (got == NULL)
		fail_msg("call %ld: allowed, not %s", nr, action);
	assert_string_equal(got, action);
}

static void
test_denied(void **state)
{
	(void)state;
	expect(SYS_init_module, "ERRNO(1)");
	expect(SYS_finit_module, "ERRNO(1)");
	expect(SYS_kexec_load, "ERRNO(1)");
	expect(SYS_bpf, "ERRNO(1)");
	expect(SYS_perf_event_open, "ERRNO(1)");
	expect(SYS_userfaultfd, "ERRNO(1)");
	expect(SYS_keyctl, "ERRNO(1)");
	expect(SYS_mount, "ERRNO(1)");
	expect(SYS_open_by_handle_at, "ERRNO(1)");
	expect(SYS_ptrace, "ERRNO(1)");
	expect(SYS_io_uring_setup, "ERRNO(38)");
	expect(SYS_modify_ldt, "ERRNO(1)");
	expect(SYS_fsopen, "ERRNO(38)");
	expect(SYS_clone3, "ERRNO(38)");
	expect(467, "ERRNO(38)"); /* open_tree_attr, Linux 6.15 */
}

static void
test_unreviewed_report_enosys(void **state)
{
	long nr;

	(void)state;
	for (nr = SANDBOX_SECCOMP_FIRST_UNREVIEWED;
	     nr <= SANDBOX_SECCOMP_LAST_UNREVIEWED; nr++)
		expect(nr, "ERRNO(38)");
	/* the reviewed ones just below are the kernel's to answer */
	expect(SANDBOX_SECCOMP_FIRST_UNREVIEWED - 1, NULL);
}

static void
test_ordinary_allowed(void **state)
{
	(void)state;
	expect(SYS_read, NULL);
	expect(SYS_openat, NULL);
	expect(SYS_execve, NULL);
	/* only its CLONE_NEWUSER form, by its argument */
	expect(SYS_clone, "ARGS");
	assert_non_null(strstr(pfc, "# default action\n  action ALLOW;"));
	assert_non_null(
	    strstr(pfc, "# invalid architecture action\naction KILL;"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_denied),
	    cmocka_unit_test(test_unreviewed_report_enosys),
	    cmocka_unit_test(test_ordinary_allowed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
