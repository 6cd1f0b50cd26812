#!/usr/bin/env python3
"""bulkhead-guid in a browser (issue #8): two qubes (agents and Wayland test
clients) with different labels, the GUI domain's VNC output serving the
noVNC viewer (--http-dir) and the RFB stream over WebSocket on its VNC
port; Debian's headless Chromium, driven by playwright-core
(tests/gui/browser/), opens the page and sees both windows framed in
their own colours (pixels of the page's canvas, and a screenshot), then
types into the window it clicked, which only that qube's client gets.
TAP output; skips visibly without chromium or the npm packages."""

import os
import sys
import tempfile
import shutil
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "browser"))
import bhbrowser  # noqa: E402
import guitest as tg  # noqa: E402
from guitest import finish, ok  # noqa: E402


def main():
    for p in (tg.AGENT, tg.CLIENT, tg.GUID, tg.PROBE):
        if not os.access(p, os.X_OK):
            print("1..0 # SKIP not built: %s" % p)
            return 0
    modules, why = bhbrowser.setup()
    if modules is None:
        print("1..0 # SKIP %s" % why)
        return 0
    tmp = tempfile.mkdtemp(prefix="bh-guid-browser-")
    os.chmod(tmp, 0o755)
    try:
        return run(tmp, modules)
    finally:
        tg.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp, modules):
    http = os.path.join(tmp, "http")
    os.mkdir(http)
    bhbrowser.prepare_http_dir(modules, http)
    work = tg.Qube(tmp, "work", tg.A_RGB, "Doc")
    personal = tg.Qube(tmp, "personal", tg.B_RGB, "Mail")
    port, hport = tg.free_port(), tg.free_port()
    glog = open(os.path.join(tmp, "guid.log"), "w")
    tg.start([tg.GUID, "--static", "work:0x%06x:%s" % (tg.RED, work.sock),
              "--static", "personal:0x%06x:%s" % (tg.GREEN, personal.sock),
              "--vnc=%d" % port, "--http-dir", http, "--http-port",
              str(hport), "--screen", "1024x768",
              "--policy-dir", os.path.join(tmp, "none"), "-d"], glog)

    # where the windows are, from a plain VNC viewer first
    def boxes():
        img = tg.snap_vnc(port, os.path.join(tmp, "vnc.ppm"))
        if img is None:
            return None
        a, b = img.find(tg.A_RGB), img.find(tg.B_RGB)
        if a and b and a[2] - a[0] == 200 and b[2] - b[0] == 200:
            return a, b
        return None
    got = tg.wait_for(boxes, 20, 0.3)
    if not ok(got, "both windows are up (a VNC viewer sees them)"):
        return finish()
    a, b = got
    B = tg.BORDER
    steps = []
    for box, label, rgb in ((a, tg.RED, tg.A_RGB), (b, tg.GREEN, tg.B_RGB)):
        x0, y0, x1, y1 = box
        steps += [
            # content, and the frame on all four sides, in the label
            "--expect-rgb", "%d,%d,%06x" % ((x0 + x1) // 2, (y0 + y1) // 2,
                                            rgb),
            "--expect-rgb", "%d,%d,%06x" % (x0 - 1, (y0 + y1) // 2, label),
            "--expect-rgb", "%d,%d,%06x" % (x1, (y0 + y1) // 2, label),
            "--expect-rgb", "%d,%d,%06x" % ((x0 + x1) // 2, y1, label),
            "--expect-region", "%d,%d,%d,%d,%06x" % (x0 - B, y1, x1 - x0 +
                                                      2 * B, B, label),
            # the title bar: the label and its text (black or white)
            "--expect-region", "%d,%d,%d,%d,%06x+%06x" % (
                x0, y0 - B - tg.TITLEBAR + B, x1 - x0, tg.TITLEBAR - B,
                label, 0xffffff if label == tg.RED else 0x000000),
        ]
    shot = os.environ.get("BULKHEAD_SCREENSHOT") or os.path.join(
        tmp, "page.png")
    steps += ["--screenshot", shot,
              "--click", "%d,%d" % ((a[0] + a[2]) // 2, (a[1] + a[3]) // 2),
              "--type", "a", "--wait", "300"]
    rc, out, err = bhbrowser.drive(
        modules, bhbrowser.page_url(hport, port), steps, timeout_ms=15000)
    for s in out:
        where = ",".join(str(s[k]) for k in ("x", "y", "w", "h") if k in s)
        ok(s.get("ok"), "browser: %s %s%s" % (
            s.get("step"), where,
            "" if s.get("ok") else " (got %s)" % s.get("got")))
    ok(rc == 0, "the browser session ran every step (exit %d)" % rc)
    if rc != 0:
        for line in err.splitlines()[-10:]:
            print("# " + line)
    ok(os.path.exists(shot) and os.path.getsize(shot) > 1000,
       "a screenshot of the page was taken")
    ok(tg.wait_for(lambda: "key 30 press" in work.output(), 5),
       "typed in the browser, the key reaches the clicked window's qube")
    time.sleep(0.3)
    ok("key 30" not in personal.output(), "... and not the other qube")
    return finish()



if __name__ == "__main__":
    sys.exit(main())
