#!/usr/bin/env python3
"""A hostile Admin API caller: malformed headers, oversized payloads,
floods of calls and of event subscriptions, a subscriber that never
reads.  bulkheadd must stay up, answer everyone else, and change nothing
it was not asked to."""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import bh  # noqa: E402
from bh import ApiError, expect_exc  # noqa: E402

D = bh.Bulkheadd(backend="none").start()
D.create("TemplateVM", "tpl", "black")
D.create("AppVM", "work", "red", "tpl")


def snapshot():
    return (D.call("admin.vm.List"),
            D.call("admin.vm.property.GetAll", "work"),
            D.call("admin.vm.feature.List", "work"),
            D.call("admin.vm.tag.List", "work"),
            D.call("admin.property.GetAll"),
            D.call("admin.label.List"))


BASE = snapshot()


def alive_and_unchanged():
    assert D.proc.poll() is None, "bulkheadd died"
    assert snapshot() == BASE, "state changed"


def raw(data, timeout=10, shut=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(D.sock)
    try:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except (BrokenPipeError, ConnectionResetError):
        out = b"<reset>"
    s.close()
    return out


def test_malformed_headers():
    bad = [
        b"admin.vm.List+ dom0 name dom0",            # no NUL
        b"admin.vm.List+ dom0 name\0",               # three fields
        b"admin.vm.List+ dom0 name dom0 x\0",        # five fields
        b"admin.vm.List+  dom0 name dom0\0",         # empty field
        b"admin.vm.List+ dom0 uuid dom0\0",          # bad dest type
        b"admin.vm.List+ dom0 keyword work\0",       # unknown keyword
        b"admin/vm.List+ dom0 name dom0\0",          # bad method char
        b"+ dom0 name dom0\0",                       # empty method
        b"admin.vm.List+a b dom0 name dom0\0",
        b"admin.vm.List+ dom\xff0 name dom0\0",      # bad source
        b"admin.vm.List+ dom0 name " + b"x" * 40 + b"\0",
        b"a" * 300 + b"+ dom0 name dom0\0",          # method too long
        b"admin.vm.List+" + b"a" * 300 + b" dom0 name dom0\0",
        b"\0",
        b"",
    ]
    for b in bad:
        out = raw(b)
        assert out in (b"", b"<reset>"), (b, out)
    alive_and_unchanged()


def test_oversized_payloads():
    out = raw(b"admin.vm.feature.Set+x dom0 name work\0" + b"A" * 70000)
    assert out in (b"", b"<reset>"), out[:60]
    # a payload that never ends: the daemon stops reading and closes
    # (a daemon that merely stopped reading would leave sendall blocked:
    # a timeout is not a close, and fails the test)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(D.sock)
    sent = 0
    closed = False
    try:
        while sent < 50 * 1024 * 1024:
            s.sendall(b"B" * 65536)
            sent += 65536
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    s.close()
    assert closed, "the daemon kept reading %d bytes" % sent
    # values too long for a property or with a NUL
    expect_exc("ProtocolError", D.call, "admin.vm.feature.Set", "work", "y",
               "a\0b")
    e = expect_exc("ProtocolError", D.call, "admin.vm.property.Set",
                   "work", "kernelopts", "a" * 5000)
    assert "too long" in e.msg, e.msg
    alive_and_unchanged()


def test_flood_of_calls():
    errors = []

    def worker():
        try:
            for _ in range(150):
                D.call("admin.vm.List")
                expect_exc("QubesNoSuchPropertyError", D.call,
                           "admin.vm.property.Get", "work", "nope")
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    ts = [threading.Thread(target=worker) for _ in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors[:3]
    alive_and_unchanged()


def subscribe(src="dom0"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(D.sock)
    s.sendall(b"admin.Events+ %s name dom0\0" % src.encode())
    s.shutdown(socket.SHUT_WR)
    return s


def test_flood_of_subscriptions():
    subs = []
    refused = 0
    for _ in range(100):
        s = subscribe()
        first = s.recv(4096)
        if first.startswith(b"1\0"):
            subs.append(s)
        else:
            assert first.startswith(b"2\0") or first == b"", first
            refused += 1
            s.close()
    assert refused > 0 and len(subs) <= 64, (len(subs), refused)
    alive_and_unchanged()
    for s in subs:
        s.close()
    time.sleep(0.2)
    # slots come back
    s = subscribe()
    assert s.recv(4096).startswith(b"1\0")
    s.close()


def test_qube_subscriptions_leave_room_for_dom0():
    # a qube with admin.Events (a management qube) asking again and again
    # holds 8 streams, never all 64: dom0's subscribers still get one
    subs, refused = [], 0
    try:
        for _ in range(20):
            s = subscribe("work")
            first = s.recv(4096)
            if first.startswith(b"1\0"):
                subs.append(s)
            else:
                assert first.startswith(b"2\0"), first
                refused += 1
                s.close()
        assert len(subs) == 8 and refused == 12, (len(subs), refused)
        s = subscribe()
        assert s.recv(4096).startswith(b"1\0")
        s.close()
    finally:
        for s in subs:
            s.close()
    alive_and_unchanged()


def test_subscriber_that_never_reads():
    s = subscribe()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    assert s.recv(100).startswith(b"1\0")
    # ~2.4 MB of events; the subscriber reads none of them
    big = "v" * 4000
    for i in range(300):
        D.call("admin.vm.feature.Set", "work", "spam", big + str(i))
    D.call("admin.vm.feature.Remove", "work", "spam")
    # the daemon dropped it rather than buffer without bound
    # (a timeout is not a drop: it fails the test)
    s.settimeout(60)
    total = 0
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            total += len(d)
    except ConnectionResetError:
        pass
    assert total < 2 * 1024 * 1024, "the daemon buffered everything: %d" % \
        total
    s.close()
    alive_and_unchanged()


def connect_retrying(timeout=20, path=None):
    """A connection to the Admin API socket (or path).  A full listen
    backlog (EAGAIN: the daemon has not accepted the earlier ones yet) is
    waited out; anything else is an error."""
    deadline = time.monotonic() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(path or D.sock)
            return s
        except BlockingIOError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def test_idle_connections_do_not_lock_out():
    # more idle callers than the daemon keeps connections (API_MAX_CONNS,
    # 256): none of them sends a byte
    idle = []
    try:
        for _ in range(300):
            idle.append(connect_retrying())
        # while they are all open, another caller is still served
        s = connect_retrying()
        s.sendall(b"admin.vm.List+ dom0 name dom0\0")
        s.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
        except ConnectionResetError:
            out += b"<reset>"
        s.close()
        assert out.startswith(b"0\0") and b"work class=AppVM" in out, \
            "locked out by %d idle connections: %r" % (len(idle), out[:60])
        alive_and_unchanged()
    finally:
        for s in idle:
            s.close()
    alive_and_unchanged()


def test_internal_socket_has_its_own_connections():
    # The policy daemon asks the internal socket at every call.  Callers
    # of the public socket (a qube's calls to @dispvm each hold one while
    # its disposable starts) must not take its place: each socket has its
    # own share (224 and 32), and a full one gives way only within itself.
    def dropped():
        return D.log().count("dropping the oldest idle one")

    def still_open(socks):
        n = 0
        for s in socks:
            s.setblocking(False)
            try:
                if s.recv(1) != b"":
                    n += 1
            except BlockingIOError:
                n += 1
            except ConnectionResetError:
                pass
        return n
    public, internal = [], []
    try:
        for _ in range(240):
            public.append(connect_retrying())
        # the public share is full: one more public drops a public one
        time.sleep(0.5)
        before = dropped()
        kept = still_open(public)
        assert before >= 16 and 0 < kept <= 224, (before, kept)
        # internal ones take none of the public share
        for _ in range(32):
            internal.append(connect_retrying(path=D.internal))
        info = D.call("internal.GetSystemInfo", sock=D.internal)
        time.sleep(0.5)
        after = dropped()
        # the 33rd internal connection (the call) dropped an idle
        # internal one, nothing else
        assert after == before + 1, (before, after)
        assert '"domains"' in info, info[:80]
        # and every public connection open before is open still
        assert still_open(public) == kept, (still_open(public), kept)
    finally:
        for s in public + internal:
            s.close()
    alive_and_unchanged()


try:
    bh.run_tests([
        test_malformed_headers,
        test_oversized_payloads,
        test_flood_of_calls,
        test_flood_of_subscriptions,
        test_qube_subscriptions_leave_room_for_dom0,
        test_subscriber_that_never_reads,
        test_idle_connections_do_not_lock_out,
        test_internal_socket_has_its_own_connections,
    ])
finally:
    D.close()
