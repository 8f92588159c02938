// SPDX-License-Identifier: GPL-2.0-only
/* The verdict algorithm of docs/semantics.md, case by case: each fixture is judged by
 * the reference evaluator and by the emulator over the compiled tables, and
 * both must give the expected verdict, reason and rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "compile.h"
#include "policy.h"
#include "verdict.h"
#include "refeval.h"
#include "emulate.h"

/* docs/semantics.md, property 1: covering rules are not lost under longer prefixes. */
static const char *const pol_overlap =
	"policy = { name = \"overlap\"; serial = 1; };\n"
	"classes = ( { name = \"A\"; match = { uids = ( 1 ); }; },\n"
	"            { name = \"B\"; match = { uids = ( 2 ); }; },\n"
	"            { name = \"S\"; mode = \"audit\"; match = { uids = ( 3 ); }; } );\n"
	"destinations = (\n"
	"  { name = \"wide\"; cidrs = [\"10.0.0.0/8\", \"2001:db8::/32\"]; except = [\"10.9.0.0/16\"]; protocols = [\"tcp\"]; ports = (443); allow = [\"A\"]; },\n"
	"  { name = \"narrow\"; cidrs = [\"10.1.0.0/16\"]; protocols = [\"tcp\"]; ports = (22); allow = [\"B\"]; },\n"
	"  { name = \"inhole\"; cidrs = [\"10.9.9.0/24\"]; allow = [\"A\"]; },\n"
	"  { name = \"nobody\"; cidrs = [\"192.0.2.0/24\"]; allow = [ ]; },\n"
	"  { name = \"icmp-or-web\"; cidrs = [\"198.51.100.0/24\"]; protocols = [\"tcp\", \"icmp\"]; ports = (443); allow = [\"A\", \"S\"]; }\n"
	");\n"
	"exceptions = (\n"
	"  { id = \"E1\"; approved_by = \"sec\"; reason = \"r\"; class = \"A\"; cidrs = [\"203.0.113.0/24\"]; ports = (22);\n"
	"    not_before = \"2026-11-01T00:00:00Z\"; expires = \"2026-12-01T00:00:00Z\"; }\n"
	");\n";

static const char *const pol_noloop =
	"policy = { name = \"noloop\"; serial = 1; allow_loopback = false; };\n"
	"classes = ( { name = \"A\"; match = { all = true; }; } );\n"
	"destinations = ( { name = \"lo\"; cidrs = [\"127.0.0.0/8\"]; ports = (5432); allow = [\"A\"]; } );\n";

/* Verdict step 3a: judged with stale_posture = "drop-protected" (judge()
 * sets it for this policy: the posture is agent.conf's). */
static const char *const pol_posture =
	"policy = { name = \"posture\"; serial = 1; expires = \"2026-12-01T00:00:00Z\"; };\n"
	"classes = ( { name = \"A\"; match = { uids = ( 1 ); }; },\n"
	"            { name = \"S\"; mode = \"audit\"; match = { uids = ( 3 ); }; } );\n"
	"destinations = ( { name = \"ok\"; cidrs = [\"10.0.0.0/8\"]; allow = [\"A\", \"S\"]; } );\n";

#define NOV15 1794700800 /* 2026-11-15T00:00:00Z */
#define DEC01 1796083200 /* 2026-12-01T00:00:00Z */

struct fixture {
	const char *desc;
	const char *const *policy;
	const char *dst;
	uint8_t proto;
	uint16_t dport;
	uint32_t uid;
	int64_t now;
	const char *verdict, *reason, *rule; /* rule: name or NULL */
	uint8_t flags; /* DF_PKT_*: what the datapath knows besides the header */
};

static const struct fixture fixtures[] = {
	{ "class A under a longer prefix of class B keeps A's rule", &pol_overlap, "10.1.2.3", 6, 443, 1, NOV15, "allow", "destination", "wide", 0 },
	{ "class B on its own prefix", &pol_overlap, "10.1.2.3", 6, 22, 2, NOV15, "allow", "destination", "narrow", 0 },
	{ "class B outside its prefix", &pol_overlap, "10.2.0.1", 6, 22, 2, NOV15, "drop", "class-not-allowed", NULL, 0 },
	{ "class A wrong port", &pol_overlap, "10.1.2.3", 6, 22, 1, NOV15, "drop", "port-not-allowed", "wide", 0 },
	{ "class A wrong protocol", &pol_overlap, "10.1.2.3", 17, 443, 1, NOV15, "drop", "protocol-not-allowed", "wide", 0 },
	{ "except carves a hole", &pol_overlap, "10.9.1.1", 6, 443, 1, NOV15, "drop", "no-destination", NULL, 0 },
	{ "a rule inside the hole still applies", &pol_overlap, "10.9.9.9", 17, 53, 1, NOV15, "allow", "destination", "inhole", 0 },
	{ "v6 covering rule", &pol_overlap, "2001:db8:ffff::1", 6, 443, 1, NOV15, "allow", "destination", "wide", 0 },
	{ "v4-mapped judged as v4", &pol_overlap, "::ffff:10.1.2.3", 6, 443, 1, NOV15, "allow", "destination", "wide", 0 },
	{ "v4-mapped into the hole", &pol_overlap, "::ffff:10.9.1.1", 6, 443, 1, NOV15, "drop", "no-destination", NULL, 0 },
	{ "destination allowing no class", &pol_overlap, "192.0.2.9", 6, 443, 1, NOV15, "drop", "class-not-allowed", NULL, 0 },
	{ "icmp passes a ports list", &pol_overlap, "198.51.100.7", 1, 0, 1, NOV15, "allow", "destination", "icmp-or-web", 0 },
	{ "udp is not in tcp+icmp", &pol_overlap, "198.51.100.7", 17, 443, 1, NOV15, "drop", "protocol-not-allowed", "icmp-or-web", 0 },
	{ "audit class: would-drop", &pol_overlap, "192.0.2.9", 6, 443, 3, NOV15, "would-drop", "class-not-allowed", NULL, 0 },
	{ "audit class allowed", &pol_overlap, "198.51.100.7", 6, 443, 3, NOV15, "allow", "destination", "icmp-or-web", 0 },
	{ "unclassified passes anywhere", &pol_overlap, "192.0.2.9", 6, 443, 99, NOV15, "allow", "unclassified", NULL, 0 },
	{ "loopback passes", &pol_overlap, "127.0.0.1", 6, 443, 1, NOV15, "allow", "loopback", NULL, 0 },
	{ "v6 loopback passes", &pol_overlap, "::1", 6, 443, 1, NOV15, "allow", "loopback", NULL, 0 },
	{ "a loopback header leaving another device is judged", &pol_overlap, "127.0.0.1", 6, 443, 1, NOV15, "drop", "no-destination", NULL, DF_PKT_NOT_LO },
	{ "a v6 loopback header leaving another device is judged", &pol_overlap, "::1", 6, 443, 1, NOV15, "drop", "no-destination", NULL, DF_PKT_NOT_LO },
	{ "a v4-mapped loopback header leaving another device is judged", &pol_overlap, "::ffff:127.0.0.1", 6, 443, 1, NOV15, "drop", "no-destination", NULL, DF_PKT_NOT_LO },
	{ "exception in its window", &pol_overlap, "203.0.113.5", 6, 22, 1, NOV15, "allow", "exception", "E1", 0 },
	{ "exception at expiry is over", &pol_overlap, "203.0.113.5", 6, 22, 1, DEC01, "drop", "exception-inactive", "E1", 0 },
	{ "exception a second before expiry", &pol_overlap, "203.0.113.5", 6, 22, 1, DEC01 - 1, "allow", "exception", "E1", 0 },
	{ "exception before not_before", &pol_overlap, "203.0.113.5", 6, 22, 1, 1793491199, "drop", "exception-inactive", "E1", 0 },
	{ "exception for another port", &pol_overlap, "203.0.113.5", 6, 23, 1, NOV15, "drop", "no-destination", NULL, 0 },
	{ "exception is for class A only", &pol_overlap, "203.0.113.5", 6, 22, 2, NOV15, "drop", "no-destination", NULL, 0 },
	{ "allow_loopback = false judges loopback", &pol_noloop, "127.0.0.1", 6, 80, 5, NOV15, "drop", "port-not-allowed", "lo", 0 },
	{ "allow_loopback = false, approved port", &pol_noloop, "127.0.0.1", 6, 5432, 5, NOV15, "allow", "destination", "lo", 0 },
	{ "all = true classifies every packet", &pol_noloop, "192.0.2.1", 17, 53, DF_UID_NONE, NOV15, "drop", "no-destination", NULL, 0 },
	{ "posture: a fresh agent, an approved destination", &pol_posture, "10.1.2.3", 6, 443, 1, NOV15, "allow", "destination", "ok", 0 },
	{ "posture: a stale agent drops protected traffic to an approved place", &pol_posture, "10.1.2.3", 6, 443, 1, NOV15, "drop", "agent-stale", NULL, DF_PKT_STALE },
	{ "posture: a stale agent, an audit class would drop", &pol_posture, "10.1.2.3", 6, 443, 3, NOV15, "would-drop", "agent-stale", NULL, DF_PKT_STALE },
	{ "posture: unclassified traffic passes a stale agent", &pol_posture, "10.1.2.3", 6, 443, 99, NOV15, "allow", "unclassified", NULL, DF_PKT_STALE },
	{ "posture: loopback passes a stale agent", &pol_posture, "127.0.0.1", 6, 443, 1, NOV15, "allow", "loopback", NULL, DF_PKT_STALE },
	{ "posture: an expired policy", &pol_posture, "10.1.2.3", 6, 443, 1, DEC01, "drop", "policy-expired", NULL, 0 },
	{ "posture: a second before expiry", &pol_posture, "10.1.2.3", 6, 443, 1, DEC01 - 1, "allow", "destination", "ok", 0 },
	{ "posture: expired and stale says expired", &pol_posture, "10.1.2.3", 6, 443, 1, DEC01, "drop", "policy-expired", NULL, DF_PKT_STALE },
	{ "keep (the default): a stale agent changes nothing", &pol_overlap, "10.1.2.3", 6, 443, 1, NOV15, "allow", "destination", "wide", DF_PKT_STALE },
};

static void judge(const struct fixture *f)
{
	const char *text = *f->policy;
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	struct df_emu *emu;
	struct df_packet pkt = { .proto = f->proto, .dport = f->dport, .sport = 40000, .uid = f->uid,
				 .flags = f->flags };
	struct df_result ref, emr;
	const char *kind;

	assert_int_equal(df_policy_parse(text, strlen(text), "fixture", NULL, &p, &d), 0);
	if (f->policy == &pol_posture) {
		p->drop_stale = true;
		p->stale_after = 3;
	}
	assert_int_equal(df_compile(p, &img, &d), 0);
	emu = df_emu_new(img);
	assert_non_null(emu);
	assert_int_equal(df_addr_parse(f->dst, &pkt.dst), 0);
	df_addr_parse("10.255.0.1", &pkt.src);

	df_ref_verdict(p, &pkt, df_ref_classify(p, &pkt), f->now, &ref);
	df_emu_verdict(emu, &pkt, df_emu_classify(emu, &pkt), f->now, &emr);
	const struct df_result *rs[2] = { &ref, &emr };

	for (int i = 0; i < 2; i++) {
		const char *rule = df_rule_name(p, rs[i]->rule, &kind);

		if (strcmp(df_verdict_name(rs[i]->verdict), f->verdict) ||
		    strcmp(df_reason_name(rs[i]->reason), f->reason) ||
		    (f->rule ? !rule || strcmp(rule, f->rule) : rule != NULL)) {
			fprintf(stderr, "%s: %s: expected %s %s rule %s, got %s %s rule %s\n", f->desc,
				i ? "emulator" : "reference", f->verdict, f->reason,
				f->rule ? f->rule : "(none)", df_verdict_name(rs[i]->verdict),
				df_reason_name(rs[i]->reason), rule ? rule : "(none)");
			fail();
		}
	}
	df_emu_free(emu);
	df_image_free(img);
	df_policy_free(p);
	df_diags_free(&d);
}

static void fixture_test(void **state)
{
	judge(*state);
}

/* Several classes: a packet must be allowed for every class it carries, and
 * the deciding mode is enforce if any unsatisfied class enforces. */
static const char *const pol_multi =
	"policy = { name = \"multi\"; serial = 1; };\n"
	"classes = ( { name = \"audited\"; mode = \"audit\"; match = { marks = [\"0x1/0x1\"]; }; },\n"
	"            { name = \"enforced\"; match = { marks = [\"0x2/0x2\"]; }; } );\n"
	"destinations = ( { name = \"a-only\"; cidrs = [\"10.0.0.0/8\"]; allow = [\"audited\"]; },\n"
	"                 { name = \"e-only\"; cidrs = [\"10.5.0.0/16\"]; protocols = [\"udp\"]; allow = [\"enforced\"]; } );\n";

static void every_class_must_be_allowed(void **state)
{
	const char *text = pol_multi;
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	struct df_emu *emu;
	struct df_packet pkt = { .proto = 6, .dport = 443, .uid = DF_UID_NONE };
	struct df_result r, e;

	assert_int_equal(df_policy_parse(text, strlen(text), "multi", NULL, &p, &d), 0);
	assert_int_equal(df_compile(p, &img, &d), 0);
	emu = df_emu_new(img);
	df_addr_parse("10.5.1.1", &pkt.dst);
	df_addr_parse("10.255.0.1", &pkt.src);

	pkt.mark = 3; /* both classes; "enforced" needs udp: enforce decides */
	df_ref_verdict(p, &pkt, df_ref_classify(p, &pkt), 0, &r);
	df_emu_verdict(emu, &pkt, df_emu_classify(emu, &pkt), 0, &e);
	assert_int_equal(r.classes, 3);
	assert_int_equal(r.verdict, DF_DROP);
	assert_int_equal(r.reason, DF_R_PROTOCOL_NOT_ALLOWED);
	assert_memory_equal(&r, &e, sizeof(r));

	pkt.proto = 17; /* both satisfied */
	df_ref_verdict(p, &pkt, 3, 0, &r);
	df_emu_verdict(emu, &pkt, 3, 0, &e);
	assert_int_equal(r.verdict, DF_ALLOW);
	assert_int_equal(r.reason, DF_R_DESTINATION);
	assert_memory_equal(&r, &e, sizeof(r));

	df_addr_parse("10.6.1.1", &pkt.dst); /* "enforced" has no rule here */
	df_ref_verdict(p, &pkt, 3, 0, &r);
	df_emu_verdict(emu, &pkt, 3, 0, &e);
	assert_int_equal(r.verdict, DF_DROP);
	assert_int_equal(r.reason, DF_R_CLASS_NOT_ALLOWED);
	assert_memory_equal(&r, &e, sizeof(r));

	df_addr_parse("192.0.2.1", &pkt.dst); /* only the audited class: would-drop */
	df_ref_verdict(p, &pkt, 1, 0, &r);
	df_emu_verdict(emu, &pkt, 1, 0, &e);
	assert_int_equal(r.verdict, DF_WOULD_DROP);
	assert_int_equal(r.reason, DF_R_NO_DESTINATION);
	assert_memory_equal(&r, &e, sizeof(r));

	df_emu_free(emu);
	df_image_free(img);
	df_policy_free(p);
	df_diags_free(&d);
}

int main(void)
{
	enum { N = sizeof(fixtures) / sizeof(fixtures[0]) };
	struct CMUnitTest tests[N + 1];

	for (size_t i = 0; i < N; i++)
		tests[i] = (struct CMUnitTest){ .name = fixtures[i].desc, .test_func = fixture_test,
						.initial_state = (void *)&fixtures[i] };
	tests[N] = (struct CMUnitTest)cmocka_unit_test(every_class_must_be_allowed);
	return _cmocka_run_group_tests("verdict", tests, N + 1, NULL, NULL);
}
