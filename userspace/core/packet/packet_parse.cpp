#include "userspace/core/packet/packet_parse.h"

#include <array>
#include <cstdio>
#include <cstring>
#include <optional>

namespace xfp::packet {
namespace {

constexpr std::uint16_t kEtherIpv4 = 0x0800;
constexpr std::uint16_t kEtherIpv6 = 0x86DD;
constexpr std::uint16_t kEtherVlan = 0x8100;
constexpr std::uint16_t kEtherQinQ = 0x88A8;

enum Proto : std::uint8_t {
  kHopByHop = 0,
  kIcmp = 1,
  kTcp = 6,
  kUdp = 17,
  kRouting = 43,
  kFragment = 44,
  kAuth = 51,
  kIcmpv6 = 58,
  kDestOpts = 60,
};

bool isExtensionHeader(std::uint8_t proto) {
  switch (proto) {
    case kHopByHop:
    case kRouting:
    case kFragment:
    case kDestOpts:
    case kAuth:
      return true;
    default:
      return false;
  }
}

// A view of the frame that hands out header spans only when they fit below a limit.
class Frame {
 public:
  explicit Frame(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  std::size_t size() const { return bytes_.size(); }

  // n bytes at off, if off is within the parser's offset bound and off + n <= limit.
  std::optional<std::span<const std::uint8_t>> header(std::size_t off,
                                                      std::size_t n,
                                                      std::size_t limit) const {
    if (off > XFP_PARSE_MAX_OFF || limit > bytes_.size() || off + n > limit) {
      return std::nullopt;
    }
    return bytes_.subspan(off, n);
  }

 private:
  std::span<const std::uint8_t> bytes_;
};

std::uint16_t be16(std::span<const std::uint8_t> h, std::size_t at) {
  return static_cast<std::uint16_t>((h[at] << 8) | h[at + 1]);
}

// Result of one parsing step: keep going or stop here.
enum class Step { kContinue, kStop };

Step malformed(xfp_pkt& pkt) {
  pkt.flags |= XFP_PKT_F_MALFORMED;
  return Step::kStop;
}

Step parseTransport(
    const Frame& frame, xfp_pkt& pkt, std::size_t at, std::size_t ipEnd, bool ipv6) {
  const std::uint8_t proto = pkt.ip_proto;
  const bool icmp = ipv6 ? proto == kIcmpv6 : proto == kIcmp;
  if (proto == kTcp) {
    auto h = frame.header(at, 20, ipEnd);
    if (!h) {
      return malformed(pkt);
    }
    const std::size_t dataOffset = ((*h)[12] >> 4) * 4U;
    if (dataOffset < 20 || at + dataOffset > ipEnd) {
      return malformed(pkt);
    }
    pkt.src_port = be16(*h, 0);
    pkt.dst_port = be16(*h, 2);
    pkt.tcp_flags = (*h)[13];
  } else if (proto == kUdp) {
    auto h = frame.header(at, 8, ipEnd);
    if (!h) {
      return malformed(pkt);
    }
    pkt.src_port = be16(*h, 0);
    pkt.dst_port = be16(*h, 2);
  } else if (icmp) {
    auto h = frame.header(at, 4, ipEnd);
    if (!h) {
      return malformed(pkt);
    }
    pkt.src_port = (*h)[0];  // WFP: ICMP type in the local-port slot
    pkt.dst_port = (*h)[1];  // and the code in the remote-port slot
  } else {
    return Step::kStop;
  }
  pkt.flags |= XFP_PKT_F_L4;
  return Step::kStop;
}

Step parseIpv4(const Frame& frame, xfp_pkt& pkt, std::size_t at) {
  auto h = frame.header(at, 20, frame.size());
  if (!h) {
    return malformed(pkt);
  }
  const unsigned version = (*h)[0] >> 4;
  const std::size_t headerLen = ((*h)[0] & 0x0fU) * 4U;
  const std::size_t totalLen = be16(*h, 2);
  if (version != 4 || headerLen < 20 || totalLen < headerLen || at + totalLen > frame.size()) {
    return malformed(pkt);
  }
  pkt.flags |= XFP_PKT_F_IPV4;
  std::memcpy(pkt.src_addr, h->data() + 12, 4);
  std::memcpy(pkt.dst_addr, h->data() + 16, 4);
  pkt.ip_proto = (*h)[9];
  const std::uint16_t fragField = be16(*h, 6);
  const bool moreFragments = (fragField & 0x2000) != 0;
  const std::uint16_t fragOffset = fragField & 0x1fff;
  if (moreFragments || fragOffset != 0) {
    pkt.flags |= XFP_PKT_F_FRAGMENT;
  }
  if (fragOffset != 0) {
    pkt.flags |= XFP_PKT_F_LATER_FRAGMENT;
    return Step::kStop;
  }
  pkt.l4_offset = static_cast<std::uint16_t>(at + headerLen);
  return parseTransport(frame, pkt, at + headerLen, at + totalLen, false);
}

Step parseIpv6(const Frame& frame, xfp_pkt& pkt, std::size_t at) {
  auto h = frame.header(at, 40, frame.size());
  if (!h || ((*h)[0] >> 4) != 6) {
    return malformed(pkt);
  }
  const std::size_t ipEnd = at + 40 + be16(*h, 4);
  if (ipEnd > frame.size()) {
    return malformed(pkt);
  }
  pkt.flags |= XFP_PKT_F_IPV6;
  std::memcpy(pkt.src_addr, h->data() + 8, 16);
  std::memcpy(pkt.dst_addr, h->data() + 24, 16);
  pkt.ip_proto = (*h)[6];

  std::size_t cursor = at + 40;
  int walked = 0;
  while (isExtensionHeader(pkt.ip_proto)) {
    if (walked == XFP_IPV6_EXT_MAX) {
      pkt.flags |= XFP_PKT_F_EXT_LIMIT;
      return Step::kStop;
    }
    ++walked;
    auto ext = frame.header(cursor, 8, ipEnd);
    if (!ext) {
      return malformed(pkt);
    }
    std::size_t extLen = 0;
    bool laterFragment = false;
    switch (pkt.ip_proto) {
      case kFragment:
        extLen = 8;
        pkt.flags |= XFP_PKT_F_FRAGMENT;
        laterFragment = (be16(*ext, 2) >> 3) != 0;
        break;
      case kAuth:
        extLen = (static_cast<std::size_t>((*ext)[1]) + 2) * 4;  // RFC 4302: 4-octet units
        break;
      default:
        extLen = (static_cast<std::size_t>((*ext)[1]) + 1) * 8;  // RFC 8200: 8-octet units
        break;
    }
    if (cursor + extLen > ipEnd) {
      return malformed(pkt);
    }
    pkt.ip_proto = (*ext)[0];
    cursor += extLen;
    if (laterFragment) {
      pkt.flags |= XFP_PKT_F_LATER_FRAGMENT;
      return Step::kStop;
    }
  }
  pkt.l4_offset = static_cast<std::uint16_t>(cursor);
  return parseTransport(frame, pkt, cursor, ipEnd, true);
}

}  // namespace

xfp_pkt parse(std::span<const std::uint8_t> bytes) {
  xfp_pkt pkt{};
  const Frame frame(bytes);
  auto eth = frame.header(0, 14, frame.size());
  if (!eth) {
    pkt.flags = XFP_PKT_F_MALFORMED;
    return pkt;
  }
  std::memcpy(pkt.dst_mac, eth->data(), 6);
  std::memcpy(pkt.src_mac, eth->data() + 6, 6);
  pkt.ether_type = be16(*eth, 12);
  std::size_t at = 14;
  for (int tag = 0; tag < XFP_VLAN_MAX; ++tag) {
    if (pkt.ether_type != kEtherVlan && pkt.ether_type != kEtherQinQ) {
      break;
    }
    pkt.flags |= XFP_PKT_F_VLAN;
    auto vlan = frame.header(at, 4, frame.size());
    if (!vlan) {
      malformed(pkt);
      return pkt;
    }
    if (tag == 0) {
      pkt.vlan_id = be16(*vlan, 0) & 0x0fff;
    }
    pkt.ether_type = be16(*vlan, 2);
    at += 4;
  }
  pkt.l3_offset = static_cast<std::uint16_t>(at);
  if (pkt.ether_type == kEtherIpv4) {
    parseIpv4(frame, pkt, at);
  } else if (pkt.ether_type == kEtherIpv6) {
    parseIpv6(frame, pkt, at);
  }
  return pkt;
}

void count(const xfp_pkt& pkt, xfp_parse_counters& c) {
  const std::uint32_t f = pkt.flags;
  const bool v4 = (f & XFP_PKT_F_IPV4) != 0;
  const bool v6 = (f & XFP_PKT_F_IPV6) != 0;
  const bool bad = (f & XFP_PKT_F_MALFORMED) != 0;
  ++c.total;
  c.vlan += (f & XFP_PKT_F_VLAN) != 0;
  c.ipv4 += v4;
  c.ipv6 += v6;
  if ((f & XFP_PKT_F_L4) != 0) {
    c.tcp += pkt.ip_proto == kTcp;
    c.udp += pkt.ip_proto == kUdp;
    c.icmp += v4 && pkt.ip_proto == kIcmp;
    c.icmpv6 += v6 && pkt.ip_proto == kIcmpv6;
  }
  c.fragment += (f & XFP_PKT_F_FRAGMENT) != 0;
  c.malformed += bad;
  c.ext_limit += (f & XFP_PKT_F_EXT_LIMIT) != 0;
  c.other_l3 += !v4 && !v6 && !bad;
}

std::string describe(const xfp_pkt& pkt) {
  static constexpr std::array<const char*, 8> kNames = {
      "VLAN", "IPV4", "IPV6", "FRAGMENT", "LATER_FRAGMENT", "L4", "MALFORMED", "EXT_LIMIT"};
  std::string out = "flags=";
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if ((pkt.flags & (1U << i)) != 0) {
      out += kNames[i];
      out += '|';
    }
  }
  char buf[160];
  std::snprintf(buf,
                sizeof buf,
                " ether_type=0x%04x vlan=%u proto=%u ports=%u/%u tcp_flags=0x%02x l3=%u l4=%u",
                pkt.ether_type,
                pkt.vlan_id,
                pkt.ip_proto,
                pkt.src_port,
                pkt.dst_port,
                pkt.tcp_flags,
                pkt.l3_offset,
                pkt.l4_offset);
  return out + buf;
}

std::string hexDump(std::span<const std::uint8_t> bytes) {
  std::string out;
  char buf[32];
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i % 16 == 0) {
      std::snprintf(buf, sizeof buf, "%s%04zx:", i == 0 ? "" : "\n", i);
      out += buf;
    }
    std::snprintf(buf, sizeof buf, " %02x", bytes[i]);
    out += buf;
  }
  return out;
}

}  // namespace xfp::packet
