/*
 * vnc_keymap.h - keysym to X keycode for the VNC output (issue #8).
 * RFB viewers send keysyms; qubes take X keycodes (evdev + 8) and a
 * modifier state, so the output maps each keysym back through an
 * xkbcommon keymap (evdev rules, pc105, us).
 */
#ifndef BULKHEAD_GUID_VNC_KEYMAP_H
#define BULKHEAD_GUID_VNC_KEYMAP_H

#include <stdbool.h>
#include <stdint.h>

struct vnc_keymap;

/*
 * Compile the keymap for layout (NULL: "us") and build the keysym table
 * (every keycode's level 1, then its Shift level).  Returns 0 and
 * *ret_km (the caller's, vnc_keymap_free), -ENOMEM, or -EINVAL (xkbcommon
 * could not compile the keymap: xkb-data missing?).
 */
int vnc_keymap_new(const char *layout, struct vnc_keymap **ret_km);
void vnc_keymap_free(struct vnc_keymap *km);

/*
 * The X keycode producing keysym, and whether it needs Shift.  Returns
 * 0, or -ENOENT for a keysym the layout does not produce with at most
 * Shift.
 */
int vnc_keymap_lookup(const struct vnc_keymap *km, uint32_t keysym,
    uint32_t *ret_keycode, bool *ret_shift);

#endif
