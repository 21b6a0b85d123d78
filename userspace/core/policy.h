// Policy: one consistent set of FWPM objects (providers, provider contexts, sublayers, callouts,
// filters) with WFP's add/delete validation and FWP_E_* results, and each layer's filters in
// arbitration order. No sessions or transactions here: the engine (BFE) builds those on top.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "userspace/core/layers.h"
#include "userspace/core/objects.h"
#include "userspace/core/result.h"

namespace xfp {

// A filter as arbitration sees it: the stored filter, its sublayer and its conditions grouped by
// field (AND across groups, OR within one, wfp-model.md §2.9).
struct ArbitrationEntry {
  struct FieldGroup {
    uint16_t fieldIndex = 0;
    std::vector<const Condition*> conditions;
  };
  const Filter* filter = nullptr;
  const Sublayer* sublayer = nullptr;
  std::vector<FieldGroup> groups;  // ordered by field index
};

class Policy {
 public:
  Policy();  // holds the built-in sublayers
  Policy(const Policy&) = delete;
  Policy& operator=(const Policy&) = delete;
  Policy(Policy&&) = default;
  Policy& operator=(Policy&&) = default;
  ~Policy() = default;

  Result<void> addProvider(Provider provider);
  Result<uint64_t> addProviderContext(ProviderContext context);  // returns providerContextId
  Result<void> addSublayer(Sublayer sublayer);
  Result<uint32_t> addCallout(Callout callout);  // returns calloutId
  Result<uint64_t> addFilter(Filter filter);     // returns filterId

  Result<void> deleteFilterById(uint64_t filterId);
  Result<void> deleteFilterByKey(const Guid& key);
  Result<void> deleteSublayer(const Guid& key);
  Result<void> deleteProvider(const Guid& key);
  Result<void> deleteCallout(const Guid& key);
  Result<void> deleteProviderContext(const Guid& key);

  [[nodiscard]] const Filter* filterById(uint64_t id) const;
  [[nodiscard]] const Filter* filterByKey(const Guid& key) const;
  [[nodiscard]] const Sublayer* sublayer(const Guid& key) const;
  [[nodiscard]] const Provider* provider(const Guid& key) const;
  [[nodiscard]] const Callout* callout(const Guid& key) const;
  [[nodiscard]] const Callout* calloutById(uint32_t id) const;
  [[nodiscard]] const ProviderContext* providerContext(const Guid& key) const;
  [[nodiscard]] const ProviderContext* providerContextById(uint64_t id) const;

  // The run-time id of a callout key; allocated the first time either the management object or
  // a run-time registration names the key (wfp-model.md §1.8), never reused. Every snapshot of a
  // policy shares its allocator, so the engine's working copies, its committed policy and the
  // callout runtime (registering a key before FwpmCalloutAdd0 names it) agree on one id per key.
  // Thread-safe.
  uint32_t calloutIdForKey(const Guid& key) const;
  // The id the next new callout key would get.
  [[nodiscard]] uint32_t nextCalloutId() const;
  // Raises the next callout id to at least `next` (restoring a store).
  void reserveCalloutIdsBelow(uint32_t next) const;

  [[nodiscard]] const std::map<uint64_t, Filter>& filters() const { return filters_; }
  [[nodiscard]] const std::map<Guid, Sublayer>& sublayers() const { return sublayers_; }
  [[nodiscard]] const std::map<Guid, Provider>& providers() const { return providers_; }
  [[nodiscard]] const std::map<Guid, Callout>& callouts() const { return callouts_; }

  // The layer's enabled and disabled filters in arbitration order: sublayers by weight
  // descending (ties: key wire bytes ascending), then filters by effective weight descending
  // (ties: filterId ascending), wfp-model.md §3.4.
  [[nodiscard]] const std::vector<ArbitrationEntry>& arbitrationOrder(uint16_t layerId) const;

  // An independent copy (the callout runtime classifies against immutable snapshots), with the
  // arbitration order of every layer already computed so concurrent readers never fill the
  // lazy cache.
  [[nodiscard]] Policy snapshot() const;
  // The same copy with the arbitration-order cache left to fill lazily: for a copy that only
  // one thread uses (an engine transaction's working copy) before warmOrders() publishes it.
  [[nodiscard]] Policy copy() const;
  // Computes every layer's arbitration order in one pass over the filters (the lazy per-layer
  // path walks every filter once per layer: ~80x the work for a large policy).
  void warmOrders() const;

  // The next filterId to be assigned (ids are never reused).
  [[nodiscard]] uint64_t nextFilterId() const { return nextFilterId_; }

 private:
  Result<void> checkProviderRef(const std::optional<Guid>& providerKey,
                                const ObjectOrigin& origin) const;
  void invalidate() { order_.clear(); }
  std::vector<ArbitrationEntry> buildOrder(const LayerInfo& layer,
                                           const std::vector<const Filter*>& filters) const;

  std::map<Guid, Provider> providers_;
  std::map<Guid, ProviderContext> providerContexts_;
  std::map<Guid, Sublayer> sublayers_;
  std::map<Guid, Callout> callouts_;
  std::map<uint64_t, Filter> filters_;
  std::unordered_map<Guid, uint64_t> filterIdByKey_;
  struct CalloutIdAllocator;
  std::shared_ptr<CalloutIdAllocator> calloutIds_;  // shared by snapshots (see calloutIdForKey)
  uint64_t nextFilterId_ = 1;
  uint64_t nextProviderContextId_ = 1;
  mutable std::unordered_map<uint16_t, std::vector<ArbitrationEntry>> order_;
};

// FWPS_FILTER*.flags for a stored filter (CLEAR_ACTION_RIGHT, PERMIT_IF_CALLOUT_UNREGISTERED,
// OR_CONDITIONS).
uint16_t runtimeFilterFlags(const Filter& filter);

}  // namespace xfp
