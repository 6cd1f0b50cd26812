#!/usr/bin/env python3
"""A fake Admin API daemon for the tests of the qvm-* tools.

It speaks qubesd's wire format (reference/admin-client.md; Qubes'
qubes/api/__init__.py) over a UNIX socket, keeps a small qube model in
memory and records every call it receives, so that a test can check both
what a tool printed and which calls it made.

Used two ways:
  - imported: FakeQubesd(path).start() serves from a thread; .calls lists
    the calls, .reset() restores the model;
  - run: fake_qubesd.py SOCKET [--log FILE] serves until killed, appending
    one JSON line a call to FILE (to try tools, or Qubes' own, by hand).

Standard library only.
"""

import json
import os
import socket
import sys
import threading
import time
import uuid as uuidlib

LABELS = [
    ("red", 1, "0xcc0000"),
    ("orange", 2, "0xf57900"),
    ("yellow", 3, "0xedd400"),
    ("green", 4, "0x73d216"),
    ("gray", 5, "0x555555"),
    ("blue", 6, "0x3465a4"),
    ("purple", 7, "0x75507b"),
    ("black", 8, "0x000000"),
]

CLASSES = ["AdminVM", "AppVM", "DispVM", "StandaloneVM", "TemplateVM"]
STATES = ["Halted", "Transient", "Running", "Paused", "Suspended",
          "Halting", "Dying", "Crashed", "NA"]


class QubesError(Exception):
    """An exception reply: type name and message."""

    def __init__(self, exc_type, message=""):
        super().__init__(message)
        self.exc_type = exc_type
        self.message = message


def protocol_error(msg=""):
    return QubesError("ProtocolError", msg)


# Global properties: name -> (type, default).  A default of ("ref", X) is
# another global; None is no value.
GLOBAL_PROPS = {
    "check_updates_vm": ("bool", "True"),
    "clockvm": ("vm", "sys-net"),
    "default_audiovm": ("vm", "dom0"),
    "default_dispvm": ("vm", "default-dvm"),
    "default_guivm": ("vm", "dom0"),
    "default_kernel": ("str", "6.6.1"),
    "default_netvm": ("vm", "sys-firewall"),
    "default_pool": ("str", "varlibqubes"),
    "default_pool_private": ("str", "varlibqubes"),
    "default_pool_root": ("str", "varlibqubes"),
    "default_pool_volatile": ("str", "varlibqubes"),
    "default_qrexec_timeout": ("int", "60"),
    "default_shutdown_timeout": ("int", "60"),
    "default_template": ("vm", "fedora-40"),
    "management_dispvm": ("vm", "default-dvm"),
    "stats_interval": ("int", "3"),
    "updatevm": ("vm", "sys-net"),
}

# Per-qube properties: name -> (type, default function(qube, fake)).
def _d(v):
    return lambda q, f: v


def _global(name):
    return lambda q, f: f.global_value(name)


def _netvm_default(q, f):
    if q.props.get("provides_network") == "True" or q.klass == "TemplateVM":
        return ""
    return f.global_value("default_netvm")


def _ip(q, f):
    if f.vm_value(q, "netvm") == "":
        return ""
    return "10.137.0.%d" % q.qid


def _updateable(q, f):
    return "True" if q.klass in ("TemplateVM", "StandaloneVM") else "False"


def _xid(q, f):
    return str(q.qid + 100) if q.state != "Halted" else "-1"


VM_PROPS = {
    "audiovm": ("vm", _global("default_audiovm")),
    "autostart": ("bool", _d("False")),
    "debug": ("bool", _d("False")),
    "default_dispvm": ("vm", _global("default_dispvm")),
    "default_user": ("str", _d("user")),
    "guivm": ("vm", _global("default_guivm")),
    "include_in_backups": ("bool", _d("True")),
    "installed_by_rpm": ("bool", _d("False")),
    "ip": ("str", _ip),
    "kernel": ("str", _global("default_kernel")),
    "kernelopts": ("str", _d("swiotlb=2048")),
    "label": ("label", None),
    "mac": ("str", _d("00:16:3e:5e:6c:00")),
    "management_dispvm": ("vm", _global("management_dispvm")),
    "maxmem": ("int", _d("4000")),
    "memory": ("int", _d("400")),
    "name": ("str", None),
    "netvm": ("vm", _netvm_default),
    "provides_network": ("bool", _d("False")),
    "qid": ("int", None),
    "qrexec_timeout": ("int", _d("60")),
    "shutdown_timeout": ("int", _d("60")),
    "template_for_dispvms": ("bool", _d("False")),
    "updateable": ("bool", _updateable),
    "uuid": ("str", None),
    "vcpus": ("int", _d("2")),
    "virt_mode": ("str", _d("pvh")),
    "xid": ("int", _xid),
    "description": ("str", _d("")),
    "stubdom_mem": ("int", _d("")),
}
VM_PROPS_TEMPLATE = {"template": ("vm", None)}
# What each class has beyond the common set.
CLASS_PROPS = {
    "AdminVM": {"name", "label", "qid", "uuid", "xid", "default_dispvm",
                "icon_placeholder"},
    "AppVM": set(VM_PROPS) | {"template"},
    "DispVM": set(VM_PROPS) | {"template", "auto_cleanup"},
    "StandaloneVM": set(VM_PROPS),
    "TemplateVM": set(VM_PROPS),
}
READ_ONLY = {"qid", "uuid", "xid", "ip", "updateable", "name", "stubdom_mem"}
HELP = {
    "netvm": "VM that provides network connection to this domain.",
    "label": "Colourful label assigned to VM. This is where the colour of "
             "the padlock is set.",
}


class Qube:
    def __init__(self, name, klass, qid, label, state="Halted", **props):
        self.name = name
        self.klass = klass
        self.qid = qid
        self.uuid = str(uuidlib.UUID(int=qid + 0x1000))
        self.state = state
        self.props = {"label": label}
        for k, v in props.items():
            self.props[k] = v
        self.features = {}
        self.tags = set()
        self.volumes = {}
        self.firewall = "action=accept\n"
        # test knobs: seconds until a shutdown completes (None: at once),
        # and whether shutdown never completes
        self.shutdown_delay = None
        self.stuck = False

    def prop_names(self):
        names = set(CLASS_PROPS[self.klass])
        names.discard("icon_placeholder")
        return sorted(names)


def escape_getall(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n")


class FakeQubesd:
    def __init__(self, path):
        self.path = path
        self.calls = []
        self.lock = threading.RLock()
        self.subscribers = []
        self.fail = {}  # method -> QubesError, injected once
        self.unsupported = set()  # methods answered with ProtocolError
        self.empty_reply = set()  # methods answered with nothing
        self.raw_reply = {}  # method -> raw bytes to send instead
        self.delay = {}  # method -> seconds to sleep before answering
        self.log_file = None
        self.sock = None
        self.thread = None
        self.reset()

    # ---- model ----

    def reset(self):
        with self.lock:
            self.calls = []
            self.fail = {}
            self.unsupported = set()
            self.empty_reply = set()
            self.raw_reply = {}
            self.delay = {}
            self.labels = list(LABELS)
            self.globals = {}
            self.disp_counter = 100
            q = {}

            def add(*a, **kw):
                vm = Qube(*a, **kw)
                q[vm.name] = vm
                return vm

            add("dom0", "AdminVM", 0, "black", "Running")
            t = add("fedora-40", "TemplateVM", 1, "black")
            t.features.update({"os": "Linux", "vmexec": "1",
                               "supported-rpc.qubes.VMRootExec": "1",
                               "gui": "1"})
            n = add("sys-net", "AppVM", 2, "red", "Running",
                    provides_network="True", template="fedora-40")
            n.features["service.network-manager"] = "1"
            add("sys-firewall", "AppVM", 3, "green", "Running",
                provides_network="True", template="fedora-40",
                netvm="sys-net")
            w = add("work", "AppVM", 4, "blue", "Running",
                    template="fedora-40", memory="800")
            w.features.update({"service.cups": "1", "service.crond": "",
                               "x-note": "multi word value"})
            w.tags.update({"created-by-dom0", "project-x"})
            p = add("personal", "AppVM", 5, "yellow", template="fedora-40")
            p.tags.add("created-by-dom0")
            add("vault", "AppVM", 6, "black", template="fedora-40",
                netvm="")
            add("default-dvm", "AppVM", 7, "red", template="fedora-40",
                template_for_dispvms="True")
            u = add("untrusted", "AppVM", 8, "red", "Paused",
                    template="fedora-40", description="line1\nline2 \\ end")
            u.features["internal"] = "1"
            for vm in q.values():
                self._default_volumes(vm)
            self.qubes = q

    def _default_volumes(self, vm):
        if vm.klass == "AdminVM":
            return
        own_root = vm.klass in ("TemplateVM", "StandaloneVM")
        vm.volumes = {
            "kernel": {"pool": "linux-kernel", "size": "0", "usage": "0",
                       "rw": "False", "save_on_stop": "False",
                       "snap_on_start": "False"},
            "private": {"pool": "varlibqubes", "size": str(2 << 30),
                        "usage": str(300 << 20), "rw": "True",
                        "save_on_stop": "True", "snap_on_start": "False"},
            "root": {"pool": "varlibqubes", "size": str(10 << 30),
                     "usage": str((4 << 30) if own_root else 0),
                     "rw": "True", "save_on_stop": str(own_root),
                     "snap_on_start": str(not own_root)},
            "volatile": {"pool": "varlibqubes", "size": str(10 << 30),
                         "usage": "0", "rw": "True",
                         "save_on_stop": "False", "snap_on_start": "False"},
        }

    def global_value(self, name):
        if name in self.globals:
            return self.globals[name]
        return GLOBAL_PROPS[name][1]

    def vm_value(self, vm, name):
        """(value) of a qube property, its default if unset."""
        return self._vm_prop(vm, name)[1]

    def _vm_prop(self, vm, name):
        """(is_default, value, type)"""
        if name not in CLASS_PROPS[vm.klass] or name == "icon_placeholder":
            raise QubesError("QubesNoSuchPropertyError",
                             "Invalid property %r of %s" % (name, vm.name))
        if name == "name":
            return (False, vm.name, "str")
        if name == "qid":
            return (False, str(vm.qid), "int")
        if name == "uuid":
            return (False, vm.uuid, "str")
        if name == "template":
            return (False, vm.props.get("template", ""), "vm")
        if name == "auto_cleanup":
            v = vm.props.get("auto_cleanup")
            return (v is None, v or "False", "bool")
        ptype, default = VM_PROPS[name]
        if name in vm.props:
            return (False, vm.props[name], ptype)
        if default is None:
            return (True, "", ptype)
        return (True, default(vm, self), ptype)

    def vm(self, name):
        if name not in self.qubes:
            raise QubesError("QubesVMNotFoundError",
                             "No such domain: %r" % name)
        return self.qubes[name]

    def _emit(self, subject, event, **kw):
        data = b"1\0" + subject.encode() + b"\0" + event.encode() + b"\0"
        for k, v in kw.items():
            data += k.encode() + b"\0" + str(v).encode() + b"\0"
        data += b"\0"
        for s in list(self.subscribers):
            try:
                s.sendall(data)
            except OSError:
                self.subscribers.remove(s)

    def _halt_later(self, vm, delay):
        def run():
            time.sleep(delay)
            with self.lock:
                if vm.state == "Halting":
                    vm.state = "Halted"
                    self._emit(vm.name, "domain-shutdown")
        threading.Thread(target=run, daemon=True).start()

    def _in_use(self, vm, running_only):
        users = []
        for other in self.qubes.values():
            if other is vm or other.klass == "AdminVM":
                continue
            if running_only and other.state == "Halted":
                continue
            for p in ("netvm", "template", "default_dispvm"):
                try:
                    if self.vm_value(other, p) == vm.name and (
                            not running_only or p == "netvm"):
                        users.append((other.name, p))
                except QubesError:
                    pass
        return users

    # ---- methods ----

    def handle(self, method, arg, src, dest, payload):
        m = method
        if m in self.unsupported:
            raise protocol_error()
        if m in self.fail:
            raise self.fail.pop(m)
        if dest not in self.qubes and m not in ("admin.Events",):
            raise QubesError("QubesVMNotFoundError",
                             "No such domain: %r" % dest)
        vm = self.qubes[dest]
        p = payload.decode("utf-8", "surrogateescape")

        if m == "admin.vmclass.List":
            return "".join(c + "\n" for c in CLASSES)
        if m == "admin.label.List":
            return "".join(l[0] + "\n" for l in self.labels)
        if m in ("admin.label.Get", "admin.label.Index"):
            for name, idx, color in self.labels:
                if name == arg:
                    return color if m.endswith("Get") else str(idx)
            raise QubesError("QubesLabelNotFoundError",
                             "Label does not exist: %s" % arg)
        if m == "admin.vm.List":
            qs = sorted(self.qubes.values(), key=lambda q: q.name) \
                if dest == "dom0" else [vm]
            return "".join("%s class=%s state=%s uuid=%s\n" % (
                q.name, q.klass, q.state, q.uuid) for q in qs)
        if m.startswith("admin.property."):
            return self._global_prop(m[len("admin.property."):], arg, p)
        if m.startswith("admin.vm.property."):
            return self._vm_prop_call(vm, m[len("admin.vm.property."):],
                                      arg, p)
        if m.startswith("admin.vm.feature."):
            return self._feature(vm, m[len("admin.vm.feature."):], arg, p)
        if m.startswith("admin.vm.tag."):
            return self._tag(vm, m[len("admin.vm.tag."):], arg, p)
        if m.startswith("admin.vm.volume."):
            return self._volume(vm, m[len("admin.vm.volume."):], arg, p)
        if m.startswith("admin.vm.Create.") or \
                m.startswith("admin.vm.CreateInPool."):
            return self._create(m.split(".", 3)[3], arg, p,
                                "InPool" in m)
        if m == "admin.vm.CreateDisposable":
            return self._create_disposable(vm)
        if m == "admin.vm.Remove":
            if vm.klass == "AdminVM":
                raise protocol_error()
            if vm.state != "Halted":
                raise QubesError("QubesVMNotHaltedError",
                                 "Domain is not powered off: %r" % vm.name)
            users = self._in_use(vm, False)
            gusers = [g for g in GLOBAL_PROPS
                      if GLOBAL_PROPS[g][0] == "vm" and
                      self.global_value(g) == vm.name]
            if users or gusers:
                raise QubesError("QubesVMInUseError",
                                 "VM in use: %r" % vm.name)
            del self.qubes[vm.name]
            return ""
        if m == "admin.vm.CurrentState":
            mem = 0 if vm.state == "Halted" else 409600
            return "mem=%d mem_static_max=4096000 cputime=%d " \
                   "power_state=%s" % (mem, 12 if mem else 0, vm.state)
        if m == "admin.vm.Start":
            if vm.state != "Halted":
                raise QubesError("QubesVMNotHaltedError",
                                 "Domain is not powered off: %r" % vm.name)
            if vm.features.get("prohibit-start"):
                raise QubesError("QubesException",
                                 "Qube start is prohibited. Rationale: %s"
                                 % vm.features["prohibit-start"])
            vm.state = "Running"
            self._emit(vm.name, "domain-start")
            return ""
        if m == "admin.vm.Shutdown":
            args = arg.split("+") if arg else []
            if any(a not in ("force", "wait") for a in args):
                raise protocol_error("Argument must match: force, wait")
            if vm.state == "Halted":
                raise QubesError("QubesVMNotStartedError",
                                 "Domain is powered off: %r" % vm.name)
            if "force" not in args and self._in_use(vm, True):
                raise QubesError("QubesVMInUseError",
                                 "Domain is in use: %r" % vm.name)
            if vm.stuck:
                vm.state = "Halting"
                if "wait" in args:
                    raise QubesError("QubesVMShutdownTimeoutError",
                                     "Domain shutdown timed out: %r"
                                     % vm.name)
                return ""
            if vm.shutdown_delay is not None and "wait" not in args:
                vm.state = "Halting"
                self._halt_later(vm, vm.shutdown_delay)
                return ""
            vm.state = "Halted"
            self._emit(vm.name, "domain-shutdown")
            return ""
        if m == "admin.vm.Kill":
            if vm.state == "Halted":
                raise QubesError("QubesVMNotStartedError",
                                 "Domain is powered off: %r" % vm.name)
            vm.state = "Halted"
            self._emit(vm.name, "domain-shutdown")
            if vm.klass == "DispVM" and \
                    vm.props.get("auto_cleanup") == "True":
                del self.qubes[vm.name]
            return ""
        if m in ("admin.vm.Pause", "admin.vm.Suspend"):
            if vm.state not in ("Running", "Transient"):
                raise QubesError("QubesVMNotRunningError",
                                 "Domain is not running: %r" % vm.name)
            vm.state = "Paused" if m.endswith("Pause") else "Suspended"
            return ""
        if m == "admin.vm.Unpause":
            if vm.state != "Paused":
                raise QubesError("QubesVMNotPausedError",
                                 "Domain is not paused: %r" % vm.name)
            vm.state = "Running"
            return ""
        if m == "admin.vm.Resume":
            if vm.state != "Suspended":
                raise QubesError("QubesVMNotSuspendedError",
                                 "Domain is not suspended: %r" % vm.name)
            vm.state = "Running"
            return ""
        if m == "admin.vm.firewall.Get":
            return vm.firewall
        if m == "admin.vm.firewall.Set":
            vm.firewall = p
            return ""
        raise protocol_error()

    def _global_prop(self, op, arg, payload):
        if op == "List":
            return "".join(n + "\n" for n in sorted(GLOBAL_PROPS))
        if op == "GetAll":
            out = ""
            for n in sorted(GLOBAL_PROPS):
                out += "%s %s\n" % (n, escape_getall(self._gp_get(n)))
            return out
        if arg not in GLOBAL_PROPS:
            raise QubesError("QubesNoSuchPropertyError",
                             "Invalid property %r of dom0" % arg)
        if op == "Get":
            return self._gp_get(arg)
        if op == "GetDefault":
            return "type=%s %s" % (GLOBAL_PROPS[arg][0],
                                   GLOBAL_PROPS[arg][1])
        if op == "Help":
            return "Global property %s." % arg
        if op == "Set":
            ptype = GLOBAL_PROPS[arg][0]
            self._check_value(ptype, payload, arg)
            self.globals[arg] = payload
            return ""
        if op == "Reset":
            self.globals.pop(arg, None)
            return ""
        raise protocol_error()

    def _gp_get(self, name):
        ptype = GLOBAL_PROPS[name][0]
        return "default=%s type=%s %s" % (name not in self.globals, ptype,
                                          self.global_value(name))

    def _check_value(self, ptype, value, name):
        if ptype == "int":
            try:
                int(value)
            except ValueError:
                raise QubesError("QubesPropertyValueError",
                                 "Invalid value for property %s" % name)
        elif ptype == "bool":
            if value.lower() not in ("true", "false", "1", "0", "yes",
                                     "no", "on", "off"):
                raise QubesError("QubesPropertyValueError",
                                 "Invalid bool value: %s" % value)
        elif ptype == "vm":
            if value != "" and value not in self.qubes:
                raise QubesError("QubesVMNotFoundError",
                                 "No such domain: %r" % value)
        elif ptype == "label":
            if value not in [l[0] for l in self.labels]:
                raise QubesError("QubesLabelNotFoundError",
                                 "Label does not exist: %s" % value)

    def _vm_prop_call(self, vm, op, arg, payload):
        if op == "List":
            return "".join(n + "\n" for n in vm.prop_names())
        if op == "GetAll":
            out = ""
            for n in vm.prop_names():
                d, v, t = self._vm_prop(vm, n)
                out += "%s %s\n" % (n, escape_getall(
                    "default=%s type=%s %s" % (d, t, v)))
            return out
        if op == "Get":
            d, v, t = self._vm_prop(vm, arg)
            return "default=%s type=%s %s" % (d, t, v)
        if op == "GetDefault":
            self._vm_prop(vm, arg)
            t, default = VM_PROPS.get(arg, ("str", None))
            if default is None:
                return ""
            return "type=%s %s" % (t, default(vm, self))
        if op == "Help":
            self._vm_prop(vm, arg)
            return HELP.get(arg, "Property %s." % arg)
        if op == "Set":
            d, v, t = self._vm_prop(vm, arg)
            if arg in READ_ONLY:
                raise QubesError("QubesValueError",
                                 "Property %s is read-only" % arg)
            self._check_value(t, payload, arg)
            if t == "bool":
                payload = str(payload.lower() in ("true", "1", "yes", "on"))
            vm.props[arg] = payload
            return ""
        if op == "Reset":
            self._vm_prop(vm, arg)
            if arg in ("label", "template") or arg in READ_ONLY:
                raise QubesError("QubesValueError",
                                 "Property %s has no default" % arg)
            vm.props.pop(arg, None)
            return ""
        raise protocol_error()

    def _feature(self, vm, op, arg, payload):
        def notfound():
            return QubesError("QubesFeatureNotFoundError",
                              "Feature not set for domain %s: %s"
                              % (vm.name, arg))
        if op == "List":
            return "".join(f + "\n" for f in sorted(vm.features))
        if op == "Get":
            if arg not in vm.features:
                raise notfound()
            return vm.features[arg]
        if op == "Set":
            vm.features[arg] = payload
            return ""
        if op == "Remove":
            if arg not in vm.features:
                raise notfound()
            del vm.features[arg]
            return ""
        if op == "CheckWithTemplate":
            if arg in vm.features:
                return vm.features[arg]
            t = vm.props.get("template")
            if t and t in self.qubes and arg in self.qubes[t].features:
                return self.qubes[t].features[arg]
            raise notfound()
        raise protocol_error()

    def _tag(self, vm, op, arg, payload):
        if op == "List":
            return "".join(t + "\n" for t in sorted(vm.tags))
        if op == "Get":
            return "1" if arg in vm.tags else "0"
        if op == "Set":
            vm.tags.add(arg)
            return ""
        if op == "Remove":
            if arg not in vm.tags:
                raise QubesError("QubesTagNotFoundError",
                                 "Tag not set for domain %s: %s"
                                 % (vm.name, arg))
            vm.tags.discard(arg)
            return ""
        raise protocol_error()

    def _volume(self, vm, op, arg, payload):
        if op == "List":
            return "".join(v + "\n" for v in sorted(vm.volumes))
        if arg not in vm.volumes:
            raise QubesError("QubesException", "No such volume: %s" % arg)
        vol = vm.volumes[arg]
        if op == "Info":
            return "".join("%s=%s\n" % (k, vol[k]) for k in sorted(vol))
        if op == "CloneFrom":
            token = "tok-%s-%s" % (vm.name, arg)
            self.clone_tokens = getattr(self, "clone_tokens", {})
            self.clone_tokens[token] = vol
            return token
        if op == "CloneTo":
            tokens = getattr(self, "clone_tokens", {})
            if payload not in tokens:
                raise protocol_error("bad token")
            vol["usage"] = tokens.pop(payload)["usage"]
            return ""
        raise protocol_error()

    def _create(self, klass, template, payload, in_pool):
        if klass not in CLASSES or klass == "AdminVM":
            raise protocol_error()
        kv = {}
        pools = {}
        for tok in payload.split(" "):
            if "=" not in tok:
                raise protocol_error("bad payload")
            k, v = tok.split("=", 1)
            if k.startswith("pool"):
                if not in_pool:
                    raise protocol_error("pool in Create")
                pools[k] = v
            else:
                kv[k] = v
        if set(kv) != {"name", "label"}:
            raise protocol_error("bad payload")
        name = kv["name"]
        if name in self.qubes:
            raise QubesError("QubesValueError",
                             "VM %s already exists" % name)
        if not name[:1].isalpha() or len(name) > 31:
            raise QubesError("QubesValueError", "Invalid VM name")
        if kv["label"] not in [l[0] for l in self.labels]:
            raise QubesError("QubesLabelNotFoundError",
                             "Label does not exist: %s" % kv["label"])
        props = {}
        if klass in ("AppVM", "DispVM"):
            t = template or (self.global_value("default_template")
                             if klass == "AppVM" else "")
            if t not in self.qubes:
                raise QubesError("QubesVMNotFoundError",
                                 "No such domain: %r" % t)
            props["template"] = t
        elif template:
            raise protocol_error("template given for %s" % klass)
        qid = max(q.qid for q in self.qubes.values()) + 1
        vm = Qube(name, klass, qid, kv["label"], **props)
        vm.tags.add("created-by-dom0")
        self._default_volumes(vm)
        for k, v in pools.items():
            if k == "pool":
                for vol in vm.volumes.values():
                    vol["pool"] = v
            else:
                vm.volumes[k.split(":", 1)[1]]["pool"] = v
        self.qubes[name] = vm
        self._emit(name, "domain-add")
        return ""

    def _create_disposable(self, dest):
        if dest.name == "dom0":
            tname = self.vm_value(dest, "default_dispvm")
        else:
            tname = dest.name
        t = self.qubes.get(tname)
        if t is None or t.props.get("template_for_dispvms") != "True":
            raise QubesError("QubesException",
                             "Refusing to create DispVM out of this AppVM, "
                             "because template_for_dispvms=False")
        self.disp_counter += 1
        name = "disp%d" % self.disp_counter
        qid = max(q.qid for q in self.qubes.values()) + 1
        vm = Qube(name, "DispVM", qid, t.props["label"], template=tname,
                  auto_cleanup="True")
        vm.tags.update({"created-by-dom0", "disp-created-by-dom0"})
        self._default_volumes(vm)
        self.qubes[name] = vm
        return name

    # ---- wire ----

    def _record(self, method, arg, src, dest, payload):
        entry = {"method": method, "arg": arg, "src": src, "dest": dest,
                 "payload": payload.decode("utf-8", "replace")}
        self.calls.append(entry)
        if self.log_file is not None:
            with open(self.log_file, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def serve_conn(self, conn):
        try:
            data = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
                if len(data) > 65536:
                    conn.close()
                    return
            header, sep, payload = data.partition(b"\0")
            if not sep:
                conn.close()
                return
            parts = header.decode("ascii").split(" ")
            if len(parts) != 4 or parts[2] not in ("name", "keyword"):
                conn.close()
                return
            meth_arg, src, _, dest = parts
            if parts[2] == "keyword" and dest == "adminvm":
                dest = "dom0"
            method, _, arg = meth_arg.partition("+")
            with self.lock:
                self._record(method, arg, src, dest, payload)
                delay = self.delay.get(method, 0)
            if delay:
                time.sleep(delay)
            if method == "admin.Events":
                conn.sendall(b"1\0\0connection-established\0\0")
                with self.lock:
                    self.subscribers.append(conn)
                return  # kept open; closed by the server's shutdown
            with self.lock:
                if method in self.empty_reply:
                    conn.close()
                    return
                if method in self.raw_reply:
                    conn.sendall(self.raw_reply[method])
                    conn.close()
                    return
                try:
                    out = self.handle(method, arg, src, dest, payload)
                    reply = b"0\0" + (out or "").encode("utf-8")
                except QubesError as e:
                    reply = (b"2\0" + e.exc_type.encode() + b"\0\0" +
                             e.message.encode("utf-8") + b"\0")
            conn.sendall(reply)
            conn.shutdown(socket.SHUT_WR)
            conn.close()
        except OSError:
            conn.close()

    def start(self):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(64)
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()
        return self

    def _loop(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve_conn, args=(conn,),
                             daemon=True).start()

    def stop(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        for s in list(self.subscribers):
            try:
                s.close()
            except OSError:
                pass
        self.subscribers = []
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def main():
    if len(sys.argv) < 2:
        print("usage: fake_qubesd.py SOCKET [--log FILE]", file=sys.stderr)
        return 2
    fake = FakeQubesd(sys.argv[1])
    if len(sys.argv) >= 4 and sys.argv[2] == "--log":
        fake.log_file = sys.argv[3]
    fake.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
