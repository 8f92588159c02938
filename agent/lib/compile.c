// SPDX-License-Identifier: GPL-2.0-only
/* The policy compiler: struct df_policy -> map images. Covering prefixes are
 * merged so one longest-prefix lookup finds every rule that applies to an
 * address (docs/semantics.md, property 1); see docs/compiler.md. */
#include "compile.h"
#include "verdict.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- prefix merge ------------------------------------------------------ */

static int contrib_cmp(const void *a, const void *b)
{
	const struct df_contrib *x = a, *y = b;
	int r;

	if (x->cidr.family != y->cidr.family)
		return x->cidr.family - y->cidr.family;
	r = memcmp(x->cidr.addr, y->cidr.addr, sizeof(x->cidr.addr));
	if (r)
		return r;
	if (x->cidr.plen != y->cidr.plen)
		return x->cidr.plen - y->cidr.plen;
	if (x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return x->except - y->except;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static bool same_cidr(const struct df_cidr *a, const struct df_cidr *b)
{
	return a->family == b->family && a->plen == b->plen &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

/* Sorting puts every prefix right after the prefixes that contain it (a
 * preorder walk of the prefix tree), so a stack holds the ancestors. */
int df_prefix_merge(struct df_contrib *c, size_t n, uint32_t max_id, df_merge_cb cb,
		    void *ctx)
{
	struct group {
		size_t start, count;
	} stack[130];
	size_t depth = 0;
	uint32_t *inc = NULL, *exc = NULL, *stamp = NULL, *ids = NULL;
	size_t n_ids_cap = 0;
	int err = 0;

	if (!n)
		return 0;
	qsort(c, n, sizeof(*c), contrib_cmp);
	inc = calloc(max_id + 1, sizeof(*inc));
	exc = calloc(max_id + 1, sizeof(*exc));
	stamp = calloc(max_id + 1, sizeof(*stamp));
	if (!inc || !exc || !stamp) {
		err = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0, gen = 1; i < n; gen++) {
		size_t j = i, n_ids = 0;

		while (j < n && same_cidr(&c[j].cidr, &c[i].cidr))
			j++;
		while (depth && !df_cidr_contains(&c[stack[depth - 1].start].cidr, &c[i].cidr)) {
			struct group *g = &stack[--depth];

			for (size_t k = g->start; k < g->start + g->count; k++)
				(c[k].except ? exc : inc)[c[k].id]--;
		}
		stack[depth++] = (struct group){ i, j - i };
		for (size_t k = i; k < j; k++)
			(c[k].except ? exc : inc)[c[k].id]++;

		for (size_t s = 0; s < depth; s++) {
			for (size_t k = stack[s].start; k < stack[s].start + stack[s].count; k++) {
				uint32_t id = c[k].id;

				if (!inc[id] || exc[id] || stamp[id] == gen)
					continue;
				stamp[id] = (uint32_t)gen;
				if (n_ids == n_ids_cap) {
					size_t cap = n_ids_cap ? n_ids_cap * 2 : 64;
					uint32_t *t = realloc(ids, cap * sizeof(*ids));

					if (!t) {
						err = -ENOMEM;
						goto cleanup;
					}
					ids = t;
					n_ids_cap = cap;
				}
				ids[n_ids++] = id;
			}
		}
		if (n_ids)
			qsort(ids, n_ids, sizeof(*ids), u32_cmp);
		err = cb(&c[i].cidr, ids, n_ids, ctx);
		if (err)
			goto cleanup;
		i = j;
	}
cleanup:
	free(inc);
	free(exc);
	free(stamp);
	free(ids);
	return err;
}

/* ---- growable arrays ------------------------------------------------------ */

static int grow(void **v, size_t *cap, size_t need, size_t sz)
{
	void *t;
	size_t c = *cap ? *cap : 16;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	t = realloc(*v, c * sz);
	if (!t)
		return -ENOMEM;
	*v = t;
	*cap = c;
	return 0;
}

#define PUSH(arr, n, cap, val)                                                   \
	({                                                                       \
		int __e = grow((void **)&(arr), &(cap), (n) + 1, sizeof(*(arr))); \
		if (!__e)                                                        \
			(arr)[(n)++] = (val);                                    \
		__e;                                                             \
	})

/* ---- destination leaves ---------------------------------------------------- */

struct dst_ctx {
	const struct df_policy *p;
	struct df_image *img;
	struct df_diags *diags;
	size_t cap4, cap6, cap_entries;
	struct df_entry *tmp;
	size_t n_tmp, cap_tmp;
	/* leaf dedup: open addressing over (first, count, flags) */
	struct df_leaf *slots;
	uint64_t *hashes;
	size_t n_slots, n_used;
};

static uint64_t hash_entries(const struct df_entry *e, size_t n, uint16_t flags)
{
	const unsigned char *b = (const unsigned char *)e;
	uint64_t h = 1469598103934665603ULL ^ flags;

	for (size_t i = 0; i < n * sizeof(*e); i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h ? h : 1;
}

static int dedup_grow(struct dst_ctx *x)
{
	size_t n = x->n_slots ? x->n_slots * 2 : 1024;
	struct df_leaf *slots = calloc(n, sizeof(*slots));
	uint64_t *hashes = calloc(n, sizeof(*hashes));

	if (!slots || !hashes) {
		free(slots);
		free(hashes);
		return -ENOMEM;
	}
	for (size_t i = 0; i < x->n_slots; i++) {
		size_t k;

		if (!x->hashes[i])
			continue;
		for (k = x->hashes[i] & (n - 1); hashes[k]; k = (k + 1) & (n - 1))
			;
		hashes[k] = x->hashes[i];
		slots[k] = x->slots[i];
	}
	free(x->slots);
	free(x->hashes);
	x->slots = slots;
	x->hashes = hashes;
	x->n_slots = n;
	return 0;
}

/* Finds or appends the entry list in x->tmp; returns the leaf. */
static int intern_leaf(struct dst_ctx *x, uint16_t flags, struct df_leaf *out)
{
	struct df_image *img = x->img;
	uint64_t h = hash_entries(x->tmp, x->n_tmp, flags);
	size_t k;
	int err;

	if ((x->n_used + 1) * 2 > x->n_slots && (err = dedup_grow(x)))
		return err;
	for (k = h & (x->n_slots - 1); x->hashes[k]; k = (k + 1) & (x->n_slots - 1)) {
		struct df_leaf *l = &x->slots[k];

		if (x->hashes[k] == h && l->count == x->n_tmp && l->flags == flags &&
		    (!x->n_tmp || !memcmp(&img->entries[l->first], x->tmp, x->n_tmp * sizeof(*x->tmp)))) {
			*out = *l;
			return 0;
		}
	}
	err = grow((void **)&img->entries, &x->cap_entries, img->n_entries + x->n_tmp,
		   sizeof(*img->entries));
	if (err)
		return err;
	if (x->n_tmp)
		memcpy(&img->entries[img->n_entries], x->tmp, x->n_tmp * sizeof(*x->tmp));
	*out = (struct df_leaf){ .first = (__u32)img->n_entries, .count = (__u16)x->n_tmp,
				 .flags = flags };
	img->n_entries += x->n_tmp;
	x->hashes[k] = h;
	x->slots[k] = *out;
	x->n_used++;
	img->n_leaves++;
	if (x->n_tmp > img->max_leaf_len)
		img->max_leaf_len = x->n_tmp;
	return 0;
}

static int add_entries(struct dst_ctx *x, const struct df_match *m, uint64_t classes,
		       uint32_t rule, uint8_t kind, uint64_t nb, uint64_t exp)
{
	size_t nr = m->n_ports ? m->n_ports : 1;

	for (size_t i = 0; i < nr; i++) {
		struct df_entry e = {
			.classes = classes,
			.not_before = nb,
			.expires = exp,
			.port_lo = m->n_ports ? m->ports[i].lo : 0,
			.port_hi = m->n_ports ? m->ports[i].hi : 0xffff,
			.rule = (__u16)rule,
			.protos = m->protos,
			.kind = kind,
		};

		if (PUSH(x->tmp, x->n_tmp, x->cap_tmp, e))
			return -ENOMEM;
	}
	return 0;
}

static uint64_t clamp_time(int64_t t)
{
	return t < 0 ? 0 : (uint64_t)t;
}

static int dst_leaf_cb(const struct df_cidr *key, const uint32_t *ids, size_t n, void *ctx)
{
	struct dst_ctx *x = ctx;
	const struct df_policy *p = x->p;
	uint16_t flags = 0;
	struct df_leaf leaf;
	int err;

	x->n_tmp = 0;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] < p->n_dests) {
			const struct df_dest *d = &p->dests[ids[i]];

			flags |= DF_LEAF_ANY_DEST;
			if (d->allow)
				err = add_entries(x, &d->m, d->allow, ids[i], DF_RULE_DEST, 0,
						  UINT64_MAX);
			else
				err = 0;
		} else {
			const struct df_exception *e = &p->excs[ids[i] - p->n_dests];

			err = add_entries(x, &e->m, 1ULL << e->class_idx, ids[i],
					  DF_RULE_EXCEPTION, clamp_time(e->not_before),
					  clamp_time(e->expires));
		}
		if (err)
			return err;
	}
	if (x->n_tmp > DF_MAX_LEAF_ENTRIES) {
		char buf[DF_ADDRSTRLEN];

		df_cidr_format(key, true, buf, sizeof(buf));
		df_diag_add(x->diags, DF_SEV_ERROR, p->file, 0, NULL,
			    "policy exceeds map capacity: %zu rule entries (destinations and exceptions times port ranges) apply to %s, at most %d",
			    x->n_tmp, buf, DF_MAX_LEAF_ENTRIES);
		return -E2BIG;
	}
	err = intern_leaf(x, flags, &leaf);
	if (err)
		return err;
	if (key->family == 4) {
		struct df_dst4 d = { .key.prefixlen = key->plen, .leaf = leaf };

		memcpy(d.key.addr, key->addr, 4);
		return PUSH(x->img->dst4, x->img->n_dst4, x->cap4, d);
	}
	struct df_dst6 d = { .key.prefixlen = key->plen, .leaf = leaf };

	memcpy(d.key.addr, key->addr, 16);
	return PUSH(x->img->dst6, x->img->n_dst6, x->cap6, d);
}

static int compile_dsts(const struct df_policy *p, struct df_image *img, struct df_diags *diags)
{
	struct dst_ctx x = { .p = p, .img = img, .diags = diags };
	struct df_contrib *c = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	for (size_t i = 0; i < p->n_dests && !err; i++) {
		const struct df_match *m = &p->dests[i].m;

		for (size_t j = 0; j < m->n_cidrs && !err; j++)
			err = PUSH(c, n, cap, ((struct df_contrib){ m->cidrs[j], (uint32_t)i, false }));
		for (size_t j = 0; j < m->n_except && !err; j++)
			err = PUSH(c, n, cap, ((struct df_contrib){ m->except[j], (uint32_t)i, true }));
	}
	for (size_t i = 0; i < p->n_excs && !err; i++) {
		const struct df_match *m = &p->excs[i].m;

		for (size_t j = 0; j < m->n_cidrs && !err; j++)
			err = PUSH(c, n, cap,
				   ((struct df_contrib){ m->cidrs[j], (uint32_t)(p->n_dests + i),
							 false }));
	}
	if (!err)
		err = df_prefix_merge(c, n, (uint32_t)(p->n_dests + p->n_excs), dst_leaf_cb, &x);
	free(c);
	free(x.tmp);
	free(x.slots);
	free(x.hashes);
	return err;
}

/* ---- IPv4 stride table ----------------------------------------------------- */

static int leaf_cmp(const void *a, const void *b)
{
	const struct df_leaf *x = a, *y = b;

	if (x->first != y->first)
		return x->first < y->first ? -1 : 1;
	if (x->count != y->count)
		return x->count < y->count ? -1 : 1;
	return (int)x->flags - (int)y->flags;
}

static int plen_cmp(const void *a, const void *b)
{
	const struct df_dst4 *x = a, *y = b;

	return (int)x->key.prefixlen - (int)y->key.prefixlen;
}

/* The distinct leaves of both families, sorted, so stride slots and ranges
 * can name them by index. */
static int build_dleaves(struct df_image *img)
{
	size_t n = img->n_dst4 + img->n_dst6;

	img->dleaves = malloc((n ? n : 1) * sizeof(*img->dleaves));
	if (!img->dleaves)
		return -ENOMEM;
	for (size_t i = 0; i < img->n_dst4; i++)
		img->dleaves[i] = img->dst4[i].leaf;
	for (size_t i = 0; i < img->n_dst6; i++)
		img->dleaves[img->n_dst4 + i] = img->dst6[i].leaf;
	if (n)
		qsort(img->dleaves, n, sizeof(*img->dleaves), leaf_cmp);
	img->n_dleaves = 0;
	for (size_t i = 0; i < n; i++)
		if (!img->n_dleaves || leaf_cmp(&img->dleaves[img->n_dleaves - 1], &img->dleaves[i]))
			img->dleaves[img->n_dleaves++] = img->dleaves[i];
	return 0;
}

/* leaf -> its index + 1 in dleaves (0 is "no prefix") */
uint32_t df_dleaf_index(const struct df_image *img, const struct df_leaf *l)
{
	const struct df_leaf *hit = bsearch(l, img->dleaves, img->n_dleaves, sizeof(*l), leaf_cmp);

	return (uint32_t)(hit - img->dleaves) + 1;
}

/* A slot's child chunk, created with the slot's leaf pushed into all 256. */
static long stride_child(struct df_image *img, size_t *cap, size_t slot)
{
	uint32_t v = img->stride4[slot];
	size_t c;

	if (v & DF_STRIDE_CHILD)
		return DF_STRIDE_ROOT + (size_t)(v & ~DF_STRIDE_CHILD) * DF_STRIDE_CHUNK;
	c = (img->n_stride4 - DF_STRIDE_ROOT) / DF_STRIDE_CHUNK;
	if (c >= DF_STRIDE_CHILD - 1 ||
	    grow((void **)&img->stride4, cap, img->n_stride4 + DF_STRIDE_CHUNK, sizeof(uint32_t)))
		return -ENOMEM;
	for (size_t i = 0; i < DF_STRIDE_CHUNK; i++)
		img->stride4[img->n_stride4 + i] = v;
	img->stride4[slot] = DF_STRIDE_CHILD | (uint32_t)c;
	img->n_stride4 += DF_STRIDE_CHUNK;
	return (long)(img->n_stride4 - DF_STRIDE_CHUNK);
}

/* Expands the IPv4 prefixes shortest first, so longer ones overwrite the
 * slots they share: the table answers longest-prefix match directly. */
static int compile_stride4(struct df_image *img)
{
	struct df_dst4 *sorted = NULL;
	size_t cap = DF_STRIDE_ROOT;
	int err = 0;

	img->stride4 = calloc(DF_STRIDE_ROOT, sizeof(uint32_t));
	if (!img->stride4)
		return -ENOMEM;
	img->n_stride4 = DF_STRIDE_ROOT;
	if (!img->n_dst4)
		return 0;
	sorted = malloc(img->n_dst4 * sizeof(*sorted));
	if (!sorted)
		return -ENOMEM;
	memcpy(sorted, img->dst4, img->n_dst4 * sizeof(*sorted));
	qsort(sorted, img->n_dst4, sizeof(*sorted), plen_cmp);
	for (size_t i = 0; i < img->n_dst4 && !err; i++) {
		const struct df_dst4 *d = &sorted[i];
		uint32_t a = (uint32_t)d->key.addr[0] << 24 | (uint32_t)d->key.addr[1] << 16 |
			     (uint32_t)d->key.addr[2] << 8 | d->key.addr[3];
		unsigned int plen = d->key.prefixlen;
		size_t leaf = df_dleaf_index(img, &d->leaf), lo, n;
		long base;

		if (plen <= 16) {
			lo = a >> 16;
			n = (size_t)1 << (16 - plen);
			base = 0;
		} else {
			base = stride_child(img, &cap, a >> 16);
			if (base >= 0 && plen > 24)
				base = stride_child(img, &cap, (size_t)base + ((a >> 8) & 0xff));
			if (base < 0) {
				err = (int)base;
				break;
			}
			lo = plen <= 24 ? (a >> 8) & 0xff : a & 0xff;
			n = (size_t)1 << ((plen <= 24 ? 24 : 32) - plen);
		}
		for (size_t k = 0; k < n; k++) {
			uint32_t *slot = &img->stride4[(size_t)base + lo + k];

			/* a child chunk here came from a longer prefix: impossible,
			 * shorter prefixes come first; overwrite leaves only */
			if (!(*slot & DF_STRIDE_CHILD))
				*slot = (uint32_t)leaf;
		}
	}
	free(sorted);
	return err;
}

/* ---- IPv6 range tree ------------------------------------------------------------ */

struct df_u128 df_u128_of(const __u8 *a)
{
	struct df_u128 x = { 0, 0 };

	for (int i = 0; i < 8; i++) {
		x.hi = x.hi << 8 | a[i];
		x.lo = x.lo << 8 | a[8 + i];
	}
	return x;
}

static bool u128_lt(struct df_u128 a, struct df_u128 b)
{
	return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo);
}

struct df_u128 df_prefix_end(struct df_u128 s, unsigned int plen)
{
	struct df_u128 e = s;

	if (plen < 64) {
		e.hi |= plen ? (~0ULL >> plen) : ~0ULL;
		e.lo = ~0ULL;
	} else if (plen < 128) {
		e.lo |= ~0ULL >> (plen - 64);
	}
	return e;
}

/* A range starting at s with value v; a later start equal to the last one
 * replaces it (a more specific prefix beginning at the same address). */
int df_ranges_add(struct df_ranges *b, struct df_u128 s, uint32_t v)
{
	if (b->n && b->start[b->n - 1].hi == s.hi && b->start[b->n - 1].lo == s.lo) {
		b->val[b->n - 1] = v;
		if (b->n > 1 && b->val[b->n - 2] == v)
			b->n--; /* merges with the range before */
		return 0;
	}
	if (b->n && b->val[b->n - 1] == v)
		return 0; /* the same value goes on */
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct df_u128 *st = realloc(b->start, cap * sizeof(*st));
		uint32_t *va;

		if (!st)
			return -ENOMEM;
		b->start = st;
		va = realloc(b->val, cap * sizeof(*va));
		if (!va)
			return -ENOMEM;
		b->val = va;
		b->cap = cap;
	}
	b->start[b->n] = s;
	b->val[b->n++] = v;
	return 0;
}

/* Pops the open prefixes that end before `next` (all of them if NULL): the
 * range after each one's end goes back to the enclosing prefix's value. */
static int ranges_close(struct df_ranges *b, struct df_u128 *end, uint32_t *val, size_t *depth,
			const struct df_u128 *next)
{
	int err = 0;

	while (*depth && !err && (!next || u128_lt(end[*depth - 1], *next))) {
		struct df_u128 e = end[--*depth];

		if (e.hi == ~0ULL && e.lo == ~0ULL)
			continue; /* ends with the address space */
		e.lo++;
		if (!e.lo)
			e.hi++;
		err = df_ranges_add(b, e, *depth ? val[*depth - 1] : 0);
	}
	return err;
}

int df_ranges_build(const struct df_rkey *k, size_t n, struct df_ranges *out)
{
	struct df_u128 end[130];
	uint32_t val[130];
	size_t depth = 0;
	int err;

	memset(out, 0, sizeof(*out));
	err = df_ranges_add(out, (struct df_u128){ 0, 0 }, 0);
	for (size_t i = 0; i < n && !err; i++) {
		err = ranges_close(out, end, val, &depth, &k[i].addr);
		if (err)
			break;
		end[depth] = df_prefix_end(k[i].addr, k[i].plen);
		val[depth] = k[i].val;
		err = df_ranges_add(out, k[i].addr, val[depth++]);
	}
	if (!err)
		err = ranges_close(out, end, val, &depth, NULL);
	if (err)
		df_ranges_free(out);
	return err;
}

uint32_t df_ranges_value(const struct df_ranges *r, struct df_u128 a)
{
	size_t lo = 0, hi = r->n;

	while (hi - lo > 1) { /* the last start <= a; start[0] is 0 */
		size_t mid = lo + (hi - lo) / 2;

		if (u128_lt(a, r->start[mid]))
			hi = mid;
		else
			lo = mid;
	}
	return r->n ? r->val[lo] : 0;
}

int df_ranges_splice(const struct df_ranges *outer, const struct df_ranges *inner,
		     struct df_u128 w0, struct df_u128 w1, struct df_ranges *out)
{
	struct df_u128 after = { w1.hi + (w1.lo == ~0ULL), w1.lo + 1 };
	bool to_end = w1.hi == ~0ULL && w1.lo == ~0ULL;
	int err = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < outer->n && !err && u128_lt(outer->start[i], w0); i++)
		err = df_ranges_add(out, outer->start[i], outer->val[i]);
	if (!err)
		err = df_ranges_add(out, w0, df_ranges_value(inner, w0));
	for (size_t i = 0; i < inner->n && !err; i++)
		if (u128_lt(w0, inner->start[i]) && !u128_lt(w1, inner->start[i]))
			err = df_ranges_add(out, inner->start[i], inner->val[i]);
	if (!err && !to_end)
		err = df_ranges_add(out, after, df_ranges_value(outer, after));
	for (size_t i = 0; i < outer->n && !err && !to_end; i++)
		if (u128_lt(after, outer->start[i]))
			err = df_ranges_add(out, outer->start[i], outer->val[i]);
	if (err)
		df_ranges_free(out);
	return err;
}

void df_ranges_free(struct df_ranges *r)
{
	free(r->start);
	free(r->val);
	memset(r, 0, sizeof(*r));
}

uint32_t df_rng6_walk(const struct df_image *img, uint64_t hi, uint64_t lo, uint32_t lv0,
		      uint32_t blk, uint32_t *path)
{
	for (uint32_t l = lv0; l < img->rng_levels; l++) {
		const struct df_rng_node *nd = &img->rng6[img->rng_off[l] + blk];
		uint32_t cnt = 0;

		if (path)
			path[l] = blk;
		for (int j = 0; j < DF_RNG_FANOUT; j++)
			cnt += nd->hi[j] < hi || (nd->hi[j] == hi && nd->lo[j] <= lo);
		cnt = cnt ? cnt - 1 : 0;
		blk = blk * DF_RNG_FANOUT + cnt;
		if (l + 1 == img->rng_levels) {
			if (path)
				path[l + 1] = blk; /* the range's key */
			return nd->val[cnt];
		}
		if (blk >= img->rng_blocks[l + 1])
			blk = img->rng_blocks[l + 1] - 1;
	}
	return 0;
}

uint32_t df_rng6_lookup(const struct df_image *img, uint64_t hi, uint64_t lo)
{
	uint32_t e;

	if (!img->rng_levels)
		return 0;
	if (!img->rng_dir_bits)
		return df_rng6_walk(img, hi, lo, 0, 0, NULL);
	e = img->dir6[hi >> (64 - img->rng_dir_bits)];
	if (e & DF_DIR_FINAL)
		return e & ~DF_DIR_FINAL;
	return df_rng6_walk(img, hi, lo, e >> DF_DIR_LEVEL_SHIFT, e & DF_DIR_NODE_MASK, NULL);
}

/* The directory: about one range per slot, at most 2^DF_DIR_MAX_BITS
 * slots. Each level's node is monotone in the address, so the nodes the
 * slot's first and last address reach bound the walk of every address
 * between them: where their paths meet, the slot's walk can start; when
 * both end at the same range, the slot is that range's leaf. Below the
 * all-ones address, a walk's path is the base-8 digits of the index of the
 * range it ends at, so one sweep over the range starts finds both ends; the
 * last slot (it holds the all-ones address, which walks into the padding)
 * is walked. */
_Static_assert(DF_RNG_FANOUT == 8, "compile_dir6 reads paths as base-8 digits");

static int compile_dir6(struct df_image *img)
{
	const struct df_rng_node *keys;
	uint32_t bits = 1, levels = img->rng_levels, first[DF_RNG_MAX_LEVELS + 1],
		 last[DF_RNG_MAX_LEVELS + 1];
	size_t p = 0, n = img->n_ranges6;

	if (!levels)
		return 0;
	keys = &img->rng6[img->rng_off[levels - 1]];
	while (bits < DF_DIR_MAX_BITS && (1ULL << bits) < n)
		bits++;
	img->dir6 = calloc(1ULL << bits, sizeof(*img->dir6));
	if (!img->dir6)
		return -ENOMEM;
	img->rng_dir_bits = bits;
	for (uint64_t s = 0; s < 1ULL << bits; s++) {
		uint64_t start = s << (64 - bits), end = start | (~0ULL >> bits);
		size_t p1, p2;
		uint32_t l;

		/* p: the last range starting at or before the slot's first address */
		while (p + 1 < n && keys[(p + 1) / DF_RNG_FANOUT].hi[(p + 1) % DF_RNG_FANOUT] <= start &&
		       (keys[(p + 1) / DF_RNG_FANOUT].hi[(p + 1) % DF_RNG_FANOUT] < start ||
			!keys[(p + 1) / DF_RNG_FANOUT].lo[(p + 1) % DF_RNG_FANOUT]))
			p++;
		p1 = p;
		p2 = p;
		while (p2 + 1 < n && keys[(p2 + 1) / DF_RNG_FANOUT].hi[(p2 + 1) % DF_RNG_FANOUT] <= end)
			p2++;
		if (s + 1 == 1ULL << bits) { /* the all-ones address: walk */
			uint32_t v = df_rng6_walk(img, start, 0, 0, 0, first);

			df_rng6_walk(img, end, ~0ULL, 0, 0, last);
			if (first[levels] == last[levels]) {
				img->dir6[s] = DF_DIR_FINAL | v;
				continue;
			}
		} else {
			if (p1 == p2) { /* one range for the whole slot */
				img->dir6[s] = DF_DIR_FINAL | keys[p1 / DF_RNG_FANOUT].val[p1 % DF_RNG_FANOUT];
				continue;
			}
			for (l = 0; l < levels; l++) {
				uint32_t shift = 3 * (levels - l); /* DF_RNG_FANOUT == 8 */

				first[l] = (uint32_t)(p1 >> shift);
				last[l] = (uint32_t)(p2 >> shift);
			}
		}
		l = levels - 1;
		while (l > 0 && first[l] != last[l])
			l--;
		if (first[l] > DF_DIR_NODE_MASK)
			return -E2BIG;
		img->dir6[s] = l << DF_DIR_LEVEL_SHIFT | first[l];
	}
	return 0;
}

/* dst6 is in prefix-tree preorder (compile_dsts emits it sorted by address,
 * then length), so a stack of open prefixes yields the disjoint ranges. */
static int compile_rng6(struct df_image *img)
{
	struct df_ranges b = { 0 };
	struct df_rkey *keys = calloc(img->n_dst6 ? img->n_dst6 : 1, sizeof(*keys));
	size_t n, nodes = 0, levels = 0, width[DF_RNG_MAX_LEVELS];
	int err = keys ? 0 : -ENOMEM;

	for (size_t i = 0; i < img->n_dst6 && !err; i++) {
		keys[i].addr = df_u128_of(img->dst6[i].key.addr);
		keys[i].plen = (uint8_t)img->dst6[i].key.prefixlen;
		keys[i].val = df_dleaf_index(img, &img->dst6[i].leaf);
	}
	if (!err)
		err = df_ranges_build(keys, img->n_dst6, &b);
	free(keys);
	if (err || !img->n_dst6)
		goto cleanup;

	/* Levels, bottom up: each level's keys are the first keys of the
	 * blocks below. */
	for (n = b.n; levels < DF_RNG_MAX_LEVELS; levels++) {
		width[levels] = (n + DF_RNG_FANOUT - 1) / DF_RNG_FANOUT;
		nodes += width[levels];
		if (width[levels] == 1)
			break;
		n = width[levels];
	}
	if (levels == DF_RNG_MAX_LEVELS) {
		err = -E2BIG;
		goto cleanup;
	}
	levels++;
	img->rng6 = calloc(nodes, sizeof(*img->rng6));
	if (!img->rng6) {
		err = -ENOMEM;
		goto cleanup;
	}
	img->n_rng6 = nodes;
	img->n_ranges6 = b.n;
	img->rng_levels = (uint32_t)levels;
	/* root first: level l of the array is bottom level levels-1-l */
	for (size_t l = 0, off = 0; l < levels; l++) {
		img->rng_off[l] = (uint32_t)off;
		img->rng_blocks[l] = (uint32_t)width[levels - 1 - l];
		off += width[levels - 1 - l];
	}
	/* the bottom level: every range start and its leaf */
	{
		struct df_rng_node *lv = &img->rng6[img->rng_off[levels - 1]];
		size_t cnt = img->rng_blocks[levels - 1] * DF_RNG_FANOUT;

		for (size_t k = 0; k < cnt; k++) {
			struct df_rng_node *nd = &lv[k / DF_RNG_FANOUT];
			size_t j = k % DF_RNG_FANOUT;

			nd->hi[j] = k < b.n ? b.start[k].hi : ~0ULL;
			nd->lo[j] = k < b.n ? b.start[k].lo : ~0ULL;
			nd->val[j] = k < b.n ? b.val[k] : b.val[b.n - 1];
		}
	}
	/* upper levels: the first key of each block of the level below */
	for (size_t l = levels - 1; l-- > 0;) {
		struct df_rng_node *up = &img->rng6[img->rng_off[l]];
		const struct df_rng_node *below = &img->rng6[img->rng_off[l + 1]];
		size_t cnt = img->rng_blocks[l] * DF_RNG_FANOUT;

		for (size_t k = 0; k < cnt; k++) {
			struct df_rng_node *nd = &up[k / DF_RNG_FANOUT];
			size_t j = k % DF_RNG_FANOUT;

			nd->hi[j] = k < img->rng_blocks[l + 1] ? below[k].hi[0] : ~0ULL;
			nd->lo[j] = k < img->rng_blocks[l + 1] ? below[k].lo[0] : ~0ULL;
		}
	}
cleanup:
	df_ranges_free(&b);
	return err ? err : compile_dir6(img);
}

/* ---- classification selectors ---------------------------------------------- */

struct src_ctx {
	const struct df_policy *p;
	struct df_image *img;
	size_t cap4, cap6;
};

static int src_cb(const struct df_cidr *key, const uint32_t *ids, size_t n, void *ctx)
{
	struct src_ctx *x = ctx;
	uint64_t classes = 0;

	for (size_t i = 0; i < n; i++)
		classes |= 1ULL << ids[i];
	if (key->family == 4) {
		struct df_src4 s = { .key.prefixlen = key->plen, .classes = classes };

		memcpy(s.key.addr, key->addr, 4);
		return PUSH(x->img->src4, x->img->n_src4, x->cap4, s);
	}
	struct df_src6 s = { .key.prefixlen = key->plen, .classes = classes };

	memcpy(s.key.addr, key->addr, 16);
	return PUSH(x->img->src6, x->img->n_src6, x->cap6, s);
}

static int uid_cmp(const void *a, const void *b)
{
	const struct df_uid_sel *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int compile_selectors(const struct df_policy *p, struct df_image *img,
			     struct df_diags *diags)
{
	struct src_ctx sx = { .p = p, .img = img };
	struct df_contrib *c = NULL;
	size_t n = 0, cap = 0, cap_uids = 0, cap_cg = 0;
	uint16_t n_marks = 0, n_lports = 0;
	int err = 0;

	for (size_t i = 0; i < p->n_classes && !err; i++) {
		const struct df_class *cl = &p->classes[i];
		uint64_t bit = 1ULL << i;

		if (cl->all)
			img->hdr.all_mask |= bit;
		if (cl->mode == DF_MODE_ENFORCE)
			img->hdr.enforce_mask |= bit;
		for (size_t j = 0; j < cl->n_laddrs && !err; j++)
			err = PUSH(c, n, cap, ((struct df_contrib){ cl->laddrs[j], (uint32_t)i, false }));
		for (size_t j = 0; j < cl->n_uids && !err; j++)
			err = PUSH(img->uids, img->n_uids, cap_uids,
				   ((struct df_uid_sel){ cl->uids[j], bit }));
		for (size_t j = 0; j < cl->n_cgroups && !err; j++) {
			size_t k;

			for (k = 0; k < img->n_cgroups; k++)
				if (!strcmp(img->cgroups[k].path, cl->cgroups[j]))
					break;
			if (k < img->n_cgroups) {
				img->cgroups[k].classes |= bit;
				continue;
			}
			char *path = strdup(cl->cgroups[j]);

			err = path ? PUSH(img->cgroups, img->n_cgroups, cap_cg,
					  ((struct df_cgroup_sel){ path, bit })) :
				     -ENOMEM;
			if (err)
				free(path);
		}
		for (size_t j = 0; j < cl->n_marks && !err; j++) {
			uint16_t k;

			for (k = 0; k < n_marks; k++)
				if (img->marks[k].value == cl->marks[j].value &&
				    img->marks[k].mask == cl->marks[j].mask)
					break;
			if (k == n_marks && n_marks == DF_MAX_MARK_RULES) {
				err = -E2BIG;
				df_diag_add(diags, DF_SEV_ERROR, p->file, cl->line, NULL,
					    "policy exceeds map capacity: more than %d distinct mark selectors",
					    DF_MAX_MARK_RULES);
				break;
			}
			if (k == n_marks)
				img->marks[n_marks++] = (struct df_mark_rule){
					.value = cl->marks[j].value, .mask = cl->marks[j].mask
				};
			img->marks[k].classes |= bit;
		}
		for (size_t j = 0; j < cl->n_lports && !err; j++) {
			uint16_t k;

			for (k = 0; k < n_lports; k++)
				if (img->lports[k].lo == cl->lports[j].lo &&
				    img->lports[k].hi == cl->lports[j].hi)
					break;
			if (k == n_lports && n_lports == DF_MAX_LPORT_RULES) {
				err = -E2BIG;
				df_diag_add(diags, DF_SEV_ERROR, p->file, cl->line, NULL,
					    "policy exceeds map capacity: more than %d distinct local port ranges",
					    DF_MAX_LPORT_RULES);
				break;
			}
			if (k == n_lports)
				img->lports[n_lports++] = (struct df_lport_rule){
					.lo = cl->lports[j].lo, .hi = cl->lports[j].hi
				};
			img->lports[k].classes |= bit;
		}
	}
	img->hdr.n_marks = n_marks;
	img->hdr.n_lports = n_lports;
	if (!err)
		err = df_prefix_merge(c, n, DF_MAX_CLASSES, src_cb, &sx);
	free(c);
	if (err)
		return err;

	/* One uid entry per uid, its classes merged. */
	if (img->n_uids)
		qsort(img->uids, img->n_uids, sizeof(*img->uids), uid_cmp);
	size_t w = 0;

	for (size_t i = 0; i < img->n_uids; i++) {
		if (w && img->uids[w - 1].uid == img->uids[i].uid)
			img->uids[w - 1].classes |= img->uids[i].classes;
		else
			img->uids[w++] = img->uids[i];
	}
	img->n_uids = w;
	return 0;
}

int df_compile(const struct df_policy *p, struct df_image **out, struct df_diags *diags)
{
	struct df_image *img = calloc(1, sizeof(*img));
	int err;

	*out = NULL;
	if (!img)
		return -ENOMEM;
	if (p->n_dests + p->n_excs > DF_MAX_RULES) {
		df_diag_add(diags, DF_SEV_ERROR, p->file, 0, NULL,
			    "policy exceeds map capacity: %zu destinations and exceptions, at most %d",
			    p->n_dests + p->n_excs, DF_MAX_RULES);
		err = -E2BIG;
		goto cleanup;
	}
	img->hdr.serial = p->serial;
	img->hdr.flags = p->allow_loopback ? DF_POL_ALLOW_LOOPBACK : 0;
	err = compile_selectors(p, img, diags);
	if (!err)
		err = compile_dsts(p, img, diags);
	if (!err)
		err = build_dleaves(img);
	if (!err)
		err = compile_stride4(img);
	if (!err)
		err = compile_rng6(img);
	if (err == -E2BIG && !diags->errors)
		df_diag_add(diags, DF_SEV_ERROR, p->file, 0, NULL,
			    "policy exceeds map capacity: IPv6 range tree deeper than %d levels",
			    DF_RNG_MAX_LEVELS);
	if (err == -ENOMEM)
		df_diag_add(diags, DF_SEV_ERROR, p->file, 0, NULL, "out of memory compiling the policy");
cleanup:
	if (err) {
		df_image_free(img);
		return err;
	}
	*out = img;
	return 0;
}

void df_image_free(struct df_image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->n_cgroups; i++)
		free(img->cgroups[i].path);
	free(img->cgroups);
	free(img->dst4);
	free(img->stride4);
	free(img->rng6);
	free(img->dir6);
	free(img->dleaves);
	free(img->dst6);
	free(img->entries);
	free(img->src4);
	free(img->src6);
	free(img->uids);
	free(img);
}

static void dump_key(FILE *out, uint8_t family, const __u8 *addr, __u32 plen)
{
	struct df_cidr c = { .family = family, .plen = (uint8_t)plen };
	char buf[DF_ADDRSTRLEN];

	memcpy(c.addr, addr, family == 4 ? 4 : 16);
	df_cidr_format(&c, true, buf, sizeof(buf));
	fprintf(out, "%s", buf);
}

static void dump_leaf(FILE *out, const struct df_leaf *l)
{
	fprintf(out, " -> leaf first=%u count=%u%s\n", l->first, l->count,
		l->flags & DF_LEAF_ANY_DEST ? " any-dest" : "");
}

void df_image_dump(const struct df_image *img, const struct df_policy *p, FILE *out)
{
	fprintf(out, "hdr serial=%llu enforce=%#llx all=%#llx flags=%#x marks=%u lports=%u\n",
		(unsigned long long)img->hdr.serial, (unsigned long long)img->hdr.enforce_mask,
		(unsigned long long)img->hdr.all_mask, img->hdr.flags, img->hdr.n_marks,
		img->hdr.n_lports);
	for (size_t i = 0; i < img->n_cgroups; i++)
		fprintf(out, "cgroup %s -> %#llx\n", img->cgroups[i].path,
			(unsigned long long)img->cgroups[i].classes);
	for (size_t i = 0; i < img->n_uids; i++)
		fprintf(out, "uid %u -> %#llx\n", img->uids[i].uid,
			(unsigned long long)img->uids[i].classes);
	for (size_t i = 0; i < img->hdr.n_marks; i++)
		fprintf(out, "mark %#x/%#x -> %#llx\n", img->marks[i].value, img->marks[i].mask,
			(unsigned long long)img->marks[i].classes);
	for (size_t i = 0; i < img->hdr.n_lports; i++)
		fprintf(out, "lport %u-%u -> %#llx\n", img->lports[i].lo, img->lports[i].hi,
			(unsigned long long)img->lports[i].classes);
	for (size_t i = 0; i < img->n_src4; i++) {
		fprintf(out, "src ");
		dump_key(out, 4, img->src4[i].key.addr, img->src4[i].key.prefixlen);
		fprintf(out, " -> %#llx\n", (unsigned long long)img->src4[i].classes);
	}
	for (size_t i = 0; i < img->n_src6; i++) {
		fprintf(out, "src ");
		dump_key(out, 6, img->src6[i].key.addr, img->src6[i].key.prefixlen);
		fprintf(out, " -> %#llx\n", (unsigned long long)img->src6[i].classes);
	}
	for (size_t i = 0; i < img->n_dst4; i++) {
		fprintf(out, "dst ");
		dump_key(out, 4, img->dst4[i].key.addr, img->dst4[i].key.prefixlen);
		dump_leaf(out, &img->dst4[i].leaf);
	}
	fprintf(out, "stride4 slots=%zu chunks=%zu leaves=%zu\n", img->n_stride4,
		(img->n_stride4 - DF_STRIDE_ROOT) / DF_STRIDE_CHUNK, img->n_dleaves);
	fprintf(out, "rng6 ranges=%zu nodes=%zu levels=%u dir_bits=%u\n", img->n_ranges6,
		img->n_rng6, img->rng_levels, img->rng_dir_bits);
	for (size_t i = 0; i < img->n_dst6; i++) {
		fprintf(out, "dst ");
		dump_key(out, 6, img->dst6[i].key.addr, img->dst6[i].key.prefixlen);
		dump_leaf(out, &img->dst6[i].leaf);
	}
	for (size_t i = 0; i < img->n_entries; i++) {
		const struct df_entry *e = &img->entries[i];
		const char *kind;
		const char *name = df_rule_name(p, e->rule, &kind);

		fprintf(out, "entry %zu %s %s classes=%#llx protos=%#x ports=%u-%u", i, kind,
			name ? name : "?", (unsigned long long)e->classes, e->protos, e->port_lo,
			e->port_hi);
		if (e->kind == DF_RULE_EXCEPTION)
			fprintf(out, " window=%llu-%llu", (unsigned long long)e->not_before,
				(unsigned long long)e->expires);
		fputc('\n', out);
	}
}
