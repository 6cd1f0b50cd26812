/*
 * output_x11.c - placeholder until the x11 output lands (issue #8).
 */
#include <errno.h>
#include <stdio.h>

#include "gui/guid/guid.h"

int
gd_output_x11_new(struct gd *g, const struct gd_output_opts *o,
    const struct gd_output_ops **ret_ops, void **ret_out, char *err,
    size_t errlen)
{
	(void)g;
	(void)o;
	(void)ret_ops;
	(void)ret_out;
	(void)snprintf(err, errlen, "the x11 output is not built yet");
	return -ENOTSUP;
}
