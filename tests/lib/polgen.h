/* SPDX-License-Identifier: GPL-2.0-only */
/* Random policies and packets for differential tests and benchmarks: small
 * address pools make CIDRs of every length overlap, nest and carve holes. */
#ifndef DF_POLGEN_H
#define DF_POLGEN_H

#include <stdint.h>

#include "policy.h"
#include "verdict.h"

struct df_rng {
	uint64_t s;
};

uint64_t df_rng_next(struct df_rng *r);
uint32_t df_rng_below(struct df_rng *r, uint32_t n); /* [0, n) */

#define DF_POLGEN_NOW 1798761600 /* 2027-01-01T00:00:00Z: exception windows around it */

/* A random policy as libconfig text (malloc'd). */
char *df_polgen_policy(uint64_t seed);
/* The same, with cgroup selector paths under `cgroup_prefix` (e.g. a test's
 * own cgroup); the pool of paths is df_polgen_cgroups[]. */
char *df_polgen_policy_in(uint64_t seed, const char *cgroup_prefix);
extern const char *const df_polgen_cgroups[];
extern const unsigned int df_polgen_n_cgroups;

/* Packet facts that exercise `p`: destinations inside, at the edge of and
 * outside its CIDRs, v4-mapped, loopback, every protocol, selector values.
 * *now is set around the exceptions' windows. cgroup points to static text. */
void df_polgen_packet(struct df_rng *r, const struct df_policy *p, struct df_packet *pkt,
		      int64_t *now);

#endif
