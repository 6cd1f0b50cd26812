#!/usr/bin/env python3
"""test_daemon.py - qrexec-policy-daemon end to end (issue #3).

Starts the real daemon on a socket in a temp dir with a temp policy
directory and system information, asks it what qrexec-daemon asks, and
checks the replies with the same rules as src/lib/proto/policy.c.  Then
rewrites the policy (valid: decisions change; half-written: deny
everything; fixed: works again) to show that reloads are atomic; checks
that a silent client does not hold up the others; and runs "ask" through
a fake agent and through the real bulkhead-policy-agent on a pty.

TAP output; exit 0 only if every check passed.
"""
import json
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BUILD = os.environ.get("BULKHEAD_BUILD_DIR", "build")
DAEMON = os.path.join(BUILD, "src/policy/qrexec-policy-daemon")
AGENT = os.path.join(BUILD, "src/policy/bulkhead-policy-agent")
HERE = os.path.dirname(os.path.abspath(__file__))
SYSINFO = os.path.join(HERE, "golden", "sysinfo.json")

results = []


def check(name, cond, detail=""):
    results.append(bool(cond))
    print("%s %d - %s%s" % ("ok" if cond else "not ok", len(results), name,
                            "" if cond else " # " + str(detail)))
    sys.stdout.flush()


def skip(name, reason):
    """A check that cannot run here: a TAP SKIP line, seen, not failed."""
    results.append(True)
    print("ok %d - %s # SKIP %s" % (len(results), name, reason))
    sys.stdout.flush()


def request(sock_path, source, target, service, extra=None, timeout=10,
            raw=None, shut=False):
    """One request, as qrexec-daemon sends it; returns the reply bytes."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    if raw is None:
        raw = "source=%s\nintended_target=%s\nservice_and_arg=%s\n" % (
            source, target, service)
        raw += "".join("%s=%s\n" % kv for kv in (extra or {}).items())
        raw += "\n"
    try:
        s.sendall(raw.encode())
    except (BrokenPipeError, ConnectionResetError):
        pass  # the daemon gave up on us: read what (nothing) it sent
    if shut:
        s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        try:
            chunk = s.recv(4096)
        except ConnectionResetError:
            break  # closed with our bytes unread: no answer
        if not chunk:
            break
        data += chunk
    s.close()
    return data


def parse_reply(data):
    """proto_policy_reply_parse's rules: returns a dict or None."""
    if not data or len(data) > 4096 or b"\0" in data:
        return None
    text = data.decode("ascii")
    if text.endswith("\n"):
        text = text[:-1]
    out = {}
    for line in text.split("\n"):
        if "=" not in line:
            return None
        k, v = line.split("=", 1)
        if k in out:
            return None
        out[k] = v
    if out.get("result") == "allow":
        if not all(k in out for k in
                   ("user", "target", "requested_target", "autostart")):
            return None
        if out["autostart"] not in ("True", "False"):
            return None
    elif out.get("result") == "deny":
        if any(k in out for k in
               ("user", "target", "requested_target", "autostart")):
            return None
    else:
        return None
    return out


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(tmp, path)


def wait_for(pred, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def decision(sock, src, tgt, svc, extra=None):
    r = parse_reply(request(sock, src, tgt, svc, extra))
    if r is None:
        return None
    return r["result"] + (":" + r["target"] if r["result"] == "allow" else "")


def start_daemon(tmp, extra_args):
    sock = os.path.join(tmp, "policy.sock")
    log = open(os.path.join(tmp, "daemon.log"), "w")
    proc = subprocess.Popen(
        [DAEMON, "-d", "--socket", sock, "--policy-dir",
         os.path.join(tmp, "policy.d"), "--compat-dir",
         os.path.join(tmp, "compat"), "--system-info", SYSINFO]
        + extra_args, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True)
    if not wait_for(lambda: os.path.exists(sock)):
        raise RuntimeError("daemon did not start")
    return proc, sock


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        return -1


def read_line(conn):
    """What conn sends up to a newline (or its end): the agent's view of
    one message from the daemon."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def fake_agent(path, answer, seen, delay=0.0):
    """Answer one question on path with answer; record the question."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(4)

    def run():
        conn, _ = srv.accept()
        seen.append(json.loads(read_line(conn)))
        time.sleep(delay)
        try:
            if answer is not None:
                conn.sendall(answer.encode())
        except OSError:
            pass
        conn.close()
        srv.close()
        os.unlink(path)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def main():
    print("TAP version 13")
    tmp = tempfile.mkdtemp(prefix="policy-daemon-test.")
    pdir = os.path.join(tmp, "policy.d")
    os.mkdir(pdir)
    os.mkdir(os.path.join(tmp, "compat"))
    main_file = os.path.join(pdir, "50-test.policy")
    write_atomic(main_file,
                 "test.Svc * work personal allow\n"
                 "test.Svc * work @dispvm allow\n"
                 "test.Ask * work @anyvm ask default_target=vault\n"
                 "* * @anyvm @anyvm deny\n")
    proc, sock = start_daemon(tmp, ["--ask-timeout", "2"])
    try:
        # the replies qrexec-daemon gets
        r = parse_reply(request(sock, "work", "personal", "test.Svc"))
        check("allow reply parses as qrexec-daemon parses it", r, r)
        check("allow fields", r and r["target"] == "personal"
              and r["user"] == "DEFAULT" and r["autostart"] == "True"
              and r["requested_target"] == "personal"
              and r["target_uuid"]
              == "uuid:b3eb69d0-f9d9-4c3c-ad5c-454500303ea4", r)
        r = parse_reply(request(sock, "work", "@dispvm", "test.Svc+x",
                                {"requested_source": ""}))
        check("@dispvm resolved to the default template",
              r and r["target"] == "@dispvm:default-dvm"
              and r["target_uuid"].startswith("@dispvm:uuid:"), r)
        r = request(sock, "work", "vault", "test.Svc")
        check("deny reply is exactly result=deny", r == b"result=deny", r)
        r = request(sock, None, None, None,
                    raw="source=work\nintended_target=vault\n"
                        "service_and_arg=test.Svc\ndomain_id=1\n\n")
        check("unknown key: closed without an answer", r == b"", r)
        r = request(sock, None, None, None,
                    raw="source=work\nintended_target=personal\n"
                        "service_and_arg=test.Svc\n", shut=True)
        check("request ended by EOF is answered",
              decision_of(r) == "allow:personal", r)
        r = request(sock, "work", "personal", "test.Svc",
                    {"just_evaluate": "yes"})
        check("just_evaluate allow is result=allow", r == b"result=allow",
              r)
        r = request(sock, "work", "personal", "test.Ask",
                    {"just_evaluate": "yes"})
        check("just_evaluate ask is a deny", r == b"result=deny", r)
        r = request(sock, "work", "personal", "test.Ask",
                    {"assume_yes_for_ask": "yes"})
        check("assume_yes_for_ask allows the intended target",
              decision_of(r) == "allow:personal", r)
        r = request(sock, "work", "personal", "test.Ask")
        check("ask with no agent and no terminal denies",
              r == b"result=deny", r)

        r = request(sock, None, None, None,
                    raw="source=work\nservice_and_arg=" + "a" * 70000)
        check("an over-long request is closed without an answer", r == b"",
              r[:100])
        # a silent client does not block the others
        silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        silent.connect(sock)
        silent.sendall(b"source=work\n")
        r = decision(sock, "work", "personal", "test.Svc")
        # answered while the silent one is still held, unanswered (a
        # daemon stuck on it would answer only after dropping it)
        silent.setblocking(False)
        try:
            held = silent.recv(1) == b"x"
        except BlockingIOError:
            held = True
        except OSError:
            held = False
        check("a silent client does not hold up others",
              r == "allow:personal" and held, (r, held))
        # and once it ends its request, it is answered too
        silent.settimeout(10)
        silent.sendall(b"intended_target=personal\n"
                       b"service_and_arg=test.Svc\n\n")
        data = b""
        while True:
            chunk = silent.recv(4096)
            if not chunk:
                break
            data += chunk
        silent.close()
        r = parse_reply(data)
        check("the silent client, once done, is answered",
              r is not None and r["result"] == "allow", data)
        # many at once
        out = []

        def one():
            out.append(decision(sock, "work", "personal", "test.Svc"))
        threads = [threading.Thread(target=one) for _ in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check("40 concurrent requests all answered",
              out.count("allow:personal") == 40, out)
        silent.close()

        # atomic reload: a valid change is seen
        write_atomic(main_file,
                     "test.Svc * work vault allow\n"
                     "* * @anyvm @anyvm deny\n")
        ok = wait_for(lambda: decision(sock, "work", "vault", "test.Svc")
                      == "allow:vault")
        check("valid rewrite: decisions change", ok)
        check("valid rewrite: old rule gone",
              decision(sock, "work", "personal", "test.Svc") == "deny")
        # a half-written file (a rule cut in the middle) denies everything
        with open(main_file, "w", encoding="utf-8") as f:
            f.write("test.Svc * work vault allow\n* * @anyvm")
        ok = wait_for(lambda: decision(sock, "work", "vault", "test.Svc")
                      == "deny")
        check("broken policy: everything is denied", ok)
        time.sleep(0.2)
        check("broken policy: still denied a moment later",
              decision(sock, "work", "vault", "test.Svc") == "deny")
        # fixed again
        write_atomic(main_file, "test.Svc * work vault allow\n")
        ok = wait_for(lambda: decision(sock, "work", "vault", "test.Svc")
                      == "allow:vault")
        check("fixed policy works again", ok)
        # a new file with a bad name breaks everything, removing it fixes
        bad = os.path.join(pdir, "60-Bad.policy")
        write_atomic(bad, "* * @anyvm @anyvm allow\n")
        ok = wait_for(lambda: decision(sock, "work", "vault", "test.Svc")
                      == "deny")
        check("invalid file name: everything is denied", ok)
        os.unlink(bad)
        ok = wait_for(lambda: decision(sock, "work", "vault", "test.Svc")
                      == "allow:vault")
        check("invalid file removed: works again", ok)
        with open(os.path.join(tmp, "daemon.log"), encoding="utf-8") as f:
            log = f.read()
        check("the error is logged with file:line",
              "50-test.policy:2: wrong number of fields" in log, log[-500:])
    finally:
        rc = stop(proc)
        check("daemon exits 0 on SIGTERM", rc == 0, rc)
        check("daemon removed its socket", not os.path.exists(sock))

    # ask through an agent socket
    write_atomic(main_file,
                 "test.Ask * work @anyvm ask default_target=vault "
                 "notify=yes\n"
                 "* * @anyvm @anyvm deny notify=no\n")
    agent = os.path.join(tmp, "agent.sock")
    proc, sock = start_daemon(tmp, ["--ask-socket", agent,
                                    "--ask-timeout", "2"])
    try:
        seen = []
        t = fake_agent(agent, "allow:personal\n", seen)
        r = decision(sock, "work", "vault", "test.Ask+arg")
        t.join(5)
        q = seen[0] if seen else {}
        check("agent answer allow:personal is used", r == "allow:personal",
              r)
        check("agent got the question", q.get("source") == "work"
              and q.get("service") == "test.Ask"
              and q.get("argument") == "+arg"
              and q.get("default_target") == "vault"
              and "personal" in q.get("targets", [])
              and "work" not in q.get("targets", []), q)
        seen = []
        t = fake_agent(agent, "allow:dom0\n", seen)
        r = decision(sock, "work", "vault", "test.Ask")
        t.join(5)
        check("agent answer outside the choices is a deny", r == "deny", r)
        t = fake_agent(agent, "deny\n", [])
        r = decision(sock, "work", "vault", "test.Ask")
        t.join(5)
        check("agent deny is a deny", r == "deny", r)
        # the agent allows, but only after 4 s: past --ask-timeout (2)
        t = fake_agent(agent, "allow:personal\n", [], delay=4)
        t0 = time.time()
        r = decision(sock, "work", "vault", "test.Ask")
        el = time.time() - t0
        with open(os.path.join(tmp, "daemon.log"), encoding="utf-8") as f:
            log = f.read()
        check("no answer within --ask-timeout is a deny",
              r == "deny" and el > 1.0 and
              "ask: no answer in 2s, denying" in log, (r, el, log[-300:]))
        t.join(5)
        r = decision(sock, "work", "vault", "test.Ask")
        check("no agent listening is a deny", r == "deny", r)
        # one qube asking again and again: 4 of its questions wait for
        # the user at once, more are denied at once; another qube's
        # question still reaches the agent
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(agent)
        srv.listen(16)
        srv.settimeout(0.5)
        held, answers = [], []

        def accept_question():
            # a question, not a notification (the denials notify)
            while True:
                c = srv.accept()[0]
                c.settimeout(2)
                if "notify" not in json.loads(read_line(c) or b"{}"):
                    return c
                c.close()

        def ask_one(src):
            answers.append((src, decision(sock, src, "vault", "test.Ask")))
        threads = [threading.Thread(target=ask_one, args=("work",))
                   for _ in range(6)]
        for th in threads:
            th.start()
        t0 = time.time()
        while len(held) < 6 and time.time() - t0 < 1.5:
            try:
                held.append(accept_question())
            except socket.timeout:
                pass
        early = [r for _, r in answers]
        check("a qube's 5th and 6th waiting questions are denied at once",
              len(held) == 4 and early == ["deny", "deny"],
              (len(held), early))
        write_atomic(main_file,
                     "test.Ask * @anyvm @anyvm ask default_target=vault "
                     "notify=yes\n"
                     "* * @anyvm @anyvm deny notify=no\n")
        time.sleep(1)  # the daemon reads the changed policy (inotify)
        th = threading.Thread(target=ask_one, args=("personal",))
        th.start()
        try:
            held.append(accept_question())
            other = True
        except socket.timeout:
            other = False
        check("... while another qube's question still reaches the agent",
              other, len(held))
        for c in held:
            c.close()
        for th in threads + [th]:
            th.join(10)
        srv.close()
        os.unlink(agent)
    finally:
        stop(proc)

    # the real agent on a pseudo-terminal
    write_atomic(main_file,
                 "test.Ask * work @anyvm ask target=personal\n"
                 "test.Ask2 * work @anyvm ask default_target=vault\n")
    pid, master = pty.fork()
    if pid == 0:
        os.execv(AGENT, [AGENT, "--socket", agent])
    proc = None
    try:
        ok = wait_for(lambda: os.path.exists(agent))
        check("bulkhead-policy-agent listens", ok)
        proc, sock = start_daemon(tmp, ["--ask-socket", agent])
        box = {}

        def ask(svc):
            box["r"] = decision(sock, "work", "vault", svc)
        t = threading.Thread(target=ask, args=("test.Ask",))
        t.start()
        screen = read_until(master, b"n to deny: ")
        check("agent shows the question on its terminal",
              b"work wants to call test.Ask" in screen
              and b"1) personal" in screen, screen)
        os.write(master, b"1\n")
        t.join(10)
        check("agent answer by number allows", box.get("r")
              == "allow:personal", box)
        t = threading.Thread(target=ask, args=("test.Ask2",))
        t.start()
        screen = read_until(master, b"n to deny: ")
        check("agent marks the default", b"vault  (default)" in screen,
              screen)
        os.write(master, b"\n")
        t.join(10)
        check("Enter takes the default", box.get("r") == "allow:vault", box)
        t = threading.Thread(target=ask, args=("test.Ask2",))
        t.start()
        read_until(master, b"n to deny: ")
        os.write(master, b"n\n")
        t.join(10)
        check("n denies", box.get("r") == "deny", box)
    finally:
        if proc is not None:
            stop(proc)
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(master)
    # the daemon's own terminal prompt (no agent socket, a controlling tty)
    write_atomic(main_file,
                 "test.Ask * work @anyvm ask default_target=vault\n")
    sock = os.path.join(tmp, "tty.sock")
    pid, master = pty.fork()
    if pid == 0:
        os.execv(DAEMON, [DAEMON, "-d", "--socket", sock, "--policy-dir",
                          pdir, "--compat-dir", os.path.join(tmp, "compat"),
                          "--system-info", SYSINFO, "--ask-timeout", "5"])
    try:
        ok = wait_for(lambda: os.path.exists(sock))
        box = {}

        def ask_tty():
            box["r"] = decision(sock, "work", "vault", "test.Ask")
        t = threading.Thread(target=ask_tty)
        t.start()
        screen = read_until(master, b"n to deny: ")
        check("daemon prompts on its terminal without an agent",
              ok and b"work wants to call test.Ask" in screen
              and b"vault  (default)" in screen, screen[-300:])
        os.write(master, b"personal\n")
        t.join(10)
        check("an answer by name on the terminal allows",
              box.get("r") == "allow:personal", box)
    finally:
        os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(master)

    # started as root with --user, the daemon drops to that user
    nobody = None
    if os.geteuid() != 0:
        skip("--user: the daemon drops to the user", "not root")
    else:
        try:
            import pwd
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            skip("--user: the daemon drops to the user", "no user nobody")
        if nobody is not None:
            os.chmod(tmp, 0o755)
            write_atomic(main_file, "test.Svc * work personal allow\n")
            os.chmod(main_file, 0o644)
            proc, sock = start_daemon(tmp, ["--user", "nobody"])
            try:
                with open("/proc/%d/status" % proc.pid,
                          encoding="ascii") as f:
                    st = dict(l.split(":", 1) for l in f if ":" in l)
                uids = st["Uid"].split()
                gids = st["Gid"].split()
                check("--user: every uid is the user's",
                      uids == [str(nobody.pw_uid)] * 4, uids)
                check("--user: every gid is the user's",
                      gids == [str(nobody.pw_gid)] * 4, gids)
                check("--user: no_new_privs is set",
                      st.get("NoNewPrivs", "").strip() == "1", st)
                check("--user: the socket belongs to the user",
                      os.stat(sock).st_uid == nobody.pw_uid)
                check("--user: requests are still answered",
                      decision(sock, "work", "personal", "test.Svc")
                      == "allow:personal")
            finally:
                stop(proc)
    shutil.rmtree(tmp)
    print("1..%d" % len(results))
    return 0 if all(results) else 1


def decision_of(data):
    r = parse_reply(data)
    if r is None:
        return None
    return r["result"] + (":" + r["target"] if r["result"] == "allow" else "")


def read_until(fd, marker, timeout=5.0):
    buf = b""
    end = time.time() + timeout
    while marker not in buf and time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                buf += os.read(fd, 4096)
            except OSError:
                break
    return buf


if __name__ == "__main__":
    sys.exit(main())
