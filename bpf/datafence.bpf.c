// SPDX-License-Identifier: GPL-2.0-only
/* datafence kernel side. The verdict pipeline and its maps land with the
 * "eBPF datapath" issue; until then this object only proves the build chain
 * (clang -target bpf, bpftool skeleton) and enforces nothing. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "datafence.h"

/* Policy header of the loaded generation (filled by the loader). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct df_policy_hdr);
} df_policy SEC(".maps");

SEC("cgroup_skb/egress")
int df_egress(struct __sk_buff *skb)
{
	return 1; /* pass: no verdict pipeline yet */
}

char LICENSE[] SEC("license") = "GPL";
