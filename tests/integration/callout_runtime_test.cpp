// Integration: the callout runtime on real traffic between two namespaces, with callouts
// registered in-process through fwpsk.h (the plugin tests load the same kind of callouts from
// .so files). Punted packets reach classifyFn, whose answer decides; the runtime re-sends what
// is permitted (inbound into A's stack, outbound out of A's veth end).
#include <arpa/inet.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <fwpsk.h>

#include "tests/harness/callout_env.h"
#include "tests/harness/test_env.h"

namespace xfp::test {
namespace {

using namespace std::chrono_literals;

// {9a1f4d2e-0b6c-4f43-9d7e-5c2a8e1b7f01}
constexpr GUID kInspectKey = {0x9a1f4d2e, 0x0b6c, 0x4f43, {0x9d, 0x7e, 0x5c, 0x2a, 0x8e, 0x1b, 0x7f, 0x01}};
constexpr const char* kInspectText = "9a1f4d2e-0b6c-4f43-9d7e-5c2a8e1b7f01";

std::atomic<int> gClassified{0};

// Permits datagrams whose payload starts with "ok", blocks the others.
void payloadClassify(const FWPS_INCOMING_VALUES0* in,
                     const FWPS_INCOMING_METADATA_VALUES0* meta,
                     void* layerData,
                     const void* classifyContext,
                     const FWPS_FILTER1* filter,
                     UINT64 flowContext,
                     FWPS_CLASSIFY_OUT0* out) {
  (void)in;
  (void)meta;
  (void)classifyContext;
  (void)filter;
  (void)flowContext;
  gClassified++;
  if ((out->rights & FWPS_RIGHT_ACTION_WRITE) == 0) {
    return;
  }
  auto* nbl = static_cast<NET_BUFFER_LIST*>(layerData);
  NET_BUFFER* nb = NET_BUFFER_LIST_FIRST_NB(nbl);
  const ULONG len = NET_BUFFER_DATA_LENGTH(nb);
  const auto* data = static_cast<const char*>(NdisGetDataBuffer(nb, len, nullptr, 1, 0));
  // Inbound transport: data starts at the payload; outbound: at the UDP header (8 bytes).
  const ULONG skip = in->layerId == FWPS_LAYER_OUTBOUND_TRANSPORT_V4 ? 8 : 0;
  const bool ok = data != nullptr && len >= skip + 2 && std::memcmp(data + skip, "ok", 2) == 0;
  out->actionType = ok ? FWP_ACTION_PERMIT : FWP_ACTION_BLOCK;
}

NTSTATUS notifyNothing(FWPS_CALLOUT_NOTIFY_TYPE, const GUID*, FWPS_FILTER1*) {
  return STATUS_SUCCESS;
}

std::string policyWithCallout(const std::string& layer, uint16_t port, const std::string& portField) {
  return std::string(R"({"xfp_policy": 1,
    "callouts": [{"key": ")") + kInspectText + R"(", "name": "inspect", "layer": ")" + layer +
         R"("}],
    "filters": [{"name": "to callout", "layer": ")" + layer + R"(",
                 "action": "callout_terminating", "callout": ")" + kInspectText + R"(",
                 "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
                                {"field": ")" + portField + R"(", "value": )" +
         std::to_string(port) + R"(}]}]})";
}

class CalloutRuntimeTraffic : public ::testing::Test {
 protected:
  void SetUp() override { XFP_REQUIRE_ROOT(); }
  void TearDown() override {
    if (registered_ != 0) {
      EXPECT_EQ(FwpsCalloutUnregisterById0(registered_), STATUS_SUCCESS);
    }
    env_.tearDown();
  }

  void registerInspect() {
    FWPS_CALLOUT1 c{};
    c.calloutKey = kInspectKey;
    c.classifyFn = payloadClassify;
    c.notifyFn = notifyNothing;
    ASSERT_EQ(FwpsCalloutRegister1(nullptr, &c, &registered_), STATUS_SUCCESS);
  }

  CalloutEnv env_;
  UINT32 registered_ = 0;
};

TEST_F(CalloutRuntimeTraffic, InboundCalloutPermitsAndBlocksPerPacket) {
  ASSERT_EQ(env_.setUp(policyWithCallout("INBOUND_TRANSPORT_V4", 7101, "IP_LOCAL_PORT")), "");
  registerInspect();
  gClassified = 0;
  auto got = env_.udpToA(7101, {"ok-1", "no-2", "ok-3", "no-4"});
  EXPECT_EQ(got, (std::vector<std::string>{"ok-1", "ok-3"}));
  EXPECT_EQ(gClassified.load(), 4);
  // Traffic no filter sends to the callout stays on the fast path.
  auto other = env_.udpToA(7102, {"no-but-not-punted"});
  EXPECT_EQ(other.size(), 1u);
  EXPECT_EQ(gClassified.load(), 4);
}

TEST_F(CalloutRuntimeTraffic, OutboundCalloutPermitsAndBlocksPerPacket) {
  ASSERT_EQ(env_.setUp(policyWithCallout("OUTBOUND_TRANSPORT_V4", 7111, "IP_REMOTE_PORT")), "");
  registerInspect();
  gClassified = 0;
  auto got = env_.udpToB(7111, {"ok-a", "no-b", "ok-c"});
  EXPECT_EQ(got, (std::vector<std::string>{"ok-a", "ok-c"}));
  EXPECT_EQ(gClassified.load(), 3);
}

TEST_F(CalloutRuntimeTraffic, UnregisteredCalloutBlocks) {
  ASSERT_EQ(env_.setUp(policyWithCallout("INBOUND_TRANSPORT_V4", 7121, "IP_LOCAL_PORT")), "");
  auto got = env_.udpToA(7121, {"ok-but-nobody-to-ask"});
  EXPECT_TRUE(got.empty());
}

}  // namespace
}  // namespace xfp::test
