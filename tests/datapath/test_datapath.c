// SPDX-License-Identifier: GPL-2.0-only
/* Datapath differential test (root): the real BPF programs, loaded into the
 * kernel with maps filled from random compiled policies, judge crafted
 * packets through BPF_PROG_TEST_RUN (cgroup_skb and tc); every verdict,
 * reason, rule, slot and class set must equal the reference evaluator's,
 * or the emulator's for shapes only the datapath knows (the harness:
 * tests/lib/diff.c). Counters must be exact.
 * DF_SEED replays; DF_DP_POLICIES, DF_DP_PACKETS size the run. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <bpf/libbpf.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "compile.h"
#include "diff.h"
#include "dpenv.h"
#include "frame.h"
#include "polgen.h"
#include "refeval.h"
#include "emulate.h"
#include "values.h"
#include "swap.h"

static struct dp_env env;

static int setup(void **state)
{
	int err;

	if (geteuid() != 0) {
		fprintf(stderr, "datapath tests need root\n");
		return -1;
	}
	err = dp_setup(&env, true);
	if (!err)
		err = dp_netns(&env); /* and a device that is not loopback */
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
static enum df_shape shape_facts(struct df_rng *r, struct df_packet *pkt)
{
	uint32_t k = df_rng_below(r, 100);
	enum df_shape s = k < 6 ? DF_SHAPE_FRAGMENT : k < 9 ? DF_SHAPE_TRUNC_L4 : k < 11 ? DF_SHAPE_BAD_L3 :
			  k < 15 ? DF_SHAPE_EXTHDRS : k < 17 ? DF_SHAPE_EXTHDRS_DEEP :
			  k < 21 ? DF_SHAPE_VLAN : k < 24 ? DF_SHAPE_QINQ : DF_SHAPE_PLAIN;

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
	if ((s == DF_SHAPE_EXTHDRS || s == DF_SHAPE_EXTHDRS_DEEP) && pkt->dst.family != 6)
		s = DF_SHAPE_PLAIN;
	switch (s) {
	case DF_SHAPE_FRAGMENT:
		pkt->flags = DF_PKT_NO_PORTS;
		pkt->sport = pkt->dport = 0;
		break;
	case DF_SHAPE_TRUNC_L4:
		if (!(df_proto_bit(pkt->proto) & DF_P_PORTED))
			return DF_SHAPE_PLAIN;
		pkt->flags = DF_PKT_MALFORMED;
		pkt->sport = pkt->dport = 0;
		break;
	case DF_SHAPE_EXTHDRS_DEEP:
		pkt->flags = DF_PKT_MALFORMED;
		pkt->sport = pkt->dport = 0;
		break;
	case DF_SHAPE_BAD_L3:
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

static const char *shape_name(enum df_shape s)
{
	static const char *const n[] = { "plain",   "fragment",	   "trunc-l4", "bad-l3",
					 "exthdrs", "exthdrs-deep", "vlan",	   "qinq" };
	return n[s];
}

static bool same(const struct df_result *a, const struct df_result *b)
{
	return a->verdict == b->verdict && a->reason == b->reason && a->classes == b->classes &&
	       a->rule == b->rule && a->slot == b->slot;
}

static uint64_t expected_counts[DF_N_COUNTERS];
static uint64_t expected_rule_counts[DF_MAX_RULES];

/* The differential run: each packet as a frame of some shape, from a
 * cgroup of the policy's pool, through the emulator and both skb hooks. */
struct dp_diff {
	char cg[256];
	uint8_t frame[DF_FRAME_MAX];
	size_t len;
	unsigned long shapes[DF_SHAPE__COUNT];
};

static int dp_policy(void *ctx, struct df_diff_case *c)
{
	struct dp_diff *x = ctx;
	/* this policy's packets come from one cgroup of the pool, or ours */
	unsigned int cgi = df_rng_below(c->rng, df_polgen_n_cgroups + 1);
	struct df_diags d = { 0 };
	int err;

	if (cgi < df_polgen_n_cgroups)
		snprintf(x->cg, sizeof(x->cg), "%s%s", env.cg_rel, df_polgen_cgroups[cgi]);
	else
		snprintf(x->cg, sizeof(x->cg), "%s", env.cg_rel);
	err = dp_enter_cgroup(&env, x->cg);
	if (!err)
		err = df_loader_swap(env.l, c->img, &d);
	if (err)
		df_diags_print(&d, stderr, NULL);
	df_diags_free(&d);
	return err;
}

static bool dp_packet(void *ctx, struct df_diff_case *c)
{
	struct dp_diff *x = ctx;

	c->pkt.uid = 0;        /* BPF_PROG_TEST_RUN's socket belongs to root */
	c->pkt.cgroup = x->cg; /* and to this process's cgroup */
	c->shape = shape_facts(c->rng, &c->pkt);
	x->len = df_frame_build(&c->pkt, c->shape, x->frame);
	x->shapes[c->shape]++;
	return !dp_set_clock(&env, c->now, c->pkt.flags & DF_PKT_STALE);
}

static int emulator_judge(void *ctx, struct df_diff_case *c, struct df_result *want,
			  struct df_result *got)
{
	df_emu_verdict(c->emu, &c->pkt, df_emu_classify(c->emu, &c->pkt), c->now, got);
	return DF_DIFF_OK;
}

/* One hook on the frame; its verdict, its return code and the counters it
 * must have moved. */
static int hook_judge(struct dp_diff *x, struct df_diff_case *c, enum df_prog prog,
		      enum df_hook hook, const struct df_result *want, struct df_result *got)
{
	struct df_res kr = { 0 };
	int ret = -1, err = dp_run_on(&env, prog, x->frame, x->len, c->pkt.mark,
				      c->pkt.flags & DF_PKT_NOT_LO ? env.other_ifindex : 0, &kr, &ret);
	bool dropped = prog == DF_PROG_CGROUP_SKB ? ret == 0 : ret == 2 /* TC_ACT_SHOT */;

	if (err) {
		snprintf(c->note, sizeof(c->note), "test run failed: %s (shape %s, %zu bytes)",
			 strerror(-err), shape_name((enum df_shape)c->shape), x->len);
		return DF_DIFF_MISMATCH;
	}
	snprintf(c->note, sizeof(c->note), "shape %s, retval %d", shape_name((enum df_shape)c->shape),
		 ret);
	*got = df_result_of(&kr);
	if (dropped != (want->verdict == DF_DROP))
		return DF_DIFF_MISMATCH;
	expected_counts[DF_CNT_INDEX(hook, want->slot, want->verdict, want->reason)]++;
	if (want->rule >= 0)
		expected_rule_counts[want->rule]++;
	return DF_DIFF_OK;
}

static int cgroup_skb_judge(void *ctx, struct df_diff_case *c, struct df_result *want,
			    struct df_result *got)
{
	/* the IP layer never hands cgroup_skb a tagged frame: tags are put on
	 * below it (a VLAN device, a packet socket), where tc reads them */
	if (c->shape == DF_SHAPE_VLAN || c->shape == DF_SHAPE_QINQ)
		return DF_DIFF_SKIP;
	return hook_judge(ctx, c, DF_PROG_CGROUP_SKB, DF_HOOK_CGROUP_SKB, want, got);
}

static int tc_judge(void *ctx, struct df_diff_case *c, struct df_result *want,
		    struct df_result *got)
{
	return hook_judge(ctx, c, DF_PROG_TC, DF_HOOK_TC, want, got);
}

static void datapath_matches_emulator_and_reference(void **state)
{
	static const struct df_diff_subject subjects[] = {
		{ .name = "emulator", .compare = DF_DIFF_ALL, .policy = dp_policy,
		  .judge = emulator_judge },
		{ .name = "cgroup_skb", .compare = DF_DIFF_ALL, .judge = cgroup_skb_judge },
		{ .name = "tc", .compare = DF_DIFF_ALL, .judge = tc_judge },
	};
	struct df_diff_opts o = {
		.name = "datapath", .env_policies = "DF_DP_POLICIES", .env_packets = "DF_DP_PACKETS",
		.policies = 60, .packets = 2000, .salt = 0xd47a, .cgroup_prefix = env.cg_rel,
		.packet = dp_packet, .every_reason_from = 20000, .posture = true,
	};
	static struct dp_diff x;
	struct df_diff_stats st;

	assert_int_equal(df_diff_run(&o, subjects, 3, &x, &st), 0);
	assert_int_equal(dp_enter_cgroup(&env, env.cg_rel), 0);
	for (int s = 0; s < DF_SHAPE__COUNT; s++)
		fprintf(stderr, "  shape %-13s %lu\n", shape_name((enum df_shape)s), x.shapes[s]);
	/* the shapes reach the fail-closed path too, and tc reads past tags */
	assert_true(st.judged < 20000 || st.reasons[DF_R_MALFORMED] > 0);
	assert_true(st.judged < 20000 || (x.shapes[DF_SHAPE_VLAN] > 0 && x.shapes[DF_SHAPE_QINQ] > 0));
}

/* Counters are exact: every judged packet counted under its (hook, class,
 * verdict, reason). Runs after the differential test. */
static void counters_are_exact(void **state)
{
	int fd = df_loader_map_fd(env.l, DF_MAP_ID_COUNTERS);
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
	fd = df_loader_map_fd(env.l, DF_MAP_ID_RULE_CNT);
	for (__u32 i = 0; i < DF_MAX_RULES; i++) {
		uint64_t sum = 0;

		assert_int_equal(bpf_map_lookup_elem(fd, &i, v), 0);
		for (int c = 0; c < ncpu; c++)
			sum += v[c].packets;
		if (sum != expected_rule_counts[i]) {
			fprintf(stderr, "rule counter %u: expected %llu, kernel %llu\n", i,
				(unsigned long long)expected_rule_counts[i], (unsigned long long)sum);
			fail();
		}
	}
	fprintf(stderr, "counters: %lu packets, every counter exact (per class/verdict/reason and per rule)\n",
		checked);
	free(v);
}

/* ---- atomic swap ------------------------------------------------------------ */

#define SWAP_PKTS 256

struct swap_ctx {
	struct df_image *img[2];
	volatile int stop;
	unsigned long swaps;
	double max_swap_ms;
};

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1e3 + (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static void *swapper(void *arg)
{
	struct swap_ctx *c = arg;

	while (!c->stop) {
		struct df_diags d = { 0 };
		struct timespec t0;
		double ms;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (df_loader_swap(env.l, c->img[(c->swaps + 1) % 2], &d)) {
			df_diags_print(&d, stderr, NULL);
			c->stop = 2;
		}
		ms = ms_since(&t0);
		if (ms > c->max_swap_ms)
			c->max_swap_ms = ms;
		df_diags_free(&d);
		c->swaps++;
	}
	return NULL;
}

/* The swap test's packets from cgroup cg, as frames, and what each policy
 * says of them; returns how many the two policies judge differently. */
static unsigned long swap_packets(struct df_rng *r, struct df_policy *p[2], struct df_emu *emu[2],
				  struct df_packet *pkts, uint8_t (*frames)[256], size_t *lens,
				  struct df_result (*want)[SWAP_PKTS], const char *cg, int64_t now)
{
	unsigned long differ = 0;

	for (int i = 0; i < SWAP_PKTS; i++) {
		int64_t t;

		df_polgen_packet(r, p[i % 2], &pkts[i], &t);
		pkts[i].uid = 0;
		pkts[i].cgroup = cg;
		shape_facts(r, &pkts[i]);
		pkts[i].flags = 0; /* plain packets only */
		lens[i] = df_frame_build(&pkts[i], DF_SHAPE_PLAIN, frames[i]);
		for (int k = 0; k < 2; k++)
			df_emu_verdict(emu[k], &pkts[i], df_emu_classify(emu[k], &pkts[i]), now, &want[k][i]);
		differ += !same(&want[0][i], &want[1][i]);
	}
	return differ;
}

/* While one thread judges packets in a loop, another swaps between two
 * policies: every verdict must be one policy's, never a mix. */
static void swap_is_atomic(void **state)
{
	uint64_t seed = df_diff_env("DF_SEED", (unsigned long)time(NULL)) ^ 0x5a5a;
	struct swap_ctx c = { 0 };
	struct df_policy *p[2];
	struct df_emu *emu[2];
	static struct df_packet pkts[SWAP_PKTS];
	static uint8_t frames[SWAP_PKTS][256];
	static size_t lens[SWAP_PKTS];
	static struct df_result want[2][SWAP_PKTS];
	unsigned long judged = 0, seen[2] = { 0 }, differ = 0;
	struct df_rng r = { seed };
	/* each swap sets the kernel clock to the real time: judge at it (the
	 * generated exception windows are far from it, in 2027) */
	int64_t now = (int64_t)time(NULL);
	pthread_t th;
	struct timespec t0;
	char cg[256];

	snprintf(cg, sizeof(cg), "%s/svc/a", env.cg_rel);
	assert_int_equal(dp_enter_cgroup(&env, cg), 0);
	fprintf(stderr, "swap: seed %llu (DF_SEED=%llu replays)\n", (unsigned long long)seed,
		(unsigned long long)(seed ^ 0x5a5a));
	/* two policies that judge this cgroup's packets differently (two random
	 * ones may both leave it unclassified: then the next second one) */
	for (int attempt = 0; attempt < 20 && (!attempt || !differ); attempt++) {
		int first = attempt ? 1 : 0;

		if (attempt) {
			df_emu_free(emu[1]);
			df_image_free(c.img[1]);
			df_policy_free(p[1]);
		}
		for (int k = first; k < 2; k++) {
			char *text = df_polgen_policy_in(seed + (uint64_t)(k + attempt) * 7919,
							 env.cg_rel);

			p[k] = compile_text(text, &c.img[k]);
			emu[k] = df_emu_new(c.img[k]);
			free(text);
		}
		differ = swap_packets(&r, p, emu, pkts, frames, lens, want, cg, now);
	}
	load(c.img[0]);
	assert_int_equal(pthread_create(&th, NULL, swapper, &c), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* bounded: at most 5 s or 400k packets */
	while (ms_since(&t0) < 5000 && judged < 400000 && !c.stop) {
		int i = (int)(judged % SWAP_PKTS), ret;
		struct df_res kr = { 0 };
		struct df_result got;

		assert_int_equal(dp_run(&env, DF_PROG_CGROUP_SKB, frames[i], lens[i], pkts[i].mark, &kr, &ret), 0);
		got = df_result_of(&kr);
		if (same(&got, &want[0][i]))
			seen[0]++;
		else if (same(&got, &want[1][i]))
			seen[1]++;
		else {
			c.stop = 1;
			pthread_join(th, NULL);
			fprintf(stderr, "verdict from neither policy (packet %d, after %lu swaps)\n", i, c.swaps);
			df_diff_print_result("kernel", &got);
			df_diff_print_result("policy A", &want[0][i]);
			df_diff_print_result("policy B", &want[1][i]);
			fail();
		}
		judged++;
	}
	c.stop = c.stop ? c.stop : 1;
	pthread_join(th, NULL);
	assert_int_not_equal(c.stop, 2);
	fprintf(stderr, "swap: %lu verdicts during %lu swaps, each one policy's (%lu packets differ between the two; max swap %.1f ms)\n",
		judged, c.swaps, differ, c.max_swap_ms);
	assert_true(c.swaps >= 10);
	assert_true(differ > 0);
	for (int k = 0; k < 2; k++) {
		df_emu_free(emu[k]);
		df_image_free(c.img[k]);
		df_policy_free(p[k]);
	}
	assert_int_equal(dp_enter_cgroup(&env, env.cg_rel), 0);
}

/* ---- drop events ----------------------------------------------------------------- */

struct ev_sink {
	struct df_event last;
	unsigned long n;
};

static int on_event(void *ctx, void *data, size_t len)
{
	struct ev_sink *s = ctx;

	if (len >= sizeof(struct df_event))
		memcpy(&s->last, data, sizeof(s->last));
	s->n++;
	return 0;
}

static uint64_t misc(int idx)
{
	__u64 v = 0;
	__u32 k = (__u32)idx;

	bpf_map_lookup_elem(df_loader_map_fd(env.l, DF_MAP_ID_MISC), &k, &v);
	return v;
}

static const char *const events_policy =
	"policy = { name = \"events\"; serial = 77; };\n"
	"classes = ( { name = \"a\"; match = { marks = [\"0x1/0x1\"]; }; },\n"
	"            { name = \"b\"; mode = \"audit\"; match = { marks = [\"0x2/0x2\"]; }; } );\n"
	"destinations = ( { name = \"ok\"; cidrs = [\"10.0.0.0/8\"]; protocols = [\"tcp\"]; ports = (443); allow = [\"a\", \"b\"]; } );\n";

static void tcp_frame(const char *src, const char *dst, uint16_t sport, uint16_t dport,
		      uint8_t *frame, size_t *len)
{
	struct df_packet pkt = { .proto = 6, .sport = sport, .dport = dport };

	df_addr_parse(src, &pkt.src);
	df_addr_parse(dst, &pkt.dst);
	*len = df_frame_build(&pkt, DF_SHAPE_PLAIN, frame);
}

static void drop_events_carry_the_facts(void **state)
{
	struct df_image *img = NULL;
	struct df_policy *p = compile_text(events_policy, &img);
	struct ev_sink sink = { 0 };
	struct ring_buffer *rb = ring_buffer__new(df_loader_map_fd(env.l, DF_MAP_ID_EVENTS), on_event, &sink, NULL);
	uint8_t frame[256];
	size_t len;
	struct df_res kr;
	int ret;
	char path[1024];
	struct stat st;

	assert_non_null(rb);
	assert_int_equal(dp_enter_cgroup(&env, env.cg_rel), 0);
	load(img);
	assert_int_equal(dp_set_time(&env, DF_POLGEN_NOW), 0);
	ring_buffer__consume(rb); /* drain what earlier tests left */
	sink.n = 0;

	tcp_frame("10.1.1.1", "192.0.2.9", 40001, 80, frame, &len);
	assert_int_equal(dp_run(&env, DF_PROG_CGROUP_SKB, frame, len, 0x1, &kr, &ret), 0);
	assert_int_equal(ret, 0);
	assert_int_equal(ring_buffer__consume(rb), 1);
	assert_int_equal(sink.last.version, DF_EVENT_VERSION);
	assert_int_equal(sink.last.hook, DF_HOOK_CGROUP_SKB);
	assert_int_equal(sink.last.verdict, DF_DROP);
	assert_int_equal(sink.last.reason, DF_R_NO_DESTINATION);
	assert_int_equal(sink.last.family, 4);
	assert_int_equal(sink.last.proto, 6);
	assert_int_equal(sink.last.sport, 40001);
	assert_int_equal(sink.last.dport, 80);
	static const uint8_t want_d[4] = { 192, 0, 2, 9 }, want_s[4] = { 10, 1, 1, 1 };

	assert_memory_equal(sink.last.daddr, want_d, 4);
	assert_memory_equal(sink.last.saddr, want_s, 4);
	assert_int_equal(sink.last.classes, 1);
	assert_int_equal(sink.last.serial, 77);
	assert_int_equal(sink.last.uid, 0);
	assert_int_equal(sink.last.rule, DF_NO_RULE);
	snprintf(path, sizeof(path), "%s%s", env.cg_root, env.cg_rel);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(sink.last.cgroup_id, st.st_ino);
	assert_int_equal(sink.last.pid, getpid());
	assert_string_equal(sink.last.comm, "test_datapath");
	/* unix time, from the clock offset the loader keeps */
	assert_true(sink.last.ts_ns / 1000000000ULL == (uint64_t)DF_POLGEN_NOW);
	uint64_t seq0 = sink.last.seq;

	/* a wrong port, audit class: would-drop, rule named */
	tcp_frame("10.1.1.1", "10.9.9.9", 40002, 80, frame, &len);
	assert_int_equal(dp_run(&env, DF_PROG_CGROUP_SKB, frame, len, 0x2, &kr, &ret), 0);
	assert_int_equal(ret, 1);
	assert_int_equal(ring_buffer__consume(rb), 1);
	assert_int_equal(sink.last.verdict, DF_WOULD_DROP);
	assert_int_equal(sink.last.reason, DF_R_PORT_NOT_ALLOWED);
	assert_int_equal(sink.last.rule, 0);
	assert_int_equal(sink.last.classes, 2);
	assert_int_equal(sink.last.seq, seq0 + 1);

	/* allowed packets make no event */
	tcp_frame("10.1.1.1", "10.9.9.9", 40003, 443, frame, &len);
	assert_int_equal(dp_run(&env, DF_PROG_CGROUP_SKB, frame, len, 0x1, &kr, &ret), 0);
	assert_int_equal(ret, 1);
	assert_int_equal(ring_buffer__consume(rb), 0);
	ring_buffer__free(rb);
	df_image_free(img);
	df_policy_free(p);
}

/* A flood of one flow makes one event at once, then one a second with the
 * count in between. */
static void limiter_folds_a_flood(void **state)
{
	struct df_image *img = NULL;
	struct df_policy *p = compile_text(events_policy, &img);
	struct ev_sink sink = { 0 };
	struct ring_buffer *rb = ring_buffer__new(df_loader_map_fd(env.l, DF_MAP_ID_EVENTS), on_event, &sink, NULL);
	uint64_t supp0 = misc(DF_MISC_EVENTS_SUPPRESSED);
	uint8_t frame[256];
	size_t len;
	struct df_res kr;
	int ret;

	load(img);
	ring_buffer__consume(rb);
	sink.n = 0;
	tcp_frame("10.1.1.2", "192.0.2.10", 40100, 80, frame, &len);
	for (int i = 0; i < 100; i++)
		assert_int_equal(dp_run(&env, DF_PROG_CGROUP_SKB, frame, len, 0x1, &kr, &ret), 0);
	assert_int_equal(ring_buffer__consume(rb), 1);
	assert_int_equal(sink.last.suppressed, 0);
	assert_int_equal(misc(DF_MISC_EVENTS_SUPPRESSED) - supp0, 99);
	/* the kernel clock moves on by two seconds */
	assert_int_equal(dp_set_time(&env, DF_POLGEN_NOW + 2), 0);
	assert_int_equal(dp_run(&env, DF_PROG_CGROUP_SKB, frame, len, 0x1, &kr, &ret), 0);
	assert_int_equal(ring_buffer__consume(rb), 1);
	assert_int_equal(sink.last.suppressed, 99);
	ring_buffer__free(rb);
	df_image_free(img);
	df_policy_free(p);
}

/* With nobody reading, the ring fills: what does not fit is counted lost,
 * and sent + lost == drops reported. */
static void lost_events_are_counted(void **state)
{
	struct df_image *img = NULL;
	struct df_policy *p = compile_text(events_policy, &img);
	struct ev_sink sink = { 0 };
	struct ring_buffer *rb = ring_buffer__new(df_loader_map_fd(env.l, DF_MAP_ID_EVENTS), on_event, &sink, NULL);
	uint64_t sent0, lost0, sent, lost;
	uint8_t frame[256];
	size_t len;
	struct df_res kr;
	int ret, n = 12000;

	load(img);
	ring_buffer__consume(rb);
	sent0 = misc(DF_MISC_EVENTS_SENT);
	lost0 = misc(DF_MISC_EVENTS_LOST);
	for (int i = 0; i < n; i++) { /* distinct flows: the limiter lets each through */
		tcp_frame("10.1.1.3", "192.0.2.11", (uint16_t)(1024 + i), 80, frame, &len);
		assert_int_equal(dp_run(&env, DF_PROG_CGROUP_SKB, frame, len, 0x1, &kr, &ret), 0);
	}
	sent = misc(DF_MISC_EVENTS_SENT) - sent0;
	lost = misc(DF_MISC_EVENTS_LOST) - lost0;
	fprintf(stderr, "ring: %llu events sent, %llu lost of %d drops\n", (unsigned long long)sent,
		(unsigned long long)lost, n);
	assert_true(lost > 0);
	assert_int_equal(sent + lost, (uint64_t)n);
	sink.n = 0;
	ring_buffer__consume(rb);
	assert_int_equal(sink.n, sent);
	ring_buffer__free(rb);
	df_image_free(img);
	df_policy_free(p);
}

static uint64_t counter_sum(enum df_map map, __u32 idx)
{
	int ncpu = libbpf_num_possible_cpus();
	struct df_counter *v = calloc((size_t)ncpu, sizeof(*v));
	uint64_t sum = 0;

	assert_int_equal(bpf_map_lookup_elem(df_loader_map_fd(env.l, map), &idx, v), 0);
	for (int c = 0; c < ncpu; c++)
		sum += v[c].packets;
	free(v);
	return sum;
}

/* One socket repeating a flow (BPF_PROG_TEST_RUN's repeat reuses the
 * socket): after the first packet the per-socket fast path answers; every
 * packet is still counted, and a repeated drop makes one event, the rest
 * folded into the limiter's count. */
static void fast_path_counts_every_packet(void **state)
{
	struct df_image *img = NULL;
	struct df_policy *p = compile_text(events_policy, &img);
	struct ev_sink sink = { 0 };
	struct ring_buffer *rb = ring_buffer__new(df_loader_map_fd(env.l, DF_MAP_ID_EVENTS), on_event, &sink, NULL);
	struct df_res ra = { .verdict = DF_ALLOW, .reason = DF_R_DESTINATION, .rule = 0, .slot = 0, .classes = 1 };
	struct df_res rd = { .verdict = DF_DROP, .reason = DF_R_NO_DESTINATION, .rule = DF_NO_RULE, .slot = 0, .classes = 1 };
	__u32 ia = DF_CNT_INDEX(DF_HOOK_CGROUP_SKB, 0, DF_ALLOW, DF_R_DESTINATION);
	__u32 id = DF_CNT_INDEX(DF_HOOK_CGROUP_SKB, 0, DF_DROP, DF_R_NO_DESTINATION);
	uint64_t a0, d0, r0, s0;
	uint8_t frame[256];
	size_t len;
	struct df_res kr;
	int ret;

	load(img);
	assert_int_equal(dp_set_time(&env, DF_POLGEN_NOW), 0);
	ring_buffer__consume(rb);
	a0 = counter_sum(DF_MAP_ID_COUNTERS, ia);
	d0 = counter_sum(DF_MAP_ID_COUNTERS, id);
	r0 = counter_sum(DF_MAP_ID_RULE_CNT, 0);
	s0 = misc(DF_MISC_EVENTS_SUPPRESSED);

	tcp_frame("10.1.1.4", "10.2.3.4", 40200, 443, frame, &len);
	assert_int_equal(dp_run_n(&env, DF_PROG_CGROUP_SKB, frame, len, 0x1, 5000, &kr, &ret), 0);
	assert_int_equal(ret, 1);
	assert_memory_equal(&kr, &ra, 8); /* verdict, reason, rule */
	assert_int_equal(counter_sum(DF_MAP_ID_COUNTERS, ia) - a0, 5000);
	assert_int_equal(counter_sum(DF_MAP_ID_RULE_CNT, 0) - r0, 5000);

	tcp_frame("10.1.1.4", "192.0.2.44", 40201, 443, frame, &len);
	assert_int_equal(dp_run_n(&env, DF_PROG_CGROUP_SKB, frame, len, 0x1, 5000, &kr, &ret), 0);
	assert_int_equal(ret, 0);
	assert_memory_equal(&kr, &rd, 8);
	assert_int_equal(counter_sum(DF_MAP_ID_COUNTERS, id) - d0, 5000);
	sink.n = 0;
	assert_int_equal(ring_buffer__consume(rb), 1);
	assert_int_equal(misc(DF_MISC_EVENTS_SUPPRESSED) - s0, 4999);
	ring_buffer__free(rb);
	df_image_free(img);
	df_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(datapath_matches_emulator_and_reference),
		cmocka_unit_test(counters_are_exact),
		cmocka_unit_test(swap_is_atomic),
		cmocka_unit_test(drop_events_carry_the_facts),
		cmocka_unit_test(limiter_folds_a_flood),
		cmocka_unit_test(lost_events_are_counted),
		cmocka_unit_test(fast_path_counts_every_packet),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
