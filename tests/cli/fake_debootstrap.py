#!/usr/bin/env python3
"""A stand-in for debootstrap, for qvm-template's tests: no network, a
second instead of minutes.

Called as qvm-template calls debootstrap:
    fake_debootstrap.py --variant=minbase --keyring=FILE [--include=P,..]
                        SUITE TARGET MIRROR
it builds a tiny merged-/usr tree in TARGET the way Debian 12 lays one
out (bin, sbin, lib, lib64 links into usr): bash, dash as /bin/sh, a few
coreutils, and the shared libraries that those and the programs in
$FAKE_DEBOOTSTRAP_PROGRAMS (bulkhead's qube tools, which the launcher
binds into every qube) need, copied from this host; /etc with Debian's
accounts but no user, and, as debootstrap does, a copy of the host's
hostname and resolv.conf, device nodes in /dev and a mount on /proc
(which must not outlive it).  It prints "I: ..." lines as debootstrap
does.

Environment, for the tests:
  FAKE_DEBOOTSTRAP_PROGRAMS  colon-separated programs whose libraries the
                             tree must have
  FAKE_DEBOOTSTRAP_ARGS      a file to write the arguments into, one a line
  FAKE_DEBOOTSTRAP_FAIL      fail half-way (exit 1), as a broken mirror does
  FAKE_DEBOOTSTRAP_SLEEP     wait this many seconds after the first line,
                             with a child process, both pids written to
  FAKE_DEBOOTSTRAP_PIDFILE   (host pids: "pid child")
"""

import os
import shutil
import signal
import stat
import subprocess
import sys
import time

TOOLS = ["bash", "dash", "cat", "id", "ls", "sleep", "env", "mkdir", "chmod",
         "chown", "touch", "stat", "hostname", "rm", "head", "grep",
         "readlink", "true", "false", "whoami", "test", "echo", "uname"]


def log(msg):
    print(msg, flush=True)


def put(target, path):
    """Copy host file path into target at the same place, with every
    symbolic link on the way (merged /usr, lib*.so.N -> lib*.so.N.M)."""
    parts = path.strip("/").split("/")
    cur = "/"
    for i, part in enumerate(parts):
        nxt = os.path.join(cur, part)
        dst = target + nxt
        if os.path.islink(nxt):
            link = os.readlink(nxt)
            if not os.path.lexists(dst):
                os.symlink(link, dst)
            res = link if link.startswith("/") else os.path.normpath(
                os.path.join(cur, link))
            put(target, os.path.join(res, *parts[i + 1:]))
            return
        if i == len(parts) - 1:
            if not os.path.lexists(dst):
                shutil.copy2(nxt, dst)
        elif not os.path.isdir(dst):
            os.mkdir(dst, 0o755)
        cur = nxt


def libraries(prog):
    out = subprocess.run(["ldd", prog], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL).stdout.decode()
    libs = []
    for line in out.splitlines():
        words = line.split()
        if "=>" in words and len(words) > words.index("=>") + 1:
            p = words[words.index("=>") + 1]
            if p.startswith("/"):
                libs.append(p)
        elif words and words[0].startswith("/"):
            libs.append(words[0])  # the dynamic loader
    return libs


def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def main():
    args = sys.argv[1:]
    if os.environ.get("FAKE_DEBOOTSTRAP_ARGS"):
        with open(os.environ["FAKE_DEBOOTSTRAP_ARGS"], "w") as f:
            f.write("".join(a + "\n" for a in args))
    pos = [a for a in args if not a.startswith("--")]
    if len(pos) != 3:
        log("E: usage: fake_debootstrap [OPTIONS] SUITE TARGET MIRROR")
        return 1
    suite, t, mirror = pos
    # debootstrap traps SIGTERM and exits 143 (as PID 1 of a pid
    # namespace, a signal without a handler would be ignored)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    log("I: Retrieving InRelease (fake, %s from %s)" % (suite, mirror))
    sleep = float(os.environ.get("FAKE_DEBOOTSTRAP_SLEEP") or 0)
    if sleep:
        child = subprocess.Popen(["sleep", "1000"])
        # host pids: /proc is the host's (we are PID 1 of a new namespace)
        me = int(os.readlink("/proc/self"))
        # child.pid is its pid in our namespace: find the host's
        kid = [int(p) for p in os.listdir("/proc") if p.isdigit() and
               _ppid(int(p)) == me]
        with open(os.environ["FAKE_DEBOOTSTRAP_PIDFILE"], "w") as f:
            f.write("%d %s\n" % (me, " ".join(map(str, kid))))
        log("I: Retrieving Packages (waiting %g s)" % sleep)
        time.sleep(sleep)
    for d in ["usr", "usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "etc",
              "proc", "sys", "dev", "run", "home", "var", "var/lib",
              "var/tmp", "var/log", "etc/profile.d", "debootstrap"]:
        os.makedirs(os.path.join(t, d), exist_ok=True)
    os.chmod(os.path.join(t, "var/tmp"), 0o1777)
    os.makedirs(os.path.join(t, "tmp"), mode=0o1777, exist_ok=True)
    os.chmod(os.path.join(t, "tmp"), 0o1777)
    os.makedirs(os.path.join(t, "root"), mode=0o700, exist_ok=True)
    for link in ["bin", "sbin", "lib", "lib64"]:
        if not os.path.lexists(os.path.join(t, link)):
            os.symlink("usr/" + link, os.path.join(t, link))
    with open(os.path.join(t, "debootstrap", "debootstrap.log"), "w") as f:
        f.write("fake debootstrap log\n")
    log("I: Extracting base-files (fake)")
    progs = [shutil.which(x) for x in TOOLS]
    progs = [p for p in progs if p]
    extra = [p for p in os.environ.get("FAKE_DEBOOTSTRAP_PROGRAMS",
                                       "").split(":") if p]
    for p in progs:
        put(t, p)
    for p in progs + extra:
        for lib in libraries(p):
            put(t, lib)
    if not os.path.lexists(os.path.join(t, "usr/bin/sh")):
        os.symlink("dash", os.path.join(t, "usr/bin/sh"))
    if os.environ.get("FAKE_DEBOOTSTRAP_FAIL"):
        with open(os.path.join(t, "debootstrap", "debootstrap.log"),
                  "a") as f:
            f.write("dpkg: error processing package fake (--configure)\n")
        log("E: Couldn't install the fake packages (as asked)")
        return 1
    e = os.path.join(t, "etc")
    write(os.path.join(e, "passwd"),
          "root:x:0:0:root:/root:/bin/bash\n"
          "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    write(os.path.join(e, "group"),
          "root:x:0:\ndaemon:x:1:\nusers:x:100:\nnogroup:x:65534:\n")
    write(os.path.join(e, "shadow"),
          "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n"
          "nobody:*:19000:0:99999:7:::\n", 0o640)
    write(os.path.join(e, "gshadow"),
          "root:*::\ndaemon:*::\nusers:*::\nnogroup:*::\n", 0o640)
    write(os.path.join(e, "debian_version"), "12.99\n")
    write(os.path.join(e, "os-release"),
          'PRETTY_NAME="Debian GNU/Linux 12 (bookworm, fake)"\n'
          'ID=debian\nVERSION_ID="12"\n')
    write(os.path.join(e, "nsswitch.conf"),
          "passwd: files\ngroup: files\nshadow: files\nhosts: files\n")
    write(os.path.join(e, "profile"),
          'PATH="/usr/local/bin:/usr/bin:/bin"\n'
          'for i in /etc/profile.d/*.sh; do [ -r "$i" ] && . "$i"; done\n'
          "export PATH\n")
    # as debootstrap's setup_etc: the host's own, which qvm-template
    # must replace
    for f in ["hostname", "resolv.conf"]:
        if os.path.exists("/etc/" + f):
            shutil.copyfile("/etc/" + f, os.path.join(e, f))
    # as debootstrap's setup_devices and setup_proc
    os.mknod(os.path.join(t, "dev", "null"), 0o666 | stat.S_IFCHR,
             os.makedev(1, 3))
    subprocess.run(["mount", "-t", "tmpfs", "fake-proc",
                    os.path.join(t, "proc")], check=True)
    log("I: Base system installed successfully.")
    shutil.rmtree(os.path.join(t, "debootstrap"))
    return 0


def _ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


if __name__ == "__main__":
    sys.exit(main())
