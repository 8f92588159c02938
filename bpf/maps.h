/* SPDX-License-Identifier: GPL-2.0-only */
/* Every map of the datapath, one comment each. Pinned maps are shared by
 * name under the loader's pin directory (a restarted agent, the benchmark
 * programs). Included by datafence.bpf.c and tests/bench/bench.bpf.c. */
#ifndef DF_MAPS_H
#define DF_MAPS_H

/* Which generation is active, the swap count and the wall clock offset. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct df_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} df_state SEC(".maps");

/* Per-generation maps: outer arrays of two slots, indexed by df_state.gen.
 * The loader creates each generation's inner maps at the sizes it needs.
 * Inner templates give sizes, not BTF types: clang 14 emits only forward
 * declarations for types reached through nested map definitions. */
#define DF_GEN_MAP(name, inner)                                  \
	struct {                                                 \
		__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);        \
		__uint(max_entries, 2);                          \
		__type(key, __u32);                              \
		__uint(pinning, LIBBPF_PIN_BY_NAME);             \
		__array(values, struct inner);                   \
	} name SEC(".maps")

/* The configuration (one element). */
struct df_cfg_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct df_cfg));
};

DF_GEN_MAP(df_cfg_o, df_cfg_inner);

/* IPv4 destinations: the stride table (see datafence.h), mmapable so the
 * loader copies it in at once; and the leaves that stride slots and IPv6
 * ranges point to. */
struct df_str4_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 2 * sizeof(__u32)); /* two slots per element */
};

DF_GEN_MAP(df_str4_o, df_str4_inner);

struct df_lv_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct df_leaf));
};

DF_GEN_MAP(df_lv_o, df_lv_inner);

/* IPv6 destinations: the range tree (see datafence.h), mmapable. */
struct df_rng6_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct df_rng_node));
};

DF_GEN_MAP(df_rng6_o, df_rng6_inner);

/* The directory in front of the IPv6 tree: u32 slots, two per element. */
struct df_dir6_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, 8);
};

DF_GEN_MAP(df_dir6_o, df_dir6_inner);

/* local_addrs selectors: (family, source prefix) -> class mask. */
struct df_src_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct df_src_key));
	__uint(value_size, sizeof(__u64));
};

DF_GEN_MAP(df_src_o, df_src_inner);

/* Rule entries that leaves point into. */
struct df_ent_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_INNER_MAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct df_entry));
};

DF_GEN_MAP(df_ent_o, df_ent_inner);

/* uid and cgroup id selectors -> class mask. */
struct df_sel_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct df_sel_key));
	__uint(value_size, sizeof(__u64));
};

DF_GEN_MAP(df_sel_o, df_sel_inner);

/* Judged packets per (hook, class slot, verdict, reason); see datafence.h. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DF_N_COUNTERS);
	__type(key, __u32);
	__type(value, struct df_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} df_counters SEC(".maps");

/* Packets decided by each rule (destinations, then exceptions). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DF_MAX_RULES);
	__type(key, __u32);
	__type(value, struct df_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} df_rule_cnt SEC(".maps");

/* Event accounting and the event sequence number (enum df_misc). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DF_MISC__MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} df_misc SEC(".maps");

/* Drop events to the agent. Size set by the loader. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} df_events SEC(".maps");

/* Event limiter: last report per flow. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct df_flow_key);
	__type(value, struct df_flow_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} df_flows SEC(".maps");

/* The event budget (one element, shared by every CPU: compare-and-swap). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct df_budget);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} df_budget SEC(".maps");

/* Events over the budget, exact, by hook, class slot and reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DF_N_SUPP);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} df_supp SEC(".maps");

/* A storm's senders and destinations (events over the budget; the agent
 * takes them every second for its summary). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct df_storm_src_key);
	__type(value, struct df_storm_src_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} df_storm_src SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct df_storm_dst_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} df_storm_dst SEC(".maps");

/* Their distinct destinations (struct df_hll; the agent reads and clears it
 * every second). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct df_hll);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} df_storm_hll SEC(".maps");

/* The devices tc is attached to: their link header length (df_iface). A
 * device missing here is taken for Ethernet. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct df_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} df_ifaces SEC(".maps");

/* The same link header lengths, + 1 (0: not known here), by ifindex below
 * DF_IFL2_SLOTS: an array lookup (inlined) for tc's every frame, where the
 * hash lookup was two thirds of df_tc's cost. Not pinned: each loaded
 * program keeps its own, filled as tc is attached; df_ifaces answers what
 * it does not know. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, DF_IFL2_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} df_ifl2 SEC(".maps");

/* Per-socket classes and last verdict. Cloned to an accepted socket: it
 * inherits its listener's maker (its cgroup is the listener's too). */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct df_sk_cache);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} df_sk_cache SEC(".maps");

/* Not pinned, per loaded instance: ------------------------------------ */

/* The classes of a (cgroup, uid) under a swap: one lookup where a new
 * socket's classification walked the cgroup's ancestors, a lookup each.
 * The least recently used pair makes room, so cgroups that are gone leave. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, DF_CLS_CACHE_SLOTS);
	__type(key, struct df_cls_key);
	__type(value, struct df_cls_val);
} df_cls_cache SEC(".maps");

/* Allowed flows' views per CPU, by socket cookie (datafence.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DF_FAST_SLOTS);
	__type(key, __u32);
	__type(value, struct df_fast_slot);
} df_fast_slots SEC(".maps");

/* Test mode (df_record_last): the last verdict, for the datapath tests
 * and `datafencectl test`. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct df_res);
} df_last SEC(".maps");

/* The loader's clock sample (jiffies and boot time read together). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct df_clock);
} df_clk SEC(".maps");

#endif
