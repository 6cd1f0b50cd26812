/*
 * desktop.h - desktop entry files (the freedesktop.org Desktop Entry
 * Specification) as qubes.StartApp and qubes.GetAppmenus read them: the
 * [Desktop Entry] group of one file, desktop file ids, and the Exec key
 * turned into an argument vector.
 *
 * Pure functions: buffers in, structures out; no file system, no
 * environment, no logging.  The in-qube programs (qubes-startapp) call
 * them on the qube's own files; the admin side calls them on the menu
 * files it wrote itself (qvm-appmenus); tests and the fuzzer call them
 * directly.
 */
#ifndef BULKHEAD_STARTAPP_DESKTOP_H
#define BULKHEAD_STARTAPP_DESKTOP_H

#include <stdbool.h>
#include <stddef.h>

/* Largest desktop file read; larger ones are refused (-EFBIG). */
#define DESKTOP_FILE_MAX ((size_t)64 * 1024)
/* Longest line of a desktop file, without its newline. */
#define DESKTOP_LINE_MAX 4096u
/* Most keys kept from the [Desktop Entry] group (localised ones count). */
#define DESKTOP_KEYS_MAX 512u
/*
 * Longest desktop file id, without ".desktop".  Also the admin side's
 * limit on what a qube may name (qvm-sync-appmenus), so that whatever
 * qubes.GetAppmenus lists can be started by the same name.
 */
#define DESKTOP_ID_MAX 128u
/* Most arguments, and most bytes of them (NULs included), of an Exec. */
#define DESKTOP_EXEC_ARGS_MAX  256u
#define DESKTOP_EXEC_BYTES_MAX ((size_t)64 * 1024)

/* One key of the [Desktop Entry] group: "Key" or "Key[locale]". */
struct desktop_kv {
	const char *kv_key;
	const char *kv_value; /* raw: the string escapes are not undone */
};

/*
 * A parsed [Desktop Entry] group.  The strings point into de_text, a
 * copy of the file owned by the entry.
 */
struct desktop_entry {
	char *de_text;
	size_t de_nkv;
	struct desktop_kv de_kv[DESKTOP_KEYS_MAX];
};

/*
 * Parse a desktop file: untrusted_buf, len bytes (no NUL needed).  The
 * file is checked whole: at most DESKTOP_FILE_MAX bytes and lines of at
 * most DESKTOP_LINE_MAX, no NUL byte, every line blank, a comment, a group
 * header or "Key[locale] = value" inside a group, exactly one
 * [Desktop Entry] group and no key twice in it.  Other groups
 * ([Desktop Action ...]) are checked and left out.
 *
 * Returns 0 and a new entry in *ret (free with desktop_entry_free), or
 * -EFBIG (file too big), -E2BIG (a line too long, too many keys),
 * -EINVAL (malformed, no [Desktop Entry]) or -ENOMEM.
 */
int desktop_entry_parse(
    const char *untrusted_buf, size_t len, struct desktop_entry **ret);

/* Free an entry; NULL is a no-op. */
void desktop_entry_free(struct desktop_entry *e);

/* The raw value of key (exact, locale included), or NULL. */
const char *desktop_entry_get(const struct desktop_entry *e, const char *key);

/*
 * A boolean key: "true" or "1" is true, "false" or "0" false (GLib reads
 * the digits too).  Returns 0 and *ret, -ENOENT if the key is absent (then
 * *ret is def), -EINVAL for any other value.
 */
int desktop_entry_get_bool(
    const struct desktop_entry *e, const char *key, bool def, bool *ret);

/*
 * Undo a string value's escapes: \s \n \t \r \\ become space, newline,
 * tab, carriage return and backslash.  Any other backslash pair is kept
 * as it is (the Exec quoting rules read "\"" and friends after this step,
 * as the specification orders).  Returns 0 and a new string in *ret (the
 * caller frees it), -EINVAL for a backslash at the end, or -ENOMEM.
 */
int desktop_value_unescape(const char *raw, char **ret);

/*
 * Is id a desktop file id qubes.StartApp accepts: 1 to DESKTOP_ID_MAX
 * characters of [A-Za-z0-9._+-] (what a qrexec service argument may
 * hold)?
 */
bool desktop_id_valid(const char *id);

/*
 * The id of the file at relpath, relative to an applications directory:
 * ".desktop" taken off, each '/' made '-' ("kde/konsole.desktop" is
 * "kde-konsole").  Returns 0 and the id in out (n bytes), or -EINVAL if
 * relpath does not end in ".desktop" or the id is not desktop_id_valid.
 */
int desktop_id_from_relpath(const char *relpath, char *out, size_t n);

/* What Exec's field codes expand to; NULL members expand to nothing. */
struct desktop_exec_ctx {
	const char *ec_name; /* %c: the Name key, escapes undone */
	const char *ec_icon; /* %i: "--icon" and the Icon key, undone */
	const char *ec_path; /* %k: where the desktop file is */
};

/*
 * Turn an Exec value (raw, as in the file) into an argument vector, no
 * files given.
 *
 * First the string escapes are undone (desktop_value_unescape).  Then
 * the value is split into arguments at unquoted spaces, tabs and
 * newlines.  A double-quoted part is taken literally except that \" \`
 * \$ \\ stand for the second character; as GLib (which starts Qubes' apps
 * through g_shell_parse_argv) also reads them, a single-quoted part is
 * taken literally and an unquoted backslash takes the next character
 * literally.  Nothing else is special: there is no shell, ';' or '|' or
 * '$' are plain characters.
 *
 * Field codes, quoted or not: %% is '%'; %f %F %u %U (files and URLs:
 * none are given) and the deprecated %d %D %n %N %v %m expand to nothing;
 * %c to ctx->ec_name; %k to ctx->ec_path; %i, which must be a whole
 * unquoted argument, to the two arguments "--icon" ctx->ec_icon (to
 * nothing without an icon).  Any other code, or a '%' at the end, is
 * refused.  An unquoted argument that expands to nothing is dropped
 * ("%U" alone); "" stays an empty argument.
 *
 * Returns 0 and a NULL-terminated vector in *ret_argv with a non-empty
 * argv[0] (one allocation: free with desktop_argv_free), -EINVAL if
 * malformed (unbalanced quote, unknown field code, %i inside an
 * argument, no command), -E2BIG beyond DESKTOP_EXEC_ARGS_MAX arguments or
 * DESKTOP_EXEC_BYTES_MAX bytes, or -ENOMEM.
 */
int desktop_exec_parse(
    const char *raw_exec, const struct desktop_exec_ctx *ctx, char ***ret_argv);

/* Free a vector from desktop_exec_parse; NULL is a no-op. */
void desktop_argv_free(char **argv);

/*
 * How qubes.StartApp and qubes.GetAppmenus judge an entry (the file at
 * path, for %k): Hidden=true means the entry is not there (-ENOENT); it
 * must be Type=Application with an Exec that desktop_exec_parse accepts
 * (-EINVAL otherwise, also for a bad boolean in Hidden).  TryExec is the
 * caller's (it looks at the file system).  Returns 0 and the vector in
 * *ret_argv (desktop_argv_free), or the error.
 */
int desktop_entry_command(
    const struct desktop_entry *e, const char *path, char ***ret_argv);

#endif
