// Shared helpers of the codec tests: a trip through the wire (serialize, parse, decode) and
// field-by-field comparisons of the core objects, which have no operator== of their own.
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "userspace/rpc/codec.h"

namespace xfp::rpc::testing {

// The message as the other end sees it: serialized and parsed again.
template <typename M>
M overWire(const M& m) {
  std::string bytes;
  EXPECT_TRUE(m.SerializeToString(&bytes));
  M out;
  EXPECT_TRUE(out.ParseFromString(bytes));
  return out;
}

// toProto, the wire, fromProto; a decode error fails the test (and returns a default object).
template <typename T>
T roundTrip(const T& x) {
  auto r = fromProto(overWire(toProto(x)));
  EXPECT_TRUE(r.has_value()) << r.error().message;
  return r.has_value() ? *r : T{};
}

inline void expectSame(const DisplayData& a, const DisplayData& b, const std::string& what) {
  EXPECT_EQ(a.name, b.name) << what;
  EXPECT_EQ(a.description, b.description) << what;
}

inline void expectSame(const ObjectOrigin& a, const ObjectOrigin& b, const std::string& what) {
  EXPECT_EQ(a.lifetime, b.lifetime) << what;
  EXPECT_EQ(a.sessionId, b.sessionId) << what;
}

inline void expectSame(const Condition& a, const Condition& b, const std::string& what) {
  EXPECT_EQ(a.fieldKey, b.fieldKey) << what;
  EXPECT_EQ(a.matchType, b.matchType) << what;
  EXPECT_EQ(a.value, b.value) << what << ": " << a.value.toString() << " vs " << b.value.toString();
}

inline void expectSame(const Action& a, const Action& b, const std::string& what) {
  EXPECT_EQ(a.type, b.type) << what;
  EXPECT_EQ(a.filterType, b.filterType) << what;
  EXPECT_EQ(a.calloutKey, b.calloutKey) << what;
}

inline void expectSame(const Provider& a, const Provider& b) {
  const std::string w = "provider " + a.key.toString();
  EXPECT_EQ(a.key, b.key) << w;
  expectSame(a.displayData, b.displayData, w);
  EXPECT_EQ(a.flags, b.flags) << w;
  EXPECT_EQ(a.providerData, b.providerData) << w;
  EXPECT_EQ(a.serviceName, b.serviceName) << w;
  expectSame(a.origin, b.origin, w);
}

inline void expectSame(const ProviderContext& a, const ProviderContext& b) {
  const std::string w = "provider context " + a.key.toString();
  EXPECT_EQ(a.key, b.key) << w;
  expectSame(a.displayData, b.displayData, w);
  EXPECT_EQ(a.flags, b.flags) << w;
  EXPECT_EQ(a.providerKey, b.providerKey) << w;
  EXPECT_EQ(a.providerData, b.providerData) << w;
  EXPECT_EQ(a.type, b.type) << w;
  EXPECT_EQ(a.dataBuffer, b.dataBuffer) << w;
  EXPECT_EQ(a.providerContextId, b.providerContextId) << w;
  expectSame(a.origin, b.origin, w);
}

inline void expectSame(const Sublayer& a, const Sublayer& b) {
  const std::string w = "sublayer " + a.key.toString();
  EXPECT_EQ(a.key, b.key) << w;
  expectSame(a.displayData, b.displayData, w);
  EXPECT_EQ(a.flags, b.flags) << w;
  EXPECT_EQ(a.providerKey, b.providerKey) << w;
  EXPECT_EQ(a.providerData, b.providerData) << w;
  EXPECT_EQ(a.weight, b.weight) << w;
  expectSame(a.origin, b.origin, w);
}

inline void expectSame(const Callout& a, const Callout& b) {
  const std::string w = "callout " + a.key.toString();
  EXPECT_EQ(a.key, b.key) << w;
  expectSame(a.displayData, b.displayData, w);
  EXPECT_EQ(a.flags, b.flags) << w;
  EXPECT_EQ(a.providerKey, b.providerKey) << w;
  EXPECT_EQ(a.providerData, b.providerData) << w;
  EXPECT_EQ(a.applicableLayer, b.applicableLayer) << w;
  EXPECT_EQ(a.calloutId, b.calloutId) << w;
  expectSame(a.origin, b.origin, w);
}

inline void expectSame(const Filter& a, const Filter& b) {
  const std::string w =
      "filter " + a.key.toString() + " \"" + a.displayData.name.value_or("") + "\"";
  EXPECT_EQ(a.key, b.key) << w;
  expectSame(a.displayData, b.displayData, w);
  EXPECT_EQ(a.flags, b.flags) << w;
  EXPECT_EQ(a.providerKey, b.providerKey) << w;
  EXPECT_EQ(a.providerData, b.providerData) << w;
  EXPECT_EQ(a.layerKey, b.layerKey) << w;
  EXPECT_EQ(a.subLayerKey, b.subLayerKey) << w;
  EXPECT_EQ(a.weight, b.weight) << w;
  ASSERT_EQ(a.conditions.size(), b.conditions.size()) << w;
  for (size_t i = 0; i < a.conditions.size(); ++i) {
    expectSame(a.conditions[i], b.conditions[i], w + " conditions[" + std::to_string(i) + "]");
  }
  expectSame(a.action, b.action, w);
  EXPECT_EQ(a.rawContext, b.rawContext) << w;
  EXPECT_EQ(a.providerContextKey, b.providerContextKey) << w;
  EXPECT_EQ(a.reservedSet, b.reservedSet) << w;
  EXPECT_EQ(a.filterId, b.filterId) << w;
  EXPECT_EQ(a.effectiveWeight, b.effectiveWeight) << w;
  expectSame(a.origin, b.origin, w);
}

inline void expectSame(const engine::FilterEnumTemplate& a, const engine::FilterEnumTemplate& b) {
  EXPECT_EQ(a.providerKey, b.providerKey);
  EXPECT_EQ(a.layerKey, b.layerKey);
  EXPECT_EQ(a.enumType, b.enumType);
  EXPECT_EQ(a.flags, b.flags);
  ASSERT_EQ(a.providerContextTemplate.has_value(), b.providerContextTemplate.has_value());
  if (a.providerContextTemplate) {
    EXPECT_EQ(a.providerContextTemplate->providerKey, b.providerContextTemplate->providerKey);
    EXPECT_EQ(a.providerContextTemplate->providerContextType,
              b.providerContextTemplate->providerContextType);
  }
  ASSERT_EQ(a.filterConditions.size(), b.filterConditions.size());
  for (size_t i = 0; i < a.filterConditions.size(); ++i) {
    expectSame(a.filterConditions[i], b.filterConditions[i], "template condition");
  }
  EXPECT_EQ(a.actionMask, b.actionMask);
  EXPECT_EQ(a.calloutKey, b.calloutKey);
}

// A GUID from its text, for readable test data.
inline Guid g(std::string_view text) {
  return Guid::fromText(text);
}

}  // namespace xfp::rpc::testing
