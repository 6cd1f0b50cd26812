/*
 * qubesd.h - a blocking Admin API call to bulkheadd, for the admin-side
 * programs that need one (qrexec-daemon starts targets and disposables
 * through it, as Qubes' qrexec-daemon asks qubesd).  The qvm-* tools have
 * their own richer client in src/cli.
 */
#ifndef BULKHEAD_QUBESD_H
#define BULKHEAD_QUBESD_H

#include <stddef.h>

/* bulkheadd's admin socket unless BULKHEAD_ADMIN_SOCKET names another */
#define QUBESD_SOCKET_ENV "BULKHEAD_ADMIN_SOCKET"

/* The longest reply kept; these calls answer a name or nothing. */
#define QUBESD_REPLY_MAX 65536

/*
 * Call method+arg on dest as dom0, with no payload, waiting at most
 * timeout_s seconds for the answer.  On success returns 0 and, if ret is
 * not NULL, a new NUL-terminated copy of the answer's body.  When bulkheadd
 * answers with an exception returns -EREMOTEIO and puts "Type: message" in
 * err; other failures are -errno (err says what failed).
 */
int qubesd_call(const char *sock, const char *method, const char *arg,
    const char *dest, int timeout_s, char **ret, char *err, size_t errlen);

/* qubesd_call with a payload after the request (NULL: none). */
int qubesd_call_payload(const char *sock, const char *method, const char *arg,
    const char *dest, const char *payload, int timeout_s, char **ret, char *err,
    size_t errlen);

#endif
