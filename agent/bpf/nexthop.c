// SPDX-License-Identifier: GPL-2.0-only
/* The next-hop check's helper device (nexthop.h): tc checks where a crafted
 * frame goes with bpf_fib_lookup(), which looks a route up as if the
 * packet had arrived on a device with forwarding on. Storage hosts forward
 * nothing, so the agent keeps a veth pair of its own, down, without
 * addresses, with forwarding on at one end: nothing ever arrives there. */
#include "nexthop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <libmnl/libmnl.h>
#include <net/if_arp.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* One request, its acknowledgement's error. */
static int rtnl_talk(struct nlmsghdr *nlh)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	char buf[MNL_SOCKET_BUFFER_SIZE];
	int err = 0;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		err = -errno;
	} else {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n < 0)
			err = -errno;
		else if (mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, mnl_socket_get_portid(nl), NULL,
				    NULL) < 0)
			err = -errno;
	}
	mnl_socket_close(nl);
	return err;
}

static int create_pair(const char *name, const char *peer)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlattr *linkinfo, *data, *peer_attr;
	struct ifinfomsg *ifi;

	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer_attr = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, peer);
	mnl_attr_nest_end(nlh, peer_attr);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, linkinfo);
	return rtnl_talk(nlh);
}

/* net.ipv4.conf.<dev>.forwarding and net.ipv6.conf.<dev>.forwarding to 1
 * (a write to all.forwarding resets every device: hence the tick). */
static int forwarding_on(const char *dev)
{
	static const char *const fmt[] = { "/proc/sys/net/ipv4/conf/%s/forwarding",
					   "/proc/sys/net/ipv6/conf/%s/forwarding" };
	int err = 0;

	for (size_t i = 0; i < 2; i++) {
		char path[128], v = 0;
		int fd;

		snprintf(path, sizeof(path), fmt[i], dev);
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			if (!i)
				err = -errno; /* IPv6 may be off on the host */
			continue;
		}
		if (pread(fd, &v, 1, 0) != 1 || v != '1')
			if (pwrite(fd, "1\n", 2, 0) != 2 && !err)
				err = -errno;
		close(fd);
	}
	return err;
}

int df_nh_helper_ensure(int *ifindex)
{
	unsigned int idx = if_nametoindex(DF_NH_HELPER);
	int err = 0;

	if (!idx) {
		err = create_pair(DF_NH_HELPER, DF_NH_HELPER_PEER);
		if (err && err != -EEXIST) {
			pr_err("cannot create the next-hop helper %s: %s", DF_NH_HELPER, strerror(-err));
			return err;
		}
		idx = if_nametoindex(DF_NH_HELPER);
		if (!idx)
			return -ENODEV;
	}
	err = forwarding_on(DF_NH_HELPER);
	if (err)
		pr_err("cannot turn forwarding on for %s: %s", DF_NH_HELPER, strerror(-err));
	*ifindex = (int)idx;
	return err;
}

int df_nh_helper_remove(int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE], name[IF_NAMESIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;
	unsigned int idx = (unsigned int)ifindex;

	if (!if_indextoname(idx, name) || strcmp(name, DF_NH_HELPER))
		return -ENOENT;
	nlh->nlmsg_type = RTM_DELLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = (uint32_t)time(NULL);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = (int)idx;
	return rtnl_talk(nlh); /* the peer goes with it */
}

int df_link_l2_len(int ifindex)
{
	struct ifreq ifr = { 0 };
	int fd, err = 0;

	/* the link type from this network namespace (sysfs shows the one it
	 * was mounted in) */
	if (!if_indextoname((unsigned int)ifindex, ifr.ifr_name))
		return -ENODEV;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		err = -errno;
	close(fd);
	if (err)
		return err;
	switch (ifr.ifr_hwaddr.sa_family) {
	case ARPHRD_ETHER:
	case ARPHRD_LOOPBACK:
		return 14;
	case ARPHRD_NONE: /* tun, wireguard */
	case ARPHRD_RAWIP:
	case ARPHRD_TUNNEL:
	case ARPHRD_TUNNEL6:
	case ARPHRD_SIT:
	case ARPHRD_IPGRE:
	case 823: /* ARPHRD_IP6GRE, not in glibc's list */
		return 0; /* IP alone (tc runs before a tunnel encapsulates) */
	}
	return -EPROTONOSUPPORT; /* a link header we do not parse */
}
