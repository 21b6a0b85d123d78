// Text forms of field and condition values, shared by the policy file and xfpctl:
// integers (decimal, 0x hex, protocol names for IP_PROTOCOL), IPv4/IPv6 addresses with /prefix
// or /netmask, MAC addresses, strings, application ids (paths), user ids, SDDL, ranges
// ("low..high") and "empty".
#pragma once

#include <string_view>

#include "userspace/core/layers.h"
#include "userspace/core/result.h"
#include "userspace/core/value.h"

namespace xfp {

// A value of exactly `type` from text; `field` tunes the reading (addresses, app ids).
Result<Value> parseValueText(const FieldInfo& field, DataType type, std::string_view text);

// An incoming value for `field` (xfpctl explain --packet): the field's own type, or "empty".
Result<Value> parseIncomingValue(const FieldInfo& field, std::string_view text);

// A condition value for `field`: masks ("10.0.0.0/8", "fd00::/64"), ranges ("1000..2000"),
// security descriptors (SDDL, or "uid=1000" for an allow-match ACE), or a plain value.
Result<ConditionValue> parseConditionText(const FieldInfo& field, std::string_view text);

// FwpmGetAppIdFromFileName0 on Linux: UTF-16LE of the lower-cased path plus a terminating NUL.
Bytes appIdFromPath(std::string_view path);

}  // namespace xfp

namespace xfp {

struct IncomingValues;
struct LayerInfo;

// "FIELD=VALUE FIELD=VALUE ..." (xfpctl explain --packet) into a layer's incoming values; fields
// not named stay FWP_EMPTY. Field names as in FWPM_CONDITION_* (prefix optional) or FWPS_FIELD_*.
Result<IncomingValues> parseIncomingValues(const LayerInfo& layer, std::string_view spec);

}  // namespace xfp
