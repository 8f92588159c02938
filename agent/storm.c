// SPDX-License-Identifier: GPL-2.0-only
/* A drop storm's summary (storm.h). */
#include "storm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "events.h"
#include "text.h"
#include "verdict.h"
#include "values.h"

void df_storm_reset(struct df_storm *s, uint64_t now_ns)
{
	memset(s, 0, sizeof(*s));
	s->from_ns = now_ns;
}

void df_storm_count(struct df_storm *s, unsigned int hook, unsigned int slot,
		    unsigned int reason, uint64_t n)
{
	if (hook < DF_STORM_HOOKS && slot <= DF_MAX_CLASSES && reason < DF_REASON__MAX)
		s->by[DF_STORM_ROW(hook, slot, reason)] += n;
}

uint64_t df_storm_total(const struct df_storm *s)
{
	uint64_t t = 0;

	for (size_t i = 0; i < DF_STORM_ROWS; i++)
		t += s->by[i];
	return t;
}

static uint64_t mix(uint64_t a, uint64_t b)
{
	return df_dst_hash(a, b, 0);
}

void df_storm_sender(struct df_storm *s, uint64_t cgroup_id, uint32_t uid, uint32_t pid,
		     const char comm[16], uint64_t n)
{
	size_t mask = 2 * DF_STORM_PROCS - 1, i = mix(cgroup_id, (uint64_t)uid << 32 | pid) & mask;

	for (;; i = (i + 1) & mask) {
		struct df_storm_proc *x = &s->proc[i];

		if (x->used && x->cgroup_id == cgroup_id && x->uid == uid && x->pid == pid) {
			x->drops += n;
			return;
		}
		if (x->used)
			continue;
		if (s->n_procs >= DF_STORM_PROCS) { /* the table at half: no more told apart */
			s->procs_untold += n;
			return;
		}
		*x = (struct df_storm_proc){ .cgroup_id = cgroup_id, .uid = uid, .pid = pid,
					     .drops = n, .used = true };
		memcpy(x->comm, comm, sizeof(x->comm));
		s->n_procs++;
		return;
	}
}

static __u64 dst_hash(const struct df_storm_dst_key *k)
{
	__u64 lo, hi;

	memcpy(&lo, k->daddr, 8);
	memcpy(&hi, k->daddr + 8, 8);
	return df_dst_hash((__u64)k->family | (__u64)k->proto << 8 | (__u64)k->dport << 16, lo, hi);
}

void df_hll_add(struct df_hll *h, __u64 hash)
{
	__u32 i = df_hll_index(hash) & (DF_HLL_REGS - 1);
	__u8 r = df_hll_rank(hash);

	if (h->reg[i] < r)
		h->reg[i] = r;
}

void df_storm_merge_hll(struct df_storm *s, const struct df_hll *h)
{
	for (size_t i = 0; i < DF_HLL_REGS; i++)
		if (s->hll.reg[i] < h->reg[i])
			s->hll.reg[i] = h->reg[i];
}

void df_storm_destination(struct df_storm *s, const struct df_storm_dst_key *k, uint64_t n)
{
	size_t mask = 2 * DF_STORM_DSTS - 1, i = dst_hash(k) & mask;

	for (;; i = (i + 1) & mask) {
		struct df_storm_dst *x = &s->dst[i];

		if (x->used && !memcmp(&x->k, k, sizeof(*k))) {
			x->drops += n;
			return;
		}
		if (x->used)
			continue;
		if (s->n_dsts >= DF_STORM_DSTS) /* counted (estimate), not named */
			return;
		*x = (struct df_storm_dst){ .k = *k, .drops = n, .used = true };
		s->n_dsts++;
		return;
	}
}

void df_storm_fold(struct df_storm *s, const struct df_event *e)
{
	unsigned int slot = e->classes ? (unsigned int)__builtin_ctzll(e->classes) : DF_MAX_CLASSES;
	struct df_storm_dst_key k = { .family = e->family, .proto = e->proto, .dport = e->dport };

	/* an event stands for itself and the drops of its flow folded into it */
	uint64_t n = 1 + (uint64_t)e->suppressed;

	df_storm_count(s, e->hook, slot, e->reason, n);
	s->folded += n;
	df_storm_sender(s, e->cgroup_id, e->uid, e->pid, e->comm, n);
	memcpy(k.daddr, e->daddr, sizeof(k.daddr));
	df_storm_destination(s, &k, n);
	df_hll_add(&s->hll, dst_hash(&k));
}

/* HyperLogLog (Flajolet et al.), with linear counting for small sets. */
uint64_t df_hll_estimate(const struct df_hll *h)
{
	const double m = DF_HLL_REGS, alpha = 0.7213 / (1.0 + 1.079 / m);
	double sum = 0, e;
	unsigned int zeros = 0;

	for (size_t i = 0; i < DF_HLL_REGS; i++) {
		sum += ldexp(1.0, -(int)h->reg[i]);
		zeros += !h->reg[i];
	}
	e = alpha * m * m / sum;
	if (e <= 2.5 * m && zeros)
		e = m * log(m / zeros);
	return (uint64_t)llround(e);
}

/* ---- the summary record -------------------------------------------------------------- */

static json_t *class_name(const struct df_policy *p, unsigned int slot)
{
	if (slot >= DF_MAX_CLASSES)
		return json_null();
	if (p && slot < p->n_classes)
		return json_string(p->classes[slot].name);
	return json_integer(slot);
}

static int by_drops(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "drops"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "drops"));

	return x < y ? 1 : x > y ? -1 : 0;
}

/* arr sorted by "drops", descending, cut to `keep` (0: all). */
static json_t *top(json_t *arr, size_t keep)
{
	size_t n = json_array_size(arr);
	json_t **v = calloc(n ? n : 1, sizeof(*v)), *out = json_array();

	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(arr, i);
	qsort(v, n, sizeof(*v), by_drops);
	for (size_t i = 0; i < n && (!keep || i < keep); i++)
		json_array_append(out, v[i]);
	free(v);
	json_decref(arr);
	return out;
}

static json_t *counts_json(const struct df_storm *s, const struct df_policy *p)
{
	json_t *arr = json_array();

	for (unsigned int h = 0; h < DF_STORM_HOOKS; h++)
		for (unsigned int c = 0; c <= DF_MAX_CLASSES; c++)
			for (unsigned int r = 0; r < DF_REASON__MAX; r++) {
				uint64_t n = s->by[DF_STORM_ROW(h, c, r)];

				if (n)
					json_array_append_new(
						arr, json_pack("{s:s, s:o, s:s, s:I}", "hook",
							       df_hook_name(h), "class", class_name(p, c),
							       "reason", df_reason_name((enum df_reason)r),
							       "drops", (json_int_t)n));
			}
	return top(arr, 0);
}

static json_t *procs_json(const struct df_storm *s, const struct df_storm_names *n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < 2 * DF_STORM_PROCS; i++) {
		const struct df_storm_proc *x = &s->proc[i];
		char comm[17], esc[4 * 4096 + 1], user[64];
		const char *cg;
		json_t *j;

		if (!x->used)
			continue;
		j = json_pack("{s:I}", "drops", (json_int_t)x->drops);
		if (x->pid) {
			memcpy(comm, x->comm, 16);
			comm[16] = '\0';
			json_object_set_new(j, "pid", json_integer(x->pid));
			json_object_set_new(j, "comm", json_string(df_text_escape(
							       comm, strlen(comm), true, esc, sizeof(esc))));
		}
		if (x->uid != DF_UID_NONE) {
			json_object_set_new(j, "uid", json_integer(x->uid));
			if (n && n->user && n->user(n->ctx, x->uid, user, sizeof(user)))
				json_object_set_new(j, "user", json_string(df_text_escape(
								       user, strlen(user), true, esc, sizeof(esc))));
		}
		if (x->cgroup_id) {
			json_object_set_new(j, "cgroup_id", json_integer((json_int_t)x->cgroup_id));
			cg = n && n->cgroup ? n->cgroup(n->ctx, x->cgroup_id) : NULL;
			if (cg)
				json_object_set_new(j, "cgroup", json_string(df_text_escape(
								       cg, strlen(cg), true, esc, sizeof(esc))));
		}
		json_array_append_new(arr, j);
	}
	return top(arr, DF_STORM_TOP);
}

static json_t *dsts_json(const struct df_storm *s)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < 2 * DF_STORM_DSTS; i++) {
		const struct df_storm_dst *x = &s->dst[i];
		char a[DF_ADDRSTRLEN], pb[8];

		if (!x->used)
			continue;
		df_addr_format(x->k.family, x->k.daddr, a, sizeof(a));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:I}", "proto",
						     df_proto_str(x->k.proto, pb, sizeof(pb)), "dst", a,
						     "dport", x->k.dport, "drops",
						     (json_int_t)x->drops));
	}
	return top(arr, DF_STORM_TOP);
}

json_t *df_storm_json(const struct df_storm *s, const struct df_policy *p, uint64_t now_ns,
		      const struct df_storm_names *n)
{
	char from[64], to[64];
	json_t *j;

	df_ts_format(now_ns, to, sizeof(to));
	df_ts_format(s->from_ns, from, sizeof(from));
	j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:I, s:I, s:{s:I, s:o}}",
		      "schema", DF_RECORD_SCHEMA, "ts", to, "summary", "drop-storm", "from", from, "to", to, "suppressed",
		      (json_int_t)df_storm_total(s), "over_budget", (json_int_t)s->over_budget,
		      "folded", (json_int_t)s->folded, "counts", counts_json(s, p), "processes",
		      procs_json(s, n), "process_count", (json_int_t)s->n_procs,
		      "processes_untold", (json_int_t)s->procs_untold, "destinations", "distinct",
		      (json_int_t)df_hll_estimate(&s->hll), "top", dsts_json(s));
	if (j && p) {
		json_object_set_new(j, "policy", json_string(p->name));
		json_object_set_new(j, "serial", json_integer((json_int_t)p->serial));
	}
	return j;
}

void df_storm_line(const json_t *j, char *buf, size_t len)
{
	json_t *c = json_array_get(json_object_get(j, "counts"), 0);
	json_t *pr = json_array_get(json_object_get(j, "processes"), 0);
	json_t *d = json_object_get(j, "destinations"), *td = json_array_get(json_object_get(d, "top"), 0);
	json_t *cls = json_object_get(c, "class");
	char cb[32], who[160] = "", where[160] = "";

	if (json_is_integer(cls))
		snprintf(cb, sizeof(cb), "%lld", (long long)json_integer_value(cls));
	if (pr)
		snprintf(who, sizeof(who), "; top sender %s[%lld] uid %lld cgroup %s: %lld",
			 json_string_value(json_object_get(pr, "comm")) ?: "-",
			 (long long)json_integer_value(json_object_get(pr, "pid")),
			 json_is_integer(json_object_get(pr, "uid")) ?
				 (long long)json_integer_value(json_object_get(pr, "uid")) : -1LL,
			 json_string_value(json_object_get(pr, "cgroup")) ?: "-",
			 (long long)json_integer_value(json_object_get(pr, "drops")));
	if (td)
		snprintf(where, sizeof(where), "; top destination %s %s:%lld: %lld",
			 json_string_value(json_object_get(td, "proto")),
			 json_string_value(json_object_get(td, "dst")),
			 (long long)json_integer_value(json_object_get(td, "dport")),
			 (long long)json_integer_value(json_object_get(td, "drops")));
	snprintf(buf, len,
		 "drop storm: %lld drops not recorded one by one from %s (%lld over the event "
		 "budget, %lld folded by the agent); most: class %s reason %s hook %s: %lld%s; "
		 "about %lld distinct destinations%s",
		 (long long)json_integer_value(json_object_get(j, "suppressed")),
		 json_string_value(json_object_get(j, "from")),
		 (long long)json_integer_value(json_object_get(j, "over_budget")),
		 (long long)json_integer_value(json_object_get(j, "folded")),
		 json_is_string(cls) ? json_string_value(cls) : json_is_integer(cls) ? cb : "(none)",
		 json_string_value(json_object_get(c, "reason")) ?: "-",
		 json_string_value(json_object_get(c, "hook")) ?: "-",
		 (long long)json_integer_value(json_object_get(c, "drops")), who,
		 (long long)json_integer_value(json_object_get(d, "distinct")), where);
}
