#!/usr/bin/env python3
"""The qvm-* tools against a fake Admin API daemon (fake_qubesd.py).

Each test resets the fake's qube model, runs a tool with
BULKHEAD_ADMIN_SOCKET pointing at the fake, and checks what it printed,
its exit code, and the calls the fake received (method, argument,
destination, payload), which must be those Qubes' own client makes
(reference/admin-client.md).  qvm-run gets a stub qrexec-client
(BULKHEAD_QREXEC_CLIENT) that records its argv and standard input.

With QUBES_ADMIN_CLIENT set to a checkout of qubes-core-admin-client, the
"compat" test also runs Qubes' own tools against the same fake and
compares their output with ours.

TAP output, one line a test.  Standard library only.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fake_qubesd  # noqa: E402

BUILD = os.environ.get("BULKHEAD_BUILD_DIR") or os.path.join(
    HERE, "..", "..", "build")
SOURCE = os.environ.get("BULKHEAD_SOURCE_DIR") or os.path.join(HERE, "..",
                                                               "..")
BIN = os.path.join(BUILD, "src", "cli")

TMP = tempfile.mkdtemp(prefix="bulkhead-cli-")
SOCK = os.path.join(TMP, "qubesd.sock")
STUB_LOG = os.path.join(TMP, "qrexec-client.log")
STUB = os.path.join(TMP, "qrexec-client")
FAKE = fake_qubesd.FakeQubesd(SOCK)

STUB_TEXT = r"""#!/usr/bin/env python3
import json, os, sys
data = sys.stdin.buffer.read() if not os.isatty(0) else b""
with open(%r, "a") as f:
    f.write(json.dumps({"argv": sys.argv[1:],
                        "stdin": data.decode("utf-8", "replace")}) + "\n")
sys.stdout.write("remote output\n")
sys.stderr.write("remote error\n")
sys.exit(int(os.environ.get("STUB_EXIT", "0")))
""" % STUB_LOG


# qrexec-client-vm in a management qube "mgmt", for the tools' remote mode:
# "DEST METHOD[+ARG]", the payload on stdin; the admin side names the
# caller as the source (here: the stub passes the call to the fake daemon
# with source mgmt) and the reply frame comes back on stdout.  With
# STUB_REFUSE set it is a call the policy refused: nothing comes back, 126.
QCVM_LOG = os.path.join(TMP, "qrexec-client-vm.log")
QCVM = os.path.join(TMP, "qrexec-client-vm")
QCVM_TEXT = r"""#!/usr/bin/env python3
import json, os, socket, sys
if not sys.argv[2].startswith("admin."):
    # a service in another qube (qvm-run): recorded as the qrexec-client
    # stub records its calls
    data = sys.stdin.buffer.read() if not os.isatty(0) else b""
    with open(%r, "a") as f:
        f.write(json.dumps({"argv": sys.argv[1:],
                            "stdin": data.decode("utf-8", "replace")}) + "\n")
    sys.stdout.write("remote output\n")
    sys.exit(0)
dest, svc = sys.argv[1], sys.argv[2]
with open(%r, "a") as f:
    f.write("%%s %%s\n" %% (dest, svc))
if os.environ.get("STUB_REFUSE"):
    sys.stderr.write("Request refused\n")
    sys.exit(126)
method, _, arg = svc.partition("+")
payload = sys.stdin.buffer.read()
s = socket.socket(socket.AF_UNIX)
s.connect(%r)
s.sendall(("%%s+%%s mgmt name %%s\0" %% (method, arg, dest)).encode() +
          payload)
s.shutdown(socket.SHUT_WR)
while True:
    d = s.recv(65536)
    if not d:
        break
    sys.stdout.buffer.write(d)
""" % (STUB_LOG, QCVM_LOG, SOCK)


class Fail(Exception):
    pass


def check(cond, msg="check failed"):
    if not cond:
        raise Fail(msg)


def eq(a, b, what=""):
    if a != b:
        raise Fail("%s: expected %r, got %r" % (what or "value", b, a))


def run(tool, *args, stdin=b"", env=None, timeout=60):
    e = dict(os.environ)
    e["BULKHEAD_ADMIN_SOCKET"] = SOCK
    e["BULKHEAD_QREXEC_CLIENT"] = STUB
    e.pop("DISPLAY", None)
    if env:
        e.update(env)
    p = subprocess.run([os.path.join(BIN, tool)] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=e, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def calls(skip_list=True):
    """(method, arg, dest, payload) of each call, without admin.vm.List."""
    return [(c["method"], c["arg"], c["dest"], c["payload"])
            for c in FAKE.calls
            if not (skip_list and c["method"] == "admin.vm.List")]


def methods():
    return [c["method"] for c in FAKE.calls]


def stub_runs():
    if not os.path.exists(STUB_LOG):
        return []
    with open(STUB_LOG) as f:
        runs = [json.loads(line) for line in f]
    os.unlink(STUB_LOG)
    return runs


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


# ---------------------------------------------------------------- qvm-ls

LS_DEFAULT = """\
NAME          STATE    CLASS       LABEL   TEMPLATE   NETVM
default-dvm   Halted   AppVM       red     fedora-40  sys-firewall
dom0          Running  AdminVM     black   -          -
fedora-40     Halted   TemplateVM  black   -          -
personal      Halted   AppVM       yellow  fedora-40  sys-firewall
sys-firewall  Running  AppVM       green   fedora-40  sys-net
sys-net       Running  AppVM       red     fedora-40  -
untrusted     Paused   AppVM       red     fedora-40  sys-firewall
vault         Halted   AppVM       black   fedora-40  -
work          Running  AppVM       blue    fedora-40  sys-firewall
"""


@test
def ls_default():
    rc, out, err = run("qvm-ls")
    eq(rc, 0, "exit")
    eq(out, LS_DEFAULT, "table")
    eq(methods()[0], "admin.vm.List", "first call")
    getall = sorted(c[2] for c in calls()
                    if c[0] == "admin.vm.property.GetAll")
    eq(getall, sorted(FAKE.qubes), "one GetAll a qube")
    eq(len(calls()), len(FAKE.qubes), "nothing else")


@test
def ls_raw_list_only():
    rc, out, _ = run("qvm-ls", "--raw-data", "--fields", "NAME,CLASS")
    eq(rc, 0)
    check(out.startswith("default-dvm|AppVM\ndom0|AdminVM\n"), out)
    # admin-client.md: admin.vm.List only
    eq(methods(), ["admin.vm.List"])


@test
def remote_mode_in_a_qube():
    """BULKHEAD_ADMIN_SOCKET=qrexec: every call is qrexec-client-vm DEST
    METHOD[+ARG] with the payload on stdin, as Qubes' admin client makes
    it in a management qube; the output is the same."""
    env = {"BULKHEAD_ADMIN_SOCKET": "qrexec",
           "BULKHEAD_QREXEC_CLIENT_VM": QCVM}
    if os.path.exists(QCVM_LOG):
        os.unlink(QCVM_LOG)
    rc, out, err = run("qvm-ls", env=env)
    eq((rc, out), (0, LS_DEFAULT), "qvm-ls through qrexec")
    check(all(c["src"] == "mgmt" for c in FAKE.calls), FAKE.calls)
    with open(QCVM_LOG) as f:
        lines = f.read().splitlines()
    check("dom0 admin.vm.List" in lines, lines)
    check("work admin.vm.property.GetAll" in lines, lines)
    FAKE.reset()
    rc, out, err = run("qvm-prefs", "work", "label", "green", env=env)
    eq(rc, 0, "qvm-prefs set through qrexec")
    eq(calls(), [("admin.vm.property.Set", "label", "work", "green")])
    with open(QCVM_LOG) as f:
        check(f.read().splitlines()[-1] ==
              "work admin.vm.property.Set+label", "argv of the last call")
    # qvm-run: the call is the qube's own qrexec-client-vm call
    FAKE.reset()
    stub_runs()
    rc, out, err = run("qvm-run", "-p", "work", "echo hi", env=env)
    eq((rc, out), (0, "remote output\n"), "qvm-run through qrexec")
    eq([r["argv"] for r in stub_runs()],
       [["-p", "echo hi; exit\n", "work", "qubes.VMShell"]])
    rc, out, err = run("qvm-run", "-p", "-u", "u2", "work", "id", env=env)
    eq(rc, 255, "--user in a qube: the call cannot be made")
    check("the qrexec policy chooses the user" in err, err)
    eq(stub_runs(), [])
    # the policy refused: nothing comes back
    rc, out, err = run("qvm-ls", env=dict(env, STUB_REFUSE="1"))
    eq((rc, out), (1, ""), "a refused call")
    check("Permission denied" in err, err)


@test
def ls_names_and_wildcards():
    rc, out, _ = run("qvm-ls", "--raw-list", "work", "sys-*", "work")
    eq(rc, 0)
    eq(out, "sys-firewall\nsys-net\nwork\n")


@test
def ls_unknown_qube():
    rc, out, err = run("qvm-ls", "nosuch")
    eq(rc, 2)
    eq(out, "")
    check("nosuch: no such domain" in err, err)
    eq(methods(), ["admin.vm.List"])


@test
def ls_json():
    rc, out, _ = run("qvm-ls", "--format", "json", "--fields",
                     "name,state,memory,debug,netvm,vcpus", "work", "vault")
    eq(rc, 0)
    data = json.loads(out)
    eq(data, [
        {"name": "vault", "state": "Halted", "memory": None,
         "debug": False, "netvm": None, "vcpus": 2},
        {"name": "work", "state": "Running", "memory": 400,
         "debug": False, "netvm": "sys-firewall", "vcpus": 2},
    ])
    # MEMORY reads CurrentState, of the running qube only
    eq([c[2] for c in calls() if c[0] == "admin.vm.CurrentState"], ["work"])
    rc, out, _ = run("qvm-ls", "-o", "json", "dom0")
    eq(json.loads(out)[0]["class"], "AdminVM")


@test
def ls_formats():
    rc, out, _ = run("qvm-ls", "-n", "work", "vault")
    eq(out, "NAME   STATE    NETVM         IP          IPBACK  GATEWAY\n"
            "vault  Halted   -             -           -       -\n"
            "work   Running  sys-firewall  10.137.0.4  -       -\n")
    rc, out, _ = run("qvm-ls", "--disk", "work")
    eq(out.splitlines()[1].split(),
       ["work", "Running", "300", "300", "2048", "14%", "0", "10240", "0%"])
    check("admin.vm.volume.Info" in methods())
    rc, out, _ = run("qvm-ls", "--fields", "name,flags", "sys-net", "dom0",
                     "fedora-40")
    eq(out, "NAME       FLAGS\ndom0       0r------\nfedora-40  t-U-----\n"
            "sys-net    ar-N----\n")
    rc, out, err = run("qvm-ls", "--format", "nosuch")
    eq(rc, 2)
    rc, out, err = run("qvm-ls", "-n", "-d")
    eq(rc, 2)
    rc, out, _ = run("qvm-ls", "--help-formats")
    eq(rc, 0)
    check("  network  NAME,STATE,NETVM,IP,IPBACK,GATEWAY" in out, out)


@test
def ls_tree():
    rc, out, _ = run("qvm-ls", "--tree", "--fields", "name,netvm")
    eq(rc, 0)
    eq(out, "NAME             NETVM\n"
            "dom0             -\n"
            "fedora-40        -\n"
            "vault            -\n"
            "sys-net          -\n"
            "\u2514\u2500sys-firewall   sys-net\n"
            "  \u2514\u2500default-dvm  sys-firewall\n"
            "  \u2514\u2500personal     sys-firewall\n"
            "  \u2514\u2500untrusted    sys-firewall\n"
            "  \u2514\u2500work         sys-firewall\n")


@test
def ls_filters():
    def names(*args):
        rc, out, err = run("qvm-ls", "--raw-list", *args)
        eq(rc, 0, "exit of %r: %s" % (args, err))
        return out.split()
    eq(names("--running"), ["dom0", "sys-firewall", "sys-net", "work"])
    eq(names("--paused", "--halted"),
       ["default-dvm", "fedora-40", "personal", "untrusted", "vault"])
    # nargs '+': the words after --class are classes
    eq(names("--class", "TemplateVM", "AdminVM"), ["dom0", "fedora-40"])
    eq(names("--label", "red"), ["default-dvm", "sys-net", "untrusted"])
    eq(names("--tags", "project-x"), ["work"])
    eq(len(names("--exclude-tags", "created-by-dom0")), len(FAKE.qubes) - 2)
    eq(names("--template-source", "fedora-40", "--running"),
       ["sys-firewall", "sys-net", "work"])
    eq(names("--netvm-is", "sys-net"), ["sys-firewall"])
    eq(names("--internal", "y"), ["untrusted"])
    eq(names("--features", "service.cups=1"), ["work"])
    eq(names("--features", "service.crond=''"), ["work"])
    eq(names("--prefs", "memory=800"), ["work"])
    eq(names("--all", "--exclude", "dom0", "--exclude", "vault",
             "--running"), ["sys-firewall", "sys-net", "work"])
    rc, _, err = run("qvm-ls", "--exclude", "dom0")
    eq(rc, 2)
    rc, _, err = run("qvm-ls", "--internal", "maybe")
    eq(rc, 2)


@test
def ls_sort():
    rc, out, _ = run("qvm-ls", "--fields", "name,label", "--sort", "label",
                     "--raw-data")
    # --sort does not apply to raw output (as Qubes)
    check(out.startswith("default-dvm|red\ndom0|black\n"), out)
    rc, out, _ = run("qvm-ls", "--fields", "name,label", "--sort", "LABEL")
    eq([l.split()[1] for l in out.splitlines()[1:4]],
       ["black", "black", "black"])
    FAKE.reset()
    FAKE.qubes["vault"].props["maxmem"] = "900"
    FAKE.qubes["work"].props["maxmem"] = "10000"
    rc, out, _ = run("qvm-ls", "--fields", "name,maxmem", "--sort",
                     "maxmem", "--reverse", "work", "vault", "dom0")
    eq(out.split(), ["NAME", "MAXMEM", "work", "10000", "vault", "900",
                     "dom0", "-"])


@test
def ls_getall_missing():
    # a daemon without GetAll: List and Get each, same output
    FAKE.unsupported.add("admin.vm.property.GetAll")
    rc, out, _ = run("qvm-ls")
    eq(rc, 0)
    eq(out, LS_DEFAULT)
    check("admin.vm.property.Get" in methods())
    FAKE.reset()
    FAKE.empty_reply.add("admin.vm.property.GetAll")
    rc, out, _ = run("qvm-ls", "work")
    eq(out.splitlines()[1].split()[0], "work")


# ---------------------------------------------------------- qvm-prefs


@test
def prefs_list():
    rc, out, err = run("qvm-prefs", "untrusted")
    eq(rc, 0, err)
    lines = out.splitlines()
    check("description           -  line1" in lines, out)
    check("line2 \\ end" in lines, out)
    check("stubdom_mem           U" in lines, out)
    check("netvm                 D  sys-firewall" in lines, out)
    check("label                 -  red" in lines, out)
    eq(methods(), ["admin.vm.List", "admin.vm.property.List",
                   "admin.vm.property.GetAll"])
    rc, out, _ = run("qvm-prefs", "--hide-default", "work")
    eq([l.split()[0] for l in out.splitlines()],
       ["label", "memory", "name", "qid", "stubdom_mem", "template", "uuid"])
    rc, out, _ = run("qvm-prefs", "vault")
    check("netvm                 -  None" in out.splitlines(), out)


@test
def prefs_get_set_reset():
    rc, out, _ = run("qvm-prefs", "work", "netvm")
    eq((rc, out), (0, "sys-firewall\n"))
    eq(calls(), [("admin.vm.property.Get", "netvm", "work", "")])
    rc, out, _ = run("qvm-prefs", "vault", "netvm")
    eq((rc, out), (0, ""))
    rc, out, _ = run("qvm-prefs", "--hide-default", "work", "vcpus")
    eq((rc, out), (0, ""))
    FAKE.calls.clear()
    rc, out, _ = run("qvm-prefs", "work", "memory", "1000")
    eq((rc, out), (0, ""))
    eq(calls(), [("admin.vm.property.Set", "memory", "work", "1000")])
    rc, out, _ = run("qvm-prefs", "--get", "work", "memory")
    eq(out, "1000\n")
    FAKE.calls.clear()
    rc, _, _ = run("qvm-prefs", "work", "netvm", "None")
    eq(calls(), [("admin.vm.property.Set", "netvm", "work", "")])
    FAKE.calls.clear()
    rc, _, _ = run("qvm-prefs", "-D", "work", "memory")
    eq(rc, 0)
    eq(calls(), [("admin.vm.property.Reset", "memory", "work", "")])
    FAKE.calls.clear()
    # '-' is read as '_'
    rc, out, _ = run("qvm-prefs", "work", "default-user")
    eq(out, "user\n")
    eq(calls(), [("admin.vm.property.Get", "default_user", "work", "")])


@test
def prefs_errors():
    rc, out, err = run("qvm-prefs", "work", "nosuch")
    eq(rc, 2)
    check("nosuch: no such property" in err, err)
    rc, out, err = run("qvm-prefs", "work", "memory", "lots")
    eq(rc, 1)
    check("memory: Invalid value for property memory" in err, err)
    rc, out, err = run("qvm-prefs", "nosuchvm")
    eq(rc, 2)
    check("nosuchvm: no such domain" in err, err)
    rc, out, err = run("qvm-prefs", "-D", "work", "memory", "3")
    eq(rc, 2)
    rc, out, err = run("qvm-prefs", "-D", "work")
    eq(rc, 2)
    rc, out, err = run("qvm-prefs")
    eq(rc, 2)
    rc, out, _ = run("qvm-prefs", "--help-properties", "work")
    eq(rc, 0)
    check(re.search(r"^  netvm +VM that provides network connection to "
                    r"this domain\.$", out, re.M), out)


@test
def qubes_prefs():
    rc, out, _ = run("qubes-prefs")
    eq(rc, 0)
    check("default_template          D  fedora-40" in out.splitlines(), out)
    eq(calls(), [("admin.property.List", "", "dom0", ""),
                 ("admin.property.GetAll", "", "dom0", "")])
    FAKE.calls.clear()
    rc, out, _ = run("qubes-prefs", "default-netvm")
    eq(out, "sys-firewall\n")
    rc, out, _ = run("qubes-prefs", "default_netvm", "sys-net")
    eq(rc, 0)
    rc, out, _ = run("qubes-prefs", "default_netvm")
    eq(out, "sys-net\n")
    rc, out, _ = run("qubes-prefs", "-D", "default_netvm")
    eq(calls()[-1], ("admin.property.Reset", "default_netvm", "dom0", ""))
    rc, out, err = run("qubes-prefs", "nosuch")
    eq(rc, 2)


# ---------------------------------------- features, tags, services


@test
def features():
    rc, out, _ = run("qvm-features", "work")
    eq(rc, 0)
    eq(out, "service.crond  \nservice.cups   1\nx-note         "
            "multi word value\n")
    eq(calls(), [("admin.vm.feature.List", "", "work", ""),
                 ("admin.vm.feature.Get", "service.crond", "work", ""),
                 ("admin.vm.feature.Get", "service.cups", "work", ""),
                 ("admin.vm.feature.Get", "x-note", "work", "")])
    rc, out, err = run("qvm-features", "work", "x-note")
    eq((rc, out), (0, "multi word value\n"))
    rc, out, err = run("qvm-features", "work", "nosuch")
    eq((rc, out, err), (1, "", ""))
    FAKE.calls.clear()
    rc, out, _ = run("qvm-features", "work", "gui", "1")
    eq(calls(), [("admin.vm.feature.Set", "gui", "work", "1")])
    FAKE.calls.clear()
    rc, _, _ = run("qvm-features", "--unset", "work", "nosuch")
    eq(rc, 0)
    eq(calls(), [("admin.vm.feature.Remove", "nosuch", "work", "")])
    rc, _, _ = run("qvm-features", "-D", "work", "a", "b")
    eq(rc, 2)
    rc, out, _ = run("qvm-features", "vault")
    eq((rc, out), (0, ""))


@test
def tags():
    rc, out, _ = run("qvm-tags", "work")
    eq((rc, out), (0, "created-by-dom0\nproject-x\n"))
    eq(calls(), [("admin.vm.tag.List", "", "work", "")])
    FAKE.calls.clear()
    rc, out, _ = run("qvm-tags", "work", "list", "project-x")
    eq((rc, out), (0, "project-x\n"))
    eq(calls(), [("admin.vm.tag.Get", "project-x", "work", "")])
    rc, out, _ = run("qvm-tags", "work", "ls", "nope")
    eq((rc, out), (1, ""))
    FAKE.calls.clear()
    rc, _, _ = run("qvm-tags", "work", "add", "t1", "t2")
    eq(calls(), [("admin.vm.tag.Set", "t1", "work", ""),
                 ("admin.vm.tag.Set", "t2", "work", "")])
    FAKE.calls.clear()
    rc, _, _ = run("qvm-tags", "work", "del", "t1", "nope")
    eq(rc, 0)
    eq(calls(), [("admin.vm.tag.Remove", "t1", "work", ""),
                 ("admin.vm.tag.Remove", "nope", "work", "")])
    rc, _, err = run("qvm-tags", "work", "frobnicate", "x")
    eq(rc, 2)
    rc, _, err = run("qvm-tags", "work", "add")
    eq(rc, 2)


@test
def services():
    rc, out, _ = run("qvm-service", "work")
    eq((rc, out), (0, "crond  off\ncups   on\n"))
    rc, out, _ = run("qvm-service", "work", "cups")
    eq((rc, out), (0, "on\n"))
    rc, out, _ = run("qvm-service", "work", "nosuch")
    eq((rc, out), (1, ""))
    FAKE.calls.clear()
    for value, payload in (("on", "1"), ("off", ""), ("enable", "1"),
                           ("False", "")):
        rc, _, _ = run("qvm-service", "work", "cups", value)
        eq(rc, 0)
        eq(calls()[-1], ("admin.vm.feature.Set", "service.cups", "work",
                         payload))
    rc, _, _ = run("qvm-service", "--disable", "work", "crond")
    eq(calls()[-1], ("admin.vm.feature.Set", "service.crond", "work", ""))
    rc, _, _ = run("qvm-service", "-D", "work", "crond")
    eq(calls()[-1], ("admin.vm.feature.Remove", "service.crond", "work",
                     ""))
    rc, _, err = run("qvm-service", "work", "cups", "maybe")
    eq(rc, 2)
    check("invalid literal for boolean value" in err, err)


# ------------------------------------------------------ power


@test
def start():
    rc, out, err = run("qvm-start", "personal", "vault")
    eq((rc, out, err), (0, "", ""))
    eq(sorted(c[:3] for c in calls()),
       [("admin.vm.CurrentState", "", "personal"),
        ("admin.vm.CurrentState", "", "vault"),
        ("admin.vm.Start", "", "personal"),
        ("admin.vm.Start", "", "vault")])
    eq(FAKE.qubes["vault"].state, "Running")
    FAKE.calls.clear()
    rc, out, err = run("qvm-start", "work")
    eq(rc, 1)
    check("work: domain is already running" in err, err)
    check("admin.vm.Start" not in methods())
    rc, out, err = run("qvm-start", "--skip-if-running", "work")
    eq((rc, err), (0, ""))
    FAKE.qubes["fedora-40"].features["prohibit-start"] = "testing"
    rc, out, err = run("qvm-start", "fedora-40")
    eq(rc, 1)
    check("fedora-40: Qube start is prohibited. Rationale: testing" in err,
          err)
    rc, out, err = run("qvm-start", "nosuch")
    eq(rc, 2)
    rc, out, err = run("qvm-start")
    eq(rc, 2)
    rc, out, err = run("qvm-start", "--drive", "x", "work")
    eq(rc, 1)


@test
def shutdown():
    rc, out, err = run("qvm-shutdown", "work")
    eq((rc, err), (0, ""))
    eq(calls(), [("admin.vm.Shutdown", "", "work", "")])
    FAKE.calls.clear()
    rc, _, _ = run("qvm-shutdown", "--wait", "vault")  # halted: fine
    eq(rc, 0)
    eq(calls(), [("admin.vm.Shutdown", "wait", "vault", "")])
    FAKE.calls.clear()
    # in use by running qubes: retried, then reported
    rc, _, err = run("qvm-shutdown", "--wait", "sys-net")
    eq(rc, 1)
    eq(calls(), [("admin.vm.Shutdown", "wait", "sys-net", "")] * 2)
    check("retrying shutdown of qubes that were in use: sys-net" in err,
          err)
    check("sys-net: failed to shut down: Domain is in use" in err, err)
    FAKE.calls.clear()
    # with its clients: they go down, then the retry works
    rc, _, err = run("qvm-shutdown", "--wait", "sys-net", "sys-firewall",
                     "untrusted", "dom0")
    check(rc != 2, err)
    FAKE.reset()
    rc, _, err = run("qvm-shutdown", "--force", "--wait", "sys-net")
    eq(rc, 0)
    eq(calls(), [("admin.vm.Shutdown", "force+wait", "sys-net", "")])
    FAKE.reset()
    rc, _, err = run("qvm-shutdown", "--all", "--wait")
    eq(rc, 0, err)
    eq(sorted(c[2] for c in calls()),
       sorted(q for q in FAKE.qubes if q != "dom0"))
    check(all(c[1] == "force+wait" for c in calls()), calls())
    FAKE.reset()
    rc, _, err = run("qvm-shutdown", "--all", "--exclude", "sys-net")
    check(all(c[1] == "" for c in calls()), calls())
    FAKE.reset()
    rc, _, _ = run("qvm-shutdown", "--dry-run", "work")
    eq((rc, methods()), (0, ["admin.vm.List"]))


@test
def shutdown_timeouts():
    # the daemon's wait times out: once more, then kill
    FAKE.qubes["work"].stuck = True
    rc, _, err = run("qvm-shutdown", "--wait", "work")
    eq(rc, 0, err)
    eq(calls(), [("admin.vm.Shutdown", "wait", "work", "")] * 2 +
       [("admin.vm.Kill", "", "work", "")])
    check("killing timed out qubes: work" in err, err)
    FAKE.reset()
    # --timeout: our own wait on the events; down in time, no kill.  The
    # deadline is an hour away: qvm-shutdown must return on the qube's
    # domain-shutdown, not at the deadline (run() gives up after 60 s)
    FAKE.qubes["work"].shutdown_delay = 0.5
    rc, _, err = run("qvm-shutdown", "--timeout", "3600", "work")
    eq((rc, err), (0, ""))
    eq(FAKE.qubes["work"].state, "Halted")
    check("admin.Events" in methods() and "admin.vm.Kill" not in methods(),
          methods())
    eq([c for c in calls() if c[0] == "admin.vm.Shutdown"],
       [("admin.vm.Shutdown", "", "work", "")])
    FAKE.reset()
    # never down: killed at the deadline
    FAKE.qubes["work"].stuck = True
    rc, _, err = run("qvm-shutdown", "--timeout", "1", "work")
    eq(rc, 0, err)
    eq(calls()[-1], ("admin.vm.Kill", "", "work", ""))
    FAKE.reset()
    # no events: the power state is polled
    FAKE.unsupported.add("admin.Events")
    FAKE.qubes["work"].shutdown_delay = 0.3
    rc, _, err = run("qvm-shutdown", "--timeout", "10", "work")
    eq((rc, err), (0, ""))
    check("admin.vm.Kill" not in methods())


@test
def kill_pause_unpause():
    rc, _, err = run("qvm-kill", "work", "vault")
    eq((rc, err), (0, ""))
    eq(sorted(calls()), [("admin.vm.Kill", "", "vault", ""),
                         ("admin.vm.Kill", "", "work", "")])
    FAKE.reset()
    rc, _, err = run("qvm-pause", "work")
    eq((rc, FAKE.qubes["work"].state), (0, "Paused"))
    rc, _, err = run("qvm-pause", "vault")
    eq(rc, 1)
    check("vault: Domain is not running" in err, err)
    FAKE.calls.clear()
    rc, _, err = run("qvm-unpause", "work", "untrusted")
    eq((rc, err), (0, ""))
    eq(sorted(c for c in calls() if c[0] == "admin.vm.Unpause"),
       [("admin.vm.Unpause", "", "untrusted", ""),
        ("admin.vm.Unpause", "", "work", "")])
    rc, _, err = run("qvm-unpause", "work")
    eq(rc, 1)
    check("work: Domain is not paused" in err, err)
    rc, _, _ = run("qvm-pause", "--suspend", "work")
    eq(FAKE.qubes["work"].state, "Suspended")
    rc, _, _ = run("qvm-unpause", "work")
    eq((rc, FAKE.qubes["work"].state), (0, "Running"))
    eq(calls()[-1], ("admin.vm.Resume", "", "work", ""))
    # --all leaves internal qubes paused
    FAKE.reset()
    FAKE.qubes["work"].state = "Paused"
    rc, _, _ = run("qvm-unpause", "--all")
    eq(FAKE.qubes["untrusted"].state, "Paused")
    eq(FAKE.qubes["work"].state, "Running")


@test
def check_tool():
    eq(run("qvm-check", "work")[0], 0)
    eq(run("qvm-check", "work", "nosuch")[0], 1)
    rc, _, err = run("qvm-check", "--running", "work", "personal")
    eq((rc, err), (3, "qvm-check: work: running\n"))
    eq(run("qvm-check", "--running", "personal")[0], 1)
    rc, _, err = run("qvm-check", "-q", "--paused", "untrusted")
    eq((rc, err), (0, ""))
    eq(run("qvm-check", "--template", "fedora-40")[0], 0)
    eq(run("qvm-check", "--networked", "vault")[0], 1)
    eq(run("qvm-check", "--networked", "sys-net", "work")[0], 0)
    rc, _, err = run("qvm-check", "nosuch")
    eq((rc, err), (1, "qvm-check: nosuch: non-existent!\n"))


# -------------------------------------------- create, remove, clone


@test
def create():
    rc, out, err = run("qvm-create", "-l", "green", "--prop", "memory=1000",
                       "--property", "vcpus=4", "new1")
    eq((rc, err), (0, ""))
    eq(calls(), [("admin.label.List", "", "dom0", ""),
                 ("admin.vm.Create.AppVM", "", "dom0",
                  "name=new1 label=green"),
                 ("admin.vm.property.Set", "memory", "new1", "1000"),
                 ("admin.vm.property.Set", "vcpus", "new1", "4")])
    eq(methods()[2], "admin.vm.List")  # the new qube must be listed
    eq(FAKE.qubes["new1"].props["template"], "fedora-40")
    FAKE.calls.clear()
    rc, _, err = run("qvm-create", "-C", "TemplateVM", "--label", "3",
                     "-P", "poolx", "tpl")
    eq(rc, 0, err)
    eq(calls()[-1], ("admin.vm.CreateInPool.TemplateVM", "", "dom0",
                     "name=tpl label=yellow pool=poolx"))
    FAKE.calls.clear()
    rc, _, err = run("qvm-create", "--disp", "-t", "default-dvm", "-p",
                     "volatile=p2", "-p", "private=p1", "d1")
    eq(rc, 0, err)
    eq(calls()[-1], ("admin.vm.CreateInPool.DispVM", "default-dvm", "dom0",
                     "name=d1 label=red pool:private=p1 pool:volatile=p2"))
    rc, _, err = run("qvm-create", "nolabel")
    eq(rc, 2)
    check("--label option is mandatory" in err, err)
    FAKE.calls.clear()
    rc, _, err = run("qvm-create", "-l", "pink", "x")
    eq(rc, 2)
    check("no such label: pink; available: red, orange" in err, err)
    check("admin.vm.Create.AppVM" not in methods())
    rc, _, err = run("qvm-create", "-l", "red", "work")
    eq(rc, 1)
    check("work: VM work already exists" in err, err)
    rc, _, err = run("qvm-create", "-l", "red", "--prop", "memory=x", "n2")
    eq(rc, 1)
    check("error setting property memory (but the qube was created)" in err,
          err)
    rc, _, err = run("qvm-create", "-l", "red", "-p", "bad", "n3")
    eq(rc, 2)
    rc, out, _ = run("qvm-create", "--help-classes")
    eq(out.split(), fake_qubesd.CLASSES)


@test
def create_standalone_from_template():
    rc, _, err = run("qvm-create", "--standalone", "-t", "fedora-40", "-l",
                     "purple", "sa")
    eq(rc, 0, err)
    c = calls()
    check(("admin.vm.Create.StandaloneVM", "", "dom0",
           "name=sa label=black") in c, c)
    check(("admin.vm.volume.CloneTo", "root", "sa",
           "tok-fedora-40-root") in c, c)
    check(not any(x[0] == "admin.vm.volume.CloneFrom" and x[1] == "private"
                  for x in c), c)
    eq(c[-1], ("admin.vm.property.Set", "label", "sa", "purple"))
    eq(FAKE.qubes["sa"].features.get("vmexec"), "1")


@test
def remove():
    rc, _, err = run("qvm-remove", "-f", "vault")
    eq((rc, err), (0, ""))
    eq(calls(), [("admin.vm.Remove", "", "vault", "")])
    FAKE.calls.clear()
    rc, _, err = run("qvm-remove", "personal", stdin=b"n\n")
    eq(rc, 1)
    check("Remove cancelled." in err, err)
    eq(calls(), [])
    rc, _, err = run("qvm-remove", "personal", stdin=b"")
    eq(rc, 1)
    rc, _, err = run("qvm-remove", "personal", stdin=b"y\n")
    eq(rc, 0, err)
    check("This will completely remove the selected VM(s)...\n  personal\n"
          in err, err)
    check("personal" not in FAKE.qubes)
    FAKE.calls.clear()
    rc, _, err = run("qvm-remove", "-f", "default-dvm")
    eq(rc, 1)
    eq(err, "VM default-dvm cannot be removed. It is in use as:\n"
            " - global property default_dispvm\n"
            " - global property management_dispvm\n"
            "qvm-remove: default-dvm: VM in use: 'default-dvm'\n")
    rc, _, err = run("qvm-remove", "-f", "fedora-40")
    check(" - global property default_template\n" in err, err)
    check(" - template for work\n" in err, err)
    rc, _, err = run("qvm-remove", "-f", "work")
    eq(rc, 1)
    check("work: Domain is not powered off" in err, err)
    rc, _, err = run("qvm-remove", "-f", "dom0")
    eq(rc, 1)
    rc, _, err = run("qvm-remove", "--all", stdin=b"y\n")
    eq(rc, 1)
    check("IKNOWWHATIAMDOING" in err, err)


@test
def clone():
    rc, _, err = run("qvm-clone", "work", "work2")
    eq((rc, err), (0, ""))
    c = calls()
    eq(c[0], ("admin.vm.property.GetAll", "", "work", ""))
    check(("admin.vm.Create.AppVM", "fedora-40", "dom0",
           "name=work2 label=blue") in c, c)
    check(("admin.vm.property.Set", "memory", "work2", "800") in c, c)
    check(not any(x[0] == "admin.vm.property.Set" and
                  x[1] in ("name", "qid", "uuid", "label", "template")
                  for x in c), c)
    check(("admin.vm.tag.Set", "project-x", "work2", "") in c, c)
    check(not any(x[0] == "admin.vm.tag.Set" and
                  x[1].startswith("created-by-") for x in c), c)
    check(("admin.vm.feature.Set", "x-note", "work2", "multi word value")
          in c, c)
    check(("admin.vm.firewall.Set", "", "work2", "action=accept\n") in c, c)
    check(("admin.vm.volume.CloneTo", "private", "work2",
           "tok-work-private") in c, c)
    eq(FAKE.qubes["work2"].volumes["private"]["usage"],
       FAKE.qubes["work"].volumes["private"]["usage"])
    # a pool that is not the default is kept
    FAKE.reset()
    FAKE.qubes["work"].volumes["private"]["pool"] = "fast"
    rc, _, err = run("qvm-clone", "-C", "StandaloneVM", "work", "w3")
    check(("admin.vm.CreateInPool.StandaloneVM", "fedora-40", "dom0",
           "name=w3 label=blue pool:private=fast") in calls(), calls())
    # a failure in the data copy removes the copy
    FAKE.reset()
    FAKE.fail["admin.vm.volume.CloneTo"] = fake_qubesd.QubesError(
        "QubesException", "disk full")
    rc, _, err = run("qvm-clone", "work", "w4")
    eq(rc, 1)
    check("w4: disk full" in err, err)
    eq(calls()[-1], ("admin.vm.Remove", "", "w4", ""))
    check("w4" not in FAKE.qubes)
    rc, _, err = run("qvm-clone", "nosuch", "x")
    eq(rc, 2)
    rc, _, err = run("qvm-clone", "-P", "a", "-p", "private=b", "work", "x")
    eq(rc, 2)


# --------------------------------------------------------- qvm-run


@test
def run_shell():
    rc, out, err = run("qvm-run", "personal", "echo hi")
    eq((rc, out), (0, ""))
    eq(err, "Running 'echo hi' on personal\n")
    eq([c[:3] for c in calls()],
       [("admin.vm.CurrentState", "", "personal"),
        ("admin.vm.feature.CheckWithTemplate", "os", "personal"),
        ("admin.vm.Start", "", "personal")])
    runs = stub_runs()
    eq(runs, [{"argv": ["-d", "personal", "-p", "echo hi; exit\n",
                        "DEFAULT:QUBESRPC qubes.VMShell+ dom0"],
               "stdin": ""}])


@test
def run_pass_io():
    rc, out, err = run("qvm-run", "-p", "work", "--", "ls", "-la", "a b",
                       stdin=b"input", env={"STUB_EXIT": "3"})
    eq(rc, 3)
    eq(out, "remote output\n")
    eq(err, "remote error\n")  # -p: no "Running" line
    eq(stub_runs(), [{"argv": [
        "-d", "work", "DEFAULT:QUBESRPC qubes.VMExec+ls+--la+a-20b dom0"],
        "stdin": "input"}])
    rc, out, err = run("qvm-run", "-p", "--no-shell", "-u", "root", "work",
                       "id")
    eq(stub_runs()[0]["argv"][-1],
       "DEFAULT:QUBESRPC qubes.VMRootExec+id dom0")
    rc, out, err = run("qvm-run", "-p", "--user", "u2", "work", "id")
    eq(stub_runs()[0]["argv"][-1], "u2:QUBESRPC qubes.VMShell+ dom0")
    # without vmexec: the argv quoted for the shell
    FAKE.qubes["fedora-40"].features.pop("vmexec")
    rc, out, err = run("qvm-run", "-p", "work", "echo", "it's")
    eq(stub_runs()[0]["argv"][-3:],
       ["-p", "echo 'it'\"'\"'s'; exit\n",
        "DEFAULT:QUBESRPC qubes.VMShell+ dom0"])


@test
def run_service_and_states():
    rc, out, err = run("qvm-run", "--service", "work", "qubes.Foo+bar")
    eq(rc, 0)
    eq(stub_runs()[0]["argv"],
       ["-d", "work", "-e", "DEFAULT:QUBESRPC qubes.Foo+bar dom0"])
    FAKE.calls.clear()
    rc, out, err = run("qvm-run", "-n", "vault", "ls")
    eq(rc, 1)
    check("Qube 'vault' not started" in err, err)
    eq(stub_runs(), [])
    check("admin.vm.Start" not in methods())
    FAKE.calls.clear()
    rc, out, err = run("qvm-run", "untrusted", "ls")
    eq(rc, 0)
    check(("admin.vm.Unpause", "", "untrusted", "") in calls(), calls())
    stub_runs()
    FAKE.reset()
    rc, out, err = run("qvm-run", "-n", "untrusted", "ls")
    eq(rc, 1)
    check("Qube 'untrusted' is paused" in err, err)
    rc, _, err = run("qvm-run", "--service", "--no-shell", "work", "x")
    eq(rc, 2)
    rc, _, err = run("qvm-run", "--localcmd", "cat", "work", "x")
    eq(rc, 2)
    rc, _, err = run("qvm-run", "nosuch", "x")
    eq(rc, 2)
    rc, _, err = run("qvm-run", "work")
    eq(rc, 2)


@test
def run_dispvm():
    rc, out, err = run("qvm-run", "--dispvm=default-dvm", "-p", "xterm")
    eq(rc, 0, err)
    # no admin.vm.List: the disposable's name comes from its creation
    c = calls(skip_list=False)
    eq([x[:3] for x in c],
       [("admin.vm.feature.CheckWithTemplate", "os", "default-dvm"),
        ("admin.vm.CreateDisposable", "", "default-dvm"),
        ("admin.vm.property.Get", "qrexec_timeout", "disp101"),
        ("admin.vm.Start", "", "disp101"),
        ("admin.vm.Kill", "", "disp101")])
    eq(stub_runs()[0]["argv"],
       ["-d", "disp101", "-p", "xterm; exit\n", "-w", "60",
        "DEFAULT:QUBESRPC qubes.VMShell+ dom0"])
    # auto_cleanup: the daemon removed it once killed
    check("disp101" not in FAKE.qubes)
    FAKE.calls.clear()
    # the default disposable template; "--dispvm DVM CMD" as argparse
    rc, out, err = run("qvm-run", "--dispvm", "-p", "--", "xterm")
    # the features of default_dispvm (Qubes' redirected calls), then it
    eq([c[:3] for c in calls()[:3]],
       [("admin.vm.property.Get", "default_dispvm", "dom0"),
        ("admin.vm.feature.CheckWithTemplate", "os", "default-dvm"),
        ("admin.vm.CreateDisposable", "", "dom0")])
    FAKE.calls.clear()
    rc, out, err = run("qvm-run", "--dispvm", "default-dvm", "-p", "xterm")
    eq(rc, 0)
    eq(calls()[1][:3], ("admin.vm.CreateDisposable", "", "default-dvm"))
    stub_runs()
    rc, out, err = run("qvm-run", "--dispvm=work", "xterm")
    eq(rc, 255)
    check("template_for_dispvms=False" in err, err)
    rc, out, err = run("qvm-run", "--dispvm", "--exclude", "x", "xterm")
    eq(rc, 2)


@test
def run_all():
    rc, out, err = run("qvm-run", "--all", "--exclude", "sys-net", "true")
    eq(rc, 0, err)
    eq(sorted(r["argv"][1] for r in stub_runs()), ["sys-firewall", "work"])
    rc, out, err = run("qvm-run", "--all", "-p", "true")
    eq(rc, 2)


# --------------------------------------------------- qubesd-query


@test
def qubesd_query():
    rc, out, _ = run("qubesd-query", "-e", "dom0", "admin.vm.List", "work")
    eq(rc, 0)
    check(out.startswith("0\0work class=AppVM state=Running"), repr(out))
    rc, out, err = run("qubesd-query", "--fail", "-e", "dom0",
                       "admin.vm.Start", "work")
    eq(rc, 2)
    eq(out, "2\0QubesVMNotHaltedError\0\0Domain is not powered off: "
            "'work'\0")
    check("QubesVMNotHaltedError: Domain is not powered off" in err, err)
    rc, out, _ = run("qubesd-query", "-e", "dom0", "admin.vm.Start", "work")
    eq(rc, 0)
    FAKE.calls.clear()
    rc, out, _ = run("qubesd-query", "sys-net", "admin.vm.property.Set",
                     "work", "memory", stdin=b"1234")
    eq(calls(False), [("admin.vm.property.Set", "memory", "work", "1234")])
    eq(FAKE.calls[0]["src"], "sys-net")
    FAKE.calls.clear()
    rc, out, _ = run("qubesd-query", "--single-line", "--null", "dom0",
                     "admin.vm.feature.Set", "work", "f",
                     stdin=b"v1\nignored")
    eq(out, "0\0\0")
    eq(calls(False), [("admin.vm.feature.Set", "f", "work", "v1")])
    rc, _, _ = run("qubesd-query", "--single-line", "dom0", "m", "work",
                   stdin=b"a\tb\n")
    eq(rc, 2)
    rc, _, _ = run("qubesd-query", "--max-bytes", "3", "dom0", "m", "work",
                   stdin=b"abcd")
    eq(rc, 2)
    rc, _, err = run("qubesd-query", "-e", "dom0", "a b", "work")
    eq(rc, 2)
    rc, _, err = run("qubesd-query", "-e", "-c", os.path.join(TMP, "none"),
                     "dom0", "admin.vm.List", "dom0")
    eq(rc, 1)
    # --connect-timeout waits for the socket to appear
    late = os.path.join(TMP, "late.sock")
    fake2 = fake_qubesd.FakeQubesd(late)
    p = subprocess.Popen([os.path.join(BIN, "qubesd-query"), "-e",
                          "--connect-timeout", "10", "-c", late, "dom0",
                          "admin.vm.List", "dom0"], stdout=subprocess.PIPE)
    time.sleep(0.5)
    fake2.start()
    out, _ = p.communicate(timeout=20)
    fake2.stop()
    eq(p.returncode, 0)
    check(out.startswith(b"0\0default-dvm"), out)


# ----------------------------------------------------------- generic

TOOLS = ["qvm-create", "qvm-remove", "qvm-clone", "qvm-ls", "qvm-prefs",
         "qubes-prefs", "qvm-features", "qvm-tags", "qvm-service",
         "qvm-start", "qvm-shutdown", "qvm-kill", "qvm-pause", "qvm-unpause",
         "qvm-check", "qvm-run", "qubesd-query"]


@test
def help_version_usage():
    for tool in TOOLS:
        rc, out, err = run(tool, "--help")
        eq((rc, err), (0, ""), tool + " --help")
        check(out.startswith("Usage: " + tool), tool)
        check("Exit status" in out, tool)
        rc, out, err = run(tool, "--version")
        eq(rc, 0, tool + " --version")
        check(out.startswith(tool + " (bulkhead) "), out)
        rc, out, err = run(tool, "--no-such-option")
        eq(rc, 2, tool + " bad option")
        check("Try '%s --help'" % tool in err, err)
    eq(methods(), [])


@test
def daemon_down():
    for tool, args in (("qvm-ls", []), ("qvm-start", ["work"]),
                       ("qvm-prefs", ["work"])):
        rc, out, err = run(tool, *args, env={
            "BULKHEAD_ADMIN_SOCKET": os.path.join(TMP, "nothere")})
        eq(rc, 1, tool)
        check("(is bulkheadd running?)" in err, err)


@test
def daemon_misbehaves():
    FAKE.raw_reply["admin.vm.List"] = b"0\0work klass=AppVM\n"
    rc, _, err = run("qvm-ls")
    eq(rc, 1)
    check("admin.vm.List: malformed reply from the daemon" in err, err)
    FAKE.reset()
    FAKE.empty_reply.add("admin.vm.List")
    rc, _, err = run("qvm-start", "work")
    eq(rc, 1)
    check("admin.vm.List: got an empty reply from the daemon" in err, err)
    FAKE.reset()
    FAKE.unsupported.add("admin.vm.Start")
    rc, _, err = run("qvm-start", "vault")
    eq(rc, 1)
    check("vault: request refused by the daemon (ProtocolError" in err, err)
    FAKE.reset()
    FAKE.raw_reply["admin.vm.property.Get"] = (
        b"2\0QubesException\0\0bad \x1b]0;title\x07 thing\0")
    rc, _, err = run("qvm-prefs", "work", "netvm")
    eq(rc, 1)
    check("bad \\x1b]0;title\\x07 thing" in err, repr(err))


@test
def man_pages():
    for tool in TOOLS:
        page = os.path.join(SOURCE, "man", tool + ".1")
        check(os.path.exists(page), page)
        p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        eq((p.returncode, p.stderr.decode()), (0, ""), page)


def built_programs():
    """name -> path of every executable the build made under src/."""
    found = {}
    for root, dirs, files in os.walk(os.path.join(BUILD, "src")):
        dirs[:] = sorted(d for d in dirs if not d.endswith(".p"))
        for f in sorted(files):
            path = os.path.join(root, f)
            if os.access(path, os.X_OK) and not f.endswith((".a", ".so")):
                found.setdefault(f, path)
    return found


@test
def man_pages_all():
    # every page in man/ (the daemons' too): renders without a warning at
    # 80 and 132 columns, and names every long option that its
    # program's --help lists (programs without --help are skipped)
    mandir = os.path.join(SOURCE, "man")
    pages = sorted(f for f in os.listdir(mandir)
                   if re.search(r"\.[1-8]$", f))
    check(len(pages) > len(TOOLS), pages)
    progs = built_programs()
    for page in pages:
        path = os.path.join(mandir, page)
        p = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        eq((p.returncode, p.stderr.decode()), (0, ""), page)
        if shutil.which("man"):
            for width in ("80", "132"):
                env = dict(os.environ, MANWIDTH=width)
                p = subprocess.run(["man", "-l", path], env=env,
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
                eq((p.returncode, p.stderr.decode()), (0, ""),
                   "man -l %s at %s columns" % (page, width))
        prog = progs.get(page[:-2])
        if prog is None:
            continue
        h = subprocess.run([prog, "--help"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=10)
        if h.returncode != 0:
            continue
        with open(path) as f:
            text = f.read().replace("\\-", "-")
        for opt in sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*",
                                         h.stdout.decode()))):
            check(re.search(re.escape(opt) + r"(?![\w-])", text),
                  "%s: %s is in --help, not in the page" % (page, opt))


@test
def completion():
    script = os.path.join(SOURCE, "completion", "bulkhead.bash")
    p = subprocess.run(["bash", "-n", script], stderr=subprocess.PIPE)
    eq((p.returncode, p.stderr.decode()), (0, ""))
    env = dict(os.environ)
    env["BULKHEAD_ADMIN_SOCKET"] = SOCK
    env["PATH"] = BIN + ":" + env["PATH"]

    def complete(line):
        words = line.split(" ")
        prog = r'''
            source %s
            COMP_WORDS=(%s); COMP_CWORD=%d; COMP_LINE=%s; COMP_POINT=${#COMP_LINE}
            f=$(complete -p %s | sed -E 's/.* -F ([^ ]+) .*/\1/')
            $f %s "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            printf '%%s\n' "${COMPREPLY[@]}"
        ''' % (script, " ".join("'%s'" % w for w in words), len(words) - 1,
               "'%s'" % line, words[0], words[0])
        out = subprocess.run(["bash", "-c", prog], env=env,
                             stdout=subprocess.PIPE).stdout.decode()
        return sorted(x for x in out.split("\n") if x)
    eq(complete("qvm-start pe"), ["personal"])  # halted ones
    eq(complete("qvm-shutdown wo"), ["work"])  # running ones
    eq(complete("qvm-run --dispvm=def"), ["--dispvm=default-dvm"])
    eq(complete("qvm-prefs untrusted li"), [])  # not a value's 2nd line
    eq(complete("qvm-prefs work net"), ["netvm"])
    eq(complete("qvm-prefs work netvm sys-"), ["sys-firewall", "sys-net"])
    eq(complete("qvm-create --label bl"), ["black", "blue"])
    eq(complete("qvm-tags work "), ["add", "del", "list"])
    eq(complete("qvm-service work cu"), ["cups"])
    eq(complete("qvm-features work x-"), ["x-note"])
    check("--raw-data" in complete("qvm-ls --raw"), "options")
    eq(complete("qubes-prefs default_t"), ["default_template"])


@test
def compat_with_qubes_client():
    """Our output against Qubes' own tools, on the same fake (optional)."""
    src = os.environ.get("QUBES_ADMIN_CLIENT")
    if not src:
        return "SKIP QUBES_ADMIN_CLIENT not set"
    meta = os.path.join(TMP, "meta", "qubesadmin-4.3.0.dist-info")
    os.makedirs(meta, exist_ok=True)
    with open(os.path.join(meta, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: qubesadmin\nVersion: 4.3.0\n"
                "Summary: Qubes Admin API\nAuthor-email: x@example.org\n"
                "License: LGPL\n")
    # admin-client.md section 2: rebind the socket and the app class
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
    cases = [["qvm-ls"], ["qvm-ls", "-n"], ["qvm-ls", "--disk"],
             ["qvm-ls", "--tree"], ["qvm-ls", "--format", "full"],
             ["qvm-ls", "--raw-data", "--fields", "name,label,flags"],
             ["qvm-ls", "--class", "AppVM", "--running"],
             ["qvm-prefs", "untrusted"], ["qvm-prefs", "work", "netvm"],
             ["qubes-prefs"], ["qvm-features", "work"], ["qvm-tags", "work"],
             ["qvm-service", "work"], ["qvm-check", "--running", "work",
                                       "vault", "nosuch"]]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    for case in cases:
        FAKE.reset()
        rc, out, err = run(*case)
        extra = ["--no-spinner"] if case[0] == "qvm-ls" else []
        p = subprocess.run([sys.executable, wrapper] + case + extra,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env)
        eq((rc, out), (p.returncode, p.stdout.decode()), " ".join(case))
    return None


def main():
    with open(STUB, "w") as f:
        f.write(STUB_TEXT)
    os.chmod(STUB, 0o755)
    with open(QCVM, "w") as f:
        f.write(QCVM_TEXT)
    os.chmod(QCVM, 0o755)
    FAKE.start()
    print("1..%d" % len(TESTS))
    failed = 0
    for i, fn in enumerate(TESTS, 1):
        FAKE.reset()
        stub_runs()
        try:
            res = fn()
            if isinstance(res, str) and res.startswith("SKIP"):
                print("ok %d - %s # %s" % (i, fn.__name__, res))
            else:
                print("ok %d - %s" % (i, fn.__name__))
        except Exception as e:  # noqa: BLE001 - report every failure
            failed += 1
            print("not ok %d - %s" % (i, fn.__name__))
            for line in ("%s\n%s" % (e, traceback.format_exc())).splitlines():
                print("# " + line)
        sys.stdout.flush()
    FAKE.stop()
    shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
