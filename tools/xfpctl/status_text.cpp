#include "tools/xfpctl/status_text.h"

#include <fmt/format.h>

#include "userspace/core/wfp_constants.h"

namespace xfp::ctl {

std::string_view statusSymbol(uint32_t status) {
  const std::string_view name = statusName(status);
  return name == "unknown status" ? std::string_view{} : name;
}

std::string statusText(uint32_t status) {
  const std::string_view name = statusSymbol(status);
  if (name.empty()) {
    return fmt::format("status 0x{:08X}", status);
  }
  return fmt::format("{} (0x{:08X})", name, status);
}

}  // namespace xfp::ctl
