// Integration: callout plugins (.so, examples/plugins and a test-only one) loaded into the callout
// runtime the way xfpd will load them (PluginHost::load -> DriverEntry), on real traffic between
// two namespaces. Filters of the policy name the plugins' callout keys. One test per behaviour:
// pend/complete in both styles (permit and block), UDP absorb + reinject, flow contexts and
// flowDeleteFn, unregister refused while a flow context remains, a classifyFn that throws, and a
// pend that is never completed.
#include <dlfcn.h>
#include <fwpsk.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "examples/plugins/xfp_examples.h"
#include "tests/harness/callout_env.h"
#include "tests/harness/sockets.h"
#include "tests/harness/test_env.h"

namespace xfp::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kConnectGuardKey = "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e01";
constexpr const char* kUdpRewriterKey = "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e02";
constexpr const char* kFlowBytesOutKey = "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e03";
constexpr const char* kFlowBytesInKey = "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e04";
constexpr const char* kMisbehavingKey = "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e05";

// A reference to a plugin the runtime loaded (RTLD_NOLOAD: never loads it itself), to read its
// diagnostic exports. It keeps the object mapped after the host unloads it, so a test can read
// what DriverUnload and the last flowDeleteFn calls recorded.
class LoadedPlugin {
 public:
  explicit LoadedPlugin(const char* path) : handle_(dlopen(path, RTLD_NOW | RTLD_NOLOAD)) {}
  ~LoadedPlugin() {
    if (handle_ != nullptr) {
      dlclose(handle_);
    }
  }
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;
  [[nodiscard]] bool ok() const { return handle_ != nullptr; }
  template <class Fn>
  Fn* symbol(const char* name) const {
    return reinterpret_cast<Fn*>(dlsym(handle_, name));
  }

 private:
  void* handle_;
};

// Polls `done` every 20 ms until it holds or `limit` passes.
template <class Pred>
bool waitFor(Pred done, std::chrono::milliseconds limit) {
  const auto end = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= end) {
      return false;
    }
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

struct CalloutSpec {
  std::string key;
  std::string name;
  std::string layer;
};
struct FilterSpec {
  std::string name;
  std::string layer;
  std::string action;
  std::string callout;
  std::string conditions;  // JSON list
};

std::string policy(const std::vector<CalloutSpec>& callouts,
                   const std::vector<FilterSpec>& filters) {
  std::string s = R"({"xfp_policy": 1, "callouts": [)";
  for (size_t i = 0; i < callouts.size(); ++i) {
    s += (i != 0 ? "," : "") + std::string(R"({"key": ")") + callouts[i].key + R"(", "name": ")" +
         callouts[i].name + R"(", "layer": ")" + callouts[i].layer + R"("})";
  }
  s += R"(], "filters": [)";
  for (size_t i = 0; i < filters.size(); ++i) {
    s += (i != 0 ? "," : "") + std::string(R"({"name": ")") + filters[i].name + R"(", "layer": ")" +
         filters[i].layer + R"(", "action": ")" + filters[i].action + R"(", "callout": ")" +
         filters[i].callout + R"(", "conditions": )" + filters[i].conditions + "}";
  }
  return s + "]}";
}

// The connect guard at ALE_AUTH_CONNECT_V4 for TCP connects to ports 7200-7299.
std::string connectGuardPolicy() {
  return policy({{kConnectGuardKey, "connect guard", "ALE_AUTH_CONNECT_V4"}},
                {{"guard connects",
                  "ALE_AUTH_CONNECT_V4",
                  "callout_terminating",
                  "connect guard",
                  R"([{"field": "IP_PROTOCOL", "value": "tcp"},
                      {"field": "IP_REMOTE_PORT", "value": [7200, 7299]}])"}});
}

std::string flowBytesPolicy(uint16_t port) {
  const std::string cond = R"([{"field": "IP_PROTOCOL", "value": "tcp"},
                               {"field": "IP_REMOTE_PORT", "value": )" +
                           std::to_string(port) + "}]";
  return policy({{kFlowBytesOutKey, "bytes out", "OUTBOUND_TRANSPORT_V4"},
                 {kFlowBytesInKey, "bytes in", "INBOUND_TRANSPORT_V4"}},
                {{"count out", "OUTBOUND_TRANSPORT_V4", "callout_inspection", "bytes out", cond},
                 {"count in", "INBOUND_TRANSPORT_V4", "callout_inspection", "bytes in", cond}});
}

std::string udpCondition(uint16_t localPort) {
  return R"([{"field": "IP_PROTOCOL", "value": "udp"}, {"field": "IP_LOCAL_PORT", "value": )" +
         std::to_string(localPort) + "}]";
}

XfpConnectGuardCounters guardCounters(const LoadedPlugin& p) {
  XfpConnectGuardCounters c{};
  auto* fn = p.symbol<XFP_CONNECT_GUARD_STATS_FN>(XFP_CONNECT_GUARD_STATS_SYMBOL);
  if (fn != nullptr) {
    fn(&c);
  }
  return c;
}

XfpUdpRewriterCounters rewriterCounters(const LoadedPlugin& p) {
  XfpUdpRewriterCounters c{};
  auto* fn = p.symbol<XFP_UDP_REWRITER_STATS_FN>(XFP_UDP_REWRITER_STATS_SYMBOL);
  if (fn != nullptr) {
    fn(&c);
  }
  return c;
}

struct FlowBytesState {
  XfpFlowBytesReport report{};
  std::vector<XfpFlowBytesDelete> deletes;
  std::vector<XfpFlowBytesTotal> totals;
};

FlowBytesState flowBytes(const LoadedPlugin& p) {
  FlowBytesState s;
  s.deletes.resize(64);
  s.totals.resize(64);
  auto* fn = p.symbol<XFP_FLOW_BYTES_REPORT_FN>(XFP_FLOW_BYTES_REPORT_SYMBOL);
  if (fn != nullptr) {
    fn(&s.report, s.deletes.data(), 64, s.totals.data(), 64);
  }
  s.deletes.resize(s.report.deletes);
  s.totals.resize(s.report.totals);
  return s;
}

// A TCP connection A -> B through the runtime: the accepted socket in B and the client in A.
struct Connection {
  CalloutEnv::TcpAttempt attempt;
  dataplane::UniqueFd server;
};

bool sendAll(int fd, size_t n, char fill) {
  const std::string data(n, fill);
  size_t sent = 0;
  while (sent < n) {
    const ssize_t k = ::send(fd, data.data() + sent, n - sent, MSG_NOSIGNAL);
    if (k <= 0) {
      return false;
    }
    sent += static_cast<size_t>(k);
  }
  return true;
}

// Reads exactly n bytes (sockets are non-blocking: poll with a bound).
bool recvAll(int fd, size_t n) {
  std::vector<char> buf(n);
  size_t got = 0;
  const auto end = Clock::now() + 3s;
  while (got < n && Clock::now() < end) {
    const ssize_t k = ::recv(fd, buf.data() + got, n - got, 0);
    if (k > 0) {
      got += static_cast<size_t>(k);
    } else if (k == 0) {
      return false;
    } else {
      std::this_thread::sleep_for(5ms);
    }
  }
  return got == n;
}

// True once fd reads end-of-stream (within 3 s).
bool readsEof(int fd) {
  char c;
  const auto end = Clock::now() + 3s;
  while (Clock::now() < end) {
    const ssize_t k = ::recv(fd, &c, 1, 0);
    if (k == 0) {
      return true;
    }
    if (k > 0) {
      return false;
    }
    std::this_thread::sleep_for(5ms);
  }
  return false;
}

class PluginTraffic : public ::testing::Test {
 protected:
  void SetUp() override { XFP_REQUIRE_ROOT(); }
  void TearDown() override { env_.tearDown(); }

  void load(const char* path, const std::string& parameters = {}) {
    auto r = env_.runtime().plugins().load(path, parameters);
    ASSERT_TRUE(r) << r.error().message;
  }

  // Opens a connection A -> B:port and accepts it in B.
  Connection connect(uint16_t port) {
    Connection c{env_.tcpFromA(port), {}};
    EXPECT_TRUE(c.attempt.connected(3s));
    EXPECT_TRUE(c.attempt.accepted(2s));
    c.server.reset(::accept4(c.attempt.listener.get(), nullptr, nullptr, SOCK_NONBLOCK));
    EXPECT_TRUE(c.server) << std::strerror(errno);
    return c;
  }

  // Closes a connection in order (A's FIN, B's FIN, A's last ACK): the flow ends.
  static void closeInOrder(Connection& c) {
    ::shutdown(c.attempt.client.get(), SHUT_WR);
    EXPECT_TRUE(readsEof(c.server.get()));
    c.server.reset();
    EXPECT_TRUE(readsEof(c.attempt.client.get()));
    c.attempt.client.reset();
  }

  // The connect guard: a connect to `port` under `parameters` is held for the plugin's delay,
  // then succeeds (permit) or never does (block).
  void guardedConnect(const std::string& parameters, uint16_t port, bool permit, bool operation) {
    ASSERT_EQ(env_.setUp(connectGuardPolicy()), "");
    load(XFP_CONNECT_GUARD_SO, parameters);
    LoadedPlugin plugin(XFP_CONNECT_GUARD_SO);
    ASSERT_TRUE(plugin.ok());
    const auto start = Clock::now();
    auto t = env_.tcpFromA(port);
    // Pended: the SYN is held, B sees nothing before the plugin completes (delay 600 ms).
    EXPECT_FALSE(t.accepted(250ms));
    EXPECT_LT(Clock::now() - start, 600ms) << "the check above ran too late to mean anything";
    EXPECT_TRUE(waitFor([&] { return guardCounters(plugin).pended == 1; }, 1s));
    if (permit) {
      EXPECT_TRUE(t.connected(3s));
      EXPECT_GE(Clock::now() - start, 600ms) << "connected before the plugin completed";
      EXPECT_TRUE(t.accepted(1s));
    } else {
      EXPECT_FALSE(t.connected(2500ms));
      EXPECT_FALSE(t.accepted(0ms));
    }
    const unsigned reauthorized = operation ? 1 : 0;
    EXPECT_TRUE(waitFor(
        [&] {
          const XfpConnectGuardCounters c = guardCounters(plugin);
          return c.completed == 1 && c.reauthorized == reauthorized;
        },
        1s));
    const XfpConnectGuardCounters c = guardCounters(plugin);
    EXPECT_EQ(c.pended, 1u);
    EXPECT_EQ(c.completed, 1u);
    EXPECT_EQ(c.reauthorized, reauthorized);
    EXPECT_EQ(env_.runtime().pendedNow(), 0u);
    EXPECT_EQ(env_.runtime().stats().pendTimedOut.load(), 0u);
  }

  // A pend the plugin never completes: the runtime times it out as BLOCK.
  void neverCompleted(const std::string& style) {
    callout::RuntimeOptions options;
    options.pendTimeout = 500ms;
    ASSERT_EQ(env_.setUp(connectGuardPolicy(), options), "");
    load(XFP_CONNECT_GUARD_SO, "style=" + style + ";allow=7250;delay_ms=never");
    LoadedPlugin plugin(XFP_CONNECT_GUARD_SO);
    ASSERT_TRUE(plugin.ok());
    auto t = env_.tcpFromA(7250);  // an allowed port: only the time-out can block it
    EXPECT_TRUE(waitFor([&] { return guardCounters(plugin).pended == 1; }, 1s));
    EXPECT_TRUE(waitFor([&] { return env_.runtime().stats().pendTimedOut.load() == 1; }, 3s));
    EXPECT_EQ(env_.runtime().pendedNow(), 0u);
    // Blocked for good: SYN retransmissions (1 s) do not get through either.
    EXPECT_FALSE(t.connected(1500ms));
    EXPECT_FALSE(t.accepted(0ms));
    EXPECT_EQ(guardCounters(plugin).completed, 0u);
    EXPECT_EQ(guardCounters(plugin).pended, 1u);
    EXPECT_EQ(env_.runtime().pendedNow(), 0u);
  }

  CalloutEnv env_;
};

TEST_F(PluginTraffic, ClassifyHandlePendCompletesWithPermit) {
  guardedConnect("style=classify;allow=80,7201,443;delay_ms=600", 7201, true, false);
}

TEST_F(PluginTraffic, ClassifyHandlePendCompletesWithBlock) {
  guardedConnect("style=classify;allow=80,443;delay_ms=600", 7202, false, false);
}

TEST_F(PluginTraffic, PendOperationCompletesWithPermitAfterReauthorization) {
  guardedConnect("style=operation;allow=7203;delay_ms=600", 7203, true, true);
}

TEST_F(PluginTraffic, PendOperationCompletesWithBlockAfterReauthorization) {
  guardedConnect("style=operation;allow=80;delay_ms=600", 7204, false, true);
}

TEST_F(PluginTraffic, NeverCompletedClassifyPendTimesOutAsBlock) {
  neverCompleted("classify");
}

TEST_F(PluginTraffic, NeverCompletedOperationPendTimesOutAsBlock) {
  neverCompleted("operation");
}

TEST_F(PluginTraffic, UdpRewriterInjectsModifiedCopyClassifiedOnce) {
  ASSERT_EQ(env_.setUp(policy({{kUdpRewriterKey, "udp rewriter", "INBOUND_TRANSPORT_V4"}},
                              {{"rewrite 7300",
                                "INBOUND_TRANSPORT_V4",
                                "callout_terminating",
                                "udp rewriter",
                                udpCondition(7300)}})),
            "");
  load(XFP_UDP_REWRITER_SO);
  LoadedPlugin plugin(XFP_UDP_REWRITER_SO);
  ASSERT_TRUE(plugin.ok());
  const std::vector<std::string> sent = {"hello one", "Mixed Case 2", "third-3!"};
  auto got = env_.udpToA(7300, sent);
  EXPECT_EQ(got, (std::vector<std::string>{"HELLO ONE", "MIXED CASE 2", "THIRD-3!"}));
  EXPECT_TRUE(waitFor(
      [&] {
        return rewriterCounters(plugin).completed == sent.size() &&
               env_.runtime().stats().absorbed.load() == sent.size();
      },
      2s));
  const XfpUdpRewriterCounters c = rewriterCounters(plugin);
  EXPECT_EQ(c.classified, sent.size()) << "injected copies must not be classified again";
  EXPECT_EQ(c.injected, sent.size());
  EXPECT_EQ(c.seenOwn, 0u);
  EXPECT_EQ(env_.runtime().stats().injected.load(), sent.size());
  EXPECT_EQ(env_.runtime().stats().absorbed.load(), sent.size());
  // Another port is not the callout's: delivered unmodified by the fast path.
  EXPECT_EQ(env_.udpToA(7301, {"lower"}), (std::vector<std::string>{"lower"}));
  EXPECT_EQ(rewriterCounters(plugin).classified, sent.size());
}

TEST_F(PluginTraffic, FlowDeleteRunsOncePerFlowWithByteTotals) {
  ASSERT_EQ(env_.setUp(flowBytesPolicy(7400)), "");
  load(XFP_FLOW_BYTES_SO);
  LoadedPlugin plugin(XFP_FLOW_BYTES_SO);
  ASSERT_TRUE(plugin.ok());
  Connection c = connect(7400);
  ASSERT_TRUE(c.server);
  ASSERT_TRUE(sendAll(c.attempt.client.get(), 1000, 'a'));
  ASSERT_TRUE(recvAll(c.server.get(), 1000));
  ASSERT_TRUE(sendAll(c.server.get(), 300, 'b'));
  ASSERT_TRUE(recvAll(c.attempt.client.get(), 300));
  EXPECT_EQ(flowBytes(plugin).report.liveFlows, 1u);
  EXPECT_EQ(env_.runtime().flowsWithContexts(), 1u);
  closeInOrder(c);
  ASSERT_TRUE(waitFor([&] { return flowBytes(plugin).totals.size() == 1; }, 3s));
  FlowBytesState s = flowBytes(plugin);
  ASSERT_EQ(s.deletes.size(), 2u);  // one per associated context: each layer once
  EXPECT_EQ(s.deletes[0].flowId, s.totals[0].flowId);
  EXPECT_EQ(s.deletes[1].flowId, s.totals[0].flowId);
  EXPECT_NE(s.deletes[0].layerId, s.deletes[1].layerId);
  for (const auto& d : s.deletes) {
    EXPECT_TRUE(d.layerId == FWPS_LAYER_OUTBOUND_TRANSPORT_V4
                    ? d.calloutId == s.report.calloutIdOut
                    : d.calloutId == s.report.calloutIdIn);
  }
  EXPECT_EQ(s.totals[0].bytesOut, 1000u);
  EXPECT_EQ(s.totals[0].bytesIn, 300u);
  EXPECT_GE(s.totals[0].packetsOut, 3u);  // SYN, data, FIN, ACKs
  EXPECT_GE(s.totals[0].packetsIn, 3u);
  EXPECT_EQ(s.report.liveFlows, 0u);
  EXPECT_EQ(env_.runtime().flowsWithContexts(), 0u);
  // Nothing more at shutdown (DriverUnload, runtime stop): the flow's deletes were its only ones.
  env_.tearDown();
  s = flowBytes(plugin);
  EXPECT_EQ(s.deletes.size(), 2u);
  EXPECT_EQ(s.totals.size(), 1u);
}

TEST_F(PluginTraffic, UnregisterIsBusyWhileAFlowContextRemains) {
  ASSERT_EQ(env_.setUp(flowBytesPolicy(7410)), "");
  load(XFP_FLOW_BYTES_SO);
  LoadedPlugin plugin(XFP_FLOW_BYTES_SO);
  ASSERT_TRUE(plugin.ok());
  const UINT32 outId = flowBytes(plugin).report.calloutIdOut;
  ASSERT_NE(outId, 0u);
  Connection c = connect(7410);
  ASSERT_TRUE(c.server);
  ASSERT_TRUE(sendAll(c.attempt.client.get(), 10, 'x'));
  ASSERT_TRUE(recvAll(c.server.get(), 10));
  ASSERT_EQ(flowBytes(plugin).report.liveFlows, 1u);
  EXPECT_EQ(FwpsCalloutUnregisterById0(outId), STATUS_DEVICE_BUSY);
  // Still registered and still counting.
  ASSERT_TRUE(sendAll(c.attempt.client.get(), 5, 'y'));
  ASSERT_TRUE(recvAll(c.server.get(), 5));
  closeInOrder(c);
  ASSERT_TRUE(waitFor([&] { return flowBytes(plugin).totals.size() == 1; }, 3s));
  EXPECT_EQ(flowBytes(plugin).totals[0].bytesOut, 15u);
  EXPECT_EQ(FwpsCalloutUnregisterById0(outId), STATUS_SUCCESS);
  EXPECT_EQ(FwpsCalloutUnregisterById0(outId), STATUS_FWP_CALLOUT_NOT_FOUND);
}

TEST_F(PluginTraffic, ThrowingClassifyBlocksItsPacketsAndOthersKeepWorking) {
  ASSERT_EQ(env_.setUp(policy({{kMisbehavingKey, "thrower", "INBOUND_TRANSPORT_V4"},
                               {kUdpRewriterKey, "udp rewriter", "INBOUND_TRANSPORT_V4"}},
                              {{"to thrower",
                                "INBOUND_TRANSPORT_V4",
                                "callout_terminating",
                                "thrower",
                                udpCondition(7500)},
                               {"rewrite 7501",
                                "INBOUND_TRANSPORT_V4",
                                "callout_terminating",
                                "udp rewriter",
                                udpCondition(7501)}})),
            "");
  load(XFP_MISBEHAVING_PLUGIN_SO);
  load(XFP_UDP_REWRITER_SO);
  const uint64_t faultsBefore = env_.runtime().stats().pluginFaults.load();
  EXPECT_TRUE(env_.udpToA(7500, {"one", "two"}).empty()) << "a throwing classifyFn must block";
  EXPECT_EQ(env_.runtime().stats().pluginFaults.load(), faultsBefore + 2);
  // The runtime keeps serving the other plugin, and the thrower again afterwards.
  EXPECT_EQ(env_.udpToA(7501, {"still served"}), (std::vector<std::string>{"STILL SERVED"}));
  EXPECT_TRUE(env_.udpToA(7500, {"three"}).empty());
  EXPECT_EQ(env_.runtime().stats().pluginFaults.load(), faultsBefore + 3);
  EXPECT_EQ(env_.udpToA(7501, {"and again"}), (std::vector<std::string>{"AND AGAIN"}));
  // Both unload cleanly.
  EXPECT_TRUE(env_.runtime().plugins().unload("xfp_test_misbehaving_plugin"));
  EXPECT_TRUE(env_.runtime().plugins().unload("xfp_udp_rewriter"));
}

TEST_F(PluginTraffic, ForcedUnregisterCallsFlowDeleteForEveryContextLeftBehind) {
  ASSERT_EQ(env_.setUp(policy({{kMisbehavingKey, "leaker", "INBOUND_TRANSPORT_V4"}},
                              {{"to leaker",
                                "INBOUND_TRANSPORT_V4",
                                "callout_terminating",
                                "leaker",
                                udpCondition(7510)}})),
            "");
  load(XFP_MISBEHAVING_PLUGIN_SO, "mode=leak");
  LoadedPlugin plugin(XFP_MISBEHAVING_PLUGIN_SO);
  ASSERT_TRUE(plugin.ok());
  auto* counts = plugin.symbol<void(UINT64*, UINT64*)>("XfpTestMisbehavingCounts");
  ASSERT_NE(counts, nullptr);
  // Two flows (each exchange sends from a new socket, so from a new port).
  EXPECT_EQ(env_.udpToA(7510, {"first"}).size(), 1u);
  EXPECT_EQ(env_.udpToA(7510, {"second"}).size(), 1u);
  UINT64 associated = 0;
  UINT64 deleted = 0;
  counts(&associated, &deleted);
  EXPECT_EQ(associated, 2u);
  EXPECT_EQ(deleted, 0u);
  // Its DriverUnload leaves the callout registered: the host refuses to unload it.
  EXPECT_FALSE(env_.runtime().plugins().unload("xfp_test_misbehaving_plugin"));
  // At shutdown the host unregisters it by force, after flowDeleteFn for each context.
  env_.tearDown();
  counts(&associated, &deleted);
  EXPECT_EQ(deleted, 2u);
}

}  // namespace
}  // namespace xfp::test
