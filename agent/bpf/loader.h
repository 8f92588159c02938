/* SPDX-License-Identifier: GPL-2.0-only */
/* The loader: open/load the BPF skeleton with its maps pinned under a bpffs
 * directory, attach (or adopt) the hooks, swap compiled policies in
 * atomically, unload on request. Leaving the process leaves enforcement. */
#ifndef DF_LOADER_H
#define DF_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compile.h"
#include "diag.h"

#define DF_DEFAULT_PIN_DIR "/sys/fs/bpf/datafence"

struct df_loader;

struct df_loader_opts {
	const char *pin_dir;     /* bpffs directory; created (and bpffs mounted at
				  * /sys/fs/bpf) if needed */
	const char *cgroup_path; /* where cgroup programs attach; NULL: the cgroup2 root */
	bool cgroup_skb;         /* attach cgroup_skb/egress */
	bool sock_addr;          /* attach connect4/6 and sendmsg4/6 */
	uint32_t ringbuf_bytes;  /* 0: default (1 MiB) */
	bool record_last;        /* tests: record each verdict in df_last */
};

enum df_prog {
	DF_PROG_CGROUP_SKB,
	DF_PROG_TC,
	DF_PROG_CONNECT4,
	DF_PROG_CONNECT6,
	DF_PROG_SENDMSG4,
	DF_PROG_SENDMSG6,
	DF_PROG__MAX,
};

/* Opens and loads the programs, reusing maps pinned in pin_dir (adoption)
 * or pinning new ones. Returns 0 or -errno (what failed is on stderr). */
int df_loader_open(const struct df_loader_opts *o, struct df_loader **out);
/* Attaches the cgroup hooks, or adopts pinned links by swapping the newly
 * loaded programs into them (no moment without enforcement). */
int df_loader_attach(struct df_loader *l);
/* tc egress on one interface (clsact, our own filter; replaced atomically). */
int df_loader_attach_tc(struct df_loader *l, int ifindex);
int df_loader_detach_tc(struct df_loader *l, int ifindex);
/* Loads a compiled policy into the inactive generation, then flips to it. */
int df_loader_swap(struct df_loader *l, const struct df_image *img, struct df_diags *d);
/* Refreshes the wall-clock offset the kernel uses for exception windows. */
int df_loader_set_clock(struct df_loader *l);
/* Serial of the active policy; -ENOENT when none was ever loaded. */
int df_loader_active_serial(struct df_loader *l, uint64_t *serial);
int df_loader_prog_fd(struct df_loader *l, enum df_prog p);
int df_loader_map_fd(struct df_loader *l, const char *name);
/* Closes the process's handles; pinned programs keep enforcing. */
void df_loader_close(struct df_loader *l);
/* Removes enforcement: detaches pinned links and tc filters on every
 * interface, unpins everything under pin_dir. */
int df_loader_unload(const char *pin_dir);

/* The cgroup2 mount point (from /proc/self/mountinfo). */
int df_cgroup2_root(char *buf, size_t len);

#endif
