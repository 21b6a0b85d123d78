// The JSON policy format: what loads, and that every error names the file, the object and the
// field, with the WFP status of the failure.
#include "userspace/core/policy_file.h"

#include <string>

#include <gtest/gtest.h>

#include "tests/harness/test_env.h"
#include "userspace/core/classifier.h"
#include "userspace/core/value_text.h"

namespace xfp {
namespace {

std::string withFilters(const std::string& filters, const std::string& extra = "") {
  return R"({"xfp_policy": 1, )" + extra + R"("filters": [)" + filters + "]}";
}

// Expects a load failure with `status` whose message contains every fragment.
void expectError(const std::string& json, uint32_t code, std::initializer_list<const char*> parts) {
  auto p = parsePolicy(json, "test.json");
  ASSERT_FALSE(p.has_value()) << "loaded although invalid: " << json;
  EXPECT_EQ(p.error().status, code) << statusName(p.error().status) << ": " << p.error().message;
  EXPECT_EQ(p.error().message.rfind("test.json: ", 0), 0u) << p.error().message;
  for (const char* part : parts) {
    EXPECT_NE(p.error().message.find(part), std::string::npos)
        << "missing \"" << part << "\" in: " << p.error().message;
  }
}

TEST(PolicyFile, LoadsAllObjectKindsWithSymbolicNames) {
  const std::string json = R"({
    "xfp_policy": 1,
    "providers": [{"key": "{11111111-2222-3333-4444-555555555555}", "name": "P"}],
    "provider_contexts": [{"name": "ctx", "provider": "P", "data": "hex:0102"}],
    "sublayers": [{"name": "S", "weight": 40000, "provider": "P"}],
    "callouts": [{"name": "C", "layer": "FWPM_LAYER_INBOUND_TRANSPORT_V4"}],
    "filters": [
      {"name": "f1", "layer": "inbound_transport_v4", "sublayer": "S", "weight": 7,
       "action": "FWP_ACTION_BLOCK", "provider_context": "ctx",
       "conditions": [{"field": "FWPM_CONDITION_IP_REMOTE_PORT", "match": "FWP_MATCH_EQUAL",
                       "value": 80}]},
      {"name": "f2", "layer": "INBOUND_TRANSPORT_V4", "action": "callout_inspection",
       "callout": "C", "weight": {"range": 3}},
      {"name": "f3", "layer": "INBOUND_TRANSPORT_V4", "action": "permit",
       "sublayer": "FWPM_SUBLAYER_INSPECTION",
       "conditions": [{"field": "IP_LOCAL_PORT", "value": [1000, 2000]},
                      {"field": "IP_REMOTE_ADDRESS", "value": "10.0.0.0/255.0.0.0"}]}
    ]})";
  auto p = parsePolicy(json, "test.json");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  ASSERT_EQ(p->filters().size(), 3u);
  const Filter& f1 = p->filters().at(1);
  EXPECT_EQ(f1.effectiveWeight, 7u);
  EXPECT_EQ(f1.action.type, ActionType::Block);
  EXPECT_NE(f1.flags & filter_flag::kHasProviderContext, 0u);
  EXPECT_EQ(p->sublayer(f1.subLayerKey)->weight, 40000);
  EXPECT_EQ(p->filters().at(2).effectiveWeight >> 60, 3u);
  const Filter& f3 = p->filters().at(3);
  EXPECT_EQ(f3.subLayerKey, keys::kSublayerInspection);
  ASSERT_EQ(f3.conditions.size(), 2u);
  EXPECT_EQ(f3.conditions[0].matchType, MatchType::Range);  // an array defaults to RANGE
  ASSERT_NE(f3.conditions[1].value.v4Mask(), nullptr);
  EXPECT_EQ(f3.conditions[1].value.v4Mask()->mask, 0xFF000000u);
  ASSERT_NE(p->provider(*Guid::parse("11111111-2222-3333-4444-555555555555")), nullptr);
}

TEST(PolicyFile, EveryObjectKeepsItsDescriptionAndData) {
  auto p = parsePolicy(R"({"xfp_policy": 1,
    "sublayers": [{"name": "S", "description": "sublayer text", "weight": 1, "data": "hex:0a"}],
    "callouts": [{"name": "C", "description": "callout text", "layer": "INBOUND_IPPACKET_V4",
                  "data": "blob"}]})",
                       "test.json");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  bool sawSublayer = false;
  for (const auto& [key, sl] : p->sublayers()) {
    if (sl.displayData.name == "S") {
      sawSublayer = true;
      EXPECT_EQ(sl.displayData.description, "sublayer text");
      EXPECT_EQ(sl.providerData, Bytes{0x0a});
    }
  }
  EXPECT_TRUE(sawSublayer);
  ASSERT_EQ(p->callouts().size(), 1u);
  const Callout& c = p->callouts().begin()->second;
  EXPECT_EQ(c.displayData.description, "callout text");
  EXPECT_EQ(c.providerData, (Bytes{'b', 'l', 'o', 'b'}));
}

TEST(PolicyFile, LoadedPolicyClassifies) {
  auto p = parsePolicy(withFilters(R"(
      {"name": "block 23", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
       "conditions": [{"field": "IP_PROTOCOL", "value": "tcp"},
                      {"field": "IP_LOCAL_PORT", "value": 23}]})"),
                       "test.json");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  const LayerInfo& layer = *layerByName("INBOUND_TRANSPORT_V4");
  NoCallouts none;
  auto hit = parseIncomingValues(layer, "IP_PROTOCOL=6 IP_LOCAL_PORT=23");
  auto miss = parseIncomingValues(layer, "IP_PROTOCOL=17 IP_LOCAL_PORT=23");
  ASSERT_TRUE(hit && miss);
  EXPECT_EQ(classify(*p, *hit, {}, none)->action, ActionType::Block);
  EXPECT_EQ(classify(*p, *miss, {}, none)->action, ActionType::NoneNoMatch);
}

TEST(PolicyFile, MalformedJsonNamesTheFile) {
  expectError("{\"xfp_policy\": 1, \"filters\": [", status::kInvalidParameter, {"JSON"});
}

TEST(PolicyFile, VersionIsRequired) {
  expectError(R"({"filters": []})", status::kInvalidParameter, {"xfp_policy"});
}

TEST(PolicyFile, UnknownTopLevelMemberIsRejected) {
  expectError(
      R"({"xfp_policy": 1, "filtres": []})", status::kInvalidParameter, {"top level", "filtres"});
}

TEST(PolicyFile, UnknownLayerNamesFilterAndField) {
  expectError(withFilters(R"({"name": "a", "layer": "INBOUND_TRANSPRT_V4", "action": "block"})"),
              status::kLayerNotFound,
              {"filters[0] \"a\"", ".layer", "INBOUND_TRANSPRT_V4"});
}

TEST(PolicyFile, FieldNotInLayerIsConditionNotFound) {
  expectError(withFilters(R"({"name": "ok", "layer": "INBOUND_IPPACKET_V4", "action": "block"},
      {"name": "bad", "layer": "INBOUND_IPPACKET_V4", "action": "block",
       "conditions": [{"field": "IP_LOCAL_PORT", "value": 80}]})"),
              status::kConditionNotFound,
              {"filters[1] \"bad\"", "conditions[0].field", "IP_LOCAL_PORT"});
}

TEST(PolicyFile, ValueOutOfRangeForFieldType) {
  expectError(withFilters(R"({"name": "p", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
       "conditions": [{"field": "IP_PROTOCOL", "value": 300}]})"),
              status::kOutOfBounds,
              {"filters[0] \"p\"", "conditions[0].value"});
}

TEST(PolicyFile, ExplicitlyTypedValueOfWrongTypeIsTypeMismatch) {
  expectError(withFilters(R"({"name": "t", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
       "conditions": [{"field": "IP_PROTOCOL", "value": {"type": "FWP_UINT16", "value": 6}}]})"),
              status::kTypeMismatch,
              {"filters[0] \"t\"", "conditions[0]"});
}

TEST(PolicyFile, MatchTypeNotAllowedForType) {
  expectError(withFilters(R"({"name": "m", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
       "conditions": [{"field": "IP_LOCAL_PORT", "match": "prefix", "value": 80}]})"),
              status::kMatchTypeMismatch,
              {"filters[0] \"m\"", "conditions[0]"});
}

TEST(PolicyFile, BadMaskAndBadRange) {
  expectError(withFilters(R"({"name": "k", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
       "conditions": [{"field": "IP_REMOTE_ADDRESS", "value": "10.0.0.0/255.0.255.0"}]})"),
              status::kInvalidNetMask,
              {"filters[0] \"k\""});
  expectError(withFilters(R"({"name": "r", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
       "conditions": [{"field": "IP_LOCAL_PORT", "value": [2000, 1000]}]})"),
              status::kInvalidRange,
              {"filters[0] \"r\""});
}

TEST(PolicyFile, MissingNameIsNullDisplayName) {
  expectError(withFilters(R"({"layer": "INBOUND_TRANSPORT_V4", "action": "block"})"),
              status::kNullDisplayName,
              {"filters[0]"});
}

TEST(PolicyFile, InvalidFlagsAndActions) {
  expectError(withFilters(R"({"name": "f", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
       "flags": ["PERSISTENT", "BOOTTIME"]})"),
              status::kInvalidFlags,
              {"filters[0] \"f\""});
  expectError(withFilters(R"({"name": "d", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
       "flags": ["DISABLED"]})"),
              status::kInvalidFlags,
              {"filters[0] \"d\""});
  expectError(withFilters(R"({"name": "u", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
       "flags": ["NO_SUCH_FLAG"]})"),
              status::kInvalidFlags,
              {"filters[0] \"u\".flags", "NO_SUCH_FLAG"});
  expectError(withFilters(R"({"name": "c", "layer": "INBOUND_TRANSPORT_V4",
       "action": "continue"})"),
              status::kInvalidActionType,
              {"filters[0] \"c\""});
}

TEST(PolicyFile, UnknownReferencesAreNamed) {
  expectError(withFilters(R"({"name": "s", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
       "sublayer": "nope"})"),
              status::kInvalidParameter,
              {"filters[0] \"s\".sublayer", "nope"});
  expectError(withFilters(R"({"name": "s", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
       "sublayer": "{01234567-89ab-cdef-0123-456789abcdef}"})"),
              status::kSublayerNotFound,
              {"filters[0] \"s\""});
  expectError(withFilters(R"({"name": "c", "layer": "INBOUND_TRANSPORT_V4",
       "action": "callout_terminating", "callout": "missing"})"),
              status::kInvalidParameter,
              {"filters[0] \"c\".callout", "missing"});
}

TEST(PolicyFile, CalloutAtAnotherLayerIsIncompatible) {
  expectError(withFilters(R"({"name": "x", "layer": "OUTBOUND_TRANSPORT_V4",
       "action": "callout_terminating", "callout": "C"})",
                          R"("callouts": [{"name": "C", "layer": "INBOUND_TRANSPORT_V4"}], )"),
              status::kIncompatibleLayer,
              {"filters[0] \"x\""});
}

TEST(PolicyFile, DuplicateKeysAreRejected) {
  expectError(withFilters(R"({"key": "{01234567-89ab-cdef-0123-456789abcdef}", "name": "a",
        "layer": "INBOUND_TRANSPORT_V4", "action": "block"},
      {"key": "{01234567-89ab-cdef-0123-456789abcdef}", "name": "b",
        "layer": "INBOUND_TRANSPORT_V4", "action": "block"})"),
              status::kAlreadyExists,
              {"filters[1] \"b\""});
}

TEST(PolicyFile, UnknownMemberOfAConditionIsNamed) {
  expectError(withFilters(R"({"name": "a", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
       "conditions": [{"field": "IP_LOCAL_PORT", "valeu": 80}]})"),
              status::kInvalidParameter,
              {"filters[0] \"a\".conditions[0]", "valeu"});
}

TEST(PolicyFile, NothingIsHalfLoaded) {
  // Nine good filters and one bad one: the load fails as a whole, no policy comes back.
  std::string filters;
  for (int i = 0; i < 9; ++i) {
    filters += R"({"name": "ok)" + std::to_string(i) +
               R"(", "layer": "INBOUND_TRANSPORT_V4", "action": "block"},)";
  }
  filters += R"({"name": "bad", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
                 "weight": {"range": 16}})";
  auto p = parsePolicy(withFilters(filters), "test.json");
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().status, status::kInvalidWeight);
  EXPECT_NE(p.error().message.find("filters[9] \"bad\""), std::string::npos) << p.error().message;
}

TEST(PolicyFile, MissingFileIsReported) {
  auto p = loadPolicyFile("/nonexistent/xfp-policy.json");
  ASSERT_FALSE(p.has_value());
  EXPECT_NE(p.error().message.find("/nonexistent/xfp-policy.json"), std::string::npos);
}

TEST(PolicyFile, ShippedExamplePolicyLoads) {
  auto p = loadPolicyFile(test::sourceDir() + "/examples/policy.json");
  ASSERT_TRUE(p.has_value()) << p.error().message;
  EXPECT_GE(p->filters().size(), 5u);
}

}  // namespace
}  // namespace xfp
