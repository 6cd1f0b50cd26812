/*
 * proto/vmexec.h - the argument of qubes.VMExec+ARG (Qubes' encoding), as
 * the calling qube chose it: the command's words joined by '+'; in each,
 * [A-Za-z0-9._] stand for themselves, "--" for '-', "-HH" (capital hex)
 * for the byte HH.
 */
#ifndef BULKHEAD_PROTO_VMEXEC_H
#define BULKHEAD_PROTO_VMEXEC_H

#include <stddef.h>

#define VMEXEC_MAX_ARG_LEN 65536u
#define VMEXEC_MAX_WORDS   1024u

/*
 * Decode arg into a NULL-terminated argv (one allocation: free(*ret)).
 * Refused (-EINVAL): a character outside the set, a '-' not starting
 * "--" or "-HH", a byte 00 (it cannot be in an argument), an empty first
 * word; -E2BIG past the limits; -ENOMEM.
 */
int proto_vmexec_decode(const char *untrusted_arg, char ***ret);

#endif
