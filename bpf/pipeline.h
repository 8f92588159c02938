/* SPDX-License-Identifier: GPL-2.0-only */
/* The datapath pipeline, shared by every hook:
 *   parse -> classify -> lookup -> judge -> account -> report.
 * The verdict steps follow docs/semantics.md "Verdict algorithm" (numbered below);
 * agent/lib/emulate.c is the same algorithm in user space, and the datapath
 * differential test holds the two (and the reference evaluator) equal. */
#ifndef DF_PIPELINE_H
#define DF_PIPELINE_H

#define DF_MAX_EXTHDR 8       /* IPv6 extension headers walked before `malformed` */
#define DF_LOOPBACK_IFINDEX 1 /* every network namespace's loopback device */
#define DF_REPORT_INTERVAL_NS 1000000000ULL

/* What the hook knows of the packet (or of the connect/sendmsg call). */
struct df_facts {
	__u8 family; /* 4 or 6; 0 if unparsed */
	__u8 proto;
	__u8 flags;  /* DF_PKT_* */
	__u8 hook;
	__u16 sport, dport;
	__u8 saddr[16];
	__u8 daddr[16];
	__u32 uid;   /* DF_UID_NONE: no socket */
	__u32 mark;
	__u32 len;
	__u32 ifindex;
	__u64 cgroup_id;
	__u32 pid;
	__u8 wire_family; /* tc: the family as it leaves (0: not routable, a mapped IPv6) */
	__u8 l2_len;      /* tc: link header bytes in front of the IP header's place */
	__u8 gen;         /* the policy generation judging it (read once per packet) */
	__u8 pad;
	__u64 test_classes; /* test mode only: classes given by datafencectl test */
	__u64 test_now_s;   /* test mode only: judge at this unix time (0: now) */
};

static __always_inline __u8 df_proto_bit(__u8 proto)
{
	switch (proto) {
	case IPPROTO_TCP: return DF_P_TCP;
	case IPPROTO_UDP: return DF_P_UDP;
	case IPPROTO_SCTP: return DF_P_SCTP;
	case IPPROTO_ICMP: return DF_P_ICMP;
	case IPPROTO_ICMPV6: return DF_P_ICMPV6;
	}
	return DF_P_OTHER;
}

/* ---- parse -------------------------------------------------------------- */

/* The IP packet `off0` bytes from `start` (BPF_HDR_START_NET: cgroup_skb,
 * whose data begins there; BPF_HDR_START_MAC: tc, whose data begins with
 * the link header), of the given family: addresses, protocol, ports.
 * DF_PKT_MALFORMED when its headers cannot be read. */
static __always_inline void df_parse_ip(struct __sk_buff *skb, struct df_facts *f, __u32 start,
					__u32 off0, __u8 family)
{
	__u32 off = off0;
	__u8 proto;

	f->family = family;
	if (family == 4) {
		struct iphdr ip;

		if (bpf_skb_load_bytes_relative(skb, off, &ip, sizeof(ip), start) ||
		    ip.version != 4 || ip.ihl < 5) {
			f->flags |= DF_PKT_MALFORMED;
			return;
		}
		__builtin_memcpy(f->saddr, &ip.saddr, 4);
		__builtin_memcpy(f->daddr, &ip.daddr, 4);
		proto = ip.protocol;
		if (bpf_ntohs(ip.frag_off) & 0x1fff)
			f->flags |= DF_PKT_NO_PORTS;
		off += ip.ihl * 4;
	} else {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes_relative(skb, off, &ip6, sizeof(ip6), start) ||
		    ip6.version != 6) {
			f->flags |= DF_PKT_MALFORMED;
			return;
		}
		__builtin_memcpy(f->saddr, &ip6.saddr, 16);
		__builtin_memcpy(f->daddr, &ip6.daddr, 16);
		proto = ip6.nexthdr;
		off += sizeof(ip6);
		/* Walk extension headers up to a bound; past it: malformed. */
		int i;

		for (i = 0; i < DF_MAX_EXTHDR; i++) {
			__u8 h[8];

			if (proto != IPPROTO_HOPOPTS && proto != IPPROTO_ROUTING &&
			    proto != IPPROTO_DSTOPTS && proto != IPPROTO_FRAGMENT &&
			    proto != IPPROTO_AH)
				break;
			if (bpf_skb_load_bytes_relative(skb, off, h, 8, start)) {
				f->flags |= DF_PKT_MALFORMED;
				return;
			}
			if (proto == IPPROTO_FRAGMENT) {
				if (((h[2] << 8) | h[3]) & 0xfff8)
					f->flags |= DF_PKT_NO_PORTS;
				off += 8;
			} else if (proto == IPPROTO_AH) {
				off += (h[1] + 2) * 4;
			} else {
				off += (h[1] + 1) * 8;
			}
			proto = h[0];
		}
		if (i == DF_MAX_EXTHDR) {
			f->flags |= DF_PKT_MALFORMED;
			return;
		}
	}
	f->proto = proto;
	if ((df_proto_bit(proto) & DF_P_PORTED) && !(f->flags & DF_PKT_NO_PORTS)) {
		__be16 ports[2];

		if (bpf_skb_load_bytes_relative(skb, off, ports, 4, start)) {
			f->flags |= DF_PKT_MALFORMED;
			return;
		}
		f->sport = bpf_ntohs(ports[0]);
		f->dport = bpf_ntohs(ports[1]);
	}
}

/* cgroup_skb: the network header; the IP layer made the packet and says
 * its family. Anything else is not judged (family 0). */
static __always_inline void df_parse_skb(struct __sk_buff *skb, struct df_facts *f)
{
	f->len = skb->len;
	if (skb->protocol == bpf_htons(ETH_P_IP))
		df_parse_ip(skb, f, BPF_HDR_START_NET, 0, 4);
	else if (skb->protocol == bpf_htons(ETH_P_IPV6))
		df_parse_ip(skb, f, BPF_HDR_START_NET, 0, 6);
}

static __always_inline bool df_is_v4mapped(const __u8 *a)
{
	return !(a[0] | a[1] | a[2] | a[3] | a[4] | a[5] | a[6] | a[7] | a[8] | a[9]) &&
	       a[10] == 0xff && a[11] == 0xff;
}

/* Step 1: an IPv4-mapped IPv6 address is the IPv4 address it is. */
static __always_inline void df_unmap(__u8 *family, __u8 *a)
{
	if (*family != 6 || !df_is_v4mapped(a))
		return;
	__builtin_memcpy(a, a + 12, 4);
	__builtin_memset(a + 4, 0, 12);
	*family = 4;
}

static __always_inline bool df_is_loopback(__u8 family, const __u8 *a)
{
	if (family == 4)
		return a[0] == 127;
	return !(a[0] | a[1] | a[2] | a[3] | a[4] | a[5] | a[6] | a[7] | a[8] | a[9] | a[10] |
		 a[11] | a[12] | a[13] | a[14]) && a[15] == 1;
}

struct df_gen {
	const struct df_cfg *cfg;
	void *src, *sel; /* the lookups find their maps from the number */
};

static __always_inline const struct df_cfg *df_cfg_of(__u32 gen)
{
	__u32 zero = 0;
	void *m = bpf_map_lookup_elem(&df_cfg_o, &gen);

	return m ? bpf_map_lookup_elem(m, &zero) : NULL;
}

/* One stride slot: elements hold two slots (array elements are 8 bytes
 * anyway), so the table is a plain copy of the u32 slots. */
static __always_inline int df_slot(void *str4, __u32 idx, __u32 *e)
{
	__u32 elem = idx >> 1;
	__u32 *v = bpf_map_lookup_elem(str4, &elem);

	if (!v)
		return -1;
	*e = v[idx & 1];
	return 0;
}

/* IPv4 longest match: one to three slots of the stride table. */
static __always_inline const struct df_leaf *df_lookup4(__u32 gen, const __u8 *d)
{
	__u32 a = (__u32)d[0] << 24 | (__u32)d[1] << 16 | (__u32)d[2] << 8 | d[3];
	void *str4 = bpf_map_lookup_elem(&df_str4_o, &gen);
	void *lv = bpf_map_lookup_elem(&df_lv_o, &gen);
	__u32 e, idx;

	if (!str4 || !lv || df_slot(str4, a >> 16, &e))
		return NULL;
	if ((e & DF_STRIDE_CHILD) &&
	    df_slot(str4, DF_STRIDE_ROOT + (e & ~DF_STRIDE_CHILD) * DF_STRIDE_CHUNK + ((a >> 8) & 0xff), &e))
		return NULL;
	if ((e & DF_STRIDE_CHILD) &&
	    df_slot(str4, DF_STRIDE_ROOT + (e & ~DF_STRIDE_CHILD) * DF_STRIDE_CHUNK + (a & 0xff), &e))
		return NULL;
	if (!e)
		return NULL;
	idx = e - 1;
	return bpf_map_lookup_elem(lv, &idx);
}

/* IPv6 longest match: one node of the range tree per level (bpf_loop: the
 * verifier checks one level, not twelve). The walk's state shares the
 * start of struct df_scan (stack is short). */
struct df_rng_walk {
	__u32 gen;
	__u32 blk;
	__u64 hi, lo;
	__u32 val;
	__u32 lv0; /* level the directory starts the walk at */
};

static long df_rng_cb(__u32 l, void *ctx)
{
	struct df_rng_walk *w = ctx;
	const struct df_cfg *cfg = df_cfg_of(w->gen);
	void *rng = bpf_map_lookup_elem(&df_rng6_o, &w->gen);
	const struct df_rng_node *nd;
	__u32 idx, cnt = 0, lv = (w->lv0 + l) & 15; /* a bound the verifier sees */
	int j;

	if (!cfg || !rng || lv >= DF_RNG_MAX_LEVELS)
		return 1;
	idx = cfg->rng_off[lv] + w->blk;
	nd = bpf_map_lookup_elem(rng, &idx);
	if (!nd)
		return 1;
	for (j = 0; j < DF_RNG_FANOUT; j++)
		cnt += nd->hi[j] < w->hi || (nd->hi[j] == w->hi && nd->lo[j] <= w->lo);
	cnt = cnt ? cnt - 1 : 0;
	if (lv + 1 >= cfg->rng_levels) {
		w->val = nd->val[cnt & (DF_RNG_FANOUT - 1)];
		return 1;
	}
	w->blk = w->blk * DF_RNG_FANOUT + cnt;
	if (lv + 1 < DF_RNG_MAX_LEVELS && w->blk >= cfg->rng_blocks[lv + 1])
		w->blk = cfg->rng_blocks[lv + 1] - 1;
	return 0;
}

static __always_inline const struct df_leaf *df_lookup6(const struct df_cfg *cfg,
							struct df_rng_walk *w, const __u8 *d)
{
	__u32 levels = cfg->rng_levels, bits = cfg->rng_dir_bits, idx, e = 0;
	void *dir, *lv;
	int i;

	if (!levels || levels > DF_RNG_MAX_LEVELS)
		return NULL;
	w->blk = 0;
	w->val = 0;
	w->lv0 = 0;
	w->hi = 0;
	w->lo = 0;
	for (i = 0; i < 8; i++) {
		w->hi = w->hi << 8 | d[i];
		w->lo = w->lo << 8 | d[8 + i];
	}
	if (bits && bits <= DF_DIR_MAX_BITS) {
		dir = bpf_map_lookup_elem(&df_dir6_o, &w->gen);
		if (!dir || df_slot(dir, (__u32)(w->hi >> (64 - bits)), &e))
			return NULL;
		if (e & DF_DIR_FINAL) {
			w->val = e & ~DF_DIR_FINAL;
		} else {
			w->lv0 = e >> DF_DIR_LEVEL_SHIFT;
			w->blk = e & DF_DIR_NODE_MASK;
		}
	}
	if (!(e & DF_DIR_FINAL) && w->lv0 < levels)
		bpf_loop(levels - w->lv0, df_rng_cb, w, 0);
	lv = bpf_map_lookup_elem(&df_lv_o, &w->gen);
	if (!w->val || !lv)
		return NULL;
	idx = w->val - 1;
	return bpf_map_lookup_elem(lv, &idx);
}

/* ---- classify -------------------------------------------------------------- */

static __always_inline __u64 df_sel_lookup(void *sel, __u32 kind, __u32 uid, __u64 cg)
{
	struct df_sel_key k = { .kind = kind, .uid = uid, .cgroup_id = cg };
	__u64 *v = bpf_map_lookup_elem(sel, &k);

	return v ? *v : 0;
}

struct df_sel_scan {
	__u32 gen;
	__u32 mark;
	__u16 sport;
	__u16 pad;
	__u32 pad2;
	__u64 cls;
};

static long df_mark_cb(__u32 i, void *ctx)
{
	struct df_sel_scan *s = ctx;
	const struct df_cfg *cfg = df_cfg_of(s->gen);

	if (!cfg)
		return 1;
	i &= DF_MAX_MARK_RULES - 1; /* bpf_loop's count is bounded; tell the verifier */
	if ((s->mark & cfg->marks[i].mask) == cfg->marks[i].value)
		s->cls |= cfg->marks[i].classes;
	return 0;
}

static long df_lport_cb(__u32 i, void *ctx)
{
	struct df_sel_scan *s = ctx;
	const struct df_cfg *cfg = df_cfg_of(s->gen);

	if (!cfg)
		return 1;
	i &= DF_MAX_LPORT_RULES - 1;
	if (s->sport >= cfg->lports[i].lo && s->sport <= cfg->lports[i].hi)
		s->cls |= cfg->lports[i].classes;
	return 0;
}

/* Classes from the packet itself and the per-policy tables: all, marks,
 * local ports, local addresses. (Socket classes come from the hook.) */
static __always_inline __u64 df_classify_packet(const struct df_cfg *cfg, __u32 gen, void *src,
						struct df_facts *f)
{
	struct df_sel_scan s = { .gen = gen, .mark = f->mark, .sport = f->sport,
				 .cls = cfg->hdr.all_mask };
	__u32 n;

	n = cfg->hdr.n_marks;
	if (n)
		bpf_loop(n > DF_MAX_MARK_RULES ? DF_MAX_MARK_RULES : n, df_mark_cb, &s, 0);
	n = cfg->hdr.n_lports;
	if (n)
		bpf_loop(n > DF_MAX_LPORT_RULES ? DF_MAX_LPORT_RULES : n, df_lport_cb, &s, 0);
	if ((cfg->flags & DF_CFG_HAS_SRC) && src && f->family) {
		struct df_src_key k = { .prefixlen = 8 + 128, .family = f->family };
		__u64 *v;

		__builtin_memcpy(k.addr, f->saddr, 16);
		df_unmap(&k.family, k.addr);
		if (k.family == 4)
			k.prefixlen = 8 + 32;
		v = bpf_map_lookup_elem(src, &k);
		if (v)
			s.cls |= *v;
	}
	return s.cls;
}

/* ---- a policy generation, the classes of an owner ---------------------------- */

static __always_inline int df_load_gen(__u32 gen, struct df_gen *g)
{
	g->cfg = df_cfg_of(gen);
	if (!g->cfg)
		return -1;
	g->src = bpf_map_lookup_elem(&df_src_o, &gen);
	g->sel = bpf_map_lookup_elem(&df_sel_o, &gen);
	return 0;
}

/* A swap's tag: its sequence and the generation it made active, read
 * together by the packet. Per-socket views and the class cache hold the tag
 * they were filled under: the state is written in one update that a packet
 * may read half old, and a cache filled with the old generation under the
 * new sequence would outlive the swap; with the generation in the tag such
 * a mixed reading names no swap and is never met again. */
static __always_inline __u64 df_tag(const struct df_state *st, __u32 gen)
{
	return st->seq << 1 | (gen & 1);
}

/* The state's tag now, for a cache check outside df_decide. */
static __always_inline __u64 df_state_tag(const struct df_state *st)
{
	return df_tag(st, *(const volatile __u32 *)&st->gen);
}

/* ---- a view's lock ------------------------------------------------------------------
 * A socket's views (and the fast slots' copies) are written by whichever
 * CPU judges one of its packets or calls, while other CPUs read them: two
 * threads of a process on one socket write one view at once. The lock is a
 * sequence: a writer takes it from even to odd by compare-and-swap (one
 * writer; one that finds it taken does not cache) and back to even when
 * done; a reader uses what it read only when the lock was even before and
 * the same after. x86 keeps loads in order and stores in order, so the
 * compiler barrier is all the reader needs (the build targets x86). */
static __always_inline __u32 df_view_lock(const struct df_sk_view *v)
{
	return *(const volatile __u32 *)&v->lock;
}

/* Were the reads since df_view_lock() gave `lock` of one stable view? */
static __always_inline bool df_view_stable(const struct df_sk_view *v, __u32 lock)
{
	asm volatile("" ::: "memory");
	return !(lock & 1) && *(const volatile __u32 *)&v->lock == lock;
}

/* The writers' atomics are 64-bit (what the BPF target has without
 * -mcpu=v3): on the word of task_uid and lock, lock its high half (x86 is
 * little-endian). task_uid changes only under the lock, so a writer's
 * compare-and-swap fails only when another took it first. */
#define DF_LOCK_ONE (1ULL << 32)

static __always_inline bool df_view_take(struct df_sk_view *v)
{
	__u64 *word = (__u64 *)&v->task_uid;
	__u64 w = *(volatile __u64 *)word;

	return !(w & DF_LOCK_ONE) && __sync_val_compare_and_swap(word, w, w + DF_LOCK_ONE) == w;
}

static __always_inline void df_view_give(struct df_sk_view *v)
{
	__sync_fetch_and_add((__u64 *)&v->task_uid, DF_LOCK_ONE);
}

/* Where a cgroup's ancestors are read from. */
enum df_anc_src { DF_ANC_SKB, DF_ANC_TASK, DF_ANC_OWNER };

/* The classes of a cgroup (through its ancestors, root first: a selector
 * covers its subtree) and of a uid. */
static __always_inline __u64 df_owner_classes(const struct df_gen *g, void *ctx,
					      enum df_anc_src src, const __u64 *anc, __u32 uid)
{
	__u64 cls = 0;
	int lvl;

	if (!(g->cfg->flags & DF_CFG_HAS_SEL) || !g->sel)
		return 0;
	if (uid != DF_UID_NONE)
		cls |= df_sel_lookup(g->sel, DF_SEL_UID, uid, 0);
	for (lvl = 0; lvl <= DF_MAX_CG_LEVEL; lvl++) {
		__u64 id;

		if (lvl > g->cfg->max_cg_level)
			break;
		if (src == DF_ANC_SKB)
			id = bpf_skb_ancestor_cgroup_id(ctx, lvl);
		else if (src == DF_ANC_TASK)
			id = bpf_get_current_ancestor_cgroup_id(lvl);
		else
			id = anc[lvl];
		if (!id)
			break;
		cls |= df_sel_lookup(g->sel, DF_SEL_CGROUP, 0, id);
	}
	return cls;
}

/* df_owner_classes through df_cls_cache: a cgroup's classes are the same
 * for every socket and task in it under one swap, so a new socket costs one
 * lookup, not one per ancestor. leaf: the cgroup's id (the deepest of anc
 * for DF_ANC_OWNER); tag: the swap g was read under. */
static __always_inline __u64 df_owner_classes_cached(const struct df_gen *g, void *ctx,
						     enum df_anc_src src, const __u64 *anc,
						     __u32 uid, __u64 leaf, __u64 tag)
{
	struct df_cls_key k = { .cgroup_id = leaf, .uid = uid };
	struct df_cls_val *v, nv = { .tag = tag };

	if (!(g->cfg->flags & DF_CFG_HAS_SEL) || !g->sel)
		return 0;
	v = bpf_map_lookup_elem(&df_cls_cache, &k);
	if (v && v->tag == tag)
		return v->classes;
	nv.classes = df_owner_classes(g, ctx, src, anc, uid);
	if (leaf) /* no cgroup (a test run's socket): nothing to name it by */
		bpf_map_update_elem(&df_cls_cache, &k, &nv, BPF_ANY);
	return nv.classes;
}

/* ---- lookup + judge ----------------------------------------------------------- */

static __always_inline __u64 df_lowest(__u64 m)
{
	return m & (~m + 1);
}

/* Trailing zeros, without branches (each branch would double the states
 * the verifier walks): the popcount of the bits below the lowest set one.
 * 0 gives 64, which is DF_MAX_CLASSES, the "no class" slot. */
static __always_inline int df_ctz(__u64 m)
{
	__u64 v = (m & (~m + 1)) - 1;

	v = v - ((v >> 1) & 0x5555555555555555ULL);
	v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
	v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (int)((v * 0x0101010101010101ULL) >> 56);
}

/* One bounded scan over a leaf's entries. bpf_loop keeps verification
 * linear (the verifier checks the callback once, not 64 unrolled bodies);
 * the callback finds the entry map again from the generation number. */
struct df_scan {
	struct df_rng_walk w; /* first: the IPv6 walk (w.gen is the generation) */
	__u32 first;
	__u8 ci;        /* second pass: the deciding class's bit */
	__u64 now;      /* unix seconds */
	__u16 dport;
	__u8 pbit;
	__u8 ported;
	__u8 no_ports;
	__u8 want;      /* second pass: which role names the rule */
	__u16 rule;
	__u64 sat_dest, sat_exc, inactive, proto_ok, class_ok, unknown, until;
};

static __always_inline const struct df_entry *df_scan_entry(struct df_scan *s, __u32 i)
{
	void *ent = bpf_map_lookup_elem(&df_ent_o, &s->w.gen);
	__u32 idx = s->first + i;

	return ent ? bpf_map_lookup_elem(ent, &idx) : NULL;
}

static __always_inline bool df_port_match(const struct df_scan *s, const struct df_entry *e)
{
	if (!s->ported || (e->port_lo == 0 && e->port_hi == 0xffff))
		return true;
	return !s->no_ports && s->dport >= e->port_lo && s->dport <= e->port_hi;
}

static long df_scan_cb(__u32 i, void *ctx)
{
	struct df_scan *s = ctx;
	const struct df_entry *e = df_scan_entry(s, i);
	bool proto, port;

	if (!e)
		return 1;
	proto = e->protos & s->pbit;
	port = df_port_match(s, e);
	/* a fragment without ports, judged by a port-limited rule */
	if (proto && s->ported && s->no_ports && !(e->port_lo == 0 && e->port_hi == 0xffff))
		s->unknown |= e->classes;
	if (e->kind == DF_RULE_DEST) {
		s->class_ok |= e->classes;
		if (proto)
			s->proto_ok |= e->classes;
		if (proto && port)
			s->sat_dest |= e->classes;
	} else if (proto && port) {
		if (e->not_before <= s->now && s->now < e->expires) {
			s->sat_exc |= e->classes;
			if (e->expires < s->until)
				s->until = e->expires;
		} else {
			s->inactive |= e->classes;
			if (s->now < e->not_before && e->not_before < s->until)
				s->until = e->not_before;
		}
	}
	return 0;
}

/* Second pass: the first entry (policy order) playing the deciding role. */
static long df_rule_cb(__u32 i, void *ctx)
{
	struct df_scan *s = ctx;
	const struct df_entry *e = df_scan_entry(s, i);
	bool proto, port, active, hit;

	if (!e)
		return 1;
	if (!((e->classes >> (s->ci & 63)) & 1))
		return 0;
	proto = e->protos & s->pbit;
	port = df_port_match(s, e);
	active = e->not_before <= s->now && s->now < e->expires;
	switch (s->want) {
	case 0: hit = e->kind == DF_RULE_DEST && proto && port; break;
	case 1: hit = e->kind == DF_RULE_EXCEPTION && proto && port && active; break;
	case 2: hit = e->kind == DF_RULE_EXCEPTION && proto && port && !active; break;
	case 3: hit = e->kind == DF_RULE_DEST && proto; break;
	default: hit = e->kind == DF_RULE_DEST; break;
	}
	if (!hit)
		return 0;
	s->rule = e->rule;
	return 1;
}

/* Step 2: loopback passes (policy switch), through the loopback device. */
static __always_inline bool df_loopback_exempt(const struct df_cfg *cfg, const struct df_facts *f)
{
	return (cfg->hdr.flags & DF_POL_ALLOW_LOOPBACK) && f->family &&
	       !(f->flags & DF_PKT_NOT_LO) && df_is_loopback(f->family, f->daddr);
}

/* Steps 2-6 for a classified packet (step 1 already applied to f->daddr).
 * now_ns: wall clock; exception windows are in seconds. */
static __always_inline void df_judge(const struct df_cfg *cfg, __u32 gen, struct df_facts *f,
				     __u64 classes, __u64 now_ns, struct df_res *r)
{
	const struct df_leaf *leaf = NULL;
	struct df_scan s = {
		.w.gen = gen,
		.now = now_ns / 1000000000ULL,
		.dport = f->dport,
		.pbit = df_proto_bit(f->proto),
		.no_ports = !!(f->flags & DF_PKT_NO_PORTS),
		.rule = DF_NO_RULE,
		/* a cached verdict's bound, from the map: the verifier sees one
		 * unknown value where a constant ~0 split every state after the
		 * scan in two (cgroup_skb 187k -> 156k instructions processed) */
		.until = cfg->hdr.cache_until,
	};
	__u64 c;
	__u32 count;

	s.ported = !!(s.pbit & DF_P_PORTED);
	r->verdict = DF_ALLOW;
	r->rule = DF_NO_RULE;
	r->classes = classes;
	r->slot = (__u8)df_ctz(classes); /* no class: DF_MAX_CLASSES */
	r->until_ns = ~0ULL;

	/* 2. Loopback passes (policy switch), through the loopback device. */
	if (df_loopback_exempt(cfg, f)) {
		r->reason = DF_R_LOOPBACK;
		return;
	}
	/* 3. No class: not protected data. */
	if (!classes) {
		r->reason = DF_R_UNCLASSIFIED;
		return;
	}
	/* (3a, the dead-man posture, is df_decide's, before the cache and
	 * this judge) */
	/* Fail closed: a protected packet we cannot parse. */
	if (f->flags & DF_PKT_MALFORMED) {
		r->verdict = classes & cfg->hdr.enforce_mask ? DF_DROP : DF_WOULD_DROP;
		r->reason = DF_R_MALFORMED;
		r->slot = (__u8)df_ctz(classes & cfg->hdr.enforce_mask ?
					       classes & cfg->hdr.enforce_mask : classes);
		return;
	}

	/* 4. One longest-prefix lookup (stride table for IPv4, range tree for
	 * IPv6); the leaf lists every rule that applies here. */
	if (f->family == 4) {
		leaf = df_lookup4(gen, f->daddr);
	} else {
		leaf = df_lookup6(cfg, &s.w, f->daddr);
	}
	count = leaf ? leaf->count : 0;
	if (count > DF_MAX_LEAF_ENTRIES)
		count = DF_MAX_LEAF_ENTRIES;
	s.first = leaf ? leaf->first : 0;
	if (count)
		bpf_loop(count, df_scan_cb, &s, 0);
	if (s.until != ~0ULL)
		r->until_ns = s.until * 1000000000ULL;

	__u64 unsat = classes & ~(s.sat_dest | s.sat_exc);

	if (!unsat) {
		/* 5. Every class satisfied. */
		if (classes & ~s.sat_dest) {
			r->reason = DF_R_EXCEPTION;
			c = df_lowest(classes & ~s.sat_dest);
			s.want = 1;
		} else {
			r->reason = DF_R_DESTINATION;
			c = df_lowest(classes);
			s.want = 0;
		}
	} else {
		/* 6. The first unsatisfied class of the deciding mode. */
		__u64 enf = unsat & cfg->hdr.enforce_mask;

		r->verdict = enf ? DF_DROP : DF_WOULD_DROP;
		c = df_lowest(enf ? enf : unsat);
		r->slot = (__u8)df_ctz(c);
		if (s.unknown & c) {
			r->reason = DF_R_MALFORMED; /* its port decides, and is unknown */
			return;
		} else if (s.inactive & c) {
			r->reason = DF_R_EXCEPTION_INACTIVE;
			s.want = 2;
		} else if (s.proto_ok & c) {
			r->reason = DF_R_PORT_NOT_ALLOWED;
			s.want = 3;
		} else if (s.class_ok & c) {
			r->reason = DF_R_PROTOCOL_NOT_ALLOWED;
			s.want = 4;
		} else {
			r->reason = leaf && (leaf->flags & DF_LEAF_ANY_DEST) ?
					    DF_R_CLASS_NOT_ALLOWED : DF_R_NO_DESTINATION;
			return;
		}
	}
	s.ci = (__u8)df_ctz(c);
	if (count)
		bpf_loop(count, df_rule_cb, &s, 0);
	r->rule = s.rule;
}

/* The judge as a global function: the verifier checks it once per program,
 * on its own, with f's facts unknown, instead of once more for every state
 * a hook reaches it in (which multiplied the cgroup_skb and tc programs'
 * verification: the start time). The generation's maps are looked up from
 * its number (map pointers cannot cross a global call); should it be gone
 * since the caller found it, a classified packet is dropped (fail closed:
 * no destination). */
__noinline int df_judge_gen(__u32 gen, struct df_facts *f, __u64 classes, __u64 now_ns,
			    struct df_res *r)
{
	const struct df_cfg *cfg;

	if (!f || !r)
		return -1;
	gen &= 1;
	cfg = df_cfg_of(gen);
	if (!cfg) {
		r->verdict = classes ? DF_DROP : DF_ALLOW;
		r->reason = classes ? DF_R_NO_DESTINATION : DF_R_UNCLASSIFIED;
		r->classes = classes;
		r->slot = (__u8)df_ctz(classes);
		r->rule = DF_NO_RULE;
		r->until_ns = 0;
		return -1;
	}
	df_judge(cfg, gen, f, classes, now_ns, r);
	return 0;
}

#endif
