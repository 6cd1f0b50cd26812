/*
 * fuzz_gui_validator.c - the GUI validator's stateful checks
 * (src/gui/guid/vcheck.c) on a hostile agent's session: the bytes and fds
 * a qube sends, interleaved with what the core sends (clipboard requests,
 * input) and the clock, as the validator process sees them.
 *
 * Input: byte 0 chooses UTF-8 titles (bit 0) and the clipboard limit
 * (bits 1-2: 256, 1000, 64000, 256000); then ops, each a byte:
 *   op & 7 == 0  feed the next (1 + byte) bytes of the stream
 *          == 1  the same, with the core not reading (to_core fails)
 *          == 2  the same, with the agent not reading (to_qube fails)
 *          == 3  the same, with the agent's pool of (op >> 3) + 1 pages
 *          == 4  the same, with an unsealed memfd (op & 8) or a pipe
 *          == 5  the core asks for the clipboard (CLIPBOARD_REQ)
 *          == 6  the core sends input (FOCUS) to window (op >> 3) + 1
 *          == 7  the clock moves (op >> 3) * 100 ms
 * The screen is 1024x768 (the core's xconf, given first).
 *
 * Invariants beyond "no crash": what reaches the core is a valid message
 * of the agent's direction (it validates again), for a window that
 * exists (CREATE: one that does not, at most GUI_MAX_WINDOWS), with an
 * fd only and always for the one POOL; damage inside the window's last
 * buffer; no fullscreen flag; override-redirect only up to 90% of the
 * screen; clipboard data only once per request; the handshake's answer
 * (version word, xconf) once and first; a DESTROY acknowledged with the
 * same id; nothing after a violation or the agent's ERROR, and a
 * violation always has a reason; input from the core is passed only for
 * a live window after the handshake.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "fuzz.h"
#include "gui/guid/vcheck.h"
#include "lib/gui_pool.h"
#include "lib/proto/gui.h"

static const uint32_t limits[4] = {
    GUI_CLIPBOARD_MIN, 1000, GUI_CLIPBOARD_DEFAULT, GUI_CLIPBOARD_MAX};

#define SCREEN_W 1024u
#define SCREEN_H 768u

struct st {
	struct gui_params params;
	bool fail_core, fail_qube;
	bool dead;
	unsigned raw; /* handshake words answered */
	bool pool;
	uint64_t pool_size;
	bool clip_asked;
	uint32_t nwin;
	uint32_t last_destroyed;
	bool win[GUI_MAX_WINDOW_ID + 1];
	uint32_t buf_w[GUI_MAX_WINDOW_ID + 1], buf_h[GUI_MAX_WINDOW_ID + 1];
};

static struct st st;

static bool
or_ok(uint32_t o_r, uint32_t w, uint32_t h)
{
	return !o_r ||
	    (uint64_t)w * h * 100 <= (uint64_t)SCREEN_W * SCREEN_H * 90;
}

static int
to_core(
    void *ctx, const struct gui_msg *m, const void *body, size_t len, int fd)
{
	struct gui_hdr h = {m->type, m->window, (uint32_t)len}, hv;
	struct gui_params p = st.params;
	struct gui_msg again;
	uint32_t id = m->window;

	(void)ctx;
	FUZZ_CHECK(!st.dead);
	FUZZ_CHECK(st.raw == 2);
	/* a valid message of the agent's direction, from its own bytes */
	p.pool_size = st.pool_size;
	if (m->type == GUI_MSG_WINDOW_DUMP)
		FUZZ_CHECK(st.pool);
	FUZZ_CHECK(proto_gui_hdr_parse(&h, sizeof(h), GUI_DIR_TO_GUI,
	               p.clipboard_limit, &hv) == 0);
	FUZZ_CHECK(proto_gui_msg_parse(
	               &hv, body, len, GUI_DIR_TO_GUI, &p, &again) == 0);
	FUZZ_CHECK((fd >= 0) == (m->type == GUI_MSG_POOL));
	if (m->type != GUI_MSG_CREATE && m->type != GUI_MSG_POOL &&
	    m->type != GUI_MSG_CLIPBOARD_DATA)
		FUZZ_CHECK(id >= 1 && id <= GUI_MAX_WINDOW_ID && st.win[id]);
	switch (m->type) {
	case GUI_MSG_POOL:
		FUZZ_CHECK(!st.pool);
		st.pool = true;
		st.pool_size = (uint64_t)m->u.pool.pool_pages * GUI_PAGE_SIZE;
		break;
	case GUI_MSG_CREATE:
		FUZZ_CHECK(id >= 1 && id <= GUI_MAX_WINDOW_ID && !st.win[id]);
		FUZZ_CHECK(st.nwin < GUI_MAX_WINDOWS);
		FUZZ_CHECK(or_ok(m->u.create.create_override_redirect,
		    m->u.create.create_width, m->u.create.create_height));
		if (st.fail_core)
			break;
		st.win[id] = true;
		st.buf_w[id] = st.buf_h[id] = 0;
		st.nwin++;
		break;
	case GUI_MSG_DESTROY:
		st.win[id] = false;
		st.nwin--;
		st.last_destroyed = id;
		break;
	case GUI_MSG_CONFIGURE:
		FUZZ_CHECK(or_ok(m->u.configure.configure_override_redirect,
		    m->u.configure.configure_width,
		    m->u.configure.configure_height));
		break;
	case GUI_MSG_SHMIMAGE:
		FUZZ_CHECK(m->u.shmimage.shmimage_x >= 0 &&
		    m->u.shmimage.shmimage_y >= 0);
		FUZZ_CHECK((uint64_t)m->u.shmimage.shmimage_x +
		        m->u.shmimage.shmimage_width <=
		    st.buf_w[id]);
		FUZZ_CHECK((uint64_t)m->u.shmimage.shmimage_y +
		        m->u.shmimage.shmimage_height <=
		    st.buf_h[id]);
		break;
	case GUI_MSG_WINDOW_DUMP:
		if (st.fail_core)
			break;
		st.buf_w[id] = m->u.dump.dump_width;
		st.buf_h[id] = m->u.dump.dump_height;
		break;
	case GUI_MSG_WINDOW_FLAGS:
		FUZZ_CHECK(!(m->u.flags.flags_set & GUI_FLAG_FULLSCREEN));
		break;
	case GUI_MSG_CLIPBOARD_DATA:
		FUZZ_CHECK(st.clip_asked);
		st.clip_asked = false;
		break;
	default:
		break;
	}
	return st.fail_core ? -ENOBUFS : 0;
}

static int
to_qube(void *ctx, uint32_t type, uint32_t window, const void *body, size_t len)
{
	(void)ctx;
	(void)body;
	FUZZ_CHECK(!st.dead);
	if (type == 0) {
		FUZZ_CHECK(st.raw < 2);
		FUZZ_CHECK(len == (st.raw == 0 ? 4u : 16u));
		st.raw++;
	} else {
		FUZZ_CHECK(st.raw == 2);
		FUZZ_CHECK(type == GUI_MSG_DESTROY && len == 0);
		FUZZ_CHECK(window == st.last_destroyed);
	}
	return st.fail_qube ? -ENOBUFS : 0;
}

static const struct gd_vcheck_ops ops = {to_core, to_qube};

/* The fd an op sends along, or -1. */
static int
make_fd(uint8_t op)
{
	int p[2], fd;

	if ((op & 7) == 3) {
		/* as the agent makes it (a qube's POOL wants both steps) */
		if (gui_pool_make(
		        ((size_t)(op >> 3) + 1) * GUI_PAGE_SIZE, &fd) < 0)
			return -1;
		if (gui_pool_seal_readonly(fd) < 0) {
			(void)close(fd);
			return -1;
		}
		return fd;
	}
	if ((op & 7) != 4)
		return -1;
	if (op & 8) {
		fd = memfd_create("fuzz", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, GUI_PAGE_SIZE) < 0) {
			(void)close(fd);
			fd = -1;
		}
		return fd;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	(void)close(p[1]);
	return p[0];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gd_vcheck_opts o;
	struct gd_vcheck *v;
	struct gui_xconf x = {
	    SCREEN_W, SCREEN_H, 24, SCREEN_W * SCREEN_H * 4 / 1024 + 1};
	uint64_t now = 1000;
	size_t off = 1;
	int r = 0;

	fuzz_init_once();
	if (size < 1)
		return 0;
	memset(&st, 0, sizeof(st));
	o.allow_utf8_titles = data[0] & 1;
	o.clipboard_limit = limits[(data[0] >> 1) & 3];
	st.params.clipboard_limit = o.clipboard_limit;
	st.params.allow_utf8_titles = o.allow_utf8_titles;
	if (gd_vcheck_new(&o, &ops, NULL, &v) < 0)
		return 0;
	FUZZ_CHECK(!gd_vcheck_ready(v));
	gd_vcheck_set_xconf(v, &x);
	FUZZ_CHECK(gd_vcheck_ready(v));
	while (off < size && r == 0) {
		uint8_t op = data[off++];
		struct gui_msg m;
		size_t n;
		int fd;

		switch (op & 7) {
		case 5:
			memset(&m, 0, sizeof(m));
			m.type = GUI_MSG_CLIPBOARD_REQ;
			r = gd_vcheck_from_core(v, &m);
			FUZZ_CHECK(r == (st.raw == 2 ? 1 : 0));
			if (r == 1)
				st.clip_asked = true;
			r = 0;
			continue;
		case 6:
			memset(&m, 0, sizeof(m));
			m.type = GUI_MSG_FOCUS;
			m.window = (uint32_t)(op >> 3) + 1;
			m.u.focus.focus_type = GUI_FOCUS_IN;
			r = gd_vcheck_from_core(v, &m);
			FUZZ_CHECK(r == (st.raw == 2 && st.win[m.window]));
			r = 0;
			continue;
		case 7:
			now += (uint64_t)(op >> 3) * 100;
			continue;
		default:
			break;
		}
		if (off >= size)
			break;
		n = (size_t)data[off++] + 1;
		if (n > size - off)
			n = size - off;
		st.fail_core = (op & 7) == 1;
		st.fail_qube = (op & 7) == 2;
		fd = make_fd(op);
		r = gd_vcheck_feed(v, data + off, n, fd, now);
		off += n;
		FUZZ_CHECK(r == 0 || r == -EPROTO || r == -EPIPE);
		if (r == -EPROTO) {
			uint32_t code = 0;
			const char *why = gd_vcheck_violation(v, &code, NULL);

			FUZZ_CHECK(why != NULL && why[0] != '\0');
			FUZZ_CHECK(
			    code >= GUI_ERR_PROTOCOL && code < GUI_ERR_MAX);
		} else {
			FUZZ_CHECK(gd_vcheck_violation(v, NULL, NULL) == NULL);
		}
		if (r < 0) {
			st.dead = true;
			/* sticky: nothing more is taken */
			FUZZ_CHECK(gd_vcheck_feed(v, data, 0, -1, now) < 0 ||
			    r == -EPIPE);
		}
	}
	gd_vcheck_free(v);
	return 0;
}
