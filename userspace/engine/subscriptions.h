// Filter change subscriptions (wfp-model.md §7.6, FwpmFilterSubscribeChanges0): what a client
// subscribes with and what it is told. The engine delivers changes at commit, in commit order,
// only for committed changes, never to a subscription of the session that made them (Appendix
// A.11); a dynamic session's cleanup produces DELETE changes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "userspace/core/guid.h"
#include "userspace/engine/enum_template.h"

namespace xfp::engine {

using ChangeHandle = uint64_t;  // never 0, never reused

// FWPM_CHANGE_TYPE
enum class ChangeType : uint32_t { Add = 1, Delete = 2 };

// FWPM_SUBSCRIPTION_FLAG_*
constexpr uint32_t kSubscriptionFlagNotifyOnAdd = 0x1;
constexpr uint32_t kSubscriptionFlagNotifyOnDelete = 0x2;

// FWPM_FILTER_SUBSCRIPTION0. flags 0 (our choice): both adds and deletes.
struct FilterSubscription {
  std::optional<FilterEnumTemplate> enumTemplate;  // none: every filter
  uint32_t flags = kSubscriptionFlagNotifyOnAdd | kSubscriptionFlagNotifyOnDelete;
};

// FWPM_FILTER_CHANGE0.
struct FilterChange {
  ChangeType changeType = ChangeType::Add;
  Guid filterKey;
  uint64_t filterId = 0;
};

// FWPM_FILTER_CHANGE_CALLBACK0 (the context pointer is whatever the function captures). Called
// after the commit, on the committing thread, with no engine lock held; it must not call back
// into the engine (the daemon queues the change for the client's stream).
using FilterChangeCallback = std::function<void(const FilterChange&)>;

}  // namespace xfp::engine
