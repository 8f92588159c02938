/* SPDX-License-Identifier: GPL-2.0-only */
/* struct df_policy -> the exact contents of the BPF maps (docs/compiler.md).
 * Pure: no syscalls; cgroup paths stay paths until the loader resolves them. */
#ifndef DF_COMPILE_H
#define DF_COMPILE_H

#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "addr.h"
#include "datafence.h"
#include "diag.h"
#include "policy.h"

/* A destination prefix and its leaf: what the lookup tables are built
 * from (the nftables plan and `check --dump` read them too). */
struct df_dst {
	struct df_cidr pfx;
	struct df_leaf leaf;
};

/* A cgroup selector: a path until the loader resolves it to the cgroup's id
 * (a cgroup made again gets a new id). */
struct df_cgroup_sel {
	char *path;
	uint64_t classes;
};

/* A compiled policy: the bytes of every per-generation map (bpf/maps.h),
 * ready to copy, then what they were built from. The loader adds only the
 * cgroup selectors' ids, which exist on the host alone. */
struct df_image {
	/* df_cfg_o: one element. Its header, selectors, IPv6 tree geometry,
	 * flags and deepest cgroup level are the compiler's. */
	struct df_cfg cfg;
	/* df_str4_o (mmap): the IPv4 stride table, DF_STRIDE_ROOT + 256 * chunks slots */
	uint32_t *stride4;
	size_t n_stride4;
	/* df_lv_o: the leaves that stride slots and ranges point to */
	struct df_leaf *dleaves;
	size_t n_dleaves;
	/* df_rng6_o (mmap): the IPv6 range tree's nodes */
	struct df_rng_node *rng6;
	size_t n_rng6;
	/* df_dir6_o (mmap): the tree's directory, 1 << cfg.rng_dir_bits slots */
	uint32_t *dir6;
	/* df_ent_o: the rule entries leaves point into */
	struct df_entry *entries;
	size_t n_entries;
	/* df_src_o: local_addrs selectors, IPv4 keys first (n_src4), then IPv6 */
	struct df_src_key *src_keys;
	__u64 *src_classes;
	size_t n_src, n_src4, n_src6;
	/* df_sel_o: uid selectors (sorted by uid), then the loader's cgroup ids */
	struct df_sel_key *uid_keys;
	__u64 *uid_classes;
	size_t n_uids;
	struct df_cgroup_sel *cgroups;
	size_t n_cgroups;

	/* What the tables were built from, and figures for `check`. */
	struct df_dst *dst4, *dst6;
	size_t n_dst4, n_dst6;
	size_t n_ranges6;    /* IPv6 ranges (keys of the tree's last level) */
	size_t n_leaves;     /* distinct entry lists */
	size_t max_leaf_len; /* longest entry list: the bound of the scan */
};

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
