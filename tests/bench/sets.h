/* SPDX-License-Identifier: GPL-2.0-only */
/* Prefix sets for the benchmarks: random ones with a BGP-like length mix,
 * and the real sets in tests/bench/data. */
#ifndef DF_BENCH_SETS_H
#define DF_BENCH_SETS_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct set {
	char name[64];
	struct df_cidr *v;
	size_t n, cap;
};

void set_add(struct set *s, const struct df_cidr *c);
void random_set(struct set *s, int family, size_t n, uint64_t seed);
int file_set(struct set *s, const char *name, const char *path);

#endif
