// SPDX-License-Identifier: GPL-2.0-only
/* Differential test of both backends in one run (root): random policies
 * and packets; each packet is sent for real through the nftables table
 * (a raw socket in a network namespace of our own, with the packet's owner,
 * mark and cgroup), and judged by the BPF program through
 * BPF_PROG_TEST_RUN. Verdict, reason, counter slot and rule must equal the
 * reference evaluator's: for nftables, the sender sees EPERM exactly for
 * drops, and exactly the expected counters move. DF_SEED replays;
 * DF_NFT_POLICIES and DF_NFT_PACKETS size it. */
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
#include "dpenv.h"
#include "frame.h"
#include "polgen.h"
#include "nfttable.h"
#include "nftnames.h"
#include "nftplan.h"
#include "refeval.h"
#include "swap.h"

static struct dp_env env;
static struct df_nft_opts nopts = { .table = "dftest", .log_group = 7199, .log_rate = 1000 };

static unsigned long env_or(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

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

static void report(const char *who, const struct df_result *r)
{
	fprintf(stderr, "  %s: %s %s slot %d rule %d classes %#llx\n", who,
		df_verdict_name(r->verdict), df_reason_name(r->reason), r->slot, r->rule,
		(unsigned long long)r->classes);
}

/* Policy exception windows move to the real clock: the nftables table
 * reads the wall clock, which we cannot set. */
static void shift_exceptions(struct df_policy *p, int64_t delta)
{
	for (size_t i = 0; i < p->n_excs; i++) {
		p->excs[i].not_before += delta;
		p->excs[i].expires += delta;
	}
}

static void both_backends_match_reference(void **state)
{
	uint64_t seed = env_or("DF_SEED", (unsigned long)time(NULL));
	unsigned long n_pol = env_or("DF_NFT_POLICIES", 25), n_pkt = env_or("DF_NFT_PACKETS", 300);
	unsigned long sent = 0, skipped = 0, unsent = 0, bpf_judged = 0;
	unsigned long reasons[DF_REASON__MAX] = { 0 };

	(void)state;
	fprintf(stderr, "nft+bpf: seed %llu, %lu policies x %lu packets (DF_SEED replays)\n",
		(unsigned long long)seed, n_pol, n_pkt);
	for (unsigned long i = 0; i < n_pol; i++) {
		uint64_t pseed = seed * 1000003ULL + i;
		char *text = df_polgen_policy_in(pseed, env.cg_rel);
		struct df_diags d = { 0 };
		struct df_policy *p = NULL;
		struct df_image *img = NULL;
		struct df_nft_plan *pl = NULL;
		struct df_rng r = { pseed ^ 0x0f7 };
		struct timespec ts;
		int64_t delta;
		unsigned int cgi = df_rng_below(&r, df_polgen_n_cgroups + 1);
		char cg[256];

		/* the policy's windows around DF_POLGEN_NOW move to now */
		clock_gettime(CLOCK_REALTIME, &ts);
		delta = (int64_t)ts.tv_sec - DF_POLGEN_NOW;
		assert_int_equal(df_policy_parse(text, strlen(text), "gen.conf", NULL, &p, &d), 0);
		shift_exceptions(p, delta);
		assert_int_equal(df_compile(p, &img, &d), 0);
		assert_int_equal(df_nft_plan_build(p, img, &pl), 0);
		if (df_nft_apply(&nopts, p, pl, env.cg_root, NULL, &d)) {
			df_diags_print(&d, stderr, text);
			fail();
		}
		assert_int_equal(df_loader_swap(env.l, img, &d), 0);
		if (cgi < df_polgen_n_cgroups)
			snprintf(cg, sizeof(cg), "%s%s", env.cg_rel, df_polgen_cgroups[cgi]);
		else
			snprintf(cg, sizeof(cg), "%s", env.cg_rel);
		assert_int_equal(dp_enter_cgroup(&env, cg), 0);

		for (unsigned long k = 0; k < n_pkt; k++) {
			struct df_packet pkt;
			struct df_result ref, ref0;
			struct ctrs before = { 0 }, after = { 0 };
			int64_t now, t0, t1;
			uint8_t frame[DF_FRAME_MAX];
			size_t len;
			int err;
			char want[96];

			/* a raw packet's addresses share a family: draw until they do */
			for (int tries = 0; tries < 16; tries++) {
				df_polgen_packet(&r, p, &pkt, &now);
				df_addr_unmap(&pkt.dst); /* IPv4-mapped leaves as IPv4 */
				df_addr_unmap(&pkt.src);
				if (pkt.src.family == pkt.dst.family)
					break;
			}
			if (pkt.src.family != pkt.dst.family) {
				skipped++;
				continue;
			}
			pkt.cgroup = cg;
			if (pkt.uid == DF_UID_NONE)
				pkt.uid = 0; /* a real socket has an owner */
			len = df_frame_build(&pkt, DF_SHAPE_PLAIN, frame);

			assert_int_equal(df_nft_counters(&nopts, on_ctr, &before), 0);
			clock_gettime(CLOCK_REALTIME, &ts);
			t0 = ts.tv_sec;
			err = send_raw(&pkt, frame, len);
			clock_gettime(CLOCK_REALTIME, &ts);
			t1 = ts.tv_sec;
			if (err && err != -EPERM) {
				unsent++; /* refused before the table: unroutable, ... */
				continue;
			}
			df_ref_verdict(p, &pkt, df_ref_classify(p, &pkt), t1, &ref);
			df_ref_verdict(p, &pkt, df_ref_classify(p, &pkt), t0, &ref0);
			if (ref.verdict != ref0.verdict || ref.reason != ref0.reason) {
				skipped++; /* a window edge passed while sending */
				continue;
			}
			assert_int_equal(df_nft_counters(&nopts, on_ctr, &after), 0);
			df_nft_counter_name(want, sizeof(want), ref.slot, ref.verdict, ref.reason);
			bool ok = (err == -EPERM) == (ref.verdict == DF_DROP);
			bool lo = df_addr_is_loopback(&pkt.dst);
			for (size_t c = 0; c < after.n; c++) {
				uint64_t dlt = after.pk[c] - ctr(&before, after.name[c]);
				char rn[32];
				uint64_t exp = !strcmp(after.name[c], want);

				snprintf(rn, sizeof(rn), "df_r%d", ref.rule);
				exp += ref.rule >= 0 && !strcmp(after.name[c], rn);
				if (lo) {
					/* what a packet to loopback arrives at answers
					 * (port unreachable, reset) is judged too */
					ok &= !exp || dlt >= 1;
					continue;
				}
				if (!strcmp(after.name[c], "df_none_allow_unclassified") && exp)
					ok &= dlt >= 1; /* the interface's own packets count here too */
				else if (!strcmp(after.name[c], "df_none_allow_unclassified"))
					continue;
				else if (!strcmp(after.name[c], DF_NFT_SUPPRESSED))
					continue;
				else if (dlt != exp) {
					fprintf(stderr, "  counter %s moved by %llu, expected %llu\n",
						after.name[c], (unsigned long long)dlt,
						(unsigned long long)exp);
					ok = false;
				}
			}
			if (!ok) {
				char s[DF_ADDRSTRLEN], dd[DF_ADDRSTRLEN];

				df_cidr_format(&pkt.src, false, s, sizeof(s));
				df_cidr_format(&pkt.dst, false, dd, sizeof(dd));
				fprintf(stderr, "nftables != reference: seed %llu policy %lu packet %lu: %s:%u -> %s:%u proto %u uid %u mark %#x cgroup %s: send %s\n",
					(unsigned long long)seed, i, k, s, pkt.sport, dd, pkt.dport,
					pkt.proto, pkt.uid, pkt.mark, cg, err ? "EPERM" : "ok");
				report("reference", &ref);
				fprintf(stderr, "policy:\n%s", text);
				fail();
			}
			sent++;
			reasons[ref.reason]++;

			/* the same packet through the BPF program (its test socket
			 * belongs to root) */
			struct df_packet p0 = pkt;
			struct df_result r0;
			struct df_res kr = { 0 };
			int ret;

			p0.uid = 0;
			assert_int_equal(dp_set_time(&env, t1), 0);
			df_ref_verdict(p, &p0, df_ref_classify(p, &p0), t1, &r0);
			assert_int_equal(dp_run(&env, DF_PROG_CGROUP_SKB, frame, len, p0.mark, &kr, &ret), 0);
			if (kr.verdict != r0.verdict || kr.reason != r0.reason || kr.slot != r0.slot ||
			    (kr.rule == DF_NO_RULE ? -1 : kr.rule) != r0.rule) {
				fprintf(stderr, "bpf != reference: seed %llu policy %lu packet %lu: %s %s slot %d rule %d\n",
					(unsigned long long)seed, i, k, df_verdict_name(kr.verdict),
					df_reason_name(kr.reason), kr.slot, kr.rule);
				report("reference", &r0);
				fail();
			}
			bpf_judged++;
		}
		df_nft_plan_free(pl);
		df_image_free(img);
		df_policy_free(p);
		df_diags_free(&d);
		free(text);
	}
	fprintf(stderr, "  %lu packets sent through nftables, %lu through BPF; %lu refused before the table, %lu skipped\n",
		sent, bpf_judged, unsent, skipped);
	for (int i = 0; i < DF_REASON__MAX; i++) {
		fprintf(stderr, "  %-22s %lu\n", df_reason_name((enum df_reason)i), reasons[i]);
		if (i != DF_R_MALFORMED)
			assert_true(reasons[i] > 0);
	}
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
		cmocka_unit_test(a_swap_never_shows_a_partial_table),
	};

	if (geteuid()) {
		printf("SKIP nft: needs root (network namespace, nftables, BPF)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
