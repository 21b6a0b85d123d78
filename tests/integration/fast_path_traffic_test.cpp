// Integration: the fast path (FastPath: xfp_xdp_in on veth end A for the inbound layers, xfp_tc_out
// on A's egress for the outbound layers) enforcing compiled policies on real traffic between two
// namespaces: UDP/TCP/ICMP blocks and permits at the transport and IP-packet layers (v4 and v6),
// WFP sublayer arbitration (hard vs soft permit), per-filter counters across recompiles, and
// policy swaps under continuous traffic (no packet decided by a mix of two generations).
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <gtest/gtest.h>

#include "compiler/compiler.h"
#include "tests/harness/netns.h"
#include "tests/harness/sockets.h"
#include "tests/harness/test_env.h"
#include "userspace/core/policy.h"
#include "userspace/core/policy_file.h"
#include "userspace/dataplane/fast_path.h"
#include "userspace/dataplane/unique_fd.h"
#include "xfp/abi.h"

namespace xfp::dataplane {
namespace {

using test::VethNamespaces;
using Clock = std::chrono::steady_clock;

constexpr int kPayload = 32;
// Ethernet + IPv4 + UDP headers: the bytes a filter counter adds per datagram of kPayload bytes.
constexpr uint64_t kUdp4Frame = 14 + 20 + 8 + kPayload;
// How long to wait for a datagram that must not arrive (veth delivery takes microseconds).
constexpr std::chrono::milliseconds kBlockedWait{200};

// A socket address for "addr:port", v4 or v6.
using test::Endpoint;
using test::endpoint;

using test::setTimeouts;

UniqueFd socketIn(const std::string& ns, int family, int type) {
  return test::socketIn(ns, family, type, std::chrono::seconds(2));
}

// A UDP socket in ns bound to addr:port (invalid, with a test failure, if that fails).
UniqueFd udpBound(const std::string& ns, const char* addr, uint16_t port) {
  const Endpoint at = endpoint(addr, port);
  UniqueFd fd = socketIn(ns, at.family, SOCK_DGRAM);
  const int one = 1;
  if (fd) {
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  if (!fd || ::bind(fd.get(), at.sa(), at.len) != 0) {
    ADD_FAILURE() << "udp bind " << addr << ":" << port << ": " << std::strerror(errno);
    return UniqueFd();
  }
  return fd;
}

bool sendDatagram(int fd, const Endpoint& to) {
  char buf[kPayload] = "xfp fast path probe";
  return ::sendto(fd, buf, kPayload, 0, to.sa(), to.len) == kPayload;
}

// Receives datagrams until none arrives within `quiet` (at most `limit` of them).
int drain(int fd, std::chrono::milliseconds quiet, int limit = 100000) {
  setTimeouts(fd, quiet);
  char buf[256];
  int n = 0;
  while (n<limit&& ::recv(fd, buf, sizeof buf, 0)> 0) {
    ++n;
  }
  return n;
}

// Sends `count` datagrams from namespace B to addr:port, each awaited (up to `wait`) by a receiver
// bound in A; returns how many arrived. Bounded: count * wait.
int udpDelivered(const VethNamespaces& ns,
                 const char* addr,
                 uint16_t port,
                 int count,
                 std::chrono::milliseconds wait = std::chrono::milliseconds(1000)) {
  const Endpoint to = endpoint(addr, port);
  UniqueFd rx = udpBound(ns.nsA(), addr, port);
  UniqueFd tx = socketIn(ns.nsB(), to.family, SOCK_DGRAM);
  if (!rx || !tx) {
    return -1;
  }
  setTimeouts(rx.get(), wait);
  int received = 0;
  char buf[256];
  for (int i = 0; i < count; ++i) {
    if (!sendDatagram(tx.get(), to)) {
      ADD_FAILURE() << "sendto: " << std::strerror(errno);
      break;
    }
    if (::recv(rx.get(), buf, sizeof buf, 0) == kPayload) {
      ++received;
    }
  }
  // Anything that arrived late still counts (a block must show zero either way).
  return received + drain(rx.get(), std::chrono::milliseconds(100));
}

// A TCP connection from namespace `from` to `to`'s addr:port that carries 5 bytes within
// `timeout`; false if the handshake or the data does not get through.
bool tcpConnects(const std::string& from,
                 const std::string& to,
                 const char* addr,
                 uint16_t port,
                 std::chrono::milliseconds timeout) {
  const Endpoint at = endpoint(addr, port);
  UniqueFd listener = socketIn(to, at.family, SOCK_STREAM);
  UniqueFd client = socketIn(from, at.family, SOCK_STREAM | SOCK_NONBLOCK);
  const int one = 1;
  if (!listener || !client) {
    return false;
  }
  setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listener.get(), at.sa(), at.len) != 0 || ::listen(listener.get(), 4) != 0) {
    ADD_FAILURE() << "tcp bind/listen: " << std::strerror(errno);
    return false;
  }
  if (::connect(client.get(), at.sa(), at.len) != 0 && errno != EINPROGRESS) {
    return false;
  }
  pollfd p{client.get(), POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
    return false;  // no SYN-ACK within the timeout
  }
  int soError = 0;
  socklen_t len = sizeof soError;
  if (getsockopt(client.get(), SOL_SOCKET, SO_ERROR, &soError, &len) != 0 || soError != 0) {
    return false;
  }
  pollfd l{listener.get(), POLLIN, 0};
  if (::poll(&l, 1, static_cast<int>(timeout.count())) != 1) {
    return false;
  }
  UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!server || ::send(client.get(), "hello", 5, MSG_NOSIGNAL) != 5) {
    return false;
  }
  setTimeouts(server.get(), timeout);
  char buf[8] = {};
  std::size_t got = 0;
  for (int i = 0; i < 5 && got < 5; ++i) {  // bounded: at most 5 reads of <= timeout each
    const ssize_t n = ::recv(server.get(), buf + got, 5 - got, 0);
    if (n <= 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  return got == 5 && std::memcmp(buf, "hello", 5) == 0;
}

// iputils ping from namespace ns; true when at least one echo reply came back.
bool pings(const std::string& ns, const char* addr, int count) {
  const bool v6 = std::strchr(addr, ':') != nullptr;
  return VethNamespaces::run("ip netns exec " + ns + " ping " + (v6 ? "-6 " : "-4 ") + "-q -c " +
                                 std::to_string(count) + " -i 0.2 -W 1 " + addr + " >/dev/null",
                             20) == 0;
}

// A parsed and compiled policy.
struct Built {
  Policy policy;
  compiler::CompiledPolicy compiled;

  // filterId of the filter named `name` (0 if none).
  [[nodiscard]] uint64_t id(std::string_view name) const {
    for (const auto& [filterId, filter] : policy.filters()) {
      if (filter.displayData.name && *filter.displayData.name == name) {
        return filterId;
      }
    }
    return 0;
  }
};

std::optional<Built> build(const std::string& json) {
  auto policy = parsePolicy(json, "test policy");
  EXPECT_TRUE(policy) << (policy ? "" : policy.error().message);
  if (!policy) {
    return std::nullopt;
  }
  auto compiled = compiler::compile(*policy);
  EXPECT_TRUE(compiled) << (compiled ? "" : compiled.error().message);
  if (!compiled) {
    return std::nullopt;
  }
  return Built{std::move(*policy), std::move(*compiled)};
}

std::string policyJson(const std::string& filters, const std::string& sublayers = "") {
  std::string json = R"({"xfp_policy": 1, )";
  if (!sublayers.empty()) {
    json += R"("sublayers": [)" + sublayers + "], ";
  }
  return json + R"("filters": [)" + filters + "]}";
}

// A policy that matches none of the tests' traffic (UDP to port 1).
std::string neutralPolicy() {
  return policyJson(R"(
    {"name": "unrelated", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
     "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
                    {"field": "IP_LOCAL_PORT", "value": 1}]})");
}

class FastPathTraffic : public ::testing::Test {
 protected:
  void SetUp() override {
    XFP_REQUIRE_ROOT();
    ASSERT_EQ(ns_.setUp(), "");
    auto fp = FastPath::load();
    ASSERT_TRUE(fp) << fp.error().describe();
    fp_ = std::move(*fp);
    // Netlink talks to the calling thread's namespace: look up and attach inside A.
    std::string attachError;
    ASSERT_EQ(VethNamespaces::runIn(ns_.nsA(),
                                    [&] {
                                      const int ifindex =
                                          static_cast<int>(::if_nametoindex(ns_.linkA().c_str()));
                                      if (ifindex == 0) {
                                        attachError = "no " + ns_.linkA() + " in its namespace";
                                        return;
                                      }
                                      auto x = fp_->attachXdp(ifindex, XDP_FLAGS_DRV_MODE);
                                      auto t = x ? fp_->attachTc(ifindex) : BpfResult<void>{};
                                      if (!x) {
                                        attachError = x.error().describe();
                                      } else if (!t) {
                                        attachError = t.error().describe();
                                      }
                                    }),
              "");
    ASSERT_EQ(attachError, "");
  }

  void TearDown() override { detach(); }
  ~FastPathTraffic() override { detach(); }

  // Attachments are removed inside A (where they were made), before the namespaces go away.
  void detach() {
    if (fp_) {
      (void)VethNamespaces::runIn(ns_.nsA(), [&] { fp_->detachAll(); });
      fp_.reset();
    }
  }

  // Parses, compiles and commits a policy; nullopt (with a failure) if any step fails.
  std::optional<Built> commit(const std::string& json) {
    auto built = build(json);
    if (!built) {
      return std::nullopt;
    }
    auto stats = fp_->commit(built->compiled);
    EXPECT_TRUE(stats) << (stats ? "" : stats.error().describe());
    if (!stats) {
      return std::nullopt;
    }
    return built;
  }

  FilterCounters counters(uint64_t filterId) {
    auto c = fp_->counters(filterId);
    EXPECT_TRUE(c) << (c ? "" : c.error().describe());
    return c ? *c : FilterCounters{};
  }

  xfp_layer_stats layerStats(uint32_t slot) {
    auto s = fp_->layerStats(slot);
    EXPECT_TRUE(s) << (s ? "" : s.error().describe());
    return s ? *s : xfp_layer_stats{};
  }

  VethNamespaces ns_;
  std::unique_ptr<FastPath> fp_;
};

TEST_F(FastPathTraffic, InboundUdpBlockAndPermit) {
  constexpr uint16_t kBlocked = 9999;
  constexpr uint16_t kOpen = 9998;
  auto built = commit(policyJson(R"(
    {"name": "block udp 9999", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
     "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
                    {"field": "IP_LOCAL_PORT", "value": 9999}]})"));
  ASSERT_TRUE(built);
  const uint64_t blockId = built->id("block udp 9999");
  ASSERT_NE(blockId, 0U);

  UniqueFd rxBlocked = udpBound(ns_.nsA(), VethNamespaces::kAddr4A, kBlocked);
  UniqueFd rxOpen = udpBound(ns_.nsA(), VethNamespaces::kAddr4A, kOpen);
  UniqueFd tx = socketIn(ns_.nsB(), AF_INET, SOCK_DGRAM);
  ASSERT_TRUE(rxBlocked && rxOpen && tx);
  setTimeouts(rxOpen.get(), std::chrono::milliseconds(1000));
  const Endpoint toBlocked = endpoint(VethNamespaces::kAddr4A, kBlocked);
  const Endpoint toOpen = endpoint(VethNamespaces::kAddr4A, kOpen);

  constexpr int kCount = 20;
  int open = 0;
  char buf[256];
  for (int i = 0; i < kCount; ++i) {
    ASSERT_TRUE(sendDatagram(tx.get(), toBlocked)) << std::strerror(errno);
    ASSERT_TRUE(sendDatagram(tx.get(), toOpen)) << std::strerror(errno);
    // The open port's datagram was sent after the blocked one: once it is here, the other
    // would be too.
    if (::recv(rxOpen.get(), buf, sizeof buf, 0) == kPayload) {
      ++open;
    }
  }
  EXPECT_EQ(open, kCount);
  EXPECT_EQ(drain(rxBlocked.get(), std::chrono::milliseconds(300)), 0);

  const FilterCounters c = counters(blockId);
  EXPECT_EQ(c.packets, static_cast<uint64_t>(kCount));
  EXPECT_EQ(c.bytes, kCount * kUdp4Frame);
  const xfp_layer_stats tr = layerStats(XFP_LS_IN_TR4);
  EXPECT_EQ(tr.verdict[XFP_VERDICT_BLOCK], static_cast<uint64_t>(kCount));
  EXPECT_GE(tr.verdict[XFP_VERDICT_NO_MATCH], static_cast<uint64_t>(kCount));
  EXPECT_EQ(tr.verdict[XFP_VERDICT_PUNT], 0U);
}

TEST_F(FastPathTraffic, OutboundTcpAndIcmpBlock) {
  constexpr uint16_t kBlocked = 9101;
  constexpr uint16_t kOpen = 9102;
  const auto timeout = std::chrono::milliseconds(1500);
  // Without a policy both TCP ports and ping get through.
  ASSERT_TRUE(commit(neutralPolicy()));
  EXPECT_TRUE(pings(ns_.nsA(), VethNamespaces::kAddr4B, 2));
  EXPECT_TRUE(tcpConnects(ns_.nsA(), ns_.nsB(), VethNamespaces::kAddr4B, kBlocked, timeout));
  EXPECT_TRUE(tcpConnects(ns_.nsA(), ns_.nsB(), VethNamespaces::kAddr4B, kOpen, timeout));

  auto built = commit(policyJson(R"(
    {"name": "block tcp to 9101", "layer": "OUTBOUND_TRANSPORT_V4", "action": "block",
     "conditions": [{"field": "IP_PROTOCOL", "value": "tcp"},
                    {"field": "IP_REMOTE_PORT", "value": 9101}]},
    {"name": "block icmp", "layer": "OUTBOUND_TRANSPORT_V4", "action": "block",
     "conditions": [{"field": "IP_PROTOCOL", "value": "icmp"}]})"));
  ASSERT_TRUE(built);
  const uint64_t tcpId = built->id("block tcp to 9101");
  const uint64_t icmpId = built->id("block icmp");
  ASSERT_NE(tcpId, 0U);
  ASSERT_NE(icmpId, 0U);
  const xfp_layer_stats before = layerStats(XFP_LS_OUT_TR4);

  EXPECT_FALSE(tcpConnects(ns_.nsA(), ns_.nsB(), VethNamespaces::kAddr4B, kBlocked, timeout));
  EXPECT_TRUE(tcpConnects(ns_.nsA(), ns_.nsB(), VethNamespaces::kAddr4B, kOpen, timeout));
  EXPECT_FALSE(pings(ns_.nsA(), VethNamespaces::kAddr4B, 2));
  // B -> A is inbound on A: not touched by these outbound filters.
  EXPECT_TRUE(tcpConnects(ns_.nsB(), ns_.nsA(), VethNamespaces::kAddr4A, kBlocked, timeout));

  EXPECT_GE(counters(tcpId).packets, 1U);  // the SYN and its retransmissions
  // Two echo requests at least: ping retries a send that the dropping qdisc answered ENOBUFS.
  EXPECT_GE(counters(icmpId).packets, 2U);
  const xfp_layer_stats after = layerStats(XFP_LS_OUT_TR4);
  EXPECT_GE(after.verdict[XFP_VERDICT_BLOCK] - before.verdict[XFP_VERDICT_BLOCK], 3U);

  // And without the filters again, everything flows.
  ASSERT_TRUE(commit(neutralPolicy()));
  EXPECT_TRUE(pings(ns_.nsA(), VethNamespaces::kAddr4B, 2));
  EXPECT_TRUE(tcpConnects(ns_.nsA(), ns_.nsB(), VethNamespaces::kAddr4B, kBlocked, timeout));
}

TEST_F(FastPathTraffic, InboundIpv6PrefixBlock) {
  constexpr uint16_t kPort = 9200;
  constexpr int kCount = 5;
  ASSERT_TRUE(commit(neutralPolicy()));
  EXPECT_TRUE(pings(ns_.nsB(), VethNamespaces::kAddr6A, 2));
  EXPECT_EQ(udpDelivered(ns_, VethNamespaces::kAddr6A, kPort, kCount), kCount);

  auto built = commit(policyJson(R"(
    {"name": "block fd00:199::/64", "layer": "INBOUND_IPPACKET_V6", "action": "block",
     "conditions": [{"field": "IP_REMOTE_ADDRESS", "value": "fd00:199::/64"}]})"));
  ASSERT_TRUE(built);
  const uint64_t blockId = built->id("block fd00:199::/64");
  ASSERT_NE(blockId, 0U);
  EXPECT_FALSE(pings(ns_.nsB(), VethNamespaces::kAddr6A, 2));
  EXPECT_EQ(udpDelivered(ns_, VethNamespaces::kAddr6A, kPort, kCount, kBlockedWait), 0);
  // Echo requests, datagrams (and B's neighbour solicitations from its global address).
  EXPECT_GE(counters(blockId).packets, static_cast<uint64_t>(2 + kCount));
  EXPECT_GE(layerStats(XFP_LS_IN_IP6).verdict[XFP_VERDICT_BLOCK],
            static_cast<uint64_t>(2 + kCount));
  // IPv4 from the same peer is not affected.
  EXPECT_EQ(udpDelivered(ns_, VethNamespaces::kAddr4A, kPort, kCount), kCount);

  ASSERT_TRUE(commit(neutralPolicy()));
  EXPECT_TRUE(pings(ns_.nsB(), VethNamespaces::kAddr6A, 3));
  EXPECT_EQ(udpDelivered(ns_, VethNamespaces::kAddr6A, kPort, kCount), kCount);
}

TEST_F(FastPathTraffic, HardPermitInHighSublayerBeatsLowerBlockSoftPermitDoesNot) {
  constexpr uint16_t kPort = 9300;
  constexpr int kCount = 10;
  const std::string sublayers = R"(
    {"name": "high", "weight": 60000}, {"name": "low", "weight": 1000})";
  auto filters = [](const char* permitFlags) {
    return std::string(R"(
      {"name": "permit 9300", "layer": "INBOUND_TRANSPORT_V4", "sublayer": "high",
       "action": "permit", "flags": )") +
           permitFlags + R"(,
       "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
                      {"field": "IP_LOCAL_PORT", "value": 9300}]},
      {"name": "block 9300", "layer": "INBOUND_TRANSPORT_V4", "sublayer": "low",
       "action": "block",
       "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
                      {"field": "IP_LOCAL_PORT", "value": 9300}]})";
  };

  // Hard permit: the block in the lower sublayer cannot override it.
  auto hard = commit(policyJson(filters(R"(["CLEAR_ACTION_RIGHT"])"), sublayers));
  ASSERT_TRUE(hard);
  const uint64_t permitId = hard->id("permit 9300");
  const uint64_t blockId = hard->id("block 9300");
  ASSERT_NE(permitId, 0U);
  ASSERT_NE(blockId, 0U);
  xfp_layer_stats s0 = layerStats(XFP_LS_IN_TR4);
  EXPECT_EQ(udpDelivered(ns_, VethNamespaces::kAddr4A, kPort, kCount), kCount);
  EXPECT_EQ(counters(permitId).packets, static_cast<uint64_t>(kCount));
  EXPECT_EQ(counters(blockId).packets, 0U);
  xfp_layer_stats s1 = layerStats(XFP_LS_IN_TR4);
  EXPECT_EQ(s1.verdict[XFP_VERDICT_PERMIT] - s0.verdict[XFP_VERDICT_PERMIT],
            static_cast<uint64_t>(kCount));
  EXPECT_EQ(s1.verdict[XFP_VERDICT_BLOCK] - s0.verdict[XFP_VERDICT_BLOCK], 0U);

  // Soft permit: the lower sublayer's block wins. (The two policies assign the same filterIds,
  // so the counters continue: compare differences.)
  auto soft = commit(policyJson(filters("[]"), sublayers));
  ASSERT_TRUE(soft);
  ASSERT_EQ(soft->id("permit 9300"), permitId);
  ASSERT_EQ(soft->id("block 9300"), blockId);
  EXPECT_EQ(udpDelivered(ns_, VethNamespaces::kAddr4A, kPort, kCount, kBlockedWait), 0);
  EXPECT_EQ(counters(permitId).packets, static_cast<uint64_t>(kCount));
  EXPECT_EQ(counters(blockId).packets, static_cast<uint64_t>(kCount));
  xfp_layer_stats s2 = layerStats(XFP_LS_IN_TR4);
  EXPECT_EQ(s2.verdict[XFP_VERDICT_BLOCK] - s1.verdict[XFP_VERDICT_BLOCK],
            static_cast<uint64_t>(kCount));
  EXPECT_EQ(s2.verdict[XFP_VERDICT_PERMIT] - s1.verdict[XFP_VERDICT_PERMIT], 0U);
}

// Streams from B to A:9400, by (source address, source port). Policy X blocks source .3 at the IP
// layer and source port 7002 at the transport layer: only kS1 passes. Policy Y blocks .2 at the IP
// layer and port 7001 at transport: only kS2 passes. A packet that took its IP-layer verdict from
// one and its transport verdict from the other would let kMixXY or kMixYX through.
TEST_F(FastPathTraffic, PolicySwapUnderTrafficNeverMixesGenerations) {
  constexpr const char* kAddr4B2 = "10.199.0.3";
  ASSERT_EQ(VethNamespaces::run("ip -n " + ns_.nsB() + " addr add " + kAddr4B2 + "/24 dev " +
                                ns_.linkB()),
            0);
  struct Stream {
    const char* addr;
    uint16_t port;
    const char* name;
  };
  constexpr std::array<Stream, 4> kStreams{{{VethNamespaces::kAddr4B, 7001, "S1 (X only)"},
                                            {kAddr4B2, 7002, "S2 (Y only)"},
                                            {VethNamespaces::kAddr4B, 7002, "IP(X)+TR(Y)"},
                                            {kAddr4B2, 7001, "IP(Y)+TR(X)"}}};
  auto policy = [](const char* ipBlocked, int portBlocked) {
    return policyJson(std::string(R"(
      {"name": "ip block", "layer": "INBOUND_IPPACKET_V4", "action": "block",
       "conditions": [{"field": "IP_REMOTE_ADDRESS", "value": ")") +
                      ipBlocked + R"("}]},
      {"name": "transport block", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
       "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
                      {"field": "IP_REMOTE_PORT", "value": )" +
                      std::to_string(portBlocked) + "}]}");
  };
  auto x = build(policy(kAddr4B2, 7002));
  auto y = build(policy(VethNamespaces::kAddr4B, 7001));
  ASSERT_TRUE(x && y);

  constexpr uint16_t kPort = 9400;
  const Endpoint to = endpoint(VethNamespaces::kAddr4A, kPort);
  UniqueFd rx = udpBound(ns_.nsA(), VethNamespaces::kAddr4A, kPort);
  ASSERT_TRUE(rx);
  const int rcvbuf = 4 << 20;
  setsockopt(rx.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  setTimeouts(rx.get(), std::chrono::milliseconds(100));
  std::array<UniqueFd, kStreams.size()> tx;
  for (std::size_t i = 0; i < kStreams.size(); ++i) {
    tx[i] = udpBound(ns_.nsB(), kStreams[i].addr, kStreams[i].port);
    ASSERT_TRUE(tx[i]);
  }

  // Every stream gets through when nothing blocks it: a zero below is the policy's doing.
  ASSERT_TRUE(commit(neutralPolicy()));
  for (std::size_t i = 0; i < kStreams.size(); ++i) {
    ASSERT_TRUE(sendDatagram(tx[i].get(), to)) << std::strerror(errno);
    char buf[256];
    EXPECT_EQ(::recv(rx.get(), buf, sizeof buf, 0), kPayload) << kStreams[i].name;
  }
  ASSERT_TRUE(fp_->commit(x->compiled));

  std::atomic<bool> stopSending{false};
  std::atomic<bool> senderGaveUp{false};
  std::atomic<bool> stopReceiving{false};
  std::atomic<uint64_t> sent{0};
  std::array<uint64_t, kStreams.size()> arrived{};
  uint64_t foreign = 0;  // datagrams whose payload does not match their source
  constexpr uint64_t kMaxDatagrams = 2000000;
  constexpr auto kMaxSending = std::chrono::seconds(20);

  std::thread receiver([&] {
    const auto deadline = Clock::now() + kMaxSending + std::chrono::seconds(10);
    struct Datagram {
      uint32_t seq;
      uint32_t stream;
      char pad[kPayload - 8];
    } d{};
    while (Clock::now() < deadline) {
      sockaddr_in from{};
      socklen_t fromLen = sizeof from;
      const ssize_t n =
          ::recvfrom(rx.get(), &d, sizeof d, 0, reinterpret_cast<sockaddr*>(&from), &fromLen);
      if (n < 0) {
        if (stopReceiving.load()) {
          break;  // quiet for 100 ms after the sender stopped
        }
        continue;
      }
      char addr[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &from.sin_addr, addr, sizeof addr);
      bool known = false;
      for (std::size_t i = 0; i < kStreams.size(); ++i) {
        if (std::strcmp(addr, kStreams[i].addr) == 0 && ntohs(from.sin_port) == kStreams[i].port &&
            n == kPayload && d.stream == i) {
          ++arrived[i];
          known = true;
        }
      }
      foreign += known ? 0 : 1;
    }
  });
  std::thread sender([&] {
    const auto deadline = Clock::now() + kMaxSending;
    struct {
      uint32_t seq;
      uint32_t stream;
      char pad[kPayload - 8];
    } d{};
    uint32_t seq = 0;
    while (!stopSending.load() && seq < kMaxDatagrams && Clock::now() < deadline) {
      for (std::size_t i = 0; i < kStreams.size(); ++i, ++seq) {
        d.seq = seq;
        d.stream = static_cast<uint32_t>(i);
        (void)::sendto(tx[i].get(), &d, sizeof d, 0, to.sa(), to.len);
      }
      if (seq % 64 == 0) {
        std::this_thread::yield();
      }
    }
    sent.store(seq);
    senderGaveUp.store(!stopSending.load());
  });

  constexpr int kCommits = 200;
  const uint64_t generationBefore = fp_->generation();
  const auto start = Clock::now();
  int committed = 0;
  for (int i = 0; i < kCommits; ++i) {
    auto r = fp_->commit(i % 2 == 0 ? y->compiled : x->compiled);
    if (!r) {
      ADD_FAILURE() << "commit " << i << ": " << r.error().describe();
      break;
    }
    ++committed;
    // Give each generation a little traffic of its own.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const double commitSeconds = std::chrono::duration<double>(Clock::now() - start).count();
  stopSending.store(true);
  sender.join();
  stopReceiving.store(true);
  receiver.join();

  EXPECT_FALSE(senderGaveUp.load()) << "the sender hit its bound before the last commit";
  EXPECT_EQ(committed, kCommits);
  EXPECT_EQ(fp_->generation() - generationBefore, static_cast<uint64_t>(kCommits));
  EXPECT_EQ(foreign, 0U);
  EXPECT_GT(arrived[0], 0U) << kStreams[0].name;
  EXPECT_GT(arrived[1], 0U) << kStreams[1].name;
  EXPECT_EQ(arrived[2], 0U) << kStreams[2].name << " arrived: a mixed-generation decision";
  EXPECT_EQ(arrived[3], 0U) << kStreams[3].name << " arrived: a mixed-generation decision";
  EXPECT_GT(layerStats(XFP_LS_IN_IP4).cache_hits, 0U);
  EXPECT_GT(layerStats(XFP_LS_IN_TR4).cache_hits, 0U);
  std::printf("[ info     ] %d commits in %.2f s; sent %llu; arrived S1 %llu S2 %llu\n",
              committed,
              commitSeconds,
              static_cast<unsigned long long>(sent.load()),
              static_cast<unsigned long long>(arrived[0]),
              static_cast<unsigned long long>(arrived[1]));
}

TEST_F(FastPathTraffic, FilterCountersSurviveRecompiles) {
  constexpr uint16_t kPort = 9500;
  constexpr uint16_t kNewBlocked = 9501;
  constexpr int kBefore = 7;
  constexpr int kAfter = 11;
  constexpr int kNew = 3;
  const std::string f = R"(
    {"name": "F permit udp 9500", "layer": "INBOUND_TRANSPORT_V4", "action": "permit",
     "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
                    {"field": "IP_LOCAL_PORT", "value": 9500}]})";
  auto first = commit(policyJson(f));
  ASSERT_TRUE(first);
  const uint64_t fId = first->id("F permit udp 9500");
  ASSERT_NE(fId, 0U);
  EXPECT_EQ(udpDelivered(ns_, VethNamespaces::kAddr4A, kPort, kBefore), kBefore);
  EXPECT_EQ(counters(fId).packets, static_cast<uint64_t>(kBefore));

  // F (listed first, so it keeps its filterId) plus new filters at every inbound v4 layer.
  auto second = commit(policyJson(f + R"(,
    {"name": "block udp 9501", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
     "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
                    {"field": "IP_LOCAL_PORT", "value": 9501}]},
    {"name": "block tcp 1-1023", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
     "weight": 5,
     "conditions": [{"field": "IP_PROTOCOL", "value": "tcp"},
                    {"field": "IP_LOCAL_PORT", "value": [1, 1023]}]},
    {"name": "block 10.199.0.77", "layer": "INBOUND_IPPACKET_V4", "action": "block",
     "conditions": [{"field": "IP_REMOTE_ADDRESS", "value": "10.199.0.77"}]},
    {"name": "block a MAC", "layer": "INBOUND_MAC_FRAME_ETHERNET", "action": "block",
     "conditions": [{"field": "MAC_REMOTE_ADDRESS", "value": "02:00:00:00:00:77"}]})"));
  ASSERT_TRUE(second);
  ASSERT_EQ(second->id("F permit udp 9500"), fId);
  const uint64_t newId = second->id("block udp 9501");
  ASSERT_NE(newId, 0U);
  EXPECT_EQ(counters(fId).packets, static_cast<uint64_t>(kBefore));
  EXPECT_EQ(udpDelivered(ns_, VethNamespaces::kAddr4A, kPort, kAfter), kAfter);
  EXPECT_EQ(udpDelivered(ns_, VethNamespaces::kAddr4A, kNewBlocked, kNew, kBlockedWait), 0);

  const FilterCounters c = counters(fId);
  EXPECT_EQ(c.packets, static_cast<uint64_t>(kBefore + kAfter));
  EXPECT_EQ(c.bytes, (kBefore + kAfter) * kUdp4Frame);
  EXPECT_EQ(counters(newId).packets, static_cast<uint64_t>(kNew));
}

}  // namespace
}  // namespace xfp::dataplane

namespace xfp {
namespace {

// A pinned XDP link keeps enforcing after its loader is gone (what lets a restarted xfpd take
// over without a gap); removing the pin detaches it.
TEST(FastPathLinks, PinnedXdpLinkOutlivesItsLoader) {
  XFP_REQUIRE_ROOT();
  test::VethNamespaces ns;
  ASSERT_EQ(ns.setUp(), "");
  const std::string dir = "/sys/fs/bpf/xfp-link-test-" + std::to_string(::getpid());
  const int ifindex = test::VethNamespaces::ifindexIn(ns.nsA(), ns.linkA());
  ASSERT_GT(ifindex, 0);
  auto attachedId = [&]() {
    uint32_t id = 0;
    EXPECT_EQ(test::VethNamespaces::runIn(ns.nsA(),
                                          [&] {
                                            bpf_xdp_query_opts q{};
                                            q.sz = sizeof(q);
                                            if (bpf_xdp_query(ifindex, 0, &q) == 0) {
                                              id = q.prog_id;
                                            }
                                          }),
              "");
    return id;
  };
  {
    auto fp = dataplane::FastPath::load();
    ASSERT_TRUE(fp) << fp.error().describe();
    std::string err = test::VethNamespaces::runIn(ns.nsA(), [&] {
      auto r = (*fp)->attachXdp(ifindex);
      ASSERT_TRUE(r) << r.error().describe();
    });
    ASSERT_EQ(err, "");
    ASSERT_TRUE((*fp)->pin(dir));
    EXPECT_NE(attachedId(), 0u);
  }  // the loader (and its fds) are gone here
  EXPECT_NE(attachedId(), 0u) << "the pinned link should keep the program attached";
  const std::string linkPin = dir + "/links/xfp_xdp_in_if" + std::to_string(ifindex);
  EXPECT_EQ(::unlink(linkPin.c_str()), 0) << linkPin;
  EXPECT_EQ(attachedId(), 0u) << "removing the last reference detaches";
  test::VethNamespaces::run("rm -rf " + dir);
}

}  // namespace
}  // namespace xfp
