#!/usr/bin/env python3
"""VM qubes (virt_mode=vm, issue #7) end to end, under QEMU's TCG where
KVM cannot boot a stock kernel (these machines): the busybox VM template
from qvm-template, an AppVM started and reached over qrexec (virtio-serial
and bulkhead-vmux), a file copied into it from a namespace qube, its
volumes (root thrown away, private kept), pause, a disposable, bulkheadd
restarted under a running VM, QEMU killed, and a hostile guest writing
garbage on its channel.  After each path nothing is left: no process of
the qube's host uid, no volatile image, no mirrored socket.

Few boots (each is seconds under TCG).  Skipped, with the reason, where
QEMU is not installed or no kernel can be had for the pool."""

import glob
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import bh  # noqa: E402
from bh import ApiError, expect_exc  # noqa: E402

QEMU = "/usr/bin/qemu-system-x86_64"
VMK = os.path.join(bh.BIN, "vm", "bulkhead-vm-kernel")
# the kernel pool is kept across runs in the build tree (a download)
POOL = os.environ.get("BULKHEAD_TEST_KERNEL_POOL") or os.path.join(
    bh.BUILD, "vm-kernel-pool")


def skip(why):
    print("1..0 # SKIP " + why)
    sys.exit(0)


if os.geteuid() != 0:
    skip("needs root (bulkheadd runs QEMU as the qubes' own uids)")
if not os.access(QEMU, os.X_OK) or not shutil.which("qemu-img"):
    skip("QEMU is not installed (apt-get install qemu-system-x86 "
         "qemu-utils)")
if not glob.glob(os.path.join(POOL, "*", "vmlinux")):
    r = subprocess.run([VMK, "install", "--pool", POOL],
                       capture_output=True, text=True)
    if r.returncode != 0:
        skip("no kernel for the pool: bulkhead-vm-kernel install: " +
             (r.stderr.strip().splitlines() or ["?"])[-1])

# a small console limit a run (bulkhead-vm's), so that a guest reaches it
# soon under TCG; bulkheadd's environment passes to its launchers
CONSOLE_MAX = 65536
os.environ["BULKHEAD_QUBE_LOG_MAX"] = str(CONSOLE_MAX)
D = bh.Bulkheadd(backend="sandbox")
QIDS = {}


def qid(name):
    if name not in QIDS:
        QIDS[name] = int(D.prop(name, "qid")[0])
    return QIDS[name]


def run(qube, cmd, user="root", timeout=120, stdin=b""):
    rc, out, err = D.qrexec_client(qube, "%s:%s" % (user, cmd), stdin=stdin,
                                   timeout=timeout)
    return rc, out.decode(errors="replace"), err.decode(errors="replace")


def cli(*argv, check=True, data=None):
    """Run a qvm-* tool; data: bytes for its stdin (then its output is
    bytes too)."""
    env = dict(os.environ, BULKHEAD_ADMIN_SOCKET=D.sock,
               BULKHEAD_RUN_DIR=D.run, PATH=os.path.join(bh.BIN, "cli") + ":" + bh.BIN + ":" +
               os.environ["PATH"])
    r = subprocess.run(list(argv), env=env, capture_output=True,
                       text=data is None, input=data, timeout=300)
    if check:
        assert r.returncode == 0, (argv, r.returncode, r.stdout, r.stderr)
    return r


def qemu_pid(name):
    """The QEMU of qube name (a child of its bulkhead-vm)."""
    for pid in bh.qube_pids(D, qid(name)):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if f.read().split(b"\0")[0].endswith(b"qemu-system-x86_64"):
                    return pid
        except OSError:
            pass
    return None


def vchan_sockets(domid):
    d = os.path.join(D.run, "vchan", str(domid))
    return [e for e in os.listdir(d)] if os.path.isdir(d) else []


def state(name):
    return D.qubes()[name]["state"]


def nothing_left(names):
    """No process of these qubes' uids, no volatile images, no channel
    directory left behind."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        left = [p for n in names for p in bh.qube_pids(D, qid(n))]
        vol = [n for n in names if glob.glob(
            os.path.join(D.state, "qubes", n, "volatile", "*"))]
        cgs = [c for n in names for c in bh.qube_cgroups(D, n)]
        if not left and not vol and not cgs:
            return
        time.sleep(0.1)
    raise AssertionError("left behind: pids %s volatile %s cgroups %s" % (
        left, vol, cgs))


def test_setup():
    os.makedirs(os.path.join(D.state, "vm-kernels"))
    ver = None
    for v in sorted(os.listdir(POOL)):
        if os.path.exists(os.path.join(POOL, v, "vmlinux")):
            ver = v
    assert ver, "no kernel in " + POOL
    shutil.copytree(os.path.join(POOL, ver),
                    os.path.join(D.state, "vm-kernels", ver))
    with open(os.path.join(D.state, "vm-kernels", "default"), "w") as f:
        f.write(ver + "\n")
    rpc = os.path.join(D.conf, "qubes-rpc")
    os.makedirs(rpc)
    with open(os.path.join(rpc, "test.Echo"), "w") as f:
        f.write("#!/bin/sh\necho \"in=$(hostname) from=$QREXEC_REMOTE_DOMAIN"
                "\"\ncat\n")
    os.chmod(os.path.join(rpc, "test.Echo"), 0o755)
    D.start()
    r = cli("qvm-template", "install", "busybox")
    assert "installed" in r.stderr, r.stderr
    assert D.prop("busybox", "virt_mode")[0] == "vm"
    assert os.path.exists(os.path.join(D.state, "qubes", "busybox", "root",
                                       "bin", "busybox"))
    r = cli("qvm-template", "list", "--installed", "--machine-readable")
    assert "installed|busybox|" in r.stdout, r.stdout
    D.create("AppVM", "vm1", "red", template="busybox")
    D.create("AppVM", "work", "green")  # a namespace qube
    qid("vm1"), qid("work")
    # an AppVM takes its template's virt_mode
    assert D.prop("vm1", "virt_mode") == ("vm", True)
    assert D.prop("work", "virt_mode")[0] == "sandbox"


def test_start_and_call():
    D.call("admin.vm.Start", "vm1")
    assert state("vm1") == "Running"
    rc, out, err = run("vm1", "hostname; uname -r; cat /proc/1/cmdline | "
                       "tr '\\0' ' '; echo; id -un")
    lines = out.splitlines()
    assert rc == 0, (rc, out, err)
    # its own kernel (Debian's, from the pool), not the host's
    assert lines[0] == "vm1" and lines[1] != os.uname().release, lines
    assert os.path.isdir(os.path.join(D.state, "vm-kernels", lines[1]))
    assert "bulkhead-init" in lines[2] and lines[3] == "root", lines
    rc, out, err = run("vm1", "id -un", user="user")
    assert rc == 0 and out == "user\n", (rc, out, err)
    # QEMU runs as the qube's own host uid, under its seccomp sandbox
    pid = qemu_pid("vm1")
    assert pid, "no QEMU"
    st = os.stat("/proc/%d" % pid)
    assert st.st_uid == bh.UID_BASE + qid("vm1") * 65536, st.st_uid
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        cmd = f.read().split(b"\0")
    assert b"-sandbox" in cmd and b"tcg" in b" ".join(cmd), cmd
    # the root's overlay (thrown away at shutdown) ignores the guest's
    # flushes; the private disk (kept) never does
    nodes = {a.split(b"node-name=")[1].split(b",")[0]: a for a in cmd
             if b"node-name=" in a}
    assert b"cache.no-flush=on" in nodes[b"disk0"], nodes
    assert b"cache.no-flush=on" in nodes[b"disk0-file"], nodes
    assert b"no-flush" not in nodes[b"disk1"], nodes
    assert b"no-flush" not in nodes[b"disk1-file"], nodes
    assert b"no-flush" not in nodes[b"disk0-backing-file"], nodes
    with open("/proc/%d/status" % pid) as f:
        status = f.read()
    assert "NoNewPrivs:\t1" in status and "Seccomp:\t2" in status, status
    # QMP is read by the launcher's confined child (QEMU's uid, no
    # groups, seccomp), never by the root launcher itself
    launcher, reader = qmp_reader(pid)
    assert bh.proc_status(launcher)["Uid"].split()[0] == "0"
    rs = bh.proc_status(reader)
    want = str(bh.UID_BASE + qid("vm1") * 65536)
    assert rs["Uid"].split() == [want] * 4 and rs["Groups"] == "", rs
    assert rs["NoNewPrivs"] == "1" and rs["Seccomp"] == "2", rs
    assert rs["CapEff"] == "0000000000000000", rs
    # in the qube's cgroup, its memory bounded (the guest's and QEMU's)
    cgs = bh.qube_cgroups(D, "vm1")
    assert cgs, "no cgroup for vm1"
    mem = [c for c in cgs if os.path.exists(
        os.path.join(c, "memory.limit_in_bytes")) or os.path.exists(
        os.path.join(c, "memory.max"))]
    assert mem, cgs
    for c in mem:
        f = os.path.join(c, "memory.limit_in_bytes")
        if not os.path.exists(f):
            f = os.path.join(c, "memory.max")
        with open(f) as fh:
            limit = int(fh.read())
        assert limit == (400 + 384) << 20, (c, limit)
    # and in each of the others (pids, cpu, freezer: QEMU joins them
    # itself before it execs, as one thread)
    for c in cgs:
        with open(os.path.join(c, "cgroup.procs")) as fh:
            assert str(pid) in fh.read().split(), (c, cgs)
    # its own pid namespace, whose pid 1 it is: its /proc shows no
    # process of the host's
    nspid = [ln.split()[1:] for ln in status.splitlines()
             if ln.startswith("NSpid:")]
    assert nspid and len(nspid[0]) == 2 and nspid[0][1] == "1", nspid
    seen = [e for e in os.listdir("/proc/%d/root/proc" % pid) if e.isdigit()]
    assert seen == ["1"], seen
    # its own mount namespace: only /usr, /proc and a few devices
    assert sorted(os.listdir("/proc/%d/root" % pid)) == sorted(
        [e for e in ("bin", "dev", "lib", "lib64", "proc", "sbin", "usr")
         if os.path.lexists("/" + e)]), os.listdir("/proc/%d/root" % pid)
    # a service of the admin side's configuration, and stdin through it
    rc, out, err = D.qrexec_client("vm1", "user:QUBESRPC test.Echo+ dom0",
                                   stdin=b"x" * 300000 + b"\n")
    assert rc == 0 and out.startswith(b"in=vm1 from=dom0\n") and \
        len(out) == len("in=vm1 from=dom0\n") + 300001, (rc, len(out), err)
    # qvm-run --pass-io: "COMMAND; exit" then the caller's input, on the
    # standard input of qubes.VMShell; the guest has no bash (busybox's sh
    # reads 1 KiB ahead), and not a byte of the input may go to the shell
    data = os.urandom(5000)
    r = cli("qvm-run", "--pass-io", "vm1", "md5sum; wc -c", data=data)
    assert r.stdout.split() == [
        hashlib.md5(data).hexdigest().encode(), b"-", b"0"], \
        (r.returncode, r.stdout, r.stderr)
    # the accelerator it got is told (TCG here: no VT-x, or PVM)
    accel = D.call("admin.vm.feature.Get", "vm1", "bulkhead.vm-accel")
    assert accel in ("tcg", "kvm"), accel
    if not os.path.exists("/sys/module/kvm_intel") and \
            not os.path.exists("/sys/module/kvm_amd"):
        assert accel == "tcg", accel
    assert ("-accel" in [c.decode() for c in cmd]) and \
        accel.encode() in cmd[cmd.index(b"-accel") + 1], cmd
    # its serial console, read-only, from the admin side
    con = D.call("admin.vm.Console", "vm1")
    head, _, body = con.partition("\n")
    assert head.startswith("offset=0 size=") and \
        int(head.split("size=")[1]) == len(body.encode()), head
    assert expect_exc("QubesException", D.call, "admin.vm.Console", "work")


def test_filecopy_from_a_namespace_qube():
    # the two backends meet at the admin side's relay
    with open(os.path.join(D.conf, "policy.d", "30-test.policy"), "w") as f:
        f.write("qubes.Filecopy * work vm1 allow\n"
                "test.Echo * work vm1 allow\n")
    D.call("admin.vm.Start", "work")
    deadline = time.monotonic() + 20
    while True:
        rc, out, err = run("work", "echo hello-vm > ~/f && "
                           "head -c 2000000 /dev/urandom > ~/big && "
                           "qvm-copy-to-vm vm1 ~/f ~/big && "
                           "md5sum < ~/big", user="user")
        if rc == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # the policy daemon reloads a little later
    assert rc == 0, (rc, out, err)
    want = out.split()[0]
    rc, out, err = run("vm1", "cat ~/QubesIncoming/work/f; md5sum < "
                       "~/QubesIncoming/work/big", user="user")
    assert rc == 0 and out.split()[:2] == ["hello-vm", want], (rc, out, err)
    rc, out, err = run("work", "qrexec-client-vm vm1 test.Echo",
                       user="user", stdin=b"ping\n")
    assert rc == 0 and out == "in=vm1 from=work\nping\n", (rc, out, err)
    D.call("admin.vm.Kill", "work")


def test_volumes_and_shutdown():
    rc, out, err = run("vm1", "echo kept > /home/user/p && "
                       "echo gone > /etc/r && sync", user="root")
    assert rc == 0, (rc, out, err)
    vols = D.call("admin.vm.volume.List", "vm1").split()
    assert "private" in vols and "root" in vols, vols
    domid = D.qubes()["vm1"].get("xid") or None
    t0 = time.monotonic()
    D.call("admin.vm.Shutdown", "vm1", "wait")
    assert state("vm1") == "Halted"
    # a clean shutdown (the guest's init powered off), not the kill
    # after shutdown_timeout
    assert time.monotonic() - t0 < 30
    nothing_left(["vm1"])
    assert os.path.exists(os.path.join(D.state, "qubes", "vm1",
                                       "private.img"))
    assert not glob.glob(os.path.join(D.state, "qubes", "vm1", "volatile",
                                      "*"))
    if domid:
        assert not vchan_sockets(domid)
    # the template's root is untouched: an AppVM writes to its own copy
    D.call("admin.vm.Start", "vm1")
    rc, out, err = run("vm1", "cat /home/user/p; cat /etc/r 2>&1 || true")
    assert out.startswith("kept\n") and "gone" not in out, out
    # the private image as qvm-volume sees it, and its revision: what it
    # held before this start, kept for revert
    info = dict(line.split("=", 1) for line in D.call(
        "admin.vm.volume.Info", "vm1", "private").splitlines())
    assert info["vid"].endswith("/vm1/private.img") and \
        int(info["size"]) >= 1 << 30 and info["revisions_to_keep"] == "1" \
        and info["save_on_stop"] == "True", info
    rc, out, err = run("vm1", "echo later > /home/user/q && sync")
    assert rc == 0, (rc, out, err)
    D.call("admin.vm.Shutdown", "vm1", "wait")
    revs = D.call("admin.vm.volume.ListSnapshots", "vm1", "private").split()
    assert len(revs) == 1, revs
    expect_exc("QubesValueError", D.call, "admin.vm.volume.Revert", "vm1",
               "private", "123")
    D.call("admin.vm.volume.Revert", "vm1", "private", revs[0])
    D.call("admin.vm.Start", "vm1")
    rc, out, err = run("vm1", "cat /home/user/p; ls /home/user")
    assert out.split()[0] == "kept" and "q" not in out.split(), (rc, out)
    expect_exc("QubesVMNotHaltedError", D.call, "admin.vm.volume.Revert",
               "vm1", "private", revs[0])


def test_template_changes_reach_appvms_after_it_stops():
    """Qubes' semantics for a template's root: what the running template
    writes reaches its AppVMs at their next start after it stopped, and a
    qube that starts while it runs gets the root as it was when it
    started (root-snap.img)."""
    D.call("admin.vm.Start", "busybox")
    rc, out, err = run("busybox", "echo v2 > /etc/bh-tpl && sync")
    assert rc == 0, (rc, out, err)
    D.call("admin.vm.Shutdown", "vm1", "wait")
    D.call("admin.vm.Start", "vm1")  # while the template runs
    rc, out, err = run("vm1", "cat /etc/bh-tpl 2>&1 || true")
    assert "v2" not in out, out
    snap = os.path.join(D.state, "qubes", "busybox", "root-snap.img")
    assert os.path.exists(snap)
    D.call("admin.vm.Shutdown", "busybox", "wait")
    assert state("busybox") == "Halted"
    # the AppVM that runs keeps its root; at its next start, the new one
    rc, out, err = run("vm1", "cat /etc/bh-tpl 2>&1 || true")
    assert "v2" not in out, out
    D.call("admin.vm.Shutdown", "vm1", "wait")
    D.call("admin.vm.Start", "vm1")
    rc, out, err = run("vm1", "cat /etc/bh-tpl")
    assert rc == 0 and out == "v2\n", (rc, out, err)
    img = os.stat(os.path.join(D.state, "qubes", "busybox", "root.img"))
    st = os.stat(snap)
    assert (st.st_mtime_ns, st.st_size) == (img.st_mtime_ns, img.st_size)


def test_daemon_serves_while_a_start_prepares():
    """A VM start's disk work (initramfs, images, overlays, copies) runs in
    the launcher's process, not in bulkheadd's loop: while it waits (here
    on its lock, held by this test), the Admin API answers and the qube is
    Transient; then the start completes."""
    import fcntl
    import threading
    D.call("admin.vm.Shutdown", "vm1", "wait")
    lock = open(os.path.join(D.run, "vm", "prepare.lock"), "a")
    fcntl.flock(lock, fcntl.LOCK_EX)
    res = {}

    def start():
        try:
            D.call("admin.vm.Start", "vm1")
            res["ok"] = True
        except Exception as e:  # noqa: BLE001 - reported below
            res["err"] = e
    th = threading.Thread(target=start)
    th.start()
    try:
        bh.wait_for(lambda: state("vm1") == "Transient", "vm1 starting", 20)
        time.sleep(1)
        # still waiting on the lock, and the daemon answers meanwhile
        assert state("vm1") == "Transient" and th.is_alive()
        assert "dom0" in D.qubes()
        D.call("admin.vm.property.Get", "vm1", "label")
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
    th.join(180)
    assert res.get("ok"), res
    rc, out, err = run("vm1", "echo up")
    assert rc == 0 and out == "up\n", (rc, out, err)


def guest_uptime():
    rc, out, err = run("vm1", "cat /proc/uptime")
    assert rc == 0, (rc, out, err)
    return float(out.split()[0])


def test_pause():
    # QMP stop: the guest's clock stands still while it is paused
    up0, t0 = guest_uptime(), time.monotonic()
    D.call("admin.vm.Pause", "vm1")
    assert state("vm1") == "Paused"
    time.sleep(4)
    D.call("admin.vm.Unpause", "vm1")
    assert state("vm1") == "Running"
    up1, t1 = guest_uptime(), time.monotonic()
    assert up1 - up0 < (t1 - t0) - 2.5, (up0, up1, t1 - t0)


def test_daemon_restart_adopts():
    D.stop()
    assert qemu_pid("vm1"), "the VM went down with bulkheadd"
    D.start()
    assert state("vm1") == "Running"
    rc, out, err = run("vm1", "echo still")
    assert rc == 0 and out == "still\n", (rc, out, err)


def test_qemu_killed():
    domid = int(D.prop("vm1", "xid")[0])
    vdir = os.path.join(D.run, "vchan", str(domid))
    assert os.path.isdir(vdir), vdir
    pid = qemu_pid("vm1")
    os.kill(pid, signal.SIGKILL)
    bh.wait_for(lambda: state("vm1") == "Halted", "vm1 halted", 30)
    nothing_left(["vm1"])
    # its channel directory (the vmux's mirrors in it) went with it
    assert not os.path.exists(vdir), os.listdir(vdir)


def dead(pid):
    """pid is gone, or a zombie (dead, not yet reaped by whoever
    inherited it)."""
    try:
        return bh.proc_status(pid).get("State", "").startswith("Z")
    except OSError:
        return True


def test_launcher_killed():
    # SIGKILL to bulkhead-vm: its QEMU and vmux die with it (their
    # parent-death signal, set after they took the qube's ids)
    D.call("admin.vm.Start", "vm1")
    qpid = qemu_pid("vm1")
    with open("/proc/%d/stat" % qpid) as f:
        launcher = int(f.read().rsplit(")", 1)[1].split()[1])
    with open("/proc/%d/cmdline" % launcher, "rb") as f:
        assert f.read().split(b"\0")[0].endswith(b"bulkhead-vm")
    os.kill(launcher, signal.SIGKILL)
    bh.wait_for(lambda: state("vm1") == "Halted", "vm1 halted", 30)
    nothing_left(["vm1"])
    # QEMU may still be tearing down its guest memory after the kill
    # (its command line and mounts already gone, so nothing_left no
    # longer names it): wait for it to be gone, not merely exiting
    bh.wait_for(lambda: dead(qpid),
                "QEMU %d dead (it outlived its launcher)" % qpid, 30)


def qmp_reader(qpid):
    """The QMP reader of the qube whose QEMU is qpid: the other
    bulkhead-vm child of its launcher."""
    launcher = int(bh.proc_status(qpid)["PPid"])
    readers = [p for p, ppid in bh.programs(D, "bulkhead-vm")
               if ppid == launcher]
    assert len(readers) == 1, readers
    return launcher, readers[0]


def test_qmp_reader_killed():
    # a QMP reader that dies without a word (as one QEMU took over
    # might) leaves QEMU out of the launcher's hands: QEMU is killed and
    # the qube halts, leaving nothing
    D.call("admin.vm.Start", "vm1")
    qpid = qemu_pid("vm1")
    _, reader = qmp_reader(qpid)
    logf = os.path.join(D.state, "log", "vm1.log")
    seen = os.path.getsize(logf)
    os.kill(reader, signal.SIGKILL)
    bh.wait_for(lambda: state("vm1") == "Halted", "vm1 halted", 30)
    nothing_left(["vm1"])
    bh.wait_for(lambda: dead(qpid), "QEMU %d dead" % qpid, 30)
    with open(logf, errors="replace") as f:
        f.seek(seen)
        text = f.read()
    assert "QMP: Connection reset by peer; killing QEMU" in text, text


def test_hostile_guest():
    # the guest's root stops its own bulkhead-vmux and writes garbage on
    # the qrexec port: the admin side's vmux refuses it and the qube is
    # stopped; bulkheadd and other qubes go on
    D.call("admin.vm.Start", "vm1")
    rc, out, err = run("vm1", """setsid sh -c '
        sleep 1
        for p in /proc/[0-9]*; do
            [ ${p#/proc/} = $$ ] && continue
            grep -q bulkhead-vmux $p/cmdline 2>/dev/null && kill -9 ${p#/proc/}
        done
        sleep 0.3
        for s in /sys/class/virtio-ports/*; do
            [ "$(cat $s/name)" = org.bulkhead.qrexec ] &&
                printf "\\377\\377\\377\\377garbage-garbage" > /dev/${s##*/}
        done' </dev/null >/dev/null 2>&1 &
        echo armed""")
    assert rc == 0 and out == "armed\n", (rc, out, err)
    bh.wait_for(lambda: state("vm1") == "Halted", "hostile vm1 stopped", 60)
    nothing_left(["vm1"])
    with open(os.path.join(D.state, "log", "vm1.log")) as f:
        log = f.read()
    assert "bulkhead-vmux: qube vm1: protocol violation" in log, log[-2000:]
    # the daemon serves on
    assert D.qubes()["vm1"]["state"] == "Halted"


def test_console_cannot_fill_the_disk():
    """A guest writing to its serial console for ever fills at most its
    run's share of the log (the rest is dropped, the guest is not held
    up); the next start moves an over-size log to .old."""
    log = os.path.join(D.state, "log", "vm1.console.log")
    old = log + ".old"
    assert state("vm1") == "Halted"
    D.call("admin.vm.Start", "vm1")
    # the boot's own lines (and, if it was over the limit, a fresh file)
    base = os.path.getsize(log)
    assert base <= 2 * CONSOLE_MAX, base
    rc, out, err = run("vm1", "head -c %d /dev/zero | tr '\\0' A "
                       ">/dev/console; echo written" % (3 * CONSOLE_MAX),
                       timeout=300)
    assert rc == 0 and out == "written\n", (rc, out, err)
    bh.wait_for(lambda: b"console output is over its limit" in
                open(log, "rb").read(), "the limit's note in the log", 60)
    size = os.path.getsize(log)
    assert size <= base + CONSOLE_MAX + 200, (base, size)
    with open(log, "rb") as f:
        f.seek(base)
        assert f.read().count(b"A") >= CONSOLE_MAX // 2
    # the guest goes on, and more output adds nothing
    rc, out, err = run("vm1", "head -c %d /dev/zero | tr '\\0' B "
                       ">/dev/console; echo again" % CONSOLE_MAX, timeout=300)
    assert rc == 0 and out == "again\n", (rc, out, err)
    assert os.path.getsize(log) == size
    with open(os.path.join(D.state, "log", "vm1.log")) as f:
        assert "the rest of this run's is dropped" in f.read()
    D.call("admin.vm.Shutdown", "vm1", "wait")
    # over the limit: the next start begins a new log
    D.call("admin.vm.Start", "vm1")
    assert os.path.getsize(old) == size, (os.path.getsize(old), size)
    assert os.path.getsize(log) < CONSOLE_MAX
    con = D.call("admin.vm.Console", "vm1")
    assert "over its limit" not in con
    D.call("admin.vm.Shutdown", "vm1", "wait")


def dvm_halts_with(text):
    """The DVM template vmdvm started, text written to its /rw/seed, and
    shut down."""
    D.call("admin.vm.Start", "vmdvm")
    rc, out, err = run("vmdvm", "echo %s > /rw/seed && sync" % text)
    assert rc == 0, (rc, out, err)
    D.call("admin.vm.Shutdown", "vmdvm", "wait")


def test_disposable():
    D.create("AppVM", "vmdvm", "red", template="busybox")
    qid("vmdvm")
    D.call("admin.vm.property.Set", "vmdvm", "template_for_dispvms", "True")
    dvm_halts_with("from-dvm")
    r = cli("qvm-run", "--dispvm=vmdvm", "--pass-io", "--",
            "cat /rw/seed; echo changed > /rw/seed; hostname")
    lines = r.stdout.split()
    assert lines[0] == "from-dvm" and lines[1].startswith("disp"), r.stdout
    name = lines[1]
    bh.wait_for(lambda: name not in D.qubes(), "disposable removed", 30)
    assert not os.path.exists(os.path.join(D.state, "qubes", name))
    # the DVM template's private is untouched
    D.call("admin.vm.Start", "vmdvm")
    rc, out, _ = run("vmdvm", "cat /rw/seed")
    assert out == "from-dvm\n", out
    # what a running DVM template writes does not reach a new disposable:
    # that starts over its private as it was when it last shut down (a
    # copy made while it was halted), as in Qubes
    rc, out, err = run("vmdvm", "echo running-dvm > /rw/seed && sync")
    assert rc == 0, (rc, out, err)
    r = cli("qvm-run", "--dispvm=vmdvm", "--pass-io", "--", "cat /rw/seed")
    assert r.stdout == "from-dvm\n", (r.stdout, r.stderr)


def test_preloaded_disposable():
    # Qubes 4.3's preload-dispvm-max: a VM disposable made, booted and
    # paused ahead; a request gets it at once and another is made
    def preloaded():
        return [n for n, i in D.qubes().items()
                if n.startswith("disp") and i["state"] == "Paused"]
    D.call("admin.vm.Kill", "vmdvm")
    bh.wait_for(lambda: state("vmdvm") == "Halted", "vmdvm halted", 30)
    D.call("admin.vm.feature.Set", "vmdvm", "preload-dispvm-max", "1")
    bh.wait_for(lambda: len(preloaded()) == 1, "a preloaded disposable", 90)
    ready = preloaded()[0]
    r = cli("qvm-run", "--dispvm=vmdvm", "--pass-io", "--",
            "hostname; cat /rw/seed")
    # made after the DVM template halted: what it wrote while it ran
    assert r.stdout == ready + "\nrunning-dvm\n", (r.stdout, ready)
    bh.wait_for(lambda: ready not in D.qubes(), "used disposable removed", 30)
    bh.wait_for(lambda: len(preloaded()) == 1, "a new preloaded one", 90)
    # the DVM template runs and halts with a change: the preload made
    # before is outdated, discarded when a disposable is asked for (Qubes
    # 4.3), and the disposable made instead has the change
    stale = preloaded()[0]
    dvm_halts_with("after-preload")
    r = cli("qvm-run", "--dispvm=vmdvm", "--pass-io", "--",
            "hostname; cat /rw/seed")
    got = r.stdout.split()
    assert got[0] != stale and got[1:] == ["after-preload"], (r.stdout, stale)
    with open(os.path.join(D.root, "bulkheadd.log")) as f:
        assert "discarding the preloaded " + stale in f.read()
    bh.wait_for(lambda: stale not in D.qubes() and got[0] not in D.qubes(),
                "the outdated preload and the used one removed", 30)
    bh.wait_for(lambda: len(preloaded()) == 1, "a fresh preload", 90)
    D.call("admin.vm.feature.Remove", "vmdvm", "preload-dispvm-max")
    bh.wait_for(lambda: not preloaded(), "preloaded ones removed", 30)
    D.call("admin.vm.Start", "vmdvm")


def test_vm_to_vm_call():
    # two VM qubes: the call goes through both vmuxes and the admin side's
    # relay, under policy
    with open(os.path.join(D.conf, "policy.d", "31-vm.policy"), "w") as f:
        f.write("test.Echo * vm1 vmdvm allow\n"
                "test.Echo * vmdvm vm1 deny\n")
    D.call("admin.vm.Start", "vm1")
    deadline = time.monotonic() + 20
    while True:
        rc, out, err = run("vm1", "qrexec-client-vm vmdvm test.Echo",
                           user="user", stdin=b"across\n")
        if rc == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)  # the policy daemon reloads a little later
    assert rc == 0 and out == "in=vmdvm from=vm1\nacross\n", (rc, out, err)
    rc, out, err = run("vmdvm", "qrexec-client-vm vm1 test.Echo",
                       user="user")
    assert rc == 126 and "refused" in err.lower(), (rc, out, err)
    for q in ("vm1", "vmdvm"):
        D.call("admin.vm.Kill", q)
    for q in ("vm1", "vmdvm"):
        bh.wait_for(lambda: state(q) == "Halted", q + " halted", 30)


def test_boot_timeout():
    # a guest that never reaches its agent (its initramfs's shell as init,
    # waiting for a console that sends nothing) is killed at
    # qrexec_timeout and the start reported failed
    D.create("AppVM", "hang", "red", template="busybox")
    qid("hang")
    D.call("admin.vm.property.Set", "hang", "kernelopts", "rdinit=/bin/sh")
    D.call("admin.vm.property.Set", "hang", "qrexec_timeout", "8")
    t0 = time.monotonic()
    e = expect_exc("QubesVMError", D.call, "admin.vm.Start", "hang")
    assert time.monotonic() - t0 < 30, time.monotonic() - t0
    assert "did not connect" in e.msg, e
    bh.wait_for(lambda: state("hang") == "Halted", "hang halted", 30)
    nothing_left(["hang"])


def test_no_silent_fallback():
    # a VM qube whose kernel is missing fails to start with the reason;
    # it never runs as a sandbox instead
    D.create("AppVM", "nokernel", "red", template="busybox")
    expect_exc("QubesPropertyValueError", D.call, "admin.vm.property.Set",
               "nokernel", "vm_accel", "hvf")
    D.call("admin.vm.property.Set", "nokernel", "kernel", "0.0-missing")
    e = expect_exc("QubesVMError", D.call, "admin.vm.Start", "nokernel")
    assert "pool" in e.msg, e.msg
    assert state("nokernel") == "Halted"


def test_failed_start_leaves_nothing():
    # a start that fails after the volatile images were made (a VM
    # template with neither a root image nor a tree) removes them again
    D.create("TemplateVM", "notree", "red")
    D.call("admin.vm.property.Set", "notree", "virt_mode", "vm")
    shutil.rmtree(os.path.join(D.state, "qubes", "notree", "root"),
                  ignore_errors=True)
    D.create("AppVM", "orphan", "red", template="notree")
    e = expect_exc("QubesVMError", D.call, "admin.vm.Start", "orphan")
    assert "neither a root image nor a root tree" in e.msg, e.msg
    assert state("orphan") == "Halted"
    assert not glob.glob(os.path.join(D.state, "qubes", "orphan",
                                      "volatile", "*")), "volatile left"


def test_everything_stops_clean():
    for name, info in D.qubes().items():
        if name != "dom0" and info["state"] != "Halted":
            D.call("admin.vm.Kill", name)
    nothing_left(["vm1", "vmdvm", "work"])


try:
    bh.run_tests([
        test_setup,
        test_start_and_call,
        test_filecopy_from_a_namespace_qube,
        test_volumes_and_shutdown,
        test_template_changes_reach_appvms_after_it_stops,
        test_daemon_serves_while_a_start_prepares,
        test_pause,
        test_daemon_restart_adopts,
        test_qemu_killed,
        test_launcher_killed,
        test_qmp_reader_killed,
        test_hostile_guest,
        test_console_cannot_fill_the_disk,
        test_disposable,
        test_preloaded_disposable,
        test_vm_to_vm_call,
        test_boot_timeout,
        test_no_silent_fallback,
        test_failed_start_leaves_nothing,
        test_everything_stops_clean,
    ])
finally:
    D.close()
