// XdpAttachment: one XDP program attached to an interface with bpf_xdp_attach (no libxdp
// dispatcher: freplace is refused on our kernels, see shared/baselines.md). Detaches in the
// destructor, and only if our program is still the one attached (XDP_FLAGS_REPLACE).
#pragma once

#include <linux/if_link.h>

#include <cstdint>
#include <string>

#include "userspace/dataplane/bpf_error.h"
#include "userspace/dataplane/unique_fd.h"

namespace xfp::dataplane {

class XdpAttachment {
 public:
  // Attaches progFd to ifindex; mode is XDP_FLAGS_DRV_MODE (native), XDP_FLAGS_SKB_MODE or 0.
  // Fails with EBUSY if another program is attached. The program fd is duplicated.
  [[nodiscard]] static BpfResult<XdpAttachment> attach(int ifindex,
                                                       int progFd,
                                                       std::string progName,
                                                       std::uint32_t mode = XDP_FLAGS_DRV_MODE);

  XdpAttachment(XdpAttachment&& other) noexcept;
  XdpAttachment& operator=(XdpAttachment&& other) noexcept;
  XdpAttachment(const XdpAttachment&) = delete;
  XdpAttachment& operator=(const XdpAttachment&) = delete;
  ~XdpAttachment();

  // Detaches now (idempotent); the destructor calls it and ignores the result.
  [[nodiscard]] BpfResult<void> detach();

  [[nodiscard]] int ifindex() const noexcept { return ifindex_; }

 private:
  XdpAttachment(int ifindex, UniqueFd prog, std::string progName, std::uint32_t mode)
      : ifindex_(ifindex), prog_(std::move(prog)), progName_(std::move(progName)), mode_(mode) {}

  int ifindex_ = 0;
  UniqueFd prog_;
  std::string progName_;
  std::uint32_t mode_ = 0;
};

}  // namespace xfp::dataplane
