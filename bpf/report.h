/* SPDX-License-Identifier: GPL-2.0-only */
/* Counting and reporting a verdict (included by datafence.bpf.c and
 * revoke.bpf.c, after maps.h and pipeline.h): per-CPU counters, the
 * per-flow event limiter, drop events into the ring buffer. */
#ifndef DF_REPORT_H
#define DF_REPORT_H

static __always_inline void df_misc_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&df_misc, &idx);

	if (v)
		__sync_fetch_and_add(v, n);
}

static __always_inline __u32 df_cnt_index(__u8 hook, const struct df_res *r)
{
	__u32 slot = r->slot > DF_MAX_CLASSES ? DF_MAX_CLASSES : r->slot;

	return DF_CNT_INDEX((__u32)hook, slot, (__u32)r->verdict, (__u32)r->reason);
}

/* Exact per-CPU counts: atomic adds, since a softirq may judge a packet
 * on this CPU in the middle of ours. */
static __always_inline void df_count(__u32 idx, __u16 rule, __u32 len)
{
	struct df_counter *c = bpf_map_lookup_elem(&df_counters, &idx);

	if (c) {
		__sync_fetch_and_add(&c->packets, 1);
		__sync_fetch_and_add(&c->bytes, len);
	}
	if (rule != DF_NO_RULE) {
		__u32 ri = rule;

		c = bpf_map_lookup_elem(&df_rule_cnt, &ri);
		if (c) {
			__sync_fetch_and_add(&c->packets, 1);
			__sync_fetch_and_add(&c->bytes, len);
		}
	}
}

#ifndef DF_NO_BUDGET
/* The global event budget (GCRA): 1 when this event fits. A lost race with
 * another CPU counts as over the budget (exactly, like any other). A
 * global function: the verifier checks it once, not in every state of its
 * callers. */
__noinline int df_budget_fits(__u64 now_ns)
{
	__u32 zero = 0;
	struct df_state *st = bpf_map_lookup_elem(&df_state, &zero);
	struct df_budget *b = bpf_map_lookup_elem(&df_budget, &zero);
	__u64 iv, old, next;

	if (!st || !b || !st->event_interval_ns)
		return 1;
	iv = st->event_interval_ns;
	old = b->tat;
	next = (old > now_ns ? old : now_ns) + iv;
	if (next > now_ns + 1000000000ULL)
		return 0;
	return __sync_val_compare_and_swap(&b->tat, old, next) == old;
}

/* An event over the budget: counted by (hook, class, reason), its sender
 * and destination noted for the agent's summary. Global, as above; its
 * arguments packed: what = hook | slot << 8 | reason << 16 | family << 24 |
 * proto << 32 | dport << 40, who = uid | pid << 32. */
__noinline int df_budget_spill(__u64 what, __u64 cgroup_id, __u64 who, __u64 daddr_lo,
			       __u64 daddr_hi)
{
	__u32 hook = what & 0xff, slot = (what >> 8) & 0xff, reason = (what >> 16) & 0xff;
	struct df_storm_src_key sk = { .cgroup_id = cgroup_id, .uid = (__u32)who,
				       .pid = (__u32)(who >> 32) };
	struct df_storm_dst_key dk = { .family = (what >> 24) & 0xff, .proto = (what >> 32) & 0xff,
				       .dport = (what >> 40) & 0xffff };
	struct df_storm_src_val *sv, nsv = { .count = 1 };
	struct df_hll *hll;
	__u64 *n, one = 1, h;
	__u32 idx;

	if (hook >= DF_HOOK__MAX || slot > DF_MAX_CLASSES || reason >= DF_REASON__MAX)
		return 0;
	idx = DF_SUPP_INDEX(hook, slot, reason);
	n = bpf_map_lookup_elem(&df_supp, &idx);
	if (n)
		__sync_fetch_and_add(n, 1);
	df_misc_add(DF_MISC_EVENTS_OVER_BUDGET, 1);
	sv = bpf_map_lookup_elem(&df_storm_src, &sk);
	if (sv) {
		__sync_fetch_and_add(&sv->count, 1);
	} else {
		if (sk.pid)
			bpf_get_current_comm(nsv.comm, sizeof(nsv.comm));
		bpf_map_update_elem(&df_storm_src, &sk, &nsv, BPF_NOEXIST);
	}
	__builtin_memcpy(dk.daddr, &daddr_lo, 8);
	__builtin_memcpy(dk.daddr + 8, &daddr_hi, 8);
	n = bpf_map_lookup_elem(&df_storm_dst, &dk);
	if (n)
		__sync_fetch_and_add(n, 1);
	else
		bpf_map_update_elem(&df_storm_dst, &dk, &one, BPF_NOEXIST);
	idx = 0;
	hll = bpf_map_lookup_elem(&df_storm_hll, &idx);
	if (hll) {
		/* a register only grows; a race with another CPU may keep the
		 * smaller value: an estimate anyway */
		__u8 rank;

		h = df_dst_hash((what >> 24) & 0xffffffff, daddr_lo, daddr_hi);
		idx = df_hll_index(h) & (DF_HLL_REGS - 1);
		rank = df_hll_rank(h);
		if (hll->reg[idx] < rank)
			hll->reg[idx] = rank;
	}
	return 0;
}

#endif /* DF_NO_BUDGET */

static __noinline void df_report(const struct df_facts *f, const struct df_res *r,
				      const struct df_state *st, __u64 now_ns,
				      struct df_sk_view *sc)
{
	struct df_flow_key k = { .family = f->family, .proto = f->proto, .hook = f->hook,
				 .sport = f->sport, .dport = f->dport };
	struct df_flow_val *fv, nv = { .last_ns = now_ns };
	__u32 suppressed = 0;
	struct df_event *e;

	__builtin_memcpy(k.saddr, f->saddr, 16);
	__builtin_memcpy(k.daddr, f->daddr, 16);
	fv = bpf_map_lookup_elem(&df_flows, &k);
	if (fv) {
		if (now_ns - fv->last_ns < DF_REPORT_INTERVAL_NS) {
			__sync_fetch_and_add(&fv->suppressed, 1);
			df_misc_add(DF_MISC_EVENTS_SUPPRESSED, 1);
			if (sc) { /* the socket's fast path may count the rest */
				sc->last_report_ns = fv->last_ns;
				sc->last_report_jiffies = bpf_jiffies64() -
					(now_ns - fv->last_ns) / (1000000000ULL / (st->hz ? st->hz : 1000));
			}
			return;
		}
		suppressed = fv->suppressed;
		fv->suppressed = 0;
		fv->last_ns = now_ns;
	} else {
		bpf_map_update_elem(&df_flows, &k, &nv, BPF_ANY);
	}
	if (sc) {
		/* drops the socket's fast path folded since the last event */
		suppressed += (__u32)__sync_lock_test_and_set(&sc->suppressed, 0);
		sc->last_report_ns = now_ns;
		sc->last_report_jiffies = bpf_jiffies64();
	}
#ifndef DF_NO_BUDGET
	if (!df_budget_fits(now_ns)) {
		/* a storm: counted, summarised by the agent, not sent (the
		 * ring never overflows with what is merely too much) */
		__u64 lo, hi;

		__builtin_memcpy(&lo, f->daddr, 8);
		__builtin_memcpy(&hi, f->daddr + 8, 8);
		df_budget_spill((__u64)f->hook | (__u64)(r->slot > DF_MAX_CLASSES ? DF_MAX_CLASSES :
									      r->slot) << 8 |
					(__u64)r->reason << 16 | (__u64)f->family << 24 |
					(__u64)f->proto << 32 | (__u64)f->dport << 40,
				f->cgroup_id, (__u64)f->uid | (__u64)f->pid << 32, lo, hi);
		return;
	}
#endif

	e = bpf_ringbuf_reserve(&df_events, sizeof(*e), 0);
	if (!e) {
		df_misc_add(DF_MISC_EVENTS_LOST, 1);
		return;
	}
	__u32 seq_idx = DF_MISC_EVENT_SEQ;
	__u64 *seq = bpf_map_lookup_elem(&df_misc, &seq_idx);

	e->version = DF_EVENT_VERSION;
	e->hook = f->hook;
	e->verdict = r->verdict;
	e->reason = r->reason;
	e->family = f->family;
	e->proto = f->proto;
	e->rule = r->rule;
	e->ts_ns = now_ns;
	e->classes = r->classes;
	__builtin_memcpy(e->saddr, f->saddr, 16);
	__builtin_memcpy(e->daddr, f->daddr, 16);
	e->sport = f->sport;
	e->dport = f->dport;
	e->uid = f->uid;
	e->cgroup_id = f->cgroup_id;
	e->pid = f->pid;
	e->ifindex = f->ifindex;
	e->serial = st->serial;
	e->seq = seq ? __sync_fetch_and_add(seq, 1) : 0;
	e->suppressed = suppressed;
	e->pad = 0;
	if (f->pid)
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	else
		__builtin_memset(e->comm, 0, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	df_misc_add(DF_MISC_EVENTS_SENT, 1);
}

#endif
