/* SPDX-License-Identifier: GPL-2.0-only */
/* Packet facts and verdicts, shared by every evaluator (the reference, the
 * emulator, the nftables plan, the kernel's test runs), and their names. */
#ifndef DF_VERDICT_H
#define DF_VERDICT_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/types.h>

#include "datafence.h"
#include "addr.h"

struct df_policy;

/* What the datapath knows of one packet. */
struct df_packet {
	struct df_cidr src, dst; /* full-length addresses */
	uint8_t proto;           /* IPPROTO_* */
	uint16_t sport, dport;   /* host order; 0 when the protocol has none */
	uint32_t uid;            /* socket owner, DF_UID_NONE if no socket */
	uint32_t mark;
	const char *cgroup;      /* cgroup v2 path of the socket, NULL if none */
	uint8_t flags;           /* DF_PKT_*: what the datapath could not parse
				  * (the reference evaluator has no notion of it) */
};

struct df_result {
	enum df_verdict verdict;
	enum df_reason reason;
	uint64_t classes; /* the packet's classes */
	int rule;         /* rule index (destinations, then exceptions) or -1 */
	int slot;         /* counter slot: the first class (allow), the deciding class
			     (drop, would-drop), DF_MAX_CLASSES (no class) */
};

const char *df_verdict_name(enum df_verdict v);
const char *df_reason_name(enum df_reason r);
/* Rule index -> "destination NAME" / "exception ID" parts. */
const char *df_rule_name(const struct df_policy *p, int rule, const char **kind);

#endif
