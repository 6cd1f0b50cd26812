#!/usr/bin/env python3
"""Regression tests of the qvm-* tools, against a fake Admin API daemon.

Each test is named after the problem it guards against (see its
docstring).  Uses fake_qubesd.py as test_cli.py does; TAP output, one
line a test.  Standard library only.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fake_qubesd  # noqa: E402

BUILD = os.environ.get("BULKHEAD_BUILD_DIR") or os.path.join(
    HERE, "..", "..", "build")
BIN = os.path.join(BUILD, "src", "cli")

TMP = tempfile.mkdtemp(prefix="bulkhead-cli-regress-")
SOCK = os.path.join(TMP, "qubesd.sock")


class Fake(fake_qubesd.FakeQubesd):
    """The fake, with admin.vm.List broken once a qube has been created:
    list_after_create is None (normal), "fail" (an exception) or "omit"
    (the new qube is left out)."""

    def reset(self):
        super().reset()
        self.list_after_create = None
        self.created = set()

    def handle(self, method, arg, src, dest, payload):
        if method == "admin.vm.List" and self.created:
            if self.list_after_create == "fail":
                raise fake_qubesd.QubesError("QubesException",
                                             "list broken")
            if self.list_after_create == "omit":
                out = super().handle(method, arg, src, dest, payload)
                return "".join(l + "\n" for l in out.splitlines()
                               if l.split(" ")[0] not in self.created)
        out = super().handle(method, arg, src, dest, payload)
        if method.startswith("admin.vm.Create"):
            name = payload.decode().split(" ")[0].split("=", 1)[1]
            self.created.add(name)
        return out


FAKE = Fake(SOCK)


class Fail(Exception):
    pass


def check(cond, msg="check failed"):
    if not cond:
        raise Fail(msg)


def eq(a, b, what=""):
    if a != b:
        raise Fail("%s: expected %r, got %r" % (what or "value", b, a))


def run(tool, *args, env=None, stdout=subprocess.PIPE, timeout=60):
    e = dict(os.environ)
    e["BULKHEAD_ADMIN_SOCKET"] = SOCK
    e.pop("DISPLAY", None)
    if env:
        e.update(env)
    p = subprocess.run([os.path.join(BIN, tool)] + list(args),
                       stdin=subprocess.DEVNULL, stdout=stdout,
                       stderr=subprocess.PIPE, env=e, timeout=timeout)
    return (p.returncode, (p.stdout or b"").decode(),
            p.stderr.decode())


def calls():
    """(method, arg, dest, payload) of each call, without admin.vm.List."""
    return [(c["method"], c["arg"], c["dest"], c["payload"])
            for c in FAKE.calls if c["method"] != "admin.vm.List"]


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


@test
def clone_list_fails_after_create():
    """qvm-clone: admin.vm.List failing after the copy was created left
    the half-made copy behind."""
    for mode, msg in (("fail", "list broken"),
                      ("omit", "w5: not listed after its creation")):
        FAKE.reset()
        FAKE.list_after_create = mode
        rc, _, err = run("qvm-clone", "work", "w5")
        eq(rc, 1, mode)
        check(msg in err, err)
        eq(calls()[-1], ("admin.vm.Remove", "", "w5", ""), mode)
        check("w5" not in FAKE.qubes, mode)


@test
def clone_fetches_properties_once():
    """qvm-clone: the source's properties were fetched twice."""
    rc, _, err = run("qvm-clone", "work", "w6")
    eq((rc, err), (0, ""))
    eq([c for c in calls() if c[0] == "admin.vm.property.GetAll"],
       [("admin.vm.property.GetAll", "", "work", "")])
    check(("admin.vm.property.Set", "memory", "w6", "800") in calls(),
          calls())


@test
def clone_feature_removed_meanwhile():
    """qvm-clone: a feature removed between feature.List and feature.Get
    failed the clone; it is left out, as everywhere else
    (cli_get_features)."""
    FAKE.fail["admin.vm.feature.Get"] = fake_qubesd.QubesError(
        "QubesFeatureNotFoundError", "x")
    rc, _, err = run("qvm-clone", "work", "w7")
    eq((rc, err), (0, ""))
    sets = [c[1] for c in calls() if c[0] == "admin.vm.feature.Set"]
    eq(len(sets), len(FAKE.qubes["work"].features) - 1, sets)
    check("w7" in FAKE.qubes)


@test
def qubesd_query_output_lost():
    """qubesd-query: a reply it could not write to standard output (a
    full disk) exited 0."""
    with open("/dev/full", "wb") as full:
        for args in (("-e", "dom0", "admin.vm.List", "work"),
                     ("-e", "--null", "dom0", "admin.vm.List", "work"),
                     ("--fail", "-e", "dom0", "admin.vm.List", "work")):
            rc, _, err = run("qubesd-query", *args, stdout=full)
            eq(rc, 1, args)
            check("qubesd-query: standard output: No space left on device"
                  in err, err)
    rc, out, err = run("qubesd-query", "-e", "dom0", "admin.vm.List",
                       "work")
    eq((rc, err), (0, ""))
    check(out.startswith("0\0work class=AppVM"), out)


def main():
    FAKE.start()
    print("TAP version 13")
    failed = 0
    try:
        for i, fn in enumerate(TESTS, 1):
            FAKE.reset()
            try:
                fn()
                print("ok %d - %s" % (i, fn.__name__))
            except Exception as e:  # noqa: BLE001 - report, go on
                failed += 1
                print("not ok %d - %s" % (i, fn.__name__))
                detail = e if isinstance(e, Fail) else \
                    traceback.format_exc()
                for line in str(detail).splitlines():
                    print("#   " + line)
            sys.stdout.flush()
    finally:
        FAKE.stop()
        shutil.rmtree(TMP, ignore_errors=True)
    print("1..%d" % len(TESTS))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
