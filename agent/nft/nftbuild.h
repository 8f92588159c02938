/* SPDX-License-Identifier: GPL-2.0-only */
/* Building the table's contents into one batch: the state shared by the
 * rules (nftrules.c) and the sets and objects (nftsets.c). nfttable.c
 * drives it: sets and objects first, then chains and rules. */
#ifndef DF_NFTBUILD_H
#define DF_NFTBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/types.h>

#include "datafence.h"
#include "diag.h"
#include "nftbatch.h"
#include "nftplan.h"
#include "nfttable.h"
#include "policy.h"

/* Registers: 16-byte NFT_REG_1 overlaps NFT_REG32_00..03. */
#define R_ADDR NFT_REG_1
#define R_CAT0 NFT_REG32_00 /* a concatenation's fields, one register each */
#define R_CAT1 NFT_REG32_01
#define R_TMP NFT_REG32_04

/* nft's data types, so that `nft list` prints the sets' elements. */
#define NFT_TYPE_IPADDR 7
#define NFT_TYPE_IP6ADDR 8
#define NFT_TYPE_INET_PROTOCOL 12
#define NFT_TYPE_INET_SERVICE 13
#define NFT_TYPE_UID 24
#define NFT_TYPE_BITS 6

/* Stage two, per class and kind: leaves with the same boxes form a group,
 * and a group is an address set (per family) and one rule per box. */
enum kind { KD_OK, KD_EXC, KD_PROTO, KD_ADDR, KD__N };

struct group {
	const struct df_nft_box *box; /* the first leaf's boxes (leaf field ignored) */
	size_t n_box;
	uint32_t *leaves;
	size_t n_leaves;
	char set[16]; /* address sets <set>v4, <set>v6 */
};

struct groups {
	struct group *g;
	size_t n;
};

/* Address sets by leaf set, emitted once each. */
struct leafset {
	uint32_t *leaves;
	size_t n;
	char name[16];
};

struct nft_build {
	struct nft_batch *bt;
	const char *table;
	const struct df_policy *p;
	const struct df_nft_plan *pl;
	const struct df_nft_opts *o;
	uint64_t *cg_id[DF_MAX_CLASSES]; /* per class and cgroup selector: its id, 0: missing */
	char limit[40];                  /* the drop-report limiter's name */
	struct df_diags *d;
	struct groups (*cls)[KD__N]; /* per class */
	struct groups *exc;          /* per exception */
	char anyd[16];               /* leaves some destination covers ("": none) */
	struct leafset *ls;
	size_t n_ls;
	uint32_t n_leaves;
};

/* The reasons a class's terminal chains t<c>_<reason> drop for (nftrules.c). */
extern const enum df_reason nft_terminal_reasons[];
extern const size_t nft_n_terminal;

/* nftsets.c: the address, leaf and selector sets, grouped by boxes; the
 * named counters and the report limiter. */
int nft_sets(struct nft_build *b);
void nft_objects(struct nft_build *b);
void nft_build_free(struct nft_build *b);
/* nftrules.c: the chains (the judge chain's comment names the policy),
 * then every rule. */
void nft_chains(struct nft_build *b, bool have_output, const char *sha256);
void nft_rules(struct nft_build *b);

#endif
