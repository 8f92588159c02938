/* SPDX-License-Identifier: GPL-2.0-only */
/* The agent's drop records (records.c): each drop event of any backend as
 * one JSON line in the drop log (docs/agent.md), one line to syslog, and
 * in memory for `datafencectl drops`. Names (cgroup paths, users) are
 * resolved here. */
#ifndef DF_RECORDS_H
#define DF_RECORDS_H

#include <jansson.h>
#include <stdbool.h>
#include <linux/types.h>

#include "datafence.h"
#include "policy.h"

struct df_records;
struct df_storm;

/* drop_log: a path, "-" for stdout, "" for none; cgroot: the cgroup2 mount
 * point (cgroup ids are found under it). */
int df_records_open(const char *drop_log, const char *cgroot, bool to_syslog,
		    struct df_records **out);
/* The drop log's cap (agent.conf drop_log_max_mb, drop_log_keep): the file
 * is rotated by the agent (path.1 .. path.keep) when it reaches
 * max_mb / (keep + 1), so all of them stay under max_mb. 0: no cap. */
void df_records_limit(struct df_records *r, unsigned int max_mb, unsigned int keep);
/* The floor of free space on the drop log's filesystem (agent.conf
 * drop_log_min_free_mb; 0: none): below it, drop records are folded into
 * the summaries, which alone are written. */
void df_records_floor(struct df_records *r, unsigned int min_free_mb);
/* This interval's storm (storm.h): the backends add what the kernel did not
 * send; df_records_add folds what it does not write. */
struct df_storm *df_records_storm(struct df_records *r);
/* Once a second: checks the floor; if anything of the interval was not
 * recorded one by one, writes its summary record and syslog line, and
 * starts the next interval. p names the classes. */
void df_records_tick(struct df_records *r, const struct df_policy *p);
/* status's drop_log additions: {summaries_only, free_mb, min_free_mb,
 * summaries, folded}. */
json_t *df_records_state(const struct df_records *r);
/* Writes out what is buffered (the agent's loop, after each round). */
void df_records_flush(struct df_records *r);
/* Opens the drop log again (SIGUSR1, after a rotation). */
int df_records_reopen(struct df_records *r);
/* Why the drop log is not open (path and reason), or NULL. */
const char *df_records_error(const struct df_records *r);
/* One drop event; p names classes and rules when it judged the event. */
void df_records_add(struct df_records *r, const struct df_event *e, const struct df_policy *p);
/* An audit record: who changed the agent or the enforcement (action
 * "reload", "unload"; uid/pid of the peer, -1 when unknown), how it went
 * (result) and what it said (detail, may be NULL). One JSON line in the drop
 * log ({"ts", "audit": ACTION, ...}: no "hook"), one syslog line; never in
 * `datafencectl drops`. */
void df_records_audit(struct df_records *r, const char *action, long uid, long pid,
		      const char *result, const char *detail);
/* The last records (at most 1024 kept), oldest first: those with seq >=
 * since_seq carrying class cls (NULL: any), the newest `limit`. */
json_t *df_records_query(struct df_records *r, json_int_t since_seq, long limit, const char *cls);
void df_records_close(struct df_records *r);

#endif
