// SPDX-License-Identifier: GPL-2.0-only
/* Least privilege after start (privs.h), with libcap-ng. */
#include "privs.h"

#include <cap-ng.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <linux/capability.h>

/* What the running agent still does, and the capability it takes. */
static const struct {
	int cap;
	const char *name;
} keep[] = {
	{ CAP_BPF, "bpf" },                 /* the maps of each swap */
	{ CAP_PERFMON, "perfmon" },         /* with CAP_BPF: iterators (revocation) */
	{ CAP_NET_ADMIN, "net_admin" },     /* tc on new interfaces, nftables, sock_diag */
	{ CAP_SYS_ADMIN, "sys_admin" },     /* setns into each network namespace */
	{ CAP_SYS_PTRACE, "sys_ptrace" },   /* /proc/PID/ns/net of others' processes */
	{ CAP_DAC_READ_SEARCH, "dac_read_search" }, /* cgroup paths by file handle */
};

int df_privs_drop(bool shared_dir, char *kept, size_t len)
{
	size_t n = 0;

	capng_clear(CAPNG_SELECT_BOTH);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		if (capng_update(CAPNG_ADD,
				 CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
				 (unsigned int)keep[i].cap))
			return -EINVAL;
		n += (size_t)snprintf(kept + n, n < len ? len - n : 0, "%s%s", i ? " " : "",
				      keep[i].name);
	}
	if (shared_dir) { /* root writes there by privilege, not by mode */
		if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET,
				 CAP_DAC_OVERRIDE))
			return -EINVAL;
		snprintf(kept + n, n < len ? len - n : 0, " dac_override");
	}
	if (capng_apply(CAPNG_SELECT_BOTH))
		return -EPERM;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}
