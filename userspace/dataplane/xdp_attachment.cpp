#include "userspace/dataplane/xdp_attachment.h"

#include <fcntl.h>

#include <bpf/libbpf.h>

#include <string>

namespace xfp::dataplane {

BpfResult<XdpAttachment> XdpAttachment::attach(int ifindex,
                                               int progFd,
                                               std::string progName,
                                               std::uint32_t mode) {
  const std::string op = "attach XDP " + progName + " to ifindex " + std::to_string(ifindex);
  UniqueFd prog(::fcntl(progFd, F_DUPFD_CLOEXEC, 0));
  if (!prog) {
    return bpfFailure(-1, op);
  }
  const int err = bpf_xdp_attach(ifindex, prog.get(), mode | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
  if (err != 0) {
    return bpfFailure(err, op);
  }
  return XdpAttachment(ifindex, std::move(prog), std::move(progName), mode);
}

XdpAttachment::XdpAttachment(XdpAttachment&& other) noexcept
    : ifindex_(std::exchange(other.ifindex_, 0)),
      prog_(std::move(other.prog_)),
      progName_(std::move(other.progName_)),
      mode_(other.mode_) {}

XdpAttachment& XdpAttachment::operator=(XdpAttachment&& other) noexcept {
  if (this != &other) {
    (void)detach();
    ifindex_ = std::exchange(other.ifindex_, 0);
    prog_ = std::move(other.prog_);
    progName_ = std::move(other.progName_);
    mode_ = other.mode_;
  }
  return *this;
}

XdpAttachment::~XdpAttachment() {
  (void)detach();
}

BpfResult<void> XdpAttachment::detach() {
  if (ifindex_ <= 0) {
    return {};
  }
  const int ifindex = std::exchange(ifindex_, 0);
  bpf_xdp_attach_opts opts{};
  opts.sz = sizeof(opts);
  opts.old_prog_fd = prog_.get();
  // REPLACE + old_prog_fd: remove only our program, never one somebody attached since.
  const int err = bpf_xdp_detach(ifindex, mode_ | XDP_FLAGS_REPLACE, &opts);
  prog_.reset();
  if (err != 0) {
    return bpfFailure(err, "detach XDP " + progName_ + " from ifindex " + std::to_string(ifindex));
  }
  return {};
}

}  // namespace xfp::dataplane
