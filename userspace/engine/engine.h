// xfp::engine::Engine: the in-process core of xfpd's Base Filtering Engine (wfp-model.md §7):
// the committed policy, sessions (§7.1), transactions (§7.2), object calls (§7.3),
// enumeration handles (§7.4), filter change subscriptions (§7.6) and the persistence hook
// (§7.5). No I/O of its own besides the optional Store; no data path: every commit hands the new
// policy and its generation to `onCommit`, which the daemon uses to compile and publish one
// data-path generation per commit. Thread-safe: every call may come from any thread.
// Reference: docs/engine.md ("Sessions and transactions").
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "userspace/core/objects.h"
#include "userspace/core/policy.h"
#include "userspace/core/result.h"
#include "userspace/engine/enum_template.h"
#include "userspace/engine/session.h"
#include "userspace/engine/store.h"
#include "userspace/engine/subscriptions.h"
#include "userspace/engine/transaction.h"

namespace xfp::engine {

using EnumHandle = uint64_t;  // never 0, never reused

// Called once per commit that changed something, before the new policy becomes visible to
// readers (committed(), other sessions) and before the change notifications, with the writer
// lock still held: calls arrive in generation order, and whoever sees a policy sees one the hook
// has already published (xfpd: to the data path). Must not call back into the engine. `added`: the
// filters the commit added (for the callouts' ADD_FILTER_POST_COMMIT notifications).
using CommitHook = std::function<void(const std::shared_ptr<const Policy>& policy,
                                      uint64_t generation,
                                      const std::vector<uint64_t>& added)>;

// The callouts' filter notifications (wfp-model.md §5.4: notifyFn ADD_FILTER / DELETE_FILTER),
// which WFP sends at the time of the add or delete call, not at commit. Called with the engine
// lock held; must not call back into the engine. `context` is the transaction's working policy.
struct FilterNotifier {
  // ADD_FILTER: false fails the add (FWP_E_CALLOUT_NOTIFICATION_FAILED); nothing is added.
  std::function<bool(const Filter& filter, const Policy& context)> added;
  // DELETE_FILTER: the filter is being deleted, or an add that was notified is rolled back
  // (transaction aborted, or its commit failed).
  std::function<void(const Filter& filter, const Policy& context)> deleted;
};

struct EngineOptions {
  // Begin's wait for the write lock when the session asks for the default (0): 15 s.
  std::chrono::milliseconds defaultTxnWaitTimeout{15000};
  // How long a user-mode explicit transaction may hold the write lock (one hour in WFP); past it
  // the engine aborts the transaction and the session's next call fails with FWP_E_TXN_ABORTED.
  std::chrono::milliseconds txnLockTimeout{std::chrono::hours(1)};
  // Where persistent objects go: saved before publishing each commit that added or deleted a
  // persistent object (not owned; may be null: nothing is stored).
  Store* store = nullptr;
  CommitHook onCommit;
  FilterNotifier notifier;
};

class Engine {
 public:
  // `initial` is the policy to start from (e.g. Store::load()'s); generation 0, no hook call.
  explicit Engine(EngineOptions options = {}, Policy initial = Policy());
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  ~Engine();  // no call may be in flight

  // --- Sessions (§7.1) ---
  // FWP_E_INVALID_FLAGS (unknown flags), FWP_E_ALREADY_EXISTS (the key of an open session).
  Result<SessionId> open(const SessionOptions& options);
  // Aborts the session's transaction, drops its enumeration handles and subscriptions, then
  // (dynamic session) deletes every object it added, as one commit. Waits for the write lock as
  // long as it takes (a stuck writer is aborted after txnLockTimeout).
  Result<void> close(SessionId session);
  // The same as close: what the daemon calls when a client's connection drops.
  Result<void> clientDied(SessionId session);
  [[nodiscard]] Result<SessionInfo> session(SessionId session) const;
  [[nodiscard]] std::vector<SessionInfo> sessions() const;

  // --- Transactions (§7.2) ---
  // flags 0 or kTxnReadOnly. FWP_E_TXN_IN_PROGRESS, FWP_E_INVALID_FLAGS, FWP_E_TIMEOUT (the
  // write lock stayed taken for the session's txnWaitTimeoutInMSec).
  Result<void> begin(SessionId session, uint32_t flags = 0);
  // Publishes the transaction's changes atomically: one generation if anything changed.
  // FWP_E_NO_TXN_IN_PROGRESS; a failed store write fails the commit and aborts the transaction.
  Result<void> commit(SessionId session);
  Result<void> abort(SessionId session);  // FWP_E_NO_TXN_IN_PROGRESS

  // --- Objects (§7.3): in the session's transaction, or an implicit one ---
  Result<void> addProvider(SessionId session, Provider provider);
  Result<void> deleteProvider(SessionId session, const Guid& key);
  Result<Provider> getProvider(SessionId session, const Guid& key);
  Result<uint64_t> addProviderContext(SessionId session, ProviderContext context);
  Result<void> deleteProviderContext(SessionId session, const Guid& key);
  Result<ProviderContext> getProviderContext(SessionId session, const Guid& key);
  Result<void> addSublayer(SessionId session, Sublayer sublayer);
  Result<void> deleteSublayer(SessionId session, const Guid& key);
  Result<Sublayer> getSublayer(SessionId session, const Guid& key);
  Result<uint32_t> addCallout(SessionId session, Callout callout);
  Result<void> deleteCalloutByKey(SessionId session, const Guid& key);
  Result<void> deleteCalloutById(SessionId session, uint32_t calloutId);
  Result<Callout> getCalloutByKey(SessionId session, const Guid& key);
  Result<Callout> getCalloutById(SessionId session, uint32_t calloutId);
  Result<uint64_t> addFilter(SessionId session, Filter filter);
  Result<void> deleteFilterById(SessionId session, uint64_t filterId);
  Result<void> deleteFilterByKey(SessionId session, const Guid& key);
  Result<Filter> getFilterById(SessionId session, uint64_t filterId);
  Result<Filter> getFilterByKey(SessionId session, const Guid& key);

  // --- Enumeration (§7.4): a snapshot of what the session sees when the handle is created ---
  Result<EnumHandle> createFilterEnumHandle(SessionId session, const FilterEnumTemplate* t);
  // Up to `n` entries, continuing where the previous call stopped; fewer than n: the end.
  Result<std::vector<Filter>> enumFilters(SessionId session, EnumHandle handle, uint32_t n);
  Result<void> destroyFilterEnumHandle(SessionId session, EnumHandle handle);
  Result<EnumHandle> createProviderEnumHandle(SessionId session);
  Result<std::vector<Provider>> enumProviders(SessionId session, EnumHandle handle, uint32_t n);
  Result<void> destroyProviderEnumHandle(SessionId session, EnumHandle handle);
  Result<EnumHandle> createSublayerEnumHandle(SessionId session, const SublayerEnumTemplate* t);
  Result<std::vector<Sublayer>> enumSublayers(SessionId session, EnumHandle handle, uint32_t n);
  Result<void> destroySublayerEnumHandle(SessionId session, EnumHandle handle);
  Result<EnumHandle> createCalloutEnumHandle(SessionId session, const CalloutEnumTemplate* t);
  Result<std::vector<Callout>> enumCallouts(SessionId session, EnumHandle handle, uint32_t n);
  Result<void> destroyCalloutEnumHandle(SessionId session, EnumHandle handle);

  // --- Change subscriptions (§7.6) ---
  Result<ChangeHandle> subscribeFilterChanges(SessionId session,
                                              const FilterSubscription& subscription,
                                              FilterChangeCallback callback);
  Result<void> unsubscribeFilterChanges(SessionId session, ChangeHandle handle);
  // FwpmFilterSubscriptionsGet0: the session's subscriptions.
  Result<std::vector<FilterSubscription>> filterSubscriptions(SessionId session);

  // The run-time id of a callout key (wfp-model.md §1.8): the same id FwpmCalloutAdd0 gives the
  // key, whichever names it first. The callout runtime asks this when a callout registers.
  [[nodiscard]] uint32_t calloutIdForKey(const Guid& key) const;

  // --- The committed state ---
  [[nodiscard]] std::shared_ptr<const Policy> committed() const;
  [[nodiscard]] uint64_t generation() const;

 private:
  struct SessionState;
  struct EnumState;
  struct Subscription {
    SessionId owner = 0;
    FilterSubscription subscription;
    FilterChangeCallback callback;
  };
  using Lock = std::unique_lock<std::mutex>;

  struct Call;
  // Finds the session, takes its call lock and then the engine lock; with checkTxn, reports a
  // transaction the engine aborted (FWP_E_TXN_ABORTED, once).
  Result<Call> enter(SessionId id, bool checkTxn);
  Result<void> checkTxnState(SessionState& s);
  std::chrono::steady_clock::time_point waitDeadline(const SessionState& s) const;
  Result<void> acquireWriter(Lock& lk,
                             SessionId id,
                             std::chrono::steady_clock::time_point deadline);
  void releaseWriter();
  void forceAbortWriter();
  std::unique_ptr<Transaction> startReadWrite(Lock& lk, bool implicit);
  Result<void> commitLocked(Lock& lk, SessionId committer, Transaction& txn);
  void cleanupDynamic(Lock& lk, SessionId id);
  // Ends a read/write transaction without committing it: DELETE_FILTER for each filter whose
  // ADD_FILTER was sent (§5.4). Engine lock held.
  void rollBack(Transaction& txn);
  Result<void> closeSession(SessionId id);

  // Runs op(session, transaction) in the session's read/write transaction or an implicit one.
  template <typename T, typename Op>
  Result<T> write(SessionId session, Op&& op);
  // Runs op(policy) on what the session sees.
  template <typename T, typename Op>
  Result<T> read(SessionId session, Op&& op);
  template <typename T, typename Select>
  Result<EnumHandle> createEnum(SessionId session, Select&& select);
  template <typename T>
  Result<std::vector<T>> enumNext(SessionId session, EnumHandle handle, uint32_t n);
  template <typename T>
  Result<void> destroyEnum(SessionId session, EnumHandle handle);

  const EngineOptions options_;
  mutable std::mutex mu_;  // everything below
  std::condition_variable writerFree_;
  std::shared_ptr<const Policy> committed_;
  uint64_t generation_ = 0;
  std::map<SessionId, std::shared_ptr<SessionState>> sessions_;
  SessionId nextSessionId_ = 1;
  // The write lock: the session holding it (0: free), and whether the engine may take it back
  // when its deadline passes (an explicit transaction between calls).
  SessionId writer_ = 0;
  bool writerAbortable_ = false;
  std::chrono::steady_clock::time_point writerDeadline_;
  std::map<EnumHandle, std::unique_ptr<EnumState>> enums_;
  uint64_t nextHandle_ = 1;  // enumeration and change handles
  std::map<ChangeHandle, Subscription> subscriptions_;
  // Provider contexts added by dynamic sessions. TODO(core): Policy has no providerContexts()
  // accessor, so the engine remembers the keys to delete at session end.
  std::map<SessionId, std::set<Guid>> dynamicContexts_;
};

}  // namespace xfp::engine
