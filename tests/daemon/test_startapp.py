#!/usr/bin/env python3
"""qubes.StartApp+APP, qubes.GetAppmenus, qvm-sync-appmenus and
qvm-appmenus end to end, in namespace-sandbox qubes of a private
bulkheadd (the embedded host template).

In a qube, desktop files in ~/.local/share/applications (one in a
subdirectory, one Hidden, one with a missing TryExec, one NoDisplay) are
started by id from the admin side with qrexec-client; ids that are not
there, or that qrexec cannot even carry, start nothing.  Then the admin
side's qvm-sync-appmenus (as root, HOME a temp directory) writes the
menus: Exec rewritten to qvm-run ... qubes.StartApp+ID, hostile lines
(an escape character, X-Evil, an icon path) dropped, and the written Exec
really starts the application.  Last, the qube answers qubes.GetAppmenus
with its own hostile service: too much, too slow, malformed; the old
menus stay.  After every path nothing is left: no process in the qube's
uid range, no cgroup."""

import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import bh  # noqa: E402

QUBE = "sa-work"
D = bh.Bulkheadd(backend="sandbox")
HOME = tempfile.mkdtemp(prefix="test-startapp-home-")
APPS = "/home/user/.local/share/applications"
MENUS = os.path.join(HOME, ".local", "share", "qubes-appmenus", QUBE,
                     "apps")


def run(qube, cmd, user="root", timeout=60, stdin=b""):
    return D.qrexec_client(qube, "%s:%s" % (user, cmd), stdin=stdin,
                           timeout=timeout)


def sh(qube, cmd, user="root"):
    rc, out, err = run(qube, cmd, user)
    return rc, out.decode(errors="replace"), err.decode(errors="replace")


def startapp(app, user="user"):
    rc, out, err = D.qrexec_client(
        QUBE, "%s:QUBESRPC qubes.StartApp+%s dom0" % (user, app))
    return rc, out.decode(errors="replace"), err.decode(errors="replace")


def put(path, text, user="user"):
    """Write text to path in the qube (as user), making its directory."""
    rc, out, err = run(QUBE, "mkdir -p \"$(dirname '%s')\" && cat > '%s'"
                       % (path, path), user=user, stdin=text.encode())
    assert rc == 0, (path, rc, out, err)


def admin_env():
    env = dict(os.environ)
    env.pop("XDG_DATA_HOME", None)
    env.pop("DISPLAY", None)
    env.update({
        "HOME": HOME,
        "BULKHEAD_ADMIN_SOCKET": D.sock,
        "BULKHEAD_QREXEC_CLIENT": os.path.join(bh.BIN, "qrexec-client"),
        "BULKHEAD_QREXEC_SOCKET_DIR": os.path.join(D.run, "qrexec"),
        "VCHAN_SOCKET_DIR": os.path.join(D.run, "vchan"),
        "VCHAN_DOMAIN": "0",
        "BULKHEAD_VCHAN_LAYOUT": "per-qube",
    })
    return env


def tool(name, *args, timeout=120):
    p = subprocess.run([os.path.join(bh.BIN, "startapp", name)] +
                       list(args), env=admin_env(), capture_output=True,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def menus():
    """{file name: text} of the qube's menu directory."""
    out = {}
    for f in sorted(os.listdir(MENUS)):
        with open(os.path.join(MENUS, f), "rb") as fh:
            out[f] = fh.read().decode()
    return out


def qube_pids():
    """Processes of this test's qube."""
    return bh.qube_pids(D, int(D.prop(QUBE, "qid")[0]))


def our_cgroups():
    return bh.qube_cgroups(D, QUBE)


DESKTOP = {
    # $0 and $1 escaped as the specification asks inside quotes; %c is
    # the Name, %U (no files) nothing
    "bhtest.desktop":
        "[Desktop Entry]\nType=Application\nName=BH Test\n"
        "Comment=A test application\nCategories=Utility;\n"
        "Icon=utilities-terminal\n"
        "Exec=sh -c \"echo started-\\$0 \\\"\\$1\\\" > /tmp/started\" "
        "bhtest %c %U\n",
    "bhsub/tool.desktop":
        "[Desktop Entry]\nType=Application\nName=Sub Tool\n"
        "Exec=sh -c \"echo sub > /tmp/started-sub\"\n",
    "bhhidden.desktop":
        "[Desktop Entry]\nType=Application\nName=Hidden\nHidden=true\n"
        "Exec=sh -c \"echo hidden > /tmp/started-hidden\"\n",
    "bhtryexec.desktop":
        "[Desktop Entry]\nType=Application\nName=TryExec\n"
        "TryExec=/nonexistent/program\n"
        "Exec=sh -c \"echo tryexec > /tmp/started-tryexec\"\n",
    "bhnodisplay.desktop":
        "[Desktop Entry]\nType=Application\nName=NoDisplay\n"
        "NoDisplay=true\n"
        "Exec=sh -c \"echo nodisplay > /tmp/started-nodisplay\"\n",
    "bhlink.desktop":
        "[Desktop Entry]\nType=Link\nName=Link\nURL=https://example.org/\n",
    # hostile for the admin side: an escape in the Name (so the entry has
    # no Name the admin side takes and is left out), another key
    "bhevil.desktop":
        "[Desktop Entry]\nType=Application\nName=\x1b]0;owned\x07Evil\n"
        "X-Evil=1\nExec=true\n",
    # a good Name, with an extra key and an icon path: those are dropped
    "bhicon.desktop":
        "[Desktop Entry]\nType=Application\nName=Icon Path\n"
        "Icon=/etc/shadow\nX-Evil=rm -rf /\nExec=true\n",
}


def test_start():
    D.start()
    D.create("AppVM", QUBE, "red")
    D.call("admin.vm.Start", QUBE)
    for rel, text in DESKTOP.items():
        put("%s/%s" % (APPS, rel), text)
    rc, out, err = sh(QUBE, "command -v qubes-startapp; ls %s | wc -l"
                      % APPS, user="user")
    assert rc == 0 and out.startswith("/run/bulkhead/bin/qubes-startapp\n"), \
        (rc, out, err)


def test_startapp():
    rc, out, err = startapp("bhtest")
    assert rc == 0, (rc, out, err)
    rc, out, _ = sh(QUBE, "cat /tmp/started")
    assert out == "started-bhtest BH Test\n", out
    # the id of a file in a subdirectory: '/' is '-'
    rc, out, err = startapp("bhsub-tool")
    assert rc == 0, (rc, out, err)
    rc, out, _ = sh(QUBE, "cat /tmp/started-sub")
    assert out == "sub\n", out
    # NoDisplay hides it from menus only
    rc, out, err = startapp("bhnodisplay")
    assert rc == 0, (rc, out, err)


def test_startapp_refused():
    # not there (also: the file name, with .desktop, is not the id)
    for app in ("nosuchapp", "bhtest.desktop", "bhsub", "tool"):
        rc, out, err = startapp(app)
        assert rc == 1 and "not found" in err, (app, rc, out, err)
    # Hidden=true is "not there"; a missing TryExec program; not an
    # application
    for app in ("bhhidden", "bhtryexec", "bhlink"):
        rc, out, err = startapp(app)
        assert rc == 1, (app, rc, out, err)
    rc, out, _ = sh(QUBE, "ls /tmp")
    assert "started-hidden" not in out and "started-tryexec" not in out, out
    # an option is not an option: "--" in the service
    rc, out, err = startapp("--appmenus")
    assert rc == 1 and "not found" in err, (rc, out, err)
    # no argument at all: usage
    rc, out, err = startapp("")
    assert rc == 2, (rc, out, err)
    # a shell metacharacter or a path cannot even be expressed: qrexec
    # refuses the service name before anything runs in the qube
    for app in ("bhtest;touch${IFS}/tmp/pwned", "../../bin/sh",
                "bhtest$(touch${IFS}/tmp/pwned)", "a/b", "bhtest|id"):
        rc, out, err = startapp(app)
        assert rc != 0, (app, rc, out, err)
    rc, out, _ = sh(QUBE, "ls /tmp")
    assert "pwned" not in out, out


def test_getappmenus():
    rc, out, err = D.qrexec_client(
        QUBE, "user:QUBESRPC qubes.GetAppmenus+ dom0")
    out = out.decode(errors="replace")
    assert rc == 0, (rc, out, err)
    lines = out.splitlines()
    assert "bhtest.desktop:Name=BH Test" in lines, out
    assert "bhtest.desktop:Exec=qubes-desktop-run bhtest.desktop" in lines
    assert "bhsub-tool.desktop:Name=Sub Tool" in lines, out
    # the Exec is never sent as it is
    assert not [l for l in lines if ":Exec=" in l and
                not l.endswith("Exec=qubes-desktop-run " +
                               l.split(":", 1)[0])], out
    for gone in ("bhhidden", "bhtryexec", "bhnodisplay", "bhlink"):
        assert not [l for l in lines if l.startswith(gone + ".desktop:")], \
            (gone, out)


def test_sync_appmenus():
    rc, out, err = tool("qvm-sync-appmenus", "-v", QUBE)
    assert rc == 0, (rc, out, err)
    # the escape line and the icon path were refused (the host's own
    # desktop files, which the qube shares, may add more)
    m = re.search(r"(\d+) lines? of the answer ignored", err)
    assert m and int(m.group(1)) >= 2, err
    assert "%s: bhtest\n" % QUBE in out, out
    got = menus()
    assert "%s-bhtest.desktop" % QUBE in got, sorted(got)
    assert "%s-bhsub-tool.desktop" % QUBE in got, sorted(got)
    for gone in ("bhhidden", "bhtryexec", "bhnodisplay", "bhlink",
                 "bhevil"):
        assert "%s-%s.desktop" % (QUBE, gone) not in got, (gone, sorted(got))
    text = got["%s-bhtest.desktop" % QUBE]
    assert text == (
        "[Desktop Entry]\nVersion=1.0\nType=Application\nTerminal=false\n"
        "X-Qubes-VmName=%s\nX-Qubes-AppName=bhtest\n"
        "Name=%s: BH Test\nComment=A test application\n"
        "Categories=Utility;X-Qubes-VM;\nIcon=utilities-terminal\n"
        "Exec=qvm-run -q -a --service -- %s qubes.StartApp+bhtest\n"
        % (QUBE, QUBE, QUBE)), text
    icon = got["%s-bhicon.desktop" % QUBE]
    assert "Name=%s: Icon Path\n" % QUBE in icon, icon
    for f, t in got.items():
        assert "\x1b" not in t and "X-Evil" not in t and \
            "/etc/shadow" not in t and "qubes-desktop-run" not in t, (f, t)
        execs = [l for l in t.splitlines() if l.startswith("Exec=")]
        assert len(execs) == 1 and re.match(
            r"^Exec=qvm-run -q -a --service -- %s qubes\.StartApp\+"
            r"[A-Za-z0-9._+-]+$" % QUBE, execs[0]), (f, t)
    # nothing but the directory of menus, no temporary one left
    assert os.listdir(os.path.dirname(MENUS)) == ["apps"]

    rc, out, err = tool("qvm-appmenus", "--get-available", QUBE)
    assert rc == 0, (rc, out, err)
    assert "bhtest.desktop - BH Test\n" in out, out
    assert "bhsub-tool.desktop - Sub Tool\n" in out, out
    assert "bhevil" not in out, out
    rc, out2, err = tool("qvm-appmenus", "--list", QUBE)
    assert rc == 0 and out2 == out, (rc, out2, err)


def test_menu_exec_starts_the_app():
    # the written Exec, run as a desktop would (qvm-run from the build),
    # starts the application in the qube
    sh(QUBE, "rm -f /tmp/started")
    text = menus()["%s-bhtest.desktop" % QUBE]
    argv = [l for l in text.splitlines() if l.startswith("Exec=")][0][5:]
    argv = argv.split(" ")
    assert argv[0] == "qvm-run", argv
    argv[0] = os.path.join(bh.BIN, "cli", "qvm-run")
    p = subprocess.run(argv, env=admin_env(), capture_output=True,
                       timeout=60)
    assert p.returncode == 0, p
    rc, out, _ = sh(QUBE, "cat /tmp/started")
    assert out == "started-bhtest BH Test\n", out


def test_resync_replaces():
    rc, out, err = sh(QUBE, "rm -r %s/bhsub" % APPS, user="user")
    assert rc == 0, (rc, out, err)
    rc, out, err = tool("qvm-sync-appmenus", "-q", QUBE)
    assert rc == 0 and err == "", (rc, out, err)
    got = menus()
    assert "%s-bhsub-tool.desktop" % QUBE not in got, sorted(got)
    assert "%s-bhtest.desktop" % QUBE in got, sorted(got)
    assert os.listdir(os.path.dirname(MENUS)) == ["apps"]


def hostile_service(script):
    put("/rw/config/qubes-rpc/qubes.GetAppmenus", script, user="root")
    rc, out, err = sh(QUBE, "chmod 755 /rw/config/qubes-rpc/"
                      "qubes.GetAppmenus")
    assert rc == 0, (rc, out, err)


def test_hostile_qube():
    # the qube answers with its own qubes.GetAppmenus (a qube's own
    # service comes first): the admin side must hold
    before = menus()
    # malformed and hostile lines among good ones
    hostile_service(
        "#!/bin/sh\n"
        "printf 'good.desktop:Name=Good\\n'\n"
        "printf 'good.desktop:Exec=rm -rf ~\\n'\n"
        "printf 'good.desktop:X-Evil=1\\n'\n"
        "printf 'good.desktop:Comment=\\033[31mred\\n'\n"
        "printf '../../../.bashrc.desktop:Name=x\\n'\n"
        "printf 'a/b.desktop:Name=x\\n'\n"
        "printf 'sp ace.desktop:Name=x\\n'\n"
        "printf 'rtl.desktop:Name=\\342\\200\\256xoferiF\\n'\n"
        "printf 'latin1.desktop:Name=caf\\351\\n'\n"
        "printf 'long.desktop:Name=%s\\n' \"$(head -c 5000 /dev/zero | "
        "tr '\\0' x)\"\n"
        "printf 'noname.desktop:Comment=no name\\n'\n"
        "printf 'icon.desktop:Name=I\\nicon.desktop:Icon=../../x.png\\n'\n"
        "printf '\\033]0;owned\\007stderr\\n' >&2\n")
    rc, out, err = tool("qvm-sync-appmenus", QUBE)
    assert rc == 0, (rc, out, err)
    m = re.search(r"(\d+) lines of the answer ignored", err)
    assert m and int(m.group(1)) == 8, err
    assert "1 application without a Name ignored" in err, err
    got = menus()
    assert sorted(got) == ["%s-good.desktop" % QUBE,
                           "%s-icon.desktop" % QUBE], sorted(got)
    good = got["%s-good.desktop" % QUBE]
    assert "Exec=qvm-run -q -a --service -- %s qubes.StartApp+good\n" \
        % QUBE in good and "rm -rf" not in good and "Comment" not in good, \
        good
    assert "Icon" not in got["%s-icon.desktop" % QUBE]
    # the qube's stderr reaches ours, escape sequences broken (qrexec-
    # client -T, as Qubes' -T keeps only \t \n \r \b \a)
    assert "_]0;owned" in err and "\x1b" not in err, err
    before = menus()

    # more than 1 MiB: refused whole, the menus as they were
    hostile_service("#!/bin/sh\nwhile :; do "
                    "echo 'spam.desktop:Name=spam'; done\n")
    rc, out, err = tool("qvm-sync-appmenus", QUBE)
    assert rc == 1 and "over 1 MiB" in err, (rc, out, err)
    assert menus() == before
    # an answer that never ends: the deadline
    hostile_service("#!/bin/sh\necho 'slow.desktop:Name=Slow'\n"
                    "exec sleep 1000\n")
    t = time.monotonic()
    rc, out, err = tool("qvm-sync-appmenus", "--timeout", "3", QUBE)
    assert rc == 1 and "in time" in err, (rc, out, err)
    assert time.monotonic() - t < 30
    assert menus() == before
    # the service fails: nothing changes either
    hostile_service("#!/bin/sh\necho 'x.desktop:Name=X'\nexit 3\n")
    rc, out, err = tool("qvm-sync-appmenus", QUBE)
    assert rc == 1 and "failed" in err, (rc, out, err)
    assert menus() == before
    rc, out, err = sh(QUBE, "rm /rw/config/qubes-rpc/qubes.GetAppmenus")
    assert rc == 0, (rc, out, err)


def test_reader_is_confined():
    """qvm-sync-appmenus (as root) never parses the qube's answer itself:
    a child of it does, and before it writes anything it has become
    nobody (no groups), set no_new_privs and loaded its seccomp program;
    the parent never changes its ids.  Seen with strace.  The answer has
    60 applications, so that the reader's qsort (which asks sysinfo for
    the machine's memory) runs under the program too."""
    strace = shutil.which("strace")
    assert strace, "strace not found (scripts/deps.sh --test installs it)"
    hostile_service("#!/bin/sh\n" + "".join(
        "printf 'app%02d.desktop:Name=App %d\\napp%02d.desktop:"
        "Comment=c\\n'\n" % (i, i, i) for i in range(60)))
    log = os.path.join(HOME, "strace.log")
    env = admin_env()
    # LeakSanitizer (the test build's) cannot run under ptrace
    env["ASAN_OPTIONS"] = ":".join(
        x for x in (env.get("ASAN_OPTIONS", ""), "detect_leaks=0") if x)
    p = subprocess.run(
        [strace, "-f", "-qq", "-o", log, "-e",
         "trace=execve,setgroups,setresuid,prctl,seccomp,write",
         os.path.join(bh.BIN, "startapp", "qvm-sync-appmenus"), QUBE],
        env=env, capture_output=True, timeout=120)
    assert p.returncode == 0, (p.returncode, p.stderr)
    assert len(menus()) == 60, sorted(menus())
    calls = {}
    with open(log) as f:
        for ln in f:
            pid, rest = ln.split(" ", 1)
            calls.setdefault(int(pid), []).append(rest.strip())
    os.unlink(log)
    main = next(iter(calls))  # the first line: its execve
    execd = {q for q, c in calls.items()
             if q != main and any(x.startswith("execve(") for x in c)}
    readers = [q for q, c in calls.items() if q != main and q not in execd
               and any(x.startswith("seccomp(") for x in c)]
    assert len(readers) == 1, calls
    c = calls[readers[0]]
    nobody = pwd.getpwnam("nobody").pw_uid

    def at(prefix):
        """The first such call that succeeded (libseccomp probes the
        kernel with calls that fail before it loads the program)."""
        i = [k for k, x in enumerate(c)
             if x.startswith(prefix) and x.endswith("= 0")]
        assert i, (prefix, c)
        return i[0]

    order = [at("setgroups(0, NULL)"),
             at("setresuid(%d, %d, %d)" % (nobody, nobody, nobody)),
             at("prctl(PR_SET_NO_NEW_PRIVS, 1"),
             at("seccomp(SECCOMP_SET_MODE_FILTER")]
    assert order == sorted(order), c
    writes = [k for k, x in enumerate(c) if x.startswith("write(")]
    assert writes and min(writes) > order[-1], c
    assert not any(x.startswith("setresuid(") for x in calls[main]), \
        calls[main]
    rc, out, err = sh(QUBE, "rm /rw/config/qubes-rpc/qubes.GetAppmenus")
    assert rc == 0, (rc, out, err)


def test_usage_and_halted():
    for args in ((), ("a", "b"), ("../x",), ("dom0",), ("a b",),
                 ("--timeout", "0", QUBE), ("--bogus", QUBE)):
        rc, out, err = tool("qvm-sync-appmenus", *args)
        assert rc == 2, (args, rc, out, err)
    for args in ((), ("--list",), (QUBE,), ("--list", "../x")):
        rc, out, err = tool("qvm-appmenus", *args)
        assert rc == 2, (args, rc, out, err)
    rc, out, err = tool("qvm-sync-appmenus", "--help")
    assert rc == 0 and out.startswith("Usage: qvm-sync-appmenus"), out
    rc, out, err = tool("qvm-appmenus", "--help")
    assert rc == 0 and out.startswith("Usage: qvm-appmenus"), out
    # a qube never synced lists nothing
    rc, out, err = tool("qvm-appmenus", "--list", "other")
    assert rc == 0 and out == "", (rc, out, err)
    # halted: the call fails, the menus stay
    before = menus()
    D.call("admin.vm.Shutdown", QUBE, "wait")
    rc, out, err = tool("qvm-sync-appmenus", QUBE)
    assert rc == 1, (rc, out, err)
    assert menus() == before


def test_nothing_left():
    if D.qubes()[QUBE]["state"] != "Halted":
        D.call("admin.vm.Shutdown", QUBE, "wait")
    bh.wait_for(lambda: not qube_pids() and not our_cgroups(),
                "the qube's processes and cgroups to go")


try:
    bh.run_tests([
        test_start,
        test_startapp,
        test_startapp_refused,
        test_getappmenus,
        test_sync_appmenus,
        test_menu_exec_starts_the_app,
        test_resync_replaces,
        test_hostile_qube,
        test_reader_is_confined,
        test_usage_and_halted,
        test_nothing_left,
    ])
finally:
    D.close()
    shutil.rmtree(HOME, ignore_errors=True)
