/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared by the benchmark's BPF programs and its driver: one destination of
 * the loop programs' stream (the includer provides __u8). */
#ifndef DF_BENCH_H
#define DF_BENCH_H

struct bench_addr {
	__u8 family;
	__u8 addr[16];
	__u8 pad[3];
};

_Static_assert(sizeof(struct bench_addr) == 20, "bench_addr ABI");

#endif
