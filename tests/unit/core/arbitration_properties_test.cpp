// Property tests of filter arbitration (wfp-model.md §4.3-§4.8, Appendix B) over random filter
// sets at INBOUND_TRANSPORT_V4, with fixed seeds. NaiveOracle is a deliberately slow, separate
// reading of §4.8 (its own condition matcher and ordering); every case is compared with
// xfp::classify, and every disagreement prints a reproducer.
#include <algorithm>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/unit/core/core_test_util.h"
#include "userspace/core/classifier.h"
#include "userspace/core/policy.h"

namespace xfp {
namespace {

using coretest::ScriptedCallouts;

const LayerInfo& layer() {
  return coretest::layerNamed("INBOUND_TRANSPORT_V4");
}

struct Packet {
  uint8_t proto;
  uint16_t lport;
  uint16_t rport;
  uint32_t raddr;
};

struct SublayerSpec {
  Guid key;
  uint16_t weight;
};

struct CalloutSpec {
  Guid key;
  ScriptedCallouts::Script script;
};

struct Case {
  std::vector<SublayerSpec> sublayers;
  std::vector<CalloutSpec> callouts;
  std::vector<Filter> filters;  // as given to addFilter (in add order)
};

std::string describe(const Case& c, const Packet& p) {
  std::ostringstream o;
  o << "packet proto=" << int(p.proto) << " lport=" << p.lport << " rport=" << p.rport
    << " raddr=0x" << std::hex << p.raddr << std::dec << "\n";
  for (const auto& s : c.sublayers) {
    o << "sublayer " << s.key.toString() << " weight=0x" << std::hex << s.weight << std::dec
      << "\n";
  }
  for (size_t i = 0; i < c.callouts.size(); ++i) {
    const auto& s = c.callouts[i].script;
    o << "callout#" << i << " " << c.callouts[i].key.toString() << " registered=" << s.registered
      << " answer=0x" << std::hex << s.answer << std::dec << " clearRight=" << s.clearRight
      << " absorb=" << s.absorb << "\n";
  }
  for (size_t i = 0; i < c.filters.size(); ++i) {
    const Filter& f = c.filters[i];
    o << "filter[" << i << "] sublayer=" << f.subLayerKey.toString() << " weight("
      << dataTypeName(f.weight.type()) << ")=" << f.weight.toString()
      << " action=" << actionTypeName(f.action.type);
    if (isCalloutAction(f.action.type)) {
      o << " callout=" << f.action.calloutKey.toString();
    }
    o << " flags=" << filterFlagsToString(f.flags);
    for (const Condition& cd : f.conditions) {
      o << " [" << conditionName(cd.fieldKey) << " " << matchTypeName(cd.matchType) << " "
        << cd.value.toString(true) << "]";
    }
    o << "\n";
  }
  return o.str();
}

// ---- the naive oracle -------------------------------------------------------------------------

uint64_t incomingFor(const Guid& field, const Packet& p) {
  if (field == coretest::conditionKey("IP_PROTOCOL"))
    return p.proto;
  if (field == coretest::conditionKey("IP_LOCAL_PORT"))
    return p.lport;
  if (field == coretest::conditionKey("IP_REMOTE_PORT"))
    return p.rport;
  return p.raddr;
}

bool naiveTest(const Condition& c, uint64_t v) {
  if (const V4AddrMask* m = c.value.v4Mask()) {
    return (v & m->mask) == (m->addr & m->mask);
  }
  if (const RangeValue* r = c.value.range()) {
    return r->low.asUnsigned() <= v && v <= r->high.asUnsigned();
  }
  const uint64_t k = c.value.plain()->asUnsigned();
  switch (c.matchType) {
    case MatchType::Equal:
      return v == k;
    case MatchType::NotEqual:
      return v != k;
    case MatchType::Greater:
      return v > k;
    case MatchType::Less:
      return v < k;
    case MatchType::GreaterOrEqual:
      return v >= k;
    case MatchType::LessOrEqual:
      return v <= k;
    default:
      ADD_FAILURE() << "oracle: unexpected match type";
      return false;
  }
}

bool naiveMatches(const Filter& f, const Packet& p) {
  // AND over distinct fields of (OR over that field's conditions).
  for (const Condition& c : f.conditions) {
    bool any = false;
    for (const Condition& d : f.conditions) {
      if (d.fieldKey == c.fieldKey && naiveTest(d, incomingFor(d.fieldKey, p))) {
        any = true;
      }
    }
    if (!any)
      return false;
  }
  return true;
}

struct OracleResult {
  ActionType action = ActionType::NoneNoMatch;
  uint64_t filterId = 0;
  uint32_t flags = 0;
  bool vetoed = false;
  std::vector<ScriptedCallouts::Invocation> invocations;
};

OracleResult naiveClassify(const Policy& policy, const Case& c, const Packet& p) {
  // Gather stored filters with their sublayer weights, then sort per §3.4 / B.11.
  struct Item {
    const Filter* f;
    uint16_t slWeight;
    Guid slKey;
  };
  std::vector<Item> items;
  for (const auto& [id, f] : policy.filters()) {
    const Sublayer* s =
        policy.sublayer(f.subLayerKey.isZero() ? keys::kSublayerUniversal : f.subLayerKey);
    items.push_back({&f, s->weight, s->key});
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.slWeight != b.slWeight)
      return a.slWeight > b.slWeight;
    if (a.slKey.bytes != b.slKey.bytes)
      return a.slKey.bytes < b.slKey.bytes;
    if (a.f->effectiveWeight != b.f->effectiveWeight)
      return a.f->effectiveWeight > b.f->effectiveWeight;
    return a.f->filterId < b.f->filterId;
  });

  OracleResult v;
  uint32_t rights = kRightActionWrite;
  bool anyMatch = false;
  size_t i = 0;
  while (i < items.size()) {
    // one sublayer
    size_t end = i;
    while (end < items.size() && items[end].slKey == items[i].slKey) ++end;
    for (size_t j = i; j < end; ++j) {
      const Filter& f = *items[j].f;
      if (!naiveMatches(f, p))
        continue;
      const ActionType t = f.action.type;
      const bool car = (f.flags & filter_flag::kClearActionRight) != 0;
      ActionType kind;
      uint32_t rRights = 0;
      uint32_t rFlags = 0;
      bool invoked = false;
      if (t == ActionType::Block) {
        kind = ActionType::Block;
      } else if (t == ActionType::Permit) {
        kind = ActionType::Permit;
        rRights = car ? 0 : rights;
      } else {
        const CalloutSpec* cs = nullptr;
        for (const auto& x : c.callouts) {
          if (x.key == f.action.calloutKey)
            cs = &x;
        }
        if (!cs->script.registered) {
          if (t == ActionType::CalloutInspection)
            continue;  // SKIP, not a match
          if ((f.flags & filter_flag::kPermitIfCalloutUnregistered) != 0) {
            kind = ActionType::Permit;
            rRights = car ? 0 : rights;
          } else {
            kind = ActionType::Block;
          }
        } else {
          invoked = true;
          const ActionType seen = (v.action == ActionType::Permit || v.action == ActionType::Block)
                                      ? v.action
                                      : ActionType::Continue;
          v.invocations.push_back(
              {policy.callout(cs->key)->calloutId, f.filterId, seen, rights, 0});
          const uint32_t ans = cs->script.answer;
          uint32_t coRights = rights;
          if (cs->script.clearRight)
            coRights = 0;
          const uint32_t coFlags = cs->script.absorb ? kClassifyOutFlagAbsorb : 0;
          const bool isBlock = ans == static_cast<uint32_t>(ActionType::Block);
          const bool isPermit = ans == static_cast<uint32_t>(ActionType::Permit);
          if (t == ActionType::CalloutInspection) {
            kind = ActionType::Continue;
          } else if (t == ActionType::CalloutTerminating) {
            kind = isPermit ? ActionType::Permit : ActionType::Block;
          } else {
            kind = isPermit  ? ActionType::Permit
                   : isBlock ? ActionType::Block
                             : ActionType::Continue;
          }
          rRights = coRights & kRightActionWrite;
          rFlags = coFlags;
        }
      }
      anyMatch = true;
      if (kind == ActionType::Continue)
        continue;
      if ((rights & kRightActionWrite) != 0) {
        v.action = kind;
        rights = rRights;
        v.flags = rFlags;
        v.filterId = f.filterId;
      } else if (kind == ActionType::Block && invoked && v.action == ActionType::Permit) {
        v.action = ActionType::Block;
        v.flags = rFlags;
        v.filterId = f.filterId;
        v.vetoed = true;
      }
      break;
    }
    i = end;
  }
  if (v.action == ActionType::NoneNoMatch && anyMatch)
    v.action = ActionType::None;
  if (v.action != ActionType::Block)
    v.flags = 0;  // B.9
  return v;
}

// ---- random cases -----------------------------------------------------------------------------

struct Gen {
  std::mt19937_64 rng;
  explicit Gen(uint64_t seed) : rng(seed) {}
  uint64_t below(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng); }
  bool coin(int percent = 50) { return below(100) < uint64_t(percent); }

  uint8_t proto() { return std::array<uint8_t, 3>{6, 17, 1}[below(3)]; }
  uint16_t port() { return std::array<uint16_t, 7>{22, 53, 80, 443, 1000, 1500, 2000}[below(7)]; }
  uint32_t addr() {
    return std::array<uint32_t, 5>{
        0x0A000001, 0x0A000102, 0x0AFF0001, 0xC0A80001, 0x08080808}[below(5)];
  }
  Packet packet() { return Packet{proto(), port(), port(), addr()}; }

  Condition condition() {
    static const MatchType kOrd[] = {MatchType::Equal,
                                     MatchType::NotEqual,
                                     MatchType::Greater,
                                     MatchType::Less,
                                     MatchType::GreaterOrEqual,
                                     MatchType::LessOrEqual,
                                     MatchType::Range};
    const int field = int(below(4));
    const MatchType m = kOrd[below(7)];
    if (field == 0) {
      const uint8_t a = proto();
      const uint8_t b = proto();
      if (m == MatchType::Range) {
        return coretest::cond(
            "IP_PROTOCOL",
            m,
            RangeValue{Value::uint8(std::min(a, b)), Value::uint8(std::max(a, b))});
      }
      return coretest::cond("IP_PROTOCOL", m, Value::uint8(a));
    }
    if (field == 3) {
      if (coin(60)) {
        static const uint32_t kMasks[] = {0, 0x80000000, 0xFF000000, 0xFFFFFF00, 0xFFFFFFFF};
        return coretest::cond(
            "IP_REMOTE_ADDRESS", MatchType::Equal, V4AddrMask{addr(), kMasks[below(5)]});
      }
      const uint32_t a = addr();
      const uint32_t b = addr();
      if (m == MatchType::Range) {
        return coretest::cond(
            "IP_REMOTE_ADDRESS",
            m,
            RangeValue{Value::uint32(std::min(a, b)), Value::uint32(std::max(a, b))});
      }
      return coretest::cond("IP_REMOTE_ADDRESS", m, Value::uint32(a));
    }
    const char* name = field == 1 ? "IP_LOCAL_PORT" : "IP_REMOTE_PORT";
    const uint16_t a = port();
    const uint16_t b = port();
    if (m == MatchType::Range) {
      return coretest::cond(name, m, coretest::range16(std::min(a, b), std::max(a, b)));
    }
    return coretest::cond(name, m, Value::uint16(a));
  }

  Case makeCase(bool staticOnly, bool distinctExplicitWeights) {
    Case c;
    const size_t nSub = 1 + below(4);
    for (size_t i = 0; i < nSub; ++i) {
      // Small weight alphabet so sublayer weight ties (key wire order) happen.
      c.sublayers.push_back({Guid::generate(), uint16_t(0x1000 * (1 + below(3)))});
    }
    if (!staticOnly) {
      static const uint32_t kAnswers[] = {uint32_t(ActionType::Permit),
                                          uint32_t(ActionType::Block),
                                          uint32_t(ActionType::Continue),
                                          0x1234u,
                                          0u};
      for (int i = 0; i < 4; ++i) {
        CalloutSpec cs;
        cs.key = Guid::generate();
        cs.script.registered = coin(80);
        cs.script.answer = kAnswers[below(5)];
        cs.script.clearRight = coin(40);
        cs.script.absorb = coin(25);
        c.callouts.push_back(cs);
      }
    }
    const size_t nFilters = 1 + below(60);
    std::vector<uint64_t> used;
    for (size_t i = 0; i < nFilters; ++i) {
      Filter f;
      f.displayData.name = "random";
      f.key = Guid::generate();
      f.layerKey = layer().key;
      f.subLayerKey = c.sublayers[below(nSub)].key;
      if (distinctExplicitWeights) {
        uint64_t w;
        do {
          w = below(1000);
        } while (std::find(used.begin(), used.end(), w) != used.end());
        used.push_back(w);
        f.weight = Value::uint64(w);
      } else {
        switch (below(3)) {
          case 0:
            f.weight = Value::uint64(below(8));
            break;  // many ties
          case 1:
            f.weight = Value::uint8(uint8_t(below(16)));
            break;
          default:
            f.weight = Value();
            break;
        }
      }
      const size_t nCond = below(4);
      for (size_t k = 0; k < nCond; ++k) {
        f.conditions.push_back(condition());
      }
      const uint64_t kind = staticOnly ? below(2) : below(5);
      static const ActionType kActions[] = {ActionType::Permit,
                                            ActionType::Block,
                                            ActionType::CalloutTerminating,
                                            ActionType::CalloutInspection,
                                            ActionType::CalloutUnknown};
      f.action.type = kActions[kind];
      if (coin(35))
        f.flags |= filter_flag::kClearActionRight;
      if (isCalloutAction(f.action.type)) {
        f.action.calloutKey = c.callouts[below(c.callouts.size())].key;
        if (f.action.type != ActionType::CalloutInspection && coin(30)) {
          f.flags |= filter_flag::kPermitIfCalloutUnregistered;
        }
      }
      c.filters.push_back(std::move(f));
    }
    return c;
  }
};

// Builds the policy and registry for a case; filters are added in `order`.
struct Built {
  Policy policy;
  ScriptedCallouts registry;
  std::vector<uint64_t> ids;  // by index in Case::filters
};

void build(const Case& c, const std::vector<size_t>& order, Built& b) {
  for (const auto& s : c.sublayers) {
    ASSERT_TRUE(b.policy.addSublayer(coretest::makeSublayer(s.key, s.weight)));
  }
  for (const auto& cs : c.callouts) {
    auto id = b.policy.addCallout(coretest::makeCallout(cs.key, layer()));
    ASSERT_TRUE(id.has_value()) << id.error().message;
    b.registry.script(*id) = cs.script;
  }
  b.ids.assign(c.filters.size(), 0);
  for (size_t i : order) {
    auto id = b.policy.addFilter(c.filters[i]);
    ASSERT_TRUE(id.has_value()) << id.error().message << "\n" << describe(c, Packet{});
    b.ids[i] = *id;
  }
}

std::vector<size_t> identity(size_t n) {
  std::vector<size_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

IncomingValues incoming(const Packet& p) {
  IncomingValues in = IncomingValues::emptyFor(layer());
  auto set = [&](const char* n, Value v) { in.values[coretest::fieldOf(layer(), n).index] = v; };
  set("IP_PROTOCOL", Value::uint8(p.proto));
  set("IP_LOCAL_ADDRESS", Value::uint32(0x0A000001));
  set("IP_REMOTE_ADDRESS", Value::uint32(p.raddr));
  set("IP_LOCAL_PORT", Value::uint16(p.lport));
  set("IP_REMOTE_PORT", Value::uint16(p.rport));
  return in;
}

ClassifyResult run(Built& b, const Packet& p) {
  b.registry.invocations.clear();
  auto r = classify(b.policy, incoming(p), {}, b.registry);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r.value_or(ClassifyResult{});
}

constexpr int kSets = 200;
constexpr int kPackets = 50;

// (d) xfp::classify agrees with the naive oracle on action, deciding filter, ABSORB, veto and on
// every callout invocation (order, filter, actionType and rights seen).
TEST(CoreArbitrationProperties, AgreesWithNaiveReimplementation) {
  Gen g(0x5EED0001);
  int failures = 0;
  for (int s = 0; s < kSets && failures < 3; ++s) {
    const Case c = g.makeCase(/*staticOnly=*/false, /*distinct=*/false);
    Built b;
    build(c, identity(c.filters.size()), b);
    for (int k = 0; k < kPackets && failures < 3; ++k) {
      const Packet p = g.packet();
      const ClassifyResult r = run(b, p);
      const OracleResult o = naiveClassify(b.policy, c, p);
      bool same = r.action == o.action && r.filterId == o.filterId && r.flags == o.flags &&
                  r.vetoed == o.vetoed && b.registry.invocations.size() == o.invocations.size();
      for (size_t i = 0; same && i < o.invocations.size(); ++i) {
        const auto& x = b.registry.invocations[i];
        const auto& y = o.invocations[i];
        same = x.calloutId == y.calloutId && x.filterId == y.filterId &&
               x.actionTypeSeen == y.actionTypeSeen && x.rightsSeen == y.rightsSeen;
      }
      if (!same) {
        ++failures;
        ADD_FAILURE() << "set " << s << " packet " << k << ": classify " << actionTypeName(r.action)
                      << " filter " << r.filterId << " flags " << r.flags << " vetoed " << r.vetoed
                      << " invocations " << b.registry.invocations.size() << "; oracle "
                      << actionTypeName(o.action) << " filter " << o.filterId << " flags "
                      << o.flags << " vetoed " << o.vetoed << " invocations "
                      << o.invocations.size() << "\n"
                      << describe(c, p);
      }
    }
  }
}

// (b) With distinct explicit weights, the add order (and so the filterIds) does not change the
// verdict: same action, same deciding filter (by key), same ABSORB/veto.
TEST(CoreArbitrationProperties, AddOrderDoesNotMatterWithDistinctWeights) {
  Gen g(0x5EED0002);
  int failures = 0;
  for (int s = 0; s < kSets && failures < 3; ++s) {
    const Case c = g.makeCase(/*staticOnly=*/false, /*distinct=*/true);
    Built a;
    build(c, identity(c.filters.size()), a);
    std::vector<size_t> order = identity(c.filters.size());
    std::shuffle(order.begin(), order.end(), g.rng);
    Built b;
    build(c, order, b);
    for (int k = 0; k < kPackets && failures < 3; ++k) {
      const Packet p = g.packet();
      const ClassifyResult ra = run(a, p);
      const ClassifyResult rb = run(b, p);
      const Filter* fa = a.policy.filterById(ra.filterId);
      const Filter* fb = b.policy.filterById(rb.filterId);
      const bool same = ra.action == rb.action && ra.flags == rb.flags && ra.vetoed == rb.vetoed &&
                        (fa == nullptr) == (fb == nullptr) && (fa == nullptr || fa->key == fb->key);
      if (!same) {
        ++failures;
        ADD_FAILURE() << "set " << s << " packet " << k << ": " << actionTypeName(ra.action)
                      << " vs " << actionTypeName(rb.action) << "\n"
                      << describe(c, p);
      }
    }
  }
}

// (a) Adding a filter G to the deciding filter F's sublayer with an effective weight strictly
// below F's never changes anything: F ends that sublayer's evaluation, so G is never evaluated
// (§4.3). This holds for any G (any action, callouts included) and any policy.
TEST(CoreArbitrationProperties, FilterBelowDecidingFilterChangesNothing) {
  Gen g(0x5EED0003);
  int failures = 0;
  int checked = 0;
  for (int s = 0; s < kSets && failures < 3; ++s) {
    const Case c = g.makeCase(/*staticOnly=*/false, /*distinct=*/false);
    Built a;
    build(c, identity(c.filters.size()), a);
    for (int k = 0; k < 10 && failures < 3; ++k) {
      const Packet p = g.packet();
      const ClassifyResult before = run(a, p);
      const auto invBefore = a.registry.invocations;
      const Filter* f = a.policy.filterById(before.filterId);
      if (f == nullptr || f->effectiveWeight == 0)
        continue;
      Built b;
      build(c, identity(c.filters.size()), b);
      Filter extra = g.makeCase(false, false).filters[0];
      extra.subLayerKey = f->subLayerKey;
      extra.weight = Value::uint64(f->effectiveWeight - 1 -
                                   g.below(std::min<uint64_t>(f->effectiveWeight, 5)));
      extra.conditions.clear();  // matches everything
      if (isCalloutAction(extra.action.type))
        extra.action.calloutKey = c.callouts[0].key;
      ASSERT_TRUE(b.policy.addFilter(extra).has_value());
      const ClassifyResult after = run(b, p);
      ++checked;
      if (after.action != before.action || after.filterId != before.filterId ||
          after.flags != before.flags || after.vetoed != before.vetoed ||
          b.registry.invocations.size() != invBefore.size()) {
        ++failures;
        ADD_FAILURE() << "set " << s << ": adding a filter below the deciding filter "
                      << f->filterId << " changed " << actionTypeName(before.action) << " -> "
                      << actionTypeName(after.action) << "\n"
                      << describe(c, p);
      }
    }
  }
  EXPECT_GT(checked, 100);
}

// (c) Static filters only. Let a sublayer's decision be its first matching filter in arbitration
// order. Then the verdict is BLOCK iff some sublayer decides BLOCK and no sublayer evaluated
// before the first BLOCK-deciding one decides a hard PERMIT (CLEAR_ACTION_RIGHT). Static BLOCK is
// always hard and static filters cannot veto, so a matching BLOCK that is some sublayer's decision
// beats every soft permit, in any sublayer, above or below it.
TEST(CoreArbitrationProperties, StaticHardBlockBeatsSoftPermits) {
  Gen g(0x5EED0004);
  int failures = 0;
  for (int s = 0; s < kSets && failures < 3; ++s) {
    const Case c = g.makeCase(/*staticOnly=*/true, /*distinct=*/false);
    Built b;
    build(c, identity(c.filters.size()), b);
    const auto& order = b.policy.arbitrationOrder(layer().id);
    for (int k = 0; k < kPackets && failures < 3; ++k) {
      const Packet p = g.packet();
      // Per sublayer decision, using the oracle's matcher.
      bool hardPermitSeen = false;
      bool expectBlock = false;
      const Sublayer* current = nullptr;
      bool decided = false;
      for (const ArbitrationEntry& e : order) {
        if (e.sublayer != current) {
          current = e.sublayer;
          decided = false;
        }
        if (decided || !naiveMatches(*e.filter, p))
          continue;
        decided = true;
        if (e.filter->action.type == ActionType::Block && !hardPermitSeen) {
          expectBlock = true;
        }
        if (e.filter->action.type == ActionType::Permit &&
            (e.filter->flags & filter_flag::kClearActionRight) != 0 && !expectBlock) {
          hardPermitSeen = true;
        }
      }
      const ClassifyResult r = run(b, p);
      if ((r.action == ActionType::Block) != expectBlock) {
        ++failures;
        ADD_FAILURE() << "set " << s << ": expected " << (expectBlock ? "BLOCK" : "not BLOCK")
                      << ", got " << actionTypeName(r.action) << "\n"
                      << describe(c, p);
      }
    }
  }
}

}  // namespace
}  // namespace xfp
