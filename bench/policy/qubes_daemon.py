#!/usr/bin/env python3
"""qubes_daemon.py QREXEC_TREE SOCKET POLICY_DIR SYSINFO - run Qubes' own
qrexec-policy-daemon (qrexec/tools/qrexec_policy_daemon.py) for the
round-trip baseline.  pyinotify is not needed for serving: a stub stands
in (the policy never changes during the benchmark), and system info
comes from SYSINFO instead of qubesd (as our daemon's --system-info)."""
import asyncio
import json
import os
import sys
import types

tree, sock, pdir, sifile = sys.argv[1:5]
stub = types.ModuleType("pyinotify")
stub.ProcessEvent = object
sys.modules.setdefault("pyinotify", stub)
sys.path.insert(0, tree)
try:
    from qrexec import utils  # noqa: E402
    from qrexec.tools import qrexec_policy_daemon as qpd  # noqa: E402
    from qrexec.tools import qrexec_policy_exec as qpe  # noqa: E402
except Exception as e:  # pylint: disable=broad-except
    print("cannot import Qubes' daemon: %s" % e, file=sys.stderr)
    sys.exit(3)

with open(sifile, encoding="utf-8") as f:
    SI = json.load(f)
for name, dom in list(SI["domains"].items()):
    dom["name"] = name
    if dom.get("uuid"):
        SI["domains"]["uuid:" + dom["uuid"]] = dom
utils.get_system_info = lambda: SI
qpe.utils.get_system_info = lambda: SI
qpd.PolicyCache.initialize_watcher = lambda self: None
d = os.path.dirname(sock)
asyncio.run(qpd.start_serving([
    "--policy-path", pdir, "--socket-path", sock,
    "--eval-socket-path", os.path.join(d, "eval.sock"),
    "--gui-socket-path", os.path.join(d, "gui.sock")]))
