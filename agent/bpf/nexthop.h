/* SPDX-License-Identifier: GPL-2.0-only */
/* What tc's next-hop check needs from the system (nexthop.c): a device to
 * look routes up from, and each attached device's link header length. */
#ifndef DF_NEXTHOP_H
#define DF_NEXTHOP_H

#define DF_NH_HELPER "dfnh0"      /* down, no addresses, forwarding on */
#define DF_NH_HELPER_PEER "dfnh1"

/* Makes the helper (once) and its forwarding settings (again: a write to
 * all.forwarding resets them); *ifindex its index. 0 or -errno. */
int df_nh_helper_ensure(int *ifindex);
/* Removes the helper (unload) if it is this device here; -ENOENT when
 * this network namespace has no helper by that index. */
int df_nh_helper_remove(int ifindex);
/* Bytes of link header before the network header on this device: 14 for
 * Ethernet, 0 for devices that carry IP alone; -errno if unknown. */
int df_link_l2_len(int ifindex);

#endif
