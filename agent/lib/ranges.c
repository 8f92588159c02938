// SPDX-License-Identifier: GPL-2.0-only
/* The address space as disjoint ranges of equal longest match (ranges.h):
 * what the IPv6 range tree and the nftables backend's interval sets are
 * built from. */
#include "ranges.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct df_u128 df_u128_of(const __u8 *a)
{
	struct df_u128 x = { 0, 0 };

	for (int i = 0; i < 8; i++) {
		x.hi = x.hi << 8 | a[i];
		x.lo = x.lo << 8 | a[8 + i];
	}
	return x;
}

static bool u128_lt(struct df_u128 a, struct df_u128 b)
{
	return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}

struct df_u128 df_prefix_end(struct df_u128 s, unsigned int plen)
{
	struct df_u128 e = s;

	if (plen < 64) {
		e.hi |= plen ? (~0ULL >> plen) : ~0ULL;
		e.lo = ~0ULL;
	} else if (plen < 128) {
		e.lo |= ~0ULL >> (plen - 64);
	}
	return e;
}

/* A range starting at s with value v; a later start equal to the last one
 * replaces it (a more specific prefix beginning at the same address). */
int df_ranges_add(struct df_ranges *b, struct df_u128 s, uint32_t v)
{
	if (b->n && b->start[b->n - 1].hi == s.hi && b->start[b->n - 1].lo == s.lo) {
		b->val[b->n - 1] = v;
		if (b->n > 1 && b->val[b->n - 2] == v)
			b->n--; /* merges with the range before */
		return 0;
	}
	if (b->n && b->val[b->n - 1] == v)
		return 0; /* the same value goes on */
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct df_u128 *st = realloc(b->start, cap * sizeof(*st));
		uint32_t *va;

		if (!st)
			return -ENOMEM;
		b->start = st;
		va = realloc(b->val, cap * sizeof(*va));
		if (!va)
			return -ENOMEM;
		b->val = va;
		b->cap = cap;
	}
	b->start[b->n] = s;
	b->val[b->n++] = v;
	return 0;
}

/* Pops the open prefixes that end before `next` (all of them if NULL): the
 * range after each one's end goes back to the enclosing prefix's value. */
static int ranges_close(struct df_ranges *b, struct df_u128 *end, uint32_t *val, size_t *depth,
			const struct df_u128 *next)
{
	int err = 0;

	while (*depth && !err && (!next || u128_lt(end[*depth - 1], *next))) {
		struct df_u128 e = end[--*depth];

		if (e.hi == ~0ULL && e.lo == ~0ULL)
			continue; /* ends with the address space */
		e.lo++;
		if (!e.lo)
			e.hi++;
		err = df_ranges_add(b, e, *depth ? val[*depth - 1] : 0);
	}
	return err;
}

int df_ranges_build(const struct df_rkey *k, size_t n, struct df_ranges *out)
{
	struct df_u128 end[130];
	uint32_t val[130];
	size_t depth = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = df_ranges_add(out, (struct df_u128){ 0, 0 }, 0);
	for (size_t i = 0; i < n && !err; i++) {
		err = ranges_close(out, end, val, &depth, &k[i].addr);
		if (err)
			break;
		end[depth] = df_prefix_end(k[i].addr, k[i].plen);
		val[depth] = k[i].val;
		err = df_ranges_add(out, k[i].addr, val[depth++]);
	}
	if (!err)
		err = ranges_close(out, end, val, &depth, NULL);
	if (err)
		df_ranges_free(out);
	return err;
}

uint32_t df_ranges_value(const struct df_ranges *r, struct df_u128 a)
{
	size_t lo = 0, hi = r->n;

	while (hi - lo > 1) { /* the last start <= a; start[0] is 0 */
		size_t mid = lo + (hi - lo) / 2;

		if (u128_lt(a, r->start[mid]))
			hi = mid;
		else
			lo = mid;
	}
	return r->n ? r->val[lo] : 0;
}

int df_ranges_splice(const struct df_ranges *outer, const struct df_ranges *inner,
		     struct df_u128 w0, struct df_u128 w1, struct df_ranges *out)
{
	struct df_u128 after = { w1.hi + (w1.lo == ~0ULL), w1.lo + 1 };
	bool to_end = w1.hi == ~0ULL && w1.lo == ~0ULL;
	int err = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < outer->n && !err && u128_lt(outer->start[i], w0); i++)
		err = df_ranges_add(out, outer->start[i], outer->val[i]);
	if (!err)
		err = df_ranges_add(out, w0, df_ranges_value(inner, w0));
	for (size_t i = 0; i < inner->n && !err; i++)
		if (u128_lt(w0, inner->start[i]) && !u128_lt(w1, inner->start[i]))
			err = df_ranges_add(out, inner->start[i], inner->val[i]);
	if (!err && !to_end)
		err = df_ranges_add(out, after, df_ranges_value(outer, after));
	for (size_t i = 0; i < outer->n && !err && !to_end; i++)
		if (u128_lt(after, outer->start[i]))
			err = df_ranges_add(out, outer->start[i], outer->val[i]);
	if (err)
		df_ranges_free(out);
	return err;
}

void df_ranges_free(struct df_ranges *r)
{
	free(r->start);
	free(r->val);
	memset(r, 0, sizeof(*r));
}
