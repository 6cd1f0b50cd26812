"""Integration test harness: real bulkhead binaries in a temp directory.

Brings up "qubes" as plain processes (no sandbox): for each, a qrexec-agent
with its own channel directory (what the qube would see) and the admin
side's qrexec-daemon, in bulkhead's per-qube layout, so calls between
qubes go through the admin-side relay.  A tiny TAP reporter is included:
each test function is one TAP line.
"""

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

BUILD = os.environ.get("BULKHEAD_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
BIN = os.path.join(BUILD, "src")

# qrexec wire constants (docs/protocol/qrexec.md)
MSG_EXEC_CMDLINE = 0x200
MSG_JUST_EXEC = 0x201
MSG_SERVICE_CONNECT = 0x202
MSG_SERVICE_REFUSED = 0x203
MSG_TRIGGER_SERVICE = 0x210
MSG_CONNECTION_TERMINATED = 0x211
MSG_TRIGGER_SERVICE3 = 0x212
MSG_TRIGGER_SERVICE4 = 0x213
MSG_HELLO = 0x300
MSG_DATA_STDIN = 0x190
MSG_DATA_STDOUT = 0x191
MSG_DATA_STDERR = 0x192
MSG_DATA_EXIT_CODE = 0x193

USER = None


def user():
    global USER
    if USER is None:
        import pwd
        USER = pwd.getpwuid(os.getuid()).pw_name
    return USER


def msg(mtype, payload=b""):
    return struct.pack("<LL", mtype, len(payload)) + payload


def recv_exact(sock, n, timeout=10):
    sock.settimeout(timeout)
    data = b""
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


def recv_msg(sock, timeout=10):
    hdr = recv_exact(sock, 8, timeout)
    if len(hdr) < 8:
        return None
    t, n = struct.unpack("<LL", hdr)
    return t, recv_exact(sock, n, timeout)


def wait_for(pred, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.01)
    raise AssertionError("timed out waiting for " + what)


POLICY_PROGRAM = r"""#!/bin/sh
# Test policy: lines "SOURCE TARGET SERVICE allow|deny [REDIRECT]" in rules.
src="$2"; tgt="$3"; svc="$4"
while read -r s t v r redirect; do
  case "$s" in "#"*|"") continue;; esac
  [ "$s" = "$src" ] || [ "$s" = "*" ] || continue
  [ "$t" = "$tgt" ] || [ "$t" = "*" ] || continue
  [ "$v" = "$svc" ] || [ "$v" = "*" ] || continue
  if [ "$r" = allow ]; then
    t2="${redirect:-$tgt}"
    printf 'result=allow\nuser=%s\ntarget=%s\nrequested_target=%s\nautostart=True\n' "$(id -un)" "$t2" "$tgt"
    exit 0
  fi
  echo result=deny
  exit 1
done < "$(dirname "$0")/rules"
echo result=deny
exit 1
"""


class Qube:
    def __init__(self, system, name, domid):
        self.system = system
        self.name = name
        self.domid = domid
        self.uuid = "00000000-0000-0000-0000-%012d" % domid
        self.vchan_dir = os.path.join(system.root, "vchan", str(domid))
        self.rpc = os.path.join(system.root, "rpc-" + name)
        self.rpc_config = os.path.join(system.root, "rpc-config-" + name)
        self.trigger = os.path.join(system.root, "agent-%s.sock" % name)
        self.agent = None
        self.daemon = None
        for d in (self.vchan_dir, self.rpc, self.rpc_config):
            os.makedirs(d, exist_ok=True)

    def service(self, name, script):
        path = os.path.join(self.rpc, name)
        with open(path, "w") as f:
            f.write(script)
        os.chmod(path, 0o755)

    def agent_env(self):
        env = dict(os.environ)
        env.update(VCHAN_DOMAIN=str(self.domid), VCHAN_SOCKET_DIR=self.vchan_dir,
                   QREXEC_SERVICE_PATH=self.rpc,
                   QUBES_RPC_CONFIG_PATH=self.rpc_config)
        env.pop("BULKHEAD_VCHAN_LAYOUT", None)
        return env

    def start_agent(self):
        self.agent = subprocess.Popen(
            [os.path.join(BIN, "qrexec-agent"), "--agent-socket=" + self.trigger],
            env=self.agent_env(), stderr=self.system.log)
        ctrl = os.path.join(self.vchan_dir, "vchan.%d.0.512.sock" % self.domid)
        wait_for(lambda: os.path.exists(ctrl), "agent of " + self.name)

    def start_daemon(self):
        self.daemon = subprocess.Popen(
            [os.path.join(BIN, "qrexec-daemon"), "--direct",
             "--socket-dir=" + self.system.sockdir,
             "--policy-socket=" + os.path.join(self.system.root, "no-policy.sock"),
             "--policy-program=" + self.system.policy_program,
             "-u", self.uuid, str(self.domid), self.name, user()],
            env=self.system.admin_env(), stderr=self.system.log)
        sock = os.path.join(self.system.sockdir, "qrexec.%d" % self.domid)
        wait_for(lambda: os.path.exists(sock), "daemon of " + self.name)

    def start(self):
        self.start_agent()
        self.start_daemon()
        return self

    def client_vm(self, target, service, *args, stdin=b"", timeout=30,
                  local=None):
        """qrexec-client-vm in this qube; returns (rc, stdout, stderr)."""
        cmd = [os.path.join(BIN, "qrexec-client-vm"),
               "--agent-socket=" + self.trigger] + list(args) + [target, service]
        if local:
            cmd += local
        p = subprocess.run(cmd, env=self.agent_env(), input=stdin,
                           capture_output=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def stop(self):
        procs = [p for p in (self.daemon, self.agent) if p is not None]
        stray = []
        for p in procs:
            stray += descendants(p.pid)[1:]
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        # whatever a call left running (services that ignore SIGTERM)
        for pid in stray:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class System:
    """A temp dir with the admin side and some qubes."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="bulkhead-it-")
        self.sockdir = os.path.join(self.root, "qrexec")
        self.admin_rpc = os.path.join(self.root, "rpc-dom0")
        os.makedirs(self.sockdir)
        os.makedirs(self.admin_rpc)
        os.makedirs(os.path.join(self.root, "vchan"))
        self.policy_program = os.path.join(self.root, "policy")
        with open(self.policy_program, "w") as f:
            f.write(POLICY_PROGRAM)
        os.chmod(self.policy_program, 0o755)
        self.rules = os.path.join(self.root, "rules")
        open(self.rules, "w").close()
        self.log = open(os.path.join(self.root, "log"), "w")
        self.qubes = {}

    def admin_env(self):
        env = dict(os.environ)
        env.update(VCHAN_DOMAIN="0",
                   VCHAN_SOCKET_DIR=os.path.join(self.root, "vchan"),
                   BULKHEAD_VCHAN_LAYOUT="per-qube",
                   QREXEC_SERVICE_PATH=self.admin_rpc,
                   QUBES_RPC_CONFIG_PATH=os.path.join(self.root, "no-config"))
        return env

    def admin_service(self, name, script):
        path = os.path.join(self.admin_rpc, name)
        with open(path, "w") as f:
            f.write(script)
        os.chmod(path, 0o755)

    def set_rules(self, text):
        with open(self.rules, "w") as f:
            f.write(text)

    def qube(self, name, domid):
        q = Qube(self, name, domid)
        self.qubes[name] = q
        return q

    def client(self, target, command, stdin=b"", timeout=30, args=()):
        """qrexec-client from the admin side; returns (rc, stdout, stderr)."""
        cmd = [os.path.join(BIN, "qrexec-client"), "--socket-dir=" + self.sockdir,
               "-d", target] + list(args) + [command]
        p = subprocess.run(cmd, env=self.admin_env(), input=stdin,
                           capture_output=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def close(self):
        for q in self.qubes.values():
            q.stop()
        self.log.close()
        if os.environ.get("BULKHEAD_KEEP_TMP"):
            sys.stderr.write("kept %s\n" % self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def logtext(self):
        self.log.flush()
        with open(os.path.join(self.root, "log")) as f:
            return f.read()


def descendants(pid):
    """pid and all its descendants, from /proc."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += children.get(p, [])
    return seen


def alive(proc):
    return proc is not None and proc.poll() is None


def run_tests(tests):
    """Run test functions, print TAP, exit 0 if all passed."""
    print("1..%d" % len(tests))
    failed = 0
    for i, t in enumerate(tests, 1):
        try:
            t()
            print("ok %d - %s" % (i, t.__name__))
        except Exception:
            failed += 1
            print("not ok %d - %s" % (i, t.__name__))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
        sys.stdout.flush()
    sys.exit(1 if failed else 0)


socket.setdefaulttimeout(30)
