"""Browser (noVNC in headless Chromium) helpers for bulkhead's GUI tests
(issue #8): install the pinned npm packages into a cache outside the
repo, fill a VNC output's --http-dir, run drive.mjs.

    import bhbrowser
    modules, why = bhbrowser.setup()      # why: a SKIP reason, or None
    bhbrowser.prepare_http_dir(modules, http_dir)
    rc, steps, err = bhbrowser.drive(modules, bhbrowser.page_url(h, p),
                                     ["--click", "200,200", "--type", "a"])

Chromium is Debian's /usr/bin/chromium (BULKHEAD_CHROMIUM to change),
never one Playwright downloads.  The cache is BULKHEAD_BROWSER_CACHE, or
$BULKHEAD_BUILD_DIR/browser-cache; packages go into a directory named
after package-lock.json's hash, so a version bump installs afresh."""

import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("BULKHEAD_BUILD_DIR") or os.path.join(
    HERE, "..", "..", "..", "build")
CHROMIUM = os.environ.get("BULKHEAD_CHROMIUM", "/usr/bin/chromium")
CACHE = os.environ.get("BULKHEAD_BROWSER_CACHE") or os.path.join(
    BUILD, "browser-cache")


def setup():
    """(node_modules dir, None), or (None, why the browser tests skip)."""
    if not os.access(CHROMIUM, os.X_OK):
        return None, "%s not installed (apt-get install chromium)" % CHROMIUM
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        return None, "node or npm not installed"
    with open(os.path.join(HERE, "package-lock.json"), "rb") as f:
        tag = hashlib.sha256(f.read()).hexdigest()[:16]
    dest = os.path.join(CACHE, "npm-" + tag)
    modules = os.path.join(dest, "node_modules")
    if os.path.isdir(modules):
        return modules, None
    os.makedirs(CACHE, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="npm-tmp-", dir=CACHE)
    try:
        for f in ("package.json", "package-lock.json"):
            shutil.copy(os.path.join(HERE, f), tmp)
        env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
        # --ignore-scripts: no install script runs (none downloads a
        # browser either way: playwright-core has none)
        r = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund",
             "--cache", os.path.join(CACHE, "npm-cache")],
            cwd=tmp, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=240)
        if r.returncode != 0:
            last = [ln for ln in r.stdout.decode(
                errors="replace").strip().splitlines()
                if "complete log" not in ln and ln.strip() != "npm error"]
            code = [ln for ln in last if " code " in ln or "errno" in ln]
            return None, "npm ci failed (registry unreachable?): %s" % (
                "; ".join(code[:2]) if code else last[-1] if last else
                "exit %d" % r.returncode)
        try:
            os.rename(tmp, dest)
        except OSError:
            if not os.path.isdir(modules):  # not a concurrent install
                raise
        return modules, None
    except subprocess.TimeoutExpired:
        return None, "npm ci timed out (registry unreachable?)"
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def prepare_http_dir(modules, http_dir, tree=False):
    """bh.html and the bundled noVNC (novnc-rfb.js) into http_dir; with
    tree, also the unbundled noVNC and bh-tree.html."""
    subprocess.run(
        ["node", os.path.join(HERE, "prepare.mjs"), "--modules", modules,
         http_dir] + (["--tree"] if tree else []),
        check=True, timeout=60)


def page_url(http_port, rfb_port, page="bh.html", host="127.0.0.1"):
    return "http://%s:%d/%s?ws=ws://%s:%d/" % (host, http_port, page, host,
                                                rfb_port)


def drive(modules, url, steps, timeout_ms=10000, run_timeout=120):
    """Run drive.mjs: (exit status, its JSON lines as dicts, stderr)."""
    r = subprocess.run(
        ["node", os.path.join(HERE, "drive.mjs"), "--modules", modules,
         "--chromium", CHROMIUM, "--url", url, "--timeout", str(timeout_ms)]
        + list(steps),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=run_timeout)
    out = []
    for line in r.stdout.decode(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"step": "garbage", "ok": False, "line": line})
    return r.returncode, out, r.stderr.decode(errors="replace")


def free_port():
    """A TCP port free on 127.0.0.1 now (racy, but only for tests)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


if __name__ == "__main__":
    # python3 bhbrowser.py prepare DIR: install (cache), fill DIR for a
    # VNC output's --http-dir, print the node_modules dir for drive.mjs
    import sys
    if len(sys.argv) != 3 or sys.argv[1] != "prepare":
        sys.exit("usage: bhbrowser.py prepare HTTP_DIR")
    mods, reason = setup()
    if mods is None:
        sys.exit("bhbrowser: " + reason)
    prepare_http_dir(mods, sys.argv[2])
    print(mods)
