/*
 * clone.c - copy a qube as Qubes' clone_vm() does: create the new qube
 * with the source's class (or another), template, label and storage pools,
 * copy the properties that are not at their defaults, the tags, the
 * features and the firewall, then the data of every persistent volume
 * (admin.vm.volume.CloneFrom on the source, CloneTo on the copy).  If any
 * step fails, the half-made copy is removed.  Used by qvm-clone and by
 * qvm-create --standalone --template.
 *
 * Runs in those tools, as the administrator.  Untrusted input: the
 * daemon's replies, parsed by admin_client.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/tools.h"

/* Properties admin.vm.Create sets, or nobody may (clone_vm()). */
static bool
skip_property(const char *name)
{
	static const char *const skip[] = {"name", "qid", "template", "label",
	    "uuid", "installed_by_rpm", NULL};

	return cli_in_list(skip, name);
}

/*
 * admin.vm.volume.Info of one volume.  Returns 0 and the body (free it),
 * or -1 (printed).
 */
static int
volume_info(const char *vm, const char *vol, struct admin_reply *ret)
{
	return cli_call_ok(vm, vm, "admin.vm.volume.Info", vol, NULL, 0, ret);
}

static bool
info_true(const struct admin_reply *info, const char *key)
{
	char v[16];

	return admin_kv_get(info->data, info->len, key, v, sizeof(v)) == 1 &&
	    strcmp(v, "True") == 0;
}

/*
 * With no pool asked for, keep the source's: every read-write volume that
 * is not a snapshot of the template's and is not in the global
 * default_pool_<volume> goes to " pool:<volume>=<pool>" (sorted, as the
 * daemon gets the volumes sorted).  Returns the payload tail or NULL
 * (printed).
 */
static char *
source_pools(const char *src, const char *const *ignore_volumes)
{
	struct admin_strv vols = {NULL, 0};
	char *tail = cli_strdup("");
	size_t i;

	if (cli_call_lines(src, src, "admin.vm.volume.List", &vols) < 0) {
		free(tail);
		return NULL;
	}
	for (i = 0; i < vols.n; i++) {
		struct admin_reply info, dflt;
		char pool[256], *prop, *t;
		struct admin_prop p;
		bool same = true;

		if (cli_in_list(ignore_volumes, vols.v[i]))
			continue;
		if (volume_info(src, vols.v[i], &info) < 0)
			goto out_fail;
		if (info_true(&info, "snap_on_start") ||
		    !info_true(&info, "rw") ||
		    admin_kv_get(
		        info.data, info.len, "pool", pool, sizeof(pool)) != 1) {
			admin_reply_free(&info);
			continue;
		}
		admin_reply_free(&info);
		prop = cli_asprintf("default_pool_%s", vols.v[i]);
		if (admin_call(admin_socket_path(), "dom0",
		        "admin.property.Get", prop, NULL, 0, &dflt) == 0) {
			if (dflt.ok &&
			    admin_parse_property(dflt.data, dflt.len, &p) ==
			        0) {
				same = strcmp(p.value, pool) == 0;
				admin_prop_free(&p);
			}
			admin_reply_free(&dflt);
		}
		free(prop);
		if (same)
			continue;
		t = cli_asprintf("%s pool:%s=%s", tail, vols.v[i], pool);
		free(tail);
		tail = t;
	}
	admin_strv_free(&vols);
	return tail;
out_fail:
	admin_strv_free(&vols);
	free(tail);
	return NULL;
}

/* Copy the source's non-default properties to dst.  0, or -1 (printed). */
static int
copy_properties(
    const struct admin_prop_list *sprops, const char *dst, bool ignore_errors)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < sprops->n && rc == 0; i++) {
		const struct admin_prop *p = &sprops->p[i];
		struct admin_reply r;

		if (skip_property(p->name) || p->is_default)
			continue;
		/* an int or bool without a value has nothing to copy */
		if (admin_prop_is_empty(p) && p->type != ADMIN_PROP_VM &&
		    p->type != ADMIN_PROP_LABEL)
			continue;
		if (cli_call(dst, "admin.vm.property.Set", p->name, p->value,
		        strlen(p->value), &r) < 0) {
			rc = -1;
			break;
		}
		if (!r.ok) {
			char msg[512];

			cli_errx("%s: failed to set %s property: %s", dst,
			    p->name, cli_exc_text(&r, msg, sizeof(msg)));
			if (!ignore_errors)
				rc = -1;
		}
		admin_reply_free(&r);
	}
	return rc;
}

static int
copy_tags(const char *src, const char *dst, bool ignore_errors)
{
	struct admin_strv tags = {NULL, 0};
	size_t i;
	int rc = 0;

	if (cli_call_lines(src, src, "admin.vm.tag.List", &tags) < 0)
		return -1;
	for (i = 0; i < tags.n && rc == 0; i++) {
		/* the daemon tags the copy with its own creator */
		if (strncmp(tags.v[i], "created-by-", 11) == 0)
			continue;
		if (cli_call_ok(dst, dst, "admin.vm.tag.Set", tags.v[i], NULL,
		        0, NULL) < 0 &&
		    !ignore_errors)
			rc = -1;
	}
	admin_strv_free(&tags);
	return rc;
}

static int
copy_features(const char *src, const char *dst, bool ignore_errors)
{
	struct cli_feature_list fl;
	size_t i;
	int rc = 0;

	if (cli_get_features(src, "", &fl) < 0)
		return -1;
	for (i = 0; i < fl.n && rc == 0; i++) {
		const struct cli_feature *f = &fl.f[i];

		/* preloaded disposables belong to the source (clone_vm()) */
		if (strncmp(f->name, "preload-dispvm", 14) == 0 &&
		    strcmp(f->name, "preload-dispvm-max") != 0)
			continue;
		if (cli_call_ok(dst, dst, "admin.vm.feature.Set", f->name,
		        f->value.data, f->value.len, NULL) < 0 &&
		    !ignore_errors)
			rc = -1;
	}
	cli_feature_list_free(&fl);
	return rc;
}

/* The firewall rules, as admin.vm.firewall.Get gives and Set takes them. */
static int
copy_firewall(
    const char *src, const char *dst, bool ignore_errors, int verbosity)
{
	struct admin_reply r;
	int rc;

	if (cli_call(src, "admin.vm.firewall.Get", NULL, NULL, 0, &r) < 0)
		return -1;
	if (!r.ok && r.exc == ADMIN_EXC_PROTOCOL) {
		/* a daemon without per-qube firewalls: nothing to copy */
		if (verbosity > 1)
			cli_errx("%s: no firewall to copy", src);
		admin_reply_free(&r);
		return 0;
	}
	if (!r.ok) {
		cli_print_exc(src, &r);
		admin_reply_free(&r);
		return ignore_errors ? 0 : -1;
	}
	rc = cli_call_ok(
	    dst, dst, "admin.vm.firewall.Set", NULL, r.data, r.len, NULL);
	admin_reply_free(&r);
	return rc < 0 && !ignore_errors ? -1 : 0;
}

/* The data of every persistent volume of dst, from src's. */
static int
copy_volumes(const char *src, const char *dst,
    const char *const *ignore_volumes, int verbosity)
{
	struct admin_strv vols = {NULL, 0};
	size_t i;
	int rc = 0;

	if (cli_call_lines(dst, dst, "admin.vm.volume.List", &vols) < 0)
		return -1;
	for (i = 0; i < vols.n && rc == 0; i++) {
		struct admin_reply info, token;
		bool persistent;

		if (cli_in_list(ignore_volumes, vols.v[i]))
			continue;
		if (volume_info(dst, vols.v[i], &info) < 0) {
			rc = -1;
			break;
		}
		persistent = info_true(&info, "save_on_stop");
		admin_reply_free(&info);
		if (!persistent)
			continue;
		if (verbosity > 1)
			cli_errx("%s: cloning %s volume", dst, vols.v[i]);
		if (cli_call_ok(src, src, "admin.vm.volume.CloneFrom",
		        vols.v[i], NULL, 0, &token) < 0) {
			rc = -1;
			break;
		}
		if (cli_call_ok(dst, dst, "admin.vm.volume.CloneTo", vols.v[i],
		        token.data, token.len, NULL) < 0)
			rc = -1;
		admin_reply_free(&token);
	}
	admin_strv_free(&vols);
	return rc;
}

/* Remove a half-made copy (it is new: nobody uses it). */
static void
remove_copy(const char *dst)
{
	struct admin_reply r;

	if (cli_call(dst, "admin.vm.Remove", NULL, NULL, 0, &r) == 0) {
		if (!r.ok)
			cli_print_exc(dst, &r);
		admin_reply_free(&r);
	}
}

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * " pool:VOLUME=POOL" for each -p, sorted by volume as Qubes' payload is;
 * a usage error for anything but one "=".
 */
char *
clone_pools_payload(struct admin_strv *pools)
{
	char *tail = cli_strdup("");
	size_t i;

	qsort(pools->v, pools->n, sizeof(*pools->v), cmp_strp);
	for (i = 0; i < pools->n; i++) {
		const char *eq = strchr(pools->v[i], '=');
		char *t;

		if (eq == NULL || eq == pools->v[i] || eq[1] == '\0' ||
		    strchr(eq + 1, '=') != NULL)
			cli_usage_fail("pool argument must be of form: -p "
			               "volume_name=pool_name");
		t = cli_asprintf("%s pool:%s", tail, pools->v[i]);
		free(tail);
		tail = t;
	}
	return tail;
}

int
clone_qube(const struct clone_opts *o)
{
	struct admin_prop_list sprops = {NULL, 0};
	struct admin_vm_list list = {NULL, 0};
	const char *template, *label, *method_prefix = "admin.vm.Create.";
	char *pools = NULL, *payload = NULL, *method = NULL;
	int rc = -1;

	/* the template and label to create it with */
	if (cli_fetch_props(o->src, false, &sprops) < 0)
		return -1;
	template = cli_props_value(&sprops, "template");
	label = cli_props_value(&sprops, "label");
	if (label == NULL) {
		cli_errx("%s: has no label", o->src);
		goto out;
	}
	if (o->pool != NULL) {
		pools = cli_asprintf(" pool=%s", o->pool);
	} else if (o->pools != NULL) {
		pools = cli_strdup(o->pools);
	} else {
		pools = source_pools(o->src, o->ignore_volumes);
		if (pools == NULL)
			goto out;
	}
	if (pools[0] != '\0')
		method_prefix = "admin.vm.CreateInPool.";
	method = cli_asprintf("%s%s", method_prefix, o->klass);
	payload = cli_asprintf("name=%s label=%s%s", o->dst, label, pools);
	if (cli_call_ok(o->dst, "dom0", method, template, payload,
	        strlen(payload), NULL) < 0)
		goto out;
	/* from here on, a failure removes the copy: nothing is left behind */
	if (cli_list_qubes(&list) < 0)
		goto out_remove;
	if (admin_vm_list_find(&list, o->dst) == NULL) {
		cli_errx("%s: not listed after its creation", o->dst);
		goto out_remove;
	}
	if (copy_properties(&sprops, o->dst, o->ignore_errors) < 0 ||
	    copy_tags(o->src, o->dst, o->ignore_errors) < 0 ||
	    copy_features(o->src, o->dst, o->ignore_errors) < 0 ||
	    copy_firewall(o->src, o->dst, o->ignore_errors, o->verbosity) < 0) {
		if (!o->ignore_errors)
			goto out_remove;
	}
	/* the data: a failure here always undoes the copy */
	if (copy_volumes(o->src, o->dst, o->ignore_volumes, o->verbosity) < 0)
		goto out_remove;
	rc = 0;
	goto out;
out_remove:
	remove_copy(o->dst);
out:
	free(method);
	free(payload);
	free(pools);
	admin_vm_list_free(&list);
	admin_prop_list_free(&sprops);
	return rc;
}
