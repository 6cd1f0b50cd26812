/*
 * ctl.c - the monitor's check of what its worker sends (daemon.h, struct
 * qd_ctl).
 *
 * Runs in qrexec-daemon's monitor (PROC_QREXEC_DAEMON, root).  Untrusted
 * input: every byte of the packet.  The worker reads the qube's channel,
 * so it is treated as the qube: a packet is taken only whole, of a type
 * its phase allows, with no stray length or padding, and a request only
 * if the validator the worker used accepts its bytes again.  Pure: a
 * buffer in, a struct out (tests and the fuzzer call it directly).
 */
#include <errno.h>
#include <string.h>

#include "qrexec-daemon/daemon.h"

int
qd_ctl_parse(enum qd_phase phase, const void *untrusted_buf, size_t len,
    struct qd_ctl *ret, struct qrexec_trigger *ret_req)
{
	const unsigned char *p = untrusted_buf;
	char raw_ident[QREXEC_IDENT_LEN];
	struct qd_ctl c;

	if (len < sizeof(c) || len > sizeof(c) + QD_CTL_MAX_BODY)
		return -EBADMSG;
	memcpy(&c, p, sizeof(c));
	if (c.qc_len != len - sizeof(c) || c.qc_pad != 0)
		return -EBADMSG;
	switch (c.qc_type) {
	case QD_HELLO_OK:
		/* fields a type does not use are zero */
		if (phase != QD_PHASE_HELLO || c.qc_len != 0 ||
		    c.qc_slot != 0 || c.qc_arg != 0)
			return -EBADMSG;
		break;
	case QD_HELLO_FAIL:
		if (phase != QD_PHASE_HELLO || c.qc_len != 0 ||
		    c.qc_slot != 0 || c.qc_version != 0)
			return -EBADMSG;
		break;
	case QD_AGENT_LOST:
		if (phase == QD_PHASE_DIAL || c.qc_len != 0 || c.qc_slot != 0 ||
		    c.qc_arg != 0 || c.qc_version != 0)
			return -EBADMSG;
		break;
	case QD_CALL:
		if (phase != QD_PHASE_UP || c.qc_slot >= (uint32_t)QD_MAX_CALLS)
			return -EBADMSG;
		/* the trigger's own validator, on the agent's bytes */
		if (c.qc_arg < 0 ||
		    proto_trigger_parse((uint32_t)c.qc_arg, c.qc_version,
		        p + sizeof(c), c.qc_len, ret_req, raw_ident) < 0)
			return -EBADMSG;
		break;
	default:
		return -EBADMSG;
	}
	*ret = c;
	return (int)c.qc_type;
}
