// SPDX-License-Identifier: GPL-2.0-only
/* Random policy and packet generator (see polgen.h). */
#include "polgen.h"
#include "values.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t df_rng_next(struct df_rng *r)
{
	/* splitmix64: tiny, good enough, reproducible from the seed */
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint32_t df_rng_below(struct df_rng *r, uint32_t n)
{
	return n ? (uint32_t)(df_rng_next(r) % n) : 0;
}

struct buf {
	char *s;
	size_t n, cap;
};

__attribute__((format(printf, 2, 3)))
static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->s + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (k >= 0 && (size_t)k < b->cap - b->n)
			break;
		b->cap = b->cap * 2 + (size_t)k + 64;
		b->s = realloc(b->s, b->cap);
		if (!b->s)
			abort();
	}
	b->n += (size_t)k;
}

const char *const df_polgen_cgroups[] = { "/svc", "/svc/a", "/svc/a/b", "/data.slice",
					  "/data.slice/x.service", "/other" };
#define cgroup_pool df_polgen_cgroups
#define N_CGROUP_POOL (sizeof(df_polgen_cgroups) / sizeof(df_polgen_cgroups[0]))
const unsigned int df_polgen_n_cgroups = N_CGROUP_POOL;

/* Bases that prefixes of any length are cut from, so they nest and overlap. */
static const uint8_t v4_bases[][4] = { { 10, 0, 0, 0 }, { 10, 1, 2, 3 }, { 10, 1, 128, 0 },
				       { 192, 0, 2, 77 }, { 203, 0, 113, 7 } };
static const uint8_t v6_bases[][16] = {
	{ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
	{ 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34 },
	{ 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ 0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7 },
};

static void rand_bits(struct df_rng *r, uint8_t *addr, int from_bit, int nbytes)
{
	/* Randomise bits past from_bit, mostly keeping them so hosts cluster. */
	for (int i = from_bit; i < nbytes * 8; i++)
		if (df_rng_below(r, 4) == 0)
			addr[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
}

static struct df_cidr rand_cidr(struct df_rng *r)
{
	struct df_cidr c = { 0 };

	if (df_rng_below(r, 3)) {
		c.family = 4;
		memcpy(c.addr, v4_bases[df_rng_below(r, 5)], 4);
		rand_bits(r, c.addr, 8, 4);
		c.plen = (uint8_t)df_rng_below(r, 33);
		/* favour the interesting middle lengths */
		if (c.plen < 4 && df_rng_below(r, 2))
			c.plen = (uint8_t)(8 + df_rng_below(r, 25));
	} else {
		c.family = 6;
		memcpy(c.addr, v6_bases[df_rng_below(r, 4)], 16);
		rand_bits(r, c.addr, 32, 16);
		c.plen = (uint8_t)df_rng_below(r, 129);
		if (c.plen < 8 && df_rng_below(r, 2))
			c.plen = (uint8_t)(16 + df_rng_below(r, 113));
	}
	df_cidr_mask(&c);
	return c;
}

static void put_cidr(struct buf *b, const struct df_cidr *c)
{
	char s[DF_ADDRSTRLEN];

	df_cidr_format(c, true, s, sizeof(s));
	put(b, "\"%s\"", s);
}

static void put_ports(struct df_rng *r, struct buf *b, const char *key)
{
	static const uint16_t pool[] = { 22, 53, 443, 9000, 9100, 65535, 1 };
	int n = 1 + (int)df_rng_below(r, 3);

	put(b, " %s = (", key);
	for (int i = 0; i < n; i++) {
		uint16_t lo = pool[df_rng_below(r, 7)];

		if (df_rng_below(r, 2) && lo < 65000)
			put(b, "%s\"%u-%u\"", i ? ", " : "", lo, lo + df_rng_below(r, 200));
		else
			put(b, "%s%u", i ? ", " : "", lo);
	}
	put(b, ");");
}

/* protocols and ports keys: any of the legal shapes. */
static void put_proto_ports(struct df_rng *r, struct buf *b)
{
	static const char *const names[] = { "tcp", "udp", "sctp", "icmp", "icmpv6" };
	bool ports = df_rng_below(r, 2);
	unsigned int mask = 0;

	if (df_rng_below(r, 3)) {
		mask = 1 + df_rng_below(r, 31);
		if (ports && !(mask & 7))
			mask |= 1u << df_rng_below(r, 3);
		put(b, " protocols = [");
		for (int i = 0, first = 1; i < 5; i++)
			if (mask & (1u << i)) {
				put(b, "%s\"%s\"", first ? "" : ", ", names[i]);
				first = 0;
			}
		put(b, "];");
	}
	if (ports)
		put_ports(r, b, "ports");
}

static void put_time(struct buf *b, const char *key, int64_t t)
{
	char s[40];

	df_time_format(t, s, sizeof(s));
	put(b, " %s = \"%s\";", key, s);
}

char *df_polgen_policy(uint64_t seed)
{
	return df_polgen_policy_in(seed, "");
}

static void put_selectors(struct df_rng *r, struct buf *b, const char *prefix)
{
	int sel = 0;

	while (!sel) {
		if (df_rng_below(r, 3) == 0) {
			put(b, " cgroups = [\"%s%s\"];", prefix, cgroup_pool[df_rng_below(r, N_CGROUP_POOL)]);
			sel++;
		}
		if (df_rng_below(r, 3) == 0) {
			put(b, " uids = (%u, %u);", 1000 + df_rng_below(r, 6), 1000 + df_rng_below(r, 6));
			sel++;
		}
		if (df_rng_below(r, 4) == 0) {
			put(b, " marks = [\"0x%x/0xf0\"];", df_rng_below(r, 4) << 4);
			sel++;
		}
		if (df_rng_below(r, 4) == 0) {
			put_ports(r, b, "local_ports");
			sel++;
		}
		if (df_rng_below(r, 4) == 0) {
			struct df_cidr c = rand_cidr(r);

			put(b, " local_addrs = [");
			put_cidr(b, &c);
			put(b, "];");
			sel++;
		}
		if (df_rng_below(r, 20) == 0) {
			put(b, " all = true;");
			sel++;
		}
	}
}

static void put_classes(struct df_rng *r, struct buf *b, int n_classes, const char *prefix)
{
	put(b, "classes = (\n");
	for (int i = 0; i < n_classes; i++) {
		put(b, "  { name = \"c%d\";", i);
		if (df_rng_below(r, 3) == 0)
			put(b, " mode = \"%s\";", df_rng_below(r, 2) ? "audit" : "enforce");
		put(b, " match = {");
		put_selectors(r, b, prefix);
		put(b, " }; }%s\n", i + 1 < n_classes ? "," : "");
	}
	put(b, ");\n");
}

/* Holes inside one of the cidrs, or anywhere. */
static void put_except(struct df_rng *r, struct buf *b, const struct df_cidr *cidrs, int nc)
{
	int ne = 1 + (int)df_rng_below(r, 2);

	put(b, " except = [");
	for (int j = 0; j < ne; j++) {
		struct df_cidr e = cidrs[df_rng_below(r, (uint32_t)nc)];
		int max = df_addr_bytes(e.family) * 8;

		if (e.plen < max) {
			int from = e.plen;

			e.plen = (uint8_t)(e.plen + 1 + df_rng_below(r, (uint32_t)(max - e.plen)));
			rand_bits(r, e.addr, from, df_addr_bytes(e.family));
		}
		if (df_rng_below(r, 4) == 0)
			e = rand_cidr(r);
		df_cidr_mask(&e);
		if (j)
			put(b, ", ");
		put_cidr(b, &e);
	}
	put(b, "];");
}

static void put_dests(struct df_rng *r, struct buf *b, int n_dests, int n_classes)
{
	put(b, "destinations = (\n");
	for (int i = 0; i < n_dests; i++) {
		int nc = 1 + (int)df_rng_below(r, 3);
		struct df_cidr cidrs[3];

		put(b, "  { name = \"d%d\"; cidrs = [", i);
		for (int j = 0; j < nc; j++) {
			cidrs[j] = rand_cidr(r);
			if (j)
				put(b, ", ");
			put_cidr(b, &cidrs[j]);
		}
		put(b, "];");
		if (df_rng_below(r, 2))
			put_except(r, b, cidrs, nc);
		put_proto_ports(r, b);
		put(b, " allow = [");
		for (int c = 0, first = 1; c < n_classes; c++)
			if (df_rng_below(r, 2)) {
				put(b, "%s\"c%d\"", first ? "" : ", ", c);
				first = 0;
			}
		put(b, "]; }%s\n", i + 1 < n_dests ? "," : "");
	}
	put(b, ");\n");
}

/* Windows within two hours of DF_POLGEN_NOW. */
static void put_exceptions(struct df_rng *r, struct buf *b, int n_excs, int n_classes)
{
	put(b, "exceptions = (\n");
	for (int i = 0; i < n_excs; i++) {
		int64_t nb = DF_POLGEN_NOW + (int64_t)df_rng_below(r, 7200) - 3600;
		struct df_cidr c = rand_cidr(r);

		put(b, "  { id = \"SEC-%d\"; approved_by = \"sec\"; reason = \"test\"; class = \"c%u\"; cidrs = [",
		    i, df_rng_below(r, (uint32_t)n_classes));
		put_cidr(b, &c);
		put(b, "];");
		put_proto_ports(r, b);
		if (df_rng_below(r, 4))
			put_time(b, "not_before", nb);
		put_time(b, "expires", nb + 1 + df_rng_below(r, 7200));
		put(b, " }%s\n", i + 1 < n_excs ? "," : "");
	}
	put(b, ");\n");
}

char *df_polgen_policy_in(uint64_t seed, const char *prefix)
{
	struct df_rng r = { seed };
	struct buf b = { 0 };
	int n_classes = 1 + (int)df_rng_below(&r, 6);
	int n_dests = (int)df_rng_below(&r, 9);
	int n_excs = (int)df_rng_below(&r, 5);

	b.cap = 4096;
	b.s = malloc(b.cap);
	if (!b.s)
		abort();
	b.s[0] = '\0';
	put(&b, "policy = { name = \"gen-%llu\"; serial = %u; mode = \"%s\"; allow_loopback = %s; };\n",
	    (unsigned long long)seed, 1 + df_rng_below(&r, 1000),
	    df_rng_below(&r, 4) ? "enforce" : "audit", df_rng_below(&r, 5) ? "true" : "false");
	put_classes(&r, &b, n_classes, prefix);
	put_dests(&r, &b, n_dests, n_classes);
	put_exceptions(&r, &b, n_excs, n_classes);
	return b.s;
}

/* An address inside c (or near it: one bit past the prefix flipped). */
static struct df_cidr addr_in(struct df_rng *r, const struct df_cidr *c)
{
	struct df_cidr a = *c;
	int max = df_addr_bytes(c->family) * 8;

	for (int i = c->plen; i < max; i++)
		if (df_rng_below(r, 2))
			a.addr[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
	if (c->plen > 0 && df_rng_below(r, 8) == 0) {
		int bit = c->plen - 1 - (int)df_rng_below(r, (uint32_t)(c->plen < 4 ? c->plen : 4));

		a.addr[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
	}
	a.plen = (uint8_t)max;
	return a;
}

static void pick_cidr(struct df_rng *r, const struct df_policy *p, struct df_cidr *out)
{
	for (int tries = 0; tries < 4; tries++) {
		uint32_t k = df_rng_below(r, 3);

		if (k == 0 && p->n_dests) {
			const struct df_dest *d = &p->dests[df_rng_below(r, (uint32_t)p->n_dests)];

			if (d->m.n_except && df_rng_below(r, 2)) {
				*out = addr_in(r, &d->m.except[df_rng_below(r, (uint32_t)d->m.n_except)]);
				return;
			}
			*out = addr_in(r, &d->m.cidrs[df_rng_below(r, (uint32_t)d->m.n_cidrs)]);
			return;
		}
		if (k == 1 && p->n_excs) {
			const struct df_exception *e = &p->excs[df_rng_below(r, (uint32_t)p->n_excs)];

			*out = addr_in(r, &e->m.cidrs[df_rng_below(r, (uint32_t)e->m.n_cidrs)]);
			return;
		}
	}
	struct df_cidr c = rand_cidr(r);

	*out = addr_in(r, &c);
}

static uint16_t pick_port(struct df_rng *r)
{
	static const uint16_t pool[] = { 22, 53, 443, 9000, 9100, 65535, 1, 80 };
	uint16_t base = pool[df_rng_below(r, 8)];

	switch (df_rng_below(r, 4)) {
	case 0: return (uint16_t)(base + df_rng_below(r, 201));
	case 1: return (uint16_t)(base - 1);
	case 2: return (uint16_t)df_rng_below(r, 65536);
	default: return base;
	}
}

void df_polgen_packet(struct df_rng *r, const struct df_policy *p, struct df_packet *pkt,
		      int64_t *now)
{
	static const uint8_t protos[] = { 6, 17, 132, 1, 58, 47, 6, 17 };

	memset(pkt, 0, sizeof(*pkt));
	pick_cidr(r, p, &pkt->dst);
	switch (df_rng_below(r, 20)) {
	case 0: /* loopback */
		df_addr_parse(df_rng_below(r, 2) ? "127.0.0.1" : "::1", &pkt->dst);
		break;
	case 1: /* IPv4-mapped IPv6 */
	case 2:
		if (pkt->dst.family == 4) {
			memmove(pkt->dst.addr + 12, pkt->dst.addr, 4);
			memset(pkt->dst.addr, 0, 10);
			pkt->dst.addr[10] = pkt->dst.addr[11] = 0xff;
			pkt->dst.family = 6;
			pkt->dst.plen = 128;
		}
		break;
	}
	pick_cidr(r, p, &pkt->src);
	pkt->proto = protos[df_rng_below(r, 8)];
	if (df_proto_bit(pkt->proto) & DF_P_PORTED) {
		pkt->dport = pick_port(r);
		pkt->sport = pick_port(r);
	}
	pkt->uid = df_rng_below(r, 8) ? 1000 + df_rng_below(r, 8) : DF_UID_NONE;
	pkt->mark = df_rng_below(r, 2) ? df_rng_below(r, 4) << 4 | df_rng_below(r, 16) << 8 :
					(uint32_t)df_rng_next(r);
	pkt->cgroup = df_rng_below(r, 8) ? cgroup_pool[df_rng_below(r, N_CGROUP_POOL)] : NULL;
	/* a quarter leave through another device than loopback (a loopback
	 * destination there is a forged header) */
	if (df_rng_below(r, 4) == 0)
		pkt->flags |= DF_PKT_NOT_LO;

	*now = DF_POLGEN_NOW;
	if (p->n_excs && df_rng_below(r, 2)) {
		const struct df_exception *e = &p->excs[df_rng_below(r, (uint32_t)p->n_excs)];
		int64_t edge = df_rng_below(r, 2) && e->not_before ? e->not_before : e->expires;

		*now = edge + (int64_t)df_rng_below(r, 3) - 1;
	} else {
		*now += (int64_t)df_rng_below(r, 14400) - 7200;
	}
}
