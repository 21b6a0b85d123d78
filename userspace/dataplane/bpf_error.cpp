#include "userspace/dataplane/bpf_error.h"

#include <cerrno>
#include <cstring>

namespace xfp::dataplane {

std::string BpfError::describe() const {
  std::string out = operation + ": " + std::strerror(errnoValue);
  if (!detail.empty()) {
    out += '\n';
    out += detail;
  }
  return out;
}

BpfError bpfError(int ret, std::string operation, std::string detail) {
  const int err = ret < -1 ? -ret : (errno != 0 ? errno : EINVAL);
  return BpfError{err, std::move(operation), std::move(detail)};
}

}  // namespace xfp::dataplane
