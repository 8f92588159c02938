/* SPDX-License-Identifier: GPL-2.0-only */
/* Revocation of live sockets (bpf/revoke.bpf.c, docs/datapath.md
 * "Revocation"): the TCP and UDP iterators over the datapath's pins, run in
 * every network namespace of the host after a narrowing change. */
#ifndef DF_REVOKE_H
#define DF_REVOKE_H

#include <stddef.h>

struct df_revoker;

/* Loads the iterators over the pinned maps in pin_dir: the probe of
 * whether this kernel can revoke. On error, why says what is missing. */
int df_revoker_open(const char *pin_dir, struct df_revoker **out, char *why, size_t len);
/* Judges every connected TCP and UDP socket of every network namespace
 * (those of /proc's processes and /run/netns) by the policy in force;
 * the refused ones are destroyed and reported (hook revoke). Returns the
 * number of namespaces walked, or -errno. */
int df_revoker_run(struct df_revoker *r);
void df_revoker_close(struct df_revoker *r);

#endif
