/*
 * desktop.c - the Desktop Entry Specification's file format and its Exec
 * key, read strictly and with limits (desktop.h).
 *
 * Called by qubes-startapp inside a qube (as the user the call runs as)
 * on the qube's own desktop files, and by qvm-appmenus on the admin side
 * on menu files it wrote.  The desktop file id that names a file comes
 * from the calling qube (qubes.StartApp+ID) and is checked by
 * desktop_id_valid before anything else looks at it; the files
 * themselves are the target qube's own choice, but they are parsed as if
 * hostile all the same: every length is bounded, every byte checked.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "startapp/desktop.h"

static bool
key_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-';
}

/* A locale, lang_COUNTRY.ENCODING@MODIFIER. */
static bool
locale_char(unsigned char c)
{
	return key_char(c) || c == '_' || c == '@' || c == '.';
}

/* Group names: printable ASCII but the brackets. */
static bool
group_char(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '[' && c != ']';
}

static bool
blank(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * "Key[locale] = value" at line (NUL-terminated, written to): cut the
 * key and the value out in place.  Space around '=' is not part of
 * either, nor is space at the end of the value (a value that ends in a
 * space writes it "\s").  0 or -EINVAL.
 */
static int
parse_key_line(char *line, char **ret_key, char **ret_value)
{
	char *p = line, *key_end, *end;

	while (key_char((unsigned char)*p))
		p++;
	if (p == line)
		return -EINVAL;
	if (*p == '[') {
		char *loc = ++p;

		while (locale_char((unsigned char)*p))
			p++;
		if (p == loc || *p != ']')
			return -EINVAL;
		p++;
	}
	key_end = p;
	while (blank(*p))
		p++;
	if (*p != '=')
		return -EINVAL;
	p++;
	while (blank(*p))
		p++;
	*key_end = '\0';
	end = p + strlen(p);
	while (end > p && blank(end[-1]))
		*--end = '\0';
	*ret_key = line;
	*ret_value = p;
	return 0;
}

/*
 * A group header "[name]" at line (leading space already skipped): 1 if
 * it is [Desktop Entry], 0 for another group, -EINVAL if malformed.
 */
static int
parse_group_line(char *line)
{
	char *end = line + strlen(line), *p;

	while (end > line && blank(end[-1]))
		end--;
	if (end - line < 3 || end[-1] != ']')
		return -EINVAL;
	for (p = line + 1; p < end - 1; p++)
		if (!group_char((unsigned char)*p))
			return -EINVAL;
	return (size_t)(end - line) == strlen("[Desktop Entry]") &&
	    memcmp(line, "[Desktop Entry]", (size_t)(end - line)) == 0;
}

int
desktop_entry_parse(
    const char *untrusted_buf, size_t len, struct desktop_entry **ret)
{
	enum {
		G_NONE,
		G_ENTRY,
		G_OTHER
	} group = G_NONE;
	struct desktop_entry *e;
	bool seen_entry = false;
	char *text, *line;
	int r;

	if (len > DESKTOP_FILE_MAX)
		return -EFBIG;
	if (memchr(untrusted_buf, '\0', len) != NULL)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return -ENOMEM;
	text = malloc(len + 1);
	if (text == NULL) {
		r = -ENOMEM;
		goto out_free_entry;
	}
	memcpy(text, untrusted_buf, len);
	text[len] = '\0';
	e->de_text = text;

	/* line < text + len, not <=: a final newline ends the last line */
	for (line = text; line < text + len;) {
		char *nl = memchr(line, '\n', (size_t)(text + len - line));
		char *end = nl != NULL ? nl : text + len;
		size_t ll = (size_t)(end - line);
		char *p, *key, *value;
		size_t i;

		*end = '\0';
		if (ll > 0 && line[ll - 1] == '\r')
			line[--ll] = '\0';
		if (ll > DESKTOP_LINE_MAX) {
			r = -E2BIG;
			goto out_free_entry;
		}
		for (p = line; blank(*p); p++)
			;
		line = end + 1;
		if (*p == '\0' || *p == '#')
			continue;
		if (*p == '[') {
			r = parse_group_line(p);
			if (r < 0)
				goto out_free_entry;
			if (r == 1 && seen_entry) {
				r = -EINVAL; /* a second [Desktop Entry] */
				goto out_free_entry;
			}
			seen_entry = seen_entry || r == 1;
			group = r == 1 ? G_ENTRY : G_OTHER;
			continue;
		}
		/* a key before any group, or a line that is not a key */
		if (group == G_NONE || parse_key_line(p, &key, &value) < 0) {
			r = -EINVAL;
			goto out_free_entry;
		}
		if (group != G_ENTRY)
			continue;
		for (i = 0; i < e->de_nkv; i++)
			if (strcmp(e->de_kv[i].kv_key, key) == 0) {
				r = -EINVAL; /* which one would count? */
				goto out_free_entry;
			}
		if (e->de_nkv == DESKTOP_KEYS_MAX) {
			r = -E2BIG;
			goto out_free_entry;
		}
		e->de_kv[e->de_nkv].kv_key = key;
		e->de_kv[e->de_nkv].kv_value = value;
		e->de_nkv++;
	}
	if (!seen_entry) {
		r = -EINVAL;
		goto out_free_entry;
	}
	*ret = e;
	return 0;

out_free_entry:
	desktop_entry_free(e);
	return r;
}

void
desktop_entry_free(struct desktop_entry *e)
{
	if (e == NULL)
		return;
	free(e->de_text);
	free(e);
}

const char *
desktop_entry_get(const struct desktop_entry *e, const char *key)
{
	size_t i;

	for (i = 0; i < e->de_nkv; i++)
		if (strcmp(e->de_kv[i].kv_key, key) == 0)
			return e->de_kv[i].kv_value;
	return NULL;
}

int
desktop_entry_get_bool(
    const struct desktop_entry *e, const char *key, bool def, bool *ret)
{
	const char *v = desktop_entry_get(e, key);

	if (v == NULL) {
		*ret = def;
		return -ENOENT;
	}
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*ret = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

int
desktop_value_unescape(const char *raw, char **ret)
{
	char *out = malloc(strlen(raw) + 1), *o = out;
	const char *p;

	if (out == NULL)
		return -ENOMEM;
	for (p = raw; *p != '\0'; p++) {
		if (*p != '\\') {
			*o++ = *p;
			continue;
		}
		switch (p[1]) {
		case 's':
			*o++ = ' ';
			break;
		case 'n':
			*o++ = '\n';
			break;
		case 't':
			*o++ = '\t';
			break;
		case 'r':
			*o++ = '\r';
			break;
		case '\\':
			*o++ = '\\';
			break;
		case '\0':
			free(out);
			return -EINVAL;
		default:
			/* not a string escape: Exec's quoting reads it */
			*o++ = '\\';
			*o++ = p[1];
			break;
		}
		p++;
	}
	*o = '\0';
	*ret = out;
	return 0;
}

bool
desktop_id_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i] != '\0'; i++) {
		unsigned char c = (unsigned char)id[i];

		if (i == DESKTOP_ID_MAX)
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		        (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		        c == '+' || c == '-'))
			return false;
	}
	return i > 0;
}

int
desktop_id_from_relpath(const char *relpath, char *out, size_t n)
{
	static const char suffix[] = ".desktop";
	size_t len = strlen(relpath), idlen, i;

	if (len <= strlen(suffix) ||
	    strcmp(relpath + len - strlen(suffix), suffix) != 0)
		return -EINVAL;
	idlen = len - strlen(suffix);
	if (idlen > DESKTOP_ID_MAX || idlen >= n)
		return -EINVAL;
	for (i = 0; i < idlen; i++) {
		out[i] = relpath[i];
		if (out[i] == '/')
			out[i] = '-';
	}
	out[idlen] = '\0';
	if (!desktop_id_valid(out)) {
		out[0] = '\0';
		return -EINVAL;
	}
	return 0;
}

/* ---- Exec ---- */

/*
 * The vector being built: arguments one after the other, each with its
 * NUL, in a buffer of DESKTOP_EXEC_BYTES_MAX bytes.
 */
struct exec_out {
	char *buf;
	size_t len;
	size_t nargs;
};

static int
out_put(struct exec_out *o, const char *s, size_t n)
{
	if (n > DESKTOP_EXEC_BYTES_MAX - o->len)
		return -E2BIG;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	return 0;
}

/* End the argument being built. */
static int
out_end_arg(struct exec_out *o)
{
	if (o->nargs == DESKTOP_EXEC_ARGS_MAX)
		return -E2BIG;
	o->nargs++;
	return out_put(o, "", 1);
}

static bool
exec_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

int
desktop_exec_parse(
    const char *raw_exec, const struct desktop_exec_ctx *ctx, char ***ret_argv)
{
	enum {
		Q_NONE,
		Q_DOUBLE,
		Q_SINGLE
	} q = Q_NONE;
	struct exec_out o = {NULL, 0, 0};
	/* an argument is open; it had a quoted part; where it began */
	bool in_arg = false, quoted = false;
	size_t arg_start = 0, i;
	char *s, **argv;
	int r;

	r = desktop_value_unescape(raw_exec, &s);
	if (r < 0)
		return r;
	o.buf = malloc(DESKTOP_EXEC_BYTES_MAX);
	if (o.buf == NULL) {
		r = -ENOMEM;
		goto out_free_s;
	}
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if (q == Q_NONE && exec_space(c)) {
			/* an unquoted argument that expanded to nothing
			 * ("%U" alone) is no argument at all */
			if (in_arg && (o.len > arg_start || quoted) &&
			    (r = out_end_arg(&o)) < 0)
				goto out_free_buf;
			in_arg = false;
			continue;
		}
		if (!in_arg) {
			in_arg = true;
			quoted = false;
			arg_start = o.len;
		}
		if (c == '%') {
			const char *v = NULL;

			/* field codes are read in quotes too (the spec
			 * leaves that undefined; GLib expands them before
			 * it reads any quote) */
			switch (s[++i]) {
			case '%':
				v = "%";
				break;
			case 'f':
			case 'F':
			case 'u':
			case 'U':
			case 'd':
			case 'D':
			case 'n':
			case 'N':
			case 'v':
			case 'm':
				break; /* no files; deprecated */
			case 'c':
				v = ctx->ec_name;
				break;
			case 'k':
				v = ctx->ec_path;
				break;
			case 'i':
				/* two arguments: only where a whole one
				 * stands */
				if (q != Q_NONE || quoted ||
				    o.len != arg_start ||
				    (s[i + 1] != '\0' &&
				        !exec_space(s[i + 1]))) {
					r = -EINVAL;
					goto out_free_buf;
				}
				if (ctx->ec_icon != NULL &&
				    ctx->ec_icon[0] != '\0') {
					if ((r = out_put(&o, "--icon", 6)) <
					        0 ||
					    (r = out_end_arg(&o)) < 0 ||
					    (r = out_put(&o, ctx->ec_icon,
					         strlen(ctx->ec_icon))) < 0 ||
					    (r = out_end_arg(&o)) < 0)
						goto out_free_buf;
					in_arg = false;
				}
				break;
			default: /* unknown, or '%' at the end */
				r = -EINVAL;
				goto out_free_buf;
			}
			if (v != NULL && (r = out_put(&o, v, strlen(v))) < 0)
				goto out_free_buf;
			continue;
		}
		switch (q) {
		case Q_NONE:
			if (c == '"' || c == '\'') {
				q = c == '"' ? Q_DOUBLE : Q_SINGLE;
				quoted = true;
				break;
			}
			if (c == '\\') {
				/*
				 * GLib's reading; "\%" is refused: GLib
				 * would expand the code first and escape
				 * whatever came after it
				 */
				if (s[i + 1] == '\0' || s[i + 1] == '%') {
					r = -EINVAL;
					goto out_free_buf;
				}
				c = s[++i];
			}
			if ((r = out_put(&o, &c, 1)) < 0)
				goto out_free_buf;
			break;
		case Q_DOUBLE:
			if (c == '"') {
				q = Q_NONE;
				break;
			}
			/* \" \` \$ \\; before anything else a backslash
			 * is itself (as in a POSIX shell's quotes) */
			if (c == '\\' && s[i + 1] != '\0' &&
			    strchr("\"`$\\", s[i + 1]) != NULL)
				c = s[++i];
			if ((r = out_put(&o, &c, 1)) < 0)
				goto out_free_buf;
			break;
		case Q_SINGLE:
			if (c == '\'') {
				q = Q_NONE;
				break;
			}
			if ((r = out_put(&o, &c, 1)) < 0)
				goto out_free_buf;
			break;
		}
	}
	if (q != Q_NONE) {
		r = -EINVAL;
		goto out_free_buf;
	}
	if (in_arg && (o.len > arg_start || quoted) &&
	    (r = out_end_arg(&o)) < 0)
		goto out_free_buf;
	/* no command, or an empty one */
	if (o.nargs == 0 || o.buf[0] == '\0') {
		r = -EINVAL;
		goto out_free_buf;
	}

	/* one allocation: the pointers, then the strings */
	argv = malloc((o.nargs + 1) * sizeof(*argv) + o.len);
	if (argv == NULL) {
		r = -ENOMEM;
		goto out_free_buf;
	}
	{
		char *strings = (char *)(argv + o.nargs + 1), *p;
		size_t k;

		memcpy(strings, o.buf, o.len);
		for (k = 0, p = strings; k < o.nargs; k++) {
			argv[k] = p;
			p += strlen(p) + 1;
		}
		argv[o.nargs] = NULL;
	}
	*ret_argv = argv;
	r = 0;

out_free_buf:
	free(o.buf);
out_free_s:
	free(s);
	return r;
}

void
desktop_argv_free(char **argv)
{
	free(argv);
}

int
desktop_entry_command(
    const struct desktop_entry *e, const char *path, char ***ret_argv)
{
	struct desktop_exec_ctx ctx = {NULL, NULL, path};
	char *name = NULL, *icon = NULL;
	const char *type, *exec, *v;
	bool hidden;
	int r;

	r = desktop_entry_get_bool(e, "Hidden", false, &hidden);
	if (r == -EINVAL)
		return r;
	/* Hidden: the entry was deleted (and hides any of the same id in
	 * directories further down the XDG list) */
	if (hidden)
		return -ENOENT;
	type = desktop_entry_get(e, "Type");
	exec = desktop_entry_get(e, "Exec");
	if (type == NULL || strcmp(type, "Application") != 0 || exec == NULL)
		return -EINVAL;
	if ((v = desktop_entry_get(e, "Name")) != NULL &&
	    (r = desktop_value_unescape(v, &name)) < 0)
		return r;
	if ((v = desktop_entry_get(e, "Icon")) != NULL &&
	    (r = desktop_value_unescape(v, &icon)) < 0)
		goto out_free_name;
	ctx.ec_name = name;
	ctx.ec_icon = icon;
	r = desktop_exec_parse(exec, &ctx, ret_argv);
	free(icon);
out_free_name:
	free(name);
	return r;
}
