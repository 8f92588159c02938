// SPDX-License-Identifier: GPL-2.0-only
/* The datapath tests' environment (dpenv.h). */
#include "dpenv.h"

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "cgpath.h"
#include "polgen.h"

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

int dp_enter_cgroup(struct dp_env *e, const char *rel)
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

int dp_setup(struct dp_env *e, bool record_last)
{
	struct df_loader_opts o = { .record_last = record_last };
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
	e->have_orig = !df_cgroup_self(e->cg_orig, sizeof(e->cg_orig));
	snprintf(e->cg_rel, sizeof(e->cg_rel), "/df-dp-%d", getpid());
	err = dp_mkcg(e, "");
	for (unsigned int i = 0; !err && i < df_polgen_n_cgroups; i++)
		err = dp_mkcg(e, df_polgen_cgroups[i]);
	if (err)
		return err;
	o.pin_dir = e->pin_dir;
	return df_loader_open(&o, &e->l);
}

void dp_teardown(struct dp_env *e)
{
	df_loader_close(e->l);
	e->l = NULL;
	if (e->have_orig)
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

int dp_set_time(struct dp_env *e, int64_t unix_s)
{
	return dp_set_clock(e, unix_s, false);
}

int dp_set_clock(struct dp_env *e, int64_t unix_s, bool stale)
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
	/* a heartbeat of now, or of the boot's first nanosecond (stale for
	 * any stale_after shorter than the uptime) */
	st.heartbeat_ns = stale ? 1 : (__u64)bt.tv_sec * 1000000000ULL + (__u64)bt.tv_nsec;
	return bpf_map_update_elem(fd, &zero, &st, BPF_ANY) ? -errno : 0;
}

int dp_run_n(struct dp_env *e, enum df_prog prog, const uint8_t *frame, size_t len,
	     uint32_t mark, int repeat, struct df_res *res, int *retval)
{
	struct df_test_ctx c = { .mark = mark };

	return df_test_run(e->l, prog, frame, len, &c, repeat, res, retval);
}

int dp_run_on(struct dp_env *e, enum df_prog prog, const uint8_t *frame, size_t len,
	      uint32_t mark, int ifindex, struct df_res *res, int *retval)
{
	struct df_test_ctx c = { .mark = mark, .ifindex = (uint32_t)ifindex };

	return df_test_run(e->l, prog, frame, len, &c, 1, res, retval);
}

int dp_netns(struct dp_env *e)
{
	if (unshare(CLONE_NEWNET))
		return -errno;
	if (system("ip link set lo up && ip link add dfdp0 type veth peer name dfdp1 && ip link set dfdp0 up && ip link set dfdp1 up"))
		return -EIO;
	e->other_ifindex = (int)if_nametoindex("dfdp0");
	return e->other_ifindex ? 0 : -ENODEV;
}

int dp_run(struct dp_env *e, enum df_prog prog, const uint8_t *frame, size_t len, uint32_t mark,
	   struct df_res *res, int *retval)
{
	return dp_run_n(e, prog, frame, len, mark, 1, res, retval);
}
