// `xfpctl events`: xfpd's net-event log (wfp-model.md §7.7) -- what the data path dropped (and,
// when xfpd is configured so, allowed), one line per event, or one JSON object per line with
// --json. With --follow it keeps streaming until Ctrl-C, --timeout or --count.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tools/xfpctl/outcome.h"

namespace xfp::ctl {

struct EventsOptions {
  std::string socket;
  bool follow = false;
  bool json = false;
  std::string protocol;  // a number or tcp/udp/icmp/icmpv6/...
  std::optional<unsigned> localPort;
  std::optional<unsigned> remotePort;
  std::string localAddr;
  std::string remoteAddr;
  std::string type;    // drop | allow
  double since = 0;    // seconds back from now (0: the whole log)
  double timeout = 0;  // seconds (0: none)
  uint64_t count = 0;  // stop after this many events (0: no limit)
};

Outcome<void> runEvents(const EventsOptions& options);

}  // namespace xfp::ctl
