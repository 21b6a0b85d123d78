/* Stage 0 of every hook: parse the packet, keep it in xfp_last_pkt, bump xfp_stats. The
 * classifier stages will consume the returned struct xfp_pkt. */
#ifndef XFP_BPF_STAGE0_H
#define XFP_BPF_STAGE0_H

#include "lib/ctx.h"
#include "lib/maps.h"
#include "lib/parse.h"

/* Returns the parsed packet (a per-CPU map value, valid until the program exits), or NULL if a
 * map lookup failed (cannot happen for a one-entry array; checked for the verifier). */
static __always_inline struct xfp_pkt* xfp_stage_parse(const struct xfp_ctx* c) {
  __u32 key = 0;
  struct xfp_pkt* pkt = bpf_map_lookup_elem(&xfp_last_pkt, &key);
  if (!pkt) {
    return NULL;
  }
  xfp_parse(c, pkt);
  struct xfp_parse_counters* s = bpf_map_lookup_elem(&xfp_stats, &key);
  if (s) {
    xfp_count(s, pkt);
  }
  return pkt;
}

#endif /* XFP_BPF_STAGE0_H */
