#include "compiler/compiler.h"

#include <fmt/format.h>

#include "compiler/boxes.h"
#include "compiler/fast_path_fields.h"

namespace xfp::compiler {
namespace {

uint8_t runtimeFlags(const Filter& f) {
  uint8_t flags = 0;
  if ((f.flags & filter_flag::kClearActionRight) != 0) {
    flags |= XFP_FF_HARD_PERMIT;
  }
  if (f.action.type == ActionType::CalloutInspection) {
    flags |= XFP_FF_CALLOUT_INSPECTION;
  }
  if (f.action.type == ActionType::CalloutTerminating) {
    flags |= XFP_FF_CALLOUT_TERMINATING;
  }
  if ((f.flags & filter_flag::kPermitIfCalloutUnregistered) != 0) {
    flags |= XFP_FF_PERMIT_IF_UNREGISTERED;
  }
  return flags;
}

// Writes one box (and its continuations) into the box array; returns the head index.
uint32_t emitBox(const Box& box, uint32_t filter, uint16_t rank, std::vector<xfp_box>& out) {
  const auto head = static_cast<uint32_t>(out.size());
  size_t t = 0;
  uint32_t prev = XFP_NONE;
  do {
    xfp_box b{};
    b.filter = filter;
    b.next = XFP_NONE;
    b.rank = rank;
    for (; t < box.size() && b.nterms < XFP_BOX_TERMS; ++t) {
      xfp_term& term = b.term[b.nterms++];
      term.slot = box[t].slot;
      term.op = box[t].op;
      term.a = box[t].a;
      term.b = box[t].b;
    }
    const auto index = static_cast<uint32_t>(out.size());
    if (prev != XFP_NONE) {
      out[prev].next = index;
    }
    out.push_back(b);
    prev = index;
  } while (t < box.size());
  return head;
}

}  // namespace

Result<CompiledPolicy> compile(const Policy& policy, const CompileOptions& options) {
  CompiledPolicy out;
  for (int ls = 0; ls < XFP_LS_COUNT; ++ls) {
    const uint16_t layerId = fastpath::layerIdOf(ls);
    const LayerInfo& layer = *layerById(layerId);
    LayerStats& stats = out.stats[ls];
    std::vector<std::vector<Box>> boxStore;  // keeps the boxes the tree points to alive
    std::vector<TreeCandidate> cands;
    std::vector<uint32_t> headOf;  // candidate -> head box index in out.boxes
    uint16_t rank = 0;
    const Sublayer* previous = nullptr;
    const auto& order = policy.arbitrationOrder(layerId);
    boxStore.reserve(order.size());
    for (const ArbitrationEntry& e : order) {
      const Filter& f = *e.filter;
      if (previous != nullptr && e.sublayer != previous) {
        ++rank;
      }
      previous = e.sublayer;
      if ((f.flags & filter_flag::kDisabled) != 0) {
        continue;
      }
      auto boxes = filterBoxes(ls, f);
      if (!boxes) {
        return tl::unexpected(boxes.error());
      }
      if (boxes->empty()) {
        continue;  // can never match at this layer
      }
      xfp_filter rt{};
      rt.filter_id = f.filterId;
      rt.rank = rank;
      rt.flags = runtimeFlags(f);
      CandKind kind = CandKind::Callout;
      switch (f.action.type) {
        case ActionType::Block:
          rt.action = XFP_ACT_BLOCK;
          kind = CandKind::HardTerminal;
          break;
        case ActionType::Permit:
          rt.action = XFP_ACT_PERMIT;
          kind =
              (rt.flags & XFP_FF_HARD_PERMIT) != 0 ? CandKind::HardTerminal : CandKind::SoftPermit;
          break;
        default: {
          const Callout* c = policy.callout(f.action.calloutKey);
          rt.callout_id = c != nullptr ? c->calloutId : 0;
          rt.flags |= XFP_FF_FROM_CALLOUT;
          if (options.registered && rt.callout_id != 0 && options.registered(rt.callout_id)) {
            rt.action = XFP_ACT_CALLOUT;
          } else if (f.action.type == ActionType::CalloutInspection) {
            continue;  // §4.5: an unregistered inspection callout's filter is ignored
          } else if ((f.flags & filter_flag::kPermitIfCalloutUnregistered) != 0) {
            rt.action = XFP_ACT_PERMIT;
            kind = (rt.flags & XFP_FF_HARD_PERMIT) != 0 ? CandKind::HardTerminal
                                                        : CandKind::SoftPermit;
          } else {
            rt.action = XFP_ACT_BLOCK;
            kind = CandKind::HardTerminal;
          }
          break;
        }
      }
      if (out.filters.size() >= XFP_FILTER_CAP) {
        return fail(status::kOutOfBounds,
                    fmt::format("more than {} filters in the fast path", XFP_FILTER_CAP));
      }
      const auto filterIndex = static_cast<uint32_t>(out.filters.size());
      out.filters.push_back(rt);
      ++stats.filters;
      boxStore.push_back(std::move(*boxes));
      for (const Box& box : boxStore.back()) {
        cands.push_back(TreeCandidate{&box, filterIndex, rank, kind});
        headOf.push_back(emitBox(box, filterIndex, rank, out.boxes));
        ++stats.boxes;
      }
    }
    if (out.boxes.size() > XFP_BOX_CAP) {
      return fail(status::kOutOfBounds,
                  fmt::format("more than {} boxes in the fast path", XFP_BOX_CAP));
    }
    if (cands.empty()) {
      continue;  // the layer stays inactive: NONE_NO_MATCH
    }
    const auto listStart = out.cands.size();
    auto roots = buildLayerTrees(cands, options.tree, out.nodes, out.cands, stats);
    if (!roots) {
      return tl::unexpected(Error(roots.error()).within(layer.fullName()));
    }
    for (size_t i = listStart; i < out.cands.size(); ++i) {
      out.cands[i] = headOf[out.cands[i]];
    }
    if (out.cands.size() > XFP_CAND_CAP) {
      return fail(status::kOutOfBounds,
                  fmt::format("more than {} leaf entries in the fast path", XFP_CAND_CAP));
    }
    xfp_layer_root lr{};
    for (size_t t = 0; t < roots->size(); ++t) {
      lr.root[t] = (*roots)[t];
    }
    lr.trees = static_cast<uint32_t>(roots->size());
    lr.flags = XFP_LAYER_ACTIVE;
    out.layers[ls] = lr;
  }
  return out;
}

}  // namespace xfp::compiler
