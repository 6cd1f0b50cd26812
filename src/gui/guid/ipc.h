/*
 * ipc.h - messages between bulkhead-guid's connector (root) and its core
 * (the GUI domain's user): fixed-size records on a SOCK_SEQPACKET pair,
 * one record a packet.  The core trusts the connector (it is more
 * privileged); the connector checks what the core asks all the same
 * (names against the qubes it knows), since the core handles the
 * outputs' input (VNC viewers) and could be the one compromised.
 */
#ifndef BULKHEAD_GUID_IPC_H
#define BULKHEAD_GUID_IPC_H

#include <stdint.h>

#include "gui/guid/guid.h"

enum gd_ipc_type {
	GD_IPC_QUBE = 1,         /* connector -> core: a qube, its fd */
	GD_IPC_PASTE_ASK = 2,    /* core -> connector: may src paste to dst */
	GD_IPC_PASTE_ANSWER = 3, /* connector -> core */
	GD_IPC_MAX
};

struct gd_ipc {
	uint32_t ipc_type; /* enum gd_ipc_type */
	uint32_t ipc_seq;  /* PASTE_*: matches the answer to its question */
	char ipc_name[GD_NAME_MAX];   /* QUBE: the qube; PASTE: source */
	char ipc_target[GD_NAME_MAX]; /* PASTE: destination */
	char ipc_label[GD_NAME_MAX];  /* QUBE: label name */
	uint32_t ipc_label_rgb;       /* QUBE: 0xRRGGBB */
	uint32_t ipc_allowed;         /* PASTE_ANSWER: 1 allow, 0 deny */
	char ipc_reason[128];         /* PASTE_ANSWER: why (deny) */
};
_Static_assert(sizeof(struct gd_ipc) == 240, "gd_ipc layout");

#endif
