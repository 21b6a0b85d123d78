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

  // Takes over the filter at handle/priority if it runs a program named progName (one left by an
  // earlier process, e.g. a crashed xfpd): replaces its program atomically (BPF_TC_F_REPLACE, no
  // moment without a filter). Attaches as attach() does when there is none; fails with EEXIST if
  // the filter there runs another program. Never destroys the clsact qdisc it found.
  [[nodiscard]] static BpfResult<TcAttachment> takeOver(int ifindex,
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

  // Forgets the attachment without detaching: the filter stays in the kernel (and keeps the
  // program alive) after this object and the process are gone, until someone removes it.
  void release() noexcept;

  [[nodiscard]] bool createdHook() const noexcept { return createdHook_; }

 private:
  TcAttachment() = default;
  [[nodiscard]] static BpfResult<TcAttachment> attachImpl(int ifindex,
                                                          int progFd,
                                                          std::string progName,
                                                          bpf_tc_attach_point point,
                                                          std::uint32_t handle,
                                                          std::uint32_t priority,
                                                          bool replace);

  int ifindex_ = 0;
  bpf_tc_attach_point point_ = BPF_TC_EGRESS;
  std::uint32_t handle_ = 0;
  std::uint32_t priority_ = 0;
  bool createdHook_ = false;
  std::string progName_;
};

}  // namespace xfp::dataplane
