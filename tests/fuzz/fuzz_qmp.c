/*
 * fuzz_qmp.c - what a (compromised) QEMU sends on its QMP socket, and what
 * the QMP reader it may have taken over sends the launcher.
 *
 * Byte 0 picks the mode:
 *  bit 0 set: the rest is a QMP stream after a valid greeting and
 *     capabilities reply, read by a client through qmp_read_available()
 *     and qmp_pop_event() until EOF or an error, then one qmp_execute()
 *     whose reply may or may not be in the stream;
 *  else bit 1 set: the rest is one packet from the QMP reader for
 *     vq_msg_parse() (src/vm/qmp_proxy.c);
 *  else: the rest is one line for qmp_parse().
 *
 * Invariants beyond "no crash, no sanitizer report": an accepted message
 * has a type in range and fits its line limit; its strings are NUL-terminated within their limits
 * and of their character sets; an event's data is NULL or an object, a
 * return's data is set; an error or event written back as JSON parses to
 * the same fields.  The client never queues more than QMP_EVENT_QUEUE_MAX
 * events, and a client that saw garbage stays broken.  An accepted reader
 * packet is exactly 8 bytes, copied unchanged, an op the reader sends,
 * and a result the launcher can return: 0 or -1..-4095 (VQ_BROKEN never 0).
 *
 * The seeds in corpus/qmp are lines QEMU 7.2 sent in the experiments
 * noted in src/vm/qemu_cmd.c, plus edge cases at the limits.
 */
#include <sys/socket.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "lib/io.h"
#include "vm/qmp.h"
#include "vm/qmp_proxy.h"

static bool
all_chars(const char *s, size_t max, const char *set, bool lower)
{
	size_t n = strnlen(s, max + 1), i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    (lower && c >= 'a' && c <= 'z') || strchr(set, c) != NULL)
			continue;
		return false;
	}
	return true;
}

/* An accepted error or event, written back, parses to the same fields. */
static void
write_back(const struct qmp_msg *m)
{
	struct qmp_msg again;
	json_t *j = NULL;
	char *s;

	if (m->type == QMP_MSG_ERROR)
		j = m->has_id ? json_pack("{s:{s:s,s:s},s:I}", "error", "class",
		                    m->err_class, "desc", m->err_desc, "id",
		                    (json_int_t)m->id) :
		                json_pack("{s:{s:s,s:s}}", "error", "class",
		                    m->err_class, "desc", m->err_desc);
	else if (m->type == QMP_MSG_EVENT)
		j = json_pack("{s:s,s:{s:I,s:I},s:O*}", "event", m->event,
		    "timestamp", "seconds", (json_int_t)m->ts_sec,
		    "microseconds", (json_int_t)m->ts_usec, "data", m->data);
	if (j == NULL)
		return;
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK(qmp_parse(s, strlen(s), &again) == 0);
	FUZZ_CHECK(again.type == m->type);
	FUZZ_CHECK(strcmp(again.err_class, m->err_class) == 0);
	FUZZ_CHECK(strcmp(again.err_desc, m->err_desc) == 0);
	FUZZ_CHECK(strcmp(again.event, m->event) == 0);
	FUZZ_CHECK(again.ts_sec == m->ts_sec && again.ts_usec == m->ts_usec);
	FUZZ_CHECK(again.has_id == m->has_id && again.id == m->id);
	qmp_msg_clear(&again);
	free(s);
}

static void
check_msg(const struct qmp_msg *m)
{
	FUZZ_CHECK((unsigned int)m->type < QMP_MSG_TYPE_MAX);
	switch (m->type) {
	case QMP_MSG_GREETING:
		FUZZ_CHECK(m->data == NULL && !m->has_id);
		FUZZ_CHECK(m->qemu_major <= 65535 && m->qemu_minor <= 65535 &&
		    m->qemu_micro <= 65535);
		break;
	case QMP_MSG_RETURN:
		FUZZ_CHECK(m->data != NULL);
		break;
	case QMP_MSG_ERROR:
		FUZZ_CHECK(m->data == NULL);
		FUZZ_CHECK(all_chars(m->err_class, QMP_MAX_CLASS, "_", true));
		FUZZ_CHECK(strlen(m->err_desc) > 0 &&
		    strlen(m->err_desc) <= QMP_MAX_DESC);
		for (const char *p = m->err_desc; *p != '\0'; p++)
			FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
		break;
	case QMP_MSG_EVENT:
		FUZZ_CHECK(m->data == NULL || json_is_object(m->data));
		FUZZ_CHECK(!m->has_id);
		FUZZ_CHECK(all_chars(m->event, QMP_MAX_EVENT, "_", false));
		FUZZ_CHECK(m->ts_usec <= 999999);
		break;
	case QMP_MSG_TYPE_MAX:
		break;
	}
	write_back(m);
}

static void
fuzz_stream(const uint8_t *data, size_t size)
{
	static const char hello[] =
	    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, "
	    "\"major\": 7}, \"package\": \"\"}, \"capabilities\": []}}\n"
	    "{\"return\": {}, \"id\": 1}\n";
	struct qmp_msg m;
	struct qmp *q;
	int sv[2], r, i;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	q = qmp_new(sv[0]);
	FUZZ_CHECK(q != NULL);
	FUZZ_CHECK(io_write_all(sv[1], hello, sizeof(hello) - 1) == 0);
	FUZZ_CHECK(qmp_handshake(q, io_deadline(1000)) == 0);
	/* the socket's buffer bounds one input; EOF after it */
	(void)fuzz_fill_socket(&sv[1], data, size, 0);
	for (i = 0; i < 1000; i++) {
		r = qmp_read_available(q);
		while (qmp_pop_event(q, &m) == 0) {
			check_msg(&m);
			qmp_msg_clear(&m);
		}
		if (r < 0)
			break;
	}
	FUZZ_CHECK(r < 0);
	FUZZ_CHECK(qmp_events_dropped(q) < 1000000);
	/* the stream ended: a command can only fail, within its deadline */
	r = qmp_cont(q, io_deadline(1000));
	FUZZ_CHECK(r < 0 && r != -ETIMEDOUT);
	if (r == -EBADMSG)
		FUZZ_CHECK(qmp_stop(q, io_deadline(1000)) == -EBADMSG);
	qmp_free(q);
	(void)close(sv[0]);
}

/* One packet from the QMP reader to the launcher. */
static void
fuzz_reader_packet(const uint8_t *data, size_t size)
{
	struct vq_msg m;

	memset(&m, 0xa5, sizeof(m));
	if (vq_msg_parse(data, size, &m) < 0) {
		/* rejected: nothing written */
		FUZZ_CHECK(
		    m.vm_op == 0xa5a5a5a5u && m.vm_arg == (int32_t)0xa5a5a5a5u);
		return;
	}
	FUZZ_CHECK(size == sizeof(m));
	FUZZ_CHECK(memcmp(&m, data, sizeof(m)) == 0);
	FUZZ_CHECK(m.vm_op == VQ_DONE || m.vm_op == VQ_BROKEN);
	FUZZ_CHECK(m.vm_arg <= 0 && m.vm_arg >= -4095);
	FUZZ_CHECK(m.vm_op != VQ_BROKEN || m.vm_arg != 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmp_msg m;

	fuzz_init_once();
	if (size < 1)
		return 0;
	if (data[0] & 1) {
		fuzz_stream(data + 1, size - 1);
		return 0;
	}
	if (data[0] & 2) {
		fuzz_reader_packet(data + 1, size - 1);
		return 0;
	}
	if (qmp_parse((const char *)data + 1, size - 1, &m) < 0)
		return 0;
	FUZZ_CHECK(size - 1 <= QMP_MAX_LINE);
	FUZZ_CHECK(m.type != QMP_MSG_EVENT || size - 1 <= QMP_MAX_EVENT_LINE);
	check_msg(&m);
	qmp_msg_clear(&m);
	return 0;
}
