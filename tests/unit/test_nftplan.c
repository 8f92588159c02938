// SPDX-License-Identifier: GPL-2.0-only
/* The nftables backend's plan (agent/nftplan.c): evaluated the way the
 * table's rules read it, it must agree with the reference evaluator on
 * verdict, reason, rule and counter slot, on random policies and packets.
 * DF_SEED replays a run. The kernel side of the same claim is
 * tests/nft (real packets through the real table). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>
#include <cmocka.h>

#include "compile.h"
#include "nftnames.h"
#include "nflog.h"
#include "nftplan.h"
#include "diff.h"
#include "polgen.h"
#include "verdict.h"
#include "refeval.h"

/* Every set's elements are disjoint: the kernel refuses overlaps. */
static bool disjoint(const struct df_nft_boxes *b)
{
	for (size_t i = 0; i < b->n; i++)
		for (size_t j = i + 1; j < b->n; j++) {
			const struct df_nft_box *x = &b->v[i], *y = &b->v[j];

			if (x->leaf == y->leaf && x->proto_lo <= y->proto_hi &&
			    y->proto_lo <= x->proto_hi && x->port_lo <= y->port_hi &&
			    y->port_lo <= x->port_hi)
				return false;
		}
	return true;
}

struct plan_ctx {
	struct df_nft_plan *pl;
};

static int plan_policy(void *ctx, struct df_diff_case *c)
{
	struct plan_ctx *x = ctx;
	bool ok = true;

	if (df_nft_plan_build(c->p, c->img, &x->pl))
		return -1;
	for (size_t k = 0; k < x->pl->n_cls; k++)
		ok &= disjoint(&x->pl->cls[k].ok) && disjoint(&x->pl->cls[k].exc) &&
		      disjoint(&x->pl->cls[k].proto) && disjoint(&x->pl->cls[k].addr);
	for (size_t e = 0; e < x->pl->n_exc; e++)
		ok &= disjoint(&x->pl->exc[e].box);
	if (!ok)
		fprintf(stderr, "policy %lu: a set's elements overlap\n%s", c->policy, c->text);
	return ok ? 0 : -1;
}

static void plan_policy_done(void *ctx, struct df_diff_case *c)
{
	struct plan_ctx *x = ctx;

	df_nft_plan_free(x->pl);
	x->pl = NULL;
}

/* The table's rules get the classes from the classification chain: the
 * plan is evaluated with the reference's classes. */
static int plan_judge(void *ctx, struct df_diff_case *c, struct df_result *want,
		      struct df_result *got)
{
	struct plan_ctx *x = ctx;

	df_nft_plan_verdict(x->pl, c->p, &c->pkt, c->classes, c->now, got);
	return DF_DIFF_OK;
}

static void plan_matches_reference(void **state)
{
	static const struct df_diff_subject plan = {
		.name = "nft plan", .compare = DF_DIFF_VERDICT | DF_DIFF_RULE | DF_DIFF_SLOT,
		.policy = plan_policy, .policy_done = plan_policy_done, .judge = plan_judge,
	};
	static const struct df_diff_opts o = {
		.name = "nft plan", .env_policies = "DF_DIFF_POLICIES",
		.env_packets = "DF_DIFF_PACKETS", .policies = 150, .packets = 4000, .salt = 0x5eed,
		.every_reason_from = 1,
	};
	struct plan_ctx x = { 0 };
	struct df_diff_stats st;

	(void)state;
	assert_int_equal(df_diff_run(&o, &plan, 1, &x, &st), 0);
}

/* The IPv4 space appears twice: as itself and as IPv4-mapped IPv6, where
 * native IPv6 prefixes (even ::/0) do not reach. */
static void mapped_window_is_ipv4(void **state)
{
	static const char text[] =
		"policy = { name = \"t\"; serial = 1; };\n"
		"classes = ( { name = \"a\"; match = { uids = (1); }; } );\n"
		"destinations = ( { name = \"v6all\"; cidrs = [\"::/0\"]; allow = [\"a\"]; },\n"
		"  { name = \"v4\"; cidrs = [\"10.0.0.0/8\"]; allow = [\"a\"]; } );\n";
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	struct df_nft_plan *pl = NULL;
	struct df_packet pkt = { .proto = 6, .uid = 1, .dport = 1 };
	struct df_result res;

	(void)state;
	assert_int_equal(df_policy_parse(text, sizeof(text) - 1, "t.conf", NULL, &p, &d), 0);
	assert_int_equal(df_compile(p, &img, &d), 0);
	assert_int_equal(df_nft_plan_build(p, img, &pl), 0);
	df_addr_parse("::ffff:10.1.2.3", &pkt.dst);
	df_nft_plan_verdict(pl, p, &pkt, 1, 0, &res);
	assert_int_equal(res.reason, DF_R_DESTINATION);
	assert_int_equal(res.rule, 1);
	df_addr_parse("::ffff:11.1.2.3", &pkt.dst);
	df_nft_plan_verdict(pl, p, &pkt, 1, 0, &res);
	assert_int_equal(res.reason, DF_R_NO_DESTINATION);
	df_addr_parse("2001:db8::1", &pkt.dst);
	df_nft_plan_verdict(pl, p, &pkt, 1, 0, &res);
	assert_int_equal(res.rule, 0);
	df_nft_plan_free(pl);
	df_image_free(img);
	df_policy_free(p);
	df_diags_free(&d);
}

/* Counter names read back as what they count; prefixes too. */
static void names_and_prefixes_round_trip(void **state)
{
	char name[96];
	int slot, v, r, rule;
	uint64_t serial;

	(void)state;
	for (int s = 0; s <= DF_MAX_CLASSES; s++)
		for (int vv = 0; vv < DF_VERDICT__MAX; vv++)
			for (int rr = 0; rr < DF_REASON__MAX; rr++) {
				df_nft_counter_name(name, sizeof(name), s, vv, rr);
				assert_int_equal(df_nft_counter_parse(name, &slot, &v, &r, &rule), 0);
				assert_int_equal(slot, s);
				assert_int_equal(v, vv);
				assert_int_equal(r, rr);
			}
	assert_int_equal(df_nft_counter_parse("df_r17", &slot, &v, &r, &rule), 1);
	assert_int_equal(rule, 17);
	assert_int_equal(df_nft_counter_parse("df_c07_drop_no_destination", &slot, &v, &r, &rule), -1);
	assert_int_equal(df_nft_counter_parse("df_suppressed", &slot, &v, &r, &rule), -1);
	/* the fast path's counter (added to df_r<rule> and the class's allow when read) */
	df_nft_fast_name(name, sizeof(name), 5, 17);
	assert_string_equal(name, "df_a5_r17");
	assert_int_equal(df_nft_fast_parse(name, &slot, &rule), 0);
	assert_true(slot == 5 && rule == 17);
	assert_int_equal(df_nft_fast_parse("df_a05_r17", &slot, &rule), -1);
	assert_int_equal(df_nft_fast_parse("df_a64_r1", &slot, &rule), -1);
	assert_int_equal(df_nft_fast_parse("df_a1_r1x", &slot, &rule), -1);
	assert_int_equal(df_nft_fast_parse("df_r17", &slot, &rule), -1);
	assert_int_equal(df_nft_counter_parse("df_a5_r17", &slot, &v, &r, &rule), -1);
	assert_int_equal(df_nft_prefix_parse("df 42 3 1 6", &serial, &slot, &v, &r), 0);
	assert_true(serial == 42 && slot == 3 && v == DF_DROP && r == DF_R_PORT_NOT_ALLOWED);
	assert_int_equal(df_nft_prefix_parse("df 42 3 1 99", &serial, &slot, &v, &r), -1);
	assert_int_equal(df_nft_prefix_parse("xx 42 3 1 6", &serial, &slot, &v, &r), -1);
}

/* An NFLOG report becomes the drop event BPF would send, with the rule
 * the reference evaluator names. */
static void a_report_becomes_a_drop_event(void **state)
{
	static const char text[] =
		"policy = { name = \"t\"; serial = 5; };\n"
		"classes = ( { name = \"a\"; match = { uids = (1); }; } );\n"
		"destinations = ( { name = \"d\"; cidrs = [\"10.0.0.0/8\"]; ports = (443); allow = [\"a\"]; } );\n";
	/* IPv4 TCP 10.9.9.9:40000 -> 10.1.2.3:80 */
	static const uint8_t pkt[] = { 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 9, 9, 9, 10, 1, 2, 3,
				       0x9c, 0x40, 0, 80, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 2, 0, 0, 0, 0, 0, 0 };
	struct df_nflog_rec rec = { .payload = pkt, .len = sizeof(pkt), .has_uid = true, .uid = 1,
				    .ifindex = 7 };
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_event e;

	(void)state;
	assert_int_equal(df_policy_parse(text, sizeof(text) - 1, "t.conf", NULL, &p, &d), 0);
	snprintf(rec.prefix, sizeof(rec.prefix), "df 5 0 %d %d", DF_DROP, DF_R_PORT_NOT_ALLOWED);
	assert_int_equal(df_nflog_event(&rec, p, 9, &e), 0);
	assert_int_equal(e.hook, DF_HOOK_NFTABLES);
	assert_int_equal(e.verdict, DF_DROP);
	assert_int_equal(e.reason, DF_R_PORT_NOT_ALLOWED);
	assert_int_equal(e.family, 4);
	assert_int_equal(e.proto, 6);
	assert_int_equal(e.sport, 40000);
	assert_int_equal(e.dport, 80);
	assert_int_equal(e.uid, 1);
	assert_int_equal(e.ifindex, 7);
	assert_int_equal(e.seq, 9);
	assert_true(e.classes == 1 && e.serial == 5);
	assert_int_equal(e.rule, 0); /* destination d */
	/* another policy's report: no rule named; not ours: refused */
	snprintf(rec.prefix, sizeof(rec.prefix), "df 4 0 %d %d", DF_DROP, DF_R_PORT_NOT_ALLOWED);
	assert_int_equal(df_nflog_event(&rec, p, 10, &e), 0);
	assert_int_equal(e.rule, DF_NO_RULE);
	snprintf(rec.prefix, sizeof(rec.prefix), "somebody else");
	assert_int_equal(df_nflog_event(&rec, p, 11, &e), -EINVAL);
	rec.len = 10; /* cut short */
	snprintf(rec.prefix, sizeof(rec.prefix), "df 5 0 1 6");
	assert_int_equal(df_nflog_event(&rec, p, 12, &e), -EINVAL);
	df_policy_free(p);
	df_diags_free(&d);
}

/* A flow's first report at once, later ones at most once a second with
 * the count folded in between; other flows are not held back. */
static void reports_fold_per_flow(void **state)
{
	static struct df_flow_limiter fl;
	struct df_event a = { .family = 4, .proto = 17, .verdict = DF_DROP, .dport = 53,
			      .daddr = { 10, 0, 0, 1 } };
	struct df_event b = a;
	const uint64_t s = 1000000000ULL;

	(void)state;
	b.dport = 54;
	assert_true(df_flow_report(&fl, &a, 100 * s));
	assert_int_equal(a.suppressed, 0);
	assert_false(df_flow_report(&fl, &a, 100 * s + 1));
	assert_false(df_flow_report(&fl, &a, 100 * s + s / 2));
	assert_true(df_flow_report(&fl, &b, 100 * s + s / 2));
	assert_true(df_flow_report(&fl, &a, 101 * s));
	assert_int_equal(a.suppressed, 2);
	assert_false(df_flow_report(&fl, &a, 101 * s + 5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plan_matches_reference),
		cmocka_unit_test(mapped_window_is_ipv4),
		cmocka_unit_test(names_and_prefixes_round_trip),
		cmocka_unit_test(a_report_becomes_a_drop_event),
		cmocka_unit_test(reports_fold_per_flow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
