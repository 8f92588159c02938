/* SPDX-License-Identifier: GPL-2.0-only */
/* What datafenced and datafencectl agree on: the version, the default
 * paths, and the control socket's commands (docs/control.md). */
#ifndef DF_PROTO_H
#define DF_PROTO_H

#define DF_VERSION "0.1.0"

#define DF_AGENT_CONF "/etc/datafence/agent.conf"
#define DF_POLICY_FILE "/etc/datafence/policy.conf"
#define DF_CONTROL_SOCKET "/run/datafence/control.sock"
#define DF_DROP_LOG "/var/log/datafence/drops.jsonl"
#define DF_PIN_DIR "/sys/fs/bpf/datafence"
#define DF_STATE_DIR "/var/lib/datafence" /* highest accepted serial, last good policy */
#define DF_EVENT_RATE 2000 /* drop events a second the kernel sends at most */
#define DF_NFT_TABLE "datafence"
#define DF_NFT_LOG_GROUP 7146
#define DF_NFT_LOG_RATE 1000

/* Control socket commands: {"cmd": NAME, ...} -> {"ok": true|false, ...}. */
#define DF_CMD_STATUS "status"     /* the status document (status.h) */
#define DF_CMD_VERSION "version"   /* {version} */
#define DF_CMD_COUNTERS "counters" /* {counters, rules} */
#define DF_CMD_METRICS "metrics"   /* {text}: Prometheus exposition */
#define DF_CMD_DROPS "drops"       /* {drops}; request: since_seq, limit, class */
#define DF_CMD_RELOAD "reload"     /* {result, errors} */
#define DF_CMD_UNLOAD "unload"     /* {results: [{backend, outcome, message}]}; the agent
				    * removes enforcement, then stops */

#endif
