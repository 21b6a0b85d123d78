/* tc egress entry (object xfp_tc, clsact): stage 0 only for now (parse, count, TC_ACT_OK). The
 * WFP outbound layers will follow as classifier stages. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

/* libbpf headers use the UAPI types above */
#include <bpf/bpf_helpers.h>

#include "lib/stage0.h"

SEC("tc")
int xfp_tc_out(struct __sk_buff* skb) {
  struct xfp_ctx c = xfp_ctx_from_skb(skb);
  xfp_stage_parse(&c);
  return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
