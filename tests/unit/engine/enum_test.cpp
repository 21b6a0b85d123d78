// Enumeration handles (wfp-model.md §7.4) and filter change subscriptions (§7.6) of the engine:
// templates by layer, provider, action, callout and conditions, SORTED and
// BEST_TERMINATING_MATCH, paging over a snapshot, bad handles; change notifications for other
// sessions' committed changes only.
#include <algorithm>
#include <mutex>
#include <vector>

#include "tests/unit/engine/engine_fixture.h"
#include "userspace/engine/engine_status.h"

namespace xfp::engine {
namespace {

using namespace xfp::engine::testing;  // NOLINT(google-build-using-namespace)

std::vector<std::string> names(const std::vector<Filter>& filters) {
  std::vector<std::string> out;
  for (const Filter& f : filters) {
    out.push_back(*f.displayData.name);
  }
  return out;
}

// Every filter the template selects, in enumeration order, two at a time.
std::vector<std::string> enumerate(Engine& e, SessionId s, const FilterEnumTemplate* t) {
  auto h = e.createFilterEnumHandle(s, t);
  EXPECT_TRUE(h.has_value()) << h.error().message;
  std::vector<Filter> all;
  for (;;) {
    auto page = e.enumFilters(s, *h, 2);
    EXPECT_TRUE(page.has_value());
    all.insert(all.end(), page->begin(), page->end());
    if (page->size() < 2) {
      break;
    }
  }
  EXPECT_TRUE(e.destroyFilterEnumHandle(s, *h).has_value());
  return names(all);
}

Filter weighted(const std::string& name, uint64_t weight, ActionType action = ActionType::Block) {
  Filter f = filter(name, inV4(), action);
  f.weight = Value::uint64(weight);
  return f;
}

struct Policy1 {
  Provider p = provider("p");
  Callout co = callout("co");
  Sublayer high = sublayer("high", 0xF000);
};

TEST(EngineEnum, FilterTemplates) {
  Engine e;
  const SessionId s = open(e);
  Policy1 x;
  XFP_OK(e.addProvider(s, x.p));
  XFP_OK(e.addCallout(s, x.co));
  XFP_OK(e.addSublayer(s, x.high));
  Filter a = weighted("a block 10", 10);
  a.providerKey = x.p.key;
  a.conditions.push_back(cond(inV4(), "IP_LOCAL_PORT", "22"));
  Filter b = weighted("b permit 30", 30, ActionType::Permit);
  b.conditions.push_back(cond(inV4(), "IP_LOCAL_PORT", "1000..2000", MatchType::Range));
  b.conditions.push_back(cond(inV4(), "IP_PROTOCOL", "tcp"));
  Filter c = weighted("c callout 20", 20, ActionType::CalloutInspection);
  c.action.calloutKey = x.co.key;
  Filter d = weighted("d high sublayer 1", 1, ActionType::CalloutTerminating);
  d.action.calloutKey = x.co.key;
  d.subLayerKey = x.high.key;
  Filter out = filter("out", outV4());
  for (const Filter& f : {a, b, c, d, out}) {
    XFP_OK(e.addFilter(s, f));
  }

  EXPECT_EQ(enumerate(e, s, nullptr),
            (std::vector<std::string>{
                "a block 10", "b permit 30", "c callout 20", "d high sublayer 1", "out"}));
  FilterEnumTemplate t;
  t.layerKey = inV4().key;
  EXPECT_EQ(enumerate(e, s, &t).size(), 4U);
  t.flags = filter_enum_flag::kSorted;  // arbitration order: sublayer weight, then filter weight
  EXPECT_EQ(
      enumerate(e, s, &t),
      (std::vector<std::string>{"d high sublayer 1", "b permit 30", "c callout 20", "a block 10"}));
  t.flags = filter_enum_flag::kBestTerminatingMatch;
  EXPECT_EQ(enumerate(e, s, &t), (std::vector<std::string>{"d high sublayer 1"}));
  t.flags = 0;
  t.providerKey = x.p.key;
  EXPECT_EQ(enumerate(e, s, &t), (std::vector<std::string>{"a block 10"}));
  t.providerKey.reset();
  t.actionMask = kActionFlagCallout;
  EXPECT_EQ(enumerate(e, s, &t), (std::vector<std::string>{"c callout 20", "d high sublayer 1"}));
  t.actionMask = kActionFlagNonTerminating;
  EXPECT_EQ(enumerate(e, s, &t), (std::vector<std::string>{"c callout 20"}));
  // "Shares at least one bit": FWP_ACTION_PERMIT (0x1002) shares FWP_ACTION_FLAG_TERMINATING
  // with BLOCK and CALLOUT_TERMINATING.
  t.actionMask = static_cast<uint32_t>(ActionType::Permit);
  EXPECT_EQ(enumerate(e, s, &t),
            (std::vector<std::string>{"a block 10", "b permit 30", "d high sublayer 1"}));
  t.actionMask = kActionMaskAny;
  t.calloutKey = x.co.key;
  EXPECT_EQ(enumerate(e, s, &t), (std::vector<std::string>{"c callout 20", "d high sublayer 1"}));
  t.calloutKey.reset();

  // Conditions: the template is the point (port 1500, tcp).
  t.filterConditions = {cond(inV4(), "IP_LOCAL_PORT", "1500"), cond(inV4(), "IP_PROTOCOL", "tcp")};
  t.enumType = FilterEnumType::FullyContained;  // filters whose set holds the point's
  EXPECT_EQ(enumerate(e, s, &t),
            (std::vector<std::string>{"b permit 30", "c callout 20", "d high sublayer 1"}));
  t.filterConditions = {cond(inV4(), "IP_LOCAL_PORT", "1500")};
  // b also constrains the protocol: it does not hold every (1500, any protocol) indication.
  EXPECT_EQ(enumerate(e, s, &t), (std::vector<std::string>{"c callout 20", "d high sublayer 1"}));
  t.enumType = FilterEnumType::Overlapping;
  EXPECT_EQ(enumerate(e, s, &t),
            (std::vector<std::string>{"b permit 30", "c callout 20", "d high sublayer 1"}));
  t.filterConditions = {cond(inV4(), "IP_LOCAL_PORT", "22")};
  EXPECT_EQ(enumerate(e, s, &t),
            (std::vector<std::string>{"a block 10", "c callout 20", "d high sublayer 1"}));
}

TEST(EngineEnum, TemplateErrors) {
  Engine e;
  const SessionId s = open(e);
  FilterEnumTemplate t;
  t.layerKey = Guid::generate();
  EXPECT_EQ(code(e.createFilterEnumHandle(s, &t)), status::kLayerNotFound);
  t.layerKey = inV4().key;
  t.flags = 0x20;
  EXPECT_EQ(code(e.createFilterEnumHandle(s, &t)), status::kInvalidFlags);
  t.flags = 0;
  t.actionMask = 0;
  EXPECT_EQ(code(e.createFilterEnumHandle(s, &t)), engine_status::kNeverMatch);
  t.actionMask = static_cast<uint32_t>(ActionType::Block);
  t.calloutKey = Guid::generate();
  EXPECT_EQ(code(e.createFilterEnumHandle(s, &t)), status::kInvalidParameter);
  t.calloutKey.reset();
  t.actionMask = kActionMaskAny;
  t.enumType = static_cast<FilterEnumType>(2);
  EXPECT_EQ(code(e.createFilterEnumHandle(s, &t)), status::kInvalidEnumerator);
  t.enumType = FilterEnumType::Overlapping;
  t.filterConditions = {cond(inV4(), "IP_LOCAL_PORT", "1"), cond(inV4(), "IP_LOCAL_PORT", "2")};
  EXPECT_EQ(code(e.createFilterEnumHandle(s, &t)), engine_status::kDuplicateCondition);
  t.filterConditions = {cond(outV4(), "IP_LOCAL_PORT", "1")};
  t.filterConditions[0].fieldKey = Guid::generate();
  EXPECT_EQ(code(e.createFilterEnumHandle(s, &t)), status::kConditionNotFound);
}

TEST(EngineEnum, HandlesPageOverASnapshot) {
  Engine e;
  const SessionId s = open(e);
  const SessionId other = open(e);
  for (int i = 0; i < 5; ++i) {
    XFP_OK(e.addFilter(s, filter("f" + std::to_string(i))));
  }
  auto h = e.createFilterEnumHandle(s, nullptr);
  ASSERT_TRUE(h.has_value());
  XFP_OK(e.addFilter(s, filter("after the handle")));
  EXPECT_EQ(names(*e.enumFilters(s, *h, 3)), (std::vector<std::string>{"f0", "f1", "f2"}));
  EXPECT_EQ(names(*e.enumFilters(s, *h, 3)), (std::vector<std::string>{"f3", "f4"}));
  EXPECT_TRUE(e.enumFilters(s, *h, 3)->empty());
  // Bad handles: another session's, the wrong object type, destroyed, never created.
  EXPECT_EQ(code(e.enumFilters(other, *h, 1)), engine_status::kInvalidHandle);
  EXPECT_EQ(code(e.enumSublayers(s, *h, 1)), engine_status::kInvalidHandle);
  EXPECT_EQ(code(e.destroyCalloutEnumHandle(s, *h)), engine_status::kInvalidHandle);
  XFP_OK(e.destroyFilterEnumHandle(s, *h));
  EXPECT_EQ(code(e.enumFilters(s, *h, 1)), engine_status::kInvalidHandle);
  EXPECT_EQ(code(e.destroyFilterEnumHandle(s, *h)), engine_status::kInvalidHandle);
  EXPECT_EQ(code(e.enumFilters(s, 424242, 1)), engine_status::kInvalidHandle);
  // Closing the session drops its handles.
  auto h2 = e.createFilterEnumHandle(other, nullptr);
  ASSERT_TRUE(h2.has_value());
  XFP_OK(e.close(other));
  EXPECT_EQ(code(e.enumFilters(other, *h2, 1)), engine_status::kInvalidHandle);
}

TEST(EngineEnum, OtherObjectTypes) {
  Engine e;
  const SessionId s = open(e);
  const Provider p = provider("p");
  XFP_OK(e.addProvider(s, p));
  Sublayer mine = sublayer("mine", 5);
  mine.providerKey = p.key;
  XFP_OK(e.addSublayer(s, mine));
  XFP_OK(e.addCallout(s, callout("in", inV4())));
  XFP_OK(e.addCallout(s, callout("out", outV4())));

  auto hp = e.createProviderEnumHandle(s);
  ASSERT_TRUE(hp.has_value());
  EXPECT_EQ(e.enumProviders(s, *hp, 10)->size(), 1U);
  XFP_OK(e.destroyProviderEnumHandle(s, *hp));

  auto hs = e.createSublayerEnumHandle(s, nullptr);
  ASSERT_TRUE(hs.has_value());
  EXPECT_EQ(e.enumSublayers(s, *hs, 10)->size(), 4U);  // three built-in ones and mine
  SublayerEnumTemplate st{p.key};
  auto hs2 = e.createSublayerEnumHandle(s, &st);
  ASSERT_TRUE(hs2.has_value());
  auto mineOnly = e.enumSublayers(s, *hs2, 10);
  ASSERT_EQ(mineOnly->size(), 1U);
  EXPECT_EQ((*mineOnly)[0].key, mine.key);

  CalloutEnumTemplate ct;
  ct.layerKey = outV4().key;
  auto hc = e.createCalloutEnumHandle(s, &ct);
  ASSERT_TRUE(hc.has_value());
  auto outs = e.enumCallouts(s, *hc, 10);
  ASSERT_EQ(outs->size(), 1U);
  EXPECT_EQ(*(*outs)[0].displayData.name, "out");
}

class Recorder {
 public:
  FilterChangeCallback callback() {
    return [this](const FilterChange& c) {
      std::lock_guard g(mu_);
      changes_.push_back(c);
    };
  }
  std::vector<FilterChange> take() {
    std::lock_guard g(mu_);
    return std::exchange(changes_, {});
  }

 private:
  std::mutex mu_;
  std::vector<FilterChange> changes_;
};

TEST(EngineSubscriptions, OthersChangesNotOwn) {
  Engine e;
  const SessionId watcher = open(e);
  const SessionId inOnly = open(e);
  const SessionId writer = open(e);
  Recorder all;
  Recorder inbound;
  Recorder mine;
  ASSERT_TRUE(e.subscribeFilterChanges(watcher, {}, all.callback()).has_value());
  FilterSubscription inSub;
  inSub.enumTemplate = FilterEnumTemplate{};
  inSub.enumTemplate->layerKey = inV4().key;
  ASSERT_TRUE(e.subscribeFilterChanges(inOnly, inSub, inbound.callback()).has_value());
  auto own = e.subscribeFilterChanges(writer, {}, mine.callback());
  ASSERT_TRUE(own.has_value());

  XFP_OK(e.begin(writer));
  const Filter in = filter("in");
  const Filter out = filter("out", outV4());
  const Filter transient = filter("added and deleted");
  auto inId = e.addFilter(writer, in);
  ASSERT_TRUE(inId.has_value());
  XFP_OK(e.addFilter(writer, out));
  XFP_OK(e.addFilter(writer, transient));
  XFP_OK(e.deleteFilterByKey(writer, transient.key));
  EXPECT_TRUE(all.take().empty());  // nothing before commit
  XFP_OK(e.commit(writer));

  auto seen = all.take();
  ASSERT_EQ(seen.size(), 2U);
  EXPECT_EQ(seen[0].changeType, ChangeType::Add);
  EXPECT_EQ(seen[0].filterKey, in.key);
  EXPECT_EQ(seen[0].filterId, *inId);
  EXPECT_EQ(seen[1].filterKey, out.key);
  auto seenIn = inbound.take();
  ASSERT_EQ(seenIn.size(), 1U);
  EXPECT_EQ(seenIn[0].filterKey, in.key);
  EXPECT_TRUE(mine.take().empty());  // Appendix A.11

  // An aborted transaction notifies nobody.
  XFP_OK(e.begin(writer));
  XFP_OK(e.deleteFilterByKey(writer, in.key));
  XFP_OK(e.abort(writer));
  EXPECT_TRUE(all.take().empty());

  // The watcher's own delete reaches the writer's subscription, not its own.
  XFP_OK(e.deleteFilterByKey(watcher, in.key));
  EXPECT_TRUE(all.take().empty());
  auto del = mine.take();
  ASSERT_EQ(del.size(), 1U);
  EXPECT_EQ(del[0].changeType, ChangeType::Delete);
  EXPECT_EQ(del[0].filterKey, in.key);
  EXPECT_EQ(inbound.take().size(), 1U);

  // Add-only subscriptions; unsubscribe.
  XFP_OK(e.unsubscribeFilterChanges(writer, *own));
  EXPECT_EQ(code(e.unsubscribeFilterChanges(writer, *own)), engine_status::kInvalidHandle);
  Recorder adds;
  FilterSubscription addOnly;
  addOnly.flags = kSubscriptionFlagNotifyOnAdd;
  ASSERT_TRUE(e.subscribeFilterChanges(inOnly, addOnly, adds.callback()).has_value());
  XFP_OK(e.deleteFilterByKey(watcher, out.key));
  XFP_OK(e.addFilter(watcher, filter("again")));
  EXPECT_TRUE(mine.take().empty());
  auto added = adds.take();
  ASSERT_EQ(added.size(), 1U);
  EXPECT_EQ(added[0].changeType, ChangeType::Add);
  ASSERT_EQ(e.filterSubscriptions(inOnly)->size(), 2U);
}

TEST(EngineSubscriptions, DynamicCleanupNotifiesDeletes) {
  Engine e;
  const SessionId watcher = open(e);
  const SessionId dyn = open(e, kSessionFlagDynamic);
  Recorder all;
  ASSERT_TRUE(e.subscribeFilterChanges(watcher, {}, all.callback()).has_value());
  // The dying session's own subscription goes with it.
  Recorder dying;
  ASSERT_TRUE(e.subscribeFilterChanges(dyn, {}, dying.callback()).has_value());
  const Filter f = filter("dyn");
  XFP_OK(e.addFilter(dyn, f));
  EXPECT_EQ(all.take().size(), 1U);
  XFP_OK(e.clientDied(dyn));
  auto seen = all.take();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].changeType, ChangeType::Delete);
  EXPECT_EQ(seen[0].filterKey, f.key);
  EXPECT_TRUE(dying.take().empty());
}

TEST(EngineSubscriptions, Errors) {
  Engine e;
  const SessionId s = open(e);
  EXPECT_EQ(code(e.subscribeFilterChanges(s, {}, nullptr)), status::kNullPointer);
  FilterSubscription bad;
  bad.flags = 0x4;
  EXPECT_EQ(code(e.subscribeFilterChanges(s, bad, [](const FilterChange&) {})),
            status::kInvalidFlags);
  FilterSubscription never;
  never.enumTemplate = FilterEnumTemplate{};
  never.enumTemplate->layerKey = inV4().key;
  never.enumTemplate->actionMask = 0;
  EXPECT_EQ(code(e.subscribeFilterChanges(s, never, [](const FilterChange&) {})),
            engine_status::kNeverMatch);
  EXPECT_EQ(code(e.subscribeFilterChanges(999, {}, [](const FilterChange&) {})),
            engine_status::kInvalidHandle);
}

}  // namespace
}  // namespace xfp::engine
