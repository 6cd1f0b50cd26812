#!/usr/bin/env python3
"""The qvm-* tools against the real bulkheadd (process backend).

A bulkheadd in a temp directory with the process backend (qubes are plain
processes with a qrexec agent) and no policy daemon; the tools reach it
through BULKHEAD_ADMIN_SOCKET, and qvm-run reaches the qubes through the
build's qrexec-client (BULKHEAD_QREXEC_CLIENT, BULKHEAD_QREXEC_SOCKET_DIR
and the vchan variables for this run directory).  The qubes' services
qubes.VMShell and qubes.VMExec are small test scripts in the
configuration's qubes-rpc directory, as a template would have them.

Skipped (one TAP line) when the daemon was not built.  TAP output.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("BULKHEAD_BUILD_DIR") or os.path.join(
    HERE, "..", "..", "build")
BIN = os.path.join(BUILD, "src", "cli")
DAEMON = os.path.join(BUILD, "src", "daemon", "bulkheadd")
QREXEC_CLIENT = os.path.join(BUILD, "src", "qrexec-client")

ROOT = tempfile.mkdtemp(prefix="bulkhead-cli-daemon-")
STATE = os.path.join(ROOT, "state")
RUN = os.path.join(ROOT, "run")
CONF = os.path.join(ROOT, "conf")
SOCK = os.path.join(ROOT, "qubesd.sock")

VMSHELL = "#!/bin/sh\nexec /bin/bash\n"
# Qubes' VMExec argument encoding, undone (a test stand-in for the agent
# side's own qubes.VMExec).
VMEXEC = r'''#!/usr/bin/env python3
import os, re, sys
arg = sys.argv[1] if len(sys.argv) > 1 else ""
def dec(p):
    return re.sub(rb"-(-|[0-9A-F]{2})",
                  lambda m: b"-" if m.group(1) == b"-"
                  else bytes([int(m.group(1), 16)]), p.encode())
argv = [dec(p) for p in arg.split("+")]
os.execvp(argv[0], argv)
'''


class Fail(Exception):
    pass


def eq(a, b, what="value"):
    if a != b:
        raise Fail("%s: expected %r, got %r" % (what, b, a))


def check(cond, msg="check failed"):
    if not cond:
        raise Fail(msg)


def run(tool, *args, stdin=b"", timeout=60):
    env = dict(os.environ)
    env.update({
        "BULKHEAD_ADMIN_SOCKET": SOCK,
        "BULKHEAD_QREXEC_CLIENT": QREXEC_CLIENT,
        "BULKHEAD_QREXEC_SOCKET_DIR": os.path.join(RUN, "qrexec"),
        "VCHAN_SOCKET_DIR": os.path.join(RUN, "vchan"),
        "VCHAN_DOMAIN": "0",
        "BULKHEAD_VCHAN_LAYOUT": "per-qube",
    })
    env.pop("DISPLAY", None)
    p = subprocess.run([os.path.join(BIN, tool)] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def ok(tool, *args, **kw):
    rc, out, err = run(tool, *args, **kw)
    eq(rc, 0, "%s %s: exit (stderr %r)" % (tool, " ".join(args), err))
    return out


def qubes():
    out = ok("qvm-ls", "--raw-data", "--fields", "name,class,state")
    return {line.split("|")[0]: line.split("|")[1:]
            for line in out.splitlines()}


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def create_and_configure():
    ok("qvm-create", "-C", "TemplateVM", "-l", "black", "tpl")
    ok("qubes-prefs", "default_template", "tpl")
    ok("qvm-create", "-l", "blue", "--prop", "memory=500", "work")
    eq(qubes()["work"], ["AppVM", "Halted"])
    eq(ok("qvm-prefs", "work", "template"), "tpl\n")
    eq(ok("qvm-prefs", "work", "memory"), "500\n")
    ok("qvm-prefs", "-D", "work", "memory")
    check(ok("qvm-prefs", "work", "memory") != "500\n")
    rc, _, err = run("qvm-prefs", "work", "nosuch")
    eq(rc, 2, "unknown property")
    ok("qvm-features", "work", "x-test", "yes")
    eq(ok("qvm-features", "work", "x-test"), "yes\n")
    ok("qvm-features", "--unset", "work", "x-test")
    eq(run("qvm-features", "work", "x-test")[0], 1, "unset feature")
    ok("qvm-service", "work", "cups", "on")
    eq(ok("qvm-service", "work"), "cups  on\n")
    ok("qvm-tags", "work", "add", "project-x")
    check("project-x" in ok("qvm-tags", "work").split())
    ok("qvm-tags", "work", "del", "project-x", "not-there")
    eq(run("qvm-tags", "work", "list", "project-x")[0], 1)
    out = ok("qvm-ls", "-o", "json", "--fields", "name,label,template",
             "work")
    check('"label": "blue"' in out, out)


@test
def lifecycle():
    ok("qvm-start", "work")
    eq(qubes()["work"][1], "Running")
    rc, _, err = run("qvm-start", "work")
    eq(rc, 1)
    check("domain is already running" in err, err)
    ok("qvm-start", "--skip-if-running", "work")
    eq(run("qvm-check", "-q", "--running", "work", "tpl")[0], 3)
    ok("qvm-pause", "work")
    eq(qubes()["work"][1], "Paused")
    ok("qvm-unpause", "work")
    ok("qvm-shutdown", "--wait", "work")
    eq(qubes()["work"][1], "Halted")
    ok("qvm-shutdown", "work")  # halted: not an error
    ok("qvm-start", "work", "tpl")
    ok("qvm-kill", "work")
    ok("qvm-shutdown", "--timeout", "20", "tpl")
    eq(qubes()["tpl"][1], "Halted")


@test
def run_commands():
    eq(ok("qvm-run", "-p", "work", "echo hello; exit 0"), "hello\n")
    eq(qubes()["work"][1], "Running")  # started for the command
    rc, out, _ = run("qvm-run", "-p", "work", "--", "sh", "-c",
                     'echo "$@"; exit 7', "x", "a b", "it's")
    eq((rc, out), (7, "a b it's\n"))
    ok("qvm-features", "work", "vmexec", "1")
    rc, out, _ = run("qvm-run", "-p", "work", "--", "sh", "-c",
                     'echo "$@"; exit 7', "x", "a b", "it's")
    eq((rc, out), (7, "a b it's\n"))
    eq(ok("qvm-run", "-p", "--no-shell", "work", "cat", stdin=b"data"),
       "data")
    rc, _, err = run("qvm-run", "work", "exit 3")
    eq(rc, 3)
    check("work: command failed with code: 3" in err, err)
    eq(ok("qvm-run", "-p", "--service", "work", "qubes.VMShell",
          stdin=b"echo via service\n"), "via service\n")
    ok("qvm-shutdown", "--wait", "work")
    rc, _, err = run("qvm-run", "-n", "work", "true")
    eq(rc, 1)


@test
def disposables():
    ok("qvm-create", "-l", "red", "--prop", "template_for_dispvms=True",
       "--prop", "qrexec_timeout=15", "dvm")
    ok("qubes-prefs", "default_dispvm", "dvm")
    before = set(qubes())

    def gone():
        # killed after the command; bulkheadd removes it once it is down
        deadline = time.monotonic() + 10
        while set(qubes()) != before and time.monotonic() < deadline:
            time.sleep(0.2)
        eq(set(qubes()), before, "disposables left")
    eq(ok("qvm-run", "-p", "--dispvm", "--", "echo disposable"),
       "disposable\n")
    gone()
    # the next one at once (it may get the same domain id)
    eq(ok("qvm-run", "-p", "--dispvm=dvm", "echo named"), "named\n")
    gone()


@test
def raw_query():
    rc, out, _ = run("qubesd-query", "-e", "dom0", "admin.vm.List", "work")
    eq(rc, 0)
    check(out.startswith("0\0work class=AppVM state="), repr(out))
    rc, out, err = run("qubesd-query", "--fail", "-e", "dom0",
                       "admin.vm.property.Get", "work", "nosuch")
    eq(rc, 2)
    check(out.startswith("2\0QubesNoSuchPropertyError\0"), repr(out))


@test
def clone_and_remove():
    # bulkheadd clones volumes (admin.vm.volume.CloneFrom/CloneTo)
    ok("qvm-clone", "work", "work2")
    eq(ok("qvm-prefs", "work2", "label"), "blue\n")
    check("created-by-dom0" in ok("qvm-tags", "work2"))
    ok("qvm-remove", "-f", "work2")
    check("work2" not in qubes(), "clone left after its removal")
    rc, _, err = run("qvm-remove", "-f", "tpl")
    eq(rc, 1)
    check("VM tpl cannot be removed. It is in use as:" in err, err)
    ok("qvm-remove", "work", stdin=b"y\n")
    check("work" not in qubes())


def main():
    if not os.access(DAEMON, os.X_OK):
        print("1..0 # SKIP bulkheadd not built")
        return 0
    rpc = os.path.join(CONF, "qubes-rpc")
    os.makedirs(rpc)
    os.makedirs(os.path.join(CONF, "policy.d"))
    for name, text in (("qubes.VMShell", VMSHELL), ("qubes.VMExec", VMEXEC)):
        with open(os.path.join(rpc, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(rpc, name), 0o755)
    env = dict(os.environ)
    env.pop("VCHAN_SOCKET_DIR", None)
    log = open(os.path.join(ROOT, "bulkheadd.log"), "w")
    daemon = subprocess.Popen(
        [DAEMON, "--state-dir", STATE, "--run-dir", RUN, "--conf-dir", CONF,
         "--socket", SOCK, "--backend", "process", "--no-policy-daemon",
         "--debug"], stdout=log, stderr=log, env=env)
    failed = 0
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(SOCK):
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise RuntimeError("bulkheadd did not start")
            time.sleep(0.1)
        print("1..%d" % len(TESTS))
        for i, fn in enumerate(TESTS, 1):
            try:
                fn()
                print("ok %d - %s" % (i, fn.__name__))
            except Exception as e:  # noqa: BLE001 - report every failure
                failed += 1
                print("not ok %d - %s" % (i, fn.__name__))
                for line in ("%s\n%s" % (e, traceback.format_exc())
                             ).splitlines():
                    print("# " + line)
            sys.stdout.flush()
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
        if failed:
            with open(os.path.join(ROOT, "bulkheadd.log")) as f:
                for line in f.read().splitlines()[-40:]:
                    print("# log: " + line)
        shutil.rmtree(ROOT, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
