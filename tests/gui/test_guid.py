#!/usr/bin/env python3
"""bulkhead-guid (issue #8) end to end, headless: two "qubes" (a GUI agent
and a test Wayland client each, in their own runtime directories) with
different labels, the GUI domain with both outputs -- VNC, read back with
vnc_probe, and X11 on a private Xvfb, read back with xwd --; checks
content pixels, a frame of exactly the label colour around every window
on both outputs, titles; keys reach only the focused qube's client; the
secure clipboard (Ctrl-Shift-C in one qube, Ctrl-Shift-V in another)
follows the qubes.ClipboardPaste policy both ways; a hostile agent whose
window imitates another qube's frame and title still gets its own frame,
and whose garbage ends only its own connection.  TAP output.

Runs as root (bulkhead-guid then drops its GUI domain to "nobody"), or as
any user."""

import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

import guitest
# Image, frame_bad and content_exact are imported from here by
# test_guid_vm.py too
from guitest import (AGENT, CLIENT, GUID, PROBE, RED, GREEN, PURPLE,
                     ORANGE, A_RGB, B_RGB, BORDER, TITLEBAR, CREATE, MAP,
                     SHMIMAGE, ERROR, POOL, CLIP_DATA, SEAL_GROW, SEAL_SHRINK, Closed,
                     FakeAgent, Image, Qube,
                     content_exact, create, diag, dump, finish, frame_bad,
                     free_port, msg, ok, probe, sealed_memfd, snap_vnc,
                     start, stop_all, wait_for, wmname)

W, H = 1024, 768


def snap_x11(display, path):
    xwd = subprocess.run(["xwd", "-root", "-silent", "-display", display],
                         capture_output=True, timeout=30)
    if xwd.returncode != 0:
        return None
    ppm = subprocess.run(["xwdtopnm"], input=xwd.stdout,
                         capture_output=True, timeout=30)
    with open(path, "wb") as f:
        f.write(ppm.stdout)
    return Image(path)


# keysyms
CTRL, SHIFT = 0xffe3, 0xffe1


def key(port, sym):
    return probe(port, "press:%x" % sym, "release:%x" % sym)


def chord(port, sym):
    """Ctrl-Shift-sym, as a person presses it."""
    return probe(port, "press:%x" % CTRL, "press:%x" % SHIFT,
                 "press:%x" % sym, "release:%x" % sym,
                 "release:%x" % SHIFT, "release:%x" % CTRL)


class EvilAgent(FakeAgent):
    """A hostile agent: a valid handshake and pool, then a window that
    draws a fake frame of another qube's colour and a title naming it;
    then garbage."""

    def __init__(self, tmp):
        super().__init__(tmp, "evil")
        self.c = None

    def serve(self, timeout=15):
        self.c = self.accept(timeout)
        self.c.handshake()
        pages = 256
        # the pool: the content imitates work's red frame, edge to edge
        w, h = 120, 80
        row = struct.pack("<I", RED) * w
        fd = sealed_memfd(pages, fill=row * h, name="evil")
        self.c.send_fd(msg(POOL, 0, struct.pack("<II", 0, pages)), fd)
        os.close(fd)
        self.c.send(create(1, w, h, 600, 400))
        self.c.send(wmname(1, b"[work] Doc"))
        self.c.send(msg(MAP, 1, struct.pack("<II", 0, 0)))
        self.c.send(dump(1, w, h))
        # damage far larger than the buffer: clipped, never on the frame
        self.c.send(msg(SHMIMAGE, 1, struct.pack("<iiII", 0, 0, 5000, 5000)))

    def garbage(self):
        # a header with a wrong length for its type
        self.c.send(struct.pack("<III", CREATE, 2, 9999))


class VmFakeAgent(FakeAgent):
    """An agent as in a VM qube: its pool is the admin side's (a memfd
    named in a pool file, "PID FD BYTES", as bulkhead-vm writes it), so it
    sends no POOL, only windows into that memory; with pool=True it sends
    a POOL anyway, which the GUI domain must refuse."""

    def __init__(self, tmp, name, content_rgb, send_pool=False):
        super().__init__(tmp, name)
        self.pool_file = os.path.join(self.dir, "gui-pool")
        self.send_pool = send_pool
        self.rgb = content_rgb
        self.pages = 256
        # the admin side's pool: written here later, as a guest would
        self.fd = sealed_memfd(self.pages, seals=SEAL_SHRINK | SEAL_GROW,
                               name=name, allocate=False)
        with open(self.pool_file, "w") as f:
            f.write("%d %d %d\n" % (os.getpid(), self.fd, self.pages * 4096))
        self.c = None

    def serve(self, timeout=15):
        self.c = self.accept(timeout)
        self.c.handshake()
        w, h = 100, 60
        # the guest writes into the shared memory; the host sees it
        os.pwrite(self.fd, struct.pack("<I", self.rgb) * (w * h), 4096)
        if self.send_pool:
            self.c.send(msg(POOL, 0, struct.pack("<II", 0, self.pages)))
            return
        self.c.send(create(1, w, h, 700, 60))
        self.c.send(msg(MAP, 1, struct.pack("<II", 0, 0)))
        self.c.send(dump(1, w, h, offset=4096))
        self.c.send(msg(SHMIMAGE, 1, struct.pack("<iiII", 0, 0, w, h)))

    def error_reason(self):
        """The ERROR frame the GUI domain sent, if any."""
        f = self.c.until(ERROR, 10)
        if f is None:
            return None
        return f[2][4:].split(b"\0")[0].decode()


def main():
    for p, what in ((AGENT, "agent"), (CLIENT, "test client"),
                    (GUID, "bulkhead-guid"), (PROBE, "vnc_probe")):
        if not os.access(p, os.X_OK):
            print("1..0 # SKIP %s not built: %s" % (what, p))
            return 0
    if not shutil.which("Xvfb") or not shutil.which("xwd"):
        print("1..0 # SKIP Xvfb or xwd missing (scripts/deps.sh --test)")
        return 0
    tmp = tempfile.mkdtemp(prefix="bh-guid-")
    os.chmod(tmp, 0o755)
    try:
        return run(tmp)
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def xvfb_start(tmp, name="xvfb"):
    """A private X server of the screen's size: (its Popen, its display
    name)."""
    return guitest.xvfb_start(tmp, W, H, name)


def run(tmp):
    xvfb, display = xvfb_start(tmp)

    policy = os.path.join(tmp, "policy.d")
    os.mkdir(policy)
    with open(os.path.join(policy, "50-clipboard.policy"), "w") as f:
        f.write("qubes.ClipboardPaste * work personal allow\n"
                "qubes.ClipboardPaste * @anyvm @anyvm deny\n")

    work = Qube(tmp, "work", A_RGB, "Doc", copy="hello")
    personal = Qube(tmp, "personal", B_RGB, "Mail", copy="world")
    evil = EvilAgent(tmp)
    vmq = VmFakeAgent(tmp, "vmq", 0x55aa55)
    vmbad = VmFakeAgent(tmp, "vmbad", 0x5555aa, send_pool=True)

    port = free_port()
    glog_path = os.path.join(tmp, "guid.log")
    glog = open(glog_path, "w")
    guid = start([GUID, "--static", "work:0x%06x:%s" % (RED, work.sock),
                  "--static", "personal:0x%06x:%s" % (GREEN, personal.sock),
                  "--static", "evil:0x%06x:%s" % (PURPLE, evil.path),
                  "--static", "vmq:0x%06x:%s:%s" % (ORANGE, vmq.path,
                                                    vmq.pool_file),
                  "--static", "vmbad:0x%06x:%s:%s" % (ORANGE, vmbad.path,
                                                      vmbad.pool_file),
                  "--vnc=%d" % port, "--x11=" + display,
                  "--screen", "%dx%d" % (W, H), "--policy-dir", policy,
                  "-d"], glog)

    def glog_text():
        with open(glog_path) as f:
            return f.read()

    try:
        evil.serve()
        ok(True, "the hostile agent was connected to")
    except (OSError, Closed) as e:
        ok(False, "the hostile agent was connected to: %s" % e)
    for agent, what in ((vmq, "vmq"), (vmbad, "vmbad")):
        try:
            agent.serve()
            ok(True, "a VM-like agent (%s) was connected to" % what)
        except (OSError, Closed) as e:
            ok(False, "a VM-like agent (%s) was connected to: %s" % (what, e))
    if not ok(wait_for(lambda: probe(port, "sleep:1", check=False) == 0,
                       15), "VNC output answers"):
        diag(glog_text()[-2000:])
        with open(os.path.join(tmp, "xvfb.log")) as f:
            diag(f.read()[-2000:])
        return finish()

    # -- the VNC output --
    def vnc_boxes():
        img = snap_vnc(port, os.path.join(tmp, "vnc.ppm"))
        if img is None:
            return None
        a, b = img.find(A_RGB), img.find(B_RGB)
        if a and b and a[2] - a[0] == 200 and b[2] - b[0] == 200:
            return img, a, b
        return None
    got = wait_for(vnc_boxes, 20, 0.3)
    if not ok(got, "VNC: both qubes' windows are shown"):
        diag("\n".join(l for l in glog_text().splitlines()
                       if " vnc: " not in l)[-3000:])
        for q in (work, personal):
            with open(os.path.join(q.dir, "agent.log")) as f:
                diag(q.name + ": " + f.read()[-1500:])
        return finish()
    img, a, b = got
    ok(a[2] - a[0] == 200 and a[3] - a[1] == 150 and content_exact(img, a,
                                                                    A_RGB),
       "VNC: work's content is its client's pixels, 200x150")
    ok(content_exact(img, b, B_RGB) and b[3] - b[1] == 150,
       "VNC: personal's content is its client's pixels")
    bad = frame_bad(img, a, RED, TITLEBAR)
    ok(not bad, "VNC: work's frame and title bar are exactly red (%d off)" %
       len(bad)) or diag(bad[:5])
    bad = frame_bad(img, b, GREEN, TITLEBAR)
    ok(not bad, "VNC: personal's frame and title bar are exactly green "
       "(%d off)" % len(bad)) or diag(bad[:5])
    text = sum(1 for y in range(a[1] - TITLEBAR, a[1] - BORDER)
               for x in range(a[0], a[2]) if img.at(x, y) in (0, 0xffffff))
    ok(text > 20, "VNC: work's title bar has text (%d text pixels)" % text)

    # the hostile window: red pixels of its own, inside a purple frame
    def evil_box():
        im = snap_vnc(port, os.path.join(tmp, "vnc-evil.ppm"))
        if im is None:
            return None
        for y in range(0, im.h, 2):
            if im.at(601, y) == RED:
                break
        else:
            return None
        box = None
        # the content at its place (600,400 asked; the core may move it)
        for yy in range(im.h):
            for xx in range(im.w):
                if im.at(xx, yy) == RED and im.at(xx - 1, yy) == PURPLE \
                        and im.at(xx, yy - 1) == PURPLE:
                    box = (xx, yy, xx + 120, yy + 80)
                    break
            if box:
                break
        return (im, box) if box else None
    got = wait_for(evil_box, 10, 0.3)
    eb = None
    if ok(got, "VNC: the hostile qube's window is shown in its own colour"):
        im, eb = got
        bad = frame_bad(im, eb, PURPLE, TITLEBAR)
        ok(not bad, "VNC: a qube drawing another's colour edge to edge "
           "still gets its own purple frame (%d off)" % len(bad)) or \
            diag(bad[:5])
        outside = [im.at(eb[2] + BORDER, eb[1] + 10),
                   im.at(eb[0] + 10, eb[3] + BORDER)]
        ok(RED not in outside,
           "VNC: damage larger than its buffer stays inside its window")

    # -- a VM-like qube: the pool from the admin side, not over the stream
    def vm_box():
        im = snap_vnc(port, os.path.join(tmp, "vnc-vm.ppm"))
        box = im.find(0x55aa55) if im else None
        return (im, box) if box else None
    got = wait_for(vm_box, 10, 0.3)
    if ok(got, "VM-like qube: its window's pixels come from the pool the "
          "admin side named"):
        im, vb = got
        ok(vb[2] - vb[0] == 100 and vb[3] - vb[1] == 60 and
           content_exact(im, vb, 0x55aa55), "... exactly, 100x60")
        bad = frame_bad(im, vb, ORANGE, TITLEBAR)
        ok(not bad, "... framed in its label's orange (%d off)" % len(bad))
    why = vmbad.error_reason()
    ok(why is not None and "not allowed now" in why,
       "a VM-like qube that sends a POOL of its own is refused (%s)" % why)

    # -- the X11 output --
    def x11_img():
        im = snap_x11(display, os.path.join(tmp, "x11.ppm"))
        if im and im.find(A_RGB) and im.find(B_RGB):
            return im
        return None
    xi = wait_for(x11_img, 15, 0.3)
    if ok(xi, "X11: both qubes' windows are on the X server"):
        xa, xb = xi.find(A_RGB), xi.find(B_RGB)
        ok(content_exact(xi, xa, A_RGB) and content_exact(xi, xb, B_RGB),
           "X11: content pixels are the clients'")
        bad = frame_bad(xi, xa, RED, 0)
        ok(not bad, "X11: work's window has a 2-px frame of exactly red "
           "(%d off)" % len(bad)) or diag(bad[:5])
        bad = frame_bad(xi, xb, GREEN, 0)
        ok(not bad, "X11: personal's window has a 2-px frame of exactly "
           "green (%d off)" % len(bad)) or diag(bad[:5])
        tree = subprocess.run(["xwininfo", "-root", "-tree", "-display",
                               display], capture_output=True, text=True)
        ok('"[work] Doc"' in tree.stdout and
           '"[personal] Mail"' in tree.stdout and
           '"[evil] [work] Doc"' in tree.stdout,
           "X11: titles are [qube] title, the qube's prefix first")

    # -- keys go to the focused qube only --
    ax, ay = (a[0] + a[2]) // 2, (a[1] + a[3]) // 2
    bx, by = (b[0] + b[2]) // 2, (b[1] + b[3]) // 2
    before_b = personal.output().count("key ")
    probe(port, "click:%d,%d" % (ax, ay))
    key(port, ord("a"))
    ok(wait_for(lambda: "key 30 press" in work.output(), 5),
       "a key with work's window focused reaches work's client")
    time.sleep(0.3)
    ok(personal.output().count("key ") == before_b,
       "... and not personal's")
    ok("button 272 press" in work.output(),
       "a click in work's window reaches its client")

    # -- the secure clipboard --
    # evil is asked first and keeps quiet; the user then copies from work
    if eb:
        probe(port, "click:%d,%d" % ((eb[0] + eb[2]) // 2,
                                     (eb[1] + eb[3]) // 2))
        chord(port, ord("C"))
        probe(port, "click:%d,%d" % (ax, ay))
    chord(port, ord("C"))
    ok(wait_for(lambda: "Copied 5 bytes from work" in glog_text(), 5),
       "Ctrl-Shift-C in work copies its clipboard (5 bytes)")
    if eb:
        # evil's answer, now that the user copied elsewhere: not taken
        evil.c.send(msg(CLIP_DATA, 0, b"stale"))
        time.sleep(0.5)
        ok("from evil" not in glog_text(),
           "a qube asked before the last copy answers late: ignored")
    ok("key 46" not in work.output(),
       "the secure-copy key never reaches the qube")

    def x11_notice_shown():
        im = snap_x11(display, os.path.join(tmp, "x11-notice.ppm"))
        if im is None:
            return False
        return sum(1 for y in range(H - 16, H) for x in range(0, 400)
                   if im.at(x, y) == 0xffffff) > 30
    ok(wait_for(x11_notice_shown, 5, 0.3),
       "X11: the copy notice is shown along the bottom of the screen")
    probe(port, "click:%d,%d" % (bx, by))
    chord(port, ord("V"))
    ok(wait_for(lambda: "paste hello" in personal.output(), 5),
       "Ctrl-Shift-V in personal pastes work's text (policy: allow)")
    ok("Pasted 5 bytes from work to personal" in glog_text(),
       "the paste is noticed with source and size")
    chord(port, ord("V"))
    time.sleep(0.5)
    ok("the GUI clipboard is empty" in glog_text() and
       personal.output().count("paste hello") == 1,
       "one copy, one paste: the clipboard is empty after it")
    # personal -> work: the policy denies
    chord(port, ord("C"))
    ok(wait_for(lambda: "from personal" in glog_text(), 5),
       "Ctrl-Shift-C in personal copies its clipboard")
    probe(port, "click:%d,%d" % (ax, ay))
    chord(port, ord("V"))
    ok(wait_for(lambda: "denied by policy" in glog_text(), 5),
       "Ctrl-Shift-V in work from personal is denied by policy")
    time.sleep(0.3)
    ok("paste world" not in work.output(),
       "... and nothing reaches work's client")

    # -- a key held as the focus moves is not stuck in the qube it left --
    # (work has the focus) Shift down in work, click personal, Shift up
    # there, click work: work's client sees no Shift (KEYMAP_NOTIFY)
    probe(port, "press:%x" % SHIFT)
    ok(wait_for(lambda: work.output().rstrip().endswith("modifiers 1 0 0 0"),
                5), "Shift down in work: its client sees Shift")
    probe(port, "click:%d,%d" % (bx, by))
    probe(port, "release:%x" % SHIFT)
    probe(port, "click:%d,%d" % (ax, ay))

    def mods_after_focus():
        t = work.output()
        i = t.rfind("focus in")
        if i < 0:
            return None
        m = [ln for ln in t[i:].splitlines() if ln.startswith("modifiers")]
        return m[0] if m else None
    ok(wait_for(lambda: mods_after_focus() is not None, 5) and
       mods_after_focus() == "modifiers 0 0 0 0",
       "Shift released in personal: back in work, its client has no "
       "Shift (%r)" % mods_after_focus())

    # -- a hostile agent's garbage ends only its own connection --
    try:
        evil.garbage()
    except OSError:
        pass
    ok(wait_for(lambda: "The GUI of qube evil was stopped" in glog_text(),
                5), "garbage from a qube stops that qube's GUI, with why")
    ok(guid.poll() is None, "bulkhead-guid keeps running")
    im = snap_vnc(port, os.path.join(tmp, "vnc-after.ppm"))
    ok(im and im.find(A_RGB) and im.find(B_RGB) and
       PURPLE not in (im.at(x, y) for y in range(0, im.h, 4)
                      for x in range(0, im.w, 4)),
       "its windows are gone, the other qubes' windows stay")
    key(port, ord("b"))
    ok(wait_for(lambda: "key 48 press" in work.output(), 5),
       "the other qubes still get their input")

    # the GUI domain's processes: the core and validators are not root
    if os.geteuid() == 0:
        kids = subprocess.run(["ps", "-o", "user=,args=", "--ppid",
                               str(guid.pid)], capture_output=True,
                              text=True).stdout
        ok("nobody" in kids, "as root, the GUI domain runs as nobody")

    # -- the X server goes away: the X11 output is dropped, VNC goes on --
    os.killpg(xvfb.pid, signal.SIGTERM)
    xvfb.wait()
    ok(wait_for(lambda: "output x11 lost, the others go on" in glog_text(),
                5), "the X server gone: the core drops the X11 output")
    time.sleep(0.3)
    ok(guid.poll() is None, "... and keeps running on VNC")
    im = snap_vnc(port, os.path.join(tmp, "vnc-nox.ppm"))
    ok(im and im.find(A_RGB) and im.find(B_RGB),
       "the VNC output still shows the windows")
    key(port, ord("b"))
    ok(wait_for(lambda: work.output().count("key 48 press") >= 2, 5),
       "and input still reaches the focused qube")

    # -- with X11 its only output, the GUI domain stops, exit 1 --
    xvfb2, display2 = xvfb_start(tmp, "xvfb2")
    lone_path = os.path.join(tmp, "guid-lone.log")
    lone = start([GUID, "--static",
                  "gone:0x%06x:%s" % (RED, os.path.join(tmp, "none.sock")),
                  "--x11=" + display2, "--policy-dir", policy, "-d"],
                 open(lone_path, "w"))

    def lone_text():
        with open(lone_path) as f:
            return f.read()
    up = wait_for(lambda: "GUI domain up" in lone_text(), 10)
    ok(up, "a GUI domain with only an X11 output starts")
    os.killpg(xvfb2.pid, signal.SIGTERM)
    xvfb2.wait()
    try:
        rc = lone.wait(timeout=10)
    except subprocess.TimeoutExpired:
        rc = None
    ok(rc == 1 and "no output left: the GUI domain stops" in lone_text(),
       "its X server gone, it stops with exit status 1 and says why "
       "(status %r)" % rc)
    return finish()



if __name__ == "__main__":
    sys.exit(main())
