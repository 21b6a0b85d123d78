// Random WFP policies and random frames aimed at them, for the differential tests of the fast
// path against the reference classifier. Values come from small shared pools so filters overlap
// and packets land on their edges; every case is reproducible from its seed.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "compiler/fast_path_fields.h"
#include "tests/harness/packet_builder.h"
#include "userspace/core/policy.h"

namespace xfp::test {

struct RandomPolicyOptions {
  uint32_t filters = 50;
  uint32_t sublayers = 3;      // besides the built-in ones
  uint32_t maxConditions = 4;  // per filter
  bool callouts = true;        // callout filters (unregistered: §4.5 rules)
  bool inboundOnly = false;
  std::vector<int> layerSlots;  // empty: all fast-path layers
};

// Builds a random policy; `log` receives a readable description of every filter (a reproducer).
Policy randomPolicy(std::mt19937_64& rng, const RandomPolicyOptions& options, std::string* log);

struct RandomFrame {
  Bytes frame;
  fastpath::PacketMeta meta;
  std::string description;
};

// A random frame (v4 or v6, TCP/UDP/ICMP/other, sometimes VLAN-tagged, fragmented, truncated
// or with a damaged header) with addresses and ports from the pools the policies use.
RandomFrame randomFrame(std::mt19937_64& rng);

}  // namespace xfp::test
