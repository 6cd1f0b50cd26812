/*
 * qcmd.c - parse qrexec command lines and per-service configuration.
 *
 * Runs in qrexec-agent (commands from the daemon: admin-controlled, but
 * still checked) and in the admin-side executors.  Config files are local
 * and admin-written; the parser still bounds every length.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/proto/qrexec.h"
#include "lib/qcmd.h"
#include "lib/service.h"
#include "lib/util.h"

void
qcmd_free(struct qcmd *c)
{
	if (c == NULL)
		return;
	free(c->buf);
	free(c->descriptor);
	free(c->service_name);
	free(c->source_domain);
	free(c->force_user);
	free(c);
}

static char *
memdup_nul(const char *p, size_t n, size_t extra)
{
	char *s = malloc(n + extra + 1);

	if (s == NULL)
		return NULL;
	memcpy(s, p, n);
	memset(s + n, 0, extra + 1);
	return s;
}

#define FAIL(...)                                                              \
	do {                                                                   \
		(void)snprintf(err, errlen, __VA_ARGS__);                      \
		r = -EINVAL;                                                   \
		goto out_free;                                                 \
	} while (0)

int
qcmd_parse(const char *cmdline, bool with_user, struct qcmd **ret, char *err,
    size_t errlen)
{
	struct qcmd *c;
	char *p;
	int r = -ENOMEM;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->send_descriptor = true;
	c->buf = strdup(cmdline);
	if (c->buf == NULL)
		goto out_free;
	p = c->buf;
	if (with_user) {
		char *colon = strchr(p, ':');

		if (colon == NULL)
			FAIL("no user part (missing ':')");
		*colon = '\0';
		c->user = p;
		p = colon + 1;
	}
	if (str_startswith(p, QCMD_NOGUI_PREFIX)) {
		c->nogui = true;
		p += strlen(QCMD_NOGUI_PREFIX);
	}
	c->command = p;
	if (str_startswith(p, QCMD_RPC_PREFIX)) {
		const char *start, *end, *plus;
		size_t dlen, nlen;

		p += strlen(QCMD_RPC_PREFIX);
		if (*p != ' ')
			FAIL(QCMD_RPC_PREFIX " not followed by a space");
		start = ++p;
		c->rpc_words = start;
		end = strchr(start, ' ');
		if (end == NULL)
			FAIL("no source domain after the service");
		dlen = (size_t)(end - start);
		if (dlen == 0)
			FAIL("empty service descriptor");
		if (dlen > QREXEC_MAX_SERVICE_NAME_LEN)
			FAIL("service descriptor too long (%zu bytes)", dlen);
		if (!proto_service_valid(start, dlen))
			FAIL("invalid characters in service descriptor");
		plus = memchr(start, '+', dlen);
		nlen = plus ? (size_t)(plus - start) : dlen;
		if (nlen > NAME_MAX)
			FAIL("service name too long (%zu bytes)", nlen);
		c->service_name = memdup_nul(start, nlen, 0);
		c->descriptor = memdup_nul(start, dlen, plus ? 0 : 1);
		if (c->service_name == NULL || c->descriptor == NULL) {
			r = -ENOMEM;
			goto out_free;
		}
		if (plus == NULL)
			c->descriptor[dlen] = '+';
		c->arg = c->descriptor + nlen + 1;
		start = end + 1;
		end = strchrnul(start, ' ');
		if (end == start)
			FAIL("empty source domain");
		if (!proto_target_valid(start, (size_t)(end - start)))
			FAIL("invalid source domain");
		c->source_domain = memdup_nul(start, (size_t)(end - start), 0);
		if (c->source_domain == NULL) {
			r = -ENOMEM;
			goto out_free;
		}
		c->is_rpc = true;
	}
	*ret = c;
	return 0;
out_free:
	qcmd_free(c);
	return r;
}

#undef FAIL

/* ---- the TOML subset ---- */

enum conf_type {
	CONF_INVALID,
	CONF_BOOL,
	CONF_INT,
	CONF_STRING,
	CONF_TYPE_MAX
};

struct conf_value {
	enum conf_type type;
	bool b;
	unsigned long long i;
	const char *s; /* into the line */
	size_t slen;
};

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool
is_key_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z') || c == '.' || c == '-' || c == '_';
}

/* Parse the value at v (NUL-terminated line remainder). */
static const char *
conf_value_parse(const char *v, struct conf_value *out)
{
	const char *end;

	memset(out, 0, sizeof(*out));
	out->type = CONF_INVALID;
	if (*v == '0') {
		out->type = CONF_INT;
		out->i = 0;
		end = v + 1;
	} else if (*v >= '1' && *v <= '9') {
		unsigned long long x = 0;

		for (end = v; *end >= '0' && *end <= '9'; end++) {
			unsigned long long d = (unsigned long long)(*end - '0');

			/* exact: Qubes' strtoull takes up to ULLONG_MAX */
			if (x > (ULLONG_MAX - d) / 10)
				return "integer too large";
			x = x * 10 + d;
		}
		out->type = CONF_INT;
		out->i = x;
	} else if (strncmp(v, "true", 4) == 0) {
		out->type = CONF_BOOL;
		out->b = true;
		end = v + 4;
	} else if (strncmp(v, "false", 5) == 0) {
		out->type = CONF_BOOL;
		out->b = false;
		end = v + 5;
	} else if (*v == '"') {
		return "double-quoted strings are not supported, use single quotes";
	} else if (*v == '\'') {
		const char *close;

		if (v[1] == '\'' && v[2] == '\'')
			return "triple-quoted strings are not supported";
		close = strchr(v + 1, '\'');
		if (close == NULL)
			return "unterminated quoted string";
		out->type = CONF_STRING;
		out->s = v + 1;
		out->slen = (size_t)(close - v - 1);
		end = close + 1;
	} else if (*v == '\0') {
		return "missing value";
	} else {
		return "unsupported start of value";
	}
	while (is_blank(*end))
		end++;
	if (*end != '\0' && *end != '#') {
		return out->type == CONF_INT ?
		    "junk after integer (only decimal integers without "
		    "leading zeros are supported)" :
		    "junk after value";
	}
	return NULL;
}

int
qcmd_config_parse(struct qcmd *c, const char *name, const char *text,
    size_t len, char *err, size_t errlen)
{
	bool seen_wfs = false, seen_user = false, seen_skip = false,
	     seen_ceof = false, seen_seof = false;
	char line[4096];
	size_t pos = 0, lineno = 0;

	if (memchr(text, '\0', len) != NULL) {
		(void)snprintf(err, errlen, "%s: NUL byte in file", name);
		return -EINVAL;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
		struct conf_value v;
		const char *why, *eq;
		char *k;
		size_t klen;
		bool *seen;

		lineno++;
		if (ll >= sizeof(line)) {
			(void)snprintf(
			    err, errlen, "%s:%zu: line too long", name, lineno);
			return -EINVAL;
		}
		memcpy(line, text + pos, ll);
		line[ll] = '\0';
		pos += ll + (nl ? 1 : 0);
		if (ll > 0 && line[ll - 1] == '\r')
			line[--ll] = '\0';
		while (ll > 0 && is_blank(line[ll - 1]))
			line[--ll] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (line[0] == '[')
			why = "section headers are not supported";
		else if (is_blank(line[0]))
			why = "whitespace at start of line";
		else if (!((line[0] >= 'a' && line[0] <= 'z') ||
		             (line[0] >= 'A' && line[0] <= 'Z')))
			why = "invalid character at start of key";
		else
			why = NULL;
		if (why != NULL)
			goto bad;
		k = line;
		for (klen = 1; is_key_char(k[klen]); klen++)
			;
		eq = k + klen;
		while (is_blank(*eq))
			eq++;
		if (*eq != '=') {
			why = "missing '=' after key";
			goto bad;
		}
		eq++;
		while (is_blank(*eq))
			eq++;
		k[klen] = '\0';
		why = conf_value_parse(eq, &v);
		if (why != NULL)
			goto bad;

		if (strcmp(k, "wait-for-session") == 0) {
			seen = &seen_wfs;
			if (v.type == CONF_INT && v.i < 2)
				c->wait_for_session = v.i == 1;
			else if (v.type == CONF_BOOL)
				c->wait_for_session = v.b;
			else
				why =
				    "wait-for-session takes a boolean (or 0/1)";
		} else if (strcmp(k, "exit-on-client-eof") == 0) {
			seen = &seen_ceof;
			if (v.type == CONF_BOOL)
				c->exit_on_client_eof = v.b;
			else
				why = "exit-on-client-eof takes a boolean";
		} else if (strcmp(k, "exit-on-service-eof") == 0) {
			seen = &seen_seof;
			if (v.type == CONF_BOOL)
				c->exit_on_service_eof = v.b;
			else
				why = "exit-on-service-eof takes a boolean";
		} else if (strcmp(k, "skip-service-descriptor") == 0) {
			seen = &seen_skip;
			if (v.type == CONF_BOOL)
				c->send_descriptor = !v.b;
			else
				why = "skip-service-descriptor takes a boolean";
		} else if (strcmp(k, "force-user") == 0) {
			seen = &seen_user;
			if (v.type != CONF_STRING) {
				why = "force-user takes a quoted user name";
			} else if (v.slen == 0 || v.slen > 255 ||
			    memchr(v.s, ':', v.slen)) {
				why = "force-user: invalid user name";
			} else {
				free(c->force_user);
				c->force_user = strndup(v.s, v.slen);
				if (c->force_user == NULL)
					return -ENOMEM;
			}
		} else {
			/* unknown keys are ignored, as Qubes does */
			continue;
		}
		if (why == NULL && *seen)
			why = "key given twice";
		if (why != NULL)
			goto bad;
		*seen = true;
		continue;
bad:
		(void)snprintf(err, errlen, "%s:%zu: %s", name, lineno, why);
		return -EINVAL;
	}
	if (c->force_user != NULL &&
	    (!c->send_descriptor || c->exit_on_client_eof ||
	        c->exit_on_service_eof)) {
		(void)snprintf(err, errlen,
		    "%s: force-user cannot be combined with "
		    "skip-service-descriptor or exit-on-*-eof",
		    name);
		return -EINVAL;
	}
	return 0;
}

int
qcmd_load_config(
    struct qcmd *c, const char *config_path, char *err, size_t errlen)
{
	char path[PATH_MAX];
	char *text = NULL;
	struct stat st;
	int r, fd;
	ssize_t n;

	r = svc_find_file(
	    config_path, c->descriptor, path, sizeof(path), NULL, 0, NULL);
	if (r == -ENOENT)
		r = svc_find_file(config_path, c->service_name, path,
		    sizeof(path), NULL, 0, NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		(void)snprintf(err, errlen, "config for %s: %s", c->descriptor,
		    strerror(-r));
		return r;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -errno;
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > (off_t)QCMD_MAX_CONFIG_SIZE) {
		r = -EINVAL;
		(void)snprintf(err, errlen,
		    "%s: not a regular file of at most "
		    "%u bytes",
		    path, QCMD_MAX_CONFIG_SIZE);
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (text == NULL) {
		r = -ENOMEM;
		goto out;
	}
	n = read(fd, text, (size_t)st.st_size);
	if (n != (ssize_t)st.st_size) {
		r = n < 0 ? -errno : -EIO;
		(void)snprintf(err, errlen, "%s: short read", path);
		goto out;
	}
	r = qcmd_config_parse(c, path, text, (size_t)n, err, errlen);
out:
	free(text);
	if (fd >= 0)
		(void)close(fd);
	return r;
}
