#include "bench/punt/xfp_punt_case.h"

namespace xfp::bench::punt {

std::optional<CaseResult> runXfpPuntCase(const PuntEnv& env) {
  (void)env;
  return std::nullopt;  // the punt path (issue 4) does not exist yet
}

}  // namespace xfp::bench::punt
