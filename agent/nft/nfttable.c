// SPDX-License-Identifier: GPL-2.0-only
/* The nftables backend's table: read what it holds, replace its contents in
 * one batch, read its counters, delete it (nfttable.h; the layout and why
 * it is built this way: docs/nftables.md). */
#include "nfttable.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/stat.h>
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
#include <libnftnl/table.h>

#include "nftbuild.h"
#include "nftnames.h"

static const char *table_of(const struct df_nft_opts *o)
{
	return o->table && *o->table ? o->table : DF_NFT_TABLE;
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
	    nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY) == DF_NFT_FAMILY) {
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
	    nftnl_set_get_u32(s, NFTNL_SET_FAMILY) == DF_NFT_FAMILY)
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
	    nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY) == DF_NFT_FAMILY)
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
	err = nft_dump(NFT_MSG_GETTABLE, NULL, NULL, on_table, l);
	*present = l->present;
	if (!err && *present)
		err = nft_dump(NFT_MSG_GETCHAIN, NULL, NULL, on_chain, l);
	if (!err && *present && sets)
		err = nft_dump(NFT_MSG_GETSET, build_set_dump, table, on_set, l);
	return err;
}

static void listing_free(struct listing *l)
{
	names_free(&l->chains);
	names_free(&l->sets);
}

/* cgroup selector paths -> ids (inode numbers), once per swap; a missing
 * cgroup is warned about and its selector left out. */
static int resolve_cgroups(struct nft_build *b, const char *root)
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
	struct nft_build b = { .table = table_of(o), .p = p, .pl = pl, .o = o, .d = d };
	struct nft_batch bt;
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
		err = nft_batch_init(&bt);
	if (err) {
		nft_build_free(&b);
		listing_free(&l);
		return err;
	}
	b.bt = &bt;
	{
		struct nftnl_table *t = nftnl_table_alloc();

		nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, DF_NFT_FAMILY);
		nftnl_table_set_str(t, NFTNL_TABLE_NAME, b.table);
		nlh = nft_msg(&bt, NFT_MSG_NEWTABLE, NLM_F_CREATE, "table inet %s", b.table);
		if (nlh) {
			nftnl_table_nlmsg_build_payload(nlh, t);
			nft_msg_done(&bt);
		}
		nftnl_table_free(t);
	}
	err = nft_classify(&b);
	if (err) {
		nft_build_free(&b);
		nft_batch_free(&bt);
		listing_free(&l);
		return err;
	}
	nft_objects(&b);
	if (present) {
		/* the old contents go in the same transaction */
		struct nftnl_rule *r = nftnl_rule_alloc();

		nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, DF_NFT_FAMILY);
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, b.table);
		nlh = nft_msg(&bt, NFT_MSG_DELRULE, 0, "flush of table %s", b.table);
		if (nlh) {
			nftnl_rule_nlmsg_build_payload(nlh, r);
			nft_msg_done(&bt);
		}
		nftnl_rule_free(r);
		for (size_t i = 0; i < l.sets.n; i++) {
			struct nftnl_set *s = nftnl_set_alloc();

			nftnl_set_set_str(s, NFTNL_SET_TABLE, b.table);
			nftnl_set_set_str(s, NFTNL_SET_NAME, l.sets.v[i]);
			nlh = nft_msg(&bt, NFT_MSG_DELSET, 0, "removal of set %s", l.sets.v[i]);
			if (nlh) {
				nftnl_set_nlmsg_build_payload(nlh, s);
				nft_msg_done(&bt);
			}
			nftnl_set_free(s);
		}
		for (size_t i = 0; i < l.chains.n; i++) {
			struct nftnl_chain *c = nftnl_chain_alloc();

			nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, DF_NFT_FAMILY);
			nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, b.table);
			nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, l.chains.v[i]);
			nlh = nft_msg(&bt, NFT_MSG_DELCHAIN, 0, "removal of chain %s", l.chains.v[i]);
			if (nlh) {
				nftnl_chain_nlmsg_build_payload(nlh, c);
				nft_msg_done(&bt);
			}
			nftnl_chain_free(c);
		}
	}
	nft_chains(&b, l.have_output, sha256);
	err = nft_sets(&b);
	if (!err)
		nft_rules(&b);
	if (!err)
		err = bt.err ? bt.err : nft_batch_send(&bt, detail, sizeof(detail));
	if (err)
		df_diag_add(d, DF_SEV_ERROR, NULL, 0, NULL,
			    "nftables: the table was not changed: %s%s%s", strerror(-err),
			    detail[0] ? ": " : "", detail);
	nft_build_free(&b);
	nft_batch_free(&bt);
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

struct ctr {
	char name[96];
	uint64_t pk, by;
};

struct ctr_ctx {
	const char *table;
	struct ctr *v;
	size_t n, cap;
	int err;
};

/* A new counter named `name`, zero (NULL: out of memory). */
static struct ctr *ctr_push(struct ctr_ctx *c, const char *name)
{
	if (c->n == c->cap) {
		struct ctr *v = realloc(c->v, (c->cap * 2 + 64) * sizeof(*v));

		if (!v)
			return NULL;
		c->v = v;
		c->cap = c->cap * 2 + 64;
	}
	memset(&c->v[c->n], 0, sizeof(c->v[0]));
	snprintf(c->v[c->n].name, sizeof(c->v[0].name), "%s", name);
	return &c->v[c->n++];
}

static int on_obj(const struct nlmsghdr *nlh, void *data)
{
	struct ctr_ctx *c = data;
	struct nftnl_obj *ob = nftnl_obj_alloc();
	struct ctr *t;

	if (ob && nftnl_obj_nlmsg_parse(nlh, ob) == 0 &&
	    !strcmp(nftnl_obj_get_str(ob, NFTNL_OBJ_TABLE), c->table) &&
	    nftnl_obj_get_u32(ob, NFTNL_OBJ_TYPE) == NFT_OBJECT_COUNTER) {
		t = ctr_push(c, nftnl_obj_get_str(ob, NFTNL_OBJ_NAME));
		if (!t) {
			c->err = -ENOMEM;
			nftnl_obj_free(ob);
			return MNL_CB_ERROR;
		}
		t->pk = nftnl_obj_get_u64(ob, NFTNL_OBJ_CTR_PKTS);
		t->by = nftnl_obj_get_u64(ob, NFTNL_OBJ_CTR_BYTES);
	}
	nftnl_obj_free(ob);
	return MNL_CB_OK;
}

/* The counter named `name`, added if missing (NULL: out of memory). */
static struct ctr *ctr_of(struct ctr_ctx *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].name, name))
			return &c->v[i];
	return ctr_push(c, name);
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
	struct ctr_ctx c = { .table = table_of(o) };
	size_t n;
	int err = nft_dump(NFT_MSG_GETOBJ, build_obj_dump, c.table, on_obj, &c);

	if (!err)
		err = c.err;
	/* the fast path's counters into the rule's and the class's allow */
	n = c.n;
	for (size_t i = 0; i < n && !err; i++) {
		char name[96];
		int slot, rule;
		struct ctr *t;

		if (df_nft_fast_parse(c.v[i].name, &slot, &rule))
			continue;
		for (int k = 0; k < 2 && !err; k++) {
			if (k)
				df_nft_counter_name(name, sizeof(name), slot, DF_ALLOW, DF_R_DESTINATION);
			else
				snprintf(name, sizeof(name), "df_r%d", rule);
			t = ctr_of(&c, name);
			if (!t) {
				err = -ENOMEM;
				break;
			}
			t->pk += c.v[i].pk; /* ctr_of may have moved c.v: index again */
			t->by += c.v[i].by;
		}
	}
	for (size_t i = 0; i < c.n && !err; i++) {
		int slot, rule;

		if (df_nft_fast_parse(c.v[i].name, &slot, &rule))
			cb(c.v[i].name, c.v[i].pk, c.v[i].by, ctx);
	}
	free(c.v);
	return err;
}

int df_nft_remove(const struct df_nft_opts *o)
{
	struct nft_batch bt;
	struct nftnl_table *t;
	struct nlmsghdr *nlh;
	char detail[256];
	int err = nft_batch_init(&bt);

	if (err)
		return err;
	t = nftnl_table_alloc();
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, DF_NFT_FAMILY);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table_of(o));
	nlh = nft_msg(&bt, NFT_MSG_DELTABLE, 0, "removal of table %s", table_of(o));
	if (nlh) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		nft_msg_done(&bt);
	}
	nftnl_table_free(t);
	err = nft_batch_send(&bt, detail, sizeof(detail));
	nft_batch_free(&bt);
	return err;
}
