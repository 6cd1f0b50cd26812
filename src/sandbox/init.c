/*
 * init.c - bulkhead-init (PROC_QUBE_INIT): PID 1 of a namespace qube.
 *
 * Runs as the qube's root inside its user namespace, under the qube's
 * seccomp filter, with the capabilities the launcher left.  It starts
 * qrexec-agent (and starts it again if it dies, with a backoff), reaps
 * every orphan, and on SIGTERM stops the qube: SIGTERM to every process,
 * a grace period, SIGKILL, exit.  It reads nothing from other processes.
 *
 * With --vm it is PID 1 of a VM qube (after the initramfs's /init, which
 * mounted the disks): it also mounts /proc, /sys, /dev, /dev/pts and
 * /dev/shm, starts bulkhead-vmux, which carries the qube's channels over
 * its virtio-serial port (and is restarted like the agent), and ends by
 * powering the machine off instead of exiting (PID 1 of a kernel must not
 * exit).
 * A VM's GUI agent draws into the pool the host made (the ivshmem-plain
 * device's BAR 2): only a VM that has that device runs one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "sandbox/sandbox.h"
#include "vm/vm.h"

#define GRACE_MS 3000

static int vm_mode;

/*
 * fork() for a child the init keeps running: in the child (0 returned),
 * no signal blocked (the init blocks them all for its signalfd) and a
 * session of its own.
 */
static pid_t
fork_child(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		(void)setsid();
	}
	return pid;
}

/*
 * In a VM qube, SANDBOX_TOOLS_DIR holds shell wrappers that run
 * VM_TOOLS_LIBEXEC/NAME through the loader the initramfs carries (see
 * add_tool in bulkhead-vm-kernel).
 */
#define VM_TOOLS_LOADER  "/run/bulkhead/lib/ld.so"
#define VM_TOOLS_LIB     "/run/bulkhead/lib"
#define VM_TOOLS_LIBEXEC "/run/bulkhead/libexec"
#define TOOL_MAX_ARGS    8

/*
 * exec bulkhead's program name (of SANDBOX_TOOLS_DIR) with args (NULL
 * ended, argv[0] excluded).  In a VM qube the init runs the loader itself,
 * as the program's wrapper would, without starting a shell for it (tens
 * of ms each under TCG, at every boot); the wrapper (or, in a namespace
 * qube, the program) otherwise.  Returns only if the exec failed.
 */
static void
exec_tool(const char *name, const char *const *args)
{
	char tool[PATH_MAX], prog[PATH_MAX];
	const char *argv[TOOL_MAX_ARGS + 7];
	size_t n = 0, i;
	int r1, r2;

	r1 = snprintf(tool, sizeof(tool), "%s/%s", SANDBOX_TOOLS_DIR, name);
	r2 = snprintf(prog, sizeof(prog), "%s/%s", VM_TOOLS_LIBEXEC, name);
	if (r1 < 0 || (size_t)r1 >= sizeof(tool) || r2 < 0 ||
	    (size_t)r2 >= sizeof(prog))
		return;
	if (vm_mode && access(VM_TOOLS_LOADER, X_OK) == 0 &&
	    access(prog, X_OK) == 0) {
		argv[n++] = VM_TOOLS_LOADER;
		argv[n++] = "--library-path";
		argv[n++] = VM_TOOLS_LIB;
		argv[n++] = "--argv0";
		argv[n++] = tool;
		argv[n++] = prog;
		for (i = 0; args[i] != NULL && i < TOOL_MAX_ARGS; i++)
			argv[n++] = args[i];
		argv[n] = NULL;
		(void)execv(VM_TOOLS_LOADER, (char *const *)argv);
		n = 0;
	}
	argv[n++] = name;
	for (i = 0; args[i] != NULL && i < TOOL_MAX_ARGS; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	(void)execv(tool, (char *const *)argv);
}

static pid_t
start_vmux(void)
{
	pid_t pid = fork_child();

	if (pid == 0) {
		static const char *const args[] = {"--guest", "--port",
		    VM_QREXEC_PORT, "--dir", SANDBOX_VCHAN_DIR, NULL};

		exec_tool("bulkhead-vmux", args);
		perror("bulkhead-init: exec bulkhead-vmux");
		_exit(127);
	}
	return pid;
}

/*
 * With bulkhead.trace on a VM's kernel command line: a step and the time
 * since boot on the console (as the initramfs's /init does).
 */
static void
vm_trace(const char *step)
{
	char cmd[4096], up[64];
	FILE *f = fopen("/proc/cmdline", "re");
	bool on = false;

	if (f != NULL) {
		on = fgets(cmd, sizeof(cmd), f) != NULL &&
		    strstr(cmd, " bulkhead.trace") != NULL;
		(void)fclose(f);
	}
	if (!on || (f = fopen("/proc/uptime", "re")) == NULL)
		return;
	if (fgets(up, sizeof(up), f) != NULL)
		(void)fprintf(stderr, "bulkhead-init: %s at %.*s s\n", step,
		    (int)strcspn(up, " "), up);
	(void)fclose(f);
}

/*
 * A VM's /proc, /sys and /dev (devtmpfs): the initramfs's /init leaves
 * them to the init (one program less for it to start under emulation).
 * Each is mounted unless already there.
 */
static void
vm_mount_kernel_fs(void)
{
	static const struct {
		const char *type, *dir;
		long magic;
	} fs[] = {
	    {"proc", "/proc", PROC_SUPER_MAGIC},
	    {"sysfs", "/sys", SYSFS_MAGIC},
	    {"devtmpfs", "/dev", TMPFS_MAGIC},
	};
	size_t i;

	for (i = 0; i < sizeof(fs) / sizeof(fs[0]); i++) {
		struct statfs st;

		if (statfs(fs[i].dir, &st) == 0 &&
		    (long)st.f_type == fs[i].magic)
			continue;
		(void)mkdir(fs[i].dir, 0755);
		if (mount(fs[i].type, fs[i].dir, fs[i].type, 0, NULL) < 0)
			(void)fprintf(stderr, "bulkhead-init: mount %s: %s\n",
			    fs[i].dir, strerror(errno));
	}
}

/* A VM's end: everything on disk, the disks clean, the machine off. */
static _Noreturn void
vm_poweroff(void)
{
	sync();
	(void)umount2("/home", MNT_DETACH);
	(void)mount(NULL, "/rw", NULL, MS_REMOUNT | MS_RDONLY, NULL);
	(void)mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY, NULL);
	sync();
	(void)reboot(RB_POWER_OFF);
	for (;;)
		(void)pause();
}

static pid_t
start_agent(void)
{
	pid_t pid = fork_child();

	if (pid == 0) {
		(void)setenv("VCHAN_SOCKET_DIR", SANDBOX_VCHAN_DIR, 1);
		(void)setenv("QREXEC_SERVICE_PATH",
		    "/run/qubes-rpc:/usr/local/etc/qubes-rpc:/etc/qubes-rpc:"
		    "/rw/config/qubes-rpc:" SANDBOX_RPC_DIR
		    ":" SANDBOX_AGENT_RPC_DIR,
		    1);
		(void)setenv("QUBES_RPC_CONFIG_PATH",
		    "/run/qubes/rpc-config:/usr/local/etc/qubes/rpc-config:"
		    "/etc/qubes/rpc-config",
		    1);
		static const char *const args[] = {
		    "--agent-socket=" SANDBOX_AGENT_SOCK, NULL};

		exec_tool("qrexec-agent", args);
		perror("bulkhead-init: exec qrexec-agent");
		_exit(127);
	}
	return pid;
}

/*
 * The GUI agent, in a qube whose feature "gui" put it in the tools: run
 * as the qube's user (the owner of its Wayland clients) with
 * XDG_RUNTIME_DIR /run/user/UID; it listens on the channel directory for
 * the GUI domain.  Returns its pid, or -1 when the qube has none.
 */
#define GUI_AGENT      SANDBOX_TOOLS_DIR "/bulkhead-gui-agent"
#define GUI_AGENT_USER "user"

static char gui_runtime_dir[64];

static void
gui_env(void)
{
	struct passwd *pw;

	if (access(GUI_AGENT, X_OK) < 0 ||
	    (pw = getpwnam(GUI_AGENT_USER)) == NULL)
		return;
	(void)snprintf(gui_runtime_dir, sizeof(gui_runtime_dir), "/run/user/%u",
	    (unsigned)pw->pw_uid);
	(void)mkdir("/run/user", 0755);
	(void)mkdir(gui_runtime_dir, 0700);
	if (chown(gui_runtime_dir, pw->pw_uid, pw->pw_gid) < 0) {
		perror("bulkhead-init: /run/user");
		gui_runtime_dir[0] = '\0';
		return;
	}
	/* what qrexec services (qvm-run) see: the agent's display */
	(void)setenv("XDG_RUNTIME_DIR", gui_runtime_dir, 1);
	(void)setenv("WAYLAND_DISPLAY", "wayland-0", 1);
}

/* The GUI pool's device: ivshmem-plain (Red Hat's virtio vendor id). */
#define IVSHMEM_VENDOR "0x1af4"
#define IVSHMEM_DEVICE "0x1110"
#define PCI_DEVICES    "/sys/bus/pci/devices"

/* The first line of dir/leaf is want?  (sysfs: "0x1af4\n") */
static bool
sysfs_is(const char *dir, const char *leaf, const char *want)
{
	char p[PATH_MAX], v[32];
	bool is = false;
	FILE *f;

	(void)snprintf(p, sizeof(p), "%s/%s", dir, leaf);
	if ((f = fopen(p, "re")) == NULL)
		return false;
	if (fgets(v, sizeof(v), f) != NULL) {
		v[strcspn(v, "\n")] = '\0';
		is = strcmp(v, want) == 0;
	}
	(void)fclose(f);
	return is;
}

/*
 * A VM's GUI pool: the ivshmem-plain device's BAR 2 (resource2) opened
 * read-write, after turning the device's memory decoding on (no driver
 * binds it; "enable" does what a driver's pci_enable_device would).  As
 * root, once at boot: the agent gets the fd, as the user, and cannot open
 * it itself.  The fd (O_CLOEXEC), or -1: no device (a VM without the
 * feature "gui"), which means no agent.
 */
static int
vm_gui_pool_fd(void)
{
	/* PCI_DEVICES/NAME, NAME a d_name (at most 255 bytes) */
	char dir[sizeof(PCI_DEVICES) + 256], p[PATH_MAX];
	struct statfs sfs;
	struct dirent *e;
	int fd = -1, efd;
	DIR *dp;

	/* the initramfs moved its /sys here; mount one if it did not */
	if ((statfs("/sys", &sfs) < 0 || sfs.f_type != SYSFS_MAGIC) &&
	    mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
	        NULL) < 0) {
		perror("bulkhead-init: mounting /sys");
		return -1;
	}
	if ((dp = opendir(PCI_DEVICES)) == NULL)
		return -1; /* no PCI bus: no pool */
	while (fd < 0 && (e = readdir(dp)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		(void)snprintf(dir, sizeof(dir), PCI_DEVICES "/%s", e->d_name);
		if (!sysfs_is(dir, "vendor", IVSHMEM_VENDOR) ||
		    !sysfs_is(dir, "device", IVSHMEM_DEVICE))
			continue;
		(void)snprintf(p, sizeof(p), "%s/enable", dir);
		efd = open(p, O_WRONLY | O_CLOEXEC);
		if (efd < 0 || write(efd, "1", 1) != 1)
			perror("bulkhead-init: enabling the GUI pool's device");
		if (efd >= 0)
			(void)close(efd);
		(void)snprintf(p, sizeof(p), "%s/resource2", dir);
		fd = open(p, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			perror("bulkhead-init: the GUI pool's resource2");
	}
	(void)closedir(dp);
	return fd;
}

/*
 * pool_fd: a VM's pool (the agent maps it, --pool-fd 3, and sends no
 * POOL), or -1: the agent makes its own (a namespace qube).
 */
static pid_t
start_gui_agent(int pool_fd)
{
	const char *dom = getenv("VCHAN_DOMAIN");
	char sock[128];
	struct passwd *pw;
	pid_t pid;

	if (gui_runtime_dir[0] == '\0' ||
	    (pw = getpwnam(GUI_AGENT_USER)) == NULL)
		return -1;
	if (vm_mode && pool_fd < 0)
		return -1; /* a VM draws only into the host's pool */
	/*
	 * Named as a vchan server of this qube for the GUI domain (domain 0)
	 * on Qubes' GUI port, 6000: a VM's vmux mirrors only such names.
	 */
	(void)snprintf(sock, sizeof(sock), "--gui-socket=%s/vchan.%s.0.%u.sock",
	    SANDBOX_VCHAN_DIR, dom != NULL ? dom : "0", SANDBOX_GUI_PORT);
	pid = fork_child();
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
		    setuid(pw->pw_uid) < 0) {
			perror("bulkhead-init: gui agent: user");
			_exit(127);
		}
		(void)setenv("HOME", pw->pw_dir, 1);
		if (pool_fd >= 0) {
			/* at 3, open across exec (dup2 clears CLOEXEC, but
			 * not when the numbers are equal) */
			if ((pool_fd != 3 && dup2(pool_fd, 3) < 0) ||
			    fcntl(3, F_SETFD, 0) < 0) {
				perror("bulkhead-init: gui agent: pool fd");
				_exit(127);
			}
			execl(GUI_AGENT, "bulkhead-gui-agent", sock,
			    "--pool-fd", "3", (char *)NULL);
		} else {
			execl(GUI_AGENT, "bulkhead-gui-agent", sock,
			    (char *)NULL);
		}
		perror("bulkhead-init: exec bulkhead-gui-agent");
		_exit(127);
	}
	return pid;
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Stop everything: SIGTERM, a grace period, SIGKILL; then exit. */
static _Noreturn void
shutdown_all(int sfd)
{
	uint64_t deadline = now_ms() + GRACE_MS;
	struct signalfd_siginfo si;

	(void)kill(-1, SIGTERM);
	(void)kill(-1, SIGCONT);
	for (;;) {
		pid_t w;
		int status;

		while ((w = waitpid(-1, &status, WNOHANG)) > 0)
			;
		if (w < 0 && errno == ECHILD)
			break;
		if (now_ms() >= deadline) {
			(void)kill(-1, SIGKILL);
			while (waitpid(-1, &status, 0) > 0 || errno == EINTR)
				;
			break;
		}
		(void)usleep(10000);
		while (read(sfd, &si, sizeof(si)) > 0)
			;
	}
	if (vm_mode)
		vm_poweroff();
	exit(0);
}

int
main(int argc, char **argv)
{
	struct signalfd_siginfo si;
	sigset_t mask;
	pid_t agent, vmux = -1, gui = -1;
	int gui_pool = -1;
	uint64_t last_start;
	unsigned restarts = 0;
	int sfd;

	if (getpid() != 1) {
		(void)fprintf(stderr,
		    "bulkhead-init: runs only as the qube's "
		    "PID 1\n");
		return 2;
	}
	if (argc == 2 && strcmp(argv[1], "--vm") == 0) {
		vm_mode = 1;
		vm_mount_kernel_fs();
		vm_trace("bulkhead-init started");
	} else if (argc != 1) {
		(void)fprintf(stderr, "usage: bulkhead-init [--vm]\n");
		return 2;
	}
	(void)umask(022);
	if (vm_mode) {
		(void)mkdir("/dev/pts", 0755);
		(void)mkdir("/dev/shm", 01777);
		(void)mount("devpts", "/dev/pts", "devpts",
		    MS_NOSUID | MS_NOEXEC,
		    "newinstance,ptmxmode=0666,mode=0620,gid=5");
		(void)mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
		    "mode=1777");
	}
	(void)mkdir("/run/qubes", 0755);
	sigfillset(&mask);
	(void)sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		perror("bulkhead-init: signalfd");
		return 1;
	}
	if (vm_mode)
		vmux = start_vmux();
	gui_env();
	if (vm_mode && gui_runtime_dir[0] != '\0')
		gui_pool = vm_gui_pool_fd();
	agent = start_agent();
	gui = start_gui_agent(gui_pool);
	if (vm_mode)
		vm_trace("vmux and agent started");
	last_start = now_ms();
	for (;;) {
		fd_set r;

		FD_ZERO(&r);
		FD_SET(sfd, &r);
		if (select(sfd + 1, &r, NULL, NULL, NULL) < 0 && errno != EINTR)
			break;
		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT ||
			    si.ssi_signo == SIGPWR ||
			    si.ssi_signo == SIGUSR2 /* busybox poweroff */)
				shutdown_all(sfd);
			if (si.ssi_signo != SIGCHLD)
				continue;
			for (;;) {
				int status;
				pid_t w = waitpid(-1, &status, WNOHANG);

				if (w <= 0)
					break;
				if (vm_mode && w == vmux) {
					/* the channel to the admin side */
					(void)sleep(1);
					vmux = start_vmux();
					continue;
				}
				if (w == gui) {
					/* the GUI: kept, at most once a second */
					(void)sleep(1);
					gui = start_gui_agent(gui_pool);
					continue;
				}
				if (w != agent)
					continue; /* an orphan, reaped */
				/* qrexec is how the qube is reached: keep it */
				if (now_ms() - last_start < 1000)
					restarts++;
				else
					restarts = 0;
				if (restarts > 10)
					(void)sleep(1);
				agent = start_agent();
				last_start = now_ms();
			}
		}
	}
	return 1;
}
