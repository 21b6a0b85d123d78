// The reference packet parser: bytes of an Ethernet frame -> struct xfp_pkt, following the table
// in docs/parsing.md. It is the oracle the BPF parser (bpf/lib/parse.h) is tested against, so it
// is written independently of it; the two must agree byte for byte.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "xfp/abi.h"

namespace xfp::packet {

// Parses a whole frame. Never fails: damage is reported in the flags (XFP_PKT_F_MALFORMED,
// XFP_PKT_F_EXT_LIMIT). Unused bytes of the result are zero.
[[nodiscard]] xfp_pkt parse(std::span<const std::uint8_t> frame);

// The counters one packet adds to struct xfp_parse_counters (docs/parsing.md, "Counters").
void count(const xfp_pkt& pkt, xfp_parse_counters& counters);

// One line naming the flags and fields, for test failure messages.
[[nodiscard]] std::string describe(const xfp_pkt& pkt);

// Hex dump of bytes (16 a line), for reproducers.
[[nodiscard]] std::string hexDump(std::span<const std::uint8_t> bytes);

}  // namespace xfp::packet
