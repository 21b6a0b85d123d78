// Filter weights (wfp-model.md §3): the automatic 60-bit weight, the FWP_UINT8 range-index form
// and the effective 64-bit weight that orders filters within a sublayer.
#pragma once

#include <cstdint>
#include <vector>

#include "userspace/core/layers.h"
#include "userspace/core/objects.h"
#include "userspace/core/result.h"

namespace xfp {

// The specificity score of one condition, s(c) of §3.3 with Appendix B.4-B.6.
uint32_t conditionScore(const Condition& c);

// auto60(filter): (number of fields << 56) | (sum of per-field scores << 44), §3.3. Conditions on
// the same field form one OR-group scored by its weakest member. Conditions are assumed valid.
uint64_t autoWeight(const std::vector<Condition>& conditions);

// The effective weight for a filter's supplied weight value, or FWP_E_INVALID_WEIGHT.
Result<uint64_t> effectiveWeight(const WeightValue& weight,
                                 const std::vector<Condition>& conditions);

}  // namespace xfp
