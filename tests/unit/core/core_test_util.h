// Shared helpers of the core unit tests: layer/field lookup, filter construction and a scripted
// CalloutRegistry that records what each callout saw.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "userspace/core/classifier.h"
#include "userspace/core/guid.h"
#include "userspace/core/layers.h"
#include "userspace/core/objects.h"
#include "userspace/core/policy.h"
#include "userspace/core/value.h"
#include "userspace/core/wfp_constants.h"

namespace xfp::coretest {

inline const LayerInfo& layerNamed(std::string_view name) {
  const LayerInfo* l = layerByName(name);
  if (l == nullptr) {
    throw std::runtime_error("unknown layer " + std::string(name));
  }
  return *l;
}

inline const FieldInfo& fieldOf(const LayerInfo& layer, std::string_view name) {
  const FieldInfo* f = layer.fieldByName(name);
  if (f == nullptr) {
    throw std::runtime_error("no field " + std::string(name) + " at " + std::string(layer.name));
  }
  return *f;
}

inline Guid conditionKey(std::string_view name) {
  const Guid* g = conditionKeyByName(name);
  if (g == nullptr) {
    throw std::runtime_error("unknown condition " + std::string(name));
  }
  return *g;
}

inline Condition cond(std::string_view field, MatchType m, ConditionValue v) {
  return Condition{conditionKey(field), m, std::move(v)};
}

inline RangeValue range16(uint16_t lo, uint16_t hi) {
  return RangeValue{Value::uint16(lo), Value::uint16(hi)};
}

// Keys used by the worked examples: sublayers H (0xC000) and L (0x4000).
inline const Guid kSublayerH = Guid::fromText("11111111-0000-4000-8000-00000000000a");
inline const Guid kSublayerL = Guid::fromText("22222222-0000-4000-8000-00000000000b");

inline Filter makeFilter(const LayerInfo& layer,
                         const Guid& sublayer,
                         WeightValue weight,
                         ActionType action,
                         uint32_t flags = 0,
                         std::vector<Condition> conditions = {}) {
  Filter f;
  f.displayData.name = "test filter";
  f.layerKey = layer.key;
  f.subLayerKey = sublayer;
  f.weight = std::move(weight);
  f.action.type = action;
  f.flags = flags;
  f.conditions = std::move(conditions);
  return f;
}

inline Sublayer makeSublayer(const Guid& key, uint16_t weight, uint32_t flags = 0) {
  Sublayer s;
  s.key = key;
  s.displayData.name = "test sublayer";
  s.weight = weight;
  s.flags = flags;
  return s;
}

inline Callout makeCallout(const Guid& key, const LayerInfo& layer, uint32_t flags = 0) {
  Callout c;
  c.key = key;
  c.displayData.name = "test callout";
  c.applicableLayer = layer.key;
  c.flags = flags;
  return c;
}

// A callout registry whose callouts answer as scripted and record every invocation.
class ScriptedCallouts final : public CalloutRegistry {
 public:
  struct Script {
    bool registered = true;
    uint32_t registrationFlags = 0;
    uint32_t answer = static_cast<uint32_t>(ActionType::Continue);  // raw, so garbage is possible
    bool clearRight = false;
    bool absorb = false;
    bool writeAction = true;  // false: leave actionType as received
  };
  struct Invocation {
    uint32_t calloutId = 0;
    uint64_t filterId = 0;
    ActionType actionTypeSeen = ActionType::Continue;
    uint32_t rightsSeen = 0;
    uint32_t flagsSeen = 0;
  };

  Script& script(uint32_t calloutId) { return scripts_[calloutId]; }
  void set(uint32_t calloutId, ActionType answer, bool clearRight = false, bool absorb = false) {
    Script& s = scripts_[calloutId];
    s.answer = static_cast<uint32_t>(answer);
    s.clearRight = clearRight;
    s.absorb = absorb;
  }
  void unregister(uint32_t calloutId) { scripts_[calloutId].registered = false; }
  void addFlowContext(uint32_t calloutId, uint64_t flow, uint16_t layerId) {
    flowContexts_.push_back({calloutId, flow, layerId});
  }

  [[nodiscard]] bool isRegistered(uint32_t calloutId) const override {
    auto it = scripts_.find(calloutId);
    return it != scripts_.end() && it->second.registered;
  }
  [[nodiscard]] uint32_t registrationFlags(uint32_t calloutId) const override {
    auto it = scripts_.find(calloutId);
    return it == scripts_.end() ? 0 : it->second.registrationFlags;
  }
  [[nodiscard]] bool hasFlowContext(uint32_t calloutId,
                                    uint64_t flowHandle,
                                    uint16_t layerId) const override {
    for (const auto& fc : flowContexts_) {
      if (fc.calloutId == calloutId && fc.flow == flowHandle && fc.layerId == layerId) {
        return true;
      }
    }
    return false;
  }
  void classify(uint32_t calloutId, const CalloutInvocation& call, ClassifyOut& out) override {
    invocations.push_back(
        Invocation{calloutId, call.filter.filterId, out.actionType, out.rights, out.flags});
    const Script& s = scripts_[calloutId];
    if (s.writeAction) {
      out.actionType = static_cast<ActionType>(s.answer);
    }
    if (s.clearRight) {
      out.rights &= ~kRightActionWrite;
    }
    if (s.absorb) {
      out.flags |= kClassifyOutFlagAbsorb;
    }
  }

  [[nodiscard]] size_t countFor(uint32_t calloutId) const {
    size_t n = 0;
    for (const auto& i : invocations) {
      n += i.calloutId == calloutId ? 1 : 0;
    }
    return n;
  }

  std::vector<Invocation> invocations;

 private:
  struct FlowContext {
    uint32_t calloutId;
    uint64_t flow;
    uint16_t layerId;
  };
  std::map<uint32_t, Script> scripts_;
  std::vector<FlowContext> flowContexts_;
};

}  // namespace xfp::coretest
