// The decision trees of one layer: binary splits of key words at chosen points (HyperSplit
// style) until each leaf lists at most a few candidate boxes, in arbitration order. Leaves are
// exact because the BPF side tests every candidate's terms; the tree only prunes. Pruning is
// WFP-aware: inside a node's region, once a static PERMIT/BLOCK covers the region, later filters of
// its sublayer can never be reached, and once a static BLOCK or hard PERMIT covers it, no later
// static filter can change the verdict (callouts are kept: they may still veto or inspect). See
// docs/compiler.md.
#pragma once

#include <cstdint>
#include <vector>

#include "compiler/boxes.h"
#include "compiler/compiled_policy.h"
#include "userspace/core/result.h"

namespace xfp::compiler {

enum class CandKind : uint8_t {
  SoftPermit,    // static PERMIT without CLEAR_ACTION_RIGHT: later sublayers still matter
  HardTerminal,  // static BLOCK, or PERMIT with CLEAR_ACTION_RIGHT
  Callout,       // the answer is not known at compile time
};

struct TreeCandidate {
  const Box* box = nullptr;
  uint32_t filter = 0;  // filter index (boxes of one filter are consecutive)
  uint16_t rank = 0;    // sublayer position
  CandKind kind = CandKind::Callout;
};

struct TreeParams {
  // Stop splitting at this many candidates. A tree level costs one array lookup, a candidate
  // several and its term tests, so short leaves and deeper trees are faster.
  uint32_t leafSize = 2;
  // A tree may use at most this many nodes + leaf entries per candidate (plus a floor) before
  // the layer is split into groups with one tree each.
  uint32_t budgetPerCandidate = 24;
};

// Builds the trees of one layer: one tree, or -- when one tree would outgrow its budget -- up to
// XFP_MAX_TREES trees over groups of candidates with similar wildcard fields. Appends nodes and
// leaf lists (indices into `cands`); returns the roots. Fails when even the groups outgrow the
// map capacities.
Result<std::vector<uint32_t>> buildLayerTrees(const std::vector<TreeCandidate>& cands,
                                              const TreeParams& params,
                                              std::vector<xfp_node>& nodes,
                                              std::vector<uint32_t>& leafLists,
                                              LayerStats& stats);

}  // namespace xfp::compiler
