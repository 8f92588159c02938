// SPDX-License-Identifier: GPL-2.0-only
/* The differential harness (diff.h). */
#include "diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emulate.h"
#include "refeval.h"

unsigned long df_diff_env(const char *name, unsigned long def)
{
	const char *v = name ? getenv(name) : NULL;

	return v && *v ? strtoul(v, NULL, 0) : def;
}

void df_diff_print_result(const char *who, const struct df_result *r)
{
	fprintf(stderr, "  %-10s %s %s classes %#llx rule %d slot %d\n", who,
		df_verdict_name(r->verdict), df_reason_name(r->reason),
		(unsigned long long)r->classes, r->rule, r->slot);
}

static void print_packet(const struct df_packet *pkt, int64_t now)
{
	char s[DF_ADDRSTRLEN], d[DF_ADDRSTRLEN];

	df_cidr_format(&pkt->src, false, s, sizeof(s));
	df_cidr_format(&pkt->dst, false, d, sizeof(d));
	fprintf(stderr, "  packet: %s:%u -> %s:%u proto %u uid %u mark %#x cgroup %s flags %#x now %lld\n",
		s, pkt->sport, d, pkt->dport, pkt->proto, pkt->uid, pkt->mark,
		pkt->cgroup ? pkt->cgroup : "(none)", pkt->flags, (long long)now);
}

void df_diff_expect(const struct df_diff_case *c, const struct df_packet *pkt, int64_t now,
		    struct df_result *want)
{
	if (!(pkt->flags & (DF_PKT_MALFORMED | DF_PKT_NO_PORTS))) {
		df_ref_verdict(c->p, pkt, df_ref_classify(c->p, pkt), now, want);
		return;
	}
	/* datapath-only facts: the compiled tables' answer (the reference has
	 * no notion of a fragment or a malformed header) */
	df_emu_verdict(c->emu, pkt, df_emu_classify(c->emu, pkt), now, want);
}

static bool same(const struct df_result *a, const struct df_result *b, unsigned int fields)
{
	return (!(fields & DF_DIFF_VERDICT) || (a->verdict == b->verdict && a->reason == b->reason)) &&
	       (!(fields & DF_DIFF_RULE) || a->rule == b->rule) &&
	       (!(fields & DF_DIFF_SLOT) || a->slot == b->slot) &&
	       (!(fields & DF_DIFF_CLASSES) || a->classes == b->classes);
}

static void report(const struct df_diff_opts *o, const struct df_diff_case *c, const char *who,
		   const struct df_result *want, const struct df_result *got)
{
	fprintf(stderr, "MISMATCH %s: %s disagrees: seed %llu policy %lu packet %lu (DF_SEED=%llu replays)\n",
		o->name, who, (unsigned long long)c->seed, c->policy, c->packet,
		(unsigned long long)c->seed);
	print_packet(&c->pkt, c->now);
	if (c->note[0])
		fprintf(stderr, "  %s\n", c->note);
	df_diff_print_result("expected", want);
	if (got)
		df_diff_print_result(who, got);
	fprintf(stderr, "policy:\n%s", c->text);
}

/* One packet through every subject; -1 on a mismatch. */
static int one_packet(const struct df_diff_opts *o, const struct df_diff_subject *s, int n,
		      void *ctx, struct df_diff_case *c, struct df_diff_stats *st)
{
	struct df_result want0, want, got;
	bool judged = false;

	df_polgen_packet(c->rng, c->p, &c->pkt, &c->now);
	if (c->p->drop_stale && df_rng_below(c->posture_rng, 8) == 0)
		c->pkt.flags |= DF_PKT_STALE;
	c->shape = 0;
	c->note[0] = '\0';
	if (o->packet && !o->packet(ctx, c)) {
		st->skipped++;
		return 0;
	}
	c->classes = df_ref_classify(c->p, &c->pkt);
	df_diff_expect(c, &c->pkt, c->now, &want0);
	for (int i = 0; i < n; i++) {
		int rc;

		want = want0;
		memset(&got, 0, sizeof(got));
		rc = s[i].judge(ctx, c, &want, &got);
		if (rc == DF_DIFF_SKIP)
			continue;
		if (rc == DF_DIFF_MISMATCH || !same(&want, &got, s[i].compare)) {
			report(o, c, s[i].name, &want, rc == DF_DIFF_MISMATCH ? NULL : &got);
			return -1;
		}
		judged = true;
	}
	if (!judged) {
		st->skipped++;
		return 0;
	}
	st->judged++;
	st->reasons[want0.reason]++;
	st->verdicts[want0.verdict]++;
	return 0;
}

/* The agent's posture for a policy (df_diff_opts.posture): an expiry at,
 * just after or well after the packets' time. */
static void draw_posture(struct df_rng *r, struct df_policy *p)
{
	static const int64_t expires[] = { 0, DF_POLGEN_NOW, DF_POLGEN_NOW + 1, DF_POLGEN_NOW + 86400 };

	if (df_rng_below(r, 2))
		return;
	p->drop_stale = true;
	p->stale_after = 3;
	p->expires = expires[df_rng_below(r, 4)];
}

/* One policy: parsed, compiled, its packets; -1 on a mismatch. */
static int one_policy(const struct df_diff_opts *o, const struct df_diff_subject *s, int n,
		      void *ctx, unsigned long i, unsigned long n_pkt, struct df_diff_stats *st)
{
	uint64_t pseed = st->seed * 1000003ULL + i;
	struct df_rng rng = { pseed ^ o->salt }, prng = { pseed ^ 0x57a1e };
	struct df_diff_case c = { .seed = st->seed, .policy = i, .rng = &rng, .posture_rng = &prng };
	struct df_diags d = { 0 };
	char *text = o->cgroup_prefix ? df_polgen_policy_in(pseed, o->cgroup_prefix) :
					df_polgen_policy(pseed);
	int err = 0, k = 0;

	c.text = text;
	if (df_policy_parse(text, strlen(text), "gen.conf", NULL, &c.p, &d) ||
	    (o->posture && (draw_posture(&prng, c.p), 0)) ||
	    (o->adjust && (o->adjust(ctx, c.p), 0)) || df_compile(c.p, &c.img, &d) ||
	    !(c.emu = df_emu_new(c.img))) {
		df_diags_print(&d, stderr, text);
		fprintf(stderr, "%s: generated policy %lu (seed %llu) refused:\n%s", o->name, i,
			(unsigned long long)pseed, text);
		err = -1;
	}
	for (k = 0; !err && k < n; k++)
		err = s[k].policy ? s[k].policy(ctx, &c) : 0;
	for (unsigned long j = 0; !err && j < n_pkt; j++) {
		c.packet = j;
		err = one_packet(o, s, n, ctx, &c, st);
	}
	while (k-- > 0)
		if (s[k].policy_done)
			s[k].policy_done(ctx, &c);
	df_emu_free((struct df_emu *)c.emu);
	df_image_free(c.img);
	df_policy_free(c.p);
	df_diags_free(&d);
	free(text);
	return err ? -1 : 0;
}

int df_diff_run(const struct df_diff_opts *o, const struct df_diff_subject *s, int n, void *ctx,
		struct df_diff_stats *st)
{
	unsigned long n_pol = df_diff_env(o->env_policies, o->policies);
	unsigned long n_pkt = df_diff_env(o->env_packets, o->packets);

	memset(st, 0, sizeof(*st));
	st->seed = df_diff_env("DF_SEED", (unsigned long)time(NULL));
	fprintf(stderr, "%s: seed %llu, %lu policies x %lu packets (DF_SEED replays)\n", o->name,
		(unsigned long long)st->seed, n_pol, n_pkt);
	for (unsigned long i = 0; i < n_pol; i++)
		if (one_policy(o, s, n, ctx, i, n_pkt, st))
			return -1;
	fprintf(stderr, "%s: %lu packets agree (%lu skipped); allow %lu, drop %lu, would-drop %lu\n",
		o->name, st->judged, st->skipped, st->verdicts[DF_ALLOW], st->verdicts[DF_DROP],
		st->verdicts[DF_WOULD_DROP]);
	for (int r = 0; r < DF_REASON__MAX; r++)
		fprintf(stderr, "  %-22s %lu\n", df_reason_name((enum df_reason)r), st->reasons[r]);
	if (!o->every_reason_from || st->judged < o->every_reason_from)
		return 0;
	/* agreement means little unless the generator reached every path */
	for (int r = 0; r < DF_REASON__MAX; r++)
		if (r != DF_R_MALFORMED && r != DF_R_NEXT_HOP && r != DF_R_FILTER_BYPASS &&
		    ((r != DF_R_AGENT_STALE && r != DF_R_POLICY_EXPIRED) || o->posture) &&
		    !st->reasons[r]) {
			fprintf(stderr, "%s: reason %s never produced\n", o->name,
				df_reason_name((enum df_reason)r));
			return -1;
		}
	return 0;
}
