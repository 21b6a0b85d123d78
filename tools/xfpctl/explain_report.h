// Renders a classification (verdict, deciding filter, per-sublayer trace) for people (text) and
// for scripts (JSON). Shared by `xfpctl explain` offline and, later, against the live service.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "userspace/core/classifier.h"

namespace xfp::ctl {

std::string explainText(const Policy& policy,
                        const LayerInfo& layer,
                        const IncomingValues& in,
                        const ClassifyResult& result);

nlohmann::json explainJson(const Policy& policy,
                           const LayerInfo& layer,
                           const IncomingValues& in,
                           const ClassifyResult& result);

// "0x0c00000000000000"
std::string formatWeight(uint64_t weight);

}  // namespace xfp::ctl
