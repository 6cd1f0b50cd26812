#!/usr/bin/env python3
"""The GUI of a VM qube (issues #7 and #8), under QEMU's TCG: a private
bulkheadd, the busybox VM template from qvm-template, a VM AppVM with the
feature "gui" (label red) and one without.  The GUI qube's launcher makes
its pool (a sealed 64 MiB memfd), names it in <run>/qubes/NAME/gui-pool
("PID FD BYTES") and gives it to the guest as an ivshmem-plain device;
the guest's bulkhead-init starts the GUI agent on the device's BAR 2
(--pool-fd 3), and bulkhead-vmux mirrors its socket to the host.  What
the guest writes into the BAR is in the host's memfd.  bulkhead-guid
finds the qube through bulkheadd, opens the pool the launcher names, and
a test Wayland client started in the VM with qrexec shows over VNC,
framed in red.  The VM without the feature runs no agent and has no pool.
Killing the qube removes the pool file and the window.  TAP; skips where
QEMU, root or a kernel for the pool are missing (as test_vm.py)."""

import fcntl
import glob
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
import bh  # noqa: E402

BUILD = bh.BUILD
GUID = os.path.join(BUILD, "src", "gui", "guid", "bulkhead-guid")
AGENT = os.path.join(BUILD, "src", "gui", "agent", "bulkhead-gui-agent")
CLIENT = os.path.join(BUILD, "src", "gui", "agent", "bulkhead-gui-testclient")
PROBE = os.path.join(BUILD, "tests", "gui", "vnc_probe")
QEMU = "/usr/bin/qemu-system-x86_64"
VMK = os.path.join(bh.BIN, "vm", "bulkhead-vm-kernel")
POOL = os.environ.get("BULKHEAD_TEST_KERNEL_POOL") or os.path.join(
    BUILD, "vm-kernel-pool")
RED = 0xcc0000
A_RGB = 0x336699
POOL_BYTES = 64 << 20
# where the guest writes its pattern: the pool's last page (the agent
# hands out buffers from its start)
PATTERN = b"GUEST-WROTE-THIS-INTO-BAR2"

sys.path.insert(0, HERE)
from guitest import (ok, diag, finish, wait_for, free_port,  # noqa: E402
                     Image, frame_bad, content_exact)


def cat(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def skip(why):
    print("1..0 # SKIP " + why, flush=True)
    return 0


def main():
    if os.geteuid() != 0:
        return skip("needs root (bulkheadd runs QEMU as the qubes' uids)")
    if not os.access(QEMU, os.X_OK) or not shutil.which("qemu-img"):
        return skip("QEMU is not installed (apt-get install "
                    "qemu-system-x86 qemu-utils)")
    for p in (GUID, AGENT, CLIENT, PROBE):
        if not os.access(p, os.X_OK):
            return skip("not built: %s" % p)
    if not glob.glob(os.path.join(POOL, "*", "vmlinux")):
        r = subprocess.run([VMK, "install", "--pool", POOL],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return skip("no kernel for the pool: bulkhead-vm-kernel "
                        "install: " +
                        (r.stderr.strip().splitlines() or ["?"])[-1])
    D = bh.Bulkheadd(backend="sandbox")
    procs = []
    try:
        return run(D, procs)
    finally:
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except OSError:
                    pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        D.close()


def cli(D, *argv):
    env = dict(os.environ, BULKHEAD_ADMIN_SOCKET=D.sock,
               BULKHEAD_RUN_DIR=D.run,
               PATH=os.path.join(bh.BIN, "cli") + ":" + bh.BIN + ":" +
               os.environ["PATH"])
    return subprocess.run(list(argv), env=env, capture_output=True,
                          text=True, timeout=300)


def vm_run(D, qube, cmd, user="root", timeout=60):
    rc, out, err = D.qrexec_client(qube, "%s:%s" % (user, cmd),
                                   timeout=timeout)
    return rc, out.decode(errors="replace"), err.decode(errors="replace")


def pool_file_fd(D, name):
    """The pool the launcher names: (fd, its size) or None."""
    text = cat(os.path.join(D.run, "qubes", name, "gui-pool"))
    try:
        pid, fd, size = (int(x) for x in text.split())
        f = os.open("/proc/%d/fd/%d" % (pid, fd), os.O_RDWR | os.O_CLOEXEC)
    except (ValueError, OSError):
        return None
    return f, size, "/proc/%d/fd/%d" % (pid, fd)


def pool_checks(fd):
    """What gui_pool_check wants: sealed shrink+grow, on tmpfs, a
    multiple of 4096, at most 1 GiB."""
    seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
    st = os.fstat(fd)
    return (seals & (fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW) ==
            (fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW) and
            st.st_size % 4096 == 0 and 0 < st.st_size <= 1 << 30)


def run(D, procs):
    os.makedirs(os.path.join(D.state, "vm-kernels"))
    ver = sorted(v for v in os.listdir(POOL)
                 if os.path.exists(os.path.join(POOL, v, "vmlinux")))[-1]
    shutil.copytree(os.path.join(POOL, ver),
                    os.path.join(D.state, "vm-kernels", ver))
    with open(os.path.join(D.state, "vm-kernels", "default"), "w") as f:
        f.write(ver + "\n")
    D.start()
    r = cli(D, "qvm-template", "install", "busybox")
    if not ok(r.returncode == 0, "the busybox VM template is installed"):
        diag(r.stderr)
        return finish()
    D.create("AppVM", "gvm", "red", template="busybox")
    D.create("AppVM", "plainvm", "green", template="busybox")
    D.call("admin.vm.feature.Set", "gvm", "gui", payload="1")
    ok(D.prop("gvm", "virt_mode")[0] == "vm", "gvm is a VM qube")

    t0 = time.monotonic()
    D.call("admin.vm.Start", "gvm")
    t_gui = time.monotonic() - t0
    ok(D.qubes()["gvm"]["state"] == "Running",
       "gvm (feature gui) starts (%.2f s)" % t_gui)
    xid = D.prop("gvm", "xid")[0]

    # the guest's agent, on the device's BAR 2
    def agent_ps():
        rc, out, _ = vm_run(D, "gvm", "ps -o pid,user,args")
        return out if "bulkhead-gui-agent" in out else None
    ps = wait_for(agent_ps, 20, 0.5)
    ok(ps and "--pool-fd 3" in ps,
       "the guest's bulkhead-gui-agent runs, with --pool-fd 3")
    if ps:
        diag([ln for ln in ps.splitlines() if "gui-agent" in ln])
    rc, out, _ = vm_run(D, "gvm", "for d in /sys/bus/pci/devices/*; do "
                        "echo $(cat $d/vendor) $(cat $d/device) "
                        "$(ls -l $d/resource2 2>/dev/null | "
                        "tr -s ' ' | cut -d' ' -f5); done")
    ok("0x1af4 0x1110 %d" % POOL_BYTES in out,
       "the guest has the ivshmem-plain device, its BAR 2 64 MiB")
    sock = os.path.join(D.run, "vchan", xid, "vchan.%s.0.6000.sock" % xid)
    ok(wait_for(lambda: os.path.exists(sock), 20),
       "its socket is mirrored on the host: vchan/%s/%s" %
       (xid, os.path.basename(sock)))

    # the pool, as the launcher names it
    got = pool_file_fd(D, "gvm")
    pf = os.path.join(D.run, "qubes", "gvm", "gui-pool")
    if ok(got, "<run>/qubes/gvm/gui-pool names an fd of the launcher"):
        fd, size, path = got
        ok(os.stat(pf).st_mode & 0o777 == 0o600, "... the file is 0600")
        ok(os.readlink(path).startswith("/memfd:bulkhead-gui-pool"),
           "... a memfd (%s)" % os.readlink(path))
        ok(size == POOL_BYTES and os.fstat(fd).st_size == POOL_BYTES,
           "... of 64 MiB")
        ok(pool_checks(fd), "... sealed against shrinking and growing, as "
           "gui_pool_check wants")
        # the guest writes into its BAR; the host reads its memfd
        rc, out, err = vm_run(
            D, "gvm", "for d in /sys/bus/pci/devices/*; do "
            "[ $(cat $d/device) = 0x1110 ] && "
            "a=$(sed -n 3p $d/resource | cut -d' ' -f1); done; "
            "a=$((a + %d)); i=0; for w in %s; do "
            "devmem $((a + i)) 32 $w || exit 1; i=$((i + 4)); done; "
            "echo wrote" % (POOL_BYTES - 4096, " ".join(
                "0x%08x" % int.from_bytes(PATTERN[i:i + 4].ljust(4, b"\0"),
                                          "little")
                for i in range(0, len(PATTERN), 4))))
        data = os.pread(fd, len(PATTERN), POOL_BYTES - 4096)
        ok(rc == 0 and data == PATTERN,
           "what the guest writes into BAR 2 is in the host's memfd")
        if data != PATTERN:
            diag("rc %d out %r err %r data %r" % (rc, out, err, data))
        os.close(fd)

    # the GUI domain, and a client in the VM
    port = free_port()
    glog_path = os.path.join(D.root, "guid.log")
    guid = subprocess.Popen(
        [GUID, "--admin-socket", D.sock, "--run-dir", D.run,
         "--vnc=%d" % port, "--screen", "1024x768", "-d"],
        stdout=open(glog_path, "w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    procs.append(guid)
    ok(wait_for(lambda: "qube gvm: GUI connected" in cat(glog_path), 30),
       "bulkhead-guid finds gvm through bulkheadd and connects")
    env = dict(os.environ, VCHAN_DOMAIN="0",
               VCHAN_SOCKET_DIR=os.path.join(D.run, "vchan"),
               BULKHEAD_VCHAN_LAYOUT="per-qube")
    client_log = os.path.join(D.root, "gvm.client")
    p = subprocess.Popen(
        [os.path.join(bh.BIN, "qrexec-client"),
         "--socket-dir=" + os.path.join(D.run, "qrexec"), "-d", "gvm",
         "user:bulkhead-gui-testclient --title Doc --color 0x%06x" % A_RGB],
        env=env, stdout=open(client_log, "w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    procs.append(p)
    ok(wait_for(lambda: "ready" in cat(client_log), 40),
       "a Wayland client started in the VM with qrexec draws")

    def shot():
        path = os.path.join(D.root, "vnc.ppm")
        r = subprocess.run([PROBE, "127.0.0.1:%d" % port, "snap:" + path],
                           capture_output=True, timeout=60)
        if r.returncode != 0:
            return None
        img = Image(path)
        a = img.find(A_RGB)
        return (img, a) if a and a[2] - a[0] == 200 else None
    got = wait_for(shot, 40, 0.5)
    if ok(got, "the VM's window is shown over VNC"):
        img, a = got
        ok(content_exact(img, a, A_RGB), "its content is the client's pixels")
        bad = frame_bad(img, a, RED, 18)
        ok(not bad, "gvm (label red) is framed in exactly 0xcc0000 "
           "(%d off)" % len(bad))
    else:
        diag(cat(glog_path)[-3000:])
        diag(cat(client_log)[-1000:])

    # a VM without the feature: no agent, no pool
    t0 = time.monotonic()
    D.call("admin.vm.Start", "plainvm")
    t_plain = time.monotonic() - t0
    ok(D.qubes()["plainvm"]["state"] == "Running",
       "plainvm (no feature gui) starts (%.2f s)" % t_plain)
    rc, out, _ = vm_run(D, "plainvm", "ps -o args; ls /sys/bus/pci/devices "
                        "2>&1")
    ok(rc == 0 and "bulkhead-gui-agent" not in out,
       "... it runs no GUI agent")
    ok(not os.path.exists(os.path.join(D.run, "qubes", "plainvm",
                                       "gui-pool")), "... and has no pool")
    D.call("admin.vm.Kill", "plainvm")

    # the end of the qube: the pool's name and the window go
    D.call("admin.vm.Kill", "gvm")
    ok(wait_for(lambda: not os.path.exists(pf), 20),
       "gvm killed: its gui-pool file is gone")
    ok(wait_for(lambda: "qube gvm: GUI connection closed" in cat(glog_path),
                20), "... and its GUI connection closed")
    ok(guid.poll() is None, "bulkhead-guid ran through all of it")
    left = wait_for(lambda: not [p for n in ("gvm", "plainvm") for p in
                                 bh.qube_pids(D, int(D.prop(n, "qid")[0]))],
                    20)
    ok(left, "no process of either qube is left")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
