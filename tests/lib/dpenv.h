/* SPDX-License-Identifier: GPL-2.0-only */
/* The datapath tests' environment (dpenv.c): a private bpffs with the
 * programs loaded (test records on), a cgroup subtree of the test's own
 * with the random policies' cgroup paths, the kernel clock under control,
 * and frames judged through df_test_run(). */
#ifndef DF_DPENV_H
#define DF_DPENV_H

#include <stdbool.h>
#include <stdint.h>

#include "loader.h"
#include "testrun.h"

struct dp_env {
	char dir[64];          /* /tmp/df-dp-XXXXXX, bpffs mounted at dir/bpf */
	char pin_dir[96];
	char cg_root[512];     /* cgroup2 mount point */
	char cg_rel[64];       /* our cgroup, relative to the root: /df-dp-PID */
	char cg_orig[600];     /* where this process was, to go back ("": the root) */
	bool have_orig;        /* cg_orig was found */
	struct df_loader *l;
	int other_ifindex;     /* dp_netns: a device that is not loopback */
};

/* This process into a network namespace of its own with lo up and a veth
 * pair (other_ifindex: one end) for packets that leave elsewhere; after
 * dp_setup. The namespace goes with the process. */
int dp_netns(struct dp_env *e);

/* Our own cgroup subtree (with the polgen pool of paths), bpffs and loader. */
int dp_setup(struct dp_env *e, bool record_last);
/* Removes all of it (also after a failed setup). */
void dp_teardown(struct dp_env *e);
/* Moves this process into cgroup `rel` (relative to the cgroup2 root). */
int dp_enter_cgroup(struct dp_env *e, const char *rel);
/* Makes the kernel's clock (boot time + offset) read `unix_s` + 0.5 s. */
int dp_set_time(struct dp_env *e, int64_t unix_s);
/* The same, with the agent's heartbeat fresh or stale (verdict step 3a). */
int dp_set_clock(struct dp_env *e, int64_t unix_s, bool stale);
/* One frame through one program, `repeat` times: the verdict it recorded. */
int dp_run_n(struct dp_env *e, enum df_prog prog, const uint8_t *frame, size_t len,
	     uint32_t mark, int repeat, struct df_res *res, int *retval);
int dp_run(struct dp_env *e, enum df_prog prog, const uint8_t *frame, size_t len, uint32_t mark,
	   struct df_res *res, int *retval);
/* The same, leaving through ifindex (0: loopback). */
int dp_run_on(struct dp_env *e, enum df_prog prog, const uint8_t *frame, size_t len,
	      uint32_t mark, int ifindex, struct df_res *res, int *retval);

#endif
