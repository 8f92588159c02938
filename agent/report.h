/* SPDX-License-Identifier: GPL-2.0-only */
/* Reading the kernel's counters (pinned maps) into JSON and Prometheus
 * text: shared by the agent (control socket, metrics file) and datafencectl
 * (when the agent is down). */
#ifndef DF_REPORT_H
#define DF_REPORT_H

#include <jansson.h>
#include <stdint.h>

#include "policy.h"

struct df_totals {
	uint64_t judged, allowed, dropped, would_drop;
	uint64_t events_sent, events_lost, events_suppressed, no_policy;
};

/* Every non-zero counter: [{hook, class, verdict, reason, packets, bytes}],
 * sorted by packets, descending. Names from `p` when given. */
json_t *df_report_counters(int counters_fd, const struct df_policy *p, struct df_totals *t);
/* Per rule: [{kind, name, packets, bytes}] (non-zero, descending). */
json_t *df_report_rules(int rule_fd, const struct df_policy *p);
void df_report_misc(int misc_fd, struct df_totals *t);
/* The nftables backend's counters appended to the same lists (hook
 * "nftables"), both re-sorted; -errno if the table cannot be read. Either
 * list may be NULL. */
struct df_nft_opts;
int df_report_nft(const struct df_nft_opts *o, const struct df_policy *p, json_t **counters,
		  json_t **rules, struct df_totals *t);
/* Prometheus text exposition of everything above (malloc'd). */
char *df_report_metrics(json_t *counters, json_t *rules, const struct df_totals *t,
			const struct df_policy *p, uint64_t serial);

#endif
