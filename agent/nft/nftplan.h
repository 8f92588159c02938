/* SPDX-License-Identifier: GPL-2.0-only */
/* The compiled policy as the contents of the nftables backend's sets
 * (docs/nftables.md). Pure: no netlink. nfttable.c turns a plan into one
 * netlink batch; df_nft_plan_verdict() evaluates a plan the way the rules
 * do, so unit tests hold the plan against the reference evaluator.
 *
 * Two stages per lookup: the destination address maps to its leaf (the
 * compiler's distinct rule lists, shared by IPv4 and IPv6) in an interval
 * map; then small per-class sets keyed by leaf, protocol and port say what
 * the leaf allows. Every element is disjoint from the others of its set and
 * carries a label: the rule the reference evaluator would name there. */
#ifndef DF_NFTPLAN_H
#define DF_NFTPLAN_H

#include <stddef.h>
#include <stdint.h>

#include "compile.h"
#include "ranges.h"
#include "policy.h"
#include "verdict.h"

struct df_nft_box {
	uint32_t leaf; /* index into the image's dleaves */
	uint8_t proto_lo, proto_hi;
	uint16_t port_lo, port_hi; /* host order */
	uint16_t rule;             /* the label */
};

struct df_nft_boxes {
	struct df_nft_box *v;
	size_t n, cap;
};

struct df_nft_class {
	struct df_nft_boxes ok;    /* leaf . proto . port: first destination satisfying the class */
	struct df_nft_boxes exc;   /* leaf . proto . port: first exception of the class (any window) */
	struct df_nft_boxes proto; /* leaf . proto: first destination allowing the class, protocol */
	struct df_nft_boxes addr;  /* leaf: first destination allowing the class */
	struct df_ranges src4, src6; /* local_addrs: val 1 inside (src6 holds IPv4-mapped too) */
};

struct df_nft_exc {
	uint16_t rule;
	uint32_t cls;
	int64_t not_before, expires; /* unix seconds, [not_before, expires) */
	struct df_nft_boxes box;     /* leaf . proto . port */
};

struct df_nft_plan {
	struct df_ranges dst4;   /* the IPv4 space as IPv4-mapped addresses; val: leaf + 1 */
	struct df_ranges dst6;   /* IPv6, with the IPv4-mapped space judged as IPv4 */
	uint32_t *any_dest;      /* leaves some destination covers (class-not-allowed) */
	size_t n_any_dest;
	struct df_nft_class *cls;
	size_t n_cls;
	struct df_nft_exc *exc;  /* policy order */
	size_t n_exc;
	uint32_t order[DF_MAX_CLASSES]; /* enforce classes in policy order, then audit ones */
};

/* The IPv4-mapped window of the IPv6 space. */
#define DF_NFT_MAPPED_LO ((struct df_u128){ 0, 0x0000ffff00000000ULL })
#define DF_NFT_MAPPED_HI ((struct df_u128){ 0, 0x0000ffffffffffffULL })

int df_nft_plan_build(const struct df_policy *p, const struct df_image *img,
		      struct df_nft_plan **out);
void df_nft_plan_free(struct df_nft_plan *pl);

/* The verdict the table built from this plan gives `pkt` (with the classes
 * its selectors put it in) at unix time `now`: what `datafencectl test`
 * reports under the nftables backend. */
void df_nft_plan_verdict(const struct df_nft_plan *pl, const struct df_policy *p,
			 const struct df_packet *pkt, uint64_t classes, int64_t now,
			 struct df_result *res);

/* The label of the box holding (leaf, proto, port), or -1 (boxes of sets
 * without a port field span every port). */
int df_nft_boxes_find(const struct df_nft_boxes *b, uint32_t leaf, uint8_t proto, uint16_t port);

#endif
