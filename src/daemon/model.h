/*
 * model.h - qube classes, properties (types, validation, defaults and
 * inheritance, as Qubes has them), global properties, and the runtime
 * state bulkheadd keeps for running qubes.
 */
#ifndef BULKHEAD_MODEL_H
#define BULKHEAD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon/db.h"

/* The highest domain id (as Xen's, below its reserved 0x7ff0). */
#define DOMID_MAX 0x7fefu

enum qube_class {
	QC_ADMINVM,
	QC_TEMPLATEVM,
	QC_APPVM,
	QC_STANDALONEVM,
	QC_DISPVM,
	QC_MAX
};

#define QCB(c) (1u << (c))
#define QC_ALL ((1u << QC_MAX) - 1)
#define QC_VMS (QC_ALL & ~QCB(QC_ADMINVM))

enum prop_type {
	PT_STR,
	PT_INT,
	PT_BOOL,
	PT_VM,
	PT_LABEL,
	PT_MAX
};

enum power_state {
	PS_HALTED,
	PS_TRANSIENT, /* starting */
	PS_RUNNING,
	PS_PAUSED,
	PS_HALTING,
	PS_MAX
};

/* Longest property value we store. */
#define MODEL_MAX_VALUE 4096
/* Qubes' limit for qube names. */
#define MODEL_MAX_NAME 31

struct prop_def;

/* Runtime state of a qube (not persisted in the database). */
struct qube_rt {
	uint32_t qid;
	enum power_state state;
	uint32_t domid; /* while running: 1..DOMID_MAX, a fresh one a start */
	uint64_t start_time;
};

struct model {
	struct db *db;
	/* runtime state by qid, NULL when not running */
	struct qube_rt *(*rt)(void *ctx, uint32_t qid);
	void *ctx;
};

const char *qclass_name(enum qube_class c);
/* Returns the class or -EINVAL. */
int qclass_parse(const char *name);
const char *power_state_name(enum power_state s);

/* Properties of a class (prop_def) and global properties. */
const struct prop_def *prop_find(enum qube_class c, const char *name);
const struct prop_def *gprop_find(const char *name);
const char *prop_name(const struct prop_def *p);
enum prop_type prop_type(const struct prop_def *p);
const char *prop_type_name(enum prop_type t);
const char *prop_help(const struct prop_def *p);
/* Calls fn for each property of class c (ordered by name). */
void prop_foreach(enum qube_class c,
    void (*fn)(const struct prop_def *p, void *arg), void *arg);
void gprop_foreach(void (*fn)(const struct prop_def *p, void *arg), void *arg);

/* true for name, qid, uuid, klass and computed properties */
bool prop_readonly(const struct prop_def *p);

/*
 * A qube's property value.  Returns 1 with *ret (malloc'd; "" for None)
 * and *is_default, 0 if it has no value (Qubes' AttributeError), or
 * -errno.  q NULL means a global property.
 */
int prop_get(struct model *m, const struct db_qube *q, const struct prop_def *p,
    char **ret, bool *is_default);
/* What the value would be if reset.  Same returns as prop_get. */
int prop_get_default(struct model *m, const struct db_qube *q,
    const struct prop_def *p, char **ret);

/*
 * Validate an untrusted new value for a property and normalise it (bool
 * to True/False, a synonym to its name).  Returns 0 and *ret (malloc'd),
 * or -EINVAL with the reason in err, -EPERM (read-only), -EBUSY (cannot
 * change while running).
 */
int
prop_check(struct model *m, const struct db_qube *q, const struct prop_def *p,
    const char *untrusted_value, char **ret, char *err, size_t errlen);

/* The qube's class as an enum (from its row). */
enum qube_class qube_class_of(const struct db_qube *q);

/*
 * Name rules (Qubes'): 1..31 characters, a letter first, then
 * [A-Za-z0-9_.-], not ending in "-dm", not a keyword ("none", "default",
 * "dom0" for new qubes).
 */
bool model_name_valid(const char *s);
/* Tags, features, labels: [A-Za-z0-9_.:-]+ (features and tags as Qubes). */
bool model_tag_valid(const char *s);
bool model_feature_valid(const char *s);
bool model_label_name_valid(const char *s);

/* A new random uuid (v4) as text. */
int model_uuid(char out[40]);

#endif
