#!/usr/bin/env python3
"""bulkhead-guid (issue #8) against hostile GUI agents.  One GUI domain
(VNC output, read back with vnc_probe) serves one well-behaved qube (the
real agent and a test Wayland client) and many static "qubes" that are
fake agents in this script: each speaks the handshake and then commits
one violation (a wrong length, an unknown or wrong-direction type, bad
window ids, caps, a flood, bad pool ranges and fds, bad titles, an
oversized clipboard, a Qubes version word, an agent that never reads).

For each case: the hostile connection gets an ERROR frame (type 151, a
128-byte body: u32 code + reason) and is closed; guid's log names the
qube and why; bulkhead-guid keeps running; the good qube's window is still
shown and still gets keys.  Benign but odd messages (clipboard data
nobody asked for, damage larger than the buffer, an override-redirect
window over 90% of the screen) must not end the connection.  TAP output.
"""

import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

from guitest import (AGENT, CLIENT, GUID, PROBE, PAGE, KEYPRESS, CREATE,
                     DESTROY, MAP, SHMIMAGE, CLIP_DATA, WMNAME, CURSOR,
                     ERROR, POOL, SEAL_GROW, SEAL_SHRINK, Closed, Conn,
                     FakeAgent, Image, Qube, create, diag, dump, finish,
                     free_port, hdr, msg, ok, probe, sealed_memfd, start,
                     stop_all, wait_for, wmname)

GREEN, GOOD_RGB = 0x73d216, 0x336699
EVIL_LABEL = 0x75507b
OR_RGB = 0xc0ffee
W, H = 1024, 768


# ---- the cases: each a function on a handshaken connection ----

def pool(c, pages=16):
    fd = sealed_memfd(pages)
    c.send_fd(msg(POOL, 0, struct.pack("<II", 0, pages)), fd)
    os.close(fd)


def flood(c):
    c.send(create(1))
    c.send(msg(CURSOR, 1, struct.pack("<I", 0)) * 25000)


def pool_pipe(c):
    r, w = os.pipe()
    c.send_fd(msg(POOL, 0, struct.pack("<II", 0, 16)), r)
    os.close(r)
    os.close(w)


def pool_unsealed(c):
    fd = sealed_memfd(16, seals=0)
    c.send_fd(msg(POOL, 0, struct.pack("<II", 0, 16)), fd)
    os.close(fd)


def pool_sparse(c):
    """Sealed as the agent's, but its pages never allocated: the GUI
    domain's reads would allocate them, at its expense."""
    fd = sealed_memfd(16, allocate=False)
    c.send_fd(msg(POOL, 0, struct.pack("<II", 0, 16)), fd)
    os.close(fd)


def pool_no_write_seal(c):
    """Allocated, SHRINK | GROW only: holes could be punched later."""
    fd = sealed_memfd(16, seals=SEAL_SHRINK | SEAL_GROW)
    c.send_fd(msg(POOL, 0, struct.pack("<II", 0, 16)), fd)
    os.close(fd)


def pool_size(c):
    fd = sealed_memfd(16)
    c.send_fd(msg(POOL, 0, struct.pack("<II", 0, 32)), fd)
    os.close(fd)


def pool_twice(c):
    pool(c)
    pool(c)


def second_fd(c):
    pool(c)
    fd = sealed_memfd(16)
    c.send_fd(create(1), fd)
    os.close(fd)


def fd_not_pool(c):
    fd = sealed_memfd(16)
    c.send_fd(create(1), fd)
    os.close(fd)


def many_windows(c):
    c.send(b"".join(create(i) for i in range(1, 258)))


# (name, action, reason regex): a violation the GUI domain must refuse
KILL_CASES = [
    ("len-create", lambda c: c.send(hdr(CREATE, 1, 25) + b"\0" * 25),
     r"wrong length"),
    ("len-map", lambda c: c.send(hdr(MAP, 1, 7) + b"\0" * 7),
     r"wrong length"),
    ("len-wmname", lambda c: c.send(hdr(WMNAME, 1, 129) + b"a" * 129),
     r"wrong length"),
    ("len-destroy", lambda c: c.send(hdr(DESTROY, 1, 4) + b"\0" * 4),
     r"wrong length"),
    ("len-pool", lambda c: c.send(hdr(POOL, 0, 4) + b"\0" * 4),
     r"wrong length"),
    ("unknown-type", lambda c: c.send(hdr(200, 1, 0)),
     r"unknown message type"),
    ("wrong-direction", lambda c: c.send(
        msg(KEYPRESS, 1, struct.pack("<IiiII", 2, 1, 1, 0, 38))),
     r"not used in this direction"),
    ("window-0", lambda c: c.send(create(0)), r"bad window id"),
    ("window-65536", lambda c: c.send(create(65536)), r"bad window id"),
    ("never-created", lambda c: c.send(msg(MAP, 7, b"\0" * 8)),
     r"no such window"),
    ("create-twice", lambda c: c.send(create(1) + create(1)),
     r"existing window"),
    ("create-parent", lambda c: c.send(create(1, parent=2)), r"body"),
    ("too-wide", lambda c: c.send(create(1, w=16385)), r"body"),
    ("too-high", lambda c: c.send(create(1, h=6145)), r"body"),
    ("window-cap", many_windows, r"too many windows"),
    ("flood", flood, r"too many messages"),
    ("dump-no-pool", lambda c: c.send(create(1) + dump(1, 10, 10)),
     r"not allowed"),
    ("dump-past-end", lambda c: (pool(c), c.send(create(1) +
                                                 dump(1, 200, 200))),
     r"body"),
    ("dump-stride", lambda c: (pool(c), c.send(create(1) +
                                               dump(1, 20, 20, stride=40))),
     r"body"),
    ("dump-offset", lambda c: (pool(c), c.send(create(1) +
                                               dump(1, 10, 10, offset=100))),
     r"body"),
    ("dump-grant-refs", lambda c: (pool(c), c.send(create(1) +
                                                   dump(1, 10, 10, dtype=0))),
     r"body"),
    ("pool-no-fd", lambda c: c.send(msg(POOL, 0, struct.pack("<II", 0, 16))),
     r"POOL without its fd"),
    ("pool-pipe", pool_pipe, r"not a sealed memfd"),
    ("pool-unsealed", pool_unsealed, r"not a sealed memfd"),
    ("pool-sparse", pool_sparse, r"not all allocated"),
    ("pool-no-write-seal", pool_no_write_seal, r"not a sealed memfd"),
    ("pool-size", pool_size, r"size"),
    ("pool-twice", pool_twice, r"second fd"),
    ("pool-twice-nofd", lambda c: (pool(c), c.send(
        msg(POOL, 0, struct.pack("<II", 0, 16)))), r"not allowed"),
    ("second-fd", second_fd, r"second fd"),
    ("fd-not-pool", fd_not_pool, r"fd without its POOL"),
    ("title-control", lambda c: c.send(create(1) + wmname(1, b"a\x07b")),
     r"body"),
    ("title-utf8", lambda c: c.send(create(1) + wmname(1, b"a\xff\xfeb")),
     r"body"),
    ("clipboard-over", lambda c: c.send(hdr(CLIP_DATA, 0, 64002) +
                                        b"x" * 64002), r"over the limit"),
]


def run_kill(case, ls, glog_text, name):
    """Accept, handshake, misbehave; check the ERROR frame and close."""
    what, action, why = case
    try:
        ls.settimeout(15)
        s, _ = ls.accept()
    except OSError as e:
        ok(False, "%s: the GUI domain connects: %s" % (name, e))
        return
    c = Conn(s)
    try:
        if what == "qubes-version":
            c.send(struct.pack("<I", 0x00010008))
        else:
            c.handshake()
            action(c)
    except (OSError, Closed) as e:
        # the GUI domain may close while we still send (a flood)
        diag("%s: while sending: %s" % (name, e))
    err = c.until(ERROR)
    good = err is not None and len(err[2]) == 128
    reason = ""
    if good:
        code, = struct.unpack("<I", err[2][:4])
        reason = err[2][4:].split(b"\0")[0].decode("ascii", "replace")
        good = 1 <= code <= 6 and reason != ""
    ok(good, "%s: an ERROR frame (128 bytes, code, reason %r)" %
       (name, reason))
    ok(c.closed(), "%s: the GUI domain closes the connection" % name)
    c.close()
    pat = r"The GUI of qube %s was stopped: [^\n]*(%s)" % (
        re.escape(name), why)
    got = wait_for(lambda: re.search(pat, glog_text()), 5)
    ok(got, "%s: guid's log names the qube and why (/%s/)" % (name, why)) \
        or diag([line for line in glog_text().splitlines()
                 if name in line][-3:])


class NeverReads(threading.Thread):
    """An agent that never reads: DESTROY acknowledgements pile up in
    the GUI domain's queue to it until it is cut off."""

    def __init__(self, ls):
        super().__init__(daemon=True)
        self.ls = ls
        self.sent = 0
        self.error = None

    def run(self):
        try:
            self.ls.settimeout(20)
            s, _ = self.ls.accept()
            self.c = Conn(s)
            self.c.handshake()
            self.c.s.settimeout(30)
            pair = create(1) + msg(DESTROY, 1)
            batch = pair * 1000
            # under the rate cap: 2000 messages a batch, 6 batches a second
            end = time.monotonic() + 40
            while time.monotonic() < end:
                t0 = time.monotonic()
                self.c.send(batch)
                self.sent += 1000
                dt = time.monotonic() - t0
                if dt < 1 / 6:
                    time.sleep(1 / 6 - dt)
        except OSError as e:
            self.error = e


def main():
    for p, what in ((AGENT, "agent"), (CLIENT, "test client"),
                    (GUID, "bulkhead-guid"), (PROBE, "vnc_probe")):
        if not os.access(p, os.X_OK):
            print("1..0 # SKIP %s not built: %s" % (what, p))
            return 0
    tmp = tempfile.mkdtemp(prefix="bh-hostile-")
    os.chmod(tmp, 0o755)
    listeners = []
    try:
        return run(tmp, listeners)
    finally:
        for ls in listeners:
            ls.close()
        stop_all()
        if not os.environ.get("BH_KEEP_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)


def listener(tmp, name, listeners):
    a = FakeAgent(tmp, name, dir_mode=0o755, sock_mode=0o777)
    listeners.append(a.ls)
    return a.path, a.ls


def run(tmp, listeners):
    good = Qube(tmp, "good", GOOD_RGB, "Doc")
    kill = KILL_CASES + [("qubes-version", None, r"a Qubes agent")]
    named = [("h%02d-%s" % (i, case[0]), case) for i, case in
             enumerate(kill)]
    # bulkhead-guid takes at most 16 static qubes: three runs, each with
    # the good qube and up to 15 hostile ones
    batches = [[("noread", None)] + named[:14], named[14:29],
               named[29:] + [("b-clipboard", None), ("b-damage", None),
                             ("b-override", None)]]
    for i, batch in enumerate(batches):
        run_guid(tmp, listeners, good, batch, i)
    return finish()


def run_guid(tmp, listeners, good, batch, run_no):
    static = ["--static", "good:0x%06x:%s" % (GREEN, good.sock)]
    socks = {}
    for name, case in batch:
        path, ls = listener(tmp, name, listeners)
        socks[name] = (case, ls)
        static += ["--static", "%s:0x%06x:%s" % (name, EVIL_LABEL, path)]

    port = free_port()
    glog_path = os.path.join(tmp, "guid-%d.log" % run_no)
    glog = open(glog_path, "w")
    guid = start([GUID] + static + ["--vnc=%d" % port, "--screen",
                                    "%dx%d" % (W, H), "-d"], glog)

    def glog_text():
        with open(glog_path, errors="replace") as f:
            return f.read()

    noread = None
    if "noread" in socks:
        noread = NeverReads(socks["noread"][1])
        noread.start()

    snap = os.path.join(tmp, "vnc.ppm")

    def good_box():
        if probe(port, "snap:" + snap) != 0:
            return None
        return Image(snap).find(GOOD_RGB)
    box = wait_for(good_box, 20, 0.3)
    if not ok(box, "run %d: the good qube's window is shown" % run_no):
        diag(glog_text()[-3000:])
        stop(guid)
        return
    gx, gy = (box[0] + box[2]) // 2, (box[1] + box[3]) // 2

    def good_alive(after):
        """bulkhead-guid runs, the good window is shown and gets a key."""
        ok(guid.poll() is None, "%s: bulkhead-guid is still running" % after)
        n = good.output().count("key 30 press")
        rc = probe(port, "click:%d,%d" % (gx, gy), "press:61",
                   "release:61", "snap:" + snap)
        shown = rc == 0 and Image(snap).find(GOOD_RGB) == box
        ok(shown, "%s: the good qube's window is still shown" % after)
        ok(wait_for(lambda: good.output().count("key 30 press") > n, 5),
           "%s: the good qube still gets keys" % after)

    for name, (case, ls) in socks.items():
        if case is None:
            continue
        run_kill(case, ls, glog_text, name)
        good_alive(name)

    if "b-clipboard" in socks:
        run_benign({n: v[1] for n, v in socks.items()}, glog_text, port,
                   snap)
        good_alive("benign cases")

    if noread is not None:
        got = wait_for(lambda: re.search(
            r"The GUI of qube noread was stopped: [^\n]*not reading",
            glog_text()), 45, 0.5)
        if ok(got, "noread: an agent that never reads is cut off, "
              "with why (%d messages sent)" % (2 * noread.sent)):
            ok(noread.c.closed(20), "noread: its connection is closed")
        else:
            diag([line for line in glog_text().splitlines()
                  if "noread" in line][-3:])
        good_alive("noread")
    stop(guid)


def stop(p):
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGTERM)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    ok(p.returncode in (0, -signal.SIGTERM),
       "bulkhead-guid stops cleanly (status %d)" % p.returncode)


def benign_conn(ls, name):
    ls.settimeout(15)
    s, _ = ls.accept()
    c = Conn(s)
    c.handshake()
    return c


def alive(c, win):
    """The connection still works: a DESTROY is acknowledged."""
    c.send(msg(DESTROY, win))
    f = c.until(DESTROY, 5)
    return f is not None and f[1] == win


def run_benign(benign, glog_text, port, snap):
    # clipboard data nobody asked for: ignored
    c = benign_conn(benign["b-clipboard"], "b-clipboard")
    c.send(create(1) + msg(CLIP_DATA, 0, b"unasked"))
    ok(alive(c, 1), "b-clipboard: unsolicited CLIPBOARD_DATA does not end "
       "the connection")
    ok(wait_for(lambda: re.search(r"\[b-clipboard\][^\n]*nobody asked",
                                  glog_text()), 3),
       "b-clipboard: ... it is ignored, and logged")
    c.close()

    # damage larger than the buffer: clipped
    c = benign_conn(benign["b-damage"], "b-damage")
    pool(c)
    c.send(create(1, 40, 30) + msg(MAP, 1, b"\0" * 8) + dump(1, 40, 30) +
           msg(SHMIMAGE, 1, struct.pack("<iiII", 0, 0, 16384, 6144)) +
           msg(SHMIMAGE, 1, struct.pack("<iiII", 39, 29, 16000, 6000)))
    ok(alive(c, 1), "b-damage: damage larger than the buffer does not "
       "end the connection")
    c.close()

    # an override-redirect window over 90% of the screen: framed
    c = benign_conn(benign["b-override"], "b-override")
    w, h = 1000, 740
    pages = (w * h * 4 + PAGE - 1) // PAGE
    fd = sealed_memfd(pages, fill=struct.pack("<I", OR_RGB) * (w * h))
    c.send_fd(msg(POOL, 0, struct.pack("<II", 0, pages)), fd)
    os.close(fd)
    c.send(create(1, w, h, 0, 0, o_r=1) + dump(1, w, h) +
           msg(MAP, 1, struct.pack("<II", 0, 1)))
    img = wait_for(lambda: probe(port, "snap:" + snap) == 0 and
                   Image(snap).find(OR_RGB) and Image(snap), 5, 0.3)
    framed = False
    if img:
        x0, y0, x1, y1 = img.find(OR_RGB)
        framed = img.at(x0 - 1, y0 + 10) == EVIL_LABEL and \
            img.at(x0 + 10, y0 - 1) == EVIL_LABEL
    ok(framed, "b-override: an override-redirect window over 90% of the "
       "screen is framed in its label colour")
    ok(re.search(r"\[b-override\][^\n]*override-redirect[^\n]*framed",
                 glog_text()), "b-override: ... and logged")
    ok(alive(c, 1), "b-override: ... and its connection goes on")
    c.close()



if __name__ == "__main__":
    sys.exit(main())
