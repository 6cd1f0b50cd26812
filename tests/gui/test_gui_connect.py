#!/usr/bin/env python3
"""bulkhead-guid (issue #8): a qube whose GUI socket never accepts does
not stop the connector.  The listener is the qube's, so its own
processes can fill its backlog; a UNIX connect to it then waits for an
accept.  The connector (one loop for every qube, and the paste policy's
answers) connects with a bound (C_CONNECT_MS in connector.c); before,
it waited forever there and no qube after it got its GUI.

Two static qubes, the stuck one first (the connector takes them in
order): "stuck" listens with a backlog of 0 that this test fills;
"after" is a fake agent that must still be connected to, handshake and
get its ERROR-free xconf.  VNC output only.  TAP.
"""

import os
import socket
import sys

from guitest import (GUID, FakeAgent, diag, free_port, ok, run_main, start)

W, H = 640, 480


def stuck_listener(tmp):
    """A listening socket with a full backlog: (path, sockets to keep)."""
    d = os.path.join(tmp, "stuck")
    os.mkdir(d, 0o755)
    path = os.path.join(d, "gui.sock")
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(path)
    os.chmod(path, 0o777)
    ls.listen(0)
    keep = [ls]
    # fill the backlog with connections nobody accepts
    for _ in range(8):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(path)
        except BlockingIOError:
            c.close()
            break
        keep.append(c)
    return path, keep


def run(tmp):
    stuck_path, keep = stuck_listener(tmp)
    ok(len(keep) > 1, "the stuck listener's backlog is full (%d queued)" %
       (len(keep) - 1))
    after = FakeAgent(tmp, "after", dir_mode=0o755, sock_mode=0o777)
    glog_path = os.path.join(tmp, "guid.log")
    glog = open(glog_path, "w")
    guid = start([GUID, "--static", "stuck:0x75507b:%s" % stuck_path,
                  "--static", "after:0x73d216:%s" % after.path,
                  "--vnc=%d" % free_port(), "--screen", "%dx%d" % (W, H),
                  "-d"], glog)
    try:
        c = after.accept(timeout=15)
        c.handshake()
        ok(True, "the qube after the stuck one is connected, handshake "
           "done")
        c.close()
    except OSError as e:
        ok(False, "the qube after the stuck one is connected: %s" % e)
        with open(glog_path) as f:
            diag(f.read()[-2000:])
    ok(guid.poll() is None, "bulkhead-guid is still running")
    for s in keep:
        s.close()


def main():
    return run_main(run, "bh-connect-")


if __name__ == "__main__":
    sys.exit(main())
