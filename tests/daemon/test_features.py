#!/usr/bin/env python3
"""qubes.FeaturesRequest and qubes.NotifyTools (bulkhead-features-request)
end to end, with a private bulkheadd (namespace-sandbox backend, the
embedded host template).

The rules are Qubes' (core_features.py, services.py,
supported_features.py, windows.py): a template-based qube (an AppVM) may
only advertise supported-rpc.*; a TemplateVM or StandaloneVM sets
qrexec/gui/os... and its supported-service.* / supported-feature.*
lists, which replace the old ones.  bulkhead has no qubesdb: the qube
sends NAME=VALUE lines on the service's stdin.  The admin-side program is
run directly for a StandaloneVM (which needs no root of its own to be
named by QREXEC_REMOTE_DOMAIN) and through qrexec from an AppVM.  Requests
over the limits or with a bad value set nothing.

This bulkheadd runs its policy daemon as nobody (--policy-user): the calls
from the AppVM are decided by an unprivileged policy daemon, which reads
the policy and asks bulkheadd's internal socket through its group."""

import grp
import os
import pwd
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import bh  # noqa: E402

try:
    NOBODY = pwd.getpwnam("nobody")
except KeyError:
    NOBODY = None
# the qrexec-daemons' workers run as "daemon" (Debian's uid 1), where
# there is one: not nobody, bulkheadd's fallback
try:
    QREXEC_USER = pwd.getpwnam("daemon")
except KeyError:
    QREXEC_USER = None
D = bh.Bulkheadd(backend="sandbox",
                 policy_user="nobody" if NOBODY else "root",
                 qrexec_user=QREXEC_USER.pw_name if QREXEC_USER else None)
# the policy daemon, as nobody, reads CONF/policy.d and reaches
# RUN/qubesd.internal.sock: the directories above must let it through,
# as /etc/bulkhead and /run/bulkhead do
os.chmod(D.root, 0o755)
PROG = os.path.join(bh.BIN, "daemon", "bulkhead-features-request")
WRAP = os.path.join(bh.BIN, "qubes-rpc-dom0")
APP = "fq-work"
SA = "fq-alone"
SA2 = "fq-tools"


def features(qube):
    out = {}
    for name in D.call("admin.vm.feature.List", qube).splitlines():
        out[name] = D.call("admin.vm.feature.Get", qube, name)
    return out


def admin_side(qube, text, mode="qubes.FeaturesRequest", wrapper=False):
    """The service as qrexec-daemon would run it for qube."""
    env = dict(os.environ, QREXEC_REMOTE_DOMAIN=qube,
               BULKHEAD_ADMIN_SOCKET=D.sock)
    argv = [os.path.join(WRAP, mode)] if wrapper else \
        [PROG, "--mode=" + mode]
    if isinstance(text, str):
        text = text.encode()
    p = subprocess.run(argv, env=env, input=text, capture_output=True,
                       timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def sh(qube, cmd, user="root", stdin=b""):
    rc, out, err = D.qrexec_client(qube, "%s:%s" % (user, cmd),
                                   stdin=stdin, timeout=60)
    return rc, out.decode(errors="replace"), err.decode(errors="replace")


def in_qube(service, text):
    """qrexec-client-vm dom0 SERVICE in the AppVM with text on its stdin:
    its exit code (output through a file: it shuts its stdout down)."""
    rc, out, err = sh(APP, "qrexec-client-vm dom0 %s >/tmp/fo 2>&1; "
                      "echo rc=$?" % service, stdin=text.encode())
    assert rc == 0 and out.startswith("rc="), (rc, out, err)
    return int(out.strip()[3:])


def test_start():
    D.start()
    D.create("StandaloneVM", SA, "green")
    D.create("StandaloneVM", SA2, "green")
    D.create("AppVM", APP, "red")
    D.call("admin.vm.Start", APP)


def test_usage():
    rc, out, _ = admin_side(SA, "", mode="bogus")
    assert rc == 2
    p = subprocess.run([PROG, "--mode=qubes.FeaturesRequest"], input=b"",
                       capture_output=True,
                       env={k: v for k, v in os.environ.items()
                            if k != "QREXEC_REMOTE_DOMAIN"})
    assert p.returncode == 2, p
    rc, _, _ = admin_side("../x", "qrexec=1\n")
    assert rc == 2
    p = subprocess.run([PROG, "--help"], capture_output=True)
    assert p.returncode == 0 and b"--mode" in p.stdout


def test_features_request_standalone():
    rc, out, err = admin_side(
        SA, "qrexec=1\nos=Linux\nos-distribution=debian\nos-version=12\n"
        "os-eol=2028-06-30\nvmexec=1\nsupported-service.foo=1\n"
        "supported-service.bar=1\nsupported-feature.x=1\n"
        "supported-rpc.qubes.Foo=1\nevil=1\n\ngui=0\n", wrapper=True)
    assert rc == 0 and out == "", (rc, out, err)
    assert "unknown feature evil, ignoring" in err, err
    f = features(SA)
    assert f == {"qrexec": "1", "gui": "", "os": "Linux",
                 "os-distribution": "debian", "os-version": "12",
                 "os-eol": "2028-06-30", "vmexec": "1",
                 "supported-service.foo": "1", "supported-service.bar": "1",
                 "supported-feature.x": "1",
                 "supported-rpc.qubes.Foo": "1"}, f
    # a later list replaces the old one; qrexec/gui once set stay;
    # a prefix not listed at all is left alone (Qubes: an empty list
    # clears nothing)
    rc, out, err = admin_side(
        SA, "supported-service.bar=1\nsupported-service.baz=0\nqrexec=0\n"
        "vmexec=0\n")
    assert rc == 0, err
    f = features(SA)
    assert "supported-service.foo" not in f and "supported-service.baz" \
        not in f and f["supported-service.bar"] == "1", f
    assert f["qrexec"] == "1" and f["vmexec"] == "" and \
        f["supported-feature.x"] == "1" and \
        f["supported-rpc.qubes.Foo"] == "1", f


def test_bad_values_ignored():
    before = features(SA)
    rc, _, err = admin_side(SA, "os-version=abc\nos-eol=2023-02-30\n"
                            "qrexec=2\nos=Plan9\nqubes-agent-version=4.x\n"
                            "supported-service.%s=1\n" % ("a" * 65))
    assert rc == 0, err
    assert features(SA) == before, features(SA)
    assert "invalid os-version" in err and "invalid os-eol" in err, err


def test_refused_sets_nothing():
    before = features(SA)
    good = "supported-service.new=1\nos-distribution=new\n"
    bad = [
        "x=" + "a" * 255 + "\n",                        # line of 257
        "".join("k%d=1\n" % i for i in range(65)),      # 65 lines
        "".join("k%02d=%s\n" % (i, "a" * 250) for i in range(40)),  # >8K
        "os=Linux;rm\n",                                # value charset
        "os=L\xe9\n",                                   # not ASCII
        "novalue\n",                                    # no '='
        "=1\n",                                         # no name
        "a/b=1\n",                                      # name charset
        "os=Linux\nos=Windows\n",                       # twice
        "os=Li\0nux\n",                                 # NUL
    ]
    for b in bad:
        rc, _, err = admin_side(SA, good + b)
        assert rc == 1 and "refused" in err, (b[:40], rc, err)
        assert features(SA) == before, b[:40]
    # the limits themselves are fine: 64 lines, a line of 256 bytes
    rc, _, err = admin_side(SA, "x=" + "a" * 254 + "\n" +
                            "".join("k%d=1\n" % i for i in range(63)))
    assert rc == 0, err


def test_reader_is_confined():
    # the qube's bytes are read and parsed by a child of the service that
    # confined itself first; the service (root here, dom0 on the Admin
    # API) only takes the checked result
    env = dict(os.environ, QREXEC_REMOTE_DOMAIN=SA,
               BULKHEAD_ADMIN_SOCKET=D.sock)
    p = subprocess.Popen([PROG, "--mode=qubes.FeaturesRequest"], env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        kids = []

        def confined_child():
            kids[:] = []
            for c in os.listdir("/proc"):
                try:
                    st = bh.proc_status(int(c)) if c.isdigit() else {}
                except OSError:
                    continue
                if st.get("PPid") == str(p.pid) and st["Seccomp"] == "2":
                    kids.append(int(c))
            return len(kids) == 1
        bh.wait_for(confined_child, "the confined reader")
        st = bh.proc_status(kids[0])
        nobody = str(pwd.getpwnam("nobody").pw_uid)
        assert st["Uid"].split() == [nobody] * 4, st["Uid"]
        assert st["Groups"] == "" and st["NoNewPrivs"] == "1", st
        assert st["CapEff"] == "0000000000000000", st
        # the service itself reads nothing of the qube's: its stdin is
        # the child's alone
        assert bh.proc_status(p.pid)["Seccomp"] == "0"
        out, err = p.communicate(b"supported-service.confined=1\n",
                                 timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, (p.returncode, err)
    assert features(SA).get("supported-service.confined") == "1", \
        features(SA)
    # a request the reader refuses sets nothing, and says why
    before = features(SA)
    rc, _, err = admin_side(SA, "supported-service.x=1\nbad\n")
    assert rc == 1 and "malformed request at line 2, refused" in err, err
    assert features(SA) == before


def test_notify_tools():
    rc, _, err = admin_side(SA2, "qrexec=1\ngui=1\nos=Windows\n"
                            "default-user=bob\nversion=4\n"
                            "supported-service.x=1\n",
                            mode="qubes.NotifyTools", wrapper=True)
    assert rc == 0, err
    f = features(SA2)
    assert f == {"qrexec": "1", "gui": "1", "os": "Windows"}, f
    assert "unknown feature version" in err and \
        "unknown feature supported-service.x" in err, err
    # NotifyTools' values are letters and digits only (Qubes' misc.py)
    rc, _, err = admin_side(SA2, "os=Li-nux\n", mode="qubes.NotifyTools")
    assert rc == 1 and features(SA2) == f, err


def write_policy():
    with open(os.path.join(D.conf, "policy.d", "30-features.policy"),
              "w") as f:
        f.write("qubes.FeaturesRequest * %s @adminvm allow target=dom0\n"
                "qubes.NotifyTools * %s @adminvm allow target=dom0\n"
                % (APP, APP))


def test_from_an_appvm():
    # without a policy: denied, nothing set
    assert in_qube("qubes.FeaturesRequest", "supported-rpc.qubes.P=1\n") \
        != 0
    assert features(APP) == {}
    write_policy()
    # the policy daemon reloads a little later
    deadline = time.monotonic() + 20
    while in_qube("qubes.FeaturesRequest",
                  "supported-rpc.qubes.Probe=1\n") != 0:
        assert time.monotonic() < deadline, "the policy was not reloaded"
        time.sleep(0.2)
    assert features(APP) == {"supported-rpc.qubes.Probe": "1"}
    # an AppVM is template-based: as in Qubes, only supported-rpc.* counts
    rc = in_qube("qubes.FeaturesRequest",
                 "qrexec=1\nos=Linux\nsupported-service.foo=1\nevil=1\n"
                 "supported-rpc.qubes.Bar=1\n")
    assert rc == 0
    assert features(APP) == {"supported-rpc.qubes.Bar": "1"}, \
        features(APP)
    # refused: nothing set, nothing removed
    rc = in_qube("qubes.FeaturesRequest",
                 "supported-rpc.qubes.New=1\nx=" + "a" * 300 + "\n")
    assert rc != 0
    rc = in_qube("qubes.FeaturesRequest", "supported-rpc.qubes.New=1\n" +
                 "".join("k%d=1\n" % i for i in range(70)))
    assert rc != 0
    rc = in_qube("qubes.FeaturesRequest",
                 "supported-rpc.qubes.New=1\nos=a;b\n")
    assert rc != 0
    assert features(APP) == {"supported-rpc.qubes.Bar": "1"}
    # NotifyTools from a template-based qube sets nothing
    assert in_qube("qubes.NotifyTools", "qrexec=1\ngui=1\nos=Linux\n") == 0
    assert features(APP) == {"supported-rpc.qubes.Bar": "1"}


def test_qrexec_worker_user():
    # --qrexec-user: an unknown user, or root, is a usage error
    for user, why in (("no-such-user-bh", b"no such user"),
                      ("root", b"not root")):
        p = subprocess.run(
            [os.path.join(bh.BIN, "daemon", "bulkheadd"), "--state-dir",
             os.path.join(D.root, "x"), "--run-dir",
             os.path.join(D.root, "xr"), "--qrexec-user", user],
            capture_output=True, timeout=30)
        assert p.returncode == 2 and why in p.stderr, p
    if QREXEC_USER is None:
        print("# skipped: no user daemon")
        return
    # each running qube's qrexec-daemon: a root monitor, a worker as the
    # named user, confined
    both = bh.programs(D, "qrexec-daemon")
    mons = [p for p, ppid in both if ppid == D.proc.pid]
    workers = [p for p, ppid in both if ppid != D.proc.pid]
    assert mons and len(workers) == len(mons), (mons, workers)
    for w in workers:
        st = bh.proc_status(w)
        assert st["Uid"].split() == [str(QREXEC_USER.pw_uid)] * 4, st
        assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2", st


def test_policy_daemon_unprivileged():
    # a --policy-user that names no user is a usage error
    p = subprocess.run(
        [os.path.join(bh.BIN, "daemon", "bulkheadd"), "--state-dir",
         os.path.join(D.root, "x"), "--run-dir", os.path.join(D.root, "xr"),
         "--policy-user", "no-such-user-bh"], capture_output=True,
        timeout=30)
    assert p.returncode == 2 and b"no such user" in p.stderr, p
    if NOBODY is None:
        print("# skipped: no user nobody")
        return
    pids = [p for p, _ in bh.programs(D, "qrexec-policy-daemon")]
    assert len(pids) == 1, pids
    st = bh.proc_status(pids[0])
    assert st["Uid"].split() == [str(NOBODY.pw_uid)] * 4, st["Uid"]
    assert st["Gid"].split() == [str(NOBODY.pw_gid)] * 4, st["Gid"]
    assert st["NoNewPrivs"].strip() == "1", st["NoNewPrivs"]
    # the internal socket: root's, and the policy user's group's alone
    s = os.stat(os.path.join(D.run, "qubesd.internal.sock"))
    assert (s.st_uid, s.st_gid, stat.S_IMODE(s.st_mode)) == (
        0, NOBODY.pw_gid, 0o660), (s.st_uid, grp.getgrgid(s.st_gid),
                                   oct(s.st_mode))


def test_nothing_left():
    D.call("admin.vm.Kill", APP)
    bh.wait_for(lambda: not bh.qube_pids(D) and not bh.qube_cgroups(D),
                "the qube's processes and cgroups to go")


try:
    bh.run_tests([
        test_start,
        test_usage,
        test_features_request_standalone,
        test_bad_values_ignored,
        test_refused_sets_nothing,
        test_reader_is_confined,
        test_notify_tools,
        test_from_an_appvm,
        test_qrexec_worker_user,
        test_policy_daemon_unprivileged,
        test_nothing_left,
    ])
finally:
    D.close()
