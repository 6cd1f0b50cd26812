/*
 * filecopy.h - qubes.Filecopy: the sender (pack.c, qfile-agent) and the
 * receiver (unpack.c, qfile-unpacker).  Wire format: lib/proto/filecopy.h.
 *
 * The receiver reads another qube's bytes: it runs unprivileged, confined
 * (confine.c), and acts only on what lib/proto/filecopy.c validated.
 */
#ifndef BULKHEAD_FILECOPY_H
#define BULKHEAD_FILECOPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "lib/proto/filecopy.h"

/* ---- unpack.c: the receiver ---- */

struct unpack_opts {
	bool allow_all_names;
	bool allow_unsafe_symlinks;
	uint64_t max_files; /* entries (headers) received; 0: no limit */
	uint64_t max_bytes; /* file data in all; 0: no limit */
	/*
	 * /proc/self/fd opened before confinement (O_PATH), to link
	 * finished O_TMPFILE files into place; -1: use temporary names.
	 */
	int proc_fd_dir;
	/* the process's umask is 0: a file made nameless (O_TMPFILE) gets
	 * its permissions as it is made, without a chmod after */
	bool umask_zero;
};

struct unpack_result {
	uint32_t error; /* 0, or the errno the transfer failed with */
	uint32_t crc;   /* of the stream read so far */
	uint64_t files; /* entries (headers) received */
	uint64_t bytes; /* file data written */
	char last_name[FILECOPY_NAME_MAX + 1];
};

#define UNPACK_DEFAULT_MAX_FILES 1000000u
#define UNPACK_DEFAULT_MAX_BYTES (1ull << 40)

/*
 * Read a stream from in_fd and create its entries beneath the directory
 * target_fd; never outside it, never over an existing name.  Returns 0
 * (the end marker came) or -errno; *res says how far it got.  A file is
 * visible under its name only once all its data arrived.
 */
int unpack_stream(int in_fd, int target_fd, const struct unpack_opts *o,
    struct unpack_result *res);

/* Send the reply for res to out_fd: 0 or -errno. */
int unpack_send_result(int out_fd, const struct unpack_result *res);

/* ---- pack.c: the sender ---- */

struct pack;

struct pack_progress {
	uint64_t sent, total; /* total 0: unknown */
};

typedef void (*pack_progress_fn)(const struct pack_progress *p, bool last);

/* A sender writing to out_fd, reading the reply from in_fd.  NULL: OOM. */
struct pack *pack_new(int out_fd, int in_fd, bool ignore_symlinks,
    uint64_t total, pack_progress_fn progress);
void pack_free(struct pack *p);

/*
 * Send path (a file, directory or symlink; a directory with everything
 * below it) under its basename.  0, or -errno with a message printed
 * (prog: what: reason).  A reply that came early (the receiver failed) is
 * read and reported: then -EREMOTEIO.
 */
int pack_path(struct pack *p, const char *path);

/*
 * Send the end marker, read the reply and check it.  0, or -errno with a
 * message printed.
 */
int pack_finish(struct pack *p);

/*
 * tools.c: the path of a program beside the running one (in a qube:
 * /run/bulkhead/bin), else name itself (looked up in PATH by exec).
 */
void filecopy_find_tool(const char *name, char *out, size_t len);

/* ---- walk.c: walking what is sent, in the order it is sent ---- */

enum walk_when {
	WALK_LEAF,     /* a file, symlink or other non-directory */
	WALK_DIR_PRE,  /* a directory, before its contents */
	WALK_DIR_POST, /* the same directory, after them */
};

/*
 * Called for each entry: dirfd and leaf name it (fstatat-style), name is
 * the name sent (the top-level basename, then its path below).  Return 0
 * to go on, or -errno to stop the walk with it.
 */
typedef int (*walk_fn)(void *ctx, int dirfd, const char *leaf, const char *name,
    const struct stat *st, enum walk_when when);

/*
 * walk_tree's lazy flags: a leaf below the top that readdir says is a
 * regular file (WALK_LAZY_REG) or a symlink (WALK_LAZY_LNK) is passed
 * with a struct stat holding only its st_mode, without an fstatat (one
 * call a file saved); the callback stats it itself if it needs more.
 */
#define WALK_LAZY_REG 1u
#define WALK_LAZY_LNK 2u

/*
 * Walk path (not following symlinks, in readdir order, pre-order with
 * directories seen again after their contents), naming entries from its
 * basename as qfile-agent sends them.  0 or -errno (a message printed,
 * prog: what: reason, unless the callback stopped it).
 */
int walk_tree(
    const char *prog, const char *path, unsigned lazy, walk_fn fn, void *ctx);

/* ---- walk.c: what qvm-copy checks before it sends ---- */

struct walk_totals {
	uint64_t bytes, entries;
	bool unsafe_names;   /* some name needs +allow-all-names */
	bool unsafe_links;   /* a symlink would point outside the copy */
	char first_bad[256]; /* the first such name, shown to the user */
};

/*
 * Walk path as pack_path would send it and add up entries (and sizes if
 * need_bytes; otherwise t->bytes stays 0 and files are not stat'ed);
 * note names Qubes' receiver refuses without --allow-all-names and
 * symlinks it would refuse.  0 or -errno (message printed).
 */
int walk_path(const char *prog, const char *path, bool ignore_symlinks,
    bool need_bytes, struct walk_totals *t);

#endif
