/* SPDX-License-Identifier: GPL-2.0-only */
/* struct df_policy -> the exact contents of the BPF maps (docs/compiler.md).
 * Pure: no syscalls; cgroup paths stay paths until the loader resolves them. */
#ifndef DF_COMPILE_H
#define DF_COMPILE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "datafence.h"
#include "diag.h"
#include "policy.h"

struct df_dst4 {
	struct df_lpm4_key key;
	struct df_leaf leaf;
};

struct df_dst6 {
	struct df_lpm6_key key;
	struct df_leaf leaf;
};

struct df_src4 {
	struct df_lpm4_key key;
	__u64 classes;
};

struct df_src6 {
	struct df_lpm6_key key;
	__u64 classes;
};

struct df_cgroup_sel {
	char *path; /* resolved to a cgroup id (inode) at load time */
	uint64_t classes;
};

struct df_uid_sel {
	uint32_t uid;
	uint64_t classes;
};

struct df_image {
	struct df_policy_hdr hdr;
	struct df_dst4 *dst4;
	size_t n_dst4;
	struct df_dst6 *dst6;
	size_t n_dst6;
	struct df_entry *entries;
	size_t n_entries;
	struct df_src4 *src4;
	size_t n_src4;
	struct df_src6 *src6;
	size_t n_src6;
	struct df_cgroup_sel *cgroups;
	size_t n_cgroups;
	struct df_uid_sel *uids;
	size_t n_uids;
	struct df_mark_rule marks[DF_MAX_MARK_RULES];
	struct df_lport_rule lports[DF_MAX_LPORT_RULES];
	uint32_t *stride4;    /* IPv4 stride table (see datafence.h) */
	size_t n_stride4;     /* DF_STRIDE_ROOT + 256 * chunks */
	struct df_rng_node *rng6; /* IPv6 range tree (see datafence.h) */
	size_t n_rng6;        /* nodes */
	size_t n_ranges6;     /* ranges (keys of the last level) */
	uint32_t rng_levels, rng_off[DF_RNG_MAX_LEVELS], rng_blocks[DF_RNG_MAX_LEVELS];
	uint32_t *dir6;       /* the tree's directory (DF_DIR_*), 1 << rng_dir_bits slots */
	uint32_t rng_dir_bits;
	struct df_leaf *dleaves; /* what stride slots and ranges point to */
	size_t n_dleaves;
	size_t n_leaves;      /* distinct entry lists */
	size_t max_leaf_len;  /* longest entry list: the bound of the scan */
};

/* A destination key's leaf in img->dleaves: index + 1. */
uint32_t df_dleaf_index(const struct df_image *img, const struct df_leaf *leaf);

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

/* The IPv6 range tree walk as the kernel does it, from level lv0 and node
 * blk (the root: 0, 0) for the address (hi, lo): returns the range's value
 * (leaf index + 1, 0: no prefix) and, if path is not NULL, stores the node
 * read at each level. */
uint32_t df_rng6_walk(const struct df_image *img, uint64_t hi, uint64_t lo, uint32_t lv0,
		      uint32_t blk, uint32_t *path);
/* The same through the directory, as the kernel starts it. */
uint32_t df_rng6_lookup(const struct df_image *img, uint64_t hi, uint64_t lo);

/* Compiles; on error returns -E2BIG/-ENOMEM with a diagnostic in diags. */
int df_compile(const struct df_policy *p, struct df_image **out, struct df_diags *diags);
void df_image_free(struct df_image *img);
/* Writes the image as stable text (golden files, `check --dump`). */
void df_image_dump(const struct df_image *img, const struct df_policy *p, FILE *out);

/* Prefix merge (also used by tests): for every distinct prefix among the
 * contributions, the sorted ids whose include prefixes contain it and none of
 * whose except prefixes do. */
struct df_contrib {
	struct df_cidr cidr;
	uint32_t id;
	bool except;
};
typedef int (*df_merge_cb)(const struct df_cidr *key, const uint32_t *ids, size_t n,
			   void *ctx);
int df_prefix_merge(struct df_contrib *c, size_t n, uint32_t max_id, df_merge_cb cb,
		    void *ctx);

#endif
