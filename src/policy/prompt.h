/*
 * prompt.h - the terminal prompt of an "ask" (agent and daemon).
 */
#ifndef BULKHEAD_POLICY_PROMPT_H
#define BULKHEAD_POLICY_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

#define POLICY_PROMPT_ANSWER_MAX (POLICY_NAME_MAX + 8)

struct policy_prompt_q {
	const char *source;
	const char *service;
	const char *argument; /* "+..." */
	char *const *targets;
	size_t ntargets;
	const char *default_target; /* "" : none */
};

/*
 * Show the question on outfd and read the answer from infd: a number, a
 * target's name, Enter for the default, or "n".  ret_answer gets
 * "allow:TARGET" or "deny" (the agent protocol's answer).  Returns 1 for
 * allow, 0 for deny (also at EOF).
 */
int policy_prompt(int infd, int outfd, const struct policy_prompt_q *q,
    char ret_answer[POLICY_PROMPT_ANSWER_MAX]);

#endif
