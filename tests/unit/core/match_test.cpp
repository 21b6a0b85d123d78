// wfp-model.md §2.2-§2.5 and Appendix B.8: match types per data type, their edges, and the
// add-time checks (type and match-type compatibility, masks, ranges, EMPTY).
#include "userspace/core/match.h"

#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "tests/unit/core/core_test_util.h"
#include "userspace/core/security.h"
#include "userspace/core/value_text.h"

namespace xfp {
namespace {

FieldInfo synthField(DataType t, bool isAddress = false) {
  FieldInfo f;
  f.index = 0;
  f.name = "SYNTHETIC";
  f.condition = "SYNTHETIC";
  f.type = t;
  f.isAddress = isAddress;
  return f;
}

uint32_t checkStatus(const FieldInfo& f, MatchType m, const ConditionValue& v) {
  auto r = checkCondition(f, m, v);
  return r ? status::kSuccess : r.error().status;
}

// Asserts the condition is accepted at add time for `f` and then evaluates it.
bool matches(const FieldInfo& f, MatchType m, const ConditionValue& c, const Value& in) {
  auto r = checkCondition(f, m, c);
  EXPECT_TRUE(r.has_value()) << "condition rejected: " << (r ? "" : r.error().message);
  return conditionMatches(m, c, in);
}

const FieldInfo& transportField(std::string_view name) {
  return coretest::fieldOf(coretest::layerNamed("INBOUND_TRANSPORT_V4"), name);
}

// --- unsigned integers -----------------------------------------------------------------------

template <typename Make>
void checkUnsignedOrdering(DataType t, Make make, uint64_t max) {
  const FieldInfo f = synthField(t);
  const Value zero = make(0);
  const Value one = make(1);
  const Value top = make(max);
  const Value below = make(max - 1);
  EXPECT_TRUE(matches(f, MatchType::Equal, top, top));
  EXPECT_FALSE(matches(f, MatchType::Equal, top, below));
  EXPECT_TRUE(matches(f, MatchType::NotEqual, top, below));
  EXPECT_FALSE(matches(f, MatchType::NotEqual, zero, zero));
  EXPECT_TRUE(matches(f, MatchType::Greater, below, top));  // V > C
  EXPECT_FALSE(matches(f, MatchType::Greater, top, top));
  EXPECT_FALSE(matches(f, MatchType::Greater, top, zero));
  EXPECT_TRUE(matches(f, MatchType::Less, one, zero));  // V < C
  EXPECT_FALSE(matches(f, MatchType::Less, zero, zero));
  EXPECT_TRUE(matches(f, MatchType::GreaterOrEqual, top, top));
  EXPECT_FALSE(matches(f, MatchType::GreaterOrEqual, top, below));
  EXPECT_TRUE(matches(f, MatchType::LessOrEqual, zero, zero));
  EXPECT_FALSE(matches(f, MatchType::LessOrEqual, zero, one));
  // Full-width range matches everything; single-value range only that value.
  const RangeValue full{zero, top};
  EXPECT_TRUE(matches(f, MatchType::Range, full, zero));
  EXPECT_TRUE(matches(f, MatchType::Range, full, top));
  const RangeValue single{top, top};
  EXPECT_TRUE(matches(f, MatchType::Range, single, top));
  EXPECT_FALSE(matches(f, MatchType::Range, single, below));
  const RangeValue lowSingle{zero, zero};
  EXPECT_TRUE(matches(f, MatchType::Range, lowSingle, zero));
  EXPECT_FALSE(matches(f, MatchType::Range, lowSingle, one));
  // low > high is rejected.
  EXPECT_EQ(checkStatus(f, MatchType::Range, RangeValue{top, zero}), status::kInvalidRange);
  EXPECT_EQ(checkStatus(f, MatchType::Range, RangeValue{one, zero}), status::kInvalidRange);
}

TEST(CoreMatch, Uint8OrderingAndRanges) {
  checkUnsignedOrdering(
      DataType::Uint8, [](uint64_t v) { return Value::uint8(uint8_t(v)); }, 0xFF);
}
TEST(CoreMatch, Uint16OrderingAndRanges) {
  checkUnsignedOrdering(
      DataType::Uint16, [](uint64_t v) { return Value::uint16(uint16_t(v)); }, 0xFFFF);
}
TEST(CoreMatch, Uint32OrderingAndRanges) {
  checkUnsignedOrdering(
      DataType::Uint32, [](uint64_t v) { return Value::uint32(uint32_t(v)); }, 0xFFFFFFFFu);
}
TEST(CoreMatch, Uint64OrderingAndRanges) {
  checkUnsignedOrdering(
      DataType::Uint64,
      [](uint64_t v) { return Value::uint64(v); },
      std::numeric_limits<uint64_t>::max());
}

// --- signed integers -------------------------------------------------------------------------

template <typename T, typename Make>
void checkSignedOrdering(DataType t, Make make) {
  const FieldInfo f = synthField(t);
  const Value mn = make(std::numeric_limits<T>::min());
  const Value mx = make(std::numeric_limits<T>::max());
  const Value m1 = make(-1);
  const Value zero = make(0);
  const Value one = make(1);
  EXPECT_TRUE(matches(f, MatchType::Equal, mn, mn));
  EXPECT_FALSE(matches(f, MatchType::Equal, mn, mx));
  EXPECT_TRUE(matches(f, MatchType::NotEqual, m1, one));
  // Signed comparison: -1 < 0 < 1, min < max (a bitwise/unsigned comparison would fail these).
  EXPECT_TRUE(matches(f, MatchType::Less, zero, m1));
  EXPECT_TRUE(matches(f, MatchType::Greater, m1, one));
  EXPECT_TRUE(matches(f, MatchType::Less, mx, mn));
  EXPECT_FALSE(matches(f, MatchType::Greater, mx, mn));
  EXPECT_TRUE(matches(f, MatchType::GreaterOrEqual, mn, mn));
  EXPECT_TRUE(matches(f, MatchType::LessOrEqual, mx, mx));
  EXPECT_TRUE(matches(f, MatchType::Range, RangeValue{m1, one}, zero));
  EXPECT_TRUE(matches(f, MatchType::Range, RangeValue{m1, one}, m1));
  EXPECT_FALSE(matches(f, MatchType::Range, RangeValue{m1, one}, mn));
  EXPECT_FALSE(matches(f, MatchType::Range, RangeValue{m1, one}, mx));
  EXPECT_TRUE(matches(f, MatchType::Range, RangeValue{mn, mx}, mn));
  EXPECT_TRUE(matches(f, MatchType::Range, RangeValue{mn, mx}, mx));
  EXPECT_EQ(checkStatus(f, MatchType::Range, RangeValue{one, m1}), status::kInvalidRange);
  EXPECT_EQ(checkStatus(f, MatchType::Range, RangeValue{mx, mn}), status::kInvalidRange);
  // FLAGS_* are for unsigned integers only.
  EXPECT_EQ(checkStatus(f, MatchType::FlagsAllSet, one), status::kMatchTypeMismatch);
  EXPECT_EQ(checkStatus(f, MatchType::FlagsAnySet, one), status::kMatchTypeMismatch);
  EXPECT_EQ(checkStatus(f, MatchType::FlagsNoneSet, one), status::kMatchTypeMismatch);
}

TEST(CoreMatch, Int8SignedOrdering) {
  checkSignedOrdering<int8_t>(DataType::Int8, [](int64_t v) { return Value::int8(int8_t(v)); });
}
TEST(CoreMatch, Int16SignedOrdering) {
  checkSignedOrdering<int16_t>(DataType::Int16, [](int64_t v) { return Value::int16(int16_t(v)); });
}
TEST(CoreMatch, Int32SignedOrdering) {
  checkSignedOrdering<int32_t>(DataType::Int32, [](int64_t v) { return Value::int32(int32_t(v)); });
}
TEST(CoreMatch, Int64SignedOrdering) {
  checkSignedOrdering<int64_t>(DataType::Int64, [](int64_t v) { return Value::int64(v); });
}

TEST(CoreMatch, RangeWithMixedTypesRejected) {
  const FieldInfo& port = transportField("IP_LOCAL_PORT");
  EXPECT_NE(checkStatus(port, MatchType::Range, RangeValue{Value::uint16(1), Value::uint32(5)}),
            status::kSuccess);
  EXPECT_NE(checkStatus(port, MatchType::Range, RangeValue{Value::uint32(1), Value::uint32(5)}),
            status::kSuccess);
  EXPECT_EQ(checkStatus(port, MatchType::Range, coretest::range16(1, 5)), status::kSuccess);
}

TEST(CoreMatch, RangeValueOnlyWithRangeMatch) {
  const FieldInfo& port = transportField("IP_LOCAL_PORT");
  EXPECT_NE(checkStatus(port, MatchType::Equal, coretest::range16(1, 5)), status::kSuccess);
  // and RANGE with a plain value is not a range
  EXPECT_NE(checkStatus(port, MatchType::Range, Value::uint16(5)), status::kSuccess);
}

// --- IPv4 masks ------------------------------------------------------------------------------

TEST(CoreMatch, V4MaskPrefixLengths) {
  const FieldInfo& addr = transportField("IP_REMOTE_ADDRESS");
  const uint32_t a = 0x0A010203;  // 10.1.2.3
  // /0 matches everything
  EXPECT_TRUE(matches(addr, MatchType::Equal, V4AddrMask{0xC0A80000, 0}, Value::uint32(a)));
  // /1
  EXPECT_TRUE(matches(
      addr, MatchType::Equal, V4AddrMask{0x00000000, 0x80000000}, Value::uint32(0x7FFFFFFF)));
  EXPECT_FALSE(matches(
      addr, MatchType::Equal, V4AddrMask{0x00000000, 0x80000000}, Value::uint32(0x80000000)));
  // /24, address not pre-masked (§2.5: do not require addr & ~mask == 0)
  EXPECT_TRUE(
      matches(addr, MatchType::Equal, V4AddrMask{0x0A0102FF, 0xFFFFFF00}, Value::uint32(a)));
  EXPECT_FALSE(
      matches(addr, MatchType::Equal, V4AddrMask{0x0A0103FF, 0xFFFFFF00}, Value::uint32(a)));
  // /32
  EXPECT_TRUE(matches(addr, MatchType::Equal, V4AddrMask{a, 0xFFFFFFFF}, Value::uint32(a)));
  EXPECT_FALSE(matches(addr, MatchType::Equal, V4AddrMask{a, 0xFFFFFFFF}, Value::uint32(a + 1)));
}

TEST(CoreMatch, V4NonContiguousMaskRejected) {
  const FieldInfo& addr = transportField("IP_REMOTE_ADDRESS");
  EXPECT_EQ(checkStatus(addr, MatchType::Equal, V4AddrMask{0x0A000000, 0xFF00FF00}),
            status::kInvalidNetMask);
  EXPECT_EQ(checkStatus(addr, MatchType::Equal, V4AddrMask{0x0A000000, 0x00FFFFFF}),
            status::kInvalidNetMask);
  EXPECT_EQ(checkStatus(addr, MatchType::Equal, V4AddrMask{0x0A000000, 0xFFFFFF01}),
            status::kInvalidNetMask);
}

TEST(CoreMatch, V4MaskOnlyWithEqualAndOnAddressFields) {
  const FieldInfo& addr = transportField("IP_REMOTE_ADDRESS");
  for (MatchType m : {MatchType::NotEqual,
                      MatchType::Greater,
                      MatchType::Less,
                      MatchType::Range,
                      MatchType::FlagsAnySet}) {
    EXPECT_EQ(checkStatus(addr, m, V4AddrMask{0x0A000000, 0xFF000000}), status::kTypeMismatch)
        << matchTypeName(m);
  }
  // A UINT32 field that is not an address does not accept a mask.
  const FieldInfo& flags = transportField("FLAGS");
  EXPECT_EQ(checkStatus(flags, MatchType::Equal, V4AddrMask{0x0A000000, 0xFF000000}),
            status::kTypeMismatch);
  // v4 mask on a v6 address field is a type mismatch.
  const FieldInfo& v6 =
      coretest::fieldOf(coretest::layerNamed("INBOUND_TRANSPORT_V6"), "IP_REMOTE_ADDRESS");
  EXPECT_EQ(checkStatus(v6, MatchType::Equal, V4AddrMask{0x0A000000, 0xFF000000}),
            status::kTypeMismatch);
}

// --- IPv6 prefixes ---------------------------------------------------------------------------

std::array<uint8_t, 16> v6(std::initializer_list<uint8_t> head) {
  std::array<uint8_t, 16> a{};
  size_t i = 0;
  for (uint8_t b : head) {
    a[i++] = b;
  }
  return a;
}

TEST(CoreMatch, V6PrefixLengths) {
  const FieldInfo& addr =
      coretest::fieldOf(coretest::layerNamed("INBOUND_TRANSPORT_V6"), "IP_REMOTE_ADDRESS");
  EXPECT_EQ(addr.type, DataType::ByteArray16);
  auto base = v6({0xfd, 0x00, 0, 0, 0, 0, 0, 1, 0xaa, 0xbb, 0, 0, 0, 0, 0, 0x10});
  auto in = base;
  in[15] = 0x11;  // differs only in the last bit
  EXPECT_TRUE(
      matches(addr, MatchType::Equal, V6AddrMask{v6({0x20, 0x01}), 0}, Value::byteArray16(base)));
  EXPECT_TRUE(matches(addr, MatchType::Equal, V6AddrMask{base, 64}, Value::byteArray16(in)));
  auto otherNet = base;
  otherNet[7] = 2;
  EXPECT_FALSE(matches(addr, MatchType::Equal, V6AddrMask{base, 64}, Value::byteArray16(otherNet)));
  EXPECT_TRUE(matches(addr, MatchType::Equal, V6AddrMask{base, 127}, Value::byteArray16(in)));
  auto in2 = base;
  in2[15] = 0x12;  // differs in bit 126
  EXPECT_FALSE(matches(addr, MatchType::Equal, V6AddrMask{base, 127}, Value::byteArray16(in2)));
  EXPECT_TRUE(matches(addr, MatchType::Equal, V6AddrMask{base, 128}, Value::byteArray16(base)));
  EXPECT_FALSE(matches(addr, MatchType::Equal, V6AddrMask{base, 128}, Value::byteArray16(in)));
  EXPECT_EQ(checkStatus(addr, MatchType::Equal, V6AddrMask{base, 129}), status::kInvalidNetMask);
  EXPECT_EQ(checkStatus(addr, MatchType::Equal, V6AddrMask{base, 255}), status::kInvalidNetMask);
  EXPECT_EQ(checkStatus(addr, MatchType::NotEqual, V6AddrMask{base, 64}), status::kTypeMismatch);
}

TEST(CoreMatch, V4MappedV6Addresses) {
  const FieldInfo& addr6 =
      coretest::fieldOf(coretest::layerNamed("INBOUND_TRANSPORT_V6"), "IP_REMOTE_ADDRESS");
  const auto mapped = v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1});
  const auto prefix = v6({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff});
  EXPECT_TRUE(matches(addr6, MatchType::Equal, V6AddrMask{prefix, 96}, Value::byteArray16(mapped)));
  const auto native = v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 1});
  EXPECT_FALSE(
      matches(addr6, MatchType::Equal, V6AddrMask{prefix, 96}, Value::byteArray16(native)));
  // A v4-mapped address is a BYTE_ARRAY16, distinct from the IPv4 UINT32 field type.
  const FieldInfo& addr4 = transportField("IP_REMOTE_ADDRESS");
  EXPECT_EQ(checkStatus(addr4, MatchType::Equal, Value::byteArray16(mapped)),
            status::kTypeMismatch);
  EXPECT_EQ(checkStatus(addr6, MatchType::Equal, Value::uint32(0x0A000001)), status::kTypeMismatch);
}

// --- flags -----------------------------------------------------------------------------------

TEST(CoreMatch, FlagsAllAnyNoneSet) {
  const FieldInfo& flags = transportField("FLAGS");
  const Value in = Value::uint32(0x25);  // 0x20 | 0x4 | 0x1
  EXPECT_TRUE(matches(flags, MatchType::FlagsAllSet, Value::uint32(0x21), in));
  EXPECT_FALSE(matches(flags, MatchType::FlagsAllSet, Value::uint32(0x23), in));
  EXPECT_TRUE(matches(flags, MatchType::FlagsAnySet, Value::uint32(0x30), in));
  EXPECT_FALSE(matches(flags, MatchType::FlagsAnySet, Value::uint32(0x1A), in));
  EXPECT_TRUE(matches(flags, MatchType::FlagsNoneSet, Value::uint32(0x1A), in));
  EXPECT_FALSE(matches(flags, MatchType::FlagsNoneSet, Value::uint32(0x08 | 0x04), in));
}

TEST(CoreMatch, FlagsWithZeroMask) {
  const FieldInfo& flags = transportField("FLAGS");
  for (uint32_t v : {0u, 0x25u, 0xFFFFFFFFu}) {
    EXPECT_TRUE(
        matches(flags, MatchType::FlagsAllSet, Value::uint32(0), Value::uint32(v)));  // (V&0)==0
    EXPECT_FALSE(matches(flags, MatchType::FlagsAnySet, Value::uint32(0), Value::uint32(v)));
    EXPECT_TRUE(matches(flags, MatchType::FlagsNoneSet, Value::uint32(0), Value::uint32(v)));
  }
}

TEST(CoreMatch, FlagsOnUint8AndUint64) {
  const FieldInfo u8 = synthField(DataType::Uint8);
  EXPECT_TRUE(matches(u8, MatchType::FlagsAllSet, Value::uint8(0x81), Value::uint8(0xFF)));
  const FieldInfo u64 = synthField(DataType::Uint64);
  EXPECT_TRUE(matches(u64,
                      MatchType::FlagsAnySet,
                      Value::uint64(1ULL << 63),
                      Value::uint64(0x8000000000000001ULL)));
  EXPECT_FALSE(matches(u64,
                       MatchType::FlagsAnySet,
                       Value::uint64(1ULL << 62),
                       Value::uint64(0x8000000000000001ULL)));
}

// --- strings and blobs -----------------------------------------------------------------------

TEST(CoreMatch, UnicodePrefixIsSuffixTest) {
  const FieldInfo s = synthField(DataType::UnicodeString);
  const Value v = Value::unicodeString(u"c:\\windows\\system32\\svchost.exe");
  EXPECT_TRUE(matches(s, MatchType::Prefix, Value::unicodeString(u"svchost.exe"), v));
  EXPECT_FALSE(matches(s, MatchType::Prefix, Value::unicodeString(u"c:\\windows"), v));
  EXPECT_TRUE(matches(s, MatchType::NotPrefix, Value::unicodeString(u"c:\\windows"), v));
  EXPECT_FALSE(matches(s, MatchType::NotPrefix, Value::unicodeString(u".exe"), v));
  EXPECT_TRUE(matches(s, MatchType::Prefix, Value::unicodeString(u""), v));
  EXPECT_FALSE(matches(
      s, MatchType::Prefix, Value::unicodeString(u"xc:\\windows\\system32\\svchost.exe"), v));
}

TEST(CoreMatch, UnicodeEqualCaseInsensitive) {
  const FieldInfo s = synthField(DataType::UnicodeString);
  EXPECT_TRUE(matches(s,
                      MatchType::EqualCaseInsensitive,
                      Value::unicodeString(u"Example.COM"),
                      Value::unicodeString(u"example.com")));
  EXPECT_FALSE(matches(s,
                       MatchType::EqualCaseInsensitive,
                       Value::unicodeString(u"example.co"),
                       Value::unicodeString(u"example.com")));
  EXPECT_FALSE(matches(s,
                       MatchType::Equal,
                       Value::unicodeString(u"Example.COM"),
                       Value::unicodeString(u"example.com")));
  // EQUAL_CASE_INSENSITIVE is for strings only.
  EXPECT_EQ(
      checkStatus(
          synthField(DataType::ByteBlob), MatchType::EqualCaseInsensitive, Value::byteBlob({1})),
      status::kMatchTypeMismatch);
  EXPECT_EQ(checkStatus(
                transportField("IP_LOCAL_PORT"), MatchType::EqualCaseInsensitive, Value::uint16(1)),
            status::kMatchTypeMismatch);
}

TEST(CoreMatch, UnicodeOrderingByCodeUnit) {
  const FieldInfo s = synthField(DataType::UnicodeString);
  EXPECT_TRUE(
      matches(s, MatchType::Greater, Value::unicodeString(u"a"), Value::unicodeString(u"b")));
  EXPECT_TRUE(matches(s, MatchType::Less, Value::unicodeString(u"a"), Value::unicodeString(u"B")));
  EXPECT_TRUE(matches(s, MatchType::Less, Value::unicodeString(u"ab"), Value::unicodeString(u"a")));
}

TEST(CoreMatch, AppIdBlobSuffixStripsTrailingNul) {
  const FieldInfo& app =
      coretest::fieldOf(coretest::layerNamed("ALE_AUTH_CONNECT_V4"), "ALE_APP_ID");
  ASSERT_EQ(app.type, DataType::ByteBlob);
  const Value in = Value::byteBlob(appIdFromPath("/usr/bin/curl"));
  // Both sides carry the UTF-16 NUL terminator; one trailing NUL is stripped from each.
  const Value suffix = Value::byteBlob(appIdFromPath("curl"));
  ASSERT_GE(suffix.asBytes().size(), 2u);
  EXPECT_EQ(suffix.asBytes()[suffix.asBytes().size() - 1], 0);
  EXPECT_TRUE(matches(app, MatchType::Prefix, suffix, in));
  EXPECT_FALSE(matches(app, MatchType::NotPrefix, suffix, in));
  const Value other = Value::byteBlob(appIdFromPath("wget"));
  EXPECT_FALSE(matches(app, MatchType::Prefix, other, in));
  EXPECT_TRUE(matches(app, MatchType::NotPrefix, other, in));
  // A suffix without the NUL also works (stripping is "one trailing NUL if present").
  Bytes noNul = suffix.asBytes();
  noNul.resize(noNul.size() - 2);
  EXPECT_TRUE(matches(app, MatchType::Prefix, Value::byteBlob(noNul), in));
  // EQUAL on blobs is exact (§2.6).
  EXPECT_TRUE(matches(app, MatchType::Equal, Value::byteBlob(appIdFromPath("/usr/bin/curl")), in));
  EXPECT_FALSE(matches(app, MatchType::Equal, Value::byteBlob(noNul), in));
  // appIdFromPath lower-cases (§2.3).
  EXPECT_EQ(appIdFromPath("/USR/Bin/CURL"), appIdFromPath("/usr/bin/curl"));
}

TEST(CoreMatch, ByteArray16Ordering) {
  const FieldInfo& addr =
      coretest::fieldOf(coretest::layerNamed("INBOUND_TRANSPORT_V6"), "IP_REMOTE_ADDRESS");
  const Value lo = Value::byteArray16(v6({0x01, 0xFF}));
  const Value hi = Value::byteArray16(v6({0x02, 0x00}));
  EXPECT_TRUE(matches(addr, MatchType::Greater, lo, hi));  // memcmp, first byte decides
  EXPECT_FALSE(matches(addr, MatchType::Greater, hi, lo));
  EXPECT_TRUE(
      matches(addr, MatchType::Range, RangeValue{lo, hi}, Value::byteArray16(v6({0x01, 0xFF, 5}))));
  EXPECT_FALSE(
      matches(addr, MatchType::Range, RangeValue{lo, hi}, Value::byteArray16(v6({0x02, 0x00, 1}))));
  EXPECT_TRUE(matches(addr, MatchType::NotEqual, lo, hi));
  EXPECT_EQ(checkStatus(addr, MatchType::Range, RangeValue{hi, lo}), status::kInvalidRange);
  EXPECT_LT(compareValues(lo, hi), 0);
  EXPECT_GT(compareValues(hi, lo), 0);
  EXPECT_EQ(compareValues(lo, lo), 0);
}

TEST(CoreMatch, ByteBlobOrderingShorterIsLess) {
  const FieldInfo b = synthField(DataType::ByteBlob);
  const Value ab = Value::byteBlob({0x61, 0x62});
  const Value abc = Value::byteBlob({0x61, 0x62, 0x63});
  const Value b0 = Value::byteBlob({0x62});
  const Value high = Value::byteBlob({0x80});
  EXPECT_LT(compareValues(ab, abc), 0);
  EXPECT_GT(compareValues(b0, abc), 0);   // first byte decides before length
  EXPECT_GT(compareValues(high, b0), 0);  // unsigned bytes
  EXPECT_TRUE(matches(b, MatchType::Less, abc, ab));
  EXPECT_TRUE(matches(b, MatchType::Greater, ab, abc));
  EXPECT_TRUE(matches(b, MatchType::Greater, b0, high));
  EXPECT_FALSE(matches(b, MatchType::Equal, ab, abc));
  EXPECT_TRUE(matches(b, MatchType::Equal, ab, Value::byteBlob({0x61, 0x62})));
}

TEST(CoreMatch, ByteArray6OnlyEqualityMatches) {
  const FieldInfo& mac =
      coretest::fieldOf(coretest::layerNamed("INBOUND_MAC_FRAME_ETHERNET"), "MAC_REMOTE_ADDRESS");
  ASSERT_EQ(mac.type, DataType::ByteArray6);
  const Value m = Value::byteArray6({0, 1, 2, 3, 4, 5});
  EXPECT_TRUE(matches(mac, MatchType::Equal, m, m));
  EXPECT_FALSE(matches(mac, MatchType::Equal, m, Value::byteArray6({0, 1, 2, 3, 4, 6})));
  for (MatchType t : {MatchType::Greater,
                      MatchType::Less,
                      MatchType::GreaterOrEqual,
                      MatchType::LessOrEqual,
                      MatchType::Prefix,
                      MatchType::FlagsAllSet}) {
    EXPECT_EQ(checkStatus(mac, t, m), status::kMatchTypeMismatch) << matchTypeName(t);
  }
  EXPECT_EQ(checkStatus(mac, MatchType::Range, RangeValue{m, m}), status::kMatchTypeMismatch);
}

// --- FWP_EMPTY -------------------------------------------------------------------------------

TEST(CoreMatch, EmptyConditionOnlyWithEqual) {
  const FieldInfo& port = transportField("IP_LOCAL_PORT");
  EXPECT_EQ(checkStatus(port, MatchType::Equal, ConditionValue()), status::kSuccess);
  for (MatchType m : {MatchType::NotEqual,
                      MatchType::Greater,
                      MatchType::LessOrEqual,
                      MatchType::FlagsAnySet,
                      MatchType::Prefix}) {
    EXPECT_NE(checkStatus(port, m, ConditionValue()), status::kSuccess) << matchTypeName(m);
  }
}

TEST(CoreMatch, EmptyMatchesOnlyEmpty) {
  EXPECT_TRUE(conditionMatches(MatchType::Equal, ConditionValue(), Value()));
  EXPECT_FALSE(conditionMatches(MatchType::Equal, ConditionValue(), Value::uint16(0)));
  EXPECT_FALSE(conditionMatches(MatchType::Equal, ConditionValue(), Value::uint32(0)));
}

TEST(CoreMatch, AnyOtherConditionVsEmptyIncomingIsFalse) {
  const Value empty;
  EXPECT_FALSE(conditionMatches(MatchType::Equal, Value::uint16(0), empty));
  EXPECT_FALSE(conditionMatches(MatchType::NotEqual, Value::uint16(80), empty));
  EXPECT_FALSE(conditionMatches(MatchType::Less, Value::uint16(80), empty));
  EXPECT_FALSE(conditionMatches(MatchType::GreaterOrEqual, Value::uint16(0), empty));
  EXPECT_FALSE(conditionMatches(MatchType::Range, coretest::range16(0, 0xFFFF), empty));
  EXPECT_FALSE(conditionMatches(MatchType::FlagsNoneSet, Value::uint32(1), empty));
  EXPECT_FALSE(conditionMatches(MatchType::FlagsAllSet, Value::uint32(0), empty));
  EXPECT_FALSE(conditionMatches(MatchType::Equal, V4AddrMask{0, 0}, empty));
  EXPECT_FALSE(conditionMatches(MatchType::NotPrefix, Value::unicodeString(u"x"), empty));
}

// --- type compatibility ----------------------------------------------------------------------

TEST(CoreMatch, NoTypeConversion) {
  const FieldInfo& proto = transportField("IP_PROTOCOL");
  ASSERT_EQ(proto.type, DataType::Uint8);
  EXPECT_EQ(checkStatus(proto, MatchType::Equal, Value::uint16(6)), status::kTypeMismatch);
  EXPECT_EQ(checkStatus(proto, MatchType::Equal, Value::uint32(6)), status::kTypeMismatch);
  EXPECT_EQ(checkStatus(proto, MatchType::Equal, Value::int8(6)), status::kTypeMismatch);
  EXPECT_EQ(checkStatus(proto, MatchType::Equal, Value::uint8(6)), status::kSuccess);
  const FieldInfo& port = transportField("IP_LOCAL_PORT");
  EXPECT_EQ(checkStatus(port, MatchType::Equal, Value::uint32(80)), status::kTypeMismatch);
}

TEST(CoreMatch, SecurityDescriptorOnlyOnTokenFields) {
  auto sd = securityDescriptorFromSddl("D:(A;;0x1;;;S-1-22-1-1000)");
  ASSERT_TRUE(sd.has_value()) << sd.error().message;
  const FieldInfo& user =
      coretest::fieldOf(coretest::layerNamed("ALE_AUTH_CONNECT_V4"), "ALE_USER_ID");
  EXPECT_EQ(checkStatus(user, MatchType::Equal, Value::securityDescriptor(*sd)), status::kSuccess);
  EXPECT_EQ(checkStatus(
                transportField("IP_LOCAL_PORT"), MatchType::Equal, Value::securityDescriptor(*sd)),
            status::kTypeMismatch);
  EXPECT_EQ(
      checkStatus(synthField(DataType::ByteBlob), MatchType::Equal, Value::securityDescriptor(*sd)),
      status::kTypeMismatch);
}

TEST(CoreMatch, MalformedSecurityDescriptorRejected) {
  const FieldInfo& user =
      coretest::fieldOf(coretest::layerNamed("ALE_AUTH_CONNECT_V4"), "ALE_USER_ID");
  EXPECT_EQ(checkStatus(user, MatchType::Equal, Value::securityDescriptor({1, 0, 0})),
            status::kInvalidSecurityDescriptor);
}

TEST(CoreMatch, SecurityDescriptorAccessCheck) {
  auto sd = securityDescriptorFromSddl("D:(D;;0x1;;;S-1-22-2-50)(A;;0x1;;;S-1-22-1-1000)");
  ASSERT_TRUE(sd.has_value()) << sd.error().message;
  const Value c = Value::securityDescriptor(*sd);
  EXPECT_TRUE(conditionMatches(MatchType::Equal, c, Value::token(Token{1000, {1000}})));
  EXPECT_FALSE(conditionMatches(MatchType::Equal, c, Value::token(Token{1000, {50}})));  // denied
  EXPECT_FALSE(conditionMatches(MatchType::Equal, c, Value::token(Token{1001, {1001}})));
}

TEST(CoreMatch, MatchTypeMismatches) {
  const FieldInfo& port = transportField("IP_LOCAL_PORT");
  EXPECT_EQ(checkStatus(port, MatchType::Prefix, Value::uint16(80)), status::kMatchTypeMismatch);
  EXPECT_EQ(checkStatus(port, MatchType::NotPrefix, Value::uint16(80)), status::kMatchTypeMismatch);
  EXPECT_EQ(checkStatus(synthField(DataType::Int32), MatchType::FlagsAllSet, Value::int32(1)),
            status::kMatchTypeMismatch);
  EXPECT_EQ(
      checkStatus(synthField(DataType::ByteArray16), MatchType::Prefix, Value::byteArray16({})),
      status::kMatchTypeMismatch);
  EXPECT_EQ(
      checkStatus(
          synthField(DataType::UnicodeString), MatchType::FlagsAnySet, Value::unicodeString(u"x")),
      status::kMatchTypeMismatch);
  // An undefined match type is rejected (the code is not pinned by the spec).
  EXPECT_NE(checkStatus(port, static_cast<MatchType>(kMatchTypeMax), Value::uint16(80)),
            status::kSuccess);
}

TEST(CoreMatch, SortableTypes) {
  for (DataType t : {DataType::Uint8,
                     DataType::Uint16,
                     DataType::Uint32,
                     DataType::Uint64,
                     DataType::Int8,
                     DataType::Int16,
                     DataType::Int32,
                     DataType::Int64,
                     DataType::ByteArray16,
                     DataType::ByteBlob,
                     DataType::UnicodeString}) {
    EXPECT_TRUE(isSortable(t)) << dataTypeName(t);
  }
  for (DataType t : {DataType::ByteArray6,
                     DataType::Sid,
                     DataType::SecurityDescriptor,
                     DataType::Empty,
                     DataType::TokenAccessInformation}) {
    EXPECT_FALSE(isSortable(t)) << dataTypeName(t);
  }
}

}  // namespace
}  // namespace xfp
