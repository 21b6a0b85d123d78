/* struct xfp_pkt -> struct xfp_key: the BPF twin of fastpath::buildKey() in
 * compiler/fast_path_fields.cpp (docs/compiler.md, "The key"). Change both together; the bpf
 * tier compares them on every test packet. */
#ifndef XFP_BPF_KEY_H
#define XFP_BPF_KEY_H

#include <linux/types.h>

#include "xfp/abi.h"

#define XFP_COND_IS_LOOPBACK 0x00000001u
#define XFP_COND_IS_FRAGMENT 0x00000020u

static __always_inline __u32 xfp_be32(const __u8* p) {
  return ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) | p[3];
}

/* DL_ADDRESS_TYPE: 0 unicast, 1 multicast, 2 broadcast */
static __always_inline __u32 xfp_mac_type(const __u8* m) {
  if ((m[0] & m[1] & m[2] & m[3] & m[4] & m[5]) == 0xff) {
    return 2;
  }
  return m[0] & 1;
}

static __always_inline void xfp_build_key(struct xfp_key* k,
                                          const struct xfp_pkt* pkt,
                                          __u32 ifindex,
                                          int inbound) {
  const __u8* local = inbound ? pkt->dst_addr : pkt->src_addr;
  const __u8* remote = inbound ? pkt->src_addr : pkt->dst_addr;
  const __u8* lmac = inbound ? pkt->dst_mac : pkt->src_mac;
  const __u8* rmac = inbound ? pkt->src_mac : pkt->dst_mac;
  int v6 = (pkt->flags & XFP_PKT_F_IPV6) != 0;

  k->w[XFP_SLOT_PRESENT] = 0;
  k->w[XFP_SLOT_ZERO] = 0;
  k->w[XFP_SLOT_PROTO] = pkt->ip_proto;
  k->w[XFP_SLOT_LADDR] = xfp_be32(local);
  k->w[XFP_SLOT_RADDR] = xfp_be32(remote);
  k->w[XFP_SLOT_LADDR + 1] = v6 ? xfp_be32(local + 4) : 0;
  k->w[XFP_SLOT_LADDR + 2] = v6 ? xfp_be32(local + 8) : 0;
  k->w[XFP_SLOT_LADDR + 3] = v6 ? xfp_be32(local + 12) : 0;
  k->w[XFP_SLOT_RADDR + 1] = v6 ? xfp_be32(remote + 4) : 0;
  k->w[XFP_SLOT_RADDR + 2] = v6 ? xfp_be32(remote + 8) : 0;
  k->w[XFP_SLOT_RADDR + 3] = v6 ? xfp_be32(remote + 12) : 0;
  k->w[XFP_SLOT_LPORT] = 0;
  k->w[XFP_SLOT_RPORT] = 0;
  if (pkt->flags & XFP_PKT_F_L4) {
    int icmp = pkt->ip_proto == 1 || pkt->ip_proto == 58;
    k->w[XFP_SLOT_PRESENT] = XFP_PRESENT_PORTS;
    /* ICMP type and code sit in the local and remote port slots in both directions. */
    k->w[XFP_SLOT_LPORT] = (icmp || !inbound) ? pkt->src_port : pkt->dst_port;
    k->w[XFP_SLOT_RPORT] = (icmp || !inbound) ? pkt->dst_port : pkt->src_port;
  }
  k->w[XFP_SLOT_IFINDEX] = ifindex;
  k->w[XFP_SLOT_FLAGS] = ((pkt->flags & XFP_PKT_F_FRAGMENT) ? XFP_COND_IS_FRAGMENT : 0) |
                         (ifindex == 1 ? XFP_COND_IS_LOOPBACK : 0);
  k->w[XFP_SLOT_LMAC] = ((__u32)lmac[0] << 8) | lmac[1];
  k->w[XFP_SLOT_LMAC + 1] = xfp_be32(lmac + 2);
  k->w[XFP_SLOT_RMAC] = ((__u32)rmac[0] << 8) | rmac[1];
  k->w[XFP_SLOT_RMAC + 1] = xfp_be32(rmac + 2);
  k->w[XFP_SLOT_ETHER_TYPE] = pkt->ether_type;
  k->w[XFP_SLOT_VLAN_ID] = pkt->vlan_id;
  k->w[XFP_SLOT_LMAC_TYPE] = xfp_mac_type(lmac);
  k->w[XFP_SLOT_RMAC_TYPE] = xfp_mac_type(rmac);
  k->w[23] = 0;
}

#endif /* XFP_BPF_KEY_H */
