/* SPDX-License-Identifier: GPL-2.0-only */
/* The status document (status.c; keys in docs/control.md): built by the
 * agent for the control socket, or by datafencectl from what the kernel
 * holds when the agent is down. Both have the same keys. */
#ifndef DF_STATUS_H
#define DF_STATUS_H

#include <jansson.h>
#include <stdbool.h>
#include <time.h>

#include "backend.h"

/* What the agent knows beyond the kernel. */
struct df_agent_state {
	const char *backend;         /* as configured: bpf, nftables, both */
	const char *policy_file;
	const char *cgroot;          /* the cgroup2 mount (selectors are below it) */
	const struct df_loaded *cur; /* the policy in force; NULL: none loaded */
	time_t started, loaded_at;
	bool pushed, push_ok;        /* the last push, if any, and how it went */
	const char *push_why;
	time_t push_at;
	json_t *push_errors;         /* ["file:line: error: ..."] of a refused push */
	json_t *pushes;              /* {"accepted": N, "refused": {CAUSE: N}} since start */
	json_t *canary;              /* {enabled, cgroup, why, last_run, result} (stolen) */
	json_t *approval;            /* docs/signing.md (stolen) */
	const struct df_counts *counts; /* the counters already read, or NULL: read them */
	/* the files the agent writes, and why one is refused (NULL: fine) */
	const char *drop_log, *drop_log_error;
	json_t *drop_log_state;      /* records.h df_records_state (the caller's) */
	const char *metrics_file, *metrics_error;
};

/* The document: source "agent" when a is given; else source "kernel", the
 * agent "down" (why_down says why) and the policy known by its serial only. */
json_t *df_status_json(const struct df_agent_state *a, const char *why_down,
		       struct df_backends *bs);
/* Does the JSON array hold the string s? */
bool df_json_array_has(const json_t *arr, const char *s);
/* RFC 3339 or null. */
json_t *df_time_json(time_t t);
/* The status document's "revocation" (a backend's answer; method NULL:
 * unavailable, for why). */
json_t *df_revocation_json(const char *method, const char *why, time_t last_run);

#endif
