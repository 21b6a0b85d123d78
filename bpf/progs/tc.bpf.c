/* tc egress entry (object xfp_tc, clsact): stage 0 parses the frame, stage 1 classifies it at the
 * outbound WFP layers (OUTBOUND_MAC_FRAME_ETHERNET, OUTBOUND_IPPACKET_V4/V6,
 * OUTBOUND_TRANSPORT_V4/V6) and drops what they block. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

/* libbpf headers use the UAPI types above */
#include <bpf/bpf_helpers.h>

#include "lib/enforce.h"
#include "lib/stage0.h"

SEC("tc")
int xfp_tc_out(struct __sk_buff* skb) {
  struct xfp_ctx c = xfp_ctx_from_skb(skb);
  struct xfp_pkt* pkt = xfp_stage_parse(&c);
  if (!pkt) {
    return TC_ACT_SHOT;
  }
  return xfp_enforce(pkt, skb->ifindex, 0, skb->len) == XFP_VERDICT_BLOCK ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
