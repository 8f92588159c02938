/* SPDX-License-Identifier: GPL-2.0-only */
/* The agent's state, shared by main.c (start, the loop, the control
 * socket), push.c (policy pushes) and selfcheck.c (health, heartbeat,
 * canary). One thread: nothing here is locked. */
#ifndef DF_AGENT_H
#define DF_AGENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "agentconf.h"
#include "backend.h"
#include "canary.h"
#include "compile.h"
#include "control.h"
#include "policy.h"
#include "records.h"
#include "safefile.h"
#include "state.h"

#define MAX_CG_WATCHES 256
#define DF_POLICY_MAX (256u << 20) /* bytes: 1M prefixes take about 25 MB */
#define MAX_FDS 16
#define DF_PACE_MS 20
#define DF_CHECK_TICKS 2  /* seconds between health checks */
#define DF_SLOW_TICKS 10  /* seconds between clock, helper and metrics work */
#define DF_CANARY_TICKS 10 /* seconds between canary probes */

struct agent {
	const char *conf_file;
	struct df_agent_conf conf;
	struct df_backend_conf bconf;
	struct df_backends bs;
	struct df_records *rec;
	struct df_ctl *ctl;
	/* the policy in force */
	struct df_policy *pol;
	struct df_image *img;
	char sha256[65];
	struct df_loaded cur;
	char cgroot[512];
	int ino_fd, pol_wd;
	int cg_wd[MAX_CG_WATCHES];
	size_t n_cg_wd;
	int sig_fd, timer_fd;
	int edge_fd; /* fires at the next end of an exception window (revocation) */
	/* Drop reports are read at most every DF_PACE_MS: a backend's fd that
	 * was readable is left out of the loop's epoll until pace_fd fires, so
	 * that a storm's events are read in batches, not one wakeup each. */
	int pace_fd;
	uint64_t muted[MAX_FDS]; /* their epoll data (tag << 32 | fd) */
	size_t n_muted;
	bool stop, unloaded;
	/* for status */
	time_t started, loaded_at, push_at;
	bool pushed, push_ok;
	char push_why[64];
	json_t *push_errors; /* ["file:line: error: ..."] of the last refused push */
	json_t *pushes;      /* {"accepted": N, "refused": {CAUSE: N}} (status, metrics) */
	char policy_summary[160]; /* the last push: "'NAME' serial N" or its first error */
	char metrics_why[DF_WHY_LEN]; /* why the metrics file was refused, or "" */
	/* health (backend.h check) */
	unsigned long ticks;
	bool proven;   /* the last check proved enforcement: the heartbeat goes on */
	bool notified; /* systemd was told READY=1 */
	/* the canary (canary.h) */
	struct df_canary *canary; /* NULL: off (canary_off says why) */
	char canary_off[300];     /* why there is no canary for the policy in force */
	char canary_result[300];  /* the last probe: "" refused as it must be, else what */
	bool canary_blocks;       /* that result means enforcement is broken */
	time_t canary_at;
	/* approval (docs/signing.md) */
	struct df_saved saved;    /* the highest accepted serial (state_dir) */
	char saved_error[DF_WHY_LEN]; /* state_dir's serial could not be read: pushes refused */
	char save_error[DF_WHY_LEN];  /* the last save failed */
	json_t *signed_by;        /* [{principals, fingerprint}] of the policy in force */
	char policy_source[1100]; /* the file it was loaded from (the pushed one, or state_dir's) */
};


static inline const struct df_loaded *in_force(const struct agent *a)
{
	return a->pol ? &a->cur : NULL;
}

/* push.c */
/* Loads the policy file (why: what made the agent look; same_ok: an equal
 * serial is accepted, start-up adoption). 0, or the push was refused (the
 * policy in force stays; status and the log say why). */
int agent_apply_policy(struct agent *a, const char *why, bool same_ok);
/* At start, when the policy file was not loaded: the last good policy of
 * state_dir, verified again (-ENOENT: there is none). */
int agent_apply_last_good(struct agent *a);
/* Watches the parent directory of every cgroup selector of the policy in force. */
void agent_watch_cgroups(struct agent *a);
/* The policy in force again, its cgroup selectors resolved anew. */
void agent_reresolve_cgroups(struct agent *a);
/* The edge timer at the next end of an exception window (or off). */
void agent_arm_exception_edge(struct agent *a);

/* selfcheck.c */
void agent_open_canary(struct agent *a);
/* One canary probe (every DF_CANARY_TICKS). */
void agent_run_canary(struct agent *a);
/* Every backend's check (repairs included); a->proven. */
void agent_check_health(struct agent *a);
/* The kernel's heartbeat and systemd's notifications, while proven. */
void agent_heartbeat(struct agent *a);
/* status's "canary" object. */
json_t *agent_canary_json(struct agent *a);

#endif
