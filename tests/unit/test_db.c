/*
 * test_db.c - the qube database's kept statements (src/daemon/db.c):
 * statements are compiled once and reused, whether their text is a
 * literal or built with snprintf; a statement in use is not handed out
 * twice (a foreach callback running the same query gets its own, with the
 * right rows); a lazy transaction still leaves synchronous=FULL behind,
 * the first time and when its statements come from the cache; closing
 * finalizes every kept statement (the connection closes: nothing is left
 * for the leak checker).  A lazy transaction runs at synchronous=NORMAL
 * and leaves FULL behind, every time (its PRAGMAs are never kept: SQLite
 * may apply one when it compiles it, not when it runs).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/db.h"
#include "unit.h"

struct fixture {
	char *dir;
	struct db db;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char *path, err[256];

	assert_non_null(f);
	f->dir = unit_tmpdir();
	path = unit_path(f->dir, "qubes.db");
	assert_int_equal(db_open(&f->db, path, err, sizeof(err)), 0);
	free(path);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	db_close(&f->db);
	assert_null(f->db.h);
	unit_rmtree(f->dir);
	free(f);
	return 0;
}

/* Statements compiled on the connection now. */
static int
statements(struct db *db)
{
	sqlite3_stmt *st = NULL;
	int n = 0;

	while ((st = sqlite3_next_stmt(db->h, st)) != NULL)
		n++;
	return n;
}

static void
test_statements_are_kept(void **state)
{
	struct fixture *f = *state;
	char *v = NULL;
	int n, i;

	assert_int_equal(db_kv_set(&f->db, DB_GLOBAL, 0, "k", "v1"), 0);
	/* db_kv_get's text is built with snprintf: found by text */
	assert_int_equal(db_kv_get(&f->db, DB_GLOBAL, 0, "k", &v), 1);
	assert_string_equal(v, "v1");
	free(v);
	n = statements(&f->db);
	for (i = 0; i < 20; i++) {
		assert_int_equal(db_kv_get(&f->db, DB_GLOBAL, 0, "k", &v), 1);
		assert_string_equal(v, "v1");
		free(v);
		assert_int_equal(
		    db_kv_get(&f->db, DB_GLOBAL, 0, "nope", &v), 0);
	}
	assert_int_equal(statements(&f->db), n);
	/* a kept statement sees changes made since it was compiled */
	assert_int_equal(db_kv_set(&f->db, DB_GLOBAL, 0, "k", "v2"), 0);
	assert_int_equal(db_kv_get(&f->db, DB_GLOBAL, 0, "k", &v), 1);
	assert_string_equal(v, "v2");
	free(v);
	/* and its bindings were cleared: the other table, the other key */
	assert_int_equal(db_kv_set(&f->db, DB_PROPS, 0, "k", "dom0's"), 0);
	assert_int_equal(db_kv_get(&f->db, DB_PROPS, 0, "k", &v), 1);
	assert_string_equal(v, "dom0's");
	free(v);
}

struct nest {
	struct db *db;
	int outer, inner;
	char seen[256];
};

static int
count_inner(const char *key, const char *value, void *arg)
{
	struct nest *n = arg;

	n->inner++;
	return 0;
}

static int
nested(const char *key, const char *value, void *arg)
{
	struct nest *n = arg;
	size_t len = strlen(n->seen);

	n->outer++;
	(void)snprintf(
	    n->seen + len, sizeof(n->seen) - len, "%s=%s ", key, value);
	/* the same query while the outer one is still stepping */
	return db_kv_foreach(n->db, DB_GLOBAL, 0, count_inner, n);
}

static void
test_a_statement_in_use_is_not_shared(void **state)
{
	struct fixture *f = *state;
	struct nest n = {.db = &f->db};

	assert_int_equal(db_kv_set(&f->db, DB_GLOBAL, 0, "a", "1"), 0);
	assert_int_equal(db_kv_set(&f->db, DB_GLOBAL, 0, "b", "2"), 0);
	assert_int_equal(db_kv_set(&f->db, DB_GLOBAL, 0, "c", "3"), 0);
	assert_int_equal(db_kv_foreach(&f->db, DB_GLOBAL, 0, nested, &n), 0);
	assert_int_equal(n.outer, 3);
	assert_int_equal(n.inner, 9);
	assert_string_equal(n.seen, "a=1 b=2 c=3 ");
	/* again, now that both are kept */
	memset(n.seen, 0, sizeof(n.seen));
	n.outer = n.inner = 0;
	assert_int_equal(db_kv_foreach(&f->db, DB_GLOBAL, 0, nested, &n), 0);
	assert_int_equal(n.outer, 3);
	assert_int_equal(n.inner, 9);
	assert_string_equal(n.seen, "a=1 b=2 c=3 ");
}

static int
synchronous(struct db *db)
{
	sqlite3_stmt *st;
	int v = -1;

	assert_int_equal(
	    sqlite3_prepare_v2(db->h, "PRAGMA synchronous", -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void
test_lazy_transactions_restore_full(void **state)
{
	struct fixture *f = *state;
	char key[16];
	int i;

	assert_int_equal(synchronous(&f->db), 2); /* FULL */
	for (i = 0; i < 3; i++) {
		(void)snprintf(key, sizeof(key), "lazy%d", i);
		assert_int_equal(db_begin_lazy(&f->db), 0);
		assert_int_equal(synchronous(&f->db), 1); /* NORMAL */
		assert_int_equal(db_kv_set(&f->db, DB_GLOBAL, 0, key, "x"), 0);
		assert_int_equal(db_commit(&f->db), 0);
		assert_int_equal(synchronous(&f->db), 2);
		/* and a plain one in between */
		assert_int_equal(db_begin(&f->db), 0);
		assert_int_equal(db_kv_del(&f->db, DB_GLOBAL, 0, key), 1);
		db_rollback(&f->db);
		assert_int_equal(synchronous(&f->db), 2);
	}
}

static void
test_close_finalizes_everything(void **state)
{
	struct fixture *f = *state;
	char *v = NULL;

	assert_int_equal(db_kv_set(&f->db, DB_FEATURES, 0, "f", "1"), 0);
	assert_int_equal(db_kv_get(&f->db, DB_FEATURES, 0, "f", &v), 1);
	free(v);
	assert_true(statements(&f->db) > 0);
	/* teardown's db_close must leave the connection closed (h NULL,
	 * and the sanitizer's leak check quiet) */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_statements_are_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_statement_in_use_is_not_shared, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_lazy_transactions_restore_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_close_finalizes_everything, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
