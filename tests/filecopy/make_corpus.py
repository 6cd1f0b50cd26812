#!/usr/bin/env python3
"""make_corpus.py - write the seed corpus of fuzz_filecopy_stream:
corpus/filecopy_stream/<seed>.

Each seed is the target's input layout (fuzz_filecopy_stream.c): one flags
byte (1: /proc/self/fd for O_TMPFILE, 2: --allow-all-names, 4:
--allow-unsafe-symlinks), then a qubes.Filecopy stream as qfile-agent
sends it (shared/reference/filecopy.md section 2), valid or broken in one
place.  Run it after changing the layout and commit the result; it only
writes its own files, so crashers added by hand stay.

Usage: tests/filecopy/make_corpus.py [CORPUS_DIR]
"""

import os
import struct
import sys

S_FILE, S_DIR, S_LNK = 0o100000, 0o040000, 0o120000
END = bytes(32)


def entry(name, mode, data=b"", filelen=None, nsec=5):
    n = name.encode() if isinstance(name, str) else name
    n += b"\0"
    return struct.pack("<IIQIIII", len(n), mode,
                       len(data) if filelen is None else filelen,
                       1600000000, nsec, 1600000000, nsec) + n + data


def f(name, data=b"", mode=0o644, **kw):
    return entry(name, S_FILE | mode, data, **kw)


def d(name, mode=0o755):
    return entry(name, S_DIR | mode)


def ln(name, target):
    return entry(name, S_LNK | 0o777, target.encode())


TREE = (d("tree") + f("tree/a", b"hello\n", 0o640) + d("tree/sub") +
        ln("tree/sub/l", "../a") + f("tree/sub/empty") +
        f("tree/sub/caf\u00e9", b"x" * 300, 0o4755) + d("tree/sub") +
        d("tree", 0o555) + END)

SEEDS = {
    "tree_tmpfile": b"\x01" + TREE,
    "tree_tmpnames": b"\x00" + TREE,
    "dotdot": b"\x01" + d("a") + f("a/../../x", b"evil") + END,
    "size_lie": b"\x01" + f("ok", b"fine") + f("lie", b"0123", filelen=100),
    "symlink_escape": b"\x05" + d("d") + ln("d/l", "../../outside") +
    f("d/l/x", b"evil") + END,
    "escape_all_names": b"\x03" + f(b"esc\x1b[31m", b"x") +
    f(b"lone\xff", b"y") + END,
    "same_name": b"\x01" + f("f", b"first") + f("f", b"second") + END,
    "nsec": b"\x01" + f("n", b"x", nsec=1000000000) + END,
    "too_many": b"\x01" + b"".join(f("f%d" % i, b"x") for i in range(40)) +
    END,
    # the stream part read as a reply: 16 + 4 + n bytes
    "reply": b"\x01" + struct.pack("<IIQI", 17, 0, 0x1234, 4) + b"tree",
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus",
        "filecopy_stream")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(data)


if __name__ == "__main__":
    main()
