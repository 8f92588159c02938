// SPDX-License-Identifier: GPL-2.0-only
/* BPF_PROG_TEST_RUN of the datapath programs (testrun.h). */
#include "testrun.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "frame.h"

int df_test_run(struct df_loader *l, enum df_prog prog, const uint8_t *frame, size_t len,
		const struct df_test_ctx *c, int repeat, struct df_res *res, int *retval)
{
	struct __sk_buff ctx = {
		.mark = c->mark,
		.ifindex = c->ifindex,
		.cb = { (__u32)c->classes, (__u32)(c->classes >> 32), c->uid, (__u32)(uint64_t)c->at,
			(__u32)((uint64_t)c->at >> 32) },
	};
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = frame, .data_size_in = (__u32)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = repeat);
	int ncpu = libbpf_num_possible_cpus(), fd = df_loader_map_fd(l, DF_MAP_ID_LAST), err;
	struct df_res *all = calloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof(*all));
	__u32 zero = 0;

	if (!all)
		return -ENOMEM;
	/* A sentinel on every CPU: a program that records nothing is caught. */
	memset(all, 0xff, (size_t)ncpu * sizeof(*all));
	if (bpf_map_update_elem(fd, &zero, all, BPF_ANY)) {
		err = -errno;
		goto out;
	}
	err = bpf_prog_test_run_opts(df_loader_prog_fd(l, prog), &t);
	if (err)
		goto out;
	*retval = (int)t.retval;
	err = bpf_map_lookup_elem(fd, &zero, all) ? -errno : -ENODATA;
	for (int i = 0; err == -ENODATA && i < ncpu; i++)
		if (all[i].verdict != 0xff) {
			*res = all[i];
			err = 0;
		}
out:
	free(all);
	return err;
}

struct df_result df_result_of(const struct df_res *r)
{
	return (struct df_result){ .verdict = r->verdict, .reason = r->reason, .classes = r->classes,
				   .slot = r->slot, .rule = r->rule == DF_NO_RULE ? -1 : r->rule };
}

/* The child: into the flow's cgroup, one test run, the record to the pipe. */
static void judge_child(struct df_loader *l, const char *cgroot, const struct df_packet *pkt,
			uint64_t classes, int64_t at, int out)
{
	struct df_test_ctx c = { .mark = pkt->mark, .classes = classes, .uid = pkt->uid, .at = at };
	struct df_res res = { .verdict = 0xff };
	uint8_t frame[DF_FRAME_MAX];
	size_t len = df_frame_build(pkt, DF_SHAPE_PLAIN, frame);
	char path[1024], pid[32];
	FILE *f;
	int ret;

	snprintf(path, sizeof(path), "%s%s/cgroup.procs", cgroot,
		 pkt->cgroup && strcmp(pkt->cgroup, "/") ? pkt->cgroup : "");
	snprintf(pid, sizeof(pid), "%d\n", getpid());
	f = fopen(path, "w");
	if (!f || fputs(pid, f) < 0 || fclose(f))
		_exit(3);
	if (df_test_run(l, DF_PROG_CGROUP_SKB, frame, len, &c, 1, &res, &ret))
		_exit(4);
	if (write(out, &res, sizeof(res)) != sizeof(res))
		_exit(4);
	_exit(0);
}

int df_bpf_judge(const char *pin_dir, const struct df_packet *pkt, uint64_t classes, int64_t at,
		 struct df_result *out, char *why, size_t whylen)
{
	struct df_loader_opts o = { .pin_dir = pin_dir, .test_mode = true, .record_last = true };
	struct df_loader *l = NULL;
	struct df_res r = { .verdict = 0xff };
	char cgroot[512];
	int pfd[2], status = 0, err, fd;
	ssize_t n;
	pid_t child;

	fd = df_map_pinned_fd(pin_dir, DF_MAP_ID_STATE);
	if (fd < 0) {
		snprintf(why, whylen, "nothing is loaded (no %.200s/%s)", pin_dir, DF_MAP_STATE);
		return -ENOENT;
	}
	close(fd);
	if (df_cgroup2_root(cgroot, sizeof(cgroot))) {
		snprintf(why, whylen, "no cgroup2 mount");
		return -ENOENT;
	}
	err = df_loader_open(&o, &l);
	if (err) {
		snprintf(why, whylen, "cannot load the BPF program (root needed): %s", strerror(-err));
		return err;
	}
	if (pipe(pfd)) {
		err = -errno;
		df_loader_close(l);
		return err;
	}
	child = fork();
	if (child == 0)
		judge_child(l, cgroot, pkt, classes, at, pfd[1]);
	close(pfd[1]);
	n = child < 0 ? -1 : read(pfd[0], &r, sizeof(r));
	close(pfd[0]);
	if (child > 0)
		waitpid(child, &status, 0);
	df_loader_close(l);
	if (n != sizeof(r) || r.verdict == 0xff) {
		snprintf(why, whylen, WIFEXITED(status) && WEXITSTATUS(status) == 3 ?
				      "cannot enter cgroup %s" : "the test run failed",
			 pkt->cgroup ? pkt->cgroup : "/");
		return -EIO;
	}
	*out = df_result_of(&r);
	return 0;
}
