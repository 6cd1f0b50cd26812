/*
 * test_policy.c - unit tests of the policy engine (issue #3): tokens, the
 * parser and its limits, the loader (shadowing, includes, loops,
 * overrides), the evaluator, the daemon's request parser, reply
 * formatting (checked with the qrexec-daemon's own reply parser), the
 * agent protocol and the system-information loader.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/proto/policy.h"
#include "policy/policy.h"

static const char sysinfo_json[] =
    "{\"domains\": {"
    "\"dom0\": {\"tags\": [], \"type\": \"AdminVM\", \"default_dispvm\": "
    "\"dvm\", \"template_for_dispvms\": false, \"power_state\": "
    "\"Running\", \"uuid\": \"00000000-0000-0000-0000-000000000000\"},"
    "\"work\": {\"tags\": [\"t1\"], \"type\": \"AppVM\", "
    "\"default_dispvm\": \"dvm\", \"template_for_dispvms\": false, "
    "\"power_state\": \"Running\", \"uuid\": "
    "\"11111111-1111-1111-1111-111111111111\"},"
    "\"vault\": {\"tags\": [], \"type\": \"AppVM\", \"default_dispvm\": "
    "null, \"template_for_dispvms\": false, \"power_state\": \"Halted\"},"
    "\"dvm\": {\"tags\": [\"t2\"], \"type\": \"AppVM\", "
    "\"default_dispvm\": \"dvm\", \"template_for_dispvms\": true, "
    "\"power_state\": \"Halted\", \"uuid\": "
    "\"22222222-2222-2222-2222-222222222222\"},"
    "\"hidden\": {\"tags\": [], \"type\": \"AppVM\", \"internal\": true, "
    "\"template_for_dispvms\": false, \"power_state\": \"Running\"}"
    "}}";

static struct sysinfo *
mk_si(void)
{
	struct sysinfo *si = NULL;
	char err[256];

	assert_int_equal(sysinfo_parse(sysinfo_json, strlen(sysinfo_json), &si,
	                     err, sizeof(err)),
	    0);
	return si;
}

static struct policy *
mk_policy(const char *text)
{
	struct policy *p = NULL;
	struct policy_error e;
	int r = policy_load_text(
	    "t.policy", NULL, text, strlen(text), NULL, &p, &e);

	if (r != 0)
		fail_msg("policy: %s:%u: %s", e.file, e.line, e.msg);
	return p;
}

/* Load text and expect an error at line:col containing msg. */
static void
expect_error_n(
    const char *text, size_t len, unsigned line, unsigned col, const char *msg)
{
	struct policy *p = NULL;
	struct policy_error e;

	assert_int_equal(
	    policy_load_text("t.policy", NULL, text, len, NULL, &p, &e),
	    -EINVAL);
	assert_null(p);
	if (e.line != line || e.col != col || strstr(e.msg, msg) == NULL)
		fail_msg("expected %u:%u: \"%s\", got %u:%u: \"%s\"", line, col,
		    msg, e.line, e.col, e.msg);
}

/* string literals only: their length includes any NUL inside */
#define expect_error(text, line, col, msg)                                     \
	expect_error_n(text, sizeof(text) - 1, line, col, msg)

/* ---- tokens ---- */

static void
test_tokens(void **state)
{
	static const struct {
		const char *tok;
		unsigned ok; /* bits: source, target, redirect, intended */
		enum policy_token_kind kind;
	} cases[] = {
	    {"work", 0xf, POLICY_TOK_NAME},
	    {"uuid:11111111-1111-1111-1111-111111111111", 0xf, POLICY_TOK_NAME},
	    {"*", 0x3, POLICY_TOK_ANY},
	    {"@adminvm", 0xf, POLICY_TOK_ADMINVM},
	    {"@anyvm", 0x3, POLICY_TOK_ANYVM},
	    {"@default", 0xa, POLICY_TOK_DEFAULT},
	    {"@type:AppVM", 0x3, POLICY_TOK_TYPE},
	    {"@tag:x", 0x3, POLICY_TOK_TAG},
	    {"@dispvm", 0xe, POLICY_TOK_DISPVM},
	    {"@dispvm:dvm", 0xf, POLICY_TOK_DISPVM_NAME},
	    {"@dispvm:@tag:x", 0x3, POLICY_TOK_DISPVM_TAG},
	    {"@uuid:11111111-1111-1111-1111-111111111111", 0, POLICY_TOK_MAX},
	    {"@invalid", 0, POLICY_TOK_MAX},
	    {"@tag:", 0, POLICY_TOK_MAX},
	    {"@type:", 0, POLICY_TOK_MAX},
	    {"@dispvm:", 0, POLICY_TOK_MAX},
	    {"@dispvm:@tag:", 0, POLICY_TOK_MAX},
	    {"@tag:@x", 0, POLICY_TOK_MAX},
	    {"", 0, POLICY_TOK_MAX},
	};
	size_t i;
	int pos;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (pos = 0; pos < POLICY_POS_MAX; pos++) {
			struct policy_token t;
			char err[128];
			int r = policy_token_parse(
			    cases[i].tok, pos, &t, err, sizeof(err));

			if (cases[i].ok & (1u << pos)) {
				if (r != 0)
					fail_msg("%s in %d: %s", cases[i].tok,
					    pos, err);
				assert_int_equal(t.kind, cases[i].kind);
			} else if (r != -EINVAL) {
				fail_msg("%s accepted in position %d",
				    cases[i].tok, pos);
			}
		}
	}
}

static void
test_token_values(void **state)
{
	struct policy_token t;
	char err[128];

	(void)state;
	assert_int_equal(policy_token_parse("@dispvm:@tag:abc",
	                     POLICY_POS_TARGET, &t, err, sizeof(err)),
	    0);
	assert_string_equal(t.value, "abc");
	assert_int_equal(policy_token_parse("@type:TemplateVM",
	                     POLICY_POS_SOURCE, &t, err, sizeof(err)),
	    0);
	assert_string_equal(t.value, "TemplateVM");
	assert_int_equal(policy_token_parse("@anyvm", POLICY_POS_REDIRECT, &t,
	                     err, sizeof(err)),
	    -EINVAL);
	assert_string_equal(err, "invalid redirect token: '@anyvm'");
	assert_int_equal(policy_token_parse(
	                     "@tag:", POLICY_POS_SOURCE, &t, err, sizeof(err)),
	    -EINVAL);
	assert_string_equal(err, "invalid empty @tag: token: '@tag:'");
}

/* ---- parser ---- */

static void
test_parse_rules(void **state)
{
	struct policy *p;
	const struct policy_rule *r;

	(void)state;
	p = mk_policy("# comment\n"
	              "\n"
	              "   # indented comment\n"
	              "svc.A +arg work @default ask target=vault "
	              "default_target=vault user=root notify=yes "
	              "autostart=no\n"
	              "* * @anyvm @anyvm deny\n"
	              "svc.B * @tag:x @dispvm:@tag:y allow\n");
	assert_int_equal(policy_rule_count(p), 3);
	r = policy_rule_at(p, 0);
	assert_string_equal(r->service, "svc.A");
	assert_string_equal(r->argument, "+arg");
	assert_int_equal(r->source.kind, POLICY_TOK_NAME);
	assert_int_equal(r->target.kind, POLICY_TOK_DEFAULT);
	assert_int_equal(r->action, POLICY_ACTION_ASK);
	assert_true(r->has_redirect);
	assert_true(r->has_default_target);
	assert_string_equal(r->redirect.text, "vault");
	assert_string_equal(r->user, "root");
	assert_true(r->notify);
	assert_false(r->autostart);
	assert_int_equal(r->line, 4);
	r = policy_rule_at(p, 1);
	assert_null(r->service);
	assert_null(r->argument);
	assert_true(r->notify); /* deny notifies by default */
	r = policy_rule_at(p, 2);
	assert_false(r->notify); /* allow does not */
	assert_true(r->autostart);
	assert_int_equal(r->target.kind, POLICY_TOK_DISPVM_TAG);
	assert_string_equal(r->target.value, "y");
	assert_null(policy_rule_at(p, 3));
	policy_free(p);
}

static void
test_parse_lines(void **state)
{
	struct policy *p;

	(void)state;
	/* \r\n and \r end lines as in Python's text mode */
	p = mk_policy("a * @anyvm @anyvm allow\r\nb * @anyvm @anyvm allow\r"
	              "c * @anyvm @anyvm allow");
	assert_int_equal(policy_rule_count(p), 3);
	assert_int_equal(policy_rule_at(p, 2)->line, 3);
	policy_free(p);
	/* Unicode spaces separate fields, as Python's str.split() */
	p = mk_policy("a\xc2\xa0*\xe2\x80\x83@anyvm\xe3\x80\x80@anyvm\x1f"
	              "allow\n");
	assert_int_equal(policy_rule_count(p), 1);
	policy_free(p);
	expect_error("a * @anyvm @anyvm allow\nb\0c\n", 2, 0, "NUL");
	expect_error("\xff\n", 1, 0, "UTF-8");
	expect_error("\xed\xa0\x80\n", 1, 0, "UTF-8"); /* a surrogate */
	expect_error("\xc0\xaf\n", 1, 0, "UTF-8");     /* overlong */
	expect_error("a * @anyvm\n", 1, 1, "wrong number of fields");
	expect_error("a * @anyvm @anyvm allow target=work target=x\n", 1, 37,
	    "parameter given twice: 'target'");
	expect_error(
	    "a * @anyvm @default allow\n", 1, 12, "must specify target=");
	expect_error(
	    "a b @anyvm @anyvm allow\n", 1, 3, "does not start with +");
	expect_error("* +b @anyvm @anyvm allow\n", 1, 3,
	    "only * argument allowed for * service");
	expect_error("a * @anyvm @anyvm deny user=x\n", 1, 24,
	    "invalid parameter 'user' for action deny");
	expect_error(
	    "a * @anyvm @anyvm deny notify=x\n", 1, 24, "'notify' is 'x'");
	expect_error("!frob\n", 1, 1, "invalid directive");
	expect_error("!include a\n", 1, 10, "includes are not available");
}

static void
test_parse_limits(void **state)
{
	size_t n = POLICY_MAX_LINE_LEN + 2;
	char *big = malloc(n + 1);
	struct policy *p = NULL;
	struct policy_error e;

	(void)state;
	assert_non_null(big);
	/* the longest line is fine (as a comment), one more byte is not */
	memset(big, 'x', n);
	big[0] = '#';
	assert_int_equal(
	    policy_load_text("t", NULL, big, POLICY_MAX_LINE_LEN, NULL, &p, &e),
	    0);
	policy_free(p);
	p = NULL;
	assert_int_equal(policy_load_text("t", NULL, big,
	                     POLICY_MAX_LINE_LEN + 1, NULL, &p, &e),
	    -EINVAL);
	assert_non_null(strstr(e.msg, "line too long"));
	/* one token longer than the limit */
	memset(big, 'a', n);
	assert_int_equal(policy_load_text("t", NULL, big,
	                     POLICY_MAX_TOKEN_LEN + 1, NULL, &p, &e),
	    -EINVAL);
	assert_non_null(strstr(e.msg, "token too long"));
	free(big);
	/* a file larger than the limit is refused before it is parsed */
	big = calloc(POLICY_MAX_FILE_SIZE + 1, 1);
	assert_non_null(big);
	memset(big, '\n', POLICY_MAX_FILE_SIZE + 1);
	assert_int_equal(policy_load_text("t", NULL, big,
	                     POLICY_MAX_FILE_SIZE + 1, NULL, &p, &e),
	    -EINVAL);
	assert_non_null(strstr(e.msg, "file too large"));
	assert_int_equal(policy_load_text("t", NULL, big, POLICY_MAX_FILE_SIZE,
	                     NULL, &p, &e),
	    0);
	policy_free(p);
	free(big);
}

/* ---- the loader, on real directories ---- */

static char tmpdir[64];

static void
put_file(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	(void)snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
mk_dir(const char *rel)
{
	char path[512];

	(void)snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	assert_int_equal(mkdir(path, 0700), 0);
}

static int
setup_tmp(void **state)
{
	(void)state;
	(void)snprintf(tmpdir, sizeof(tmpdir), "/tmp/policy-test.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown_tmp(void **state)
{
	(void)state;
	return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int
load_dirs(const char *d1, const char *d2, struct policy **p,
    struct policy_error *e, const char *ov_path, const char *ov_text)
{
	char a[512], b[512], ov[512], compat[512];
	const char *dirs[2] = {a, b};
	struct policy_load_opts o;

	memset(&o, 0, sizeof(o));
	(void)snprintf(a, sizeof(a), "%s/%s", tmpdir, d1);
	(void)snprintf(b, sizeof(b), "%s/%s", tmpdir, d2 ? d2 : "");
	(void)snprintf(compat, sizeof(compat), "%s/compat", tmpdir);
	o.dirs = dirs;
	o.ndirs = d2 ? 2 : 1;
	o.compat_dir = compat;
	if (ov_path != NULL) {
		(void)snprintf(ov, sizeof(ov), "%s/%s", tmpdir, ov_path);
		o.override_path = ov;
		o.override_text = ov_text;
		o.override_len = ov_text ? strlen(ov_text) : 0;
	}
	*p = NULL;
	return policy_load(&o, p, e);
}

static void
test_loader(void **state)
{
	struct policy *p;
	struct policy_error e;

	(void)state;
	mk_dir("run");
	mk_dir("etc");
	mk_dir("etc/include");
	mk_dir("compat");
	put_file("etc/20-b.policy", "b * @anyvm @anyvm allow\n");
	put_file("etc/10-a.policy",
	    "a * @anyvm @anyvm allow\n"
	    "!include include/x\n");
	put_file("etc/include/x", "x * @anyvm @anyvm deny\n");
	put_file("etc/30-c.policy~", "ignored\n");
	put_file("etc/.40-d.policy", "ignored\n");
	put_file("run/20-b.policy", "shadow * @anyvm @anyvm allow\n");
	assert_int_equal(load_dirs("run", "etc", &p, &e, NULL, NULL), 0);
	/* 10-a (with its include), then run/20-b shadowing etc/20-b */
	assert_int_equal(policy_rule_count(p), 3);
	assert_string_equal(policy_rule_at(p, 0)->service, "a");
	assert_string_equal(policy_rule_at(p, 1)->service, "x");
	assert_string_equal(policy_rule_at(p, 2)->service, "shadow");
	assert_true(policy_source_count(p) >= 4);
	policy_free(p);

	/* qubes-policy's check: a replacement with an error is refused */
	assert_int_equal(
	    load_dirs("etc", NULL, &p, &e, "etc/20-b.policy", "b * @anyvm\n"),
	    -EINVAL);
	assert_int_equal(e.line, 1);
	/* a new file is seen in its place in the order */
	assert_int_equal(load_dirs("etc", NULL, &p, &e, "etc/15-new.policy",
	                     "new * @anyvm @anyvm deny\n"),
	    0);
	assert_string_equal(policy_rule_at(p, 2)->service, "new");
	policy_free(p);
	/* removing an included file breaks its includer */
	assert_int_equal(
	    load_dirs("etc", NULL, &p, &e, "etc/include/x", NULL), -EINVAL);
	assert_non_null(strstr(e.msg, "will be removed"));
	/* a bad file name makes the whole policy fail */
	put_file("run/Bad.policy", "\n");
	assert_int_equal(load_dirs("run", "etc", &p, &e, NULL, NULL), -EINVAL);
	assert_non_null(strstr(e.msg, "invalid filename"));
	assert_null(p);
	/* a missing directory too */
	assert_int_equal(
	    load_dirs("nonexistent", NULL, &p, &e, NULL, NULL), -EINVAL);
	assert_non_null(strstr(e.msg, "failed to load"));
}

static void
test_loader_includes(void **state)
{
	struct policy *p;
	struct policy_error e;
	char text[600];

	(void)state;
	mk_dir("loop");
	put_file("loop/10-a.policy", "!include b\n");
	put_file("loop/b", "!include 10-a.policy\n");
	assert_int_equal(load_dirs("loop", NULL, &p, &e, NULL, NULL), -EINVAL);
	assert_non_null(strstr(e.msg, "include loop"));
	/* an absolute include path, !include-service in both syntaxes */
	mk_dir("abs");
	(void)snprintf(text, sizeof(text),
	    "!include %s/abs/inc\n"
	    "!include-service svc.X +a svc\n"
	    "!include-dir sub\n",
	    tmpdir);
	put_file("abs/10-a.policy", text);
	put_file("abs/inc", "abs * @anyvm @anyvm deny\n");
	put_file("abs/svc",
	    "$anyvm $anyvm ask,default_target=$dispvm\n"
	    "$include:svc2\n");
	put_file("abs/svc2", "work @anyvm allow\n");
	mk_dir("abs/sub");
	put_file("abs/sub/2.policy", "two * @anyvm @anyvm deny\n");
	put_file("abs/sub/1.policy", "one * @anyvm @anyvm deny\n");
	assert_int_equal(load_dirs("abs", NULL, &p, &e, NULL, NULL), 0);
	assert_int_equal(policy_rule_count(p), 5);
	assert_string_equal(policy_rule_at(p, 0)->service, "abs");
	assert_string_equal(policy_rule_at(p, 1)->service, "svc.X");
	assert_string_equal(policy_rule_at(p, 1)->argument, "+a");
	assert_int_equal(
	    policy_rule_at(p, 1)->default_target.kind, POLICY_TOK_DISPVM);
	assert_string_equal(policy_rule_at(p, 2)->source.text, "work");
	assert_string_equal(policy_rule_at(p, 3)->service, "one");
	assert_string_equal(policy_rule_at(p, 4)->service, "two");
	policy_free(p);
	/* !compat-4.0: specific arguments first, then implicit denies */
	mk_dir("c");
	put_file("c/35-compat.policy", "!compat-4.0\n");
	put_file("compat/svc", "work vault allow\n");
	put_file("compat/svc+arg", "work dvm allow\n");
	put_file("compat/svc.rpmnew", "broken\n");
	assert_int_equal(load_dirs("c", NULL, &p, &e, NULL, NULL), 0);
	assert_int_equal(policy_rule_count(p), 4);
	assert_string_equal(policy_rule_at(p, 0)->argument, "+arg");
	assert_int_equal(policy_rule_at(p, 1)->action, POLICY_ACTION_DENY);
	assert_int_equal(policy_rule_at(p, 2)->target.kind, POLICY_TOK_ADMINVM);
	assert_null(policy_rule_at(p, 3)->argument);
	policy_free(p);
}

/* ---- evaluation ---- */

static void
eval(const struct policy *p, struct sysinfo *si, const char *src,
    const char *tgt, const char *svc, struct policy_decision *d)
{
	struct policy_query q = {
	    .untrusted_source = src,
	    .untrusted_intended_target = tgt,
	    .untrusted_service_and_arg = svc,
	};

	assert_int_equal(policy_evaluate(p, si, &q, d), 0);
}

static void
test_evaluate(void **state)
{
	struct sysinfo *si = mk_si();
	struct policy *p;
	struct policy_decision d;
	struct policy_reply pr;
	char out[POLICY_REPLY_BUF_LEN];
	int n;

	(void)state;
	p = mk_policy("s * work vault allow autostart=no\n"
	              "s * work @dispvm allow\n"
	              "s * work @default allow target=dom0 user=root\n"
	              "s * work @anyvm ask default_target=@dispvm\n"
	              "* * @anyvm @anyvm deny notify=no\n");
	/* autostart=no to a halted qube */
	eval(p, si, "work", "vault", "s", &d);
	assert_int_equal(d.verdict, POLICY_VERDICT_DENY);
	assert_non_null(strstr(d.reason, "autostart"));
	policy_decision_free(&d);
	/* @dispvm resolved; the reply is one qrexec-daemon accepts */
	eval(p, si, "work", "@dispvm", "s+x", &d);
	assert_int_equal(d.verdict, POLICY_VERDICT_ALLOW);
	assert_string_equal(d.target, "@dispvm:dvm");
	n = policy_decision_format(&d, out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal(proto_policy_reply_parse(out, (size_t)n, &pr), 0);
	assert_int_equal(pr.result, POLICY_ALLOW);
	assert_string_equal(pr.target, "@dispvm:dvm");
	assert_string_equal(pr.target_uuid,
	    "@dispvm:uuid:22222222-2222-2222-2222-222222222222");
	assert_string_equal(pr.requested_target, "@dispvm");
	assert_true(pr.autostart);
	policy_decision_free(&d);
	/* @default with target=, user= */
	eval(p, si, "work", "", "s", &d);
	n = policy_decision_format(&d, out, sizeof(out));
	assert_int_equal(proto_policy_reply_parse(out, (size_t)n, &pr), 0);
	assert_string_equal(pr.target, "dom0");
	assert_string_equal(pr.user, "root");
	assert_string_equal(pr.target_uuid, "");
	assert_string_equal(pr.requested_target, "@default");
	policy_decision_free(&d);
	/* ask: choices without the source and internal qubes, sorted */
	eval(p, si, "work", "dom0", "s", &d);
	/* @anyvm never matches dom0: no rule, and that notifies */
	assert_int_equal(d.verdict, POLICY_VERDICT_DENY);
	assert_string_equal(d.reason, "no matching rule found");
	assert_true(d.notify);
	policy_decision_free(&d);
	eval(p, si, "work", "hidden", "s+x", &d);
	assert_int_equal(d.verdict, POLICY_VERDICT_ASK);
	policy_decision_free(&d);
	eval(p, si, "dvm", "work", "s", &d);
	assert_int_equal(d.verdict, POLICY_VERDICT_DENY);
	assert_false(d.notify);
	policy_decision_free(&d);
	eval(p, si, "work", "dvm", "s", &d);
	assert_int_equal(d.verdict, POLICY_VERDICT_ASK);
	/* dom0 comes from the target= of the @default rule */
	assert_int_equal(d.ntargets, 4);
	assert_string_equal(d.targets[0], "@dispvm:dvm");
	assert_string_equal(d.targets[1], "dom0");
	assert_string_equal(d.targets[2], "dvm");
	assert_string_equal(d.targets[3], "vault");
	assert_string_equal(d.default_target, "@dispvm:dvm");
	/* an answer outside the choices is a deny */
	assert_int_equal(policy_decision_answer(&d, true, "hidden"), 0);
	assert_int_equal(d.verdict, POLICY_VERDICT_DENY);
	assert_non_null(strstr(d.reason, "not a valid choice"));
	policy_decision_free(&d);
	eval(p, si, "work", "dvm", "s", &d);
	assert_int_equal(policy_decision_answer(&d, true, "vault"), 0);
	assert_int_equal(d.verdict, POLICY_VERDICT_ALLOW);
	n = policy_decision_format(&d, out, sizeof(out));
	assert_int_equal(proto_policy_reply_parse(out, (size_t)n, &pr), 0);
	assert_string_equal(pr.target, "vault");
	assert_string_equal(pr.target_uuid, ""); /* vault has no uuid */
	policy_decision_free(&d);
	/* assume_yes: to the intended target if it is a choice */
	eval(p, si, "work", "dvm", "s", &d);
	assert_int_equal(policy_decision_assume_yes(&d), 0);
	assert_int_equal(d.verdict, POLICY_VERDICT_ALLOW);
	assert_string_equal(d.target, "dvm");
	policy_decision_free(&d);
	/* a "no" from the user */
	eval(p, si, "work", "dvm", "s", &d);
	assert_int_equal(policy_decision_answer(&d, false, ""), 0);
	assert_int_equal(d.verdict, POLICY_VERDICT_DENY);
	assert_non_null(strstr(d.reason, "denied by the user t.policy:4"));
	policy_decision_free(&d);
	policy_free(p);

	/* loopback is refused when the allow is formatted */
	p = mk_policy("* * @anyvm @anyvm allow\n");
	eval(p, si, "work", "work", "s", &d);
	assert_int_equal(d.verdict, POLICY_VERDICT_ALLOW);
	n = policy_decision_format(&d, out, sizeof(out));
	assert_string_equal(out, "result=deny");
	assert_int_equal(proto_policy_reply_parse(out, (size_t)n, &pr), 0);
	assert_int_equal(pr.result, POLICY_DENY);
	assert_int_equal(d.verdict, POLICY_VERDICT_DENY);
	policy_decision_free(&d);
	/* a broken policy (NULL) and missing system information deny */
	eval(NULL, si, "work", "vault", "s", &d);
	assert_int_equal(d.verdict, POLICY_VERDICT_DENY);
	policy_decision_free(&d);
	eval(p, NULL, "work", "vault", "s", &d);
	assert_int_equal(d.verdict, POLICY_VERDICT_DENY);
	policy_decision_free(&d);
	policy_free(p);
	sysinfo_unref(si);
}

static void
test_evaluate_bad_requests(void **state)
{
	static const char *const bad[][3] = {
	    {"work", "vault", ""},
	    {"work", "vault", "+arg"},
	    {"work", "vault", "s+a b"},
	    {"work", "vault", "s!"},
	    {"", "vault", "s"},
	    {"wo rk", "vault", "s"},
	    {"@anyvm", "vault", "s"},
	    {"work", "va\nult", "s"},
	    {"work", "@anyvm", "s"},
	    {"work", "@tag:t1", "s"},
	    {"work", "@dispvm:vault", "s"},
	    {"work",
	        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	        "s"},
	    {"nosuch", "vault", "s"},
	};
	struct sysinfo *si = mk_si();
	struct policy *p = mk_policy("* * * * allow target=vault\n");
	struct policy_decision d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		eval(p, si, bad[i][0], bad[i][1], bad[i][2], &d);
		if (d.verdict != POLICY_VERDICT_DENY)
			fail_msg("request %zu was not denied", i);
		policy_decision_free(&d);
	}
	/* the control: a good request is allowed */
	eval(p, si, "work", "vault", "s+a+b", &d);
	assert_int_equal(d.verdict, POLICY_VERDICT_ALLOW);
	assert_string_equal(d.argument, "+a+b");
	policy_decision_free(&d);
	policy_free(p);
	sysinfo_unref(si);
}

/* ---- the daemon's request parser ---- */

static void
test_request_parse(void **state)
{
	static const char ok[] = "source=work\nintended_target=@default\n"
	                         "service_and_arg=qubes.Filecopy+\n"
	                         "assume_yes_for_ask=no\njust_evaluate=yes\n"
	                         "requested_source=\n\n";
	struct policy_daemon_request r;
	char *big;
	size_t n = strlen(ok);

	(void)state;
	assert_int_equal(policy_daemon_request_parse(ok, n, false, &r), (int)n);
	assert_string_equal(r.source, "work");
	assert_string_equal(r.intended_target, "@default");
	assert_string_equal(r.service_and_arg, "qubes.Filecopy+");
	assert_true(r.just_evaluate);
	assert_false(r.assume_yes_for_ask);
	assert_string_equal(r.requested_source, "");
	policy_daemon_request_clear(&r);
	/* one byte short: the empty line is not there yet */
	assert_int_equal(
	    policy_daemon_request_parse(ok, n - 1, false, &r), -EAGAIN);
	/* at EOF, what came is the request (as Qubes' readline loop) */
	assert_int_equal(
	    policy_daemon_request_parse(ok, n - 1, true, &r), (int)n - 1);
	policy_daemon_request_clear(&r);
	/* bytes after the request are not consumed */
	assert_int_equal(policy_daemon_request_parse(
	                     "source=a\nintended_target=b\nservice_and_arg=c"
	                     "\n\nxyz",
	                     49, false, &r),
	    46);
	policy_daemon_request_clear(&r);
#define BAD(s)                                                                 \
	assert_int_equal(                                                      \
	    policy_daemon_request_parse(s, strlen(s), true, &r), -EBADMSG)
	BAD("intended_target=b\nservice_and_arg=c\n\n");
	BAD("source=a\nservice_and_arg=c\n\n");
	BAD("source=a\nintended_target=b\n\n");
	BAD("source=a\nsource=a\nintended_target=b\nservice_and_arg=c\n\n");
	BAD("source=a\nintended_target=b\nservice_and_arg=c\ndomain_id=1\n\n");
	BAD("source=a\nintended_target=b\nservice_and_arg=c\n"
	    "just_evaluate=true\n\n");
	BAD("source=a\nintended_target=b\nservice_and_arg=+c\n\n");
	BAD("source=a b\nintended_target=b\nservice_and_arg=c\n\n");
	BAD("source=\nintended_target=b\nservice_and_arg=c\n\n");
	BAD("source\nintended_target=b\nservice_and_arg=c\n\n");
	BAD("source=a\r\nintended_target=b\nservice_and_arg=c\n\n");
	BAD("\n");
	BAD("");
#undef BAD
	/* bounded: the longest request is parsed, one more byte is not */
	big = malloc(POLICY_REQUEST_MAX_LEN + 2);
	assert_non_null(big);
	memset(big, 'a', POLICY_REQUEST_MAX_LEN + 1);
	assert_int_equal(policy_daemon_request_parse(
	                     big, POLICY_REQUEST_MAX_LEN + 1, false, &r),
	    -EMSGSIZE);
	assert_int_equal(
	    policy_daemon_request_parse(big, POLICY_REQUEST_MAX_LEN, false, &r),
	    -EAGAIN);
	/* the longest service_and_arg, and one byte more */
	n = (size_t)snprintf(big, 64,
	    "source=a\nintended_target=b\n"
	    "service_and_arg=");
	memset(big + n, 's', POLICY_MAX_SERVICE_ARG_LEN + 1);
	big[n + POLICY_MAX_SERVICE_ARG_LEN] = '\n';
	big[n + POLICY_MAX_SERVICE_ARG_LEN + 1] = '\n';
	assert_int_equal(policy_daemon_request_parse(big,
	                     n + POLICY_MAX_SERVICE_ARG_LEN + 2, false, &r),
	    (int)(n + POLICY_MAX_SERVICE_ARG_LEN + 2));
	policy_daemon_request_clear(&r);
	memset(big + n, 's', POLICY_MAX_SERVICE_ARG_LEN + 1);
	big[n + POLICY_MAX_SERVICE_ARG_LEN + 1] = '\n';
	big[n + POLICY_MAX_SERVICE_ARG_LEN + 2] = '\n';
	assert_int_equal(policy_daemon_request_parse(big,
	                     n + POLICY_MAX_SERVICE_ARG_LEN + 3, false, &r),
	    -EBADMSG);
	free(big);
}

/* ---- agent protocol ---- */

static void
test_agent_protocol(void **state)
{
	struct sysinfo *si = mk_si();
	struct policy *p = mk_policy("* * @anyvm @anyvm ask\n");
	struct policy_decision d;
	char t[POLICY_NAME_MAX];
	bool allowed;
	char *json;

	(void)state;
	eval(p, si, "work", "vault", "svc+arg", &d);
	json = policy_agent_ask_json(&d);
	assert_non_null(json);
	assert_string_equal(json,
	    "{\"source\":\"work\",\"service\":\"svc\",\"argument\":\"+arg\","
	    "\"targets\":[\"@dispvm:dvm\",\"dvm\",\"vault\"],"
	    "\"default_target\":\"\"}\n");
	free(json);
	json = policy_agent_notify_json(&d, "vault");
	assert_non_null(strstr(json, "\"notify\""));
	free(json);
	policy_decision_free(&d);
	assert_int_equal(
	    policy_agent_answer_parse("allow:vault\n", 12, &allowed, t), 0);
	assert_true(allowed);
	assert_string_equal(t, "vault");
	assert_int_equal(policy_agent_answer_parse("deny", 4, &allowed, t), 0);
	assert_false(allowed);
	assert_int_equal(
	    policy_agent_answer_parse("allow:", 6, &allowed, t), -EBADMSG);
	assert_int_equal(
	    policy_agent_answer_parse("allow:a b", 9, &allowed, t), -EBADMSG);
	assert_int_equal(
	    policy_agent_answer_parse("yes", 3, &allowed, t), -EBADMSG);
	assert_int_equal(
	    policy_agent_answer_parse("deny\0", 5, &allowed, t), -EBADMSG);
	policy_free(p);
	sysinfo_unref(si);
}

/* ---- system information ---- */

static int
si_parse(const char *json)
{
	struct sysinfo *si = NULL;
	char err[256];
	int r = sysinfo_parse(json, strlen(json), &si, err, sizeof(err));

	sysinfo_unref(si);
	return r;
}

static void
test_sysinfo(void **state)
{
	struct sysinfo *si = mk_si();
	const struct sysinfo_domain *d;
	char *big;
	size_t i, o;

	(void)state;
	assert_int_equal(sysinfo_count(si), 5);
	d = sysinfo_find(si, "uuid:22222222-2222-2222-2222-222222222222");
	assert_non_null(d);
	assert_string_equal(d->name, "dvm");
	assert_true(d->template_for_dispvms);
	assert_true(sysinfo_has_tag(d, "t2"));
	assert_false(sysinfo_has_tag(d, "t1"));
	assert_null(sysinfo_find(si, "nosuch"));
	assert_null(sysinfo_find(si, "uuid:nosuch"));
	d = sysinfo_find(si, "vault");
	assert_null(d->uuid);
	assert_null(d->default_dispvm);
	assert_true(sysinfo_find(si, "hidden")->internal);
	sysinfo_unref(si);

	assert_int_equal(si_parse("{\"domains\": {}}"), 0);
	assert_int_equal(
	    si_parse("{\"domains\": {\"a\": {\"type\": \"X\"}}}"), 0);
	assert_int_equal(si_parse("[]"), -EBADMSG);
	assert_int_equal(si_parse("{\"domains\": []}"), -EBADMSG);
	assert_int_equal(si_parse("{\"domains\": {\"a\": {}}}"), -EBADMSG);
	assert_int_equal(si_parse("{\"domains\": {\"a b\": {\"type\": "
	                          "\"X\"}}}"),
	    -EBADMSG);
	assert_int_equal(si_parse("{\"domains\": {\"-a\": {\"type\": "
	                          "\"X\"}}}"),
	    -EBADMSG);
	assert_int_equal(si_parse("{\"domains\": {\"a\": {\"type\": \"X\", "
	                          "\"uuid\": \"1234\"}}}"),
	    -EBADMSG);
	assert_int_equal(si_parse("{\"domains\": {\"a\": {\"type\": \"X\", "
	                          "\"tags\": [\"a b\"]}}}"),
	    -EBADMSG);
	assert_int_equal(si_parse("{\"domains\": {\"a\": {\"type\": \"X\", "
	                          "\"tags\": \"t\"}}}"),
	    -EBADMSG);
	assert_int_equal(si_parse("{\"domains\": {\"a\": {\"type\": \"X\", "
	                          "\"default_dispvm\": \"b c\"}}}"),
	    -EBADMSG);
	assert_int_equal(si_parse("{\"domains\": {\"a\": {\"type\": \"X\", "
	                          "\"template_for_dispvms\": 1}}}"),
	    -EBADMSG);
	assert_int_equal(si_parse("{\"domains\": {\"a\": {\"type\": \"X\"}, "
	                          "\"a\": {\"type\": \"X\"}}}"),
	    -EBADMSG);
	assert_int_equal(
	    si_parse("{\"domains\": {"
	             "\"a\": {\"type\": \"X\", \"uuid\": "
	             "\"11111111-1111-1111-1111-111111111111\"},"
	             "\"b\": {\"type\": \"X\", \"uuid\": "
	             "\"11111111-1111-1111-1111-111111111111\"}}}"),
	    -EBADMSG);
	assert_int_equal(si_parse("{\"domains\": {\"a\": {\"type\": "
	                          "\"X\\u0000\"}}}"),
	    -EBADMSG);
	/* the tag count limit, exactly and one over */
	big = malloc(64 + (SYSINFO_MAX_TAGS + 1) * 6);
	assert_non_null(big);
	for (o = 0; o < 2; o++) {
		size_t len = (size_t)sprintf(
		    big, "{\"domains\": {\"a\": {\"type\": \"X\", \"tags\": [");

		for (i = 0; i < SYSINFO_MAX_TAGS + o; i++)
			len += (size_t)sprintf(
			    big + len, "%s\"t%zu\"", i ? "," : "", i % 10);
		(void)sprintf(big + len, "]}}}");
		assert_int_equal(si_parse(big), o == 0 ? 0 : -EBADMSG);
	}
	free(big);
}

/* A fake admin daemon: answer one internal.GetSystemInfo call. */
static void
fake_qubesd(int lfd, const char *reply, size_t replylen, bool qubes)
{
	char buf[256];
	size_t n = 0;
	int fd = accept(lfd, NULL, NULL);

	if (fd < 0)
		_exit(1);
	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (qubes ? (n != 39 ||
	                memcmp(buf, "internal.GetSystemInfo+ dom0 name dom0",
	                    39) != 0) :
	            (n != 34 ||
	                memcmp(buf, "internal.GetSystemInfo\0dom0\0dom0\0\0",
	                    34) != 0))
		_exit(2);
	if (write(fd, reply, replylen) != (ssize_t)replylen)
		_exit(3);
	_exit(0);
}

static int
fetch_from(const char *reply, size_t replylen, bool qubes, struct sysinfo **si)
{
	struct sockaddr_un sa;
	char path[96], err[256];
	int lfd, status, r;
	pid_t pid;

	(void)snprintf(path, sizeof(path), "%s/qubesd.sock", tmpdir);
	(void)unlink(path);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		fake_qubesd(lfd, reply, replylen, qubes);
	(void)close(lfd);
	r = sysinfo_fetch(path, qubes, 5000, si, err, sizeof(err));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return r;
}

static void
test_sysinfo_fetch(void **state)
{
	char reply[sizeof(sysinfo_json) + 2];
	struct sysinfo *si = NULL;
	static const char exc[] = "2\0QubesException\0\0boom\0";

	(void)state;
	reply[0] = '0';
	reply[1] = '\0';
	memcpy(reply + 2, sysinfo_json, sizeof(sysinfo_json) - 1);
	assert_int_equal(fetch_from(reply, sizeof(reply) - 1, false, &si), 0);
	assert_int_equal(sysinfo_count(si), 5);
	sysinfo_unref(si);
	assert_int_equal(fetch_from(reply, sizeof(reply) - 1, true, &si), 0);
	sysinfo_unref(si);
	assert_int_equal(
	    fetch_from(exc, sizeof(exc) - 1, false, &si), -EBADMSG);
	assert_int_equal(fetch_from("", 0, false, &si), -EBADMSG);
	assert_int_equal(fetch_from("0\0{", 3, false, &si), -EBADMSG);
}
/* The agent's side: questions and notifications from the daemon. */
static void
test_agent_msg(void **state)
{
	static const char question[] =
	    "{\"source\": \"work\", \"service\": \"qubes.Filecopy\", "
	    "\"argument\": \"+\", \"targets\": [\"personal\", "
	    "\"@dispvm:dvm\"], \"default_target\": \"personal\"}\n";
	static const char notify[] =
	    "{\"notify\": {\"resolution\": \"deny\", \"service\": "
	    "\"demo.Secret\", \"argument\": \"\", \"source\": \"work\", "
	    "\"target\": \"vault\"}}";
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{}",
	    "not json",
	    /* a control character in a name */
	    "{\"source\": \"wo\\u001brk\", \"service\": \"s\", "
	    "\"argument\": \"+\", \"targets\": [\"a\"], "
	    "\"default_target\": \"\"}",
	    /* a NUL inside a name */
	    "{\"source\": \"wo\\u0000rk\", \"service\": \"s\", "
	    "\"argument\": \"+\", \"targets\": [\"a\"], "
	    "\"default_target\": \"\"}",
	    /* no targets; an empty target; a target that is not a string */
	    "{\"source\": \"w\", \"service\": \"s\", \"argument\": "
	    "\"+\", \"targets\": [], \"default_target\": \"\"}",
	    "{\"source\": \"w\", \"service\": \"s\", \"argument\": "
	    "\"+\", \"targets\": [\"\"], \"default_target\": \"\"}",
	    "{\"source\": \"w\", \"service\": \"s\", \"argument\": "
	    "\"+\", \"targets\": [7], \"default_target\": \"\"}",
	    /* a resolution that is neither */
	    "{\"notify\": {\"resolution\": \"maybe\", \"service\": "
	    "\"s\", \"argument\": \"\", \"source\": \"w\", "
	    "\"target\": \"v\"}}",
	};
	struct policy_agent_msg m;
	char *big;
	size_t i;

	(void)state;
	assert_int_equal(
	    policy_agent_msg_parse(question, strlen(question), &m), 0);
	assert_false(m.is_notify);
	assert_string_equal(m.source, "work");
	assert_string_equal(m.service, "qubes.Filecopy");
	assert_string_equal(m.argument, "+");
	assert_string_equal(m.default_target, "personal");
	assert_int_equal(m.ntargets, 2);
	assert_string_equal(m.targets[1], "@dispvm:dvm");
	policy_agent_msg_clear(&m);
	assert_int_equal(policy_agent_msg_parse(notify, strlen(notify), &m), 0);
	assert_true(m.is_notify);
	assert_string_equal(m.resolution, "deny");
	assert_string_equal(m.target, "vault");
	policy_agent_msg_clear(&m);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    policy_agent_msg_parse(bad[i], strlen(bad[i]), &m),
		    -EBADMSG);
	big = calloc(POLICY_AGENT_MSG_MAX + 2, 1);
	assert_non_null(big);
	memset(big, ' ', POLICY_AGENT_MSG_MAX + 1);
	assert_int_equal(
	    policy_agent_msg_parse(big, POLICY_AGENT_MSG_MAX + 1, &m),
	    -EMSGSIZE);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_token_values),
	    cmocka_unit_test(test_parse_rules),
	    cmocka_unit_test(test_parse_lines),
	    cmocka_unit_test(test_parse_limits),
	    cmocka_unit_test(test_loader),
	    cmocka_unit_test(test_loader_includes),
	    cmocka_unit_test(test_evaluate),
	    cmocka_unit_test(test_evaluate_bad_requests),
	    cmocka_unit_test(test_request_parse),
	    cmocka_unit_test(test_agent_protocol),
	    cmocka_unit_test(test_agent_msg),
	    cmocka_unit_test(test_sysinfo),
	    cmocka_unit_test(test_sysinfo_fetch),
	};

	return cmocka_run_group_tests(tests, setup_tmp, teardown_tmp);
}
