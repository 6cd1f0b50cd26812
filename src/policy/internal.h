/*
 * internal.h - what the policy engine's modules share and nobody else
 * sees: the arena, the policy object's layout, the service index.
 */
#ifndef BULKHEAD_POLICY_INTERNAL_H
#define BULKHEAD_POLICY_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/policy.h"

/*
 * Opt a hot local array out of -ftrivial-auto-var-init=zero, where every
 * element is written before it is read (gcc >= 12, clang).
 */
#if defined(__has_attribute)
#if __has_attribute(uninitialized)
#define POLICY_NOINIT __attribute__((uninitialized))
#endif
#endif
#ifndef POLICY_NOINIT
#define POLICY_NOINIT
#endif

/* A bump allocator for the strings of one policy: freed all at once. */
struct arena_block;
struct arena {
	struct arena_block *head;
	size_t total;
};

char *arena_strndup(struct arena *a, const char *s, size_t n);
void arena_free(struct arena *a);

/* Rules of one service, in policy order. */
struct svc_entry {
	const char *service; /* NULL: empty slot */
	uint32_t hash;
	uint32_t *idx;
	size_t n, cap;
};

struct policy {
	struct policy_rule *rules;
	size_t nrules, cap;
	struct arena arena;
	char **sources; /* files and directories read */
	size_t nsources, srccap;
	size_t total_bytes;
	size_t nfiles;
	/* the index: rules with a named service, and "*" rules */
	struct svc_entry *index;
	size_t index_cap;
	uint32_t *wild;
	size_t nwild, wildcap;
};

uint32_t policy_hash(const char *s);
/* The service's rule list (may be NULL) and the "*" rules. */
const struct svc_entry *
policy_index_find(const struct policy *p, const char *service);

/* Python's str.isspace() for the UTF-8 character at s: its length or 0. */
size_t policy_space_len(const unsigned char *s, size_t left);

/* printf into a fixed buffer; truncation ends the text with "..." */
void policy_vfmt(char *out, size_t outlen, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void policy_fmt(char *out, size_t outlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Quote a token for a message: printable ASCII kept, else \xNN. */
const char *policy_quote(char *out, size_t outlen, const char *s);

bool policy_is_dom0(const char *s);
/* a bare UUID, 8-4-4-4-12 hex digits */
bool policy_uuid_valid(const char *s);

#endif
