// xfpd's log formats: "text" (spdlog's default, for people) and "json" (one object per line:
// time, level, message -- for journald/log shippers that index fields). Chosen by the
// configuration's log_format.
#pragma once

#include <string>

namespace xfp::daemon {

// Installs the format on spdlog's default logger; false for an unknown name.
bool setLogFormat(const std::string& name);

}  // namespace xfp::daemon
