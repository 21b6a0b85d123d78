// The engine's sessions and transactions (wfp-model.md §7.1, §7.2): all-or-nothing
// transactions invisible to others until commit, one generation per commit, one writer at a time
// with FWP_E_TIMEOUT for a second one, implicit transactions, dynamic sessions whose objects
// vanish when they close or their client dies, and the persistence hook.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/unit/engine/engine_fixture.h"
#include "userspace/engine/engine_status.h"
#include "userspace/engine/store.h"

namespace xfp::engine {
namespace {

using namespace xfp::engine::testing;  // NOLINT(google-build-using-namespace)
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

struct Commits {
  std::atomic<int> calls{0};
  std::atomic<uint64_t> lastGeneration{0};
  std::atomic<size_t> lastFilterCount{0};
  std::vector<uint64_t> lastAdded;  // written by the hook under the engine's write lock
  EngineOptions options() {
    EngineOptions o;
    o.onCommit = [this](const std::shared_ptr<const Policy>& p,
                        uint64_t generation,
                        const std::vector<uint64_t>& added) {
      ++calls;
      lastGeneration = generation;
      lastFilterCount = p->filters().size();
      lastAdded = added;
    };
    return o;
  }
};

TEST(EngineSessions, OpenAndClose) {
  Engine e;
  SessionOptions o;
  o.sessionKey = Guid::generate();
  o.displayData.name = "first";
  auto a = e.open(o);
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(code(e.open(o)), status::kAlreadyExists);  // key of an open session
  SessionOptions bad;
  bad.flags = 0x2;
  EXPECT_EQ(code(e.open(bad)), status::kInvalidFlags);
  auto info = e.session(*a);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->options.sessionKey, o.sessionKey);
  EXPECT_FALSE(info->dynamic);
  const SessionId generated = open(e);
  EXPECT_FALSE(e.session(generated)->options.sessionKey.isZero());
  XFP_OK(e.close(*a));
  EXPECT_EQ(code(e.close(*a)), engine_status::kInvalidHandle);
  EXPECT_EQ(code(e.addFilter(*a, filter("f"))), engine_status::kInvalidHandle);
  EXPECT_EQ(code(e.begin(12345)), engine_status::kInvalidHandle);
  EXPECT_TRUE(e.open(o).has_value());  // the key is free again
}

TEST(EngineTransactions, AbortLeavesNoTrace) {
  Commits commits;
  Engine e(commits.options());
  const SessionId s = open(e);
  const Filter kept = filter("kept");
  XFP_OK(e.addFilter(s, kept));
  const uint64_t generation = e.generation();
  const size_t filters = e.committed()->filters().size();

  XFP_OK(e.begin(s));
  const Provider p = provider("p");
  const Sublayer sl = sublayer("sl", 10);
  XFP_OK(e.addProvider(s, p));
  XFP_OK(e.addSublayer(s, sl));
  Filter f = filter("in txn");
  f.subLayerKey = sl.key;
  f.providerKey = p.key;
  auto id = e.addFilter(s, f);
  ASSERT_TRUE(id.has_value());
  XFP_OK(e.deleteFilterByKey(s, kept.key));
  // The transaction reads its own changes.
  EXPECT_TRUE(e.getFilterById(s, *id).has_value());
  EXPECT_TRUE(e.getSublayer(s, sl.key).has_value());
  EXPECT_EQ(code(e.getFilterByKey(s, kept.key)), status::kFilterNotFound);
  XFP_OK(e.abort(s));

  EXPECT_EQ(e.generation(), generation);
  EXPECT_EQ(commits.calls, 1);  // the implicit add only
  EXPECT_EQ(e.committed()->filters().size(), filters);
  EXPECT_EQ(code(e.getFilterById(s, *id)), status::kFilterNotFound);
  EXPECT_EQ(code(e.getSublayer(s, sl.key)), status::kSublayerNotFound);
  EXPECT_EQ(code(e.getProvider(s, p.key)), status::kProviderNotFound);
  EXPECT_TRUE(e.getFilterByKey(s, kept.key).has_value());
  // The write lock is free again: another session writes at once.
  const SessionId other = open(e, 0, 1);
  XFP_OK(e.begin(other));
  XFP_OK(e.abort(other));
}

TEST(EngineTransactions, UncommittedChangesInvisibleToOthers) {
  Engine e;
  const SessionId a = open(e);
  const SessionId b = open(e);
  XFP_OK(e.begin(a));
  const Filter f = filter("pending");
  XFP_OK(e.addFilter(a, f));
  EXPECT_TRUE(e.getFilterByKey(a, f.key).has_value());
  EXPECT_EQ(code(e.getFilterByKey(b, f.key)), status::kFilterNotFound);
  auto h = e.createFilterEnumHandle(b, nullptr);
  ASSERT_TRUE(h.has_value());
  EXPECT_TRUE(e.enumFilters(b, *h, 100)->empty());
  EXPECT_EQ(e.committed()->filterByKey(f.key), nullptr);
  // A read-only transaction of b started now keeps reading the state of its start.
  XFP_OK(e.begin(b, kTxnReadOnly));
  XFP_OK(e.commit(a));
  EXPECT_EQ(code(e.getFilterByKey(b, f.key)), status::kFilterNotFound);
  XFP_OK(e.commit(b));
  EXPECT_TRUE(e.getFilterByKey(b, f.key).has_value());
  EXPECT_NE(e.committed()->filterByKey(f.key), nullptr);
}

TEST(EngineTransactions, OneGenerationPerCommit) {
  Commits commits;
  Engine e(commits.options());
  const SessionId s = open(e);
  XFP_OK(e.begin(s));
  for (int i = 0; i < 10; ++i) {
    XFP_OK(e.addFilter(s, filter("f" + std::to_string(i))));
  }
  EXPECT_EQ(commits.calls, 0);
  XFP_OK(e.commit(s));
  EXPECT_EQ(e.generation(), 1U);
  EXPECT_EQ(commits.calls, 1);
  EXPECT_EQ(commits.lastGeneration, 1U);
  EXPECT_EQ(commits.lastFilterCount, 10U);

  XFP_OK(e.addFilter(s, filter("implicit")));  // its own transaction
  EXPECT_EQ(e.generation(), 2U);
  EXPECT_EQ(commits.calls, 2);
  EXPECT_EQ(commits.lastFilterCount, 11U);

  // Nothing changed: no generation.
  XFP_OK(e.begin(s));
  XFP_OK(e.commit(s));
  XFP_OK(e.begin(s, kTxnReadOnly));
  XFP_OK(e.commit(s));
  EXPECT_EQ(
      code(e.addFilter(s, filter("bad", layer("INBOUND_TRANSPORT_V4"), ActionType::Continue))),
      status::kInvalidActionType);  // a failed implicit call
  EXPECT_EQ(e.generation(), 2U);
  EXPECT_EQ(commits.calls, 2);
}

TEST(EngineTransactions, NestedBeginAndCommitWithoutBegin) {
  Engine e;
  const SessionId s = open(e);
  EXPECT_EQ(code(e.commit(s)), status::kNoTxnInProgress);
  EXPECT_EQ(code(e.abort(s)), status::kNoTxnInProgress);
  EXPECT_EQ(code(e.begin(s, 0x2)), status::kInvalidFlags);
  XFP_OK(e.begin(s));
  EXPECT_EQ(code(e.begin(s)), status::kTxnInProgress);
  EXPECT_EQ(code(e.begin(s, kTxnReadOnly)), status::kTxnInProgress);
  XFP_OK(e.commit(s));
  EXPECT_EQ(code(e.commit(s)), status::kNoTxnInProgress);
  // Writes in a read-only transaction.
  XFP_OK(e.begin(s, kTxnReadOnly));
  EXPECT_EQ(code(e.addFilter(s, filter("ro"))), status::kIncompatibleTxn);
  EXPECT_EQ(code(e.addProvider(s, provider("ro"))), status::kIncompatibleTxn);
  EXPECT_EQ(code(e.deleteFilterById(s, 1)), status::kIncompatibleTxn);
  XFP_OK(e.abort(s));
  EXPECT_EQ(code(e.abort(s)), status::kNoTxnInProgress);
}

// §7.2: a failing call does not doom the explicit transaction.
TEST(EngineTransactions, FailingCallKeepsTransaction) {
  Engine e;
  const SessionId s = open(e);
  XFP_OK(e.begin(s));
  const Filter f = filter("one");
  XFP_OK(e.addFilter(s, f));
  EXPECT_EQ(code(e.addFilter(s, f)), status::kAlreadyExists);
  EXPECT_EQ(code(e.deleteFilterById(s, 999)), status::kFilterNotFound);
  const Filter g = filter("two");
  XFP_OK(e.addFilter(s, g));
  XFP_OK(e.commit(s));
  EXPECT_NE(e.committed()->filterByKey(f.key), nullptr);
  EXPECT_NE(e.committed()->filterByKey(g.key), nullptr);
}

TEST(EngineTransactions, SecondWriterTimesOutThenGetsIn) {
  Engine e;
  const SessionId a = open(e);
  const SessionId b = open(e, 0, 100);  // 100 ms wait
  XFP_OK(e.begin(a));
  const Filter fa = filter("a's");
  XFP_OK(e.addFilter(a, fa));

  auto t0 = Clock::now();
  EXPECT_EQ(code(e.begin(b)), status::kTimeout);
  auto waited = Clock::now() - t0;
  EXPECT_GE(waited, milliseconds(100));
  EXPECT_LT(waited, milliseconds(5000));
  // An implicit transaction waits the same way.
  t0 = Clock::now();
  EXPECT_EQ(code(e.addFilter(b, filter("b's"))), status::kTimeout);
  EXPECT_GE(Clock::now() - t0, milliseconds(100));
  // Read-only transactions and reads take no lock.
  XFP_OK(e.begin(b, kTxnReadOnly));
  XFP_OK(e.abort(b));
  EXPECT_EQ(code(e.getFilterByKey(b, fa.key)), status::kFilterNotFound);

  // A patient writer gets in when a commits, and sees a's changes.
  const SessionId c = open(e, 0, 10000);
  std::atomic<bool> began{false};
  Result<void> cBegin;
  std::thread waiter([&] {
    cBegin = e.begin(c);
    began = true;
  });
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(began);
  XFP_OK(e.commit(a));
  waiter.join();
  ASSERT_TRUE(cBegin.has_value()) << cBegin.error().message;
  EXPECT_TRUE(e.getFilterByKey(c, fa.key).has_value());
  XFP_OK(e.deleteFilterByKey(c, fa.key));
  XFP_OK(e.commit(c));
  EXPECT_EQ(e.committed()->filterByKey(fa.key), nullptr);
}

// §7.2: a transaction holding the lock past its limit is aborted by the engine; the session's
// next call says FWP_E_TXN_ABORTED.
TEST(EngineTransactions, HeldLockTimeoutAbortsTransaction) {
  EngineOptions o;
  o.txnLockTimeout = milliseconds(100);
  Engine e(o);
  const SessionId a = open(e);
  const SessionId b = open(e, 0, 5000);
  XFP_OK(e.begin(a));
  const Filter fa = filter("never committed");
  XFP_OK(e.addFilter(a, fa));
  const auto t0 = Clock::now();
  XFP_OK(e.begin(b));  // waits until a's hold expires
  EXPECT_GE(Clock::now() - t0, milliseconds(50));
  EXPECT_EQ(code(e.commit(a)), status::kTxnAborted);
  EXPECT_EQ(code(e.commit(a)), status::kNoTxnInProgress);  // reported once; the txn is gone
  XFP_OK(e.commit(b));
  EXPECT_EQ(e.committed()->filterByKey(fa.key), nullptr);
  // Expired with nobody waiting: the holder's own next call reports it.
  XFP_OK(e.begin(a));
  std::this_thread::sleep_for(milliseconds(150));
  EXPECT_EQ(code(e.addFilter(a, fa)), status::kTxnAborted);
  XFP_OK(e.addFilter(a, fa));  // an implicit transaction now
  EXPECT_NE(e.committed()->filterByKey(fa.key), nullptr);
}

TEST(EngineTransactions, ImplicitTransactions) {
  Engine e;
  const SessionId a = open(e);
  const SessionId b = open(e);
  const Provider p = provider("p");
  XFP_OK(e.addProvider(a, p));
  EXPECT_TRUE(e.getProvider(b, p.key).has_value());  // committed at once
  Filter f = filter("f");
  f.providerKey = p.key;
  auto id = e.addFilter(a, f);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(e.generation(), 2U);
  EXPECT_EQ(code(e.deleteProvider(b, p.key)), status::kInUse);
  EXPECT_EQ(e.generation(), 2U);
  XFP_OK(e.deleteFilterById(b, *id));
  XFP_OK(e.deleteProvider(b, p.key));
  EXPECT_EQ(e.generation(), 4U);
  EXPECT_EQ(code(e.getFilterById(a, *id)), status::kFilterNotFound);
  // A failed implicit call leaves the lock free.
  const SessionId c = open(e, 0, 1);
  XFP_OK(e.begin(c));
  XFP_OK(e.abort(c));
}

TEST(EngineDynamicSessions, ObjectsVanishOnCloseAndClientDeath) {
  for (const bool died : {false, true}) {
    SCOPED_TRACE(died ? "clientDied" : "close");
    Commits commits;
    Engine e(commits.options());
    const SessionId stat = open(e);
    const SessionId dyn = open(e, kSessionFlagDynamic);
    const SessionId dyn2 = open(e, kSessionFlagDynamic);
    EXPECT_TRUE(e.session(dyn)->dynamic);
    const Filter staticFilter = filter("static");
    XFP_OK(e.addFilter(stat, staticFilter));

    XFP_OK(e.begin(dyn));
    const Provider p = provider("dyn provider");
    const Sublayer sl = [&] {
      Sublayer s = sublayer("dyn sublayer", 7);
      s.providerKey = p.key;
      return s;
    }();
    const Callout co = callout("dyn callout");
    XFP_OK(e.addProvider(dyn, p));
    XFP_OK(e.addSublayer(dyn, sl));
    XFP_OK(e.addCallout(dyn, co));
    ProviderContext pc;
    pc.key = Guid::generate();
    pc.displayData.name = "dyn context";
    XFP_OK(e.addProviderContext(dyn, pc));
    Filter f = filter("dyn filter", inV4(), ActionType::CalloutTerminating);
    f.action.calloutKey = co.key;
    f.subLayerKey = sl.key;
    f.providerKey = p.key;
    XFP_OK(e.addFilter(dyn, f));
    XFP_OK(e.commit(dyn));
    const Filter* stored = e.committed()->filterByKey(f.key);
    ASSERT_NE(stored, nullptr);
    EXPECT_EQ(stored->origin.lifetime, Lifetime::Dynamic);
    EXPECT_EQ(stored->origin.sessionId, dyn);

    // Session rules on deletes (§7.1).
    EXPECT_EQ(code(e.deleteFilterByKey(stat, f.key)), status::kWrongSession);
    EXPECT_EQ(code(e.deleteFilterByKey(dyn2, f.key)), status::kWrongSession);
    EXPECT_EQ(code(e.deleteCalloutByKey(dyn2, co.key)), status::kWrongSession);
    EXPECT_EQ(code(e.deleteFilterByKey(dyn, staticFilter.key)), status::kDynamicSessionInProgress);
    EXPECT_EQ(code(e.deleteSublayer(dyn, keys::kSublayerUniversal)), status::kBuiltinObject);
    EXPECT_EQ(code(e.addFilter(
                  dyn, filter("persistent", inV4(), ActionType::Block, filter_flag::kPersistent))),
              status::kDynamicSessionInProgress);
    // Another dynamic session may not reference them; a static object neither.
    Filter foreign = filter("foreign");
    foreign.subLayerKey = sl.key;
    EXPECT_EQ(code(e.addFilter(dyn2, foreign)), status::kLifetimeMismatch);
    EXPECT_EQ(code(e.addFilter(stat, foreign)), status::kLifetimeMismatch);

    // An uncommitted change of the dying session goes too.
    XFP_OK(e.begin(dyn));
    const Filter uncommitted = filter("uncommitted");
    XFP_OK(e.addFilter(dyn, uncommitted));
    const uint64_t generation = e.generation();
    XFP_OK(died ? e.clientDied(dyn) : e.close(dyn));
    EXPECT_EQ(e.generation(), generation + 1);  // the cleanup is one commit
    auto policy = e.committed();
    EXPECT_EQ(policy->filterByKey(f.key), nullptr);
    EXPECT_EQ(policy->filterByKey(uncommitted.key), nullptr);
    EXPECT_EQ(policy->callout(co.key), nullptr);
    EXPECT_EQ(policy->sublayer(sl.key), nullptr);
    EXPECT_EQ(policy->providerContext(pc.key), nullptr);
    EXPECT_EQ(policy->provider(p.key), nullptr);
    EXPECT_NE(policy->filterByKey(staticFilter.key), nullptr);
    EXPECT_EQ(code(e.getFilterByKey(dyn, f.key)), engine_status::kInvalidHandle);
    // The write lock the session held is free.
    const SessionId other = open(e, 0, 1);
    XFP_OK(e.begin(other));
    XFP_OK(e.abort(other));
    // A static session's objects stay when it closes.
    XFP_OK(e.close(stat));
    EXPECT_NE(e.committed()->filterByKey(staticFilter.key), nullptr);
  }
}

TEST(EngineDynamicSessions, CloseWaitsForAnotherWriter) {
  Engine e;
  const SessionId writer = open(e);
  const SessionId dyn = open(e, kSessionFlagDynamic);
  const Filter f = filter("dyn");
  XFP_OK(e.addFilter(dyn, f));
  XFP_OK(e.begin(writer));
  std::atomic<bool> closed{false};
  std::thread closer([&] {
    EXPECT_TRUE(e.clientDied(dyn).has_value());
    closed = true;
  });
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(closed);
  EXPECT_NE(e.committed()->filterByKey(f.key), nullptr);
  XFP_OK(e.commit(writer));
  closer.join();
  EXPECT_EQ(e.committed()->filterByKey(f.key), nullptr);
}

// Several clients writing at once: every call lands, one generation per commit, hooks in
// generation order.
TEST(EngineTransactions, ConcurrentWriters) {
  std::mutex mu;
  std::vector<uint64_t> generations;
  EngineOptions o;
  o.onCommit = [&](const std::shared_ptr<const Policy>&, uint64_t generation, const auto&) {
    std::lock_guard g(mu);
    generations.push_back(generation);
  };
  Engine e(o);
  constexpr int kThreads = 4;
  constexpr int kImplicit = 20;
  constexpr int kTxns = 5;
  constexpr int kPerTxn = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    const SessionId s = open(e, t % 2 == 0 ? 0 : kSessionFlagDynamic, kTxnWaitInfinite);
    threads.emplace_back([&e, s] {
      for (int i = 0; i < kImplicit; ++i) {
        EXPECT_TRUE(e.addFilter(s, filter("implicit")).has_value());
      }
      for (int i = 0; i < kTxns; ++i) {
        EXPECT_TRUE(e.begin(s).has_value());
        for (int j = 0; j < kPerTxn; ++j) {
          EXPECT_TRUE(e.addFilter(s, filter("explicit")).has_value());
        }
        EXPECT_TRUE(e.commit(s).has_value());
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  const uint64_t commits = kThreads * (kImplicit + kTxns);
  EXPECT_EQ(e.generation(), commits);
  EXPECT_EQ(e.committed()->filters().size(), size_t{kThreads} * (kImplicit + kTxns * kPerTxn));
  std::lock_guard g(mu);
  ASSERT_EQ(generations.size(), commits);
  EXPECT_TRUE(std::is_sorted(generations.begin(), generations.end()));
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "xfp-engine-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST(EnginePersistence, CommitSavesAndRestartRestores) {
  TempDir dir;
  Store store(dir.path() / "state");
  const Provider p = provider("persistent provider", kProviderFlagPersistent);
  Sublayer sl = sublayer("persistent sublayer", 9, kSublayerFlagPersistent);
  sl.providerKey = p.key;
  Filter pf = filter("persistent filter", inV4(), ActionType::Permit, filter_flag::kPersistent);
  pf.providerKey = p.key;
  pf.subLayerKey = sl.key;
  pf.conditions.push_back(cond(inV4(), "IP_LOCAL_PORT", "22"));
  const Filter sf = filter("static filter");
  uint64_t persistentId = 0;
  {
    EngineOptions o;
    o.store = &store;
    Engine e(o);
    const SessionId s = open(e);
    XFP_OK(e.begin(s));
    XFP_OK(e.addProvider(s, p));
    XFP_OK(e.addSublayer(s, sl));
    auto id = e.addFilter(s, pf);
    ASSERT_TRUE(id.has_value());
    persistentId = *id;
    XFP_OK(e.addFilter(s, sf));
    EXPECT_FALSE(std::filesystem::exists(store.currentPath()));  // not before commit
    XFP_OK(e.commit(s));
    ASSERT_TRUE(std::filesystem::exists(store.currentPath()));

    // A commit of static objects only does not touch the store.
    std::filesystem::remove(store.currentPath());
    XFP_OK(e.addFilter(s, filter("another static")));
    EXPECT_FALSE(std::filesystem::exists(store.currentPath()));
    // Deleting a persistent object saves.
    const Filter gone =
        filter("deleted later", inV4(), ActionType::Block, filter_flag::kPersistent);
    XFP_OK(e.addFilter(s, gone));
    ASSERT_TRUE(std::filesystem::exists(store.currentPath()));
    XFP_OK(e.deleteFilterByKey(s, gone.key));
  }
  // Restart.
  auto loaded = store.load();
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  Engine e(EngineOptions{}, std::move(loaded->policy));
  const SessionId s = open(e);
  auto f = e.getFilterByKey(s, pf.key);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->filterId, persistentId);
  EXPECT_EQ(f->origin.lifetime, Lifetime::Persistent);
  EXPECT_EQ(f->conditions.size(), 1U);
  EXPECT_TRUE(e.getSublayer(s, sl.key).has_value());
  EXPECT_TRUE(e.getProvider(s, p.key).has_value());
  EXPECT_EQ(code(e.getFilterByKey(s, sf.key)), status::kFilterNotFound);
  EXPECT_EQ(e.committed()->filters().size(), 1U);
}

TEST(EnginePersistence, FailedSaveFailsTheCommit) {
  TempDir dir;
  const auto blocker = dir.path() / "not-a-directory";
  { std::ofstream(blocker) << "x"; }
  Store store(blocker / "state");
  Commits commits;
  EngineOptions o = commits.options();
  o.store = &store;
  Engine e(o);
  const SessionId s = open(e);
  XFP_OK(e.begin(s));
  const Provider p = provider("persistent", kProviderFlagPersistent);
  XFP_OK(e.addProvider(s, p));
  auto r = e.commit(s);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("persistent store"), std::string::npos) << r.error().message;
  EXPECT_EQ(e.generation(), 0U);
  EXPECT_EQ(commits.calls, 0);
  EXPECT_EQ(e.committed()->provider(p.key), nullptr);
  EXPECT_EQ(code(e.commit(s)), status::kNoTxnInProgress);  // the transaction is over
  // And the lock is free.
  XFP_OK(e.addProvider(s, provider("static")));
}

}  // namespace
}  // namespace xfp::engine
