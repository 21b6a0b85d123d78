// The parser cases of docs/parsing.md as data: a frame and the fields the parser must yield.
// tests/unit/packet checks the C++ reference parser against them; tests/bpf runs the same frames
// through the BPF programs and compares with the reference byte for byte.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/harness/packet_builder.h"

namespace xfp::test {

struct ParseExpect {
  std::uint32_t flags = 0;
  std::uint16_t etherType = 0;
  std::uint16_t vlanId = 0;
  std::uint8_t ipProto = 0;
  std::uint16_t srcPort = 0;
  std::uint16_t dstPort = 0;
  std::uint8_t tcpFlags = 0;
  std::uint16_t l3Offset = 0;
  std::uint16_t l4Offset = 0;
};

struct ParseCase {
  std::string name;  // a gtest-safe identifier
  Bytes frame;
  ParseExpect expect;
};

// Every row of the docs/parsing.md table, in order.
const std::vector<ParseCase>& parseCases();

}  // namespace xfp::test
