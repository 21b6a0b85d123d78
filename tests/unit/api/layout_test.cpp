// The public FWPS headers seen from C++ must have the same layout as from C (layout_check.c,
// compiled as strict C11), and WFP's x64 layout.
#include <fwpmu.h>
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
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutFwpmSession0), sizeof(FWPM_SESSION0));
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutFwpmFilter0), sizeof(FWPM_FILTER0));
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutFwpmFilter0EffectiveWeight),
            offsetof(FWPM_FILTER0, effectiveWeight));
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutFwpmFilterEnumTemplate0), sizeof(FWPM_FILTER_ENUM_TEMPLATE0));
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutFwpmNetEventHeader1), sizeof(FWPM_NET_EVENT_HEADER1));
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutFwpmNetEvent1), sizeof(FWPM_NET_EVENT1));
  EXPECT_EQ(xfpApiCLayout(kXfpLayoutFwpmNetEvent1Union), offsetof(FWPM_NET_EVENT1, classifyDrop));
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

TEST(ApiLayout, FwpmWindowsX64Layout) {
  EXPECT_EQ(sizeof(FWPM_FILTER0), 200u);
  EXPECT_EQ(offsetof(FWPM_FILTER0, action), 128u);
  EXPECT_EQ(offsetof(FWPM_FILTER0, providerContextKey), 152u);
  EXPECT_EQ(offsetof(FWPM_FILTER0, filterId), 176u);
  EXPECT_EQ(sizeof(FWPM_SESSION0), 72u);
  EXPECT_EQ(sizeof(FWPM_CALLOUT0), 88u);
  EXPECT_EQ(sizeof(FWPM_SUBLAYER0), 72u);
  EXPECT_EQ(sizeof(FWPM_PROVIDER0), 64u);
  EXPECT_EQ(sizeof(FWPM_FILTER_CONDITION0), 40u);
  EXPECT_EQ(sizeof(FWPM_FILTER_ENUM_TEMPLATE0), 72u);
  EXPECT_EQ(sizeof(FWPM_FILTER_SUBSCRIPTION0), 32u);
  EXPECT_EQ(sizeof(FWPM_FILTER_CHANGE0), 32u);
  EXPECT_EQ(sizeof(FWPM_NET_EVENT_HEADER1), 144u);
  EXPECT_EQ(offsetof(FWPM_NET_EVENT_HEADER1, appId), 64u);
  EXPECT_EQ(sizeof(FWPM_NET_EVENT1), 160u);
  EXPECT_EQ(sizeof(FWPM_NET_EVENT_CLASSIFY_DROP1), 32u);
  EXPECT_EQ(sizeof(FWPM_NET_EVENT_ENUM_TEMPLATE0), 32u);
}

TEST(ApiLayout, FwpmStatusCodes) {
  // DWORD constants, so that `DWORD r = Fwpm...(); r == FWP_E_...` compares like types.
  static_assert(std::is_same_v<decltype(FWP_E_ALREADY_EXISTS), DWORD>);
  static_assert(std::is_same_v<decltype(ERROR_SUCCESS), DWORD>);
  EXPECT_EQ(FWP_E_CALLOUT_NOT_FOUND, 0x80320001u);
  EXPECT_EQ(FWP_E_CALLOUT_NOTIFICATION_FAILED, 0x80320037u);
  EXPECT_EQ(FWP_E_IKEEXT_NOT_RUNNING, 0x80320044u);
  EXPECT_EQ(RPC_E_DISCONNECTED, 0x80010108u);
  EXPECT_EQ(HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE), 0x800706BAu);
  EXPECT_EQ(HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE), 0x80070006u);
  EXPECT_EQ(static_cast<DWORD>(RPC_C_AUTHN_DEFAULT), 0xFFFFFFFFu);
  EXPECT_EQ(FWPM_TXN_READ_ONLY, 1);
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
