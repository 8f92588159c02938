/* SPDX-License-Identifier: GPL-2.0-only */
/* Drop events -> JSON lines (the drop log's documented record) and the
 * one-line syslog summary. */
#ifndef DF_EVENTS_H
#define DF_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <linux/types.h>

#include "datafence.h"
#include "policy.h"

/* The drop log's record schema (docs/agent.md "The drop log"): every record
 * (drop, audit, storm summary) carries it as "schema"; a change of a key's
 * meaning or a removed key raises it, an added key does not. */
#define DF_RECORD_SCHEMA 1

/* Names resolved by the caller (NULL when unknown). */
struct df_event_names {
	const char *cgroup; /* cgroup path of cgroup_id */
	const char *user;   /* user name of uid */
};


/* Unix nanoseconds as RFC 3339 UTC with microseconds (the records' "ts"). */
void df_ts_format(__u64 ns, char *buf, size_t len);
/* The drop record of an event (docs/agent.md). Class and rule names come
 * from `p` when it is the policy the event was judged by (same serial). */
json_t *df_event_json(const struct df_event *e, const struct df_policy *p,
		      const struct df_event_names *n);
/* "drop tcp 10.0.0.1:40000 -> 192.0.2.1:443 reason no-destination class us-user-data ..." */
void df_event_summary(const struct df_event *e, const struct df_policy *p, char *buf, size_t len);
const char *df_hook_name(unsigned int hook);

/* Drop-record selection shared by the agent's recent drops and the CLI's
 * reading of the drop log: appends `rec` (a drop record) to `arr` if it
 * carries class `cls` (NULL: any), keeping the newest `limit` (< 0: all).
 * Audit records and storm summaries are not drops: never kept. */
void df_drops_keep(json_t *arr, json_t *rec, const char *cls, long limit);

#endif
