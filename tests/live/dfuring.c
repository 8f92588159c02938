// SPDX-License-Identifier: GPL-2.0-only
/* dfuring: a datagram sent by an io_uring SQPOLL thread (the bypass suite):
 *   dfuring CGROUP_DIR ADDR PORT MARKER -> sent | EPERM | <errno name>
 * The socket is made where dfuring starts; then dfuring moves itself to
 * CGROUP_DIR and makes the ring there, so the kernel thread that sends
 * (IORING_OP_SENDMSG) belongs to CGROUP_DIR, not to the socket's cgroup.
 * Raw system calls: no liburing needed. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int move_to(const char *cg)
{
	char path[512], pid[32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	f = fopen(path, "w");
	if (!f || fputs(pid, f) < 0 || fclose(f))
		return -1;
	return 0;
}

static void say(int res)
{
	if (res >= 0)
		puts("sent");
	else
		puts(strerrorname_np(-res) ? strerrorname_np(-res) : "error");
}

int main(int argc, char **argv)
{
	struct io_uring_params p = { .flags = IORING_SETUP_SQPOLL, .sq_thread_idle = 1000 };
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct iovec iov;
	struct msghdr msg = { .msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = &iov,
			      .msg_iovlen = 1 };
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned int *sq_tail, *sq_array, *sq_flags, *cq_head, *cq_tail;
	void *sq, *cq;
	int s, ring;

	if (argc != 5 || inet_pton(AF_INET, argv[2], &to.sin_addr) != 1) {
		fprintf(stderr, "usage: dfuring CGROUP_DIR IPV4 PORT MARKER\n");
		return 2;
	}
	to.sin_port = htons((uint16_t)atoi(argv[3]));
	iov.iov_base = argv[4];
	iov.iov_len = strlen(argv[4]);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || move_to(argv[1])) {
		perror("dfuring");
		return 2;
	}
	ring = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (ring < 0) {
		perror("dfuring: io_uring_setup");
		return 2;
	}
	sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned int), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
	cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
		perror("dfuring: mmap");
		return 2;
	}
	sq_tail = (unsigned int *)((char *)sq + p.sq_off.tail);
	sq_array = (unsigned int *)((char *)sq + p.sq_off.array);
	sq_flags = (unsigned int *)((char *)sq + p.sq_off.flags);
	cq_head = (unsigned int *)((char *)cq + p.cq_off.head);
	cq_tail = (unsigned int *)((char *)cq + p.cq_off.tail);
	cqes = (struct io_uring_cqe *)((char *)cq + p.cq_off.cqes);

	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].opcode = IORING_OP_SENDMSG;
	sqes[0].fd = s;
	sqes[0].addr = (unsigned long)&msg;
	sqes[0].len = 1;
	sq_array[0] = 0;
	__atomic_store_n(sq_tail, 1, __ATOMIC_RELEASE);
	/* the SQ thread picks it up; wake it if it went to sleep, then wait */
	for (int i = 0; i < 300 && __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE) == *cq_head; i++) {
		unsigned int flags = __atomic_load_n(sq_flags, __ATOMIC_ACQUIRE) & IORING_SQ_NEED_WAKEUP;

		syscall(__NR_io_uring_enter, ring, 0, 1, IORING_ENTER_GETEVENTS |
			(flags ? IORING_ENTER_SQ_WAKEUP : 0), NULL, 0);
		usleep(10000);
	}
	if (__atomic_load_n(cq_tail, __ATOMIC_ACQUIRE) == *cq_head) {
		puts("timeout");
		return 1;
	}
	say(cqes[*cq_head & (p.cq_entries - 1)].res);
	return 0;
}
