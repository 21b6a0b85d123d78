// `xfpctl explain`: decide one packet and show why. With --policy FILE it decides against that
// file, offline; without, it asks xfpd to decide against the committed policy (request
// `explain`), so both print the same report (explain_report.h) for the same policy.
#pragma once

#include <string>
#include <vector>

#include "tools/xfpctl/outcome.h"

namespace xfp::ctl {

struct ExplainOptions {
  std::string socket;
  std::string policyPath;  // empty: ask the service
  std::string layer;
  std::string packet;                 // "FIELD=VALUE ..."
  std::vector<std::string> callouts;  // NAME=permit|block|continue[!][+absorb]
  bool json = false;
};

Outcome<void> runExplain(const ExplainOptions& options);

}  // namespace xfp::ctl
