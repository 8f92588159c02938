// SPDX-License-Identifier: GPL-2.0-only
/* Datapath differential test (root): the real BPF programs, loaded into the
 * kernel with maps filled from random compiled policies, judge crafted
 * packets through BPF_PROG_TEST_RUN (cgroup_skb and tc); every verdict,
 * reason, rule and class set must equal the emulator's, and the reference
 * evaluator's for packets it can express. Counters must be exact.
 * DF_SEED replays; DF_DP_POLICIES, DF_DP_PACKETS size the run. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <bpf/libbpf.h>

#include "dp.h"
#include "polgen.h"

static struct dp_env env;

static unsigned long env_or(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

static int setup(void **state)
{
	int err;

	if (geteuid() != 0) {
		fprintf(stderr, "datapath tests need root\n");
		return -1;
	}
	err = dp_setup(&env, true);
	if (err) {
		fprintf(stderr, "setup failed: %s\n", strerror(-err));
		dp_teardown(&env);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	dp_teardown(&env);
	return 0;
}

static struct df_policy *compile_text(const char *text, struct df_image **img)
{
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;

	if (df_policy_parse(text, strlen(text), "gen.conf", NULL, &p, &d) || df_compile(p, img, &d)) {
		df_diags_print(&d, stderr, text);
		fprintf(stderr, "%s", text);
		fail();
	}
	df_diags_free(&d);
	return p;
}

static void load(struct df_image *img)
{
	struct df_diags d = { 0 };
	int err = df_loader_swap(env.l, img, &d);

	if (err)
		df_diags_print(&d, stderr, NULL);
	assert_int_equal(err, 0);
	df_diags_free(&d);
}

/* Facts as the kernel will see them for this shape, from a random packet. */
static enum dp_shape shape_facts(struct df_rng *r, struct df_packet *pkt)
{
	uint32_t k = df_rng_below(r, 100);
	enum dp_shape s = k < 6 ? DP_FRAGMENT : k < 9 ? DP_TRUNC_L4 : k < 11 ? DP_TRUNC_L3 :
			  k < 15 ? DP_EXTHDRS : k < 17 ? DP_EXTHDRS_DEEP : DP_PLAIN;

	/* The frame's family is the destination's; the source follows it. */
	if (pkt->src.family != pkt->dst.family) {
		if (pkt->dst.family == 6) { /* v4 source in a v6 packet: v4-mapped */
			memmove(pkt->src.addr + 12, pkt->src.addr, 4);
			memset(pkt->src.addr, 0, 10);
			pkt->src.addr[10] = pkt->src.addr[11] = 0xff;
			pkt->src.family = 6;
			pkt->src.plen = 128;
		} else {
			df_addr_parse("10.255.0.1", &pkt->src);
		}
	}
	if ((s == DP_EXTHDRS || s == DP_EXTHDRS_DEEP) && pkt->dst.family != 6)
		s = DP_PLAIN;
	switch (s) {
	case DP_FRAGMENT:
		pkt->flags = DF_PKT_NO_PORTS;
		pkt->sport = pkt->dport = 0;
		break;
	case DP_TRUNC_L4:
		if (!(df_proto_bit(pkt->proto) & DF_P_PORTED))
			return DP_PLAIN;
		pkt->flags = DF_PKT_MALFORMED;
		pkt->sport = pkt->dport = 0;
		break;
	case DP_EXTHDRS_DEEP:
		pkt->flags = DF_PKT_MALFORMED;
		pkt->sport = pkt->dport = 0;
		break;
	case DP_TRUNC_L3:
		pkt->flags = DF_PKT_MALFORMED;
		pkt->sport = pkt->dport = 0;
		memset(&pkt->src, 0, sizeof(pkt->src));
		memset(&pkt->dst, 0, sizeof(pkt->dst));
		pkt->src.family = pkt->dst.family = 4;
		pkt->src.plen = pkt->dst.plen = 32;
		break;
	default:
		break;
	}
	return s;
}

static const char *shape_name(enum dp_shape s)
{
	static const char *const n[] = { "plain", "fragment", "trunc-l4", "bad-l3", "exthdrs",
					 "exthdrs-deep" };
	return n[s];
}

static void report(const char *who, const struct df_result *r)
{
	fprintf(stderr, "  %s: %s %s classes %#llx rule %d\n", who, df_verdict_name(r->verdict),
		df_reason_name(r->reason), (unsigned long long)r->classes, r->rule);
}

static bool same(const struct df_result *a, const struct df_result *b)
{
	return a->verdict == b->verdict && a->reason == b->reason && a->classes == b->classes &&
	       a->rule == b->rule;
}

static uint64_t expected_counts[DF_N_COUNTERS];

static void datapath_matches_emulator_and_reference(void **state)
{
	uint64_t seed = env_or("DF_SEED", (unsigned long)time(NULL));
	unsigned long n_pol = env_or("DF_DP_POLICIES", 60), n_pkt = env_or("DF_DP_PACKETS", 2000);
	unsigned long judged = 0, vs_ref = 0, shapes[6] = { 0 }, reasons[DF_REASON__MAX] = { 0 };
	static const enum df_prog progs[] = { DF_PROG_CGROUP_SKB, DF_PROG_TC };

	fprintf(stderr, "datapath: seed %llu, %lu policies x %lu packets x 2 hooks (DF_SEED replays)\n",
		(unsigned long long)seed, n_pol, n_pkt);
	for (unsigned long i = 0; i < n_pol; i++) {
		uint64_t pseed = seed * 1000003ULL + i;
		char *text = df_polgen_policy_in(pseed, env.cg_rel);
		struct df_image *img = NULL;
		struct df_policy *p = compile_text(text, &img);
		struct df_emu *emu = df_emu_new(img);
		struct df_rng r = { pseed ^ 0xd47a };
		/* this policy's packets come from one cgroup of the pool, or ours */
		unsigned int cgi = df_rng_below(&r, df_polgen_n_cgroups + 1);
		char cg[256];

		if (cgi < df_polgen_n_cgroups)
			snprintf(cg, sizeof(cg), "%s%s", env.cg_rel, df_polgen_cgroups[cgi]);
		else
			snprintf(cg, sizeof(cg), "%s", env.cg_rel);
		assert_int_equal(dp_enter_cgroup(&env, cg), 0);
		load(img);

		for (unsigned long k = 0; k < n_pkt; k++) {
			struct df_packet pkt;
			struct df_result emr, ref;
			int64_t now;
			uint8_t frame[256];
			size_t len;
			enum dp_shape shape;

			df_polgen_packet(&r, p, &pkt, &now);
			pkt.uid = 0;       /* BPF_PROG_TEST_RUN's socket belongs to root */
			pkt.cgroup = cg;   /* and to this process's cgroup */
			shape = shape_facts(&r, &pkt);
			len = dp_frame(&pkt, shape, frame);
			df_emu_verdict(emu, &pkt, df_emu_classify(emu, &pkt), now, &emr);
			if (!pkt.flags) {
				df_ref_verdict(p, &pkt, df_ref_classify(p, &pkt), now, &ref);
				if (!same(&ref, &emr)) {
					fprintf(stderr, "emulator != reference (seed %llu policy %lu packet %lu)\n",
						(unsigned long long)seed, i, k);
					report("reference", &ref);
					report("emulator", &emr);
					fail();
				}
				vs_ref++;
			}
			assert_int_equal(dp_set_time(&env, now), 0);
			for (int h = 0; h < 2; h++) {
				struct df_res kr = { 0 };
				struct df_result kres;
				int ret = -1, err;

				err = dp_run(&env, progs[h], frame, len, pkt.mark, &kr, &ret);
				if (err)
					fprintf(stderr, "test run of %s failed: %s (shape %s, %zu bytes)\n",
						h ? "tc" : "cgroup_skb", strerror(-err), shape_name(shape), len);
				assert_int_equal(err, 0);
				kres = (struct df_result){ .verdict = kr.verdict, .reason = kr.reason,
							   .classes = kr.classes,
							   .rule = kr.rule == DF_NO_RULE ? -1 : kr.rule };
				bool drop_ret = h == 0 ? ret == 0 : ret == 2 /* TC_ACT_SHOT */;

				if (!same(&kres, &emr) || drop_ret != (emr.verdict == DF_DROP)) {
					char s[DF_ADDRSTRLEN], d[DF_ADDRSTRLEN];

					df_cidr_format(&pkt.src, false, s, sizeof(s));
					df_cidr_format(&pkt.dst, false, d, sizeof(d));
					fprintf(stderr, "kernel (%s) != emulator: seed %llu policy %lu packet %lu shape %s\n",
						h ? "tc" : "cgroup_skb", (unsigned long long)seed, i, k,
						shape_name(shape));
					fprintf(stderr, "  %s:%u -> %s:%u proto %u mark %#x now %lld retval %d\n", s,
						pkt.sport, d, pkt.dport, pkt.proto, pkt.mark, (long long)now, ret);
					report("kernel", &kres);
					report("emulator", &emr);
					fprintf(stderr, "%s", text);
					fail();
				}
				unsigned slot = emr.classes ? (unsigned)__builtin_ctzll(emr.classes) :
							      DF_MAX_CLASSES;
				expected_counts[DF_CNT_INDEX(h == 0 ? DF_HOOK_CGROUP_SKB : DF_HOOK_TC, slot,
							     emr.verdict, emr.reason)]++;
				judged++;
			}
			shapes[shape]++;
			reasons[emr.reason]++;
		}
		df_emu_free(emu);
		df_image_free(img);
		df_policy_free(p);
		free(text);
	}
	assert_int_equal(dp_enter_cgroup(&env, env.cg_rel), 0);
	fprintf(stderr, "datapath: %lu kernel verdicts agree (%lu packets also vs the reference)\n",
		judged, vs_ref);
	for (int s = 0; s < 6; s++)
		fprintf(stderr, "  shape %-13s %lu\n", shape_name((enum dp_shape)s), shapes[s]);
	for (int k = 0; k < DF_REASON__MAX; k++)
		fprintf(stderr, "  %-22s %lu\n", df_reason_name((enum df_reason)k), reasons[k]);
	for (int k = 0; k < DF_REASON__MAX; k++)
		assert_true(n_pol * n_pkt < 20000 || reasons[k] > 0);
}

/* Counters are exact: every judged packet counted under its (hook, class,
 * verdict, reason). Runs after the differential test. */
static void counters_are_exact(void **state)
{
	int fd = df_loader_map_fd(env.l, "df_counters");
	int ncpu = libbpf_num_possible_cpus();
	struct df_counter *v = calloc((size_t)ncpu, sizeof(*v));
	unsigned long checked = 0;

	for (__u32 i = 0; i < DF_N_COUNTERS; i++) {
		uint64_t sum = 0;

		assert_int_equal(bpf_map_lookup_elem(fd, &i, v), 0);
		for (int c = 0; c < ncpu; c++)
			sum += v[c].packets;
		if (sum != expected_counts[i]) {
			fprintf(stderr, "counter %u: expected %llu, kernel %llu\n", i,
				(unsigned long long)expected_counts[i], (unsigned long long)sum);
			fail();
		}
		checked += sum;
	}
	fprintf(stderr, "counters: %lu packets, every counter exact\n", checked);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(datapath_matches_emulator_and_reference),
		cmocka_unit_test(counters_are_exact),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
