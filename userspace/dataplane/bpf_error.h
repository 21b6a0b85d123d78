// BpfError: a failed libbpf/bpf() call as errno + what we were doing ("load xfp_xdp", "attach
// xfp_tc_out to ifindex 3 egress"), plus the verifier log tail when a load fails. libbpf's negative
// returns are converted here once (STYLE §5); core's xfp::Error will wrap this later.
#pragma once

#include <string>

#include <tl/expected.hpp>

namespace xfp::dataplane {

struct BpfError {
  int errnoValue = 0;
  std::string operation;
  std::string detail;  // e.g. the end of the verifier log; may be empty

  // "load xfp_xdp: Permission denied" (+ newline + detail).
  [[nodiscard]] std::string describe() const;
};

template <class T>
using BpfResult = tl::expected<T, BpfError>;

// From a libbpf return value (negative errno) or, for ret == -1 / pointer APIs, from errno.
[[nodiscard]] BpfError bpfError(int ret, std::string operation, std::string detail = {});

[[nodiscard]] inline tl::unexpected<BpfError> bpfFailure(int ret,
                                                         std::string operation,
                                                         std::string detail = {}) {
  return tl::unexpected(bpfError(ret, std::move(operation), std::move(detail)));
}

}  // namespace xfp::dataplane
