/* SPDX-License-Identifier: GPL-2.0-only */
/* Revocation through sock_diag (docs/datapath.md "Revocation"): the way of
 * the nftables backend, and of the BPF backend on a kernel without socket
 * iterators. In every network namespace, sock_diag lists the connected TCP
 * and UDP sockets with their cgroup, uid and mark; the reference evaluator
 * judges each one's flow under the policy in force; a refused one is
 * destroyed with SOCK_DESTROY (CONFIG_INET_DIAG_DESTROY) and reported. */
#ifndef DF_SOCKDIAG_H
#define DF_SOCKDIAG_H

#include <linux/types.h>

#include "datafence.h"

struct df_policy;

struct df_diag_revoke {
	const struct df_policy *p; /* the policy in force */
	const char *cgroot;        /* the cgroup2 mount: cgroup ids to policy paths */
	void (*on_event)(const struct df_event *e, void *ctx); /* one per revoked socket */
	void *ctx;
	/* out */
	unsigned int judged, revoked, failed;
};

/* One pass over every network namespace; the number of namespaces walked
 * or -errno. */
int df_diag_revoke_run(struct df_diag_revoke *r);

/* Can this kernel destroy sockets through sock_diag? 0, or -errno
 * (-EOPNOTSUPP: CONFIG_INET_DIAG_DESTROY is off). */
int df_diag_revoke_probe(void);

struct df_backend_conf;
struct df_loaded;
/* A backend's run (its events to c->on_event), logged with why. */
void df_diag_revoke_for(const struct df_backend_conf *c, const struct df_loaded *l,
			const char *why);

#endif
