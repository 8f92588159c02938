// SPDX-License-Identifier: GPL-2.0-only
/* The policy compiler: struct df_policy -> map images. Covering prefixes are
 * merged so one longest-prefix lookup finds every rule that applies to an
 * address (docs/semantics.md, property 1); see docs/compiler.md. */
#include "compile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "tables.h"
#include "verdict.h"

/* ---- prefix merge ------------------------------------------------------ */

/* The line of the last destination or exception whose prefixes cover key
 * (the one that brought a leaf over its capacity), 0 if none. */
static int rule_line_covering(const struct df_policy *p, const struct df_cidr *key)
{
	int line = 0, at;

	for (size_t i = 0; i < p->n_dests + p->n_excs; i++) {
		const struct df_match *m = df_rule_match(p, i, &at);

		for (size_t k = 0; k < m->n_cidrs; k++)
			if (m->cidrs[k].family == key->family && df_cidr_contains(&m->cidrs[k], key))
				line = at;
	}
	return line;
}

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
	err = df_grow((void **)&img->entries, &x->cap_entries, img->n_entries + x->n_tmp,
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

		if (DF_PUSH(x->tmp, x->n_tmp, x->cap_tmp, e))
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
		df_diag_add(x->diags, DF_SEV_ERROR, p->file, rule_line_covering(p, key), NULL,
			    "policy exceeds map capacity: %zu rule entries (destinations and exceptions times port ranges) apply to %s, at most %d",
			    x->n_tmp, buf, DF_MAX_LEAF_ENTRIES);
		return -E2BIG;
	}
	err = intern_leaf(x, flags, &leaf);
	if (err)
		return err;
	struct df_dst d = { .pfx = *key, .leaf = leaf };

	if (key->family == 4)
		return DF_PUSH(x->img->dst4, x->img->n_dst4, x->cap4, d);
	return DF_PUSH(x->img->dst6, x->img->n_dst6, x->cap6, d);
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
			err = DF_PUSH(c, n, cap, ((struct df_contrib){ m->cidrs[j], (uint32_t)i, false }));
		for (size_t j = 0; j < m->n_except && !err; j++)
			err = DF_PUSH(c, n, cap, ((struct df_contrib){ m->except[j], (uint32_t)i, true }));
	}
	for (size_t i = 0; i < p->n_excs && !err; i++) {
		const struct df_match *m = &p->excs[i].m;

		for (size_t j = 0; j < m->n_cidrs && !err; j++)
			err = DF_PUSH(c, n, cap,
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

/* ---- classification selectors ---------------------------------------------- */

struct src_ctx {
	struct df_image *img;
	size_t cap_keys, cap_classes;
};

/* The source trie's key: the family byte, then the address (one trie holds
 * both families; the prefix length counts the family's 8 bits). The merge
 * sorts IPv4 before IPv6. */
static int src_cb(const struct df_cidr *key, const uint32_t *ids, size_t n, void *ctx)
{
	struct src_ctx *x = ctx;
	struct df_image *img = x->img;
	struct df_src_key k = { .prefixlen = 8u + key->plen, .family = key->family };
	__u64 classes = 0;
	int err;

	for (size_t i = 0; i < n; i++)
		classes |= 1ULL << ids[i];
	memcpy(k.addr, key->addr, df_addr_bytes(key->family));
	size_t n_classes = img->n_src;

	err = DF_PUSH(img->src_keys, img->n_src, x->cap_keys, k);
	if (!err)
		err = DF_PUSH(img->src_classes, n_classes, x->cap_classes, classes);
	if (!err && key->family == 4)
		img->n_src4++;
	else if (!err)
		img->n_src6++;
	return err;
}

/* One uid key per uid, its classes merged, sorted by uid. */
struct uid_sel {
	uint32_t uid;
	uint64_t classes;
};

static int uid_cmp(const void *a, const void *b)
{
	const struct uid_sel *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int uid_keys(struct df_image *img, struct uid_sel *u, size_t n)
{
	size_t w = 0;

	if (n)
		qsort(u, n, sizeof(*u), uid_cmp);
	for (size_t i = 0; i < n; i++) {
		if (w && u[w - 1].uid == u[i].uid)
			u[w - 1].classes |= u[i].classes;
		else
			u[w++] = u[i];
	}
	img->uid_keys = calloc(w ? w : 1, sizeof(*img->uid_keys));
	img->uid_classes = calloc(w ? w : 1, sizeof(*img->uid_classes));
	if (!img->uid_keys || !img->uid_classes)
		return -ENOMEM;
	for (size_t i = 0; i < w; i++) {
		img->uid_keys[i] = (struct df_sel_key){ .kind = DF_SEL_UID, .uid = u[i].uid };
		img->uid_classes[i] = u[i].classes;
	}
	img->n_uids = w;
	return 0;
}

/* The deepest level of a cgroup path ("/" is 0, "/a" is 1). */
static uint32_t cgroup_level(const char *path)
{
	uint32_t level = 0;

	for (const char *p = path; *p; p++)
		level += *p == '/' && p[1];
	return level;
}

static int compile_selectors(const struct df_policy *p, struct df_image *img,
			     struct df_diags *diags)
{
	struct src_ctx sx = { .img = img };
	struct df_contrib *c = NULL;
	struct uid_sel *uids = NULL;
	size_t n = 0, cap = 0, n_uids = 0, cap_uids = 0, cap_cg = 0;
	uint16_t n_marks = 0, n_lports = 0;
	int err = 0;

	for (size_t i = 0; i < p->n_classes && !err; i++) {
		const struct df_class *cl = &p->classes[i];
		uint64_t bit = 1ULL << i;

		if (cl->all)
			img->cfg.hdr.all_mask |= bit;
		if (cl->mode == DF_MODE_ENFORCE)
			img->cfg.hdr.enforce_mask |= bit;
		for (size_t j = 0; j < cl->n_laddrs && !err; j++)
			err = DF_PUSH(c, n, cap, ((struct df_contrib){ cl->laddrs[j], (uint32_t)i, false }));
		for (size_t j = 0; j < cl->n_uids && !err; j++)
			err = DF_PUSH(uids, n_uids, cap_uids, ((struct uid_sel){ cl->uids[j], bit }));
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

			if (cgroup_level(cl->cgroups[j]) > img->cfg.max_cg_level)
				img->cfg.max_cg_level = cgroup_level(cl->cgroups[j]);
			err = path ? DF_PUSH(img->cgroups, img->n_cgroups, cap_cg,
					  ((struct df_cgroup_sel){ path, bit })) :
				     -ENOMEM;
			if (err)
				free(path);
		}
		for (size_t j = 0; j < cl->n_marks && !err; j++) {
			uint16_t k;

			for (k = 0; k < n_marks; k++)
				if (img->cfg.marks[k].value == cl->marks[j].value &&
				    img->cfg.marks[k].mask == cl->marks[j].mask)
					break;
			if (k == n_marks && n_marks == DF_MAX_MARK_RULES) {
				err = -E2BIG;
				df_diag_add(diags, DF_SEV_ERROR, p->file, cl->line, NULL,
					    "policy exceeds map capacity: more than %d distinct mark selectors",
					    DF_MAX_MARK_RULES);
				break;
			}
			if (k == n_marks)
				img->cfg.marks[n_marks++] = (struct df_mark_rule){
					.value = cl->marks[j].value, .mask = cl->marks[j].mask
				};
			img->cfg.marks[k].classes |= bit;
		}
		for (size_t j = 0; j < cl->n_lports && !err; j++) {
			uint16_t k;

			for (k = 0; k < n_lports; k++)
				if (img->cfg.lports[k].lo == cl->lports[j].lo &&
				    img->cfg.lports[k].hi == cl->lports[j].hi)
					break;
			if (k == n_lports && n_lports == DF_MAX_LPORT_RULES) {
				err = -E2BIG;
				df_diag_add(diags, DF_SEV_ERROR, p->file, cl->line, NULL,
					    "policy exceeds map capacity: more than %d distinct local port ranges",
					    DF_MAX_LPORT_RULES);
				break;
			}
			if (k == n_lports)
				img->cfg.lports[n_lports++] = (struct df_lport_rule){
					.lo = cl->lports[j].lo, .hi = cl->lports[j].hi
				};
			img->cfg.lports[k].classes |= bit;
		}
	}
	img->cfg.hdr.n_marks = n_marks;
	img->cfg.hdr.n_lports = n_lports;
	if (!err)
		err = df_prefix_merge(c, n, DF_MAX_CLASSES, src_cb, &sx);
	if (!err)
		err = uid_keys(img, uids, n_uids);
	free(c);
	free(uids);
	if (!err && img->n_src)
		img->cfg.flags |= DF_CFG_HAS_SRC;
	if (!err && (img->n_uids || img->n_cgroups))
		img->cfg.flags |= DF_CFG_HAS_SEL;
	return err;
}

/* The line of the first IPv6 prefix of a destination or exception (0: none). */
static int first_v6_line(const struct df_policy *p)
{
	int line;

	for (size_t i = 0; i < p->n_dests + p->n_excs; i++) {
		const struct df_match *m = df_rule_match(p, i, &line);

		for (size_t k = 0; k < m->n_cidrs; k++)
			if (m->cidrs[k].family == 6)
				return line;
	}
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
		/* the line of the first one beyond the limit */
		int line = p->n_dests > DF_MAX_RULES ? p->dests[DF_MAX_RULES].line :
						       p->excs[DF_MAX_RULES - p->n_dests].line;

		df_diag_add(diags, DF_SEV_ERROR, p->file, line, NULL,
			    "policy exceeds map capacity: %zu destinations and exceptions, at most %d (the first beyond it here)",
			    p->n_dests + p->n_excs, DF_MAX_RULES);
		err = -E2BIG;
		goto cleanup;
	}
	img->cfg.hdr.serial = p->serial;
	img->cfg.hdr.flags = (p->allow_loopback ? DF_POL_ALLOW_LOOPBACK : 0) |
			     (p->drop_stale ? DF_POL_DROP_STALE : 0);
	img->cfg.hdr.expires = p->expires;
	img->cfg.hdr.stale_after = p->stale_after;
	img->cfg.hdr.canary_mask = p->canary;
	img->cfg.hdr.cache_until = p->drop_stale && p->expires > 0 ? (__u64)p->expires : ~0ULL;
	err = compile_selectors(p, img, diags);
	if (!err)
		err = compile_dsts(p, img, diags);
	if (!err)
		err = df_tables_build(img);
	if (err == -E2BIG && !diags->errors)
		df_diag_add(diags, DF_SEV_ERROR, p->file, first_v6_line(p), NULL,
			    "policy exceeds map capacity: IPv6 range tree deeper than %d levels (the IPv6 prefixes of the destinations from here on)",
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
	free(img->src_keys);
	free(img->src_classes);
	free(img->uid_keys);
	free(img->uid_classes);
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
		(unsigned long long)img->cfg.hdr.serial, (unsigned long long)img->cfg.hdr.enforce_mask,
		(unsigned long long)img->cfg.hdr.all_mask, img->cfg.hdr.flags, img->cfg.hdr.n_marks,
		img->cfg.hdr.n_lports);
	if (img->cfg.hdr.expires || img->cfg.hdr.stale_after)
		fprintf(out, "posture expires=%lld stale_after=%u\n", (long long)img->cfg.hdr.expires,
			img->cfg.hdr.stale_after);
	for (size_t i = 0; i < img->n_cgroups; i++)
		fprintf(out, "cgroup %s -> %#llx\n", img->cgroups[i].path,
			(unsigned long long)img->cgroups[i].classes);
	for (size_t i = 0; i < img->n_uids; i++)
		fprintf(out, "uid %u -> %#llx\n", img->uid_keys[i].uid,
			(unsigned long long)img->uid_classes[i]);
	for (size_t i = 0; i < img->cfg.hdr.n_marks; i++)
		fprintf(out, "mark %#x/%#x -> %#llx\n", img->cfg.marks[i].value, img->cfg.marks[i].mask,
			(unsigned long long)img->cfg.marks[i].classes);
	for (size_t i = 0; i < img->cfg.hdr.n_lports; i++)
		fprintf(out, "lport %u-%u -> %#llx\n", img->cfg.lports[i].lo, img->cfg.lports[i].hi,
			(unsigned long long)img->cfg.lports[i].classes);
	for (size_t i = 0; i < img->n_src; i++) {
		const struct df_src_key *k = &img->src_keys[i];

		fprintf(out, "src ");
		dump_key(out, k->family, k->addr, k->prefixlen - 8);
		fprintf(out, " -> %#llx\n", (unsigned long long)img->src_classes[i]);
	}
	for (size_t i = 0; i < img->n_dst4; i++) {
		fprintf(out, "dst ");
		dump_key(out, 4, img->dst4[i].pfx.addr, img->dst4[i].pfx.plen);
		dump_leaf(out, &img->dst4[i].leaf);
	}
	fprintf(out, "stride4 slots=%zu chunks=%zu leaves=%zu\n", img->n_stride4,
		(img->n_stride4 - DF_STRIDE_ROOT) / DF_STRIDE_CHUNK, img->n_dleaves);
	fprintf(out, "rng6 ranges=%zu nodes=%zu levels=%u dir_bits=%u\n", img->n_ranges6,
		img->n_rng6, img->cfg.rng_levels, img->cfg.rng_dir_bits);
	for (size_t i = 0; i < img->n_dst6; i++) {
		fprintf(out, "dst ");
		dump_key(out, 6, img->dst6[i].pfx.addr, img->dst6[i].pfx.plen);
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
