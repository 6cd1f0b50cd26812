/*
 * test_menus.c - the admin side's checks of a qube's qubes.GetAppmenus
 * answer (src/startapp/menus.c): one line, a whole answer with its
 * limits, the menu file written from it, and the store's replacement of
 * a qube's menu directory.
 *
 * The lines a hostile qube might send are written out here by hand, each
 * with the reason it must not pass.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "startapp/menus.h"

static int
line(const char *s, struct menus_line *ret)
{
	return menus_line_parse(s, strlen(s), ret);
}

static void
expect_line(const char *s, const char *id, const char *key, const char *v)
{
	struct menus_line l;
	int r = line(s, &l);

	if (r != 0)
		fail_msg("%s: %d", s, r);
	assert_string_equal(l.ml_id, id);
	assert_string_equal(l.ml_key, key);
	assert_int_equal(l.ml_value_len, strlen(v));
	assert_memory_equal(l.ml_value, v, strlen(v));
}

static void
expect_refused(const char *s, int want)
{
	struct menus_line l;
	int r;

	memset(&l, 0x5a, sizeof(l));
	r = line(s, &l);
	if (r != want)
		fail_msg("%s: %d, wanted %d", s, r, want);
	{
		struct menus_line untouched;

		memset(&untouched, 0x5a, sizeof(untouched));
		assert_memory_equal(&l, &untouched, sizeof(l));
	}
}

static void
test_line_taken(void **state)
{
	(void)state;
	expect_line(
	    "firefox.desktop:Name=Firefox", "firefox", "Name", "Firefox");
	expect_line("org.gnome.Terminal.desktop:Name[de_DE@euro]=Terminal",
	    "org.gnome.Terminal", "Name[de_DE@euro]", "Terminal");
	expect_line("kde-konsole.desktop:GenericName=Terminal emulator",
	    "kde-konsole", "GenericName", "Terminal emulator");
	expect_line("a+b_c.desktop:Comment=Browse the Web (fast), 100% & more",
	    "a+b_c", "Comment", "Browse the Web (fast), 100% & more");
	expect_line(
	    "a.desktop:Keywords=web;browser;", "a", "Keywords", "web;browser;");
	expect_line("a.desktop:Categories=Network;WebBrowser;X-Foo_1;", "a",
	    "Categories", "Network;WebBrowser;X-Foo_1;");
	expect_line("a.desktop:Icon=utilities-terminal", "a", "Icon",
	    "utilities-terminal");
	expect_line("a.desktop:Icon=org.gnome.Terminal", "a", "Icon",
	    "org.gnome.Terminal");
	/* Qubes' agent sends its lines as in the file: spaces around '=' */
	expect_line("a.desktop:Name = Spaced  ", "a", "Name", "Spaced");
	expect_line("a.desktop:Name\t=\tTabbed", "a", "Name", "Tabbed");
	/* UTF-8 text */
	expect_line("a.desktop:Name[ja]=\xe7\xab\xaf\xe6\x9c\xab", "a",
	    "Name[ja]", "\xe7\xab\xaf\xe6\x9c\xab");
	expect_line("a.desktop:Comment=caf\xc3\xa9 \xf0\x9f\x98\x80", "a",
	    "Comment", "caf\xc3\xa9 \xf0\x9f\x98\x80");
	/* the escapes that stay text */
	expect_line(
	    "a.desktop:Name=a\\\\b\\sc\\;d", "a", "Name", "a\\\\b\\sc\\;d");
	/* an empty value, but for Name */
	expect_line("a.desktop:Comment=", "a", "Comment", "");
}

static void
test_line_dropped_quietly(void **state)
{
	(void)state;
	/* well-formed, but not a key the admin side takes */
	expect_refused("a.desktop:Exec=qubes-desktop-run a.desktop", 1);
	expect_refused("a.desktop:Exec=rm -rf /", 1);
	expect_refused("a.desktop:Type=Application", 1);
	expect_refused("a.desktop:X-Evil=1", 1);
	expect_refused("a.desktop:TryExec=x", 1);
	expect_refused("a.desktop:MimeType=text/plain;", 1);
	expect_refused("a.desktop:name=lower", 1);
	/* these are not translated */
	expect_refused("a.desktop:Icon[de]=x", 1);
	expect_refused("a.desktop:Categories[de]=x", 1);
	expect_refused("a.desktop:Exec[de]=x", 1);
}

static void
test_line_refused(void **state)
{
	static const char *const bad[] = {
	    /* the file part */
	    "",
	    "no colon",
	    "a:Name=x",
	    ".desktop:Name=x",
	    "a.desktopx:Name=x",
	    "a.Desktop:Name=x",
	    "a b.desktop:Name=x",
	    "a/b.desktop:Name=x",
	    "../a.desktop:Name=x",
	    "/usr/share/applications/a.desktop:Name=x",
	    "a;b.desktop:Name=x",
	    "a%b.desktop:Name=x",
	    "\xc3\xa4.desktop:Name=x",
	    /* the key */
	    "a.desktop:=x",
	    "a.desktop:Name",
	    "a.desktop:Name x=y",
	    "a.desktop:Name[]=x",
	    "a.desktop:Name[de=x",
	    "a.desktop:Name[d e]=x",
	    "a.desktop:Name[de]x=y",
	    "a.desktop:Name[de][fr]=x",
	    "a.desktop:Name[d/e]=x",
	    "a.desktop:N\xc3\xa4me=x",
	    "a.desktop: Name=x",
	    /* control characters: escape, NUL-free C0, DEL, C1 */
	    "a.desktop:Name=\x1b[31mred",
	    "a.desktop:Name=a\tb",
	    "a.desktop:Name=a\rb",
	    "a.desktop:Name=a\x7f",
	    "a.desktop:Name=a\xc2\x9b"
	    "31m",
	    "a.desktop:Name=a\xc2\x85",
	    /* line and paragraph separators */
	    "a.desktop:Name=a\xe2\x80\xa8"
	    "b",
	    "a.desktop:Name=a\xe2\x80\xa9",
	    /* bidirectional formatting: marks, embeddings, overrides,
	     * isolates, the Arabic letter mark */
	    "a.desktop:Name=\xe2\x80\xae"
	    "xoferiF",
	    "a.desktop:Name=a\xe2\x80\x8f",
	    "a.desktop:Name=a\xe2\x80\xaa",
	    "a.desktop:Name=a\xe2\x81\xa6",
	    "a.desktop:Name=a\xe2\x81\xa9",
	    "a.desktop:Name=a\xd8\x9c",
	    /* bad UTF-8: stray continuation, truncated, overlong, surrogate,
	     * beyond U+10FFFF, Latin-1 */
	    "a.desktop:Name=a\x80",
	    "a.desktop:Name=a\xe7\xab",
	    "a.desktop:Name=\xc0\xaf",
	    "a.desktop:Name=\xe0\x80\xaf",
	    "a.desktop:Name=\xed\xa0\x80",
	    "a.desktop:Name=\xf4\x90\x80\x80",
	    "a.desktop:Name=caf\xe9",
	    /* escapes that would decode to control characters */
	    "a.desktop:Name=a\\nb",
	    "a.desktop:Name=a\\tb",
	    "a.desktop:Name=a\\rb",
	    "a.desktop:Name=a\\",
	    "a.desktop:Name=a\\x",
	    /* Name empty */
	    "a.desktop:Name=",
	    "a.desktop:Name=   ",
	    /* Icon: a name, not a path */
	    "a.desktop:Icon=/etc/shadow",
	    "a.desktop:Icon=../x",
	    "a.desktop:Icon=.hidden",
	    "a.desktop:Icon=-x",
	    "a.desktop:Icon=a b",
	    "a.desktop:Icon=",
	    "a.desktop:Icon=x/y",
	    /* Categories: words */
	    "a.desktop:Categories=Network WebBrowser",
	    "a.desktop:Categories=a/b;",
	    "a.desktop:Categories=\xc3\xa4;",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_refused(bad[i], -EINVAL);
	/* a NUL in the line */
	{
		static const char nul[] = "a.desktop:Name=a\0b";
		struct menus_line l;

		assert_int_equal(
		    menus_line_parse(nul, sizeof(nul) - 1, &l), -EINVAL);
	}
}

static void
test_line_limits(void **state)
{
	char s[512], longest[DESKTOP_ID_MAX + 2];
	struct menus_line l;

	(void)state;
	memset(longest, 'i', DESKTOP_ID_MAX);
	longest[DESKTOP_ID_MAX] = '\0';
	(void)snprintf(s, sizeof(s), "%s.desktop:Name=x", longest);
	assert_int_equal(line(s, &l), 0);
	(void)snprintf(s, sizeof(s), "%si.desktop:Name=x", longest);
	assert_int_equal(line(s, &l), -EINVAL);
	/* key name and locale lengths */
	(void)snprintf(s, sizeof(s), "a.desktop:%.*s=x", MENUS_KEYNAME_MAX,
	    "X-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	assert_int_equal(line(s, &l), 1);
	(void)snprintf(s, sizeof(s), "a.desktop:%.*s=x", MENUS_KEYNAME_MAX + 1,
	    "X-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	assert_int_equal(line(s, &l), -EINVAL);
	(void)snprintf(s, sizeof(s), "a.desktop:Name[%.*s]=x", MENUS_LOCALE_MAX,
	    "llllllllllllllllllllllllllllllllllllllllllllllllllllll");
	assert_int_equal(line(s, &l), 0);
	assert_int_equal(strlen(l.ml_key), 4 + 2 + MENUS_LOCALE_MAX);
	(void)snprintf(s, sizeof(s), "a.desktop:Name[%.*s]=x",
	    MENUS_LOCALE_MAX + 1,
	    "llllllllllllllllllllllllllllllllllllllllllllllllllllll");
	assert_int_equal(line(s, &l), -EINVAL);
}

/* ---- a whole answer ---- */

static struct menus *
parse(const char *s)
{
	struct menus *m = NULL;

	assert_int_equal(menus_parse(s, strlen(s), &m), 0);
	return m;
}

static const char *
get(const struct menus_app *a, const char *key)
{
	size_t i;

	for (i = 0; i < a->ma_nkv; i++)
		if (strcmp(a->ma_kv[i].mk_key, key) == 0)
			return a->ma_kv[i].mk_value;
	return NULL;
}

static void
test_parse(void **state)
{
	struct menus *m;

	(void)state;
	m = parse("xterm.desktop:Type=Application\n"
	          "xterm.desktop:Name=XTerm\n"
	          "xterm.desktop:Exec=qubes-desktop-run xterm.desktop\n"
	          "\n"
	          "abc.desktop:Name=First\r\n"
	          "abc.desktop:Comment=c\n"
	          "xterm.desktop:Icon=xterm-color\n"
	          "abc.desktop:Name=Second\n" /* the last one counts */
	          "noname.desktop:Comment=no name\n"
	          "evil.desktop:Name=\x1b]0;pwned\x07\n"
	          "evil.desktop:X-Evil=1\n"
	          "garbage\n"
	          "last.desktop:Name=no newline");
	assert_int_equal(m->m_napps, 3);
	assert_string_equal(m->m_apps[0].ma_id, "abc");
	assert_string_equal(get(&m->m_apps[0], "Name"), "Second");
	assert_string_equal(get(&m->m_apps[0], "Comment"), "c");
	assert_int_equal(m->m_apps[0].ma_nkv, 2);
	assert_string_equal(m->m_apps[1].ma_id, "last");
	assert_string_equal(m->m_apps[2].ma_id, "xterm");
	assert_string_equal(get(&m->m_apps[2], "Name"), "XTerm");
	assert_string_equal(get(&m->m_apps[2], "Icon"), "xterm-color");
	assert_null(get(&m->m_apps[2], "Exec"));
	assert_null(get(&m->m_apps[2], "Type"));
	/* the escape and the garbage line are refused; X-Evil is dropped
	 * quietly (so evil has no key at all); noname has no Name */
	assert_int_equal(m->m_bad, 2);
	assert_int_equal(m->m_unnamed, 1);
	menus_free(m);
	menus_free(NULL);
	m = parse("");
	assert_int_equal(m->m_napps, 0);
	menus_free(m);
}

static void
test_parse_limits(void **state)
{
	struct menus *m;
	char *buf;
	size_t n, i;

	(void)state;
	buf = malloc(MENUS_INPUT_MAX + 2);
	assert_non_null(buf);
	/* the whole answer: MENUS_INPUT_MAX, and one byte more */
	memset(buf, '\n', MENUS_INPUT_MAX + 1);
	assert_int_equal(menus_parse(buf, MENUS_INPUT_MAX, &m), 0);
	menus_free(m);
	assert_int_equal(menus_parse(buf, MENUS_INPUT_MAX + 1, &m), -EFBIG);

	/* the longest line, and one byte more (which is dropped) */
	n = (size_t)sprintf(buf, "a.desktop:Name=");
	memset(buf + n, 'x', MENUS_LINE_MAX - n);
	n = MENUS_LINE_MAX;
	buf[n++] = '\n';
	n += (size_t)sprintf(buf + n, "b.desktop:Name=");
	memset(buf + n, 'x', MENUS_LINE_MAX + 1 - 15);
	n += MENUS_LINE_MAX + 1 - 15;
	buf[n++] = '\n';
	assert_int_equal(menus_parse(buf, n, &m), 0);
	assert_int_equal(m->m_napps, 1);
	assert_string_equal(m->m_apps[0].ma_id, "a");
	assert_int_equal(m->m_bad, 1);
	menus_free(m);

	/* MENUS_APPS_MAX applications; the ones after are dropped */
	n = 0;
	for (i = 0; i < MENUS_APPS_MAX + 5; i++)
		n += (size_t)sprintf(buf + n, "app%zu.desktop:Name=x\n", i);
	assert_int_equal(menus_parse(buf, n, &m), 0);
	assert_int_equal(m->m_napps, MENUS_APPS_MAX);
	assert_int_equal(m->m_bad, 5);
	menus_free(m);

	/* MENUS_KEYS_MAX keys of one application; then dropped */
	n = (size_t)sprintf(buf, "a.desktop:Name=x\n");
	for (i = 1; i < MENUS_KEYS_MAX + 3; i++)
		n += (size_t)sprintf(buf + n, "a.desktop:Name[l%zu]=x\n", i);
	assert_int_equal(menus_parse(buf, n, &m), 0);
	assert_int_equal(m->m_apps[0].ma_nkv, MENUS_KEYS_MAX);
	assert_int_equal(m->m_bad, 3);
	menus_free(m);
	free(buf);
}

/* ---- the menu file ---- */

/* Two menus the same: counts, ids, keys and values in order. */
static void
assert_menus_equal(const struct menus *a, const struct menus *b)
{
	size_t i, k;

	assert_int_equal(a->m_napps, b->m_napps);
	assert_int_equal(a->m_bad, b->m_bad);
	assert_int_equal(a->m_unnamed, b->m_unnamed);
	for (i = 0; i < a->m_napps; i++) {
		assert_string_equal(a->m_apps[i].ma_id, b->m_apps[i].ma_id);
		assert_int_equal(a->m_apps[i].ma_nkv, b->m_apps[i].ma_nkv);
		for (k = 0; k < a->m_apps[i].ma_nkv; k++) {
			assert_string_equal(a->m_apps[i].ma_kv[k].mk_key,
			    b->m_apps[i].ma_kv[k].mk_key);
			assert_string_equal(a->m_apps[i].ma_kv[k].mk_value,
			    b->m_apps[i].ma_kv[k].mk_value);
		}
	}
}

/* An encoding made by hand, record by record. */
struct wire {
	char buf[8192];
	size_t len;
};

static void
w_put(struct wire *w, const void *p, size_t n)
{
	assert_true(w->len + n <= sizeof(w->buf));
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void
w_hdr(struct wire *w, uint32_t napps, uint32_t bad, uint32_t unnamed)
{
	struct menus_wire_hdr h = {MENUS_WIRE_MAGIC, napps, bad, unnamed};

	w->len = 0;
	w_put(w, &h, sizeof(h));
}

static void
w_app(struct wire *w, const char *id, uint32_t nkv)
{
	struct menus_wire_app a;

	memset(&a, 0, sizeof(a));
	memcpy(a.mw_id, id, strlen(id));
	a.mw_nkv = nkv;
	w_put(w, &a, sizeof(a));
}

static void
w_kv(struct wire *w, const char *key, const char *v)
{
	struct menus_wire_kv kv;

	memset(&kv, 0, sizeof(kv));
	memcpy(kv.mw_key, key, strlen(key));
	kv.mw_value_len = (uint32_t)strlen(v);
	w_put(w, &kv, sizeof(kv));
	w_put(w, v, strlen(v));
}

static void
expect_decoded(const struct wire *w)
{
	struct menus *m = NULL;

	assert_int_equal(menus_decode(w->buf, w->len, &m), 0);
	menus_free(m);
}

static void
expect_bad(const struct wire *w, const char *why)
{
	struct menus *m = (struct menus *)0x1;

	if (menus_decode(w->buf, w->len, &m) != -EBADMSG)
		fail_msg("taken: %s", why);
	assert_ptr_equal(m, (struct menus *)0x1);
}

static void
test_wire_roundtrip(void **state)
{
	struct menus *m, *d = NULL;
	char *enc;
	size_t len, i;

	(void)state;
	m = parse("xterm.desktop:Name=XTerm\n"
	          "xterm.desktop:Name[de]=XTerm (de)\n"
	          "xterm.desktop:Comment=\xc3\xa9t\xc3\xa9\n"
	          "abc.desktop:Name=A\n"
	          "abc.desktop:Categories=System;Utility;\n"
	          "abc.desktop:Icon=utilities-terminal\n"
	          "abc.desktop:Keywords=\n"
	          "noname.desktop:Comment=x\n"
	          "garbage\n");
	assert_int_equal(menus_encode(m, &enc, &len), 0);
	assert_int_equal(menus_decode(enc, len, &d), 0);
	assert_menus_equal(m, d);
	/* any byte less or more is refused */
	menus_free(d);
	{
		char *more = malloc(len + 1);

		assert_non_null(more);
		memcpy(more, enc, len);
		more[len] = '\0';
		assert_int_equal(menus_decode(more, len + 1, &d), -EBADMSG);
		free(more);
	}
	for (i = 0; i < len; i += 7)
		assert_int_equal(menus_decode(enc, i, &d), -EBADMSG);
	assert_int_equal(menus_decode(enc, len - 1, &d), -EBADMSG);
	free(enc);
	menus_free(m);

	/* nothing at all, and the limits full */
	m = parse("");
	assert_int_equal(menus_encode(m, &enc, &len), 0);
	assert_int_equal(len, sizeof(struct menus_wire_hdr));
	assert_int_equal(menus_decode(enc, len, &d), 0);
	assert_menus_equal(m, d);
	menus_free(d);
	free(enc);
	menus_free(m);
	{
		size_t cap = (size_t)MENUS_APPS_MAX * 40, n = 0;
		char *big = malloc(cap);

		assert_non_null(big);
		for (i = 0; i < MENUS_APPS_MAX; i++)
			n += (size_t)snprintf(big + n, cap - n,
			    "a%05zu.desktop:Name=N%zu\n", i, i);
		assert_int_equal(menus_parse(big, n, &m), 0);
		free(big);
		assert_int_equal(m->m_napps, MENUS_APPS_MAX);
		assert_int_equal(menus_encode(m, &enc, &len), 0);
		assert_int_equal(menus_decode(enc, len, &d), 0);
		assert_menus_equal(m, d);
		menus_free(d);
		free(enc);
		menus_free(m);
	}
}

/*
 * What a reader the qube took over might hand over: each encoding is
 * well formed but for the one thing named.
 */
static void
test_wire_refused(void **state)
{
	struct wire w;
	char v[MENUS_LINE_MAX + 2];

	(void)state;
	w_hdr(&w, 1, 0, 0);
	w_app(&w, "a", 2);
	w_kv(&w, "Name", "A");
	w_kv(&w, "Name[de_DE@euro]", "A");
	expect_decoded(&w);

	w_hdr(&w, 1, 0, 0);
	w.buf[0] ^= 1;
	w_app(&w, "a", 1);
	w_kv(&w, "Name", "A");
	expect_bad(&w, "magic");

	w_hdr(&w, MENUS_APPS_MAX + 1, 0, 0);
	expect_bad(&w, "too many applications");
	w_hdr(&w, 0, 0, MENUS_APPS_MAX + 1);
	expect_bad(&w, "too many unnamed");
	w_hdr(&w, 0, (uint32_t)MENUS_INPUT_MAX + 1, 0);
	expect_bad(&w, "more bad lines than bytes");
	w_hdr(&w, 2, 0, 0);
	w_app(&w, "a", 1);
	w_kv(&w, "Name", "A");
	expect_bad(&w, "an application missing");

	w_hdr(&w, 2, 0, 0);
	w_app(&w, "b", 1);
	w_kv(&w, "Name", "B");
	w_app(&w, "a", 1);
	w_kv(&w, "Name", "A");
	expect_bad(&w, "ids out of order");
	w_hdr(&w, 2, 0, 0);
	w_app(&w, "a", 1);
	w_kv(&w, "Name", "A");
	w_app(&w, "a", 1);
	w_kv(&w, "Name", "A");
	expect_bad(&w, "an id twice");

	w_hdr(&w, 1, 0, 0);
	w_app(&w, "../x", 1);
	w_kv(&w, "Name", "A");
	expect_bad(&w, "id with a slash");
	w_hdr(&w, 1, 0, 0);
	w_app(&w, "a", 1);
	w.buf[w.len - 8] = 'x'; /* after the id's NUL */
	w_kv(&w, "Name", "A");
	expect_bad(&w, "id field not NUL-padded");
	w_hdr(&w, 1, 0, 0);
	w_app(&w, "a", 0);
	expect_bad(&w, "no keys");
	w_hdr(&w, 1, 0, 0);
	w_app(&w, "a", MENUS_KEYS_MAX + 1);
	expect_bad(&w, "too many keys");

	w_hdr(&w, 1, 0, 0);
	w_app(&w, "a", 1);
	w_kv(&w, "Comment", "c");
	expect_bad(&w, "no Name");
	w_hdr(&w, 1, 0, 0);
	w_app(&w, "a", 1);
	w_kv(&w, "Name", "");
	expect_bad(&w, "empty Name");
	w_hdr(&w, 1, 0, 0);
	w_app(&w, "a", 2);
	w_kv(&w, "Name", "A");
	w_kv(&w, "Name", "B");
	expect_bad(&w, "a key twice");
	w_hdr(&w, 1, 0, 0);
	w_app(&w, "a", 2);
	w_kv(&w, "Name", "A");
	w_kv(&w, "Exec", "rm -rf ~");
	expect_bad(&w, "a key never taken");
	w_hdr(&w, 1, 0, 0);
	w_app(&w, "a", 2);
	w_kv(&w, "Name", "A");
	w_kv(&w, "Icon[de]", "x");
	expect_bad(&w, "a locale on Icon");
	w_hdr(&w, 1, 0, 0);
	w_app(&w, "a", 2);
	w_kv(&w, "Name", "A");
	w_kv(&w, "Name[de", "x");
	expect_bad(&w, "an unclosed locale");

	w_hdr(&w, 1, 0, 0);
	w_app(&w, "a", 1);
	w_kv(&w, "Name", "A\nExec=evil");
	expect_bad(&w, "a newline in a value");
	w_hdr(&w, 1, 0, 0);
	w_app(&w, "a", 1);
	w_kv(&w, "Name", "A");
	w.buf[w.len - 1] = '\0';
	expect_bad(&w, "a NUL in a value");
	w_hdr(&w, 1, 0, 0);
	w_app(&w, "a", 1);
	w_kv(&w, "Name",
	    "\xe2\x80\xae"
	    "fdp.exe");
	expect_bad(&w, "a bidirectional override");
	w_hdr(&w, 1, 0, 0);
	w_app(&w, "a", 2);
	w_kv(&w, "Name", "A");
	w_kv(&w, "Icon", "/etc/shadow");
	expect_bad(&w, "an icon path");
	w_hdr(&w, 1, 0, 0);
	w_app(&w, "a", 1);
	memset(v, 'x', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	w_kv(&w, "Name", v);
	expect_bad(&w, "a value over MENUS_LINE_MAX");
	w_hdr(&w, 1, 0, 0);
	w_app(&w, "a", 1);
	w_kv(&w, "Name", "A");
	w.buf[w.len - 5] = 9; /* value_len 9, one byte there */
	expect_bad(&w, "a value longer than what follows");
}

static void
test_render(void **state)
{
	struct menus *m;
	char *text;

	(void)state;
	m = parse("ff.desktop:Icon=firefox\n"
	          "ff.desktop:Categories=Network;WebBrowser\n"
	          "ff.desktop:Comment=Browse\n"
	          "ff.desktop:Name[de]=Feuerfuchs\n"
	          "ff.desktop:GenericName=Web Browser\n"
	          "ff.desktop:Name=Firefox\n"
	          "ff.desktop:Keywords=web;\n"
	          "ff.desktop:Exec=evil\n");
	assert_int_equal(menus_render(&m->m_apps[0], "work", &text), 0);
	assert_string_equal(text,
	    "[Desktop Entry]\n"
	    "Version=1.0\n"
	    "Type=Application\n"
	    "Terminal=false\n"
	    "X-Qubes-VmName=work\n"
	    "X-Qubes-AppName=ff\n"
	    "Name[de]=work: Feuerfuchs\n"
	    "Name=work: Firefox\n"
	    "GenericName=work: Web Browser\n"
	    "Comment=Browse\n"
	    "Keywords=web;\n"
	    "Categories=Network;WebBrowser;X-Qubes-VM;\n"
	    "Icon=firefox\n"
	    "Exec=qvm-run -q -a --service -- work qubes.StartApp+ff\n");
	free(text);
	menus_free(m);

	m = parse("a.desktop:Name=A\n");
	assert_int_equal(menus_render(&m->m_apps[0], "w", &text), 0);
	assert_non_null(strstr(text, "\nCategories=X-Qubes-VM;\n"));
	free(text);
	/* the qube's name is checked here too */
	text = NULL;
	assert_int_equal(menus_render(&m->m_apps[0], "a b", &text), -EINVAL);
	assert_int_equal(menus_render(&m->m_apps[0], "", &text), -EINVAL);
	assert_int_equal(menus_render(&m->m_apps[0], "../x", &text), -EINVAL);
	assert_null(text);
	menus_free(m);
	{
		char name[64];

		assert_int_equal(
		    menus_file_name("work", "ff", name, sizeof(name)), 0);
		assert_string_equal(name, "work-ff.desktop");
		assert_int_equal(
		    menus_file_name("work", "ff", name, 15), -ENAMETOOLONG);
	}
}

/* ---- the store ---- */

static char root[] = "/tmp/test_menus.XXXXXX";

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(root) != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

/* The names in dir, sorted, ' '-separated (a static buffer). */
static const char *
listing(const char *rel)
{
	static char out[1024];
	struct dirent **names;
	char dir[PATH_MAX];
	int n, i;

	(void)snprintf(dir, sizeof(dir), "%s/%s", root, rel);
	out[0] = '\0';
	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0)
		return NULL;
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.' || strlen(names[i]->d_name) > 2)
			(void)snprintf(out + strlen(out),
			    sizeof(out) - strlen(out), "%s%s",
			    out[0] ? " " : "", names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return out;
}

static void
test_store(void **state)
{
	char data[PATH_MAX / 2], err[PATH_MAX + 256], p[PATH_MAX];
	struct menus *m;
	struct stat st;
	FILE *f;

	(void)state;
	(void)snprintf(data, sizeof(data), "%s/share/qubes-appmenus", root);
	/* made with its parents */
	m = parse("b.desktop:Name=B\na.desktop:Name=A\n");
	assert_int_equal(menus_store(data, "work", m, err, sizeof(err)), 0);
	menus_free(m);
	assert_string_equal(listing("share/qubes-appmenus/work"), "apps");
	assert_string_equal(listing("share/qubes-appmenus/work/apps"),
	    "work-a.desktop work-b.desktop");
	(void)snprintf(p, sizeof(p), "%s/work/apps", data);
	assert_int_equal(stat(p, &st), 0);
	assert_true((st.st_mode & 0700) == 0700);

	/* replaced as a whole: b goes, c comes; a file the user put in
	 * QUBE/ beside apps stays */
	(void)snprintf(p, sizeof(p), "%s/work/keep", data);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	m = parse("c.desktop:Name=C\na.desktop:Name=A2\n");
	assert_int_equal(menus_store(data, "work", m, err, sizeof(err)), 0);
	menus_free(m);
	assert_string_equal(listing("share/qubes-appmenus/work"), "apps keep");
	assert_string_equal(listing("share/qubes-appmenus/work/apps"),
	    "work-a.desktop work-c.desktop");
	(void)snprintf(p, sizeof(p), "%s/work/apps/work-a.desktop", data);
	f = fopen(p, "r");
	assert_non_null(f);
	{
		char text[512];
		size_t n = fread(text, 1, sizeof(text) - 1, f);

		text[n] = '\0';
		assert_non_null(strstr(text, "\nName=work: A2\n"));
	}
	assert_int_equal(fclose(f), 0);

	/* nothing sent: an empty directory */
	m = parse("");
	assert_int_equal(menus_store(data, "work", m, err, sizeof(err)), 0);
	menus_free(m);
	assert_string_equal(listing("share/qubes-appmenus/work/apps"), "");

	/* not a qube name: nothing made */
	m = parse("a.desktop:Name=A\n");
	assert_int_equal(
	    menus_store(data, "../x", m, err, sizeof(err)), -EINVAL);
	assert_int_equal(menus_store(data, "", m, err, sizeof(err)), -EINVAL);
	menus_free(m);
	assert_string_equal(listing("share/qubes-appmenus"), "work");
}

static void
test_store_failure_keeps_old(void **state)
{
	char data[PATH_MAX / 2], err[PATH_MAX + 256];
	struct rlimit old, small;
	struct menus *m;

	(void)state;
	(void)snprintf(data, sizeof(data), "%s/fail", root);
	m = parse("a.desktop:Name=A\n");
	assert_int_equal(menus_store(data, "q", m, err, sizeof(err)), 0);
	menus_free(m);
	/* a write fails half-way (as on a full disk; root or not) */
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 10;
	(void)signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	m = parse("b.desktop:Name=B\nc.desktop:Name=C\n");
	assert_int_equal(menus_store(data, "q", m, err, sizeof(err)), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	(void)signal(SIGXFSZ, SIG_DFL);
	menus_free(m);
	assert_non_null(strstr(err, "q-b.desktop"));
	/* the old menus, and no temporary directory left */
	assert_string_equal(listing("fail/q"), "apps");
	assert_string_equal(listing("fail/q/apps"), "q-a.desktop");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_line_taken),
	    cmocka_unit_test(test_line_dropped_quietly),
	    cmocka_unit_test(test_line_refused),
	    cmocka_unit_test(test_line_limits),
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_parse_limits),
	    cmocka_unit_test(test_wire_roundtrip),
	    cmocka_unit_test(test_wire_refused),
	    cmocka_unit_test(test_render),
	    cmocka_unit_test(test_store),
	    cmocka_unit_test(test_store_failure_keeps_old),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
