// SPDX-License-Identifier: GPL-2.0-only
/* The atomic policy swap (swap.h): one table says, per per-generation map,
 * how its inner map is made and which bytes of the image fill it; the swap
 * creates, fills and installs them all in the inactive generation, then
 * flips df_state.gen. */
#include "swap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "loader.h"

enum fill {
	FILL_ARRAY, /* values[i] at key i */
	FILL_KEYS,  /* values[i] at keys[i] */
	FILL_MMAP,  /* `bytes` of values copied into the map's memory */
};

/* One inner map: how to make it, what fills it, where it goes. */
struct gen_map {
	enum df_map outer;
	const char *name;
	enum bpf_map_type type;
	__u32 key_size, value_size, flags;
	size_t n; /* elements; at least one is made */
	enum fill how;
	const void *keys, *values;
	size_t bytes; /* FILL_MMAP */
};

#define N_GEN (DF_MAP_ID_GEN_LAST - DF_MAP_ID_GEN_FIRST + 1)

/* The selector keys: the image's uids, then the cgroups that exist now. */
struct sel {
	struct df_sel_key *keys;
	__u64 *classes;
	size_t n;
};

/* cgroup selector paths -> ids (inode numbers); a cgroup that does not
 * exist (yet) is warned about and left out. */
static int resolve_sel(const struct df_image *img, struct df_diags *d, struct sel *s)
{
	size_t cap = img->n_uids + img->n_cgroups;
	char root[512];
	int rerr = df_cgroup2_root(root, sizeof(root));

	s->keys = calloc(cap ? cap : 1, sizeof(*s->keys));
	s->classes = calloc(cap ? cap : 1, sizeof(*s->classes));
	if (!s->keys || !s->classes)
		return -ENOMEM;
	memcpy(s->keys, img->uid_keys, img->n_uids * sizeof(*s->keys));
	memcpy(s->classes, img->uid_classes, img->n_uids * sizeof(*s->classes));
	s->n = img->n_uids;
	for (size_t i = 0; i < img->n_cgroups; i++) {
		const char *path = img->cgroups[i].path;
		char full[1024];
		struct stat st;

		if (rerr || snprintf(full, sizeof(full), "%s%s", root, path) >= (int)sizeof(full) ||
		    stat(full, &st)) {
			df_diag_add(d, DF_SEV_WARNING, NULL, 0, NULL,
				    "cgroup %s does not exist (yet): its class is not applied to it",
				    path);
			continue;
		}
		s->keys[s->n] = (struct df_sel_key){ .kind = DF_SEL_CGROUP, .cgroup_id = st.st_ino };
		s->classes[s->n++] = img->cgroups[i].classes;
	}
	return 0;
}

/* The table: every per-generation map of bpf/maps.h, from the image. */
static void gen_maps(const struct df_image *img, const struct sel *sel, struct gen_map *m)
{
	m[DF_MAP_ID_CFG - DF_MAP_ID_GEN_FIRST] = (struct gen_map){
		DF_MAP_ID_CFG, "df_cfg", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct df_cfg), 0,
		1, FILL_ARRAY, NULL, &img->cfg, 0 };
	/* two u32 slots per 8-byte element: the mmap view is the slot array */
	m[DF_MAP_ID_STR4 - DF_MAP_ID_GEN_FIRST] = (struct gen_map){
		DF_MAP_ID_STR4, "df_str4", BPF_MAP_TYPE_ARRAY, 4, 8, BPF_F_INNER_MAP | BPF_F_MMAPABLE,
		img->n_stride4 / 2, FILL_MMAP, NULL, img->stride4, img->n_stride4 * sizeof(uint32_t) };
	m[DF_MAP_ID_LV - DF_MAP_ID_GEN_FIRST] = (struct gen_map){
		DF_MAP_ID_LV, "df_lv", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct df_leaf), BPF_F_INNER_MAP,
		img->n_dleaves, FILL_ARRAY, NULL, img->dleaves, 0 };
	m[DF_MAP_ID_RNG6 - DF_MAP_ID_GEN_FIRST] = (struct gen_map){
		DF_MAP_ID_RNG6, "df_rng6", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct df_rng_node),
		BPF_F_INNER_MAP | BPF_F_MMAPABLE, img->n_rng6, FILL_MMAP, NULL, img->rng6,
		img->n_rng6 * sizeof(struct df_rng_node) };
	/* two u32 slots per element, as for the stride table */
	m[DF_MAP_ID_DIR6 - DF_MAP_ID_GEN_FIRST] = (struct gen_map){
		DF_MAP_ID_DIR6, "df_dir6", BPF_MAP_TYPE_ARRAY, 4, 8, BPF_F_INNER_MAP | BPF_F_MMAPABLE,
		img->cfg.rng_dir_bits ? 1U << (img->cfg.rng_dir_bits - 1) : 1, FILL_MMAP, NULL,
		img->dir6, img->cfg.rng_dir_bits ? sizeof(uint32_t) << img->cfg.rng_dir_bits : 0 };
	m[DF_MAP_ID_SRC - DF_MAP_ID_GEN_FIRST] = (struct gen_map){
		DF_MAP_ID_SRC, "df_src", BPF_MAP_TYPE_LPM_TRIE, sizeof(struct df_src_key),
		sizeof(__u64), BPF_F_NO_PREALLOC, img->n_src, FILL_KEYS, img->src_keys,
		img->src_classes, 0 };
	m[DF_MAP_ID_ENT - DF_MAP_ID_GEN_FIRST] = (struct gen_map){
		DF_MAP_ID_ENT, "df_ent", BPF_MAP_TYPE_ARRAY, 4, sizeof(struct df_entry),
		BPF_F_INNER_MAP, img->n_entries, FILL_ARRAY, NULL, img->entries, 0 };
	m[DF_MAP_ID_SEL - DF_MAP_ID_GEN_FIRST] = (struct gen_map){
		DF_MAP_ID_SEL, "df_sel", BPF_MAP_TYPE_HASH, sizeof(struct df_sel_key), sizeof(__u64),
		BPF_F_NO_PREALLOC, sel->n, FILL_KEYS, sel->keys, sel->classes, 0 };
}

static int create(const struct gen_map *m)
{
	LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = m->flags);
	int fd = bpf_map_create(m->type, m->name, m->key_size, m->value_size,
				m->n ? (__u32)m->n : 1, &mo);

	return fd < 0 ? -errno : fd;
}

/* Keys and values, batched where the map type allows it, else one by one. */
static int fill_elems(int fd, const struct gen_map *m, const __u32 *index)
{
	LIBBPF_OPTS(bpf_map_batch_opts, bo, .elem_flags = BPF_ANY);
	const char *keys = m->how == FILL_ARRAY ? (const char *)index : m->keys;
	__u32 count = (__u32)m->n;

	if (!m->n)
		return 0;
	if (!bpf_map_update_batch(fd, keys, m->values, &count, &bo) && count == m->n)
		return 0;
	for (size_t i = 0; i < m->n; i++)
		if (bpf_map_update_elem(fd, keys + i * m->key_size,
					(const char *)m->values + i * m->value_size, BPF_ANY))
			return -errno;
	return 0;
}

/* The whole table copied into the map's memory at once. */
static int fill_mmap(int fd, const struct gen_map *m)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = (m->bytes + (size_t)page - 1) & ~((size_t)page - 1);
	void *p;

	if (!m->bytes)
		return 0;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	memcpy(p, m->values, m->bytes);
	munmap(p, len);
	return 0;
}

static const char *capacity_hint(int err)
{
	return err == -ENOMEM || err == -E2BIG ? " (policy exceeds map capacity)" : "";
}

/* Creates and fills every inner map of the new generation into fds. */
static int stage(const struct gen_map *m, int *fds, struct df_diags *d)
{
	size_t nmax = 1;
	__u32 *index;
	int err = 0;

	for (int i = 0; i < N_GEN; i++) {
		fds[i] = create(&m[i]);
		if (fds[i] < 0) {
			df_diag_add(d, DF_SEV_ERROR, NULL, 0, NULL, "cannot create policy map %s: %s%s",
				    m[i].name, strerror(-fds[i]), capacity_hint(fds[i]));
			return fds[i];
		}
		if (m[i].how == FILL_ARRAY && m[i].n > nmax)
			nmax = m[i].n;
	}
	index = malloc(nmax * sizeof(*index));
	if (!index)
		return -ENOMEM;
	for (size_t i = 0; i < nmax; i++)
		index[i] = (__u32)i;
	for (int i = 0; i < N_GEN && !err; i++) {
		err = m[i].how == FILL_MMAP ? fill_mmap(fds[i], &m[i]) : fill_elems(fds[i], &m[i], index);
		if (err)
			df_diag_add(d, DF_SEV_ERROR, NULL, 0, NULL, "cannot fill policy map %s: %s%s",
				    m[i].name, strerror(-err), capacity_hint(err));
	}
	free(index);
	return err;
}

/* A map-in-map update waits for every running program (synchronize_rcu):
 * after re-putting the active cfg map no packet can still be judged with
 * the inactive slots about to be replaced (a previous process may have
 * died right after its flip). */
static int barrier(struct df_loader *l, __u32 cur)
{
	int outer = df_loader_map_fd(l, DF_MAP_ID_CFG), fd, err = 0;
	__u32 id = 0;

	if (bpf_map_lookup_elem(outer, &cur, &id) || !id)
		return 0;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return 0;
	if (bpf_map_update_elem(outer, &cur, &fd, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}

int df_loader_swap(struct df_loader *l, const struct df_image *img, struct df_diags *d)
{
	struct gen_map m[N_GEN];
	struct sel sel = { 0 };
	struct df_state st;
	int fds[N_GEN], err;
	__u32 nxt;

	for (int i = 0; i < N_GEN; i++)
		fds[i] = -1;
	err = df_loader_read_state(l, &st);
	if (!err)
		err = barrier(l, st.gen & 1);
	if (!err)
		err = resolve_sel(img, d, &sel);
	if (err)
		goto cleanup;
	nxt = !(st.gen & 1);
	gen_maps(img, &sel, m);
	err = stage(m, fds, d);
	for (int i = 0; i < N_GEN && !err; i++) {
		if (bpf_map_update_elem(df_loader_map_fd(l, m[i].outer), &nxt, &fds[i], BPF_ANY)) {
			err = -errno;
			df_diag_add(d, DF_SEV_ERROR, NULL, 0, NULL, "cannot install policy map %s: %s",
				    df_map_name(m[i].outer), strerror(-err));
		}
	}
	if (err)
		goto cleanup;
	/* Flip: one aligned store of `gen`; packets read it once. */
	st.gen = nxt;
	st.seq++;
	st.serial = img->cfg.hdr.serial;
	st.clock_offset_ns = df_clock_offset_ns();
	err = df_loader_write_state(l, &st);
cleanup:
	for (int i = 0; i < N_GEN; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(sel.keys);
	free(sel.classes);
	return err;
}
