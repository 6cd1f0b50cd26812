#!/usr/bin/env python3
"""bulkheadd's Admin API: Qubes' wire format and semantics, end to end
with the process backend (qubes as plain processes)."""

import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import bh  # noqa: E402
from bh import ApiError, expect_exc  # noqa: E402

D = bh.Bulkheadd().start()


def test_dom0_and_classes():
    q = D.qubes()
    assert q["dom0"]["class"] == "AdminVM" and q["dom0"]["state"] == "Running"
    assert q["dom0"]["uuid"] == "00000000-0000-0000-0000-000000000000"
    classes = D.call("admin.vmclass.List").split()
    assert classes == ["AdminVM", "TemplateVM", "AppVM", "StandaloneVM",
                       "DispVM"], classes


def test_labels():
    names = D.call("admin.label.List").splitlines()
    assert names == ["red", "orange", "yellow", "green", "gray", "blue",
                     "purple", "black"], names
    assert D.call("admin.label.Get", arg="red") == "0xcc0000"
    assert D.call("admin.label.Index", arg="black") == "8"
    D.call("admin.label.Create", arg="pink", payload="0xff88cc")
    assert D.call("admin.label.Get", arg="pink") == "0xff88cc"
    assert D.call("admin.label.Index", arg="pink") == "9"
    expect_exc("QubesInvalidLabelValueError", D.call, "admin.label.Create",
               arg="bad", payload="pink")
    expect_exc("QubesLabelInUseError", D.call, "admin.label.Remove",
               arg="red")
    D.call("admin.label.Remove", arg="pink")
    expect_exc("QubesLabelNotFoundError", D.call, "admin.label.Get",
               arg="pink")


def test_create():
    D.create("TemplateVM", "tpl", "black")
    D.create("AppVM", "work", "blue", template="tpl")
    D.create("StandaloneVM", "alone", "green")
    q = D.qubes()
    assert q["tpl"]["class"] == "TemplateVM" and q["tpl"]["state"] == "Halted"
    assert q["work"]["class"] == "AppVM"
    assert D.prop("work", "template") == ("tpl", False)
    assert D.prop("work", "label") == ("blue", False)
    assert "created-by-dom0" in D.call("admin.vm.tag.List", "work").split()
    expect_exc("QubesException", D.create, "AppVM", "work", "red", "tpl")
    expect_exc("QubesValueError", D.create, "AppVM", "1bad", "red", "tpl")
    expect_exc("QubesValueError", D.create, "AppVM", "x" * 32, "red", "tpl")
    expect_exc("QubesLabelNotFoundError", D.create, "AppVM", "w2", "nope",
               "tpl")
    expect_exc("QubesVMNotFoundError", D.create, "AppVM", "w2", "red", "nope")
    expect_exc("QubesValueError", D.create, "AppVM", "w2", "red", "work")
    expect_exc("ProtocolError", D.create, "TemplateVM", "t2", "red", "tpl")
    expect_exc("ProtocolError", D.create, "AdminVM", "a2", "red")
    expect_exc("ProtocolError", D.call, "admin.vm.Create.AppVM", arg="tpl",
               payload="name=w3")
    expect_exc("ProtocolError", D.call, "admin.vm.Create.AppVM", arg="tpl",
               payload="name=w3 label=red name=w4")
    assert "w2" not in D.qubes() and "w3" not in D.qubes()


def test_default_template():
    expect_exc("QubesNoTemplateError", D.create, "AppVM", "nodefault")
    D.call("admin.property.Set", arg="default_template", payload="tpl")
    D.create("AppVM", "personal", "yellow")
    assert D.prop("personal", "template") == ("tpl", False)
    expect_exc("QubesPropertyValueError", D.call, "admin.property.Set",
               arg="default_template", payload="work")


def test_property_formats():
    v = D.call("admin.vm.property.Get", "work", "memory")
    assert v == "default=True type=int 400", v
    v = D.call("admin.vm.property.Get", "work", "netvm")
    assert v == "default=True type=vm ", v
    names = D.call("admin.vm.property.List", "work").split()
    assert names == sorted(names) and "memory" in names and "qid" in names
    lines = D.call("admin.vm.property.GetAll", "work").splitlines()
    assert [x.split(" ")[0] for x in lines] == names
    assert "label default=False type=label blue" in lines
    assert D.call("admin.vm.property.GetDefault", "work",
                  "memory") == "type=int 400"
    assert D.call("admin.vm.property.Help", "work", "memory")
    expect_exc("QubesNoSuchPropertyError", D.call, "admin.vm.property.Get",
               "work", "nonexistent")
    # template-only properties are not on a TemplateVM
    expect_exc("QubesNoSuchPropertyError", D.call, "admin.vm.property.Get",
               "tpl", "template")


def test_property_set_and_inheritance():
    D.call("admin.vm.property.Set", "tpl", "memory", "1000")
    assert D.prop("work", "memory") == ("1000", True)  # from the template
    D.call("admin.vm.property.Set", "work", "memory", "512")
    assert D.prop("work", "memory") == ("512", False)
    D.call("admin.vm.property.Reset", "work", "memory")
    assert D.prop("work", "memory") == ("1000", True)
    D.call("admin.vm.property.Set", "work", "autostart", "yes")
    assert D.prop("work", "autostart") == ("True", False)
    D.call("admin.vm.property.Set", "work", "autostart", "False")
    D.call("admin.vm.property.Set", "work", "virt_mode", "hvm")
    assert D.prop("work", "virt_mode") == ("vm", False)
    D.call("admin.vm.property.Reset", "work", "virt_mode")
    assert D.prop("work", "virt_mode") == ("sandbox", True)
    for prop, bad in (("memory", "-1"), ("memory", "12x"), ("vcpus", "0"),
                      ("autostart", "maybe"), ("virt_mode", "xen"),
                      ("label", "nolabel"), ("default_dispvm", "tpl"),
                      ("netvm", "tpl"), ("template", "work"),
                      ("default_user", "a b"), ("kernelopts", "a\nb")):
        expect_exc("QubesPropertyValueError", D.call,
                   "admin.vm.property.Set", "work", prop, bad)
    for ro in ("name", "qid", "uuid", "klass", "xid"):
        expect_exc("QubesPropertyAccessError", D.call,
                   "admin.vm.property.Set", "work", ro, "x")
    expect_exc("QubesValueError", D.call, "admin.vm.property.Reset", "work",
               "label")


def test_features_and_tags():
    D.call("admin.vm.feature.Set", "work", "service.cups", "1")
    D.call("admin.vm.feature.Set", "tpl", "gui", "1")
    assert D.call("admin.vm.feature.Get", "work", "service.cups") == "1"
    assert D.call("admin.vm.feature.List", "work").split() == ["service.cups"]
    expect_exc("QubesFeatureNotFoundError", D.call, "admin.vm.feature.Get",
               "work", "gui")
    assert D.call("admin.vm.feature.CheckWithTemplate", "work", "gui") == "1"
    D.call("admin.vm.feature.Remove", "work", "service.cups")
    expect_exc("QubesFeatureNotFoundError", D.call, "admin.vm.feature.Remove",
               "work", "service.cups")
    D.call("admin.vm.tag.Set", "work", "project-x")
    assert D.call("admin.vm.tag.Get", "work", "project-x") == "1"
    assert D.call("admin.vm.tag.Get", "work", "other") == "0"
    D.call("admin.vm.tag.Remove", "work", "project-x")
    expect_exc("QubesTagNotFoundError", D.call, "admin.vm.tag.Remove", "work",
               "project-x")
    expect_exc("QubesInvalidTagError", D.call, "admin.vm.tag.Set", "work",
               "bad@tag")


def test_global_properties():
    names = D.call("admin.property.List").split()
    assert "default_template" in names and "default_dispvm" in names
    assert D.call("admin.property.Get", arg="default_qrexec_timeout") == \
        "default=True type=int 60"
    assert "default_template default=False type=vm tpl" in \
        D.call("admin.property.GetAll").splitlines()
    expect_exc("ProtocolError", D.call, "admin.property.Get", "work",
               "default_template")


class Events:
    def __init__(self, dest="dom0", src="dom0"):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(20)
        self.s.connect(D.sock)
        self.s.sendall(("admin.Events+ %s name %s\0" % (src, dest)).encode())
        self.s.shutdown(socket.SHUT_WR)
        self.buf = b""
        assert self.next()[1] == "connection-established"

    def next(self):
        while True:
            if self.buf.startswith(b"1\0"):
                parts = self.buf[2:].split(b"\0")
                # subject, event, k, v, ..., "" (terminator)
                for end in range(2, len(parts), 2):
                    if parts[end] == b"":
                        kv = [p.decode() for p in parts[2:end]]
                        used = sum(len(p) + 1 for p in parts[:end + 1])
                        self.buf = self.buf[2 + used:]
                        return (parts[0].decode(), parts[1].decode(),
                                dict(zip(kv[::2], kv[1::2])))
            d = self.s.recv(65536)
            assert d, "event stream closed"
            self.buf += d

    def close(self):
        self.s.close()


def test_events():
    ev = Events()
    D.call("admin.vm.property.Set", "work", "vcpus", "4")
    subj, name, kv = ev.next()
    assert (subj, name) == ("work", "property-set:vcpus"), (subj, name)
    assert kv["newvalue"] == "4" and kv["name"] == "vcpus", kv
    D.create("AppVM", "evq", "red", "tpl")
    subj, name, kv = ev.next()
    assert name == "domain-add" and kv["vm"] == "evq", (name, kv)
    D.call("admin.vm.Remove", "evq")
    subj, name, kv = ev.next()
    assert name == "domain-delete" and kv["vm"] == "evq", (name, kv)
    ev.close()
    # a stream for one qube sees only that qube
    ev = Events("work")
    D.call("admin.vm.feature.Set", "personal", "x", "1")
    D.call("admin.vm.feature.Set", "work", "y", "1")
    subj, name, kv = ev.next()
    assert (subj, name) == ("work", "feature-set:y"), (subj, name)
    ev.close()


def test_qube_callers_see_what_policy_allows():
    """A qube's admin.vm.List and admin.Events (the qrexec admin.* services
    name it as the source) show only the qubes the policy lets it ask
    about, as Qubes' qubesd filters them; dom0 sees all."""
    for n in ("fmgmt", "fmine", "fother"):
        D.create("AppVM", n, "red", "tpl")
    D.call("admin.vm.tag.Set", "fmine", "mine")
    pol = os.path.join(D.conf, "policy.d", "30-admin-filter.policy")
    with open(pol, "w") as f:
        f.write("admin.vm.List * fmgmt @tag:mine allow target=dom0\n"
                "admin.Events * fmgmt @tag:mine allow target=dom0\n"
                "admin.vm.List * fmgmt @anyvm deny\n")

    def names(src, dest="dom0"):
        return {ln.split(" ")[0] for ln in
                D.call("admin.vm.List", dest, src=src).splitlines()}
    try:
        got = names("fmgmt")
        assert got == {"fmine"}, got
        assert names("fmgmt", "fother") == set()
        assert names("fmgmt", "fmine") == {"fmine"}
        assert {"dom0", "fmgmt", "fmine", "fother"} <= names("dom0")
        # a qube allowed nothing sees nothing
        assert names("fother") == set()
        # events: fother's are not shown to fmgmt, fmine's are
        ev = Events(src="fmgmt")
        D.call("admin.vm.property.Set", "fother", "vcpus", "3")
        D.call("admin.vm.property.Set", "fmine", "vcpus", "3")
        subj, name, kv = ev.next()
        assert (subj, name) == ("fmine", "property-set:vcpus"), (subj, name)
        ev.close()
        # ask is not allow for a listing
        with open(pol, "w") as f:
            f.write("admin.vm.List * fmgmt @tag:mine ask\n")
        assert names("fmgmt") == set()
        # a policy with an error shows nothing, and says why in the log
        with open(pol, "w") as f:
            f.write("admin.vm.List * fmgmt @tag:mine allow target=dom0\n"
                    "this is not a rule\n")
        assert names("fmgmt") == set()
        assert "the policy has errors" in D.log()
    finally:
        os.unlink(pol)
        for n in ("fmgmt", "fmine", "fother"):
            D.call("admin.vm.Remove", n)


def test_admin_filter_keeps_the_policy_until_it_changes():
    """The filter parses the policy again only when a file or directory it
    was read from changed: a rewrite of the same size, a file added, a
    file removed are all seen; unchanged, the next calls use the parsed
    one (its load is logged once)."""
    for n in ("cmgmt", "ca", "cb"):
        D.create("AppVM", n, "red", "tpl")
    pd = os.path.join(D.conf, "policy.d")
    pol = os.path.join(pd, "30-admin-cache.policy")
    pol2 = os.path.join(pd, "20-admin-cache.policy")

    def names():
        return {ln.split(" ")[0] for ln in
                D.call("admin.vm.List", "dom0", src="cmgmt").splitlines()}

    def loads():
        return D.log().count("admin filter: policy loaded")

    def settle():
        # a load is trusted only when what it read is 2 s old (ctimes
        # have a coarse clock); then one call loads it for good
        time.sleep(2.3)
        names()
    try:
        with open(pol, "w") as f:
            f.write("admin.vm.List * cmgmt ca allow target=dom0\n")
        settle()
        n = loads()
        assert names() == {"ca"}
        assert names() == {"ca"}
        assert loads() == n, (n, loads())
        # the same size, another target
        with open(pol, "w") as f:
            f.write("admin.vm.List * cmgmt cb allow target=dom0\n")
        assert names() == {"cb"}
        assert loads() > n
        settle()
        # a new file in the directory
        with open(pol2, "w") as f:
            f.write("admin.vm.List * cmgmt ca allow target=dom0\n")
        assert names() == {"ca", "cb"}
        settle()
        n = loads()
        os.unlink(pol2)
        assert names() == {"cb"}
        assert loads() == n + 1, (n, loads())
    finally:
        for p in (pol, pol2):
            if os.path.exists(p):
                os.unlink(p)
        for n in ("cmgmt", "ca", "cb"):
            D.call("admin.vm.Remove", n)


def test_lifecycle_and_qrexec():
    D.service("work", "test.Hello",
              "#!/bin/sh\necho \"hello $QREXEC_REMOTE_DOMAIN\"\n")
    ev = Events("work")
    D.call("admin.vm.Start", "work")
    names = []
    while "domain-start" not in names:
        names.append(ev.next()[1])
    assert names[0] == "domain-pre-start", names
    assert D.qubes()["work"]["state"] == "Running"
    st = D.call("admin.vm.CurrentState", "work")
    assert st.endswith("power_state=Running"), st
    # a domain id of its own (fresh at each start), not the qid
    assert int(D.prop("work", "xid")[0]) > 0
    expect_exc("QubesVMNotHaltedError", D.call, "admin.vm.Start", "work")
    expect_exc("QubesVMNotHaltedError", D.call, "admin.vm.property.Set",
               "work", "memory", "300")
    rc, out, err = D.qrexec_client("work", "DEFAULT:QUBESRPC test.Hello dom0")
    assert rc == 0 and out == b"hello dom0\n", (rc, out, err)
    D.call("admin.vm.Pause", "work")
    assert D.qubes()["work"]["state"] == "Paused"
    D.call("admin.vm.Unpause", "work")
    assert D.qubes()["work"]["state"] == "Running"
    D.call("admin.vm.Shutdown", "work", "wait")
    assert D.qubes()["work"]["state"] == "Halted"
    assert D.prop("work", "xid")[0] == "-1"
    expect_exc("QubesVMNotStartedError", D.call, "admin.vm.Shutdown", "work")
    ev.close()
    # killing
    D.call("admin.vm.Start", "work")
    D.call("admin.vm.Kill", "work")
    bh.wait_for(lambda: D.qubes()["work"]["state"] == "Halted", "halt")
    # no process of the qube is left
    bh.wait_for(lambda: not [p for p in D.processes()
                             if p != D.proc.pid and is_qube_proc(p)],
                "no qube processes")


def is_qube_proc(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"qrexec-agent" in f.read()
    except OSError:
        return False


def test_start_failures():
    D.call("admin.vm.property.Set", "personal", "virt_mode", "vm")
    # never a silent fall-back to another backend: the reason is told
    # (no QEMU here, or no kernel in this test's empty pool)
    e = expect_exc("QubesVMError", D.call, "admin.vm.Start", "personal")
    assert "QEMU" in e.msg or "no VM kernel installed" in e.msg, e.msg
    assert not [p for p in D.processes() if is_qube_proc(p)]
    D.call("admin.vm.property.Reset", "personal", "virt_mode")
    expect_exc("QubesVMError", D.call, "admin.vm.Start", "dom0")


def test_disposables():
    D.create("AppVM", "dvm", "red", "tpl")
    expect_exc("QubesException", D.call, "admin.vm.CreateDisposable", "dvm")
    D.call("admin.vm.property.Set", "dvm", "template_for_dispvms", "True")
    name = D.call("admin.vm.CreateDisposable", "dvm")
    assert name.startswith("disp"), name
    assert D.qubes()[name]["class"] == "DispVM"
    assert D.prop(name, "template") == ("dvm", False)
    assert D.prop(name, "auto_cleanup") == ("True", False)
    assert D.prop(name, "label") == ("red", False)
    D.call("admin.vm.Start", name)
    D.call("admin.vm.Kill", name)
    bh.wait_for(lambda: name not in D.qubes(), "disposable removal")
    uuid = D.call("admin.vm.CreateDisposable", "dvm", "uuid")
    assert uuid.startswith("uuid:") and len(uuid) == 41, uuid
    # a disposable's default: the caller's default_dispvm
    D.call("admin.vm.property.Set", "work", "default_dispvm", "dvm")
    name = D.call("admin.vm.CreateDisposable", "dom0", src="work")
    assert D.prop(name, "template")[0] == "dvm"
    # removal of the DVM template is refused while it is used
    expect_exc("QubesVMInUseError", D.call, "admin.vm.Remove", "dvm")


def test_volumes():
    vols = D.call("admin.vm.volume.List", "work").split()
    # no kernel volume: namespace qubes run on the host's kernel
    assert vols == ["private", "root", "volatile"], vols
    info = dict(l.split("=", 1) for l in D.call(
        "admin.vm.volume.Info", "work", "root").splitlines())
    tpl = D.prop("work", "template")[0]
    assert info["snap_on_start"] == "True" and \
        info["source"] == tpl + "/root" and info["save_on_stop"] == "False"
    info = dict(l.split("=", 1) for l in D.call(
        "admin.vm.volume.Info", "work", "private").splitlines())
    assert info["save_on_stop"] == "True"
    expect_exc("QubesVolumeNotFoundError", D.call, "admin.vm.volume.Info",
               "work", "nope")


def test_clone_tokens_per_caller():
    """CloneFrom tokens: a caller holds at most four, its own oldest going
    for a new one, so one that asks again and again (a management qube
    with the right) pushes out only its own, never another caller's."""
    for n in ("cmgmt", "cdst"):
        D.create("AppVM", n, "red", "tpl")

    def good(token):
        try:
            D.call("admin.vm.volume.CloneTo", "cdst", "private", token)
        except bh.ApiError as e:
            # refused for another reason (work running): it was known
            return "no such clone token" not in e.msg
        return True
    try:
        mine = D.call("admin.vm.volume.CloneFrom", "work", "private")
        theirs = [D.call("admin.vm.volume.CloneFrom", "work", "private",
                         src="cmgmt") for _ in range(20)]
        assert len(set(theirs)) == 20 and mine not in theirs
        assert not any(good(t) for t in theirs[:16])
        assert all(good(t) for t in theirs[16:])
        assert good(mine)
        # each is good once
        assert not good(mine)
    finally:
        for n in ("cmgmt", "cdst"):
            D.call("admin.vm.Remove", n)


def test_notes():
    # Qubes 4.3's qube notes: UTF-8 text, set whole, read back
    assert D.call("admin.vm.notes.Get", "work") == ""
    text = "shopping: caf\u00e9, \u65e5\u672c\n\tand more"
    D.call("admin.vm.notes.Set", "work", payload=text.encode())
    assert D.call("admin.vm.notes.Get", "work") == text
    # not text: refused, and nothing changes
    for bad in (b"a\0b", b"\x1b[31m", b"\xff\xfe", b"\xc0\x80",
                b"\xed\xa0\x80"):
        expect_exc("QubesValueError", D.call, "admin.vm.notes.Set", "work",
                   payload=bad)
    assert D.call("admin.vm.notes.Get", "work") == text
    D.call("admin.vm.notes.Set", "work", payload=b"")
    assert D.call("admin.vm.notes.Get", "work") == ""
    assert D.call("admin.vm.volume.ListSnapshots", "work", "private") == ""


def test_firewall_rules_kept():
    # kept and checked (no network to enforce them on yet)
    assert D.call("admin.vm.firewall.Get", "work") == "action=accept\n"
    rules = ("action=accept proto=tcp dsthost=example.com dstports=443 "
             "comment=the web, mostly\naction=accept specialtarget=dns\n"
             "action=drop\n")
    D.call("admin.vm.firewall.Set", "work", payload=rules)
    assert D.call("admin.vm.firewall.Get", "work") == rules
    for bad in ("action=maybe\n", "proto=tcp action=accept\n",
                "action=accept dsthost=a;b\n", "action=accept bogus=1\n",
                "action=accept", "action=accept comment=\x1b\n"):
        expect_exc("QubesValueError", D.call, "admin.vm.firewall.Set",
                   "work", payload=bad)
    assert D.call("admin.vm.firewall.Get", "work") == rules
    D.call("admin.vm.firewall.Reload", "work")


def test_system_info():
    # its own qubes, so that what is checked is set up here
    D.create("TemplateVM", "si-tpl", "black")
    D.create("AppVM", "si-dvm", "red", "si-tpl")
    D.create("AppVM", "si-app", "blue", "si-tpl")
    D.call("admin.vm.property.Set", "si-dvm", "template_for_dispvms", "True")
    D.call("admin.vm.property.Set", "si-app", "default_dispvm", "si-dvm")
    # Qubes' feature "internal" (a preloaded disposable's): the policy
    # offers no internal qube at an ask
    D.call("admin.vm.feature.Set", "si-dvm", "internal", payload="1")
    info = json.loads(D.call("internal.GetSystemInfo", sock=D.internal))
    doms = info["domains"]
    assert doms["dom0"]["type"] == "AdminVM"
    assert doms["si-app"]["type"] == "AppVM" and "created-by-dom0" in \
        doms["si-app"]["tags"]
    assert doms["si-dvm"]["template_for_dispvms"] is True
    assert doms["si-app"]["template_for_dispvms"] is False
    assert doms["si-app"]["default_dispvm"] == "si-dvm"
    assert doms["si-app"]["power_state"] == "Halted"
    assert doms["si-dvm"]["internal"] is True
    assert doms["si-app"]["internal"] is False
    for name in ("si-app", "si-dvm", "si-tpl"):
        D.call("admin.vm.Remove", name)
    # only on the internal socket, and nothing else there
    expect_exc("ProtocolError", D.call, "internal.GetSystemInfo")
    expect_exc("ProtocolError", D.call, "admin.vm.List", sock=D.internal)


def test_protocol_errors():
    expect_exc("ProtocolError", D.call, "admin.vm.Nonexistent")
    expect_exc("ProtocolError", D.call, "admin.vm.List", arg="x")
    expect_exc("ProtocolError", D.call, "admin.vm.List", payload="x")
    expect_exc("ProtocolError", D.call, "admin.vm.property.Get", "work")
    expect_exc("QubesVMNotFoundError", D.call, "admin.vm.property.List",
               "nosuch")


def test_remove():
    expect_exc("QubesVMInUseError", D.call, "admin.vm.Remove", "tpl")
    D.call("admin.vm.Remove", "alone")
    assert "alone" not in D.qubes()
    expect_exc("QubesVMInUseError", D.call, "admin.vm.Remove", "dom0")


def as_nobody_connect(path):
    """Connect to path as nobody, send a List call, report what came
    back: "connect: <errno name>", or the reply bytes' repr."""
    return subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
         sys.executable, "-c",
         "import errno, socket, sys\n"
         "s = socket.socket(socket.AF_UNIX)\n"
         "s.settimeout(30)\n"
         "try:\n"
         "    s.connect(sys.argv[1])\n"
         "except OSError as e:\n"
         "    print('connect:', errno.errorcode[e.errno]); sys.exit()\n"
         "out = b''\n"
         "try:\n"
         "    s.sendall(b'admin.vm.List+ dom0 name dom0\\0')\n"
         "    s.shutdown(socket.SHUT_WR)\n"
         "    while True:\n"
         "        d = s.recv(100)\n"
         "        if not d: break\n"
         "        out += d\n"
         "except (ConnectionResetError, BrokenPipeError) as e:\n"
         "    out += b'<reset>'\n"
         "print(repr(out))\n", path],
        capture_output=True, text=True, timeout=60)


def test_access_denied_for_other_users():
    # a user neither root nor in the "bulkhead" group gets nothing.  Our
    # temp root is 0700, which alone would stop nobody: open it for this
    # test so that what is tested is the daemon's own gates
    mode = os.stat(D.root).st_mode & 0o7777
    sock_mode = os.stat(D.sock).st_mode & 0o7777
    os.chmod(D.root, 0o755)
    try:
        assert os.stat(D.run).st_mode & 0o005 == 0o005, \
            oct(os.stat(D.run).st_mode)
        # the socket's mode (0660, root's group) is the first gate
        assert sock_mode & 0o007 == 0, oct(sock_mode)
        p = as_nobody_connect(D.sock)
        assert p.stdout == "connect: EACCES\n", (p.stdout, p.stderr)
        # the second: with the socket opened to everyone (as a careless
        # admin might), SO_PEERCRED still refuses: accepted, closed, no
        # reply, and logged
        os.chmod(D.sock, 0o666)
        p = as_nobody_connect(D.sock)
        assert p.stdout in ("b''\n", "b'<reset>'\n"), (p.stdout, p.stderr)
        nobody = subprocess.run(["id", "-u", "nobody"], capture_output=True,
                                text=True).stdout.strip()
        bh.wait_for(lambda: "refused a connection from uid %s" % nobody in
                    D.log(), "the refusal logged")
    finally:
        os.chmod(D.sock, sock_mode)
        os.chmod(D.root, mode)
    # and root still gets answers
    assert "dom0 class=AdminVM" in D.call("admin.vm.List")


def test_concurrent_calls():
    errors = []

    def worker(i):
        try:
            for j in range(20):
                D.call("admin.vm.feature.Set", "work", "c%d" % i, str(j))
                assert D.call("admin.vm.feature.Get", "work",
                              "c%d" % i) == str(j)
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors


try:
    bh.run_tests([
        test_dom0_and_classes,
        test_labels,
        test_create,
        test_default_template,
        test_property_formats,
        test_property_set_and_inheritance,
        test_features_and_tags,
        test_global_properties,
        test_events,
        test_qube_callers_see_what_policy_allows,
        test_admin_filter_keeps_the_policy_until_it_changes,
        test_lifecycle_and_qrexec,
        test_start_failures,
        test_disposables,
        test_volumes,
        test_clone_tokens_per_caller,
        test_notes,
        test_firewall_rules_kept,
        test_system_info,
        test_protocol_errors,
        test_remove,
        test_access_denied_for_other_users,
        test_concurrent_calls,
    ])
finally:
    D.close()
