/* SPDX-License-Identifier: GPL-2.0-only */
/* Datapath test helpers: a private bpffs and cgroup per test run, packet
 * frames built from packet facts, BPF_PROG_TEST_RUN, the kernel clock. */
#ifndef DF_DP_H
#define DF_DP_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "compile.h"
#include "loader.h"
#include "polgen.h"
#include "verdict.h"

struct dp_env {
	char dir[64];          /* /tmp/df-dp-XXXXXX, bpffs mounted at dir/bpf */
	char pin_dir[96];
	char cg_root[512];     /* cgroup2 mount point */
	char cg_rel[64];       /* our cgroup, relative to the root: /df-dp-PID */
	char cg_orig[600];     /* where this process was, to go back */
	struct df_loader *l;
};

static int dp_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -errno;
}

/* Moves this process into cgroup `rel` (relative to the cgroup2 root). */
static int dp_enter_cgroup(struct dp_env *e, const char *rel)
{
	char path[1024], pid[32];

	snprintf(path, sizeof(path), "%s%s/cgroup.procs", e->cg_root, rel);
	snprintf(pid, sizeof(pid), "%d", getpid());
	return dp_write_file(path, pid);
}

static int dp_mkcg(struct dp_env *e, const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s%s%s", e->cg_root, e->cg_rel, rel);
	return mkdir(path, 0755) && errno != EEXIST ? -errno : 0;
}

static void dp_rmcg(struct dp_env *e, const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s%s%s", e->cg_root, e->cg_rel, rel);
	rmdir(path);
}

/* Our own cgroup subtree (with the polgen pool of paths), bpffs and loader. */
static int dp_setup(struct dp_env *e, bool record_last)
{
	struct df_loader_opts o = { .record_last = record_last };
	FILE *f;
	char line[600];
	int err;

	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/df-dp-XXXXXX");
	if (!mkdtemp(e->dir))
		return -errno;
	snprintf(e->pin_dir, sizeof(e->pin_dir), "%s/bpf", e->dir);
	if (mkdir(e->pin_dir, 0700) || mount("bpf", e->pin_dir, "bpf", 0, "mode=0700"))
		return -errno;
	err = df_cgroup2_root(e->cg_root, sizeof(e->cg_root));
	if (err)
		return err;
	f = fopen("/proc/self/cgroup", "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(e->cg_orig, sizeof(e->cg_orig), "%s", line + 3);
		}
	if (f)
		fclose(f);
	snprintf(e->cg_rel, sizeof(e->cg_rel), "/df-dp-%d", getpid());
	err = dp_mkcg(e, "");
	for (unsigned int i = 0; !err && i < df_polgen_n_cgroups; i++)
		err = dp_mkcg(e, df_polgen_cgroups[i]);
	if (err)
		return err;
	o.pin_dir = e->pin_dir;
	return df_loader_open(&o, &e->l);
}

static void dp_teardown(struct dp_env *e)
{
	char path[1024];

	df_loader_close(e->l);
	e->l = NULL;
	if (e->cg_orig[0])
		dp_enter_cgroup(e, e->cg_orig);
	for (int i = (int)df_polgen_n_cgroups - 1; i >= 0; i--)
		dp_rmcg(e, df_polgen_cgroups[i]);
	dp_rmcg(e, "");
	if (e->pin_dir[0]) {
		df_loader_unload(e->pin_dir);
		umount2(e->pin_dir, MNT_DETACH);
		rmdir(e->pin_dir);
	}
	if (e->dir[0])
		rmdir(e->dir);
	snprintf(path, sizeof(path), "%s", e->dir);
}

/* Makes the kernel's clock (boot time + offset) read `unix_s` + 0.5 s. */
static int dp_set_time(struct dp_env *e, int64_t unix_s)
{
	int fd = df_loader_map_fd(e->l, "df_state");
	struct df_state st;
	struct timespec bt;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &st))
		return -errno;
	clock_gettime(CLOCK_BOOTTIME, &bt);
	st.clock_offset_ns = unix_s * 1000000000LL + 500000000LL -
			     ((int64_t)bt.tv_sec * 1000000000LL + bt.tv_nsec);
	return bpf_map_update_elem(fd, &zero, &st, BPF_ANY) ? -errno : 0;
}

/* Frame shapes beyond a plain packet. */
enum dp_shape {
	DP_PLAIN,
	DP_FRAGMENT,     /* non-first fragment: no ports */
	DP_TRUNC_L4,     /* ends right after the IP header */
	DP_TRUNC_L3,     /* IPv4 header with IHL 3: unparseable (the kernel's
			  * test runner refuses frames shorter than an IP header) */
	DP_EXTHDRS,      /* IPv6: 3 destination-option headers, then L4 */
	DP_EXTHDRS_DEEP, /* IPv6: more extension headers than the parser walks */
};

static size_t put_l4(uint8_t *p, uint8_t proto, uint16_t sport, uint16_t dport)
{
	uint16_t s = htons(sport), d = htons(dport);

	switch (proto) {
	case 6: memset(p, 0, 20); memcpy(p, &s, 2); memcpy(p + 2, &d, 2); p[12] = 5 << 4; return 20;
	case 17: memset(p, 0, 8); memcpy(p, &s, 2); memcpy(p + 2, &d, 2); p[5] = 8; return 8;
	case 132: memset(p, 0, 12); memcpy(p, &s, 2); memcpy(p + 2, &d, 2); return 12;
	default: memset(p, 0, 8); p[0] = 8; return 8; /* icmp echo or payload */
	}
}

/* Builds an Ethernet frame for the facts; returns its length. */
static size_t dp_frame(const struct df_packet *pkt, enum dp_shape shape, uint8_t *buf)
{
	uint8_t *p = buf + 14;
	uint16_t et = htons(pkt->dst.family == 4 ? 0x0800 : 0x86dd);
	size_t l3, l4;

	memset(buf, 0, 14);
	buf[0] = 0x02; buf[6] = 0x02; buf[11] = 1;
	memcpy(buf + 12, &et, 2);
	if (shape == DP_TRUNC_L3) {
		et = htons(0x0800);
		memcpy(buf + 12, &et, 2);
		memset(p, 0, 20);
		p[0] = 0x43;
		p[3] = 20;
		return 14 + 20;
	}
	if (pkt->dst.family == 4) {
		memset(p, 0, 20);
		p[0] = 0x45;
		p[8] = 64;
		p[9] = pkt->proto;
		memcpy(p + 12, pkt->src.addr, 4);
		memcpy(p + 16, pkt->dst.addr, 4);
		if (shape == DP_FRAGMENT) {
			uint16_t fo = htons(185); /* offset 1480 bytes */

			memcpy(p + 6, &fo, 2);
		}
		l3 = 20;
	} else {
		int n_ext = shape == DP_EXTHDRS ? 3 : shape == DP_EXTHDRS_DEEP ? 9 : 0;
		uint8_t next = pkt->proto;

		memset(p, 0, 40);
		p[0] = 0x60;
		p[7] = 64;
		memcpy(p + 8, pkt->src.addr, 16);
		memcpy(p + 24, pkt->dst.addr, 16);
		l3 = 40;
		if (shape == DP_FRAGMENT) {
			p[6] = 44;
			memset(p + l3, 0, 8);
			p[l3] = next;
			p[l3 + 2] = 0x05; /* offset 1280/8 << 3 */
			p[l3 + 3] = 0x00;
			l3 += 8;
		} else if (n_ext) {
			p[6] = 60;
			for (int i = 0; i < n_ext; i++) {
				memset(p + l3, 0, 8);
				p[l3] = i + 1 < n_ext ? 60 : next;
				p[l3 + 2] = 1; /* PadN */
				p[l3 + 3] = 4;
				l3 += 8;
			}
		} else {
			p[6] = next;
		}
	}
	if (shape == DP_TRUNC_L4)
		l4 = 0;
	else
		l4 = put_l4(p + l3, pkt->proto, pkt->sport, pkt->dport);
	if (pkt->dst.family == 4) {
		uint16_t tot = htons((uint16_t)(l3 + l4));

		memcpy(p + 2, &tot, 2);
	} else {
		uint16_t pl = htons((uint16_t)(l3 - 40 + l4));

		memcpy(p + 4, &pl, 2);
	}
	return 14 + l3 + l4;
}

/* Runs one program on a frame; the verdict it recorded in df_last. */
static int dp_run_n(struct dp_env *e, enum df_prog prog, const uint8_t *frame, size_t len,
		    uint32_t mark, int repeat, struct df_res *res, int *retval)
{
	struct __sk_buff ctx = { .mark = mark };
	LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = frame, .data_size_in = (__u32)len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = repeat);
	int ncpu = libbpf_num_possible_cpus();
	struct df_res *all = calloc((size_t)ncpu, sizeof(*all));
	__u32 zero = 0;
	int fd = df_loader_map_fd(e->l, "df_last"), err;

	if (!all)
		return -ENOMEM;
	memset(all, 0xff, (size_t)ncpu * sizeof(*all));
	/* clear the record so a program that records nothing is caught */
	if (bpf_map_update_elem(fd, &zero, all, BPF_ANY)) {
		free(all);
		return -errno;
	}
	err = bpf_prog_test_run_opts(df_loader_prog_fd(e->l, prog), &t);
	if (err) {
		free(all);
		return err;
	}
	*retval = (int)t.retval;
	err = bpf_map_lookup_elem(fd, &zero, all) ? -errno : 0;
	for (int i = 0; !err && i < ncpu; i++)
		if (all[i].verdict != 0xff) {
			*res = all[i];
			break;
		}
	free(all);
	return err;
}

static int dp_run(struct dp_env *e, enum df_prog prog, const uint8_t *frame, size_t len,
		  uint32_t mark, struct df_res *res, int *retval)
{
	return dp_run_n(e, prog, frame, len, mark, 1, res, retval);
}

#endif
