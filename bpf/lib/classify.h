/* Classification of one layer against the compiled policy: walk each of the layer's trees to a
 * leaf, then evaluate the leaves' candidate boxes merged in arbitration order (box index order)
 * with WFP's rights rules (wfp-model.md §4.8 for static filters; callouts punt, or fall back per
 * §4.5 when the callout runtime is gone). The C++ twin is compiler/compiled_eval.cpp; the two
 * must stay equivalent.
 *
 * Verifier notes: xfp_classify_layer() and xfp_chain_matches() are global functions, each
 * verified once however many callers they have. The candidates are walked with bpf_loop(); the
 * walk state lives in the per-CPU map xfp_walk, not on the stack, so the verifier sees its
 * fields as unknown scalars and converges on the callback at once. Every map index is checked by
 * the lookup itself; a NULL result fails closed (BLOCK). */
#ifndef XFP_BPF_CLASSIFY_H
#define XFP_BPF_CLASSIFY_H

#include <linux/bpf.h>
#include <linux/types.h>

/* libbpf headers use the UAPI types above */
#include <bpf/bpf_helpers.h>

#include "lib/policy_maps.h"
#include "xfp/abi.h"

#define XFP_RIGHT_ACTION_WRITE 1u

/* The terms of one box: 1 if the key satisfies them all, 0 if not, -1 on a bad slot. */
static __always_inline int xfp_terms_match(const struct xfp_box* box, const struct xfp_key* key) {
  for (int t = 0; t < XFP_BOX_TERMS; t++) {
    if ((__u32)t >= box->nterms) {
      break;
    }
    const struct xfp_term* term = &box->term[t];
    __u32 slot = term->slot;
    if (slot >= XFP_SLOT_COUNT) {
      return -1;
    }
    __u32 w = key->w[slot];
    if (term->op == XFP_TERM_RANGE) {
      if (w < term->a || w > term->b) {
        return 0;
      }
    } else if ((w & term->a) != term->b) {
      return 0;
    }
  }
  return 1;
}

/* Continuation boxes (more than XFP_BOX_TERMS terms): 1 if all match, 0 if not, -1 on failure.
 * Global: rare, and the verifier then checks the chain loop once. */
__noinline int xfp_chain_matches(const struct xfp_key* key, __u32 box_off, __u32 index) {
  if (!key) {
    return -1;
  }
  for (int hop = 1; hop < XFP_BOX_CHAIN; hop++) {
    if (index == XFP_NONE) {
      return 1;
    }
    __u32 bi = box_off + index;
    const struct xfp_box* box = bpf_map_lookup_elem(&xfp_boxes, &bi);
    if (!box) {
      return -1;
    }
    int m = xfp_terms_match(box, key);
    if (m <= 0) {
      return m;
    }
    index = box->next;
  }
  return index == XFP_NONE ? 1 : -1;
}

/* Loads the head of leaf list t (XFP_NONE once it is done); 0, or -1 on a lookup failure. */
static __always_inline int xfp_load_head(struct xfp_walk* st, __u32 t) {
  if (t >= XFP_MAX_TREES) {
    return -1;
  }
  if (st->pos[t] >= st->count[t]) {
    st->head[t] = XFP_NONE;
    return 0;
  }
  __u32 ci = st->cand_off + st->base[t] + st->pos[t];
  const struct xfp_cand* cand = bpf_map_lookup_elem(&xfp_cands, &ci);
  if (!cand) {
    return -1;
  }
  st->head[t] = cand->box;
  return 0;
}

/* One candidate box: returns 1 to stop the walk (a punt, a hard decision, or a failure). */
static __always_inline int xfp_leaf_step(__u32 box_index,
                                         struct xfp_walk* st,
                                         const struct xfp_key* key) {
  __u32 bi = st->box_off + box_index;
  const struct xfp_box* box = bpf_map_lookup_elem(&xfp_boxes, &bi);
  if (!box) {
    st->failed = 1;
    return 1;
  }
  __u32 fi = box->filter;
  if (fi == st->last_filter || box->rank == st->done_rank) {
    return 0; /* an earlier box of this filter matched, or its sublayer is decided */
  }
  int m = xfp_terms_match(box, key);
  if (m > 0 && box->next != XFP_NONE) {
    m = xfp_chain_matches(key, st->box_off, box->next);
  }
  if (m < 0) {
    st->failed = 1;
    return 1;
  }
  if (!m) {
    return 0;
  }
  __u32 fk = st->filter_off + fi;
  const struct xfp_filter* f = bpf_map_lookup_elem(&xfp_filters, &fk);
  if (!f) {
    st->failed = 1;
    return 1;
  }
  st->last_filter = fi;
  __u32 verdict = XFP_VERDICT_BLOCK;
  __u32 rights = 0;
  if (f->action == XFP_ACT_PERMIT) {
    verdict = XFP_VERDICT_PERMIT;
    rights = (f->flags & XFP_FF_HARD_PERMIT) ? 0 : st->rights;
  } else if (f->action == XFP_ACT_CALLOUT) {
    __u32 cid = f->callout_id;
    const __u32* live = bpf_map_lookup_elem(&xfp_callouts, &cid);
    if (live && *live && !st->callouts_dead) {
      st->verdict = XFP_VERDICT_PUNT;
      st->filter = fi;
      return 1;
    }
    /* The callout runtime is gone: WFP's unregistered-callout rule (§4.5). */
    if (f->flags & XFP_FF_CALLOUT_INSPECTION) {
      return 0;
    }
    if (f->flags & XFP_FF_PERMIT_IF_UNREGISTERED) {
      verdict = XFP_VERDICT_PERMIT;
      rights = (f->flags & XFP_FF_HARD_PERMIT) ? 0 : st->rights;
    }
  }
  st->any = 1;
  if (st->rights & XFP_RIGHT_ACTION_WRITE) {
    st->verdict = verdict;
    st->rights = rights;
    st->filter = fi;
  }
  st->done_rank = f->rank;
  /* Nothing after a hard decision can change it unless a callout may still veto. */
  return st->stop_when_hard && !(st->rights & XFP_RIGHT_ACTION_WRITE);
}

/* Takes the smallest head of the trees' leaf lists and evaluates it; 1 ends the walk. */
static __always_inline int xfp_leaf_next(struct xfp_walk* st, const struct xfp_key* key) {
  __u32 best = XFP_NONE;
  __u32 from = XFP_MAX_TREES;
  for (__u32 t = 0; t < XFP_MAX_TREES; t++) {
    if (t >= st->trees) {
      break;
    }
    if (st->head[t] < best) {
      best = st->head[t];
      from = t;
    }
  }
  if (from >= XFP_MAX_TREES) {
    return 1; /* every list is done */
  }
  st->pos[from]++;
  if (xfp_load_head(st, from) < 0) {
    st->failed = 1;
    return 1;
  }
  return xfp_leaf_step(best, st, key);
}

/* bpf_loop callback for leaves longer than the inline walk. */
static long xfp_leaf_loop_cb(__u32 i, void* ctx) {
  __u32 zero = 0;
  struct xfp_walk* st = bpf_map_lookup_elem(&xfp_walk, &zero);
  const struct xfp_scratch* sc = bpf_map_lookup_elem(&xfp_scratch, &zero);
  (void)i;
  (void)ctx;
  if (!st || !sc) {
    return 1;
  }
  return xfp_leaf_next(st, &sc->key);
}

/* Classifies the key of this CPU's xfp_scratch at layer slot ls into *out. With callouts_dead
 * every callout filter takes its unregistered fallback (the runtime cannot take a punt). */
__noinline int xfp_classify_layer(const struct xfp_key* key,
                                  const struct xfp_half* gen,
                                  __u32 ls,
                                  struct xfp_result* out,
                                  __u32 callouts_dead) {
  __u32 zero = 0;
  if (!out) {
    return -1;
  }
  out->verdict = XFP_VERDICT_BLOCK;
  out->filter = XFP_NONE;
  out->rights = 0;
  struct xfp_walk* st = bpf_map_lookup_elem(&xfp_walk, &zero);
  if (!key || !gen || !st) {
    return -1;
  }
  __u32 li = gen->layer_off + ls;
  const struct xfp_layer_root* root = bpf_map_lookup_elem(&xfp_layers, &li);
  if (!root) {
    return -1;
  }
  if (!(root->flags & XFP_LAYER_ACTIVE)) {
    out->verdict = XFP_VERDICT_NO_MATCH;
    out->rights = XFP_RIGHT_ACTION_WRITE;
    return 0;
  }
  st->cand_off = gen->cand_off;
  st->box_off = gen->box_off;
  st->filter_off = gen->filter_off;
  st->verdict = XFP_VERDICT_NO_MATCH;
  st->filter = XFP_NONE;
  st->rights = XFP_RIGHT_ACTION_WRITE;
  st->any = 0;
  st->done_rank = XFP_NONE;
  st->last_filter = XFP_NONE;
  st->failed = 0;
  st->stop_when_hard = 1;
  st->callouts_dead = callouts_dead;
  __u32 total = 0;
  st->trees = root->trees < XFP_MAX_TREES ? root->trees : XFP_MAX_TREES;
  for (__u32 t = 0; t < XFP_MAX_TREES; t++) {
    if (t >= st->trees) {
      break;
    }
    st->head[t] = XFP_NONE;
    st->pos[t] = 0;
    st->count[t] = 0;
    /* Walk tree t to its leaf. */
    __u32 n = root->root[t];
    const struct xfp_node* node = 0;
    for (int d = 0; d < XFP_MAX_DEPTH; d++) {
      __u32 ni = gen->node_off + n;
      node = bpf_map_lookup_elem(&xfp_nodes, &ni);
      if (!node) {
        return -1;
      }
      if (node->kind == XFP_NODE_LEAF) {
        break;
      }
      __u32 slot = node->slot;
      if (slot >= XFP_SLOT_COUNT) {
        return -1;
      }
      __u32 w = key->w[slot];
      n = node->base + (w >= node->mask_or_count ? 1 : 0); /* XFP_NODE_SPLIT */
    }
    if (!node || node->kind != XFP_NODE_LEAF) {
      return -1;
    }
    st->base[t] = node->base;
    st->count[t] = node->mask_or_count;
    total += node->mask_or_count;
    if (node->_pad & XFP_LEAF_HAS_CALLOUT) {
      st->stop_when_hard = 0;
    }
    if (xfp_load_head(st, t) < 0) {
      return -1;
    }
  }
  bpf_loop(total > XFP_MAX_TREES * XFP_LEAF_MAX ? XFP_MAX_TREES * XFP_LEAF_MAX : total,
           xfp_leaf_loop_cb,
           0,
           0);
  if (st->failed) {
    return -1; /* corrupt or missing compiled data: BLOCK (fail closed) */
  }
  out->verdict = st->verdict;
  if (st->verdict == XFP_VERDICT_NO_MATCH && st->any) {
    out->verdict = XFP_VERDICT_NONE;
  }
  out->filter = st->filter;
  out->rights = st->rights;
  return 0;
}

#endif /* XFP_BPF_CLASSIFY_H */
