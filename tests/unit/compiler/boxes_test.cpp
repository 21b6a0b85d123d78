// Conditions -> boxes over key words: the decompositions the fast path's exactness rests on.
#include "compiler/boxes.h"

#include <gtest/gtest.h>

#include "compiler/fast_path_fields.h"
#include "userspace/core/layers.h"

namespace xfp::compiler {
namespace {

Filter filterAt(const char* layer, std::vector<Condition> conditions) {
  Filter f;
  f.layerKey = layerByName(layer)->key;
  f.conditions = std::move(conditions);
  return f;
}

Condition cond(const char* layer, const char* field, MatchType m, ConditionValue v) {
  return Condition{layerByName(layer)->fieldByName(field)->conditionKey, m, std::move(v)};
}

TEST(CompilerBoxes, PortEqualityIsOneRangeTermPlusPresence) {
  auto boxes = filterBoxes(
      XFP_LS_IN_TR4,
      filterAt(
          "INBOUND_TRANSPORT_V4",
          {cond("INBOUND_TRANSPORT_V4", "IP_LOCAL_PORT", MatchType::Equal, Value::uint16(80))}));
  ASSERT_TRUE(boxes);
  ASSERT_EQ(boxes->size(), 1u);
  const Box& b = (*boxes)[0];
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0], (Term{XFP_SLOT_PRESENT, XFP_TERM_MASK, XFP_PRESENT_PORTS, XFP_PRESENT_PORTS}));
  EXPECT_EQ(b[1], (Term{XFP_SLOT_LPORT, XFP_TERM_RANGE, 80, 80}));
}

TEST(CompilerBoxes, NotEqualIsTwoBoxesAndOrGroupsUnite) {
  const char* L = "INBOUND_TRANSPORT_V4";
  auto ne = filterBoxes(
      XFP_LS_IN_TR4, filterAt(L, {cond(L, "IP_PROTOCOL", MatchType::NotEqual, Value::uint8(6))}));
  ASSERT_TRUE(ne);
  EXPECT_EQ(ne->size(), 2u);
  auto orGroup =
      filterBoxes(XFP_LS_IN_TR4,
                  filterAt(L,
                           {cond(L, "IP_PROTOCOL", MatchType::Equal, Value::uint8(6)),
                            cond(L, "IP_PROTOCOL", MatchType::Equal, Value::uint8(17)),
                            cond(L, "IP_REMOTE_PORT", MatchType::Equal, Value::uint16(53))}));
  ASSERT_TRUE(orGroup);
  EXPECT_EQ(orGroup->size(), 2u);  // (6 or 17) x (53)
}

TEST(CompilerBoxes, Ipv6PrefixTouchesOnlyItsWords) {
  const char* L = "INBOUND_IPPACKET_V6";
  std::array<uint8_t, 16> a{0xfd, 0, 0, 0, 0, 0, 0, 1};
  auto boxes =
      filterBoxes(XFP_LS_IN_IP6,
                  filterAt(L, {cond(L, "IP_REMOTE_ADDRESS", MatchType::Equal, V6AddrMask{a, 48})}));
  ASSERT_TRUE(boxes);
  ASSERT_EQ(boxes->size(), 1u);
  const Box& b = (*boxes)[0];
  ASSERT_EQ(b.size(), 2u);  // word 0 exact, word 1 high 16 bits; words 2-3 free
  EXPECT_EQ(b[0], (Term{XFP_SLOT_RADDR, XFP_TERM_RANGE, 0xfd000000u, 0xfd000000u}));
  EXPECT_EQ(b[1], (Term{XFP_SLOT_RADDR + 1, XFP_TERM_RANGE, 0, 0xFFFFu}));
}

TEST(CompilerBoxes, Ipv6RangeDecomposesLexicographically) {
  const char* L = "INBOUND_IPPACKET_V6";
  std::array<uint8_t, 16> lo{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5};
  std::array<uint8_t, 16> hi{0xfd, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1};
  auto boxes =
      filterBoxes(XFP_LS_IN_IP6,
                  filterAt(L,
                           {cond(L,
                                 "IP_LOCAL_ADDRESS",
                                 MatchType::Range,
                                 RangeValue{Value::byteArray16(lo), Value::byteArray16(hi)})}));
  ASSERT_TRUE(boxes);
  // [..:0:..:5, ..:0:ffff..] + [..:1:*, ..:1:*] + [..:2:0.., ..:2:..1] over words 1-3.
  EXPECT_GE(boxes->size(), 3u);
  EXPECT_LE(boxes->size(), 7u);
}

TEST(CompilerBoxes, ConditionsOnFieldsLinuxNeverSuppliesFoldAtCompileTime) {
  const char* L = "INBOUND_TRANSPORT_V4";
  // INTERFACE_TYPE is always FWP_EMPTY on the fast path: an EMPTY condition always holds ...
  auto always = filterBoxes(XFP_LS_IN_TR4,
                            filterAt(L, {cond(L, "INTERFACE_TYPE", MatchType::Equal, Value{})}));
  ASSERT_TRUE(always);
  ASSERT_EQ(always->size(), 1u);
  EXPECT_TRUE((*always)[0].empty());
  // ... and any other never does: the filter cannot match.
  auto never = filterBoxes(
      XFP_LS_IN_TR4, filterAt(L, {cond(L, "INTERFACE_TYPE", MatchType::Equal, Value::uint32(6))}));
  ASSERT_TRUE(never);
  EXPECT_TRUE(never->empty());
}

TEST(CompilerBoxes, FlagsAnySetIsOneBoxPerBit) {
  const char* L = "INBOUND_IPPACKET_V4";
  auto boxes = filterBoxes(
      XFP_LS_IN_IP4, filterAt(L, {cond(L, "FLAGS", MatchType::FlagsAnySet, Value::uint32(0x21))}));
  ASSERT_TRUE(boxes);
  EXPECT_EQ(boxes->size(), 2u);
}

}  // namespace
}  // namespace xfp::compiler
