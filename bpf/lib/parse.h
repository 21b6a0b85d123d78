/* The packet parser shared by every hook: Ethernet, up to two VLAN tags, IPv4 (options,
 * fragments), IPv6 (bounded extension-header walk), TCP, UDP, ICMP, ICMPv6 -> struct xfp_pkt.
 *
 * The rules (what each malformed case yields) are in docs/parsing.md; the C++ reference parser in
 * userspace/core/packet/ implements the same table independently and tests/bpf compares the two
 * byte for byte. Change both and the table together.
 *
 * Verifier notes: every header access goes through xfp_hdr(), which bounds the offset by
 * XFP_PARSE_MAX_OFF before comparing against data_end, so variable offsets (IHL, extension header
 * lengths) stay in a small known range. Loops have constant trip counts and are unrolled. */
#ifndef XFP_BPF_PARSE_H
#define XFP_BPF_PARSE_H

#include <linux/types.h>

/* libbpf headers use the UAPI types above */
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/ctx.h"
#include "xfp/abi.h"

#define XFP_ETH_P_IP 0x0800
#define XFP_ETH_P_IPV6 0x86DD
#define XFP_ETH_P_8021Q 0x8100
#define XFP_ETH_P_8021AD 0x88A8

#define XFP_IPPROTO_HOPOPTS 0
#define XFP_IPPROTO_ICMP 1
#define XFP_IPPROTO_TCP 6
#define XFP_IPPROTO_UDP 17
#define XFP_IPPROTO_ROUTING 43
#define XFP_IPPROTO_FRAGMENT 44
#define XFP_IPPROTO_AH 51
#define XFP_IPPROTO_ICMPV6 58
#define XFP_IPPROTO_DSTOPTS 60

/* Pointer to n bytes at off, or NULL when they are not all inside the linear packet data. */
static __always_inline __u8* xfp_hdr(const struct xfp_ctx* c, __u32 off, __u32 n) {
  if (off > XFP_PARSE_MAX_OFF) {
    return NULL;
  }
  __u8* p = (__u8*)c->data + off;
  if ((void*)(p + n) > c->data_end) {
    return NULL;
  }
  return p;
}

static __always_inline __u16 xfp_load_be16(const __u8* p) {
  return (__u16)(((__u16)p[0] << 8) | p[1]);
}

static __always_inline int xfp_is_ipv6_ext(__u8 nh) {
  return nh == XFP_IPPROTO_HOPOPTS || nh == XFP_IPPROTO_ROUTING || nh == XFP_IPPROTO_FRAGMENT ||
         nh == XFP_IPPROTO_DSTOPTS || nh == XFP_IPPROTO_AH;
}

/* Upper-layer header at l4 (pkt->ip_proto already set), bounded by the IP datagram end. */
static __always_inline void xfp_parse_l4(
    const struct xfp_ctx* c, struct xfp_pkt* pkt, __u32 l4, __u32 ip_end, int is_v6) {
  __u8 proto = pkt->ip_proto;
  __u8* h;
  if (proto == XFP_IPPROTO_TCP) {
    h = xfp_hdr(c, l4, 20);
    if (!h || l4 + 20 > ip_end) {
      goto malformed;
    }
    __u32 doff = h[12] >> 4;
    if (doff < 5 || l4 + doff * 4 > ip_end) {
      goto malformed;
    }
    pkt->src_port = xfp_load_be16(h);
    pkt->dst_port = xfp_load_be16(h + 2);
    pkt->tcp_flags = h[13];
    pkt->flags |= XFP_PKT_F_L4;
  } else if (proto == XFP_IPPROTO_UDP) {
    h = xfp_hdr(c, l4, 8);
    if (!h || l4 + 8 > ip_end) {
      goto malformed;
    }
    pkt->src_port = xfp_load_be16(h);
    pkt->dst_port = xfp_load_be16(h + 2);
    pkt->flags |= XFP_PKT_F_L4;
  } else if ((proto == XFP_IPPROTO_ICMP && !is_v6) || (proto == XFP_IPPROTO_ICMPV6 && is_v6)) {
    h = xfp_hdr(c, l4, 4);
    if (!h || l4 + 4 > ip_end) {
      goto malformed;
    }
    pkt->src_port = h[0]; /* type */
    pkt->dst_port = h[1]; /* code */
    pkt->flags |= XFP_PKT_F_L4;
  }
  return;
malformed:
  pkt->flags |= XFP_PKT_F_MALFORMED;
}

static __always_inline void xfp_parse_ipv4(const struct xfp_ctx* c,
                                           struct xfp_pkt* pkt,
                                           __u32 off) {
  __u8* h = xfp_hdr(c, off, 20);
  if (!h) {
    goto malformed;
  }
  __u32 ihl = h[0] & 0x0f;
  if ((h[0] >> 4) != 4 || ihl < 5) {
    goto malformed;
  }
  __u32 hlen = ihl * 4;
  __u32 tot = xfp_load_be16(h + 2);
  if (tot < hlen || off + tot > c->len) {
    goto malformed;
  }
  pkt->flags |= XFP_PKT_F_IPV4;
  __builtin_memcpy(pkt->src_addr, h + 12, 4);
  __builtin_memcpy(pkt->dst_addr, h + 16, 4);
  pkt->ip_proto = h[9];
  __u16 frag = xfp_load_be16(h + 6);
  if (frag & 0x3fff) { /* MF or a nonzero offset */
    pkt->flags |= XFP_PKT_F_FRAGMENT;
  }
  if (frag & 0x1fff) {
    pkt->flags |= XFP_PKT_F_LATER_FRAGMENT;
    return;
  }
  pkt->l4_offset = (__u16)(off + hlen);
  xfp_parse_l4(c, pkt, off + hlen, off + tot, 0);
  return;
malformed:
  pkt->flags |= XFP_PKT_F_MALFORMED;
}

static __always_inline void xfp_parse_ipv6(const struct xfp_ctx* c,
                                           struct xfp_pkt* pkt,
                                           __u32 off) {
  __u8* h = xfp_hdr(c, off, 40);
  if (!h) {
    goto malformed;
  }
  if ((h[0] >> 4) != 6) {
    goto malformed;
  }
  __u32 ip_end = off + 40 + xfp_load_be16(h + 4);
  if (ip_end > c->len) {
    goto malformed;
  }
  pkt->flags |= XFP_PKT_F_IPV6;
  __builtin_memcpy(pkt->src_addr, h + 8, 16);
  __builtin_memcpy(pkt->dst_addr, h + 24, 16);
  __u8 nh = h[6];
  pkt->ip_proto = nh;
  __u32 cur = off + 40;

#pragma unroll
  for (int i = 0; i < XFP_IPV6_EXT_MAX; i++) {
    if (!xfp_is_ipv6_ext(nh)) {
      break;
    }
    __u8* e = xfp_hdr(c, cur, 8);
    if (!e || cur + 8 > ip_end) {
      goto malformed;
    }
    __u32 elen;
    int later = 0;
    if (nh == XFP_IPPROTO_FRAGMENT) {
      elen = 8;
      pkt->flags |= XFP_PKT_F_FRAGMENT;
      later = (xfp_load_be16(e + 2) & 0xfff8) != 0;
    } else if (nh == XFP_IPPROTO_AH) {
      elen = ((__u32)e[1] + 2) * 4;
    } else {
      elen = ((__u32)e[1] + 1) * 8;
    }
    if (cur + elen > ip_end) {
      goto malformed;
    }
    nh = e[0];
    pkt->ip_proto = nh;
    cur += elen;
    if (later) {
      pkt->flags |= XFP_PKT_F_LATER_FRAGMENT;
      return;
    }
  }
  if (xfp_is_ipv6_ext(nh)) {
    pkt->flags |= XFP_PKT_F_EXT_LIMIT;
    return;
  }
  pkt->l4_offset = (__u16)cur;
  xfp_parse_l4(c, pkt, cur, ip_end, 1);
  return;
malformed:
  pkt->flags |= XFP_PKT_F_MALFORMED;
}

/* Fills *pkt (zeroed first) from the packet. Never fails: damage is reported in pkt->flags. */
static __always_inline void xfp_parse(const struct xfp_ctx* c, struct xfp_pkt* pkt) {
  __builtin_memset(pkt, 0, sizeof(*pkt));
  __u8* eth = xfp_hdr(c, 0, 14);
  if (!eth) {
    pkt->flags = XFP_PKT_F_MALFORMED;
    return;
  }
  __builtin_memcpy(pkt->dst_mac, eth, 6);
  __builtin_memcpy(pkt->src_mac, eth + 6, 6);
  __u16 type = xfp_load_be16(eth + 12);
  pkt->ether_type = type;
  __u32 off = 14;

#pragma unroll
  for (int i = 0; i < XFP_VLAN_MAX; i++) {
    if (type != XFP_ETH_P_8021Q && type != XFP_ETH_P_8021AD) {
      break;
    }
    pkt->flags |= XFP_PKT_F_VLAN;
    __u8* v = xfp_hdr(c, off, 4);
    if (!v) {
      pkt->flags |= XFP_PKT_F_MALFORMED;
      return;
    }
    if (i == 0) {
      pkt->vlan_id = xfp_load_be16(v) & 0x0fff;
    }
    type = xfp_load_be16(v + 2);
    pkt->ether_type = type;
    off += 4;
  }
  pkt->l3_offset = (__u16)off;

  if (type == XFP_ETH_P_IP) {
    xfp_parse_ipv4(c, pkt, off);
  } else if (type == XFP_ETH_P_IPV6) {
    xfp_parse_ipv6(c, pkt, off);
  }
}

/* Bumps the per-class counters for one parsed packet (per-CPU value: plain increments). */
static __always_inline void xfp_count(struct xfp_parse_counters* s, const struct xfp_pkt* pkt) {
  __u32 f = pkt->flags;
  s->total++;
  if (f & XFP_PKT_F_VLAN) {
    s->vlan++;
  }
  if (f & XFP_PKT_F_IPV4) {
    s->ipv4++;
  }
  if (f & XFP_PKT_F_IPV6) {
    s->ipv6++;
  }
  if (f & XFP_PKT_F_L4) {
    if (pkt->ip_proto == XFP_IPPROTO_TCP) {
      s->tcp++;
    } else if (pkt->ip_proto == XFP_IPPROTO_UDP) {
      s->udp++;
    } else if (f & XFP_PKT_F_IPV4) {
      s->icmp++;
    } else {
      s->icmpv6++;
    }
  }
  if (f & XFP_PKT_F_FRAGMENT) {
    s->fragment++;
  }
  if (f & XFP_PKT_F_MALFORMED) {
    s->malformed++;
  }
  if (f & XFP_PKT_F_EXT_LIMIT) {
    s->ext_limit++;
  }
  if (!(f & (XFP_PKT_F_IPV4 | XFP_PKT_F_IPV6 | XFP_PKT_F_MALFORMED))) {
    s->other_l3++;
  }
}

#endif /* XFP_BPF_PARSE_H */
