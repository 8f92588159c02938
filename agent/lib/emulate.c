// SPDX-License-Identifier: GPL-2.0-only
/* The emulator: a verdict from the compiled map images, computed the way the
 * BPF program computes it (one longest-prefix lookup, one bounded scan of the
 * leaf's entries, bit arithmetic on class masks). */
#include "emulate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "tables.h"
#include "values.h"

/* The source-address trie (df_src_o) in user space: its keys (the family
 * byte, then the address) sorted by prefix length, longest first, then by
 * bytes; a lookup binary-searches each length present. */
#define SRC_BYTES 17
#define SRC_BITS (SRC_BYTES * 8)

struct lpm_key {
	uint8_t b[SRC_BYTES];
	uint32_t value; /* index into the image's source keys */
};

struct lpm {
	struct lpm_key *keys;
	int n_lens;
	uint16_t lens[SRC_BITS + 1];
	size_t start[SRC_BITS + 2];
};

struct df_emu {
	const struct df_image *img;
	struct lpm src;
};

static int lpm_key_cmp(const void *a, const void *b)
{
	return memcmp(((const struct lpm_key *)a)->b, ((const struct lpm_key *)b)->b, SRC_BYTES);
}

static void mask_bits(uint8_t *b, unsigned int plen)
{
	for (unsigned int i = 0; i < SRC_BYTES; i++) {
		if (plen >= 8 * (i + 1))
			continue;
		b[i] &= plen > 8 * i ? (uint8_t)(0xff << (8 * (i + 1) - plen)) : 0;
	}
}

static void key_bytes(uint8_t family, const uint8_t *addr, uint8_t *b)
{
	memset(b, 0, SRC_BYTES);
	b[0] = family;
	memcpy(b + 1, addr, (size_t)df_addr_bytes(family));
}

static int lpm_build(struct lpm *l, const struct df_image *img)
{
	size_t count[SRC_BITS + 1] = { 0 }, pos[SRC_BITS + 1], off = 0;

	l->keys = calloc(img->n_src ? img->n_src : 1, sizeof(*l->keys));
	if (!l->keys)
		return -ENOMEM;
	for (size_t i = 0; i < img->n_src; i++)
		count[img->src_keys[i].prefixlen <= SRC_BITS ? img->src_keys[i].prefixlen : 0]++;
	l->n_lens = 0;
	for (int len = SRC_BITS; len >= 0; len--) {
		pos[len] = off;
		if (!count[len])
			continue;
		l->lens[l->n_lens] = (uint16_t)len;
		l->start[l->n_lens++] = off;
		off += count[len];
	}
	l->start[l->n_lens] = off;
	for (size_t i = 0; i < img->n_src; i++) {
		const struct df_src_key *sk = &img->src_keys[i];
		unsigned int plen = sk->prefixlen <= SRC_BITS ? sk->prefixlen : 0;
		struct lpm_key *k = &l->keys[pos[plen]++];

		key_bytes(sk->family, sk->addr, k->b);
		mask_bits(k->b, plen);
		k->value = (uint32_t)i;
	}
	for (int i = 0; i < l->n_lens; i++)
		qsort(&l->keys[l->start[i]], l->start[i + 1] - l->start[i], sizeof(*l->keys),
		      lpm_key_cmp);
	return 0;
}

/* The value index of the longest prefix containing the address, or -1. */
static long lpm_lookup(const struct lpm *l, uint8_t family, const uint8_t *addr)
{
	for (int i = 0; i < l->n_lens; i++) {
		struct lpm_key key, *hit;

		key_bytes(family, addr, key.b);
		mask_bits(key.b, l->lens[i]);
		hit = bsearch(&key, &l->keys[l->start[i]], l->start[i + 1] - l->start[i],
			      sizeof(*l->keys), lpm_key_cmp);
		if (hit)
			return hit->value;
	}
	return -1;
}

struct df_emu *df_emu_new(const struct df_image *img)
{
	struct df_emu *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->img = img;
	if (lpm_build(&e->src, img)) {
		df_emu_free(e);
		return NULL;
	}
	return e;
}

void df_emu_free(struct df_emu *e)
{
	if (!e)
		return;
	free(e->src.keys);
	free(e);
}

/* The kernel walks the socket's cgroup ancestors (bpf_skb_ancestor_cgroup_id)
 * and looks each id up; here the ids are the ancestor paths. */
static uint64_t cgroup_classes(const struct df_image *img, const char *path)
{
	uint64_t mask = 0;
	size_t len = strlen(path);

	for (size_t i = 0; i < img->n_cgroups; i++) {
		const char *sel = img->cgroups[i].path;
		size_t n = strlen(sel);

		if (n == 1 || (n <= len && !strncmp(path, sel, n) &&
			       (path[n] == '\0' || path[n] == '/')))
			mask |= img->cgroups[i].classes;
	}
	return mask;
}

uint64_t df_emu_classify(const struct df_emu *e, const struct df_packet *pkt)
{
	const struct df_image *img = e->img;
	struct df_cidr src = pkt->src;
	uint64_t mask = img->cfg.hdr.all_mask;
	long v;

	if (pkt->cgroup)
		mask |= cgroup_classes(img, pkt->cgroup);
	if (pkt->uid != DF_UID_NONE) {
		size_t lo = 0, hi = img->n_uids;

		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

			if (img->uid_keys[mid].uid < pkt->uid)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < img->n_uids && img->uid_keys[lo].uid == pkt->uid)
			mask |= img->uid_classes[lo];
	}
	for (unsigned int i = 0; i < img->cfg.hdr.n_marks && i < DF_MAX_MARK_RULES; i++)
		if ((pkt->mark & img->cfg.marks[i].mask) == img->cfg.marks[i].value)
			mask |= img->cfg.marks[i].classes;
	for (unsigned int i = 0; i < img->cfg.hdr.n_lports && i < DF_MAX_LPORT_RULES; i++)
		if (pkt->sport >= img->cfg.lports[i].lo && pkt->sport <= img->cfg.lports[i].hi)
			mask |= img->cfg.lports[i].classes;
	df_addr_unmap(&src);
	v = lpm_lookup(&e->src, src.family, src.addr);
	if (v >= 0)
		mask |= img->src_classes[v];
	return mask;
}

/* Ports constrain tcp, udp and sctp; without ports only an any-port rule
 * can match. */
static bool port_match(const struct df_entry *x, bool ported, bool no_ports, uint16_t dport)
{
	if (!ported || (x->port_lo == 0 && x->port_hi == 0xffff))
		return true;
	return !no_ports && dport >= x->port_lo && dport <= x->port_hi;
}

/* IPv4: the stride table, one to three slots, as the kernel reads it. */
static const struct df_leaf *stride4_lookup(const struct df_image *img, const uint8_t *addr)
{
	uint32_t a = (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 | (uint32_t)addr[2] << 8 |
		     addr[3];
	uint32_t v = img->stride4[a >> 16];

	if (v & DF_STRIDE_CHILD)
		v = img->stride4[DF_STRIDE_ROOT + (v & ~DF_STRIDE_CHILD) * DF_STRIDE_CHUNK + ((a >> 8) & 0xff)];
	if (v & DF_STRIDE_CHILD)
		v = img->stride4[DF_STRIDE_ROOT + (v & ~DF_STRIDE_CHILD) * DF_STRIDE_CHUNK + (a & 0xff)];
	return v ? &img->dleaves[v - 1] : NULL;
}

/* IPv6: the directory, then down the range tree, as the kernel reads them. */
static const struct df_leaf *rng6_lookup(const struct df_image *img, const uint8_t *addr)
{
	uint64_t hi = 0, lo = 0;
	uint32_t val;

	for (int i = 0; i < 8; i++) {
		hi = hi << 8 | addr[i];
		lo = lo << 8 | addr[8 + i];
	}
	val = df_rng6_lookup(img, hi, lo);
	return val ? &img->dleaves[val - 1] : NULL;
}

static uint64_t lowest_bit(uint64_t m)
{
	return m & (~m + 1);
}

/* What one scan of a leaf's entries says, per class (the BPF program's
 * df_scan_cb). */
struct scan {
	uint64_t now;
	uint8_t pbit;
	bool ported, no_ports;
	uint16_t dport;
	uint64_t sat_dest, sat_exc, inactive, proto_ok, class_ok, unknown;
};

static void scan_leaf(const struct df_image *img, const struct df_leaf *leaf, struct scan *s)
{
	for (unsigned int i = 0; leaf && i < leaf->count && i < DF_MAX_LEAF_ENTRIES; i++) {
		const struct df_entry *x = &img->entries[leaf->first + i];
		bool proto = x->protos & s->pbit;
		bool port = port_match(x, s->ported, s->no_ports, s->dport);

		/* A fragment without ports, judged by a port-limited rule. */
		if (proto && s->ported && s->no_ports && !(x->port_lo == 0 && x->port_hi == 0xffff))
			s->unknown |= x->classes;
		if (x->kind == DF_RULE_DEST) {
			s->class_ok |= x->classes;
			if (proto)
				s->proto_ok |= x->classes;
			if (proto && port)
				s->sat_dest |= x->classes;
		} else if (proto && port) {
			if (x->not_before <= s->now && s->now < x->expires)
				s->sat_exc |= x->classes;
			else
				s->inactive |= x->classes;
		}
	}
}

/* Which entry names the rule. */
enum role { ROLE_DEST_SATISFIES, ROLE_EXC_ACTIVE, ROLE_EXC_INACTIVE, ROLE_DEST_PROTO, ROLE_DEST };

/* Second pass, only for the rule to report: the first entry (policy
 * order) that plays the deciding role for class c; -1 if none. */
static int deciding_rule(const struct df_image *img, const struct df_leaf *leaf,
			 const struct scan *s, uint64_t c, enum role want)
{
	for (unsigned int i = 0; leaf && i < leaf->count && i < DF_MAX_LEAF_ENTRIES; i++) {
		const struct df_entry *x = &img->entries[leaf->first + i];
		bool proto = x->protos & s->pbit;
		bool port = port_match(x, s->ported, s->no_ports, s->dport);
		bool active = x->not_before <= s->now && s->now < x->expires;
		bool hit;

		if (!(x->classes & c))
			continue;
		switch (want) {
		case ROLE_DEST_SATISFIES: hit = x->kind == DF_RULE_DEST && proto && port; break;
		case ROLE_EXC_ACTIVE: hit = x->kind == DF_RULE_EXCEPTION && proto && port && active; break;
		case ROLE_EXC_INACTIVE: hit = x->kind == DF_RULE_EXCEPTION && proto && port && !active; break;
		case ROLE_DEST_PROTO: hit = x->kind == DF_RULE_DEST && proto; break;
		default: hit = x->kind == DF_RULE_DEST; break;
		}
		if (hit)
			return x->rule;
	}
	return -1;
}

/* Steps 5 and 6 from the scan: the verdict, its reason, the deciding class
 * c and the role of the entry that names the rule (false: no rule). */
static bool decide(const struct df_image *img, const struct df_leaf *leaf, const struct scan *s,
		   uint64_t classes, struct df_result *res, uint64_t *c, enum role *want)
{
	uint64_t unsat = classes & ~(s->sat_dest | s->sat_exc), enforce;

	if (!unsat) {
		/* 5. Every class satisfied. */
		*want = classes & ~s->sat_dest ? ROLE_EXC_ACTIVE : ROLE_DEST_SATISFIES;
		res->reason = *want == ROLE_EXC_ACTIVE ? DF_R_EXCEPTION : DF_R_DESTINATION;
		*c = lowest_bit(*want == ROLE_EXC_ACTIVE ? classes & ~s->sat_dest : classes);
		return true;
	}
	/* 6. The first unsatisfied class of the deciding mode. */
	enforce = unsat & img->cfg.hdr.enforce_mask;
	res->verdict = enforce ? DF_DROP : DF_WOULD_DROP;
	*c = lowest_bit(enforce ? enforce : unsat);
	res->slot = __builtin_ctzll(*c);
	if (s->unknown & *c) {
		res->reason = DF_R_MALFORMED; /* its port decides, and is unknown */
		return false;
	} else if (s->inactive & *c) {
		res->reason = DF_R_EXCEPTION_INACTIVE;
		*want = ROLE_EXC_INACTIVE;
	} else if (s->proto_ok & *c) {
		res->reason = DF_R_PORT_NOT_ALLOWED;
		*want = ROLE_DEST_PROTO;
	} else if (s->class_ok & *c) {
		res->reason = DF_R_PROTOCOL_NOT_ALLOWED;
		*want = ROLE_DEST;
	} else {
		res->reason = leaf && (leaf->flags & DF_LEAF_ANY_DEST) ? DF_R_CLASS_NOT_ALLOWED :
									 DF_R_NO_DESTINATION;
		return false;
	}
	return true;
}

void df_emu_verdict(const struct df_emu *e, const struct df_packet *pkt,
		    uint64_t classes, int64_t now_s, struct df_result *res)
{
	const struct df_image *img = e->img;
	struct df_cidr dst = pkt->dst;
	const struct df_leaf *leaf;
	struct scan s = {
		.now = now_s < 0 ? 0 : (uint64_t)now_s,
		.pbit = df_proto_bit(pkt->proto),
		.no_ports = pkt->flags & DF_PKT_NO_PORTS,
		.dport = pkt->dport,
	};
	enum role want;
	uint64_t c;

	s.ported = s.pbit & DF_P_PORTED;
	memset(res, 0, sizeof(*res));
	res->classes = classes;
	res->slot = classes ? __builtin_ctzll(classes) : DF_MAX_CLASSES;
	res->rule = -1;
	/* 1. IPv4-mapped is IPv4; 2. loopback; 3. no class. */
	df_addr_unmap(&dst);
	if ((img->cfg.hdr.flags & DF_POL_ALLOW_LOOPBACK) && !(pkt->flags & DF_PKT_NOT_LO) &&
	    df_addr_is_loopback(&dst)) {
		res->reason = DF_R_LOOPBACK;
		return;
	}
	if (!classes) {
		res->reason = DF_R_UNCLASSIFIED;
		return;
	}
	/* 3a. The dead-man posture. */
	if ((img->cfg.hdr.flags & DF_POL_DROP_STALE) &&
	    ((img->cfg.hdr.expires && now_s >= img->cfg.hdr.expires) || (pkt->flags & DF_PKT_STALE))) {
		c = classes & img->cfg.hdr.enforce_mask;
		res->verdict = c ? DF_DROP : DF_WOULD_DROP;
		res->slot = __builtin_ctzll(c ? c : classes);
		res->reason = img->cfg.hdr.expires && now_s >= img->cfg.hdr.expires ?
				      DF_R_POLICY_EXPIRED : DF_R_AGENT_STALE;
		return;
	}
	if (pkt->flags & DF_PKT_MALFORMED) { /* fail closed */
		res->verdict = classes & img->cfg.hdr.enforce_mask ? DF_DROP : DF_WOULD_DROP;
		res->reason = DF_R_MALFORMED;
		if (classes & img->cfg.hdr.enforce_mask)
			res->slot = __builtin_ctzll(classes & img->cfg.hdr.enforce_mask);
		return;
	}
	/* 4. One lookup, one scan: which classes each kind of rule satisfies. */
	leaf = dst.family == 4 ? stride4_lookup(img, dst.addr) : rng6_lookup(img, dst.addr);
	scan_leaf(img, leaf, &s);
	if (decide(img, leaf, &s, classes, res, &c, &want))
		res->rule = deciding_rule(img, leaf, &s, c, want);
}
