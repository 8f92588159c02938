// SPDX-License-Identifier: GPL-2.0-only
/* Differential test of both backends in one run (root): random policies
 * and packets; each packet is sent for real through the nftables table
 * (a raw socket in a network namespace of our own, with the packet's owner,
 * mark and cgroup), and judged by the BPF program through
 * BPF_PROG_TEST_RUN. Verdict, reason, counter slot and rule must equal the
 * reference evaluator's (the harness: tests/lib/diff.c): for nftables, the
 * sender sees EPERM exactly for drops, and exactly the expected counters
 * move. DF_SEED replays; DF_NFT_POLICIES and DF_NFT_PACKETS size it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sched.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <signal.h>
#include <netinet/in.h>

#include <arpa/inet.h>
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
#include "nfttable.h"
#include "nftnames.h"
#include "nftplan.h"
#include "refeval.h"
#include "swap.h"

static struct dp_env env;
/* The table as the agent makes it (classified once), and class by class
 * (what a policy with too many class combinations gets: nftclassify.c). */
static struct df_nft_opts nopts = { .table = "dftest", .log_group = 7199, .log_rate = 1000 };
static struct df_nft_opts nopts_pc = { .table = "dftest", .log_group = 7199, .log_rate = 1000,
				       .per_class = true };

static int sh(const char *cmd)
{
	int rc = system(cmd);

	if (rc)
		fprintf(stderr, "failed (%d): %s\n", rc, cmd);
	return rc;
}

static int setup(void **state)
{
	(void)state;
	/* our own network namespace: the table and the traffic stay in it and
	 * go with this process; a dummy interface takes every route */
	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	/* quiet: no link-local addresses, DAD, router or neighbour solicitations
	 * or multicast reports of the kernel's own to count with our packets */
	if (sh("sysctl -qw net.ipv6.conf.all.addr_gen_mode=1 net.ipv6.conf.default.addr_gen_mode=1 "
	       "net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 "
	       "net.ipv6.conf.default.router_solicitations=0 && "
	       "ip link set lo up && ip link add dft0 type veth peer name dft1 && "
	       "ip link set dft0 multicast off && ip link set dft1 multicast off && "
	       "ip link set dft0 up && ip link set dft1 up && "
	       "ip addr add 198.18.0.1/32 dev dft0 && ip -6 addr add fd00:df::1/128 dev dft0 nodad && "
	       "ip route add 198.18.0.2 dev dft0 && ip -6 route add fd00:df::2 dev dft0 && "
	       /* gateways with permanent neighbours: no resolution ever fails
		* (that would answer our spoofed sources with unreachables) */
	       "ip neigh add 198.18.0.2 lladdr 02:00:00:00:00:02 dev dft0 nud permanent && "
	       "ip -6 neigh add fd00:df::2 lladdr 02:00:00:00:00:02 dev dft0 nud permanent && "
	       "ip route add default via 198.18.0.2 dev dft0 && "
	       "ip -6 route add default via fd00:df::2 dev dft0 && sleep 1"))
		return -1;
	return dp_setup(&env, true) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	df_nft_remove(&nopts);
	dp_teardown(&env);
	return 0;
}

/* ---- counters ---------------------------------------------------------------- */

#define MAX_CTR 512
struct ctrs {
	char name[MAX_CTR][96];
	uint64_t pk[MAX_CTR];
	size_t n;
};

static void on_ctr(const char *name, uint64_t packets, uint64_t bytes, void *ctx)
{
	struct ctrs *c = ctx;

	(void)bytes;
	if (c->n < MAX_CTR) {
		snprintf(c->name[c->n], sizeof(c->name[0]), "%s", name);
		c->pk[c->n++] = packets;
	}
}

static uint64_t ctr(const struct ctrs *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->name[i], name))
			return c->pk[i];
	return 0;
}

/* ---- sending ----------------------------------------------------------------- */

/* Sends the packet's L3 bytes from a raw socket owned by uid with the mark;
 * returns 0 if it left, -EPERM if the table dropped it, another -errno if
 * the kernel refused it before the table (a route, a broadcast...). */
static int send_raw(const struct df_packet *pkt, const uint8_t *frame, size_t len)
{
	int fam = pkt->dst.family == 4 ? AF_INET : AF_INET6, fd, one = 1, err = 0;
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;

	setfsuid(pkt->uid);
	fd = socket(fam, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	setfsuid(0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_MARK, &pkt->mark, sizeof(pkt->mark));
	setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
	if (fam == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;

		s->sin_family = AF_INET;
		memcpy(&s->sin_addr, pkt->dst.addr, 4);
		sl = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;

		s->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, pkt->dst.addr, 16);
		sl = sizeof(*s);
	}
	if (sendto(fd, frame + 14, len - 14, MSG_DONTWAIT, (struct sockaddr *)&ss, sl) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Policy exception windows move to the real clock: the nftables table
 * reads the wall clock, which we cannot set. */
static void shift_exceptions(void *ctx, struct df_policy *p)
{
	struct timespec ts;
	int64_t delta;

	(void)ctx;
	clock_gettime(CLOCK_REALTIME, &ts);
	delta = (int64_t)ts.tv_sec - DF_POLGEN_NOW;
	for (size_t i = 0; i < p->n_excs; i++) {
		p->excs[i].not_before += delta;
		p->excs[i].expires += delta;
	}
}

/* Both backends hold the policy; the packets come from one cgroup. */
struct nft_diff {
	const struct df_nft_opts *o;
	struct df_nft_plan *pl;
	char cg[256];
	uint8_t frame[DF_FRAME_MAX];
	size_t len;
	bool sent;  /* the nftables subject sent this packet */
	int64_t t1; /* ...and the clock read after */
	unsigned long n_sent, unsent, edges, bpf_judged;
};

static int nft_policy(void *ctx, struct df_diff_case *c)
{
	struct nft_diff *x = ctx;
	unsigned int cgi = df_rng_below(c->rng, df_polgen_n_cgroups + 1);
	struct df_diags d = { 0 };
	int err = df_nft_plan_build(c->p, c->img, &x->pl);

	if (!err)
		err = df_nft_apply(x->o, c->p, x->pl, env.cg_root, NULL, &d);
	if (!err)
		err = df_loader_swap(env.l, c->img, &d);
	if (err)
		df_diags_print(&d, stderr, c->text);
	df_diags_free(&d);
	if (cgi < df_polgen_n_cgroups)
		snprintf(x->cg, sizeof(x->cg), "%s%s", env.cg_rel, df_polgen_cgroups[cgi]);
	else
		snprintf(x->cg, sizeof(x->cg), "%s", env.cg_rel);
	return err ? err : dp_enter_cgroup(&env, x->cg);
}

static void nft_policy_done(void *ctx, struct df_diff_case *c)
{
	struct nft_diff *x = ctx;

	df_nft_plan_free(x->pl);
	x->pl = NULL;
}

/* A raw packet's addresses share a family: draw until they do. The socket
 * has an owner, and the sender's cgroup; it leaves now. */
static bool nft_packet(void *ctx, struct df_diff_case *c)
{
	struct nft_diff *x = ctx;

	for (int tries = 0; tries < 16; tries++) {
		df_addr_unmap(&c->pkt.dst); /* IPv4-mapped leaves as IPv4 */
		df_addr_unmap(&c->pkt.src);
		if (c->pkt.src.family == c->pkt.dst.family)
			break;
		df_polgen_packet(c->rng, c->p, &c->pkt, &c->now);
	}
	if (c->pkt.src.family != c->pkt.dst.family)
		return false;
	c->pkt.cgroup = x->cg;
	c->pkt.flags &= ~DF_PKT_NOT_LO; /* a raw socket's loopback destination leaves through lo */
	if (c->pkt.uid == DF_UID_NONE)
		c->pkt.uid = 0;
	c->now = time(NULL);
	x->len = df_frame_build(&c->pkt, DF_SHAPE_PLAIN, x->frame);
	x->sent = false;
	return true;
}

/* Exactly the counters of the verdict (and its rule) moved by one. */
static bool counters_moved(const struct ctrs *before, const struct ctrs *after,
			   const struct df_result *want, bool loopback, char *note, size_t len)
{
	char name[96], rule[32];
	bool ok = true;

	df_nft_counter_name(name, sizeof(name), want->slot, want->verdict, want->reason);
	snprintf(rule, sizeof(rule), "df_r%d", want->rule);
	for (size_t i = 0; i < after->n; i++) {
		uint64_t moved = after->pk[i] - ctr(before, after->name[i]);
		uint64_t exp = !strcmp(after->name[i], name) +
			       (want->rule >= 0 && !strcmp(after->name[i], rule));

		if (loopback) {
			/* what a packet to loopback arrives at answers (port
			 * unreachable, reset) is judged too */
			ok &= !exp || moved >= 1;
		} else if (!strcmp(after->name[i], "df_none_allow_unclassified")) {
			ok &= !exp || moved >= 1; /* the interface's own packets count here too */
		} else if (strcmp(after->name[i], DF_NFT_SUPPRESSED) &&
			   strncmp(after->name[i], "df_over_", 8) && moved != exp) {
			snprintf(note, len, "counter %s moved by %llu, expected %llu", after->name[i],
				 (unsigned long long)moved, (unsigned long long)exp);
			ok = false;
		}
	}
	return ok;
}

/* The packet sent for real through the table: EPERM exactly for drops,
 * exactly the expected counters move. */
static int nft_judge(void *ctx, struct df_diff_case *c, struct df_result *want,
		     struct df_result *got)
{
	struct nft_diff *x = ctx;
	struct ctrs before = { 0 }, after = { 0 };
	struct df_result w0;
	int64_t t0 = time(NULL);
	int err;

	if (df_nft_counters(x->o, on_ctr, &before))
		return DF_DIFF_MISMATCH;
	err = send_raw(&c->pkt, x->frame, x->len);
	x->t1 = time(NULL);
	if (err && err != -EPERM) {
		x->unsent++; /* refused before the table: unroutable, ... */
		return DF_DIFF_SKIP;
	}
	df_diff_expect(c, &c->pkt, t0, &w0);
	df_diff_expect(c, &c->pkt, x->t1, want);
	if (w0.verdict != want->verdict || w0.reason != want->reason) {
		x->edges++; /* a window edge passed while sending */
		return DF_DIFF_SKIP;
	}
	if (df_nft_counters(x->o, on_ctr, &after))
		return DF_DIFF_MISMATCH;
	snprintf(c->note, sizeof(c->note), "nftables: send %s, cgroup %.200s", err ? "EPERM" : "ok",
		 x->cg);
	if ((err == -EPERM) != (want->verdict == DF_DROP))
		return DF_DIFF_MISMATCH;
	if (!counters_moved(&before, &after, want, df_addr_is_loopback(&c->pkt.dst), c->note,
			    sizeof(c->note)))
		return DF_DIFF_MISMATCH;
	x->sent = true;
	x->n_sent++;
	*got = *want; /* checked above, by its effects */
	return DF_DIFF_OK;
}

/* The same packet through the BPF program (its test socket belongs to
 * root), at the time it was sent. */
static int bpf_judge(void *ctx, struct df_diff_case *c, struct df_result *want,
		     struct df_result *got)
{
	struct nft_diff *x = ctx;
	struct df_packet p0 = c->pkt;
	struct df_res kr = { 0 };
	int ret;

	if (!x->sent)
		return DF_DIFF_SKIP;
	p0.uid = 0;
	if (dp_set_time(&env, x->t1) || dp_run(&env, DF_PROG_CGROUP_SKB, x->frame, x->len, p0.mark,
					       &kr, &ret))
		return DF_DIFF_MISMATCH;
	df_diff_expect(c, &p0, x->t1, want);
	*got = df_result_of(&kr);
	x->bpf_judged++;
	return DF_DIFF_OK;
}

static void match_reference(const struct df_nft_opts *no, const char *name, int policies)
{
	static const struct df_diff_subject subjects[] = {
		{ .name = "nftables", .compare = 0, .policy = nft_policy,
		  .policy_done = nft_policy_done, .judge = nft_judge },
		{ .name = "bpf", .compare = DF_DIFF_VERDICT | DF_DIFF_SLOT | DF_DIFF_RULE,
		  .judge = bpf_judge },
	};
	struct df_diff_opts o = {
		.name = name, .env_policies = "DF_NFT_POLICIES", .env_packets = "DF_NFT_PACKETS",
		.policies = policies, .packets = 300, .salt = 0x0f7, .cgroup_prefix = env.cg_rel,
		.adjust = shift_exceptions, .packet = nft_packet, .every_reason_from = 1,
	};
	static struct nft_diff x;
	struct df_diff_stats st;

	memset(&x, 0, sizeof(x));
	x.o = no;
	assert_int_equal(df_diff_run(&o, subjects, 2, &x, &st), 0);
	fprintf(stderr, "  %lu packets sent through nftables, %lu through BPF; %lu refused before the table, %lu at a window edge\n",
		x.n_sent, x.bpf_judged, x.unsent, x.edges);
	assert_true(x.n_sent > 0 && x.bpf_judged == x.n_sent);
}

static void both_backends_match_reference(void **state)
{
	(void)state;
	match_reference(&nopts, "nft+bpf", 25);
}

/* The same, the table classifying class by class. */
static void class_by_class_matches_reference(void **state)
{
	(void)state;
	match_reference(&nopts_pc, "nft(class by class)+bpf", 10);
}

/* A fragment after the first has no ports: a protected one is dropped as
 * malformed, also where the rule it would match has no port (the table's
 * fast accepts read the port, and fail on it), in both table layouts;
 * the whole datagram it belongs to passes. */
static void a_fragment_is_dropped_as_malformed(void **state)
{
	char text[512];
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	struct df_nft_plan *pl = NULL;
	struct df_diags d = { 0 };
	static const char *const dst[] = { "198.18.97.7", "fd00:97::7" };
	static const char *const src[] = { "198.18.0.1", "fd00:df::1" };

	(void)state;
	assert_int_equal(dp_enter_cgroup(&env, env.cg_rel), 0);
	snprintf(text, sizeof(text),
		 "policy = { name = \"frag\"; serial = 7; };\n"
		 "classes = ( { name = \"c\"; match = { cgroups = [\"%s\"]; }; } );\n"
		 "destinations = ( { name = \"d\"; cidrs = [\"198.18.97.0/24\", \"fd00:97::/64\"];\n"
		 "  protocols = [\"udp\"]; allow = [\"c\"]; } );\n", env.cg_rel);
	assert_int_equal(df_policy_parse(text, strlen(text), "frag.conf", NULL, &p, &d), 0);
	assert_int_equal(df_compile(p, &img, &d), 0);
	assert_int_equal(df_nft_plan_build(p, img, &pl), 0);
	for (int mode = 0; mode < 2; mode++) {
		const struct df_nft_opts *no = mode ? &nopts_pc : &nopts;

		assert_int_equal(df_nft_apply(no, p, pl, env.cg_root, NULL, &d), 0);
		for (int f = 0; f < 2; f++) {
			struct df_packet pkt = { .proto = 17, .sport = 4000, .dport = 53, .uid = 0,
						 .cgroup = env.cg_rel };
			uint8_t frame[DF_FRAME_MAX];
			struct ctrs before = { 0 }, after = { 0 };
			char mal[96], allow[96];
			size_t len;

			assert_int_equal(df_addr_parse(src[f], &pkt.src), 0);
			assert_int_equal(df_addr_parse(dst[f], &pkt.dst), 0);
			df_nft_counter_name(mal, sizeof(mal), 0, DF_DROP, DF_R_MALFORMED);
			df_nft_counter_name(allow, sizeof(allow), 0, DF_ALLOW, DF_R_DESTINATION);
			assert_int_equal(df_nft_counters(no, on_ctr, &before), 0);
			len = df_frame_build(&pkt, DF_SHAPE_PLAIN, frame);
			assert_int_equal(send_raw(&pkt, frame, len), 0);
			pkt.flags = DF_PKT_NO_PORTS;
			len = df_frame_build(&pkt, DF_SHAPE_FRAGMENT, frame);
			assert_int_equal(send_raw(&pkt, frame, len), -EPERM);
			assert_int_equal(df_nft_counters(no, on_ctr, &after), 0);
			fprintf(stderr, "  %s, IPv%d: the datagram passed, its fragment was refused\n",
				mode ? "class by class" : "classified once", f ? 6 : 4);
			assert_int_equal(ctr(&after, allow) - ctr(&before, allow), 1);
			assert_int_equal(ctr(&after, mal) - ctr(&before, mal), 1);
		}
	}
	df_nft_plan_free(pl);
	df_image_free(img);
	df_policy_free(p);
	df_diags_free(&d);
}

/* A swap is one transaction: while the table is replaced again and again
 * (policy A approves udp/1001, B udp/1002, neither udp/1003), a protected
 * sender never meets a moment without the table or with part of it: 1003
 * is refused every time, while 1001 and 1002 both get through at times
 * (both policies were in force). */
static void a_swap_never_shows_a_partial_table(void **state)
{
	char text[2][1024];
	struct df_policy *p[2] = { 0 };
	struct df_image *img[2] = { 0 };
	struct df_nft_plan *pl[2] = { 0 };
	struct df_diags d = { 0 };
	unsigned long swaps = 0, judged = 0, passed[2] = { 0 };
	pid_t pid, w;
	int status = 0;

	(void)state;
	assert_int_equal(dp_enter_cgroup(&env, env.cg_rel), 0);
	for (int i = 0; i < 2; i++) {
		snprintf(text[i], sizeof(text[i]),
			 "policy = { name = \"swap\"; serial = %d; };\n"
			 "classes = ( { name = \"c\"; match = { cgroups = [\"%s\"]; }; } );\n"
			 "destinations = ( { name = \"d\"; cidrs = [\"198.18.99.0/24\"]; protocols = [\"udp\"];\n"
			 "  ports = (%d); allow = [\"c\"]; } );\n",
			 100 + i, env.cg_rel, 1001 + i);
		assert_int_equal(df_policy_parse(text[i], strlen(text[i]), "swap.conf", NULL, &p[i], &d), 0);
		assert_int_equal(df_compile(p[i], &img[i], &d), 0);
		assert_int_equal(df_nft_plan_build(p[i], img[i], &pl[i]), 0);
	}
	assert_int_equal(df_nft_apply(&nopts, p[0], pl[0], env.cg_root, NULL, &d), 0);
	pid = fork();
	if (pid == 0) { /* the swapper, bounded: 3 s */
		struct timespec t0, t;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			struct df_diags dd = { 0 };

			if (df_nft_apply(&nopts, p[swaps % 2], pl[swaps % 2], env.cg_root, NULL, &dd))
				_exit(1);
			df_diags_free(&dd);
			swaps++;
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 3000);
		_exit(swaps >= 20 ? 0 : 2);
	}
	/* the sender: UDP sockets made in our cgroup, one datagram each */
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 && judged < 200000) {
		for (int port = 1001; port <= 1003; port++) {
			struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
			int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

			assert_true(fd >= 0);
			inet_pton(AF_INET, "198.18.99.7", &to.sin_addr);
			rc = (int)sendto(fd, "x", 1, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof(to));
			if (port == 1003 && !(rc < 0 && errno == EPERM)) {
				fprintf(stderr, "udp/1003 left during a swap (after %lu packets)\n", judged);
				kill(pid, SIGKILL);
				fail();
			}
			if (port != 1003 && rc < 0 && errno != EPERM) {
				fprintf(stderr, "udp/%d: %s\n", port, strerror(errno));
				fail();
			}
			if (port != 1003 && rc >= 0)
				passed[port - 1001]++;
			close(fd);
			judged++;
		}
	}
	if (w == 0)
		waitpid(pid, &status, 0);
	fprintf(stderr, "  %lu packets during the swaps; udp/1001 passed %lu times, udp/1002 %lu\n",
		judged, passed[0], passed[1]);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(passed[0] > 0 && passed[1] > 0);
	for (int i = 0; i < 2; i++) {
		df_nft_plan_free(pl[i]);
		df_image_free(img[i]);
		df_policy_free(p[i]);
	}
	df_diags_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(both_backends_match_reference),
		cmocka_unit_test(class_by_class_matches_reference),
		cmocka_unit_test(a_fragment_is_dropped_as_malformed),
		cmocka_unit_test(a_swap_never_shows_a_partial_table),
	};

	if (geteuid()) {
		printf("SKIP nft: needs root (network namespace, nftables, BPF)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
