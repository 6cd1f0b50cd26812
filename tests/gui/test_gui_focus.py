#!/usr/bin/env python3
"""bulkhead-guid (issue #8): a qube cannot take the keyboard by mapping a
window.  The core gives the focus to a mapped window only when no window
has it; that is also the case right after the focused window went away,
and then any qube mapping windows in a loop caught the keys the user
typed next.  Now only the qube that had the focus last gets it back that
way.

Two fake agents, VNC output: "b" maps a window (the first: it gets
FOCUS in), unmaps it (FOCUS out: nobody has the focus), then "a" maps
one: it must get no FOCUS before the core acknowledges the WINDOW_DUMP
it sent after its MAP (messages are handled in order); then "b" maps
again and gets the focus back.  TAP.
"""

import os
import struct
import sys
import threading

from guitest import (GUID, MAP, FakeAgent, accept_with_pool, create, diag,
                     dump, free_port, msg, ok, run_main, start)

UNMAP, FOCUS, WINDOW_DUMP_ACK = 133, 128, 149
FOCUS_IN, FOCUS_OUT = 9, 10


def frames_until(c, want, timeout=10):
    """Frames up to and including the first of type want (or all until a
    close or timeout, then None is appended)."""
    got = []
    c.s.settimeout(timeout)
    try:
        while True:
            f = c.frame()
            got.append(f)
            if f[0] == want:
                return got
    except Exception as e:  # closed, timed out
        diag("while waiting for type %d: %s" % (want, e))
        got.append(None)
        return got


def focus_types(frames):
    return [struct.unpack("<I", f[2][:4])[0] for f in frames
            if f is not None and f[0] == FOCUS]


def run(tmp):
    agents = {n: FakeAgent(tmp, n, dir_mode=0o755, sock_mode=0o777)
              for n in ("a", "b")}
    glog_path = os.path.join(tmp, "guid.log")
    glog = open(glog_path, "w")
    guid = start([GUID, "--static", "a:0x75507b:%s" % agents["a"].path,
                  "--static", "b:0x73d216:%s" % agents["b"].path,
                  "--vnc=%d" % free_port(), "--screen", "640x480", "-d"],
                 glog)
    conns = {}

    def accept(name):
        conns[name] = accept_with_pool(agents[name])
    ts = [threading.Thread(target=accept, args=(n,)) for n in agents]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if not ok(len(conns) == 2, "both fake agents are connected"):
        return
    a, b = conns["a"], conns["b"]

    b.send(create(1, w=40, h=30, x=20, y=40) + msg(MAP, 1, b"\0" * 8) +
           dump(1, 40, 30))
    got = frames_until(b, WINDOW_DUMP_ACK)
    ok(focus_types(got) == [FOCUS_IN],
       "b's first window gets the focus (%s)" % focus_types(got))
    b.send(msg(UNMAP, 1))
    got = frames_until(b, FOCUS)
    ok(focus_types(got) == [FOCUS_OUT],
       "b unmaps it: the focus goes (%s)" % focus_types(got))

    a.send(create(1, w=40, h=30, x=200, y=40) + msg(MAP, 1, b"\0" * 8) +
           dump(1, 40, 30))
    got = frames_until(a, WINDOW_DUMP_ACK)
    ok(None not in got and not focus_types(got),
       "a maps a window while nobody has the focus: a gets no focus "
       "(%s)" % focus_types(got))

    b.send(msg(MAP, 1, b"\0" * 8) + dump(1, 40, 30))
    got = frames_until(b, WINDOW_DUMP_ACK)
    ok(focus_types(got) == [FOCUS_IN],
       "b maps its window again: b, which had it last, gets the focus "
       "back (%s)" % focus_types(got))
    ok(guid.poll() is None, "bulkhead-guid is still running")


def main():
    return run_main(run, "bh-focus-")


if __name__ == "__main__":
    sys.exit(main())
