// Net events: the real XDP program emits one xfp_net_event per dropped packet with the deciding
// filter, layer and 5-tuple; permitted packets only when allow events are on; each CPU emits at
// most the budget the reader grants it, and what is refused is counted.
#include "userspace/dataplane/net_events.h"

#include <linux/bpf.h>

#include <cstring>

#include <gtest/gtest.h>

#include "compiler/compiler.h"
#include "tests/harness/packet_builder.h"
#include "tests/harness/test_env.h"
#include "userspace/core/layers.h"
#include "userspace/dataplane/fast_path.h"
#include "userspace/dataplane/prog_test_run.h"

namespace xfp {
namespace {

using namespace std::chrono_literals;

Filter udpPortFilter(uint16_t port, ActionType action, const char* name) {
  const LayerInfo& layer = *layerByName("INBOUND_TRANSPORT_V4");
  Filter f;
  f.displayData.name = name;
  f.layerKey = layer.key;
  f.action.type = action;
  f.conditions.push_back(
      {layer.fieldByName("IP_PROTOCOL")->conditionKey, MatchType::Equal, Value::uint8(17)});
  f.conditions.push_back(
      {layer.fieldByName("IP_LOCAL_PORT")->conditionKey, MatchType::Equal, Value::uint16(port)});
  return f;
}

class NetEvents : public testing::Test {
 protected:
  void SetUp() override {
    XFP_REQUIRE_ROOT();
    test::pinToCurrentCpu();  // the budget is per CPU
    auto fp = dataplane::FastPath::load();
    ASSERT_TRUE(fp) << fp.error().describe();
    fp_ = std::move(*fp);
    blockId_ = *policy_.addFilter(udpPortFilter(53, ActionType::Block, "block dns"));
    permitId_ = *policy_.addFilter(udpPortFilter(80, ActionType::Permit, "permit 80"));
    auto compiled = compiler::compile(policy_);
    ASSERT_TRUE(compiled) << compiled.error().message;
    ASSERT_TRUE(fp_->commit(*compiled));
    ASSERT_TRUE(fp_->setNetEvents(true, false));
    auto reader =
        dataplane::NetEventReader::open(fp_->mapFd("xfp_events"), fp_->mapFd("xfp_ev_budget"));
    ASSERT_TRUE(reader) << reader.error().describe();
    reader_ = std::move(*reader);
  }

  uint32_t send(uint16_t port, int n) {
    const test::Bytes frame =
        test::PacketBuilder().eth().ipv4().udp(4000, port).payload(10).build();
    uint32_t last = 0;
    for (int i = 0; i < n; ++i) {
      auto run = dataplane::progTestRun(fp_->xdpProgFd(), frame);
      EXPECT_TRUE(run) << run.error().describe();
      last = run ? run->retval : 0;
    }
    return last;
  }

  std::vector<xfp_net_event> drain() {
    std::vector<xfp_net_event> out;
    while (reader_->poll(out, 50ms) > 0) {
    }
    return out;
  }

  Policy policy_;
  uint64_t blockId_ = 0;
  uint64_t permitId_ = 0;
  std::unique_ptr<dataplane::FastPath> fp_;
  std::unique_ptr<dataplane::NetEventReader> reader_;
};

TEST_F(NetEvents, ADropCarriesTheDecidingFilterLayerAndFiveTuple) {
  ASSERT_EQ(send(53, 1), uint32_t{XDP_DROP});
  auto events = drain();
  ASSERT_EQ(events.size(), 1u);
  const xfp_net_event& e = events[0];
  EXPECT_EQ(e.filter_id, blockId_);
  EXPECT_EQ(e.layer_slot, XFP_LS_IN_TR4);
  EXPECT_EQ(e.verdict, XFP_VERDICT_BLOCK);
  EXPECT_EQ(e.inbound, 1);
  EXPECT_EQ(e.ip_proto, 17);
  EXPECT_EQ(e.src_port, 4000);
  EXPECT_EQ(e.dst_port, 53);
  EXPECT_EQ(std::memcmp(e.src_addr, test::kSrc4.data(), 4), 0);
  EXPECT_EQ(std::memcmp(e.dst_addr, test::kDst4.data(), 4), 0);
  EXPECT_EQ(e.ifindex, 1u);  // BPF_PROG_TEST_RUN runs as if received on lo
  EXPECT_NE(e.timestamp_ns, 0u);
}

TEST_F(NetEvents, OffUntilSwitchedOn) {
  ASSERT_TRUE(fp_->setNetEvents(false, false));
  ASSERT_EQ(send(53, 2), uint32_t{XDP_DROP});
  EXPECT_TRUE(drain().empty());
}

TEST_F(NetEvents, PermitsOnlyWhenAllowEventsAreOn) {
  ASSERT_EQ(send(80, 3), uint32_t{XDP_PASS});
  EXPECT_TRUE(drain().empty());
  ASSERT_TRUE(fp_->setNetEvents(true, true));
  ASSERT_EQ(send(80, 2), uint32_t{XDP_PASS});
  auto events = drain();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].verdict, XFP_VERDICT_PERMIT);
  EXPECT_EQ(events[0].filter_id, permitId_);
  // Drop events off: a drop leaves no event.
  ASSERT_TRUE(fp_->setNetEvents(false, false));
  ASSERT_EQ(send(53, 2), uint32_t{XDP_DROP});
  EXPECT_TRUE(drain().empty());
}

TEST_F(NetEvents, BudgetLimitsTheRateAndRefusalsAreCounted) {
  // A reader granting 50 events a second gives each CPU 5 per refill.
  reader_.reset();
  auto reader =
      dataplane::NetEventReader::open(fp_->mapFd("xfp_events"), fp_->mapFd("xfp_ev_budget"), 50);
  ASSERT_TRUE(reader) << reader.error().describe();
  reader_ = std::move(*reader);
  auto before = fp_->netEventCounts();
  ASSERT_TRUE(before);
  ASSERT_EQ(send(53, 40), uint32_t{XDP_DROP});
  std::vector<xfp_net_event> events;
  reader_->poll(events, 20ms);
  auto after = fp_->netEventCounts();
  ASSERT_TRUE(after);
  EXPECT_EQ(events.size(), 5u);
  EXPECT_EQ(after->emitted - before->emitted, 5u);
  EXPECT_EQ(after->suppressed - before->suppressed, 35u);
  // Without a reader there is no budget: no event at all.
  reader_.reset();
  auto quiet = fp_->netEventCounts();
  ASSERT_EQ(send(53, 3), uint32_t{XDP_DROP});
  auto later = fp_->netEventCounts();
  EXPECT_EQ(later->emitted, quiet->emitted);
  EXPECT_EQ(later->suppressed - quiet->suppressed, 3u);
}

}  // namespace
}  // namespace xfp
