// What the service benchmark runs in: its own namespace pair and veth (tests/harness/netns.h), a
// temporary directory for xfpd's configuration, state and socket, a pin directory under
// /sys/fs/bpf, and xfpd as a child process whose output a thread drains continuously (xfpd logs
// every net event: a pipe read only now and then would stall it). Everything is removed on every
// exit path: the destructor kills the child it started (by pid), unpins, deletes the namespaces
// and the directory. Plus the tools the sections share: a UDP prober, the pinned generation, a
// polled control-API answer, and percentiles.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/netns.h"
#include "tests/harness/xfpd_process.h"

namespace xfp::bench::service {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Set by SIGINT/SIGTERM/SIGHUP: every loop ends early, destructors clean up.
extern std::atomic<bool> gStop;
void installStopHandlers();
// Sleeps up to `d`, returning early on a stop request.
void sleepFor(Clock::duration d);
double msBetween(Clock::time_point a, Clock::time_point b);

// xfpd as a child process. Lines containing a watched marker are time-stamped when the drain
// thread reads them (the first time each marker appears), and counted.
class XfpdChild {
 public:
  explicit XfpdChild(std::vector<std::string> markers);
  XfpdChild(const XfpdChild&) = delete;
  XfpdChild& operator=(const XfpdChild&) = delete;
  ~XfpdChild();

  // fork + exec of `xfpd args` (from the calling thread, which must outlive the child: the child
  // gets SIGKILL when it ends). The exec time is taken just before fork. "" or why not.
  std::string start(const std::string& xfpd, const std::vector<std::string>& args);
  [[nodiscard]] Clock::time_point execTime() const { return exec_; }
  // Waits until `marker` has appeared since start() or the child exited or `limit` passed.
  std::optional<Clock::time_point> waitFor(const std::string& marker, milliseconds limit);
  [[nodiscard]] uint64_t count(const std::string& marker);
  // Sends `sig`, reaps (SIGKILL after `limit`); the wait status, or -1.
  int stop(int sig, milliseconds limit = milliseconds(15000));
  [[nodiscard]] bool running() const { return pid_ > 0; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  // The start and the end of the output (for error messages).
  [[nodiscard]] std::string logExcerpt();

 private:
  void drain(int fd);
  std::vector<std::string> markers_;
  pid_t pid_ = -1;
  Clock::time_point exec_{};
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool eof_ = false;
  std::map<std::string, Clock::time_point> first_;
  std::map<std::string, uint64_t> counts_;
  std::string head_, tail_;
};

// Namespaces + veth (10.199.0.1 in A, enforced; 10.199.0.2 in B), a temporary directory and a
// pin directory, unique per process and instance; xfpd configuration files.
class ServiceEnv {
 public:
  ServiceEnv();
  ServiceEnv(const ServiceEnv&) = delete;
  ServiceEnv& operator=(const ServiceEnv&) = delete;
  ~ServiceEnv();
  std::string setUp();  // "" or why not

  [[nodiscard]] const test::VethNamespaces& ns() const { return ns_; }
  [[nodiscard]] const std::string& dir() const { return dir_; }
  [[nodiscard]] const std::string& pinDir() const { return pinDir_; }
  [[nodiscard]] const std::string& socket() const { return socket_; }
  // Writes <dir>/xfpd.toml: the interface in A, pins, state, socket, the policy file if any.
  std::string writeConfig(const std::string& policyFile, bool detachOnStop);
  [[nodiscard]] std::string configPath() const { return dir_ + "/xfpd.toml"; }
  void removePins();

 private:
  test::VethNamespaces ns_;
  std::string dir_, pinDir_, socket_;
  bool made_ = false;
};

// The data-path generation in <pinDir>/maps/xfp_gen (nullopt: nothing pinned there).
std::optional<uint64_t> pinnedGeneration(const std::string& pinDir);

// Polls the control API until a status request is answered: a raw connect() first (cheap), then
// a session and a status RPC. The reply's time, or nullopt after `limit` / a stop request.
struct ApiAnswer {
  Clock::time_point at;
  uint64_t generation = 0;
  bool adopted = false;
};
std::optional<ApiAnswer> pollApi(const std::string& socketPath, milliseconds limit);

// Datagrams from B to A every `period` to a blocked and an open port, each arrival time-stamped,
// to see what passed and how long the open port went without a datagram.
class Prober {
 public:
  Prober() = default;
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;
  ~Prober();
  std::string start(const test::VethNamespaces& ns,
                    uint16_t blockedPort,
                    uint16_t openPort,
                    std::chrono::microseconds period,
                    std::chrono::seconds maxRun);
  void stop();

  struct Window {
    uint64_t sent = 0;  // to each port
    uint64_t blockedThrough = 0;
    uint64_t openReceived = 0;
    double longestOpenGapMs = 0;  // including the window's edges
    std::optional<Clock::time_point> lastBlockedAt;
  };
  Window window(Clock::time_point from, Clock::time_point to);

 private:
  std::atomic<bool> stop_{false};
  std::thread tx_, rxBlocked_, rxOpen_;
  std::mutex mu_;
  std::vector<Clock::time_point> sent_, blocked_, open_;
};

// Nearest-rank percentile (p in 0..100) of `v` (copied, sorted); 0 for an empty vector.
double percentile(std::vector<double> v, double p);

}  // namespace xfp::bench::service
