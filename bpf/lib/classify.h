/* Classification of one layer against the compiled policy: walk the layer's cut tree to a leaf,
 * then evaluate the leaf's candidate boxes in arbitration order with WFP's rights rules
 * (wfp-model.md §4.8 for static filters; callouts punt or fall back per §4.5). The C++ twin is
 * compiler/compiled_eval.cpp; the two must stay line-for-line equivalent.
 *
 * Verifier notes: xfp_classify_layer() is a global function, verified once however many layers
 * call it; the tree walk has a constant bound (XFP_MAX_DEPTH) and the leaf's candidates are
 * walked with bpf_loop(), whose callback is verified once. Every map index is checked by the
 * lookup itself (a NULL result fails closed: BLOCK). */
#ifndef XFP_BPF_CLASSIFY_H
#define XFP_BPF_CLASSIFY_H

#include <linux/bpf.h>
#include <linux/types.h>

/* libbpf headers use the UAPI types above */
#include <bpf/bpf_helpers.h>

#include "lib/policy_maps.h"
#include "xfp/abi.h"

#define XFP_RIGHT_ACTION_WRITE 1u

/* State of one leaf evaluation. */
struct xfp_leaf_state {
  const struct xfp_key* key;
  const struct xfp_half* gen;
  __u32 base; /* first leaf entry (relative) */
  __u32 count;
  __u32 verdict;
  __u32 filter;
  __u32 rights;
  __u32 any;
  __u32 done_rank;
  __u32 last_filter;
  __u32 failed;         /* a lookup failed: fail closed */
  __u32 stop_when_hard; /* the leaf holds no callout: a hard decision ends the walk */
};

static __always_inline int xfp_box_matches(const struct xfp_half* gen,
                                           __u32 index,
                                           const struct xfp_key* key) {
  for (int hop = 0; hop < XFP_BOX_CHAIN; hop++) {
    if (index == XFP_NONE) {
      return 1;
    }
    __u32 bi = gen->box_off + index;
    const struct xfp_box* box = bpf_map_lookup_elem(&xfp_boxes, &bi);
    if (!box) {
      return -1;
    }
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
    index = box->next;
  }
  return 1;
}

/* One candidate: returns 1 to stop the walk (a punt, or a lookup failure). */
static __always_inline int xfp_leaf_step(__u32 i, struct xfp_leaf_state* st) {
  const struct xfp_half* gen = st->gen;
  __u32 ci = gen->cand_off + st->base + i;
  const struct xfp_cand* cand = bpf_map_lookup_elem(&xfp_cands, &ci);
  if (!cand) {
    st->failed = 1;
    return 1;
  }
  __u32 box_index = cand->box;
  __u32 bi = gen->box_off + box_index;
  const struct xfp_box* box = bpf_map_lookup_elem(&xfp_boxes, &bi);
  if (!box) {
    st->failed = 1;
    return 1;
  }
  __u32 fi = box->filter;
  if (fi == st->last_filter) {
    return 0; /* an earlier box of this filter matched */
  }
  __u32 fk = gen->filter_off + fi;
  const struct xfp_filter* f = bpf_map_lookup_elem(&xfp_filters, &fk);
  if (!f) {
    st->failed = 1;
    return 1;
  }
  if (f->rank == st->done_rank) {
    return 0;
  }
  int m = xfp_box_matches(gen, box_index, st->key);
  if (m < 0) {
    st->failed = 1;
    return 1;
  }
  if (!m) {
    return 0;
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
    if (live && *live) {
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

static long xfp_leaf_loop_cb(__u32 i, void* ctx) {
  struct xfp_leaf_state* st = ctx;
  if (i >= st->count) {
    return 1;
  }
  return xfp_leaf_step(i, st);
}

/* Classifies the key at layer slot ls; writes the result to *out. Global (not static) so the
 * verifier checks it once; its pointer arguments may be NULL as far as it knows. */
__noinline int xfp_classify_layer(const struct xfp_key* key,
                                  const struct xfp_half* gen,
                                  __u32 ls,
                                  struct xfp_result* out) {
  if (!out) {
    return -1;
  }
  if (!key || !gen) {
    out->verdict = XFP_VERDICT_BLOCK;
    out->filter = XFP_NONE;
    out->rights = 0;
    return -1;
  }
  out->verdict = XFP_VERDICT_NO_MATCH;
  out->filter = XFP_NONE;
  out->rights = XFP_RIGHT_ACTION_WRITE;
  __u32 li = gen->layer_off + ls;
  const struct xfp_layer_root* root = bpf_map_lookup_elem(&xfp_layers, &li);
  if (!root) {
    goto fail;
  }
  if (!(root->flags & XFP_LAYER_ACTIVE)) {
    return 0;
  }
  __u32 n = root->root;
  const struct xfp_node* node = 0;
  for (int d = 0; d < XFP_MAX_DEPTH; d++) {
    __u32 ni = gen->node_off + n;
    node = bpf_map_lookup_elem(&xfp_nodes, &ni);
    if (!node) {
      goto fail;
    }
    if (node->kind == XFP_NODE_LEAF) {
      break;
    }
    __u32 slot = node->slot;
    if (slot >= XFP_SLOT_COUNT) {
      goto fail;
    }
    __u32 w = key->w[slot];
    if (node->kind == XFP_NODE_SPLIT) {
      n = node->base + (w >= node->mask_or_count ? 1 : 0);
    } else {
      n = node->base + ((w >> (node->shift & 31)) & node->mask_or_count);
    }
  }
  if (!node || node->kind != XFP_NODE_LEAF) {
    goto fail;
  }
  struct xfp_leaf_state st = {
      .key = key,
      .gen = gen,
      .base = node->base,
      .count = node->mask_or_count,
      .verdict = XFP_VERDICT_NO_MATCH,
      .filter = XFP_NONE,
      .rights = XFP_RIGHT_ACTION_WRITE,
      .done_rank = XFP_NONE,
      .last_filter = XFP_NONE,
      .stop_when_hard = !(node->_pad & XFP_LEAF_HAS_CALLOUT),
  };
  __u32 n_iter = st.count > XFP_LEAF_MAX ? XFP_LEAF_MAX : st.count;
  bpf_loop(n_iter, xfp_leaf_loop_cb, &st, 0);
  if (st.failed) {
    goto fail;
  }
  if (st.verdict == XFP_VERDICT_NO_MATCH && st.any) {
    st.verdict = XFP_VERDICT_NONE;
  }
  out->verdict = st.verdict;
  out->filter = st.filter;
  out->rights = st.rights;
  return 0;
fail:
  /* Corrupt or missing compiled data: fail closed. */
  out->verdict = XFP_VERDICT_BLOCK;
  out->filter = XFP_NONE;
  out->rights = 0;
  return -1;
}

#endif /* XFP_BPF_CLASSIFY_H */
