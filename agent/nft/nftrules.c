// SPDX-License-Identifier: GPL-2.0-only
/* The table's chains and rules: classification, the per-class judge
 * chains, reasons in the reference evaluator's order (docs/nftables.md). */
#include "nftbuild.h"

#include <arpa/inet.h>
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

/* ---- expressions --------------------------------------------------------------- */

static void add(struct nftnl_rule *r, struct nftnl_expr *e)
{
	nftnl_rule_add_expr(r, e);
}

static void e_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	add(r, e);
}

static void e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off, uint32_t len,
		      uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	add(r, e);
}

static void e_cmp(struct nftnl_rule *r, uint32_t sreg, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set_data(e, NFTNL_EXPR_CMP_DATA, data, len);
	add(r, e);
}

static void e_bitwise(struct nftnl_rule *r, uint32_t reg, const void *mask, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");
	uint8_t zero[16] = { 0 };

	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set_data(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set_data(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	add(r, e);
}

static void e_lookup(struct nftnl_rule *r, uint32_t sreg, const char *set, int dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	if (dreg >= 0)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, (uint32_t)dreg);
	add(r, e);
}

static void e_objref(struct nftnl_rule *r, uint32_t type, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc("objref");

	nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, type);
	nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, name);
	add(r, e);
}

static void e_log(struct nftnl_rule *r, uint16_t group, const char *prefix)
{
	struct nftnl_expr *e = nftnl_expr_alloc("log");

	nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, group);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOG_SNAPLEN, 128);
	add(r, e);
}

static void e_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	add(r, e);
}

static void e_nfproto(struct nftnl_rule *r, uint8_t proto)
{
	e_meta(r, NFT_META_NFPROTO, R_TMP);
	e_cmp(r, R_TMP, NFT_CMP_EQ, &proto, 1);
}

/* The socket's cgroup at a level (its id, 8 bytes) into R_ADDR. */
static void e_socket_cgroup(struct nftnl_rule *r, uint32_t level)
{
	struct nftnl_expr *e = nftnl_expr_alloc("socket");

	nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, NFT_SOCKET_CGROUPV2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, R_ADDR);
	nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_LEVEL, level);
	add(r, e);
}

/* IPv4's fragment offset (the header's 13 bits) compared with 0 by op. */
static void e_frag4_offset(struct nftnl_rule *r, uint32_t op)
{
	uint16_t off = htons(0x1fff), zero = 0;

	e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 6, 2, R_TMP);
	e_bitwise(r, R_TMP, &off, 2);
	e_cmp(r, R_TMP, op, &zero, 2);
}

/* `meta oif 1`: leaving through the loopback device (index 1 in every
 * network namespace). */
static void e_oif_loopback(struct nftnl_rule *r)
{
	uint32_t lo = 1;

	e_meta(r, NFT_META_OIF, R_TMP);
	e_cmp(r, R_TMP, NFT_CMP_EQ, &lo, 4);
}

/* ---- rules --------------------------------------------------------------------- */

static struct nftnl_rule *rule_new(struct nft_build *b)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, DF_NFT_FAMILY);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, b->table);
	return r;
}

static void rule_add(struct nft_build *b, const char *chain, struct nftnl_rule *r)
{
	struct nlmsghdr *nlh;

	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nlh = nft_msg(b->bt, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, "rule in chain %s", chain);
	if (nlh) {
		if (getenv("DF_NFT_DEBUG")) {
			char txt[4096];
			struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
			struct nftnl_expr *e;
			size_t n = 0;

			while (it && (e = nftnl_expr_iter_next(it)))
				n += (size_t)nftnl_expr_snprintf(txt + n, sizeof(txt) - n, e,
								  NFTNL_OUTPUT_DEFAULT, 0),
				n += (size_t)snprintf(txt + n, sizeof(txt) - n, " | ");
			nftnl_expr_iter_destroy(it);
			fprintf(stderr, "%s seq %u: %s\n", chain, b->bt->seq - 1, txt);
		}
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nft_msg_done(b->bt);
	}
	nftnl_rule_free(r);
}

/* A rule made of a match (may be NULL) and a tail, for one family or both. */
typedef void (*tail_fn)(struct nftnl_rule *r, const void *arg);

static void tail_goto(struct nftnl_rule *r, const void *chain)
{
	e_verdict(r, NFT_GOTO, chain);
}

static void tail_jump(struct nftnl_rule *r, const void *chain)
{
	e_verdict(r, NFT_JUMP, chain);
}


/* counter + accept */
static void tail_count_accept(struct nftnl_rule *r, const void *counter)
{
	e_objref(r, NFT_OBJECT_COUNTER, counter);
	e_verdict(r, NF_ACCEPT, NULL);
}

/* One rule per selector of class c, each followed by the tail. */
static void selector_rules(struct nft_build *b, const char *chain, uint32_t c, tail_fn tail,
			   const void *arg)
{
	const struct df_class *k = &b->p->classes[c];
	char set[32];
	struct nftnl_rule *r;

	if (k->all) {
		r = rule_new(b);
		tail(r, arg);
		rule_add(b, chain, r);
		return; /* the other selectors add nothing */
	}
	for (size_t i = 0; i < k->n_cgroups; i++) {
		uint64_t id = b->cg_id[c] ? b->cg_id[c][i] : 0;

		if (!id)
			continue; /* missing: warned in resolve_cgroups */
		r = rule_new(b);
		e_socket_cgroup(r, df_nft_cgroup_level(k->cgroups[i]));
		e_cmp(r, R_ADDR, NFT_CMP_EQ, &id, sizeof(id));
		tail(r, arg);
		rule_add(b, chain, r);
	}
	if (k->n_uids) {
		r = rule_new(b);
		snprintf(set, sizeof(set), "u%u", c);
		e_meta(r, NFT_META_SKUID, R_TMP);
		e_lookup(r, R_TMP, set, -1);
		tail(r, arg);
		rule_add(b, chain, r);
	}
	for (size_t i = 0; i < k->n_marks; i++) {
		uint32_t mask = k->marks[i].mask, value = k->marks[i].value;

		r = rule_new(b);
		e_meta(r, NFT_META_MARK, R_TMP);
		e_bitwise(r, R_TMP, &mask, 4);
		e_cmp(r, R_TMP, NFT_CMP_EQ, &value, 4);
		tail(r, arg);
		rule_add(b, chain, r);
	}
	if (k->n_lports) {
		r = rule_new(b);
		snprintf(set, sizeof(set), "lp%u", c);
		e_meta(r, NFT_META_L4PROTO, R_CAT0);
		e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, R_CAT1);
		e_lookup(r, R_CAT0, set, -1);
		tail(r, arg);
		rule_add(b, chain, r);
	}
	for (int fam = 4; k->n_laddrs && fam <= 6; fam += 2) {
		r = rule_new(b);
		snprintf(set, sizeof(set), "sa%d_%u", fam, c);
		e_nfproto(r, fam == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, fam == 4 ? 12 : 8, fam == 4 ? 4 : 16,
			  R_ADDR);
		e_lookup(r, R_ADDR, set, -1);
		tail(r, arg);
		rule_add(b, chain, r);
	}
}

/* A regular chain; a comment is shown by `nft list`. */
static void chain_add_comment(struct nft_build *b, const char *name, const char *comment)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nftnl_udata_buf *ud = NULL;
	struct nlmsghdr *nlh;

	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, DF_NFT_FAMILY);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, b->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	if (comment) {
		ud = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 8);
		nftnl_udata_put_strz(ud, NFTNL_UDATA_CHAIN_COMMENT, comment);
		nftnl_chain_set_data(c, NFTNL_CHAIN_USERDATA, nftnl_udata_buf_data(ud),
				     nftnl_udata_buf_len(ud));
	}
	nlh = nft_msg(b->bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "chain %s", name);
	if (nlh) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		nft_msg_done(b->bt);
	}
	if (ud)
		nftnl_udata_buf_free(ud);
	nftnl_chain_free(c);
}

static void chain_add(struct nft_build *b, const char *name)
{
	chain_add_comment(b, name, NULL);
}

void nft_chain_add(struct nft_build *b, const char *name)
{
	chain_add(b, name);
}

/* t<c>_<reason>: count, report (at most log_rate a second; the rest are
 * counted as suppressed), then drop or (audit) accept. */
static void terminal_chain(struct nft_build *b, uint32_t c, enum df_reason reason)
{
	int v = b->p->classes[c].mode == DF_MODE_ENFORCE ? DF_DROP : DF_WOULD_DROP;
	int verdict = v == DF_DROP ? NF_DROP : NF_ACCEPT;
	char chain[32], counter[96], over[96], prefix[128];
	struct nftnl_rule *r;

	snprintf(chain, sizeof(chain), "t%u_%d", c, reason);
	df_nft_counter_name(counter, sizeof(counter), (int)c, v, reason);
	df_nft_over_name(over, sizeof(over), (int)c, reason);
	r = rule_new(b);
	e_objref(r, NFT_OBJECT_COUNTER, counter);
	rule_add(b, chain, r);
	r = rule_new(b);
	e_objref(r, NFT_OBJECT_LIMIT, b->limit);
	e_objref(r, NFT_OBJECT_COUNTER, DF_NFT_SUPPRESSED);
	e_objref(r, NFT_OBJECT_COUNTER, over);
	e_verdict(r, verdict, NULL);
	rule_add(b, chain, r);
	snprintf(prefix, sizeof(prefix), "df %llu %u %d %d", (unsigned long long)b->p->serial, c, v,
		 reason);
	r = rule_new(b);
	e_log(r, b->o->log_group, prefix);
	e_verdict(r, verdict, NULL);
	rule_add(b, chain, r);
}


/* The box's protocol and port, when they are not every one. */
static void box_match(struct nftnl_rule *r, const struct df_nft_box *x)
{
	if (x->proto_lo != 0 || x->proto_hi != 255) {
		e_meta(r, NFT_META_L4PROTO, R_TMP);
		if (x->proto_lo == x->proto_hi) {
			e_cmp(r, R_TMP, NFT_CMP_EQ, &x->proto_lo, 1);
		} else {
			e_cmp(r, R_TMP, NFT_CMP_GTE, &x->proto_lo, 1);
			e_cmp(r, R_TMP, NFT_CMP_LTE, &x->proto_hi, 1);
		}
	}
	if (x->port_lo != 0 || x->port_hi != 0xffff) {
		uint16_t lo = htons(x->port_lo), hi = htons(x->port_hi);

		e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, R_TMP);
		if (lo == hi) {
			e_cmp(r, R_TMP, NFT_CMP_EQ, &lo, 2);
		} else {
			e_cmp(r, R_TMP, NFT_CMP_GTE, &lo, 2);
			e_cmp(r, R_TMP, NFT_CMP_LTE, &hi, 2);
		}
	}
}

/* One rule per family: destination in the group's address set, protocol
 * and port in the box, then an optional rule counter, a second counter, and
 * the verdict. */
static void box_rules(struct nft_build *b, const char *chain, const struct group *g,
		      const struct df_nft_box *x, void (*pre)(struct nftnl_rule *, const void *),
		      const void *pre_arg, bool count_rule, const char *counter, int verdict,
		      const char *target)
{
	for (int fam = 4; fam <= 6; fam += 2) {
		struct nftnl_rule *r = rule_new(b);
		char set[32], rc[24];

		if (pre)
			pre(r, pre_arg);
		snprintf(set, sizeof(set), "%.15sv%d", g->set, fam);
		e_nfproto(r, fam == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, fam == 4 ? 16 : 24, fam == 4 ? 4 : 16,
			  R_ADDR);
		e_lookup(r, R_ADDR, set, -1);
		box_match(r, x);
		if (count_rule) {
			snprintf(rc, sizeof(rc), "df_r%u", x->rule);
			e_objref(r, NFT_OBJECT_COUNTER, rc);
		}
		if (counter)
			e_objref(r, NFT_OBJECT_COUNTER, counter);
		e_verdict(r, verdict, target);
		rule_add(b, chain, r);
	}
}

/* Every box of every group of a kind. */
static void kind_rules(struct nft_build *b, const char *chain, const struct groups *gs,
		       void (*pre)(struct nftnl_rule *, const void *), const void *pre_arg,
		       bool count_rule, const char *counter, int verdict, const char *target)
{
	for (size_t i = 0; i < gs->n; i++)
		for (size_t k = 0; k < gs->g[i].n_box; k++)
			box_rules(b, chain, &gs->g[i], &gs->g[i].box[k], pre, pre_arg, count_rule,
				  counter, verdict, target);
}

const enum df_reason nft_terminal_reasons[] = {
	DF_R_MALFORMED, DF_R_EXCEPTION_INACTIVE, DF_R_PORT_NOT_ALLOWED,
	DF_R_PROTOCOL_NOT_ALLOWED, DF_R_CLASS_NOT_ALLOWED, DF_R_NO_DESTINATION,
};
#define N_TERMINAL (sizeof(nft_terminal_reasons) / sizeof(nft_terminal_reasons[0]))
const size_t nft_n_terminal = N_TERMINAL;

/* Is the exception active now: meta time in [not_before, expires). */
static void e_window(struct nftnl_rule *r, const void *arg)
{
	const struct df_nft_exc *x = arg;
	struct nftnl_expr *e;
	uint64_t lo = x->not_before > 0 ? (uint64_t)x->not_before * 1000000000ULL : 0;
	uint64_t hi = x->expires >= (int64_t)(UINT64_MAX / 1000000000ULL) ? UINT64_MAX :
		      x->expires > 0 ? (uint64_t)x->expires * 1000000000ULL : 0;
	uint64_t lo_be = htobe64(lo), hi_be = htobe64(hi);

	e_meta(r, NFT_META_TIME_NS, R_ADDR);
	e = nftnl_expr_alloc("byteorder");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, R_ADDR);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, R_ADDR);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 8);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 8);
	add(r, e);
	e_cmp(r, R_ADDR, NFT_CMP_GTE, &lo_be, 8);
	e_cmp(r, R_ADDR, NFT_CMP_LT, &hi_be, 8);
}

/* The active exceptions of class c, policy order. */
static void exception_rules(struct nft_build *b, const char *chain, uint32_t c, bool count_rule,
			    int verdict, const char *target)
{
	for (size_t e = 0; e < b->pl->n_exc; e++)
		if (b->pl->exc[e].cls == c)
			kind_rules(b, chain, &b->exc[e], e_window, &b->pl->exc[e], count_rule, NULL,
				   verdict, target);
}

static void e_fragment(struct nftnl_rule *r, int family)
{
	uint16_t off6 = htons(0xfff8), zero = 0;
	struct nftnl_expr *e;

	if (family == 4) {
		e_nfproto(r, NFPROTO_IPV4);
		e_frag4_offset(r, NFT_CMP_NEQ);
		return;
	}
	e_nfproto(r, NFPROTO_IPV6);
	e = nftnl_expr_alloc("exthdr");
	nftnl_expr_set_u8(e, NFTNL_EXPR_EXTHDR_TYPE, 44 /* fragment */);
	nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OFFSET, 2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_LEN, 2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_DREG, R_TMP);
	add(r, e);
	e_bitwise(r, R_TMP, &off6, 2);
	e_cmp(r, R_TMP, NFT_CMP_NEQ, &zero, 2);
}

/* k<c>: satisfied (return) or the reason (its rule counted, goto t<c>_<reason>). */
static void class_chain(struct nft_build *b, uint32_t c)
{
	char chain[16], t[32];
	struct nftnl_rule *r;
	static const struct {
		enum kind kind;
		enum df_reason reason;
	} why[] = {
		{ KD_EXC, DF_R_EXCEPTION_INACTIVE },
		{ KD_PROTO, DF_R_PORT_NOT_ALLOWED },
		{ KD_ADDR, DF_R_PROTOCOL_NOT_ALLOWED },
	};

	snprintf(chain, sizeof(chain), "k%u", c);
	/* fail closed: a non-first fragment has no ports to judge by */
	snprintf(t, sizeof(t), "t%u_%d", c, DF_R_MALFORMED);
	for (int fam = 4; fam <= 6; fam += 2) {
		r = rule_new(b);
		e_fragment(r, fam);
		e_verdict(r, NFT_GOTO, t);
		rule_add(b, chain, r);
	}
	kind_rules(b, chain, &b->cls[c][KD_OK], NULL, NULL, false, NULL, NFT_RETURN, NULL);
	exception_rules(b, chain, c, false, NFT_RETURN, NULL);
	for (size_t i = 0; i < sizeof(why) / sizeof(why[0]); i++) {
		snprintf(t, sizeof(t), "t%u_%d", c, why[i].reason);
		kind_rules(b, chain, &b->cls[c][why[i].kind], NULL, NULL, true, NULL, NFT_GOTO, t);
	}
	if (b->anyd[0]) {
		struct group any = { 0 };
		struct df_nft_box all = { .proto_hi = 255, .port_hi = 0xffff };

		memcpy(any.set, b->anyd, sizeof(any.set));
		snprintf(t, sizeof(t), "t%u_%d", c, DF_R_CLASS_NOT_ALLOWED);
		box_rules(b, chain, &any, &all, NULL, NULL, false, NULL, NFT_GOTO, t);
	}
	snprintf(t, sizeof(t), "t%u_%d", c, DF_R_NO_DESTINATION);
	r = rule_new(b);
	e_verdict(r, NFT_GOTO, t);
	rule_add(b, chain, r);
}

/* ---- classified once (nftclassify.c) ---------------------------------------------- */

/* The packet's key of dimension d, looked up in set `set` or (an exact
 * key alone) compared with `one`; the local address: family fam's (a rule
 * each). */
static void dim_match(struct nftnl_rule *r, const struct nft_dim *dim, const char *set, int fam,
		      const struct nft_key *one)
{
	uint32_t reg = R_TMP, v = one ? (uint32_t)one->key : 0;

	switch (dim->kind) {
	case DIM_CGROUP:
		e_socket_cgroup(r, dim->arg);
		reg = R_ADDR;
		break;
	case DIM_UID:
		e_meta(r, NFT_META_SKUID, R_TMP);
		break;
	case DIM_MARK:
		e_meta(r, NFT_META_MARK, R_TMP);
		e_bitwise(r, R_TMP, &dim->arg, 4);
		break;
	case DIM_LPORT: /* proto . sport */
		e_meta(r, NFT_META_L4PROTO, R_CAT0);
		e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2, R_CAT1);
		reg = R_CAT0;
		break;
	case DIM_LADDR:
		e_nfproto(r, fam == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, fam == 4 ? 12 : 8, fam == 4 ? 4 : 16,
			  R_ADDR);
		reg = R_ADDR;
		break;
	}
	if (!one)
		e_lookup(r, reg, set, -1);
	else if (dim->kind == DIM_CGROUP)
		e_cmp(r, reg, NFT_CMP_EQ, &one->key, 8);
	else
		e_cmp(r, reg, NFT_CMP_EQ, &v, 4);
}

/* q<d>_<s>: dimension d with the class set s so far: the set the packet's
 * key is in says which classes it adds; on to the next dimension. */
static void dim_rules(struct nft_build *b, size_t d, uint64_t s)
{
	const struct nft_dim *dim = &b->cl.d[d];
	char chain[48], set[56], next[48];
	struct nftnl_rule *r;

	nft_dim_chain(&b->cl, d, s, chain, sizeof(chain));
	for (size_t mi = 0; mi < dim->n_masks; mi++) {
		nft_dim_chain(&b->cl, d + 1, s | dim->masks[mi], next, sizeof(next));
		for (int fam = 4; fam <= (dim->kind == DIM_LADDR ? 6 : 4); fam += 2) {
			if (dim->kind == DIM_LADDR)
				snprintf(set, sizeof(set), "k%zu_%zu_%d", d, mi, fam);
			else
				snprintf(set, sizeof(set), "k%zu_%zu", d, mi);
			r = rule_new(b);
			dim_match(r, dim, set, fam, nft_dim_single_key(dim, mi));
			e_verdict(r, NFT_GOTO, next);
			rule_add(b, chain, r);
		}
	}
	nft_dim_chain(&b->cl, d + 1, s, next, sizeof(next));
	r = rule_new(b);
	e_verdict(r, NFT_GOTO, next);
	rule_add(b, chain, r);
}

/* c<s>: the packet's classes are s. Each judged (enforce ones first), then
 * the allow counted under the first, as fin does class by class. */
static void set_rules(struct nft_build *b, uint64_t s)
{
	const struct df_policy *p = b->p;
	char chain[32], name[32], counter[96];
	struct nftnl_rule *r;
	int first = s ? __builtin_ctzll(s) : -1;

	nft_set_chain(s, chain, sizeof(chain));
	if (!s) {
		df_nft_counter_name(counter, sizeof(counter), DF_MAX_CLASSES, DF_ALLOW,
				    DF_R_UNCLASSIFIED);
		r = rule_new(b);
		tail_count_accept(r, counter);
		rule_add(b, chain, r);
		return;
	}
	for (size_t i = 0; i < p->n_classes; i++)
		if (s >> b->pl->order[i] & 1) {
			snprintf(name, sizeof(name), "k%u", b->pl->order[i]);
			r = rule_new(b);
			e_verdict(r, NFT_JUMP, name);
			rule_add(b, chain, r);
		}
	for (uint32_t c = 0; c < p->n_classes; c++)
		if (s >> c & 1) {
			snprintf(name, sizeof(name), "v%u", c);
			r = rule_new(b);
			e_verdict(r, NFT_JUMP, name);
			rule_add(b, chain, r);
		}
	snprintf(name, sizeof(name), "fd%d", first);
	r = rule_new(b);
	e_verdict(r, NFT_GOTO, name);
	rule_add(b, chain, r);
}

/* f<c>'s accepting rules (a packet of class c alone, satisfied by a
 * destination), into `chain`: one rule per box (protocol and port range;
 * boxes of one rule and port range differing only in protocol share one,
 * with a set of protocols) of each group of leaves (the common policy has
 * one), IPv4 ones first: cheap compares, then the destination in the
 * group's addresses, one counter (df_a<c>_r<rule>), accept. No fragment
 * after the first is accepted here (the kernel would read ports from its
 * payload): IPv4 checks the offset, IPv6 reads 3 transport bytes (not a
 * fast read: that one fails on a fragment); k<c> judges it.
 * With a dimension (the hook's fused rules), each rule first checks the
 * packet's key for that dimension's mi-th class set, and with not_lo (they
 * come before the loopback exemption) that it does not leave through
 * loopback when the group holds a loopback address. */
static void fast_accept_rules(struct nft_build *b, uint32_t c, const char *chain,
			      const struct nft_dim *dim, size_t mi, size_t d, bool not_lo)
{
	const struct groups *gs = &b->cls[c][KD_OK];
	char counter[96], set[32], ps[48], key[56];
	struct nftnl_rule *r;
	uint32_t lo = 1;

	for (int fam = 4; fam <= 6; fam += 2)
		for (size_t g = 0; g < gs->n; g++) {
			bool check_lo = not_lo && nft_group_loopback(b, &gs->g[g]);

			for (size_t k = 0; k < gs->g[g].n_box; k++) {
				const struct df_nft_box *x = &gs->g[g].box[k];
				struct df_nft_box port = *x;

				if (nft_box_first(&gs->g[g], k) != k)
					continue; /* its protocols are in the first one's set */
				r = rule_new(b);
				e_nfproto(r, fam == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
				if (check_lo) {
					e_meta(r, NFT_META_OIF, R_TMP);
					e_cmp(r, R_TMP, NFT_CMP_NEQ, &lo, 4);
				}
				if (dim && dim->kind == DIM_LADDR)
					snprintf(key, sizeof(key), "k%zu_%zu_%d", d, mi, fam);
				else if (dim)
					snprintf(key, sizeof(key), "k%zu_%zu", d, mi);
				if (dim)
					dim_match(r, dim, key, fam, nft_dim_single_key(dim, mi));
				if (nft_box_protos(&gs->g[g], k) > 1) {
					snprintf(ps, sizeof(ps), "p%u_%zu_%zu", c, g, k);
					e_meta(r, NFT_META_L4PROTO, R_TMP);
					e_lookup(r, R_TMP, ps, -1);
					port.proto_lo = 0;
					port.proto_hi = 255;
				}
				box_match(r, &port);
				if (fam == 4) /* not a fragment after the first */
					e_frag4_offset(r, NFT_CMP_EQ);
				else
					e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 3, R_TMP);
				snprintf(set, sizeof(set), "%.15sv%d", gs->g[g].set, fam);
				e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, fam == 4 ? 16 : 24,
					  fam == 4 ? 4 : 16, R_ADDR);
				e_lookup(r, R_ADDR, set, -1);
				/* one counter: read as the rule's and the allow's */
				df_nft_fast_name(counter, sizeof(counter), (int)c, x->rule);
				e_objref(r, NFT_OBJECT_COUNTER, counter);
				e_verdict(r, NF_ACCEPT, NULL);
				rule_add(b, chain, r);
			}
		}
}

static void fast_class_rules(struct nft_build *b, uint32_t c)
{
	char chain[16], slow[32];
	struct nftnl_rule *r;

	snprintf(chain, sizeof(chain), "f%u", c);
	nft_set_chain(1ULL << c, slow, sizeof(slow));
	fast_accept_rules(b, c, chain, NULL, 0, 0, false);
	r = rule_new(b);
	e_verdict(r, NFT_GOTO, slow);
	rule_add(b, chain, r);
}

/* One dimension, no class every packet is in: a packet selected for one
 * class alone is that class's alone, so the hook's chain itself accepts
 * what f<c> would, first thing (one rule for the common allowed packet). */
static void fused_rules(struct nft_build *b)
{
	if (b->cl.n != 1 || b->cl.all)
		return;
	for (size_t mi = 0; mi < b->cl.d[0].n_masks; mi++) {
		uint64_t m = b->cl.d[0].masks[mi];

		if (!(m & (m - 1)) && nft_fast_class(b, (uint32_t)__builtin_ctzll(m)))
			fast_accept_rules(b, (uint32_t)__builtin_ctzll(m), "output", &b->cl.d[0], mi,
					  0, b->p->allow_loopback);
	}
}

static void fast_rules(struct nft_build *b)
{
	for (size_t d = 0; d < b->cl.n; d++)
		for (size_t i = 0; i < b->cl.d[d].n_from; i++)
			dim_rules(b, d, b->cl.d[d].from[i]);
	for (size_t i = 0; i < b->cl.n_finals; i++)
		set_rules(b, b->cl.finals[i]);
	for (uint32_t c = 0; c < b->p->n_classes; c++)
		if (nft_fast_class(b, c))
			fast_class_rules(b, c);
}

void nft_rules(struct nft_build *b)
{
	const struct df_policy *p = b->p;
	char name[32], name2[32], counter[96];
	struct nftnl_rule *r;

	for (uint32_t c = 0; c < p->n_classes; c++) {
		for (size_t i = 0; i < N_TERMINAL; i++)
			terminal_chain(b, c, nft_terminal_reasons[i]);
		if (!b->cl.fast) {
			snprintf(name, sizeof(name), "s%u", c);
			snprintf(name2, sizeof(name2), "k%u", c);
			selector_rules(b, name, c, tail_goto, name2);
		}
		class_chain(b, c);
		/* v<c> (fin): satisfied by a destination, or by its first active
		 * exception, which names the rule */
		snprintf(name, sizeof(name), "v%u", c);
		kind_rules(b, name, &b->cls[c][KD_OK], NULL, NULL, false, NULL, NFT_RETURN, NULL);
		exception_rules(b, name, c, true, NFT_GOTO, "fx");
		/* fd<c>: the destination rule and the allow */
		snprintf(name, sizeof(name), "fd%u", c);
		df_nft_counter_name(counter, sizeof(counter), (int)c, DF_ALLOW, DF_R_DESTINATION);
		kind_rules(b, name, &b->cls[c][KD_OK], NULL, NULL, true, counter, NF_ACCEPT, NULL);
	}
	/* the hook's chain (judge's comment names the policy): the fused
	 * accepts, loopback (leaving through the loopback device), then the
	 * classes: classified once, or (enforce ones first) class by class,
	 * then fin */
	if (b->cl.fast)
		fused_rules(b);
	if (p->allow_loopback) {
		static const uint8_t lo4[4] = { 127 }, m4[4] = { 255 }, lo6[16] = { [15] = 1 },
				     m6[16] = { [10] = 0xff, [11] = 0xff, [12] = 127 },
				     mm6[16] = { 255, 255, 255, 255, 255, 255, 255, 255,
						 255, 255, 255, 255, 255 };

		/* one compare for every other packet; lochk: the addresses */
		r = rule_new(b);
		e_oif_loopback(r);
		e_verdict(r, NFT_JUMP, "lochk");
		rule_add(b, "output", r);

		r = rule_new(b);
		e_nfproto(r, NFPROTO_IPV4);
		e_oif_loopback(r);
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, R_ADDR);
		e_bitwise(r, R_ADDR, m4, 4);
		e_cmp(r, R_ADDR, NFT_CMP_EQ, lo4, 4);
		e_verdict(r, NFT_GOTO, "loop");
		rule_add(b, "lochk", r);
		r = rule_new(b);
		e_nfproto(r, NFPROTO_IPV6);
		e_oif_loopback(r);
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, R_ADDR);
		e_cmp(r, R_ADDR, NFT_CMP_EQ, lo6, 16);
		e_verdict(r, NFT_GOTO, "loop");
		rule_add(b, "lochk", r);
		r = rule_new(b);
		e_nfproto(r, NFPROTO_IPV6);
		e_oif_loopback(r);
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, R_ADDR);
		e_bitwise(r, R_ADDR, mm6, 16);
		e_cmp(r, R_ADDR, NFT_CMP_EQ, m6, 16);
		e_verdict(r, NFT_GOTO, "loop");
		rule_add(b, "lochk", r);
	}
	if (b->cl.fast) {
		/* classified once: the first dimension here (or the class
		 * set's chain, with none) */
		if (!b->cl.n) {
			nft_dim_chain(&b->cl, 0, b->cl.all, name, sizeof(name));
			r = rule_new(b);
			e_verdict(r, NFT_GOTO, name);
			rule_add(b, "output", r);
		}
		fast_rules(b);
	} else {
		for (size_t i = 0; i < p->n_classes; i++) {
			snprintf(name, sizeof(name), "s%u", b->pl->order[i]);
			r = rule_new(b);
			e_verdict(r, NFT_JUMP, name);
			rule_add(b, "output", r);
		}
		r = rule_new(b);
		e_verdict(r, NFT_GOTO, "fin");
		rule_add(b, "output", r);
	}
	/* loop, fx: the allow counted under the first class */
	for (uint32_t c = 0; c < p->n_classes; c++) {
		df_nft_counter_name(counter, sizeof(counter), (int)c, DF_ALLOW, DF_R_LOOPBACK);
		selector_rules(b, "loop", c, tail_count_accept, counter);
	}
	df_nft_counter_name(counter, sizeof(counter), DF_MAX_CLASSES, DF_ALLOW, DF_R_LOOPBACK);
	r = rule_new(b);
	tail_count_accept(r, counter);
	rule_add(b, "loop", r);
	for (uint32_t c = 0; c < p->n_classes; c++) {
		df_nft_counter_name(counter, sizeof(counter), (int)c, DF_ALLOW, DF_R_EXCEPTION);
		selector_rules(b, "fx", c, tail_count_accept, counter);
	}
	/* fin (class by class): any class needing an exception? then the
	 * first class's allow */
	if (!b->cl.fast) {
		for (uint32_t c = 0; c < p->n_classes; c++) {
			snprintf(name, sizeof(name), "v%u", c);
			selector_rules(b, "fin", c, tail_jump, name);
		}
		for (uint32_t c = 0; c < p->n_classes; c++) {
			snprintf(name, sizeof(name), "fd%u", c);
			selector_rules(b, "fin", c, tail_goto, name);
		}
		df_nft_counter_name(counter, sizeof(counter), DF_MAX_CLASSES, DF_ALLOW,
				    DF_R_UNCLASSIFIED);
		r = rule_new(b);
		tail_count_accept(r, counter);
		rule_add(b, "fin", r);
	}
}

/* Every chain first: rules name them. */
void nft_chains(struct nft_build *b, bool have_output, const char *sha256)
{
	const struct df_policy *p = b->p;
	static const char *const fixed[] = { "loop", "fx" };
	char name[32], comment[NFTNL_UDATA_COMMENT_MAXLEN];

	if (!have_output) {
		struct nftnl_chain *c = nftnl_chain_alloc();
		struct nlmsghdr *nlh;

		nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, DF_NFT_FAMILY);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, b->table);
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "output");
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_OUT);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 0);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
		nlh = nft_msg(b->bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "chain output");
		if (nlh) {
			nftnl_chain_nlmsg_build_payload(nlh, c);
			nft_msg_done(b->bt);
		}
		nftnl_chain_free(c);
	}
	/* the judge chain says which policy the table holds */
	snprintf(comment, sizeof(comment), "datafence serial %llu sha256 %.16s policy %.40s",
		 (unsigned long long)p->serial, sha256 && *sha256 ? sha256 : "-",
		 p->name ? p->name : "-");
	chain_add_comment(b, "judge", comment);
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		chain_add(b, fixed[i]);
	if (!b->cl.fast)
		chain_add(b, "fin");
	if (p->allow_loopback)
		chain_add(b, "lochk");
	for (size_t d = 1; d < b->cl.n; d++) /* classification (the first: judge's), the class sets */
		for (size_t i = 0; i < b->cl.d[d].n_from; i++) {
			nft_dim_chain(&b->cl, d, b->cl.d[d].from[i], name, sizeof(name));
			chain_add(b, name);
		}
	for (size_t i = 0; i < b->cl.n_finals; i++) {
		nft_set_chain(b->cl.finals[i], name, sizeof(name));
		chain_add(b, name);
	}
	for (uint32_t c = 0; c < p->n_classes; c++)
		if (nft_fast_class(b, c)) {
			snprintf(name, sizeof(name), "f%u", c);
			chain_add(b, name);
		}
	for (uint32_t c = 0; c < p->n_classes; c++) {
		static const char *const per[] = { "s", "k", "v", "fd" };

		for (size_t i = b->cl.fast ? 1 : 0; i < sizeof(per) / sizeof(per[0]); i++) {
			snprintf(name, sizeof(name), "%s%u", per[i], c);
			chain_add(b, name);
		}
		for (size_t i = 0; i < N_TERMINAL; i++) {
			snprintf(name, sizeof(name), "t%u_%d", c, nft_terminal_reasons[i]);
			chain_add(b, name);
		}
	}
}
