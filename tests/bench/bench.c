// SPDX-License-Identifier: GPL-2.0-only
/* datafence benchmark (root): per-packet verdict cost of the real datapath
 * through BPF_PROG_TEST_RUN next to an empty program (the floor) and a bare
 * kernel LPM trie lookup of the same prefixes, cache-hot (one packet
 * repeated) and cache-cold (a stream of different destinations); policy
 * compile and load+swap time; kernel memory per prefix. Prints a markdown
 * table (tests/bench/run.sh writes it to docs/benchmarks.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.skel.h"
#include "bench.h"
#include "sets.h"
#include "compile.h"
#include "frame.h"
#include "loader.h"
#include "polgen.h"
#include "verdict.h"
#include "emulate.h"
#include "swap.h"

#define HOT_REPEAT 1000000
#define COLD_PACKETS 20000
#define LOOP_N 100000

static struct df_loader *L;
static char pin_dir[64];
static char bench_dir[64];

/* Every exit, early ones too, removes our pins and bpffs. */
static void cleanup(void)
{
	if (!pin_dir[0])
		return;
	df_loader_close(L);
	L = NULL;
	df_loader_unload(pin_dir);
	umount2(pin_dir, MNT_DETACH);
	rmdir(pin_dir);
	rmdir(bench_dir);
	pin_dir[0] = '\0';
}
static int quick;

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static char *policy_text(const struct set *s, uint64_t serial)
{
	size_t cap = s->n * 48 + 1024, n = 0;
	char *t = malloc(cap);

	n += (size_t)snprintf(t + n, cap - n,
			      "policy = { name = \"bench\"; serial = %llu; };\n"
			      "classes = ( { name = \"c\"; match = { marks = [\"0x1/0x1\"]; }; } );\n"
			      "destinations = ( { name = \"set\"; protocols = [\"tcp\"]; ports = (443); allow = [\"c\"];\n  cidrs = [",
			      (unsigned long long)serial);
	for (size_t i = 0; i < s->n; i++) {
		char b[DF_ADDRSTRLEN];

		df_cidr_format(&s->v[i], true, b, sizeof(b));
		n += (size_t)snprintf(t + n, cap - n, "%s\"%s\"", i ? ", " : "", b);
	}
	snprintf(t + n, cap - n, "]; } );\n");
	return t;
}

/* An Ethernet/IP/TCP frame to addr:443 (the library's frame builder). */
static size_t frame(const struct df_cidr *dst, uint8_t *buf)
{
	struct df_packet pkt = { .proto = 6, .sport = 40000, .dport = 443, .dst = *dst };

	df_addr_parse(dst->family == 4 ? "10.255.0.1" : "fd00::1", &pkt.src);
	return df_frame_build(&pkt, DF_SHAPE_PLAIN, buf);
}

/* Average ns per run inside the kernel (BPF_PROG_TEST_RUN's own clock). */
static double run_ns(int prog_fd, const uint8_t *data, size_t len, int repeat)
{
	struct __sk_buff ctx = { .mark = 1 };
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = data, .data_size_in = (__u32)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = repeat);

	if (bpf_prog_test_run_opts(prog_fd, &t)) {
		perror("bench: test run");
		exit(1);
	}
	return t.duration;
}

struct stream {
	uint8_t (*frames)[DF_FRAME_MAX];
	size_t *lens;
	size_t n;
};

static struct loop_row {
	char name[64];
	int family;
	size_t n;
	double lpm, judge;
} loop_rows[32];
static int n_loop_rows;

static double hot_ns(int fd, const struct stream *s)
{
	return run_ns(fd, s->frames[0], s->lens[0], quick ? HOT_REPEAT / 10 : HOT_REPEAT);
}

static double cold_ns(int fd, const struct stream *s)
{
	double sum = 0;

	for (size_t i = 0; i < s->n; i++)
		sum += run_ns(fd, s->frames[i], s->lens[i], 1);
	return sum / (double)s->n;
}

/* Random addresses allowed (inside the set) or dropped (outside), per the emulator. */
static void make_streams(const struct set *set, int family, struct df_emu *emu,
			 struct stream *allow, struct stream *drop, uint64_t seed)
{
	struct df_rng r = { seed };
	size_t want = quick ? COLD_PACKETS / 10 : COLD_PACKETS;
	size_t tries = 0;

	allow->frames = calloc(want, sizeof(*allow->frames));
	allow->lens = calloc(want, sizeof(*allow->lens));
	drop->frames = calloc(want, sizeof(*drop->frames));
	drop->lens = calloc(want, sizeof(*drop->lens));
	while ((allow->n < want || drop->n < want) && tries++ < want * 200) {
		struct df_cidr a = { .family = (uint8_t)family, .plen = family == 4 ? 32 : 128 };
		uint64_t x = df_rng_next(&r), y = df_rng_next(&r);
		struct df_packet pkt = { .proto = 6, .dport = 443, .uid = DF_UID_NONE, .mark = 1 };
		struct df_result res;

		memcpy(a.addr, &x, 8);
		memcpy(a.addr + 8, &y, 8);
		if (family == 4)
			memset(a.addr + 4, 0, 12);
		if (df_rng_below(&r, 2)) { /* inside a random prefix of the set */
			const struct df_cidr *c = &set->v[df_rng_below(&r, (uint32_t)set->n)];

			if (c->family != family)
				continue;
			for (int i = 0; i < c->plen; i++) {
				uint8_t m = (uint8_t)(0x80 >> (i % 8));

				a.addr[i / 8] = (uint8_t)((a.addr[i / 8] & ~m) | (c->addr[i / 8] & m));
			}
		}
		if (df_addr_is_loopback(&a))
			continue;
		pkt.dst = a;
		df_addr_parse(family == 4 ? "10.255.0.1" : "fd00::1", &pkt.src);
		df_emu_verdict(emu, &pkt, 1, 0, &res);
		struct stream *s = res.verdict == DF_ALLOW ? allow : drop;

		if (s->n < want) {
			s->lens[s->n] = frame(&a, s->frames[s->n]);
			s->n++;
		}
	}
}

/* The active generation's destination maps (stride table, leaves, range
 * tree and its directory, entries): fn on each inner map's fd. */
static void for_each_active(void (*fn)(int fd, void *arg), void *arg)
{
	static const enum df_map outers[] = { DF_MAP_ID_STR4, DF_MAP_ID_LV, DF_MAP_ID_RNG6,
					      DF_MAP_ID_DIR6, DF_MAP_ID_ENT };
	int sfd = df_loader_map_fd(L, DF_MAP_ID_STATE);
	struct df_state st;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(sfd, &zero, &st))
		return;
	for (size_t i = 0; i < sizeof(outers) / sizeof(outers[0]); i++) {
		__u32 id = 0;
		int fd;

		if (bpf_map_lookup_elem(df_loader_map_fd(L, outers[i]), &st.gen, &id) || !id)
			continue;
		fd = bpf_map_get_fd_by_id(id);
		if (fd >= 0) {
			fn(fd, arg);
			close(fd);
		}
	}
}

static void add_memlock(int fd, void *arg)
{
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "memlock:", 8))
			*(long *)arg += atol(line + 8);
	if (f)
		fclose(f);
}

/* Kernel memory of the active generation's destination maps. */
static long active_memlock(void)
{
	long total = 0;

	for_each_active(add_memlock, &total);
	return total;
}

/* Every element of a map read by the kernel, through the kernel's own
 * mapping of it (batched lookups: arrays and LPM tries have them). On this
 * VM (a PVM guest: shadow page tables) the kernel's first accesses to a new
 * map's pages cost microseconds each, whoever wrote them before (the loader
 * fills the tables through a user mapping); docs/benchmarks.md. */
static void kernel_read(int fd, void *arg)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info), n;
	char *keys = NULL, *vals = NULL, *tin = NULL, *tout = NULL;
	bool first = true;
	int err = -ENOMEM;

	(void)arg;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return;
	keys = calloc(4096, info.key_size);
	vals = calloc(4096, info.value_size);
	tin = calloc(1, info.key_size); /* batch positions are keys */
	tout = calloc(1, info.key_size);
	while (keys && vals && tin && tout) {
		n = 4096;
		err = bpf_map_lookup_batch(fd, first ? NULL : tin, tout, keys, vals, &n, NULL);
		if (err)
			break;
		memcpy(tin, tout, info.key_size);
		first = false;
	}
	if (err != -ENOENT) /* the cold column then includes first accesses */
		fprintf(stderr, "bench: map %s not read through: %s\n", info.name, strerror(-err));
	free(keys);
	free(vals);
	free(tin);
	free(tout);
}

static int fill_lpm(struct bench_bpf *b, const struct set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct df_cidr *c = &s->v[i];
		__u32 v = 1;

		if (c->family == 4) {
			struct bench_lpm4_key k = { .prefixlen = c->plen };

			memcpy(k.addr, c->addr, 4);
			if (bpf_map_update_elem(bpf_map__fd(b->maps.bench_lpm4), &k, &v, BPF_ANY))
				return -errno;
		} else {
			struct bench_lpm6_key k = { .prefixlen = c->plen };

			memcpy(k.addr, c->addr, 16);
			if (bpf_map_update_elem(bpf_map__fd(b->maps.bench_lpm6), &k, &v, BPF_ANY))
				return -errno;
		}
	}
	return 0;
}

static void bench_set(struct set *s, uint64_t serial)
{
	size_t n4 = 0, n6 = 0;
	double t0, compile_ms, swap_ms;
	struct df_diags d = { 0 };
	struct df_policy *p = NULL;
	struct df_image *img = NULL;
	struct df_emu *emu;
	struct bench_bpf *b;
	char *text = policy_text(s, serial);
	long mem;

	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].family == 4)
			n4++;
		else
			n6++;
	}
	t0 = now_ms();
	if (df_policy_parse(text, strlen(text), s->name, NULL, &p, &d) || df_compile(p, &img, &d)) {
		df_diags_print(&d, stderr, NULL);
		exit(1);
	}
	compile_ms = now_ms() - t0;
	free(text);
	t0 = now_ms();
	if (df_loader_swap(L, img, &d)) {
		df_diags_print(&d, stderr, NULL);
		exit(1);
	}
	swap_ms = now_ms() - t0;
	mem = active_memlock();
	emu = df_emu_new(img);

	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_dir);

	b = bench_bpf__open_opts(&oo);
	bpf_map__set_max_entries(b->maps.bench_lpm4, n4 ? (__u32)n4 : 1);
	bpf_map__set_max_entries(b->maps.bench_lpm6, n6 ? (__u32)n6 : 1);
	b->rodata->bench_n = LOOP_N;
	if (bench_bpf__load(b) || fill_lpm(b, s)) {
		fprintf(stderr, "bench: cannot load the baseline programs\n");
		exit(1);
	}
	int fd_df = df_loader_prog_fd(L, DF_PROG_CGROUP_SKB);
	int fd_empty = bpf_program__fd(b->progs.bench_empty);
	int fd_lpm = bpf_program__fd(b->progs.bench_lpm);

	/* Right after the swap: datafence's allowed packets before anything has
	 * read the new tables (other destinations than the measured ones). */
	double fresh[2] = { 0, 0 };

	for (int family = 4; family <= 6; family += 2) {
		struct stream allow = { 0 }, drop = { 0 };

		if ((family == 4 ? n4 : n6) == 0)
			continue;
		make_streams(s, family, emu, &allow, &drop, serial * 37 + (uint64_t)family + 1000);
		if (allow.n)
			fresh[family == 6] = cold_ns(fd_df, &allow);
		free(allow.frames); free(allow.lens); free(drop.frames); free(drop.lens);
	}
	/* Then as on a host the tables have served for a while: every element
	 * read once by the kernel (ours and the bare LPM tries alike). */
	for_each_active(kernel_read, NULL);
	kernel_read(bpf_map__fd(b->maps.bench_lpm4), NULL);
	kernel_read(bpf_map__fd(b->maps.bench_lpm6), NULL);

	for (int family = 4; family <= 6; family += 2) {
		struct stream allow = { 0 }, drop = { 0 };

		if ((family == 4 ? n4 : n6) == 0)
			continue;
		make_streams(s, family, emu, &allow, &drop, serial * 31 + (uint64_t)family);
		if (!allow.n || !drop.n) {
			fprintf(stderr, "bench: %s: no %s packets found\n", s->name, allow.n ? "dropped" : "allowed");
			continue;
		}
		double floor_hot = hot_ns(fd_empty, &allow), floor_cold = cold_ns(fd_empty, &allow);
		double lpm_hot = hot_ns(fd_lpm, &allow), lpm_cold = cold_ns(fd_lpm, &allow);
		double ah = hot_ns(fd_df, &allow), ac = cold_ns(fd_df, &allow);
		double dh = hot_ns(fd_df, &drop), dc = cold_ns(fd_df, &drop);
		double le, ll, lj;

		/* the loop: LOOP_N destinations, half allowed, half dropped */
		for (__u32 k = 0; k < LOOP_N; k++) {
			struct stream *st = k % 2 ? &drop : &allow;
			const uint8_t *fr = st->frames[(k / 2) % st->n] + 14;
			struct bench_addr a = { .family = (__u8)family };

			memcpy(a.addr, family == 4 ? fr + 16 : fr + 24, family == 4 ? 4 : 16);
			bpf_map_update_elem(bpf_map__fd(b->maps.bench_addrs), &k, &a, BPF_ANY);
		}
		le = run_ns(bpf_program__fd(b->progs.bench_loop_empty), allow.frames[0], allow.lens[0], 1) / LOOP_N;
		ll = run_ns(bpf_program__fd(b->progs.bench_loop_lpm), allow.frames[0], allow.lens[0], 1) / LOOP_N;
		lj = run_ns(bpf_program__fd(b->progs.bench_loop_judge), allow.frames[0], allow.lens[0], 1) / LOOP_N;
		loop_rows[n_loop_rows++] = (struct loop_row){ .family = family, .n = family == 4 ? n4 : n6,
							       .lpm = ll - le, .judge = lj - le };
		snprintf(loop_rows[n_loop_rows - 1].name, sizeof(loop_rows[0].name), "%s", s->name);

		printf("| %s | v%d | %zu | %.0f / %.0f | %+.0f / %+.0f | %+.0f / %+.0f | %+.0f / %+.0f | %.2f | %+.0f | %.0f | %.0f | %.0f |\n",
		       s->name, family, family == 4 ? n4 : n6, floor_hot, floor_cold, lpm_hot - floor_hot,
		       lpm_cold - floor_cold, ah - floor_hot, ac - floor_cold, dh - floor_hot, dc - floor_cold,
		       (ac - floor_cold) / (lpm_cold - floor_cold), fresh[family == 6] - floor_cold,
		       compile_ms, swap_ms,
		       (double)mem / (double)(n4 + n6));
		fflush(stdout);
		free(allow.frames); free(allow.lens); free(drop.frames); free(drop.lens);
	}
	bench_bpf__destroy(b);
	df_emu_free(emu);
	df_image_free(img);
	df_policy_free(p);
	df_diags_free(&d);
}

/* DF_BENCH_ONLY=FAMILY:SIZE (e.g. 6:1000000) runs that random set alone
 * (and skips the real sets). */
static bool skip_random(int family, size_t n)
{
	const char *o = getenv("DF_BENCH_ONLY");
	char want[32];

	if (!o)
		return false;
	snprintf(want, sizeof(want), "%d:%zu", family, n);
	return strcmp(o, want) != 0;
}

int main(int argc, char **argv)
{
	struct df_loader_opts o = { 0 };
	char dir[] = "/tmp/df-bench-XXXXXX", pin[64];
	static const size_t sizes[] = { 10, 10000, 100000, 1000000 };
	uint64_t serial = 1;
	int err;

	quick = argc > 1 && !strcmp(argv[1], "--quick");
	if (!mkdtemp(dir))
		return 1;
	snprintf(pin, sizeof(pin), "%s/bpf", dir);
	if (mkdir(pin, 0700) || mount("bpf", pin, "bpf", 0, "mode=0700")) {
		perror("bench: bpffs");
		return 1;
	}
	snprintf(pin_dir, sizeof(pin_dir), "%s", pin);
	snprintf(bench_dir, sizeof(bench_dir), "%s", dir);
	atexit(cleanup);
	o.pin_dir = pin;
	err = df_loader_open(&o, &L);
	if (err)
		return 1;
	printf("| set | family | prefixes | floor hot / cold (ns) | bare LPM hot / cold | datafence allow hot / cold | datafence drop hot / cold | cold allow / bare LPM | allow cold, first after the swap | compile ms | load+swap ms | kernel bytes/prefix |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
	for (int family = 4; family <= 6; family += 2)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			struct set s = { 0 };

			if (quick && sizes[i] > 100000)
				continue;
			if (skip_random(family, sizes[i]))
				continue;
			random_set(&s, family, sizes[i], 42 + sizes[i]);
			bench_set(&s, serial++);
			free(s.v);
		}
	static const char *const files[][2] = {
		{ "Oracle (approved)", "tests/bench/data/oracle-prefixes.txt" },
		{ "US", "tests/bench/data/us-prefixes.txt.gz" },
		{ "non-US", "tests/bench/data/non-us-prefixes.txt.gz" },
	};
	for (size_t i = 0; i < 3 && !getenv("DF_BENCH_ONLY"); i++) {
		struct set s = { 0 };

		if (quick && i == 2)
			continue;
		if (file_set(&s, files[i][0], files[i][1])) {
			fprintf(stderr, "bench: cannot read %s\n", files[i][1]);
			return 1;
		}
		bench_set(&s, serial++);
		free(s.v);
	}
	printf("\nLoop inside one program run (%d destinations, half allowed, half dropped; ns per destination over an empty loop):\n\n", LOOP_N);
	printf("| set | family | prefixes | bare LPM lookup | datafence verdict (lookup + scan) | verdict / bare LPM |\n|---|---|---|---|---|---|\n");
	for (int i = 0; i < n_loop_rows; i++)
		printf("| %s | v%d | %zu | %.0f | %.0f | %.2f |\n", loop_rows[i].name, loop_rows[i].family,
		       loop_rows[i].n, loop_rows[i].lpm, loop_rows[i].judge, loop_rows[i].judge / loop_rows[i].lpm);
	return 0; /* cleanup() runs at exit */
}
