/*
 * test_idclaim.c - host-wide claims on qids (src/daemon/idclaim.c): two
 * state directories sharing a registry never hold one qid; a claim whose
 * state directory lost its database, or ours for a qube that is gone, is
 * taken over; one that cannot be read is never taken; release and prune
 * touch only our own stale claims; bad arguments are refused.  The host
 * users' subordinate ids (/etc/subuid, /etc/subgid): a range meets one
 * exactly when they share an id; malformed lines are skipped; a file too
 * big is an error.
 */
#include <sys/stat.h>
#include <sys/wait.h>

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

#include "daemon/db.h"
#include "daemon/idclaim.h"
#include "unit.h"

#define U1 "11111111-1111-4111-8111-111111111111"
#define U2 "22222222-2222-4222-8222-222222222222"
#define U3 "33333333-3333-4333-8333-333333333333"

struct fixture {
	char *dir, *reg, *sa, *sb;
	char real_a[PATH_MAX], real_b[PATH_MAX];
	struct idclaim a, b;
};

/* The "database" of the ours() callback: which uuid each qid has. */
struct qubes {
	const char *uuid[8];
};

static bool
ours(void *arg, uint32_t qid, const char *uuid)
{
	struct qubes *q = arg;

	return qid < 8 && q->uuid[qid] != NULL &&
	    strcmp(q->uuid[qid], uuid) == 0;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->dir = unit_tmpdir();
	f->reg = unit_path(f->dir, "ids");
	f->sa = unit_path(f->dir, "a");
	f->sb = unit_path(f->dir, "b");
	assert_int_equal(mkdir(f->sa, 0700), 0);
	assert_int_equal(mkdir(f->sb, 0700), 0);
	unit_write_file(f->sa, "qubes.db", "", 0600);
	unit_write_file(f->sb, "qubes.db", "", 0600);
	assert_non_null(realpath(f->sa, f->real_a));
	assert_non_null(realpath(f->sb, f->real_b));
	assert_int_equal(idclaim_open(&f->a, f->reg, f->sa), 0);
	assert_int_equal(idclaim_open(&f->b, f->reg, f->sb), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	idclaim_close(&f->a);
	idclaim_close(&f->b);
	assert_int_equal(f->a.dirfd, -1);
	free(f->reg);
	free(f->sa);
	free(f->sb);
	unit_rmtree(f->dir);
	free(f);
	return 0;
}

/* The target of the registry's claim on qid, or "" if none. */
static const char *
claim_of(struct fixture *f, uint32_t qid)
{
	static char buf[PATH_MAX + 64];
	char name[16];
	ssize_t n;

	(void)snprintf(name, sizeof(name), "%u", qid);
	n = readlinkat(f->a.dirfd, name, buf, sizeof(buf) - 1);
	if (n < 0) {
		assert_int_equal(errno, ENOENT);
		return "";
	}
	buf[n] = '\0';
	return buf;
}

static void
expect_claim(
    struct fixture *f, uint32_t qid, const char *uuid, const char *real_state)
{
	char want[PATH_MAX + 64];

	(void)snprintf(want, sizeof(want), "%s %s", uuid, real_state);
	assert_string_equal(claim_of(f, qid), want);
}

static void
test_two_instances(void **state)
{
	struct fixture *f = *state;
	struct qubes qa = {{NULL}}, qb = {{NULL}};
	char holder[PATH_MAX] = "";

	qa.uuid[2] = U1;
	/* a claims 2; claiming it again for the same qube changes nothing */
	assert_int_equal(idclaim_take(&f->a, 2, U1, ours, &qa, NULL, 0), 0);
	expect_claim(f, 2, U1, f->real_a);
	assert_int_equal(idclaim_take(&f->a, 2, U1, ours, &qa, NULL, 0), 0);
	expect_claim(f, 2, U1, f->real_a);
	/* b cannot have 2, and learns who holds it; 3 is free */
	assert_int_equal(
	    idclaim_take(&f->b, 2, U2, ours, &qb, holder, sizeof(holder)),
	    -EBUSY);
	assert_string_equal(holder, f->real_a);
	expect_claim(f, 2, U1, f->real_a);
	assert_int_equal(idclaim_take(&f->b, 3, U2, ours, &qb, NULL, 0), 0);
	expect_claim(f, 3, U2, f->real_b);
	/* a's release of 3 (b's) and of 2 for another uuid: nothing */
	idclaim_release(&f->a, 3, U2);
	idclaim_release(&f->a, 2, U3);
	expect_claim(f, 3, U2, f->real_b);
	expect_claim(f, 2, U1, f->real_a);
	/* a's release of its own: gone, and b may have it */
	idclaim_release(&f->a, 2, U1);
	assert_string_equal(claim_of(f, 2), "");
	assert_int_equal(idclaim_take(&f->b, 2, U3, ours, &qb, NULL, 0), 0);
	expect_claim(f, 2, U3, f->real_b);
}

static void
test_orphan_taken_over(void **state)
{
	struct fixture *f = *state;
	struct qubes qa = {{NULL}}, qb = {{NULL}};
	char *db = unit_path(f->sa, "qubes.db");

	qa.uuid[4] = U1;
	assert_int_equal(idclaim_take(&f->a, 4, U1, ours, &qa, NULL, 0), 0);
	assert_int_equal(
	    idclaim_take(&f->b, 4, U2, ours, &qb, NULL, 0), -EBUSY);
	/* a's state directory loses its database: its claims are stale */
	assert_int_equal(unlink(db), 0);
	assert_int_equal(idclaim_take(&f->b, 4, U2, ours, &qb, NULL, 0), 0);
	expect_claim(f, 4, U2, f->real_b);
	/* and a state directory that is gone altogether likewise */
	qb.uuid[4] = U2;
	unit_rmtree(f->sb);
	f->sb = unit_path(f->dir, "b");
	assert_int_equal(idclaim_take(&f->a, 4, U3, ours, &qa, NULL, 0), 0);
	expect_claim(f, 4, U3, f->real_a);
	free(db);
}

static void
test_ours_stale_or_alive(void **state)
{
	struct fixture *f = *state;
	struct qubes qa = {{NULL}};

	qa.uuid[5] = U1;
	assert_int_equal(idclaim_take(&f->a, 5, U1, ours, &qa, NULL, 0), 0);
	/* another qube of ours at qid 5 while U1 still has it: refused */
	assert_int_equal(
	    idclaim_take(&f->a, 5, U2, ours, &qa, NULL, 0), -EEXIST);
	expect_claim(f, 5, U1, f->real_a);
	/* U1 is gone from our database (a crash before its release) */
	qa.uuid[5] = NULL;
	assert_int_equal(idclaim_take(&f->a, 5, U2, ours, &qa, NULL, 0), 0);
	expect_claim(f, 5, U2, f->real_a);
}

static void
test_unreadable_is_held(void **state)
{
	struct fixture *f = *state;
	struct qubes qa = {{NULL}};
	char holder[PATH_MAX] = "";
	static const char *const bad[] = {
	    "garbage", U1,       /* no state directory */
	    U1 " relative/path", /* not absolute */
	    "11111111-1111-4111-8111-11111111111X /tmp", /* not a uuid */
	    "11111111_1111-4111-8111-111111111111 /tmp",
	    U1 "  /tmp", /* two spaces */
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(symlinkat(bad[i], f->a.dirfd, "6"), 0);
		assert_int_equal(idclaim_take(&f->a, 6, U1, ours, &qa, holder,
		                     sizeof(holder)),
		    -EBUSY);
		assert_string_equal(holder, "?");
		assert_string_equal(claim_of(f, 6), bad[i]);
		/* release and prune leave it too */
		idclaim_release(&f->a, 6, U1);
		assert_int_equal(idclaim_prune(&f->a, ours, &qa), 0);
		assert_string_equal(claim_of(f, 6), bad[i]);
		assert_int_equal(unlinkat(f->a.dirfd, "6", 0), 0);
	}
	/* a file, not a symlink: held as well */
	unit_write_file(f->reg, "6", U1 " /tmp", 0600);
	assert_int_equal(
	    idclaim_take(&f->a, 6, U1, ours, &qa, NULL, 0), -EBUSY);
}

static void
test_prune(void **state)
{
	struct fixture *f = *state;
	struct qubes qa = {{NULL}}, qb = {{NULL}};

	qa.uuid[1] = U1;
	qa.uuid[2] = U2;
	qb.uuid[3] = U3;
	assert_int_equal(idclaim_take(&f->a, 1, U1, ours, &qa, NULL, 0), 0);
	assert_int_equal(idclaim_take(&f->a, 2, U2, ours, &qa, NULL, 0), 0);
	assert_int_equal(idclaim_take(&f->b, 3, U3, ours, &qb, NULL, 0), 0);
	/* a take-over cut short, and something that is no claim */
	assert_int_equal(symlinkat("x", f->a.dirfd, ".new-7-1"), 0);
	unit_write_file(f->reg, "README", "hello", 0600);
	/* qube 2 of a is gone: its claim alone goes (b's 3 is not a's
	 * to judge, whatever a's database says of qid 3) */
	qa.uuid[2] = NULL;
	assert_int_equal(idclaim_prune(&f->a, ours, &qa), 1);
	expect_claim(f, 1, U1, f->real_a);
	assert_string_equal(claim_of(f, 2), "");
	expect_claim(f, 3, U3, f->real_b);
	{
		char t[8];

		assert_int_equal(
		    readlinkat(f->a.dirfd, ".new-7-1", t, sizeof(t)), -1);
		assert_int_equal(errno, ENOENT);
	}
	assert_int_equal(faccessat(f->a.dirfd, "README", F_OK, 0), 0);
	assert_int_equal(idclaim_prune(&f->a, ours, &qa), 0);
}

static void
test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	struct qubes qa = {{NULL}};
	struct idclaim c;

	assert_int_equal(
	    idclaim_take(&f->a, 0, U1, ours, &qa, NULL, 0), -EINVAL);
	assert_int_equal(
	    idclaim_take(&f->a, DB_MAX_QID + 1, U1, ours, &qa, NULL, 0),
	    -EINVAL);
	assert_int_equal(
	    idclaim_take(&f->a, DB_MAX_QID, U1, ours, &qa, NULL, 0), 0);
	assert_int_equal(
	    idclaim_take(&f->a, 3, "not-a-uuid", ours, &qa, NULL, 0), -EINVAL);
	assert_int_equal(
	    idclaim_take(&f->a, 3, U1 "0", ours, &qa, NULL, 0), -EINVAL);
	assert_string_equal(claim_of(f, 3), "");
	/* a state directory that does not exist; a registry whose parent
	 * does not */
	assert_int_equal(
	    idclaim_open(&c, f->reg, "/nonexistent/state"), -ENOENT);
	assert_int_equal(c.dirfd, -1);
	assert_int_equal(idclaim_open(&c, "/nonexistent/ids", f->sa), -ENOENT);
	assert_int_equal(c.dirfd, -1);
}

static void
test_subid_text(void **state)
{
	static const char text[] = "# a comment\n"
	                           "\n"
	                           "alice:100000:65536\n"
	                           "bob:1065536:65536\n"
	                           "broken:12x:5\n"
	                           "zero:2000000:0\n"
	                           "toolong:12345678901:1\n"
	                           "nocount:3000000:\n"
	                           ":4000000:10\n"
	                           "ev\til:6000000:10\n"
	                           "a b:7000000:10\n"
	                           "1001:5000000:100";
	static const struct {
		uint64_t first, count;
		const char *who; /* NULL: nothing meets */
	} cases[] = {
	    /* [1000000, 1065536): bob starts where it ends */
	    {1000000, 65536, NULL},
	    /* one id more meets bob's first */
	    {1000001, 65536, "bob"},
	    /* alice's last id, and the one after it */
	    {165535, 1, "alice"},
	    {165536, 1, NULL},
	    /* malformed lines are skipped, whatever they say */
	    {2000000, 1, NULL},
	    {3000000, 1, NULL},
	    {4000000, 1, NULL},
	    /* a name no user has: a control character, a space */
	    {6000000, 1, NULL},
	    {7000000, 1, NULL},
	};
	char who[16];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
		    idclaim_subid_text_meets(text, strlen(text), cases[i].first,
		        cases[i].count, who, sizeof(who)),
		    cases[i].who != NULL);
		if (cases[i].who != NULL)
			assert_string_equal(who, cases[i].who);
	}
	/* the last line, without a newline, by uid; a long name cut */
	assert_int_equal(
	    idclaim_subid_text_meets(text, strlen(text), 5000099, 1, who, 3),
	    1);
	assert_string_equal(who, "10");
	/* the text's length is what counts, not a NUL */
	assert_int_equal(idclaim_subid_text_meets(
	                     text, 20, 1000001, 65536, who, sizeof(who)),
	    0);
}

static void
test_subid_files(void **state)
{
	struct fixture *f = *state;
	char files[2 * PATH_MAX], who[PATH_MAX];
	char *uid = unit_path(f->dir, "subuid"),
	     *gid = unit_path(f->dir, "subgid");
	char *big;
	size_t n = IDCLAIM_SUBID_FILE_MAX + 2; /* one byte over, and a NUL */

	(void)snprintf(files, sizeof(files), "%s::%s", uid, gid);
	/* neither file exists: nothing meets */
	assert_int_equal(
	    idclaim_subid_meets(files, 1000000, 65536, who, sizeof(who)), 0);
	unit_write_file(f->dir, "subuid", "alice:100000:65536\n", 0644);
	unit_write_file(f->dir, "subgid", "carol:1131072:65536\n", 0644);
	assert_int_equal(
	    idclaim_subid_meets(files, 1000000, 131072, who, sizeof(who)), 0);
	assert_int_equal(
	    idclaim_subid_meets(files, 1065536, 65537, who, sizeof(who)), 1);
	assert_non_null(strstr(who, "carol in "));
	assert_non_null(strstr(who, "subgid"));
	/* a file too big to be one is an error, not "nothing meets" */
	big = malloc(n);
	assert_non_null(big);
	memset(big, '#', n);
	big[n - 1] = '\0';
	unit_write_file(f->dir, "subuid", big, 0644);
	assert_int_equal(
	    idclaim_subid_meets(files, 1000000, 65536, who, sizeof(who)),
	    -EMSGSIZE);
	free(big);
	free(uid);
	free(gid);
}

/* ours() for the race: every claim of ours is alive. */
static bool
all_ours(void *arg, uint32_t qid, const char *uuid)
{
	(void)arg, (void)qid, (void)uuid;
	return true;
}

/*
 * Two instances (two processes) claim the same 300 qids at once, each for
 * qubes of its own, where a third instance, whose state directory is gone,
 * left claims: every qid goes to exactly one of them (each take-over
 * reads and replaces a claim under flock; without it both could find the
 * same stale claim and both rename theirs over it).
 */
static void
test_race(void **state)
{
	struct fixture *f = *state;
	enum {
		N = 300
	};
	unsigned char got_a[N + 1] = {0}, got_b[N + 1] = {0};
	int p[2], status;
	uint32_t q;
	pid_t pid;

	for (q = 1; q <= N; q++) {
		char name[16];

		(void)snprintf(name, sizeof(name), "%u", q);
		assert_int_equal(
		    symlinkat(U3 " /nonexistent/state", f->a.dirfd, name), 0);
	}
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* b, from the other end, so that they meet in the middle */
		for (q = N; q >= 1; q--) {
			char u[IDCLAIM_UUID_LEN + 1];

			(void)snprintf(
			    u, sizeof(u), "00000000-0000-4000-8000-%012u", q);
			got_b[q] = idclaim_take(&f->b, q, u, all_ours, NULL,
			               NULL, 0) == 0;
		}
		_exit(
		    write(p[1], got_b, sizeof(got_b)) == sizeof(got_b) ? 0 : 1);
	}
	for (q = 1; q <= N; q++) {
		char u[IDCLAIM_UUID_LEN + 1];

		(void)snprintf(
		    u, sizeof(u), "11111111-0000-4000-8000-%012u", q);
		got_a[q] =
		    idclaim_take(&f->a, q, u, all_ours, NULL, NULL, 0) == 0;
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(read(p[0], got_b, sizeof(got_b)), sizeof(got_b));
	(void)close(p[0]);
	(void)close(p[1]);
	for (q = 1; q <= N; q++) {
		const char *c = claim_of(f, q);

		assert_int_equal(got_a[q] + got_b[q], 1);
		assert_non_null(strstr(c, got_a[q] ? f->real_a : f->real_b));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_two_instances, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_orphan_taken_over, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_ours_stale_or_alive, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_unreadable_is_held, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_bad_arguments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_race, setup, teardown),
	    cmocka_unit_test(test_subid_text),
	    cmocka_unit_test_setup_teardown(test_subid_files, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
