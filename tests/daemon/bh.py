"""Test harness for bulkheadd: a daemon in a temp directory with the
process backend (qubes are plain processes), and an Admin API client."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("BULKHEAD_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
BIN = os.path.join(BUILD, "src")


class ApiError(Exception):
    def __init__(self, typ, msg):
        super().__init__("%s: %s" % (typ, msg))
        self.type = typ
        self.msg = msg


def raw_call(sock, data, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    return out


def parse_reply(out):
    if out.startswith(b"0\0"):
        return out[2:].decode()
    if out.startswith(b"2\0"):
        parts = out[2:].split(b"\0")
        raise ApiError(parts[0].decode(), parts[2].decode())
    raise ApiError("EmptyReply" if not out else "BadFrame", repr(out[:80]))


class Bulkheadd:
    def __init__(self, backend="process", policy_user="root", wrapper=(),
                 qrexec_user=None):
        self.root = tempfile.mkdtemp(prefix="bulkheadd-test-")
        self.state = os.path.join(self.root, "state")
        self.run = os.path.join(self.root, "run")
        self.conf = os.path.join(self.root, "conf")
        self.sock = os.path.join(self.run, "qubesd.sock")
        self.internal = os.path.join(self.run, "qubesd.internal.sock")
        self.backend = backend
        # root unless a test asks: a host that has bulkheadd's default
        # policy user must not change what the other tests see
        self.policy_user = policy_user
        # the qrexec-daemons' workers' user: bulkheadd's default unless
        # a test names one
        self.qrexec_user = qrexec_user
        # a command bulkheadd runs under (it must exec its arguments)
        self.wrapper = list(wrapper)
        self.proc = None
        self.logf = open(os.path.join(self.root, "bulkheadd.log"), "a")
        os.makedirs(os.path.join(self.conf, "policy.d"))
        self.stale_cgroups = _stale_cgroups()

    def start(self, env_extra=None):
        env = dict(os.environ)
        env.pop("VCHAN_SOCKET_DIR", None)
        env.update(env_extra or {})
        self.proc = subprocess.Popen(
            self.wrapper + [
                os.path.join(BIN, "daemon", "bulkheadd"), "--state-dir",
                self.state, "--run-dir", self.run, "--conf-dir", self.conf,
                "--backend", self.backend, "--policy-user",
                self.policy_user, "--debug"] + (
                    ["--qrexec-user", self.qrexec_user]
                    if self.qrexec_user else []),
            # a pipe for stdin, as a terminal would be when an admin
            # runs it by hand: nothing it starts may hold it
            env=env, stderr=self.logf, stdout=self.logf,
            stdin=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if os.path.exists(self.sock):
                try:
                    self.call("admin.vm.List")
                    return self
                except (OSError, ApiError):
                    pass
            if self.proc.poll() is not None:
                raise RuntimeError("bulkheadd exited: " + self.log())
            time.sleep(0.02)
        raise RuntimeError("bulkheadd did not come up: " + self.log())

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        self.proc = None

    def call(self, method, dest="dom0", arg="", payload=b"", src="dom0",
             sock=None):
        if isinstance(payload, str):
            payload = payload.encode()
        head = "%s+%s %s name %s\0" % (method, arg, src, dest)
        return parse_reply(raw_call(sock or self.sock,
                                    head.encode() + payload))

    def log(self):
        self.logf.flush()
        with open(os.path.join(self.root, "bulkheadd.log")) as f:
            return f.read()[-4000:]

    def qubes(self):
        out = {}
        for line in self.call("admin.vm.List").splitlines():
            name, *kv = line.split(" ")
            out[name] = dict(x.split("=", 1) for x in kv)
        return out

    def prop(self, vm, name):
        v = self.call("admin.vm.property.Get", vm, name)
        head, _, value = v.partition(" type=")
        typ, _, value = value.partition(" ")
        return value, head == "default=True"

    def create(self, klass, name, label="red", template=""):
        self.call("admin.vm.Create." + klass, arg=template,
                  payload="name=%s label=%s" % (name, label))

    def qrexec_client(self, target, cmd, stdin=b"", timeout=30):
        env = dict(os.environ)
        env.update(VCHAN_DOMAIN="0",
                   VCHAN_SOCKET_DIR=os.path.join(self.run, "vchan"),
                   BULKHEAD_VCHAN_LAYOUT="per-qube")
        # in bulkheadd's mount namespace, where the qubes' channel
        # directories are mounted (its own, under a wrapper that unshares)
        ns = ["nsenter", "-t", str(self.proc.pid), "-m"] \
            if self.wrapper and self.proc else []
        p = subprocess.run(
            ns + [os.path.join(BIN, "qrexec-client"),
                  "--socket-dir=" + os.path.join(self.run, "qrexec"), "-d",
                  target, cmd],
            env=env, input=stdin, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def service(self, qube, name, script):
        d = os.path.join(self.state, "qubes", qube, "rpc")
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(script)
        os.chmod(path, 0o755)

    def processes(self):
        """pids of processes whose command line mentions our root."""
        pids = []
        for d in os.listdir("/proc"):
            if not d.isdigit() or int(d) == os.getpid():
                continue
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    cmd = f.read()
                with open("/proc/%s/environ" % d, "rb") as f:
                    envb = f.read()
            except OSError:
                continue
            if self.root.encode() in cmd or self.root.encode() in envb:
                pids.append(int(d))
        return pids

    def close(self):
        try:
            for name, info in self.qubes().items():
                if name != "dom0" and info.get("state") != "Halted":
                    try:
                        self.call("admin.vm.Kill", name)
                    except ApiError:
                        pass
        except Exception:
            pass
        self.stop()
        time.sleep(0.2)
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.logf.close()
        if os.environ.get("BULKHEAD_KEEP_TMP"):
            sys.stderr.write("kept %s\n" % self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)


# Namespace qubes' host ids: UID_BASE + qid * 65536 onwards.
UID_BASE = 1000000


def _ppid_and_cmd(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        cmd = f.read()
    with open("/proc/%d/stat" % pid) as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    return ppid, cmd


def proc_status(pid):
    """/proc/PID/status as a dict of stripped values."""
    with open("/proc/%d/status" % pid) as f:
        return {k: v.strip() for k, v in (
            ln.split(":", 1) for ln in f.read().splitlines() if ":" in ln)}


def programs(d, name):
    """(pid, ppid) of d's processes whose program ends with name."""
    out = []
    for p in d.processes():
        try:
            ppid, cmd = _ppid_and_cmd(p)
        except (OSError, ValueError, IndexError):
            continue
        if cmd.split(b"\0")[0].endswith(name.encode()):
            out.append((p, ppid))
    return out


def launched_by(d, pid):
    """Is pid a process of one of d's qubes?  Other bulkhead instances
    (parallel tests, benchmarks) may run qubes with the same qids, so the
    same host ids.  A qube's processes descend from its launcher, whose
    arguments name its bulkheadd's directories (bulkhead-sandbox, or
    bulkhead-vm for a VM qube's QEMU and vmux); a process whose launcher
    is gone (a leak) counts as d's if its mounts or command line name
    d's directories.  A qrexec-daemon's worker has an id
    of its qube's range but is the admin side's, never the qube's."""
    for _ in range(64):
        try:
            ppid, cmd = _ppid_and_cmd(pid)
        except (OSError, ValueError, IndexError):
            return False
        prog = cmd.split(b"\0")[0]
        if prog.endswith((b"qrexec-daemon", b"bulkheadd")):
            return False
        if prog.endswith((b"bulkhead-sandbox", b"bulkhead-vm")):
            return d.root.encode() in cmd
        if ppid <= 1:
            return _mounts_mention(pid, d.root)
        pid = ppid
    return _mounts_mention(pid, d.root)


def _mounts_mention(pid, root):
    """Do pid's mount table or command line name root?  A leaked qube
    process (its launcher gone) still has the mounts its launcher made
    from d's directories (a VM's QEMU: its images and sockets on its
    command line); another bulkheadd's (a test or benchmark at the same
    time, the same qids) names its own."""
    found = False
    for what in ("mountinfo", "cmdline"):
        try:
            with open("/proc/%d/%s" % (pid, what), "rb") as f:
                found = found or root.encode() in f.read()
        except OSError:
            pass
    return found


def qube_pids(d, qid=None):
    """Processes of d's qubes (of the one with qid, if given)."""
    lo, hi = (UID_BASE, 1 << 32) if qid is None else (
        UID_BASE + qid * 65536, UID_BASE + (qid + 1) * 65536)
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            if lo <= os.stat("/proc/" + e).st_uid < hi and \
                    launched_by(d, int(e)):
                out.append(int(e))
        except OSError:
            pass
    return out


def _cgroups_named(name=None):
    """(path, launcher pid) of the cgroups named bulkhead-NAME-PID (any
    NAME if None) under /sys/fs/cgroup."""
    import re
    pat = re.compile(r"^bulkhead-%s-([0-9]+)$" % (
        re.escape(name) if name else ".+"))
    found = []
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        for e in dirs:
            m = pat.match(e)
            if m:
                found.append((os.path.join(root, e), int(m.group(1))))
        if root.count("/") > 8:
            dirs[:] = []
    return found


def _stale_cgroups():
    """Qube cgroups whose launcher is gone, there before a Bulkheadd of
    this run started: a killed earlier run's (or another instance's)
    leftovers, which no check of this run may count as its own leak."""
    stale = set()
    for path, pid in _cgroups_named():
        try:
            _ppid_and_cmd(pid)
        except (OSError, ValueError, IndexError):
            stale.add(path)
    if stale:
        sys.stderr.write("bh: %d qube cgroup(s) left by an earlier run, "
                         "not counted: %s\n" % (len(stale),
                                                " ".join(sorted(stale))))
    return stale


def qube_cgroups(d, name=None):
    """Cgroups of d's qubes (of the one named name, if given):
    bulkhead-NAME-LAUNCHERPID, leaving out those whose launcher runs for
    another bulkheadd and those found stale before d started."""
    found = []
    for path, pid in _cgroups_named(name):
        if path in d.stale_cgroups:
            continue
        try:
            _, cmd = _ppid_and_cmd(pid)
            if d.root.encode() not in cmd:
                continue  # another instance's, alive
        except (OSError, ValueError, IndexError):
            pass  # its launcher is gone: a leak, counted
        found.append(path)
    return found


def wait_for(pred, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def expect_exc(typ, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except ApiError as e:
        assert e.type == typ, "expected %s, got %s" % (typ, e)
        return e
    raise AssertionError("expected %s, call succeeded" % typ)


sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
                                "integration"))
from harness import run_tests  # noqa: E402,F401
