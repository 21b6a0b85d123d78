// `xfpctl plugin load PATH [--params P] | unload NAME | list`: callout plugins in xfpd.
#pragma once

#include <string>

#include "tools/xfpctl/outcome.h"

namespace xfp::ctl {

struct PluginOptions {
  std::string socket;
  std::string action;  // load | unload | list
  std::string target;  // load: the .so; unload: the plugin's name or path
  std::string parameters;
  bool json = false;
};

Outcome<void> runPlugin(const PluginOptions& options);

}  // namespace xfp::ctl
