// The FWPM management objects: providers, provider contexts, sublayers, callouts and filters,
// with every FWPM_*0 field that means something on Linux. Fields the engine fills (ids,
// effective weight, output flags) are ignored on add and set by Policy.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "userspace/core/guid.h"
#include "userspace/core/value.h"

namespace xfp {

struct DisplayData {
  std::optional<std::string> name;  // required on add (FWP_E_NULL_DISPLAY_NAME when absent)
  std::string description;
};

// Who may reference whom (wfp-model.md §1.2).
enum class Lifetime { BuiltIn, Persistent, Static, Dynamic };

struct ObjectOrigin {
  Lifetime lifetime = Lifetime::Static;
  uint64_t sessionId = 0;  // owning session of a dynamic object
};

struct Provider {
  Guid key;
  DisplayData displayData;
  uint32_t flags = 0;  // FWPM_PROVIDER_FLAG_*
  Bytes providerData;
  std::string serviceName;
  ObjectOrigin origin;
};

struct ProviderContext {
  Guid key;
  DisplayData displayData;
  uint32_t flags = 0;
  std::optional<Guid> providerKey;
  Bytes providerData;
  uint32_t type = kGeneralContext;  // only FWPM_GENERAL_CONTEXT is accepted
  Bytes dataBuffer;
  uint64_t providerContextId = 0;  // output
  ObjectOrigin origin;
};

struct Sublayer {
  Guid key;
  DisplayData displayData;
  uint32_t flags = 0;  // FWPM_SUBLAYER_FLAG_PERSISTENT
  std::optional<Guid> providerKey;
  Bytes providerData;
  uint16_t weight = 0;  // higher is evaluated first
  ObjectOrigin origin;
};

// The management half of a callout (FWPM_CALLOUT0). The run-time half registers separately.
struct Callout {
  Guid key;
  DisplayData displayData;
  uint32_t flags = 0;  // FWPM_CALLOUT_FLAG_*
  std::optional<Guid> providerKey;
  Bytes providerData;
  Guid applicableLayer;
  uint32_t calloutId = 0;  // output
  ObjectOrigin origin;
};

struct Action {
  ActionType type = ActionType::Block;
  Guid filterType;  // when not a callout action: provider-chosen, no engine meaning
  Guid calloutKey;  // when type & FWP_ACTION_FLAG_CALLOUT
};

struct Condition {
  Guid fieldKey;
  MatchType matchType = MatchType::Equal;
  ConditionValue value;
};

// The weight as supplied on add: FWP_EMPTY (automatic), FWP_UINT8 range index 0-15, or
// FWP_UINT64 explicit.
using WeightValue = Value;

struct Filter {
  Guid key;
  DisplayData displayData;
  uint32_t flags = 0;  // FWPM_FILTER_FLAG_*
  std::optional<Guid> providerKey;
  Bytes providerData;
  Guid layerKey;
  Guid subLayerKey;  // zero: the layer's default sublayer (FWPM_SUBLAYER_UNIVERSAL)
  WeightValue weight;
  std::vector<Condition> conditions;
  Action action;
  uint64_t rawContext = 0;   // unless HAS_PROVIDER_CONTEXT
  Guid providerContextKey;   // with HAS_PROVIDER_CONTEXT
  bool reservedSet = false;  // FWPM_FILTER0.reserved != NULL (must not be on add)
  // Outputs, set by Policy on add.
  uint64_t filterId = 0;
  uint64_t effectiveWeight = 0;
  ObjectOrigin origin;
};

}  // namespace xfp
