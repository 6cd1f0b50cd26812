/*
 * test_qemu_cmd.c - the QEMU command-line builder (src/vm/qemu_cmd.c):
 * the exact argv of a typical VM qube (microvm, fds everywhere) and of a
 * q35 one with paths, the GUI pool's device, each validation error, comma
 * escaping at its size limits, and the "cpu MHz" parser.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/util.h"
#include "unit.h"
#include "vm/qemu_cmd.h"

static const char sandbox[] =
    "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";

/* A typical VM qube: an AppVM's root is a qcow2 overlay on its template's
 * raw image, its private volume raw; everything passed as fds. */
static void
typical(struct qemu_config *c)
{
	qemu_config_init(c);
	c->name = "work";
	c->memory_mb = 512;
	c->vcpus = 2;
	c->kernel.path = "/var/lib/bulkhead/vm-kernels/6.1/vmlinux";
	c->initrd.fd = 9;
	c->append = "root=/dev/vda rw";
	c->kernelopts = "quiet systemd.unit=multi-user.target";
	c->tsc_khz = 2100000;
	c->disks[0].file.fd = 10;
	c->disks[0].format = QEMU_DISK_QCOW2;
	c->disks[0].serial = "root";
	c->disks[0].backing.fd = 11;
	c->disks[0].backing_format = QEMU_DISK_RAW;
	c->disks[0].scratch = true;
	c->disks[1].file.fd = 12;
	c->disks[1].format = QEMU_DISK_RAW;
	c->disks[1].serial = "private";
	c->n_disks = 2;
	c->qmp_fd = 3;
	c->ports[0].fd = 4;
	c->ports[0].name = "org.bulkhead.qrexec";
	c->n_ports = 1;
	c->console_log.fd = 5;
}

static void
expect_argv(const struct qemu_argv *a, const char *const *want, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < a->argc; i++)
		assert_string_equal(a->argv[i], want[i]);
	assert_int_equal(a->argc, n);
	assert_null(a->argv[n]);
}

/*
 * The expected argvs split long strings over lines, which clang-tidy takes
 * for missing commas.
 * NOLINTBEGIN(bugprone-suspicious-missing-comma)
 */
static void
test_typical(void **state)
{
	static const char *const want[] = {
	    "/usr/bin/qemu-system-x86_64",
	    "-name",
	    "guest=work",
	    "-machine",
	    "microvm,pit=on,pic=on,rtc=on",
	    "-accel",
	    "tcg",
	    "-m",
	    "512M",
	    "-smp",
	    "2",
	    "-nodefaults",
	    "-no-user-config",
	    "-nographic",
	    "-no-reboot",
	    "-sandbox",
	    sandbox,
	    "-S",
	    "-chardev",
	    "socket,id=qmp,fd=3",
	    "-mon",
	    "chardev=qmp,mode=control",
	    "-kernel",
	    "/var/lib/bulkhead/vm-kernels/6.1/vmlinux",
	    "-initrd",
	    "/proc/self/fd/9",
	    "-append",
	    "console=ttyS0 root=/dev/vda rw tsc_early_khz=2100000 quiet "
	    "systemd.unit=multi-user.target",
	    "-add-fd",
	    "fd=11,set=1",
	    "-blockdev",
	    "driver=file,node-name=disk0-backing-file,filename=/dev/fdset/1,"
	    "read-only=on",
	    "-blockdev",
	    "driver=raw,node-name=disk0-backing,file=disk0-backing-file,"
	    "read-only=on",
	    "-add-fd",
	    "fd=10,set=2",
	    "-blockdev",
	    "driver=file,node-name=disk0-file,filename=/dev/fdset/2,"
	    "cache.no-flush=on",
	    "-blockdev",
	    "driver=qcow2,node-name=disk0,file=disk0-file,cache.no-flush=on,"
	    "backing=disk0-backing",
	    "-device",
	    "virtio-blk-device,drive=disk0,serial=root",
	    "-add-fd",
	    "fd=12,set=3",
	    "-blockdev",
	    "driver=file,node-name=disk1-file,filename=/dev/fdset/3",
	    "-blockdev",
	    "driver=raw,node-name=disk1,file=disk1-file",
	    "-device",
	    "virtio-blk-device,drive=disk1,serial=private",
	    "-device",
	    "virtio-serial-device,id=vser0,max_ports=2",
	    "-chardev",
	    "socket,id=port0,fd=4",
	    "-device",
	    "virtserialport,bus=vser0.0,chardev=port0,"
	    "name=org.bulkhead.qrexec",
	    "-add-fd",
	    "fd=5,set=4",
	    "-chardev",
	    "file,id=console,path=/dev/fdset/4",
	    "-serial",
	    "chardev:console",
	};
	struct qemu_config c;
	struct qemu_argv a;

	(void)state;
	typical(&c);
	assert_int_equal(qemu_cmd_build(&c, &a), 0);
	expect_argv(&a, want, ARRAY_SIZE(want));
	qemu_argv_free(&a);
	assert_null(a.argv);
	assert_int_equal(a.argc, 0);
	qemu_argv_free(&a);
}

/* q35 under KVM, files by path (commas escaped), a read-only qcow2
 * without backing, the console on a socket, not paused. */
static void
test_q35_paths(void **state)
{
	static const char *const want[] = {
	    "/opt/qemu/bin/qemu-system-x86_64",
	    "-machine",
	    "q35",
	    "-accel",
	    "kvm",
	    "-cpu",
	    "host",
	    "-m",
	    "32M",
	    "-smp",
	    "64",
	    "-nodefaults",
	    "-no-user-config",
	    "-nographic",
	    "-no-reboot",
	    "-sandbox",
	    sandbox,
	    "-chardev",
	    "socket,id=qmp,fd=3",
	    "-mon",
	    "chardev=qmp,mode=control",
	    "-kernel",
	    "/proc/self/fd/7",
	    "-append",
	    "console=ttyS0",
	    "-blockdev",
	    "driver=file,node-name=disk0-file,filename=/var/a,,b.qcow2,"
	    "read-only=on",
	    "-blockdev",
	    "driver=qcow2,node-name=disk0,file=disk0-file,read-only=on,"
	    "backing=",
	    "-device",
	    "virtio-blk-pci,drive=disk0",
	    "-device",
	    "virtio-serial-pci,id=vser0,max_ports=3",
	    "-chardev",
	    "socket,id=port0,fd=4",
	    "-device",
	    "virtserialport,bus=vser0.0,chardev=port0,name=a",
	    "-chardev",
	    "socket,id=port1,fd=5",
	    "-device",
	    "virtserialport,bus=vser0.0,chardev=port1,name=b",
	    "-chardev",
	    "socket,id=console,fd=6",
	    "-serial",
	    "chardev:console",
	};
	struct qemu_config c;
	struct qemu_argv a;

	(void)state;
	qemu_config_init(&c);
	c.binary = "/opt/qemu/bin/qemu-system-x86_64";
	c.machine = QEMU_MACHINE_Q35;
	c.accel = QEMU_ACCEL_KVM;
	c.memory_mb = QEMU_MIN_MEMORY_MB;
	c.vcpus = QEMU_MAX_VCPUS;
	c.start_paused = false;
	c.kernel.fd = 7;
	/* not microvm under TCG: no tsc_early_khz */
	c.tsc_khz = 2100000;
	c.disks[0].file.path = "/var/a,b.qcow2";
	c.disks[0].format = QEMU_DISK_QCOW2;
	c.disks[0].read_only = true;
	c.n_disks = 1;
	c.qmp_fd = 3;
	c.ports[0].fd = 4;
	c.ports[0].name = "a";
	c.ports[1].fd = 5;
	c.ports[1].name = "b";
	c.n_ports = 2;
	c.console_socket_fd = 6;
	assert_int_equal(qemu_cmd_build(&c, &a), 0);
	expect_argv(&a, want, ARRAY_SIZE(want));
	qemu_argv_free(&a);
}

/* NOLINTEND(bugprone-suspicious-missing-comma) */

/* The console log by path; no console at all. */
static void
test_console(void **state)
{
	struct qemu_config c;
	struct qemu_argv a;

	(void)state;
	typical(&c);
	c.console_log.fd = -1;
	c.console_log.path = "/run/bulkhead/vm/work/console,log";
	assert_int_equal(qemu_cmd_build(&c, &a), 0);
	assert_string_equal(a.argv[a.argc - 3],
	    "file,id=console,path=/run/bulkhead/vm/work/console,,log");
	qemu_argv_free(&a);

	c.console_log = QEMU_FILE_NONE;
	assert_int_equal(qemu_cmd_build(&c, &a), 0);
	/* the serial port ends the line: no -serial */
	assert_string_equal(a.argv[a.argc - 1],
	    "virtserialport,bus=vser0.0,chardev=port0,"
	    "name=org.bulkhead.qrexec");
	qemu_argv_free(&a);
}

/* free_page_reporting: a balloon of the machine's bus, after the ports. */
static void
test_balloon(void **state)
{
	struct qemu_config c;
	struct qemu_argv a;

	(void)state;
	typical(&c);
	c.console_log = QEMU_FILE_NONE;
	c.free_page_reporting = true;
	assert_int_equal(qemu_cmd_build(&c, &a), 0);
	assert_string_equal(a.argv[a.argc - 2], "-device");
	assert_string_equal(
	    a.argv[a.argc - 1], "virtio-balloon-device,free-page-reporting=on");
	qemu_argv_free(&a);
	c.machine = QEMU_MACHINE_Q35;
	assert_int_equal(qemu_cmd_build(&c, &a), 0);
	assert_string_equal(
	    a.argv[a.argc - 1], "virtio-balloon-pci,free-page-reporting=on");
	qemu_argv_free(&a);
	/* off: no balloon anywhere */
	c.free_page_reporting = false;
	assert_int_equal(qemu_cmd_build(&c, &a), 0);
	for (size_t i = 0; i < a.argc; i++)
		assert_null(strstr(a.argv[i], "balloon"));
	qemu_argv_free(&a);
}

/*
 * The GUI pool: the machine line gets pcie=on on microvm (nothing on
 * q35), and a file backend on the fd, shared, with an ivshmem-plain on
 * it, after the balloon and before the console; its limits pass.
 */
static void
test_gui_pool(void **state)
{
	struct qemu_config c;
	struct qemu_argv a;
	size_t i;

	(void)state;
	typical(&c);
	c.free_page_reporting = true;
	c.gui_pool_fd = 13;
	c.gui_pool_size = (uint64_t)64 << 20;
	assert_int_equal(qemu_cmd_build(&c, &a), 0);
	assert_string_equal(a.argv[4], "microvm,pit=on,pic=on,rtc=on,pcie=on");
	for (i = 0; i < a.argc; i++)
		if (strcmp(a.argv[i], "-object") == 0)
			break;
	assert_true(i + 6 < a.argc);
	assert_string_equal(
	    a.argv[i - 1], "virtio-balloon-device,free-page-reporting=on");
	assert_string_equal(a.argv[i + 1],
	    "memory-backend-file,id=guipool,size=67108864,"
	    "mem-path=/proc/self/fd/13,share=on");
	assert_string_equal(a.argv[i + 2], "-device");
	assert_string_equal(a.argv[i + 3], "ivshmem-plain,memdev=guipool");
	assert_string_equal(a.argv[i + 4], "-add-fd");
	assert_string_equal(a.argv[i + 6], "-chardev");
	qemu_argv_free(&a);

	c.machine = QEMU_MACHINE_Q35;
	assert_int_equal(qemu_cmd_build(&c, &a), 0);
	assert_string_equal(a.argv[4], "q35");
	qemu_argv_free(&a);

	/* the limits: one page, 1 GiB, the highest fd */
	c.gui_pool_size = QEMU_MIN_GUI_POOL;
	assert_int_equal(qemu_cmd_build(&c, &a), 0);
	qemu_argv_free(&a);
	c.gui_pool_size = QEMU_MAX_GUI_POOL;
	c.gui_pool_fd = QEMU_MAX_FD;
	assert_int_equal(qemu_cmd_build(&c, &a), 0);
	qemu_argv_free(&a);

	/* none: no pcie, no device */
	typical(&c);
	assert_int_equal(qemu_cmd_build(&c, &a), 0);
	assert_string_equal(a.argv[4], "microvm,pit=on,pic=on,rtc=on");
	for (i = 0; i < a.argc; i++)
		assert_null(strstr(a.argv[i], "ivshmem"));
	qemu_argv_free(&a);
}

/* One field changed from the typical config must fail with -EINVAL. */
static void
expect_invalid(void (*change)(struct qemu_config *c), const char *what)
{
	struct qemu_config c;
	struct qemu_argv a = {.argv = NULL, .argc = 0};

	typical(&c);
	change(&c);
	if (qemu_cmd_build(&c, &a) != -EINVAL)
		fail_msg("accepted: %s", what);
	assert_null(a.argv);
}

#define INVALID(name, body)                                                    \
	static void inv_##name(struct qemu_config *c)                          \
	{                                                                      \
		body;                                                          \
	}
INVALID(binary_relative, c->binary = "qemu-system-x86_64")
INVALID(name_empty, c->name = "")
INVALID(name_comma, c->name = "work,debug-threads=on")
INVALID(name_digit_first, c->name = "1work")
INVALID(name_long, c->name = "a23456789012345678901234567890123")
INVALID(machine, c->machine = QEMU_MACHINE_MAX)
INVALID(accel, c->accel = QEMU_ACCEL_MAX)
INVALID(memory_low, c->memory_mb = QEMU_MIN_MEMORY_MB - 1)
INVALID(memory_high, c->memory_mb = QEMU_MAX_MEMORY_MB + 1)
INVALID(vcpus_zero, c->vcpus = 0)
INVALID(vcpus_high, c->vcpus = QEMU_MAX_VCPUS + 1)
INVALID(kernel_none, c->kernel.path = NULL)
INVALID(kernel_both, c->kernel.fd = 20)
INVALID(kernel_relative, c->kernel.path = "vmlinux")
INVALID(kernel_comma, c->kernel.path = "/boot/vm,linux")
INVALID(kernel_newline, c->kernel.path = "/boot/vm\nlinux")
INVALID(initrd_fd_low, c->initrd.fd = 2)
INVALID(initrd_fd_high, c->initrd.fd = QEMU_MAX_FD + 1)
INVALID(initrd_fd_neg, c->initrd.fd = -2)
INVALID(append_newline, c->append = "root=/dev/vda\nrw")
INVALID(kernelopts_newline, c->kernelopts = "quiet\ninit=/bin/sh")
INVALID(kernelopts_tab, c->kernelopts = "quiet\tx")
INVALID(kernelopts_del, c->kernelopts = "quiet\x7f")
INVALID(kernelopts_utf8, c->kernelopts = "qu\xc3\xa9t")
INVALID(tsc_low, c->tsc_khz = QEMU_MIN_TSC_KHZ - 1)
INVALID(tsc_high, c->tsc_khz = QEMU_MAX_TSC_KHZ + 1)
INVALID(qmp_none, c->qmp_fd = -1)
INVALID(qmp_stdio, c->qmp_fd = 1)
INVALID(qmp_dup, c->qmp_fd = 5)
INVALID(disks_many, c->n_disks = QEMU_MAX_DISKS + 1)
INVALID(disk_none, c->disks[1].file.fd = -1)
INVALID(disk_format, c->disks[1].format = QEMU_DISK_FORMAT_MAX)
INVALID(disk_serial_long, c->disks[1].serial = "s23456789012345678901")
INVALID(disk_serial_comma, c->disks[1].serial = "a,b")
INVALID(disk_serial_empty, c->disks[1].serial = "")
INVALID(disk_backing_raw, c->disks[1].backing.fd = 20)
INVALID(disk_backing_format, c->disks[0].backing_format = 7)
INVALID(disk_backing_both, c->disks[0].backing.path = "/a")
INVALID(disk_fd_dup, c->disks[1].file.fd = 11)
INVALID(
    disk_scratch_read_only, c->disks[0].scratch = c->disks[0].read_only = true)
INVALID(disk_path_relative, {
	c->disks[1].file.fd = -1;
	c->disks[1].file.path = "private.img";
})
INVALID(ports_many, c->n_ports = QEMU_MAX_PORTS + 1)
INVALID(port_name_none, c->ports[0].name = NULL)
INVALID(port_name_comma, c->ports[0].name = "org.bulkhead,qrexec")
INVALID(port_name_long,
    c->ports[0].name = "p2345678901234567890123456789012345678901234567890"
                       "123456789012345")
INVALID(port_name_dup, {
	c->ports[1].fd = 20;
	c->ports[1].name = "org.bulkhead.qrexec";
	c->n_ports = 2;
})
INVALID(port_fd_dup, c->ports[0].fd = 9)
INVALID(console_both, c->console_socket_fd = 20)
INVALID(console_log_both, c->console_log.path = "/log")
INVALID(console_socket_low, {
	c->console_log.fd = -1;
	c->console_socket_fd = 0;
})
#define GUI_POOL(fd, size) (c->gui_pool_fd = (fd), c->gui_pool_size = (size))
INVALID(gui_pool_fd_low, GUI_POOL(2, (uint64_t)64 << 20))
INVALID(gui_pool_fd_high, GUI_POOL(QEMU_MAX_FD + 1, (uint64_t)64 << 20))
INVALID(gui_pool_fd_dup, GUI_POOL(5, (uint64_t)64 << 20))
INVALID(gui_pool_size_zero, GUI_POOL(20, 0))
INVALID(gui_pool_size_low, GUI_POOL(20, 2048))
INVALID(gui_pool_size_high, GUI_POOL(20, QEMU_MAX_GUI_POOL * 2))
INVALID(gui_pool_size_pow2, GUI_POOL(20, (uint64_t)48 << 20))
INVALID(gui_pool_size_no_fd, GUI_POOL(-1, (uint64_t)64 << 20))
#undef GUI_POOL

static void
test_invalid(void **state)
{
	static const struct {
		void (*fn)(struct qemu_config *c);
		const char *what;
	} cases[] = {
#define CASE(n) {inv_##n, #n}
	    CASE(binary_relative),
	    CASE(name_empty),
	    CASE(name_comma),
	    CASE(name_digit_first),
	    CASE(name_long),
	    CASE(machine),
	    CASE(accel),
	    CASE(memory_low),
	    CASE(memory_high),
	    CASE(vcpus_zero),
	    CASE(vcpus_high),
	    CASE(kernel_none),
	    CASE(kernel_both),
	    CASE(kernel_relative),
	    CASE(kernel_comma),
	    CASE(kernel_newline),
	    CASE(initrd_fd_low),
	    CASE(initrd_fd_high),
	    CASE(initrd_fd_neg),
	    CASE(append_newline),
	    CASE(kernelopts_newline),
	    CASE(kernelopts_tab),
	    CASE(kernelopts_del),
	    CASE(kernelopts_utf8),
	    CASE(tsc_low),
	    CASE(tsc_high),
	    CASE(qmp_none),
	    CASE(qmp_stdio),
	    CASE(qmp_dup),
	    CASE(disks_many),
	    CASE(disk_none),
	    CASE(disk_format),
	    CASE(disk_serial_long),
	    CASE(disk_serial_comma),
	    CASE(disk_serial_empty),
	    CASE(disk_backing_raw),
	    CASE(disk_backing_format),
	    CASE(disk_backing_both),
	    CASE(disk_scratch_read_only),
	    CASE(disk_fd_dup),
	    CASE(disk_path_relative),
	    CASE(ports_many),
	    CASE(port_name_none),
	    CASE(port_name_comma),
	    CASE(port_name_long),
	    CASE(port_name_dup),
	    CASE(port_fd_dup),
	    CASE(console_both),
	    CASE(console_log_both),
	    CASE(console_socket_low),
	    CASE(gui_pool_fd_low),
	    CASE(gui_pool_fd_high),
	    CASE(gui_pool_fd_dup),
	    CASE(gui_pool_size_zero),
	    CASE(gui_pool_size_low),
	    CASE(gui_pool_size_high),
	    CASE(gui_pool_size_pow2),
	    CASE(gui_pool_size_no_fd),
#undef CASE
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		expect_invalid(cases[i].fn, cases[i].what);
}

/* Limits: the value at the limit passes. */
static void
test_limits(void **state)
{
	char opts[QEMU_MAX_KERNELOPTS + 2];
	char append[QEMU_MAX_APPEND + 2];
	struct qemu_config c;
	struct qemu_argv a;

	(void)state;
	typical(&c);
	c.name = "a234567890123456789012345678901";
	c.disks[1].serial = "s2345678901234567890";
	c.ports[0].name = "p2345678901234567890123456789012345678901234567890"
	                  "12345678901234";
	c.initrd.fd = QEMU_MAX_FD;
	c.tsc_khz = QEMU_MAX_TSC_KHZ;
	assert_int_equal(qemu_cmd_build(&c, &a), 0);
	qemu_argv_free(&a);

	/* kernelopts: QEMU_MAX_KERNELOPTS bytes, not one more */
	memset(opts, 'x', sizeof(opts));
	opts[QEMU_MAX_KERNELOPTS] = '\0';
	typical(&c);
	c.kernelopts = opts;
	assert_int_equal(qemu_cmd_build(&c, &a), 0);
	qemu_argv_free(&a);
	opts[QEMU_MAX_KERNELOPTS] = 'x';
	opts[QEMU_MAX_KERNELOPTS + 1] = '\0';
	assert_int_equal(qemu_cmd_build(&c, &a), -EINVAL);

	/* the whole line: QEMU_MAX_APPEND bytes, not one more */
	typical(&c);
	c.tsc_khz = 0;
	c.kernelopts = NULL;
	memset(append, 'y', sizeof(append));
	append[QEMU_MAX_APPEND - strlen("console=ttyS0 ")] = '\0';
	c.append = append;
	assert_int_equal(qemu_cmd_build(&c, &a), 0);
	assert_int_equal(strlen(a.argv[27]), (size_t)QEMU_MAX_APPEND);
	qemu_argv_free(&a);
	append[QEMU_MAX_APPEND - strlen("console=ttyS0 ")] = 'y';
	append[QEMU_MAX_APPEND - strlen("console=ttyS0 ") + 1] = '\0';
	assert_int_equal(qemu_cmd_build(&c, &a), -EINVAL);

	/* empty parts add nothing */
	typical(&c);
	c.append = "";
	c.kernelopts = "";
	c.tsc_khz = 0;
	assert_int_equal(qemu_cmd_build(&c, &a), 0);
	assert_string_equal(a.argv[27], "console=ttyS0");
	qemu_argv_free(&a);
}

static void
test_escape(void **state)
{
	char out[8];

	(void)state;
	assert_int_equal(qemu_opt_escape("a,b", out, sizeof(out)), 0);
	assert_string_equal(out, "a,,b");
	assert_int_equal(qemu_opt_escape(",,", out, sizeof(out)), 0);
	assert_string_equal(out, ",,,,");
	assert_int_equal(qemu_opt_escape("", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* exactly fits (7 + NUL), one more does not */
	assert_int_equal(qemu_opt_escape("abcde,", out, sizeof(out)), 0);
	assert_string_equal(out, "abcde,,");
	assert_int_equal(
	    qemu_opt_escape("abcdef,", out, sizeof(out)), -ENAMETOOLONG);
	assert_string_equal(out, "");
	assert_int_equal(
	    qemu_opt_escape("abcdefgh", out, sizeof(out)), -ENAMETOOLONG);
	assert_int_equal(qemu_opt_escape("a", out, 0), -ENAMETOOLONG);
	assert_int_equal(qemu_opt_escape("", out, 1), 0);
}

static int
cpuinfo(const char *s, uint32_t *khz)
{
	return qemu_parse_cpuinfo_khz(s, strlen(s), khz);
}

static void
test_cpuinfo(void **state)
{
	uint32_t khz = 0;

	(void)state;
	assert_int_equal(cpuinfo("processor\t: 0\nmodel name\t: X\n"
	                         "cpu MHz\t\t: 2100.000\ncache size\t: 1\n"
	                         "cpu MHz\t\t: 999.000\n",
	                     &khz),
	    0);
	assert_int_equal(khz, 2100000);
	assert_int_equal(cpuinfo("cpu MHz : 2893.2049", &khz), 0);
	assert_int_equal(khz, 2893204);
	assert_int_equal(cpuinfo("cpu MHz\t: 3000.5\n", &khz), 0);
	assert_int_equal(khz, 3000500);
	assert_int_equal(cpuinfo("cpu MHz: 1000\n", &khz), 0);
	assert_int_equal(khz, 1000000);
	assert_int_equal(cpuinfo("cpu MHz\t\t: 1.000\n", &khz), 0);
	assert_int_equal(khz, QEMU_MIN_TSC_KHZ);

	assert_int_equal(cpuinfo("", &khz), -ENOENT);
	assert_int_equal(cpuinfo("processor : 0\n", &khz), -ENOENT);
	assert_int_equal(cpuinfo("cpu MHzz : 1\n", &khz), -ENOENT);
	assert_int_equal(cpuinfo("cpu MHz\n", &khz), -ENOENT);
	assert_int_equal(cpuinfo("cpu MHz : \n", &khz), -EINVAL);
	assert_int_equal(cpuinfo("cpu MHz 2100\n", &khz), -EINVAL);
	assert_int_equal(cpuinfo("cpu MHz : 2100.\n", &khz), -EINVAL);
	assert_int_equal(cpuinfo("cpu MHz : 2100.0 GHz\n", &khz), -EINVAL);
	assert_int_equal(cpuinfo("cpu MHz : -2100\n", &khz), -EINVAL);
	assert_int_equal(cpuinfo("cpu MHz : 0.999\n", &khz), -EINVAL);
	assert_int_equal(cpuinfo("cpu MHz : 10000.001\n", &khz), -EINVAL);
	assert_int_equal(cpuinfo("cpu MHz : 123456789\n", &khz), -EINVAL);
	assert_int_equal(khz, QEMU_MIN_TSC_KHZ);
}

/* On this host: whatever it says is in range, or there is no such line. */
static void
test_host_tsc(void **state)
{
	uint32_t khz = 0;
	int r;

	(void)state;
	r = qemu_host_tsc_khz(&khz);
	assert_true(r == 0 || r == -ENOENT);
	if (r == 0)
		assert_true(khz >= QEMU_MIN_TSC_KHZ && khz <= QEMU_MAX_TSC_KHZ);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_typical),
	    cmocka_unit_test(test_q35_paths),
	    cmocka_unit_test(test_console),
	    cmocka_unit_test(test_balloon),
	    cmocka_unit_test(test_gui_pool),
	    cmocka_unit_test(test_invalid),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_cpuinfo),
	    cmocka_unit_test(test_host_tsc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
