#include "userspace/core/match.h"

#include <algorithm>
#include <bit>

#include <fmt/format.h>

#include "userspace/core/security.h"

namespace xfp {
namespace {

bool isUnsignedType(DataType t) {
  return t == DataType::Uint8 || t == DataType::Uint16 || t == DataType::Uint32 ||
         t == DataType::Uint64;
}

bool isIntegerType(DataType t) {
  return isUnsignedType(t) || t == DataType::Int8 || t == DataType::Int16 || t == DataType::Int32 ||
         t == DataType::Int64;
}

bool isTokenType(DataType t) {
  return t == DataType::TokenInformation || t == DataType::TokenAccessInformation;
}

bool isStringLike(DataType t) {
  return t == DataType::UnicodeString || t == DataType::ByteBlob;
}

// Case folding for EQUAL_CASE_INSENSITIVE: ASCII and Latin-1 letters (our choice; Windows
// uses its upcase table).
char16_t fold(char16_t c) {
  if ((c >= u'A' && c <= u'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7)) {
    return static_cast<char16_t>(c + 32);
  }
  return c;
}

// A byte blob holding a string loses one trailing UTF-16 NUL before a suffix test (§2.2).
Bytes stripTrailingNul(const Bytes& b) {
  if (b.size() >= 2 && b.size() % 2 == 0 && b[b.size() - 1] == 0 && b[b.size() - 2] == 0) {
    return Bytes(b.begin(), b.end() - 2);
  }
  return b;
}

bool endsWith(const Value& v, const Value& suffix) {
  if (v.type() == DataType::UnicodeString) {
    const std::u16string& s = v.asString();
    const std::u16string& t = suffix.asString();
    return s.size() >= t.size() && std::equal(t.rbegin(), t.rend(), s.rbegin());
  }
  const Bytes s = stripTrailingNul(v.asBytes());
  const Bytes t = stripTrailingNul(suffix.asBytes());
  return s.size() >= t.size() && std::equal(t.rbegin(), t.rend(), s.rbegin());
}

bool equalValues(const Value& incoming, const Value& c) {
  if (isTokenType(incoming.type()) && c.type() == DataType::SecurityDescriptor) {
    return accessCheck(incoming.asToken(), c.asBytes(), kActrlMatchFilter);
  }
  return incoming == c;
}

}  // namespace

bool isSortable(DataType t) {
  return isIntegerType(t) || t == DataType::ByteArray16 || t == DataType::ByteBlob ||
         t == DataType::UnicodeString;
}

int compareValues(const Value& a, const Value& b) {
  if (a.isUnsigned()) {
    return a.asUnsigned() < b.asUnsigned() ? -1 : (a.asUnsigned() > b.asUnsigned() ? 1 : 0);
  }
  if (a.isSigned()) {
    return a.asSigned() < b.asSigned() ? -1 : (a.asSigned() > b.asSigned() ? 1 : 0);
  }
  if (a.type() == DataType::UnicodeString) {
    const int c = a.asString().compare(b.asString());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  const Bytes& x = a.asBytes();
  const Bytes& y = b.asBytes();
  if (std::lexicographical_compare(x.begin(), x.end(), y.begin(), y.end())) {
    return -1;
  }
  return x == y ? 0 : 1;
}

Result<void> checkCondition(const FieldInfo& field, MatchType match, const ConditionValue& value) {
  const DataType ft = field.type;
  const DataType vt = value.type();
  const auto mismatch = [&](uint32_t code, const std::string& why) -> Result<void> {
    return fail(code,
                fmt::format("{} with {} on {} ({}): {}",
                            matchTypeName(match),
                            dataTypeName(vt),
                            field.condition,
                            dataTypeName(ft),
                            why));
  };
  if (static_cast<uint32_t>(match) >= kMatchTypeMax) {
    return fail(status::kInvalidEnumerator,
                fmt::format("unknown match type {}", static_cast<uint32_t>(match)));
  }
  // 1. The value type must fit the field (§2.4).
  switch (vt) {
    case DataType::Empty:
      if (match != MatchType::Equal) {
        return mismatch(status::kMatchTypeMismatch, "an FWP_EMPTY value needs FWP_MATCH_EQUAL");
      }
      return {};
    case DataType::V4AddrMask: {
      if (!(field.isAddress && ft == DataType::Uint32)) {
        return mismatch(status::kTypeMismatch, "address masks only fit IPv4 address fields");
      }
      if (match != MatchType::Equal) {  // Appendix B.8
        return mismatch(status::kTypeMismatch, "address masks are used with FWP_MATCH_EQUAL only");
      }
      const uint32_t mask = value.v4Mask()->mask;
      if (mask != 0 && std::countl_one(mask) + std::countr_zero(mask) != 32) {
        return fail(status::kInvalidNetMask,
                    fmt::format("non-contiguous IPv4 mask {}", formatIpv4(mask)));
      }
      return {};
    }
    case DataType::V6AddrMask:
      if (!(field.isAddress && ft == DataType::ByteArray16)) {
        return mismatch(status::kTypeMismatch, "prefixes only fit IPv6 address fields");
      }
      if (match != MatchType::Equal) {
        return mismatch(status::kTypeMismatch, "prefixes are used with FWP_MATCH_EQUAL only");
      }
      if (value.v6Mask()->prefixLength > 128) {
        return fail(status::kInvalidNetMask,
                    fmt::format("IPv6 prefix length {} > 128", value.v6Mask()->prefixLength));
      }
      return {};
    case DataType::Range: {
      const RangeValue& r = *value.range();
      if (r.low.type() != r.high.type()) {
        return fail(status::kInvalidRange, "range ends have different types");
      }
      if (r.low.type() != ft) {
        return mismatch(status::kTypeMismatch, "range ends must have the field's type");
      }
      if (match != MatchType::Range) {
        return mismatch(status::kMatchTypeMismatch, "a range value needs FWP_MATCH_RANGE");
      }
      if (!isSortable(ft)) {
        return mismatch(status::kMatchTypeMismatch, "the field's type is not sortable");
      }
      if (compareValues(r.low, r.high) > 0) {
        return fail(status::kInvalidRange,
                    fmt::format("range low {} > high {}", r.low.toString(), r.high.toString()));
      }
      return {};
    }
    case DataType::SecurityDescriptor:
      if (!isTokenType(ft)) {
        return mismatch(status::kTypeMismatch, "security descriptors only fit token fields");
      }
      if (match != MatchType::Equal) {
        return mismatch(status::kMatchTypeMismatch,
                        "security descriptors are tested with FWP_MATCH_EQUAL");
      }
      return validateSecurityDescriptor(value.plain()->asBytes());
    default:
      if (vt != ft) {
        return mismatch(status::kTypeMismatch, "no conversion between types");
      }
      break;
  }
  // 2. The match type must fit the (plain) value type (§2.2).
  switch (match) {
    case MatchType::Equal:
      return {};
    case MatchType::Greater:
    case MatchType::Less:
    case MatchType::GreaterOrEqual:
    case MatchType::LessOrEqual:
    case MatchType::NotEqual:
      return isSortable(vt) ? Result<void>{} : mismatch(status::kMatchTypeMismatch, "not sortable");
    case MatchType::Range:
      return mismatch(status::kMatchTypeMismatch, "FWP_MATCH_RANGE needs an FWP_RANGE_TYPE value");
    case MatchType::FlagsAllSet:
    case MatchType::FlagsAnySet:
    case MatchType::FlagsNoneSet:
      return isUnsignedType(vt) ? Result<void>{}
                                : mismatch(status::kMatchTypeMismatch, "flags need unsigned");
    case MatchType::EqualCaseInsensitive:
      return vt == DataType::UnicodeString
                 ? Result<void>{}
                 : mismatch(status::kMatchTypeMismatch, "needs FWP_UNICODE_STRING_TYPE");
    case MatchType::Prefix:
    case MatchType::NotPrefix:
      return isStringLike(vt) ? Result<void>{}
                              : mismatch(status::kMatchTypeMismatch, "needs a string or blob");
  }
  return mismatch(status::kMatchTypeMismatch, "unknown match type");
}

bool conditionMatches(MatchType match, const ConditionValue& value, const Value& incoming) {
  if (incoming.isEmpty()) {
    return match == MatchType::Equal && value.type() == DataType::Empty;
  }
  if (value.type() == DataType::Empty) {
    return false;
  }
  if (const V4AddrMask* m = value.v4Mask()) {
    const auto v = static_cast<uint32_t>(incoming.asUnsigned());
    return (v & m->mask) == (m->addr & m->mask);
  }
  if (const V6AddrMask* m = value.v6Mask()) {
    const Bytes& v = incoming.asBytes();
    int bits = m->prefixLength;
    for (size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
      const uint8_t mask = bits >= 8 ? 0xFF : static_cast<uint8_t>(0xFF << (8 - bits));
      if ((v[i] & mask) != (m->addr[i] & mask)) {
        return false;
      }
    }
    return true;
  }
  if (const RangeValue* r = value.range()) {
    return compareValues(r->low, incoming) <= 0 && compareValues(incoming, r->high) <= 0;
  }
  const Value& c = *value.plain();
  switch (match) {
    case MatchType::Equal:
      return equalValues(incoming, c);
    case MatchType::Greater:
      return compareValues(incoming, c) > 0;
    case MatchType::Less:
      return compareValues(incoming, c) < 0;
    case MatchType::GreaterOrEqual:
      return compareValues(incoming, c) >= 0;
    case MatchType::LessOrEqual:
      return compareValues(incoming, c) <= 0;
    case MatchType::NotEqual:
      return compareValues(incoming, c) != 0;
    case MatchType::FlagsAllSet:
      return (incoming.asUnsigned() & c.asUnsigned()) == c.asUnsigned();
    case MatchType::FlagsAnySet:
      return (incoming.asUnsigned() & c.asUnsigned()) != 0;
    case MatchType::FlagsNoneSet:
      return (incoming.asUnsigned() & c.asUnsigned()) == 0;
    case MatchType::EqualCaseInsensitive: {
      const std::u16string& a = incoming.asString();
      const std::u16string& b = c.asString();
      return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](auto x, auto y) {
               return fold(x) == fold(y);
             });
    }
    case MatchType::Prefix:
      return endsWith(incoming, c);
    case MatchType::NotPrefix:
      return !endsWith(incoming, c);
    case MatchType::Range:
      return false;  // a RANGE condition always carries a RangeValue (checked at add)
  }
  return false;
}

}  // namespace xfp
