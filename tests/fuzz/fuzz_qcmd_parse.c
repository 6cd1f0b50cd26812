/*
 * fuzz_qcmd_parse.c - qcmd_parse(), the command line of an exec request:
 * "[user:][nogui:]QUBESRPC service[+arg] source [...]" or a shell command.
 * With a user part it is what an agent gets in MSG_EXEC_CMDLINE (after
 * proto_exec_parse()); without, what the clients parse locally.
 *
 * Input: byte 0 bit 0 picks with_user; the rest, up to its first NUL (a
 * validated exec payload never has one inside), is the command line.
 *
 * Invariants beyond "no crash":
 *  - on failure, -EINVAL with a non-empty reason, or -ENOMEM;
 *  - on success the parts put back together ("user:" "nogui:" command)
 *    are the input; a user part holds no ':';
 *  - an RPC command starts with "QUBESRPC ", its service name is valid,
 *    1..NAME_MAX bytes without '+', the descriptor is exactly
 *    name "+" arg and passes proto_service_valid(), the source domain is
 *    a non-empty name passing proto_target_valid() and is the word after
 *    the descriptor; a non-RPC command does not start with "QUBESRPC".
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lib/proto/qrexec.h"
#include "lib/qcmd.h"

static void
check_rpc(const struct qcmd *c)
{
	size_t nlen, dlen, slen;

	FUZZ_CHECK(strncmp(c->command, "QUBESRPC ", 9) == 0);
	FUZZ_CHECK(c->rpc_words == c->command + 9);
	FUZZ_CHECK(
	    c->service_name && c->descriptor && c->arg && c->source_domain);
	nlen = strlen(c->service_name);
	dlen = strlen(c->descriptor);
	FUZZ_CHECK(nlen >= 1 && nlen <= NAME_MAX);
	FUZZ_CHECK(strchr(c->service_name, '+') == NULL);
	FUZZ_CHECK(proto_service_valid(c->service_name, nlen));
	FUZZ_CHECK(dlen > nlen && dlen <= QREXEC_MAX_SERVICE_NAME_LEN + 1);
	FUZZ_CHECK(memcmp(c->descriptor, c->service_name, nlen) == 0);
	FUZZ_CHECK(c->descriptor[nlen] == '+');
	FUZZ_CHECK(c->arg == c->descriptor + nlen + 1);
	FUZZ_CHECK(proto_service_valid(c->descriptor, dlen));
	/* the words: "name[+arg] source..."; the '+' is added if absent */
	FUZZ_CHECK(strncmp(c->rpc_words, c->descriptor, nlen) == 0);
	slen = strlen(c->source_domain);
	FUZZ_CHECK(slen > 0 && proto_target_valid(c->source_domain, slen));
	{
		const char *sp = strchr(c->rpc_words, ' ');

		FUZZ_CHECK(sp != NULL);
		FUZZ_CHECK(strncmp(sp + 1, c->source_domain, slen) == 0);
		FUZZ_CHECK(sp[1 + slen] == '\0' || sp[1 + slen] == ' ');
		if (c->arg[0] != '\0')
			FUZZ_CHECK((size_t)(sp - c->rpc_words) == dlen &&
			    memcmp(c->rpc_words, c->descriptor, dlen) == 0);
		else
			FUZZ_CHECK((size_t)(sp - c->rpc_words) == nlen ||
			    (size_t)(sp - c->rpc_words) == dlen);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *line, *again;
	struct qcmd *c = NULL;
	bool with_user;
	int r;

	if (size < 1)
		return 0;
	with_user = data[0] & 1;
	line = malloc(size);
	if (line == NULL)
		return 0;
	memcpy(line, data + 1, size - 1);
	line[size - 1] = '\0';

	err[0] = '\0';
	r = qcmd_parse(line, with_user, &c, err, sizeof(err));
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL || r == -ENOMEM);
		if (r == -EINVAL)
			FUZZ_CHECK(err[0] != '\0' &&
			    memchr(err, '\0', sizeof(err)) != NULL);
		free(line);
		return 0;
	}
	FUZZ_CHECK(r == 0 && c != NULL);
	FUZZ_CHECK((c->user != NULL) == with_user);
	if (c->user)
		FUZZ_CHECK(strchr(c->user, ':') == NULL);

	/* put it back together: it must be the input */
	again = malloc(strlen(line) + 1);
	if (again != NULL) {
		int n = snprintf(again, strlen(line) + 1, "%s%s%s%s",
		    c->user ? c->user : "", c->user ? ":" : "",
		    c->nogui ? "nogui:" : "", c->command);

		FUZZ_CHECK(n >= 0 && strcmp(again, line) == 0);
		free(again);
	}

	if (c->is_rpc) {
		check_rpc(c);
	} else {
		FUZZ_CHECK(strncmp(c->command, "QUBESRPC", 8) != 0);
		FUZZ_CHECK(c->descriptor == NULL && c->service_name == NULL &&
		    c->source_domain == NULL);
	}
	qcmd_free(c);
	free(line);
	return 0;
}
