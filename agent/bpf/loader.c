// SPDX-License-Identifier: GPL-2.0-only
/* Loader: skeleton open/load with pinned maps, attach/adopt, atomic policy
 * swap through two generations of inner maps, unload. */
#include "loader.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "datafence.skel.h"

#define TC_HANDLE 0xdf
#define TC_PRIO 0xdf

struct df_loader {
	struct datafence_bpf *skel;
	char pin_dir[256];
	char cgroup_path[512];
	bool cgroup_skb, sock_addr;
	struct bpf_link *links[DF_PROG__MAX];
};

static const char *const prog_names[DF_PROG__MAX] = {
	[DF_PROG_CGROUP_SKB] = "cgroup_skb", [DF_PROG_TC] = "tc",
	[DF_PROG_CONNECT4] = "connect4",     [DF_PROG_CONNECT6] = "connect6",
	[DF_PROG_SENDMSG4] = "sendmsg4",     [DF_PROG_SENDMSG6] = "sendmsg6",
};

static struct bpf_program *prog_of(struct df_loader *l, enum df_prog p)
{
	switch (p) {
	case DF_PROG_CGROUP_SKB: return l->skel->progs.df_cgroup_skb;
	case DF_PROG_TC: return l->skel->progs.df_tc;
	case DF_PROG_CONNECT4: return l->skel->progs.df_connect4;
	case DF_PROG_CONNECT6: return l->skel->progs.df_connect6;
	case DF_PROG_SENDMSG4: return l->skel->progs.df_sendmsg4;
	case DF_PROG_SENDMSG6: return l->skel->progs.df_sendmsg6;
	default: return NULL;
	}
}

static bool libbpf_quiet; /* probing: expected failures are not news */

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (libbpf_quiet)
		return 0;
	if (level == LIBBPF_DEBUG && !getenv("DF_LIBBPF_DEBUG"))
		return 0;
	if (level == LIBBPF_INFO && !getenv("DF_LIBBPF_DEBUG"))
		return 0;
	fprintf(stderr, "libbpf: ");
	return vfprintf(stderr, fmt, ap);
}

int df_cgroup2_root(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		/* id parent maj:min root mountpoint opts... - fstype source superopts */
		char *sep = strstr(line, " - ");
		char mnt[1024], out[1024];
		size_t o = 0;

		if (!sep || strncmp(sep + 3, "cgroup2 ", 8))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1)
			continue;
		/* unescape \040 and friends */
		for (size_t i = 0; mnt[i] && o + 1 < sizeof(out); i++) {
			if (mnt[i] == '\\' && mnt[i + 1] && mnt[i + 2] && mnt[i + 3]) {
				out[o++] = (char)((mnt[i + 1] - '0') * 64 + (mnt[i + 2] - '0') * 8 +
						  (mnt[i + 3] - '0'));
				i += 3;
			} else {
				out[o++] = mnt[i];
			}
		}
		out[o] = '\0';
		if ((size_t)snprintf(buf, len, "%s", out) >= len)
			err = -ENAMETOOLONG;
		else
			err = 0;
		break;
	}
	fclose(f);
	return err;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

static int mkdir_p(const char *path)
{
	char tmp[256];

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The pin directory must live on a bpffs; /sys/fs/bpf is mounted if bare. */
static int ensure_pin_dir(const char *pin_dir)
{
	int err;

	if (!strncmp(pin_dir, "/sys/fs/bpf/", 12) && !is_bpffs("/sys/fs/bpf") &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		err = -errno;
		fprintf(stderr, "datafence: cannot mount bpffs at /sys/fs/bpf: %s\n", strerror(-err));
		return err;
	}
	err = mkdir_p(pin_dir);
	if (err) {
		fprintf(stderr, "datafence: cannot create pin directory %s: %s\n", pin_dir,
			strerror(-err));
		return err;
	}
	if (!is_bpffs(pin_dir)) {
		fprintf(stderr, "datafence: pin directory %s is not on a bpffs\n", pin_dir);
		return -EINVAL;
	}
	return 0;
}

static int read_state(struct df_loader *l, struct df_state *st);
static int write_state(struct df_loader *l, const struct df_state *st);

/* Jiffies per second, for the fast path's limiter: two samples of jiffies
 * and boot time 50 ms apart, rounded to the nearest usual HZ. */
static void calibrate_hz(struct df_loader *l)
{
	static const unsigned int known[] = { 100, 250, 300, 1000 };
	struct df_clock c[2];
	struct df_state st;
	uint8_t pkt[64] = { 0 };
	__u32 zero = 0;
	double hz, best = 1e9;
	unsigned int pick = 0;

	pkt[12] = 0x08;
	for (int i = 0; i < 2; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .data_size_in = sizeof(pkt), .repeat = 1);

		if (i)
			usleep(50000);
		if (bpf_prog_test_run_opts(bpf_program__fd(l->skel->progs.df_clock_sample), &t) ||
		    bpf_map_lookup_elem(bpf_map__fd(l->skel->maps.df_clk), &zero, &c[i]))
			return; /* hz stays 0: the fast path leaves drops to the full path */
	}
	hz = (double)(c[1].jiffies - c[0].jiffies) * 1e9 / (double)(c[1].boot_ns - c[0].boot_ns);
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (hz > known[i] ? hz - known[i] < best : known[i] - hz < best) {
			best = hz > known[i] ? hz - known[i] : known[i] - hz;
			pick = known[i];
		}
	if (!read_state(l, &st) && st.hz != pick) {
		st.hz = pick;
		write_state(l, &st);
	}
}

int df_loader_open(const struct df_loader_opts *o, struct df_loader **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	struct df_loader *l;
	int err;

	*out = NULL;
	libbpf_set_print(libbpf_print);
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	snprintf(l->pin_dir, sizeof(l->pin_dir), "%s", o->pin_dir ? o->pin_dir : DF_DEFAULT_PIN_DIR);
	l->cgroup_skb = o->cgroup_skb;
	l->sock_addr = o->sock_addr;
	if (o->cgroup_path) {
		snprintf(l->cgroup_path, sizeof(l->cgroup_path), "%s", o->cgroup_path);
	} else {
		err = df_cgroup2_root(l->cgroup_path, sizeof(l->cgroup_path));
		if (err) {
			fprintf(stderr, "datafence: no cgroup2 mount found in /proc/self/mountinfo\n");
			goto cleanup;
		}
	}
	err = ensure_pin_dir(l->pin_dir);
	if (err)
		goto cleanup;
	oo.pin_root_path = l->pin_dir;
	l->skel = datafence_bpf__open_opts(&oo);
	if (!l->skel) {
		err = -errno;
		fprintf(stderr, "datafence: cannot open the BPF object: %s\n", strerror(-err));
		goto cleanup;
	}
	if (o->ringbuf_bytes)
		bpf_map__set_max_entries(l->skel->maps.df_events, o->ringbuf_bytes);
	l->skel->rodata->df_record_last = o->record_last;
	/* Maps pinned by name are reused when present: a restarted agent
	 * shares state (policy, counters) with the programs still attached. */
	err = datafence_bpf__load(l->skel);
	if (err) {
		fprintf(stderr, "datafence: cannot load the BPF programs (%s): %s\n", l->pin_dir,
			strerror(-err));
		goto cleanup;
	}
	calibrate_hz(l);
	*out = l;
	return 0;
cleanup:
	df_loader_close(l);
	return err;
}

static void link_pin_path(struct df_loader *l, enum df_prog p, char *buf, size_t len)
{
	snprintf(buf, len, "%s/link_%s", l->pin_dir, prog_names[p]);
}

static int attach_cgroup_prog(struct df_loader *l, enum df_prog p, int cgfd)
{
	struct bpf_program *prog = prog_of(l, p);
	char path[512];
	struct bpf_link *link;
	int err;

	link_pin_path(l, p, path, sizeof(path));
	link = access(path, F_OK) ? NULL : bpf_link__open(path);
	if (link) {
		/* adopt: swap our freshly loaded program into the pinned link */
		err = bpf_link__update_program(link, prog);
		if (err) {
			fprintf(stderr, "datafence: cannot update pinned link %s: %s\n", path,
				strerror(-err));
			bpf_link__destroy(link);
			return err;
		}
	} else {
		link = bpf_program__attach_cgroup(prog, cgfd);
		if (!link) {
			err = -errno;
			fprintf(stderr, "datafence: cannot attach %s to cgroup %s: %s\n",
				prog_names[p], l->cgroup_path, strerror(-err));
			return err;
		}
		err = bpf_link__pin(link, path);
		if (err) {
			fprintf(stderr, "datafence: cannot pin %s: %s\n", path, strerror(-err));
			bpf_link__destroy(link);
			return err;
		}
	}
	l->links[p] = link;
	return 0;
}

static int read_state(struct df_loader *l, struct df_state *st)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(l->skel->maps.df_state), &zero, st))
		return -errno;
	return 0;
}

static int write_state(struct df_loader *l, const struct df_state *st)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.df_state), &zero, st, BPF_ANY))
		return -errno;
	return 0;
}

int df_loader_attach(struct df_loader *l)
{
	static const enum df_prog sa[] = { DF_PROG_CONNECT4, DF_PROG_CONNECT6, DF_PROG_SENDMSG4,
					   DF_PROG_SENDMSG6 };
	struct df_state st;
	int cgfd, err = 0;

	cgfd = open(l->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		err = -errno;
		fprintf(stderr, "datafence: cannot open cgroup %s: %s\n", l->cgroup_path, strerror(-err));
		return err;
	}
	if (l->cgroup_skb)
		err = attach_cgroup_prog(l, DF_PROG_CGROUP_SKB, cgfd);
	for (size_t i = 0; !err && l->sock_addr && i < sizeof(sa) / sizeof(sa[0]); i++)
		err = attach_cgroup_prog(l, sa[i], cgfd);
	close(cgfd);
	if (err)
		return err;
	err = read_state(l, &st);
	if (!err && l->cgroup_skb && !(st.flags & DF_STATE_CGSKB)) {
		st.flags |= DF_STATE_CGSKB;
		err = write_state(l, &st);
	}
	return err;
}

int df_loader_attach_tc(struct df_loader *l, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO,
		    .flags = BPF_TC_F_REPLACE, .prog_fd = bpf_program__fd(l->skel->progs.df_tc));
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		fprintf(stderr, "datafence: cannot create clsact on ifindex %d: %s\n", ifindex,
			strerror(-err));
		return err;
	}
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		fprintf(stderr, "datafence: cannot attach tc egress on ifindex %d: %s\n", ifindex,
			strerror(-err));
	return err;
}

int df_loader_detach_tc(struct df_loader *l, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);

	(void)l;
	/* only our filter: the clsact qdisc may carry others' filters */
	return bpf_tc_detach(&hook, &opts);
}

static int64_t clock_offset_ns(void)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	return ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000LL + (rt.tv_nsec - bt.tv_nsec);
}

int df_loader_set_clock(struct df_loader *l)
{
	struct df_state st;
	int err = read_state(l, &st);

	if (err)
		return err;
	st.clock_offset_ns = clock_offset_ns();
	return write_state(l, &st);
}

int df_loader_active_serial(struct df_loader *l, uint64_t *serial)
{
	struct df_state st;
	__u32 id = 0;
	int err = read_state(l, &st);

	if (err)
		return err;
	if (bpf_map_lookup_elem(bpf_map__fd(l->skel->maps.df_cfg_o), &st.gen, &id) || !id)
		return -ENOENT;
	*serial = st.serial;
	return 0;
}

/* Fills a map: batched where the map type allows it, else one by one. */
static int fill(int fd, const void *keys, size_t ksz, const void *vals, size_t vsz, size_t n)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo, .elem_flags = BPF_ANY);
	__u32 count = (__u32)n;

	if (!n)
		return 0;
	if (!bpf_map_update_batch(fd, keys, vals, &count, &bo) && count == n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, (const char *)keys + i * ksz, (const char *)vals + i * vsz,
					BPF_ANY))
			return -errno;
	return 0;
}

static int new_map(enum bpf_map_type t, const char *name, size_t ksz, size_t vsz, size_t n,
		   __u32 flags)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = flags);
	int fd = bpf_map_create(t, name, (__u32)ksz, (__u32)vsz, n ? (__u32)n : 1, &mo);

	return fd < 0 ? -errno : fd;
}

/* Resolves cgroup selector paths to ids; missing cgroups are skipped (and
 * reported), since a service's cgroup may appear later. */
static int build_sel(struct df_loader *l, const struct df_image *img, struct df_diags *d,
		     int fd, __u32 *max_level)
{
	char root[512];
	int err = df_cgroup2_root(root, sizeof(root));

	*max_level = 0;
	for (size_t i = 0; i < img->n_uids; i++) {
		struct df_sel_key k = { .kind = DF_SEL_UID, .uid = img->uids[i].uid };
		__u64 v = img->uids[i].classes;

		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
			return -errno;
	}
	for (size_t i = 0; i < img->n_cgroups; i++) {
		const char *path = img->cgroups[i].path;
		char full[1024];
		struct stat st;
		__u32 level = 0;

		if (err || snprintf(full, sizeof(full), "%s%s", root, path) >= (int)sizeof(full) ||
		    stat(full, &st)) {
			df_diag_add(d, DF_SEV_WARNING, NULL, 0, NULL,
				    "cgroup %s does not exist (yet): its class is not applied to it",
				    path);
			continue;
		}
		for (const char *p = path; *p; p++)
			level += *p == '/' && p[1];
		struct df_sel_key k = { .kind = DF_SEL_CGROUP, .cgroup_id = st.st_ino };
		__u64 v = img->cgroups[i].classes;

		if (bpf_map_update_elem(fd, &k, &v, BPF_ANY))
			return -errno;
		if (level > *max_level)
			*max_level = level;
	}
	(void)l;
	return 0;
}

/* Copies an IPv4 stride table into its (mmapable) array at once. */
static int fill_mmap(int fd, const void *src, size_t bytes)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = (bytes + (size_t)page - 1) & ~((size_t)page - 1);
	void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (m == MAP_FAILED)
		return -errno;
	memcpy(m, src, bytes);
	munmap(m, len);
	return 0;
}

/* The per-generation maps: outer map, and how to make its inner map. */
enum { G_CFG, G_STR4, G_LV, G_RNG6, G_DIR6, G_SRC, G_ENT, G_SEL, G__MAX };

int df_loader_swap(struct df_loader *l, const struct df_image *img, struct df_diags *d)
{
	struct bpf_map *outers[G__MAX] = {
		[G_CFG] = l->skel->maps.df_cfg_o,   [G_STR4] = l->skel->maps.df_str4_o,
		[G_LV] = l->skel->maps.df_lv_o,     [G_RNG6] = l->skel->maps.df_rng6_o,
		[G_DIR6] = l->skel->maps.df_dir6_o, [G_SRC] = l->skel->maps.df_src_o,
		[G_ENT] = l->skel->maps.df_ent_o,   [G_SEL] = l->skel->maps.df_sel_o,
	};
	int fds[G__MAX];
	struct df_state st;
	__u32 cur, nxt, zero = 0, id = 0;
	struct df_cfg *cfg = NULL;
	void *keys = NULL;
	int err;

	for (int i = 0; i < G__MAX; i++)
		fds[i] = -1;
	err = read_state(l, &st);
	if (err)
		return err;
	cur = st.gen & 1;
	nxt = !cur;

	/* Barrier: a map-in-map update waits for every running program
	 * (synchronize_rcu), so after re-putting the active cfg map no packet
	 * can still be judged with the inactive slots we are about to replace
	 * (a previous process may have died right after its flip). */
	if (!bpf_map_lookup_elem(bpf_map__fd(outers[G_CFG]), &cur, &id) && id) {
		int cfd = bpf_map_get_fd_by_id(id);

		if (cfd >= 0) {
			if (bpf_map_update_elem(bpf_map__fd(outers[G_CFG]), &cur, &cfd, BPF_ANY))
				err = -errno;
			close(cfd);
			if (err)
				goto cleanup;
		}
	}

	/* Stage the new generation. */
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		err = -ENOMEM;
		goto cleanup;
	}
	cfg->hdr = img->hdr;
	memcpy(cfg->marks, img->marks, sizeof(cfg->marks));
	memcpy(cfg->lports, img->lports, sizeof(cfg->lports));
	if (img->n_src4 || img->n_src6)
		cfg->flags |= DF_CFG_HAS_SRC;
	if (img->n_uids || img->n_cgroups)
		cfg->flags |= DF_CFG_HAS_SEL;
	cfg->rng_levels = img->rng_levels;
	cfg->rng_dir_bits = img->rng_dir_bits;
	memcpy(cfg->rng_off, img->rng_off, sizeof(cfg->rng_off));
	memcpy(cfg->rng_blocks, img->rng_blocks, sizeof(cfg->rng_blocks));

	fds[G_CFG] = new_map(BPF_MAP_TYPE_ARRAY, "df_cfg", 4, sizeof(struct df_cfg), 1, 0);
	/* two u32 slots per 8-byte element: the mmap view is the slot array */
	fds[G_STR4] = new_map(BPF_MAP_TYPE_ARRAY, "df_str4", 4, 8, img->n_stride4 / 2,
			      BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	fds[G_LV] = new_map(BPF_MAP_TYPE_ARRAY, "df_lv", 4, sizeof(struct df_leaf),
			    img->n_dleaves, BPF_F_INNER_MAP);
	fds[G_RNG6] = new_map(BPF_MAP_TYPE_ARRAY, "df_rng6", 4, sizeof(struct df_rng_node),
			      img->n_rng6, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	/* two u32 slots per element, as for the stride table (at least one) */
	fds[G_DIR6] = new_map(BPF_MAP_TYPE_ARRAY, "df_dir6", 4, 8,
			      img->rng_dir_bits ? 1U << (img->rng_dir_bits - 1) : 1,
			      BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	fds[G_SRC] = new_map(BPF_MAP_TYPE_LPM_TRIE, "df_src", sizeof(struct df_src_key), 8,
			     img->n_src4 + img->n_src6, BPF_F_NO_PREALLOC);
	fds[G_ENT] = new_map(BPF_MAP_TYPE_ARRAY, "df_ent", 4, sizeof(struct df_entry),
			     img->n_entries, BPF_F_INNER_MAP);
	fds[G_SEL] = new_map(BPF_MAP_TYPE_HASH, "df_sel", sizeof(struct df_sel_key), 8,
			     img->n_uids + img->n_cgroups, BPF_F_NO_PREALLOC);
	for (int i = 0; i < G__MAX; i++)
		if (fds[i] < 0) {
			err = fds[i];
			df_diag_add(d, DF_SEV_ERROR, NULL, 0, NULL, "cannot create policy map: %s%s",
				    strerror(-err),
				    err == -ENOMEM || err == -E2BIG ? " (policy exceeds map capacity?)" : "");
			goto cleanup;
		}
	err = build_sel(l, img, d, fds[G_SEL], &cfg->max_cg_level);
	if (err)
		goto cleanup;
	if (bpf_map_update_elem(fds[G_CFG], &zero, cfg, BPF_ANY)) {
		err = -errno;
		goto cleanup;
	}
	err = fill_mmap(fds[G_STR4], img->stride4, img->n_stride4 * sizeof(uint32_t));
	if (!err && img->n_rng6)
		err = fill_mmap(fds[G_RNG6], img->rng6, img->n_rng6 * sizeof(*img->rng6));
	if (!err && img->rng_dir_bits)
		err = fill_mmap(fds[G_DIR6], img->dir6, sizeof(*img->dir6) << img->rng_dir_bits);

	/* Keys and values live side by side in the image: split them. */
	if (!err) {
		size_t nmax = img->n_entries;

		if (img->n_dleaves > nmax)
			nmax = img->n_dleaves;
		if (img->n_src4 + img->n_src6 > nmax)
			nmax = img->n_src4 + img->n_src6;
		keys = calloc(nmax ? nmax : 1, sizeof(struct df_src_key) + sizeof(__u64) + 8);
		if (!keys)
			err = -ENOMEM;
	}
	if (!err) {
		__u32 *ki = keys;

		for (size_t i = 0; i < img->n_dleaves; i++)
			ki[i] = (__u32)i;
		err = fill(fds[G_LV], ki, sizeof(*ki), img->dleaves, sizeof(struct df_leaf),
			   img->n_dleaves);
	}
	if (!err) {
		size_t n = img->n_src4 + img->n_src6;
		struct df_src_key *ks = keys;
		__u64 *v = (__u64 *)(ks + n);

		for (size_t i = 0; i < img->n_src4; i++) {
			ks[i] = (struct df_src_key){ .prefixlen = 8 + img->src4[i].key.prefixlen,
						     .family = 4 };
			memcpy(ks[i].addr, img->src4[i].key.addr, 4);
			v[i] = img->src4[i].classes;
		}
		for (size_t i = 0; i < img->n_src6; i++) {
			struct df_src_key *k = &ks[img->n_src4 + i];

			*k = (struct df_src_key){ .prefixlen = 8 + img->src6[i].key.prefixlen,
						  .family = 6 };
			memcpy(k->addr, img->src6[i].key.addr, 16);
			v[img->n_src4 + i] = img->src6[i].classes;
		}
		err = fill(fds[G_SRC], ks, sizeof(*ks), v, sizeof(*v), n);
	}
	if (!err) {
		__u32 *ki = keys;

		for (size_t i = 0; i < img->n_entries; i++)
			ki[i] = (__u32)i;
		err = fill(fds[G_ENT], ki, sizeof(*ki), img->entries, sizeof(struct df_entry),
			   img->n_entries);
	}
	if (err) {
		df_diag_add(d, DF_SEV_ERROR, NULL, 0, NULL, "cannot fill policy maps: %s%s",
			    strerror(-err), err == -ENOMEM || err == -E2BIG ?
						    " (policy exceeds map capacity)" : "");
		goto cleanup;
	}
	for (int i = 0; i < G__MAX; i++) {
		if (bpf_map_update_elem(bpf_map__fd(outers[i]), &nxt, &fds[i], BPF_ANY)) {
			err = -errno;
			df_diag_add(d, DF_SEV_ERROR, NULL, 0, NULL, "cannot install policy map %s: %s",
				    bpf_map__name(outers[i]), strerror(-err));
			goto cleanup;
		}
	}

	/* Flip: one aligned store of `gen`; packets read it once. */
	st.gen = nxt;
	st.seq++;
	st.serial = img->hdr.serial;
	st.clock_offset_ns = clock_offset_ns();
	err = write_state(l, &st);
cleanup:
	for (int i = 0; i < G__MAX; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(cfg);
	free(keys);
	return err;
}

int df_loader_prog_fd(struct df_loader *l, enum df_prog p)
{
	struct bpf_program *prog = prog_of(l, p);

	return prog ? bpf_program__fd(prog) : -EINVAL;
}

int df_loader_map_fd(struct df_loader *l, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(l->skel->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

void df_loader_close(struct df_loader *l)
{
	if (!l)
		return;
	for (int i = 0; i < DF_PROG__MAX; i++)
		if (l->links[i]) {
			/* pinned: closing our handle leaves the link attached */
			bpf_link__disconnect(l->links[i]);
			bpf_link__destroy(l->links[i]);
		}
	datafence_bpf__destroy(l->skel);
	free(l);
}

static bool is_our_tc_prog(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd;
	bool ours;

	libbpf_quiet = true;
	int err = bpf_tc_query(&hook, &opts);

	libbpf_quiet = false;
	if (err)
		return false;
	fd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (fd < 0)
		return false;
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, "df_tc");
	close(fd);
	return ours;
}

int df_loader_unload(const char *pin_dir)
{
	struct if_nameindex *ifs = if_nameindex();

	libbpf_set_print(libbpf_print);
	DIR *dir;
	struct dirent *de;
	int err = 0;

	/* tc filters we own, on every interface of this network namespace */
	for (struct if_nameindex *i = ifs; i && i->if_index; i++)
		if (is_our_tc_prog((int)i->if_index)) {
			LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)i->if_index,
				    .attach_point = BPF_TC_EGRESS);
			LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);

			bpf_tc_detach(&hook, &opts);
		}
	if (ifs)
		if_freenameindex(ifs);

	dir = opendir(pin_dir);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir))) {
		char path[512];

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", pin_dir, de->d_name);
		if (!strncmp(de->d_name, "link_", 5)) {
			struct bpf_link *link = bpf_link__open(path);

			if (link) {
				if (bpf_link__detach(link))
					err = -errno;
				bpf_link__destroy(link);
			}
		}
		if (unlink(path) && !err)
			err = -errno;
	}
	closedir(dir);
	if (rmdir(pin_dir) && !err && errno != ENOENT)
		err = -errno;
	return err;
}
