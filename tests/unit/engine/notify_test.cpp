// The engine's side of the callouts' filter notifications (wfp-model.md §5.4) and of the callout
// id allocator (§1.8): ADD_FILTER at the add call (a refusal fails the call and adds nothing),
// DELETE_FILTER at the delete call and for every notified add that an abort, a failed commit or
// a session's end takes back, the added filters handed to the commit hook, and one id per
// callout key whether the run-time registration or FwpmCalloutAdd0 names it first.
#include <string>
#include <vector>

#include "tests/unit/engine/engine_fixture.h"
#include "userspace/engine/engine_status.h"

namespace xfp::engine {
namespace {

using namespace xfp::engine::testing;  // NOLINT(google-build-using-namespace)

struct Notes {
  std::vector<std::string> log;  // "add NAME" / "delete NAME"
  std::string refuse;            // a filter name the "callout" refuses
  std::vector<uint64_t> committedAdds;
  EngineOptions options() {
    EngineOptions o;
    o.notifier.added = [this](const Filter& f, const Policy&) {
      log.push_back("add " + *f.displayData.name);
      return *f.displayData.name != refuse;
    };
    o.notifier.deleted = [this](const Filter& f, const Policy&) {
      log.push_back("delete " + *f.displayData.name);
    };
    o.onCommit = [this](const std::shared_ptr<const Policy>&,
                        uint64_t,
                        const std::vector<uint64_t>& added) { committedAdds = added; };
    return o;
  }
};

TEST(EngineNotify, RefusedAddFailsTheCallAndAddsNothing) {
  Notes n;
  n.refuse = "vetoed";
  Engine e(n.options());
  const SessionId s = open(e);
  const Filter f = filter("vetoed");
  EXPECT_EQ(code(e.addFilter(s, f)), status::kCalloutNotificationFailed);
  EXPECT_EQ(e.committed()->filterByKey(f.key), nullptr);
  EXPECT_EQ(e.generation(), 0U);
  // Inside an explicit transaction the refusal fails that call only (§7.2).
  XFP_OK(e.begin(s));
  EXPECT_EQ(code(e.addFilter(s, f)), status::kCalloutNotificationFailed);
  auto kept = e.addFilter(s, filter("kept"));
  ASSERT_TRUE(kept.has_value());
  XFP_OK(e.commit(s));
  EXPECT_EQ(e.committed()->filters().size(), 1U);
  EXPECT_EQ(n.committedAdds, std::vector<uint64_t>{*kept});
  EXPECT_EQ(n.log, (std::vector<std::string>{"add vetoed", "add vetoed", "add kept"}));
}

TEST(EngineNotify, DeleteAtTheCallAndAbortTakesNotifiedAddsBack) {
  Notes n;
  Engine e(n.options());
  const SessionId s = open(e);
  const Filter old = filter("old");
  XFP_OK(e.addFilter(s, old));
  XFP_OK(e.begin(s));
  XFP_OK(e.addFilter(s, filter("a")));
  XFP_OK(e.addFilter(s, filter("b")));
  const Filter gone = filter("transient");
  XFP_OK(e.addFilter(s, gone));
  XFP_OK(e.deleteFilterByKey(s, gone.key));
  XFP_OK(e.deleteFilterByKey(s, old.key));
  n.log.clear();
  XFP_OK(e.abort(s));
  // a and b were announced and never committed; the transient one was deleted already.
  EXPECT_EQ(n.log, (std::vector<std::string>{"delete a", "delete b"}));
  EXPECT_NE(e.committed()->filterByKey(old.key), nullptr);  // the delete was aborted too
}

TEST(EngineNotify, SessionEndAbortsAndDynamicCleanupNotifies) {
  Notes n;
  Engine e(n.options());
  const SessionId dyn = open(e, kSessionFlagDynamic);
  XFP_OK(e.addFilter(dyn, filter("dynamic")));
  XFP_OK(e.begin(dyn));
  XFP_OK(e.addFilter(dyn, filter("pending")));
  n.log.clear();
  XFP_OK(e.clientDied(dyn));
  EXPECT_EQ(n.log, (std::vector<std::string>{"delete pending", "delete dynamic"}));
  EXPECT_TRUE(e.committed()->filters().empty());
}

TEST(EngineNotify, CalloutIdsAgreeWhoeverNamesTheKeyFirst) {
  Engine e;
  const SessionId s = open(e);
  // A plugin registers first (run time), the management object comes later (and vice versa).
  const Callout first = callout("registered first");
  const uint32_t runtimeId = e.calloutIdForKey(first.key);
  Callout other = callout("added first");
  auto addedId = e.addCallout(s, other);
  ASSERT_TRUE(addedId.has_value());
  EXPECT_NE(*addedId, runtimeId);
  EXPECT_EQ(e.calloutIdForKey(other.key), *addedId);
  // Added inside a transaction whose working copy was made before the registration too.
  XFP_OK(e.begin(s));
  const Callout late = callout("late");
  const uint32_t lateRuntime = e.calloutIdForKey(late.key);
  auto id = e.addCallout(s, first);
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(*id, runtimeId);
  auto lateId = e.addCallout(s, late);
  ASSERT_TRUE(lateId.has_value());
  EXPECT_EQ(*lateId, lateRuntime);
  XFP_OK(e.commit(s));
  EXPECT_EQ(e.committed()->callout(first.key)->calloutId, runtimeId);
}

}  // namespace
}  // namespace xfp::engine
