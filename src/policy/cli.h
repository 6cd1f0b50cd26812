/*
 * cli.h - what the policy programs share on their command lines: the list
 * of policy directories (repeatable, colon-separated options).
 */
#ifndef BULKHEAD_POLICY_CLI_H
#define BULKHEAD_POLICY_CLI_H

#include <stddef.h>

#include "policy/policy.h"

struct policy_dirs {
	char *dirs[POLICY_MAX_DIRS];
	size_t n;
};

/*
 * Add the directories of arg ("DIR" or "DIR1:DIR2:...") to the list.
 * Returns 0, -E2BIG (more than POLICY_MAX_DIRS), -EINVAL (an empty
 * element) or -ENOMEM.
 */
int policy_dirs_add(struct policy_dirs *d, const char *arg);
void policy_dirs_free(struct policy_dirs *d);

#endif
