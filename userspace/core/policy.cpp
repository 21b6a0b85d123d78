#include "userspace/core/policy.h"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>

#include "userspace/core/match.h"
#include "userspace/core/weight.h"

namespace xfp {
namespace {

constexpr uint32_t kFilterFlagsAcceptedOnAdd =
    filter_flag::kPersistent | filter_flag::kBoottime | filter_flag::kHasProviderContext |
    filter_flag::kClearActionRight | filter_flag::kPermitIfCalloutUnregistered |
    filter_flag::kIndexed;

Result<void> requireName(const DisplayData& d, const char* what) {
  if (!d.name.has_value()) {
    return fail(status::kNullDisplayName, fmt::format("{}: displayData.name is required", what));
  }
  return {};
}

// wfp-model.md §1.2: an object may not reference one with a shorter lifetime.
Result<void> checkLifetime(const ObjectOrigin& from,
                           const std::optional<Guid>& fromProvider,
                           const ObjectOrigin& to,
                           const std::optional<Guid>& toProvider,
                           const std::string& what) {
  const auto mismatch = [&](const char* why) -> Result<void> {
    return fail(status::kLifetimeMismatch, fmt::format("{}: {}", what, why));
  };
  if (to.lifetime == Lifetime::BuiltIn) {
    return {};
  }
  switch (from.lifetime) {
    case Lifetime::Persistent:
      if (to.lifetime != Lifetime::Persistent) {
        return mismatch("a persistent object may reference only persistent or built-in objects");
      }
      if (fromProvider && toProvider && *fromProvider != *toProvider) {
        return mismatch("persistent objects of different providers");
      }
      return {};
    case Lifetime::Static:
      if (to.lifetime == Lifetime::Dynamic) {
        return mismatch("a static object may not reference a dynamic one");
      }
      return {};
    case Lifetime::Dynamic:
      if (to.lifetime == Lifetime::Dynamic && to.sessionId != from.sessionId) {
        return mismatch("a dynamic object may not reference another session's dynamic object");
      }
      return {};
    case Lifetime::BuiltIn:
      return {};
  }
  return {};
}

}  // namespace

Policy::Policy() : calloutIds_(std::make_shared<CalloutIdAllocator>()) {
  for (const BuiltinSublayer& b : builtinSublayers()) {
    Sublayer s;
    s.key = b.key;
    s.displayData.name = "FWPM_SUBLAYER_" + std::string(b.name);
    s.weight = b.weight;
    s.origin.lifetime = Lifetime::BuiltIn;
    sublayers_.emplace(s.key, std::move(s));
  }
}

Result<void> Policy::checkProviderRef(const std::optional<Guid>& providerKey,
                                      const ObjectOrigin& origin) const {
  if (!providerKey) {
    return {};
  }
  const Provider* p = provider(*providerKey);
  if (p == nullptr) {
    return fail(status::kProviderNotFound,
                fmt::format("provider {} not found", providerKey->toString()));
  }
  return checkLifetime(
      origin, std::nullopt, p->origin, std::nullopt, "provider " + providerKey->toString());
}

Result<void> Policy::addProvider(Provider p) {
  if (auto r = requireName(p.displayData, "provider"); !r) {
    return r;
  }
  if (p.key.isZero()) {
    p.key = Guid::generate();
  }
  if (providers_.contains(p.key)) {
    return fail(status::kAlreadyExists, "provider " + p.key.toString() + " already exists");
  }
  p.flags &= ~kProviderFlagDisabled;  // output only
  if ((p.flags & ~kProviderFlagPersistent) != 0) {
    return fail(status::kInvalidFlags, fmt::format("provider flags 0x{:x}", p.flags));
  }
  if ((p.flags & kProviderFlagPersistent) != 0) {
    p.origin.lifetime = Lifetime::Persistent;
  }
  providers_.emplace(p.key, std::move(p));
  return {};
}

Result<uint64_t> Policy::addProviderContext(ProviderContext c) {
  if (auto r = requireName(c.displayData, "provider context"); !r) {
    return tl::unexpected(r.error());
  }
  if (c.key.isZero()) {
    c.key = Guid::generate();
  }
  if (providerContexts_.contains(c.key)) {
    return fail(status::kAlreadyExists, "provider context " + c.key.toString() + " already exists");
  }
  if (c.type != kGeneralContext) {
    return fail(
        status::kInvalidParameter,
        fmt::format("provider context type {} (only FWPM_GENERAL_CONTEXT is supported)", c.type));
  }
  if ((c.flags & ~kProviderContextFlagPersistent) != 0) {
    return fail(status::kInvalidFlags, fmt::format("provider context flags 0x{:x}", c.flags));
  }
  if ((c.flags & kProviderContextFlagPersistent) != 0) {
    c.origin.lifetime = Lifetime::Persistent;
  }
  if (auto r = checkProviderRef(c.providerKey, c.origin); !r) {
    return tl::unexpected(r.error());
  }
  c.providerContextId = nextProviderContextId_++;
  const uint64_t id = c.providerContextId;
  providerContexts_.emplace(c.key, std::move(c));
  return id;
}

Result<void> Policy::addSublayer(Sublayer s) {
  if (auto r = requireName(s.displayData, "sublayer"); !r) {
    return r;
  }
  if (s.key.isZero()) {
    s.key = Guid::generate();
  }
  if (sublayers_.contains(s.key)) {
    return fail(status::kAlreadyExists, "sublayer " + s.key.toString() + " already exists");
  }
  if ((s.flags & ~kSublayerFlagPersistent) != 0) {
    return fail(status::kInvalidFlags, fmt::format("sublayer flags 0x{:x}", s.flags));
  }
  if ((s.flags & kSublayerFlagPersistent) != 0) {
    s.origin.lifetime = Lifetime::Persistent;
  }
  if (auto r = checkProviderRef(s.providerKey, s.origin); !r) {
    return r;
  }
  sublayers_.emplace(s.key, std::move(s));
  invalidate();
  return {};
}

struct Policy::CalloutIdAllocator {
  std::mutex mu;
  std::unordered_map<Guid, uint32_t> ids;
  uint32_t next = 1;
};

uint32_t Policy::calloutIdForKey(const Guid& key) const {
  std::lock_guard lock(calloutIds_->mu);
  auto [it, inserted] = calloutIds_->ids.emplace(key, calloutIds_->next);
  if (inserted) {
    ++calloutIds_->next;
  }
  return it->second;
}

uint32_t Policy::nextCalloutId() const {
  std::lock_guard lock(calloutIds_->mu);
  return calloutIds_->next;
}

void Policy::reserveCalloutIdsBelow(uint32_t next) const {
  std::lock_guard lock(calloutIds_->mu);
  calloutIds_->next = std::max(calloutIds_->next, next);
}

Result<uint32_t> Policy::addCallout(Callout c) {
  if (auto r = requireName(c.displayData, "callout"); !r) {
    return tl::unexpected(r.error());
  }
  if (c.key.isZero()) {
    c.key = Guid::generate();
  }
  if (callouts_.contains(c.key)) {
    return fail(status::kAlreadyExists, "callout " + c.key.toString() + " already exists");
  }
  c.flags &= ~kCalloutFlagRegistered;  // output only
  if ((c.flags & ~(kCalloutFlagPersistent | kCalloutFlagUsesProviderContext)) != 0) {
    return fail(status::kInvalidFlags, fmt::format("callout flags 0x{:x}", c.flags));
  }
  if (layerByKey(c.applicableLayer) == nullptr) {
    return fail(status::kLayerNotFound,
                "callout applicableLayer " + c.applicableLayer.toString() + " not found");
  }
  if ((c.flags & kCalloutFlagPersistent) != 0) {
    c.origin.lifetime = Lifetime::Persistent;
  }
  if (auto r = checkProviderRef(c.providerKey, c.origin); !r) {
    return tl::unexpected(r.error());
  }
  c.calloutId = calloutIdForKey(c.key);
  const uint32_t id = c.calloutId;
  callouts_.emplace(c.key, std::move(c));
  return id;
}

Result<uint64_t> Policy::addFilter(Filter f) {
  if (auto r = requireName(f.displayData, "filter"); !r) {
    return tl::unexpected(r.error());
  }
  if (f.reservedSet) {
    return fail(status::kReserved, "filter: reserved must be NULL");
  }
  if (f.key.isZero()) {
    f.key = Guid::generate();
  }
  if (filterIdByKey_.contains(f.key)) {
    return fail(status::kAlreadyExists, "filter " + f.key.toString() + " already exists");
  }
  const LayerInfo* layer = layerByKey(f.layerKey);
  if (layer == nullptr || !layer->hasSchema()) {
    return fail(status::kLayerNotFound, "layer " + f.layerKey.toString() + " not found");
  }
  if (f.subLayerKey.isZero()) {
    f.subLayerKey = keys::kSublayerUniversal;  // the default sublayer of every layer (§1.5)
  }
  const Sublayer* sl = sublayer(f.subLayerKey);
  if (sl == nullptr) {
    return fail(status::kSublayerNotFound, "sublayer " + f.subLayerKey.toString() + " not found");
  }

  // Flags (§1.7).
  f.flags &= ~filter_flag::kIndexed;  // output only
  if ((f.flags & ~kFilterFlagsAcceptedOnAdd) != 0) {
    return fail(status::kInvalidFlags,
                "filter flags " + filterFlagsToString(f.flags) +
                    ": DISABLED, IPsec, OS-partition and reserved flags "
                    "cannot be set on add");
  }
  if ((f.flags & filter_flag::kPersistent) != 0 && (f.flags & filter_flag::kBoottime) != 0) {
    return fail(status::kInvalidFlags, "PERSISTENT and BOOTTIME are mutually exclusive");
  }
  const ActionType t = f.action.type;
  if ((f.flags & filter_flag::kPermitIfCalloutUnregistered) != 0 &&
      t != ActionType::CalloutTerminating && t != ActionType::CalloutUnknown) {
    return fail(status::kInvalidFlags,
                "PERMIT_IF_CALLOUT_UNREGISTERED needs a CALLOUT_TERMINATING or CALLOUT_UNKNOWN "
                "action");
  }
  if ((f.flags & filter_flag::kPersistent) != 0) {
    f.origin.lifetime = Lifetime::Persistent;
  }

  // Lifetimes of the references (§1.2).
  if (auto r = checkProviderRef(f.providerKey, f.origin); !r) {
    return tl::unexpected(r.error());
  }
  if (auto r = checkLifetime(
          f.origin, f.providerKey, sl->origin, sl->providerKey, "sublayer " + sl->key.toString());
      !r) {
    return tl::unexpected(r.error());
  }

  // Action (§1.7).
  if (t != ActionType::Block && t != ActionType::Permit && t != ActionType::CalloutTerminating &&
      t != ActionType::CalloutInspection && t != ActionType::CalloutUnknown) {
    return fail(
        status::kInvalidActionType,
        fmt::format("action type 0x{:x} cannot be set on a filter", static_cast<uint32_t>(t)));
  }
  if (isCalloutAction(t)) {
    const Callout* c = callout(f.action.calloutKey);
    if (c == nullptr) {
      return fail(status::kCalloutNotFound,
                  "callout " + f.action.calloutKey.toString() + " not found");
    }
    if (c->applicableLayer != f.layerKey) {
      return fail(status::kIncompatibleLayer,
                  fmt::format("callout {} applies to layer {}, not {}",
                              c->key.toString(),
                              c->applicableLayer.toString(),
                              layer->fullName()));
    }
    if (auto r = checkLifetime(
            f.origin, f.providerKey, c->origin, c->providerKey, "callout " + c->key.toString());
        !r) {
      return tl::unexpected(r.error());
    }
  }
  if ((f.flags & filter_flag::kHasProviderContext) != 0) {
    const ProviderContext* pc = providerContext(f.providerContextKey);
    if (pc == nullptr) {
      return fail(status::kProviderContextNotFound,
                  "provider context " + f.providerContextKey.toString() + " not found");
    }
    if (auto r = checkLifetime(f.origin,
                               f.providerKey,
                               pc->origin,
                               pc->providerKey,
                               "provider context " + pc->key.toString());
        !r) {
      return tl::unexpected(r.error());
    }
  }

  // Weight (§3.2) and conditions (§2).
  for (size_t i = 0; i < f.conditions.size(); ++i) {
    const Condition& c = f.conditions[i];
    const FieldInfo* field = layer->fieldByKey(c.fieldKey);
    if (field == nullptr) {
      return fail(status::kConditionNotFound,
                  fmt::format("conditions[{}]: field {} is not in layer {}",
                              i,
                              conditionName(c.fieldKey),
                              layer->fullName()));
    }
    if (auto r = checkCondition(*field, c.matchType, c.value); !r) {
      return tl::unexpected(Error(r.error()).within(fmt::format("conditions[{}]", i)));
    }
  }
  auto weight = effectiveWeight(f.weight, f.conditions);
  if (!weight) {
    return tl::unexpected(weight.error());
  }
  f.effectiveWeight = *weight;

  f.filterId = nextFilterId_++;
  const uint64_t id = f.filterId;
  filterIdByKey_.emplace(f.key, id);
  filters_.emplace(id, std::move(f));
  invalidate();
  return id;
}

Result<void> Policy::deleteFilterById(uint64_t filterId) {
  auto it = filters_.find(filterId);
  if (it == filters_.end()) {
    return fail(status::kFilterNotFound, fmt::format("filter id {} not found", filterId));
  }
  filterIdByKey_.erase(it->second.key);
  filters_.erase(it);
  invalidate();
  return {};
}

Result<void> Policy::deleteFilterByKey(const Guid& key) {
  auto it = filterIdByKey_.find(key);
  if (it == filterIdByKey_.end()) {
    return fail(status::kFilterNotFound, "filter " + key.toString() + " not found");
  }
  return deleteFilterById(it->second);
}

Result<void> Policy::deleteSublayer(const Guid& key) {
  auto it = sublayers_.find(key);
  if (it == sublayers_.end()) {
    return fail(status::kSublayerNotFound, "sublayer " + key.toString() + " not found");
  }
  if (it->second.origin.lifetime == Lifetime::BuiltIn) {
    return fail(status::kBuiltinObject, "sublayer " + key.toString() + " is built in");
  }
  for (const auto& [id, f] : filters_) {
    if (f.subLayerKey == key) {
      return fail(status::kInUse, fmt::format("sublayer {} holds filter {}", key.toString(), id));
    }
  }
  sublayers_.erase(it);
  invalidate();
  return {};
}

Result<void> Policy::deleteProvider(const Guid& key) {
  if (!providers_.contains(key)) {
    return fail(status::kProviderNotFound, "provider " + key.toString() + " not found");
  }
  auto refers = [&](const std::optional<Guid>& p) { return p && *p == key; };
  bool used = false;
  for (const auto& [id, f] : filters_) {
    used = used || refers(f.providerKey);
  }
  for (const auto& [k, s] : sublayers_) {
    used = used || refers(s.providerKey);
  }
  for (const auto& [k, c] : callouts_) {
    used = used || refers(c.providerKey);
  }
  for (const auto& [k, c] : providerContexts_) {
    used = used || refers(c.providerKey);
  }
  if (used) {
    return fail(status::kInUse, "provider " + key.toString() + " is still referenced");
  }
  providers_.erase(key);
  return {};
}

Result<void> Policy::deleteCallout(const Guid& key) {
  if (!callouts_.contains(key)) {
    return fail(status::kCalloutNotFound, "callout " + key.toString() + " not found");
  }
  for (const auto& [id, f] : filters_) {
    if (isCalloutAction(f.action.type) && f.action.calloutKey == key) {
      return fail(status::kInUse,
                  fmt::format("callout {} is used by filter {}", key.toString(), id));
    }
  }
  callouts_.erase(key);
  return {};
}

Result<void> Policy::deleteProviderContext(const Guid& key) {
  if (!providerContexts_.contains(key)) {
    return fail(status::kProviderContextNotFound,
                "provider context " + key.toString() + " not found");
  }
  for (const auto& [id, f] : filters_) {
    if ((f.flags & filter_flag::kHasProviderContext) != 0 && f.providerContextKey == key) {
      return fail(status::kInUse,
                  fmt::format("provider context {} is used by filter {}", key.toString(), id));
    }
  }
  providerContexts_.erase(key);
  return {};
}

const Filter* Policy::filterById(uint64_t id) const {
  auto it = filters_.find(id);
  return it == filters_.end() ? nullptr : &it->second;
}

const Filter* Policy::filterByKey(const Guid& key) const {
  auto it = filterIdByKey_.find(key);
  return it == filterIdByKey_.end() ? nullptr : filterById(it->second);
}

const Sublayer* Policy::sublayer(const Guid& key) const {
  auto it = sublayers_.find(key);
  return it == sublayers_.end() ? nullptr : &it->second;
}

const Provider* Policy::provider(const Guid& key) const {
  auto it = providers_.find(key);
  return it == providers_.end() ? nullptr : &it->second;
}

const Callout* Policy::callout(const Guid& key) const {
  auto it = callouts_.find(key);
  return it == callouts_.end() ? nullptr : &it->second;
}

const Callout* Policy::calloutById(uint32_t id) const {
  for (const auto& [key, c] : callouts_) {
    if (c.calloutId == id) {
      return &c;
    }
  }
  return nullptr;
}

const ProviderContext* Policy::providerContext(const Guid& key) const {
  auto it = providerContexts_.find(key);
  return it == providerContexts_.end() ? nullptr : &it->second;
}

const ProviderContext* Policy::providerContextById(uint64_t id) const {
  for (const auto& [key, c] : providerContexts_) {
    if (c.providerContextId == id) {
      return &c;
    }
  }
  return nullptr;
}

const std::vector<ArbitrationEntry>& Policy::arbitrationOrder(uint16_t layerId) const {
  auto it = order_.find(layerId);
  if (it != order_.end()) {
    return it->second;
  }
  std::vector<const Filter*> mine;
  const LayerInfo* layer = layerById(layerId);
  if (layer != nullptr) {
    for (const auto& [id, f] : filters_) {
      if (f.layerKey == layer->key) {
        mine.push_back(&f);
      }
    }
  }
  return order_
      .emplace(layerId,
               layer != nullptr ? buildOrder(*layer, mine) : std::vector<ArbitrationEntry>{})
      .first->second;
}

void Policy::warmOrders() const {
  std::unordered_map<Guid, std::vector<const Filter*>> byLayer;
  for (const auto& [id, f] : filters_) {
    byLayer[f.layerKey].push_back(&f);
  }
  static const std::vector<const Filter*> kNone;
  for (const LayerInfo& layer : allLayers()) {
    if (order_.contains(layer.id)) {
      continue;
    }
    auto it = byLayer.find(layer.key);
    order_.emplace(layer.id, buildOrder(layer, it != byLayer.end() ? it->second : kNone));
  }
}

std::vector<ArbitrationEntry> Policy::buildOrder(const LayerInfo& layer,
                                                 const std::vector<const Filter*>& filters) const {
  std::vector<ArbitrationEntry> entries;
  entries.reserve(filters.size());
  for (const Filter* f : filters) {
    ArbitrationEntry e;
    e.filter = f;
    e.sublayer = sublayer(f->subLayerKey);
    for (const Condition& c : f->conditions) {
      const uint16_t idx = layer.fieldByKey(c.fieldKey)->index;
      auto g = std::find_if(
          e.groups.begin(), e.groups.end(), [&](const auto& grp) { return grp.fieldIndex == idx; });
      if (g == e.groups.end()) {
        e.groups.push_back({idx, {}});
        g = e.groups.end() - 1;
      }
      g->conditions.push_back(&c);
    }
    std::sort(e.groups.begin(), e.groups.end(), [](const auto& a, const auto& b) {
      return a.fieldIndex < b.fieldIndex;
    });
    entries.push_back(std::move(e));
  }
  std::sort(
      entries.begin(), entries.end(), [](const ArbitrationEntry& a, const ArbitrationEntry& b) {
        if (a.sublayer->weight != b.sublayer->weight) {
          return a.sublayer->weight > b.sublayer->weight;
        }
        if (a.sublayer->key != b.sublayer->key) {
          return a.sublayer->key < b.sublayer->key;
        }
        if (a.filter->effectiveWeight != b.filter->effectiveWeight) {
          return a.filter->effectiveWeight > b.filter->effectiveWeight;
        }
        return a.filter->filterId < b.filter->filterId;
      });
  return entries;
}

uint16_t runtimeFilterFlags(const Filter& f) {
  uint16_t flags = 0;
  if ((f.flags & filter_flag::kClearActionRight) != 0) {
    flags |= fwps_filter_flag::kClearActionRight;
  }
  if ((f.flags & filter_flag::kPermitIfCalloutUnregistered) != 0) {
    flags |= fwps_filter_flag::kPermitIfCalloutUnregistered;
  }
  for (size_t i = 0; i < f.conditions.size(); ++i) {
    for (size_t j = i + 1; j < f.conditions.size(); ++j) {
      if (f.conditions[i].fieldKey == f.conditions[j].fieldKey) {
        flags |= fwps_filter_flag::kOrConditions;
      }
    }
  }
  return flags;
}

}  // namespace xfp

namespace xfp {

Policy Policy::copy() const {
  Policy p;
  p.providers_ = providers_;
  p.providerContexts_ = providerContexts_;
  p.sublayers_ = sublayers_;
  p.callouts_ = callouts_;
  p.filters_ = filters_;
  p.filterIdByKey_ = filterIdByKey_;
  p.calloutIds_ = calloutIds_;
  p.nextFilterId_ = nextFilterId_;
  p.nextProviderContextId_ = nextProviderContextId_;
  return p;
}

Policy Policy::snapshot() const {
  Policy p = copy();
  p.warmOrders();
  return p;
}

}  // namespace xfp
