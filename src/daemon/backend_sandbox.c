/*
 * backend_sandbox.c - the namespace-sandbox backend, bulkhead's embedded
 * default: each qube runs under bulkhead-sandbox (the small privileged
 * launcher) in its own namespaces, with its root built from its template.
 *
 * Runs in bulkheadd's main process (root).  It lays out the qube's
 * directories and hands the launcher a command line; the launcher checks
 * all of it again.
 *
 * Storage (Qubes' semantics):
 *   <state>/qubes/<name>/private   the private volume (/rw, /home), kept
 *   <state>/qubes/<name>/volatile  scratch and the root's upper layer,
 *                                  emptied at every start and stop
 *   <state>/qubes/<tpl>/root       a template's root tree
 *   <state>/qubes/host/etc         the host template's /etc (its /usr is
 *                                  the host's, read-only)
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/bulkheadd.h"
#include "lib/cgroup.h"
#include "lib/log.h"
#include "lib/util.h"
#include "sandbox/logcap.h"
#include "sandbox/sandbox.h"

int find_program(struct daemon *d, const char *name, char *out, size_t n);

/* Programs a qube gets in /run/bulkhead/bin. */
static const char *const qube_tools[] = {"bulkhead-init", "qrexec-agent",
    "qrexec-client-vm", "qfile-agent", "qfile-unpacker", "qvm-copy", "qvm-move",
    "qvm-copy-to-vm", "qvm-move-to-vm", "qopen-in-vm", "vm-file-editor",
    "qvm-open-in-vm", "qvm-open-in-dvm", "bulkhead-open", "qubes-vmexec",
    "qubes-startapp"};
/*
 * The GUI agent (a small Wayland compositor) and a test client, for qubes
 * whose feature "gui" is on: bulkhead-init starts the agent when it finds
 * it, and the GUI domain (bulkhead-guid) connects to it.  Off by default:
 * a qube without windows (most disposables, servers) pays nothing.
 */
static const char *const gui_tools[] = {
    "bulkhead-gui-agent", "bulkhead-gui-testclient"};
/*
 * The Admin API tools, for a management qube (feature "admin-tools"): in a
 * qube they make each call through qrexec (admin_client.c; qvm-run's
 * calls to other qubes go through qrexec-client-vm), so they can do only
 * what the policy grants that qube.
 */
static const char *const admin_tools[] = {"qvm-run", "qvm-ls", "qvm-prefs",
    "qubes-prefs", "qvm-check", "qvm-start", "qvm-shutdown", "qvm-kill",
    "qvm-pause", "qvm-unpause", "qvm-features", "qvm-tags", "qvm-service",
    "qvm-create", "qvm-remove", "qvm-volume"};

/*
 * bulkhead's own services for qubes (qubes.VMShell, ...): in the build
 * tree beside the programs, or installed under libexec.
 */
static int
find_agent_rpc_dir(struct daemon *d, char *out, size_t n)
{
	static const char *const rel[] = {
	    "/../qubes-rpc", "/../libexec/bulkhead/qubes-rpc"};
	static const char *const sys[] = {
	    "/usr/local/libexec/bulkhead/qubes-rpc",
	    "/usr/libexec/bulkhead/qubes-rpc"};
	char p[PATH_MAX], real[PATH_MAX];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rel); i++)
		if (str_printf(p, sizeof(p), "%s%s", d->cfg.bin_dir, rel[i]) ==
		        0 &&
		    realpath(p, real) != NULL)
			return str_copy(out, n, real);
	for (i = 0; i < ARRAY_SIZE(sys); i++)
		if (access(sys[i], F_OK) == 0)
			return str_copy(out, n, sys[i]);
	return -ENOENT;
}

static int
mkdir_owned(const char *p, mode_t mode, uid_t uid)
{
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	if (chown(p, uid, uid) < 0 || chmod(p, mode) < 0)
		return -errno;
	return 0;
}

/* A qube's private volume, made at its first start. */
static int
ensure_private(struct daemon *d, const char *name, uint32_t base)
{
	char p[PATH_MAX], home[PATH_MAX];
	struct stat st;
	int r;

	if (backend_qube_path(d, p, sizeof(p), name, "") < 0)
		return -ENAMETOOLONG;
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (backend_qube_path(d, p, sizeof(p), name, "private") < 0)
		return -ENAMETOOLONG;
	if (stat(p, &st) == 0)
		return 0;
	if ((r = mkdir_owned(p, 0755, base)) < 0)
		return r;
	(void)str_printf(home, sizeof(home), "%s/home", p);
	if ((r = mkdir_owned(home, 0755, base)) < 0)
		return r;
	(void)str_printf(home, sizeof(home), "%s/home/user", p);
	if ((r = mkdir_owned(home, 0700, base + SANDBOX_USER_UID)) < 0)
		return r;
	(void)str_printf(home, sizeof(home), "%s/config", p);
	if ((r = mkdir_owned(home, 0755, base)) < 0)
		return r;
	(void)str_printf(home, sizeof(home), "%s/usrlocal", p);
	return mkdir_owned(home, 0755, base);
}

int
backend_sandbox_ensure_private(struct daemon *d, const struct db_qube *q)
{
	return ensure_private(d, q->name, sandbox_uid_base(q->qid));
}

/* true if q is the embedded host template */
static bool
is_host_template(struct daemon *d, const struct db_qube *q)
{
	char *v = NULL;
	bool yes;

	yes = db_kv_get(&d->db, DB_FEATURES, q->qid, "bulkhead.host-template",
	          &v) > 0 &&
	    strcmp(v, "1") == 0;
	free(v);
	return yes;
}

/* The root layout arguments of q (its template's, for template-based). */
static int
root_args(struct daemon *d, const struct db_qube *q, struct running *r,
    struct argv *v, char *err, size_t errlen)
{
	enum qube_class k = qube_class_of(q);
	struct db_qube t = *q, dvm;
	char tname[64], p[PATH_MAX];

	if (k == QC_DISPVM) {
		/* a disposable's root is its DVM template's template's */
		if (backend_prop(d, q, "template", tname, sizeof(tname)) < 0 ||
		    db_qube_by_name(&d->db, tname, &dvm) < 0) {
			(void)snprintf(err, errlen, "no DVM template");
			return -ENOENT;
		}
		t = dvm;
		k = QC_APPVM;
	}
	if (k == QC_APPVM) {
		if (backend_prop(d, &t, "template", tname, sizeof(tname)) < 0 ||
		    db_qube_by_name(&d->db, tname, &t) < 0) {
			(void)snprintf(err, errlen, "no template");
			return -ENOENT;
		}
	}
	if (is_host_template(d, &t)) {
		if (qube_class_of(q) == QC_TEMPLATEVM) {
			(void)snprintf(err, errlen,
			    "%s is built from the host's "
			    "own files and cannot be started or changed; use a "
			    "real template (qvm-template install) to customise",
			    q->name);
			return -EPERM;
		}
		if (backend_qube_path(d, p, sizeof(p), t.name, "etc") < 0)
			return -ENAMETOOLONG;
		return argv_push(v, "--host-root=%s", p);
	}
	if (backend_qube_path(d, p, sizeof(p), t.name, "root") < 0)
		return -ENAMETOOLONG;
	if (access(p, F_OK) < 0) {
		(void)snprintf(
		    err, errlen, "%s has no root filesystem (%s)", t.name, p);
		return -ENOENT;
	}
	if (qube_class_of(q) == QC_STANDALONEVM)
		return argv_push(v, "--rw-root=%s,0", p);
	if (qube_class_of(q) == QC_TEMPLATEVM) {
		/* a template's own session writes straight to its root */
		return argv_push(v, "--rw-root=%s,0", p);
	}
	/* an AppVM runs on its template's last snapshot (snapshot.c) */
	if (snapshot_lower(d, &t, r->lower, sizeof(r->lower)) < 0)
		return -ENAMETOOLONG;
	return argv_push(v, "--lower=%s,0", r->lower);
}

/*
 * A qube's channel directory is its own small tmpfs.  The qube may write
 * any file there, not only sockets, and the directory is in bulkheadd's
 * run directory: on most hosts /run, a tmpfs every service of the host
 * shares, which a qube must not be able to fill.  A socket takes an inode
 * and no blocks: VCHAN_FS_INODES bounds the channels open at once (a
 * call takes one to three), VCHAN_FS_SIZE what else the qube puts there.
 * Past either, the qube's own calls fail; nothing else does.
 */
#define VCHAN_FS_SIZE   "1m"
#define VCHAN_FS_INODES 4096u

static int
vchan_mount(const char *dir, uint32_t base)
{
	char opts[128];

	(void)snprintf(opts, sizeof(opts),
	    "mode=01777,uid=%u,gid=%u,size=" VCHAN_FS_SIZE ",nr_inodes=%u",
	    base, base, VCHAN_FS_INODES);
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	        opts) < 0)
		return -errno;
	return 0;
}

/* After the qube: its channel directory's tmpfs goes (the directory is
 * removed next), then what every backend releases. */
static void
sb_cleanup(struct daemon *d, struct running *r)
{
	char vchan[PATH_MAX];

	if (str_printf(vchan, sizeof(vchan), "%s/vchan/%u", d->cfg.run_dir,
	        r->rt.domid) == 0 &&
	    umount2(vchan, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 &&
	    errno != EINVAL && errno != ENOENT)
		log_warn("%s: unmounting %s", r->name, vchan);
	backend_cleanup(d, r);
}

static int
sb_start(struct daemon *d, const struct db_qube *q, struct running *r,
    char *err, size_t errlen)
{
	uint32_t base = sandbox_uid_base(q->qid);
	char prog[PATH_MAX], p[PATH_MAX], vchan[PATH_MAX], log[PATH_MAX];
	char mem[16], cpus[16];
	struct argv v;
	size_t i;
	int rc;
	pid_t pid;

	memset(&v, 0, sizeof(v));
	if (find_program(d, "bulkhead-sandbox", prog, sizeof(prog)) < 0) {
		(void)snprintf(err, errlen, "bulkhead-sandbox not found");
		return -ENOENT;
	}
	if ((rc = ensure_private(d, q->name, base)) < 0) {
		(void)snprintf(
		    err, errlen, "private volume: %s", strerror(-rc));
		return rc;
	}
	/* a fresh volatile area at every start */
	if (backend_qube_path(d, p, sizeof(p), q->name, "volatile") < 0)
		return -ENAMETOOLONG;
	(void)fs_remove_tree(p);
	if (mkdir(p, 0700) < 0) {
		(void)snprintf(err, errlen, "%s: %s", p, strerror(errno));
		return -errno;
	}
	(void)str_printf(
	    vchan, sizeof(vchan), "%s/vchan/%u", d->cfg.run_dir, r->rt.domid);
	/*
	 * The qube's own channel directory, bound into it: every user of
	 * the qube makes channels there (qrexec-client-vm listens for its
	 * data), as any user of a Xen qube can.  Sticky, like /tmp.  Only
	 * this qube can reach it: <run>/vchan is root's alone.
	 */
	if ((rc = vchan_mount(vchan, base)) < 0) {
		(void)snprintf(err, errlen, "%s: %s", vchan, strerror(-rc));
		return rc;
	}
	/*
	 * Qubes starts a VM with "memory" and lets qmemman balloon it up to
	 * "maxmem" (0: no balancing, "memory" is all it gets).  A sandbox
	 * takes pages as it needs them, so its cgroup limit is the ceiling.
	 */
	if (backend_prop(d, q, "maxmem", mem, sizeof(mem)) < 0 ||
	    strcmp(mem, "0") == 0) {
		if (backend_prop(d, q, "memory", mem, sizeof(mem)) < 0)
			(void)str_copy(mem, sizeof(mem), "400");
	}
	if (backend_prop(d, q, "vcpus", cpus, sizeof(cpus)) < 0)
		(void)str_copy(cpus, sizeof(cpus), "2");
	rc = argv_push(&v, "bulkhead-sandbox");
	if (rc == 0)
		rc = argv_push(&v, "--name=%s", q->name);
	if (rc == 0)
		rc = argv_push(&v, "--qid=%u", q->qid);
	if (rc == 0)
		rc = argv_push(&v, "--domid=%u", r->rt.domid);
	if (rc == 0)
		rc = root_args(d, q, r, &v, err, errlen);
	if (rc == 0)
		rc = argv_push(&v, "--volatile=%s", p);
	if (rc == 0 &&
	    str_printf(p, sizeof(p), "%s/qubes/%s/root", d->cfg.run_dir,
	        q->name) == 0) {
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			rc = -errno;
		else
			rc = argv_push(&v, "--mountpoint=%s", p);
	}
	if (rc == 0 &&
	    backend_qube_path(d, p, sizeof(p), q->name, "private") == 0)
		rc = argv_push(&v, "--private=%s,%u", p, base);
	if (rc == 0 && qube_class_of(q) == QC_DISPVM) {
		/*
		 * a disposable's private: over its DVM template's as it was
		 * when it last shut down (snapshot.c), never the one a running
		 * DVM template writes to
		 */
		char tname[64];
		struct db_qube dvm;

		/* never a disposable over a private of its own instead */
		if (backend_prop(d, q, "template", tname, sizeof(tname)) < 0 ||
		    db_qube_by_name(&d->db, tname, &dvm) < 0) {
			(void)snprintf(
			    err, errlen, "its disposable template is gone");
			rc = -ENOENT;
		} else if ((rc = ensure_private(
		                d, dvm.name, sandbox_uid_base(dvm.qid))) < 0 ||
		    (rc = snapshot_private_lower(
		         d, &dvm, r->priv_lower, sizeof(r->priv_lower))) < 0) {
			(void)snprintf(err, errlen,
			    "the private volume of %s: %s", dvm.name,
			    strerror(-rc));
		} else {
			rc = argv_push(&v, "--private-lower=%s,%u",
			    r->priv_lower, sandbox_uid_base(dvm.qid));
		}
	}
	if (rc == 0)
		rc = argv_push(&v, "--vchan=%s", vchan);
	for (i = 0; rc == 0 && i < ARRAY_SIZE(qube_tools); i++)
		if (find_program(d, qube_tools[i], p, sizeof(p)) == 0)
			rc = argv_push(&v, "--tool=%s", p);
	if (backend_feature_on(d, q, "gui"))
		for (i = 0; rc == 0 && i < ARRAY_SIZE(gui_tools); i++)
			if (find_program(d, gui_tools[i], p, sizeof(p)) == 0)
				rc = argv_push(&v, "--tool=%s", p);
	if (backend_feature_on(d, q, "admin-tools"))
		for (i = 0; rc == 0 && i < ARRAY_SIZE(admin_tools); i++)
			if (find_program(d, admin_tools[i], p, sizeof(p)) == 0)
				rc = argv_push(&v, "--tool=%s", p);
	if (rc == 0 &&
	    str_printf(p, sizeof(p), "%s/qubes-rpc", d->cfg.conf_dir) == 0 &&
	    access(p, F_OK) == 0)
		rc = argv_push(&v, "--rpc-dir=%s", p);
	if (rc == 0 && find_agent_rpc_dir(d, p, sizeof(p)) == 0)
		rc = argv_push(&v, "--agent-rpc-dir=%s", p);
	if (rc == 0)
		rc = argv_push(&v, "--memory=%s", mem);
	if (rc == 0)
		rc = argv_push(&v, "--vcpus=%s", cpus);
	if (rc < 0) {
		if (err[0] == '\0')
			(void)snprintf(
			    err, errlen, "arguments: %s", strerror(-rc));
		return rc;
	}
	(void)str_printf(
	    log, sizeof(log), "%s/log/%s.log", d->cfg.state_dir, q->name);
	/* the launcher appends at most a run's limit of the qube's output
	 * (logcap.h): a log over it is moved to NAME.log.old first */
	if ((rc = logcap_rotate(log, logcap_limit())) < 0)
		log_warnx(
		    "%s: moving it aside: %s, ignoring", log, strerror(-rc));
	{
		const struct spawn_opts o = {.log = log, .fd3 = -1};

		pid = spawn_logged(prog, v.a, &o);
	}
	if (pid < 0)
		return (int)pid;
	r->init_pid = pid;
	return 0;
}

static int
sb_pause(struct daemon *d, struct running *r)
{
	struct timespec tick = {0, 2 * 1000 * 1000};
	char cg[MODEL_MAX_NAME + 16];
	int rc, i;

	if (cgroup_qube_name(cg, sizeof(cg), r->name, (int)r->init_pid) < 0)
		return -ENAMETOOLONG;
	/* no freezer (no cgroups for the qube): it cannot be paused */
	if (cgroup_qube_frozen(cg) < 0)
		return -ENOTSUP;
	rc = backend_sig_freeze(d, r);
	if (rc < 0)
		return rc;
	/*
	 * The launcher freezes the cgroup; Pause answers once no process
	 * of the qube runs.  A freeze normally takes a few milliseconds;
	 * one stuck in FREEZING (a task in uninterruptible sleep) is
	 * reported paused after a second, with a warning.
	 */
	for (i = 0; i < 500; i++) {
		rc = cgroup_qube_frozen(cg);
		if (rc != 0)
			break;
		(void)nanosleep(&tick, NULL);
	}
	if (rc < 0)
		return rc;
	if (rc == 0)
		log_warnx("%s: still freezing after a second", r->name);
	return 0;
}

static int
write_text(const char *dir, const char *name, const char *text, mode_t mode);

/*
 * The launcher removes the qube's cgroups as it exits; if it was killed
 * (SIGKILL), they are left: the qube's processes died with it (their
 * parent-death signal), so the cgroups are empty or soon will be.
 */
void
backend_remove_cgroups(const char *name)
{
	static const char *const ctrl[] = {
	    "memory", "pids", "cpu", "freezer", ""};
	struct timespec tick = {0, 10 * 1000 * 1000};
	char dir[PATH_MAX], f[PATH_MAX + 16], line[32];
	size_t i;
	int tries;

	for (i = 0; i < ARRAY_SIZE(ctrl); i++) {
		if (cgroup_qube_dir(ctrl[i], name, dir, sizeof(dir)) < 0 ||
		    access(dir, F_OK) < 0)
			continue;
		if (strcmp(ctrl[i], "freezer") == 0)
			(void)write_text(dir, "freezer.state", "THAWED", 0644);
		for (tries = 0; tries < 50 && rmdir(dir) < 0 && errno == EBUSY;
		     tries++) {
			FILE *fp;

			(void)str_printf(f, sizeof(f), "%s/cgroup.procs", dir);
			fp = fopen(f, "re");
			while (fp && fgets(line, sizeof(line), fp))
				(void)kill(atoi(line), SIGKILL);
			if (fp)
				(void)fclose(fp);
			(void)nanosleep(&tick, NULL);
		}
		if (access(dir, F_OK) == 0)
			log_warnx("%s: cgroup %s left behind", name, dir);
	}
}

const struct backend_ops backend_sandbox = {
    .name = "sandbox",
    .start = sb_start,
    .shutdown = backend_sig_shutdown,
    .kill = backend_sig_kill,
    .pause = sb_pause,
    .unpause = backend_sig_thaw,
    .cleanup = sb_cleanup,
};

/* ---- the embedded host template ---- */

/* What of the host's /etc a qube may see: no secrets, no host config. */
static const char *const etc_keep[] = {"alternatives", "bash.bashrc",
    "bash_completion", "bash_completion.d", "bindresvport.blacklist",
    "ca-certificates", "ca-certificates.conf", "debian_version", "deluser.conf",
    "environment", "fonts", "gai.conf", "host.conf", "inputrc", "issue",
    "issue.net", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "locale.alias",
    "locale.gen", "localtime", "login.defs", "magic", "magic.mime", "mailcap",
    "mailcap.order", "mime.types", "nsswitch.conf", "os-release", "profile",
    "profile.d", "protocols", "python3", "python3.11", "rpc", "services",
    "shells", "skel", "ssl", "terminfo", "timezone", "vim", "xdg", "X11",
    "gtk-3.0", "dconf", "perl", "ethertypes", "networks", "mke2fs.conf"};

static int
write_text(const char *dir, const char *name, const char *text, mode_t mode)
{
	char p[PATH_MAX];
	int fd, r = 0;

	if (str_printf(p, sizeof(p), "%s/%s", dir, name) < 0)
		return -ENAMETOOLONG;
	fd = open(
	    p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0)
		r = -errno;
	(void)close(fd);
	return r;
}

int
backend_sandbox_make_host_template(struct daemon *d, const char *name)
{
	char etc[PATH_MAX], tmp[PATH_MAX], src_pd[PATH_MAX];
	size_t i;
	pid_t pid;
	int status, r;

	if (backend_qube_path(d, etc, sizeof(etc), name, "") < 0)
		return -ENAMETOOLONG;
	if (mkdir(etc, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (backend_qube_path(d, etc, sizeof(etc), name, "etc") < 0 ||
	    str_printf(tmp, sizeof(tmp), "%s.new", etc) < 0)
		return -ENAMETOOLONG;
	(void)fs_remove_tree(tmp);
	if (mkdir(tmp, 0755) < 0)
		return -errno;
	for (i = 0; i < ARRAY_SIZE(etc_keep); i++) {
		char src[PATH_MAX];

		(void)str_printf(src, sizeof(src), "/etc/%s", etc_keep[i]);
		if (access(src, F_OK) < 0)
			continue;
		pid = fork();
		if (pid < 0)
			return -errno;
		if (pid == 0) {
			execl("/bin/cp", "cp", "-a", "--", src, tmp,
			    (char *)NULL);
			_exit(127);
		}
		(void)waitpid(pid, &status, 0);
	}
	/* the host's private keys are not for qubes (ssl/ is kept for its
	 * certificates) */
	(void)str_printf(src_pd, sizeof(src_pd), "%s/ssl/private", tmp);
	(void)fs_remove_tree(src_pd);
	/* accounts of the qube, not of the host */
	r = write_text(tmp, "passwd",
	    "root:x:0:0:root:/root:/bin/bash\n"
	    "user:x:1000:1000:user:/home/user:/bin/bash\n"
	    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
	    0644);
	if (r == 0)
		r = write_text(tmp, "group",
		    "root:x:0:\nqubes:x:98:user\nuser:x:1000:\n"
		    "nogroup:x:65534:\n",
		    0644);
	if (r == 0)
		r = write_text(tmp, "shadow",
		    "root:*:19000:0:99999:7:::\nuser:*:19000:0:99999:7:::\n",
		    0640);
	if (r == 0)
		r = write_text(tmp, "resolv.conf", "# no network yet\n", 0644);
	/* login shells reset PATH: keep the qube's qrexec tools on it */
	if (r == 0 &&
	    str_printf(src_pd, sizeof(src_pd), "%s/profile.d", tmp) == 0 &&
	    (mkdir(src_pd, 0755) == 0 || errno == EEXIST))
		r = write_text(
		    src_pd, "bulkhead.sh", SANDBOX_PROFILE_SNIPPET, 0644);
	if (r < 0)
		return r;
	(void)fs_remove_tree(etc);
	if (rename(tmp, etc) < 0)
		return -errno;
	log_info("%s: host template prepared (%s)", name, etc);
	return 0;
}
