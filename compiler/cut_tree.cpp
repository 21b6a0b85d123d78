#include "compiler/cut_tree.h"

#include <algorithm>
#include <array>
#include <map>

#include <fmt/format.h>

namespace xfp::compiler {
namespace {

// A node's region: on every key word an aligned block [lo, lo + 2^bits - 1].
struct Region {
  std::array<uint32_t, XFP_SLOT_COUNT> lo{};
  std::array<uint8_t, XFP_SLOT_COUNT> bits{};
  Region() { bits.fill(32); }
  [[nodiscard]] uint32_t hi(int s) const {
    return bits[s] >= 32 ? 0xFFFFFFFFu : lo[s] + ((1u << bits[s]) - 1);
  }
};

enum class Rel { Disjoint, Partial, Covers };

Rel termRelation(const Term& t, const Region& r) {
  const uint32_t lo = r.lo[t.slot];
  const uint32_t hi = r.hi(t.slot);
  if (t.op == XFP_TERM_RANGE) {
    if (t.b < lo || t.a > hi) {
      return Rel::Disjoint;
    }
    return t.a <= lo && t.b >= hi ? Rel::Covers : Rel::Partial;
  }
  const uint32_t varying = r.bits[t.slot] >= 32 ? 0xFFFFFFFFu : (1u << r.bits[t.slot]) - 1;
  if (((lo & t.a & ~varying) ^ (t.b & ~varying)) != 0) {
    return Rel::Disjoint;  // a fixed bit of the region already differs
  }
  return (t.a & varying) == 0 ? Rel::Covers : Rel::Partial;
}

Rel boxRelation(const Box& box, const Region& r) {
  Rel rel = Rel::Covers;
  for (const Term& t : box) {
    const Rel tr = termRelation(t, r);
    if (tr == Rel::Disjoint) {
      return Rel::Disjoint;
    }
    if (tr == Rel::Partial) {
      rel = Rel::Partial;
    }
  }
  return rel;
}

class Builder {
 public:
  Builder(const std::vector<TreeCandidate>& cands,
          const TreeParams& params,
          std::vector<xfp_node>& nodes,
          std::vector<uint32_t>& leafLists,
          LayerStats& stats)
      : cands_(cands), params_(params), nodes_(nodes), leafLists_(leafLists), stats_(stats) {}

  Result<void> build(uint32_t nodeIndex,
                     const Region& region,
                     const std::vector<uint32_t>& parent,
                     uint32_t depth) {
    stats_.maxDepth = std::max(stats_.maxDepth, depth);
    std::vector<uint32_t> kept = prune(region, parent);
    if (kept.size() <= params_.leafSize || depth + 1 >= XFP_MAX_DEPTH) {
      return leaf(nodeIndex, kept, region);
    }
    // Try every word that has candidate boundaries inside the region; keep the cut whose
    // fullest child is smallest (ties: fewer list entries in all).
    struct Cut {
      int slot = -1;
      uint32_t bits = 0;
      size_t largest = 0;
      uint64_t entries = 0;
      std::vector<std::vector<uint32_t>> lists;
    };
    Cut best;
    for (int slot = 0; slot < XFP_SLOT_COUNT; ++slot) {
      if (region.bits[slot] == 0 || !hasBoundary(kept, region, slot)) {
        continue;
      }
      const uint32_t maxBits = std::min<uint32_t>(params_.maxCutBits, region.bits[slot]);
      uint32_t bits = 1;
      for (uint32_t b = 2; b <= maxBits; ++b) {
        if (childEntries(kept, region, slot, b) > params_.spaceFactor * kept.size() + (1u << b)) {
          break;
        }
        bits = b;
      }
      Cut cut{slot, bits, 0, 0, std::vector<std::vector<uint32_t>>(1u << bits)};
      const auto childBits = static_cast<uint8_t>(region.bits[slot] - bits);
      for (uint32_t c : kept) {
        auto [first, last] = span(c, region, slot, bits);
        for (uint32_t j = first; j <= last; ++j) {
          if (masksAllow(c, region, slot, childBits, j)) {
            cut.lists[j].push_back(c);
          }
        }
      }
      for (const auto& l : cut.lists) {
        cut.largest = std::max(cut.largest, l.size());
        cut.entries += l.size();
      }
      if (best.slot < 0 || cut.largest < best.largest ||
          (cut.largest == best.largest && cut.entries < best.entries)) {
        best = std::move(cut);
      }
    }
    // Stop when no cut helps, or when the best barely helps and the leaf is within bounds:
    // deeper trees for the last few candidates cost more memory than the leaf scan they save.
    if (best.slot < 0 || best.largest >= kept.size() ||
        (kept.size() <= XFP_MAX_CANDS && best.largest * 10 >= kept.size() * 9)) {
      return leaf(nodeIndex, kept, region);
    }
    const int s = best.slot;
    const uint32_t cutBits = best.bits;
    const uint32_t children = 1u << cutBits;
    const auto childBits = static_cast<uint8_t>(region.bits[s] - cutBits);
    std::vector<std::vector<uint32_t>>& lists = best.lists;
    if (nodes_.size() + children > XFP_NODE_CAP) {
      return fail(status::kOutOfBounds,
                  fmt::format("the cut tree needs more than {} nodes", XFP_NODE_CAP));
    }
    const auto base = static_cast<uint32_t>(nodes_.size());
    nodes_.resize(nodes_.size() + children);
    xfp_node& n = nodes_[nodeIndex];
    n.kind = XFP_NODE_CUT;
    n.slot = static_cast<uint8_t>(s);
    n.shift = childBits;
    n.mask_or_count = children - 1;
    n.base = base;
    for (uint32_t j = 0; j < children; ++j) {
      Region child = region;
      child.bits[s] = childBits;
      child.lo[s] = region.lo[s] + (childBits >= 32 ? 0 : (j << childBits));
      if (auto r = build(base + j, child, lists[j], depth + 1); !r) {
        return r;
      }
    }
    return {};
  }

 private:
  // Keeps, in order, the candidates that can still affect the verdict inside `region`.
  std::vector<uint32_t> prune(const Region& region, const std::vector<uint32_t>& in) {
    std::vector<uint32_t> kept;
    uint32_t coveredFilter = XFP_NONE;
    int decidedRank = -1;
    bool staticsDone = false;
    int currentRank = -1;
    bool rankAllHard = true;  // every kept candidate of the current rank is a hard terminal
    for (uint32_t c : in) {
      const TreeCandidate& cand = cands_[c];
      if (static_cast<int>(cand.rank) != currentRank) {
        currentRank = cand.rank;
        rankAllHard = true;
      }
      if (cand.filter == coveredFilter) {
        continue;  // another box of this filter already covers the region
      }
      if (static_cast<int>(cand.rank) == decidedRank) {
        continue;  // the sublayer is decided before this candidate is reached
      }
      if (staticsDone && cand.kind != CandKind::Callout) {
        continue;  // a hard decision stands: static filters cannot change it
      }
      const Rel rel = boxRelation(*cand.box, region);
      if (rel == Rel::Disjoint) {
        continue;
      }
      kept.push_back(c);
      rankAllHard = rankAllHard && cand.kind == CandKind::HardTerminal;
      if (rel == Rel::Covers) {
        coveredFilter = cand.filter;
        if (cand.kind != CandKind::Callout) {
          // Whatever ends this sublayer first (this filter or an earlier kept one), nothing
          // later in it is reached.
          decidedRank = cand.rank;
          // The decision is hard only if every way the sublayer can end is hard: earlier kept
          // candidates of the rank may end it first (a soft permit or a callout would not).
          staticsDone = staticsDone || rankAllHard;
        }
      }
    }
    return kept;
  }

  // The children (of 2^cutBits) a candidate's box can reach on word s.
  std::pair<uint32_t, uint32_t> span(uint32_t c, const Region& region, int s, uint32_t cutBits) {
    const uint32_t shift = region.bits[s] - cutBits;
    uint32_t lo = region.lo[s];
    uint32_t hi = region.hi(s);
    for (const Term& t : *cands_[c].box) {
      if (t.slot == s && t.op == XFP_TERM_RANGE) {
        lo = std::max(lo, t.a);
        hi = std::min(hi, t.b);
      }
    }
    if (lo > hi) {
      return {1, 0};
    }
    const uint64_t first = (uint64_t{lo} - region.lo[s]) >> shift;
    const uint64_t last = (uint64_t{hi} - region.lo[s]) >> shift;
    return {static_cast<uint32_t>(first), static_cast<uint32_t>(last)};
  }

  // True when some candidate's test on word s changes inside the region.
  bool hasBoundary(const std::vector<uint32_t>& kept, const Region& region, int s) {
    for (uint32_t c : kept) {
      for (const Term& t : *cands_[c].box) {
        if (t.slot == s && termRelation(t, region) == Rel::Partial) {
          return true;
        }
      }
    }
    return false;
  }

  // False when a masked test of the candidate on word s is already false in child j.
  bool masksAllow(uint32_t c, const Region& region, int s, uint8_t childBits, uint32_t j) {
    Region child = region;
    child.bits[s] = childBits;
    child.lo[s] = region.lo[s] + (childBits >= 32 ? 0 : (j << childBits));
    for (const Term& t : *cands_[c].box) {
      if (t.slot == s && t.op == XFP_TERM_MASK && termRelation(t, child) == Rel::Disjoint) {
        return false;
      }
    }
    return true;
  }

  uint64_t childEntries(const std::vector<uint32_t>& kept,
                        const Region& region,
                        int s,
                        uint32_t cutBits) {
    uint64_t total = 0;
    for (uint32_t c : kept) {
      auto [first, last] = span(c, region, s, cutBits);
      if (first <= last) {
        total += last - first + 1;
      }
    }
    return total;
  }

  Result<void> leaf(uint32_t nodeIndex, const std::vector<uint32_t>& kept, const Region&) {
    if (kept.size() > XFP_LEAF_MAX) {
      return fail(status::kOutOfBounds,
                  fmt::format("{} overlapping filters cannot be separated below {} candidates "
                              "per leaf: too complex for the fast path",
                              kept.size(),
                              XFP_LEAF_MAX));
    }
    if (kept.size() > XFP_MAX_CANDS) {
      ++stats_.longLeaves;  // walked by the slower bpf_loop() path
    }
    ++stats_.leaves;
    stats_.maxLeafCandidates = std::max<uint32_t>(stats_.maxLeafCandidates, kept.size());
    xfp_node& n = nodes_[nodeIndex];
    n.kind = XFP_NODE_LEAF;
    n.mask_or_count = static_cast<uint32_t>(kept.size());
    auto [it, inserted] = shared_.try_emplace(kept, static_cast<uint32_t>(leafLists_.size()));
    if (inserted) {
      leafLists_.insert(leafLists_.end(), kept.begin(), kept.end());
      stats_.candidateEntries += kept.size();
    }
    n.base = it->second;
    return {};
  }

  const std::vector<TreeCandidate>& cands_;
  const TreeParams& params_;
  std::vector<xfp_node>& nodes_;
  std::vector<uint32_t>& leafLists_;
  LayerStats& stats_;
  std::map<std::vector<uint32_t>, uint32_t> shared_;  // identical leaf lists are stored once
};

}  // namespace

Result<uint32_t> buildCutTree(const std::vector<TreeCandidate>& cands,
                              const TreeParams& params,
                              std::vector<xfp_node>& nodes,
                              std::vector<uint32_t>& leafLists,
                              LayerStats& stats) {
  const auto root = static_cast<uint32_t>(nodes.size());
  nodes.emplace_back();
  std::vector<uint32_t> all(cands.size());
  for (uint32_t i = 0; i < all.size(); ++i) {
    all[i] = i;
  }
  Builder b(cands, params, nodes, leafLists, stats);
  if (auto r = b.build(root, Region{}, all, 0); !r) {
    return tl::unexpected(r.error());
  }
  stats.nodes = static_cast<uint32_t>(nodes.size() - root);
  return root;
}

}  // namespace xfp::compiler
