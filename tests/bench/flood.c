// SPDX-License-Identifier: GPL-2.0-only
/* Both backends side by side (root): a UDP flood over a veth pair from a
 * process in a protected cgroup, with no filter (the baseline), with the
 * BPF datapath and with the nftables table, at several policy sizes; and
 * the time to replace the policy with each. Everything lives in network
 * namespaces and a cgroup of its own, removed on exit. Prints a markdown
 * table (tests/bench/run.sh adds it to docs/benchmarks.md). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "compile.h"
#include "loader.h"
#include "nfttable.h"
#include "nftplan.h"
#include "sets.h"
#include "swap.h"

#define FLOOD_MS 500
#define FLOOD_RUNS 5 /* the best of: the VM's noise only ever slows a run */
#define BATCH 64

static char ns_a[32], ns_b[32], cg_rel[64], cg_root[512], pin_root[64], pin_dir[96];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static void cleanup(void)
{
	if (pin_dir[0]) {
		df_loader_unload(pin_dir);
		umount2(pin_root, MNT_DETACH);
		rmdir(pin_root);
	}
	sh("ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null", ns_a, ns_b);
	if (cg_rel[0]) {
		char path[700];

		snprintf(path, sizeof(path), "%s%s", cg_root, cg_rel);
		rmdir(path);
	}
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Runs fn inside namespace A (and back). */
static int in_ns_a(int (*fn)(void *), void *arg)
{
	char path[64];
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), a, rc;

	snprintf(path, sizeof(path), "/run/netns/%s", ns_a);
	a = open(path, O_RDONLY | O_CLOEXEC);
	if (self < 0 || a < 0 || setns(a, CLONE_NEWNET))
		return -errno;
	rc = fn(arg);
	setns(self, CLONE_NEWNET);
	close(self);
	close(a);
	return rc;
}

/* Packets per second a process in our cgroup, in namespace A, sends to B
 * (one run). */
static double flood_once(void)
{
	int fds[2];
	pid_t pid;
	double pps = 0;

	if (pipe(fds))
		return 0;
	pid = fork();
	if (pid == 0) {
		char path[700], self[32], nsp[64];
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) };
		static char payload[BATCH][64];
		struct mmsghdr m[BATCH];
		struct iovec iov[BATCH];
		unsigned long sent = 0;
		double t0, t;
		int s, fd;

		snprintf(path, sizeof(path), "%s%s/cgroup.procs", cg_root, cg_rel);
		snprintf(self, sizeof(self), "%d", getpid());
		fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, self, strlen(self)) < 0)
			_exit(1);
		close(fd);
		snprintf(nsp, sizeof(nsp), "/run/netns/%s", ns_a);
		fd = open(nsp, O_RDONLY);
		if (fd < 0 || setns(fd, CLONE_NEWNET))
			_exit(1);
		s = socket(AF_INET, SOCK_DGRAM, 0);
		inet_pton(AF_INET, "10.99.0.2", &to.sin_addr);
		if (s < 0 || connect(s, (struct sockaddr *)&to, sizeof(to)))
			_exit(1);
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ payload[i], sizeof(payload[i]) };
			m[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		t0 = now_ms();
		do {
			int n = sendmmsg(s, m, BATCH, 0);

			if (n > 0)
				sent += (unsigned long)n;
			t = now_ms();
		} while (t - t0 < FLOOD_MS);
		pps = sent / ((t - t0) / 1e3);
		if (write(fds[1], &pps, sizeof(pps)) != sizeof(pps))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &pps, sizeof(pps)) != sizeof(pps))
		pps = 0;
	close(fds[0]);
	waitpid(pid, NULL, 0);
	return pps;
}

static double flood(void)
{
	double best = 0;

	for (int i = 0; i < FLOOD_RUNS; i++) {
		double pps = flood_once();

		if (pps > best)
			best = pps;
	}
	return best;
}

/* TCP throughput (Gbit/s) of iperf3 from our cgroup in A to a server in B;
 * 0 if iperf3 is missing or fails. */
static double iperf(void)
{
	char cmd[1024];
	double bps = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "nsenter --net=/run/netns/%s iperf3 -s -1 -p 5201 >/dev/null 2>&1 & sleep 0.3; "
		 "sh -c 'echo $$ > %s%s/cgroup.procs && exec nsenter --net=/run/netns/%s "
		 "iperf3 -c 10.99.0.2 -p 5201 -t 2 -J' 2>/dev/null | "
		 "jq '.end.sum_received.bits_per_second // 0'; wait",
		 ns_b, cg_root, cg_rel, ns_a);
	f = popen(cmd, "r");
	if (f && fscanf(f, "%lf", &bps) != 1)
		bps = 0;
	if (f)
		pclose(f);
	return bps / 1e9;
}

struct pol {
	struct df_policy *p;
	struct df_image *img;
	struct df_nft_plan *plan;
	struct df_nft_opts o;
	double ms;
	int err;
};

static int nft_apply(void *arg)
{
	struct pol *x = arg;
	struct df_diags d = { 0 };
	double t0 = now_ms();

	x->err = df_nft_plan_build(x->p, x->img, &x->plan);
	if (!x->err)
		x->err = df_nft_apply(&x->o, x->p, x->plan, cg_root, NULL, &d);
	x->ms = now_ms() - t0;
	if (x->err)
		df_diags_print(&d, stderr, NULL);
	df_diags_free(&d);
	return x->err;
}

static int nft_remove(void *arg)
{
	return df_nft_remove(arg);
}

/* tc egress on A's end of the veth (named like the namespace), as the
 * agent attaches it to every interface. */
static int tc_attach(void *arg)
{
	int ifindex = (int)if_nametoindex(ns_a);

	return ifindex ? df_loader_attach_tc(arg, ifindex) : -errno;
}

static int tc_detach(void *arg)
{
	int ifindex = (int)if_nametoindex(ns_a);

	if (!ifindex)
		return -errno;
	df_loader_detach_tc(arg, ifindex);
	/* and the qdisc: the next set creates it again */
	return sh("tc qdisc del dev %s clsact", ns_a) ? -EIO : 0;
}

/* The set approved for the protected cgroup on udp, the peer included. */
static char *policy_text(const struct set *s)
{
	size_t cap = s->n * 48 + 1024, n = 0;
	char *t = malloc(cap);

	n += (size_t)snprintf(t + n, cap - n,
			      "policy = { name = \"flood\"; serial = 1; };\n"
			      "classes = ( { name = \"c\"; match = { cgroups = [\"%s\"]; }; } );\n"
			      "destinations = ( { name = \"set\"; protocols = [\"udp\", \"tcp\"]; allow = [\"c\"];\n"
			      "  cidrs = [\"10.99.0.2/32\"",
			      cg_rel);
	for (size_t i = 0; i < s->n; i++) {
		char b[DF_ADDRSTRLEN];

		if (s->v[i].family != 4)
			continue;
		df_cidr_format(&s->v[i], true, b, sizeof(b));
		n += (size_t)snprintf(t + n, cap - n, ", \"%s\"", b);
	}
	snprintf(t + n, cap - n, "]; } );\n");
	return t;
}

static void bench_set(struct set *s)
{
	char *text = policy_text(s);
	struct df_diags d = { 0 };
	struct pol x = { .o = { .table = "dfbench", .log_group = 7197, .log_rate = 1000 } };
	struct df_loader_opts lo = { .pin_dir = pin_dir, .cgroup_skb = true, .cgroup_path = NULL };
	struct df_loader *l = NULL;
	char cgpath[700];
	double base, pbpf, ptc, pnft, bpf_ms, t0, gbase, gbpf, gnft;
	size_t v4 = 0;

	for (size_t i = 0; i < s->n; i++)
		v4 += s->v[i].family == 4;
	if (df_policy_parse(text, strlen(text), "flood.conf", NULL, &x.p, &d) ||
	    df_compile(x.p, &x.img, &d)) {
		df_diags_print(&d, stderr, NULL);
		exit(1);
	}
	base = flood();
	gbase = iperf();
	/* BPF: the cgroup_skb program on our cgroup only */
	snprintf(cgpath, sizeof(cgpath), "%s%s", cg_root, cg_rel);
	lo.cgroup_path = cgpath;
	if (df_loader_open(&lo, &l) || df_loader_attach(l)) {
		fprintf(stderr, "flood: cannot load the BPF programs\n");
		exit(1);
	}
	t0 = now_ms();
	if (df_loader_swap(l, x.img, &d)) {
		df_diags_print(&d, stderr, NULL);
		exit(1);
	}
	bpf_ms = now_ms() - t0;
	pbpf = flood();
	gbpf = iperf();
	/* and tc egress too: the common packet only compares its header
	 * with cgroup_skb's verdict */
	if (in_ns_a(tc_attach, l)) {
		fprintf(stderr, "flood: cannot attach tc egress\n");
		exit(1);
	}
	ptc = flood();
	in_ns_a(tc_detach, l);
	df_loader_close(l);
	df_loader_unload(pin_dir);
	/* nftables: the table in namespace A */
	if (in_ns_a(nft_apply, &x)) {
		fprintf(stderr, "flood: cannot load the nftables table\n");
		exit(1);
	}
	pnft = flood();
	gnft = iperf();
	in_ns_a(nft_remove, &x.o);
	printf("| %s | %zu | %.0f | %.0f (%+.0f ns) | %.0f (%+.0f ns) | %.0f (%+.0f ns) | %.1f / %.1f / %.1f | %.0f | %.0f |\n",
	       s->name, v4, base / 1e3, pbpf / 1e3, 1e9 / pbpf - 1e9 / base, ptc / 1e3,
	       1e9 / ptc - 1e9 / base, pnft / 1e3, 1e9 / pnft - 1e9 / base, gbase, gbpf, gnft,
	       bpf_ms, x.ms);
	fflush(stdout);
	df_nft_plan_free(x.plan);
	df_image_free(x.img);
	df_policy_free(x.p);
	df_diags_free(&d);
	free(text);
}

int main(int argc, char **argv)
{
	bool quick = argc > 1 && !strcmp(argv[1], "--quick");
	static const size_t sizes[] = { 10, 10000, 100000 };
	static const char *const files[][2] = {
		{ "Oracle (approved)", "tests/bench/data/oracle-prefixes.txt" },
		{ "US", "tests/bench/data/us-prefixes.txt.gz" },
		{ "non-US", "tests/bench/data/non-us-prefixes.txt.gz" },
	};
	char path[700];

	snprintf(ns_a, sizeof(ns_a), "dfbA%d", getpid());
	snprintf(ns_b, sizeof(ns_b), "dfbB%d", getpid());
	snprintf(cg_rel, sizeof(cg_rel), "/df-flood-%d", getpid());
	snprintf(pin_root, sizeof(pin_root), "/tmp/df-flood-%d", getpid());
	snprintf(pin_dir, sizeof(pin_dir), "%s/pins", pin_root);
	atexit(cleanup);
	signal(SIGINT, exit);
	if (df_cgroup2_root(cg_root, sizeof(cg_root)))
		return 1;
	snprintf(path, sizeof(path), "%s%s", cg_root, cg_rel);
	if (mkdir(path, 0755) || mkdir(pin_root, 0700) || mount("bpf", pin_root, "bpf", 0, "mode=0700") ||
	    sh("ip netns add %s && ip netns add %s && ip link add %s type veth peer name %s && "
	       "ip link set %s netns %s && ip link set %s netns %s && "
	       "ip -n %s addr add 10.99.0.1/24 dev %s && ip -n %s addr add 10.99.0.2/24 dev %s && "
	       "ip -n %s link set %s up && ip -n %s link set %s up",
	       ns_a, ns_b, ns_a, ns_b, ns_a, ns_a, ns_b, ns_b, ns_a, ns_a, ns_b, ns_b, ns_a, ns_a, ns_b,
	       ns_b)) {
		perror("flood: setup");
		return 1;
	}
	printf("| set | IPv4 prefixes | no filter (kpps) | BPF (kpps, ns/packet over none) | BPF + tc egress (kpps, ns/packet over none) | nftables (kpps, ns/packet over none) | iperf3 TCP Gbit/s: none / BPF / nftables | BPF load+swap ms | nftables replace ms |\n");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct set s = { 0 };

		random_set(&s, 4, sizes[i], 42 + sizes[i]);
		bench_set(&s);
		free(s.v);
	}
	for (size_t i = 0; i < 3; i++) {
		struct set s = { 0 };

		if (quick && i == 2)
			continue;
		if (file_set(&s, files[i][0], files[i][1])) {
			fprintf(stderr, "flood: cannot read %s\n", files[i][1]);
			return 1;
		}
		bench_set(&s);
		free(s.v);
	}
	return 0;
}
