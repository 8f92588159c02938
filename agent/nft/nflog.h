/* SPDX-License-Identifier: GPL-2.0-only */
/* The nftables backend's drop reports: NFLOG messages read over libmnl and
 * turned into the same drop events the BPF backend sends (docs/nftables.md). */
#ifndef DF_NFLOG_H
#define DF_NFLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "datafence.h"
#include "policy.h"

/* What one NFLOG message carried. */
struct df_nflog_rec {
	uint8_t family;         /* NFPROTO_IPV4 / NFPROTO_IPV6 */
	char prefix[128];
	const uint8_t *payload; /* from the network header */
	size_t len;
	uint32_t mark;
	bool has_uid;
	uint32_t uid;
	uint32_t ifindex;       /* output interface, 0 if none */
	int64_t ts_ns;          /* unix time; 0 if the message had none */
};

struct df_nflog;
/* Binds NFLOG group `group` in this network namespace. */
int df_nflog_open(uint16_t group, struct df_nflog **out);
int df_nflog_fd(const struct df_nflog *l);
typedef void (*df_nflog_cb)(const struct df_nflog_rec *r, void *ctx);
/* Reads one batch of pending messages; *lost grows when the socket
 * overflowed (the kernel dropped reports). */
int df_nflog_read(struct df_nflog *l, df_nflog_cb cb, void *ctx, uint64_t *lost);
void df_nflog_close(struct df_nflog *l);

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
