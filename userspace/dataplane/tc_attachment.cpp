#include "userspace/dataplane/tc_attachment.h"

#include <unistd.h>

#include <bpf/bpf.h>

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

namespace {

// The name of the BPF program with id `id` ("" if it cannot be read).
std::string runningProgName(std::uint32_t id) {
  const int fd = bpf_prog_get_fd_by_id(id);
  if (fd < 0) {
    return {};
  }
  bpf_prog_info info{};
  std::uint32_t len = sizeof(info);
  std::string name;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
    name = info.name;
  }
  ::close(fd);
  return name;
}

}  // namespace

BpfResult<TcAttachment> TcAttachment::attach(int ifindex,
                                             int progFd,
                                             std::string progName,
                                             bpf_tc_attach_point point,
                                             std::uint32_t handle,
                                             std::uint32_t priority) {
  return attachImpl(ifindex, progFd, std::move(progName), point, handle, priority, false);
}

BpfResult<TcAttachment> TcAttachment::takeOver(int ifindex,
                                               int progFd,
                                               std::string name,
                                               bpf_tc_attach_point point,
                                               std::uint32_t handle,
                                               std::uint32_t priority) {
  bpf_tc_hook hook = makeHook(ifindex, point);
  bpf_tc_opts query{};
  query.sz = sizeof(query);
  query.handle = handle;
  query.priority = priority;
  const int err = bpf_tc_query(&hook, &query);
  if (err == 0) {
    // The kernel truncates program names to 15 characters (BPF_OBJ_NAME_LEN - 1).
    const std::string running = runningProgName(query.prog_id);
    if (running.empty() || running != name.substr(0, BPF_OBJ_NAME_LEN - 1)) {
      return bpfFailure(-EEXIST,
                        "take over tc " + name + " on ifindex " + std::to_string(ifindex) +
                            ": the filter at handle " + std::to_string(handle) + " priority " +
                            std::to_string(priority) + " runs " +
                            (running.empty() ? "an unknown program" : running));
    }
    return attachImpl(ifindex, progFd, std::move(name), point, handle, priority, true);
  }
  if (err != -ENOENT && err != -EINVAL) {  // EINVAL: no clsact qdisc yet
    return bpfFailure(err, "query tc filter on ifindex " + std::to_string(ifindex));
  }
  return attachImpl(ifindex, progFd, std::move(name), point, handle, priority, false);
}

BpfResult<TcAttachment> TcAttachment::attachImpl(int ifindex,
                                                 int progFd,
                                                 std::string progName,
                                                 bpf_tc_attach_point point,
                                                 std::uint32_t handle,
                                                 std::uint32_t priority,
                                                 bool replace) {
  const std::string where =
      " ifindex " + std::to_string(ifindex) + (point == BPF_TC_EGRESS ? " egress" : " ingress");
  bpf_tc_hook hook = makeHook(ifindex, point);
  bool created = false;
  // A filter to replace sits in a clsact qdisc already.
  int err = replace ? -EEXIST : bpf_tc_hook_create(&hook);
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
  opts.flags = replace ? BPF_TC_F_REPLACE : 0;
  err = bpf_tc_attach(&hook, &opts);
  if (err != 0) {
    if (created) {
      hook.attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS);
      bpf_tc_hook_destroy(&hook);
    }
    return bpfFailure(err, (replace ? "replace tc " : "attach tc ") + progName + " on" + where);
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

void TcAttachment::release() noexcept {
  ifindex_ = 0;
  createdHook_ = false;
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
