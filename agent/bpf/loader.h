/* SPDX-License-Identifier: GPL-2.0-only */
/* The loader: open/load the BPF skeleton with its maps pinned under a bpffs
 * directory, attach (or adopt) the hooks, the maps by type, the clock,
 * unload on request (the policy swap is swap.h). Leaving the process
 * leaves enforcement. */
#ifndef DF_LOADER_H
#define DF_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/types.h>

#include "datafence.h"
#include "diag.h"
#include "proto.h"

struct df_loader;

struct df_loader_opts {
	const char *pin_dir;     /* bpffs directory; created (and bpffs mounted at
				  * /sys/fs/bpf) if needed */
	const char *cgroup_path; /* where cgroup programs attach; NULL: the cgroup2 root */
	bool cgroup_skb;         /* attach cgroup_skb/egress */
	bool tc_clsact;          /* tc egress through a clsact qdisc even where the kernel has
				  * tcx (6.6+: a link, first in the device's chain, pinned) */
	bool sock_addr;          /* attach connect4/6, sendmsg4/6 (and sock_create,
				  * setsockopt: the call hooks) */
	uint32_t ringbuf_bytes;  /* 0: default (1 MiB) */
	bool record_last;        /* tests: record each verdict in df_last */
	bool test_mode;          /* `datafencectl test`: a private instance over the pins
				  * that counts and reports nothing, takes classes, uid
				  * and time from the test run (testrun.h); never attached */
};

/* Every map of the program (bpf/maps.h), by type rather than by name. */
enum df_map {
	DF_MAP_ID_STATE,    /* df_state */
	DF_MAP_ID_CFG,      /* df_cfg_o: outer maps of the two generations... */
	DF_MAP_ID_STR4,     /* df_str4_o */
	DF_MAP_ID_LV,       /* df_lv_o */
	DF_MAP_ID_RNG6,     /* df_rng6_o */
	DF_MAP_ID_DIR6,     /* df_dir6_o */
	DF_MAP_ID_SRC,      /* df_src_o */
	DF_MAP_ID_ENT,      /* df_ent_o */
	DF_MAP_ID_SEL,      /* df_sel_o: ...the last of them */
	DF_MAP_ID_COUNTERS, /* df_counters */
	DF_MAP_ID_RULE_CNT, /* df_rule_cnt */
	DF_MAP_ID_MISC,     /* df_misc */
	DF_MAP_ID_EVENTS,   /* df_events */
	DF_MAP_ID_FLOWS,    /* df_flows */
	DF_MAP_ID_SKCACHE,  /* df_sk_cache */
	DF_MAP_ID_IFACES,   /* df_ifaces */
	DF_MAP_ID_SUPP,     /* df_supp */
	DF_MAP_ID_STORM_SRC, /* df_storm_src */
	DF_MAP_ID_STORM_DST, /* df_storm_dst */
	DF_MAP_ID_STORM_HLL, /* df_storm_hll */
	DF_MAP_ID_LAST,     /* df_last (not pinned) */
	DF_MAP_ID_CLOCK,    /* df_clk (not pinned) */
	DF_MAP_ID__MAX,
};
/* The first and last per-generation outer map. */
#define DF_MAP_ID_GEN_FIRST DF_MAP_ID_CFG
#define DF_MAP_ID_GEN_LAST DF_MAP_ID_SEL

enum df_prog {
	DF_PROG_CGROUP_SKB,
	DF_PROG_TC,
	DF_PROG_CONNECT4,
	DF_PROG_CONNECT6,
	DF_PROG_SENDMSG4,
	DF_PROG_SENDMSG6,
	DF_PROG_SOCK_CREATE, /* records a socket's maker, for the call hooks */
	DF_PROG_SETSOCKOPT,  /* refuses options that would send below tc */
	DF_PROG__MAX,
};

/* Opens and loads the programs, reusing maps pinned in pin_dir (adoption)
 * or pinning new ones. Returns 0 or -errno (what failed is on stderr). */
int df_loader_open(const struct df_loader_opts *o, struct df_loader **out);
/* Attaches the cgroup hooks, or adopts pinned links by swapping the newly
 * loaded programs into them (no moment without enforcement). */
int df_loader_attach(struct df_loader *l);
/* tc egress on one interface: a tcx link first in the device's chain,
 * pinned in pin_dir as link_tcx_<ifindex> (updated to the new program on
 * adoption); where the kernel has no tcx (or tc_clsact), our own filter on
 * a clsact qdisc. Either replaced atomically. */
int df_loader_attach_tc(struct df_loader *l, int ifindex);
/* Our tc program taken off ifindex and what tc knew of the device
 * (df_ifaces) forgotten. -ENOENT: none of ours was there. */
int df_loader_detach_tc(struct df_loader *l, int ifindex);
/* A device that left the namespace (deleted or moved): its tcx link's pin
 * and its df_ifaces entry gone (the kernel took a deleted device's
 * programs off with it). */
void df_loader_forget_tc(struct df_loader *l, int ifindex);
/* enum bpf_attach_type's tcx egress (kernel 6.6+; Debian 12's headers lack it). */
#define DF_BPF_TCX_EGRESS 47
/* Where our tc program is on ifindex's egress; *ahead: the first tcx
 * program that runs before it (0: none). */
enum df_tc_place {
	DF_TC_NONE,   /* not there */
	DF_TC_FIRST,  /* first in the device's tcx chain */
	DF_TC_BEHIND, /* in the tcx chain behind others */
	DF_TC_CLSACT, /* our clsact filter (after every tcx program) */
};
enum df_tc_place df_tc_where(int ifindex, __u32 *ahead);
/* The next-hop check's lookup device (nexthop.h; 0: none). */
int df_loader_set_nh_helper(struct df_loader *l, int ifindex);
/* The event budget: at most per_second drop events a second from every
 * hook together, a second's worth in a burst; 0: no budget. */
int df_loader_set_event_rate(struct df_loader *l, unsigned int per_second);
/* Refreshes the wall-clock offset the kernel uses for exception windows. */
int df_loader_set_clock(struct df_loader *l);
/* Serial of the active policy; -ENOENT when none was ever loaded. */
int df_loader_active_serial(struct df_loader *l, uint64_t *serial);
/* The same from df_state and df_cfg_o (pinned ones, without an instance). */
int df_active_serial(int state_fd, int cfg_fd, uint64_t *serial);
/* Is our tc filter (handle/prio 0xdf, program df_tc) on ifindex's egress? */
bool df_tc_is_ours(int ifindex);
int df_loader_prog_fd(struct df_loader *l, enum df_prog p);
int df_loader_map_fd(struct df_loader *l, enum df_map m);
/* The map's pinned name (DF_MAP_* of datafence.h). */
const char *df_map_name(enum df_map m);
/* A pinned map of pin_dir opened without loading anything (the CLI with the
 * agent down); -errno if it is not there. */
int df_map_pinned_fd(const char *pin_dir, enum df_map m);
/* df_state of this instance. */
int df_loader_read_state(struct df_loader *l, struct df_state *st);
int df_loader_write_state(struct df_loader *l, const struct df_state *st);
/* CLOCK_REALTIME - CLOCK_BOOTTIME, what df_state.clock_offset_ns holds. */
int64_t df_clock_offset_ns(void);
/* Closes the process's handles; pinned programs keep enforcing. */
void df_loader_close(struct df_loader *l);
/* Removes enforcement: detaches pinned links and tc filters on every
 * interface, unpins everything under pin_dir. */
int df_loader_unload(const char *pin_dir);

/* For the health check (health.h). */
const char *df_prog_name(enum df_prog p);
/* Does this instance attach hook p (agent.conf hooks)? */
bool df_loader_hook_on(struct df_loader *l, enum df_prog p);
/* Our link of hook p (-ENOENT: none). */
int df_loader_link_fd(struct df_loader *l, enum df_prog p);
/* The cgroup our cgroup programs attach to. */
const char *df_loader_cgroup(struct df_loader *l);
/* A detached link of ours replaced by a new one, pinned in its place. */
int df_loader_reattach(struct df_loader *l, enum df_prog p);
/* Our pins (maps, links) missing from pin_dir; with repair, pinned again
 * from the descriptors we hold (the directory made again first). */
struct df_pin_report {
	char missing[1024];  /* names still missing, ", "-separated */
	char repaired[1024]; /* names pinned again */
	int n_missing;
};
void df_loader_pins(struct df_loader *l, bool repair, struct df_pin_report *r);
/* df_state and the active generation's policy header (-ENOENT: none). */
int df_active_hdr(int state_fd, int cfg_fd, struct df_state *st, struct df_policy_hdr *hdr);

/* The cgroup2 mount point (from /proc/self/mountinfo). */
int df_cgroup2_root(char *buf, size_t len);

#endif
