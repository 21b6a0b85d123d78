// Compiled as C11 (-std=c11 -pedantic -Werror): the public headers must be valid C, and the
// structures must have WFP's x64 layout. The gtest compares these C-side numbers with what C++
// sees through the same headers.
#include "layout_check.h"

#include <fwpmu.h>
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

// The FWPM management structures (fwpmtypes.h), WFP's x64 layout: GUIDs 4-byte aligned,
// pointers and UINT64 8-byte aligned, unions as large as their largest member.
_Static_assert(sizeof(FWPM_DISPLAY_DATA0) == 16, "FWPM_DISPLAY_DATA0");
_Static_assert(sizeof(FWPM_SESSION0) == 72, "FWPM_SESSION0");
_Static_assert(offsetof(FWPM_SESSION0, flags) == 32, "session.flags");
_Static_assert(offsetof(FWPM_SESSION0, txnWaitTimeoutInMSec) == 36, "txnWaitTimeoutInMSec");
_Static_assert(offsetof(FWPM_SESSION0, processId) == 40, "processId");
_Static_assert(offsetof(FWPM_SESSION0, sid) == 48, "sid");
_Static_assert(offsetof(FWPM_SESSION0, username) == 56, "username");
_Static_assert(offsetof(FWPM_SESSION0, kernelMode) == 64, "kernelMode");
_Static_assert(sizeof(FWPM_PROVIDER0) == 64, "FWPM_PROVIDER0");
_Static_assert(offsetof(FWPM_PROVIDER0, providerData) == 40, "provider.providerData");
_Static_assert(offsetof(FWPM_PROVIDER0, serviceName) == 56, "serviceName");
_Static_assert(sizeof(FWPM_SUBLAYER0) == 72, "FWPM_SUBLAYER0");
_Static_assert(offsetof(FWPM_SUBLAYER0, providerKey) == 40, "sublayer.providerKey");
_Static_assert(offsetof(FWPM_SUBLAYER0, weight) == 64, "sublayer.weight");
_Static_assert(sizeof(FWPM_CALLOUT0) == 88, "FWPM_CALLOUT0");
_Static_assert(offsetof(FWPM_CALLOUT0, applicableLayer) == 64, "applicableLayer");
_Static_assert(offsetof(FWPM_CALLOUT0, calloutId) == 80, "calloutId");
_Static_assert(sizeof(FWPM_FIELD0) == 16 && sizeof(FWPM_LAYER0) == 72, "FWPM_LAYER0");
_Static_assert(offsetof(FWPM_LAYER0, defaultSubLayerKey) == 48, "defaultSubLayerKey");
_Static_assert(offsetof(FWPM_LAYER0, layerId) == 64, "layerId");
_Static_assert(sizeof(FWPM_FILTER_CONDITION0) == 40, "FWPM_FILTER_CONDITION0");
_Static_assert(offsetof(FWPM_FILTER_CONDITION0, conditionValue) == 24, "conditionValue");
_Static_assert(sizeof(FWPM_ACTION0) == 20 && offsetof(FWPM_ACTION0, calloutKey) == 4, "action");
_Static_assert(sizeof(FWPM_FILTER0) == 200, "FWPM_FILTER0");
_Static_assert(offsetof(FWPM_FILTER0, providerKey) == 40, "filter.providerKey");
_Static_assert(offsetof(FWPM_FILTER0, layerKey) == 64, "layerKey");
_Static_assert(offsetof(FWPM_FILTER0, subLayerKey) == 80, "subLayerKey");
_Static_assert(offsetof(FWPM_FILTER0, weight) == 96, "filter.weight");
_Static_assert(offsetof(FWPM_FILTER0, numFilterConditions) == 112, "numFilterConditions");
_Static_assert(offsetof(FWPM_FILTER0, filterCondition) == 120, "filterCondition");
_Static_assert(offsetof(FWPM_FILTER0, action) == 128, "filter.action");
_Static_assert(offsetof(FWPM_FILTER0, rawContext) == 152, "rawContext");
_Static_assert(offsetof(FWPM_FILTER0, providerContextKey) == 152, "providerContextKey");
_Static_assert(offsetof(FWPM_FILTER0, reserved) == 168, "filter.reserved");
_Static_assert(offsetof(FWPM_FILTER0, filterId) == 176, "filter.filterId");
_Static_assert(offsetof(FWPM_FILTER0, effectiveWeight) == 184, "effectiveWeight");
_Static_assert(sizeof(FWPM_PROVIDER_ENUM_TEMPLATE0) == 8, "provider template");
_Static_assert(sizeof(FWPM_SUBLAYER_ENUM_TEMPLATE0) == 8, "sublayer template");
_Static_assert(sizeof(FWPM_CALLOUT_ENUM_TEMPLATE0) == 24, "callout template");
_Static_assert(sizeof(FWPM_PROVIDER_CONTEXT_ENUM_TEMPLATE0) == 16, "provider context template");
_Static_assert(sizeof(FWPM_FILTER_ENUM_TEMPLATE0) == 72, "FWPM_FILTER_ENUM_TEMPLATE0");
_Static_assert(offsetof(FWPM_FILTER_ENUM_TEMPLATE0, enumType) == 24, "enumType");
_Static_assert(offsetof(FWPM_FILTER_ENUM_TEMPLATE0, providerContextTemplate) == 32, "pct");
_Static_assert(offsetof(FWPM_FILTER_ENUM_TEMPLATE0, filterCondition) == 48, "template conds");
_Static_assert(offsetof(FWPM_FILTER_ENUM_TEMPLATE0, actionMask) == 56, "actionMask");
_Static_assert(offsetof(FWPM_FILTER_ENUM_TEMPLATE0, calloutKey) == 64, "template.calloutKey");
_Static_assert(sizeof(FWPM_FILTER_SUBSCRIPTION0) == 32, "FWPM_FILTER_SUBSCRIPTION0");
_Static_assert(offsetof(FWPM_FILTER_SUBSCRIPTION0, sessionKey) == 12, "sessionKey");
_Static_assert(sizeof(FWPM_FILTER_CHANGE0) == 32, "FWPM_FILTER_CHANGE0");
_Static_assert(offsetof(FWPM_FILTER_CHANGE0, filterKey) == 4, "change.filterKey");
_Static_assert(offsetof(FWPM_FILTER_CHANGE0, filterId) == 24, "change.filterId");
_Static_assert(sizeof(FILETIME) == 8, "FILETIME");
_Static_assert(sizeof(FWPM_NET_EVENT_HEADER0) == 88, "FWPM_NET_EVENT_HEADER0");
_Static_assert(offsetof(FWPM_NET_EVENT_HEADER0, ipProtocol) == 16, "ipProtocol");
_Static_assert(offsetof(FWPM_NET_EVENT_HEADER0, localAddrV4) == 20, "localAddrV4");
_Static_assert(offsetof(FWPM_NET_EVENT_HEADER0, remoteAddrV6) == 36, "remoteAddrV6");
_Static_assert(offsetof(FWPM_NET_EVENT_HEADER0, localPort) == 52, "localPort");
_Static_assert(offsetof(FWPM_NET_EVENT_HEADER0, scopeId) == 56, "scopeId");
_Static_assert(offsetof(FWPM_NET_EVENT_HEADER0, appId) == 64, "appId");
_Static_assert(offsetof(FWPM_NET_EVENT_HEADER0, userId) == 80, "userId");
_Static_assert(sizeof(FWPM_NET_EVENT_HEADER1) == 144, "FWPM_NET_EVENT_HEADER1");
_Static_assert(offsetof(FWPM_NET_EVENT_HEADER1, userId) == 80, "header1.userId");
_Static_assert(offsetof(FWPM_NET_EVENT_HEADER1, reserved1) == 88, "reserved1");
_Static_assert(offsetof(FWPM_NET_EVENT_HEADER1, reserved2) == 96, "reserved2");
_Static_assert(offsetof(FWPM_NET_EVENT_HEADER1, reserved10) == 136, "reserved10");
_Static_assert(sizeof(FWPM_NET_EVENT_CLASSIFY_DROP0) == 16, "CLASSIFY_DROP0");
_Static_assert(sizeof(FWPM_NET_EVENT_CLASSIFY_DROP1) == 32, "CLASSIFY_DROP1");
_Static_assert(offsetof(FWPM_NET_EVENT_CLASSIFY_DROP1, reauthReason) == 12, "reauthReason");
_Static_assert(offsetof(FWPM_NET_EVENT_CLASSIFY_DROP1, isLoopback) == 28, "isLoopback");
_Static_assert(sizeof(FWPM_NET_EVENT_CLASSIFY_ALLOW0) == 32, "CLASSIFY_ALLOW0");
_Static_assert(sizeof(FWPM_NET_EVENT1) == 160, "FWPM_NET_EVENT1");
_Static_assert(offsetof(FWPM_NET_EVENT1, type) == 144, "event.type");
_Static_assert(offsetof(FWPM_NET_EVENT1, classifyDrop) == 152, "classifyDrop");
_Static_assert(offsetof(FWPM_NET_EVENT1, classifyAllow) == 152, "classifyAllow");
_Static_assert(sizeof(FWPM_NET_EVENT_ENUM_TEMPLATE0) == 32, "FWPM_NET_EVENT_ENUM_TEMPLATE0");
_Static_assert(offsetof(FWPM_NET_EVENT_ENUM_TEMPLATE0, filterCondition) == 24, "ne conds");
_Static_assert(sizeof(FWPM_NET_EVENT_SUBSCRIPTION0) == 32, "FWPM_NET_EVENT_SUBSCRIPTION0");
_Static_assert(sizeof(SEC_WINNT_AUTH_IDENTITY_W) == 48, "SEC_WINNT_AUTH_IDENTITY_W");
_Static_assert(FWP_E_NULL_POINTER == 0x8032001CUL && FWP_E_DROP_NOICMP == 0x80320104UL, "FWP_E");
_Static_assert(HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE) == 0x80070006UL, "HRESULT_FROM_WIN32");
_Static_assert(HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE) == 0x800706BAUL, "unavailable");
_Static_assert(HRESULT_FROM_WIN32(ERROR_SUCCESS) == 0, "success");
// The declarations compile as C (sizeof does not evaluate: no reference to libxfpm).
_Static_assert(sizeof(&FwpmFilterAdd0) == sizeof(void*), "FwpmFilterAdd0");
_Static_assert(sizeof(&FwpmNetEventEnum1) == sizeof(void*), "FwpmNetEventEnum1");
_Static_assert(sizeof(XfpmLastErrorMessage()) == sizeof(const char*), "XfpmLastErrorMessage");
_Static_assert(sizeof(FWPM_LAYER_ALE_AUTH_CONNECT_V4) == 16, "fwpm_guids.h");
_Static_assert(sizeof(FWPM_CONDITION_ICMP_TYPE) == 16, "condition alias");

// A change callback written the Windows way must compile as C.
static void onFilterChange(void* context, const FWPM_FILTER_CHANGE0* change) {
  *(UINT64*)context = change->changeType == FWPM_CHANGE_ADD ? change->filterId : 0;
}
static const FWPM_FILTER_CHANGE_CALLBACK0 kOnFilterChange = onFilterChange;

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
    case kXfpLayoutFwpmSession0:
      return sizeof(FWPM_SESSION0);
    case kXfpLayoutFwpmFilter0:
      return sizeof(FWPM_FILTER0);
    case kXfpLayoutFwpmFilter0EffectiveWeight:
      return offsetof(FWPM_FILTER0, effectiveWeight);
    case kXfpLayoutFwpmFilterEnumTemplate0:
      return sizeof(FWPM_FILTER_ENUM_TEMPLATE0);
    case kXfpLayoutFwpmNetEventHeader1:
      return sizeof(FWPM_NET_EVENT_HEADER1);
    case kXfpLayoutFwpmNetEvent1:
      return kOnFilterChange != NULL ? sizeof(FWPM_NET_EVENT1) : 0;
    case kXfpLayoutFwpmNetEvent1Union:
      return offsetof(FWPM_NET_EVENT1, classifyDrop);
    case kXfpLayoutItemCount:
      break;
  }
  return 0;
}
