// SPDX-License-Identifier: GPL-2.0-only
/* dfnet: the traffic of the live tests. Each command makes one bounded
 * attempt and prints what happened, so a test compares words:
 *   dfnet udp-send ADDR PORT          -> sent | EPERM | <errno name>
 *   dfnet tcp-connect ADDR PORT       -> connected | EPERM | timeout | refused
 *   dfnet udp-recv PORT MS            -> the number of datagrams in MS ms
 *   dfnet tcp-accept PORT MS          -> the number of connections in MS ms
 *   dfnet raw-send ADDR PORT          -> sent | EPERM (raw IPv4 socket, UDP inside)
 *   dfnet packet-send IFNAME SRC DST PORT [MAC] -> sent (AF_PACKET, IPv4/UDP, to MAC,
 *                                               broadcast if none)
 *   dfnet udp-held ADDR PORT N GO     -> N datagrams on a connected socket: "sent N" (or
 *                                        the first error), then, once the file GO exists
 *                                        (10 s at most), N more on the same socket: the
 *                                        same words; on CPU 0 throughout
 *   dfnet udp-race ADDR OK BAD MS     -> "ok N bad M": one UDP socket (unconnected,
 *                                        bound to port 40001), two threads for MS ms, on
 *                                        CPU 0 sending to port OK, on CPU 1 to BAD
 *                                        (the kernel sends a UDP socket's datagrams
 *                                        without its lock): N and M datagrams it took
 *   dfnet udp-storm A.B.C N           -> "sent S eperm E other O": N datagrams, each
 *                                        to a distinct flow (A.B.C.1-254, ports from
 *                                        1024): a drop storm when they are refused */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int addr_of(const char *s, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*len = sizeof(*a4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*a6);
		return AF_INET6;
	}
	fprintf(stderr, "dfnet: bad address %s\n", s);
	exit(2);
}

static int result(int err)
{
	if (!err) {
		puts("sent");
		return 0;
	}
	puts(err == EPERM ? "EPERM" : strerrorname_np(err) ? strerrorname_np(err) : "error");
	return 1;
}

static long ms_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

/* udp-race: one thread's sends to its port on the shared socket */
struct racer {
	int fd, cpu, port;
	long ms, sent; /* -1: could not run on its CPU */
	struct sockaddr_storage to;
	socklen_t len;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	cpu_set_t one;
	long end = ms_now() + r->ms;

	CPU_ZERO(&one);
	CPU_SET(r->cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one)) {
		r->sent = -1;
		return NULL;
	}
	while (ms_now() < end)
		for (int i = 0; i < 256; i++)
			if (sendto(r->fd, "dfrace", 6, 0, (struct sockaddr *)&r->to, r->len) > 0)
				r->sent++;
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, fam;

	if (argc < 3) {
		fprintf(stderr, "usage: see the comment at the top of dfnet.c\n");
		return 2;
	}
	if (!strcmp(argv[1], "udp-storm") && argc == 4) {
		long n = atol(argv[3]), sent = 0, eperm = 0, other = 0;
		char a[64];

		fd = socket(AF_INET, SOCK_DGRAM, 0);
		for (long i = 0; i < n; i++) {
			snprintf(a, sizeof(a), "%s.%ld", argv[2], 1 + i % 254);
			addr_of(a, 1024 + (int)((i / 254) % 64000), &ss, &len);
			if (sendto(fd, "storm", 5, 0, (struct sockaddr *)&ss, len) == 5)
				sent++;
			else if (errno == EPERM)
				eperm++;
			else
				other++;
		}
		printf("sent %ld eperm %ld other %ld\n", sent, eperm, other);
		return 0;
	}
	if (!strcmp(argv[1], "udp-held") && argc == 6) {
		long n = atol(argv[4]), i;
		cpu_set_t one;

		CPU_ZERO(&one);
		CPU_SET(0, &one);
		if (sched_setaffinity(0, sizeof(one), &one)) {
			perror("dfnet: sched_setaffinity");
			return 2;
		}
		fam = addr_of(argv[2], atoi(argv[3]), &ss, &len);
		fd = socket(fam, SOCK_DGRAM, 0);
		if (connect(fd, (struct sockaddr *)&ss, len))
			return result(errno);
		for (int round = 0; round < 2; round++) {
			for (i = 0; i < n; i++)
				if (send(fd, "held", 4, 0) != 4)
					return result(errno);
			printf("sent %ld\n", n);
			fflush(stdout);
			for (i = 0; !round && i < 1000 && access(argv[5], F_OK); i++)
				usleep(10000);
		}
		return 0;
	}
	if (!strcmp(argv[1], "udp-send") && argc == 4) {
		fam = addr_of(argv[2], atoi(argv[3]), &ss, &len);
		/* an IPv6 socket for v4-mapped addresses: dual-stack */
		fd = socket(strchr(argv[2], ':') ? AF_INET6 : fam, SOCK_DGRAM, 0);
		return result(sendto(fd, "datafence", 9, 0, (struct sockaddr *)&ss, len) < 0 ? errno : 0);
	}
	if (!strcmp(argv[1], "tcp-connect") && argc == 4) {
		struct pollfd p;

		fam = addr_of(argv[2], atoi(argv[3]), &ss, &len);
		fd = socket(strchr(argv[2], ':') ? AF_INET6 : fam, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
			puts(errno == EPERM ? "EPERM" : errno == ECONNREFUSED ? "refused" : "error");
			return 1;
		}
		p = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (poll(&p, 1, 2000) != 1) {
			puts("timeout");
			return 1;
		}
		int e = 0;
		socklen_t el = sizeof(e);

		getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
		puts(!e ? "connected" : e == ECONNREFUSED ? "refused" : e == EPERM ? "EPERM" : "error");
		return !!e;
	}
	if ((!strcmp(argv[1], "udp-recv") || !strcmp(argv[1], "tcp-accept")) && argc == 4) {
		bool udp = !strcmp(argv[1], "udp-recv");
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)atoi(argv[2])),
					  .sin6_addr = in6addr_any };
		long deadline = ms_now() + atol(argv[3]);
		int n = 0, on = 1, off = 0;

		fd = socket(AF_INET6, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || (!udp && listen(fd, 16))) {
			perror("dfnet: bind");
			return 2;
		}
		printf("ready\n");
		fflush(stdout);
		for (long left; (left = deadline - ms_now()) > 0;) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			char buf[64];

			if (poll(&p, 1, (int)left) != 1)
				break;
			if (udp) {
				if (recv(fd, buf, sizeof(buf), 0) >= 0)
					n++;
			} else {
				int c = accept(fd, NULL, NULL);

				if (c >= 0) {
					n++;
					close(c);
				}
			}
		}
		printf("%d\n", n);
		return 0;
	}
	if (!strcmp(argv[1], "udp-race") && argc == 6) {
		struct racer r[2] = { { .port = atoi(argv[3]) }, { .port = atoi(argv[4]), .cpu = 1 } };
		struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(40001) };
		pthread_t t[2];

		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (bind(fd, (struct sockaddr *)&me, sizeof(me)))
			return result(errno);
		for (int i = 0; i < 2; i++) {
			r[i].fd = fd;
			r[i].ms = atol(argv[5]);
			addr_of(argv[2], r[i].port, &r[i].to, &r[i].len);
			if (pthread_create(&t[i], NULL, race, &r[i]))
				return 2;
		}
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		if (r[0].sent < 0 || r[1].sent < 0) {
			fprintf(stderr, "dfnet: udp-race needs CPUs 0 and 1\n");
			return 2;
		}
		printf("ok %ld bad %ld\n", r[0].sent, r[1].sent);
		return 0;
	}
	if (!strcmp(argv[1], "raw-send") && argc == 4) {
		struct { struct udphdr u; char d[8]; } pkt = { 0 };

		addr_of(argv[2], 0, &ss, &len);
		fd = socket(AF_INET, SOCK_RAW, IPPROTO_UDP);
		pkt.u.source = htons(40000);
		pkt.u.dest = htons((uint16_t)atoi(argv[3]));
		pkt.u.len = htons(sizeof(pkt));
		memcpy(pkt.d, "dfraw", 5);
		return result(sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&ss, len) < 0 ? errno : 0);
	}
	if (!strcmp(argv[1], "packet-send") && (argc == 6 || argc == 7)) {
		struct { struct iphdr ip; struct udphdr u; char d[8]; } pkt = { 0 };
		struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
					  .sll_ifindex = (int)if_nametoindex(argv[2]), .sll_halen = 6 };
		uint32_t sum = 0;
		uint16_t *w = (uint16_t *)&pkt.ip;

		memset(ll.sll_addr, 0xff, 6);
		if (argc == 7 && sscanf(argv[6], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &ll.sll_addr[0],
					&ll.sll_addr[1], &ll.sll_addr[2], &ll.sll_addr[3],
					&ll.sll_addr[4], &ll.sll_addr[5]) != 6) {
			fprintf(stderr, "dfnet: bad MAC %s\n", argv[6]);
			return 2;
		}
		pkt.ip.version = 4;
		pkt.ip.ihl = 5;
		pkt.ip.ttl = 64;
		pkt.ip.protocol = IPPROTO_UDP;
		pkt.ip.tot_len = htons(sizeof(pkt));
		inet_pton(AF_INET, argv[3], &pkt.ip.saddr);
		inet_pton(AF_INET, argv[4], &pkt.ip.daddr);
		for (int i = 0; i < 10; i++)
			sum += w[i];
		pkt.ip.check = (uint16_t)~((sum & 0xffff) + (sum >> 16));
		pkt.u.source = htons(40001);
		pkt.u.dest = htons((uint16_t)atoi(argv[5]));
		pkt.u.len = htons(sizeof(pkt) - sizeof(pkt.ip));
		fd = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
		return result(sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&ll, sizeof(ll)) < 0 ? errno : 0);
	}
	fprintf(stderr, "dfnet: unknown command %s\n", argv[1]);
	return 2;
}
