// SPDX-License-Identifier: GPL-2.0-only
/* The agent's self-check (agent.h): the backends' health check every
 * DF_CHECK_TICKS, the canary every DF_CANARY_TICKS, the heartbeat and
 * systemd's readiness and watchdog while enforcement is proven. */
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "agent.h"
#include "log.h"
#include "status.h"

json_t *agent_canary_json(struct agent *a)
{
	bool on = a->canary && a->pol && a->pol->canary;

	return json_pack("{s:b, s:s?, s:s?, s:o, s:s?}", "enabled", on, "cgroup",
			 a->canary ? df_canary_cgroup(a->canary) : NULL, "why",
			 on ? NULL : a->canary_off[0] ? a->canary_off : "no policy loaded",
			 "last_run", df_time_json(on ? a->canary_at : 0), "result",
			 !on || !a->canary_at ? NULL : a->canary_result[0] ? a->canary_result : "refused");
}

/* The canary's packets counted so far: its class slot alone. */
static uint64_t canary_count(struct agent *a)
{
	return df_backends_slot_packets(&a->bs, __builtin_ctzll(a->pol->canary));
}

/* One probe: refused with EPERM and counted, or a cause (logged when it
 * changes). A probe that could not run says so without blocking the
 * heartbeat; one whose datagram was not refused, or not counted, blocks it. */
void agent_run_canary(struct agent *a)
{
	char why[256], res[sizeof(a->canary_result)] = "";
	uint64_t before;
	int rc;

	if (!a->canary || !a->pol || !a->pol->canary)
		return;
	before = canary_count(a);
	rc = df_canary_probe(a->canary, why, sizeof(why));
	if (rc < 0)
		snprintf(res, sizeof(res), "canary unavailable: %s", why);
	else if (rc > 0)
		snprintf(res, sizeof(res), "canary not refused: %s", why);
	else if (canary_count(a) <= before)
		snprintf(res, sizeof(res), "canary not counted: refused, but no counter of its class moved");
	/* broken enforcement blocks the heartbeat; a probe that could not run does not */
	a->canary_blocks = rc >= 0 && res[0];
	if (strcmp(res, a->canary_result) || !a->canary_at) {
		if (res[0])
			pr_err("%s", res);
		else
			pr_notice("canary: refused and counted, as it must be");
	}
	snprintf(a->canary_result, sizeof(a->canary_result), "%s", res);
	a->canary_at = time(NULL);
}

/* The health check: repairs, then what is still wrong (backend.h). With
 * enforcement proven, systemd hears READY=1 once (a policy in force) and
 * every tick WATCHDOG=1, as the kernel hears the heartbeat. */
void agent_check_health(struct agent *a)
{
	bool was = a->proven;

	a->proven = df_backends_check(&a->bs, in_force(a)) && !a->canary_blocks;
	if (was && !a->proven)
		pr_err("enforcement not proven: the heartbeat stops until it is (status says why)");
	else if (!was && a->proven && a->ticks)
		pr_notice("enforcement proven again: the heartbeat resumes");
}

void agent_heartbeat(struct agent *a)
{
	if (!a->proven)
		return;
	df_backends_heartbeat(&a->bs);
	if (!a->notified && a->pol) {
		sd_notify(0, "READY=1\nSTATUS=enforcing");
		a->notified = true;
	}
	sd_notify(0, "WATCHDOG=1");
}

void agent_open_canary(struct agent *a)
{
	char why[256];

	if (!a->conf.canary) {
		snprintf(a->canary_off, sizeof(a->canary_off), "canary = false in agent.conf");
		return;
	}
	if (!a->conf.hook_cgroup_skb && !a->conf.hook_sock_addr) {
		snprintf(a->canary_off, sizeof(a->canary_off),
			 "it needs the cgroup_skb or sock_addr hook (its namespace has no tc filter)");
		return;
	}
	if (!strcmp(a->conf.backend, "nftables")) {
		snprintf(a->canary_off, sizeof(a->canary_off),
			 "the nftables backend: the canary's network namespace has no table");
		return;
	}
	if (df_canary_open(a->cgroot, &a->canary, why, sizeof(why))) {
		snprintf(a->canary_off, sizeof(a->canary_off), "%s", why);
		pr_err("no canary: %s", why);
		return;
	}
	pr_notice("canary: cgroup %s, a datagram to %s:%d from its own network namespace every %d s",
		  df_canary_cgroup(a->canary), DF_CANARY_DST, DF_CANARY_PORT, DF_CANARY_TICKS);
}
