#include "userspace/core/guid.h"

#include <random>

#include <fmt/format.h>

namespace xfp {

Guid Guid::generate() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  Guid g;
  const uint64_t a = rng();
  const uint64_t b = rng();
  for (int i = 0; i < 8; ++i) {
    g.bytes[i] = static_cast<uint8_t>(a >> (8 * i));
    g.bytes[8 + i] = static_cast<uint8_t>(b >> (8 * i));
  }
  g.bytes[7] = static_cast<uint8_t>((g.bytes[7] & 0x0F) | 0x40);  // version 4 (data3 high nibble)
  g.bytes[8] = static_cast<uint8_t>((g.bytes[8] & 0x3F) | 0x80);  // RFC 4122 variant
  return g;
}

std::string Guid::toString() const {
  const auto& b = bytes;
  return fmt::format(
      "{{{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:"
      "02x}{:02x}}}",
      b[3],
      b[2],
      b[1],
      b[0],
      b[5],
      b[4],
      b[7],
      b[6],
      b[8],
      b[9],
      b[10],
      b[11],
      b[12],
      b[13],
      b[14],
      b[15]);
}

}  // namespace xfp
