/* XDP ingress entry (object xfp_xdp): stage 0 only for now (parse, count, XDP_PASS). The WFP
 * inbound layers (MAC frame, IP packet, transport) will follow as classifier stages. */
#include <linux/bpf.h>

/* libbpf headers use the UAPI types above */
#include <bpf/bpf_helpers.h>

#include "lib/stage0.h"

SEC("xdp")
int xfp_xdp_in(struct xdp_md* xdp) {
  struct xfp_ctx c = xfp_ctx_from_xdp(xdp);
  xfp_stage_parse(&c);
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
