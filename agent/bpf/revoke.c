// SPDX-License-Identifier: GPL-2.0-only
/* Revocation of live sockets (revoke.h). The iterators run in the network
 * namespace of the thread that opens them: netns.c takes the agent through
 * each namespace in turn. */
#include "revoke.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "netns.h"
#include "revoke.skel.h"

struct df_revoker {
	struct revoke_bpf *skel;
	struct bpf_link *tcp, *udp;
};

/* Every map the iterators use is the datapath's own, taken from its pin
 * (whatever size the loader gave it); the loader's private ones are ours
 * privately too. libbpf must not pin anything itself (its default root is
 * /sys/fs/bpf): every pin path is cleared. */
static int reuse_pins(struct revoke_bpf *skel, const char *pin_dir, char *why, size_t len)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, skel->obj) {
		bool pinned = bpf_map__pin_path(m) != NULL;
		char path[512];
		int fd, err;

		bpf_map__set_pin_path(m, NULL);
		if (!pinned)
			continue; /* .rodata, df_last, df_clk */
		snprintf(path, sizeof(path), "%s/%s", pin_dir, bpf_map__name(m));
		fd = bpf_obj_get(path);
		if (fd < 0) {
			snprintf(why, len, "no pinned map %s: %s", path, strerror(errno));
			return -ENOENT;
		}
		err = bpf_map__reuse_fd(m, fd);
		close(fd);
		if (err) {
			snprintf(why, len, "cannot reuse %s: %s", path, strerror(-err));
			return err;
		}
	}
	return 0;
}

int df_revoker_open(const char *pin_dir, struct df_revoker **out, char *why, size_t len)
{
	struct df_revoker *r = calloc(1, sizeof(*r));
	int err;

	*out = NULL;
	snprintf(why, len, "?");
	if (!r)
		return -ENOMEM;
	df_log_libbpf_quiet(true); /* a kernel without it is a status, not a log full of verifier */
	r->skel = revoke_bpf__open();
	err = r->skel ? reuse_pins(r->skel, pin_dir, why, len) : -errno;
	if (!err) {
		err = revoke_bpf__load(r->skel);
		if (err)
			snprintf(why, len, "this kernel cannot load the socket iterators with "
				 "bpf_sock_destroy (Linux 6.5 or later): %s", strerror(-err));
	}
	if (!err) {
		r->tcp = bpf_program__attach_iter(r->skel->progs.df_revoke_tcp, NULL);
		r->udp = bpf_program__attach_iter(r->skel->progs.df_revoke_udp, NULL);
		if (!r->tcp || !r->udp) {
			err = -errno;
			snprintf(why, len, "cannot attach the socket iterators: %s", strerror(-err));
		}
	}
	df_log_libbpf_quiet(false);
	if (err) {
		df_revoker_close(r);
		return err;
	}
	*out = r;
	return 0;
}

/* One pass of an iterator in the current network namespace. */
static int iterate(struct bpf_link *link)
{
	char buf[256];
	int fd = bpf_iter_create(bpf_link__fd(link)), n;

	if (fd < 0)
		return -errno;
	while ((n = (int)read(fd, buf, sizeof(buf))) > 0)
		; /* the programs print nothing: each read walks a batch */
	close(fd);
	return n < 0 ? -errno : 0;
}

/* Both iterators in the namespace we are in. */
static void revoke_here(void *arg, const char *where)
{
	struct df_revoker *r = arg;
	int err = iterate(r->tcp);

	if (!err)
		err = iterate(r->udp);
	if (err)
		pr_warn("revocation in %s: %s", where, strerror(-err));
}

int df_revoker_run(struct df_revoker *r)
{
	return df_each_netns(revoke_here, r);
}

void df_revoker_close(struct df_revoker *r)
{
	if (!r)
		return;
	bpf_link__destroy(r->tcp);
	bpf_link__destroy(r->udp);
	revoke_bpf__destroy(r->skel);
	free(r);
}
