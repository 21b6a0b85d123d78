// PluginHost: loads callout plugins (.so) the way Windows loads a callout driver: dlopen, then
// DriverEntry(driverObject, registryPath) with a DEVICE_OBJECT made for it; unload calls
// DriverUnload and dlclose()s only when the plugin has no callout registered any more
// (wfp-model.md §5.6). Every call into plugin code is guarded: a C++ exception is caught,
// counted and turned into a failure; a crash (SIGSEGV, abort) is not contained -- the process
// dies, the pinned fast path keeps enforcing and punted traffic falls back to WFP's
// unregistered-callout rule (docs/plugin-guide.md, "What is contained").
#pragma once

#include <fwpsk.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "userspace/core/result.h"

struct DEVICE_OBJECT_ {
  std::string pluginName;
};

namespace xfp::callout {

struct RuntimeImpl;

struct PluginInfo {
  std::string name;
  std::string path;
  std::vector<uint32_t> calloutIds;  // registered through its device object
};

class PluginHost {
 public:
  explicit PluginHost(RuntimeImpl& runtime);
  ~PluginHost();  // unloads every plugin (DriverUnload), in reverse load order

  // Loads `path` and runs its DriverEntry with `parameters` (DRIVER_OBJECT.XfpParameters).
  // The name defaults to the file name without directory and ".so".
  [[nodiscard]] Result<void> load(const std::string& path,
                                  const std::string& parameters = {},
                                  std::string name = {});
  // DriverUnload, then dlclose -- refused (FWP_E_IN_USE) while callouts stay registered.
  [[nodiscard]] Result<void> unload(const std::string& name);
  [[nodiscard]] std::vector<PluginInfo> list() const;

 private:
  struct Plugin;
  RuntimeImpl& runtime_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Plugin>> plugins_;
};

}  // namespace xfp::callout
