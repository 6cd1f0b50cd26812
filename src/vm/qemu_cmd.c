/*
 * qemu_cmd.c - builds the argv of one VM qube's QEMU from a struct
 * qemu_config, after checking every field; reads the host's TSC rate.
 *
 * Runs in the VM launcher (bulkheadd's per-qube process), before it execs
 * QEMU as the qube's unprivileged user.  Its inputs come from bulkheadd,
 * except kernelopts, a qube property an Admin API client may set: it is
 * checked like the rest, and it only ever reaches the guest's kernel
 * command line (one argv element, never parsed by QEMU as options).
 *
 * What QEMU 7.2.22 (Debian 12) accepts for files passed as inherited fds,
 * found by experiment (microvm and q35, TCG, -sandbox on):
 *  - QMP: `-chardev socket,id=qmp,fd=N -mon chardev=qmp,mode=control`
 *    with N one end of a connected socketpair works; the greeting comes
 *    at once, with -S the state is "prelaunch".
 *  - virtio-serial: `-chardev socket,id=..,fd=N` likewise, with
 *    `-device virtio-serial-device` (microvm) or `virtio-serial-pci`
 *    (q35) and `-device virtserialport,chardev=..,name=..`.
 *  - disks: `-add-fd fd=N,set=S` and `filename=/dev/fdset/S` in
 *    `-blockdev driver=file`, with the format node on top.  With
 *    `-drive file=/dev/fdset/S` a writable image fails ("Could not dup FD
 *    for /dev/fdset/S flags 0"): -drive first opens it read-only, and
 *    QEMU only hands out an fd of the set whose access mode matches; with
 *    -blockdev one O_RDWR fd is enough.  A read-only disk takes an
 *    O_RDONLY fd.  A qcow2 overlay gets its backing as a node
 *    (`backing=<node>`), so QEMU never opens the path in its header, and
 *    `backing=` (empty: null) for none; without it QEMU follows the path.
 *    `cache.no-flush=on` on both nodes of a scratch disk: the guest's
 *    flushes (ext4's superblock and journal commits) return at once
 *    instead of an fdatasync(2) of the image on the host.
 *  - serial console: `-add-fd` + `-chardev file,path=/dev/fdset/S` works
 *    for a regular file opened for writing; a pipe there fails with
 *    EINVAL.  A connected socket works as `-chardev socket,fd=N`.
 *  - kernel and initrd: `/dev/fdset/S` fails (the loader uses plain
 *    open()), but `/proc/self/fd/N` works where QEMU sees /proc.  That is
 *    what an fd becomes here; a launcher without /proc in QEMU's mount
 *    namespace passes paths instead.
 *  - the GUI pool: `-object memory-backend-file,id=guipool,size=S,
 *    mem-path=/proc/self/fd/N,share=on -device ivshmem-plain,
 *    memdev=guipool` with N a sealed memfd of S bytes (sealed against
 *    shrinking and growing: QEMU's ftruncate to the same size passes).
 *    QEMU opens the path itself, so the same /proc rule as for the
 *    kernel holds; `memory-backend-memfd` would make QEMU's own memfd,
 *    which the host could only reach through QEMU's /proc/PID/fd.  On
 *    microvm the device needs `pcie=on` (GPEX; Debian's 6.1 kernel finds
 *    the bus through ACPI and the device as 1af4:1110, BAR 2 the pool).
 *  - `-add-fd fd=N` dups N into the set and closes N itself, so an fd
 *    number may appear once on a command line: every fd is checked to be
 *    distinct.
 * Option values are keyval strings where ',' separates options; a ','
 * inside a value is written ",,".  -append, -kernel and -initrd are plain
 * strings (not split on ','), but commas are refused in kernel and initrd
 * paths anyway: multiboot splits -initrd on them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/io.h"
#include "lib/util.h"
#include "vm/qemu_cmd.h"

/* How much of /proc/cpuinfo is read: the first CPU's block is ~1.5 KiB. */
#define CPUINFO_MAX ((size_t)64 * 1024)

/* Nodes and devices of disk i: "disk<i>", "disk<i>-file", ... */
#define NODE_MAX 32

/*
 * QEMU's sandbox: no obsolete syscalls, no setuid & co, no fork/exec, no
 * scheduler or affinity changes.  QEMU runs as the qube's user already;
 * this takes away what it would need to escalate or spread further.
 */
static const char sandbox_opts[] =
    "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";

void
qemu_config_init(struct qemu_config *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	c->machine = QEMU_MACHINE_MICROVM;
	c->accel = QEMU_ACCEL_TCG;
	c->memory_mb = 256;
	c->vcpus = 1;
	c->start_paused = true;
	c->kernel = QEMU_FILE_NONE;
	c->initrd = QEMU_FILE_NONE;
	c->qmp_fd = -1;
	c->console_log = QEMU_FILE_NONE;
	c->console_socket_fd = -1;
	c->gui_pool_fd = -1;
	for (i = 0; i < QEMU_MAX_DISKS; i++) {
		c->disks[i].file = QEMU_FILE_NONE;
		c->disks[i].backing = QEMU_FILE_NONE;
	}
	for (i = 0; i < QEMU_MAX_PORTS; i++)
		c->ports[i].fd = -1;
}

int
qemu_opt_escape(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	for (; *in != '\0'; in++) {
		size_t need = *in == ',' ? 2 : 1;

		if (o + need >= outlen) {
			if (outlen > 0)
				out[0] = '\0';
			return -ENAMETOOLONG;
		}
		out[o++] = *in;
		if (*in == ',')
			out[o++] = ',';
	}
	if (outlen == 0)
		return -ENAMETOOLONG;
	out[o] = '\0';
	return 0;
}

/* ---- validation ---- */

/* Every byte printable ASCII (no controls, no newline, no DEL, ASCII). */
static bool
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* 1..max bytes, each a letter, digit or one of extra. */
static bool
name_ok(const char *s, size_t max, const char *extra)
{
	size_t len = strlen(s), i;

	if (len == 0 || len > max)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		        (c >= '0' && c <= '9') || strchr(extra, c) != NULL))
			return false;
	}
	return true;
}

/* An absolute path QEMU may be given: printable, no "//" games needed. */
static bool
path_ok(const char *p, bool comma_ok)
{
	return p[0] == '/' && strlen(p) < QEMU_MAX_PATH && printable(p) &&
	    (comma_ok || strchr(p, ',') == NULL);
}

static bool
fd_ok(int fd)
{
	return fd >= QEMU_MIN_FD && fd <= QEMU_MAX_FD;
}

/* Exactly one of path and fd, each valid; none allowed if optional. */
static bool
file_ok(const struct qemu_file *f, bool optional, bool comma_ok)
{
	if (f->path == NULL && f->fd == -1)
		return optional;
	if (f->path != NULL)
		return f->fd == -1 && path_ok(f->path, comma_ok);
	return fd_ok(f->fd);
}

static bool
file_set(const struct qemu_file *f)
{
	return f->path != NULL || f->fd != -1;
}

/* Every fd handed to QEMU, to check none is used twice. */
struct fd_list {
	int fd[5 + 2 * QEMU_MAX_DISKS + QEMU_MAX_PORTS];
	size_t n;
};

static bool
fd_add(struct fd_list *l, int fd)
{
	size_t i;

	if (fd < 0)
		return true;
	for (i = 0; i < l->n; i++)
		if (l->fd[i] == fd)
			return false;
	l->fd[l->n++] = fd;
	return true;
}

static int
validate_disk(const struct qemu_disk *d, struct fd_list *fds)
{
	if (!file_ok(&d->file, false, true) ||
	    (unsigned int)d->format >= QEMU_DISK_FORMAT_MAX)
		return -EINVAL;
	if (d->serial != NULL && !name_ok(d->serial, QEMU_MAX_SERIAL, "_-"))
		return -EINVAL;
	if (file_set(&d->backing)) {
		if (d->format != QEMU_DISK_QCOW2 ||
		    !file_ok(&d->backing, false, true) ||
		    (unsigned int)d->backing_format >= QEMU_DISK_FORMAT_MAX)
			return -EINVAL;
	}
	if (d->scratch && d->read_only)
		return -EINVAL;
	if (!fd_add(fds, d->file.fd) || !fd_add(fds, d->backing.fd))
		return -EINVAL;
	return 0;
}

static int
validate(const struct qemu_config *c)
{
	struct fd_list fds = {.n = 0};
	size_t i, j;
	int r;

	if (c->binary != NULL && !path_ok(c->binary, true))
		return -EINVAL;
	/* a qube name: a letter first, as Qubes requires */
	if (c->name != NULL &&
	    (!name_ok(c->name, QEMU_MAX_NAME, "_.-") ||
	        !((c->name[0] >= 'a' && c->name[0] <= 'z') ||
	            (c->name[0] >= 'A' && c->name[0] <= 'Z'))))
		return -EINVAL;
	if ((unsigned int)c->machine >= QEMU_MACHINE_MAX ||
	    (unsigned int)c->accel >= QEMU_ACCEL_MAX)
		return -EINVAL;
	if (c->memory_mb < QEMU_MIN_MEMORY_MB ||
	    c->memory_mb > QEMU_MAX_MEMORY_MB || c->vcpus < 1 ||
	    c->vcpus > QEMU_MAX_VCPUS)
		return -EINVAL;
	if (!file_ok(&c->kernel, false, false) ||
	    !file_ok(&c->initrd, true, false))
		return -EINVAL;
	if (c->append != NULL &&
	    (!printable(c->append) || strlen(c->append) > QEMU_MAX_APPEND))
		return -EINVAL;
	if (c->kernelopts != NULL &&
	    (!printable(c->kernelopts) ||
	        strlen(c->kernelopts) > QEMU_MAX_KERNELOPTS))
		return -EINVAL;
	if (c->tsc_khz != 0 &&
	    (c->tsc_khz < QEMU_MIN_TSC_KHZ || c->tsc_khz > QEMU_MAX_TSC_KHZ))
		return -EINVAL;
	if (!fd_ok(c->qmp_fd) || !fd_add(&fds, c->qmp_fd) ||
	    !fd_add(&fds, c->kernel.fd) || !fd_add(&fds, c->initrd.fd))
		return -EINVAL;
	if (c->n_disks > QEMU_MAX_DISKS || c->n_ports > QEMU_MAX_PORTS)
		return -EINVAL;
	for (i = 0; i < c->n_disks; i++) {
		r = validate_disk(&c->disks[i], &fds);
		if (r < 0)
			return r;
	}
	for (i = 0; i < c->n_ports; i++) {
		const struct qemu_port *p = &c->ports[i];

		if (!fd_ok(p->fd) || p->name == NULL ||
		    !name_ok(p->name, QEMU_MAX_PORT_NAME, "._-") ||
		    !fd_add(&fds, p->fd))
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (strcmp(c->ports[j].name, p->name) == 0)
				return -EINVAL;
	}
	if (!file_ok(&c->console_log, true, true))
		return -EINVAL;
	if (c->console_socket_fd != -1 &&
	    (!fd_ok(c->console_socket_fd) || file_set(&c->console_log)))
		return -EINVAL;
	if (!fd_add(&fds, c->console_log.fd) ||
	    !fd_add(&fds, c->console_socket_fd))
		return -EINVAL;
	if (c->gui_pool_fd != -1 &&
	    (!fd_ok(c->gui_pool_fd) || !fd_add(&fds, c->gui_pool_fd) ||
	        c->gui_pool_size < QEMU_MIN_GUI_POOL ||
	        c->gui_pool_size > QEMU_MAX_GUI_POOL ||
	        (c->gui_pool_size & (c->gui_pool_size - 1)) != 0))
		return -EINVAL;
	if (c->gui_pool_fd == -1 && c->gui_pool_size != 0)
		return -EINVAL;
	return 0;
}

/* ---- building ---- */

struct builder {
	struct qemu_argv a;
	size_t cap;
	int err;
	int next_fdset;
};

static void
add_str(struct builder *b, char *s)
{
	if (s == NULL) {
		b->err = -ENOMEM;
		return;
	}
	if (b->err < 0) {
		free(s);
		return;
	}
	/* one spare slot for the NULL */
	if (b->a.argc + 2 > b->cap) {
		size_t ncap = b->cap == 0 ? 64 : b->cap * 2;
		char **nv = reallocarray(b->a.argv, ncap, sizeof(*nv));

		if (nv == NULL) {
			free(s);
			b->err = -ENOMEM;
			return;
		}
		b->a.argv = nv;
		b->cap = ncap;
	}
	b->a.argv[b->a.argc++] = s;
	b->a.argv[b->a.argc] = NULL;
}

static void add(struct builder *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
add(struct builder *b, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (b->err < 0)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	add_str(b, s);
}

/*
 * What QEMU's option value for a file is: the escaped path, or
 * /dev/fdset/S after an -add-fd of the fd (fdset_ok: QEMU opens it with
 * qemu_open) or /proc/self/fd/N (the loaders' plain open()).
 */
static void
file_value(struct builder *b, const struct qemu_file *f, bool fdset_ok,
    char *out, size_t outlen)
{
	int r;

	if (b->err < 0)
		return;
	if (f->path != NULL) {
		r = qemu_opt_escape(f->path, out, outlen);
		if (r < 0)
			b->err = -EINVAL;
		return;
	}
	if (!fdset_ok) {
		r = str_printf(out, outlen, "/proc/self/fd/%d", f->fd);
	} else {
		int set = b->next_fdset++;

		add(b, "-add-fd");
		add(b, "fd=%d,set=%d", f->fd, set);
		r = str_printf(out, outlen, "/dev/fdset/%d", set);
	}
	if (r < 0)
		b->err = -EINVAL;
}

static const char *const format_names[QEMU_DISK_FORMAT_MAX] = {
    [QEMU_DISK_RAW] = "raw",
    [QEMU_DISK_QCOW2] = "qcow2",
};

/*
 * A file node and a format node on it, named node and node-file; both
 * ignore flushes if scratch (what the guest writes there is thrown away
 * when it stops, so no flush of it protects anything).
 */
static void
add_blockdev(struct builder *b, const char *node, const struct qemu_file *f,
    enum qemu_disk_format fmt, bool ro, bool scratch, const char *backing)
{
	char val[QEMU_MAX_PATH * 2];
	const char *ro_opt = ro ? ",read-only=on" : "";
	const char *flush_opt = scratch ? ",cache.no-flush=on" : "";

	file_value(b, f, true, val, sizeof(val));
	add(b, "-blockdev");
	add(b, "driver=file,node-name=%s-file,filename=%s%s%s", node, val,
	    ro_opt, flush_opt);
	add(b, "-blockdev");
	if (fmt == QEMU_DISK_QCOW2)
		add(b, "driver=%s,node-name=%s,file=%s-file%s%s,backing=%s",
		    format_names[fmt], node, node, ro_opt, flush_opt, backing);
	else
		add(b, "driver=%s,node-name=%s,file=%s-file%s%s",
		    format_names[fmt], node, node, ro_opt, flush_opt);
}

static void
add_disk(struct builder *b, const struct qemu_config *c, size_t i)
{
	const struct qemu_disk *d = &c->disks[i];
	char node[NODE_MAX], bnode[NODE_MAX] = "";
	const char *dev = c->machine == QEMU_MACHINE_MICROVM ?
	    "virtio-blk-device" :
	    "virtio-blk-pci";

	(void)str_printf(node, sizeof(node), "disk%zu", i);
	if (file_set(&d->backing)) {
		(void)str_printf(bnode, sizeof(bnode), "disk%zu-backing", i);
		/* a backing chain below the backing file: none */
		add_blockdev(
		    b, bnode, &d->backing, d->backing_format, true, false, "");
	}
	add_blockdev(
	    b, node, &d->file, d->format, d->read_only, d->scratch, bnode);
	add(b, "-device");
	if (d->serial != NULL)
		add(b, "%s,drive=%s,serial=%s", dev, node, d->serial);
	else
		add(b, "%s,drive=%s", dev, node);
}

/* The -append line; -EINVAL if longer than QEMU_MAX_APPEND. */
static void
add_append(struct builder *b, const struct qemu_config *c)
{
	char line[QEMU_MAX_APPEND + 1];
	size_t o;
	int r;

	r = str_copy(line, sizeof(line), "console=ttyS0");
	o = strlen(line);
	if (r == 0 && c->append != NULL && c->append[0] != '\0') {
		r = str_printf(line + o, sizeof(line) - o, " %s", c->append);
		o += strlen(line + o);
	}
	if (r == 0 && c->tsc_khz != 0 && c->machine == QEMU_MACHINE_MICROVM &&
	    c->accel == QEMU_ACCEL_TCG) {
		r = str_printf(line + o, sizeof(line) - o, " tsc_early_khz=%u",
		    c->tsc_khz);
		o += strlen(line + o);
	}
	if (r == 0 && c->kernelopts != NULL && c->kernelopts[0] != '\0')
		r = str_printf(
		    line + o, sizeof(line) - o, " %s", c->kernelopts);
	if (r < 0) {
		b->err = -EINVAL;
		return;
	}
	add(b, "-append");
	add(b, "%s", line);
}

static void
add_console(struct builder *b, const struct qemu_config *c)
{
	char val[QEMU_MAX_PATH * 2];

	if (file_set(&c->console_log)) {
		file_value(b, &c->console_log, true, val, sizeof(val));
		add(b, "-chardev");
		add(b, "file,id=console,path=%s", val);
	} else if (c->console_socket_fd != -1) {
		add(b, "-chardev");
		add(b, "socket,id=console,fd=%d", c->console_socket_fd);
	} else {
		return;
	}
	add(b, "-serial");
	add(b, "chardev:console");
}

static void
add_ports(struct builder *b, const struct qemu_config *c)
{
	size_t i;

	if (c->n_ports == 0)
		return;
	/*
	 * Room for our ports only (port 0 is QEMU's, kept for a console),
	 * not the default 31: the guest makes a virtqueue pair for every
	 * one, 1024 entries each on virtio-mmio (2.8 MB of the guest's
	 * memory for the 29 unused ones, measured in a microvm guest).
	 */
	add(b, "-device");
	add(b, "%s,id=vser0,max_ports=%zu",
	    c->machine == QEMU_MACHINE_MICROVM ? "virtio-serial-device" :
	                                         "virtio-serial-pci",
	    c->n_ports + 1);
	for (i = 0; i < c->n_ports; i++) {
		add(b, "-chardev");
		add(b, "socket,id=port%zu,fd=%d", i, c->ports[i].fd);
		add(b, "-device");
		add(b, "virtserialport,bus=vser0.0,chardev=port%zu,name=%s", i,
		    c->ports[i].name);
	}
}

static void
add_balloon(struct builder *b, const struct qemu_config *c)
{
	if (!c->free_page_reporting)
		return;
	add(b, "-device");
	add(b, "%s,free-page-reporting=on",
	    c->machine == QEMU_MACHINE_MICROVM ? "virtio-balloon-device" :
	                                         "virtio-balloon-pci");
}

/* The GUI pool: QEMU maps the fd shared; the guest sees it as BAR 2. */
static void
add_gui_pool(struct builder *b, const struct qemu_config *c)
{
	if (c->gui_pool_fd == -1)
		return;
	add(b, "-object");
	add(b,
	    "memory-backend-file,id=guipool,size=%llu,"
	    "mem-path=/proc/self/fd/%d,share=on",
	    (unsigned long long)c->gui_pool_size, c->gui_pool_fd);
	add(b, "-device");
	add(b, "ivshmem-plain,memdev=guipool");
}

int
qemu_cmd_build(const struct qemu_config *c, struct qemu_argv *ret)
{
	struct builder b = {.err = 0, .next_fdset = 1};
	char val[QEMU_MAX_PATH];
	size_t i;
	int r;

	r = validate(c);
	if (r < 0)
		return r;
	add(&b, "%s", c->binary != NULL ? c->binary : QEMU_DEFAULT_BINARY);
	if (c->name != NULL) {
		add(&b, "-name");
		add(&b, "guest=%s", c->name);
	}
	add(&b, "-machine");
	/* microvm under TCG needs the PIT to calibrate (vm-backend.md);
	 * a PCIe bus only for the GUI pool's device (ACPI enumeration of
	 * a bus costs boot time under TCG) */
	add(&b, "%s%s",
	    c->machine == QEMU_MACHINE_MICROVM ?
	        "microvm,pit=on,pic=on,rtc=on" :
	        "q35",
	    c->machine == QEMU_MACHINE_MICROVM && c->gui_pool_fd != -1 ?
	        ",pcie=on" :
	        "");
	add(&b, "-accel");
	add(&b, "%s", c->accel == QEMU_ACCEL_KVM ? "kvm" : "tcg");
	if (c->accel == QEMU_ACCEL_KVM) {
		add(&b, "-cpu");
		add(&b, "host");
	}
	add(&b, "-m");
	add(&b, "%uM", c->memory_mb);
	add(&b, "-smp");
	add(&b, "%u", c->vcpus);
	add(&b, "-nodefaults");
	add(&b, "-no-user-config");
	add(&b, "-nographic");
	add(&b, "-no-reboot");
	add(&b, "-sandbox");
	add(&b, "%s", sandbox_opts);
	if (c->start_paused)
		add(&b, "-S");
	add(&b, "-chardev");
	add(&b, "socket,id=qmp,fd=%d", c->qmp_fd);
	add(&b, "-mon");
	add(&b, "chardev=qmp,mode=control");

	file_value(&b, &c->kernel, false, val, sizeof(val));
	add(&b, "-kernel");
	add(&b, "%s", val);
	if (file_set(&c->initrd)) {
		file_value(&b, &c->initrd, false, val, sizeof(val));
		add(&b, "-initrd");
		add(&b, "%s", val);
	}
	add_append(&b, c);

	for (i = 0; i < c->n_disks; i++)
		add_disk(&b, c, i);
	add_ports(&b, c);
	add_balloon(&b, c);
	add_gui_pool(&b, c);
	add_console(&b, c);

	if (b.err < 0) {
		qemu_argv_free(&b.a);
		return b.err;
	}
	*ret = b.a;
	return 0;
}

void
qemu_argv_free(struct qemu_argv *a)
{
	size_t i;

	for (i = 0; i < a->argc; i++)
		free(a->argv[i]);
	free(a->argv);
	a->argv = NULL;
	a->argc = 0;
}

/* ---- the host's TSC rate ---- */

int
qemu_parse_cpuinfo_khz(const char *buf, size_t len, uint32_t *ret_khz)
{
	static const char key[] = "cpu MHz";
	const char *p = buf, *end = buf + len;
	uint64_t mhz = 0, frac = 0;
	int digits = 0, fdigits = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *e = eol != NULL ? eol : end;

		if ((size_t)(e - p) > sizeof(key) - 1 &&
		    memcmp(p, key, sizeof(key) - 1) == 0 &&
		    (p[sizeof(key) - 1] == '\t' || p[sizeof(key) - 1] == ' ' ||
		        p[sizeof(key) - 1] == ':'))
			break;
		p = eol != NULL ? eol + 1 : end;
	}
	if (p >= end)
		return -ENOENT;
	p += sizeof(key) - 1;
	while (p < end && (*p == '\t' || *p == ' '))
		p++;
	if (p >= end || *p != ':')
		return -EINVAL;
	p++;
	while (p < end && (*p == '\t' || *p == ' '))
		p++;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		/* 8 digits of MHz is far beyond QEMU_MAX_TSC_KHZ */
		if (++digits > 8)
			return -EINVAL;
		mhz = mhz * 10 + (uint64_t)(*p - '0');
	}
	if (digits == 0)
		return -EINVAL;
	if (p < end && *p == '.') {
		for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
			/* kHz needs three decimals; more are ignored */
			if (fdigits < 3)
				frac = frac * 10 + (uint64_t)(*p - '0');
			fdigits++;
		}
		if (fdigits == 0)
			return -EINVAL;
	}
	if (p < end && *p != '\n')
		return -EINVAL;
	for (; fdigits < 3; fdigits++)
		frac *= 10;
	mhz = mhz * 1000 + frac;
	if (mhz < QEMU_MIN_TSC_KHZ || mhz > QEMU_MAX_TSC_KHZ)
		return -EINVAL;
	*ret_khz = (uint32_t)mhz;
	return 0;
}

int
qemu_host_tsc_khz(uint32_t *ret_khz)
{
	size_t len = 0;
	char *buf;
	int fd, r;

	buf = malloc(CPUINFO_MAX);
	if (buf == NULL)
		return -ENOMEM;
	fd = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out_free;
	}
	/* the first CPU's lines are enough: a big machine's file is longer
	 * than the buffer, which is fine (-EPIPE: shorter, also fine) */
	r = io_read_all(fd, buf, CPUINFO_MAX, &len);
	(void)close(fd);
	if (r < 0 && r != -EPIPE)
		goto out_free;
	r = qemu_parse_cpuinfo_khz(buf, len, ret_khz);
out_free:
	free(buf);
	return r;
}
