#!/usr/bin/env python3
"""bulkhead-guid's X11 output under the X servers people run (issue #8:
"works under Xorg, Xwayland and Xvfb"), headless: Xorg with the dummy
video driver, and Xwayland under weston's headless backend (its own window
manager places the windows).  Xvfb is covered by test_output_x11 and
test_guid.

For each server: two qubes (the real agent and a test client each) with
different labels, bulkhead-guid with only its X11 output; each qube window
is found by its title, "[work] Doc" (xwininfo -root -tree), and read back
with xwd -id: its content is exactly the client's colour, with a border of
exactly the label colour around it; the window carries _QUBES_VMNAME and
_QUBES_LABEL_COLOR (xprop).  A server whose programs are missing is
skipped, with the reason, as a TAP "# SKIP".  TAP output."""

import os
import re
import subprocess
import sys
import tempfile
import time

import guitest
from guitest import (GUID, RED, GREEN, A_RGB, B_RGB, BORDER, Image, Qube,
                     content_exact, diag, finish, frame_bad, ok, start,
                     stop_all, wait_for)

XORG_CONF = """\
Section "ServerFlags"
  Option "AutoAddDevices" "false"
  Option "AutoEnableDevices" "false"
  Option "DontVTSwitch" "true"
EndSection
Section "Device"
  Identifier "dummy"
  Driver "dummy"
  VideoRam 65536
EndSection
Section "Monitor"
  Identifier "monitor"
  HorizSync 5.0-1000.0
  VertRefresh 5.0-200.0
  Modeline "1280x800" 83.50 1280 1352 1480 1680 800 803 809 831
EndSection
Section "Screen"
  Identifier "screen"
  Device "dummy"
  Monitor "monitor"
  DefaultDepth 24
  SubSection "Display"
    Depth 24
    Modes "1280x800"
  EndSubSection
EndSection
"""


def skip(what, why):
    guitest.n_test += 1
    print("ok %d - %s # SKIP %s" % (guitest.n_test, what, why))
    sys.stdout.flush()


def start_xorg(tmp):
    if not os.path.exists("/usr/lib/xorg/modules/drivers/dummy_drv.so"):
        return None, "the dummy video driver is missing " \
            "(xserver-xorg-video-dummy)"
    xorg = "/usr/lib/xorg/Xorg"
    if not os.path.exists(xorg) or os.geteuid() != 0:
        return None, "Xorg (xserver-xorg-core) is missing or not root"
    conf = os.path.join(tmp, "xorg.conf")
    with open(conf, "w") as f:
        f.write(XORG_CONF)
    r, w = os.pipe()
    start([xorg, "-displayfd", str(w), "-config", conf, "-noreset",
           "-nolisten", "tcp", "-novtswitch", "-sharevts",
           "-logfile", os.path.join(tmp, "Xorg.log")],
          open(os.path.join(tmp, "xorg.out"), "w"), pass_fds=[w])
    os.close(w)
    return guitest.read_displayfd(r), None


def start_weston(tmp):
    for prog in ("weston", "Xwayland"):
        if not any(os.access(os.path.join(d, prog), os.X_OK)
                   for d in os.environ.get("PATH", "/usr/bin").split(":")):
            return None, "%s is missing (weston, xwayland)" % prog
    rt = os.path.join(tmp, "weston-rt")
    os.mkdir(rt, 0o700)
    log = os.path.join(tmp, "weston.log")
    start(["weston", "--backend=headless-backend.so", "--xwayland",
           "--socket=wayland-bh", "--width=1280", "--height=800",
           "--idle-time=0", "--log=" + log],
          open(os.path.join(tmp, "weston.out"), "w"),
          env=dict(os.environ, XDG_RUNTIME_DIR=rt))

    def display():
        try:
            with open(log) as f:
                m = re.search(r"xserver listening on display (:\d+)",
                              f.read())
        except OSError:
            return None
        return m.group(1) if m else None
    if not wait_for(lambda: display() is not None, 15):
        return None, "weston did not start Xwayland's listener"
    return display(), None


def find_window(display, title):
    """The id of the X window named title, or None."""
    r = subprocess.run(["xwininfo", "-root", "-tree", "-display", display],
                       capture_output=True, text=True, timeout=30)
    for ln in r.stdout.splitlines():
        m = re.match(r'\s*(0x[0-9a-f]+) "(.*)": ', ln)
        if m and m.group(2) == title:
            return m.group(1)
    return None


def snap_window(display, wid, path):
    xwd = subprocess.run(["xwd", "-id", wid, "-silent", "-display",
                          display], capture_output=True, timeout=30)
    if xwd.returncode != 0:
        return None
    ppm = subprocess.run(["xwdtopnm"], input=xwd.stdout,
                         capture_output=True, timeout=30)
    if ppm.returncode != 0:
        return None
    with open(path, "wb") as f:
        f.write(ppm.stdout)
    return Image(path)


def check_server(tmp, what, display, qubes):
    """bulkhead-guid --x11 on display: each qube's window, framed."""
    glog_path = os.path.join(tmp, "guid-%s.log" % what)
    argv = [GUID, "--x11=" + display, "-d"]
    for q, label in qubes:
        argv += ["--static", "%s:0x%06x:%s" % (q.name, label, q.sock)]
    guid = start(argv, open(glog_path, "w"))
    for q, label in qubes:
        title = "[%s] %s" % (q.name, q.title)
        wid = wait_for(lambda: find_window(display, title), 20, 0.3)
        if not ok(wid, "%s: the window %r is on the X server" %
                  (what, title)):
            with open(glog_path) as f:
                diag(f.read()[-2000:])
            continue

        def framed():
            img = snap_window(display, wid, os.path.join(
                tmp, "%s-%s.ppm" % (what, q.name)))
            if img is None:
                return None
            box = img.find(q.color)
            if box and box[2] - box[0] == 200 and box[3] - box[1] == 150:
                return img, box
            return None
        got = wait_for(framed, 15, 0.3)
        if not ok(got, "%s: %s's content, 200x150 of its colour, shows "
                  "(MIT-SHM from the pool)" % (what, q.name)):
            continue
        img, box = got
        ok(content_exact(img, box, q.color),
           "%s: every content pixel is %s's own" % (what, q.name))
        bad = frame_bad(img, box, label, 0)
        ok(not bad and box[0] >= BORDER and box[1] >= BORDER,
           "%s: a %d-px border of exactly %s's label colour %06x "
           "around it (%d pixels off%s)" %
           (what, BORDER, q.name, label, len(bad),
            ": %r" % bad[:3] if bad else ""))
        props = subprocess.run(["xprop", "-display", display, "-id", wid,
                                "_QUBES_VMNAME", "_QUBES_LABEL_COLOR"],
                               capture_output=True, text=True,
                               timeout=30).stdout
        if not ok('_QUBES_VMNAME(STRING) = "%s"' % q.name in props and
                  "_QUBES_LABEL_COLOR(CARDINAL) = %d" % label in props,
                  "%s: _QUBES_VMNAME and _QUBES_LABEL_COLOR name %s" %
                  (what, q.name)):
            diag(props)
    ok(guid.poll() is None, "%s: bulkhead-guid keeps running" % what)
    guid.terminate()
    guid.wait(timeout=10)


def main():
    for prog in ("xwd", "xwdtopnm", "xwininfo", "xprop"):
        if not any(os.access(os.path.join(d, prog), os.X_OK)
                   for d in os.environ.get("PATH", "/usr/bin").split(":")):
            print("1..0 # SKIP %s missing (scripts/deps.sh --test)" % prog)
            return 0
    with tempfile.TemporaryDirectory(prefix="bh-x11srv-") as tmp:
        os.chmod(tmp, 0o755)
        try:
            work = Qube(tmp, "work", A_RGB, "Doc")
            personal = Qube(tmp, "personal", B_RGB, "Mail")
            work.title, work.color = "Doc", A_RGB
            personal.title, personal.color = "Mail", B_RGB
            qubes = [(work, RED), (personal, GREEN)]
            for what, starter in (("Xorg", start_xorg),
                                  ("Xwayland", start_weston)):
                display, why = starter(os.path.join(tmp))
                if display is None:
                    skip("%s: the X11 output" % what, why)
                    continue
                diag("%s on %s" % (what, display))
                check_server(tmp, what, display, qubes)
                # the agents take the next GUI domain's connection
                time.sleep(0.5)
        finally:
            stop_all()
    return finish()


if __name__ == "__main__":
    sys.exit(main())
