#include "userspace/dataplane/cgroup2.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace xfp::dataplane {

std::string cgroup2Root(std::string* error) {
  std::ifstream mounts("/proc/mounts");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream in(line);
    std::string dev, dir, type;
    in >> dev >> dir >> type;
    if (type == "cgroup2") {
      return dir;
    }
  }
  const std::string dir = "/run/xfp/cgroup2";
  ::mkdir("/run/xfp", 0755);
  ::mkdir(dir.c_str(), 0755);
  if (::mount("cgroup2", dir.c_str(), "cgroup2", 0, nullptr) != 0) {
    if (error != nullptr) {
      *error =
          "no cgroup v2 mount, and mounting one on " + dir + " failed: " + std::strerror(errno);
    }
    return "";
  }
  return dir;
}

std::unique_ptr<OwnedCgroup> OwnedCgroup::create(const std::string& name, std::string* error) {
  const std::string root = cgroup2Root(error);
  if (root.empty()) {
    return nullptr;
  }
  const std::string path = root + "/" + name;
  if (::mkdir(path.c_str(), 0755) != 0) {
    if (error != nullptr) {
      *error = "mkdir " + path + ": " + std::strerror(errno);
    }
    return nullptr;
  }
  return std::unique_ptr<OwnedCgroup>(new OwnedCgroup(path, root));
}

bool OwnedCgroup::enter(int pid) const {
  std::ofstream procs(path_ + "/cgroup.procs");
  procs << pid << std::flush;
  return procs.good();
}

OwnedCgroup::~OwnedCgroup() {
  // Processes still inside go back to the parent; a directory with members cannot be removed.
  for (int attempt = 0; attempt < 50; ++attempt) {
    std::vector<int> pids;
    {
      std::ifstream procs(path_ + "/cgroup.procs");
      int pid = 0;
      while (procs >> pid) {
        pids.push_back(pid);
      }
    }
    for (int pid : pids) {
      std::ofstream parent(parent_ + "/cgroup.procs");
      parent << pid << std::flush;
    }
    if (::rmdir(path_.c_str()) == 0 || errno == ENOENT) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace xfp::dataplane
