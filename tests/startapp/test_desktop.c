/*
 * test_desktop.c - qubes.StartApp's reading of desktop files
 * (src/startapp/desktop.c) and its lookup of desktop file ids in the XDG
 * application directories (src/startapp/appdirs.c), case by case.
 *
 * The expected answers are the Desktop Entry Specification's (1.5:
 * "The Exec key", "Recognized desktop entry keys", "Desktop File ID"),
 * written out by hand; where bulkhead reads as GLib does rather than as
 * the specification (single quotes, a backslash outside quotes), or is
 * stricter than either, the comment says so.
 */
#include <sys/stat.h>
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "startapp/appdirs.h"
#include "startapp/desktop.h"

static const struct desktop_exec_ctx ctx_full = {
    "My App", "my-icon", "/usr/share/applications/my.desktop"};
static const struct desktop_exec_ctx ctx_none = {NULL, NULL, NULL};

/* raw must parse to exactly the arguments in want (NULL-terminated). */
static void
expect_argv(const char *raw, const struct desktop_exec_ctx *ctx,
    const char *const *want)
{
	char **argv = NULL;
	size_t i;
	int r;

	r = desktop_exec_parse(raw, ctx, &argv);
	if (r != 0)
		fail_msg("Exec=%s: %d", raw, r);
	for (i = 0; want[i] != NULL; i++) {
		if (argv[i] == NULL)
			fail_msg("Exec=%s: %zu arguments, %s missing", raw, i,
			    want[i]);
		assert_string_equal(argv[i], want[i]);
	}
	if (argv[i] != NULL)
		fail_msg("Exec=%s: extra argument %s", raw, argv[i]);
	desktop_argv_free(argv);
}

#define EXPECT(raw, ctx, ...)                                                  \
	expect_argv(raw, ctx, (const char *const[]){__VA_ARGS__, NULL})

/* raw must be refused with err, *ret_argv untouched. */
static void
expect_err(const char *raw, const struct desktop_exec_ctx *ctx, int err)
{
	char *sentinel[1], **argv = sentinel;
	int r;

	r = desktop_exec_parse(raw, ctx, &argv);
	if (r != err)
		fail_msg("Exec=%s: %d, wanted %d", raw, r, err);
	assert_ptr_equal(argv, sentinel);
}

/* ---- Exec: splitting and quoting ---- */

static void
test_exec_split(void **state)
{
	(void)state;
	EXPECT("foo", &ctx_none, "foo");
	EXPECT("foo bar baz", &ctx_none, "foo", "bar", "baz");
	EXPECT("  foo \t bar  ", &ctx_none, "foo", "bar");
	/* the string escapes come first: \s is a space, and a separator */
	EXPECT("foo\\sbar", &ctx_none, "foo", "bar");
	EXPECT("foo\\nbar\\tbaz", &ctx_none, "foo", "bar", "baz");
	/* no shell: its characters are plain */
	EXPECT("echo a;b|c>d&e $HOME `x` *", &ctx_none, "echo", "a;b|c>d&e",
	    "$HOME", "`x`", "*");
	EXPECT("/usr/bin/env FOO=1 app", &ctx_none, "/usr/bin/env", "FOO=1",
	    "app");
}

static void
test_exec_double_quotes(void **state)
{
	(void)state;
	EXPECT("\"a b\" c", &ctx_none, "a b", "c");
	EXPECT("sh -c \"echo started-$0 > /tmp/started\"", &ctx_none, "sh",
	    "-c", "echo started-$0 > /tmp/started");
	/* \" \` \$ \\ inside quotes (after the string escapes) */
	EXPECT("\"a\\\"b\"", &ctx_none, "a\"b");
	EXPECT("\"a\\`b\\$c\"", &ctx_none, "a`b$c");
	/* a literal backslash: four in the file (the spec's own example) */
	EXPECT("\"a\\\\\\\\b\"", &ctx_none, "a\\b");
	/* "\\" in the file is one backslash after the string escapes: a
	 * backslash before a plain character stays (POSIX quotes) */
	EXPECT("\"a\\\\b\"", &ctx_none, "a\\b");
	EXPECT("\"a\\xb\"", &ctx_none, "a\\xb");
	/* quoted separators and newlines are kept */
	EXPECT("\"a\\nb\\tc d\"", &ctx_none, "a\nb\tc d");
	/* an empty quoted argument stays */
	EXPECT("foo \"\" bar", &ctx_none, "foo", "", "bar");
	/* quoted parts join the word they touch (as GLib) */
	EXPECT("--x=\"a b\"c", &ctx_none, "--x=a bc");
	EXPECT("\"a\"\"b\"", &ctx_none, "ab");
}

static void
test_exec_glib_reading(void **state)
{
	(void)state;
	/* not in the spec (which reserves these), but GLib's reading,
	 * which Qubes' qubes.StartApp uses: single quotes, backslash */
	EXPECT("sh -c 'echo $HOME; x'", &ctx_none, "sh", "-c", "echo $HOME; x");
	EXPECT("'a\\\\b'", &ctx_none, "a\\b");
	EXPECT("a\\ b", &ctx_none, "a b");
	EXPECT("a\\\"b", &ctx_none, "a\"b");
	EXPECT("x ''", &ctx_none, "x", "");
	EXPECT("\"it's\"", &ctx_none, "it's");
	EXPECT("'say \"hi\"'", &ctx_none, "say \"hi\"");
}

static void
test_exec_malformed(void **state)
{
	(void)state;
	expect_err("", &ctx_none, -EINVAL);
	expect_err("   ", &ctx_none, -EINVAL);
	expect_err("\"\" foo", &ctx_none, -EINVAL); /* empty command */
	expect_err("foo \"bar", &ctx_none, -EINVAL);
	expect_err("foo 'bar", &ctx_none, -EINVAL);
	expect_err("foo \"bar\\\"", &ctx_none, -EINVAL);
	/* a backslash ending the value (string escape) */
	expect_err("foo\\", &ctx_none, -EINVAL);
	/* an unquoted backslash ending the command (after "\\") */
	expect_err("foo \\\\", &ctx_none, -EINVAL);
	/* "\%": GLib would expand the code first; refused */
	expect_err("foo \\%U", &ctx_none, -EINVAL);
}

/* ---- Exec: field codes ---- */

static void
test_exec_field_codes(void **state)
{
	(void)state;
	/* no files or URLs are given */
	EXPECT("foo %f", &ctx_full, "foo");
	EXPECT("foo %F %u %U", &ctx_full, "foo");
	EXPECT("%U foo", &ctx_full, "foo");
	EXPECT("foo --file=%f", &ctx_full, "foo", "--file=");
	/* an empty quoted argument is an argument, even around a code */
	EXPECT("foo \"%f\"", &ctx_full, "foo", "");
	/* deprecated */
	EXPECT("foo %d %D %n %N %v %m", &ctx_full, "foo");
	EXPECT("foo %%", &ctx_full, "foo", "%");
	EXPECT("printf 100%%", &ctx_full, "printf", "100%");
	EXPECT("foo \"%%s\"", &ctx_full, "foo", "%s");
	EXPECT("foo '%%'", &ctx_full, "foo", "%");
	/* %c: the name, as one argument (no splitting, no quoting) */
	EXPECT("foo %c", &ctx_full, "foo", "My App");
	EXPECT("foo --title=%c", &ctx_full, "foo", "--title=My App");
	EXPECT("foo \"%c\"", &ctx_full, "foo", "My App");
	EXPECT("foo %c", &ctx_none, "foo");
	/* %k: the file */
	EXPECT(
	    "foo %k", &ctx_full, "foo", "/usr/share/applications/my.desktop");
	EXPECT("foo %k", &ctx_none, "foo");
	/* %i: two arguments, or none */
	EXPECT("foo %i bar", &ctx_full, "foo", "--icon", "my-icon", "bar");
	EXPECT("foo %i", &ctx_full, "foo", "--icon", "my-icon");
	EXPECT("foo %i bar", &ctx_none, "foo", "bar");
	/* a name with quotes and percent signs is taken as it is */
	{
		const struct desktop_exec_ctx odd = {
		    "a \"b\" %U $c", "i n", "/p"};

		EXPECT("x %c %i", &odd, "x", "a \"b\" %U $c", "--icon", "i n");
	}
}

static void
test_exec_field_codes_refused(void **state)
{
	static const char *const bad[] = {
	    "foo %",
	    "foo %x",
	    "foo %A",
	    "foo %I",
	    "foo %C",
	    "foo % ",
	    "foo %1",
	    "foo \"%\"",
	    /* %i must be a whole unquoted argument */
	    "foo x%i",
	    "foo %ix",
	    "foo \"%i\"",
	    "foo '%i'",
	    "foo \"\"%i",
	    "foo %i%%",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_err(bad[i], &ctx_full, -EINVAL);
	/* %i without an icon is refused the same where it is misplaced */
	expect_err("foo x%i", &ctx_none, -EINVAL);
}

static void
test_exec_limits(void **state)
{
	char *raw, *p;
	size_t i;

	(void)state;
	/* DESKTOP_EXEC_ARGS_MAX arguments, and one more */
	raw = calloc(DESKTOP_EXEC_ARGS_MAX + 4, 2);
	assert_non_null(raw);
	for (i = 0, p = raw; i < DESKTOP_EXEC_ARGS_MAX; i++) {
		*p++ = 'a';
		*p++ = ' ';
	}
	p[-1] = '\0';
	{
		char **argv;

		assert_int_equal(desktop_exec_parse(raw, &ctx_none, &argv), 0);
		assert_non_null(argv[DESKTOP_EXEC_ARGS_MAX - 1]);
		assert_null(argv[DESKTOP_EXEC_ARGS_MAX]);
		desktop_argv_free(argv);
	}
	(void)strcat(raw, " a");
	expect_err(raw, &ctx_none, -E2BIG);
	/* %i makes two, and the limit counts both: MAX - 2 and %i fit,
	 * MAX - 1 and %i do not */
	raw[2 * (DESKTOP_EXEC_ARGS_MAX - 2) - 1] = '\0';
	(void)strcat(raw, " %i");
	{
		char **argv;

		assert_int_equal(desktop_exec_parse(raw, &ctx_full, &argv), 0);
		assert_string_equal(argv[DESKTOP_EXEC_ARGS_MAX - 1], "my-icon");
		desktop_argv_free(argv);
	}
	raw[2 * (DESKTOP_EXEC_ARGS_MAX - 2) - 1] = '\0';
	(void)strcat(raw, " a %i");
	expect_err(raw, &ctx_full, -E2BIG);
	free(raw);

	/* bytes: a long name expanded many times */
	{
		char *name = malloc(1001);
		struct desktop_exec_ctx c = {NULL, NULL, NULL};
		char **argv;

		assert_non_null(name);
		memset(name, 'n', 1000);
		name[1000] = '\0';
		c.ec_name = name;
		raw = malloc(3 * 70 + 2);
		assert_non_null(raw);
		(void)strcpy(raw, "x");
		for (i = 0; i < 64; i++)
			(void)strcat(raw, " %c");
		/* 64 * 1001 + 2 bytes: within 64 KiB */
		assert_int_equal(desktop_exec_parse(raw, &c, &argv), 0);
		desktop_argv_free(argv);
		for (; i < 70; i++)
			(void)strcat(raw, " %c");
		expect_err(raw, &c, -E2BIG);
		free(raw);
		free(name);
	}
}

/* ---- the file ---- */

static struct desktop_entry *
parse_ok(const char *text)
{
	struct desktop_entry *e = NULL;
	int r = desktop_entry_parse(text, strlen(text), &e);

	if (r != 0)
		fail_msg("%s: %d", text, r);
	return e;
}

static void
parse_err(const char *text, size_t len, int err)
{
	struct desktop_entry *sentinel = (struct desktop_entry *)&err, *e;
	int r;

	e = sentinel;
	r = desktop_entry_parse(text, len, &e);
	if (r != err)
		fail_msg("%.*s: %d, wanted %d", (int)len, text, r, err);
	assert_ptr_equal(e, sentinel);
}

static void
test_entry_basic(void **state)
{
	struct desktop_entry *e;

	(void)state;
	e = parse_ok("# comment\n"
	             "\n"
	             "[Desktop Entry]\r\n"
	             "Type=Application\r\n"
	             "  Name = My App  \n"
	             "Name[de_DE@euro]=Meine\n"
	             "Comment=\n"
	             "   # indented comment\n"
	             "Exec=foo %U\n"
	             "\n"
	             "[Desktop Action new]\n"
	             "Name=New\n"
	             "Exec=bar");
	assert_int_equal(e->de_nkv, 5);
	assert_string_equal(desktop_entry_get(e, "Type"), "Application");
	/* space around '=' and at the end is not the value's */
	assert_string_equal(desktop_entry_get(e, "Name"), "My App");
	assert_string_equal(desktop_entry_get(e, "Name[de_DE@euro]"), "Meine");
	assert_string_equal(desktop_entry_get(e, "Comment"), "");
	/* the action's keys are not the entry's */
	assert_string_equal(desktop_entry_get(e, "Exec"), "foo %U");
	assert_null(desktop_entry_get(e, "name"));
	assert_null(desktop_entry_get(e, "Name[de]"));
	desktop_entry_free(e);
	desktop_entry_free(NULL);
	/* the entry need not be the first group */
	e = parse_ok("[Other]\nA=b\n[Desktop Entry]\nType=Application\n");
	assert_int_equal(e->de_nkv, 1);
	desktop_entry_free(e);
}

static void
test_entry_malformed(void **state)
{
	static const char *const bad[] = {
	    "", "# only a comment\n",
	    "Type=Application\n[Desktop Entry]\n", /* key before a group */
	    "[Desktop Entry]\nType=Application\n[Desktop Entry]\n",
	    "[Desktop Entry]\nName=a\nName=b\n", /* the same key twice */
	    "[Desktop Entry]\nName a\n", "[Desktop Entry]\n=a\n",
	    "[Desktop Entry]\nNa me=a\n", "[Desktop Entry]\nName[]=a\n",
	    "[Desktop Entry]\nName[de=a\n", "[Desktop Entry]\nName[d e]=a\n",
	    "[Desktop Entry]\nName[de]x=a\n", "[Desktop Entry]\nNäme=a\n",
	    "[Desktop Entry\n", "[Desktop [Entry]\n", "[]\n[Desktop Entry]\n",
	    "[Desktop Entry]x\n", "[Desktop\tEntry]\n",
	    "[Desktop Entry]\n[Action]\nbad line\n", /* checked everywhere */
	    "[desktop entry]\nType=Application\n",   /* names are exact */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_err(bad[i], strlen(bad[i]), -EINVAL);
	/* a NUL anywhere */
	parse_err("[Desktop Entry]\nName=a\0b\n", 24, -EINVAL);
}

static void
test_entry_limits(void **state)
{
	struct desktop_entry *e;
	char *buf;
	size_t n, i;

	(void)state;
	buf = malloc(DESKTOP_FILE_MAX + 2);
	assert_non_null(buf);

	/* the longest line, and one byte more */
	n = (size_t)sprintf(buf, "[Desktop Entry]\nName=");
	memset(buf + n, 'x', DESKTOP_LINE_MAX - 5);
	n += DESKTOP_LINE_MAX - 5;
	buf[n++] = '\n';
	assert_int_equal(desktop_entry_parse(buf, n, &e), 0);
	desktop_entry_free(e);
	buf[n - 1] = 'x';
	buf[n++] = '\n';
	parse_err(buf, n, -E2BIG);
	/* a '\r' before the newline does not count */
	buf[n - 2] = '\r';
	assert_int_equal(desktop_entry_parse(buf, n, &e), 0);
	desktop_entry_free(e);

	/* the largest file, and one byte more */
	n = (size_t)sprintf(buf, "[Desktop Entry]\n");
	while (n < DESKTOP_FILE_MAX) {
		buf[n++] = '#';
		if (n % 1000 == 0)
			buf[n - 1] = '\n';
	}
	assert_int_equal(desktop_entry_parse(buf, n, &e), 0);
	desktop_entry_free(e);
	buf[n++] = '\n';
	parse_err(buf, n, -EFBIG);

	/* DESKTOP_KEYS_MAX keys, and one more */
	n = (size_t)sprintf(buf, "[Desktop Entry]\n");
	for (i = 0; i < DESKTOP_KEYS_MAX; i++)
		n += (size_t)sprintf(buf + n, "K%zu=v\n", i);
	assert_int_equal(desktop_entry_parse(buf, n, &e), 0);
	assert_int_equal(e->de_nkv, DESKTOP_KEYS_MAX);
	desktop_entry_free(e);
	n += (size_t)sprintf(buf + n, "K%zu=v\n", i);
	parse_err(buf, n, -E2BIG);
	/* keys in other groups do not count */
	n = (size_t)sprintf(buf, "[Desktop Entry]\n[A]\n");
	for (i = 0; i < DESKTOP_KEYS_MAX + 10; i++)
		n += (size_t)sprintf(buf + n, "K%zu=v\n", i);
	assert_int_equal(desktop_entry_parse(buf, n, &e), 0);
	desktop_entry_free(e);
	free(buf);
}

static void
test_entry_bool_and_unescape(void **state)
{
	struct desktop_entry *e;
	bool b;
	char *s;

	(void)state;
	e = parse_ok("[Desktop Entry]\nA=true\nB=false\nC=1\nD=0\nE=yes\n"
	             "F=True\n");
	assert_int_equal(desktop_entry_get_bool(e, "A", false, &b), 0);
	assert_true(b);
	assert_int_equal(desktop_entry_get_bool(e, "B", true, &b), 0);
	assert_false(b);
	assert_int_equal(desktop_entry_get_bool(e, "C", false, &b), 0);
	assert_true(b);
	assert_int_equal(desktop_entry_get_bool(e, "D", true, &b), 0);
	assert_false(b);
	assert_int_equal(desktop_entry_get_bool(e, "E", false, &b), -EINVAL);
	assert_int_equal(desktop_entry_get_bool(e, "F", false, &b), -EINVAL);
	assert_int_equal(desktop_entry_get_bool(e, "G", true, &b), -ENOENT);
	assert_true(b);
	desktop_entry_free(e);

	assert_int_equal(
	    desktop_value_unescape("a\\sb\\nc\\td\\re\\\\f", &s), 0);
	assert_string_equal(s, "a b\nc\td\re\\f");
	free(s);
	/* other pairs stay for Exec's quoting (and ';' for lists) */
	assert_int_equal(desktop_value_unescape("\\\"\\;\\x", &s), 0);
	assert_string_equal(s, "\\\"\\;\\x");
	free(s);
	assert_int_equal(desktop_value_unescape("a\\", &s), -EINVAL);
}

static void
test_entry_command(void **state)
{
	struct desktop_entry *e;
	char **argv;

	(void)state;
	e = parse_ok("[Desktop Entry]\nType=Application\nName=A\\sB\n"
	             "Icon=ic\nExec=x %c %i %k\n");
	assert_int_equal(desktop_entry_command(e, "/f.desktop", &argv), 0);
	assert_string_equal(argv[0], "x");
	assert_string_equal(argv[1], "A B");
	assert_string_equal(argv[2], "--icon");
	assert_string_equal(argv[3], "ic");
	assert_string_equal(argv[4], "/f.desktop");
	assert_null(argv[5]);
	desktop_argv_free(argv);
	desktop_entry_free(e);

	e = parse_ok("[Desktop Entry]\nType=Application\nExec=x\n"
	             "Hidden=true\n");
	assert_int_equal(desktop_entry_command(e, "/f", &argv), -ENOENT);
	desktop_entry_free(e);
	e = parse_ok("[Desktop Entry]\nType=Application\nExec=x\n"
	             "Hidden=false\n");
	assert_int_equal(desktop_entry_command(e, "/f", &argv), 0);
	desktop_argv_free(argv);
	desktop_entry_free(e);
	e = parse_ok("[Desktop Entry]\nType=Application\nExec=x\n"
	             "Hidden=maybe\n");
	assert_int_equal(desktop_entry_command(e, "/f", &argv), -EINVAL);
	desktop_entry_free(e);
	e = parse_ok("[Desktop Entry]\nType=Link\nExec=x\nURL=http://x/\n");
	assert_int_equal(desktop_entry_command(e, "/f", &argv), -EINVAL);
	desktop_entry_free(e);
	e = parse_ok("[Desktop Entry]\nExec=x\n");
	assert_int_equal(desktop_entry_command(e, "/f", &argv), -EINVAL);
	desktop_entry_free(e);
	e = parse_ok(
	    "[Desktop Entry]\nType=Application\nDBusActivatable=true\n");
	assert_int_equal(desktop_entry_command(e, "/f", &argv), -EINVAL);
	desktop_entry_free(e);
	e = parse_ok("[Desktop Entry]\nType=Application\nExec=x %z\n");
	assert_int_equal(desktop_entry_command(e, "/f", &argv), -EINVAL);
	desktop_entry_free(e);
	/* NoDisplay does not stop a start (it only hides from menus) */
	e = parse_ok("[Desktop Entry]\nType=Application\nExec=x\n"
	             "NoDisplay=true\n");
	assert_int_equal(desktop_entry_command(e, "/f", &argv), 0);
	desktop_argv_free(argv);
	desktop_entry_free(e);
}

/* ---- ids ---- */

static void
test_id(void **state)
{
	char id[DESKTOP_ID_MAX + 1], longest[DESKTOP_ID_MAX + 2];
	char path[DESKTOP_ID_MAX + 16];

	(void)state;
	assert_true(desktop_id_valid("firefox"));
	assert_true(desktop_id_valid("org.gnome.Terminal"));
	assert_true(desktop_id_valid("kde-konsole"));
	assert_true(desktop_id_valid("a_b+c-d.e"));
	assert_false(desktop_id_valid(""));
	assert_false(desktop_id_valid("a b"));
	assert_false(desktop_id_valid("a/b"));
	assert_false(desktop_id_valid("a;b"));
	assert_false(desktop_id_valid("a%b"));
	assert_false(desktop_id_valid("a:b"));
	assert_false(desktop_id_valid("a\nb"));
	assert_false(desktop_id_valid("\xc3\xa4"));
	memset(longest, 'a', DESKTOP_ID_MAX);
	longest[DESKTOP_ID_MAX] = '\0';
	assert_true(desktop_id_valid(longest));
	longest[DESKTOP_ID_MAX] = 'a';
	longest[DESKTOP_ID_MAX + 1] = '\0';
	assert_false(desktop_id_valid(longest));

	assert_int_equal(
	    desktop_id_from_relpath("a.desktop", id, sizeof(id)), 0);
	assert_string_equal(id, "a");
	assert_int_equal(
	    desktop_id_from_relpath("kde/konsole.desktop", id, sizeof(id)), 0);
	assert_string_equal(id, "kde-konsole");
	assert_int_equal(
	    desktop_id_from_relpath("a/b/c.desktop", id, sizeof(id)), 0);
	assert_string_equal(id, "a-b-c");
	assert_int_equal(
	    desktop_id_from_relpath(".desktop", id, sizeof(id)), -EINVAL);
	assert_int_equal(
	    desktop_id_from_relpath("a.txt", id, sizeof(id)), -EINVAL);
	assert_int_equal(
	    desktop_id_from_relpath("a.desktop~", id, sizeof(id)), -EINVAL);
	assert_int_equal(
	    desktop_id_from_relpath("a b.desktop", id, sizeof(id)), -EINVAL);
	/* the longest id, and one more */
	longest[DESKTOP_ID_MAX] = '\0';
	(void)snprintf(path, sizeof(path), "%s.desktop", longest);
	assert_int_equal(desktop_id_from_relpath(path, id, sizeof(id)), 0);
	(void)snprintf(path, sizeof(path), "%sa.desktop", longest);
	assert_int_equal(
	    desktop_id_from_relpath(path, id, sizeof(id)), -EINVAL);
}

/* ---- the directories ---- */

static char root[] = "/tmp/test_desktop.XXXXXX";

static void
put(const char *rel, const char *text)
{
	char p[PATH_MAX], *s;
	FILE *f;

	(void)snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (s = p + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		(void)mkdir(p, 0755);
		*s = '/';
	}
	f = fopen(p, "w");
	assert_non_null(f);
	(void)fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static const char app[] = "[Desktop Entry]\nType=Application\nExec=true\n";

static int
setup_tree(void **state)
{
	(void)state;
	if (mkdtemp(root) == NULL)
		return -1;
	/* home, then two system directories */
	put("home/applications/mine.desktop", app);
	put("home/applications/both.desktop", app);
	put("home/applications/gone.desktop",
	    "[Desktop Entry]\nType=Application\nExec=true\nHidden=true\n");
	put("sys1/applications/both.desktop", app);
	put("sys1/applications/gone.desktop", app);
	put("sys1/applications/sys1only.desktop", app);
	put("sys1/applications/kde/konsole.desktop", app);
	/* the same id as a file and in a subdirectory: the file first */
	put("sys1/applications/a-b.desktop", "[Desktop Entry]\nX=file\n");
	put("sys1/applications/a/b.desktop", "[Desktop Entry]\nX=sub\n");
	put("sys2/applications/kde-konsole.desktop", app);
	put("sys2/applications/deep/1/2/3/4/5/6/7/ok.desktop", app);
	put("sys2/applications/deep/1/2/3/4/5/6/7/8/no.desktop", app);
	put("sys2/applications/not-desktop.txt", app);
	put("sys2/applications/bad name.desktop", app);
	put("sys2/applications/tryexec.desktop",
	    "[Desktop Entry]\nType=Application\nExec=true\n"
	    "TryExec=/nonexistent/prog\n");
	put("sys2/applications/tryexec-ok.desktop",
	    "[Desktop Entry]\nType=Application\nExec=true\nTryExec=sh\n");
	put("elsewhere/sub/linked.desktop", app);
	put("elsewhere/file.desktop", app);
	{
		char t[PATH_MAX], l[PATH_MAX];

		(void)snprintf(t, sizeof(t), "%s/elsewhere/sub", root);
		(void)snprintf(l, sizeof(l), "%s/sys2/applications/ln", root);
		if (symlink(t, l) < 0)
			return -1;
		(void)snprintf(t, sizeof(t), "%s/elsewhere/file.desktop", root);
		(void)snprintf(
		    l, sizeof(l), "%s/sys2/applications/flink.desktop", root);
		if (symlink(t, l) < 0)
			return -1;
		(void)snprintf(
		    l, sizeof(l), "%s/sys2/applications/fifo.desktop", root);
		if (mkfifo(l, 0644) < 0)
			return -1;
	}
	return 0;
}

static int
teardown_tree(void **state)
{
	char cmd[PATH_MAX + 16];

	(void)state;
	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static struct appdirs *
tree_dirs(void)
{
	char home[PATH_MAX], dirs[2 * PATH_MAX + 8];
	struct appdirs *d;

	(void)snprintf(home, sizeof(home), "%s/home", root);
	(void)snprintf(
	    dirs, sizeof(dirs), "relative:%s/sys1::%s/sys2", root, root);
	assert_int_equal(appdirs_new(home, NULL, dirs, &d), 0);
	return d;
}

/* The file found for id, relative to root (a static buffer), or NULL. */
static const char *
found(const struct appdirs *d, const char *id)
{
	static char rel[PATH_MAX];
	char *path;
	int r = appdirs_find(d, id, &path);

	if (r == -ENOENT)
		return NULL;
	assert_int_equal(r, 0);
	assert_true(strncmp(path, root, strlen(root)) == 0);
	(void)snprintf(rel, sizeof(rel), "%s", path + strlen(root) + 1);
	free(path);
	return rel;
}

static void
test_appdirs_list(void **state)
{
	struct appdirs *d;
	char many[40 * 4];
	size_t i;

	(void)state;
	assert_int_equal(appdirs_new("/dh", "/home/u", "/a:/b", &d), 0);
	assert_int_equal(d->ad_n, 3);
	assert_string_equal(d->ad_dir[0], "/dh/applications");
	assert_string_equal(d->ad_dir[1], "/a/applications");
	assert_string_equal(d->ad_dir[2], "/b/applications");
	appdirs_free(d);
	/* XDG_DATA_HOME relative or empty: ~/.local/share */
	assert_int_equal(appdirs_new("dh", "/home/u", NULL, &d), 0);
	assert_int_equal(d->ad_n, 3);
	assert_string_equal(d->ad_dir[0], "/home/u/.local/share/applications");
	assert_string_equal(d->ad_dir[1], "/usr/local/share/applications");
	assert_string_equal(d->ad_dir[2], "/usr/share/applications");
	appdirs_free(d);
	/* no usable entry in XDG_DATA_DIRS: the default; no home: none */
	assert_int_equal(appdirs_new("", NULL, "rel::", &d), 0);
	assert_int_equal(d->ad_n, 2);
	assert_string_equal(d->ad_dir[0], "/usr/local/share/applications");
	appdirs_free(d);
	/* at most APPDIRS_DIRS_MAX from the list */
	many[0] = '\0';
	for (i = 0; i < 40; i++)
		(void)snprintf(many + strlen(many), sizeof(many) - strlen(many),
		    "/%c:", (char)('A' + i));
	assert_int_equal(appdirs_new(NULL, "/h", many, &d), 0);
	assert_int_equal(d->ad_n, APPDIRS_DIRS_MAX + 1);
	appdirs_free(d);
	appdirs_free(NULL);
}

static void
test_appdirs_find(void **state)
{
	struct appdirs *d = tree_dirs();

	(void)state;
	assert_string_equal(found(d, "mine"), "home/applications/mine.desktop");
	/* the first directory wins */
	assert_string_equal(found(d, "both"), "home/applications/both.desktop");
	/* found even though Hidden: appdirs_load says it is not there */
	assert_string_equal(found(d, "gone"), "home/applications/gone.desktop");
	assert_string_equal(
	    found(d, "sys1only"), "sys1/applications/sys1only.desktop");
	/* a subdirectory's file: '/' is '-' in the id; the directory
	 * before wins over sys2's kde-konsole.desktop */
	assert_string_equal(
	    found(d, "kde-konsole"), "sys1/applications/kde/konsole.desktop");
	assert_string_equal(found(d, "a-b"), "sys1/applications/a-b.desktop");
	assert_string_equal(found(d, "deep-1-2-3-4-5-6-7-ok"),
	    "sys2/applications/deep/1/2/3/4/5/6/7/ok.desktop");
	/* deeper than APPDIRS_DEPTH_MAX */
	assert_null(found(d, "deep-1-2-3-4-5-6-7-8-no"));
	/* a link to a file counts, a link to a directory is not followed */
	assert_string_equal(
	    found(d, "flink"), "sys2/applications/flink.desktop");
	assert_null(found(d, "ln-linked"));
	/* not a regular file; not a desktop file; not an id */
	assert_null(found(d, "fifo"));
	assert_null(found(d, "not-desktop"));
	assert_null(found(d, "not-desktop.txt"));
	assert_null(found(d, "bad name"));
	assert_null(found(d, "missing"));
	assert_null(found(d, ""));
	assert_null(found(d, "../sys1/applications/mine"));
	assert_null(found(d, "mine.desktop"));
	appdirs_free(d);
}

static void
test_appdirs_scan(void **state)
{
	static const char *const want[][2] = {
	    {"a-b", "sys1/applications/a-b.desktop"},
	    {"both", "home/applications/both.desktop"},
	    {"deep-1-2-3-4-5-6-7-ok", NULL},
	    {"flink", NULL},
	    {"gone", "home/applications/gone.desktop"},
	    {"kde-konsole", "sys1/applications/kde/konsole.desktop"},
	    {"mine", NULL},
	    {"sys1only", NULL},
	    {"tryexec", NULL},
	    {"tryexec-ok", NULL},
	};
	struct appdirs *d = tree_dirs();
	struct appdirs_app *a;
	size_t n, i;

	(void)state;
	assert_int_equal(appdirs_scan(d, &a, &n), 0);
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < n; i++) {
		assert_string_equal(a[i].aa_id, want[i][0]);
		if (want[i][1] != NULL)
			assert_string_equal(
			    a[i].aa_path + strlen(root) + 1, want[i][1]);
	}
	appdirs_apps_free(a, n);
	appdirs_free(d);
}

static void
test_appdirs_load(void **state)
{
	struct appdirs *d = tree_dirs();
	struct desktop_entry *e;
	char *path, **argv;

	(void)state;
	assert_int_equal(appdirs_find(d, "mine", &path), 0);
	assert_int_equal(appdirs_load(path, &e, &argv), 0);
	assert_string_equal(argv[0], "true");
	desktop_argv_free(argv);
	desktop_entry_free(e);
	free(path);
	/* Hidden hides the id, also the file of it further down */
	assert_int_equal(appdirs_find(d, "gone", &path), 0);
	assert_int_equal(appdirs_load(path, NULL, NULL), -ENOENT);
	free(path);
	/* TryExec */
	assert_int_equal(appdirs_find(d, "tryexec", &path), 0);
	assert_int_equal(appdirs_load(path, NULL, NULL), -ENOENT);
	free(path);
	assert_int_equal(appdirs_find(d, "tryexec-ok", &path), 0);
	assert_int_equal(appdirs_load(path, NULL, NULL), 0);
	free(path);
	/* no Type, no Exec */
	assert_int_equal(appdirs_find(d, "a-b", &path), 0);
	assert_int_equal(appdirs_load(path, NULL, NULL), -EINVAL);
	free(path);
	appdirs_free(d);
}

static void
test_appdirs_read(void **state)
{
	char p[PATH_MAX], *buf;
	size_t len;
	FILE *f;

	(void)state;
	(void)snprintf(p, sizeof(p), "%s/big.desktop", root);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fseek(f, DESKTOP_FILE_MAX, SEEK_SET), 0);
	(void)fputc('x', f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(appdirs_read(p, &buf, &len), -EFBIG);
	assert_int_equal(truncate(p, DESKTOP_FILE_MAX), 0);
	assert_int_equal(appdirs_read(p, &buf, &len), 0);
	assert_int_equal(len, DESKTOP_FILE_MAX);
	free(buf);
	(void)snprintf(p, sizeof(p), "%s/sys2/applications/fifo.desktop", root);
	assert_int_equal(appdirs_read(p, &buf, &len), -EINVAL);
	(void)snprintf(p, sizeof(p), "%s/sys2", root);
	assert_int_equal(appdirs_read(p, &buf, &len), -EINVAL);
	assert_int_equal(appdirs_read("/nonexistent", &buf, &len), -ENOENT);
}

static void
test_tryexec(void **state)
{
	char p[PATH_MAX];

	(void)state;
	assert_true(appdirs_tryexec_ok("/bin/sh"));
	assert_true(appdirs_tryexec_ok("sh"));
	assert_false(appdirs_tryexec_ok("/nonexistent"));
	assert_false(appdirs_tryexec_ok("no-such-program-here"));
	assert_false(appdirs_tryexec_ok(""));
	assert_false(appdirs_tryexec_ok("/bin")); /* a directory */
	(void)snprintf(p, sizeof(p), "%s/home/applications/mine.desktop", root);
	assert_false(appdirs_tryexec_ok(p)); /* not executable */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exec_split),
	    cmocka_unit_test(test_exec_double_quotes),
	    cmocka_unit_test(test_exec_glib_reading),
	    cmocka_unit_test(test_exec_malformed),
	    cmocka_unit_test(test_exec_field_codes),
	    cmocka_unit_test(test_exec_field_codes_refused),
	    cmocka_unit_test(test_exec_limits),
	    cmocka_unit_test(test_entry_basic),
	    cmocka_unit_test(test_entry_malformed),
	    cmocka_unit_test(test_entry_limits),
	    cmocka_unit_test(test_entry_bool_and_unescape),
	    cmocka_unit_test(test_entry_command),
	    cmocka_unit_test(test_id),
	    cmocka_unit_test(test_appdirs_list),
	    cmocka_unit_test(test_appdirs_find),
	    cmocka_unit_test(test_appdirs_scan),
	    cmocka_unit_test(test_appdirs_load),
	    cmocka_unit_test(test_appdirs_read),
	    cmocka_unit_test(test_tryexec),
	};

	return cmocka_run_group_tests(tests, setup_tree, teardown_tree);
}
