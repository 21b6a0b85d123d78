// fwpsk.h: the WFP callout (FWPS) API of xfp, for callout plugins.
//
// Mirrors the WDK's km/fwpsk.h (Windows 10 19H1 revision): callback types, FWPS_CALLOUT0/1/2
// and the Fwps* functions. A WFP callout driver ported to an xfp plugin includes this header
// instead of <fwpsk.h>/<fwpmk.h>/<ndis.h> and mostly recompiles. Differences on Linux:
//  * IRQL does not exist: callbacks run on host threads and must not block; long work pends
//    (FwpsPendClassify0 / FwpsPendOperation0). `dispatchLevel` arguments are always FALSE.
//  * NET_BUFFER_LIST is opaque (xfp_ndis.h); packet data is contiguous.
//  * `deviceObject` is the DEVICE_OBJECT the host created for the plugin (xfp_driver.h).
//  * The calling convention is the platform's (no NTAPI/__stdcall); SAL annotations are absent.
//  * Functions marked "declared for later" are declared so drivers link-compile; until the host
//    implements them they return STATUS_NOT_SUPPORTED.
// Semantics of every function: shared/spec/wfp-model.md §5 and §6.
#ifndef XFP_FWPSK_H
#define XFP_FWPSK_H

#include "fwpstypes.h"
#include "fwptypes.h"
#include "xfp_driver.h"
#include "xfp_ndis.h"
#include "xfp_wintypes.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef NTAPI
#define NTAPI
#endif

// Callbacks (wfp-model.md §5.2-§5.5).
typedef void (*FWPS_CALLOUT_CLASSIFY_FN0)(const FWPS_INCOMING_VALUES0* inFixedValues,
                                          const FWPS_INCOMING_METADATA_VALUES0* inMetaValues,
                                          void* layerData,
                                          const FWPS_FILTER0* filter,
                                          UINT64 flowContext,
                                          FWPS_CLASSIFY_OUT0* classifyOut);

typedef void (*FWPS_CALLOUT_CLASSIFY_FN1)(const FWPS_INCOMING_VALUES0* inFixedValues,
                                          const FWPS_INCOMING_METADATA_VALUES0* inMetaValues,
                                          void* layerData,
                                          const void* classifyContext,
                                          const FWPS_FILTER1* filter,
                                          UINT64 flowContext,
                                          FWPS_CLASSIFY_OUT0* classifyOut);

typedef void (*FWPS_CALLOUT_CLASSIFY_FN2)(const FWPS_INCOMING_VALUES0* inFixedValues,
                                          const FWPS_INCOMING_METADATA_VALUES0* inMetaValues,
                                          void* layerData,
                                          const void* classifyContext,
                                          const FWPS_FILTER2* filter,
                                          UINT64 flowContext,
                                          FWPS_CLASSIFY_OUT0* classifyOut);

typedef NTSTATUS (*FWPS_CALLOUT_NOTIFY_FN0)(FWPS_CALLOUT_NOTIFY_TYPE notifyType,
                                            const GUID* filterKey,
                                            FWPS_FILTER0* filter);

typedef NTSTATUS (*FWPS_CALLOUT_NOTIFY_FN1)(FWPS_CALLOUT_NOTIFY_TYPE notifyType,
                                            const GUID* filterKey,
                                            FWPS_FILTER1* filter);

typedef NTSTATUS (*FWPS_CALLOUT_NOTIFY_FN2)(FWPS_CALLOUT_NOTIFY_TYPE notifyType,
                                            const GUID* filterKey,
                                            FWPS_FILTER2* filter);

typedef void (*FWPS_CALLOUT_FLOW_DELETE_NOTIFY_FN0)(UINT16 layerId,
                                                    UINT32 calloutId,
                                                    UINT64 flowContext);

typedef void (*FWPS_INJECT_COMPLETE0)(void* context,
                                      NET_BUFFER_LIST* netBufferList,
                                      BOOLEAN dispatchLevel);

typedef void (*FWPS_NET_BUFFER_LIST_NOTIFY_FN0)(FWPS_NET_BUFFER_LIST_EVENT_TYPE0 eventType,
                                                NET_BUFFER_LIST* netBufferList,
                                                NET_BUFFER_LIST* newNetBufferList,
                                                UINT16 layerId,
                                                UINT64 context,
                                                UINT64 contextTag);

// Run-time registration (wfp-model.md §1.8, §5.1).
typedef struct FWPS_CALLOUT0_ {
  GUID calloutKey;  // equals the FWPM_CALLOUT0 key
  UINT32 flags;     // FWP_CALLOUT_FLAG_*
  FWPS_CALLOUT_CLASSIFY_FN0 classifyFn;
  FWPS_CALLOUT_NOTIFY_FN0 notifyFn;
  FWPS_CALLOUT_FLOW_DELETE_NOTIFY_FN0 flowDeleteFn;  // NULL if no flow contexts
} FWPS_CALLOUT0;

typedef struct FWPS_CALLOUT1_ {
  GUID calloutKey;
  UINT32 flags;
  FWPS_CALLOUT_CLASSIFY_FN1 classifyFn;
  FWPS_CALLOUT_NOTIFY_FN1 notifyFn;
  FWPS_CALLOUT_FLOW_DELETE_NOTIFY_FN0 flowDeleteFn;
} FWPS_CALLOUT1;

typedef struct FWPS_CALLOUT2_ {
  GUID calloutKey;
  UINT32 flags;
  FWPS_CALLOUT_CLASSIFY_FN2 classifyFn;
  FWPS_CALLOUT_NOTIFY_FN2 notifyFn;
  FWPS_CALLOUT_FLOW_DELETE_NOTIFY_FN0 flowDeleteFn;
} FWPS_CALLOUT2;

// Registration (wfp-model.md §5.6). calloutId is optional.
NTSTATUS FwpsCalloutRegister0(void* deviceObject, const FWPS_CALLOUT0* callout, UINT32* calloutId);
NTSTATUS FwpsCalloutRegister1(void* deviceObject, const FWPS_CALLOUT1* callout, UINT32* calloutId);
NTSTATUS FwpsCalloutRegister2(void* deviceObject, const FWPS_CALLOUT2* callout, UINT32* calloutId);
NTSTATUS FwpsCalloutUnregisterById0(const UINT32 calloutId);
NTSTATUS FwpsCalloutUnregisterByKey0(const GUID* calloutKey);

// Flow contexts (wfp-model.md §5.7).
NTSTATUS FwpsFlowAssociateContext0(UINT64 flowId,
                                   UINT16 layerId,
                                   UINT32 calloutId,
                                   UINT64 flowContext);
NTSTATUS FwpsFlowRemoveContext0(UINT64 flowId, UINT16 layerId, UINT32 calloutId);

// Asynchronous classification (wfp-model.md §6.1).
NTSTATUS FwpsPendOperation0(HANDLE completionHandle, HANDLE* completionContext);
void FwpsCompleteOperation0(HANDLE completionContext, NET_BUFFER_LIST* netBufferList);
NTSTATUS FwpsAcquireClassifyHandle0(void* classifyContext, UINT32 flags, UINT64* classifyHandle);
void FwpsReleaseClassifyHandle0(UINT64 classifyHandle);
NTSTATUS FwpsPendClassify0(UINT64 classifyHandle,
                           UINT64 filterId,
                           UINT32 flags,
                           FWPS_CLASSIFY_OUT0* classifyOut);
void FwpsCompleteClassify0(UINT64 classifyHandle,
                           UINT32 flags,
                           const FWPS_CLASSIFY_OUT0* classifyOut);

// Writable layer data: bind/connect redirection at ALE_BIND_REDIRECT / ALE_CONNECT_REDIRECT
// (wfp-model.md §6.2; docs/ale.md "Redirection").
NTSTATUS FwpsAcquireWritableLayerDataPointer0(UINT64 classifyHandle,
                                              UINT64 filterId,
                                              UINT32 flags,
                                              PVOID* writableLayerData,
                                              FWPS_CLASSIFY_OUT0* classifyOut);
void FwpsApplyModifiedLayerData0(UINT64 classifyHandle, PVOID modifiedLayerData, UINT32 flags);

// Packet injection (wfp-model.md §6.3). completionFn runs only if the call returned
// STATUS_SUCCESS; otherwise the caller still owns the NBL.
NTSTATUS FwpsInjectionHandleCreate0(ADDRESS_FAMILY addressFamily,
                                    UINT32 flags,
                                    HANDLE* injectionHandle);
NTSTATUS FwpsInjectionHandleDestroy0(HANDLE injectionHandle);

NTSTATUS FwpsInjectTransportSendAsync0(HANDLE injectionHandle,
                                       HANDLE injectionContext,
                                       UINT64 endpointHandle,
                                       UINT32 flags,
                                       FWPS_TRANSPORT_SEND_PARAMS0* sendArgs,
                                       ADDRESS_FAMILY addressFamily,
                                       COMPARTMENT_ID compartmentId,
                                       NET_BUFFER_LIST* netBufferList,
                                       FWPS_INJECT_COMPLETE0 completionFn,
                                       HANDLE completionContext);
NTSTATUS FwpsInjectTransportSendAsync1(HANDLE injectionHandle,
                                       HANDLE injectionContext,
                                       UINT64 endpointHandle,
                                       UINT32 flags,
                                       FWPS_TRANSPORT_SEND_PARAMS1* sendArgs,
                                       ADDRESS_FAMILY addressFamily,
                                       COMPARTMENT_ID compartmentId,
                                       NET_BUFFER_LIST* netBufferList,
                                       FWPS_INJECT_COMPLETE0 completionFn,
                                       HANDLE completionContext);
NTSTATUS FwpsInjectTransportReceiveAsync0(HANDLE injectionHandle,
                                          HANDLE injectionContext,
                                          PVOID reserved,
                                          UINT32 flags,
                                          ADDRESS_FAMILY addressFamily,
                                          COMPARTMENT_ID compartmentId,
                                          IF_INDEX interfaceIndex,
                                          IF_INDEX subInterfaceIndex,
                                          NET_BUFFER_LIST* netBufferList,
                                          FWPS_INJECT_COMPLETE0 completionFn,
                                          HANDLE completionContext);
NTSTATUS FwpsInjectNetworkSendAsync0(HANDLE injectionHandle,
                                     HANDLE injectionContext,
                                     UINT32 flags,
                                     COMPARTMENT_ID compartmentId,
                                     NET_BUFFER_LIST* netBufferList,
                                     FWPS_INJECT_COMPLETE0 completionFn,
                                     HANDLE completionContext);
NTSTATUS FwpsInjectNetworkReceiveAsync0(HANDLE injectionHandle,
                                        HANDLE injectionContext,
                                        UINT32 flags,
                                        COMPARTMENT_ID compartmentId,
                                        IF_INDEX interfaceIndex,
                                        IF_INDEX subInterfaceIndex,
                                        NET_BUFFER_LIST* netBufferList,
                                        FWPS_INJECT_COMPLETE0 completionFn,
                                        HANDLE completionContext);
FWPS_PACKET_INJECTION_STATE FwpsQueryPacketInjectionState0(HANDLE injectionHandle,
                                                           const NET_BUFFER_LIST* netBufferList,
                                                           HANDLE* injectionContext);

// NBL cloning and freeing. The pool handles and flags are ignored (pass NULL / 0).
NTSTATUS FwpsAllocateCloneNetBufferList0(NET_BUFFER_LIST* originalNetBufferList,
                                         NDIS_HANDLE netBufferListPoolHandle,
                                         NDIS_HANDLE netBufferPoolHandle,
                                         ULONG allocateCloneFlags,
                                         NET_BUFFER_LIST** netBufferList);
void FwpsFreeCloneNetBufferList0(NET_BUFFER_LIST* netBufferList, ULONG freeCloneFlags);
void FwpsFreeNetBufferList0(NET_BUFFER_LIST* netBufferList);

// Packet tagging (wfp-model.md §6.4).
UINT64 FwpsNetBufferListGetTagForContext0(void);
NTSTATUS FwpsNetBufferListAssociateContext0(NET_BUFFER_LIST* netBufferList,
                                            UINT16 layerId,  // or FWPS_LAYER_NON_WFP
                                            UINT64 context,
                                            UINT64 contextTag,
                                            GUID* providerGuid,
                                            void* deviceObject,
                                            FWPS_NET_BUFFER_LIST_NOTIFY_FN0 notifyFn,
                                            UINT32 flags);
NTSTATUS FwpsNetBufferListRetrieveContext0(NET_BUFFER_LIST* netBufferList,
                                           UINT64 contextTag,
                                           BOOLEAN removeContext,
                                           UINT32 flags,
                                           UINT64* context);
NTSTATUS FwpsNetBufferListRemoveContext0(NET_BUFFER_LIST* netBufferList,
                                         UINT64 contextTag,
                                         UINT32 flags);

// Redirect handles (wfp-model.md §6.2): a callout that redirects connections to a local proxy
// creates one and puts it in FWPS_CONNECT_REQUEST0.localRedirectHandle; the proxy copies the
// accepted connection's redirect records onto its own outgoing socket (setsockopt XFP_SOL /
// XFP_SO_REDIRECT_RECORDS, bpf/include/xfp/abi.h; docs/ale.md "Redirection"), and the
// callout recognizes that connection with FwpsQueryConnectionRedirectState0 (REDIRECTED_BY_SELF)
// instead of redirecting it again.
NTSTATUS FwpsRedirectHandleCreate0(const GUID* providerGuid, UINT32 flags, HANDLE* redirectHandle);
void FwpsRedirectHandleDestroy0(HANDLE redirectHandle);
FWPS_CONNECTION_REDIRECT_STATE FwpsQueryConnectionRedirectState0(HANDLE redirectRecords,
                                                                 HANDLE redirectHandle,
                                                                 void** redirectContext);

// ALE endpoints (wfp-model.md §6.5): the live sockets the socket hooks know (docs/ale.md).
// `engineHandle` must be non-NULL (a session handle); results are one block each, freed with
// FwpmFreeMemory0.
void FwpmFreeMemory0(void** p);
NTSTATUS FwpsAleEndpointGetById0(HANDLE engineHandle,
                                 UINT64 endpointId,
                                 FWPS_ALE_ENDPOINT_PROPERTIES0** properties);
NTSTATUS FwpsAleEndpointCreateEnumHandle0(HANDLE engineHandle,
                                          const FWPS_ALE_ENDPOINT_ENUM_TEMPLATE0* enumTemplate,
                                          HANDLE* enumHandle);
NTSTATUS FwpsAleEndpointEnum0(HANDLE engineHandle,
                              HANDLE enumHandle,
                              UINT32 numEntriesRequested,
                              FWPS_ALE_ENDPOINT_PROPERTIES0*** entries,
                              UINT32* numEntriesReturned);
NTSTATUS FwpsAleEndpointDestroyEnumHandle0(HANDLE engineHandle, HANDLE enumHandle);
NTSTATUS FwpsAleEndpointGetSecurityInfo0(HANDLE engineHandle,
                                         SECURITY_INFORMATION securityInfo,
                                         PSID* sidOwner,
                                         PSID* sidGroup,
                                         PACL* dacl,
                                         PACL* sacl,
                                         PSECURITY_DESCRIPTOR* securityDescriptor);
NTSTATUS FwpsAleEndpointSetSecurityInfo0(HANDLE engineHandle,
                                         SECURITY_INFORMATION securityInfo,
                                         const SID* sidOwner,
                                         const SID* sidGroup,
                                         const ACL* dacl,
                                         const ACL* sacl);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // XFP_FWPSK_H
