/*
 * fuzz_filecopy_stream.c - the qubes.Filecopy receiver, unpack_stream()
 * (src/filecopy/unpack.c), on whole streams written into a real
 * directory, and the stream validators (src/lib/proto/filecopy.c) on
 * slices of the same input.
 *
 * Input: byte 0 holds flags: bit 0 gives unpack_stream /proc/self/fd
 * (finished files linked from O_TMPFILE), else -1 (temporary names);
 * bit 1 --allow-all-names; bit 2 --allow-unsafe-symlinks.  The rest, at
 * most STREAM_MAX bytes, is the stream, read from a memfd.
 *
 * The directory: $TMPDIR (or /tmp)/fuzz_filecopy.XXXXXX, made at the
 * first input, holding "t" (the target) and "canary" (its sibling).  It
 * is emptied after each input, and removed at exit.
 *
 * Invariants beyond "no crash":
 *  - nothing appears outside t: the fuzz directory holds t and an empty
 *    canary, nothing else;
 *  - the limits hold: no more entries in t than res.files <= MAX_FILES,
 *    no more file bytes than res.bytes <= MAX_BYTES, nesting no deeper
 *    than the entries;
 *  - only files, directories and symlinks are made, none setuid/setgid;
 *  - the result matches the return value, and its reply, read back with
 *    proto_filecopy_result_parse(), gives the same code and CRC;
 *  - each validator's acceptance matches a reference written here from
 *    Qubes' rules (headers, reply sizes) or its safety property (names
 *    relative without "."/".."; a link cannot resolve above the top
 *    directory it came in).
 *
 * unpack_stream only: no confinement (seccomp would stop the fuzzer).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fuzz/fuzz.h"
#include "filecopy/filecopy.h"

#define STREAM_MAX (64u * 1024u)
#define MAX_FILES  32u
#define MAX_BYTES  16384u

/* the longest reply unpack_send_result writes, and a byte to spare */
#define REPLY_MAX                                                              \
	(sizeof(struct filecopy_result) + sizeof(struct filecopy_result_ext) + \
	    FILECOPY_NAME_MAX + 1)

#define F_PROC_FD   0x01
#define F_ALL_NAMES 0x02
#define F_UNSAFE    0x04

static char root_path[4096];
static int root_fd = -1, target_fd = -1, canary_fd = -1, proc_fd = -1;

struct tally {
	uint64_t entries, bytes;
};

/*
 * Remove everything below the directory fd (closed here).  depth bounds
 * the recursion: more nesting than entries allowed is an invariant
 * failure, not a reason to recurse on.
 */
static void
empty_dir(int fd, unsigned depth, struct tally *t, bool check)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;

	FUZZ_CHECK(d != NULL);
	FUZZ_CHECK(depth <= MAX_FILES + 1);
	/* fd may be a dup: its offset is shared, start from the top */
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		FUZZ_CHECK(fstatat(dirfd(d), de->d_name, &st,
		               AT_SYMLINK_NOFOLLOW) == 0);
		t->entries++;
		if (check) {
			FUZZ_CHECK(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ||
			    S_ISLNK(st.st_mode));
			FUZZ_CHECK((st.st_mode & (S_ISUID | S_ISGID)) == 0);
		}
		if (S_ISREG(st.st_mode))
			t->bytes += (uint64_t)st.st_size;
		if (S_ISDIR(st.st_mode)) {
			int sub;

			/* a mode from the stream (0000) must not stop us */
			FUZZ_CHECK(
			    fchmodat(dirfd(d), de->d_name, 0700, 0) == 0);
			sub = openat(dirfd(d), de->d_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			FUZZ_CHECK(sub >= 0);
			empty_dir(sub, depth + 1, t, check);
			FUZZ_CHECK(
			    unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) == 0);
		} else {
			FUZZ_CHECK(unlinkat(dirfd(d), de->d_name, 0) == 0);
		}
		/* the directory changed under readdir: start it again */
		rewinddir(d);
	}
	(void)closedir(d);
}

static void
cleanup(void)
{
	struct tally t = {0, 0};

	if (root_fd < 0)
		return;
	empty_dir(dup(root_fd), 0, &t, false);
	(void)close(root_fd);
	root_fd = -1;
	(void)rmdir(root_path);
}

static void
setup_once(void)
{
	const char *tmp = getenv("TMPDIR");
	int n;

	if (root_fd >= 0)
		return;
	fuzz_init_once();
	n = snprintf(root_path, sizeof(root_path), "%s/fuzz_filecopy.XXXXXX",
	    tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(root_path));
	FUZZ_CHECK(mkdtemp(root_path) != NULL);
	root_fd = open(root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FUZZ_CHECK(root_fd >= 0);
	FUZZ_CHECK(mkdirat(root_fd, "t", 0700) == 0);
	FUZZ_CHECK(mkdirat(root_fd, "canary", 0700) == 0);
	target_fd = openat(root_fd, "t", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	canary_fd =
	    openat(root_fd, "canary", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	proc_fd = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	FUZZ_CHECK(target_fd >= 0 && canary_fd >= 0 && proc_fd >= 0);
	FUZZ_CHECK(atexit(cleanup) == 0);
}

/* The names in the directory fd, other than "." and "..": how many. */
static size_t
count_names(int fd, const char *a, const char *b)
{
	DIR *d = fdopendir(dup(fd));
	struct dirent *de;
	size_t n = 0;

	FUZZ_CHECK(d != NULL);
	rewinddir(d); /* a dup: the offset is shared with fd */
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		FUZZ_CHECK((a != NULL && strcmp(de->d_name, a) == 0) ||
		    (b != NULL && strcmp(de->d_name, b) == 0));
		n++;
	}
	(void)closedir(d);
	return n;
}

static int
memfd_with(const void *data, size_t size)
{
	int fd = memfd_create("fuzz_filecopy", MFD_CLOEXEC);

	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
	FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0);
	return fd;
}

static void
fuzz_unpack(const uint8_t *s, size_t n, uint8_t flags)
{
	static struct unpack_result res;
	static unsigned char reply[REPLY_MAX];
	struct unpack_opts o = {
	    .allow_all_names = (flags & F_ALL_NAMES) != 0,
	    .allow_unsafe_symlinks = (flags & F_UNSAFE) != 0,
	    .max_files = MAX_FILES,
	    .max_bytes = MAX_BYTES,
	    .proc_fd_dir = (flags & F_PROC_FD) ? proc_fd : -1,
	};
	struct tally t = {0, 0};
	uint32_t code;
	uint64_t crc;
	char shown[64];
	ssize_t got;
	int in = memfd_with(s, n), out, r;

	r = unpack_stream(in, target_fd, &o, &res);
	(void)close(in);
	FUZZ_CHECK(r <= 0);
	FUZZ_CHECK(res.error == (uint32_t)-r);
	FUZZ_CHECK(res.files <= MAX_FILES && res.bytes <= MAX_BYTES);
	FUZZ_CHECK(memchr(res.last_name, '\0', sizeof(res.last_name)));

	/* the reply, as the sender reads it */
	out = memfd_with(NULL, 0);
	FUZZ_CHECK(unpack_send_result(out, &res) == 0);
	FUZZ_CHECK(lseek(out, 0, SEEK_SET) == 0);
	got = read(out, reply, sizeof(reply));
	(void)close(out);
	FUZZ_CHECK(got >= (ssize_t)sizeof(struct filecopy_result));
	FUZZ_CHECK(proto_filecopy_result_parse(reply, (size_t)got, &code, &crc,
	               shown, sizeof(shown)) == 0);
	FUZZ_CHECK(code == res.error && crc == res.crc);

	/* nothing beside the target; the canary untouched */
	FUZZ_CHECK(count_names(root_fd, "t", "canary") == 2);
	FUZZ_CHECK(count_names(canary_fd, NULL, NULL) == 0);

	empty_dir(dup(target_fd), 1, &t, true);
	FUZZ_CHECK(t.entries <= res.files);
	FUZZ_CHECK(t.bytes <= res.bytes);
	FUZZ_CHECK(count_names(target_fd, NULL, NULL) == 0);
}

/* ---- the validators on slices ---- */

static int
ref_header(const struct filecopy_header *h)
{
	uint32_t fmt = h->mode & S_IFMT;

	if (h->namelen == 0)
		return 0;
	if (h->namelen > FILECOPY_NAME_MAX + 1)
		return -ENAMETOOLONG;
	if (fmt != S_IFREG && fmt != S_IFDIR && fmt != S_IFLNK)
		return -EINVAL;
	if (h->atime_nsec >= 1000000000u || h->mtime_nsec >= 1000000000u)
		return -EINVAL;
	if (fmt == S_IFDIR && h->filelen != 0)
		return -EINVAL;
	if (fmt == S_IFLNK && h->filelen == 0)
		return -EINVAL;
	if (fmt == S_IFLNK && h->filelen > FILECOPY_LINK_MAX)
		return -ENAMETOOLONG;
	return 1;
}

static void
fuzz_header(const uint8_t *s, size_t n)
{
	struct filecopy_header h;
	struct filecopy_entry e;
	int r;

	if (n < sizeof(h))
		return;
	memcpy(&h, s, sizeof(h));
	r = proto_filecopy_header_parse(&h, &e);
	FUZZ_CHECK(r == ref_header(&h));
	if (r != 1)
		return;
	FUZZ_CHECK(e.namelen == h.namelen && e.filelen == h.filelen);
	FUZZ_CHECK(e.perm == (h.mode & 07777u));
	FUZZ_CHECK(e.mtime.sec == h.mtime && e.mtime.nsec == h.mtime_nsec);
	FUZZ_CHECK(e.atime.sec == h.atime && e.atime.nsec == h.atime_nsec);
	FUZZ_CHECK((e.type == FILECOPY_FILE) == S_ISREG(h.mode));
	FUZZ_CHECK((e.type == FILECOPY_DIR) == S_ISDIR(h.mode));
	FUZZ_CHECK((e.type == FILECOPY_SYMLINK) == S_ISLNK(h.mode));
}

/* A relative path of components that are neither empty, "." nor "..". */
static bool
ref_path_ok(const char *s)
{
	const char *p = s;

	if (*s == '\0')
		return false;
	for (;;) {
		size_t k = strcspn(p, "/");

		if (k == 0 || (k == 1 && p[0] == '.') ||
		    (k == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (p[k] == '\0')
			return true;
		p += k + 1;
	}
}

/* No ASCII control, no byte that never starts or continues UTF-8. */
static bool
ref_bytes_plausible(const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c == 0xc0 || c == 0xc1 ||
		    c >= 0xf5)
			return false;
	}
	/* and never a bidi override */
	return strstr(s, "\xe2\x80\xae") == NULL &&
	    strstr(s, "\xe2\x80\xad") == NULL;
}

/*
 * Where the link name/target resolves, textually: it must never go above
 * the top-level directory (level 1).
 */
static bool
ref_link_inside(const char *name, const char *target)
{
	long level = 0;
	const char *p;

	if (target[0] == '/')
		return false;
	for (p = name; *p; p++)
		if (*p == '/')
			level++;
	/* level: the depth of the link's directory (top-level dir: 1) */
	if (level < 1)
		return false;
	for (p = target;;) {
		size_t k = strcspn(p, "/");

		if (k == 2 && p[0] == '.' && p[1] == '.') {
			if (--level < 1)
				return false;
		} else if (k > 0 && !(k == 1 && p[0] == '.')) {
			level++;
		}
		if (p[k] == '\0')
			return true;
		p += k + 1;
	}
}

static void
fuzz_names(const uint8_t *s, size_t n, uint8_t flags)
{
	static char name[FILECOPY_NAME_MAX + 1], link[FILECOPY_LINK_MAX + 1];
	bool all = (flags & F_ALL_NAMES) != 0;
	bool unsafe = (flags & F_UNSAFE) != 0;
	size_t len = n < FILECOPY_NAME_MAX + 1 ? n : FILECOPY_NAME_MAX + 1;
	size_t half;
	int r;

	r = proto_filecopy_name_parse((const char *)s, len, all, name);
	if (r == 0) {
		size_t k = strnlen((const char *)s, len);

		FUZZ_CHECK(strlen(name) == k && memcmp(name, s, k) == 0);
		FUZZ_CHECK(ref_path_ok(name));
		FUZZ_CHECK(all || ref_bytes_plausible(name));
	} else {
		FUZZ_CHECK(r == -EILSEQ);
		/* the path rules alone refuse nothing outside them */
		if (all && strnlen((const char *)s, len) <= FILECOPY_NAME_MAX) {
			memcpy(name, s, strnlen((const char *)s, len));
			name[strnlen((const char *)s, len)] = '\0';
			FUZZ_CHECK(!ref_path_ok(name));
		}
		return;
	}
	/* the rest of the input as the target of a link of that name */
	half = strnlen((const char *)s, len) + 1;
	if (half >= n)
		return;
	s += half;
	n -= half;
	if (n > FILECOPY_LINK_MAX + 1)
		n = FILECOPY_LINK_MAX + 1;
	r = proto_filecopy_link_parse(
	    (const char *)s, n, name, all, unsafe, link);
	if (r != 0) {
		FUZZ_CHECK(r == -EILSEQ || r == -ENOLINK);
		return;
	}
	FUZZ_CHECK(n <= FILECOPY_LINK_MAX && strlen(link) == n);
	FUZZ_CHECK(memcmp(link, s, n) == 0);
	FUZZ_CHECK(all || ref_bytes_plausible(link));
	FUZZ_CHECK(unsafe || ref_link_inside(name, link));
}

static void
fuzz_result(const uint8_t *s, size_t n)
{
	char out[64];
	uint32_t code, namelen = 0;
	uint64_t crc;
	bool want = n == 16;
	size_t i;
	int r;

	if (n >= 20) {
		memcpy(&namelen, s + 16, sizeof(namelen));
		want = namelen <= FILECOPY_REPLY_NAME_MAX && n == 20u + namelen;
	}
	r = proto_filecopy_result_parse(s, n, &code, &crc, out, sizeof(out));
	FUZZ_CHECK((r == 0) == want);
	if (r != 0)
		return;
	FUZZ_CHECK(code == fuzz_u32(s));
	FUZZ_CHECK(crc == (fuzz_u32(s + 8) | (uint64_t)fuzz_u32(s + 12) << 32));
	FUZZ_CHECK(strlen(out) <= sizeof(out) - 1);
	/* the name cut to what out holds; no reply name: empty */
	if (n == 16)
		namelen = 0;
	if (namelen > sizeof(out) - 1)
		namelen = sizeof(out) - 1;
	FUZZ_CHECK(strlen(out) == namelen);
	for (i = 0; out[i]; i++)
		FUZZ_CHECK(out[i] >= 0x20 && out[i] < 0x7f && out[i] != '"');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t flags;

	if (size < 1)
		return 0;
	setup_once();
	flags = data[0];
	data++;
	size--;
	if (size > STREAM_MAX)
		size = STREAM_MAX;
	fuzz_unpack(data, size, flags);
	fuzz_header(data, size);
	if (size > sizeof(struct filecopy_header))
		fuzz_names(data + sizeof(struct filecopy_header),
		    size - sizeof(struct filecopy_header), flags);
	fuzz_result(data, size);
	return 0;
}
