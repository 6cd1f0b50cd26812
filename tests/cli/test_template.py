#!/usr/bin/env python3
"""qvm-template against the real bulkheadd (namespace-sandbox backend),
with a fake debootstrap (fake_debootstrap.py: no network, a second).

A template is listed as available, installed (the qube, its root volume
made beside and renamed into place, the accounts and PATH of a bulkhead
qube), an AppVM on it runs a command as "user", the template itself
starts and what its root writes reaches the AppVM at its next start
(Qubes' semantics); a failing and an interrupted debootstrap leave no
qube, no directory, no mount and no process behind; remove asks, and
refuses a template in use.  Needs root (as bulkheadd does).  TAP output.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
import bh  # noqa: E402

if os.geteuid() != 0:
    print("1..0 # SKIP needs root (bulkheadd's sandbox backend)")
    sys.exit(0)
if not os.path.exists(os.path.join(bh.BIN, "daemon", "bulkheadd")):
    print("1..0 # SKIP bulkheadd is not built")
    sys.exit(0)

UID_BASE = 1000000
FAKE = os.path.join(HERE, "fake_debootstrap.py")
CLI = os.path.join(bh.BIN, "cli")
TPL = "debian-12"
D = bh.Bulkheadd(backend="sandbox")
ARGS = os.path.join(D.root, "debootstrap-args")
PIDFILE = os.path.join(D.root, "debootstrap-pids")
# the qube tools bulkheadd binds into qubes: the fake tree needs their
# libraries (a sanitizer build's among them)
QUBE_TOOLS = [os.path.join(bh.BIN, p) for p in [
    "qrexec-agent", "qrexec-client-vm", "sandbox/bulkhead-init",
    "qubes-rpc/qfile-agent", "qubes-rpc/qfile-unpacker"]]


def run(tool, *args, stdin=b"", env_extra=None, timeout=120):
    env = dict(os.environ)
    env.pop("BULKHEAD_ADMIN_SOCKET", None)
    env.update({
        "BULKHEAD_RUN_DIR": D.run,
        "BULKHEAD_QREXEC_CLIENT": os.path.join(bh.BIN, "qrexec-client"),
        "BULKHEAD_DEBOOTSTRAP": FAKE,
        "FAKE_DEBOOTSTRAP_ARGS": ARGS,
        "FAKE_DEBOOTSTRAP_PROGRAMS": ":".join(
            p for p in QUBE_TOOLS if os.path.exists(p)),
    })
    env.update(env_extra or {})
    p = subprocess.run([os.path.join(CLI, tool)] + list(args), input=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=timeout)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def ok(tool, *args, **kw):
    rc, out, err = run(tool, *args, **kw)
    assert rc == 0, "%s %s: exit %d: %s" % (tool, " ".join(args), rc, err)
    return out


def qt(*args, **kw):
    return run("qvm-template", *args, **kw)


QIDS = {}  # the qubes' ids, for their processes' uid ranges


def qube_dir(name):
    return os.path.join(D.state, "qubes", name)


def qubes():
    out = ok("qvm-ls", "--raw-data", "--fields", "name,class,state,label")
    return {l.split("|")[0]: l.split("|")[1:] for l in out.splitlines()}


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [l.split()[4] for l in f
                if l.split()[4].startswith(path + "/")]


def qube_pids():
    out = []
    for d in os.listdir("/proc"):
        try:
            if d.isdigit() and os.stat("/proc/" + d).st_uid >= UID_BASE:
                out.append(int(d))
        except OSError:
            pass
    return out


def cgroups_of(names):
    """The cgroups of these qubes: bulkhead-NAME-LAUNCHERPID."""
    pat = re.compile(r"^bulkhead-(%s)-[0-9]+$" %
                     "|".join(re.escape(n) for n in names))
    found = []
    for base, dirs, _ in os.walk("/sys/fs/cgroup"):
        found += [os.path.join(base, d) for d in dirs if pat.match(d)]
        if base.count("/") > 8:
            dirs[:] = []
    return found


def left_behind():
    """What a failed install must not leave: the qube, its directory,
    mounts under our temp directory."""
    assert TPL not in qubes(), qubes()
    assert not os.path.exists(qube_dir(TPL)), os.listdir(qube_dir(TPL))
    assert not mounts_under(D.root), mounts_under(D.root)


def test_start():
    D.start()
    assert TPL not in qubes()


def test_usage():
    rc, _, err = qt()
    assert rc == 2 and "expected a command" in err, (rc, err)
    rc, _, err = qt("upgrade", TPL)
    assert rc == 2 and "unknown command" in err, (rc, err)
    rc, _, err = qt("install", "fedora-41")
    assert rc == 2 and "Template 'fedora-41' not found" in err, (rc, err)
    rc, _, err = qt("install")
    assert rc == 2, (rc, err)
    rc, _, err = qt("install", "--mirror", "ftp://x/debian", TPL)
    assert rc == 2 and "--mirror" in err, (rc, err)
    rc, _, err = qt("install", "--suite", "book worm", TPL)
    assert rc == 2 and "--suite" in err, (rc, err)
    rc, _, err = qt("install", "--label", "plaid", TPL)  # as qvm-create
    assert rc == 2 and "debian-12: " in err, (rc, err)
    rc, _, err = qt("list", "--mirror", "http://x/")
    assert rc == 2 and "not an option of list" in err, (rc, err)
    rc, _, err = qt("remove")
    assert rc == 2, (rc, err)
    rc, out, _ = qt("--help")
    assert rc == 0 and all(w in out for w in ["list", "install", "remove",
                                              "BULKHEAD_DEBOOTSTRAP"]), out
    assert not os.path.exists(ARGS), "debootstrap ran"
    assert TPL not in qubes()


def test_list_available():
    rc, out, err = qt("list")
    assert rc == 0 and out == ("Available Templates\n"
                               "debian-12  0:12-bookworm  debian\n"
                               "busybox    0:1-vm         debian\n"), out
    rc, _, err = qt("list", "--installed")
    assert rc == 2 and "No matching templates to list" in err, (rc, err)
    rc, out, _ = qt("list", "--machine-readable")
    assert out == ("available|debian-12|0:12-bookworm|debian\n"
                   "available|busybox|0:1-vm|debian\n"), out
    rc, out, _ = qt("list", "--machine-readable-json", "debian-*")
    assert json.loads(out) == {"available": [
        {"name": TPL, "evr": "0:12-bookworm", "reponame": "debian"}]}, out
    rc, _, err = qt("list", "ubuntu*")
    assert rc == 2, (rc, err)


def test_failing_debootstrap_leaves_nothing():
    rc, out, err = qt("install", "--mirror", "file:///srv/mirror/debian",
                      "--suite", "trixie", "--include", "less,vim-tiny",
                      "--label", "red", TPL,
                      env_extra={"FAKE_DEBOOTSTRAP_FAIL": "1"})
    assert rc == 1, (rc, err)
    assert "E: Couldn't install the fake packages" in err, err
    assert "debootstrap failed (exit status 1)" in err, err
    # debootstrap's own log is shown before the tree goes
    assert "dpkg: error processing package fake" in err, err
    assert "removing the half-made 'debian-12'" in err, err
    with open(ARGS) as f:
        args = f.read().splitlines()
    assert args == ["--variant=minbase",
                    "--keyring=/usr/share/keyrings/debian-archive-keyring.gpg",
                    "--include=less,vim-tiny", "trixie",
                    os.path.join(qube_dir(TPL), "root.new"),
                    "file:///srv/mirror/debian"], args
    left_behind()
    # with -q, debootstrap's lines are shown only for a failure
    rc, _, err = qt("-q", "install", TPL,
                    env_extra={"FAKE_DEBOOTSTRAP_FAIL": "1"})
    assert rc == 1 and "  E: Couldn't install" in err, (rc, err)
    assert "[ 0:00]" not in err, err
    left_behind()


def test_interrupted_install_leaves_nothing():
    env = dict(os.environ, BULKHEAD_RUN_DIR=D.run, BULKHEAD_DEBOOTSTRAP=FAKE,
               FAKE_DEBOOTSTRAP_SLEEP="120", FAKE_DEBOOTSTRAP_PIDFILE=PIDFILE)
    env.pop("BULKHEAD_ADMIN_SOCKET", None)
    p = subprocess.Popen([os.path.join(CLI, "qvm-template"), "install", TPL],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env)
    try:
        bh.wait_for(lambda: os.path.exists(PIDFILE) and
                    os.path.getsize(PIDFILE) > 0, "the fake debootstrap")
        with open(PIDFILE) as f:
            pids = [int(x) for x in f.read().split()]
        assert len(pids) == 2, pids  # the fake and its child
        assert TPL in qubes()  # half-made, for now
        p.send_signal(signal.SIGINT)  # Ctrl-C
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    err = err.decode()
    assert p.returncode == 1, (p.returncode, err)
    assert "Interrupt: stopping debootstrap" in err, err
    assert "removing the half-made 'debian-12'" in err, err
    for pid in pids:  # the pid namespace took the child along
        assert not os.path.exists("/proc/%d" % pid), pid
    left_behind()


def test_killed_install_is_removable():
    # SIGKILL leaves no time to clean up: debootstrap dies with us (the
    # parent-death signals), the half-made qube stays, cannot start and
    # is not "installed", and remove takes it away with its files
    if os.path.exists(PIDFILE):
        os.unlink(PIDFILE)
    env = dict(os.environ, BULKHEAD_RUN_DIR=D.run, BULKHEAD_DEBOOTSTRAP=FAKE,
               FAKE_DEBOOTSTRAP_SLEEP="120", FAKE_DEBOOTSTRAP_PIDFILE=PIDFILE)
    env.pop("BULKHEAD_ADMIN_SOCKET", None)
    p = subprocess.Popen([os.path.join(CLI, "qvm-template"), "install", TPL],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=env)
    try:
        bh.wait_for(lambda: os.path.exists(PIDFILE) and
                    os.path.getsize(PIDFILE) > 0, "the fake debootstrap")
        with open(PIDFILE) as f:
            pids = [int(x) for x in f.read().split()]
        p.kill()
        p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    bh.wait_for(lambda: not any(os.path.exists("/proc/%d" % pid)
                                for pid in pids), "debootstrap to die")
    assert qubes()[TPL][0] == "TemplateVM", qubes()
    rc, _, err = run("qvm-start", TPL)
    assert rc == 1 and "no root filesystem" in err, (rc, err)
    rc, _, err = qt("list", "--installed")
    assert rc == 2, (rc, err)
    rc, _, err = qt("install", TPL)
    assert rc == 1 and "not installed by qvm-template" in err, (rc, err)
    assert os.path.isdir(os.path.join(qube_dir(TPL), "root.new"))
    ok("qvm-template", "remove", "--yes", TPL)
    left_behind()


def test_install():
    rc, out, err = qt("install", TPL)
    assert rc == 0, (rc, err)
    assert "[ 0:00] I: Retrieving InRelease" in err, err
    assert "Template 'debian-12' installed (Debian 12.99) in " in err, err
    with open(ARGS) as f:
        args = f.read().splitlines()
    assert args == ["--variant=minbase",
                    "--keyring=/usr/share/keyrings/debian-archive-keyring.gpg",
                    "bookworm", os.path.join(qube_dir(TPL), "root.new"),
                    "http://deb.debian.org/debian"], args
    assert qubes()[TPL] == ["TemplateVM", "Halted", "black"], qubes()
    QIDS[TPL] = int(D.prop(TPL, "qid")[0])
    info = D.call("admin.vm.volume.Info", TPL, "root")
    root = os.path.join(qube_dir(TPL), "root")
    assert "vid=%s\n" % root in info, info
    assert sorted(os.listdir(qube_dir(TPL))) == ["root"], \
        os.listdir(qube_dir(TPL))
    st = os.stat(root)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o755)
    etc = os.path.join(root, "etc")

    def cat(name):
        with open(os.path.join(etc, name)) as f:
            return f.read()
    assert "user:x:1000:1000:user:/home/user:/bin/bash\n" in cat("passwd")
    assert "qubes:x:98:user\n" in cat("group")
    assert "user:x:1000:\n" in cat("group")
    assert "\nuser:*:" in cat("shadow")
    assert "qubes:!::user\n" in cat("gshadow")
    assert cat("hostname") == "debian-12\n"
    assert cat("resolv.conf") == "# no network yet\n"
    assert "/run/bulkhead/bin" in cat("profile.d/bulkhead.sh")
    assert os.listdir(os.path.join(root, "dev")) == []
    assert os.path.isdir(os.path.join(root, "rw"))
    assert not mounts_under(D.root), mounts_under(D.root)
    feats = dict(l.split(None, 1) for l in
                 ok("qvm-features", TPL).splitlines())
    for k, v in [("template-name", TPL), ("template-epoch", "0"),
                 ("template-version", "12.99"),
                 ("template-reponame", "debian"),
                 ("template-url", "http://deb.debian.org/debian")]:
        assert feats.get(k) == v, (k, feats)
    rc, out, _ = qt("list", "--installed", "--machine-readable")
    day = time.strftime("%Y%m%d", time.gmtime())
    assert out == "installed|debian-12|0:12.99-%s|debian\n" % day, out
    rc, out, _ = qt("list")
    assert out.startswith("Installed Templates\ndebian-12  0:12.99-") and \
        "Available Templates\ndebian-12  0:12-bookworm" in out, out
    # again: skipped, as Qubes does
    os.unlink(ARGS)
    rc, _, err = qt("install", TPL)
    assert rc == 0 and "already installed, skipping" in err, (rc, err)
    assert not os.path.exists(ARGS)


def test_completion():
    script = os.path.join(HERE, "..", "..", "completion", "bulkhead.bash")
    env = dict(os.environ, BULKHEAD_RUN_DIR=D.run,
               PATH=CLI + ":" + os.environ["PATH"])
    env.pop("BULKHEAD_ADMIN_SOCKET", None)

    def complete(line):
        words = line.split(" ")
        prog = r'''
            source %s
            COMP_WORDS=(%s); COMP_CWORD=%d
            _bulkhead_qvm_template qvm-template "${COMP_WORDS[COMP_CWORD]}" \
                "${COMP_WORDS[COMP_CWORD-1]}"
            printf '%%s\n' "${COMPREPLY[@]}"
        ''' % (script, " ".join("'%s'" % w for w in words), len(words) - 1)
        out = subprocess.run(["bash", "-c", prog], env=env,
                             stdout=subprocess.PIPE).stdout.decode()
        return sorted(x for x in out.split("\n") if x)
    assert complete("qvm-template ") == ["install", "list", "remove"]
    assert complete("qvm-template install de") == [TPL]
    assert complete("qvm-template install --label bl") == ["black", "blue"]
    assert complete("qvm-template install --mi") == ["--mirror"]
    assert complete("qvm-template list --inst") == ["--installed"]
    assert complete("qvm-template remove ") == [TPL, "host"]


def test_appvm_runs_as_user():
    ok("qvm-create", "--template", TPL, "--label", "red", "deb-app")
    QIDS["deb-app"] = int(D.prop("deb-app", "qid")[0])
    out = ok("qvm-run", "--pass-io", "deb-app",
             "id -un; id -Gn; cat /etc/debian_version; "
             "command -v qrexec-client-vm; hostname; echo $HOME")
    assert out == ("user\nuser qubes\n12.99\n"
                   "/run/bulkhead/bin/qrexec-client-vm\ndeb-app\n"
                   "/home/user\n"), out


def snapshots():
    d = qube_dir(TPL)
    return sorted(f for f in os.listdir(d) if f.startswith("root.snap-"))


def test_template_changes_reach_appvms_at_next_start():
    # Qubes' semantics: AppVMs see a template's changes at their first
    # start after the template has shut down, never before
    ok("qvm-start", TPL)  # its first start waits for a first snapshot
    assert qubes()[TPL][1] == "Running"
    assert snapshots() == ["root.snap-1"], snapshots()
    assert cgroups_of([TPL]), "no cgroup found for a running qube"
    assert our_pids(), "no process found for a running qube"
    out = ok("qvm-run", "--pass-io", TPL, "id -un; hostname")
    assert out == "user\ndebian-12\n", out
    out = ok("qvm-run", "--pass-io", "--user", "root", TPL,
             "echo v1 > /etc/bulkhead-test && id -un")
    assert out == "root\n", out
    f = os.path.join(qube_dir(TPL), "root", "etc", "bulkhead-test")
    st = os.stat(f)  # on disk with host ids (the launcher maps them)
    assert (st.st_uid, st.st_gid) == (0, 0), (st.st_uid, st.st_gid)
    # an AppVM (re)started while the template runs: not yet
    ok("qvm-shutdown", "--wait", "deb-app")
    ok("qvm-start", "deb-app")
    rc, out, _ = run("qvm-run", "--pass-io", "deb-app",
                     "cat /etc/bulkhead-test 2>&1")
    assert "No such file" in out, out
    # the template stops: a new snapshot; the running AppVM keeps its own
    ok("qvm-shutdown", "--wait", TPL)
    deadline = time.monotonic() + 60
    while snapshots() != ["root.snap-1", "root.snap-2"] and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    assert snapshots() == ["root.snap-1", "root.snap-2"], snapshots()
    rc, out, _ = run("qvm-run", "--pass-io", "deb-app",
                     "cat /etc/bulkhead-test 2>&1")
    assert "No such file" in out, out
    # its next start sees the change; the old snapshot, unused, goes
    ok("qvm-shutdown", "--wait", "deb-app")
    ok("qvm-start", "deb-app")
    out = ok("qvm-run", "--pass-io", "deb-app", "cat /etc/bulkhead-test")
    assert out == "v1\n", out
    deadline = time.monotonic() + 30
    while snapshots() != ["root.snap-2"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert snapshots() == ["root.snap-2"], snapshots()
    # and what the AppVM writes to its root stays its own, until it stops
    out = ok("qvm-run", "--pass-io", "--user", "root", "deb-app",
             "echo mine > /etc/app-write && cat /etc/app-write")
    assert out == "mine\n", out
    assert not os.path.exists(os.path.join(qube_dir(TPL), "root", "etc",
                                           "app-write"))
    ok("qvm-shutdown", "--wait", "deb-app")


def test_template_and_standalone_start_again():
    # a root of the qube's own keeps working start after start (the
    # launcher removed its /.oldroot mount point, and the next start
    # could not make it again: a template started once only)
    for i in range(2):
        ok("qvm-start", TPL)
        ok("qvm-run", "--pass-io", "--user", "root", TPL,
           "echo v%d > /etc/bulkhead-test" % (i + 2))
        ok("qvm-shutdown", "--wait", TPL)
    # a StandaloneVM: a copy of the template's root, its own from then on
    ok("qvm-create", "--standalone", "--template", TPL, "--label", "green",
       "deb-sa")
    QIDS["deb-sa"] = int(D.prop("deb-sa", "qid")[0])
    for i in range(2):
        ok("qvm-start", "deb-sa")
        out = ok("qvm-run", "--pass-io", "--user", "root", "deb-sa",
                 "echo s%d >> /etc/sa-mark && cat /etc/sa-mark "
                 "/etc/bulkhead-test" % i)
        assert out == "".join("s%d\n" % j for j in range(i + 1)) + "v3\n", \
            out
        ok("qvm-shutdown", "--wait", "deb-sa")
    assert not os.path.exists(os.path.join(qube_dir(TPL), "root", "etc",
                                           "sa-mark"))
    ok("qvm-remove", "--force", "deb-sa")
    del QIDS["deb-sa"]


def test_remove():
    # in use by app: refused
    rc, _, err = qt("remove", "--yes", TPL)
    assert rc == 1 and "in use" in err, (rc, err)
    rc, _, err = qt("remove", "deb-app")
    assert rc == 2 and "not a template" in err, (rc, err)
    rc, _, err = qt("remove", "nosuch")
    assert rc == 2 and "no such domain" in err, (rc, err)
    ok("qvm-remove", "--force", "deb-app")
    rc, _, err = qt("remove", TPL, stdin=b"n\n")
    assert rc == 1 and "Are you sure? [y/N]" in err and \
        "command cancelled." in err, (rc, err)
    assert TPL in qubes()
    rc, _, err = qt("remove", TPL, stdin=b"y\n")
    assert rc == 0, (rc, err)
    assert "  debian-12\n" in err, err
    left_behind()
    rc, out, _ = qt("list")
    assert out.startswith("Available Templates\n"), out


def our_pids():
    """Processes in one of our qubes' id ranges and cgroups (another
    bulkheadd on this machine may give its qubes the same qids)."""
    cg = re.compile(r"/bulkhead-(%s)-[0-9]+$" %
                    "|".join(re.escape(n) for n in QIDS), re.M)

    def ours(pid):
        try:
            uid = os.stat("/proc/%d" % pid).st_uid
            with open("/proc/%d/cgroup" % pid) as f:
                cgroups = f.read()
        except OSError:
            return False
        return cg.search(cgroups) and any(
            UID_BASE + q * 65536 <= uid < UID_BASE + (q + 1) * 65536
            for q in QIDS.values())
    return [p for p in qube_pids() if ours(p)]


def test_busybox_vm_template():
    # the minimal VM template: no debootstrap (none may run), seconds
    if os.path.exists(ARGS):
        os.unlink(ARGS)
    rc, out, err = qt("install", "busybox")
    assert rc == 0 and "Template 'busybox' installed" in err, (rc, err)
    assert not os.path.exists(ARGS), "debootstrap ran"
    assert D.prop("busybox", "virt_mode")[0] == "vm"
    root = os.path.join(D.state, "qubes", "busybox", "root")
    assert os.path.realpath(os.path.join(root, "bin", "sh")) == \
        os.path.join(root, "bin", "busybox") or \
        os.readlink(os.path.join(root, "bin", "sh")) == "/bin/busybox"
    with open(os.path.join(root, "etc", "passwd")) as f:
        assert "user:x:1000:1000:" in f.read()
    rc, out, _ = qt("list", "--installed", "--machine-readable")
    assert out.startswith("installed|busybox|0:1-"), out
    # installed: a second install skips it
    rc, out, err = qt("install", "busybox")
    assert rc == 0 and "already installed" in err, (rc, err)
    rc, out, err = qt("remove", "--yes", "busybox")
    assert rc == 0 and "busybox" not in D.qubes(), (rc, out, err)
    assert not os.path.exists(os.path.join(D.state, "qubes", "busybox"))


def test_nothing_left():
    assert set(QIDS) == {TPL, "deb-app"}, QIDS
    bh.wait_for(lambda: not cgroups_of(QIDS) and not our_pids(),
                "no qube processes or cgroups")


try:
    bh.run_tests([
        test_start,
        test_usage,
        test_list_available,
        test_failing_debootstrap_leaves_nothing,
        test_interrupted_install_leaves_nothing,
        test_killed_install_is_removable,
        test_install,
        test_completion,
        test_appvm_runs_as_user,
        test_template_changes_reach_appvms_at_next_start,
        test_template_and_standalone_start_again,
        test_remove,
        test_busybox_vm_template,
        test_nothing_left,
    ])
finally:
    D.close()
