/*
 * core.h - PROC_GUID_CORE's entry (core.c): the trusted window model of
 * the GUI domain, its loop, and the outputs it drives.
 */
#ifndef BULKHEAD_GUID_CORE_H
#define BULKHEAD_GUID_CORE_H

#include <stdbool.h>
#include <stdint.h>

#include "gui/guid/guid.h"

struct gd_core_opts {
	uint32_t width, height;   /* the screen */
	uint32_t clipboard_limit; /* GUI_CLIPBOARD_MIN..MAX */
	bool allow_utf8_titles;
	int connector_fd; /* SOCK_SEQPACKET to the connector (taken) */
	const char *exe;  /* this program, for the validators */
	bool debug;       /* validators log to stderr too */
	bool vnc;
	bool x11;
	struct gd_output_opts out;
};

/*
 * Make the core and its outputs; 0 and *ret, or -errno with the reason
 * in err.  gd_run() serves until the connector goes away (0) or an
 * output fails (-errno).
 */
int
gd_new(const struct gd_core_opts *o, struct gd **ret, char *err, size_t errlen);
int gd_run(struct gd *g);
void gd_free(struct gd *g);

#endif
