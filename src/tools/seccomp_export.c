/*
 * seccomp_export.c - run at build time: writes (stdout) the C source of
 * the stream's seccomp program (seccomp_util_stream_calls, built with
 * libseccomp for this machine's architecture) as a struct
 * seccomp_util_prog named seccomp_util_stream_prog.
 *
 * Why: building a filter with libseccomp costs 0.3-0.4 ms, a tenth of an
 * admin->qube call; qrexec-client confines each call's data phase, so it
 * applies this program, made once when bulkhead is built, with one
 * prctl and without libseccomp (test_seccomp_util checks that it is the
 * program libseccomp builds at run time).
 */
#include <stdio.h>
#include <string.h>

#include <linux/filter.h>

#include "lib/seccomp_util.h"

int
main(void)
{
	struct seccomp_util_prog p;
	unsigned i;
	int r;

	r = seccomp_util_compile(
	    seccomp_util_stream_calls, SECCOMP_UTIL_STREAM_NCALLS, &p);
	if (r < 0) {
		(void)fprintf(stderr, "seccomp-export: %s\n", strerror(-r));
		return 1;
	}
	(void)printf("/* Made by seccomp-export (src/tools/seccomp_export.c) "
	             "when bulkhead was\n * built: the program of "
	             "seccomp_util_stream_calls.  Not to be edited. */\n"
	             "#include <linux/filter.h>\n\n"
	             "#include \"lib/seccomp_util.h\"\n\n"
	             "static struct sock_filter insns[%u] = {\n",
	    (unsigned)p.len);
	for (i = 0; i < p.len; i++)
		(void)printf("    {0x%04x, %u, %u, 0x%08x},\n",
		    (unsigned)p.insns[i].code, (unsigned)p.insns[i].jt,
		    (unsigned)p.insns[i].jf, (unsigned)p.insns[i].k);
	(void)printf("};\n\nconst struct seccomp_util_prog "
	             "seccomp_util_stream_prog = {insns, %u};\n",
	    (unsigned)p.len);
	seccomp_util_prog_free(&p);
	return fflush(stdout) == 0 ? 0 : 1;
}
