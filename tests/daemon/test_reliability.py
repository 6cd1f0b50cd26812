#!/usr/bin/env python3
"""bulkheadd survives faults: kill -9 at many points during writes leaves a
consistent database holding every acknowledged change; a restarted daemon
finds running qubes again or cleans up after dead ones; nothing is left
behind."""

import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import bh  # noqa: E402
from bh import ApiError  # noqa: E402

ROUNDS = int(os.environ.get("BULKHEAD_KILL_ROUNDS", "25"))


def db_check(path):
    """Open the database as a fresh process would, and check it."""
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        # every qube is whole: a label, and a template for AppVMs
        for qid, name, klass in con.execute(
                "SELECT qid, name, class FROM qubes"):
            props = dict(con.execute(
                "SELECT name, value FROM props WHERE qid = ?", (qid,)))
            assert "label" in props, "qube %s without a label" % name
            if klass == "AppVM":
                assert "template" in props, "AppVM %s without template" % name
            if qid:
                tags = [t for (t,) in con.execute(
                    "SELECT name FROM tags WHERE qid = ?", (qid,))]
                assert any(t.startswith("created-by-") for t in tags), name
        return {n: k for _, n, k in con.execute(
            "SELECT qid, name, class FROM qubes")}
    finally:
        con.close()


def test_kill9_during_writes():
    d = bh.Bulkheadd(backend="none")
    rnd = random.Random(1234)
    acked = {}      # name -> "present" | "absent"
    acked_props = {}  # (name, prop) -> value
    try:
        d.start()
        d.create("TemplateVM", "tpl", "black")
        acked["tpl"] = "present"
        seq = 0
        for rnd_i in range(ROUNDS):
            stop = threading.Event()
            local_acks = []
            inflight = []  # the call under way when the daemon died

            def writer():
                nonlocal seq
                while not stop.is_set():
                    seq += 1
                    name = "q%d" % seq
                    op = seq % 4
                    inflight[:] = [name, "q%d" % (seq - 3)]
                    try:
                        if op == 0 or op == 1:
                            d.create("AppVM", name, "red", "tpl")
                            local_acks.append(("present", name, None, None))
                            d.call("admin.vm.property.Set", name, "memory",
                                   str(300 + seq))
                            local_acks.append(("prop", name, "memory",
                                               str(300 + seq)))
                            d.call("admin.vm.feature.Set", name, "f", "1")
                            d.call("admin.vm.tag.Set", name, "t%d" % seq)
                        elif op == 2:
                            d.call("admin.vm.Clone", "tpl",
                                   payload="name=%s" % name)
                            local_acks.append(("present", name, None, None))
                        else:
                            victim = "q%d" % (seq - 3)
                            d.call("admin.vm.Remove", victim)
                            local_acks.append(("absent", victim, None, None))
                    except (ApiError, OSError):
                        return  # the daemon died under us
            t = threading.Thread(target=writer)
            t.start()
            time.sleep(rnd.uniform(0.0, 0.25))
            d.proc.send_signal(signal.SIGKILL)
            d.proc.wait()
            stop.set()
            t.join(30)
            for kind, name, prop, value in local_acks:
                if kind == "prop":
                    acked_props[(name, prop)] = value
                else:
                    acked[name] = kind
            names = db_check(os.path.join(d.state, "qubes.db"))
            # every acknowledged change is there
            for name, want in acked.items():
                have = "present" if name in names else "absent"
                if name in inflight and have != want:
                    # its last call may have committed without a reply
                    acked[name] = have
                    continue
                assert have == want, "round %d: %s should be %s" % (
                    rnd_i, name, want)
            for name in names:
                assert name in acked or name in inflight or name == "dom0", \
                    "round %d: %s appeared without an acknowledged call" % (
                        rnd_i, name)
                acked.setdefault(name, "present")
            d.start()
            for (name, prop), value in acked_props.items():
                if acked.get(name) == "present":
                    assert d.prop(name, prop)[0] == value, (name, prop)
        assert len(acked) > ROUNDS, "too few writes happened: %d" % len(acked)
    finally:
        d.close()


def test_restart_adopts_running_qube():
    d = bh.Bulkheadd().start()
    try:
        d.create("TemplateVM", "tpl", "black")
        d.create("AppVM", "work", "red", "tpl")
        d.service("work", "test.Hi", "#!/bin/sh\necho hi\n")
        d.call("admin.vm.Start", "work")
        d.stop(signal.SIGKILL)
        # the qube and its qrexec live on without bulkheadd
        rc, out, _ = d.qrexec_client("work", "DEFAULT:QUBESRPC test.Hi dom0")
        assert rc == 0 and out == b"hi\n", (rc, out)
        d.start()
        assert d.qubes()["work"]["state"] == "Running"
        rc, out, _ = d.qrexec_client("work", "DEFAULT:QUBESRPC test.Hi dom0")
        assert rc == 0 and out == b"hi\n", (rc, out)
        d.call("admin.vm.Shutdown", "work", "wait")
        assert d.qubes()["work"]["state"] == "Halted"
        assert no_qube_processes(d), d.processes()
        # SIGTERM also leaves qubes running
        d.call("admin.vm.Start", "work")
        d.stop(signal.SIGTERM)
        d.start()
        assert d.qubes()["work"]["state"] == "Running"
        d.call("admin.vm.Kill", "work")
        bh.wait_for(lambda: d.qubes()["work"]["state"] == "Halted", "halt")
        assert no_qube_processes(d), d.processes()
    finally:
        d.close()


def cmdline(pid):
    """A process's command line; b"" if it is gone since it was listed
    (the tests wait for processes to end)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read()
    except OSError:
        return b""


def qube_pids(d):
    out = []
    for pid in d.processes():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"qrexec-agent" in cmd or b"qrexec-daemon" in cmd:
            out.append(pid)
    return out


def no_qube_processes(d):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not qube_pids(d):
            return True
        time.sleep(0.05)
    return False


def test_restart_cleans_up_dead_qube():
    d = bh.Bulkheadd().start()
    try:
        d.create("TemplateVM", "tpl", "black")
        d.create("AppVM", "work", "red", "tpl")
        d.call("admin.vm.property.Set", "work", "template_for_dispvms", "1")
        d.call("admin.vm.Start", "work")
        disp = d.call("admin.vm.CreateDisposable", "work")
        d.call("admin.vm.Start", disp)
        d.stop(signal.SIGKILL)
        # the qubes die while nobody watches
        for pid in qube_pids(d):
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    if b"qrexec-agent" in f.read():
                        os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.2)
        d.start()
        q = d.qubes()
        assert q["work"]["state"] == "Halted", q
        assert disp not in q, "a dead disposable was kept"
        assert no_qube_processes(d), d.processes()
        # a qube found dead at the start has its directories renamed
        # aside and removed in the background (test_restart_finishes_...)
        for sub in ("qubes", "vchan"):
            bh.wait_for(lambda: os.listdir(os.path.join(d.run, sub)) == [],
                        "%s/%s empty: %s" % (d.run, sub, os.listdir(
                            os.path.join(d.run, sub))))
    finally:
        d.close()


def test_restart_finishes_removals():
    """A halted qube's volatile, runtime and channel directories (and a
    removed qube's) are renamed aside and removed in the background; what
    a bulkheadd killed meanwhile left is removed at the next start, without
    following a link out of it."""
    d = bh.Bulkheadd().start()
    outside = os.path.join(d.root, "outside")
    try:
        d.create("TemplateVM", "tpl", "black")
        d.create("AppVM", "work", "red", "tpl")
        d.call("admin.vm.property.Set", "work", "template_for_dispvms", "1")
        disp = d.call("admin.vm.CreateDisposable", "work")
        d.call("admin.vm.Start", disp)
        d.call("admin.vm.Kill", disp)
        bh.wait_for(lambda: disp not in d.qubes(), "disposable removed")
        d.stop(signal.SIGKILL)
        os.makedirs(outside)
        with open(os.path.join(outside, "keep"), "w") as f:
            f.write("not the daemon's\n")
        left = []
        for where, tag in (("state/qubes", "volatile"), ("run/qubes", "run"),
                           ("run/vchan", "vchan")):
            top = os.path.join(d.state if where.startswith("state")
                               else d.run, where.split("/")[1])
            t = os.path.join(top, ".removed-%s-1" % tag)
            os.makedirs(os.path.join(t, "a", "b"))
            with open(os.path.join(t, "a", "b", "f"), "w") as f:
                f.write("x")
            os.symlink(outside, os.path.join(t, "a", "link"))
            left.append(t)
        d.start()
        bh.wait_for(lambda: not any(os.path.lexists(t) for t in left),
                    "the leftovers removed")
        assert os.path.exists(os.path.join(outside, "keep"))
        assert os.listdir(os.path.join(d.run, "qubes")) == []
        assert os.listdir(os.path.join(d.run, "vchan")) == []
        assert d.qubes()["work"]["state"] == "Halted"
    finally:
        d.close()


def test_qube_init_dies():
    d = bh.Bulkheadd().start()
    try:
        d.create("TemplateVM", "tpl", "black")
        d.create("AppVM", "work", "red", "tpl")
        d.call("admin.vm.Start", "work")
        for pid in qube_pids(d):
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"qrexec-agent" in f.read():
                    os.kill(pid, signal.SIGKILL)
        bh.wait_for(lambda: d.qubes()["work"]["state"] == "Halted", "halt")
        assert no_qube_processes(d), d.processes()
        # and it starts again
        d.call("admin.vm.Start", "work")
        assert d.qubes()["work"]["state"] == "Running"
    finally:
        d.close()


def test_one_daemon_per_state_dir():
    # a second bulkheadd on the same state would serve the same database
    # and fight over the same qubes: it is refused, naming the first
    d = bh.Bulkheadd()
    try:
        d.start()
        cmd = [os.path.join(bh.BIN, "daemon", "bulkheadd"), "--state-dir",
               d.state, "--run-dir", d.run + "2", "--conf-dir", d.conf,
               "--backend", "none", "--policy-user", "root"]
        p = subprocess.run(cmd, capture_output=True, timeout=20)
        assert p.returncode == 1, p
        assert b"another bulkheadd (pid %d)" % d.proc.pid in p.stderr, p
        assert d.call("admin.vm.List").startswith("dom0 ")
        with open(os.path.join(d.state, "bulkheadd.lock")) as f:
            assert f.read() == "%d\n" % d.proc.pid
        d.stop()
        # --daemon: the parent returns once the socket serves, and the
        # daemon logs to STATE/log/bulkheadd.log
        p = subprocess.run(cmd + ["--daemon"], capture_output=True,
                           timeout=20)
        assert p.returncode == 0, p
        sock = os.path.join(d.run + "2", "qubesd.sock")
        assert d.call("admin.vm.List", sock=sock).startswith("dom0 ")
        with open(os.path.join(d.state, "bulkheadd.lock")) as f:
            pid = int(f.read())
        assert os.getsid(pid) == pid  # detached: its own session
        p2 = subprocess.run(cmd + ["--daemon"], capture_output=True,
                            timeout=20)
        assert p2.returncode == 1 and b"start-up failed" in p2.stderr and \
            b"another bulkheadd (pid %d)" % pid in p2.stderr, p2
        os.kill(pid, signal.SIGTERM)
        bh.wait_for(lambda: not os.path.exists("/proc/%d" % pid), "exit")
        with open(os.path.join(d.state, "log", "bulkheadd.log")) as f:
            log = f.read()
        assert "bulkheadd: info: ready: " + sock in log, log
    finally:
        d.close()


def sleeping_agent_bin(d, ignore_term=False):
    """A bin directory whose qrexec-agent never connects (it sleeps; with
    ignore_term, through SIGTERM too)."""
    fake = os.path.join(d.root, "bin")
    os.makedirs(fake)
    for sub, _, files in os.walk(bh.BIN):
        for f in files:
            p = os.path.join(sub, f)
            if os.access(p, os.X_OK) and "." not in f and \
                    not os.path.exists(os.path.join(fake, f)):
                os.symlink(p, os.path.join(fake, f))
    os.unlink(os.path.join(fake, "qrexec-agent"))
    with open(os.path.join(fake, "qrexec-agent"), "w") as f:
        f.write("#!/bin/sh\n%sexec python3 -c 'import time; "
                "time.sleep(1000)' \"$@\"\n" %
                ("trap '' TERM\n" if ignore_term else ""))
    os.chmod(os.path.join(fake, "qrexec-agent"), 0o755)
    return fake


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_deferred_caller_hangs_up():
    # a caller waiting for a deferred answer (a Start) goes away: bulkheadd
    # forgets it; it does not keep waking for the hung-up socket
    d = bh.Bulkheadd()
    try:
        d.start({"BULKHEAD_BIN_DIR": sleeping_agent_bin(d)})
        d.create("TemplateVM", "tpl", "black")
        d.create("AppVM", "work", "red", "tpl")
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.sock)
        s.sendall(b"admin.vm.Start+ dom0 name work\0")
        s.shutdown(socket.SHUT_WR)
        time.sleep(0.3)
        s.close()  # gone before the answer
        time.sleep(0.3)
        before = cpu_ticks(d.proc.pid)
        time.sleep(1)
        spent = cpu_ticks(d.proc.pid) - before
        # a spinning loop burns a whole CPU (~100 ticks a second)
        assert spent < 30, "bulkheadd used %d ticks in 1 s" % spent
        assert d.qubes()["work"]["state"] == "Transient"
        d.call("admin.vm.Kill", "work")
    finally:
        d.close()


def test_shutdown_after_a_timeout():
    # a shutdown that timed out leaves the qube going down; a second one,
    # forced, still kills it and is answered
    d = bh.Bulkheadd()
    try:
        d.start({"BULKHEAD_BIN_DIR": sleeping_agent_bin(d, True)})
        d.create("TemplateVM", "tpl", "black")
        d.create("AppVM", "work", "red", "tpl")
        d.call("admin.vm.property.Set", "work", "qrexec_timeout", "3600")
        d.call("admin.vm.property.Set", "work", "shutdown_timeout", "1")
        threading.Thread(target=lambda: bh.expect_exc(
            "QubesVMError", d.call, "admin.vm.Start", "work"),
            daemon=True).start()
        bh.wait_for(lambda: d.qubes()["work"]["state"] == "Transient",
                    "starting")
        # its agent past the shell that set SIGTERM aside
        bh.wait_for(lambda: [p for p in d.processes()
                             if b"time.sleep" in cmdline(p)],
                    "the agent that ignores SIGTERM")
        bh.expect_exc("QubesVMShutdownTimeoutError", d.call,
                      "admin.vm.Shutdown", "work", "wait")
        assert d.qubes()["work"]["state"] == "Halting"
        d.call("admin.vm.Shutdown", "work", "force+wait")
        assert d.qubes()["work"]["state"] == "Halted"
        assert no_qube_processes(d), d.processes()
    finally:
        d.close()


def test_failed_starts_leave_no_disposables():
    # a backend that cannot start anything (an unknown user for process
    # qubes): disposables that never ran are removed, preloads back off
    d = bh.Bulkheadd()
    try:
        d.start({"BULKHEAD_PROCESS_USER": "no-such-user-bh"})
        d.create("TemplateVM", "tpl", "black")
        d.create("AppVM", "dvm", "red", "tpl")
        d.call("admin.vm.property.Set", "dvm", "template_for_dispvms",
               "True")
        for _ in range(3):
            name = d.call("admin.vm.CreateDisposable", "dvm")
            e = bh.expect_exc("QubesVMError", d.call, "admin.vm.Start", name)
            assert "no such user" in e.msg, e.msg
            assert name not in d.qubes()
        d.call("admin.vm.feature.Set", "dvm", "preload-dispvm-max", "2")
        time.sleep(1.5)  # preload attempts, then their back-off
        disps = [q for q in d.qubes() if q.startswith("disp")]
        assert disps == [], disps
        assert "a preload failed to start" in d.log()
        assert "start failed: no such user" in d.log()
    finally:
        d.close()


def test_second_start_waits_for_the_first():
    # two Starts of one qube (two calls autostarting it): the second waits
    # for the first start's outcome instead of failing at once
    d = bh.Bulkheadd()
    try:
        d.start({"BULKHEAD_BIN_DIR": sleeping_agent_bin(d)})
        d.create("TemplateVM", "tpl", "black")
        d.create("AppVM", "work", "red", "tpl")
        d.call("admin.vm.property.Set", "work", "qrexec_timeout", "3600")
        got = {}

        def start(key):
            try:
                d.call("admin.vm.Start", "work")
                got[key] = "ok"
            except ApiError as e:
                got[key] = e.type + ": " + e.msg
        t1 = threading.Thread(target=start, args=(1,))
        t1.start()
        bh.wait_for(lambda: d.qubes()["work"]["state"] == "Transient",
                    "starting")
        t2 = threading.Thread(target=start, args=(2,))
        t2.start()
        time.sleep(0.5)
        assert 2 not in got, got  # it waits, it did not fail at once
        d.call("admin.vm.Kill", "work")
        t1.join(10)
        t2.join(10)
        assert got[1] == got[2] == \
            "QubesVMError: work was killed while starting", got
    finally:
        d.close()


def test_restart_kills_starting_qube():
    # bulkheadd is killed while a qube starts (its agent never comes):
    # the next bulkheadd finds the qube from its state file and stops it,
    # instead of leaving its processes behind
    d = bh.Bulkheadd()
    try:
        d.start({"BULKHEAD_BIN_DIR": sleeping_agent_bin(d)})
        d.create("TemplateVM", "tpl", "black")
        d.create("AppVM", "work", "red", "tpl")

        def start_work():
            try:
                d.call("admin.vm.Start", "work")
            except (OSError, ApiError):
                pass  # bulkheadd is killed under it: no answer
        threading.Thread(target=start_work, daemon=True).start()

        def sleeper():
            return [p for p in d.processes()
                    if b"time.sleep(1000)" in cmdline(p)]
        bh.wait_for(sleeper, "the qube's (fake) agent")
        state = os.path.join(d.run, "qubes", "work", "state")
        bh.wait_for(lambda: os.path.exists(state), "the state file")
        with open(state) as f:
            assert "state=Transient" in f.read()
        d.stop(signal.SIGKILL)
        assert sleeper(), "the starting qube died with bulkheadd"
        d.start()
        bh.wait_for(lambda: not sleeper(), "the starting qube killed")
        assert d.qubes()["work"]["state"] == "Halted"
        assert not os.path.exists(state)
        assert no_qube_processes(d), d.processes()
        assert "work: was Transient when bulkheadd stopped" in d.log()
    finally:
        d.close()


def test_domain_ids_are_fresh():
    # a domain id names a running qube's channel directory: a new start
    # never gets the id of one that just stopped (its qrexec-daemon may
    # still be reconnecting there), nor one whose directory is left over,
    # nor, after a restart, the id of a qube adopted as running
    d = bh.Bulkheadd().start()
    try:
        d.create("TemplateVM", "tpl", "black")
        d.create("AppVM", "work", "red", "tpl")
        d.create("AppVM", "work2", "blue", "tpl")
        seen = []
        for _ in range(3):
            d.call("admin.vm.Start", "work")
            seen.append(int(d.prop("work", "xid")[0]))
            d.call("admin.vm.Kill", "work")
            bh.wait_for(lambda: d.qubes()["work"]["state"] == "Halted",
                        "halt")
        assert len(set(seen)) == 3 and min(seen) > 0, seen
        d.call("admin.vm.Start", "work")
        adopted = int(d.prop("work", "xid")[0])
        d.stop(signal.SIGKILL)
        d.start()
        assert int(d.prop("work", "xid")[0]) == adopted
        stale = [adopted + i for i in range(1, 4)]
        for x in stale:
            os.makedirs(os.path.join(d.run, "vchan", str(x)))
        d.call("admin.vm.Start", "work2")
        x2 = int(d.prop("work2", "xid")[0])
        assert x2 not in stale + seen + [adopted], (x2, stale, seen)
        d.call("admin.vm.Kill", "work")
        d.call("admin.vm.Kill", "work2")
        for x in stale:
            os.rmdir(os.path.join(d.run, "vchan", str(x)))
    finally:
        d.close()


def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            out.append(int(d))
    return out


def test_copier_holds_nothing_of_the_daemon():
    # the child copying a volume (and its cp) must not hold bulkheadd's
    # state directory lock or its listening sockets (a restarted bulkheadd
    # could not start, the socket would outlive the daemon), nor keep its
    # blocked signals (cp could not be stopped)
    d = bh.Bulkheadd().start()
    try:
        d.create("TemplateVM", "tpl", "black")
        d.create("AppVM", "src", "red", "tpl")
        d.create("AppVM", "dst", "red", "tpl")
        priv = os.path.join(d.state, "qubes", "src", "private")
        for i in range(40):
            sub = os.path.join(priv, "d%d" % i)
            os.makedirs(sub)
            for j in range(500):
                with open(os.path.join(sub, "f%d" % j), "w") as f:
                    f.write("x")
        token = d.call("admin.vm.volume.CloneFrom", "src", "private")
        done = []
        t = threading.Thread(target=lambda: done.append(d.call(
            "admin.vm.volume.CloneTo", "dst", "private", token)))
        t.start()
        found = None
        deadline = time.monotonic() + 30
        while found is None and not done and time.monotonic() < deadline:
            for c in children_of(d.proc.pid):
                for g in children_of(c):
                    try:
                        if open("/proc/%d/comm" % g).read().strip() == "cp":
                            found = (c, g)
                    except OSError:
                        pass
            time.sleep(0.002)
        assert found is not None, "no copy seen (it ended too soon?)"
        lock = os.path.realpath(os.path.join(d.state, "bulkheadd.lock"))
        for pid in found:
            fds = []
            for fd in os.listdir("/proc/%d/fd" % pid):
                try:
                    fds.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
                except OSError:
                    pass
            assert lock not in fds, (pid, fds)
            assert not [f for f in fds if f.startswith("socket:")], (pid,
                                                                     fds)
        with open("/proc/%d/status" % found[1]) as f:
            blk = [ln.split()[1] for ln in f if ln.startswith("SigBlk:")]
        assert blk == ["0000000000000000"], blk
        # the source does not start while its volume is copied: running,
        # it could swap a symlink into the tree under root's cp
        os.kill(found[1], signal.SIGSTOP)
        try:
            e = bh.expect_exc("QubesVMError", d.call, "admin.vm.Start",
                              "src")
            assert "is being made" in e.msg, e.msg
        finally:
            os.kill(found[1], signal.SIGCONT)
        t.join(60)
        assert done, "CloneTo did not return"
        assert len(os.listdir(os.path.join(d.state, "qubes", "dst",
                                           "private"))) == 40
        # once it is done, it starts
        d.call("admin.vm.Start", "src")
        d.call("admin.vm.Kill", "src")
    finally:
        d.close()


def test_appvm_waits_for_first_snapshot():
    # an AppVM of a template with a root of its own that was never
    # snapshotted would run on the live root (which the template's first
    # start then changes under it): its start waits for a snapshot
    d = bh.Bulkheadd().start()
    try:
        d.create("TemplateVM", "tpl", "black")
        d.create("AppVM", "work", "red", "tpl")
        root = os.path.join(d.state, "qubes", "tpl", "root")
        os.makedirs(os.path.join(root, "etc"))
        with open(os.path.join(root, "etc", "marker"), "w") as f:
            f.write("v1\n")
        d.call("admin.vm.Start", "work")
        snap = os.path.join(d.state, "qubes", "tpl", "root.snap-1")
        assert os.path.isfile(os.path.join(snap, "etc", "marker")), \
            os.listdir(os.path.dirname(snap))
        with open(os.path.join(d.root, "bulkheadd.log")) as f:
            log = f.read()
        assert "work: starting once tpl's snapshot is taken" in log, log
        assert log.index("snapshot root.snap-1 taken") < \
            log.index("work: starting\n"), log
        # with a snapshot there, the next start does not wait
        d.call("admin.vm.Kill", "work")
        bh.wait_for(lambda: d.qubes()["work"]["state"] == "Halted", "halt")
        d.call("admin.vm.Start", "work")
        assert not os.path.exists(os.path.join(d.state, "qubes", "tpl",
                                               "root.snap-2"))
        d.call("admin.vm.Kill", "work")
    finally:
        d.close()


def ppid(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def test_orphan_qrexec_daemon_exits():
    # bulkheadd gone, the qube dead, its channel directory removed (a
    # cleaned-up run directory): its qrexec-daemon does not wait forever
    d = bh.Bulkheadd().start()
    try:
        d.create("TemplateVM", "tpl", "black")
        d.create("AppVM", "work", "red", "tpl")
        d.call("admin.vm.Start", "work")
        xid = int(d.prop("work", "xid")[0])
        both = [p for p in qube_pids(d) if b"qrexec-daemon" in open(
            "/proc/%d/cmdline" % p, "rb").read()]
        # the monitor and its worker (the monitor's child)
        daemons = [p for p in both if ppid(p) not in both]
        workers = [p for p in both if ppid(p) in both]
        agents = [p for p in qube_pids(d) if p not in both]
        assert len(daemons) == 1 and len(workers) == 1 and agents, (
            both, agents)
        d.stop(signal.SIGKILL)
        for p in agents:
            os.kill(p, signal.SIGKILL)
        time.sleep(0.3)
        assert os.path.exists("/proc/%d" % daemons[0]), "exited too early"
        shutil.rmtree(os.path.join(d.run, "vchan", str(xid)))

        def gone(pid):
            return not os.path.exists("/proc/%d" % pid) or open(
                "/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] \
                == "Z"
        bh.wait_for(lambda: gone(daemons[0]) and gone(workers[0]),
                    "the orphan qrexec-daemon and its worker to exit")
    finally:
        d.close()


try:
    bh.run_tests([
        test_kill9_during_writes,
        test_restart_adopts_running_qube,
        test_restart_cleans_up_dead_qube,
        test_restart_finishes_removals,
        test_qube_init_dies,
        test_one_daemon_per_state_dir,
        test_restart_kills_starting_qube,
        test_orphan_qrexec_daemon_exits,
        test_deferred_caller_hangs_up,
        test_shutdown_after_a_timeout,
        test_failed_starts_leave_no_disposables,
        test_second_start_waits_for_the_first,
        test_domain_ids_are_fresh,
        test_copier_holds_nothing_of_the_daemon,
        test_appvm_waits_for_first_snapshot,
    ])
finally:
    pass
