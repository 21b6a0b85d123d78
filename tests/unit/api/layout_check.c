// Compiled as C11 (-std=c11 -pedantic -Werror): the public headers must be valid C, and the
// structures must have WFP's x64 layout. The gtest compares these C-side numbers with what C++
// sees through the same headers.
#include "layout_check.h"

#include <fwpsk.h>
#include <stddef.h>

_Static_assert(sizeof(UINT8) == 1 && sizeof(UINT16) == 2 && sizeof(UINT32) == 4, "ints");
_Static_assert(sizeof(UINT64) == 8 && sizeof(INT64) == 8, "64-bit ints");
_Static_assert(sizeof(ULONG) == 4 && sizeof(LONG) == 4 && sizeof(DWORD) == 4, "LLP64 longs");
_Static_assert(sizeof(BOOLEAN) == 1 && sizeof(WCHAR) == 2 && sizeof(NTSTATUS) == 4, "misc");
_Static_assert(sizeof(HANDLE) == 8 && sizeof(SIZE_T) == 8, "pointers");
_Static_assert(sizeof(GUID) == 16, "GUID");
_Static_assert(sizeof(SCOPE_ID) == 4, "SCOPE_ID");
_Static_assert(sizeof(SOCKADDR_STORAGE) == 128, "SOCKADDR_STORAGE");
_Static_assert(sizeof(IP_ADDRESS_PREFIX) == 32, "IP_ADDRESS_PREFIX");
_Static_assert(STATUS_FWP_ALREADY_EXISTS < 0 && !NT_SUCCESS(STATUS_FWP_ALREADY_EXISTS), "error");
_Static_assert(NT_SUCCESS(STATUS_PENDING) && NT_SUCCESS(STATUS_OBJECT_NAME_EXISTS), "success");

_Static_assert(sizeof(FWP_VALUE0) == 16 && offsetof(FWP_VALUE0, uint64) == 8, "FWP_VALUE0");
_Static_assert(sizeof(FWP_CONDITION_VALUE0) == 16, "FWP_CONDITION_VALUE0");
_Static_assert(sizeof(FWP_BYTE_BLOB) == 16, "FWP_BYTE_BLOB");
_Static_assert(sizeof(FWP_RANGE0) == 32, "FWP_RANGE0");
_Static_assert(sizeof(FWP_V6_ADDR_AND_MASK) == 17, "FWP_V6_ADDR_AND_MASK");
_Static_assert(sizeof(FWPS_INCOMING_VALUE0) == 16, "FWPS_INCOMING_VALUE0");
_Static_assert(sizeof(FWPS_INCOMING_VALUES0) == 16, "FWPS_INCOMING_VALUES0");
_Static_assert(offsetof(FWPS_INCOMING_VALUES0, valueCount) == 4, "valueCount");
_Static_assert(offsetof(FWPS_INCOMING_VALUES0, incomingValue) == 8, "incomingValue");

// {actionType@0; outContext@8; filterId@16; rights@24; flags@28; reserved@32}: 36 bytes of
// members, padded to 40 by the UINT64 alignment (as on Windows x64).
_Static_assert(sizeof(FWPS_CLASSIFY_OUT0) == 40, "FWPS_CLASSIFY_OUT0");
_Static_assert(offsetof(FWPS_CLASSIFY_OUT0, outContext) == 8, "outContext");
_Static_assert(offsetof(FWPS_CLASSIFY_OUT0, rights) == 24, "rights");
_Static_assert(offsetof(FWPS_CLASSIFY_OUT0, reserved) == 32, "reserved");

_Static_assert(sizeof(FWPS_ACTION0) == 8, "FWPS_ACTION0");
_Static_assert(sizeof(FWPS_FILTER_CONDITION0) == 24, "FWPS_FILTER_CONDITION0");
_Static_assert(offsetof(FWPS_FILTER_CONDITION0, conditionValue) == 8, "conditionValue");
#define XFP_CHECK_FILTER(T)                                                          \
  _Static_assert(offsetof(T, filterId) == 0, #T ".filterId");                        \
  _Static_assert(offsetof(T, weight) == 8, #T ".weight");                            \
  _Static_assert(offsetof(T, subLayerWeight) == 24, #T ".subLayerWeight");           \
  _Static_assert(offsetof(T, flags) == 26, #T ".flags");                             \
  _Static_assert(offsetof(T, numFilterConditions) == 28, #T ".numFilterConditions"); \
  _Static_assert(offsetof(T, filterCondition) == 32, #T ".filterCondition");         \
  _Static_assert(offsetof(T, action) == 40, #T ".action");                           \
  _Static_assert(offsetof(T, context) == 48, #T ".context");                         \
  _Static_assert(offsetof(T, providerContext) == 56, #T ".providerContext");         \
  _Static_assert(sizeof(T) == 64, #T)
XFP_CHECK_FILTER(FWPS_FILTER0);
XFP_CHECK_FILTER(FWPS_FILTER1);
XFP_CHECK_FILTER(FWPS_FILTER2);

_Static_assert(sizeof(FWPS_CALLOUT0) == 48 && offsetof(FWPS_CALLOUT0, classifyFn) == 24, "CO0");
_Static_assert(sizeof(FWPS_CALLOUT1) == 48 && offsetof(FWPS_CALLOUT1, flowDeleteFn) == 40, "CO1");
_Static_assert(sizeof(FWPS_CALLOUT2) == 48, "FWPS_CALLOUT2");

_Static_assert(offsetof(FWPS_INCOMING_METADATA_VALUES0, discardMetadata) == 16, "discard");
_Static_assert(offsetof(FWPS_INCOMING_METADATA_VALUES0, flowHandle) == 32, "flowHandle");
_Static_assert(offsetof(FWPS_INCOMING_METADATA_VALUES0, processPath) == 48, "processPath");
_Static_assert(offsetof(FWPS_INCOMING_METADATA_VALUES0, compartmentId) == 80, "compartmentId");
_Static_assert(offsetof(FWPS_INCOMING_METADATA_VALUES0, pathMtu) == 96, "pathMtu");
_Static_assert(offsetof(FWPS_INCOMING_METADATA_VALUES0, completionHandle) == 104, "completion");
_Static_assert(offsetof(FWPS_INCOMING_METADATA_VALUES0, transportEndpointHandle) == 112, "tep");
_Static_assert(offsetof(FWPS_INCOMING_METADATA_VALUES0, remoteScopeId) == 120, "scope");
_Static_assert(offsetof(FWPS_INCOMING_METADATA_VALUES0, controlData) == 128, "controlData");
_Static_assert(offsetof(FWPS_INCOMING_METADATA_VALUES0, headerIncludeHeader) == 144, "hdrincl");

_Static_assert(sizeof(FWPS_BIND_REQUEST0) == 152, "FWPS_BIND_REQUEST0");
_Static_assert(offsetof(FWPS_CONNECT_REQUEST0, remoteAddressAndPort) == 128, "remote");
_Static_assert(sizeof(FWPS_TRANSPORT_SEND_PARAMS1) == 48, "FWPS_TRANSPORT_SEND_PARAMS1");
_Static_assert(sizeof(FWPS_ALE_ENDPOINT_ENUM_TEMPLATE0) == 80, "enum template");

_Static_assert(FWPS_FIELD_OUTBOUND_TRANSPORT_V4_IP_PROTOCOL == 0, "field index");
_Static_assert(FWPS_FIELD_ALE_AUTH_CONNECT_V4_ICMP_TYPE ==
                   FWPS_FIELD_ALE_AUTH_CONNECT_V4_IP_LOCAL_PORT,
               "ICMP alias");
_Static_assert(FWPS_LAYER_ALE_AUTH_CONNECT_V4 == 48 && FWPS_BUILTIN_LAYER_MAX == 103, "ids");

// A classify function written the Windows way must compile as C.
static void classifyExample(const FWPS_INCOMING_VALUES0* inFixedValues,
                            const FWPS_INCOMING_METADATA_VALUES0* inMetaValues,
                            void* layerData,
                            const void* classifyContext,
                            const FWPS_FILTER1* filter,
                            UINT64 flowContext,
                            FWPS_CLASSIFY_OUT0* classifyOut) {
  UNREFERENCED_PARAMETER(layerData);
  UNREFERENCED_PARAMETER(classifyContext);
  UNREFERENCED_PARAMETER(filter);
  UNREFERENCED_PARAMETER(flowContext);
  if (!(classifyOut->rights & FWPS_RIGHT_ACTION_WRITE)) {
    return;
  }
  UINT16 port =
      inFixedValues->incomingValue[FWPS_FIELD_ALE_AUTH_CONNECT_V4_IP_REMOTE_PORT].value.uint16;
  classifyOut->actionType = port == 23 ? FWP_ACTION_BLOCK : FWP_ACTION_CONTINUE;
  if (FWPS_IS_METADATA_FIELD_PRESENT(inMetaValues, FWPS_METADATA_FIELD_FLOW_HANDLE)) {
    classifyOut->flags |= 0;
  }
}

static const FWPS_CALLOUT1 kExampleCallout = {
    {0x12345678, 0x1234, 0x5678, {1, 2, 3, 4, 5, 6, 7, 8}},
    FWP_CALLOUT_FLAG_CONDITIONAL_ON_FLOW,
    classifyExample,
    NULL,
    NULL,
};

size_t xfpApiCLayout(XfpApiLayoutItem item) {
  switch (item) {
    case kXfpLayoutFwpValue0:
      return sizeof(FWP_VALUE0);
    case kXfpLayoutClassifyOut0:
      return sizeof(FWPS_CLASSIFY_OUT0);
    case kXfpLayoutIncomingValues0:
      return sizeof(FWPS_INCOMING_VALUES0);
    case kXfpLayoutFilter1:
      return sizeof(FWPS_FILTER1);
    case kXfpLayoutMetadata0:
      return sizeof(FWPS_INCOMING_METADATA_VALUES0);
    case kXfpLayoutMetadataSubProcessTag:
      return offsetof(FWPS_INCOMING_METADATA_VALUES0, subProcessTag);
    case kXfpLayoutConnectRequest0:
      return sizeof(FWPS_CONNECT_REQUEST0);
    case kXfpLayoutAleEndpointProperties0:
      return sizeof(FWPS_ALE_ENDPOINT_PROPERTIES0);
    case kXfpLayoutProviderContext2:
      return sizeof(FWPM_PROVIDER_CONTEXT2);
    case kXfpLayoutDriverObject:
      return sizeof(DRIVER_OBJECT);
    case kXfpLayoutExampleCalloutFlags:
      return kExampleCallout.flags;
    case kXfpLayoutItemCount:
      break;
  }
  return 0;
}
