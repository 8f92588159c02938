/* SPDX-License-Identifier: GPL-2.0-only */
/* The control socket: a Unix stream socket, one JSON request per line, one
 * JSON response per line (docs/control.md). Non-blocking throughout: a slow,
 * malformed or oversized request gets an error and never stalls the agent. */
#ifndef DF_CONTROL_H
#define DF_CONTROL_H

#include <jansson.h>
#include <stdint.h>

#define DF_CTL_MAX_REQUEST 65536
#define DF_CTL_MAX_CLIENTS 32
#define DF_CTL_TIMEOUT_MS 2000

/* Answers one request object; returns a new reference (the response). */
typedef json_t *(*df_ctl_handler)(json_t *req, void *ctx);

struct df_ctl;

/* Listens on `path` (mode 0600, its directory created 0755). */
int df_ctl_open(const char *path, df_ctl_handler h, void *ctx, struct df_ctl **out);
/* The listening socket and every client socket go to this epoll set. */
int df_ctl_epoll_add(struct df_ctl *c, int epfd);
/* Handles readiness of `fd` if it is one of ours; returns 1 if it was. */
int df_ctl_handle(struct df_ctl *c, int epfd, int fd, uint32_t events);
/* Closes clients whose request is overdue. */
void df_ctl_expire(struct df_ctl *c, int epfd);
void df_ctl_close(struct df_ctl *c);

/* Client side: one request, one response (timeout in ms). */
json_t *df_ctl_request(const char *path, json_t *req, int timeout_ms, char *err, size_t errlen);

#endif
