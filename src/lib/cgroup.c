/*
 * cgroup.c - the rule that names a qube's cgroups (see cgroup.h).
 */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int
cgroup_own(const char *ctrl, char *out, size_t n)
{
	char line[4096 + 64];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int r = -ENOENT;

	if (f == NULL)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2, *nl, *tok, *save;
		bool match = false;

		if (c1 == NULL || (c2 = strchr(c1 + 1, ':')) == NULL)
			continue;
		*c2 = '\0';
		nl = strchr(c2 + 1, '\n');
		if (nl)
			*nl = '\0';
		/* "hier-id:ctrl[,ctrl...]:path" (v1) or "0::path" (v2) */
		if (ctrl[0] == '\0')
			match = c1[1] == '\0';
		else
			for (tok = strtok_r(c1 + 1, ",", &save); tok && !match;
			     tok = strtok_r(NULL, ",", &save))
				match = strcmp(tok, ctrl) == 0;
		if (match) {
			r = str_copy(out, n, c2 + 1);
			break;
		}
	}
	(void)fclose(f);
	return r;
}

/* The last component of own if it is CGROUP_SELF ("/" before it), or NULL. */
static char *
self_leaf(char *own)
{
	char *last = strrchr(own, '/');

	return last != NULL && strcmp(last + 1, CGROUP_SELF) == 0 ? last : NULL;
}

/*
 * v2: the cgroup the qubes' cgroups are made in: the caller's, or its
 * parent when the caller is in CGROUP_SELF (bulkheadd stepped aside into
 * it, and the launchers it starts are there too).
 */

static int
qubes_parent_v2(char *out, size_t n)
{
	char *last;
	int r = cgroup_own("", out, n);

	if (r < 0)
		return r;
	if ((last = self_leaf(out)) != NULL)
		last[last == out ? 1 : 0] = '\0';
	return 0;
}

int
cgroup_qube_dir(const char *ctrl, const char *name, char *out, size_t n)
{
	char root[64], own[4096];
	struct stat st;
	int r;

	/* v2 is the unified root only when no v1 hierarchy is mounted */
	r = ctrl[0] == '\0' ?
	    str_copy(root, sizeof(root), "/sys/fs/cgroup") :
	    str_printf(root, sizeof(root), "/sys/fs/cgroup/%s", ctrl);
	if (r < 0)
		return r;
	if (ctrl[0] == '\0' ?
	        stat("/sys/fs/cgroup/cgroup.controllers", &st) < 0 :
	        stat(root, &st) < 0)
		return -ENOENT;
	r = ctrl[0] == '\0' ? qubes_parent_v2(own, sizeof(own)) :
	                      cgroup_own(ctrl, own, sizeof(own));
	if (r < 0)
		return r;
	return str_printf(out, n, "%s%s/bulkhead-%s", root,
	    strcmp(own, "/") ? own : "", name);
}

int
cgroup_write(const char *dir, const char *file, const char *val)
{
	char p[4200];
	int fd, r = 0;

	if (str_printf(p, sizeof(p), "%s/%s", dir, file) < 0)
		return -ENAMETOOLONG;
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		r = -errno;
	(void)close(fd);
	return r;
}

int
cgroup_v2_enable(void)
{
	char own[4096], p[4200];
	struct stat st;
	int r;

	/* v1 hierarchies mounted: the qubes' limits are there */
	if (stat("/sys/fs/cgroup/cgroup.controllers", &st) < 0)
		return 0;
	r = qubes_parent_v2(own, sizeof(own));
	if (r < 0)
		return r;
	if (str_printf(p, sizeof(p), "/sys/fs/cgroup%s",
	        strcmp(own, "/") ? own : "") < 0)
		return -ENAMETOOLONG;
	return cgroup_write(p, "cgroup.subtree_control", "+memory +pids +cpu");
}

int
cgroup_v2_step_aside(void)
{
	char own[4096], p[4200];
	struct stat st;
	int r;

	if (stat("/sys/fs/cgroup/cgroup.controllers", &st) < 0)
		return 0;
	r = cgroup_own("", own, sizeof(own));
	if (r < 0)
		return r;
	if (strcmp(own, "/") == 0 || self_leaf(own) != NULL)
		return 0;
	if (str_printf(p, sizeof(p), "/sys/fs/cgroup%s/" CGROUP_SELF, own) < 0)
		return -ENAMETOOLONG;
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return -errno;
	/* "0": the writer, a whole process */
	return cgroup_write(p, "cgroup.procs", "0");
}

int
cgroup_qube_name(char *out, size_t n, const char *qube, int launcher)
{
	return str_printf(out, n, "%s-%d", qube, launcher);
}

static int
read_small(const char *dir, const char *file, char *buf, size_t n)
{
	char p[4200];
	ssize_t got;
	int fd;

	if (str_printf(p, sizeof(p), "%s/%s", dir, file) < 0)
		return -ENAMETOOLONG;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	got = read(fd, buf, n - 1);
	(void)close(fd);
	if (got < 0)
		return -errno;
	buf[got] = '\0';
	return 0;
}

int
cgroup_qube_frozen(const char *name)
{
	char dir[4200], buf[512];

	if (cgroup_qube_dir("freezer", name, dir, sizeof(dir)) == 0 &&
	    read_small(dir, "freezer.state", buf, sizeof(buf)) == 0)
		return strncmp(buf, "FROZEN", 6) == 0;
	if (cgroup_qube_dir("", name, dir, sizeof(dir)) == 0 &&
	    read_small(dir, "cgroup.events", buf, sizeof(buf)) == 0)
		return strstr(buf, "frozen 1") != NULL;
	return -ENOENT;
}
