/*
 * fuzz_qd_ctl.c - qd_ctl_parse(), qrexec-daemon's root monitor reading a
 * packet from its worker (the process that reads the qube's channel, and
 * so is treated as the qube).
 *
 * Input: byte 0 picks the monitor's phase (modulo QD_PHASE_MAX); the rest
 * is the packet.
 *
 * Invariants beyond "no crash":
 *  - the result is -EBADMSG or one of the four types a worker sends, and
 *    only in a phase that allows it;
 *  - on success the header is the input's, with zero padding and a
 *    length that is exactly the rest of the packet; only QD_CALL has a
 *    body; the fields a type does not use are zero;
 *  - QD_CALL: a slot below QD_MAX_CALLS, and a request the trigger
 *    validator accepted: its ident passes proto_ident_check(), its
 *    service lies inside the input, NUL-terminated at service_len, and
 *    passes proto_service_valid().
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "qrexec-daemon/daemon.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qrexec_trigger req;
	struct qd_ctl c, in;
	enum qd_phase phase;
	int r;

	if (size < 1)
		return 0;
	phase = (enum qd_phase)(data[0] % QD_PHASE_MAX);
	data++;
	size--;
	memset(&c, 0xa5, sizeof(c));
	r = qd_ctl_parse(phase, data, size, &c, &req);
	if (r == -EBADMSG)
		return 0;
	FUZZ_CHECK(r == QD_HELLO_OK || r == QD_HELLO_FAIL ||
	    r == QD_AGENT_LOST || r == QD_CALL);
	FUZZ_CHECK(size >= sizeof(in));
	memcpy(&in, data, sizeof(in));
	FUZZ_CHECK(memcmp(&in, &c, sizeof(c)) == 0);
	FUZZ_CHECK((uint32_t)r == c.qc_type && c.qc_pad == 0);
	FUZZ_CHECK(c.qc_len == size - sizeof(c));
	switch (r) {
	case QD_HELLO_OK:
		FUZZ_CHECK(phase == QD_PHASE_HELLO && c.qc_len == 0 &&
		    c.qc_slot == 0 && c.qc_arg == 0);
		break;
	case QD_HELLO_FAIL:
		FUZZ_CHECK(phase == QD_PHASE_HELLO && c.qc_len == 0 &&
		    c.qc_slot == 0 && c.qc_version == 0);
		break;
	case QD_AGENT_LOST:
		FUZZ_CHECK(phase != QD_PHASE_DIAL && c.qc_len == 0 &&
		    c.qc_slot == 0 && c.qc_arg == 0 && c.qc_version == 0);
		break;
	default:
		FUZZ_CHECK(phase == QD_PHASE_UP);
		FUZZ_CHECK(c.qc_slot < (uint32_t)QD_MAX_CALLS);
		FUZZ_CHECK(proto_ident_check(req.ident) == 0);
		FUZZ_CHECK(req.service >= (const char *)data + sizeof(c) &&
		    req.service + req.service_len < (const char *)data + size);
		FUZZ_CHECK(req.service[req.service_len] == '\0');
		FUZZ_CHECK(proto_service_valid(req.service, req.service_len));
		break;
	}
	return 0;
}
