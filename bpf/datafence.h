/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* datafence shared ABI: map keys and values, rule entries, verdict and reason
 * codes. Included by the BPF programs and by user space; the includer provides
 * the __u8/__u16/__u32/__u64 types (linux/types.h or vmlinux.h). */
#ifndef DATAFENCE_H
#define DATAFENCE_H

#define DF_MAX_CLASSES 64       /* a class set is one __u64 bitmask */
#define DF_MAX_LEAF_ENTRIES 64  /* rule entries scanned per destination leaf */
#define DF_MAX_RULES 65535      /* destinations + exceptions, __u16 index */
#define DF_MAX_MARK_RULES 64    /* mark selectors, scanned */
#define DF_MAX_LPORT_RULES 64   /* local port range selectors, scanned */
#define DF_MAX_CG_LEVEL 16      /* deepest cgroup selector level (the root is 0) */
#define DF_NO_RULE 0xffff
#define DF_UID_NONE 0xffffffffu /* a packet without a socket (or owner) */

/* What the datapath could not learn of a packet (struct df_facts, and the
 * user-space evaluators' struct df_packet). */
#define DF_PKT_NO_PORTS 0x1  /* non-first fragment: ports unknown */
#define DF_PKT_MALFORMED 0x2 /* headers could not be parsed: fail closed */
#define DF_PKT_NOT_LO 0x4    /* leaves through a device other than loopback: a
			      * loopback destination earns no exemption */
#define DF_PKT_STALE 0x8     /* the user-space evaluators: judged while the agent's
			      * heartbeat is older than stale_after (verdict step
			      * 3a; the kernel reads df_state.heartbeat_ns itself) */

/* Verdicts. */
enum df_verdict {
	DF_ALLOW = 0,
	DF_DROP = 1,
	DF_WOULD_DROP = 2,
	DF_VERDICT__MAX,
};

/* Verdict reasons (docs/semantics.md "Verdict algorithm"); one enum for kernel,
 * agent, CLI and logs. Names in df_reason_name(). */
enum df_reason {
	DF_R_LOOPBACK = 0,
	DF_R_UNCLASSIFIED = 1,
	DF_R_DESTINATION = 2,
	DF_R_EXCEPTION = 3,
	DF_R_NO_DESTINATION = 4,
	DF_R_CLASS_NOT_ALLOWED = 5,
	DF_R_PORT_NOT_ALLOWED = 6,
	DF_R_PROTOCOL_NOT_ALLOWED = 7,
	DF_R_EXCEPTION_INACTIVE = 8,
	DF_R_MALFORMED = 9,
	DF_R_NEXT_HOP = 10, /* a crafted frame sent to a next hop its header does not route to */
	DF_R_FILTER_BYPASS = 11, /* a socket option that would send below tc (setsockopt) */
	DF_R_AGENT_STALE = 12,    /* step 3a: the agent's heartbeat is older than stale_after */
	DF_R_POLICY_EXPIRED = 13, /* step 3a: the policy is past its `expires` */
	DF_REASON__MAX,
};

/* Protocol bits of a rule; a packet's L4 protocol maps to exactly one. */
#define DF_P_TCP    0x01
#define DF_P_UDP    0x02
#define DF_P_SCTP   0x04
#define DF_P_ICMP   0x08
#define DF_P_ICMPV6 0x10
#define DF_P_OTHER  0x20
#define DF_P_ANY    0x3f
#define DF_P_PORTED (DF_P_TCP | DF_P_UDP | DF_P_SCTP) /* ports constrain these */

/* A destination leaf (df_lv_o): the rule entries that apply to every address
 * of a longest-matching prefix (covering rules already merged in, `except`
 * holes already removed). Prefixes with equal entry lists share a leaf. */
#define DF_LEAF_ANY_DEST 0x1 /* some destination contains these addresses */
struct df_leaf {
	__u32 first; /* index into the entry array */
	__u16 count; /* <= DF_MAX_LEAF_ENTRIES */
	__u16 flags; /* DF_LEAF_* */
};

/* IPv4 destinations are looked up in a multibit stride table (16-8-8) in
 * one u32 array: slots [0, DF_STRIDE_ROOT) are indexed by the address's top
 * 16 bits; chunk c occupies DF_STRIDE_ROOT + c * 256 .. + 255. A slot holds
 * 0 (no prefix), DF_STRIDE_CHILD | c (look at chunk c with the next byte),
 * or i + 1 for leaf i of the destination leaf array. Prefixes are expanded
 * into the slots they cover and longer prefixes overwrite shorter ones, so
 * one to three array reads find the longest match (no trie walk). */
#define DF_STRIDE_ROOT 65536
#define DF_STRIDE_CHUNK 256
#define DF_STRIDE_CHILD 0x80000000u

/* IPv6 destinations: the address space cut into disjoint ranges (where the
 * longest matching prefix stays the same), their starts in a static B+ tree
 * of DF_RNG_FANOUT keys per node, root level first (df_cfg says where each
 * level starts). A lookup reads one node per level and ends at a range's
 * leaf: a handful of reads instead of a trie walk. Keys are the address as
 * two host-order halves. Unused key slots hold all-ones; in the last level
 * they repeat the last range's leaf, above it they lead to the last child. */
#define DF_RNG_FANOUT 8
#define DF_RNG_MAX_LEVELS 12
struct df_rng_node {
	__u64 hi[DF_RNG_FANOUT];
	__u64 lo[DF_RNG_FANOUT];
	__u32 val[DF_RNG_FANOUT]; /* last level: leaf index + 1 (0: no prefix) */
};

/* In front of the tree, a directory indexed by the address's top
 * df_cfg.rng_dir_bits bits (sized to about one range per slot) says where
 * the walk may start: the deepest node every address of that slot passes
 * through (the walk is monotone in the address, so the nodes the slot's
 * first and last address reach bound it), or the slot's leaf outright when
 * one range covers the whole slot. A lookup then reads one or two levels
 * instead of the whole height. Slots are u32, two per 8-byte element. */
#define DF_DIR_FINAL 0x80000000u /* low 31 bits: leaf index + 1 (0: no prefix) */
#define DF_DIR_LEVEL_SHIFT 27    /* otherwise: start level << 27 | node */
#define DF_DIR_NODE_MASK 0x07ffffffu
#define DF_DIR_MAX_BITS 20

/* One rule entry: a destination (or exception) with one port range. */
#define DF_RULE_DEST 0
#define DF_RULE_EXCEPTION 1
struct df_entry {
	__u64 classes;    /* classes this rule approves */
	__u64 not_before; /* unix seconds; 0 for destinations */
	__u64 expires;    /* unix seconds, exclusive; ~0 for destinations */
	__u16 port_lo;    /* destination port range for DF_P_PORTED protocols */
	__u16 port_hi;
	__u16 rule;       /* rule index: destinations first, then exceptions */
	__u8 protos;      /* DF_P_* */
	__u8 kind;        /* DF_RULE_* */
};

/* Mark selector: (skb->mark & mask) == value puts the packet in `classes`. */
struct df_mark_rule {
	__u64 classes;
	__u32 value;
	__u32 mask;
};

/* Local (source) port selector. */
struct df_lport_rule {
	__u64 classes;
	__u16 lo;
	__u16 hi;
	__u32 pad;
};

/* Per-policy header. */
#define DF_POL_ALLOW_LOOPBACK 0x1
#define DF_POL_DROP_STALE 0x2 /* stale_posture "drop-protected" (verdict step 3a) */
struct df_policy_hdr {
	__u64 serial;
	__u64 enforce_mask; /* classes in enforce mode; the rest audit */
	__u64 all_mask;     /* classes every packet carries (`all = true`) */
	__u32 flags;        /* DF_POL_* */
	__u16 n_marks;
	__u16 n_lports;
	__s64 expires;      /* the policy's `expires`, unix seconds; 0: never */
	__u32 stale_after;  /* agent.conf stale_after, seconds; 0: no heartbeat check */
	__u32 pad;
	__u64 canary_mask;  /* the agent's canary class (its counters are not the
			     * operator's); the datapath does not read it */
	__u64 cache_until;  /* unix seconds a cached verdict lasts at most: the
			     * policy's expires under the posture (checked before
			     * the cache too), ~0 otherwise */
};

_Static_assert(sizeof(struct df_leaf) == 8, "df_leaf ABI");
_Static_assert(sizeof(struct df_entry) == 32, "df_entry ABI");
_Static_assert(sizeof(struct df_mark_rule) == 16, "df_mark_rule ABI");
_Static_assert(sizeof(struct df_lport_rule) == 16, "df_lport_rule ABI");
_Static_assert(sizeof(struct df_policy_hdr) == 64, "df_policy_hdr ABI");

/* ---- kernel state shared with the loader (pinned maps) ---------------- */

/* Hooks that judge packets and calls. DF_HOOK__MAX counts the BPF hooks
 * (the first dimension of df_counters); the nftables backend's drop records
 * carry DF_HOOK_NFTABLES, which has no BPF counters. */
enum df_hook {
	DF_HOOK_CGROUP_SKB = 0,
	DF_HOOK_TC = 1,
	DF_HOOK_CONNECT = 2,
	DF_HOOK_SENDMSG = 3,
	DF_HOOK_SETSOCKOPT = 4, /* options refused to protected tasks (docs/datapath.md) */
	DF_HOOK_REVOKE = 5,     /* live sockets destroyed after a narrowing (revoke.bpf.c) */
	DF_HOOK__MAX,
	DF_HOOK_NFTABLES = DF_HOOK__MAX,
};

/* Pinned map names (bpffs, at most 15 characters). */
#define DF_MAP_STATE    "df_state"
#define DF_MAP_CFG      "df_cfg_o"
#define DF_MAP_STR4     "df_str4_o"
#define DF_MAP_LV       "df_lv_o"
#define DF_MAP_RNG6     "df_rng6_o"
#define DF_MAP_DIR6     "df_dir6_o"
#define DF_MAP_SRC      "df_src_o"
#define DF_MAP_ENTRIES  "df_ent_o"
#define DF_MAP_SEL      "df_sel_o"
#define DF_MAP_COUNTERS "df_counters"
#define DF_MAP_RULE_CNT "df_rule_cnt"
#define DF_MAP_MISC     "df_misc"
#define DF_MAP_EVENTS   "df_events"
#define DF_MAP_FLOWS    "df_flows"
#define DF_MAP_BUDGET   "df_budget"
#define DF_MAP_SUPP     "df_supp"
#define DF_MAP_STORM_SRC "df_storm_src"
#define DF_MAP_STORM_DST "df_storm_dst"
#define DF_MAP_STORM_HLL "df_storm_hll"
#define DF_MAP_SKCACHE  "df_sk_cache"
#define DF_MAP_IFACES   "df_ifaces"
/* Not pinned: per loaded instance. */
#define DF_MAP_LAST     "df_last" /* test mode: the last verdict */
#define DF_MAP_CLOCK    "df_clk"  /* the loader's clock sample */

/* df_state[0]: which of the two policy generations packets use. The loader
 * fills the other generation's maps, then flips `gen` (one aligned 32-bit
 * store), so a packet reads `gen` once and is judged by one policy. */
#define DF_STATE_CGSKB 0x1 /* cgroup_skb is attached: tc skips inet sockets */
struct df_state {
	__u32 gen;             /* 0 or 1 */
	__u32 flags;           /* DF_STATE_* */
	__u64 seq;             /* swaps so far: invalidates per-socket caches */
	__s64 clock_offset_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME, for exception windows */
	__u64 serial;          /* serial of the active policy */
	__u32 hz;              /* jiffies per second (measured by the loader); 0: unknown */
	__u32 nh_ifindex;      /* the next-hop check's lookup device (0: none: crafted
				* protected frames cannot be checked and are dropped) */
	__u64 heartbeat_ns;    /* CLOCK_BOOTTIME of the agent's last heartbeat (written
				* only while its self-check passes); 0: never */
	__u64 event_interval_ns; /* the event budget: one event per interval, a second's
				  * worth in a burst (agent.conf event_rate); 0: none */
};

/* Per-generation configuration (inner map of df_cfg_o, one element). */
#define DF_CFG_HAS_SRC 0x1 /* local_addrs selectors: look the source up */
#define DF_CFG_HAS_SEL 0x2 /* uid or cgroup selectors */
struct df_cfg {
	struct df_policy_hdr hdr;
	__u32 max_cg_level; /* deepest cgroup selector (root = 0) */
	__u32 flags;        /* DF_CFG_* */
	__u32 rng_levels;   /* IPv6 range tree: levels (0: no IPv6 prefix) */
	__u32 rng_dir_bits; /* directory in front of the tree: top bits indexed (0: none) */
	__u32 rng_off[DF_RNG_MAX_LEVELS];    /* first node of each level, root first */
	__u32 rng_blocks[DF_RNG_MAX_LEVELS]; /* nodes in each level */
	struct df_mark_rule marks[DF_MAX_MARK_RULES];
	struct df_lport_rule lports[DF_MAX_LPORT_RULES];
};

/* Source-address selector key: family byte first, then the address, so one
 * trie holds both families (prefixlen counts the family byte's 8 bits). */
struct df_src_key {
	__u32 prefixlen;
	__u8 family; /* 4 or 6 */
	__u8 addr[16];
	__u8 pad[3];
};

/* uid and cgroup selectors share one hash (inner map of df_sel_o). */
#define DF_SEL_UID 1
#define DF_SEL_CGROUP 2
struct df_sel_key {
	__u32 kind; /* DF_SEL_* */
	__u32 uid;
	__u64 cgroup_id;
};

/* df_cls_cache: the classes of a cgroup (by its id: its ancestors never
 * change) and a uid, under the policy a tag names (df_tag: the swap's
 * sequence and generation). */
struct df_cls_key {
	__u64 cgroup_id;
	__u32 uid;
	__u32 pad;
};

struct df_cls_val {
	__u64 tag;
	__u64 classes;
};

struct df_counter {
	__u64 packets;
	__u64 bytes;
};

/* df_counters: per-CPU, indexed by (hook, class slot, verdict, reason). The
 * class slot is the deciding class (the first class for allows, the first
 * unsatisfied class of the deciding mode for drops; for malformed packets
 * the first enforce class, else the first), or DF_MAX_CLASSES for packets
 * with no class. */
#define DF_CNT_INDEX(hook, slot, verdict, reason) \
	((((hook) * (DF_MAX_CLASSES + 1) + (slot)) * DF_VERDICT__MAX + (verdict)) * DF_REASON__MAX + (reason))
#define DF_N_COUNTERS (DF_HOOK__MAX * (DF_MAX_CLASSES + 1) * DF_VERDICT__MAX * DF_REASON__MAX)

/* df_misc: per-CPU event and health counters. */
enum df_misc {
	DF_MISC_EVENTS_SENT = 0,
	DF_MISC_EVENTS_LOST = 1,       /* ring buffer full */
	DF_MISC_EVENTS_SUPPRESSED = 2, /* folded into a later event by the limiter */
	DF_MISC_NO_POLICY = 3,         /* packets seen before any policy was loaded */
	DF_MISC_EVENTS_OVER_BUDGET = 4, /* not sent: over the event budget (df_supp has
					 * them by hook, class and reason) */
	DF_MISC_EVENT_SEQ = 7,         /* next event sequence number */
	DF_MISC__MAX = 8,
};

/* df_ifaces: what tc needs to know of a device it is attached to. */
struct df_iface {
	__u32 l2_len; /* link header bytes before the network header: 14 for
		       * Ethernet (VLAN tags are read from the frame), 0 for
		       * devices that carry IP alone (tun, ipip, wireguard),
		       * DF_L2_UNKNOWN for a link header not parsed: every
		       * frame there is malformed (a protected one dropped) */
	__u32 pad;
};
#define DF_L2_UNKNOWN 0xff
#define DF_IFL2_SLOTS 4096 /* df_ifl2: interfaces with a smaller index */
#define DF_CLS_CACHE_SLOTS 8192 /* df_cls_cache: (cgroup, uid) pairs remembered */

/* Drop event, one per reported drop or would-drop. */
#define DF_EVENT_VERSION 1
struct df_event {
	__u8 version;
	__u8 hook;    /* enum df_hook */
	__u8 verdict; /* DF_DROP or DF_WOULD_DROP */
	__u8 reason;  /* enum df_reason */
	__u8 family;  /* 4 or 6 */
	__u8 proto;
	__u16 rule;   /* DF_NO_RULE if none */
	__u64 ts_ns;  /* unix time */
	__u64 classes;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u32 uid;    /* 0xffffffff: no socket */
	__u64 cgroup_id;
	__u32 pid;    /* 0: not in process context */
	__u32 ifindex;
	__u64 serial; /* policy serial */
	__u64 seq;    /* event sequence number (gaps: lost events) */
	__u32 suppressed; /* drops of this flow folded into this event */
	__u32 pad;
	char comm[16];
};

/* Per-flow event limiter (LRU): the first drop of a flow is reported at once,
 * later ones at most once a second with the count in between. */
struct df_flow_key {
	__u8 family;
	__u8 proto;
	__u8 hook;
	__u8 pad;
	__u16 sport;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct df_flow_val {
	__u64 last_ns;
	__u32 suppressed;
	__u32 pad;
};

/* The event budget (df_budget): GCRA, the theoretical arrival time of the
 * next event; an event fits when it is at most a second ahead of now. */
struct df_budget {
	__u64 tat;
};

/* df_supp: per-CPU, events over the budget by (hook, class slot, reason). */
#define DF_SUPP_INDEX(hook, slot, reason) \
	(((hook) * (DF_MAX_CLASSES + 1) + (slot)) * DF_REASON__MAX + (reason))
#define DF_N_SUPP (DF_HOOK__MAX * (DF_MAX_CLASSES + 1) * DF_REASON__MAX)

/* What a storm is made of, for the agent's summaries (drained each
 * second): who sent (df_storm_src) and where to (df_storm_dst). */
struct df_storm_src_key {
	__u64 cgroup_id;
	__u32 uid;
	__u32 pid;
};
struct df_storm_src_val {
	__u64 count;
	char comm[16];
};
struct df_storm_dst_key {
	__u8 family;
	__u8 proto;
	__u16 dport;
	__u8 daddr[16];
};

/* How many distinct destinations a storm tried (df_storm_hll): a
 * HyperLogLog of 2^DF_HLL_BITS one-byte registers (about 3% standard
 * error), kept by the kernel for the events over the budget and by the
 * agent for the records it folds, merged by the agent with the same hash.
 * meta = family | proto << 8 | dport << 16; lo, hi: the address's bytes. */
#define DF_HLL_BITS 10
#define DF_HLL_REGS (1u << DF_HLL_BITS)
struct df_hll {
	__u8 reg[DF_HLL_REGS];
};

static inline __u64 df_dst_hash(__u64 meta, __u64 lo, __u64 hi)
{
	__u64 h = (meta * 0x9e3779b97f4a7c15ULL) ^ lo;

	h = ((h ^ (h >> 31)) * 0xbf58476d1ce4e5b9ULL) ^ hi;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	return h ^ (h >> 31);
}

/* The register a hash goes to (its top bits) and the value it offers
 * there: 1 + the trailing zeros of the other bits (at most 65 - BITS). */
static inline __u32 df_hll_index(__u64 h)
{
	return (__u32)(h >> (64 - DF_HLL_BITS));
}

static inline __u64 df_nonzero(__u64 x)
{
	return (x | (0 - x)) >> 63; /* 1 or 0 without a branch */
}

static inline __u8 df_hll_rank(__u64 h)
{
	__u64 w = h | (1ULL << (64 - DF_HLL_BITS)); /* a guard bit: rank <= 55 */
	__u64 b = w & (0 - w);                      /* its lowest set bit */

	/* that bit's position, one binary digit at a time (clang's BPF
	 * target has no count-trailing-zeros) */
	return (__u8)(1 + 32 * df_nonzero(b & 0xffffffff00000000ULL) +
		      16 * df_nonzero(b & 0xffff0000ffff0000ULL) +
		      8 * df_nonzero(b & 0xff00ff00ff00ff00ULL) +
		      4 * df_nonzero(b & 0xf0f0f0f0f0f0f0f0ULL) +
		      2 * df_nonzero(b & 0xccccccccccccccccULL) + df_nonzero(b & 0xaaaaaaaaaaaaaaaaULL));
}

/* Per-socket state (SK_STORAGE). A socket's classes come from the socket:
 * the skb hooks (cgroup_skb, tc) read its cgroup and owner from the packet's
 * socket; the call hooks (connect, sendmsg) take the owner recorded when
 * the socket was made (cgroup/sock_create) together with the calling
 * task's (a packet is protected when either is). Each kind of hook keeps
 * its own view, written and read by itself alone, so one kind never
 * answers from what the other saw. A view caches the classes per policy
 * swap `seq` and the last verdict with every fact it depended on, valid
 * for that seq and until `until_ns`. */
#define DF_VIEW_SKB 0
#define DF_VIEW_CALL 1
#define DF_VIEW_HELD 2 /* with a kind: the caller holds that view's lock */
struct df_sk_view {
	__u64 seq;          /* the swap it holds (df_tag: sequence and generation) */
	__u64 sock_classes; /* the socket's classes (call view: owner | task) */
	__u64 classes;
	__u64 until_ns;
	__u8 daddr[16];
	__u8 saddr[16];
	__u32 mark;
	__u16 sport;
	__u16 dport;
	__u8 proto;
	__u8 family;
	__u8 verdict;
	__u8 reason;
	__u16 rule;
	__u16 flags;   /* the verdict's DF_PKT_NOT_LO */
	__u32 cnt_idx; /* df_counters index of the cached verdict */
	__u32 valid;   /* 1: sock_classes valid for seq; 2: and the verdict too */
	__u64 task_cgroup; /* call view: the task sock_classes include (cgroup id, uid) */
	__u32 task_uid;
	__u32 lock;    /* even: stable; odd: being written (pipeline.h df_view_take) */
	__u64 suppressed;      /* drops of this flow not reported yet */
	__u64 last_report_ns;  /* this flow's last drop event (limiter) */
	__u64 last_report_jiffies; /* the same in jiffies: the fast path's cheap clock */
};

struct df_sk_cache {
	struct df_sk_view view[2]; /* DF_VIEW_* */
	/* The socket's maker, recorded at socket() in the maker's context:
	 * its cgroup and the ancestors (level 0 is the root) and its uid. */
	__u64 owner_cgroup[DF_MAX_CG_LEVEL + 1];
	__u32 owner_uid;
	__u32 owner_valid;  /* 1: recorded (sockets made before the programs were loaded: 0) */
	__u64 owner_seq;    /* owner_classes valid for this swap (df_tag); both under
			     * the call view's lock */
	__u64 owner_classes;
};

_Static_assert(__builtin_offsetof(struct df_sk_view, task_uid) % 8 == 0 &&
	       __builtin_offsetof(struct df_sk_view, lock) ==
	       __builtin_offsetof(struct df_sk_view, task_uid) + 4,
	       "df_sk_view: lock is the high half of an aligned word (pipeline.h df_view_take)");

/* An allowed flow's view, per CPU, in the slot its socket's cookie maps to
 * (direct-mapped): the cgroup_skb and tc fast paths read it instead of the
 * socket's storage. The view's lock guards the cookie too. */
#define DF_FAST_SLOTS 256

struct df_fast_slot {
	__u64 cookie; /* the socket's (bpf_get_socket_cookie; 0: none) */
	struct df_sk_view v;
};

/* The loader's clock calibration: jiffies and boot time, read together. */
struct df_clock {
	__u64 jiffies;
	__u64 boot_ns;
};

/* One verdict: what the pipeline decided (also the test-only df_last map). */
struct df_res {
	__u8 verdict;
	__u8 reason;
	__u16 rule;     /* DF_NO_RULE if none */
	__u8 slot;      /* counter slot: see DF_CNT_INDEX */
	__u8 pad[3];
	__u64 classes;
	__u64 until_ns; /* the verdict may be cached until then */
};

_Static_assert(sizeof(struct df_res) == 24, "df_res ABI");
_Static_assert(sizeof(struct df_state) == 56, "df_state ABI");
_Static_assert(sizeof(struct df_cfg) == 64 + 16 + 8 * DF_RNG_MAX_LEVELS + DF_MAX_MARK_RULES * 16 +
		       DF_MAX_LPORT_RULES * 16, "df_cfg ABI");
_Static_assert(sizeof(struct df_rng_node) == 160, "df_rng_node ABI");
_Static_assert(sizeof(struct df_src_key) == 24, "df_src_key ABI");
_Static_assert(sizeof(struct df_sel_key) == 16, "df_sel_key ABI");
_Static_assert(sizeof(struct df_event) == 120, "df_event ABI");
_Static_assert(sizeof(struct df_flow_key) == 40, "df_flow_key ABI");
_Static_assert(sizeof(struct df_storm_src_key) == 16, "df_storm_src_key ABI");
_Static_assert(sizeof(struct df_storm_src_val) == 24, "df_storm_src_val ABI");
_Static_assert(sizeof(struct df_storm_dst_key) == 20, "df_storm_dst_key ABI");
_Static_assert(sizeof(struct df_hll) == DF_HLL_REGS, "df_hll ABI");
_Static_assert(sizeof(struct df_iface) == 8, "df_iface ABI");
_Static_assert(sizeof(struct df_sk_view) == 128, "df_sk_view ABI");
_Static_assert(sizeof(struct df_sk_cache) == 2 * 128 + 8 * (DF_MAX_CG_LEVEL + 1) + 24, "df_sk_cache ABI");

#endif /* DATAFENCE_H */
