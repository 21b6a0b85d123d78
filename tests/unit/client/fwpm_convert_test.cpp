// The FWPM C structures <-> core objects of the client library (userspace/client/fwpm_convert):
// every structure both ways, round trips FWPM -> core -> FWPM, every validation error, and the
// one-block rule (everything a returned object points to lies inside its own malloc'ed block, so
// FwpmFreeMemory0 is free()).
#include "userspace/client/fwpm_convert.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "userspace/core/layers.h"

namespace xfp::client {
namespace {

// ---- helpers ----

struct FreeBlock {
  void operator()(void* p) const { std::free(p); }
};
template <class T>
using Block = std::unique_ptr<T, FreeBlock>;

// A UTF-16 string the test owns (WCHAR is 16-bit, L"" literals are not).
struct Wide {
  std::vector<WCHAR> units;
  explicit Wide(const std::u16string& s) : units(s.begin(), s.end()) { units.push_back(0); }
  WCHAR* get() { return units.data(); }
};

GUID cGuid(const char* text) {
  return guidToC(Guid::fromText(text));
}

const Guid kLayer = Guid::fromText("c86fd1bf-21cd-497e-a0bb-17425c885c58");  // INBOUND_IPPACKET_V4

// Whether [p, p + n) lies inside the block at `base`.
bool inBlock(const void* base, const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(base);
  const auto* q = static_cast<const unsigned char*>(p);
  return q >= b && q + n <= b + malloc_usable_size(const_cast<void*>(base));
}

void expectWideIn(const void* base, const WCHAR* s) {
  if (s == nullptr) {
    return;
  }
  size_t n = 0;
  while (s[n] != 0) {
    ++n;
  }
  EXPECT_TRUE(inBlock(base, s, (n + 1) * sizeof(WCHAR)));
}

void expectValueIn(const void* base, const FWP_CONDITION_VALUE0& v) {
  switch (v.type) {
    case FWP_UINT64:
    case FWP_INT64:
    case FWP_DOUBLE:
      EXPECT_TRUE(inBlock(base, v.uint64, 8));
      break;
    case FWP_BYTE_ARRAY16_TYPE:
      EXPECT_TRUE(inBlock(base, v.byteArray16, 16));
      break;
    case FWP_BYTE_ARRAY6_TYPE:
      EXPECT_TRUE(inBlock(base, v.byteArray6, 6));
      break;
    case FWP_BYTE_BLOB_TYPE:
    case FWP_SECURITY_DESCRIPTOR_TYPE:
      EXPECT_TRUE(inBlock(base, v.byteBlob, sizeof(FWP_BYTE_BLOB)));
      EXPECT_TRUE(v.byteBlob->size == 0 || inBlock(base, v.byteBlob->data, v.byteBlob->size));
      break;
    case FWP_SID:
      EXPECT_TRUE(inBlock(base, v.sid, 8));
      break;
    case FWP_UNICODE_STRING_TYPE:
      expectWideIn(base, v.unicodeString);
      break;
    case FWP_V4_ADDR_MASK:
      EXPECT_TRUE(inBlock(base, v.v4AddrMask, sizeof(FWP_V4_ADDR_AND_MASK)));
      break;
    case FWP_V6_ADDR_MASK:
      EXPECT_TRUE(inBlock(base, v.v6AddrMask, sizeof(FWP_V6_ADDR_AND_MASK)));
      break;
    case FWP_RANGE_TYPE: {
      EXPECT_TRUE(inBlock(base, v.rangeValue, sizeof(FWP_RANGE0)));
      FWP_CONDITION_VALUE0 low{};
      std::memcpy(static_cast<void*>(&low), &v.rangeValue->valueLow, sizeof low);
      expectValueIn(base, low);
      break;
    }
    default:
      break;
  }
}

void expectFilterIn(const void* base, const FWPM_FILTER0& f) {
  EXPECT_TRUE(inBlock(base, &f, sizeof f));
  expectWideIn(base, f.displayData.name);
  expectWideIn(base, f.displayData.description);
  EXPECT_TRUE(f.providerKey == nullptr || inBlock(base, f.providerKey, sizeof(GUID)));
  EXPECT_TRUE(f.providerData.size == 0 || inBlock(base, f.providerData.data, f.providerData.size));
  FWP_CONDITION_VALUE0 w{};
  std::memcpy(static_cast<void*>(&w), &f.weight, sizeof w);
  expectValueIn(base, w);
  EXPECT_TRUE(inBlock(base, f.effectiveWeight.uint64, 8));
  EXPECT_TRUE(
      f.numFilterConditions == 0 ||
      inBlock(base, f.filterCondition, f.numFilterConditions * sizeof(FWPM_FILTER_CONDITION0)));
  for (UINT32 i = 0; i < f.numFilterConditions; ++i) {
    expectValueIn(base, f.filterCondition[i].conditionValue);
  }
}

Value sidValue() {
  // S-1-22-1-1000: revision 1, 2 sub-authorities, authority 22.
  return Value::sid({1, 2, 0, 0, 0, 0, 0, 22, 1, 0, 0, 0, 0xE8, 0x03, 0, 0});
}

// One condition value of every kind core has.
std::vector<ConditionValue> everyConditionValue() {
  std::array<uint8_t, 16> v6{};
  v6[0] = 0xfd;
  v6[15] = 1;
  return {
      Value(),
      Value::uint8(6),
      Value::uint16(443),
      Value::uint32(0x0A000001),
      Value::uint64(0x123456789ABCDEF0ULL),
      Value::int8(-5),
      Value::int16(-300),
      Value::int32(-70000),
      Value::int64(-5000000000LL),
      Value::float32(1.5F),
      Value::float64(-2.25),
      Value::byteArray16(v6),
      Value::byteArray6({1, 2, 3, 4, 5, 6}),
      Value::byteBlob({'/', 'u', 0, 's'}),
      Value::byteBlob({}),
      sidValue(),
      Value::securityDescriptor({1, 0, 4, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
      Value::unicodeString(u"h\u00e9llo \U0001F600"),
      V4AddrMask{0x0A000000, 0xFF000000},
      V6AddrMask{v6, 64},
      RangeValue{Value::uint16(1000), Value::uint16(2000)},
      RangeValue{Value::uint64(1), Value::uint64(~0ULL)},
  };
}

Filter sampleFilter() {
  Filter f;
  f.key = Guid::fromText("11111111-2222-3333-4444-555555555555");
  f.displayData = {"web", "blocks the web"};
  f.flags = FWPM_FILTER_FLAG_CLEAR_ACTION_RIGHT;
  f.providerKey = Guid::fromText("aaaaaaaa-2222-3333-4444-555555555555");
  f.providerData = {9, 8, 7};
  f.layerKey = kLayer;
  f.subLayerKey = keys::kSublayerUniversal;
  f.weight = Value::uint64(42);
  const Guid field = Guid::fromText("b235ae9a-1d64-49b8-a44c-5ff3d9095045");  // IP_REMOTE_ADDRESS
  uint32_t match = 0;
  for (const ConditionValue& v : everyConditionValue()) {
    f.conditions.push_back(Condition{field, static_cast<MatchType>(match++ % 13), v});
  }
  f.action.type = ActionType::Permit;
  f.action.filterType = Guid::fromText("bbbbbbbb-2222-3333-4444-555555555555");
  f.rawContext = 0xFEEDFACECAFEBEEFULL;
  f.filterId = 77;
  f.effectiveWeight = 0x0F00000000000042ULL;
  return f;
}

void expectSameDisplay(const DisplayData& a, const DisplayData& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
}

// Inputs compared; outputs (ids, effective weight) only when `outputs`.
void expectSameFilter(const Filter& a, const Filter& b, bool outputs) {
  EXPECT_EQ(a.key, b.key);
  expectSameDisplay(a.displayData, b.displayData);
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
  if (outputs) {
    EXPECT_EQ(a.filterId, b.filterId);
    EXPECT_EQ(a.effectiveWeight, b.effectiveWeight);
  }
}

template <class T>
uint32_t errorOf(const Result<T>& r) {
  return r ? 0u : r.error().status;
}

// A filter C structure that is valid as far as the client can tell.
struct CFilter {
  Wide name{u"f"};
  FWPM_FILTER0 f{};
  CFilter() {
    f.displayData.name = name.get();
    f.layerKey = guidToC(kLayer);
    f.action.type = FWP_ACTION_BLOCK;
  }
};

// ---- GUIDs and strings ----

TEST(FwpmConvert, GuidIsTheWireForm) {
  const GUID c = {0xc86fd1bf, 0x21cd, 0x497e, {0xa0, 0xbb, 0x17, 0x42, 0x5c, 0x88, 0x5c, 0x58}};
  const Guid g = guidFromC(c);
  EXPECT_EQ(g, kLayer);
  const uint8_t wire[16] = {0xbf,
                            0xd1,
                            0x6f,
                            0xc8,
                            0xcd,
                            0x21,
                            0x7e,
                            0x49,
                            0xa0,
                            0xbb,
                            0x17,
                            0x42,
                            0x5c,
                            0x88,
                            0x5c,
                            0x58};
  EXPECT_EQ(std::memcmp(g.bytes.data(), wire, 16), 0);
  const GUID back = guidToC(g);
  EXPECT_EQ(std::memcmp(&back, &c, sizeof c), 0);
}

TEST(FwpmConvert, Strings) {
  EXPECT_EQ(stringFromC(nullptr, "x").value(), std::nullopt);
  Wide ok(u"caf\u00e9 \U0001F600");
  EXPECT_EQ(stringFromC(ok.get(), "x").value(),
            std::optional<std::string>("caf\xc3\xa9 \xf0\x9f\x98\x80"));
  Wide empty(u"");
  EXPECT_EQ(stringFromC(empty.get(), "x").value(), std::optional<std::string>(""));
  std::vector<WCHAR> lone = {'a', 0xD800, 'b', 0};
  auto r = stringFromC(lone.data(), "displayData.name");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, FWP_E_INVALID_PARAMETER);
  EXPECT_NE(r.error().message.find("displayData.name"), std::string::npos);
  std::vector<WCHAR> trailing = {'a', 0xDC00, 0};
  EXPECT_EQ(errorOf(stringFromC(trailing.data(), "x")), FWP_E_INVALID_PARAMETER);
}

// ---- values ----

TEST(FwpmConvert, EveryConditionValueRoundTrips) {
  // core -> C (in a filter block) -> core.
  const Filter f = sampleFilter();
  Block<FWPM_FILTER0> c(filterToC(f));
  ASSERT_NE(c, nullptr);
  ASSERT_EQ(c->numFilterConditions, f.conditions.size());
  for (size_t i = 0; i < f.conditions.size(); ++i) {
    auto back = conditionValueFromC(c->filterCondition[i].conditionValue);
    ASSERT_TRUE(back) << i << ": " << back.error().message;
    EXPECT_EQ(*back, f.conditions[i].value) << i << ": " << f.conditions[i].value.toString();
  }
}

TEST(FwpmConvert, ValuesFromC) {
  UINT64 u64 = 1ULL << 40;
  INT64 i64 = -(1LL << 40);
  double d = 3.5;
  FWP_VALUE0 v{};
  v.type = FWP_UINT64;
  v.uint64 = &u64;
  EXPECT_EQ(valueFromC(v).value(), Value::uint64(u64));
  v.type = FWP_INT64;
  v.int64 = &i64;
  EXPECT_EQ(valueFromC(v).value(), Value::int64(i64));
  v.type = FWP_DOUBLE;
  v.double64 = &d;
  EXPECT_EQ(valueFromC(v).value(), Value::float64(d));
  v = FWP_VALUE0{};
  v.type = FWP_UINT16;
  v.uint16 = 8080;
  EXPECT_EQ(valueFromC(v).value(), Value::uint16(8080));
  v.type = FWP_FLOAT;
  v.float32 = 0.25F;
  EXPECT_EQ(valueFromC(v).value(), Value::float32(0.25F));
  Wide s(u"/usr/bin/curl");
  v.type = FWP_UNICODE_STRING_TYPE;
  v.unicodeString = s.get();
  EXPECT_EQ(valueFromC(v).value(), Value::unicodeString(u"/usr/bin/curl"));
  UINT8 bytes[3] = {1, 2, 3};
  FWP_BYTE_BLOB blob{3, bytes};
  v.type = FWP_BYTE_BLOB_TYPE;
  v.byteBlob = &blob;
  EXPECT_EQ(valueFromC(v).value(), Value::byteBlob({1, 2, 3}));
  FWP_BYTE_BLOB emptyBlob{0, nullptr};
  v.byteBlob = &emptyBlob;
  EXPECT_EQ(valueFromC(v).value(), Value::byteBlob({}));
  const Bytes sid = sidValue().asBytes();
  alignas(4) uint8_t sidBuf[32] = {};
  std::memcpy(sidBuf, sid.data(), sid.size());
  v.type = FWP_SID;
  v.sid = reinterpret_cast<SID*>(sidBuf);
  EXPECT_EQ(valueFromC(v).value(), sidValue());
}

TEST(FwpmConvert, NullPointerMembersOfValues) {
  for (FWP_DATA_TYPE t : {FWP_UINT64,
                          FWP_INT64,
                          FWP_DOUBLE,
                          FWP_BYTE_ARRAY16_TYPE,
                          FWP_BYTE_ARRAY6_TYPE,
                          FWP_BYTE_BLOB_TYPE,
                          FWP_SECURITY_DESCRIPTOR_TYPE,
                          FWP_SID,
                          FWP_UNICODE_STRING_TYPE}) {
    FWP_VALUE0 v{};
    v.type = t;
    EXPECT_EQ(errorOf(valueFromC(v)), FWP_E_NULL_POINTER) << t;
  }
  for (FWP_DATA_TYPE t : {FWP_V4_ADDR_MASK, FWP_V6_ADDR_MASK, FWP_RANGE_TYPE}) {
    FWP_CONDITION_VALUE0 v{};
    v.type = t;
    EXPECT_EQ(errorOf(conditionValueFromC(v)), FWP_E_NULL_POINTER) << t;
  }
  // A blob whose data is NULL although it has a size.
  FWP_BYTE_BLOB blob{4, nullptr};
  FWP_VALUE0 v{};
  v.type = FWP_BYTE_BLOB_TYPE;
  v.byteBlob = &blob;
  EXPECT_EQ(errorOf(valueFromC(v)), FWP_E_NULL_POINTER);
  // A range whose bound has a NULL pointer.
  FWP_RANGE0 range{};
  range.valueLow.type = FWP_UINT64;
  range.valueHigh.type = FWP_UINT8;
  FWP_CONDITION_VALUE0 cv{};
  cv.type = FWP_RANGE_TYPE;
  cv.rangeValue = &range;
  auto r = conditionValueFromC(cv);
  EXPECT_EQ(errorOf(r), FWP_E_NULL_POINTER);
  EXPECT_NE(r.error().message.find("valueLow"), std::string::npos);
}

TEST(FwpmConvert, BadDataTypes) {
  FWP_VALUE0 v{};
  const uint32_t bogus[] = {19, 0xFF, 0x103, 0x1000, 0xFFFFFFFF};
  for (uint32_t t : bogus) {
    std::memcpy(&v.type, &t, sizeof t);
    EXPECT_EQ(errorOf(valueFromC(v)), FWP_E_INVALID_ENUMERATOR) << t;
    FWP_CONDITION_VALUE0 cv{};
    std::memcpy(&cv.type, &t, sizeof t);
    EXPECT_EQ(errorOf(conditionValueFromC(cv)), FWP_E_INVALID_ENUMERATOR) << t;
  }
  // Condition-only types where a plain value is expected, and token types.
  FWP_V4_ADDR_AND_MASK mask{1, 2};
  v = FWP_VALUE0{};
  v.type = FWP_V4_ADDR_MASK;
  v.uint32 = 0;
  EXPECT_EQ(errorOf(valueFromC(v)), FWP_E_TYPE_MISMATCH);
  FWP_RANGE0 nested{};
  nested.valueLow.type = FWP_RANGE_TYPE;
  FWP_CONDITION_VALUE0 cv{};
  cv.type = FWP_RANGE_TYPE;
  cv.rangeValue = &nested;
  EXPECT_EQ(errorOf(conditionValueFromC(cv)), FWP_E_TYPE_MISMATCH);
  cv.type = FWP_V4_ADDR_MASK;
  cv.v4AddrMask = &mask;
  EXPECT_EQ(conditionValueFromC(cv).value(), ConditionValue(V4AddrMask{1, 2}));
  FWP_BYTE_BLOB token{0, nullptr};
  v.type = FWP_TOKEN_ACCESS_INFORMATION_TYPE;
  v.tokenAccessInformation = &token;
  EXPECT_EQ(errorOf(valueFromC(v)), FWP_E_TYPE_MISMATCH);
  v.type = FWP_TOKEN_INFORMATION_TYPE;
  EXPECT_EQ(errorOf(valueFromC(v)), FWP_E_TYPE_MISMATCH);
  // A SID longer than SID_MAX_SUB_AUTHORITIES.
  alignas(4) uint8_t sid[8 + 4 * 16] = {1, 16};
  v.type = FWP_SID;
  v.sid = reinterpret_cast<SID*>(sid);
  EXPECT_EQ(errorOf(valueFromC(v)), FWP_E_INVALID_PARAMETER);
  // An unpaired surrogate in a string value is taken as is (unlike names: the wire carries any
  // UTF-16 in a value).
  std::vector<WCHAR> lone = {'x', 0xDBFF, 0};
  v.type = FWP_UNICODE_STRING_TYPE;
  v.unicodeString = lone.data();
  EXPECT_EQ(valueFromC(v).value(), Value::unicodeString(std::u16string{u'x', char16_t{0xDBFF}}));
}

TEST(FwpmConvert, ConditionsNeedTheirArray) {
  EXPECT_TRUE(conditionsFromC(0, nullptr).value().empty());
  EXPECT_EQ(errorOf(conditionsFromC(2, nullptr)), FWP_E_NULL_POINTER);
  FWPM_FILTER_CONDITION0 c[2]{};
  c[1].conditionValue.type = FWP_UINT64;  // NULL pointer
  auto r = conditionsFromC(2, c);
  EXPECT_EQ(errorOf(r), FWP_E_NULL_POINTER);
  EXPECT_NE(r.error().message.find("filterCondition[1]"), std::string::npos);
  // Match types are the engine's to judge: any number passes through.
  c[1].conditionValue.type = FWP_EMPTY;
  const uint32_t match = 99;
  std::memcpy(&c[1].matchType, &match, sizeof match);
  auto ok = conditionsFromC(2, c);
  ASSERT_TRUE(ok);
  EXPECT_EQ(static_cast<uint32_t>((*ok)[1].matchType), 99u);
}

// ---- objects ----

TEST(FwpmConvert, FilterRoundTrips) {
  const Filter f = sampleFilter();
  Block<FWPM_FILTER0> c(filterToC(f));
  ASSERT_NE(c, nullptr);
  expectFilterIn(c.get(), *c);
  EXPECT_EQ(c->filterId, 77u);
  EXPECT_EQ(c->effectiveWeight.type, FWP_UINT64);
  EXPECT_EQ(*c->effectiveWeight.uint64, f.effectiveWeight);
  EXPECT_EQ(c->reserved, nullptr);
  EXPECT_EQ(c->rawContext, f.rawContext);
  auto back = filterFromC(c.get());
  ASSERT_TRUE(back) << back.error().message;
  expectSameFilter(f, *back, false);
  // And once more: FWPM -> core -> FWPM -> core is stable.
  Block<FWPM_FILTER0> again(filterToC(*back));
  auto twice = filterFromC(again.get());
  ASSERT_TRUE(twice);
  expectSameFilter(*back, *twice, false);
}

TEST(FwpmConvert, FilterUnionsFollowTheirSelectors) {
  Filter f = sampleFilter();
  f.conditions.clear();
  f.action.type = ActionType::CalloutTerminating;
  f.action.calloutKey = Guid::fromText("cccccccc-2222-3333-4444-555555555555");
  f.action.filterType = Guid();
  f.flags = FWPM_FILTER_FLAG_HAS_PROVIDER_CONTEXT;
  f.providerContextKey = Guid::fromText("dddddddd-2222-3333-4444-555555555555");
  f.rawContext = 0;
  f.weight = Value::uint8(7);
  Block<FWPM_FILTER0> c(filterToC(f));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(guidFromC(c->action.calloutKey), f.action.calloutKey);
  EXPECT_EQ(guidFromC(c->providerContextKey), f.providerContextKey);
  EXPECT_EQ(c->numFilterConditions, 0u);
  EXPECT_EQ(c->filterCondition, nullptr);
  EXPECT_EQ(c->weight.type, FWP_UINT8);
  EXPECT_EQ(c->weight.uint8, 7);
  auto back = filterFromC(c.get());
  ASSERT_TRUE(back);
  expectSameFilter(f, *back, false);

  // From C: the union member read is the one the selector names.
  CFilter in;
  in.f.action.type = FWP_ACTION_CALLOUT_INSPECTION;
  in.f.action.calloutKey = cGuid("cccccccc-2222-3333-4444-555555555555");
  in.f.flags = 0;
  in.f.rawContext = 5;
  auto fromC = filterFromC(&in.f);
  ASSERT_TRUE(fromC);
  EXPECT_EQ(fromC->action.calloutKey, f.action.calloutKey);
  EXPECT_TRUE(fromC->action.filterType.isZero());
  EXPECT_EQ(fromC->rawContext, 5u);
  EXPECT_TRUE(fromC->providerContextKey.isZero());
  EXPECT_TRUE(fromC->weight.isEmpty());
  EXPECT_FALSE(fromC->providerKey.has_value());
  EXPECT_EQ(fromC->displayData.description, "");
}

TEST(FwpmConvert, FilterValidation) {
  EXPECT_EQ(errorOf(filterFromC(nullptr)), FWP_E_NULL_POINTER);
  {
    CFilter in;
    in.f.displayData.name = nullptr;
    EXPECT_EQ(errorOf(filterFromC(&in.f)), FWP_E_NULL_DISPLAY_NAME);
  }
  {
    CFilter in;
    in.f.providerData = {3, nullptr};
    EXPECT_EQ(errorOf(filterFromC(&in.f)), FWP_E_NULL_POINTER);
  }
  {
    CFilter in;
    in.f.numFilterConditions = 1;
    EXPECT_EQ(errorOf(filterFromC(&in.f)), FWP_E_NULL_POINTER);
  }
  {
    CFilter in;
    in.f.weight.type = FWP_UINT64;  // NULL pointer
    EXPECT_EQ(errorOf(filterFromC(&in.f)), FWP_E_NULL_POINTER);
  }
  {
    CFilter in;
    in.f.weight.type = FWP_RANGE_TYPE;
    EXPECT_EQ(errorOf(filterFromC(&in.f)), FWP_E_INVALID_WEIGHT);
    const uint32_t bogus = 300;
    std::memcpy(&in.f.weight.type, &bogus, sizeof bogus);
    EXPECT_EQ(errorOf(filterFromC(&in.f)), FWP_E_INVALID_WEIGHT);
  }
  {
    // The engine judges other weight types (FWP_E_INVALID_WEIGHT there), and the reserved
    // member (FWP_E_RESERVED): the client passes them on.
    CFilter in;
    in.f.weight.type = FWP_UINT16;
    in.f.weight.uint16 = 3;
    GUID reserved{};
    in.f.reserved = &reserved;
    auto r = filterFromC(&in.f);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->weight, Value::uint16(3));
    EXPECT_TRUE(r->reservedSet);
  }
  {
    CFilter in;
    std::vector<WCHAR> bad = {0xDC00, 0};
    in.f.displayData.description = bad.data();
    EXPECT_EQ(errorOf(filterFromC(&in.f)), FWP_E_INVALID_PARAMETER);
  }
}

TEST(FwpmConvert, ProviderBothWays) {
  Provider p;
  p.key = Guid::fromText("01234567-89ab-cdef-0123-456789abcdef");
  p.displayData = {"acme", ""};
  p.flags = FWPM_PROVIDER_FLAG_PERSISTENT;
  p.providerData = {1, 2, 3, 4};
  p.serviceName = "acme.service";
  Block<FWPM_PROVIDER0> c(providerToC(p));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->displayData.description, nullptr);
  expectWideIn(c.get(), c->displayData.name);
  expectWideIn(c.get(), c->serviceName);
  EXPECT_TRUE(inBlock(c.get(), c->providerData.data, 4));
  auto back = providerFromC(c.get());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->key, p.key);
  expectSameDisplay(back->displayData, p.displayData);
  EXPECT_EQ(back->flags, p.flags);
  EXPECT_EQ(back->providerData, p.providerData);
  EXPECT_EQ(back->serviceName, p.serviceName);

  EXPECT_EQ(errorOf(providerFromC(nullptr)), FWP_E_NULL_POINTER);
  FWPM_PROVIDER0 noName{};
  EXPECT_EQ(errorOf(providerFromC(&noName)), FWP_E_NULL_DISPLAY_NAME);
  Wide name(u"n");
  noName.displayData.name = name.get();
  noName.providerData = {1, nullptr};
  EXPECT_EQ(errorOf(providerFromC(&noName)), FWP_E_NULL_POINTER);
  noName.providerData = {};
  auto minimal = providerFromC(&noName);
  ASSERT_TRUE(minimal);
  EXPECT_EQ(minimal->serviceName, "");
}

TEST(FwpmConvert, ProviderContextBothWays) {
  ProviderContext p;
  p.key = Guid::fromText("01234567-89ab-cdef-0123-456789abcde0");
  p.displayData = {"ctx", "config for the callout"};
  p.flags = FWPM_PROVIDER_CONTEXT_FLAG_PERSISTENT;
  p.providerKey = Guid::fromText("01234567-89ab-cdef-0123-456789abcde1");
  p.providerData = {5};
  p.type = FWPM_GENERAL_CONTEXT;
  p.dataBuffer = {'c', 'f', 'g'};
  p.providerContextId = 12;
  Block<FWPM_PROVIDER_CONTEXT0> c(providerContextToC(p));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->providerContextId, 12u);
  ASSERT_NE(c->dataBuffer, nullptr);
  EXPECT_TRUE(inBlock(c.get(), c->dataBuffer->data, 3));
  EXPECT_TRUE(inBlock(c.get(), c->providerKey, sizeof(GUID)));
  auto back = providerContextFromC(c.get());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->key, p.key);
  expectSameDisplay(back->displayData, p.displayData);
  EXPECT_EQ(back->flags, p.flags);
  EXPECT_EQ(back->providerKey, p.providerKey);
  EXPECT_EQ(back->providerData, p.providerData);
  EXPECT_EQ(back->type, p.type);
  EXPECT_EQ(back->dataBuffer, p.dataBuffer);
  EXPECT_EQ(back->providerContextId, 0u);  // an output: not read from C

  EXPECT_EQ(errorOf(providerContextFromC(nullptr)), FWP_E_NULL_POINTER);
  FWPM_PROVIDER_CONTEXT0 in = *c;
  in.dataBuffer = nullptr;
  EXPECT_EQ(errorOf(providerContextFromC(&in)), FWP_E_NULL_POINTER);
  in.displayData.name = nullptr;
  EXPECT_EQ(errorOf(providerContextFromC(&in)), FWP_E_NULL_DISPLAY_NAME);
  // Another type: the union is not read (the engine refuses the type).
  in = *c;
  in.type = FWPM_IPSEC_IKE_MM_CONTEXT;
  in.keyingPolicy = reinterpret_cast<void*>(0x1);  // never dereferenced
  auto other = providerContextFromC(&in);
  ASSERT_TRUE(other);
  EXPECT_EQ(other->type, static_cast<uint32_t>(FWPM_IPSEC_IKE_MM_CONTEXT));
  EXPECT_TRUE(other->dataBuffer.empty());
}

TEST(FwpmConvert, SublayerBothWays) {
  Sublayer s;
  s.key = Guid::fromText("01234567-89ab-cdef-0123-456789abcde2");
  s.displayData = {"mine", "d"};
  s.flags = FWPM_SUBLAYER_FLAG_PERSISTENT;
  s.providerKey = Guid::fromText("01234567-89ab-cdef-0123-456789abcde1");
  s.weight = 0xBEEF;
  Block<FWPM_SUBLAYER0> c(sublayerToC(s));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->weight, 0xBEEF);
  EXPECT_EQ(c->providerData.data, nullptr);
  auto back = sublayerFromC(c.get());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->key, s.key);
  expectSameDisplay(back->displayData, s.displayData);
  EXPECT_EQ(back->flags, s.flags);
  EXPECT_EQ(back->providerKey, s.providerKey);
  EXPECT_EQ(back->weight, s.weight);
  EXPECT_EQ(errorOf(sublayerFromC(nullptr)), FWP_E_NULL_POINTER);
  FWPM_SUBLAYER0 in = *c;
  in.displayData.name = nullptr;
  EXPECT_EQ(errorOf(sublayerFromC(&in)), FWP_E_NULL_DISPLAY_NAME);
  in = *c;
  in.providerData.size = 1;
  EXPECT_EQ(errorOf(sublayerFromC(&in)), FWP_E_NULL_POINTER);
}

TEST(FwpmConvert, CalloutBothWays) {
  Callout co;
  co.key = Guid::fromText("01234567-89ab-cdef-0123-456789abcde3");
  co.displayData = {"inspect", ""};
  co.flags = FWPM_CALLOUT_FLAG_USES_PROVIDER_CONTEXT | FWPM_CALLOUT_FLAG_REGISTERED;
  co.applicableLayer = kLayer;
  co.calloutId = 9;
  Block<FWPM_CALLOUT0> c(calloutToC(co));
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->calloutId, 9u);
  EXPECT_EQ(c->providerKey, nullptr);
  auto back = calloutFromC(c.get());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->key, co.key);
  expectSameDisplay(back->displayData, co.displayData);
  EXPECT_EQ(back->flags, co.flags);
  EXPECT_FALSE(back->providerKey.has_value());
  EXPECT_EQ(back->applicableLayer, co.applicableLayer);
  EXPECT_EQ(back->calloutId, 0u);  // output
  EXPECT_EQ(errorOf(calloutFromC(nullptr)), FWP_E_NULL_POINTER);
  FWPM_CALLOUT0 in = *c;
  in.displayData.name = nullptr;
  EXPECT_EQ(errorOf(calloutFromC(&in)), FWP_E_NULL_DISPLAY_NAME);
}

// ---- arrays: one block holding the pointer array and the entries ----

TEST(FwpmConvert, ArraysAreOneBlock) {
  EXPECT_EQ(filtersToC({}), nullptr);
  EXPECT_EQ(providersToC({}), nullptr);
  std::vector<Filter> filters;
  for (int i = 0; i < 5; ++i) {
    Filter f = sampleFilter();
    f.filterId = 100 + i;
    f.displayData.name = "f" + std::to_string(i);
    filters.push_back(f);
  }
  Block<FWPM_FILTER0*> arr(filtersToC(filters));
  ASSERT_NE(arr, nullptr);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(inBlock(arr.get(), arr.get()[i], sizeof(FWPM_FILTER0)));
    expectFilterIn(arr.get(), *arr.get()[i]);
    EXPECT_EQ(arr.get()[i]->filterId, 100u + i);
    auto back = filterFromC(arr.get()[i]);
    ASSERT_TRUE(back);
    expectSameFilter(filters[i], *back, false);
  }

  Provider p;
  p.displayData.name = "p";
  Sublayer s;
  s.displayData.name = "s";
  s.weight = 3;
  Callout co;
  co.displayData.name = "c";
  co.applicableLayer = kLayer;
  Block<FWPM_PROVIDER0*> ps(providersToC({p, p}));
  Block<FWPM_SUBLAYER0*> ss(sublayersToC({s, s, s}));
  Block<FWPM_CALLOUT0*> cs(calloutsToC({co}));
  ASSERT_TRUE(ps && ss && cs);
  EXPECT_TRUE(inBlock(ps.get(), ps.get()[1], sizeof(FWPM_PROVIDER0)));
  expectWideIn(ps.get(), ps.get()[1]->displayData.name);
  EXPECT_TRUE(inBlock(ss.get(), ss.get()[2], sizeof(FWPM_SUBLAYER0)));
  EXPECT_EQ(ss.get()[2]->weight, 3);
  EXPECT_TRUE(inBlock(cs.get(), cs.get()[0], sizeof(FWPM_CALLOUT0)));
  EXPECT_EQ(guidFromC(cs.get()[0]->applicableLayer), kLayer);
}

// ---- templates, subscriptions, sessions, changes ----

TEST(FwpmConvert, FilterEnumTemplateFromC) {
  EXPECT_EQ(filterEnumTemplateFromC(nullptr).value(), std::nullopt);
  GUID provider = cGuid("aaaaaaaa-0000-0000-0000-000000000001");
  GUID callout = cGuid("aaaaaaaa-0000-0000-0000-000000000002");
  GUID pctProvider = cGuid("aaaaaaaa-0000-0000-0000-000000000003");
  FWPM_PROVIDER_CONTEXT_ENUM_TEMPLATE0 pct{&pctProvider, FWPM_GENERAL_CONTEXT};
  FWPM_FILTER_CONDITION0 cond{};
  cond.fieldKey = cGuid("0c1ba1af-5765-453f-af22-a8f791ac775b");  // IP_LOCAL_PORT
  cond.matchType = FWP_MATCH_EQUAL;
  cond.conditionValue.type = FWP_UINT16;
  cond.conditionValue.uint16 = 22;
  FWPM_FILTER_ENUM_TEMPLATE0 t{};
  t.providerKey = &provider;
  t.layerKey = guidToC(kLayer);
  t.enumType = FWP_FILTER_ENUM_OVERLAPPING;
  t.flags = FWP_FILTER_ENUM_FLAG_SORTED;
  t.providerContextTemplate = &pct;
  t.numFilterConditions = 1;
  t.filterCondition = &cond;
  t.actionMask = FWP_ACTION_FLAG_CALLOUT;
  t.calloutKey = &callout;
  auto r = filterEnumTemplateFromC(&t);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->has_value());
  const engine::FilterEnumTemplate& e = **r;
  EXPECT_EQ(e.providerKey, guidFromC(provider));
  EXPECT_EQ(e.layerKey, kLayer);
  EXPECT_EQ(e.enumType, engine::FilterEnumType::Overlapping);
  EXPECT_EQ(e.flags, FWP_FILTER_ENUM_FLAG_SORTED);
  ASSERT_TRUE(e.providerContextTemplate.has_value());
  EXPECT_EQ(e.providerContextTemplate->providerKey, guidFromC(pctProvider));
  EXPECT_EQ(e.providerContextTemplate->providerContextType, kGeneralContext);
  ASSERT_EQ(e.filterConditions.size(), 1u);
  EXPECT_EQ(e.filterConditions[0].value, ConditionValue(Value::uint16(22)));
  EXPECT_EQ(e.actionMask, FWP_ACTION_FLAG_CALLOUT);
  EXPECT_EQ(e.calloutKey, guidFromC(callout));

  t.filterCondition = nullptr;
  EXPECT_EQ(errorOf(filterEnumTemplateFromC(&t)), FWP_E_NULL_POINTER);
  // enumType is the engine's to check (FWP_E_INVALID_ENUMERATOR): passed on as a number.
  t.numFilterConditions = 0;
  const uint32_t enumType = 7;
  std::memcpy(&t.enumType, &enumType, sizeof enumType);
  EXPECT_EQ(static_cast<uint32_t>(filterEnumTemplateFromC(&t).value()->enumType), 7u);
}

TEST(FwpmConvert, SublayerAndCalloutTemplates) {
  EXPECT_EQ(sublayerEnumTemplateFromC(nullptr), std::nullopt);
  EXPECT_EQ(calloutEnumTemplateFromC(nullptr), std::nullopt);
  GUID provider = cGuid("aaaaaaaa-0000-0000-0000-000000000001");
  FWPM_SUBLAYER_ENUM_TEMPLATE0 st{&provider};
  EXPECT_EQ(sublayerEnumTemplateFromC(&st)->providerKey, guidFromC(provider));
  st.providerKey = nullptr;
  EXPECT_FALSE(sublayerEnumTemplateFromC(&st)->providerKey.has_value());
  FWPM_CALLOUT_ENUM_TEMPLATE0 ct{};
  auto any = calloutEnumTemplateFromC(&ct);
  EXPECT_FALSE(any->providerKey.has_value());
  EXPECT_FALSE(any->layerKey.has_value());  // zero layer: every layer
  ct.providerKey = &provider;
  ct.layerKey = guidToC(kLayer);
  auto one = calloutEnumTemplateFromC(&ct);
  EXPECT_EQ(one->providerKey, guidFromC(provider));
  EXPECT_EQ(one->layerKey, kLayer);
}

TEST(FwpmConvert, SubscriptionsBothWays) {
  EXPECT_EQ(errorOf(filterSubscriptionFromC(nullptr)), FWP_E_NULL_POINTER);
  FWPM_FILTER_SUBSCRIPTION0 s{};
  s.flags = FWPM_SUBSCRIPTION_FLAG_NOTIFY_ON_ADD;
  auto all = filterSubscriptionFromC(&s);
  ASSERT_TRUE(all);
  EXPECT_FALSE(all->enumTemplate.has_value());
  EXPECT_EQ(all->flags, FWPM_SUBSCRIPTION_FLAG_NOTIFY_ON_ADD);
  FWPM_FILTER_ENUM_TEMPLATE0 t{};
  t.layerKey = guidToC(kLayer);
  t.actionMask = 0xFFFFFFFF;
  s.enumTemplate = &t;
  s.flags = 0;
  auto one = filterSubscriptionFromC(&s);
  ASSERT_TRUE(one);
  ASSERT_TRUE(one->enumTemplate.has_value());
  EXPECT_EQ(one->enumTemplate->layerKey, kLayer);
  EXPECT_EQ(one->flags, 0u);
  t.numFilterConditions = 3;
  EXPECT_EQ(errorOf(filterSubscriptionFromC(&s)), FWP_E_NULL_POINTER);

  // core -> C: the array, each template, the session key.
  engine::FilterSubscription withTemplate = *one;
  withTemplate.enumTemplate->providerKey = Guid::fromText("aaaaaaaa-0000-0000-0000-000000000009");
  withTemplate.enumTemplate->providerContextTemplate =
      engine::ProviderContextTemplate{std::nullopt, kGeneralContext};
  withTemplate.enumTemplate->filterConditions.push_back(Condition{
      Guid::fromText("0c1ba1af-5765-453f-af22-a8f791ac775b"), MatchType::Equal, Value::uint16(80)});
  const Guid sessionKey = Guid::fromText("5e551011-0000-0000-0000-000000000001");
  Block<FWPM_FILTER_SUBSCRIPTION0*> arr(filterSubscriptionsToC({*all, withTemplate}, sessionKey));
  ASSERT_NE(arr, nullptr);
  const FWPM_FILTER_SUBSCRIPTION0& a0 = *arr.get()[0];
  const FWPM_FILTER_SUBSCRIPTION0& a1 = *arr.get()[1];
  EXPECT_EQ(a0.enumTemplate, nullptr);
  EXPECT_EQ(a0.flags, FWPM_SUBSCRIPTION_FLAG_NOTIFY_ON_ADD);
  EXPECT_EQ(guidFromC(a0.sessionKey), sessionKey);
  ASSERT_NE(a1.enumTemplate, nullptr);
  EXPECT_TRUE(inBlock(arr.get(), a1.enumTemplate, sizeof(FWPM_FILTER_ENUM_TEMPLATE0)));
  EXPECT_TRUE(inBlock(arr.get(), a1.enumTemplate->providerKey, sizeof(GUID)));
  EXPECT_TRUE(inBlock(arr.get(),
                      a1.enumTemplate->providerContextTemplate,
                      sizeof(FWPM_PROVIDER_CONTEXT_ENUM_TEMPLATE0)));
  EXPECT_EQ(a1.enumTemplate->providerContextTemplate->providerKey, nullptr);
  EXPECT_TRUE(inBlock(arr.get(), a1.enumTemplate->filterCondition, sizeof(FWPM_FILTER_CONDITION0)));
  EXPECT_EQ(a1.enumTemplate->calloutKey, nullptr);
  auto back = filterSubscriptionFromC(&a1);
  ASSERT_TRUE(back);
  ASSERT_TRUE(back->enumTemplate.has_value());
  EXPECT_EQ(back->enumTemplate->providerKey, withTemplate.enumTemplate->providerKey);
  EXPECT_EQ(back->enumTemplate->actionMask, 0xFFFFFFFFu);
  ASSERT_EQ(back->enumTemplate->filterConditions.size(), 1u);
  EXPECT_EQ(back->enumTemplate->filterConditions[0].value, ConditionValue(Value::uint16(80)));
  ASSERT_TRUE(back->enumTemplate->providerContextTemplate.has_value());
  EXPECT_FALSE(back->enumTemplate->providerContextTemplate->providerKey.has_value());
}

TEST(FwpmConvert, SessionOptions) {
  auto defaults = sessionOptionsFromC(nullptr);
  ASSERT_TRUE(defaults);
  EXPECT_TRUE(defaults->sessionKey.isZero());
  EXPECT_FALSE(defaults->displayData.name.has_value());
  EXPECT_EQ(defaults->flags, 0u);
  EXPECT_EQ(defaults->txnWaitTimeoutInMSec, 0u);
  FWPM_SESSION0 s{};
  s.sessionKey = cGuid("5e551011-0000-0000-0000-000000000002");
  s.flags = FWPM_SESSION_FLAG_DYNAMIC;
  s.txnWaitTimeoutInMSec = 250;
  s.processId = 1234;  // engine-filled: ignored
  auto noName = sessionOptionsFromC(&s);
  ASSERT_TRUE(noName);  // a session needs no name
  EXPECT_EQ(noName->sessionKey, guidFromC(s.sessionKey));
  EXPECT_EQ(noName->flags, FWPM_SESSION_FLAG_DYNAMIC);
  EXPECT_EQ(noName->txnWaitTimeoutInMSec, 250u);
  EXPECT_EQ(noName->processId, 0u);
  Wide name(u"tool");
  s.displayData.name = name.get();
  EXPECT_EQ(sessionOptionsFromC(&s)->displayData.name, std::optional<std::string>("tool"));
  std::vector<WCHAR> bad = {0xD800, 0};
  s.displayData.name = bad.data();
  EXPECT_EQ(errorOf(sessionOptionsFromC(&s)), FWP_E_INVALID_PARAMETER);
}

TEST(FwpmConvert, FilterChange) {
  const engine::FilterChange change{engine::ChangeType::Delete, kLayer, 31};
  const FWPM_FILTER_CHANGE0 c = filterChangeToC(change);
  EXPECT_EQ(c.changeType, FWPM_CHANGE_DELETE);
  EXPECT_EQ(guidFromC(c.filterKey), kLayer);
  EXPECT_EQ(c.filterId, 31u);
}

}  // namespace
}  // namespace xfp::client
