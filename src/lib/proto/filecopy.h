/*
 * proto/filecopy.h - the qubes.Filecopy stream (Qubes' qfile format), as
 * qfile-agent sends it and qfile-unpacker receives it.
 *
 * Wire format (docs/protocol/filecopy.md; host byte order, no padding, no
 * magic and no version, as Qubes' own programs send it):
 *   entry:  struct filecopy_header (32 bytes), then namelen bytes of name
 *           (the sender's NUL included; the name ends at the first NUL),
 *           then filelen bytes: a file's data, or a symlink's target (no
 *           NUL); directories carry none.  A directory is sent twice, before
 *           and after its contents.
 *   end:    a header with namelen 0 (the rest of it ignored).
 *   reply:  struct filecopy_result (16 bytes), then
 *           struct filecopy_result_ext (4 bytes) and last_namelen bytes of
 *           the last name, no NUL; a receiver that fails may send the first
 *           16 bytes only.
 * The CRC in the reply is zlib's crc32 over every byte of the stream up to
 * and including the end marker's 32 bytes.
 */
#ifndef BULKHEAD_PROTO_FILECOPY_H
#define BULKHEAD_PROTO_FILECOPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct filecopy_header {
	uint32_t namelen; /* with the NUL; 0: end of stream */
	uint32_t mode;    /* the sender's st_mode */
	uint64_t filelen;
	uint32_t atime, atime_nsec;
	uint32_t mtime, mtime_nsec;
};
_Static_assert(sizeof(struct filecopy_header) == 32, "wire size");

struct filecopy_result {
	uint32_t error_code; /* 0, or the receiver's errno */
	uint32_t pad;
	uint64_t crc32;
};
_Static_assert(sizeof(struct filecopy_result) == 16, "wire size");

struct filecopy_result_ext {
	uint32_t last_namelen; /* then the name, no NUL */
};
_Static_assert(sizeof(struct filecopy_result_ext) == 4, "wire size");

/*
 * Qubes' limits: namelen (the name and its NUL) at most 16383, so a name
 * of at most 16382 bytes; a symlink target of at most 16383 bytes.
 */
#define FILECOPY_NAME_MAX 16382u
#define FILECOPY_LINK_MAX 16383u
/* Qubes' receiver reports a stream cut inside a file's data with this. */
#define FILECOPY_LEGAL_EOF 31415926u
/* The longest last name a reply carries that we accept (the rest is cut). */
#define FILECOPY_REPLY_NAME_MAX 16383u

struct filecopy_time {
	uint32_t sec, nsec;
};

enum filecopy_type {
	FILECOPY_FILE,
	FILECOPY_DIR,
	FILECOPY_SYMLINK,
};

/* An entry's header, checked. */
struct filecopy_entry {
	enum filecopy_type type;
	uint32_t namelen; /* bytes of name that follow (1..NAME_MAX+1) */
	uint32_t perm;    /* mode & 07777 */
	uint64_t filelen; /* 0 for a directory */
	struct filecopy_time atime, mtime;
};

/*
 * Check a header.  Returns 1 with *ret filled for an entry, 0 for the end
 * marker, or a negative errno the receiver reports, as Qubes' does:
 * -ENAMETOOLONG (a name or link target too long), -EINVAL (not a file,
 * directory or symlink; nanoseconds out of range; a directory with data).
 */
int proto_filecopy_header_parse(
    const struct filecopy_header *untrusted_hdr, struct filecopy_entry *ret);

/*
 * Check an entry's name (namelen bytes as received; it ends at the first
 * NUL, as in Qubes' receiver) and copy it NUL-terminated into out
 * (FILECOPY_NAME_MAX + 1 bytes).  Path rules always: not empty, not
 * absolute, no empty, "." or ".." component, no trailing '/'.  Character
 * rules unless allow_all_names: printable ASCII, and UTF-8 of letters of
 * the scripts in proto_filecopy_char_ok.  0, or -EILSEQ.
 */
int proto_filecopy_name_parse(const char *untrusted_name, size_t namelen,
    bool allow_all_names, char *out);

/*
 * Check a symlink's target (len bytes, no NUL inside) for a link named
 * name (already checked), and copy it NUL-terminated into out
 * (FILECOPY_LINK_MAX + 1 bytes).  Unless allow_unsafe: the link's name has
 * at least two components, the target is relative, starts with at most
 * depth-2 ".." components (depth: the name's components) and has none
 * after another component, so the link points inside the top-level
 * directory it came in.  Characters as for names.  0, -ENOLINK (it could
 * point outside), or -EILSEQ.
 */
int proto_filecopy_link_parse(const char *untrusted_target, size_t len,
    const char *name, bool allow_all_names, bool allow_unsafe, char *out);

/*
 * Is the UTF-8 sequence at s (n bytes available) a character allowed in a
 * name without --allow-all-names?  Its length (1..4), or 0.  Printable
 * ASCII, and the letters and punctuation listed in the .c file (Latin,
 * Greek, Cyrillic, kana, CJK ideographs, Hangul): a conservative subset of
 * Qubes' display-safe set, never a control, format, combining or
 * right-to-left character.
 */
size_t proto_filecopy_char_ok(const unsigned char *s, size_t n);

/*
 * Check a reply: 16 bytes, then optionally 4 + n.  On success 0 with
 * *ret_error, *ret_crc and the last name (sanitised to printable ASCII,
 * cut to outlen - 1) in out.  -EBADMSG for a reply too short or with bytes
 * left over.
 */
int proto_filecopy_result_parse(const unsigned char *untrusted_buf, size_t len,
    uint32_t *ret_error, uint64_t *ret_crc, char *out, size_t outlen);

#endif
