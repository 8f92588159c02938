// SPDX-License-Identifier: GPL-2.0-only
/* Benchmark baselines, measured next to the datapath in the same run:
 * an empty cgroup_skb program (the floor) and a bare LPM trie lookup of the
 * destination (what one kernel LPM lookup costs with the same prefixes). */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "datafence.h"

#define AF_INET 2
#define AF_INET6 10
/* The datapath's own maps (pinned by name: the loaded policy) and pipeline. */
#include "maps.h"
#include "pipeline.h"
#include "bench.h"

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bench_lpm4_key);
	__type(value, __u32);
} bench_lpm4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bench_lpm6_key);
	__type(value, __u32);
} bench_lpm6 SEC(".maps");

__u64 hits;

SEC("cgroup_skb/egress")
int bench_empty(struct __sk_buff *skb)
{
	return 1;
}

SEC("cgroup_skb/egress")
int bench_lpm(struct __sk_buff *skb)
{
	__u32 *v = NULL;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct bench_lpm4_key k = { .prefixlen = 32 };

		if (bpf_skb_load_bytes_relative(skb, offsetof(struct iphdr, daddr), k.addr, 4,
						BPF_HDR_START_NET))
			return 1;
		v = bpf_map_lookup_elem(&bench_lpm4, &k);
	} else {
		struct bench_lpm6_key k = { .prefixlen = 128 };

		if (bpf_skb_load_bytes_relative(skb, offsetof(struct ipv6hdr, daddr), k.addr, 16,
						BPF_HDR_START_NET))
			return 1;
		v = bpf_map_lookup_elem(&bench_lpm6, &k);
	}
	if (v)
		hits++;
	return 1;
}

/* Cache-cold streams as a loop inside one program run: many different
 * destinations, so the trie walk and the entries come from memory, without
 * the per-run socket set-up of BPF_PROG_TEST_RUN. */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << 17);
	__type(key, __u32);
	__type(value, struct bench_addr);
} bench_addrs SEC(".maps");

const volatile __u32 bench_n = 1;
__u64 sink;

static long loop_empty_cb(__u32 i, void *ctx)
{
	struct bench_addr *a = bpf_map_lookup_elem(&bench_addrs, &i);

	if (a)
		sink += a->addr[0];
	return 0;
}

static long loop_lpm_cb(__u32 i, void *ctx)
{
	struct bench_addr *a = bpf_map_lookup_elem(&bench_addrs, &i);
	__u32 *v;

	if (!a)
		return 1;
	if (a->family == 4) {
		struct bench_lpm4_key k = { .prefixlen = 32 };

		__builtin_memcpy(k.addr, a->addr, 4);
		v = bpf_map_lookup_elem(&bench_lpm4, &k);
	} else {
		struct bench_lpm6_key k = { .prefixlen = 128 };

		__builtin_memcpy(k.addr, a->addr, 16);
		v = bpf_map_lookup_elem(&bench_lpm6, &k);
	}
	if (v)
		sink++;
	return 0;
}

/* df_judge for one destination: the class mask is fixed (1), as is the port. */
static long loop_judge_cb(__u32 i, void *ctx)
{
	struct bench_addr *a = bpf_map_lookup_elem(&bench_addrs, &i);
	__u32 zero = 0, gen;
	struct df_state *st = bpf_map_lookup_elem(&df_state, &zero);
	struct df_facts f = { .proto = 6, .dport = 443, .sport = 40000 };
	const struct df_cfg *cfg;
	struct df_res r = {};

	if (!a || !st)
		return 1;
	gen = st->gen & 1;
	cfg = df_cfg_of(gen);
	if (!cfg)
		return 1;
	f.family = a->family;
	__builtin_memcpy(f.daddr, a->addr, 16);
	df_judge(cfg, gen, &f, 1, 0, &r);
	sink += r.verdict;
	return 0;
}

SEC("cgroup_skb/egress")
int bench_loop_empty(struct __sk_buff *skb)
{
	bpf_loop(bench_n, loop_empty_cb, NULL, 0);
	return 1;
}

SEC("cgroup_skb/egress")
int bench_loop_lpm(struct __sk_buff *skb)
{
	bpf_loop(bench_n, loop_lpm_cb, NULL, 0);
	return 1;
}

SEC("cgroup_skb/egress")
int bench_loop_judge(struct __sk_buff *skb)
{
	bpf_loop(bench_n, loop_judge_cb, NULL, 0);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
