// SPDX-License-Identifier: GPL-2.0-only
/* The destination lookup tables the datapath reads (tables.h): the distinct
 * leaves, the IPv4 stride table, the IPv6 range tree and its directory, and
 * the walks the emulator and the tests use to read them back. */
#include "tables.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "ranges.h"

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
	const struct df_dst *x = a, *y = b;

	return (int)x->pfx.plen - (int)y->pfx.plen;
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
	    df_grow((void **)&img->stride4, cap, img->n_stride4 + DF_STRIDE_CHUNK, sizeof(uint32_t)))
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
	struct df_dst *sorted = NULL;
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
		const struct df_dst *d = &sorted[i];
		uint32_t a = (uint32_t)d->pfx.addr[0] << 24 | (uint32_t)d->pfx.addr[1] << 16 |
			     (uint32_t)d->pfx.addr[2] << 8 | d->pfx.addr[3];
		unsigned int plen = d->pfx.plen;
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

uint32_t df_rng6_walk(const struct df_image *img, uint64_t hi, uint64_t lo, uint32_t lv0,
		      uint32_t blk, uint32_t *path)
{
	for (uint32_t l = lv0; l < img->cfg.rng_levels; l++) {
		const struct df_rng_node *nd = &img->rng6[img->cfg.rng_off[l] + blk];
		uint32_t cnt = 0;

		if (path)
			path[l] = blk;
		for (int j = 0; j < DF_RNG_FANOUT; j++)
			cnt += nd->hi[j] < hi || (nd->hi[j] == hi && nd->lo[j] <= lo);
		cnt = cnt ? cnt - 1 : 0;
		blk = blk * DF_RNG_FANOUT + cnt;
		if (l + 1 == img->cfg.rng_levels) {
			if (path)
				path[l + 1] = blk; /* the range's key */
			return nd->val[cnt];
		}
		if (blk >= img->cfg.rng_blocks[l + 1])
			blk = img->cfg.rng_blocks[l + 1] - 1;
	}
	return 0;
}

uint32_t df_rng6_lookup(const struct df_image *img, uint64_t hi, uint64_t lo)
{
	uint32_t e;

	if (!img->cfg.rng_levels)
		return 0;
	if (!img->cfg.rng_dir_bits)
		return df_rng6_walk(img, hi, lo, 0, 0, NULL);
	e = img->dir6[hi >> (64 - img->cfg.rng_dir_bits)];
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
	uint32_t bits = 1, levels = img->cfg.rng_levels, first[DF_RNG_MAX_LEVELS + 1],
		 last[DF_RNG_MAX_LEVELS + 1];
	size_t p = 0, n = img->n_ranges6;

	if (!levels)
		return 0;
	keys = &img->rng6[img->cfg.rng_off[levels - 1]];
	while (bits < DF_DIR_MAX_BITS && (1ULL << bits) < n)
		bits++;
	img->dir6 = calloc(1ULL << bits, sizeof(*img->dir6));
	if (!img->dir6)
		return -ENOMEM;
	img->cfg.rng_dir_bits = bits;
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
		keys[i].addr = df_u128_of(img->dst6[i].pfx.addr);
		keys[i].plen = (uint8_t)img->dst6[i].pfx.plen;
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
	img->cfg.rng_levels = (uint32_t)levels;
	/* root first: level l of the array is bottom level levels-1-l */
	for (size_t l = 0, off = 0; l < levels; l++) {
		img->cfg.rng_off[l] = (uint32_t)off;
		img->cfg.rng_blocks[l] = (uint32_t)width[levels - 1 - l];
		off += width[levels - 1 - l];
	}
	/* the bottom level: every range start and its leaf */
	{
		struct df_rng_node *lv = &img->rng6[img->cfg.rng_off[levels - 1]];
		size_t cnt = img->cfg.rng_blocks[levels - 1] * DF_RNG_FANOUT;

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
		struct df_rng_node *up = &img->rng6[img->cfg.rng_off[l]];
		const struct df_rng_node *below = &img->rng6[img->cfg.rng_off[l + 1]];
		size_t cnt = img->cfg.rng_blocks[l] * DF_RNG_FANOUT;

		for (size_t k = 0; k < cnt; k++) {
			struct df_rng_node *nd = &up[k / DF_RNG_FANOUT];
			size_t j = k % DF_RNG_FANOUT;

			nd->hi[j] = k < img->cfg.rng_blocks[l + 1] ? below[k].hi[0] : ~0ULL;
			nd->lo[j] = k < img->cfg.rng_blocks[l + 1] ? below[k].lo[0] : ~0ULL;
		}
	}
cleanup:
	df_ranges_free(&b);
	return err ? err : compile_dir6(img);
}

int df_tables_build(struct df_image *img)
{
	int err = build_dleaves(img);

	if (!err)
		err = compile_stride4(img);
	if (!err)
		err = compile_rng6(img);
	return err;
}
