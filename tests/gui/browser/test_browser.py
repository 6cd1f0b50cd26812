#!/usr/bin/env python3
"""The VNC output (issue #8) in a real browser: noVNC in Debian's headless
Chromium, driven by playwright-core (drive.mjs), against vnc_demo_server
(the real output with a fake core: [work] Document and [personal] Mail).
The page and the bundled noVNC are served by the output's own HTTP
server (--http-dir); the RFB stream is WebSockets on the RFB port.
Checks the canvas pixels: label-coloured borders and title bars with
their text, the content checkerboards, the desktop, the stacking; then
a click into the lower window raises it (seen in the browser) and focuses
it, and keys typed reach that window (seen in the demo server's log).
TAP output; `1..0 # SKIP` when Chromium or the npm registry is missing."""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bhbrowser  # noqa: E402

DEMO = os.path.join(bhbrowser.BUILD, "tests", "gui", "vnc_demo_server")

# vnc_demo_server.c's windows (content rectangles), vnc_fake_core.c gives
# gids in creation order; guid.h: GD_BORDER 2, GD_TITLEBAR 18; render.h:
# RENDER_BACKGROUND 0x303030; render.c: title text black on light labels
WORK = dict(gid=1, x=100, y=100, w=400, h=300, label="cc0000",
            text="ffffff", a="336699", b="dddddd")
PERSONAL = dict(gid=2, x=350, y=250, w=360, h=260, label="73d216",
                text="000000", a="ffcc00", b="222222")
BACKGROUND = "303030"
BORDER, TITLEBAR = 2, 18

n_test = 0
failed = 0


def ok(cond, what, todo=None):
    """A TAP line; with todo, a known failure that fails nothing (and a
    pass is an "unexpected pass" to the harness)."""
    global n_test, failed
    n_test += 1
    if not cond and todo is None:
        failed += 1
    print("%sok %d - %s%s" % ("" if cond else "not ", n_test, what,
                              "" if todo is None else " # TODO " + todo),
          flush=True)
    return cond


def diag(msg):
    for line in str(msg).splitlines():
        print("# " + line, flush=True)


def checker(win, sx, sy):
    """The demo's content colour at screen (sx, sy) of win."""
    lx, ly = sx - win["x"], sy - win["y"]
    return win["a"] if (lx // 16 + ly // 16) & 1 else win["b"]


def frame_checks(win):
    """drive.mjs steps for win's frame and content, all of it visible."""
    x, y, w, h = win["x"], win["y"], win["w"], win["h"]
    top = y - TITLEBAR - BORDER
    c = win["label"]
    return [
        # the four borders, each 2 px wide, corners included
        ("--expect-region", "%d,%d,%d,%d,%s" % (x - 2, top, 2, h + 22, c)),
        ("--expect-region", "%d,%d,%d,%d,%s" % (x + w, top, 2, h + 22, c)),
        ("--expect-region", "%d,%d,%d,%d,%s" % (x - 2, top, w + 4, 2, c)),
        ("--expect-region", "%d,%d,%d,%d,%s" % (x - 2, y + h, w + 4, 2, c)),
        # the title bar: label colour and the title text's colour
        ("--expect-region", "%d,%d,%d,%d,%s+%s" % (x, y - TITLEBAR, w,
                                                   TITLEBAR, c,
                                                   win["text"])),
        # its right end: past the text, label colour alone
        ("--expect-rgb", "%d,%d,%s" % (x + w - 3, y - 9, c)),
        # the content: its first 16x16 cells
        ("--expect-rgb", "%d,%d,%s" % (x, y, win["b"])),
        ("--expect-rgb", "%d,%d,%s" % (x + 16, y, win["a"])),
        ("--expect-rgb", "%d,%d,%s" % (x, y + 16, win["a"])),
        ("--expect-rgb", "%d,%d,%s" % (x + 31, y + 31, win["b"])),
    ]


def flat(pairs):
    return [a for p in pairs for a in p]


def describe(s):
    if s["step"] == "rgb":
        return "pixel %d,%d is %s (got %s)" % (s["x"], s["y"], s["want"],
                                               s.get("got"))
    if s["step"] == "region":
        return "rect %d,%d %dx%d is %s (got %s)" % (
            s["x"], s["y"], s["w"], s["h"], "+".join(s["want"]),
            " ".join(s["got"] or []))
    if s["step"] == "connect":
        return "noVNC connected, %dx%d framebuffer shown (%d ms)" % (
            s.get("width", 0), s.get("height", 0), s.get("ms", 0))
    return "%s %s" % (s["step"], " ".join(
        "%s=%s" % (k, v) for k, v in s.items() if k not in ("step", "ok")))


def report(label, rc, steps, err, expected):
    """One TAP line a step; the steps not run fail too."""
    for s in steps:
        if s["step"] == "log":
            diag("\n".join(s["log"]))
            continue
        ok(s.get("ok", False), "%s: %s" % (label, describe(s)))
    ran = sum(1 for s in steps if s["step"] not in ("connect", "log",
                                                    "error", "launch"))
    for _ in range(expected - ran):
        ok(False, "%s: step not run (drive.mjs exit %d)" % (label, rc))
    if rc != 0 and err.strip():
        diag(err.strip()[-2000:])
    return rc == 0


class Demo:
    """vnc_demo_server with its stdout read by a thread."""

    def __init__(self, http_dir, logdir):
        self.port = bhbrowser.free_port()
        self.http_port = bhbrowser.free_port()
        self.lines = []
        self.cond = threading.Condition()
        self.err = open(os.path.join(logdir, "demo.stderr"), "w")
        # libvncserver's own leak of every WebSocket client (lsan.supp);
        # any other leak still fails the exit status check
        env = dict(os.environ)
        env["LSAN_OPTIONS"] = ":".join(filter(None, [
            env.get("LSAN_OPTIONS"), "suppressions=" + os.path.join(
                os.path.dirname(os.path.abspath(__file__)), "lsan.supp")]))
        self.proc = subprocess.Popen(
            [DEMO, "--port", str(self.port), "--http-dir", http_dir,
             "--ws-port", str(self.http_port), "-d"],
            stdout=subprocess.PIPE, stderr=self.err, env=env)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append(raw.decode(errors="replace").strip())
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)
            self.cond.notify_all()

    def wait_line(self, pred, start=0, timeout=10.0):
        """Index of the first line from start that pred accepts, or -1."""
        end = time.monotonic() + timeout
        i = start
        with self.cond:
            while True:
                while i < len(self.lines):
                    if self.lines[i] is None:
                        return -1
                    if pred(self.lines[i]):
                        return i
                    i += 1
                left = end - time.monotonic()
                if left <= 0:
                    return -1
                self.cond.wait(left)

    def count(self):
        with self.cond:
            return len(self.lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()
        return self.proc.returncode


def main():
    if not os.access(DEMO, os.X_OK):
        print("1..0 # SKIP %s not built" % DEMO)
        return 0
    t0 = time.monotonic()
    modules, why = bhbrowser.setup()
    if modules is None:
        print("1..0 # SKIP %s" % why, flush=True)
        return 0
    diag("npm packages in %s (%.1f s)" % (modules, time.monotonic() - t0))
    tmp = tempfile.mkdtemp(prefix="bh-browser-")
    http_dir = os.path.join(tmp, "http")
    demo = None
    try:
        bhbrowser.prepare_http_dir(modules, http_dir, tree=True)
        demo = Demo(http_dir, tmp)
        ok(demo.wait_line(lambda s: s.startswith("ready "), timeout=20) >= 0,
           "vnc_demo_server ready")
        url = bhbrowser.page_url(demo.http_port, demo.port)
        shot = os.path.join(tmp, "desktop.png")

        # 0. the checks can fail: a wrong colour for a known pixel
        rc, steps, err = bhbrowser.drive(
            modules, url, ["--expect-rgb", "%d,%d,00ff00" % (
                WORK["x"] - 2, WORK["y"] - 20)], timeout_ms=1500)
        got = [s for s in steps if s["step"] == "rgb"]
        ok(rc == 1 and len(got) == 1 and not got[0]["ok"] and
           got[0]["got"] == WORK["label"],
           "a wrong expected colour fails (exit %d, got %s)" % (
               rc, got[0].get("got") if got else None))

        # 1. what the desktop looks like, from the page served by
        # --http-dir and the RFB stream over WebSockets
        checks = frame_checks(PERSONAL) + [
            # [work]: what [personal] leaves of it
            ("--expect-region", "%d,%d,%d,%d,%s" % (
                WORK["x"] - 2, WORK["y"] - 20, 2, WORK["h"] + 22,
                WORK["label"])),
            ("--expect-region", "%d,%d,%d,%d,%s" % (
                WORK["x"] - 2, WORK["y"] - 20, WORK["w"] + 4, 2,
                WORK["label"])),
            ("--expect-region", "%d,%d,%d,%d,%s+%s" % (
                WORK["x"], WORK["y"] - 18, WORK["w"], 18, WORK["label"],
                WORK["text"])),
            ("--expect-rgb", "%d,%d,%s" % (WORK["x"], WORK["y"], WORK["b"])),
            ("--expect-rgb", "%d,%d,%s" % (WORK["x"] + 16, WORK["y"],
                                           WORK["a"])),
            # the whole uncovered part of [work]'s content: its two colours
            ("--expect-region", "%d,%d,%d,%d,%s+%s" % (
                WORK["x"], WORK["y"], 348 - WORK["x"], WORK["h"],
                WORK["a"], WORK["b"])),
            # stacking: [personal] over [work]'s right border and content
            ("--expect-rgb", "500,290,%s" % checker(PERSONAL, 500, 290)),
            ("--expect-rgb", "480,240,%s" % PERSONAL["label"]),
            # the desktop around them
            ("--expect-region", "0,0,1024,78,%s" % BACKGROUND),
            ("--expect-region", "0,514,1024,254,%s" % BACKGROUND),
            ("--expect-region", "714,0,310,768,%s" % BACKGROUND),
            ("--expect-region", "0,0,96,768,%s" % BACKGROUND),
            ("--screenshot", shot),
        ]
        rc, steps, err = bhbrowser.drive(modules, url, flat(checks))
        report("initial desktop", rc, steps, err, len(checks))
        ok(os.path.getsize(shot) > 1000 if os.path.exists(shot) else False,
           "screenshot written")

        # 2. a click into [work]'s content (200,200 is not under
        # [personal]) focuses and raises it; keys then go to it
        start = demo.count()
        cx, cy = 200, 200
        acts = [
            ("--click", "%d,%d" % (cx, cy)),
            # raised: its border now over [personal]'s content
            ("--expect-rgb", "500,290,%s" % WORK["label"]),
            ("--expect-rgb", "480,240,%s" % checker(WORK, 480, 240)),
            ("--expect-region", "%d,%d,2,%d,%s" % (
                WORK["x"] + WORK["w"], WORK["y"] - 20, WORK["h"] + 22,
                WORK["label"])),
            ("--type", "a"),
            ("--key", "Enter"),
            ("--type", "A"),
            ("--wait", "300"),
        ]
        rc, steps, err = bhbrowser.drive(modules, url, flat(acts))
        report("click and keys", rc, steps, err, len(acts))

        g = WORK["gid"]
        lx, ly = cx - WORK["x"], cy - WORK["y"]
        want = [
            "focus gid=%d " % g,
            "button gid=%d x=%d y=%d code=1 press=1 " % (g, lx, ly),
            "button gid=%d x=%d y=%d code=1 press=0 state=0x100" % (g, lx,
                                                                     ly),
            # a: keycode 38; Return: 36; 'A' as noVNC sends it, with or
            # without its own Shift_L (50): 38 with Shift in the state
            "key gid=%d x=0 y=0 code=38 press=1 state=0x0" % g,
            "key gid=%d x=0 y=0 code=38 press=0 state=0x0" % g,
            "key gid=%d x=0 y=0 code=36 press=1 state=0x0" % g,
            "key gid=%d x=0 y=0 code=36 press=0 state=0x0" % g,
            "key gid=%d x=0 y=0 code=38 press=1 state=0x1" % g,
        ]
        pos = start
        for w in want:
            i = demo.wait_line(lambda s, w=w: s.startswith(w), pos)
            ok(i >= 0, "demo server got: %s" % w.strip())
            if i >= 0:
                pos = i + 1
        with demo.cond:
            seen = [s for s in demo.lines[start:] if s is not None]
        other = [s for s in seen if not s.startswith(("motion ",
                                                      "crossing "))
                 and " gid=%d " % g not in s]
        ok(not other, "no input went to another window (%s)" % (
            "; ".join(other[:4]) or "none"))
        if failed:
            diag("demo server printed since the click:\n" +
                 "\n".join(seen[:60]))

        # 3. noVNC unbundled (~30 module files loaded in parallel) from
        # --http-dir: libvncserver's HTTP server serves one connection
        # at a time and closes the one in progress on a new one, so
        # Chromium's parallel loads fail, often but not always (hence no
        # TAP line: reported only; prepare.mjs bundles noVNC instead)
        rc, steps, err = bhbrowser.drive(
            modules, bhbrowser.page_url(demo.http_port, demo.port,
                                        "bh-tree.html"), [],
            timeout_ms=5000)
        conn = [s for s in steps if s["step"] == "connect"]
        diag("unbundled noVNC from --http-dir: %s" % (
            "loaded" if rc == 0 and conn and conn[0]["ok"] else
            "failed to load (libvncserver's httpd: one connection at a "
            "time)"))

        ok(demo.proc.poll() is None, "vnc_demo_server still running")
        rc = demo.stop()
        demo = None
        ok(rc == 0, "vnc_demo_server exits 0 on SIGTERM (%s)" % rc)
    finally:
        if demo is not None:
            demo.stop()
        if failed and os.path.isdir(tmp):
            diag("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    diag("%.1f s" % (time.monotonic() - t0))
    print("1..%d" % n_test, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
