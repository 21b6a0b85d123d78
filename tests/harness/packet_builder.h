// Builds Ethernet frames layer by layer for tests: VLAN tags, IPv4 (+options, fragments), IPv6
// (+extension headers), TCP, UDP, ICMP, ICMPv6. build() chains the type/next-header fields and
// fills lengths and the IPv4 checksum unless a layer overrides them, so malformed frames are one
// override away. Header-only (no I/O).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace xfp::test {

using Bytes = std::vector<std::uint8_t>;
using Mac = std::array<std::uint8_t, 6>;
using Ipv4Addr = std::array<std::uint8_t, 4>;
using Ipv6Addr = std::array<std::uint8_t, 16>;

inline constexpr Mac kDstMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x02};
inline constexpr Mac kSrcMac = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
inline constexpr Ipv4Addr kSrc4 = {10, 0, 0, 1};
inline constexpr Ipv4Addr kDst4 = {10, 0, 0, 2};
inline constexpr Ipv6Addr kSrc6 = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
inline constexpr Ipv6Addr kDst6 = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

struct Ipv4Options {
  Bytes options;                 // appended after the 20-byte header (multiple of 4)
  std::uint16_t fragOffset = 0;  // in 8-byte units
  bool moreFragments = false;
  bool dontFragment = false;
  std::uint8_t ttl = 64;
  std::optional<std::uint8_t> ihl;           // override (default: (20 + options) / 4)
  std::optional<std::uint16_t> totalLength;  // override (default: to the end of the frame)
  std::optional<std::uint8_t> protocol;      // override (default: the next layer's)
  std::optional<std::uint8_t> version;       // override (default 4)
};

struct Ipv6Options {
  std::optional<std::uint16_t> payloadLength;  // override (default: to the end of the frame)
  std::optional<std::uint8_t> nextHeader;      // override (default: the next layer's)
  std::optional<std::uint8_t> version;         // override (default 6)
};

struct TcpOptions {
  std::size_t optionBytes = 0;             // zero bytes after the 20-byte header
  std::optional<std::uint8_t> dataOffset;  // override in 4-byte words
};

// Options with a few fields set, without designated initializers (GCC warns about the others):
// with<Ipv4Options>([](auto& o) { o.ihl = 4; }).
template <class Options, class Set>
Options with(Set set) {
  Options o;
  set(o);
  return o;
}

class PacketBuilder {
 public:
  PacketBuilder& eth(const Mac& dst = kDstMac, const Mac& src = kSrcMac) {
    const std::size_t at = begin(Kind::kEth, 0);
    put(dst.data(), 6);
    put(src.data(), 6);
    put16(0);
    layers_.back().typeField = at + 12;
    return *this;
  }
  // A raw Ethernet type for the last layer's type field (e.g. ARP 0x0806, or a bogus one).
  PacketBuilder& etherType(std::uint16_t type) {
    layers_.back().forcedType = type;
    return *this;
  }
  PacketBuilder& vlan(std::uint16_t vid, std::uint16_t tpid = 0x8100, std::uint8_t pcp = 0) {
    const std::size_t at = begin(Kind::kVlan, tpid);
    put16(static_cast<std::uint16_t>((pcp << 13) | (vid & 0x0fff)));
    put16(0);
    layers_.back().typeField = at + 2;
    return *this;
  }
  PacketBuilder& ipv4(const Ipv4Addr& src = kSrc4,
                      const Ipv4Addr& dst = kDst4,
                      const Ipv4Options& o = {}) {
    const std::size_t at = begin(Kind::kIpv4, 0x0800);
    const std::size_t ihl = o.ihl.value_or(static_cast<std::uint8_t>((20 + o.options.size()) / 4));
    put8(static_cast<std::uint8_t>((o.version.value_or(4) << 4) | (ihl & 0x0f)));
    put8(0);
    put16(0);  // total length, filled by build()
    put16(0x1234);
    put16(static_cast<std::uint16_t>((o.dontFragment ? 0x4000 : 0) |
                                     (o.moreFragments ? 0x2000 : 0) | (o.fragOffset & 0x1fff)));
    put8(o.ttl);
    put8(o.protocol.value_or(0));
    put16(0);  // checksum, filled by build()
    put(src.data(), 4);
    put(dst.data(), 4);
    put(o.options.data(), o.options.size());
    Layer& l = layers_.back();
    l.protoField = at + 9;
    l.lengthOverride = o.totalLength;
    if (o.protocol) {
      l.forcedType = *o.protocol;
    }
    return *this;
  }
  PacketBuilder& ipv6(const Ipv6Addr& src = kSrc6,
                      const Ipv6Addr& dst = kDst6,
                      const Ipv6Options& o = {}) {
    const std::size_t at = begin(Kind::kIpv6, 0x86DD);
    put8(static_cast<std::uint8_t>(o.version.value_or(6) << 4));
    put8(0);
    put16(0);
    put16(0);  // payload length, filled by build()
    put8(o.nextHeader.value_or(59));
    put8(64);
    put(src.data(), 16);
    put(dst.data(), 16);
    Layer& l = layers_.back();
    l.protoField = at + 6;
    l.lengthOverride = o.payloadLength;
    if (o.nextHeader) {
      l.forcedType = *o.nextHeader;
    }
    return *this;
  }
  // An IPv6 extension header (0, 43, 60: hdrLenField in 8-octet units beyond the first 8;
  // 51: AH, in 4-octet units minus 2). The body is zero-filled to the implied length.
  PacketBuilder& ipv6Ext(std::uint8_t type, std::uint8_t hdrLenField = 0) {
    const std::size_t at = begin(Kind::kIpv6Ext, type);
    const std::size_t len = type == 51 ? (static_cast<std::size_t>(hdrLenField) + 2) * 4
                                       : (static_cast<std::size_t>(hdrLenField) + 1) * 8;
    put8(59);
    put8(hdrLenField);
    for (std::size_t i = 2; i < len; ++i) {
      put8(0);
    }
    layers_.back().protoField = at;
    return *this;
  }
  PacketBuilder& ipv6Frag(std::uint16_t offset8, bool more, std::uint32_t id = 7) {
    const std::size_t at = begin(Kind::kIpv6Ext, 44);
    put8(59);
    put8(0);
    put16(static_cast<std::uint16_t>((offset8 << 3) | (more ? 1 : 0)));
    put16(static_cast<std::uint16_t>(id >> 16));
    put16(static_cast<std::uint16_t>(id));
    layers_.back().protoField = at;
    return *this;
  }
  PacketBuilder& tcp(std::uint16_t sport,
                     std::uint16_t dport,
                     std::uint8_t flags = 0x02,
                     const TcpOptions& o = {}) {
    begin(Kind::kL4, 6);
    put16(sport);
    put16(dport);
    put16(0);
    put16(1);  // seq
    put16(0);
    put16(0);  // ack
    const std::size_t doff =
        o.dataOffset.value_or(static_cast<std::uint8_t>(5 + o.optionBytes / 4));
    put8(static_cast<std::uint8_t>(doff << 4));
    put8(flags);
    put16(65535);
    put16(0);
    put16(0);
    for (std::size_t i = 0; i < o.optionBytes; ++i) {
      put8(1);  // NOP
    }
    return *this;
  }
  PacketBuilder& udp(std::uint16_t sport, std::uint16_t dport) {
    const std::size_t at = begin(Kind::kUdp, 17);
    put16(sport);
    put16(dport);
    put16(0);  // length, filled by build()
    put16(0);
    layers_.back().lengthField = at + 4;
    return *this;
  }
  PacketBuilder& icmp(std::uint8_t type, std::uint8_t code) { return icmpLike(1, type, code); }
  PacketBuilder& icmpv6(std::uint8_t type, std::uint8_t code) { return icmpLike(58, type, code); }
  PacketBuilder& payload(std::size_t n, std::uint8_t fill = 0xab) {
    bytes_.insert(bytes_.end(), n, fill);
    return *this;
  }
  PacketBuilder& raw(const Bytes& b) {
    bytes_.insert(bytes_.end(), b.begin(), b.end());
    return *this;
  }

  Bytes build() const {
    Bytes out = bytes_;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
      const Layer& l = layers_[i];
      const bool hasNext = i + 1 < layers_.size();
      if (l.typeField) {
        const std::uint32_t t = l.forcedType ? *l.forcedType : hasNext ? layers_[i + 1].id : 0;
        if (l.forcedType || hasNext) {
          set16(out, *l.typeField, static_cast<std::uint16_t>(t));
        }
      }
      if (l.protoField && !l.forcedType && hasNext) {
        out[*l.protoField] = static_cast<std::uint8_t>(layers_[i + 1].id);
      }
      if (l.kind == Kind::kIpv4) {
        const auto total = l.lengthOverride.value_or(static_cast<std::uint16_t>(out.size() - l.at));
        set16(out, l.at + 2, total);
        const std::size_t ihl = (out[l.at] & 0x0f) * 4U;
        std::uint32_t sum = 0;
        for (std::size_t k = 0; k < ihl && l.at + k + 1 < out.size(); k += 2) {
          sum += static_cast<std::uint32_t>((out[l.at + k] << 8) | out[l.at + k + 1]);
        }
        while (sum >> 16) {
          sum = (sum & 0xffff) + (sum >> 16);
        }
        set16(out, l.at + 10, static_cast<std::uint16_t>(~sum));
      } else if (l.kind == Kind::kIpv6) {
        set16(out,
              l.at + 4,
              l.lengthOverride.value_or(static_cast<std::uint16_t>(out.size() - l.at - 40)));
      } else if (l.kind == Kind::kUdp) {
        set16(out, *l.lengthField, static_cast<std::uint16_t>(out.size() - l.at));
      }
    }
    return out;
  }

 private:
  enum class Kind { kEth, kVlan, kIpv4, kIpv6, kIpv6Ext, kL4, kUdp };
  struct Layer {
    Kind kind;
    std::size_t at;
    std::uint32_t id;  // what the previous layer's type/next-header field says for this one
    std::optional<std::size_t> typeField;   // 16-bit Ethernet type to patch
    std::optional<std::size_t> protoField;  // 8-bit protocol / next header to patch
    std::optional<std::size_t> lengthField;
    std::optional<std::uint32_t> forcedType;
    std::optional<std::uint16_t> lengthOverride;
  };

  PacketBuilder& icmpLike(std::uint32_t id, std::uint8_t type, std::uint8_t code) {
    begin(Kind::kL4, id);
    put8(type);
    put8(code);
    put16(0);
    put16(0x0001);
    put16(0x0001);
    return *this;
  }
  std::size_t begin(Kind kind, std::uint32_t id) {
    layers_.push_back(Layer{kind, bytes_.size(), id, {}, {}, {}, {}, {}});
    return bytes_.size();
  }
  void put8(std::uint8_t v) { bytes_.push_back(v); }
  void put16(std::uint16_t v) {
    bytes_.push_back(static_cast<std::uint8_t>(v >> 8));
    bytes_.push_back(static_cast<std::uint8_t>(v));
  }
  void put(const std::uint8_t* p, std::size_t n) { bytes_.insert(bytes_.end(), p, p + n); }
  static void set16(Bytes& b, std::size_t at, std::uint16_t v) {
    if (at + 1 < b.size()) {
      b[at] = static_cast<std::uint8_t>(v >> 8);
      b[at + 1] = static_cast<std::uint8_t>(v);
    }
  }

  Bytes bytes_;
  std::vector<Layer> layers_;
};

// An Ethernet + IPv4 frame for a 5-tuple (addresses in host order): a real TCP or UDP header,
// ICMP with type/code from the ports, or a bare payload for other protocols.
inline Bytes ipv4Frame(std::uint32_t src,
                       std::uint32_t dst,
                       std::uint8_t proto,
                       std::uint16_t sport,
                       std::uint16_t dport,
                       std::size_t payload = 8) {
  auto addr = [](std::uint32_t a) {
    return Ipv4Addr{static_cast<std::uint8_t>(a >> 24),
                    static_cast<std::uint8_t>(a >> 16),
                    static_cast<std::uint8_t>(a >> 8),
                    static_cast<std::uint8_t>(a)};
  };
  PacketBuilder b;
  b.eth();
  if (proto == 6) {
    b.ipv4(addr(src), addr(dst)).tcp(sport, dport);
  } else if (proto == 17) {
    b.ipv4(addr(src), addr(dst)).udp(sport, dport);
  } else if (proto == 1) {
    b.ipv4(addr(src), addr(dst))
        .icmp(static_cast<std::uint8_t>(sport), static_cast<std::uint8_t>(dport));
  } else {
    Ipv4Options o;
    o.protocol = proto;
    b.ipv4(addr(src), addr(dst), o).payload(8);
  }
  return b.payload(payload).build();
}

}  // namespace xfp::test
