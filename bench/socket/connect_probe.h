// The two ends of xfp_bench_socket's measurement: a TCP listener that accepts (and closes) in a
// loop on a thread of the benchmark, and a client child forked into a test cgroup and a network
// namespace that makes N connect()+close() and times each connect() with clock_gettime. The
// child writes its samples into memory shared with the benchmark (mapped before the fork, so the
// child only makes system calls).
#pragma once

#include <netinet/in.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/cgroup.h"

namespace xfp::bench::sock {

// A listener on 127.0.0.1:port inside namespace `ns`; a thread accepts and closes every
// connection until stop() (or `limit` passes).
class AcceptLoop {
 public:
  AcceptLoop() = default;
  AcceptLoop(const AcceptLoop&) = delete;
  AcceptLoop& operator=(const AcceptLoop&) = delete;
  ~AcceptLoop() { stop(); }

  // Opens the listener and starts the thread (pinned to `cpu` unless < 0). "" or why not.
  [[nodiscard]] std::string start(const std::string& ns,
                                  uint16_t port,
                                  int cpu,
                                  std::chrono::seconds limit = std::chrono::seconds(3600));
  void stop();
  [[nodiscard]] uint64_t accepted() const { return accepted_.load(); }

 private:
  void loop(int cpu, std::chrono::steady_clock::time_point until);

  int fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> accepted_{0};
  std::thread thread_;
};

// What one client child did.
struct ClientRun {
  std::vector<uint64_t> connectNs;  // measured connects that succeeded (not the warm-up)
  uint64_t attempted = 0;           // connect() calls made, warm-up included
  uint64_t failed = 0;              // connect() calls that failed, warm-up included
  int firstErrno = 0;               // errno of the first failure
  double loopSeconds = 0;           // wall time of the measured loop (socket+connect+close)
  std::string error;                // the child could not run or did not finish
};

// Runs client children; owns the shared memory they write into.
class ClientRunner {
 public:
  explicit ClientRunner(size_t maxConnects);
  ~ClientRunner();
  ClientRunner(const ClientRunner&) = delete;
  ClientRunner& operator=(const ClientRunner&) = delete;

  [[nodiscard]] bool ok() const { return shared_ != nullptr; }

  // Forks a child into `cgroup` and namespace `ns` that connects to 127.0.0.1:port `warmup` +
  // `count` times (count <= maxConnects), pinned to `cpu` unless < 0; waits for it (bounded).
  ClientRun run(test::TestCgroup& cgroup,
                const std::string& ns,
                uint16_t port,
                size_t warmup,
                size_t count,
                int cpu);

  // Async-signal-safe: children still running stop after their current connect.
  void requestStop();

 private:
  struct Shared;
  Shared* shared_ = nullptr;
  uint64_t* samples_ = nullptr;
  size_t bytes_ = 0;
  size_t max_ = 0;
};

// Nearest-rank percentile of sorted values (p in [0, 1]).
uint64_t percentile(const std::vector<uint64_t>& sorted, double p);

}  // namespace xfp::bench::sock
