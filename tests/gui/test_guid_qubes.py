#!/usr/bin/env python3
"""The GUI with real qubes (issue #8): a private bulkheadd with the
namespace-sandbox backend, two AppVMs with the feature "gui" on (their
bulkhead-init starts the GUI agent) and labels red and green, and
bulkhead-guid finding them through the Admin API (guivm = dom0).  A test
Wayland client started in each qube with qrexec (as a person would with
qvm-run) shows up over VNC framed in its qube's label colour; a key goes
to the focused qube only.  A third qube that puts a link to another
qube's GUI socket in its channel directory is refused (the connector
checks the peer's uid, not the path).  Stopping a qube removes its
windows; starting it again connects it again.  A GUI domain with
--max-qubes 1 shows a second qube once the first stopped (it forgets
stopped qubes).  TAP output; needs root
(namespace qubes)."""

import os
import pwd
import re
import stat
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
import bh  # noqa: E402
from guitest import (AGENT, GUID, PROBE, RED, GREEN, A_RGB, B_RGB,  # noqa
                     Image, content_exact, diag, finish, frame_bad,
                     free_port, ok, snap_vnc, start, stop_all, wait_for)

# how long a question is shown before its Allow takes effect (--prompt-delay)
PROMPT_DELAY = 4000


def main():
    if os.geteuid() != 0:
        print("1..0 # SKIP namespace qubes need root")
        return 0
    for p in (GUID, AGENT, PROBE):
        if not os.access(p, os.X_OK):
            print("1..0 # SKIP not built: %s" % p)
            return 0
    D = bh.Bulkheadd(backend="sandbox")
    try:
        return run(D)
    finally:
        stop_all(timeout=10)
        D.close()


def run(D):
    # a service every qube offers (seen by qubes started after this)
    rpc = os.path.join(D.conf, "qubes-rpc")
    os.makedirs(rpc, exist_ok=True)
    for svc in ("demo.Ask", "demo.Ask2"):
        with open(os.path.join(rpc, svc), "w") as f:
            f.write("#!/bin/sh\necho answered-in-$(hostname)\n")
        os.chmod(os.path.join(rpc, svc), 0o755)
    D.start()
    with open(os.path.join(D.conf, "policy.d", "50-clip.policy"), "w") as f:
        f.write("qubes.ClipboardPaste * @anyvm @anyvm deny\n"
                "demo.Ask * gw @anyvm ask default_target=gp\n"
                "demo.Ask2 * gw @default ask\n"
                "demo.Ask2 * gw gp ask\n"
                "demo.Ask2 * gw gx ask\n")
    D.create("AppVM", "gw", "red")
    D.create("AppVM", "gp", "green")
    D.create("AppVM", "gx", "blue")
    # a second GUI domain, for another person: qubes whose guivm is it
    D.create("AppVM", "gui-bob", "black")
    D.create("AppVM", "gb", "orange")
    D.call("admin.vm.property.Set", "gb", "guivm", payload="gui-bob")
    # a qube with a GUI that no GUI domain shows (its agent listens on)
    D.create("AppVM", "gui-none", "black")
    D.create("AppVM", "gy", "yellow")
    D.call("admin.vm.property.Set", "gy", "guivm", payload="gui-none")
    for q in ("gw", "gp", "gb", "gy"):
        D.call("admin.vm.feature.Set", q, "gui", payload="1")
    for q in ("gw", "gp", "gx", "gb", "gy"):
        D.call("admin.vm.Start", q)
    states = D.qubes()
    ok(all(states[q]["state"] == "Running"
           for q in ("gw", "gp", "gx", "gb", "gy")) and
       states["gui-bob"]["state"] == "Halted",
       "five namespace qubes run (four with feature gui); the GUI "
       "domains' own qubes are only names")

    port = free_port()
    glog_path = os.path.join(D.root, "guid.log")
    glog = open(glog_path, "w")
    r = subprocess.run([GUID, "--ask=" + os.path.join(D.root, "x.sock"),
                        "--policy-user", "no-such-user-bh"],
                       capture_output=True, timeout=30)
    ok(r.returncode == 2 and b"no such user" in r.stderr,
       "--policy-user naming no user: exit 2 (%d)" % r.returncode)
    guid = start(
        [GUID, "--admin-socket", D.sock, "--run-dir", D.run, "--ask",
         "--policy-user", "nobody", "--prompt-delay", str(PROMPT_DELAY),
         "--vnc=%d" % port, "--screen", "1024x768", "--policy-dir",
         os.path.join(D.conf, "policy.d"), "-d"], glog)

    def glog_text():
        with open(glog_path) as f:
            return f.read()

    ok(wait_for(lambda: "qube gw: GUI connected" in glog_text() and
                "qube gp: GUI connected" in glog_text(), 20),
       "bulkhead-guid finds both qubes through bulkheadd and connects")
    st = os.stat(os.path.join(D.run, "policy-agent.sock"))
    ok((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) ==
       (0, pwd.getpwnam("nobody").pw_gid, 0o660),
       "the ask socket: root's, 0660, the policy user's group (--policy-user "
       "nobody)")
    port_b = free_port()
    blog_path = os.path.join(D.root, "guid-bob.log")
    start([GUID, "--name", "gui-bob", "--admin-socket", D.sock, "--run-dir",
           D.run, "--vnc=%d" % port_b, "--screen", "800x600",
           "--policy-dir", os.path.join(D.conf, "policy.d"), "-d"],
          open(blog_path, "w"))

    def blog_text():
        with open(blog_path) as f:
            return f.read()
    ok(wait_for(lambda: "qube gb: GUI connected" in blog_text(), 20),
       "a second GUI domain (--name gui-bob) shows the qube whose guivm "
       "is gui-bob")
    time.sleep(1.5)
    ok("qube gb:" not in glog_text() and "qube gw:" not in blog_text() and
       "qube gp:" not in blog_text(),
       "... and each GUI domain only its own qubes")

    # the link trick: gx names gy's socket as its own (gy's agent listens:
    # no GUI domain of gy's runs; a connected agent's name is gone)
    xid_gy = D.prop("gy", "xid")[0]
    target = os.path.join(D.run, "vchan", xid_gy,
                          "vchan.%s.0.6000.sock" % xid_gy)
    ok(wait_for(lambda: os.path.exists(target), 10),
       "gy's agent listens, no GUI domain connected")
    rc, out, err = D.qrexec_client(
        "gx", "root:ln -s %s /run/qubes-vchan/vchan.%s.0.6000.sock" %
        (target, D.prop("gx", "xid")[0]))
    ok(rc == 0, "gx links its GUI socket name to gy's socket")
    ok(wait_for(lambda: "qube gx: the process behind its GUI socket is "
                "not in that qube: refused" in glog_text(), 10),
       "the connector refuses it: the peer is not gx's")

    # applications, started as qvm-run would
    clients = {}
    for q, rgb, title in (("gw", A_RGB, "Doc"), ("gp", B_RGB, "Mail")):
        env = dict(os.environ, VCHAN_DOMAIN="0",
                   VCHAN_SOCKET_DIR=os.path.join(D.run, "vchan"),
                   BULKHEAD_VCHAN_LAYOUT="per-qube")
        out = open(os.path.join(D.root, q + ".client"), "w")
        start([os.path.join(bh.BIN, "qrexec-client"),
               "--socket-dir=" + os.path.join(D.run, "qrexec"), "-d", q,
               "user:bulkhead-gui-testclient --title %s --color 0x%06x" %
               (title, rgb)], out, env)
        clients[q] = os.path.join(D.root, q + ".client")

    def cat(path):
        with open(path) as f:
            return f.read()

    ok(wait_for(lambda: "ready" in cat(clients["gw"]) and
                "ready" in cat(clients["gp"]), 20),
       "a Wayland client started in each qube with qrexec draws")

    def shot():
        img = snap_vnc(port, os.path.join(D.root, "vnc.ppm"), check=False)
        if img is None:
            return None
        a, b = img.find(A_RGB), img.find(B_RGB)
        if a and b and a[2] - a[0] == 200 and b[2] - b[0] == 200:
            return img, a, b
        return None
    got = wait_for(shot, 20, 0.5)
    if not ok(got, "both qubes' windows are shown over VNC"):
        diag(glog_text()[-3000:])
        return finish()
    img, a, b = got
    ok(content_exact(img, a, A_RGB) and content_exact(img, b, B_RGB),
       "their content is their clients' pixels")
    bad = frame_bad(img, a, RED, 18)
    ok(not bad, "gw (label red) is framed in exactly 0xcc0000 (%d off)" %
       len(bad))
    bad = frame_bad(img, b, GREEN, 18)
    ok(not bad, "gp (label green) is framed in exactly 0x73d216 (%d off)" %
       len(bad))
    blue = img.find(0x3465a4)
    ok(blue is None, "nothing is shown for gx")

    ax, ay = (a[0] + a[2]) // 2, (a[1] + a[3]) // 2
    subprocess.run([PROBE, "127.0.0.1:%d" % port, "click:%d,%d" % (ax, ay),
                    "press:61", "release:61"], timeout=60)
    ok(wait_for(lambda: "key 30 press" in cat(clients["gw"]), 10),
       "a key with gw's window focused reaches gw's client")
    ok("key 30" not in cat(clients["gp"]), "... and not gp's")

    # qrexec "ask": the question in a window the GUI domain draws itself
    def ask_call(svc="demo.Ask", target="gp"):
        env = dict(os.environ, VCHAN_DOMAIN="0",
                   VCHAN_SOCKET_DIR=os.path.join(D.run, "vchan"),
                   BULKHEAD_VCHAN_LAYOUT="per-qube")
        return subprocess.Popen(
            [os.path.join(bh.BIN, "qrexec-client"),
             "--socket-dir=" + os.path.join(D.run, "qrexec"), "-d", "gw",
             "user:qrexec-client-vm %s %s </dev/null >/tmp/qo; "
             "r=$?; cat /tmp/qo; echo rc=$r" % (target, svc)], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def keys(*k):
        subprocess.run([PROBE, "127.0.0.1:%d" % port] + list(k), timeout=60)

    def answered(call, timeout=30):
        try:
            out, _ = call.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            call.kill()
            out, _ = call.communicate()
        return out

    def prompt_shown():
        im = snap_vnc(port, os.path.join(D.root, "vnc-ask.ppm"), check=False)
        if im is None:
            return None
        box = im.find(0xeeeeec)
        return (im, box) if box else None
    call = ask_call()
    got = wait_for(prompt_shown, 20, 0.5)
    shown_at = time.monotonic()
    # A Return typed as the question appears (the qube sees the user's
    # keys and can time its call) is no answer, nor its repeats while
    # held: only a new press once the question has been up PROMPT_DELAY.
    keys("press:ff0d")
    time.sleep(1)
    early = call.poll() is None
    time.sleep(max(0, shown_at + PROMPT_DELAY / 1000 + 0.5 -
                   time.monotonic()))
    keys("press:ff0d")
    time.sleep(1)
    ok(early and call.poll() is None,
       "a Return pressed as the prompt appeared, and its repeat once "
       "Allow is armed, do not answer")
    if ok(got, "an ask from gw shows a prompt window in the GUI domain"):
        im, box = got
        bad = frame_bad(im, box, 0x000000, 18)
        ok(not bad, "... framed in dom0's black by the GUI domain "
           "(%d off)" % len(bad))
        text = sum(1 for y in range(box[1], box[1] + 40)
                   for x in range(box[0], box[2]) if im.at(x, y) == 0)
        ok(text > 50, "... with the question written in it")
    keys("release:ff0d", "press:ff0d", "release:ff0d")
    out = answered(call)
    ok("answered-in-gp" in out and "rc=0" in out,
       "Return, let go and pressed again, allows it: the call runs in gp "
       "(the default target)")
    # without a default target, Return chooses nothing: the user does
    call = ask_call("demo.Ask2", "@default")
    ok(wait_for(prompt_shown, 20, 0.5), "an ask with no default target")
    time.sleep(PROMPT_DELAY / 1000 + 0.5)
    keys("press:ff0d", "release:ff0d")
    time.sleep(1)
    ok(call.poll() is None, "... Return alone does not answer it")
    keys("press:ff54", "release:ff54", "press:ff0d", "release:ff0d")
    out = answered(call)
    ok(re.search(r"answered-in-g[px]", out) and "rc=0" in out,
       "... Down chooses a target, then Return allows it (%s)" %
       out.strip().replace("\n", " "))
    call = ask_call()
    ok(wait_for(prompt_shown, 20, 0.5), "a third ask shows the prompt again")
    subprocess.run([PROBE, "127.0.0.1:%d" % port, "press:ff1b",
                    "release:ff1b"], timeout=60)
    try:
        out, _ = call.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        call.kill()
        out, _ = call.communicate()
    ok("answered" not in out and "rc=0" not in out,
       "Escape denies it: the call is refused")
    ok(wait_for(lambda: prompt_shown() is None, 10, 0.5),
       "the prompt is gone after the answer")
    subprocess.run([PROBE, "127.0.0.1:%d" % port, "press:62",
                    "release:62"], timeout=60)
    ok(wait_for(lambda: "key 48 press" in cat(clients["gw"]), 10),
       "the focus went back to gw's window")

    # a qube that stops takes its windows along; started again, it is back
    D.call("admin.vm.Kill", "gp")
    ok(wait_for(lambda: "qube gp: GUI connection closed" in glog_text(),
                10), "gp killed: its GUI connection ends")

    def gone():
        path = os.path.join(D.root, "vnc2.ppm")
        subprocess.run([PROBE, "127.0.0.1:%d" % port, "snap:" + path],
                       capture_output=True, timeout=60)
        im = Image(path)
        return im.find(B_RGB) is None and im.find(A_RGB) is not None
    ok(wait_for(gone, 10, 0.5), "its window is gone, gw's stays")
    n_conn = glog_text().count("qube gp: GUI connected")
    D.call("admin.vm.Start", "gp")
    ok(wait_for(lambda: glog_text().count("qube gp: GUI connected") >
                n_conn, 20), "gp started again: connected again")
    ok(guid.poll() is None, "bulkhead-guid ran through all of it")

    # a GUI domain forgets the qubes that stopped: its places serve the
    # next ones (disposables come under new names all the time; it used
    # to keep every name it had seen and, at 256, connect no more)
    D.create("AppVM", "gui-carol", "black")
    for q in ("gc1", "gc2"):
        D.create("AppVM", q, "purple")
        D.call("admin.vm.property.Set", q, "guivm", payload="gui-carol")
        D.call("admin.vm.feature.Set", q, "gui", payload="1")
    clog_path = os.path.join(D.root, "guid-carol.log")
    start([GUID, "--name", "gui-carol", "--max-qubes", "1",
           "--admin-socket", D.sock, "--run-dir", D.run,
           "--vnc=%d" % free_port(), "--screen", "640x480",
           "--policy-dir", os.path.join(D.conf, "policy.d"), "-d"],
          open(clog_path, "w"))

    def clog_text():
        with open(clog_path) as f:
            return f.read()
    D.call("admin.vm.Start", "gc1")
    ok(wait_for(lambda: "qube gc1: GUI connected" in clog_text(), 20),
       "gui-carol (--max-qubes 1) shows gc1")
    D.call("admin.vm.Start", "gc2")
    ok(wait_for(lambda: "qube gc2 waits until one stops" in clog_text(),
                10) and "qube gc2: GUI connected" not in clog_text(),
       "... and not gc2 while gc1 runs: its log says why")
    D.call("admin.vm.Kill", "gc1")
    ok(wait_for(lambda: "qube gc2: GUI connected" in clog_text(), 20),
       "gc1 stopped: its place goes to gc2")
    for q in ("gc1", "gc2"):
        D.call("admin.vm.Kill", q) if D.qubes()[q]["state"] != "Halted" \
            else None
    return finish()



if __name__ == "__main__":
    sys.exit(main())
