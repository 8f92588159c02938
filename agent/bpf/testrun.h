/* SPDX-License-Identifier: GPL-2.0-only */
/* The kernel's verdict on a crafted packet (testrun.c): one frame through a
 * loaded program with BPF_PROG_TEST_RUN, the verdict it recorded read back.
 * `datafencectl test` and the datapath tests judge through here. */
#ifndef DF_TESTRUN_H
#define DF_TESTRUN_H

#include <stddef.h>
#include <stdint.h>

#include "loader.h"
#include "verdict.h"

/* What the test run's socket buffer carries besides the frame. The test
 * mode instance (df_loader_opts.test_mode) takes classes, uid and time from
 * it; an attached program reads only the mark. */
struct df_test_ctx {
	uint32_t mark;
	uint32_t ifindex; /* the device it leaves through (0: loopback) */
	uint64_t classes; /* test mode: the flow's classes (0: classify as usual) */
	uint32_t uid;     /* test mode: the socket owner */
	int64_t at;       /* test mode: judge at this unix time (0: now) */
};

/* Runs `frame` through program `prog` of l (an instance loaded with
 * record_last) `repeat` times; *res is the verdict it recorded last,
 * *retval the program's return. */
int df_test_run(struct df_loader *l, enum df_prog prog, const uint8_t *frame, size_t len,
		const struct df_test_ctx *c, int repeat, struct df_res *res, int *retval);

/* df_res (the kernel's record) as the evaluators' df_result. */
struct df_result df_result_of(const struct df_res *r);

/* The verdict of the policy pinned in pin_dir for pkt, by the kernel: a
 * private test-mode instance of the program (counts and reports nothing)
 * sharing the pinned maps, run from a child moved into pkt->cgroup so the
 * kernel classifies by it. classes != 0 gives the flow's classes instead;
 * at != 0 judges at that unix time. On error `why` says what failed. */
int df_bpf_judge(const char *pin_dir, const struct df_packet *pkt, uint64_t classes, int64_t at,
		 struct df_result *out, char *why, size_t whylen);

#endif
