/* confine.h - qfile-unpacker's confinement (confine.c). */
#ifndef BULKHEAD_CONFINE_H
#define BULKHEAD_CONFINE_H

#include <stdbool.h>

/*
 * Confine this process to unpacking beneath dirfd: no_new_privs, no core
 * dumps, Landlock (file access only beneath dirfd; *ret_landlocked says
 * whether the kernel has it) and a seccomp allowlist.  0 or -errno; after
 * a failure the process must not read untrusted input.
 */
int confine_unpacker(int dirfd, bool *ret_landlocked);

#endif
