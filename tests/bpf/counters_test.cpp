// Per-filter counters: a filter's hits survive recompiles while it stays in the policy, and the
// slot of a filter that left is zeroed before another filter reuses it.
#include <linux/bpf.h>

#include <gtest/gtest.h>

#include "compiler/compiler.h"
#include "tests/harness/packet_builder.h"
#include "tests/harness/test_env.h"
#include "userspace/core/layers.h"
#include "userspace/dataplane/fast_path.h"
#include "userspace/dataplane/prog_test_run.h"

namespace xfp {
namespace {

Filter blockUdpPort(uint16_t port, const char* name) {
  const LayerInfo& layer = *layerByName("INBOUND_TRANSPORT_V4");
  Filter f;
  f.displayData.name = name;
  f.layerKey = layer.key;
  f.action.type = ActionType::Block;
  f.conditions.push_back(
      {layer.fieldByName("IP_PROTOCOL")->conditionKey, MatchType::Equal, Value::uint8(17)});
  f.conditions.push_back(
      {layer.fieldByName("IP_LOCAL_PORT")->conditionKey, MatchType::Equal, Value::uint16(port)});
  return f;
}

class FastPathCounters : public testing::Test {
 protected:
  void SetUp() override {
    XFP_REQUIRE_ROOT();
    dataplane::FastPathOptions caps;
    caps.nodes = caps.cands = caps.boxes = caps.filters = 4096;
    auto fp = dataplane::FastPath::load(caps);
    ASSERT_TRUE(fp) << fp.error().describe();
    fp_ = std::move(*fp);
    ASSERT_TRUE(fp_->setFlowCache(false));
  }
  void commit() {
    auto compiled = compiler::compile(policy_);
    ASSERT_TRUE(compiled) << compiled.error().message;
    auto r = fp_->commit(*compiled);
    ASSERT_TRUE(r) << r.error().describe();
  }
  void send(uint16_t port, int n) {
    const test::Bytes frame =
        test::PacketBuilder().eth().ipv4().udp(4000, port).payload(10).build();
    for (int i = 0; i < n; ++i) {
      auto run = dataplane::progTestRun(fp_->xdpProgFd(), frame);
      ASSERT_TRUE(run) << run.error().describe();
      ASSERT_EQ(run->retval, XDP_DROP);
    }
  }
  uint64_t packets(uint64_t filterId) {
    auto c = fp_->counters(filterId);
    EXPECT_TRUE(c) << c.error().describe();
    return c ? c->packets : 0;
  }

  Policy policy_;
  std::unique_ptr<dataplane::FastPath> fp_;
};

TEST_F(FastPathCounters, SurviveRecompilesAndAreZeroedBeforeReuse) {
  const uint64_t x = *policy_.addFilter(blockUdpPort(9, "x"));
  commit();
  send(9, 5);
  EXPECT_EQ(packets(x), 5u);
  // Another filter joins: x keeps its count.
  const uint64_t other = *policy_.addFilter(blockUdpPort(10, "other"));
  commit();
  send(9, 2);
  EXPECT_EQ(packets(x), 7u);
  // x leaves; its slot is released, and zeroed at the next commit's grace period.
  ASSERT_TRUE(policy_.deleteFilterById(x));
  commit();
  EXPECT_FALSE(fp_->counters(x));
  const uint64_t y = *policy_.addFilter(blockUdpPort(9, "y"));  // a new filter, new id
  commit();
  send(9, 3);
  EXPECT_EQ(packets(y), 3u);  // not 7 + 3: the recycled slot started from zero
  EXPECT_EQ(packets(other), 0u);
}

}  // namespace
}  // namespace xfp
