/*
 * vnc_keymap.c - keysym to X keycode through xkbcommon (issue #8).
 *
 * Run inside bulkhead-guid's core (the GUI domain's user) once at start
 * and on every key a viewer sends.  Untrusted input: the keysym, a u32
 * from a VNC viewer; it is only looked up, never used as an index.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <xkbcommon/xkbcommon.h>

#include "gui/guid/vnc_keymap.h"

struct vnc_key {
	uint32_t keysym;
	uint32_t keycode;
	bool shift;
};

struct vnc_keymap {
	struct vnc_key *keys; /* sorted by keysym, one entry a keysym */
	size_t nkeys, cap;
};

static int
key_cmp(const void *a, const void *b)
{
	const struct vnc_key *ka = a, *kb = b;

	if (ka->keysym != kb->keysym)
		return ka->keysym < kb->keysym ? -1 : 1;
	return 0;
}

static const struct vnc_key *
find(const struct vnc_keymap *km, uint32_t keysym)
{
	size_t i;

	/* the table is sorted only after building; while building, scan */
	for (i = 0; i < km->nkeys; i++)
		if (km->keys[i].keysym == keysym)
			return &km->keys[i];
	return NULL;
}

/* Add keysym -> (keycode, shift) unless an earlier (preferred) one has
 * it already. */
static int
add(struct vnc_keymap *km, uint32_t keysym, uint32_t keycode, bool shift)
{
	struct vnc_key *n;

	if (find(km, keysym) != NULL)
		return 0;
	if (km->nkeys == km->cap) {
		size_t cap = km->cap ? km->cap * 2 : 256;

		n = reallocarray(km->keys, cap, sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		km->keys = n;
		km->cap = cap;
	}
	km->keys[km->nkeys].keysym = keysym;
	km->keys[km->nkeys].keycode = keycode;
	km->keys[km->nkeys].shift = shift;
	km->nkeys++;
	return 0;
}

/*
 * Walk every keycode's levels of layout 0 whose modifiers are none (pass
 * 0) or exactly Shift (pass 1).  Unshifted levels go in first so that a
 * keysym on both (rare) prefers the plain key.
 */
static int
build(struct vnc_keymap *km, struct xkb_keymap *keymap, int pass)
{
	xkb_keycode_t kc, min = xkb_keymap_min_keycode(keymap),
	                  max = xkb_keymap_max_keycode(keymap);
	xkb_mod_index_t shift =
	    xkb_keymap_mod_get_index(keymap, XKB_MOD_NAME_SHIFT);
	xkb_mod_mask_t want = pass == 0 ? 0 : (xkb_mod_mask_t)1 << shift;
	int r;

	if (shift == XKB_MOD_INVALID)
		return -EINVAL;
	for (kc = min; kc <= max && kc != 0; kc++) {
		xkb_level_index_t lv, nlv;

		nlv = xkb_keymap_num_levels_for_key(keymap, kc, 0);
		for (lv = 0; lv < nlv; lv++) {
			const xkb_keysym_t *syms;
			xkb_mod_mask_t masks[8];
			size_t nm, m;
			bool ok = false;
			int ns;

			nm = xkb_keymap_key_get_mods_for_level(
			    keymap, kc, 0, lv, masks, 8);
			for (m = 0; m < nm; m++)
				if (masks[m] == want)
					ok = true;
			/* level 1 of a key with no explicit mods */
			if (nm == 0 && lv == 0 && pass == 0)
				ok = true;
			if (!ok)
				continue;
			ns = xkb_keymap_key_get_syms_by_level(
			    keymap, kc, 0, lv, &syms);
			if (ns != 1 || kc > 255)
				continue;
			r = add(km, syms[0], kc, pass == 1);
			if (r < 0)
				return r;
		}
		if (kc == max)
			break;
	}
	return 0;
}

int
vnc_keymap_new(const char *layout, struct vnc_keymap **ret_km)
{
	struct xkb_rule_names names = {
	    .rules = "evdev",
	    .model = "pc105",
	    .layout = layout != NULL ? layout : "us",
	};
	struct xkb_context *ctx;
	struct xkb_keymap *keymap;
	struct vnc_keymap *km;
	int r;

	km = calloc(1, sizeof(*km));
	if (km == NULL)
		return -ENOMEM;
	ctx = xkb_context_new(XKB_CONTEXT_NO_ENVIRONMENT_NAMES);
	if (ctx == NULL) {
		r = -ENOMEM;
		goto out_free;
	}
	keymap =
	    xkb_keymap_new_from_names(ctx, &names, XKB_KEYMAP_COMPILE_NO_FLAGS);
	if (keymap == NULL) {
		r = -EINVAL;
		goto out_ctx;
	}
	r = build(km, keymap, 0);
	if (r == 0)
		r = build(km, keymap, 1);
	xkb_keymap_unref(keymap);
	xkb_context_unref(ctx);
	if (r < 0)
		goto out_free;
	qsort(km->keys, km->nkeys, sizeof(*km->keys), key_cmp);
	*ret_km = km;
	return 0;

out_ctx:
	xkb_context_unref(ctx);
out_free:
	free(km->keys);
	free(km);
	return r;
}

void
vnc_keymap_free(struct vnc_keymap *km)
{
	if (km == NULL)
		return;
	free(km->keys);
	free(km);
}

int
vnc_keymap_lookup(const struct vnc_keymap *km, uint32_t keysym,
    uint32_t *ret_keycode, bool *ret_shift)
{
	struct vnc_key k = {.keysym = keysym};
	const struct vnc_key *f;

	if (km->keys == NULL)
		return -ENOENT;
	f = bsearch(&k, km->keys, km->nkeys, sizeof(*km->keys), key_cmp);
	if (f == NULL)
		return -ENOENT;
	*ret_keycode = f->keycode;
	*ret_shift = f->shift;
	return 0;
}
