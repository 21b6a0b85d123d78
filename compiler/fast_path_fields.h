// What the fast path supplies for each layer it enforces: which packets each layer classifies,
// how a parsed packet becomes the classification key (mirrored by bpf/lib/key.h), how a layer's
// condition fields map onto key words, and -- the reference for all of it -- the FWPS incoming
// values the same packet has at that layer. The differential tests hold the BPF side to these.
#pragma once

#include <cstdint>
#include <vector>

#include "userspace/core/classifier.h"
#include "userspace/core/layers.h"
#include "xfp/abi.h"

namespace xfp::fastpath {

enum class Direction : uint8_t { Inbound = 0, Outbound = 1 };

struct PacketMeta {
  uint32_t ifindex = 0;
  Direction direction = Direction::Inbound;
};

// The FWPS layer id enforced at a layer slot (XFP_LS_*), and back (-1: not a fast-path layer).
uint16_t layerIdOf(int layerSlot);
int layerSlotOf(uint16_t layerId);

// The layer slots that classify `pkt` at its hook, in WFP order: MAC frame (every frame), IP
// packet (a valid IPv4/IPv6 header), transport (IP valid and not a later fragment).
std::vector<int> layersFor(const xfp_pkt& pkt, Direction direction);

// The key words of a packet (docs/compiler.md, "The key").
xfp_key buildKey(const xfp_pkt& pkt, const PacketMeta& meta);

// The reference: the incoming values of `pkt` at layer slot `ls`. Fields Linux cannot supply
// are FWP_EMPTY (docs/compiler.md lists them).
IncomingValues incomingValues(int layerSlot, const xfp_pkt& pkt, const PacketMeta& meta);

// How one condition field of a layer appears in the key.
struct FieldWords {
  enum class Kind : uint8_t {
    Words,        // the value is in `count` key words, most significant first
    AlwaysEmpty,  // the fast path never supplies it: FWP_EMPTY for every packet
  } kind = Kind::AlwaysEmpty;
  uint8_t count = 0;
  uint8_t slot[4] = {0, 0, 0, 0};
  uint32_t presentBit = 0;     // XFP_PRESENT_* that says the value is there; 0: always present
  uint8_t bitsInTopWord = 32;  // significant bits of the first word (16 for a MAC's high word)
};
FieldWords fieldWords(int layerSlot, const FieldInfo& field);

}  // namespace xfp::fastpath
