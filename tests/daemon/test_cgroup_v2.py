#!/usr/bin/env python3
"""A namespace qube's cgroups on a host with only cgroup v2, as far as this
host can show it.  The CI machines have v1 controllers and an empty
unified hierarchy beside them (/sys/fs/cgroup/unified); here bulkheadd
runs in a mount namespace where /sys/fs/cgroup is that unified hierarchy,
so bulkhead-sandbox finds no v1 hierarchy and takes its v2 path: the
qube's first process is made in its v2 cgroup (clone3, CLONE_INTO_CGROUP)
and so is everything the qube starts; inside, its cgroup namespace is
rooted there; the cgroup is gone when the qube stops.  A bulkheadd
started in a cgroup other than the root (as a systemd service is) moves
itself into bulkheadd.self below it, and its qubes' cgroups are made
beside that, so the cgroup above holds no process and can have
controllers.  The unified hierarchy here has no memory, pids or cpu
controller, so the limits cannot be set: bulkheadd says so when it
starts and the launcher in the qube's log (the sandbox tests check the
limits where the controllers are).  Skipped without that layout."""

import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import bh  # noqa: E402

UNIFIED = "/sys/fs/cgroup/unified"
if os.geteuid() != 0 or shutil.which("unshare") is None or \
        not os.path.exists(os.path.join(UNIFIED, "cgroup.controllers")) or \
        not os.path.isdir("/sys/fs/cgroup/pids"):
    print("1..0 # SKIP no hybrid cgroup layout (v1 controllers and an "
          "unified hierarchy at %s), or not root" % UNIFIED)
    sys.exit(0)


def wrap(then=""):
    """bulkheadd in a mount namespace where /sys/fs/cgroup is the unified
    hierarchy, after the shell command then."""
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind %s /sys/fs/cgroup && %s exec "$@"' % (
                UNIFIED, then), "sh"]


D = bh.Bulkheadd(backend="sandbox", wrapper=wrap())
NAME = "v2work"
# the second bulkheadd's cgroup, as a service's would be
SVC = "bulkhead-test-svc-%d" % os.getpid()
D2 = bh.Bulkheadd(backend="sandbox", wrapper=wrap(
    "mkdir /sys/fs/cgroup/%s && echo $$ >/sys/fs/cgroup/%s/cgroup.procs &&"
    % (SVC, SVC)))


def v2_path(pid):
    """The v2 line of /proc/PID/cgroup: the path."""
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].strip()
    return None


def qube_cgroup_dirs(under=UNIFIED):
    return [os.path.join(under, e) for e in os.listdir(under)
            if re.match(r"^bulkhead-%s-[0-9]+$" % NAME, e)]


def test_start_warns():
    D.start()
    bh.wait_for(lambda: "cgroup v2: cannot enable" in D.log(),
                "bulkheadd's warning")
    assert "qubes will run without memory, process and CPU limits" in \
        D.log(), D.log()[-2000:]


def test_qube_in_its_v2_cgroup():
    D.create("AppVM", NAME, "red")
    D.call("admin.vm.Start", NAME)
    rc, out, err = D.qrexec_client(NAME, "root:sleep 30 >/dev/null 2>&1 & "
                                   "cat /proc/self/cgroup")
    # inside: its cgroup namespace is rooted at its own cgroup
    assert rc == 0 and b"0::/\n" in out, (rc, out, err)
    dirs = qube_cgroup_dirs()
    assert len(dirs) == 1, dirs
    want = "/" + os.path.basename(dirs[0])
    qid = int(D.prop(NAME, "qid")[0])
    pids = bh.qube_pids(D, qid)
    assert len(pids) >= 3, pids  # init, the agent, the sleep at least
    paths = {p: v2_path(p) for p in pids if os.path.exists("/proc/%d" % p)}
    assert paths and all(v == want for v in paths.values()), (want, paths)
    with open(os.path.join(dirs[0], "cgroup.procs")) as f:
        inside = {int(x) for x in f.read().split()}
    assert set(paths) <= inside, (paths, inside)


def test_launcher_says_why():
    with open(os.path.join(D.state, "log", NAME + ".log"),
              errors="replace") as f:
        text = f.read()
    assert "enabling memory, pids and cpu for the qube's cgroup" in text, \
        text[-2000:]


def test_cgroup_gone_after_stop():
    D.call("admin.vm.Shutdown", NAME, "wait")
    bh.wait_for(lambda: not qube_cgroup_dirs(), "the v2 cgroup removed")
    qid = int(D.prop(NAME, "qid")[0])
    assert not bh.qube_pids(D, qid)


def test_a_service_steps_aside():
    D.close()
    svc = os.path.join(UNIFIED, SVC)
    D2.start()
    assert v2_path(D2.proc.pid) == "/%s/bulkheadd.self" % SVC, \
        v2_path(D2.proc.pid)
    D2.create("AppVM", NAME, "red")
    D2.call("admin.vm.Start", NAME)
    rc, _, err = D2.qrexec_client(NAME, "root:true")
    assert rc == 0, err
    # the qube's cgroup beside bulkheadd's, none of our processes above
    dirs = qube_cgroup_dirs(svc)
    assert len(dirs) == 1, os.listdir(svc)
    with open(os.path.join(svc, "cgroup.procs")) as f:
        assert f.read() == "", "processes in %s" % svc
    qid = int(D2.prop(NAME, "qid")[0])
    want = "/%s/%s" % (SVC, os.path.basename(dirs[0]))
    pids = [p for p in bh.qube_pids(D2, qid)
            if os.path.exists("/proc/%d" % p)]
    assert pids and all(v2_path(p) == want for p in pids), (want, pids)
    D2.call("admin.vm.Shutdown", NAME, "wait")
    bh.wait_for(lambda: not qube_cgroup_dirs(svc), "the v2 cgroup removed")


try:
    bh.run_tests([
        test_start_warns,
        test_qube_in_its_v2_cgroup,
        test_launcher_says_why,
        test_cgroup_gone_after_stop,
        test_a_service_steps_aside,
    ])
finally:
    D.close()
    D2.close()
    for d in (os.path.join(UNIFIED, SVC, "bulkheadd.self"),
              os.path.join(UNIFIED, SVC)):
        try:
            os.rmdir(d)
        except OSError:
            pass
