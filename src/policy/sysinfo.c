/*
 * sysinfo.c - system information for policy evaluation: Qubes'
 * internal.GetSystemInfo JSON, from a file or from the admin daemon's
 * internal socket, checked and indexed by name and UUID.
 *
 * Runs in qrexec-policy-daemon (unprivileged) and qrexec-policy-eval.  The
 * JSON comes from bulkheadd (more trusted than any qube) or the admin's
 * file, but it carries names that qubes chose (qube names, tags set
 * through features): every string is checked against a character set and
 * a length before it is kept, and one bad entry rejects the document.
 */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/io.h"
#include "lib/sock.h"
#include "policy/internal.h"

struct sysinfo {
	unsigned refs;
	struct sysinfo_domain *doms;
	size_t n;
	/* open addressing: name -> index + 1, uuid -> index + 1 */
	uint32_t *by_name;
	uint32_t *by_uuid;
	size_t cap;
	uint32_t *sorted; /* indexes in name order */
};

static void
domain_clear(struct sysinfo_domain *d)
{
	size_t i;

	free(d->name);
	free(d->uuid);
	free(d->type);
	for (i = 0; i < d->ntags; i++)
		free(d->tags[i]);
	free(d->tags);
	free(d->default_dispvm);
	free(d->power_state);
	free(d->guivm);
	free(d->relayvm);
	free(d->transport_rpc);
}

static void
sysinfo_free(struct sysinfo *si)
{
	size_t i;

	for (i = 0; i < si->n; i++)
		domain_clear(&si->doms[i]);
	free(si->doms);
	free(si->by_name);
	free(si->by_uuid);
	free(si->sorted);
	free(si);
}

struct sysinfo *
sysinfo_ref(struct sysinfo *si)
{
	if (si != NULL)
		si->refs++;
	return si;
}

void
sysinfo_unref(struct sysinfo *si)
{
	if (si != NULL && --si->refs == 0)
		sysinfo_free(si);
}

size_t
sysinfo_sorted_index(const struct sysinfo *si, size_t i)
{
	return si->sorted[i];
}

size_t
sysinfo_count(const struct sysinfo *si)
{
	return si->n;
}

const struct sysinfo_domain *
sysinfo_at(const struct sysinfo *si, size_t i)
{
	return i < si->n ? &si->doms[i] : NULL;
}

static const struct sysinfo_domain *
lookup(
    const struct sysinfo *si, const uint32_t *table, const char *key, bool uuid)
{
	size_t mask = si->cap - 1, i = policy_hash(key) & mask;

	while (table[i] != 0) {
		const struct sysinfo_domain *d = &si->doms[table[i] - 1];

		if (strcmp(uuid ? d->uuid : d->name, key) == 0)
			return d;
		i = (i + 1) & mask;
	}
	return NULL;
}

const struct sysinfo_domain *
sysinfo_find(const struct sysinfo *si, const char *key)
{
	if (si == NULL || si->cap == 0)
		return NULL;
	if (strncmp(key, "uuid:", 5) == 0)
		return lookup(si, si->by_uuid, key + 5, true);
	return lookup(si, si->by_name, key, false);
}

bool
sysinfo_has_tag(const struct sysinfo_domain *d, const char *tag)
{
	size_t i;

	for (i = 0; i < d->ntags; i++)
		if (strcmp(d->tags[i], tag) == 0)
			return true;
	return false;
}

/* Tags, classes, power states: printable ASCII, no space, bounded. */
static bool
word_valid(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (i >= max || s[i] <= ' ' || s[i] >= 0x7f)
			return false;
	return i > 0;
}

static int
fail(char *err, size_t errlen, const char *name, const char *what)
{
	char q[80];

	if (name != NULL)
		policy_fmt(err, errlen, "domain '%s': %s",
		    policy_quote(q, sizeof(q), name), what);
	else
		policy_fmt(err, errlen, "%s", what);
	return -EBADMSG;
}

/* A string member: absent or null gives NULL; otherwise checked. */
static int
get_str(json_t *obj, const char *key, bool name, bool required, char **ret)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	*ret = NULL;
	if (v == NULL || json_is_null(v))
		return required ? -EBADMSG : 0;
	if (!json_is_string(v))
		return -EBADMSG;
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return -EBADMSG; /* an embedded NUL */
	if (name ? !policy_qube_name_valid(s) :
	           !word_valid(s, SYSINFO_MAX_STR_LEN))
		return -EBADMSG;
	*ret = strdup(s);
	return *ret == NULL ? -ENOMEM : 0;
}

static int
get_bool(json_t *obj, const char *key, bool *ret)
{
	json_t *v = json_object_get(obj, key);

	*ret = false;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return -EBADMSG;
	*ret = json_is_true(v);
	return 0;
}

static int
parse_domain(const char *name, json_t *o, struct sysinfo_domain *d, char *err,
    size_t errlen)
{
	json_t *tags, *v;
	size_t i;
	int r;

	if (!policy_qube_name_valid(name))
		return fail(err, errlen, name, "invalid qube name");
	if (!json_is_object(o))
		return fail(err, errlen, name, "not an object");
	d->name = strdup(name);
	if (d->name == NULL)
		return -ENOMEM;
	d->is_dom0 = strcmp(name, "dom0") == 0;
	v = json_object_get(o, "uuid");
	if (v != NULL && !json_is_null(v)) {
		if (!json_is_string(v) ||
		    json_string_length(v) != SYSINFO_UUID_LEN ||
		    !policy_uuid_valid(json_string_value(v)))
			return fail(err, errlen, name, "invalid uuid");
		d->uuid = strdup(json_string_value(v));
		if (d->uuid == NULL)
			return -ENOMEM;
	}
	r = get_str(o, "type", false, true, &d->type);
	if (r == -EBADMSG)
		return fail(err, errlen, name, "missing or invalid type");
	if (r < 0)
		return r;
	r = get_str(o, "default_dispvm", true, false, &d->default_dispvm);
	if (r == 0)
		r = get_str(o, "guivm", true, false, &d->guivm);
	if (r == 0)
		r = get_str(o, "relayvm", true, false, &d->relayvm);
	if (r == -EBADMSG)
		return fail(err, errlen, name,
		    "invalid default_dispvm, guivm or relayvm");
	if (r < 0)
		return r;
	r = get_str(o, "transport_rpc", false, false, &d->transport_rpc);
	if (r == 0 && d->transport_rpc != NULL &&
	    !policy_service_name_valid(
	        d->transport_rpc, strlen(d->transport_rpc)))
		r = -EBADMSG;
	if (r == 0)
		r = get_str(o, "power_state", false, false, &d->power_state);
	if (r == -EBADMSG)
		return fail(
		    err, errlen, name, "invalid transport_rpc or power_state");
	if (r < 0)
		return r;
	if (d->power_state == NULL && (d->power_state = strdup("")) == NULL)
		return -ENOMEM;
	if (get_bool(o, "template_for_dispvms", &d->template_for_dispvms) < 0 ||
	    get_bool(o, "internal", &d->internal) < 0)
		return fail(err, errlen, name,
		    "template_for_dispvms and internal must be booleans");
	tags = json_object_get(o, "tags");
	if (tags == NULL || json_is_null(tags))
		return 0;
	if (!json_is_array(tags) || json_array_size(tags) > SYSINFO_MAX_TAGS)
		return fail(err, errlen, name, "invalid or too many tags");
	d->tags = calloc(json_array_size(tags) + 1, sizeof(*d->tags));
	if (d->tags == NULL)
		return -ENOMEM;
	for (i = 0; i < json_array_size(tags); i++) {
		json_t *t = json_array_get(tags, i);

		if (!json_is_string(t) ||
		    strlen(json_string_value(t)) != json_string_length(t) ||
		    !word_valid(json_string_value(t), SYSINFO_MAX_TAG_LEN))
			return fail(err, errlen, name, "invalid tag");
		d->tags[i] = strdup(json_string_value(t));
		if (d->tags[i] == NULL)
			return -ENOMEM;
		d->ntags++;
	}
	return 0;
}

static int
index_insert(struct sysinfo *si, uint32_t *table, const char *key, uint32_t idx,
    bool uuid)
{
	size_t mask = si->cap - 1, i = policy_hash(key) & mask;

	while (table[i] != 0) {
		const struct sysinfo_domain *d = &si->doms[table[i] - 1];

		if (strcmp(uuid ? d->uuid : d->name, key) == 0)
			return -EEXIST;
		i = (i + 1) & mask;
	}
	table[i] = idx + 1;
	return 0;
}

/*
 * qsort has no context argument; sysinfo_parse() runs in one thread of
 * every process that calls it.
 */
static const struct sysinfo *sort_ctx;

static int
cmp_by_name(const void *a, const void *b)
{
	return strcmp(sort_ctx->doms[*(const uint32_t *)a].name,
	    sort_ctx->doms[*(const uint32_t *)b].name);
}

int
sysinfo_parse(const char *untrusted_json, size_t len, struct sysinfo **ret,
    char *err, size_t errlen)
{
	struct sysinfo *si;
	json_error_t jerr;
	json_t *root, *domains, *v;
	const char *name;
	size_t i;
	int r = 0;

	if (len > SYSINFO_MAX_JSON_LEN)
		return fail(err, errlen, NULL, "system information too large");
	root = json_loadb(untrusted_json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		policy_fmt(err, errlen, "invalid JSON at line %d: %s",
		    jerr.line, jerr.text);
		return -EBADMSG;
	}
	domains = json_object_get(root, "domains");
	if (!json_is_object(root) || !json_is_object(domains)) {
		json_decref(root);
		return fail(err, errlen, NULL, "no \"domains\" object");
	}
	if (json_object_size(domains) > SYSINFO_MAX_DOMAINS) {
		json_decref(root);
		return fail(err, errlen, NULL, "too many domains");
	}
	si = calloc(1, sizeof(*si));
	if (si == NULL) {
		json_decref(root);
		return -ENOMEM;
	}
	si->refs = 1;
	si->doms = calloc(json_object_size(domains) + 1, sizeof(*si->doms));
	si->cap = 16;
	while (si->cap < json_object_size(domains) * 2 + 2)
		si->cap *= 2;
	si->by_name = calloc(si->cap, sizeof(*si->by_name));
	si->by_uuid = calloc(si->cap, sizeof(*si->by_uuid));
	if (si->doms == NULL || si->by_name == NULL || si->by_uuid == NULL)
		r = -ENOMEM;
	json_object_foreach(domains, name, v)
	{
		if (r < 0)
			break;
		r = parse_domain(name, v, &si->doms[si->n], err, errlen);
		si->n++;
		if (r < 0)
			break;
		if (index_insert(si, si->by_name, name, (uint32_t)(si->n - 1),
		        false) < 0)
			r = fail(err, errlen, name, "duplicate name");
		else if (si->doms[si->n - 1].uuid != NULL &&
		    index_insert(si, si->by_uuid, si->doms[si->n - 1].uuid,
		        (uint32_t)(si->n - 1), true) < 0)
			r = fail(err, errlen, name, "duplicate uuid");
	}
	json_decref(root);
	if (r < 0) {
		if (r == -ENOMEM)
			policy_fmt(err, errlen, "out of memory");
		sysinfo_free(si);
		return r;
	}
	si->sorted = calloc(si->n + 1, sizeof(*si->sorted));
	if (si->sorted == NULL) {
		policy_fmt(err, errlen, "out of memory");
		sysinfo_free(si);
		return -ENOMEM;
	}
	for (i = 0; i < si->n; i++)
		si->sorted[i] = (uint32_t)i;
	sort_ctx = si;
	qsort(si->sorted, si->n, sizeof(*si->sorted), cmp_by_name);
	sort_ctx = NULL;
	/* names referring to other domains need not exist (Qubes' neither) */
	*ret = si;
	return 0;
}

int
sysinfo_load_file(
    const char *path, struct sysinfo **ret, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		r = -errno;
		policy_fmt(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	r = io_read_to_eof(fd, SYSINFO_MAX_JSON_LEN, &buf, &len);
	(void)close(fd);
	if (r < 0) {
		policy_fmt(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	r = sysinfo_parse(buf, len, ret, err, errlen);
	free(buf);
	return r;
}

int
sysinfo_fetch(const char *socket_path, bool qubes_format, int timeout_ms,
    struct sysinfo **ret, char *err, size_t errlen)
{
	static const char bulkhead_req[] = "internal.GetSystemInfo\0dom0\0dom0"
	                                   "\0";
	static const char qubes_req[] = "internal.GetSystemInfo+ dom0 name "
	                                "dom0";
	const char *req = qubes_format ? qubes_req : bulkhead_req;
	/* both end with one more NUL: the literal's own */
	size_t reqlen = qubes_format ? sizeof(qubes_req) : sizeof(bulkhead_req);
	char *buf = NULL;
	size_t len = 0;
	uint64_t deadline;
	int fd, r;

	/* one deadline for the whole exchange, as policy.h promises */
	deadline = io_deadline(timeout_ms);
	fd = sock_connect_until(socket_path, deadline);
	if (fd < 0) {
		policy_fmt(err, errlen, "%s: %s", socket_path, strerror(-fd));
		return fd;
	}
	r = io_write_all_until(fd, req, reqlen, deadline);
	if (r < 0)
		goto out_close;
	(void)shutdown(fd, SHUT_WR);
	r = io_read_to_eof_until(
	    fd, SYSINFO_MAX_JSON_LEN + 2, deadline, &buf, &len);
	if (r < 0)
		goto out_close;
	if (len >= 2 && buf[0] == '0' && buf[1] == '\0') {
		r = sysinfo_parse(buf + 2, len - 2, ret, err, errlen);
		free(buf);
		(void)close(fd);
		return r;
	}
	if (len >= 2 && buf[0] == '2' && buf[1] == '\0') {
		char q[128];

		policy_fmt(err, errlen, "%s: exception %s", socket_path,
		    policy_quote(q, sizeof(q), buf + 2));
	} else {
		policy_fmt(err, errlen, "%s: invalid reply", socket_path);
	}
	free(buf);
	(void)close(fd);
	return -EBADMSG;

out_close:
	(void)close(fd);
	policy_fmt(err, errlen, "%s: %s", socket_path, strerror(-r));
	return r;
}
