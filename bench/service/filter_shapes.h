// The filters the service benchmark adds, in three renderings of one rule list: FWPM_FILTER0 for
// the FWPM C API, xfp policy-file JSON (xfpd's start-up policy) and an nftables rule (the peer).
// A rule is a ClassBench 5-tuple (tests/harness/classbench.h): remote = source, local =
// destination, at INBOUND_TRANSPORT_V4. Two shapes:
//  - random 5-tuple: exact remote and local /32 (172.16.0.0/12 -> 192.168.0.0/16, never the
//    benchmark's own 10.199.0.0/24), exact remote and local port, TCP or UDP; every rule BLOCK;
//  - a ClassBench set (prefixes, port ranges, wildcards), rule i BLOCK for even i, PERMIT for odd
//    i, FWP_UINT64 weight N-1-i so rule order is arbitration order (as the fast-path benchmark).
#pragma once

#include <fwpmu.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tests/harness/classbench.h"

namespace xfp::bench::service {

struct BenchRule {
  test::ClassBenchRule r;
  bool block = true;
  bool weighted = false;  // FWP_UINT64 `weight`; otherwise FWP_EMPTY (the automatic weight)
  uint64_t weight = 0;
};

// `count` distinct random exact 5-tuples from `rng` (all BLOCK, automatic weight).
std::vector<BenchRule> randomFiveTuples(std::mt19937_64& rng, size_t count);

// A ClassBench rule file as ordered rules; empty with `error` set when it cannot be read.
std::vector<BenchRule> classBenchRules(const std::string& path, std::string* error);

// One FWPM_FILTER0 with the storage its pointers refer to; rebuilt per rule, no allocation.
class FwpmFilter {
 public:
  FwpmFilter() = default;
  FwpmFilter(const FwpmFilter&) = delete;
  FwpmFilter& operator=(const FwpmFilter&) = delete;
  // Fills the filter for `rule` named "<prefix> <n>".
  FWPM_FILTER0* build(const BenchRule& rule, const char* prefix, uint64_t n);

 private:
  FWPM_FILTER0 f_{};
  WCHAR name_[48]{};
  UINT64 weight_ = 0;
  FWPM_FILTER_CONDITION0 conds_[5]{};
  FWP_V4_ADDR_AND_MASK masks_[2]{};
  FWP_RANGE0 ranges_[2]{};
};

// The rule as an xfp policy-file filter object (docs/policy-format.md).
std::string policyJson(const BenchRule& rule, const std::string& name);

// The rule as an nft rule body (what follows "add rule <family> <table> <chain>").
std::string nftRule(const BenchRule& rule);

}  // namespace xfp::bench::service
