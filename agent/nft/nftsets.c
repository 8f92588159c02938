// SPDX-License-Identifier: GPL-2.0-only
/* The table's sets (address intervals per leaf group, leaf/protocol/port
 * boxes, selectors) and objects (counters kept across swaps, the report
 * limiter). */
#include "nftbuild.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/udata.h>

#include "nftnames.h"
#include "verdict.h"

/* ---- sets ------------------------------------------------------------------------ */

#define ELEMS_PER_MSG 512 /* set elements per netlink message */

struct set_def {
	const char *name;
	uint32_t key_type; /* NFT_TYPE_* (concatenations: combined) */
	uint32_t flags;    /* NFT_SET_* */
	uint32_t key_len;  /* bytes, fields padded to 4 */
	uint8_t fields[4]; /* concatenations: field lengths */
};

struct set_out {
	struct nft_build *b;
	const struct set_def *def;
	struct nftnl_set *s; /* the message being filled */
	size_t n;
};

static struct nftnl_set *set_obj(struct nft_build *b, const struct set_def *def)
{
	struct nftnl_set *s = nftnl_set_alloc();

	nftnl_set_set_str(s, NFTNL_SET_TABLE, b->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, def->name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, DF_NFT_FAMILY);
	return s;
}

static void set_begin(struct set_out *o, struct nft_build *b, const struct set_def *def)
{
	struct nftnl_set *s = set_obj(b, def);
	struct nlmsghdr *nlh;

	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, def->flags);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, def->key_len);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, def->key_type);
	nftnl_set_set_u32(s, NFTNL_SET_ID, b->bt->seq);
	if (def->fields[1])
		nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, def->fields,
				   (uint32_t)strnlen((const char *)def->fields, 4));
	nlh = nft_msg(b->bt, NFT_MSG_NEWSET, NLM_F_CREATE, "set %s", def->name);
	if (nlh) {
		nftnl_set_nlmsg_build_payload(nlh, s);
		nft_msg_done(b->bt);
	}
	nftnl_set_free(s);
	*o = (struct set_out){ .b = b, .def = def };
}

static void set_flush(struct set_out *o)
{
	struct nlmsghdr *nlh;

	if (!o->s)
		return;
	nlh = nft_msg(o->b->bt, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "elements of set %s", o->def->name);
	if (nlh) {
		nftnl_set_elems_nlmsg_build_payload(nlh, o->s);
		nft_msg_done(o->b->bt);
	}
	nftnl_set_free(o->s);
	o->s = NULL;
	o->n = 0;
}

/* One element: key (and key_end for concatenated intervals) and flags. */
static void set_elem(struct set_out *o, const void *key, const void *key_end, uint32_t flags)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (!o->s)
		o->s = set_obj(o->b, o->def);
	nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, o->def->key_len);
	if (key_end)
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, key_end, o->def->key_len);
	if (flags)
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, flags);
	nftnl_set_elem_add(o->s, e);
	if (++o->n == ELEMS_PER_MSG)
		set_flush(o);
}

static void addr_bytes(struct df_u128 a, int family, uint8_t *out)
{
	if (family == 4) {
		uint32_t v = htonl((uint32_t)a.lo);

		memcpy(out, &v, 4);
		return;
	}
	for (int i = 0; i < 8; i++) {
		out[i] = (uint8_t)(a.hi >> (56 - 8 * i));
		out[8 + i] = (uint8_t)(a.lo >> (56 - 8 * i));
	}
}

/* The IPv4-mapped window of ranges, as IPv4 ranges (starts in lo). */
static int window4(const struct df_ranges *r, struct df_ranges *out)
{
	const uint64_t w0 = DF_NFT_MAPPED_LO.lo, w1 = DF_NFT_MAPPED_HI.lo;
	uint32_t at = 0;
	int err;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < r->n && r->start[i].hi == 0 && r->start[i].lo <= w0; i++)
		at = r->val[i];
	err = df_ranges_add(out, (struct df_u128){ 0, 0 }, at);
	for (size_t i = 0; i < r->n && !err; i++)
		if (r->start[i].hi == 0 && r->start[i].lo > w0 && r->start[i].lo <= w1)
			err = df_ranges_add(out, (struct df_u128){ 0, r->start[i].lo - w0 },
					    r->val[i]);
	return err;
}

/* An interval set from ranges: every range start is an element, starting
 * (valued) or ending (0); where two valued ranges meet, an end and a start
 * share the address. IPv4 takes the IPv4-mapped window. */
static void range_set(struct nft_build *b, const char *name, const struct df_ranges *in, int family)
{
	struct set_def def = { .name = name, .flags = NFT_SET_INTERVAL,
			       .key_len = family == 4 ? 4 : 16,
			       .key_type = family == 4 ? NFT_TYPE_IPADDR : NFT_TYPE_IP6ADDR };
	struct df_ranges w4 = { 0 };
	const struct df_ranges *r = in;
	struct set_out o;
	uint32_t prev = 0;

	if (family == 4) {
		if (window4(in, &w4)) {
			b->bt->err = -ENOMEM;
			return;
		}
		r = &w4;
	}
	set_begin(&o, b, &def);
	for (size_t i = 0; i < r->n; i++) {
		uint8_t key[16];
		uint32_t v = r->val[i];

		addr_bytes(r->start[i], family, key);
		if (v && prev)
			set_elem(&o, key, NULL, NFT_SET_ELEM_INTERVAL_END);
		set_elem(&o, key, NULL, v ? 0 : NFT_SET_ELEM_INTERVAL_END);
		prev = v;
	}
	set_flush(&o);
	df_ranges_free(&w4);
}

static int port_cmp(const void *a, const void *b)
{
	const struct df_port_range *x = a, *y = b;

	return (x->lo > y->lo) - (x->lo < y->lo);
}

static void selector_sets(struct nft_build *b, uint32_t c)
{
	const struct df_class *k = &b->p->classes[c];
	const struct df_nft_class *pc = &b->pl->cls[c];
	char name[32];
	struct set_out o;

	if (k->n_uids) {
		struct set_def def = { .name = name, .key_len = 4, .key_type = NFT_TYPE_UID };

		snprintf(name, sizeof(name), "u%u", c);
		set_begin(&o, b, &def);
		for (size_t i = 0; i < k->n_uids; i++) {
			bool dup = false;

			for (size_t j = 0; j < i; j++)
				dup |= k->uids[j] == k->uids[i];
			if (!dup)
				set_elem(&o, &k->uids[i], NULL, 0);
		}
		set_flush(&o);
	}
	if (k->n_lports) {
		/* proto . sport for tcp, udp and sctp; ranges merged (no overlaps) */
		struct set_def def = { .name = name, .flags = NFT_SET_INTERVAL | NFT_SET_CONCAT,
				       .key_len = 8, .fields = { 1, 2 },
				       .key_type = NFT_TYPE_INET_PROTOCOL << NFT_TYPE_BITS |
						   NFT_TYPE_INET_SERVICE };
		struct df_port_range *pr = calloc(k->n_lports, sizeof(*pr));
		size_t n = 0;
		static const uint8_t protos[] = { 6, 17, 132 };

		if (!pr) {
			b->bt->err = -ENOMEM;
			return;
		}
		memcpy(pr, k->lports, k->n_lports * sizeof(*pr));
		qsort(pr, k->n_lports, sizeof(*pr), port_cmp);
		for (size_t i = 0; i < k->n_lports; i++) {
			if (n && pr[i].lo <= (uint32_t)pr[n - 1].hi + 1) {
				if (pr[i].hi > pr[n - 1].hi)
					pr[n - 1].hi = pr[i].hi;
				continue;
			}
			pr[n++] = pr[i];
		}
		snprintf(name, sizeof(name), "lp%u", c);
		set_begin(&o, b, &def);
		for (size_t p = 0; p < sizeof(protos); p++)
			for (size_t i = 0; i < n; i++) {
				uint8_t key[8] = { protos[p] }, end[8] = { protos[p] };
				uint16_t lo = htons(pr[i].lo), hi = htons(pr[i].hi);

				memcpy(key + 4, &lo, 2);
				memcpy(end + 4, &hi, 2);
				set_elem(&o, key, end, 0);
			}
		set_flush(&o);
		free(pr);
	}
	if (k->n_laddrs) {
		snprintf(name, sizeof(name), "sa4_%u", c);
		range_set(b, name, &pc->src4, 4);
		snprintf(name, sizeof(name), "sa6_%u", c);
		range_set(b, name, &pc->src6, 6);
	}
}

/* The address sets of a leaf set (once per distinct leaf set): ranges
 * whose leaf is in it, per family. Its name goes to `out`; -ENOMEM. */
static int leafset(struct nft_build *b, const uint32_t *leaves, size_t n, char out[16])
{
	struct leafset *ls;
	struct df_ranges r4 = { 0 }, r6 = { 0 };
	bool *in;
	char name[24];
	int err = 0;

	for (size_t i = 0; i < b->n_ls; i++)
		if (b->ls[i].n == n && !memcmp(b->ls[i].leaves, leaves, n * sizeof(*leaves))) {
			memcpy(out, b->ls[i].name, 16);
			return 0;
		}
	ls = realloc(b->ls, (b->n_ls + 1) * sizeof(*ls));
	in = calloc(b->n_leaves + 1, sizeof(*in));
	if (!ls || !in) {
		free(in);
		if (ls)
			b->ls = ls;
		return -ENOMEM;
	}
	b->ls = ls;
	ls = &b->ls[b->n_ls];
	ls->leaves = malloc((n ? n : 1) * sizeof(*leaves));
	if (!ls->leaves) {
		free(in);
		return -ENOMEM;
	}
	memcpy(ls->leaves, leaves, n * sizeof(*leaves));
	ls->n = n;
	snprintf(ls->name, sizeof(ls->name), "a%zu", b->n_ls++);
	for (size_t i = 0; i < n; i++)
		if (leaves[i] < b->n_leaves)
			in[leaves[i]] = true;
	for (size_t i = 0; i < b->pl->dst4.n && !err; i++) {
		uint32_t v = b->pl->dst4.val[i];

		err = df_ranges_add(&r4, b->pl->dst4.start[i], v && in[v - 1]);
	}
	for (size_t i = 0; i < b->pl->dst6.n && !err; i++) {
		uint32_t v = b->pl->dst6.val[i];

		err = df_ranges_add(&r6, b->pl->dst6.start[i], v && in[v - 1]);
	}
	if (!err) {
		snprintf(name, sizeof(name), "%sv4", ls->name);
		range_set(b, name, &r4, 4);
		snprintf(name, sizeof(name), "%sv6", ls->name);
		range_set(b, name, &r6, 6);
	}
	memcpy(out, ls->name, 16);
	df_ranges_free(&r4);
	df_ranges_free(&r6);
	free(in);
	return err;
}

static bool same_boxes(const struct df_nft_box *a, const struct df_nft_box *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].proto_lo != x[i].proto_lo || a[i].proto_hi != x[i].proto_hi ||
		    a[i].port_lo != x[i].port_lo || a[i].port_hi != x[i].port_hi ||
		    a[i].rule != x[i].rule)
			return false;
	return true;
}

/* Boxes (in leaf order) -> groups of leaves with the same boxes. */
static int group(struct nft_build *b, const struct df_nft_boxes *bx, struct groups *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < bx->n;) {
		size_t j = i;
		struct group *g = NULL;

		while (j < bx->n && bx->v[j].leaf == bx->v[i].leaf)
			j++;
		for (size_t k = 0; k < out->n && !g; k++)
			if (out->g[k].n_box == j - i && same_boxes(out->g[k].box, &bx->v[i], j - i))
				g = &out->g[k];
		if (!g) {
			struct group *v = realloc(out->g, (out->n + 1) * sizeof(*v));

			if (!v)
				return -ENOMEM;
			out->g = v;
			g = &out->g[out->n++];
			*g = (struct group){ .box = &bx->v[i], .n_box = j - i };
		}
		uint32_t *l = realloc(g->leaves, (g->n_leaves + 1) * sizeof(*l));

		if (!l)
			return -ENOMEM;
		g->leaves = l;
		g->leaves[g->n_leaves++] = bx->v[i].leaf;
		i = j;
	}
	for (size_t k = 0; k < out->n; k++) {
		int err = leafset(b, out->g[k].leaves, out->g[k].n_leaves, out->g[k].set);

		if (err)
			return err;
	}
	return 0;
}

static void groups_free(struct groups *gs)
{
	for (size_t i = 0; i < gs->n; i++)
		free(gs->g[i].leaves);
	free(gs->g);
}

void nft_build_free(struct nft_build *b)
{
	for (size_t c = 0; b->cls && c < b->pl->n_cls; c++)
		for (int k = 0; k < KD__N; k++)
			groups_free(&b->cls[c][k]);
	for (size_t e = 0; b->exc && e < b->pl->n_exc; e++)
		groups_free(&b->exc[e]);
	free(b->cls);
	free(b->exc);
	for (size_t c = 0; c < DF_MAX_CLASSES; c++)
		free(b->cg_id[c]);
	for (size_t i = 0; i < b->n_ls; i++)
		free(b->ls[i].leaves);
	free(b->ls);
	nft_cls_free(&b->cl);
}

/* ---- classification and the single classes' fast entries (nftclassify.c) ----------- */

/* Dimension d's set of the keys selecting its mi-th class set: k<d>_<mi>
 * (the local addresses: _4 and _6). */
static int dim_sets(struct nft_build *b, size_t d, size_t mi)
{
	const struct nft_dim *dim = &b->cl.d[d];
	char name[48];
	struct set_out o;

	snprintf(name, sizeof(name), "k%zu_%zu", d, mi);
	if (nft_dim_single_key(dim, mi))
		return 0; /* compared, not looked up */
	if (dim->kind == DIM_LADDR) {
		for (int fam = 4; fam <= 6; fam += 2) {
			const struct df_ranges *a = fam == 4 ? &dim->a4 : &dim->a6;
			struct df_ranges r = { 0 };
			char n[64];
			int err = 0;

			for (size_t i = 0; i < a->n && !err; i++)
				err = df_ranges_add(&r, a->start[i], a->val[i] == mi + 1);
			if (!err) {
				snprintf(n, sizeof(n), "%s_%d", name, fam);
				range_set(b, n, &r, fam);
			}
			df_ranges_free(&r);
			if (err)
				return err;
		}
		return 0;
	}
	struct set_def def = { .name = name };

	switch (dim->kind) {
	case DIM_CGROUP:
		def.key_len = 8;
		def.key_type = NFT_TYPE_CGROUPV2;
		break;
	case DIM_UID:
		def.key_len = 4;
		def.key_type = NFT_TYPE_UID;
		break;
	case DIM_MARK:
		def.key_len = 4;
		def.key_type = NFT_TYPE_MARK;
		break;
	default: /* DIM_LPORT: proto . sport */
		def.flags = NFT_SET_INTERVAL | NFT_SET_CONCAT;
		def.key_len = 8;
		def.fields[0] = 1;
		def.fields[1] = 2;
		def.key_type = NFT_TYPE_INET_PROTOCOL << NFT_TYPE_BITS | NFT_TYPE_INET_SERVICE;
		break;
	}
	set_begin(&o, b, &def);
	for (size_t i = 0; i < dim->n; i++) {
		const struct nft_key *k = &dim->k[i];

		if (k->mask != dim->masks[mi])
			continue;
		if (dim->kind == DIM_LPORT) {
			uint8_t key[8] = { k->proto }, end[8] = { k->proto };
			uint16_t lo = htons(k->lo), hi = htons(k->hi);

			memcpy(key + 4, &lo, 2);
			memcpy(end + 4, &hi, 2);
			set_elem(&o, key, end, 0);
		} else if (dim->kind == DIM_CGROUP) {
			set_elem(&o, &k->key, NULL, 0);
		} else {
			uint32_t v = (uint32_t)k->key;

			set_elem(&o, &v, NULL, 0);
		}
	}
	set_flush(&o);
	return 0;
}

size_t nft_box_first(const struct group *g, size_t k)
{
	const struct df_nft_box *x = &g->box[k];

	for (size_t j = 0; j < k; j++)
		if (g->box[j].rule == x->rule && g->box[j].port_lo == x->port_lo &&
		    g->box[j].port_hi == x->port_hi)
			return j;
	return k;
}

/* The protocols of box k and the boxes it stands for (nft_box_first). */
static void box_protos(const struct group *g, size_t k, bool in[256])
{
	memset(in, 0, 256 * sizeof(*in));
	for (size_t j = k; j < g->n_box; j++)
		if (nft_box_first(g, j) == k)
			for (unsigned int p = g->box[j].proto_lo; p <= g->box[j].proto_hi; p++)
				in[p] = true;
}

size_t nft_box_protos(const struct group *g, size_t k)
{
	bool in[256];
	size_t n = 0;

	box_protos(g, k, in);
	for (int p = 0; p < 256; p++)
		n += in[p];
	/* every protocol, or one range of a single box: compares do */
	if (n == 256 || (n == (size_t)(g->box[k].proto_hi - g->box[k].proto_lo + 1) &&
			 in[g->box[k].proto_lo] && in[g->box[k].proto_hi]))
		return 1;
	return n;
}

/* f<c>'s sets of protocols: p<c>_<group>_<box>, for boxes standing for
 * others of the same rule and ports. */
static void proto_sets(struct nft_build *b, uint32_t c)
{
	const struct groups *gs = &b->cls[c][KD_OK];
	char name[48];
	struct set_def def = { .name = name, .key_len = 1, .key_type = NFT_TYPE_INET_PROTOCOL };
	struct set_out o;
	bool in[256];

	for (size_t g = 0; g < gs->n; g++)
		for (size_t k = 0; k < gs->g[g].n_box; k++) {
			if (nft_box_first(&gs->g[g], k) != k || nft_box_protos(&gs->g[g], k) < 2)
				continue;
			box_protos(&gs->g[g], k, in);
			snprintf(name, sizeof(name), "p%u_%zu_%zu", c, g, k);
			set_begin(&o, b, &def);
			for (int p = 0; p < 256; p++)
				if (in[p]) {
					uint8_t v = (uint8_t)p;

					set_elem(&o, &v, NULL, 0);
				}
			set_flush(&o);
		}
}

static bool u128_le(struct df_u128 a, struct df_u128 b)
{
	return a.hi < b.hi || (a.hi == b.hi && a.lo <= b.lo);
}

/* Does a range of r whose leaf is one of g's meet [lo, hi]? (Ranges are in
 * address order: the overlap first, the leaf only for those.) */
static bool ranges_meet(const struct df_ranges *r, const struct group *g, struct df_u128 lo,
			struct df_u128 hi)
{
	for (size_t i = 0; i < r->n && u128_le(r->start[i], hi); i++) {
		struct df_u128 e = { ~0ULL, ~0ULL };

		if (i + 1 < r->n) {
			e = r->start[i + 1];
			e.hi -= e.lo == 0;
			e.lo--;
		}
		if (!r->val[i] || !u128_le(lo, e))
			continue;
		for (size_t k = 0; k < g->n_leaves; k++)
			if (g->leaves[k] == r->val[i] - 1)
				return true;
	}
	return false;
}

bool nft_group_loopback(const struct nft_build *b, const struct group *g)
{
	const struct df_u128 lo4 = { 0, 0x0000ffff7f000000ULL }, hi4 = { 0, 0x0000ffff7fffffffULL },
			     one = { 0, 1 };

	return ranges_meet(&b->pl->dst4, g, lo4, hi4) || ranges_meet(&b->pl->dst6, g, lo4, hi4) ||
	       ranges_meet(&b->pl->dst6, g, one, one);
}

bool nft_fast_class(const struct nft_build *b, uint32_t c)
{
	uint64_t one = 1ULL << c;

	if (!b->cl.fast)
		return false;
	for (size_t i = 0; i < b->cl.n_finals; i++)
		if (b->cl.finals[i] == one)
			return true;
	return false;
}

int nft_sets(struct nft_build *b)
{
	const struct df_nft_plan *pl = b->pl;
	int err = 0;

	for (size_t i = 0; i < pl->dst4.n; i++)
		if (pl->dst4.val[i] > b->n_leaves)
			b->n_leaves = pl->dst4.val[i];
	for (size_t i = 0; i < pl->dst6.n; i++)
		if (pl->dst6.val[i] > b->n_leaves)
			b->n_leaves = pl->dst6.val[i];
	b->cls = calloc(pl->n_cls + 1, sizeof(*b->cls));
	b->exc = calloc(pl->n_exc + 1, sizeof(*b->exc));
	if (!b->cls || !b->exc)
		return -ENOMEM;
	if (pl->n_any_dest) {
		err = leafset(b, pl->any_dest, pl->n_any_dest, b->anyd);
		if (err)
			return err;
	}
	for (uint32_t c = 0; c < pl->n_cls && !err; c++) {
		err = group(b, &pl->cls[c].ok, &b->cls[c][KD_OK]);
		if (!err)
			err = group(b, &pl->cls[c].exc, &b->cls[c][KD_EXC]);
		if (!err)
			err = group(b, &pl->cls[c].proto, &b->cls[c][KD_PROTO]);
		if (!err)
			err = group(b, &pl->cls[c].addr, &b->cls[c][KD_ADDR]);
		if (!err)
			selector_sets(b, c);
		if (!err && nft_fast_class(b, c))
			proto_sets(b, c);
	}
	for (size_t d = 0; d < b->cl.n && !err; d++)
		for (size_t mi = 0; mi < b->cl.d[d].n_masks && !err; mi++)
			err = dim_sets(b, d, mi);
	for (size_t e = 0; e < pl->n_exc && !err; e++)
		err = group(b, &pl->exc[e].box, &b->exc[e]);
	return err;
}
/* ---- objects: counters (kept across swaps) and the report limiter ------------------ */

static void object(struct nft_build *b, uint32_t type, const char *name)
{
	struct nftnl_obj *ob = nftnl_obj_alloc();
	struct nlmsghdr *nlh;

	nftnl_obj_set_str(ob, NFTNL_OBJ_TABLE, b->table);
	nftnl_obj_set_str(ob, NFTNL_OBJ_NAME, name);
	nftnl_obj_set_u32(ob, NFTNL_OBJ_FAMILY, DF_NFT_FAMILY);
	nftnl_obj_set_u32(ob, NFTNL_OBJ_TYPE, type);
	if (type == NFT_OBJECT_LIMIT) {
		uint32_t rate = b->o->log_rate ? b->o->log_rate : DF_NFT_LOG_RATE;

		nftnl_obj_set_u64(ob, NFTNL_OBJ_LIMIT_RATE, rate);
		nftnl_obj_set_u64(ob, NFTNL_OBJ_LIMIT_UNIT, 1);
		nftnl_obj_set_u32(ob, NFTNL_OBJ_LIMIT_BURST, rate);
		nftnl_obj_set_u32(ob, NFTNL_OBJ_LIMIT_TYPE, NFT_LIMIT_PKTS);
		nftnl_obj_set_u32(ob, NFTNL_OBJ_LIMIT_FLAGS, NFT_LIMIT_F_INV); /* "over" */
	}
	/* no NLM_F_EXCL: an existing counter keeps its values */
	nlh = nft_msg(b->bt, NFT_MSG_NEWOBJ, NLM_F_CREATE, "object %s", name);
	if (nlh) {
		nftnl_obj_nlmsg_build_payload(nlh, ob);
		nft_msg_done(b->bt);
	}
	nftnl_obj_free(ob);
}

void nft_objects(struct nft_build *b)
{
	const struct df_policy *p = b->p;
	char name[96];

	object(b, NFT_OBJECT_COUNTER, DF_NFT_SUPPRESSED);
	/* named by its rate: an existing limit object keeps its settings */
	snprintf(b->limit, sizeof(b->limit), "df_reports_over_%u",
		 b->o->log_rate ? b->o->log_rate : DF_NFT_LOG_RATE);
	object(b, NFT_OBJECT_LIMIT, b->limit);
	for (size_t i = 0; i < p->n_dests + p->n_excs; i++) {
		snprintf(name, sizeof(name), "df_r%zu", i);
		object(b, NFT_OBJECT_COUNTER, name);
	}
	for (uint32_t c = 0; c < p->n_classes; c++) { /* the fast path's, by class and rule */
		const struct df_nft_boxes *ok = &b->pl->cls[c].ok;
		size_t n_rules = p->n_dests + p->n_excs;
		bool *seen;

		if (!nft_fast_class(b, c))
			continue;
		seen = calloc(n_rules + 1, sizeof(*seen));
		if (!seen) {
			b->bt->err = -ENOMEM;
			continue;
		}
		for (size_t i = 0; i < ok->n; i++) {
			if (ok->v[i].rule >= n_rules || seen[ok->v[i].rule])
				continue;
			seen[ok->v[i].rule] = true;
			df_nft_fast_name(name, sizeof(name), (int)c, ok->v[i].rule);
			object(b, NFT_OBJECT_COUNTER, name);
		}
		free(seen);
	}
	for (size_t c = 0; c < p->n_classes; c++) /* reports over the rate, by class and reason */
		for (size_t i = 0; i < nft_n_terminal; i++) {
			df_nft_over_name(name, sizeof(name), (int)c, nft_terminal_reasons[i]);
			object(b, NFT_OBJECT_COUNTER, name);
		}
	for (int slot = 0; slot <= (int)p->n_classes; slot++) {
		int s = slot == (int)p->n_classes ? DF_MAX_CLASSES : slot;

		for (int v = 0; v < DF_VERDICT__MAX; v++)
			for (int r = 0; r < DF_REASON__MAX; r++) {
				/* only what some rule counts */
				bool allow_r = r == DF_R_LOOPBACK || r == DF_R_UNCLASSIFIED ||
					       r == DF_R_DESTINATION || r == DF_R_EXCEPTION;

				if ((v == DF_ALLOW) != allow_r)
					continue;
				if (s == DF_MAX_CLASSES &&
				    !(v == DF_ALLOW && (r == DF_R_LOOPBACK || r == DF_R_UNCLASSIFIED)))
					continue;
				if ((s != DF_MAX_CLASSES && r == DF_R_UNCLASSIFIED) ||
				    r == DF_R_NEXT_HOP || r == DF_R_FILTER_BYPASS || r == DF_R_AGENT_STALE ||
				    r == DF_R_POLICY_EXPIRED /* BPF alone */)
					continue;
				if (v != DF_ALLOW &&
				    (v == DF_DROP) != (p->classes[s].mode == DF_MODE_ENFORCE))
					continue;
				df_nft_counter_name(name, sizeof(name), s, v, r);
				object(b, NFT_OBJECT_COUNTER, name);
			}
	}
}
