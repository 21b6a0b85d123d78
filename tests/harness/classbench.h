// ClassBench rule sets and traces (shared/data/classbench, README there) as WFP policies: each
// rule becomes a filter at INBOUND_TRANSPORT_V4 (remote = source, local = destination) with an
// FWP_UINT64 weight N-1-i, so rule order is arbitration order; a trace line becomes a packet.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "userspace/core/policy.h"

namespace xfp::test {

struct ClassBenchRule {
  uint32_t srcAddr = 0, srcLen = 0, dstAddr = 0, dstLen = 0;
  uint16_t srcLo = 0, srcHi = 65535, dstLo = 0, dstHi = 65535;
  uint8_t proto = 0, protoMask = 0;
};

struct ClassBenchPacket {
  uint32_t src = 0, dst = 0;
  uint16_t sport = 0, dport = 0;
  uint8_t proto = 0;
  int64_t expected = -1;  // wustl-hs1: 0-based first matching rule; otherwise -1
};

// Reads a rule file (either ClassBench dialect); nullopt with `error` set when it cannot.
std::optional<std::vector<ClassBenchRule>> loadClassBenchRules(const std::string& path,
                                                               std::string* error);
std::optional<std::vector<ClassBenchPacket>> loadClassBenchTrace(const std::string& path,
                                                                 bool wustl,
                                                                 std::string* error);

// Adds the rules as filters (rule i: weight N-1-i, action BLOCK for even i, PERMIT for odd i,
// all in FWPM_SUBLAYER_UNIVERSAL); returns the filterId of each rule.
std::vector<uint64_t> addClassBenchFilters(Policy& policy,
                                           const std::vector<ClassBenchRule>& rules,
                                           const char* layer = "INBOUND_TRANSPORT_V4");

// A wustl-hs1 set ready to test: its rules as filters of `policy` (ids[i] = rule i's filterId)
// and its trace with the first-match oracle.
struct WustlSet {
  Policy policy;
  std::vector<uint64_t> ids;
  std::vector<ClassBenchPacket> trace;
};

// Loads <dir>/<name> and <dir>/<name>_trace; nullopt with `error` set when it cannot.
std::optional<WustlSet> loadWustlSet(const std::string& dir,
                                     const std::string& name,
                                     std::string* error);

}  // namespace xfp::test
