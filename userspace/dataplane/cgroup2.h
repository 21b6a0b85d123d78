// cgroup v2 directories for the socket hooks: where the unified hierarchy is mounted, and a
// directory xfp makes for itself (the demo, tests) and removes again.
#pragma once

#include <memory>
#include <string>

namespace xfp::dataplane {

// The cgroup v2 mount point (from /proc/mounts: /sys/fs/cgroup on a unified system,
// /sys/fs/cgroup/unified on a hybrid one). When none is mounted, mounts one on
// /run/xfp/cgroup2. "" and `error` set when neither works.
std::string cgroup2Root(std::string* error);

// A cgroup directory made below the cgroup v2 root; the destructor moves the processes still in
// it to the parent and removes it.
class OwnedCgroup {
 public:
  [[nodiscard]] static std::unique_ptr<OwnedCgroup> create(const std::string& name,
                                                           std::string* error);
  ~OwnedCgroup();
  OwnedCgroup(const OwnedCgroup&) = delete;
  OwnedCgroup& operator=(const OwnedCgroup&) = delete;

  [[nodiscard]] const std::string& path() const { return path_; }
  // Moves process `pid` (0: the caller) into the cgroup; false with errno on failure.
  bool enter(int pid) const;

 private:
  explicit OwnedCgroup(std::string path, std::string parent)
      : path_(std::move(path)), parent_(std::move(parent)) {}
  std::string path_;
  std::string parent_;
};

}  // namespace xfp::dataplane
