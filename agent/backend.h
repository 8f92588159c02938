/* SPDX-License-Identifier: GPL-2.0-only */
/* One interface per kind of backend (backend.c): what the daemon and the
 * CLI ask of whatever enforces a policy (the BPF programs, the nftables
 * table). Callers never ask which kind it is; `backend = "both"` is a list
 * of two. The BPF backend is agent/bpf/bpfbackend.c, the nftables backend
 * agent/nft/nftbackend.c. */
#ifndef DF_BACKEND_H
#define DF_BACKEND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile.h"
#include "datafence.h"
#include "diag.h"
#include "policy.h"
#include "report.h"
#include "verdict.h"

/* A policy as every backend receives it. */
struct df_loaded {
	const struct df_policy *p;
	const struct df_image *img;
	const char *sha256; /* hex of the policy file's bytes */
};

/* What the backends are set up with: agent.conf, or the CLI's options. */
struct df_backend_conf {
	const char *pin_dir;
	bool hook_cgroup_skb, hook_tc, hook_sock_addr;
	bool tc_clsact;          /* tc through clsact even where the kernel has tcx */
	char *const *interfaces; /* tc egress on these; none: every non-loopback one */
	size_t n_interfaces;
	const char *nft_table;
	uint16_t nft_log_group;
	uint32_t nft_log_rate;
	const char *cgroot; /* the cgroup2 mount point */
	/* The daemon's: every drop event of every backend goes here. */
	void (*on_event)(const struct df_event *e, void *ctx);
	void *ctx;
	bool revoke_sock_diag;  /* revocation through sock_diag even with BPF iterators */
	unsigned int event_rate; /* the kernel's drop events a second at most (0: no budget) */
};

/* One flow, as `datafencectl test` asks about it. */
struct df_flow_query {
	const struct df_packet *pkt;
	uint64_t classes;     /* given (--class); 0: the backend classifies the socket facts */
	uint64_t ref_classes; /* the reference evaluator's classes (or the given ones) */
	int64_t now;          /* the time to judge at */
	bool now_given;       /* --at; otherwise the kernel may use its own clock */
};

struct df_backend;
struct df_storm;

struct df_backend_ops {
	const char *name;       /* "bpf", "nftables": also its status section */
	const char *judge_key;  /* `test --json`'s key for its answer */
	const char *judge_what; /* `test`'s words for it */
	/* The daemon's instance: loads and attaches (BPF), opens the drop
	 * reports (nftables). */
	int (*start)(const struct df_backend_conf *c, struct df_backend **out);
	/* A reader of what this host holds (the CLI with the agent down);
	 * -ENOENT: nothing of this kind here. */
	int (*probe)(const struct df_backend_conf *c, struct df_backend **out);
	/* Drains what is pending, closes; enforcement stays. */
	void (*close)(struct df_backend *b);
	/* Enforces l atomically; on error the policy in force stays and d says why. */
	int (*apply)(struct df_backend *b, const struct df_loaded *l, struct df_diags *d);
	/* The serial it enforces, read from the kernel; -ENOENT: none. */
	int (*active)(struct df_backend *b, uint64_t *serial);
	/* Fills its status section (and its part of `attachments`); appends
	 * to health what protects less than it should. l: the policy in force
	 * (NULL when unknown). */
	void (*status)(struct df_backend *b, const struct df_loaded *l, json_t *st, json_t *health);
	/* Appends its counter rows (report.h) and adds to the totals. */
	void (*counters)(struct df_backend *b, const struct df_policy *p, struct df_counts *c);
	/* Packets counted in one class slot (every hook, verdict and reason):
	 * the canary's. NULL: this backend counts none for it. */
	uint64_t (*slot_packets)(struct df_backend *b, int slot);
	/* Every 10 s in the daemon: clocks, its own checks, lost reports. */
	void (*tick)(struct df_backend *b, const struct df_loaded *l);
	/* File descriptors the daemon waits on for it (at most max), and what
	 * to do when one is readable. */
	int (*fds)(struct df_backend *b, int *fds, int max);
	void (*ready)(struct df_backend *b, int fd, const struct df_loaded *l);
	/* The verdict it gives the flow under l, as loaded on this host (no
	 * instance needed). On error `why` says what failed. */
	int (*judge)(const struct df_backend_conf *c, const struct df_loaded *l,
		     const struct df_flow_query *q, struct df_result *res, char *why, size_t len);
	/* Removes its enforcement from this host: 0 (msg says what went),
	 * -ENOENT (nothing was there) or -errno. No instance needed. */
	int (*unload)(const struct df_backend_conf *c, char *msg, size_t len);
	/* After a change that may narrow (a push, an exception's end): ends
	 * the live connected sockets the policy in force now refuses; 0, or
	 * -EOPNOTSUPP when it cannot here. NULL: this backend never can. */
	int (*revoke)(struct df_backend *b, const struct df_loaded *l, const char *why);
	/* Every few seconds in the daemon: proves its enforcement from what
	 * the kernel says, repairs what it can (each repair logged); status
	 * shows the causes found until the next check. Returns true when
	 * enforcement is proven. NULL: nothing to prove. */
	bool (*check)(struct df_backend *b, const struct df_loaded *l);
	/* The agent is alive and enforcement proven: the kernel's heartbeat
	 * (verdict step 3a). NULL: no heartbeat in this backend. */
	void (*heartbeat)(struct df_backend *b);
	/* Every second in the daemon: adds to s (storm.h) the drops it did
	 * not report one by one since the last call (over its event budget
	 * or report rate), with what it knows of their senders and
	 * destinations. p: the policy in force (its canary is left out). */
	void (*storm)(struct df_backend *b, const struct df_policy *p, struct df_storm *s);
};

/* Every backend instance begins with this. */
struct df_backend {
	const struct df_backend_ops *ops;
};

extern const struct df_backend_ops df_bpf_backend, df_nft_backend;

/* The backends, in the order a policy goes in: nftables first, then BPF. */
#define DF_MAX_BACKENDS 2
struct df_backends {
	struct df_backend *v[DF_MAX_BACKENDS];
	size_t n;
};

/* "bpf", "nftables", "both" (or NULL: every kind) -> the kinds, apply order. */
int df_backend_kinds(const char *name, const struct df_backend_ops **kinds, size_t *n);
/* The list's name: "bpf", "nftables", "both", or NULL when empty. */
const char *df_backends_name(const struct df_backends *bs);

/* The daemon's: starts each kind (stops what started on an error). */
int df_backends_start(const struct df_backend_ops *const *kinds, size_t n,
		      const struct df_backend_conf *c, struct df_backends *bs);
/* What this host holds, of the given kinds (NULL: every kind). */
int df_backends_probe(const struct df_backend_ops *const *kinds, size_t n,
		      const struct df_backend_conf *c, struct df_backends *bs);
void df_backends_close(struct df_backends *bs);

/* The policy into every backend, in order; if one refuses it, those before
 * it get `old` back (when there is one): all of them keep holding the same
 * policy. On error d says why. */
int df_backends_apply(struct df_backends *bs, const struct df_loaded *new_pol,
		      const struct df_loaded *old, struct df_diags *d);
/* The highest serial any backend enforces; -ENOENT: none does. */
int df_backends_active(struct df_backends *bs, uint64_t *serial);
/* Every backend's counters in one list, sorted (report.h). */
void df_backends_counters(struct df_backends *bs, const struct df_policy *p, struct df_counts *c);
/* Packets of one class slot, summed over the backends. */
uint64_t df_backends_slot_packets(struct df_backends *bs, int slot);
void df_backends_storm(struct df_backends *bs, const struct df_policy *p, struct df_storm *s);
/* Every backend's check (all run); true when each proved its enforcement. */
bool df_backends_check(struct df_backends *bs, const struct df_loaded *l);
void df_backends_heartbeat(struct df_backends *bs);
/* Revocation by one backend: the last one (BPF before nftables) that can. */
void df_backends_revoke(struct df_backends *bs, const struct df_loaded *l, const char *why);

/* Removes every given kind's enforcement (the one unload of datafenced
 * --unload and datafencectl unload). res[i] says what happened to kind i. */
struct df_unload_result {
	const char *backend;
	int err; /* 0 removed, -ENOENT nothing there, else failed */
	char msg[256];
};
int df_backends_unload(const struct df_backend_ops *const *kinds, size_t n,
		       const struct df_backend_conf *c, struct df_unload_result *res);
/* What happened, in words: "enforcement removed", "nothing to remove", "unload failed". */
const char *df_unload_outcome(const struct df_unload_result *r);

#endif
