/*
 * fuzz_idclaim.c - the two parsers of the host's qid registry
 * (src/daemon/idclaim.c): idclaim_target_parse(), a claim's symlink
 * target as another bulkheadd wrote it, and idclaim_subid_text_meets(),
 * the text of /etc/subuid or /etc/subgid.
 *
 * The first byte chooses the parser (even: target, odd: subordinate ids);
 * for the second, the next 16 bytes are the range asked about (first,
 * count; little-endian), the rest the file's text.
 *
 * Invariants beyond "no crash": an accepted target prints back ("UUID
 * STATEDIR") to exactly the input, its uuid valid and its path absolute,
 * and a refused one leaves the result untouched; a range found to meet
 * another names an owner that is printable, without spaces, NUL-terminated
 * within its buffer, and the start of a line of the text followed by ':'.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "daemon/idclaim.h"
#include "fuzz.h"
#include "lib/util.h"

static void
target(const uint8_t *data, size_t size)
{
	static struct idclaim_target t;
	static char back[IDCLAIM_UUID_LEN + 1 + PATH_MAX + 1];
	int r;

	memset(&t, 0x5a, sizeof(t));
	r = idclaim_target_parse((const char *)data, size, &t);
	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG);
		for (size_t i = 0; i < sizeof(t); i++)
			FUZZ_CHECK(((const unsigned char *)&t)[i] == 0x5a);
		return;
	}
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(str_uuid_valid(t.uuid));
	FUZZ_CHECK(t.state_dir[0] == '/');
	FUZZ_CHECK(
	    str_printf(back, sizeof(back), "%s %s", t.uuid, t.state_dir) == 0);
	FUZZ_CHECK(strlen(back) == size && memcmp(back, data, size) == 0);
}

static void
subids(const uint8_t *data, size_t size)
{
	uint64_t first = 0, count = 0;
	char who[32];
	const char *text = (const char *)data + 16;
	size_t len = size - 16, n;
	bool at_line_start = false;
	int r;

	for (int i = 7; i >= 0; i--) {
		first = first << 8 | data[i];
		count = count << 8 | data[8 + i];
	}
	/* as bulkheadd asks: ids below 2^32, ranges of up to 2^32 */
	first &= 0xffffffffu;
	count &= 0xffffffffu;
	r = idclaim_subid_text_meets(text, len, first, count, who, sizeof(who));
	FUZZ_CHECK(r == 0 || r == 1);
	if (r == 0)
		return;
	n = strnlen(who, sizeof(who));
	FUZZ_CHECK(n > 0 && n < sizeof(who));
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(who[i] > ' ' && who[i] < 0x7f);
	/* a cut name (as long as the buffer allows) is a prefix only */
	for (size_t at = 0; at + n <= len && !at_line_start; at++)
		if ((at == 0 || text[at - 1] == '\n') &&
		    memcmp(text + at, who, n) == 0 &&
		    (n == sizeof(who) - 1 ||
		        (at + n < len && text[at + n] == ':')))
			at_line_start = true;
	FUZZ_CHECK(at_line_start);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if ((data[0] & 1) == 0)
		target(data + 1, size - 1);
	else if (size >= 17)
		subids(data + 1, size - 1);
	return 0;
}
