// SPDX-License-Identifier: GPL-2.0-only
/* Classification once per packet (docs/nftables.md, "Classes"): what
 * selects classes falls into dimensions (the socket's cgroup at one level,
 * its uid, the mark under one mask, the local port, the local address).
 * A dimension's keys are grouped by the classes they select, one plain set
 * per group, disjoint. Chain q<d>_<S> looks the packet's key of dimension d
 * up in those sets, with the classes S found before it, and goes on to
 * dimension d + 1 with S and what it found; after the last one the packet
 * is in c<S> (or f<c>, the fast entry of a single class) knowing all its
 * classes at once.
 * Plain sets, not verdict maps: the kernel deactivates a deleted map's
 * elements at once, so a packet still walking the old rules while a swap
 * commits would miss (and be unclassified: let through); a deleted set's
 * elements stay until no packet can see them.
 * This file works out the dimensions and which class sets reach each one;
 * netlink is nftsets.c's and nftrules.c's. */
#include "nftbuild.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Past this the chains would outgrow what they save: the table classifies
 * class by class instead (nftrules.c). */
#define MAX_CHAINS 512

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Sorted, without duplicates. */
static size_t uniq_u64(uint64_t *v, size_t n)
{
	size_t k = 0;

	qsort(v, n, sizeof(*v), cmp_u64);
	for (size_t i = 0; i < n; i++)
		if (!k || v[k - 1] != v[i])
			v[k++] = v[i];
	return k;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static int cmp_u128(const void *a, const void *b)
{
	const struct df_u128 *x = a, *y = b;

	if (x->hi != y->hi)
		return (x->hi > y->hi) - (x->hi < y->hi);
	return (x->lo > y->lo) - (x->lo < y->lo);
}

uint32_t df_nft_cgroup_level(const char *path)
{
	uint32_t level = 0;

	for (const char *s = path; *s; s++)
		level += *s == '/' && s[1];
	return level;
}

static int cmp_key(const void *a, const void *b)
{
	const struct nft_key *x = a, *y = b;

	if (x->proto != y->proto)
		return x->proto - y->proto;
	if (x->key != y->key)
		return (x->key > y->key) - (x->key < y->key);
	return x->lo - y->lo;
}

static struct nft_dim *dim_new(struct nft_cls *cl, enum nft_dim_kind kind, uint32_t arg)
{
	struct nft_dim *d = realloc(cl->d, (cl->n + 1) * sizeof(*d));

	if (!d)
		return NULL;
	cl->d = d;
	d = &cl->d[cl->n++];
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->arg = arg;
	return d;
}

static int key_add(struct nft_dim *d, struct nft_key k)
{
	struct nft_key *v = realloc(d->k, (d->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	d->k = v;
	d->k[d->n++] = k;
	return 0;
}

/* Exact keys: one per value, the masks of equal keys merged. */
static void keys_merge(struct nft_dim *d)
{
	size_t k = 0;

	qsort(d->k, d->n, sizeof(*d->k), cmp_key);
	for (size_t i = 0; i < d->n; i++) {
		if (k && d->k[k - 1].key == d->k[i].key && d->k[k - 1].proto == d->k[i].proto) {
			d->k[k - 1].mask |= d->k[i].mask;
			continue;
		}
		d->k[k++] = d->k[i];
	}
	d->n = k;
}

static int mask_index(struct nft_dim *d, uint64_t m, uint32_t *out)
{
	uint64_t *v;

	for (size_t i = 0; i < d->n_masks; i++)
		if (d->masks[i] == m) {
			*out = (uint32_t)i + 1;
			return 0;
		}
	v = realloc(d->masks, (d->n_masks + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	d->masks = v;
	d->masks[d->n_masks++] = m;
	*out = (uint32_t)d->n_masks;
	return 0;
}

/* The local-address dimension of one family: the classes' ranges cut where
 * any of them changes; a range's value indexes its mask (0: none). */
static int laddr_ranges(struct nft_dim *d, const struct df_nft_plan *pl, uint64_t with, int family,
			struct df_ranges *out)
{
	struct df_u128 *pts = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	for (uint32_t c = 0; c < pl->n_cls; c++) {
		const struct df_ranges *r = family == 4 ? &pl->cls[c].src4 : &pl->cls[c].src6;

		if (!(with >> c & 1))
			continue;
		if (n + r->n > cap) {
			struct df_u128 *v;

			cap = (n + r->n) * 2 + 16;
			v = realloc(pts, cap * sizeof(*v));
			if (!v) {
				free(pts);
				return -ENOMEM;
			}
			pts = v;
		}
		memcpy(pts + n, r->start, r->n * sizeof(*pts));
		n += r->n;
	}
	qsort(pts, n, sizeof(*pts), cmp_u128);
	for (size_t i = 0; i < n && !err; i++) {
		uint64_t m = 0;
		uint32_t idx = 0;

		if (i && !cmp_u128(&pts[i - 1], &pts[i]))
			continue;
		for (uint32_t c = 0; c < pl->n_cls; c++)
			if (with >> c & 1 &&
			    df_ranges_value(family == 4 ? &pl->cls[c].src4 : &pl->cls[c].src6, pts[i]))
				m |= 1ULL << c;
		if (m)
			err = mask_index(d, m, &idx);
		if (!err)
			err = df_ranges_add(out, pts[i], idx);
	}
	if (!err && !n)
		err = df_ranges_add(out, (struct df_u128){ 0, 0 }, 0);
	free(pts);
	return err;
}

/* The local-port dimension: per protocol (tcp, udp, sctp), the classes'
 * port ranges cut where any of them starts or ends. */
static int lport_keys(struct nft_dim *d, const struct df_policy *p, uint64_t with)
{
	static const uint8_t protos[] = { 6, 17, 132 };
	uint32_t cuts[2 * 1024 + 2];
	size_t n = 0;
	int err = 0;

	for (uint32_t c = 0; c < p->n_classes; c++)
		for (size_t i = 0; with >> c & 1 && i < p->classes[c].n_lports; i++) {
			if (n + 2 > sizeof(cuts) / sizeof(cuts[0]))
				return -E2BIG;
			cuts[n++] = p->classes[c].lports[i].lo;
			cuts[n++] = (uint32_t)p->classes[c].lports[i].hi + 1;
		}
	qsort(cuts, n, sizeof(cuts[0]), cmp_u32);
	for (size_t i = 0; i + 1 < n && !err; i++) {
		uint32_t lo = cuts[i], hi = cuts[i + 1] - 1;
		uint64_t m = 0;

		if (cuts[i] == cuts[i + 1])
			continue;
		for (uint32_t c = 0; c < p->n_classes; c++)
			for (size_t k = 0; with >> c & 1 && k < p->classes[c].n_lports; k++)
				if (p->classes[c].lports[k].lo <= lo && hi <= p->classes[c].lports[k].hi)
					m |= 1ULL << c;
		if (!m)
			continue;
		/* a neighbour with the same classes: one range */
		if (d->n && d->k[d->n - 1].mask == m && d->k[d->n - 1].hi + 1U == lo) {
			d->k[d->n - 1].hi = (uint16_t)hi;
			continue;
		}
		err = key_add(d, (struct nft_key){ .lo = (uint16_t)lo, .hi = (uint16_t)hi, .mask = m });
	}
	/* the same ranges for each protocol */
	size_t per = d->n;

	for (size_t pi = 1; pi < sizeof(protos) && !err; pi++)
		for (size_t i = 0; i < per && !err; i++) {
			struct nft_key k = d->k[i];

			k.proto = protos[pi];
			err = key_add(d, k);
		}
	for (size_t i = 0; i < per; i++)
		d->k[i].proto = protos[0];
	return err;
}

/* The class sets reaching each dimension and the last ones; false when
 * they would be too many. */
static bool reach(struct nft_cls *cl)
{
	uint64_t *cur = malloc(sizeof(*cur));
	size_t n = 1, chains = 0;

	if (!cur)
		return false;
	cur[0] = cl->all;
	for (size_t i = 0; i < cl->n; i++) {
		struct nft_dim *d = &cl->d[i];
		uint64_t *next;
		size_t k = 0;

		d->from = cur;
		d->n_from = n;
		chains += n;
		if (chains > MAX_CHAINS)
			return false;
		next = malloc(n * (d->n_masks + 1) * sizeof(*next));
		if (!next)
			return false;
		for (size_t s = 0; s < n; s++) {
			next[k++] = cur[s];
			for (size_t m = 0; m < d->n_masks; m++)
				next[k++] = cur[s] | d->masks[m];
		}
		cur = next;
		n = uniq_u64(cur, k);
	}
	cl->finals = cur;
	cl->n_finals = n;
	return chains + n <= MAX_CHAINS;
}

int nft_classify(struct nft_build *b)
{
	const struct df_policy *p = b->p;
	struct nft_cls *cl = &b->cl;
	uint64_t cg_levels = 0, uid = 0, lp = 0, la = 0;
	uint32_t marks[DF_MAX_CLASSES * 8];
	size_t n_marks = 0;
	int err = 0;

	memset(cl, 0, sizeof(*cl));
	if (b->o->per_class)
		return 0;
	for (uint32_t c = 0; c < p->n_classes; c++) {
		const struct df_class *k = &p->classes[c];

		if (k->all) {
			cl->all |= 1ULL << c;
			continue; /* its other selectors add nothing */
		}
		for (size_t i = 0; i < k->n_cgroups; i++)
			if (b->cg_id[c] && b->cg_id[c][i])
				cg_levels |= 1ULL << (df_nft_cgroup_level(k->cgroups[i]) & 63);
		uid |= (uint64_t)!!k->n_uids << c;
		lp |= (uint64_t)!!k->n_lports << c;
		la |= (uint64_t)!!k->n_laddrs << c;
		for (size_t i = 0; i < k->n_marks; i++) {
			bool seen = false;

			for (size_t j = 0; j < n_marks; j++)
				seen |= marks[j] == k->marks[i].mask;
			if (seen)
				continue;
			if (n_marks == sizeof(marks) / sizeof(marks[0]))
				return 0; /* more masks than dimensions we keep: class by class */
			marks[n_marks++] = k->marks[i].mask;
		}
	}
	for (uint32_t level = 0; level < 64 && !err; level++) {
		struct nft_dim *d;

		if (!(cg_levels >> level & 1))
			continue;
		if (!(d = dim_new(cl, DIM_CGROUP, level)))
			return -ENOMEM;
		for (uint32_t c = 0; c < p->n_classes && !err; c++)
			for (size_t i = 0; !p->classes[c].all && i < p->classes[c].n_cgroups && !err; i++)
				if (b->cg_id[c] && b->cg_id[c][i] &&
				    df_nft_cgroup_level(p->classes[c].cgroups[i]) == level)
					err = key_add(d, (struct nft_key){ .key = b->cg_id[c][i],
									   .mask = 1ULL << c });
	}
	if (uid && !err) {
		struct nft_dim *d = dim_new(cl, DIM_UID, 0);

		if (!d)
			return -ENOMEM;
		for (uint32_t c = 0; c < p->n_classes && !err; c++)
			for (size_t i = 0; uid >> c & 1 && i < p->classes[c].n_uids && !err; i++)
				err = key_add(d, (struct nft_key){ .key = p->classes[c].uids[i],
								   .mask = 1ULL << c });
	}
	for (size_t m = 0; m < n_marks && !err; m++) {
		struct nft_dim *d = dim_new(cl, DIM_MARK, marks[m]);

		if (!d)
			return -ENOMEM;
		for (uint32_t c = 0; c < p->n_classes && !err; c++)
			for (size_t i = 0; !p->classes[c].all && i < p->classes[c].n_marks && !err; i++)
				if (p->classes[c].marks[i].mask == marks[m])
					err = key_add(d, (struct nft_key){ .key = p->classes[c].marks[i].value,
									   .mask = 1ULL << c });
	}
	for (size_t i = 0; i < cl->n && !err; i++) {
		uint32_t idx;

		keys_merge(&cl->d[i]);
		for (size_t k = 0; k < cl->d[i].n && !err; k++)
			err = mask_index(&cl->d[i], cl->d[i].k[k].mask, &idx);
	}
	if (lp && !err) {
		struct nft_dim *d = dim_new(cl, DIM_LPORT, 0);
		uint32_t idx;

		if (!d)
			return -ENOMEM;
		err = lport_keys(d, p, lp);
		for (size_t k = 0; k < d->n && !err; k++)
			err = mask_index(d, d->k[k].mask, &idx);
	}
	if (la && !err) {
		struct nft_dim *d = dim_new(cl, DIM_LADDR, 0);

		if (!d)
			return -ENOMEM;
		err = laddr_ranges(d, b->pl, la, 4, &d->a4);
		if (!err)
			err = laddr_ranges(d, b->pl, la, 6, &d->a6);
	}
	if (err == -E2BIG)
		err = 0; /* too many local ports to cut: class by class */
	else if (!err)
		cl->fast = reach(cl);
	if (!cl->fast) {
		nft_cls_free(cl);
		memset(cl, 0, sizeof(*cl));
	}
	return err;
}

void nft_cls_free(struct nft_cls *cl)
{
	for (size_t i = 0; i < cl->n; i++) {
		free(cl->d[i].k);
		free(cl->d[i].masks);
		free(cl->d[i].from);
		df_ranges_free(&cl->d[i].a4);
		df_ranges_free(&cl->d[i].a6);
	}
	free(cl->d);
	free(cl->finals);
}

const struct nft_key *nft_dim_single_key(const struct nft_dim *d, size_t mi)
{
	const struct nft_key *one = NULL;

	if (d->kind != DIM_CGROUP && d->kind != DIM_UID && d->kind != DIM_MARK)
		return NULL;
	for (size_t i = 0; i < d->n; i++)
		if (d->k[i].mask == d->masks[mi]) {
			if (one)
				return NULL;
			one = &d->k[i];
		}
	return one;
}

void nft_dim_chain(const struct nft_cls *cl, size_t d, uint64_t s, char *buf, size_t len)
{
	if (d == 0 && cl->n)
		snprintf(buf, len, "output");
	else if (d < cl->n)
		snprintf(buf, len, "q%zu_%llx", d, (unsigned long long)s);
	else if (s && !(s & (s - 1)))
		snprintf(buf, len, "f%d", __builtin_ctzll(s)); /* one class: its fast entry */
	else
		nft_set_chain(s, buf, len);
}

void nft_set_chain(uint64_t s, char *buf, size_t len)
{
	snprintf(buf, len, "c%llx", (unsigned long long)s);
}
