/*
 * proto/vmux.c - the validators of vmux frames (proto/vmux.h).
 *
 * Run by bulkhead-vmux on both sides of a VM qube's virtio-serial stream:
 * on the host as the qube's uid, where every byte is the guest's and
 * hostile; in the guest as its root.  This is the only code that reads a
 * frame's header or payload before it is trusted.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "lib/proto/vmux.h"

/*
 * Largest payload of each type, checked on the header alone so that a
 * frame is refused before its payload is waited for.
 */
static const uint32_t vmux_max_len[VMUX_TYPE_MAX] = {
    [VMUX_HELLO] = sizeof(struct vmux_hello),
    [VMUX_LISTEN] = VMUX_NAME_MAX,
    [VMUX_UNLISTEN] = VMUX_NAME_MAX,
    [VMUX_OPEN] = VMUX_NAME_MAX,
    [VMUX_OPEN_OK] = 0,
    [VMUX_OPEN_FAIL] = sizeof(struct vmux_u32),
    [VMUX_DATA] = VMUX_MAX_DATA,
    [VMUX_CREDIT] = sizeof(struct vmux_u32),
    [VMUX_EOF] = 0,
    [VMUX_CLOSE] = 0,
    [VMUX_SHUTDOWN] = 0,
};
_Static_assert(VMUX_MAX_DATA <= VMUX_MAX_PAYLOAD, "DATA fits a frame");

static const char *const vmux_type_names[VMUX_TYPE_MAX] = {
    [VMUX_HELLO] = "HELLO",
    [VMUX_LISTEN] = "LISTEN",
    [VMUX_UNLISTEN] = "UNLISTEN",
    [VMUX_OPEN] = "OPEN",
    [VMUX_OPEN_OK] = "OPEN_OK",
    [VMUX_OPEN_FAIL] = "OPEN_FAIL",
    [VMUX_DATA] = "DATA",
    [VMUX_CREDIT] = "CREDIT",
    [VMUX_EOF] = "EOF",
    [VMUX_CLOSE] = "CLOSE",
    [VMUX_SHUTDOWN] = "SHUTDOWN",
};

const char *
proto_vmux_type_name(uint32_t type)
{
	if (type == 0 || type >= VMUX_TYPE_MAX)
		return "?";
	return vmux_type_names[type];
}

static uint32_t
get_u32(const void *p)
{
	const uint8_t *b = p;

	/* little-endian on the wire, whatever the host */
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 24;
}

/*
 * One decimal u32 at s[*pos..len): digits, no leading zero but "0"
 * itself, no overflow.  Advances *pos past it.
 */
static bool
name_number(const char *s, size_t len, size_t *pos)
{
	size_t i = *pos, start = *pos;
	uint64_t v = 0;

	while (i < len && s[i] >= '0' && s[i] <= '9') {
		v = v * 10u + (uint64_t)(s[i] - '0');
		/* ten digits at most, so v cannot wrap before this test */
		if (v > UINT32_MAX || i - start >= 10)
			return false;
		i++;
	}
	if (i == start)
		return false;
	if (s[start] == '0' && i - start > 1)
		return false;
	*pos = i;
	return true;
}

int
proto_vmux_name_check(const char *untrusted_name, size_t len)
{
	static const char prefix[] = "vchan.", suffix[] = ".sock";
	size_t pos = sizeof(prefix) - 1;
	int n;

	if (len > VMUX_NAME_MAX || len < pos + sizeof(suffix) - 1)
		return -EBADMSG;
	if (memcmp(untrusted_name, prefix, pos) != 0)
		return -EBADMSG;
	for (n = 0; n < 3; n++) {
		if (!name_number(untrusted_name, len, &pos))
			return -EBADMSG;
		if (n < 2) {
			if (pos >= len || untrusted_name[pos] != '.')
				return -EBADMSG;
			pos++;
		}
	}
	/* what is left must be exactly ".sock" */
	if (len - pos != sizeof(suffix) - 1 ||
	    memcmp(untrusted_name + pos, suffix, sizeof(suffix) - 1) != 0)
		return -EBADMSG;
	return 0;
}

int
proto_vmux_hdr_parse(const void *buf, size_t len, struct vmux_hdr *ret)
{
	const uint8_t *untrusted_hdr = buf;
	struct vmux_hdr h;

	if (len != sizeof(struct vmux_hdr))
		return -EBADMSG;
	h.hdr_type = get_u32(untrusted_hdr);
	h.hdr_chan = get_u32(untrusted_hdr + 4);
	h.hdr_len = get_u32(untrusted_hdr + 8);
	if (h.hdr_type == 0 || h.hdr_type >= VMUX_TYPE_MAX)
		return -EBADMSG;
	if (h.hdr_len > vmux_max_len[h.hdr_type])
		return -EBADMSG;
	switch ((enum vmux_type)h.hdr_type) {
	case VMUX_HELLO:
	case VMUX_LISTEN:
	case VMUX_UNLISTEN:
	case VMUX_SHUTDOWN:
		if (h.hdr_chan != 0)
			return -EBADMSG;
		break;
	case VMUX_OPEN:
	case VMUX_OPEN_OK:
	case VMUX_OPEN_FAIL:
	case VMUX_DATA:
	case VMUX_CREDIT:
	case VMUX_EOF:
	case VMUX_CLOSE:
		/* which side's ids are allowed is the caller's phase check */
		if (h.hdr_chan == 0 || h.hdr_chan == VMUX_CHAN_GUEST_BIT)
			return -EBADMSG;
		break;
	case VMUX_TYPE_MAX:
	default:
		return -EBADMSG;
	}
	*ret = h;
	return 0;
}

int
proto_vmux_hello_parse(const void *buf, size_t len, uint32_t *ret_version)
{
	uint32_t v;

	if (len != sizeof(struct vmux_hello))
		return -EBADMSG;
	v = get_u32(buf);
	if (v < VMUX_PROTOCOL_V1)
		return -EBADMSG;
	*ret_version = v;
	return 0;
}

/* The payload of LISTEN, UNLISTEN and OPEN: one name, nothing more. */
static int
name_parse(const void *buf, size_t len, struct vmux_name *ret)
{
	const char *untrusted_name = buf;

	if (proto_vmux_name_check(untrusted_name, len) < 0)
		return -EBADMSG;
	memset(ret, 0, sizeof(*ret));
	memcpy(ret->name, untrusted_name, len);
	return 0;
}

int
proto_vmux_listen_parse(const void *buf, size_t len, struct vmux_name *ret)
{
	return name_parse(buf, len, ret);
}

int
proto_vmux_unlisten_parse(const void *buf, size_t len, struct vmux_name *ret)
{
	return name_parse(buf, len, ret);
}

int
proto_vmux_open_parse(const void *buf, size_t len, struct vmux_name *ret)
{
	return name_parse(buf, len, ret);
}

int
proto_vmux_open_ok_parse(const void *buf, size_t len)
{
	(void)buf;
	return len == 0 ? 0 : -EBADMSG;
}

int
proto_vmux_open_fail_parse(const void *buf, size_t len, int *ret_errno)
{
	uint32_t e;

	if (len != sizeof(struct vmux_u32))
		return -EBADMSG;
	e = get_u32(buf);
	if (e == 0 || e > VMUX_ERRNO_MAX)
		return -EBADMSG;
	*ret_errno = (int)e;
	return 0;
}

int
proto_vmux_data_parse(const void *buf, size_t len, struct vmux_data *ret)
{
	if (len == 0 || len > VMUX_MAX_DATA)
		return -EBADMSG;
	ret->data = buf;
	ret->len = (uint32_t)len;
	return 0;
}

int
proto_vmux_credit_parse(const void *buf, size_t len, uint32_t *ret_bytes)
{
	uint32_t c;

	if (len != sizeof(struct vmux_u32))
		return -EBADMSG;
	c = get_u32(buf);
	if (c == 0 || c > VMUX_WINDOW)
		return -EBADMSG;
	*ret_bytes = c;
	return 0;
}

int
proto_vmux_eof_parse(const void *buf, size_t len)
{
	(void)buf;
	return len == 0 ? 0 : -EBADMSG;
}

int
proto_vmux_close_parse(const void *buf, size_t len)
{
	(void)buf;
	return len == 0 ? 0 : -EBADMSG;
}

int
proto_vmux_shutdown_parse(const void *buf, size_t len)
{
	(void)buf;
	return len == 0 ? 0 : -EBADMSG;
}
