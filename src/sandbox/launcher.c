/*
 * launcher.c - bulkhead-sandbox (PROC_SANDBOX): builds and supervises one
 * namespace qube.
 *
 * Runs as root, started by bulkheadd with the qube's layout on the command
 * line.  It trusts nothing about those arguments: every path is checked
 * (absolute, canonical, a directory or file of the expected owner) and
 * every number bounded before use.  After the qube starts it passes
 * signals on, moves what the qube writes to its stdout and stderr (a pipe,
 * the qube's bytes: copied, never parsed) into its log at most 4 MiB a
 * run (logcap.h; the rest is dropped, so no qube fills the host's disk
 * through its log), and cleans up.
 *
 * The qube's root is built in a private mount namespace: layers of a
 * template (or the host's own /usr for the embedded host template) are
 * mounted read-only through idmapped mounts, so the files' owners become
 * the qube's own uid range; writes go to an upper layer owned by that
 * range.  Then the qube is cloned into new user (uid range of
 * SANDBOX_ID_RANGE from its base), pid, mount, net (loopback only), ipc,
 * uts (hostname = its name) namespaces, and a cgroup namespace once it is
 * in its cgroups; it pivots into the new root, mounts a fresh /proc, drops
 * capabilities, sets no_new_privs, loads the seccomp filter and becomes
 * bulkhead-init.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/fsuid.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cgroup.h"
#include "lib/log.h"
#include "lib/proto/qrexec.h"
#include "lib/util.h"
#include "sandbox/logcap.h"
#include "sandbox/qcgroup.h"
#include "sandbox/sandbox.h"

#define MAX_LAYERS 64
#define MAX_TOOLS  32

struct layer {
	char path[PATH_MAX];
	uint32_t base; /* on-disk uid/gid base of its files */
};

struct args {
	char name[32];
	uint32_t qid;
	uint32_t domid; /* the qube's channel address (VCHAN_DOMAIN) */
	uint32_t base;
	bool host_root;          /* the embedded host template */
	char host_etc[PATH_MAX]; /* its /etc layer */
	struct layer lower[MAX_LAYERS];
	size_t nlower;
	char upper[PATH_MAX]; /* persistent upper (a template session) */
	bool rw_root;         /* own root, read-write (standalone) */
	char volatile_dir[PATH_MAX];
	char mountpoint[PATH_MAX]; /* where the root is assembled */
	struct layer priv;
	struct layer priv_lower; /* disposable: private is a snapshot */
	char vchan[PATH_MAX];
	char tools[MAX_TOOLS][PATH_MAX];
	size_t ntools;
	char rpc_dir[PATH_MAX];
	char agent_rpc_dir[PATH_MAX];
	uint32_t memory_mib, vcpus, pids;
};

static struct args A;

/* ---- argument checks ---- */

/*
 * A path argument: absolute, canonical (no symlink anywhere, no "..", no
 * "//"), of the given type, owned by root or by owner.
 */
static int
path_check(const char *p, bool dir, uid_t owner, char *out, size_t outlen)
{
	char real[PATH_MAX];
	struct stat st;

	if (p[0] != '/' || strlen(p) >= outlen || realpath(p, real) == NULL ||
	    strcmp(real, p) != 0)
		return -EINVAL;
	if (lstat(p, &st) < 0)
		return -errno;
	if (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_uid != 0 && st.st_uid != owner)
		return -EPERM;
	memcpy(out, p, strlen(p) + 1);
	return 0;
}

static int
layer_arg(const char *arg, struct layer *l, uint32_t owner)
{
	char tmp[PATH_MAX];
	const char *comma = strrchr(arg, ',');
	size_t n;

	if (comma == NULL)
		return -EINVAL;
	n = (size_t)(comma - arg);
	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, arg, n);
	tmp[n] = '\0';
	if (parse_u32(comma + 1, UINT32_MAX - SANDBOX_ID_RANGE, &l->base) < 0)
		return -EINVAL;
	return path_check(
	    tmp, true, owner ? owner : l->base, l->path, sizeof(l->path));
}

static void
usage(FILE *f, int code)
{
	(void)fprintf(f,
	    "usage: bulkhead-sandbox --name NAME --qid N [--domid N] [layout]\n"
	    "                        [limits]\n"
	    "\n"
	    "Build and run one namespace qube (started by bulkheadd).\n"
	    "\n"
	    "  --domid N                the qube's domain id this start, which\n"
	    "                           its agent answers to (default: N of\n"
	    "                           --qid)\n"
	    "Layout:\n"
	    "  --host-root ETCDIR       the host template: the host's /usr,\n"
	    "                           read-only, with ETCDIR as /etc\n"
	    "  --lower DIR,BASE         a read-only root layer whose files\n"
	    "                           have ids from BASE (repeat: top first)\n"
	    "  --upper DIR              keep writes here (with DIR/../work)\n"
	    "  --rw-root DIR,BASE       the qube's own root, read-write\n"
	    "  --volatile DIR           scratch space, emptied by bulkheadd\n"
	    "  --mountpoint DIR         where the root is assembled (its path\n"
	    "                           must be searchable by everyone)\n"
	    "  --private DIR,BASE       the private volume (/rw, /home)\n"
	    "  --private-lower DIR,BASE a disposable's private snapshot\n"
	    "  --vchan DIR              the qube's channel directory\n"
	    "  --tool FILE              a program for %s (repeat)\n"
	    "  --rpc-dir DIR            services for %s\n"
	    "  --agent-rpc-dir DIR      bulkhead's own services, for %s\n"
	    "Limits:\n"
	    "  --memory MIB --vcpus N --pids N\n"
	    "\n"
	    "Signals: SIGTERM shuts the qube down, SIGINT kills it,\n"
	    "SIGRTMIN+1 freezes it, SIGRTMIN+2 thaws it.\n"
	    "Exit status: the qube init's; 1 on a setup error; 2 on bad "
	    "usage.\n",
	    SANDBOX_TOOLS_DIR, SANDBOX_RPC_DIR, SANDBOX_AGENT_RPC_DIR);
	exit(code);
}

static void
parse_args(int argc, char **argv)
{
	enum {
		O_NAME = 0x100,
		O_QID,
		O_DOMID,
		O_HOST,
		O_LOWER,
		O_UPPER,
		O_RW,
		O_VOL,
		O_PRIV,
		O_PRIVL,
		O_VCHAN,
		O_TOOL,
		O_RPC,
		O_AGENT_RPC,
		O_MEM,
		O_CPU,
		O_PIDS,
		O_MNT,
	};
	static const struct option lo[] = {
	    {"name", required_argument, NULL, O_NAME},
	    {"qid", required_argument, NULL, O_QID},
	    {"domid", required_argument, NULL, O_DOMID},
	    {"host-root", required_argument, NULL, O_HOST},
	    {"lower", required_argument, NULL, O_LOWER},
	    {"upper", required_argument, NULL, O_UPPER},
	    {"rw-root", required_argument, NULL, O_RW},
	    {"volatile", required_argument, NULL, O_VOL},
	    {"private", required_argument, NULL, O_PRIV},
	    {"private-lower", required_argument, NULL, O_PRIVL},
	    {"vchan", required_argument, NULL, O_VCHAN},
	    {"tool", required_argument, NULL, O_TOOL},
	    {"rpc-dir", required_argument, NULL, O_RPC},
	    {"agent-rpc-dir", required_argument, NULL, O_AGENT_RPC},
	    {"memory", required_argument, NULL, O_MEM},
	    {"vcpus", required_argument, NULL, O_CPU},
	    {"pids", required_argument, NULL, O_PIDS},
	    {"mountpoint", required_argument, NULL, O_MNT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char *upper_arg = NULL, *priv_arg = NULL, *privl_arg = NULL;
	char *vchan_arg = NULL, *rw_arg = NULL;
	int opt, r = 0;

	A.pids = SANDBOX_DEFAULT_PIDS;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case O_NAME:
			if (!proto_qube_name_valid(optarg))
				goto bad;
			(void)str_copy(A.name, sizeof(A.name), optarg);
			break;
		case O_QID:
			if (parse_u32(optarg, 10000, &A.qid) < 0 || A.qid == 0)
				goto bad;
			break;
		case O_DOMID:
			/* bulkheadd's range: 1..0x7fef, as Xen's */
			if (parse_u32(optarg, 0x7fef, &A.domid) < 0 ||
			    A.domid == 0)
				goto bad;
			break;
		case O_HOST:
			A.host_root = true;
			r = path_check(
			    optarg, true, 0, A.host_etc, sizeof(A.host_etc));
			break;
		case O_LOWER:
			if (A.nlower == MAX_LAYERS)
				goto bad;
			r = layer_arg(optarg, &A.lower[A.nlower++], 0);
			break;
		case O_UPPER:
			upper_arg = optarg;
			break;
		case O_RW:
			rw_arg = optarg;
			break;
		case O_VOL:
			r = path_check(optarg, true, 0, A.volatile_dir,
			    sizeof(A.volatile_dir));
			break;
		case O_PRIV:
			priv_arg = optarg;
			break;
		case O_PRIVL:
			privl_arg = optarg;
			break;
		case O_VCHAN:
			vchan_arg = optarg;
			break;
		case O_TOOL:
			if (A.ntools == MAX_TOOLS)
				goto bad;
			r = path_check(
			    optarg, false, 0, A.tools[A.ntools++], PATH_MAX);
			break;
		case O_RPC:
			r = path_check(
			    optarg, true, 0, A.rpc_dir, sizeof(A.rpc_dir));
			break;
		case O_AGENT_RPC:
			r = path_check(optarg, true, 0, A.agent_rpc_dir,
			    sizeof(A.agent_rpc_dir));
			break;
		case O_MEM:
			if (parse_u32(optarg, 1048576, &A.memory_mib) < 0)
				goto bad;
			break;
		case O_CPU:
			if (parse_u32(optarg, 1024, &A.vcpus) < 0)
				goto bad;
			break;
		case O_MNT:
			r = path_check(optarg, true, 0, A.mountpoint,
			    sizeof(A.mountpoint));
			break;
		case O_PIDS:
			if (parse_u32(optarg, 1000000, &A.pids) < 0 ||
			    A.pids < 16)
				goto bad;
			break;
		case 'h':
			usage(stdout, 0);
			break;
		default:
			usage(stderr, 2);
		}
		if (r < 0) {
			(void)fprintf(stderr, "bulkhead-sandbox: %s: %s\n",
			    optarg, strerror(-r));
			exit(2);
		}
	}
	if (optind != argc || A.name[0] == '\0' || A.qid == 0 ||
	    A.volatile_dir[0] == '\0' || A.mountpoint[0] == '\0' ||
	    vchan_arg == NULL || A.ntools == 0)
		usage(stderr, 2);
	A.base = sandbox_uid_base(A.qid);
	/* the parts the qube writes must be its own (or root's) */
	if ((vchan_arg &&
	        path_check(vchan_arg, true, A.base, A.vchan, sizeof(A.vchan)) <
	            0) ||
	    (priv_arg && layer_arg(priv_arg, &A.priv, A.base) < 0) ||
	    (privl_arg && layer_arg(privl_arg, &A.priv_lower, 0) < 0) ||
	    (upper_arg &&
	        path_check(upper_arg, true, A.base, A.upper, sizeof(A.upper)) <
	            0))
		goto bad;
	if (rw_arg) {
		struct layer l;

		if (layer_arg(rw_arg, &l, 0) < 0)
			goto bad;
		A.rw_root = true;
		A.lower[0] = l;
		A.nlower = 1;
	}
	if (A.host_root + (A.nlower > 0) != 1)
		goto bad;
	return;
bad:
	(void)fprintf(stderr, "bulkhead-sandbox: invalid arguments\n");
	exit(2);
}

/* ---- cgroups ---- */

static struct qcg cg;

/* ---- idmapped mounts ---- */

static int
dummy_child(void *arg)
{
	(void)arg;
	for (;;)
		(void)pause();
	return 0;
}

/*
 * A user namespace mapping ids [from, from+RANGE) to [to, to+RANGE), for
 * idmapped mounts.  Returns an fd of it (the helper process is killed).
 */
static int
userns_map(uint32_t from, uint32_t to)
{
	static char stack[16384] __attribute__((aligned(16)));
	char p[64], m[64];
	pid_t pid;
	int fd, nsfd = -1, i;

	pid = clone(
	    dummy_child, stack + sizeof(stack), CLONE_NEWUSER | SIGCHLD, NULL);
	if (pid < 0)
		return -errno;
	(void)snprintf(m, sizeof(m), "%u %u %u", from, to, SANDBOX_ID_RANGE);
	for (i = 0; i < 2; i++) {
		(void)snprintf(p, sizeof(p), "/proc/%d/%s", (int)pid,
		    i ? "gid_map" : "uid_map");
		fd = open(p, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, m, strlen(m)) < 0) {
			if (fd >= 0)
				(void)close(fd);
			goto out;
		}
		(void)close(fd);
	}
	(void)snprintf(p, sizeof(p), "/proc/%d/ns/user", (int)pid);
	nsfd = open(p, O_RDONLY | O_CLOEXEC);
out:
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
	return nsfd < 0 ? -EIO : nsfd;
}

/*
 * The user namespaces made for idmapped mounts, by mapping: a root often
 * needs the same one twice (the host's /usr and /etc: 0 to the qube's
 * base), and each costs a process.  Closed before the qube is cloned.
 */
static struct {
	uint32_t from, to;
	int fd;
} idmaps[4];
static size_t nidmaps;

static int
userns_map_cached(uint32_t from, uint32_t to)
{
	size_t i;
	int fd;

	for (i = 0; i < nidmaps; i++)
		if (idmaps[i].from == from && idmaps[i].to == to)
			return idmaps[i].fd;
	fd = userns_map(from, to);
	if (fd >= 0 && nidmaps < ARRAY_SIZE(idmaps)) {
		idmaps[nidmaps].from = from;
		idmaps[nidmaps].to = to;
		idmaps[nidmaps++].fd = fd;
	}
	return fd;
}

static void
idmaps_close(void)
{
	while (nidmaps > 0)
		(void)close(idmaps[--nidmaps].fd);
}

static bool
idmap_cached(int fd)
{
	size_t i;

	for (i = 0; i < nidmaps; i++)
		if (idmaps[i].fd == fd)
			return true;
	return false;
}

/*
 * Mount src at dst (relative to dfd; "" for dfd itself) so that files with
 * ids from `from` show from `to`.
 */
static int
idmap_mount(const char *src, int dfd, const char *dst, uint32_t from,
    uint32_t to, bool ro)
{
	struct mount_attr at;
	int t, ns, r = 0;

	t = (int)syscall(
	    SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (t < 0)
		return -errno;
	memset(&at, 0, sizeof(at));
	at.attr_set =
	    (ro ? MOUNT_ATTR_RDONLY : 0) | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	if (from != to) {
		ns = userns_map_cached(from, to);
		if (ns < 0) {
			(void)close(t);
			return ns;
		}
		at.attr_set |= MOUNT_ATTR_IDMAP;
		at.userns_fd = (uint64_t)ns;
	} else {
		ns = -1;
	}
	if (syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH, &at, sizeof(at)) <
	        0 ||
	    syscall(SYS_move_mount, t, "", dfd, dst,
	        MOVE_MOUNT_F_EMPTY_PATH |
	            (dst[0] ? 0 : MOVE_MOUNT_T_EMPTY_PATH)) < 0)
		r = -errno;
	if (ns >= 0 && !idmap_cached(ns))
		(void)close(ns);
	(void)close(t);
	return r;
}

/* ---- the root filesystem ---- */

static char R[PATH_MAX]; /* where the qube's root is built */

/*
 * An O_PATH fd of R/rel, reached without following any symlink and
 * without leaving R; -errno (-ELOOP: a symlink on the way).
 *
 * What is under R is not the launcher's: a template's or a standalone's
 * root is that qube's to fill, the private volume (/rw) every qube's, and
 * a disposable's /rw shows its DVM template's private, which that
 * template may change while it runs.  A path through them given to
 * mount(2) would be resolved here, against the host's root and with all
 * of the host mounted: /rw/home -> / would bind the host's whole tree
 * into the qube.  So every path under R that the launcher mounts on or
 * from is opened here, and the mount is made through the fd: nothing can
 * swap a component between this check and the mount.  The paths R itself
 * (the mount point bulkheadd made) and those of the launcher's own
 * tmpfs are ours; a refused path fails the start, loudly.
 */
static int
open_in_root(const char *rel, bool dir)
{
	struct open_how how;
	int rfd, fd, e;

	rfd = open(R, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfd < 0)
		return -errno;
	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_CLOEXEC | (dir ? O_DIRECTORY : 0);
	how.resolve =
	    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	fd = (int)syscall(SYS_openat2, rfd, rel, &how, sizeof(how));
	e = errno;
	(void)close(rfd);
	return fd < 0 ? -e : fd;
}

/* open_in_root, with a warning naming the path when it is refused. */
static int
open_target(const char *rel, bool dir)
{
	int fd = open_in_root(rel, dir);

	if (fd < 0)
		log_warnx("%s/%s: %s", R, rel,
		    fd == -ELOOP ? "a symlink, refused as a mount point" :
		                   strerror(-fd));
	return fd;
}

/* The fd's path for the old mount(2) calls: "/proc/self/fd/N". */
static void
fd_path(int fd, char *out, size_t n)
{
	(void)snprintf(out, n, "/proc/self/fd/%d", fd);
}

/*
 * The directory R/rel as a path for mount(2), into p: R itself for "",
 * else the fd's path of it opened by open_target, the fd in *ret_fd (the
 * caller closes it once mounted; -1 for R).  0 or -errno (refused).
 */
static int
mount_dir(const char *rel, char *p, size_t n, int *ret_fd)
{
	int fd;

	*ret_fd = -1;
	if (rel[0] == '\0') {
		(void)str_copy(p, n, R);
		return 0;
	}
	if ((fd = open_target(rel, true)) < 0)
		return fd;
	fd_path(fd, p, n);
	*ret_fd = fd;
	return 0;
}

/* Attach the detached mount tree t at R/rel (see open_in_root). */
static int
attach_at(int t, const char *rel)
{
	int fd = open_target(rel, false), r = 0;

	if (fd < 0)
		return fd;
	if (syscall(SYS_move_mount, t, "", fd, "",
	        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		r = -errno;
	(void)close(fd);
	return r;
}

/* An idmapped mount of src at R/rel (see open_in_root). */
static int
idmap_mount_at(
    const char *src, const char *rel, uint32_t from, uint32_t to, bool ro)
{
	int fd = open_target(rel, true), r;

	if (fd < 0)
		return fd;
	r = idmap_mount(src, fd, "", from, to, ro);
	(void)close(fd);
	return r;
}

static int
mk(const char *rel, mode_t mode, uid_t uid)
{
	char p[PATH_MAX];
	int e;

	if (str_printf(p, sizeof(p), "%s/%s", R, rel) < 0)
		return -ENAMETOOLONG;
	e = mkdir(p, mode) < 0 ? errno : 0;
	if (e == EOVERFLOW) {
		/*
		 * An idmapped root of the qube's own (a template's or a
		 * standalone's) has no place for the host's root as owner:
		 * make it as the qube's root, which owns the root directory
		 * (on disk: id 0, as in any root filesystem).
		 */
		(void)setfsgid(A.base);
		(void)setfsuid(A.base);
		e = mkdir(p, mode) < 0 ? errno : 0;
		(void)setfsuid(0);
		(void)setfsgid(0);
	}
	if (e != 0 && e != EEXIST)
		return -e;
	/* never through a symlink (only our own tmpfs paths get an owner) */
	if (uid != (uid_t)-1 && lchown(p, uid, uid) < 0)
		return -errno;
	return 0;
}

/* Bind the host's src (a checked argument) at R/rel, read-only or not. */
static int
bind_at(const char *src, const char *rel, bool ro)
{
	struct mount_attr at;
	int t, r;

	t = (int)syscall(SYS_open_tree, AT_FDCWD, src,
	    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (t < 0)
		return -errno;
	memset(&at, 0, sizeof(at));
	at.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	if (ro &&
	    syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH | AT_RECURSIVE, &at,
	        sizeof(at)) < 0)
		r = -errno;
	else
		r = attach_at(t, rel);
	(void)close(t);
	return r;
}

/*
 * Bind R/from at R/to, both the qube's (/rw/home at /home).  A from that
 * is missing, or that a symlink leads to, is skipped with a warning: the
 * qube then has its root's own directory there and still starts.
 */
static int
bind_in_root(const char *from, const char *to)
{
	int s = open_in_root(from, true), t, r;

	if (s < 0) {
		if (s != -ENOENT)
			log_warnx("%s/%s: %s, not bound at /%s", R, from,
			    s == -ELOOP ? "a symlink" : strerror(-s), to);
		return 0;
	}
	t = (int)syscall(SYS_open_tree, s, "",
	    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
	r = t < 0 ? -errno : attach_at(t, to);
	if (t >= 0)
		(void)close(t);
	(void)close(s);
	return r;
}

static int
tmpfs(const char *rel, const char *mode, const char *size)
{
	char p[PATH_MAX], opt[128];
	int fd = -1, r = 0;

	if ((r = mount_dir(rel, p, sizeof(p), &fd)) < 0)
		return r;
	(void)snprintf(opt, sizeof(opt), "mode=%s,uid=%u,gid=%u,size=%s", mode,
	    A.base, A.base, size);
	if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, opt) < 0)
		r = -errno;
	if (fd >= 0)
		(void)close(fd);
	return r;
}

static int
write_in(const char *dir, const char *file, const char *text)
{
	char p[PATH_MAX];
	int fd, r = 0;

	if (str_printf(p, sizeof(p), "%s/%s", dir, file) < 0)
		return -ENAMETOOLONG;
	fd = open(
	    p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) < 0 || fchown(fd, A.base, A.base) < 0)
		r = -errno;
	(void)close(fd);
	return r;
}

/*
 * An overlay of the lower layers (top first) at rel.  An upper layer in
 * the volatile area (scratch: emptied at every start and stop) is mounted
 * "volatile": the kernel never syncs it, so unmounting it at the qube's
 * end does not wait for the disk (a journal commit, 5-30 ms here).  After
 * a crash such an upper is unusable, which is fine: it is never reused.
 */
static int
overlay(const char *rel, const struct layer *lw, size_t n, const char *upper,
    const char *work)
{
	bool scratch = upper != NULL &&
	    strncmp(upper, A.volatile_dir, strlen(A.volatile_dir)) == 0 &&
	    upper[strlen(A.volatile_dir)] == '/';
	char opt[8192], p[PATH_MAX];
	size_t i, used;
	int r, fd = -1;

	used = (size_t)snprintf(opt, sizeof(opt), "lowerdir=");
	for (i = 0; i < n; i++) {
		char mp[PATH_MAX];

		/* each layer through its own idmapped mount */
		if (str_printf(
		        mp, sizeof(mp), "%s/layer%zu", A.volatile_dir, i) < 0)
			return -ENAMETOOLONG;
		if (mkdir(mp, 0700) < 0 && errno != EEXIST)
			return -errno;
		r = idmap_mount(
		    lw[i].path, AT_FDCWD, mp, lw[i].base, A.base, true);
		if (r < 0) {
			log_warnx("idmapped mount of %s: %s", lw[i].path,
			    strerror(-r));
			return r;
		}
		used += (size_t)snprintf(
		    opt + used, sizeof(opt) - used, "%s%s", i ? ":" : "", mp);
		if (used >= sizeof(opt))
			return -ENAMETOOLONG;
	}
	if (upper)
		used += (size_t)snprintf(opt + used, sizeof(opt) - used,
		    ",upperdir=%s,workdir=%s", upper, work);
	if (used >= sizeof(opt))
		return -ENAMETOOLONG;
	if ((r = mount_dir(rel, p, sizeof(p), &fd)) < 0)
		return r;
	r = 0;
	if (scratch) {
		char vopt[sizeof(opt) + 16];

		(void)snprintf(vopt, sizeof(vopt), "%s,volatile", opt);
		if (mount("overlay", p, "overlay", MS_NOSUID | MS_NODEV,
		        vopt) == 0)
			goto out;
		/* before Linux 5.10 there is no "volatile": a synced upper */
		if (errno != EINVAL) {
			r = -errno;
			log_warn("overlay at %s/%s", R, rel);
			goto out;
		}
	}
	if (mount("overlay", p, "overlay", MS_NOSUID | MS_NODEV, opt) < 0) {
		r = -errno;
		log_warn("overlay at %s/%s", R, rel);
	}
out:
	if (fd >= 0)
		(void)close(fd);
	return r;
}

/*
 * The volatile area (the root's upper layer, a disposable's private
 * upper, the mount points of the lower layers) as a tmpfs of this
 * launcher's mount namespace, over the host directory bulkheadd made
 * empty: what the qube writes there is never on the host's disk, where
 * nothing would bound it (no quotas in the kernels bulkhead runs on).
 * Its pages are charged to the qube's memory cgroup (to whoever writes
 * them), and it holds at most half the qube's memory limit: a qube that
 * fills it gets ENOSPC, with the other half left to its processes, and
 * the host's filesystem never sees it.  It goes with the namespace when
 * the qube ends.  An overlay's upper on a tmpfs also mounts faster than
 * on ext4 (0.1 ms against 1.3-7 ms here).
 */
static int
volatile_tmpfs(void)
{
	uint32_t mib = A.memory_mib / 2 < 16 ? 16 : A.memory_mib / 2;
	char opt[96];

	/* without --memory (no limit): the kernel's default, half the RAM */
	if (A.memory_mib == 0)
		(void)snprintf(opt, sizeof(opt), "mode=0700");
	else
		(void)snprintf(opt, sizeof(opt),
		    "mode=0700,size=%um,nr_inodes=%u", mib, mib * 64u);
	if (mount("volatile", A.volatile_dir, "tmpfs", MS_NOSUID | MS_NODEV,
	        opt) < 0) {
		int e = errno;

		log_warn("tmpfs at %s", A.volatile_dir);
		return -e;
	}
	return 0;
}

/* A directory in the volatile area, owned by the qube's root. */
static int
vol_dir(const char *name, char *out, size_t n)
{
	if (str_printf(out, n, "%s/%s", A.volatile_dir, name) < 0)
		return -ENAMETOOLONG;
	if (mkdir(out, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (chown(out, A.base, A.base) < 0)
		return -errno;
	return 0;
}

static int
build_host_root(void)
{
	static const char *const top[] = {
	    "bin", "sbin", "lib", "lib32", "lib64", "libx32"};
	char up[PATH_MAX], wk[PATH_MAX];
	struct layer etc;
	size_t i;
	int r;

	r = tmpfs("", "0755", "16m");
	if (r < 0)
		return r;
	for (i = 0; i < ARRAY_SIZE(top); i++) {
		char host[64], link[PATH_MAX], p[PATH_MAX];
		struct stat st;
		ssize_t n;

		(void)snprintf(host, sizeof(host), "/%s", top[i]);
		if (lstat(host, &st) < 0)
			continue;
		(void)str_printf(p, sizeof(p), "%s/%s", R, top[i]);
		if (S_ISLNK(st.st_mode)) {
			/* merged /usr: bin -> usr/bin and so on */
			n = readlink(host, link, sizeof(link) - 1);
			if (n < 0)
				return -errno;
			link[n] = '\0';
			if (symlink(link, p) < 0)
				return -errno;
		} else if (S_ISDIR(st.st_mode)) {
			if ((r = mk(top[i], 0755, A.base)) < 0 ||
			    (r = idmap_mount_at(
			         host, top[i], 0, A.base, true)) < 0)
				return r;
		}
	}
	if ((r = mk("usr", 0755, A.base)) < 0)
		return r;
	r = idmap_mount_at("/usr", "usr", 0, A.base, true);
	if (r < 0)
		return r;
	/*
	 * /etc: the host template's own, with writes kept per session in
	 * memory, as those to its / and /var: a tmpfs of the launcher's (out
	 * of the qube's sight) holds the overlay's upper and work
	 * directories.  /etc changes are small, and an overlay on a tmpfs
	 * mounts in 0.1 ms, one on ext4 in 1.3-7 ms here (its checks make
	 * files in the work directory).
	 */
	{
		char dir[PATH_MAX];

		if ((r = vol_dir("etc", dir, sizeof(dir))) < 0)
			return r;
		if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV,
		        "mode=0700,size=16m") < 0)
			return -errno;
		if (str_printf(up, sizeof(up), "%s/upper", dir) < 0 ||
		    str_printf(wk, sizeof(wk), "%s/work", dir) < 0)
			return -ENAMETOOLONG;
		if (mkdir(up, 0755) < 0 || chown(up, A.base, A.base) < 0 ||
		    mkdir(wk, 0755) < 0 || chown(wk, A.base, A.base) < 0)
			return -errno;
	}
	if ((r = mk("etc", 0755, A.base)) < 0)
		return r;
	{
		char text[128];

		(void)snprintf(text, sizeof(text), "%s\n", A.name);
		if ((r = write_in(up, "hostname", text)) < 0)
			return r;
		(void)snprintf(text, sizeof(text),
		    "127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\tlocalhost\n",
		    A.name);
		if ((r = write_in(up, "hosts", text)) < 0)
			return r;
	}
	(void)str_copy(etc.path, sizeof(etc.path), A.host_etc);
	etc.base = 0;
	r = overlay("etc", &etc, 1, up, wk);
	if (r < 0)
		return r;
	/* /var is per session (the host's is not the qube's) */
	if ((r = mk("var", 0755, A.base)) < 0 ||
	    (r = tmpfs("var", "0755", "50%")) < 0)
		return r;
	for (i = 0; i < 4; i++) {
		static const char *const vd[] = {
		    "var/tmp", "var/log", "var/cache", "var/lib"};

		if ((r = mk(vd[i], i == 0 ? 01777 : 0755, A.base)) < 0)
			return r;
	}
	{
		char p[PATH_MAX];

		(void)str_printf(p, sizeof(p), "%s/var/run", R);
		if (symlink("../run", p) < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

static int
build_layered_root(void)
{
	char up[PATH_MAX], wk[PATH_MAX], p[PATH_MAX];
	int r;

	(void)str_printf(p, sizeof(p), "%s", R);
	if (A.rw_root)
		return idmap_mount(A.lower[0].path, AT_FDCWD, p,
		    A.lower[0].base, A.base, false);
	if (A.upper[0]) {
		/* a template's session: writes kept for its next snapshot */
		(void)str_copy(up, sizeof(up), A.upper);
		if (str_printf(wk, sizeof(wk), "%s/../work", A.upper) < 0)
			return -ENAMETOOLONG;
		if (mkdir(wk, 0700) < 0 && errno != EEXIST)
			return -errno;
	} else if ((r = vol_dir("upper", up, sizeof(up))) < 0 ||
	    (r = vol_dir("work", wk, sizeof(wk))) < 0) {
		return r;
	}
	return overlay("", A.lower, A.nlower, up, wk);
}

/* What every qube gets, whatever its root. */
static int
build_common(void)
{
	static const char *const dev[] = {
	    "null", "zero", "full", "random", "urandom", "tty"};
	char p[PATH_MAX];
	size_t i;
	int r;

	if ((r = mk("proc", 0555, (uid_t)-1)) < 0 ||
	    (r = mk("sys", 0555, (uid_t)-1)) < 0 ||
	    (r = mk("dev", 0755, (uid_t)-1)) < 0 ||
	    (r = mk("tmp", 01777, (uid_t)-1)) < 0 ||
	    (r = mk("run", 0755, (uid_t)-1)) < 0 ||
	    (r = mk("rw", 0755, (uid_t)-1)) < 0 ||
	    (r = mk("home", 0755, (uid_t)-1)) < 0 ||
	    (r = mk(".oldroot", 0700, (uid_t)-1)) < 0)
		return r;
	/* the qube's child pivots into .oldroot and mounts /proc and /sys
	 * by name: real directories, not symlinks the qube left */
	for (i = 0; i < 3; i++) {
		static const char *const byname[] = {".oldroot", "proc", "sys"};
		int fd = open_target(byname[i], true);

		if (fd < 0)
			return fd;
		(void)close(fd);
	}
	if ((r = tmpfs("tmp", "1777", "50%")) < 0 ||
	    (r = tmpfs("run", "0755", "64m")) < 0 ||
	    (r = tmpfs("dev", "0755", "1m")) < 0)
		return r;
	/* a minimal /dev: harmless character devices only */
	for (i = 0; i < ARRAY_SIZE(dev); i++) {
		int fd;

		(void)str_printf(p, sizeof(p), "%s/dev/%s", R, dev[i]);
		fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
		if (fd < 0)
			return -errno;
		(void)close(fd);
		(void)str_printf(p, sizeof(p), "/dev/%s", dev[i]);
		{
			char rel[32];

			(void)snprintf(rel, sizeof(rel), "dev/%s", dev[i]);
			if ((r = bind_at(p, rel, false)) < 0)
				return r;
		}
	}
	for (i = 0; i < 4; i++) {
		static const char *const ln[][2] = {{"/proc/self/fd", "fd"},
		    {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		    {"/proc/self/fd/2", "stderr"}};

		(void)str_printf(p, sizeof(p), "%s/dev/%s", R, ln[i][1]);
		if (symlink(ln[i][0], p) < 0)
			return -errno;
	}
	if ((r = mk("dev/pts", 0755, (uid_t)-1)) < 0 ||
	    (r = mk("dev/shm", 01777, A.base)) < 0)
		return r;
	(void)str_printf(p, sizeof(p), "%s/dev/ptmx", R);
	if (symlink("pts/ptmx", p) < 0)
		return -errno;
	/* the private volume: /rw, with /home and /usr/local in it */
	if (A.priv.path[0]) {
		if (A.priv_lower.path[0]) {
			char up[PATH_MAX], wk[PATH_MAX];

			if ((r = vol_dir("priv-upper", up, sizeof(up))) < 0 ||
			    (r = vol_dir("priv-work", wk, sizeof(wk))) < 0 ||
			    (r = overlay("rw", &A.priv_lower, 1, up, wk)) < 0)
				return r;
		} else if ((r = idmap_mount_at(A.priv.path, "rw", A.priv.base,
		                A.base, false)) < 0) {
			return r;
		}
		/* the qube's own files: through open_in_root only */
		if ((r = bind_in_root("rw/home", "home")) < 0)
			return r;
		if (A.host_root == false && !A.rw_root) {
			/* only where the root has a /usr/local */
			int ul = open_in_root("usr/local", true);

			if (ul >= 0)
				(void)close(ul);
			if (ul != -ENOENT &&
			    (r = bind_in_root("rw/usrlocal", "usr/local")) < 0)
				return r;
		}
	}
	/* channels, our programs and services */
	if ((r = mk("run/qubes", 0755, A.base)) < 0 ||
	    (r = mk("run/qubes-vchan", 0700, A.base)) < 0 ||
	    (r = bind_at(A.vchan, "run/qubes-vchan", false)) < 0 ||
	    (r = mk("run/bulkhead", 0755, (uid_t)-1)) < 0 ||
	    (r = mk("run/bulkhead/bin", 0755, (uid_t)-1)) < 0)
		return r;
	for (i = 0; i < A.ntools; i++) {
		const char *base = strrchr(A.tools[i], '/') + 1;
		char rel[PATH_MAX];
		int fd;

		(void)str_printf(rel, sizeof(rel), "run/bulkhead/bin/%s", base);
		(void)str_printf(p, sizeof(p), "%s/%s", R, rel);
		fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0755);
		if (fd < 0)
			return -errno;
		(void)close(fd);
		if ((r = bind_at(A.tools[i], rel, true)) < 0)
			return r;
	}
	if (A.rpc_dir[0]) {
		if ((r = mk("run/bulkhead/qubes-rpc", 0755, (uid_t)-1)) < 0 ||
		    (r = bind_at(A.rpc_dir, "run/bulkhead/qubes-rpc", true)) <
		        0)
			return r;
	}
	if (A.agent_rpc_dir[0]) {
		if ((r = mk("run/bulkhead/agent-rpc", 0755, (uid_t)-1)) < 0 ||
		    (r = bind_at(
		         A.agent_rpc_dir, "run/bulkhead/agent-rpc", true)) < 0)
			return r;
	}
	return 0;
}

/* ---- the qube ---- */

static int go_pipe[2];
/* the qube's stdout and stderr: [1] its, [0] the launcher's */
static int out_pipe[2] = {-1, -1};

/* Capabilities the qube's root keeps, inside its own user namespace. */
static const cap_value_t keep_caps[] = {CAP_CHOWN, CAP_DAC_OVERRIDE,
    CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_KILL, CAP_SETGID,
    CAP_SETUID, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_AUDIT_WRITE,
    CAP_SETFCAP};

static int
drop_caps(void)
{
	cap_value_t c;
	cap_t caps;
	size_t i;
	int r = 0;

	for (c = 0; c <= CAP_LAST_CAP; c++) {
		bool keep = false;

		for (i = 0; i < ARRAY_SIZE(keep_caps); i++)
			keep |= keep_caps[i] == c;
		if (!keep && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			return -errno;
	}
	caps = cap_init();
	if (caps == NULL)
		return -ENOMEM;
	if (cap_set_flag(caps, CAP_PERMITTED, ARRAY_SIZE(keep_caps), keep_caps,
	        CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, ARRAY_SIZE(keep_caps), keep_caps,
	        CAP_SET) < 0 ||
	    cap_set_flag(caps, CAP_INHERITABLE, ARRAY_SIZE(keep_caps),
	        keep_caps, CAP_SET) < 0 ||
	    cap_set_proc(caps) < 0)
		r = -errno;
	(void)cap_free(caps);
	/* no ambient capabilities: a program started as root inherits them
	 * through exec only as root does, never as another user */
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return r;
}

static void
loopback_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (s < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	(void)str_copy(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		(void)ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	(void)close(s);
}

static int
qube_child(void)
{
	char init[PATH_MAX], c;
	sigset_t none;

	(void)close(go_pipe[1]);
	/* what the qube writes goes through the launcher (its limit); it
	 * reads nothing of ours (our stdin may be the admin's terminal) */
	if (fd_stdin_null() < 0 || dup2(out_pipe[1], 1) < 0 ||
	    dup2(out_pipe[1], 2) < 0)
		_exit(1);
	(void)close(out_pipe[0]);
	(void)close(out_pipe[1]);
	/* the qube dies with its supervisor: never an unwatched qube */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
		_exit(1);
	/*
	 * Into the qube's cgroups (v1; born in its v2 one), by itself while
	 * the launcher writes the id maps: a thread that moves itself costs
	 * the kernel no grace period, where the launcher moving this
	 * process would (see qcgroup.c).  Still host root's uid, unmapped,
	 * so the cgroup files (root's) are writable; nothing of the qube
	 * runs yet.
	 */
	qcg_join(&cg, 0);
	if (read(go_pipe[0], &c, 1) != 1)
		_exit(1);
	(void)close(go_pipe[0]);
	/*
	 * Its cgroup namespace only now, after the join above, so the
	 * namespace's root is the qube's own cgroup.  Made at the clone,
	 * the root was the launcher's cgroup (the host's hierarchy above
	 * and beside the qube's), and /proc/self/cgroup showed the qube's
	 * cgroups by their host paths.
	 */
	if (unshare(CLONE_NEWCGROUP) < 0)
		_exit(1);
	/*
	 * Still host root's uid (unmapped here), with every capability of
	 * the new user namespace: reach the root wherever the admin keeps
	 * it (its path need not be searchable by the qube's ids), then
	 * become the qube's root.
	 */
	if (sethostname(A.name, strlen(A.name)) < 0)
		_exit(1);
	loopback_up();
	/*
	 * The root was built by the launcher, so in this user namespace its
	 * mounts are locked, and pivot_root refuses a locked new root: bind
	 * it onto itself first (the copy is ours; what is under it stays
	 * locked to it).
	 */
	if (mount(R, R, NULL, MS_BIND | MS_REC, NULL) < 0 || chdir(R) < 0 ||
	    syscall(SYS_pivot_root, ".", ".oldroot") < 0 || chdir("/") < 0) {
		perror("bulkhead-sandbox: pivot_root");
		_exit(1);
	}
	/* a /proc of the qube's own pid namespace */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	        NULL) < 0) {
		perror("bulkhead-sandbox: mount /proc");
		_exit(1);
	}
	if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
	        "newinstance,ptmxmode=0666,mode=0620") < 0)
		perror("bulkhead-sandbox: devpts");
	(void)mount("sysfs", "/sys", "sysfs",
	    MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	/*
	 * Unmounted, not removed: in a root of the qube's own (a template's,
	 * a standalone's) the directory is the next start's mount point.
	 */
	if (umount2("/.oldroot", MNT_DETACH) < 0) {
		perror("bulkhead-sandbox: leaving the host's root");
		_exit(1);
	}
	/* the maps are written: become the first id of the qube's range */
	if (setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 ||
	    setresuid(0, 0, 0) < 0) {
		perror("bulkhead-sandbox: becoming the qube's root");
		_exit(1);
	}
	/* the uid change cleared the parent-death signal: set it again */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(1);
	if (drop_caps() < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		perror("bulkhead-sandbox: capabilities");
		_exit(1);
	}
	if (sandbox_seccomp_load() < 0) {
		(void)fprintf(stderr, "bulkhead-sandbox: seccomp failed\n");
		_exit(1);
	}
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	(void)snprintf(
	    init, sizeof(init), "%s/bulkhead-init", SANDBOX_TOOLS_DIR);
	{
		/* instrumented test builds: LeakSanitizer needs ptrace,
		 * which the filter denies */
		const char *ubsan = getenv("UBSAN_OPTIONS");
		char ubsan_copy[256] = "";

		if (ubsan)
			(void)str_copy(ubsan_copy, sizeof(ubsan_copy), ubsan);
		(void)clearenv();
		(void)setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
		if (ubsan_copy[0])
			(void)setenv("UBSAN_OPTIONS", ubsan_copy, 1);
	}
	(void)setenv("PATH",
	    SANDBOX_TOOLS_DIR ":/usr/local/sbin:/usr/local/"
	                      "bin:/usr/sbin:/usr/bin:/sbin:/bin",
	    1);
	(void)setenv("BULKHEAD_QUBE", A.name, 1);
	{
		char id[16];

		(void)snprintf(id, sizeof(id), "%u", A.domid ? A.domid : A.qid);
		(void)setenv("VCHAN_DOMAIN", id, 1);
	}
	execl(init, "bulkhead-init", (char *)NULL);
	perror("bulkhead-sandbox: exec bulkhead-init");
	_exit(127);
}

static int
write_map(pid_t pid, const char *file)
{
	char p[64], m[64];
	int fd, r = 0;

	(void)snprintf(p, sizeof(p), "/proc/%d/%s", (int)pid, file);
	(void)snprintf(m, sizeof(m), "0 %u %u", A.base, SANDBOX_ID_RANGE);
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, m, strlen(m)) < 0)
		r = -errno;
	(void)close(fd);
	return r;
}

int
main(int argc, char **argv)
{
	struct signalfd_siginfo si;
	/* the qube's output into this process's stderr, bulkheadd's log of
	 * the qube (which moves an over-size one aside before a start) */
	struct logcap out = {.in = -1, .out = STDERR_FILENO, .what = "output"};
	sigset_t mask;
	pid_t child;
	int sfd, r, status = 0;

	log_init("bulkhead-sandbox", 1);
	parse_args(argc, argv);
	log_set_qube(A.name);
	if (geteuid() != 0) {
		log_warnx("must run as root");
		return 1;
	}
	/* the qube's new root must be reachable once it is no longer host
	 * root: it is assembled under a searchable path */
	(void)str_copy(R, sizeof(R), A.mountpoint);
	/* everything below happens in a mount namespace of our own */
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fatal("mount namespace");
	r = volatile_tmpfs();
	if (r == 0)
		r = A.host_root ? build_host_root() : build_layered_root();
	if (r == 0)
		r = build_common();
	idmaps_close();
	if (r == 0)
		(void)qcg_setup(&cg, A.name, A.memory_mib, A.pids, A.vcpus);
	if (r < 0) {
		errno = -r;
		log_warn("building the qube's root");
		qcg_cleanup(&cg);
		return 1;
	}

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SANDBOX_SIG_FREEZE);
	sigaddset(&mask, SANDBOX_SIG_THAW);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	if (pipe2(go_pipe, O_CLOEXEC) < 0 || pipe2(out_pipe, O_CLOEXEC) < 0 ||
	    fcntl(out_pipe[0], F_SETFL, O_NONBLOCK) < 0)
		fatal("pipe");
	child = qcg_fork(&cg,
	    CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWNET |
	        CLONE_NEWIPC | CLONE_NEWUTS);
	if (child == 0)
		_exit(qube_child());
	if (child < 0) {
		errno = -child;
		log_warn("clone");
		qcg_cleanup(&cg);
		return 1;
	}
	(void)close(go_pipe[0]);
	(void)close(out_pipe[1]);
	if (write_map(child, "uid_map") < 0 ||
	    write_map(child, "gid_map") < 0 || write(go_pipe[1], "g", 1) != 1) {
		log_warn("uid/gid map");
		(void)kill(child, SIGKILL);
	}
	(void)close(go_pipe[1]);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0)
		fatal("signalfd");
	log_info("started (pid %d)", (int)child);

	/* supervise: pass signals on until the qube's init is gone */
	out.in = out_pipe[0];
	out.max = logcap_limit();
	for (;;) {
		struct pollfd p[2] = {{sfd, POLLIN, 0}, {out.in, POLLIN, 0}};

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			fatal("poll");
		if (p[1].revents != 0)
			logcap_pump(&out);
		if (p[0].revents == 0 ||
		    read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		if (si.ssi_signo == SIGCHLD) {
			pid_t w = waitpid(child, &status, WNOHANG);

			if (w == child)
				break;
			continue;
		}
		if ((int)si.ssi_signo == SANDBOX_SIG_FREEZE)
			qcg_freeze(&cg, true);
		else if ((int)si.ssi_signo == SANDBOX_SIG_THAW)
			qcg_freeze(&cg, false);
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGHUP)
			(void)kill(child, SIGTERM);
		else if (si.ssi_signo == SIGINT) {
			qcg_freeze(&cg, false);
			(void)kill(
			    child, SIGKILL); /* the whole pid namespace */
		}
	}
	/* what the qube wrote last (its processes are gone with its init) */
	logcap_pump(&out);
	if (out.in >= 0)
		(void)close(out.in);
	qcg_cleanup(&cg);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
