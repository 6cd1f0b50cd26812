/*
 * db.c - the qube database (SQLite), used only by bulkheadd's main
 * process (root).  Values stored here were validated by the Admin API
 * layer (api.c) before they arrive; all SQL uses bound parameters.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/db.h"
#include "lib/log.h"
#include "lib/util.h"

/* The schema, one step a version; each step runs in one transaction. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE labels ("
    "  idx INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  color TEXT NOT NULL);"
    "CREATE TABLE qubes ("
    "  qid INTEGER PRIMARY KEY CHECK (qid >= 0 AND qid <= 10000),"
    "  name TEXT NOT NULL UNIQUE,"
    "  uuid TEXT NOT NULL UNIQUE,"
    "  class TEXT NOT NULL);"
    "CREATE TABLE props ("
    "  qid INTEGER NOT NULL REFERENCES qubes(qid) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (qid, name));"
    "CREATE INDEX props_by_value ON props (name, value);"
    "CREATE TABLE features ("
    "  qid INTEGER NOT NULL REFERENCES qubes(qid) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (qid, name));"
    "CREATE TABLE tags ("
    "  qid INTEGER NOT NULL REFERENCES qubes(qid) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  PRIMARY KEY (qid, name));"
    "CREATE TABLE global_props ("
    "  name TEXT PRIMARY KEY,"
    "  value TEXT NOT NULL);"
    /* the 8 default labels, with Qubes' colours and indices */
    "INSERT INTO labels VALUES (1, 'red', '0xcc0000'), (2, 'orange',"
    " '0xf57900'), (3, 'yellow', '0xedd400'), (4, 'green', '0x73d216'),"
    " (5, 'gray', '0x555555'), (6, 'blue', '0x3465a4'), (7, 'purple',"
    " '0x75507b'), (8, 'black', '0x000000');"
    /* the admin domain itself */
    "INSERT INTO qubes VALUES (0, 'dom0',"
    " '00000000-0000-0000-0000-000000000000', 'AdminVM');"
    "INSERT INTO props VALUES (0, 'label', 'black');",
    /* 1 -> 2: Qubes 4.3's qube notes (admin.vm.notes.*) */
    "CREATE TABLE notes ("
    "  qid INTEGER NOT NULL REFERENCES qubes(qid) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (qid, name));",
};
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == DB_SCHEMA_VERSION,
    "one migration a schema version");

static int
db_err(struct db *db, const char *what)
{
	log_warnx("database: %s: %s", what, sqlite3_errmsg(db->h));
	return -EIO;
}

static int
exec_sql(struct db *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_warnx("database: %s", msg ? msg : "error");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

/*
 * A statement for sql, ready to bind and step; give it back with done().
 * bulkheadd runs the same few dozen statements over and over (~50 for a
 * qube's start and stop, counted), and compiling one costs more than
 * running it, so they are kept: looked up by their text (some are built
 * with snprintf, so never by pointer), and one in use is not handed out
 * again (a *_foreach callback may run the same statement): it gets a
 * fresh one, kept if a slot is free, finalized by done() otherwise.
 */
static int
prep(struct db *db, const char *sql, sqlite3_stmt **st)
{
	size_t i, free_slot = DB_STMT_CACHE;

	for (i = 0; i < DB_STMT_CACHE; i++) {
		if (db->cache[i].st == NULL) {
			if (free_slot == DB_STMT_CACHE)
				free_slot = i;
		} else if (!db->cache[i].busy &&
		    strcmp(sqlite3_sql(db->cache[i].st), sql) == 0) {
			db->cache[i].busy = true;
			*st = db->cache[i].st;
			return 0;
		}
	}
	if (sqlite3_prepare_v3(db->h, sql, -1,
	        free_slot < DB_STMT_CACHE ? SQLITE_PREPARE_PERSISTENT : 0, st,
	        NULL) != SQLITE_OK)
		return db_err(db, "prepare");
	if (free_slot < DB_STMT_CACHE) {
		db->cache[free_slot].st = *st;
		db->cache[free_slot].busy = true;
	}
	return 0;
}

/* prep()'s statement back: reset for its next use, or finalized. */
static void
done(struct db *db, sqlite3_stmt *st)
{
	size_t i;

	for (i = 0; i < DB_STMT_CACHE; i++)
		if (db->cache[i].st == st) {
			/* its result was the step's, already seen */
			(void)sqlite3_reset(st);
			(void)sqlite3_clear_bindings(st);
			db->cache[i].busy = false;
			return;
		}
	sqlite3_finalize(st);
}

/*
 * One statement without results (BEGIN, COMMIT, ROLLBACK), through the
 * cache.  Never a PRAGMA: SQLite runs some of them (synchronous among
 * them) when it compiles the statement, so a kept one would do nothing
 * the next time; those go through exec_sql().  prep() callers run only
 * SELECT, INSERT and DELETE.
 */
static int
run1(struct db *db, const char *sql)
{
	sqlite3_stmt *st;
	int s, r;

	r = prep(db, sql, &st);
	if (r < 0)
		return r;
	while ((s = sqlite3_step(st)) == SQLITE_ROW)
		;
	r = s == SQLITE_DONE ? 0 : db_err(db, sql);
	done(db, st);
	return r;
}

static int
user_version(struct db *db, int *ret)
{
	sqlite3_stmt *st;
	int r = -EIO;

	if (sqlite3_prepare_v2(db->h, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return db_err(db, "user_version");
	if (sqlite3_step(st) == SQLITE_ROW) {
		*ret = sqlite3_column_int(st, 0);
		r = 0;
	}
	sqlite3_finalize(st);
	return r;
}

int
db_open(struct db *db, const char *path, char *err, size_t errlen)
{
	int v, r;

	memset(db, 0, sizeof(*db));
	if (sqlite3_open_v2(path, &db->h,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	            SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK) {
		(void)snprintf(err, errlen, "%s: %s", path,
		    db->h ? sqlite3_errmsg(db->h) : "cannot open");
		db_close(db);
		return -EIO;
	}
	(void)sqlite3_busy_timeout(db->h, 5000);
	/*
	 * WAL: readers never block the writer; synchronous=FULL: a commit is
	 * on disk when it returns (a crash after "0\0" keeps the change).
	 */
	if (exec_sql(db,
	        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	        "PRAGMA foreign_keys=ON;") < 0 ||
	    user_version(db, &v) < 0) {
		(void)snprintf(
		    err, errlen, "%s: %s", path, sqlite3_errmsg(db->h));
		db_close(db);
		return -EIO;
	}
	if (v > DB_SCHEMA_VERSION) {
		(void)snprintf(err, errlen,
		    "%s: schema version %d is newer than "
		    "this bulkheadd (%d)",
		    path, v, DB_SCHEMA_VERSION);
		db_close(db);
		return -EPROTO;
	}
	for (; v < DB_SCHEMA_VERSION; v++) {
		char sql[64];

		r = exec_sql(db, "BEGIN IMMEDIATE");
		if (r == 0)
			r = exec_sql(db, migrations[v]);
		(void)snprintf(
		    sql, sizeof(sql), "PRAGMA user_version=%d", v + 1);
		if (r == 0)
			r = exec_sql(db, sql);
		if (r == 0)
			r = exec_sql(db, "COMMIT");
		if (r < 0) {
			(void)exec_sql(db, "ROLLBACK");
			(void)snprintf(err, errlen,
			    "%s: migrating to schema %d "
			    "failed",
			    path, v + 1);
			db_close(db);
			return r;
		}
		log_info("database %s: schema version %d", path, v + 1);
	}
	return 0;
}

void
db_close(struct db *db)
{
	size_t i;

	for (i = 0; i < DB_STMT_CACHE; i++) {
		if (db->cache[i].st != NULL)
			sqlite3_finalize(db->cache[i].st);
		db->cache[i].st = NULL;
		db->cache[i].busy = false;
	}
	if (db->h)
		(void)sqlite3_close(db->h);
	db->h = NULL;
}

int
db_begin(struct db *db)
{
	int r = run1(db, "BEGIN IMMEDIATE");

	if (r == 0)
		db->in_tx = 1;
	return r;
}

/*
 * In WAL mode synchronous=NORMAL skips the fsync of the log at commit
 * (a checkpoint syncs it later); the commit stays atomic.  A disposable's
 * create and remove each waited for it (0.5-15 ms here).
 */
int
db_begin_lazy(struct db *db)
{
	int r;

	if (exec_sql(db, "PRAGMA synchronous=NORMAL") < 0)
		return db_begin(db);
	db->lazy = true;
	r = db_begin(db);
	if (r < 0)
		db_rollback(db);
	return r;
}

/* After a lazy transaction: every other commit waits for the disk again. */
static void
end_lazy(struct db *db)
{
	if (!db->lazy)
		return;
	db->lazy = false;
	if (exec_sql(db, "PRAGMA synchronous=FULL") < 0)
		log_warnx("database: cannot restore synchronous=FULL");
}

int
db_commit(struct db *db)
{
	int r = run1(db, "COMMIT");

	if (r < 0)
		db_rollback(db);
	db->in_tx = 0;
	end_lazy(db);
	return r;
}

void
db_rollback(struct db *db)
{
	if (db->in_tx)
		(void)run1(db, "ROLLBACK");
	db->in_tx = 0;
	end_lazy(db);
}

static void
copy_col(char *dst, size_t n, sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	(void)str_copy(dst, n, s ? (const char *)s : "");
}

static void
row_qube(sqlite3_stmt *st, struct db_qube *q)
{
	q->qid = (uint32_t)sqlite3_column_int(st, 0);
	copy_col(q->name, sizeof(q->name), st, 1);
	copy_col(q->uuid, sizeof(q->uuid), st, 2);
	copy_col(q->klass, sizeof(q->klass), st, 3);
}

int
db_qube_foreach(
    struct db *db, int (*fn)(const struct db_qube *q, void *arg), void *arg)
{
	sqlite3_stmt *st;
	struct db_qube q;
	int r, s;

	r = prep(
	    db, "SELECT qid, name, uuid, class FROM qubes ORDER BY name", &st);
	if (r < 0)
		return r;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		row_qube(st, &q);
		r = fn(&q, arg);
		if (r < 0)
			break;
	}
	if (s != SQLITE_ROW && s != SQLITE_DONE)
		r = db_err(db, "qubes");
	done(db, st);
	return r < 0 ? r : 0;
}

static int
qube_by(struct db *db, const char *sql, const char *s, uint32_t qid,
    struct db_qube *ret)
{
	sqlite3_stmt *st;
	int r;

	r = prep(db, sql, &st);
	if (r < 0)
		return r;
	if (s)
		(void)sqlite3_bind_text(st, 1, s, -1, SQLITE_TRANSIENT);
	else
		(void)sqlite3_bind_int(st, 1, (int)qid);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		row_qube(st, ret);
		r = 0;
	} else {
		r = r == SQLITE_DONE ? -ENOENT : db_err(db, "qube");
	}
	done(db, st);
	return r;
}

int
db_qube_by_name(struct db *db, const char *name, struct db_qube *ret)
{
	return qube_by(db,
	    "SELECT qid, name, uuid, class FROM qubes WHERE name = ?", name, 0,
	    ret);
}

int
db_qube_by_qid(struct db *db, uint32_t qid, struct db_qube *ret)
{
	return qube_by(db,
	    "SELECT qid, name, uuid, class FROM qubes WHERE qid = ?", NULL, qid,
	    ret);
}

static int
step_done(struct db *db, sqlite3_stmt *st, const char *what)
{
	int s = sqlite3_step(st), r;

	if (s == SQLITE_DONE)
		r = 0;
	else if (s == SQLITE_CONSTRAINT)
		r = -EEXIST;
	else
		r = db_err(db, what);
	done(db, st);
	return r;
}

int
db_qube_add(struct db *db, const struct db_qube *q)
{
	sqlite3_stmt *st;
	int r;

	r = prep(db,
	    "INSERT INTO qubes (qid, name, uuid, class) "
	    "VALUES (?, ?, ?, ?)",
	    &st);
	if (r < 0)
		return r;
	(void)sqlite3_bind_int(st, 1, (int)q->qid);
	(void)sqlite3_bind_text(st, 2, q->name, -1, SQLITE_TRANSIENT);
	(void)sqlite3_bind_text(st, 3, q->uuid, -1, SQLITE_TRANSIENT);
	(void)sqlite3_bind_text(st, 4, q->klass, -1, SQLITE_TRANSIENT);
	return step_done(db, st, "add qube");
}

int
db_qube_remove(struct db *db, uint32_t qid)
{
	sqlite3_stmt *st;
	int r;

	r = prep(db, "DELETE FROM qubes WHERE qid = ?", &st);
	if (r < 0)
		return r;
	(void)sqlite3_bind_int(st, 1, (int)qid);
	r = step_done(db, st, "remove qube");
	if (r == 0 && sqlite3_changes(db->h) == 0)
		r = -ENOENT;
	return r;
}

int
db_qid_free(struct db *db, uint32_t from, uint32_t *ret_qid)
{
	sqlite3_stmt *st;
	uint32_t want = from > 1 ? from : 1;
	int r, s;

	if (want > DB_MAX_QID)
		return -ENOSPC;
	r = prep(db, "SELECT qid FROM qubes WHERE qid >= ? ORDER BY qid", &st);
	if (r < 0)
		return r;
	(void)sqlite3_bind_int(st, 1, (int)want);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		uint32_t q = (uint32_t)sqlite3_column_int(st, 0);

		if (q != want)
			break;
		want++;
	}
	done(db, st);
	if (want > DB_MAX_QID)
		return -ENOSPC;
	*ret_qid = want;
	return 0;
}

int
db_prop_refs(
    struct db *db, const char *name, const char *value, uint32_t *ret_qid)
{
	sqlite3_stmt *st;
	int r;

	r = prep(db,
	    "SELECT qid FROM props WHERE name = ? AND value = ? "
	    "LIMIT 1",
	    &st);
	if (r < 0)
		return r;
	(void)sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	(void)sqlite3_bind_text(st, 2, value, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		if (ret_qid)
			*ret_qid = (uint32_t)sqlite3_column_int(st, 0);
		r = 1;
	} else {
		r = r == SQLITE_DONE ? 0 : db_err(db, "references");
	}
	done(db, st);
	return r;
}

static const char *const kv_table[DB_KV_MAX] = {
    "props", "features", "global_props", "notes"};

int
db_kv_get(
    struct db *db, enum db_kv t, uint32_t qid, const char *key, char **ret)
{
	char sql[128];
	sqlite3_stmt *st;
	int r;

	(void)snprintf(sql, sizeof(sql),
	    t == DB_GLOBAL ?
	        "SELECT value FROM %s WHERE name = ?1" :
	        "SELECT value FROM %s WHERE name = ?1 AND qid = ?2",
	    kv_table[t]);
	r = prep(db, sql, &st);
	if (r < 0)
		return r;
	(void)sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	if (t != DB_GLOBAL)
		(void)sqlite3_bind_int(st, 2, (int)qid);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);

		*ret = strdup(v ? (const char *)v : "");
		r = *ret ? 1 : -ENOMEM;
	} else {
		r = r == SQLITE_DONE ? 0 : db_err(db, "get");
	}
	done(db, st);
	return r;
}

int
db_kv_set(struct db *db, enum db_kv t, uint32_t qid, const char *key,
    const char *value)
{
	char sql[160];
	sqlite3_stmt *st;
	int r;

	(void)snprintf(sql, sizeof(sql),
	    t == DB_GLOBAL ? "INSERT OR REPLACE INTO %s (name, value) "
	                     "VALUES (?1, ?3)" :
	                     "INSERT OR REPLACE INTO %s (name, qid, value) "
	                     "VALUES (?1, ?2, ?3)",
	    kv_table[t]);
	r = prep(db, sql, &st);
	if (r < 0)
		return r;
	(void)sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	if (t != DB_GLOBAL)
		(void)sqlite3_bind_int(st, 2, (int)qid);
	(void)sqlite3_bind_text(st, 3, value, -1, SQLITE_TRANSIENT);
	return step_done(db, st, "set");
}

int
db_kv_del(struct db *db, enum db_kv t, uint32_t qid, const char *key)
{
	char sql[128];
	sqlite3_stmt *st;
	int r;

	(void)snprintf(sql, sizeof(sql),
	    t == DB_GLOBAL ? "DELETE FROM %s WHERE name = ?1" :
	                     "DELETE FROM %s WHERE name = ?1 AND qid = ?2",
	    kv_table[t]);
	r = prep(db, sql, &st);
	if (r < 0)
		return r;
	(void)sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	if (t != DB_GLOBAL)
		(void)sqlite3_bind_int(st, 2, (int)qid);
	r = step_done(db, st, "delete");
	return r < 0 ? r : sqlite3_changes(db->h) > 0;
}

int
db_kv_foreach(struct db *db, enum db_kv t, uint32_t qid,
    int (*fn)(const char *key, const char *value, void *arg), void *arg)
{
	char sql[128];
	sqlite3_stmt *st;
	int r, s;

	(void)snprintf(sql, sizeof(sql),
	    t == DB_GLOBAL ?
	        "SELECT name, value FROM %s ORDER BY name" :
	        "SELECT name, value FROM %s WHERE qid = ?1 ORDER BY name",
	    kv_table[t]);
	r = prep(db, sql, &st);
	if (r < 0)
		return r;
	if (t != DB_GLOBAL)
		(void)sqlite3_bind_int(st, 1, (int)qid);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		r = fn((const char *)sqlite3_column_text(st, 0),
		    (const char *)sqlite3_column_text(st, 1), arg);
		if (r < 0)
			break;
	}
	if (s != SQLITE_ROW && s != SQLITE_DONE)
		r = db_err(db, "list");
	done(db, st);
	return r < 0 ? r : 0;
}

int
db_tag_has(struct db *db, uint32_t qid, const char *tag)
{
	sqlite3_stmt *st;
	int r;

	r = prep(db, "SELECT 1 FROM tags WHERE qid = ? AND name = ?", &st);
	if (r < 0)
		return r;
	(void)sqlite3_bind_int(st, 1, (int)qid);
	(void)sqlite3_bind_text(st, 2, tag, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	r = r == SQLITE_ROW ? 1 : (r == SQLITE_DONE ? 0 : db_err(db, "tag"));
	done(db, st);
	return r;
}

int
db_tag_add(struct db *db, uint32_t qid, const char *tag)
{
	sqlite3_stmt *st;
	int r;

	r = prep(
	    db, "INSERT OR IGNORE INTO tags (qid, name) VALUES (?, ?)", &st);
	if (r < 0)
		return r;
	(void)sqlite3_bind_int(st, 1, (int)qid);
	(void)sqlite3_bind_text(st, 2, tag, -1, SQLITE_TRANSIENT);
	r = step_done(db, st, "add tag");
	return r < 0 ? r : sqlite3_changes(db->h) > 0;
}

int
db_tag_del(struct db *db, uint32_t qid, const char *tag)
{
	sqlite3_stmt *st;
	int r;

	r = prep(db, "DELETE FROM tags WHERE qid = ? AND name = ?", &st);
	if (r < 0)
		return r;
	(void)sqlite3_bind_int(st, 1, (int)qid);
	(void)sqlite3_bind_text(st, 2, tag, -1, SQLITE_TRANSIENT);
	r = step_done(db, st, "remove tag");
	return r < 0 ? r : sqlite3_changes(db->h) > 0;
}

int
db_tag_foreach(struct db *db, uint32_t qid,
    int (*fn)(const char *tag, void *arg), void *arg)
{
	sqlite3_stmt *st;
	int r, s;

	r = prep(db, "SELECT name FROM tags WHERE qid = ? ORDER BY name", &st);
	if (r < 0)
		return r;
	(void)sqlite3_bind_int(st, 1, (int)qid);
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		r = fn((const char *)sqlite3_column_text(st, 0), arg);
		if (r < 0)
			break;
	}
	if (s != SQLITE_ROW && s != SQLITE_DONE)
		r = db_err(db, "tags");
	done(db, st);
	return r < 0 ? r : 0;
}

static void
row_label(sqlite3_stmt *st, struct db_label *l)
{
	l->index = (uint32_t)sqlite3_column_int(st, 0);
	copy_col(l->name, sizeof(l->name), st, 1);
	copy_col(l->color, sizeof(l->color), st, 2);
}

int
db_label_foreach(
    struct db *db, int (*fn)(const struct db_label *l, void *arg), void *arg)
{
	sqlite3_stmt *st;
	struct db_label l;
	int r, s;

	r = prep(db, "SELECT idx, name, color FROM labels ORDER BY idx", &st);
	if (r < 0)
		return r;
	while ((s = sqlite3_step(st)) == SQLITE_ROW) {
		row_label(st, &l);
		r = fn(&l, arg);
		if (r < 0)
			break;
	}
	if (s != SQLITE_ROW && s != SQLITE_DONE)
		r = db_err(db, "labels");
	done(db, st);
	return r < 0 ? r : 0;
}

int
db_label_get(struct db *db, const char *name, struct db_label *ret)
{
	sqlite3_stmt *st;
	int r;

	r = prep(db, "SELECT idx, name, color FROM labels WHERE name = ?", &st);
	if (r < 0)
		return r;
	(void)sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		row_label(st, ret);
		r = 0;
	} else {
		r = r == SQLITE_DONE ? -ENOENT : db_err(db, "label");
	}
	done(db, st);
	return r;
}

int
db_label_add(struct db *db, const struct db_label *l)
{
	sqlite3_stmt *st;
	int r;

	r = prep(
	    db, "INSERT INTO labels (idx, name, color) VALUES (?, ?, ?)", &st);
	if (r < 0)
		return r;
	(void)sqlite3_bind_int(st, 1, (int)l->index);
	(void)sqlite3_bind_text(st, 2, l->name, -1, SQLITE_TRANSIENT);
	(void)sqlite3_bind_text(st, 3, l->color, -1, SQLITE_TRANSIENT);
	return step_done(db, st, "add label");
}

int
db_label_del(struct db *db, const char *name)
{
	sqlite3_stmt *st;
	int r;

	r = prep(db, "DELETE FROM labels WHERE name = ?", &st);
	if (r < 0)
		return r;
	(void)sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	r = step_done(db, st, "remove label");
	if (r == 0 && sqlite3_changes(db->h) == 0)
		r = -ENOENT;
	return r;
}

int
db_label_next_index(struct db *db, uint32_t *ret)
{
	sqlite3_stmt *st;
	int r;

	r = prep(db, "SELECT COALESCE(MAX(idx), 0) + 1 FROM labels", &st);
	if (r < 0)
		return r;
	r = sqlite3_step(st) == SQLITE_ROW ? 0 : db_err(db, "labels");
	if (r == 0)
		*ret = (uint32_t)sqlite3_column_int(st, 0);
	done(db, st);
	return r;
}
