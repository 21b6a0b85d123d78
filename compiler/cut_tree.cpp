#include "compiler/cut_tree.h"

#include <algorithm>
#include <array>
#include <bit>
#include <iterator>
#include <map>

#include <fmt/format.h>

namespace xfp::compiler {
namespace {

// A node's region: on every key word an interval [lo, hi].
struct Region {
  std::array<uint32_t, XFP_SLOT_COUNT> lo{};
  std::array<uint32_t, XFP_SLOT_COUNT> hi{};
  Region() { hi.fill(0xFFFFFFFFu); }
};

enum class Rel { Disjoint, Partial, Covers };

// Bits of the word that are the same for every value in [lo, hi].
uint32_t fixedBits(uint32_t lo, uint32_t hi) {
  const uint32_t diff = lo ^ hi;
  if (diff == 0) {
    return 0xFFFFFFFFu;
  }
  const int top = 31 - std::countl_zero(diff);
  return top >= 31 ? 0u : ~((2u << top) - 1);
}

Rel termRelation(const Term& t, const Region& r) {
  const uint32_t lo = r.lo[t.slot];
  const uint32_t hi = r.hi[t.slot];
  if (t.op == XFP_TERM_RANGE) {
    if (t.b < lo || t.a > hi) {
      return Rel::Disjoint;
    }
    return t.a <= lo && t.b >= hi ? Rel::Covers : Rel::Partial;
  }
  // (w & a) == b: exact when the tested bits are fixed over the interval, else partial.
  const uint32_t fixed = fixedBits(lo, hi);
  if (((lo ^ t.b) & t.a & fixed) != 0) {
    return Rel::Disjoint;
  }
  return (t.a & ~fixed) == 0 ? Rel::Covers : Rel::Partial;
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
          LayerStats& stats,
          uint64_t budget)
      : cands_(cands),
        params_(params),
        nodes_(nodes),
        leafLists_(leafLists),
        stats_(stats),
        budgetEnd_(nodes.size() + leafLists.size() + budget) {}

  // Set when the tree outgrew its budget (the build then fails with kOutOfBounds).
  [[nodiscard]] bool overBudget() const { return overBudget_; }

  Result<void> build(uint32_t nodeIndex,
                     const Region& region,
                     const std::vector<uint32_t>& parent,
                     uint32_t depth) {
    stats_.maxDepth = std::max(stats_.maxDepth, depth);
    std::vector<uint32_t> kept = prune(region, parent);
    if (kept.size() <= params_.leafSize || depth + 1 >= XFP_MAX_DEPTH) {
      return leaf(nodeIndex, kept);
    }
    Split best = chooseSplit(kept, region);
    if (best.slot < 0 || (kept.size() <= XFP_MAX_CANDS && best.largest * 10 >= kept.size() * 9)) {
      // Nothing separates, or the best split barely helps and the leaf is within the
      // unrolled walk: more nodes would cost more than the leaf scan they save.
      return leaf(nodeIndex, kept);
    }
    if (nodes_.size() + leafLists_.size() + 2 > budgetEnd_) {
      overBudget_ = true;
      return fail(status::kOutOfBounds, "the tree outgrew its budget");
    }
    if (nodes_.size() + 2 > XFP_NODE_CAP) {
      return fail(status::kOutOfBounds,
                  fmt::format("the cut tree needs more than {} nodes", XFP_NODE_CAP));
    }
    const auto base = static_cast<uint32_t>(nodes_.size());
    nodes_.resize(nodes_.size() + 2);
    xfp_node& n = nodes_[nodeIndex];
    n.kind = XFP_NODE_SPLIT;
    n.slot = static_cast<uint8_t>(best.slot);
    n.mask_or_count = best.point;
    n.base = base;
    Region left = region;
    left.hi[best.slot] = best.point - 1;
    Region right = region;
    right.lo[best.slot] = best.point;
    std::vector<uint32_t> leftList;
    std::vector<uint32_t> rightList;
    for (uint32_t c : kept) {
      if (boxRelation(*cands_[c].box, left) != Rel::Disjoint) {
        leftList.push_back(c);
      }
      if (boxRelation(*cands_[c].box, right) != Rel::Disjoint) {
        rightList.push_back(c);
      }
    }
    kept.clear();
    kept.shrink_to_fit();
    if (auto r = build(base, left, leftList, depth + 1); !r) {
      return r;
    }
    return build(base + 1, right, rightList, depth + 1);
  }

 private:
  struct Split {
    int slot = -1;
    uint32_t point = 0;  // values >= point go right
    size_t largest = 0;
    size_t total = 0;
  };

  // The split point per word that balances the two sides best (HyperSplit's choice); when no
  // point separates anything, a boundary of the first partial candidate, so that inside the
  // children it covers or misses and pruning can drop what follows it.
  Split chooseSplit(const std::vector<uint32_t>& kept, const Region& region) {
    Split best;
    for (int s = 0; s < XFP_SLOT_COUNT; ++s) {
      const uint32_t lo = region.lo[s];
      const uint32_t hi = region.hi[s];
      if (lo == hi) {
        continue;
      }
      // starts[p]: candidates whose extent on s begins at p; ends likewise at p (exclusive).
      std::vector<uint32_t> starts;
      std::vector<uint32_t> ends;
      size_t unbounded = 0;  // candidates without a partial range on s: on both sides
      for (uint32_t c : kept) {
        uint32_t a = lo;
        uint32_t b = hi;
        for (const Term& t : *cands_[c].box) {
          if (t.slot == s && t.op == XFP_TERM_RANGE) {
            a = std::max(a, t.a);
            b = std::min(b, t.b);
          }
        }
        if (a == lo && b == hi) {
          ++unbounded;
          continue;
        }
        starts.push_back(a);
        ends.push_back(b);
      }
      if (starts.empty()) {
        continue;
      }
      std::sort(starts.begin(), starts.end());
      std::sort(ends.begin(), ends.end());
      // Candidate points: every start > lo and every end + 1 <= hi.
      std::vector<uint32_t> points;
      for (uint32_t a : starts) {
        if (a > lo) {
          points.push_back(a);
        }
      }
      for (uint32_t b : ends) {
        if (b < hi) {
          points.push_back(b + 1);
        }
      }
      std::sort(points.begin(), points.end());
      points.erase(std::unique(points.begin(), points.end()), points.end());
      for (uint32_t p : points) {
        // Left: extents starting below p. Right: extents ending at or above p.
        const size_t left =
            unbounded +
            static_cast<size_t>(std::lower_bound(starts.begin(), starts.end(), p) - starts.begin());
        const size_t right =
            unbounded +
            static_cast<size_t>(ends.end() - std::lower_bound(ends.begin(), ends.end(), p));
        const size_t largest = std::max(left, right);
        if (best.slot < 0 || largest < best.largest ||
            (largest == best.largest && left + right < best.total)) {
          best = Split{s, p, largest, left + right};
        }
      }
    }
    if (best.slot >= 0 && best.largest < kept.size()) {
      return best;
    }
    // No balancing point: split on a boundary of the first partial candidate instead.
    for (uint32_t c : kept) {
      for (const Term& t : *cands_[c].box) {
        const uint32_t lo = region.lo[t.slot];
        const uint32_t hi = region.hi[t.slot];
        if (t.op == XFP_TERM_RANGE && termRelation(t, region) == Rel::Partial) {
          const uint32_t p = t.a > lo ? t.a : t.b + 1;
          return Split{t.slot, p, kept.size(), 2 * kept.size()};
        }
        if (t.op == XFP_TERM_MASK && termRelation(t, region) == Rel::Partial) {
          // Split at the highest tested bit that still varies over the interval.
          const uint32_t varying = t.a & ~fixedBits(lo, hi);
          const uint32_t bit = 1u << (31 - std::countl_zero(varying));
          const uint32_t p = (lo & ~(bit - 1) & ~bit) | bit;
          if (p > lo && p <= hi) {
            return Split{t.slot, p, kept.size(), 2 * kept.size()};
          }
        }
      }
    }
    return Split{};
  }

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

  Result<void> leaf(uint32_t nodeIndex, const std::vector<uint32_t>& kept) {
    if (kept.size() > XFP_LEAF_MAX) {
      return fail(status::kOutOfBounds,
                  fmt::format("{} overlapping filters cannot be separated below {} candidates "
                              "per leaf: too complex for the fast path",
                              kept.size(),
                              XFP_LEAF_MAX));
    }
    ++stats_.leaves;
    if (kept.size() > XFP_MAX_CANDS) {
      ++stats_.longLeaves;  // walked by the slower bpf_loop() path
    }
    stats_.maxLeafCandidates = std::max<uint32_t>(stats_.maxLeafCandidates, kept.size());
    xfp_node& n = nodes_[nodeIndex];
    n.kind = XFP_NODE_LEAF;
    n.mask_or_count = static_cast<uint32_t>(kept.size());
    n._pad = 0;
    for (uint32_t c : kept) {
      if (cands_[c].kind == CandKind::Callout) {
        n._pad |= XFP_LEAF_HAS_CALLOUT;  // a hard decision may still be vetoed: walk it all
      }
    }
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
  uint64_t budgetEnd_;
  bool overBudget_ = false;
};

// The key words whose width decides how a candidate separates: remote/local address (first
// word), ports, protocol. A word is "wild" for a box when the box leaves at least half of it
// open.
constexpr std::array<uint8_t, 5> kWildSlots = {
    XFP_SLOT_RADDR, XFP_SLOT_LADDR, XFP_SLOT_RPORT, XFP_SLOT_LPORT, XFP_SLOT_PROTO};

uint32_t wildness(const Box& box) {
  uint32_t sig = 0;
  for (size_t i = 0; i < kWildSlots.size(); ++i) {
    const uint32_t full = kWildSlots[i] == XFP_SLOT_RPORT || kWildSlots[i] == XFP_SLOT_LPORT
                              ? 0xFFFFu
                              : (kWildSlots[i] == XFP_SLOT_PROTO ? 0xFFu : 0xFFFFFFFFu);
    uint64_t width = uint64_t{full} + 1;
    for (const Term& t : box) {
      if (t.slot == kWildSlots[i] && t.op == XFP_TERM_RANGE) {
        width = std::min<uint64_t>(width, uint64_t{t.b} - t.a + 1);
      }
    }
    if (width * 2 > uint64_t{full} + 1) {
      sig |= 1u << i;
    }
  }
  return sig;
}

// Groups candidates by wildness and merges the groups down to XFP_MAX_TREES (the smallest into
// the one with the nearest signature). Each group keeps arbitration order.
std::vector<std::vector<uint32_t>> partition(const std::vector<TreeCandidate>& cands) {
  std::map<uint32_t, std::vector<uint32_t>> bySig;
  for (uint32_t i = 0; i < cands.size(); ++i) {
    bySig[wildness(*cands[i].box)].push_back(i);
  }
  std::vector<std::pair<uint32_t, std::vector<uint32_t>>> groups(bySig.begin(), bySig.end());
  while (groups.size() > XFP_MAX_TREES) {
    auto smallest =
        std::min_element(groups.begin(), groups.end(), [](const auto& a, const auto& b) {
          return a.second.size() < b.second.size();
        });
    const uint32_t sig = smallest->first;
    std::vector<uint32_t> moved = std::move(smallest->second);
    groups.erase(smallest);
    auto target = std::min_element(groups.begin(), groups.end(), [&](const auto& a, const auto& b) {
      const int da = std::popcount(a.first ^ sig);
      const int db = std::popcount(b.first ^ sig);
      return da != db ? da < db : a.second.size() > b.second.size();
    });
    std::vector<uint32_t> merged;
    std::merge(target->second.begin(),
               target->second.end(),
               moved.begin(),
               moved.end(),
               std::back_inserter(merged));
    target->second = std::move(merged);
  }
  std::vector<std::vector<uint32_t>> out;
  for (auto& [sig, members] : groups) {
    out.push_back(std::move(members));
  }
  return out;
}

// One tree over `members` (indices into cands); rolls back `nodes`/`leafLists` on failure.
Result<uint32_t> buildOne(const std::vector<TreeCandidate>& cands,
                          const std::vector<uint32_t>& members,
                          const TreeParams& params,
                          uint64_t budget,
                          std::vector<xfp_node>& nodes,
                          std::vector<uint32_t>& leafLists,
                          LayerStats& stats,
                          bool* overBudget) {
  const size_t nodes0 = nodes.size();
  const size_t lists0 = leafLists.size();
  const LayerStats stats0 = stats;
  const auto root = static_cast<uint32_t>(nodes.size());
  nodes.emplace_back();
  Builder b(cands, params, nodes, leafLists, stats, budget);
  if (auto r = b.build(root, Region{}, members, 0); !r) {
    nodes.resize(nodes0);
    leafLists.resize(lists0);
    stats = stats0;
    *overBudget = b.overBudget();
    return tl::unexpected(r.error());
  }
  return root;
}

}  // namespace

Result<std::vector<uint32_t>> buildLayerTrees(const std::vector<TreeCandidate>& cands,
                                              const TreeParams& params,
                                              std::vector<xfp_node>& nodes,
                                              std::vector<uint32_t>& leafLists,
                                              LayerStats& stats) {
  const size_t nodes0 = nodes.size();
  const uint64_t budget = 4096 + uint64_t{params.budgetPerCandidate} * cands.size();
  std::vector<uint32_t> all(cands.size());
  for (uint32_t i = 0; i < all.size(); ++i) {
    all[i] = i;
  }
  bool overBudget = false;
  auto single = buildOne(cands, all, params, budget, nodes, leafLists, stats, &overBudget);
  if (single) {
    stats.nodes = static_cast<uint32_t>(nodes.size() - nodes0);
    stats.trees = 1;
    return std::vector<uint32_t>{*single};
  }
  if (!overBudget) {
    return tl::unexpected(single.error());
  }
  // One tree replicates too much: one tree per group of similar wildcard shape.
  std::vector<uint32_t> roots;
  for (const std::vector<uint32_t>& group : partition(cands)) {
    // Partitioning was the remedy for replication; a group's tree is bounded only by what the
    // maps can hold.
    const uint64_t groupBudget = uint64_t{XFP_NODE_CAP} + XFP_CAND_CAP;
    auto root = buildOne(cands, group, params, groupBudget, nodes, leafLists, stats, &overBudget);
    if (!root) {
      return tl::unexpected(
          Error(root.error())
              .within(fmt::format("tree {} of {} candidates", roots.size(), group.size())));
    }
    roots.push_back(*root);
  }
  stats.nodes = static_cast<uint32_t>(nodes.size() - nodes0);
  stats.trees = static_cast<uint32_t>(roots.size());
  return roots;
}

}  // namespace xfp::compiler
