// SPDX-License-Identifier: GPL-2.0-only
/* Revocation of live sockets (docs/datapath.md "Revocation"). A swap that
 * narrows a class, or an exception window that closes, leaves established
 * protected flows whose next packets the datapath drops: the application
 * would hang in retransmits. The agent runs these iterators over the TCP
 * and UDP sockets of each network namespace after such a change; a
 * connected socket of a protected class whose flow the active policy
 * refuses is destroyed (the owner's next call fails with ECONNABORTED) and
 * reported with hook `revoke`, once per socket. Audit classes are reported
 * (would-drop) and left alone.
 *
 * A separate object from datafence.bpf.c: it needs kernel types and a
 * kfunc (bpf_sock_destroy, 6.5), and a kernel without them must still load
 * the datapath. It shares the datapath's pinned maps and pipeline. */
#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "datafence.h"

#define AF_INET 2
#define AF_INET6 10

#include "maps.h"

/* The pipeline's knobs: this object never runs in test mode. */
const volatile bool df_record_last = false;
const volatile bool df_test_mode = false;

#include "pipeline.h"
/* Revocations are few (one per live socket a narrowing refuses) and the
 * iterator's stack has no room for the event budget: they are all sent. */
#define DF_NO_BUDGET
#include "report.h"

/* The kernel's types, as much of them as we read; CO-RE finds the fields
 * in the running kernel by name. */
struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	__u32 sk_mark;
} __attribute__((preserve_access_index));

struct bpf_iter_meta;
struct udp_sock;
struct tcp_sock;

struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
	__u32 uid;
} __attribute__((preserve_access_index));

struct bpf_iter__udp {
	struct bpf_iter_meta *meta;
	struct udp_sock *udp_sk;
	__u32 uid;
} __attribute__((preserve_access_index));

extern int bpf_sock_destroy(struct sock_common *sk) __ksym;

#define DF_TCP_ESTABLISHED 1
#define DF_TCP_SYN_SENT 2
#define DF_TCP_CLOSE_WAIT 8

/* A socket's flow as its next packet would carry it. */
static __always_inline int df_socket_facts(struct sock *sk, __u8 proto, struct df_facts *f)
{
	struct sock_common *skc = &sk->__sk_common;

	f->proto = proto;
	f->sport = skc->skc_num;
	f->dport = bpf_ntohs(skc->skc_dport);
	if (skc->skc_family == AF_INET) {
		__be32 d = skc->skc_daddr, s = skc->skc_rcv_saddr;

		f->family = 4;
		__builtin_memcpy(f->daddr, &d, 4);
		__builtin_memcpy(f->saddr, &s, 4);
	} else if (skc->skc_family == AF_INET6) {
		struct in6_addr d = skc->skc_v6_daddr, s = skc->skc_v6_rcv_saddr;

		f->family = 6;
		__builtin_memcpy(f->daddr, &d, 16);
		__builtin_memcpy(f->saddr, &s, 16);
	} else {
		return -1;
	}
	f->mark = sk->sk_mark;
	df_unmap(&f->family, f->daddr);
	/* a flow to a loopback address runs over the loopback device */
	if (!df_is_loopback(f->family, f->daddr))
		f->flags |= DF_PKT_NOT_LO;
	return 0;
}

/* One socket: judged as its next packet would be; destroyed when refused.
 * it: the iterator's own pointer to it (the one bpf_sock_destroy trusts). */
static __always_inline int df_revoke(struct sock *sk, struct sock_common *it, __u8 proto,
				     __u32 uid)
{
	struct sock_common *skc = &sk->__sk_common;
	struct df_facts f = { .hook = DF_HOOK_REVOKE, .uid = uid };
	struct df_gen g = {};
	struct df_sk_cache *sc;
	struct df_state *st;
	struct df_res r;
	__u32 zero = 0, gen;
	__u64 classes, now_ns;
	unsigned char state = skc->skc_state;

	/* connected sockets only: a listener or an unconnected UDP socket
	 * has no one flow to refuse */
	if (state != DF_TCP_ESTABLISHED &&
	    !(proto == IPPROTO_TCP && (state == DF_TCP_SYN_SENT || state == DF_TCP_CLOSE_WAIT)))
		return 0;
	sc = bpf_sk_storage_get(&df_sk_cache, sk, 0, 0);
	if (!sc) /* no packet or call of it was ever judged */
		return 0;
	st = bpf_map_lookup_elem(&df_state, &zero);
	if (!st)
		return 0;
	gen = *(volatile __u32 *)&st->gen & 1;
	if (df_load_gen(gen, &g) || df_socket_facts(sk, proto, &f))
		return 0;
	/* the maker recorded at socket() (an accepted socket: its listener's),
	 * else the classes its packets last had */
	if (sc->owner_valid)
		classes = df_owner_classes(&g, NULL, DF_ANC_OWNER, sc->owner_cgroup, uid);
	else
		classes = sc->view[DF_VIEW_SKB].valid ? sc->view[DF_VIEW_SKB].sock_classes : 0;
	classes |= df_classify_packet(g.cfg, gen, g.src, &f);
	if (!classes)
		return 0;
	now_ns = bpf_ktime_get_boot_ns() + st->clock_offset_ns;
	df_judge(g.cfg, gen, &f, classes, now_ns, &r);
	if (r.verdict == DF_ALLOW)
		return 0;
	if (r.verdict == DF_DROP && bpf_sock_destroy(it))
		return 0; /* already going away */
	df_count(df_cnt_index(f.hook, &r), r.rule, 0);
	df_report(&f, &r, st, now_ns, NULL);
	return 0;
}

SEC("iter/tcp")
int df_revoke_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp = skc ? bpf_skc_to_tcp_sock(skc) : NULL;

	/* full sockets only: not a time-wait or request socket */
	return tp ? df_revoke((struct sock *)tp, skc, IPPROTO_TCP, ctx->uid) : 0;
}

SEC("iter/udp")
int df_revoke_udp(struct bpf_iter__udp *ctx)
{
	struct udp_sock *u = ctx->udp_sk;

	return u ? df_revoke((struct sock *)u, (struct sock_common *)u, IPPROTO_UDP, ctx->uid) : 0;
}

char LICENSE[] SEC("license") = "GPL";
