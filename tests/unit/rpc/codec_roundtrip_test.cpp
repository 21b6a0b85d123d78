// Round trips through the wire (toProto, serialize, parse, fromProto) of every value type, every
// condition value form, every object and engine type, and of the whole example policy, filter by
// filter: what the core holds comes back exactly.
#include <bit>
#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "tests/harness/test_env.h"
#include "tests/unit/rpc/codec_test_util.h"
#include "userspace/core/policy_file.h"

namespace xfp::rpc {
namespace {

using namespace xfp::rpc::testing;  // NOLINT(google-build-using-namespace)

const Guid kA = g("11111111-2222-3333-4444-555555555555");
const Guid kB = g("{a1b2c3d4-0001-4000-8000-000000000001}");
const Guid kC = g("ffffffff-ffff-ffff-ffff-fffffffffffe");

std::array<uint8_t, 16> bytes16(uint8_t start) {
  std::array<uint8_t, 16> a{};
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = static_cast<uint8_t>(start + i);
  }
  return a;
}

// One value of every type a Value can hold, with the edge values of each.
std::vector<Value> everyValue() {
  return {
      Value(),
      Value::uint8(0),
      Value::uint8(255),
      Value::uint16(0xFFFF),
      Value::uint32(0xFFFFFFFF),
      Value::uint64(std::numeric_limits<uint64_t>::max()),
      Value::int8(-128),
      Value::int8(127),
      Value::int16(-32768),
      Value::int32(std::numeric_limits<int32_t>::min()),
      Value::int64(std::numeric_limits<int64_t>::min()),
      Value::int64(std::numeric_limits<int64_t>::max()),
      Value::float32(1.5F),
      Value::float32(-0.0F),
      Value::float32(FLT_MAX),
      Value::float32(-FLT_MAX),
      Value::float32(std::numeric_limits<float>::denorm_min()),
      Value::float32(std::numeric_limits<float>::infinity()),
      Value::float64(-0.0),
      Value::float64(DBL_MAX),
      Value::float64(std::numeric_limits<double>::denorm_min()),
      Value::float64(-std::numeric_limits<double>::infinity()),
      Value::byteArray16(bytes16(0)),
      Value::byteArray16(bytes16(0xF0)),
      Value::byteArray6({0x02, 0x00, 0x5e, 0x10, 0x00, 0xff}),
      Value::byteBlob({}),
      Value::byteBlob({0x00, 0x01, 0x00, 0xff}),
      Value::sid({1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 32, 2, 0, 0}),
      Value::securityDescriptor({1, 0, 4, 0x80, 0, 0, 0, 0}),
      Value::unicodeString(u""),
      Value::unicodeString(u"/usr/bin/ssh"),
      Value::unicodeString(u"caf\u00e9 \u4e2d\u6587"),
      Value::unicodeString(u"astral \U0001F600 end"),
      Value::unicodeString(std::u16string(u"nul\0inside", 10)),
      Value::unicodeString(std::u16string{u'a', static_cast<char16_t>(0xD800), u'b'}),  // lone high
      Value::unicodeString(std::u16string{static_cast<char16_t>(0xDC00)}),              // lone low
      Value::unicodeString(  // a pair the wrong way round
          std::u16string{static_cast<char16_t>(0xDC00), static_cast<char16_t>(0xD800)}),
      Value::unicodeString(std::u16string{static_cast<char16_t>(0xD83D)}),  // cut-off pair
      Value::token(Token{}),
      Value::token(Token{1000, {1000, 27, 0xFFFFFFFF}}),
  };
}

TEST(RpcCodecRoundTrip, EveryValueType) {
  for (const Value& v : everyValue()) {
    EXPECT_EQ(roundTrip(v), v) << dataTypeName(v.type()) << " " << v.toString();
  }
}

// NaN compares unequal to itself, so its round trip is checked by bits.
TEST(RpcCodecRoundTrip, NotANumber) {
  const Value f = roundTrip(Value::float32(std::numeric_limits<float>::quiet_NaN()));
  ASSERT_EQ(f.type(), DataType::Float);
  EXPECT_EQ(std::bit_cast<uint32_t>(static_cast<float>(f.asDouble())),
            std::bit_cast<uint32_t>(std::numeric_limits<float>::quiet_NaN()));
  const double nan = std::bit_cast<double>(uint64_t{0x7FF8000000000123});  // with a payload
  const Value d = roundTrip(Value::float64(nan));
  ASSERT_EQ(d.type(), DataType::Double);
  EXPECT_EQ(std::bit_cast<uint64_t>(d.asDouble()), std::bit_cast<uint64_t>(nan));
}

// Well-formed strings travel in `s` as UTF-8; only the ones UTF-8 cannot carry use `b`.
TEST(RpcCodecRoundTrip, UnicodeStringMembers) {
  const v1::Value ok = toProto(Value::unicodeString(u"x\U0001F600"));
  EXPECT_EQ(ok.s(), "x\xF0\x9F\x98\x80");
  EXPECT_TRUE(ok.b().empty());
  const v1::Value lone = toProto(Value::unicodeString(std::u16string{u'x', char16_t{0xD800}}));
  EXPECT_TRUE(lone.s().empty());
  EXPECT_EQ(lone.b(), std::string("x\0\x00\xD8", 4));
}

TEST(RpcCodecRoundTrip, ConditionValues) {
  std::vector<ConditionValue> all;
  for (const Value& v : everyValue()) {
    all.emplace_back(v);
  }
  for (const V4AddrMask m :
       {V4AddrMask{0, 0},
        V4AddrMask{0x0A630000, 0xFFFF0000},
        V4AddrMask{0xFFFFFFFF, 0xFFFFFFFF},
        V4AddrMask{0x01020304, 0x00FF00FF}}) {  // not contiguous: Policy's call
    all.emplace_back(m);
  }
  for (const uint8_t prefix : {0, 1, 64, 127, 128}) {
    all.emplace_back(V6AddrMask{bytes16(0xFD), prefix});
  }
  // A range of each sortable type, plus mixed and empty ends (held by the core; Policy refuses).
  const std::vector<RangeValue> ranges = {
      {Value::uint8(1), Value::uint8(200)},
      {Value::uint16(1000), Value::uint16(2000)},
      {Value::uint32(0), Value::uint32(0xFFFFFFFF)},
      {Value::uint64(5), Value::uint64(std::numeric_limits<uint64_t>::max())},
      {Value::int8(-5), Value::int8(5)},
      {Value::int16(-300), Value::int16(300)},
      {Value::int32(-70000), Value::int32(70000)},
      {Value::int64(std::numeric_limits<int64_t>::min()), Value::int64(0)},
      {Value::float32(-1.25F), Value::float32(3.5F)},
      {Value::float64(-1e300), Value::float64(1e300)},
      {Value::byteArray16(bytes16(0)), Value::byteArray16(bytes16(1))},
      {Value::byteArray6({0, 0, 0, 0, 0, 0}),
       Value::byteArray6({0xff, 0xff, 0xff, 0xff, 0xff, 0xff})},
      {Value::byteBlob({1}), Value::byteBlob({2, 3})},
      {Value::unicodeString(u"a"), Value::unicodeString(u"z")},
      {Value::uint8(1), Value::uint16(2)},
      {Value(), Value()},
  };
  for (const RangeValue& r : ranges) {
    all.emplace_back(r);
  }
  for (const ConditionValue& cv : all) {
    EXPECT_EQ(roundTrip(cv), cv) << dataTypeName(cv.type()) << " " << cv.toString();
  }
  // The plain empty value and an unset oneof are the same FWP_EMPTY.
  auto unset = fromProto(v1::ConditionValue{});
  ASSERT_TRUE(unset.has_value());
  EXPECT_EQ(*unset, ConditionValue());
}

TEST(RpcCodecRoundTrip, ConditionsOfEveryMatchType) {
  for (uint32_t mt = 0; mt < kMatchTypeMax; ++mt) {
    const Condition c{kA, static_cast<MatchType>(mt), Value::uint16(static_cast<uint16_t>(mt))};
    expectSame(c, roundTrip(c), "match type " + std::to_string(mt));
  }
}

TEST(RpcCodecRoundTrip, ActionsOfEveryType) {
  for (ActionType t : {ActionType::Block,
                       ActionType::Permit,
                       ActionType::CalloutTerminating,
                       ActionType::CalloutInspection,
                       ActionType::CalloutUnknown,
                       ActionType::Continue,
                       ActionType::None,
                       ActionType::NoneNoMatch}) {
    const Action a{t, kA, kB};
    expectSame(a, roundTrip(a), std::string(actionTypeName(t)));
  }
}

TEST(RpcCodecRoundTrip, DisplayDataAndOrigins) {
  for (const DisplayData& d : {DisplayData{std::nullopt, ""},
                               DisplayData{"", ""},
                               DisplayData{"name", "a description \xE2\x9C\x93"},
                               DisplayData{std::nullopt, "description only"}}) {
    expectSame(d, roundTrip(d), "display data");
  }
  for (uint32_t l = 0; l <= 3; ++l) {
    const ObjectOrigin o{static_cast<Lifetime>(l), 0xFFFFFFFFFFFFFFF0ULL + l};
    expectSame(o, roundTrip(o), "origin");
  }
}

// Names that are not UTF-8 cannot go into a proto3 string: each bad byte is sent as U+FFFD.
TEST(RpcCodecRoundTrip, InvalidUtf8TextIsSentWithReplacementCharacters) {
  const DisplayData d{std::string("ab\xFF"
                                  "c\xC3"),
                      "ok"};
  const v1::DisplayData m = toProto(d);
  EXPECT_EQ(m.name(),
            "ab\xEF\xBF\xBD"
            "c\xEF\xBF\xBD");
  EXPECT_EQ(m.description(), "ok");
  EXPECT_TRUE(fromProto(m).has_value());
}

Provider richProvider() {
  Provider p;
  p.key = kA;
  p.displayData = {"Example Corp", "owner"};
  p.flags = kProviderFlagPersistent | kProviderFlagDisabled;
  p.providerData = {0, 1, 2, 0xff};
  p.serviceName = "xfp-example.service";
  p.origin = {Lifetime::Persistent, 0};
  return p;
}

TEST(RpcCodecRoundTrip, Providers) {
  expectSame(richProvider(), roundTrip(richProvider()));
  expectSame(Provider{}, roundTrip(Provider{}));
}

TEST(RpcCodecRoundTrip, ProviderContexts) {
  ProviderContext c;
  c.key = kB;
  c.displayData = {"ctx", ""};
  c.flags = kProviderContextFlagPersistent;
  c.providerData = {9};
  c.type = kGeneralContext;
  c.dataBuffer = {1, 2, 3, 4, 5};
  c.providerContextId = 77;
  c.origin = {Lifetime::Dynamic, 12};
  expectSame(c, roundTrip(c));  // no provider key
  c.providerKey = kA;
  expectSame(c, roundTrip(c));
  c.providerKey = Guid{};  // a zero provider key is still a key, distinct from none
  expectSame(c, roundTrip(c));
  c.type = 3;  // held by the core; Policy refuses
  expectSame(c, roundTrip(c));
}

TEST(RpcCodecRoundTrip, Sublayers) {
  Sublayer s;
  s.key = kC;
  s.displayData = {"sub", "d"};
  s.flags = kSublayerFlagPersistent;
  s.providerKey = kA;
  s.providerData = {7, 7};
  s.origin = {Lifetime::BuiltIn, 0};
  for (const uint16_t w : {0, 1, 0x8000, 0xFFFF}) {
    s.weight = w;
    expectSame(s, roundTrip(s));
  }
  s.providerKey.reset();
  expectSame(s, roundTrip(s));
}

TEST(RpcCodecRoundTrip, Callouts) {
  Callout c;
  c.key = kB;
  c.displayData = {"inspector", ""};
  c.flags = kCalloutFlagPersistent | kCalloutFlagRegistered;
  c.providerKey = kA;
  c.providerData = {1};
  c.applicableLayer = kC;
  c.calloutId = 0xFFFFFFFF;
  c.origin = {Lifetime::Static, 0};
  expectSame(c, roundTrip(c));
  c.providerKey.reset();
  expectSame(c, roundTrip(c));
}

Filter richFilter() {
  Filter f;
  f.key = kA;
  f.displayData = {"everything", "all fields set"};
  f.flags = filter_flag::kHasProviderContext | filter_flag::kClearActionRight;
  f.providerKey = kB;
  f.providerData = {0xde, 0xad};
  f.layerKey = kC;
  f.subLayerKey = kB;
  f.weight = Value::uint64(0x0123456789ABCDEFULL);
  f.conditions = {
      {kA, MatchType::Equal, Value::uint8(6)},
      {kB, MatchType::Range, RangeValue{Value::uint16(10000), Value::uint16(20000)}},
      {kC, MatchType::Equal, V4AddrMask{0x0A630000, 0xFFFF0000}},
      {kC, MatchType::Equal, V6AddrMask{bytes16(0xFD), 64}},
      {kA, MatchType::NotPrefix, Value::unicodeString(u".exe")},
      {kB, MatchType::Equal, Value::securityDescriptor({1, 0, 4, 0x80})},
  };
  f.action = {ActionType::CalloutTerminating, kB, kC};
  f.rawContext = 0xFEEDFACECAFEBEEFULL;
  f.providerContextKey = kC;
  f.reservedSet = true;
  f.filterId = 123456789012ULL;
  f.effectiveWeight = 0xF000000000000001ULL;
  f.origin = {Lifetime::Dynamic, 42};
  return f;
}

TEST(RpcCodecRoundTrip, Filters) {
  Filter f = richFilter();
  expectSame(f, roundTrip(f));
  // Weights: automatic (FWP_EMPTY), a range index (FWP_UINT8), explicit (FWP_UINT64).
  for (const Value& w : {Value(), Value::uint8(0), Value::uint8(15), Value::uint64(0)}) {
    f.weight = w;
    const Filter back = roundTrip(f);
    EXPECT_EQ(back.weight, w);
    EXPECT_EQ(back.weight.type(), w.type());
  }
  f.providerKey.reset();
  f.conditions.clear();
  expectSame(f, roundTrip(f));
  expectSame(Filter{}, roundTrip(Filter{}));
}

TEST(RpcCodecRoundTrip, EnumTemplatesAndSubscriptions) {
  engine::FilterEnumTemplate t;
  t.layerKey = kC;
  expectSame(t, roundTrip(t));  // minimal: every optional absent, action mask "any"
  t.providerKey = kA;
  t.enumType = engine::FilterEnumType::Overlapping;
  t.flags = engine::filter_enum_flag::kSorted | engine::filter_enum_flag::kIncludeDisabled;
  t.providerContextTemplate = engine::ProviderContextTemplate{kB, kGeneralContext};
  t.filterConditions = {{kA, MatchType::Equal, Value::uint16(22)},
                        {kB, MatchType::Equal, Value::byteArray16(bytes16(3))}};
  t.actionMask = kActionFlagCallout;
  t.calloutKey = kB;
  expectSame(t, roundTrip(t));
  t.providerContextTemplate = engine::ProviderContextTemplate{std::nullopt, 0};
  expectSame(t, roundTrip(t));
  t.actionMask = 0;
  expectSame(t, roundTrip(t));

  for (const engine::SublayerEnumTemplate& s :
       {engine::SublayerEnumTemplate{}, engine::SublayerEnumTemplate{kA}}) {
    EXPECT_EQ(roundTrip(s).providerKey, s.providerKey);
  }
  for (const engine::CalloutEnumTemplate& c : {engine::CalloutEnumTemplate{},
                                               engine::CalloutEnumTemplate{kA, std::nullopt},
                                               engine::CalloutEnumTemplate{std::nullopt, kB},
                                               engine::CalloutEnumTemplate{kA, kB}}) {
    const engine::CalloutEnumTemplate back = roundTrip(c);
    EXPECT_EQ(back.providerKey, c.providerKey);
    EXPECT_EQ(back.layerKey, c.layerKey);
  }

  engine::FilterSubscription sub;
  engine::FilterSubscription back = roundTrip(sub);
  EXPECT_FALSE(back.enumTemplate.has_value());
  EXPECT_EQ(back.flags, sub.flags);
  sub.enumTemplate = t;
  sub.flags = engine::kSubscriptionFlagNotifyOnDelete;
  back = roundTrip(sub);
  ASSERT_TRUE(back.enumTemplate.has_value());
  expectSame(*sub.enumTemplate, *back.enumTemplate);
  EXPECT_EQ(back.flags, sub.flags);
  sub.flags = 0;
  EXPECT_EQ(roundTrip(sub).flags, 0U);
}

TEST(RpcCodecRoundTrip, SessionOptionsAndInfo) {
  engine::SessionOptions o;
  o.sessionKey = kA;
  o.displayData = {"xfpctl", "online"};
  o.flags = engine::kSessionFlagDynamic;
  o.txnWaitTimeoutInMSec = engine::kTxnWaitInfinite;
  o.processId = 4242;  // the daemon's to fill from the peer: not sent
  o.uid = 1000;
  o.username = "alice";
  const engine::SessionOptions back = roundTrip(o);
  EXPECT_EQ(back.sessionKey, o.sessionKey);
  expectSame(back.displayData, o.displayData, "session");
  EXPECT_EQ(back.flags, o.flags);
  EXPECT_EQ(back.txnWaitTimeoutInMSec, o.txnWaitTimeoutInMSec);
  EXPECT_EQ(back.processId, 0U);
  EXPECT_EQ(back.uid, 0U);
  EXPECT_EQ(back.username, "");
  // A client that leaves the key unset asks for a generated one.
  v1::SessionOptions unset;
  auto generated = fromProto(unset);
  ASSERT_TRUE(generated.has_value());
  EXPECT_TRUE(generated->sessionKey.isZero());

  for (const bool dynamic : {false, true}) {
    for (const int txn : {0, 1, 2}) {  // none, read/write, read-only
      engine::SessionInfo info;
      info.id = 0xFFFFFFFFFFFFFFFEULL;
      info.options = o;
      info.options.flags = dynamic ? engine::kSessionFlagDynamic : 0;
      info.dynamic = dynamic;
      info.inTransaction = txn != 0;
      info.readOnlyTransaction = txn == 2;
      const engine::SessionInfo i2 = roundTrip(info);
      EXPECT_EQ(i2.id, info.id);
      EXPECT_EQ(i2.options.sessionKey, info.options.sessionKey);
      expectSame(i2.options.displayData, info.options.displayData, "session info");
      EXPECT_EQ(i2.options.flags, info.options.flags);
      EXPECT_EQ(i2.options.txnWaitTimeoutInMSec, info.options.txnWaitTimeoutInMSec);
      EXPECT_EQ(i2.options.processId, 4242U);
      EXPECT_EQ(i2.options.uid, 1000U);
      EXPECT_EQ(i2.options.username, "alice");
      EXPECT_EQ(i2.dynamic, info.dynamic);
      EXPECT_EQ(i2.inTransaction, info.inTransaction);
      EXPECT_EQ(i2.readOnlyTransaction, info.readOnlyTransaction);
    }
  }
}

TEST(RpcCodecRoundTrip, GuidBytes) {
  // Wire order, as FWPM structures hold GUIDs: the first three groups little-endian.
  const Guid k = g("00112233-4455-6677-8899-aabbccddeeff");
  EXPECT_EQ(guidToBytes(k),
            std::string("\x33\x22\x11\x00\x55\x44\x77\x66\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 16));
  auto back = guidFromBytes(guidToBytes(k));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, k);
  // proto3's unset bytes: the zero GUID.
  back = guidFromBytes("");
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(back->isZero());
}

// Every object of the example policy (built-ins included) comes back field for field.
TEST(RpcCodecRoundTrip, ExamplePolicy) {
  auto policy = loadPolicyFile(xfp::test::sourceDir() + "/examples/policy.json");
  ASSERT_TRUE(policy.has_value()) << policy.error().message;
  ASSERT_FALSE(policy->filters().empty());
  size_t conditions = 0;
  for (const auto& [id, f] : policy->filters()) {
    const Filter back = roundTrip(f);
    expectSame(f, back);
    EXPECT_EQ(back.filterId, id);
    conditions += f.conditions.size();
    if (!f.providerContextKey.isZero()) {
      const ProviderContext* c = policy->providerContext(f.providerContextKey);
      ASSERT_NE(c, nullptr);
      expectSame(*c, roundTrip(*c));
    }
  }
  EXPECT_GT(conditions, 10U);
  for (const auto& [key, s] : policy->sublayers()) {
    expectSame(s, roundTrip(s));
  }
  for (const auto& [key, p] : policy->providers()) {
    expectSame(p, roundTrip(p));
  }
  for (const auto& [key, c] : policy->callouts()) {
    expectSame(c, roundTrip(c));
  }
}

}  // namespace
}  // namespace xfp::rpc
