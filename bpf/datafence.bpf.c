// SPDX-License-Identifier: GPL-2.0-only
/* datafence kernel side: the hooks (cgroup_skb egress, tc egress,
 * connect4/6, sendmsg4/6; sock_create records a socket's maker), each a
 * thin wrapper around the pipeline in pipeline.h; every map is in maps.h. */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "datafence.h"

#define AF_INET 2
#define AF_INET6 10

#include "maps.h"

/* Test knob (load time): record each verdict in df_last so the datapath
 * tests can compare verdict, reason and rule with the emulator. */
const volatile bool df_record_last = false;

/* Load-time knob of `datafencectl test`'s private instance (never the
 * attached one): take classes, uid and time from skb->cb (the test run's
 * context), count nothing, report nothing. */
const volatile bool df_test_mode = false;

#include "pipeline.h"

#include "report.h"

/* ---- the shared verdict entry ------------------------------------------------------- */

/* The maker's own cgroup: the deepest ancestor recorded at socket(). */
static __always_inline __u64 df_owner_leaf(const struct df_sk_cache *sc)
{
	__u64 leaf = 0;

	for (int lvl = 0; lvl <= DF_MAX_CG_LEVEL; lvl++)
		if (sc->owner_cgroup[lvl])
			leaf = sc->owner_cgroup[lvl];
	return leaf;
}

/* The socket's classes, per swap, in the hook's own view. The skb hooks:
 * the packet's socket (its cgroup, its owner's uid in f->uid). The call
 * hooks: the owner recorded at socket() and the calling task (cgroup, uid)
 * together, so neither a socket handed to another task nor a task holding
 * another's socket leaves the protected classes. */
static __always_inline __u64 df_sock_classes(const struct df_gen *g, struct df_sk_cache *sc,
					     __u64 tag, struct df_facts *f, void *ctx,
					     int kind)
{
	bool held = kind & DF_VIEW_HELD;
	struct df_sk_view *v = NULL;
	__u64 cls, task_cg = 0;
	__u32 task_uid = 0;

	kind &= ~DF_VIEW_HELD;
	if (held && sc)
		v = &sc->view[kind];

	if (kind == DF_VIEW_CALL) {
		task_cg = bpf_get_current_cgroup_id();
		task_uid = (__u32)bpf_get_current_uid_gid();
	}
	if (v && v->valid && v->seq == tag &&
	    (kind == DF_VIEW_SKB || (v->task_cgroup == task_cg && v->task_uid == task_uid)))
		return v->sock_classes;
	if (kind == DF_VIEW_SKB)
		cls = df_owner_classes_cached(g, ctx, DF_ANC_SKB, NULL, f->uid, f->cgroup_id, tag);
	else
		cls = df_owner_classes_cached(g, ctx, DF_ANC_TASK, NULL, task_uid, task_cg, tag);
	if (kind == DF_VIEW_CALL && sc && sc->owner_valid) {
		/* the maker's record is written once, at socket(); its classes
		 * are remembered under the call view's lock */
		__u64 oc;

		if (held && sc->owner_seq == tag) {
			oc = sc->owner_classes;
		} else {
			__u64 leaf = df_owner_leaf(sc);

			/* the common socket: its maker calls (the same classes) */
			oc = leaf == task_cg && sc->owner_uid == task_uid ?
				cls : df_owner_classes_cached(g, ctx, DF_ANC_OWNER, sc->owner_cgroup,
							      sc->owner_uid, leaf, tag);
			if (held) {
				sc->owner_classes = oc;
				sc->owner_seq = tag;
			}
		}
		cls |= oc;
	}
	if (v) {
		v->seq = tag;
		v->sock_classes = cls;
		v->task_cgroup = task_cg;
		v->task_uid = task_uid;
		v->valid = 1;
	}
	return cls;
}

static __always_inline bool df_addr_eq(const __u8 *a, const __u8 *b)
{
	const __u32 *x = (const __u32 *)a, *y = (const __u32 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
}

static __always_inline bool df_cache_hit(const struct df_sk_view *v, __u64 tag,
					 const struct df_facts *f, __u64 classes, __u64 now_ns)
{
	return v && v->valid == 2 && v->seq == tag && v->classes == classes &&
	       v->flags == (f->flags & DF_PKT_NOT_LO) &&
	       v->family == f->family && v->proto == f->proto && v->dport == f->dport &&
	       v->sport == f->sport && v->mark == f->mark &&
	       now_ns < v->until_ns && !(f->flags & (DF_PKT_NO_PORTS | DF_PKT_MALFORMED)) &&
	       df_addr_eq(v->daddr, f->daddr) && df_addr_eq(v->saddr, f->saddr);
}

/* Did this socket's connect() or sendmsg() allow the packet's flow under
 * this swap (the call view: the same classes, destination, protocol and
 * port, before its time bound)? The judge would say the same of the
 * packet, but for a loopback exemption, which the call takes for a
 * loopback address and the packet only through the loopback device; a
 * packet without ports or unparsed is judged. */
static __always_inline bool df_call_allowed(const struct df_sk_cache *sc, __u64 tag,
					    const struct df_facts *f, __u64 classes, __u64 now_ns,
					    struct df_res *rp)
{
	const struct df_sk_view *c;
	__u64 until;
	__u32 lock;
	__u16 rule;
	__u8 reason;
	bool ok;

	if (!sc)
		return false;
	c = &sc->view[DF_VIEW_CALL]; /* another hook's view: read under its lock */
	lock = df_view_lock(c);
	ok = c->valid == 2 && c->seq == tag && c->verdict == DF_ALLOW &&
	     c->classes == classes && c->family == f->family && c->proto == f->proto &&
	     c->dport == f->dport && now_ns < c->until_ns &&
	     !(f->flags & (DF_PKT_NO_PORTS | DF_PKT_MALFORMED)) &&
	     !(c->reason == DF_R_LOOPBACK && (f->flags & DF_PKT_NOT_LO)) &&
	     df_addr_eq(c->daddr, f->daddr);
	reason = c->reason;
	rule = c->rule;
	until = c->until_ns;
	if (!ok || !df_view_stable(c, lock))
		return false;
	rp->verdict = DF_ALLOW;
	rp->reason = reason;
	rp->rule = rule;
	rp->slot = (__u8)df_ctz(classes);
	rp->classes = classes;
	rp->until_ns = until;
	return true;
}

/* Verdict step 3a's reason under stale_posture "drop-protected" (0: none):
 * the policy past its expires (now_ns: wall clock), or the agent's heartbeat
 * older than stale_after (boot_ns: CLOCK_BOOTTIME, the heartbeat's clock). */
static __always_inline __u32 df_posture(const struct df_cfg *cfg, const struct df_state *st,
					__u64 now_ns, __u64 boot_ns)
{
	if (cfg->hdr.expires > 0 && (__s64)(now_ns / 1000000000ULL) >= cfg->hdr.expires)
		return DF_R_POLICY_EXPIRED;
	if (cfg->hdr.stale_after && boot_ns - st->heartbeat_ns > cfg->hdr.stale_after * 1000000000ULL)
		return DF_R_AGENT_STALE;
	return 0;
}

/* Step 3a's verdict: drop, would-drop when every class audits, no rule. */
static __always_inline void df_posture_verdict(const struct df_cfg *cfg, __u64 classes, __u32 why,
					       struct df_res *r)
{
	__u64 enf = classes & cfg->hdr.enforce_mask;

	r->verdict = enf ? DF_DROP : DF_WOULD_DROP;
	r->reason = (__u8)why;
	r->slot = (__u8)df_ctz(enf ? enf : classes);
	r->rule = DF_NO_RULE;
	r->classes = classes;
	r->until_ns = 0;
}

/* Judges one packet or call; returns the verdict. sk_ctx/kind say where the
 * socket's cgroup comes from (0: the skb's socket, 1: the calling task), or
 * NULL without a socket. */
struct df_out {
	struct df_res r;
	__u64 now_ns;
};

/* The packet's classes under generation f->gen: its socket's (sk_ctx/kind:
 * where the socket's cgroup comes from), the packet's own (marks, local
 * ports and addresses), the test knob's. A subprogram of its own: its frame
 * (the selector scans, the source-address key) is gone before the judge's
 * is on the stack, which keeps the chain within 512 bytes. */
static __noinline __u64 df_classes(struct df_facts *f, struct df_sk_cache *sc, void *sk_ctx,
				   int kind, __u64 tag)
{
	struct df_gen g = {};
	__u64 classes = 0;

	if (df_load_gen(f->gen, &g))
		return 0;
	if (sk_ctx)
		classes = df_sock_classes(&g, sc, tag, f, sk_ctx, kind);
	classes |= df_classify_packet(g.cfg, f->gen, g.src, f);
	if (df_test_mode)
		classes |= f->test_classes;
	return classes;
}

/* A subprogram (not inlined) so the hook's, this and the callbacks' stack
 * frames stay within 512 bytes together. Returns 1 when a drop event is
 * due (the hook reports it: df_report's frame then sits beside this one). */
static __noinline int df_decide(struct df_facts *f, struct df_sk_cache *sc, void *sk_ctx,
				int kind, struct df_out *o)
{
	__u32 zero = 0;
	struct df_state *st = bpf_map_lookup_elem(&df_state, &zero);
	struct df_res *rp = &o->r;
	const struct df_cfg *cfg;
	struct df_sk_view *v = sc ? &sc->view[kind] : NULL;
	__u64 now_ns, boot_ns, classes, tag;
	__u32 gen;

	o->r.verdict = DF_ALLOW;
	if (!st)
		return 0;
	gen = *(volatile __u32 *)&st->gen & 1; /* read once: one policy per packet */
	tag = df_tag(st, gen);
	cfg = df_cfg_of(gen);
	if (!cfg) {
		df_misc_add(DF_MISC_NO_POLICY, 1);
		return 0; /* nothing loaded yet: nothing to enforce */
	}
	f->gen = (__u8)gen;
	if (v && !df_view_take(v))
		v = NULL; /* another CPU writes it: judged without it */
	boot_ns = bpf_ktime_get_boot_ns();
	now_ns = boot_ns + st->clock_offset_ns;
	if (df_test_mode && f->test_now_s)
		now_ns = f->test_now_s * 1000000000ULL + 500000000ULL;
	classes = df_classes(f, sc, sk_ctx, v ? kind | DF_VIEW_HELD : kind, tag);
	df_unmap(&f->family, f->daddr);

	__u32 cnt_idx, why = 0;

	/* 3a. The dead-man posture, before anything is looked up or cached: a
	 * classified packet that earns no loopback exemption is dropped (a
	 * short path of its own: the judge's states do not carry it). */
	if (classes && (cfg->hdr.flags & DF_POL_DROP_STALE) && !df_loopback_exempt(cfg, f))
		why = df_posture(cfg, st, now_ns, boot_ns);
	if (why) {
		df_posture_verdict(cfg, classes, why, rp);
		cnt_idx = df_cnt_index(f->hook, rp);
	} else if (df_cache_hit(v, tag, f, classes, now_ns)) {
		rp->verdict = v->verdict;
		rp->reason = v->reason;
		rp->rule = v->rule;
		rp->classes = classes;
		cnt_idx = df_cnt_index(f->hook, rp);
	} else {
		/* or the connect() this flow began with allowed it */
		if (kind != DF_VIEW_SKB || !df_call_allowed(sc, tag, f, classes, now_ns, rp))
			df_judge_gen(gen, f, classes, now_ns, rp);
		cnt_idx = df_cnt_index(f->hook, rp);
		if (v && !(f->flags & (DF_PKT_NO_PORTS | DF_PKT_MALFORMED))) {
			v->classes = classes;
			v->family = f->family;
			v->proto = f->proto;
			v->dport = f->dport;
			v->sport = f->sport;
			v->mark = f->mark;
			v->flags = f->flags & DF_PKT_NOT_LO;
			__builtin_memcpy(v->daddr, f->daddr, 16);
			__builtin_memcpy(v->saddr, f->saddr, 16);
			v->verdict = rp->verdict;
			v->reason = rp->reason;
			v->rule = rp->rule;
			v->until_ns = rp->until_ns;
			v->cnt_idx = cnt_idx;
			v->valid = 2;
		}
	}
	if (v)
		df_view_give(v);
	if (df_record_last)
		bpf_map_update_elem(&df_last, &zero, rp, BPF_ANY);
	if (df_test_mode)
		return 0;
	df_count(cnt_idx, rp->rule, f->len);
	o->now_ns = now_ns;
	return rp->verdict != DF_ALLOW;
}

/* Decide, report a drop, return the verdict (and the packet's classes). */
static __always_inline int df_verdict(struct df_facts *f, struct df_sk_cache *sc, void *sk_ctx,
				      int kind, __u64 *classes)
{
	struct df_out o = {};
	__u32 zero = 0;

	if (df_decide(f, sc, sk_ctx, kind, &o)) {
		struct df_state *st = bpf_map_lookup_elem(&df_state, &zero);

		if (st)
			df_report(f, &o.r, st, o.now_ns, sc ? &sc->view[kind] : NULL);
	}
	if (classes)
		*classes = o.r.classes;
	return o.r.verdict;
}

/* ---- hooks --------------------------------------------------------------------------- */

/* pid and comm only when the task running is the socket's owner group. */
static __always_inline void df_task_facts_skb(struct __sk_buff *skb, struct df_facts *f)
{
	f->cgroup_id = bpf_skb_cgroup_id(skb);
	if (f->cgroup_id && bpf_get_current_cgroup_id() == f->cgroup_id)
		f->pid = bpf_get_current_pid_tgid() >> 32;
}

/* Does the IP header at ip (family 4 or 6, in the linear data before end)
 * carry the view's flow: its addresses, protocol and ports, with no IPv4
 * options, IPv6 extension header or fragment? Direct reads, no helpers. */
static __always_inline bool df_hdr_is_view(void *ip, void *end, __u8 family,
					   const struct df_sk_view *v)
{
	__u16 *ports;
	__u8 proto;

	if (family == 4) {
		struct iphdr *h = ip;

		if ((void *)(h + 1) > end || h->ihl != 5 || v->family != 4 ||
		    (h->frag_off & bpf_htons(0x1fff)) ||
		    h->daddr != *(__u32 *)v->daddr || h->saddr != *(__u32 *)v->saddr)
			return false;
		proto = h->protocol;
		ports = (void *)(h + 1);
	} else if (family == 6) {
		struct ipv6hdr *h6 = ip;

		if ((void *)(h6 + 1) > end || v->family != 6 ||
		    !df_addr_eq((__u8 *)&h6->daddr, v->daddr) ||
		    !df_addr_eq((__u8 *)&h6->saddr, v->saddr))
			return false;
		proto = h6->nexthdr;
		ports = (void *)(h6 + 1);
	} else {
		return false;
	}
	if (proto != v->proto)
		return false;
	if (df_proto_bit(proto) & DF_P_PORTED)
		return (void *)(ports + 2) <= end && bpf_ntohs(ports[0]) == v->sport &&
		       bpf_ntohs(ports[1]) == v->dport;
	return true;
}

/* The fast path of a connected flow: when this packet repeats every fact
 * of the socket's last verdict under the same policy, count it and apply
 * the verdict; no parse helpers, classify or lookup. A repeated drop is
 * folded into the flow's next event while its last one is under a second
 * old. Anything else (a new destination, IPv4 options, IPv6 extension
 * headers, fragments, a swap, a time bound passed, a drop due for an event)
 * takes the full path. Returns the verdict, or -1. With a fast slot (sc is
 * its view; only allows go in), the slot must be the socket's (cookie). */
static __always_inline int df_fast_path(struct __sk_buff *skb, struct df_sk_view *sc,
					const struct df_fast_slot *slot, __u64 cookie)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 zero = 0, idx, lock = df_view_lock(sc);
	struct df_state *st;
	__u16 rule;
	__u8 verdict;

	if ((lock & 1) || (slot && slot->cookie != cookie))
		return -1;
	if (sc->valid != 2 || sc->mark != skb->mark ||
	    (sc->verdict != DF_ALLOW && !sc->last_report_ns) ||
	    !!(sc->flags & DF_PKT_NOT_LO) != (skb->ifindex != DF_LOOPBACK_IFINDEX))
		return -1;
	st = bpf_map_lookup_elem(&df_state, &zero);
	if (!st || df_state_tag(st) != sc->seq)
		return -1;
	if (!df_hdr_is_view(data, end, skb->protocol == bpf_htons(ETH_P_IP) ? 4 :
				       skb->protocol == bpf_htons(ETH_P_IPV6) ? 6 : 0, sc))
		return -1;
	if (sc->until_ns != ~0ULL &&
	    bpf_ktime_get_boot_ns() + st->clock_offset_ns >= sc->until_ns)
		return -1;
	verdict = sc->verdict;
	idx = sc->cnt_idx;
	rule = sc->rule;
	if (!df_view_stable(sc, lock))
		return -1;
	if (verdict != DF_ALLOW) {
		/* jiffies: the cheap clock, good enough for a one-second limiter */
		if (!st->hz || bpf_jiffies64() - sc->last_report_jiffies >= st->hz)
			return -1; /* an event is due: the full path reports it */
		__sync_fetch_and_add(&sc->suppressed, 1);
		df_misc_add(DF_MISC_EVENTS_SUPPRESSED, 1);
	}
	df_count(idx, rule, skb->len);
	if (df_record_last) {
		struct df_res r = { .verdict = verdict, .reason = sc->reason, .rule = rule,
				    .classes = sc->classes };

		/* the slot back out of the counter index */
		r.slot = (__u8)(idx / (DF_VERDICT__MAX * DF_REASON__MAX) % (DF_MAX_CLASSES + 1));

		bpf_map_update_elem(&df_last, &zero, &r, BPF_ANY);
	}
	return verdict;
}

/* ---- the fast slots: an allowed flow's view where the fast paths find it ------------ */

/* This CPU's fast slot of a socket (by its cookie: unique, never reused). */
static __always_inline struct df_fast_slot *df_slot_of(__u64 cookie)
{
	__u32 i = (__u32)cookie & (DF_FAST_SLOTS - 1);

	return cookie ? bpf_map_lookup_elem(&df_fast_slots, &i) : NULL;
}

/* The socket's view into its slot when it allows (read under the view's
 * lock; anything else leaves the slot empty). A slot being written (this
 * program interrupted or preempted a writer on the same CPU) is left alone. */
static __always_inline void df_slot_put(struct df_fast_slot *slot, __u64 cookie,
					const struct df_sk_view *v)
{
	const __u32 at = __builtin_offsetof(struct df_sk_view, lock), after = at + 4;
	__u32 lock;

	if (!df_view_take(&slot->v))
		return;
	lock = df_view_lock(v);
	slot->cookie = cookie;
	/* every field but the slot's own lock */
	__builtin_memcpy(&slot->v, v, at);
	__builtin_memcpy((__u8 *)&slot->v + after, (const __u8 *)v + after, sizeof(*v) - after);
	if (!df_view_stable(v, lock) || slot->v.valid != 2 || slot->v.verdict != DF_ALLOW)
		slot->cookie = 0;
	df_view_give(&slot->v);
}

SEC("cgroup_skb/egress")
int df_cgroup_skb(struct __sk_buff *skb)
{
	struct df_facts f = { .hook = DF_HOOK_CGROUP_SKB, .uid = DF_UID_NONE };
	struct df_sk_cache *sc = NULL;
	struct df_fast_slot *slot = NULL;
	struct bpf_sock *sk;
	__u64 cookie = 0;
	int v;

	sk = skb->sk;
	if (sk)
		sk = bpf_sk_fullsock(sk);
	if (sk && !df_test_mode) {
		/* an allowed flow: its slot, without the socket's storage */
		cookie = bpf_get_socket_cookie(skb);
		slot = df_slot_of(cookie);
		if (slot && df_fast_path(skb, &slot->v, slot, cookie) == DF_ALLOW)
			return 1;
		sc = bpf_sk_storage_get(&df_sk_cache, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (sc) {
			v = df_fast_path(skb, &sc->view[DF_VIEW_SKB], NULL, 0);
			if (v >= 0) {
				if (slot && v == DF_ALLOW)
					df_slot_put(slot, cookie, &sc->view[DF_VIEW_SKB]);
				return v == DF_DROP ? 0 : 1;
			}
		}
	}
	df_parse_skb(skb, &f);
	if (!f.family)
		return 1;
	f.mark = skb->mark;
	f.ifindex = skb->ifindex;
	if (skb->ifindex != DF_LOOPBACK_IFINDEX)
		f.flags |= DF_PKT_NOT_LO;
	if (sk) {
		f.uid = bpf_get_socket_uid(skb);
		df_task_facts_skb(skb, &f);
	}
	if (df_test_mode) {
		f.test_classes = (__u64)skb->cb[1] << 32 | skb->cb[0];
		f.uid = skb->cb[2];
		f.test_now_s = (__u64)skb->cb[4] << 32 | skb->cb[3];
	}
	v = df_verdict(&f, sc, sk ? (void *)skb : NULL, DF_VIEW_SKB, NULL);
	if (slot && sc && v == DF_ALLOW) /* a drop (a storm's) never touches the slots */
		df_slot_put(slot, cookie, &sc->view[DF_VIEW_SKB]);
	return v == DF_DROP ? 0 : 1;
}

/* ---- tc: what leaves a device, as it leaves ---------------------------------------- */

#define AF_PACKET 17
#define SOCK_RAW 3
#define DF_FIB_LOOKUP_MARK (1U << 5) /* kernel 6.10; not in every header */

static __always_inline __u32 df_l2_len(__u32 ifindex)
{
	struct df_iface *i;

	if (ifindex < DF_IFL2_SLOTS) {
		__u32 *v = bpf_map_lookup_elem(&df_ifl2, &ifindex);

		if (v && *v)
			return *v - 1;
	}
	i = bpf_map_lookup_elem(&df_ifaces, &ifindex);
	return i ? i->l2_len : 14;
}

#define DF_ETH_P_8021Q 0x8100
#define DF_ETH_P_8021AD 0x88a8
#define DF_MAX_VLAN_TAGS 2

/* The frame from its first byte, as it will be sent: the link header
 * (Ethernet: the ethertype after up to two VLAN tags) and the IP header the
 * bytes say, never skb->protocol (a packet socket sets that to anything).
 * Devices without a link header: the version nibble. Not IPv4 or IPv6:
 * family 0 and DF_PKT_MALFORMED. Also the family as it leaves (wire_family:
 * the kernel never routes a mapped IPv6 address as IPv6) and the link
 * header's length, for the next-hop check.
 * A global function: the verifier checks it once on its own, and df_tc sees
 * facts, not the many paths through the headers (which would multiply the
 * states of everything after it). */
__noinline int df_parse_frame(struct __sk_buff *skb, struct df_facts *f)
{
	__u32 off = 0, l2_len = df_l2_len(skb->ifindex);
	__u8 family = 0;

	if (!f) /* the verifier's due: a global function's pointer may be NULL */
		return 0;
	f->len = skb->len;
	f->l2_len = l2_len;
	if (l2_len == DF_L2_UNKNOWN)
		goto bad;
	if (l2_len) {
		__be16 et;
		int i;

		if (bpf_skb_load_bytes_relative(skb, 12, &et, 2, BPF_HDR_START_MAC))
			goto bad;
		off = 14;
		for (i = 0; i < DF_MAX_VLAN_TAGS; i++) {
			if (et != bpf_htons(DF_ETH_P_8021Q) && et != bpf_htons(DF_ETH_P_8021AD))
				break;
			if (bpf_skb_load_bytes_relative(skb, off + 2, &et, 2, BPF_HDR_START_MAC))
				goto bad;
			off += 4;
		}
		family = et == bpf_htons(ETH_P_IP) ? 4 : et == bpf_htons(ETH_P_IPV6) ? 6 : 0;
	} else {
		__u8 v;

		if (bpf_skb_load_bytes_relative(skb, 0, &v, 1, BPF_HDR_START_MAC))
			goto bad;
		family = v >> 4 == 4 ? 4 : v >> 4 == 6 ? 6 : 0;
	}
	if (!family)
		goto bad;
	df_parse_ip(skb, f, BPF_HDR_START_MAC, off, family);
	f->wire_family = family == 6 && df_is_v4mapped(f->daddr) ? 0 : family;
	return 0;
bad:
	f->flags |= DF_PKT_MALFORMED; /* family 0: only a socket's classes judge it */
	return 0;
}

/* Frames whose headers the sender wrote (a packet socket, a raw IP socket
 * with IP_HDRINCL): the kernel routed them by another address, or not at
 * all, so their next hop needs checking. */
static __always_inline bool df_crafted(const struct bpf_sock *sk)
{
	return sk->family == AF_PACKET ||
	       ((sk->family == AF_INET || sk->family == AF_INET6) && sk->type == SOCK_RAW);
}

/* The common packet at tc: an inet socket's frame (not crafted) on an
 * Ethernet or header-less device whose header cgroup_skb judged and let
 * through this swap, read in place (no VLAN tag, IPv4 options, extension
 * header or fragment: those take df_judged after the full parse). */
static __always_inline bool df_tc_fast(struct __sk_buff *skb, const struct df_sk_view *v,
				       const struct df_state *st, const struct df_fast_slot *slot,
				       __u64 cookie)
{
	void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
	__u32 l2 = df_l2_len(skb->ifindex), lock = df_view_lock(v);
	__u8 family;

	if ((lock & 1) || (slot && slot->cookie != cookie))
		return false;
	if (v->valid != 2 || v->seq != df_state_tag(st) || v->verdict == DF_DROP ||
	    v->mark != skb->mark ||
	    !!(v->flags & DF_PKT_NOT_LO) != (skb->ifindex != DF_LOOPBACK_IFINDEX))
		return false;
	if (l2 == 14) {
		struct ethhdr *eth = data;

		if ((void *)(eth + 1) > end)
			return false;
		family = eth->h_proto == bpf_htons(ETH_P_IP) ? 4 :
			 eth->h_proto == bpf_htons(ETH_P_IPV6) ? 6 : 0;
		data = eth + 1;
	} else if (l2 == 0) {
		__u8 *b = data;

		if ((void *)(b + 1) > end)
			return false;
		family = *b >> 4;
	} else {
		return false;
	}
	return df_hdr_is_view(data, end, family, v) && df_view_stable(v, lock);
}

/* Is this the header cgroup_skb judged and let through (the socket's last
 * verdict, this swap)? A non-first fragment matches by addresses. Not
 * inlined: df_tc's frame and df_decide's together stay within 512 bytes. */
static __noinline bool df_judged(const struct df_sk_view *v, const struct df_facts *f,
				 __u64 tag, __u64 *classes)
{
	__u32 lock = df_view_lock(v);
	__u8 fam = f->family, d[16];
	__u64 cls;

	__builtin_memcpy(d, f->daddr, 16);
	df_unmap(&fam, d); /* the view holds the address as judged */
	if (v->valid != 2 || v->seq != tag || v->verdict == DF_DROP || v->family != fam ||
	    v->proto != f->proto || v->mark != f->mark ||
	    v->flags != (f->flags & DF_PKT_NOT_LO) || (f->flags & DF_PKT_MALFORMED) ||
	    !df_addr_eq(v->daddr, d) || !df_addr_eq(v->saddr, f->saddr))
		return false;
	if (!(f->flags & DF_PKT_NO_PORTS) && (v->sport != f->sport || v->dport != f->dport))
		return false;
	cls = v->classes;
	if (!df_view_stable(v, lock))
		return false;
	*classes = cls;
	return true;
}

/* Does the frame go to the next hop the kernel's routing and neighbours
 * give its IP destination? The lookup runs from the loader's helper
 * device (bpf_fib_lookup wants a device with forwarding on). Not inlined:
 * its frame sits beside df_report's, not under it. */
static __noinline int df_nexthop_ok(struct __sk_buff *skb, const struct df_facts *f,
				    __u32 helper)
{
	struct bpf_fib_lookup p = {};
	__u8 dmac[6];
	long r;

	if (!helper || !f->wire_family)
		return 0;
	p.family = f->wire_family == 4 ? AF_INET : AF_INET6;
	p.ifindex = helper;
	p.l4_protocol = f->proto;
	p.sport = bpf_htons(f->sport);
	p.dport = bpf_htons(f->dport);
	if (f->wire_family == 4) {
		/* judging unmapped nothing: a native IPv4 header */
		__builtin_memcpy(&p.ipv4_src, f->saddr, 4);
		__builtin_memcpy(&p.ipv4_dst, f->daddr, 4);
	} else {
		__builtin_memcpy(p.ipv6_src, f->saddr, 16);
		__builtin_memcpy(p.ipv6_dst, f->daddr, 16);
	}
	/* policy routing by mark: the input mark shares smac's place */
	__builtin_memcpy(p.smac, &f->mark, 4);
	r = bpf_fib_lookup(skb, &p, sizeof(p), DF_FIB_LOOKUP_MARK);
	if (r < 0) { /* a kernel before the mark flag */
		__builtin_memset(p.smac, 0, 4);
		p.ifindex = helper;
		r = bpf_fib_lookup(skb, &p, sizeof(p), 0);
	}
	if (r != BPF_FIB_LKUP_RET_SUCCESS)
		return 0;
	if (!f->l2_len)
		return p.ifindex == skb->ifindex;
	if (bpf_skb_load_bytes_relative(skb, 0, dmac, 6, BPF_HDR_START_MAC))
		return 0;
	return dmac[0] == p.dmac[0] && dmac[1] == p.dmac[1] && dmac[2] == p.dmac[2] &&
	       dmac[3] == p.dmac[3] && dmac[4] == p.dmac[4] && dmac[5] == p.dmac[5];
}

/* A protected crafted frame (classes) passes only to the next hop its
 * header routes to; otherwise it is counted and reported like any drop
 * (would-drop for audit classes). A global function, checked once: df_tc
 * keeps nothing live across its verdict but the classes. */
__noinline int df_tc_nexthop(struct __sk_buff *skb, struct df_facts *f, __u64 classes)
{
	struct df_res r = { .reason = DF_R_NEXT_HOP, .rule = DF_NO_RULE, .classes = classes };
	struct df_sk_view *v = NULL;
	struct df_sk_cache *sc;
	const struct df_cfg *cfg;
	struct bpf_sock *sk;
	struct df_state *st;
	__u32 zero = 0;
	__u64 enf;

	st = bpf_map_lookup_elem(&df_state, &zero);
	if (!f || !st || df_nexthop_ok(skb, f, st->nh_ifindex))
		return TC_ACT_OK;
	cfg = df_cfg_of(st->gen & 1);
	enf = cfg ? classes & cfg->hdr.enforce_mask : classes;
	r.verdict = enf ? DF_DROP : DF_WOULD_DROP;
	r.slot = (__u8)df_ctz(enf ? enf : classes);
	if (df_record_last)
		bpf_map_update_elem(&df_last, &zero, &r, BPF_ANY);
	if (df_test_mode)
		return r.verdict == DF_DROP ? TC_ACT_SHOT : TC_ACT_OK;
	sk = skb->sk;
	if (sk)
		sk = bpf_sk_fullsock(sk);
	if (sk) {
		sc = bpf_sk_storage_get(&df_sk_cache, sk, 0, 0);
		if (sc)
			v = &sc->view[DF_VIEW_SKB];
	}
	df_count(df_cnt_index(f->hook, &r), DF_NO_RULE, f->len);
	df_report(f, &r, st, bpf_ktime_get_boot_ns() + st->clock_offset_ns, v);
	return r.verdict == DF_DROP ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc")
int df_tc(struct __sk_buff *skb)
{
	struct df_facts f = { .hook = DF_HOOK_TC, .uid = DF_UID_NONE };
	struct df_sk_cache *sc = NULL;
	struct bpf_sock *sk;
	struct df_state *st;
	__u32 zero = 0;
	__u64 classes = 0;
	bool cgskb = false, fast, judged;

	st = bpf_map_lookup_elem(&df_state, &zero);
	if (!st)
		return TC_ACT_OK;
	sk = skb->sk;
	if (sk)
		sk = bpf_sk_fullsock(sk);
	if (sk) {
		/* an inet socket's view is cgroup_skb's (when attached): this
		 * hook only reads it, and the common packet ends here, at this
		 * CPU's fast slot, else at the socket's storage */
		cgskb = (sk->family == AF_INET || sk->family == AF_INET6) &&
			(st->flags & DF_STATE_CGSKB);
		fast = cgskb && !df_crafted(sk) && !df_test_mode;
		if (fast) {
			__u64 cookie = bpf_get_socket_cookie(skb);
			struct df_fast_slot *slot = df_slot_of(cookie);

			if (slot && df_tc_fast(skb, &slot->v, st, slot, cookie))
				return TC_ACT_OK;
		}
		if (!df_test_mode)
			sc = bpf_sk_storage_get(&df_sk_cache, sk, 0,
						cgskb ? 0 : BPF_SK_STORAGE_GET_F_CREATE);
		if (fast && sc && df_tc_fast(skb, &sc->view[DF_VIEW_SKB], st, NULL, 0))
			return TC_ACT_OK;
	}
	df_parse_frame(skb, &f);
	if (!f.family && !sk)
		return TC_ACT_OK; /* ARP and the like: no socket, no data of ours */
	f.mark = skb->mark;
	f.ifindex = skb->ifindex;
	if (skb->ifindex != DF_LOOPBACK_IFINDEX)
		f.flags |= DF_PKT_NOT_LO;
	if (!sk)
		goto judge;
	judged = cgskb && sc && df_judged(&sc->view[DF_VIEW_SKB], &f, df_state_tag(st), &classes);
	if (judged && !df_crafted(sk))
		return TC_ACT_OK; /* the header the kernel routed, judged at cgroup_skb */
	f.uid = bpf_get_socket_uid(skb);
	df_task_facts_skb(skb, &f);
	if (judged)
		goto crafted;
	if (cgskb)
		sc = NULL;
judge:
	/* a header cgroup_skb did not see (a tunnel's outer one), or no
	 * cgroup_skb, or no inet socket: judged here */
	if (df_verdict(&f, sc, sk ? (void *)skb : NULL, DF_VIEW_SKB, &classes) == DF_DROP)
		return TC_ACT_SHOT;
	if (!sk || !df_crafted(sk))
		return TC_ACT_OK;
crafted:
	return classes ? df_tc_nexthop(skb, &f, classes) : TC_ACT_OK;
}

/* connect()/sendmsg(): refuse a protected flow at the syscall (EPERM). */
static __always_inline int df_sock_addr(struct bpf_sock_addr *ctx, __u8 hook, __u8 family,
					bool sendmsg)
{
	struct df_facts f = { .hook = hook, .family = family };
	struct bpf_sock *sk = ctx->sk;
	struct df_sk_cache *sc;

	if (!sk)
		return 1;
	f.proto = ctx->protocol;
	if (df_proto_bit(f.proto) & DF_P_PORTED) {
		f.dport = bpf_ntohs(ctx->user_port);
		f.sport = sk->src_port;
	}
	if (family == 4) {
		__u32 d = ctx->user_ip4, s = sendmsg && ctx->msg_src_ip4 ? ctx->msg_src_ip4 : sk->src_ip4;

		__builtin_memcpy(f.daddr, &d, 4);
		__builtin_memcpy(f.saddr, &s, 4);
	} else {
		__u32 d[4] = { ctx->user_ip6[0], ctx->user_ip6[1], ctx->user_ip6[2], ctx->user_ip6[3] };
		__u32 s[4] = { sk->src_ip6[0], sk->src_ip6[1], sk->src_ip6[2], sk->src_ip6[3] };

		__builtin_memcpy(f.daddr, d, 16);
		__builtin_memcpy(f.saddr, s, 16);
	}
	f.uid = (__u32)bpf_get_current_uid_gid();
	f.mark = sk->mark;
	f.pid = bpf_get_current_pid_tgid() >> 32;
	f.cgroup_id = bpf_get_current_cgroup_id();
	sc = bpf_sk_storage_get(&df_sk_cache, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	return df_verdict(&f, sc, sk, DF_VIEW_CALL, NULL) == DF_DROP ? 0 : 1;
}

/* ---- setsockopt: the ways below tc -------------------------------------------------- */

#define SOL_PACKET 263
#define PACKET_QDISC_BYPASS 20
#define SOL_XDP 283

/* Options that would make a socket send below tc (__dev_direct_xmit: no
 * qdisc, no tc filter), refused to a protected task (EPERM; would-drop in
 * audit): AF_PACKET's PACKET_QDISC_BYPASS turned on, and every SOL_XDP
 * option (an AF_XDP socket cannot send without its UMEM and rings). The
 * task's cgroup and uid, the socket's mark and host-wide classes decide;
 * the event carries level and optname in sport and dport. */
SEC("cgroup/setsockopt")
int df_setsockopt(struct bpf_sockopt *ctx)
{
	struct df_facts f = { .hook = DF_HOOK_SETSOCKOPT };
	struct df_res r = { .reason = DF_R_FILTER_BYPASS, .rule = DF_NO_RULE };
	struct df_gen g = {};
	struct df_state *st;
	__u32 zero = 0, gen;
	__u64 enf;

	if (ctx->level == SOL_PACKET && ctx->optname == PACKET_QDISC_BYPASS) {
		int *v = ctx->optval;

		if ((void *)(v + 1) <= ctx->optval_end && *v == 0)
			return 1; /* turning it off */
	} else if (ctx->level != SOL_XDP) {
		if (ctx->optlen > 4096)
			ctx->optlen = 0; /* not ours: the kernel reads the caller's own buffer */
		return 1;
	}
	st = bpf_map_lookup_elem(&df_state, &zero);
	if (!st)
		return 1;
	gen = *(volatile __u32 *)&st->gen & 1;
	if (df_load_gen(gen, &g))
		return 1;
	f.uid = (__u32)bpf_get_current_uid_gid();
	f.pid = bpf_get_current_pid_tgid() >> 32;
	f.cgroup_id = bpf_get_current_cgroup_id();
	if (ctx->sk)
		f.mark = ctx->sk->mark;
	r.classes = df_owner_classes(&g, NULL, DF_ANC_TASK, NULL, f.uid) |
		    df_classify_packet(g.cfg, gen, g.src, &f);
	if (!r.classes)
		return 1;
	enf = r.classes & g.cfg->hdr.enforce_mask;
	r.verdict = enf ? DF_DROP : DF_WOULD_DROP;
	r.slot = (__u8)df_ctz(enf ? enf : r.classes);
	f.sport = (__u16)ctx->level;
	f.dport = (__u16)ctx->optname;
	df_count(df_cnt_index(f.hook, &r), DF_NO_RULE, 0);
	df_report(&f, &r, st, bpf_ktime_get_boot_ns() + st->clock_offset_ns, NULL);
	return r.verdict == DF_DROP ? 0 : 1;
}

/* socket(): the maker's cgroup ancestors and uid, for the call hooks to
 * classify the socket by, whoever calls connect() or sendmsg() on it. */
SEC("cgroup/sock_create")
int df_sock_create(struct bpf_sock *sk)
{
	struct df_sk_cache *sc;
	int lvl;

	if (df_test_mode)
		return 1;
	sc = bpf_sk_storage_get(&df_sk_cache, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!sc)
		return 1;
	for (lvl = 0; lvl <= DF_MAX_CG_LEVEL; lvl++) {
		sc->owner_cgroup[lvl] = bpf_get_current_ancestor_cgroup_id(lvl);
		if (!sc->owner_cgroup[lvl])
			break; /* below the maker (the storage is new: zeros follow) */
	}
	sc->owner_uid = (__u32)bpf_get_current_uid_gid();
	sc->owner_seq = ~0ULL;
	sc->owner_valid = 1;
	return 1;
}

/* Clock calibration for the loader (run through BPF_PROG_TEST_RUN only). */
SEC("cgroup_skb/egress")
int df_clock_sample(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct df_clock c = { .jiffies = bpf_jiffies64(), .boot_ns = bpf_ktime_get_boot_ns() };

	bpf_map_update_elem(&df_clk, &zero, &c, BPF_ANY);
	return 1;
}

SEC("cgroup/connect4")
int df_connect4(struct bpf_sock_addr *ctx)
{
	return df_sock_addr(ctx, DF_HOOK_CONNECT, 4, false);
}

SEC("cgroup/connect6")
int df_connect6(struct bpf_sock_addr *ctx)
{
	return df_sock_addr(ctx, DF_HOOK_CONNECT, 6, false);
}

SEC("cgroup/sendmsg4")
int df_sendmsg4(struct bpf_sock_addr *ctx)
{
	return df_sock_addr(ctx, DF_HOOK_SENDMSG, 4, true);
}

SEC("cgroup/sendmsg6")
int df_sendmsg6(struct bpf_sock_addr *ctx)
{
	return df_sock_addr(ctx, DF_HOOK_SENDMSG, 6, true);
}

char LICENSE[] SEC("license") = "GPL";
