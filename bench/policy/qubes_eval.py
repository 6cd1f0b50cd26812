#!/usr/bin/env python3
"""qubes_eval.py - run Qubes' own policy engine (qrexec/policy/parser.py
from a QubesOS/qubes-core-qrexec checkout) on the same inputs as
qrexec-policy-eval, for differential checks and as the benchmark baseline.

usage: qubes_eval.py QREXEC_TREE eval   DIR[:DIR] SYSINFO COMPAT SRC TGT SVC
       qubes_eval.py QREXEC_TREE bench  DIR SYSINFO REQUESTS N_LOAD DURATION
Prints the decision as key=value lines (eval), or "load_ms X" and
"evals_per_s Y" (bench).  Exit 3 if Qubes' engine cannot be imported.
"""
import asyncio
import json
import pathlib
import sys
import time

try:
    sys.path.insert(0, sys.argv[1])
    from qrexec.policy import parser, parser_compat  # noqa: E402
    from qrexec import exc  # noqa: E402
except Exception as e:  # pylint: disable=broad-except
    print("cannot import Qubes' engine: %s" % e, file=sys.stderr)
    sys.exit(3)


def load_si(path):
    with open(path, encoding="utf-8") as f:
        si = json.load(f)
    for name, dom in list(si["domains"].items()):
        dom["name"] = name
        if dom.get("uuid"):
            si["domains"]["uuid:" + dom["uuid"]] = dom
    return si


def split(svc_arg):
    if "+" in svc_arg:
        i = svc_arg.index("+")
        return svc_arg[:i], svc_arg[i:]
    return svc_arg, "+"


def decide(policy, si, src, tgt, svc_arg):
    svc, arg = split(svc_arg)
    try:
        req = parser.Request(svc, arg, src, tgt, system_info=si)
        res = policy.evaluate(req)
        if isinstance(res, parser.AskResolution):
            return "result=ask\ntargets=%s\ndefault_target=%s" % (
                ",".join(sorted(res.targets_for_ask)),
                res.default_target or "")
        return asyncio.run(res.execute())
    except exc.AccessDenied as err:
        return "result=deny\nreason=%s" % err


def main():
    mode = sys.argv[2]
    if mode == "eval":
        dirs, sifile, compat, src, tgt, svc = sys.argv[3:9]
        parser_compat.POLICYPATH_OLD = pathlib.Path(compat)
        si = load_si(sifile)
        try:
            policy = parser.FilePolicy(
                policy_path=[pathlib.Path(d) for d in dirs.split(":")])
        except exc.AccessDenied as err:
            print("result=deny\nreason=%s" % err)
            return 1
        print(decide(policy, si, src, tgt, svc))
        return 0
    if mode == "bench":
        pdir, sifile, reqfile, nload, duration = sys.argv[3:8]
        si = load_si(sifile)
        t0 = time.perf_counter()
        for _ in range(int(nload)):
            policy = parser.FilePolicy(policy_path=[pathlib.Path(pdir)])
        load_ms = (time.perf_counter() - t0) * 1000 / int(nload)
        with open(reqfile, encoding="utf-8") as f:
            reqs = [l.split() for l in f if l.strip()]
        n = 0
        t0 = time.perf_counter()
        deadline = t0 + float(duration)
        while time.perf_counter() < deadline:
            for src, tgt, svc_arg in reqs:
                svc, arg = split(svc_arg)
                try:
                    req = parser.Request(svc, arg, src, tgt, system_info=si)
                    policy.evaluate(req)
                except exc.AccessDenied:
                    pass
                n += 1
        el = time.perf_counter() - t0
        print("load_ms %.3f" % load_ms)
        print("evals_per_s %.1f" % (n / el))
        return 0
    print("unknown mode", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
