/* tc entries (object xfp_tc, clsact).
 * xfp_tc_out (egress): stage 0 parses the frame, stage 1 classifies it at the outbound WFP layers
 *   (OUTBOUND_MAC_FRAME_ETHERNET, OUTBOUND_IPPACKET_V4/V6, OUTBOUND_TRANSPORT_V4/V6) and the ALE
 *   stage, drops what they block, and steals what a callout must decide: a copy goes to the
 *   callout runtime through the ring buffer xfp_punt_rb (the runtime re-sends what it permits).
 * xfp_tc_inject (ingress of the runtime's injection veth): delivers injected frames into the
 *   ingress of the interface they are meant for (bpf/include/xfp/abi.h, "Inbound injection"). */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

/* libbpf headers use the UAPI types above */
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/enforce.h"
#include "lib/stage0.h"

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 32u << 20);
} xfp_punt_rb SEC(".maps");

/* VLAN id of an injected frame -> where it goes */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, XFP_INJECT_SLOTS);
  __type(key, __u32);
  __type(value, struct xfp_inject_target);
} xfp_inj_targets SEC(".maps");

/* Punt counters of this CPU: [0] punted, [1] ring full, [2] too large */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 3);
  __type(key, __u32);
  __type(value, __u64);
} xfp_punt_stats SEC(".maps");

static __always_inline void xfp_punt_count(__u32 i) {
  __u64* c = bpf_map_lookup_elem(&xfp_punt_stats, &i);
  if (c) {
    (*c)++;
  }
}

/* Reserves a record of `cap` data bytes (a constant at each call site: the verifier needs the
 * reservation's size) and copies the frame into it; 0 on success. */
static __always_inline int xfp_punt_copy(struct __sk_buff* skb,
                                         __u32 len,
                                         __u32 reason,
                                         const __u32 cap) {
  void* r = bpf_ringbuf_reserve(&xfp_punt_rb, sizeof(struct xfp_punt_hdr) + cap, 0);
  if (!r) {
    xfp_punt_count(1);
    return -1;
  }
  struct xfp_punt_hdr* h = r;
  h->ifindex = skb->ifindex;
  h->wire_len = skb->len;
  h->cap_len = len;
  h->reason = reason;
  h->mark = skb->mark;
  h->gso_size = skb->gso_size;
  h->sock_cookie = bpf_get_socket_cookie(skb);
  if (len > cap || bpf_skb_load_bytes(skb, 0, (__u8*)r + sizeof(struct xfp_punt_hdr), len) != 0) {
    bpf_ringbuf_discard(r, 0);
    return -1;
  }
  bpf_ringbuf_submit(r, 0);
  return 0;
}

/* Copies the frame into the ring buffer; the skb is consumed either way (a failure fails
 * closed). */
static __always_inline int xfp_punt_skb(struct __sk_buff* skb, __u32 reason) {
  const __u32 len = skb->len;
  int err;
  if (len == 0) {
    return TC_ACT_SHOT;
  }
  if (len <= XFP_PUNT_SMALL) {
    err = xfp_punt_copy(skb, len, reason, XFP_PUNT_SMALL);
  } else if (len <= XFP_PUNT_LARGE) {
    err = xfp_punt_copy(skb, len, reason, XFP_PUNT_LARGE);
  } else {
    xfp_punt_count(2);
    return TC_ACT_SHOT;
  }
  if (err != 0) {
    return TC_ACT_SHOT;
  }
  xfp_punt_count(0);
  return TC_ACT_STOLEN;
}

SEC("tc")
int xfp_tc_out(struct __sk_buff* skb) {
  struct xfp_ctx c = xfp_ctx_from_skb(skb);
  struct xfp_pkt* pkt = xfp_stage_parse(&c);
  if (!pkt) {
    return TC_ACT_SHOT;
  }
  struct xfp_punt_state ps = {};
  const __u32 v = xfp_enforce(pkt, skb->ifindex, 0, skb->len, &ps);
  if (v == XFP_VERDICT_PUNT) {
    return xfp_punt_skb(skb, ps.reason);
  }
  return v == XFP_VERDICT_BLOCK ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc")
int xfp_tc_inject(struct __sk_buff* skb) {
  __u32 slot;
  if (skb->vlan_present) {
    slot = skb->vlan_tci & 0x0fff;
  } else {
    __u16 tag[2];
    if (bpf_skb_load_bytes(skb, 12, tag, sizeof tag) != 0 || tag[0] != bpf_htons(ETH_P_8021Q)) {
      return TC_ACT_SHOT;
    }
    slot = bpf_ntohs(tag[1]) & 0x0fff;
  }
  const struct xfp_inject_target* t = bpf_map_lookup_elem(&xfp_inj_targets, &slot);
  if (!t || t->ifindex == 0) {
    return TC_ACT_SHOT;
  }
  const __u32 ifindex = t->ifindex;
  const __u32 mark = t->mark;
  if (bpf_skb_vlan_pop(skb) != 0) {
    return TC_ACT_SHOT;
  }
  skb->mark = mark;
  return bpf_redirect(ifindex, BPF_F_INGRESS);
}

char LICENSE[] SEC("license") = "GPL";
