/*
 * idclaim.h - host-wide claims on qids (idclaim.c), so that two bulkheadd
 * instances on one host never give two qubes the same host ids.
 *
 * Used by bulkheadd (root) only.
 */
#ifndef BULKHEAD_DAEMON_IDCLAIM_H
#define BULKHEAD_DAEMON_IDCLAIM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The registry bulkheadd uses unless --id-registry or the environment's
 * BULKHEAD_ID_REGISTRY names another. */
#define IDCLAIM_DEFAULT_REGISTRY "/var/lib/bulkhead-ids"
/* a claim's target: "UUID STATEDIR" (a uuid is 36 characters:
 * STR_UUID_LEN) */
#define IDCLAIM_UUID_LEN 36

struct idclaim {
	int dirfd; /* the registry directory, -1 when closed */
	/* our state directory, canonical: what our claims name */
	char state_dir[PATH_MAX];
};

/* What a claim says: whose qube it is, and which bulkheadd's. */
struct idclaim_target {
	char uuid[IDCLAIM_UUID_LEN + 1];
	char state_dir[PATH_MAX];
};

/*
 * Parse a claim's target (what readlink gave: len bytes, not
 * NUL-terminated): exactly a uuid, one space and an absolute path, no
 * NUL.  0 with *ret filled, or -EBADMSG (ret untouched).  Pure: the
 * registry's entries are written by other bulkheadds, read as hostile
 * all the same, and this is fuzzed (tests/fuzz/fuzz_idclaim.c).
 */
int idclaim_target_parse(
    const char *untrusted, size_t len, struct idclaim_target *ret);

/*
 * Whether our qube qid is the one with this uuid (the caller's database
 * says): a claim of ours for a qube that is gone may be taken again.
 */
typedef bool (*idclaim_ours_fn)(void *arg, uint32_t qid, const char *uuid);

/*
 * Open (making it if missing, 0700) the registry directory and remember
 * our state directory (which must exist).  0 or -errno; ic->dirfd is -1
 * on failure.
 */
int
idclaim_open(struct idclaim *ic, const char *registry, const char *state_dir);
void idclaim_close(struct idclaim *ic);

/*
 * Claim qid for our qube uuid.  0: it is ours (now, or it was already).
 * -EBUSY: a qube of another bulkheadd holds it; that bulkheadd's state
 * directory is copied to ret_holder (if not NULL), and nothing changes.
 * A claim whose state directory has no qubes.db any more, or ours for a
 * qube that ours() says is gone, is taken over.  A claim that cannot be
 * read counts as held (-EBUSY, holder "?").  -errno on other failures.
 */
int idclaim_take(struct idclaim *ic, uint32_t qid, const char *uuid,
    idclaim_ours_fn ours, void *arg, char *ret_holder, size_t holder_len);

/* Give up qid's claim if it is ours for uuid; anything else stays. */
void idclaim_release(struct idclaim *ic, uint32_t qid, const char *uuid);

/*
 * Remove every claim of ours whose qube ours() says is gone (a crash
 * between a claim and its qube's creation or removal).  The number
 * removed, or -errno.
 */
int idclaim_prune(struct idclaim *ic, idclaim_ours_fn ours, void *arg);

/*
 * /etc/subuid and /etc/subgid: the host ids the host gives its users for
 * their own user namespaces (rootless containers, unshare with newuidmap).
 * A user whose range meets a qube's could run processes as the qube's
 * ids in the host's pid namespace, and signal or trace the qube's.
 */
#define IDCLAIM_SUBID_FILES "/etc/subuid:/etc/subgid"
/* a line of those files: NAME:FIRST:COUNT, at most this long */
#define IDCLAIM_SUBID_LINE_MAX 512
/* the files read, at most this much each */
#define IDCLAIM_SUBID_FILE_MAX (4u << 20)

/*
 * Whether [first, first + count) meets a range of the text of a subuid or
 * subgid file (len bytes).  1 with the range's owner (the line's first
 * field) in ret_who, 0 if none; a line that is not NAME:FIRST:COUNT with
 * a printable NAME without spaces and decimal numbers is skipped (no
 * user's name matches it, so newuidmap grants it to nobody).
 */
int idclaim_subid_text_meets(const char *text, size_t len, uint64_t first,
    uint64_t count, char *ret_who, size_t who_len);

/*
 * The same for the files of files (':'-separated; a missing one is
 * empty).  1 with the owner and the file in ret_who ("NAME in FILE"), 0,
 * or -errno (a file that cannot be read, or is larger than
 * IDCLAIM_SUBID_FILE_MAX).
 */
int idclaim_subid_meets(const char *files, uint64_t first, uint64_t count,
    char *ret_who, size_t who_len);

#endif
