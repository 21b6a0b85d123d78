// Integration: xfp_xdp_in attached (native XDP) to veth end A and xfp_tc_out to the egress of
// end B; real ping (v4, v6), UDP datagrams and TCP connections from namespace B to A must still
// get through (both programs pass) and show up in each program's xfp_stats counters.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include "tests/harness/netns.h"
#include "tests/harness/sockets.h"
#include "tests/harness/test_env.h"
#include "userspace/dataplane/percpu_map.h"
#include "userspace/dataplane/skeleton.h"
#include "userspace/dataplane/tc_attachment.h"
#include "userspace/dataplane/unique_fd.h"
#include "userspace/dataplane/xdp_attachment.h"
#include "xfp/abi.h"
#include "xfp_tc.skel.h"
#include "xfp_xdp.skel.h"

namespace xfp::dataplane {
namespace {

using test::VethNamespaces;

// Runs a callable when the scope ends (also on ASSERT failures).
class ScopeExit {
 public:
  explicit ScopeExit(std::function<void()> fn) : fn_(std::move(fn)) {}
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;
  ~ScopeExit() { fn_(); }

 private:
  std::function<void()> fn_;
};

// A socket address for "addr:port", v4 or v6.
using test::Endpoint;
using test::endpoint;

UniqueFd socketIn(const std::string& ns, int family, int type) {
  return test::socketIn(ns, family, type, std::chrono::seconds(3));
}

// Sends `count` UDP datagrams from namespace B to A's addr; returns how many A received.
int udpExchange(const VethNamespaces& ns, const char* addrA, std::uint16_t port, int count) {
  const Endpoint to = endpoint(addrA, port);
  UniqueFd rx = socketIn(ns.nsA(), to.family, SOCK_DGRAM);
  UniqueFd tx = socketIn(ns.nsB(), to.family, SOCK_DGRAM);
  if (!rx || !tx || ::bind(rx.get(), to.sa(), to.len) != 0) {
    ADD_FAILURE() << "udp socket/bind: " << std::strerror(errno);
    return 0;
  }
  int received = 0;
  char buf[64] = "xfp udp probe";
  for (int i = 0; i < count; ++i) {
    if (::sendto(tx.get(), buf, 32, 0, to.sa(), to.len) != 32) {
      ADD_FAILURE() << "sendto: " << std::strerror(errno);
      break;
    }
    // One datagram at a time: bounded by the 3 s receive timeout.
    if (::recv(rx.get(), buf, sizeof buf, 0) == 32) {
      ++received;
    }
  }
  return received;
}

// One TCP connection from namespace B to A with a 5-byte payload; true if A got it.
bool tcpExchange(const VethNamespaces& ns, const char* addrA, std::uint16_t port) {
  const Endpoint to = endpoint(addrA, port);
  UniqueFd listener = socketIn(ns.nsA(), to.family, SOCK_STREAM);
  UniqueFd client = socketIn(ns.nsB(), to.family, SOCK_STREAM);
  const int one = 1;
  if (!listener || !client) {
    return false;
  }
  setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listener.get(), to.sa(), to.len) != 0 || ::listen(listener.get(), 4) != 0) {
    ADD_FAILURE() << "tcp bind/listen: " << std::strerror(errno);
    return false;
  }
  if (::connect(client.get(), to.sa(), to.len) != 0) {
    ADD_FAILURE() << "tcp connect: " << std::strerror(errno);
    return false;
  }
  UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!server) {
    ADD_FAILURE() << "tcp accept: " << std::strerror(errno);
    return false;
  }
  test::setTimeouts(server.get(), std::chrono::seconds(3));
  if (::send(client.get(), "hello", 5, 0) != 5) {
    return false;
  }
  char buf[8] = {};
  std::size_t got = 0;
  for (int i = 0; i < 5 && got < 5; ++i) {  // bounded: at most 5 reads of <= 3 s each
    const ssize_t n = ::recv(server.get(), buf + got, 5 - got, 0);
    if (n <= 0) {
      break;
    }
    got += static_cast<std::size_t>(n);
  }
  return got == 5 && std::memcmp(buf, "hello", 5) == 0;
}

xfp_parse_counters sumCounters(int statsFd) {
  const std::uint32_t key = 0;
  auto per = lookupPerCpu<xfp_parse_counters>(statsFd, key);
  EXPECT_TRUE(per) << (per ? "" : per.error().describe());
  xfp_parse_counters s{};
  if (per) {
    for (const auto& c : *per) {
      s.total += c.total;
      s.ipv4 += c.ipv4;
      s.ipv6 += c.ipv6;
      s.tcp += c.tcp;
      s.udp += c.udp;
      s.icmp += c.icmp;
      s.icmpv6 += c.icmpv6;
      s.malformed += c.malformed;
      s.other_l3 += c.other_l3;
    }
  }
  return s;
}

TEST(Dataplane, XdpAndTcSeeRealTrafficAndPassIt) {
  XFP_REQUIRE_ROOT();
  VethNamespaces ns;
  const std::string setUpError = ns.setUp();
  ASSERT_EQ(setUpError, "");

  auto xdpSkel = Skeleton<xfp_xdp>::openAndLoad("xfp_xdp");
  ASSERT_TRUE(xdpSkel) << xdpSkel.error().describe();
  auto tcSkel = Skeleton<xfp_tc>::openAndLoad("xfp_tc");
  ASSERT_TRUE(tcSkel) << tcSkel.error().describe();

  // Attachments are made and removed inside their namespace (netlink talks to the calling
  // thread's namespace); deleting the namespaces would remove them too.
  std::optional<XdpAttachment> xdp;
  std::optional<TcAttachment> tc;
  const ScopeExit detach([&] {
    (void)VethNamespaces::runIn(ns.nsA(), [&] { xdp.reset(); });
    (void)VethNamespaces::runIn(ns.nsB(), [&] { tc.reset(); });
  });
  std::string attachError;
  ASSERT_EQ(VethNamespaces::runIn(ns.nsA(),
                                  [&] {
                                    auto a = XdpAttachment::attach(
                                        static_cast<int>(::if_nametoindex(ns.linkA().c_str())),
                                        bpf_program__fd((*xdpSkel)->progs.xfp_xdp_in),
                                        "xfp_xdp_in",
                                        XDP_FLAGS_DRV_MODE);
                                    if (a) {
                                      xdp.emplace(std::move(*a));
                                    } else {
                                      attachError = a.error().describe();
                                    }
                                  }),
            "");
  ASSERT_TRUE(xdp) << attachError;
  ASSERT_EQ(VethNamespaces::runIn(ns.nsB(),
                                  [&] {
                                    auto a = TcAttachment::attach(
                                        static_cast<int>(::if_nametoindex(ns.linkB().c_str())),
                                        bpf_program__fd((*tcSkel)->progs.xfp_tc_out),
                                        "xfp_tc_out",
                                        BPF_TC_EGRESS);
                                    if (a) {
                                      tc.emplace(std::move(*a));
                                    } else {
                                      attachError = a.error().describe();
                                    }
                                  }),
            "");
  ASSERT_TRUE(tc) << attachError;
  EXPECT_TRUE(tc->createdHook());

  // Traffic from B to A: through tc egress on B, then XDP on A.
  constexpr int kPings = 3;
  EXPECT_EQ(VethNamespaces::run("ip netns exec " + ns.nsB() + " ping -q -c 3 -i 0.2 -W 2 " +
                                VethNamespaces::kAddr4A + " >/dev/null"),
            0);
  EXPECT_EQ(VethNamespaces::run("ip netns exec " + ns.nsB() + " ping -6 -q -c 3 -i 0.2 -W 2 " +
                                VethNamespaces::kAddr6A + " >/dev/null"),
            0);
  constexpr int kUdp4 = 40;
  constexpr int kUdp6 = 20;
  EXPECT_EQ(udpExchange(ns, VethNamespaces::kAddr4A, 40001, kUdp4), kUdp4);
  EXPECT_EQ(udpExchange(ns, VethNamespaces::kAddr6A, 40002, kUdp6), kUdp6);
  EXPECT_TRUE(tcpExchange(ns, VethNamespaces::kAddr4A, 40003));
  EXPECT_TRUE(tcpExchange(ns, VethNamespaces::kAddr6A, 40004));

  const xfp_parse_counters seenXdp = sumCounters(bpf_map__fd((*xdpSkel)->maps.xfp_stats));
  const xfp_parse_counters seenTc = sumCounters(bpf_map__fd((*tcSkel)->maps.xfp_stats));
  for (const auto& [name, c] :
       {std::pair{"xfp_xdp_in", seenXdp}, std::pair{"xfp_tc_out", seenTc}}) {
    SCOPED_TRACE(name);
    EXPECT_GE(c.icmp, static_cast<__u64>(kPings));
    EXPECT_GE(c.icmpv6, static_cast<__u64>(kPings));
    EXPECT_GE(c.udp, static_cast<__u64>(kUdp4 + kUdp6));
    EXPECT_GE(c.tcp, 2U * 3U);  // per connection at least SYN, ACK, data
    EXPECT_GE(c.ipv4, static_cast<__u64>(kPings + kUdp4 + 3));
    EXPECT_GE(c.ipv6, static_cast<__u64>(kPings + kUdp6 + 3));
    EXPECT_EQ(c.malformed, 0U);
    EXPECT_GE(c.total, c.ipv4 + c.ipv6);
  }
}

TEST(Dataplane, AttachmentsCleanUpAfterThemselves) {
  XFP_REQUIRE_ROOT();
  VethNamespaces ns;
  ASSERT_EQ(ns.setUp(), "");
  auto tcSkel = Skeleton<xfp_tc>::openAndLoad("xfp_tc");
  ASSERT_TRUE(tcSkel) << tcSkel.error().describe();
  auto xdpSkel = Skeleton<xfp_xdp>::openAndLoad("xfp_xdp");
  ASSERT_TRUE(xdpSkel) << xdpSkel.error().describe();
  std::string problems;
  ASSERT_EQ(
      VethNamespaces::runIn(
          ns.nsB(),
          [&] {
            const int ifindex = static_cast<int>(::if_nametoindex(ns.linkB().c_str()));
            {
              auto x = XdpAttachment::attach(
                  ifindex, bpf_program__fd((*xdpSkel)->progs.xfp_xdp_in), "xfp_xdp_in");
              auto t = TcAttachment::attach(
                  ifindex, bpf_program__fd((*tcSkel)->progs.xfp_tc_out), "xfp_tc_out");
              if (!x || !t) {
                problems = "attach failed";
                return;
              }
              // A second XDP program on the same interface is refused, not swapped in.
              auto again = XdpAttachment::attach(
                  ifindex, bpf_program__fd((*xdpSkel)->progs.xfp_xdp_in), "xfp_xdp_in");
              if (again) {
                problems += "second XDP attach succeeded; ";
              }
            }
            __u32 progId = 1;
            if (bpf_xdp_query_id(ifindex, 0, &progId) != 0 || progId != 0) {
              problems += "XDP program still attached; ";
            }
            bpf_tc_hook hook{};
            hook.sz = sizeof(hook);
            hook.ifindex = ifindex;
            hook.attach_point = BPF_TC_EGRESS;
            bpf_tc_opts query{};
            query.sz = sizeof(query);
            query.handle = 1;
            query.priority = 1;
            if (bpf_tc_query(&hook, &query) != -ENOENT && bpf_tc_query(&hook, &query) != -EINVAL) {
              problems += "tc filter still attached; ";
            }
          }),
      "");
  EXPECT_EQ(problems, "");
  // The clsact qdisc we created is gone as well.
  EXPECT_NE(VethNamespaces::run("tc -n " + ns.nsB() + " qdisc show dev " + ns.linkB() +
                                " | grep -q clsact"),
            0);
}

}  // namespace
}  // namespace xfp::dataplane
