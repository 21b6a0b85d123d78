// ClassBench rule sets compiled and walked (compiled_eval, the C++ twin of the BPF walk): every
// trace packet of every wustl-hs1 set must get its oracle rule (the trace's first match) as the
// deciding filter, with the rule's action, and the reference classifier must agree on a sample.
// The data is found through XFP_CLASSBENCH_DIR or ../shared/data/classbench; outside CI its
// absence skips with a message, under CI=true it fails.
#include "tests/harness/classbench.h"

#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "compiler/compiled_eval.h"
#include "compiler/compiler.h"
#include "compiler/fast_path_fields.h"
#include "tests/harness/test_env.h"
#include "userspace/core/classifier.h"

namespace xfp {
namespace {

class ClassBench : public testing::TestWithParam<const char*> {};

xfp_pkt packetOf(const test::ClassBenchPacket& p) {
  xfp_pkt pkt{};
  pkt.flags = XFP_PKT_F_IPV4 | XFP_PKT_F_L4;
  pkt.ether_type = 0x0800;
  for (int i = 0; i < 4; ++i) {
    pkt.src_addr[i] = static_cast<uint8_t>(p.src >> (24 - 8 * i));
    pkt.dst_addr[i] = static_cast<uint8_t>(p.dst >> (24 - 8 * i));
  }
  pkt.src_port = p.sport;
  pkt.dst_port = p.dport;
  pkt.ip_proto = p.proto;
  return pkt;
}

TEST_P(ClassBench, EveryTracePacketGetsItsFirstMatchingRule) {
  const std::string dir = test::classbenchDir() + "/wustl-hs1";
  if (!std::filesystem::exists(dir)) {
    XFP_SKIP_OR_FAIL("ClassBench data not found at " + dir + " (set XFP_CLASSBENCH_DIR)");
  }
  const std::string name = GetParam();
  std::string error;
  auto set = test::loadWustlSet(dir, name, &error);
  ASSERT_TRUE(set) << error;
  const Policy& policy = set->policy;
  const std::vector<uint64_t>& ids = set->ids;
  const std::vector<test::ClassBenchPacket>* trace = &set->trace;
  for (uint64_t id : ids) {
    ASSERT_NE(id, 0u);
  }
  auto compiled = compiler::compile(policy);
  ASSERT_TRUE(compiled) << compiled.error().message;
  const fastpath::PacketMeta meta{2, fastpath::Direction::Inbound};
  NoCallouts none;
  std::mt19937_64 rng(1);
  size_t checked = 0;
  for (const test::ClassBenchPacket& p : *trace) {
    ASSERT_GE(p.expected, 0);
    ASSERT_LT(static_cast<size_t>(p.expected), ids.size());
    const xfp_pkt pkt = packetOf(p);
    const xfp_result r =
        compiler::evaluate(*compiled, XFP_LS_IN_TR4, fastpath::buildKey(pkt, meta));
    const uint64_t want = ids[static_cast<size_t>(p.expected)];
    const uint64_t got =
        r.filter < compiled->filters.size() ? compiled->filters[r.filter].filter_id : 0;
    const uint32_t wantVerdict = p.expected % 2 == 0 ? XFP_VERDICT_BLOCK : XFP_VERDICT_PERMIT;
    ASSERT_EQ(got, want) << name << ": packet " << checked << " (" << p.src << " " << p.dst << " "
                         << p.sport << " " << p.dport << " " << int{p.proto} << ")";
    ASSERT_EQ(r.verdict, wantVerdict);
    // The reference classifier is the oracle too; it is slow, so on a sample.
    if (std::bernoulli_distribution(0.02)(rng)) {
      auto ref = classify(policy, fastpath::incomingValues(XFP_LS_IN_TR4, pkt, meta), {}, none);
      ASSERT_TRUE(ref);
      ASSERT_EQ(ref->filterId, want);
    }
    ++checked;
  }
  EXPECT_EQ(checked, trace->size());
}

INSTANTIATE_TEST_SUITE_P(WustlHs1,
                         ClassBench,
                         testing::Values("acl1",
                                         "acl1_100",
                                         "acl1_1K",
                                         "acl1_5K",
                                         "acl1_10K",
                                         "fw1",
                                         "fw1_100",
                                         "fw1_1K",
                                         "fw1_5K",
                                         "fw1_10K",
                                         "ipc1",
                                         "ipc1_100",
                                         "ipc1_1K",
                                         "ipc1_5K",
                                         "ipc1_10K"));

}  // namespace
}  // namespace xfp
