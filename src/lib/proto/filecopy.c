/*
 * proto/filecopy.c - validators for the qubes.Filecopy stream: every byte
 * of it comes from another qube, and these are the only functions that
 * turn it into values the receiver acts on.
 *
 * Written here rather than taken from a library: the rules are Qubes'
 * (qrexec-lib's name and symlink checks), and what matters is that they
 * are exact and bounded; no Debian library checks file-copy names.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/proto/filecopy.h"

int
proto_filecopy_header_parse(
    const struct filecopy_header *untrusted_hdr, struct filecopy_entry *ret)
{
	const struct filecopy_header h = *untrusted_hdr;
	struct filecopy_entry e;

	if (h.namelen == 0)
		return 0;
	/* Qubes: namelen at most 16383 (a 16382-byte name and its NUL) */
	if (h.namelen > FILECOPY_NAME_MAX + 1)
		return -ENAMETOOLONG;
	memset(&e, 0, sizeof(e));
	if (S_ISREG(h.mode))
		e.type = FILECOPY_FILE;
	else if (S_ISDIR(h.mode))
		e.type = FILECOPY_DIR;
	else if (S_ISLNK(h.mode))
		e.type = FILECOPY_SYMLINK;
	else
		return -EINVAL;
	if (h.atime_nsec > 999999999u || h.mtime_nsec > 999999999u)
		return -EINVAL;
	/* a directory carries no data: a length there is a lie */
	if (e.type == FILECOPY_DIR && h.filelen != 0)
		return -EINVAL;
	if (e.type == FILECOPY_SYMLINK &&
	    (h.filelen == 0 || h.filelen > FILECOPY_LINK_MAX))
		return h.filelen == 0 ? -EINVAL : -ENAMETOOLONG;
	e.namelen = h.namelen;
	e.perm = h.mode & 07777u;
	e.filelen = h.filelen;
	e.atime.sec = h.atime;
	e.atime.nsec = h.atime_nsec;
	e.mtime.sec = h.mtime;
	e.mtime.nsec = h.mtime_nsec;
	*ret = e;
	return 1;
}

/* Strict UTF-8: the code point and the length, or 0 (bad or overlong). */
static size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len, i;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
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
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/*
 * Characters beyond ASCII allowed in names: letters and a little
 * punctuation of left-to-right scripts, every one of them in Qubes'
 * display-safe set (bidi L, ON or ET; scripts it allows).  Left out on
 * purpose: controls (C0, DEL, C1), the soft hyphen and every other format
 * character, combining marks (they stack on the previous character),
 * spaces other than U+0020, right-to-left scripts and bidi controls.
 * A name Qubes would allow and this does not is refused with EILSEQ;
 * qvm-copy then sends it as qubes.Filecopy+allow-all-names.
 */
static const struct {
	uint32_t lo, hi;
} safe_ranges[] = {
    {0x00a1, 0x00ac}, /* Latin-1 punctuation (not NBSP, not soft hyphen) */
    {0x00ae, 0x00ff}, /* Latin-1 letters */
    {0x0100, 0x024f}, /* Latin Extended-A and -B */
    {0x0250, 0x02af}, /* IPA letters */
    {0x0386, 0x0386}, /* Greek */
    {0x0388, 0x038a}, {0x038c, 0x038c}, {0x038e, 0x03a1}, {0x03a3, 0x03ce},
    {0x0400, 0x0482}, /* Cyrillic (not its combining marks 0483-0489) */
    {0x048a, 0x04ff}, {0x1e00, 0x1eff}, /* Latin Extended Additional */
    {0x2010, 0x2015},                   /* dashes */
    {0x2018, 0x201f},                   /* quotation marks */
    {0x2026, 0x2026},                   /* ellipsis */
    {0x20ac, 0x20ac},                   /* euro sign */
    {0x3001, 0x3002},                   /* ideographic comma and full stop */
    {0x3041, 0x3096},                   /* Hiragana */
    {0x30a1, 0x30fa},                   /* Katakana */
    {0x30fc, 0x30fe}, {0x4e00, 0x9fff}, /* CJK unified ideographs */
    {0xac00, 0xd7a3},                   /* Hangul syllables */
};

size_t
proto_filecopy_char_ok(const unsigned char *s, size_t n)
{
	uint32_t c;
	size_t len = utf8_decode(s, n, &c), i;

	if (len == 0)
		return 0;
	if (c < 0x80)
		return c >= 0x20 && c < 0x7f ? 1 : 0;
	for (i = 0; i < sizeof(safe_ranges) / sizeof(safe_ranges[0]); i++)
		if (c >= safe_ranges[i].lo && c <= safe_ranges[i].hi)
			return len;
	return 0;
}

static bool
chars_ok(const char *s, size_t len, bool allow_all)
{
	size_t i = 0;

	while (i < len) {
		size_t n;

		if (allow_all) {
			/* any byte but NUL (the caller cut at the first) */
			i++;
			continue;
		}
		n = proto_filecopy_char_ok(
		    (const unsigned char *)s + i, len - i);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* Path rules: components non-empty, none "." or "..", not absolute. */
static bool
path_ok(const char *s, size_t len)
{
	size_t i = 0;

	if (len == 0 || s[0] == '/' || s[len - 1] == '/')
		return false;
	while (i < len) {
		size_t j = i;

		while (j < len && s[j] != '/')
			j++;
		if (j == i || (j - i == 1 && s[i] == '.') ||
		    (j - i == 2 && s[i] == '.' && s[i + 1] == '.'))
			return false;
		i = j + 1;
	}
	return true;
}

int
proto_filecopy_name_parse(
    const char *untrusted_name, size_t namelen, bool allow_all_names, char *out)
{
	/* the name ends at its first NUL, as in Qubes' receiver */
	size_t len = strnlen(untrusted_name, namelen);

	if (len > FILECOPY_NAME_MAX || !path_ok(untrusted_name, len) ||
	    !chars_ok(untrusted_name, len, allow_all_names))
		return -EILSEQ;
	memcpy(out, untrusted_name, len);
	out[len] = '\0';
	return 0;
}

static size_t
components(const char *s)
{
	size_t n = 1;

	for (; *s; s++)
		if (*s == '/')
			n++;
	return n;
}

int
proto_filecopy_link_parse(const char *untrusted_target, size_t len,
    const char *name, bool allow_all_names, bool allow_unsafe, char *out)
{
	size_t depth = components(name), ups = 0, i = 0;
	bool seen_normal = false;

	if (len == 0 || len > FILECOPY_LINK_MAX ||
	    memchr(untrusted_target, '\0', len) != NULL ||
	    !chars_ok(untrusted_target, len, allow_all_names))
		return -EILSEQ;
	if (!allow_unsafe) {
		if (depth < 2 || untrusted_target[0] == '/')
			return -ENOLINK;
		/*
		 * Leading ".." only, at most depth-2 of them: the link
		 * resolves inside the top-level directory it came in.
		 * "." and empty components (a//b) change nothing and are
		 * allowed, as Qubes' receiver allows them in targets.
		 */
		while (i < len) {
			size_t j = i;

			while (j < len && untrusted_target[j] != '/')
				j++;
			if (j - i == 2 && untrusted_target[i] == '.' &&
			    untrusted_target[i + 1] == '.') {
				if (seen_normal || ++ups > depth - 2)
					return -ENOLINK;
			} else if (j > i &&
			    !(j - i == 1 && untrusted_target[i] == '.')) {
				seen_normal = true;
			}
			i = j + 1;
		}
	}
	memcpy(out, untrusted_target, len);
	out[len] = '\0';
	return 0;
}

int
proto_filecopy_result_parse(const unsigned char *untrusted_buf, size_t len,
    uint32_t *ret_error, uint64_t *ret_crc, char *out, size_t outlen)
{
	struct filecopy_result r;
	struct filecopy_result_ext x;
	size_t i, n = 0;

	if (len < sizeof(r) || outlen == 0)
		return -EBADMSG;
	memcpy(&r, untrusted_buf, sizeof(r));
	if (len > sizeof(r)) {
		if (len < sizeof(r) + sizeof(x))
			return -EBADMSG;
		memcpy(&x, untrusted_buf + sizeof(r), sizeof(x));
		if (x.last_namelen > FILECOPY_REPLY_NAME_MAX ||
		    len != sizeof(r) + sizeof(x) + x.last_namelen)
			return -EBADMSG;
		n = x.last_namelen;
	}
	/* shown to the user: printable ASCII only, never '"' */
	for (i = 0; i < n && i < outlen - 1; i++) {
		unsigned char c = untrusted_buf[sizeof(r) + sizeof(x) + i];

		out[i] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '_';
	}
	out[i] = '\0';
	*ret_error = r.error_code;
	*ret_crc = r.crc32;
	return 0;
}
