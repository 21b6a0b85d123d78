// The xfp policy file: JSON holding providers, provider contexts, sublayers, callouts and
// filters with symbolic names (layers, fields, match types, actions, flags) or raw GUIDs.
// Loading is all-or-nothing, and every error names the file, the object and the field.
// Format reference: docs/policy-format.md.
#pragma once

#include <string>
#include <string_view>

#include "userspace/core/policy.h"
#include "userspace/core/result.h"

namespace xfp {

// Parses policy text; `origin` (usually the file name) prefixes every error message.
Result<Policy> parsePolicy(std::string_view json, const std::string& origin);

// Reads and parses a policy file.
Result<Policy> loadPolicyFile(const std::string& path);

}  // namespace xfp
