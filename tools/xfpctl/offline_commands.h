// xfpctl's commands that need no service: `check` (validate a policy file, its arbitration
// order, what the fast path would hold) and `layers` (the built-in layers and their fields).
#pragma once

#include <string>

#include "tools/xfpctl/outcome.h"

namespace xfp::ctl {

Outcome<void> runCheck(const std::string& policyPath, bool asJson);
Outcome<void> runLayers(const std::string& layerName, bool asJson);

}  // namespace xfp::ctl
