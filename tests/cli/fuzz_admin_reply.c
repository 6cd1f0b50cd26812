/*
 * fuzz_admin_reply.c - libFuzzer target for everything the qvm-* tools
 * parse from the daemon (src/cli/admin_client.c): the reply frame, then
 * its body as each of the body formats, and the bytes as an admin.Events
 * stream.  Each parse must either fail cleanly or give a result whose
 * strings are within the input's bounds (ASan checks the reads).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/admin_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
bodies(const char *d, size_t len)
{
	struct admin_strv sv = {NULL, 0};
	struct admin_vm_list vl = {NULL, 0};
	struct admin_prop p;
	struct admin_prop_list pl = {NULL, 0};
	char out[64];

	if (admin_parse_lines(d, len, &sv) == 0)
		admin_strv_free(&sv);
	if (admin_parse_vm_list(d, len, &vl) == 0) {
		size_t i;

		for (i = 0; i < vl.n; i++)
			if (!admin_vm_name_valid(vl.vm[i].name))
				abort();
		admin_vm_list_free(&vl);
	}
	if (admin_parse_property(d, len, &p) == 0)
		admin_prop_free(&p);
	if (admin_parse_property_all(d, len, &pl) == 0)
		admin_prop_list_free(&pl);
	(void)admin_kv_get(d, len, "power_state", out, sizeof(out));
	(void)admin_parse_power_state(d, len, out, sizeof(out));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	struct admin_reply r;
	size_t off = 0;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (admin_reply_parse(buf, size, &r) == 0) {
		if (r.ok)
			bodies(r.data, r.len);
		else if (strlen(r.exc_type) == 0 || r.exc_msg == NULL)
			abort();
		admin_reply_free(&r);
	}
	/* the same bytes as an event stream, frame after frame */
	for (;;) {
		struct admin_event ev;
		size_t used;

		if (admin_event_parse(buf + off, size - off, &used, &ev) < 0)
			break;
		if (used == 0 || used > size - off)
			abort();
		admin_event_free(&ev);
		off += used;
	}
	free(buf);
	return 0;
}
