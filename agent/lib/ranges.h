/* SPDX-License-Identifier: GPL-2.0-only */
/* The address space as disjoint ranges of equal longest match (ranges.c). */
#ifndef DF_RANGES_H
#define DF_RANGES_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

/* A 128-bit address as two host-order halves. */
struct df_u128 {
	uint64_t hi, lo;
};
struct df_u128 df_u128_of(const __u8 *addr); /* 16 bytes */
/* The last address of the prefix s/plen. */
struct df_u128 df_prefix_end(struct df_u128 s, unsigned int plen);

/* The address space cut where the longest matching prefix changes: range i
 * runs from start[i] to start[i + 1] - 1 (the last one to the end of the
 * space), start[0] is 0, neighbours have different values, and val is the
 * innermost prefix's value (0: no prefix). */
struct df_ranges {
	struct df_u128 *start;
	uint32_t *val;
	size_t n, cap;
};
/* A prefix for df_ranges_build; val != 0. */
struct df_rkey {
	struct df_u128 addr;
	uint8_t plen;
	uint32_t val;
};
/* Keys in prefix-tree preorder (by address, then length; distinct). */
int df_ranges_build(const struct df_rkey *keys, size_t n, struct df_ranges *out);
void df_ranges_free(struct df_ranges *r);
/* Appends a range starting at s (after the last start; an equal start
 * replaces the last value), merging with a neighbour of the same value. */
int df_ranges_add(struct df_ranges *r, struct df_u128 s, uint32_t val);
/* The value of the range holding a (binary search). */
uint32_t df_ranges_value(const struct df_ranges *r, struct df_u128 a);
/* outer's ranges with [w0, w1] taken from inner instead. */
int df_ranges_splice(const struct df_ranges *outer, const struct df_ranges *inner,
		     struct df_u128 w0, struct df_u128 w1, struct df_ranges *out);

#endif
