/*
 * open.h - qubes.OpenInVM as Qubes speaks it (qopen-in-vm, the caller's
 * side; vm-file-editor, the service's):
 *   caller -> service: a 256-byte name field (the file's basename, NUL
 *     padded, its tail kept if too long; "view-only-" in front for a
 *     view-only open), then the file's bytes until EOF;
 *   service -> caller: nothing, or the whole edited file until EOF when
 *     the handler changed it.
 */
#ifndef BULKHEAD_OPEN_H
#define BULKHEAD_OPEN_H

#define OPEN_NAME_FIELD 256u
#define OPEN_VIEW_ONLY  "view-only-"
/* the most either side takes from the other: a file, or its edit */
#define OPEN_MAX_FILE_BYTES (16ull << 30)

#endif
