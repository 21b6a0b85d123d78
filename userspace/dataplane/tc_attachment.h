// TcAttachment: a tc (clsact) BPF classifier attached with bpf_tc_attach (libbpf 1.1 has no tcx
// links). Creates the clsact qdisc when missing and, in the destructor, detaches the filter and
// destroys the qdisc only if this attachment created it (libbpf-bootstrap examples/c/tc.c).
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <string>

#include "userspace/dataplane/bpf_error.h"

namespace xfp::dataplane {

class TcAttachment {
 public:
  // point is BPF_TC_EGRESS or BPF_TC_INGRESS. Fails with EEXIST if a filter with the same
  // handle/priority is there already.
  [[nodiscard]] static BpfResult<TcAttachment> attach(int ifindex,
                                                      int progFd,
                                                      std::string progName,
                                                      bpf_tc_attach_point point = BPF_TC_EGRESS,
                                                      std::uint32_t handle = 1,
                                                      std::uint32_t priority = 1);

  TcAttachment(TcAttachment&& other) noexcept;
  TcAttachment& operator=(TcAttachment&& other) noexcept;
  TcAttachment(const TcAttachment&) = delete;
  TcAttachment& operator=(const TcAttachment&) = delete;
  ~TcAttachment();

  // Detaches now (idempotent); the destructor calls it and ignores the result.
  [[nodiscard]] BpfResult<void> detach();

  [[nodiscard]] bool createdHook() const noexcept { return createdHook_; }

 private:
  TcAttachment() = default;

  int ifindex_ = 0;
  bpf_tc_attach_point point_ = BPF_TC_EGRESS;
  std::uint32_t handle_ = 0;
  std::uint32_t priority_ = 0;
  bool createdHook_ = false;
  std::string progName_;
};

}  // namespace xfp::dataplane
