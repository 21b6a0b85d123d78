#include "tests/harness/classbench.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "userspace/core/layers.h"

namespace xfp::test {

std::optional<std::vector<ClassBenchRule>> loadClassBenchRules(const std::string& path,
                                                               std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot open " + path;
    return std::nullopt;
  }
  std::vector<ClassBenchRule> rules;
  std::string line;
  size_t lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    unsigned a[4], b[4], sl, dl, spl, sph, dpl, dph, p, pm;
    // A space in the format skips any whitespace, so this reads both dialects.
    if (std::sscanf(line.c_str(),
                    "@%u.%u.%u.%u/%u %u.%u.%u.%u/%u %u : %u %u : %u %x/%x",
                    &a[0],
                    &a[1],
                    &a[2],
                    &a[3],
                    &sl,
                    &b[0],
                    &b[1],
                    &b[2],
                    &b[3],
                    &dl,
                    &spl,
                    &sph,
                    &dpl,
                    &dph,
                    &p,
                    &pm) != 16) {
      *error = fmt::format("{}:{}: not a ClassBench rule", path, lineNo);
      return std::nullopt;
    }
    ClassBenchRule r;
    r.srcAddr = (a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3];
    r.dstAddr = (b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    r.srcLen = sl;
    r.dstLen = dl;
    r.srcLo = static_cast<uint16_t>(spl);
    r.srcHi = static_cast<uint16_t>(sph);
    r.dstLo = static_cast<uint16_t>(dpl);
    r.dstHi = static_cast<uint16_t>(dph);
    r.proto = static_cast<uint8_t>(p);
    r.protoMask = static_cast<uint8_t>(pm);
    rules.push_back(r);
  }
  return rules;
}

std::optional<std::vector<ClassBenchPacket>> loadClassBenchTrace(const std::string& path,
                                                                 bool wustl,
                                                                 std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot open " + path;
    return std::nullopt;
  }
  std::vector<ClassBenchPacket> packets;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream s(line);
    uint64_t src, dst, sp, dp, proto;
    int64_t last = -1;
    if (!(s >> src >> dst >> sp >> dp >> proto)) {
      *error = "bad trace line in " + path + ": " + line;
      return std::nullopt;
    }
    s >> last;
    ClassBenchPacket p{static_cast<uint32_t>(src),
                       static_cast<uint32_t>(dst),
                       static_cast<uint16_t>(sp),
                       static_cast<uint16_t>(dp),
                       static_cast<uint8_t>(proto),
                       wustl ? last - 1 : -1};
    packets.push_back(p);
  }
  return packets;
}

std::vector<uint64_t> addClassBenchFilters(Policy& policy,
                                           const std::vector<ClassBenchRule>& rules,
                                           const char* layerName) {
  const LayerInfo& layer = *layerByName(layerName);
  const Guid remote = layer.fieldByName("IP_REMOTE_ADDRESS")->conditionKey;
  const Guid local = layer.fieldByName("IP_LOCAL_ADDRESS")->conditionKey;
  const Guid rport = layer.fieldByName("IP_REMOTE_PORT")->conditionKey;
  const Guid lport = layer.fieldByName("IP_LOCAL_PORT")->conditionKey;
  const Guid proto = layer.fieldByName("IP_PROTOCOL")->conditionKey;
  auto mask = [](uint32_t len) {
    return len == 0 ? 0u : static_cast<uint32_t>(0xFFFFFFFFULL << (32 - len));
  };
  std::vector<uint64_t> ids;
  ids.reserve(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) {
    const ClassBenchRule& r = rules[i];
    Filter f;
    f.displayData.name = fmt::format("rule {}", i);
    f.layerKey = layer.key;
    f.weight = Value::uint64(rules.size() - 1 - i);
    f.action.type = i % 2 == 0 ? ActionType::Block : ActionType::Permit;
    if (r.srcLen > 0) {
      f.conditions.push_back({remote, MatchType::Equal, V4AddrMask{r.srcAddr, mask(r.srcLen)}});
    }
    if (r.dstLen > 0) {
      f.conditions.push_back({local, MatchType::Equal, V4AddrMask{r.dstAddr, mask(r.dstLen)}});
    }
    if (!(r.srcLo == 0 && r.srcHi == 65535)) {
      f.conditions.push_back(
          {rport, MatchType::Range, RangeValue{Value::uint16(r.srcLo), Value::uint16(r.srcHi)}});
    }
    if (!(r.dstLo == 0 && r.dstHi == 65535)) {
      f.conditions.push_back(
          {lport, MatchType::Range, RangeValue{Value::uint16(r.dstLo), Value::uint16(r.dstHi)}});
    }
    if (r.protoMask == 0xFF) {
      f.conditions.push_back({proto, MatchType::Equal, Value::uint8(r.proto)});
    }
    auto id = policy.addFilter(std::move(f));
    ids.push_back(id ? *id : 0);
  }
  return ids;
}

std::optional<WustlSet> loadWustlSet(const std::string& dir,
                                     const std::string& name,
                                     std::string* error) {
  auto rules = loadClassBenchRules(dir + "/" + name, error);
  if (!rules) {
    return std::nullopt;
  }
  auto trace = loadClassBenchTrace(dir + "/" + name + "_trace", true, error);
  if (!trace) {
    return std::nullopt;
  }
  WustlSet set;
  set.ids = addClassBenchFilters(set.policy, *rules);
  set.trace = std::move(*trace);
  return set;
}

}  // namespace xfp::test
