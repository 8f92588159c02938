/* SPDX-License-Identifier: GPL-2.0-only */
/* Every network namespace of the host, in turn (revocation walks them). */
#ifndef DF_NETNS_H
#define DF_NETNS_H

/* Runs fn in each network namespace of the host once (those of /proc's
 * processes and of /run/netns; ours first): the calling thread enters it
 * with setns() and comes back to its own after the last. where names the
 * namespace for messages. Returns how many namespaces fn ran in, or -errno
 * when we could not come back (then the caller is lost: it must stop). */
int df_each_netns(void (*fn)(void *arg, const char *where), void *arg);

#endif
