/*
 * output_vnc.c - placeholder until the vnc output lands (issue #8).
 */
#include <errno.h>
#include <stdio.h>

#include "gui/guid/guid.h"

int
gd_output_vnc_new(struct gd *g, const struct gd_output_opts *o,
    const struct gd_output_ops **ret_ops, void **ret_out, char *err,
    size_t errlen)
{
	(void)g;
	(void)o;
	(void)ret_ops;
	(void)ret_out;
	(void)snprintf(err, errlen, "the vnc output is not built yet");
	return -ENOTSUP;
}
