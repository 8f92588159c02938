/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared by the benchmark's BPF programs and its driver: one destination of
 * the loop programs' stream, and the keys of the bare LPM tries the
 * datapath is measured against (the includer provides the __u* types). */
#ifndef DF_BENCH_H
#define DF_BENCH_H

struct bench_addr {
	__u8 family;
	__u8 addr[16];
	__u8 pad[3];
};

/* BPF_MAP_TYPE_LPM_TRIE keys, address in network order. */
struct bench_lpm4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct bench_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

_Static_assert(sizeof(struct bench_addr) == 20, "bench_addr ABI");
_Static_assert(sizeof(struct bench_lpm4_key) == 8, "bench_lpm4_key ABI");
_Static_assert(sizeof(struct bench_lpm6_key) == 20, "bench_lpm6_key ABI");

#endif
