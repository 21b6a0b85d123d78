// xfpd's configuration (TOML, examples/xfpd.toml): what to attach to, the policy to start from,
// the plugins to load, where state and the control socket live, and the callout runtime's bounds.
// Unknown keys and wrong types are errors that name the key, so a typo never goes unnoticed.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "userspace/core/result.h"

namespace xfp::daemon {

struct InterfaceConfig {
  std::string name;
  std::string netns;  // a namespace under /run/netns ("" = xfpd's own)
};

struct PluginConfig {
  std::string path;  // absolute, or relative to plugin_dir
  std::string parameters;
};

struct DaemonConfig {
  std::vector<InterfaceConfig> interfaces;
  std::string policyFile;  // a policy file committed at start ("" = none)
  std::string pluginDir = "/usr/local/lib/xfp/plugins";
  std::vector<PluginConfig> plugins;
  std::string stateDir = "/var/lib/xfp";
  std::string pinDir = "/sys/fs/bpf/xfp";
  std::string socketPath = "/run/xfp/xfpd.sock";
  std::string socketGroup;  // may manage besides root ("" = root only)
  unsigned workers = 2;
  std::chrono::milliseconds pendTimeout{30000};
  size_t maxPended = 4096;
  bool dropEvents = true;
  bool allowEvents = false;
  size_t netEventLogSize = 4096;  // the circular net-event log (FwpmNetEventEnum)
  // On SIGTERM: false (default) leaves the pinned data path enforcing the last committed policy
  // for the next xfpd to adopt (wfp-model.md §7.5, BOOTTIME); true detaches and unpins it.
  bool detachOnStop = false;
  std::string logFormat = "text";  // "text" or "json" (one object per line)
  // The cgroup v2 directory whose processes' socket calls get the socket-level ALE layers
  // (bind/connect redirection, resource assignment, endpoint lifetime, process identity at the
  // auth layers; docs/ale.md). "" = none. A socket call waits at most socketWait for the answer.
  std::string cgroup;
  std::chrono::milliseconds socketWait{200};
};

// Parses TOML text; `origin` names the source in error messages.
Result<DaemonConfig> parseConfig(const std::string& text, const std::string& origin);
Result<DaemonConfig> loadConfig(const std::string& path);

}  // namespace xfp::daemon
