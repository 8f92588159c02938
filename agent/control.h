/* SPDX-License-Identifier: GPL-2.0-only */
/* The control socket: a Unix stream socket, one JSON request per line, one
 * JSON response per line (docs/control.md). Non-blocking throughout: a slow,
 * malformed or oversized request gets an error and never stalls the agent. */
#ifndef DF_CONTROL_H
#define DF_CONTROL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define DF_CTL_MAX_REQUEST 65536
#define DF_CTL_MAX_CLIENTS 32
#define DF_CTL_MAX_PER_UID 8 /* connections at once of one user other than root */
#define DF_CTL_ROOT_SLOTS 8  /* of the 32, kept for root: others never take them */
#define DF_CTL_TIMEOUT_MS 2000

/* Who asks (SO_PEERCRED when it connected): admin is uid 0 or a member of
 * the admin group; only an admin may change anything. */
struct df_ctl_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	bool admin;
};

/* Answers one request object; returns a new reference (the response). */
typedef json_t *(*df_ctl_handler)(json_t *req, const struct df_ctl_peer *peer, void *ctx);

struct df_ctl;

/* Listens on `path` (mode 0600; its directory made root's 0755 if missing,
 * and refused if it is not root's or others may write it). admin_gid: the
 * group whose members are admins too ((gid_t)-1: root only). */
int df_ctl_open(const char *path, gid_t admin_gid, df_ctl_handler h, void *ctx,
		struct df_ctl **out, char *why, size_t whylen);
/* The listening socket and every client socket go to this epoll set. */
int df_ctl_epoll_add(struct df_ctl *c, int epfd);
/* Handles readiness of `fd` if it is one of ours; returns 1 if it was. */
int df_ctl_handle(struct df_ctl *c, int epfd, int fd, uint32_t events);
/* Closes clients whose request is overdue. */
void df_ctl_expire(struct df_ctl *c, int epfd);
void df_ctl_close(struct df_ctl *c);

/* Client side: one request, one response (timeout in ms), from a server
 * of root's only (SO_PEERCRED). */
json_t *df_ctl_request(const char *path, json_t *req, int timeout_ms, char *err, size_t errlen);

#endif
