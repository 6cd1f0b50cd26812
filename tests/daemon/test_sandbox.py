#!/usr/bin/env python3
"""Namespace-sandbox qubes end to end (bulkheadd's default backend, on the
embedded host template): lifecycle, Qubes' volume semantics, disposables,
faults, and a hostile qube trying to get out.  After every path, nothing
is left: no process in a qube's uid range, no cgroup, no volatile data."""

import os
import pwd
import re
import signal
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import bh  # noqa: E402
from bh import ApiError, expect_exc  # noqa: E402

D = bh.Bulkheadd(backend="sandbox")


def run(qube, cmd, user="root", timeout=60, stdin=b""):
    return D.qrexec_client(qube, "%s:%s" % (user, cmd), stdin=stdin,
                           timeout=timeout)


def sh(qube, cmd, user="root"):
    rc, out, err = run(qube, cmd, user)
    return rc, out.decode(errors="replace"), err.decode(errors="replace")


def sandbox_pids():
    """Processes of this test's qubes."""
    return bh.qube_pids(D)


def cgroup_of(path, name):
    """Is path a cgroup of qube name (bulkhead-NAME-LAUNCHERPID)?"""
    return re.search(r"/bulkhead-%s-[0-9]+$" % re.escape(name), path)


def our_cgroups():
    return bh.qube_cgroups(D)


QIDS = {}


def qid(name):
    if name not in QIDS:
        QIDS[name] = int(D.prop(name, "qid")[0])
    return QIDS[name]


def pids_of(name):
    return bh.qube_pids(D, qid(name))


def nothing_left(names=()):
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        left = [p for n in names for p in pids_of(n)]
        cgs = [c for c in our_cgroups()
               if any(cgroup_of(c, n) for n in names)]
        vol = [n for n in names if os.path.exists(
            os.path.join(D.state, "qubes", n, "volatile"))]
        mnt = run_dir_mounts()
        if not left and not cgs and not vol and not mnt:
            return True
        time.sleep(0.05)
    def what(pid):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            return "%d uid %d (%s)" % (pid, os.stat("/proc/%d" % pid).st_uid,
                                      cmd.strip())
        except OSError:
            return str(pid)
    raise AssertionError(
        "left behind: pids %s cgroups %s volatile %s mounts %s" % (
            [what(p) for p in left], cgs, vol, mnt))


def run_dir_mounts():
    """Mounts in bulkheadd's run directory (the qubes' channel
    directories' tmpfs) of qubes that are not running."""
    up = {int(D.prop(n, "xid")[0]) for n, i in D.qubes().items()
          if n != "dom0" and i["state"] != "Halted"}
    out = []
    with open("/proc/self/mountinfo") as f:
        for ln in f:
            mp = ln.split()[4]
            if not mp.startswith(D.run + "/"):
                continue
            m = re.match(re.escape(D.run) + r"/vchan/([0-9]+)$", mp)
            if not (m and int(m.group(1)) in up):
                out.append(mp)
    return out


def echo_service():
    """test.Echo, offered to every qube (seen by qubes started after)."""
    rpc = os.path.join(D.conf, "qubes-rpc")
    os.makedirs(rpc, exist_ok=True)
    with open(os.path.join(rpc, "test.Echo"), "w") as f:
        f.write("#!/bin/sh\necho \"in=$(hostname) from=$QREXEC_REMOTE_DOMAIN\"\n"
                "cat\n")
    os.chmod(os.path.join(rpc, "test.Echo"), 0o755)


def test_start():
    echo_service()  # before the qubes start, so that all of them see it
    D.start()
    assert D.qubes()["host"]["class"] == "TemplateVM"
    assert D.call("admin.property.Get", arg="default_template") == \
        "default=False type=vm host"
    D.create("AppVM", "work", "red")
    D.create("AppVM", "other", "green")
    qid("work"), qid("other")
    D.call("admin.vm.Start", "work")
    D.call("admin.vm.Start", "other")
    rc, out, err = sh("work", "hostname; id -un; cat /proc/1/comm; "
                      "ls /proc | grep -c '^[0-9]'", user="user")
    lines = out.split()
    assert rc == 0 and lines[:3] == ["work", "user", "bulkhead-init"], (rc,
                                                                       out, err)
    assert int(lines[3]) < 12, out  # only the qube's own processes


def test_vmshell():
    # bulkhead's own qubes.VMShell (what qvm-run uses): a login shell of
    # the calling user, reading commands from stdin, with the qube's tools
    rc, out, err = D.qrexec_client(
        "work", "user:QUBESRPC qubes.VMShell+ dom0",
        stdin=b"id -un; command -v qrexec-client-vm; exit 3\n")
    assert rc == 3 and out == b"user\n/run/bulkhead/bin/qrexec-client-vm\n", \
        (rc, out, err)
    # what follows the commands is the commands' input (qvm-run --pass-io
    # sends "COMMAND; exit" and then its own standard input), every byte
    data = os.urandom(5000)
    rc, out, err = D.qrexec_client(
        "work", "user:QUBESRPC qubes.VMShell+ dom0",
        stdin=b"wc -c; exit\n" + data)
    assert rc == 0 and out == b"5000\n", (rc, out, err)
    vmshell_without_bash()
    # a service the qube provides itself comes first
    rc, out, _ = sh("work", "mkdir -p /rw/config/qubes-rpc && printf "
                    "'#!/bin/sh\\necho mine\\n' > "
                    "/rw/config/qubes-rpc/qubes.WaitForSession && "
                    "chmod +x /rw/config/qubes-rpc/qubes.WaitForSession")
    assert rc == 0, out
    rc, out, _ = D.qrexec_client("work",
                                 "user:QUBESRPC qubes.WaitForSession+ dom0")
    assert out == b"mine\n", out


def vmshell_without_bash():
    """The shipped qubes.VMShell where there is no bash (the busybox VM
    template): run by busybox's sh, which reads its input 1 KiB ahead, in
    a mount namespace of its own with /bin/bash hidden."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                          "..", "src", "qubes-rpc", "qubes.VMShell")
    busybox = "/bin/busybox"
    assert os.access(busybox, os.X_OK), \
        "busybox (busybox-static, which .ci/run installs) is missing"
    hide = ("mount --bind /dev/null /bin/bash 2>/dev/null || true; "
            "[ ! -x /bin/bash ] || exit 99; HOME=/nonexistent "
            "exec %s sh %s" % (busybox, script))

    def run_script(stdin):
        r = subprocess.run(["unshare", "-m", "--propagation", "private",
                            "/bin/sh", "-c", hide], input=stdin,
                           capture_output=True, timeout=60)
        assert r.returncode != 99, "could not hide /bin/bash"
        return r.returncode, r.stdout, r.stderr

    data = os.urandom(5000)
    # the command, then the data, all of it for the command
    rc, out, err = run_script(b"wc -c; exit\n" + data)
    assert rc == 0 and out.split() == [b"5000"], (rc, out, err)
    # commands over several lines, variables kept between them, a
    # here-document (<<- strips tabs), the last command's status
    rc, out, err = run_script(
        b"for i in 1 2\ndo echo $i\ndone\nx=5\n"
        b"cat <<-'E' ; cat <<F\n\t$x\n\tE\n$x\nF\n"
        b"echo \"two\nlines\"\n(exit 4)\n")
    assert rc == 4 and out == b"1\n2\n$x\n5\ntwo\nlines\n", (rc, out, err)
    # exit stops it there; a last line without a newline still runs
    rc, out, err = run_script(b"echo a; exit 3\necho b\n")
    assert rc == 3 and out == b"a\n", (rc, out, err)
    rc, out, err = run_script(b"echo c")
    assert rc == 0 and out == b"c\n", (rc, out, err)


def test_clone_volumes():
    # Qubes' qvm-clone sequence: create, then CloneFrom/CloneTo for each
    # volume kept on stop; the copy's files are the copy's own
    if D.qubes()["work"]["state"] == "Halted":
        D.call("admin.vm.Start", "work")
    sh("work", "echo original > /home/user/f && chown user:user /home/user/f")
    D.call("admin.vm.Shutdown", "work", "wait")
    D.create("AppVM", "copy", "green")
    qid("copy")
    vols = D.call("admin.vm.volume.List", "copy").split()
    assert vols == ["private", "root", "volatile"], vols
    kept = [v for v in vols if "save_on_stop=True" in
            D.call("admin.vm.volume.Info", "copy", v)]
    assert kept == ["private"], kept
    info = D.call("admin.vm.volume.Info", "copy", "root")
    assert "source=host/root" in info and "snap_on_start=True" in info, info
    expect_exc("QubesException", D.call, "admin.vm.volume.CloneFrom", "work",
               "root")  # an AppVM's root is its template's
    token = D.call("admin.vm.volume.CloneFrom", "work", "private")
    assert len(token) == 32, token
    D.call("admin.vm.volume.CloneTo", "copy", "private", token)
    # a token is good once
    expect_exc("QubesException", D.call, "admin.vm.volume.CloneTo", "copy",
               "private", token)
    D.call("admin.vm.Start", "copy")
    rc, out, _ = sh("copy", "cat /home/user/f; stat -c %U /home/user/f; "
                    "echo changed > /home/user/f", user="user")
    assert out == "original\nuser\n", out
    D.call("admin.vm.Shutdown", "copy", "wait")
    # the original is untouched by the copy's changes
    D.call("admin.vm.Start", "work")
    rc, out, _ = sh("work", "cat /home/user/f")
    assert out == "original\n", out
    # a running source is refused: its private is a live directory
    token = D.call("admin.vm.volume.CloneFrom", "work", "private")
    e = expect_exc("QubesVMNotHaltedError", D.call,
                   "admin.vm.volume.CloneTo", "copy", "private", token)
    assert "live directory" in e.msg, e.msg
    D.call("admin.vm.Remove", "copy")
    assert not os.path.exists(os.path.join(D.state, "qubes", "copy"))


def test_host_template_cannot_start():
    e = expect_exc("QubesVMError", D.call, "admin.vm.Start", "host")
    assert "host's own files" in e.msg, e.msg


def test_volumes():
    # private is kept; the root's changes are not; the host is untouched
    rc, out, err = sh("work", "echo kept > /rw/kept; echo gone > /etc/gone; "
                      "echo home > /home/user/h && cat /home/user/h")
    assert rc == 0 and out == "home\n", (rc, out, err)
    assert not os.path.exists("/etc/gone")
    D.call("admin.vm.Shutdown", "work", "wait")
    nothing_left(["work"])
    D.call("admin.vm.Start", "work")
    rc, out, _ = sh("work", "cat /rw/kept; cat /etc/gone 2>&1; "
                    "cat /home/user/h")
    assert out.startswith("kept\n") and "No such file" in out and \
        out.endswith("home\n"), out
    rc, out, _ = sh("work", "touch /usr/x 2>&1; echo rc=$?")
    assert "Read-only file system" in out and "rc=1" in out, repr(out)


def test_no_host_secrets():
    rc, out, _ = sh("work", "cat /etc/shadow; ls /etc/ssh 2>&1; "
                    "grep -c . /etc/passwd")
    assert "root:*:" in out and "No such file" in out, out
    assert out.strip().endswith("3"), out  # root, user, nobody: no host users
    # the host's TLS private keys stay on the host (its certificates do not)
    rc, out, _ = sh("work", "ls /etc/ssl/private 2>&1; ls /etc/ssl/certs | "
                    "grep -c .")
    assert "No such file" in out and int(out.split()[-1]) > 0, out


def test_isolation_processes():
    me = os.getpid()
    rc, out, _ = sh("work", "kill -0 %d 2>&1; echo rc=$?; ls /proc/%d 2>&1"
                    % (D.proc.pid, me))
    assert "rc=1" in out and "No such file" in out, out
    # the other qube's processes are not there either
    other = pids_of("other")
    assert other, "no process of the other qube found"
    rc, out, _ = sh("work", "kill -9 %d 2>&1; echo rc=$?" % other[0])
    assert "rc=1" in out, out
    assert D.qubes()["other"]["state"] == "Running"


def test_isolation_mount_modules_ptrace():
    py = ("import ctypes, errno, os\n"
          "libc = ctypes.CDLL(None, use_errno=True)\n"
          "def t(name, r):\n"  # success: 0, or an fd (bpf, open_tree_attr)
          "    print(name, 'ok' if r >= 0 else errno.errorcode["
          "ctypes.get_errno()])\n"
          "t('mount', libc.mount(b'x', b'/tmp', b'tmpfs', 0, None))\n"
          "t('init_module', libc.syscall(175, None, 0, b''))\n"
          "t('ptrace', libc.ptrace(0, 0, None, None))\n"
          "t('unshare_user', libc.unshare(0x10000000))\n"
          "t('bpf', libc.syscall(321, 0, None, 0))\n"
          "t('keyctl', libc.syscall(250, 0, 0, 0, 0, 0))\n"
          "t('reboot', libc.syscall(169, 0xfee1dead, 672274793, 0x1234567, "
          "None))\n"
          # Linux 6.15's open_tree_attr, unknown to our libseccomp: even
          # its plain form (an O_PATH fd, no capability needed) is denied
          "t('open_tree_attr', libc.syscall(467, -100, b'/usr', 0, None, "
          "0))\n"
          # reading the LDT works anywhere it is not denied
          "t('modify_ldt', libc.syscall(154, 0, "
          "ctypes.create_string_buffer(64), 64))\n")
    rc, out, err = run("work", "python3 -", stdin=py.encode())
    res = dict(l.split() for l in out.decode().splitlines())
    assert res and all(v != "ok" for v in res.values()), (res, err)
    assert set(res) == {"mount", "init_module", "ptrace", "unshare_user",
                        "bpf", "keyctl", "reboot", "open_tree_attr",
                        "modify_ldt"}, res


def test_isolation_32bit_abis():
    # the filter's rules are for the x86_64 calls: a 32-bit call (int
    # 0x80) or an x32 one (nr | 0x40000000) has other numbers and must not
    # get past them.  libseccomp kills a caller of another ABI (SIGSYS:
    # shell status 159); either way unshare(CLONE_NEWUSER), denied above,
    # must not succeed.  Machine code in an executable page: mov eax, NR;
    # mov ebx/edi, CLONE_NEWUSER; int 0x80 / syscall; ret.
    if os.uname().machine != "x86_64":
        return
    py = ("import ctypes, mmap, sys\n"
          "m = mmap.mmap(-1, 4096, prot=7)\n"
          "m.write(bytes.fromhex(sys.argv[1]))\n"
          "a = ctypes.addressof(ctypes.c_char.from_buffer(m))\n"
          "print(ctypes.CFUNCTYPE(ctypes.c_int)(a)(), flush=True)\n")
    codes = {"i386": "b836010000" "bb00000010" "cd80" "c3",
             "x32": "b810010040" "bf00000010" "0f05" "c3"}
    for abi, code in codes.items():
        rc, out, err = sh("work", "python3 -c '%s' %s; echo rc=$?" %
                          (py, code))
        lines = out.split()
        assert rc == 0 and lines and lines[-1].startswith("rc="), (
            abi, rc, out, err)
        assert lines[:-1] != ["0"], (abi, out)  # the call succeeded
        if abi == "i386":
            assert lines == ["rc=159"], (abi, out)  # killed by SIGSYS


def test_isolation_proc_and_sys():
    rc, out, _ = sh("work", "echo 1 > /proc/sys/kernel/sysrq 2>&1; "
                    "echo rc=$?; readlink /proc/1/root; "
                    "ls /sys/class/net")
    assert "rc=1" in out, out
    lines = out.split()
    assert lines[-1] == "lo", out  # loopback only


def test_output_goes_through_the_launcher():
    # the qube's init writes to a pipe its launcher drains into the log
    # with a limit a run (logcap.c, unit-tested), never to the host's log
    # file itself, which a qube could grow without end (and whose host
    # path it saw)
    rc, out, _ = sh("work", "readlink /proc/1/fd/1 /proc/1/fd/2")
    lines = out.split()
    assert rc == 0 and len(lines) == 2, (rc, out)
    assert all(l.startswith("pipe:[") for l in lines), out
    # and that pipe is the launcher's: its reading end is open there
    launcher = None
    for p in pids_of("work"):
        ppid, _ = bh._ppid_and_cmd(p)
        if bh._ppid_and_cmd(ppid)[1].split(b"\0")[0].endswith(
                b"bulkhead-sandbox"):
            launcher = ppid
            break
    assert launcher, "no launcher of work's init"
    ends = {os.readlink("/proc/%d/fd/%s" % (launcher, fd))
            for fd in os.listdir("/proc/%d/fd" % launcher)}
    assert lines[0] in ends, (lines, ends)


def test_cgroup_namespace_is_the_qubes():
    # the qube's cgroup namespace is rooted at its own cgroups: it sees
    # them as "/", not by their host paths (/bulkhead-work-PID), and
    # nothing of the hierarchy above them
    rc, out, _ = sh("work", "cat /proc/self/cgroup")
    lines = out.split()
    assert rc == 0 and lines, (rc, out)
    assert all(l.endswith(":/") for l in lines), out
    # while the host sees them in the qube's cgroups (where there are)
    if our_cgroups():
        with open("/proc/%d/cgroup" % pids_of("work")[0]) as f:
            host = f.read()
        assert "/bulkhead-work-" in host, host


def alive_in_proc(pid):
    """pid exists and has not exited (not a zombie)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def test_cgroups_hold_the_whole_qube():
    # every process of the qube is in each of its cgroups (memory, pids,
    # cpu, freezer: all the hierarchies the host has): its init joins
    # them itself, as one thread (see qcgroup.c), before anything forks
    cgs = [c for c in our_cgroups() if cgroup_of(c, "work")]
    if not cgs:
        print("# no cgroup controllers here: nothing to check")
        return
    rc, _, _ = sh("work", "sleep 30 >/dev/null 2>&1 &")
    assert rc == 0
    pids = set(pids_of("work"))
    assert len(pids) >= 3, pids  # init, the agent, the sleep at least
    for c in cgs:
        with open(os.path.join(c, "cgroup.procs")) as f:
            inside = {int(x) for x in f.read().split()}
        # a process that ended since (a zombie is no longer listed in
        # cgroup.procs, until its parent reaps it: the shell that started
        # the sleep) is not a process outside
        gone = {p for p in pids - inside if not alive_in_proc(p)}
        assert pids - inside - gone == set(), (c, pids, inside)
    sh("work", "pkill -x sleep")


def test_isolation_host_sockets():
    # an abstract socket on the host is not reachable (network namespace)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind("\0bulkhead-test-abstract")
    srv.listen(1)
    try:
        py = ("import socket\ns = socket.socket(socket.AF_UNIX)\n"
              "try:\n s.connect('\\0bulkhead-test-abstract'); print('reached')\n"
              "except OSError as e: print('refused', e.errno)\n")
        rc, out, _ = run("work", "python3 -", stdin=py.encode())
        assert b"refused" in out, out
    finally:
        srv.close()
    # nor are bulkheadd's sockets: they are not in the qube's filesystem
    rc, out, _ = sh("work", "ls /run; ls %s 2>&1" % D.run)
    assert "qubesd.sock" not in out and "No such file" in out, out


def test_channel_directory_is_bounded():
    """A qube's channel directory (in bulkheadd's run directory: /run on
    a host) is its own small tmpfs: a qube that fills it loses its own
    calls, not the host's /run, and another qube's calls go on."""
    for n in ("work", "other"):
        if D.qubes()[n]["state"] == "Halted":
            D.call("admin.vm.Start", n)
    xid = D.prop("work", "xid")[0]
    host = os.path.join(D.run, "vchan", xid)
    st = os.statvfs(host)
    assert st.f_blocks * st.f_frsize == 1 << 20, st
    assert 0 < st.f_files <= 4096, st
    # space: a file stops at the size
    rc, out, err = sh("work", "head -c 4M /dev/zero >/run/qubes-vchan/fill; "
                      "echo rc=$?; wc -c </run/qubes-vchan/fill")
    assert "rc=1" in out and "No space left" in err, (out, err)
    assert int(out.split()[-1]) <= 1 << 20, out
    assert os.path.getsize(os.path.join(host, "fill")) <= 1 << 20
    # the qube's calls still work: a channel is a socket, no blocks
    rc, out, _ = sh("work", "echo alive")
    assert out == "alive\n", out
    # inodes: the qube makes files until there are none left
    py = ("import os\nn = 0\n"
          "try:\n"
          " while True:\n"
          "  open('/run/qubes-vchan/f%d' % n, 'w').close(); n += 1\n"
          "except OSError as e: print(n, e.errno)\n")
    rc, out, _ = run("work", "python3 -", stdin=py.encode())
    made, errno_ = out.split()
    assert 4000 < int(made) < 4096 and int(errno_) == 28, out
    assert st.f_fsid != os.statvfs(D.run).f_fsid and os.path.ismount(host)
    # the other qube's calls go on (and this one's: a call's channel
    # socket goes as soon as it is connected, freeing its inode)
    rc, out, _ = sh("other", "echo alive")
    assert out == "alive\n", out
    for f in os.listdir(host):
        if f.startswith("f") or f == "fill":
            os.unlink(os.path.join(host, f))
    rc, out, _ = sh("work", "echo alive")
    assert out == "alive\n", out
    D.call("admin.vm.Shutdown", "work", "wait")
    nothing_left(["work"])
    assert not os.path.exists(host), host


def test_qrexec_workers_have_ids_of_their_own():
    """Each running qube's qrexec-daemon worker (what reads its channel)
    runs as the last id of that qube's range: no two qubes' alike."""
    for n in ("work", "other"):
        if D.qubes()[n]["state"] == "Halted":
            D.call("admin.vm.Start", n)
    # a worker is its monitor's child, with the monitor's command line:
    # ... DOMID NAME DEFAULT_USER
    ids = {}
    for p, ppid in bh.programs(D, "qrexec-daemon"):
        if ppid == D.proc.pid:
            continue
        with open("/proc/%d/cmdline" % p, "rb") as f:
            name = f.read().split(b"\0")[-3].decode()
        st = bh.proc_status(p)
        ids.setdefault(name, []).append(st["Uid"].split()[0])
        want = str(1000000 + qid(name) * 65536 + 65535)
        assert st["Uid"].split() == [want] * 4, (name, st["Uid"])
        assert st["Gid"].split() == [want] * 4, (name, st["Gid"])
        assert st["Groups"] == "" and st["Seccomp"] == "2", st
    assert len(ids["work"]) == 1 and len(ids["other"]) == 1, ids
    assert ids["work"] != ids["other"], ids
    rc, out, _ = sh("work", "echo alive")
    assert out == "alive\n", out


def test_qubes_get_none_of_bulkheadds_stdin():
    # bulkheadd run by hand has the admin's terminal as its stdin; a
    # qube's launcher and init (and so the qube) get /dev/null, and hold
    # nothing that is bulkheadd's stdin
    if D.qubes()["work"]["state"] != "Running":
        D.call("admin.vm.Start", "work")
    ours = os.readlink("/proc/%d/fd/0" % D.proc.pid)
    assert ours.startswith("pipe:"), ours
    launchers = [p for p, _ in bh.programs(D, "bulkhead-sandbox")]
    # each launcher's child: the qube's init
    inits = []
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open("/proc/%s/stat" % e) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid in launchers:
                inits.append(int(e))
    assert inits and launchers, (inits, launchers)
    for p in inits + launchers:
        # (a path seen from the qube's root: compare the device)
        st, null = os.stat("/proc/%d/fd/0" % p), os.stat("/dev/null")
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == null.st_rdev, \
            (p, os.readlink("/proc/%d/fd/0" % p))
        for fd in os.listdir("/proc/%d/fd" % p):
            try:
                assert os.readlink("/proc/%d/fd/%s" % (p, fd)) != ours, \
                    (p, fd)
            except FileNotFoundError:
                pass


def test_private_symlinks_stay_inside():
    # /rw is the qube's own: a symlink it leaves there (/rw/home -> /) was
    # followed by the launcher at the next start, against the host's root,
    # and bound the host's whole tree at /home, writable where the host's
    # is world-writable.  Now /rw/home is bound only if no symlink leads to
    # it; the qube starts with its root's own /home.
    D.create("AppVM", "sbxhome", "red")
    qid("sbxhome")
    D.call("admin.vm.Start", "sbxhome")
    marker = "sbx-escape-%d" % os.getpid()
    rc, out, err = sh("sbxhome", "mv /rw/home /rw/home.real && "
                      "ln -s / /rw/home && ls -ld /rw/home")
    assert rc == 0 and "-> /" in out, (rc, out, err)
    D.call("admin.vm.Shutdown", "sbxhome", "wait")
    D.call("admin.vm.Start", "sbxhome")
    try:
        rc, out, err = sh("sbxhome", "ls -A /home; ls -d /home/proc/1 "
                          "/home%s 2>&1; touch /home/tmp/%s 2>&1; "
                          "echo rc=$?" % (D.root, marker))
        assert not os.path.exists("/tmp/" + marker), out
        assert "No such file" in out and "rc=1" in out, out
        assert "usr" not in out.split() and "etc" not in out.split(), out
        with open(os.path.join(D.state, "log", "sbxhome.log")) as f:
            assert "a symlink, not bound at /home" in f.read()
    finally:
        if os.path.exists("/tmp/" + marker):
            os.unlink("/tmp/" + marker)
    D.call("admin.vm.Shutdown", "sbxhome", "wait")
    nothing_left(["sbxhome"])
    D.call("admin.vm.Remove", "sbxhome")


def qrexec_vm(qube, target, service):
    """qrexec-client-vm in qube: its output, then "rc=N".  (It shuts its
    stdout down at the end, as Qubes' does: the shell's echo would get
    SIGPIPE, so the output goes through a file.)"""
    return sh(qube, "qrexec-client-vm %s %s </dev/null >/tmp/qo; r=$?; "
              "cat /tmp/qo; echo rc=$r" % (target, service))


def poll_rc(qube, target, service, want, what, timeout=20):
    """qrexec_vm() until its output ends with want (the policy daemon
    reloads on change, a little later): the last output."""
    deadline = time.monotonic() + timeout
    while True:
        rc, out, err = qrexec_vm(qube, target, service)
        if out.endswith(want) or time.monotonic() > deadline:
            assert out.endswith(want), (what, rc, out, err)
            return out
        time.sleep(0.1)


def test_admin_api_from_a_qube():
    # a qube's admin.* calls are qrexec calls: bulkhead's default policy
    # denies them; a grant opens exactly what it names
    import shutil
    if D.qubes()["work"]["state"] == "Halted":
        D.call("admin.vm.Start", "work")
    # a dom0 service the copied policy allows (qubes.GetDate, to dom0):
    # once it answers, that policy is the one in force
    rpc0 = os.path.join(D.conf, "qubes-rpc-dom0")
    os.makedirs(rpc0, exist_ok=True)
    with open(os.path.join(rpc0, "qubes.GetDate"), "w") as f:
        f.write("#!/bin/sh\necho date-from-dom0\n")
    os.chmod(os.path.join(rpc0, "qubes.GetDate"), 0o755)
    rc, out, _ = qrexec_vm("work", "dom0", "qubes.GetDate")
    assert out.endswith("rc=126\n") and "date-from" not in out, out
    repo_policy = os.path.join(os.path.dirname(__file__), "..", "..",
                               "policy.d")
    pol = os.path.join(D.conf, "policy.d")
    for f in os.listdir(repo_policy):
        src = os.path.join(repo_policy, f)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(pol, f), dirs_exist_ok=True)
        else:
            shutil.copy(src, pol)
    poll_rc("work", "dom0", "qubes.GetDate", "date-from-dom0\nrc=0\n",
            "the copied policy")
    rc, out, _ = qrexec_vm("work", "dom0", "admin.vm.List")
    assert out.endswith("rc=126\n") and "class=" not in out, out
    with open(os.path.join(pol, "30-admin-test.policy"), "w") as f:
        f.write("admin.vm.List * work @adminvm allow target=dom0\n"
                "admin.vm.List * work work allow target=dom0\n")
    out = poll_rc("work", "dom0", "admin.vm.List", "rc=0\n", "the grant")
    # the list holds what the policy lets work ask about (as Qubes
    # filters it): dom0 and work itself, not the other qube
    out = out.replace("\0", "\n")
    assert "\ndom0 class=AdminVM" in out and "\nwork class=AppVM" in out, out
    assert "\nother class=" not in out, out
    # and nothing more: another qube is not the caller's to stop
    rc, out, err = qrexec_vm("work", "other", "admin.vm.Shutdown")
    assert out.endswith("rc=126\n"), (rc, out, err)
    assert D.qubes()["other"]["state"] == "Running"
    os.unlink(os.path.join(pol, "30-admin-test.policy"))
    os.unlink(os.path.join(rpc0, "qubes.GetDate"))


def test_admin_tools_in_a_management_qube():
    """A management qube (feature admin-tools) runs the qvm-* tools; each
    of their calls is a qrexec call under policy (as Qubes' admin client
    in a management qube), so it sees and reads only what the policy
    grants it, and the rest is refused."""
    D.create("AppVM", "mgmt", "blue")
    D.call("admin.vm.feature.Set", "mgmt", "admin-tools", "1")
    D.call("admin.vm.tag.Set", "other", "managed")
    pol = os.path.join(D.conf, "policy.d", "30-mgmt.policy")
    with open(pol, "w") as f:
        f.write("admin.vm.List * mgmt @adminvm allow target=dom0\n"
                "admin.vm.List * mgmt @tag:managed allow target=dom0\n"
                "admin.vm.property.Get * mgmt @tag:managed allow "
                "target=dom0\n")
    try:
        D.call("admin.vm.Start", "mgmt")
        # the policy daemon reloads a little after the file changed
        deadline = time.monotonic() + 20
        while True:
            rc, out, err = sh("mgmt", "qvm-ls --raw-list")
            if "other" in out.split() or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert rc == 0 and set(out.split()) == {"dom0", "other"}, \
            (rc, out, err)
        rc, out, err = sh("mgmt", "qvm-prefs other label")
        assert rc == 0 and out == "green\n", (rc, out, err)
        # not granted: work is not the management qube's, not even
        # listed (as Qubes' admin client says it in a management qube)
        rc, out, err = sh("mgmt", "qvm-prefs work label")
        assert rc != 0 and "red" not in out and \
            "no such domain" in err, (rc, out, err)
        rc, out, err = sh("mgmt", "qvm-prefs other label purple")
        assert rc == 1 and D.prop("other", "label")[0] == "green", \
            (rc, out, err)
        # qvm-run: the call to the managed qube is the management
        # qube's own (qrexec-client-vm), under the policy
        with open(pol, "a") as f:
            f.write("admin.vm.Start * mgmt @tag:managed allow "
                    "target=dom0\n"
                    "admin.vm.feature.CheckWithTemplate * mgmt @tag:managed "
                    "allow target=dom0\n"
                    "qubes.VMShell * mgmt @tag:managed allow\n")
        deadline = time.monotonic() + 20
        while True:
            rc, out, err = sh("mgmt", "qvm-run --pass-io other "
                              "'echo in-$(hostname)'")
            if rc == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert rc == 0 and out == "in-other\n", (rc, out, err)
        rc, out, err = sh("mgmt", "qvm-run --pass-io work 'echo no'")
        assert rc != 0 and "no" not in out.split(), (rc, out, err)
        # a qube without the feature has no such tools
        rc, out, err = sh("work", "command -v qvm-ls || echo none")
        assert out.strip() == "none", (rc, out, err)
    finally:
        os.unlink(pol)
        D.call("admin.vm.Kill", "mgmt")
        D.call("admin.vm.tag.Remove", "other", "managed")
        D.call("admin.vm.Remove", "mgmt")


def test_ask_goes_to_the_policy_agent():
    # bulkheadd's policy daemon asks the agent at RUN/policy-agent.sock:
    # the user confirms (or refuses) a call on the agent's terminal
    import pty
    import select
    import threading
    agent_sock = os.path.join(D.run, "policy-agent.sock")
    echo_service()
    with open(os.path.join(D.conf, "policy.d", "20-ask.policy"), "w") as f:
        f.write("test.Echo * work other ask default_target=other\n")
    pid, master = pty.fork()
    if pid == 0:
        os.execv(os.path.join(bh.BIN, "policy", "bulkhead-policy-agent"),
                 ["bulkhead-policy-agent", "--socket", agent_sock])
    try:
        bh.wait_for(lambda: os.path.exists(agent_sock), "the agent")
        time.sleep(0.5)  # the policy reload
        for q in ("work", "other"):
            if D.qubes()[q]["state"] == "Halted":
                D.call("admin.vm.Start", q)

        def screen_until(marker):
            buf = b""
            deadline = time.monotonic() + 30
            while marker not in buf and time.monotonic() < deadline:
                r, _, _ = select.select([master], [], [], 1)
                if r:
                    buf += os.read(master, 4096)
            return buf
        for answer, expect in ((b"\n", "in=other from=work\nx\n"),
                               (b"n\n", "rc=126\n")):
            box = {}
            # (qrexec-client-vm shuts its stdout down at the end, as
            # Qubes' does: a socket shared with this shell)
            t = threading.Thread(target=lambda: box.update(r=sh(
                "work", "echo x | qrexec-client-vm other test.Echo >/tmp/o;"
                " r=$?; cat /tmp/o; [ $r = 0 ] || echo rc=$r")))
            t.start()
            screen = screen_until(b"n to deny: ")
            assert b"work wants to call test.Echo" in screen, screen
            os.write(master, answer)
            t.join(60)
            assert box["r"][1] == expect, (answer, box)
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(master)
        os.unlink(os.path.join(D.conf, "policy.d", "20-ask.policy"))


def test_pids_limit():
    # a fork bomb stops at the qube's pids limit (4096 by default); the
    # agent made the service a session leader, so killpg(0) takes it all
    py = ("import os\n"
          "n = 0\n"
          "try:\n"
          "    while n < 20000:\n"
          "        if os.fork() == 0:\n"
          "            os.execv('/bin/sleep', ['sleep', '60'])\n"
          "        n += 1\n"
          "except OSError as e:\n"
          "    print('stopped', n, e.errno, flush=True)\n"
          "os.killpg(0, 9)\n")
    rc, out, _ = run("work", "python3 -", stdin=py.encode(), timeout=120)
    assert b"stopped" in out, out
    n = int(out.split()[1])
    assert n < 4200 and out.split()[2] == b"11", out  # EAGAIN
    # the other qube is fine
    rc, out, _ = sh("other", "echo alive")
    assert rc == 0 and out == "alive\n", (rc, out)


def test_memory_limit():
    D.call("admin.vm.Shutdown", "work", "wait")
    D.call("admin.vm.property.Set", "work", "maxmem", "96")
    D.call("admin.vm.Start", "work")
    rc, out, _ = run("work", "python3 -c 'b = bytearray(400 * 1024 * 1024); "
                     "print(len(b))'", timeout=120)
    assert rc != 0 and b"419430400" not in out, (rc, out)
    rc, out, _ = sh("other", "echo alive")
    assert rc == 0 and out == "alive\n", (rc, out)
    D.call("admin.vm.Shutdown", "work", "wait")
    D.call("admin.vm.property.Reset", "work", "maxmem")
    D.call("admin.vm.Start", "work")


def freezer_states(name):
    """The freeze state of qube name's cgroups: ("v1", freezer.state) for
    each under the v1 freezer, ("v2", "frozen 0|1") for each on a cgroup2
    mount."""
    found = []
    with open("/proc/mounts") as f:
        mounts = [l.split() for l in f]
    for _, where, fstype, opts, *_ in mounts:
        v1 = fstype == "cgroup" and "freezer" in opts.split(",")
        if not v1 and fstype != "cgroup2":
            continue
        for root, dirs, files in os.walk(where):
            if not cgroup_of(root, name):
                continue
            if v1:
                with open(os.path.join(root, "freezer.state")) as f:
                    found.append(("v1", f.read().strip()))
            elif "cgroup.events" in files:
                with open(os.path.join(root, "cgroup.events")) as f:
                    found += [("v2", l.strip()) for l in f
                              if l.startswith("frozen ")]
    return found


def test_pause():
    if D.qubes()["work"]["state"] == "Halted":
        D.call("admin.vm.Start", "work")
    D.call("admin.vm.Pause", "work")
    assert D.qubes()["work"]["state"] == "Paused"
    # frozen by a cgroup freezer: v1's, where there is one for the qube,
    # else cgroup2's; a qube found in neither fails
    states = freezer_states("work")
    v1 = [st for v, st in states if v == "v1"]
    v2 = [st for v, st in states if v == "v2"]
    assert v1 or v2, "no freezer cgroup of work found: %s" % our_cgroups()
    if v1:
        assert set(v1) == {"FROZEN"}, states
    else:
        assert set(v2) == {"frozen 1"}, states
    D.call("admin.vm.Unpause", "work")
    rc, out, _ = sh("work", "echo thawed")
    assert out == "thawed\n", out
    states = freezer_states("work")
    assert ("v1", "FROZEN") not in states and ("v2", "frozen 1") not in \
        states, states


def test_init_dies():
    launcher = None
    for pid in pids_of("work"):
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() == "bulkhead-init":
                    launcher = pid
        except OSError:
            pass
    assert launcher, "no init found for work"
    os.kill(launcher, signal.SIGKILL)
    bh.wait_for(lambda: D.qubes()["work"]["state"] == "Halted", "halt")
    nothing_left(["work"])
    assert D.qubes()["other"]["state"] == "Running"


def launcher_of(name):
    """The pid of qube name's launcher (bulkhead-sandbox)."""
    def cmdline(pid):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                return f.read()
        except OSError:
            return b""
    want = b"bulkhead-sandbox\0--name=%s\0" % name.encode()
    launcher = [int(p) for p in os.listdir("/proc") if p.isdigit() and
                cmdline(p).startswith(want)]
    assert len(launcher) == 1, launcher
    return launcher[0]


def test_launcher_killed():
    # SIGKILL to the qube's supervisor: the qube goes with it (its
    # parent-death signal survives the change to the qube's ids), and
    # bulkheadd releases what the launcher could not (its cgroups)
    D.call("admin.vm.Start", "work")
    os.kill(launcher_of("work"), signal.SIGKILL)
    bh.wait_for(lambda: D.qubes()["work"]["state"] == "Halted", "halt")
    nothing_left(["work"])
    assert D.qubes()["other"]["state"] == "Running"


def as_nobody(*argv):
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup",
                           "--clear-groups"] + list(argv),
                          capture_output=True, timeout=30)


def test_qrexec_sockets_closed_to_host_users():
    # the qrexec daemons' sockets run commands in qubes: no host user but
    # root (and the bulkhead group) may reach them.  RUN/qrexec's mode is
    # the gate; our temp root (0700) would stop nobody before it, so it is
    # opened for this test
    if D.qubes()["other"]["state"] == "Halted":
        D.call("admin.vm.Start", "other")
    d = os.path.join(D.run, "qrexec")
    assert os.path.exists(os.path.join(d, "qrexec.other"))
    assert os.stat(d).st_mode & 0o007 == 0, oct(os.stat(d).st_mode)
    mode = os.stat(D.root).st_mode & 0o7777
    os.chmod(D.root, 0o755)
    try:
        # RUN itself is open to nobody: it is RUN/qrexec that refuses
        p = as_nobody("ls", D.run)
        assert p.returncode == 0 and b"qrexec" in p.stdout.split(), p
        p = as_nobody(os.path.join(bh.BIN, "qrexec-client"),
                      "--socket-dir=" + d, "-d", "other",
                      "root:echo reached")
    finally:
        os.chmod(D.root, mode)
    assert p.returncode != 0 and b"reached" not in p.stdout, p
    assert p.stderr == b"qrexec-client: other: Permission denied\n", p
    # root's call there works
    rc, out, _ = sh("other", "echo reached")
    assert rc == 0 and out == "reached\n", (rc, out)


def test_shutdown_timeout_kills():
    D.call("admin.vm.property.Set", "work", "shutdown_timeout", "1")
    D.call("admin.vm.Start", "work")
    # a process that ignores SIGTERM, in its own session
    run("work", "setsid sh -c 'trap \"\" TERM; sleep 300' >/dev/null 2>&1 "
        "</dev/null &")
    D.call("admin.vm.Shutdown", "work", "force+wait")
    assert D.qubes()["work"]["state"] == "Halted"
    nothing_left(["work"])


def trash():
    """What bulkheadd renamed aside to remove in the background."""
    return [os.path.join(d, e)
            for d in (os.path.join(D.state, "qubes"),
                      os.path.join(D.run, "qubes"),
                      os.path.join(D.run, "vchan"))
            for e in os.listdir(d) if e.startswith(".removed-")]


def test_disposable():
    D.create("AppVM", "dvm", "red")
    qid("dvm")
    D.call("admin.vm.property.Set", "dvm", "template_for_dispvms", "True")
    D.call("admin.vm.Start", "dvm")
    sh("dvm", "echo from-dvm > /rw/seed")
    D.call("admin.vm.Shutdown", "dvm", "wait")
    name = D.call("admin.vm.CreateDisposable", "dvm")
    qid(name)
    D.call("admin.vm.Start", name)
    rc, out, _ = sh(name, "cat /rw/seed; echo changed > /rw/seed; hostname")
    assert out == "from-dvm\n%s\n" % name, out
    D.call("admin.vm.Kill", name)
    bh.wait_for(lambda: name not in D.qubes(), "disposable removed")
    assert not os.path.exists(os.path.join(D.state, "qubes", name))
    nothing_left([name])
    # what was renamed aside at the halt (volatile, runtime and channel
    # directories, the qube's own) is removed in the background: soon
    bh.wait_for(lambda: trash() == [], "the removed directories gone")
    # nor its logs: nothing of a disposable stays on disk
    logs = [f for f in os.listdir(os.path.join(D.state, "log"))
            if f.startswith(name + ".")]
    assert logs == [], logs
    # the DVM template's private is untouched
    D.call("admin.vm.Start", "dvm")
    rc, out, _ = sh("dvm", "cat /rw/seed")
    assert out == "from-dvm\n", out
    D.call("admin.vm.Kill", "dvm")


def private_snaps(dvm):
    """The snapshots of dvm's private volume, oldest first."""
    d = os.path.join(D.state, "qubes", dvm)
    return sorted((e for e in os.listdir(d)
                   if re.fullmatch(r"private\.snap-\d+", e)),
                  key=lambda e: int(e.rsplit("-", 1)[1]))


def test_disposable_gets_the_dvm_templates_last_shutdown():
    # Qubes' rule: a disposable's private is its DVM template's as it was
    # when that last shut down; never what a running DVM template is
    # writing, and a running disposable's never changes under it
    if D.qubes()["dvm"]["state"] != "Halted":
        D.call("admin.vm.Shutdown", "dvm", "wait")
    D.call("admin.vm.Start", "dvm")
    sh("dvm", "echo one > /rw/v")
    D.call("admin.vm.Shutdown", "dvm", "wait")

    def newest_holds(text):
        snaps = private_snaps("dvm")
        try:
            with open(os.path.join(D.state, "qubes", "dvm", snaps[-1],
                                   "v")) as f:
                return f.read() == text
        except (OSError, IndexError):  # no snapshot (yet), or no file
            return False
    bh.wait_for(lambda: newest_holds("one\n"), "the DVM template's snapshot")
    # a run that changes nothing in its private: no copy, the same one
    before = private_snaps("dvm")[-1]  # older ones may still be going
    D.call("admin.vm.Start", "dvm")
    D.call("admin.vm.Shutdown", "dvm", "wait")
    log = os.path.join(D.root, "bulkheadd.log")

    def no_copy_lines():
        with open(log) as f:
            return f.read().count("dvm: its private is as at its last "
                                  "snapshot: no copy")
    bh.wait_for(lambda: no_copy_lines() >= 1, "the unchanged private seen")
    assert private_snaps("dvm")[-1] == before, (private_snaps("dvm"), before)
    D.call("admin.vm.Start", "dvm")
    rc, out, err = sh("dvm", "echo two > /rw/v && sync && cat /rw/v")
    assert out == "two\n", (rc, out, err)
    d1 = D.call("admin.vm.CreateDisposable", "dvm")
    qid(d1)
    D.call("admin.vm.Start", d1)
    rc, out, err = sh(d1, "cat /rw/v")
    assert out == "one\n", (rc, out, err)
    snap1 = private_snaps("dvm")[-1]
    # the DVM template halts: a new snapshot; d1 keeps the one it has
    D.call("admin.vm.Shutdown", "dvm", "wait")
    bh.wait_for(lambda: private_snaps("dvm")[-1] != snap1,
                "a new snapshot after the DVM template's halt")
    snap2 = private_snaps("dvm")[-1]
    rc, out, err = sh(d1, "cat /rw/v")
    assert out == "one\n", (rc, out, err)
    assert snap1 in private_snaps("dvm"), private_snaps("dvm")
    d2 = D.call("admin.vm.CreateDisposable", "dvm")
    qid(d2)
    D.call("admin.vm.Start", d2)
    rc, out, err = sh(d2, "cat /rw/v")
    assert out == "two\n", (rc, out, err)
    # d1 gone: nothing uses its snapshot any more
    D.call("admin.vm.Kill", d1)
    bh.wait_for(lambda: snap1 not in private_snaps("dvm"),
                "the snapshot d1 ran over removed")
    # a restarted bulkheadd still knows which snapshot d2 runs over
    D.stop(signal.SIGKILL)
    D.start()
    assert D.qubes()[d2]["state"] == "Running"
    D.call("admin.vm.Start", "dvm")
    sh("dvm", "echo three > /rw/v")
    D.call("admin.vm.Shutdown", "dvm", "wait")
    bh.wait_for(lambda: private_snaps("dvm")[-1] not in (snap1, snap2),
                "a third snapshot")
    assert snap2 in private_snaps("dvm"), private_snaps("dvm")
    rc, out, err = sh(d2, "cat /rw/v")
    assert out == "two\n", (rc, out, err)
    D.call("admin.vm.Kill", d2)
    bh.wait_for(lambda: private_snaps("dvm") == [private_snaps("dvm")[-1]],
                "only the newest snapshot left")
    d3 = D.call("admin.vm.CreateDisposable", "dvm")
    qid(d3)
    D.call("admin.vm.Start", d3)
    rc, out, err = sh(d3, "cat /rw/v")
    assert out == "three\n", (rc, out, err)
    D.call("admin.vm.Kill", d3)
    # a DVM template never started: its first disposable starts over a
    # snapshot of its (new, empty) private too, so the DVM template's
    # first run does not write under it
    D.create("AppVM", "dvm2", "red")
    qid("dvm2")  # known after its removal, for nothing_left()
    D.call("admin.vm.property.Set", "dvm2", "template_for_dispvms", "True")
    d4 = D.call("admin.vm.CreateDisposable", "dvm2")
    qid(d4)
    D.call("admin.vm.Start", d4)
    assert private_snaps("dvm2") == ["private.snap-1"], private_snaps("dvm2")
    D.call("admin.vm.Start", "dvm2")
    sh("dvm2", "echo first-run > /rw/v")
    rc, out, err = sh(d4, "cat /rw/v 2>&1; true")
    assert "first-run" not in out, (rc, out, err)
    D.call("admin.vm.Kill", d4)
    bh.wait_for(lambda: all(n not in D.qubes() for n in (d1, d2, d3, d4)),
                "the disposables removed")
    # a DVM template is not removed while its snapshot is being copied
    # (300 MiB: the copy takes a while after the halt)
    sh("dvm2", "head -c 300M /dev/zero > /rw/big && sync")
    D.call("admin.vm.Kill", "dvm2")
    expect_exc("QubesVMError", D.call, "admin.vm.Remove", "dvm2")
    # bulkheadd killed during that copy: its cp dies with it, and the
    # next bulkheadd takes the snapshot again from the start
    d2dir = os.path.join(D.state, "qubes", "dvm2")
    bh.wait_for(lambda: "private.snap-2.new" in os.listdir(d2dir),
                "the copy under way")
    D.stop(signal.SIGKILL)

    def copiers():
        out = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if d2dir.encode() in f.read():
                        out.append(pid)
            except OSError:
                pass
        return out
    bh.wait_for(lambda: not copiers(), "the copy gone with bulkheadd")
    # cut short, not finished by a cp left behind
    big = os.path.join(d2dir, "private.snap-2.new", "big")
    assert not os.path.exists(big) or os.path.getsize(big) < 300 << 20
    D.start()
    # taken: the new one there, the old one (nobody uses it) gone
    bh.wait_for(lambda: private_snaps("dvm2") == ["private.snap-2"] and
                "private.snap-2.new" not in os.listdir(d2dir),
                "the snapshot taken again", 60)
    assert os.path.getsize(os.path.join(d2dir, "private.snap-2", "big")) \
        == 300 << 20
    # no DVM template any more: its snapshots go
    D.call("admin.vm.property.Set", "dvm2", "template_for_dispvms", "False")
    bh.wait_for(lambda: private_snaps("dvm2") == [],
                "the snapshots of a DVM template no more removed")
    # made one again while it runs: nothing to start over until it halts
    # (Qubes: the volume as it last shut down); its live tree is never
    # copied (root's cp would walk paths the qube changes under it)
    if D.qubes()["dvm2"]["state"] != "Running":
        D.call("admin.vm.Start", "dvm2")
    D.call("admin.vm.property.Set", "dvm2", "template_for_dispvms", "True")
    d5 = D.call("admin.vm.CreateDisposable", "dvm2")
    qid(d5)
    e = expect_exc("QubesVMError", D.call, "admin.vm.Start", d5)
    assert "no snapshot of its private volume yet" in e.msg, e.msg
    assert private_snaps("dvm2") == [], private_snaps("dvm2")
    sh("dvm2", "echo at-halt > /rw/v && sync")
    D.call("admin.vm.Shutdown", "dvm2", "wait")
    D.call("admin.vm.Start", d5)
    rc, out, err = sh(d5, "cat /rw/v")
    assert rc == 0 and out == "at-halt\n", (rc, out, err)
    D.call("admin.vm.Kill", d5)
    bh.wait_for(lambda: d5 not in D.qubes(), "the disposable removed")
    D.call("admin.vm.property.Set", "dvm2", "template_for_dispvms", "False")
    bh.wait_for(lambda: private_snaps("dvm2") == [],
                "the snapshots of a DVM template no more removed")
    D.call("admin.vm.Remove", "dvm2")
    nothing_left([d1, d2, d3, d4, d5, "dvm2"])


def host_bytes(top):
    """Bytes of the files under top, as the host's filesystem has them."""
    n = 0
    for root, dirs, files in os.walk(top):
        for f in files:
            try:
                n += os.lstat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return n


def test_disposable_writes_stay_off_the_host_disk():
    # what a disposable writes (its private's upper layer, in its volatile
    # area) is on a tmpfs of its launcher, counted in its memory: never on
    # the host's filesystem, and at most half its memory limit (ENOSPC)
    name = D.call("admin.vm.CreateDisposable", "dvm")
    qid(name)
    try:
        D.call("admin.vm.property.Set", name, "maxmem", "96")
        D.call("admin.vm.Start", name)
        vol = os.path.join(D.state, "qubes", name, "volatile")
        assert os.path.isdir(vol)
        rc, out, err = sh(name, "dd if=/dev/zero of=/rw/fill bs=1M count=24 "
                          "2>/dev/null && wc -c < /rw/fill")
        assert rc == 0 and out == "%d\n" % (24 << 20), (rc, out, err)
        assert host_bytes(vol) < (1 << 20), host_bytes(vol)
        # more than it may hold: refused, the qube's own problem
        rc, out, err = sh(name, "dd if=/dev/zero of=/rw/big bs=1M count=200 "
                          "2>&1; echo rc=$?")
        assert "No space left" in out and "rc=0" not in out, (out, err)
        rc, out, _ = sh(name, "rm /rw/big; echo still here")
        assert rc == 0 and out == "still here\n", (rc, out)
        assert host_bytes(vol) < (1 << 20), host_bytes(vol)
        if D.qubes()["other"]["state"] == "Halted":
            D.call("admin.vm.Start", "other")
        rc, out, _ = sh("other", "echo alive")
        assert rc == 0 and out == "alive\n", (rc, out)
    finally:
        D.call("admin.vm.Kill", name)
        bh.wait_for(lambda: name not in D.qubes(), "disposable removed")
    nothing_left([name])


def test_dispvm_call_and_autostart():
    # a qube calls "@dispvm:dvm": a disposable is made, serves the call,
    # and is gone afterwards; a call to a halted qube starts it
    echo_service()
    with open(os.path.join(D.conf, "policy.d", "30-test.policy"), "w") as f:
        f.write("test.Echo * work @dispvm:dvm allow\n"
                "test.Echo * work @dispvm allow\n"
                "test.Echo * work other allow\n")
    D.call("admin.vm.property.Set", "work", "default_dispvm", "dvm")
    for q in ("work", "other"):  # services are seen at start
        if D.qubes()[q]["state"] != "Halted":
            D.call("admin.vm.Shutdown", q, "wait")
    D.call("admin.vm.Start", "work")
    before = set(D.qubes())
    for target in ("@dispvm:dvm", "@dispvm"):
        rc, out, err = sh("work", "echo payload | qrexec-client-vm %s "
                          "test.Echo" % target)
        assert rc == 0, (rc, out, err)
        lines = out.splitlines()
        assert lines[0].startswith("in=disp") and \
            lines[0].endswith(" from=work") and lines[1] == "payload", out
        disp = lines[0].split()[0][3:]
        bh.wait_for(lambda: disp not in D.qubes(), "disposable removed")
        assert not os.path.exists(os.path.join(D.state, "qubes", disp))
        assert set(D.qubes()) == before, set(D.qubes()) ^ before
    # not allowed: no disposable is made
    rc, out, err = sh("work", "qrexec-client-vm @dispvm:dvm test.Other; "
                      "echo rc=$?")
    assert "rc=126" in out, (out, err)
    assert set(D.qubes()) == before
    # autostart
    assert D.qubes()["other"]["state"] == "Halted"
    rc, out, err = sh("work", "echo x | qrexec-client-vm other test.Echo")
    assert rc == 0 and out == "in=other from=work\nx\n", (rc, out, err)
    assert D.qubes()["other"]["state"] == "Running"


def monitor_of(name):
    """The qrexec-daemon monitor of qube name: bulkheadd's child whose
    command line ends DOMID NAME DEFAULT_USER."""
    mon = []
    for p, ppid in bh.programs(D, "qrexec-daemon"):
        with open("/proc/%d/cmdline" % p, "rb") as f:
            if ppid == D.proc.pid and \
                    f.read().split(b"\0")[-3] == name.encode():
                mon.append(p)
    assert len(mon) == 1, mon
    return mon[0]


def test_calls_are_confined_as_the_callers_id():
    """A call's process on the admin side (a child of the calling qube's
    monitor) relays the data as the caller's worker id, confined, not as
    root."""
    want = str(1000000 + qid("work") * 65536 + 65535)
    mon = monitor_of("work")
    # a call from work to other that lasts while its input does
    rc, out, err = sh("work", "{ sleep 4 | qrexec-client-vm other test.Echo "
                      ">/tmp/held 2>&1; } </dev/null >/dev/null 2>&1 &")
    assert rc == 0, (rc, out, err)
    kids = []

    def two_confined():
        kids[:] = [p for p, ppid in bh.programs(D, "qrexec-daemon")
                   if ppid == mon]
        try:
            return len(kids) == 2 and all(
                bh.proc_status(p)["Seccomp"] == "2" for p in kids)
        except OSError:
            return False
    bh.wait_for(two_confined, "the worker and a confined call process")
    for p in kids:
        st = bh.proc_status(p)
        assert st["Uid"].split() == [want] * 4, st["Uid"]
        assert st["Gid"].split() == [want] * 4, st["Gid"]
        assert st["Groups"] == "" and st["NoNewPrivs"] == "1", st
        assert st["CapEff"] == "0000000000000000", st
    bh.wait_for(lambda: len([p for p, ppid in bh.programs(D, "qrexec-daemon")
                             if ppid == mon]) == 1, "the call's end", 30)
    rc, out, err = sh("work", "cat /tmp/held")
    assert out == "in=other from=work\n", (rc, out, err)


def test_dispvm_relay_dies_with_its_call():
    """A call into a disposable relays in a confined child of its call
    process (root, which kills the disposable once the call ends): if
    that process is killed, the relay goes with it."""
    if D.qubes()["work"]["state"] != "Running":
        D.call("admin.vm.Start", "work")
    before = set(D.qubes())
    mon = monitor_of("work")
    rc, out, err = sh("work", "{ sleep 60 | qrexec-client-vm @dispvm:dvm "
                      "test.Echo >/dev/null 2>&1; } </dev/null >/dev/null "
                      "2>&1 &")
    assert rc == 0, (rc, out, err)
    found = []

    def call_and_relay():
        found[:] = []
        for p, ppid in bh.programs(D, "qrexec-daemon"):
            try:
                if ppid != mon or bh.proc_status(p)["Uid"].split()[0] \
                        != "0":
                    continue
                kids = [k for k, kp in bh.programs(D, "qrexec-daemon")
                        if kp == p and
                        bh.proc_status(k)["Seccomp"] == "2"]
            except OSError:
                continue
            if len(kids) == 1:
                found[:] = [p, kids[0]]
        return bool(found)
    bh.wait_for(call_and_relay, "the call process and its relay", 60)
    call, relay = found
    os.kill(call, signal.SIGKILL)
    bh.wait_for(lambda: not os.path.exists("/proc/%d" % relay) or
                bh.proc_status(relay)["State"].startswith("Z"),
                "the relay to die with its call", 10)
    # the disposable its call process would have killed
    for q in set(D.qubes()) - before:
        D.call("admin.vm.Kill", q)
        bh.wait_for(lambda: q not in D.qubes(), q + " removed", 30)


def tree_listing(qube, where):
    rc, out, err = sh(qube, "cd %s && find t -printf '%%P %%m %%s %%y %%l\\n' "
                      "| sort && md5sum t/sub/big" % where, user="user")
    assert rc == 0, (rc, out, err)
    return out


def test_filecopy():
    # qvm-copy, qvm-move, qvm-copy-to-vm in a qube, bulkhead's
    # qubes.Filecopy service and qfile-unpacker in the other, by policy
    with open(os.path.join(D.conf, "policy.d", "30-filecopy.policy"),
              "w") as f:
        f.write("qubes.Filecopy * work @default allow target=other\n"
                "qubes.Filecopy * work other allow\n"
                "qubes.Filecopy * other @anyvm deny\n")
    for q in ("work", "other"):
        if D.qubes()[q]["state"] != "Running":
            D.call("admin.vm.Start", q)
    # the policy daemon reloads a little later: until a copy goes through
    deadline = time.monotonic() + 20
    for i in range(1000):
        rc, out, err = sh("work", "echo p > ~/probe%d && "
                          "qvm-copy-to-vm other ~/probe%d" % (i, i),
                          user="user")
        if rc == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert rc == 0, (rc, out, err)
    rc, out, err = sh("work", "mkdir -p ~/t/sub/empty && echo hi > ~/t/a && "
                      ": > ~/t/sub/zero && head -c 3000000 /dev/urandom "
                      "> ~/t/sub/big && ln -s ../a ~/t/sub/link && "
                      "chmod 750 ~/t/sub && chmod 4755 ~/t/a && "
                      "qvm-copy --without-progress ~/t", user="user")
    assert rc == 0, (rc, out, err)
    sent = tree_listing("work", "~")
    got = tree_listing("other", "~/QubesIncoming/work")
    # the setuid bit is dropped on the way, nothing else changes
    assert got == sent.replace("a 4755 ", "a 755 "), (sent, got)
    # the same name again: refused, the first copy intact
    rc, out, err = sh("work", "qvm-copy ~/t", user="user")
    assert rc == 1 and "already" in err, (rc, out, err)
    assert tree_listing("other", "~/QubesIncoming/work") == got
    # qvm-move removes the original only after the copy
    rc, out, err = sh("work", "echo m > ~/m && qvm-move ~/m && "
                      "test ! -e ~/m", user="user")
    assert rc == 0, (rc, out, err)
    rc, out, _ = sh("other", "cat ~/QubesIncoming/work/m", user="user")
    assert out == "m\n", out
    # refused by policy: nothing sent, nothing removed
    rc, out, err = sh("other", "echo x > ~/d && qvm-move-to-vm work ~/d; "
                      "echo rc=$?; cat ~/d", user="user")
    assert out == "rc=1\nx\n" and "refused" in err, (out, err)
    rc, out, _ = sh("work", "ls ~/QubesIncoming 2>&1", user="user")
    assert "other" not in out, out
    # a symlink that would point outside the copy stops it before sending
    rc, out, err = sh("work", "mkdir ~/ev && ln -s /etc/passwd ~/ev/l && "
                      "qvm-copy ~/ev", user="user")
    assert rc == 1 and "outside" in err, (rc, out, err)
    rc, out, _ = sh("other", "test -e ~/QubesIncoming/work/ev; echo $?",
                    user="user")
    assert out == "1\n", out
    os.unlink(os.path.join(D.conf, "policy.d", "30-filecopy.policy"))


def test_open_in_vm():
    # qvm-open-in-vm / qvm-open-in-dvm: the file goes to the other qube,
    # its handler edits it, the edit comes back; view-only changes
    # nothing; a URL goes by qubes.OpenURL, which takes only http(s)/ftp
    with open(os.path.join(D.conf, "policy.d", "30-open.policy"),
              "w") as f:
        f.write("qubes.OpenInVM * work other allow\n"
                "qubes.OpenInVM * work @dispvm allow\n"
                "qubes.OpenURL * work other allow\n")
    D.call("admin.vm.property.Set", "work", "default_dispvm", "dvm")
    handler = ("mkdir -p /rw/config && printf '#!/bin/sh\\ncase \"$1\" in "
               "*://*) echo \"$1\" >> ~/urls ;; *) chmod u+w \"$1\" && "
               "echo \"edited in $(hostname)\" >> \"$1\" ;; esac\\n' > /rw/config/bulkhead-open "
               "&& chmod 755 /rw/config/bulkhead-open")
    for q in ("other", "dvm"):
        if D.qubes()[q]["state"] != "Running":
            D.call("admin.vm.Start", q)
        rc, out, err = sh(q, handler)
        assert rc == 0, (q, rc, out, err)
    # the disposable gets dvm's private volume as it is when dvm stops
    D.call("admin.vm.Shutdown", "dvm", "wait")
    for q in ("work", "other"):
        if D.qubes()[q]["state"] != "Running":
            D.call("admin.vm.Start", q)
    deadline = time.monotonic() + 20
    while True:
        rc, out, err = sh("work", "echo doc > ~/doc.txt && "
                          "qvm-open-in-vm other ~/doc.txt && cat ~/doc.txt",
                          user="user")
        if rc == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert rc == 0 and out == "doc\nedited in other\n", (rc, out, err)
    # an edit keeps the file's permissions but not its set-id bits: the
    # content is what the other qube sent
    rc, out, err = sh("work", "echo s > ~/s.sh && chmod 4755 ~/s.sh && "
                      "qvm-open-in-vm other ~/s.sh && stat -c %a ~/s.sh && "
                      "cat ~/s.sh", user="user")
    assert rc == 0 and out == "755\ns\nedited in other\n", (rc, out, err)
    # view-only: the handler edits (it may), nothing comes back
    rc, out, err = sh("work", "echo ro > ~/ro.txt && qvm-open-in-vm "
                      "--view-only other ~/ro.txt && cat ~/ro.txt",
                      user="user")
    assert rc == 0 and out == "ro\n", (rc, out, err)
    # nothing left behind in the other qube
    rc, out, _ = sh("other", "ls /tmp | grep -c '^work-' || true")
    assert out.strip() == "0", out
    rc, out, err = sh("work", "echo d > ~/d.txt && qvm-open-in-dvm ~/d.txt "
                      "&& cat ~/d.txt", user="user")
    assert rc == 0 and out.startswith("d\nedited in disp"), (rc, out, err)
    rc, out, err = sh("work", "qvm-open-in-vm other https://example.org/x "
                      "&& qvm-open-in-vm other 'javascript://alert(1)'; "
                      "echo rc=$?", user="user")
    assert out.strip() == "rc=1", (out, err)
    rc, out, _ = sh("other", "cat ~/urls", user="user")
    assert out == "https://example.org/x\n", out
    # refused by policy (no rule for work -> dvm itself)
    rc, out, err = sh("work", "qvm-open-in-vm dvm ~/d.txt; echo rc=$?",
                      user="user")
    assert out.strip().endswith("rc=126"), (out, err)
    os.unlink(os.path.join(D.conf, "policy.d", "30-open.policy"))


def test_vmexec_and_getdate():
    # qubes.VMExec+ARG runs the decoded command without a shell; a bad
    # encoding runs nothing.  qubes.GetDate answers on the admin side.
    if D.qubes()["work"]["state"] != "Running":
        D.call("admin.vm.Start", "work")
    rc, out, err = D.qrexec_client(
        "work", "user:QUBESRPC qubes.VMExec+sh+--c+echo-20-22-241-22+sh+x-3By "
        "dom0")
    assert rc == 0 and out == b"x;y\n", (rc, out, err)
    rc, out, err = D.qrexec_client(
        "work", "user:QUBESRPC qubes.VMExec+touch+-2Ftmp-2Fbad+-2b dom0")
    assert rc != 0 and b"not a valid encoded command" in err, (rc, out, err)
    rc, out, _ = sh("work", "test -e /tmp/bad; echo $?")
    assert out == "1\n", out
    with open(os.path.join(D.conf, "policy.d", "30-date.policy"), "w") as f:
        f.write("qubes.GetDate * work @adminvm allow target=dom0\n")
    out = poll_rc("work", "dom0", "qubes.GetDate", "rc=0\n", "GetDate")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00\nrc=0\n$",
                    out), out
    os.unlink(os.path.join(D.conf, "policy.d", "30-date.policy"))


def test_admin_side_service_force_user():
    # an admin-side service runs as root unless its settings, in
    # CONF/rpc-config-dom0 (bulkheadd's QUBES_RPC_CONFIG_PATH for the
    # daemons), name a user
    if D.qubes()["work"]["state"] != "Running":
        D.call("admin.vm.Start", "work")
    rpc0 = os.path.join(D.conf, "qubes-rpc-dom0")
    cfg0 = os.path.join(D.conf, "rpc-config-dom0")
    os.makedirs(rpc0, exist_ok=True)
    os.makedirs(cfg0, exist_ok=True)
    for svc in ("test.Who", "test.WhoRoot"):
        with open(os.path.join(rpc0, svc), "w") as f:
            f.write("#!/bin/sh\nid -u\n")
        os.chmod(os.path.join(rpc0, svc), 0o755)
    with open(os.path.join(cfg0, "test.Who"), "w") as f:
        f.write("force-user = 'nobody'\n")
    pol = os.path.join(D.conf, "policy.d", "30-who.policy")
    with open(pol, "w") as f:
        f.write("test.Who * work @adminvm allow target=dom0\n"
                "test.WhoRoot * work @adminvm allow target=dom0\n")
    mode = os.stat(D.root).st_mode & 0o777
    os.chmod(D.root, mode | 0o011)  # nobody reaches CONF/qubes-rpc-dom0
    try:
        out = poll_rc("work", "dom0", "test.Who", "rc=0\n", "test.Who")
        assert out == "%d\nrc=0\n" % pwd.getpwnam("nobody").pw_uid, out
        out = poll_rc("work", "dom0", "test.WhoRoot", "rc=0\n", "WhoRoot")
        assert out == "0\nrc=0\n", out
    finally:
        os.chmod(D.root, mode)
        os.unlink(pol)


def test_call_flood_logs_within_bounds():
    # a qube's flood of calls, each denied at once: every one denied, but
    # the policy daemon's log (in the run directory: a tmpfs, memory)
    # takes at most 20 of them in 10 s (each a line, and one more for its
    # notification: the default deny notifies); the rest are counted, in a
    # line at the start of the next 10 s
    if D.qubes()["work"]["state"] != "Running":
        D.call("admin.vm.Start", "work")
    log = os.path.join(D.run, "policy-daemon.log")
    # a fresh interval for work: 10 s without a call, then one (it says
    # what the tests before left out, and takes the interval's first line)
    time.sleep(10.5)
    rc, _, _ = run("work", "qrexec-client-vm other test.Flood </dev/null")
    assert rc == 126, rc
    start = os.path.getsize(log)
    t0 = time.monotonic()
    rc, out, err = sh("work", "n=0; for i in $(seq 1 300); do "
                      "qrexec-client-vm other test.Flood </dev/null "
                      ">/dev/null 2>&1; [ $? -eq 126 ] && n=$((n+1)); "
                      "done; echo $n")
    took = time.monotonic() - t0
    assert rc == 0 and out == "300\n", (rc, out, err)
    # one more after 10 s: the count of those left out comes first
    time.sleep(10.5)
    rc, _, _ = run("work", "qrexec-client-vm other test.Flood </dev/null")
    assert rc == 126, rc
    with open(log, errors="replace") as f:
        f.seek(start)
        text = f.read()
    decisions = len(re.findall(r"qrexec: test\.Flood\+: work -> other: "
                               r"denied", text))
    counted = sum(int(n) for n in re.findall(
        r"qrexec: (\d+) more decisions for calls from work not logged",
        text))
    intervals = int(took // 10) + 2
    assert 0 < decisions <= 20 * intervals - 1, (decisions, took)
    assert text.count("test.Flood") <= 40 * intervals, text.count(
        "test.Flood")
    # every call logged or counted, none twice
    assert decisions + counted == 301, (decisions, counted)


def file_size_limit(pid):
    """The soft and hard RLIMIT_FSIZE of process pid (None: unlimited)."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max file size"):
                soft, hard = line.split()[3:5]
                return tuple(None if v == "unlimited" else int(v)
                             for v in (soft, hard))
    raise AssertionError("no file size limit line")


def test_qrexec_log_is_capped():
    # The lines a qube can cause in its qrexec log (calls it makes fail,
    # one after another, each saying why) are bounded as a whole: the
    # qrexec-daemon caps its log at 32 MiB for itself and every process
    # it forks (the worker, each call process), and a log over 4 MiB goes
    # aside (.old) when the qube starts: two files at most.
    cap = 32 << 20
    if D.qubes()["work"]["state"] != "Halted":
        D.call("admin.vm.Kill", "work")
        bh.wait_for(lambda: D.qubes()["work"]["state"] == "Halted",
                    "work halted")
    log = os.path.join(D.state, "log", "work.qrexec.log")
    with open(log, "ab") as f:
        f.write(b"x" * (5 << 20) + b"\n")
    D.call("admin.vm.Start", "work")
    assert os.path.getsize(log + ".old") > 5 << 20
    assert os.path.getsize(log) < 1 << 20, os.path.getsize(log)
    mon = monitor_of("work")
    assert file_size_limit(mon) == (cap, cap), file_size_limit(mon)
    workers = [p for p, ppid in bh.programs(D, "qrexec-daemon")
               if ppid == mon]
    assert len(workers) == 1, workers
    soft, hard = file_size_limit(workers[0])
    assert soft == hard and soft <= cap, (soft, hard)
    rc, out, _ = sh("work", "echo alive")
    assert out == "alive\n", out
    os.unlink(log + ".old")


def test_preloaded_disposables():
    # Qubes 4.3's preload-dispvm-max: N disposables ready (paused) ahead
    def ready():
        try:
            return D.call("admin.vm.feature.Get", "dvm",
                          "preload-dispvm").split()
        except ApiError:
            return []
    D.call("admin.vm.feature.Set", "dvm", "preload-dispvm-max", "2")
    bh.wait_for(lambda: len(ready()) == 2, "two preloaded disposables")
    first = ready()
    for n in first:
        qid(n)  # known while it exists, for nothing_left()
    qs = D.qubes()
    for name in first:
        assert qs[name]["class"] == "DispVM" and qs[name]["state"] == \
            "Paused", qs[name]
        assert D.call("admin.vm.feature.Get", name, "internal") == "1"
    # one is handed out at once, running, and Start answers at once
    name = D.call("admin.vm.CreateDisposable", "dvm")
    assert name in first, (name, first)
    assert D.qubes()[name]["state"] == "Running"
    D.call("admin.vm.Start", name)
    expect_exc("QubesVMNotHaltedError", D.call, "admin.vm.Start", name)
    expect_exc("QubesFeatureNotFoundError", D.call, "admin.vm.feature.Get",
               name, "internal")
    rc, out, _ = sh(name, "hostname")
    assert out == name + "\n", out
    # and another is preloaded in its place
    bh.wait_for(lambda: len(ready()) == 2 and name not in ready(),
                "the refill")
    D.call("admin.vm.Kill", name)
    bh.wait_for(lambda: name not in D.qubes(), "the used one removed")
    # a preload shut down (say, by a shutdown of every qube before
    # bulkheadd stops) is replaced, but not at once
    def disposables():
        return {q for q, i in D.qubes().items() if i["class"] == "DispVM"}
    gone = ready()[0]
    before = disposables()
    D.call("admin.vm.Shutdown", gone, "wait")
    # the refill waits 3 s after the halt: checked from the stop, for
    # well under that, a refill at once would be seen here
    stopped = time.monotonic()
    while True:
        new = disposables() - before
        assert not new, "a preload made at once: %s" % new
        if time.monotonic() - stopped > 0.8:
            break
        time.sleep(0.02)
    bh.wait_for(lambda: gone not in D.qubes(), "the stopped preload removed")
    bh.wait_for(lambda: len(ready()) == 2, "the replacement preload")
    # the DVM template halts with changes: the preloads made before are
    # outdated; asked for a disposable, bulkheadd discards them rather
    # than hand out the old private, and makes new ones (Qubes 4.3)
    stale = ready()
    for n in stale:
        qid(n)
    D.call("admin.vm.Start", "dvm")
    sh("dvm", "echo fresh > /rw/v")
    D.call("admin.vm.Shutdown", "dvm", "wait")
    name = D.call("admin.vm.CreateDisposable", "dvm")
    qid(name)
    assert name not in stale, (name, stale)
    D.call("admin.vm.Start", name)
    rc, out, err = sh(name, "cat /rw/v")
    assert out == "fresh\n", (rc, out, err)
    with open(os.path.join(D.root, "bulkheadd.log")) as f:
        assert "discarding the preloaded" in f.read()
    D.call("admin.vm.Kill", name)
    bh.wait_for(lambda: not set(stale + [name]) & set(D.qubes()),
                "the outdated preloads and the used one removed")
    bh.wait_for(lambda: len(ready()) == 2, "two new preloads")
    newest = os.path.join(D.state, "qubes", "dvm", private_snaps("dvm")[-1])
    for n in ready():  # paused: what they run over, from their state
        with open(os.path.join(D.run, "qubes", n, "state")) as f:
            assert "priv_lower=%s\n" % newest in f.read(), n
    # they survive a restart of bulkheadd
    before = ready()
    for n in before:
        qid(n)
    D.stop(signal.SIGKILL)
    D.start()
    assert sorted(ready()) == sorted(before), (ready(), before)
    # fewer wanted: the extra ones go
    D.call("admin.vm.feature.Set", "dvm", "preload-dispvm-max", "1")
    bh.wait_for(lambda: len(ready()) == 1 and len(
        [q for q in D.qubes() if q.startswith("disp")]) == 1, "one left")
    D.call("admin.vm.feature.Remove", "dvm", "preload-dispvm-max")
    bh.wait_for(lambda: not [q for q in D.qubes() if q.startswith("disp")],
                "all preloads gone")
    expect_exc("QubesFeatureNotFoundError", D.call, "admin.vm.feature.Get",
               "dvm", "preload-dispvm")
    nothing_left(before + first)
    # a broken value is ignored, with a warning
    D.call("admin.vm.feature.Set", "dvm", "preload-dispvm-max", "lots")
    time.sleep(0.5)
    assert not [q for q in D.qubes() if q.startswith("disp")]
    assert "preload-dispvm-max is not a number" in D.log()
    D.call("admin.vm.feature.Remove", "dvm", "preload-dispvm-max")


def test_daemon_restart_adopts():
    if D.qubes()["work"]["state"] == "Halted":
        D.call("admin.vm.Start", "work")
    D.stop(signal.SIGKILL)
    rc, out, _ = sh("work", "echo still")
    assert out == "still\n", out
    D.start()
    assert D.qubes()["work"]["state"] == "Running"
    D.call("admin.vm.Shutdown", "work", "wait")
    nothing_left(["work"])


def test_daemon_restart_cleans_up_a_dead_qube():
    # bulkheadd killed, then the qube: at its restart bulkheadd finds it
    # stopped and releases what it held, as at any halt (its channel
    # tmpfs, volatile area, cgroups, qrexec-daemon)
    if D.qubes()["work"]["state"] == "Halted":
        D.call("admin.vm.Start", "work")
    vchan = os.path.join(D.run, "vchan", D.prop("work", "xid")[0])
    assert os.path.ismount(vchan)
    D.stop(signal.SIGKILL)
    os.kill(launcher_of("work"), signal.SIGKILL)
    bh.wait_for(lambda: not pids_of("work"), "the qube's processes gone")
    D.start()
    assert D.qubes()["work"]["state"] == "Halted"
    nothing_left(["work"])
    assert not os.path.exists(vchan), vchan


def test_two_daemons_give_qubes_apart_host_ids():
    # Two bulkheadds sharing a qid registry (--id-registry) never give two
    # qubes one qid, so never the same host ids; a qube whose qid another
    # bulkheadd holds (made under another registry) does not start until
    # that qube is gone.
    shared = os.path.join(D.root, "ids-shared")
    own = os.path.join(D.root, "ids-own")
    a, b, c = (bh.Bulkheadd(backend="sandbox") for _ in range(3))
    try:
        a.start({"BULKHEAD_ID_REGISTRY": shared})
        b.start({"BULKHEAD_ID_REGISTRY": shared})
        a.create("AppVM", "qa", "red")
        b.create("AppVM", "qb", "blue")
        qids = {(x, n): int(x.prop(n, "qid")[0])
                for x, n in ((a, "host"), (a, "qa"), (b, "host"),
                             (b, "qb"))}
        assert len(set(qids.values())) == 4, qids
        qa, qb = qids[(a, "qa")], qids[(b, "qb")]
        for x, n, q in ((a, "qa", qa), (b, "qb", qb)):
            assert os.readlink(os.path.join(shared, str(q))) == \
                "%s %s" % (x.prop(n, "uuid")[0], os.path.realpath(x.state))
            x.call("admin.vm.Start", n)
            # its files and processes: its own qid's range
            st = os.stat(os.path.join(x.state, "qubes", n, "private"))
            assert st.st_uid == bh.UID_BASE + q * 65536, (n, st.st_uid)
            rc, out, _ = x.qrexec_client(n, "root:id -u; cat /proc/self/"
                                         "uid_map")
            assert rc == 0 and out.decode().split()[:3] == [
                "0", "0", str(bh.UID_BASE + q * 65536)], out
        # c, under a registry of its own, makes a qube with qa's qid
        c.start({"BULKHEAD_ID_REGISTRY": own})
        for i in range(12):
            c.create("AppVM", "qc%d" % i, "green")
            if int(c.prop("qc%d" % i, "qid")[0]) == qa:
                clash = "qc%d" % i
                break
        else:
            raise AssertionError("no qube of c got qid %d" % qa)
        c.stop()
        # ... and under the shared one, it does not start, and says why
        c.start({"BULKHEAD_ID_REGISTRY": shared})
        e = expect_exc("QubesVMError", c.call, "admin.vm.Start", clash)
        assert "qid %d" % qa in str(e) and \
            os.path.realpath(a.state) in str(e), e
        assert "%s: its qid %d" % (clash, qa) in c.log(), c.log()
        assert c.qubes()[clash]["state"] == "Halted"
        assert os.readlink(os.path.join(shared, str(qa))).endswith(
            " " + os.path.realpath(a.state))
        # once a's qube is gone, its qid is free for c's
        a.call("admin.vm.Kill", "qa")
        bh.wait_for(lambda: a.qubes()["qa"]["state"] == "Halted",
                    "qa halted")
        a.call("admin.vm.Remove", "qa")
        assert not os.path.lexists(os.path.join(shared, str(qa)))
        c.call("admin.vm.Start", clash)
        assert os.readlink(os.path.join(shared, str(qa))) == "%s %s" % (
            c.prop(clash, "uuid")[0], os.path.realpath(c.state))
        c.call("admin.vm.Kill", clash)
        bh.wait_for(lambda: c.qubes()[clash]["state"] == "Halted", "halt")
        # a claim nobody can read is never taken for free
        os.unlink(os.path.join(shared, str(qa)))
        os.symlink("garbage", os.path.join(shared, str(qa)))
        e = expect_exc("QubesVMError", c.call, "admin.vm.Start", clash)
        assert "held by a claim that cannot be read, %s/%d" % (
            shared, qa) in str(e), e
        os.unlink(os.path.join(shared, str(qa)))
        c.call("admin.vm.Start", clash)
        c.call("admin.vm.Kill", clash)
    finally:
        for x in (a, b, c):
            x.close()


def test_host_users_subordinate_ids_are_avoided():
    # A qid whose host ids a host user has as subordinate ids (/etc/subuid,
    # /etc/subgid: that user may run processes as those ids) is not given
    # out, and a qube whose ids become some user's does not start.
    x = bh.Bulkheadd(backend="sandbox")
    subuid = os.path.join(x.root, "subuid")
    subgid = os.path.join(x.root, "subgid")

    def sub(path, first, count=65536, who="alice"):
        with open(path, "w") as f:
            f.write("someone:100000:65536\n%s:%d:%d\n" % (who, first, count))

    try:
        # qid 2's range, and the last id of qid 3's
        sub(subuid, bh.UID_BASE + 2 * 65536)
        sub(subgid, bh.UID_BASE + 4 * 65536 - 1, 1, "bob")
        x.start({"BULKHEAD_ID_REGISTRY": os.path.join(x.root, "ids"),
                 "BULKHEAD_SUBID_FILES": subuid + ":" + subgid})
        assert x.prop("host", "qid")[0] == "1"
        x.create("AppVM", "s1", "red")
        assert x.prop("s1", "qid")[0] == "4", x.prop("s1", "qid")
        x.call("admin.vm.Start", "s1")
        x.call("admin.vm.Kill", "s1")
        bh.wait_for(lambda: x.qubes()["s1"]["state"] == "Halted", "halt")
        # now alice's range meets s1's: it does not start, and says why
        sub(subuid, bh.UID_BASE + 4 * 65536 + 100, 1)
        e = expect_exc("QubesVMError", x.call, "admin.vm.Start", "s1")
        assert "subordinate ids of alice in %s" % subuid in str(e), e
        assert x.qubes()["s1"]["state"] == "Halted"
        # a restart says so in the log
        x.stop()
        x.start({"BULKHEAD_ID_REGISTRY": os.path.join(x.root, "ids"),
                 "BULKHEAD_SUBID_FILES": subuid + ":" + subgid})
        assert "s1: its qid 4, and so its host ids (%d-%d), meet the " \
            "subordinate ids of alice" % (bh.UID_BASE + 4 * 65536,
                                          bh.UID_BASE + 5 * 65536 - 1) \
            in x.log(), x.log()
        # alice's range gone: it starts
        sub(subuid, 100000 + 65536)
        x.call("admin.vm.Start", "s1")
        x.call("admin.vm.Kill", "s1")
    finally:
        x.close()


def test_everything_stops_clean():
    for name, info in D.qubes().items():
        if name != "dom0" and info["state"] != "Halted":
            D.call("admin.vm.Shutdown", name, "wait")
    nothing_left(["work", "other", "dvm"])
    assert not our_cgroups(), our_cgroups()


try:
    bh.run_tests([
        test_start,
        test_vmshell,
        test_host_template_cannot_start,
        test_clone_volumes,
        test_volumes,
        test_no_host_secrets,
        test_isolation_processes,
        test_isolation_mount_modules_ptrace,
        test_isolation_32bit_abis,
        test_isolation_proc_and_sys,
        test_output_goes_through_the_launcher,
        test_cgroup_namespace_is_the_qubes,
        test_cgroups_hold_the_whole_qube,
        test_isolation_host_sockets,
        test_channel_directory_is_bounded,
        test_qrexec_workers_have_ids_of_their_own,
        test_qubes_get_none_of_bulkheadds_stdin,
        test_private_symlinks_stay_inside,
        test_admin_api_from_a_qube,
        test_admin_tools_in_a_management_qube,
        test_ask_goes_to_the_policy_agent,
        test_pids_limit,
        test_memory_limit,
        test_pause,
        test_init_dies,
        test_launcher_killed,
        test_qrexec_sockets_closed_to_host_users,
        test_shutdown_timeout_kills,
        test_disposable,
        test_disposable_gets_the_dvm_templates_last_shutdown,
        test_disposable_writes_stay_off_the_host_disk,
        test_dispvm_call_and_autostart,
        test_calls_are_confined_as_the_callers_id,
        test_dispvm_relay_dies_with_its_call,
        test_filecopy,
        test_open_in_vm,
        test_vmexec_and_getdate,
        test_admin_side_service_force_user,
        test_call_flood_logs_within_bounds,
        test_qrexec_log_is_capped,
        test_preloaded_disposables,
        test_daemon_restart_adopts,
        test_daemon_restart_cleans_up_a_dead_qube,
        test_two_daemons_give_qubes_apart_host_ids,
        test_host_users_subordinate_ids_are_avoided,
        test_everything_stops_clean,
    ])
finally:
    D.close()
