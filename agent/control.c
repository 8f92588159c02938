// SPDX-License-Identifier: GPL-2.0-only
/* Control socket server and client (see control.h). */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "safefile.h"

struct client {
	int fd;
	struct df_ctl_peer peer;
	long deadline_ms;
	char *in;      /* request bytes so far */
	size_t n_in;
	char *out;     /* response bytes left to send */
	size_t n_out, off_out;
};

struct df_ctl {
	int fd;
	gid_t admin_gid;
	char path[108];
	df_ctl_handler h;
	void *ctx;
	struct client c[DF_CTL_MAX_CLIENTS];
};

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

int df_ctl_open(const char *path, gid_t admin_gid, df_ctl_handler h, void *ctx,
		struct df_ctl **out, char *why, size_t whylen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *base;
	struct df_ctl *c;
	mode_t old;
	int err, dirfd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return snprintf(why, whylen, "%s: path too long", path), -ENAMETOOLONG;
	/* the directory: root's and no one else's to write (safefile.h) */
	dirfd = df_dir_open(path, false, 0755, &base, why, whylen);
	if (dirfd < 0)
		return dirfd;
	close(dirfd);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (int i = 0; i < DF_CTL_MAX_CLIENTS; i++)
		c->c[i].fd = -1;
	c->h = h;
	c->ctx = ctx;
	c->admin_gid = admin_gid;
	snprintf(c->path, sizeof(c->path), "%s", path);
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		err = -errno;
		free(c);
		return snprintf(why, whylen, "%s: %s", path, strerror(-err)), err;
	}
	unlink(path); /* a stale socket of a previous agent */
	old = umask(0177);
	err = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(c->fd, 16) ? -errno : 0;
	umask(old);
	if (err) {
		close(c->fd);
		free(c);
		return snprintf(why, whylen, "%s: %s", path, strerror(-err)), err;
	}
	*out = c;
	return 0;
}

int df_ctl_epoll_add(struct df_ctl *c, int epfd)
{
	return epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd,
			 &(struct epoll_event){ .events = EPOLLIN, .data.u64 = (uint32_t)c->fd });
}

static void drop_client(int epfd, struct client *cl)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, cl->fd, NULL);
	close(cl->fd);
	free(cl->in);
	free(cl->out);
	memset(cl, 0, sizeof(*cl));
	cl->fd = -1;
}

static void respond(struct df_ctl *c, int epfd, struct client *cl, json_t *resp)
{
	char *s = json_dumps(resp, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(resp);
	free(cl->in);
	cl->in = NULL;
	cl->n_in = 0;
	if (!s || asprintf(&cl->out, "%s\n", s) < 0) {
		free(s);
		drop_client(epfd, cl);
		return;
	}
	free(s);
	cl->n_out = strlen(cl->out);
	cl->off_out = 0;
	epoll_ctl(epfd, EPOLL_CTL_MOD, cl->fd,
		  &(struct epoll_event){ .events = EPOLLOUT, .data.u64 = (uint32_t)cl->fd });
	(void)c;
}

static json_t *error_json(const char *msg)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", msg);
}

static void on_readable(struct df_ctl *c, int epfd, struct client *cl)
{
	char buf[4096];
	ssize_t n;

	while ((n = read(cl->fd, buf, sizeof(buf))) > 0) {
		char *nl;

		if (cl->n_in + (size_t)n > DF_CTL_MAX_REQUEST) {
			respond(c, epfd, cl, error_json("request too large"));
			return;
		}
		char *t = realloc(cl->in, cl->n_in + (size_t)n + 1);

		if (!t) {
			drop_client(epfd, cl);
			return;
		}
		cl->in = t;
		memcpy(cl->in + cl->n_in, buf, (size_t)n);
		cl->n_in += (size_t)n;
		cl->in[cl->n_in] = '\0';
		nl = memchr(cl->in, '\n', cl->n_in);
		if (nl) {
			json_error_t je;
			json_t *req = json_loadb(cl->in, (size_t)(nl - cl->in), 0, &je);
			json_t *resp;

			if (!req || !json_is_object(req) ||
			    !json_is_string(json_object_get(req, "cmd"))) {
				char msg[256];

				snprintf(msg, sizeof(msg), "malformed request: %s",
					 req ? "expected {\"cmd\": ...}" : je.text);
				resp = error_json(msg);
			} else {
				resp = c->h(req, &cl->peer, c->ctx);
			}
			json_decref(req);
			respond(c, epfd, cl, resp ? resp : error_json("internal error"));
			return;
		}
	}
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
		drop_client(epfd, cl);
}

static void on_writable(int epfd, struct client *cl)
{
	/* a client gone before its answer is an error here, not a SIGPIPE */
	ssize_t n = send(cl->fd, cl->out + cl->off_out, cl->n_out - cl->off_out, MSG_NOSIGNAL);

	if (n > 0)
		cl->off_out += (size_t)n;
	if (cl->off_out == cl->n_out || (n < 0 && errno != EAGAIN))
		drop_client(epfd, cl); /* one request per connection */
}

/* Is the peer a member of gid (its primary group or a supplementary one,
 * as they were when it connected)? */
static bool peer_in_group(int fd, gid_t primary, gid_t gid)
{
	gid_t groups[256];
	socklen_t len = sizeof(groups);

	if (primary == gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len))
		return false;
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* A slot for this peer: root may take any; another user at most
 * DF_CTL_MAX_PER_UID, and users other than root together leave
 * DF_CTL_ROOT_SLOTS free. NULL: busy for this peer. */
static struct client *slot_for(struct df_ctl *c, uid_t uid)
{
	struct client *free_slot = NULL;
	int others = 0, mine = 0;

	for (int i = 0; i < DF_CTL_MAX_CLIENTS; i++) {
		if (c->c[i].fd < 0) {
			free_slot = free_slot ? free_slot : &c->c[i];
			continue;
		}
		others += c->c[i].peer.uid != 0;
		mine += c->c[i].peer.uid == uid;
	}
	if (uid != 0 &&
	    (mine >= DF_CTL_MAX_PER_UID || others >= DF_CTL_MAX_CLIENTS - DF_CTL_ROOT_SLOTS))
		return NULL;
	return free_slot;
}

static void accept_clients(struct df_ctl *c, int epfd)
{
	int cfd;

	while ((cfd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		struct client *cl = NULL;

		if (!getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len))
			cl = slot_for(c, cred.uid);
		if (!cl) { /* busy (for this peer): say so, never queue without bound */
			static const char busy[] = "{\"ok\":false,\"error\":\"busy\"}\n";
			ssize_t w = send(cfd, busy, sizeof(busy) - 1, MSG_NOSIGNAL);

			(void)w;
			close(cfd);
			continue;
		}
		cl->fd = cfd;
		cl->peer = (struct df_ctl_peer){
			.uid = cred.uid, .gid = cred.gid, .pid = cred.pid,
			.admin = cred.uid == 0 || (c->admin_gid != (gid_t)-1 &&
						   peer_in_group(cfd, cred.gid, c->admin_gid)),
		};
		cl->deadline_ms = now_ms() + DF_CTL_TIMEOUT_MS;
		epoll_ctl(epfd, EPOLL_CTL_ADD, cfd,
			  &(struct epoll_event){ .events = EPOLLIN, .data.u64 = (uint32_t)cfd });
	}
}

int df_ctl_handle(struct df_ctl *c, int epfd, int fd, uint32_t events)
{
	if (fd == c->fd) {
		accept_clients(c, epfd);
		return 1;
	}
	for (int i = 0; i < DF_CTL_MAX_CLIENTS; i++) {
		struct client *cl = &c->c[i];

		if (cl->fd != fd)
			continue;
		if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLIN))
			drop_client(epfd, cl);
		else if (cl->out)
			on_writable(epfd, cl);
		else
			on_readable(c, epfd, cl);
		return 1;
	}
	return 0;
}

void df_ctl_expire(struct df_ctl *c, int epfd)
{
	long now = now_ms();

	for (int i = 0; i < DF_CTL_MAX_CLIENTS; i++)
		if (c->c[i].fd >= 0 && now > c->c[i].deadline_ms)
			drop_client(epfd, &c->c[i]);
}

void df_ctl_close(struct df_ctl *c)
{
	if (!c)
		return;
	for (int i = 0; i < DF_CTL_MAX_CLIENTS; i++)
		if (c->c[i].fd >= 0) {
			/* an answer not yet sent (the one to `unload`, which
			 * stops the agent) goes out if the socket takes it */
			if (c->c[i].out && c->c[i].off_out < c->c[i].n_out &&
			    send(c->c[i].fd, c->c[i].out + c->c[i].off_out,
				 c->c[i].n_out - c->c[i].off_out, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				pr_warn("control socket: an answer was not sent: %s", strerror(errno));
			close(c->c[i].fd);
			free(c->c[i].in);
			free(c->c[i].out);
		}
	close(c->fd);
	unlink(c->path);
	free(c);
}

/* The request and its newline; a server gone meanwhile is an error, not
 * a SIGPIPE. */
static int send_line(int fd, const char *s)
{
	size_t n = strlen(s), off = 0;

	while (off <= n) {
		ssize_t w = off < n ? send(fd, s + off, n - off, MSG_NOSIGNAL) :
				      send(fd, "\n", 1, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

json_t *df_ctl_request(const char *path, json_t *req, int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *s = NULL, *resp = NULL;
	size_t n = 0, cap = 0;
	json_t *out = NULL;
	json_error_t je;
	long deadline = now_ms() + timeout_ms;
	struct ucred cred = { 0 };
	socklen_t credlen = sizeof(cred);
	int fd = -1;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path too long");
		return NULL;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(err, errlen, "cannot connect to %s: %s", path, strerror(errno));
		goto cleanup;
	}
	/* only root's agent is believed: anyone may bind a socket somewhere */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) || cred.uid != 0) {
		snprintf(err, errlen, "%s is served by uid %d, not root: not the agent",
			 path, credlen == sizeof(cred) ? (int)cred.uid : -1);
		goto cleanup;
	}
	s = json_dumps(req, JSON_COMPACT);
	if (!s || send_line(fd, s)) {
		snprintf(err, errlen, "cannot send the request: %s", strerror(errno));
		goto cleanup;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long left = deadline - now_ms();
		ssize_t r;

		if (left <= 0 || poll(&p, 1, (int)left) != 1) {
			snprintf(err, errlen, "no answer from %s within %d ms", path, timeout_ms);
			goto cleanup;
		}
		if (n + 65536 + 1 > cap) {
			char *t = realloc(resp, cap = cap ? cap * 2 : 131072);

			if (!t)
				goto cleanup;
			resp = t;
		}
		r = read(fd, resp + n, cap - n - 1);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(resp, '\n', n))
			break;
	}
	if (!resp) {
		snprintf(err, errlen, "empty answer from %s", path);
		goto cleanup;
	}
	resp[n] = '\0';
	out = json_loads(resp, 0, &je);
	if (!out)
		snprintf(err, errlen, "bad answer from %s: %s", path, je.text);
cleanup:
	if (fd >= 0)
		close(fd);
	free(s);
	free(resp);
	return out;
}
