/* SPDX-License-Identifier: GPL-2.0-only */
/* Agent configuration, version 1 (docs/agent.md): /etc/datafence/agent.conf. */
#ifndef DF_AGENTCONF_H
#define DF_AGENTCONF_H

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "proto.h"

#define DF_MAX_IFACES 64

struct df_agent_conf {
	char *policy_file;
	char *pin_dir;
	char *backend;         /* bpf, nftables or both (backend.h) */
	bool hook_cgroup_skb, hook_tc, hook_sock_addr;
	char *interfaces[DF_MAX_IFACES]; /* none: every non-loopback interface */
	size_t n_interfaces;
	char *drop_log;        /* "-" stdout, "" off */
	bool syslog;
	char *control_socket;
	char *control_group;   /* "": root only (0600); else that group may connect (0660)
				* and use the read-only commands */
	char *admin_group;     /* "": only root changes anything (reload); else that
				* group's members may too (they need control_group's
				* access to the socket) */
	char *metrics_file;    /* "" off */
	char *nft_table;       /* the nftables backend's inet table */
	unsigned int nft_log_group; /* NFLOG group of its drop reports */
	unsigned int nft_log_rate;  /* drop reports per second at most */
	char *revocation;      /* "auto": BPF socket iterators if the kernel has
				* them, else sock_diag; "sock_diag": always that */
	unsigned int stale_after; /* seconds without a heartbeat = stale; 0: off */
	char *stale_posture;   /* "keep" | "drop-protected" (verdict step 3a) */
	char *tc_attach;     /* "auto" (tcx where the kernel has it) or "clsact" */
	bool canary;           /* the active canary (canary.h); BPF backend only */
	char *scope;           /* this host's group; "": none (policy `scope`) */
	char *allowed_signers; /* OpenSSH allowed_signers file; "": none */
	unsigned int signatures_required; /* 0: unsigned policies are accepted */
	char *state_dir;       /* highest accepted serial, last good policy */
	unsigned int event_rate; /* drop events a second at most; beyond: counted */
	unsigned int drop_log_max_mb; /* the drop log and its rotated files; 0: no cap */
	unsigned int drop_log_keep;   /* rotated files kept */
	unsigned int drop_log_min_free_mb; /* below: only summaries are written; 0: no floor */
};

#define DF_AGENT_CONF_MAX (1 << 20)

/* Parses FILE (every key optional, defaults as in docs/agent.md; NULL: no
 * file, every default); unknown keys and wrong types are errors with
 * file:line, all reported. The file is root's, read safely (safefile.h). */
int df_agent_conf_load(const char *file, struct df_agent_conf *c, struct df_diags *d);
void df_agent_conf_free(struct df_agent_conf *c);

#endif
