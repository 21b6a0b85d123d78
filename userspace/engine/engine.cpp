#include "userspace/engine/engine.h"

#include <algorithm>
#include <functional>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "userspace/core/layers.h"
#include "userspace/core/wfp_constants.h"
#include "userspace/engine/engine_status.h"

namespace xfp::engine {

namespace {

using Clock = std::chrono::steady_clock;

tl::unexpected<Error> invalidSession(SessionId id) {
  return fail(engine_status::kInvalidHandle, fmt::format("session {} is not open", id));
}

tl::unexpected<Error> invalidEnum(EnumHandle h) {
  return fail(engine_status::kInvalidHandle,
              fmt::format("enumeration handle {} is not open in this session", h));
}

// Fills the lazy arbitration-order cache of every layer, so that concurrent readers of the
// published (const) policy never write to it.
void warm(const Policy& p) {
  p.warmOrders();
}

Clock::time_point after(std::chrono::milliseconds d) {
  const Clock::time_point now = Clock::now();
  if (d >= std::chrono::duration_cast<std::chrono::milliseconds>(Clock::time_point::max() - now)) {
    return Clock::time_point::max();
  }
  return now + d;
}

template <typename F>
void guarded(F&& f) {
  try {
    f();
  } catch (...) {  // NOLINT(bugprone-empty-catch): a hook's exception must not wedge the engine
  }
}

}  // namespace

struct Engine::SessionState {
  SessionId id = 0;
  SessionOptions options;
  std::mutex callMu;                 // one call of the session at a time
  std::unique_ptr<Transaction> txn;  // the explicit transaction
  bool txnForcedAbort = false;       // the engine aborted it; the next call says so
  bool closed = false;
  [[nodiscard]] bool dynamic() const { return (options.flags & kSessionFlagDynamic) != 0; }
};

struct Engine::EnumState {
  SessionId owner = 0;
  std::variant<std::vector<Filter>,
               std::vector<Provider>,
               std::vector<Sublayer>,
               std::vector<Callout>>
      items;
  size_t next = 0;
};

struct Engine::Call {
  std::shared_ptr<SessionState> s;
  std::unique_lock<std::mutex> call;  // s->callMu
  Lock lk;                            // mu_ (released first)
};

Engine::Engine(EngineOptions options, Policy initial) : options_(std::move(options)) {
  warm(initial);
  committed_ = std::make_shared<const Policy>(std::move(initial));
}

Engine::~Engine() = default;

// --- plumbing ---

Result<Engine::Call> Engine::enter(SessionId id, bool checkTxn) {
  std::shared_ptr<SessionState> s;
  {
    std::lock_guard g(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) {
      return invalidSession(id);
    }
    s = it->second;
  }
  std::unique_lock call(s->callMu);
  Lock lk(mu_);
  if (s->closed) {
    return invalidSession(id);
  }
  if (checkTxn) {
    if (auto r = checkTxnState(*s); !r) {
      return tl::unexpected(r.error());
    }
  }
  return Call{std::move(s), std::move(call), std::move(lk)};
}

Result<void> Engine::checkTxnState(SessionState& s) {
  if (!s.txnForcedAbort && s.txn && !s.txn->readOnly() && Clock::now() >= s.txn->lockDeadline) {
    rollBack(*s.txn);
    s.txn.reset();
    releaseWriter();
    s.txnForcedAbort = true;
  }
  if (s.txnForcedAbort) {
    s.txnForcedAbort = false;
    return fail(status::kTxnAborted,
                fmt::format("the engine aborted session {}'s transaction: it held the write lock "
                            "longer than {} ms",
                            s.id,
                            options_.txnLockTimeout.count()));
  }
  return {};
}

Clock::time_point Engine::waitDeadline(const SessionState& s) const {
  switch (s.options.txnWaitTimeoutInMSec) {
    case kTxnWaitInfinite:
      return Clock::time_point::max();
    case kTxnWaitDefault:
      return after(options_.defaultTxnWaitTimeout);
    default:
      return after(std::chrono::milliseconds(s.options.txnWaitTimeoutInMSec));
  }
}

Result<void> Engine::acquireWriter(Lock& lk, SessionId id, Clock::time_point deadline) {
  for (;;) {
    if (writer_ == 0) {
      writer_ = id;
      writerAbortable_ = false;
      return {};
    }
    const Clock::time_point now = Clock::now();
    if (writerAbortable_ && now >= writerDeadline_) {
      forceAbortWriter();
      continue;
    }
    if (now >= deadline) {
      return fail(status::kTimeout,
                  fmt::format("session {} timed out waiting for the transaction lock (held by "
                              "session {})",
                              id,
                              writer_));
    }
    Clock::time_point until = deadline;
    if (writerAbortable_) {
      until = std::min(until, writerDeadline_);
    }
    if (until == Clock::time_point::max()) {
      writerFree_.wait(lk);
    } else {
      writerFree_.wait_until(lk, until);
    }
  }
}

void Engine::releaseWriter() {
  writer_ = 0;
  writerAbortable_ = false;
  writerFree_.notify_all();
}

void Engine::forceAbortWriter() {
  auto it = sessions_.find(writer_);
  if (it != sessions_.end()) {
    if (it->second->txn) {
      rollBack(*it->second->txn);
    }
    it->second->txn.reset();
    it->second->txnForcedAbort = true;
  }
  releaseWriter();
}

std::unique_ptr<Transaction> Engine::startReadWrite(Lock& lk, bool implicit) {
  writerAbortable_ = false;
  std::shared_ptr<const Policy> base = committed_;
  lk.unlock();  // copying a large policy must not stall readers; the write lock keeps it current
  auto working = std::make_unique<Policy>(base->copy());  // orders filled lazily, then warm()
  lk.lock();
  return std::make_unique<Transaction>(std::move(base), std::move(working), implicit);
}

Result<void> Engine::commitLocked(Lock& lk, SessionId committer, Transaction& txn) {
  if (txn.readOnly()) {
    return {};
  }
  if (!txn.changed()) {
    releaseWriter();
    return {};
  }
  writerAbortable_ = false;
  lk.unlock();
  warm(txn.working());
  Result<void> saved;
  if (txn.persistentChanged() && options_.store != nullptr) {
    saved = options_.store->save(txn.working());
  }
  lk.lock();
  if (!saved) {
    rollBack(txn);
    releaseWriter();
    const uint32_t code =
        saved.error().status != 0 ? saved.error().status : engine_status::kStoreWriteFailed;
    return fail(code, "commit failed, nothing changed: persistent store: " + saved.error().message);
  }
  std::vector<uint64_t> added = txn.netAddedFilterIds();
  std::shared_ptr<const Policy> next(txn.takeWorking());
  // Published to readers only after the hook put it into the data path (below): a session that
  // sees the new policy can rely on its enforcement.
  const uint64_t generation = generation_ + 1;

  struct Delivery {
    FilterChangeCallback callback;
    FilterChange change;
  };
  std::vector<Delivery> deliveries;
  for (const auto& [type, f] : txn.netFilterChanges()) {
    const Policy& context = type == ChangeType::Add ? *next : txn.base();
    const uint32_t wanted =
        type == ChangeType::Add ? kSubscriptionFlagNotifyOnAdd : kSubscriptionFlagNotifyOnDelete;
    for (const auto& [handle, sub] : subscriptions_) {
      const uint32_t flags = sub.subscription.flags == 0
                                 ? kSubscriptionFlagNotifyOnAdd | kSubscriptionFlagNotifyOnDelete
                                 : sub.subscription.flags;
      if (sub.owner == committer || (flags & wanted) == 0) {
        continue;  // Appendix A.11: not for the session's own changes
      }
      if (sub.subscription.enumTemplate &&
          !filterMatchesTemplate(context, *sub.subscription.enumTemplate, *f)) {
        continue;
      }
      deliveries.push_back({sub.callback, FilterChange{type, f->key, f->filterId}});
    }
  }
  lk.unlock();  // the write lock stays ours: hooks and notifications arrive in commit order
  if (options_.onCommit) {
    guarded([&] { options_.onCommit(next, generation, added); });
  }
  lk.lock();
  committed_ = next;
  generation_ = generation;
  lk.unlock();
  for (const Delivery& d : deliveries) {
    guarded([&] { d.callback(d.change); });
  }
  lk.lock();
  releaseWriter();
  return {};
}

template <typename T, typename Op>
Result<T> Engine::write(SessionId session, Op&& op) {
  auto call = enter(session, true);
  if (!call) {
    return tl::unexpected(call.error());
  }
  SessionState& s = *call->s;
  if (s.txn) {
    if (s.txn->readOnly()) {
      return fail(status::kIncompatibleTxn, "a write in a read-only transaction");
    }
    return op(s, *s.txn);
  }
  // An implicit transaction around this one call (§7.2).
  if (auto r = acquireWriter(call->lk, session, waitDeadline(s)); !r) {
    return tl::unexpected(r.error());
  }
  std::unique_ptr<Transaction> txn = startReadWrite(call->lk, true);
  Result<T> r = op(s, *txn);
  if (!r) {
    releaseWriter();
    return r;
  }
  if (auto c = commitLocked(call->lk, session, *txn); !c) {
    return tl::unexpected(c.error());
  }
  return r;
}

template <typename T, typename Op>
Result<T> Engine::read(SessionId session, Op&& op) {
  auto call = enter(session, true);
  if (!call) {
    return tl::unexpected(call.error());
  }
  const SessionState& s = *call->s;
  return op(s.txn ? s.txn->view() : *committed_);
}

// --- sessions ---

Result<SessionId> Engine::open(const SessionOptions& options) {
  if ((options.flags & ~kSessionFlagsValid) != 0) {
    return fail(status::kInvalidFlags, fmt::format("session flags 0x{:x}", options.flags));
  }
  std::lock_guard g(mu_);
  auto s = std::make_shared<SessionState>();
  s->options = options;
  if (s->options.sessionKey.isZero()) {
    s->options.sessionKey = Guid::generate();
  }
  for (const auto& [id, other] : sessions_) {
    if (other->options.sessionKey == s->options.sessionKey) {
      return fail(status::kAlreadyExists,
                  "session " + s->options.sessionKey.toString() + " is already open");
    }
  }
  s->id = nextSessionId_++;
  sessions_.emplace(s->id, s);
  return s->id;
}

Result<void> Engine::close(SessionId session) {
  return closeSession(session);
}

Result<void> Engine::clientDied(SessionId session) {
  return closeSession(session);
}

Result<void> Engine::closeSession(SessionId id) {
  auto call = enter(id, false);
  if (!call) {
    return tl::unexpected(call.error());
  }
  SessionState& s = *call->s;
  s.closed = true;
  sessions_.erase(id);
  if (s.txn) {  // §7.1: first abort the open transaction
    const bool readWrite = !s.txn->readOnly();
    if (readWrite) {
      rollBack(*s.txn);
    }
    s.txn.reset();
    if (readWrite) {
      releaseWriter();
    }
  }
  std::erase_if(enums_, [&](const auto& e) { return e.second->owner == id; });
  std::erase_if(subscriptions_, [&](const auto& e) { return e.second.owner == id; });
  if (s.dynamic()) {
    cleanupDynamic(call->lk, id);
  }
  dynamicContexts_.erase(id);
  return {};
}

void Engine::cleanupDynamic(Lock& lk, SessionId id) {
  (void)acquireWriter(lk, id, Clock::time_point::max());  // cannot time out
  std::unique_ptr<Transaction> txn = startReadWrite(lk, true);
  Policy& p = txn->working();
  const auto own = [&](const ObjectOrigin& o) {
    return o.lifetime == Lifetime::Dynamic && o.sessionId == id;
  };
  // Referrers first: filters, then callouts, sublayers, provider contexts, providers. Nothing
  // else can reference a session's dynamic objects (§1.2), so every delete succeeds.
  std::vector<uint64_t> filterIds;
  for (const auto& [fid, f] : p.filters()) {
    if (own(f.origin)) {
      filterIds.push_back(fid);
    }
  }
  for (uint64_t fid : filterIds) {
    Filter copy = *p.filterById(fid);
    if (options_.notifier.deleted) {
      guarded([&] { options_.notifier.deleted(copy, p); });
    }
    if (p.deleteFilterById(fid)) {
      txn->recordFilterDelete(copy);
    }
  }
  const auto keysOf = [&](const auto& objects) {
    std::vector<Guid> keys;
    for (const auto& [key, o] : objects) {
      if (own(o.origin)) {
        keys.push_back(key);
      }
    }
    return keys;
  };
  for (const Guid& k : keysOf(p.callouts())) {
    if (p.deleteCallout(k)) {
      txn->recordWrite(false);
    }
  }
  for (const Guid& k : keysOf(p.sublayers())) {
    if (p.deleteSublayer(k)) {
      txn->recordWrite(false);
    }
  }
  if (auto it = dynamicContexts_.find(id); it != dynamicContexts_.end()) {
    for (const Guid& k : it->second) {
      const ProviderContext* pc = p.providerContext(k);
      if (pc != nullptr && own(pc->origin) && p.deleteProviderContext(k)) {
        txn->recordWrite(false);
      }
    }
  }
  for (const Guid& k : keysOf(p.providers())) {
    if (p.deleteProvider(k)) {
      txn->recordWrite(false);
    }
  }
  (void)commitLocked(lk, id, *txn);  // nothing persistent: cannot fail
}

Result<SessionInfo> Engine::session(SessionId session) const {
  std::lock_guard g(mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end()) {
    return invalidSession(session);
  }
  const SessionState& s = *it->second;
  return SessionInfo{
      s.id, s.options, s.dynamic(), s.txn != nullptr, s.txn != nullptr && s.txn->readOnly()};
}

std::vector<SessionInfo> Engine::sessions() const {
  std::lock_guard g(mu_);
  std::vector<SessionInfo> out;
  for (const auto& [id, s] : sessions_) {
    out.push_back(SessionInfo{s->id,
                              s->options,
                              s->dynamic(),
                              s->txn != nullptr,
                              s->txn != nullptr && s->txn->readOnly()});
  }
  return out;
}

// --- transactions ---

Result<void> Engine::begin(SessionId session, uint32_t flags) {
  auto call = enter(session, true);
  if (!call) {
    return tl::unexpected(call.error());
  }
  SessionState& s = *call->s;
  if (s.txn) {
    return fail(status::kTxnInProgress,
                fmt::format("session {} already has a transaction open", session));
  }
  if ((flags & ~kTxnReadOnly) != 0) {
    return fail(status::kInvalidFlags, fmt::format("transaction flags 0x{:x}", flags));
  }
  if ((flags & kTxnReadOnly) != 0) {
    s.txn = std::make_unique<Transaction>(committed_);  // a snapshot; no lock
    return {};
  }
  if (auto r = acquireWriter(call->lk, session, waitDeadline(s)); !r) {
    return r;
  }
  s.txn = startReadWrite(call->lk, false);
  s.txn->lockDeadline = after(options_.txnLockTimeout);
  writerDeadline_ = s.txn->lockDeadline;
  writerAbortable_ = true;
  return {};
}

Result<void> Engine::commit(SessionId session) {
  auto call = enter(session, true);
  if (!call) {
    return tl::unexpected(call.error());
  }
  SessionState& s = *call->s;
  if (!s.txn) {
    return fail(status::kNoTxnInProgress,
                fmt::format("session {} has no transaction to commit", session));
  }
  std::unique_ptr<Transaction> txn = std::move(s.txn);
  return commitLocked(call->lk, session, *txn);
}

Result<void> Engine::abort(SessionId session) {
  auto call = enter(session, true);
  if (!call) {
    return tl::unexpected(call.error());
  }
  SessionState& s = *call->s;
  if (!s.txn) {
    return fail(status::kNoTxnInProgress,
                fmt::format("session {} has no transaction to abort", session));
  }
  const bool readWrite = !s.txn->readOnly();
  if (readWrite) {
    rollBack(*s.txn);
  }
  s.txn.reset();
  if (readWrite) {
    releaseWriter();
  }
  return {};
}

void Engine::rollBack(Transaction& txn) {
  if (!options_.notifier.deleted || txn.readOnly()) {
    return;
  }
  Policy& working = txn.working();
  for (uint64_t id : txn.netAddedFilterIds()) {
    if (const Filter* f = working.filterById(id); f != nullptr) {
      guarded([&] { options_.notifier.deleted(*f, working); });
    }
  }
}

uint32_t Engine::calloutIdForKey(const Guid& key) const {
  std::shared_ptr<const Policy> p;
  {
    std::lock_guard lock(mu_);
    p = committed_;
  }
  return p->calloutIdForKey(key);
}

// --- objects ---

namespace {

// The lifetime of what a session adds: Dynamic (owned by the session) from a dynamic session,
// else Static; the PERSISTENT flag makes Policy store it as Persistent. A dynamic session may not
// add persistent objects (our choice: FWP_E_DYNAMIC_SESSION_IN_PROGRESS, "operation not
// permitted from a dynamic session").
Result<ObjectOrigin> addOrigin(SessionId id, bool dynamic, bool persistent, const char* what) {
  if (dynamic) {
    if (persistent) {
      return fail(status::kDynamicSessionInProgress,
                  fmt::format("{}: a dynamic session cannot add a persistent object", what));
    }
    return ObjectOrigin{Lifetime::Dynamic, id};
  }
  return ObjectOrigin{Lifetime::Static, 0};
}

// §7.1: another dynamic session's object: FWP_E_WRONG_SESSION; a non-dynamic object from a
// dynamic session: FWP_E_DYNAMIC_SESSION_IN_PROGRESS; built-in: FWP_E_BUILTIN_OBJECT.
Result<void> checkDelete(SessionId id,
                         bool dynamic,
                         const ObjectOrigin& o,
                         const std::string& what) {
  if (o.lifetime == Lifetime::BuiltIn) {
    return fail(status::kBuiltinObject, what + " is built in");
  }
  if (o.lifetime == Lifetime::Dynamic && o.sessionId != id) {
    return fail(status::kWrongSession,
                fmt::format("{} belongs to dynamic session {}", what, o.sessionId));
  }
  if (dynamic && o.lifetime != Lifetime::Dynamic) {
    return fail(status::kDynamicSessionInProgress, what + " was not added by this dynamic session");
  }
  return {};
}

// One delete of a non-filter object under WFP's session rules (checkDelete); `remove` is the
// Policy call, which also reports an unknown key.
template <typename T, typename Remove>
Result<void> deleteChecked(SessionId id,
                           bool dynamic,
                           Transaction& t,
                           const T* object,
                           const std::string& what,
                           Remove remove) {
  if (object == nullptr) {
    return remove();
  }
  if (auto r = checkDelete(id, dynamic, object->origin, what); !r) {
    return r;
  }
  const bool persistent = object->origin.lifetime == Lifetime::Persistent;
  if (auto r = remove(); !r) {
    return r;
  }
  t.recordWrite(persistent);
  return {};
}

// The same for a filter (its change subscribers are told).
Result<void> deleteFilterChecked(SessionId id,
                                 bool dynamic,
                                 Transaction& t,
                                 const Filter* filter,
                                 const std::string& what,
                                 const FilterNotifier& notifier,
                                 const std::function<Result<void>()>& remove) {
  if (filter == nullptr) {
    return remove();
  }
  if (auto r = checkDelete(id, dynamic, filter->origin, what); !r) {
    return r;
  }
  if (notifier.deleted) {  // DELETE_FILTER at the call, whether or not it is committed (§5.4)
    guarded([&] { notifier.deleted(*filter, t.working()); });
  }
  Filter copy = *filter;
  if (auto r = t.working().deleteFilterById(copy.filterId); !r) {
    return r;
  }
  t.recordFilterDelete(copy);
  return {};
}

template <typename T>
Result<T> found(const T* object, uint32_t code, const std::string& what) {
  if (object == nullptr) {
    return fail(code, what + " not found");
  }
  return *object;
}

}  // namespace

Result<void> Engine::addProvider(SessionId session, Provider provider) {
  return write<void>(session, [&](SessionState& s, Transaction& t) -> Result<void> {
    const bool persistent = (provider.flags & kProviderFlagPersistent) != 0;
    auto origin = addOrigin(s.id, s.dynamic(), persistent, "provider");
    if (!origin) {
      return tl::unexpected(origin.error());
    }
    provider.origin = *origin;
    if (auto r = t.working().addProvider(std::move(provider)); !r) {
      return r;
    }
    t.recordWrite(persistent);
    return {};
  });
}

Result<void> Engine::deleteProvider(SessionId session, const Guid& key) {
  return write<void>(session, [&](SessionState& s, Transaction& t) -> Result<void> {
    Policy& p = t.working();
    return deleteChecked(s.id, s.dynamic(), t, p.provider(key), "provider " + key.toString(), [&] {
      return p.deleteProvider(key);
    });
  });
}

Result<Provider> Engine::getProvider(SessionId session, const Guid& key) {
  return read<Provider>(session, [&](const Policy& p) {
    return found(p.provider(key), status::kProviderNotFound, "provider " + key.toString());
  });
}

Result<uint64_t> Engine::addProviderContext(SessionId session, ProviderContext context) {
  return write<uint64_t>(session, [&](SessionState& s, Transaction& t) -> Result<uint64_t> {
    const bool persistent = (context.flags & kProviderContextFlagPersistent) != 0;
    auto origin = addOrigin(s.id, s.dynamic(), persistent, "provider context");
    if (!origin) {
      return tl::unexpected(origin.error());
    }
    context.origin = *origin;
    auto id = t.working().addProviderContext(std::move(context));
    if (!id) {
      return id;
    }
    if (s.dynamic()) {
      dynamicContexts_[s.id].insert(t.working().providerContextById(*id)->key);
    }
    t.recordWrite(persistent);
    return id;
  });
}

Result<void> Engine::deleteProviderContext(SessionId session, const Guid& key) {
  return write<void>(session, [&](SessionState& s, Transaction& t) -> Result<void> {
    Policy& p = t.working();
    return deleteChecked(
        s.id, s.dynamic(), t, p.providerContext(key), "provider context " + key.toString(), [&] {
          return p.deleteProviderContext(key);
        });
  });
}

Result<ProviderContext> Engine::getProviderContext(SessionId session, const Guid& key) {
  return read<ProviderContext>(session, [&](const Policy& p) {
    return found(p.providerContext(key),
                 status::kProviderContextNotFound,
                 "provider context " + key.toString());
  });
}

Result<void> Engine::addSublayer(SessionId session, Sublayer sublayer) {
  return write<void>(session, [&](SessionState& s, Transaction& t) -> Result<void> {
    const bool persistent = (sublayer.flags & kSublayerFlagPersistent) != 0;
    auto origin = addOrigin(s.id, s.dynamic(), persistent, "sublayer");
    if (!origin) {
      return tl::unexpected(origin.error());
    }
    sublayer.origin = *origin;
    if (auto r = t.working().addSublayer(std::move(sublayer)); !r) {
      return r;
    }
    t.recordWrite(persistent);
    return {};
  });
}

Result<void> Engine::deleteSublayer(SessionId session, const Guid& key) {
  return write<void>(session, [&](SessionState& s, Transaction& t) -> Result<void> {
    Policy& p = t.working();
    return deleteChecked(s.id, s.dynamic(), t, p.sublayer(key), "sublayer " + key.toString(), [&] {
      return p.deleteSublayer(key);
    });
  });
}

Result<Sublayer> Engine::getSublayer(SessionId session, const Guid& key) {
  return read<Sublayer>(session, [&](const Policy& p) {
    return found(p.sublayer(key), status::kSublayerNotFound, "sublayer " + key.toString());
  });
}

Result<uint32_t> Engine::addCallout(SessionId session, Callout callout) {
  return write<uint32_t>(session, [&](SessionState& s, Transaction& t) -> Result<uint32_t> {
    const bool persistent = (callout.flags & kCalloutFlagPersistent) != 0;
    auto origin = addOrigin(s.id, s.dynamic(), persistent, "callout");
    if (!origin) {
      return tl::unexpected(origin.error());
    }
    callout.origin = *origin;
    auto id = t.working().addCallout(std::move(callout));
    if (id) {
      t.recordWrite(persistent);
    }
    return id;
  });
}

Result<void> Engine::deleteCalloutByKey(SessionId session, const Guid& key) {
  return write<void>(session, [&](SessionState& s, Transaction& t) -> Result<void> {
    Policy& p = t.working();
    return deleteChecked(s.id, s.dynamic(), t, p.callout(key), "callout " + key.toString(), [&] {
      return p.deleteCallout(key);
    });
  });
}

Result<void> Engine::deleteCalloutById(SessionId session, uint32_t calloutId) {
  Guid key;
  {
    auto c = getCalloutById(session, calloutId);
    if (!c) {
      return tl::unexpected(c.error());
    }
    key = c->key;
  }
  return deleteCalloutByKey(session, key);
}

Result<Callout> Engine::getCalloutByKey(SessionId session, const Guid& key) {
  return read<Callout>(session, [&](const Policy& p) {
    return found(p.callout(key), status::kCalloutNotFound, "callout " + key.toString());
  });
}

Result<Callout> Engine::getCalloutById(SessionId session, uint32_t calloutId) {
  return read<Callout>(session, [&](const Policy& p) {
    return found(p.calloutById(calloutId),
                 status::kCalloutNotFound,
                 fmt::format("callout id {}", calloutId));
  });
}

Result<uint64_t> Engine::addFilter(SessionId session, Filter filter) {
  return write<uint64_t>(session, [&](SessionState& s, Transaction& t) -> Result<uint64_t> {
    auto origin =
        addOrigin(s.id, s.dynamic(), (filter.flags & filter_flag::kPersistent) != 0, "filter");
    if (!origin) {
      return tl::unexpected(origin.error());
    }
    filter.origin = *origin;
    Policy& p = t.working();
    auto id = p.addFilter(std::move(filter));
    if (!id) {
      return id;
    }
    if (options_.notifier.added) {
      bool accepted = false;
      guarded([&] { accepted = options_.notifier.added(*p.filterById(*id), p); });
      if (!accepted) {
        (void)p.deleteFilterById(*id);
        return fail(status::kCalloutNotificationFailed,
                    "the filter's callout refused it (notifyFn FWPS_CALLOUT_NOTIFY_ADD_FILTER "
                    "failed); nothing was added");
      }
    }
    t.recordFilterAdd(*p.filterById(*id));
    return id;
  });
}

Result<void> Engine::deleteFilterById(SessionId session, uint64_t filterId) {
  return write<void>(session, [&](SessionState& s, Transaction& t) -> Result<void> {
    Policy& p = t.working();
    return deleteFilterChecked(s.id,
                               s.dynamic(),
                               t,
                               p.filterById(filterId),
                               fmt::format("filter {}", filterId),
                               options_.notifier,
                               [&] { return p.deleteFilterById(filterId); });
  });
}

Result<void> Engine::deleteFilterByKey(SessionId session, const Guid& key) {
  return write<void>(session, [&](SessionState& s, Transaction& t) -> Result<void> {
    Policy& p = t.working();
    return deleteFilterChecked(s.id,
                               s.dynamic(),
                               t,
                               p.filterByKey(key),
                               "filter " + key.toString(),
                               options_.notifier,
                               [&] { return p.deleteFilterByKey(key); });
  });
}

Result<Filter> Engine::getFilterById(SessionId session, uint64_t filterId) {
  return read<Filter>(session, [&](const Policy& p) {
    return found(
        p.filterById(filterId), status::kFilterNotFound, fmt::format("filter id {}", filterId));
  });
}

Result<Filter> Engine::getFilterByKey(SessionId session, const Guid& key) {
  return read<Filter>(session, [&](const Policy& p) {
    return found(p.filterByKey(key), status::kFilterNotFound, "filter " + key.toString());
  });
}

// --- enumeration ---

template <typename T, typename Select>
Result<EnumHandle> Engine::createEnum(SessionId session, Select&& select) {
  auto call = enter(session, true);
  if (!call) {
    return tl::unexpected(call.error());
  }
  const SessionState& s = *call->s;
  Result<std::vector<T>> items = select(s.txn ? s.txn->view() : *committed_);
  if (!items) {
    return tl::unexpected(items.error());
  }
  const EnumHandle h = nextHandle_++;
  auto state = std::make_unique<EnumState>();
  state->owner = session;
  state->items = std::move(*items);
  enums_.emplace(h, std::move(state));
  return h;
}

template <typename T>
Result<std::vector<T>> Engine::enumNext(SessionId session, EnumHandle handle, uint32_t n) {
  auto call = enter(session, false);
  if (!call) {
    return tl::unexpected(call.error());
  }
  auto it = enums_.find(handle);
  if (it == enums_.end() || it->second->owner != session ||
      !std::holds_alternative<std::vector<T>>(it->second->items)) {
    return invalidEnum(handle);
  }
  EnumState& e = *it->second;
  const auto& items = std::get<std::vector<T>>(e.items);
  const size_t end = std::min(items.size(), e.next + n);
  std::vector<T> out(items.begin() + static_cast<std::ptrdiff_t>(e.next),
                     items.begin() + static_cast<std::ptrdiff_t>(end));
  e.next = end;
  return out;
}

template <typename T>
Result<void> Engine::destroyEnum(SessionId session, EnumHandle handle) {
  auto call = enter(session, false);
  if (!call) {
    return tl::unexpected(call.error());
  }
  auto it = enums_.find(handle);
  if (it == enums_.end() || it->second->owner != session ||
      !std::holds_alternative<std::vector<T>>(it->second->items)) {
    return invalidEnum(handle);
  }
  enums_.erase(it);
  return {};
}

Result<EnumHandle> Engine::createFilterEnumHandle(SessionId session, const FilterEnumTemplate* t) {
  return createEnum<Filter>(session, [&](const Policy& p) { return selectFilters(p, t); });
}
Result<std::vector<Filter>> Engine::enumFilters(SessionId session, EnumHandle handle, uint32_t n) {
  return enumNext<Filter>(session, handle, n);
}
Result<void> Engine::destroyFilterEnumHandle(SessionId session, EnumHandle handle) {
  return destroyEnum<Filter>(session, handle);
}

Result<EnumHandle> Engine::createProviderEnumHandle(SessionId session) {
  return createEnum<Provider>(session, [&](const Policy& p) -> Result<std::vector<Provider>> {
    return selectProviders(p);
  });
}
Result<std::vector<Provider>> Engine::enumProviders(SessionId session,
                                                    EnumHandle handle,
                                                    uint32_t n) {
  return enumNext<Provider>(session, handle, n);
}
Result<void> Engine::destroyProviderEnumHandle(SessionId session, EnumHandle handle) {
  return destroyEnum<Provider>(session, handle);
}

Result<EnumHandle> Engine::createSublayerEnumHandle(SessionId session,
                                                    const SublayerEnumTemplate* t) {
  return createEnum<Sublayer>(session, [&](const Policy& p) -> Result<std::vector<Sublayer>> {
    return selectSublayers(p, t);
  });
}
Result<std::vector<Sublayer>> Engine::enumSublayers(SessionId session,
                                                    EnumHandle handle,
                                                    uint32_t n) {
  return enumNext<Sublayer>(session, handle, n);
}
Result<void> Engine::destroySublayerEnumHandle(SessionId session, EnumHandle handle) {
  return destroyEnum<Sublayer>(session, handle);
}

Result<EnumHandle> Engine::createCalloutEnumHandle(SessionId session,
                                                   const CalloutEnumTemplate* t) {
  return createEnum<Callout>(session, [&](const Policy& p) { return selectCallouts(p, t); });
}
Result<std::vector<Callout>> Engine::enumCallouts(SessionId session,
                                                  EnumHandle handle,
                                                  uint32_t n) {
  return enumNext<Callout>(session, handle, n);
}
Result<void> Engine::destroyCalloutEnumHandle(SessionId session, EnumHandle handle) {
  return destroyEnum<Callout>(session, handle);
}

// --- subscriptions ---

Result<ChangeHandle> Engine::subscribeFilterChanges(SessionId session,
                                                    const FilterSubscription& subscription,
                                                    FilterChangeCallback callback) {
  if (!callback) {
    return fail(status::kNullPointer, "subscription: callback is required");
  }
  if ((subscription.flags & ~(kSubscriptionFlagNotifyOnAdd | kSubscriptionFlagNotifyOnDelete)) !=
      0) {
    return fail(status::kInvalidFlags,
                fmt::format("subscription flags 0x{:x}", subscription.flags));
  }
  if (subscription.enumTemplate) {
    if (auto r = validateFilterEnumTemplate(*subscription.enumTemplate); !r) {
      return tl::unexpected(r.error());
    }
  }
  auto call = enter(session, false);
  if (!call) {
    return tl::unexpected(call.error());
  }
  const ChangeHandle h = nextHandle_++;
  subscriptions_.emplace(h, Subscription{session, subscription, std::move(callback)});
  return h;
}

Result<void> Engine::unsubscribeFilterChanges(SessionId session, ChangeHandle handle) {
  auto call = enter(session, false);
  if (!call) {
    return tl::unexpected(call.error());
  }
  auto it = subscriptions_.find(handle);
  if (it == subscriptions_.end() || it->second.owner != session) {
    return fail(engine_status::kInvalidHandle,
                fmt::format("change handle {} is not open in this session", handle));
  }
  subscriptions_.erase(it);
  return {};
}

Result<std::vector<FilterSubscription>> Engine::filterSubscriptions(SessionId session) {
  auto call = enter(session, false);
  if (!call) {
    return tl::unexpected(call.error());
  }
  std::vector<FilterSubscription> out;
  for (const auto& [h, sub] : subscriptions_) {
    if (sub.owner == session) {
      out.push_back(sub.subscription);
    }
  }
  return out;
}

// --- committed state ---

std::shared_ptr<const Policy> Engine::committed() const {
  std::lock_guard g(mu_);
  return committed_;
}

uint64_t Engine::generation() const {
  std::lock_guard g(mu_);
  return generation_;
}

}  // namespace xfp::engine
