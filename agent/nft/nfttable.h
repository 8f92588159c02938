/* SPDX-License-Identifier: GPL-2.0-only */
/* The nftables backend's table: a plan (nftplan.h) as one `inet` table, built and
 * replaced with libnftnl over a libmnl netlink socket in one batch
 * (docs/nftables.md). Works in the caller's network namespace. */
#ifndef DF_NFTTABLE_H
#define DF_NFTTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "nftplan.h"
#include "policy.h"
#include "proto.h"

struct df_nft_opts {
	const char *table;  /* inet table; "datafence" if NULL */
	uint16_t log_group; /* NFLOG group the drop reports go to */
	uint32_t log_rate;  /* reports per second at most; the rest are counted */
	bool per_class;     /* tests: classify class by class, as the table does for a
			     * policy with too many class combinations (nftclassify.c) */
};


/* What the table says about the policy it holds (its judge chain's comment). */
struct df_nft_info {
	bool present;      /* the table exists */
	bool loaded;       /* ... and holds a policy */
	uint64_t serial;
	char sha256[17];   /* the policy file's sha256, first 16 hex digits */
	char policy[128];
};

/* Replaces the table's contents with the plan's, atomically (one batch);
 * creates the table on first use. Counters survive. cgroup selectors are
 * resolved under cgroup_root (missing ones warned about in d). On error
 * the table is as before and d says why. */
int df_nft_apply(const struct df_nft_opts *o, const struct df_policy *p,
		 const struct df_nft_plan *pl, const char *cgroup_root, const char *sha256,
		 struct df_diags *d);
int df_nft_info(const struct df_nft_opts *o, struct df_nft_info *info);
/* Every named counter of the table. */
typedef void (*df_nft_counter_cb)(const char *name, uint64_t packets, uint64_t bytes, void *ctx);
int df_nft_counters(const struct df_nft_opts *o, df_nft_counter_cb cb, void *ctx);
/* Deletes the table (enforcement ends). -ENOENT if there is none. */
int df_nft_remove(const struct df_nft_opts *o);

#endif
