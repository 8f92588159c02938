/* SPDX-License-Identifier: GPL-2.0-only */
/* The active canary (canary.c, agent.conf `canary`): proof that the
 * enforcement in force refuses what it must. The agent adds a class of its
 * own, DF_CANARY_CLASS, selecting a throwaway cgroup it owns (a child of its
 * own cgroup) and approved nowhere. A probe makes a new cgroup below it (a
 * new id: classified through the tables, not the datapath's class cache)
 * and forks a child that moves into it, enters a private network namespace holding only its loopback
 * device (nothing it sends can leave the host, even with enforcement
 * broken), and sends one UDP datagram to DF_CANARY_DST; the send must fail
 * with EPERM and the canary class's drop counters must move. The canary's
 * packets are counted apart (df_totals.canary), never as the operator's. */
#ifndef DF_CANARY_H
#define DF_CANARY_H

#include <stddef.h>

#include "policy.h"

/* Not a valid class name in a policy file: it cannot collide. */
#define DF_CANARY_CLASS "(canary)"
#define DF_CANARY_DST "203.0.113.254" /* TEST-NET-3 (RFC 5737) */
#define DF_CANARY_PORT 9                /* discard */
#define DF_CANARY_SPORT 40009           /* its source port */

struct df_canary;

/* Makes the canary's cgroup (under the agent's own, found in
 * /proc/self/cgroup) below cgroot; on error why says what failed. */
int df_canary_open(const char *cgroot, struct df_canary **out, char *why, size_t len);
/* Its path relative to the cgroup2 root (a selector). */
const char *df_canary_cgroup(const struct df_canary *c);
/* Adds the canary class to p (last, enforce mode) and sets p->canary.
 * Returns 0, or -E2BIG when p has no class slot left, -EEXIST when the
 * canary's packet would carry one of p's classes too (it would be counted
 * as the operator's; why names the class). */
int df_canary_add_class(const struct df_canary *c, struct df_policy *p, char *why, size_t len);
/* One probe: 0 when the send was refused with EPERM, 1 when it went out
 * (enforcement broken), -errno when the probe itself failed (why). */
int df_canary_probe(struct df_canary *c, char *why, size_t len);
/* Removes the cgroup. */
void df_canary_close(struct df_canary *c);

#endif
