#!/usr/bin/env python3
"""Flow control: a reader that stops reading stalls only its own call, and
no process on the way (service side, relay, caller) buffers without bound."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

S = h.System()
WORK = S.qube("work", 1)
PERSONAL = S.qube("personal", 2)
for q in (WORK, PERSONAL):
    q.service("test.Zero", "#!/bin/sh\nexec cat /dev/zero\n")
    q.service("test.Sink", "#!/bin/sh\nsleep 3600\n")
    q.service("test.Echo", "#!/bin/sh\necho hi\n")
    q.start()
S.set_rules("work personal * allow\n")


def rss_kib(pid):
    """pid's resident size, None once it has gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return None


def tree_rss(pids):
    return {p: rss_kib(p) for p in pids}


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ")
    except OSError:
        return b""


def call_procs(roots, before, want):
    """Once the call is up: roots and the processes under them started
    since before, when these include one whose command line contains
    each of want (the agent's call process, a relay, the service)."""
    def new():
        return [p for root in roots for p in h.descendants(root)
                if p not in before]
    h.wait_for(lambda: all(any(w in cmdline(p) for p in new())
                           for w in want), "the call's processes %s" % want)
    return list(roots) + new()


def check_bounded(pids, seconds=3.0, limit_kib=8 * 1024):
    """RSS of every process must not grow by more than limit over time;
    every one of them is still there at the end."""
    assert pids, "no process to measure"
    time.sleep(1.0)
    before = tree_rss(pids)
    time.sleep(seconds)
    after = tree_rss(pids)
    for p in pids:
        assert before[p] is not None and after[p] is not None, \
            "process %d (%r) went during the measurement" % (p, cmdline(p))
        assert after[p] - before[p] < limit_kib, \
            "process %d grew from %d to %d KiB" % (p, before[p], after[p])


def test_admin_caller_stops_reading():
    # qrexec-client's stdout is a pipe nobody reads; the service produces
    # forever.  The agent's call process and the client stay bounded.
    r, w = os.pipe()
    before = set(h.descendants(WORK.agent.pid))
    client = subprocess.Popen(
        [os.path.join(h.BIN, "qrexec-client"), "--socket-dir=" + S.sockdir,
         "-d", "work", "%s:QUBESRPC test.Zero dom0" % h.user()],
        env=S.admin_env(), stdout=w, stdin=subprocess.DEVNULL)
    os.close(w)
    try:
        pids = call_procs([WORK.agent.pid], before,
                          [b"qrexec-agent", b"cat /dev/zero"])
        check_bounded(pids + [client.pid])
        # everything else goes on
        rc, out, _ = S.client("work", "%s:QUBESRPC test.Echo dom0" % h.user())
        assert rc == 0 and out == b"hi\n", (rc, out)
        rc, out, _ = WORK.client_vm("personal", "test.Echo")
        assert rc == 0 and out == b"hi\n", (rc, out)
    finally:
        client.kill()
        client.wait()
        os.close(r)


def test_service_stops_reading_relay_bounded():
    # work sends forever to a service in personal that never reads; the
    # caller, the relay (a child of work's daemon) and the service side
    # all stay bounded
    roots = [WORK.daemon.pid, PERSONAL.agent.pid]
    before = {p for root in roots for p in h.descendants(root)}
    caller = subprocess.Popen(
        [os.path.join(h.BIN, "qrexec-client-vm"),
         "--agent-socket=" + WORK.trigger, "personal", "test.Sink"],
        env=WORK.agent_env(), stdin=open("/dev/zero", "rb"),
        stdout=subprocess.DEVNULL)
    try:
        pids = call_procs(roots, before, [b"qrexec-daemon", b"qrexec-agent",
                                          b"sleep 3600"])
        check_bounded(pids + [caller.pid])
        rc, out, _ = WORK.client_vm("personal", "test.Echo")
        assert rc == 0 and out == b"hi\n", (rc, out)
    finally:
        caller.kill()
        caller.wait()


def test_qube_caller_stops_reading():
    r, w = os.pipe()
    roots = [WORK.daemon.pid, PERSONAL.agent.pid]
    before = {p for root in roots for p in h.descendants(root)}
    caller = subprocess.Popen(
        [os.path.join(h.BIN, "qrexec-client-vm"),
         "--agent-socket=" + WORK.trigger, "personal", "test.Zero"],
        env=WORK.agent_env(), stdin=subprocess.DEVNULL, stdout=w)
    os.close(w)
    try:
        pids = call_procs(roots, before, [b"qrexec-daemon", b"qrexec-agent",
                                          b"cat /dev/zero"])
        check_bounded(pids + [caller.pid])
        rc, out, _ = S.client("personal",
                              "%s:QUBESRPC test.Echo dom0" % h.user())
        assert rc == 0 and out == b"hi\n", (rc, out)
    finally:
        caller.kill()
        caller.wait()
        os.close(r)


try:
    h.run_tests([
        test_admin_caller_stops_reading,
        test_service_stops_reading_relay_bounded,
        test_qube_caller_stops_reading,
    ])
finally:
    S.close()
