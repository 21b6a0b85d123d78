#include "userspace/core/value.h"

#include <arpa/inet.h>

#include <fmt/format.h>

namespace xfp {

std::optional<Value> Value::ofUnsigned(DataType t, uint64_t v) {
  switch (t) {
    case DataType::Uint8:
      return v <= UINT8_MAX ? std::optional(uint8(static_cast<uint8_t>(v))) : std::nullopt;
    case DataType::Uint16:
      return v <= UINT16_MAX ? std::optional(uint16(static_cast<uint16_t>(v))) : std::nullopt;
    case DataType::Uint32:
      return v <= UINT32_MAX ? std::optional(uint32(static_cast<uint32_t>(v))) : std::nullopt;
    case DataType::Uint64:
      return uint64(v);
    default:
      return std::nullopt;
  }
}

std::optional<Value> Value::ofSigned(DataType t, int64_t v) {
  const auto in = [v](int64_t lo, int64_t hi) { return v >= lo && v <= hi; };
  switch (t) {
    case DataType::Int8:
      return in(INT8_MIN, INT8_MAX) ? std::optional(int8(static_cast<int8_t>(v))) : std::nullopt;
    case DataType::Int16:
      return in(INT16_MIN, INT16_MAX) ? std::optional(int16(static_cast<int16_t>(v)))
                                      : std::nullopt;
    case DataType::Int32:
      return in(INT32_MIN, INT32_MAX) ? std::optional(int32(static_cast<int32_t>(v)))
                                      : std::nullopt;
    case DataType::Int64:
      return int64(v);
    default:
      return std::nullopt;
  }
}

bool Value::isUnsigned() const {
  return type_ == DataType::Uint8 || type_ == DataType::Uint16 || type_ == DataType::Uint32 ||
         type_ == DataType::Uint64;
}

bool Value::isSigned() const {
  return type_ == DataType::Int8 || type_ == DataType::Int16 || type_ == DataType::Int32 ||
         type_ == DataType::Int64;
}

int Value::bitWidth() const {
  switch (type_) {
    case DataType::Uint8:
    case DataType::Int8:
      return 8;
    case DataType::Uint16:
    case DataType::Int16:
      return 16;
    case DataType::Uint32:
    case DataType::Int32:
      return 32;
    case DataType::Uint64:
    case DataType::Int64:
      return 64;
    default:
      return 0;
  }
}

double Value::asDouble() const {
  if (const auto* f = std::get_if<float>(&data_)) {
    return *f;
  }
  return std::get<double>(data_);
}

std::string formatIpv4(uint32_t a) {
  return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 0xFF, (a >> 8) & 0xFF, a & 0xFF);
}

std::string formatIpv6(const uint8_t* bytes16) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, bytes16, buf, sizeof buf);
  return buf;
}

std::string formatHex(const Bytes& bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out += fmt::format("{:02x}", b);
  }
  return out;
}

std::u16string utf8ToUtf16(const std::string& s) {
  std::u16string out;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    uint32_t cp = 0;
    size_t n = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c >> 5) == 0x6 && i + 1 < s.size()) {
      cp = ((c & 0x1Fu) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3Fu);
      n = 2;
    } else if ((c >> 4) == 0xE && i + 2 < s.size()) {
      cp = ((c & 0x0Fu) << 12) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(s[i + 2]) & 0x3Fu);
      n = 3;
    } else if ((c >> 3) == 0x1E && i + 3 < s.size()) {
      cp = ((c & 0x07u) << 18) | ((static_cast<unsigned char>(s[i + 1]) & 0x3Fu) << 12) |
           ((static_cast<unsigned char>(s[i + 2]) & 0x3Fu) << 6) |
           (static_cast<unsigned char>(s[i + 3]) & 0x3Fu);
      n = 4;
    } else {
      cp = 0xFFFD;  // invalid byte: replacement character
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out += static_cast<char16_t>(0xD800 + (cp >> 10));
      out += static_cast<char16_t>(0xDC00 + (cp & 0x3FF));
    } else {
      out += static_cast<char16_t>(cp);
    }
    i += n;
  }
  return out;
}

std::string utf16ToUtf8(const std::u16string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    uint32_t cp = s[i];
    if (cp >= 0xD800 && cp < 0xDC00 && i + 1 < s.size() && s[i + 1] >= 0xDC00 &&
        s[i + 1] < 0xE000) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (s[i + 1] - 0xDC00);
      ++i;
    }
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

std::string Value::toString(bool ipv4Address) const {
  switch (type_) {
    case DataType::Empty:
      return "(empty)";
    case DataType::Uint8:
    case DataType::Uint16:
    case DataType::Uint64:
      return std::to_string(asUnsigned());
    case DataType::Uint32:
      return ipv4Address ? formatIpv4(static_cast<uint32_t>(asUnsigned()))
                         : std::to_string(asUnsigned());
    case DataType::Int8:
    case DataType::Int16:
    case DataType::Int32:
    case DataType::Int64:
      return std::to_string(asSigned());
    case DataType::Float:
    case DataType::Double:
      return fmt::format("{}", asDouble());
    case DataType::ByteArray16:
      return ipv4Address ? formatHex(asBytes()) : formatIpv6(asBytes().data());
    case DataType::ByteArray6: {
      const Bytes& b = asBytes();
      return fmt::format(
          "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5]);
    }
    case DataType::UnicodeString:
      return "\"" + utf16ToUtf8(asString()) + "\"";
    case DataType::TokenAccessInformation:
    case DataType::TokenInformation: {
      std::string out = "uid=" + std::to_string(asToken().uid);
      for (uint32_t g : asToken().gids) {
        out += ",gid=" + std::to_string(g);
      }
      return out;
    }
    default:
      return "0x" + formatHex(asBytes());
  }
}

DataType ConditionValue::type() const {
  if (const Value* v = plain()) {
    return v->type();
  }
  if (v4Mask() != nullptr) {
    return DataType::V4AddrMask;
  }
  if (v6Mask() != nullptr) {
    return DataType::V6AddrMask;
  }
  return DataType::Range;
}

std::string ConditionValue::toString(bool ipv4Address) const {
  if (const Value* v = plain()) {
    return v->toString(ipv4Address);
  }
  if (const V4AddrMask* m = v4Mask()) {
    return formatIpv4(m->addr) + "/" + formatIpv4(m->mask);
  }
  if (const V6AddrMask* m = v6Mask()) {
    return formatIpv6(m->addr.data()) + "/" + std::to_string(m->prefixLength);
  }
  const RangeValue* r = range();
  return "[" + r->low.toString(ipv4Address) + ", " + r->high.toString(ipv4Address) + "]";
}

}  // namespace xfp
