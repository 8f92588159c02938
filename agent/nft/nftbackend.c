// SPDX-License-Identifier: GPL-2.0-only
/* The nftables backend behind the backend interface (backend.h): the table
 * in the caller's network namespace, its drop reports over NFLOG folded
 * per flow like BPF events, and a check every 10 s that the table still
 * holds the policy in force. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "events.h"
#include "log.h"
#include "sockdiag.h"
#include "status.h"
#include "storm.h"
#include "nflog.h"
#include "nftnames.h"
#include "nftplan.h"
#include "nfttable.h"

struct nft_backend {
	struct df_backend b;
	struct df_backend_conf conf;
	struct df_nft_opts opts;
	struct df_nflog *nflog;            /* the daemon's; NULL for a reader */
	struct df_flow_limiter *flows;     /* per-flow folding of reports */
	const struct df_loaded *reporting; /* the policy reports are named by */
	uint64_t seq, lost, lost_reported, folded;
	bool daemon;
	int revoke_err;  /* sock_diag's probe: 0 if it can destroy sockets */
	time_t revoked_at;
	uint64_t *over_prev; /* df_over_ counters as last read, [slot * DF_REASON__MAX + reason] */
};

#define N_OVER (DF_MAX_CLASSES * DF_REASON__MAX)

static void on_over(const char *name, uint64_t packets, uint64_t bytes, void *ctx)
{
	uint64_t *v = ctx;
	int slot, reason;

	(void)bytes;
	if (!df_nft_over_parse(name, &slot, &reason))
		v[slot * DF_REASON__MAX + reason] = packets;
}

/* The reports over the rate since the last call, by class and reason, from
 * the table's counters (exact; their senders and destinations never
 * reached the agent). A counter that went back (the table made again)
 * counts from zero. */
static void nft_storm(struct df_backend *b, const struct df_policy *p, struct df_storm *s)
{
	struct nft_backend *nb = (struct nft_backend *)b;
	uint64_t *now;

	(void)p;
	if (!nb->over_prev || !(now = calloc(N_OVER, sizeof(*now))))
		return;
	if (df_nft_counters(&nb->opts, on_over, now)) {
		free(now);
		return;
	}
	for (size_t i = 0; i < N_OVER; i++) {
		uint64_t d = now[i] >= nb->over_prev[i] ? now[i] - nb->over_prev[i] : now[i];

		if (!d)
			continue;
		df_storm_count(s, DF_HOOK__MAX, (unsigned int)(i / DF_REASON__MAX),
			       (unsigned int)(i % DF_REASON__MAX), d);
		s->over_budget += d;
	}
	free(nb->over_prev);
	nb->over_prev = now;
}

static struct nft_backend *of(struct df_backend *b)
{
	return (struct nft_backend *)b;
}

static struct nft_backend *nft_new(const struct df_backend_conf *c, bool daemon)
{
	struct nft_backend *nb = calloc(1, sizeof(*nb));

	if (!nb)
		return NULL;
	nb->b.ops = &df_nft_backend;
	nb->conf = *c;
	nb->daemon = daemon;
	nb->opts = (struct df_nft_opts){ .table = c->nft_table, .log_group = c->nft_log_group,
					 .log_rate = c->nft_log_rate };
	return nb;
}

static void nft_close(struct df_backend *b)
{
	struct nft_backend *nb = of(b);

	if (!nb)
		return;
	df_nflog_close(nb->nflog);
	free(nb->over_prev);
	free(nb->flows);
	free(nb);
}

static int nft_start(const struct df_backend_conf *c, struct df_backend **out)
{
	struct nft_backend *nb = nft_new(c, true);
	int err;

	if (!nb)
		return -ENOMEM;
	nb->flows = calloc(1, sizeof(*nb->flows));
	if (!nb->flows) {
		nft_close(&nb->b);
		return -ENOMEM;
	}
	err = df_nflog_open(c->nft_log_group, &nb->nflog);
	if (err)
		pr_err("nftables: cannot read drop reports from NFLOG group %u: %s (enforcement is unaffected)",
		       c->nft_log_group, strerror(-err));
	pr_notice("nftables backend: table inet %s, drop reports on NFLOG group %u", c->nft_table,
		  c->nft_log_group);
	/* what was over the rate before this start is no storm of ours */
	nb->over_prev = calloc(N_OVER, sizeof(*nb->over_prev));
	if (nb->over_prev)
		df_nft_counters(&nb->opts, on_over, nb->over_prev);
	nb->revoke_err = df_diag_revoke_probe();
	if (nb->revoke_err)
		pr_warn("live sockets cannot be revoked: sock_diag cannot destroy sockets: %s",
			strerror(-nb->revoke_err));
	*out = &nb->b;
	return 0;
}

static int nft_probe(const struct df_backend_conf *c, struct df_backend **out)
{
	struct nft_backend *nb = nft_new(c, false);
	struct df_nft_info info;

	if (!nb)
		return -ENOMEM;
	if (df_nft_info(&nb->opts, &info) || !info.present) {
		nft_close(&nb->b);
		return -ENOENT;
	}
	*out = &nb->b;
	return 0;
}

static int nft_apply(struct df_backend *b, const struct df_loaded *l, struct df_diags *d)
{
	struct nft_backend *nb = of(b);
	struct df_nft_plan *plan = NULL;
	int err = df_nft_plan_build(l->p, l->img, &plan);

	if (err)
		df_diag_add(d, DF_SEV_ERROR, NULL, 0, NULL, "nftables: cannot plan the table: %s",
			    strerror(-err));
	else
		err = df_nft_apply(&nb->opts, l->p, plan, nb->conf.cgroot, l->sha256, d);
	df_nft_plan_free(plan);
	return err;
}

static int nft_active(struct df_backend *b, uint64_t *serial)
{
	struct df_nft_info info;
	int err = df_nft_info(&of(b)->opts, &info);

	if (err)
		return err;
	if (!info.loaded)
		return -ENOENT;
	*serial = info.serial;
	return 0;
}

/* Live sockets through sock_diag: nftables has no socket iterators. */
static int nft_revoke(struct df_backend *b, const struct df_loaded *l, const char *why)
{
	struct nft_backend *nb = of(b);

	if (nb->revoke_err)
		return -EOPNOTSUPP;
	nb->revoked_at = time(NULL);
	df_diag_revoke_for(&nb->conf, l, why);
	return 0;
}

static void nft_status(struct df_backend *b, const struct df_loaded *l, json_t *st, json_t *health)
{
	struct nft_backend *nb = of(b);
	struct df_nft_info info;
	int err = df_nft_info(&nb->opts, &info);
	char why[128];

	if (nb->daemon) {
		snprintf(why, sizeof(why), "sock_diag cannot destroy sockets: %s",
			 strerror(-nb->revoke_err));
		json_object_set_new(st, "revocation",
				    df_revocation_json(nb->revoke_err ? NULL : "sock_diag", why,
						       nb->revoked_at));
	}

	json_object_set_new(st, "nftables",
			    json_pack("{s:s, s:b, s:o, s:o, s:b}", "table", nb->opts.table, "present",
				      !err && info.present, "serial",
				      !err && info.loaded ? json_integer((json_int_t)info.serial) :
							    json_null(),
				      "log_group",
				      nb->daemon ? json_integer(nb->opts.log_group) : json_null(),
				      "reports", nb->nflog != NULL));
	if (err || !info.present)
		json_array_append_new(health, json_string("nftables table missing"));
	else if (l && (!info.loaded || info.serial != l->p->serial))
		json_array_append_new(health, json_string("nftables table holds another policy"));
	if (nb->daemon && !nb->nflog)
		json_array_append_new(health, json_string("nftables drop reports unavailable"));
}

struct ctr_ctx {
	const struct df_policy *p;
	struct df_counts *c;
};

static void on_counter(const char *name, uint64_t packets, uint64_t bytes, void *ctx)
{
	struct ctr_ctx *x = ctx;
	int slot, v, r, rule, kind = df_nft_counter_parse(name, &slot, &v, &r, &rule);

	if (!strcmp(name, DF_NFT_SUPPRESSED)) /* the rate is this backend's event budget */
		x->c->t.events_over_budget += packets;
	else if (packets && kind == 1)
		df_counts_add_rule(x->c, x->p, rule, packets, bytes, "nftables");
	else if (packets && kind == 0)
		df_counts_add(x->c, df_hook_name(DF_HOOK_NFTABLES), x->p, slot, v, r, packets, bytes);
}

static void nft_counters(struct df_backend *b, const struct df_policy *p, struct df_counts *c)
{
	struct nft_backend *nb = of(b);
	struct ctr_ctx x = { p, c };

	df_nft_counters(&nb->opts, on_counter, &x);
	c->t.events_sent += nb->seq;
	c->t.events_lost += nb->lost;
	c->t.events_suppressed += nb->folded;
}

/* The table is ours: deleted, or loaded with something else, it gets the
 * policy in force back. */
static void nft_tick(struct df_backend *b, const struct df_loaded *l)
{
	struct nft_backend *nb = of(b);
	struct df_diags d = { 0 };
	struct df_nft_info info;

	if (nb->lost > nb->lost_reported) {
		pr_warn("nftables drop reports lost (NFLOG socket overflowed); counters are exact");
		nb->lost_reported = nb->lost;
	}
	if (!l || df_nft_info(&nb->opts, &info) || (info.loaded && info.serial == l->p->serial))
		return;
	pr_warn("table inet %s %s: loading serial %llu again", nb->opts.table,
		!info.present ? "is gone" : "holds something else", (unsigned long long)l->p->serial);
	if (nft_apply(b, l, &d))
		for (size_t i = 0; i < d.n; i++)
			pr_err("%s", d.v[i].msg ? d.v[i].msg : "");
	else
		pr_notice("table inet %s restored", nb->opts.table);
	df_diags_free(&d);
}

static int nft_fds(struct df_backend *b, int *fds, int max)
{
	struct nft_backend *nb = of(b);

	if (!nb->nflog || max < 1)
		return 0;
	fds[0] = df_nflog_fd(nb->nflog);
	return 1;
}

static void on_report(const struct df_nflog_rec *r, void *ctx)
{
	struct nft_backend *nb = ctx;
	struct df_event e;

	if (df_nflog_event(r, nb->reporting ? nb->reporting->p : NULL, nb->seq + 1, &e))
		return;
	if (!df_flow_report(nb->flows, &e, e.ts_ns)) {
		nb->folded++;
		return;
	}
	nb->seq++;
	if (nb->conf.on_event)
		nb->conf.on_event(&e, nb->conf.ctx);
}

static void nft_ready(struct df_backend *b, int fd, const struct df_loaded *l)
{
	struct nft_backend *nb = of(b);

	nb->reporting = l;
	df_nflog_read(nb->nflog, on_report, nb, &nb->lost);
	nb->reporting = NULL;
}

/* nftables has no dry run: the table's contents as the agent plans them
 * (the same sets and rules), evaluated here. */
static int nft_judge(const struct df_backend_conf *c, const struct df_loaded *l,
		     const struct df_flow_query *q, struct df_result *res, char *why, size_t len)
{
	struct df_nft_plan *plan = NULL;
	int err = df_nft_plan_build(l->p, l->img, &plan);

	if (err) {
		snprintf(why, len, "cannot plan the table: %s", strerror(-err));
		return err;
	}
	df_nft_plan_verdict(plan, l->p, q->pkt, q->ref_classes, q->now, res);
	df_nft_plan_free(plan);
	return 0;
}

static int nft_unload(const struct df_backend_conf *c, char *msg, size_t len)
{
	struct df_nft_opts o = { .table = c->nft_table };
	int err = df_nft_remove(&o);

	if (!err)
		snprintf(msg, len, "table inet %s deleted", c->nft_table);
	else if (err == -ENOENT)
		snprintf(msg, len, "no table inet %s in this network namespace", c->nft_table);
	else
		snprintf(msg, len, "table inet %s: %s", c->nft_table, strerror(-err));
	return err;
}

const struct df_backend_ops df_nft_backend = {
	.name = "nftables",
	.judge_key = "nftables",
	.judge_what = "the nftables table (its sets and rules as loaded, evaluated here)",
	.start = nft_start,
	.probe = nft_probe,
	.close = nft_close,
	.apply = nft_apply,
	.active = nft_active,
	.status = nft_status,
	.counters = nft_counters,
	.tick = nft_tick,
	.fds = nft_fds,
	.ready = nft_ready,
	.judge = nft_judge,
	.unload = nft_unload,
	.revoke = nft_revoke,
	.storm = nft_storm,
};
