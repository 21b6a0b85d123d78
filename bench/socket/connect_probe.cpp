#include "bench/socket/connect_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <new>

#include <fmt/format.h>

#include "tests/harness/netns.h"

namespace xfp::bench::sock {
namespace {

using Clock = std::chrono::steady_clock;

// The child's own time limit; the benchmark waits a little longer before it kills the child.
constexpr int kChildSeconds = 60;
constexpr auto kChildWait = std::chrono::seconds(kChildSeconds + 15);

uint64_t monoNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

void pinSelf(int cpu) {
  if (cpu < 0) {
    return;
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)::sched_setaffinity(0, sizeof set, &set);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// AcceptLoop

std::string AcceptLoop::start(const std::string& ns,
                              uint16_t port,
                              int cpu,
                              std::chrono::seconds limit) {
  std::string error;
  const std::string entered = test::VethNamespaces::runIn(ns, [&] {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      error = fmt::format("socket: {}", std::strerror(errno));
      return;
    }
    const int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in at{};
    at.sin_family = AF_INET;
    at.sin_port = htons(port);
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 || ::listen(fd_, 4096) != 0) {
      error = fmt::format("listen on 127.0.0.1:{} in {}: {}", port, ns, std::strerror(errno));
    }
  });
  if (!entered.empty() || !error.empty()) {
    return !entered.empty() ? entered : error;
  }
  thread_ = std::thread([this, cpu, until = Clock::now() + limit] { loop(cpu, until); });
  return {};
}

void AcceptLoop::loop(int cpu, Clock::time_point until) {
  if (cpu >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  }
  while (!stop_.load() && Clock::now() < until) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) {
      continue;
    }
    for (int i = 0; i < 1024; ++i) {  // bounded: back to poll (and the stop flag) now and then
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        break;
      }
      ::close(c);
      accepted_.fetch_add(1);
    }
  }
}

void AcceptLoop::stop() {
  stop_.store(true);
  if (thread_.joinable()) {
    thread_.join();
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

// ---------------------------------------------------------------------------------------------
// ClientRunner

struct ClientRunner::Shared {
  std::atomic<int> stop{0};
  uint64_t attempted = 0;
  uint64_t failed = 0;
  uint64_t measured = 0;
  uint64_t loopNs = 0;
  int firstErrno = 0;
  int done = 0;
};

ClientRunner::ClientRunner(size_t maxConnects) : max_(maxConnects) {
  bytes_ = sizeof(Shared) + (maxConnects + 1) * sizeof(uint64_t);
  void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return;
  }
  shared_ = new (p) Shared();
  samples_ = reinterpret_cast<uint64_t*>(static_cast<char*>(p) + sizeof(Shared));
}

ClientRunner::~ClientRunner() {
  if (shared_ != nullptr) {
    shared_->~Shared();
    ::munmap(shared_, bytes_);
  }
}

void ClientRunner::requestStop() {
  if (shared_ != nullptr) {
    shared_->stop.store(1);
  }
}

ClientRun ClientRunner::run(test::TestCgroup& cgroup,
                            const std::string& ns,
                            uint16_t port,
                            size_t warmup,
                            size_t count,
                            int cpu) {
  ClientRun out;
  if (shared_ == nullptr) {
    out.error = "no shared memory";
    return out;
  }
  count = std::min(count, max_);
  Shared* sh = shared_;
  uint64_t* samples = samples_;
  sh->attempted = sh->failed = sh->measured = sh->loopNs = 0;
  sh->firstErrno = 0;
  sh->done = 0;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const timeval sendTimeout{2, 0};  // a connect() never blocks longer than this

  // The child: system calls only (it is a fork of a multi-threaded process).
  const pid_t pid = cgroup.spawnInside(ns, [=]() -> int {
    pinSelf(cpu);
    const uint64_t deadline = monoNs() + kChildSeconds * 1000000000ull;
    uint64_t loopStart = monoNs();
    const size_t total = warmup + count;
    for (size_t i = 0; i < total; ++i) {
      if (i == warmup) {
        loopStart = monoNs();
      }
      if (sh->stop.load(std::memory_order_relaxed) != 0 || monoNs() > deadline) {
        break;
      }
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        sh->failed++;
        sh->firstErrno = sh->firstErrno != 0 ? sh->firstErrno : errno;
        continue;
      }
      ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, sizeof sendTimeout);
      const uint64_t t0 = monoNs();
      const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);
      const uint64_t t1 = monoNs();
      const int err = errno;
      sh->attempted++;
      if (rc != 0) {
        sh->failed++;
        sh->firstErrno = sh->firstErrno != 0 ? sh->firstErrno : err;
      } else if (i >= warmup) {
        samples[sh->measured++] = t1 - t0;
      }
      ::close(fd);
    }
    sh->loopNs = monoNs() - loopStart;
    sh->done = 1;
    return 0;
  });
  if (pid < 0) {
    out.error = "fork into the cgroup failed";
    return out;
  }
  std::string why;
  const int rc = cgroup.wait(pid, kChildWait, &why);
  if (rc != 0) {
    out.error = rc == test::TestCgroup::kJoinFailed    ? "the child could not join the cgroup"
                : rc == test::TestCgroup::kNetnsFailed ? "the child could not enter " + ns
                : !why.empty()                         ? why
                                                       : fmt::format("child exit code {}", rc);
  }
  out.attempted = sh->attempted;
  out.failed = sh->failed;
  out.firstErrno = sh->firstErrno;
  out.loopSeconds = static_cast<double>(sh->loopNs) / 1e9;
  out.connectNs.assign(samples, samples + std::min<uint64_t>(sh->measured, count));
  return out;
}

uint64_t percentile(const std::vector<uint64_t>& sorted, double p) {
  if (sorted.empty()) {
    return 0;
  }
  const double rank = std::ceil(p * static_cast<double>(sorted.size()));
  const size_t i = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace xfp::bench::sock
