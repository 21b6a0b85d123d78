// wfp-model.md §1.2-§1.8 and §7.8: FWP_E_* results of Policy add/delete, and that a rejected
// add leaves the policy unchanged.
#include <cstdint>

#include <gtest/gtest.h>

#include "tests/unit/core/core_test_util.h"
#include "userspace/core/policy.h"

namespace xfp {
namespace {

using coretest::cond;

const LayerInfo& transport() {
  return coretest::layerNamed("INBOUND_TRANSPORT_V4");
}

Filter base() {
  return coretest::makeFilter(transport(), Guid{}, Value::uint64(1), ActionType::Block);
}

// Adds `f` and expects `expected`; on rejection also checks the policy did not change.
void expectAdd(Policy& p, Filter f, uint32_t expected) {
  const size_t before = p.filters().size();
  const Guid key = f.key;
  auto r = p.addFilter(std::move(f));
  if (expected == status::kSuccess) {
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
    return;
  }
  ASSERT_FALSE(r.has_value()) << "expected " << statusName(expected);
  EXPECT_EQ(statusName(r.error().status), statusName(expected)) << r.error().message;
  EXPECT_EQ(p.filters().size(), before);
  if (!key.isZero()) {
    EXPECT_EQ(p.filterByKey(key), nullptr);
  }
}

TEST(CoreValidation, ValidFilterGetsIdsKeyAndDefaultSublayer) {
  Policy p;
  auto r = p.addFilter(base());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(*r, 1u);  // §1.1: filterId starts at 1
  const Filter* f = p.filterById(*r);
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(f->key.isZero());  // zero key -> generated
  EXPECT_EQ(p.filterByKey(f->key), f);
  const auto& order = p.arbitrationOrder(transport().id);
  ASSERT_EQ(order.size(), 1u);
  EXPECT_EQ(order[0].sublayer->key, keys::kSublayerUniversal);
  auto r2 = p.addFilter(base());
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(*r2, 2u);
}

TEST(CoreValidation, FilterIdsNeverReused) {
  Policy p;
  auto a = p.addFilter(base());
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(p.deleteFilterById(*a).has_value());
  auto b = p.addFilter(base());
  ASSERT_TRUE(b.has_value());
  EXPECT_GT(*b, *a);
  EXPECT_EQ(p.filterById(*a), nullptr);
}

TEST(CoreValidation, NullDisplayName) {
  Policy p;
  Filter f = base();
  f.displayData.name.reset();
  expectAdd(p, f, status::kNullDisplayName);
  Sublayer s = coretest::makeSublayer(Guid::generate(), 1);
  s.displayData.name.reset();
  auto r = p.addSublayer(s);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().status, status::kNullDisplayName);
  Callout c = coretest::makeCallout(Guid::generate(), transport());
  c.displayData.name.reset();
  auto rc = p.addCallout(c);
  ASSERT_FALSE(rc.has_value());
  EXPECT_EQ(rc.error().status, status::kNullDisplayName);
}

TEST(CoreValidation, UnknownReferences) {
  Policy p;
  Filter f = base();
  f.layerKey = Guid::generate();
  expectAdd(p, f, status::kLayerNotFound);
  f = base();
  f.subLayerKey = Guid::generate();
  expectAdd(p, f, status::kSublayerNotFound);
  f = base();
  f.providerKey = Guid::generate();
  expectAdd(p, f, status::kProviderNotFound);
  f = base();
  f.action.type = ActionType::CalloutTerminating;
  f.action.calloutKey = Guid::generate();
  expectAdd(p, f, status::kCalloutNotFound);
  f = base();
  f.flags = filter_flag::kHasProviderContext;
  f.providerContextKey = Guid::generate();
  expectAdd(p, f, status::kProviderContextNotFound);
}

TEST(CoreValidation, ConditionFieldNotAtLayer) {
  Policy p;
  Filter f = coretest::makeFilter(coretest::layerNamed("INBOUND_IPPACKET_V4"),
                                  Guid{},
                                  Value::uint64(1),
                                  ActionType::Block,
                                  0,
                                  {cond("IP_LOCAL_PORT", MatchType::Equal, Value::uint16(80))});
  expectAdd(p, f, status::kConditionNotFound);
  f.conditions = {Condition{Guid::generate(), MatchType::Equal, Value::uint16(80)}};
  expectAdd(p, f, status::kConditionNotFound);
}

TEST(CoreValidation, ConditionTypeErrorsSurfaceFromAdd) {
  Policy p;
  Filter f = base();
  f.conditions = {cond("IP_PROTOCOL", MatchType::Equal, Value::uint16(6))};
  expectAdd(p, f, status::kTypeMismatch);
  f.conditions = {cond("IP_LOCAL_PORT", MatchType::Range, coretest::range16(5, 1))};
  expectAdd(p, f, status::kInvalidRange);
  f.conditions = {cond("IP_REMOTE_ADDRESS", MatchType::Equal, V4AddrMask{0, 0xFF00FF00})};
  expectAdd(p, f, status::kInvalidNetMask);
  f.conditions = {cond("IP_LOCAL_PORT", MatchType::Prefix, Value::uint16(6))};
  expectAdd(p, f, status::kMatchTypeMismatch);
}

TEST(CoreValidation, CalloutAtAnotherLayer) {
  Policy p;
  const Guid ck = Guid::generate();
  ASSERT_TRUE(p.addCallout(coretest::makeCallout(ck, coretest::layerNamed("STREAM_V4"))));
  Filter f = base();
  f.action.type = ActionType::CalloutTerminating;
  f.action.calloutKey = ck;
  expectAdd(p, f, status::kIncompatibleLayer);
}

TEST(CoreValidation, FlagCombinations) {
  Policy p;
  const Guid ck = Guid::generate();
  ASSERT_TRUE(p.addCallout(coretest::makeCallout(ck, transport())));
  Filter f = base();
  f.flags = filter_flag::kPersistent | filter_flag::kBoottime;
  expectAdd(p, f, status::kInvalidFlags);
  f = base();
  f.flags = filter_flag::kDisabled;
  expectAdd(p, f, status::kInvalidFlags);
  for (ActionType a : {ActionType::Block, ActionType::Permit, ActionType::CalloutInspection}) {
    f = base();
    f.action.type = a;
    f.action.calloutKey = ck;
    f.flags = filter_flag::kPermitIfCalloutUnregistered;
    expectAdd(p, f, status::kInvalidFlags);
  }
  for (ActionType a : {ActionType::CalloutTerminating, ActionType::CalloutUnknown}) {
    f = base();
    f.action.type = a;
    f.action.calloutKey = ck;
    f.flags = filter_flag::kPermitIfCalloutUnregistered;
    expectAdd(p, f, status::kSuccess);
  }
}

TEST(CoreValidation, RejectedFlagBits) {
  Policy p;
  for (uint32_t bit : {filter_flag::kHasSecurityRealmProviderContext,
                       filter_flag::kSystemOsOnly,
                       filter_flag::kGameOsOnly,
                       filter_flag::kSilentMode,
                       filter_flag::kIpsecNoAcquireInitiate,
                       filter_flag::kReserved0,
                       filter_flag::kReserved1,
                       0x4000u,
                       0x00010000u,
                       0x80000000u}) {
    Filter f = base();
    f.flags = bit;
    SCOPED_TRACE(bit);
    expectAdd(p, f, status::kInvalidFlags);
  }
  Filter ok = base();
  ok.flags = filter_flag::kClearActionRight;
  expectAdd(p, ok, status::kSuccess);
}

TEST(CoreValidation, InvalidActionTypes) {
  Policy p;
  for (uint32_t a : {static_cast<uint32_t>(ActionType::Continue),
                     static_cast<uint32_t>(ActionType::None),
                     static_cast<uint32_t>(ActionType::NoneNoMatch),
                     0u,
                     0x1003u,
                     0x1234u}) {
    Filter f = base();
    f.action.type = static_cast<ActionType>(a);
    SCOPED_TRACE(a);
    expectAdd(p, f, status::kInvalidActionType);
  }
}

TEST(CoreValidation, ReservedMustBeNull) {
  Policy p;
  Filter f = base();
  f.reservedSet = true;
  expectAdd(p, f, status::kReserved);
}

TEST(CoreValidation, DuplicateKeys) {
  Policy p;
  Filter f = base();
  f.key = Guid::generate();
  expectAdd(p, f, status::kSuccess);
  const size_t n = p.filters().size();
  auto r = p.addFilter(f);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().status, status::kAlreadyExists);
  EXPECT_EQ(p.filters().size(), n);

  const Guid sk = Guid::generate();
  ASSERT_TRUE(p.addSublayer(coretest::makeSublayer(sk, 1)));
  auto rs = p.addSublayer(coretest::makeSublayer(sk, 2));
  ASSERT_FALSE(rs.has_value());
  EXPECT_EQ(rs.error().status, status::kAlreadyExists);
  EXPECT_EQ(p.sublayer(sk)->weight, 1);
  auto rb = p.addSublayer(coretest::makeSublayer(keys::kSublayerUniversal, 2));
  ASSERT_FALSE(rb.has_value());

  const Guid ck = Guid::generate();
  ASSERT_TRUE(p.addCallout(coretest::makeCallout(ck, transport())));
  auto rc = p.addCallout(coretest::makeCallout(ck, transport()));
  ASSERT_FALSE(rc.has_value());
  EXPECT_EQ(rc.error().status, status::kAlreadyExists);

  Provider prov;
  prov.key = Guid::generate();
  prov.displayData.name = "prov";
  ASSERT_TRUE(p.addProvider(prov));
  auto rp = p.addProvider(prov);
  ASSERT_FALSE(rp.has_value());
  EXPECT_EQ(rp.error().status, status::kAlreadyExists);
}

TEST(CoreValidation, DeleteInUseAndBuiltin) {
  Policy p;
  const Guid sk = Guid::generate();
  ASSERT_TRUE(p.addSublayer(coretest::makeSublayer(sk, 1)));
  Filter f = base();
  f.subLayerKey = sk;
  auto id = p.addFilter(f);
  ASSERT_TRUE(id.has_value());
  auto d = p.deleteSublayer(sk);
  ASSERT_FALSE(d.has_value());
  EXPECT_EQ(d.error().status, status::kInUse);
  EXPECT_NE(p.sublayer(sk), nullptr);
  ASSERT_TRUE(p.deleteFilterById(*id));
  EXPECT_TRUE(p.deleteSublayer(sk).has_value());
  EXPECT_EQ(p.sublayer(sk), nullptr);

  auto b = p.deleteSublayer(keys::kSublayerUniversal);
  ASSERT_FALSE(b.has_value());
  EXPECT_EQ(b.error().status, status::kBuiltinObject);

  const Guid ck = Guid::generate();
  ASSERT_TRUE(p.addCallout(coretest::makeCallout(ck, transport())));
  Filter cf = base();
  cf.action.type = ActionType::CalloutTerminating;
  cf.action.calloutKey = ck;
  ASSERT_TRUE(p.addFilter(cf));
  auto dc = p.deleteCallout(ck);
  ASSERT_FALSE(dc.has_value());
  EXPECT_EQ(dc.error().status, status::kInUse);

  Provider prov;
  prov.key = Guid::generate();
  prov.displayData.name = "prov";
  ASSERT_TRUE(p.addProvider(prov));
  Filter pf = base();
  pf.providerKey = prov.key;
  ASSERT_TRUE(p.addFilter(pf));
  auto dp = p.deleteProvider(prov.key);
  ASSERT_FALSE(dp.has_value());
  EXPECT_EQ(dp.error().status, status::kInUse);

  auto nf = p.deleteFilterById(9999);
  ASSERT_FALSE(nf.has_value());
  EXPECT_EQ(nf.error().status, status::kFilterNotFound);
  auto ns = p.deleteSublayer(Guid::generate());
  ASSERT_FALSE(ns.has_value());
  EXPECT_EQ(ns.error().status, status::kSublayerNotFound);
}

TEST(CoreValidation, LifetimeMismatch) {
  Policy p;
  const Guid sk = Guid::generate();
  ASSERT_TRUE(p.addSublayer(coretest::makeSublayer(sk, 1)));  // static
  Filter f = base();
  f.subLayerKey = sk;
  f.flags = filter_flag::kPersistent;
  expectAdd(p, f, status::kLifetimeMismatch);
  // A persistent filter may reference a built-in sublayer and a persistent one.
  f.subLayerKey = Guid{};
  expectAdd(p, f, status::kSuccess);
  const Guid psk = Guid::generate();
  ASSERT_TRUE(p.addSublayer(coretest::makeSublayer(psk, 2, kSublayerFlagPersistent)));
  f.subLayerKey = psk;
  expectAdd(p, f, status::kSuccess);
  // A persistent filter may not reference a static callout.
  const Guid ck = Guid::generate();
  ASSERT_TRUE(p.addCallout(coretest::makeCallout(ck, transport())));
  Filter cf = base();
  cf.flags = filter_flag::kPersistent;
  cf.action.type = ActionType::CalloutTerminating;
  cf.action.calloutKey = ck;
  expectAdd(p, cf, status::kLifetimeMismatch);
}

TEST(CoreValidation, RejectedAddLeavesPolicyUnchanged) {
  Policy p;
  ASSERT_TRUE(p.addFilter(base()));
  const auto orderBefore = p.arbitrationOrder(transport().id).size();
  Filter bad = base();
  bad.key = Guid::generate();
  bad.conditions = {cond("IP_PROTOCOL", MatchType::Equal, Value::uint8(6)),
                    cond("IP_LOCAL_PORT", MatchType::Equal, Value::uint32(6))};
  expectAdd(p, bad, status::kTypeMismatch);
  EXPECT_EQ(p.arbitrationOrder(transport().id).size(), orderBefore);
  EXPECT_EQ(p.filters().size(), 1u);
}

}  // namespace
}  // namespace xfp
