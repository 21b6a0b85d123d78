// The reference parser against every row of docs/parsing.md, plus properties that must hold for
// any input (no crash under ASan, flags consistent with fields).
#include "userspace/core/packet/packet_parse.h"

#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "tests/harness/packet_builder.h"
#include "tests/harness/packet_cases.h"

namespace xfp::packet {
namespace {

using test::ParseCase;

class DocsTable : public testing::TestWithParam<ParseCase> {};

TEST_P(DocsTable, Matches) {
  const ParseCase& c = GetParam();
  const xfp_pkt p = parse(c.frame);
  SCOPED_TRACE(describe(p) + "\n" + hexDump(c.frame));
  EXPECT_EQ(p.flags, c.expect.flags);
  EXPECT_EQ(p.ether_type, c.expect.etherType);
  EXPECT_EQ(p.vlan_id, c.expect.vlanId);
  EXPECT_EQ(p.ip_proto, c.expect.ipProto);
  EXPECT_EQ(p.src_port, c.expect.srcPort);
  EXPECT_EQ(p.dst_port, c.expect.dstPort);
  EXPECT_EQ(p.tcp_flags, c.expect.tcpFlags);
  EXPECT_EQ(p.l3_offset, c.expect.l3Offset);
  EXPECT_EQ(p.l4_offset, c.expect.l4Offset);
  EXPECT_EQ(p._pad, 0);
  if (c.frame.size() >= 14) {
    EXPECT_EQ(std::memcmp(p.dst_mac, c.frame.data(), 6), 0);
    EXPECT_EQ(std::memcmp(p.src_mac, c.frame.data() + 6, 6), 0);
  }
  const std::uint8_t zero[16] = {};
  if ((p.flags & XFP_PKT_F_IPV4) != 0) {
    const std::size_t ip = p.l3_offset;
    EXPECT_EQ(std::memcmp(p.src_addr, c.frame.data() + ip + 12, 4), 0);
    EXPECT_EQ(std::memcmp(p.dst_addr, c.frame.data() + ip + 16, 4), 0);
    EXPECT_EQ(std::memcmp(p.src_addr + 4, zero, 12), 0);
    EXPECT_EQ(std::memcmp(p.dst_addr + 4, zero, 12), 0);
  } else if ((p.flags & XFP_PKT_F_IPV6) != 0) {
    const std::size_t ip = p.l3_offset;
    EXPECT_EQ(std::memcmp(p.src_addr, c.frame.data() + ip + 8, 16), 0);
    EXPECT_EQ(std::memcmp(p.dst_addr, c.frame.data() + ip + 24, 16), 0);
  } else {
    EXPECT_EQ(std::memcmp(p.src_addr, zero, 16), 0);
    EXPECT_EQ(std::memcmp(p.dst_addr, zero, 16), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Packet,
                         DocsTable,
                         testing::ValuesIn(test::parseCases()),
                         [](const testing::TestParamInfo<ParseCase>& param) {
                           return param.param.name;
                         });

TEST(PacketParse, IcmpTypeAndCodeInPortSlots) {
  const auto frame = test::PacketBuilder().eth().ipv4().icmp(11, 1).build();
  const xfp_pkt p = parse(frame);
  EXPECT_EQ(p.src_port, 11);
  EXPECT_EQ(p.dst_port, 1);
}

TEST(PacketParse, CountsFollowFlags) {
  xfp_parse_counters c{};
  count(parse(test::PacketBuilder().eth().vlan(5).ipv4().tcp(1, 2).build()), c);
  count(parse(test::PacketBuilder().eth().ipv6().ipv6Frag(0, true).udp(1, 2).build()), c);
  count(parse(test::PacketBuilder().eth().ipv4().icmp(8, 0).build()), c);
  count(parse(test::PacketBuilder().eth().ipv6().icmpv6(135, 0).build()), c);
  count(parse(test::PacketBuilder().eth().etherType(0x0806).payload(28).build()), c);
  count(parse(test::Bytes(10, 0)), c);
  EXPECT_EQ(c.total, 6U);
  EXPECT_EQ(c.vlan, 1U);
  EXPECT_EQ(c.ipv4, 2U);
  EXPECT_EQ(c.ipv6, 2U);
  EXPECT_EQ(c.tcp, 1U);
  EXPECT_EQ(c.udp, 1U);
  EXPECT_EQ(c.icmp, 1U);
  EXPECT_EQ(c.icmpv6, 1U);
  EXPECT_EQ(c.fragment, 1U);
  EXPECT_EQ(c.malformed, 1U);
  EXPECT_EQ(c.other_l3, 1U);
}

// Every prefix of valid frames and random mutations: never reads out of bounds (ASan), and the
// invariants of docs/parsing.md hold.
TEST(PacketParse, TruncationsAndMutationsKeepInvariants) {
  std::mt19937 rng(1234);
  for (const ParseCase& c : test::parseCases()) {
    for (std::size_t n = 0; n <= c.frame.size(); ++n) {
      test::Bytes frame(c.frame.begin(), c.frame.begin() + static_cast<std::ptrdiff_t>(n));
      for (int round = 0; round < 4; ++round) {
        const xfp_pkt p = parse(frame);
        const bool v4 = (p.flags & XFP_PKT_F_IPV4) != 0;
        const bool v6 = (p.flags & XFP_PKT_F_IPV6) != 0;
        ASSERT_FALSE(v4 && v6);
        if ((p.flags & XFP_PKT_F_L4) != 0) {
          ASSERT_TRUE(v4 || v6);
          ASSERT_EQ(p.flags & (XFP_PKT_F_MALFORMED | XFP_PKT_F_LATER_FRAGMENT), 0U);
          ASSERT_NE(p.l4_offset, 0);
        }
        if ((p.flags & XFP_PKT_F_LATER_FRAGMENT) != 0) {
          ASSERT_NE(p.flags & XFP_PKT_F_FRAGMENT, 0U);
          ASSERT_EQ(p.l4_offset, 0);
        }
        ASSERT_LE(p.l4_offset, frame.size());
        if (!frame.empty()) {
          frame[rng() % frame.size()] = static_cast<std::uint8_t>(rng());
        }
      }
    }
  }
}

}  // namespace
}  // namespace xfp::packet
