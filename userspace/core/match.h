// FWP_MATCH_TYPE semantics (wfp-model.md §2.2-§2.8): which value types each match type accepts
// at filter add, and whether one condition holds for an incoming field value.
#pragma once

#include "userspace/core/layers.h"
#include "userspace/core/result.h"
#include "userspace/core/value.h"

namespace xfp {

// Validates a condition against the field it tests (type compatibility, match-type
// compatibility, masks, ranges, security descriptors). Errors carry the FWP_E_* code.
Result<void> checkCondition(const FieldInfo& field, MatchType match, const ConditionValue& value);

// True when the condition holds for `incoming`. Preconditions: checkCondition() accepted it for a
// field whose incoming type is incoming.type() or FWP_EMPTY. An FWP_EMPTY incoming value matches
// only an FWP_EMPTY condition with FWP_MATCH_EQUAL.
bool conditionMatches(MatchType match, const ConditionValue& value, const Value& incoming);

// Orders two values of one sortable type: integers numerically, byte arrays and blobs as
// unsigned byte strings (shorter first on a common prefix), strings by UTF-16 code unit.
int compareValues(const Value& a, const Value& b);

// Types usable with GREATER/LESS/RANGE/NOT_EQUAL: the integers, BYTE_ARRAY16, BYTE_BLOB,
// UNICODE_STRING.
bool isSortable(DataType t);

}  // namespace xfp
