/*
 * db.h - bulkheadd's qube database: SQLite in WAL mode with foreign keys
 * and a versioned schema.  Every Admin API write is one transaction
 * (db_begin/db_commit), so a crash leaves the old state or the new one.
 *
 * Values are strings; a property without a row has its default.
 */
#ifndef BULKHEAD_DB_H
#define BULKHEAD_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#define DB_SCHEMA_VERSION 2
#define DB_MAX_QID        10000 /* as Qubes */

/* Prepared statements kept for reuse (db.c, prep()). */
#define DB_STMT_CACHE 64

struct db {
	sqlite3 *h;
	int in_tx;
	bool lazy; /* this transaction: db_begin_lazy()'s */
	struct {
		sqlite3_stmt *st; /* NULL: a free slot */
		bool busy;        /* handed out, not yet done() */
	} cache[DB_STMT_CACHE];
};

/* One row of the qubes table. */
struct db_qube {
	uint32_t qid;
	char name[32];
	char uuid[40];
	char klass[16];
};

/*
 * Open (creating and migrating as needed) the database at path.
 * Returns 0 or -errno / -EIO with a message in err.
 */
int db_open(struct db *db, const char *path, char *err, size_t errlen);
void db_close(struct db *db);

int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);
/*
 * A transaction whose commit does not wait for the disk
 * (synchronous=NORMAL, which SQLite lets change only outside one): a crash
 * of bulkheadd still keeps it (WAL), a crash of the machine may lose it.
 * Only for changes that a restart finds and finishes on its own: the rows
 * of disposables with auto_cleanup, which qube_reconcile() removes when
 * they do not run.  Ended by db_commit or db_rollback as any other.
 */
int db_begin_lazy(struct db *db);

/* ---- qubes ---- */
/* Call fn for every qube ordered by name; stops early if fn returns < 0. */
int db_qube_foreach(
    struct db *db, int (*fn)(const struct db_qube *q, void *arg), void *arg);
int db_qube_by_name(struct db *db, const char *name, struct db_qube *ret);
int db_qube_by_qid(struct db *db, uint32_t qid, struct db_qube *ret);
int db_qube_add(struct db *db, const struct db_qube *q);
int db_qube_remove(struct db *db, uint32_t qid);
/* The lowest free qid >= from (and >= 1), or -ENOSPC. */
int db_qid_free(struct db *db, uint32_t from, uint32_t *ret_qid);
/* Number of qubes whose property name has value (references). */
int db_prop_refs(
    struct db *db, const char *name, const char *value, uint32_t *ret_qid);

/* ---- key/value tables: per-qube props, features; global props ---- */
enum db_kv {
	DB_PROPS,
	DB_FEATURES,
	DB_GLOBAL, /* qid ignored */
	DB_NOTES,  /* a qube's texts: "notes", "firewall" (schema 2) */
	DB_KV_MAX
};

/*
 * Get a value.  Returns 1 and a malloc'd string in *ret (caller frees),
 * 0 if absent, -errno on error.
 */
int db_kv_get(
    struct db *db, enum db_kv t, uint32_t qid, const char *key, char **ret);
int db_kv_set(struct db *db, enum db_kv t, uint32_t qid, const char *key,
    const char *value);
/* Returns 1 if a row was removed, 0 if there was none. */
int db_kv_del(struct db *db, enum db_kv t, uint32_t qid, const char *key);
/* Call fn for every key (ordered) and value. */
int db_kv_foreach(struct db *db, enum db_kv t, uint32_t qid,
    int (*fn)(const char *key, const char *value, void *arg), void *arg);

/* ---- tags ---- */
int db_tag_has(struct db *db, uint32_t qid, const char *tag);
int db_tag_add(struct db *db, uint32_t qid, const char *tag);
int db_tag_del(struct db *db, uint32_t qid, const char *tag);
int db_tag_foreach(struct db *db, uint32_t qid,
    int (*fn)(const char *tag, void *arg), void *arg);

/* ---- labels ---- */
struct db_label {
	uint32_t index;
	char name[32];
	char color[16]; /* 0xRRGGBB */
};
int db_label_foreach(
    struct db *db, int (*fn)(const struct db_label *l, void *arg), void *arg);
int db_label_get(struct db *db, const char *name, struct db_label *ret);
int db_label_add(struct db *db, const struct db_label *l);
int db_label_del(struct db *db, const char *name);
int db_label_next_index(struct db *db, uint32_t *ret);

#endif
