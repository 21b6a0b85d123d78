#include "tests/harness/netns.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include <fmt/core.h>

namespace xfp::test {
namespace {

std::atomic<int> gCounter{0};

}  // namespace

VethNamespaces::VethNamespaces() {
  const int n = gCounter.fetch_add(1);
  const std::string base = fmt::format("xfpt{}x{}", ::getpid(), n);
  nsA_ = base + "a";
  nsB_ = base + "b";
}

VethNamespaces::~VethNamespaces() {
  // Deleting a namespace destroys the veth end inside it, and with it the peer.
  if (createdA_) {
    run("ip netns del " + nsA_ + " 2>/dev/null");
  }
  if (createdB_) {
    run("ip netns del " + nsB_ + " 2>/dev/null");
  }
}

int VethNamespaces::run(const std::string& command, int timeoutSeconds) {
  const std::string full = fmt::format("timeout {} sh -c '{}'", timeoutSeconds, command);
  const int status = std::system(full.c_str());
  if (status == -1 || !WIFEXITED(status)) {
    return -1;
  }
  return WEXITSTATUS(status);
}

std::string VethNamespaces::setUp() {
  if (nsA_.size() > 15 || nsB_.size() > 15) {
    return "namespace/link name longer than 15 characters: " + nsA_;
  }
  if (run("ip netns add " + nsA_) != 0) {
    return "ip netns add " + nsA_ + " failed";
  }
  createdA_ = true;
  if (run("ip netns add " + nsB_) != 0) {
    return "ip netns add " + nsB_ + " failed";
  }
  createdB_ = true;
  const std::string cmds[] = {
      fmt::format(
          "ip link add {} netns {} type veth peer name {} netns {}", nsA_, nsA_, nsB_, nsB_),
      fmt::format("ip -n {0} link set lo up && ip -n {0} link set {0} up", nsA_),
      fmt::format("ip -n {0} link set lo up && ip -n {0} link set {0} up", nsB_),
      fmt::format("ip -n {} addr add {}/24 dev {}", nsA_, kAddr4A, nsA_),
      fmt::format("ip -n {} addr add {}/24 dev {}", nsB_, kAddr4B, nsB_),
      fmt::format("ip -n {} addr add {}/64 dev {} nodad", nsA_, kAddr6A, nsA_),
      fmt::format("ip -n {} addr add {}/64 dev {} nodad", nsB_, kAddr6B, nsB_),
  };
  for (const std::string& c : cmds) {
    if (run(c) != 0) {
      return "failed: " + c;
    }
  }
  return {};
}

std::string VethNamespaces::runIn(const std::string& ns, const std::function<void()>& fn) {
  std::string error;
  std::thread worker([&] {
    const std::string path = "/run/netns/" + ns;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      error = "open " + path + " failed";
      return;
    }
    const int rc = ::setns(fd, CLONE_NEWNET);
    ::close(fd);
    if (rc != 0) {
      error = "setns " + path + " failed";
      return;
    }
    fn();  // the thread ends afterwards, taking its namespace with it
  });
  worker.join();
  return error;
}

int VethNamespaces::ifindexIn(const std::string& ns, const std::string& link) {
  int index = 0;
  (void)runIn(ns, [&] { index = static_cast<int>(::if_nametoindex(link.c_str())); });
  return index;
}

}  // namespace xfp::test
