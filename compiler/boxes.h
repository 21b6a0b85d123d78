// A filter's conditions as boxes over key words: each box is a conjunction of word tests
// (ranges and masked compares), and the filter matches a packet when any of its boxes does.
// AND across fields becomes a cross product, OR within a field a union, NOT_EQUAL two ranges,
// FLAGS_ANY_SET one box per bit, and a multi-word range (IPv6, MAC, 64-bit) the standard
// lexicographic decomposition. Fields the fast path never supplies are FWP_EMPTY and are folded
// at compile time.
#pragma once

#include <cstdint>
#include <vector>

#include "userspace/core/objects.h"
#include "userspace/core/result.h"
#include "xfp/abi.h"

namespace xfp::compiler {

struct Term {
  uint8_t slot = 0;
  uint8_t op = XFP_TERM_RANGE;  // XFP_TERM_RANGE: a <= w <= b; XFP_TERM_MASK: (w & a) == b
  uint32_t a = 0;
  uint32_t b = 0;
  bool operator==(const Term&) const = default;
  auto operator<=>(const Term&) const = default;
};

using Box = std::vector<Term>;  // sorted by (slot, op); empty: matches every key

// Bounds a filter's expansion (beyond it the compile fails with a message naming the filter).
constexpr size_t kMaxBoxesPerFilter = 4096;

// The boxes of `filter` at layer slot `ls`. An empty vector means the filter can never match a
// packet of the fast path (e.g. a port condition where ports are always FWP_EMPTY).
Result<std::vector<Box>> filterBoxes(int layerSlot, const Filter& filter);

}  // namespace xfp::compiler
