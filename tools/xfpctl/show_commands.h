// `xfpctl show filters|sublayers|providers|callouts|layers|counters|sessions|status`: the live
// state of xfpd as aligned tables, or with --json as the stable keys documented in
// docs/xfpctl.md. `show layers` is the core's built-in table and needs no service unless
// --counters asks for the data path's per-layer counters.
#pragma once

#include <string>

#include "tools/xfpctl/outcome.h"

namespace xfp::ctl {

struct ShowOptions {
  std::string socket;
  std::string what;
  std::string layer;  // --layer: only this layer's filters / counters
  bool json = false;
  bool counters = false;  // show layers --counters
};

// The words `what` may be, for the command line's check and help.
inline constexpr const char* kShowWhat[] = {
    "filters", "sublayers", "providers", "callouts", "layers", "counters", "sessions", "status"};

Outcome<void> runShow(const ShowOptions& options);

}  // namespace xfp::ctl
