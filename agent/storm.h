/* SPDX-License-Identifier: GPL-2.0-only */
/* A drop storm's summary (storm.c; docs/agent.md "Drop storms"): the drops
 * of one interval that were not recorded one by one, gathered from the
 * backends (the kernel's events over its budget by hook, class and reason,
 * their senders and destinations; the nftables reports over their rate)
 * and from the records the agent folded itself (below the drop log's
 * free-space floor). records.c writes one summary record and one syslog
 * line per interval in which there was any. */
#ifndef DF_STORM_H
#define DF_STORM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>

#include "datafence.h"
#include "policy.h"

/* Rows by (hook, class slot, reason), as the kernel's df_supp lays them out
 * (DF_SUPP_INDEX), with one more hook: the nftables backend's (DF_HOOK__MAX,
 * as df_hook_name names it). */
#define DF_STORM_HOOKS (DF_HOOK__MAX + 1)
#define DF_STORM_ROWS (DF_STORM_HOOKS * (DF_MAX_CLASSES + 1) * DF_REASON__MAX)
#define DF_STORM_ROW(hook, slot, reason) DF_SUPP_INDEX(hook, slot, reason)
#define DF_STORM_PROCS 1024 /* senders told apart in one interval */
#define DF_STORM_DSTS 4096  /* destinations counted one by one (the rest: estimated) */
#define DF_STORM_TOP 5      /* senders and destinations a summary names */

struct df_storm_proc {
	uint64_t cgroup_id;
	uint32_t uid, pid;
	char comm[16];
	uint64_t drops;
	bool used;
};

struct df_storm_dst {
	struct df_storm_dst_key k;
	uint64_t drops;
	bool used;
};

struct df_storm {
	uint64_t from_ns;               /* the interval's start (CLOCK_REALTIME) */
	uint64_t by[DF_STORM_ROWS];     /* exact */
	uint64_t over_budget;           /* of the total: the kernel's, over its budget */
	uint64_t folded;                /* of the total: records the agent did not write */
	struct df_storm_proc proc[2 * DF_STORM_PROCS]; /* open addressing */
	size_t n_procs;
	uint64_t procs_untold; /* drops of senders beyond DF_STORM_PROCS */
	struct df_storm_dst dst[2 * DF_STORM_DSTS];
	size_t n_dsts;
	struct df_hll hll; /* every destination, told apart or not */
};

/* A new interval from now_ns. */
void df_storm_reset(struct df_storm *s, uint64_t now_ns);
/* n drops of (hook, slot, reason); out of range: ignored. */
void df_storm_count(struct df_storm *s, unsigned int hook, unsigned int slot,
		    unsigned int reason, uint64_t n);
void df_storm_sender(struct df_storm *s, uint64_t cgroup_id, uint32_t uid, uint32_t pid,
		     const char comm[16], uint64_t n);
/* A destination told apart (the estimate of distinct ones is the
 * kernel's, merged, and df_storm_fold's). */
void df_storm_destination(struct df_storm *s, const struct df_storm_dst_key *k, uint64_t n);
void df_storm_merge_hll(struct df_storm *s, const struct df_hll *h);
/* A drop event the agent does not record one by one: counted in full. */
void df_storm_fold(struct df_storm *s, const struct df_event *e);
uint64_t df_storm_total(const struct df_storm *s);

/* The distinct values a HyperLogLog saw (estimated). */
uint64_t df_hll_estimate(const struct df_hll *h);
void df_hll_add(struct df_hll *h, __u64 hash);

/* Names for the summary (NULL: unknown). */
struct df_storm_names {
	const char *(*cgroup)(void *ctx, uint64_t cgroup_id);
	bool (*user)(void *ctx, uint32_t uid, char *buf, size_t len);
	void *ctx;
};

/* The summary record (docs/agent.md), p naming classes when in force. */
json_t *df_storm_json(const struct df_storm *s, const struct df_policy *p, uint64_t now_ns,
		      const struct df_storm_names *n);
/* Its syslog line. */
void df_storm_line(const json_t *summary, char *buf, size_t len);

#endif
