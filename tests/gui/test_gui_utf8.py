#!/usr/bin/env python3
"""bulkhead-guid --allow-utf8-titles (issue #8): a UTF-8 title the
validator accepts also passes the core, which reads what validators
forward through a gui_reader of its own.  That reader was made without
the option, so the first non-ASCII title ended the qube's GUI ("invalid
message body") although the validator had found it valid.

A fake agent: POOL, CREATE, MAP, WMNAME "Caf\\u00e9 \\u2014 na\\u00efve",
WINDOW_DUMP; the core answers the dump with WINDOW_DUMP_ACK only if it
took the title before it.  And without the option the same title is a
violation (the validator refuses non-ASCII).  VNC output only.  TAP.
"""

import os
import struct
import sys

from guitest import (GUID, MAP, POOL, FakeAgent, create, diag, dump, free_port,
                     msg, ok, run_main, sealed_memfd, start, wmname)

WINDOW_DUMP_ACK, ERROR = 149, 151
TITLE = "Caf\u00e9 \u2014 na\u00efve".encode()


def session(tmp, name, utf8):
    """Run bulkhead-guid with one fake agent that sets TITLE: the frame
    the agent gets after its WINDOW_DUMP (an ACK or an ERROR), or None."""
    agent = FakeAgent(tmp, name, dir_mode=0o755, sock_mode=0o777)
    glog_path = os.path.join(tmp, name + ".log")
    glog = open(glog_path, "w")
    argv = [GUID, "--static", "%s:0x73d216:%s" % (name, agent.path),
            "--vnc=%d" % free_port(), "--screen", "640x480", "-d"]
    if utf8:
        argv.append("--allow-utf8-titles")
    guid = start(argv, glog)
    got = None
    try:
        c = agent.accept(15)
        c.handshake()
        fd = sealed_memfd(16)
        c.send_fd(msg(POOL, 0, struct.pack("<II", 0, 16)), fd)
        os.close(fd)
        c.send(create(1, w=40, h=30) + msg(MAP, 1, b"\0" * 8) +
               wmname(1, TITLE) + dump(1, 40, 30))
        while True:
            f = c.frame()
            if f[0] in (WINDOW_DUMP_ACK, ERROR):
                got = f
                break
    except Exception as e:  # closed, timed out
        diag("%s: %s" % (name, e))
    ok(guid.poll() is None, "%s: bulkhead-guid is still running" % name)
    if got is None:
        with open(glog_path) as f:
            diag([line for line in f.read().splitlines()
                  if "vnc:" not in line][-4:])
    return got


def run(tmp):
    got = session(tmp, "utf8", True)
    ok(got is not None and got[0] == WINDOW_DUMP_ACK,
       "--allow-utf8-titles: a UTF-8 title is taken (the dump after it "
       "is acknowledged by the core)")
    got = session(tmp, "ascii", False)
    reason = got[2][4:].split(b"\0")[0] if got and got[0] == ERROR else b""
    ok(got is not None and got[0] == ERROR and b"body" in reason,
       "without it, the same title is refused by the validator (%r)" %
       reason)


def main():
    return run_main(run, "bh-utf8-")


if __name__ == "__main__":
    sys.exit(main())
