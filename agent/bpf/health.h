/* SPDX-License-Identifier: GPL-2.0-only */
/* Health as proof for the BPF backend (health.c): what the kernel says of
 * our enforcement, not what we remember doing. Our programs effective at
 * the cgroup root and at every selector cgroup (BPF_PROG_QUERY with
 * BPF_F_QUERY_EFFECTIVE), our links attached and pinned, every pin
 * present, our tc filter present and first on each interface and no tcx
 * program ahead of it, no foreign cgroup program attached with override
 * (or exclusive) semantics between the root and a selector cgroup or in
 * its subtree, every selector cgroup present on this host, the heartbeat
 * fresh. The daemon repairs what it can (re-pin, re-attach, tc filter
 * back) and logs each repair; a reader (the CLI, agent down) only looks. */
#ifndef DF_HEALTH_H
#define DF_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "backend.h"
#include "loader.h"

/* A heartbeat older than this is stale for health when agent.conf sets no
 * stale_after (the kernel's posture then ignores it). */
#define DF_HEARTBEAT_STALE_S 30

struct df_health_ctx {
	const char *pin_dir;
	const char *cgroot;        /* the cgroup2 mount */
	struct df_loader *l;       /* the daemon's instance (repairs), or NULL */
	const int *tc;             /* ifindexes that should carry our tc filter */
	size_t n_tc;
	const struct df_loaded *pol; /* the policy in force (its selectors), or NULL */
	int state_fd, cfg_fd;      /* df_state, df_cfg_o */
};

/* What is wrong, one cause per entry of causes (strings, stable words
 * first: "hook detached: ...", "pins missing: ..."); repairs first when
 * c->l is set. Returns true when enforcement itself is proven (no cause
 * but unresolved selectors, which do not stop the heartbeat). */
bool df_bpf_health(const struct df_health_ctx *c, json_t *causes);

/* Seconds since the heartbeat (-1: never), the stale threshold in force. */
int df_heartbeat_age(int state_fd, int cfg_fd, long long *age_s, unsigned int *stale_after);

#endif
