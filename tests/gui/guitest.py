"""Helpers shared by the GUI tests (issue #8): TAP output, waiting, the
processes a test starts, PPM snapshots and the frame checks on them, the
real agent + test client as a "qube", and the fake agent's side of the
GUI protocol (the handshake, messages, a sealed memfd pool).

TAP numbering: every test program is a process of its own, so the
counters here are that program's; it prints the plan with finish().
tests/gui/test_guid_vm.py keeps its own ok() and only borrows the image
checks (through test_guid)."""

import fcntl
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

BUILD = os.environ.get("BULKHEAD_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
AGENT = os.path.join(BUILD, "src", "gui", "agent", "bulkhead-gui-agent")
CLIENT = os.path.join(BUILD, "src", "gui", "agent", "bulkhead-gui-testclient")
GUID = os.path.join(BUILD, "src", "gui", "guid", "bulkhead-guid")
PROBE = os.path.join(BUILD, "tests", "gui", "vnc_probe")

# label colours, and the test clients' content colours
RED, GREEN, PURPLE, ORANGE = 0xcc0000, 0x73d216, 0x75507b, 0xf57900
A_RGB, B_RGB = 0x336699, 0x996633
# the frame the GUI domain draws around a window (VNC: and a title bar)
BORDER, TITLEBAR = 2, 18

# ---- TAP ----

n_test = 0
failed = 0


def ok(cond, what):
    global n_test, failed
    n_test += 1
    if not cond:
        failed += 1
    print("%sok %d - %s" % ("" if cond else "not ", n_test, what),
          flush=True)
    return cond


def diag(msg):
    for line in str(msg).splitlines():
        print("# " + line, flush=True)


def finish():
    print("1..%d" % n_test, flush=True)
    return 1 if failed else 0


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def free_port():
    """A TCP port free on 127.0.0.1 now (racy, but only for tests)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- processes: each in a session of its own, stopped by stop_all() ----

procs = []


def start(argv, log, env=None, pass_fds=()):
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                         env=env, start_new_session=True, pass_fds=pass_fds)
    procs.append(p)
    return p


def read_displayfd(r):
    """The display (":N") an X server writes on -displayfd r, which is
    closed.  The number and the newline come in two writes: read both
    before closing, or the server's second write fails and it exits."""
    got = b""
    while not got.endswith(b"\n"):
        d = os.read(r, 16)
        if not d:
            break
        got += d
    os.close(r)
    return ":" + got.decode().strip()


def stop_all(timeout=5):
    """SIGTERM to every started process group, then SIGKILL to those
    still running after timeout seconds."""
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


# ---- pictures ----

def read_ppm(path):
    with open(path, "rb") as f:
        data = f.read()
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+(\d+)\s", data)
    return int(m.group(1)), int(m.group(2)), data[m.end():]


class Image:
    def __init__(self, path):
        self.w, self.h, self.px = read_ppm(path)

    def at(self, x, y):
        i = (y * self.w + x) * 3
        p = self.px
        return p[i] << 16 | p[i + 1] << 8 | p[i + 2]

    def find(self, rgb):
        """Bounding box (x0, y0, x1, y1), exclusive, of pixels == rgb."""
        needle = bytes([rgb >> 16, (rgb >> 8) & 255, rgb & 255])
        xs, ys = [], []
        p = self.px
        i = p.find(needle)
        while i >= 0:
            if i % 3 == 0:
                ys.append(i // 3 // self.w)
                xs.append(i // 3 % self.w)
            i = p.find(needle, i + 1)
        if not xs:
            return None
        return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def frame_bad(img, box, rgb, titlebar):
    """Pixels of the frame around content box that are not rgb (the title
    bar's text may be black or white); returns a list of them."""
    x0, y0, x1, y1 = box
    bad = []
    top = y0 - BORDER - titlebar
    for y in range(top, y1 + BORDER):
        for x in range(x0 - BORDER, x1 + BORDER):
            if x0 <= x < x1 and y0 <= y < y1:
                continue
            if not (0 <= x < img.w and 0 <= y < img.h):
                continue
            c = img.at(x, y)
            in_text = titlebar and top + BORDER <= y < y0 - BORDER and \
                x0 <= x < x1
            if c == rgb or (in_text and c in (0, 0xffffff)):
                continue
            bad.append((x, y, "%06x" % c))
    return bad


def content_exact(img, box, rgb):
    x0, y0, x1, y1 = box
    for y in range(y0, y1):
        for x in range(x0, x1):
            if img.at(x, y) != rgb:
                return False
    return True


def probe(port, *actions, check=True):
    """vnc_probe against 127.0.0.1:port; its exit status (with check, a
    failure is shown as a diagnostic)."""
    r = subprocess.run([PROBE, "127.0.0.1:%d" % port] + list(actions),
                       capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        diag("vnc_probe %s: %d %s" % (" ".join(actions), r.returncode,
                                       r.stderr))
    return r.returncode


def snap_vnc(port, path, check=True):
    if probe(port, "snap:" + path, check=check) != 0:
        return None
    return Image(path)


# ---- a qube: the real agent and a test client ----

class Qube:
    """An agent and a test client in a runtime directory of their own."""

    def __init__(self, tmp, name, color, title, copy=None):
        self.name = name
        self.dir = os.path.join(tmp, name)
        os.mkdir(self.dir, 0o700)
        self.sock = os.path.join(self.dir, "gui.sock")
        self.alog = open(os.path.join(self.dir, "agent.log"), "w")
        self.agent = start([AGENT, "--gui-socket", self.sock, "-d",
                            "--pool-mib", "16"], self.alog,
                           dict(os.environ, XDG_RUNTIME_DIR=self.dir))
        wait_for(lambda: os.path.exists(os.path.join(self.dir, "wayland-0")))
        self.out = os.path.join(self.dir, "client.out")
        args = [CLIENT, "--title", title, "--color", "0x%06x" % color,
                "--size", "200x150"]
        if copy:
            args += ["--copy", copy]
        self.clog = open(self.out, "w")
        self.client = start(args, self.clog, dict(
            os.environ, XDG_RUNTIME_DIR=self.dir,
            WAYLAND_DISPLAY="wayland-0"))
        # the root GUI domain drops to nobody; the connector (root)
        # connects, so the directory can stay private
        ok(wait_for(lambda: "ready" in self.output()),
           "%s: test client is up" % name)

    def output(self):
        try:
            with open(self.out) as f:
                return f.read()
        except OSError:
            return ""


# ---- the fake agent's side of the protocol ----

VERSION = 0x42480001
PAGE = 4096
# message types
KEYPRESS, CREATE, DESTROY, MAP, CONFIGURE = 124, 130, 131, 132, 134
SHMIMAGE, CLIP_DATA, WMNAME, DUMP, CURSOR = 136, 140, 141, 147, 148
ERROR, POOL = 151, 152
XRGB = 0x34325258
F_ADD_SEALS = 1033
SEAL_SHRINK, SEAL_GROW, SEAL_FUTURE_WRITE = 2, 4, 16
# what a qube's own pool needs (gui_pool_check_qube): these seals and
# every page allocated
QUBE_SEALS = SEAL_SHRINK | SEAL_GROW | SEAL_FUTURE_WRITE


def hdr(t, win, n):
    return struct.pack("<III", t, win, n)


def msg(t, win, body=b""):
    return hdr(t, win, len(body)) + body


def create(win, w=100, h=80, x=50, y=50, parent=0, o_r=0):
    return msg(CREATE, win, struct.pack("<iiIIII", x, y, w, h, parent, o_r))


def dump(win, w, h, offset=0, stride=None, dtype=1, fmt=XRGB):
    if stride is None:
        stride = w * 4
    return msg(DUMP, win, struct.pack("<IIIIIIII", dtype, w, h, 32, 0,
                                      offset, stride, fmt))


def wmname(win, title):
    return msg(WMNAME, win, title + b"\0" * (128 - len(title)))


def sealed_memfd(pages, seals=QUBE_SEALS, fill=None, name="hostile",
                 allocate=True):
    """A pool: pages allocated (unless allocate=False), fill written at
    the start, then seals (the default: what a qube's POOL needs; the
    admin side's pools need only SHRINK | GROW)."""
    fd = os.memfd_create(name, os.MFD_ALLOW_SEALING)
    os.ftruncate(fd, pages * PAGE)
    if allocate:
        os.posix_fallocate(fd, 0, pages * PAGE)
    if fill is not None:
        os.pwrite(fd, fill, 0)
    if seals:
        fcntl.fcntl(fd, F_ADD_SEALS, seals)
    return fd


class Closed(Exception):
    pass


class Conn:
    """One accepted connection from the GUI domain."""

    def __init__(self, sock):
        self.s = sock
        self.s.settimeout(10)

    def send(self, data):
        self.s.sendall(data)

    def send_fd(self, data, fd):
        socket.send_fds(self.s, [data], [fd])

    def recv_exact(self, n):
        b = b""
        while len(b) < n:
            try:
                d = self.s.recv(n - len(b))
            except ConnectionResetError:
                d = b""
            if not d:
                raise Closed("closed after %d of %d bytes" % (len(b), n))
            b += d
        return b

    def handshake(self, version=VERSION):
        self.send(struct.pack("<I", version))
        ver, = struct.unpack("<I", self.recv_exact(4))
        if ver != VERSION:
            raise Closed("version answer 0x%08x" % ver)
        self.xconf = struct.unpack("<IIII", self.recv_exact(16))

    def frame(self):
        t, win, n = struct.unpack("<III", self.recv_exact(12))
        return t, win, self.recv_exact(n) if n else b""

    def until(self, want, timeout=5):
        """Frames until one of type want; returns it or None at close."""
        self.s.settimeout(timeout)
        try:
            while True:
                f = self.frame()
                if f[0] == want:
                    return f
        except (Closed, socket.timeout, OSError):
            return None

    def closed(self, timeout=5):
        """True if the GUI domain closes the connection (EOF or reset)."""
        self.s.settimeout(timeout)
        end = time.monotonic() + timeout
        try:
            while time.monotonic() < end:
                if not self.s.recv(65536):
                    return True
        except ConnectionResetError:
            return True
        except (socket.timeout, OSError):
            return False
        return False

    def close(self):
        self.s.close()


class FakeAgent:
    """A fake agent's listening socket, tmp/name/gui.sock, for a static
    qube of the GUI domain; accept() returns the connection."""

    def __init__(self, tmp, name, dir_mode=0o700, sock_mode=None):
        self.dir = os.path.join(tmp, name)
        os.mkdir(self.dir, dir_mode)
        self.path = os.path.join(self.dir, "gui.sock")
        self.ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ls.bind(self.path)
        if sock_mode is not None:
            os.chmod(self.path, sock_mode)
        self.ls.listen(1)

    def accept(self, timeout=15):
        self.ls.settimeout(timeout)
        s, _ = self.ls.accept()
        return Conn(s)


def accept_with_pool(agent, timeout=15, pages=16):
    """The GUI domain's connection to a fake agent, past the handshake,
    with a sealed pool of pages sent (POOL)."""
    c = agent.accept(timeout)
    c.handshake()
    fd = sealed_memfd(pages)
    c.send_fd(msg(POOL, 0, struct.pack("<II", 0, pages)), fd)
    os.close(fd)
    return c


def run_main(run, prefix, needs=()):
    """A GUI test's main: SKIP without bulkhead-guid (or a program of
    needs); else run(tmp) in a fresh directory (0755: the GUI domain runs
    as nobody), then finish() (TAP), and clean up whatever happens."""
    if not os.access(GUID, os.X_OK):
        print("1..0 # SKIP bulkhead-guid not built: %s" % GUID)
        return 0
    for prog in needs:
        if not shutil.which(prog):
            print("1..0 # SKIP %s missing (scripts/deps.sh --test)" % prog)
            return 0
    tmp = tempfile.mkdtemp(prefix=prefix)
    os.chmod(tmp, 0o755)
    try:
        run(tmp)
        return finish()
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def xvfb_start(tmp, w, h, name="xvfb"):
    """A private X server of w x h, logging to tmp/name.log: (its Popen,
    its display name).  Stopped by stop_all."""
    r, wfd = os.pipe()
    xlog = open(os.path.join(tmp, name + ".log"), "w")
    # -noreset: a server that resets when its last client leaves writes
    # its display number again, and dies if no one reads it
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(wfd), "-screen", "0",
                             "%dx%dx24" % (w, h), "-nolisten", "tcp",
                             "-noreset"],
                            pass_fds=[wfd], stdout=xlog, stderr=xlog,
                            start_new_session=True)
    procs.append(xvfb)
    os.close(wfd)
    return xvfb, read_displayfd(r)
