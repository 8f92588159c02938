// SPDX-License-Identifier: GPL-2.0-only
/* Compiled image -> the nftables backend's set contents, and their
 * evaluation (see nftplan.h, docs/nftables.md). */
#include "nftplan.h"
#include "tables.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The protocol axis cut where DF_P_* bits change: every entry's protocol
 * set is a union of these segments. */
static const struct {
	uint8_t lo, hi, bit;
} segs[] = {
	{ 0, 0, DF_P_OTHER },	   { 1, 1, DF_P_ICMP },	  { 2, 5, DF_P_OTHER },
	{ 6, 6, DF_P_TCP },	   { 7, 16, DF_P_OTHER }, { 17, 17, DF_P_UDP },
	{ 18, 57, DF_P_OTHER },	   { 58, 58, DF_P_ICMPV6 }, { 59, 131, DF_P_OTHER },
	{ 132, 132, DF_P_SCTP },   { 133, 255, DF_P_OTHER },
};
#define N_SEGS (sizeof(segs) / sizeof(segs[0]))

/* A port interval with a label; a segment's pieces are disjoint, sorted. */
struct piece {
	uint16_t lo, hi, rule;
};

struct pieces {
	struct piece v[2 * DF_MAX_LEAF_ENTRIES + 2];
	size_t n;
};

static int push_box(struct df_nft_boxes *b, struct df_nft_box x)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		struct df_nft_box *v = realloc(b->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = x;
	return 0;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The lowest label over each stretch of ports that some interval covers:
 * ivs are (lo, hi, rule); out gets disjoint pieces, neighbours merged. */
static void min_label(const struct piece *ivs, size_t n, struct pieces *out)
{
	uint32_t cut[2 * DF_MAX_LEAF_ENTRIES + 2];
	size_t nc = 0;

	out->n = 0;
	for (size_t i = 0; i < n; i++) {
		cut[nc++] = ivs[i].lo;
		cut[nc++] = (uint32_t)ivs[i].hi + 1;
	}
	qsort(cut, nc, sizeof(cut[0]), u32_cmp);
	for (size_t c = 0; c + 1 < nc; c++) {
		uint32_t lo = cut[c], hi = cut[c + 1] - 1;
		int best = -1;

		if (cut[c + 1] == cut[c])
			continue;
		for (size_t i = 0; i < n; i++)
			if (ivs[i].lo <= lo && hi <= ivs[i].hi && (best < 0 || ivs[i].rule < best))
				best = ivs[i].rule;
		if (best < 0)
			continue;
		if (out->n && out->v[out->n - 1].rule == best && out->v[out->n - 1].hi + 1U == lo) {
			out->v[out->n - 1].hi = (uint16_t)hi;
			continue;
		}
		out->v[out->n++] = (struct piece){ (uint16_t)lo, (uint16_t)hi, (uint16_t)best };
	}
}

static bool same_pieces(const struct pieces *a, const struct pieces *b)
{
	return a->n == b->n && !memcmp(a->v, b->v, a->n * sizeof(a->v[0]));
}

/* Which entries of a leaf go into a set. */
enum pick { PICK_DEST, PICK_EXC_OF_CLASS, PICK_EXC_RULE };

static bool picked(const struct df_entry *x, enum pick how, uint64_t cls_bit, uint16_t rule)
{
	switch (how) {
	case PICK_DEST:
		return x->kind == DF_RULE_DEST && (x->classes & cls_bit);
	case PICK_EXC_OF_CLASS:
		return x->kind == DF_RULE_EXCEPTION && (x->classes & cls_bit);
	case PICK_EXC_RULE:
		return x->kind == DF_RULE_EXCEPTION && x->rule == rule;
	}
	return false;
}

/* One leaf's boxes for a set: per protocol segment the lowest label over
 * each port stretch (ports count only for tcp, udp and sctp, and only when
 * the set has a port field), equal neighbouring segments merged. */
static int leaf_boxes(const struct df_image *img, uint32_t leaf, enum pick how, uint64_t cls_bit,
		      uint16_t rule, bool ports, struct df_nft_boxes *out)
{
	const struct df_leaf *lf = &img->dleaves[leaf];
	struct piece ivs[DF_MAX_LEAF_ENTRIES];
	struct pieces cur, prev = { .n = 0 };
	int prev_lo = -1, err = 0;

	for (size_t s = 0; s <= N_SEGS && !err; s++) {
		size_t n = 0;

		cur.n = 0;
		for (size_t i = 0; s < N_SEGS && i < lf->count && i < DF_MAX_LEAF_ENTRIES; i++) {
			const struct df_entry *x = &img->entries[lf->first + i];
			bool ported = ports && (segs[s].bit & DF_P_PORTED);

			if (!picked(x, how, cls_bit, rule) || !(x->protos & segs[s].bit))
				continue;
			ivs[n++] = (struct piece){ ported ? x->port_lo : 0, ported ? x->port_hi : 0xffff,
						   x->rule };
		}
		if (s < N_SEGS)
			min_label(ivs, n, &cur);
		if (prev_lo >= 0 && s < N_SEGS && same_pieces(&cur, &prev))
			continue; /* the previous segment's boxes go on */
		for (size_t k = 0; prev_lo >= 0 && k < prev.n && !err; k++)
			err = push_box(out, (struct df_nft_box){ leaf, (uint8_t)prev_lo,
								 segs[s - 1].hi, prev.v[k].lo,
								 prev.v[k].hi, prev.v[k].rule });
		if (s < N_SEGS) {
			prev = cur;
			prev_lo = segs[s].lo;
		}
	}
	return err;
}

/* IPv4 keys as IPv4-mapped IPv6 ones, so both families share one space. */
static struct df_rkey key4(const __u8 *a, unsigned int plen, uint32_t val)
{
	__u8 m[16] = { [10] = 0xff, [11] = 0xff };

	memcpy(m + 12, a, 4);
	return (struct df_rkey){ df_u128_of(m), (uint8_t)(96 + plen), val };
}

static int rkey_cmp(const void *a, const void *b)
{
	const struct df_rkey *x = a, *y = b;

	if (x->addr.hi != y->addr.hi)
		return x->addr.hi < y->addr.hi ? -1 : 1;
	if (x->addr.lo != y->addr.lo)
		return x->addr.lo < y->addr.lo ? -1 : 1;
	return (x->plen > y->plen) - (x->plen < y->plen);
}

/* v6 ranges with the IPv4-mapped window taken from the v4 ones. */
static int join_families(const struct df_ranges *v4, struct df_ranges *v6)
{
	struct df_ranges out;
	int err = df_ranges_splice(v6, v4, DF_NFT_MAPPED_LO, DF_NFT_MAPPED_HI, &out);

	if (!err) {
		df_ranges_free(v6);
		*v6 = out;
	}
	return err;
}

/* Prefix keys (any order, duplicates allowed) -> ranges. */
static int ranges_of(struct df_rkey *k, size_t n, struct df_ranges *out)
{
	size_t m = 0;

	qsort(k, n, sizeof(*k), rkey_cmp);
	for (size_t i = 0; i < n; i++)
		if (!m || rkey_cmp(&k[m - 1], &k[i]))
			k[m++] = k[i];
	return df_ranges_build(k, m, out);
}

static int build_dsts(struct df_nft_plan *pl, const struct df_image *img)
{
	size_t n = img->n_dst4 > img->n_dst6 ? img->n_dst4 : img->n_dst6;
	struct df_rkey *k = calloc(n ? n : 1, sizeof(*k));
	int err;

	if (!k)
		return -ENOMEM;
	for (size_t i = 0; i < img->n_dst4; i++)
		k[i] = key4(img->dst4[i].pfx.addr, img->dst4[i].pfx.plen,
			    df_dleaf_index(img, &img->dst4[i].leaf));
	err = ranges_of(k, img->n_dst4, &pl->dst4);
	for (size_t i = 0; i < img->n_dst6 && !err; i++)
		k[i] = (struct df_rkey){ df_u128_of(img->dst6[i].pfx.addr),
					 (uint8_t)img->dst6[i].pfx.plen,
					 df_dleaf_index(img, &img->dst6[i].leaf) };
	if (!err)
		err = ranges_of(k, img->n_dst6, &pl->dst6);
	if (!err)
		err = join_families(&pl->dst4, &pl->dst6);
	free(k);
	return err;
}

static int build_src(struct df_nft_class *c, const struct df_class *pc)
{
	struct df_rkey *k4 = calloc(pc->n_laddrs + 1, sizeof(*k4)),
		       *k6 = calloc(pc->n_laddrs + 1, sizeof(*k6));
	size_t n4 = 0, n6 = 0;
	int err = k4 && k6 ? 0 : -ENOMEM;

	for (size_t i = 0; i < pc->n_laddrs && !err; i++) {
		const struct df_cidr *a = &pc->laddrs[i];

		if (a->family == 4)
			k4[n4++] = key4(a->addr, a->plen, 1);
		else
			k6[n6++] = (struct df_rkey){ df_u128_of(a->addr), a->plen, 1 };
	}
	if (!err)
		err = ranges_of(k4, n4, &c->src4);
	if (!err)
		err = ranges_of(k6, n6, &c->src6);
	if (!err)
		err = join_families(&c->src4, &c->src6);
	free(k4);
	free(k6);
	return err;
}

static int build_class(struct df_nft_plan *pl, const struct df_image *img, const struct df_policy *p,
		       size_t c)
{
	struct df_nft_class *k = &pl->cls[c];
	uint64_t bit = 1ULL << c;
	int err = build_src(k, &p->classes[c]);

	for (uint32_t l = 0; l < img->n_dleaves && !err; l++) {
		size_t before = k->proto.n;

		err = leaf_boxes(img, l, PICK_DEST, bit, 0, true, &k->ok);
		if (!err)
			err = leaf_boxes(img, l, PICK_EXC_OF_CLASS, bit, 0, true, &k->exc);
		if (!err)
			err = leaf_boxes(img, l, PICK_DEST, bit, 0, false, &k->proto);
		if (err || k->proto.n == before)
			continue;
		/* the leaf's first destination allowing the class */
		uint16_t first = 0xffff;

		for (size_t i = 0; i < img->dleaves[l].count; i++) {
			const struct df_entry *x = &img->entries[img->dleaves[l].first + i];

			if (picked(x, PICK_DEST, bit, 0) && x->rule < first)
				first = x->rule;
		}
		err = push_box(&k->addr, (struct df_nft_box){ l, 0, 255, 0, 0xffff, first });
	}
	return err;
}

int df_nft_plan_build(const struct df_policy *p, const struct df_image *img,
		      struct df_nft_plan **out)
{
	struct df_nft_plan *pl = calloc(1, sizeof(*pl));
	size_t k = 0;
	int err = pl ? 0 : -ENOMEM;

	*out = NULL;
	if (!err) {
		pl->n_cls = p->n_classes;
		pl->cls = calloc(p->n_classes + 1, sizeof(*pl->cls));
		pl->n_exc = p->n_excs;
		pl->exc = calloc(p->n_excs + 1, sizeof(*pl->exc));
		pl->any_dest = calloc(img->n_dleaves + 1, sizeof(*pl->any_dest));
		if (!pl->cls || !pl->exc || !pl->any_dest)
			err = -ENOMEM;
	}
	if (!err)
		err = build_dsts(pl, img);
	for (int mode = DF_MODE_ENFORCE; !err && mode <= DF_MODE_AUDIT; mode++)
		for (size_t c = 0; c < p->n_classes; c++)
			if ((int)p->classes[c].mode == mode)
				pl->order[k++] = (uint32_t)c;
	for (size_t c = 0; c < p->n_classes && !err; c++)
		err = build_class(pl, img, p, c);
	for (size_t e = 0; e < p->n_excs && !err; e++) {
		struct df_nft_exc *x = &pl->exc[e];

		x->rule = (uint16_t)(p->n_dests + e);
		x->cls = (uint32_t)p->excs[e].class_idx;
		x->not_before = p->excs[e].not_before;
		x->expires = p->excs[e].expires;
		for (uint32_t l = 0; l < img->n_dleaves && !err; l++)
			err = leaf_boxes(img, l, PICK_EXC_RULE, 0, x->rule, true, &x->box);
	}
	for (uint32_t l = 0; l < img->n_dleaves && !err; l++)
		if (img->dleaves[l].flags & DF_LEAF_ANY_DEST)
			pl->any_dest[pl->n_any_dest++] = l;
	if (err) {
		df_nft_plan_free(pl);
		return err;
	}
	*out = pl;
	return 0;
}

static void boxes_free(struct df_nft_boxes *b)
{
	free(b->v);
}

void df_nft_plan_free(struct df_nft_plan *pl)
{
	if (!pl)
		return;
	df_ranges_free(&pl->dst4);
	df_ranges_free(&pl->dst6);
	for (size_t c = 0; pl->cls && c < pl->n_cls; c++) {
		boxes_free(&pl->cls[c].ok);
		boxes_free(&pl->cls[c].exc);
		boxes_free(&pl->cls[c].proto);
		boxes_free(&pl->cls[c].addr);
		df_ranges_free(&pl->cls[c].src4);
		df_ranges_free(&pl->cls[c].src6);
	}
	for (size_t e = 0; pl->exc && e < pl->n_exc; e++)
		boxes_free(&pl->exc[e].box);
	free(pl->cls);
	free(pl->exc);
	free(pl->any_dest);
	free(pl);
}

/* ---- evaluation: what the rules do ------------------------------------------ */

int df_nft_boxes_find(const struct df_nft_boxes *b, uint32_t leaf, uint8_t proto, uint16_t port)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct df_nft_box *x = &b->v[i];

		if (x->leaf == leaf && x->proto_lo <= proto && proto <= x->proto_hi &&
		    x->port_lo <= port && port <= x->port_hi)
			return x->rule;
	}
	return -1;
}

static struct df_u128 u128_of_cidr(const struct df_cidr *a)
{
	return a->family == 6 ? df_u128_of(a->addr) : key4(a->addr, 32, 0).addr;
}

/* The first exception of class c that is active and matches. */
static int active_exc(const struct df_nft_plan *pl, uint32_t c, uint32_t leaf, uint8_t proto,
		      uint16_t port, int64_t now)
{
	for (size_t e = 0; e < pl->n_exc; e++) {
		const struct df_nft_exc *x = &pl->exc[e];

		if (x->cls == c && x->not_before <= now && now < x->expires &&
		    df_nft_boxes_find(&x->box, leaf, proto, port) >= 0)
			return x->rule;
	}
	return -1;
}

void df_nft_plan_verdict(const struct df_nft_plan *pl, const struct df_policy *p,
			 const struct df_packet *pkt, uint64_t classes, int64_t now,
			 struct df_result *res)
{
	struct df_cidr dst = pkt->dst;
	uint32_t v, leaf = 0;
	bool have_leaf;
	uint8_t proto = pkt->proto;
	uint16_t port = pkt->dport;
	int r = -1;

	memset(res, 0, sizeof(*res));
	res->classes = classes;
	res->rule = -1;
	res->slot = classes ? __builtin_ctzll(classes) : DF_MAX_CLASSES;
	df_addr_unmap(&dst);
	/* chain judge: loopback, then each class (enforce ones first) */
	if (p->allow_loopback && !(pkt->flags & DF_PKT_NOT_LO) && df_addr_is_loopback(&dst)) {
		res->reason = DF_R_LOOPBACK;
		return;
	}
	v = df_ranges_value(&pl->dst6, u128_of_cidr(&dst)); /* dst4 is the mapped window */
	have_leaf = v != 0;
	if (have_leaf)
		leaf = v - 1;
	for (size_t i = 0; i < pl->n_cls; i++) {
		uint32_t c = pl->order[i];
		const struct df_nft_class *k = &pl->cls[c];

		if (!(classes & (1ULL << c)))
			continue;
		/* chain k<c>: satisfied by a destination, an active exception */
		if (have_leaf && (df_nft_boxes_find(&k->ok, leaf, proto, port) >= 0 ||
				  active_exc(pl, c, leaf, proto, port, now) >= 0))
			continue;
		/* unsatisfied: the class decides */
		res->verdict = p->classes[c].mode == DF_MODE_ENFORCE ? DF_DROP : DF_WOULD_DROP;
		res->slot = (int)c;
		if (have_leaf && (r = df_nft_boxes_find(&k->exc, leaf, proto, port)) >= 0)
			res->reason = DF_R_EXCEPTION_INACTIVE;
		else if (have_leaf && (r = df_nft_boxes_find(&k->proto, leaf, proto, 0)) >= 0)
			res->reason = DF_R_PORT_NOT_ALLOWED;
		else if (have_leaf && (r = df_nft_boxes_find(&k->addr, leaf, 0, 0)) >= 0)
			res->reason = DF_R_PROTOCOL_NOT_ALLOWED;
		else if (have_leaf && bsearch(&leaf, pl->any_dest, pl->n_any_dest,
					      sizeof(leaf), u32_cmp))
			res->reason = DF_R_CLASS_NOT_ALLOWED;
		else
			res->reason = DF_R_NO_DESTINATION;
		res->rule = r;
		if (res->reason == DF_R_CLASS_NOT_ALLOWED || res->reason == DF_R_NO_DESTINATION)
			res->rule = -1;
		return;
	}
	if (!classes) {
		res->reason = DF_R_UNCLASSIFIED;
		return;
	}
	/* chain fin: the first class needing an exception names the rule */
	for (size_t c = 0; c < pl->n_cls; c++) {
		if (!(classes & (1ULL << c)) || df_nft_boxes_find(&pl->cls[c].ok, leaf, proto, port) >= 0)
			continue;
		res->reason = DF_R_EXCEPTION;
		res->rule = active_exc(pl, (uint32_t)c, leaf, proto, port, now);
		return;
	}
	res->reason = DF_R_DESTINATION;
	res->rule = df_nft_boxes_find(&pl->cls[res->slot].ok, leaf, proto, port);
}
