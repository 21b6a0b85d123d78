#include "userspace/rpc/codec.h"

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "userspace/core/wfp_constants.h"

namespace xfp::rpc {
namespace {

// Where a field sits in the message being decoded: a chain of frames on the stack, rendered as
// "filter.conditions[2].value" only when an error names it, so decoding a good message (every
// object of an enumeration) builds no strings.
class Path {
 public:
  explicit Path(std::string_view root) : name_(root) {}

  [[nodiscard]] Path field(std::string_view name) const { return Path(this, name, 0); }
  [[nodiscard]] Path at(size_t index) const { return Path(this, {}, index); }

  [[nodiscard]] std::string str() const {
    if (parent_ == nullptr) {
      return std::string(name_);
    }
    if (name_.empty()) {
      return fmt::format("{}[{}]", parent_->str(), index_);
    }
    return fmt::format("{}.{}", parent_->str(), name_);
  }

 private:
  Path(const Path* parent, std::string_view name, size_t index)
      : parent_(parent), name_(name), index_(index) {}

  const Path* parent_ = nullptr;
  std::string_view name_;  // empty: an element of the parent list
  size_t index_ = 0;
};

tl::unexpected<Error> bad(uint32_t code, const Path& p, const std::string& what) {
  return fail(code, p.str() + ": " + what);
}

// ---- Text ----

// The code point of the well-formed UTF-8 sequence at s[i] (RFC 3629: shortest form, no
// surrogates, at most U+10FFFF), advancing i past it; -1 (i unchanged) if none starts there.
int32_t nextCodePoint(std::string_view s, size_t& i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t c = byte(i);
  if (c < 0x80) {
    ++i;
    return c;
  }
  size_t n = 0;
  uint32_t cp = 0;
  uint32_t min = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2, cp = c & 0x1Fu, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, cp = c & 0x0Fu, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, cp = c & 0x07u, min = 0x10000;
  } else {
    return -1;  // a continuation byte, or 0xF8..0xFF
  }
  if (s.size() - i < n) {
    return -1;
  }
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      return -1;
    }
    cp = (cp << 6) | (byte(i + k) & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) {
    return -1;
  }
  i += n;
  return static_cast<int32_t>(cp);
}

// The offset of the first byte that does not start a well-formed sequence, or npos.
size_t invalidUtf8At(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (nextCodePoint(s, i) < 0) {
      return i;
    }
  }
  return std::string_view::npos;
}

// Text the core holds as UTF-8, made fit for a proto3 string: as is when valid (the common case,
// one pass), else with U+FFFD for every byte that starts no well-formed sequence.
std::string wireText(const std::string& s) {
  if (invalidUtf8At(s) == std::string_view::npos) {
    return s;
  }
  std::string out;
  out.reserve(s.size() + 8);
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    if (nextCodePoint(s, i) >= 0) {
      out.append(s, start, i - start);
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

bool wellFormedUtf16(const std::u16string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const char16_t c = s[i];
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < s.size() && s[i + 1] >= 0xDC00 && s[i + 1] < 0xE000) {
      ++i;  // a pair
    } else if (c >= 0xD800 && c < 0xE000) {
      return false;
    }
  }
  return true;
}

Result<void> checkSize(size_t size, const Path& p, const char* unit) {
  if (size > kMaxFieldBytes) {
    return bad(
        status::kOutOfBounds, p, fmt::format("{} {}, at most {}", size, unit, kMaxFieldBytes));
  }
  return {};
}

Result<std::string> decodeText(const std::string& s, const Path& p) {
  if (auto r = checkSize(s.size(), p, "bytes of text"); !r) {
    return tl::unexpected(r.error());
  }
  if (const size_t at = invalidUtf8At(s); at != std::string_view::npos) {
    return bad(status::kInvalidParameter, p, fmt::format("invalid UTF-8 at byte {}", at));
  }
  return s;
}

Result<std::u16string> decodeUtf8ToUtf16(const std::string& s, const Path& p) {
  if (auto r = checkSize(s.size(), p, "bytes of text"); !r) {
    return tl::unexpected(r.error());
  }
  std::u16string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const int32_t cp = nextCodePoint(s, i);
    if (cp < 0) {
      return bad(status::kInvalidParameter, p, fmt::format("invalid UTF-8 at byte {}", i));
    }
    if (cp >= 0x10000) {
      out += static_cast<char16_t>(0xD800 + ((cp - 0x10000) >> 10));
      out += static_cast<char16_t>(0xDC00 + ((cp - 0x10000) & 0x3FF));
    } else {
      out += static_cast<char16_t>(cp);
    }
  }
  return out;
}

// ---- Bytes and GUIDs ----

std::string wireBytes(const Bytes& b) {
  return std::string(b.begin(), b.end());
}

Result<Bytes> decodeBytes(const std::string& s, const Path& p) {
  if (auto r = checkSize(s.size(), p, "bytes"); !r) {
    return tl::unexpected(r.error());
  }
  return Bytes(s.begin(), s.end());
}

Result<Guid> decodeGuid(const std::string& s, const Path& p) {
  if (s.empty()) {
    return Guid{};  // proto3's unset bytes: the zero GUID
  }
  if (s.size() != 16) {
    return bad(status::kInvalidParameter, p, fmt::format("a GUID is 16 bytes, got {}", s.size()));
  }
  Guid g;
  std::memcpy(g.bytes.data(), s.data(), 16);
  return g;
}

// An `optional bytes` GUID: absent is no GUID; present must be 16 bytes (an empty one would be
// ambiguous between "none" and the zero GUID).
Result<std::optional<Guid>> decodeOptionalGuid(bool present, const std::string& s, const Path& p) {
  if (!present) {
    return std::optional<Guid>{};
  }
  if (s.size() != 16) {
    return bad(status::kInvalidParameter, p, fmt::format("a GUID is 16 bytes, got {}", s.size()));
  }
  Guid g;
  std::memcpy(g.bytes.data(), s.data(), 16);
  return std::optional<Guid>{g};
}

// ---- Values ----

constexpr bool isByteData(DataType t) {
  return t == DataType::ByteArray16 || t == DataType::ByteArray6 || t == DataType::ByteBlob ||
         t == DataType::Sid || t == DataType::SecurityDescriptor;
}

Result<Token> decodeToken(const v1::Token& m, const Path& p) {
  if (static_cast<size_t>(m.gids_size()) > kMaxTokenGroups) {
    return bad(status::kOutOfBounds,
               p.field("gids"),
               fmt::format("{} groups, at most {}", m.gids_size(), kMaxTokenGroups));
  }
  Token t;
  t.uid = m.uid();
  t.gids.assign(m.gids().begin(), m.gids().end());
  return t;
}

// The members of v1::Value, as bits, for "which members carry data".
enum Member : unsigned { kU = 1, kI = 2, kD = 4, kB = 8, kS = 16, kTok = 32 };

std::string memberNames(unsigned members) {
  std::string out;
  for (const auto& [bit, name] : {std::pair{kU, "u"},
                                  std::pair{kI, "i"},
                                  std::pair{kD, "d"},
                                  std::pair{kB, "b"},
                                  std::pair{kS, "s"},
                                  std::pair{kTok, "token"}}) {
    if ((members & bit) != 0) {
      out += out.empty() ? "" : ", ";
      out += name;
    }
  }
  return out;
}

Result<Value> decodeValue(const v1::Value& m, const Path& p) {
  const uint32_t raw = m.type();
  const auto type = static_cast<DataType>(raw);
  // proto3 sends a member only when it differs from its default, so "set" means non-default;
  // d by its bits, so that -0.0 counts as set.
  const unsigned used = (m.u() != 0 ? kU : 0u) | (m.i() != 0 ? kI : 0u) |
                        (std::bit_cast<uint64_t>(m.d()) != 0 ? kD : 0u) |
                        (!m.b().empty() ? kB : 0u) | (!m.s().empty() ? kS : 0u) |
                        (m.has_token() ? kTok : 0u);
  const auto only = [&](unsigned allowed, const char* member) -> Result<void> {
    if ((used & ~allowed) != 0) {
      return bad(status::kTypeMismatch,
                 p,
                 fmt::format("{} is carried in {}, but {} is set",
                             dataTypeName(type),
                             member,
                             memberNames(used & ~allowed)));
    }
    return {};
  };

  switch (type) {
    case DataType::Empty:
      if (used != 0) {
        return bad(status::kTypeMismatch,
                   p,
                   fmt::format("FWP_EMPTY carries no data, but {} is set", memberNames(used)));
      }
      return Value();
    case DataType::Uint8:
    case DataType::Uint16:
    case DataType::Uint32:
    case DataType::Uint64: {
      if (auto r = only(kU, "u"); !r) {
        return tl::unexpected(r.error());
      }
      const uint64_t v = m.u();
      if (auto value = Value::ofUnsigned(type, v)) {
        return *value;
      }
      return bad(status::kOutOfBounds, p, fmt::format("{} does not fit {}", v, dataTypeName(type)));
    }
    case DataType::Int8:
    case DataType::Int16:
    case DataType::Int32:
    case DataType::Int64: {
      if (auto r = only(kI, "i"); !r) {
        return tl::unexpected(r.error());
      }
      const int64_t v = m.i();
      if (auto value = Value::ofSigned(type, v)) {
        return *value;
      }
      return bad(status::kOutOfBounds, p, fmt::format("{} does not fit {}", v, dataTypeName(type)));
    }
    case DataType::Float: {
      if (auto r = only(kD, "d"); !r) {
        return tl::unexpected(r.error());
      }
      const double d = m.d();
      // A finite double beyond FLT_MAX has no float (and converting it is undefined); NaN and
      // the infinities have.
      if (std::isfinite(d) && std::fabs(d) > FLT_MAX) {
        return bad(status::kOutOfBounds, p, fmt::format("{} does not fit FWP_FLOAT", d));
      }
      return Value::float32(static_cast<float>(d));
    }
    case DataType::Double:
      if (auto r = only(kD, "d"); !r) {
        return tl::unexpected(r.error());
      }
      return Value::float64(m.d());
    case DataType::ByteArray16:
    case DataType::ByteArray6: {
      if (auto r = only(kB, "b"); !r) {
        return tl::unexpected(r.error());
      }
      const size_t want = type == DataType::ByteArray16 ? 16 : 6;
      if (m.b().size() != want) {
        return bad(
            status::kInvalidParameter,
            p,
            fmt::format("{} needs {} bytes, got {}", dataTypeName(type), want, m.b().size()));
      }
      if (type == DataType::ByteArray16) {
        std::array<uint8_t, 16> a{};
        std::memcpy(a.data(), m.b().data(), 16);
        return Value::byteArray16(a);
      }
      std::array<uint8_t, 6> a{};
      std::memcpy(a.data(), m.b().data(), 6);
      return Value::byteArray6(a);
    }
    case DataType::ByteBlob:
    case DataType::Sid:
    case DataType::SecurityDescriptor: {
      if (auto r = only(kB, "b"); !r) {
        return tl::unexpected(r.error());
      }
      auto b = decodeBytes(m.b(), p);
      if (!b) {
        return tl::unexpected(b.error());
      }
      if (type == DataType::ByteBlob) {
        return Value::byteBlob(std::move(*b));
      }
      return type == DataType::Sid ? Value::sid(std::move(*b))
                                   : Value::securityDescriptor(std::move(*b));
    }
    case DataType::UnicodeString: {
      if (auto r = only(kS | kB, "s (UTF-8) or b (UTF-16LE)"); !r) {
        return tl::unexpected(r.error());
      }
      if ((used & kS) != 0 && (used & kB) != 0) {
        return bad(status::kTypeMismatch,
                   p,
                   "FWP_UNICODE_STRING_TYPE is carried in s (UTF-8) or b (UTF-16LE), not both");
      }
      if ((used & kB) != 0) {
        const std::string& b = m.b();
        if (auto r = checkSize(b.size(), p, "bytes"); !r) {
          return tl::unexpected(r.error());
        }
        if (b.size() % 2 != 0) {
          return bad(status::kInvalidParameter,
                     p,
                     fmt::format("FWP_UNICODE_STRING_TYPE in b is UTF-16LE: an even number of "
                                 "bytes, got {}",
                                 b.size()));
        }
        std::u16string units(b.size() / 2, u'\0');
        for (size_t k = 0; k < units.size(); ++k) {
          units[k] = static_cast<char16_t>(static_cast<uint8_t>(b[2 * k]) |
                                           (static_cast<uint8_t>(b[2 * k + 1]) << 8));
        }
        return Value::unicodeString(std::move(units));
      }
      auto s = decodeUtf8ToUtf16(m.s(), p);
      if (!s) {
        return tl::unexpected(s.error());
      }
      return Value::unicodeString(std::move(*s));
    }
    case DataType::TokenAccessInformation: {
      if (auto r = only(kTok, "token"); !r) {
        return tl::unexpected(r.error());
      }
      // WFP's member is a pointer; without it there is no identity to compare (and defaulting
      // to uid 0 would mean root).
      if (!m.has_token()) {
        return bad(status::kNullPointer, p, "FWP_TOKEN_ACCESS_INFORMATION_TYPE needs token");
      }
      auto t = decodeToken(m.token(), p.field("token"));
      if (!t) {
        return tl::unexpected(t.error());
      }
      return Value::token(std::move(*t));
    }
    case DataType::TokenInformation:
      return bad(status::kInvalidParameter,
                 p,
                 "FWP_TOKEN_INFORMATION_TYPE is not supported (xfp's token values are "
                 "FWP_TOKEN_ACCESS_INFORMATION_TYPE)");
    case DataType::V4AddrMask:
    case DataType::V6AddrMask:
    case DataType::Range:
      return bad(
          status::kTypeMismatch,
          p,
          fmt::format("{} is a condition value type, not an FWP_VALUE0 type", dataTypeName(type)));
    default:
      return bad(status::kInvalidEnumerator, p, fmt::format("unknown FWP_DATA_TYPE {}", raw));
  }
}

Result<V6AddrMask> decodeV6(const v1::V6AddrMask& m, const Path& p) {
  if (m.addr().size() != 16) {
    return bad(status::kInvalidParameter,
               p.field("addr"),
               fmt::format("an IPv6 address is 16 bytes, got {}", m.addr().size()));
  }
  if (m.prefix_length() > 128) {
    return bad(status::kInvalidNetMask,
               p.field("prefix_length"),
               fmt::format("IPv6 prefix length {} > 128", m.prefix_length()));
  }
  V6AddrMask v;
  std::memcpy(v.addr.data(), m.addr().data(), 16);
  v.prefixLength = static_cast<uint8_t>(m.prefix_length());
  return v;
}

Result<RangeValue> decodeRange(const v1::Range& m, const Path& p) {
  // An absent end is FWP_EMPTY, as an inline FWP_VALUE0 of type 0 would be; Policy refuses it.
  auto low = decodeValue(m.low(), p.field("low"));
  if (!low) {
    return tl::unexpected(low.error());
  }
  auto high = decodeValue(m.high(), p.field("high"));
  if (!high) {
    return tl::unexpected(high.error());
  }
  return RangeValue{std::move(*low), std::move(*high)};
}

// A plain value is named by the condition value's own path ("conditions[2].value"): the oneof
// only says which form it takes.
Result<ConditionValue> decodeConditionValue(const v1::ConditionValue& m, const Path& p) {
  switch (m.kind_case()) {
    case v1::ConditionValue::kValue: {
      auto v = decodeValue(m.value(), p);
      if (!v) {
        return tl::unexpected(v.error());
      }
      return ConditionValue(std::move(*v));
    }
    case v1::ConditionValue::kV4Mask:
      return ConditionValue(V4AddrMask{m.v4_mask().addr(), m.v4_mask().mask()});
    case v1::ConditionValue::kV6Mask: {
      auto v = decodeV6(m.v6_mask(), p.field("v6_mask"));
      if (!v) {
        return tl::unexpected(v.error());
      }
      return ConditionValue(*v);
    }
    case v1::ConditionValue::kRange: {
      auto r = decodeRange(m.range(), p.field("range"));
      if (!r) {
        return tl::unexpected(r.error());
      }
      return ConditionValue(std::move(*r));
    }
    default:
      return ConditionValue();  // nothing set: FWP_EMPTY
  }
}

Result<Condition> decodeCondition(const v1::Condition& m, const Path& p) {
  Condition c;
  auto key = decodeGuid(m.field_key(), p.field("field_key"));
  if (!key) {
    return tl::unexpected(key.error());
  }
  c.fieldKey = *key;
  if (m.match_type() >= kMatchTypeMax) {
    return bad(
        status::kInvalidEnumerator,
        p.field("match_type"),
        fmt::format("FWP_MATCH_TYPE {} is out of range (0-{})", m.match_type(), kMatchTypeMax - 1));
  }
  c.matchType = static_cast<MatchType>(m.match_type());
  auto v = decodeConditionValue(m.value(), p.field("value"));
  if (!v) {
    return tl::unexpected(v.error());
  }
  c.value = std::move(*v);
  return c;
}

Result<std::vector<Condition>> decodeConditions(
    const google::protobuf::RepeatedPtrField<v1::Condition>& list, const Path& p) {
  if (static_cast<size_t>(list.size()) > kMaxConditions) {
    return bad(status::kOutOfBounds,
               p,
               fmt::format("{} conditions, at most {}", list.size(), kMaxConditions));
  }
  std::vector<Condition> out;
  out.reserve(static_cast<size_t>(list.size()));
  for (int i = 0; i < list.size(); ++i) {
    auto c = decodeCondition(list.Get(i), p.at(static_cast<size_t>(i)));
    if (!c) {
      return tl::unexpected(c.error());
    }
    out.push_back(std::move(*c));
  }
  return out;
}

// Every FWP_ACTION_TYPE the core names, including the classify-only ones: a client may not set
// those on a filter, but that is Policy's FWP_E_INVALID_ACTION_TYPE to give, with its message.
bool knownActionType(uint32_t t) {
  for (ActionType a : {ActionType::Block,
                       ActionType::Permit,
                       ActionType::CalloutTerminating,
                       ActionType::CalloutInspection,
                       ActionType::CalloutUnknown,
                       ActionType::Continue,
                       ActionType::None,
                       ActionType::NoneNoMatch}) {
    if (static_cast<uint32_t>(a) == t) {
      return true;
    }
  }
  return false;
}

Result<Action> decodeAction(const v1::Action& m, const Path& p) {
  if (!knownActionType(m.type())) {
    return bad(status::kInvalidActionType,
               p.field("type"),
               fmt::format("0x{:x} is not an FWP_ACTION_TYPE", m.type()));
  }
  Action a;
  a.type = static_cast<ActionType>(m.type());
  auto ft = decodeGuid(m.filter_type(), p.field("filter_type"));
  if (!ft) {
    return tl::unexpected(ft.error());
  }
  a.filterType = *ft;
  auto ck = decodeGuid(m.callout_key(), p.field("callout_key"));
  if (!ck) {
    return tl::unexpected(ck.error());
  }
  a.calloutKey = *ck;
  return a;
}

Result<DisplayData> decodeDisplayData(const v1::DisplayData& m, const Path& p) {
  DisplayData d;
  if (m.has_name()) {
    auto n = decodeText(m.name(), p.field("name"));
    if (!n) {
      return tl::unexpected(n.error());
    }
    d.name = std::move(*n);
  }
  auto desc = decodeText(m.description(), p.field("description"));
  if (!desc) {
    return tl::unexpected(desc.error());
  }
  d.description = std::move(*desc);
  return d;
}

Result<ObjectOrigin> decodeOrigin(const v1::Origin& m, const Path& p) {
  if (m.lifetime() > static_cast<uint32_t>(Lifetime::Dynamic)) {
    return bad(status::kInvalidEnumerator,
               p.field("lifetime"),
               fmt::format("lifetime {} is out of range (0 built-in, 1 persistent, 2 static, 3 "
                           "dynamic)",
                           m.lifetime()));
  }
  return ObjectOrigin{static_cast<Lifetime>(m.lifetime()), m.session_id()};
}

// An absent origin is the core default (see codec.h).
template <typename M>
Result<ObjectOrigin> decodeOriginOf(const M& m, const Path& p) {
  if (!m.has_origin()) {
    return ObjectOrigin{};
  }
  return decodeOrigin(m.origin(), p.field("origin"));
}

// The members every FWPM object shares, set into `o` (key, display data, flags, provider data,
// origin); the provider key only where the object has one.
template <typename M, typename O>
Result<void> decodeCommon(const M& m, O& o, const Path& p) {
  auto key = decodeGuid(m.key(), p.field("key"));
  if (!key) {
    return tl::unexpected(key.error());
  }
  o.key = *key;
  auto dd = decodeDisplayData(m.display_data(), p.field("display_data"));
  if (!dd) {
    return tl::unexpected(dd.error());
  }
  o.displayData = std::move(*dd);
  o.flags = m.flags();
  auto pd = decodeBytes(m.provider_data(), p.field("provider_data"));
  if (!pd) {
    return tl::unexpected(pd.error());
  }
  o.providerData = std::move(*pd);
  auto origin = decodeOriginOf(m, p);
  if (!origin) {
    return tl::unexpected(origin.error());
  }
  o.origin = *origin;
  if constexpr (requires { o.providerKey; }) {
    auto pk = decodeOptionalGuid(m.has_provider_key(), m.provider_key(), p.field("provider_key"));
    if (!pk) {
      return tl::unexpected(pk.error());
    }
    o.providerKey = *pk;
  }
  return {};
}

template <typename M, typename O>
void encodeCommon(const O& o, M& m) {
  m.set_key(guidToBytes(o.key));
  *m.mutable_display_data() = toProto(o.displayData);
  m.set_flags(o.flags);
  m.set_provider_data(wireBytes(o.providerData));
  *m.mutable_origin() = toProto(o.origin);
  if constexpr (requires { o.providerKey; }) {
    if (o.providerKey) {
      m.set_provider_key(guidToBytes(*o.providerKey));
    }
  }
}

Result<engine::ProviderContextTemplate> decodeContextTemplate(const v1::ProviderContextTemplate& m,
                                                              const Path& p) {
  auto pk = decodeOptionalGuid(m.has_provider_key(), m.provider_key(), p.field("provider_key"));
  if (!pk) {
    return tl::unexpected(pk.error());
  }
  return engine::ProviderContextTemplate{*pk, m.provider_context_type()};
}

Result<engine::FilterEnumTemplate> decodeFilterTemplate(const v1::FilterEnumTemplate& m,
                                                        const Path& p) {
  engine::FilterEnumTemplate t;
  auto pk = decodeOptionalGuid(m.has_provider_key(), m.provider_key(), p.field("provider_key"));
  if (!pk) {
    return tl::unexpected(pk.error());
  }
  t.providerKey = *pk;
  auto layer = decodeGuid(m.layer_key(), p.field("layer_key"));
  if (!layer) {
    return tl::unexpected(layer.error());
  }
  t.layerKey = *layer;
  if (m.enum_type() > static_cast<uint32_t>(engine::FilterEnumType::Overlapping)) {
    return bad(status::kInvalidEnumerator,
               p.field("enum_type"),
               fmt::format("FWP_FILTER_ENUM_TYPE {} is out of range (0 fully contained, 1 "
                           "overlapping)",
                           m.enum_type()));
  }
  t.enumType = static_cast<engine::FilterEnumType>(m.enum_type());
  t.flags = m.flags();
  if (m.has_provider_context_template()) {
    auto pct =
        decodeContextTemplate(m.provider_context_template(), p.field("provider_context_template"));
    if (!pct) {
      return tl::unexpected(pct.error());
    }
    t.providerContextTemplate = *pct;
  }
  auto conds = decodeConditions(m.filter_conditions(), p.field("filter_conditions"));
  if (!conds) {
    return tl::unexpected(conds.error());
  }
  t.filterConditions = std::move(*conds);
  t.actionMask = m.action_mask();
  auto ck = decodeOptionalGuid(m.has_callout_key(), m.callout_key(), p.field("callout_key"));
  if (!ck) {
    return tl::unexpected(ck.error());
  }
  t.calloutKey = *ck;
  return t;
}

}  // namespace

// ---- GUIDs ----

std::string guidToBytes(const Guid& guid) {
  return std::string(guid.bytes.begin(), guid.bytes.end());
}

Result<Guid> guidFromBytes(const std::string& bytes, std::string_view where) {
  return decodeGuid(bytes, Path(where));
}

// ---- toProto ----

v1::Token toProto(const Token& token) {
  v1::Token m;
  m.set_uid(token.uid);
  m.mutable_gids()->Add(token.gids.begin(), token.gids.end());
  return m;
}

v1::Value toProto(const Value& value) {
  v1::Value m;
  m.set_type(static_cast<uint32_t>(value.type()));
  if (value.isUnsigned()) {
    m.set_u(value.asUnsigned());
  } else if (value.isSigned()) {
    m.set_i(value.asSigned());
  } else if (value.type() == DataType::Float || value.type() == DataType::Double) {
    m.set_d(value.asDouble());  // a float widens exactly
  } else if (isByteData(value.type())) {
    m.set_b(wireBytes(value.asBytes()));
  } else if (value.type() == DataType::UnicodeString) {
    const std::u16string& s = value.asString();
    if (wellFormedUtf16(s)) {
      m.set_s(utf16ToUtf8(s));
    } else {
      std::string b(s.size() * 2, '\0');
      for (size_t k = 0; k < s.size(); ++k) {
        b[2 * k] = static_cast<char>(s[k] & 0xFF);
        b[2 * k + 1] = static_cast<char>(s[k] >> 8);
      }
      m.set_b(std::move(b));
    }
  } else if (value.type() == DataType::TokenAccessInformation ||
             value.type() == DataType::TokenInformation) {
    *m.mutable_token() = toProto(value.asToken());
  }
  return m;
}

v1::V4AddrMask toProto(const V4AddrMask& mask) {
  v1::V4AddrMask m;
  m.set_addr(mask.addr);
  m.set_mask(mask.mask);
  return m;
}

v1::V6AddrMask toProto(const V6AddrMask& mask) {
  v1::V6AddrMask m;
  m.set_addr(std::string(mask.addr.begin(), mask.addr.end()));
  m.set_prefix_length(mask.prefixLength);
  return m;
}

v1::Range toProto(const RangeValue& range) {
  v1::Range m;
  *m.mutable_low() = toProto(range.low);
  *m.mutable_high() = toProto(range.high);
  return m;
}

v1::ConditionValue toProto(const ConditionValue& value) {
  v1::ConditionValue m;
  if (const Value* v = value.plain()) {
    *m.mutable_value() = toProto(*v);
  } else if (const V4AddrMask* v4 = value.v4Mask()) {
    *m.mutable_v4_mask() = toProto(*v4);
  } else if (const V6AddrMask* v6 = value.v6Mask()) {
    *m.mutable_v6_mask() = toProto(*v6);
  } else if (const RangeValue* r = value.range()) {
    *m.mutable_range() = toProto(*r);
  }
  return m;
}

v1::Condition toProto(const Condition& condition) {
  v1::Condition m;
  m.set_field_key(guidToBytes(condition.fieldKey));
  m.set_match_type(static_cast<uint32_t>(condition.matchType));
  *m.mutable_value() = toProto(condition.value);
  return m;
}

v1::Action toProto(const Action& action) {
  v1::Action m;
  m.set_type(static_cast<uint32_t>(action.type));
  m.set_filter_type(guidToBytes(action.filterType));
  m.set_callout_key(guidToBytes(action.calloutKey));
  return m;
}

v1::DisplayData toProto(const DisplayData& displayData) {
  v1::DisplayData m;
  if (displayData.name) {
    m.set_name(wireText(*displayData.name));
  }
  m.set_description(wireText(displayData.description));
  return m;
}

v1::Origin toProto(const ObjectOrigin& origin) {
  v1::Origin m;
  m.set_lifetime(static_cast<uint32_t>(origin.lifetime));
  m.set_session_id(origin.sessionId);
  return m;
}

v1::Provider toProto(const Provider& provider) {
  v1::Provider m;
  encodeCommon(provider, m);
  m.set_service_name(wireText(provider.serviceName));
  return m;
}

v1::ProviderContext toProto(const ProviderContext& context) {
  v1::ProviderContext m;
  encodeCommon(context, m);
  m.set_type(context.type);
  m.set_data_buffer(wireBytes(context.dataBuffer));
  m.set_provider_context_id(context.providerContextId);
  return m;
}

v1::Sublayer toProto(const Sublayer& sublayer) {
  v1::Sublayer m;
  encodeCommon(sublayer, m);
  m.set_weight(sublayer.weight);
  return m;
}

v1::Callout toProto(const Callout& callout) {
  v1::Callout m;
  encodeCommon(callout, m);
  m.set_applicable_layer(guidToBytes(callout.applicableLayer));
  m.set_callout_id(callout.calloutId);
  return m;
}

v1::Filter toProto(const Filter& filter) {
  v1::Filter m;
  encodeCommon(filter, m);
  m.set_layer_key(guidToBytes(filter.layerKey));
  m.set_sublayer_key(guidToBytes(filter.subLayerKey));
  *m.mutable_weight() = toProto(filter.weight);
  m.mutable_conditions()->Reserve(static_cast<int>(filter.conditions.size()));
  for (const Condition& c : filter.conditions) {
    *m.add_conditions() = toProto(c);
  }
  *m.mutable_action() = toProto(filter.action);
  m.set_raw_context(filter.rawContext);
  m.set_provider_context_key(guidToBytes(filter.providerContextKey));
  m.set_reserved_set(filter.reservedSet);
  m.set_filter_id(filter.filterId);
  m.set_effective_weight(filter.effectiveWeight);
  return m;
}

v1::ProviderContextTemplate toProto(const engine::ProviderContextTemplate& t) {
  v1::ProviderContextTemplate m;
  if (t.providerKey) {
    m.set_provider_key(guidToBytes(*t.providerKey));
  }
  m.set_provider_context_type(t.providerContextType);
  return m;
}

v1::FilterEnumTemplate toProto(const engine::FilterEnumTemplate& t) {
  v1::FilterEnumTemplate m;
  if (t.providerKey) {
    m.set_provider_key(guidToBytes(*t.providerKey));
  }
  m.set_layer_key(guidToBytes(t.layerKey));
  m.set_enum_type(static_cast<uint32_t>(t.enumType));
  m.set_flags(t.flags);
  if (t.providerContextTemplate) {
    *m.mutable_provider_context_template() = toProto(*t.providerContextTemplate);
  }
  for (const Condition& c : t.filterConditions) {
    *m.add_filter_conditions() = toProto(c);
  }
  m.set_action_mask(t.actionMask);
  if (t.calloutKey) {
    m.set_callout_key(guidToBytes(*t.calloutKey));
  }
  return m;
}

v1::SublayerEnumTemplate toProto(const engine::SublayerEnumTemplate& t) {
  v1::SublayerEnumTemplate m;
  if (t.providerKey) {
    m.set_provider_key(guidToBytes(*t.providerKey));
  }
  return m;
}

v1::CalloutEnumTemplate toProto(const engine::CalloutEnumTemplate& t) {
  v1::CalloutEnumTemplate m;
  if (t.providerKey) {
    m.set_provider_key(guidToBytes(*t.providerKey));
  }
  if (t.layerKey) {
    m.set_layer_key(guidToBytes(*t.layerKey));
  }
  return m;
}

v1::FilterSubscription toProto(const engine::FilterSubscription& subscription) {
  v1::FilterSubscription m;
  if (subscription.enumTemplate) {
    *m.mutable_enum_template() = toProto(*subscription.enumTemplate);
  }
  m.set_flags(subscription.flags);
  return m;
}

v1::SessionOptions toProto(const engine::SessionOptions& options) {
  v1::SessionOptions m;
  m.set_session_key(guidToBytes(options.sessionKey));
  *m.mutable_display_data() = toProto(options.displayData);
  m.set_flags(options.flags);
  m.set_txn_wait_timeout_ms(options.txnWaitTimeoutInMSec);
  return m;
}

v1::SessionInfo toProto(const engine::SessionInfo& info) {
  v1::SessionInfo m;
  m.set_session_id(info.id);
  m.set_session_key(guidToBytes(info.options.sessionKey));
  *m.mutable_display_data() = toProto(info.options.displayData);
  m.set_flags(info.options.flags);
  m.set_txn_wait_timeout_ms(info.options.txnWaitTimeoutInMSec);
  m.set_process_id(info.options.processId);
  m.set_uid(info.options.uid);
  m.set_username(wireText(info.options.username));
  m.set_in_transaction(info.inTransaction);
  m.set_read_only_transaction(info.readOnlyTransaction);
  return m;
}

// ---- fromProto ----

Result<Token> fromProto(const v1::Token& m, std::string_view where) {
  return decodeToken(m, Path(where));
}

Result<Value> fromProto(const v1::Value& m, std::string_view where) {
  return decodeValue(m, Path(where));
}

Result<V4AddrMask> fromProto(const v1::V4AddrMask& m, std::string_view /*where*/) {
  return V4AddrMask{m.addr(), m.mask()};  // every pair of uint32 is one
}

Result<V6AddrMask> fromProto(const v1::V6AddrMask& m, std::string_view where) {
  return decodeV6(m, Path(where));
}

Result<RangeValue> fromProto(const v1::Range& m, std::string_view where) {
  return decodeRange(m, Path(where));
}

Result<ConditionValue> fromProto(const v1::ConditionValue& m, std::string_view where) {
  return decodeConditionValue(m, Path(where));
}

Result<Condition> fromProto(const v1::Condition& m, std::string_view where) {
  return decodeCondition(m, Path(where));
}

Result<Action> fromProto(const v1::Action& m, std::string_view where) {
  return decodeAction(m, Path(where));
}

Result<DisplayData> fromProto(const v1::DisplayData& m, std::string_view where) {
  return decodeDisplayData(m, Path(where));
}

Result<ObjectOrigin> fromProto(const v1::Origin& m, std::string_view where) {
  return decodeOrigin(m, Path(where));
}

Result<Provider> fromProto(const v1::Provider& m, std::string_view where) {
  const Path p(where);
  Provider o;
  if (auto r = decodeCommon(m, o, p); !r) {
    return tl::unexpected(r.error());
  }
  auto sn = decodeText(m.service_name(), p.field("service_name"));
  if (!sn) {
    return tl::unexpected(sn.error());
  }
  o.serviceName = std::move(*sn);
  return o;
}

Result<ProviderContext> fromProto(const v1::ProviderContext& m, std::string_view where) {
  const Path p(where);
  ProviderContext o;
  if (auto r = decodeCommon(m, o, p); !r) {
    return tl::unexpected(r.error());
  }
  o.type = m.type();  // Policy accepts only FWPM_GENERAL_CONTEXT, with its own message
  auto db = decodeBytes(m.data_buffer(), p.field("data_buffer"));
  if (!db) {
    return tl::unexpected(db.error());
  }
  o.dataBuffer = std::move(*db);
  o.providerContextId = m.provider_context_id();
  return o;
}

Result<Sublayer> fromProto(const v1::Sublayer& m, std::string_view where) {
  const Path p(where);
  Sublayer o;
  if (auto r = decodeCommon(m, o, p); !r) {
    return tl::unexpected(r.error());
  }
  if (m.weight() > 0xFFFF) {
    return bad(status::kOutOfBounds,
               p.field("weight"),
               fmt::format("{} does not fit a sublayer weight (UINT16)", m.weight()));
  }
  o.weight = static_cast<uint16_t>(m.weight());
  return o;
}

Result<Callout> fromProto(const v1::Callout& m, std::string_view where) {
  const Path p(where);
  Callout o;
  if (auto r = decodeCommon(m, o, p); !r) {
    return tl::unexpected(r.error());
  }
  auto layer = decodeGuid(m.applicable_layer(), p.field("applicable_layer"));
  if (!layer) {
    return tl::unexpected(layer.error());
  }
  o.applicableLayer = *layer;
  o.calloutId = m.callout_id();
  return o;
}

Result<Filter> fromProto(const v1::Filter& m, std::string_view where) {
  const Path p(where);
  Filter o;
  if (auto r = decodeCommon(m, o, p); !r) {
    return tl::unexpected(r.error());
  }
  auto layer = decodeGuid(m.layer_key(), p.field("layer_key"));
  if (!layer) {
    return tl::unexpected(layer.error());
  }
  o.layerKey = *layer;
  auto sublayer = decodeGuid(m.sublayer_key(), p.field("sublayer_key"));
  if (!sublayer) {
    return tl::unexpected(sublayer.error());
  }
  o.subLayerKey = *sublayer;
  // Absent: FWP_EMPTY, the automatic weight. Which types a weight may have is Policy's
  // FWP_E_INVALID_WEIGHT.
  auto weight = decodeValue(m.weight(), p.field("weight"));
  if (!weight) {
    return tl::unexpected(weight.error());
  }
  o.weight = std::move(*weight);
  auto conds = decodeConditions(m.conditions(), p.field("conditions"));
  if (!conds) {
    return tl::unexpected(conds.error());
  }
  o.conditions = std::move(*conds);
  // Absent: type 0, which is no action type -- as an all-zero FWPM_ACTION0 would be.
  auto action = decodeAction(m.action(), p.field("action"));
  if (!action) {
    return tl::unexpected(action.error());
  }
  o.action = *action;
  o.rawContext = m.raw_context();
  auto pck = decodeGuid(m.provider_context_key(), p.field("provider_context_key"));
  if (!pck) {
    return tl::unexpected(pck.error());
  }
  o.providerContextKey = *pck;
  o.reservedSet = m.reserved_set();
  o.filterId = m.filter_id();
  o.effectiveWeight = m.effective_weight();
  return o;
}

Result<engine::ProviderContextTemplate> fromProto(const v1::ProviderContextTemplate& m,
                                                  std::string_view where) {
  return decodeContextTemplate(m, Path(where));
}

Result<engine::FilterEnumTemplate> fromProto(const v1::FilterEnumTemplate& m,
                                             std::string_view where) {
  return decodeFilterTemplate(m, Path(where));
}

Result<engine::SublayerEnumTemplate> fromProto(const v1::SublayerEnumTemplate& m,
                                               std::string_view where) {
  const Path p(where);
  auto pk = decodeOptionalGuid(m.has_provider_key(), m.provider_key(), p.field("provider_key"));
  if (!pk) {
    return tl::unexpected(pk.error());
  }
  return engine::SublayerEnumTemplate{*pk};
}

Result<engine::CalloutEnumTemplate> fromProto(const v1::CalloutEnumTemplate& m,
                                              std::string_view where) {
  const Path p(where);
  auto pk = decodeOptionalGuid(m.has_provider_key(), m.provider_key(), p.field("provider_key"));
  if (!pk) {
    return tl::unexpected(pk.error());
  }
  auto lk = decodeOptionalGuid(m.has_layer_key(), m.layer_key(), p.field("layer_key"));
  if (!lk) {
    return tl::unexpected(lk.error());
  }
  return engine::CalloutEnumTemplate{*pk, *lk};
}

Result<engine::FilterSubscription> fromProto(const v1::FilterSubscription& m,
                                             std::string_view where) {
  const Path p(where);
  engine::FilterSubscription s;
  if (m.has_enum_template()) {
    auto t = decodeFilterTemplate(m.enum_template(), p.field("enum_template"));
    if (!t) {
      return tl::unexpected(t.error());
    }
    s.enumTemplate = std::move(*t);
  }
  s.flags = m.flags();  // the engine refuses unknown flags with FWP_E_INVALID_FLAGS
  return s;
}

Result<engine::SessionOptions> fromProto(const v1::SessionOptions& m, std::string_view where) {
  const Path p(where);
  engine::SessionOptions o;
  auto key = decodeGuid(m.session_key(), p.field("session_key"));
  if (!key) {
    return tl::unexpected(key.error());
  }
  o.sessionKey = *key;
  auto dd = decodeDisplayData(m.display_data(), p.field("display_data"));
  if (!dd) {
    return tl::unexpected(dd.error());
  }
  o.displayData = std::move(*dd);
  o.flags = m.flags();
  o.txnWaitTimeoutInMSec = m.txn_wait_timeout_ms();
  return o;
}

Result<engine::SessionInfo> fromProto(const v1::SessionInfo& m, std::string_view where) {
  const Path p(where);
  engine::SessionInfo info;
  info.id = m.session_id();
  auto key = decodeGuid(m.session_key(), p.field("session_key"));
  if (!key) {
    return tl::unexpected(key.error());
  }
  info.options.sessionKey = *key;
  auto dd = decodeDisplayData(m.display_data(), p.field("display_data"));
  if (!dd) {
    return tl::unexpected(dd.error());
  }
  info.options.displayData = std::move(*dd);
  info.options.flags = m.flags();
  info.options.txnWaitTimeoutInMSec = m.txn_wait_timeout_ms();
  info.options.processId = m.process_id();
  info.options.uid = m.uid();
  auto user = decodeText(m.username(), p.field("username"));
  if (!user) {
    return tl::unexpected(user.error());
  }
  info.options.username = std::move(*user);
  info.dynamic = (m.flags() & engine::kSessionFlagDynamic) != 0;
  info.inTransaction = m.in_transaction();
  info.readOnlyTransaction = m.read_only_transaction();
  return info;
}

}  // namespace xfp::rpc
