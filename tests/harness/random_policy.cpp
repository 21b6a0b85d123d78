#include "tests/harness/random_policy.h"

#include <fmt/format.h>

#include "userspace/core/layers.h"
#include "userspace/core/match.h"

namespace xfp::test {
namespace {

using Rng = std::mt19937_64;

template <typename T>
const T& pick(Rng& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
}

uint32_t below(Rng& rng, uint32_t n) {
  return std::uniform_int_distribution<uint32_t>(0, n - 1)(rng);
}

// A key drawn from the seed (not Guid::generate()): equal sublayer weights are ordered by key, so
// a random key would make a seed's arbitration order differ from run to run.
Guid seededKey(Rng& rng) {
  Guid g;
  for (uint8_t& b : g.bytes) {
    b = static_cast<uint8_t>(rng());
  }
  return g;
}
bool chance(Rng& rng, double p) {
  return std::bernoulli_distribution(p)(rng);
}

const std::vector<uint16_t> kPorts = {
    0, 1, 22, 23, 53, 80, 443, 999, 1000, 1023, 1024, 2000, 8080, 32768, 65534, 65535};
const std::vector<uint32_t> kV4 = {0x0A000001,
                                   0x0A000002,
                                   0x0A010203,
                                   0x0AFF0001,
                                   0xC0A80101,
                                   0xC0000207,
                                   0x00000000,
                                   0xFFFFFFFF,
                                   0x7F000001,
                                   0x0B000001};
const std::vector<std::array<uint8_t, 16>> kV6 = {
    {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
    {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2},
    {0xfd, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1},
    {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5},
    {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34},
    {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1},  // v4-mapped
    {0xff,
     0xff,
     0xff,
     0xff,
     0xff,
     0xff,
     0xff,
     0xff,
     0xff,
     0xff,
     0xff,
     0xff,
     0xff,
     0xff,
     0xff,
     0xff},
};
const std::vector<std::array<uint8_t, 6>> kMacs = {{0x02, 0, 0, 0, 0, 1},
                                                   {0x02, 0, 0, 0, 0, 2},
                                                   {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
                                                   {0x01, 0x00, 0x5e, 0, 0, 1},
                                                   {0x33, 0x33, 0, 0, 0, 1}};
const std::vector<uint8_t> kProtos = {1, 6, 17, 58, 47};
const std::vector<uint32_t> kIfindexes = {1, 2, 3, 7};

const std::vector<std::string> kSlotLayers = {"INBOUND_MAC_FRAME_ETHERNET",
                                              "INBOUND_IPPACKET_V4",
                                              "INBOUND_IPPACKET_V6",
                                              "INBOUND_TRANSPORT_V4",
                                              "INBOUND_TRANSPORT_V6",
                                              "OUTBOUND_MAC_FRAME_ETHERNET",
                                              "OUTBOUND_IPPACKET_V4",
                                              "OUTBOUND_IPPACKET_V6",
                                              "OUTBOUND_TRANSPORT_V4",
                                              "OUTBOUND_TRANSPORT_V6"};

// A plain value of the field's type from the pools.
Value poolValue(Rng& rng, const FieldInfo& f) {
  const std::string_view c = f.condition;
  switch (f.type) {
    case DataType::Uint8:
      if (c == "IP_PROTOCOL") {
        return Value::uint8(pick(rng, kProtos));
      }
      return Value::uint8(static_cast<uint8_t>(below(rng, 4)));
    case DataType::Uint16:
      if (c == "ETHER_TYPE") {
        return Value::uint16(pick(rng, std::vector<uint16_t>{0x0800, 0x86DD, 0x0806, 0x88CC}));
      }
      if (c == "VLAN_ID") {
        return Value::uint16(pick(rng, std::vector<uint16_t>{0, 1, 100, 4095}));
      }
      return Value::uint16(pick(rng, kPorts));
    case DataType::Uint32:
      if (f.isAddress) {
        return Value::uint32(pick(rng, kV4));
      }
      if (c == "FLAGS") {
        return Value::uint32(pick(rng, std::vector<uint32_t>{0x1, 0x20, 0x21, 0x4, 0}));
      }
      return Value::uint32(pick(rng, kIfindexes));
    case DataType::Uint64:
      return Value::uint64(pick(rng, kIfindexes));
    case DataType::ByteArray16:
      return Value::byteArray16(pick(rng, kV6));
    case DataType::ByteArray6:
      return Value::byteArray6(pick(rng, kMacs));
    case DataType::ByteBlob:
      return Value::byteBlob({0x61, 0, 0, 0});
    default:
      return Value::uint32(1);
  }
}

// A random valid condition on `f`.
Condition randomCondition(Rng& rng, const FieldInfo& f) {
  Condition c;
  c.fieldKey = f.conditionKey;
  if (chance(rng, 0.05)) {
    c.matchType = MatchType::Equal;  // FWP_EMPTY: matches only an absent value
    return c;
  }
  const bool sortable = f.type != DataType::ByteArray6 && f.type != DataType::ByteBlob;
  const bool unsignedInt = f.type == DataType::Uint8 || f.type == DataType::Uint16 ||
                           f.type == DataType::Uint32 || f.type == DataType::Uint64;
  const uint32_t kind = below(rng, 10);
  if (f.isAddress && kind < 3) {
    if (f.type == DataType::Uint32) {
      const uint32_t prefix = pick(rng, std::vector<uint32_t>{0, 1, 8, 16, 24, 31, 32});
      const uint32_t mask = prefix == 0 ? 0 : static_cast<uint32_t>(0xFFFFFFFFULL << (32 - prefix));
      c.value = V4AddrMask{pick(rng, kV4), mask};
    } else {
      c.value = V6AddrMask{
          pick(rng, kV6),
          static_cast<uint8_t>(pick(rng, std::vector<int>{0, 1, 8, 48, 64, 96, 127, 128}))};
    }
    return c;
  }
  if (sortable && kind < 5) {
    Value a = poolValue(rng, f);
    Value b = poolValue(rng, f);
    if (compareValues(a, b) > 0) {
      std::swap(a, b);
    }
    c.matchType = MatchType::Range;
    c.value = RangeValue{a, b};
    return c;
  }
  if (unsignedInt && kind == 5) {
    c.matchType =
        pick(rng,
             std::vector<MatchType>{
                 MatchType::FlagsAllSet, MatchType::FlagsAnySet, MatchType::FlagsNoneSet});
    c.value = poolValue(rng, f);
    return c;
  }
  if (sortable && kind < 8) {
    c.matchType = pick(rng,
                       std::vector<MatchType>{MatchType::Greater,
                                              MatchType::Less,
                                              MatchType::GreaterOrEqual,
                                              MatchType::LessOrEqual,
                                              MatchType::NotEqual});
  } else {
    c.matchType = MatchType::Equal;
  }
  c.value = poolValue(rng, f);
  return c;
}

}  // namespace

Policy randomPolicy(Rng& rng, const RandomPolicyOptions& o, std::string* log) {
  Policy policy;
  std::vector<Guid> sublayers = {keys::kSublayerUniversal};
  for (uint32_t i = 0; i < o.sublayers; ++i) {
    Sublayer s;
    s.key = seededKey(rng);
    s.displayData.name = fmt::format("S{}", i);
    s.weight = static_cast<uint16_t>(
        pick(rng, std::vector<uint32_t>{0x1000, 0x4000, 0x8000, 0xC000, below(rng, 65536)}));
    if (policy.addSublayer(s)) {
      sublayers.push_back(s.key);
      if (log != nullptr) {
        *log += fmt::format("sublayer S{} weight 0x{:04x}\n", i, s.weight);
      }
    }
  }
  std::vector<int> slots = o.layerSlots;
  if (slots.empty()) {
    for (int ls = 0; ls < XFP_LS_COUNT; ++ls) {
      if (!o.inboundOnly || ls < XFP_LS_OUT_MAC) {
        slots.push_back(ls);
      }
    }
  }
  // One callout per layer slot (never registered here: §4.5 rules apply).
  std::vector<Guid> callouts(XFP_LS_COUNT);
  for (int ls : slots) {
    Callout c;
    c.key = seededKey(rng);
    c.displayData.name = fmt::format("C{}", ls);
    c.applicableLayer = layerByName(kSlotLayers[ls])->key;
    if (policy.addCallout(c)) {
      callouts[ls] = c.key;
    }
  }
  for (uint32_t i = 0; i < o.filters; ++i) {
    const int ls = pick(rng, slots);
    const LayerInfo& layer = *layerByName(kSlotLayers[ls]);
    Filter f;
    f.displayData.name = fmt::format("F{}", i);
    f.layerKey = layer.key;
    f.subLayerKey = pick(rng, sublayers);
    switch (below(rng, 3)) {
      case 0:
        f.weight = Value::uint64(below(rng, 40));
        break;
      case 1:
        f.weight = Value::uint8(static_cast<uint8_t>(below(rng, 16)));
        break;
      default:
        break;  // automatic
    }
    const uint32_t nConditions = below(rng, o.maxConditions + 1);
    for (uint32_t k = 0; k < nConditions; ++k) {
      const FieldInfo& field = layer.fields[below(rng, static_cast<uint32_t>(layer.fields.size()))];
      if (field.condition.empty() || field.type == DataType::TokenAccessInformation ||
          field.type == DataType::Sid) {
        continue;
      }
      f.conditions.push_back(randomCondition(rng, field));
    }
    const uint32_t a = below(rng, o.callouts ? 10 : 6);
    if (a < 3) {
      f.action.type = ActionType::Block;
    } else if (a < 6) {
      f.action.type = ActionType::Permit;
      if (chance(rng, 0.3)) {
        f.flags |= filter_flag::kClearActionRight;
      }
    } else {
      f.action.type = pick(rng,
                           std::vector<ActionType>{ActionType::CalloutTerminating,
                                                   ActionType::CalloutInspection,
                                                   ActionType::CalloutUnknown});
      f.action.calloutKey = callouts[ls];
      if (f.action.type != ActionType::CalloutInspection && chance(rng, 0.5)) {
        f.flags |= filter_flag::kPermitIfCalloutUnregistered;
      }
      if (chance(rng, 0.3)) {
        f.flags |= filter_flag::kClearActionRight;
      }
    }
    std::string desc;
    if (log != nullptr) {
      desc = fmt::format("F{} {} sublayer {} weight {} {} flags {}:",
                         i,
                         layer.name,
                         f.subLayerKey.toString(),
                         f.weight.toString(),
                         actionTypeName(f.action.type),
                         filterFlagsToString(f.flags));
      for (const Condition& c : f.conditions) {
        const FieldInfo* field = layer.fieldByKey(c.fieldKey);
        desc += fmt::format(" [{} {} {}]",
                            field->condition,
                            matchTypeName(c.matchType),
                            c.value.toString(field->isAddress && field->type == DataType::Uint32));
      }
    }
    auto added = policy.addFilter(std::move(f));
    if (log != nullptr && added) {
      *log += fmt::format("id {} {}\n", *added, desc);
    }
  }
  return policy;
}

RandomFrame randomFrame(Rng& rng) {
  RandomFrame out;
  out.meta.ifindex = pick(rng, kIfindexes);
  out.meta.direction =
      chance(rng, 0.5) ? fastpath::Direction::Inbound : fastpath::Direction::Outbound;
  PacketBuilder b;
  b.eth(pick(rng, kMacs), pick(rng, kMacs));
  if (chance(rng, 0.15)) {
    b.vlan(static_cast<uint16_t>(pick(rng, std::vector<uint32_t>{1, 100, 4095})));
  }
  const bool v6 = chance(rng, 0.45);
  const uint8_t proto = pick(rng, kProtos);
  const bool fragment = chance(rng, 0.1);
  const bool later = fragment && chance(rng, 0.5);
  if (chance(rng, 0.05)) {
    b.etherType(0x0806).payload(28);  // ARP-like: MAC layer only
  } else if (v6) {
    const auto src = pick(rng, kV6);
    const auto dst = pick(rng, kV6);
    b.ipv6(src, dst);
    if (fragment) {
      b.ipv6Frag(later ? 8 : 0, true);
    }
  } else {
    const uint32_t s = pick(rng, kV4);
    const uint32_t d = pick(rng, kV4);
    Ipv4Options o;
    o.moreFragments = fragment;
    o.fragOffset = later ? 8 : 0;
    b.ipv4({static_cast<uint8_t>(s >> 24),
            static_cast<uint8_t>(s >> 16),
            static_cast<uint8_t>(s >> 8),
            static_cast<uint8_t>(s)},
           {static_cast<uint8_t>(d >> 24),
            static_cast<uint8_t>(d >> 16),
            static_cast<uint8_t>(d >> 8),
            static_cast<uint8_t>(d)},
           o);
  }
  const uint16_t sport = pick(rng, kPorts);
  const uint16_t dport = pick(rng, kPorts);
  if (!later) {
    switch (proto) {
      case 6:
        b.tcp(sport, dport);
        break;
      case 17:
        b.udp(sport, dport);
        break;
      case 1:
        v6 ? b.icmpv6(static_cast<uint8_t>(sport), static_cast<uint8_t>(dport))
           : b.icmp(static_cast<uint8_t>(sport), static_cast<uint8_t>(dport));
        break;
      case 58:
        v6 ? b.icmpv6(static_cast<uint8_t>(sport), static_cast<uint8_t>(dport))
           : b.icmp(static_cast<uint8_t>(sport), static_cast<uint8_t>(dport));
        break;
      default:
        b.payload(8);
        break;
    }
  } else {
    b.payload(16);
  }
  b.payload(below(rng, 24));
  out.frame = b.build();
  if (chance(rng, 0.07) && out.frame.size() > 20) {  // truncated somewhere
    out.frame.resize(14 + below(rng, static_cast<uint32_t>(out.frame.size() - 14)));
  }
  out.description =
      fmt::format("ifindex {} {} frame {} bytes",
                  out.meta.ifindex,
                  out.meta.direction == fastpath::Direction::Inbound ? "inbound" : "outbound",
                  out.frame.size());
  return out;
}

}  // namespace xfp::test
