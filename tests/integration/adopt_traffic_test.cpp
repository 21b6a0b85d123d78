// Integration: a restarted service takes over the pinned data path without a gap
// (FastPath::adopt). A forked child -- the "crashed xfpd" -- loads the fast path, commits policy A,
// attaches XDP (inbound) and tc egress (outbound) to veth end A, pins under a private bpffs
// directory and _exit()s without detaching anything. The test then checks on real traffic that A
// is still enforced, adopts the pinned maps, takes over the attachments (bpf_link_update,
// BPF_TC_F_REPLACE), commits policy B and checks B; once more under continuous traffic, counting
// every datagram on real sockets; and the fallback when the pins do not match (load() +
// takeOverAttachments()).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

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

using test::Endpoint;
using test::endpoint;
using test::setTimeouts;
using test::VethNamespaces;
using Clock = std::chrono::steady_clock;

constexpr int kPayload = 32;
constexpr std::chrono::milliseconds kBlockedWait{200};

// ---------------------------------------------------------------------------------------------
// Policies

struct Built {
  Policy policy;
  compiler::CompiledPolicy compiled;

  [[nodiscard]] uint64_t id(std::string_view name) const {
    for (const auto& [filterId, filter] : policy.filters()) {
      if (filter.displayData.name && *filter.displayData.name == name) {
        return filterId;
      }
    }
    return 0;
  }
};

std::optional<Built> compiled(Policy policy) {
  auto c = compiler::compile(policy);
  EXPECT_TRUE(c) << (c ? "" : c.error().message);
  if (!c) {
    return std::nullopt;
  }
  return Built{std::move(policy), std::move(*c)};
}

// Parses a policy of `filters` (JSON objects, comma-separated) and compiles it without the
// filters named in `without`. Parsing assigns ids in order, so two policies cut from the same
// list agree on every id and never give one id to two different filters.
std::optional<Built> build(const std::string& filters,
                           const std::vector<std::string>& without = {}) {
  const std::string json = R"({"xfp_policy": 1, "filters": [)" + filters + "]}";
  auto policy = parsePolicy(json, "test policy");
  EXPECT_TRUE(policy) << (policy ? "" : policy.error().message);
  if (!policy) {
    return std::nullopt;
  }
  for (const std::string& name : without) {
    uint64_t id = 0;
    for (const auto& [filterId, filter] : policy->filters()) {
      if (filter.displayData.name && *filter.displayData.name == name) {
        id = filterId;
      }
    }
    EXPECT_NE(id, 0u) << name;
    EXPECT_TRUE(policy->deleteFilterById(id)) << name;
  }
  return compiled(std::move(*policy));
}

// One UDP filter: {"name": name, ...} blocking or permitting UDP to/from `port`.
std::string udpFilter(const std::string& name,
                      const char* layer,
                      const char* action,
                      const char* portField,
                      uint16_t port) {
  return std::string(R"({"name": ")") + name + R"(", "layer": ")" + layer + R"(", "action": ")" +
         action + R"(", "conditions": [{"field": "IP_PROTOCOL", "value": "udp"}, {"field": ")" +
         portField + R"(", "value": )" + std::to_string(port) + "}]}";
}
std::string blockIn(const std::string& name, uint16_t port) {
  return udpFilter(name, "INBOUND_TRANSPORT_V4", "block", "IP_LOCAL_PORT", port);
}
std::string permitIn(const std::string& name, uint16_t port) {
  return udpFilter(name, "INBOUND_TRANSPORT_V4", "permit", "IP_LOCAL_PORT", port);
}
std::string blockOut(const std::string& name, uint16_t port) {
  return udpFilter(name, "OUTBOUND_TRANSPORT_V4", "block", "IP_REMOTE_PORT", port);
}

// ---------------------------------------------------------------------------------------------
// Traffic

dataplane::UniqueFd socketIn(const std::string& ns, int type) {
  return test::socketIn(ns, AF_INET, type, std::chrono::seconds(2));
}

dataplane::UniqueFd udpBound(const std::string& ns, const char* addr, uint16_t port) {
  const Endpoint at = endpoint(addr, port);
  dataplane::UniqueFd fd = socketIn(ns, SOCK_DGRAM);
  const int one = 1;
  if (fd) {
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  if (!fd || ::bind(fd.get(), at.sa(), at.len) != 0) {
    ADD_FAILURE() << "udp bind " << addr << ":" << port << ": " << std::strerror(errno);
    return dataplane::UniqueFd();
  }
  return fd;
}

// Sends `count` datagrams from namespace `from` to addr:port, where a socket bound in namespace
// `to` awaits each (up to `wait`); returns how many arrived (late ones included). Bounded.
int delivered(const std::string& from,
              const std::string& to,
              const char* addr,
              uint16_t port,
              int count,
              std::chrono::milliseconds wait = std::chrono::milliseconds(1000)) {
  const Endpoint dst = endpoint(addr, port);
  dataplane::UniqueFd rx = udpBound(to, addr, port);
  dataplane::UniqueFd tx = socketIn(from, SOCK_DGRAM);
  if (!rx || !tx) {
    return -1;
  }
  setTimeouts(rx.get(), wait);
  char buf[256] = "xfp adopt probe";
  int received = 0;
  for (int i = 0; i < count; ++i) {
    if (::sendto(tx.get(), buf, kPayload, 0, dst.sa(), dst.len) != kPayload) {
      ADD_FAILURE() << "sendto: " << std::strerror(errno);
      break;
    }
    if (::recv(rx.get(), buf, sizeof buf, 0) == kPayload) {
      ++received;
    }
  }
  setTimeouts(rx.get(), std::chrono::milliseconds(100));
  for (int i = 0; i < 10000 && ::recv(rx.get(), buf, sizeof buf, 0) > 0; ++i) {
    ++received;
  }
  return received;
}

// B -> A (through A's XDP program) and A -> B (through A's tc egress program).
int inbound(const VethNamespaces& ns, uint16_t port, int count, std::chrono::milliseconds wait) {
  return delivered(ns.nsB(), ns.nsA(), VethNamespaces::kAddr4A, port, count, wait);
}
int outbound(const VethNamespaces& ns, uint16_t port, int count, std::chrono::milliseconds wait) {
  return delivered(ns.nsA(), ns.nsB(), VethNamespaces::kAddr4B, port, count, wait);
}

// ---------------------------------------------------------------------------------------------
// Kernel state

// Removes the private pin directory on every exit (pins of links detach with it).
struct PinDir {
  std::string path;
  explicit PinDir(const std::string& tag)
      : path("/sys/fs/bpf/xfp-adopt-" + std::to_string(::getpid()) + "-" + tag) {}
  ~PinDir() { VethNamespaces::run("rm -rf " + path); }
};

uint32_t objectId(int fd) {
  struct {
    uint32_t type;
    uint32_t id;
  } head{};
  uint32_t len = sizeof(head);
  return bpf_obj_get_info_by_fd(fd, &head, &len) == 0 ? head.id : 0;
}

uint32_t pinnedId(const std::string& path) {
  UniqueFd fd(bpf_obj_get(path.c_str()));
  return fd ? objectId(fd.get()) : 0;
}

// The XDP program attached to ifindex in namespace ns (0: none).
uint32_t xdpProgId(const std::string& ns, int ifindex) {
  uint32_t id = 0;
  EXPECT_EQ(VethNamespaces::runIn(ns,
                                  [&] {
                                    bpf_xdp_query_opts q{};
                                    q.sz = sizeof(q);
                                    if (bpf_xdp_query(ifindex, 0, &q) == 0) {
                                      id = q.prog_id;
                                    }
                                  }),
            "");
  return id;
}

// The program of the tc egress filter at handle 1, priority 1 (FastPath's) (0: none).
uint32_t tcProgId(const std::string& ns, int ifindex) {
  uint32_t id = 0;
  EXPECT_EQ(VethNamespaces::runIn(ns,
                                  [&] {
                                    bpf_tc_hook hook{};
                                    hook.sz = sizeof(hook);
                                    hook.ifindex = ifindex;
                                    hook.attach_point = BPF_TC_EGRESS;
                                    bpf_tc_opts opts{};
                                    opts.sz = sizeof(opts);
                                    opts.handle = 1;
                                    opts.priority = 1;
                                    if (bpf_tc_query(&hook, &opts) == 0) {
                                      id = opts.prog_id;
                                    }
                                  }),
            "");
  return id;
}

// Attaches XDP and tc egress inside namespace ns; "" or what failed.
std::string attachIn(FastPath& fp, const std::string& ns, int ifindex) {
  std::string error;
  const std::string entered = VethNamespaces::runIn(ns, [&] {
    auto x = fp.attachXdp(ifindex);
    if (!x) {
      error = x.error().describe();
      return;
    }
    auto t = fp.attachTc(ifindex);
    if (!t) {
      error = t.error().describe();
    }
  });
  return entered.empty() ? error : entered;
}

void detachIn(FastPath& fp, const std::string& ns) {
  EXPECT_EQ(VethNamespaces::runIn(ns, [&] { fp.detachAll(); }), "");
}

// The "crashed xfpd": a forked child loads, commits `policy`, attaches to ifindex in ns, pins
// under dir and _exit()s -- no destructor, no detach, no unpin. Returns "" or the child's error.
// The child's last generation goes to *generation.
std::string crashedOwner(const compiler::CompiledPolicy& policy,
                         const std::string& ns,
                         int ifindex,
                         const std::string& dir,
                         uint64_t* generation) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return "pipe2 failed";
  }
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return "fork failed";
  }
  if (child == 0) {
    ::close(fds[0]);
    std::string message;
    auto fp = FastPath::load();
    if (!fp) {
      message = "load: " + fp.error().describe();
    } else if (auto c = (*fp)->commit(policy); !c) {
      message = "commit: " + c.error().describe();
    } else if (std::string e = attachIn(**fp, ns, ifindex); !e.empty()) {
      message = "attach: " + e;
    } else if (auto p = (*fp)->pin(dir); !p) {
      message = "pin: " + p.error().describe();
    } else {
      message = "ok " + std::to_string((*fp)->generation());
    }
    (void)!::write(fds[1], message.data(), message.size());
    ::_exit(0);  // the crash: the kernel closes our fds; pins and tc filters stay
  }
  ::close(fds[1]);
  int status = 0;
  bool exited = false;
  for (int i = 0; i < 1200 && !exited; ++i) {  // at most 120 s
    exited = ::waitpid(child, &status, WNOHANG) == child;
    if (!exited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (!exited) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
  }
  std::string message;
  char buf[512];
  for (int i = 0; i < 64; ++i) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) {
      break;
    }
    message.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (!exited) {
    return "the child did not finish within 120 s";
  }
  if (message.rfind("ok ", 0) != 0) {
    return message.empty() ? "the child died without a word" : message;
  }
  *generation = std::stoull(message.substr(3));
  return {};
}

// ---------------------------------------------------------------------------------------------

// A: block UDP 9601 in, permit UDP 9602 in (counted), block UDP 9611 out; 9603 and 9612 open.
// B: keeps the first two (same ids: counters continue), adds "block 9603" and a never-matching
// IP-layer filter (compiled first, so a naive slot allocator would hand it an A filter's slot),
// drops "block out 9611" and adds "block out 9612".
TEST(FastPathAdopt, TakesOverTheDataPathOfACrashedOwner) {
  XFP_REQUIRE_ROOT();
  VethNamespaces ns;
  ASSERT_EQ(ns.setUp(), "");
  PinDir dir("crash");
  const int ifindex = VethNamespaces::ifindexIn(ns.nsA(), ns.linkA());
  ASSERT_GT(ifindex, 0);
  const std::string all = blockIn("block 9601", 9601) + "," + permitIn("permit 9602", 9602) + "," +
                          blockOut("block out 9611", 9611) + "," + blockIn("block 9603", 9603) +
                          "," +
                          R"({"name": "block .77", "layer": "INBOUND_IPPACKET_V4",
                              "action": "block", "conditions": [{"field": "IP_REMOTE_ADDRESS",
                              "value": "10.199.0.77"}]},)" +
                          blockOut("block out 9612", 9612);
  auto a = build(all, {"block 9603", "block .77", "block out 9612"});
  auto b = build(all, {"block out 9611"});
  ASSERT_TRUE(a && b);
  const uint64_t block9601 = a->id("block 9601");
  const uint64_t permit9602 = a->id("permit 9602");
  ASSERT_EQ(b->id("block 9601"), block9601);
  ASSERT_EQ(b->id("permit 9602"), permit9602);
  const uint64_t block9603 = b->id("block 9603");
  const uint64_t block77 = b->id("block .77");
  const uint64_t blockOut9612 = b->id("block out 9612");
  ASSERT_NE(block9603, 0u);
  ASSERT_NE(block77, 0u);
  ASSERT_NE(blockOut9612, 0u);

  uint64_t crashedGeneration = 0;
  ASSERT_EQ(crashedOwner(a->compiled, ns.nsA(), ifindex, dir.path, &crashedGeneration), "");
  const std::string linkPin = dir.path + "/links/xfp_xdp_in_if" + std::to_string(ifindex);
  const uint32_t linkId = pinnedId(linkPin);
  const uint32_t oldXdp = xdpProgId(ns.nsA(), ifindex);
  const uint32_t oldTc = tcProgId(ns.nsA(), ifindex);
  ASSERT_NE(linkId, 0u);
  ASSERT_NE(oldXdp, 0u) << "the pinned link should keep XDP attached after the crash";
  ASSERT_NE(oldTc, 0u) << "the tc filter should stay after the crash";

  // 1. The owner is gone; A is enforced in both directions.
  constexpr int kN = 5;
  EXPECT_EQ(inbound(ns, 9601, kN, kBlockedWait), 0);
  EXPECT_EQ(inbound(ns, 9602, kN, std::chrono::milliseconds(1000)), kN);
  EXPECT_EQ(inbound(ns, 9603, kN, std::chrono::milliseconds(1000)), kN);
  EXPECT_EQ(outbound(ns, 9611, kN, kBlockedWait), 0);
  EXPECT_EQ(outbound(ns, 9612, kN, std::chrono::milliseconds(1000)), kN);

  // 2. Adopt: the generation continues; the old programs still run, on the same maps.
  auto fp = FastPath::adopt(dir.path);
  ASSERT_TRUE(fp) << fp.error().describe();
  EXPECT_EQ((*fp)->generation(), crashedGeneration);
  EXPECT_EQ(pinnedId(dir.path + "/maps/xfp_gen"), objectId((*fp)->mapFd("xfp_gen")))
      << "adopt() must reuse the pinned map, not make a new one";
  EXPECT_EQ(xdpProgId(ns.nsA(), ifindex), oldXdp);

  // 3. Take over the attachments: same link, new programs, nothing detached in between.
  ASSERT_EQ(attachIn(**fp, ns.nsA(), ifindex), "");
  const uint32_t newXdp = objectId((*fp)->xdpProgFd());
  const uint32_t newTc = objectId((*fp)->tcProgFd());
  EXPECT_NE(newXdp, oldXdp);
  EXPECT_EQ(xdpProgId(ns.nsA(), ifindex), newXdp);
  EXPECT_EQ(pinnedId(linkPin), linkId) << "the pinned link itself was to be kept";
  EXPECT_EQ(tcProgId(ns.nsA(), ifindex), newTc);
  // The new programs enforce the adopted policy before any commit.
  EXPECT_EQ(inbound(ns, 9601, kN, kBlockedWait), 0);
  EXPECT_EQ(inbound(ns, 9602, kN, std::chrono::milliseconds(1000)), kN);
  EXPECT_EQ(outbound(ns, 9611, kN, kBlockedWait), 0);

  // 4. Commit B: the half that is not live, then the flip.
  auto stats = (*fp)->commit(b->compiled);
  ASSERT_TRUE(stats) << stats.error().describe();
  EXPECT_EQ(stats->generation, crashedGeneration + 1);
  EXPECT_EQ(inbound(ns, 9601, kN, kBlockedWait), 0);
  EXPECT_EQ(inbound(ns, 9602, kN, std::chrono::milliseconds(1000)), kN);
  EXPECT_EQ(inbound(ns, 9603, kN, kBlockedWait), 0);
  EXPECT_EQ(outbound(ns, 9611, kN, std::chrono::milliseconds(1000)), kN);
  EXPECT_EQ(outbound(ns, 9612, kN, kBlockedWait), 0);

  // Counters: the kept filters counted on through the restart (3 rounds each); the new ones
  // start from zero, whatever slot they got.
  auto packets = [&](uint64_t id) -> int64_t {
    auto c = (*fp)->counters(id);
    EXPECT_TRUE(c) << (c ? "" : c.error().describe());
    return c ? static_cast<int64_t>(c->packets) : -1;
  };
  EXPECT_EQ(packets(block9601), 3 * kN);
  EXPECT_EQ(packets(permit9602), 3 * kN);
  EXPECT_EQ(packets(block9603), kN);
  EXPECT_EQ(packets(block77), 0);
  EXPECT_EQ(packets(blockOut9612), kN);
  EXPECT_FALSE((*fp)->counters(a->id("block out 9611"))) << "a filter that left the policy";

  // 5. Pins again over the existing ones; then the clean stop removes everything.
  auto pinned = (*fp)->pin(dir.path);
  ASSERT_TRUE(pinned) << pinned.error().describe();
  EXPECT_EQ(pinnedId(dir.path + "/progs/xfp_xdp_in"), newXdp);
  EXPECT_EQ(pinnedId(dir.path + "/progs/xfp_tc_out"), newTc);
  EXPECT_EQ(pinnedId(linkPin), linkId);
  detachIn(**fp, ns.nsA());
  (*fp)->unpinAll();
  EXPECT_EQ(xdpProgId(ns.nsA(), ifindex), 0u) << "unpinAll() + detachAll() detach the link";
  EXPECT_EQ(tcProgId(ns.nsA(), ifindex), 0u);
  EXPECT_NE(::access(dir.path.c_str(), F_OK), 0) << dir.path << " should be gone";
}

// While four streams run (B->A to a port blocked inbound and to an open one; A->B to a port
// blocked outbound and to an open one), a new owner adopts, takes over and commits. Not one
// blocked datagram may arrive, and the open streams must arrive in every phase, all of them.
TEST(FastPathAdopt, NoGapUnderContinuousTraffic) {
  XFP_REQUIRE_ROOT();
  VethNamespaces ns;
  ASSERT_EQ(ns.setUp(), "");
  PinDir dir("stream");
  const int ifindex = VethNamespaces::ifindexIn(ns.nsA(), ns.linkA());
  ASSERT_GT(ifindex, 0);
  const std::string blocks = blockIn("block 9701", 9701) + "," + blockOut("block out 9711", 9711);
  auto a = build(blocks);
  auto b = build(blocks + "," + blockIn("block 9799", 9799));
  ASSERT_TRUE(a && b);
  uint64_t crashedGeneration = 0;
  ASSERT_EQ(crashedOwner(a->compiled, ns.nsA(), ifindex, dir.path, &crashedGeneration), "");

  struct Stream {
    const char* name;
    const std::string* fromNs;
    const std::string* toNs;
    const char* addr;
    uint16_t port;
    bool blocked;
  };
  const std::array<Stream, 4> streams{{
      {"in 9701 (blocked)", &ns.nsB(), &ns.nsA(), VethNamespaces::kAddr4A, 9701, true},
      {"in 9702", &ns.nsB(), &ns.nsA(), VethNamespaces::kAddr4A, 9702, false},
      {"out 9711 (blocked)", &ns.nsA(), &ns.nsB(), VethNamespaces::kAddr4B, 9711, true},
      {"out 9712", &ns.nsA(), &ns.nsB(), VethNamespaces::kAddr4B, 9712, false},
  }};
  std::array<UniqueFd, 4> rx;
  std::array<UniqueFd, 4> tx;
  std::array<Endpoint, 4> to;
  for (size_t i = 0; i < streams.size(); ++i) {
    rx[i] = udpBound(*streams[i].toNs, streams[i].addr, streams[i].port);
    tx[i] = socketIn(*streams[i].fromNs, SOCK_DGRAM);
    ASSERT_TRUE(rx[i] && tx[i]);
    const int size = 8 << 20;
    setsockopt(rx[i].get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
    to[i] = endpoint(streams[i].addr, streams[i].port);
  }

  // Phases, by the sequence number the sender had reached when each began.
  enum Phase { kCrashed, kAdopting, kTakenOver, kCommitted, kPhases };
  constexpr std::array<const char*, kPhases> kPhaseNames{
      "owner gone", "adopt() + attach", "new programs, adopted policy", "policy B"};
  std::array<std::atomic<uint32_t>, kPhases> phaseStart{};
  for (int ph = 1; ph < kPhases; ++ph) {
    phaseStart[ph].store(UINT32_MAX);  // not begun
  }
  std::atomic<uint32_t> seq{0};
  std::atomic<bool> stopSending{false};
  std::atomic<bool> stopReceiving{false};
  std::array<std::atomic<uint64_t>, 4> sent{};
  // arrived[stream][phase]
  std::array<std::array<uint64_t, kPhases>, 4> arrived{};
  constexpr uint32_t kMaxRounds = 400000;
  constexpr auto kMaxSending = std::chrono::seconds(60);

  std::thread receiver([&] {
    const auto deadline = Clock::now() + kMaxSending + std::chrono::seconds(10);
    std::array<pollfd, 4> p{};
    for (size_t i = 0; i < 4; ++i) {
      p[i] = pollfd{rx[i].get(), POLLIN, 0};
    }
    while (Clock::now() < deadline) {
      const int ready = ::poll(p.data(), p.size(), 100);
      if (ready <= 0) {
        if (stopReceiving.load()) {
          break;  // quiet for 100 ms after the sender stopped
        }
        continue;
      }
      for (size_t i = 0; i < 4; ++i) {
        if ((p[i].revents & POLLIN) == 0) {
          continue;
        }
        for (int k = 0; k < 256; ++k) {
          uint32_t d[kPayload / 4];
          if (::recv(rx[i].get(), d, sizeof d, MSG_DONTWAIT) != kPayload) {
            break;
          }
          int phase = 0;
          for (int ph = kPhases - 1; ph > 0; --ph) {
            if (d[0] >= phaseStart[ph].load()) {
              phase = ph;
              break;
            }
          }
          ++arrived[i][phase];
        }
      }
    }
  });
  std::thread sender([&] {
    const auto deadline = Clock::now() + kMaxSending;
    uint32_t d[kPayload / 4] = {};
    uint32_t round = 0;
    while (!stopSending.load() && round < kMaxRounds && Clock::now() < deadline) {
      d[0] = seq.load();
      for (size_t i = 0; i < 4; ++i) {
        if (::sendto(tx[i].get(), d, kPayload, 0, to[i].sa(), to[i].len) == kPayload) {
          sent[i].fetch_add(1);
        }
      }
      seq.fetch_add(1);
      ++round;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  });

  auto beginPhase = [&](Phase p) { phaseStart[p].store(seq.load() + 1); };
  auto settle = [&](std::chrono::milliseconds t) { std::this_thread::sleep_for(t); };
  settle(std::chrono::milliseconds(300));
  beginPhase(kAdopting);
  auto fp = FastPath::adopt(dir.path);
  std::string error = fp ? "" : "adopt: " + fp.error().describe();
  if (error.empty()) {
    error = attachIn(**fp, ns.nsA(), ifindex);
  }
  beginPhase(kTakenOver);
  settle(std::chrono::milliseconds(300));
  if (error.empty()) {
    auto c = (*fp)->commit(b->compiled);
    error = c ? "" : "commit: " + c.error().describe();
  }
  beginPhase(kCommitted);
  settle(std::chrono::milliseconds(300));
  stopSending.store(true);
  sender.join();
  stopReceiving.store(true);
  receiver.join();
  ASSERT_EQ(error, "");

  for (size_t i = 0; i < streams.size(); ++i) {
    uint64_t total = 0;
    std::string line = std::string("[ info     ] ") + streams[i].name + ": sent " +
                       std::to_string(sent[i].load()) + ", arrived";
    for (int ph = 0; ph < kPhases; ++ph) {
      total += arrived[i][ph];
      line += std::string(" ") + kPhaseNames[ph] + " " + std::to_string(arrived[i][ph]) + ";";
      if (!streams[i].blocked) {
        EXPECT_GT(arrived[i][ph], 0u) << streams[i].name << " during " << kPhaseNames[ph];
      }
    }
    std::printf("%s\n", line.c_str());
    if (streams[i].blocked) {
      EXPECT_EQ(total, 0u) << streams[i].name << ": blocked datagrams got through";
    } else {
      EXPECT_EQ(total, sent[i].load()) << streams[i].name << ": permitted datagrams were lost";
    }
  }
  detachIn(**fp, ns.nsA());
  (*fp)->unpinAll();
}

// A pin directory the adopting build cannot use (other capacities: an upgrade changed a map)
// is refused with ESTALE before anything changes; the caller falls back to load() and still
// takes over the attachments without detaching (commit first, then attach).
TEST(FastPathAdopt, MismatchFallsBackToLoadAndTakesOverTheAttachments) {
  XFP_REQUIRE_ROOT();
  VethNamespaces ns;
  ASSERT_EQ(ns.setUp(), "");
  PinDir dir("fallback");
  const int ifindex = VethNamespaces::ifindexIn(ns.nsA(), ns.linkA());
  ASSERT_GT(ifindex, 0);
  auto a = build(blockIn("block 9801", 9801));
  auto b = build(blockIn("block 9802", 9802));
  ASSERT_TRUE(a && b);
  FastPathOptions small;
  small.nodes = small.cands = small.boxes = small.filters = 1024;
  {
    auto old = FastPath::load(small);
    ASSERT_TRUE(old) << old.error().describe();
    ASSERT_TRUE((*old)->commit(a->compiled));
    ASSERT_EQ(attachIn(**old, ns.nsA(), ifindex), "");
    ASSERT_TRUE((*old)->pin(dir.path));
    (*old)->leaveAttached();  // a service exiting for its restart
  }
  const uint32_t oldXdp = xdpProgId(ns.nsA(), ifindex);
  ASSERT_NE(oldXdp, 0u);
  ASSERT_NE(tcProgId(ns.nsA(), ifindex), 0u) << "leaveAttached() keeps the tc filter";
  EXPECT_EQ(inbound(ns, 9801, 3, kBlockedWait), 0);

  auto refused = FastPath::adopt(dir.path);  // default capacities: not what was pinned
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().errnoValue, ESTALE) << refused.error().describe();
  EXPECT_NE(refused.error().describe().find("max_entries"), std::string::npos)
      << refused.error().describe();
  EXPECT_EQ(xdpProgId(ns.nsA(), ifindex), oldXdp) << "a refused adopt() changes nothing";
  EXPECT_EQ(inbound(ns, 9801, 3, kBlockedWait), 0);

  auto fp = FastPath::load();
  ASSERT_TRUE(fp) << fp.error().describe();
  // Without taking over, the pinned link is in the way.
  EXPECT_EQ(VethNamespaces::runIn(ns.nsA(),
                                  [&] {
                                    auto r = (*fp)->attachXdp(ifindex);
                                    EXPECT_FALSE(r) << "attached beside a pinned link?";
                                    if (r) {
                                      (*fp)->detachAll();
                                    } else {
                                      EXPECT_EQ(r.error().errnoValue, EBUSY)
                                          << r.error().describe();
                                    }
                                  }),
            "");
  (*fp)->takeOverAttachments(dir.path);
  ASSERT_TRUE((*fp)->commit(b->compiled));
  ASSERT_EQ(attachIn(**fp, ns.nsA(), ifindex), "");
  EXPECT_EQ(xdpProgId(ns.nsA(), ifindex), objectId((*fp)->xdpProgFd()));
  EXPECT_EQ(tcProgId(ns.nsA(), ifindex), objectId((*fp)->tcProgFd()));
  EXPECT_EQ(inbound(ns, 9801, 3, std::chrono::milliseconds(1000)), 3);
  EXPECT_EQ(inbound(ns, 9802, 3, kBlockedWait), 0);
  // Pinning replaces the old generation's map and program pins, keeps the link's.
  auto pinned = (*fp)->pin(dir.path);
  ASSERT_TRUE(pinned) << pinned.error().describe();
  EXPECT_EQ(pinnedId(dir.path + "/maps/xfp_gen"), objectId((*fp)->mapFd("xfp_gen")));
  detachIn(**fp, ns.nsA());
  (*fp)->unpinAll();
  EXPECT_EQ(xdpProgId(ns.nsA(), ifindex), 0u);
  EXPECT_NE(::access(dir.path.c_str(), F_OK), 0) << dir.path << " should be gone";
}

}  // namespace
}  // namespace xfp::dataplane
