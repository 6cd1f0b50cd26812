#!/usr/bin/env python3
"""qubes.Filecopy against a hostile peer.

A malicious sender: raw streams built here, byte by byte, fed to the real
qfile-unpacker (as root, told to unpack as uid 65534 into a directory that
user owns), checking for each the exit status, the error code in the reply
on stdout, that nothing outside the directory changed (a canary directory
beside it, and the whole temporary root around it), and that no partial
file is left under its final name or a temporary one.

A malicious receiver: a Python process that reads qfile-agent's stream and
answers with a bad checksum, a huge name length, a name full of terminal
escapes, or nothing at all.

And a valid tree round-trips from qfile-agent to qfile-unpacker through a
pair of fifos, as in shared/reference/filecopy.md section 1.

Prints TAP.  The unpacker checks need root (it switches to uid 65534);
without it they are reported as skipped.  Every test has a deadline
(signal.alarm) on top of each subprocess' own timeout.
"""

import errno
import os
import re
import pwd
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import traceback
import zlib

BUILD = os.environ.get("BULKHEAD_BUILD_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
AGENT = os.path.join(BUILD, "src", "filecopy", "qfile-agent")
UNPACKER = os.path.join(BUILD, "src", "filecopy", "qfile-unpacker")
NOBODY = 65534
LEGAL_EOF = 31415926
TEST_DEADLINE = 120  # seconds, a whole test: a hang guard only
RUN_TIMEOUT = 60     # seconds, one subprocess

# the unpacker confines itself with seccomp; LeakSanitizer (ptrace) cannot
# run there.  The agent keeps whatever the caller asked for.
UNPACKER_ENV = dict(os.environ)
UNPACKER_ENV["ASAN_OPTIONS"] = (
    UNPACKER_ENV.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
AGENT_ENV = dict(os.environ)

S_FILE = stat.S_IFREG
S_DIR = stat.S_IFDIR
S_LNK = stat.S_IFLNK

MTIME = 1600000000
MTIME_NS = 123456789


class Skip(Exception):
    pass


# ---- the stream, built by hand ----

def entry(name, mode, data=b"", filelen=None, namelen=None, mtime=MTIME,
          nsec=MTIME_NS, atime_nsec=0, nul=True):
    """One entry: header, name (with its NUL unless nul is False), data."""
    if isinstance(name, str):
        name = name.encode()
    if isinstance(data, str):
        data = data.encode()
    n = name + (b"\0" if nul else b"")
    return struct.pack(
        "<IIQIIII", len(n) if namelen is None else namelen, mode,
        len(data) if filelen is None else filelen,
        mtime, atime_nsec, mtime, nsec) + n + data


def f(name, data=b"", mode=0o644, **kw):
    return entry(name, S_FILE | mode, data, **kw)


def d(name, mode=0o755, **kw):
    return entry(name, S_DIR | mode, **kw)


def ln(name, target, **kw):
    return entry(name, S_LNK | 0o777, target, **kw)


END = bytes(32)


def stream_end(stream):
    """The offset just past a stream's end marker (the first one)."""
    off = 0
    while True:
        namelen, mode, filelen = struct.unpack("<IIQ", stream[off:off + 16])
        off += 32
        if namelen == 0:
            return off
        off += namelen + (0 if stat.S_ISDIR(mode) else filelen)


def parse_reply(out):
    """(code, crc, last name) of a reply; it must be exactly one."""
    assert len(out) == 16 or len(out) >= 20, "reply of %d bytes" % len(out)
    code, pad, crc = struct.unpack("<IIQ", out[:16])
    assert pad == 0, "padding %#x" % pad
    if len(out) == 16:
        return code, crc, None
    (n,) = struct.unpack("<I", out[16:20])
    assert len(out) == 20 + n, "reply of %d bytes, name of %d" % (
        len(out), n)
    return code, crc, out[20:]


# ---- the directory and what is around it ----

class Box:
    """A temporary root (readable by all) holding DIR (owned by 65534),
    a canary directory with a file, and an 'outside' directory: every
    escape would land in one of them."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="bulkhead-filecopy-")
        os.chmod(self.root, 0o755)
        self.dir = os.path.join(self.root, "dir")
        self.canary = os.path.join(self.root, "canary")
        self.outside = os.path.join(self.root, "outside")
        os.mkdir(self.dir, 0o755)
        os.chown(self.dir, NOBODY, NOBODY)
        for p in (self.canary, self.outside):
            os.mkdir(p, 0o777)
            os.chmod(p, 0o777)  # anyone could write here: nobody must not
        with open(os.path.join(self.canary, "keep"), "w") as fh:
            fh.write("canary")
        os.utime(self.canary, (1000, 1000))
        self.before = None

    def snapshot_outside(self):
        """Everything under root but DIR's contents: names, types,
        modes, sizes, mtimes, link targets, file contents."""
        out = {}
        for top, dirs, files in os.walk(self.root):
            if top == self.dir:
                dirs[:] = []
                files = []
            for n in dirs + files:
                p = os.path.join(top, n)
                st = os.lstat(p)
                if p == self.dir or stat.S_ISFIFO(st.st_mode):
                    # DIR's mtime changes with what is made in it, a
                    # fifo's with what goes through it
                    out[os.path.relpath(p, self.root)] = (
                        st.st_mode, st.st_uid)
                    continue
                extra = None
                if stat.S_ISLNK(st.st_mode):
                    extra = os.readlink(p)
                elif stat.S_ISREG(st.st_mode):
                    with open(p, "rb") as fh:
                        extra = fh.read()
                out[os.path.relpath(p, self.root)] = (
                    st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns, extra)
        st = os.lstat(self.root)
        out["."] = (st.st_mode, st.st_uid, st.st_mtime_ns)
        return out

    def path(self, name):
        if isinstance(name, bytes):
            name = os.fsdecode(name)
        return os.path.join(self.dir, name)

    def inside(self):
        """Every name under DIR, relative, sorted."""
        out = []
        for top, dirs, files in os.walk(self.dir):
            for n in dirs + files:
                out.append(os.path.relpath(os.path.join(top, n), self.dir))
        return sorted(out)

    def check_clean(self):
        """Nothing changed outside DIR; no temporary file left in it."""
        if self.before is not None:
            after = self.snapshot_outside()
            assert after == self.before, "changed outside DIR: %r" % (
                sorted(set(after.items()) ^ set(self.before.items())),)
        with open(os.path.join(self.canary, "keep")) as fh:
            assert fh.read() == "canary"
        assert os.listdir(self.canary) == ["keep"]
        assert os.listdir(self.outside) == []
        left = [n for n in self.inside() if ".qfile-unpacker" in n]
        assert not left, "temporary files left: %r" % left

    def unpack(self, stream, args=(), want_rc=0, want_code=None,
               want_name=None, umask=-1, wrap=()):
        """Run qfile-unpacker on stream (under the command wrap, if
        given); check the exit status, the reply (its error code; its CRC
        on success), and that nothing outside changed.  Returns (code,
        name, stderr)."""
        if self.before is None:
            self.before = self.snapshot_outside()
        p = subprocess.run(
            list(wrap) + [UNPACKER] + list(args) + [str(NOBODY), self.dir],
            input=stream, capture_output=True, timeout=RUN_TIMEOUT,
            env=UNPACKER_ENV, umask=umask)
        err = p.stderr.decode(errors="replace")
        assert "Sanitizer" not in err and "runtime error" not in err, err
        assert p.returncode == want_rc, "exit %d, want %d: %s" % (
            p.returncode, want_rc, err)
        code, crc, name = parse_reply(p.stdout)
        if want_code is None:
            want_code = want_rc
        assert code == want_code, "reply code %d, want %d (%s)" % (
            code, want_code, err)
        assert p.returncode == code % 256
        if code == 0:
            # the CRC of every byte up to and including the end marker
            assert crc == zlib.crc32(stream[:stream_end(stream)]), "CRC"
        if want_name is not None:
            assert name == want_name, "last name %r, want %r" % (
                name, want_name)
        self.check_clean()
        return code, name, err

    def cleanup(self):
        for top, dirs, _ in os.walk(self.root):
            for n in dirs:
                p = os.path.join(top, n)
                if not os.path.islink(p):
                    os.chmod(p, 0o755)
        shutil.rmtree(self.root)


def need_root():
    if os.geteuid() != 0:
        raise Skip("qfile-unpacker switches to uid 65534: needs root")
    try:
        pwd.getpwuid(NOBODY)
    except KeyError:
        raise Skip("no user with uid 65534")


def boxed(fn):
    """A test taking a fresh Box, run as root, cleaned up after."""
    def run():
        need_root()
        b = Box()
        try:
            fn(b)
        finally:
            b.cleanup()
    run.__name__ = fn.__name__
    return run


# ---- a malicious sender ----

@boxed
def test_dotdot_name(b):
    b.unpack(f("../x", "evil") + END, want_rc=errno.EILSEQ,
             want_name=b"../x")
    b.unpack(f("..", "evil") + END, want_rc=errno.EILSEQ)
    assert b.inside() == []
    assert not os.path.exists(os.path.join(b.root, "x"))


@boxed
def test_absolute_name(b):
    # if it were honoured, it would land in the canary
    target = os.path.join(b.canary, "abs")
    b.unpack(f(target, "evil") + END, want_rc=errno.EILSEQ,
             want_name=target.encode())
    b.unpack(f("/etc/bulkhead-filecopy-x", "evil") + END,
             want_rc=errno.EILSEQ)
    assert not os.path.exists("/etc/bulkhead-filecopy-x")
    assert b.inside() == []


@boxed
def test_dotdot_inside_name(b):
    b.unpack(d("a") + f("a/../../outside/x", "evil") + END,
             want_rc=errno.EILSEQ)
    b.unpack(d("b") + d("b/../../outside") + END, want_rc=errno.EILSEQ)
    assert b.inside() == ["a", "b"]


@boxed
def test_symlink_escape(b):
    # refused as a link that could point outside
    # (the reply names the refused target, as Qubes' unpacker's does)
    b.unpack(d("d") + ln("d/l", "../../outside") + f("d/l/x", "evil") + END,
             want_rc=errno.ENOLINK, want_name=b"../../outside")
    assert b.inside() == ["d"]
    # a target with a character refused in names: named too
    b.unpack(d("k") + ln("k/l", b"x\x1by") + END, want_rc=errno.EILSEQ,
             want_name=b"x\x1by")
    assert b.inside() == ["d", "k"]
    # allowed as a link, but never written through
    b.unpack(d("e") + ln("e/l", "../../outside") + f("e/l/x", "evil") + END,
             args=["--allow-unsafe-symlinks"], want_rc=errno.ENOTDIR)
    assert os.readlink(b.path("e/l")) == "../../outside"
    b.unpack(d("e/l/sub") + END, args=["--allow-unsafe-symlinks"],
             want_rc=errno.ENOTDIR)
    b.unpack(d("e/l") + END, args=["--allow-unsafe-symlinks"],
             want_rc=errno.ENOTDIR)
    assert b.inside() == ["d", "e", "e/l", "k"]


@boxed
def test_symlink_top_level(b):
    b.unpack(ln("l", "x") + END, want_rc=errno.ENOLINK, want_name=b"x")
    assert b.inside() == []
    b.unpack(ln("l", "x") + END, args=["--allow-unsafe-symlinks"])
    assert os.readlink(b.path("l")) == "x"
    # and one pointing at the canary: made, not followed
    b.unpack(ln("m", b.canary) + f("m/x", "evil") + END,
             args=["--allow-unsafe-symlinks"], want_rc=errno.ENOTDIR)


@boxed
def test_same_name_twice(b):
    b.unpack(f("f", "first") + f("f", "second") + END,
             want_rc=errno.EEXIST, want_name=b"f")
    with open(b.path("f")) as fh:
        assert fh.read() == "first"
    # over a directory, a symlink, or a file from an earlier transfer
    b.unpack(d("g") + f("g", "x") + END, want_rc=errno.EEXIST)
    assert os.path.isdir(b.path("g"))
    b.unpack(d("h") + ln("h/l", "x") + f("h/l", "x") + END,
             want_rc=errno.EEXIST)
    assert os.path.islink(b.path("h/l"))
    b.unpack(f("f", "third") + END, want_rc=errno.EEXIST)
    b.unpack(ln("h/l", "y") + END, want_rc=errno.EEXIST)
    # a large file (1 MiB or more) is refused before its data is read:
    # EEXIST, not the end of a stream that holds none of it
    b.unpack(f("f", b"", filelen=1 << 20), want_rc=errno.EEXIST)
    b.unpack(f("f", b"", filelen=(1 << 20) - 1), want_rc=LEGAL_EOF % 256,
             want_code=LEGAL_EOF)
    with open(b.path("f")) as fh:
        assert fh.read() == "first"
    assert os.readlink(b.path("h/l")) == "x"


@boxed
def test_nul_in_name(b):
    b.unpack(d("t") + f(b"t/ok\0../../outside/x", "data") + END,
             want_name=b"t/ok")
    assert b.inside() == ["t", "t/ok"]
    with open(b.path("t/ok")) as fh:
        assert fh.read() == "data"


@boxed
def test_control_characters(b):
    for name in (b"esc\x1b[31m", b"new\nline", b"del\x7f", b"c1\xc2\x9b",
                 b"rlo\xe2\x80\xae", b"lone\xff"):
        code, last, err = b.unpack(f(name, "x") + END,
                                   want_rc=errno.EILSEQ, want_name=name)
        # the unpacker's own message shows it printable only
        assert not any(c < 0x20 and c != 0x0a for c in err.encode()), err
        assert not os.path.lexists(b.path(name))
    assert b.inside() == []
    for name in (b"esc\x1b[31m", b"new\nline", b"lone\xff"):
        b.unpack(f(name, "x") + END, args=["--allow-all-names"])
        assert os.path.isfile(b.path(name))
    # the path rules still apply
    b.unpack(f(b"\x1b/../x", "x") + END, args=["--allow-all-names"],
             want_rc=errno.EILSEQ)
    b.unpack(f(b"/\x1b", "x") + END, args=["--allow-all-names"],
             want_rc=errno.EILSEQ)
    assert len(b.inside()) == 3


@boxed
def test_size_lies(b):
    # 100 bytes promised, 10 sent, then the stream ends
    b.unpack(f("ok", "fine") + f("lie", "0123456789", filelen=100),
             want_rc=LEGAL_EOF % 256, want_code=LEGAL_EOF,
             want_name=b"lie")
    assert b.inside() == ["ok"]
    # the same in a subdirectory, with more than one read buffer of data
    big = os.urandom(600 * 1024)
    b.unpack(d("s") + f("s/big", big, filelen=len(big) + 1),
             want_rc=LEGAL_EOF % 256, want_code=LEGAL_EOF)
    assert b.inside() == ["ok", "s"]


@boxed
def test_truncated_stream(b):
    # no end marker
    b.unpack(f("a", "x"), want_rc=errno.EREMOTEIO)
    assert b.inside() == ["a"]
    # inside a header: EREMOTEIO; inside a name (no name in the reply)
    # or a symlink target: Qubes' code for a cut inside data, as inside
    # a file (test_size_lies)
    b.unpack(f("b", "x")[:20], want_rc=errno.EREMOTEIO)
    b.unpack(f("a2", "x") + f("longname", "x")[:36],
             want_rc=LEGAL_EOF % 256, want_code=LEGAL_EOF, want_name=b"")
    b.unpack(d("c") + ln("c/l", "target")[:-3], want_rc=LEGAL_EOF % 256,
             want_code=LEGAL_EOF, want_name=b"c/l")
    b.unpack(END[:31], want_rc=errno.EREMOTEIO)
    b.unpack(b"", want_rc=errno.EREMOTEIO)
    assert b.inside() == ["a", "a2", "c"]


@boxed
def test_max_files(b):
    # refused at the header past the limit, before its name is read: the
    # reply names the entry before it (Qubes' unpacker does the same)
    five = b"".join(f("f%d" % i, "x") for i in range(5))
    b.unpack(five + END, args=["--max-files", "3"], want_rc=errno.EDQUOT,
             want_name=b"f2")
    assert b.inside() == ["f0", "f1", "f2"]
    shutil.rmtree(b.dir)
    os.mkdir(b.dir, 0o755)
    os.chown(b.dir, NOBODY, NOBODY)
    b.before = b.snapshot_outside()
    # directories and symlinks count too, and so does every header of a
    # directory sent again (its header after its contents, as qfile-agent
    # sends it): four headers
    tree = d("d") + ln("d/l", "x") + f("d/f") + d("d") + END
    b.unpack(tree, args=["--max-files", "3"], want_rc=errno.EDQUOT,
             want_name=b"d/f")
    assert b.inside() == ["d", "d/f", "d/l"]
    shutil.rmtree(b.path("d"))
    # exactly the limit passes
    b.unpack(tree, args=["--max-files", "4"])
    b.unpack(d("e") + END, args=["--max-files", "0"])
    assert b.inside() == ["d", "d/f", "d/l", "e"]


@boxed
def test_max_bytes(b):
    b.unpack(f("a", b"x" * 60) + f("b", b"y" * 60) + END,
             args=["--max-bytes", "100"], want_rc=errno.EDQUOT,
             want_name=b"b")
    assert b.inside() == ["a"]
    b.unpack(f("c", b"x" * 50) + f("d", b"y" * 50) + END,
             args=["--max-bytes", "100"])
    # one file larger than the limit, claiming more than the disk holds
    b.unpack(f("e", b"", filelen=1 << 62) + END,
             args=["--max-bytes", "100"], want_rc=errno.EDQUOT)
    assert b.inside() == ["a", "c", "d"]


@boxed
def test_more_than_free_space(b):
    # larger than the disk holds, within --max-bytes: refused before any
    # data (the free-space check runs under the seccomp allowlist)
    free = os.statvfs(b.dir)
    size = free.f_frsize * free.f_bavail + (1 << 30)
    b.unpack(f("huge", b"", filelen=size) + END,
             args=["--max-bytes", "0"], want_rc=errno.ENOSPC,
             want_name=b"huge")
    assert b.inside() == []
    # a file that needs the check and fits
    data = os.urandom(3 << 20)
    b.unpack(f("fits", data) + END)
    with open(b.path("fits"), "rb") as fh:
        assert fh.read() == data


@boxed
def test_large_file_flushed_behind(b):
    # A file of more than two flush steps (unpack.c's FLUSH_STEP, 32 MiB):
    # the unpacker starts fdatasyncs behind the stream with Linux AIO, at
    # most one at a time, and releases the AIO context before it exits;
    # all of it under its seccomp allowlist, which kills it on any call
    # it does not allow.  The data arrives whole either way.
    data = os.urandom(1 << 20) * 80
    strace = shutil.which("strace")
    fd, trace = tempfile.mkstemp(prefix="bulkhead-filecopy-trace-")
    os.close(fd)
    try:
        wrap = [strace, "-f", "-qq", "-o", trace, "-e",
                "trace=io_setup,io_submit,io_destroy"] if strace else []
        b.unpack(f("big", data) + f("after", "x") + END, wrap=wrap)
        with open(trace) as fh:
            calls = fh.read()
    finally:
        os.unlink(trace)
    with open(b.path("big"), "rb") as fh:
        assert fh.read() == data
    assert b.inside() == ["after", "big"]
    if not strace:
        raise Skip("the data arrived; no strace to see the flushes")
    submits = calls.count("IOCB_CMD_FDSYNC")
    assert 1 <= submits <= 2, calls
    assert calls.count("io_setup(") == 1, calls
    assert calls.count("io_destroy(") == 1, calls
    # a small file: no flush behind, no AIO context
    fd, trace = tempfile.mkstemp(prefix="bulkhead-filecopy-trace-")
    os.close(fd)
    try:
        b.unpack(f("small", b"y" * 4096) + END, wrap=[
            strace, "-f", "-qq", "-o", trace, "-e", "trace=io_setup"])
        with open(trace) as fh:
            assert "io_setup" not in fh.read()
    finally:
        os.unlink(trace)


@boxed
def test_dir_then_symlink_over_it(b):
    # inside a top directory: 'top/e' -> 'd' is a safe link
    b.unpack(d("top") + d("top/d") + f("top/d/a", "a") + ln("top/e", "d") +
             f("top/e/b", "b") + END, want_rc=errno.ENOTDIR,
             want_name=b"top/e/b")
    assert b.inside() == ["top", "top/d", "top/d/a", "top/e"]
    # at the top, with --allow-unsafe-symlinks
    b.unpack(d("d") + f("d/a", "a") + ln("e", "d") + f("e/b", "b") + END,
             args=["--allow-unsafe-symlinks"], want_rc=errno.ENOTDIR)
    assert not os.path.lexists(b.path("d/b"))
    # the link's directory header must not reach the directory either
    before = os.stat(b.path("d"))
    b.unpack(d("e", mode=0o777, mtime=5) + END,
             args=["--allow-unsafe-symlinks"], want_rc=errno.ENOTDIR)
    after = os.stat(b.path("d"))
    assert (before.st_mode, before.st_mtime_ns) == (
        after.st_mode, after.st_mtime_ns)


@boxed
def test_preexisting_symlink(b):
    os.symlink(b.canary, b.path("evil"))
    b.before = b.snapshot_outside()
    b.unpack(f("evil/x", "evil") + END, want_rc=errno.ENOTDIR)
    b.unpack(d("evil/sub") + END, want_rc=errno.ENOTDIR)
    # a directory header for it must not chmod or touch the canary
    b.unpack(d("evil", mode=0o700, mtime=5) + END, want_rc=errno.ENOTDIR)
    b.unpack(f("evil", "x") + END, want_rc=errno.EEXIST)
    b.unpack(ln("evil", "y") + END, args=["--allow-unsafe-symlinks"],
             want_rc=errno.EEXIST)
    assert os.readlink(b.path("evil")) == b.canary
    assert b.inside() == ["evil"]


@boxed
def test_setuid_dropped(b):
    b.unpack(d("s", mode=0o2775) + f("s/suid", "x", mode=0o4755) +
             f("s/sgid", "x", mode=0o2750) + f("s/sticky", "x", mode=0o1644)
             + d("s", mode=0o2775) + END)
    # modes come from the stream, whatever the unpacker's umask; one
    # without write permission still gets its data
    b.unpack(f("s/ro", "ro", mode=0o444) + f("s/none", "none", mode=0) +
             f("s/all", "all", mode=0o777) + d("s", mode=0o2775) + END,
             umask=0o077)
    want = {"s": 0o775, "s/suid": 0o755, "s/sgid": 0o750,
            "s/sticky": 0o1644, "s/ro": 0o444, "s/none": 0,
            "s/all": 0o777}
    for name in ("ro", "none", "all"):
        with open(b.path("s/" + name)) as fh:
            assert fh.read() == name
    for name, mode in want.items():
        st = os.lstat(b.path(name))
        assert stat.S_IMODE(st.st_mode) == mode, "%s: %o, want %o" % (
            name, stat.S_IMODE(st.st_mode), mode)
        assert st.st_uid == NOBODY
        assert st.st_mtime_ns == MTIME * 10**9 + MTIME_NS


@boxed
def test_bad_headers(b):
    # nanoseconds out of range: a reply all the same (Qubes' sends none)
    b.unpack(f("n", "x", nsec=10**9) + END, want_rc=errno.EINVAL)
    b.unpack(f("n", "x", atime_nsec=0xffffffff) + END, want_rc=errno.EINVAL)
    # a FIFO, a device, a directory with data
    b.unpack(entry("p", stat.S_IFIFO | 0o644) + END, want_rc=errno.EINVAL)
    b.unpack(entry("c", stat.S_IFCHR | 0o666) + END, want_rc=errno.EINVAL)
    b.unpack(d("x", filelen=4) + b"abcd" + END, want_rc=errno.EINVAL)
    # a name too long: not read at all
    b.unpack(f("a" * 20000) + END, want_rc=errno.ENAMETOOLONG)
    b.unpack(ln("d/l", "x", filelen=16384) + END,
             want_rc=errno.ENAMETOOLONG)
    assert b.inside() == []


@boxed
def test_after_end_marker(b):
    # bytes after the end marker are not read
    b.unpack(f("a", "x") + END + f("b", "y") + END)
    assert b.inside() == ["a"]


# ---- who the unpacker runs as ----

def unused_uid():
    for uid in range(54321, 60000):
        try:
            pwd.getpwuid(uid)
        except KeyError:
            return uid
    raise Skip("no unused uid found")


@boxed
def test_bug_unknown_uid_keeps_root_group(b):
    """A UID not in passwd: the unpacker must not parse the stream with
    root's group (Qubes' refuses such a UID).  Either refused before the
    stream, or nothing it makes belongs to group 0."""
    uid = unused_uid()
    os.chown(b.dir, uid, uid)
    b.before = b.snapshot_outside()
    p = subprocess.run([UNPACKER, str(uid), b.dir],
                       input=f("a", "x", mode=0o664) + END,
                       capture_output=True, timeout=RUN_TIMEOUT,
                       env=UNPACKER_ENV)
    if p.returncode == 0:
        st = os.lstat(b.path("a"))
        assert st.st_gid != 0, (
            "uid %d unknown: the unpacker ran with gid 0, made 'a' group "
            "root, mode %o" % (uid, stat.S_IMODE(st.st_mode)))
    else:
        assert p.returncode == 1, p.stderr
        assert b.inside() == []
    b.check_clean()


@boxed
def test_bug_setuid_caller_may_name_root(b):
    """Installed setuid root, as Qubes installs its qfile-unpacker (mode
    4755), a caller that is not root may only name its own UID.  Here
    uid 65534 names UID 0 and a directory only root may write."""
    exe = os.path.join(b.root, "qfile-unpacker-suid")
    shutil.copy(UNPACKER, exe)
    os.chown(exe, 0, 0)
    os.chmod(exe, 0o4755)
    if os.statvfs(exe).f_flag & os.ST_NOSUID:
        raise Skip("%s is on a nosuid mount" % b.root)
    rootonly = os.path.join(b.root, "rootonly")
    os.mkdir(rootonly, 0o700)
    b.before = b.snapshot_outside()

    def as_nobody():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)

    p = subprocess.run([exe, "0", rootonly], input=f("pwned", "x") + END,
                       capture_output=True, timeout=RUN_TIMEOUT,
                       env=UNPACKER_ENV, preexec_fn=as_nobody)
    made = os.listdir(rootonly)
    assert made == [], (
        "uid 65534 wrote %r as uid 0 into a root-only directory (exit %d)"
        % (made, p.returncode))
    assert p.returncode == 1, p.stderr


# ---- a valid tree, sender to receiver ----

def make_tree(root):
    t = os.path.join(root, "tree")
    os.mkdir(t)
    files = {
        "tree/a": b"hello\n",
        "tree/empty": b"",
        "tree/big": os.urandom(1536 * 1024),
        "tree/sub/caf\u00e9-\u017b\u00d3\u0141W": b"unicode name",
        "tree/ro/inside": b"in a read-only directory",
        "tree/suid": b"#!/bin/sh\n",
    }
    os.mkdir(os.path.join(root, "tree/sub"))
    os.mkdir(os.path.join(root, "tree/ro"))
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as fh:
            fh.write(data)
    os.symlink("../a", os.path.join(root, "tree/sub/l"))
    os.symlink("inside", os.path.join(root, "tree/ro/l"))
    modes = {"tree/a": 0o640, "tree/empty": 0o600, "tree/big": 0o644,
             "tree/suid": 0o4755, "tree/ro/inside": 0o444}
    for name, mode in modes.items():
        os.chmod(os.path.join(root, name), mode)
    # times last, directories after their contents
    for i, name in enumerate(sorted(files)):
        os.utime(os.path.join(root, name),
                 ns=(MTIME * 10**9, (MTIME + i) * 10**9 + 1000 * i + 7))
    for i, name in enumerate(["tree/sub", "tree/ro", "tree"]):
        p = os.path.join(root, name)
        os.chmod(p, {"tree/ro": 0o555}.get(name, 0o750))
        os.utime(p, ns=(MTIME * 10**9, (MTIME - 10 - i) * 10**9 + 999))
    return t


def describe(top):
    """path -> (type, mode minus setuid/setgid, mtime_ns, content)"""
    out = {}
    for cur, dirs, files in os.walk(top):
        for n in [""] + dirs + files if cur == top else dirs + files:
            p = os.path.join(cur, n) if n else cur
            st = os.lstat(p)
            rel = os.path.relpath(p, os.path.dirname(top))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("l", os.readlink(p))
                continue
            mode = stat.S_IMODE(st.st_mode) & ~0o6000
            if stat.S_ISDIR(st.st_mode):
                out[rel] = ("d", mode, st.st_mtime_ns)
            else:
                with open(p, "rb") as fh:
                    out[rel] = ("f", mode, st.st_mtime_ns, fh.read())
    return out


def fifo_pair(path):
    """A fifo's read and write ends, opened without waiting for a peer."""
    os.mkfifo(path)
    r = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    w = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    os.set_blocking(r, True)
    return r, w


@boxed
def test_roundtrip_agent_to_unpacker(b):
    src = os.path.join(b.root, "src")
    os.mkdir(src)
    tree = make_tree(src)
    # qfile-agent tree <ack | qfile-unpacker 65534 DIR >ack
    s_r, s_w = fifo_pair(os.path.join(b.root, "stream.fifo"))
    a_r, a_w = fifo_pair(os.path.join(b.root, "ack.fifo"))
    b.before = b.snapshot_outside()
    with tempfile.TemporaryFile() as e1, tempfile.TemporaryFile() as e2:
        unp = subprocess.Popen([UNPACKER, str(NOBODY), b.dir], stdin=s_r,
                               stdout=a_w, stderr=e1, env=UNPACKER_ENV)
        agent = subprocess.Popen([AGENT, "tree"], cwd=src, stdin=a_r,
                                 stdout=s_w, stderr=e2, env=AGENT_ENV)
        for fd in (s_r, s_w, a_r, a_w):
            os.close(fd)
        rc_u = unp.wait(timeout=RUN_TIMEOUT)
        rc_a = agent.wait(timeout=RUN_TIMEOUT)
        e1.seek(0)
        e2.seek(0)
        errs = (e1.read() + e2.read()).decode(errors="replace")
    assert (rc_a, rc_u) == (0, 0), "agent %d, unpacker %d: %s" % (
        rc_a, rc_u, errs)
    assert errs == "", errs
    want = describe(tree)
    got = describe(b.path("tree"))
    assert sorted(got) == sorted(want), "names: %r vs %r" % (
        sorted(got), sorted(want))
    for k in want:
        assert got[k] == want[k], "%s: %r, want %r" % (
            k, got[k][:3], want[k][:3])
    assert stat.S_IMODE(os.stat(b.path("tree/suid")).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(b.path("tree/ro")).st_mode) == 0o555
    b.check_clean()


# ---- a malicious receiver ----

def read_exact(fh, n):
    data = b""
    while len(data) < n:
        chunk = fh.read(n - len(data))
        if not chunk:
            raise EOFError("stream ended after %d of %d bytes" % (
                len(data), n))
        data += chunk
    return data


def read_stream(fh):
    """Read one whole stream, up to and including the end marker."""
    data = b""
    while True:
        h = read_exact(fh, 32)
        data += h
        namelen, mode, filelen = struct.unpack("<IIQ", h[:16])
        if namelen == 0:
            return data
        data += read_exact(fh, namelen)
        if not stat.S_ISDIR(mode):
            data += read_exact(fh, filelen)


def fake_receiver(answer, before_stream=False, env=None):
    """Run qfile-agent on a small tree against answer(crc) -> bytes or
    None (None: close without a word).  Returns (exit status, stderr)."""
    src = tempfile.mkdtemp(prefix="bulkhead-filecopy-agent-")
    try:
        os.mkdir(os.path.join(src, "t"))
        with open(os.path.join(src, "t", "f"), "wb") as fh:
            fh.write(b"payload\n")
        with tempfile.TemporaryFile() as err:
            agent = subprocess.Popen([AGENT, "t"], cwd=src,
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=err,
                                     env=env or AGENT_ENV)
            try:
                if before_stream:
                    reply = answer(0)
                else:
                    stream = read_stream(agent.stdout)
                    reply = answer(zlib.crc32(stream))
                if reply is not None:
                    try:
                        agent.stdin.write(reply)
                        agent.stdin.flush()
                    except BrokenPipeError:
                        pass  # it stopped reading: what a reply may do
                try:
                    agent.stdin.close()
                except BrokenPipeError:
                    pass
                agent.stdout.close()
                rc = agent.wait(timeout=RUN_TIMEOUT)
            finally:
                if agent.poll() is None:
                    agent.kill()
                    agent.wait()
            err.seek(0)
            text = err.read()
    finally:
        shutil.rmtree(src)
    return rc, text


def result(code, crc, name=None, namelen=None):
    out = struct.pack("<IIQ", code, 0, crc)
    if name is not None:
        out += struct.pack("<I", len(name) if namelen is None else namelen)
        out += name
    return out


def test_agent_honest_receiver():
    # the control for the tests below: the fake receiver's own reply
    rc, err = fake_receiver(lambda crc: result(0, crc, b"t"))
    assert rc == 0, err
    assert err == b"", err
    # a 16-byte reply (an old receiver) is accepted
    rc, err = fake_receiver(lambda crc: result(0, crc))
    assert rc == 0, err


def test_agent_progress():
    # PROGRESS_TYPE=console: bytes sent of the total, the rate and the time
    # left on stderr, and a last line when done
    env = dict(AGENT_ENV, PROGRESS_TYPE="console", FILECOPY_TOTAL_BYTES="8")
    rc, err = fake_receiver(lambda crc: result(0, crc, b"t"), env=env)
    assert rc == 0, err
    last = err.decode().split("\r")[-1]
    assert re.match(r"^sent 8 B of 8 B \(100%\), [0-9.]+ [KMG]?i?B/s +\n$",
                    last), repr(err)
    # without a total: bytes and rate only
    env = dict(AGENT_ENV, PROGRESS_TYPE="console")
    rc, err = fake_receiver(lambda crc: result(0, crc, b"t"), env=env)
    assert rc == 0 and re.match(
        r"^sent 8 B, [0-9.]+ [KMG]?i?B/s +\n$",
        err.decode().split("\r")[-1]), repr(err)


def test_agent_wrong_crc():
    rc, err = fake_receiver(lambda crc: result(0, crc ^ 1, b"t"))
    assert rc == 1, err
    assert b"checksum mismatch" in err, err
    # the high half of the 64-bit field is not the CRC's either
    rc, err = fake_receiver(lambda crc: result(0, crc | 1 << 32, b"t"))
    assert rc == 1 and b"checksum mismatch" in err, err


def test_agent_huge_namelen():
    rc, err = fake_receiver(
        lambda crc: result(0, crc, b"abc", namelen=0xFFFFFFFF))
    assert rc == 1, err
    assert b"malformed reply" in err, err
    # and a receiver that keeps sending: read with a bound, then refused
    rc, err = fake_receiver(
        lambda crc: result(0, crc, b"x" * (1 << 20), namelen=0x7FFFFFFF))
    assert rc == 1 and b"malformed reply" in err, err
    # 17 bytes: the ext part cut
    rc, err = fake_receiver(lambda crc: result(0, crc) + b"\x01")
    assert rc == 1 and b"malformed reply" in err, err


def test_agent_escape_name():
    evil = b"\x1b]0;owned\x07\x1b[31mred\"\r\n\x7f\xc2\x9bz"
    rc, err = fake_receiver(lambda crc: result(errno.EEXIST, crc, evil))
    assert rc == 1, err
    assert not any(c < 0x20 and c != 0x0a for c in err), err
    assert b"\x7f" not in err and not any(c >= 0x80 for c in err), err
    assert b'"_]0;owned__[31mred______z"' in err, err
    assert b"already" in err, err


def test_agent_no_reply():
    rc, err = fake_receiver(lambda crc: None)
    assert rc == 1, err
    assert err != b"", "no message"
    # the receiver gone before the stream even started
    rc, err = fake_receiver(lambda crc: None, before_stream=True)
    assert rc == 1, err


def test_agent_early_error_reply():
    # a receiver failing at once answers before reading anything
    rc, err = fake_receiver(lambda crc: result(errno.EDQUOT, 0, b"t"),
                            before_stream=True)
    assert rc == 1, err
    assert b"limit on files or bytes" in err, err


# ---- TAP ----

def alarm(signum, frame):
    raise TimeoutError("test took more than %d s" % TEST_DEADLINE)


def run_tests(tests):
    """One TAP line a test; Skip gives '# SKIP'.  Exit 1 if any failed.
    (tests/integration/harness.py's run_tests has no skip and no
    deadline.)"""
    signal.signal(signal.SIGALRM, alarm)
    print("1..%d" % len(tests))
    failed = 0
    for i, t in enumerate(tests, 1):
        signal.alarm(TEST_DEADLINE)
        try:
            t()
            print("ok %d - %s" % (i, t.__name__))
        except Skip as e:
            print("ok %d - %s # SKIP %s" % (i, t.__name__, e))
        except Exception:
            failed += 1
            print("not ok %d - %s" % (i, t.__name__))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
        finally:
            signal.alarm(0)
        sys.stdout.flush()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    for prog in (AGENT, UNPACKER):
        if not os.access(prog, os.X_OK):
            print("Bail out! %s not built" % prog)
            sys.exit(1)
    run_tests([
        test_dotdot_name,
        test_absolute_name,
        test_dotdot_inside_name,
        test_symlink_escape,
        test_symlink_top_level,
        test_same_name_twice,
        test_nul_in_name,
        test_control_characters,
        test_size_lies,
        test_truncated_stream,
        test_max_files,
        test_max_bytes,
        test_more_than_free_space,
        test_large_file_flushed_behind,
        test_dir_then_symlink_over_it,
        test_preexisting_symlink,
        test_setuid_dropped,
        test_bad_headers,
        test_after_end_marker,
        test_bug_unknown_uid_keeps_root_group,
        test_bug_setuid_caller_may_name_root,
        test_roundtrip_agent_to_unpacker,
        test_agent_honest_receiver,
        test_agent_progress,
        test_agent_wrong_crc,
        test_agent_huge_namelen,
        test_agent_escape_name,
        test_agent_no_reply,
        test_agent_early_error_reply,
    ])
