/* SPDX-License-Identifier: GPL-2.0-only */
/* Counters of every backend as one list of rows (docs/control.md) and the
 * Prometheus text made from them (report.c). The backends add the rows;
 * the agent and datafencectl print them. */
#ifndef DF_REPORT_H
#define DF_REPORT_H

#include <jansson.h>
#include <stdint.h>

#include "policy.h"

struct df_totals {
	uint64_t judged, allowed, dropped, would_drop;
	uint64_t events_sent, events_lost, events_suppressed, no_policy;
	uint64_t events_over_budget; /* not sent: over the event budget (agent.conf event_rate) */
	uint64_t canary; /* the canary's packets (canary.h), in no other total */
};

struct df_counts {
	json_t *counters; /* [{hook, class, verdict, reason, packets, bytes}] */
	json_t *rules;    /* [{kind, name, packets, bytes}] */
	struct df_totals t;
	uint64_t canary_mask; /* class slots counted in t.canary only (set before adding) */
};

void df_counts_init(struct df_counts *c);
void df_counts_free(struct df_counts *c);
/* A verdict counter: class by name from p (when it is the policy counted
 * under), its slot number otherwise, null for no class; into the totals. */
void df_counts_add(struct df_counts *c, const char *hook, const struct df_policy *p, int slot,
		   int verdict, int reason, uint64_t packets, uint64_t bytes);
/* A rule counter (rule index: destinations, then exceptions); `backend`
 * names the backend where more than one counts rules (NULL: omitted). */
void df_counts_add_rule(struct df_counts *c, const struct df_policy *p, int rule,
			uint64_t packets, uint64_t bytes, const char *backend);
/* Both lists by packets, descending. */
void df_counts_sort(struct df_counts *c);

/* The metrics as one model: [{name, type, help, samples [{labels {}, value}]}]
 * (docs/control.md), and its Prometheus text exposition (malloc'd). */
json_t *df_report_metrics_json(const struct df_counts *c, const struct df_policy *p,
			       const json_t *status);
char *df_metrics_text(const json_t *families);

#endif
