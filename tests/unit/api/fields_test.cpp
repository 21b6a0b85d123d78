// The generated FWPS_FIELDS_* enums and FWPS_LAYER_* ids of the public header must agree with
// the layer schemas of xfp's core (both come from wfp-constants.md), and sample constants with
// userspace/core/wfp_constants.h.
#include <fwpsk.h>

#include <cstdint>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

#include "userspace/core/layers.h"
#include "userspace/core/wfp_constants.h"

namespace {

// The generated enums as data (one table row each): a test body with one assertion per field
// would be thousands of expanded macros, minutes to compile under ASan.
struct LayerRow {
  const char* layer;
  size_t max;
  unsigned id;
};
constexpr LayerRow kLayerRows[] = {
#define XFP_LAYER_ROW(layer) {#layer, size_t{FWPS_FIELD_##layer##_MAX}, FWPS_LAYER_##layer},
    XFP_FWPS_FIELDS_LAYERS(XFP_LAYER_ROW)
#undef XFP_LAYER_ROW
};

struct FieldRow {
  const char* layer;
  const char* field;
  size_t index;
};
constexpr FieldRow kFieldRows[] = {
#define XFP_FIELD_ROW(layer, field) {#layer, #field, size_t{FWPS_FIELD_##layer##_##field}},
    XFP_FWPS_FIELDS_ALL(XFP_FIELD_ROW)
#undef XFP_FIELD_ROW
};

TEST(ApiFields, EveryFieldEnumMatchesTheCoreSchema) {
  for (const LayerRow& row : kLayerRows) {
    const xfp::LayerInfo* info = xfp::layerByName(row.layer);
    ASSERT_NE(info, nullptr) << row.layer;
    EXPECT_EQ(info->fields.size(), row.max) << row.layer;
    EXPECT_EQ(info->id, row.id) << row.layer;
  }
  EXPECT_EQ(std::size(kLayerRows), 34u);

  for (const FieldRow& row : kFieldRows) {
    const xfp::LayerInfo* info = xfp::layerByName(row.layer);
    ASSERT_NE(info, nullptr) << row.layer;
    ASSERT_LT(row.index, info->fields.size()) << row.layer << "." << row.field;
    const xfp::FieldInfo& f = info->fields[row.index];
    EXPECT_EQ(f.index, row.index) << row.layer << "." << row.field;
    EXPECT_EQ(std::string(f.name), row.field) << row.layer;
  }
  size_t coreFields = 0;
  for (const auto& layer : xfp::allLayers()) {
    coreFields += layer.fields.size();
  }
  EXPECT_EQ(std::size(kFieldRows), coreFields) << "a core schema has no FWPS_FIELDS_* enum";
}

TEST(ApiFields, EveryLayerIdMatchesTheCore) {
  int known = 0;
#define XFP_CHECK_ID(layer)                                        \
  if (const xfp::LayerInfo* info = xfp::layerByName(#layer)) {     \
    EXPECT_EQ(info->id, FWPS_LAYER_##layer) << #layer;             \
    EXPECT_EQ(xfp::layerById(FWPS_LAYER_##layer), info) << #layer; \
    ++known;                                                       \
  }
  XFP_FWPS_LAYER_IDS(XFP_CHECK_ID)
#undef XFP_CHECK_ID
  int coreWithId = 0;
  for (const auto& layer : xfp::allLayers()) {
    coreWithId += layer.id != 0xFFFF ? 1 : 0;
  }
  EXPECT_EQ(known, coreWithId);
  EXPECT_EQ(FWPS_BUILTIN_LAYER_MAX, 103);
  EXPECT_EQ(FWPS_LAYER_NON_WFP, 0xFFFF);
}

TEST(ApiFields, ConstantsMatchTheCore) {
  // NTSTATUS facility 0x22 and HRESULT facility 0x32 share the low 16 bits (wfp-constants.md §6).
  EXPECT_EQ(static_cast<uint32_t>(STATUS_FWP_ALREADY_EXISTS), 0xC0220009u);
  EXPECT_EQ(static_cast<uint32_t>(STATUS_FWP_ALREADY_EXISTS) & 0xFFFFu,
            xfp::status::kAlreadyExists & 0xFFFFu);
  EXPECT_EQ(static_cast<uint32_t>(STATUS_FWP_CALLOUT_NOT_FOUND) & 0xFFFFu,
            xfp::status::kCalloutNotFound & 0xFFFFu);
  EXPECT_EQ(static_cast<uint32_t>(STATUS_FWP_NULL_POINTER) & 0xFFFFu,
            xfp::status::kNullPointer & 0xFFFFu);

  EXPECT_EQ(uint32_t{FWP_ACTION_CALLOUT_TERMINATING},
            static_cast<uint32_t>(xfp::ActionType::CalloutTerminating));
  EXPECT_EQ(uint32_t{FWP_ACTION_BLOCK}, static_cast<uint32_t>(xfp::ActionType::Block));
  EXPECT_EQ(uint32_t{FWP_ACTION_PERMIT}, static_cast<uint32_t>(xfp::ActionType::Permit));
  EXPECT_EQ(uint32_t{FWP_ACTION_CALLOUT_INSPECTION},
            static_cast<uint32_t>(xfp::ActionType::CalloutInspection));
  EXPECT_EQ(uint32_t{FWP_ACTION_CALLOUT_UNKNOWN},
            static_cast<uint32_t>(xfp::ActionType::CalloutUnknown));
  EXPECT_EQ(uint32_t{FWP_ACTION_CONTINUE}, static_cast<uint32_t>(xfp::ActionType::Continue));
  EXPECT_EQ(uint32_t{FWP_ACTION_NONE}, static_cast<uint32_t>(xfp::ActionType::None));
  EXPECT_EQ(uint32_t{FWP_ACTION_NONE_NO_MATCH},
            static_cast<uint32_t>(xfp::ActionType::NoneNoMatch));
  EXPECT_EQ(uint32_t{FWP_ACTION_FLAG_CALLOUT}, xfp::kActionFlagCallout);

  EXPECT_EQ(uint32_t{FWP_CALLOUT_FLAG_CONDITIONAL_ON_FLOW}, xfp::kCalloutConditionalOnFlow);
  EXPECT_EQ(uint32_t{FWPS_RIGHT_ACTION_WRITE}, xfp::kRightActionWrite);
  EXPECT_EQ(uint32_t{FWPS_CLASSIFY_OUT_FLAG_ABSORB}, xfp::kClassifyOutFlagAbsorb);
  EXPECT_EQ(uint16_t{FWPS_FILTER_FLAG_CLEAR_ACTION_RIGHT},
            xfp::fwps_filter_flag::kClearActionRight);
  EXPECT_EQ(uint16_t{FWPS_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED},
            xfp::fwps_filter_flag::kPermitIfCalloutUnregistered);
  EXPECT_EQ(uint16_t{FWPS_FILTER_FLAG_OR_CONDITIONS}, xfp::fwps_filter_flag::kOrConditions);
  EXPECT_EQ(uint32_t{FWP_CONDITION_FLAG_IS_REAUTHORIZE}, xfp::condition_flag::kIsReauthorize);
  EXPECT_EQ(uint32_t{FWP_CONDITION_FLAG_IS_LOOPBACK}, xfp::condition_flag::kIsLoopback);
  EXPECT_EQ(uint32_t{FWPM_GENERAL_CONTEXT}, xfp::kGeneralContext);
  EXPECT_EQ(uint32_t{FWP_MATCH_TYPE_MAX}, xfp::kMatchTypeMax);
  EXPECT_EQ(uint32_t{FWP_RANGE_TYPE}, static_cast<uint32_t>(xfp::DataType::Range));
  EXPECT_EQ(uint32_t{FWP_BYTE_ARRAY6_TYPE}, static_cast<uint32_t>(xfp::DataType::ByteArray6));

  EXPECT_EQ(FWPS_METADATA_FIELD_FLOW_HANDLE, 0x00000002);  // no core constant: the spec value
  EXPECT_EQ(FWPS_METADATA_FIELD_COMPLETION_HANDLE, 0x00004000);
}

}  // namespace
