/*
 * fuzz_appmenus.c - the admin side's reading of a qube's
 * qubes.GetAppmenus answer, menus_parse() (src/startapp/menus.c), and the
 * menu files menus_render() makes from it: the bytes a hostile qube
 * controls, up to what reaches a file.
 *
 * Input: the answer, as the qube sends it; the same bytes are also given
 * to menus_decode(), as from qvm-sync-appmenus' confined reader taken
 * over by the qube.
 *
 * Invariants beyond "no crash":
 *  - at most MENUS_APPS_MAX applications, sorted by id, each id once and
 *    desktop_id_valid, each with a Name and at most MENUS_KEYS_MAX keys;
 *  - each key is one of the keys taken (a [locale] only where allowed),
 *    each value is re-checked here by a second, simpler reading: no byte
 *    below 0x20, no DEL, no ESC, no backslash but before '\', 's' or ';',
 *    every byte >= 0x80 part of a UTF-8 sequence; Icon has no '/';
 *  - each rendered file is "[Desktop Entry]" and lines "Key=Value", one
 *    Exec, which is ours: "qvm-run -q -a --service -- QUBE
 *    qubes.StartApp+ID" for this id;
 *  - the parse's encoding (menus_encode) decodes to the same menus;
 *  - bytes menus_decode takes hold menus of which all the above holds,
 *    and are exactly what menus_encode makes of them (one encoding).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/fuzz.h"
#include "startapp/menus.h"

static bool
key_taken(const char *k)
{
	static const char *const localised[] = {
	    "Name", "GenericName", "Comment", "Keywords"};
	size_t i, n;

	if (strcmp(k, "Categories") == 0 || strcmp(k, "Icon") == 0)
		return true;
	for (i = 0; i < sizeof(localised) / sizeof(localised[0]); i++) {
		n = strlen(localised[i]);
		if (strncmp(k, localised[i], n) != 0)
			continue;
		if (k[n] == '\0')
			return true;
		if (k[n] == '[' && k[strlen(k) - 1] == ']' &&
		    strlen(k) > n + 2 &&
		    strspn(k + n + 1,
		        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
		        "nopqrstuvwxyz0123456789-_@.") == strlen(k) - n - 2)
			return true;
	}
	return false;
}

static void
check_value(const char *key, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;

	for (; *p != '\0'; p++) {
		FUZZ_CHECK(*p >= 0x20 && *p != 0x7f);
		if (*p == '\\') {
			FUZZ_CHECK(p[1] == '\\' || p[1] == 's' || p[1] == ';');
			p++;
		} else if (*p >= 0x80) {
			size_t len = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2, i;

			FUZZ_CHECK(*p >= 0xc2 && *p <= 0xf4);
			for (i = 1; i < len; i++)
				FUZZ_CHECK((p[i] & 0xc0) == 0x80);
			/* no C1 control (U+0080..U+009F) */
			FUZZ_CHECK(!(p[0] == 0xc2 && p[1] < 0xa0));
			p += len - 1;
		}
	}
	if (strcmp(key, "Icon") == 0)
		FUZZ_CHECK(strchr(v, '/') == NULL && v[0] != '\0');
	if (strcmp(key, "Name") == 0)
		FUZZ_CHECK(v[0] != '\0');
}

static void
check_file(const struct menus_app *a, const char *text)
{
	char exec[256];
	const char *line = text;
	size_t execs = 0;

	(void)snprintf(exec, sizeof(exec),
	    "Exec=qvm-run -q -a --service -- fuzz qubes.StartApp+%s", a->ma_id);
	FUZZ_CHECK(strncmp(text, "[Desktop Entry]\n", 16) == 0);
	for (line = text + 16; *line != '\0';) {
		const char *nl = strchr(line, '\n');
		size_t len;

		FUZZ_CHECK(nl != NULL);
		len = (size_t)(nl - line);
		FUZZ_CHECK(memchr(line, '=', len) != NULL);
		FUZZ_CHECK(line[0] != '[');
		if (strncmp(line, "Exec=", 5) == 0) {
			execs++;
			FUZZ_CHECK(len == strlen(exec) &&
			    memcmp(line, exec, len) == 0);
		}
		line = nl + 1;
	}
	FUZZ_CHECK(execs == 1);
}

/* Everything the menus of a parse or a decode must be. */
static void
check_menus(const struct menus *m)
{
	size_t i, k;

	FUZZ_CHECK(m->m_napps <= MENUS_APPS_MAX);
	for (i = 0; i < m->m_napps; i++) {
		const struct menus_app *a = &m->m_apps[i];
		bool name = false;
		char *text;

		FUZZ_CHECK(desktop_id_valid(a->ma_id));
		if (i > 0)
			FUZZ_CHECK(
			    strcmp(m->m_apps[i - 1].ma_id, a->ma_id) < 0);
		FUZZ_CHECK(a->ma_nkv >= 1 && a->ma_nkv <= MENUS_KEYS_MAX);
		for (k = 0; k < a->ma_nkv; k++) {
			const char *key = a->ma_kv[k].mk_key;
			char base[MENUS_KEY_MAX + 1];

			FUZZ_CHECK(key_taken(key));
			(void)snprintf(base, sizeof(base), "%.*s",
			    (int)strcspn(key, "["), key);
			check_value(base, a->ma_kv[k].mk_value);
			name = name || strcmp(key, "Name") == 0;
		}
		FUZZ_CHECK(name);
		FUZZ_CHECK(menus_render(a, "fuzz", &text) == 0);
		check_file(a, text);
		free(text);
	}
}

static bool
same(const struct menus *a, const struct menus *b)
{
	size_t i, k;

	if (a->m_napps != b->m_napps || a->m_bad != b->m_bad ||
	    a->m_unnamed != b->m_unnamed)
		return false;
	for (i = 0; i < a->m_napps; i++) {
		const struct menus_app *x = &a->m_apps[i], *y = &b->m_apps[i];

		if (strcmp(x->ma_id, y->ma_id) != 0 || x->ma_nkv != y->ma_nkv)
			return false;
		for (k = 0; k < x->ma_nkv; k++)
			if (strcmp(x->ma_kv[k].mk_key, y->ma_kv[k].mk_key) !=
			        0 ||
			    strcmp(x->ma_kv[k].mk_value,
			        y->ma_kv[k].mk_value) != 0)
				return false;
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct menus *m, *d;
	char *enc;
	size_t len;
	int r;

	r = menus_parse((const char *)data, size, &m);
	if (r < 0) {
		FUZZ_CHECK(r == -EFBIG && size > MENUS_INPUT_MAX);
	} else {
		check_menus(m);
		FUZZ_CHECK(menus_encode(m, &enc, &len) == 0);
		FUZZ_CHECK(menus_decode(enc, len, &d) == 0);
		FUZZ_CHECK(same(m, d));
		menus_free(d);
		free(enc);
		menus_free(m);
	}

	d = (struct menus *)0x1;
	r = menus_decode((const char *)data, size, &d);
	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG && d == (struct menus *)0x1);
		return 0;
	}
	check_menus(d);
	FUZZ_CHECK(menus_encode(d, &enc, &len) == 0);
	FUZZ_CHECK(len == size && memcmp(enc, data, size) == 0);
	free(enc);
	menus_free(d);
	return 0;
}
