#!/usr/bin/env python3
"""qrexec calls end to end, real binaries: admin -> qube, qube -> qube
through the admin-side relay (per-qube directories), qube -> admin, policy
allow and deny, exit codes, stdin/stdout/stderr, large data."""

import hashlib
import os
import pwd
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness as h  # noqa: E402

S = h.System()
WORK = S.qube("work", 1)
PERSONAL = S.qube("personal", 2)
ECHO = "#!/bin/sh\necho \"$QREXEC_REMOTE_DOMAIN:$1:$QREXEC_SERVICE_ARGUMENT\"\ncat\n"
for q in (WORK, PERSONAL):
    q.service("test.Echo", ECHO)
    q.service("test.Exit", "#!/bin/sh\nexit \"$1\"\n")
    q.service("test.Stderr", "#!/bin/sh\necho err >&2\necho out\n")
    q.service("test.Sha", "#!/bin/sh\nsha256sum | cut -d' ' -f1\n")
    q.start()
S.admin_service("test.AdminEcho", "#!/bin/sh\necho \"admin:$QREXEC_REMOTE_DOMAIN\"\ncat\n")
S.admin_service("test.AdminWho", "#!/bin/sh\nid -u; id -G\n")
S.admin_service("test.AdminRoot", "#!/bin/sh\nid -u\n")
S.set_rules("""
work personal test.Echo+hello allow
work personal test.Sha allow
work personal test.Exit+7 allow
work dom0 test.AdminEcho allow
work dom0 test.AdminWho allow
work dom0 test.AdminRoot allow
work @default test.Echo+redirect allow personal
""")


def rpc(svc, src="dom0"):
    return "%s:QUBESRPC %s %s" % (h.user(), svc, src)


def test_admin_to_qube_service():
    rc, out, err = S.client("work", rpc("test.Echo+arg"), stdin=b"in\n")
    assert rc == 0, (rc, err)
    assert out == b"dom0:arg:arg\nin\n", out


def test_admin_to_qube_by_uuid_and_id():
    for target in ("uuid:" + WORK.uuid, str(WORK.domid)):
        rc, out, _ = S.client(target, rpc("test.Echo+x"))
        assert rc == 0 and out == b"dom0:x:x\n", (target, rc, out)


def test_admin_to_qube_exit_code():
    rc, _, _ = S.client("work", rpc("test.Exit+42"))
    assert rc == 42, rc


def test_admin_to_qube_not_found():
    rc, _, _ = S.client("work", rpc("test.Missing"))
    assert rc == 127, rc


def test_admin_to_qube_shell_command():
    rc, out, _ = S.client("work", h.user() + ":echo shell $((6*7))")
    assert rc == 0 and out == b"shell 42\n", (rc, out)


def test_admin_to_qube_default_user():
    rc, out, _ = S.client("work", "DEFAULT:id -un")
    assert rc == 0 and out.strip() == h.user().encode(), (rc, out)


def test_admin_to_qube_stderr():
    rc, out, err = S.client("work", rpc("test.Stderr"))
    assert rc == 0 and out == b"out\n", (rc, out)
    assert b"err\n" in err, err


def test_admin_to_qube_large_stdin():
    data = os.urandom(8 * 1024 * 1024)
    rc, out, _ = S.client("work", rpc("test.Sha"), stdin=data, timeout=60)
    assert rc == 0, rc
    assert out.strip().decode() == hashlib.sha256(data).hexdigest()


def test_qube_to_qube_allowed_through_relay():
    rc, out, err = WORK.client_vm("personal", "test.Echo+hello", stdin=b"x\n")
    assert rc == 0, (rc, err)
    assert out == b"work:hello:hello\nx\n", out


def test_qube_to_qube_large_data_through_relay():
    data = os.urandom(4 * 1024 * 1024)
    rc, out, err = WORK.client_vm("personal", "test.Sha", stdin=data,
                                  timeout=60)
    assert rc == 0, (rc, err)
    assert out.strip().decode() == hashlib.sha256(data).hexdigest()


def test_qube_to_qube_exit_code():
    rc, _, _ = WORK.client_vm("personal", "test.Exit+7")
    assert rc == 7, rc


def test_qube_to_qube_denied():
    rc, out, err = PERSONAL.client_vm("work", "test.Echo+hello")
    assert rc == 126, rc
    assert out == b"" and err == b"Request refused\n", (out, err)


def test_qube_to_qube_denied_argument():
    rc, _, _ = WORK.client_vm("personal", "test.Echo+other")
    assert rc == 126, rc


def test_redirect_by_policy():
    rc, out, err = WORK.client_vm("@default", "test.Echo+redirect")
    assert rc == 0, (rc, err)
    assert out == b"work:redirect:redirect\n", out


def test_qube_to_admin():
    rc, out, err = WORK.client_vm("dom0", "test.AdminEcho", stdin=b"up\n")
    assert rc == 0, (rc, err)
    assert out == b"admin:work\nup\n", out


def test_qube_to_admin_force_user():
    # the service's rpc-config names a user: the admin side runs it as
    # that user (with its groups), not as the daemon's own (root here)
    cfg = os.path.join(S.root, "no-config")
    os.makedirs(cfg, exist_ok=True)
    # the user must reach the service: through the test's directory
    os.chmod(S.root, 0o711)
    with open(os.path.join(cfg, "test.AdminWho"), "w") as f:
        f.write("force-user = 'nobody'\n")
    try:
        nobody = pwd.getpwnam("nobody")
        groups = sorted(str(g) for g in os.getgrouplist("nobody",
                                                        nobody.pw_gid))
        rc, out, err = WORK.client_vm("dom0", "test.AdminWho")
        assert rc == 0, (rc, err)
        lines = out.decode().split("\n")
        assert lines[0] == str(nobody.pw_uid), out
        assert sorted(lines[1].split()) == groups, out
        # a service without one runs as the daemon's user
        rc, out, err = WORK.client_vm("dom0", "test.AdminRoot")
        assert rc == 0 and out == b"%d\n" % os.geteuid(), (rc, out, err)
    finally:
        os.unlink(os.path.join(cfg, "test.AdminWho"))
        os.chmod(S.root, 0o700)


def test_qube_to_qube_with_local_program():
    rc, out, err = WORK.client_vm("personal", "test.Echo+hello",
                                  local=["/bin/sh", "-c",
                                         "echo from-local; exec >&-; cat >&2"])
    assert rc == 0, (rc, err)
    assert b"work:hello:hello" in err and b"from-local" in err, err


def test_sockets_are_per_qube():
    # each qube's channels live in its own directory; nothing of another
    # qube's ever appears there
    for q in (WORK, PERSONAL):
        for name in os.listdir(q.vchan_dir):
            parts = name.split(".")
            assert name.startswith("vchan.") and str(q.domid) in parts[1:3], name


def test_no_leftover_channel_sockets():
    # every data channel's path is removed once the call is connected
    h.wait_for(lambda: all(
        sorted(os.listdir(q.vchan_dir)) == ["vchan.%d.0.512.sock" % q.domid]
        or sorted(os.listdir(q.vchan_dir)) == []
        for q in (WORK, PERSONAL)), "channel sockets to go")


try:
    h.run_tests([
        test_admin_to_qube_service,
        test_admin_to_qube_by_uuid_and_id,
        test_admin_to_qube_exit_code,
        test_admin_to_qube_not_found,
        test_admin_to_qube_shell_command,
        test_admin_to_qube_default_user,
        test_admin_to_qube_stderr,
        test_admin_to_qube_large_stdin,
        test_qube_to_qube_allowed_through_relay,
        test_qube_to_qube_large_data_through_relay,
        test_qube_to_qube_exit_code,
        test_qube_to_qube_denied,
        test_qube_to_qube_denied_argument,
        test_redirect_by_policy,
        test_qube_to_admin,
        test_qube_to_admin_force_user,
        test_qube_to_qube_with_local_program,
        test_sockets_are_per_qube,
        test_no_leftover_channel_sockets,
    ])
finally:
    S.close()
