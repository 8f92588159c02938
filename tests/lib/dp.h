/* SPDX-License-Identifier: GPL-2.0-only */
/* Datapath test helpers: a private bpffs and cgroup per test run, packet
 * frames built from packet facts, BPF_PROG_TEST_RUN, the kernel clock. */
#ifndef DF_DP_H
#define DF_DP_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "compile.h"
#include "frame.h"
#include "loader.h"
#include "polgen.h"
#include "verdict.h"

struct dp_env {
	char dir[64];          /* /tmp/df-dp-XXXXXX, bpffs mounted at dir/bpf */
	char pin_dir[96];
	char cg_root[512];     /* cgroup2 mount point */
	char cg_rel[64];       /* our cgroup, relative to the root: /df-dp-PID */
	char cg_orig[600];     /* where this process was, to go back */
	struct df_loader *l;
};

static int dp_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -errno;
}

/* Moves this process into cgroup `rel` (relative to the cgroup2 root). */
static int dp_enter_cgroup(struct dp_env *e, const char *rel)
{
	char path[1024], pid[32];

	snprintf(path, sizeof(path), "%s%s/cgroup.procs", e->cg_root, rel);
	snprintf(pid, sizeof(pid), "%d", getpid());
	return dp_write_file(path, pid);
}

static int dp_mkcg(struct dp_env *e, const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s%s%s", e->cg_root, e->cg_rel, rel);
	return mkdir(path, 0755) && errno != EEXIST ? -errno : 0;
}

static void dp_rmcg(struct dp_env *e, const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s%s%s", e->cg_root, e->cg_rel, rel);
	rmdir(path);
}

/* Our own cgroup subtree (with the polgen pool of paths), bpffs and loader. */
static int dp_setup(struct dp_env *e, bool record_last)
{
	struct df_loader_opts o = { .record_last = record_last };
	FILE *f;
	char line[600];
	int err;

	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/df-dp-XXXXXX");
	if (!mkdtemp(e->dir))
		return -errno;
	snprintf(e->pin_dir, sizeof(e->pin_dir), "%s/bpf", e->dir);
	if (mkdir(e->pin_dir, 0700) || mount("bpf", e->pin_dir, "bpf", 0, "mode=0700"))
		return -errno;
	err = df_cgroup2_root(e->cg_root, sizeof(e->cg_root));
	if (err)
		return err;
	f = fopen("/proc/self/cgroup", "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(e->cg_orig, sizeof(e->cg_orig), "%s", line + 3);
		}
	if (f)
		fclose(f);
	snprintf(e->cg_rel, sizeof(e->cg_rel), "/df-dp-%d", getpid());
	err = dp_mkcg(e, "");
	for (unsigned int i = 0; !err && i < df_polgen_n_cgroups; i++)
		err = dp_mkcg(e, df_polgen_cgroups[i]);
	if (err)
		return err;
	o.pin_dir = e->pin_dir;
	return df_loader_open(&o, &e->l);
}

static void dp_teardown(struct dp_env *e)
{
	df_loader_close(e->l);
	e->l = NULL;
	if (e->cg_orig[0])
		dp_enter_cgroup(e, e->cg_orig);
	for (int i = (int)df_polgen_n_cgroups - 1; i >= 0; i--)
		dp_rmcg(e, df_polgen_cgroups[i]);
	dp_rmcg(e, "");
	if (e->pin_dir[0]) {
		df_loader_unload(e->pin_dir);
		umount2(e->pin_dir, MNT_DETACH);
		rmdir(e->pin_dir);
	}
	if (e->dir[0])
		rmdir(e->dir);
}

/* Makes the kernel's clock (boot time + offset) read `unix_s` + 0.5 s. */
static int dp_set_time(struct dp_env *e, int64_t unix_s)
{
	int fd = df_loader_map_fd(e->l, DF_MAP_ID_STATE);
	struct df_state st;
	struct timespec bt;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &st))
		return -errno;
	clock_gettime(CLOCK_BOOTTIME, &bt);
	st.clock_offset_ns = unix_s * 1000000000LL + 500000000LL -
			     ((int64_t)bt.tv_sec * 1000000000LL + bt.tv_nsec);
	return bpf_map_update_elem(fd, &zero, &st, BPF_ANY) ? -errno : 0;
}

/* Runs one program on a frame; the verdict it recorded in df_last. */
static int dp_run_n(struct dp_env *e, enum df_prog prog, const uint8_t *frame, size_t len,
		    uint32_t mark, int repeat, struct df_res *res, int *retval)
{
	struct __sk_buff ctx = { .mark = mark };
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = frame, .data_size_in = (__u32)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = repeat);
	int ncpu = libbpf_num_possible_cpus();
	struct df_res *all = calloc((size_t)ncpu, sizeof(*all));
	__u32 zero = 0;
	int fd = df_loader_map_fd(e->l, DF_MAP_ID_LAST), err;

	if (!all)
		return -ENOMEM;
	memset(all, 0xff, (size_t)ncpu * sizeof(*all));
	/* clear the record so a program that records nothing is caught */
	if (bpf_map_update_elem(fd, &zero, all, BPF_ANY)) {
		free(all);
		return -errno;
	}
	err = bpf_prog_test_run_opts(df_loader_prog_fd(e->l, prog), &t);
	if (err) {
		free(all);
		return err;
	}
	*retval = (int)t.retval;
	err = bpf_map_lookup_elem(fd, &zero, all) ? -errno : 0;
	for (int i = 0; !err && i < ncpu; i++)
		if (all[i].verdict != 0xff) {
			*res = all[i];
			break;
		}
	free(all);
	return err;
}

static int dp_run(struct dp_env *e, enum df_prog prog, const uint8_t *frame, size_t len,
		  uint32_t mark, struct df_res *res, int *retval)
{
	return dp_run_n(e, prog, frame, len, mark, 1, res, retval);
}

#endif
