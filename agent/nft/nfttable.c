// SPDX-License-Identifier: GPL-2.0-only
/* The nftables backend: plan -> one netlink batch (see nft.h and
 * docs/nftables.md for the table's layout and why it is built this way). */
#include "nfttable.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "nftnames.h"
#include "verdict.h"

#define FAMILY NFPROTO_INET
#define ELEMS_PER_MSG 512
#define BATCH_PAGE (256 * 1024)

/* Registers: 16-byte NFT_REG_1 overlaps NFT_REG32_00..03. */
#define R_ADDR NFT_REG_1
#define R_CAT0 NFT_REG32_00 /* a concatenation's fields, one register each */
#define R_CAT1 NFT_REG32_01
#define R_TMP NFT_REG32_04

/* nft's data types, so that `nft list` prints the sets' elements. */
#define NFT_TYPE_IPADDR 7
#define NFT_TYPE_IP6ADDR 8
#define NFT_TYPE_INET_PROTOCOL 12
#define NFT_TYPE_INET_SERVICE 13
#define NFT_TYPE_UID 24
#define NFT_TYPE_BITS 6

static const char *table_of(const struct df_nft_opts *o)
{
	return o->table && *o->table ? o->table : DF_NFT_TABLE;
}

/* ---- the batch ----------------------------------------------------------------- */

struct batch {
	struct nftnl_batch *b;
	uint32_t seq, first_seq;
	char **what; /* per message, for error reports */
	size_t n_what, cap_what;
	int err;
};

static int batch_init(struct batch *bt)
{
	memset(bt, 0, sizeof(*bt));
	bt->b = nftnl_batch_alloc(BATCH_PAGE, BATCH_PAGE);
	if (!bt->b)
		return -ENOMEM;
	bt->seq = bt->first_seq = (uint32_t)time(NULL);
	nftnl_batch_begin(nftnl_batch_buffer(bt->b), bt->seq++);
	nftnl_batch_update(bt->b);
	return 0;
}

static void batch_free(struct batch *bt)
{
	for (size_t i = 0; i < bt->n_what; i++)
		free(bt->what[i]);
	free(bt->what);
	if (bt->b)
		nftnl_batch_free(bt->b);
}

/* A message header for the next message; `what` names it in errors. */
static struct nlmsghdr *msg(struct batch *bt, uint16_t type, uint16_t flags, const char *fmt, ...)
{
	char buf[160];
	va_list ap;

	if (bt->n_what == bt->cap_what) {
		size_t cap = bt->cap_what ? bt->cap_what * 2 : 256;
		char **w = realloc(bt->what, cap * sizeof(*w));

		if (!w) {
			bt->err = -ENOMEM;
			return NULL;
		}
		bt->what = w;
		bt->cap_what = cap;
	}
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	bt->what[bt->n_what++] = strdup(buf);
	return nftnl_nlmsg_build_hdr(nftnl_batch_buffer(bt->b), type, FAMILY, flags | NLM_F_ACK,
				     bt->seq++);
}

static void msg_done(struct batch *bt)
{
	if (nftnl_batch_update(bt->b) < 0)
		bt->err = -ENOMEM;
}

static struct mnl_socket *nl_open(void)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	int one = 1;

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		return NULL;
	}
	mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	return nl;
}

struct ack_ctx {
	struct batch *bt;
	size_t acked;
	int err;
	char detail[256];
};

static int on_ack(const struct nlmsghdr *nlh, void *data)
{
	struct ack_ctx *a = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_type != NLMSG_ERROR)
		return MNL_CB_OK;
	a->acked++;
	if (e->error && !a->err) {
		uint32_t i = e->msg.nlmsg_seq - a->bt->first_seq - 1;
		const char *why = NULL;
		const struct nlattr *at;

		a->err = e->error;
		/* the kernel's own words, when it gives them (extended ack) */
		if (nlh->nlmsg_flags & NLM_F_ACK_TLVS)
			mnl_attr_for_each(at, nlh, sizeof(*e))
				if (mnl_attr_get_type(at) == NLMSGERR_ATTR_MSG)
					why = mnl_attr_get_str(at);
		snprintf(a->detail, sizeof(a->detail), "%s%s%s",
			 i < a->bt->n_what ? a->bt->what[i] : "batch", why ? ": " : "",
			 why ? why : "");
		if (getenv("DF_NFT_DEBUG"))
			fprintf(stderr, "error %d at seq %u\n", e->error, e->msg.nlmsg_seq);
	}
	return MNL_CB_OK;
}

/* Sends the batch and waits for every message's acknowledgement. */
static int batch_send(struct batch *bt, char *detail, size_t dlen)
{
	struct mnl_socket *nl;
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	struct ack_ctx a = { .bt = bt };
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_ERROR] = on_ack };
	size_t total = 0;
	int n, err = 0;
	char *buf;

	nftnl_batch_end(nftnl_batch_buffer(bt->b), bt->seq++);
	if (nftnl_batch_update(bt->b) < 0 || bt->err)
		return bt->err ? bt->err : -ENOMEM;
	nl = nl_open();
	if (!nl)
		return -errno;
	n = nftnl_batch_iovec_len(bt->b);
	struct iovec *iov = calloc((size_t)n, sizeof(*iov));
	buf = malloc(MNL_SOCKET_BUFFER_SIZE * 4);
	if (!iov || !buf) {
		err = -ENOMEM;
		goto out;
	}
	nftnl_batch_iovec(bt->b, iov, (uint32_t)n);
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	/* the whole batch is one sendmsg: make room for it (root) */
	int sz = (int)(total + 65536), rcv = 8 * 1024 * 1024;

	if (setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
	struct msghdr mh = { .msg_name = &snl, .msg_namelen = sizeof(snl), .msg_iov = iov,
			     .msg_iovlen = (size_t)n };

	if (sendmsg(mnl_socket_get_fd(nl), &mh, 0) < 0) {
		err = -errno;
		snprintf(detail, dlen, "sending the batch (%zu bytes)", total);
		goto out;
	}
	while (a.acked < bt->n_what && !a.err) {
		ssize_t r = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE * 4);

		if (r < 0) {
			err = -errno;
			snprintf(detail, dlen, "reading acknowledgements");
			goto out;
		}
		if (mnl_cb_run2(buf, (size_t)r, 0, mnl_socket_get_portid(nl), NULL, &a, ctl,
				MNL_ARRAY_SIZE(ctl)) < 0 && !a.err) {
			err = -errno;
			snprintf(detail, dlen, "reading acknowledgements");
			goto out;
		}
	}
	err = a.err;
	if (err)
		snprintf(detail, dlen, "%s", a.detail);
out:
	free(iov);
	free(buf);
	mnl_socket_close(nl);
	return err;
}

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

/* ---- rules --------------------------------------------------------------------- */

/* Stage two, per class and kind: leaves with the same boxes form a group,
 * and a group is an address set (per family) and one rule per box. */
enum kind { KD_OK, KD_EXC, KD_PROTO, KD_ADDR, KD__N };

struct group {
	const struct df_nft_box *box; /* the first leaf's boxes (leaf field ignored) */
	size_t n_box;
	uint32_t *leaves;
	size_t n_leaves;
	char set[16]; /* address sets <set>v4, <set>v6 */
};

struct groups {
	struct group *g;
	size_t n;
};

/* Address sets by leaf set, emitted once each. */
struct leafset {
	uint32_t *leaves;
	size_t n;
	char name[16];
};

struct build {
	struct batch *bt;
	const char *table;
	const struct df_policy *p;
	const struct df_nft_plan *pl;
	const struct df_nft_opts *o;
	uint64_t *cg_id[DF_MAX_CLASSES]; /* per class and cgroup selector: its id, 0: missing */
	char limit[40];                  /* the drop-report limiter's name */
	struct df_diags *d;
	struct groups (*cls)[KD__N]; /* per class */
	struct groups *exc;          /* per exception */
	char anyd[16];               /* leaves some destination covers ("": none) */
	struct leafset *ls;
	size_t n_ls;
	uint32_t n_leaves;
};

static struct nftnl_rule *rule_new(struct build *b)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, FAMILY);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, b->table);
	return r;
}

static void rule_add(struct build *b, const char *chain, struct nftnl_rule *r)
{
	struct nlmsghdr *nlh;

	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	nlh = msg(b->bt, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, "rule in chain %s", chain);
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
		msg_done(b->bt);
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
static void selector_rules(struct build *b, const char *chain, uint32_t c, tail_fn tail,
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
		uint32_t level = 0;
		struct nftnl_expr *e;

		if (!id)
			continue; /* missing: warned in resolve_cgroups */
		for (const char *s = k->cgroups[i]; *s; s++)
			level += *s == '/' && s[1];
		r = rule_new(b);
		e = nftnl_expr_alloc("socket");
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, NFT_SOCKET_CGROUPV2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, R_ADDR);
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_LEVEL, level);
		add(r, e);
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
static void chain_add_comment(struct build *b, const char *name, const char *comment)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nftnl_udata_buf *ud = NULL;
	struct nlmsghdr *nlh;

	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, FAMILY);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, b->table);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	if (comment) {
		ud = nftnl_udata_buf_alloc(NFTNL_UDATA_COMMENT_MAXLEN + 8);
		nftnl_udata_put_strz(ud, NFTNL_UDATA_CHAIN_COMMENT, comment);
		nftnl_chain_set_data(c, NFTNL_CHAIN_USERDATA, nftnl_udata_buf_data(ud),
				     nftnl_udata_buf_len(ud));
	}
	nlh = msg(b->bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "chain %s", name);
	if (nlh) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		msg_done(b->bt);
	}
	if (ud)
		nftnl_udata_buf_free(ud);
	nftnl_chain_free(c);
}

static void chain_add(struct build *b, const char *name)
{
	chain_add_comment(b, name, NULL);
}

/* t<c>_<reason>: count, report (at most log_rate a second; the rest are
 * counted as suppressed), then drop or (audit) accept. */
static void terminal_chain(struct build *b, uint32_t c, enum df_reason reason)
{
	int v = b->p->classes[c].mode == DF_MODE_ENFORCE ? DF_DROP : DF_WOULD_DROP;
	int verdict = v == DF_DROP ? NF_DROP : NF_ACCEPT;
	char chain[32], counter[96], prefix[128];
	struct nftnl_rule *r;

	snprintf(chain, sizeof(chain), "t%u_%d", c, reason);
	df_nft_counter_name(counter, sizeof(counter), (int)c, v, reason);
	r = rule_new(b);
	e_objref(r, NFT_OBJECT_COUNTER, counter);
	rule_add(b, chain, r);
	r = rule_new(b);
	e_objref(r, NFT_OBJECT_LIMIT, b->limit);
	e_objref(r, NFT_OBJECT_COUNTER, DF_NFT_SUPPRESSED);
	e_verdict(r, verdict, NULL);
	rule_add(b, chain, r);
	snprintf(prefix, sizeof(prefix), "df %llu %u %d %d", (unsigned long long)b->p->serial, c, v,
		 reason);
	r = rule_new(b);
	e_log(r, b->o->log_group, prefix);
	e_verdict(r, verdict, NULL);
	rule_add(b, chain, r);
}


/* One rule per family: destination in the group's address set, protocol
 * and port in the box, then an optional rule counter, a second counter, and
 * the verdict. */
static void box_rules(struct build *b, const char *chain, const struct group *g,
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
static void kind_rules(struct build *b, const char *chain, const struct groups *gs,
		       void (*pre)(struct nftnl_rule *, const void *), const void *pre_arg,
		       bool count_rule, const char *counter, int verdict, const char *target)
{
	for (size_t i = 0; i < gs->n; i++)
		for (size_t k = 0; k < gs->g[i].n_box; k++)
			box_rules(b, chain, &gs->g[i], &gs->g[i].box[k], pre, pre_arg, count_rule,
				  counter, verdict, target);
}

static const enum df_reason terminal_reasons[] = {
	DF_R_MALFORMED, DF_R_EXCEPTION_INACTIVE, DF_R_PORT_NOT_ALLOWED,
	DF_R_PROTOCOL_NOT_ALLOWED, DF_R_CLASS_NOT_ALLOWED, DF_R_NO_DESTINATION,
};
#define N_TERMINAL (sizeof(terminal_reasons) / sizeof(terminal_reasons[0]))

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
static void exception_rules(struct build *b, const char *chain, uint32_t c, bool count_rule,
			    int verdict, const char *target)
{
	for (size_t e = 0; e < b->pl->n_exc; e++)
		if (b->pl->exc[e].cls == c)
			kind_rules(b, chain, &b->exc[e], e_window, &b->pl->exc[e], count_rule, NULL,
				   verdict, target);
}

static void e_fragment(struct nftnl_rule *r, int family)
{
	uint16_t off4 = htons(0x1fff), off6 = htons(0xfff8), zero = 0;
	struct nftnl_expr *e;

	if (family == 4) {
		e_nfproto(r, NFPROTO_IPV4);
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 6, 2, R_TMP);
		e_bitwise(r, R_TMP, &off4, 2);
	} else {
		e_nfproto(r, NFPROTO_IPV6);
		e = nftnl_expr_alloc("exthdr");
		nftnl_expr_set_u8(e, NFTNL_EXPR_EXTHDR_TYPE, 44 /* fragment */);
		nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_OFFSET, 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_LEN, 2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_EXTHDR_DREG, R_TMP);
		add(r, e);
		e_bitwise(r, R_TMP, &off6, 2);
	}
	e_cmp(r, R_TMP, NFT_CMP_NEQ, &zero, 2);
}

/* k<c>: satisfied (return) or the reason (its rule counted, goto t<c>_<reason>). */
static void class_chain(struct build *b, uint32_t c)
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

static void rules(struct build *b)
{
	const struct df_policy *p = b->p;
	char name[32], name2[32], counter[96];
	struct nftnl_rule *r;

	for (uint32_t c = 0; c < p->n_classes; c++) {
		for (size_t i = 0; i < N_TERMINAL; i++)
			terminal_chain(b, c, terminal_reasons[i]);
		snprintf(name, sizeof(name), "s%u", c);
		snprintf(name2, sizeof(name2), "k%u", c);
		selector_rules(b, name, c, tail_goto, name2);
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
	/* judge: loopback, then the classes (enforce ones first), then fin */
	if (p->allow_loopback) {
		static const uint8_t lo4[4] = { 127 }, m4[4] = { 255 }, lo6[16] = { [15] = 1 },
				     m6[16] = { [10] = 0xff, [11] = 0xff, [12] = 127 },
				     mm6[16] = { 255, 255, 255, 255, 255, 255, 255, 255,
						 255, 255, 255, 255, 255 };

		r = rule_new(b);
		e_nfproto(r, NFPROTO_IPV4);
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 16, 4, R_ADDR);
		e_bitwise(r, R_ADDR, m4, 4);
		e_cmp(r, R_ADDR, NFT_CMP_EQ, lo4, 4);
		e_verdict(r, NFT_GOTO, "loop");
		rule_add(b, "judge", r);
		r = rule_new(b);
		e_nfproto(r, NFPROTO_IPV6);
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, R_ADDR);
		e_cmp(r, R_ADDR, NFT_CMP_EQ, lo6, 16);
		e_verdict(r, NFT_GOTO, "loop");
		rule_add(b, "judge", r);
		r = rule_new(b);
		e_nfproto(r, NFPROTO_IPV6);
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, R_ADDR);
		e_bitwise(r, R_ADDR, mm6, 16);
		e_cmp(r, R_ADDR, NFT_CMP_EQ, m6, 16);
		e_verdict(r, NFT_GOTO, "loop");
		rule_add(b, "judge", r);
	}
	for (size_t i = 0; i < p->n_classes; i++) {
		snprintf(name, sizeof(name), "s%u", b->pl->order[i]);
		r = rule_new(b);
		e_verdict(r, NFT_JUMP, name);
		rule_add(b, "judge", r);
	}
	r = rule_new(b);
	e_verdict(r, NFT_GOTO, "fin");
	rule_add(b, "judge", r);
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
	/* fin: any class needing an exception? then the first class's allow */
	for (uint32_t c = 0; c < p->n_classes; c++) {
		snprintf(name, sizeof(name), "v%u", c);
		selector_rules(b, "fin", c, tail_jump, name);
	}
	for (uint32_t c = 0; c < p->n_classes; c++) {
		snprintf(name, sizeof(name), "fd%u", c);
		selector_rules(b, "fin", c, tail_goto, name);
	}
	df_nft_counter_name(counter, sizeof(counter), DF_MAX_CLASSES, DF_ALLOW, DF_R_UNCLASSIFIED);
	r = rule_new(b);
	tail_count_accept(r, counter);
	rule_add(b, "fin", r);
	/* the hook */
	r = rule_new(b);
	e_verdict(r, NFT_JUMP, "judge");
	rule_add(b, "output", r);
}

/* Every chain first: rules name them. */
static void chains(struct build *b, bool have_output, const char *sha256)
{
	const struct df_policy *p = b->p;
	static const char *const fixed[] = { "loop", "fin", "fx" };
	char name[32], comment[NFTNL_UDATA_COMMENT_MAXLEN];

	if (!have_output) {
		struct nftnl_chain *c = nftnl_chain_alloc();
		struct nlmsghdr *nlh;

		nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, FAMILY);
		nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, b->table);
		nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, "output");
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, NF_INET_LOCAL_OUT);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 0);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
		nlh = msg(b->bt, NFT_MSG_NEWCHAIN, NLM_F_CREATE, "chain output");
		if (nlh) {
			nftnl_chain_nlmsg_build_payload(nlh, c);
			msg_done(b->bt);
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
	for (uint32_t c = 0; c < p->n_classes; c++) {
		static const char *const per[] = { "s", "k", "v", "fd" };

		for (size_t i = 0; i < sizeof(per) / sizeof(per[0]); i++) {
			snprintf(name, sizeof(name), "%s%u", per[i], c);
			chain_add(b, name);
		}
		for (size_t i = 0; i < N_TERMINAL; i++) {
			snprintf(name, sizeof(name), "t%u_%d", c, terminal_reasons[i]);
			chain_add(b, name);
		}
	}
}
/* ---- sets ------------------------------------------------------------------------ */

struct set_def {
	const char *name;
	uint32_t key_type; /* NFT_TYPE_* (concatenations: combined) */
	uint32_t flags;    /* NFT_SET_* */
	uint32_t key_len;  /* bytes, fields padded to 4 */
	uint8_t fields[4]; /* concatenations: field lengths */
};

struct set_out {
	struct build *b;
	const struct set_def *def;
	struct nftnl_set *s; /* the message being filled */
	size_t n;
};

static struct nftnl_set *set_obj(struct build *b, const struct set_def *def)
{
	struct nftnl_set *s = nftnl_set_alloc();

	nftnl_set_set_str(s, NFTNL_SET_TABLE, b->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, def->name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, FAMILY);
	return s;
}

static void set_begin(struct set_out *o, struct build *b, const struct set_def *def)
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
	nlh = msg(b->bt, NFT_MSG_NEWSET, NLM_F_CREATE, "set %s", def->name);
	if (nlh) {
		nftnl_set_nlmsg_build_payload(nlh, s);
		msg_done(b->bt);
	}
	nftnl_set_free(s);
	*o = (struct set_out){ .b = b, .def = def };
}

static void set_flush(struct set_out *o)
{
	struct nlmsghdr *nlh;

	if (!o->s)
		return;
	nlh = msg(o->b->bt, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "elements of set %s", o->def->name);
	if (nlh) {
		nftnl_set_elems_nlmsg_build_payload(nlh, o->s);
		msg_done(o->b->bt);
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
static void range_set(struct build *b, const char *name, const struct df_ranges *in, int family)
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

static void selector_sets(struct build *b, uint32_t c)
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
static int leafset(struct build *b, const uint32_t *leaves, size_t n, char out[16])
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
static int group(struct build *b, const struct df_nft_boxes *bx, struct groups *out)
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

static void build_free(struct build *b)
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
}

static int sets(struct build *b)
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
	}
	for (size_t e = 0; e < pl->n_exc && !err; e++)
		err = group(b, &pl->exc[e].box, &b->exc[e]);
	return err;
}
/* ---- objects: counters (kept across swaps) and the report limiter ------------------ */

static void object(struct build *b, uint32_t type, const char *name)
{
	struct nftnl_obj *ob = nftnl_obj_alloc();
	struct nlmsghdr *nlh;

	nftnl_obj_set_str(ob, NFTNL_OBJ_TABLE, b->table);
	nftnl_obj_set_str(ob, NFTNL_OBJ_NAME, name);
	nftnl_obj_set_u32(ob, NFTNL_OBJ_FAMILY, FAMILY);
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
	nlh = msg(b->bt, NFT_MSG_NEWOBJ, NLM_F_CREATE, "object %s", name);
	if (nlh) {
		nftnl_obj_nlmsg_build_payload(nlh, ob);
		msg_done(b->bt);
	}
	nftnl_obj_free(ob);
}

static void objects(struct build *b)
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
				if (s != DF_MAX_CLASSES && r == DF_R_UNCLASSIFIED)
					continue;
				if (v != DF_ALLOW &&
				    (v == DF_DROP) != (p->classes[s].mode == DF_MODE_ENFORCE))
					continue;
				df_nft_counter_name(name, sizeof(name), s, v, r);
				object(b, NFT_OBJECT_COUNTER, name);
			}
	}
}

/* ---- what the table holds now ---------------------------------------------------- */

struct names {
	char **v;
	size_t n, cap;
};

static void names_free(struct names *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
	memset(n, 0, sizeof(*n));
}

static int names_add(struct names *n, const char *s)
{
	if (n->n == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 64;
		char **v = realloc(n->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		n->v = v;
		n->cap = cap;
	}
	n->v[n->n] = strdup(s);
	return n->v[n->n++] ? 0 : -ENOMEM;
}

/* One dump request, each reply message to cb. */
static int dump(uint16_t type, void (*build)(struct nlmsghdr *, const void *), const void *arg,
		mnl_cb_t cb, void *data)
{
	struct mnl_socket *nl = nl_open();
	char *buf = malloc(MNL_SOCKET_BUFFER_SIZE * 4);
	uint32_t seq = (uint32_t)time(NULL);
	struct nlmsghdr *nlh;
	int ret = 0;

	if (!nl || !buf) {
		ret = errno ? -errno : -ENOMEM;
		goto out;
	}
	nlh = nftnl_nlmsg_build_hdr(buf, type, FAMILY, NLM_F_DUMP, seq);
	if (build)
		build(nlh, arg);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, MNL_SOCKET_BUFFER_SIZE * 4);

		if (n < 0) {
			ret = -errno;
			break;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), cb, data);
		if (ret <= 0) {
			ret = ret < 0 ? -errno : 0;
			break;
		}
	}
out:
	free(buf);
	if (nl)
		mnl_socket_close(nl);
	return ret;
}

struct listing {
	const char *table;
	bool present;
	struct names chains, sets;
	bool have_output;
	char comment[256];
};

static int on_chain(const struct nlmsghdr *nlh, void *data)
{
	struct listing *l = data;
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (c && nftnl_chain_nlmsg_parse(nlh, c) == 0 &&
	    !strcmp(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), l->table) &&
	    nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY) == FAMILY) {
		const char *name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);

		if (!strcmp(name, "output"))
			l->have_output = true;
		else
			names_add(&l->chains, name);
		if (!strcmp(name, "judge") && nftnl_chain_is_set(c, NFTNL_CHAIN_USERDATA)) {
			uint32_t len;
			const void *ud = nftnl_chain_get_data(c, NFTNL_CHAIN_USERDATA, &len);
			const struct nftnl_udata *attr;

			nftnl_udata_for_each_data(ud, len, attr)
				if (nftnl_udata_type(attr) == NFTNL_UDATA_CHAIN_COMMENT)
					snprintf(l->comment, sizeof(l->comment), "%.*s",
						 (int)nftnl_udata_len(attr),
						 (const char *)nftnl_udata_get(attr));
		}
	}
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

static int on_set(const struct nlmsghdr *nlh, void *data)
{
	struct listing *l = data;
	struct nftnl_set *s = nftnl_set_alloc();

	if (s && nftnl_set_nlmsg_parse(nlh, s) == 0 &&
	    !strcmp(nftnl_set_get_str(s, NFTNL_SET_TABLE), l->table) &&
	    nftnl_set_get_u32(s, NFTNL_SET_FAMILY) == FAMILY)
		names_add(&l->sets, nftnl_set_get_str(s, NFTNL_SET_NAME));
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static void build_set_dump(struct nlmsghdr *nlh, const void *table)
{
	struct nftnl_set *s = nftnl_set_alloc();

	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
}

static int on_table(const struct nlmsghdr *nlh, void *data)
{
	struct listing *l = data;
	struct nftnl_table *t = nftnl_table_alloc();

	if (t && nftnl_table_nlmsg_parse(nlh, t) == 0 &&
	    !strcmp(nftnl_table_get_str(t, NFTNL_TABLE_NAME), l->table) &&
	    nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY) == FAMILY)
		l->present = true;
	nftnl_table_free(t);
	return MNL_CB_OK;
}

/* The table, its chains (and the judge chain's comment) and, for a swap,
 * its sets. */
static int list_table(const char *table, struct listing *l, bool *present, bool sets)
{
	int err;

	memset(l, 0, sizeof(*l));
	l->table = table;
	err = dump(NFT_MSG_GETTABLE, NULL, NULL, on_table, l);
	*present = l->present;
	if (!err && *present)
		err = dump(NFT_MSG_GETCHAIN, NULL, NULL, on_chain, l);
	if (!err && *present && sets)
		err = dump(NFT_MSG_GETSET, build_set_dump, table, on_set, l);
	return err;
}

static void listing_free(struct listing *l)
{
	names_free(&l->chains);
	names_free(&l->sets);
}

/* cgroup selector paths -> ids (inode numbers), once per swap; a missing
 * cgroup is warned about and its selector left out. */
static int resolve_cgroups(struct build *b, const char *root)
{
	for (size_t c = 0; c < b->p->n_classes; c++) {
		const struct df_class *k = &b->p->classes[c];

		if (!k->n_cgroups)
			continue;
		b->cg_id[c] = calloc(k->n_cgroups, sizeof(uint64_t));
		if (!b->cg_id[c])
			return -ENOMEM;
		for (size_t i = 0; i < k->n_cgroups; i++) {
			char full[1024];
			struct stat st;

			if (root && snprintf(full, sizeof(full), "%s%s", root, k->cgroups[i]) <
					    (int)sizeof(full) && !stat(full, &st))
				b->cg_id[c][i] = st.st_ino;
			else
				df_diag_add(b->d, DF_SEV_WARNING, NULL, 0, NULL,
					    "cgroup %s does not exist (yet): its class is not applied to it",
					    k->cgroups[i]);
		}
	}
	return 0;
}

/* ---- the swap ---------------------------------------------------------------- */

int df_nft_apply(const struct df_nft_opts *o, const struct df_policy *p,
		 const struct df_nft_plan *pl, const char *cgroup_root, const char *sha256,
		 struct df_diags *d)
{
	struct build b = { .table = table_of(o), .p = p, .pl = pl, .o = o, .d = d };
	struct batch bt;
	struct listing l;
	struct nlmsghdr *nlh;
	bool present;
	char detail[256] = "";
	int err;

	err = list_table(b.table, &l, &present, true);
	if (err) {
		df_diag_add(d, DF_SEV_ERROR, NULL, 0, NULL, "nftables: cannot read table inet %s: %s",
			    b.table, strerror(-err));
		listing_free(&l);
		return err;
	}
	err = resolve_cgroups(&b, cgroup_root);
	if (!err)
		err = batch_init(&bt);
	if (err) {
		build_free(&b);
		listing_free(&l);
		return err;
	}
	b.bt = &bt;
	{
		struct nftnl_table *t = nftnl_table_alloc();

		nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, FAMILY);
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, b.table);
		nlh = msg(&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE, "table inet %s", b.table);
		if (nlh) {
			nftnl_table_nlmsg_build_payload(nlh, t);
			msg_done(&bt);
		}
		nftnl_table_free(t);
	}
	objects(&b);
	if (present) {
		/* the old contents go in the same transaction */
		struct nftnl_rule *r = nftnl_rule_alloc();

		nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, FAMILY);
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, b.table);
		nlh = msg(&bt, NFT_MSG_DELRULE, 0, "flush of table %s", b.table);
		if (nlh) {
			nftnl_rule_nlmsg_build_payload(nlh, r);
			msg_done(&bt);
		}
		nftnl_rule_free(r);
		for (size_t i = 0; i < l.sets.n; i++) {
			struct nftnl_set *s = nftnl_set_alloc();

			nftnl_set_set_str(s, NFTNL_SET_TABLE, b.table);
			nftnl_set_set_str(s, NFTNL_SET_NAME, l.sets.v[i]);
			nlh = msg(&bt, NFT_MSG_DELSET, 0, "removal of set %s", l.sets.v[i]);
			if (nlh) {
				nftnl_set_nlmsg_build_payload(nlh, s);
				msg_done(&bt);
			}
			nftnl_set_free(s);
		}
		for (size_t i = 0; i < l.chains.n; i++) {
			struct nftnl_chain *c = nftnl_chain_alloc();

			nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, FAMILY);
			nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, b.table);
			nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, l.chains.v[i]);
			nlh = msg(&bt, NFT_MSG_DELCHAIN, 0, "removal of chain %s", l.chains.v[i]);
			if (nlh) {
				nftnl_chain_nlmsg_build_payload(nlh, c);
				msg_done(&bt);
			}
			nftnl_chain_free(c);
		}
	}
	chains(&b, l.have_output, sha256);
	err = sets(&b);
	if (!err)
		rules(&b);
	if (!err)
		err = bt.err ? bt.err : batch_send(&bt, detail, sizeof(detail));
	if (err)
		df_diag_add(d, DF_SEV_ERROR, NULL, 0, NULL,
			    "nftables: the table was not changed: %s%s%s", strerror(-err),
			    detail[0] ? ": " : "", detail);
	build_free(&b);
	batch_free(&bt);
	listing_free(&l);
	return err;
}

int df_nft_info(const struct df_nft_opts *o, struct df_nft_info *info)
{
	struct listing l;
	bool present;
	int err = list_table(table_of(o), &l, &present, false);
	unsigned long long serial;
	int n = 0;

	memset(info, 0, sizeof(*info));
	info->present = present;
	if (!err && present &&
	    sscanf(l.comment, "datafence serial %llu sha256 %16s policy %n", &serial, info->sha256,
		   &n) == 2 && n > 0) {
		info->loaded = true;
		info->serial = serial;
		snprintf(info->policy, sizeof(info->policy), "%s", l.comment + n);
	}
	listing_free(&l);
	return err;
}

struct ctr_ctx {
	const char *table;
	df_nft_counter_cb cb;
	void *ctx;
};

static int on_obj(const struct nlmsghdr *nlh, void *data)
{
	struct ctr_ctx *c = data;
	struct nftnl_obj *ob = nftnl_obj_alloc();

	if (ob && nftnl_obj_nlmsg_parse(nlh, ob) == 0 &&
	    !strcmp(nftnl_obj_get_str(ob, NFTNL_OBJ_TABLE), c->table) &&
	    nftnl_obj_get_u32(ob, NFTNL_OBJ_TYPE) == NFT_OBJECT_COUNTER)
		c->cb(nftnl_obj_get_str(ob, NFTNL_OBJ_NAME), nftnl_obj_get_u64(ob, NFTNL_OBJ_CTR_PKTS),
		      nftnl_obj_get_u64(ob, NFTNL_OBJ_CTR_BYTES), c->ctx);
	nftnl_obj_free(ob);
	return MNL_CB_OK;
}

static void build_obj_dump(struct nlmsghdr *nlh, const void *table)
{
	struct nftnl_obj *ob = nftnl_obj_alloc();

	nftnl_obj_set_str(ob, NFTNL_OBJ_TABLE, table);
	nftnl_obj_set_u32(ob, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
	nftnl_obj_nlmsg_build_payload(nlh, ob);
	nftnl_obj_free(ob);
}

int df_nft_counters(const struct df_nft_opts *o, df_nft_counter_cb cb, void *ctx)
{
	struct ctr_ctx c = { .table = table_of(o), .cb = cb, .ctx = ctx };

	return dump(NFT_MSG_GETOBJ, build_obj_dump, c.table, on_obj, &c);
}

int df_nft_remove(const struct df_nft_opts *o)
{
	struct batch bt;
	struct nftnl_table *t;
	struct nlmsghdr *nlh;
	char detail[256];
	int err = batch_init(&bt);

	if (err)
		return err;
	t = nftnl_table_alloc();
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, FAMILY);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table_of(o));
	nlh = msg(&bt, NFT_MSG_DELTABLE, 0, "removal of table %s", table_of(o));
	if (nlh) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		msg_done(&bt);
	}
	nftnl_table_free(t);
	err = batch_send(&bt, detail, sizeof(detail));
	batch_free(&bt);
	return err;
}
