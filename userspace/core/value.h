// FWP values (FWP_VALUE0: what a field holds for one indication) and condition values
// (FWP_CONDITION_VALUE0: FWP_VALUE0 plus address masks and ranges), with their data types.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "userspace/core/wfp_constants.h"

namespace xfp {

using Bytes = std::vector<uint8_t>;

// The identity of a socket's owner, standing in for FWP_TOKEN_ACCESS_INFORMATION_TYPE
// (wfp-model.md §2.7): the user and groups become SIDs S-1-22-1-<uid> / S-1-22-2-<gid>, and
// euid 0 adds Administrators (S-1-5-32-544).
struct Token {
  uint32_t uid = 0;
  std::vector<uint32_t> gids;
  bool operator==(const Token&) const = default;
};

class Value {
 public:
  Value() = default;  // FWP_EMPTY
  static Value uint8(uint8_t v) { return Value(DataType::Uint8, uint64_t{v}); }
  static Value uint16(uint16_t v) { return Value(DataType::Uint16, uint64_t{v}); }
  static Value uint32(uint32_t v) { return Value(DataType::Uint32, uint64_t{v}); }
  static Value uint64(uint64_t v) { return Value(DataType::Uint64, v); }
  static Value int8(int8_t v) { return Value(DataType::Int8, int64_t{v}); }
  static Value int16(int16_t v) { return Value(DataType::Int16, int64_t{v}); }
  static Value int32(int32_t v) { return Value(DataType::Int32, int64_t{v}); }
  static Value int64(int64_t v) { return Value(DataType::Int64, v); }
  static Value float32(float v) { return Value(DataType::Float, v); }
  static Value float64(double v) { return Value(DataType::Double, v); }
  static Value byteArray16(const std::array<uint8_t, 16>& v) {
    return Value(DataType::ByteArray16, Bytes(v.begin(), v.end()));
  }
  static Value byteArray6(const std::array<uint8_t, 6>& v) {
    return Value(DataType::ByteArray6, Bytes(v.begin(), v.end()));
  }
  static Value byteBlob(Bytes v) { return Value(DataType::ByteBlob, std::move(v)); }
  static Value sid(Bytes v) { return Value(DataType::Sid, std::move(v)); }
  static Value securityDescriptor(Bytes v) {
    return Value(DataType::SecurityDescriptor, std::move(v));
  }
  static Value unicodeString(std::u16string v) {
    return Value(DataType::UnicodeString, std::move(v));
  }
  static Value token(Token v) { return Value(DataType::TokenAccessInformation, std::move(v)); }
  // An integer of type t (FWP_UINT8..FWP_UINT64 / FWP_INT8..FWP_INT64) holding v; nullopt when v
  // does not fit the type (or t is not that kind of integer type).
  static std::optional<Value> ofUnsigned(DataType t, uint64_t v);
  static std::optional<Value> ofSigned(DataType t, int64_t v);

  [[nodiscard]] DataType type() const { return type_; }
  [[nodiscard]] bool isEmpty() const { return type_ == DataType::Empty; }
  [[nodiscard]] bool isUnsigned() const;
  [[nodiscard]] bool isSigned() const;
  [[nodiscard]] bool isInteger() const { return isUnsigned() || isSigned(); }
  // Bit width of an integer type (8/16/32/64), 0 otherwise.
  [[nodiscard]] int bitWidth() const;

  [[nodiscard]] uint64_t asUnsigned() const { return std::get<uint64_t>(data_); }
  [[nodiscard]] int64_t asSigned() const { return std::get<int64_t>(data_); }
  [[nodiscard]] double asDouble() const;
  [[nodiscard]] const Bytes& asBytes() const { return std::get<Bytes>(data_); }
  [[nodiscard]] const std::u16string& asString() const { return std::get<std::u16string>(data_); }
  [[nodiscard]] const Token& asToken() const { return std::get<Token>(data_); }

  // Human form: numbers in decimal, IPv4 (when told) dotted, bytes in hex.
  [[nodiscard]] std::string toString(bool ipv4Address = false) const;

  bool operator==(const Value&) const = default;

 private:
  using Data =
      std::variant<std::monostate, uint64_t, int64_t, float, double, Bytes, std::u16string, Token>;
  Value(DataType t, Data d) : type_(t), data_(std::move(d)) {}

  DataType type_ = DataType::Empty;
  Data data_;
};

// FWP_V4_ADDR_AND_MASK: both in host byte order; mask is a netmask bit pattern.
struct V4AddrMask {
  uint32_t addr = 0;
  uint32_t mask = 0;
  bool operator==(const V4AddrMask&) const = default;
};

// FWP_V6_ADDR_AND_MASK: address bytes in network order and a prefix length in bits.
struct V6AddrMask {
  std::array<uint8_t, 16> addr{};
  uint8_t prefixLength = 0;
  bool operator==(const V6AddrMask&) const = default;
};

// FWP_RANGE0: inclusive at both ends.
struct RangeValue {
  Value low;
  Value high;
  bool operator==(const RangeValue&) const = default;
};

class ConditionValue {
 public:
  ConditionValue() = default;                       // FWP_EMPTY
  ConditionValue(Value v) : data_(std::move(v)) {}  // NOLINT: a plain value is a condition value
  ConditionValue(V4AddrMask v) : data_(v) {}        // NOLINT
  ConditionValue(V6AddrMask v) : data_(v) {}        // NOLINT
  ConditionValue(RangeValue v) : data_(std::move(v)) {}  // NOLINT

  [[nodiscard]] DataType type() const;
  [[nodiscard]] const Value* plain() const { return std::get_if<Value>(&data_); }
  [[nodiscard]] const V4AddrMask* v4Mask() const { return std::get_if<V4AddrMask>(&data_); }
  [[nodiscard]] const V6AddrMask* v6Mask() const { return std::get_if<V6AddrMask>(&data_); }
  [[nodiscard]] const RangeValue* range() const { return std::get_if<RangeValue>(&data_); }

  [[nodiscard]] std::string toString(bool ipv4Address = false) const;
  bool operator==(const ConditionValue&) const = default;

 private:
  std::variant<Value, V4AddrMask, V6AddrMask, RangeValue> data_;
};

// Text forms shared by the policy file, xfpctl and traces.
std::string formatIpv4(uint32_t hostOrder);
std::string formatIpv6(const uint8_t* bytes16);
std::string formatHex(const Bytes& bytes);
std::u16string utf8ToUtf16(const std::string& s);
std::string utf16ToUtf8(const std::u16string& s);

}  // namespace xfp
