/*
 * fuzz_policy_sysinfo.c - the internal.GetSystemInfo JSON loader:
 * arbitrary bytes as the admin daemon's reply.  Whatever it accepts must
 * be findable by name and by uuid.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sysinfo *si = NULL;
	char err[256];
	size_t i;

	if (sysinfo_parse((const char *)data, size, &si, err, sizeof(err)) != 0)
		return 0;
	for (i = 0; i < sysinfo_count(si); i++) {
		const struct sysinfo_domain *d = sysinfo_at(si, i);
		char key[64];

		if (sysinfo_find(si, d->name) != d)
			__builtin_trap();
		if (d->uuid != NULL) {
			(void)snprintf(key, sizeof(key), "uuid:%s", d->uuid);
			if (sysinfo_find(si, key) != d)
				__builtin_trap();
		}
	}
	sysinfo_unref(si);
	return 0;
}
