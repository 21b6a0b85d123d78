#include "userspace/callout/process_identity.h"

#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "userspace/core/security.h"
#include "userspace/core/value_text.h"

namespace xfp::callout {

Bytes ProcessIdentity::appId() const {
  return exePath.empty() ? Bytes{} : appIdFromPath(exePath);
}

Token ProcessIdentity::token() const {
  Token t;
  t.uid = uid;
  t.gids = groups.empty() ? std::vector<uint32_t>{gid} : groups;
  return t;
}

Bytes ProcessIdentity::packageSid() const {
  return cgroupSid(cgroupId);
}

ProcessIdentity identityOf(const xfp_sock_owner& owner) {
  ProcessIdentity id;
  id.known = true;
  id.tgid = owner.tgid;
  id.uid = owner.uid;
  id.gid = owner.gid;
  id.cgroupId = owner.cgroup_id;
  id.comm.assign(owner.comm, strnlen(owner.comm, sizeof owner.comm));
  id.groups.push_back(owner.gid);
  const std::string proc = "/proc/" + std::to_string(owner.tgid);
  char buf[4096];
  const ssize_t n = ::readlink((proc + "/exe").c_str(), buf, sizeof buf - 1);
  if (n > 0) {
    id.exePath.assign(buf, static_cast<size_t>(n));
  }
  // Supplementary groups ("Groups:" of /proc/<pid>/status).
  std::ifstream status(proc + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Groups:", 0) != 0) {
      continue;
    }
    std::istringstream in(line.substr(7));
    uint32_t g = 0;
    while (in >> g) {
      if (g != owner.gid) {
        id.groups.push_back(g);
      }
    }
    break;
  }
  return id;
}

}  // namespace xfp::callout
