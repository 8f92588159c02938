// SPDX-License-Identifier: GPL-2.0-only
/* Differential test: on random policies and packets, the compiled-table
 * emulator must agree with the reference evaluator on classes, verdict,
 * reason and rule. DF_SEED replays a run; DF_DIFF_POLICIES and
 * DF_DIFF_PACKETS size it (defaults 150 x 10000). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "compile.h"
#include "polgen.h"
#include "verdict.h"
#include "refeval.h"
#include "emulate.h"

static unsigned long env_or(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

static void print_packet(const struct df_packet *pkt, int64_t now)
{
	char s[DF_ADDRSTRLEN], d[DF_ADDRSTRLEN];

	df_cidr_format(&pkt->src, false, s, sizeof(s));
	df_cidr_format(&pkt->dst, false, d, sizeof(d));
	fprintf(stderr, "  packet: %s:%u -> %s:%u proto %u uid %u mark %#x cgroup %s now %lld\n",
		s, pkt->sport, d, pkt->dport, pkt->proto, pkt->uid, pkt->mark,
		pkt->cgroup ? pkt->cgroup : "(none)", (long long)now);
}

static void print_result(const char *who, const struct df_result *r)
{
	fprintf(stderr, "  %s: %s %s classes %#llx rule %d\n", who, df_verdict_name(r->verdict),
		df_reason_name(r->reason), (unsigned long long)r->classes, r->rule);
}

static void emulator_matches_reference(void **state)
{
	uint64_t seed = env_or("DF_SEED", (unsigned long)time(NULL));
	unsigned long n_pol = env_or("DF_DIFF_POLICIES", 150);
	unsigned long n_pkt = env_or("DF_DIFF_PACKETS", 10000);
	unsigned long reasons[DF_REASON__MAX] = { 0 }, verdicts[DF_VERDICT__MAX] = { 0 };
	unsigned long judged = 0;

	fprintf(stderr, "differential: seed %llu, %lu policies x %lu packets (DF_SEED=%llu replays)\n",
		(unsigned long long)seed, n_pol, n_pkt, (unsigned long long)seed);
	for (unsigned long i = 0; i < n_pol; i++) {
		uint64_t pseed = seed * 1000003ULL + i;
		char *text = df_polgen_policy(pseed);
		struct df_diags d = { 0 };
		struct df_policy *p = NULL;
		struct df_image *img = NULL;
		struct df_emu *emu;
		struct df_rng r = { pseed ^ 0x5eed };

		if (df_policy_parse(text, strlen(text), "gen.conf", NULL, &p, &d) ||
		    df_compile(p, &img, &d)) {
			df_diags_print(&d, stderr, text);
			fprintf(stderr, "generated policy (seed %llu) invalid:\n%s", (unsigned long long)pseed, text);
			fail();
		}
		emu = df_emu_new(img);
		assert_non_null(emu);
		for (unsigned long k = 0; k < n_pkt; k++) {
			struct df_packet pkt;
			struct df_result ref, emr;
			int64_t now;
			uint64_t rc, ec;

			df_polgen_packet(&r, p, &pkt, &now);
			rc = df_ref_classify(p, &pkt);
			ec = df_emu_classify(emu, &pkt);
			df_ref_verdict(p, &pkt, rc, now, &ref);
			df_emu_verdict(emu, &pkt, ec, now, &emr);
			if (rc != ec || ref.verdict != emr.verdict || ref.reason != emr.reason ||
			    ref.rule != emr.rule || ref.slot != emr.slot) {
				fprintf(stderr, "MISMATCH: seed %llu policy %lu (policy seed %llu) packet %lu\n",
					(unsigned long long)seed, i, (unsigned long long)pseed, k);
				print_packet(&pkt, now);
				print_result("reference", &ref);
				print_result("emulator ", &emr);
				fprintf(stderr, "policy:\n%s", text);
				fail();
			}
			reasons[ref.reason]++;
			verdicts[ref.verdict]++;
			judged++;
		}
		df_emu_free(emu);
		df_image_free(img);
		df_policy_free(p);
		df_diags_free(&d);
		free(text);
	}
	fprintf(stderr, "differential: %lu packets agree; verdicts allow %lu drop %lu would-drop %lu\n",
		judged, verdicts[DF_ALLOW], verdicts[DF_DROP], verdicts[DF_WOULD_DROP]);
	for (int k = 0; k < DF_REASON__MAX; k++)
		fprintf(stderr, "  %-22s %lu\n", df_reason_name((enum df_reason)k), reasons[k]);
	/* The generator must reach every verdict path, or agreement means little. */
	if (n_pol * n_pkt >= 100000) {
		for (int k = 0; k < DF_REASON__MAX; k++)
			if (k != DF_R_MALFORMED && reasons[k] == 0) {
				fprintf(stderr, "reason %s never produced\n", df_reason_name((enum df_reason)k));
				fail();
			}
		assert_true(verdicts[DF_WOULD_DROP] > 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(emulator_matches_reference),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
