// SPDX-License-Identifier: GPL-2.0-only
/* dfforeign: programs of another tool, for the health tests. Each is
 * attached without a link (it stays after this exits) and removed by the
 * matching detach:
 *   dfforeign override-attach CGROUP_DIR   a cgroup_skb egress program that
 *                                          passes everything, attached with
 *                                          BPF_F_ALLOW_OVERRIDE
 *   dfforeign override-detach CGROUP_DIR
 *   dfforeign tcx-attach IFNAME            a tcx egress program (kernel 6.6+)
 *                                          returning TCX_NEXT; exit 3 when the
 *                                          kernel has no tcx
 *   dfforeign tcx-detach IFNAME
 * and one question:
 *   dfforeign tcx-names IFNAME             the names of the tcx egress
 *                                          programs on IFNAME, first first */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#define TCX_EGRESS 47 /* enum bpf_attach_type (kernel 6.6+) */

static int load(enum bpf_prog_type type, int ret)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = ret },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(type, "dfforeign", "GPL", insns, 2, NULL);
}

/* The first program attached at target for type: its fd (for detach2). */
static int first_attached(int target, int type)
{
	__u32 ids[8], cnt = 8;

	if (bpf_prog_query(target, (enum bpf_attach_type)type, 0, NULL, ids, &cnt) || !cnt)
		return -1;
	return bpf_prog_get_fd_by_id(ids[0]);
}

int main(int argc, char **argv)
{
	const char *cmd = argc == 3 ? argv[1] : "";
	int target, prog, err;

	if (!strncmp(cmd, "override-", 9)) {
		target = open(argv[2], O_RDONLY | O_DIRECTORY);
		if (target < 0) {
			perror(argv[2]);
			return 1;
		}
		if (!strcmp(cmd, "override-attach")) {
			prog = load(BPF_PROG_TYPE_CGROUP_SKB, 1);
			err = prog < 0 ? prog :
					 bpf_prog_attach(prog, target, BPF_CGROUP_INET_EGRESS,
							 BPF_F_ALLOW_OVERRIDE);
		} else {
			err = bpf_prog_detach(target, BPF_CGROUP_INET_EGRESS);
		}
	} else if (!strncmp(cmd, "tcx-", 4)) {
		target = (int)if_nametoindex(argv[2]);
		if (!target) {
			perror(argv[2]);
			return 1;
		}
		if (!strcmp(cmd, "tcx-names")) {
			__u32 ids[64], cnt = 64;

			if (bpf_prog_query(target, TCX_EGRESS, 0, NULL, ids, &cnt))
				cnt = 0; /* nothing attached, or no tcx */
			for (__u32 i = 0; i < cnt; i++) {
				struct bpf_prog_info info;
				__u32 len = sizeof(info);
				int fd = bpf_prog_get_fd_by_id(ids[i]);

				memset(&info, 0, sizeof(info));
				if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len))
					printf("%s\n", info.name);
				if (fd >= 0)
					close(fd);
			}
			return 0;
		}
		if (!strcmp(cmd, "tcx-attach")) {
			prog = load(BPF_PROG_TYPE_SCHED_CLS, -1 /* TCX_NEXT */);
			/* first in the chain (BPF_F_BEFORE, no anchor): ahead of ours */
			err = prog < 0 ? prog : bpf_prog_attach(prog, target, TCX_EGRESS, 1U << 3);
			if (err && (errno == EINVAL || errno == EOPNOTSUPP)) {
				fprintf(stderr, "dfforeign: this kernel has no tcx: %s\n", strerror(errno));
				return 3;
			}
		} else {
			prog = first_attached(target, TCX_EGRESS);
			err = prog < 0 ? prog : bpf_prog_detach2(prog, target, TCX_EGRESS);
		}
	} else {
		fprintf(stderr, "usage: dfforeign override-attach|override-detach CGROUP_DIR\n"
				"       dfforeign tcx-attach|tcx-detach|tcx-names IFNAME\n");
		return 2;
	}
	if (err) {
		fprintf(stderr, "dfforeign %s %s: %s\n", cmd, argv[2], strerror(errno));
		return 1;
	}
	return 0;
}
