/* SPDX-License-Identifier: GPL-2.0-only */
/* The agent's privileges after start (docs/agent.md, "Privileges"): the
 * capabilities it still uses, no others (also out of the bounding set),
 * and no new privileges through exec. */
#ifndef DF_PRIVS_H
#define DF_PRIVS_H

#include <stdbool.h>
#include <stddef.h>

/* Keeps CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_SYS_PTRACE,
 * CAP_DAC_READ_SEARCH, and CAP_DAC_OVERRIDE when shared_dir (a metrics
 * file in a directory root may not write by its mode); sets
 * PR_SET_NO_NEW_PRIVS. kept: the names, for the log. */
int df_privs_drop(bool shared_dir, char *kept, size_t len);

#endif
