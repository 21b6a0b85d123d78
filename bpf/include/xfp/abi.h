/* The kernel/user ABI of xfp: every struct a BPF map holds or a test reads back. Valid C for BPF
 * and C++ alike: fixed-width __u types, explicit padding, a size assert per struct. Changing a
 * layout means bumping XFP_ABI_VERSION (it is also part of the pin path /sys/fs/bpf/xfp/v<N>/). */
#ifndef XFP_ABI_H
#define XFP_ABI_H

#include <linux/types.h>

#define XFP_ABI_VERSION 1

#ifdef __cplusplus
#define XFP_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define XFP_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* struct xfp_pkt.flags (see docs/parsing.md for the exact rules). */
enum {
  XFP_PKT_F_VLAN = 1u << 0,           /* at least one 802.1Q / 802.1ad tag */
  XFP_PKT_F_IPV4 = 1u << 1,           /* IPv4 header valid: addresses and ip_proto set */
  XFP_PKT_F_IPV6 = 1u << 2,           /* IPv6 header valid: addresses set */
  XFP_PKT_F_FRAGMENT = 1u << 3,       /* any fragment (first or later) */
  XFP_PKT_F_LATER_FRAGMENT = 1u << 4, /* fragment offset != 0: no L4 header */
  XFP_PKT_F_L4 = 1u << 5,             /* src_port/dst_port (ICMP type/code) valid */
  XFP_PKT_F_MALFORMED = 1u << 6,      /* truncated or inconsistent; parsing stopped there */
  XFP_PKT_F_EXT_LIMIT = 1u << 7,      /* IPv6 extension walk hit XFP_IPV6_EXT_MAX */
};

/* Bounds the parser works within (both the BPF parser and the C++ reference). */
#define XFP_VLAN_MAX 2
#define XFP_IPV6_EXT_MAX 6
/* Header offsets above this are treated as truncation (keeps verifier ranges small). */
#define XFP_PARSE_MAX_OFF 0x3fff

/* The parsed packet: what the classifier consumes. Map xfp_last_pkt holds the last one per CPU. */
struct xfp_pkt {
  __u32 flags;       /* XFP_PKT_F_* */
  __u16 ether_type;  /* host order; the inner type after VLAN tags */
  __u16 vlan_id;     /* host order; the outer tag's 12-bit VID, 0 without tags */
  __u8 dst_mac[6];   /* wire order */
  __u8 src_mac[6];   /* wire order */
  __u8 src_addr[16]; /* IPv6, or IPv4 in the first 4 bytes (network order), rest zero */
  __u8 dst_addr[16]; /* same as src_addr */
  __u16 src_port;    /* host order; ICMP/ICMPv6: type */
  __u16 dst_port;    /* host order; ICMP/ICMPv6: code */
  __u8 ip_proto;     /* IPv4 protocol; IPv6: upper-layer protocol after extension headers */
  __u8 tcp_flags;    /* TCP header byte 13 (CWR..FIN) */
  __u16 l3_offset;   /* offset of the L3 header (after Ethernet and VLAN tags) */
  __u16 l4_offset;   /* offset of the upper-layer header, 0 if not reached */
  __u16 _pad;
};
XFP_STATIC_ASSERT(sizeof(struct xfp_pkt) == 64, "struct xfp_pkt is ABI");

/* Per-class packet counters (per-CPU map xfp_stats, key 0). A packet bumps total and every
 * class whose condition holds (docs/parsing.md, "Counters"). */
struct xfp_parse_counters {
  __u64 total;
  __u64 vlan;      /* XFP_PKT_F_VLAN */
  __u64 ipv4;      /* XFP_PKT_F_IPV4 */
  __u64 ipv6;      /* XFP_PKT_F_IPV6 */
  __u64 tcp;       /* XFP_PKT_F_L4 and ip_proto 6 */
  __u64 udp;       /* XFP_PKT_F_L4 and ip_proto 17 */
  __u64 icmp;      /* XFP_PKT_F_L4 and IPv4 ip_proto 1 */
  __u64 icmpv6;    /* XFP_PKT_F_L4 and IPv6 ip_proto 58 */
  __u64 fragment;  /* XFP_PKT_F_FRAGMENT */
  __u64 malformed; /* XFP_PKT_F_MALFORMED */
  __u64 ext_limit; /* XFP_PKT_F_EXT_LIMIT */
  __u64 other_l3;  /* neither IPv4 nor IPv6 and not malformed (ARP, a third VLAN tag, ...) */
};
XFP_STATIC_ASSERT(sizeof(struct xfp_parse_counters) == 96, "struct xfp_parse_counters is ABI");

#endif /* XFP_ABI_H */
