// Integration: xfpd as a process, configured to enforce a policy on a veth end inside a test
// namespace: it reports ready, enforces (a blocked and a permitted UDP port), logs the drop as a
// net event, and on SIGTERM with detach_on_stop detaches and exits 0.
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/harness/netns.h"
#include "tests/harness/sockets.h"
#include "tests/harness/test_env.h"

namespace xfp::test {
namespace {

using namespace std::chrono_literals;

// Reads the child's output until `needle` shows up or `limit` passes.
bool waitFor(int fd, std::string& log, const std::string& needle, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (log.find(needle) == std::string::npos && std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) == 1) {
      char buf[1024];
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) {
        break;
      }
      log.append(buf, static_cast<size_t>(n));
    }
  }
  return log.find(needle) != std::string::npos;
}

TEST(Xfpd, EnforcesItsConfigurationAndStopsCleanly) {
  XFP_REQUIRE_ROOT();
  VethNamespaces ns;
  ASSERT_EQ(ns.setUp(), "");
  const std::string base = "/tmp/xfpt-xfpd-" + std::to_string(::getpid());
  std::ofstream(base + ".json") << R"({"xfp_policy": 1, "filters": [
      {"name": "block 7951", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
       "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
                      {"field": "IP_LOCAL_PORT", "value": 7951}]}]})";
  std::ofstream(base + ".toml") << "policy = \"" << base << ".json\"\n"
                                << "pin_dir = \"/sys/fs/bpf/xfpt-xfpd-" << ::getpid() << "\"\n"
                                << "state_dir = \"" << base << "-state\"\n"
                                << "socket = \"" << base << ".sock\"\n"
                                << "detach_on_stop = true\n"
                                << "[[interface]]\nname = \"" << ns.linkA() << "\"\nnetns = \""
                                << ns.nsA() << "\"\n";
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  const std::string xfpd = binaryDir() + "/userspace/daemon/xfpd";
  const std::string config = base + ".toml";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::execl(xfpd.c_str(),
            xfpd.c_str(),
            "--config",
            config.c_str(),
            "--duration",
            "60",
            "--verbose",  // one log line per net event
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string log;
  ASSERT_TRUE(waitFor(out[0], log, "xfpd ready", 20s)) << log;

  EXPECT_FALSE(udpArrives(ns, 7951));
  EXPECT_TRUE(udpArrives(ns, 7952));
  EXPECT_TRUE(waitFor(out[0], log, "net event: drop in proto 17 port", 5s)) << log;

  ::kill(pid, SIGTERM);
  int status = -1;
  for (int i = 0; i < 100 && ::waitpid(pid, &status, WNOHANG) == 0; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  waitFor(out[0], log, "xfpd stopped", 1s);
  ::close(out[0]);
  ASSERT_TRUE(WIFEXITED(status)) << log;
  EXPECT_EQ(WEXITSTATUS(status), 0) << log;
  // Detached: no XDP program on A's end any more, and the port is open again.
  uint32_t progId = 1;
  EXPECT_EQ(VethNamespaces::runIn(ns.nsA(),
                                  [&] {
                                    const int ifindex =
                                        static_cast<int>(::if_nametoindex(ns.linkA().c_str()));
                                    bpf_xdp_query_opts q{};
                                    q.sz = sizeof q;
                                    progId = bpf_xdp_query(ifindex, 0, &q) == 0 ? q.prog_id : 1;
                                  }),
            "");
  EXPECT_EQ(progId, 0u);
  EXPECT_TRUE(udpArrives(ns, 7951));
  ::unlink((base + ".json").c_str());
  ::unlink((base + ".toml").c_str());
  VethNamespaces::run("rm -rf " + base + "-state");
  VethNamespaces::run("rm -rf /sys/fs/bpf/xfpt-xfpd-" + std::to_string(::getpid()));
}

}  // namespace
}  // namespace xfp::test
