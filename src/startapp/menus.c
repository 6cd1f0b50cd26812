/*
 * menus.c - the admin side's store of qubes' application menus
 * (menus.h).
 *
 * Runs in qvm-sync-appmenus and qvm-appmenus, on the admin side, as the
 * invoking user.  Untrusted: everything menus_parse and menus_line_parse
 * read, a qube's qubes.GetAppmenus answer.  Nothing from it reaches a file
 * but through menus_line_parse's checks: the id (which names the menu
 * file and the qubes.StartApp argument) is desktop_id_valid, and the
 * values taken are clean UTF-8 text of a few keys that a desktop shows
 * and never runs.  The Exec of every menu file is written here, from the
 * qube's name and the id, never taken from the qube.
 */
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/io.h"
#include "lib/proto/qrexec.h"
#include "lib/util.h"
#include "startapp/menus.h"

/* The keys taken, in the order menu files list them. */
static const struct {
	const char *name;
	bool localised; /* may carry a [locale] */
} menus_keys[] = {
    {"Name", true},
    {"GenericName", true},
    {"Comment", true},
    {"Keywords", true},
    {"Categories", false},
    {"Icon", false},
};

/* ---- one line ---- */

static bool
key_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

static bool
locale_char(unsigned char c)
{
	return key_char(c) || c == '_' || c == '@' || c == '.';
}

static bool
blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * The UTF-8 character at s (n > 0 bytes there): its length, with its code
 * point in *cp; 0 if it is not valid UTF-8 (a stray or missing
 * continuation byte, a longer form than needed, a surrogate, beyond
 * U+10FFFF).
 */
static size_t
utf8_char(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c, min;
	size_t len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/*
 * Characters a menu entry's text may not have: control characters (C0,
 * DEL, C1), line and paragraph separators, and the bidirectional
 * formatting characters (marks, embeddings, overrides, isolates), with
 * which a name can be made to read as another.
 */
static bool
text_char_ok(uint32_t c)
{
	if (c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f))
		return false;
	if (c == 0x2028 || c == 0x2029)
		return false;
	if (c == 0x061c || c == 0x200e || c == 0x200f ||
	    (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
		return false;
	return true;
}

/* A value's text (see menus_line_parse). */
static bool
value_ok(const char *untrusted_v, size_t len)
{
	const unsigned char *s = (const unsigned char *)untrusted_v;
	size_t i = 0;

	while (i < len) {
		uint32_t c;
		size_t l = utf8_char(s + i, len - i, &c);

		if (l == 0 || !text_char_ok(c))
			return false;
		if (c == '\\') {
			/* the escapes a desktop would not turn into a
			 * control character */
			if (i + 1 == len ||
			    (s[i + 1] != '\\' && s[i + 1] != 's' &&
			        s[i + 1] != ';'))
				return false;
			l = 2;
		}
		i += l;
	}
	return true;
}

/* Categories: ";"-separated words of [A-Za-z0-9_-]. */
static bool
categories_ok(const char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!key_char((unsigned char)v[i]) && v[i] != '_' &&
		    v[i] != ';')
			return false;
	return true;
}

/* Icon: a name from the icon theme, never a path. */
static bool
icon_ok(const char *v, size_t len)
{
	size_t i;

	if (len == 0 || v[0] == '.' || v[0] == '-')
		return false;
	for (i = 0; i < len; i++)
		if (!key_char((unsigned char)v[i]) && v[i] != '_' &&
		    v[i] != '.')
			return false;
	return true;
}

/* The index in menus_keys of key (klen bytes), or -1 if not taken. */
static int
key_which(const char *key, size_t klen, bool localised)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(menus_keys); i++)
		if (strlen(menus_keys[i].name) == klen &&
		    memcmp(menus_keys[i].name, key, klen) == 0 &&
		    (!localised || menus_keys[i].localised))
			return (int)i;
	return -1;
}

/* A value (len bytes) for key menus_keys[which] (see menus_line_parse). */
static bool
key_value_ok(int which, const char *v, size_t len)
{
	const char *name = menus_keys[which].name;

	if (!value_ok(v, len))
		return false;
	if (strcmp(name, "Categories") == 0 && !categories_ok(v, len))
		return false;
	if (strcmp(name, "Icon") == 0 && !icon_ok(v, len))
		return false;
	if (strcmp(name, "Name") == 0 && len == 0)
		return false;
	return true;
}

int
menus_line_parse(const char *untrusted_line, size_t len, struct menus_line *ret)
{
	const char *end = untrusted_line + len, *colon, *p, *key, *loc = NULL;
	size_t flen, idlen, klen, loclen = 0;
	struct menus_line l;
	int which;

	memset(&l, 0, sizeof(l));
	/* ID.desktop: ids have no ':', so the first one ends the name */
	colon = memchr(untrusted_line, ':', len);
	if (colon == NULL)
		return -EINVAL;
	flen = (size_t)(colon - untrusted_line);
	if (flen <= strlen(".desktop") ||
	    memcmp(colon - strlen(".desktop"), ".desktop",
	        strlen(".desktop")) != 0)
		return -EINVAL;
	idlen = flen - strlen(".desktop");
	if (idlen > DESKTOP_ID_MAX)
		return -EINVAL;
	memcpy(l.ml_id, untrusted_line, idlen);
	l.ml_id[idlen] = '\0';
	if (!desktop_id_valid(l.ml_id))
		return -EINVAL;

	/* Key[locale] */
	key = p = colon + 1;
	while (p < end && key_char((unsigned char)*p))
		p++;
	klen = (size_t)(p - key);
	if (klen == 0 || klen > MENUS_KEYNAME_MAX)
		return -EINVAL;
	if (p < end && *p == '[') {
		loc = ++p;
		while (p < end && locale_char((unsigned char)*p))
			p++;
		loclen = (size_t)(p - loc);
		if (loclen == 0 || loclen > MENUS_LOCALE_MAX || p == end ||
		    *p != ']')
			return -EINVAL;
		p++;
	}
	while (p < end && blank(*p))
		p++;
	if (p == end || *p != '=')
		return -EINVAL;
	p++;
	while (p < end && blank(*p))
		p++;
	while (end > p && blank(end[-1]))
		end--;

	which = key_which(key, klen, loc != NULL);
	if (which < 0)
		return 1; /* Exec, Type, MimeType, ...: not ours to take */
	if (!key_value_ok(which, p, (size_t)(end - p)))
		return -EINVAL;

	/* the key as checked: Key, or Key[locale] */
	memcpy(l.ml_key, key, loc != NULL ? klen + loclen + 2 : klen);
	l.ml_value = p;
	l.ml_value_len = (size_t)(end - p);
	*ret = l;
	return 0;
}

/* ---- a whole answer ---- */

void
menus_free(struct menus *m)
{
	size_t i, k;

	if (m == NULL)
		return;
	for (i = 0; i < m->m_napps; i++) {
		for (k = 0; k < m->m_apps[i].ma_nkv; k++)
			free(m->m_apps[i].ma_kv[k].mk_value);
		free(m->m_apps[i].ma_kv);
	}
	free(m->m_apps);
	free(m);
}

/* Add line l to m.  0, 1 (dropped: over a limit) or -ENOMEM. */
static int
menus_add(struct menus *m, const struct menus_line *l, size_t *last)
{
	struct menus_app *a = NULL;
	struct menus_kv *kv = NULL;
	char *v;
	size_t i;

	/* lines come grouped by application: try the last one first */
	if (*last < m->m_napps && strcmp(m->m_apps[*last].ma_id, l->ml_id) == 0)
		a = &m->m_apps[*last];
	for (i = 0; a == NULL && i < m->m_napps; i++)
		if (strcmp(m->m_apps[i].ma_id, l->ml_id) == 0) {
			a = &m->m_apps[i];
			*last = i;
		}
	if (a == NULL) {
		if (m->m_napps == MENUS_APPS_MAX)
			return 1;
		if (m->m_napps % 16 == 0) {
			a = reallocarray(
			    m->m_apps, m->m_napps + 16, sizeof(*a));
			if (a == NULL)
				return -ENOMEM;
			m->m_apps = a;
		}
		a = &m->m_apps[m->m_napps];
		memset(a, 0, sizeof(*a));
		memcpy(a->ma_id, l->ml_id, sizeof(a->ma_id));
		*last = m->m_napps++;
	}
	/* a key again: the last value counts (as Qubes' dictionary) */
	for (i = 0; kv == NULL && i < a->ma_nkv; i++)
		if (strcmp(a->ma_kv[i].mk_key, l->ml_key) == 0)
			kv = &a->ma_kv[i];
	v = strndup(l->ml_value, l->ml_value_len);
	if (v == NULL)
		return -ENOMEM;
	if (kv != NULL) {
		free(kv->mk_value);
		kv->mk_value = v;
		return 0;
	}
	if (a->ma_nkv == MENUS_KEYS_MAX) {
		free(v);
		return 1;
	}
	if (a->ma_nkv % 16 == 0) {
		kv = reallocarray(a->ma_kv, a->ma_nkv + 16, sizeof(*kv));
		if (kv == NULL) {
			free(v);
			return -ENOMEM;
		}
		a->ma_kv = kv;
	}
	kv = &a->ma_kv[a->ma_nkv++];
	memcpy(kv->mk_key, l->ml_key, sizeof(kv->mk_key));
	kv->mk_value = v;
	return 0;
}

static int
app_by_id(const void *x, const void *y)
{
	const struct menus_app *a = x, *b = y;

	return strcmp(a->ma_id, b->ma_id);
}

static bool
app_has_name(const struct menus_app *a)
{
	size_t i;

	for (i = 0; i < a->ma_nkv; i++)
		if (strcmp(a->ma_kv[i].mk_key, "Name") == 0)
			return true;
	return false;
}

int
menus_parse(const char *untrusted_buf, size_t len, struct menus **ret)
{
	const char *p = untrusted_buf, *end = untrusted_buf + len;
	struct menus *m;
	size_t last = 0, i, k;
	int r;

	if (len > MENUS_INPUT_MAX)
		return -EFBIG;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl != NULL ? nl : end;
		size_t ll = (size_t)(le - p);
		struct menus_line l;

		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll > MENUS_LINE_MAX) {
			m->m_bad++;
		} else if (ll > 0) {
			/* 1: a key not taken, dropped without a word */
			r = menus_line_parse(p, ll, &l);
			if (r < 0) {
				m->m_bad++;
			} else if (r == 0) {
				r = menus_add(m, &l, &last);
				if (r < 0)
					goto out_free_menus;
				if (r == 1)
					m->m_bad++; /* over a limit */
			}
		}
		p = le + 1;
	}
	/* no Name, no menu entry (as Qubes) */
	for (i = 0, k = 0; i < m->m_napps; i++) {
		if (app_has_name(&m->m_apps[i])) {
			m->m_apps[k++] = m->m_apps[i];
			continue;
		}
		m->m_unnamed++;
		for (size_t j = 0; j < m->m_apps[i].ma_nkv; j++)
			free(m->m_apps[i].ma_kv[j].mk_value);
		free(m->m_apps[i].ma_kv);
	}
	m->m_napps = k;
	if (k > 0)
		qsort(m->m_apps, k, sizeof(*m->m_apps), app_by_id);
	*ret = m;
	return 0;

out_free_menus:
	menus_free(m);
	return r;
}

/* ---- the handover from the confined reader (menus.h) ---- */

_Static_assert(sizeof(struct menus_wire_hdr) == 16, "menus_wire_hdr");
_Static_assert(
    sizeof(struct menus_wire_app) == DESKTOP_ID_MAX + 8, "menus_wire_app");
_Static_assert(
    sizeof(struct menus_wire_kv) == MENUS_KEY_MAX + 6, "menus_wire_kv");
_Static_assert(MENUS_APPS_MAX <= UINT32_MAX && MENUS_INPUT_MAX <= UINT32_MAX,
    "counts fit the header");

int
menus_encode(const struct menus *m, char **ret, size_t *ret_len)
{
	struct menus_wire_hdr h;
	size_t len = sizeof(h), off, i, k;
	char *buf;

	if (m->m_napps > MENUS_APPS_MAX ||
	    m->m_unnamed > MENUS_APPS_MAX - m->m_napps ||
	    m->m_bad > MENUS_INPUT_MAX)
		return -EMSGSIZE;
	for (i = 0; i < m->m_napps; i++) {
		if (m->m_apps[i].ma_nkv > MENUS_KEYS_MAX)
			return -EMSGSIZE;
		len += sizeof(struct menus_wire_app);
		for (k = 0; k < m->m_apps[i].ma_nkv; k++)
			len += sizeof(struct menus_wire_kv) +
			    strlen(m->m_apps[i].ma_kv[k].mk_value);
		if (len > MENUS_WIRE_MAX)
			return -EMSGSIZE;
	}
	buf = calloc(1, len);
	if (buf == NULL)
		return -ENOMEM;
	h.mw_magic = MENUS_WIRE_MAGIC;
	h.mw_napps = (uint32_t)m->m_napps;
	h.mw_bad = (uint32_t)m->m_bad;
	h.mw_unnamed = (uint32_t)m->m_unnamed;
	memcpy(buf, &h, sizeof(h));
	off = sizeof(h);
	for (i = 0; i < m->m_napps; i++) {
		const struct menus_app *a = &m->m_apps[i];
		struct menus_wire_app wa;

		memset(&wa, 0, sizeof(wa));
		memcpy(wa.mw_id, a->ma_id, strlen(a->ma_id));
		wa.mw_nkv = (uint32_t)a->ma_nkv;
		memcpy(buf + off, &wa, sizeof(wa));
		off += sizeof(wa);
		for (k = 0; k < a->ma_nkv; k++) {
			const struct menus_kv *kv = &a->ma_kv[k];
			size_t vl = strlen(kv->mk_value);
			struct menus_wire_kv wk;

			memset(&wk, 0, sizeof(wk));
			memcpy(wk.mw_key, kv->mk_key, strlen(kv->mk_key));
			wk.mw_value_len = (uint32_t)vl;
			memcpy(buf + off, &wk, sizeof(wk));
			off += sizeof(wk);
			memcpy(buf + off, kv->mk_value, vl);
			off += vl;
		}
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* A fixed field of n bytes: a NUL within it, only NULs after it. */
static bool
field_ok(const char *f, size_t n)
{
	const char *nul = memchr(f, '\0', n);

	if (nul == NULL)
		return false;
	for (; nul < f + n; nul++)
		if (*nul != '\0')
			return false;
	return true;
}

/*
 * A key of the handover: "Key" or "Key[locale]", as menus_line_parse
 * takes it.  The index in menus_keys, or -1.
 */
static int
wire_key_which(const char *key)
{
	size_t klen = 0, loclen = 0;

	while (key_char((unsigned char)key[klen]))
		klen++;
	if (klen == 0 || klen > MENUS_KEYNAME_MAX)
		return -1;
	if (key[klen] == '\0')
		return key_which(key, klen, false);
	if (key[klen] != '[')
		return -1;
	while (locale_char((unsigned char)key[klen + 1 + loclen]))
		loclen++;
	if (loclen == 0 || loclen > MENUS_LOCALE_MAX ||
	    key[klen + 1 + loclen] != ']' || key[klen + 2 + loclen] != '\0')
		return -1;
	return key_which(key, klen, true);
}

static int
kv_by_key(const void *x, const void *y)
{
	const struct menus_kv *const *a = x, *const *b = y;

	return strcmp((*a)->mk_key, (*b)->mk_key);
}

/* The keys of a (ma_nkv >= 1) are each there once.  0, -EBADMSG or
 * -ENOMEM. */
static int
keys_once(const struct menus_app *a)
{
	const struct menus_kv **v = calloc(a->ma_nkv, sizeof(*v));
	size_t k;
	int r = 0;

	if (v == NULL)
		return -ENOMEM;
	for (k = 0; k < a->ma_nkv; k++)
		v[k] = &a->ma_kv[k];
	qsort(v, a->ma_nkv, sizeof(*v), kv_by_key);
	for (k = 1; k < a->ma_nkv; k++)
		if (strcmp(v[k - 1]->mk_key, v[k]->mk_key) == 0)
			r = -EBADMSG;
	free(v);
	return r;
}

int
menus_decode(const char *untrusted_buf, size_t len, struct menus **ret)
{
	struct menus_wire_hdr h;
	struct menus *m;
	size_t off = sizeof(h), i, k;
	int r = -EBADMSG;

	if (len > MENUS_WIRE_MAX || len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, untrusted_buf, sizeof(h));
	if (h.mw_magic != MENUS_WIRE_MAGIC || h.mw_napps > MENUS_APPS_MAX ||
	    h.mw_unnamed > MENUS_APPS_MAX - h.mw_napps ||
	    h.mw_bad > MENUS_INPUT_MAX)
		return -EBADMSG;
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return -ENOMEM;
	m->m_bad = h.mw_bad;
	m->m_unnamed = h.mw_unnamed;
	/* at most MENUS_APPS_MAX, checked above */
	if (h.mw_napps > 0) {
		m->m_apps = calloc(h.mw_napps, sizeof(*m->m_apps));
		if (m->m_apps == NULL)
			goto out_nomem;
	}
	for (i = 0; i < h.mw_napps; i++) {
		struct menus_app *a = &m->m_apps[i];
		struct menus_wire_app wa;
		bool name = false;

		if (len - off < sizeof(wa))
			goto out_free;
		memcpy(&wa, untrusted_buf + off, sizeof(wa));
		off += sizeof(wa);
		if (!field_ok(wa.mw_id, sizeof(wa.mw_id)) ||
		    strlen(wa.mw_id) > DESKTOP_ID_MAX ||
		    !desktop_id_valid(wa.mw_id) ||
		    (i > 0 && strcmp(m->m_apps[i - 1].ma_id, wa.mw_id) >= 0) ||
		    wa.mw_nkv < 1 || wa.mw_nkv > MENUS_KEYS_MAX)
			goto out_free;
		memcpy(a->ma_id, wa.mw_id, strlen(wa.mw_id) + 1);
		/* at most MENUS_KEYS_MAX, checked above */
		a->ma_kv = calloc(wa.mw_nkv, sizeof(*a->ma_kv));
		if (a->ma_kv == NULL)
			goto out_nomem;
		/* counted now: menus_free frees what is filled in */
		m->m_napps = i + 1;
		for (k = 0; k < wa.mw_nkv; k++) {
			struct menus_kv *kv = &a->ma_kv[k];
			struct menus_wire_kv wk;
			const char *untrusted_v;
			int which;

			if (len - off < sizeof(wk))
				goto out_free;
			memcpy(&wk, untrusted_buf + off, sizeof(wk));
			off += sizeof(wk);
			if (!field_ok(wk.mw_key, sizeof(wk.mw_key)) ||
			    strlen(wk.mw_key) > MENUS_KEY_MAX ||
			    (which = wire_key_which(wk.mw_key)) < 0 ||
			    wk.mw_value_len > MENUS_LINE_MAX ||
			    len - off < wk.mw_value_len)
				goto out_free;
			untrusted_v = untrusted_buf + off;
			off += wk.mw_value_len;
			/* value_ok refuses a NUL (a control character) */
			if (!key_value_ok(which, untrusted_v, wk.mw_value_len))
				goto out_free;
			memcpy(kv->mk_key, wk.mw_key, strlen(wk.mw_key) + 1);
			kv->mk_value = strndup(untrusted_v, wk.mw_value_len);
			if (kv->mk_value == NULL)
				goto out_nomem;
			a->ma_nkv = k + 1;
			name = name || strcmp(kv->mk_key, "Name") == 0;
		}
		if (!name)
			goto out_free;
		r = keys_once(a);
		if (r < 0)
			goto out_free;
		r = -EBADMSG;
	}
	if (off != len)
		goto out_free;
	*ret = m;
	return 0;

out_nomem:
	r = -ENOMEM;
out_free:
	menus_free(m);
	return r;
}

/* ---- menu files ---- */

int
menus_file_name(const char *qube, const char *id, char *out, size_t n)
{
	return str_printf(out, n, "%s-%s.desktop", qube, id);
}

/* Is key ("Key" or "Key[locale]") of the name base? */
static bool
key_is(const char *key, const char *base)
{
	size_t n = strlen(base);

	return strncmp(key, base, n) == 0 && (key[n] == '\0' || key[n] == '[');
}

int
menus_render(const struct menus_app *a, const char *qube, char **ret)
{
	bool categories = false;
	size_t len, i, k;
	char *text;
	FILE *f;

	if (!proto_qube_name_valid(qube) || !desktop_id_valid(a->ma_id))
		return -EINVAL;
	f = open_memstream(&text, &len);
	if (f == NULL)
		return -ENOMEM;
	(void)fprintf(f,
	    "[Desktop Entry]\n"
	    "Version=1.0\n"
	    "Type=Application\n"
	    "Terminal=false\n"
	    "X-Qubes-VmName=%s\n"
	    "X-Qubes-AppName=%s\n",
	    qube, a->ma_id);
	for (k = 0; k < ARRAY_SIZE(menus_keys); k++) {
		const char *base = menus_keys[k].name;

		for (i = 0; i < a->ma_nkv; i++) {
			const struct menus_kv *kv = &a->ma_kv[i];

			if (!key_is(kv->mk_key, base))
				continue;
			if (strcmp(base, "Name") == 0 ||
			    strcmp(base, "GenericName") == 0)
				(void)fprintf(f, "%s=%s: %s\n", kv->mk_key,
				    qube, kv->mk_value);
			else if (strcmp(base, "Categories") == 0) {
				size_t vl = strlen(kv->mk_value);

				(void)fprintf(f, "Categories=%s%sX-Qubes-VM;\n",
				    kv->mk_value,
				    vl > 0 && kv->mk_value[vl - 1] != ';' ?
				        ";" :
				        "");
				categories = true;
			} else
				(void)fprintf(
				    f, "%s=%s\n", kv->mk_key, kv->mk_value);
		}
	}
	if (!categories)
		(void)fprintf(f, "Categories=X-Qubes-VM;\n");
	/* ours, never the qube's: its name and the checked id, neither
	 * with a character Exec would read as special */
	(void)fprintf(f,
	    "Exec=qvm-run -q -a --service -- %s qubes.StartApp+%s\n", qube,
	    a->ma_id);
	if (ferror(f)) {
		(void)fclose(f);
		free(text);
		return -ENOMEM;
	}
	if (fclose(f) != 0) {
		free(text);
		return -ENOMEM;
	}
	*ret = text;
	return 0;
}

int
menus_data_dir(char *out, size_t n)
{
	const char *dh = getenv("XDG_DATA_HOME"), *home = getenv("HOME");

	if (dh != NULL && dh[0] == '/')
		return str_printf(out, n, "%s/qubes-appmenus", dh);
	if (home == NULL || home[0] != '/') {
		const struct passwd *pw = getpwuid(getuid());

		home = pw != NULL ? pw->pw_dir : NULL;
	}
	if (home == NULL || home[0] != '/')
		return -ENOENT;
	return str_printf(out, n, "%s/.local/share/qubes-appmenus", home);
}

/* mkdir -p path (mode 0755 before the umask). */
static int
mkdir_p(const char *path)
{
	char p[PATH_MAX], *s;

	if (str_copy(p, sizeof(p), path) < 0)
		return -ENAMETOOLONG;
	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		{
			char c = *s;

			*s = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return -errno;
			*s = c;
		}
		if (*s == '\0')
			break;
	}
	return 0;
}

/*
 * Remove name in dirfd: a file, or a directory of files (the menus: what
 * this program wrote; whatever else is in it is removed too, up to
 * depth levels down, the bound of the recursion).  0 or -errno.
 * NOLINTBEGIN(misc-no-recursion)
 */
static int
remove_tree(int dirfd, const char *name, int depth)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	if (unlinkat(dirfd, name, 0) == 0)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = openat(
	    dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (d == NULL) {
		r = -errno;
		(void)close(fd);
		return r;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0)
			continue;
		if (depth == 0) {
			r = -ENOTEMPTY;
			continue;
		}
		if (remove_tree(fd, de->d_name, depth - 1) < 0)
			r = -ENOTEMPTY;
	}
	(void)closedir(d);
	if (r == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0)
		r = -errno;
	return r;
}
/* NOLINTEND(misc-no-recursion) */

/* Write text as name in dirfd, a new file.  0 or -errno. */
static int
write_file(int dirfd, const char *name, const char *text)
{
	int fd, r;

	fd = openat(dirfd, name,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = io_write_all(fd, text, strlen(text));
	if (close(fd) < 0 && r == 0)
		r = -errno;
	return r;
}

int
menus_store(const char *data_dir, const char *qube, const struct menus *m,
    char *err, size_t errlen)
{
	char qdir[PATH_MAX], tmp[PATH_MAX], *tmpname, *text;
	int dfd = -1, tfd = -1, r;
	size_t i;

	if (!proto_qube_name_valid(qube)) {
		(void)snprintf(err, errlen, "not a qube name");
		return -EINVAL;
	}
	if (str_printf(qdir, sizeof(qdir), "%s/%s", data_dir, qube) < 0 ||
	    str_printf(tmp, sizeof(tmp), "%s/.apps.new-XXXXXX", qdir) < 0) {
		(void)snprintf(err, errlen, "%s: path too long", data_dir);
		return -ENAMETOOLONG;
	}
	r = mkdir_p(qdir);
	if (r < 0) {
		(void)snprintf(err, errlen, "%s: %s", qdir, strerror(-r));
		return r;
	}
	dfd = open(qdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		(void)snprintf(err, errlen, "%s: %s", qdir, strerror(-r));
		return r;
	}
	if (mkdtemp(tmp) == NULL) {
		r = -errno;
		(void)snprintf(err, errlen, "%s: %s", tmp, strerror(-r));
		goto out_close_dfd;
	}
	tmpname = strrchr(tmp, '/') + 1;
	tfd = openat(
	    dfd, tmpname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0) {
		r = -errno;
		(void)snprintf(err, errlen, "%s: %s", tmp, strerror(-r));
		goto out_remove_tmp;
	}
	/* mkdtemp's 0700 made what a plain mkdir would have made */
	{
		mode_t um = umask(022);

		(void)umask(um);
		(void)fchmod(tfd, 0755 & ~um);
	}
	for (i = 0; i < m->m_napps; i++) {
		char name[NAME_MAX + 1];

		if ((r = menus_file_name(
		         qube, m->m_apps[i].ma_id, name, sizeof(name))) < 0 ||
		    (r = menus_render(&m->m_apps[i], qube, &text)) < 0) {
			(void)snprintf(err, errlen, "%s: %s",
			    m->m_apps[i].ma_id, strerror(-r));
			goto out_remove_tmp;
		}
		r = write_file(tfd, name, text);
		free(text);
		if (r < 0) {
			(void)snprintf(
			    err, errlen, "%s/%s: %s", tmp, name, strerror(-r));
			goto out_remove_tmp;
		}
	}
	if (fsync(tfd) < 0) {
		r = -errno;
		(void)snprintf(err, errlen, "%s: %s", tmp, strerror(-r));
		goto out_remove_tmp;
	}
	/* in place at once: a reader sees the old menus or the new */
	if (renameat2(dfd, tmpname, dfd, "apps", RENAME_EXCHANGE) == 0) {
		/* the old menus are now under the temporary name */
		r = remove_tree(dfd, tmpname, 2);
		if (r < 0)
			(void)snprintf(err, errlen,
			    "removing the old menus (%s): %s", tmp,
			    strerror(-r));
		goto out_close_tfd;
	}
	if (errno == ENOENT) {
		/* no menus before */
		if (renameat(dfd, tmpname, dfd, "apps") < 0) {
			r = -errno;
			(void)snprintf(
			    err, errlen, "%s/apps: %s", qdir, strerror(-r));
			goto out_remove_tmp;
		}
		r = 0;
		goto out_close_tfd;
	}
	if (errno != EINVAL && errno != ENOSYS) {
		r = -errno;
		(void)snprintf(err, errlen, "%s/apps: %s", qdir, strerror(-r));
		goto out_remove_tmp;
	}
	/* a file system without RENAME_EXCHANGE: two renames, and for a
	 * moment no menus of this qube */
	{
		char old[sizeof(".apps.old-") + 24];
		bool moved = true;

		(void)snprintf(
		    old, sizeof(old), ".apps.old-%ld", (long)getpid());
		if (renameat(dfd, "apps", dfd, old) < 0) {
			if (errno != ENOENT) {
				r = -errno;
				(void)snprintf(err, errlen, "%s/apps: %s", qdir,
				    strerror(-r));
				goto out_remove_tmp;
			}
			moved = false;
		}
		if (renameat(dfd, tmpname, dfd, "apps") < 0) {
			r = -errno;
			(void)snprintf(
			    err, errlen, "%s/apps: %s", qdir, strerror(-r));
			/* the old ones back */
			if (moved)
				(void)renameat(dfd, old, dfd, "apps");
			goto out_remove_tmp;
		}
		r = moved ? remove_tree(dfd, old, 2) : 0;
		if (r < 0)
			(void)snprintf(err, errlen,
			    "removing the old menus (%s/%s): %s", qdir, old,
			    strerror(-r));
	}
	goto out_close_tfd;

out_remove_tmp:
	(void)remove_tree(dfd, tmpname, 0);
out_close_tfd:
	if (tfd >= 0)
		(void)close(tfd);
out_close_dfd:
	(void)close(dfd);
	return r;
}
