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
#define DF_NO_RULE 0xffff

/* Verdicts. */
enum df_verdict {
	DF_ALLOW = 0,
	DF_DROP = 1,
	DF_WOULD_DROP = 2,
	DF_VERDICT__MAX,
};

/* Verdict reasons (DESIGN.md "Verdict algorithm"); one enum for kernel,
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

/* Destination LPM keys (BPF_MAP_TYPE_LPM_TRIE), address in network order. */
struct df_lpm4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct df_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Value of a destination prefix: the rule entries that apply to every address
 * whose longest matching prefix this is (covering rules already merged in,
 * `except` holes already removed). Leaves with equal entry lists share them. */
#define DF_LEAF_ANY_DEST 0x1 /* some destination contains these addresses */
struct df_leaf {
	__u32 first; /* index into the entry array */
	__u16 count; /* <= DF_MAX_LEAF_ENTRIES */
	__u16 flags; /* DF_LEAF_* */
};

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
struct df_policy_hdr {
	__u64 serial;
	__u64 enforce_mask; /* classes in enforce mode; the rest audit */
	__u64 all_mask;     /* classes every packet carries (`all = true`) */
	__u32 flags;        /* DF_POL_* */
	__u16 n_marks;
	__u16 n_lports;
};

_Static_assert(sizeof(struct df_lpm4_key) == 8, "df_lpm4_key ABI");
_Static_assert(sizeof(struct df_lpm6_key) == 20, "df_lpm6_key ABI");
_Static_assert(sizeof(struct df_leaf) == 8, "df_leaf ABI");
_Static_assert(sizeof(struct df_entry) == 32, "df_entry ABI");
_Static_assert(sizeof(struct df_mark_rule) == 16, "df_mark_rule ABI");
_Static_assert(sizeof(struct df_lport_rule) == 16, "df_lport_rule ABI");
_Static_assert(sizeof(struct df_policy_hdr) == 32, "df_policy_hdr ABI");

#endif /* DATAFENCE_H */
