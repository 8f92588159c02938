/* SPDX-License-Identifier: GPL-2.0-only */
/* The differential harness (diff.c), one for every differential test:
 * random policies (polgen) and packets, each packet judged by every
 * subject (the emulator, the nftables plan, the BPF programs, the real
 * nftables table) and compared with the expected verdict: the reference
 * evaluator's, or for facts only the datapath knows (fragments, malformed
 * headers) the emulator's, itself held equal to the reference wherever the
 * reference applies. A mismatch prints the seed (DF_SEED replays), the
 * policy and packet numbers, the packet, both verdicts and the policy. */
#ifndef DF_DIFF_H
#define DF_DIFF_H

#include <stdbool.h>
#include <stdint.h>

#include "compile.h"
#include "emulate.h"
#include "polgen.h"
#include "policy.h"
#include "verdict.h"

/* Fields of a verdict a subject is compared on. */
#define DF_DIFF_VERDICT 0x1 /* verdict and reason */
#define DF_DIFF_RULE 0x2
#define DF_DIFF_SLOT 0x4
#define DF_DIFF_CLASSES 0x8
#define DF_DIFF_ALL 0xf

/* One packet of one policy. */
struct df_diff_case {
	uint64_t seed;               /* the run's */
	unsigned long policy, packet; /* numbers within the run */
	const char *text;            /* the policy's text */
	struct df_policy *p;
	struct df_image *img;
	const struct df_emu *emu;    /* the image's emulator */
	struct df_rng *rng;          /* the policy's packet stream */
	struct df_rng *posture_rng;  /* its posture draws (df_diff_opts.posture) */
	struct df_packet pkt;
	int64_t now;
	uint64_t classes;            /* the reference evaluator's classification */
	int shape;                   /* the test's own (a frame shape) */
	char note[256];              /* what a subject adds to a mismatch report */
};

/* A subject's answer. */
enum { DF_DIFF_OK = 0, DF_DIFF_SKIP = 1, DF_DIFF_MISMATCH = -1 };

struct df_diff_subject {
	const char *name;
	unsigned int compare;        /* DF_DIFF_* fields compared */
	/* Before a policy's packets (load it...); after them (free). Either may
	 * be NULL; policy returns 0 or -errno (the run stops). */
	int (*policy)(void *ctx, struct df_diff_case *c);
	void (*policy_done)(void *ctx, struct df_diff_case *c);
	/* Judges the case into *got. *want is the expected verdict; a subject
	 * that judges other facts (an owner its test run cannot have, another
	 * time) recomputes it with df_diff_expect(). Returns DF_DIFF_OK,
	 * DF_DIFF_SKIP (not judged: unsendable...) or DF_DIFF_MISMATCH when it
	 * checked the verdict itself (c->note says how). */
	int (*judge)(void *ctx, struct df_diff_case *c, struct df_result *want,
		     struct df_result *got);
};

struct df_diff_opts {
	const char *name;            /* in messages */
	const char *env_policies, *env_packets; /* environment variables sizing the run */
	unsigned long policies, packets;        /* their defaults */
	uint64_t salt;               /* each policy's packet stream: seed ^ salt */
	const char *cgroup_prefix;   /* cgroup selector paths under it (NULL: none) */
	/* After parsing, before compiling (move exception windows...). */
	void (*adjust)(void *ctx, struct df_policy *p);
	/* Makes the drawn packet one the test can send (frame shape, family,
	 * the socket's owner and cgroup); false skips it. */
	bool (*packet)(void *ctx, struct df_diff_case *c);
	/* Every reason but `malformed` must occur once the run has at least
	 * this many judged packets (0: never required). */
	unsigned long every_reason_from;
	/* Draws the dead-man posture (verdict step 3a): half the policies
	 * drop-protected with stale_after 3 s, some past their `expires`, an
	 * eighth of their packets judged while the heartbeat is stale
	 * (DF_PKT_STALE: the subject makes it so). Only backends with step 3a. */
	bool posture;
};

struct df_diff_stats {
	uint64_t seed;
	unsigned long judged, skipped;
	unsigned long reasons[DF_REASON__MAX], verdicts[DF_VERDICT__MAX];
};

/* The expected verdict for pkt at `now` (see the header comment). */
void df_diff_expect(const struct df_diff_case *c, const struct df_packet *pkt, int64_t now,
		    struct df_result *want);
/* Runs the subjects; 0 when every verdict agreed and the run covered what
 * it must, else -1 (and what went wrong is on stderr). */
int df_diff_run(const struct df_diff_opts *o, const struct df_diff_subject *subjects, int n,
		void *ctx, struct df_diff_stats *st);
/* A verdict on stderr: "  who: drop port-not-allowed classes 0x1 rule 2 slot 0". */
void df_diff_print_result(const char *who, const struct df_result *r);
/* An environment variable as a number, or def. */
unsigned long df_diff_env(const char *name, unsigned long def);

#endif
