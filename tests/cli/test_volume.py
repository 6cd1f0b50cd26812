#!/usr/bin/env python3
"""qvm-volume and qvm-console: against a fake Admin API daemon, then
against the real bulkheadd.

The fake (fake_qubesd.py's, extended here) also answers
admin.vm.volume.ListSnapshots and .Revert with revisions, and
admin.vm.Console from an in-memory log per qube, in bulkhead's format
(offset=START size=TOTAL, then at most 64 KiB), so that revisions, revert
and the console's escaping, --lines and --follow (appends, a UTF-8
character split between polls, a replaced log, a log that goes away,
SIGINT) are tested without VM qubes.

The real bulkheadd (process backend, no VM qubes) checks list and info
on namespace qubes, whose volumes are directories without revisions, and
that revert and qvm-console fail cleanly on them.  If the daemon serves
admin.vm.Console, a fake log written where it keeps them
(<state>/log/NAME.console.log) for a VM qube that is never started
checks the escaping end to end.

With QUBES_ADMIN_CLIENT set to a checkout of qubes-core-admin-client,
Qubes' own qvm-volume runs against the same fake and its list and info
output must equal ours.

TAP output, one line a test.  Standard library only.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
import fake_qubesd  # noqa: E402
from fake_qubesd import QubesError  # noqa: E402

BUILD = os.environ.get("BULKHEAD_BUILD_DIR") or os.path.join(
    HERE, "..", "..", "build")
BIN = os.path.join(BUILD, "src", "cli")
DAEMON = os.path.join(BUILD, "src", "daemon", "bulkheadd")

TMP = tempfile.mkdtemp(prefix="bulkhead-volume-")
SOCK = os.path.join(TMP, "qubesd.sock")
CHUNK = 64 * 1024


class Raw(str):
    """A reply body of raw bytes: the fake encodes what handle() returns,
    and this encodes to the bytes as they are (a console log is not
    UTF-8)."""

    def __new__(cls, data):
        s = str.__new__(cls, "raw")  # non-empty: the fake tests "out or"
        s.data = bytes(data)
        return s

    def encode(self, *args, **kw):
        return self.data


class VolumeFake(fake_qubesd.FakeQubesd):
    """fake_qubesd's model with complete volume Info, revisions, Revert
    and console logs."""

    def reset(self):
        super().reset()
        with self.lock:
            self.revisions = {("work", "private"): ["1764188400",
                                                    "1764192000"]}
            self.consoles = {}  # name -> bytearray
            for vm in self.qubes.values():
                for name, vol in vm.volumes.items():
                    self._complete(vm, name, vol)
            self.qubes["vault"].volumes["private"]["revisions_to_keep"] = \
                "-1"

    @staticmethod
    def _complete(vm, name, vol):
        # as Qubes: kernel volumes are shared, named by the kernel version
        if name == "kernel":
            vol["vid"] = "6.6.1"
        else:
            vol["vid"] = "qubes_dom0/vm-%s-%s" % (vm.name, name)
        own_root = vm.klass in ("TemplateVM", "StandaloneVM")
        vol["source"] = ("qubes_dom0/vm-%s-root" % vm.props["template"]
                         if name == "root" and not own_root else "")
        vol["revisions_to_keep"] = "2" if name == "private" else "0"
        vol["ephemeral"] = "False"
        vol["is_outdated"] = "False"

    def handle(self, method, arg, src, dest, payload):
        if method in self.unsupported:
            raise fake_qubesd.protocol_error()
        vm = self.qubes.get(dest)
        if method in ("admin.vm.volume.ListSnapshots",
                      "admin.vm.volume.Revert"):
            if vm is None:
                raise QubesError("QubesVMNotFoundError",
                                 "No such domain: %r" % dest)
            if arg not in vm.volumes:
                raise QubesError("QubesException", "No such volume")
            revs = self.revisions.get((dest, arg), [])
            if method.endswith("ListSnapshots"):
                return "".join(r + "\n" for r in revs)
            if vm.state != "Halted":
                raise QubesError("QubesVMNotHaltedError",
                                 "Domain is not powered off: %r" % dest)
            rev = payload.decode("ascii", "replace")
            if rev not in revs:
                raise QubesError("QubesValueError",
                                 "Invalid revision: %s" % rev)
            return ""
        if method == "admin.vm.Console":
            if vm is None:
                raise QubesError("QubesVMNotFoundError",
                                 "No such domain: %r" % dest)
            log = self.consoles.get(dest)
            if log is None:
                raise QubesError("QubesException",
                                 "%s has no console log" % dest)
            size = len(log)
            if arg == "":
                start = max(0, size - CHUNK)
            else:
                start = int(arg)
            start = min(start, size)
            return Raw(b"offset=%d size=%d\n" % (start, size) +
                       bytes(log[start:start + CHUNK]))
        return super().handle(method, arg, src, dest, payload)


FAKE = VolumeFake(SOCK)


class Fail(Exception):
    pass


def check(cond, msg="check failed"):
    if not cond:
        raise Fail(msg)


def eq(a, b, what=""):
    if a != b:
        raise Fail("%s: expected %r, got %r" % (what or "value", b, a))


def run(tool, *args, sock=None, timeout=60, raw=False):
    env = dict(os.environ)
    env["BULKHEAD_ADMIN_SOCKET"] = sock or SOCK
    p = subprocess.run([os.path.join(BIN, tool)] + list(args),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=timeout)
    out = p.stdout if raw else p.stdout.decode()
    return p.returncode, out, p.stderr.decode()


def calls():
    return [(c["method"], c["arg"], c["dest"], c["payload"])
            for c in FAKE.calls if c["method"] != "admin.vm.List"]


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


# ------------------------------------------------------------ qvm-volume

def expected_list(names, pools=None):
    """The table as Qubes' prepare_table builds it, off a terminal: rows
    sorted by pool and vid; in a group, the qube seen last first."""
    groups = {}
    for name in names:
        vm = FAKE.qubes[name]
        for vname in sorted(vm.volumes):
            vol = vm.volumes[vname]
            if pools and vol["pool"] not in pools:
                continue
            revs = "Yes" if FAKE.revisions.get((name, vname)) else "No"
            groups.setdefault((vol["pool"], vol["vid"]), []).append(
                (name, vname, revs))
    rows = [("POOL:VOLUME", "VMNAME", "VOLUME_NAME", "REVERT_POSSIBLE")]
    for key in sorted(groups):
        g = groups[key]
        revs = g[-1][2]
        for name, vname, _ in [g[-1]] + g[:-1]:
            rows.append(("%s:%s" % key, name, vname, revs))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "".join("  ".join(c.ljust(widths[i]) for i, c in
                             enumerate(r[:3])) + "  " + r[3] + "\n"
                   for r in rows)


@test
def list_all():
    out_all = None
    for args in ([], ["list"], ["ls"], ["l"], ["-v", "list"]):
        FAKE.calls.clear()
        rc, out, err = run("qvm-volume", *args)
        eq((rc, err), (0, ""), "qvm-volume %s" % args)
        eq(out, expected_list(sorted(FAKE.qubes)), "table %s" % args)
        out_all = out
    # a shared volume is one group, the last qube first
    lines = out_all.splitlines()
    eq(lines[0].split(), ["POOL:VOLUME", "VMNAME", "VOLUME_NAME",
                          "REVERT_POSSIBLE"])
    eq(lines[1].split(), ["linux-kernel:6.6.1", "work", "kernel", "No"])
    eq(lines[2].split(), ["linux-kernel:6.6.1", "default-dvm", "kernel",
                          "No"])
    check("varlibqubes:qubes_dom0/vm-work-private  work  private  "
          "Yes" in re.sub(" +", "  ", out_all), out_all)
    # one List a qube, one Info and one ListSnapshots a volume
    ms = [c[0] for c in calls()]
    eq(ms.count("admin.vm.volume.List"), len(FAKE.qubes))
    eq(ms.count("admin.vm.volume.Info"), 4 * (len(FAKE.qubes) - 1))
    eq(ms.count("admin.vm.volume.ListSnapshots"), 4 * (len(FAKE.qubes) - 1))


@test
def list_selected():
    rc, out, _ = run("qvm-volume", "list", "work", "vault")
    eq(rc, 0)
    eq(out, expected_list(["work", "vault"]))
    eq(sorted(c[2] for c in calls() if c[0] == "admin.vm.volume.List"),
       ["vault", "work"])
    rc, out, _ = run("qvm-volume", "ls", "sys-*")
    eq((rc, out), (0, expected_list(["sys-firewall", "sys-net"])))
    rc, out, _ = run("qvm-volume", "list", "--all", "--exclude", "work",
                     "--exclude", "sys-net")
    eq(rc, 0)
    eq(out, expected_list(sorted(set(FAKE.qubes) - {"dom0", "work",
                                                    "sys-net"})))
    rc, out, _ = run("qvm-volume", "list", "-p", "varlibqubes", "work")
    eq((rc, out), (0, expected_list(["work"], ["varlibqubes"])))
    rc, out, _ = run("qvm-volume", "list", "--pool", "linux-kernel",
                     "-p", "nosuch", "personal", "work")
    eq((rc, out), (0, expected_list(["personal", "work"],
                                    ["linux-kernel"])))
    rc, out, _ = run("qvm-volume", "list", "-p", "nosuch")
    eq((rc, out.split()), (0, ["POOL:VOLUME", "VMNAME", "VOLUME_NAME",
                               "REVERT_POSSIBLE"]))
    rc, out, _ = run("qvm-volume", "list", "--full", "dom0")
    eq((rc, len(out.splitlines())), (0, 1), "dom0 has no volumes")


@test
def list_on_a_terminal():
    # on a terminal, a shared volume's name only on its first line
    # (script(1) gives the tool a pty)
    if shutil.which("script") is None:
        return "SKIP no script(1)"
    env = dict(os.environ, BULKHEAD_ADMIN_SOCKET=SOCK)
    for full in (False, True):
        cmd = "%s list %s personal work" % (
            os.path.join(BIN, "qvm-volume"), "--full" if full else "")
        p = subprocess.run(["script", "-qec", cmd, "/dev/null"], env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           timeout=60)
        lines = p.stdout.decode().replace("\r\n", "\n").splitlines()
        eq(p.returncode, 0)
        eq(lines[1].split()[:2], ["linux-kernel:6.6.1", "work"])
        eq(lines[2].split()[:2],
           ["linux-kernel:6.6.1" if full else "personal",
            "personal" if full else "kernel"])
    return None


@test
def list_errors():
    for args, msg in (
            (["list", "nosuch"], "nosuch: no such domain"),
            (["list", "--all", "work"], "exclude each other"),
            (["list", "--exclude", "work"], "only be used with --all"),
            (["list", "--bogus"], "unrecognized option"),
            (["--pool", "x", "list"], "unknown option"),
            (["info", "--full", "work:private"], "unknown option"),
            (["frobnicate"], "invalid command"),
            (["list", "-p"], "requires an argument")):
        rc, out, err = run("qvm-volume", *args)
        eq(rc, 2, "exit of %s" % args)
        check(msg in err, "%s: %r" % (args, err))
        eq(out, "")
    FAKE.fail["admin.vm.volume.List"] = QubesError("QubesException",
                                                   "storage \x1b[31mbroke")
    rc, out, err = run("qvm-volume", "list", "work")
    eq(rc, 1)
    eq(err, "qvm-volume: work: storage \\x1b[31mbroke\n")
    FAKE.reset()
    FAKE.fail["admin.vm.volume.Info"] = QubesError("QubesException",
                                                   "info broke")
    rc, out, err = run("qvm-volume", "list", "work")
    eq((rc, out), (1, ""))
    check(re.search(r"work:\w+: info broke", err), err)


@test
def hostile_replies():
    # the daemon's strings are ASCII (as Qubes' client decodes them):
    # anything else is a malformed reply, never printed
    FAKE.qubes["work"].volumes["private"]["vid"] = "a\x1b]0;x\x07b"
    rc, out, err = run("qvm-volume", "list", "work")
    eq((rc, out), (1, ""))
    check("work:private: admin.vm.volume.Info: malformed reply" in err, err)
    check("\x1b" not in err)
    FAKE.reset()
    FAKE.revisions[("work", "private")] = ["12\x1b[2J"]
    rc, out, err = run("qvm-volume", "info", "work:private", "revisions")
    eq((rc, out), (1, ""))
    check("admin.vm.volume.ListSnapshots: malformed reply" in err, err)
    FAKE.reset()
    FAKE.qubes["work"].volumes["caf\xe9"] = {}
    rc, out, err = run("qvm-volume", "list", "work")
    eq((rc, out), (1, ""))
    check("work: admin.vm.volume.List: malformed reply" in err, err)
    FAKE.reset()
    del FAKE.qubes["work"].volumes["private"]["size"]
    rc, out, err = run("qvm-volume", "info", "work:private")
    eq((rc, out), (1, ""))
    check("no size in the reply" in err, err)
    FAKE.reset()
    FAKE.qubes["work"].volumes["private"]["usage"] = "12x"
    rc, out, err = run("qvm-volume", "info", "work:private", "usage")
    eq((rc, out), (1, ""))
    check("usage is not a number" in err, err)


@test
def info_table():
    rc, out, err = run("qvm-volume", "info", "work:private")
    eq((rc, err), (0, ""))
    eq(out, "pool               varlibqubes\n"
            "vid                qubes_dom0/vm-work-private\n"
            "rw                 True\n"
            "source             \n"
            "save_on_stop       True\n"
            "snap_on_start      False\n"
            "size               2147483648\n"
            "usage              314572800\n"
            "revisions_to_keep  2\n"
            "ephemeral          False\n"
            "is_outdated        False\n"
            "List of available revisions (for revert):\n"
            "  1764188400\n"
            "  1764192000\n")
    eq([c[:2] for c in calls()],
       [("admin.vm.volume.List", ""), ("admin.vm.volume.Info", "private"),
        ("admin.vm.volume.ListSnapshots", "private")])
    rc, out, _ = run("qvm-volume", "i", "work:root")
    eq(rc, 0)
    check("source             qubes_dom0/vm-fedora-40-root\n" in out, out)
    check("snap_on_start      True\n" in out, out)
    check(out.endswith("List of available revisions (for revert): none\n"),
          out)
    rc, out, _ = run("qvm-volume", "info", "vault:private")
    check("revisions_to_keep  -1 (snapshot disabled)\n" in out, out)


@test
def info_property():
    for prop, value in (("pool", "varlibqubes"), ("size", "2147483648"),
                        ("rw", "True"), ("snap_on_start", "False"),
                        ("source", ""), ("ephemeral", "False"),
                        ("is_outdated", "False"),
                        ("revisions_to_keep", "2"),
                        ("revisions", "1764188400\n1764192000")):
        FAKE.calls.clear()
        rc, out, err = run("qvm-volume", "info", "work:private", prop)
        eq((rc, out, err), (0, value + "\n", ""), prop)
    eq([c[0] for c in calls()],
       ["admin.vm.volume.List", "admin.vm.volume.ListSnapshots"],
       "revisions: no Info")
    rc, out, _ = run("qvm-volume", "info", "vault:private",
                     "revisions_to_keep")
    eq((rc, out), (0, "-1\n"), "kept parsable")
    rc, out, _ = run("qvm-volume", "info", "vault:private", "revisions")
    eq((rc, out), (0, ""))
    # an Info without the optional keys: False
    del FAKE.qubes["work"].volumes["root"]["ephemeral"]
    del FAKE.qubes["work"].volumes["root"]["is_outdated"]
    eq(run("qvm-volume", "info", "work:root", "ephemeral")[:2],
       (0, "False\n"))
    rc, out, _ = run("qvm-volume", "info", "work:root")
    check("is_outdated        False\n" in out, out)


@test
def info_errors():
    for args, code, msg in (
            (["info"], 2, "expected VMNAME:VOLUME"),
            (["info", "work"], 2, "work: expected VMNAME:VOLUME"),
            (["info", "a:b:c"], 2, "expected VMNAME:VOLUME"),
            (["info", "work:private", "size", "x"], 2, "too many"),
            (["info", "nosuch:private"], 2, "nosuch: no such domain"),
            (["info", "work:nosuch"], 1, "work:nosuch: no such volume"),
            (["info", "dom0:root"], 1, "dom0:root: no such volume"),
            (["info", "work:private", "bogus"], 1,
             "bogus: no such property")):
        rc, out, err = run("qvm-volume", *args)
        eq((rc, out), (code, ""), "%s" % args)
        check(err.startswith("qvm-volume: ") and msg in err,
              "%s: %r" % (args, err))
    rc, out, _ = run("qvm-volume", "info", "-h")
    eq(rc, 0)
    check(out.startswith("Usage: qvm-volume"), out)


@test
def revert():
    rc, _, err = run("qvm-volume", "revert", "work:private")
    eq(rc, 1)
    eq(err, "qvm-volume: work:private: Domain is not powered off: 'work'\n")
    FAKE.qubes["work"].state = "Halted"
    FAKE.calls.clear()
    rc, out, err = run("qvm-volume", "revert", "work:private")
    eq((rc, out, err), (0, "", ""))
    eq(calls(), [("admin.vm.volume.List", "", "work", ""),
                 ("admin.vm.volume.ListSnapshots", "private", "work", ""),
                 ("admin.vm.volume.Revert", "private", "work",
                  "1764192000")])
    for cmd in ("rv", "r"):
        FAKE.calls.clear()
        rc, _, _ = run("qvm-volume", cmd, "work:private", "1764188400")
        eq(rc, 0)
        eq(calls()[-1], ("admin.vm.volume.Revert", "private", "work",
                         "1764188400"))
        eq(len(calls()), 2, "no ListSnapshots with a revision")
    rc, _, err = run("qvm-volume", "revert", "work:private", "42")
    eq(rc, 1)
    eq(err, "qvm-volume: work:private: Invalid revision: 42\n")
    FAKE.calls.clear()
    rc, out, err = run("qvm-volume", "revert", "vault:private")
    eq((rc, out), (1, ""))
    eq(err, "qvm-volume: vault:private: no revision to revert to\n")
    check("admin.vm.volume.Revert" not in [c[0] for c in calls()])
    eq(run("qvm-volume", "revert", "nosuch:private")[0], 2)
    eq(run("qvm-volume", "revert")[0], 2)
    eq(run("qvm-volume", "revert", "work:private", "1", "2")[0], 2)


@test
def unsupported_commands():
    for args in (["config", "work:private", "rw", "False"],
                 ["c", "work:private", "rw", "False"], ["set"], ["s"],
                 ["resize", "work:private", "10G"], ["extend"],
                 ["import", "work:private", "-"],
                 ["clone", "work:private", "vault:private"],
                 ["clear", "work:private"]):
        FAKE.calls.clear()
        rc, out, err = run("qvm-volume", *args)
        eq((rc, out), (1, ""), "%s" % args)
        check(re.match(r"qvm-volume: (config|resize|import|clone|clear): "
                       r"not supported by bulkhead yet", err), err)
        eq(FAKE.calls, [], "no call for %s" % args)


@test
def help_and_version():
    rc, out, _ = run("qvm-volume", "--help")
    eq(rc, 0)
    check("revert, rv, r" in out and "BULKHEAD_ADMIN_SOCKET" in out, out)
    rc, out, _ = run("qvm-volume", "--version")
    check(rc == 0 and out.startswith("qvm-volume (bulkhead) "), out)
    rc, out, _ = run("qvm-console", "--help")
    check(rc == 0 and "--follow" in out and "--lines" in out, out)


# ----------------------------------------------------------- qvm-console

HOSTILE = (b"boot ok\r\n"
           b"\x1b]0;pwned\x07\x1b[2Jclear \x9b31m c1 \xc2\x9b31m\r\n"
           b"euro \xe2\x82\xac bad \xff\xfe\xc0\xaf \xed\xa0\x80 end\n"
           b"lone\rcr\ttab \\x41 del\x7f nul\x00\n"
           b"last line without newline\r")
HOSTILE_OUT = ("boot ok\n"
               "\\x1b]0;pwned\\x07\\x1b[2Jclear \\x9b31m c1 \\xc2\\x9b31m\n"
               "euro \u20ac bad \\xff\\xfe\\xc0\\xaf \\xed\\xa0\\x80 end\n"
               "lone\\x0dcr\ttab \\x41 del\\x7f nul\\x00\n"
               "last line without newline\\x0d")


def safe(text):
    """No byte a terminal acts on but newline and tab."""
    return not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text)


@test
def console_no_log():
    rc, out, err = run("qvm-console", "work")
    eq((rc, out), (1, ""))
    eq(err, "qvm-console: work has no console log (only VM qubes have "
            "one)\n")
    rc, out, err = run("qvm-console", "-v", "work")
    check("work: work has no console log" in err, err)
    eq(run("qvm-console", "nosuch")[0], 2)
    eq(run("qvm-console")[0], 2)
    eq(run("qvm-console", "work", "vault")[0], 2)
    eq(run("qvm-console", "-n", "x", "work")[0], 2)
    eq(run("qvm-console", "--lines=-1", "work")[0], 2)
    FAKE.unsupported.add("admin.vm.Console")
    rc, _, err = run("qvm-console", "work")
    eq(rc, 1)
    check("work: request refused by the daemon (ProtocolError" in err, err)


@test
def console_escapes():
    FAKE.consoles["work"] = bytearray(HOSTILE)
    rc, out, err = run("qvm-console", "work")
    eq((rc, err), (0, ""))
    eq(out, HOSTILE_OUT)
    check(safe(out))
    eq([c[:2] for c in calls()], [("admin.vm.Console", "")])
    rc, out, _ = run("qvm-console", "-n", "2", "work")
    eq((rc, out), (0, "lone\\x0dcr\ttab \\x41 del\\x7f nul\\x00\n"
                      "last line without newline\\x0d"))
    rc, out, _ = run("qvm-console", "--lines", "0", "work")
    eq((rc, out), (0, ""))
    rc, out, _ = run("qvm-console", "-n", "100", "work")
    eq((rc, out), (0, HOSTILE_OUT))
    FAKE.consoles["work"] = bytearray(b"a\nb\nc\n")
    eq(run("qvm-console", "-n", "1", "work")[:2], (0, "c\n"))
    eq(run("qvm-console", "-n", "2", "work")[:2], (0, "b\nc\n"))


@test
def console_last_chunk():
    # a long log: the last 64 KiB, from inside a character
    body = ("\u20ac" * 40000 + "\n\n").encode()
    FAKE.consoles["work"] = bytearray(body)
    rc, out, err = run("qvm-console", "work")
    eq((rc, err), (0, ""))
    tail = body[-CHUNK:]
    skip = len(tail) - len(tail.lstrip(bytes(range(0x80, 0xc0))))
    check(skip in (1, 2), "the chunk starts inside a character")
    eq(out, tail[skip:].decode())
    eq(run("qvm-console", "-n", "1", "work")[:2], (0, "\n"))
    eq(run("qvm-console", "-n", "2", "work")[:2], (0, tail[skip:].decode()))


def read_until(proc, buf, want, timeout=10):
    """Read proc's stdout into buf (a bytearray) until want is in it."""
    deadline = time.monotonic() + timeout
    fd = proc.stdout.fileno()
    os.set_blocking(fd, False)
    while want not in buf:
        if time.monotonic() > deadline:
            raise Fail("waited for %r, got %r" % (want, bytes(buf[-200:])))
        try:
            d = os.read(fd, 65536)
        except BlockingIOError:
            d = None
        if d == b"":
            raise Fail("EOF waiting for %r (exit %r)" % (want, proc.poll()))
        if d:
            buf += d
        else:
            time.sleep(0.02)


def follower(*args, sock=None):
    env = dict(os.environ, BULKHEAD_ADMIN_SOCKET=sock or SOCK)
    return subprocess.Popen([os.path.join(BIN, "qvm-console")] + list(args),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)


def finish(proc, sig=None, timeout=10):
    if sig is not None:
        proc.send_signal(sig)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise Fail("qvm-console did not end")
    rest = proc.stdout.read()
    err = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    return rc, rest, err


@test
def console_follow():
    log = FAKE.consoles["work"] = bytearray(b"early\r\n")
    p = follower("--follow", "work")
    buf = bytearray()
    try:
        read_until(p, buf, b"early\n")
        with FAKE.lock:
            log += b"more \x1b[2J"
        read_until(p, buf, b"more \\x1b[2J")
        # a character split between two polls is still one character
        with FAKE.lock:
            log += b"euro \xe2\x82"
        time.sleep(1.2)
        with FAKE.lock:
            log += b"\xac\r"
        time.sleep(1.2)
        with FAKE.lock:
            log += b"\n"
        read_until(p, buf, "euro \u20ac\n".encode())
        # a burst larger than a reply, caught up at once
        big = b"".join(b"line %06d\n" % i for i in range(20000))
        with FAKE.lock:
            log += big
        read_until(p, buf, b"line 019999\n")
        # offsets asked for follow what was read
        offs = [int(c[1]) for c in calls() if c[0] == "admin.vm.Console"
                and c[1] != ""]
        check(offs == sorted(offs), offs)
        eq(offs[-1] <= len(log), True)
        # the log replaced by a shorter one: read from the start
        with FAKE.lock:
            del log[:]
            log += b"new boot\n"
        read_until(p, buf, b"new boot\n")
        rc, rest, err = finish(p, signal.SIGINT)
    except BaseException:
        p.kill()
        p.wait()
        raise
    buf += rest
    eq(rc, 0, "exit on SIGINT")
    out = buf.decode()
    check(safe(out), "escaped")
    eq(out.count("line "), 20000, "every line once")
    eq(out.count("new boot"), 1)
    check(out.startswith("early\nmore \\x1b[2Jeuro \u20ac\nline 000000\n"),
          out[:80])
    eq(err, "qvm-console: work: the console log was replaced, reading it "
            "from the start\n")


@test
def console_follow_log_gone():
    FAKE.consoles["work"] = bytearray(b"one\n")
    p = follower("-f", "-n", "0", "work")
    buf = bytearray()
    try:
        time.sleep(0.8)
        with FAKE.lock:
            FAKE.consoles["work"] += b"two\n"
        read_until(p, buf, b"two\n")
        with FAKE.lock:
            del FAKE.consoles["work"]
        rc, rest, err = finish(p)
    except BaseException:
        p.kill()
        p.wait()
        raise
    eq(rc, 0)
    eq(bytes(buf + rest), b"two\n", "-n 0: only what came after")
    eq(err, "qvm-console: work: the console log is gone\n")
    # -q: silent
    FAKE.consoles["work"] = bytearray(b"x\n")
    p = follower("-q", "-f", "work")
    buf = bytearray()
    read_until(p, buf, b"x\n")
    with FAKE.lock:
        del FAKE.consoles["work"]
    rc, _, err = finish(p)
    eq((rc, err), (0, ""))


# --------------------------------------------------- compat (optional)

@test
def compat_with_qubes_client():
    """Our list and info against Qubes' own qvm-volume (optional)."""
    src = os.environ.get("QUBES_ADMIN_CLIENT")
    if not src:
        return "SKIP QUBES_ADMIN_CLIENT not set"
    meta = os.path.join(TMP, "meta", "qubesadmin-4.3.0.dist-info")
    os.makedirs(meta, exist_ok=True)
    with open(os.path.join(meta, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: qubesadmin\nVersion: 4.3.0\n"
                "Summary: Qubes Admin API\nAuthor-email: x@example.org\n"
                "License: LGPL\n")
    wrapper = os.path.join(TMP, "qubes_tool.py")
    with open(wrapper, "w") as f:
        f.write("import importlib, os, sys\n"
                "sys.path[:0] = [%r, %r]\n"
                "import qubesadmin, qubesadmin.app, qubesadmin.config\n"
                "qubesadmin.config.QUBESD_SOCKET = %r\n"
                "qubesadmin.Qubes = qubesadmin.app.QubesLocal\n"
                "sys.argv = sys.argv[1:]\n"
                "m = importlib.import_module('qubesadmin.tools.' + "
                "sys.argv[0].replace('-', '_'))\n"
                "sys.exit(m.main())\n" % (os.path.dirname(meta), src, SOCK))
    cases = [["qvm-volume"], ["qvm-volume", "list", "work", "vault"],
             ["qvm-volume", "ls", "--all", "--exclude", "work"],
             ["qvm-volume", "info", "work:private"],
             ["qvm-volume", "info", "work:root"],
             ["qvm-volume", "info", "vault:private"],
             ["qvm-volume", "info", "work:private", "revisions"],
             ["qvm-volume", "info", "vault:private", "revisions_to_keep"],
             ["qvm-volume", "info", "work:private", "size"]]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    for case in cases:
        FAKE.reset()
        rc, out, _ = run(*case)
        p = subprocess.run([sys.executable, wrapper] + case,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env)
        eq((rc, out), (p.returncode, p.stdout.decode()), " ".join(case))
    return None


# ------------------------------------------------------ real bulkheadd

DAEMON_TESTS = []


def daemon_test(fn):
    DAEMON_TESTS.append(fn)
    return fn


@daemon_test
def real_list_and_info(d):
    def ok(*args):
        rc, out, err = run(*args, sock=d.sock)
        eq(rc, 0, "%s: exit (stderr %r)" % (" ".join(args), err))
        return out
    ok("qvm-create", "-C", "TemplateVM", "-l", "black", "tpl")
    ok("qubes-prefs", "default_template", "tpl")
    ok("qvm-create", "-l", "blue", "work")
    vols = d.call("admin.vm.volume.List", "work").split()
    check("private" in vols and "root" in vols, vols)
    out = ok("qvm-volume", "list")
    lines = out.splitlines()
    eq(lines[0].split(), ["POOL:VOLUME", "VMNAME", "VOLUME_NAME",
                          "REVERT_POSSIBLE"])
    rows = [ln.split() for ln in lines[1:]]
    eq(sorted((r[1], r[2]) for r in rows),
       sorted([("tpl", v) for v in
               d.call("admin.vm.volume.List", "tpl").split()] +
              [("work", v) for v in vols]))
    check(all(r[3] == "No" for r in rows), "directories keep no revisions")
    eq([r for r in rows if r[1] == "work"],
       [r for r in (ln.split() for ln in
                    ok("qvm-volume", "ls", "work").splitlines()[1:])])
    info = ok("qvm-volume", "info", "work:private")
    kv = dict((ln.split(None, 1) + [""])[:2] for ln in info.splitlines()
              if not ln.startswith(("List of", " ")))
    raw = dict(ln.split("=", 1) for ln in
               d.call("admin.vm.volume.Info", "work", "private").splitlines())
    eq(kv["pool"], raw["pool"])
    eq(kv["vid"], raw["vid"])
    eq(kv["rw"], "True")
    check(info.endswith("List of available revisions (for revert): "
                        "none\n"), info)
    eq(ok("qvm-volume", "info", "work:root", "snap_on_start"), "True\n")
    eq(ok("qvm-volume", "info", "work:root", "source"), "tpl/root\n")
    eq(ok("qvm-volume", "info", "work:private", "revisions"), "")


@daemon_test
def real_errors(d):
    rc, out, err = run("qvm-volume", "revert", "work:private", sock=d.sock)
    eq((rc, out), (1, ""))
    eq(err, "qvm-volume: work:private: no revision to revert to\n")
    # with a revision the daemon decides (no revisions: refused)
    rc, out, err = run("qvm-volume", "revert", "work:private", "1764188400",
                       sock=d.sock)
    eq((rc, out), (1, ""))
    check(err.startswith("qvm-volume: work:private: "), err)
    eq(run("qvm-volume", "info", "nosuch:private", sock=d.sock)[0], 2)
    eq(run("qvm-volume", "list", "nosuch", sock=d.sock)[0], 2)
    rc, _, err = run("qvm-volume", "info", "dom0:root", sock=d.sock)
    eq(rc, 1)
    check("dom0:root: no such volume" in err, err)
    rc, _, err = run("qvm-volume", "info", "work:nosuch", sock=d.sock)
    eq(rc, 1)
    rc, out, err = run("qvm-console", "work", sock=d.sock)
    eq((rc, out), (1, ""))
    if "ProtocolError" in err:
        return "SKIP bulkheadd does not serve admin.vm.Console yet"
    eq(err, "qvm-console: work has no console log (only VM qubes have "
            "one)\n")
    return None


@daemon_test
def real_console_log(d):
    try:
        d.call("admin.vm.Console", "work")
    except Exception as e:  # noqa: BLE001 - only the type matters
        if getattr(e, "type", "") == "ProtocolError":
            return "SKIP bulkheadd does not serve admin.vm.Console yet"
    # a log written where the daemon keeps a VM qube's (it serves the
    # file of any qube that has one; no qube is started)
    logdir = os.path.join(d.state, "log")
    os.makedirs(logdir, exist_ok=True)
    path = os.path.join(logdir, "work.console.log")
    with open(path, "wb") as f:
        f.write(HOSTILE)
    rc, out, err = run("qvm-console", "work", sock=d.sock)
    if rc == 1 and "has no console log" in err:
        return "SKIP the daemon does not read %s" % path
    eq((rc, err), (0, ""))
    # the daemon sends a NUL as '.'
    eq(out, HOSTILE_OUT.replace("\\x00", "."))
    p = follower("-f", "-n", "0", "work", sock=d.sock)
    buf = bytearray()
    try:
        time.sleep(0.8)
        with open(path, "ab") as f:
            f.write(b"appended \x1b[31m\n")
        read_until(p, buf, b"appended \\x1b[31m\n")
        rc, rest, _ = finish(p, signal.SIGINT)
    except BaseException:
        p.kill()
        p.wait()
        raise
    eq(rc, 0)
    check(safe((buf + rest).decode()))
    return None


# ------------------------------------------------------------------ main

def report(i, name, fn, *args):
    try:
        res = fn(*args)
        if isinstance(res, str) and res.startswith("SKIP"):
            print("ok %d - %s # %s" % (i, name, res))
        else:
            print("ok %d - %s" % (i, name))
        ok = True
    except Exception as e:  # noqa: BLE001 - report every failure
        print("not ok %d - %s" % (i, name))
        for line in ("%s\n%s" % (e, traceback.format_exc())).splitlines():
            print("# " + line)
        ok = False
    sys.stdout.flush()
    return ok


def main():
    FAKE.start()
    print("1..%d" % (len(TESTS) + len(DAEMON_TESTS)))
    failed = 0
    i = 0
    try:
        for fn in TESTS:
            i += 1
            FAKE.reset()
            failed += not report(i, fn.__name__, fn)
    finally:
        FAKE.stop()
    if not os.access(DAEMON, os.X_OK):
        for fn in DAEMON_TESTS:
            i += 1
            print("ok %d - %s # SKIP bulkheadd not built" % (i, fn.__name__))
    else:
        import bh
        d = bh.Bulkheadd("process")
        try:
            d.start()
            for fn in DAEMON_TESTS:
                i += 1
                failed += not report(i, fn.__name__, fn, d)
        finally:
            if failed:
                for line in d.log().splitlines()[-30:]:
                    print("# log: " + line)
            d.close()
    shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
