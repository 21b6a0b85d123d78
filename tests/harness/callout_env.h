// A callout-runtime test bed: two namespaces joined by a veth pair (netns.h), the fast path on
// A's end (XDP inbound, tc egress outbound), a CalloutRuntime taking A's punts, and socket
// helpers for traffic B -> A (inbound at A) and A -> B (outbound at A). Everything is torn down
// in the right order (runtime, attachments inside A, namespaces) even when a test fails.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tests/harness/netns.h"
#include "userspace/callout/plugin_host.h"
#include "userspace/callout/runtime.h"
#include "userspace/dataplane/fast_path.h"
#include "userspace/dataplane/unique_fd.h"

namespace xfp::test {

class CalloutEnv {
 public:
  CalloutEnv() = default;
  ~CalloutEnv();
  CalloutEnv(const CalloutEnv&) = delete;
  CalloutEnv& operator=(const CalloutEnv&) = delete;

  // Namespaces, fast path, runtime with `policyJson` (policy file format); "" on success.
  [[nodiscard]] std::string setUp(const std::string& policyJson,
                                  callout::RuntimeOptions options = {});
  void tearDown();

  [[nodiscard]] callout::CalloutRuntime& runtime() { return *runtime_; }
  [[nodiscard]] dataplane::FastPath& fastPath() { return *fp_; }
  [[nodiscard]] const VethNamespaces& ns() const { return ns_; }
  [[nodiscard]] int ifindexA() const { return ifindexA_; }

  // The id of the filter named `name` in the runtime's policy (0 if none).
  [[nodiscard]] uint64_t filterId(const std::string& name);

  // UDP datagrams: B sends each payload to A's port (inbound at A) or A sends to B's port
  // (outbound at A); returns the payloads the receiver got within `wait` after the last send.
  std::vector<std::string> udpToA(uint16_t port,
                                  const std::vector<std::string>& payloads,
                                  std::chrono::milliseconds wait = std::chrono::milliseconds(500));
  std::vector<std::string> udpToB(uint16_t port,
                                  const std::vector<std::string>& payloads,
                                  std::chrono::milliseconds wait = std::chrono::milliseconds(500));
  // The same over IPv6 (fd00:199::1 / ::2).
  std::vector<std::string> udp6ToA(uint16_t port,
                                   const std::vector<std::string>& payloads,
                                   std::chrono::milliseconds wait = std::chrono::milliseconds(500));
  std::vector<std::string> udp6ToB(uint16_t port,
                                   const std::vector<std::string>& payloads,
                                   std::chrono::milliseconds wait = std::chrono::milliseconds(500));

  // A TCP listener in B and a client in A that connects (non-blocking); the caller polls.
  struct TcpAttempt {
    dataplane::UniqueFd listener;
    dataplane::UniqueFd client;
    // True once the client's connect finished successfully (polls up to `timeout`).
    bool connected(std::chrono::milliseconds timeout);
    // True when the listener has a connection to accept within `timeout`.
    bool accepted(std::chrono::milliseconds timeout);
  };
  TcpAttempt tcpFromA(uint16_t port);

 private:
  VethNamespaces ns_;
  std::unique_ptr<dataplane::FastPath> fp_;
  std::unique_ptr<callout::CalloutRuntime> runtime_;
  int ifindexA_ = 0;
};

}  // namespace xfp::test
