// Shared helpers of the engine tests: objects to add and a way to read status codes.
#pragma once

#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "userspace/core/layers.h"
#include "userspace/core/value_text.h"
#include "userspace/core/wfp_constants.h"
#include "userspace/engine/engine.h"

namespace xfp::engine::testing {

inline const LayerInfo& layer(std::string_view name) {
  const LayerInfo* l = layerByName(name);
  EXPECT_NE(l, nullptr) << name;
  return *l;
}

inline const LayerInfo& inV4() {
  return layer("INBOUND_TRANSPORT_V4");
}
inline const LayerInfo& outV4() {
  return layer("OUTBOUND_TRANSPORT_V4");
}

inline Condition cond(const LayerInfo& l,
                      std::string_view field,
                      std::string_view text,
                      MatchType m = MatchType::Equal) {
  const FieldInfo* f = l.fieldByName(field);
  EXPECT_NE(f, nullptr) << field;
  auto v = parseConditionText(*f, text);
  EXPECT_TRUE(v.has_value()) << field << " " << text;
  return Condition{f->conditionKey, m, *v};
}

inline Filter filter(const std::string& name,
                     const LayerInfo& l = inV4(),
                     ActionType action = ActionType::Block,
                     uint32_t flags = 0) {
  Filter f;
  f.key = Guid::generate();
  f.displayData.name = name;
  f.layerKey = l.key;
  f.action.type = action;
  f.flags = flags;
  return f;
}

inline Provider provider(const std::string& name, uint32_t flags = 0) {
  Provider p;
  p.key = Guid::generate();
  p.displayData.name = name;
  p.flags = flags;
  return p;
}

inline Sublayer sublayer(const std::string& name, uint16_t weight, uint32_t flags = 0) {
  Sublayer s;
  s.key = Guid::generate();
  s.displayData.name = name;
  s.weight = weight;
  s.flags = flags;
  return s;
}

inline Callout callout(const std::string& name, const LayerInfo& l = inV4(), uint32_t flags = 0) {
  Callout c;
  c.key = Guid::generate();
  c.displayData.name = name;
  c.applicableLayer = l.key;
  c.flags = flags;
  return c;
}

inline SessionId open(Engine& e,
                      uint32_t flags = 0,
                      uint32_t waitMs = 0,
                      const std::string& name = "test") {
  SessionOptions o;
  o.displayData.name = name;
  o.flags = flags;
  o.txnWaitTimeoutInMSec = waitMs;
  auto s = e.open(o);
  EXPECT_TRUE(s.has_value()) << (s ? "" : s.error().message);
  return s ? *s : 0;
}

// The FWP_E_* status of a result (0 on success).
template <typename R>
uint32_t code(const R& r) {
  return r ? 0U : r.error().status;
}

}  // namespace xfp::engine::testing

#define XFP_OK(expr)                                                                  \
  do {                                                                                \
    auto xfp_ok_r_ = (expr);                                                          \
    ASSERT_TRUE(xfp_ok_r_.has_value()) << #expr << ": " << xfp_ok_r_.error().message; \
  } while (0)
