/*
 * idclaim.c - host-wide claims on qids.
 *
 * A qube's host ids come from its qid (sandbox_uid_base: a namespace
 * qube's user namespace maps that range, a VM qube's QEMU and vmux run as
 * its first id, a qrexec-daemon worker as its last).  A database gives
 * out each qid once, but every bulkheadd has its own database: two
 * instances on one host (--state-dir) would give their qid 2 the same
 * host ids, and a process of one could then signal or trace the other's
 * same-uid processes that run in the host's pid namespace (the vmux, the
 * qrexec worker), where nothing else keeps them apart.  So qids are
 * claimed host-wide, in a registry directory all instances share
 * (default /var/lib/bulkhead-ids): a qube gets a qid no other instance
 * holds, and a qube whose qid another instance holds (two state
 * directories made before the registry, or with different registries)
 * does not start.
 *
 * A claim is a symlink named by the qid whose target is "UUID STATEDIR":
 * symlinkat makes it whole in one call, so a crash leaves a claim or none,
 * never half of one, and nothing needs an fsync (a disposable's creation
 * claims a qid; an fsync there would cost milliseconds).  Replacing a
 * claim is a new symlink renamed over the old one.  All changes happen
 * under flock on the registry directory, so two instances never take
 * over the same stale claim.
 *
 * The host's users' subordinate ids (/etc/subuid, /etc/subgid) are ranges
 * in use too: a qid whose range meets one is not given out, and a qube
 * whose range meets one does not start (idclaim_subid_meets).
 *
 * Runs in bulkheadd (root).  Input: the registry's entries, made by other
 * bulkheadd instances (root, so trusted as much as the admin who runs
 * them, but read with bounds all the same): a claim that cannot be parsed
 * counts as held, never as free.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/db.h"
#include "daemon/idclaim.h"
#include "lib/io.h"
#include "lib/util.h"

/* how long a change waits for another instance's (each holds the lock
 * for a few system calls) */
#define IDCLAIM_LOCK_TRIES   1000
#define IDCLAIM_LOCK_WAIT_NS 2000000L

enum claim_kind {
	CLAIM_NONE,     /* no claim */
	CLAIM_OURS,     /* ours, for this uuid */
	CLAIM_OURS_OLD, /* ours, for a qube that is gone */
	CLAIM_OTHER,    /* another state directory's, which exists */
	CLAIM_ORPHAN,   /* another state directory's, which is gone */
	CLAIM_BAD,      /* unreadable: held */
};

int
idclaim_open(struct idclaim *ic, const char *registry, const char *state_dir)
{
	int fd;

	ic->dirfd = -1;
	if (realpath(state_dir, ic->state_dir) == NULL)
		return -errno;
	if (mkdir(registry, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = open(registry, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ic->dirfd = fd;
	return 0;
}

void
idclaim_close(struct idclaim *ic)
{
	if (ic->dirfd >= 0)
		(void)close(ic->dirfd);
	ic->dirfd = -1;
}

static int
lock(struct idclaim *ic)
{
	const struct timespec wait = {0, IDCLAIM_LOCK_WAIT_NS};
	int i;

	for (i = 0; i < IDCLAIM_LOCK_TRIES; i++) {
		if (flock(ic->dirfd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		(void)nanosleep(&wait, NULL);
	}
	return -EAGAIN;
}

static void
unlock(struct idclaim *ic)
{
	(void)flock(ic->dirfd, LOCK_UN);
}

int
idclaim_target_parse(
    const char *untrusted, size_t len, struct idclaim_target *ret)
{
	char uuid[IDCLAIM_UUID_LEN + 1];

	if (len < IDCLAIM_UUID_LEN + 2 ||
	    len >= IDCLAIM_UUID_LEN + 1 + PATH_MAX ||
	    memchr(untrusted, '\0', len) != NULL ||
	    untrusted[IDCLAIM_UUID_LEN] != ' ' ||
	    untrusted[IDCLAIM_UUID_LEN + 1] != '/')
		return -EBADMSG;
	memcpy(uuid, untrusted, IDCLAIM_UUID_LEN);
	uuid[IDCLAIM_UUID_LEN] = '\0';
	if (!str_uuid_valid(uuid))
		return -EBADMSG;
	memcpy(ret->uuid, uuid, sizeof(uuid));
	memcpy(ret->state_dir, untrusted + IDCLAIM_UUID_LEN + 1,
	    len - IDCLAIM_UUID_LEN - 1);
	ret->state_dir[len - IDCLAIM_UUID_LEN - 1] = '\0';
	return 0;
}

/* Whether a state directory still has its database (a bulkheadd's). */
static bool
state_dir_alive(const char *dir)
{
	char p[PATH_MAX + 16];
	struct stat st;

	if (str_printf(p, sizeof(p), "%s/qubes.db", dir) < 0)
		return true; /* cannot tell: held */
	return stat(p, &st) == 0 || errno != ENOENT;
}

/* What name's claim is to us (the lock held). */
static enum claim_kind
claim_read(struct idclaim *ic, const char *name, uint32_t qid, const char *uuid,
    idclaim_ours_fn ours, void *arg, struct idclaim_target *c)
{
	char untrusted[IDCLAIM_UUID_LEN + 1 + PATH_MAX + 1];
	ssize_t n = readlinkat(ic->dirfd, name, untrusted, sizeof(untrusted));

	(void)str_copy(c->state_dir, sizeof(c->state_dir), "?");
	if (n < 0)
		return errno == ENOENT ? CLAIM_NONE : CLAIM_BAD;
	if (idclaim_target_parse(untrusted, (size_t)n, c) < 0) {
		(void)str_copy(c->state_dir, sizeof(c->state_dir), "?");
		return CLAIM_BAD;
	}
	if (strcmp(c->state_dir, ic->state_dir) == 0) {
		if (uuid != NULL && strcmp(c->uuid, uuid) == 0)
			return CLAIM_OURS;
		return ours(arg, qid, c->uuid) ? CLAIM_OURS : CLAIM_OURS_OLD;
	}
	return state_dir_alive(c->state_dir) ? CLAIM_OTHER : CLAIM_ORPHAN;
}

static int
target_of(struct idclaim *ic, const char *uuid, char *out, size_t n)
{
	if (!str_uuid_valid(uuid))
		return -EINVAL;
	return str_printf(out, n, "%s %s", uuid, ic->state_dir);
}

int
idclaim_take(struct idclaim *ic, uint32_t qid, const char *uuid,
    idclaim_ours_fn ours, void *arg, char *ret_holder, size_t holder_len)
{
	char name[16], tmp[48], target[IDCLAIM_UUID_LEN + 1 + PATH_MAX];
	struct idclaim_target c;
	int r;

	if (qid == 0 || qid > DB_MAX_QID)
		return -EINVAL;
	if ((r = target_of(ic, uuid, target, sizeof(target))) < 0)
		return r;
	(void)snprintf(name, sizeof(name), "%u", qid);
	if ((r = lock(ic)) < 0)
		return r;
	if (symlinkat(target, ic->dirfd, name) == 0)
		goto out_unlock;
	if (errno != EEXIST) {
		r = -errno;
		goto out_unlock;
	}
	switch (claim_read(ic, name, qid, uuid, ours, arg, &c)) {
	case CLAIM_NONE: /* gone meanwhile: only a hand could do that */
	case CLAIM_OURS_OLD:
	case CLAIM_ORPHAN:
		break;
	case CLAIM_OURS:
		if (strcmp(c.uuid, uuid) == 0)
			goto out_unlock;
		/* our qid is another qube of ours: the caller's mistake */
		r = -EEXIST;
		goto out_unlock;
	case CLAIM_OTHER:
	case CLAIM_BAD:
		if (ret_holder != NULL)
			(void)str_copy(ret_holder, holder_len, c.state_dir);
		r = -EBUSY;
		goto out_unlock;
	}
	/* taken over: the new claim renamed over the stale one */
	(void)snprintf(tmp, sizeof(tmp), ".new-%u-%ld", qid, (long)getpid());
	(void)unlinkat(ic->dirfd, tmp, 0);
	if (symlinkat(target, ic->dirfd, tmp) < 0) {
		r = -errno;
		goto out_unlock;
	}
	if (renameat(ic->dirfd, tmp, ic->dirfd, name) < 0) {
		r = -errno;
		(void)unlinkat(ic->dirfd, tmp, 0);
	}
out_unlock:
	unlock(ic);
	return r;
}

/* For release: every claim of ours counts as old, then its uuid is
 * compared. */
static bool
never_ours(void *arg, uint32_t qid, const char *uuid)
{
	(void)arg, (void)qid, (void)uuid;
	return false;
}

void
idclaim_release(struct idclaim *ic, uint32_t qid, const char *uuid)
{
	char name[16];
	struct idclaim_target c;

	if (ic->dirfd < 0 || qid == 0 || qid > DB_MAX_QID)
		return;
	(void)snprintf(name, sizeof(name), "%u", qid);
	if (lock(ic) < 0)
		return;
	/* ours and for this uuid only */
	if (claim_read(ic, name, qid, "", never_ours, NULL, &c) ==
	        CLAIM_OURS_OLD &&
	    strcmp(c.uuid, uuid) == 0)
		(void)unlinkat(ic->dirfd, name, 0);
	unlock(ic);
}

int
idclaim_prune(struct idclaim *ic, idclaim_ours_fn ours, void *arg)
{
	struct dirent *e;
	DIR *dir;
	int fd, r, n = 0;

	if ((r = lock(ic)) < 0)
		return r;
	fd = openat(ic->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (dir = fdopendir(fd)) == NULL) {
		r = -errno;
		if (fd >= 0)
			(void)close(fd);
		unlock(ic);
		return r;
	}
	while ((e = readdir(dir)) != NULL) {
		struct idclaim_target c;
		char *end;
		unsigned long q;

		/* a take-over cut short (none runs: we hold the lock) */
		if (strncmp(e->d_name, ".new-", 5) == 0) {
			(void)unlinkat(ic->dirfd, e->d_name, 0);
			continue;
		}
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		errno = 0;
		q = strtoul(e->d_name, &end, 10);
		if (*end != '\0' || errno != 0 || q > DB_MAX_QID)
			continue;
		if (claim_read(ic, e->d_name, (uint32_t)q, NULL, ours, arg,
		        &c) == CLAIM_OURS_OLD &&
		    unlinkat(ic->dirfd, e->d_name, 0) == 0)
			n++;
	}
	(void)closedir(dir);
	unlock(ic);
	return n;
}

/* A decimal number of at most 10 digits, all of s (n bytes). */
static bool
subid_number(const char *s, size_t n, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 10)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*ret = v;
	return true;
}

/*
 * A user's name or uid as the files give it: printable, no space (no
 * user has another; what we say of it goes into logs and replies).
 */
static bool
subid_name(const char *p, const char *end)
{
	for (; p < end; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

int
idclaim_subid_text_meets(const char *text, size_t len, uint64_t first,
    uint64_t count, char *ret_who, size_t who_len)
{
	size_t at = 0;

	while (at < len) {
		const char *line = text + at, *nl, *c1, *c2;
		size_t n;
		uint64_t f, k;

		nl = memchr(line, '\n', len - at);
		n = nl != NULL ? (size_t)(nl - line) : len - at;
		at += n + 1;
		if (n == 0 || n > IDCLAIM_SUBID_LINE_MAX || line[0] == '#')
			continue;
		c1 = memchr(line, ':', n);
		if (c1 == NULL || c1 == line || !subid_name(line, c1))
			continue;
		c2 = memchr(c1 + 1, ':', n - (size_t)(c1 + 1 - line));
		if (c2 == NULL ||
		    !subid_number(c1 + 1, (size_t)(c2 - c1 - 1), &f) ||
		    !subid_number(c2 + 1, n - (size_t)(c2 + 1 - line), &k) ||
		    k == 0)
			continue;
		/* [f, f + k) and [first, first + count) meet */
		if (f < first + count && first < f + k) {
			if (ret_who != NULL && who_len > 0) {
				size_t w = (size_t)(c1 - line);

				if (w >= who_len)
					w = who_len - 1;
				memcpy(ret_who, line, w);
				ret_who[w] = '\0';
			}
			return 1;
		}
	}
	return 0;
}

int
idclaim_subid_meets(const char *files, uint64_t first, uint64_t count,
    char *ret_who, size_t who_len)
{
	char path[PATH_MAX], who[IDCLAIM_SUBID_LINE_MAX + 1];
	const char *p = files;

	while (*p != '\0') {
		size_t n = strcspn(p, ":");
		char *text = NULL;
		size_t len = 0;
		int fd, r;

		if (n == 0 || n >= sizeof(path)) {
			p += n + (p[n] == ':');
			continue;
		}
		memcpy(path, p, n);
		path[n] = '\0';
		p += n + (p[n] == ':');
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0)
			return -errno;
		r = io_read_to_eof(fd, IDCLAIM_SUBID_FILE_MAX, &text, &len);
		(void)close(fd);
		if (r < 0)
			return r;
		r = idclaim_subid_text_meets(
		    text, len, first, count, who, sizeof(who));
		free(text);
		if (r > 0) {
			if (ret_who != NULL)
				(void)snprintf(
				    ret_who, who_len, "%s in %s", who, path);
			return 1;
		}
	}
	return 0;
}
