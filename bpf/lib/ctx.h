/* The thin context layer that lets one parser serve XDP and tc: the linear packet bytes
 * [data, data_end) and the full packet length (tc: skb->len, which may exceed the linear part). */
#ifndef XFP_BPF_CTX_H
#define XFP_BPF_CTX_H

#include <linux/bpf.h>
#include <linux/types.h>

/* libbpf headers use the UAPI types above */
#include <bpf/bpf_helpers.h>

struct xfp_ctx {
  void* data;
  void* data_end;
  __u32 len;
};

static __always_inline struct xfp_ctx xfp_ctx_from_xdp(struct xdp_md* xdp) {
  struct xfp_ctx c = {
      .data = (void*)(long)xdp->data,
      .data_end = (void*)(long)xdp->data_end,
  };
  c.len = (__u32)(c.data_end - c.data);
  return c;
}

/* Headers the tc parser may need are pulled into the linear area first (egress skbs can carry
 * headers in fragments); packets whose headers lie beyond XFP_TC_PULL_LEN parse as truncated. */
#define XFP_TC_PULL_LEN 512

static __always_inline struct xfp_ctx xfp_ctx_from_skb(struct __sk_buff* skb) {
  __u32 want = skb->len < XFP_TC_PULL_LEN ? skb->len : XFP_TC_PULL_LEN;
  if (skb->data_end - skb->data < want) {
    /* Failure leaves the skb as it was: the parser then sees a shorter buffer. */
    bpf_skb_pull_data(skb, want);
  }
  struct xfp_ctx c = {
      .data = (void*)(long)skb->data,
      .data_end = (void*)(long)skb->data_end,
      .len = skb->len,
  };
  return c;
}

#endif /* XFP_BPF_CTX_H */
