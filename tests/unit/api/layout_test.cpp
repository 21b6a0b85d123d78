// The public FWPS headers seen from C++ must have the same layout as from C (layout_check.c,
// compiled as strict C11), and WFP's x64 layout.
#include <fwpsk.h>

#include <cstddef>
#include <type_traits>

#include <gtest/gtest.h>

#include "tests/unit/api/layout_check.h"

namespace {

static_assert(sizeof(FWP_VALUE0) == 16);
static_assert(sizeof(FWPS_CLASSIFY_OUT0) == 40);
static_assert(sizeof(FWPS_INCOMING_VALUES0) == 16);
static_assert(sizeof(GUID) == 16);
static_assert(std::is_same_v<NTSTATUS, int32_t>);
static_assert(std::is_same_v<decltype(STATUS_FWP_ALREADY_EXISTS), NTSTATUS>);
static_assert(std::is_same_v<ULONG, uint32_t>);

TEST(ApiLayout, CAndCppAgree) {
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutFwpValue0), sizeof(FWP_VALUE0));
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutClassifyOut0), sizeof(FWPS_CLASSIFY_OUT0));
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutIncomingValues0), sizeof(FWPS_INCOMING_VALUES0));
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutFilter1), sizeof(FWPS_FILTER1));
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutMetadata0), sizeof(FWPS_INCOMING_METADATA_VALUES0));
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutMetadataSubProcessTag),
            offsetof(FWPS_INCOMING_METADATA_VALUES0, subProcessTag));
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutConnectRequest0), sizeof(FWPS_CONNECT_REQUEST0));
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutAleEndpointProperties0), sizeof(FWPS_ALE_ENDPOINT_PROPERTIES0));
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutProviderContext2), sizeof(FWPM_PROVIDER_CONTEXT2));
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutDriverObject), sizeof(DRIVER_OBJECT));
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutExampleCalloutFlags), FWP_CALLOUT_FLAG_CONDITIONAL_ON_FLOW);
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutItemCount), 0u);
}

TEST(ApiLayout, WindowsX64Offsets) {
  EXPECT_EQ(offsetof(FWPS_FILTER0, weight), 8u);
  EXPECT_EQ(offsetof(FWPS_FILTER0, action), 40u);
  EXPECT_EQ(offsetof(FWPS_FILTER2, providerContext), 56u);
  EXPECT_EQ(offsetof(FWPS_CLASSIFY_OUT0, flags), 28u);
  EXPECT_EQ(offsetof(FWPS_INCOMING_METADATA_VALUES0, flowHandle), 32u);
  EXPECT_EQ(offsetof(FWPS_INCOMING_METADATA_VALUES0, transportEndpointHandle), 112u);
  EXPECT_EQ(offsetof(FWPS_CALLOUT2, notifyFn), 32u);
  EXPECT_EQ(sizeof(FWPS_BIND_REQUEST0), 152u);
}

TEST(ApiLayout, StatusMacros) {
  EXPECT_TRUE(NT_SUCCESS(STATUS_SUCCESS));
  EXPECT_TRUE(NT_SUCCESS(STATUS_PENDING));
  EXPECT_TRUE(NT_SUCCESS(STATUS_OBJECT_NAME_EXISTS));
  EXPECT_FALSE(NT_SUCCESS(STATUS_DEVICE_BUSY));  // a warning, not a success
  EXPECT_TRUE(NT_WARNING(STATUS_DEVICE_BUSY));
  EXPECT_TRUE(NT_ERROR(STATUS_FWP_CANNOT_PEND));
  EXPECT_EQ(static_cast<uint32_t>(STATUS_FWP_INJECT_HANDLE_STALE), 0xC0220102u);
  EXPECT_EQ(NDIS_STATUS_SUCCESS, STATUS_SUCCESS);
}

}  // namespace
