// wfp-model.md §4.9: the 33 worked examples of filter arbitration, one test each, built through
// the Policy API and run through xfp::classify with a scripted callout registry.
#include <cstdint>
#include <string>

#include <gtest/gtest.h>

#include "tests/unit/core/core_test_util.h"
#include "userspace/core/classifier.h"
#include "userspace/core/policy.h"
#include "userspace/core/security.h"
#include "userspace/core/value_text.h"

namespace xfp {
namespace {

using coretest::cond;
using coretest::kSublayerH;
using coretest::kSublayerL;
using coretest::makeCallout;
using coretest::makeFilter;
using coretest::makeSublayer;
using coretest::ScriptedCallouts;

constexpr uint32_t kCar = filter_flag::kClearActionRight;
constexpr uint32_t kPicu = filter_flag::kPermitIfCalloutUnregistered;

class CoreWorkedExamples : public ::testing::Test {
 protected:
  CoreWorkedExamples() { useLayer("INBOUND_TRANSPORT_V4"); }

  // Starts over with an empty policy (sublayers H and L only) at another layer.
  void useLayer(std::string_view layerName) {
    layer_ = &coretest::layerNamed(layerName);
    policy_ = Policy();
    EXPECT_TRUE(policy_.addSublayer(makeSublayer(kSublayerH, 0xC000)).has_value());
    EXPECT_TRUE(policy_.addSublayer(makeSublayer(kSublayerL, 0x4000)).has_value());
  }

  IncomingValues unboundBind() {
    IncomingValues in = IncomingValues::emptyFor(*layer_);
    set(in, "IP_PROTOCOL", Value::uint8(6));
    set(in, "IP_LOCAL_PORT", Value::uint16(8080));
    // IP_LOCAL_ADDRESS stays FWP_EMPTY: bind(INADDR_ANY).
    return in;
  }

  uint64_t add(const Guid& sublayer,
               uint64_t weight,
               ActionType action,
               uint32_t flags = 0,
               std::vector<Condition> conditions = {},
               const Guid* calloutKey = nullptr) {
    Filter f =
        makeFilter(*layer_, sublayer, Value::uint64(weight), action, flags, std::move(conditions));
    if (calloutKey != nullptr) {
      f.action.calloutKey = *calloutKey;
    }
    return addFilter(std::move(f));
  }

  uint64_t addFilter(Filter f) {
    auto r = policy_.addFilter(std::move(f));
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    return r.value_or(0);
  }

  // Adds an FWPM callout at the layer; registers it in the scripted registry unless told not to.
  uint32_t addCallout(Guid& keyOut, bool registered = true) {
    keyOut = Guid::generate();
    auto r = policy_.addCallout(makeCallout(keyOut, *layer_));
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    const uint32_t id = r.value_or(0);
    if (registered) {
      registry_.script(id).registered = true;
    }
    return id;
  }

  uint64_t addCalloutFilter(const Guid& sublayer,
                            uint64_t weight,
                            ActionType action,
                            const Guid& calloutKey,
                            uint32_t flags = 0) {
    return add(sublayer, weight, action, flags, {}, &calloutKey);
  }

  IncomingValues packet(uint8_t proto = 6,
                        uint16_t remotePort = 443,
                        uint16_t localPort = 50000,
                        uint32_t remoteAddr = 0x0A000002) {
    IncomingValues in = IncomingValues::emptyFor(*layer_);
    set(in, "IP_PROTOCOL", Value::uint8(proto));
    set(in, "IP_LOCAL_ADDRESS", Value::uint32(0x0A000001));
    set(in, "IP_REMOTE_ADDRESS", Value::uint32(remoteAddr));
    set(in, "IP_LOCAL_PORT", Value::uint16(localPort));
    set(in, "IP_REMOTE_PORT", Value::uint16(remotePort));
    return in;
  }

  void set(IncomingValues& in, std::string_view field, Value v) const {
    in.values.at(coretest::fieldOf(*layer_, field).index) = std::move(v);
  }

  ClassifyResult run(const IncomingValues& in, IncomingMetadata meta = {}) {
    auto r = classify(policy_, in, meta, registry_);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    return r.value_or(ClassifyResult{});
  }
  ClassifyResult run() { return run(packet()); }

  const LayerInfo* layer_ = nullptr;
  Policy policy_;
  ScriptedCallouts registry_;
};

void expectResult(const ClassifyResult& r, ActionType action, uint64_t filterId) {
  EXPECT_EQ(actionTypeName(r.action), actionTypeName(action));
  EXPECT_EQ(r.filterId, filterId);
}

TEST_F(CoreWorkedExamples, Example01_NoFiltersIsNoneNoMatch) {
  const ClassifyResult r = run();
  expectResult(r, ActionType::NoneNoMatch, 0);
  EXPECT_TRUE(r.permits());
  EXPECT_FALSE(r.vetoed);
  EXPECT_EQ(r.flags, 0u);
}

TEST_F(CoreWorkedExamples, Example02_NonMatchingBlockIsNoneNoMatch) {
  add(kSublayerH,
      10,
      ActionType::Block,
      0,
      {cond("IP_PROTOCOL", MatchType::Equal, Value::uint8(17))});
  const ClassifyResult r = run(packet(6));
  expectResult(r, ActionType::NoneNoMatch, 0);
  EXPECT_TRUE(r.permits());
}

TEST_F(CoreWorkedExamples, Example03_FirstPermitEndsSublayer) {
  const uint64_t f1 = add(kSublayerH, 10, ActionType::Permit);
  const uint64_t f2 = add(kSublayerH, 5, ActionType::Block);
  const ClassifyResult r = run();
  expectResult(r, ActionType::Permit, f1);
  // F2 never evaluated: it must not appear as an evaluated step.
  for (const auto& sl : r.trace) {
    for (const auto& st : sl.steps) {
      EXPECT_NE(st.filterId, f2) << "F2 must not be evaluated";
    }
  }
}

TEST_F(CoreWorkedExamples, Example04_HigherWeightBlockWins) {
  const uint64_t f1 = add(kSublayerH, 10, ActionType::Block);
  add(kSublayerH, 5, ActionType::Permit);
  const ClassifyResult r = run();
  expectResult(r, ActionType::Block, f1);
  EXPECT_FALSE(r.permits());
}

TEST_F(CoreWorkedExamples, Example05_WeightNotInsertionOrder) {
  add(kSublayerH, 5, ActionType::Permit);
  const uint64_t f2 = add(kSublayerH, 10, ActionType::Block);
  expectResult(run(), ActionType::Block, f2);
}

TEST_F(CoreWorkedExamples, Example06_SoftPermitOverriddenByLowerBlock) {
  add(kSublayerH, 10, ActionType::Permit);
  const uint64_t f2 = add(kSublayerL, 10, ActionType::Block);
  expectResult(run(), ActionType::Block, f2);
}

TEST_F(CoreWorkedExamples, Example07_HardPermitNotVetoedByStaticBlock) {
  const uint64_t f1 = add(kSublayerH, 10, ActionType::Permit, kCar);
  add(kSublayerL, 10, ActionType::Block);
  const ClassifyResult r = run();
  expectResult(r, ActionType::Permit, f1);
  EXPECT_FALSE(r.vetoed);
}

TEST_F(CoreWorkedExamples, Example08_CalloutVetoesHardPermit) {
  Guid ck;
  const uint32_t cid = addCallout(ck);
  registry_.set(cid, ActionType::Block, /*clearRight=*/true);
  add(kSublayerH, 10, ActionType::Permit, kCar);
  const uint64_t f2 = addCalloutFilter(kSublayerL, 10, ActionType::CalloutTerminating, ck);
  const ClassifyResult r = run();
  expectResult(r, ActionType::Block, f2);
  EXPECT_TRUE(r.vetoed);
  ASSERT_EQ(registry_.countFor(cid), 1u);
  EXPECT_EQ(registry_.invocations[0].rightsSeen, 0u);
  EXPECT_EQ(actionTypeName(registry_.invocations[0].actionTypeSeen),
            actionTypeName(ActionType::Permit));
  EXPECT_EQ(registry_.invocations[0].filterId, f2);
}

TEST_F(CoreWorkedExamples, Example09_InspectionCalloutCannotVeto) {
  Guid ck;
  const uint32_t cid = addCallout(ck);
  registry_.set(cid, ActionType::Block);
  const uint64_t f1 = add(kSublayerH, 10, ActionType::Permit, kCar);
  addCalloutFilter(kSublayerL, 10, ActionType::CalloutInspection, ck);
  const ClassifyResult r = run();
  expectResult(r, ActionType::Permit, f1);
  EXPECT_FALSE(r.vetoed);
  EXPECT_EQ(registry_.countFor(cid), 1u);
}

TEST_F(CoreWorkedExamples, Example10_HardBlockNotOverriddenByHardPermit) {
  const uint64_t f1 = add(kSublayerH, 10, ActionType::Block);
  add(kSublayerL, 10, ActionType::Permit, kCar);
  const ClassifyResult r = run();
  expectResult(r, ActionType::Block, f1);
  EXPECT_FALSE(r.vetoed);
}

TEST_F(CoreWorkedExamples, Example11_CalloutSoftBlockOverriddenByPermit) {
  Guid ck;
  const uint32_t cid = addCallout(ck);
  registry_.set(cid, ActionType::Block, /*clearRight=*/false);
  addCalloutFilter(kSublayerH, 10, ActionType::CalloutTerminating, ck);
  const uint64_t f2 = add(kSublayerL, 10, ActionType::Permit);
  expectResult(run(), ActionType::Permit, f2);
}

TEST_F(CoreWorkedExamples, Example12_CalloutHardBlockStands) {
  Guid ck;
  const uint32_t cid = addCallout(ck);
  registry_.set(cid, ActionType::Block, /*clearRight=*/true);
  const uint64_t f1 = addCalloutFilter(kSublayerH, 10, ActionType::CalloutTerminating, ck);
  add(kSublayerL, 10, ActionType::Permit);
  const ClassifyResult r = run();
  expectResult(r, ActionType::Block, f1);
  EXPECT_FALSE(r.vetoed);
}

TEST_F(CoreWorkedExamples, Example13_TerminatingContinueCoercedToBlock) {
  Guid ck;
  const uint32_t cid = addCallout(ck);
  registry_.set(cid, ActionType::Continue);
  const uint64_t f1 = addCalloutFilter(kSublayerH, 10, ActionType::CalloutTerminating, ck);
  add(kSublayerH, 5, ActionType::Permit);
  expectResult(run(), ActionType::Block, f1);
}

TEST_F(CoreWorkedExamples, Example14_UnknownContinueFallsThrough) {
  Guid ck;
  const uint32_t cid = addCallout(ck);
  registry_.set(cid, ActionType::Continue);
  addCalloutFilter(kSublayerH, 10, ActionType::CalloutUnknown, ck);
  const uint64_t f2 = add(kSublayerH, 5, ActionType::Permit);
  expectResult(run(), ActionType::Permit, f2);
  EXPECT_EQ(registry_.countFor(cid), 1u);
}

TEST_F(CoreWorkedExamples, Example15_InspectionOnlyGivesNoneAndRunsOnce) {
  Guid ck;
  const uint32_t cid = addCallout(ck);
  registry_.set(cid, ActionType::Continue);
  addCalloutFilter(kSublayerH, 10, ActionType::CalloutInspection, ck);
  const ClassifyResult r = run();
  expectResult(r, ActionType::None, 0);
  EXPECT_TRUE(r.permits());
  EXPECT_EQ(registry_.countFor(cid), 1u);
}

TEST_F(CoreWorkedExamples, Example16_UnregisteredTerminatingActsAsBlock) {
  Guid ck;
  const uint32_t cid = addCallout(ck, /*registered=*/false);
  const uint64_t f1 = addCalloutFilter(kSublayerH, 10, ActionType::CalloutTerminating, ck);
  add(kSublayerH, 5, ActionType::Permit);
  expectResult(run(), ActionType::Block, f1);
  EXPECT_EQ(registry_.countFor(cid), 0u);
}

TEST_F(CoreWorkedExamples, Example17_PermitIfUnregisteredIsSoftPermit) {
  Guid ck;
  addCallout(ck, /*registered=*/false);
  addCalloutFilter(kSublayerH, 10, ActionType::CalloutTerminating, ck, kPicu);
  add(kSublayerH, 5, ActionType::Permit);
  const uint64_t f3 = add(kSublayerL, 10, ActionType::Block);
  expectResult(run(), ActionType::Block, f3);
}

TEST_F(CoreWorkedExamples, Example18_PermitIfUnregisteredWithClearRightIsHard) {
  Guid ck;
  addCallout(ck, /*registered=*/false);
  const uint64_t f1 =
      addCalloutFilter(kSublayerH, 10, ActionType::CalloutTerminating, ck, kPicu | kCar);
  add(kSublayerH, 5, ActionType::Permit);
  add(kSublayerL, 10, ActionType::Block);
  const ClassifyResult r = run();
  expectResult(r, ActionType::Permit, f1);
  EXPECT_FALSE(r.vetoed);
}

TEST_F(CoreWorkedExamples, Example19_UnregisteredInspectionIgnored) {
  Guid ck;
  addCallout(ck, /*registered=*/false);
  addCalloutFilter(kSublayerH, 10, ActionType::CalloutInspection, ck);
  const uint64_t f2 = add(kSublayerH, 5, ActionType::Block);
  expectResult(run(), ActionType::Block, f2);
}

TEST_F(CoreWorkedExamples, Example19b_UnregisteredInspectionAloneIsNotAMatch) {
  // §4.8: SKIP is "not counted as a match", so the result is NONE_NO_MATCH, not NONE.
  Guid ck;
  addCallout(ck, /*registered=*/false);
  addCalloutFilter(kSublayerH, 10, ActionType::CalloutInspection, ck);
  expectResult(run(), ActionType::NoneNoMatch, 0);
}

TEST_F(CoreWorkedExamples, Example20_LastAppliedWriterReported) {
  add(kSublayerH, 10, ActionType::Permit);
  const uint64_t f2 = add(kSublayerL, 10, ActionType::Permit);
  expectResult(run(), ActionType::Permit, f2);
}

TEST_F(CoreWorkedExamples, Example21_InspectionBelowHardBlockStillInvoked) {
  Guid ck;
  const uint32_t cid = addCallout(ck);
  registry_.set(cid, ActionType::Continue);
  const uint64_t f1 = add(kSublayerH, 10, ActionType::Block);
  addCalloutFilter(kSublayerL, 10, ActionType::CalloutInspection, ck);
  const ClassifyResult r = run();
  expectResult(r, ActionType::Block, f1);
  ASSERT_EQ(registry_.countFor(cid), 1u);
  EXPECT_EQ(registry_.invocations[0].rightsSeen, 0u);
  EXPECT_EQ(actionTypeName(registry_.invocations[0].actionTypeSeen),
            actionTypeName(ActionType::Block));
}

TEST_F(CoreWorkedExamples, Example22_AbsorbingHardBlock) {
  Guid ck;
  const uint32_t cid = addCallout(ck);
  registry_.set(cid, ActionType::Block, /*clearRight=*/true, /*absorb=*/true);
  const uint64_t f1 = addCalloutFilter(kSublayerH, 10, ActionType::CalloutTerminating, ck);
  const ClassifyResult r = run();
  expectResult(r, ActionType::Block, f1);
  EXPECT_EQ(r.flags & kClassifyOutFlagAbsorb, kClassifyOutFlagAbsorb);
}

TEST_F(CoreWorkedExamples, Example22b_SoftAbsorbReplacedIsNotAbsorbed) {
  // Appendix B.9: ABSORB is reported only when the final action is BLOCK.
  Guid ck;
  const uint32_t cid = addCallout(ck);
  registry_.set(cid, ActionType::Block, /*clearRight=*/false, /*absorb=*/true);
  addCalloutFilter(kSublayerH, 10, ActionType::CalloutTerminating, ck);
  const uint64_t f2 = add(kSublayerL, 10, ActionType::Permit);
  const ClassifyResult r = run();
  expectResult(r, ActionType::Permit, f2);
  EXPECT_EQ(r.flags & kClassifyOutFlagAbsorb, 0u);
}

TEST_F(CoreWorkedExamples, Example23_CompliantCalloutMakesHardPermit) {
  Guid ck;
  const uint32_t cid = addCallout(ck);
  registry_.set(cid, ActionType::Permit, /*clearRight=*/true);
  const uint64_t f1 = addCalloutFilter(kSublayerH, 10, ActionType::CalloutTerminating, ck, kCar);
  add(kSublayerL, 10, ActionType::Block);
  const ClassifyResult r = run();
  expectResult(r, ActionType::Permit, f1);
  EXPECT_FALSE(r.vetoed);
}

TEST_F(CoreWorkedExamples, Example23b_ClearActionRightDoesNotHardenCalloutPermit) {
  // Appendix B.3: the flag hardens static PERMIT filters only; the callout left the right set.
  Guid ck;
  const uint32_t cid = addCallout(ck);
  registry_.set(cid, ActionType::Permit, /*clearRight=*/false);
  addCalloutFilter(kSublayerH, 10, ActionType::CalloutTerminating, ck, kCar);
  const uint64_t f2 = add(kSublayerL, 10, ActionType::Block);
  expectResult(run(), ActionType::Block, f2);
}

TEST_F(CoreWorkedExamples, Example24_RangeIndexDominatesAutoWeight) {
  const uint64_t f1 =
      addFilter(makeFilter(*layer_, kSublayerH, Value::uint8(2), ActionType::Permit));
  addFilter(makeFilter(*layer_,
                       kSublayerH,
                       Value::uint8(1),
                       ActionType::Block,
                       0,
                       {cond("IP_PROTOCOL", MatchType::Equal, Value::uint8(6)),
                        cond("IP_REMOTE_PORT", MatchType::Equal, Value::uint16(443)),
                        cond("IP_LOCAL_PORT", MatchType::Equal, Value::uint16(50000))}));
  expectResult(run(), ActionType::Permit, f1);
}

TEST_F(CoreWorkedExamples, Example25_SupersetOfFieldsWinsWithAutoWeights) {
  useLayer("ALE_AUTH_CONNECT_V4");
  const FieldInfo& userField = coretest::fieldOf(*layer_, "ALE_USER_ID");
  auto sd = securityDescriptorFromSddl("D:(A;;0x1;;;S-1-22-1-1000)");
  ASSERT_TRUE(sd.has_value()) << sd.error().message;
  const uint64_t f1 = addFilter(
      makeFilter(*layer_,
                 kSublayerH,
                 Value(),
                 ActionType::Block,
                 0,
                 {cond("IP_REMOTE_PORT", MatchType::Range, coretest::range16(1000, 2000))}));
  const uint64_t f2 = addFilter(makeFilter(
      *layer_,
      kSublayerH,
      Value(),
      ActionType::Permit,
      0,
      {cond("IP_REMOTE_PORT", MatchType::Range, coretest::range16(1000, 2000)),
       Condition{userField.conditionKey, MatchType::Equal, Value::securityDescriptor(*sd)}}));

  IncomingValues in = packet(6, 1500);
  set(in, "ALE_USER_ID", Value::token(Token{1000, {1000}}));
  expectResult(run(in), ActionType::Permit, f2);

  set(in, "ALE_USER_ID", Value::token(Token{1001, {1001}}));
  expectResult(run(in), ActionType::Block, f1);
}

TEST_F(CoreWorkedExamples, Example25b_UidShorthandEqualsSddl) {
  useLayer("ALE_AUTH_CONNECT_V4");
  const FieldInfo& userField = coretest::fieldOf(*layer_, "ALE_USER_ID");
  auto cv = parseConditionText(userField, "uid=1000");
  ASSERT_TRUE(cv.has_value()) << cv.error().message;
  const uint64_t f1 =
      addFilter(makeFilter(*layer_,
                           kSublayerH,
                           Value(),
                           ActionType::Block,
                           0,
                           {Condition{userField.conditionKey, MatchType::Equal, *cv}}));
  IncomingValues in = packet(6, 1500);
  set(in, "ALE_USER_ID", Value::token(Token{1000, {}}));
  expectResult(run(in), ActionType::Block, f1);
  set(in, "ALE_USER_ID", Value::token(Token{1001, {1000}}));
  expectResult(run(in), ActionType::NoneNoMatch, 0);
}

TEST_F(CoreWorkedExamples, Example26_AndAcrossFieldsOrWithinField) {
  const uint64_t f1 = add(kSublayerH,
                          10,
                          ActionType::Block,
                          0,
                          {cond("IP_PROTOCOL", MatchType::Equal, Value::uint8(6)),
                           cond("IP_REMOTE_PORT", MatchType::Equal, Value::uint16(80)),
                           cond("IP_REMOTE_PORT", MatchType::Equal, Value::uint16(443))});
  expectResult(run(packet(6, 443)), ActionType::Block, f1);
  expectResult(run(packet(6, 80)), ActionType::Block, f1);
  expectResult(run(packet(6, 22)), ActionType::NoneNoMatch, 0);
  expectResult(run(packet(17, 443)), ActionType::NoneNoMatch, 0);
}

TEST_F(CoreWorkedExamples, Example27_GroupingIgnoresPosition) {
  const uint64_t f1 = add(kSublayerH,
                          10,
                          ActionType::Block,
                          0,
                          {cond("IP_REMOTE_PORT", MatchType::Equal, Value::uint16(80)),
                           cond("IP_PROTOCOL", MatchType::Equal, Value::uint8(6)),
                           cond("IP_REMOTE_PORT", MatchType::Equal, Value::uint16(443))});
  expectResult(run(packet(6, 443)), ActionType::Block, f1);
  expectResult(run(packet(6, 80)), ActionType::Block, f1);
  expectResult(run(packet(6, 22)), ActionType::NoneNoMatch, 0);
  expectResult(run(packet(17, 443)), ActionType::NoneNoMatch, 0);
}

TEST_F(CoreWorkedExamples, Example28_RangesAreInclusive) {
  const uint64_t f1 = add(kSublayerH,
                          10,
                          ActionType::Block,
                          0,
                          {cond("IP_LOCAL_PORT", MatchType::Range, coretest::range16(1000, 2000))});
  expectResult(run(packet(6, 443, 999)), ActionType::NoneNoMatch, 0);
  expectResult(run(packet(6, 443, 1000)), ActionType::Block, f1);
  expectResult(run(packet(6, 443, 2000)), ActionType::Block, f1);
  expectResult(run(packet(6, 443, 2001)), ActionType::NoneNoMatch, 0);
}

TEST_F(CoreWorkedExamples, Example29_HostOrderV4Mask) {
  const uint64_t f1 =
      add(kSublayerH,
          10,
          ActionType::Block,
          0,
          {cond("IP_REMOTE_ADDRESS", MatchType::Equal, V4AddrMask{0x0A000000, 0xFF000000})});
  expectResult(run(packet(6, 443, 50000, 0x0AFF0001)), ActionType::Block, f1);
  expectResult(run(packet(6, 443, 50000, 0x0B000001)), ActionType::NoneNoMatch, 0);
  // A network-order reading of 10.255.0.1 (0x0100FF0A) must not match.
  expectResult(run(packet(6, 443, 50000, 0x0100FF0A)), ActionType::NoneNoMatch, 0);
}

TEST_F(CoreWorkedExamples, Example30_ConditionVsEmptyIsFalse) {
  useLayer("ALE_RESOURCE_ASSIGNMENT_V4");
  add(kSublayerH,
      10,
      ActionType::Block,
      0,
      {cond("IP_LOCAL_ADDRESS", MatchType::Equal, Value::uint32(0x0A000001))});
  expectResult(run(unboundBind()), ActionType::NoneNoMatch, 0);
}

TEST_F(CoreWorkedExamples, Example30b_NotEqualVsEmptyIsFalse) {
  useLayer("ALE_RESOURCE_ASSIGNMENT_V4");
  add(kSublayerH,
      10,
      ActionType::Block,
      0,
      {cond("IP_LOCAL_ADDRESS", MatchType::NotEqual, Value::uint32(0x0A000001))});
  expectResult(run(unboundBind()), ActionType::NoneNoMatch, 0);
}

TEST_F(CoreWorkedExamples, Example31_EmptyMatchesEmpty) {
  useLayer("ALE_RESOURCE_ASSIGNMENT_V4");
  const uint64_t f1 = add(kSublayerH,
                          10,
                          ActionType::Block,
                          0,
                          {cond("IP_LOCAL_ADDRESS", MatchType::Equal, ConditionValue())});
  expectResult(run(unboundBind()), ActionType::Block, f1);
  // ...and only EMPTY: a bound socket does not match.
  IncomingValues bound = unboundBind();
  set(bound, "IP_LOCAL_ADDRESS", Value::uint32(0x0A000001));
  expectResult(run(bound), ActionType::NoneNoMatch, 0);
}

TEST_F(CoreWorkedExamples, Example32_DisabledCannotBeSetOnAdd) {
  // Appendix B.10: DISABLED is engine state (provider gating), rejected on add. The Policy API
  // offers no way to put an added filter into the DISABLED state, so the "skipped" half of the
  // example cannot be driven from here.
  const size_t before = policy_.filters().size();
  auto r = policy_.addFilter(makeFilter(
      *layer_, kSublayerH, Value::uint64(10), ActionType::Block, filter_flag::kDisabled));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().status, status::kInvalidFlags);
  EXPECT_EQ(policy_.filters().size(), before);
  expectResult(run(), ActionType::NoneNoMatch, 0);
}

TEST_F(CoreWorkedExamples, Example33_ConditionalOnFlowWithoutContextSkipped) {
  Guid ck;
  const uint32_t cid = addCallout(ck);
  registry_.set(cid, ActionType::Permit);
  registry_.script(cid).registrationFlags = kCalloutConditionalOnFlow;
  addCalloutFilter(kSublayerH, 10, ActionType::CalloutTerminating, ck);
  const uint64_t f2 = add(kSublayerH, 5, ActionType::Block);
  // With a flow that has no context for this callout...
  expectResult(run(packet(), IncomingMetadata{true, 77}), ActionType::Block, f2);
  // ...and without a flow at all.
  expectResult(run(packet(), IncomingMetadata{}), ActionType::Block, f2);
  EXPECT_EQ(registry_.countFor(cid), 0u);
}

TEST_F(CoreWorkedExamples, Example33b_ConditionalOnFlowWithContextInvoked) {
  Guid ck;
  const uint32_t cid = addCallout(ck);
  registry_.set(cid, ActionType::Permit);
  registry_.script(cid).registrationFlags = kCalloutConditionalOnFlow;
  registry_.addFlowContext(cid, 77, layer_->id);
  const uint64_t f1 = addCalloutFilter(kSublayerH, 10, ActionType::CalloutTerminating, ck);
  add(kSublayerH, 5, ActionType::Block);
  expectResult(run(packet(), IncomingMetadata{true, 77}), ActionType::Permit, f1);
  EXPECT_EQ(registry_.countFor(cid), 1u);
}

}  // namespace
}  // namespace xfp
