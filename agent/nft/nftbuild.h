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
#include "ranges.h"

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
#define NFT_TYPE_MARK 19
#define NFT_TYPE_UID 24
#define NFT_TYPE_CGROUPV2 46
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

struct nft_build;

/* Classification once per packet (nftclassify.c): dimensions, each one
 * verdict-map lookup. */
enum nft_dim_kind { DIM_CGROUP, DIM_UID, DIM_MARK, DIM_LPORT, DIM_LADDR };

struct nft_key {
	uint64_t key;      /* cgroup id, uid, mark value */
	uint8_t proto;     /* DIM_LPORT: tcp, udp or sctp ... */
	uint16_t lo, hi;   /* ... and local ports lo..hi */
	uint64_t mask;     /* the classes it selects */
};

struct nft_dim {
	enum nft_dim_kind kind;
	uint32_t arg;            /* DIM_CGROUP: the level; DIM_MARK: the mask */
	struct nft_key *k;       /* every kind but DIM_LADDR */
	size_t n;
	struct df_ranges a4, a6; /* DIM_LADDR: val - 1 indexes masks (0: no class) */
	uint64_t *masks;         /* the distinct class sets a lookup may give */
	size_t n_masks;
	uint64_t *from;          /* the class sets reaching this dimension */
	size_t n_from;
};

struct nft_cls {
	bool fast;         /* false: class by class (too many combinations, or a test) */
	uint64_t all;      /* classes every packet is in (`all = true`) */
	struct nft_dim *d;
	size_t n;
	uint64_t *finals;  /* the class sets after the last dimension */
	size_t n_finals;
};

int nft_classify(struct nft_build *b);
void nft_cls_free(struct nft_cls *cl);
/* The chain a packet enters dimension d in with classes s (d == cl->n: the
 * class set's own chain, f<c> for a single class; the first dimension's
 * rules are in the hook's chain, output). */
void nft_dim_chain(const struct nft_cls *cl, size_t d, uint64_t s, char *buf, size_t len);
/* c<s>: the chain judging exactly the class set s (c0: no class). */
void nft_set_chain(uint64_t s, char *buf, size_t len);
/* The one exact key (cgroup, uid, mark) selecting dimension d's mi-th class
 * set, or NULL (several keys, or ranges): one key is a compare, not a set. */
const struct nft_key *nft_dim_single_key(const struct nft_dim *d, size_t mi);
/* A cgroup path's level under the cgroup2 root ("/a/b": 2). */
uint32_t df_nft_cgroup_level(const char *path);
/* Does class c have a fast entry f<c> (classification on, {c} a class set
 * some packet may have)? */
bool nft_fast_class(const struct nft_build *b, uint32_t c);
/* f<c>'s boxes (nftsets.c): the first box of group g with box k's rule and
 * ports (k itself, or the one whose rule stands for k's), and how many
 * protocols that rule matches (1: the box's own compare; more: the set
 * p<c>_<g>_<k>). */
size_t nft_box_first(const struct group *g, size_t k);
size_t nft_box_protos(const struct group *g, size_t k);
/* Does group g hold a loopback destination (127.0.0.0/8, ::1, their
 * IPv4-mapped form)? Only then do the hook's fused accepts, which come
 * before the loopback exemption, also check the device. */
bool nft_group_loopback(const struct nft_build *b, const struct group *g);
/* A regular chain (nftrules.c). */
void nft_chain_add(struct nft_build *b, const char *name);

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
	struct nft_cls cl;
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
