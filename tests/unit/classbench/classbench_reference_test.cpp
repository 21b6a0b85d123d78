// The other ClassBench generations (lyxocs-ruleSet: 12 seeds at 1k and 10k; neurocuts: rules
// only) have no first-match oracle in their traces, so the reference classifier is the oracle:
// every compiled set must decide its trace packets (all of a 1k trace, the first 2000 of a 10k
// one) exactly as the reference does, and for rule files without a trace, packets taken from the
// rules' corners. The lyxocs trace's last column (the generating rule) bounds the first match.
// The key is synthetic (ports present whatever the protocol), as in classbench_test.cpp.
#include <cctype>
#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "compiler/compiled_eval.h"
#include "compiler/compiler.h"
#include "compiler/fast_path_fields.h"
#include "tests/harness/classbench.h"
#include "tests/harness/test_env.h"
#include "userspace/core/classifier.h"
#include "userspace/core/packet/packet_parse.h"

namespace xfp {
namespace {

xfp_pkt packetOf(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint8_t proto) {
  xfp_pkt pkt{};
  pkt.flags = XFP_PKT_F_IPV4 | XFP_PKT_F_L4;
  pkt.ether_type = 0x0800;
  for (int i = 0; i < 4; ++i) {
    pkt.src_addr[i] = static_cast<uint8_t>(src >> (24 - 8 * i));
    pkt.dst_addr[i] = static_cast<uint8_t>(dst >> (24 - 8 * i));
  }
  pkt.src_port = sport;
  pkt.dst_port = dport;
  pkt.ip_proto = proto;
  return pkt;
}

struct Param {
  const char* folder;
  const char* name;
  bool trace;
};

class ClassBenchReference : public testing::TestWithParam<Param> {};

TEST_P(ClassBenchReference, CompiledSetDecidesAsTheReferenceClassifier) {
  const Param& prm = GetParam();
  const std::string dir = test::classbenchDir() + "/" + prm.folder;
  if (!std::filesystem::exists(dir)) {
    XFP_SKIP_OR_FAIL("ClassBench data not found at " + dir + " (set XFP_CLASSBENCH_DIR)");
  }
  std::string error;
  auto rules = test::loadClassBenchRules(dir + "/" + prm.name, &error);
  ASSERT_TRUE(rules) << error;
  Policy policy;
  const std::vector<uint64_t> ids = test::addClassBenchFilters(policy, *rules);
  auto compiled = compiler::compile(policy);
  ASSERT_TRUE(compiled) << prm.name << ": " << compiled.error().message;

  std::vector<xfp_pkt> packets;
  std::vector<int64_t> generatedFrom;
  if (prm.trace) {
    auto trace = test::loadClassBenchTrace(dir + "/" + prm.name + "_trace", false, &error);
    ASSERT_TRUE(trace) << error;
    const size_t limit = rules->size() > 2000 ? 2000 : trace->size();
    // The 7th column (read past the flags column) is the generating rule.
    std::ifstream in(dir + "/" + prm.name + "_trace");
    for (size_t i = 0; i < trace->size() && i < limit; ++i) {
      const auto& p = (*trace)[i];
      packets.push_back(packetOf(p.src, p.dst, p.sport, p.dport, p.proto));
      uint64_t a, b, c, d, e, f;
      int64_t gen = -1;
      in >> a >> b >> c >> d >> e >> f >> gen;
      generatedFrom.push_back(gen);
    }
  } else {
    std::mt19937_64 rng(7);
    for (int i = 0; i < 3000; ++i) {  // corners of random rules
      const test::ClassBenchRule& r = (*rules)[rng() % rules->size()];
      auto corner = [&](uint32_t addr, uint32_t len) {
        const uint32_t hostMask = len == 0 ? 0xFFFFFFFFu : (len == 32 ? 0 : (0xFFFFFFFFu >> len));
        return (rng() & 1) ? addr : (addr | hostMask);
      };
      packets.push_back(
          packetOf(corner(r.srcAddr, r.srcLen),
                   corner(r.dstAddr, r.dstLen),
                   (rng() & 1) ? r.srcLo : r.srcHi,
                   (rng() & 1) ? r.dstLo : r.dstHi,
                   r.protoMask == 0xFF ? r.proto : static_cast<uint8_t>(rng() % 256)));
      generatedFrom.push_back(-1);
    }
  }
  const fastpath::PacketMeta meta{2, fastpath::Direction::Inbound};
  NoCallouts none;
  for (size_t i = 0; i < packets.size(); ++i) {
    auto ref =
        classify(policy, fastpath::incomingValues(XFP_LS_IN_TR4, packets[i], meta), {}, none);
    ASSERT_TRUE(ref);
    const xfp_result r =
        compiler::evaluate(*compiled, XFP_LS_IN_TR4, fastpath::buildKey(packets[i], meta));
    const uint64_t got =
        r.filter < compiled->filters.size() ? compiled->filters[r.filter].filter_id : 0;
    ASSERT_EQ(got, ref->filterId) << prm.name << " packet " << i;
    ASSERT_EQ(compiler::verdictAction(r.verdict), ref->action) << prm.name << " packet " << i;
    // The header matches its generating rule, so the first match is at or before it -- except for
    // ICMP headers: WFP reads an ICMP packet's type/code as local/remote port, which is not the
    // (source, destination) port pair ClassBench generated.
    const bool icmp = packets[i].ip_proto == 1 || packets[i].ip_proto == 58;
    if (generatedFrom[i] >= 0 && !icmp) {
      ASSERT_NE(ref->filterId, 0u);
      ASSERT_LE(ref->filterId, ids.at(static_cast<size_t>(generatedFrom[i])))
          << prm.name << " packet " << i << " generated from rule " << generatedFrom[i] << ": "
          << packet::describe(packets[i]);
    }
  }
}

std::vector<Param> params() {
  std::vector<Param> out;
  static const std::vector<std::string> withTrace = {
      "acl1_1k", "acl2_1k",  "acl2_10k", "acl3_1k", "acl3_10k", "acl4_1k",  "acl4_10k",
      "acl5_1k", "acl5_10k", "fw1_1k",   "fw1_10k", "fw2_1k",   "fw2_10k",  "fw3_1k",
      "fw3_10k", "fw4_1k",   "fw4_10k",  "fw5_1k",  "ipc1_1k",  "ipc1_10k", "ipc2_1k"};
  static const std::vector<std::string> rulesOnly = {"acl1_10k", "fw5_10k", "ipc2_10k"};
  static const std::vector<std::string> neurocuts = {
      "acl1_1k", "acl1_10k", "fw1_1k", "fw1_10k", "ipc1_1k", "ipc1_10k"};
  for (const auto& n : withTrace) {
    out.push_back({"lyxocs-ruleSet", n.c_str(), true});
  }
  for (const auto& n : rulesOnly) {
    out.push_back({"lyxocs-ruleSet", n.c_str(), false});
  }
  for (const auto& n : neurocuts) {
    out.push_back({"neurocuts", n.c_str(), false});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Sets,
                         ClassBenchReference,
                         testing::ValuesIn(params()),
                         [](const testing::TestParamInfo<Param>& param) {
                           std::string n = std::string(param.param.folder) + "_" + param.param.name;
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) {
                               c = '_';
                             }
                           }
                           return n;
                         });

}  // namespace
}  // namespace xfp
