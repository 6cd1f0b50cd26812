/*
 * pack.c - the qubes.Filecopy sender: walks what it is given and writes
 * the stream (lib/proto/filecopy.h), then checks the receiver's reply.
 *
 * The reply comes from another qube: it is read with a bound and checked
 * by proto_filecopy_result_parse, and the name in it is shown only
 * sanitised.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filecopy/crc.h"
#include "filecopy/filecopy.h"
#include "lib/io.h"
#include "lib/util.h"

#define PACK_BUF_SIZE (256u * 1024u)
/* headers, names and small files are gathered into writes of this size */
#define PACK_OUT_SIZE (64u * 1024u)
#define REPLY_MAX                                                              \
	(sizeof(struct filecopy_result) + sizeof(struct filecopy_result_ext) + \
	    FILECOPY_REPLY_NAME_MAX)
/* how long the receiver has to answer once the stream has ended */
#define REPLY_TIMEOUT_MS  (10 * 60 * 1000)
#define PROGRESS_EVERY_MS 200

struct pack {
	int out_fd, in_fd;
	bool ignore_symlinks;
	uint32_t crc;
	struct pack_progress prog;
	pack_progress_fn progress;
	uint64_t last_progress;
	unsigned char *buf;
	unsigned char *out; /* PACK_OUT_SIZE, not yet written */
	size_t outlen;
	bool failed; /* the stream is broken: only the reply may be read */
	bool wrote;  /* bytes went out since the last look for a reply */
};

struct pack *
pack_new(int out_fd, int in_fd, bool ignore_symlinks, uint64_t total,
    pack_progress_fn progress)
{
	struct pack *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->buf = malloc(PACK_BUF_SIZE);
	p->out = malloc(PACK_OUT_SIZE);
	if (p->buf == NULL || p->out == NULL) {
		free(p->buf);
		free(p->out);
		free(p);
		return NULL;
	}
	p->out_fd = out_fd;
	p->in_fd = in_fd;
	p->ignore_symlinks = ignore_symlinks;
	p->crc = 0;
	p->prog.total = total;
	p->progress = progress;
	return p;
}

void
pack_free(struct pack *p)
{
	if (p == NULL)
		return;
	free(p->buf);
	free(p->out);
	free(p);
}

static void
progress(struct pack *p, bool last)
{
	uint64_t now;

	if (p->progress == NULL)
		return;
	now = now_ms();
	if (!last && now - p->last_progress < PROGRESS_EVERY_MS)
		return;
	p->last_progress = now;
	p->progress(&p->prog, last);
}

static const char *
error_text(uint32_t code, char *buf, size_t len)
{
	switch (code) {
	case EEXIST:
		return "a file of that name is already in the receiving "
		       "qube's incoming directory";
	case EINVAL:
		return "the receiver found the stream corrupt";
	case EILSEQ:
		return "a name with characters the receiver refuses (qvm-copy "
		       "sends such names with allow-all-names)";
	case ENOLINK:
		return "a symlink that could point outside the copy";
	case EDQUOT:
		return "the receiving qube's limit on files or bytes";
	case EREMOTEIO:
		return "the stream ended early";
	case FILECOPY_LEGAL_EOF:
		return "the stream ended inside an entry";
	default:
		if (code < 4096) {
			(void)snprintf(buf, len, "%s", strerror((int)code));
			return buf;
		}
		(void)snprintf(buf, len, "error %u", code);
		return buf;
	}
}

/*
 * Read the receiver's reply (until EOF, at most REPLY_MAX bytes, within
 * timeout_ms) and check it.  0 if it reports success and our CRC.
 */
static int
read_reply(struct pack *p, int timeout_ms)
{
	unsigned char *buf = malloc(REPLY_MAX + 1);
	char name[256], tmp[64];
	uint64_t deadline = io_deadline(timeout_ms), crc;
	uint32_t code;
	size_t len = 0;
	int r;

	if (buf == NULL)
		return -ENOMEM;
	for (;;) {
		struct pollfd pfd = {.fd = p->in_fd, .events = POLLIN};
		uint64_t now = now_ms();
		ssize_t n;

		if (now >= deadline) {
			(void)fprintf(stderr,
			    "qfile-agent: no reply from the receiver\n");
			r = -ETIMEDOUT;
			goto out;
		}
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r < 0 && errno != EINTR) {
			r = -errno;
			goto out;
		}
		if (r <= 0)
			continue;
		n = read(p->in_fd, buf + len, REPLY_MAX + 1 - len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0 && errno != ECONNRESET) {
			r = -errno;
			(void)fprintf(stderr,
			    "qfile-agent: reading the reply: %s\n",
			    strerror(errno));
			goto out;
		}
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len > REPLY_MAX)
			break;
		/* a reply is complete when its name has come */
		if (len >= sizeof(struct filecopy_result) +
		        sizeof(struct filecopy_result_ext)) {
			struct filecopy_result_ext x;

			memcpy(&x, buf + sizeof(struct filecopy_result),
			    sizeof(x));
			if (x.last_namelen <= FILECOPY_REPLY_NAME_MAX &&
			    len >= sizeof(struct filecopy_result) + sizeof(x) +
			            x.last_namelen)
				break;
		}
	}
	if (len == 0) {
		(void)fprintf(stderr,
		    "qfile-agent: the receiver went away without a reply\n");
		r = -EREMOTEIO;
		goto out;
	}
	if (proto_filecopy_result_parse(
	        buf, len, &code, &crc, name, sizeof(name)) < 0) {
		(void)fprintf(stderr,
		    "qfile-agent: a malformed reply from the "
		    "receiver\n");
		r = -EBADMSG;
		goto out;
	}
	if (code != 0) {
		(void)fprintf(stderr,
		    "qfile-agent: the copy failed at \"%s\": %s\n", name,
		    error_text(code, tmp, sizeof(tmp)));
		r = -EREMOTEIO;
		goto out;
	}
	if (crc != (uint32_t)p->crc) {
		(void)fprintf(stderr,
		    "qfile-agent: the copy failed: checksum mismatch\n");
		r = -EREMOTEIO;
		goto out;
	}
	r = 0;
out:
	free(buf);
	return r;
}

/*
 * Did the receiver answer already (it does only when it failed)?  Then
 * read and report it: -EREMOTEIO.
 */
static int
early_reply(struct pack *p)
{
	struct pollfd pfd = {.fd = p->in_fd, .events = POLLIN};

	/* nothing reached the receiver since the last look: nothing new
	 * it could have answered to (one call a small file saved) */
	if (!p->wrote)
		return 0;
	p->wrote = false;

	if (poll(&pfd, 1, 0) <= 0)
		return 0;
	p->failed = true;
	(void)read_reply(p, 5000);
	return -EREMOTEIO;
}

static int
write_out(struct pack *p, const void *data, size_t n)
{
	int r = io_write_all(p->out_fd, data, n);

	p->wrote = true;
	if (r < 0) {
		p->failed = true;
		/* the receiver stopped reading: its reply says why */
		if (r == -EPIPE || r == -ECONNRESET) {
			if (read_reply(p, 5000) == 0)
				(void)fprintf(stderr,
				    "qfile-agent: the receiver "
				    "stopped reading\n");
			return -EREMOTEIO;
		}
		(void)fprintf(
		    stderr, "qfile-agent: sending: %s\n", strerror(-r));
	}
	return r;
}

static int
flush_out(struct pack *p)
{
	int r = 0;

	if (p->outlen > 0)
		r = write_out(p, p->out, p->outlen);
	p->outlen = 0;
	return r;
}

/* Send (in the CRC now; gathered with what comes next if small). */
static int
send_bytes(struct pack *p, const void *data, size_t n)
{
	int r;

	p->crc = filecopy_crc32(p->crc, data, n);
	if (p->outlen + n <= PACK_OUT_SIZE) {
		memcpy(p->out + p->outlen, data, n);
		p->outlen += n;
		return 0;
	}
	if ((r = flush_out(p)) < 0)
		return r;
	if (n > PACK_OUT_SIZE / 2)
		return write_out(p, data, n);
	memcpy(p->out, data, n);
	p->outlen = n;
	return 0;
}

static int
send_header(
    struct pack *p, const char *name, const struct stat *st, uint64_t filelen)
{
	struct filecopy_header h;
	size_t n = strlen(name) + 1;
	int r;

	memset(&h, 0, sizeof(h));
	h.namelen = (uint32_t)n;
	h.mode = st->st_mode;
	h.filelen = filelen;
	/* the wire has 32-bit seconds, as Qubes' */
	h.atime = (uint32_t)st->st_atim.tv_sec;
	h.atime_nsec = (uint32_t)st->st_atim.tv_nsec;
	h.mtime = (uint32_t)st->st_mtim.tv_sec;
	h.mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	r = send_bytes(p, &h, sizeof(h));
	if (r == 0)
		r = send_bytes(p, name, n);
	return r;
}

static int
send_file(struct pack *p, int dirfd, const char *leaf, const char *name)
{
	struct stat st;
	uint64_t left;
	int fd, r;

	/* O_NONBLOCK: something swapped in for the file since readdir (a
	 * fifo) must not block the open; regular files ignore it */
	fd = openat(dirfd, leaf,
	    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		(void)fprintf(
		    stderr, "qfile-agent: %s: %s\n", name, strerror(-r));
		close_fd(&fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		/* replaced since the walk saw it: not ours to send */
		(void)close(fd);
		return 0;
	}
	/* read ahead further; a file read in one call needs no hint */
	if (st.st_size > (off_t)PACK_BUF_SIZE)
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r = send_header(p, name, &st, (uint64_t)st.st_size);
	left = (uint64_t)st.st_size;
	while (r == 0 && left > 0) {
		size_t want =
		    left < PACK_BUF_SIZE ? (size_t)left : PACK_BUF_SIZE;
		ssize_t n = read(fd, p->buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* the header promised st_size bytes: the stream is
			 * broken now, the copy must fail */
			r = n < 0 ? -errno : -EIO;
			(void)fprintf(stderr, "qfile-agent: %s: %s\n", name,
			    n < 0 ? strerror(errno) :
			            "it got shorter while being sent");
			p->failed = true;
			break;
		}
		r = send_bytes(p, p->buf, (size_t)n);
		left -= (uint64_t)n;
		p->prog.sent += (uint64_t)n;
		progress(p, false);
	}
	(void)close(fd);
	return r;
}

static int
pack_fn(void *arg, int dirfd, const char *leaf, const char *name,
    const struct stat *st, enum walk_when when)
{
	struct pack *p = arg;
	int r = 0;

	if (S_ISREG(st->st_mode)) {
		r = send_file(p, dirfd, leaf, name);
	} else if (S_ISDIR(st->st_mode)) {
		r = send_header(p, name, st, 0);
	} else if (S_ISLNK(st->st_mode)) {
		char target[FILECOPY_LINK_MAX + 1];
		ssize_t n;

		if (p->ignore_symlinks)
			return 0;
		n = readlinkat(dirfd, leaf, target, sizeof(target));
		if (n < 0 || (size_t)n > FILECOPY_LINK_MAX) {
			r = n < 0 ? -errno : -ENAMETOOLONG;
			(void)fprintf(stderr, "qfile-agent: %s: %s\n", name,
			    strerror(-r));
			return r;
		}
		r = send_header(p, name, st, (uint64_t)n);
		if (r == 0)
			r = send_bytes(p, target, (size_t)n);
	} else {
		return 0; /* FIFOs, sockets, devices: not sent (Qubes' too) */
	}
	(void)when;
	if (r == 0)
		r = early_reply(p);
	return r;
}

int
pack_path(struct pack *p, const char *path)
{
	if (p->failed)
		return -EIO;
	/* send_file stats what it opened: the walk need not stat files */
	return walk_tree("qfile-agent", path, WALK_LAZY_REG, pack_fn, p);
}

int
pack_finish(struct pack *p)
{
	struct filecopy_header end;
	int r;

	if (p->failed)
		return -EIO;
	memset(&end, 0, sizeof(end));
	r = send_bytes(p, &end, sizeof(end));
	if (r == 0)
		r = flush_out(p);
	if (r < 0)
		return r;
	progress(p, true);
	return read_reply(p, REPLY_TIMEOUT_MS);
}
