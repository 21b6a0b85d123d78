// How xfpctl prints the status codes xfpd answers with: the name from userspace/core's table
// (every FWP_E_* of wfp-constants.md §6 and the HRESULT_FROM_WIN32 codes the service uses) and
// the number.
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
