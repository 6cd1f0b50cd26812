#!/usr/bin/env python3
"""bulkhead-guid (issue #8): every qube it shows is read, however many.
The core's poll set had a fixed 64 places, filled with qubes first: from
the 57th qube on, a qube's GUI messages were never read (and the VNC
viewers and the policy prompt lost their places already before that).

60 fake agents (--static, the limit is 64), VNC output: each connects
and sends its pool; then the last and the first each create, map and
dump a window and must get the core's WINDOW_DUMP_ACK, and a VNC viewer
still gets the desktop.  --max-qubes: with 3 allowed of 5, only 3 are
connected.  TAP.
"""

import os
import sys
import threading

from guitest import (GUID, MAP, FakeAgent, accept_with_pool, create, diag,
                     dump, free_port, msg, ok, run_main, snap_vnc, start,
                     stop_all, wait_for)

WINDOW_DUMP_ACK = 149
N = 60


def until(c, want, timeout=15):
    """Read frames until one of type want: True, or False on a close or
    a timeout."""
    c.s.settimeout(timeout)
    try:
        while True:
            if c.frame()[0] == want:
                return True
    except Exception as e:  # closed, timed out
        diag("while waiting for type %d: %s" % (want, e))
        return False


def connect_all(agents, timeout=30):
    conns = {}

    def accept(name):
        try:
            conns[name] = accept_with_pool(agents[name], timeout)
        except OSError:
            return
    ts = [threading.Thread(target=accept, args=(n,)) for n in agents]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return conns


def run_many(tmp):
    names = ["q%02d" % i for i in range(N)]
    agents = {n: FakeAgent(os.path.join(tmp, "many"), n, dir_mode=0o755,
                           sock_mode=0o777) for n in names}
    port = free_port()
    argv = [GUID, "--vnc=%d" % port, "--screen", "640x480", "-d"]
    for i, n in enumerate(names):
        argv += ["--static", "%s:0x%06x:%s" % (n, 0x100000 + i,
                                               agents[n].path)]
    glog = open(os.path.join(tmp, "many.log"), "w")
    guid = start(argv, glog)
    conns = connect_all(agents)
    if not ok(len(conns) == N, "%d fake agents are connected (%d)" % (
            N, len(conns))):
        return
    for n in (names[-1], names[0]):
        c = conns[n]
        c.send(create(1, w=40, h=30, x=20, y=40) +
               msg(MAP, 1, b"\0" * 8) + dump(1, 40, 30))
        ok(until(c, WINDOW_DUMP_ACK),
           "qube %s (of %d) maps a window: the core reads it and answers"
           % (n, N))
    img = snap_vnc(port, os.path.join(tmp, "many.ppm"), check=False)
    ok(img is not None, "a VNC viewer still gets the desktop")
    ok(guid.poll() is None, "bulkhead-guid is still running")


def run_limit(tmp):
    names = ["m%d" % i for i in range(5)]
    agents = {n: FakeAgent(os.path.join(tmp, "limit"), n, dir_mode=0o755,
                           sock_mode=0o777) for n in names}
    argv = [GUID, "--vnc=%d" % free_port(), "--screen", "640x480",
            "--max-qubes", "3", "-d"]
    for n in names:
        argv += ["--static", "%s:0x123456:%s" % (n, agents[n].path)]
    log_path = os.path.join(tmp, "limit.log")
    guid = start(argv, open(log_path, "w"))
    conns = connect_all(agents, timeout=4)
    ok(len(conns) == 3, "--max-qubes 3: 3 of 5 qubes are connected (%d)" %
       len(conns))

    def said():
        with open(log_path) as f:
            return "at its limit of 3 qubes shown" in f.read()
    ok(wait_for(said, 5), "... and the log says why the others wait")
    ok(guid.poll() is None, "bulkhead-guid is still running")


def run(tmp):
    os.mkdir(os.path.join(tmp, "many"), 0o755)
    os.mkdir(os.path.join(tmp, "limit"), 0o755)
    run_many(tmp)
    stop_all()
    run_limit(tmp)


def main():
    return run_main(run, "bh-many-")


if __name__ == "__main__":
    sys.exit(main())
