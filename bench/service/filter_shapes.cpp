#include "bench/service/filter_shapes.h"

#include <set>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace xfp::bench::service {
namespace {

uint32_t maskOf(uint32_t len) {
  return len == 0 ? 0u : static_cast<uint32_t>(0xFFFFFFFFULL << (32 - len));
}

std::string dotted(uint32_t a) {
  return fmt::format("{}.{}.{}.{}", a >> 24, (a >> 16) & 0xFF, (a >> 8) & 0xFF, a & 0xFF);
}

std::string prefix(uint32_t addr, uint32_t len) {
  const std::string a = dotted(addr & maskOf(len));
  return len == 32 ? a : fmt::format("{}/{}", a, len);
}

bool anyPort(uint16_t lo, uint16_t hi) {
  return lo == 0 && hi == 65535;
}

}  // namespace

std::vector<BenchRule> randomFiveTuples(std::mt19937_64& rng, size_t count) {
  std::vector<BenchRule> out;
  out.reserve(count);
  std::set<std::tuple<uint32_t, uint32_t, uint16_t, uint16_t, uint8_t>> seen;
  std::uniform_int_distribution<uint32_t> remote(0, (1u << 20) - 1);  // 172.16.0.0/12
  std::uniform_int_distribution<uint32_t> local(0, (1u << 16) - 1);   // 192.168.0.0/16
  std::uniform_int_distribution<uint32_t> port(1024, 65535);
  // Bounded: duplicates are rare in this space; give up after 4x the draws.
  for (size_t draws = 0; out.size() < count && draws < 4 * count + 16; ++draws) {
    BenchRule b;
    test::ClassBenchRule& r = b.r;
    r.srcAddr = (172u << 24 | 16u << 16) + remote(rng);
    r.dstAddr = (192u << 24 | 168u << 16) + local(rng);
    r.srcLen = r.dstLen = 32;
    r.srcLo = r.srcHi = static_cast<uint16_t>(port(rng));
    r.dstLo = r.dstHi = static_cast<uint16_t>(port(rng));
    r.proto = (rng() & 1) != 0 ? 6 : 17;
    r.protoMask = 0xFF;
    if (seen.emplace(r.srcAddr, r.dstAddr, r.srcLo, r.dstLo, r.proto).second) {
      out.push_back(b);
    }
  }
  return out;
}

std::vector<BenchRule> classBenchRules(const std::string& path, std::string* error) {
  auto rules = test::loadClassBenchRules(path, error);
  std::vector<BenchRule> out;
  if (!rules) {
    return out;
  }
  out.reserve(rules->size());
  for (size_t i = 0; i < rules->size(); ++i) {
    BenchRule b;
    b.r = (*rules)[i];
    b.block = i % 2 == 0;
    b.weighted = true;
    b.weight = rules->size() - 1 - i;
    out.push_back(b);
  }
  return out;
}

FWPM_FILTER0* FwpmFilter::build(const BenchRule& rule, const char* prefixText, uint64_t n) {
  f_ = FWPM_FILTER0{};
  const std::string name = fmt::format("{} {}", prefixText, n);
  size_t i = 0;
  for (; i < name.size() && i + 1 < std::size(name_); ++i) {
    name_[i] = static_cast<WCHAR>(static_cast<unsigned char>(name[i]));
  }
  name_[i] = 0;
  f_.displayData.name = name_;
  f_.layerKey = FWPM_LAYER_INBOUND_TRANSPORT_V4;
  f_.action.type = rule.block ? FWP_ACTION_BLOCK : FWP_ACTION_PERMIT;
  if (rule.weighted) {
    weight_ = rule.weight;
    f_.weight.type = FWP_UINT64;
    f_.weight.uint64 = &weight_;
  }
  const test::ClassBenchRule& r = rule.r;
  UINT32 c = 0;
  const auto addr = [&](const GUID& field, uint32_t a, uint32_t len, int slot) {
    if (len == 0) {
      return;
    }
    masks_[slot].mask = maskOf(len);
    masks_[slot].addr = a & masks_[slot].mask;
    FWPM_FILTER_CONDITION0& x = conds_[c++];
    x = FWPM_FILTER_CONDITION0{};
    x.fieldKey = field;
    x.matchType = FWP_MATCH_EQUAL;
    x.conditionValue.type = FWP_V4_ADDR_MASK;
    x.conditionValue.v4AddrMask = &masks_[slot];
  };
  const auto port = [&](const GUID& field, uint16_t lo, uint16_t hi, int slot) {
    if (anyPort(lo, hi)) {
      return;
    }
    FWPM_FILTER_CONDITION0& x = conds_[c++];
    x = FWPM_FILTER_CONDITION0{};
    x.fieldKey = field;
    if (lo == hi) {
      x.matchType = FWP_MATCH_EQUAL;
      x.conditionValue.type = FWP_UINT16;
      x.conditionValue.uint16 = lo;
      return;
    }
    ranges_[slot] = FWP_RANGE0{};
    ranges_[slot].valueLow.type = FWP_UINT16;
    ranges_[slot].valueLow.uint16 = lo;
    ranges_[slot].valueHigh.type = FWP_UINT16;
    ranges_[slot].valueHigh.uint16 = hi;
    x.matchType = FWP_MATCH_RANGE;
    x.conditionValue.type = FWP_RANGE_TYPE;
    x.conditionValue.rangeValue = &ranges_[slot];
  };
  addr(FWPM_CONDITION_IP_REMOTE_ADDRESS, r.srcAddr, r.srcLen, 0);
  addr(FWPM_CONDITION_IP_LOCAL_ADDRESS, r.dstAddr, r.dstLen, 1);
  port(FWPM_CONDITION_IP_REMOTE_PORT, r.srcLo, r.srcHi, 0);
  port(FWPM_CONDITION_IP_LOCAL_PORT, r.dstLo, r.dstHi, 1);
  if (r.protoMask == 0xFF) {
    FWPM_FILTER_CONDITION0& x = conds_[c++];
    x = FWPM_FILTER_CONDITION0{};
    x.fieldKey = FWPM_CONDITION_IP_PROTOCOL;
    x.matchType = FWP_MATCH_EQUAL;
    x.conditionValue.type = FWP_UINT8;
    x.conditionValue.uint8 = r.proto;
  }
  f_.numFilterConditions = c;
  f_.filterCondition = c > 0 ? conds_ : nullptr;
  return &f_;
}

std::string policyJson(const BenchRule& rule, const std::string& name) {
  const test::ClassBenchRule& r = rule.r;
  std::vector<std::string> conds;
  if (r.srcLen > 0) {
    conds.push_back(fmt::format(R"({{"field": "IP_REMOTE_ADDRESS", "value": "{}/{}"}})",
                                dotted(r.srcAddr & maskOf(r.srcLen)),
                                r.srcLen));
  }
  if (r.dstLen > 0) {
    conds.push_back(fmt::format(R"({{"field": "IP_LOCAL_ADDRESS", "value": "{}/{}"}})",
                                dotted(r.dstAddr & maskOf(r.dstLen)),
                                r.dstLen));
  }
  const auto port = [&](const char* field, uint16_t lo, uint16_t hi) {
    if (anyPort(lo, hi)) {
      return;
    }
    conds.push_back(lo == hi
                        ? fmt::format(R"({{"field": "{}", "value": {}}})", field, lo)
                        : fmt::format(R"({{"field": "{}", "value": [{}, {}]}})", field, lo, hi));
  };
  port("IP_REMOTE_PORT", r.srcLo, r.srcHi);
  port("IP_LOCAL_PORT", r.dstLo, r.dstHi);
  if (r.protoMask == 0xFF) {
    conds.push_back(fmt::format(R"({{"field": "IP_PROTOCOL", "value": {}}})", r.proto));
  }
  return fmt::format(
      R"({{"name": "{}", "layer": "INBOUND_TRANSPORT_V4", "action": "{}"{}, "conditions": [{}]}})",
      name,
      rule.block ? "block" : "permit",
      rule.weighted ? fmt::format(R"(, "weight": {})", rule.weight) : std::string(),
      fmt::join(conds, ", "));
}

std::string nftRule(const BenchRule& rule) {
  const test::ClassBenchRule& r = rule.r;
  std::string s;
  if (r.srcLen > 0) {
    s += "ip saddr " + prefix(r.srcAddr, r.srcLen) + " ";
  }
  if (r.dstLen > 0) {
    s += "ip daddr " + prefix(r.dstAddr, r.dstLen) + " ";
  }
  if (r.protoMask == 0xFF) {
    s += fmt::format("meta l4proto {} ", r.proto);
  }
  const auto port = [&](const char* what, uint16_t lo, uint16_t hi) {
    if (!anyPort(lo, hi)) {
      s +=
          lo == hi ? fmt::format("th {} {} ", what, lo) : fmt::format("th {} {}-{} ", what, lo, hi);
    }
  };
  port("sport", r.srcLo, r.srcHi);
  port("dport", r.dstLo, r.dstHi);
  s += rule.block ? "drop" : "accept";
  return s;
}

}  // namespace xfp::bench::service
