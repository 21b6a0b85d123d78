// Integration: the callout runtime on real traffic between two namespaces, with callouts
// registered in-process through fwpsk.h (the plugin tests load the same kind of callouts from
// .so files). Punted packets reach classifyFn, whose answer decides; the runtime re-sends what
// is permitted (inbound into A's stack, outbound out of A's veth end).
#include <arpa/inet.h>
#include <fwpsk.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/harness/callout_env.h"
#include "tests/harness/sockets.h"
#include "tests/harness/test_env.h"
#include "userspace/core/layers.h"
#include "userspace/core/wfp_constants.h"

namespace xfp::test {
namespace {

using namespace std::chrono_literals;

// {9a1f4d2e-0b6c-4f43-9d7e-5c2a8e1b7f01}
constexpr GUID kInspectKey = {
    0x9a1f4d2e, 0x0b6c, 0x4f43, {0x9d, 0x7e, 0x5c, 0x2a, 0x8e, 0x1b, 0x7f, 0x01}};
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

std::string policyWithCallout(const std::string& layer,
                              uint16_t port,
                              const std::string& portField,
                              const std::string& action = "callout_terminating",
                              const std::string& flags = "") {
  return std::string(R"({"xfp_policy": 1,
    "callouts": [{"key": ")") +
         kInspectText + R"(", "name": "inspect", "layer": ")" + layer +
         R"("}],
    "filters": [{"name": "to callout", "layer": ")" +
         layer + R"(",
                 "action": ")" +
         action + R"(", "callout": ")" + kInspectText + R"(",)" +
         (flags.empty() ? "" : R"("flags": [")" + flags + R"("],)") + R"(
                 "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
                                {"field": ")" +
         portField + R"(", "value": )" + std::to_string(port) + R"(}]}]})";
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
  // Once registered the callout decides; unregistered again, the filter blocks again.
  registerInspect();
  EXPECT_EQ(env_.udpToA(7121, {"ok-asked"}), (std::vector<std::string>{"ok-asked"}));
  ASSERT_EQ(FwpsCalloutUnregisterById0(registered_), STATUS_SUCCESS);
  registered_ = 0;
  EXPECT_TRUE(env_.udpToA(7121, {"ok-nobody-again"}).empty());
}

TEST_F(CalloutRuntimeTraffic, UnregisteredCalloutPermitsWithTheFlag) {
  ASSERT_EQ(env_.setUp(policyWithCallout("INBOUND_TRANSPORT_V4",
                                         7131,
                                         "IP_LOCAL_PORT",
                                         "callout_terminating",
                                         "PERMIT_IF_CALLOUT_UNREGISTERED")),
            "");
  EXPECT_EQ(env_.udpToA(7131, {"no-but-permitted"}),
            (std::vector<std::string>{"no-but-permitted"}));
  // Registered, the callout's own answer counts again.
  registerInspect();
  EXPECT_EQ(env_.udpToA(7131, {"no-1", "ok-2"}), (std::vector<std::string>{"ok-2"}));
}

TEST_F(CalloutRuntimeTraffic, InspectionCalloutIgnoredWhenAbsent) {
  // A static block below the inspection callout decides while the callout is absent; with the
  // callout present an inspection answer cannot change it either (CONTINUE).
  const std::string json = std::string(R"({"xfp_policy": 1,
    "callouts": [{"key": ")") +
                           kInspectText +
                           R"(", "name": "inspect", "layer": "INBOUND_TRANSPORT_V4"}],
    "filters": [{"name": "inspect", "layer": "INBOUND_TRANSPORT_V4", "weight": 10,
                 "action": "callout_inspection", "callout": ")" +
                           kInspectText + R"(",
                 "conditions": [{"field": "IP_PROTOCOL", "value": "udp"}]},
                {"name": "permit 7141", "layer": "INBOUND_TRANSPORT_V4", "weight": 5,
                 "action": "permit",
                 "conditions": [{"field": "IP_LOCAL_PORT", "value": 7141}]},
                {"name": "block 7142", "layer": "INBOUND_TRANSPORT_V4", "weight": 5,
                 "action": "block",
                 "conditions": [{"field": "IP_LOCAL_PORT", "value": 7142}]}]})";
  ASSERT_EQ(env_.setUp(json), "");
  EXPECT_EQ(env_.udpToA(7141, {"no-a"}), (std::vector<std::string>{"no-a"}));
  EXPECT_TRUE(env_.udpToA(7142, {"ok-b"}).empty());
  registerInspect();
  gClassified = 0;
  EXPECT_EQ(env_.udpToA(7141, {"no-c"}), (std::vector<std::string>{"no-c"}));
  EXPECT_TRUE(env_.udpToA(7142, {"ok-d"}).empty());
  EXPECT_EQ(gClassified.load(), 2);  // it was asked, and its answers were only inspection
}

TEST_F(CalloutRuntimeTraffic, RegistrationRules) {
  ASSERT_EQ(env_.setUp(policyWithCallout("INBOUND_TRANSPORT_V4", 7151, "IP_LOCAL_PORT")), "");
  registerInspect();
  FWPS_CALLOUT1 again{};
  again.calloutKey = kInspectKey;
  again.classifyFn = payloadClassify;
  UINT32 id = 0;
  EXPECT_EQ(FwpsCalloutRegister1(nullptr, &again, &id), STATUS_FWP_ALREADY_EXISTS);
  EXPECT_EQ(FwpsCalloutRegister1(nullptr, nullptr, &id), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(FwpsCalloutUnregisterById0(registered_ + 1000), STATUS_FWP_CALLOUT_NOT_FOUND);
  GUID unknown = kInspectKey;
  unknown.Data1 ^= 1;
  EXPECT_EQ(FwpsCalloutUnregisterByKey0(&unknown), STATUS_FWP_CALLOUT_NOT_FOUND);
  EXPECT_EQ(FwpsCalloutUnregisterByKey0(&kInspectKey), STATUS_SUCCESS);
  registered_ = 0;
}

// notifyFn: ADD_FILTER (with the key; a failure fails the add), DELETE_FILTER (key NULL),
// ADD_FILTER_POST_COMMIT for callouts registered with ENABLE_COMMIT_ADD_NOTIFY.
struct NotifyLog {
  std::mutex mu;
  std::vector<std::pair<int, bool>> calls;  // (type, filterKey != NULL)
  std::vector<UINT64> ids;
  bool refuse = false;
};
NotifyLog gNotify;

NTSTATUS loggingNotify(FWPS_CALLOUT_NOTIFY_TYPE type, const GUID* key, FWPS_FILTER1* filter) {
  std::lock_guard lock(gNotify.mu);
  gNotify.calls.emplace_back(static_cast<int>(type), key != nullptr);
  gNotify.ids.push_back(filter != nullptr ? filter->filterId : 0);
  return type == FWPS_CALLOUT_NOTIFY_ADD_FILTER && gNotify.refuse ? STATUS_UNSUCCESSFUL
                                                                  : STATUS_SUCCESS;
}

TEST_F(CalloutRuntimeTraffic, NotifyOnFilterAddAndDelete) {
  ASSERT_EQ(env_.setUp(policyWithCallout("INBOUND_TRANSPORT_V4", 7161, "IP_LOCAL_PORT")), "");
  const uint64_t before = env_.filterId("to callout");
  FWPS_CALLOUT1 c{};
  c.calloutKey = kInspectKey;
  c.flags = FWP_CALLOUT_FLAG_ENABLE_COMMIT_ADD_NOTIFY;
  c.classifyFn = payloadClassify;
  c.notifyFn = loggingNotify;
  ASSERT_EQ(FwpsCalloutRegister1(nullptr, &c, &registered_), STATUS_SUCCESS);
  {
    std::lock_guard lock(gNotify.mu);
    EXPECT_TRUE(gNotify.calls.empty());  // filters that existed before: no ADD notification
  }
  Filter f;
  f.layerKey = layerByName("INBOUND_TRANSPORT_V4")->key;
  f.displayData.name = "added at run time";
  f.action.type = ActionType::CalloutTerminating;
  f.action.calloutKey = Guid::fromText(kInspectText);
  auto id = env_.runtime().addFilter(f);
  ASSERT_TRUE(id) << std::hex << id.error().status << " " << id.error().message;
  ASSERT_TRUE(env_.runtime().commit());
  // A filter added after the callout registered sends its packets to the callout at once.
  EXPECT_EQ(env_.udpToA(7162, {"ok-x", "no-y"}), (std::vector<std::string>{"ok-x"}));
  ASSERT_TRUE(env_.runtime().deleteFilter(before));  // added before registration: DELETE anyway
  {
    std::lock_guard lock(gNotify.mu);
    ASSERT_EQ(gNotify.calls.size(), 3u);
    EXPECT_EQ(gNotify.calls[0], std::make_pair(int{FWPS_CALLOUT_NOTIFY_ADD_FILTER}, true));
    EXPECT_EQ(gNotify.ids[0], *id);
    EXPECT_EQ(gNotify.calls[1],
              std::make_pair(int{FWPS_CALLOUT_NOTIFY_ADD_FILTER_POST_COMMIT}, true));
    EXPECT_EQ(gNotify.calls[2], std::make_pair(int{FWPS_CALLOUT_NOTIFY_DELETE_FILTER}, false));
    EXPECT_EQ(gNotify.ids[2], before);
    gNotify.refuse = true;
  }
  auto refused = env_.runtime().addFilter(f);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().status, status::kCalloutNotificationFailed);
  size_t filters = 0;
  env_.runtime().withPolicy([&](const Policy& p) { filters = p.filters().size(); });
  EXPECT_EQ(filters, 1u);  // the refused filter is not in the policy
  std::lock_guard lock(gNotify.mu);
  gNotify.refuse = false;
}

}  // namespace
}  // namespace xfp::test

namespace xfp::test {
namespace {

// Pend (FwpsPendClassify0) at ALE_AUTH_RECV_ACCEPT_V4, completed from another thread at once:
// every new flow's first datagram arrives, none is lost to the race between the pend's
// registration and its completion.
struct ImmediateCompleter {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<UINT64> handles;
  bool stop = false;
};
ImmediateCompleter* gImmediate = nullptr;

void pendAndHandOff(const FWPS_INCOMING_VALUES0*,
                    const FWPS_INCOMING_METADATA_VALUES0*,
                    void*,
                    const void* classifyContext,
                    const FWPS_FILTER1* filter,
                    UINT64,
                    FWPS_CLASSIFY_OUT0* out) {
  UINT64 h = 0;
  ASSERT_EQ(FwpsAcquireClassifyHandle0(const_cast<void*>(classifyContext), 0, &h), STATUS_SUCCESS);
  ASSERT_EQ(FwpsPendClassify0(h, filter->filterId, 0, out), STATUS_SUCCESS);
  out->actionType = FWP_ACTION_BLOCK;
  out->rights &= ~FWPS_RIGHT_ACTION_WRITE;
  std::lock_guard lock(gImmediate->mu);
  gImmediate->handles.push_back(h);
  gImmediate->cv.notify_one();
}

TEST_F(CalloutRuntimeTraffic, PendCompletedFromAnotherThreadRightAway) {
  ASSERT_EQ(env_.setUp(policyWithCallout("ALE_AUTH_RECV_ACCEPT_V4", 7171, "IP_LOCAL_PORT")), "");
  ImmediateCompleter c;
  gImmediate = &c;
  std::thread completer([&] {
    std::unique_lock lock(c.mu);
    while (!c.stop) {
      c.cv.wait_for(lock, 10ms);
      for (UINT64 h : c.handles) {
        FWPS_CLASSIFY_OUT0 co{};
        co.actionType = FWP_ACTION_PERMIT;
        co.rights = FWPS_RIGHT_ACTION_WRITE;
        FwpsCompleteClassify0(h, 0, &co);
        FwpsReleaseClassifyHandle0(h);
      }
      c.handles.clear();
    }
  });
  FWPS_CALLOUT1 callout{};
  callout.calloutKey = kInspectKey;
  callout.classifyFn = pendAndHandOff;
  ASSERT_EQ(FwpsCalloutRegister1(nullptr, &callout, &registered_), STATUS_SUCCESS);
  int delivered = 0;
  for (int i = 0; i < 20; ++i) {  // 20 new flows: udpToA opens a new sending socket each time
    delivered += static_cast<int>(env_.udpToA(7171, {"flow " + std::to_string(i)}, 300ms).size());
  }
  {
    std::lock_guard lock(c.mu);
    c.stop = true;
  }
  completer.join();
  gImmediate = nullptr;
  const auto& st = env_.runtime().stats();
  EXPECT_EQ(delivered, 20) << "punted " << st.punted << ", blocked " << st.blocked;
  EXPECT_EQ(env_.runtime().stats().pended.load(), 20u);
  EXPECT_EQ(env_.runtime().pendedNow(), 0u);
}

}  // namespace
}  // namespace xfp::test

namespace xfp::test {
namespace {

// Re-authorization (wfp-model.md §4.10): a live TCP connection authorized at ALE_AUTH_CONNECT is
// cut when a filter added afterwards blocks it; the flow's next packet is classified again (with
// IS_REAUTHORIZE) and the new verdict sticks in the kernel's flow table.
TEST(CalloutReauthorization, LiveConnectionCutByANewBlockingFilter) {
  XFP_REQUIRE_ROOT();
  CalloutEnv env;
  ASSERT_EQ(env.setUp(R"({"xfp_policy": 1, "filters": [
      {"name": "connect: permit 7301", "layer": "ALE_AUTH_CONNECT_V4", "action": "permit",
       "conditions": [{"field": "IP_REMOTE_PORT", "value": 7301}]}]})"),
            "");
  auto t = env.tcpFromA(7301);
  ASSERT_TRUE(t.connected(2000ms));
  ASSERT_TRUE(t.accepted(2000ms));
  dataplane::UniqueFd server(::accept4(t.listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(server);
  setTimeouts(server.get(), 500ms);
  char buf[16];
  ASSERT_EQ(::send(t.client.get(), "before", 6, MSG_NOSIGNAL), 6);
  EXPECT_EQ(::recv(server.get(), buf, sizeof buf, 0), 6);

  Filter block;
  block.displayData.name = "connect: block 7301";
  block.layerKey = layerByName("ALE_AUTH_CONNECT_V4")->key;
  block.weight = Value::uint8(15);  // the top weight range: above the permit's automatic weight
  block.action.type = ActionType::Block;
  Condition c;
  c.fieldKey = layerByName("ALE_AUTH_CONNECT_V4")->fieldByName("IP_REMOTE_PORT")->conditionKey;
  c.value = ConditionValue(Value::uint16(7301));
  block.conditions.push_back(c);
  ASSERT_TRUE(env.runtime().addFilter(block));
  ASSERT_TRUE(env.runtime().commit());

  ASSERT_EQ(::send(t.client.get(), "after", 5, MSG_NOSIGNAL), 5);
  EXPECT_LT(::recv(server.get(), buf, sizeof buf, 0), 1) << "the re-authorized flow must be cut";
  // Replies from B are cut too (the kernel's flow entry says BLOCK for both directions).
  EXPECT_EQ(::send(server.get(), "reply", 5, MSG_NOSIGNAL), 5);
  setTimeouts(t.client.get(), 500ms);
  EXPECT_LT(::recv(t.client.get(), buf, sizeof buf, 0), 1);
}

}  // namespace
}  // namespace xfp::test

namespace xfp::test {
namespace {

// Flow affinity: a classifyFn that takes long for one flow stalls only its own worker; a flow on
// the other worker is decided meanwhile.
void slowForPort7401(const FWPS_INCOMING_VALUES0* in,
                     const FWPS_INCOMING_METADATA_VALUES0*,
                     void*,
                     const void*,
                     const FWPS_FILTER1*,
                     UINT64,
                     FWPS_CLASSIFY_OUT0* out) {
  if (in->incomingValue[FWPS_FIELD_INBOUND_TRANSPORT_V4_IP_LOCAL_PORT].value.uint16 == 7401) {
    std::this_thread::sleep_for(1500ms);
  }
  out->actionType = FWP_ACTION_PERMIT;
}

TEST_F(CalloutRuntimeTraffic, ASlowClassifyStallsOnlyItsOwnFlows) {
  callout::RuntimeOptions options;
  options.workers = 2;
  const std::string json = std::string(R"({"xfp_policy": 1,
    "callouts": [{"key": ")") +
                           kInspectText +
                           R"(", "name": "slow", "layer": "INBOUND_TRANSPORT_V4"}],
    "filters": [{"name": "slow", "layer": "INBOUND_TRANSPORT_V4", "action": "callout_terminating",
                 "callout": ")" +
                           kInspectText + R"(",
                 "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
                                {"field": "IP_LOCAL_PORT", "value": 7401},
                                {"field": "IP_LOCAL_PORT", "value": 7402}]}]})";
  ASSERT_EQ(env_.setUp(json, options), "");
  FWPS_CALLOUT1 c{};
  c.calloutKey = kInspectKey;
  c.classifyFn = slowForPort7401;
  ASSERT_EQ(FwpsCalloutRegister1(nullptr, &c, &registered_), STATUS_SUCCESS);
  // Source ports that put the two flows on different workers.
  uint8_t a[16] = {10, 199, 0, 1};
  uint8_t b[16] = {10, 199, 0, 2};
  uint16_t slowSrc = 40001;
  uint16_t fastSrc = 40002;
  while (env_.runtime().workerOf(a, b, 7401, slowSrc, 17) ==
         env_.runtime().workerOf(a, b, 7402, fastSrc, 17)) {
    ++fastSrc;
  }
  auto bound = [&](const std::string& ns, const char* addr, uint16_t port) {
    const Endpoint at = endpoint(addr, port);
    dataplane::UniqueFd fd = socketIn(ns, AF_INET, SOCK_DGRAM, 3s);
    EXPECT_EQ(::bind(fd.get(), at.sa(), at.len), 0);
    return fd;
  };
  dataplane::UniqueFd rxSlow = bound(env_.ns().nsA(), VethNamespaces::kAddr4A, 7401);
  dataplane::UniqueFd rxFast = bound(env_.ns().nsA(), VethNamespaces::kAddr4A, 7402);
  dataplane::UniqueFd txSlow = bound(env_.ns().nsB(), VethNamespaces::kAddr4B, slowSrc);
  dataplane::UniqueFd txFast = bound(env_.ns().nsB(), VethNamespaces::kAddr4B, fastSrc);
  const Endpoint toSlow = endpoint(VethNamespaces::kAddr4A, 7401);
  const Endpoint toFast = endpoint(VethNamespaces::kAddr4A, 7402);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(::sendto(txSlow.get(), "slow", 4, 0, toSlow.sa(), toSlow.len), 4);
  std::this_thread::sleep_for(50ms);  // the slow classify is running now
  ASSERT_EQ(::sendto(txFast.get(), "fast", 4, 0, toFast.sa(), toFast.len), 4);
  char buf[16];
  ASSERT_EQ(::recv(rxFast.get(), buf, sizeof buf, 0), 4);
  const auto fastAt = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(::recv(rxSlow.get(), buf, sizeof buf, 0), 4);
  const auto slowAt = std::chrono::steady_clock::now() - start;
  EXPECT_LT(fastAt, 1000ms) << "the fast flow waited for the slow one";
  EXPECT_GE(slowAt, 1400ms);
}

}  // namespace
}  // namespace xfp::test

namespace xfp::test {
namespace {

// Pend bounds: with room for two pended indications, the third and fourth new flows' pends are
// refused (STATUS_QUOTA_EXCEEDED) and their packets blocked; the two held ones are blocked when
// their time runs out. Nothing stays held.
std::atomic<int> gRefused{0};

void pendAndForget(const FWPS_INCOMING_VALUES0*,
                   const FWPS_INCOMING_METADATA_VALUES0*,
                   void*,
                   const void* classifyContext,
                   const FWPS_FILTER1* filter,
                   UINT64,
                   FWPS_CLASSIFY_OUT0* out) {
  UINT64 h = 0;
  out->actionType = FWP_ACTION_BLOCK;
  out->rights &= ~FWPS_RIGHT_ACTION_WRITE;
  if (FwpsAcquireClassifyHandle0(const_cast<void*>(classifyContext), 0, &h) != STATUS_SUCCESS) {
    return;
  }
  if (FwpsPendClassify0(h, filter->filterId, 0, out) == STATUS_QUOTA_EXCEEDED) {
    gRefused++;
  }
  FwpsReleaseClassifyHandle0(h);  // the pend keeps its own reference
}

TEST_F(CalloutRuntimeTraffic, PendsAreBoundedInCountAndTime) {
  callout::RuntimeOptions options;
  options.maxPended = 2;
  options.pendTimeout = 1500ms;
  ASSERT_EQ(
      env_.setUp(policyWithCallout("ALE_AUTH_RECV_ACCEPT_V4", 7501, "IP_LOCAL_PORT"), options), "");
  FWPS_CALLOUT1 c{};
  c.calloutKey = kInspectKey;
  c.classifyFn = pendAndForget;
  ASSERT_EQ(FwpsCalloutRegister1(nullptr, &c, &registered_), STATUS_SUCCESS);
  gRefused = 0;
  int delivered = 0;
  for (int i = 0; i < 4; ++i) {  // four new flows
    delivered += static_cast<int>(env_.udpToA(7501, {"flow"}, 100ms).size());
  }
  EXPECT_EQ(delivered, 0);
  EXPECT_EQ(gRefused.load(), 2);
  EXPECT_EQ(env_.runtime().stats().pendRefused.load(), 2u);
  EXPECT_EQ(env_.runtime().pendedNow(), 2u);
  std::this_thread::sleep_for(2000ms);
  EXPECT_EQ(env_.runtime().pendedNow(), 0u);
  EXPECT_EQ(env_.runtime().stats().pendTimedOut.load(), 2u);
}

}  // namespace
}  // namespace xfp::test

namespace xfp::test {
namespace {

// IPv6: the same per-packet decisions at INBOUND_TRANSPORT_V6 and OUTBOUND_TRANSPORT_V6 (v6
// incoming values, the IPv6 ALE/flow keys, checksums completed over the IPv6 pseudo-header).
void payloadClassify6(const FWPS_INCOMING_VALUES0* in,
                      const FWPS_INCOMING_METADATA_VALUES0*,
                      void* layerData,
                      const void*,
                      const FWPS_FILTER1*,
                      UINT64,
                      FWPS_CLASSIFY_OUT0* out) {
  gClassified++;
  NET_BUFFER* nb = NET_BUFFER_LIST_FIRST_NB(static_cast<NET_BUFFER_LIST*>(layerData));
  const ULONG len = NET_BUFFER_DATA_LENGTH(nb);
  const auto* data = static_cast<const char*>(NdisGetDataBuffer(nb, len, nullptr, 1, 0));
  const ULONG skip = in->layerId == FWPS_LAYER_OUTBOUND_TRANSPORT_V6 ? 8 : 0;
  const FWP_VALUE0& remote =
      in->incomingValue[in->layerId == FWPS_LAYER_OUTBOUND_TRANSPORT_V6
                            ? static_cast<int>(FWPS_FIELD_OUTBOUND_TRANSPORT_V6_IP_REMOTE_ADDRESS)
                            : static_cast<int>(FWPS_FIELD_INBOUND_TRANSPORT_V6_IP_REMOTE_ADDRESS)]
          .value;
  const bool v6 =
      remote.type == FWP_BYTE_ARRAY16_TYPE && remote.byteArray16->byteArray16[0] == 0xfd;
  const bool ok =
      v6 && data != nullptr && len >= skip + 2 && std::memcmp(data + skip, "ok", 2) == 0;
  out->actionType = ok ? FWP_ACTION_PERMIT : FWP_ACTION_BLOCK;
}

// {9a1f4d2e-0b6c-4f43-9d7e-5c2a8e1b7f02}: a callout applies to one layer.
constexpr GUID kOut6Key = {
    0x9a1f4d2e, 0x0b6c, 0x4f43, {0x9d, 0x7e, 0x5c, 0x2a, 0x8e, 0x1b, 0x7f, 0x02}};
constexpr const char* kOut6Text = "9a1f4d2e-0b6c-4f43-9d7e-5c2a8e1b7f02";

TEST_F(CalloutRuntimeTraffic, Ipv6BothWays) {
  const std::string json = std::string(R"({"xfp_policy": 1,
    "callouts": [{"key": ")") +
                           kInspectText +
                           R"(", "name": "inspect6", "layer": "INBOUND_TRANSPORT_V6"},
                 {"key": ")" +
                           kOut6Text + R"(", "name": "out6", "layer": "OUTBOUND_TRANSPORT_V6"}],
    "filters": [{"name": "in6", "layer": "INBOUND_TRANSPORT_V6", "action": "callout_terminating",
                 "callout": ")" +
                           kInspectText + R"(",
                 "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
                                {"field": "IP_LOCAL_PORT", "value": 7701}]},
                {"name": "out6", "layer": "OUTBOUND_TRANSPORT_V6", "action": "callout_terminating",
                 "callout": ")" +
                           kOut6Text + R"(",
                 "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
                                {"field": "IP_REMOTE_PORT", "value": 7702}]}]})";
  ASSERT_EQ(env_.setUp(json), "");
  FWPS_CALLOUT1 c{};
  c.calloutKey = kInspectKey;
  c.classifyFn = payloadClassify6;
  ASSERT_EQ(FwpsCalloutRegister1(nullptr, &c, &registered_), STATUS_SUCCESS);
  FWPS_CALLOUT1 c6 = c;
  c6.calloutKey = kOut6Key;
  UINT32 out6 = 0;
  ASSERT_EQ(FwpsCalloutRegister1(nullptr, &c6, &out6), STATUS_SUCCESS);
  gClassified = 0;
  EXPECT_EQ(env_.udp6ToA(7701, {"ok-in", "no-in"}), (std::vector<std::string>{"ok-in"}));
  EXPECT_EQ(env_.udp6ToB(7702, {"no-out", "ok-out"}), (std::vector<std::string>{"ok-out"}));
  EXPECT_EQ(gClassified.load(), 4);
  EXPECT_EQ(FwpsCalloutUnregisterById0(out6), STATUS_SUCCESS);
}

}  // namespace
}  // namespace xfp::test

namespace xfp::test {
namespace {

// The runtime's flow table is bounded: new flows beyond maxFlows end the least recently seen.
TEST_F(CalloutRuntimeTraffic, FlowTableIsBounded) {
  callout::RuntimeOptions options;
  options.maxFlows = 4;
  ASSERT_EQ(env_.setUp(policyWithCallout("INBOUND_TRANSPORT_V4", 7801, "IP_LOCAL_PORT"), options),
            "");
  registerInspect();
  int delivered = 0;
  for (int i = 0; i < 8; ++i) {  // eight flows: a new sending socket each time
    delivered += static_cast<int>(env_.udpToA(7801, {"ok-" + std::to_string(i)}, 300ms).size());
  }
  EXPECT_EQ(delivered, 8);
  EXPECT_EQ(env_.runtime().stats().flowsEvicted.load(), 4u);
}

}  // namespace
}  // namespace xfp::test
