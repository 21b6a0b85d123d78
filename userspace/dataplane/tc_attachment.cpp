#include "userspace/dataplane/tc_attachment.h"

#include <cerrno>
#include <string>
#include <utility>

namespace xfp::dataplane {
namespace {

bpf_tc_hook makeHook(int ifindex, bpf_tc_attach_point point) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = point;
  return hook;
}

}  // namespace

BpfResult<TcAttachment> TcAttachment::attach(int ifindex,
                                             int progFd,
                                             std::string progName,
                                             bpf_tc_attach_point point,
                                             std::uint32_t handle,
                                             std::uint32_t priority) {
  const std::string where =
      " ifindex " + std::to_string(ifindex) + (point == BPF_TC_EGRESS ? " egress" : " ingress");
  bpf_tc_hook hook = makeHook(ifindex, point);
  bool created = false;
  int err = bpf_tc_hook_create(&hook);
  if (err == 0) {
    created = true;
  } else if (err != -EEXIST) {  // an existing clsact qdisc is someone else's: keep it
    return bpfFailure(err, "create clsact on" + where);
  }

  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.prog_fd = progFd;
  opts.handle = handle;
  opts.priority = priority;
  err = bpf_tc_attach(&hook, &opts);
  if (err != 0) {
    if (created) {
      hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
      bpf_tc_hook_destroy(&hook);
    }
    return bpfFailure(err, "attach tc " + progName + " to" + where);
  }

  TcAttachment a;
  a.ifindex_ = ifindex;
  a.point_ = point;
  a.handle_ = opts.handle;
  a.priority_ = opts.priority;
  a.createdHook_ = created;
  a.progName_ = std::move(progName);
  return a;
}

TcAttachment::TcAttachment(TcAttachment&& other) noexcept
    : ifindex_(std::exchange(other.ifindex_, 0)),
      point_(other.point_),
      handle_(other.handle_),
      priority_(other.priority_),
      createdHook_(std::exchange(other.createdHook_, false)),
      progName_(std::move(other.progName_)) {}

TcAttachment& TcAttachment::operator=(TcAttachment&& other) noexcept {
  if (this != &other) {
    (void)detach();
    ifindex_ = std::exchange(other.ifindex_, 0);
    point_ = other.point_;
    handle_ = other.handle_;
    priority_ = other.priority_;
    createdHook_ = std::exchange(other.createdHook_, false);
    progName_ = std::move(other.progName_);
  }
  return *this;
}

TcAttachment::~TcAttachment() {
  (void)detach();
}

BpfResult<void> TcAttachment::detach() {
  if (ifindex_ <= 0) {
    return {};
  }
  const int ifindex = std::exchange(ifindex_, 0);
  bpf_tc_hook hook = makeHook(ifindex, point_);
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = handle_;
  opts.priority = priority_;
  const int err = bpf_tc_detach(&hook, &opts);
  if (std::exchange(createdHook_, false)) {
    hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
    bpf_tc_hook_destroy(&hook);
  }
  if (err != 0) {
    return bpfFailure(err, "detach tc " + progName_ + " from ifindex " + std::to_string(ifindex));
  }
  return {};
}

}  // namespace xfp::dataplane
