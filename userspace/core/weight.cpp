#include "userspace/core/weight.h"

#include <algorithm>
#include <bit>
#include <map>

#include <fmt/format.h>

namespace xfp {
namespace {

// Number of significant bits of an exact 65-bit quantity (Appendix B.4, B.6).
int bitLength(unsigned __int128 v) {
  int n = 0;
  while (v != 0) {
    ++n;
    v >>= 1;
  }
  return n;
}

uint32_t rangeScore(const RangeValue& r) {
  const Value& lo = r.low;
  const Value& hi = r.high;
  if (!lo.isInteger()) {
    return 128;  // ranges over byte arrays, blobs or strings
  }
  unsigned __int128 size = 0;
  if (lo.isUnsigned()) {
    size = static_cast<unsigned __int128>(hi.asUnsigned()) - lo.asUnsigned() + 1;
  } else {
    size = static_cast<unsigned __int128>(static_cast<__int128>(hi.asSigned()) -
                                          static_cast<__int128>(lo.asSigned()) + 1);
  }
  const int64_t score = 255 - static_cast<int64_t>(bitLength(size)) * 255 / lo.bitWidth();
  return static_cast<uint32_t>(std::max<int64_t>(1, score));  // floor at 1 (Appendix B.5)
}

}  // namespace

uint32_t conditionScore(const Condition& c) {
  const ConditionValue& v = c.value;
  if (v.type() == DataType::Empty) {
    return 8;
  }
  if (const V4AddrMask* m = v.v4Mask()) {
    return static_cast<uint32_t>(std::popcount(m->mask)) * 255 / 32;
  }
  if (const V6AddrMask* m = v.v6Mask()) {
    return static_cast<uint32_t>(m->prefixLength) * 255 / 128;
  }
  switch (c.matchType) {
    case MatchType::Equal:
    case MatchType::FlagsAllSet:
      return 255;
    case MatchType::Range:
      return v.range() != nullptr ? rangeScore(*v.range()) : 128;
    case MatchType::Prefix:
    case MatchType::FlagsAnySet:
    case MatchType::EqualCaseInsensitive:
      return 128;
    case MatchType::Greater:
    case MatchType::Less:
    case MatchType::GreaterOrEqual:
    case MatchType::LessOrEqual:
      return 64;
    case MatchType::NotEqual:
    case MatchType::NotPrefix:
    case MatchType::FlagsNoneSet:
      return 16;
  }
  return 16;
}

uint64_t autoWeight(const std::vector<Condition>& conditions) {
  std::map<Guid, uint32_t> groupScore;  // field -> weakest member's score
  for (const Condition& c : conditions) {
    const uint32_t s = conditionScore(c);
    auto [it, inserted] = groupScore.emplace(c.fieldKey, s);
    if (!inserted) {
      it->second = std::min(it->second, s);
    }
  }
  const uint64_t nFields = std::min<uint64_t>(15, groupScore.size());
  uint64_t sum = 0;
  for (const auto& [field, score] : groupScore) {
    sum += score;
  }
  // Appendix B.7: the sum is taken literally even if it could spill into the field-count bits.
  return (nFields << 56) | (sum << 44);
}

Result<uint64_t> effectiveWeight(const WeightValue& weight,
                                 const std::vector<Condition>& conditions) {
  switch (weight.type()) {
    case DataType::Empty:
      return autoWeight(conditions);
    case DataType::Uint8:
      if (weight.asUnsigned() > kWeightRangeMax) {
        return fail(status::kInvalidWeight,
                    fmt::format("FWP_UINT8 weight range index {} > 15", weight.asUnsigned()));
      }
      return (weight.asUnsigned() << kAutoWeightBits) | autoWeight(conditions);
    case DataType::Uint64:
      return weight.asUnsigned();
    default:
      return fail(status::kInvalidWeight,
                  fmt::format("weight of type {} (must be FWP_EMPTY, FWP_UINT8 or FWP_UINT64)",
                              dataTypeName(weight.type())));
  }
}

}  // namespace xfp
