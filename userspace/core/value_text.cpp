#include "userspace/core/value_text.h"

#include <arpa/inet.h>

#include <cctype>
#include <charconv>
#include <string>

#include <fmt/format.h>

#include "userspace/core/security.h"

namespace xfp {
namespace {

Result<Value> bad(const FieldInfo& field, std::string_view text, std::string_view expected) {
  return fail(status::kInvalidParameter,
              fmt::format("\"{}\" is not a valid {} for {} (expected {})",
                          text,
                          dataTypeName(field.type),
                          field.condition,
                          expected));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool parseU64(std::string_view text, uint64_t& out) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return !text.empty() && ec == std::errc() && p == text.data() + text.size();
}

bool parseI64(std::string_view text, int64_t& out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 10);
  return !text.empty() && ec == std::errc() && p == text.data() + text.size();
}

std::optional<uint64_t> protocolNumber(std::string_view name) {
  const std::string n = lower(name);
  if (n == "icmp") {
    return 1;
  }
  if (n == "tcp") {
    return 6;
  }
  if (n == "udp") {
    return 17;
  }
  if (n == "icmpv6" || n == "ipv6-icmp") {
    return 58;
  }
  if (n == "gre") {
    return 47;
  }
  if (n == "sctp") {
    return 132;
  }
  return std::nullopt;
}

std::optional<uint32_t> parseIpv4(std::string_view text) {
  in_addr a{};
  if (inet_pton(AF_INET, std::string(text).c_str(), &a) != 1) {
    return std::nullopt;
  }
  return ntohl(a.s_addr);
}

std::optional<std::array<uint8_t, 16>> parseIpv6(std::string_view text) {
  std::array<uint8_t, 16> b{};
  if (inet_pton(AF_INET6, std::string(text).c_str(), b.data()) != 1) {
    return std::nullopt;
  }
  return b;
}

std::optional<Bytes> parseHexBytes(std::string_view text) {
  Bytes out;
  std::string digits;
  for (char c : text) {
    if (std::isxdigit(static_cast<unsigned char>(c)) != 0) {
      digits += c;
    } else if (c != ':' && c != '-' && c != ' ') {
      return std::nullopt;
    }
  }
  if (digits.size() % 2 != 0) {
    return std::nullopt;
  }
  for (size_t i = 0; i < digits.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoul(digits.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// FWP_CONDITION_FLAG_* names for the FLAGS field ("IS_LOOPBACK|IS_FRAGMENT").
std::optional<uint64_t> conditionFlags(std::string_view text) {
  static const std::pair<std::string_view, uint32_t> kNames[] = {
      {"IS_LOOPBACK", 0x1},
      {"IS_IPSEC_SECURED", 0x2},
      {"IS_REAUTHORIZE", 0x4},
      {"IS_WILDCARD_BIND", 0x8},
      {"IS_RAW_ENDPOINT", 0x10},
      {"IS_FRAGMENT", 0x20},
      {"IS_FRAGMENT_GROUP", 0x40},
      {"IS_IMPLICIT_BIND", 0x200},
      {"IS_REASSEMBLED", 0x400},
      {"IS_RECLASSIFY", 0x20000},
      {"IS_CONNECTION_REDIRECTED", 0x100000},
  };
  uint64_t flags = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t bar = text.find('|', start);
    if (bar == std::string_view::npos) {
      bar = text.size();
    }
    std::string part = lower(text.substr(start, bar - start));
    for (char& c : part) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    if (part.rfind("FWP_CONDITION_FLAG_", 0) == 0) {
      part = part.substr(19);
    }
    bool found = false;
    for (const auto& [name, bit] : kNames) {
      if (part == name) {
        flags |= bit;
        found = true;
      }
    }
    if (!found) {
      return std::nullopt;
    }
    start = bar + 1;
  }
  return flags;
}

}  // namespace

Bytes appIdFromPath(std::string_view path) {
  const std::u16string u = utf8ToUtf16(lower(path));
  Bytes out;
  for (char16_t c : u) {
    out.push_back(static_cast<uint8_t>(c));
    out.push_back(static_cast<uint8_t>(c >> 8));
  }
  out.push_back(0);
  out.push_back(0);
  return out;
}

Result<Value> parseValueText(const FieldInfo& field, DataType type, std::string_view text) {
  if (lower(text) == "empty") {
    return Value{};
  }
  const bool v4Address = field.isAddress && type == DataType::Uint32;
  switch (type) {
    case DataType::Uint8:
    case DataType::Uint16:
    case DataType::Uint32:
    case DataType::Uint64: {
      uint64_t v = 0;
      if (v4Address) {
        auto a = parseIpv4(text);
        if (!a) {
          return bad(field, text, "an IPv4 address");
        }
        return Value::uint32(*a);
      }
      if (field.condition == "IP_PROTOCOL") {
        if (auto p = protocolNumber(text)) {
          return Value::uint8(static_cast<uint8_t>(*p));
        }
      }
      if (field.condition == "FLAGS" && !parseU64(text, v)) {
        auto f = conditionFlags(text);
        if (!f) {
          return bad(field, text, "a number or FWP_CONDITION_FLAG names joined by |");
        }
        return Value::uint32(static_cast<uint32_t>(*f));
      }
      if (!parseU64(text, v)) {
        return bad(field, text, "an unsigned number");
      }
      if (auto value = Value::ofUnsigned(type, v)) {
        return *value;
      }
      return fail(
          status::kOutOfBounds,
          fmt::format("{} does not fit {} ({})", text, dataTypeName(type), field.condition));
    }
    case DataType::Int8:
    case DataType::Int16:
    case DataType::Int32:
    case DataType::Int64: {
      int64_t v = 0;
      if (!parseI64(text, v)) {
        return bad(field, text, "a signed number");
      }
      if (auto value = Value::ofSigned(type, v)) {
        return *value;
      }
      return fail(status::kOutOfBounds,
                  fmt::format("{} does not fit {}", text, dataTypeName(type)));
    }
    case DataType::ByteArray16: {
      if (auto a = parseIpv6(text)) {
        return Value::byteArray16(*a);
      }
      if (auto g = Guid::parse(text)) {
        return Value::byteArray16(g->bytes);
      }
      auto b = parseHexBytes(text);
      if (!b || b->size() != 16) {
        return bad(field, text, "an IPv6 address, a GUID or 16 hex bytes");
      }
      std::array<uint8_t, 16> a{};
      std::copy(b->begin(), b->end(), a.begin());
      return Value::byteArray16(a);
    }
    case DataType::ByteArray6: {
      auto b = parseHexBytes(text);
      if (!b || b->size() != 6) {
        return bad(field, text, "a MAC address aa:bb:cc:dd:ee:ff");
      }
      std::array<uint8_t, 6> a{};
      std::copy(b->begin(), b->end(), a.begin());
      return Value::byteArray6(a);
    }
    case DataType::ByteBlob: {
      if (text.rfind("hex:", 0) == 0) {
        auto b = parseHexBytes(text.substr(4));
        if (!b) {
          return bad(field, text, "hex:<bytes>");
        }
        return Value::byteBlob(*b);
      }
      if (field.condition == "ALE_APP_ID" || field.condition == "ALE_ORIGINAL_APP_ID") {
        return Value::byteBlob(appIdFromPath(text));
      }
      // Any other blob given as text holds the string as UTF-16LE with its NUL, as WFP stores
      // string blobs.
      Bytes b;
      for (char16_t c : utf8ToUtf16(std::string(text))) {
        b.push_back(static_cast<uint8_t>(c));
        b.push_back(static_cast<uint8_t>(c >> 8));
      }
      b.push_back(0);
      b.push_back(0);
      return Value::byteBlob(std::move(b));
    }
    case DataType::UnicodeString:
      return Value::unicodeString(utf8ToUtf16(std::string(text)));
    case DataType::Sid: {
      auto sid = sidFromString(std::string(text));
      if (!sid) {
        return tl::unexpected(sid.error());
      }
      return Value::sid(*sid);
    }
    case DataType::SecurityDescriptor: {
      std::string sddl(text);
      uint64_t uid = 0;
      if (text.rfind("uid=", 0) == 0 && parseU64(text.substr(4), uid)) {
        sddl = fmt::format("D:(A;;0x1;;;S-1-22-1-{})", uid);
      }
      auto sd = securityDescriptorFromSddl(sddl);
      if (!sd) {
        return tl::unexpected(sd.error());
      }
      return Value::securityDescriptor(*sd);
    }
    case DataType::TokenInformation:
    case DataType::TokenAccessInformation: {
      // "uid=1000,gid=1000,gid=27" or just "1000"
      Token token;
      bool haveUid = false;
      size_t start = 0;
      while (start < text.size()) {
        size_t comma = text.find(',', start);
        if (comma == std::string_view::npos) {
          comma = text.size();
        }
        const std::string_view part = text.substr(start, comma - start);
        uint64_t id = 0;
        if (part.rfind("uid=", 0) == 0 && parseU64(part.substr(4), id) && id <= 0xFFFFFFFF) {
          token.uid = static_cast<uint32_t>(id);
          haveUid = true;
        } else if (part.rfind("gid=", 0) == 0 && parseU64(part.substr(4), id) && id <= 0xFFFFFFFF) {
          token.gids.push_back(static_cast<uint32_t>(id));
        } else if (parseU64(part, id) && id <= 0xFFFFFFFF && !haveUid) {
          token.uid = static_cast<uint32_t>(id);
          haveUid = true;
        } else {
          return bad(field, text, "uid=N[,gid=N...]");
        }
        start = comma + 1;
      }
      if (!haveUid) {
        return bad(field, text, "uid=N[,gid=N...]");
      }
      return Value::token(std::move(token));
    }
    case DataType::Float:
    case DataType::Double: {
      try {
        const double d = std::stod(std::string(text));
        return type == DataType::Float ? Value::float32(static_cast<float>(d)) : Value::float64(d);
      } catch (const std::exception&) {
        return bad(field, text, "a number");
      }
    }
    default:
      return bad(field, text, "a supported value");
  }
}

Result<Value> parseIncomingValue(const FieldInfo& field, std::string_view text) {
  return parseValueText(field, field.type, text);
}

Result<ConditionValue> parseConditionText(const FieldInfo& field, std::string_view text) {
  // Ranges: "low..high".
  if (const size_t dots = text.find(".."); dots != std::string_view::npos) {
    auto low = parseValueText(field, field.type, text.substr(0, dots));
    auto high = parseValueText(field, field.type, text.substr(dots + 2));
    if (!low) {
      return tl::unexpected(low.error());
    }
    if (!high) {
      return tl::unexpected(high.error());
    }
    return ConditionValue(RangeValue{*low, *high});
  }
  // Address masks: "a.b.c.d/len", "a.b.c.d/m.m.m.m", "v6/len".
  if (const size_t slash = text.find('/'); field.isAddress && slash != std::string_view::npos) {
    const std::string_view addr = text.substr(0, slash);
    const std::string_view len = text.substr(slash + 1);
    uint64_t prefix = 0;
    if (field.type == DataType::Uint32) {
      auto a = parseIpv4(addr);
      std::optional<uint32_t> mask;
      if (parseU64(len, prefix)) {
        if (prefix > 32) {
          return fail(status::kInvalidNetMask, fmt::format("prefix /{} > 32", prefix));
        }
        mask = prefix == 0 ? 0u : static_cast<uint32_t>(0xFFFFFFFFULL << (32 - prefix));
      } else {
        mask = parseIpv4(len);
      }
      if (!a || !mask) {
        return fail(status::kInvalidParameter,
                    fmt::format("\"{}\" is not an IPv4 address/prefix or address/mask", text));
      }
      return ConditionValue(V4AddrMask{*a, *mask});
    }
    auto a = parseIpv6(addr);
    if (!a || !parseU64(len, prefix) || prefix > 255) {
      return fail(status::kInvalidParameter,
                  fmt::format("\"{}\" is not an IPv6 address/prefix", text));
    }
    return ConditionValue(V6AddrMask{*a, static_cast<uint8_t>(prefix)});
  }
  const bool token =
      field.type == DataType::TokenAccessInformation || field.type == DataType::TokenInformation;
  auto v = parseValueText(field, token ? DataType::SecurityDescriptor : field.type, text);
  if (!v) {
    return tl::unexpected(v.error());
  }
  return ConditionValue(*v);
}

}  // namespace xfp

#include "userspace/core/classifier.h"

namespace xfp {

Result<IncomingValues> parseIncomingValues(const LayerInfo& layer, std::string_view spec) {
  IncomingValues in = IncomingValues::emptyFor(layer);
  size_t pos = 0;
  while (pos < spec.size()) {
    while (pos < spec.size() && (spec[pos] == ' ' || spec[pos] == '\t' || spec[pos] == ',')) {
      ++pos;
    }
    if (pos >= spec.size()) {
      break;
    }
    size_t end = pos;
    while (end < spec.size() && spec[end] != ' ' && spec[end] != '\t') {
      ++end;
    }
    const std::string_view item = spec.substr(pos, end - pos);
    pos = end;
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return fail(status::kInvalidParameter, fmt::format("\"{}\": expected FIELD=VALUE", item));
    }
    const std::string_view name = item.substr(0, eq);
    const FieldInfo* field = layer.fieldByName(name);
    if (field == nullptr || field->condition.empty()) {
      return fail(status::kConditionNotFound,
                  fmt::format("\"{}\" is not a field of {}", name, layer.fullName()));
    }
    // Token values contain '=' themselves (uid=1000,gid=5): everything after the first '='.
    auto v = parseIncomingValue(*field, item.substr(eq + 1));
    if (!v) {
      return tl::unexpected(Error(v.error()).within(std::string(name)));
    }
    in.values[field->index] = std::move(*v);
  }
  return in;
}

}  // namespace xfp
