/*
 * util.c - small helpers of the policy engine: the string arena, hashing,
 * Python-compatible whitespace, bounded message formatting, name checks.
 *
 * Runs in every policy program (any uid).  Inputs may be untrusted
 * strings; every function bounds what it reads and writes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/util.h"
#include "policy/internal.h"

#define ARENA_BLOCK_MIN 65536u

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	char data[];
};

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	struct arena_block *b = a->head;
	char *out;

	if (b == NULL || b->cap - b->used < n + 1) {
		size_t cap = n + 1 > ARENA_BLOCK_MIN ? n + 1 : ARENA_BLOCK_MIN;

		b = malloc(sizeof(*b) + cap);
		if (b == NULL)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = a->head;
		a->head = b;
		a->total += cap;
	}
	out = b->data + b->used;
	memcpy(out, s, n);
	out[n] = '\0';
	b->used += n + 1;
	return out;
}

void
arena_free(struct arena *a)
{
	struct arena_block *b = a->head;

	while (b != NULL) {
		struct arena_block *next = b->next;

		free(b);
		b = next;
	}
	a->head = NULL;
	a->total = 0;
}

uint32_t
policy_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

size_t
policy_space_len(const unsigned char *s, size_t left)
{
	if (left == 0)
		return 0;
	if (s[0] == ' ' || (s[0] >= 0x09 && s[0] <= 0x0d) ||
	    (s[0] >= 0x1c && s[0] <= 0x1f))
		return 1;
	if (s[0] < 0x80 || left < 2)
		return 0;
	/* U+0085, U+00A0 */
	if (s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0))
		return 2;
	if (left < 3)
		return 0;
	/* U+1680 */
	if (s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80)
		return 3;
	/* U+2000..U+200A, U+2028, U+2029, U+202F */
	if (s[0] == 0xe2 && s[1] == 0x80 &&
	    (s[2] <= 0x8a || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf) &&
	    s[2] >= 0x80)
		return 3;
	/* U+205F */
	if (s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f)
		return 3;
	/* U+3000 */
	if (s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80)
		return 3;
	return 0;
}

void
policy_vfmt(char *out, size_t outlen, const char *fmt, va_list ap)
{
	int n;

	if (outlen == 0)
		return;
	n = vsnprintf(out, outlen, fmt, ap);
	if (n < 0)
		out[0] = '\0';
	else if ((size_t)n >= outlen && outlen > 4)
		memcpy(out + outlen - 4, "...", 4);
}

void
policy_fmt(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	policy_vfmt(out, outlen, fmt, ap);
	va_end(ap);
}

const char *
policy_quote(char *out, size_t outlen, const char *s)
{
	size_t o = 0;

	if (outlen == 0)
		return out;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= outlen)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 >= outlen)
				break;
			(void)snprintf(out + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	if (*s != '\0' && outlen > 4) {
		if (o > outlen - 4)
			o = outlen - 4;
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

bool
policy_is_dom0(const char *s)
{
	/* a first-byte test first: this is on every match */
	if (s[0] != '@' && s[0] != 'd' && s[0] != 'u')
		return false;
	return strcmp(s, "@adminvm") == 0 || strcmp(s, "dom0") == 0 ||
	    strcmp(s, POLICY_DOM0_UUID) == 0;
}

static bool
name_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z') || c == '_' || c == '-' || c == '.';
}

bool
policy_qube_name_valid(const char *s)
{
	size_t i;

	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if (i >= 31 || !name_char((unsigned char)s[i]))
			return false;
	return true;
}

_Static_assert(SYSINFO_UUID_LEN == STR_UUID_LEN, "a uuid's length");

bool
policy_uuid_ref_valid(const char *s)
{
	return strncmp(s, "uuid:", 5) == 0 && str_uuid_valid(s + 5);
}

bool
policy_uuid_valid(const char *s)
{
	return str_uuid_valid(s);
}

bool
policy_service_name_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (!name_char((unsigned char)s[i]))
			return false;
	return true;
}

bool
policy_argument_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || s[0] != '+')
		return false;
	for (i = 1; i < len; i++)
		if (!name_char((unsigned char)s[i]) && s[i] != '+')
			return false;
	return true;
}

const char *
policy_error_str(const struct policy_error *e, char *out, size_t outlen)
{
	policy_fmt(out, outlen, "%s:%u: %s", e->file, e->line, e->msg);
	return out;
}
