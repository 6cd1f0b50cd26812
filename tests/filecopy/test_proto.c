/*
 * test_proto.c - the qubes.Filecopy validators (src/lib/proto/filecopy.c),
 * case by case: the entry header, names, symlink targets, the reply, and
 * the character allowlist under them.
 *
 * The expected answers are Qubes' receiver rules
 * (shared/reference/filecopy.md sections 2-3), written out here by hand;
 * where bulkhead is stricter on purpose (its character allowlist is a
 * subset of Qubes'), the comment says so.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "lib/proto/filecopy.h"

/* ---- headers ---- */

static struct filecopy_header
hdr(uint32_t namelen, uint32_t mode, uint64_t filelen)
{
	struct filecopy_header h;

	memset(&h, 0, sizeof(h));
	h.namelen = namelen;
	h.mode = mode;
	h.filelen = filelen;
	h.atime = 1000;
	h.atime_nsec = 1;
	h.mtime = 2000;
	h.mtime_nsec = 2;
	return h;
}

/* A header's result, with *ret checked to be untouched unless 1. */
static int
hparse(const struct filecopy_header *h, struct filecopy_entry *ret)
{
	struct filecopy_entry before;
	int r;

	memset(ret, 0xa5, sizeof(*ret));
	memcpy(&before, ret, sizeof(before));
	r = proto_filecopy_header_parse(h, ret);
	if (r != 1)
		assert_memory_equal(ret, &before, sizeof(before));
	return r;
}

static void
test_header_file(void **state)
{
	struct filecopy_header h = hdr(6, S_IFREG | 04755, 12345);
	struct filecopy_entry e;

	(void)state;
	assert_int_equal(hparse(&h, &e), 1);
	assert_int_equal(e.type, FILECOPY_FILE);
	assert_int_equal(e.namelen, 6);
	/* the validator keeps every permission bit; unpack drops setuid */
	assert_int_equal(e.perm, 04755);
	assert_int_equal(e.filelen, 12345);
	assert_int_equal(e.atime.sec, 1000);
	assert_int_equal(e.atime.nsec, 1);
	assert_int_equal(e.mtime.sec, 2000);
	assert_int_equal(e.mtime.nsec, 2);

	/* a file's size is the unpacker's limit to enforce, not this one */
	h = hdr(2, S_IFREG | 0644, UINT64_MAX);
	assert_int_equal(hparse(&h, &e), 1);
	assert_true(e.filelen == UINT64_MAX);
	/* bits above S_IFMT do not change the type (Qubes: S_ISREG) */
	h = hdr(2, 0xffff0000u | S_IFREG | 0644, 0);
	assert_int_equal(hparse(&h, &e), 1);
	assert_int_equal(e.type, FILECOPY_FILE);
	assert_int_equal(e.perm, 0644);
}

static void
test_header_end(void **state)
{
	struct filecopy_header h;
	struct filecopy_entry e;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(hparse(&h, &e), 0);
	/* namelen 0 ends the stream, whatever the rest says */
	h = hdr(0, S_IFIFO, 99);
	h.mtime_nsec = 2000000000u;
	assert_int_equal(hparse(&h, &e), 0);
}

static void
test_header_namelen(void **state)
{
	struct filecopy_header h;
	struct filecopy_entry e;

	(void)state;
	h = hdr(1, S_IFREG | 0644, 0);
	assert_int_equal(hparse(&h, &e), 1);
	/*
	 * The most this accepts: FILECOPY_NAME_MAX bytes and a NUL, namelen
	 * 16383, as Qubes' receiver (it refuses namelen > MAX_PATH_LENGTH - 1).
	 */
	assert_int_equal(FILECOPY_NAME_MAX + 1, 16383);
	h = hdr(FILECOPY_NAME_MAX + 1, S_IFREG | 0644, 0);
	assert_int_equal(hparse(&h, &e), 1);
	assert_int_equal(e.namelen, FILECOPY_NAME_MAX + 1);
	h = hdr(FILECOPY_NAME_MAX + 2, S_IFREG | 0644, 0);
	assert_int_equal(hparse(&h, &e), -ENAMETOOLONG);
	h = hdr(UINT32_MAX, S_IFDIR | 0755, 0);
	assert_int_equal(hparse(&h, &e), -ENAMETOOLONG);
	/* the length is checked before the type */
	h = hdr(UINT32_MAX, S_IFIFO | 0644, 0);
	assert_int_equal(hparse(&h, &e), -ENAMETOOLONG);
}

static void
test_header_type(void **state)
{
	static const uint32_t bad[] = {
	    S_IFIFO | 0644, S_IFCHR | 0666, S_IFBLK | 0660, S_IFSOCK | 0755,
	    0644,              /* no type at all */
	    0170000 | 0644,    /* every type bit */
	    0010000 | S_IFREG, /* S_IFIFO|S_IFREG is not a regular file */
	};
	struct filecopy_header h;
	struct filecopy_entry e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h = hdr(2, bad[i], 0);
		assert_int_equal(hparse(&h, &e), -EINVAL);
	}
	h = hdr(2, S_IFDIR | 0755, 0);
	assert_int_equal(hparse(&h, &e), 1);
	assert_int_equal(e.type, FILECOPY_DIR);
	h = hdr(2, S_IFLNK | 0777, 1);
	assert_int_equal(hparse(&h, &e), 1);
	assert_int_equal(e.type, FILECOPY_SYMLINK);
}

static void
test_header_nsec(void **state)
{
	struct filecopy_header h;
	struct filecopy_entry e;

	(void)state;
	h = hdr(2, S_IFREG | 0644, 0);
	h.atime_nsec = 999999999u;
	h.mtime_nsec = 999999999u;
	assert_int_equal(hparse(&h, &e), 1);
	assert_int_equal(e.mtime.nsec, 999999999u);
	h.mtime_nsec = 1000000000u;
	assert_int_equal(hparse(&h, &e), -EINVAL);
	h.mtime_nsec = 0;
	h.atime_nsec = 1000000000u;
	assert_int_equal(hparse(&h, &e), -EINVAL);
	h.atime_nsec = UINT32_MAX;
	assert_int_equal(hparse(&h, &e), -EINVAL);
	/* for directories and symlinks too */
	h = hdr(2, S_IFDIR | 0755, 0);
	h.mtime_nsec = 1000000000u;
	assert_int_equal(hparse(&h, &e), -EINVAL);
	h = hdr(2, S_IFLNK | 0777, 3);
	h.atime_nsec = 1000000000u;
	assert_int_equal(hparse(&h, &e), -EINVAL);
}

static void
test_header_dir_len(void **state)
{
	struct filecopy_header h;
	struct filecopy_entry e;

	(void)state;
	h = hdr(2, S_IFDIR | 0755, 0);
	assert_int_equal(hparse(&h, &e), 1);
	assert_int_equal(e.filelen, 0);
	h = hdr(2, S_IFDIR | 0755, 1);
	assert_int_equal(hparse(&h, &e), -EINVAL);
	h = hdr(2, S_IFDIR | 0755, UINT64_MAX);
	assert_int_equal(hparse(&h, &e), -EINVAL);
}

static void
test_header_symlink_len(void **state)
{
	struct filecopy_header h;
	struct filecopy_entry e;

	(void)state;
	h = hdr(2, S_IFLNK | 0777, 0);
	assert_int_equal(hparse(&h, &e), -EINVAL);
	h = hdr(2, S_IFLNK | 0777, FILECOPY_LINK_MAX);
	assert_int_equal(hparse(&h, &e), 1);
	assert_int_equal(e.filelen, FILECOPY_LINK_MAX);
	h = hdr(2, S_IFLNK | 0777, FILECOPY_LINK_MAX + 1);
	assert_int_equal(hparse(&h, &e), -ENAMETOOLONG);
	/* not cut to 32 bits on the way */
	h = hdr(2, S_IFLNK | 0777, (1ull << 32) + 5);
	assert_int_equal(hparse(&h, &e), -ENAMETOOLONG);
}

/* ---- names ---- */

struct name_case {
	const char *in;
	size_t len;      /* bytes of in given (namelen); 0: strlen + 1 */
	bool allow_all;  /* --allow-all-names */
	int want;        /* 0 or -EILSEQ */
	const char *out; /* on success; NULL: in */
};

#define N_OK(s)                                                                \
	{                                                                      \
		s, 0, false, 0, NULL                                           \
	}
#define N_BAD(s)                                                               \
	{                                                                      \
		s, 0, false, -EILSEQ, NULL                                     \
	}
#define N_ALL_OK(s)                                                            \
	{                                                                      \
		s, 0, true, 0, NULL                                            \
	}
#define N_ALL_BAD(s)                                                           \
	{                                                                      \
		s, 0, true, -EILSEQ, NULL                                      \
	}
#define N_CUT(s, n, o)                                                         \
	{                                                                      \
		s, n, false, 0, o                                              \
	}

static const struct name_case name_cases[] = {
    N_OK("a"),
    N_OK("file.txt"),
    N_OK("dir/sub/file"),
    N_OK(".hidden"),
    N_OK("a/.b"),
    N_OK("..."),
    N_OK("a..b/c.."),
    N_OK(" spaced name ~!@#$%^&*()+={}[]|:;'<>,?\"\\`"),
    N_OK("caf\xc3\xa9-\xc5\xbb\xc3\x93\xc5\x81W"), /* café-ŻÓŁW */
    N_OK("\xe6\x97\xa5\xe6\x9c\xac"),              /* 日本 */
    /* path rules */
    N_BAD(""),
    N_BAD("/abs"),
    N_BAD("/"),
    N_BAD("a//b"),
    N_BAD("a/./b"),
    N_BAD("."),
    N_BAD("./a"),
    N_BAD("a/."),
    N_BAD(".."),
    N_BAD("../x"),
    N_BAD("a/../b"),
    N_BAD("a/.."),
    N_BAD("a/"),
    /* characters: controls, DEL, C1, bidi, bad UTF-8 */
    N_BAD("esc\x1b[31m"),
    N_BAD("new\nline"),
    N_BAD("bell\x07"),
    N_BAD("tab\t"),
    N_BAD("del\x7f"),
    N_BAD("c1-\xc2\x80"),
    N_BAD("c1-\xc2\x85"),
    N_BAD("c1-\xc2\x9f"),
    N_BAD("raw-\x80"),
    N_BAD("raw-\x9f"),
    N_BAD("rlo-\xe2\x80\xae"), /* U+202E RIGHT-TO-LEFT OVERRIDE */
    N_BAD("lone-\xff"),
    N_BAD("overlong-\xc0\xaf"),     /* '/' in two bytes */
    N_BAD("overlong-\xe0\x80\xaf"), /* '/' in three bytes */
    N_BAD("surrogate-\xed\xa0\x80"),
    N_BAD("beyond-\xf4\x90\x80\x80"), /* above U+10FFFF */
    N_BAD("cut-\xc3"),                /* sequence cut by the end */
    N_BAD("cut-\xe6\x97"),
    N_BAD("nbsp-\xc2\xa0"),
    N_BAD("shy-\xc2\xad"),
    N_BAD("combining-e\xcc\x81"), /* U+0301 */
    N_BAD("hebrew-\xd7\x90"),     /* right-to-left letter */
    /* --allow-all-names: any byte but NUL, the path rules still */
    N_ALL_OK("esc\x1b[31m"),
    N_ALL_OK("new\nline"),
    N_ALL_OK("del\x7f"),
    N_ALL_OK("rlo-\xe2\x80\xae"),
    N_ALL_OK("lone-\xff"),
    N_ALL_OK("overlong-\xc0\xaf"),
    N_ALL_BAD(""),
    N_ALL_BAD("/abs\x1b"),
    N_ALL_BAD("a//\x1b"),
    N_ALL_BAD("a/./\x1b"),
    N_ALL_BAD("\x1b/../x"),
    N_ALL_BAD(".."),
    N_ALL_BAD("\x1b/"),
    /* the name ends at its first NUL, as in Qubes' receiver */
    N_CUT("t/ok\0../x", 10, "t/ok"),
    N_CUT("t/ok\0/abs", 10, "t/ok"),
    N_CUT("ok\0\0\0", 5, "ok"),
    /* no NUL in namelen bytes: all of them, as Qubes reads it */
    N_CUT("abcdef", 3, "abc"),
    /* a name cut to nothing */
    {"\0abc", 5, false, -EILSEQ, NULL},
    {"\0abc", 5, true, -EILSEQ, NULL},
};

static void
test_names(void **state)
{
	static char out[FILECOPY_NAME_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(name_cases) / sizeof(name_cases[0]); i++) {
		const struct name_case *c = &name_cases[i];
		size_t len = c->len ? c->len : strlen(c->in) + 1;
		int r;

		memset(out, 'X', sizeof(out));
		r = proto_filecopy_name_parse(c->in, len, c->allow_all, out);
		if (r != c->want)
			fail_msg("case %zu (\"%s\", all=%d): %d, want %d", i,
			    c->in, c->allow_all, r, c->want);
		if (r == 0)
			assert_string_equal(out, c->out ? c->out : c->in);
		else
			assert_int_equal(out[0], 'X'); /* untouched */
	}
}

static void
test_name_length(void **state)
{
	static char name[FILECOPY_NAME_MAX + 2];
	static char out[FILECOPY_NAME_MAX + 1];

	(void)state;
	memset(name, 'a', sizeof(name));
	/* the longest name, with and without its NUL in namelen */
	name[FILECOPY_NAME_MAX] = '\0';
	assert_int_equal(
	    proto_filecopy_name_parse(name, FILECOPY_NAME_MAX + 1, false, out),
	    0);
	assert_int_equal(strlen(out), FILECOPY_NAME_MAX);
	assert_int_equal(
	    proto_filecopy_name_parse(name, FILECOPY_NAME_MAX, false, out), 0);
	assert_int_equal(strlen(out), FILECOPY_NAME_MAX);
	/* one byte more and no NUL: too long (out has no room for it) */
	name[FILECOPY_NAME_MAX] = 'a';
	memset(out, 'X', sizeof(out));
	assert_int_equal(
	    proto_filecopy_name_parse(name, FILECOPY_NAME_MAX + 1, false, out),
	    -EILSEQ);
	assert_int_equal(out[0], 'X');
	assert_int_equal(
	    proto_filecopy_name_parse(name, FILECOPY_NAME_MAX + 1, true, out),
	    -EILSEQ);
}

/* ---- symlinks ---- */

struct link_case {
	const char *name;   /* the link's own (checked) name */
	const char *target; /* no NUL: strlen; see test_link_nul */
	bool allow_all, unsafe;
	int want;
};

static const struct link_case link_cases[] = {
    /* a top-level link: it could only point beside the copy */
    {"l", "x", false, false, -ENOLINK},
    {"l", "x", false, true, 0},
    /* absolute */
    {"d/l", "/etc/passwd", false, false, -ENOLINK},
    {"a/b/c/d/l", "/", false, false, -ENOLINK},
    {"d/l", "/etc/passwd", false, true, 0},
    /* at most depth - 2 leading ".." */
    {"d/l", "x", false, false, 0},
    {"d/l", "./x", false, false, 0},
    {"d/l", "sub/./x", false, false, 0},
    {"d/l", "../x", false, false, -ENOLINK},
    {"d/l", "..", false, false, -ENOLINK},
    {"d/e/l", "../x", false, false, 0},
    {"d/e/l", "..", false, false, 0},
    {"d/e/l", "./../x", false, false, 0},
    {"d/e/l", "../../x", false, false, -ENOLINK},
    {"d/e/l", "../../d/x", false, false, -ENOLINK},
    {"d/e/f/l", "../../x", false, false, 0},
    {"d/e/f/l", "../../../x", false, false, -ENOLINK},
    {"d/l", "../../outside", false, false, -ENOLINK},
    {"d/l", "../../outside", false, true, 0},
    /* ".." after another component */
    {"d/l", "a/../../x", false, false, -ENOLINK},
    {"d/e/l", "a/../x", false, false, -ENOLINK},
    {"d/e/f/l", "a/..", false, false, -ENOLINK},
    {"d/e/f/l", "../a/../x", false, false, -ENOLINK},
    /* characters, as for names */
    {"d/l", "esc\x1b", false, false, -EILSEQ},
    {"d/l", "esc\x1b", true, false, 0},
    {"d/l", "lone\xff", false, false, -EILSEQ},
    {"d/l", "lone\xff", true, false, 0},
    {"d/l", "rlo\xe2\x80\xae", false, true, -EILSEQ},
    {"d/l", "caf\xc3\xa9", false, false, 0},
};

static void
test_links(void **state)
{
	static char out[FILECOPY_LINK_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(link_cases) / sizeof(link_cases[0]); i++) {
		const struct link_case *c = &link_cases[i];
		int r;

		memset(out, 'X', sizeof(out));
		r = proto_filecopy_link_parse(c->target, strlen(c->target),
		    c->name, c->allow_all, c->unsafe, out);
		if (r != c->want)
			fail_msg("case %zu (%s -> %s, all=%d unsafe=%d): %d, "
			         "want %d",
			    i, c->name, c->target, c->allow_all, c->unsafe, r,
			    c->want);
		if (r == 0)
			assert_string_equal(out, c->target);
		else
			assert_int_equal(out[0], 'X');
	}
}

static void
test_link_nul_and_length(void **state)
{
	static char target[FILECOPY_LINK_MAX + 2];
	static char out[FILECOPY_LINK_MAX + 1];

	(void)state;
	/* a NUL inside a target is refused, not cut */
	assert_int_equal(proto_filecopy_link_parse(
	                     "x\0../../y", 9, "d/l", false, false, out),
	    -EILSEQ);
	assert_int_equal(
	    proto_filecopy_link_parse("x\0", 2, "d/l", true, true, out),
	    -EILSEQ);
	assert_int_equal(
	    proto_filecopy_link_parse("", 0, "d/l", false, false, out),
	    -EILSEQ);
	memset(target, 'a', sizeof(target));
	assert_int_equal(proto_filecopy_link_parse(target, FILECOPY_LINK_MAX,
	                     "d/l", false, false, out),
	    0);
	assert_int_equal(strlen(out), FILECOPY_LINK_MAX);
	assert_int_equal(proto_filecopy_link_parse(target,
	                     FILECOPY_LINK_MAX + 1, "d/l", false, false, out),
	    -EILSEQ);
	/* only len bytes are the target: what follows is not read */
	assert_int_equal(
	    proto_filecopy_link_parse("x/../..", 1, "d/l", false, false, out),
	    0);
	assert_string_equal(out, "x");
}

/* ---- the reply ---- */

static size_t
reply(unsigned char *buf, uint32_t code, uint64_t crc, int ext,
    uint32_t namelen, const char *name, size_t n)
{
	struct filecopy_result r = {code, 0, crc};
	struct filecopy_result_ext x = {namelen};
	size_t len = sizeof(r);

	memcpy(buf, &r, sizeof(r));
	if (ext) {
		memcpy(buf + len, &x, sizeof(x));
		len += sizeof(x);
		if (n > 0)
			memcpy(buf + len, name, n);
		len += n;
	}
	return len;
}

/* result_parse, with the ret_ values checked untouched on failure */
static int
rparse(const unsigned char *buf, size_t len, uint32_t *code, uint64_t *crc,
    char *out, size_t outlen)
{
	int r;

	*code = 0xdeadbeef;
	*crc = 0xfeedface;
	if (outlen > 0)
		out[0] = 'X';
	r = proto_filecopy_result_parse(buf, len, code, crc, out, outlen);
	if (r != 0) {
		assert_int_equal(*code, 0xdeadbeef);
		assert_true(*crc == 0xfeedface);
		if (outlen > 0)
			assert_int_equal(out[0], 'X');
	}
	return r;
}

static void
test_result_sizes(void **state)
{
	static unsigned char buf[64 + FILECOPY_REPLY_NAME_MAX];
	char out[64];
	uint32_t code;
	uint64_t crc;
	size_t len;

	(void)state;
	/* 16 bytes only: an old or failing receiver */
	len = reply(buf, 17, 0x1234abcd, 0, 0, NULL, 0);
	assert_int_equal(len, 16);
	assert_int_equal(rparse(buf, len, &code, &crc, out, sizeof(out)), 0);
	assert_int_equal(code, 17);
	assert_true(crc == 0x1234abcd);
	assert_string_equal(out, "");
	assert_int_equal(
	    rparse(buf, 15, &code, &crc, out, sizeof(out)), -EBADMSG);
	assert_int_equal(
	    rparse(buf, 0, &code, &crc, out, sizeof(out)), -EBADMSG);
	/* 16 + 4 + n */
	len = reply(buf, 0, 7, 1, 4, "tree", 4);
	assert_int_equal(len, 24);
	assert_int_equal(rparse(buf, len, &code, &crc, out, sizeof(out)), 0);
	assert_int_equal(code, 0);
	assert_true(crc == 7);
	assert_string_equal(out, "tree");
	/* the ext part cut inside its length, or inside the name */
	assert_int_equal(
	    rparse(buf, 17, &code, &crc, out, sizeof(out)), -EBADMSG);
	assert_int_equal(
	    rparse(buf, 19, &code, &crc, out, sizeof(out)), -EBADMSG);
	assert_int_equal(
	    rparse(buf, 20, &code, &crc, out, sizeof(out)), -EBADMSG);
	assert_int_equal(
	    rparse(buf, len - 1, &code, &crc, out, sizeof(out)), -EBADMSG);
	/* trailing garbage */
	buf[len] = 'x';
	assert_int_equal(
	    rparse(buf, len + 1, &code, &crc, out, sizeof(out)), -EBADMSG);
	/* an empty last name */
	len = reply(buf, 0, 7, 1, 0, NULL, 0);
	assert_int_equal(rparse(buf, len, &code, &crc, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(
	    rparse(buf, len + 1, &code, &crc, out, sizeof(out)), -EBADMSG);
	/* no room for even the NUL */
	assert_int_equal(rparse(buf, len, &code, &crc, out, 0), -EBADMSG);
}

static void
test_result_namelen(void **state)
{
	static unsigned char buf[64 + FILECOPY_REPLY_NAME_MAX + 1];
	static char name[FILECOPY_REPLY_NAME_MAX + 1];
	char out[16];
	uint32_t code;
	uint64_t crc;
	size_t len;

	(void)state;
	memset(name, 'n', sizeof(name));
	/* the longest name, cut to what out holds */
	len = reply(buf, 0, 1, 1, FILECOPY_REPLY_NAME_MAX, name,
	    FILECOPY_REPLY_NAME_MAX);
	assert_int_equal(rparse(buf, len, &code, &crc, out, sizeof(out)), 0);
	assert_string_equal(out, "nnnnnnnnnnnnnnn");
	/* one more: refused even though all its bytes are there */
	len = reply(buf, 0, 1, 1, FILECOPY_REPLY_NAME_MAX + 1, name,
	    FILECOPY_REPLY_NAME_MAX + 1);
	assert_int_equal(
	    rparse(buf, len, &code, &crc, out, sizeof(out)), -EBADMSG);
	/* a length claiming gigabytes, on 20 bytes */
	len = reply(buf, 0, 1, 1, UINT32_MAX, NULL, 0);
	assert_int_equal(
	    rparse(buf, len, &code, &crc, out, sizeof(out)), -EBADMSG);
	len = reply(buf, 0, 1, 1, 0x80000000u, "ab", 2);
	assert_int_equal(
	    rparse(buf, len, &code, &crc, out, sizeof(out)), -EBADMSG);
	/* outlen 1: an empty string */
	len = reply(buf, 0, 1, 1, 3, "abc", 3);
	assert_int_equal(rparse(buf, len, &code, &crc, out, 1), 0);
	assert_string_equal(out, "");
}

static void
test_result_sanitise(void **state)
{
	static const char evil[] = "a\"b\x1b[31m\x7f\xc3\xa9\n\r\t\x01 ~\0z";
	unsigned char buf[128];
	char out[64];
	uint32_t code;
	uint64_t crc;
	size_t len, i;

	(void)state;
	len =
	    reply(buf, EEXIST, 1, 1, sizeof(evil) - 1, evil, sizeof(evil) - 1);
	assert_int_equal(rparse(buf, len, &code, &crc, out, sizeof(out)), 0);
	assert_int_equal(code, EEXIST);
	/* '"', controls, DEL, every byte >= 0x80 and a NUL: '_' each */
	assert_string_equal(out, "a_b_[31m_______ ~_z");
	for (i = 0; out[i]; i++)
		assert_true(out[i] >= 0x20 && out[i] < 0x7f && out[i] != '"');
}

/* ---- the character allowlist ---- */

static size_t
ch(const char *s)
{
	return proto_filecopy_char_ok((const unsigned char *)s, strlen(s));
}

static void
test_char_ok(void **state)
{
	int c;

	(void)state;
	for (c = 0x20; c < 0x7f; c++) {
		unsigned char b = (unsigned char)c;

		assert_int_equal(proto_filecopy_char_ok(&b, 1), 1);
	}
	for (c = 0; c < 0x20; c++) {
		unsigned char b = (unsigned char)c;

		assert_int_equal(proto_filecopy_char_ok(&b, 1), 0);
	}
	for (c = 0x7f; c < 0x100; c++) {
		unsigned char b = (unsigned char)c;

		/* DEL, and no byte >= 0x80 is a character by itself */
		assert_int_equal(proto_filecopy_char_ok(&b, 1), 0);
	}
	/* C1 controls, encoded properly */
	for (c = 0x80; c < 0xa0; c++) {
		unsigned char b[2] = {0xc2, (unsigned char)c};

		assert_int_equal(proto_filecopy_char_ok(b, 2), 0);
	}
	assert_int_equal(ch("\xc3\xa9"), 2);         /* é */
	assert_int_equal(ch("\xc5\xbb"), 2);         /* Ż */
	assert_int_equal(ch("\xd0\x96"), 2);         /* Ж */
	assert_int_equal(ch("\xce\xa9"), 2);         /* Ω */
	assert_int_equal(ch("\xe6\x97\xa5"), 3);     /* 日 */
	assert_int_equal(ch("\xe3\x81\x82"), 3);     /* あ */
	assert_int_equal(ch("\xea\xb0\x80"), 3);     /* 가 */
	assert_int_equal(ch("\xe2\x82\xac"), 3);     /* € */
	assert_int_equal(ch("\xe2\x80\xae"), 0);     /* RLO */
	assert_int_equal(ch("\xe2\x80\x8b"), 0);     /* zero width space */
	assert_int_equal(ch("\xef\xbb\xbf"), 0);     /* BOM */
	assert_int_equal(ch("\xd8\xa7"), 0);         /* Arabic alef */
	assert_int_equal(ch("\xf0\x9f\x98\x80"), 0); /* emoji */
	assert_int_equal(ch("\xc0\xaf"), 0);         /* overlong */
	assert_int_equal(ch("\xc1\xbf"), 0);
	assert_int_equal(ch("\xe0\x9f\xbf"), 0);
	assert_int_equal(ch("\xf0\x8f\xbf\xbf"), 0);
	assert_int_equal(ch("\xed\xa0\x80"), 0); /* surrogates */
	assert_int_equal(ch("\xed\xbf\xbf"), 0);
	assert_int_equal(ch("\xf4\x90\x80\x80"), 0); /* > U+10FFFF */
	assert_int_equal(ch("\xf5\x80\x80\x80"), 0);
	assert_int_equal(ch("\xc3\x28"), 0); /* bad continuation */
	/* only n bytes may be read */
	assert_int_equal(
	    proto_filecopy_char_ok((const unsigned char *)"\xe6\x97\xa5", 2),
	    0);
	assert_int_equal(
	    proto_filecopy_char_ok((const unsigned char *)"\xc3\xa9", 1), 0);
	assert_int_equal(
	    proto_filecopy_char_ok((const unsigned char *)"a", 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header_file),
	    cmocka_unit_test(test_header_end),
	    cmocka_unit_test(test_header_namelen),
	    cmocka_unit_test(test_header_type),
	    cmocka_unit_test(test_header_nsec),
	    cmocka_unit_test(test_header_dir_len),
	    cmocka_unit_test(test_header_symlink_len),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_name_length),
	    cmocka_unit_test(test_links),
	    cmocka_unit_test(test_link_nul_and_length),
	    cmocka_unit_test(test_result_sizes),
	    cmocka_unit_test(test_result_namelen),
	    cmocka_unit_test(test_result_sanitise),
	    cmocka_unit_test(test_char_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
