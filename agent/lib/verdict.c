// SPDX-License-Identifier: GPL-2.0-only
/* The words of a verdict: verdict, reason and rule names as every output
 * (drop records, counters, `datafencectl test`) spells them. */
#include "verdict.h"

#include <stddef.h>

#include "policy.h"

const char *df_verdict_name(enum df_verdict v)
{
	static const char *const n[] = { "allow", "drop", "would-drop" };

	return v < DF_VERDICT__MAX ? n[v] : "?";
}

const char *df_reason_name(enum df_reason r)
{
	static const char *const n[] = {
		[DF_R_LOOPBACK] = "loopback",
		[DF_R_UNCLASSIFIED] = "unclassified",
		[DF_R_DESTINATION] = "destination",
		[DF_R_EXCEPTION] = "exception",
		[DF_R_NO_DESTINATION] = "no-destination",
		[DF_R_CLASS_NOT_ALLOWED] = "class-not-allowed",
		[DF_R_PORT_NOT_ALLOWED] = "port-not-allowed",
		[DF_R_PROTOCOL_NOT_ALLOWED] = "protocol-not-allowed",
		[DF_R_EXCEPTION_INACTIVE] = "exception-inactive",
		[DF_R_MALFORMED] = "malformed",
		[DF_R_NEXT_HOP] = "next-hop-mismatch",
		[DF_R_FILTER_BYPASS] = "filter-bypass",
		[DF_R_AGENT_STALE] = "agent-stale",
		[DF_R_POLICY_EXPIRED] = "policy-expired",
	};

	return r < DF_REASON__MAX ? n[r] : "?";
}

const char *df_rule_name(const struct df_policy *p, int rule, const char **kind)
{
	*kind = "none";
	if (rule < 0)
		return NULL;
	if ((size_t)rule < p->n_dests) {
		*kind = "destination";
		return p->dests[rule].name;
	}
	if ((size_t)rule < p->n_dests + p->n_excs) {
		*kind = "exception";
		return p->excs[rule - p->n_dests].id;
	}
	return NULL;
}
