/*
 * fuzz_desktop_exec.c - qubes.StartApp's Exec parser,
 * desktop_exec_parse() (src/startapp/desktop.c), and the desktop file
 * parser in front of it, desktop_entry_parse() with
 * desktop_entry_command().
 *
 * Input: byte 0 holds flags: bit 0 an icon for %i, bit 1 a name for %c,
 * bit 2 a path for %k (the context's strings hold quotes, '%', '\' and
 * spaces, so that expansion is tested with them); bit 3 the rest is a
 * whole desktop file, else it is an Exec value (up to its first NUL).
 *
 * Invariants beyond "no crash":
 *  - only the documented errors (-EINVAL, -E2BIG; -EFBIG for a file);
 *  - an accepted command has 1..DESKTOP_EXEC_ARGS_MAX arguments, a
 *    non-empty argv[0], at most DESKTOP_EXEC_BYTES_MAX bytes in all;
 *  - nothing is lost or smuggled: the vector written back as an Exec
 *    value by the specification's own rules (each argument in double
 *    quotes, \" \` \$ \\ inside, %% for '%', then the string escapes)
 *    parses, without any context, to exactly the same vector;
 *  - an accepted file's keys are Key or Key[locale] of the allowed
 *    characters and no key is there twice.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/fuzz.h"
#include "startapp/desktop.h"

/* The size of the input an Exec value takes at most. */
#define EXEC_INPUT_MAX 8192

static const struct desktop_exec_ctx ctx_none = {NULL, NULL, NULL};

/* argv back as a raw Exec value, a new string. */
static char *
encode(char **argv)
{
	size_t cap = 16, n = 0, i;
	char *out;

	for (i = 0; argv[i] != NULL; i++)
		cap += 8 * strlen(argv[i]) + 4;
	out = malloc(cap);
	FUZZ_CHECK(out != NULL);
	for (i = 0; argv[i] != NULL; i++) {
		const char *p;

		if (i > 0)
			out[n++] = ' ';
		out[n++] = '"';
		for (p = argv[i]; *p != '\0'; p++) {
			/* the quoting level: what the unescaped value holds */
			char q[3];
			size_t qn = 0, k;

			if (*p == '"' || *p == '`' || *p == '$' || *p == '\\')
				q[qn++] = '\\';
			q[qn++] = *p;
			if (*p == '%')
				q[qn++] = '%';
			/* the string level: escapes of the value itself */
			for (k = 0; k < qn; k++) {
				switch (q[k]) {
				case '\\':
					out[n++] = '\\';
					out[n++] = '\\';
					break;
				case '\n':
					out[n++] = '\\';
					out[n++] = 'n';
					break;
				case '\t':
					out[n++] = '\\';
					out[n++] = 't';
					break;
				case '\r':
					out[n++] = '\\';
					out[n++] = 'r';
					break;
				default:
					out[n++] = q[k];
					break;
				}
			}
		}
		out[n++] = '"';
	}
	out[n] = '\0';
	FUZZ_CHECK(n < cap);
	return out;
}

static void
check_argv(char **argv)
{
	size_t n, bytes = 0;
	char **again = NULL, *raw;

	FUZZ_CHECK(argv[0] != NULL && argv[0][0] != '\0');
	for (n = 0; argv[n] != NULL; n++)
		bytes += strlen(argv[n]) + 1;
	FUZZ_CHECK(n >= 1 && n <= DESKTOP_EXEC_ARGS_MAX);
	FUZZ_CHECK(bytes <= DESKTOP_EXEC_BYTES_MAX);

	raw = encode(argv);
	FUZZ_CHECK(desktop_exec_parse(raw, &ctx_none, &again) == 0);
	for (n = 0;; n++) {
		FUZZ_CHECK((argv[n] == NULL) == (again[n] == NULL));
		if (argv[n] == NULL)
			break;
		FUZZ_CHECK(strcmp(argv[n], again[n]) == 0);
	}
	desktop_argv_free(again);
	free(raw);
}

static bool
key_ok(const char *k)
{
	size_t n = strspn(k,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-");

	if (n == 0)
		return false;
	if (k[n] == '\0')
		return true;
	if (k[n] != '[')
		return false;
	k += n + 1;
	n = strspn(k,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_@.");
	return n > 0 && k[n] == ']' && k[n + 1] == '\0';
}

static void
fuzz_file(const uint8_t *data, size_t size)
{
	struct desktop_entry *e;
	char **argv;
	size_t i, k;
	int r;

	r = desktop_entry_parse((const char *)data, size, &e);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL || r == -E2BIG || r == -EFBIG);
		return;
	}
	FUZZ_CHECK(e->de_nkv <= DESKTOP_KEYS_MAX);
	for (i = 0; i < e->de_nkv; i++) {
		FUZZ_CHECK(key_ok(e->de_kv[i].kv_key));
		FUZZ_CHECK(strchr(e->de_kv[i].kv_value, '\n') == NULL);
		for (k = 0; k < i; k++)
			FUZZ_CHECK(strcmp(e->de_kv[i].kv_key,
			               e->de_kv[k].kv_key) != 0);
	}
	r = desktop_entry_command(e, "/fuzz/%k \"path\".desktop", &argv);
	if (r == 0) {
		check_argv(argv);
		desktop_argv_free(argv);
	} else {
		FUZZ_CHECK(r == -EINVAL || r == -E2BIG || r == -ENOENT);
	}
	desktop_entry_free(e);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char raw[EXEC_INPUT_MAX + 1];
	struct desktop_exec_ctx ctx = {NULL, NULL, NULL};
	char **argv = NULL;
	uint8_t flags;
	size_t n;
	int r;

	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	if (flags & 8) {
		fuzz_file(data, size);
		return 0;
	}
	if (flags & 1)
		ctx.ec_icon = "icon \"x\" %i";
	if (flags & 2)
		ctx.ec_name = "Name with \\ and ' and %c";
	if (flags & 4)
		ctx.ec_path = "/a/b c.desktop";
	n = size < EXEC_INPUT_MAX ? size : EXEC_INPUT_MAX;
	memcpy(raw, data, n);
	raw[n] = '\0';
	r = desktop_exec_parse(raw, &ctx, &argv);
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL || r == -E2BIG);
		return 0;
	}
	check_argv(argv);
	desktop_argv_free(argv);
	return 0;
}
