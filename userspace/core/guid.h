// GUIDs as WFP stores them: 16 bytes in wire form (first three groups little-endian), parsed from
// and formatted to the registry text form {aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee}.
#pragma once

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace xfp {

struct Guid {
  std::array<uint8_t, 16> bytes{};  // wire form, as in FWPM_* structures

  // Parses "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee" with or without braces, any hex case.
  static constexpr std::optional<Guid> parse(std::string_view text);
  // For compile-time tables; the text must be valid.
  static constexpr Guid fromText(std::string_view text) { return *parse(text); }
  // A random (version 4) GUID, as the engine generates for a zero key on add.
  static Guid generate();

  // "{aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee}", lower case.
  [[nodiscard]] std::string toString() const;
  [[nodiscard]] constexpr bool isZero() const {
    for (uint8_t b : bytes) {
      if (b != 0) {
        return false;
      }
    }
    return true;
  }

  // Ordering compares the 16-byte wire form (wfp-model.md Appendix B.11), not the text.
  friend constexpr auto operator<=>(const Guid&, const Guid&) = default;
};

namespace detail {
constexpr int hexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}
}  // namespace detail

constexpr std::optional<Guid> Guid::parse(std::string_view text) {
  if (text.size() == 38 && text.front() == '{' && text.back() == '}') {
    text = text.substr(1, 36);
  }
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return std::nullopt;
  }
  // Text bytes in reading order; groups 1-3 are then stored little-endian.
  std::array<uint8_t, 16> be{};
  size_t out = 0;
  for (size_t i = 0; i < text.size();) {
    if (text[i] == '-') {
      ++i;
      continue;
    }
    const int hi = detail::hexValue(text[i]);
    const int lo = i + 1 < text.size() ? detail::hexValue(text[i + 1]) : -1;
    if (hi < 0 || lo < 0 || out >= 16) {
      return std::nullopt;
    }
    be[out++] = static_cast<uint8_t>(hi * 16 + lo);
    i += 2;
  }
  if (out != 16) {
    return std::nullopt;
  }
  Guid g;
  constexpr std::array<size_t, 16> kWireFromText = {
      3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  for (size_t i = 0; i < 16; ++i) {
    g.bytes[i] = be[kWireFromText[i]];
  }
  return g;
}

}  // namespace xfp

template <>
struct std::hash<xfp::Guid> {
  size_t operator()(const xfp::Guid& g) const noexcept {
    uint64_t a = 0;
    uint64_t b = 0;
    for (int i = 0; i < 8; ++i) {
      a = (a << 8) | g.bytes[i];
      b = (b << 8) | g.bytes[8 + i];
    }
    return static_cast<size_t>(a ^ (b * 0x9E3779B97F4A7C15ULL));
  }
};
