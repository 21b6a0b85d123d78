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

/* Whether a punt can reach the callout runtime: a fresh heartbeat, and (hook-specific, defined by
 * the program before including this header) a receiver for this packet's queue. */
#ifndef XFP_PUNT_TARGET_OK
#define XFP_PUNT_TARGET_OK(queue) 1
#endif

static __always_inline int xfp_runtime_alive(void) {
  __u32 zero = 0;
  const struct xfp_runtime* rt = bpf_map_lookup_elem(&xfp_runtime, &zero);
  if (!rt) {
    return 0;
  }
  const __u64 hb = *(volatile const __u64*)&rt->heartbeat_ns;
  if (hb == 0) {
    return 0;
  }
  const __u64 now = bpf_ktime_get_ns();
  return now <= hb || now - hb < XFP_RUNTIME_STALE_NS;
}

/* Per-packet punt bookkeeping: whether the runtime can take a punt (checked once, lazily), and
 * why the packet is punted. */
struct xfp_punt_state {
  __u32 checked;
  __u32 ok;
  __u32 reason; /* XFP_PUNT_* */
  __u32 queue;
};

static __always_inline int xfp_punt_possible(struct xfp_punt_state* ps) {
  if (!ps->checked) {
    ps->checked = 1;
    ps->ok = xfp_runtime_alive() && XFP_PUNT_TARGET_OK(ps->queue);
  }
  return ps->ok;
}

enum { XFP_LAYER_GO = 0, XFP_LAYER_DROP = 1, XFP_LAYER_PUNT = 2 };

/* Records one layer's result: go on, drop (BLOCK) or punt (a live callout must decide). */
static __always_inline int xfp_layer(struct xfp_scratch* sc,
                                     const struct xfp_half* gen,
                                     __u32 ls,
                                     __u32 bytes,
                                     struct xfp_punt_state* ps) {
  if (ls >= XFP_LS_COUNT) {
    return XFP_LAYER_DROP;
  }
  struct xfp_result* r = &sc->res[ls];
  sc->evaluated |= 1u << ls;
  if (!(gen->active_layers & (1u << ls))) {
    /* No filters at this layer: FWP_ACTION_NONE_NO_MATCH, without a call or a statistic. */
    r->verdict = XFP_VERDICT_NO_MATCH;
    r->filter = XFP_NONE;
    r->rights = XFP_RIGHT_ACTION_WRITE;
    return XFP_LAYER_GO;
  }
  xfp_classify_layer(&sc->key, gen, ls, r, 0);
  if (r->verdict == XFP_VERDICT_PUNT && !xfp_punt_possible(ps)) {
    /* Nobody can answer for the callout: every callout filter takes its unregistered fallback. */
    xfp_classify_layer(&sc->key, gen, ls, r, 1);
  }
  xfp_bump(gen, ls, r, bytes, 0);
  if (r->verdict == XFP_VERDICT_PUNT) {
    ps->reason = XFP_PUNT_PACKET;
    return XFP_LAYER_PUNT;
  }
  return r->verdict == XFP_VERDICT_BLOCK ? XFP_LAYER_DROP : XFP_LAYER_GO;
}

static __always_inline __u32 xfp_layer_verdict(int l) {
  return l == XFP_LAYER_PUNT ? XFP_VERDICT_PUNT
                             : (l == XFP_LAYER_DROP ? XFP_VERDICT_BLOCK : XFP_VERDICT_PERMIT);
}

/* The ALE stage (wfp-model.md §4.10): a packet of a flow the ALE auth layers already decided takes
 * that verdict; the first packet of a new flow at an active ALE layer, a packet of a flow whose
 * verdict predates the current ALE policy (re-authorization) and packets of a pended flow go to
 * the callout runtime, which classifies the ALE layer. Without a runtime they are blocked. */
static __always_inline __u32 xfp_ale(const struct xfp_pkt* pkt,
                                     int inbound,
                                     struct xfp_punt_state* ps) {
  __u32 zero = 0;
  const struct xfp_ale_cfg* ac = bpf_map_lookup_elem(&xfp_ale_cfg, &zero);
  if (!ac || ac->layers == 0) {
    return XFP_VERDICT_PERMIT;
  }
  if ((pkt->flags & XFP_PKT_F_LATER_FRAGMENT) || (pkt->flags & XFP_PKT_F_MALFORMED)) {
    return XFP_VERDICT_PERMIT; /* no 5-tuple: the packet layers alone decide */
  }
  const int v6 = (pkt->flags & XFP_PKT_F_IPV6) != 0;
  struct xfp_ale_key k = {};
  const __u8* local = inbound ? pkt->dst_addr : pkt->src_addr;
  const __u8* remote = inbound ? pkt->src_addr : pkt->dst_addr;
  __builtin_memcpy(k.local, local, 16);
  __builtin_memcpy(k.remote, remote, 16);
  const int icmp = pkt->ip_proto == 1 || pkt->ip_proto == 58;
  if ((pkt->flags & XFP_PKT_F_L4) && !icmp) {
    k.local_port = inbound ? pkt->dst_port : pkt->src_port;
    k.remote_port = inbound ? pkt->src_port : pkt->dst_port;
  }
  k.proto = pkt->ip_proto;
  k.v6 = (__u8)v6;
  const __u64 ale_gen = ac->ale_gen;
  struct xfp_ale_flow* e = bpf_map_lookup_elem(&xfp_ale_flows, &k);
  __u32 bit;
  if (e) {
    if (e->verdict == XFP_ALE_PENDING) {
      ps->reason = XFP_PUNT_ALE_PENDING;
      return xfp_punt_possible(ps) ? XFP_VERDICT_PUNT : XFP_VERDICT_BLOCK;
    }
    if (e->ale_gen == ale_gen) {
      return e->verdict == XFP_ALE_BLOCK ? XFP_VERDICT_BLOCK : XFP_VERDICT_PERMIT;
    }
    bit = e->outbound ? (v6 ? XFP_ALE_CONNECT_V6 : XFP_ALE_CONNECT_V4)
                      : (v6 ? XFP_ALE_RECV_ACCEPT_V6 : XFP_ALE_RECV_ACCEPT_V4);
    if (!(ac->layers & bit)) {
      /* The flow's layer has no filters any more: NONE_NO_MATCH permits. */
      e->ale_gen = ale_gen;
      e->verdict = XFP_ALE_PERMIT;
      return XFP_VERDICT_PERMIT;
    }
    ps->reason = XFP_PUNT_ALE_REAUTH;
    return xfp_punt_possible(ps) ? XFP_VERDICT_PUNT : XFP_VERDICT_BLOCK;
  }
  bit = inbound ? (v6 ? XFP_ALE_RECV_ACCEPT_V6 : XFP_ALE_RECV_ACCEPT_V4)
                : (v6 ? XFP_ALE_CONNECT_V6 : XFP_ALE_CONNECT_V4);
  if (!(ac->layers & bit)) {
    struct xfp_ale_flow nf = {.ale_gen = ale_gen, .verdict = XFP_ALE_PERMIT, .outbound = !inbound};
    bpf_map_update_elem(&xfp_ale_flows, &k, &nf, BPF_NOEXIST);
    return XFP_VERDICT_PERMIT;
  }
  ps->reason = XFP_PUNT_ALE_NEW;
  return xfp_punt_possible(ps) ? XFP_VERDICT_PUNT : XFP_VERDICT_BLOCK;
}

/* The packet layers of the packet's direction. Returns XFP_VERDICT_PERMIT, XFP_VERDICT_BLOCK or
 * XFP_VERDICT_PUNT (ps->reason says why). */
static __always_inline __u32 xfp_packet_layers(
    const struct xfp_pkt* pkt, __u32 ifindex, int inbound, __u32 bytes, struct xfp_punt_state* ps) {
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
  const int mac = xfp_layer(sc, gen, base, bytes, ps);
  if (mac != XFP_LAYER_GO) {
    sc->final_verdict = xfp_layer_verdict(mac);
    return sc->final_verdict;
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

  __u32 layers = 1;
  int l = xfp_layer(sc, gen, ip_ls, bytes, ps);
  if (l == XFP_LAYER_GO && transport) {
    layers = 2;
    l = xfp_layer(sc, gen, tr_ls, bytes, ps);
  }
  const __u32 verdict = xfp_layer_verdict(l);
  sc->final_verdict = verdict;
  /* Punted results are decided per packet by the callout: never cached. */
  if (e && verdict != XFP_VERDICT_PUNT) {
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

/* One net event for the packet's final verdict, if events of that kind are on and this CPU has
 * budget left. The deciding layer is the first evaluated one whose result matches the verdict,
 * or the ALE stage. */
static __always_inline void xfp_net_event(const struct xfp_pkt* pkt,
                                          __u32 ifindex,
                                          int inbound,
                                          __u32 verdict) {
  __u32 zero = 0;
  const struct xfp_cfg* cfg = bpf_map_lookup_elem(&xfp_cfg, &zero);
  const __u32 flags = cfg ? cfg->flags : 0;
  if (!(flags & (verdict == XFP_VERDICT_BLOCK ? XFP_CFG_DROP_EVENTS : XFP_CFG_ALLOW_EVENTS))) {
    return;
  }
  __u64* budget = bpf_map_lookup_elem(&xfp_ev_budget, &zero);
  struct xfp_event_stats* st = bpf_map_lookup_elem(&xfp_event_stats, &zero);
  if (!budget || !st) {
    return;
  }
  if (*budget == 0) {
    st->suppressed++;
    return;
  }
  struct xfp_net_event* e = bpf_ringbuf_reserve(&xfp_events, sizeof(*e), 0);
  if (!e) {
    st->suppressed++;
    return;
  }
  (*budget)--;
  st->emitted++;
  e->timestamp_ns = bpf_ktime_get_coarse_ns();
  e->filter_id = 0;
  e->ifindex = ifindex;
  e->layer_slot = XFP_LS_ALE;
  e->verdict = (__u8)verdict;
  e->inbound = (__u8)inbound;
  e->ip_proto = pkt->ip_proto;
  __builtin_memcpy(e->src_addr, pkt->src_addr, 16);
  __builtin_memcpy(e->dst_addr, pkt->dst_addr, 16);
  e->src_port = pkt->src_port;
  e->dst_port = pkt->dst_port;
  e->flags = pkt->flags;
  const struct xfp_scratch* sc = bpf_map_lookup_elem(&xfp_scratch, &zero);
  const struct xfp_gen* g = bpf_map_lookup_elem(&xfp_gen, &zero);
  if (sc && g) {
    __u32 half = (__u32)(g->generation & 1);
    const struct xfp_half* gen = bpf_map_lookup_elem(&xfp_halves, &half);
    for (__u32 ls = 0; ls < XFP_LS_COUNT; ls++) {
      if (!(sc->evaluated & (1u << ls))) {
        continue;
      }
      const struct xfp_result* r = &sc->res[ls];
      if (verdict == XFP_VERDICT_BLOCK ? r->verdict != XFP_VERDICT_BLOCK
                                       : r->verdict != XFP_VERDICT_PERMIT) {
        continue;
      }
      e->layer_slot = (__u8)ls;
      if (gen && r->filter != XFP_NONE) {
        __u32 fk = gen->filter_off + r->filter;
        const struct xfp_filter* f = bpf_map_lookup_elem(&xfp_filters, &fk);
        if (f) {
          e->filter_id = f->filter_id;
        }
      }
      break;
    }
  }
  bpf_ringbuf_submit(e, 0);
}

/* Stage 1 of a hook: the packet layers, then the ALE stage for what they permit. Returns
 * XFP_VERDICT_PERMIT, XFP_VERDICT_BLOCK or XFP_VERDICT_PUNT (ps->reason says why). */
static __always_inline __u32 xfp_enforce(
    const struct xfp_pkt* pkt, __u32 ifindex, int inbound, __u32 bytes, struct xfp_punt_state* ps) {
  __u32 v = xfp_packet_layers(pkt, ifindex, inbound, bytes, ps);
  if (v == XFP_VERDICT_PERMIT && (pkt->flags & (XFP_PKT_F_IPV4 | XFP_PKT_F_IPV6))) {
    v = xfp_ale(pkt, inbound, ps);
    if (v != XFP_VERDICT_PERMIT) {
      __u32 zero = 0;
      struct xfp_scratch* sc = bpf_map_lookup_elem(&xfp_scratch, &zero);
      if (sc) {
        sc->final_verdict = v;
      }
    }
  }
  if (v != XFP_VERDICT_PUNT) {
    xfp_net_event(pkt, ifindex, inbound, v);
  }
  return v;
}

#endif /* XFP_BPF_ENFORCE_H */
