/*
 * qemu_cmd.h - the QEMU command line of one VM qube, built from a struct
 * and validated field by field (qemu_cmd.c says which forms QEMU 7.2
 * accepts for files passed as inherited fds).
 *
 * Pure: no I/O but qemu_host_tsc_khz(), which reads /proc/cpuinfo.
 * Called by the VM launcher before it execs QEMU.
 */
#ifndef BULKHEAD_VM_QEMU_CMD_H
#define BULKHEAD_VM_QEMU_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QEMU_DEFAULT_BINARY "/usr/bin/qemu-system-x86_64"

#define QEMU_MAX_DISKS 8
#define QEMU_MAX_PORTS 4
/* fds passed to QEMU are in [QEMU_MIN_FD, QEMU_MAX_FD] */
#define QEMU_MIN_FD        3
#define QEMU_MAX_FD        65535
#define QEMU_MIN_MEMORY_MB 32
#define QEMU_MAX_MEMORY_MB (1024 * 1024)
#define QEMU_MAX_VCPUS     64
/* the qube's kernelopts property, and the whole -append line; x86 Linux
 * keeps 2048 bytes of command line, and microvm appends its virtio_mmio
 * device list (about 60 bytes a device) to ours */
#define QEMU_MAX_KERNELOPTS 1024
#define QEMU_MAX_APPEND     1536
/* virtio-blk's serial is 20 bytes on the wire */
#define QEMU_MAX_SERIAL    20
#define QEMU_MAX_PORT_NAME 64
/* -name guest=: a qube name (Qubes allows 31 bytes) */
#define QEMU_MAX_NAME 31
/* tsc_early_khz= bounds: 1 MHz to 10 GHz */
#define QEMU_MIN_TSC_KHZ 1000
#define QEMU_MAX_TSC_KHZ 10000000
/* the GUI pool (ivshmem-plain's BAR 2): a PCI BAR, so a power of two,
 * and at most what the GUI agent maps (1 GiB) */
#define QEMU_MIN_GUI_POOL ((uint64_t)4096)
#define QEMU_MAX_GUI_POOL ((uint64_t)1 << 30)
/* an escaped option value (commas doubled) and a path */
#define QEMU_MAX_PATH 4096

enum qemu_machine {
	QEMU_MACHINE_MICROVM, /* no PCI: virtio-mmio devices */
	QEMU_MACHINE_Q35,     /* PCIe: virtio-pci devices */
	QEMU_MACHINE_MAX
};

enum qemu_accel {
	QEMU_ACCEL_TCG,
	QEMU_ACCEL_KVM,
	QEMU_ACCEL_MAX
};

enum qemu_disk_format {
	QEMU_DISK_RAW,
	QEMU_DISK_QCOW2,
	QEMU_DISK_FORMAT_MAX
};

/*
 * A file QEMU opens: by absolute path, or as an fd QEMU inherits (path
 * NULL).  None: path NULL and fd -1 (QEMU_FILE_NONE).
 */
struct qemu_file {
	const char *path;
	int fd;
};
#define QEMU_FILE_NONE ((struct qemu_file){.path = NULL, .fd = -1})

/*
 * A virtio-blk disk.  An fd must be open O_RDONLY for a read-only disk
 * and O_RDWR otherwise (QEMU checks the access mode of fds it is given).
 * A qcow2 disk's backing image is never found through the path in its
 * header: it is the backing file given here (read-only), or none.
 */
struct qemu_disk {
	struct qemu_file file;
	enum qemu_disk_format format;
	bool read_only;
	const char *serial; /* NULL, or [A-Za-z0-9_-]{1,20}: /dev/disk/by-id */
	struct qemu_file backing; /* qcow2 only; QEMU_FILE_NONE: none */
	enum qemu_disk_format backing_format;
	/* thrown away when the qube stops (an overlay of its volatile
	 * area): QEMU ignores the guest's flushes to it.  Writable only. */
	bool scratch;
};

/* A virtio-serial port on a connected socket QEMU inherits. */
struct qemu_port {
	int fd;
	const char *name; /* [A-Za-z0-9._-]{1,64}, e.g. org.bulkhead.qrexec */
};

struct qemu_config {
	const char *binary; /* absolute; NULL: QEMU_DEFAULT_BINARY */
	const char *name;   /* NULL, or the qube's name for -name */
	enum qemu_machine machine;
	enum qemu_accel accel;
	uint32_t memory_mb;
	uint32_t vcpus;
	bool start_paused; /* -S: configure over QMP, then cont */

	struct qemu_file kernel; /* required */
	struct qemu_file initrd; /* optional */
	/* the -append line: "console=ttyS0", then append (bulkhead's own
	 * options), then tsc_early_khz= (microvm under TCG, if tsc_khz is
	 * set), then the qube's kernelopts; each NULL or printable ASCII */
	const char *append;
	const char *kernelopts;
	uint32_t tsc_khz; /* 0: none; see qemu_host_tsc_khz */

	struct qemu_disk disks[QEMU_MAX_DISKS];
	size_t n_disks;

	int qmp_fd; /* required: a connected socket, QMP's */

	struct qemu_port ports[QEMU_MAX_PORTS];
	size_t n_ports;

	/* the serial console (ttyS0): a file QEMU writes (a path, or an fd
	 * open for writing, e.g. O_WRONLY|O_APPEND), or a connected socket
	 * (console_socket_fd); at most one of them; neither: no console */
	struct qemu_file console_log;
	int console_socket_fd;

	/* a virtio balloon with free-page reporting: the guest hands pages
	 * it frees back to the host (QEMU's RSS shrinks; the guest needs
	 * the virtio_balloon driver) */
	bool free_page_reporting;

	/*
	 * The GUI pool (issue #8): an fd of a shared-memory file (the
	 * launcher's sealed memfd) of gui_pool_size bytes, given to the
	 * guest as an ivshmem-plain device whose BAR 2 is that memory; -1:
	 * none.  On microvm it turns on the PCIe bus (pcie=on: the device
	 * needs PCI; the guest enumerates it through ACPI).
	 */
	int gui_pool_fd;
	uint64_t gui_pool_size; /* a power of two, [MIN, MAX]_GUI_POOL */
};

/*
 * The defaults: microvm, TCG, 256 MiB, 1 vCPU, start paused, every fd -1,
 * every file none, no disks or ports, no GUI pool.
 */
void qemu_config_init(struct qemu_config *c);

/* A NULL-terminated argv of argc strings, all owned by it. */
struct qemu_argv {
	char **argv;
	size_t argc;
};

/*
 * Validate every field of c (see the limits above and qemu_cmd.c) and
 * build QEMU's argv into *ret (the caller frees it with qemu_argv_free).
 * Returns 0, -EINVAL for the first invalid field, or -ENOMEM.
 */
int qemu_cmd_build(const struct qemu_config *c, struct qemu_argv *ret);

/* Free a's strings and array and zero it; a zeroed a is a no-op. */
void qemu_argv_free(struct qemu_argv *a);

/*
 * QEMU's escaping of an option value: every ',' doubled.  Writes the
 * NUL-terminated result to out (outlen bytes).  0, or -ENAMETOOLONG
 * (out holds "" then).
 */
int qemu_opt_escape(const char *in, char *out, size_t outlen);

/*
 * The first "cpu MHz" line of /proc/cpuinfo text (len bytes) as kHz:
 * "cpu MHz\t\t: 2100.000" gives 2100000.  0, -ENOENT (no such line), or
 * -EINVAL (malformed, or out of [QEMU_MIN_TSC_KHZ, QEMU_MAX_TSC_KHZ]).
 */
int qemu_parse_cpuinfo_khz(const char *buf, size_t len, uint32_t *ret_khz);

/*
 * The host's TSC rate in kHz for tsc_early_khz=, from /proc/cpuinfo (on
 * a host without cpufreq, as here, "cpu MHz" is the TSC rate the kernel
 * calibrated; under TCG the guest's TSC runs at the host's).  0 or -errno.
 */
int qemu_host_tsc_khz(uint32_t *ret_khz);

#endif
