/* XDP ingress entry (object xfp_xdp): stage 0 parses the frame, stage 1 classifies it at the
 * inbound WFP layers (INBOUND_MAC_FRAME_ETHERNET, INBOUND_IPPACKET_V4/V6,
 * INBOUND_TRANSPORT_V4/V6) and the ALE stage, drops what they block and hands what a callout must
 * decide to the callout runtime's AF_XDP socket of the receive queue (the punt path). */
#include <linux/bpf.h>

/* libbpf headers use the UAPI types above */
#include <bpf/bpf_helpers.h>

#include "xfp/abi.h"

/* rx queue -> the callout runtime's AF_XDP socket for it */
struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, XFP_XSK_QUEUES);
  __type(key, __u32);
  __type(value, __u32);
} xfp_xsks SEC(".maps");

#define XFP_PUNT_TARGET_OK(queue) (bpf_map_lookup_elem(&xfp_xsks, &(queue)) != 0)

#include "lib/enforce.h"
#include "lib/stage0.h"

SEC("xdp")
int xfp_xdp_in(struct xdp_md* xdp) {
  struct xfp_ctx c = xfp_ctx_from_xdp(xdp);
  struct xfp_pkt* pkt = xfp_stage_parse(&c);
  if (!pkt) {
    return XDP_DROP;
  }
  struct xfp_punt_state ps = {.queue = xdp->rx_queue_index};
  const __u32 v = xfp_enforce(pkt, xdp->ingress_ifindex, 1, c.len, &ps);
  if (v == XFP_VERDICT_PUNT) {
    /* Should the socket vanish between the check and here, the frame is dropped (fail closed). */
    return bpf_redirect_map(&xfp_xsks, ps.queue, XDP_DROP);
  }
  return v == XFP_VERDICT_BLOCK ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
