#include "tests/harness/cgroup.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

#include <fmt/core.h>

#include "userspace/dataplane/cgroup2.h"

namespace xfp::test {
namespace {

std::atomic<int> gCounter{0};

bool writeAll(int fd, const char* s) {
  const size_t len = std::strlen(s);
  return ::write(fd, s, len) == static_cast<ssize_t>(len);
}

}  // namespace

TestCgroup::TestCgroup() = default;

TestCgroup::~TestCgroup() {
  for (pid_t pid : children_) {
    if (::waitpid(pid, nullptr, WNOHANG) == 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  dir_.reset();  // moves what is still inside to the parent and removes the directory
}

std::string TestCgroup::setUp() {
  std::string error;
  dir_ = dataplane::OwnedCgroup::create(fmt::format("xfpt{}c{}", ::getpid(), gCounter.fetch_add(1)),
                                        &error);
  if (!dir_) {
    return error;
  }
  path_ = dir_->path();
  created_ = true;
  return {};
}

pid_t TestCgroup::spawnInside(const std::string& netns, const std::function<int()>& fn) {
  if (!created_) {
    return -1;
  }
  // Everything the child needs is prepared here: after fork() it only makes system calls.
  const std::string procs = path_ + "/cgroup.procs";
  const std::string nsPath = netns.empty() ? std::string() : "/run/netns/" + netns;
  const pid_t pid = ::fork();
  if (pid < 0) {
    return -1;
  }
  if (pid == 0) {
    const int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || !writeAll(fd, "0")) {
      ::_exit(kJoinFailed);
    }
    ::close(fd);
    if (!nsPath.empty()) {
      const int ns = ::open(nsPath.c_str(), O_RDONLY | O_CLOEXEC);
      if (ns < 0 || ::setns(ns, CLONE_NEWNET) != 0) {
        ::_exit(kNetnsFailed);
      }
      ::close(ns);
    }
    ::_exit(fn());
  }
  children_.push_back(pid);
  return pid;
}

int TestCgroup::wait(pid_t pid, std::chrono::milliseconds timeout, std::string* why) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      break;
    }
    if (r < 0) {
      if (why != nullptr) {
        *why = fmt::format("waitpid {}: {}", pid, std::strerror(errno));
      }
      return -1;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      children_.erase(std::remove(children_.begin(), children_.end(), pid), children_.end());
      if (why != nullptr) {
        *why = fmt::format("child {} killed after {} ms", pid, timeout.count());
      }
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  children_.erase(std::remove(children_.begin(), children_.end(), pid), children_.end());
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (why != nullptr) {
    *why =
        fmt::format("child {} died of signal {}", pid, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  }
  return -1;
}

int TestCgroup::runInside(const std::string& netns,
                          const std::function<int()>& fn,
                          std::chrono::milliseconds timeout,
                          std::string* why) {
  const pid_t pid = spawnInside(netns, fn);
  if (pid < 0) {
    if (why != nullptr) {
      *why = "fork failed or no cgroup";
    }
    return -1;
  }
  return wait(pid, timeout, why);
}

}  // namespace xfp::test
