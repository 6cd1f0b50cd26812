/*
 * fuzz_gui_msg.c - the GUI protocol reader and validators (proto/gui.c)
 * on an arbitrary stream: a hostile agent's bytes to the GUI domain's
 * validator, or the GUI domain's to an agent.
 *
 * Input: byte 0 chooses the direction (bit 0: to the agent), UTF-8
 * titles (bit 1), a pool given by the admin side from the start (bit 2)
 * and the clipboard limit (bits 3-4: 256, 1000, 64000, 256000); byte 1
 * seeds the sizes of the pieces the stream is fed in; the rest is the
 * stream.  When a POOL message comes out, its size is attached as the
 * validator would after gui_pool_check().
 *
 * Invariants beyond "no crash": the reader takes all it is given unless
 * it completes a message; only -EBADMSG and -EPROTO end it, and then for
 * good, with a reason; every message that comes out validates again from
 * its own bytes to the same message, is of the stream's direction and
 * within every cap (window ids, sizes, titles NUL-terminated, clipboard
 * at most limit + 1, a dump's range inside the pool); the handshake comes
 * first, POOL at most once, WINDOW_DUMP only with a pool, nothing after
 * an ERROR.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "lib/proto/gui.h"

static const uint32_t limits[4] = {
    GUI_CLIPBOARD_MIN, 1000, GUI_CLIPBOARD_DEFAULT, GUI_CLIPBOARD_MAX};

struct run {
	enum gui_dir dir;
	struct gui_params params;
	uint64_t pool; /* attached pool size, 0 if none */
	unsigned msgs, pools;
	bool version, xconf, dead;
};

/* A message that came out: re-validate it from its own bytes. */
static void
check_msg(struct run *st, const struct gui_msg *m)
{
	struct gui_params p = st->params;
	struct gui_msg again;
	struct gui_hdr h, hout;
	const void *body;
	size_t len;
	int size;

	FUZZ_CHECK(!st->dead);
	p.pool_size = st->pool;
	if (m->type == GUI_HS_VERSION) {
		uint32_t v;

		FUZZ_CHECK(!st->version && st->msgs == 0);
		FUZZ_CHECK(proto_gui_version_parse(&m->u.version, 4, &v) == 0);
		FUZZ_CHECK(v == m->u.version);
		st->version = true;
		return;
	}
	if (m->type == GUI_HS_XCONF) {
		struct gui_xconf x;

		FUZZ_CHECK(st->dir == GUI_DIR_TO_AGENT);
		FUZZ_CHECK(st->version && !st->xconf);
		FUZZ_CHECK(proto_gui_xconf_parse(&m->u.xconf, 16, &x) == 0);
		FUZZ_CHECK(memcmp(&x, &m->u.xconf, sizeof(x)) == 0);
		st->xconf = true;
		return;
	}
	/* an ERROR may stand for the version answer towards the agent */
	FUZZ_CHECK(st->version ||
	    (m->type == GUI_MSG_ERROR && st->dir == GUI_DIR_TO_AGENT));
	if (st->dir == GUI_DIR_TO_AGENT && st->version)
		FUZZ_CHECK(st->xconf || m->type == GUI_MSG_ERROR);
	size = proto_gui_type_size(m->type);
	if (m->type == GUI_MSG_CLIPBOARD_DATA) {
		FUZZ_CHECK(size < 0);
		FUZZ_CHECK(
		    m->u.clipboard.len <= st->params.clipboard_limit + 1);
		FUZZ_CHECK(m->u.clipboard.too_big ==
		    (m->u.clipboard.len == st->params.clipboard_limit + 1));
		FUZZ_CHECK(m->window == 0);
		body = m->u.clipboard.data;
		len = m->u.clipboard.len;
	} else {
		FUZZ_CHECK(size >= 0 && (unsigned)size <= GUI_MAX_FIXED_BODY);
		/* every fixed wire struct sits at the union's start */
		body = &m->u;
		len = (size_t)size;
	}
	h.hdr_type = m->type;
	h.hdr_window = m->window;
	h.hdr_untrusted_len = (uint32_t)len;
	FUZZ_CHECK(proto_gui_hdr_parse(&h, sizeof(h), st->dir,
	               st->params.clipboard_limit, &hout) == 0);
	FUZZ_CHECK(memcmp(&h, &hout, sizeof(h)) == 0);
	FUZZ_CHECK(
	    proto_gui_msg_parse(&h, body, len, st->dir, &p, &again) == 0);
	FUZZ_CHECK(again.type == m->type && again.window == m->window);
	if (m->type == GUI_MSG_CLIPBOARD_DATA)
		FUZZ_CHECK(again.u.clipboard.len == m->u.clipboard.len &&
		    again.u.clipboard.data == m->u.clipboard.data);
	else
		FUZZ_CHECK(memcmp(&again.u, &m->u, len) == 0);
	FUZZ_CHECK(m->window <= GUI_MAX_WINDOW_ID);

	switch ((enum gui_type)m->type) {
	case GUI_MSG_CREATE:
		FUZZ_CHECK(m->u.create.create_width <= GUI_MAX_WIDTH &&
		    m->u.create.create_height <= GUI_MAX_HEIGHT &&
		    m->u.create.create_parent == 0);
		break;
	case GUI_MSG_CONFIGURE:
		FUZZ_CHECK(m->u.configure.configure_width <= GUI_MAX_WIDTH &&
		    m->u.configure.configure_height <= GUI_MAX_HEIGHT);
		break;
	case GUI_MSG_WMNAME:
		FUZZ_CHECK(memchr(m->u.wmname.wmname_data, '\0',
		               GUI_TITLE_LEN) != NULL);
		break;
	case GUI_MSG_WMCLASS:
		FUZZ_CHECK(memchr(m->u.wmclass.wmclass_res_class, '\0',
		               GUI_CLASS_LEN) != NULL &&
		    memchr(m->u.wmclass.wmclass_res_name, '\0',
		        GUI_CLASS_LEN) != NULL);
		break;
	case GUI_MSG_WINDOW_DUMP:
		FUZZ_CHECK(st->pool > 0);
		FUZZ_CHECK((uint64_t)m->u.dump.dump_offset +
		        (uint64_t)m->u.dump.dump_stride *
		            m->u.dump.dump_height <=
		    st->pool);
		FUZZ_CHECK(m->u.dump.dump_stride >= m->u.dump.dump_width * 4u);
		break;
	case GUI_MSG_POOL:
		FUZZ_CHECK(st->dir == GUI_DIR_TO_GUI);
		FUZZ_CHECK(st->pools == 0 && st->pool == 0);
		st->pools++;
		st->pool = (uint64_t)m->u.pool.pool_pages * GUI_PAGE_SIZE;
		FUZZ_CHECK(st->pool <= GUI_POOL_MAX);
		break;
	case GUI_MSG_ERROR:
		FUZZ_CHECK(m->u.error.error_reason[0] != '\0');
		st->dead = true;
		break;
	case GUI_HS_VERSION:
	case GUI_HS_XCONF:
	case GUI_MSG_MIN:
	case GUI_MSG_KEYPRESS:
	case GUI_MSG_BUTTON:
	case GUI_MSG_MOTION:
	case GUI_MSG_CROSSING:
	case GUI_MSG_FOCUS:
	case GUI_MSG_RESIZE:
	case GUI_MSG_DESTROY:
	case GUI_MSG_MAP:
	case GUI_MSG_UNMAP:
	case GUI_MSG_MFNDUMP:
	case GUI_MSG_SHMIMAGE:
	case GUI_MSG_CLOSE:
	case GUI_MSG_EXECUTE:
	case GUI_MSG_CLIPBOARD_REQ:
	case GUI_MSG_CLIPBOARD_DATA:
	case GUI_MSG_KEYMAP_NOTIFY:
	case GUI_MSG_DOCK:
	case GUI_MSG_WINDOW_HINTS:
	case GUI_MSG_WINDOW_FLAGS:
	case GUI_MSG_CURSOR:
	case GUI_MSG_WINDOW_DUMP_ACK:
	case GUI_MSG_FRAME_DONE:
	case GUI_MSG_TYPE_MAX:
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gui_reader *r = NULL;
	struct run st;
	uint32_t seed;
	size_t off = 2;
	int rc = 0;

	fuzz_init_once();
	if (size < 2)
		return 0;
	memset(&st, 0, sizeof(st));
	st.dir = (data[0] & 1) ? GUI_DIR_TO_AGENT : GUI_DIR_TO_GUI;
	st.params.allow_utf8_titles = (data[0] & 2) != 0;
	st.params.pool_size = (data[0] & 4) ? 16u * GUI_PAGE_SIZE : 0;
	st.params.clipboard_limit = limits[(data[0] >> 3) & 3];
	st.pool = st.params.pool_size;
	seed = data[1] * 2654435761u + 1;
	FUZZ_CHECK(gui_reader_new(st.dir, &st.params, &r) == 0);
	while (off < size) {
		struct gui_msg m;
		size_t want, used = (size_t)-1;

		/* pieces of 0..64 bytes, or the rest */
		seed = seed * 1103515245u + 12345u;
		want = (seed >> 16) % 80;
		if (want > 64 || want > size - off)
			want = size - off;
		rc = gui_reader_feed(r, data + off, want, &used, &m);
		if (rc < 0)
			break;
		FUZZ_CHECK(rc == 0 || rc == 1);
		FUZZ_CHECK(used <= want);
		FUZZ_CHECK(rc == 1 || used == want);
		off += used;
		if (rc == 1) {
			check_msg(&st, &m);
			st.msgs++;
			if (m.type == GUI_MSG_POOL)
				FUZZ_CHECK(
				    gui_reader_set_pool(r, st.pool) == 0);
		}
	}
	if (rc < 0) {
		struct gui_msg m;
		size_t used = 7;

		FUZZ_CHECK(rc == -EBADMSG || rc == -EPROTO);
		FUZZ_CHECK(gui_reader_error(r) != NULL);
		/* sticky */
		FUZZ_CHECK(gui_reader_feed(r, data, 1, &used, &m) == rc);
		FUZZ_CHECK(used == 7);
	} else {
		FUZZ_CHECK(gui_reader_error(r) == NULL);
	}
	gui_reader_free(r);
	return 0;
}
