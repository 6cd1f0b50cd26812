/*
 * proto/vmexec.c - decode qubes.VMExec's argument (proto/vmexec.h).  The
 * argument is the calling qube's; this is the only code that reads it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/proto/vmexec.h"

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1; /* lower case is not Qubes' encoding */
}

static bool
plain(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_';
}

int
proto_vmexec_decode(const char *untrusted_arg, char ***ret)
{
	size_t len = strnlen(untrusted_arg, VMEXEC_MAX_ARG_LEN + 1);
	size_t words = 1, i, w = 0;
	char **argv, *out;

	if (len > VMEXEC_MAX_ARG_LEN)
		return -E2BIG;
	for (i = 0; i < len; i++)
		if (untrusted_arg[i] == '+')
			words++;
	if (words > VMEXEC_MAX_WORDS)
		return -E2BIG;
	/* the pointers, then the words (never longer than encoded) */
	argv = malloc((words + 1) * sizeof(*argv) + len + words);
	if (argv == NULL)
		return -ENOMEM;
	out = (char *)(argv + words + 1);
	argv[w++] = out;
	for (i = 0; i < len; i++) {
		char c = untrusted_arg[i];
		int hi, lo;

		if (c == '+') {
			*out++ = '\0';
			argv[w++] = out;
		} else if (plain(c)) {
			*out++ = c;
		} else if (c == '-' && i + 1 < len &&
		    untrusted_arg[i + 1] == '-') {
			*out++ = '-';
			i++;
		} else if (c == '-' && i + 2 < len &&
		    (hi = hexval(untrusted_arg[i + 1])) >= 0 &&
		    (lo = hexval(untrusted_arg[i + 2])) >= 0 &&
		    (hi | lo) != 0) {
			*out++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			free(argv);
			return -EINVAL;
		}
	}
	*out = '\0';
	argv[w] = NULL;
	if (argv[0][0] == '\0') {
		free(argv);
		return -EINVAL;
	}
	*ret = argv;
	return 0;
}
