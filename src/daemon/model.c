/*
 * model.c - classes and properties of qubes, as Qubes defines them:
 * types, validation, defaults (constant, global, inherited from the
 * template).  Runs in bulkheadd's main process; every value given to
 * prop_check() is untrusted (it comes from an Admin API payload).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/model.h"
#include "lib/util.h"

enum def_kind {
	D_NONE,            /* no default: "not set" */
	D_CONST,           /* dval */
	D_GLOBAL,          /* the global property dval */
	D_TEMPLATE_CONST,  /* the template's, else dval */
	D_TEMPLATE_GLOBAL, /* the template's, else the global property dval */
	D_COMPUTED,        /* computed by fn */
	D_KIND_MAX
};

enum {
	PF_RO = 1,         /* never settable */
	PF_RUNNING_RO = 2, /* not while the qube runs */
	PF_NOT_NULL = 4,   /* vm/label: "" (None) not allowed */
};

enum vm_constraint {
	VC_ANY,
	VC_TEMPLATE,     /* a TemplateVM */
	VC_DVM_TEMPLATE, /* a qube with template_for_dispvms */
	VC_NETVM,        /* provides_network */
	VC_DISPVM_BASE,  /* DispVM's template: an AppVM for dispvms */
	VC_MAX
};

struct prop_def {
	const char *name;
	enum prop_type type;
	unsigned classes;
	unsigned flags;
	enum def_kind dk;
	const char *dval;
	int (*computed)(struct model *m, const struct db_qube *q, char **ret);
	long long min, max;    /* PT_INT */
	enum vm_constraint vc; /* PT_VM */
	const char *help;
};

static int comp_name(struct model *m, const struct db_qube *q, char **ret);
static int comp_qid(struct model *m, const struct db_qube *q, char **ret);
static int comp_uuid(struct model *m, const struct db_qube *q, char **ret);
static int comp_klass(struct model *m, const struct db_qube *q, char **ret);
static int comp_icon(struct model *m, const struct db_qube *q, char **ret);
static int
comp_updateable(struct model *m, const struct db_qube *q, char **ret);
static int comp_xid(struct model *m, const struct db_qube *q, char **ret);
static int
comp_start_time(struct model *m, const struct db_qube *q, char **ret);
static int
comp_include_in_backups(struct model *m, const struct db_qube *q, char **ret);

#define TPL    (QCB(QC_APPVM) | QCB(QC_DISPVM))
#define DVMTPL (QCB(QC_APPVM) | QCB(QC_STANDALONEVM))

/* Sorted by name: GetAll and List print them in this order. */
static const struct prop_def props[] = {
    {"audiovm", PT_VM, QC_VMS, 0, D_GLOBAL, "default_audiovm", NULL, 0, 0,
        VC_ANY, "qube that provides audio to this qube"},
    {"auto_cleanup", PT_BOOL, QCB(QC_DISPVM), 0, D_CONST, "False", NULL, 0, 0,
        VC_ANY, "remove this disposable when it stops"},
    {"autostart", PT_BOOL, QC_VMS, 0, D_CONST, "False", NULL, 0, 0, VC_ANY,
        "start this qube when bulkheadd starts"},
    {"debug", PT_BOOL, QC_VMS, 0, D_CONST, "False", NULL, 0, 0, VC_ANY,
        "keep the qube's logs verbose and its console available"},
    {"default_dispvm", PT_VM, QC_ALL, 0, D_GLOBAL, "default_dispvm", NULL, 0, 0,
        VC_DVM_TEMPLATE,
        "the DVM template of @dispvm calls from this "
        "qube"},
    {"default_user", PT_STR, QC_VMS, 0, D_TEMPLATE_CONST, "user", NULL, 0, 0,
        VC_ANY, "user that commands run as by default"},
    {"guivm", PT_VM, QC_VMS, 0, D_GLOBAL, "default_guivm", NULL, 0, 0, VC_ANY,
        "qube that shows this qube's windows"},
    {"icon", PT_STR, QC_ALL, PF_RO, D_COMPUTED, NULL, comp_icon, 0, 0, VC_ANY,
        "icon name (class and label)"},
    {"include_in_backups", PT_BOOL, QC_ALL, 0, D_COMPUTED, NULL,
        comp_include_in_backups, 0, 0, VC_ANY,
        "whether backups include this qube"},
    {"installed_by_rpm", PT_BOOL, QC_ALL, 0, D_CONST, "False", NULL, 0, 0,
        VC_ANY, "installed by a package (templates)"},
    {"kernel", PT_STR, QC_VMS, PF_RUNNING_RO, D_TEMPLATE_GLOBAL,
        "default_kernel", NULL, 0, 0, VC_ANY, "kernel of a VM qube"},
    {"kernelopts", PT_STR, QC_VMS, PF_RUNNING_RO, D_TEMPLATE_CONST, "", NULL, 0,
        0, VC_ANY, "kernel command line of a VM qube"},
    {"keyboard_layout", PT_STR, QC_VMS, 0, D_CONST, "us++", NULL, 0, 0, VC_ANY,
        "keyboard layout (layout+variant+options)"},
    {"klass", PT_STR, QC_ALL, PF_RO, D_COMPUTED, NULL, comp_klass, 0, 0, VC_ANY,
        "class of the qube"},
    {"label", PT_LABEL, QC_ALL, PF_NOT_NULL, D_NONE, NULL, NULL, 0, 0, VC_ANY,
        "colour of the qube's windows and icons"},
    {"management_dispvm", PT_VM, QC_ALL, 0, D_GLOBAL, "management_dispvm", NULL,
        0, 0, VC_DVM_TEMPLATE, "DVM template for managing this qube"},
    {"maxmem", PT_INT, QC_VMS, PF_RUNNING_RO, D_TEMPLATE_CONST, "4000", NULL, 0,
        1048576, VC_ANY, "maximum memory, MiB"},
    {"memory", PT_INT, QC_VMS, PF_RUNNING_RO, D_TEMPLATE_CONST, "400", NULL, 0,
        1048576, VC_ANY, "memory, MiB (a limit for namespace qubes)"},
    {"name", PT_STR, QC_ALL, PF_RO, D_COMPUTED, NULL, comp_name, 0, 0, VC_ANY,
        "name of the qube"},
    {"netvm", PT_VM, QC_VMS, PF_RUNNING_RO, D_GLOBAL, "default_netvm", NULL, 0,
        0, VC_NETVM, "qube that provides network to this qube"},
    {"provides_network", PT_BOOL, QC_VMS, PF_RUNNING_RO, D_CONST, "False", NULL,
        0, 0, VC_ANY, "this qube gives network to others"},
    {"qid", PT_INT, QC_ALL, PF_RO, D_COMPUTED, NULL, comp_qid, 0, 0, VC_ANY,
        "internal id"},
    {"qrexec_timeout", PT_INT, QC_VMS, 0, D_TEMPLATE_GLOBAL,
        "default_qrexec_timeout", NULL, 1, 86400, VC_ANY,
        "seconds to wait for the qube's qrexec agent at start"},
    {"shutdown_timeout", PT_INT, QC_VMS, 0, D_TEMPLATE_GLOBAL,
        "default_shutdown_timeout", NULL, 1, 86400, VC_ANY,
        "seconds to wait for a clean shutdown before killing"},
    {"start_time", PT_STR, QC_ALL, PF_RO, D_COMPUTED, NULL, comp_start_time, 0,
        0, VC_ANY, "when the qube started (seconds since the epoch)"},
    {"template", PT_VM, TPL, PF_RUNNING_RO | PF_NOT_NULL, D_GLOBAL,
        "default_template", NULL, 0, 0, VC_TEMPLATE,
        "template the qube's root comes from"},
    {"template_for_dispvms", PT_BOOL, DVMTPL, 0, D_CONST, "False", NULL, 0, 0,
        VC_ANY, "disposables can be made from this qube"},
    {"updateable", PT_BOOL, QC_ALL, PF_RO, D_COMPUTED, NULL, comp_updateable, 0,
        0, VC_ANY, "whether changes to the root are kept"},
    {"uuid", PT_STR, QC_ALL, PF_RO, D_COMPUTED, NULL, comp_uuid, 0, 0, VC_ANY,
        "uuid of the qube"},
    {"vcpus", PT_INT, QC_VMS, PF_RUNNING_RO, D_TEMPLATE_CONST, "2", NULL, 1,
        256, VC_ANY, "virtual CPUs (a CPU limit for namespace qubes)"},
    {"virt_mode", PT_STR, QC_VMS, PF_RUNNING_RO, D_TEMPLATE_GLOBAL,
        "default_virt_mode", NULL, 0, 0, VC_ANY,
        "sandbox (namespaces) or vm (QEMU); hvm and pvh mean vm"},
    {"vm_accel", PT_STR, QC_VMS, PF_RUNNING_RO, D_TEMPLATE_GLOBAL,
        "default_vm_accel", NULL, 0, 0, VC_ANY,
        "a VM qube's accelerator: auto (KVM where it can boot a guest, "
        "else TCG), kvm or tcg"},
    {"xid", PT_INT, QC_ALL, PF_RO, D_COMPUTED, NULL, comp_xid, 0, 0, VC_ANY,
        "domain id while running, -1 otherwise"},
};

/* Global properties (qubes-prefs). */
static const struct prop_def gprops[] = {
    {"check_updates_vm", PT_BOOL, 0, 0, D_CONST, "True", NULL, 0, 0, VC_ANY,
        "check for updates inside qubes"},
    {"clockvm", PT_VM, 0, 0, D_NONE, NULL, NULL, 0, 0, VC_ANY,
        "qube that keeps the time"},
    {"default_audiovm", PT_VM, 0, 0, D_CONST, "dom0", NULL, 0, 0, VC_ANY,
        "default audiovm"},
    {"default_dispvm", PT_VM, 0, 0, D_NONE, NULL, NULL, 0, 0, VC_DVM_TEMPLATE,
        "default DVM template"},
    {"default_guivm", PT_VM, 0, 0, D_CONST, "dom0", NULL, 0, 0, VC_ANY,
        "default guivm"},
    {"default_kernel", PT_STR, 0, 0, D_CONST, "", NULL, 0, 0, VC_ANY,
        "default kernel of VM qubes"},
    {"default_netvm", PT_VM, 0, 0, D_NONE, NULL, NULL, 0, 0, VC_NETVM,
        "default netvm"},
    {"default_pool", PT_STR, 0, 0, D_CONST, "default", NULL, 0, 0, VC_ANY,
        "default storage pool"},
    {"default_qrexec_timeout", PT_INT, 0, 0, D_CONST, "60", NULL, 1, 86400,
        VC_ANY, "default qrexec_timeout"},
    {"default_shutdown_timeout", PT_INT, 0, 0, D_CONST, "60", NULL, 1, 86400,
        VC_ANY, "default shutdown_timeout"},
    {"default_template", PT_VM, 0, 0, D_NONE, NULL, NULL, 0, 0, VC_TEMPLATE,
        "default template of new qubes"},
    {"default_virt_mode", PT_STR, 0, 0, D_CONST, "sandbox", NULL, 0, 0, VC_ANY,
        "virt_mode of new qubes: sandbox or vm"},
    {"default_vm_accel", PT_STR, 0, 0, D_CONST, "auto", NULL, 0, 0, VC_ANY,
        "vm_accel of qubes: auto, kvm or tcg"},
    {"management_dispvm", PT_VM, 0, 0, D_NONE, NULL, NULL, 0, 0,
        VC_DVM_TEMPLATE, "default management_dispvm"},
    {"stats_interval", PT_INT, 0, 0, D_CONST, "3", NULL, 1, 3600, VC_ANY,
        "seconds between statistics"},
    {"updatevm", PT_VM, 0, 0, D_NONE, NULL, NULL, 0, 0, VC_ANY,
        "qube that downloads updates"},
};

static const char *const class_names[QC_MAX] = {
    "AdminVM", "TemplateVM", "AppVM", "StandaloneVM", "DispVM"};
static const char *const state_names[PS_MAX] = {
    "Halted", "Transient", "Running", "Paused", "Halting"};
static const char *const type_names[PT_MAX] = {
    "str", "int", "bool", "vm", "label"};

const char *
qclass_name(enum qube_class c)
{
	return c < QC_MAX ? class_names[c] : "?";
}

int
qclass_parse(const char *name)
{
	int i;

	for (i = 0; i < QC_MAX; i++)
		if (strcmp(name, class_names[i]) == 0)
			return i;
	return -EINVAL;
}

const char *
power_state_name(enum power_state s)
{
	return s < PS_MAX ? state_names[s] : "NA";
}

const char *
prop_type_name(enum prop_type t)
{
	return t < PT_MAX ? type_names[t] : "str";
}

enum qube_class
qube_class_of(const struct db_qube *q)
{
	int c = qclass_parse(q->klass);

	return c < 0 ? QC_APPVM : (enum qube_class)c;
}

const struct prop_def *
prop_find(enum qube_class c, const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(props); i++)
		if ((props[i].classes & QCB(c)) &&
		    strcmp(props[i].name, name) == 0)
			return &props[i];
	return NULL;
}

const struct prop_def *
gprop_find(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(gprops); i++)
		if (strcmp(gprops[i].name, name) == 0)
			return &gprops[i];
	return NULL;
}

const char *
prop_name(const struct prop_def *p)
{
	return p->name;
}

enum prop_type
prop_type(const struct prop_def *p)
{
	return p->type;
}

const char *
prop_help(const struct prop_def *p)
{
	return p->help;
}

bool
prop_readonly(const struct prop_def *p)
{
	return (p->flags & PF_RO) != 0;
}

void
prop_foreach(enum qube_class c, void (*fn)(const struct prop_def *p, void *arg),
    void *arg)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(props); i++)
		if (props[i].classes & QCB(c))
			fn(&props[i], arg);
}

void
gprop_foreach(void (*fn)(const struct prop_def *p, void *arg), void *arg)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(gprops); i++)
		fn(&gprops[i], arg);
}

/* ---- computed properties ---- */

static int
dup_ret(char **ret, const char *s)
{
	*ret = strdup(s);
	return *ret ? 1 : -ENOMEM;
}

static int
fmt_ret(char **ret, long long v)
{
	char buf[32];

	(void)snprintf(buf, sizeof(buf), "%lld", v);
	return dup_ret(ret, buf);
}

static int
comp_name(struct model *m, const struct db_qube *q, char **ret)
{
	(void)m;
	return dup_ret(ret, q->name);
}

static int
comp_qid(struct model *m, const struct db_qube *q, char **ret)
{
	(void)m;
	return fmt_ret(ret, q->qid);
}

static int
comp_uuid(struct model *m, const struct db_qube *q, char **ret)
{
	(void)m;
	return dup_ret(ret, q->uuid);
}

static int
comp_klass(struct model *m, const struct db_qube *q, char **ret)
{
	(void)m;
	return dup_ret(ret, q->klass);
}

static int
comp_icon(struct model *m, const struct db_qube *q, char **ret)
{
	char *label = NULL, buf[64];
	bool def;
	int r;

	r = prop_get(m, q, prop_find(qube_class_of(q), "label"), &label, &def);
	if (r <= 0)
		return r;
	(void)snprintf(buf, sizeof(buf), "%s-%s",
	    qube_class_of(q) == QC_TEMPLATEVM       ? "templatevm" :
	        qube_class_of(q) == QC_STANDALONEVM ? "standalonevm" :
	        qube_class_of(q) == QC_DISPVM       ? "dispvm" :
	        qube_class_of(q) == QC_ADMINVM      ? "adminvm" :
	                                              "appvm",
	    label);
	free(label);
	return dup_ret(ret, buf);
}

static int
comp_updateable(struct model *m, const struct db_qube *q, char **ret)
{
	enum qube_class c = qube_class_of(q);

	(void)m;
	return dup_ret(ret,
	    (c == QC_TEMPLATEVM || c == QC_STANDALONEVM || c == QC_ADMINVM) ?
	        "True" :
	        "False");
}

static int
comp_xid(struct model *m, const struct db_qube *q, char **ret)
{
	struct qube_rt *rt = m->rt ? m->rt(m->ctx, q->qid) : NULL;

	if (q->qid == 0)
		return fmt_ret(ret, 0);
	if (rt == NULL || rt->state == PS_HALTED)
		return fmt_ret(ret, -1);
	return fmt_ret(ret, rt->domid);
}

static int
comp_start_time(struct model *m, const struct db_qube *q, char **ret)
{
	struct qube_rt *rt = m->rt ? m->rt(m->ctx, q->qid) : NULL;

	if (rt == NULL || rt->state == PS_HALTED || rt->start_time == 0)
		return 0;
	return fmt_ret(ret, (long long)rt->start_time);
}

static int
comp_include_in_backups(struct model *m, const struct db_qube *q, char **ret)
{
	char *v = NULL;
	int r;

	if (qube_class_of(q) != QC_DISPVM)
		return dup_ret(ret, "True");
	/* named disposables are backed up, auto-cleanup ones are not */
	r = db_kv_get(m->db, DB_PROPS, q->qid, "auto_cleanup", &v);
	if (r < 0)
		return r;
	r = dup_ret(ret, (r > 0 && strcmp(v, "True") == 0) ? "False" : "True");
	free(v);
	return r;
}

/* ---- values ---- */

static int
template_of(struct model *m, const struct db_qube *q, struct db_qube *ret);

static int
default_value(struct model *m, const struct db_qube *q,
    const struct prop_def *p, char **ret)
{
	struct db_qube tpl;
	bool def;

	switch (p->dk) {
	case D_NONE:
		return 0;
	case D_CONST:
		return dup_ret(ret, p->dval);
	case D_COMPUTED:
		return p->computed(m, q, ret);
	case D_TEMPLATE_CONST:
	case D_TEMPLATE_GLOBAL:
		if (q != NULL && template_of(m, q, &tpl) == 0) {
			const struct prop_def *tp =
			    prop_find(qube_class_of(&tpl), p->name);

			if (tp != NULL)
				return prop_get(m, &tpl, tp, ret, &def);
		}
		if (p->dk == D_TEMPLATE_CONST)
			return dup_ret(ret, p->dval);
		FALLTHROUGH;
	case D_GLOBAL:
		return prop_get(m, NULL, gprop_find(p->dval), ret, &def);
	case D_KIND_MAX:
		break;
	}
	return 0;
}

int
prop_get(struct model *m, const struct db_qube *q, const struct prop_def *p,
    char **ret, bool *is_default)
{
	int r;

	if (p == NULL)
		return -ENOENT;
	if (p->dk != D_COMPUTED || p->computed == comp_include_in_backups) {
		r = q ? db_kv_get(m->db, DB_PROPS, q->qid, p->name, ret) :
		        db_kv_get(m->db, DB_GLOBAL, 0, p->name, ret);
		if (r != 0) {
			*is_default = false;
			return r;
		}
	}
	*is_default = true;
	return default_value(m, q, p, ret);
}

int
prop_get_default(struct model *m, const struct db_qube *q,
    const struct prop_def *p, char **ret)
{
	if (p->flags & PF_RO)
		return 0;
	return default_value(m, q, p, ret);
}

/* The qube's template (AppVM, DispVM), if it has one. */
static int
template_of(struct model *m, const struct db_qube *q, struct db_qube *ret)
{
	const struct prop_def *p = prop_find(qube_class_of(q), "template");
	char *name = NULL;
	bool def;
	int r;

	if (p == NULL)
		return -ENOENT;
	r = prop_get(m, q, p, &name, &def);
	if (r <= 0)
		return -ENOENT;
	r = name[0] ? db_qube_by_name(m->db, name, ret) : -ENOENT;
	free(name);
	return r;
}

/* ---- validation ---- */

static bool
user_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

static bool
printable(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i >= max || c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static int
check_vm(struct model *m, const struct db_qube *q, const struct prop_def *p,
    const char *v, char *err, size_t errlen)
{
	enum vm_constraint vc;
	struct db_qube t;
	char *flag = NULL;
	bool def;
	int r;

	if (v[0] == '\0') {
		if (p->flags & PF_NOT_NULL) {
			(void)snprintf(
			    err, errlen, "%s cannot be none", p->name);
			return -EINVAL;
		}
		return 0;
	}
	if (!model_name_valid(v) || db_qube_by_name(m->db, v, &t) < 0) {
		(void)snprintf(err, errlen, "no such qube");
		return -EINVAL;
	}
	if (q != NULL && t.qid == q->qid && p->vc != VC_ANY) {
		(void)snprintf(
		    err, errlen, "%s cannot be the qube itself", p->name);
		return -EINVAL;
	}
	vc = p->vc;
	/* a disposable's template is its DVM template */
	if (vc == VC_TEMPLATE && q != NULL && qube_class_of(q) == QC_DISPVM)
		vc = VC_DISPVM_BASE;
	switch (vc) {
	case VC_ANY:
		return 0;
	case VC_TEMPLATE:
		if (qube_class_of(&t) != QC_TEMPLATEVM) {
			(void)snprintf(
			    err, errlen, "%s is not a TemplateVM", v);
			return -EINVAL;
		}
		return 0;
	case VC_DISPVM_BASE:
	case VC_DVM_TEMPLATE:
		r = prop_get(m, &t,
		    prop_find(qube_class_of(&t), "template_for_dispvms"), &flag,
		    &def);
		r = (r > 0 && strcmp(flag, "True") == 0) ? 0 : -EINVAL;
		free(flag);
		if (r < 0)
			(void)snprintf(err, errlen,
			    "%s is not a DVM template "
			    "(template_for_dispvms is not set)",
			    v);
		return r;
	case VC_NETVM:
		r = prop_get(m, &t,
		    prop_find(qube_class_of(&t), "provides_network"), &flag,
		    &def);
		r = (r > 0 && strcmp(flag, "True") == 0) ? 0 : -EINVAL;
		free(flag);
		if (r < 0)
			(void)snprintf(err, errlen,
			    "%s does not provide "
			    "network",
			    v);
		return r;
	case VC_MAX:
		break;
	}
	return 0;
}

static int
parse_bool(const char *v, const char **ret)
{
	static const char *const yes[] = {"True", "true", "on", "yes", "1"};
	static const char *const no[] = {
	    "False", "false", "off", "no", "0", ""};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(yes); i++)
		if (strcmp(v, yes[i]) == 0) {
			*ret = "True";
			return 0;
		}
	for (i = 0; i < ARRAY_SIZE(no); i++)
		if (strcmp(v, no[i]) == 0) {
			*ret = "False";
			return 0;
		}
	return -EINVAL;
}

int
prop_check(struct model *m, const struct db_qube *q, const struct prop_def *p,
    const char *untrusted_value, char **ret, char *err, size_t errlen)
{
	const char *v = untrusted_value, *b;
	char norm[32];
	int r;

	if (p->flags & PF_RO) {
		(void)snprintf(
		    err, errlen, "property %s is read-only", p->name);
		return -EPERM;
	}
	if (strlen(v) > MODEL_MAX_VALUE || !printable(v, MODEL_MAX_VALUE)) {
		(void)snprintf(err, errlen, "invalid characters or too long");
		return -EINVAL;
	}
	if (q != NULL && (p->flags & PF_RUNNING_RO) && m->rt) {
		struct qube_rt *rt = m->rt(m->ctx, q->qid);

		if (rt != NULL && rt->state != PS_HALTED) {
			(void)snprintf(err, errlen,
			    "cannot change %s of a "
			    "running qube",
			    p->name);
			return -EBUSY;
		}
	}
	switch (p->type) {
	case PT_BOOL:
		if (parse_bool(v, &b) < 0) {
			(void)snprintf(
			    err, errlen, "%s takes a boolean", p->name);
			return -EINVAL;
		}
		v = b;
		break;
	case PT_INT: {
		long long x = 0;
		size_t i;

		if (v[0] == '\0' || strlen(v) > 10)
			goto bad_int;
		for (i = 0; v[i]; i++) {
			if (v[i] < '0' || v[i] > '9')
				goto bad_int;
			x = x * 10 + (v[i] - '0');
		}
		if (x < p->min || x > p->max)
			goto bad_int;
		(void)snprintf(norm, sizeof(norm), "%lld", x);
		v = norm;
		break;
bad_int:
		(void)snprintf(err, errlen,
		    "%s takes an integer from %lld to "
		    "%lld",
		    p->name, p->min, p->max);
		return -EINVAL;
	}
	case PT_VM:
		r = check_vm(m, q, p, v, err, errlen);
		if (r < 0)
			return r;
		break;
	case PT_LABEL: {
		struct db_label l;

		if (!model_label_name_valid(v) ||
		    db_label_get(m->db, v, &l) < 0) {
			(void)snprintf(err, errlen, "no such label");
			return -EINVAL;
		}
		break;
	}
	case PT_STR:
		if (strcmp(p->name, "virt_mode") == 0 ||
		    strcmp(p->name, "default_virt_mode") == 0) {
			if (strcmp(v, "hvm") == 0 || strcmp(v, "pvh") == 0)
				v = "vm"; /* Qubes' modes are all VMs here */
			if (strcmp(v, "sandbox") != 0 && strcmp(v, "vm") != 0) {
				(void)snprintf(err, errlen,
				    "%s is sandbox or "
				    "vm (hvm, pvh)",
				    p->name);
				return -EINVAL;
			}
		} else if (strcmp(p->name, "vm_accel") == 0 ||
		    strcmp(p->name, "default_vm_accel") == 0) {
			if (strcmp(v, "auto") != 0 && strcmp(v, "kvm") != 0 &&
			    strcmp(v, "tcg") != 0) {
				(void)snprintf(err, errlen,
				    "%s is auto, kvm or tcg", p->name);
				return -EINVAL;
			}
		} else if (strcmp(p->name, "default_user") == 0) {
			size_t i;

			for (i = 0; v[i]; i++)
				if (!user_char(v[i]))
					break;
			if (v[0] == '\0' || v[i] != '\0' || i > 32) {
				(void)snprintf(
				    err, errlen, "invalid user name");
				return -EINVAL;
			}
		}
		break;
	case PT_MAX:
		return -EINVAL;
	}
	*ret = strdup(v);
	return *ret ? 0 : -ENOMEM;
}

/* ---- names ---- */

static bool
alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
namechar(char c)
{
	return alpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	    c == '-';
}

bool
model_name_valid(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > MODEL_MAX_NAME || !alpha(s[0]))
		return false;
	for (i = 0; i < n; i++)
		if (!namechar(s[i]))
			return false;
	if (n >= 3 && strcmp(s + n - 3, "-dm") == 0)
		return false;
	return strcmp(s, "none") != 0 && strcmp(s, "default") != 0;
}

static bool
tokchars(const char *s, size_t max, const char *extra)
{
	size_t i;

	if (s[0] == '\0')
		return false;
	for (i = 0; s[i]; i++) {
		if (i >= max)
			return false;
		if (!namechar(s[i]) && !strchr(extra, s[i]))
			return false;
	}
	return true;
}

bool
model_tag_valid(const char *s)
{
	return tokchars(s, 255, ":");
}

bool
model_feature_valid(const char *s)
{
	return tokchars(s, 255, ":");
}

bool
model_label_name_valid(const char *s)
{
	return tokchars(s, 31, "") && alpha(s[0]);
}

int
model_uuid(char out[40])
{
	unsigned char b[16];
	ssize_t n;
	int fd;

	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, b, sizeof(b));
	(void)close(fd);
	if (n != (ssize_t)sizeof(b))
		return -EIO;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	(void)snprintf(out, 40,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
	    b[11], b[12], b[13], b[14], b[15]);
	return 0;
}
