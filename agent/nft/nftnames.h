/* SPDX-License-Identifier: GPL-2.0-only */
/* The nftables backend's names and reports, pure (no netlink): counter
 * names, the NFLOG prefix, a report turned into a drop event, and the
 * per-flow folding of reports (docs/nftables.md). */
#ifndef DF_NFTNAMES_H
#define DF_NFTNAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "datafence.h"
#include "nflog.h"
#include "policy.h"

/* Counter names: df_c<slot>_<verdict>_<reason> (slot "none": no class),
 * df_r<rule>, df_suppressed (drop reports over the rate), and the same by
 * class and reason: df_over_c<slot>_<reason> (the storm summaries'). */
#define DF_NFT_SUPPRESSED "df_suppressed"
void df_nft_over_name(char *buf, size_t len, int slot, int reason);
/* 0 and slot, reason for a df_over_ name; -1 for any other. */
int df_nft_over_parse(const char *name, int *slot, int *reason);
void df_nft_counter_name(char *buf, size_t len, int slot, int verdict, int reason);
/* 0: a verdict counter (*rule = -1), 1: a rule counter, -1: neither. */
int df_nft_counter_parse(const char *name, int *slot, int *verdict, int *reason, int *rule);

/* The fast path's one counter per (class, rule): df_a<slot>_r<rule>, packets
 * class slot alone allowed by destination rule `rule` (nftrules.c, f<c>).
 * Never shown: df_nft_counters() adds it to df_r<rule> and to
 * df_c<slot>_allow_destination (one counter a packet instead of two). */
void df_nft_fast_name(char *buf, size_t len, int slot, int rule);
/* 0 and slot, rule for a df_a name; -1 for any other. */
int df_nft_fast_parse(const char *name, int *slot, int *rule);

/* Drop report prefix: "df <serial> <slot> <verdict> <reason>". */
int df_nft_prefix_parse(const char *prefix, uint64_t *serial, int *slot, int *verdict,
			int *reason);

/* A report -> the drop event the BPF backend would send: addresses, ports
 * and protocol from the packet, verdict, reason, class and serial from the
 * prefix; the rule is the reference evaluator's for that class when `p` is
 * the policy of that serial. -EINVAL if it is not one of our reports. */
int df_nflog_event(const struct df_nflog_rec *r, const struct df_policy *p, uint64_t seq,
		   struct df_event *e);

/* Per-flow folding of reports, as the BPF backend's limiter does: a flow's
 * first drop is reported at once, later ones at most once a second with the
 * number folded in between. A small direct-mapped table: a colliding flow
 * takes the slot (and is reported). */
#define DF_FLOW_SLOTS 4096
struct df_flow_slot {
	uint64_t hash;
	uint64_t last_ns;
	uint32_t folded;
};
struct df_flow_limiter {
	struct df_flow_slot slot[DF_FLOW_SLOTS];
};
/* true: report `e` now (e->suppressed set to the drops folded since the
 * flow's last report); false: folded into the flow's next report. */
bool df_flow_report(struct df_flow_limiter *fl, struct df_event *e, uint64_t now_ns);

#endif
