/*
 * menus.h - the admin side's application menus of qubes: what a qube's
 * qubes.GetAppmenus sends, checked line by line; the menu file made for
 * each application; the store under
 * $XDG_DATA_HOME/qubes-appmenus/QUBE/apps/ (~/.local/share/...), where
 * Qubes keeps them.
 *
 * Used by qvm-sync-appmenus and qvm-appmenus on the admin side, as the
 * invoking user.  Everything a qube sends is hostile: menus_line_parse
 * and menus_parse are pure and bounded, and are the only way from the
 * qube's bytes to what menus_render writes.
 */
#ifndef BULKHEAD_STARTAPP_MENUS_H
#define BULKHEAD_STARTAPP_MENUS_H

#include <stddef.h>
#include <stdint.h>

#include "startapp/desktop.h"

/* Most bytes read from a qube's qubes.GetAppmenus (more: refused). */
#define MENUS_INPUT_MAX ((size_t)1024 * 1024)
/* Longest line taken, without its newline (longer ones are dropped). */
#define MENUS_LINE_MAX 4096u
/*
 * Most applications, and most keys of one application, kept (an
 * application's translations count: a browser's file has several hundred
 * keys).
 */
#define MENUS_APPS_MAX 1024u
#define MENUS_KEYS_MAX 1024u
/* Longest key name, and longest locale in "Key[locale]". */
#define MENUS_KEYNAME_MAX 32u
#define MENUS_LOCALE_MAX  32u
#define MENUS_KEY_MAX     (MENUS_KEYNAME_MAX + MENUS_LOCALE_MAX + 2u)

/* One line taken from a qube: "ID.desktop:Key[locale]=Value". */
struct menus_line {
	char ml_id[DESKTOP_ID_MAX + 1];
	char ml_key[MENUS_KEY_MAX + 1];
	const char *ml_value; /* into the line; ml_value_len bytes */
	size_t ml_value_len;
};

/*
 * Check one line (untrusted_line, len bytes, no newline):
 * ID.desktop ':' Key ['[' locale ']'] '=' Value, with ID desktop_id_valid
 * (1..DESKTOP_ID_MAX of [A-Za-z0-9._+-]), Key [A-Za-z0-9-] (at most
 * MENUS_KEYNAME_MAX), locale [A-Za-z0-9_@.-] (at most MENUS_LOCALE_MAX),
 * spaces and tabs around '=' and at the end ignored (Qubes' agent sends
 * its files' lines as they are).  Value: valid UTF-8 (shortest forms, no
 * surrogates), no control character (C0, DEL, C1), no line or paragraph
 * separator, no bidirectional formatting character (they can make a menu
 * entry read as another), and a backslash only in \\ \s \; (the escapes
 * \n \t \r would give control characters back).
 *
 * Keys taken: Name, GenericName, Comment, Keywords (each also with a
 * locale), Categories (";"-separated words of [A-Za-z0-9_-]) and Icon
 * (an icon name of [A-Za-z0-9_.-], not a path: the menu must not make the
 * admin side open a file the qube names).  Name must not be empty.
 *
 * Returns 0 and *ret for a line taken; 1 for a well-formed line of
 * another key (Exec, which the admin side writes itself, Type, ...:
 * dropped without a word); -EINVAL for anything else.
 */
int menus_line_parse(
    const char *untrusted_line, size_t len, struct menus_line *ret);

struct menus_kv {
	char mk_key[MENUS_KEY_MAX + 1];
	char *mk_value;
};

struct menus_app {
	char ma_id[DESKTOP_ID_MAX + 1];
	size_t ma_nkv;
	struct menus_kv *ma_kv; /* ma_nkv of them */
};

/* What a qube sent, checked: applications sorted by id, each with Name. */
struct menus {
	struct menus_app *m_apps;
	size_t m_napps;
	size_t m_bad;     /* lines refused (-EINVAL, too long, over a limit) */
	size_t m_unnamed; /* applications dropped for having no Name */
};

/*
 * Parse a whole qubes.GetAppmenus answer (untrusted_buf, len bytes):
 * lines split at '\n', a '\r' before it ignored, blank lines skipped;
 * each line through menus_line_parse.  A key given twice for an
 * application keeps the last value (as Qubes).  Lines over
 * MENUS_LINE_MAX, new applications beyond MENUS_APPS_MAX and keys beyond
 * MENUS_KEYS_MAX are counted in m_bad and dropped.
 *
 * Returns 0 and *ret (free with menus_free), -EFBIG over MENUS_INPUT_MAX
 * bytes, or -ENOMEM.
 */
int menus_parse(const char *untrusted_buf, size_t len, struct menus **ret);

void menus_free(struct menus *m);

/*
 * The handover of a parsed answer from qvm-sync-appmenus' confined reader
 * (the child that parses the qube's bytes) to its parent, which writes
 * the menus.  Host byte order, no padding (sizes asserted in menus.c):
 *
 *   struct menus_wire_hdr
 *   napps times: struct menus_wire_app, then nkv times:
 *       struct menus_wire_kv, then value_len bytes of value (no NUL)
 *
 * Strings in fixed fields are NUL-terminated and NUL-padded.  The
 * applications come sorted by id, each id once; an application's keys
 * each once, in the order of the answer.  Nothing follows the last one.
 */
#define MENUS_WIRE_MAGIC 0x314e4d42u /* "BMN1" */
/* Bigger than any encoding of a MENUS_INPUT_MAX answer (each line taken
 * costs at most sizeof app + kv = 208 bytes beyond its value, and has at
 * least 16 bytes: "I.desktop:Icon=x"). */
#define MENUS_WIRE_MAX ((size_t)16 * 1024 * 1024)

struct menus_wire_hdr {
	uint32_t mw_magic;
	uint32_t mw_napps;   /* <= MENUS_APPS_MAX */
	uint32_t mw_bad;     /* <= MENUS_INPUT_MAX */
	uint32_t mw_unnamed; /* mw_napps + mw_unnamed <= MENUS_APPS_MAX */
};

struct menus_wire_app {
	char mw_id[DESKTOP_ID_MAX + 4]; /* desktop_id_valid */
	uint32_t mw_nkv;                /* 1..MENUS_KEYS_MAX */
};

struct menus_wire_kv {
	char mw_key[MENUS_KEY_MAX + 2]; /* a key menus_line_parse takes */
	uint32_t mw_value_len;          /* <= MENUS_LINE_MAX */
};

/*
 * Encode m (a menus_parse result) for the handover: a new buffer in *ret
 * of *ret_len bytes (the caller frees it).  0, -EMSGSIZE (over
 * MENUS_WIRE_MAX: not from menus_parse) or -ENOMEM.
 */
int menus_encode(const struct menus *m, char **ret, size_t *ret_len);

/*
 * The parent's side: check an encoding from the reader, which may have
 * been taken over by the qube, as hostile: the exact layout above, every
 * count within its limit, every id, key and value as menus_line_parse
 * would take it (the same checks, on fixed fields instead of a line),
 * ids sorted and once, keys once an application, each application with
 * a Name.  Returns 0 and *ret (menus_free), -EBADMSG (refused, nothing
 * repaired) or -ENOMEM.
 */
int menus_decode(const char *untrusted_buf, size_t len, struct menus **ret);

/*
 * The menu file for application a of qube: a [Desktop Entry] of
 * Type=Application with X-Qubes-VmName and X-Qubes-AppName, the taken
 * keys (Name and GenericName prefixed "QUBE: " as Qubes does,
 * Categories with X-Qubes-VM; added) and
 * Exec=qvm-run -q -a --service -- QUBE qubes.StartApp+ID.  Returns 0 and
 * a new NUL-terminated text in *ret (the caller frees it), -EINVAL if
 * qube is not a qube name, or -ENOMEM.
 */
int menus_render(const struct menus_app *a, const char *qube, char **ret);

/* The menu file's name: "QUBE-ID.desktop".  0 or -ENAMETOOLONG. */
int menus_file_name(const char *qube, const char *id, char *out, size_t n);

/*
 * Where the menus are kept: $XDG_DATA_HOME/qubes-appmenus if
 * XDG_DATA_HOME is absolute, else $HOME/.local/share/qubes-appmenus
 * (HOME absolute, else the password database's home).  0, -ENOENT (no
 * home) or -ENAMETOOLONG.
 */
int menus_data_dir(char *out, size_t n);

/*
 * Replace DATA_DIR/QUBE/apps by the menus of m: written in a new
 * directory beside it, which then takes its place in one rename
 * (renameat2 RENAME_EXCHANGE; where the file system cannot, two renames),
 * and the old one is removed.  DATA_DIR and DATA_DIR/QUBE are made if
 * missing.  On failure the old menus stay as they were.  Returns 0 or
 * -errno, with what failed in err.
 */
int menus_store(const char *data_dir, const char *qube, const struct menus *m,
    char *err, size_t errlen);

#endif
