#!/usr/bin/env python3
"""A hostile qube against the admin side and its neighbours.

A fake agent (this script) plays the qube "evil" on its control channel to a
real qrexec-daemon and sends oversized, truncated, wrong-phase and garbage
messages and floods of service requests; a fake service answers a call with
garbage on the data channel; a local user of a qube abuses the agent's
trigger socket.  Each time: the misbehaving connection is closed or the
request refused, the daemons and agents stay up, and calls between the
honest qubes still complete.
"""

import os
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

S = h.System()
WORK = S.qube("work", 1)
PERSONAL = S.qube("personal", 2)
EVIL = S.qube("evil", 3)
for q in (WORK, PERSONAL):
    q.service("test.Echo", "#!/bin/sh\necho \"$QREXEC_REMOTE_DOMAIN\"\ncat\n")
    q.start()
S.set_rules("work personal test.Echo allow\n"
            "evil personal test.Echo allow\n")


class FakeAgent:
    """The qube end of a control channel, played by the test."""

    def __init__(self, qube):
        self.qube = qube
        self.path = os.path.join(qube.vchan_dir,
                                 "vchan.%d.0.512.sock" % qube.domid)
        self.conn = None

    def listener(self, backlog=1, timeout=30):
        """A socket listening where the daemon dials the agent."""
        if os.path.exists(self.path):
            os.unlink(self.path)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(self.path)
        srv.listen(backlog)
        srv.settimeout(timeout)
        return srv

    def listen_and_accept(self, version=4):
        srv = self.listener()
        self.conn, _ = srv.accept()
        srv.close()
        os.unlink(self.path)
        self.conn.settimeout(10)
        self.conn.sendall(h.msg(h.MSG_HELLO, struct.pack("<L", version)))
        t, body = h.recv_msg(self.conn)
        assert t == h.MSG_HELLO, t
        return struct.unpack("<L", body)[0]

    def send(self, data):
        self.conn.sendall(data)

    def closed_by_daemon(self, timeout=10):
        """True once the daemon has closed our connection."""
        self.conn.settimeout(timeout)
        try:
            while True:
                d = self.conn.recv(65536)
                if not d:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


def accept_once(path, timeout=30):
    """Listen at path for one connection (as an agent or a call's vchan
    server does), take it and remove the name."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(timeout)
    c, _ = srv.accept()
    srv.close()
    os.unlink(path)
    return c


def trigger4(service, target="personal", ident=b"SOCKET1", source=b""):
    return h.msg(h.MSG_TRIGGER_SERVICE4,
                 struct.pack("<64s64s32s", source, target.encode(), ident)
                 + service + b"\0")


EVIL_AGENT = FakeAgent(EVIL)


def start_evil():
    """Start the evil qube's daemon against the fake agent."""
    import threading
    result = {}

    def accept():
        result["v"] = EVIL_AGENT.listen_and_accept()
    t = threading.Thread(target=accept)
    t.start()
    EVIL.daemon = subprocess.Popen(
        [os.path.join(h.BIN, "qrexec-daemon"), "--direct",
         "--socket-dir=" + S.sockdir,
         "--policy-socket=" + os.path.join(S.root, "no-policy.sock"),
         "--policy-program=" + S.policy_program,
         "-u", EVIL.uuid, str(EVIL.domid), EVIL.name, h.user()],
        env=S.admin_env(), stderr=S.log)
    t.join(30)
    assert result.get("v") == 4, result


def reconnect_evil():
    EVIL_AGENT.listen_and_accept()


def honest_call_works():
    rc, out, err = WORK.client_vm("personal", "test.Echo", stdin=b"ok\n")
    assert rc == 0 and out == b"work\nok\n", (rc, out, err)
    rc, out, err = S.client("work", "%s:QUBESRPC test.Echo dom0" % h.user())
    assert rc == 0 and out == b"dom0\n", (rc, out, err)


def everyone_alive():
    for q in (WORK, PERSONAL):
        assert h.alive(q.agent) and h.alive(q.daemon), q.name
    assert h.alive(EVIL.daemon), "the evil qube's daemon died"


LOG_SEEN = [0]  # how much of the log earlier checks have read


def expect_closed(what, logged):
    """The daemon closed the evil qube's channel after what, and said why:
    a warning "control channel: <logged>" since the last check."""
    assert EVIL_AGENT.closed_by_daemon(), "daemon kept a channel after " + what
    line = "qrexec-daemon[evil]: warning: control channel: " + logged + "\n"
    h.wait_for(lambda: line in S.logtext()[LOG_SEEN[0]:],
               "the log to say %r" % line)
    everyone_alive()
    honest_call_works()
    reconnect_evil()
    LOG_SEEN[0] = len(S.logtext())


def test_setup():
    start_evil()
    everyone_alive()
    LOG_SEEN[0] = len(S.logtext())


def test_unknown_message_type():
    EVIL_AGENT.send(h.msg(0xdead, b"x" * 10))
    expect_closed("unknown type", "unexpected message type")


def test_oversized_message():
    EVIL_AGENT.send(struct.pack("<LL", h.MSG_TRIGGER_SERVICE4, 0x7fffffff)
                    + b"A" * 4096)
    expect_closed("oversized", "oversized message")


def test_truncated_message():
    EVIL_AGENT.send(struct.pack("<LL", h.MSG_TRIGGER_SERVICE4, 300) + b"A" * 10)
    EVIL_AGENT.conn.shutdown(socket.SHUT_WR)
    expect_closed("truncated", "truncated message")


def test_short_trigger_qsb_089():
    EVIL_AGENT.send(h.msg(h.MSG_TRIGGER_SERVICE4, b"\0" * 96))
    expect_closed("short trigger", "malformed service request")


def test_wrong_phase_old_trigger():
    # a v2 request after v4 was negotiated
    EVIL_AGENT.send(h.msg(h.MSG_TRIGGER_SERVICE,
                          struct.pack("<64s32s32s", b"test.Echo", b"personal",
                                      b"SOCKET1")))
    expect_closed("wrong phase", "service request of the wrong version")


def test_second_hello():
    EVIL_AGENT.send(h.msg(h.MSG_HELLO, struct.pack("<L", 4)))
    expect_closed("second hello", "unexpected message type")


def test_bad_connection_terminated():
    EVIL_AGENT.send(h.msg(h.MSG_CONNECTION_TERMINATED,
                          struct.pack("<LL", 0, 99999)))
    expect_closed("port out of range", "malformed MSG_CONNECTION_TERMINATED")


def test_invalid_requests_are_refused_not_fatal():
    bad = [
        trigger4(b"test.Echo", ident=b"\x01\x02"),
        trigger4(b"+arg"),
        trigger4(b""),
        trigger4(b"a b"),
        trigger4(b"test.Echo", target="per/sonal"),
        h.msg(h.MSG_TRIGGER_SERVICE4, struct.pack("<64s64s32s", b"",
              b"personal", b"SOCKET9") + b"no-nul"),
    ]
    for m in bad:
        EVIL_AGENT.send(m)
        t, body = h.recv_msg(EVIL_AGENT.conn)
        assert t == h.MSG_SERVICE_REFUSED and len(body) == 32, (t, body)
    everyone_alive()
    honest_call_works()


WARN_BURST = 20  # qrexec-daemon's QUBE_WARN_BURST a QUBE_WARN_INTERVAL_MS
WARN_INTERVAL = 10.0


def test_invalid_requests_do_not_flood_the_log():
    # each invalid request is refused, but the host's log (its disk) does
    # not take one warning each: the daemon keeps to a budget, and later
    # says how many it left out
    line = "invalid service request from the qube, refused"
    before = S.logtext().count(line)
    n = 300
    EVIL_AGENT.send(b"".join(trigger4(b"test.Echo", ident=b"\x01")
                             for _ in range(n)))
    for _ in range(n):
        t, body = h.recv_msg(EVIL_AGENT.conn)
        assert t == h.MSG_SERVICE_REFUSED, t
    logged = S.logtext().count(line) - before
    assert 0 < logged <= WARN_BURST, logged
    time.sleep(WARN_INTERVAL + 0.5)
    EVIL_AGENT.send(trigger4(b"test.Echo", ident=b"\x01"))
    t, _ = h.recv_msg(EVIL_AGENT.conn)
    assert t == h.MSG_SERVICE_REFUSED, t
    h.wait_for(lambda: "more warnings about its requests left out"
               in S.logtext(), "the count of warnings left out")
    assert S.logtext().count(line) - before == logged + 1
    everyone_alive()
    honest_call_works()


def test_flood_of_denied_requests():
    n = 2000
    batch = b"".join(trigger4(b"test.Denied", ident=b"SOCKET%d" % i)
                     for i in range(n))
    EVIL_AGENT.send(batch)
    got = 0
    deadline = time.monotonic() + 120
    while got < n and time.monotonic() < deadline:
        m = h.recv_msg(EVIL_AGENT.conn, timeout=60)
        assert m is not None, "daemon closed the channel during the flood"
        assert m[0] == h.MSG_SERVICE_REFUSED, m
        got += 1
    assert got == n, got
    everyone_alive()
    honest_call_works()


WARNED_NOT_READING = [0]


def test_flood_without_reading():
    WARNED_NOT_READING[0] = S.logtext().count("not reading its control")
    # the qube never reads its refusals: the daemon must not queue them
    # without bound; it drops the channel and keeps serving everyone else
    # invalid requests are refused at once, without asking the policy
    msg = trigger4(b"test.Denied", ident=b"\x01")
    EVIL_AGENT.conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    EVIL_AGENT.conn.settimeout(0.5)
    sent = 0
    try:
        while sent < 200000:
            EVIL_AGENT.conn.sendall(msg * 100)
            sent += 100
            everyone_alive() if sent % 20000 == 0 else None
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    # the daemon gave up on the channel itself, once its queue was full,
    # rather than go on reading requests and dropping their refusals
    # (one warning each)
    expect_closed("a flood without reading", "output queue full")
    warned = S.logtext().count("not reading its control channel")
    assert warned <= WARNED_NOT_READING[0] + 1, warned


def test_garbage_on_data_channel():
    # qrexec-client calls the evil qube; its fake service answers garbage
    import threading
    done = {}

    def run_client():
        done["r"] = S.client("evil", "%s:QUBESRPC test.Echo dom0" % h.user(),
                             timeout=60)
    t = threading.Thread(target=run_client)
    t.start()
    m = h.recv_msg(EVIL_AGENT.conn, timeout=30)
    assert m and m[0] == h.MSG_EXEC_CMDLINE, m
    dom, port = struct.unpack("<LL", m[1][:8])
    path = os.path.join(EVIL.vchan_dir, "vchan.%d.%d.%d.sock" % (dom, EVIL.domid,
                                                                  port))
    h.wait_for(lambda: os.path.exists(path), "client's channel")
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    c.sendall(h.msg(h.MSG_HELLO, struct.pack("<L", 4)))
    h.recv_msg(c)
    c.sendall(h.msg(h.MSG_DATA_STDOUT, b"fine\n")
              + struct.pack("<LL", h.MSG_DATA_STDOUT, 10 ** 6) + b"x" * 100)
    t.join(60)
    c.close()
    rc, out, _ = done["r"]
    assert out == b"fine\n", out
    assert 0 < rc < 128 or rc == 255, rc  # an error, not a crash (signal)
    EVIL_AGENT.send(h.msg(h.MSG_CONNECTION_TERMINATED,
                          struct.pack("<LL", dom, port)))
    everyone_alive()
    honest_call_works()


def test_hostile_trigger_clients():
    # a local user of "work" abuses the agent's trigger socket
    payloads = [
        b"\xff" * 64,
        struct.pack("<LL", h.MSG_TRIGGER_SERVICE4, 0x7fffffff),
        struct.pack("<LL", h.MSG_TRIGGER_SERVICE4, 500) + b"\0" * 20,
        h.msg(h.MSG_TRIGGER_SERVICE, b"\0" * 128),
        h.msg(h.MSG_TRIGGER_SERVICE4, b"\0" * 160 + b"+x\0"),
    ]
    for p in payloads:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(WORK.trigger)
        s.sendall(p)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(10)
        assert s.recv(8) == b"", "agent answered a bad request"
        s.close()
    # many idle connections, then gone
    idle = []
    for _ in range(300):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(None)  # wait for the agent to accept (backlog)
        s.connect(WORK.trigger)
        idle.append(s)
    for s in idle:
        s.close()
    time.sleep(0.2)
    everyone_alive()
    honest_call_works()


def test_hostile_caller_to_service():
    # a fake qrexec-client-vm in "work" calls personal's service, then
    # sends garbage on the data channel (reaching personal through the
    # admin-side relay): only that call ends
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(WORK.trigger)
    s.sendall(trigger4(b"test.Echo", ident=b"SOCKET"))
    params = h.recv_exact(s, 8, timeout=30)
    assert len(params) == 8, "call was not allowed"
    dom, port = struct.unpack("<LL", params)
    path = os.path.join(WORK.vchan_dir, "vchan.%d.%d.%d.sock" % (
        WORK.domid, dom, port))
    c = accept_once(path)
    c.sendall(h.msg(h.MSG_HELLO, struct.pack("<L", 4)))
    assert h.recv_msg(c)[0] == h.MSG_HELLO
    c.sendall(struct.pack("<LL", 0x999, 3) + b"abc" + b"\xff" * 1000)
    # the service side gives up on this call: the channel closes (EOF or
    # a reset; a timeout is not a close, and fails the test)
    c.settimeout(60)
    try:
        while c.recv(65536):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    c.close()
    s.close()
    everyone_alive()
    honest_call_works()


def test_agent_path_symlink_not_followed():
    # the qube puts a symlink where its agent listens, to a socket outside
    # its directory (another qube's agent, say): its daemon, reconnecting
    # as root, must not follow it and serve that socket as this qube
    other = os.path.join(S.root, "other-agent.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(other)
    srv.listen(1)
    srv.settimeout(3)
    EVIL_AGENT.conn.close()
    if os.path.exists(EVIL_AGENT.path):
        os.unlink(EVIL_AGENT.path)
    os.symlink(other, EVIL_AGENT.path)
    try:
        c, _ = srv.accept()
        c.close()
        raise AssertionError("the daemon connected through the symlink")
    except socket.timeout:
        pass
    finally:
        srv.close()
        os.unlink(EVIL_AGENT.path)
        os.unlink(other)
    everyone_alive()
    reconnect_evil()
    honest_call_works()


def test_agent_that_comes_and_goes():
    # the qube takes the daemon's connection and drops it at once, again
    # and again: the daemon dials again only after a pause that doubles
    # (100 ms up to 1 s), not in a loop that keeps it and its worker busy
    EVIL_AGENT.conn.close()
    srv = EVIL_AGENT.listener(backlog=16, timeout=0.2)
    n = 0
    end = time.monotonic() + 4
    try:
        while time.monotonic() < end:
            try:
                c, _ = srv.accept()
            except socket.timeout:
                continue
            c.close()
            n += 1
    finally:
        srv.close()
        os.unlink(EVIL_AGENT.path)
    # 0.1 + 0.2 + 0.4 + 0.8 + 1 + 1 ... s apart: 6 or 7 in 4 s
    assert 2 <= n <= 10, "%d connections in 4 s" % n
    everyone_alive()
    honest_call_works()
    reconnect_evil()


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict(ln.rstrip("\n").split(":\t", 1) for ln in f
                    if ":\t" in ln)


def worker_of(daemon):
    """The daemon's worker: its child that is a qrexec-daemon too."""
    kids = [p for p in h.descendants(daemon.pid)[1:]
            if b"qrexec-daemon" in open("/proc/%d/cmdline" % p,
                                        "rb").read()]
    assert len(kids) == 1, kids
    return kids[0]


def test_channel_reader_is_confined():
    # what reads the qube's channel is the worker: not root, no way back
    # to it, under seccomp, holding sockets only; the monitor (root here)
    # reads nothing of the qube's
    w = worker_of(EVIL.daemon)
    st = proc_status(w)
    nobody = 65534
    assert st["Uid"].split() == [str(nobody)] * 4, st["Uid"]
    assert st["Gid"].split()[0] != "0", st["Gid"]
    assert st["CapEff"] == st["CapPrm"] == "0000000000000000", st
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2", st
    assert proc_status(EVIL.daemon.pid)["Uid"].split()[0] == "0"
    # the log is the one file it writes: a bounded amount more
    with open("/proc/%d/limits" % w) as f:
        fsize = [ln.split()[3] for ln in f if ln.startswith("Max file size")]
    assert fsize and fsize[0] != "unlimited", fsize
    assert int(fsize[0]) <= os.fstat(S.log.fileno()).st_size + (16 << 20), \
        fsize
    fds = os.listdir("/proc/%d/fd" % w)
    for fd in fds:
        if int(fd) > 2:
            t = os.readlink("/proc/%d/fd/%s" % (w, fd))
            assert t.startswith("socket:"), (fd, t)
    # it holds the qube's channel: the agent's HELLO went to it
    honest_call_works()


def confined_call(daemon, worker):
    """The daemon's call process (its child that is neither the worker
    nor a service), once it has confined itself."""
    found = []

    def ready():
        found[:] = []
        for p in h.descendants(daemon.pid)[1:]:
            try:
                with open("/proc/%d/cmdline" % p, "rb") as f:
                    if b"qrexec-daemon" not in f.read() or p == worker:
                        continue
                if proc_status(p)["Seccomp"] == "2":
                    found.append(p)
            except OSError:
                pass
        return len(found) == 1
    h.wait_for(ready, "a confined call process of " + repr(daemon.args[-2]))
    return found[0]


def assert_confined(pid, allowed_log):
    st = proc_status(pid)
    nobody = 65534
    assert st["Uid"].split() == [str(nobody)] * 4, st["Uid"]
    assert st["Gid"].split() == [str(nobody)] * 4, st["Gid"]
    assert st["Groups"].strip() == "", st["Groups"]
    assert st["CapEff"] == st["CapPrm"] == "0000000000000000", st
    assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2", st
    with open("/proc/%d/limits" % pid) as f:
        fsize = [ln.split()[3] for ln in f if ln.startswith("Max file size")]
    assert fsize and fsize[0] != "unlimited", fsize
    assert int(fsize[0]) <= os.fstat(S.log.fileno()).st_size + allowed_log, \
        fsize


def test_call_is_confined_before_the_data():
    # a call's process connects as root (the channels' sockets are their
    # makers' alone), then, before the first byte of a qube's data, it
    # is the worker's user under seccomp: the relay between two qubes,
    # and the stream with the caller of an admin-side service
    worker = worker_of(WORK.daemon)
    S.admin_service("test.Hold", "#!/bin/sh\necho \"$QREXEC_REMOTE_DOMAIN\"\n"
                    "id -u\ncat\n")
    S.set_rules("work personal test.Echo allow\n"
                "evil personal test.Echo allow\n"
                "work dom0 test.Hold allow\n")
    try:
        for target, svc, want in (
                ("personal", "test.Echo", b"work\nok\n"),
                ("dom0", "test.Hold", b"work\n0\nok\n")):
            p = subprocess.Popen(
                [os.path.join(h.BIN, "qrexec-client-vm"),
                 "--agent-socket=" + WORK.trigger, target, svc],
                env=WORK.agent_env(), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                call = confined_call(WORK.daemon, worker)
                assert_confined(call, 1 << 20)
                # the data still flows, both ways
                out, err = p.communicate(b"ok\n", timeout=30)
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            assert p.returncode == 0 and out == want, (target, out, err)
            h.wait_for(lambda: not os.path.exists("/proc/%d" % call),
                       "the call process to end")
    finally:
        S.set_rules("work personal test.Echo allow\n"
                    "evil personal test.Echo allow\n")
    # killed by its filter it would have said nothing: nothing was
    assert "signal 31" not in S.logtext()
    honest_call_works()


def test_client_is_confined_before_the_data():
    # qrexec-client started as root (as qvm-run under sudo starts it)
    # connects as root, then, before the qube's first byte, is nobody:
    # no groups, no capabilities, no_new_privs, not dumpable, seccomp;
    # the data still flows both ways and the exit code comes back
    import pwd
    try:
        nobody = pwd.getpwnam("nobody")
        ids = (nobody.pw_uid, nobody.pw_gid)
    except KeyError:
        ids = (65534, 65534)
    p = subprocess.Popen(
        [os.path.join(h.BIN, "qrexec-client"), "--socket-dir=" + S.sockdir,
         "-d", "work", "%s:QUBESRPC test.Echo dom0" % h.user()],
        env=S.admin_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        h.wait_for(lambda: proc_status(p.pid)["Seccomp"] == "2",
                   "qrexec-client to confine itself")
        st = proc_status(p.pid)
        assert st["Uid"].split() == [str(ids[0])] * 4, st["Uid"]
        assert st["Gid"].split() == [str(ids[1])] * 4, st["Gid"]
        assert st["Groups"].strip() == "", st["Groups"]
        assert st["CapEff"] == st["CapPrm"] == "0000000000000000", st
        assert st["NoNewPrivs"] == "1", st
        # not dumpable: its /proc files stay root's, not nobody's
        assert os.stat("/proc/%d/status" % p.pid).st_uid == 0
        out, err = p.communicate(b"ok\n", timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0 and out == b"dom0\nok\n", (p.returncode, out,
                                                        err)
    # with -l the local command is started first, as root, and the client
    # is confined the same; the command's bytes go both ways (it waits at
    # a gate while the test looks)
    gate, got = os.path.join(S.root, "gate"), os.path.join(S.root, "got")
    os.mkfifo(gate)
    p = subprocess.Popen(
        [os.path.join(h.BIN, "qrexec-client"), "--socket-dir=" + S.sockdir,
         "-d", "work", "-l",
         "read a; cat %s; echo hello; read b; echo \"$(id -u) $a $b\" > %s"
         % (gate, got), "%s:QUBESRPC test.Echo dom0" % h.user()],
        env=S.admin_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    try:
        h.wait_for(lambda: proc_status(p.pid)["Seccomp"] == "2",
                   "qrexec-client -l to confine itself")
        assert proc_status(p.pid)["Uid"].split()[0] == str(ids[0])
        with open(gate, "w"):
            pass
        _, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.unlink(gate)
    assert p.returncode == 0, (p.returncode, err)
    with open(got) as f:
        assert f.read() == "0 dom0 hello\n"
    os.unlink(got)
    # the error paths after it leave cleanly too (not killed by the
    # filter): test_garbage_on_data_channel's client is confined as well
    honest_call_works()


def test_client_answering_a_call_is_confined():
    # qrexec-client -c (what Qubes 4.0's policy tools run to answer a
    # qube's call): as root it starts the admin-side service and connects
    # to the caller's channel, then confines itself before the caller's
    # first byte; the service itself stays root's
    S.admin_service("test.Who", "#!/bin/sh\necho \"$QREXEC_REMOTE_DOMAIN\"\n"
                    "id -u\ncat\n")
    # the qube's request, pending while the policy (here: a program that
    # holds) decides, as Qubes 4.0's ran qrexec-client -c itself
    with open(S.policy_program) as f:
        policy = f.read()
    with open(S.policy_program, "w") as f:
        f.write("#!/bin/sh\nexec sleep 120\n")
    held = []
    try:
        EVIL_AGENT.send(trigger4(b"test.Who", target="dom0", ident=b"SOCKETC"))

        def holding():
            held[:] = [q for q in h.descendants(EVIL.daemon.pid)
                       if open("/proc/%d/cmdline" % q, "rb").read()
                       .startswith(b"sleep\0")]
            return held
        h.wait_for(holding, "the policy to hold the request")
    finally:
        with open(S.policy_program, "w") as f:
            f.write(policy)
    try:
        answer_held_call()
    finally:
        # the policy's late "no" changes nothing for an answered request
        for q in held:
            os.kill(q, signal.SIGKILL)
    everyone_alive()
    honest_call_works()


def answer_held_call():
    p = subprocess.Popen(
        [os.path.join(h.BIN, "qrexec-client"), "--socket-dir=" + S.sockdir,
         "-d", "dom0", "-c", "SOCKETC,evil,%d" % EVIL.domid, "--",
         "QUBESRPC test.Who evil name dom0"],
        env=S.admin_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    c = None
    try:
        m = h.recv_msg(EVIL_AGENT.conn, timeout=30)
        assert m and m[0] == h.MSG_SERVICE_CONNECT, m
        dom, port = struct.unpack("<LL", m[1][:8])
        assert m[1][8:].rstrip(b"\0") == b"SOCKETC", m
        # evil's qrexec-client-vm is the channel's server
        c = accept_once(os.path.join(EVIL.vchan_dir, "vchan.%d.%d.%d.sock" % (
            EVIL.domid, dom, port)))
        h.wait_for(lambda: proc_status(p.pid)["Seccomp"] == "2",
                   "qrexec-client -c to confine itself")
        st = proc_status(p.pid)
        assert st["Uid"].split()[0] != "0" and st["NoNewPrivs"] == "1", st
        assert st["CapEff"] == "0000000000000000", st
        c.sendall(h.msg(h.MSG_HELLO, struct.pack("<L", 4)))
        assert h.recv_msg(c, timeout=30)[0] == h.MSG_HELLO
        c.sendall(h.msg(h.MSG_DATA_STDIN, b"ok\n") + h.msg(h.MSG_DATA_STDIN))
        out, code = b"", None
        while code is None:
            m = h.recv_msg(c, timeout=30)
            assert m is not None, ("the channel ended early", out)
            t, body = m
            if t == h.MSG_DATA_STDOUT:
                out += body
            elif t == h.MSG_DATA_EXIT_CODE:
                code = struct.unpack("<l", body)[0]
        assert out == b"evil\n0\nok\n" and code == 0, (out, code)
        c.close()
        c = None
        _, err = p.communicate(timeout=30)
    finally:
        if c is not None:
            c.close()
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, (p.returncode, err)


def test_worker_id_options():
    # --uid: a real id, not root, not -1; and not with --user
    base = [os.path.join(h.BIN, "qrexec-daemon"), "--direct", "-u",
            "0b1c", "9", "nine"]
    for extra, why in ((["--uid=0"], b"--uid"),
                       (["--uid=4294967295"], b"--uid"),
                       (["--uid=x"], b"--uid"),
                       (["--uid=5", "--user=nobody"], b"exclude")):
        p = subprocess.run(base[:1] + extra + base[1:], capture_output=True,
                           timeout=10, env=S.admin_env())
        assert p.returncode == 2 and why in p.stderr, (extra, p)


def test_worker_killed_ends_only_its_daemon():
    # a worker the qube crashed (here: killed) takes its daemon down, not
    # another qube's; the daemon's socket goes with it (bulkheadd starts
    # another daemon)
    victim = S.qube("victim", 4)
    victim.start()
    sock = os.path.join(S.sockdir, "qrexec.4")
    assert os.path.exists(sock)
    os.kill(worker_of(victim.daemon), 9)
    rc = victim.daemon.wait(timeout=10)
    assert rc == 1, rc
    assert not os.path.exists(sock)
    assert "the worker ended (signal 9)" in S.logtext()
    victim.stop()
    everyone_alive()
    honest_call_works()


def test_silent_agent_does_not_hold_sigterm():
    # last: the evil qube's daemon is stopped here.  Its agent goes and
    # comes back, takes the daemon's connection and sends half a HELLO:
    # the daemon must still see SIGTERM (it used to wait for the rest,
    # for ever, in a blocking read that retried on EINTR)
    EVIL_AGENT.conn.close()
    path = EVIL_AGENT.path
    if os.path.exists(path):
        os.unlink(path)
    c = accept_once(path)
    c.sendall(struct.pack("<L", h.MSG_HELLO))
    time.sleep(0.5)
    assert h.alive(EVIL.daemon)
    EVIL.daemon.terminate()
    try:
        rc = EVIL.daemon.wait(timeout=10)
    except subprocess.TimeoutExpired:
        EVIL.daemon.kill()
        EVIL.daemon.wait()
        raise AssertionError("the daemon ignored SIGTERM while waiting "
                             "for the agent's HELLO")
    c.close()
    assert rc == 0, rc
    for q in (WORK, PERSONAL):
        assert h.alive(q.agent) and h.alive(q.daemon), q.name
    honest_call_works()


try:
    h.run_tests([
        test_setup,
        test_unknown_message_type,
        test_oversized_message,
        test_truncated_message,
        test_short_trigger_qsb_089,
        test_wrong_phase_old_trigger,
        test_second_hello,
        test_bad_connection_terminated,
        test_invalid_requests_are_refused_not_fatal,
        test_invalid_requests_do_not_flood_the_log,
        test_flood_of_denied_requests,
        test_flood_without_reading,
        test_garbage_on_data_channel,
        test_hostile_trigger_clients,
        test_hostile_caller_to_service,
        test_agent_path_symlink_not_followed,
        test_agent_that_comes_and_goes,
        test_channel_reader_is_confined,
        test_call_is_confined_before_the_data,
        test_client_is_confined_before_the_data,
        test_client_answering_a_call_is_confined,
        test_worker_id_options,
        test_worker_killed_ends_only_its_daemon,
        test_silent_agent_does_not_hold_sigterm,
    ])
finally:
    S.close()
