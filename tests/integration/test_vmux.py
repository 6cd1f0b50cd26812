#!/usr/bin/env python3
"""bulkhead-vmux: a VM qube's vchan directory carried over one stream.

A host vmux and a guest vmux run connected by a socketpair (what QEMU's
virtio-serial chardev is to them), each on a temp directory of its own.
Checked: a listener on either side is mirrored and one connection to the
mirror carries bytes both ways with half-close kept; 64 MiB arrive intact;
a channel whose reader stalls does not stop another; UNLISTEN removes the
mirror; SHUTDOWN signals the configured pid; the host exits 0 with its
mirrors removed when the stream ends.  Then the test plays a hostile
guest on the host vmux's stream (bad names, an over-long payload, DATA
beyond credit, an unknown type, an OPEN with the host's id bit): each
time the host vmux exits 1 with one clear line and leaves no socket.
Last, the real qrexec-daemon (host side, per-qube layout) and
qrexec-agent (guest side, flat layout) run a call through a vmux pair.
"""

import hashlib
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

VMUX = os.path.join(h.BUILD, "src", "vm", "bulkhead-vmux")

# docs/protocol/vmux.md
HELLO, LISTEN, UNLISTEN, OPEN, OPEN_OK, OPEN_FAIL, DATA, CREDIT, EOF, \
    CLOSE, SHUTDOWN = range(1, 12)
WINDOW = 256 * 1024
GUEST_BIT = 0x80000000


def frame(ftype, chan=0, payload=b""):
    return struct.pack("<LLL", ftype, chan, len(payload)) + payload


def listen_at(d, name):
    """A listener as vchan.c makes one: bound aside, renamed into place."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    tmp = os.path.join(d, name + ".%d.tmp" % os.getpid())
    s.bind(tmp)
    s.listen(4)
    os.rename(tmp, os.path.join(d, name))
    s.settimeout(20)
    return s


def accept_once(srv, d, name):
    conn, _ = srv.accept()
    srv.close()
    os.unlink(os.path.join(d, name))
    conn.settimeout(20)
    return conn


def connect_to(d, name, timeout=10):
    path = os.path.join(d, name)
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            s.settimeout(20)
            return s
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def recv_all(s):
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            return out
        out += b


def socks_in(d):
    return sorted(n for n in os.listdir(d) if not n.startswith("."))


class Pair:
    """A host and a guest vmux over a socketpair, or the host alone with
    the test as the guest (fake_guest=True)."""

    def __init__(self, fake_guest=False, shutdown_pid=None, name="testvm"):
        self.root = tempfile.mkdtemp(prefix="bulkhead-vmux-")
        self.hdir = os.path.join(self.root, "host")
        self.gdir = os.path.join(self.root, "guest")
        os.makedirs(self.hdir)
        os.makedirs(self.gdir)
        self.hlog = os.path.join(self.root, "host.log")
        self.glog = os.path.join(self.root, "guest.log")
        a, b = socket.socketpair()
        with open(self.hlog, "w") as log:
            self.host = subprocess.Popen(
                [VMUX, "--host", "--fd", str(a.fileno()), "--dir",
                 self.hdir, "--name", name],
                pass_fds=[a.fileno()], stderr=log)
        a.close()
        self.guest = None
        self.stream = None
        if fake_guest:
            self.stream = b
            self.stream.settimeout(10)
            return
        cmd = [VMUX, "--guest", "--fd", str(b.fileno()), "--dir", self.gdir]
        if shutdown_pid is not None:
            cmd += ["--shutdown-signal-pid", str(shutdown_pid)]
        with open(self.glog, "w") as log:
            self.guest = subprocess.Popen(cmd, pass_fds=[b.fileno()],
                                          stderr=log)
        b.close()

    def host_log(self):
        with open(self.hlog) as f:
            return f.read()

    def close(self):
        for p in (self.host, self.guest):
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if self.stream is not None:
            self.stream.close()
        if os.environ.get("BULKHEAD_KEEP_TMP"):
            sys.stderr.write("kept %s\n" % self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)


def with_pair(**kw):
    def deco(fn):
        def run():
            p = Pair(**kw)
            try:
                fn(p)
            except Exception:
                for line in p.host_log().splitlines()[-20:]:
                    print("# host: " + line)
                raise
            finally:
                p.close()
        run.__name__ = fn.__name__
        return run
    return deco


def roundtrip(p, srv_dir, cli_dir, name):
    """A listener in srv_dir, a client through the mirror in cli_dir:
    request, half-close, reply, EOF."""
    srv = listen_at(srv_dir, name)
    h.wait_for(lambda: os.path.exists(os.path.join(cli_dir, name)),
               "the mirror of " + name)
    cli = connect_to(cli_dir, name)
    conn = accept_once(srv, srv_dir, name)
    # the mirror took its one connection and went
    h.wait_for(lambda: not os.path.exists(os.path.join(cli_dir, name)),
               "the used mirror to go")
    cli.sendall(b"request")
    cli.shutdown(socket.SHUT_WR)
    assert recv_all(conn) == b"request"
    # half-closed one way only: the reply still goes the other way
    conn.sendall(b"reply, after the EOF")
    conn.sendall(b"\x00exit code last")
    conn.close()
    assert recv_all(cli) == b"reply, after the EOF\x00exit code last"
    cli.close()


@with_pair()
def test_guest_listener_mirrored_on_host(p):
    roundtrip(p, p.gdir, p.hdir, "vchan.5.0.512.sock")
    # and again on the same name: a new listener, a new mirror
    roundtrip(p, p.gdir, p.hdir, "vchan.5.0.512.sock")


@with_pair()
def test_host_listener_mirrored_in_guest(p):
    srv = listen_at(p.hdir, "vchan.0.5.513.sock")
    path = os.path.join(p.gdir, "vchan.0.5.513.sock")
    h.wait_for(lambda: os.path.exists(path), "the guest's mirror")
    assert os.stat(path).st_mode & 0o777 == 0o666, oct(os.stat(path).st_mode)
    srv.close()
    os.unlink(os.path.join(p.hdir, "vchan.0.5.513.sock"))
    h.wait_for(lambda: not os.path.exists(path), "the mirror to go")
    roundtrip(p, p.hdir, p.gdir, "vchan.0.5.514.sock")


def test_existing_listeners_announced_at_start():
    # made before the pair starts: found by the first scan
    root = tempfile.mkdtemp(prefix="bulkhead-vmux-")
    try:
        hdir, gdir = os.path.join(root, "h"), os.path.join(root, "g")
        os.makedirs(hdir)
        os.makedirs(gdir)
        srv = listen_at(gdir, "vchan.7.0.512.sock")
        a, b = socket.socketpair()
        host = subprocess.Popen([VMUX, "--host", "--fd", str(a.fileno()),
                                 "--dir", hdir], pass_fds=[a.fileno()])
        guest = subprocess.Popen([VMUX, "--guest", "--fd", str(b.fileno()),
                                  "--dir", gdir], pass_fds=[b.fileno()])
        a.close()
        b.close()
        try:
            h.wait_for(lambda: os.path.exists(
                os.path.join(hdir, "vchan.7.0.512.sock")), "the mirror")
            cli = connect_to(hdir, "vchan.7.0.512.sock")
            conn = accept_once(srv, gdir, "vchan.7.0.512.sock")
            conn.sendall(b"hi")
            conn.close()
            assert recv_all(cli) == b"hi"
        finally:
            for x in (host, guest):
                x.terminate()
                x.wait(timeout=10)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@with_pair()
def test_64mib_intact(p):
    name = "vchan.5.0.700.sock"
    srv = listen_at(p.gdir, name)
    h.wait_for(lambda: os.path.exists(os.path.join(p.hdir, name)), "mirror")
    cli = connect_to(p.hdir, name)
    conn = accept_once(srv, p.gdir, name)
    size = 64 * 1024 * 1024
    block = os.urandom(1 << 20)
    want = hashlib.sha256()
    got = hashlib.sha256()
    back = hashlib.sha256()
    counts = {"got": 0, "back": 0}

    def send_side():
        for i in range(size // len(block)):
            chunk = block[i % 7:] + block[:i % 7]
            want.update(chunk)
            cli.sendall(chunk)
        cli.shutdown(socket.SHUT_WR)

    def echo_side():
        # the guest's end echoes everything: both directions at once
        while True:
            b = conn.recv(1 << 20)
            if not b:
                break
            got.update(b)
            counts["got"] += len(b)
            conn.sendall(b)
        conn.close()

    t1 = threading.Thread(target=send_side)
    t2 = threading.Thread(target=echo_side)
    t1.start()
    t2.start()
    while True:
        b = cli.recv(1 << 20)
        if not b:
            break
        back.update(b)
        counts["back"] += len(b)
    t1.join(60)
    t2.join(60)
    assert counts["got"] == size, counts
    assert counts["back"] == size, counts
    assert got.hexdigest() == want.hexdigest()
    assert back.hexdigest() == want.hexdigest()


@with_pair()
def test_stalled_channel_does_not_stop_another(p):
    stalled = "vchan.5.0.801.sock"
    live = "vchan.5.0.802.sock"
    s1 = listen_at(p.gdir, stalled)
    s2 = listen_at(p.gdir, live)
    for n in (stalled, live):
        h.wait_for(lambda n=n: os.path.exists(os.path.join(p.hdir, n)), n)
    c1 = connect_to(p.hdir, stalled)
    a1 = accept_once(s1, p.gdir, stalled)  # never read
    # fill the stalled channel until the writer blocks for good
    c1.setblocking(False)
    sent = 0
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < 1.0:
        try:
            sent += c1.send(b"x" * 65536)
            idle_since = time.monotonic()
        except BlockingIOError:
            time.sleep(0.01)
    assert sent > WINDOW, sent  # the window and the sockets' buffers
    # the other channel still moves, both ways
    c2 = connect_to(p.hdir, live)
    a2 = accept_once(s2, p.gdir, live)
    data = os.urandom(4 << 20)

    def echo():
        while True:
            b = a2.recv(65536)
            if not b:
                break
            a2.sendall(b)
        a2.close()

    t = threading.Thread(target=echo)
    t.start()
    c2.settimeout(20)
    w = threading.Thread(target=lambda: (c2.sendall(data),
                                         c2.shutdown(socket.SHUT_WR)))
    w.start()
    assert recv_all(c2) == data
    w.join(20)
    t.join(20)
    # the stalled one was not lost: its reader now gets every byte
    c1.setblocking(True)
    c1.shutdown(socket.SHUT_WR)
    assert len(recv_all(a1)) == sent
    c1.close()
    a1.close()


@with_pair()
def test_unlisten_removes_mirror(p):
    name = "vchan.5.0.900.sock"
    srv = listen_at(p.gdir, name)
    mirror = os.path.join(p.hdir, name)
    h.wait_for(lambda: os.path.exists(mirror), "the mirror")
    srv.close()
    os.unlink(os.path.join(p.gdir, name))
    h.wait_for(lambda: not os.path.exists(mirror), "the mirror to go")
    # a name not of the pattern is not mirrored
    other = listen_at(p.gdir, "vchan.05.0.900.sock")
    time.sleep(0.3)
    assert socks_in(p.hdir) == [], socks_in(p.hdir)
    other.close()


@with_pair()
def test_host_exits_when_stream_ends(p):
    srv = listen_at(p.gdir, "vchan.5.0.950.sock")
    h.wait_for(lambda: os.path.exists(
        os.path.join(p.hdir, "vchan.5.0.950.sock")), "the mirror")
    hsrv = listen_at(p.hdir, "vchan.0.5.951.sock")
    h.wait_for(lambda: os.path.exists(
        os.path.join(p.gdir, "vchan.0.5.951.sock")), "the guest's mirror")
    p.guest.terminate()
    assert p.guest.wait(timeout=10) == 0
    assert p.host.wait(timeout=10) == 0
    # each removed its mirrors; the real listeners stay
    assert socks_in(p.hdir) == ["vchan.0.5.951.sock"], socks_in(p.hdir)
    assert socks_in(p.gdir) == ["vchan.5.0.950.sock"], socks_in(p.gdir)
    srv.close()
    hsrv.close()


def test_shutdown_signals_pid():
    victim = subprocess.Popen(["sleep", "60"])
    p = Pair(shutdown_pid=victim.pid)
    try:
        # both are up (their signal handling too) once a mirror appears
        srv = listen_at(p.gdir, "vchan.5.0.999.sock")
        h.wait_for(lambda: os.path.exists(
            os.path.join(p.hdir, "vchan.5.0.999.sock")), "the mirror")
        srv.close()
        p.host.send_signal(signal.SIGUSR1)
        assert victim.wait(timeout=10) == -signal.SIGTERM
        assert p.host.poll() is None and p.guest.poll() is None
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
        p.close()


def test_guest_port_reopened():
    """--device: retried while missing; a session a connection; the
    mirrors go with the host side, and a new host side is greeted."""
    import pty
    import select
    import tty
    root = tempfile.mkdtemp(prefix="bulkhead-vmux-")
    gdir, link = os.path.join(root, "g"), os.path.join(root, "port")
    os.makedirs(gdir)
    log = open(os.path.join(root, "log"), "w")
    guest = subprocess.Popen([VMUX, "--guest", "--device", link, "--dir",
                              gdir], stderr=log)
    mirror = os.path.join(gdir, "vchan.0.9.512.sock")

    def host_side():
        m, s = pty.openpty()
        tty.setraw(s)  # the device is 8-bit clean, as a port is
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(os.ttyname(s), link)
        got = b""
        deadline = time.monotonic() + 10
        while len(got) < 16 and time.monotonic() < deadline:
            if select.select([m], [], [], 0.5)[0]:
                got += os.read(m, 16 - len(got))
        assert got == frame(HELLO, 0, struct.pack("<L", 1)), got
        os.write(m, frame(HELLO, 0, struct.pack("<L", 1)) +
                 frame(LISTEN, 0, b"vchan.0.9.512.sock"))
        h.wait_for(lambda: os.path.exists(mirror), "the guest's mirror")
        return m, s

    try:
        time.sleep(0.3)  # no device yet: it waits and retries
        assert guest.poll() is None
        m, s = host_side()
        os.close(m)  # the host side goes: the session ends
        os.close(s)
        h.wait_for(lambda: not os.path.exists(mirror), "the mirror to go")
        m, s = host_side()  # a new one is greeted afresh
        guest.terminate()
        assert guest.wait(timeout=10) == 0
        assert not os.path.exists(mirror)
        os.close(m)
        os.close(s)
    finally:
        if guest.poll() is None:
            guest.kill()
            guest.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)


# ---- a hostile guest on the host vmux's stream ----

def read_frame(s):
    hdr = h.recv_exact(s, 12)
    assert len(hdr) == 12, hdr
    t, c, n = struct.unpack("<LLL", hdr)
    return t, c, h.recv_exact(s, n)


def fake_guest_start(p, name="vchan.9.0.512.sock"):
    """HELLO both ways, one mirror on the host (to see it removed)."""
    t, c, body = read_frame(p.stream)
    assert (t, c, body) == (HELLO, 0, struct.pack("<L", 1)), (t, c, body)
    p.stream.sendall(frame(HELLO, 0, struct.pack("<L", 1)) +
                     frame(LISTEN, 0, name.encode()))
    h.wait_for(lambda: os.path.exists(os.path.join(p.hdir, name)),
               "the host's mirror")


def drain_frames(s, timeout=0.3):
    """Every frame that arrives within timeout."""
    out = []
    s.settimeout(timeout)
    try:
        while True:
            hdr = s.recv(12, socket.MSG_WAITALL)
            if len(hdr) < 12:
                break
            t, c, n = struct.unpack("<LLL", hdr)
            s.settimeout(10)
            out.append((t, c, h.recv_exact(s, n)))
            s.settimeout(timeout)
    except socket.timeout:
        pass
    s.settimeout(10)
    return out


def expect_violation(p, what, keep=()):
    rc = p.host.wait(timeout=10)
    log = p.host_log()
    assert rc == 1, (rc, log)
    lines = [ln for ln in log.splitlines() if ln]
    assert len(lines) == 1, log
    assert lines[0].startswith(
        "bulkhead-vmux: qube testvm: protocol violation: "), log
    assert what in lines[0], (what, log)
    assert socks_in(p.hdir) == sorted(keep), socks_in(p.hdir)
    assert sorted(os.listdir(p.hdir)) == sorted(keep), os.listdir(p.hdir)


def hostile(name, frames, what):
    def run():
        p = Pair(fake_guest=True)
        try:
            fake_guest_start(p)
            p.stream.sendall(frames)
            expect_violation(p, what)
        finally:
            p.close()
    run.__name__ = "test_hostile_" + name
    return run


def test_hostile_data_beyond_credit():
    p = Pair(fake_guest=True)
    try:
        name = "vchan.9.0.600.sock"
        fake_guest_start(p, name)
        cli = connect_to(p.hdir, name)
        t, chan, body = read_frame(p.stream)
        assert t == OPEN and body == name.encode(), (t, body)
        assert chan != 0 and not chan & GUEST_BIT, chan
        p.stream.sendall(frame(OPEN_OK, chan))
        # all the credit is fine (the host's client does not read: once
        # its socket is full, no more credit comes)...
        credit = WINDOW
        while credit > 0:
            while credit > 0:
                n = min(credit, 65536)
                p.stream.sendall(frame(DATA, chan, b"y" * n))
                credit -= n
            for t, c, body in drain_frames(p.stream):
                if t == CREDIT and c == chan:
                    credit += struct.unpack("<L", body)[0]
        assert p.host.poll() is None, p.host_log()
        # ...one byte more is not
        p.stream.sendall(frame(DATA, chan, b"z"))
        expect_violation(p, "beyond its credit")
        cli.close()
    finally:
        p.close()


def hostile_on_channel(name, frames, what):
    """A channel the host opened (its client connected to a mirror), then
    frames out of the channel's phase."""
    def run():
        p = Pair(fake_guest=True)
        try:
            mirror = "vchan.9.0.610.sock"
            fake_guest_start(p, mirror)
            cli = connect_to(p.hdir, mirror)
            t, chan, _ = read_frame(p.stream)
            assert t == OPEN, t
            p.stream.sendall(b"".join(
                frame(ft, chan, body) for ft, body in frames))
            expect_violation(p, what)
            cli.close()
        finally:
            p.close()
    run.__name__ = "test_hostile_" + name
    return run


PHASE = [
    hostile_on_channel("data_before_open_ok", [(DATA, b"x")],
                       "DATA for channel"),
    hostile_on_channel("open_ok_twice", [(OPEN_OK, b""), (OPEN_OK, b"")],
                       "bad OPEN_OK"),
    hostile_on_channel("open_fail_after_ok",
                       [(OPEN_OK, b""), (OPEN_FAIL, struct.pack("<L", 2))],
                       "bad OPEN_FAIL"),
    hostile_on_channel("credit_beyond_window",
                       [(OPEN_OK, b""), (CREDIT, struct.pack("<L", 1))],
                       "CREDIT beyond the window"),
    hostile_on_channel("eof_twice", [(OPEN_OK, b""), (EOF, b""), (EOF, b"")],
                       "bad EOF"),
    hostile_on_channel("data_after_eof",
                       [(OPEN_OK, b""), (EOF, b""), (DATA, b"x")],
                       "after EOF"),
    hostile_on_channel("open_fail_bad_errno",
                       [(OPEN_FAIL, struct.pack("<L", 0))], "bad OPEN_FAIL"),
]


def test_hostile_open_in_time_of_close():
    """Frames for a channel after our CLOSE are tolerated until the
    peer's CLOSE; after that the channel is unknown."""
    p = Pair(fake_guest=True)
    try:
        name = "vchan.9.0.601.sock"
        fake_guest_start(p, name)
        cli = connect_to(p.hdir, name)
        t, chan, _ = read_frame(p.stream)
        assert t == OPEN
        p.stream.sendall(frame(OPEN_OK, chan))
        cli.close()  # the host's side ends: EOF then CLOSE come
        t, c, _ = read_frame(p.stream)
        assert (t, c) == (EOF, chan), (t, c)
        p.stream.sendall(frame(EOF, chan))
        t, c, _ = read_frame(p.stream)
        assert (t, c) == (CLOSE, chan), (t, c)
        # crossing the CLOSE: still fine
        p.stream.sendall(frame(DATA, chan, b"late") + frame(CREDIT, chan,
                         struct.pack("<L", 10)) + frame(CLOSE, chan))
        time.sleep(0.3)
        assert p.host.poll() is None, p.host_log()
        p.stream.sendall(frame(DATA, chan, b"later"))
        expect_violation(p, "unknown channel")
    finally:
        p.close()


HOSTILE = [
    hostile("name_with_slash",
            frame(LISTEN, 0, b"vchan.1/0.512.sock"), "bad name in LISTEN"),
    hostile("name_dotdot",
            frame(LISTEN, 0, b".."), "bad name in LISTEN"),
    hostile("name_path",
            frame(OPEN, GUEST_BIT | 1, b"../vchan.1.0.512.sock"),
            "bad name in OPEN"),
    hostile("unlisten_bad_name",
            frame(UNLISTEN, 0, b"vchan.1.0.512.sock\0"),
            "bad name in UNLISTEN"),
    hostile("overlong_payload",
            struct.pack("<LLL", DATA, GUEST_BIT | 1, 65537), "bad frame header"),
    hostile("overlong_listen",
            struct.pack("<LLL", LISTEN, 0, 1 << 30), "bad frame header"),
    hostile("unknown_type",
            frame(99, 1, b""), "bad frame header (type 99"),
    hostile("open_with_host_bit",
            frame(OPEN, 5, b"vchan.0.9.512.sock"), "one of our channel ids"),
    hostile("data_unknown_channel",
            frame(DATA, GUEST_BIT | 7, b"x"), "unknown channel"),
    hostile("second_hello",
            frame(HELLO, 0, struct.pack("<L", 1)), "second HELLO"),
    hostile("shutdown_from_guest", frame(SHUTDOWN), "SHUTDOWN"),
    hostile("too_many_listeners",
            b"".join(frame(LISTEN, 0, b"vchan.9.0.%d.sock" % i)
                     for i in range(1000, 1300)), "more than 256 listeners"),
]


def test_hostile_before_hello():
    p = Pair(fake_guest=True)
    try:
        read_frame(p.stream)
        p.stream.sendall(frame(LISTEN, 0, b"vchan.9.0.512.sock"))
        expect_violation(p, "LISTEN before HELLO")
    finally:
        p.close()


def test_hostile_too_many_channels():
    p = Pair(fake_guest=True)
    try:
        fake_guest_start(p)
        name = "vchan.0.9.700.sock"
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(os.path.join(p.hdir, name))
        srv.listen(1024)  # never accepts: the host's connects queue
        t, _, body = read_frame(p.stream)
        assert (t, body) == (LISTEN, name.encode()), (t, body)
        # a name never announced is refused, not counted
        p.stream.sendall(b"".join(
            frame(OPEN, GUEST_BIT | i, b"vchan.0.9.701.sock")
            for i in range(1, 300)))
        fails = [f for f in drain_frames(p.stream) if f[0] == OPEN_FAIL]
        assert len(fails) == 299, len(fails)
        assert p.host.poll() is None, p.host_log()
        p.stream.sendall(b"".join(
            frame(OPEN, GUEST_BIT | i, name.encode())
            for i in range(1, 257)))
        oks = [f for f in drain_frames(p.stream, 1.0) if f[0] == OPEN_OK]
        assert len(oks) == 256, len(oks)
        assert p.host.poll() is None, p.host_log()
        p.stream.sendall(frame(OPEN, GUEST_BIT | 1000, name.encode()))
        expect_violation(p, "more than 256 channels", keep=[name])
        srv.close()
    finally:
        p.close()


# ---- the real qrexec daemon and agent through a vmux pair ----

def test_qrexec_call_through_vmux():
    S = h.System()
    q = S.qube("vmqube", 4)
    guest_dir = os.path.join(S.root, "guest-vchan")
    os.makedirs(guest_dir)
    q.vchan_dir = guest_dir  # the agent's flat directory, in the "VM"
    q.service("test.Echo", "#!/bin/sh\necho \"from $QREXEC_REMOTE_DOMAIN\"\n"
              "cat\nexit 3\n")
    host_dir = os.path.join(S.root, "vchan", "4")
    os.makedirs(host_dir, exist_ok=True)
    a, b = socket.socketpair()
    host = subprocess.Popen([VMUX, "--host", "--fd", str(a.fileno()),
                             "--dir", host_dir, "--name", "vmqube"],
                            pass_fds=[a.fileno()], stderr=S.log)
    guest = subprocess.Popen([VMUX, "--guest", "--fd", str(b.fileno()),
                              "--dir", guest_dir],
                             pass_fds=[b.fileno()], stderr=S.log)
    a.close()
    b.close()
    try:
        q.start_agent()
        q.start_daemon()
        call = "%s:QUBESRPC test.Echo dom0" % h.user()
        rc, out, err = S.client("vmqube", call, stdin=b"payload")
        assert rc == 3, (rc, out, err, S.logtext()[-3000:])
        assert out == b"from dom0\npayload", out
        # a second call, with more data than a window
        data = os.urandom(3 << 20)
        rc, out, err = S.client("vmqube", call, stdin=data)
        assert rc == 3 and out == b"from dom0\n" + data, (rc, len(out))
        # the shell of the qube, through the same pair
        rc, out, err = S.client("vmqube", h.user() + ":echo hello; exit 5")
        assert (rc, out) == (5, b"hello\n"), (rc, out, err)
    finally:
        S.close()
        for x in (host, guest):
            if x.poll() is None:
                x.terminate()
                x.wait(timeout=10)


if __name__ == "__main__":
    h.run_tests([
        test_guest_listener_mirrored_on_host,
        test_host_listener_mirrored_in_guest,
        test_existing_listeners_announced_at_start,
        test_64mib_intact,
        test_stalled_channel_does_not_stop_another,
        test_unlisten_removes_mirror,
        test_host_exits_when_stream_ends,
        test_shutdown_signals_pid,
        test_guest_port_reopened,
        test_hostile_before_hello,
        test_hostile_data_beyond_credit,
        test_hostile_open_in_time_of_close,
        test_hostile_too_many_channels,
    ] + HOSTILE + PHASE + [
        test_qrexec_call_through_vmux,
    ])
