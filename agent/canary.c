// SPDX-License-Identifier: GPL-2.0-only
/* The active canary (canary.h). */
#include "canary.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgpath.h"
#include "log.h"
#include "refeval.h"
#include "verdict.h"

#define CANARY_DIR "datafence-canary"
/* Each probe's own cgroup below it, made anew for every probe: the datapath
 * remembers a cgroup's classes per swap (df_cls_cache), and a probe from a
 * cgroup seen before would be answered from there; a new cgroup (a new id)
 * is classified through the tables themselves every time. */
#define PROBE_DIR "probe"
#define PROBE_MS 2000 /* a probe that takes longer is killed and failed */

struct df_canary {
	char cgroot[512];
	char rel[1100]; /* relative to cgroot: the selector */
};

int df_canary_open(const char *cgroot, struct df_canary **out, char *why, size_t len)
{
	struct df_canary *c = calloc(1, sizeof(*c));
	char own[1024], path[1700];
	int err;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	err = df_cgroup_self(own, sizeof(own));
	if (err) {
		snprintf(why, len, "no cgroup v2 line in /proc/self/cgroup");
		free(c);
		return err;
	}
	snprintf(c->cgroot, sizeof(c->cgroot), "%s", cgroot);
	snprintf(c->rel, sizeof(c->rel), "%s/%s", own, CANARY_DIR);
	snprintf(path, sizeof(path), "%s%s", cgroot, c->rel);
	if (mkdir(path, 0755) && errno != EEXIST) {
		err = -errno;
		snprintf(why, len, "cannot make its cgroup %s: %s", path, strerror(errno));
		free(c);
		return err;
	}
	*out = c;
	return 0;
}

const char *df_canary_cgroup(const struct df_canary *c)
{
	return c->rel;
}

/* The canary's datagram as the evaluators see it (before routing the
 * source may be unknown: both ways). */
static void canary_packet(const struct df_canary *c, const char *src, struct df_packet *pkt)
{
	memset(pkt, 0, sizeof(*pkt));
	df_addr_parse(src, &pkt->src);
	df_addr_parse(DF_CANARY_DST, &pkt->dst);
	pkt->proto = IPPROTO_UDP;
	pkt->sport = DF_CANARY_SPORT;
	pkt->dport = DF_CANARY_PORT;
	pkt->uid = 0;
	pkt->cgroup = c->rel;
}

int df_canary_add_class(const struct df_canary *c, struct df_policy *p, char *why, size_t len)
{
	static const char *const srcs[] = { "127.0.0.1", "0.0.0.0" };
	struct df_class *v, *k;
	struct df_packet pkt;

	for (size_t i = 0; i < sizeof(srcs) / sizeof(srcs[0]); i++) {
		uint64_t classes;

		canary_packet(c, srcs[i], &pkt);
		classes = df_ref_classify(p, &pkt);
		if (classes) {
			snprintf(why, len, "its packet would carry class %s (cgroup %s, uid 0, source "
					   "port %d): it would be counted as the operator's",
				 p->classes[__builtin_ctzll(classes)].name, c->rel, DF_CANARY_SPORT);
			return -EEXIST;
		}
	}
	if (p->n_classes >= DF_MAX_CLASSES) {
		snprintf(why, len, "the policy uses all %d classes", DF_MAX_CLASSES);
		return -E2BIG;
	}
	v = realloc(p->classes, (p->n_classes + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	p->classes = v;
	k = &v[p->n_classes];
	memset(k, 0, sizeof(*k));
	k->mode = DF_MODE_ENFORCE;
	k->name = strdup(DF_CANARY_CLASS);
	k->cgroups = calloc(1, sizeof(*k->cgroups));
	if (k->cgroups)
		k->cgroups[0] = strdup(c->rel);
	if (!k->name || !k->cgroups || !k->cgroups[0]) {
		free(k->name);
		if (k->cgroups)
			free(k->cgroups[0]);
		free(k->cgroups);
		return -ENOMEM;
	}
	k->n_cgroups = 1;
	p->canary = 1ULL << p->n_classes;
	p->n_classes++;
	return 0;
}

/* ---- the probe (in the child) ------------------------------------------------------- */

/* A route to the canary's destination through loopback: with only the
 * sendmsg hook off, the datagram reaches cgroup_skb (and no further). */
static int route_via_lo(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rt;
	struct in_addr dst;
	int err = 0;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		err = -errno;
		goto out;
	}
	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK;
	rt = mnl_nlmsg_put_extra_header(nlh, sizeof(*rt));
	rt->rtm_family = AF_INET;
	rt->rtm_dst_len = 32;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = RT_SCOPE_LINK;
	rt->rtm_type = RTN_UNICAST;
	inet_pton(AF_INET, DF_CANARY_DST, &dst);
	mnl_attr_put_u32(nlh, RTA_DST, dst.s_addr);
	mnl_attr_put_u32(nlh, RTA_OIF, if_nametoindex("lo"));
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0 ||
	    mnl_socket_recvfrom(nl, buf, sizeof(buf)) < 0) {
		err = -errno;
		goto out;
	}
	err = mnl_cb_run(buf, sizeof(buf), 0, 0, NULL, NULL) < 0 ? -errno : 0;
out:
	if (nl)
		mnl_socket_close(nl);
	return err;
}

static int lo_up(void)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		err = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!err && ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* The child: into the cgroup, into a network namespace of its own, one
 * datagram. Its first line on fd says what happened. */
static int child(const struct df_canary *c, int fd)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(DF_CANARY_PORT) };
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(DF_CANARY_SPORT) };
	char path[1700];
	const char *step;
	int s, procs;

	snprintf(path, sizeof(path), "%s%s/" PROBE_DIR "/cgroup.procs", c->cgroot, c->rel);
	step = "joining its cgroup";
	procs = open(path, O_WRONLY | O_CLOEXEC);
	if (procs < 0 || write(procs, "0\n", 2) != 2)
		goto fail;
	close(procs);
	step = "entering a network namespace of its own";
	if (unshare(CLONE_NEWNET))
		goto fail;
	step = "bringing its loopback up";
	if ((errno = -lo_up()))
		goto fail;
	step = "routing " DF_CANARY_DST " to loopback";
	if ((errno = -route_via_lo()))
		goto fail;
	step = "making its socket";
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || bind(s, (struct sockaddr *)&src, sizeof(src)))
		goto fail;
	inet_pton(AF_INET, DF_CANARY_DST, &dst.sin_addr);
	if (sendto(s, "datafence canary", 16, 0, (struct sockaddr *)&dst, sizeof(dst)) == 16) {
		dprintf(fd, "sent: the datagram to %s:%d was not refused\n", DF_CANARY_DST,
			DF_CANARY_PORT);
		return 1;
	}
	if (errno == EPERM) {
		dprintf(fd, "refused\n");
		return 0;
	}
	step = "sending";
fail:
	dprintf(fd, "%s: %s\n", step, strerror(errno));
	return 2;
}

int df_canary_probe(struct df_canary *c, char *why, size_t len)
{
	int p[2], status = 0, err;
	char probe[1700];
	struct pollfd pf;
	ssize_t n;
	pid_t pid;

	why[0] = '\0';
	snprintf(probe, sizeof(probe), "%s%s/" PROBE_DIR, c->cgroot, c->rel);
	rmdir(probe); /* the last probe's, if it is still there */
	if (mkdir(probe, 0755)) {
		err = -errno;
		snprintf(why, len, "cannot make its probe cgroup %s: %s", probe, strerror(errno));
		return err;
	}
	if (pipe2(p, O_CLOEXEC)) {
		err = -errno;
		rmdir(probe);
		return err;
	}
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(p[0]);
		close(p[1]);
		rmdir(probe);
		snprintf(why, len, "fork: %s", strerror(-err));
		return err;
	}
	if (pid == 0) {
		close(p[0]);
		_exit(child(c, p[1]));
	}
	close(p[1]);
	pf = (struct pollfd){ .fd = p[0], .events = POLLIN };
	if (poll(&pf, 1, PROBE_MS) != 1) {
		kill(pid, SIGKILL);
		snprintf(why, len, "no answer within %d ms", PROBE_MS);
	} else if ((n = read(p[0], why, len - 1)) > 0) {
		why[n] = '\0';
		why[strcspn(why, "\n")] = '\0';
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rmdir(probe); /* empty now the child is reaped (else the next probe's) */
	if (!WIFEXITED(status))
		return why[0] ? -ETIMEDOUT : -ECHILD;
	if (WEXITSTATUS(status) == 0)
		return 0;
	return WEXITSTATUS(status) == 1 ? 1 : -EIO;
}

void df_canary_close(struct df_canary *c)
{
	char path[1700];

	if (!c)
		return;
	snprintf(path, sizeof(path), "%s%s/" PROBE_DIR, c->cgroot, c->rel);
	rmdir(path);
	snprintf(path, sizeof(path), "%s%s", c->cgroot, c->rel);
	/* the cgroup2 root's directory is 0555: without the privileges the
	 * agent gave up, its canary stays there for the next start */
	if (rmdir(path) && errno != ENOENT)
		pr_notice("the canary's cgroup %s stays (%s)", path, strerror(errno));
	free(c);
}
