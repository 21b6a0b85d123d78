/* Stage 1 of every hook: the WFP layers of the packet's direction, in WFP order (MAC frame, IP
 * packet, transport), each classified against the live policy generation; a BLOCK at any layer
 * drops. The IP-packet + transport result is kept in the flow cache (generation-tagged, so a
 * commit never serves a stale verdict). Deciding filters' counters and per-layer verdict
 * statistics are bumped; each layer's result is left in xfp_scratch for tests. */
#ifndef XFP_BPF_ENFORCE_H
#define XFP_BPF_ENFORCE_H

#include "lib/classify.h"
#include "lib/key.h"

static __always_inline void xfp_bump(
    const struct xfp_half* gen, __u32 ls, const struct xfp_result* r, __u32 bytes, int cached) {
  struct xfp_layer_stats* s = bpf_map_lookup_elem(&xfp_verdicts, &ls);
  if (s) {
    if (r->verdict < 5) {
      s->verdict[r->verdict]++;
    }
    if (cached) {
      s->cache_hits++;
    }
  }
  if (r->filter == XFP_NONE ||
      (r->verdict != XFP_VERDICT_PERMIT && r->verdict != XFP_VERDICT_BLOCK)) {
    return;
  }
  __u32 fk = gen->filter_off + r->filter;
  const struct xfp_filter* f = bpf_map_lookup_elem(&xfp_filters, &fk);
  if (!f) {
    return;
  }
  __u32 slot = f->counter;
  struct xfp_counter* c = bpf_map_lookup_elem(&xfp_counters, &slot);
  if (c) {
    c->packets++;
    c->bytes += bytes;
  }
}

static __always_inline __u32 xfp_flow_hash(const __u32* w) {
  /* Multiply-xorshift over 64-bit pairs: half the multiplies of a per-word mix. */
  __u64 h = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < XFP_FLOW_WORDS; i += 2) {
    h = (h ^ (((__u64)w[i] << 32) | w[i + 1])) * 0xff51afd7ed558ccdull;
    h ^= h >> 29;
  }
  return (__u32)(h >> 32) & (XFP_FLOW_CACHE_SIZE - 1);
}

/* Records one layer's result and says whether it blocks the packet. */
static __always_inline int xfp_layer(struct xfp_scratch* sc,
                                     const struct xfp_half* gen,
                                     __u32 ls,
                                     __u32 bytes) {
  if (ls >= XFP_LS_COUNT) {
    return 1;
  }
  struct xfp_result* r = &sc->res[ls];
  sc->evaluated |= 1u << ls;
  if (!(gen->active_layers & (1u << ls))) {
    /* No filters at this layer: FWP_ACTION_NONE_NO_MATCH, without a call or a statistic. */
    r->verdict = XFP_VERDICT_NO_MATCH;
    r->filter = XFP_NONE;
    r->rights = XFP_RIGHT_ACTION_WRITE;
    return 0;
  }
  xfp_classify_layer(&sc->key, gen, ls, r);
  xfp_bump(gen, ls, r, bytes, 0);
  /* Until the callout runtime takes punted packets, a punt fails closed. */
  return r->verdict == XFP_VERDICT_BLOCK || r->verdict == XFP_VERDICT_PUNT;
}

/* Returns XFP_VERDICT_PERMIT or XFP_VERDICT_BLOCK for the packet. */
static __always_inline __u32 xfp_enforce(const struct xfp_pkt* pkt,
                                         __u32 ifindex,
                                         int inbound,
                                         __u32 bytes) {
  __u32 zero = 0;
  const struct xfp_gen* g = bpf_map_lookup_elem(&xfp_gen, &zero);
  struct xfp_scratch* sc = bpf_map_lookup_elem(&xfp_scratch, &zero);
  if (!g || !sc) {
    return XFP_VERDICT_BLOCK;
  }
  /* One load: the half to read and the flow-cache tag always belong together. */
  const __u64 generation = *(volatile const __u64*)&g->generation;
  __u32 half = (__u32)(generation & 1);
  const struct xfp_half* gen = bpf_map_lookup_elem(&xfp_halves, &half);
  if (!gen) {
    return XFP_VERDICT_BLOCK;
  }
  xfp_build_key(&sc->key, pkt, ifindex, inbound);
  sc->evaluated = 0;
  sc->final_verdict = XFP_VERDICT_BLOCK;
  const __u32 base = inbound ? XFP_LS_IN_MAC : XFP_LS_OUT_MAC;
  if (xfp_layer(sc, gen, base, bytes)) {
    return XFP_VERDICT_BLOCK;
  }
  const int v4 = (pkt->flags & XFP_PKT_F_IPV4) != 0;
  const int v6 = (pkt->flags & XFP_PKT_F_IPV6) != 0;
  if (!v4 && !v6) {
    sc->final_verdict = XFP_VERDICT_PERMIT;
    return XFP_VERDICT_PERMIT;
  }
  const __u32 ip_ls = base + (v6 ? 2 : 1);
  const __u32 tr_ls = base + (v6 ? 4 : 3);
  const int transport = (pkt->flags & XFP_PKT_F_LATER_FRAGMENT) == 0;

  /* Flow cache lookup (unless switched off). */
  const struct xfp_cfg* cfg = bpf_map_lookup_elem(&xfp_cfg, &zero);
  const int use_cache = !cfg || !(cfg->flags & XFP_CFG_NO_FLOW_CACHE);
  __u32 fw[XFP_FLOW_WORDS];
  for (int i = 0; i < XFP_FLOW_WORDS - 1; i++) {
    fw[i] = sc->key.w[i];
  }
  fw[XFP_FLOW_WORDS - 1] = base | ((__u32)transport << 8);
  struct xfp_flow_entry* e = 0;
  if (use_cache) {
    __u32 h = xfp_flow_hash(fw);
    e = bpf_map_lookup_elem(&xfp_flows, &h);
  }
  if (e && e->generation == generation && generation != 0) {
    int same = 1;
    for (int i = 0; i < XFP_FLOW_WORDS; i++) {
      if (e->w[i] != fw[i]) {
        same = 0;
        break;
      }
    }
    if (same) {
      for (int j = 0; j < 2; j++) {
        if ((__u32)j >= e->layers) {
          break;
        }
        __u32 ls = e->ls[j];
        if (ls < XFP_LS_COUNT) {
          sc->res[ls] = e->res[j];
          sc->evaluated |= 1u << ls;
          if (gen->active_layers & (1u << ls)) {
            xfp_bump(gen, ls, &e->res[j], bytes, 1);
          }
        }
      }
      sc->final_verdict = e->verdict;
      return e->verdict;
    }
  }

  __u32 verdict = XFP_VERDICT_PERMIT;
  __u32 layers = 1;
  if (xfp_layer(sc, gen, ip_ls, bytes)) {
    verdict = XFP_VERDICT_BLOCK;
  } else if (transport) {
    layers = 2;
    if (xfp_layer(sc, gen, tr_ls, bytes)) {
      verdict = XFP_VERDICT_BLOCK;
    }
  }
  sc->final_verdict = verdict;
  /* Punted results are decided per packet by the callout: never cached. */
  int cacheable =
      sc->res[ip_ls < XFP_LS_COUNT ? ip_ls : 0].verdict != XFP_VERDICT_PUNT &&
      (layers < 2 || sc->res[tr_ls < XFP_LS_COUNT ? tr_ls : 0].verdict != XFP_VERDICT_PUNT);
  if (e && cacheable) {
    for (int i = 0; i < XFP_FLOW_WORDS; i++) {
      e->w[i] = fw[i];
    }
    e->generation = generation;
    e->verdict = verdict;
    e->layers = layers;
    e->ls[0] = ip_ls;
    e->ls[1] = tr_ls;
    if (ip_ls < XFP_LS_COUNT) {
      e->res[0] = sc->res[ip_ls];
    }
    if (tr_ls < XFP_LS_COUNT) {
      e->res[1] = sc->res[tr_ls];
    }
  }
  return verdict;
}

#endif /* XFP_BPF_ENFORCE_H */
