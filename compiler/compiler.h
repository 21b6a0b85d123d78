// compile(): every fast-path layer's weighted filter set -> CompiledPolicy (map images). Pure
// and deterministic: the same Policy gives the same bytes. The algorithm, its memory bound and
// its update cost are described in docs/compiler.md.
#pragma once

#include <functional>

#include "compiler/compiled_policy.h"
#include "compiler/cut_tree.h"
#include "userspace/core/policy.h"
#include "userspace/core/result.h"

namespace xfp::compiler {

struct CompileOptions {
  TreeParams tree;
  // Callouts registered at run time (by FWPS callout id). A filter whose callout is not
  // registered is compiled as WFP treats it (wfp-model.md §4.5): CALLOUT_INSPECTION filters
  // vanish, CALLOUT_TERMINATING/UNKNOWN ones become static BLOCK, or PERMIT with
  // PERMIT_IF_CALLOUT_UNREGISTERED. Registered ones stay callout candidates (punt), with the same
  // fallback in the map should the callout runtime be gone when a packet needs it.
  std::function<bool(uint32_t calloutId)> registered;
};

Result<CompiledPolicy> compile(const Policy& policy, const CompileOptions& options = {});

}  // namespace xfp::compiler
