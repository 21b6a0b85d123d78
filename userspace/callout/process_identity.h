// The process behind a socket, as the ALE layers' identity fields and metadata see it
// (docs/ale.md "Identity"): ALE_APP_ID is the executable's path (lower-cased UTF-16LE with its
// NUL, as WFP stores app ids), ALE_USER_ID the uid and groups as a token (S-1-22-1-<uid>,
// S-1-22-2-<gid>), ALE_PACKAGE_ID the process's cgroup as an AppContainer-like SID
// (S-1-15-2-<cgroup id>); FWPS_METADATA_FIELD_PROCESS_ID / PROCESS_PATH carry the pid and path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "userspace/core/value.h"
#include "xfp/abi.h"

namespace xfp::callout {

struct ProcessIdentity {
  bool known = false;  // false: every identity field is FWP_EMPTY
  uint32_t tgid = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t cgroupId = 0;
  std::string comm;
  std::string exePath;           // /proc/<tgid>/exe; empty when the process is gone
  std::vector<uint32_t> groups;  // primary gid first, then the supplementary ones

  [[nodiscard]] Bytes appId() const;  // empty when exePath is
  [[nodiscard]] Token token() const;
  [[nodiscard]] Bytes packageSid() const;
};

// Reads the rest of an owner recorded by the socket hooks from /proc (executable path and
// supplementary groups), while the process is still there.
ProcessIdentity identityOf(const xfp_sock_owner& owner);

}  // namespace xfp::callout
