#include "tests/harness/packet_cases.h"

#include "xfp/abi.h"

namespace xfp::test {
namespace {

constexpr std::uint32_t kV4 = XFP_PKT_F_IPV4;
constexpr std::uint32_t kV6 = XFP_PKT_F_IPV6;
constexpr std::uint32_t kL4 = XFP_PKT_F_L4;
constexpr std::uint32_t kBad = XFP_PKT_F_MALFORMED;
constexpr std::uint32_t kFrag = XFP_PKT_F_FRAGMENT;
constexpr std::uint32_t kLater = XFP_PKT_F_LATER_FRAGMENT;
constexpr std::uint32_t kVlan = XFP_PKT_F_VLAN;

Bytes truncate(Bytes b, std::size_t n) {
  b.resize(n);
  return b;
}

Bytes options(std::size_t n) {
  return Bytes(n, 1);
}  // NOP options

std::vector<ParseCase> makeCases() {
  std::vector<ParseCase> c;
  auto add = [&c](std::string name, Bytes frame, ParseExpect e) {
    c.push_back(ParseCase{std::move(name), std::move(frame), e});
  };
  const Bytes tcp4 = PacketBuilder().eth().ipv4().tcp(40000, 443, 0x12).build();

  // Layer 2.
  add("ShortFrame", Bytes(13, 0xff), {kBad, 0, 0, 0, 0, 0, 0, 0, 0});
  add("Arp",
      PacketBuilder().eth().etherType(0x0806).payload(28).build(),
      {0, 0x0806, 0, 0, 0, 0, 0, 14, 0});
  add("Vlan8021qUdp",
      PacketBuilder().eth().vlan(100).ipv4().udp(5353, 53).build(),
      {kVlan | kV4 | kL4, 0x0800, 100, 17, 5353, 53, 0, 18, 38});
  add("QinQOuterIdKept",
      PacketBuilder().eth().vlan(300, 0x88A8).vlan(42).ipv4().udp(1, 2).build(),
      {kVlan | kV4 | kL4, 0x0800, 300, 17, 1, 2, 0, 22, 42});
  add("ThreeVlanTagsStop",
      PacketBuilder().eth().vlan(1).vlan(2).vlan(3).ipv4().udp(1, 2).build(),
      {kVlan, 0x8100, 1, 0, 0, 0, 0, 22, 0});
  add("VlanTagTruncated",
      truncate(PacketBuilder().eth().vlan(7).ipv4().build(), 16),
      {kVlan | kBad, 0x8100, 0, 0, 0, 0, 0, 0, 0});

  // IPv4.
  add("Ipv4Tcp", tcp4, {kV4 | kL4, 0x0800, 0, 6, 40000, 443, 0x12, 14, 34});
  add("Ipv4OptionsIhl15Udp",
      PacketBuilder()
          .eth()
          .ipv4(kSrc4, kDst4, with<Ipv4Options>([](auto& o) { o.options = options(40); }))
          .udp(9, 10)
          .build(),
      {kV4 | kL4, 0x0800, 0, 17, 9, 10, 0, 14, 74});
  add("Ipv4IhlBelow5",
      PacketBuilder()
          .eth()
          .ipv4(kSrc4, kDst4, with<Ipv4Options>([](auto& o) { o.ihl = 4; }))
          .udp(9, 10)
          .build(),
      {kBad, 0x0800, 0, 0, 0, 0, 0, 14, 0});
  add("Ipv4HeaderTruncated", truncate(tcp4, 14 + 19), {kBad, 0x0800, 0, 0, 0, 0, 0, 14, 0});
  add("Ipv4BadVersion",
      PacketBuilder()
          .eth()
          .ipv4(kSrc4, kDst4, with<Ipv4Options>([](auto& o) { o.version = 6; }))
          .udp(1, 2)
          .build(),
      {kBad, 0x0800, 0, 0, 0, 0, 0, 14, 0});
  add("Ipv4TotalLengthBeyondFrame",
      PacketBuilder()
          .eth()
          .ipv4(kSrc4, kDst4, with<Ipv4Options>([](auto& o) { o.totalLength = 1000; }))
          .udp(1, 2)
          .build(),
      {kBad, 0x0800, 0, 0, 0, 0, 0, 14, 0});
  add("Ipv4TotalLengthBelowHeader",
      PacketBuilder()
          .eth()
          .ipv4(kSrc4, kDst4, with<Ipv4Options>([](auto& o) { o.totalLength = 19; }))
          .udp(1, 2)
          .build(),
      {kBad, 0x0800, 0, 0, 0, 0, 0, 14, 0});
  add("Ipv4EthernetPaddingIgnored",
      PacketBuilder()
          .eth()
          .ipv4(kSrc4, kDst4, with<Ipv4Options>([](auto& o) { o.totalLength = 28; }))
          .udp(7, 8)
          .payload(18)
          .build(),
      {kV4 | kL4, 0x0800, 0, 17, 7, 8, 0, 14, 34});
  add("Ipv4L4BeyondTotalLength",
      PacketBuilder()
          .eth()
          .ipv4(kSrc4, kDst4, with<Ipv4Options>([](auto& o) { o.totalLength = 30; }))
          .tcp(1, 2)
          .build(),
      {kV4 | kBad, 0x0800, 0, 6, 0, 0, 0, 14, 34});
  add("Ipv4DontFragmentIsNotFragment",
      PacketBuilder()
          .eth()
          .ipv4(kSrc4, kDst4, with<Ipv4Options>([](auto& o) { o.dontFragment = true; }))
          .udp(1, 2)
          .build(),
      {kV4 | kL4, 0x0800, 0, 17, 1, 2, 0, 14, 34});
  add("Ipv4FirstFragment",
      PacketBuilder()
          .eth()
          .ipv4(kSrc4, kDst4, with<Ipv4Options>([](auto& o) { o.moreFragments = true; }))
          .udp(1, 2)
          .build(),
      {kV4 | kFrag | kL4, 0x0800, 0, 17, 1, 2, 0, 14, 34});
  add("Ipv4MiddleFragment",
      PacketBuilder()
          .eth()
          .ipv4(kSrc4, kDst4, with<Ipv4Options>([](auto& o) {
                  o.fragOffset = 185;
                  o.moreFragments = true;
                  o.protocol = 17;
                }))
          .payload(64)
          .build(),
      {kV4 | kFrag | kLater, 0x0800, 0, 17, 0, 0, 0, 14, 0});
  add("Ipv4LastFragment",
      PacketBuilder()
          .eth()
          .ipv4(kSrc4, kDst4, with<Ipv4Options>([](auto& o) {
                  o.fragOffset = 370;
                  o.protocol = 6;
                }))
          .payload(8)
          .build(),
      {kV4 | kFrag | kLater, 0x0800, 0, 6, 0, 0, 0, 14, 0});
  add("Ipv4UnknownProtocol",
      PacketBuilder()
          .eth()
          .ipv4(kSrc4, kDst4, with<Ipv4Options>([](auto& o) { o.protocol = 47; }))
          .payload(16)
          .build(),
      {kV4, 0x0800, 0, 47, 0, 0, 0, 14, 34});
  add("Ipv4Icmpv6NumberIsNotL4",
      PacketBuilder()
          .eth()
          .ipv4(kSrc4, kDst4, with<Ipv4Options>([](auto& o) { o.protocol = 58; }))
          .payload(8)
          .build(),
      {kV4, 0x0800, 0, 58, 0, 0, 0, 14, 34});

  // TCP, UDP, ICMP over IPv4.
  add("TcpDataOffsetBelow5",
      PacketBuilder()
          .eth()
          .ipv4()
          .tcp(1, 2, 0x10, with<TcpOptions>([](auto& o) { o.dataOffset = 4; }))
          .build(),
      {kV4 | kBad, 0x0800, 0, 6, 0, 0, 0, 14, 34});
  add("TcpDataOffsetBeyondDatagram",
      PacketBuilder()
          .eth()
          .ipv4()
          .tcp(1, 2, 0x10, with<TcpOptions>([](auto& o) { o.dataOffset = 15; }))
          .payload(8)
          .build(),
      {kV4 | kBad, 0x0800, 0, 6, 0, 0, 0, 14, 34});
  add("TcpWithOptions",
      PacketBuilder()
          .eth()
          .ipv4()
          .tcp(1, 2, 0x02, with<TcpOptions>([](auto& o) { o.optionBytes = 20; }))
          .build(),
      {kV4 | kL4, 0x0800, 0, 6, 1, 2, 0x02, 14, 34});
  add("TcpTruncated", truncate(tcp4, 14 + 20 + 19), {kBad, 0x0800, 0, 0, 0, 0, 0, 14, 0});
  add("TcpTruncatedPaddedTotalLength",
      PacketBuilder()
          .eth()
          .ipv4(kSrc4, kDst4, with<Ipv4Options>([](auto& o) { o.protocol = 6; }))
          .payload(19)
          .build(),
      {kV4 | kBad, 0x0800, 0, 6, 0, 0, 0, 14, 34});
  add("UdpTruncated",
      PacketBuilder()
          .eth()
          .ipv4(kSrc4, kDst4, with<Ipv4Options>([](auto& o) { o.protocol = 17; }))
          .payload(7)
          .build(),
      {kV4 | kBad, 0x0800, 0, 17, 0, 0, 0, 14, 34});
  add("IcmpEcho",
      PacketBuilder().eth().ipv4().icmp(8, 0).build(),
      {kV4 | kL4, 0x0800, 0, 1, 8, 0, 0, 14, 34});
  add("IcmpUnreachable",
      PacketBuilder().eth().ipv4().icmp(3, 13).build(),
      {kV4 | kL4, 0x0800, 0, 1, 3, 13, 0, 14, 34});
  add("IcmpTruncated",
      PacketBuilder()
          .eth()
          .ipv4(kSrc4, kDst4, with<Ipv4Options>([](auto& o) { o.protocol = 1; }))
          .payload(3)
          .build(),
      {kV4 | kBad, 0x0800, 0, 1, 0, 0, 0, 14, 34});

  // IPv6.
  add("Ipv6Tcp",
      PacketBuilder().eth().ipv6().tcp(50000, 22, 0x18).build(),
      {kV6 | kL4, 0x86DD, 0, 6, 50000, 22, 0x18, 14, 54});
  add("Ipv6HeaderTruncated",
      truncate(PacketBuilder().eth().ipv6().udp(1, 2).build(), 14 + 39),
      {kBad, 0x86DD, 0, 0, 0, 0, 0, 14, 0});
  add("Ipv6BadVersion",
      PacketBuilder()
          .eth()
          .ipv6(kSrc6, kDst6, with<Ipv6Options>([](auto& o) { o.version = 4; }))
          .udp(1, 2)
          .build(),
      {kBad, 0x86DD, 0, 0, 0, 0, 0, 14, 0});
  add("Ipv6PayloadLengthBeyondFrame",
      PacketBuilder()
          .eth()
          .ipv6(kSrc6, kDst6, with<Ipv6Options>([](auto& o) { o.payloadLength = 100; }))
          .udp(1, 2)
          .build(),
      {kBad, 0x86DD, 0, 0, 0, 0, 0, 14, 0});
  add("Ipv6NoNextHeader",
      PacketBuilder().eth().ipv6().build(),
      {kV6, 0x86DD, 0, 59, 0, 0, 0, 14, 54});
  add("Ipv6ExtChainUdp",
      PacketBuilder().eth().ipv6().ipv6Ext(0).ipv6Ext(60, 1).ipv6Ext(43).udp(1, 2).build(),
      {kV6 | kL4, 0x86DD, 0, 17, 1, 2, 0, 14, 54 + 8 + 16 + 8});
  add("Ipv6AuthHeaderTcp",
      PacketBuilder().eth().ipv6().ipv6Ext(51, 4).tcp(1, 2, 0x01).build(),
      {kV6 | kL4, 0x86DD, 0, 6, 1, 2, 0x01, 14, 54 + 24});
  add("Ipv6FirstFragment",
      PacketBuilder().eth().ipv6().ipv6Frag(0, true).udp(1, 2).build(),
      {kV6 | kFrag | kL4, 0x86DD, 0, 17, 1, 2, 0, 14, 62});
  add("Ipv6LaterFragment",
      PacketBuilder().eth().ipv6().ipv6Frag(100, false).udp(1, 2).build(),
      {kV6 | kFrag | kLater, 0x86DD, 0, 17, 0, 0, 0, 14, 0});
  add("Ipv6SixExtHeaders",
      PacketBuilder()
          .eth()
          .ipv6()
          .ipv6Ext(0)
          .ipv6Ext(60)
          .ipv6Ext(43)
          .ipv6Ext(51)
          .ipv6Ext(60)
          .ipv6Frag(0, false)
          .icmpv6(128, 0)
          .build(),
      {kV6 | kFrag | kL4, 0x86DD, 0, 58, 128, 0, 0, 14, 54 + 48});
  add("Ipv6SevenExtHeadersHitLimit",
      PacketBuilder()
          .eth()
          .ipv6()
          .ipv6Ext(0)
          .ipv6Ext(60)
          .ipv6Ext(43)
          .ipv6Ext(60)
          .ipv6Ext(43)
          .ipv6Ext(60)
          .ipv6Ext(43)
          .udp(1, 2)
          .build(),
      {kV6 | XFP_PKT_F_EXT_LIMIT, 0x86DD, 0, 43, 0, 0, 0, 14, 0});
  add("Ipv6ExtBeyondPayload",
      PacketBuilder()
          .eth()
          .ipv6(kSrc6, kDst6, with<Ipv6Options>([](auto& o) { o.payloadLength = 16; }))
          .ipv6Ext(60, 20)
          .build(),
      {kV6 | kBad, 0x86DD, 0, 60, 0, 0, 0, 14, 0});
  add("Ipv6ExtTruncated",
      PacketBuilder()
          .eth()
          .ipv6(kSrc6, kDst6, with<Ipv6Options>([](auto& o) { o.nextHeader = 0; }))
          .payload(6)
          .build(),
      {kV6 | kBad, 0x86DD, 0, 0, 0, 0, 0, 14, 0});
  add("Icmpv6Echo",
      PacketBuilder().eth().ipv6().icmpv6(128, 0).build(),
      {kV6 | kL4, 0x86DD, 0, 58, 128, 0, 0, 14, 54});
  add("IcmpNumberInIpv6IsNotL4",
      PacketBuilder()
          .eth()
          .ipv6(kSrc6, kDst6, with<Ipv6Options>([](auto& o) { o.nextHeader = 1; }))
          .payload(8)
          .build(),
      {kV6, 0x86DD, 0, 1, 0, 0, 0, 14, 54});
  add("Icmpv6Truncated",
      PacketBuilder()
          .eth()
          .ipv6(kSrc6, kDst6, with<Ipv6Options>([](auto& o) { o.nextHeader = 58; }))
          .payload(2)
          .build(),
      {kV6 | kBad, 0x86DD, 0, 58, 0, 0, 0, 14, 54});
  add("VlanIpv6Udp",
      PacketBuilder().eth().vlan(4095, 0x88A8).ipv6().udp(1000, 2000).build(),
      {kVlan | kV6 | kL4, 0x86DD, 4095, 17, 1000, 2000, 0, 18, 58});
  return c;
}

}  // namespace

const std::vector<ParseCase>& parseCases() {
  static const std::vector<ParseCase> cases = makeCases();
  return cases;
}

}  // namespace xfp::test
