// SPDX-License-Identifier: GPL-2.0-only
/* Benchmark baselines, measured next to the datapath in the same run:
 * an empty cgroup_skb program (the floor) and a bare LPM trie lookup of the
 * destination (what one kernel LPM lookup costs with the same prefixes). */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "datafence.h"

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct df_lpm4_key);
	__type(value, __u32);
} bench_lpm4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct df_lpm6_key);
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
		struct df_lpm4_key k = { .prefixlen = 32 };

		if (bpf_skb_load_bytes_relative(skb, offsetof(struct iphdr, daddr), k.addr, 4,
						BPF_HDR_START_NET))
			return 1;
		v = bpf_map_lookup_elem(&bench_lpm4, &k);
	} else {
		struct df_lpm6_key k = { .prefixlen = 128 };

		if (bpf_skb_load_bytes_relative(skb, offsetof(struct ipv6hdr, daddr), k.addr, 16,
						BPF_HDR_START_NET))
			return 1;
		v = bpf_map_lookup_elem(&bench_lpm6, &k);
	}
	if (v)
		hits++;
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
