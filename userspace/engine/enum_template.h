// Enumeration templates (wfp-model.md §7.4): FWPM_FILTER_ENUM_TEMPLATE0 and the simpler
// templates of sublayers and callouts, their validation, and the selection of the objects of a
// policy that a template asks for. Used by the engine's enumeration handles and by change
// subscriptions (§7.6).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "userspace/core/objects.h"
#include "userspace/core/policy.h"
#include "userspace/core/result.h"

namespace xfp::engine {

// FWP_FILTER_ENUM_TYPE
enum class FilterEnumType : uint32_t { FullyContained = 0, Overlapping = 1 };

// FWPM_FILTER_ENUM_TEMPLATE0.flags
namespace filter_enum_flag {
constexpr uint32_t kBestTerminatingMatch = 0x01;
constexpr uint32_t kSorted = 0x02;
constexpr uint32_t kBoottimeOnly = 0x04;
constexpr uint32_t kIncludeBoottime = 0x08;
constexpr uint32_t kIncludeDisabled = 0x10;
constexpr uint32_t kValid = 0x1F;  // RESERVED1 (0x20) and above: FWP_E_INVALID_FLAGS
}  // namespace filter_enum_flag

constexpr uint32_t kActionMaskAny = 0xFFFFFFFF;

// FWPM_PROVIDER_CONTEXT_ENUM_TEMPLATE0 as a filter template uses it.
struct ProviderContextTemplate {
  std::optional<Guid> providerKey;
  uint32_t providerContextType = kGeneralContext;
};

// FWPM_FILTER_ENUM_TEMPLATE0.
struct FilterEnumTemplate {
  std::optional<Guid> providerKey;  // only filters of that provider
  Guid layerKey;                    // required
  FilterEnumType enumType = FilterEnumType::FullyContained;
  uint32_t flags = 0;  // filter_enum_flag::*
  std::optional<ProviderContextTemplate> providerContextTemplate;
  // Distinct fields (two on one field: FWP_E_DUPLICATE_CONDITION). Supported so far:
  // FWP_MATCH_EQUAL with a plain value (a point); other forms are refused with
  // FWP_E_INVALID_PARAMETER.
  std::vector<Condition> filterConditions;
  uint32_t actionMask = kActionMaskAny;  // filters whose action type shares a bit with it
  std::optional<Guid> calloutKey;        // needs FWP_ACTION_FLAG_CALLOUT in actionMask
};

// FWPM_SUBLAYER_ENUM_TEMPLATE0 / FWPM_CALLOUT_ENUM_TEMPLATE0.
struct SublayerEnumTemplate {
  std::optional<Guid> providerKey;
};
struct CalloutEnumTemplate {
  std::optional<Guid> providerKey;
  std::optional<Guid> layerKey;  // applicableLayer
};

// FWP_E_LAYER_NOT_FOUND, FWP_E_INVALID_ENUMERATOR (enumType), FWP_E_INVALID_FLAGS,
// FWP_E_NEVER_MATCH (actionMask 0), FWP_E_INVALID_PARAMETER (calloutKey without the callout
// flag in actionMask; unsupported condition forms), FWP_E_CONDITION_NOT_FOUND,
// FWP_E_DUPLICATE_CONDITION, and checkCondition's codes for a bad condition value.
Result<void> validateFilterEnumTemplate(const FilterEnumTemplate& t);

// Whether `f` is selected by the template's per-filter tests (layer, provider, provider context,
// conditions, action mask, callout, boot-time / disabled visibility). Ignores
// BEST_TERMINATING_MATCH and SORTED, which select among filters. `policy` resolves the filter's
// provider context. Precondition: validateFilterEnumTemplate(t) succeeded.
bool filterMatchesTemplate(const Policy& policy, const FilterEnumTemplate& t, const Filter& f);

// The filters a template selects, as FwpmFilterEnum0 returns them: with no template every
// filter by filterId; otherwise the template layer's filters that match, by filterId, or in
// arbitration order (weight high to low) with SORTED, or only the first terminating one in
// arbitration order with BEST_TERMINATING_MATCH.
Result<std::vector<Filter>> selectFilters(const Policy& policy, const FilterEnumTemplate* t);

std::vector<Provider> selectProviders(const Policy& policy);
std::vector<Sublayer> selectSublayers(const Policy& policy, const SublayerEnumTemplate* t);
Result<std::vector<Callout>> selectCallouts(const Policy& policy, const CalloutEnumTemplate* t);

}  // namespace xfp::engine
