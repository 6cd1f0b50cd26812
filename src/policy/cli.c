/*
 * cli.c - command-line helpers shared by the policy programs.  Runs in
 * each of them with the caller's uid; its input is the caller's argv.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cli.h"

int
policy_dirs_add(struct policy_dirs *d, const char *arg)
{
	const char *p = arg;

	for (;;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);

		if (n == 0)
			return -EINVAL;
		if (d->n >= POLICY_MAX_DIRS)
			return -E2BIG;
		d->dirs[d->n] = strndup(p, n);
		if (d->dirs[d->n] == NULL)
			return -ENOMEM;
		d->n++;
		if (colon == NULL)
			return 0;
		p = colon + 1;
	}
}

void
policy_dirs_free(struct policy_dirs *d)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		free(d->dirs[i]);
	d->n = 0;
}
