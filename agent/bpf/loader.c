// SPDX-License-Identifier: GPL-2.0-only
/* Loader: skeleton open/load with pinned maps, attach/adopt, tc, clock,
 * unload (loader.h). The policy swap is swap.c. */
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
#include "log.h"
#include "nexthop.h"

#define TC_HANDLE 0xdf
#define TC_PRIO 0xdf

#define DF_BPF_F_BEFORE (1U << 3) /* linux/bpf.h 6.6+ */
#define DF_MAX_TCX 256

struct df_loader {
	struct datafence_bpf *skel;
	char pin_dir[256];
	char cgroup_path[512];
	bool cgroup_skb, sock_addr, tc_clsact;
	struct bpf_link *links[DF_PROG__MAX];
	/* tcx links we hold (the pins repaired from them, as the cgroup
	 * links'): a link whose pin is removed lives while we hold it */
	struct { int ifindex, fd; } tcx[DF_MAX_TCX];
	size_t n_tcx;
};

static const char *const prog_names[DF_PROG__MAX] = {
	[DF_PROG_CGROUP_SKB] = "cgroup_skb", [DF_PROG_TC] = "tc",
	[DF_PROG_CONNECT4] = "connect4",     [DF_PROG_CONNECT6] = "connect6",
	[DF_PROG_SENDMSG4] = "sendmsg4",     [DF_PROG_SENDMSG6] = "sendmsg6",
	[DF_PROG_SOCK_CREATE] = "sock_create", [DF_PROG_SETSOCKOPT] = "setsockopt",
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
	case DF_PROG_SOCK_CREATE: return l->skel->progs.df_sock_create;
	case DF_PROG_SETSOCKOPT: return l->skel->progs.df_setsockopt;
	default: return NULL;
	}
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
		pr_err("cannot mount bpffs at /sys/fs/bpf: %s", strerror(-err));
		return err;
	}
	err = mkdir_p(pin_dir);
	if (err) {
		pr_err("cannot create pin directory %s: %s", pin_dir,
			strerror(-err));
		return err;
	}
	if (!is_bpffs(pin_dir)) {
		pr_err("pin directory %s is not on a bpffs", pin_dir);
		return -EINVAL;
	}
	return 0;
}


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
	if (!df_loader_read_state(l, &st) && st.hz != pick) {
		st.hz = pick;
		df_loader_write_state(l, &st);
	}
}

int df_loader_open(const struct df_loader_opts *o, struct df_loader **out)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo);
	struct df_loader *l;
	int err;

	*out = NULL;
	df_log_libbpf();
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	snprintf(l->pin_dir, sizeof(l->pin_dir), "%s", o->pin_dir ? o->pin_dir : DF_PIN_DIR);
	l->cgroup_skb = o->cgroup_skb;
	l->sock_addr = o->sock_addr;
	l->tc_clsact = o->tc_clsact;
	if (o->cgroup_path) {
		snprintf(l->cgroup_path, sizeof(l->cgroup_path), "%s", o->cgroup_path);
	} else {
		err = df_cgroup2_root(l->cgroup_path, sizeof(l->cgroup_path));
		if (err) {
			pr_err("no cgroup2 mount found in /proc/self/mountinfo");
			goto cleanup;
		}
	}
	/* a test-mode instance only reads what is pinned: it creates nothing */
	err = o->test_mode ? 0 : ensure_pin_dir(l->pin_dir);
	if (err)
		goto cleanup;
	oo.pin_root_path = l->pin_dir;
	l->skel = datafence_bpf__open_opts(&oo);
	if (!l->skel) {
		err = -errno;
		pr_err("cannot open the BPF object: %s", strerror(-err));
		goto cleanup;
	}
	if (o->ringbuf_bytes)
		bpf_map__set_max_entries(l->skel->maps.df_events, o->ringbuf_bytes);
	l->skel->rodata->df_record_last = o->record_last;
	l->skel->rodata->df_test_mode = o->test_mode;
	/* Maps pinned by name are reused when present: a restarted agent
	 * shares state (policy, counters) with the programs still attached. */
	err = datafence_bpf__load(l->skel);
	if (err) {
		pr_err("cannot load the BPF programs (%s): %s", l->pin_dir,
			strerror(-err));
		goto cleanup;
	}
	if (!o->test_mode)
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
			pr_err("cannot update pinned link %s: %s", path,
				strerror(-err));
			bpf_link__destroy(link);
			return err;
		}
	} else {
		link = bpf_program__attach_cgroup(prog, cgfd);
		if (!link) {
			err = -errno;
			pr_err("cannot attach %s to cgroup %s: %s",
				prog_names[p], l->cgroup_path, strerror(-err));
			return err;
		}
		err = bpf_link__pin(link, path);
		if (err) {
			pr_err("cannot pin %s: %s", path, strerror(-err));
			bpf_link__destroy(link);
			return err;
		}
	}
	l->links[p] = link;
	return 0;
}

int df_loader_read_state(struct df_loader *l, struct df_state *st)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(l->skel->maps.df_state), &zero, st))
		return -errno;
	return 0;
}

int df_loader_write_state(struct df_loader *l, const struct df_state *st)
{
	__u32 zero = 0;

	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.df_state), &zero, st, BPF_ANY))
		return -errno;
	return 0;
}

int df_loader_attach(struct df_loader *l)
{
	/* the maker's record first: every socket made from now on has one */
	static const enum df_prog sa[] = { DF_PROG_SOCK_CREATE, DF_PROG_CONNECT4, DF_PROG_CONNECT6,
					   DF_PROG_SENDMSG4, DF_PROG_SENDMSG6, DF_PROG_SETSOCKOPT };
	struct df_state st;
	int cgfd, err = 0;

	cgfd = open(l->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0) {
		err = -errno;
		pr_err("cannot open cgroup %s: %s", l->cgroup_path, strerror(-err));
		return err;
	}
	if (l->cgroup_skb)
		err = attach_cgroup_prog(l, DF_PROG_CGROUP_SKB, cgfd);
	for (size_t i = 0; !err && l->sock_addr && i < sizeof(sa) / sizeof(sa[0]); i++)
		err = attach_cgroup_prog(l, sa[i], cgfd);
	close(cgfd);
	if (err)
		return err;
	err = df_loader_read_state(l, &st);
	if (!err && l->cgroup_skb && !(st.flags & DF_STATE_CGSKB)) {
		st.flags |= DF_STATE_CGSKB;
		err = df_loader_write_state(l, &st);
	}
	return err;
}

static void tcx_pin(const struct df_loader *l, int ifindex, char *buf, size_t len)
{
	snprintf(buf, len, "%s/link_tcx_%d", l->pin_dir, ifindex);
}

/* The device a tcx link is attached to (0: its device is gone). */
static __u32 tcx_link_ifindex(int fd)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	/* struct bpf_link_info's tcx part (6.6+): ifindex, then attach_type,
	 * where older headers have netns/xdp members at the same place */
	return info.netns.netns_ino;
}

/* The tcx link we hold for ifindex (replacing the one held before). */
static void tcx_hold(struct df_loader *l, int ifindex, int fd)
{
	for (size_t i = 0; i < l->n_tcx; i++)
		if (l->tcx[i].ifindex == ifindex) {
			close(l->tcx[i].fd);
			l->tcx[i].fd = fd;
			return;
		}
	if (l->n_tcx < DF_MAX_TCX) {
		l->tcx[l->n_tcx].ifindex = ifindex;
		l->tcx[l->n_tcx++].fd = fd;
	} else {
		close(fd); /* the pin alone holds it */
	}
}

static void tcx_forget(struct df_loader *l, int ifindex)
{
	for (size_t i = 0; i < l->n_tcx; i++)
		if (l->tcx[i].ifindex == ifindex) {
			close(l->tcx[i].fd);
			l->tcx[i] = l->tcx[--l->n_tcx];
			return;
		}
}

/* Our program through a tcx link on ifindex: the pinned link moved to it
 * (adoption: the swap is atomic), or a new link first in the chain, pinned
 * and held. -EINVAL/-EOPNOTSUPP: the kernel has no tcx. */
static int tcx_attach(struct df_loader *l, int ifindex)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = DF_BPF_F_BEFORE);
	int prog = bpf_program__fd(l->skel->progs.df_tc), fd;
	char path[300];

	tcx_pin(l, ifindex, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (tcx_link_ifindex(fd) == (__u32)ifindex && !bpf_link_update(fd, prog, NULL)) {
			tcx_hold(l, ifindex, fd);
			return 0;
		}
		close(fd);
		unlink(path); /* its device went away (an index used again) */
	}
	fd = bpf_link_create(prog, ifindex, (enum bpf_attach_type)DF_BPF_TCX_EGRESS, &opts);
	if (fd < 0)
		return -errno;
	if (bpf_obj_pin(fd, path)) {
		int err = -errno;

		pr_err("cannot pin the tcx link of ifindex %d at %s: %s", ifindex, path,
		       strerror(-err));
		bpf_link_detach(fd);
		close(fd);
		return err;
	}
	tcx_hold(l, ifindex, fd);
	return 0;
}

/* Our pinned tcx link on ifindex detached and unpinned; -ENOENT: none. */
static int tcx_detach(struct df_loader *l, int ifindex)
{
	char path[300];
	int fd, err;

	tcx_pin(l, ifindex, path, sizeof(path));
	fd = bpf_obj_get(path);
	tcx_forget(l, ifindex);
	if (fd < 0)
		return -ENOENT;
	err = bpf_link_detach(fd) ? -errno : 0;
	close(fd);
	unlink(path);
	return err;
}

static int clsact_detach(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);

	/* only our filter: the clsact qdisc may carry others' filters */
	return bpf_tc_detach(&hook, &opts);
}

int df_loader_attach_tc(struct df_loader *l, int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO,
		    .flags = BPF_TC_F_REPLACE, .prog_fd = bpf_program__fd(l->skel->progs.df_tc));
	struct df_iface dev = { 0 };
	__u32 key = (__u32)ifindex;
	int err, l2 = df_link_l2_len(ifindex);

	/* what the frames look like here, before tc reads any */
	dev.l2_len = l2 >= 0 ? (__u32)l2 : DF_L2_UNKNOWN;
	if (l2 < 0)
		pr_warn("ifindex %d: link type not understood (%s): protected frames there are "
			"dropped as malformed", ifindex, strerror(-l2));
	if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.df_ifaces), &key, &dev, BPF_ANY))
		return -errno;
	if (key < DF_IFL2_SLOTS) { /* tc's fast copy of it */
		__u32 v = dev.l2_len + 1;

		if (bpf_map_update_elem(bpf_map__fd(l->skel->maps.df_ifl2), &key, &v, BPF_ANY))
			return -errno;
	}
	if (!l->tc_clsact) {
		err = tcx_attach(l, ifindex);
		if (!err) {
			/* an older agent's clsact filter goes: one program of ours */
			if (df_tc_is_ours(ifindex))
				clsact_detach(ifindex);
			return 0;
		}
		if (err != -EINVAL && err != -EOPNOTSUPP) {
			pr_err("cannot attach tc egress (tcx) on ifindex %d: %s", ifindex,
			       strerror(-err));
			return err;
		}
		/* no tcx in this kernel: clsact */
	} else {
		tcx_detach(l, ifindex); /* clsact asked for: a tcx link of an earlier start goes */
	}
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		pr_err("cannot create clsact on ifindex %d: %s", ifindex,
			strerror(-err));
		return err;
	}
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		pr_err("cannot attach tc egress on ifindex %d: %s", ifindex,
			strerror(-err));
	return err;
}

/* What tc knew of a device (its link header length), forgotten. */
static void iface_forget(struct df_loader *l, int ifindex)
{
	__u32 key = (__u32)ifindex, none = 0;

	bpf_map_delete_elem(bpf_map__fd(l->skel->maps.df_ifaces), &key);
	if (key < DF_IFL2_SLOTS)
		bpf_map_update_elem(bpf_map__fd(l->skel->maps.df_ifl2), &key, &none, BPF_ANY);
}

int df_loader_detach_tc(struct df_loader *l, int ifindex)
{
	int err = tcx_detach(l, ifindex);

	if (err == -ENOENT)
		err = clsact_detach(ifindex);
	iface_forget(l, ifindex);
	return err;
}

void df_loader_forget_tc(struct df_loader *l, int ifindex)
{
	char path[300];

	tcx_pin(l, ifindex, path, sizeof(path));
	tcx_forget(l, ifindex);
	unlink(path);
	iface_forget(l, ifindex);
}

int64_t df_clock_offset_ns(void)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	return ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000LL + (rt.tv_nsec - bt.tv_nsec);
}

int df_loader_set_nh_helper(struct df_loader *l, int ifindex)
{
	struct df_state st;
	int err = df_loader_read_state(l, &st);

	if (err || st.nh_ifindex == (__u32)ifindex)
		return err;
	st.nh_ifindex = (__u32)ifindex;
	return df_loader_write_state(l, &st);
}

int df_loader_set_clock(struct df_loader *l)
{
	struct df_state st;
	int err = df_loader_read_state(l, &st);

	if (err)
		return err;
	st.clock_offset_ns = df_clock_offset_ns();
	return df_loader_write_state(l, &st);
}

int df_active_serial(int state_fd, int cfg_fd, uint64_t *serial)
{
	struct df_state st;
	__u32 zero = 0, id = 0;

	if (bpf_map_lookup_elem(state_fd, &zero, &st))
		return -errno;
	/* a generation without its config map was never loaded */
	if (bpf_map_lookup_elem(cfg_fd, &st.gen, &id) || !id)
		return -ENOENT;
	*serial = st.serial;
	return 0;
}

int df_loader_active_serial(struct df_loader *l, uint64_t *serial)
{
	return df_active_serial(bpf_map__fd(l->skel->maps.df_state),
				bpf_map__fd(l->skel->maps.df_cfg_o), serial);
}

int df_loader_prog_fd(struct df_loader *l, enum df_prog p)
{
	struct bpf_program *prog = prog_of(l, p);

	return prog ? bpf_program__fd(prog) : -EINVAL;
}

static struct bpf_map *map_of(struct df_loader *l, enum df_map m)
{
	switch (m) {
	case DF_MAP_ID_STATE: return l->skel->maps.df_state;
	case DF_MAP_ID_CFG: return l->skel->maps.df_cfg_o;
	case DF_MAP_ID_STR4: return l->skel->maps.df_str4_o;
	case DF_MAP_ID_LV: return l->skel->maps.df_lv_o;
	case DF_MAP_ID_RNG6: return l->skel->maps.df_rng6_o;
	case DF_MAP_ID_DIR6: return l->skel->maps.df_dir6_o;
	case DF_MAP_ID_SRC: return l->skel->maps.df_src_o;
	case DF_MAP_ID_ENT: return l->skel->maps.df_ent_o;
	case DF_MAP_ID_SEL: return l->skel->maps.df_sel_o;
	case DF_MAP_ID_COUNTERS: return l->skel->maps.df_counters;
	case DF_MAP_ID_RULE_CNT: return l->skel->maps.df_rule_cnt;
	case DF_MAP_ID_MISC: return l->skel->maps.df_misc;
	case DF_MAP_ID_EVENTS: return l->skel->maps.df_events;
	case DF_MAP_ID_FLOWS: return l->skel->maps.df_flows;
	case DF_MAP_ID_SKCACHE: return l->skel->maps.df_sk_cache;
	case DF_MAP_ID_IFACES: return l->skel->maps.df_ifaces;
	case DF_MAP_ID_SUPP: return l->skel->maps.df_supp;
	case DF_MAP_ID_STORM_SRC: return l->skel->maps.df_storm_src;
	case DF_MAP_ID_STORM_DST: return l->skel->maps.df_storm_dst;
	case DF_MAP_ID_STORM_HLL: return l->skel->maps.df_storm_hll;
	case DF_MAP_ID_LAST: return l->skel->maps.df_last;
	case DF_MAP_ID_CLOCK: return l->skel->maps.df_clk;
	default: return NULL;
	}
}

int df_loader_map_fd(struct df_loader *l, enum df_map m)
{
	struct bpf_map *map = map_of(l, m);

	return map ? bpf_map__fd(map) : -EINVAL;
}

const char *df_map_name(enum df_map m)
{
	static const char *const names[DF_MAP_ID__MAX] = {
		[DF_MAP_ID_STATE] = DF_MAP_STATE,       [DF_MAP_ID_CFG] = DF_MAP_CFG,
		[DF_MAP_ID_STR4] = DF_MAP_STR4,         [DF_MAP_ID_LV] = DF_MAP_LV,
		[DF_MAP_ID_RNG6] = DF_MAP_RNG6,         [DF_MAP_ID_DIR6] = DF_MAP_DIR6,
		[DF_MAP_ID_SRC] = DF_MAP_SRC,           [DF_MAP_ID_ENT] = DF_MAP_ENTRIES,
		[DF_MAP_ID_SEL] = DF_MAP_SEL,           [DF_MAP_ID_COUNTERS] = DF_MAP_COUNTERS,
		[DF_MAP_ID_RULE_CNT] = DF_MAP_RULE_CNT, [DF_MAP_ID_MISC] = DF_MAP_MISC,
		[DF_MAP_ID_EVENTS] = DF_MAP_EVENTS,     [DF_MAP_ID_FLOWS] = DF_MAP_FLOWS,
		[DF_MAP_ID_SKCACHE] = DF_MAP_SKCACHE,   [DF_MAP_ID_IFACES] = DF_MAP_IFACES,
		[DF_MAP_ID_SUPP] = DF_MAP_SUPP,         [DF_MAP_ID_STORM_SRC] = DF_MAP_STORM_SRC,
		[DF_MAP_ID_STORM_DST] = DF_MAP_STORM_DST, [DF_MAP_ID_STORM_HLL] = DF_MAP_STORM_HLL,
		[DF_MAP_ID_LAST] = DF_MAP_LAST,
		[DF_MAP_ID_CLOCK] = DF_MAP_CLOCK,
	};

	return (unsigned int)m < DF_MAP_ID__MAX ? names[m] : "?";
}

int df_map_pinned_fd(const char *pin_dir, enum df_map m)
{
	char path[512];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", pin_dir, df_map_name(m)) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
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
	for (size_t i = 0; i < l->n_tcx; i++)
		close(l->tcx[i].fd); /* pinned too */
	datafence_bpf__destroy(l->skel);
	free(l);
}

enum df_tc_place df_tc_where(int ifindex, __u32 *ahead)
{
	__u32 ids[64], cnt = 64, first = 0;

	if (bpf_prog_query(ifindex, (enum bpf_attach_type)DF_BPF_TCX_EGRESS, 0, NULL, ids, &cnt))
		cnt = 0;
	if (cnt)
		first = ids[0];
	for (__u32 i = 0; i < cnt; i++) {
		int fd = bpf_prog_get_fd_by_id(ids[i]);
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		bool ours;

		if (fd < 0)
			continue;
		ours = !bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, "df_tc");
		close(fd);
		if (ours) {
			if (ahead)
				*ahead = i ? first : 0;
			return i ? DF_TC_BEHIND : DF_TC_FIRST;
		}
	}
	if (ahead) /* every tcx program runs before a clsact filter */
		*ahead = first;
	return df_tc_is_ours(ifindex) ? DF_TC_CLSACT : DF_TC_NONE;
}

bool df_tc_is_ours(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd;
	bool ours;

	df_log_libbpf_quiet(true);
	int err = bpf_tc_query(&hook, &opts);

	df_log_libbpf_quiet(false);
	if (err)
		return false;
	fd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (fd < 0)
		return false;
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, "df_tc");
	close(fd);
	return ours;
}

/* The next-hop helper this pin directory's state names, if it is here. */
static void nh_helper_remove(const char *pin_dir)
{
	int fd = df_map_pinned_fd(pin_dir, DF_MAP_ID_STATE);
	struct df_state st;
	__u32 zero = 0;

	if (fd < 0)
		return;
	if (!bpf_map_lookup_elem(fd, &zero, &st) && st.nh_ifindex)
		df_nh_helper_remove((int)st.nh_ifindex); /* -ENOENT: not in this netns */
	close(fd);
}

int df_loader_unload(const char *pin_dir)
{
	struct if_nameindex *ifs = if_nameindex();

	df_log_libbpf();
	DIR *dir;
	struct dirent *de;
	int err = 0;

	/* tc filters we own, on every interface of this network namespace */
	for (struct if_nameindex *i = ifs; i && i->if_index; i++)
		if (df_tc_is_ours((int)i->if_index)) {
			LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = (int)i->if_index,
				    .attach_point = BPF_TC_EGRESS);
			LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIO);

			bpf_tc_detach(&hook, &opts);
		}
	if (ifs)
		if_freenameindex(ifs);
	nh_helper_remove(pin_dir);

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

/* ---- what the health check asks (health.h) --------------------------------------- */

const char *df_prog_name(enum df_prog p)
{
	return (unsigned int)p < DF_PROG__MAX ? prog_names[p] : "?";
}

/* Is hook p one this instance attaches? */
bool df_loader_hook_on(struct df_loader *l, enum df_prog p)
{
	if (p == DF_PROG_CGROUP_SKB)
		return l->cgroup_skb;
	return p != DF_PROG_TC && l->sock_addr;
}

int df_loader_link_fd(struct df_loader *l, enum df_prog p)
{
	return (unsigned int)p < DF_PROG__MAX && l->links[p] ? bpf_link__fd(l->links[p]) : -ENOENT;
}

const char *df_loader_cgroup(struct df_loader *l)
{
	return l->cgroup_path;
}

int df_loader_reattach(struct df_loader *l, enum df_prog p)
{
	char path[512];
	struct bpf_link *old = l->links[p];
	int cgfd, err;

	link_pin_path(l, p, path, sizeof(path));
	cgfd = open(l->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgfd < 0)
		return -errno;
	if (unlink(path) && errno != ENOENT) {
		err = -errno;
		close(cgfd);
		return err;
	}
	l->links[p] = NULL;
	err = attach_cgroup_prog(l, p, cgfd); /* no pin now: a new link, pinned */
	close(cgfd);
	if (err) {
		l->links[p] = old;
		return err;
	}
	if (old)
		bpf_link__destroy(old); /* detached already: our handle goes */
	return 0;
}

static void add_name(char *buf, size_t len, const char *name)
{
	snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? ", " : "", name);
}

/* A pin of ours gone (the directory removed, a name unlinked): pinned again
 * from the descriptor we hold when asked. */
static void check_pin(const char *path, int fd, bool repair, struct df_pin_report *r)
{
	const char *name = strrchr(path, '/') + 1;

	if (!access(path, F_OK))
		return;
	if (repair && !bpf_obj_pin(fd, path)) {
		add_name(r->repaired, sizeof(r->repaired), name);
		return;
	}
	add_name(r->missing, sizeof(r->missing), name);
	r->n_missing++;
}

void df_loader_pins(struct df_loader *l, bool repair, struct df_pin_report *r)
{
	struct bpf_map *m;
	char path[512];

	memset(r, 0, sizeof(*r));
	if (repair && access(l->pin_dir, F_OK) && ensure_pin_dir(l->pin_dir))
		repair = false;
	bpf_object__for_each_map(m, l->skel->obj)
		if (bpf_map__pin_path(m))
			check_pin(bpf_map__pin_path(m), bpf_map__fd(m), repair, r);
	for (int p = 0; p < DF_PROG__MAX; p++) {
		if (!l->links[p])
			continue;
		link_pin_path(l, (enum df_prog)p, path, sizeof(path));
		check_pin(path, bpf_link__fd(l->links[p]), repair, r);
	}
	for (size_t i = 0; i < l->n_tcx; i++) {
		tcx_pin(l, l->tcx[i].ifindex, path, sizeof(path));
		check_pin(path, l->tcx[i].fd, repair, r);
	}
}

int df_active_hdr(int state_fd, int cfg_fd, struct df_state *st, struct df_policy_hdr *hdr)
{
	struct df_cfg *cfg = calloc(1, sizeof(*cfg));
	__u32 zero = 0, id = 0;
	int fd, err = 0;

	if (!cfg)
		return -ENOMEM;
	if (bpf_map_lookup_elem(state_fd, &zero, st) || bpf_map_lookup_elem(cfg_fd, &st->gen, &id) ||
	    !id) {
		free(cfg);
		return -ENOENT;
	}
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0 || bpf_map_lookup_elem(fd, &zero, cfg))
		err = -errno;
	else
		*hdr = cfg->hdr;
	if (fd >= 0)
		close(fd);
	free(cfg);
	return err;
}

int df_loader_set_event_rate(struct df_loader *l, unsigned int per_second)
{
	struct df_state st;
	int err = df_loader_read_state(l, &st);

	if (err)
		return err;
	st.event_interval_ns = per_second ? 1000000000ULL / per_second : 0;
	return df_loader_write_state(l, &st);
}
