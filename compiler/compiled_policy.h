// CompiledPolicy: the plain data the dataplane writes into one generation half of the BPF maps
// (struct layouts from bpf/include/xfp/abi.h). All indices are relative to the half.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "xfp/abi.h"

namespace xfp::compiler {

struct LayerStats {
  uint32_t filters = 0;  // filters compiled at the layer (never-matching ones dropped)
  uint32_t boxes = 0;    // boxes (a filter is the union of its boxes)
  uint32_t trees = 0;    // trees the layer was split into (1..XFP_MAX_TREES)
  uint32_t nodes = 0;    // tree nodes
  uint32_t leaves = 0;
  uint32_t maxDepth = 0;
  uint32_t maxLeafCandidates = 0;
  uint32_t longLeaves = 0;        // leaves longer than XFP_MAX_CANDS (walked with bpf_loop)
  uint64_t candidateEntries = 0;  // sum of leaf list lengths (shared lists counted once)
};

struct CompiledPolicy {
  std::array<xfp_layer_root, XFP_LS_COUNT> layers{};
  std::vector<xfp_node> nodes;
  std::vector<uint32_t> cands;
  std::vector<xfp_box> boxes;
  std::vector<xfp_filter> filters;  // .counter is left 0: the dataplane assigns counter slots
  std::array<LayerStats, XFP_LS_COUNT> stats{};
};

}  // namespace xfp::compiler
