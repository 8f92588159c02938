// SPDX-License-Identifier: GPL-2.0-only
/* The backends as a list (backend.h): one policy into all of them with
 * rollback, their counters as one list, one unload. */
#include "backend.h"

#include <errno.h>
#include <string.h>

/* Apply order: the nftables batch first, then the BPF swap (a refused BPF
 * swap is the likelier failure, and the batch is the cheaper to undo). */
static const struct df_backend_ops *const all_kinds[] = { &df_nft_backend, &df_bpf_backend };
#define N_KINDS (sizeof(all_kinds) / sizeof(all_kinds[0]))

int df_backend_kinds(const char *name, const struct df_backend_ops **kinds, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < N_KINDS; i++)
		if (!name || !strcmp(name, "both") || !strcmp(name, all_kinds[i]->name))
			kinds[(*n)++] = all_kinds[i];
	return *n ? 0 : -EINVAL;
}

const char *df_backends_name(const struct df_backends *bs)
{
	if (bs->n == N_KINDS)
		return "both";
	return bs->n ? bs->v[0]->ops->name : NULL;
}

int df_backends_start(const struct df_backend_ops *const *kinds, size_t n,
		      const struct df_backend_conf *c, struct df_backends *bs)
{
	int err = 0;

	bs->n = 0;
	for (size_t i = 0; i < n && !err; i++) {
		err = kinds[i]->start(c, &bs->v[bs->n]);
		if (!err)
			bs->n++;
	}
	if (err)
		df_backends_close(bs);
	return err;
}

int df_backends_probe(const struct df_backend_ops *const *kinds, size_t n,
		      const struct df_backend_conf *c, struct df_backends *bs)
{
	int err = 0;

	if (!kinds) {
		kinds = all_kinds;
		n = N_KINDS;
	}
	bs->n = 0;
	for (size_t i = 0; i < n; i++) {
		int e = kinds[i]->probe(c, &bs->v[bs->n]);

		if (!e)
			bs->n++;
		else if (e != -ENOENT && !err)
			err = e;
	}
	return err;
}

void df_backends_close(struct df_backends *bs)
{
	for (size_t i = 0; i < bs->n; i++)
		bs->v[i]->ops->close(bs->v[i]);
	bs->n = 0;
}

int df_backends_apply(struct df_backends *bs, const struct df_loaded *new_pol,
		      const struct df_loaded *old, struct df_diags *d)
{
	for (size_t i = 0; i < bs->n; i++) {
		int err = bs->v[i]->ops->apply(bs->v[i], new_pol, d);

		if (!err)
			continue;
		/* the ones before it go back to the policy in force */
		for (size_t k = 0; old && k < i; k++)
			if (bs->v[k]->ops->apply(bs->v[k], old, d))
				df_diag_add(d, DF_SEV_ERROR, NULL, 0, NULL,
					    "%s: could not go back to serial %llu",
					    bs->v[k]->ops->name, (unsigned long long)old->p->serial);
		return err;
	}
	return 0;
}

int df_backends_active(struct df_backends *bs, uint64_t *serial)
{
	int err = -ENOENT;

	for (size_t i = 0; i < bs->n; i++) {
		uint64_t s;

		if (bs->v[i]->ops->active(bs->v[i], &s))
			continue;
		if (err || s > *serial)
			*serial = s;
		err = 0;
	}
	return err;
}

void df_backends_counters(struct df_backends *bs, const struct df_policy *p, struct df_counts *c)
{
	for (size_t i = 0; i < bs->n; i++)
		bs->v[i]->ops->counters(bs->v[i], p, c);
	df_counts_sort(c);
}

void df_backends_revoke(struct df_backends *bs, const struct df_loaded *l, const char *why)
{
	for (size_t i = bs->n; l && i-- > 0;)
		if (bs->v[i]->ops->revoke && bs->v[i]->ops->revoke(bs->v[i], l, why) != -EOPNOTSUPP)
			return;
}

int df_backends_unload(const struct df_backend_ops *const *kinds, size_t n,
		       const struct df_backend_conf *c, struct df_unload_result *res)
{
	int err = 0;

	for (size_t i = 0; i < n; i++) {
		res[i].backend = kinds[i]->name;
		res[i].msg[0] = '\0';
		res[i].err = kinds[i]->unload(c, res[i].msg, sizeof(res[i].msg));
		if (res[i].err && res[i].err != -ENOENT && !err)
			err = res[i].err;
	}
	return err;
}

const char *df_unload_outcome(const struct df_unload_result *r)
{
	return !r->err ? "enforcement removed" : r->err == -ENOENT ? "nothing to remove" : "unload failed";
}

bool df_backends_check(struct df_backends *bs, const struct df_loaded *l)
{
	bool proven = true;

	for (size_t i = 0; i < bs->n; i++)
		if (bs->v[i]->ops->check)
			proven &= bs->v[i]->ops->check(bs->v[i], l);
	return proven;
}

void df_backends_heartbeat(struct df_backends *bs)
{
	for (size_t i = 0; i < bs->n; i++)
		if (bs->v[i]->ops->heartbeat)
			bs->v[i]->ops->heartbeat(bs->v[i]);
}

void df_backends_storm(struct df_backends *bs, const struct df_policy *p, struct df_storm *s)
{
	for (size_t i = 0; i < bs->n; i++)
		if (bs->v[i]->ops->storm)
			bs->v[i]->ops->storm(bs->v[i], p, s);
}

uint64_t df_backends_slot_packets(struct df_backends *bs, int slot)
{
	uint64_t n = 0;

	for (size_t i = 0; i < bs->n; i++)
		if (bs->v[i]->ops->slot_packets)
			n += bs->v[i]->ops->slot_packets(bs->v[i], slot);
	return n;
}
