// A cgroup v2 directory of a test's own (xfpt<pid>c<n> below the cgroup v2 mount), for tests
// that attach cgroup BPF programs: children forked into it are the only processes those programs
// see. The test process itself stays outside. The destructor kills the children it spawned that
// are still alive, moves any other process left inside to the parent cgroup and removes the
// directory (also after a failed setUp()).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace xfp::dataplane {
class OwnedCgroup;
}

namespace xfp::test {

class TestCgroup {
 public:
  TestCgroup();
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;
  ~TestCgroup();

  // Finds (or, if there is none, mounts on /run/xfp/cgroup2) the cgroup v2 hierarchy and creates
  // the directory. Empty string on success, else why not.
  [[nodiscard]] std::string setUp();

  [[nodiscard]] const std::string& path() const { return path_; }

  // Forks a child that joins the cgroup, enters network namespace `netns` (a name under
  // /run/netns; empty: stays in the test's namespace), runs fn and exits with its return value
  // (a failure to join or enter: exit code 120 / 121). Returns the child's pid, -1 on failure.
  // The child is a fork of a multi-threaded process: fn should stick to system calls and
  // memory prepared before the fork.
  pid_t spawnInside(const std::string& netns, const std::function<int()>& fn);

  // Waits for a child of spawnInside() at most `timeout`; kills it (by pid) when the time is up.
  // Returns its exit code, -1 if it was killed, died of a signal or could not be waited for
  // (`why` says which, if given).
  int wait(pid_t pid, std::chrono::milliseconds timeout, std::string* why = nullptr);

  // spawnInside() + wait().
  int runInside(const std::string& netns,
                const std::function<int()>& fn,
                std::chrono::milliseconds timeout = std::chrono::seconds(20),
                std::string* why = nullptr);

  static constexpr int kJoinFailed = 120;
  static constexpr int kNetnsFailed = 121;

 private:
  std::unique_ptr<dataplane::OwnedCgroup> dir_;
  std::string path_;  // our directory
  bool created_ = false;
  std::vector<pid_t> children_;
};

}  // namespace xfp::test
