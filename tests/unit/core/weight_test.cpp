// wfp-model.md §3 with Appendix B.4-B.7 and B.11: auto60, the weight forms and tie order.
// Expected numbers are computed by hand from §3.3 in the comments next to them.
#include "userspace/core/weight.h"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "tests/unit/core/core_test_util.h"
#include "userspace/core/classifier.h"
#include "userspace/core/policy.h"

namespace xfp {
namespace {

using coretest::cond;

constexpr uint64_t auto60(uint64_t nFields, uint64_t sumSpec) {
  return (nFields << 56) | (sumSpec << 44);
}

const LayerInfo& transport() {
  return coretest::layerNamed("INBOUND_TRANSPORT_V4");
}

uint64_t effective(const WeightValue& w, std::vector<Condition> conds) {
  Policy p;
  auto r = p.addFilter(
      coretest::makeFilter(transport(), Guid{}, w, ActionType::Block, 0, std::move(conds)));
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  if (!r) {
    return 0;
  }
  const Filter* f = p.filterById(*r);
  EXPECT_NE(f, nullptr);
  return f == nullptr ? 0 : f->effectiveWeight;
}

TEST(CoreWeight, ScoresPerMatchType) {
  EXPECT_EQ(conditionScore(cond("IP_PROTOCOL", MatchType::Equal, Value::uint8(6))), 255u);
  EXPECT_EQ(conditionScore(cond("FLAGS", MatchType::FlagsAllSet, Value::uint32(1))), 255u);
  EXPECT_EQ(conditionScore(cond("FLAGS", MatchType::FlagsAnySet, Value::uint32(1))), 128u);
  EXPECT_EQ(conditionScore(cond("FLAGS", MatchType::FlagsNoneSet, Value::uint32(1))), 16u);
  EXPECT_EQ(conditionScore(cond("IP_LOCAL_PORT", MatchType::Greater, Value::uint16(1))), 64u);
  EXPECT_EQ(conditionScore(cond("IP_LOCAL_PORT", MatchType::LessOrEqual, Value::uint16(1))), 64u);
  EXPECT_EQ(conditionScore(cond("IP_LOCAL_PORT", MatchType::NotEqual, Value::uint16(1))), 16u);
  EXPECT_EQ(conditionScore(cond("IP_LOCAL_PORT", MatchType::Equal, ConditionValue())), 8u);
  EXPECT_EQ(conditionScore(cond("ALE_APP_ID", MatchType::Prefix, Value::byteBlob({1, 0}))), 128u);
  EXPECT_EQ(conditionScore(cond("ALE_APP_ID", MatchType::NotPrefix, Value::byteBlob({1, 0}))), 16u);
}

TEST(CoreWeight, MaskScores) {
  auto v4 = [](uint32_t mask) {
    return conditionScore(cond("IP_REMOTE_ADDRESS", MatchType::Equal, V4AddrMask{0, mask}));
  };
  EXPECT_EQ(v4(0), 0u);             // 0*255/32
  EXPECT_EQ(v4(0x80000000), 7u);    // 1*255/32 = 7.97 -> 7
  EXPECT_EQ(v4(0xFFFFFF00), 191u);  // 24*255/32 = 191.25 -> 191
  EXPECT_EQ(v4(0xFFFFFFFF), 255u);
  auto v6 = [](uint8_t prefix) {
    return conditionScore(cond("IP_REMOTE_ADDRESS", MatchType::Equal, V6AddrMask{{}, prefix}));
  };
  EXPECT_EQ(v6(0), 0u);
  EXPECT_EQ(v6(64), 127u);   // 64*255/128 = 127.5 -> 127
  EXPECT_EQ(v6(127), 253u);  // 127*255/128 = 253.0 -> 253
  EXPECT_EQ(v6(128), 255u);
}

Condition portRange(uint16_t lo, uint16_t hi) {
  return cond("IP_LOCAL_PORT", MatchType::Range, coretest::range16(lo, hi));
}

TEST(CoreWeight, RangeScoresUseSignificantBitsOfSize) {
  // size 1001 -> bitlen 10 -> 255 - 2550/16 (159) = 96
  EXPECT_EQ(conditionScore(portRange(1000, 2000)), 96u);
  // size 256 = 2^8 -> bitlen 9 -> 255 - 2295/16 (143) = 112
  EXPECT_EQ(conditionScore(portRange(0, 255)), 112u);
  // size 255 = 2^8-1 -> bitlen 8 -> 255 - 2040/16 (127) = 128  (B.4: differs from 2^k)
  EXPECT_EQ(conditionScore(portRange(0, 254)), 128u);
  // single value -> size 1 -> bitlen 1 -> 255 - 255/16 (15) = 240, not 255 (B.4)
  EXPECT_EQ(conditionScore(portRange(80, 80)), 240u);
  // full UINT16 range: size 65536, bitlen 17 -> negative -> floor 1
  EXPECT_EQ(conditionScore(portRange(0, 0xFFFF)), 1u);
  // UINT8 [0,3]: size 4 bitlen 3 -> 255 - 765/8 (95) = 160
  EXPECT_EQ(conditionScore(cond(
                "IP_PROTOCOL", MatchType::Range, RangeValue{Value::uint8(0), Value::uint8(3)})),
            160u);
  // UINT32 [0, 2^16-1]: size 65536 bitlen 17 -> 255 - 4335/32 (135) = 120
  EXPECT_EQ(conditionScore(cond("IP_REMOTE_ADDRESS",
                                MatchType::Range,
                                RangeValue{Value::uint32(0), Value::uint32(0xFFFF)})),
            120u);
}

TEST(CoreWeight, FullUint64RangeIsLeastSpecific) {
  // B.6: size 2^64 computed exactly -> bitlen 65 -> 255 - 258 -> floor 1 (wrapping would give
  // size 0 and a maximal score).
  const Condition full = cond("IP_LOCAL_INTERFACE",
                              MatchType::Range,
                              RangeValue{Value::uint64(0), Value::uint64(UINT64_MAX)});
  EXPECT_EQ(conditionScore(full), 1u);
  // [1, max]: size 2^64-1, bitlen 64 -> 255 - 255 = 0 -> floor 1
  EXPECT_EQ(conditionScore(cond("IP_LOCAL_INTERFACE",
                                MatchType::Range,
                                RangeValue{Value::uint64(1), Value::uint64(UINT64_MAX)})),
            1u);
  // [0, 2^32-1]: size 2^32, bitlen 33 -> 255 - 8415/64 (131) = 124
  EXPECT_EQ(conditionScore(cond("IP_LOCAL_INTERFACE",
                                MatchType::Range,
                                RangeValue{Value::uint64(0), Value::uint64(0xFFFFFFFFULL)})),
            124u);
}

TEST(CoreWeight, RangeOnNonIntegerScores128) {
  const Condition c =
      cond("IP_REMOTE_ADDRESS",
           MatchType::Range,
           RangeValue{Value::byteArray16({}),
                      Value::byteArray16({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})});
  EXPECT_EQ(conditionScore(c), 128u);
}

TEST(CoreWeight, Auto60Examples) {
  EXPECT_EQ(autoWeight({}), 0u);
  EXPECT_EQ(autoWeight({cond("IP_PROTOCOL", MatchType::Equal, Value::uint8(6))}), auto60(1, 255));
  // two fields: 255 + 96
  EXPECT_EQ(
      autoWeight({cond("IP_PROTOCOL", MatchType::Equal, Value::uint8(6)), portRange(1000, 2000)}),
      0x0200000000000000ULL | (351ULL << 44));
  // /24 mask + EQUAL port: 191 + 255 = 446
  EXPECT_EQ(autoWeight({cond("IP_REMOTE_ADDRESS", MatchType::Equal, V4AddrMask{0, 0xFFFFFF00}),
                        cond("IP_REMOTE_PORT", MatchType::Equal, Value::uint16(443))}),
            auto60(2, 446));
  EXPECT_LT(autoWeight({}), uint64_t{1} << 60);
}

TEST(CoreWeight, OrGroupTakesWeakestMember) {
  // one field (port) with EQUAL 80 (255) OR RANGE[1000,2000] (96) -> 96, nFields 1
  EXPECT_EQ(autoWeight({cond("IP_LOCAL_PORT", MatchType::Equal, Value::uint16(80)),
                        portRange(1000, 2000)}),
            auto60(1, 96));
  // position does not matter
  EXPECT_EQ(autoWeight({portRange(1000, 2000),
                        cond("IP_PROTOCOL", MatchType::Equal, Value::uint8(6)),
                        cond("IP_LOCAL_PORT", MatchType::Equal, Value::uint16(80))}),
            auto60(2, 96 + 255));
}

TEST(CoreWeight, SixteenAndMoreFields) {
  // B.7: nFields is clamped to 15, the score sum is taken literally and OR-ed in.
  const LayerInfo& l = coretest::layerNamed("ALE_AUTH_CONNECT_V4");
  std::vector<Condition> conds;
  for (const FieldInfo& f : l.fields) {
    if (f.conditionKey.isZero()) {
      continue;
    }
    Value v;
    switch (f.type) {
      case DataType::Uint8:
        v = Value::uint8(1);
        break;
      case DataType::Uint16:
        v = Value::uint16(1);
        break;
      case DataType::Uint32:
        v = Value::uint32(1);
        break;
      case DataType::Uint64:
        v = Value::uint64(1);
        break;
      default:
        continue;
    }
    conds.push_back(Condition{f.conditionKey, MatchType::Equal, v});
    if (conds.size() == 17) {
      break;
    }
  }
  ASSERT_EQ(conds.size(), 17u) << "layer has fewer than 17 integer fields";
  std::vector<Condition> sixteen(conds.begin(), conds.begin() + 16);
  // 16 fields: 15 << 56 | (16*255 = 4080) << 44
  EXPECT_EQ(autoWeight(sixteen), 0x0F00000000000000ULL | (4080ULL << 44));
  EXPECT_EQ(effective(Value(), {}), 0u);
  // 17 fields: sum 4335 = 0x10EF spills into bit 56, which is already set by 15.
  EXPECT_EQ(autoWeight(conds), 0x0F00000000000000ULL | (4335ULL << 44));
  EXPECT_EQ(autoWeight(conds), 0x0F0EF00000000000ULL);
  Policy p;
  auto r = p.addFilter(coretest::makeFilter(l, Guid{}, Value(), ActionType::Block, 0, conds));
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(p.filterById(*r)->effectiveWeight, 0x0F0EF00000000000ULL);
}

TEST(CoreWeight, WeightForms) {
  const std::vector<Condition> c = {cond("IP_PROTOCOL", MatchType::Equal, Value::uint8(6))};
  EXPECT_EQ(effective(Value(), c), auto60(1, 255));
  EXPECT_EQ(effective(Value::uint8(0), c), auto60(1, 255));
  EXPECT_EQ(effective(Value::uint8(2), c), (2ULL << 60) | auto60(1, 255));
  EXPECT_EQ(effective(Value::uint8(12), {}), 0xC000000000000000ULL);
  EXPECT_EQ(effective(Value::uint8(15), c), (15ULL << 60) | auto60(1, 255));
  EXPECT_EQ(effective(Value::uint64(0), c), 0u);
  EXPECT_EQ(effective(Value::uint64(UINT64_MAX), c), UINT64_MAX);
  EXPECT_EQ(effective(Value::uint64(12345), c), 12345u);
  auto direct = effectiveWeight(Value::uint8(3), c);
  ASSERT_TRUE(direct.has_value());
  EXPECT_EQ(*direct, (3ULL << 60) | auto60(1, 255));
}

TEST(CoreWeight, InvalidWeights) {
  for (const Value& w : {Value::uint8(16),
                         Value::uint8(255),
                         Value::uint16(1),
                         Value::uint32(1),
                         Value::int64(1),
                         Value::int8(1),
                         Value::float64(1.0),
                         Value::byteBlob({1})}) {
    auto r = effectiveWeight(w, {});
    ASSERT_FALSE(r.has_value()) << dataTypeName(w.type());
    EXPECT_EQ(r.error().status, status::kInvalidWeight) << dataTypeName(w.type());
    Policy p;
    auto a = p.addFilter(coretest::makeFilter(transport(), Guid{}, w, ActionType::Block));
    ASSERT_FALSE(a.has_value());
    EXPECT_EQ(a.error().status, status::kInvalidWeight);
    EXPECT_TRUE(p.filters().empty());
  }
}

TEST(CoreWeight, EqualFilterWeightsLowerFilterIdFirst) {
  for (bool permitFirst : {true, false}) {
    Policy p;
    const ActionType a1 = permitFirst ? ActionType::Permit : ActionType::Block;
    const ActionType a2 = permitFirst ? ActionType::Block : ActionType::Permit;
    auto f1 = p.addFilter(coretest::makeFilter(transport(), Guid{}, Value::uint64(7), a1));
    auto f2 = p.addFilter(coretest::makeFilter(transport(), Guid{}, Value::uint64(7), a2));
    ASSERT_TRUE(f1 && f2);
    EXPECT_LT(*f1, *f2);
    NoCallouts none;
    auto r = classify(p, IncomingValues::emptyFor(transport()), {}, none);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->action, a1);
    EXPECT_EQ(r->filterId, *f1);
    const auto& order = p.arbitrationOrder(transport().id);
    ASSERT_EQ(order.size(), 2u);
    EXPECT_EQ(order[0].filter->filterId, *f1);
  }
}

TEST(CoreWeight, EqualSublayerWeightsOrderedByWireBytes) {
  // Text order: kA < kB. Wire order: kB (00 01 ...) < kA (01 00 ...). B.11: wire order decides.
  const Guid kA = Guid::fromText("00000001-0000-0000-0000-000000000000");
  const Guid kB = Guid::fromText("00000100-0000-0000-0000-000000000000");
  ASSERT_LT(kA.toString(), kB.toString());
  Policy p;
  ASSERT_TRUE(p.addSublayer(coretest::makeSublayer(kA, 0x5000)));
  ASSERT_TRUE(p.addSublayer(coretest::makeSublayer(kB, 0x5000)));
  // Add A's filter first so filterId order would also favour A.
  auto fa = p.addFilter(coretest::makeFilter(transport(), kA, Value::uint64(1), ActionType::Block));
  auto fb = p.addFilter(coretest::makeFilter(transport(), kB, Value::uint64(1), ActionType::Block));
  ASSERT_TRUE(fa && fb);
  NoCallouts none;
  auto r = classify(p, IncomingValues::emptyFor(transport()), {}, none);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->filterId, *fb) << "sublayer B (lower wire bytes) must be evaluated first";
  const auto& order = p.arbitrationOrder(transport().id);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0].sublayer->key, kB);
  EXPECT_EQ(order[1].sublayer->key, kA);
}

TEST(CoreWeight, HigherSublayerWeightFirstRegardlessOfFilterWeight) {
  Policy p;
  ASSERT_TRUE(p.addSublayer(coretest::makeSublayer(coretest::kSublayerH, 0xC000)));
  ASSERT_TRUE(p.addSublayer(coretest::makeSublayer(coretest::kSublayerL, 0x4000)));
  auto fl = p.addFilter(coretest::makeFilter(
      transport(), coretest::kSublayerL, Value::uint64(UINT64_MAX), ActionType::Block));
  auto fh = p.addFilter(
      coretest::makeFilter(transport(), coretest::kSublayerH, Value::uint64(0), ActionType::Block));
  ASSERT_TRUE(fl && fh);
  NoCallouts none;
  auto r = classify(p, IncomingValues::emptyFor(transport()), {}, none);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->filterId, *fh);
}

}  // namespace
}  // namespace xfp
