#include "compiler/fast_path_fields.h"

#include <array>
#include <cstring>
#include <string_view>

namespace xfp::fastpath {
namespace {

struct LayerSlotInfo {
  const char* layer;
  bool mac;
  bool transport;
  bool v6;
  Direction direction;
};

constexpr LayerSlotInfo kSlots[XFP_LS_COUNT] = {
    {"INBOUND_MAC_FRAME_ETHERNET", true, false, false, Direction::Inbound},
    {"INBOUND_IPPACKET_V4", false, false, false, Direction::Inbound},
    {"INBOUND_IPPACKET_V6", false, false, true, Direction::Inbound},
    {"INBOUND_TRANSPORT_V4", false, true, false, Direction::Inbound},
    {"INBOUND_TRANSPORT_V6", false, true, true, Direction::Inbound},
    {"OUTBOUND_MAC_FRAME_ETHERNET", true, false, false, Direction::Outbound},
    {"OUTBOUND_IPPACKET_V4", false, false, false, Direction::Outbound},
    {"OUTBOUND_IPPACKET_V6", false, false, true, Direction::Outbound},
    {"OUTBOUND_TRANSPORT_V4", false, true, false, Direction::Outbound},
    {"OUTBOUND_TRANSPORT_V6", false, true, true, Direction::Outbound},
};

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// DL_ADDRESS_TYPE of a MAC address: 0 unicast, 1 multicast, 2 broadcast.
uint32_t macType(const uint8_t* mac) {
  static const uint8_t kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  if (std::memcmp(mac, kBroadcast, 6) == 0) {
    return 2;
  }
  return (mac[0] & 1) != 0 ? 1 : 0;
}

bool isV6(const xfp_pkt& p) {
  return (p.flags & XFP_PKT_F_IPV6) != 0;
}

uint32_t conditionFlags(const xfp_pkt& pkt, const PacketMeta& meta) {
  uint32_t flags = 0;
  if ((pkt.flags & XFP_PKT_F_FRAGMENT) != 0) {
    flags |= condition_flag::kIsFragment;
  }
  if (meta.ifindex == 1) {  // the loopback device is ifindex 1 in every network namespace
    flags |= condition_flag::kIsLoopback;
  }
  return flags;
}

}  // namespace

uint16_t layerIdOf(int ls) {
  // Looked up by name once: the punt path asks for every packet.
  static const std::array<uint16_t, XFP_LS_COUNT> kIds = [] {
    std::array<uint16_t, XFP_LS_COUNT> ids{};
    for (int i = 0; i < XFP_LS_COUNT; ++i) {
      ids[i] = layerByName(kSlots[i].layer)->id;
    }
    return ids;
  }();
  return kIds[ls];
}

int layerSlotOf(uint16_t layerId) {
  for (int ls = 0; ls < XFP_LS_COUNT; ++ls) {
    if (layerIdOf(ls) == layerId) {
      return ls;
    }
  }
  return -1;
}

std::vector<int> layersFor(const xfp_pkt& pkt, Direction direction) {
  const int base = direction == Direction::Inbound ? XFP_LS_IN_MAC : XFP_LS_OUT_MAC;
  std::vector<int> out{base};
  const bool v4 = (pkt.flags & XFP_PKT_F_IPV4) != 0;
  const bool v6 = (pkt.flags & XFP_PKT_F_IPV6) != 0;
  if (!v4 && !v6) {
    return out;
  }
  out.push_back(base + (v6 ? 2 : 1));
  if ((pkt.flags & XFP_PKT_F_LATER_FRAGMENT) == 0) {
    out.push_back(base + (v6 ? 4 : 3));
  }
  return out;
}

xfp_key buildKey(const xfp_pkt& pkt, const PacketMeta& meta) {
  xfp_key k{};
  const bool in = meta.direction == Direction::Inbound;
  const uint8_t* local = in ? pkt.dst_addr : pkt.src_addr;
  const uint8_t* remote = in ? pkt.src_addr : pkt.dst_addr;
  const int words = isV6(pkt) ? 4 : 1;
  for (int i = 0; i < words; ++i) {
    k.w[XFP_SLOT_LADDR + i] = be32(local + 4 * i);
    k.w[XFP_SLOT_RADDR + i] = be32(remote + 4 * i);
  }
  k.w[XFP_SLOT_PROTO] = pkt.ip_proto;
  if ((pkt.flags & XFP_PKT_F_L4) != 0) {
    k.w[XFP_SLOT_PRESENT] |= XFP_PRESENT_PORTS;
    const bool icmp = pkt.ip_proto == 1 || pkt.ip_proto == 58;
    // ICMP type and code sit in the local and remote port slots in both directions.
    k.w[XFP_SLOT_LPORT] = icmp ? pkt.src_port : (in ? pkt.dst_port : pkt.src_port);
    k.w[XFP_SLOT_RPORT] = icmp ? pkt.dst_port : (in ? pkt.src_port : pkt.dst_port);
  }
  k.w[XFP_SLOT_IFINDEX] = meta.ifindex;
  k.w[XFP_SLOT_FLAGS] = conditionFlags(pkt, meta);
  const uint8_t* lmac = in ? pkt.dst_mac : pkt.src_mac;
  const uint8_t* rmac = in ? pkt.src_mac : pkt.dst_mac;
  k.w[XFP_SLOT_LMAC] = (uint32_t{lmac[0]} << 8) | lmac[1];
  k.w[XFP_SLOT_LMAC + 1] = be32(lmac + 2);
  k.w[XFP_SLOT_RMAC] = (uint32_t{rmac[0]} << 8) | rmac[1];
  k.w[XFP_SLOT_RMAC + 1] = be32(rmac + 2);
  k.w[XFP_SLOT_ETHER_TYPE] = pkt.ether_type;
  k.w[XFP_SLOT_VLAN_ID] = pkt.vlan_id;
  k.w[XFP_SLOT_LMAC_TYPE] = macType(lmac);
  k.w[XFP_SLOT_RMAC_TYPE] = macType(rmac);
  return k;
}

FieldWords fieldWords(int ls, const FieldInfo& field) {
  const LayerSlotInfo& info = kSlots[ls];
  const std::string_view c = field.condition;
  FieldWords w;
  auto words = [&](std::initializer_list<uint8_t> slots, uint32_t present = 0) {
    w.kind = FieldWords::Kind::Words;
    w.count = 0;
    for (uint8_t s : slots) {
      w.slot[w.count++] = s;
    }
    w.presentBit = present;
  };
  if (c == "IP_LOCAL_INTERFACE") {  // LUID: ifindex as a 64-bit value (our choice)
    words({XFP_SLOT_ZERO, XFP_SLOT_IFINDEX});
  } else if (c == "INTERFACE_INDEX") {
    words({XFP_SLOT_IFINDEX});
  } else if (info.mac) {
    if (c == "MAC_LOCAL_ADDRESS") {
      words({XFP_SLOT_LMAC, XFP_SLOT_LMAC + 1});
      w.bitsInTopWord = 16;
    } else if (c == "MAC_REMOTE_ADDRESS") {
      words({XFP_SLOT_RMAC, XFP_SLOT_RMAC + 1});
      w.bitsInTopWord = 16;
    } else if (c == "MAC_LOCAL_ADDRESS_TYPE") {
      words({XFP_SLOT_LMAC_TYPE});
    } else if (c == "MAC_REMOTE_ADDRESS_TYPE") {
      words({XFP_SLOT_RMAC_TYPE});
    } else if (c == "ETHER_TYPE") {
      words({XFP_SLOT_ETHER_TYPE});
    } else if (c == "VLAN_ID") {
      words({XFP_SLOT_VLAN_ID});
    }
  } else if (c == "IP_LOCAL_ADDRESS" || c == "IP_REMOTE_ADDRESS") {
    const uint8_t base = c == "IP_LOCAL_ADDRESS" ? XFP_SLOT_LADDR : XFP_SLOT_RADDR;
    if (info.v6) {
      words({base,
             static_cast<uint8_t>(base + 1),
             static_cast<uint8_t>(base + 2),
             static_cast<uint8_t>(base + 3)});
    } else {
      words({base});
    }
  } else if (c == "FLAGS") {
    words({XFP_SLOT_FLAGS});
  } else if (info.transport) {
    if (c == "IP_PROTOCOL") {
      words({XFP_SLOT_PROTO});
    } else if (c == "IP_LOCAL_PORT") {
      words({XFP_SLOT_LPORT}, XFP_PRESENT_PORTS);
    } else if (c == "IP_REMOTE_PORT") {
      words({XFP_SLOT_RPORT}, XFP_PRESENT_PORTS);
    }
  }
  return w;
}

IncomingValues incomingValues(int ls, const xfp_pkt& pkt, const PacketMeta& meta) {
  // Written from the packet, independently of buildKey(), so the two check each other.
  const LayerSlotInfo& info = kSlots[ls];
  const LayerInfo& layer = *layerById(layerIdOf(ls));
  IncomingValues in = IncomingValues::emptyFor(layer);
  const bool inbound = meta.direction == Direction::Inbound;
  const uint8_t* localAddr = inbound ? pkt.dst_addr : pkt.src_addr;
  const uint8_t* remoteAddr = inbound ? pkt.src_addr : pkt.dst_addr;
  const uint8_t* localMac = inbound ? pkt.dst_mac : pkt.src_mac;
  const uint8_t* remoteMac = inbound ? pkt.src_mac : pkt.dst_mac;
  const bool icmp = pkt.ip_proto == 1 || pkt.ip_proto == 58;
  auto address = [&](const uint8_t* a) {
    if (info.v6) {
      std::array<uint8_t, 16> b{};
      std::memcpy(b.data(), a, 16);
      return Value::byteArray16(b);
    }
    return Value::uint32(be32(a));
  };
  auto mac = [](const uint8_t* m) {
    std::array<uint8_t, 6> b{};
    std::memcpy(b.data(), m, 6);
    return Value::byteArray6(b);
  };
  for (const FieldInfo& f : layer.fields) {
    const std::string_view c = f.condition;
    Value v;
    if (c == "IP_LOCAL_INTERFACE") {
      v = Value::uint64(meta.ifindex);
    } else if (c == "INTERFACE_INDEX") {
      v = Value::uint32(meta.ifindex);
    } else if (info.mac && c == "MAC_LOCAL_ADDRESS") {
      v = mac(localMac);
    } else if (info.mac && c == "MAC_REMOTE_ADDRESS") {
      v = mac(remoteMac);
    } else if (info.mac && c == "MAC_LOCAL_ADDRESS_TYPE") {
      v = Value::uint8(static_cast<uint8_t>(macType(localMac)));
    } else if (info.mac && c == "MAC_REMOTE_ADDRESS_TYPE") {
      v = Value::uint8(static_cast<uint8_t>(macType(remoteMac)));
    } else if (info.mac && c == "ETHER_TYPE") {
      v = Value::uint16(pkt.ether_type);
    } else if (info.mac && c == "VLAN_ID") {
      v = Value::uint16(pkt.vlan_id);
    } else if (!info.mac && c == "IP_LOCAL_ADDRESS") {
      v = address(localAddr);
    } else if (!info.mac && c == "IP_REMOTE_ADDRESS") {
      v = address(remoteAddr);
    } else if (!info.mac && c == "FLAGS") {
      v = Value::uint32(conditionFlags(pkt, meta));
    } else if (info.transport && c == "IP_PROTOCOL") {
      v = Value::uint8(pkt.ip_proto);
    } else if (info.transport && (pkt.flags & XFP_PKT_F_L4) != 0 && c == "IP_LOCAL_PORT") {
      v = Value::uint16(icmp ? pkt.src_port : (inbound ? pkt.dst_port : pkt.src_port));
    } else if (info.transport && (pkt.flags & XFP_PKT_F_L4) != 0 && c == "IP_REMOTE_PORT") {
      v = Value::uint16(icmp ? pkt.dst_port : (inbound ? pkt.src_port : pkt.dst_port));
    } else {
      continue;  // FWP_EMPTY: not supplied (docs/compiler.md)
    }
    in.values[f.index] = std::move(v);
  }
  return in;
}

}  // namespace xfp::fastpath
