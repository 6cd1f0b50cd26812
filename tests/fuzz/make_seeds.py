#!/usr/bin/env python3
"""make_seeds.py - write the seed corpus of every fuzz target in this
directory: corpus/<target>/<seed>.

Seeds are real, valid messages of the qrexec wire protocol (as Qubes and
bulkhead send them, docs/protocol/qrexec.md) plus a few edge cases at each
limit (exact size, size +-1, maximum, missing NUL, bytes after the NUL),
each in the input layout its target's header comment describes.  Run it
after changing a target's layout and commit the result; it only writes its
own files, so crashers added to a corpus by hand stay.

Usage: tests/fuzz/make_seeds.py [CORPUS_DIR]
"""

import os
import struct
import sys

# proto/qrexec.h
MSG_EXEC_CMDLINE = 0x200
MSG_JUST_EXEC = 0x201
MSG_SERVICE_CONNECT = 0x202
MSG_SERVICE_REFUSED = 0x203
MSG_TRIGGER_SERVICE = 0x210
MSG_CONNECTION_TERMINATED = 0x211
MSG_TRIGGER_SERVICE3 = 0x212
MSG_TRIGGER_SERVICE4 = 0x213
MSG_HELLO = 0x300
MSG_DATA_STDIN = 0x190
MSG_DATA_STDOUT = 0x191
MSG_DATA_STDERR = 0x192
MSG_DATA_EXIT_CODE = 0x193
MAX_CMD_LEN = 65535
MAX_SERVICE_NAME_LEN = 65000
CHUNK_V2 = 4096
CHUNK_V3 = 65536


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def msg(mtype, payload=b""):
    return u32(mtype) + u32(len(payload)) + payload


def field(s, n):
    b = s.encode() if isinstance(s, str) else s
    assert len(b) <= n
    return b + b"\0" * (n - len(b))


def cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def exec_params(dom, port):
    return u32(dom) + u32(port)


def trigger2(service, target, ident):
    return field(service, 64) + field(target, 32) + field(ident, 32)


def trigger3(service, target, ident):
    return field(target, 64) + field(ident, 32) + cstr(service)


def trigger4(service, source, target, ident):
    return field(source, 64) + field(target, 64) + field(ident, 32) + \
        cstr(service)


SEEDS = {}


def seed(target, name, data):
    SEEDS.setdefault(target, {})[name] = bytes(data)


# ---- msg_reader: byte 0 = max payload / 64 - 16, then a byte stream ----
seed("msg_reader", "hello", b"\x01" + msg(MSG_HELLO, u32(4)))
seed("msg_reader", "data",
     b"\x00" + msg(MSG_DATA_STDOUT, b"hello") +
     msg(MSG_DATA_EXIT_CODE, u32(0)))
seed("msg_reader", "session",
     b"\xff" + msg(MSG_HELLO, u32(4)) +
     msg(MSG_TRIGGER_SERVICE3, trigger3("qubes.Filecopy", "work", "SOCKET7"))
     + msg(MSG_CONNECTION_TERMINATED, exec_params(3, 513)))
seed("msg_reader", "over_max", b"\x00" + u32(MSG_DATA_STDIN) + u32(17))
seed("msg_reader", "truncated",
     b"\x10" + msg(MSG_DATA_STDIN, b"abc") + u32(MSG_DATA_STDIN) + u32(9) +
     b"abc")

# ---- msg_recv: byte 0 = bit 7 hello mode, bits 0-6 max / 37 ----
seed("msg_recv", "hello", b"\x80" + msg(MSG_HELLO, u32(4)))
seed("msg_recv", "hello_v2_then_more",
     b"\x80" + msg(MSG_HELLO, u32(2)) + msg(MSG_HELLO, u32(3)))
seed("msg_recv", "hello_short", b"\x80" + msg(MSG_HELLO, u32(4)[:3]))
seed("msg_recv", "hello_long", b"\x80" + msg(MSG_HELLO, u32(4) + b"\0"))
seed("msg_recv", "hello_wrong_type", b"\x80" + msg(MSG_DATA_STDIN, u32(4)))
seed("msg_recv", "exec_request",
     b"\x7f" + msg(MSG_EXEC_CMDLINE,
                   exec_params(0, 0) + cstr("user:QUBESRPC qubes.VMShell dom0")))
seed("msg_recv", "service_connect",
     b"\x02" + msg(MSG_SERVICE_CONNECT, exec_params(5, 514) + b"SOCKET9\0"))
seed("msg_recv", "empty_then_partial",
     b"\x01" + msg(MSG_DATA_STDIN) + u32(MSG_DATA_STDIN) + b"\x05")
seed("msg_recv", "over_max", b"\x01" + msg(MSG_DATA_STDIN, b"x" * 38))

# ---- proto_exec: the payload ----
for name, cmd in [
        ("rpc", "user:QUBESRPC qubes.Filecopy+ work"),
        ("rpc_keyword", "root:QUBESRPC admin.vm.List dom0 keyword adminvm"),
        ("nogui_shell", "user:nogui:echo hello"),
        ("just_exec", "DEFAULT:xterm"),
        ("one_char", "x")]:
    seed("proto_exec", name, exec_params(0, 0) + cstr(cmd))
seed("proto_exec", "params_only", exec_params(1, 2))
seed("proto_exec", "empty_cmd", exec_params(1, 2) + b"\0")
seed("proto_exec", "missing_nul", exec_params(1, 2) + b"user:true")
seed("proto_exec", "after_nul", exec_params(1, 2) + b"user:true\0x")
seed("proto_exec", "max", exec_params(7, 513) + b"u:" +
     b"a" * (MAX_CMD_LEN - 3) + b"\0")
seed("proto_exec", "max_plus_1", exec_params(7, 513) + b"u:" +
     b"a" * (MAX_CMD_LEN - 2) + b"\0")

# ---- proto_service_connect: the payload ----
seed("proto_service_connect", "socket7", exec_params(3, 513) + b"SOCKET7\0")
seed("proto_service_connect", "full_field",
     exec_params(3, 513) + field("SOCKET12", 32))
seed("proto_service_connect", "ident_31",
     exec_params(3, 513) + b"0123456789abcdef.-_ ABCDEFGHIJK\0")
seed("proto_service_connect", "no_nul", exec_params(3, 513) + b"A" * 32)
seed("proto_service_connect", "too_long",
     exec_params(3, 513) + field("SOCKET1", 33))
seed("proto_service_connect", "after_nul",
     exec_params(3, 513) + b"SOCKET1\0x\0")
seed("proto_service_connect", "bad_char", exec_params(3, 513) + b"SOCK/1\0")
seed("proto_service_connect", "just_nul", exec_params(3, 513) + b"\0")

# ---- proto_trigger: byte 0 = type index | version << 2 ----


def tsel(tidx, version):
    return bytes([tidx | (version << 2)])


seed("proto_trigger", "v2_filecopy",
     tsel(0, 2) + trigger2("qubes.Filecopy", "work", "SOCKET7"))
seed("proto_trigger", "v2_default_target",
     tsel(0, 2) + trigger2("qubes.OpenURL+", "@default", "0"))
seed("proto_trigger", "v3_filecopy",
     tsel(1, 3) + trigger3("qubes.Filecopy", "work", "SOCKET7"))
seed("proto_trigger", "v3_connect_tcp",
     tsel(1, 3) + trigger3("qubes.ConnectTCP+22", "@dispvm:work", "SOCKET8"))
seed("proto_trigger", "v4_source",
     tsel(2, 4) + trigger4("qubes.VMShell", "personal", "@adminvm",
                           "SOCKET9"))
seed("proto_trigger", "v4_arg_plus",
     tsel(2, 4) + trigger4("my.Service+a+b", "", "@default", "1"))
seed("proto_trigger", "v4_max_name",
     tsel(2, 4) + trigger4("s" * (MAX_SERVICE_NAME_LEN - 1), "a", "b", "2"))
seed("proto_trigger", "v4_name_too_long",
     tsel(2, 4) + trigger4("s" * MAX_SERVICE_NAME_LEN, "a", "b", "2"))
seed("proto_trigger", "v3_at_v2",
     tsel(1, 2) + trigger3("qubes.Filecopy", "work", "SOCKET7"))
seed("proto_trigger", "v2_at_v4",
     tsel(0, 4) + trigger2("qubes.Filecopy", "work", "SOCKET7"))
seed("proto_trigger", "v3_bad_service",
     tsel(1, 3) + trigger3("qubes.File/copy", "work", "SOCKET7"))
seed("proto_trigger", "v3_bytes_after_nul",
     tsel(1, 3) + field("work", 63) + b"x" + field("SOCKET7", 32) +
     cstr("qubes.Filecopy"))
seed("proto_trigger", "v3_no_tail",
     tsel(1, 3) + field("work", 64) + field("SOCKET7", 32))
seed("proto_trigger", "v2_short",
     tsel(0, 2) + trigger2("qubes.Filecopy", "work", "SOCKET7")[:-1])
seed("proto_trigger", "conn_terminated", tsel(3, 4) + exec_params(3, 513))

# ---- proto_small: byte 0 = validator (0 hello, 1 exec_reply,
#      2 conn_terminated, 3 refused, 4 ident_check, 5 data_hdr, 6 names) ----
seed("proto_small", "hello_v4", b"\x00" + u32(4))
seed("proto_small", "hello_short", b"\x00" + u32(4)[:3])
seed("proto_small", "exec_reply", b"\x01" + exec_params(5, 514))
seed("proto_small", "exec_reply_long", b"\x01" + exec_params(5, 514) + b"\0")
seed("proto_small", "conn_terminated", b"\x02" + exec_params(5, 514))
seed("proto_small", "refused", b"\x03" + field("SOCKET7", 32))
seed("proto_small", "refused_no_nul", b"\x03" + b"S" * 32)
seed("proto_small", "ident_after_nul", b"\x04" + b"SOCK\0T7" + b"\0" * 25)
seed("proto_small", "data_stdin_v2_max",
     b"\x05" + u32(MSG_DATA_STDIN) + u32(CHUNK_V2) + b"\x02")
seed("proto_small", "data_stdout_v2_over",
     b"\x05" + u32(MSG_DATA_STDOUT) + u32(CHUNK_V2 + 1) + b"\x02")
seed("proto_small", "data_stderr_v3_max",
     b"\x05" + u32(MSG_DATA_STDERR) + u32(CHUNK_V3) + b"\x03")
seed("proto_small", "data_exit_code",
     b"\x05" + u32(MSG_DATA_EXIT_CODE) + u32(4) + b"\x04")
seed("proto_small", "data_exit_code_5",
     b"\x05" + u32(MSG_DATA_EXIT_CODE) + u32(5) + b"\x04")
seed("proto_small", "data_hello_type",
     b"\x05" + u32(MSG_HELLO) + u32(4) + b"\x04")
seed("proto_small", "name_qube", b"\x06" + b"work-web.1_x")
seed("proto_small", "name_keyword", b"\x06" + b"@dispvm:fedora-dvm")
seed("proto_small", "name_service", b"\x06" + b"qubes.ConnectTCP+22")
seed("proto_small", "name_63", b"\x06" + b"n" * 63)
seed("proto_small", "name_64", b"\x06" + b"n" * 64)

# ---- policy_reply: the reply text ----
seed("policy_reply", "allow",
     b"result=allow\nuser=user\ntarget=work\nrequested_target=@default\n"
     b"autostart=True\n")
seed("policy_reply", "allow_full",
     b"result=allow\nuser=DEFAULT\ntarget=disp123\n"
     b"target_uuid=uuid:3d5b1c1e-aaaa-bbbb-cccc-0123456789ab\n"
     b"requested_target=@dispvm:fedora-dvm\nautostart=False\n"
     b"service=qubes.Filecopy+\npolicy_source=policy-file\n"
     b"unknown_key=ignored value\n")
seed("policy_reply", "deny", b"result=deny\n")
seed("policy_reply", "deny_no_newline", b"result=deny")
seed("policy_reply", "deny_with_target", b"result=deny\ntarget=work\n")
seed("policy_reply", "allow_missing_user",
     b"result=allow\ntarget=work\nrequested_target=work\nautostart=True\n")
seed("policy_reply", "twice", b"result=deny\nresult=deny\n")
seed("policy_reply", "two_newlines", b"result=deny\n\n")
seed("policy_reply", "bad_value",
     b"result=allow\nuser=us/er\ntarget=work\nrequested_target=work\n"
     b"autostart=True\n")
seed("policy_reply", "nul", b"result=deny\0\n")
seed("policy_reply", "max_len",
     b"result=deny\nx=" + b"y" * (4096 - 15) + b"\n")

# ---- qcmd_parse: byte 0 bit 0 = with_user, then the command line ----
for name, wu, cmd in [
        ("rpc_user", 1, "user:QUBESRPC qubes.Filecopy+ work"),
        ("rpc_arg", 1, "root:QUBESRPC qubes.ConnectTCP+22 work name sys-net"),
        ("rpc_keyword", 1, "user:QUBESRPC admin.vm.List dom0 keyword adminvm"),
        ("rpc_nogui", 1, "user:nogui:QUBESRPC qubes.VMShell dom0"),
        ("rpc_local", 0, "QUBESRPC qubes.Filecopy work"),
        ("shell", 1, "DEFAULT:xterm -e 'echo a:b'"),
        ("shell_local", 0, "nogui:ls /"),
        ("no_user", 1, "QUBESRPC qubes.Filecopy work"),
        ("rpc_no_space", 0, "QUBESRPCx a b"),
        ("rpc_no_source", 0, "QUBESRPC qubes.Filecopy"),
        ("rpc_empty_source", 0, "QUBESRPC qubes.Filecopy "),
        ("rpc_plus_first", 0, "QUBESRPC +arg src"),
        ("rpc_bad_source", 0, "QUBESRPC a.b src/x"),
        ("rpc_long_name", 0, "QUBESRPC " + "n" * 256 + "+a src"),
        ("rpc_name_max", 0, "QUBESRPC " + "n" * 255 + " src")]:
    seed("qcmd_parse", name, bytes([wu]) + cmd.encode())

# ---- qcmd_config: the config text ----
seed("qcmd_config", "wait_for_session", b"wait-for-session = 1\n")
seed("qcmd_config", "socket_service",
     b"# a socket service\nskip-service-descriptor = true\n"
     b"exit-on-service-eof = true\nexit-on-client-eof = false\n")
seed("qcmd_config", "force_user",
     b"force-user = 'user'   # comment\r\nwait-for-session = false\n"
     b"unknown.key-1 = 'x'\n")
seed("qcmd_config", "conflict",
     b"force-user = 'user'\nskip-service-descriptor = true\n")
seed("qcmd_config", "twice", b"wait-for-session = 0\nwait-for-session = 1\n")
seed("qcmd_config", "section", b"[section]\n")
seed("qcmd_config", "double_quotes", b"force-user = \"user\"\n")
seed("qcmd_config", "triple", b"force-user = '''user'''\n")
seed("qcmd_config", "leading_zero", b"wait-for-session = 01\n")
seed("qcmd_config", "big_int", b"x = 99999999999999999999999\n")
seed("qcmd_config", "no_newline", b"exit-on-client-eof = true")
seed("qcmd_config", "long_line", b"# " + b"x" * 4094 + b"\n")
seed("qcmd_config", "nul", b"wait-for-session = 1\0\n")
seed("qcmd_config", "user_colon", b"force-user = 'a:b'\n")

# ---- svc_tcp: byte 0 = service t0..t5, argument, '\n', t5's suffix ----
# t0 /dev/tcp, t1 /dev/tcp/127.0.0.1, t2 /dev/tcp/::1/22, t3 /dev/tcp/,
# t4 /dev/tcp//80, t5 /dev/tcp + suffix
seed("svc_tcp", "bare_host_port", b"\x00127.0.0.1+22")
seed("svc_tcp", "bare_ipv6", b"\x00fe80+1+22")
seed("svc_tcp", "bare_no_port", b"\x00localhost")
seed("svc_tcp", "bare_underscore", b"\x00my_host+22")
seed("svc_tcp", "bare_no_arg", b"\x00")
seed("svc_tcp", "host_port_arg", b"\x01" + b"8080")
seed("svc_tcp", "host_bad_port", b"\x01" + b"0080")
seed("svc_tcp", "host_port_65536", b"\x01" + b"65536")
seed("svc_tcp", "host_and_port", b"\x02")
seed("svc_tcp", "host_and_port_arg", b"\x02" + b"22")
seed("svc_tcp", "empty_host", b"\x03" + b"22")
seed("svc_tcp", "empty_host_port", b"\x04")
seed("svc_tcp", "fuzzed_link", b"\x05" + b"\n/10.137.0.5/443")
seed("svc_tcp", "fuzzed_link_arg", b"\x05" + b"443\n/10.137.0.5")
seed("svc_tcp", "fuzzed_not_tcp", b"\x05" + b"443\nx/10.137.0.5")

# ---- stream_service / stream_caller: bytes 0, 1 = setup, then channel ----
# byte 0: bits 0-1 version (2,3,4,3), bit 2 half close, bits 3-4 sink
# (null, closed socket, drained socket, none), bits 5-6 src (null,
# silent socket, the sink socket, none), bit 7 flip stderr.
# byte 1: exit-on-client-eof, exit-on-service-eof, replace stdout,
# replace stderr, prefix, SIGUSR1.


def setup(version=2, half=False, sink=0, src=0, flip_err=False, b=0):
    vbits = {2: 0, 3: 1, 4: 2}[version]
    a = vbits | (4 if half else 0) | (sink << 3) | (src << 5) | \
        (0x80 if flip_err else 0)
    return bytes([a, b])


service_in = msg(MSG_DATA_STDIN, b"hello\n") + msg(MSG_DATA_STDIN,
                                                    b"x" * 100) + \
    msg(MSG_DATA_STDIN)
for tname in ("stream_service", "stream_caller"):
    seed(tname, "stdin_eof", setup(3, True) + service_in)
    seed(tname, "stdin_closed_socket", setup(4, False, 1, 2) + service_in)
    seed(tname, "stdin_drained", setup(3, True, 2, 1) + service_in +
         msg(MSG_DATA_STDIN, b"late"))
    seed(tname, "v2_chunk_max", setup(2, True, 2, 0) +
         msg(MSG_DATA_STDIN, b"a" * CHUNK_V2) +
         msg(MSG_DATA_STDOUT, b"b" * CHUNK_V2) + msg(MSG_DATA_STDIN))
    seed(tname, "v2_chunk_over", setup(2, True) +
         msg(MSG_DATA_STDIN, b"a" * (CHUNK_V2 + 1)))
    seed(tname, "v3_chunks", setup(3, True, 2, 3) +
         msg(MSG_DATA_STDOUT, b"o" * CHUNK_V3) +
         msg(MSG_DATA_STDIN, b"i" * CHUNK_V3) +
         msg(MSG_DATA_STDOUT))
    seed(tname, "unknown_type", setup(4, True) + msg(MSG_HELLO, u32(4)))
    seed(tname, "truncated", setup(4, True) + u32(MSG_DATA_STDIN) + u32(10) +
         b"abc")
    seed(tname, "exit_code_bad_len", setup(4, True) +
         msg(MSG_DATA_EXIT_CODE, b"\0\0\0"))
    seed(tname, "empty_channel", setup(3, False))
    seed(tname, "exit_flags", setup(3, True, 2, 2, b=0x03) + service_in)
    seed(tname, "sigusr1", setup(3, True, 2, 0, b=0x20) + service_in)

caller_out = msg(MSG_DATA_STDOUT, b"result\n") + \
    msg(MSG_DATA_STDERR, b"warning\x1b[31m\n") + msg(MSG_DATA_STDOUT) + \
    msg(MSG_DATA_STDERR) + msg(MSG_DATA_EXIT_CODE, u32(0))
seed("stream_caller", "output_exit0", setup(3, True) + caller_out)
seed("stream_caller", "output_exit0_closed", setup(3, False) + caller_out)
seed("stream_caller", "filtered", setup(4, True, 2, 1, b=0x0c) + caller_out)
seed("stream_caller", "prefix", setup(2, True, 0, 0, b=0x10) + caller_out)
seed("stream_caller", "exit_negative", setup(3, True) +
     msg(MSG_DATA_STDOUT) + msg(MSG_DATA_EXIT_CODE, u32(0xFFFFFFFF)))
seed("stream_caller", "exit_256", setup(3, True) +
     msg(MSG_DATA_STDOUT) + msg(MSG_DATA_EXIT_CODE, u32(256)))
seed("stream_caller", "exit_first", setup(4, True, 2, 1) +
     msg(MSG_DATA_EXIT_CODE, u32(126)) + msg(MSG_DATA_STDOUT, b"after"))
seed("stream_caller", "with_err_fd", setup(3, True, flip_err=True) +
     caller_out)
seed("stream_service", "stderr_flip", setup(3, True, flip_err=True) +
     service_in)
seed("stream_service", "other_direction", setup(3, True) +
     msg(MSG_DATA_STDOUT, b"x") + msg(MSG_DATA_STDERR, b"y") +
     msg(MSG_DATA_EXIT_CODE, u32(1)) + msg(MSG_DATA_STDIN))


# fuzz_vmux: the guest's stream to the host vmux (docs/protocol/vmux.md).
VMUX_HELLO, VMUX_LISTEN, VMUX_UNLISTEN, VMUX_OPEN, VMUX_OPEN_OK, \
    VMUX_OPEN_FAIL, VMUX_DATA, VMUX_CREDIT, VMUX_EOF, VMUX_CLOSE, \
    VMUX_SHUTDOWN = range(1, 12)
VMUX_GUEST = 0x80000000
VMUX_REAL = b"vchan.1.0.512.sock"  # the listener fuzz_vmux's dir holds


def vframe(ftype, chan=0, payload=b""):
    return u32(ftype) + u32(chan) + u32(len(payload)) + payload


vhello = vframe(VMUX_HELLO, 0, u32(1))
vopen = vframe(VMUX_OPEN, VMUX_GUEST | 1, VMUX_REAL)
seed("vmux", "hello", vhello)
seed("vmux", "hello_v2", vframe(VMUX_HELLO, 0, u32(2)))
seed("vmux", "listen_unlisten", vhello +
     vframe(VMUX_LISTEN, 0, b"vchan.2.0.512.sock") +
     vframe(VMUX_LISTEN, 0, b"vchan.2.0.513.sock") +
     vframe(VMUX_UNLISTEN, 0, b"vchan.2.0.512.sock") +
     vframe(VMUX_LISTEN, 0, b"vchan.4294967295.4294967295.4294967295.sock"))
seed("vmux", "listen_real_name", vhello + vframe(VMUX_LISTEN, 0, VMUX_REAL))
seed("vmux", "open_data_eof_close", vhello + vopen +
     vframe(VMUX_DATA, VMUX_GUEST | 1, b"hello") +
     vframe(VMUX_CREDIT, VMUX_GUEST | 1, u32(100)) +
     vframe(VMUX_EOF, VMUX_GUEST | 1) + vframe(VMUX_CLOSE, VMUX_GUEST | 1))
seed("vmux", "open_unknown", vhello +
     vframe(VMUX_OPEN, VMUX_GUEST | 2, b"vchan.1.0.513.sock"))
seed("vmux", "open_close_reuse", vhello + vopen +
     vframe(VMUX_CLOSE, VMUX_GUEST | 1) + vopen)
seed("vmux", "data_full_window", vhello + vopen + b"".join(
    vframe(VMUX_DATA, VMUX_GUEST | 1, b"\xa5" * 4096) for _ in range(4)))
seed("vmux", "bad_name", vhello + vframe(VMUX_LISTEN, 0, b"vchan.1/0.5.sock"))
seed("vmux", "bad_type", vhello + vframe(99, 1))
seed("vmux", "open_host_bit", vhello + vframe(VMUX_OPEN, 5, VMUX_REAL))
seed("vmux", "shutdown", vhello + vframe(VMUX_SHUTDOWN))
seed("vmux", "before_hello", vframe(VMUX_LISTEN, 0, b"vchan.2.0.512.sock"))
seed("vmux", "open_ok_unknown", vhello + vframe(VMUX_OPEN_OK, 3) +
     vframe(VMUX_OPEN_FAIL, 3, u32(2)))


# fuzz_gui_msg: a GUI stream (docs/protocol/gui.md), host order (little on
# every machine bulkhead runs on).  Byte 0: bit 0 towards the agent, bit 1
# UTF-8 titles, bit 2 a pool from the start, bits 3-4 the clipboard limit
# (256, 1000, 64000, 256000); byte 1 seeds the piece sizes.
GUI_VERSION = 0x4248 << 16 | 1
(G_KEYPRESS, G_BUTTON, G_MOTION, G_CROSSING, G_FOCUS, _G_RESIZE, G_CREATE,
 G_DESTROY, G_MAP, G_UNMAP, G_CONFIGURE, _G_MFNDUMP, G_SHMIMAGE, G_CLOSE,
 _G_EXECUTE, G_CLIPBOARD_REQ, G_CLIPBOARD_DATA, G_WMNAME, G_KEYMAP_NOTIFY,
 _G_DOCK, G_WINDOW_HINTS, G_WINDOW_FLAGS, G_WMCLASS, G_WINDOW_DUMP,
 G_CURSOR, G_WINDOW_DUMP_ACK, G_FRAME_DONE, G_ERROR,
 G_POOL) = range(124, 153)
XR24 = 0x34325258
AR24 = 0x34325241


def gmsg(mtype, window=0, body=b""):
    return struct.pack("<III", mtype, window, len(body)) + body


def gcfg(to_agent=False, utf8=False, pool=False, limit=2, chunks=0):
    return bytes([(1 if to_agent else 0) | (2 if utf8 else 0) |
                  (4 if pool else 0) | (limit << 3), chunks])


def gi(*vals):
    return struct.pack("<%di" % len(vals), *vals)


def gu(*vals):
    return struct.pack("<%dI" % len(vals), *vals)


def gerror(code, why):
    return gu(code) + field(why, 124)


gv = gu(GUI_VERSION)
gpool = gmsg(G_POOL, 0, gu(0, 16))
gwin = (gmsg(G_CREATE, 7, gi(10, -20) + gu(640, 480, 0, 0)) +
        gmsg(G_WMNAME, 7, field("Terminal", 128)) +
        gmsg(G_WMCLASS, 7, field("XTerm", 64) + field("xterm", 64)) +
        gmsg(G_WINDOW_HINTS, 7, gu(0x170, 10, 10, 800, 600, 1, 1, 2, 2)) +
        gmsg(G_WINDOW_FLAGS, 7, gu(1, 4)) +
        gmsg(G_MAP, 7, gu(0, 0)) +
        gmsg(G_CURSOR, 7, gu(0x100 + 68)))
gdump = gmsg(G_WINDOW_DUMP, 7, gu(1, 64, 64, 32, 0, 4096, 256, XR24))
gdamage = gmsg(G_SHMIMAGE, 7, gi(0, 0) + gu(64, 64))
gend = gmsg(G_UNMAP, 7) + gmsg(G_DESTROY, 7)
seed("gui_msg", "session", gcfg() + gv + gpool + gwin + gdump + gdamage +
     gmsg(G_CONFIGURE, 7, gi(5, 5) + gu(64, 64, 0)) +
     gmsg(G_CLIPBOARD_DATA, 0, b"copied text") + gend)
seed("gui_msg", "session_chunked", gcfg(chunks=77) + gv + gpool + gwin +
     gdump + gdamage + gend)
seed("gui_msg", "pool_given", gcfg(pool=True) + gv + gwin +
     gmsg(G_WINDOW_DUMP, 7, gu(1, 16, 16, 32, 0, 0, 64, AR24)) + gdamage)
seed("gui_msg", "dump_pool_end", gcfg(pool=True) + gv + gwin +
     gmsg(G_WINDOW_DUMP, 7, gu(1, 1024, 15, 32, 0, 4096, 4096, XR24)))
seed("gui_msg", "dump_past_pool", gcfg(pool=True) + gv + gwin +
     gmsg(G_WINDOW_DUMP, 7, gu(1, 1024, 16, 32, 0, 4096, 4096, XR24)))
seed("gui_msg", "dump_no_pool", gcfg() + gv + gwin + gdump)
seed("gui_msg", "pool_twice", gcfg() + gv + gpool + gpool)
seed("gui_msg", "utf8_title", gcfg(utf8=True) + gv +
     gmsg(G_WMNAME, 3, field("caf\u00e9 \u20ac", 128)))
seed("gui_msg", "title_control", gcfg() + gv +
     gmsg(G_WMNAME, 3, field(b"a\x1b[2Jb", 128)))
seed("gui_msg", "title_no_nul", gcfg() + gv + gmsg(G_WMNAME, 3, b"a" * 128))
seed("gui_msg", "clipboard_limit", gcfg(limit=0) + gv +
     gmsg(G_CLIPBOARD_DATA, 0, b"x" * 256))
seed("gui_msg", "clipboard_too_big", gcfg(limit=0) + gv +
     gmsg(G_CLIPBOARD_DATA, 0, b"x" * 257))
seed("gui_msg", "clipboard_over", gcfg(limit=0) + gv +
     gmsg(G_CLIPBOARD_DATA, 0, b"x" * 258))
seed("gui_msg", "create_parent", gcfg() + gv +
     gmsg(G_CREATE, 1, gi(0, 0) + gu(1, 1, 5, 0)))
seed("gui_msg", "create_max", gcfg() + gv +
     gmsg(G_CREATE, 65535, gi(-16384, 6144) + gu(16384, 6144, 0, 1)))
seed("gui_msg", "bad_length", gcfg() + gv +
     struct.pack("<III", G_CREATE, 1, 25) + b"\0" * 25)
seed("gui_msg", "wrong_direction", gcfg() + gv +
     gmsg(G_KEYPRESS, 1, gu(2, 0, 0, 0, 38)))
seed("gui_msg", "qubes_agent", gcfg() + gu(0x00010008) +
     gmsg(G_CREATE, 1, gi(0, 0) + gu(1, 1, 0, 0)))
seed("gui_msg", "error_then_more", gcfg() + gv +
     gmsg(G_ERROR, 0, gerror(6, "out of memory")) + gmsg(G_UNMAP, 1))
seed("gui_msg", "to_agent", gcfg(to_agent=True) + gv +
     gu(1920, 1080, 24, 1920 * 1080 * 4 // 1024 + 1) +
     gmsg(G_KEYPRESS, 7, gu(2) + gi(3, 4) + gu(1, 38)) +
     gmsg(G_BUTTON, 7, gu(4) + gi(3, 4) + gu(0, 1)) +
     gmsg(G_MOTION, 7, gi(3, 4) + gu(0, 0)) +
     gmsg(G_CROSSING, 7, gu(7) + gi(0, 0) + gu(0, 0, 3, 1)) +
     gmsg(G_FOCUS, 7, gu(9, 0, 3)) +
     gmsg(G_KEYMAP_NOTIFY, 7, b"\0" * 32) +
     gmsg(G_CONFIGURE, 7, gi(0, 0) + gu(640, 480, 0)) +
     gmsg(G_WINDOW_DUMP_ACK, 7) + gmsg(G_FRAME_DONE, 7, gu(12345)) +
     gmsg(G_CLIPBOARD_REQ) + gmsg(G_CLIPBOARD_DATA, 0, b"paste") +
     gmsg(G_WINDOW_FLAGS, 7, gu(2, 0)) + gmsg(G_MAP, 7, gu(0, 0)) +
     gmsg(G_CLOSE, 7) + gmsg(G_DESTROY, 7))
seed("gui_msg", "to_agent_refused", gcfg(to_agent=True) +
     gmsg(G_ERROR, 0, gerror(2, "a Qubes agent, not bulkhead's")))


# ---- qd_ctl: byte 0 = the monitor's phase (0 dial, 1 hello, 2 up),
# then a packet: struct qd_ctl (type, slot, arg, version, len, pad) ----
QD_HELLO_OK, QD_HELLO_FAIL, QD_AGENT_LOST, QD_CALL = 4, 5, 6, 7


def qd(phase, qtype, slot=0, arg=0, version=0, body=b"", pad=0,
       length=None):
    return bytes([phase]) + struct.pack(
        "<IIiIII", qtype, slot, arg, version,
        len(body) if length is None else length, pad) + body


seed("qd_ctl", "hello_ok", qd(1, QD_HELLO_OK, version=4))
seed("qd_ctl", "hello_fail", qd(1, QD_HELLO_FAIL, arg=-110))
seed("qd_ctl", "hello_ok_when_up", qd(2, QD_HELLO_OK, version=4))
seed("qd_ctl", "lost", qd(2, QD_AGENT_LOST))
seed("qd_ctl", "lost_while_dialing", qd(0, QD_AGENT_LOST))
seed("qd_ctl", "lost_with_pad", qd(2, QD_AGENT_LOST, pad=1))
seed("qd_ctl", "lost_with_body", qd(2, QD_AGENT_LOST, body=b"x"))
seed("qd_ctl", "short_header", qd(2, QD_AGENT_LOST)[:20])
seed("qd_ctl", "call_v4", qd(2, QD_CALL, 3, MSG_TRIGGER_SERVICE4, 4,
     trigger4("qubes.Filecopy", "work", "personal", "SOCKET7")))
seed("qd_ctl", "call_v3", qd(2, QD_CALL, 0, MSG_TRIGGER_SERVICE3, 3,
     trigger3("qubes.VMShell", "@dispvm:work", "SOCKET9")))
seed("qd_ctl", "call_last_slot", qd(2, QD_CALL, 255, MSG_TRIGGER_SERVICE4,
     4, trigger4("a.B", "x", "y", "1")))
seed("qd_ctl", "call_slot_over", qd(2, QD_CALL, 256, MSG_TRIGGER_SERVICE4,
     4, trigger4("a.B", "x", "y", "1")))
seed("qd_ctl", "call_while_hello", qd(1, QD_CALL, 0, MSG_TRIGGER_SERVICE4,
     4, trigger4("a.B", "x", "y", "1")))
seed("qd_ctl", "call_bad_service", qd(2, QD_CALL, 0, MSG_TRIGGER_SERVICE4,
     4, trigger4("a/B", "x", "y", "1")))
seed("qd_ctl", "call_len_lies", qd(2, QD_CALL, 0, MSG_TRIGGER_SERVICE4,
     4, trigger4("a.B", "x", "y", "1"), length=300))


# ---- idclaim: byte 0 even = a claim's symlink target; odd = 16 bytes
# (first, count: u64 little-endian) then a subuid/subgid file's text ----
U = b"6a61030b-78c1-4691-8b58-994c4318b34a"
seed("idclaim", "claim", b"\x00" + U + b" /var/lib/bulkhead")
seed("idclaim", "claim_relative", b"\x00" + U + b" var/lib/bulkhead")
seed("idclaim", "claim_no_dir", b"\x00" + U)
seed("idclaim", "claim_upper", b"\x00" + U.upper() + b" /tmp/state")
seed("idclaim", "subid_meets",
     b"\x01" + struct.pack("<QQ", 1131072, 65536) +
     b"# users\nalice:100000:65536\nbob:1131072:65536\n")
seed("idclaim", "subid_apart",
     b"\x01" + struct.pack("<QQ", 1000000, 65536) +
     b"alice:100000:65536\nbob:1065536:65536")
seed("idclaim", "subid_malformed",
     b"\x01" + struct.pack("<QQ", 0, 0xffffffff) +
     b"x:12x:5\nzero:1:0\n:2:3\nlong:12345678901:1\nn:1:\n")
# found by the fuzzer: a NUL in a name (such a line is skipped)
seed("idclaim", "subid_nul_in_name",
     b"\x01" + struct.pack("<QQ", 1000000, 0) +
     b"alice:060000:15536\nb\x00-:1061072:65536")


def main():
    top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus")
    for target, seeds in sorted(SEEDS.items()):
        d = os.path.join(top, target)
        os.makedirs(d, exist_ok=True)
        for name, data in sorted(seeds.items()):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    print("make_seeds: %d seeds for %d targets in %s" %
          (sum(len(s) for s in SEEDS.values()), len(SEEDS), top))


if __name__ == "__main__":
    main()
