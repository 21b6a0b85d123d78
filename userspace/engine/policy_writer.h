// The lossless JSON form of the FWPM objects (every field, typed values, engine-assigned ids), as
// the persistent store keeps them, and its inverse. Unlike the policy file (symbolic names,
// userspace/core/policy_file.h) this form is written by the engine and read back by it: values
// carry their FWP data type, bytes are hex, ids and effective weights are included.
// Format reference: docs/engine.md ("Persistent store").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "userspace/core/objects.h"
#include "userspace/core/policy.h"
#include "userspace/core/result.h"
#include "userspace/core/value.h"

namespace xfp::engine {

// The persistent objects of a policy, in the order they are re-added: providers, provider
// contexts, sublayers, callouts, filters (contexts, callouts and filters by ascending id), and
// the id high-water marks of the engine that wrote them (the next id it would have assigned).
struct PersistentObjects {
  std::vector<Provider> providers;
  std::vector<ProviderContext> providerContexts;
  std::vector<Sublayer> sublayers;
  std::vector<Callout> callouts;
  std::vector<Filter> filters;
  uint64_t nextFilterId = 1;
  uint32_t nextCalloutId = 1;
  uint64_t nextProviderContextId = 1;
};

// The objects of `policy` whose lifetime is Persistent (built-in, static and dynamic objects are
// left out), with output-only flags cleared (FWPM_FILTER_FLAG_DISABLED / INDEXED,
// FWPM_PROVIDER_FLAG_DISABLED, FWPM_CALLOUT_FLAG_REGISTERED: states the engine recomputes).
PersistentObjects collectPersistent(const Policy& policy);

// Writer.
nlohmann::json valueToJson(const Value& value);
nlohmann::json conditionValueToJson(const ConditionValue& value);
nlohmann::json toJson(const Provider& provider);
nlohmann::json toJson(const ProviderContext& context);
nlohmann::json toJson(const Sublayer& sublayer);
nlohmann::json toJson(const Callout& callout);
nlohmann::json toJson(const Filter& filter);
nlohmann::json objectsToJson(const PersistentObjects& objects);

// Reader: the inverse of the writer. `path` names the JSON member in error messages
// ("filters[2].conditions[0].value.type: ..."). Only the shape and types are checked here;
// restorePolicy applies WFP's validation.
Result<Value> valueFromJson(const nlohmann::json& j, const std::string& path);
Result<ConditionValue> conditionValueFromJson(const nlohmann::json& j, const std::string& path);
Result<Provider> providerFromJson(const nlohmann::json& j, const std::string& path);
Result<ProviderContext> providerContextFromJson(const nlohmann::json& j, const std::string& path);
Result<Sublayer> sublayerFromJson(const nlohmann::json& j, const std::string& path);
Result<Callout> calloutFromJson(const nlohmann::json& j, const std::string& path);
Result<Filter> filterFromJson(const nlohmann::json& j, const std::string& path);
Result<PersistentObjects> objectsFromJson(const nlohmann::json& j);

// A fresh Policy (built-ins plus `objects`) in which every object is Persistent and keeps its
// stored id (filterId, calloutId, providerContextId), and the engine's next ids continue from
// the stored high-water marks. Each object goes through Policy's add validation; the first
// failure is returned, naming the object ("filters[3] {key} \"name\": ...").
Result<Policy> restorePolicy(const PersistentObjects& objects);

}  // namespace xfp::engine
