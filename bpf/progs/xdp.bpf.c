/* XDP ingress entry (object xfp_xdp): stage 0 parses the frame, stage 1 classifies it at the
 * inbound WFP layers (INBOUND_MAC_FRAME_ETHERNET, INBOUND_IPPACKET_V4/V6,
 * INBOUND_TRANSPORT_V4/V6) and drops what they block. */
#include <linux/bpf.h>

/* libbpf headers use the UAPI types above */
#include <bpf/bpf_helpers.h>

#include "lib/enforce.h"
#include "lib/stage0.h"

SEC("xdp")
int xfp_xdp_in(struct xdp_md* xdp) {
  struct xfp_ctx c = xfp_ctx_from_xdp(xdp);
  struct xfp_pkt* pkt = xfp_stage_parse(&c);
  if (!pkt) {
    return XDP_DROP;
  }
  return xfp_enforce(pkt, xdp->ingress_ifindex, 1, c.len) == XFP_VERDICT_BLOCK ? XDP_DROP
                                                                               : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
