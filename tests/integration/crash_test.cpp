// Integration: what a crashing plugin takes down and what it does not. xfp-enforce hosts a plugin
// whose classifyFn raises SIGSEGV on a given datagram, with its BPF objects pinned. After the crash
// the process is gone, the pinned fast path still enforces the static filters, and the traffic the
// dead callout decided is blocked (WFP's unregistered-callout rule: fail closed), because the
// runtime's heartbeat stops (and permitted where the filter has PERMIT_IF_CALLOUT_UNREGISTERED).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/harness/netns.h"
#include "tests/harness/sockets.h"
#include "tests/harness/test_env.h"

namespace xfp::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPolicy = R"({"xfp_policy": 1,
  "callouts": [{"key": "2c7e5a10-93d4-4b6f-8e21-7a0d5c3f9b42", "name": "crashy",
                "layer": "INBOUND_TRANSPORT_V4"}],
  "filters": [
    {"name": "to the crashy callout", "layer": "INBOUND_TRANSPORT_V4",
     "action": "callout_terminating", "callout": "crashy",
     "conditions": [{"field": "IP_PROTOCOL", "value": "udp"}, {"field": "IP_LOCAL_PORT", "value": 7201}]},
    {"name": "to the crashy callout, permit without it", "layer": "INBOUND_TRANSPORT_V4",
     "action": "callout_terminating", "callout": "crashy",
     "flags": ["PERMIT_IF_CALLOUT_UNREGISTERED"],
     "conditions": [{"field": "IP_PROTOCOL", "value": "udp"}, {"field": "IP_LOCAL_PORT", "value": 7204}]},
    {"name": "static block", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
     "conditions": [{"field": "IP_PROTOCOL", "value": "udp"}, {"field": "IP_LOCAL_PORT", "value": 7202}]}]})";

TEST(CalloutCrash, FastPathSurvivesAndFailsClosed) {
  XFP_REQUIRE_ROOT();
  VethNamespaces ns;
  ASSERT_EQ(ns.setUp(), "");
  const std::string pin = "/sys/fs/bpf/xfpt-crash-" + std::to_string(::getpid());
  const std::string policyPath = "/tmp/xfpt-crash-" + std::to_string(::getpid()) + ".json";
  std::ofstream(policyPath) << kPolicy;
  const std::string enforce = binaryDir() + "/tools/enforce/xfp-enforce";
  const std::string plugin = binaryDir() + "/tests/integration/xfp_test_crash.so";

  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  const std::string netns = "--net=/run/netns/" + ns.nsA();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    // nsenter keeps /sys/fs/bpf (ip netns exec would mount a fresh /sys).
    ::execlp("nsenter",
             "nsenter",
             netns.c_str(),
             enforce.c_str(),
             "--policy",
             policyPath.c_str(),
             "--interface",
             ns.linkA().c_str(),
             "--pin",
             pin.c_str(),
             "--duration",
             "60",
             "--plugin",
             plugin.c_str(),
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  // Wait (bounded) for the "enforcing" line.
  std::string log;
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (log.find("enforcing") == std::string::npos && std::chrono::steady_clock::now() < until) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 200) == 1) {
      char buf[512];
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) {
        break;
      }
      log.append(buf, static_cast<size_t>(n));
    }
  }
  ASSERT_NE(log.find("enforcing"), std::string::npos) << log;

  // Alive: the callout decides, the static filter blocks, other traffic passes.
  EXPECT_TRUE(udpArrives(ns, 7201, 400ms, "ok before the crash"));
  EXPECT_FALSE(udpArrives(ns, 7201, 400ms, "no thanks"));
  EXPECT_FALSE(udpArrives(ns, 7202, 400ms, "ok but statically blocked"));
  EXPECT_TRUE(udpArrives(ns, 7203, 400ms, "unfiltered"));
  EXPECT_FALSE(udpArrives(ns, 7204, 400ms, "no, says the callout"));

  // The crash: the host process dies of SIGSEGV (not contained in-process).
  EXPECT_FALSE(udpArrives(ns, 7201, 300ms, "crash now"));
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 100 && done == 0; ++i) {
    done = ::waitpid(pid, &status, WNOHANG);
    std::this_thread::sleep_for(50ms);
  }
  if (done == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    ADD_FAILURE() << "the host did not die of the plugin's crash";
  } else {
    // ASan turns the SEGV into an exit with an error report; without it, the signal itself.
    EXPECT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
  }
  ::close(out[0]);

  // After the heartbeat goes stale (1 s): the pinned fast path still enforces the static filters
  // and the dead callout's traffic is blocked (fail closed), unfiltered traffic still flows.
  std::this_thread::sleep_for(1500ms);
  EXPECT_FALSE(udpArrives(ns, 7202, 400ms, "ok but statically blocked"));
  EXPECT_TRUE(udpArrives(ns, 7203, 400ms, "unfiltered after the crash"));
  EXPECT_FALSE(udpArrives(ns, 7201, 400ms, "ok after the crash"));
  // ... unless its filter says PERMIT_IF_CALLOUT_UNREGISTERED.
  EXPECT_TRUE(udpArrives(ns, 7204, 400ms, "no, but nobody asks any more"));

  VethNamespaces::run("rm -rf " + pin);
  ::unlink(policyPath.c_str());
}

}  // namespace
}  // namespace xfp::test
