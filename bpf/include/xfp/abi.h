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

/* ---------------------------------------------------------------------------------------------
 * The compiled policy (compiler/ writes it, bpf/lib/classify.h walks it). See docs/compiler.md.
 *
 * A packet becomes a key: XFP_SLOT_COUNT 32-bit words holding every field value the fast path
 * can test. Each layer's filters are compiled into a cut tree over those words whose leaves list
 * candidate boxes in arbitration order; a box is a conjunction of word tests, and a filter is the
 * union of its boxes. Every map below except the counters is double-buffered by halves: entries
 * [0, CAP) are generation half 0, [CAP, 2*CAP) half 1; xfp_gen says which half is live and
 * xfp_halves where each starts. All indices stored inside a half are relative to that half. */

/* Slots of struct xfp_key.w. Multi-word values are most significant word first, so comparing
 * words in order compares the value. IPv4 addresses use the first word of their slot group. */
enum {
  XFP_SLOT_PRESENT = 0,  /* XFP_PRESENT_* bits: which optional fields are not FWP_EMPTY */
  XFP_SLOT_ZERO = 1,     /* always 0 (high word of the 64-bit interface LUID) */
  XFP_SLOT_PROTO = 2,    /* IP protocol */
  XFP_SLOT_LADDR = 3,    /* 4 words: local IP address */
  XFP_SLOT_RADDR = 7,    /* 4 words: remote IP address */
  XFP_SLOT_LPORT = 11,   /* local port, ICMP type */
  XFP_SLOT_RPORT = 12,   /* remote port, ICMP code */
  XFP_SLOT_IFINDEX = 13, /* interface index (also the low word of IP_LOCAL_INTERFACE) */
  XFP_SLOT_FLAGS = 14,   /* FWP_CONDITION_FLAG_* */
  XFP_SLOT_LMAC = 15,    /* 2 words: local MAC, high 16 bits then low 32 */
  XFP_SLOT_RMAC = 17,    /* 2 words: remote MAC */
  XFP_SLOT_ETHER_TYPE = 19,
  XFP_SLOT_VLAN_ID = 20,
  XFP_SLOT_LMAC_TYPE = 21, /* DL_ADDRESS_TYPE: 0 unicast, 1 multicast, 2 broadcast */
  XFP_SLOT_RMAC_TYPE = 22,
  XFP_SLOT_COUNT = 24,
};

/* XFP_SLOT_PRESENT bits. */
enum {
  XFP_PRESENT_PORTS = 1u << 0, /* IP_LOCAL_PORT / IP_REMOTE_PORT (L4 header parsed) */
};

struct xfp_key {
  __u32 w[XFP_SLOT_COUNT];
};
XFP_STATIC_ASSERT(sizeof(struct xfp_key) == 96, "struct xfp_key is ABI");

/* Layer slots: where each WFP layer's compiled tree is rooted (xfp_layers). */
enum {
  XFP_LS_IN_MAC = 0,  /* FWPM_LAYER_INBOUND_MAC_FRAME_ETHERNET (XDP) */
  XFP_LS_IN_IP4 = 1,  /* FWPM_LAYER_INBOUND_IPPACKET_V4 */
  XFP_LS_IN_IP6 = 2,  /* FWPM_LAYER_INBOUND_IPPACKET_V6 */
  XFP_LS_IN_TR4 = 3,  /* FWPM_LAYER_INBOUND_TRANSPORT_V4 */
  XFP_LS_IN_TR6 = 4,  /* FWPM_LAYER_INBOUND_TRANSPORT_V6 */
  XFP_LS_OUT_MAC = 5, /* FWPM_LAYER_OUTBOUND_MAC_FRAME_ETHERNET (tc egress) */
  XFP_LS_OUT_IP4 = 6,
  XFP_LS_OUT_IP6 = 7,
  XFP_LS_OUT_TR4 = 8,
  XFP_LS_OUT_TR6 = 9,
  XFP_LS_COUNT = 10,
};

/* Default capacities of one generation half (the loader may size the maps differently; the
 * offsets of each half are in xfp_halves). */
#define XFP_NODE_CAP (1u << 20)
#define XFP_CAND_CAP (1u << 20)
#define XFP_BOX_CAP (1u << 17)
#define XFP_FILTER_CAP (1u << 17)
#define XFP_COUNTER_CAP (1u << 17)
/* Bounds the BPF walk relies on (the compiler guarantees them). */
#define XFP_MAX_DEPTH 48
#define XFP_MAX_CANDS 32  /* leaves up to this long are walked by an unrolled loop */
#define XFP_LEAF_MAX 4096 /* longer leaves (rare overlaps) are walked with bpf_loop() */
#define XFP_BOX_TERMS 6
#define XFP_BOX_CHAIN 4 /* a box and at most 3 continuations (more terms than XFP_BOX_TERMS) */
#define XFP_NONE 0xFFFFFFFFu

/* struct xfp_layer_root.flags */
enum {
  XFP_LAYER_ACTIVE = 1u << 0, /* the layer has filters: walk it (else NONE_NO_MATCH) */
};

/* A layer's filters may be split into up to XFP_MAX_TREES groups with one tree each (rules that
 * are wildcards in different fields separate badly in one tree); a packet walks every tree and
 * the leaves' candidates are merged in arbitration order. */
#define XFP_MAX_TREES 8

struct xfp_layer_root {
  __u32 root[XFP_MAX_TREES]; /* node index of each tree's root */
  __u32 trees;               /* trees in use, 1..XFP_MAX_TREES */
  __u32 flags;               /* XFP_LAYER_* */
};
XFP_STATIC_ASSERT(sizeof(struct xfp_layer_root) == 4 * XFP_MAX_TREES + 8,
                  "struct xfp_layer_root is ABI");

enum { XFP_NODE_LEAF = 0, XFP_NODE_SPLIT = 2 };

/* struct xfp_node._pad of a LEAF */
enum { XFP_LEAF_HAS_CALLOUT = 1u << 0 };

/* SPLIT: child = base + (key.w[slot] >= mask_or_count) (a binary split at any point).
 * LEAF: candidates base .. base+count-1 of xfp_cands, in arbitration order. */
struct xfp_node {
  __u8 kind;
  __u8 slot;
  __u8 _pad0;
  __u8 _pad;
  __u32 mask_or_count;
  __u32 base;
  __u32 _pad2; /* array maps store values in 8-byte strides; mmap writers rely on it */
};
XFP_STATIC_ASSERT(sizeof(struct xfp_node) == 16, "struct xfp_node is ABI");

/* A leaf entry (8 bytes: array maps store values in 8-byte strides). */
struct xfp_cand {
  __u32 box;
  __u32 _pad;
};
XFP_STATIC_ASSERT(sizeof(struct xfp_cand) == 8, "struct xfp_cand is ABI");

enum {
  XFP_TERM_RANGE = 0, /* a <= w[slot] <= b */
  XFP_TERM_MASK = 1,  /* (w[slot] & a) == b */
};

struct xfp_term {
  __u8 slot;
  __u8 op;
  __u16 _pad;
  __u32 a;
  __u32 b;
};
XFP_STATIC_ASSERT(sizeof(struct xfp_term) == 12, "struct xfp_term is ABI");

/* A conjunction of word tests; a filter matches a key when any of its boxes does. A box with
 * more than XFP_BOX_TERMS terms continues in box `next` (a continuation: same filter, ANDed). */
struct xfp_box {
  __u32 filter; /* index into xfp_filters */
  __u32 next;   /* continuation box index, XFP_NONE if none */
  __u32 nterms;
  struct xfp_term term[XFP_BOX_TERMS];
  __u32 rank; /* the filter's sublayer rank, so skipping a decided sublayer needs no lookup */
};
XFP_STATIC_ASSERT(sizeof(struct xfp_box) == 88, "struct xfp_box is ABI");

/* struct xfp_filter.action */
enum {
  XFP_ACT_BLOCK = 1,
  XFP_ACT_PERMIT = 2,
  XFP_ACT_CALLOUT = 3, /* ask callout_id; if it is not registered, act per flags */
};

/* struct xfp_filter.flags */
enum {
  XFP_FF_HARD_PERMIT = 1u << 0,        /* PERMIT that clears FWPS_RIGHT_ACTION_WRITE */
  XFP_FF_CALLOUT_INSPECTION = 1u << 1, /* callout answers are CONTINUE; ignored if unregistered */
  XFP_FF_CALLOUT_TERMINATING = 1u << 2,
  XFP_FF_PERMIT_IF_UNREGISTERED = 1u << 3,
  XFP_FF_FROM_CALLOUT = 1u << 4, /* a callout filter (compiled static: callout unregistered) */
};

struct xfp_filter {
  __u64 filter_id;  /* the WFP filterId */
  __u32 counter;    /* index into xfp_counters (stable across policy generations) */
  __u32 callout_id; /* XFP_ACT_CALLOUT: FWPS callout id */
  __u16 rank;       /* sublayer position at this layer, 0 = evaluated first */
  __u8 action;      /* XFP_ACT_* */
  __u8 flags;       /* XFP_FF_* */
  __u32 _pad;
};
XFP_STATIC_ASSERT(sizeof(struct xfp_filter) == 24, "struct xfp_filter is ABI");

/* xfp_gen[0]: the policy generation. Its low bit is the live half, so one 64-bit load gives a
 * packet both the half to read and the tag for flow-cache entries (a torn read of two fields
 * could pair a new tag with the old half). Generation 0 means nothing committed yet. */
struct xfp_gen {
  __u64 generation;
};
XFP_STATIC_ASSERT(sizeof(struct xfp_gen) == 8, "struct xfp_gen is ABI");

/* xfp_halves[half]: where each generation half starts in the double-buffered maps (written by
 * the loader), and which layer slots of that half have filters (written by every commit before
 * its flip), so layers without filters cost a bit test. */
struct xfp_half {
  __u32 layer_off;
  __u32 node_off;
  __u32 cand_off;
  __u32 box_off;
  __u32 filter_off;
  __u32 active_layers; /* bit per XFP_LS_* with XFP_LAYER_ACTIVE */
};
XFP_STATIC_ASSERT(sizeof(struct xfp_half) == 24, "struct xfp_half is ABI");

/* Per-filter hit counters (per-CPU): the filter that decided the layer's verdict. */
struct xfp_counter {
  __u64 packets;
  __u64 bytes;
};
XFP_STATIC_ASSERT(sizeof(struct xfp_counter) == 16, "struct xfp_counter is ABI");

/* A layer's classification result (the fast path's FWPS_CLASSIFY_OUT0). */
enum {
  XFP_VERDICT_NO_MATCH = 0, /* FWP_ACTION_NONE_NO_MATCH: permit */
  XFP_VERDICT_NONE = 1,     /* FWP_ACTION_NONE: permit */
  XFP_VERDICT_PERMIT = 2,
  XFP_VERDICT_BLOCK = 3,
  XFP_VERDICT_PUNT = 4, /* a registered callout must be asked (callout runtime) */
};

struct xfp_result {
  __u32 verdict; /* XFP_VERDICT_* */
  __u32 filter;  /* xfp_filters index of the deciding filter, valid for PERMIT/BLOCK/PUNT */
  __u32 rights;  /* FWPS_RIGHT_ACTION_WRITE (1) still held */
  __u32 _pad;
};
XFP_STATIC_ASSERT(sizeof(struct xfp_result) == 16, "struct xfp_result is ABI");

/* Per-CPU verdict statistics per layer slot (xfp_verdicts, key = layer slot). */
struct xfp_layer_stats {
  __u64 verdict[5]; /* by XFP_VERDICT_* */
  __u64 cache_hits;
};
XFP_STATIC_ASSERT(sizeof(struct xfp_layer_stats) == 48, "struct xfp_layer_stats is ABI");

/* xfp_cfg[0]: run-time switches of the fast path. */
enum {
  XFP_CFG_NO_FLOW_CACHE = 1u << 0, /* classify every packet (benchmarks of the cold path) */
  XFP_CFG_DROP_EVENTS = 1u << 1,  /* a net event for every dropped packet (the service's default) */
  XFP_CFG_ALLOW_EVENTS = 1u << 2, /* a net event for every permitted packet too */
};
struct xfp_cfg {
  __u32 flags;
  __u32 _pad;
};
XFP_STATIC_ASSERT(sizeof(struct xfp_cfg) == 8, "struct xfp_cfg is ABI");

/* Callout liveness (xfp_callouts, key = FWPS callout id): non-zero while the callout runtime
 * can take punted packets for that callout; zero makes XFP_ACT_CALLOUT filters use their
 * unregistered fallback (wfp-model.md §4.5): fail closed when xfpd is gone. */
#define XFP_CALLOUT_CAP 4096

/* Per-CPU scratch of one packet: the key, and each layer's result (read back by tests). */
struct xfp_scratch {
  struct xfp_key key;
  __u32 evaluated;                     /* bit per layer slot classified for this packet */
  __u32 final_verdict;                 /* XFP_VERDICT_* applied to the packet */
  struct xfp_result res[XFP_LS_COUNT]; /* per layer slot */
};
XFP_STATIC_ASSERT(sizeof(struct xfp_scratch) == 96 + 8 + 16 * XFP_LS_COUNT,
                  "struct xfp_scratch is ABI");

/* Per-CPU state of one leaf walk (xfp_walk, key 0). It lives in a map rather than on the stack
 * so the verifier treats its fields as unknown scalars and checks the bpf_loop() callback once
 * instead of once per combination of constants. */
struct xfp_walk {
  __u32 trees; /* trees of the layer: only the first `trees` lists below are in use */
  __u32 cand_off;
  __u32 box_off;
  __u32 filter_off;
  __u32 base[XFP_MAX_TREES]; /* each tree's leaf: first entry (relative) */
  __u32 count[XFP_MAX_TREES];
  __u32 pos[XFP_MAX_TREES];
  __u32 head[XFP_MAX_TREES]; /* box index at pos, XFP_NONE when that list is done */
  __u32 verdict;
  __u32 filter;
  __u32 rights;
  __u32 any;
  __u32 done_rank;
  __u32 last_filter;
  __u32 failed;         /* a lookup failed: fail closed */
  __u32 stop_when_hard; /* no leaf holds a callout: a hard decision ends the walk */
  __u32 callouts_dead;  /* the callout runtime cannot take a punt: §4.5 fallback for all */
  __u32 _pad;
};
XFP_STATIC_ASSERT(sizeof(struct xfp_walk) == 16 * XFP_MAX_TREES + 56, "struct xfp_walk is ABI");

/* The flow cache: a per-CPU direct-mapped array indexed by a hash of the flow key. It holds the
 * combined IP-packet + transport result of a flow under one policy generation. Those layers only
 * read key words 0..XFP_SLOT_FLAGS, so the words plus "transport classified" and the hook are a
 * complete key (docs/compiler.md, "Flow cache"). */
#define XFP_FLOW_CACHE_SIZE (1u << 16)
#define XFP_FLOW_WORDS 16 /* key words 0..14, then (first layer slot | transport << 8) */

struct xfp_flow_entry {
  __u32 w[XFP_FLOW_WORDS];
  __u64 generation; /* xfp_gen.generation it was computed under; 0 = empty */
  __u32 verdict;    /* final XFP_VERDICT_* for the packet */
  __u32 layers;     /* layers recorded below (1 or 2) */
  __u32 ls[2];      /* layer slots */
  struct xfp_result res[2];
};
XFP_STATIC_ASSERT(sizeof(struct xfp_flow_entry) == 120, "struct xfp_flow_entry is ABI");

/* ---------------------------------------------------------------------------------------------
 * The punt path (docs/callouts.md). A packet whose decision needs a registered callout, or the
 * first packet of a flow at an active ALE layer, leaves the fast path for the callout runtime:
 * from XDP through an AF_XDP socket (xfp_xsks, key = rx queue), from tc egress as a copy in the
 * ring buffer xfp_punt_rb (the skb is stolen). The runtime proves it is alive with a heartbeat;
 * without one (or without a socket on the queue) callouts are treated as unregistered (§4.5). */
#define XFP_RUNTIME_STALE_NS 1000000000ull /* a heartbeat older than this: runtime gone */
#define XFP_XSK_QUEUES 64

struct xfp_runtime {
  __u64 heartbeat_ns; /* bpf_ktime_get_ns() clock (CLOCK_MONOTONIC), written by the runtime */
  __u32 pid;
  __u32 _pad;
};
XFP_STATIC_ASSERT(sizeof(struct xfp_runtime) == 16, "struct xfp_runtime is ABI");

enum {
  XFP_PUNT_PACKET = 1,      /* a packet layer's filter needs a callout */
  XFP_PUNT_ALE_NEW = 2,     /* first packet of a flow at an active ALE layer */
  XFP_PUNT_ALE_REAUTH = 3,  /* an ALE flow whose verdict predates the ALE policy */
  XFP_PUNT_ALE_PENDING = 4, /* a packet of a flow whose ALE classify is pended */
};

/* Ring-buffer record of a tc-egress punt: this header, then cap_len bytes of the frame. */
struct xfp_punt_hdr {
  __u32 ifindex;
  __u32 wire_len;    /* skb->len */
  __u32 cap_len;     /* bytes that follow (the whole frame: larger frames are not punted) */
  __u32 reason;      /* XFP_PUNT_* */
  __u32 mark;        /* skb->mark */
  __u32 gso_size;    /* skb->gso_size (0: not a GSO super-packet) */
  __u64 sock_cookie; /* bpf_get_socket_cookie(skb): the sending socket (0: none) */
};
XFP_STATIC_ASSERT(sizeof(struct xfp_punt_hdr) == 32, "struct xfp_punt_hdr is ABI");
#define XFP_PUNT_SMALL 2048  /* record data of frames up to this size */
#define XFP_PUNT_LARGE 16384 /* larger frames up to this size; beyond: fail closed (drop) */

/* Inbound injection: the runtime sends a frame, tagged with an 802.1Q VID = slot, into its own
 * veth pair; xfp_tc_inject on the far end pops the tag and redirects the frame into the ingress
 * of xfp_inj_targets[slot].ifindex with skb->mark = .mark, so the local stack receives it as if
 * it had arrived on that interface. */
#define XFP_INJECT_SLOTS 4096
struct xfp_inject_target {
  __u32 ifindex;
  __u32 mark;
};
XFP_STATIC_ASSERT(sizeof(struct xfp_inject_target) == 8, "struct xfp_inject_target is ABI");

/* ALE flows (wfp-model.md §4.10): once per flow, the ALE auth layer of its direction decides; the
 * verdict is kept here, keyed from this host's point of view, for both directions. An entry whose
 * ale_gen differs from xfp_ale_cfg.ale_gen is re-authorized on its next packet. */
enum {
  XFP_ALE_CONNECT_V4 = 1u << 0, /* FWPM_LAYER_ALE_AUTH_CONNECT_V4 has filters */
  XFP_ALE_CONNECT_V6 = 1u << 1,
  XFP_ALE_RECV_ACCEPT_V4 = 1u << 2,
  XFP_ALE_RECV_ACCEPT_V6 = 1u << 3,
};
struct xfp_ale_cfg {
  __u64 ale_gen; /* bumped whenever the filters of an ALE auth layer change */
  __u32 layers;  /* XFP_ALE_* */
  __u32 _pad;
};
XFP_STATIC_ASSERT(sizeof(struct xfp_ale_cfg) == 16, "struct xfp_ale_cfg is ABI");

struct xfp_ale_key {
  __u8 local[16]; /* as in struct xfp_pkt: IPv4 in the first 4 bytes */
  __u8 remote[16];
  __u16 local_port; /* host order; 0 for ICMP */
  __u16 remote_port;
  __u8 proto;
  __u8 v6;
  __u16 _pad;
};
XFP_STATIC_ASSERT(sizeof(struct xfp_ale_key) == 40, "struct xfp_ale_key is ABI");

enum {
  XFP_ALE_PERMIT = 1,
  XFP_ALE_BLOCK = 2,
  XFP_ALE_PENDING = 3, /* classify pended: every packet goes to the runtime, which holds it */
};
struct xfp_ale_flow {
  __u64 ale_gen;
  __u32 verdict;  /* XFP_ALE_* */
  __u32 outbound; /* the flow's direction: 1 if this host initiated it */
  __u64 flow_id;  /* FWPS flowHandle (0: none assigned yet) */
};
XFP_STATIC_ASSERT(sizeof(struct xfp_ale_flow) == 24, "struct xfp_ale_flow is ABI");
#define XFP_ALE_FLOWS (1u << 17)

/* ---------------------------------------------------------------------------------------------
 * Net events (wfp-model.md §7.7): one record in the ring buffer xfp_events per dropped packet
 * (and per permitted one when XFP_CFG_ALLOW_EVENTS), within a per-CPU budget the consumer refills
 * (xfp_ev_budget, events allowed until the next refill: a rate limit without a clock read on
 * the packet path). What the budget or a full ring refuses is counted in xfp_event_stats. */
#define XFP_LS_ALE 0xFE /* the ALE stage decided (no fast-path layer slot) */

struct xfp_net_event {
  __u64 timestamp_ns; /* bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC_COARSE) */
  __u64 filter_id;    /* the deciding filter's WFP filterId, 0 if none (ALE, default action) */
  __u32 ifindex;
  __u8 layer_slot; /* XFP_LS_* of the deciding layer, or XFP_LS_ALE */
  __u8 verdict;    /* XFP_VERDICT_BLOCK or XFP_VERDICT_PERMIT */
  __u8 inbound;
  __u8 ip_proto;
  __u8 src_addr[16]; /* as in struct xfp_pkt */
  __u8 dst_addr[16];
  __u16 src_port;
  __u16 dst_port;
  __u32 flags; /* XFP_PKT_F_* of the packet */
};
XFP_STATIC_ASSERT(sizeof(struct xfp_net_event) == 64, "struct xfp_net_event is ABI");

struct xfp_event_stats {
  __u64 emitted;
  __u64 suppressed; /* over the budget, or the ring was full */
};
XFP_STATIC_ASSERT(sizeof(struct xfp_event_stats) == 16, "struct xfp_event_stats is ABI");

/* ---------------------------------------------------------------------------------------------
 * Socket hooks (object xfp_sock, docs/ale.md): cgroup programs on the socket operations of the
 * processes in one cgroup v2 tree stand in for the ALE layers that Windows classifies at a socket
 * call: BIND_REDIRECT (cgroup/bind4/6), RESOURCE_ASSIGNMENT (cgroup/post_bind4/6),
 * CONNECT_REDIRECT (cgroup/connect4/6, cgroup/sendmsg4/6 for unconnected UDP), and the lifetime
 * events (sock_release, sockops established / closed). A socket call at a layer with filters is an
 * upcall: the hook posts a request to the ring buffer xfp_sock_events and waits, bounded by
 * xfp_sock_cfg.wait_ns, for the runtime's answer in xfp_sock_replies (the call cannot sleep in
 * BPF, so the hook polls; docs/decisions.md "Socket upcalls"). No answer in time, or no live
 * runtime: the operation is refused with EPERM (fail closed). Everything else is a one-way
 * event. The identity of a socket's owner is kept by socket cookie in xfp_sock_owners. */
enum {
  XFP_SOCK_BIND_REDIRECT_V4 = 1u << 0, /* FWPM_LAYER_ALE_BIND_REDIRECT_V4 has filters */
  XFP_SOCK_BIND_REDIRECT_V6 = 1u << 1,
  XFP_SOCK_CONNECT_REDIRECT_V4 = 1u << 2,
  XFP_SOCK_CONNECT_REDIRECT_V6 = 1u << 3,
  XFP_SOCK_RESOURCE_ASSIGNMENT_V4 = 1u << 4,
  XFP_SOCK_RESOURCE_ASSIGNMENT_V6 = 1u << 5,
};

/* key 0: written by the runtime */
struct xfp_sock_cfg {
  __u64 heartbeat_ns; /* bpf_ktime_get_ns() clock; older than XFP_RUNTIME_STALE_NS: no runtime */
  __u64 wait_ns;      /* how long an upcall waits for its answer */
  __u32 layers;       /* XFP_SOCK_*: the layers whose socket calls are upcalls */
  __u32 runtime_tgid; /* the runtime's own socket calls are never upcalls (it answers them) */
  __u32 max_waiters;  /* upcalls waiting at once, system-wide (xfp_sock_waiters); beyond: EAGAIN */
  __u32 _pad;
};
XFP_STATIC_ASSERT(sizeof(struct xfp_sock_cfg) == 32, "struct xfp_sock_cfg is ABI");

/* A waiting hook holds its CPU (no sleeping in BPF; the kernel may not preempt it), and the
 * answer needs a CPU for the runtime: at most max_waiters (the CPU count - 1) hooks wait at once,
 * counted in xfp_sock_waiters, which every xfp_sock object shares (pinned at
 * XFP_SOCK_WAITERS_PIN). A socket call beyond that fails at once with EAGAIN instead of taking
 * the last CPU. */
#define XFP_SOCK_WAITERS_PIN "/sys/fs/bpf/xfp_sock_waiters"

/* key 0 of xfp_sock_stats: what became of the upcalls (atomic adds) */
struct xfp_sock_stats {
  __u64 upcalls;    /* requests posted */
  __u64 answered;   /* answers received in time */
  __u64 timed_out;  /* no answer within wait_ns: EPERM */
  __u64 busy;       /* max_waiters reached: EAGAIN, nothing posted */
  __u64 no_runtime; /* no fresh heartbeat, or the ring was full: EPERM, nothing posted */
};
XFP_STATIC_ASSERT(sizeof(struct xfp_sock_stats) == 40, "struct xfp_sock_stats is ABI");

/* The process that owns a socket: recorded at creation (cgroup/sock_create) and refreshed by the
 * calls that name a process (bind, connect, sendmsg). */
struct xfp_sock_owner {
  __u64 cgroup_id; /* bpf_get_current_cgroup_id(): the cgroup v2 directory's inode */
  __u32 tgid;      /* process id (root pid namespace) */
  __u32 pid;       /* thread id */
  __u32 uid;
  __u32 gid;
  char comm[16];
};
XFP_STATIC_ASSERT(sizeof(struct xfp_sock_owner) == 40, "struct xfp_sock_owner is ABI");

enum {
  XFP_SOCK_EV_REQUEST = 1,     /* an upcall: answer in xfp_sock_replies[seq % XFP_SOCK_SLOTS] */
  XFP_SOCK_EV_BOUND = 2,       /* a bind took effect (post_bind; layer field 0) */
  XFP_SOCK_EV_CONNECTED = 3,   /* a connect/first sendmsg named a peer (implicit bind done) */
  XFP_SOCK_EV_ESTABLISHED = 4, /* TCP handshake done (sockops; flags: XFP_SOCK_F_ACTIVE) */
  XFP_SOCK_EV_TCP_CLOSED = 5,  /* a TCP connection left for CLOSE (sockops state change) */
  XFP_SOCK_EV_RELEASED = 6,    /* the socket was closed by its last owner (sock_release) */
};
enum {
  XFP_SOCK_F_ACTIVE = 1u << 0,    /* this host opened the connection */
  XFP_SOCK_F_RECORDS = 1u << 1,   /* the socket carries redirect records (event.records_handle) */
  XFP_SOCK_F_LISTENING = 1u << 2, /* released socket was a TCP listener */
  XFP_SOCK_F_SENDMSG = 1u << 3,   /* request from sendmsg (unconnected UDP), not connect */
  XFP_SOCK_F_HAD_LOCAL_PORT = 1u << 4, /* connect request of a socket already bound to a port */
};

struct xfp_sock_event {
  __u64 cookie;         /* bpf_get_socket_cookie(): the endpoint id */
  __u64 seq;            /* XFP_SOCK_EV_REQUEST: the request's sequence number */
  __u64 records_handle; /* XFP_SOCK_F_RECORDS: the redirect handle of the records */
  __u32 type;           /* XFP_SOCK_EV_* */
  __u32 layer;          /* XFP_SOCK_EV_REQUEST: the XFP_SOCK_* layer bit */
  __u32 flags;          /* XFP_SOCK_F_* */
  __u8 proto;           /* IPPROTO_* (from the socket) */
  __u8 v6;
  __u8 tcp_state; /* XFP_SOCK_EV_TCP_CLOSED: the state before CLOSE */
  __u8 _pad0;
  __u8 local[16];    /* as in struct xfp_pkt: IPv4 in the first 4 bytes, network order */
  __u8 remote[16];   /* connect requests: the destination asked for */
  __u16 local_port;  /* host order */
  __u16 remote_port; /* host order */
  __u32 _pad1;
  struct xfp_sock_owner owner; /* the calling process; for lifetime events the recorded owner */
  __u64 _reserved;             /* zero; pads the record to 128 bytes */
};
XFP_STATIC_ASSERT(sizeof(struct xfp_sock_event) == 128, "struct xfp_sock_event is ABI");

/* The runtime's answer to an upcall. The runtime writes every field, then `seq` last (release
 * store) in the mmap'ed array; the hook reads `seq` first and the rest after it matches. */
#define XFP_SOCK_SLOTS 1024
enum {
  XFP_SOCK_PERMIT = 1,
  XFP_SOCK_BLOCK = 2,
};
struct xfp_sock_reply {
  __u64 seq;
  __u32 verdict; /* XFP_SOCK_PERMIT / XFP_SOCK_BLOCK */
  __u32 rewrite; /* 1: bind/connect to addr:port below instead */
  __u8 addr[16]; /* network order, IPv4 in the first 4 bytes */
  __u16 port;    /* host order */
  __u16 _pad0;
  __u32 _pad1;
  __u64 redirect_handle; /* connect redirect: the redirecting callout's redirect handle */
  __u32 target_pid;      /* connect redirect: localRedirectTargetPID */
  __u32 context_len;     /* bytes of context used */
  __u8 context[64];      /* connect redirect: localRedirectContext (first 64 bytes) */
  __u64 _reserved;       /* zero; pads the slot to 128 bytes */
};
XFP_STATIC_ASSERT(sizeof(struct xfp_sock_reply) == 128, "struct xfp_sock_reply is ABI");

/* A redirected connection's record, found by the proxy through getsockopt on the socket it
 * accepted (keyed by the client's address: the proxy's peer) and copied onto the proxy's own
 * outgoing socket by setsockopt (keyed by cookie), so that its connect is recognized. */
struct xfp_redirect_key {
  __u8 addr[16]; /* the redirected socket's local address (the proxy's peer) */
  __u16 port;    /* host order */
  __u8 proto;
  __u8 v6;
  __u32 _pad;
};
XFP_STATIC_ASSERT(sizeof(struct xfp_redirect_key) == 24, "struct xfp_redirect_key is ABI");

struct xfp_redirect_record {
  __u8 orig_addr[16]; /* the destination the client asked for (network order) */
  __u16 orig_port;    /* host order */
  __u8 v6;
  __u8 _pad0;
  __u32 target_pid;
  __u64 redirect_handle;
  __u32 context_len;
  __u32 _pad1;
  __u8 context[64];
  __u64 _reserved; /* zero; pads the record to 112 bytes */
};
XFP_STATIC_ASSERT(sizeof(struct xfp_redirect_record) == 112, "struct xfp_redirect_record is ABI");

/* getsockopt/setsockopt level and names the sockopt hook answers (values unused by Linux). */
#define XFP_SOL 0x5846 /* "XF" */
#define XFP_SO_REDIRECT_RECORDS                                \
  1 /* get: struct xfp_redirect_record of the accepted socket; \
     * set: attach that record to this (outgoing) socket */
#define XFP_SO_ORIGINAL_DST                                        \
  80 /* at SOL_IP / SOL_IPV6: the redirected connection's original \
      * destination as a sockaddr_in / sockaddr_in6 */
#define XFP_SOCK_OWNERS (1u << 16)
#define XFP_REDIRECTS (1u << 14)

#endif /* XFP_ABI_H */
