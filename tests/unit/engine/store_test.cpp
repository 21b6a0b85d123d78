// The persistent store of xfpd: every object kind and field survives a save/load round trip with
// its ids, only persistent objects are stored, and a damaged store.json is reported (path and
// what is wrong) with the previous good state loaded instead.
#include "userspace/engine/store.h"

#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "userspace/core/layers.h"
#include "userspace/core/value_text.h"

namespace xfp::engine {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const Guid kProviderP = Guid::fromText("a0000000-0000-4000-8000-000000000001");
const Guid kProviderQ = Guid::fromText("a0000000-0000-4000-8000-000000000002");
const Guid kContext1 = Guid::fromText("c0000000-0000-4000-8000-000000000001");
const Guid kContext2 = Guid::fromText("c0000000-0000-4000-8000-000000000002");
const Guid kContextGone = Guid::fromText("c0000000-0000-4000-8000-000000000003");
const Guid kSublayerS = Guid::fromText("50000000-0000-4000-8000-000000000001");
const Guid kSublayerT = Guid::fromText("50000000-0000-4000-8000-000000000002");
const Guid kCalloutC = Guid::fromText("ca000000-0000-4000-8000-000000000001");
const Guid kCalloutD = Guid::fromText("ca000000-0000-4000-8000-000000000002");
const Guid kFilterType = Guid::fromText("f7000000-0000-4000-8000-0000000000ff");

const LayerInfo& layer(std::string_view name) {
  const LayerInfo* l = layerByName(name);
  EXPECT_NE(l, nullptr) << name;
  return *l;
}

Condition cond(const LayerInfo& l, std::string_view field, MatchType m, std::string_view text) {
  const FieldInfo* f = l.fieldByName(field);
  EXPECT_NE(f, nullptr) << field;
  auto v = parseConditionText(*f, text);
  EXPECT_TRUE(v.has_value()) << field << " " << text << ": "
                             << (v ? std::string() : v.error().message);
  return Condition{f->conditionKey, m, *v};
}

Filter filter(const std::string& name,
              const LayerInfo& l,
              const Guid& sublayer,
              WeightValue weight,
              ActionType action,
              uint32_t flags) {
  Filter f;
  f.key = Guid::generate();
  f.displayData.name = name;
  f.displayData.description = "description of " + name;
  f.layerKey = l.key;
  f.subLayerKey = sublayer;
  f.weight = std::move(weight);
  f.action.type = action;
  f.flags = flags;
  return f;
}

// A policy with every object kind in every lifetime, every weight form, every condition value
// form a policy accepts, and holes in every id sequence.
struct Fixture {
  Policy policy;
  std::vector<uint64_t> persistentFilterIds;
  std::vector<uint64_t> otherFilterIds;
};

void build(Fixture& fx) {
  Policy& p = fx.policy;
  const LayerInfo& connect = layer("ALE_AUTH_CONNECT_V4");
  const LayerInfo& in6 = layer("INBOUND_TRANSPORT_V6");
  const LayerInfo& mac = layer("INBOUND_MAC_FRAME_ETHERNET");

  Provider pp;
  pp.key = kProviderP;
  pp.displayData = {"provider P", "the persistent provider"};
  pp.flags = kProviderFlagPersistent;
  pp.providerData = {1, 2, 3};
  pp.serviceName = "xfp-test.service";
  ASSERT_TRUE(p.addProvider(pp));
  Provider pq;
  pq.key = kProviderQ;
  pq.displayData.name = "provider Q (static)";
  ASSERT_TRUE(p.addProvider(pq));

  ProviderContext gone;  // id 1, deleted: a hole
  gone.key = kContextGone;
  gone.displayData.name = "deleted context";
  gone.flags = kProviderContextFlagPersistent;
  ASSERT_TRUE(p.addProviderContext(gone));
  ASSERT_TRUE(p.deleteProviderContext(kContextGone));
  ProviderContext c2;  // id 2, static
  c2.key = kContext2;
  c2.displayData.name = "static context";
  ASSERT_TRUE(p.addProviderContext(c2));
  ProviderContext c1;  // id 3, persistent
  c1.key = kContext1;
  c1.displayData = {"context 1", "persistent context"};
  c1.flags = kProviderContextFlagPersistent;
  c1.providerKey = kProviderP;
  c1.providerData = {0xAA};
  c1.dataBuffer = {0xde, 0xad, 0xbe, 0xef, 0x00};
  ASSERT_TRUE(p.addProviderContext(c1));

  Sublayer s;
  s.key = kSublayerS;
  s.displayData = {"sublayer S", "persistent"};
  s.flags = kSublayerFlagPersistent;
  s.providerKey = kProviderP;
  s.providerData = {9};
  s.weight = 0x1234;
  ASSERT_TRUE(p.addSublayer(s));
  Sublayer t;
  t.key = kSublayerT;
  t.displayData.name = "sublayer T (static)";
  t.weight = 7;
  ASSERT_TRUE(p.addSublayer(t));

  (void)p.calloutIdForKey(Guid::generate());  // a run-time registration: callout id 1
  Callout cd;                                 // id 2, static
  cd.key = kCalloutD;
  cd.displayData.name = "callout D (static)";
  cd.applicableLayer = connect.key;
  ASSERT_TRUE(p.addCallout(cd));
  Callout cc;  // id 3, persistent
  cc.key = kCalloutC;
  cc.displayData = {"callout C", "persistent callout"};
  cc.flags = kCalloutFlagPersistent | kCalloutFlagUsesProviderContext;
  cc.providerKey = kProviderP;
  cc.providerData = {7, 7};
  cc.applicableLayer = connect.key;
  ASSERT_TRUE(p.addCallout(cc));

  const auto add = [&](Filter f, bool persistent) {
    auto id = p.addFilter(std::move(f));
    ASSERT_TRUE(id) << id.error().message;
    (persistent ? fx.persistentFilterIds : fx.otherFilterIds).push_back(*id);
  };
  Filter f1 = filter("f1 block",
                     connect,
                     kSublayerS,
                     Value::uint64(0x0123456789abcdefULL),
                     ActionType::Block,
                     filter_flag::kPersistent | filter_flag::kClearActionRight);
  f1.providerKey = kProviderP;
  f1.providerData = {0x10, 0x20};
  f1.action.filterType = kFilterType;
  f1.rawContext = 0xfeedface12345678ULL;
  f1.conditions = {
      cond(connect, "ALE_APP_ID", MatchType::Equal, "/usr/bin/curl"),
      cond(connect, "ALE_USER_ID", MatchType::Equal, "uid=1000"),
      cond(connect, "IP_REMOTE_ADDRESS", MatchType::Equal, "10.0.0.0/8"),
      cond(connect, "IP_REMOTE_ADDRESS", MatchType::Equal, "192.168.1.1"),
      cond(connect, "IP_REMOTE_PORT", MatchType::Range, "1000..2000"),
      cond(connect, "IP_PROTOCOL", MatchType::Equal, "tcp"),
      cond(connect, "FLAGS", MatchType::FlagsNoneSet, "0x1"),
      cond(connect, "IP_LOCAL_INTERFACE", MatchType::NotEqual, "5"),
  };
  add(std::move(f1), true);

  Filter gone1 =
      filter("deleted", connect, kSublayerS, Value(), ActionType::Permit, filter_flag::kPersistent);
  gone1.providerKey = kProviderP;
  auto goneId = p.addFilter(std::move(gone1));
  ASSERT_TRUE(goneId);
  ASSERT_TRUE(p.deleteFilterById(*goneId));  // a hole in the filter ids

  add(filter("static in S", connect, kSublayerS, Value::uint8(3), ActionType::Permit, 0), false);

  Filter f2 = filter("f2 callout",
                     connect,
                     kSublayerS,
                     Value::uint8(7),
                     ActionType::CalloutTerminating,
                     filter_flag::kPersistent | filter_flag::kHasProviderContext |
                         filter_flag::kPermitIfCalloutUnregistered);
  f2.providerKey = kProviderP;
  f2.action.calloutKey = kCalloutC;
  f2.providerContextKey = kContext1;
  f2.conditions = {cond(connect, "IP_REMOTE_PORT", MatchType::GreaterOrEqual, "1024")};
  add(std::move(f2), true);

  Filter f3 = filter(
      "f3 v6 auto weight", in6, Guid(), Value(), ActionType::Permit, filter_flag::kPersistent);
  f3.conditions = {
      cond(in6, "IP_REMOTE_ADDRESS", MatchType::Equal, "fd00::/64"),
      cond(in6, "IP_LOCAL_ADDRESS", MatchType::Equal, "fd00::1"),
      cond(in6, "IP_LOCAL_PORT", MatchType::Less, "80"),
  };
  add(std::move(f3), true);

  Filter f4 =
      filter("f4 mac", mac, Guid(), Value::uint64(5), ActionType::Block, filter_flag::kPersistent);
  f4.displayData.name = "f4 \"mac\" é ✓";  // quoting and UTF-8 in names
  f4.conditions = {cond(mac, "MAC_REMOTE_ADDRESS", MatchType::Equal, "02:00:00:00:00:01"),
                   cond(mac, "ETHER_TYPE", MatchType::Equal, "0x86dd")};
  add(std::move(f4), true);

  add(filter("static in T", connect, kSublayerT, Value(), ActionType::Block, 0), false);
  Filter dyn = filter("dynamic", connect, kSublayerT, Value(), ActionType::Block, 0);
  dyn.origin.lifetime = Lifetime::Dynamic;
  dyn.origin.sessionId = 42;
  add(std::move(dyn), false);
  Filter boot =
      filter("boottime", connect, Guid(), Value(), ActionType::Block, filter_flag::kBoottime);
  add(std::move(boot), false);
}

void expectSame(const DisplayData& a, const DisplayData& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
}

void expectSame(const Provider& a, const Provider& b) {
  SCOPED_TRACE("provider " + a.key.toString());
  EXPECT_EQ(a.key, b.key);
  expectSame(a.displayData, b.displayData);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.providerData, b.providerData);
  EXPECT_EQ(a.serviceName, b.serviceName);
  EXPECT_EQ(b.origin.lifetime, Lifetime::Persistent);
}

void expectSame(const ProviderContext& a, const ProviderContext& b) {
  SCOPED_TRACE("provider context " + a.key.toString());
  EXPECT_EQ(a.key, b.key);
  expectSame(a.displayData, b.displayData);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.providerKey, b.providerKey);
  EXPECT_EQ(a.providerData, b.providerData);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.dataBuffer, b.dataBuffer);
  EXPECT_EQ(a.providerContextId, b.providerContextId);
  EXPECT_EQ(b.origin.lifetime, Lifetime::Persistent);
}

void expectSame(const Sublayer& a, const Sublayer& b) {
  SCOPED_TRACE("sublayer " + a.key.toString());
  EXPECT_EQ(a.key, b.key);
  expectSame(a.displayData, b.displayData);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.providerKey, b.providerKey);
  EXPECT_EQ(a.providerData, b.providerData);
  EXPECT_EQ(a.weight, b.weight);
  EXPECT_EQ(b.origin.lifetime, Lifetime::Persistent);
}

void expectSame(const Callout& a, const Callout& b) {
  SCOPED_TRACE("callout " + a.key.toString());
  EXPECT_EQ(a.key, b.key);
  expectSame(a.displayData, b.displayData);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.providerKey, b.providerKey);
  EXPECT_EQ(a.providerData, b.providerData);
  EXPECT_EQ(a.applicableLayer, b.applicableLayer);
  EXPECT_EQ(a.calloutId, b.calloutId);
  EXPECT_EQ(b.origin.lifetime, Lifetime::Persistent);
}

void expectSame(const Filter& a, const Filter& b) {
  SCOPED_TRACE("filter " + std::to_string(a.filterId) + " " + a.displayData.name.value_or(""));
  EXPECT_EQ(a.key, b.key);
  expectSame(a.displayData, b.displayData);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.providerKey, b.providerKey);
  EXPECT_EQ(a.providerData, b.providerData);
  EXPECT_EQ(a.layerKey, b.layerKey);
  EXPECT_EQ(a.subLayerKey, b.subLayerKey);
  EXPECT_EQ(a.weight, b.weight);
  ASSERT_EQ(a.conditions.size(), b.conditions.size());
  for (size_t i = 0; i < a.conditions.size(); ++i) {
    EXPECT_EQ(a.conditions[i].fieldKey, b.conditions[i].fieldKey) << i;
    EXPECT_EQ(a.conditions[i].matchType, b.conditions[i].matchType) << i;
    EXPECT_EQ(a.conditions[i].value, b.conditions[i].value) << i;
  }
  EXPECT_EQ(a.action.type, b.action.type);
  EXPECT_EQ(a.action.filterType, b.action.filterType);
  EXPECT_EQ(a.action.calloutKey, b.action.calloutKey);
  EXPECT_EQ(a.rawContext, b.rawContext);
  EXPECT_EQ(a.providerContextKey, b.providerContextKey);
  EXPECT_EQ(a.reservedSet, b.reservedSet);
  EXPECT_EQ(a.filterId, b.filterId);
  EXPECT_EQ(a.effectiveWeight, b.effectiveWeight);
  EXPECT_EQ(b.origin.lifetime, Lifetime::Persistent);
  EXPECT_EQ(b.origin.sessionId, 0u);
}

// Every persistent object of `original` is in `loaded`, equal field by field; nothing else is.
void expectPersistentEqual(const Policy& original, const Policy& loaded) {
  size_t n = 0;
  for (const auto& [key, p] : original.providers()) {
    if (p.origin.lifetime == Lifetime::Persistent) {
      ASSERT_NE(loaded.provider(key), nullptr) << key.toString();
      expectSame(p, *loaded.provider(key));
      ++n;
    }
  }
  EXPECT_EQ(loaded.providers().size(), n);
  n = 0;
  for (const auto& [key, s] : original.sublayers()) {
    if (s.origin.lifetime == Lifetime::Persistent) {
      ASSERT_NE(loaded.sublayer(key), nullptr) << key.toString();
      expectSame(s, *loaded.sublayer(key));
      ++n;
    }
  }
  EXPECT_EQ(loaded.sublayers().size(), n + builtinSublayers().size());
  n = 0;
  for (const auto& [key, c] : original.callouts()) {
    if (c.origin.lifetime == Lifetime::Persistent) {
      ASSERT_NE(loaded.callout(key), nullptr) << key.toString();
      expectSame(c, *loaded.callout(key));
      ++n;
    }
  }
  EXPECT_EQ(loaded.callouts().size(), n);
  n = 0;
  for (const auto& [id, f] : original.filters()) {
    if (f.origin.lifetime == Lifetime::Persistent) {
      ASSERT_NE(loaded.filterById(id), nullptr) << id;
      expectSame(f, *loaded.filterById(id));
      ++n;
    }
  }
  EXPECT_EQ(loaded.filters().size(), n);
  EXPECT_EQ(loaded.nextFilterId(), original.nextFilterId());
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::path(::testing::TempDir()) / "xfp_store_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = fs::path(tmpl) / "state";  // not created: save() creates it
    store_ = engine::Store(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_.parent_path(), ec);
  }

  static std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  static void write(const fs::path& p, const std::string& bytes) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  // A store file holding `payload` with a correct checksum (for format and content errors).
  static std::string envelope(const std::string& payload, int version = kStoreFormatVersion) {
    std::string out = R"({"xfp_store":)" + std::to_string(version) + R"(,"payload":)" + payload;
    char crc[9];
    std::snprintf(crc, sizeof crc, "%08x", crc32c(out));
    return out + R"(,"crc32c":")" + crc + "\"}\n";
  }
  // Rewrites store.json's payload through `edit`, with a valid checksum.
  void editPayload(const std::function<void(json&)>& edit) {
    const std::string bytes = read(store_.currentPath());
    json root = json::parse(bytes);
    edit(root["payload"]);
    write(store_.currentPath(), envelope(root["payload"].dump()));
  }

  // Two committed states: A (one persistent filter) in store.prev.json, B (two) in store.json.
  void saveAThenB() {
    const LayerInfo& l = layer("INBOUND_TRANSPORT_V4");
    ASSERT_TRUE(
        a_.addFilter(filter("a", l, Guid(), Value(), ActionType::Block, filter_flag::kPersistent)));
    ASSERT_TRUE(store_.save(a_));
    ASSERT_TRUE(b_.addFilter(
        filter("b1", l, Guid(), Value(), ActionType::Block, filter_flag::kPersistent)));
    ASSERT_TRUE(b_.addFilter(
        filter("b2", l, Guid(), Value(), ActionType::Permit, filter_flag::kPersistent)));
    ASSERT_TRUE(store_.save(b_));
    ASSERT_TRUE(fs::exists(store_.previousPath()));
  }

  // store.json is damaged by `damage`: the load reports it and falls back to A.
  void expectFallbackToA(const std::function<void()>& damage, const std::string& what) {
    saveAThenB();
    damage();
    auto loaded = store_.load();
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->report.source, LoadReport::Source::Previous);
    EXPECT_EQ(loaded->report.path, store_.previousPath());
    ASSERT_EQ(loaded->report.problems.size(), 1u);
    const std::string& problem = loaded->report.problems[0];
    EXPECT_EQ(problem.rfind(store_.currentPath().string() + ": ", 0), 0u) << problem;
    EXPECT_NE(problem.find(what), std::string::npos) << problem;
    expectPersistentEqual(a_, loaded->policy);
  }

  // store.json is damaged and there is no store.prev.json: the load fails, saying why.
  void expectFailureWithoutFallback(const std::function<void()>& damage, const std::string& what) {
    Fixture fx;
    build(fx);
    ASSERT_TRUE(store_.save(fx.policy));
    damage();
    auto loaded = store_.load();
    ASSERT_FALSE(loaded) << "loaded a bad store";
    const std::string& m = loaded.error().message;
    EXPECT_EQ(m.rfind(store_.currentPath().string() + ": ", 0), 0u) << m;
    EXPECT_NE(m.find(what), std::string::npos) << m;
    EXPECT_NE(m.find("no previous good store"), std::string::npos) << m;
  }

  fs::path dir_;
  engine::Store store_{fs::path("unset")};
  Policy a_;
  Policy b_;
};

TEST(StoreCodec, Crc32cKnownAnswer) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  EXPECT_EQ(crc32c("56789", crc32c("1234")), 0xE3069283u);
}

TEST(StoreCodec, EveryValueTypeRoundTrips) {
  const std::vector<Value> values = {
      Value(),
      Value::uint8(255),
      Value::uint16(65535),
      Value::uint32(0xffffffffu),
      Value::uint64(std::numeric_limits<uint64_t>::max()),
      Value::int8(-128),
      Value::int16(-32768),
      Value::int32(std::numeric_limits<int32_t>::min()),
      Value::int64(std::numeric_limits<int64_t>::min()),
      Value::float32(1.5f),
      Value::float32(-0.1f),
      Value::float64(3.141592653589793),
      Value::float64(std::numeric_limits<double>::infinity()),
      Value::float64(-std::numeric_limits<double>::infinity()),
      Value::byteArray16({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}),
      Value::byteArray6({0xa, 0xb, 0xc, 0xd, 0xe, 0xf}),
      Value::byteBlob({}),
      Value::byteBlob({0, 1, 0xff}),
      Value::sid({1, 1, 0, 0, 0, 0, 0, 5, 0x20, 0, 0, 0}),
      Value::securityDescriptor({1, 0, 4, 0x80}),
      Value::unicodeString(u"héllo ✓ \U0001F600"),
      Value::unicodeString(std::u16string(u"lone ") + char16_t(0xD800) + u"x"),
      Value::token(Token{1000, {1000, 27}}),
  };
  for (const Value& v : values) {
    const json j = valueToJson(v);
    SCOPED_TRACE(j.dump());
    const json reparsed = json::parse(j.dump());  // through text, as in the file
    auto back = valueFromJson(reparsed, "v");
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, v);
  }
  auto nan = valueFromJson(json::parse(valueToJson(Value::float64(NAN)).dump()), "v");
  ASSERT_TRUE(nan);
  EXPECT_TRUE(std::isnan(nan->asDouble()));

  const std::vector<ConditionValue> conditions = {
      ConditionValue(V4AddrMask{0x0a000000, 0xff000000}),
      ConditionValue(V6AddrMask{{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 64}),
      ConditionValue(RangeValue{Value::uint16(1), Value::uint16(2)}),
      ConditionValue(Value::uint32(7)),
  };
  for (const ConditionValue& v : conditions) {
    const json j = conditionValueToJson(v);
    SCOPED_TRACE(j.dump());
    auto back = conditionValueFromJson(json::parse(j.dump()), "c");
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, v);
  }
}

TEST(StoreCodec, BadValuesNameTheMember) {
  const auto err = [](const char* text) {
    auto r = conditionValueFromJson(json::parse(text), "filters[0].conditions[1].value");
    EXPECT_FALSE(r) << text;
    return r ? std::string() : r.error().message;
  };
  EXPECT_EQ(err(R"({"type":"FWP_UINT8","value":256})"),
            "filters[0].conditions[1].value.value: 256 is out of range (at most 255)");
  EXPECT_EQ(err(R"({"type":"FWP_UINT8","value":"6"})"),
            "filters[0].conditions[1].value.value: expected an unsigned integer, found string");
  EXPECT_EQ(err(R"({"type":"FWP_NOPE"})"),
            "filters[0].conditions[1].value.type: unknown data type \"FWP_NOPE\"");
  EXPECT_EQ(err(R"({"value":1})"), "filters[0].conditions[1].value: member \"type\" is missing");
  EXPECT_EQ(err(R"({"type":"FWP_BYTE_ARRAY16_TYPE","value":"0102"})"),
            "filters[0].conditions[1].value.value: 2 bytes, expected 16");
  EXPECT_EQ(err(R"({"type":"FWP_BYTE_BLOB_TYPE","value":"zz"})"),
            "filters[0].conditions[1].value.value: not hex at offset 0");
  EXPECT_EQ(err(R"({"type":"FWP_INT8","value":-129})"),
            "filters[0].conditions[1].value.value: -129 is out of range (-128..127)");
  EXPECT_EQ(err("[1]"), "filters[0].conditions[1].value: expected an object, found array");
}

TEST_F(StoreTest, RoundTripOfEveryObjectKindAndField) {
  Fixture fx;
  build(fx);
  ASSERT_TRUE(store_.save(fx.policy));
  auto loaded = store_.load();
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->report.source, LoadReport::Source::Current);
  EXPECT_EQ(loaded->report.path, store_.currentPath());
  EXPECT_TRUE(loaded->report.problems.empty());
  const Policy& p = loaded->policy;
  expectPersistentEqual(fx.policy, p);

  ASSERT_NE(p.providerContext(kContext1), nullptr);
  expectSame(*fx.policy.providerContext(kContext1), *p.providerContext(kContext1));
  EXPECT_EQ(p.providerContextById(3), p.providerContext(kContext1));
  EXPECT_EQ(p.providerContext(kContext2), nullptr);     // static
  EXPECT_EQ(p.providerContext(kContextGone), nullptr);  // deleted
  EXPECT_EQ(p.provider(kProviderQ), nullptr);           // static
  EXPECT_EQ(p.sublayer(kSublayerT), nullptr);           // static
  EXPECT_EQ(p.callout(kCalloutD), nullptr);             // static
  for (uint64_t id : fx.otherFilterIds) {
    EXPECT_EQ(p.filterById(id), nullptr) << id;  // static, dynamic, boot-time
  }
  for (uint64_t id : fx.persistentFilterIds) {
    EXPECT_NE(p.filterById(id), nullptr) << id;
  }
  // The same arbitration order at every layer.
  for (const LayerInfo& l : allLayers()) {
    std::vector<uint64_t> want;
    for (const ArbitrationEntry& e : fx.policy.arbitrationOrder(l.id)) {
      if (e.filter->origin.lifetime == Lifetime::Persistent) {
        want.push_back(e.filter->filterId);
      }
    }
    std::vector<uint64_t> got;
    for (const ArbitrationEntry& e : p.arbitrationOrder(l.id)) {
      got.push_back(e.filter->filterId);
    }
    EXPECT_EQ(got, want) << l.fullName();
  }
  // And the restored policy saves to the very same bytes.
  const std::string first = read(store_.currentPath());
  engine::Store again(dir_.parent_path() / "again");
  ASSERT_TRUE(again.save(p));
  EXPECT_EQ(read(again.currentPath()), first);
}

TEST_F(StoreTest, IdsAreKeptAndNeverReissued) {
  Fixture fx;
  build(fx);
  ASSERT_TRUE(store_.save(fx.policy));
  auto loaded = store_.load();
  ASSERT_TRUE(loaded) << loaded.error().message;
  Policy& p = loaded->policy;
  // Stored ids: filterId 1, 4, 5, 6 (2 was deleted, 3 is static); calloutId 3; context id 3.
  EXPECT_EQ(fx.persistentFilterIds, (std::vector<uint64_t>{1, 4, 5, 6}));
  EXPECT_EQ(p.callout(kCalloutC)->calloutId, 3u);
  EXPECT_EQ(p.calloutIdForKey(kCalloutC), 3u);  // a run-time registration finds the same id
  EXPECT_EQ(p.providerContext(kContext1)->providerContextId, 3u);
  // The next ids continue after every id the previous engine issued, persistent or not.
  const uint64_t nextFilter = fx.policy.nextFilterId();
  const LayerInfo& l = layer("INBOUND_TRANSPORT_V4");
  auto fid = p.addFilter(filter("new", l, Guid(), Value(), ActionType::Block, 0));
  ASSERT_TRUE(fid);
  EXPECT_EQ(*fid, nextFilter);
  Policy probe = fx.policy.snapshot();
  EXPECT_EQ(p.calloutIdForKey(Guid::generate()), probe.calloutIdForKey(Guid::generate()));
  ProviderContext c;
  c.displayData.name = "new";
  auto want = probe.addProviderContext(c);
  auto got = p.addProviderContext(c);
  ASSERT_TRUE(want && got);
  EXPECT_EQ(*got, *want);
}

TEST_F(StoreTest, OnlyPersistentObjectsAreStored) {
  Fixture fx;
  build(fx);
  ASSERT_TRUE(store_.save(fx.policy));
  const json root = json::parse(read(store_.currentPath()));
  EXPECT_EQ(root["xfp_store"], 1);
  const json& pl = root["payload"];
  EXPECT_EQ(pl["providers"].size(), 1u);
  EXPECT_EQ(pl["providerContexts"].size(), 1u);
  EXPECT_EQ(pl["sublayers"].size(), 1u);  // not the built-in ones, not T
  EXPECT_EQ(pl["callouts"].size(), 1u);
  EXPECT_EQ(pl["filters"].size(), 4u);
  for (const char* list : {"providers", "providerContexts", "sublayers", "callouts", "filters"}) {
    for (const json& o : pl[list]) {
      const std::string name = o["displayData"]["name"];
      EXPECT_EQ(name.find("static"), std::string::npos) << name;
      EXPECT_EQ(name.find("dynamic"), std::string::npos) << name;
      EXPECT_EQ(name.find("boottime"), std::string::npos) << name;
    }
  }
  // A policy with nothing persistent stores an empty set.
  Policy none;
  Sublayer t;
  t.key = kSublayerT;
  t.displayData.name = "static sublayer";
  ASSERT_TRUE(none.addSublayer(t));
  ASSERT_TRUE(store_.save(none));
  auto loaded = store_.load();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->policy.sublayers().size(), builtinSublayers().size());
  EXPECT_TRUE(loaded->policy.filters().empty());
}

TEST_F(StoreTest, FirstStartIsAnEmptyState) {
  auto loaded = store_.load();
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->report.source, LoadReport::Source::Empty);
  EXPECT_TRUE(loaded->report.problems.empty());
  EXPECT_TRUE(loaded->policy.filters().empty());
  EXPECT_EQ(loaded->policy.sublayers().size(), builtinSublayers().size());
  EXPECT_FALSE(fs::exists(dir_));  // load never writes
}

TEST_F(StoreTest, SaveKeepsThePreviousGoodState) {
  saveAThenB();
  auto prev = readStoreFile(store_.previousPath());
  ASSERT_TRUE(prev) << prev.error().message;
  expectPersistentEqual(a_, *prev);
  auto loaded = store_.load();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->report.source, LoadReport::Source::Current);
  expectPersistentEqual(b_, loaded->policy);
  EXPECT_EQ(fs::status(dir_).permissions() & fs::perms::all, fs::perms::owner_all);
  EXPECT_EQ(fs::status(store_.currentPath()).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(StoreTest, SavingTheCommittedStateAgainWritesNothing) {
  Fixture fx;
  build(fx);
  ASSERT_TRUE(store_.save(fx.policy));
  ASSERT_TRUE(store_.save(fx.policy));
  EXPECT_FALSE(fs::exists(store_.previousPath()));  // store.json not rotated onto itself
}

TEST_F(StoreTest, TruncatedFileFallsBack) {
  expectFallbackToA(
      [&] {
        const std::string b = read(store_.currentPath());
        write(store_.currentPath(), b.substr(0, b.size() / 2));
      },
      "truncated or damaged: the checksum trailer");
}

TEST_F(StoreTest, FileCutBeforeItsLastByteFallsBack) {
  expectFallbackToA(
      [&] {
        const std::string b = read(store_.currentPath());
        write(store_.currentPath(), b.substr(0, b.size() - 1));
      },
      "truncated");
}

TEST_F(StoreTest, FlippedByteFallsBack) {
  expectFallbackToA(
      [&] {
        std::string b = read(store_.currentPath());
        b[b.size() / 2] ^= 0x01;
        write(store_.currentPath(), b);
      },
      "checksum mismatch: the file records crc32c");
}

TEST_F(StoreTest, WrongChecksumFallsBack) {
  expectFallbackToA(
      [&] {
        std::string b = read(store_.currentPath());
        const size_t at = b.rfind(R"("crc32c":")") + 10;
        b.replace(at, 8, b.substr(at, 8) == "00000000" ? "00000001" : "00000000");
        write(store_.currentPath(), b);
      },
      "checksum mismatch");
}

TEST_F(StoreTest, EditedFileWithoutNewChecksumFallsBack) {
  expectFallbackToA(
      [&] {
        std::string b = read(store_.currentPath());
        const size_t at = b.find("\"b1\"");
        ASSERT_NE(at, std::string::npos);
        b.replace(at, 4, "\"B1\"");
        write(store_.currentPath(), b);
      },
      "(damaged or edited)");
}

TEST_F(StoreTest, WrongVersionFallsBack) {
  expectFallbackToA(
      [&] {
        const json root = json::parse(read(store_.currentPath()));
        write(store_.currentPath(), envelope(root["payload"].dump(), 2));
      },
      "format version 2 is not supported (this xfpd reads version 1)");
}

TEST_F(StoreTest, GarbageFallsBack) {
  expectFallbackToA(
      [&] {
        std::string g;
        for (int i = 0; i < 4096; ++i) {
          g += static_cast<char>((i * 7919 + 13) & 0xff);
        }
        write(store_.currentPath(), g);
      },
      "not an xfp store file");
}

TEST_F(StoreTest, EmptyFileFallsBack) {
  expectFallbackToA([&] { write(store_.currentPath(), ""); }, "empty file (0 bytes)");
}

TEST_F(StoreTest, MissingCurrentWithPreviousFallsBack) {
  expectFallbackToA([&] { fs::remove(store_.currentPath()); }, "missing although");
}

TEST_F(StoreTest, WrongTypeFallsBack) {
  expectFallbackToA([&] { editPayload([](json& p) { p["filters"][0]["filterId"] = "one"; }); },
                    "filters[0].filterId: expected an unsigned integer, found string");
}

TEST_F(StoreTest, DamagedStoreWithoutPreviousIsAnError) {
  expectFailureWithoutFallback([&] { write(store_.currentPath(), ""); }, "empty file");
}

TEST_F(StoreTest, BothStoresBadIsAnErrorNamingBoth) {
  saveAThenB();
  write(store_.currentPath(), "");
  write(store_.previousPath(), "{}");
  auto loaded = store_.load();
  ASSERT_FALSE(loaded);
  const std::string& m = loaded.error().message;
  EXPECT_NE(m.find(store_.currentPath().string() + ": empty file"), std::string::npos) << m;
  EXPECT_NE(m.find(store_.previousPath().string() + ": not an xfp store file"), std::string::npos)
      << m;
}

// Content errors behind a valid checksum (a hand-edited file, or a bug): each is a clear
// Result error naming the path, the object and what is wrong, with its FWP_E_* status.
struct ContentCase {
  const char* name;
  std::function<void(json&)> edit;
  uint32_t status;
  const char* fragment;
};

TEST_F(StoreTest, BadContentIsAClearError) {
  const std::vector<ContentCase> cases = {
      {"payload not an object",
       [](json& p) { p = json::array(); },
       status::kInvalidParameter,
       "payload: expected an object, found array"},
      {"missing list",
       [](json& p) { p.erase("callouts"); },
       status::kInvalidParameter,
       "payload: member \"callouts\" is missing"},
      {"list of wrong type",
       [](json& p) { p["filters"] = 5; },
       status::kInvalidParameter,
       "payload.filters: expected an array, found number"},
      {"bad GUID",
       [](json& p) { p["sublayers"][0]["key"] = "not-a-guid"; },
       status::kInvalidParameter,
       "sublayers[0].key: \"not-a-guid\" is not a GUID"},
      {"unknown action",
       [](json& p) { p["filters"][0]["action"]["type"] = "FWP_ACTION_MAYBE"; },
       status::kInvalidParameter,
       "action.type: unknown action type \"FWP_ACTION_MAYBE\""},
      {"unknown layer",
       [](json& p) { p["filters"][0]["layerKey"] = "{00000000-0000-0000-0000-000000000001}"; },
       status::kLayerNotFound,
       "layer {00000000-0000-0000-0000-000000000001} not found"},
      {"unknown sublayer",
       [](json& p) { p["sublayers"] = json::array(); },
       status::kSublayerNotFound,
       "sublayer {50000000-0000-4000-8000-000000000001} not found"},
      {"unknown callout",
       [](json& p) { p["callouts"] = json::array(); },
       status::kCalloutNotFound,
       "callout {ca000000-0000-4000-8000-000000000001} not found"},
      {"unknown provider context",
       [](json& p) { p["providerContexts"] = json::array(); },
       status::kProviderContextNotFound,
       "provider context {c0000000-0000-4000-8000-000000000001} not found"},
      {"unknown provider",
       [](json& p) { p["providers"] = json::array(); },
       status::kProviderNotFound,
       "provider {a0000000-0000-4000-8000-000000000001} not found"},
      {"not persistent",
       [](json& p) { p["filters"][0]["flags"] = 0; },
       status::kInvalidFlags,
       "lack FWPM_FILTER_FLAG_PERSISTENT: the store holds persistent objects only"},
      {"bad condition",
       [](json& p) {
         p["filters"][0]["conditions"][0]["value"] = json{{"type", "FWP_UINT8"}, {"value", 1}};
       },
       status::kTypeMismatch,
       "conditions[0]"},
      {"duplicate id",
       [](json& p) { p["filters"][1]["filterId"] = p["filters"][0]["filterId"]; },
       status::kInvalidParameter,
       "filterId 1 is stored twice"},
      {"next id below a stored id",
       [](json& p) { p["nextIds"]["filterId"] = 2; },
       status::kInvalidParameter,
       "nextIds.filterId 2 is not above the largest stored filterId 6"},
      {"effective weight",
       [](json& p) { p["filters"][0]["effectiveWeight"] = 1; },
       status::kInvalidWeight,
       "stored effectiveWeight 0x1 differs"},
      {"duplicate key",
       [](json& p) { p["filters"][1]["key"] = p["filters"][0]["key"]; },
       status::kAlreadyExists,
       "already exists"},
  };
  for (const ContentCase& c : cases) {
    SCOPED_TRACE(c.name);
    dir_ = dir_.parent_path() / (std::string("case-") + std::to_string(&c - cases.data()));
    store_ = engine::Store(dir_);
    Fixture fx;
    build(fx);
    ASSERT_TRUE(store_.save(fx.policy));
    editPayload(c.edit);
    auto loaded = store_.load();
    ASSERT_FALSE(loaded) << "loaded";
    EXPECT_EQ(loaded.error().status, c.status)
        << statusName(loaded.error().status) << ": " << loaded.error().message;
    const std::string& m = loaded.error().message;
    EXPECT_EQ(m.rfind(store_.currentPath().string() + ": ", 0), 0u) << m;
    EXPECT_NE(m.find(c.fragment), std::string::npos) << m;
  }
}

TEST_F(StoreTest, CrashBeforeRenameKeepsTheCommittedStore) {
  saveAThenB();
  // A save of C died after writing (part of) its temp file, before the rename.
  const std::string b = read(store_.currentPath());
  write(store_.tempPath(), b.substr(0, b.size() / 3));
  write(dir_ / "store.prev.json.tmp", "partial");
  auto loaded = store_.load();
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->report.source, LoadReport::Source::Current);
  EXPECT_TRUE(loaded->report.problems.empty());
  expectPersistentEqual(b_, loaded->policy);
  EXPECT_TRUE(fs::exists(store_.tempPath()));  // load never writes

  // The next save cleans up and commits, keeping B as the previous state.
  Fixture c;
  build(c);
  ASSERT_TRUE(store_.save(c.policy));
  EXPECT_FALSE(fs::exists(store_.tempPath()));
  EXPECT_FALSE(fs::exists(dir_ / "store.prev.json.tmp"));
  auto now = store_.load();
  ASSERT_TRUE(now);
  expectPersistentEqual(c.policy, now->policy);
  auto prev = readStoreFile(store_.previousPath());
  ASSERT_TRUE(prev) << prev.error().message;
  expectPersistentEqual(b_, *prev);
}

TEST_F(StoreTest, SavingOverADamagedStoreKeepsTheGoodPrevious) {
  saveAThenB();
  const std::string b = read(store_.currentPath());
  write(store_.currentPath(), b.substr(0, 100));
  auto loaded = store_.load();
  ASSERT_TRUE(loaded);
  EXPECT_EQ(loaded->report.source, LoadReport::Source::Previous);
  // The engine runs on A and commits it again: the damaged file must not become the fallback.
  ASSERT_TRUE(store_.save(loaded->policy));
  auto prev = readStoreFile(store_.previousPath());
  ASSERT_TRUE(prev) << prev.error().message;
  expectPersistentEqual(a_, *prev);
  EXPECT_EQ(read(dir_ / "store.corrupt.json"), b.substr(0, 100));  // kept for inspection
  auto now = store_.load();
  ASSERT_TRUE(now);
  EXPECT_EQ(now->report.source, LoadReport::Source::Current);
  expectPersistentEqual(a_, now->policy);
}

TEST_F(StoreTest, SaveReportsAnUnwritableDirectory) {
  fs::create_directories(dir_.parent_path());
  write(dir_, "a file where the directory should be");
  Fixture fx;
  build(fx);
  auto r = store_.save(fx.policy);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find(dir_.string()), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace xfp::engine
