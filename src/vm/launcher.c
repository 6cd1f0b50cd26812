/*
 * launcher.c - bulkhead-vm (PROC_VM): starts and supervises one VM qube:
 * its QEMU and the admin side's end of its qrexec channels
 * (bulkhead-vmux --host).
 *
 * Runs as root, started by bulkheadd with the qube's files on the command
 * line.  It trusts nothing about those arguments: every path is checked
 * (absolute, canonical, a regular file or directory) and every number
 * bounded.  It opens the qube's disks, kernel and initramfs itself and
 * hands QEMU only those fds; QEMU then runs as the qube's own host uid
 * (its id range's first id, which no other qube has), with no_new_privs,
 * QEMU's own seccomp sandbox (-sandbox on, spawning and privilege changes
 * denied), and new network, IPC and UTS namespaces (a VM qube has no
 * network device: networking qubes come later).
 *
 * Untrusted input: QMP from QEMU (QEMU runs guest-facing device code, so
 * a hostile guest may own it).  This process does not read it: a child,
 * the QMP reader (qmp_proxy.h), confined to QEMU's ids under seccomp,
 * speaks QMP (qmp.h: bounded, parsed by qmp_parse, only events looked
 * at) and hands this process fixed 8-byte results, each checked
 * (vq_msg_parse); anything else kills QEMU.  The guest's qrexec bytes
 * never reach this process either: bulkhead-vmux, as the qube's uid,
 * carries them.
 *
 * Signals from bulkheadd: SIGTERM asks for a clean shutdown (the guest's
 * init is told through bulkhead-vmux, SIGUSR1), SIGINT kills (QMP quit,
 * then SIGKILL), SANDBOX_SIG_FREEZE/THAW pause and resume the VM (QMP
 * stop/cont).  When QEMU exits, the launcher stops the vmux and exits:
 * bulkheadd then sees the qube halted and removes its volatile files.
 *
 * The guest's serial console reaches QEMU's console chardev, a socket whose
 * other end this process reads and appends to --console, at most 4 MiB a
 * run (logcap.h; the rest is read and dropped, so the guest never waits
 * on it): a guest writing to its console for ever cannot fill the host's
 * disk.  A log over that size at start is moved to FILE.old (replacing
 * the one before), so the two hold at most two runs' worth.
 *
 * With --gui-pool (a qube with the feature "gui", issue #8) it makes the
 * qube's GUI pool, a sealed memfd, before QEMU starts, gives it to QEMU
 * as an ivshmem-plain device (the guest's GUI agent maps its BAR 2), keeps
 * its own fd open while the qube runs, and says where it is in a file
 * ("PID FD BYTES"): the GUI domain's root connector opens /proc/PID/fd/FD
 * and hands that to its validator, which checks it (gui_pool_check) like
 * any pool a qube sends.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/gui_pool.h"
#include "lib/io.h"
#include "lib/log.h"
#include "lib/proto/qrexec.h"
#include "lib/util.h"
#include "sandbox/logcap.h"
#include "sandbox/qcgroup.h"
#include "sandbox/sandbox.h"
#include "vm/qemu_cmd.h"
#include "vm/qmp_proxy.h"
#include "vm/vm.h"

/* How long QEMU has to answer QMP at start and for a command. */
#define QMP_TIMEOUT_MS 10000
/* After QMP quit (a kill), how long before SIGKILL. */
#define KILL_GRACE_MS 2000
/*
 * QEMU's cgroup: the guest's memory and this much more for QEMU itself
 * (its code, device state, I/O buffers and, under TCG, the translated
 * code: ~40-60 MiB measured for a 256 MiB guest, shared/reference/
 * vm-backend.md), its threads, and its vcpus' worth of CPU.
 */
#define QEMU_OVERHEAD_MIB 384
#define QEMU_PIDS_MAX     512
/* --gui-pool's size: 1 MiB to 1 GiB, a power of two (a PCI BAR's size) */
#define GUI_POOL_MIN_MIB 1
#define GUI_POOL_MAX_MIB 1024

struct args {
	char name[32];
	uint32_t qid, domid, base;
	char kernel[PATH_MAX], initrd[PATH_MAX];
	char root[PATH_MAX], root_backing[PATH_MAX];
	char priv[PATH_MAX], priv_backing[PATH_MAX];
	bool root_qcow2, priv_qcow2;
	char vchan[PATH_MAX];
	char console[PATH_MAX];
	char qemu[PATH_MAX], vmux[PATH_MAX];
	char kernelopts[QEMU_MAX_KERNELOPTS + 1];
	uint32_t memory_mib, vcpus;
	enum qemu_accel accel;
	enum qemu_machine machine;
	uint32_t gui_pool_mib; /* 0: no GUI pool */
	char gui_pool_file[PATH_MAX];
};

static struct args A;
static struct qcg cg;

static _Noreturn void
usage(FILE *f, int code)
{
	(void)fprintf(f,
	    "Usage: bulkhead-vm --name=NAME --qid=N --domid=N --kernel=FILE\n"
	    "         --initrd=FILE --root=IMAGE[,qcow2] [--root-backing=IMAGE]\n"
	    "         [--private=IMAGE[,qcow2]] [--private-backing=IMAGE]\n"
	    "         --vchan=DIR --console=FILE --vmux=PROGRAM\n"
	    "         [--qemu=PROGRAM] [--memory=MIB] [--vcpus=N]\n"
	    "         [--kernelopts=TEXT] [--accel=tcg|kvm] "
	    "[--machine=microvm|q35]\n"
	    "         [--gui-pool=MIB,FILE]\n"
	    "\n"
	    "Start and supervise one VM qube of bulkhead (virt_mode=vm): QEMU "
	    "as the\n"
	    "qube's own host uid (%u + qid * %u) with its disks passed as "
	    "open files,\n"
	    "and bulkhead-vmux carrying its qrexec channels between its "
	    "virtio-serial\n"
	    "port and its channel directory.  bulkheadd runs this; it is not "
	    "meant\n"
	    "to be run by hand.\n"
	    "\n"
	    "  --root      the root disk (read-write: a template's own image, "
	    "or an\n"
	    "              AppVM's copy-on-write qcow2 over --root-backing)\n"
	    "  --private   the private disk (/rw), likewise; a disk with a "
	    "backing is\n"
	    "              thrown away when the qube stops: its flushes are "
	    "ignored\n"
	    "  --vchan     the qube's channel directory (owned by its uid)\n"
	    "  --console   the serial console's log: appended, at most 4 "
	    "MiB a run\n"
	    "              ($BULKHEAD_QUBE_LOG_MAX bytes if set), the rest "
	    "dropped;\n"
	    "              a log over that at start becomes FILE.old\n"
	    "  --gui-pool  make the qube's GUI pool (a sealed memfd of MIB "
	    "MiB, a\n"
	    "              power of two up to 1024), give it to the guest as "
	    "an\n"
	    "              ivshmem-plain device, and write \"PID FD BYTES\" "
	    "to FILE\n"
	    "              (mode 0600; removed at the end): the pool is\n"
	    "              /proc/PID/fd/FD while the qube runs\n"
	    "\n"
	    "Signals: TERM shuts the qube down, INT kills it, SIGRTMIN+1 and "
	    "+2 pause\n"
	    "and resume it.  Exit status: 0 the VM ended, 1 failure, 2 "
	    "usage.\n",
	    SANDBOX_UID_BASE, SANDBOX_ID_RANGE);
	exit(code);
}

/* An absolute canonical path of a file (or directory) that exists. */
static int
path_arg(const char *opt, const char *v, bool dir, char *out, size_t n)
{
	char real[PATH_MAX];
	struct stat st;

	if (v[0] != '/' || realpath(v, real) == NULL || strcmp(real, v) != 0 ||
	    stat(real, &st) < 0 ||
	    (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
		log_warnx("--%s=%s: not an absolute canonical path of an "
		          "existing %s",
		    opt, v, dir ? "directory" : "file");
		return -EINVAL;
	}
	return str_copy(out, n, real);
}

static int
image_arg(const char *opt, const char *v, char *out, size_t n, bool *qcow2)
{
	char p[PATH_MAX];
	const char *comma = strrchr(v, ',');

	*qcow2 = false;
	if (comma != NULL) {
		if (strcmp(comma + 1, "qcow2") != 0 ||
		    (size_t)(comma - v) >= sizeof(p)) {
			log_warnx("--%s=%s: IMAGE or IMAGE,qcow2", opt, v);
			return -EINVAL;
		}
		memcpy(p, v, (size_t)(comma - v));
		p[comma - v] = '\0';
		*qcow2 = true;
		v = p;
	}
	return path_arg(opt, v, false, out, n);
}

static int
u32_arg(const char *opt, const char *v, uint32_t lo, uint32_t hi, uint32_t *r)
{
	if (parse_u32(v, hi, r) < 0 || *r < lo) {
		log_warnx("--%s=%s: a number from %u to %u", opt, v, lo, hi);
		return -EINVAL;
	}
	return 0;
}

/*
 * --gui-pool=MIB,FILE: MIB a power of two in [GUI_POOL_MIN_MIB,
 * GUI_POOL_MAX_MIB]; FILE an absolute path whose directory exists and is
 * canonical (it is made there, and replaced by rename).
 */
static int
gui_pool_arg(const char *v)
{
	char num[16], dir[PATH_MAX];
	const char *comma = strchr(v, ','), *base;
	size_t nl;

	if (comma == NULL || (nl = (size_t)(comma - v)) >= sizeof(num))
		goto bad;
	memcpy(num, v, nl);
	num[nl] = '\0';
	if (parse_u32(num, GUI_POOL_MAX_MIB, &A.gui_pool_mib) < 0 ||
	    A.gui_pool_mib < GUI_POOL_MIN_MIB ||
	    (A.gui_pool_mib & (A.gui_pool_mib - 1)) != 0)
		goto bad;
	v = comma + 1;
	base = strrchr(v, '/');
	if (v[0] != '/' || base == NULL || base[1] == '\0' ||
	    strcmp(base + 1, ".") == 0 || strcmp(base + 1, "..") == 0 ||
	    (size_t)(base - v) >= sizeof(dir))
		goto bad;
	memcpy(dir, v, (size_t)(base - v));
	dir[base - v] = '\0';
	if (path_arg("gui-pool", dir[0] != '\0' ? dir : "/", true, dir,
	        sizeof(dir)) < 0)
		return -EINVAL;
	return str_copy(A.gui_pool_file, sizeof(A.gui_pool_file), v);
bad:
	log_warnx("--gui-pool=%s: MIB,FILE (MIB a power of two up to %u, "
	          "FILE an absolute path)",
	    v, GUI_POOL_MAX_MIB);
	A.gui_pool_mib = 0;
	return -EINVAL;
}

static void
parse_args(int argc, char **argv)
{
	enum {
		O_NAME = 256,
		O_QID,
		O_DOMID,
		O_KERNEL,
		O_INITRD,
		O_ROOT,
		O_ROOT_B,
		O_PRIV,
		O_PRIV_B,
		O_VCHAN,
		O_CONSOLE,
		O_QEMU,
		O_VMUX,
		O_MEM,
		O_VCPUS,
		O_KOPTS,
		O_ACCEL,
		O_MACHINE,
		O_GUI_POOL
	};
	static const struct option opts[] = {{"name", 1, NULL, O_NAME},
	    {"qid", 1, NULL, O_QID}, {"domid", 1, NULL, O_DOMID},
	    {"kernel", 1, NULL, O_KERNEL}, {"initrd", 1, NULL, O_INITRD},
	    {"root", 1, NULL, O_ROOT}, {"root-backing", 1, NULL, O_ROOT_B},
	    {"private", 1, NULL, O_PRIV},
	    {"private-backing", 1, NULL, O_PRIV_B}, {"vchan", 1, NULL, O_VCHAN},
	    {"console", 1, NULL, O_CONSOLE}, {"qemu", 1, NULL, O_QEMU},
	    {"vmux", 1, NULL, O_VMUX}, {"memory", 1, NULL, O_MEM},
	    {"vcpus", 1, NULL, O_VCPUS}, {"kernelopts", 1, NULL, O_KOPTS},
	    {"accel", 1, NULL, O_ACCEL}, {"machine", 1, NULL, O_MACHINE},
	    {"gui-pool", 1, NULL, O_GUI_POOL}, {"help", 0, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	bool have_qid = false, have_domid = false, bad = false;
	int c;

	A.memory_mib = 400;
	A.vcpus = 1;
	A.accel = QEMU_ACCEL_TCG;
	A.machine = QEMU_MACHINE_MICROVM;
	(void)str_copy(A.qemu, sizeof(A.qemu), QEMU_DEFAULT_BINARY);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		int rc = 0;

		switch (c) {
		case 'h':
			usage(stdout, 0);
		case O_NAME:
			if (!proto_qube_name_valid(optarg) ||
			    str_copy(A.name, sizeof(A.name), optarg) < 0) {
				log_warnx("--name: not a qube name");
				rc = -EINVAL;
			}
			break;
		case O_QID:
			rc = u32_arg("qid", optarg, 1, VM_MAX_QID, &A.qid);
			have_qid = true;
			break;
		case O_DOMID:
			rc = u32_arg("domid", optarg, 1, 0x7fef, &A.domid);
			have_domid = true;
			break;
		case O_KERNEL:
			rc = path_arg("kernel", optarg, false, A.kernel,
			    sizeof(A.kernel));
			break;
		case O_INITRD:
			rc = path_arg("initrd", optarg, false, A.initrd,
			    sizeof(A.initrd));
			break;
		case O_ROOT:
			rc = image_arg("root", optarg, A.root, sizeof(A.root),
			    &A.root_qcow2);
			break;
		case O_ROOT_B:
			rc = path_arg("root-backing", optarg, false,
			    A.root_backing, sizeof(A.root_backing));
			break;
		case O_PRIV:
			rc = image_arg("private", optarg, A.priv,
			    sizeof(A.priv), &A.priv_qcow2);
			break;
		case O_PRIV_B:
			rc = path_arg("private-backing", optarg, false,
			    A.priv_backing, sizeof(A.priv_backing));
			break;
		case O_VCHAN:
			rc = path_arg(
			    "vchan", optarg, true, A.vchan, sizeof(A.vchan));
			break;
		case O_CONSOLE:
			/* may not exist yet: its directory must */
			if (optarg[0] != '/' || strstr(optarg, "/../") ||
			    str_copy(A.console, sizeof(A.console), optarg) <
			        0) {
				log_warnx("--console: an absolute path");
				rc = -EINVAL;
			}
			break;
		case O_QEMU:
			rc = path_arg(
			    "qemu", optarg, false, A.qemu, sizeof(A.qemu));
			break;
		case O_VMUX:
			rc = path_arg(
			    "vmux", optarg, false, A.vmux, sizeof(A.vmux));
			break;
		case O_MEM:
			rc = u32_arg("memory", optarg, QEMU_MIN_MEMORY_MB,
			    QEMU_MAX_MEMORY_MB, &A.memory_mib);
			break;
		case O_VCPUS:
			rc = u32_arg(
			    "vcpus", optarg, 1, QEMU_MAX_VCPUS, &A.vcpus);
			break;
		case O_KOPTS:
			if (str_copy(A.kernelopts, sizeof(A.kernelopts),
			        optarg) < 0) {
				log_warnx("--kernelopts: too long");
				rc = -EINVAL;
			}
			break;
		case O_ACCEL:
			if (strcmp(optarg, "tcg") == 0)
				A.accel = QEMU_ACCEL_TCG;
			else if (strcmp(optarg, "kvm") == 0)
				A.accel = QEMU_ACCEL_KVM;
			else {
				log_warnx("--accel: tcg or kvm");
				rc = -EINVAL;
			}
			break;
		case O_MACHINE:
			if (strcmp(optarg, "microvm") == 0)
				A.machine = QEMU_MACHINE_MICROVM;
			else if (strcmp(optarg, "q35") == 0)
				A.machine = QEMU_MACHINE_Q35;
			else {
				log_warnx("--machine: microvm or q35");
				rc = -EINVAL;
			}
			break;
		case O_GUI_POOL:
			rc = gui_pool_arg(optarg);
			break;
		default:
			usage(stderr, 2);
		}
		if (rc < 0)
			bad = true;
	}
	if (optind != argc || bad || A.name[0] == '\0' || !have_qid ||
	    !have_domid || A.kernel[0] == '\0' || A.initrd[0] == '\0' ||
	    A.root[0] == '\0' || A.vchan[0] == '\0' || A.console[0] == '\0' ||
	    A.vmux[0] == '\0')
		usage(stderr, 2);
	if ((A.root_backing[0] != '\0' && !A.root_qcow2) ||
	    (A.priv_backing[0] != '\0' && !A.priv_qcow2)) {
		log_warnx("a backing image needs a qcow2 disk");
		exit(2);
	}
	A.base = sandbox_uid_base(A.qid);
}

/* Open a file QEMU gets as an fd; never a symbolic link or a device. */
static int
open_file(const char *path, bool rw)
{
	struct stat st;
	int fd = open(
	    path, (rw ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		log_warn("%s", path);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_warnx("%s: not a regular file", path);
		(void)close(fd);
		return -1;
	}
	return fd;
}

/* Bind src (a file or directory) at dst, read-only unless rw. */
static int
bind_ro(const char *src, const char *dst, bool rw)
{
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -1;
	if (rw)
		return 0;
	return mount(NULL, dst, NULL,
	    MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL);
}

/*
 * QEMU's view of the filesystem, in its own mount namespace: /usr (its
 * program, libraries and firmware) read-only, /proc of its own pid
 * namespace (it opens the kernel and initramfs as /proc/self/fd/N), a
 * /dev of null, zero, urandom (and
 * kvm when it runs under KVM), and nothing else: no other qube's files,
 * no host configuration.  Everything of the qube's it gets as open fds.
 * In the child, as root, before the ids change.  0 or -1 (errno set).
 */
static int
qemu_root(void)
{
	static const char *const devs[] = {"null", "zero", "urandom", "kvm"};
	static const char *const links[][2] = {{"lib", "usr/lib"},
	    {"lib64", "usr/lib64"}, {"bin", "usr/bin"}, {"sbin", "usr/sbin"}};
	const char *nr = "/tmp"; /* any directory: the tmpfs hides it */
	char p[64];
	size_t i;

	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("qemu-root", nr, "tmpfs", MS_NOSUID | MS_NODEV,
	        "mode=0755,size=64k") < 0)
		return -1;
	/* /proc: a new one, of QEMU's own pid namespace (start_qemu): its
	 * processes alone, none of the host's */
	if (mkdir("/tmp/usr", 0755) < 0 || bind_ro("/usr", "/tmp/usr", false) ||
	    mkdir("/tmp/proc", 0555) < 0 ||
	    mount("proc", "/tmp/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	        NULL) < 0 ||
	    mkdir("/tmp/dev", 0755) < 0 || mkdir("/tmp/.old", 0700) < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(links); i++) {
		char t[PATH_MAX];
		ssize_t n;

		/* merged /usr (Debian 12): the same links as the host's */
		(void)snprintf(p, sizeof(p), "/%s", links[i][0]);
		n = readlink(p, t, sizeof(t) - 1);
		if (n <= 0)
			continue;
		t[n] = '\0';
		(void)snprintf(p, sizeof(p), "/tmp/%s", links[i][0]);
		if (symlink(t, p) < 0)
			return -1;
	}
	for (i = 0; i < ARRAY_SIZE(devs); i++) {
		char src[32];
		int fd;

		if (strcmp(devs[i], "kvm") == 0 && A.accel != QEMU_ACCEL_KVM)
			continue;
		(void)snprintf(src, sizeof(src), "/dev/%s", devs[i]);
		(void)snprintf(p, sizeof(p), "/tmp/dev/%s", devs[i]);
		fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		(void)close(fd);
		if (mount(src, p, NULL, MS_BIND, NULL) < 0)
			return -1;
	}
	if (syscall(SYS_pivot_root, nr, "/tmp/.old") < 0 || chdir("/") < 0 ||
	    umount2("/.old", MNT_DETACH) < 0 || rmdir("/.old") < 0)
		return -1;
	return 0;
}

/* QEMU's sign that the launcher still runs (drop_to_qube): the
 * launcher holds the write end, never written, for as long as it runs. */
static int launcher_alive[2] = {-1, -1};

/*
 * In a child that becomes QEMU or the vmux: take the qube's ids, leave
 * privileges behind for good, and die with the launcher.  launcher is
 * its pid, or 0 for a child in a pid namespace of its own (QEMU), which
 * cannot see it: then alive_fd is the read end of a pipe whose write end
 * only the launcher holds (at its end, the pipe hangs up).
 */
static void
drop_to_qube(bool new_namespaces, pid_t launcher, int alive_fd)
{
	gid_t g = A.base;
	/* no network, no host IPC, its own hostname, only its own files
	 * (as root, before the ids change: unsharing needs CAP_SYS_ADMIN) */
	/* QEMU into the qube's cgroups before it allocates anything */
	if (new_namespaces)
		qcg_join(&cg, 0);
	if (new_namespaces &&
	    (unshare(CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS) < 0 ||
	        qemu_root() < 0)) {
		perror("bulkhead-vm: QEMU's namespaces");
		_exit(126);
	}
	if (setgroups(1, &g) < 0 || setresgid(A.base, A.base, A.base) < 0 ||
	    setresuid(A.base, A.base, A.base) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		perror("bulkhead-vm: dropping privileges");
		_exit(126);
	}
	/*
	 * Die with the launcher.  After the ids changed: a change of
	 * credentials clears the parent-death signal.  If the launcher is
	 * already gone, so is the reason to run.
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(126);
	if (launcher > 0 && getppid() != launcher)
		_exit(126);
	if (launcher == 0) {
		struct pollfd p = {.fd = alive_fd, .events = POLLIN};

		if (poll(&p, 1, 0) != 0)
			_exit(126); /* hung up (or an error): no launcher */
	}
}

/*
 * Move fds[i] to number want[i] in a child before exec, without
 * clobbering one another: first above all targets, then into place.
 */
static void
place_fds(int *fds, const int *want, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int t = fcntl(fds[i], F_DUPFD, 1000);

		if (t < 0)
			_exit(126);
		fds[i] = t;
	}
	for (i = 0; i < n; i++)
		if (dup2(fds[i], want[i]) < 0)
			_exit(126);
}

static void
sigmask_default(void)
{
	sigset_t none;

	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

/* The fds QEMU inherits, at fixed numbers (qemu_cmd.c's argv names them). */
enum {
	FD_QMP = 3,
	FD_SERIAL,
	FD_CONSOLE,
	FD_KERNEL,
	FD_INITRD,
	FD_ROOT,
	FD_ROOT_B,
	FD_PRIV,
	FD_PRIV_B,
	FD_GUIPOOL,
	FD_QEMU_MAX
};

/*
 * QEMU's fds: fds[0..1] are the caller's (QMP, serial), fds[2] the
 * console (returned), the GUI pool's (gui_pool_fd, -1: none) the caller
 * keeps; the rest are opened and closed here.
 */
static pid_t
start_qemu(int qmp_fd, int serial_fd, int gui_pool_fd, int *ret_console_fd)
{
	struct qemu_config c;
	struct qemu_argv av = {NULL, 0};
	int fds[FD_QEMU_MAX - FD_QMP], want[FD_QEMU_MAX - FD_QMP];
	char append[128];
	size_t n = 0, i;
	uint32_t khz;
	pid_t pid;
	int rc;

	for (i = 0; i < ARRAY_SIZE(fds); i++)
		fds[i] = -1;
	fds[n] = qmp_fd, want[n++] = FD_QMP;
	fds[n] = serial_fd, want[n++] = FD_SERIAL;
	{
		int sv[2];

		/* ours nonblocking: the loop reads what there is */
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) <
		        0 ||
		    fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
			log_warn("console socket");
			return -1;
		}
		*ret_console_fd = sv[0];
		fds[n] = sv[1];
		want[n++] = FD_CONSOLE;
	}
	if ((fds[n] = open_file(A.kernel, false)) < 0)
		goto fail;
	want[n++] = FD_KERNEL;
	if ((fds[n] = open_file(A.initrd, false)) < 0)
		goto fail;
	want[n++] = FD_INITRD;
	if ((fds[n] = open_file(A.root, true)) < 0)
		goto fail;
	/*
	 * A template's own root (raw, written in place): held locked for as
	 * long as QEMU runs (QEMU keeps this open file), so that bulkheadd
	 * does not copy it for the template's AppVMs meanwhile (backend_vm.c:
	 * template_snapshot holds it shared while it copies; this waits).
	 */
	if (!A.root_qcow2 && flock(fds[n], LOCK_EX) < 0) {
		log_warn("%s: lock", A.root);
		n++;
		goto fail;
	}
	want[n++] = FD_ROOT;
	if (A.root_backing[0] != '\0') {
		if ((fds[n] = open_file(A.root_backing, false)) < 0)
			goto fail;
		want[n++] = FD_ROOT_B;
	}
	if (A.priv[0] != '\0') {
		if ((fds[n] = open_file(A.priv, true)) < 0)
			goto fail;
		/*
		 * Its own private image (raw, written in place; a DVM
		 * template's disposables start over a copy of it): locked
		 * likewise, so that bulkheadd never copies it while QEMU
		 * writes (backend_vm.c: image_snapshot).
		 */
		if (A.priv_backing[0] == '\0' && flock(fds[n], LOCK_EX) < 0) {
			log_warn("%s: lock", A.priv);
			n++;
			goto fail;
		}
		want[n++] = FD_PRIV;
	}
	if (A.priv_backing[0] != '\0') {
		if ((fds[n] = open_file(A.priv_backing, false)) < 0)
			goto fail;
		want[n++] = FD_PRIV_B;
	}
	if (gui_pool_fd >= 0)
		fds[n] = gui_pool_fd, want[n++] = FD_GUIPOOL;

	qemu_config_init(&c);
	c.binary = A.qemu;
	c.name = A.name;
	c.machine = A.machine;
	c.accel = A.accel;
	c.memory_mb = A.memory_mib;
	c.vcpus = A.vcpus;
	c.start_paused = true;
	c.kernel = (struct qemu_file){NULL, FD_KERNEL};
	c.initrd = (struct qemu_file){NULL, FD_INITRD};
	(void)snprintf(append, sizeof(append),
	    "quiet panic=-1 bulkhead.name=%s bulkhead.domid=%u", A.name,
	    A.domid);
	c.append = append;
	c.kernelopts = A.kernelopts[0] != '\0' ? A.kernelopts : NULL;
	/* microvm under TCG calibrates its TSC badly without it (hangs) */
	if (A.machine == QEMU_MACHINE_MICROVM && A.accel == QEMU_ACCEL_TCG &&
	    qemu_host_tsc_khz(&khz) == 0)
		c.tsc_khz = khz;
	/* A disk with a backing is the overlay bulkheadd made in the qube's
	 * volatile area for this run (an AppVM's root, a disposable's
	 * private), removed when it stops: a scratch disk.  (Flushes of
	 * the two boot-time ext4 mounts cost 0.1 s of a TCG start: agent
	 * up 0.65-0.75 s after /init with them, 0.60-0.76 without, medians
	 * 0.725 and 0.62 of six boots.) */
	c.disks[c.n_disks++] = (struct qemu_disk){.file = {NULL, FD_ROOT},
	    .format = A.root_qcow2 ? QEMU_DISK_QCOW2 : QEMU_DISK_RAW,
	    .serial = "root",
	    .backing = A.root_backing[0] != '\0' ?
	        (struct qemu_file){NULL, FD_ROOT_B} :
	        QEMU_FILE_NONE,
	    .backing_format = QEMU_DISK_RAW,
	    .scratch = A.root_backing[0] != '\0'};
	if (A.priv[0] != '\0')
		c.disks[c.n_disks++] = (struct qemu_disk){
		    .file = {NULL, FD_PRIV},
		    .format = A.priv_qcow2 ? QEMU_DISK_QCOW2 : QEMU_DISK_RAW,
		    .serial = "private",
		    .backing = A.priv_backing[0] != '\0' ?
		        (struct qemu_file){NULL, FD_PRIV_B} :
		        QEMU_FILE_NONE,
		    .backing_format = QEMU_DISK_RAW,
		    .scratch = A.priv_backing[0] != '\0'};
	c.qmp_fd = FD_QMP;
	c.ports[c.n_ports++] =
	    (struct qemu_port){.fd = FD_SERIAL, .name = VM_QREXEC_PORT};
	c.console_socket_fd = FD_CONSOLE;
	/* pages the guest frees go back to the host (the initramfs it
	 * unpacked and dropped, the kernel's boot-time memory) */
	c.free_page_reporting = true;
	if (gui_pool_fd >= 0) {
		c.gui_pool_fd = FD_GUIPOOL;
		c.gui_pool_size = (uint64_t)A.gui_pool_mib << 20;
	}
	if ((rc = qemu_cmd_build(&c, &av)) < 0) {
		log_warnx("QEMU's command line: %s", strerror(-rc));
		goto fail;
	}
	if (launcher_alive[1] < 0 && pipe2(launcher_alive, O_CLOEXEC) < 0) {
		log_warn("pipe");
		launcher_alive[0] = launcher_alive[1] = -1;
		goto fail;
	}
	/*
	 * fork(2) into a new pid namespace, whose pid 1 QEMU is: its /proc
	 * (qemu_root) shows it alone, not the host's processes; made in
	 * the qube's cgroup v2 where there is one (qcgroup.c).
	 */
	pid = qcg_fork(&cg, CLONE_NEWPID);
	if (pid == 0) {
		(void)close(launcher_alive[1]);
		sigmask_default();
		drop_to_qube(true, 0, launcher_alive[0]);
		place_fds(fds, want, n);
		(void)close_range(FD_QEMU_MAX, ~0u, 0);
		execv(av.argv[0], av.argv);
		perror("bulkhead-vm: exec QEMU");
		_exit(127);
	}
	close_fd(&launcher_alive[0]);
	qemu_argv_free(&av);
	for (i = 2; i < n; i++)
		if (fds[i] != gui_pool_fd)
			(void)close(fds[i]);
	if (pid < 0) {
		log_warn("fork");
		(void)close(*ret_console_fd);
		*ret_console_fd = -1;
	}
	return pid;
fail:
	for (i = 2; i < n; i++)
		if (fds[i] != gui_pool_fd)
			(void)close(fds[i]);
	(void)close(*ret_console_fd);
	*ret_console_fd = -1;
	return -1;
}

/*
 * The GUI pool: a sealed memfd of --gui-pool's size, and FILE saying
 * where it is ("PID FD BYTES\n", written to FILE.tmp, mode 0600, and
 * renamed over FILE).  The launcher keeps the fd for the qube's lifetime:
 * /proc/PID/fd/FD names it as long as FILE exists.
 * Made lazy (no fallocate): a page is allocated when the guest first
 * writes it through QEMU's mapping, and charged to QEMU's memory cgroup,
 * the qube's, not to this launcher's.
 * 0 and *ret_fd, or -errno.
 */
static int
gui_pool_setup(int *ret_fd)
{
	size_t size = (size_t)A.gui_pool_mib << 20;
	char tmp[PATH_MAX + 8], line[64];
	int fd, tfd, rc;

	rc = gui_pool_make_lazy(size, &fd);
	if (rc < 0) {
		log_warnx("GUI pool: %s", strerror(-rc));
		return rc;
	}
	if (str_printf(tmp, sizeof(tmp), "%s.tmp", A.gui_pool_file) < 0) {
		rc = -ENAMETOOLONG;
		goto out_close;
	}
	(void)snprintf(
	    line, sizeof(line), "%d %d %zu\n", (int)getpid(), fd, size);
	(void)unlink(tmp);
	tfd = open(
	    tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (tfd < 0) {
		rc = -errno;
		log_warn("%s", tmp);
		goto out_close;
	}
	rc = io_write_all(tfd, line, strlen(line));
	if (close(tfd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, A.gui_pool_file) < 0)
		rc = -errno;
	if (rc < 0) {
		log_warnx("%s: %s", A.gui_pool_file, strerror(-rc));
		(void)unlink(tmp);
		goto out_close;
	}
	*ret_fd = fd;
	return 0;
out_close:
	(void)close(fd);
	return rc;
}

static pid_t
start_vmux(int serial_fd)
{
	pid_t self = getpid(), pid = fork();

	if (pid == 0) {
		int fds[1] = {serial_fd}, want[1] = {3};

		sigmask_default();
		/*
		 * Into the channel directory as root: the path to it is
		 * root's alone (no qube may reach another's directory),
		 * the directory itself the qube's.
		 */
		if (chdir(A.vchan) < 0) {
			perror("bulkhead-vm: channel directory");
			_exit(126);
		}
		drop_to_qube(false, self, -1);
		place_fds(fds, want, 1);
		(void)close_range(4, ~0u, 0);
		execl(A.vmux, "bulkhead-vmux", "--host", "--fd", "3", "--dir",
		    ".", "--name", A.name, (char *)NULL);
		perror("bulkhead-vm: exec bulkhead-vmux");
		_exit(127);
	}
	if (pid < 0)
		log_warn("fork");
	return pid;
}

int
main(int argc, char **argv)
{
	int qmp_sv[2] = {-1, -1}, ser_sv[2] = {-1, -1}, sfd;
	struct logcap cl = {
	    .in = -1, .out = -1, .what = "console output", .out_file = true};
	int gui_pool_fd = -1;
	struct vq vq = {.pid = -1, .fd = -1, .broken = -EPIPE};
	pid_t qemu, vmux = -1;
	uint64_t kill_at = 0;
	bool quitting = false, stopping = false;
	sigset_t mask;
	int rc, status = 1;

	log_init("bulkhead-vm", 1);
	parse_args(argc, argv);
	log_set_qube(A.name);
	if (geteuid() != 0) {
		log_warnx("needs root (it runs QEMU as the qube's own uid)");
		return 1;
	}
	sigemptyset(&mask);
	(void)sigaddset(&mask, SIGTERM);
	(void)sigaddset(&mask, SIGINT);
	(void)sigaddset(&mask, SIGCHLD);
	(void)sigaddset(&mask, SANDBOX_SIG_FREEZE);
	(void)sigaddset(&mask, SANDBOX_SIG_THAW);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	(void)signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp_sv) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ser_sv) < 0) {
		log_warn("setting up");
		return 1;
	}
	(void)qcg_setup(&cg, A.name, (uint64_t)A.memory_mib + QEMU_OVERHEAD_MIB,
	    QEMU_PIDS_MAX, A.vcpus);
	if (A.gui_pool_mib != 0 && gui_pool_setup(&gui_pool_fd) < 0) {
		qcg_cleanup(&cg);
		return 1;
	}
	/* the console's log (the path is bulkheadd's, in its state
	 * directory; still never through a symlink) */
	cl.max = logcap_limit();
	if ((rc = logcap_rotate(A.console, cl.max)) < 0)
		log_warnx("%s: moving it aside: %s, ignoring", A.console,
		    strerror(-rc));
	cl.out = open(A.console,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY,
	    0600);
	if (cl.out < 0)
		log_warn("%s: the console's output is dropped", A.console);
	qemu = start_qemu(qmp_sv[1], ser_sv[1], gui_pool_fd, &cl.in);
	if (qemu < 0) {
		if (cl.out >= 0)
			(void)close(cl.out);
		if (gui_pool_fd >= 0)
			(void)unlink(A.gui_pool_file);
		qcg_cleanup(&cg);
		return 1;
	}
	(void)close(qmp_sv[1]);
	(void)close(ser_sv[1]);
	/* QMP is parsed by a confined child with QEMU's ids, not here */
	rc = vq_start(&vq, qmp_sv[0], A.base, A.base);
	(void)close(qmp_sv[0]);
	if (rc < 0) {
		log_warnx("QMP reader: %s", strerror(-rc));
		goto kill_qemu;
	}
	rc = vq_call(&vq, VQ_HANDSHAKE, QMP_TIMEOUT_MS);
	if (rc < 0) {
		log_warnx("QMP: %s", strerror(-rc));
		goto kill_qemu;
	}
	vmux = start_vmux(ser_sv[0]);
	(void)close(ser_sv[0]);
	if (vmux < 0)
		goto kill_qemu;
	rc = vq_call(&vq, VQ_CONT, QMP_TIMEOUT_MS);
	if (rc < 0) {
		log_warnx("QMP cont: %s", strerror(-rc));
		goto kill_qemu;
	}
	log_info("started (QEMU pid %d, %s)", (int)qemu,
	    A.accel == QEMU_ACCEL_KVM ? "KVM" : "TCG");

	for (;;) {
		struct pollfd p[3] = {
		    {sfd, POLLIN, 0}, {-1, POLLIN, 0}, {cl.in, POLLIN, 0}};
		struct signalfd_siginfo si;
		int timeout = -1;

		if (!vq.broken)
			p[1].fd = vq.fd;
		if (kill_at != 0) {
			uint64_t t = now_ms();

			if (t >= kill_at) {
				(void)kill(qemu, SIGKILL);
				kill_at = 0;
			} else
				timeout = (int)(kill_at - t);
		}
		if (poll(p, 3, timeout) < 0 && errno != EINTR)
			break;
		if (p[2].revents != 0)
			logcap_pump(&cl);
		if (p[1].revents != 0 && !vq.broken)
			(void)vq_input(&vq);
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGTERM && vmux > 0) {
				/* the guest's init shuts down and powers off */
				stopping = true;
				(void)kill(vmux, SIGUSR1);
			} else if (si.ssi_signo == SIGINT && !quitting) {
				quitting = true;
				if (vq_call(&vq, VQ_QUIT, QMP_TIMEOUT_MS) < 0)
					(void)kill(qemu, SIGKILL);
				else
					kill_at = now_ms() + KILL_GRACE_MS;
			} else if ((int)si.ssi_signo == SANDBOX_SIG_FREEZE &&
			    !vq.broken) {
				if ((rc = vq_call(
				         &vq, VQ_STOP, QMP_TIMEOUT_MS)) < 0)
					log_warnx(
					    "QMP stop: %s", strerror(-rc));
			} else if ((int)si.ssi_signo == SANDBOX_SIG_THAW &&
			    !vq.broken) {
				if ((rc = vq_call(
				         &vq, VQ_CONT, QMP_TIMEOUT_MS)) < 0)
					log_warnx(
					    "QMP cont: %s", strerror(-rc));
			}
		}
		/* QMP is over (unasked, or a command's result said so) */
		if (vq.broken && vq.fd >= 0) {
			/* EOF: QEMU is going; garbage or the reader gone: we
			 * cannot steer QEMU any more, kill it */
			if (vq.broken != -EPIPE) {
				log_warnx("QMP: %s; killing QEMU",
				    strerror(-vq.broken));
				(void)kill(qemu, SIGKILL);
			}
			vq_stop(&vq);
		}
		for (;;) {
			int st;
			pid_t w = waitpid(-1, &st, WNOHANG);

			if (w <= 0)
				break;
			if (w == vq.pid && (!WIFEXITED(st) || WEXITSTATUS(st)))
				log_warnx(
				    "the QMP reader ended (status %d)", st);
			vq_reaped(&vq, w);
			if (w == qemu) {
				if (WIFEXITED(st))
					log_info("QEMU exited (%d)",
					    WEXITSTATUS(st));
				else
					log_info("QEMU killed by signal %d",
					    WTERMSIG(st));
				status = 0;
				goto out;
			}
			if (w == vmux) {
				/*
				 * The qube's channels are gone (it broke
				 * the vmux protocol, or the vmux failed): a
				 * qube nobody can reach is stopped.
				 */
				if (!stopping || !WIFEXITED(st) ||
				    WEXITSTATUS(st) != 0)
					log_warnx("bulkhead-vmux ended (status "
					          "%d); killing the qube",
					    st);
				vmux = -1;
				/* a guest powering off gets a moment to end */
				if (stopping && WIFEXITED(st) &&
				    WEXITSTATUS(st) == 0)
					kill_at = now_ms() + KILL_GRACE_MS;
				else
					(void)kill(qemu, SIGKILL);
			}
		}
	}
kill_qemu:
	(void)kill(qemu, SIGKILL);
	(void)waitpid(qemu, NULL, 0);
out:
	/* QEMU is gone: what it wrote last (a panic's trace) is kept */
	logcap_pump(&cl);
	if (cl.in >= 0)
		(void)close(cl.in);
	if (cl.out >= 0)
		(void)close(cl.out);
	if (vmux > 0) {
		(void)kill(vmux, SIGTERM);
		(void)waitpid(vmux, NULL, 0);
	}
	vq_stop(&vq);
	if (gui_pool_fd >= 0) {
		/* the GUI domain's mapping (if any) keeps its pages */
		(void)unlink(A.gui_pool_file);
		(void)close(gui_pool_fd);
	}
	qcg_cleanup(&cg);
	return status;
}
