/*
 * backend_vm.c - the QEMU backend (virt_mode=vm): each qube is a virtual
 * machine run by bulkhead-vm (src/vm/launcher.c), its qrexec channels
 * carried over a virtio-serial port by bulkhead-vmux.
 *
 * Runs in bulkheadd's main process (root).  It lays out the qube's disk
 * images and hands the launcher a command line, which the launcher checks
 * again.  Nothing here reads a byte from a qube.
 *
 * Storage (Qubes' semantics, as image files):
 *   <state>/qubes/<tpl>/root.img         a template's root (ext4), made
 *                                        from its root tree at its first
 *                                        VM start (mkfs.ext4 -d, no loop
 *                                        mount); authoritative after that
 *   <state>/qubes/<tpl>/root-snap.img    a copy of root.img made while
 *                                        the template was halted: what
 *                                        its AppVMs and disposables start
 *                                        over (template_snapshot)
 *   <state>/qubes/<name>/volatile/       root.qcow2 (an AppVM's or a
 *                                        disposable's copy-on-write root
 *                                        over its template's
 *                                        root-snap.img),
 *                                        private.qcow2 (a disposable's
 *                                        over its DVM template's
 *                                        private-snap.img);
 *                                        thrown away at every start and
 *                                        stop
 *   <state>/qubes/<name>/private.img     the private volume (/rw), kept
 *   <state>/qubes/<dvm>/private-snap.img a copy of a DVM template's
 *                                        private.img made while it was
 *                                        halted: what its disposables
 *                                        start over (image_snapshot)
 *   <state>/qubes/<name>/private.img.rev-<ms>
 *                                        what it held before the last
 *                                        start (PRIVATE_REVISIONS kept;
 *                                        qvm-volume revert)
 *   <state>/vm-kernels/<version>/        the kernel pool
 *                                        (bulkhead-vm-kernel install)
 *   <run>/vm/initramfs-<version>.cpio    the initramfs with bulkhead's
 *                                        in-qube programs, made by
 *                                        bulkhead-vm-kernel from this
 *                                        build's programs
 *   <run>/vm/initramfs-<version>-gui.cpio
 *                                        the same with the GUI agent, for
 *                                        qubes with the feature "gui"
 *   <run>/qubes/<name>/gui-pool          where the launcher keeps a GUI
 *                                        qube's pool ("PID FD BYTES")
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daemon/bulkheadd.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/util.h"
#include "sandbox/sandbox.h"

int find_program(struct daemon *d, const char *name, char *out, size_t n);

#define QEMU_BINARY "/usr/bin/qemu-system-x86_64"
#define QEMU_IMG    "/usr/bin/qemu-img"
#define MKFS_EXT4   "/usr/sbin/mkfs.ext4"

/* A new private volume's size (sparse: it costs what is written). */
#define PRIVATE_SIZE "2G"
/* Revisions of the private image kept (Qubes' revisions_to_keep). */
#define PRIVATE_REVISIONS 1
/* <state>/qubes/<name>/private.img.rev-<ms since the epoch> */
#define REV_PREFIX "private.img.rev-"

/* What goes into the initramfs: bulkhead's programs for qubes. */
static const char *const vm_tools[] = {"bulkhead-init", "bulkhead-vmux",
    "qrexec-agent", "qrexec-client-vm", "qfile-agent", "qfile-unpacker",
    "qvm-copy", "qvm-move", "qvm-copy-to-vm", "qvm-move-to-vm", "qopen-in-vm",
    "vm-file-editor", "qvm-open-in-vm", "qvm-open-in-dvm", "bulkhead-open",
    "qubes-vmexec", "qubes-startapp"};
/*
 * And for qubes with the feature "gui" (when they are built): the GUI
 * agent, which the guest's init starts when it finds the pool's device,
 * and the test client.  In an initramfs of their own: they and their
 * libraries (wayland, xkbcommon, pixman, libffi, libm) are ~2.5 MB that
 * every other VM would copy at boot under emulation.
 */
static const char *const vm_gui_tools[] = {
    "bulkhead-gui-agent", "bulkhead-gui-testclient"};
/* The GUI pool's size (MiB): --gui-pool of the launcher. */
#define VM_GUI_POOL_MIB 64

/* The i-th program of the initramfs (gui: with the GUI tools), or NULL. */
static const char *
vm_tool(size_t i, bool gui)
{
	if (i < ARRAY_SIZE(vm_tools))
		return vm_tools[i];
	i -= ARRAY_SIZE(vm_tools);
	return gui && i < ARRAY_SIZE(vm_gui_tools) ? vm_gui_tools[i] : NULL;
}

int
backend_vm_available(struct daemon *d, char *err, size_t errlen)
{
	char p[PATH_MAX];

	if (access(QEMU_BINARY, X_OK) < 0 || access(QEMU_IMG, X_OK) < 0) {
		(void)snprintf(err, errlen,
		    "QEMU is not installed (apt-get install qemu-system-x86 "
		    "qemu-utils)");
		return -ENOENT;
	}
	if (access(MKFS_EXT4, X_OK) < 0) {
		(void)snprintf(err, errlen, "mkfs.ext4 is missing (e2fsprogs)");
		return -ENOENT;
	}
	if (find_program(d, "bulkhead-vm", p, sizeof(p)) < 0 ||
	    find_program(d, "bulkhead-vmux", p, sizeof(p)) < 0 ||
	    find_program(d, "bulkhead-vm-kernel", p, sizeof(p)) < 0) {
		(void)snprintf(err, errlen,
		    "bulkhead's VM programs (bulkhead-vm, bulkhead-vmux, "
		    "bulkhead-vm-kernel) are not installed");
		return -ENOENT;
	}
	return 0;
}

/*
 * Which accelerator tells the truth here: KVM only with hardware
 * virtualisation (vmx or svm) and not through kvm_pvm, which cannot boot
 * a stock kernel (shared/reference/vm-backend.md: it hangs); else TCG,
 * with a warning, once.
 */
static const char *
vm_accel_auto(void)
{
	static int warned;
	char line[4096];
	bool hw = false;
	FILE *f;

	if (access("/sys/module/kvm_pvm", F_OK) < 0 &&
	    access("/dev/kvm", R_OK | W_OK) == 0 &&
	    (f = fopen("/proc/cpuinfo", "re")) != NULL) {
		while (!hw && fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, "flags", 5) == 0)
				hw = strstr(line, " vmx") != NULL ||
				    strstr(line, " svm") != NULL;
		(void)fclose(f);
	}
	if (hw)
		return "kvm";
	if (!warned++)
		log_warnx("no usable KVM here (no vmx/svm, or kvm_pvm): VM "
		          "qubes run under QEMU's TCG emulation, much slower");
	return "tcg";
}

/* Wait for a program run_start started: 0 if it exited 0, or -EIO. */
static int
run_finish(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

/* Start argv, its output to log: its pid (run_finish it), or -errno. */
static pid_t
run_start(char *const *argv, const char *log)
{
	const struct spawn_opts o = {.log = log, .fd3 = -1};

	return spawn_logged(argv[0], argv, &o);
}

/* Run argv, wait for it; its output goes to log.  0 or -EIO. */
static int
run_wait(char *const *argv, const char *log)
{
	pid_t pid = run_start(argv, log);

	return pid < 0 ? (int)pid : run_finish(pid);
}

/* A kernel version: a file name of the pool, nothing else. */
static bool
version_ok(const char *v)
{
	size_t i;

	if (v[0] == '\0' || v[0] == '.' || strlen(v) > 64)
		return false;
	for (i = 0; v[i] != '\0'; i++)
		if (!(v[i] >= 'a' && v[i] <= 'z') &&
		    !(v[i] >= 'A' && v[i] <= 'Z') &&
		    !(v[i] >= '0' && v[i] <= '9') && !strchr("._+-", v[i]))
			return false;
	return true;
}

/* The qube's kernel version: its "kernel" property, or the pool's default. */
static int
kernel_version(struct daemon *d, const struct db_qube *q, char *out, size_t n,
    char *err, size_t errlen)
{
	char p[PATH_MAX];
	FILE *f;

	if (backend_prop(d, q, "kernel", out, n) < 0 || out[0] == '\0' ||
	    strcmp(out, "default") == 0) {
		(void)str_printf(
		    p, sizeof(p), "%s/vm-kernels/default", d->cfg.state_dir);
		f = fopen(p, "re");
		if (f == NULL || fgets(out, (int)n, f) == NULL) {
			if (f != NULL)
				(void)fclose(f);
			(void)snprintf(err, errlen,
			    "no VM kernel installed (bulkhead-vm-kernel "
			    "install)");
			return -ENOENT;
		}
		(void)fclose(f);
		out[strcspn(out, "\n")] = '\0';
	}
	if (!version_ok(out)) {
		(void)snprintf(
		    err, errlen, "kernel: not a version of the pool");
		return -EINVAL;
	}
	(void)str_printf(
	    p, sizeof(p), "%s/vm-kernels/%s/vmlinux", d->cfg.state_dir, out);
	if (access(p, R_OK) < 0) {
		(void)snprintf(err, errlen,
		    "kernel %s is not in the pool (bulkhead-vm-kernel "
		    "install)",
		    out);
		return -ENOENT;
	}
	return 0;
}

/* Newer than every one of bulkhead's programs that go into it? */
static bool
initramfs_fresh(struct daemon *d, const char *path, bool gui)
{
	char p[PATH_MAX];
	struct stat st, t;
	const char *tool;
	size_t i;

	if (stat(path, &st) < 0)
		return false;
	if (find_program(d, "bulkhead-vm-kernel", p, sizeof(p)) == 0 &&
	    stat(p, &t) == 0 && t.st_mtime >= st.st_mtime)
		return false;
	for (i = 0; (tool = vm_tool(i, gui)) != NULL; i++)
		if (find_program(d, tool, p, sizeof(p)) == 0 &&
		    stat(p, &t) == 0 && t.st_mtime >= st.st_mtime)
			return false;
	/* and newer than the /init it packs (beside bulkhead-vm-kernel) */
	if (find_program(d, "bulkhead-vm-kernel", p, sizeof(p)) == 0 &&
	    strrchr(p, '/') != NULL &&
	    str_printf(strrchr(p, '/') + 1,
	        sizeof(p) - (size_t)(strrchr(p, '/') + 1 - p),
	        "initramfs-init") == 0 &&
	    stat(p, &t) == 0 && t.st_mtime >= st.st_mtime)
		return false;
	return true;
}

/* Where the initramfs for kernel ver (gui: with the GUI tools) lives. */
static int
initramfs_path(struct daemon *d, const char *ver, bool gui, char *out, size_t n)
{
	return str_printf(out, n, "%s/vm/initramfs-%s%s.cpio", d->cfg.run_dir,
	    ver, gui ? "-gui" : "");
}

/*
 * The initramfs for kernel ver (gui: the one with the GUI tools), made
 * from this build's programs when it is missing or older than one of them.
 * Called by vm_prepare (in the launcher's process, before its exec, under
 * the preparation lock).
 */
static int
ensure_initramfs(struct daemon *d, const char *ver, bool gui, char *out,
    size_t n, char *err, size_t errlen)
{
	char prog[PATH_MAX], init[PATH_MAX], pool[PATH_MAX], dir[PATH_MAX];
	char tools[ARRAY_SIZE(vm_tools) + ARRAY_SIZE(vm_gui_tools)][PATH_MAX];
	char rpc[PATH_MAX], arpc[PATH_MAX], log[PATH_MAX];
	char *argv[16 + 2 * ARRAY_SIZE(tools)];
	const char *tool;
	size_t i, a = 0;
	int rc;

	(void)str_printf(dir, sizeof(dir), "%s/vm", d->cfg.run_dir);
	(void)mkdir(dir, 0755);
	if (initramfs_path(d, ver, gui, out, n) < 0)
		return -ENAMETOOLONG;
	if (initramfs_fresh(d, out, gui))
		return 0;
	/* the /init it packs lies beside it (installed or built) */
	if (find_program(d, "bulkhead-vm-kernel", prog, sizeof(prog)) < 0 ||
	    str_printf(init, sizeof(init), "%s", prog) < 0 ||
	    str_printf(strrchr(init, '/') + 1,
	        sizeof(init) - (size_t)(strrchr(init, '/') + 1 - init),
	        "initramfs-init") < 0 ||
	    access(init, R_OK) < 0) {
		(void)snprintf(err, errlen,
		    "bulkhead-vm-kernel or its initramfs-init not found");
		return -ENOENT;
	}
	(void)str_printf(pool, sizeof(pool), "%s/vm-kernels", d->cfg.state_dir);
	argv[a++] = prog;
	argv[a++] = (char *)"initramfs";
	argv[a++] = (char *)"--pool";
	argv[a++] = pool;
	argv[a++] = (char *)"--version";
	argv[a++] = (char *)ver;
	argv[a++] = (char *)"--out";
	argv[a++] = out;
	argv[a++] = (char *)"--init";
	argv[a++] = init;
	/* a program not built (the GUI's without wayland) is left out */
	for (i = 0; (tool = vm_tool(i, gui)) != NULL; i++) {
		if (find_program(d, tool, tools[i], sizeof(tools[i])) < 0)
			continue;
		argv[a++] = (char *)"--tool";
		argv[a++] = tools[i];
	}
	if (str_printf(rpc, sizeof(rpc), "%s/qubes-rpc", d->cfg.conf_dir) ==
	        0 &&
	    access(rpc, F_OK) == 0) {
		argv[a++] = (char *)"--rpc-dir";
		argv[a++] = rpc;
	}
	if (find_program(d, "qubes.VMShell", arpc, sizeof(arpc)) == 0) {
		*strrchr(arpc, '/') = '\0';
		argv[a++] = (char *)"--agent-rpc-dir";
		argv[a++] = arpc;
	}
	argv[a] = NULL;
	(void)str_printf(
	    log, sizeof(log), "%s/log/vm-kernel.log", d->cfg.state_dir);
	log_info("building the VM initramfs for kernel %s%s", ver,
	    gui ? " (with the GUI agent)" : "");
	rc = run_wait(argv, log);
	if (rc < 0)
		(void)snprintf(
		    err, errlen, "building the initramfs failed (see %s)", log);
	return rc;
}

/* nftw's callback for tree_mib: what each file takes on disk. */
static uint64_t tree_bytes;

static int
tree_add(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)path, (void)type, (void)ftw;
	tree_bytes += (uint64_t)st->st_blocks * 512;
	return 0;
}

/*
 * The size of a tree, for the image made of it, without following
 * symbolic links or leaving its filesystem.  0, or -ENOENT (no tree).
 */
static int
tree_mib(const char *dir, uint64_t *ret)
{
	struct stat st;

	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return -ENOENT;
	tree_bytes = 0;
	if (nftw(dir, tree_add, 64, FTW_PHYS | FTW_MOUNT) != 0)
		return -EIO;
	*ret = tree_bytes >> 20;
	return 0;
}

/*
 * Template t's root image, made from its root tree at the first VM start
 * (the tree stays as it is; the image is the template's root from then
 * on).  Called by vm_prepare, under the preparation lock (seconds for a
 * Debian tree).
 */
static int
ensure_root_image(struct daemon *d, const struct db_qube *t, char *out,
    size_t n, char *err, size_t errlen)
{
	char tree[PATH_MAX], tmp[PATH_MAX], size[32], log[PATH_MAX];
	uint64_t mib;
	int rc;

	if (backend_qube_path(d, out, n, t->name, "root.img") < 0 ||
	    backend_qube_path(d, tree, sizeof(tree), t->name, "root") < 0 ||
	    str_printf(tmp, sizeof(tmp), "%s.new", out) < 0)
		return -ENAMETOOLONG;
	if (access(out, F_OK) == 0)
		return 0;
	if (tree_mib(tree, &mib) < 0) {
		(void)snprintf(err, errlen,
		    "template %s has neither a root image nor a root tree",
		    t->name);
		return -ENOENT;
	}
	/* room to grow (sparse: only what is written costs) */
	mib = mib * 2 + 1024;
	(void)snprintf(size, sizeof(size), "%lluM", (unsigned long long)mib);
	(void)unlink(tmp);
	(void)str_printf(
	    log, sizeof(log), "%s/log/%s.log", d->cfg.state_dir, t->name);
	{
		char *argv[] = {(char *)MKFS_EXT4, (char *)"-q", (char *)"-F",
		    (char *)"-L", (char *)"root", (char *)"-d", tree, tmp, size,
		    NULL};

		log_info("%s: making its root image from its tree", t->name);
		rc = run_wait(argv, log);
	}
	if (rc == 0 && rename(tmp, out) < 0)
		rc = -errno;
	if (rc < 0) {
		(void)unlink(tmp);
		(void)snprintf(
		    err, errlen, "making %s failed (see %s)", out, log);
	}
	return rc;
}

/*
 * A snapshot of the image img (of qube name, whose QEMU holds img locked
 * LOCK_EX while it runs) at snap, a copy taken while that qube was
 * halted.  This is Qubes' rule for a template's root and for a DVM
 * template's private: its changes reach the qubes started over it at
 * their next start after it stopped, and never change under a running
 * one.  The copy is replaced by rename, never written in place, so a qube
 * running over the previous one keeps it (its launcher holds it open).
 * It is made again when img changed since (another mtime or size) and
 * the qube is halted (halted; at its own start too, before its QEMU opens
 * img); while it runs, the last one is used.  what names img in messages.
 * Called by vm_prepare, under the preparation lock (cp --reflink=auto
 * --sparse=always: quick with reflinks or for a small image, seconds for
 * a large one without them).
 */
static int
image_snapshot(struct daemon *d, const char *name, const char *img,
    const char *snap, bool halted, const char *what, char *err, size_t errlen)
{
	char tmp[PATH_MAX], log[PATH_MAX];
	struct stat si, ss;
	int lock_fd = -1, rc;
	bool have;

	if (str_printf(tmp, sizeof(tmp), "%s.new", snap) < 0)
		return -ENAMETOOLONG;
	if (stat(img, &si) < 0) {
		rc = -errno;
		(void)snprintf(err, errlen, "%s: %s", img, strerror(-rc));
		return rc;
	}
	have = stat(snap, &ss) == 0;
	if (have && backend_snapshot_current(&si, &ss))
		return 0;
	/*
	 * Halted as the daemon saw it, but its start may have begun since:
	 * its launcher holds img locked (LOCK_EX) for as long as its QEMU
	 * runs; holding it shared keeps one from starting to write while
	 * this copies.
	 */
	if (halted) {
		/* never a copy without the lock: an image that cannot be
		 * opened for it could not be copied either */
		lock_fd = open(img, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (lock_fd < 0) {
			rc = -errno;
			(void)snprintf(
			    err, errlen, "%s: %s", img, strerror(-rc));
			return rc;
		}
		if (flock(lock_fd, LOCK_SH | LOCK_NB) < 0)
			halted = false;
	}
	if (!halted) {
		if (lock_fd >= 0)
			(void)close(lock_fd);
		if (have)
			return 0; /* the one from before it started */
		(void)snprintf(err, errlen,
		    "%s runs and has no snapshot of its %s yet: shut it down "
		    "once",
		    name, what);
		return -EBUSY;
	}
	(void)str_printf(
	    log, sizeof(log), "%s/log/%s.log", d->cfg.state_dir, name);
	{
		char *argv[] = {(char *)"/bin/cp", (char *)"--reflink=auto",
		    (char *)"--sparse=always", (char *)img, tmp, NULL};

		(void)unlink(tmp);
		log_info("%s: snapshot of its %s for the qubes started over it",
		    name, what);
		rc = run_wait(argv, log);
	}
	if (rc == 0) {
		/* the snapshot's times are img's: how staleness shows */
		struct timespec tv[2] = {si.st_atim, si.st_mtim};

		if (utimensat(AT_FDCWD, tmp, tv, 0) < 0 ||
		    rename(tmp, snap) < 0)
			rc = -errno;
	}
	if (rc < 0) {
		(void)unlink(tmp);
		(void)snprintf(
		    err, errlen, "a snapshot of %s failed (see %s)", img, log);
	}
	if (lock_fd >= 0)
		(void)close(lock_fd);
	return rc;
}

/*
 * The image template t's AppVMs and disposables start over: root-snap.img,
 * a snapshot (image_snapshot) of its root.img.  t_halted: as the daemon
 * saw it.
 */
static int
template_snapshot(struct daemon *d, const struct db_qube *t, bool t_halted,
    char *out, size_t n, char *err, size_t errlen)
{
	char img[PATH_MAX];
	int rc;

	if ((rc = ensure_root_image(d, t, img, sizeof(img), err, errlen)) < 0)
		return rc;
	if (backend_qube_path(d, out, n, t->name, "root-snap.img") < 0)
		return -ENAMETOOLONG;
	return image_snapshot(
	    d, t->name, img, out, t_halted, "root", err, errlen);
}

/* A new empty private image (ext4, /home/user the user's). */
static int
ensure_private_image(struct daemon *d, const char *name, char *out, size_t n,
    char *err, size_t errlen)
{
	char tmp[PATH_MAX], log[PATH_MAX];
	int rc;

	if (backend_qube_path(d, out, n, name, "private.img") < 0 ||
	    str_printf(tmp, sizeof(tmp), "%s.new", out) < 0)
		return -ENAMETOOLONG;
	if (access(out, F_OK) == 0)
		return 0;
	/* its directory (a DVM template never started has none yet) */
	if (backend_qube_path(d, tmp, sizeof(tmp), name, "") == 0 &&
	    mkdir(tmp, 0700) < 0 && errno != EEXIST) {
		(void)snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -errno;
	}
	(void)str_printf(tmp, sizeof(tmp), "%s.new", out);
	(void)str_printf(
	    log, sizeof(log), "%s/log/%s.log", d->cfg.state_dir, name);
	{
		char *argv[] = {(char *)MKFS_EXT4, (char *)"-q", (char *)"-F",
		    (char *)"-L", (char *)"private", tmp, (char *)PRIVATE_SIZE,
		    NULL};

		(void)unlink(tmp);
		rc = run_wait(argv, log);
	}
	if (rc == 0 && rename(tmp, out) < 0)
		rc = -errno;
	if (rc < 0) {
		(void)unlink(tmp);
		(void)snprintf(err, errlen, "making %s failed", out);
	}
	return rc;
}

/*
 * Start making a copy-on-write qcow2 at path over the raw image backing:
 * qemu-img's pid (run_finish it), or -errno.
 */
static pid_t
make_overlay_start(
    struct daemon *d, const char *backing, const char *path, const char *name)
{
	char log[PATH_MAX];
	char *argv[] = {(char *)QEMU_IMG, (char *)"create", (char *)"-q",
	    (char *)"-f", (char *)"qcow2", (char *)"-F", (char *)"raw",
	    (char *)"-b", (char *)backing, (char *)path, NULL};

	(void)str_printf(
	    log, sizeof(log), "%s/log/%s.log", d->cfg.state_dir, name);
	return run_start(argv, log);
}

/* A revision's name: decimal milliseconds since the epoch. */
static bool
revision_name_ok(const char *r)
{
	size_t i;

	for (i = 0; r[i] != '\0'; i++)
		if (r[i] < '0' || r[i] > '9')
			return false;
	return i > 0 && i <= 20 && r[0] != '0';
}

int
backend_vm_revisions(struct daemon *d, const struct db_qube *q, const char *vol,
    char (*ret)[24], size_t max)
{
	char dir[PATH_MAX];
	struct dirent *e;
	size_t n = 0, i, j;
	DIR *dp;

	if (strcmp(vol, "private") != 0)
		return 0;
	if (backend_qube_path(d, dir, sizeof(dir), q->name, "") < 0)
		return -ENAMETOOLONG;
	dp = opendir(dir);
	if (dp == NULL)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(dp)) != NULL && n < max) {
		const char *r = e->d_name + strlen(REV_PREFIX);

		if (strncmp(e->d_name, REV_PREFIX, strlen(REV_PREFIX)) != 0 ||
		    !revision_name_ok(r))
			continue;
		(void)str_copy(ret[n++], sizeof(ret[0]), r);
	}
	(void)closedir(dp);
	/* oldest first, as qubesd lists them (clients take the last as
	 * the latest): a shorter number is older, then by its digits */
	for (i = 1; i < n; i++)
		for (j = i; j > 0; j--) {
			size_t a = strlen(ret[j - 1]), b = strlen(ret[j]);
			char t[24];

			if (a < b ||
			    (a == b && strcmp(ret[j - 1], ret[j]) <= 0))
				break;
			memcpy(t, ret[j], sizeof(t));
			memcpy(ret[j], ret[j - 1], sizeof(t));
			memcpy(ret[j - 1], t, sizeof(t));
		}
	return (int)n;
}

/* <state>/qubes/<name>/private.img.rev-<rev> into out. */
static int
revision_path(
    struct daemon *d, const char *name, const char *rev, char *out, size_t n)
{
	return str_printf(out, n, "%s/qubes/%s/" REV_PREFIX "%s",
	    d->cfg.state_dir, name, rev);
}

/*
 * Keep what the private image holds now as a revision (a sparse copy, a
 * reflink where the filesystem has them), and no more than
 * PRIVATE_REVISIONS of them.  0 or -errno.
 * Called by vm_prepare (quick for a sparse image or with reflinks).
 */
static int
private_revision(struct daemon *d, const struct db_qube *q, const char *priv)
{
	char revs[16][24], p[PATH_MAX], tmp[PATH_MAX], name[32], log[PATH_MAX];
	struct timespec ts;
	int n, i, rc;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	(void)snprintf(name, sizeof(name), "%llu",
	    (unsigned long long)ts.tv_sec * 1000 +
	        (unsigned long long)ts.tv_nsec / 1000000);
	if (revision_path(d, q->name, name, p, sizeof(p)) < 0 ||
	    str_printf(tmp, sizeof(tmp), "%s.new", priv) < 0)
		return -ENAMETOOLONG;
	(void)str_printf(
	    log, sizeof(log), "%s/log/%s.log", d->cfg.state_dir, q->name);
	{
		char *argv[] = {(char *)"/bin/cp", (char *)"--reflink=auto",
		    (char *)"--sparse=always", (char *)priv, tmp, NULL};

		(void)unlink(tmp);
		rc = run_wait(argv, log);
	}
	if (rc == 0 && rename(tmp, p) < 0)
		rc = -errno;
	if (rc < 0) {
		(void)unlink(tmp);
		return rc;
	}
	n = backend_vm_revisions(d, q, "private", revs, ARRAY_SIZE(revs));
	for (i = 0; i < n - PRIVATE_REVISIONS; i++)
		if (revision_path(d, q->name, revs[i], p, sizeof(p)) == 0)
			(void)unlink(p);
	return 0;
}

int
backend_vm_revert(
    struct daemon *d, const struct db_qube *q, const char *vol, const char *rev)
{
	char from[PATH_MAX], to[PATH_MAX];

	if (strcmp(vol, "private") != 0 || !revision_name_ok(rev))
		return -EINVAL;
	if (revision_path(d, q->name, rev, from, sizeof(from)) < 0 ||
	    backend_qube_path(d, to, sizeof(to), q->name, "private.img") < 0)
		return -ENAMETOOLONG;
	if (access(from, F_OK) < 0)
		return -ENOENT;
	return rename(from, to) < 0 ? -errno : 0;
}

int
backend_vm_volume_image(struct daemon *d, const struct db_qube *q,
    const char *vol, char *out, size_t n)
{
	enum qube_class k = qube_class_of(q);

	if (strcmp(vol, "private") == 0 && k != QC_DISPVM)
		return backend_qube_path(d, out, n, q->name, "private.img");
	if (strcmp(vol, "root") == 0 &&
	    (k == QC_TEMPLATEVM || k == QC_STANDALONEVM))
		return backend_qube_path(d, out, n, q->name, "root.img");
	return -ENOENT;
}

/*
 * What a VM start prepares on disk, and where (all paths made by
 * vm_start in the daemon, from the database; vm_prepare works on its copy
 * in the launcher's process, after the fork).
 */
struct vm_prep {
	struct daemon *d;
	struct db_qube q, t; /* the qube; its template (AppVM, DispVM) */
	enum qube_class k;
	bool t_halted;   /* as the daemon saw it */
	bool dvm_halted; /* a disposable's DVM template, likewise */
	bool gui;
	char ver[72];
	char dvm[64]; /* a disposable's DVM template */
	char vol[PATH_MAX], initrd[PATH_MAX], root[PATH_MAX];
	char root_b[PATH_MAX], priv[PATH_MAX], priv_b[PATH_MAX];
	char errfile[PATH_MAX];
};

/*
 * The slow part of a VM start, run by spawn_logged in the launcher's
 * process before it execs bulkhead-vm, so that bulkheadd's loop never
 * waits on a disk: the initramfs (once a build), the template's root image
 * (once) and its snapshot, the copy-on-write overlays (qemu-img), the
 * private image and its revision (a copy).  What several starts share is
 * made under one lock (RUN/vm/prepare.lock): two qubes of one template
 * starting at once make its image once.  On a failure the reason goes to
 * the log (stderr) and to RUN/qubes/NAME/start-error, which bulkheadd
 * gives the caller; returns -1 then (the process exits, the start fails).
 */
static int
vm_prepare(void *arg)
{
	struct vm_prep *p = arg;
	struct daemon *d = p->d;
	char err[3 * PATH_MAX] = "", lock[PATH_MAX], x[PATH_MAX];
	pid_t root_pid = -1;
	int lfd = -1, rc = 0;

	if (str_printf(lock, sizeof(lock), "%s/vm", d->cfg.run_dir) == 0)
		(void)mkdir(lock, 0755);
	if (str_printf(
	        lock, sizeof(lock), "%s/vm/prepare.lock", d->cfg.run_dir) < 0 ||
	    (lfd = open(
	         lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0 ||
	    flock(lfd, LOCK_EX) < 0) {
		(void)snprintf(
		    err, sizeof(err), "%s: %s", lock, strerror(errno));
		rc = -1;
		goto out;
	}
	if ((rc = ensure_initramfs(
	         d, p->ver, p->gui, x, sizeof(x), err, sizeof(err))) < 0)
		goto out;
	if (p->k == QC_TEMPLATEVM || p->k == QC_STANDALONEVM) {
		if ((rc = ensure_root_image(
		         d, &p->q, x, sizeof(x), err, sizeof(err))) < 0)
			goto out;
		/* what its qubes start over while it runs: taken now,
		 * before its QEMU writes to root.img */
		if (p->k == QC_TEMPLATEVM &&
		    (rc = template_snapshot(
		         d, &p->q, true, x, sizeof(x), err, sizeof(err))) < 0)
			goto out;
	} else if ((rc = template_snapshot(d, &p->t, p->t_halted, x, sizeof(x),
	                err, sizeof(err))) < 0)
		goto out;
	/* a disposable's private: over its DVM template's as it was when
	 * that last shut down, never the image a running one writes to */
	if (p->k == QC_DISPVM &&
	    ((rc = ensure_private_image(
	          d, p->dvm, x, sizeof(x), err, sizeof(err))) < 0 ||
	        (rc = image_snapshot(d, p->dvm, x, p->priv_b, p->dvm_halted,
	             "private", err, sizeof(err))) < 0))
		goto out;
	close_fd(&lfd);

	/* the qube's own: a fresh volatile area, overlays, its private */
	(void)fs_remove_tree(p->vol);
	if (mkdir(p->vol, 0700) < 0) {
		(void)snprintf(
		    err, sizeof(err), "%s: %s", p->vol, strerror(errno));
		rc = -1;
		goto out;
	}
	/*
	 * The root's overlay (qemu-img, ~25 ms) is made while the private
	 * image's is, or while its revision is copied (cp, ~25 ms or more):
	 * both programs at once.
	 */
	if (p->root_b[0] != '\0' &&
	    (root_pid = make_overlay_start(d, p->root_b, p->root, p->q.name)) <
	        0) {
		(void)snprintf(err, sizeof(err), "%s: cannot make", p->root);
		rc = -1;
		goto out;
	}
	if (p->k == QC_DISPVM) {
		pid_t priv_pid =
		    make_overlay_start(d, p->priv_b, p->priv, p->q.name);

		if (priv_pid < 0 || run_finish(priv_pid) < 0) {
			(void)snprintf(
			    err, sizeof(err), "%s: cannot make", p->priv);
			rc = -1;
		}
	} else if ((rc = ensure_private_image(
	                d, p->q.name, x, sizeof(x), err, sizeof(err))) == 0 &&
	    (rc = private_revision(d, &p->q, p->priv)) < 0) {
		/* what it held before this run, for qvm-volume revert */
		(void)snprintf(err, sizeof(err), "keeping a revision of %s: %s",
		    p->priv, strerror(-rc));
	}
	if (root_pid > 0 && run_finish(root_pid) < 0 && rc == 0) {
		(void)snprintf(err, sizeof(err), "%s: cannot make", p->root);
		rc = -1;
	}
out:
	close_fd(&lfd);
	if (rc < 0) {
		int fd;

		if (err[0] == '\0')
			(void)str_copy(err, sizeof(err), "preparing its disks");
		(void)fprintf(
		    stderr, "bulkhead: %s: start failed: %s\n", p->q.name, err);
		fd = open(p->errfile,
		    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		    0600);
		if (fd >= 0) {
			(void)io_write_all(fd, err, strlen(err));
			(void)close(fd);
		}
		return -1;
	}
	return 0;
}

static int
vm_start(struct daemon *d, const struct db_qube *q, struct running *r,
    char *err, size_t errlen)
{
	uint32_t base = sandbox_uid_base(q->qid);
	char prog[PATH_MAX], vmux[PATH_MAX], vmlinux[PATH_MAX];
	char vchan[PATH_MAX], console[PATH_MAX], log[PATH_MAX];
	char mem[16], cpus[16], kopts[1100], accel[8], gui_pool[PATH_MAX];
	struct vm_prep *p;
	struct argv v;
	pid_t pid;
	int rc;

	/* big (paths): on the heap; fork copies it for vm_prepare */
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	memset(&v, 0, sizeof(v));
	p->d = d;
	p->q = *q;
	p->k = qube_class_of(q);
	p->gui = backend_feature_on(d, q, "gui");
	if ((rc = backend_vm_available(d, err, errlen)) < 0 ||
	    (rc = kernel_version(d, q, p->ver, sizeof(p->ver), err, errlen)) <
	        0)
		goto out;
	rc = -ENAMETOOLONG;
	if (initramfs_path(d, p->ver, p->gui, p->initrd, sizeof(p->initrd)) <
	        0 ||
	    str_printf(p->errfile, sizeof(p->errfile),
	        "%s/qubes/%s/start-error", d->cfg.run_dir, q->name) < 0)
		goto out;
	(void)unlink(p->errfile);
	(void)find_program(d, "bulkhead-vm", prog, sizeof(prog));
	(void)find_program(d, "bulkhead-vmux", vmux, sizeof(vmux));
	(void)str_printf(vmlinux, sizeof(vmlinux), "%s/vm-kernels/%s/vmlinux",
	    d->cfg.state_dir, p->ver);

	/* the qube's directory (a DVM template never started has none) */
	if (backend_qube_path(d, p->vol, sizeof(p->vol), q->name, "") < 0)
		goto out;
	if (mkdir(p->vol, 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		(void)snprintf(err, errlen, "%s: %s", p->vol, strerror(-rc));
		goto out;
	}
	if (backend_qube_path(d, p->vol, sizeof(p->vol), q->name, "volatile") <
	    0)
		goto out;

	/* the root: a template's (or standalone's) own image, else a
	 * copy-on-write image over its template's snapshot */
	if (p->k == QC_TEMPLATEVM || p->k == QC_STANDALONEVM) {
		if (backend_qube_path(
		        d, p->root, sizeof(p->root), q->name, "root.img") < 0)
			goto out;
	} else {
		char tname[64];

		if (backend_prop(d, q, "template", tname, sizeof(tname)) < 0 ||
		    db_qube_by_name(&d->db, tname, &p->t) < 0 ||
		    (p->k == QC_DISPVM &&
		        (backend_prop(
		             d, &p->t, "template", tname, sizeof(tname)) < 0 ||
		            db_qube_by_name(&d->db, tname, &p->t) < 0))) {
			(void)snprintf(err, errlen, "its template is gone");
			rc = -ENOENT;
			goto out;
		}
		p->t_halted = qube_running(d, p->t.qid) == NULL;
		if (backend_qube_path(d, p->root_b, sizeof(p->root_b),
		        p->t.name, "root-snap.img") < 0 ||
		    str_printf(
		        p->root, sizeof(p->root), "%s/root.qcow2", p->vol) < 0)
			goto out;
	}

	/* the private volume; a disposable's is a copy of its DVM's */
	if (p->k == QC_DISPVM) {
		if (backend_prop(d, q, "template", p->dvm, sizeof(p->dvm)) <
		    0) {
			(void)snprintf(err, errlen, "its DVM template is gone");
			rc = -ENOENT;
			goto out;
		}
		struct db_qube dvm;

		p->dvm_halted = db_qube_by_name(&d->db, p->dvm, &dvm) < 0 ||
		    qube_running(d, dvm.qid) == NULL;
		if (backend_qube_path(d, p->priv_b, sizeof(p->priv_b), p->dvm,
		        "private-snap.img") < 0 ||
		    str_printf(p->priv, sizeof(p->priv), "%s/private.qcow2",
		        p->vol) < 0)
			goto out;
	} else if (backend_qube_path(
	               d, p->priv, sizeof(p->priv), q->name, "private.img") < 0)
		goto out;

	/* the channel directory: bulkhead-vmux (the qube's uid) mirrors
	 * the guest's listeners here, as the namespace qube's agent would */
	(void)str_printf(
	    vchan, sizeof(vchan), "%s/vchan/%u", d->cfg.run_dir, r->rt.domid);
	if (chown(vchan, base, base) < 0 || chmod(vchan, 01777) < 0) {
		rc = -errno;
		(void)snprintf(err, errlen, "%s: %s", vchan, strerror(-rc));
		goto out;
	}
	if (backend_prop(d, q, "memory", mem, sizeof(mem)) < 0)
		(void)str_copy(mem, sizeof(mem), "400");
	if (backend_prop(d, q, "vcpus", cpus, sizeof(cpus)) < 0)
		(void)str_copy(cpus, sizeof(cpus), "1");
	if (backend_prop(d, q, "kernelopts", kopts, sizeof(kopts)) < 0)
		kopts[0] = '\0';
	(void)str_printf(console, sizeof(console), "%s/log/%s.console.log",
	    d->cfg.state_dir, q->name);
	/*
	 * The accelerator: vm_accel forces one (kvm where the probe says
	 * no: the admin knows better, and a guest that cannot boot is then
	 * killed at qrexec_timeout); auto takes what tells the truth.  What
	 * it got is recorded as the feature bulkhead.vm-accel (qvm-features).
	 */
	if (backend_prop(d, q, "vm_accel", accel, sizeof(accel)) < 0 ||
	    strcmp(accel, "auto") == 0)
		(void)str_copy(accel, sizeof(accel), vm_accel_auto());
	(void)db_kv_set(
	    &d->db, DB_FEATURES, q->qid, "bulkhead.vm-accel", accel);

	rc = argv_push(&v, "bulkhead-vm");
	if (rc == 0)
		rc = argv_push(&v, "--name=%s", q->name);
	if (rc == 0)
		rc = argv_push(&v, "--qid=%u", q->qid);
	if (rc == 0)
		rc = argv_push(&v, "--domid=%u", r->rt.domid);
	if (rc == 0)
		rc = argv_push(&v, "--kernel=%s", vmlinux);
	if (rc == 0)
		rc = argv_push(&v, "--initrd=%s", p->initrd);
	if (rc == 0)
		rc = argv_push(&v, "--root=%s%s", p->root,
		    p->root_b[0] != '\0' ? ",qcow2" : "");
	if (rc == 0 && p->root_b[0] != '\0')
		rc = argv_push(&v, "--root-backing=%s", p->root_b);
	if (rc == 0)
		rc = argv_push(&v, "--private=%s%s", p->priv,
		    p->priv_b[0] != '\0' ? ",qcow2" : "");
	if (rc == 0 && p->priv_b[0] != '\0')
		rc = argv_push(&v, "--private-backing=%s", p->priv_b);
	if (rc == 0)
		rc = argv_push(&v, "--vchan=%s", vchan);
	if (rc == 0)
		rc = argv_push(&v, "--console=%s", console);
	if (rc == 0)
		rc = argv_push(&v, "--vmux=%s", vmux);
	if (rc == 0)
		rc = argv_push(&v, "--memory=%s", mem);
	if (rc == 0)
		rc = argv_push(&v, "--vcpus=%s", cpus);
	if (rc == 0 && kopts[0] != '\0')
		rc = argv_push(&v, "--kernelopts=%s", kopts);
	if (rc == 0)
		rc = argv_push(&v, "--accel=%s", accel);
	/*
	 * The GUI: the launcher makes the pool, the guest's agent draws into
	 * it, and bulkhead-guid finds it through this file (in the qube's
	 * run directory, made before the start and removed after the end).
	 */
	if (rc == 0 && p->gui) {
		rc = str_printf(gui_pool, sizeof(gui_pool),
		    "%s/qubes/%s/gui-pool", d->cfg.run_dir, q->name);
		if (rc == 0)
			rc = argv_push(
			    &v, "--gui-pool=%d,%s", VM_GUI_POOL_MIB, gui_pool);
	}
	if (rc < 0) {
		(void)snprintf(err, errlen, "arguments: %s", strerror(-rc));
		goto out;
	}
	(void)str_printf(
	    log, sizeof(log), "%s/log/%s.log", d->cfg.state_dir, q->name);
	{
		const struct spawn_opts o = {.log = log,
		    .fd3 = -1,
		    .before_exec = vm_prepare,
		    .before_exec_arg = p};

		pid = spawn_logged(prog, v.a, &o);
	}
	if (pid < 0) {
		rc = (int)pid;
		goto out;
	}
	r->init_pid = pid;
	rc = 0;
out:
	free(p);
	return rc;
}

const struct backend_ops backend_vm = {
    .name = "vm",
    .start = vm_start,
    .shutdown = backend_sig_shutdown,
    .kill = backend_sig_kill,
    /* QMP stop/cont in the launcher */
    .pause = backend_sig_freeze,
    .unpause = backend_sig_thaw,
    .cleanup = backend_cleanup,
};
