#include "userspace/engine/enum_template.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "userspace/core/layers.h"
#include "userspace/core/match.h"
#include "userspace/core/wfp_constants.h"
#include "userspace/engine/engine_status.h"

namespace xfp::engine {

namespace {

// The template's condition on the field of a filter's condition, if any.
const Condition* templateCondition(const FilterEnumTemplate& t, const Guid& fieldKey) {
  for (const Condition& c : t.filterConditions) {
    if (c.fieldKey == fieldKey) {
      return &c;
    }
  }
  return nullptr;
}

// wfp-model.md §7.4, our reading: a filter and the template are sets of indications (per field
// the OR of its conditions, fields ANDed, an unconstrained field is every value). The template's
// conditions are points (EQUAL, one per field). FULLY_CONTAINED: the filter's set holds the
// template's, i.e. every field the filter constrains is a template field whose point the filter
// accepts. OVERLAPPING: the sets meet, i.e. on every field both constrain the filter accepts the
// point (a field only the filter constrains is assumed satisfiable).
bool conditionsMatch(const FilterEnumTemplate& t, const Filter& f) {
  if (t.filterConditions.empty()) {
    return true;
  }
  std::set<Guid> fields;
  for (const Condition& c : f.conditions) {
    fields.insert(c.fieldKey);
  }
  for (const Guid& field : fields) {
    const Condition* point = templateCondition(t, field);
    if (point == nullptr) {
      if (t.enumType == FilterEnumType::FullyContained) {
        return false;
      }
      continue;
    }
    const Value& v = *point->value.plain();
    bool any = false;
    for (const Condition& c : f.conditions) {
      any = any || (c.fieldKey == field && conditionMatches(c.matchType, c.value, v));
    }
    if (!any) {
      return false;
    }
  }
  return true;
}

bool visible(uint32_t templateFlags, const Filter& f) {
  const bool boottime = (f.flags & filter_flag::kBoottime) != 0;
  if ((templateFlags & filter_enum_flag::kBoottimeOnly) != 0) {
    return boottime;
  }
  if (boottime && (templateFlags & filter_enum_flag::kIncludeBoottime) == 0) {
    return false;
  }
  const bool disabled = (f.flags & filter_flag::kDisabled) != 0;
  return !disabled || (templateFlags & filter_enum_flag::kIncludeDisabled) != 0;
}

}  // namespace

Result<void> validateFilterEnumTemplate(const FilterEnumTemplate& t) {
  const LayerInfo* layer = layerByKey(t.layerKey);
  if (layer == nullptr) {
    return fail(status::kLayerNotFound,
                "enum template: layer " + t.layerKey.toString() + " not found");
  }
  if (t.enumType != FilterEnumType::FullyContained && t.enumType != FilterEnumType::Overlapping) {
    return fail(status::kInvalidEnumerator,
                fmt::format("enum template: enumType {}", static_cast<uint32_t>(t.enumType)));
  }
  if ((t.flags & ~filter_enum_flag::kValid) != 0) {
    return fail(status::kInvalidFlags, fmt::format("enum template: flags 0x{:x}", t.flags));
  }
  if (t.actionMask == 0) {
    return fail(engine_status::kNeverMatch, "enum template: actionMask 0 matches no filter");
  }
  if (t.calloutKey && (t.actionMask & kActionFlagCallout) == 0) {
    return fail(status::kInvalidParameter,
                "enum template: calloutKey needs FWP_ACTION_FLAG_CALLOUT in actionMask");
  }
  std::set<Guid> seen;
  for (size_t i = 0; i < t.filterConditions.size(); ++i) {
    const Condition& c = t.filterConditions[i];
    const std::string where = fmt::format("enum template: filterCondition[{}]", i);
    const FieldInfo* field = layer->fieldByKey(c.fieldKey);
    if (field == nullptr) {
      return fail(status::kConditionNotFound,
                  fmt::format("{}: field {} is not in layer {}",
                              where,
                              conditionName(c.fieldKey),
                              layer->fullName()));
    }
    if (!seen.insert(c.fieldKey).second) {
      return fail(engine_status::kDuplicateCondition,
                  fmt::format("{}: a second condition on {}", where, conditionName(c.fieldKey)));
    }
    if (auto r = checkCondition(*field, c.matchType, c.value); !r) {
      return tl::unexpected(std::move(r.error()).within(where));
    }
    if (c.matchType != MatchType::Equal || c.value.plain() == nullptr ||
        c.value.type() == DataType::Empty) {
      // TODO: ranges, masks and the other match types as template sets.
      return fail(status::kInvalidParameter,
                  where + ": only FWP_MATCH_EQUAL with a plain value is supported in templates");
    }
  }
  return {};
}

bool filterMatchesTemplate(const Policy& policy, const FilterEnumTemplate& t, const Filter& f) {
  if (f.layerKey != t.layerKey || !visible(t.flags, f)) {
    return false;
  }
  if (t.providerKey && f.providerKey != t.providerKey) {
    return false;
  }
  if (t.actionMask != kActionMaskAny &&
      (static_cast<uint32_t>(f.action.type) & t.actionMask) == 0) {
    return false;
  }
  if (t.calloutKey && (!isCalloutAction(f.action.type) || f.action.calloutKey != *t.calloutKey)) {
    return false;
  }
  if (t.providerContextTemplate) {
    if ((f.flags & filter_flag::kHasProviderContext) == 0) {
      return false;
    }
    const ProviderContext* pc = policy.providerContext(f.providerContextKey);
    if (pc == nullptr || pc->type != t.providerContextTemplate->providerContextType ||
        (t.providerContextTemplate->providerKey &&
         pc->providerKey != t.providerContextTemplate->providerKey)) {
      return false;
    }
  }
  return conditionsMatch(t, f);
}

Result<std::vector<Filter>> selectFilters(const Policy& policy, const FilterEnumTemplate* t) {
  std::vector<Filter> out;
  if (t == nullptr) {
    for (const auto& [id, f] : policy.filters()) {
      out.push_back(f);
    }
    return out;
  }
  if (auto r = validateFilterEnumTemplate(*t); !r) {
    return tl::unexpected(r.error());
  }
  const LayerInfo* layer = layerByKey(t->layerKey);
  const bool best = (t->flags & filter_enum_flag::kBestTerminatingMatch) != 0;
  const bool sorted = (t->flags & filter_enum_flag::kSorted) != 0;
  if (best || sorted) {
    for (const ArbitrationEntry& e : policy.arbitrationOrder(layer->id)) {
      if (!filterMatchesTemplate(policy, *t, *e.filter)) {
        continue;
      }
      if (best) {
        if ((static_cast<uint32_t>(e.filter->action.type) & kActionFlagTerminating) != 0) {
          out.push_back(*e.filter);
          break;
        }
        continue;
      }
      out.push_back(*e.filter);
    }
    return out;
  }
  for (const auto& [id, f] : policy.filters()) {
    if (filterMatchesTemplate(policy, *t, f)) {
      out.push_back(f);
    }
  }
  return out;
}

std::vector<Provider> selectProviders(const Policy& policy) {
  std::vector<Provider> out;
  for (const auto& [key, p] : policy.providers()) {
    out.push_back(p);
  }
  return out;
}

std::vector<Sublayer> selectSublayers(const Policy& policy, const SublayerEnumTemplate* t) {
  std::vector<Sublayer> out;
  for (const auto& [key, s] : policy.sublayers()) {
    if (t == nullptr || !t->providerKey || s.providerKey == t->providerKey) {
      out.push_back(s);
    }
  }
  return out;
}

Result<std::vector<Callout>> selectCallouts(const Policy& policy, const CalloutEnumTemplate* t) {
  if (t != nullptr && t->layerKey && layerByKey(*t->layerKey) == nullptr) {
    return fail(status::kLayerNotFound,
                "enum template: layer " + t->layerKey->toString() + " not found");
  }
  std::vector<Callout> out;
  for (const auto& [key, c] : policy.callouts()) {
    if (t != nullptr && ((t->providerKey && c.providerKey != t->providerKey) ||
                         (t->layerKey && c.applicableLayer != *t->layerKey))) {
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace xfp::engine
