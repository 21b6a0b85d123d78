// A C++ twin of bpf/lib/classify.h: walks a CompiledPolicy for one key exactly as the BPF
// programs do. Unit tests hold the compiler to the reference classifier through it without a
// kernel; the bpf tier then holds the real programs to the same answers.
#pragma once

#include <functional>

#include "compiler/compiled_policy.h"
#include "userspace/core/wfp_constants.h"

namespace xfp::compiler {

// Which callouts are registered at run time (by FWPS callout id).
using RegisteredFn = std::function<bool(uint32_t calloutId)>;

xfp_result evaluate(const CompiledPolicy& policy,
                    int layerSlot,
                    const xfp_key& key,
                    const RegisteredFn& registered = {});

// The WFP action of a fast-path verdict (XFP_VERDICT_* -> FWP_ACTION_*).
ActionType verdictAction(uint32_t verdict);

}  // namespace xfp::compiler
