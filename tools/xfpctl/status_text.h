// Names of the status codes xfpd answers with. userspace/core's statusName covers the FWP_E_*
// codes the model itself returns; the service also answers with codes the core does not define
// (FWP_E_CALLOUT_NOTIFICATION_FAILED, FWP_E_DUPLICATE_CONDITION, FWP_E_NEVER_MATCH, the
// HRESULT_FROM_WIN32 ones), so xfpctl keeps the whole table of shared/spec/wfp-constants.md §6.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace xfp::ctl {

// "FWP_E_ALREADY_EXISTS", or "" when the code is not in the table.
std::string_view statusSymbol(uint32_t status);

// "FWP_E_ALREADY_EXISTS (0x80320009)", or "status 0x........" for an unknown code.
std::string statusText(uint32_t status);

}  // namespace xfp::ctl
