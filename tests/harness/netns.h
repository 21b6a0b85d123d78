// Two network namespaces joined by a veth pair, for integration tests. Names are unique per
// process and fixture (xfpt<pid>x<n>a / ...b, <= 15 chars, used for both the namespace and its
// veth end); addresses 10.199.0.1|2/24 and fd00:199::1|2/64 live inside the namespaces only.
// Everything is removed in the destructor, also after a failed setUp(). Code runs inside a
// namespace on a short-lived thread (setns affects only the calling thread), so /sys/fs/bpf and
// the test process's own namespace stay untouched.
#pragma once

#include <functional>
#include <string>

namespace xfp::test {

class VethNamespaces {
 public:
  VethNamespaces();
  VethNamespaces(const VethNamespaces&) = delete;
  VethNamespaces& operator=(const VethNamespaces&) = delete;
  ~VethNamespaces();

  // Creates the namespaces, the veth pair and the addresses; on failure returns a message (and
  // whatever was created is still removed by the destructor). Empty string on success.
  [[nodiscard]] std::string setUp();

  [[nodiscard]] const std::string& nsA() const { return nsA_; }
  [[nodiscard]] const std::string& nsB() const { return nsB_; }
  // The veth end inside each namespace has the namespace's name.
  [[nodiscard]] const std::string& linkA() const { return nsA_; }
  [[nodiscard]] const std::string& linkB() const { return nsB_; }

  static constexpr const char* kAddr4A = "10.199.0.1";
  static constexpr const char* kAddr4B = "10.199.0.2";
  static constexpr const char* kAddr6A = "fd00:199::1";
  static constexpr const char* kAddr6B = "fd00:199::2";

  // Runs fn on a thread that entered namespace ns; returns "" or why it could not enter.
  [[nodiscard]] static std::string runIn(const std::string& ns, const std::function<void()>& fn);

  // ifindex of link inside namespace ns (0 if not found).
  [[nodiscard]] static int ifindexIn(const std::string& ns, const std::string& link);

  // Runs a shell command with a time limit (seconds); returns its exit status (-1 on error).
  static int run(const std::string& command, int timeoutSeconds = 20);

 private:
  std::string nsA_;
  std::string nsB_;
  bool createdA_ = false;
  bool createdB_ = false;
};

}  // namespace xfp::test
