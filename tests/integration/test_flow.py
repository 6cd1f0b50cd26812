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
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def tree_rss(pids):
    return {p: rss_kib(p) for p in pids}


def check_bounded(pids, seconds=3.0, limit_kib=8 * 1024):
    """RSS of every process must not grow by more than limit over time."""
    time.sleep(1.0)
    before = tree_rss(pids)
    time.sleep(seconds)
    after = tree_rss(pids)
    for p, kib in after.items():
        if kib and before.get(p):
            assert kib - before[p] < limit_kib, \
                "process %d grew from %d to %d KiB" % (p, before[p], kib)


def test_admin_caller_stops_reading():
    # qrexec-client's stdout is a pipe nobody reads; the service produces
    # forever.  The agent's call process and the client stay bounded.
    r, w = os.pipe()
    client = subprocess.Popen(
        [os.path.join(h.BIN, "qrexec-client"), "--socket-dir=" + S.sockdir,
         "-d", "work", "%s:QUBESRPC test.Zero dom0" % h.user()],
        env=S.admin_env(), stdout=w, stdin=subprocess.DEVNULL)
    os.close(w)
    try:
        check_bounded(h.descendants(WORK.agent.pid) + [client.pid])
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
    caller = subprocess.Popen(
        [os.path.join(h.BIN, "qrexec-client-vm"),
         "--agent-socket=" + WORK.trigger, "personal", "test.Sink"],
        env=WORK.agent_env(), stdin=open("/dev/zero", "rb"),
        stdout=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        pids = (h.descendants(WORK.daemon.pid) + h.descendants(PERSONAL.agent.pid)
                + [caller.pid])
        check_bounded(pids)
        rc, out, _ = WORK.client_vm("personal", "test.Echo")
        assert rc == 0 and out == b"hi\n", (rc, out)
    finally:
        caller.kill()
        caller.wait()


def test_qube_caller_stops_reading():
    r, w = os.pipe()
    caller = subprocess.Popen(
        [os.path.join(h.BIN, "qrexec-client-vm"),
         "--agent-socket=" + WORK.trigger, "personal", "test.Zero"],
        env=WORK.agent_env(), stdin=subprocess.DEVNULL, stdout=w)
    os.close(w)
    try:
        time.sleep(1.0)
        pids = (h.descendants(WORK.daemon.pid) + h.descendants(PERSONAL.agent.pid)
                + [caller.pid])
        check_bounded(pids)
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
