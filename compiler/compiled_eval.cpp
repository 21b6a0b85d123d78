#include "compiler/compiled_eval.h"

#include <array>

namespace xfp::compiler {
namespace {

bool boxMatches(const CompiledPolicy& p, uint32_t index, const xfp_key& key) {
  for (int hop = 0; hop < XFP_BOX_CHAIN && index != XFP_NONE; ++hop) {
    const xfp_box& box = p.boxes.at(index);
    for (uint32_t t = 0; t < box.nterms && t < XFP_BOX_TERMS; ++t) {
      const xfp_term& term = box.term[t];
      const uint32_t w = key.w[term.slot % XFP_SLOT_COUNT];
      const bool ok =
          term.op == XFP_TERM_RANGE ? (w >= term.a && w <= term.b) : ((w & term.a) == term.b);
      if (!ok) {
        return false;
      }
    }
    index = box.next;
  }
  return true;
}

}  // namespace

xfp_result evaluate(const CompiledPolicy& p,
                    int ls,
                    const xfp_key& key,
                    const RegisteredFn& registered) {
  xfp_result r{XFP_VERDICT_NO_MATCH, XFP_NONE, kRightActionWrite, 0};
  const xfp_layer_root& root = p.layers.at(ls);
  if ((root.flags & XFP_LAYER_ACTIVE) == 0) {
    return r;
  }
  // Walk every tree to its leaf.
  struct List {
    uint32_t base = 0;
    uint32_t count = 0;
    uint32_t pos = 0;
  };
  std::array<List, XFP_MAX_TREES> lists{};
  bool hasCallout = false;
  for (uint32_t t = 0; t < root.trees && t < XFP_MAX_TREES; ++t) {
    uint32_t n = root.root[t];
    for (int depth = 0; depth < XFP_MAX_DEPTH; ++depth) {
      const xfp_node& node = p.nodes.at(n);
      if (node.kind == XFP_NODE_LEAF) {
        break;
      }
      const uint32_t w = key.w[node.slot % XFP_SLOT_COUNT];
      n = node.base + (w >= node.mask_or_count ? 1u : 0u);  // XFP_NODE_SPLIT
    }
    const xfp_node& leaf = p.nodes.at(n);
    lists[t] = List{leaf.base, leaf.mask_or_count, 0};
    hasCallout = hasCallout || (leaf._pad & XFP_LEAF_HAS_CALLOUT) != 0;
  }
  // Candidates of all leaves, merged in arbitration order (= box index order).
  bool any = false;
  uint32_t doneRank = XFP_NONE;
  uint32_t lastFilter = XFP_NONE;
  for (uint32_t step = 0; step < XFP_MAX_TREES * XFP_LEAF_MAX; ++step) {
    uint32_t boxIndex = XFP_NONE;
    List* from = nullptr;
    for (List& l : lists) {
      if (l.pos < l.count && p.cands.at(l.base + l.pos) < boxIndex) {
        boxIndex = p.cands.at(l.base + l.pos);
        from = &l;
      }
    }
    if (from == nullptr) {
      break;
    }
    ++from->pos;
    const uint32_t fi = p.boxes.at(boxIndex).filter;
    if (fi == lastFilter) {
      continue;  // an earlier box of this filter matched
    }
    const xfp_filter& f = p.filters.at(fi);
    if (f.rank == doneRank) {
      continue;
    }
    if (!boxMatches(p, boxIndex, key)) {
      continue;
    }
    lastFilter = fi;
    uint32_t verdict = XFP_VERDICT_BLOCK;
    uint32_t rights = 0;
    if (f.action == XFP_ACT_PERMIT) {
      verdict = XFP_VERDICT_PERMIT;
      rights = (f.flags & XFP_FF_HARD_PERMIT) != 0 ? 0 : r.rights;
    } else if (f.action == XFP_ACT_CALLOUT) {
      if (registered && registered(f.callout_id)) {
        r.verdict = XFP_VERDICT_PUNT;
        r.filter = fi;
        return r;
      }
      if ((f.flags & XFP_FF_CALLOUT_INSPECTION) != 0) {
        continue;  // an unregistered inspection callout is ignored
      }
      if ((f.flags & XFP_FF_PERMIT_IF_UNREGISTERED) != 0) {
        verdict = XFP_VERDICT_PERMIT;
        rights = (f.flags & XFP_FF_HARD_PERMIT) != 0 ? 0 : r.rights;
      }
    }
    any = true;
    if ((r.rights & kRightActionWrite) != 0) {
      r.verdict = verdict;
      r.rights = rights;
      r.filter = fi;
    }
    doneRank = f.rank;
    if (!hasCallout && (r.rights & kRightActionWrite) == 0) {
      break;  // nothing after a hard decision can change it when no callout may veto
    }
  }
  if (r.verdict == XFP_VERDICT_NO_MATCH && any) {
    r.verdict = XFP_VERDICT_NONE;
  }
  return r;
}

ActionType verdictAction(uint32_t verdict) {
  switch (verdict) {
    case XFP_VERDICT_PERMIT:
      return ActionType::Permit;
    case XFP_VERDICT_BLOCK:
      return ActionType::Block;
    case XFP_VERDICT_NONE:
      return ActionType::None;
    default:
      return ActionType::NoneNoMatch;
  }
}

}  // namespace xfp::compiler
