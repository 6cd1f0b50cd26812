/*
 * fuzz_qcmd_config.c - qcmd_config_parse(), the per-service configuration
 * (Qubes' TOML subset in QUBES_RPC_CONFIG_PATH): wait-for-session,
 * force-user, skip-service-descriptor, exit-on-service-eof,
 * exit-on-client-eof.  The files are admin-written, but the parser bounds
 * every length and must never read past the text it was given (the text
 * is not NUL-terminated).
 *
 * Invariants beyond "no crash":
 *  - text with a NUL is refused; failure is -EINVAL with a reason naming
 *    the file, or -ENOMEM;
 *  - on success force-user is absent or a 1..255-byte name without ':'
 *    or quote, and is never combined with skip-service-descriptor or
 *    exit-on-*-eof;
 *  - format -> parse round trip: writing the result back as a config and
 *    parsing that gives the same settings.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "lib/qcmd.h"

#define NAME "svc.conf"

static struct qcmd *
new_cmd(void)
{
	struct qcmd *c = NULL;
	char err[128];

	if (qcmd_parse("QUBESRPC fuzz.Service+arg src", false, &c, err,
	        sizeof(err)) < 0)
		return NULL;
	return c;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qcmd *c, *c2;
	char err[512], text[512];
	int r, n;

	c = new_cmd();
	if (c == NULL)
		return 0;
	err[0] = '\0';
	r = qcmd_config_parse(
	    c, NAME, (const char *)data, size, err, sizeof(err));
	if (r < 0) {
		FUZZ_CHECK(r == -EINVAL || r == -ENOMEM);
		if (r == -EINVAL)
			FUZZ_CHECK(strncmp(err, NAME, strlen(NAME)) == 0 &&
			    memchr(err, '\0', sizeof(err)) != NULL);
		qcmd_free(c);
		return 0;
	}
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(memchr(data, '\0', size) == NULL);
	if (c->force_user != NULL) {
		size_t ul = strlen(c->force_user);

		FUZZ_CHECK(ul >= 1 && ul <= 255);
		FUZZ_CHECK(strchr(c->force_user, ':') == NULL);
		FUZZ_CHECK(strchr(c->force_user, '\'') == NULL);
		FUZZ_CHECK(c->send_descriptor && !c->exit_on_client_eof &&
		    !c->exit_on_service_eof);
	}

	/* write the settings back and parse them again */
	n = snprintf(text, sizeof(text),
	    "# round trip\n"
	    "wait-for-session = %s\n"
	    "skip-service-descriptor = %s\n"
	    "exit-on-service-eof = %s\n"
	    "exit-on-client-eof = %s\n"
	    "%s%s%s",
	    c->wait_for_session ? "true" : "false",
	    c->send_descriptor ? "false" : "true",
	    c->exit_on_service_eof ? "true" : "false",
	    c->exit_on_client_eof ? "true" : "false",
	    c->force_user ? "force-user = '" : "",
	    c->force_user ? c->force_user : "", c->force_user ? "'\n" : "");
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(text));
	c2 = new_cmd();
	if (c2 == NULL) {
		qcmd_free(c);
		return 0;
	}
	r = qcmd_config_parse(c2, NAME, text, (size_t)n, err, sizeof(err));
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(c2->wait_for_session == c->wait_for_session);
	FUZZ_CHECK(c2->send_descriptor == c->send_descriptor);
	FUZZ_CHECK(c2->exit_on_service_eof == c->exit_on_service_eof);
	FUZZ_CHECK(c2->exit_on_client_eof == c->exit_on_client_eof);
	FUZZ_CHECK((c->force_user == NULL) == (c2->force_user == NULL));
	if (c->force_user)
		FUZZ_CHECK(strcmp(c->force_user, c2->force_user) == 0);
	qcmd_free(c2);
	qcmd_free(c);
	return 0;
}
