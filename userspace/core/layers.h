// The built-in layers, their field schemas (FWPS_FIELDS_* index order, generated from the spec:
// never hand-coded, wfp-model.md Appendix A.9), the condition-field GUIDs and the built-in
// sublayers and providers.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "userspace/core/guid.h"
#include "userspace/core/wfp_constants.h"

namespace xfp {

struct FieldInfo {
  uint16_t index = 0;          // FWPS_FIELD_<LAYER>_<name>: index into the incoming values
  std::string_view name;       // FWPS suffix, e.g. "IP_REMOTE_PORT" (or "PROFILE_ID")
  std::string_view condition;  // FWPM_CONDITION_ suffix, e.g. "IP_REMOTE_PORT"; empty: internal
  Guid conditionKey;           // zero for internal BITMAP_* fields
  DataType type = DataType::Empty;  // incoming value type at this layer
  bool isAddress = false;           // accepts FWP_V4_ADDR_MASK / FWP_V6_ADDR_MASK conditions
};

struct LayerInfo {
  std::string_view name;  // FWPM_LAYER_ suffix, e.g. "INBOUND_TRANSPORT_V4"
  Guid key;
  uint16_t id = 0;                // FWPS_LAYER_* run-time id
  std::vector<FieldInfo> fields;  // empty for layers without a schema in the spec

  [[nodiscard]] const FieldInfo* fieldByKey(const Guid& conditionKey) const;
  [[nodiscard]] const FieldInfo* fieldByName(std::string_view name) const;  // FWPM or FWPS name
  [[nodiscard]] bool hasSchema() const { return !fields.empty(); }
  [[nodiscard]] std::string fullName() const { return "FWPM_LAYER_" + std::string(name); }
};

struct BuiltinSublayer {
  std::string_view name;  // FWPM_SUBLAYER_ suffix
  Guid key;
  uint16_t weight;
};

// All built-in layers (those with a field schema can carry filters).
std::span<const LayerInfo> allLayers();
const LayerInfo* layerByKey(const Guid& key);
const LayerInfo* layerById(uint16_t id);
// Accepts "INBOUND_TRANSPORT_V4", "FWPM_LAYER_INBOUND_TRANSPORT_V4" (any case) or a GUID text.
const LayerInfo* layerByName(std::string_view name);
// The FWPS run-time id of a layer named by its FWPM suffix; 0 if there is none.
uint16_t layerIdByName(std::string_view name);

// Condition GUID by FWPM_CONDITION_ name (with or without prefix, aliases included).
const Guid* conditionKeyByName(std::string_view name);
std::string conditionName(const Guid& key);  // "FWPM_CONDITION_IP_REMOTE_PORT" or the GUID text

// The sublayers the engine creates at start (wfp-model.md §1.5: UNIVERSAL 0x8000,
// INSPECTION 0x0000, RPC_AUDIT 0xC000).
std::span<const BuiltinSublayer> builtinSublayers();
// Any FWPM_SUBLAYER_* GUID from the spec by name (built-in or Windows-component).
const Guid* sublayerKeyByName(std::string_view name);

namespace keys {
extern const Guid kSublayerUniversal;
extern const Guid kSublayerInspection;
extern const Guid kSublayerRpcAudit;
}  // namespace keys

}  // namespace xfp
