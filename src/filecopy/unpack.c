/*
 * unpack.c - the qubes.Filecopy receiver: reads another qube's stream and
 * creates its files beneath one directory.
 *
 * Everything read is hostile.  Headers, names and link targets pass
 * lib/proto/filecopy.c's validators before anything acts on them; every
 * path is resolved beneath the target with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), so neither a name nor a symlink the stream made
 * can lead outside; nothing existing is overwritten (O_EXCL, linkat,
 * RENAME_NOREPLACE); a file appears under its name only when complete.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "filecopy/crc.h"
#include "filecopy/filecopy.h"
#include "lib/io.h"
#include "lib/util.h"

#define RD_BUF_SIZE (256u * 1024u)
/* files of this size or more are checked against the free space and
 * for an existing name before their data is read */
#define SPACE_CHECK_MIN (1u << 20)
/*
 * A file's data is handed to the disk (writeback started, not waited
 * for) every this many bytes, so that the syncfs(2) at the end finds
 * little left to write: the disk works while the stream still comes.
 */
#define WRITEBACK_STEP (8u << 20)
/*
 * Started writeback is not yet durable: the data may sit in a volatile
 * cache below the page cache (a virtual disk's, in its host), which only
 * a flush empties, and the syncfs(2) at the end would flush all of it at
 * once and wait.  So every this many bytes an fdatasync is started
 * behind the stream, with Linux AIO (IOCB_CMD_FDSYNC: the kernel runs it
 * in a worker and this process waits for nothing), at most one at a
 * time, and the disk drains while the stream still comes; the syncfs
 * then finds little left (bench/run's filecopy figures show the effect
 * on the whole path).  AIO rather than a thread: one made
 * after confinement would need clone in the seccomp allowlist, one made
 * before it would stand outside Landlock's domain, and either would share
 * the parser's memory.  Where io_setup fails (no AIO in the kernel, the
 * host's aio-max-nr reached) only the syncfs flushes.
 */
#define FLUSH_STEP (32u << 20)

struct rd {
	int fd;
	unsigned char *buf;
	size_t pos, end;
	uint32_t crc;
	/* the file being written: bytes written, writeback started up to */
	uint64_t out_done, out_flushed;
	/* flushes behind: bytes since the last, the AIO context (0: none
	 * yet), one in flight, AIO unavailable */
	uint64_t since_flush;
	aio_context_t aio;
	bool aio_busy, aio_off;
};

struct ctx {
	struct rd rd;
	int target_fd;
	const struct unpack_opts *o;
	struct unpack_result *res;
	/* the last parent directory opened, kept for the next entries */
	char parent[FILECOPY_NAME_MAX + 1];
	int parent_fd;
	unsigned long tmp_seq;
	char name[FILECOPY_NAME_MAX + 1];
	char link[FILECOPY_LINK_MAX + 1];
};

/*
 * Start an fdatasync of fd in the background once FLUSH_STEP bytes have
 * been handed to writeback since the last one, unless the last one is
 * still going (then at a later step).  The AIO context is made at the
 * first; a file closed meanwhile stays referenced by its request.  Only
 * a hint, as writeback_behind: the syncfs at the end is the flush whose
 * result counts.
 */
static void
flush_behind(struct rd *r, int fd)
{
	struct iocb cb, *cbs[1] = {&cb};
	struct io_event ev;
	struct timespec now = {0, 0};

	if (r->aio_off || r->since_flush < FLUSH_STEP)
		return;
	if (r->aio == 0 && syscall(SYS_io_setup, 1, &r->aio) < 0) {
		r->aio = 0;
		r->aio_off = true;
		return;
	}
	if (r->aio_busy) {
		if (syscall(SYS_io_getevents, r->aio, 0, 1, &ev, &now) != 1)
			return;
		r->aio_busy = false;
	}
	memset(&cb, 0, sizeof(cb));
	cb.aio_fildes = (uint32_t)fd;
	cb.aio_lio_opcode = IOCB_CMD_FDSYNC;
	if (syscall(SYS_io_submit, r->aio, 1, cbs) == 1)
		r->aio_busy = true;
	r->since_flush = 0;
}

/* The AIO context, once its request (if any) has ended. */
static void
flush_end(struct rd *r)
{
	struct io_event ev;

	if (r->aio == 0)
		return;
	if (r->aio_busy)
		(void)syscall(SYS_io_getevents, r->aio, 1, 1, &ev, NULL);
	(void)syscall(SYS_io_destroy, r->aio);
	r->aio = 0;
	r->aio_busy = false;
}

/*
 * Start writeback of what fd has been written since the last time, once
 * that is WRITEBACK_STEP or more.  Only a hint: SYNC_FILE_RANGE_WRITE
 * waits for nothing, and a failure here is found again by the syncfs.
 */
static void
writeback_behind(struct rd *r, int fd)
{
	if (r->out_done - r->out_flushed < WRITEBACK_STEP)
		return;
	(void)sync_file_range(fd, (off_t)r->out_flushed,
	    (off_t)(r->out_done - r->out_flushed), SYNC_FILE_RANGE_WRITE);
	r->since_flush += r->out_done - r->out_flushed;
	r->out_flushed = r->out_done;
	flush_behind(r, fd);
}

/* Fill the buffer: bytes read, 0 at EOF, -errno. */
static ssize_t
rd_fill(struct rd *r)
{
	ssize_t n;

	r->pos = r->end = 0;
	do
		n = read(r->fd, r->buf, RD_BUF_SIZE);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	r->end = (size_t)n;
	return n;
}

/*
 * Take n bytes from the stream (CRC included): to dst, or if dst is NULL
 * to out_fd (file data).  at_eof is the error for a stream that ends
 * first.
 */
static int
rd_take(struct rd *r, void *dst, int out_fd, uint64_t n, int at_eof)
{
	unsigned char *d = dst;

	while (n > 0) {
		size_t k;

		if (r->pos == r->end) {
			ssize_t got = rd_fill(r);

			if (got < 0)
				return (int)got;
			if (got == 0)
				return at_eof;
		}
		k = r->end - r->pos;
		if (k > n)
			k = (size_t)n;
		r->crc = filecopy_crc32(r->crc, r->buf + r->pos, k);
		if (d != NULL) {
			memcpy(d, r->buf + r->pos, k);
			d += k;
		} else if (out_fd >= 0) {
			int e = io_write_file_all(out_fd, r->buf + r->pos, k);

			if (e < 0)
				return e;
			r->out_done += k;
			writeback_behind(r, out_fd);
		}
		r->pos += k;
		n -= k;
	}
	return 0;
}

/*
 * Open the directory rel (no leading or trailing '/', already checked)
 * beneath dirfd, never through a symlink, never leaving dirfd.
 */
static int
open_beneath(int dirfd, const char *rel)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
	        RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	char part[FILECOPY_NAME_MAX + 1];
	const char *s = rel;
	int cur = -1;

	if (fd >= 0)
		return (int)fd;
	if (errno == ELOOP || errno == EXDEV)
		return -ENOTDIR; /* a symlink or a mount point on the way */
	if (errno != ENOSYS)
		return -errno;
	/* before Linux 5.6: one component at a time, O_NOFOLLOW each */
	while (*s) {
		size_t n = strcspn(s, "/");
		int next;

		memcpy(part, s, n);
		part[n] = '\0';
		next = openat(cur < 0 ? dirfd : cur, part,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (next < 0) {
			int e = errno == ELOOP ? -ENOTDIR : -errno;

			close_fd(&cur);
			return e;
		}
		close_fd(&cur);
		cur = next;
		s += n;
		if (*s == '/')
			s++;
	}
	return cur;
}

/*
 * The directory an entry goes in, and the entry's last component.  The fd
 * belongs to ctx (do not close it).
 */
static int
parent_of(struct ctx *c, const char *name, const char **ret_last)
{
	const char *slash = strrchr(name, '/');
	size_t plen;
	int fd;

	if (slash == NULL) {
		*ret_last = name;
		return c->target_fd;
	}
	plen = (size_t)(slash - name);
	*ret_last = slash + 1;
	if (c->parent_fd >= 0 && strlen(c->parent) == plen &&
	    memcmp(c->parent, name, plen) == 0)
		return c->parent_fd;
	memcpy(c->parent, name, plen);
	c->parent[plen] = '\0';
	close_fd(&c->parent_fd);
	fd = open_beneath(c->target_fd, c->parent);
	if (fd < 0) {
		c->parent[0] = '\0';
		return fd;
	}
	c->parent_fd = fd;
	return fd;
}

/*
 * Every header counts toward the limit, whatever it turns out to make (a
 * directory sent again included), and the limit is checked before its
 * name is read: Qubes' unpacker counts so, and reports the name before.
 */
static int
count_entry(struct ctx *c)
{
	if (c->o->max_files && c->res->files >= c->o->max_files) {
		(void)fprintf(stderr,
		    "qfile-unpacker: more than %llu files: refused\n",
		    (unsigned long long)c->o->max_files);
		return -EDQUOT;
	}
	c->res->files++;
	return 0;
}

/* setuid and setgid bits never come from another qube */
static mode_t
safe_perm(uint32_t perm)
{
	return (mode_t)(perm & 07777u & ~(unsigned)(S_ISUID | S_ISGID));
}

/* The entry's times, and its permissions unless with_perm is false (a
 * file created with them already). */
static int
set_attrs_opt(int fd, const struct filecopy_entry *e, bool with_perm)
{
	struct timespec ts[2] = {
	    {.tv_sec = e->atime.sec, .tv_nsec = e->atime.nsec},
	    {.tv_sec = e->mtime.sec, .tv_nsec = e->mtime.nsec},
	};

	if ((with_perm && fchmod(fd, safe_perm(e->perm)) < 0) ||
	    futimens(fd, ts) < 0)
		return -errno;
	return 0;
}

static int
set_attrs(int fd, const struct filecopy_entry *e)
{
	return set_attrs_opt(fd, e, true);
}

static int
do_dir(struct ctx *c, const struct filecopy_entry *e)
{
	const char *last;
	int pfd = parent_of(c, c->name, &last), fd, r;

	if (pfd < 0)
		return pfd;
	if (mkdirat(pfd, last, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	/* seen before (its header after its contents), or already there */
	fd = open_beneath(pfd, last);
	if (fd < 0)
		return fd;
	r = set_attrs(fd, e);
	(void)close(fd);
	return r;
}

static int
do_symlink(struct ctx *c, const struct filecopy_entry *e)
{
	char untrusted_target[FILECOPY_LINK_MAX];
	const char *last;
	int pfd, r;

	/* cut inside the target: Qubes' code for a cut inside data */
	r = rd_take(
	    &c->rd, untrusted_target, -1, e->filelen, -(int)FILECOPY_LEGAL_EOF);
	if (r < 0)
		return r;
	r = proto_filecopy_link_parse(untrusted_target, (size_t)e->filelen,
	    c->name, c->o->allow_all_names, c->o->allow_unsafe_symlinks,
	    c->link);
	if (r < 0) {
		/* the reply names the refused target, as Qubes' does (the
		 * sender made it; it shows it sanitised) */
		size_t n = strnlen(untrusted_target, (size_t)e->filelen);

		n = n < FILECOPY_NAME_MAX ? n : FILECOPY_NAME_MAX;
		memcpy(c->res->last_name, untrusted_target, n);
		c->res->last_name[n] = '\0';
		return r;
	}
	pfd = parent_of(c, c->name, &last);
	if (pfd < 0)
		return pfd;
	if (symlinkat(c->link, pfd, last) < 0)
		return -errno;
	return 0;
}

/* The data of a file, from the stream into fd. */
static int
take_data(struct ctx *c, int fd, const struct filecopy_entry *e)
{
	int r;

	c->rd.out_done = c->rd.out_flushed = 0;
	r = rd_take(&c->rd, NULL, fd, e->filelen, -(int)FILECOPY_LEGAL_EOF);

	if (r == 0)
		c->res->bytes += e->filelen;
	return r;
}

static int
do_file(struct ctx *c, const struct filecopy_entry *e)
{
	const char *last;
	char tmp[64], fdname[16];
	struct stat st;
	int pfd, fd, r;

	pfd = parent_of(c, c->name, &last);
	if (pfd < 0)
		return pfd;
	/*
	 * An existing name is found now rather than after all the data of a
	 * large file; for a small one the link at the end finds it (EEXIST
	 * all the same), and the lookup is not made twice.
	 */
	if (e->filelen >= SPACE_CHECK_MIN &&
	    fstatat(pfd, last, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return -EEXIST;
	if (c->o->max_bytes && e->filelen > c->o->max_bytes - c->res->bytes) {
		(void)fprintf(stderr,
		    "qfile-unpacker: more than %llu bytes: refused\n",
		    (unsigned long long)c->o->max_bytes);
		return -EDQUOT;
	}
	if (e->filelen >= SPACE_CHECK_MIN) {
		struct statvfs sv;

		if (fstatvfs(pfd, &sv) == 0 &&
		    e->filelen / sv.f_frsize >= sv.f_bavail)
			return -ENOSPC;
	}
	/*
	 * Nameless until complete.  With umask 0 it is made with its
	 * permissions at once (it has no name, so nobody can open it by
	 * them meanwhile; this fd may write whatever they are).
	 */
	fd = c->o->proc_fd_dir >= 0 ?
	    openat(pfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC,
	        c->o->umask_zero ? safe_perm(e->perm) : 0600) :
	    -1;
	if (fd >= 0) {
		r = take_data(c, fd, e);
		if (r == 0)
			r = set_attrs_opt(fd, e, !c->o->umask_zero);
		if (r == 0) {
			(void)snprintf(fdname, sizeof(fdname), "%d", fd);
			if (linkat(c->o->proc_fd_dir, fdname, pfd, last,
			        AT_SYMLINK_FOLLOW) < 0)
				r = -errno;
		}
		(void)close(fd);
		return r;
	}
	/* no O_TMPFILE here: a hidden name, renamed when complete */
	(void)snprintf(tmp, sizeof(tmp), ".qfile-unpacker.%d.%lu.part",
	    (int)getpid(), ++c->tmp_seq);
	fd = openat(pfd, tmp,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = take_data(c, fd, e);
	if (r == 0)
		r = set_attrs(fd, e);
	(void)close(fd);
	if (r == 0 && renameat2(pfd, tmp, pfd, last, RENAME_NOREPLACE) < 0) {
		r = -errno;
		/* a file system without RENAME_NOREPLACE: link it instead */
		if (r == -EINVAL)
			r = linkat(pfd, tmp, pfd, last, 0) < 0 ? -errno : 0;
	}
	/* gone if renamed; otherwise linked, or a failure: drop it */
	(void)unlinkat(pfd, tmp, 0);
	return r;
}

static int
unpack_loop(struct ctx *c)
{
	for (;;) {
		struct filecopy_header untrusted_hdr;
		char untrusted_name[FILECOPY_NAME_MAX + 1];
		struct filecopy_entry e;
		int r;

		r = rd_take(&c->rd, &untrusted_hdr, -1, sizeof(untrusted_hdr),
		    -EREMOTEIO);
		if (r < 0)
			return r;
		r = proto_filecopy_header_parse(&untrusted_hdr, &e);
		if (r <= 0)
			return r; /* the end marker, or a bad header */
		if ((r = count_entry(c)) < 0)
			return r;
		/* cut inside the name: Qubes' code for a cut inside data,
		 * with no name in the reply */
		r = rd_take(&c->rd, untrusted_name, -1, e.namelen,
		    -(int)FILECOPY_LEGAL_EOF);
		if (r < 0) {
			c->res->last_name[0] = '\0';
			return r;
		}
		r = proto_filecopy_name_parse(
		    untrusted_name, e.namelen, c->o->allow_all_names, c->name);
		if (r < 0) {
			/* reported back to the sender, who made it */
			size_t n = strnlen(untrusted_name, e.namelen);

			n = n < FILECOPY_NAME_MAX ? n : FILECOPY_NAME_MAX;
			memcpy(c->res->last_name, untrusted_name, n);
			c->res->last_name[n] = '\0';
			return r;
		}
		memcpy(c->res->last_name, c->name, strlen(c->name) + 1);
		switch (e.type) {
		case FILECOPY_DIR:
			r = do_dir(c, &e);
			break;
		case FILECOPY_SYMLINK:
			r = do_symlink(c, &e);
			break;
		case FILECOPY_FILE:
			r = do_file(c, &e);
			break;
		}
		if (r < 0)
			return r;
	}
}

int
unpack_stream(int in_fd, int target_fd, const struct unpack_opts *o,
    struct unpack_result *res)
{
	struct ctx *c = calloc(1, sizeof(*c));
	int r;

	memset(res, 0, sizeof(*res));
	if (c == NULL)
		return -ENOMEM;
	c->rd.fd = in_fd;
	c->rd.crc = 0;
	c->rd.buf = malloc(RD_BUF_SIZE);
	c->target_fd = target_fd;
	c->o = o;
	c->res = res;
	c->parent_fd = -1;
	if (c->rd.buf == NULL) {
		free(c);
		return -ENOMEM;
	}
	r = unpack_loop(c);
	if (r == 0 && syncfs(target_fd) < 0)
		r = -errno;
	flush_end(&c->rd);
	res->error = r < 0 ? (uint32_t)-r : 0;
	res->crc = (uint32_t)c->rd.crc;
	close_fd(&c->parent_fd);
	free(c->rd.buf);
	free(c);
	return r;
}

int
unpack_send_result(int out_fd, const struct unpack_result *res)
{
	struct {
		struct filecopy_result r;
		struct filecopy_result_ext x;
	} __attribute__((packed)) h;
	size_t n = strlen(res->last_name);
	int r;

	memset(&h, 0, sizeof(h));
	h.r.error_code = res->error;
	h.r.crc32 = res->crc;
	h.x.last_namelen = (uint32_t)n;
	r = io_write_all(out_fd, &h, sizeof(h));
	if (r == 0)
		r = io_write_all(out_fd, res->last_name, n);
	return r;
}
