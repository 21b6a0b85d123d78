// The FWPM C structures of fwpmtypes.h <-> xfp's core objects and engine types.
//
// C -> core validates what only the C form can get wrong, with the codes WFP returns
// (wfp-model.md §7.3): a NULL required pointer (the object, a pointer member of a value, a blob's
// data, a condition array) -> FWP_E_NULL_POINTER; a NULL displayData.name on an object to add ->
// FWP_E_NULL_DISPLAY_NAME; a data type that is not an FWP_DATA_TYPE -> FWP_E_INVALID_ENUMERATOR;
// a condition-only type (mask, range) in an FWP_VALUE0, or a token type (the engine cannot take
// an access token from a client) -> FWP_E_TYPE_MISMATCH; a name, description or service name that
// is not valid UTF-16 (an unpaired surrogate: the core keeps them as UTF-8) ->
// FWP_E_INVALID_PARAMETER (FWP_UNICODE_STRING_TYPE values take any UTF-16). Everything the model
// decides (flags, action types, weights, match types, layers, lifetimes...) is left to the
// engine, which answers with the same codes for every client.
//
// core -> C builds one malloc'ed block per returned object or array (block.h), so the caller
// frees it with FwpmFreeMemory0. They return nullptr only when memory is exhausted.
#pragma once

#include <fwpmtypes.h>

#include <optional>
#include <string>
#include <vector>

#include "userspace/core/objects.h"
#include "userspace/core/result.h"
#include "userspace/core/value.h"
#include "userspace/engine/enum_template.h"
#include "userspace/engine/session.h"
#include "userspace/engine/subscriptions.h"

namespace xfp::client {

// ---- GUIDs and strings ----

Guid guidFromC(const GUID& g);
GUID guidToC(const Guid& g);
// NULL -> nullopt; not valid UTF-16 -> FWP_E_INVALID_PARAMETER (naming `what`).
Result<std::optional<std::string>> stringFromC(const WCHAR* s, const char* what);

// ---- C -> core ----

Result<Value> valueFromC(const FWP_VALUE0& v);
Result<ConditionValue> conditionValueFromC(const FWP_CONDITION_VALUE0& v);
Result<Condition> conditionFromC(const FWPM_FILTER_CONDITION0& c);
Result<std::vector<Condition>> conditionsFromC(UINT32 count, const FWPM_FILTER_CONDITION0* c);

Result<Provider> providerFromC(const FWPM_PROVIDER0* p);
Result<ProviderContext> providerContextFromC(const FWPM_PROVIDER_CONTEXT0* p);
Result<Sublayer> sublayerFromC(const FWPM_SUBLAYER0* s);
Result<Callout> calloutFromC(const FWPM_CALLOUT0* c);
Result<Filter> filterFromC(const FWPM_FILTER0* f);

// NULL template: nullopt (every object). The engine validates the contents.
Result<std::optional<engine::FilterEnumTemplate>> filterEnumTemplateFromC(
    const FWPM_FILTER_ENUM_TEMPLATE0* t);
std::optional<engine::SublayerEnumTemplate> sublayerEnumTemplateFromC(
    const FWPM_SUBLAYER_ENUM_TEMPLATE0* t);
std::optional<engine::CalloutEnumTemplate> calloutEnumTemplateFromC(
    const FWPM_CALLOUT_ENUM_TEMPLATE0* t);
Result<engine::FilterSubscription> filterSubscriptionFromC(const FWPM_FILTER_SUBSCRIPTION0* s);
// NULL session: the defaults (zero key, no name, not dynamic, default wait).
Result<engine::SessionOptions> sessionOptionsFromC(const FWPM_SESSION0* s);

// ---- core -> C (one block each; nullptr: out of memory) ----

FWPM_PROVIDER0* providerToC(const Provider& p);
FWPM_PROVIDER_CONTEXT0* providerContextToC(const ProviderContext& p);
FWPM_SUBLAYER0* sublayerToC(const Sublayer& s);
FWPM_CALLOUT0* calloutToC(const Callout& c);
FWPM_FILTER0* filterToC(const Filter& f);

// Arrays: the pointer array, then the entries and their data, in one block (nullptr for an
// empty vector as well).
FWPM_PROVIDER0** providersToC(const std::vector<Provider>& v);
FWPM_SUBLAYER0** sublayersToC(const std::vector<Sublayer>& v);
FWPM_CALLOUT0** calloutsToC(const std::vector<Callout>& v);
FWPM_FILTER0** filtersToC(const std::vector<Filter>& v);
FWPM_FILTER_SUBSCRIPTION0** filterSubscriptionsToC(const std::vector<engine::FilterSubscription>& v,
                                                   const Guid& sessionKey);

FWPM_FILTER_CHANGE0 filterChangeToC(const engine::FilterChange& c);

}  // namespace xfp::client
