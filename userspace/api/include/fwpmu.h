// fwpmu.h: the FWPM management API of xfp (WFP's names and semantics, wfp-model.md §7),
// implemented by libxfpm.so as a client of the xfpd service.
//
// The layer, sublayer, condition and provider GUIDs (FWPM_LAYER_INBOUND_TRANSPORT_V4, ...) are in
// fwpm_guids.h, included here; libxfpm.so defines them.
//
// Every function returns a DWORD: ERROR_SUCCESS (0), an FWP_E_* code, or one of these:
//  * HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE) (0x800706BA): xfpd cannot be reached when the
//    session is opened (no socket, nothing listening, or it does not serve the API).
//  * RPC_E_DISCONNECTED (0x80010108): the connection to xfpd broke after the session was
//    opened (the service stopped or restarted). The session is gone (its transaction aborted,
//    its dynamic objects deleted); only FwpmEngineClose0 is left to do with the handle.
//  * RPC_E_INVALID_DATA (0x8001000F): xfpd answered something this library cannot read.
//  * RPC_E_SERVERFAULT (0x80010105): xfpd failed internally.
//  * ERROR_ACCESS_DENIED (5): xfpd refused the caller (not root and not in the service's socket
//    group), or the socket cannot be opened by this user.
//  * HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE) (0x80070006): an engine, enumeration or change
//    handle that is not (or no longer) open, as the engine reports its own bad handles.
//  * ERROR_NOT_ENOUGH_MEMORY (8): the result could not be allocated.
// XfpmLastErrorMessage() says what went wrong in words.
//
// Differences from WFP:
//  * Local engine only: serverName must be NULL and authIdentity NULL (the service identifies
//    the caller by the socket's peer credentials); authnService RPC_C_AUTHN_WINNT or
//    RPC_C_AUTHN_DEFAULT. Anything else -> FWP_E_INVALID_PARAMETER.
//  * Security descriptors: the `sd` of the *Add0 functions must be NULL (the default); xfp has no
//    per-object access control yet (access is the service's socket group), so a descriptor would
//    be silently without effect: a non-NULL one -> FWP_E_INVALID_PARAMETER.
//  * The service socket is $XFP_SOCKET, default /run/xfp/xfpd.sock.
//  * Handles may be used from several threads; calls on one engine handle are serialised.
//  * Callbacks (filter changes, net events) run on a thread of the library, one per subscription,
//    in order; what a callback is given is valid only during the call. Unsubscribing (or closing
//    the engine handle) waits for a callback in progress, as on Windows; from inside the
//    subscription's own callback it is allowed here (on Windows it deadlocks): it returns at once,
//    and the callback is not called again. Callbacks may call the engine.
//  * Returned memory is one block per object or array; release it with FwpmFreeMemory0.
#ifndef XFP_FWPMU_H
#define XFP_FWPMU_H

#if defined(__GNUC__)
#define XFPM_API __attribute__((visibility("default")))
#else
#define XFPM_API
#endif

#include "fwpm_guids.h"
#include "fwpmtypes.h"

#ifdef __cplusplus
extern "C" {
#endif

// FwpmEngineOpen0's authnService (rpcdce.h).
#define RPC_C_AUTHN_NONE (0)
#define RPC_C_AUTHN_WINNT (10)
#define RPC_C_AUTHN_DEFAULT (0xFFFFFFFFL)

// FwpmTransactionBegin0's flags.
#define FWPM_TXN_READ_ONLY (0x00000001)

// sspi.h; accepted only as NULL.
typedef struct _SEC_WINNT_AUTH_IDENTITY_W {
  UINT16* User;
  ULONG UserLength;
  UINT16* Domain;
  ULONG DomainLength;
  UINT16* Password;
  ULONG PasswordLength;
  ULONG Flags;
} SEC_WINNT_AUTH_IDENTITY_W;

// ---- Memory ----

// Frees what a get/enum call returned and sets *p to NULL. NULL and *p == NULL are fine.
XFPM_API void FwpmFreeMemory0(void** p);

// ---- Sessions (§7.1) and transactions (§7.2) ----

XFPM_API DWORD FwpmEngineOpen0(const WCHAR* serverName,
                               UINT32 authnService,
                               SEC_WINNT_AUTH_IDENTITY_W* authIdentity,
                               const FWPM_SESSION0* session,
                               HANDLE* engineHandle);
// Ends the session (aborting its transaction; a dynamic session's objects are deleted) and its
// subscriptions. The handle is invalid afterwards, whatever the result.
XFPM_API DWORD FwpmEngineClose0(HANDLE engineHandle);

XFPM_API DWORD FwpmTransactionBegin0(HANDLE engineHandle, UINT32 flags);
XFPM_API DWORD FwpmTransactionCommit0(HANDLE engineHandle);
XFPM_API DWORD FwpmTransactionAbort0(HANDLE engineHandle);

// ---- Providers ----

XFPM_API DWORD FwpmProviderAdd0(HANDLE engineHandle,
                                const FWPM_PROVIDER0* provider,
                                PSECURITY_DESCRIPTOR sd);
XFPM_API DWORD FwpmProviderDeleteByKey0(HANDLE engineHandle, const GUID* key);
XFPM_API DWORD FwpmProviderGetByKey0(HANDLE engineHandle,
                                     const GUID* key,
                                     FWPM_PROVIDER0** provider);
XFPM_API DWORD FwpmProviderCreateEnumHandle0(HANDLE engineHandle,
                                             const FWPM_PROVIDER_ENUM_TEMPLATE0* enumTemplate,
                                             HANDLE* enumHandle);
XFPM_API DWORD FwpmProviderEnum0(HANDLE engineHandle,
                                 HANDLE enumHandle,
                                 UINT32 numEntriesRequested,
                                 FWPM_PROVIDER0*** entries,
                                 UINT32* numEntriesReturned);
XFPM_API DWORD FwpmProviderDestroyEnumHandle0(HANDLE engineHandle, HANDLE enumHandle);

// ---- Provider contexts (FWPM_GENERAL_CONTEXT only; 0/1/2 share a layout) ----

XFPM_API DWORD FwpmProviderContextAdd0(HANDLE engineHandle,
                                       const FWPM_PROVIDER_CONTEXT0* providerContext,
                                       PSECURITY_DESCRIPTOR sd,
                                       UINT64* id);
XFPM_API DWORD FwpmProviderContextAdd1(HANDLE engineHandle,
                                       const FWPM_PROVIDER_CONTEXT1* providerContext,
                                       PSECURITY_DESCRIPTOR sd,
                                       UINT64* id);
XFPM_API DWORD FwpmProviderContextAdd2(HANDLE engineHandle,
                                       const FWPM_PROVIDER_CONTEXT2* providerContext,
                                       PSECURITY_DESCRIPTOR sd,
                                       UINT64* id);
XFPM_API DWORD FwpmProviderContextDeleteByKey0(HANDLE engineHandle, const GUID* key);
XFPM_API DWORD FwpmProviderContextGetByKey0(HANDLE engineHandle,
                                            const GUID* key,
                                            FWPM_PROVIDER_CONTEXT0** providerContext);

// ---- Sublayers ----

XFPM_API DWORD FwpmSubLayerAdd0(HANDLE engineHandle,
                                const FWPM_SUBLAYER0* subLayer,
                                PSECURITY_DESCRIPTOR sd);
XFPM_API DWORD FwpmSubLayerDeleteByKey0(HANDLE engineHandle, const GUID* key);
XFPM_API DWORD FwpmSubLayerGetByKey0(HANDLE engineHandle,
                                     const GUID* key,
                                     FWPM_SUBLAYER0** subLayer);
XFPM_API DWORD FwpmSubLayerCreateEnumHandle0(HANDLE engineHandle,
                                             const FWPM_SUBLAYER_ENUM_TEMPLATE0* enumTemplate,
                                             HANDLE* enumHandle);
XFPM_API DWORD FwpmSubLayerEnum0(HANDLE engineHandle,
                                 HANDLE enumHandle,
                                 UINT32 numEntriesRequested,
                                 FWPM_SUBLAYER0*** entries,
                                 UINT32* numEntriesReturned);
XFPM_API DWORD FwpmSubLayerDestroyEnumHandle0(HANDLE engineHandle, HANDLE enumHandle);

// ---- Callouts (the management half; the run-time half registers with FwpsCalloutRegister*) ----

XFPM_API DWORD FwpmCalloutAdd0(HANDLE engineHandle,
                               const FWPM_CALLOUT0* callout,
                               PSECURITY_DESCRIPTOR sd,
                               UINT32* id);
XFPM_API DWORD FwpmCalloutDeleteById0(HANDLE engineHandle, UINT32 id);
XFPM_API DWORD FwpmCalloutDeleteByKey0(HANDLE engineHandle, const GUID* key);
XFPM_API DWORD FwpmCalloutGetById0(HANDLE engineHandle, UINT32 id, FWPM_CALLOUT0** callout);
XFPM_API DWORD FwpmCalloutGetByKey0(HANDLE engineHandle, const GUID* key, FWPM_CALLOUT0** callout);
XFPM_API DWORD FwpmCalloutCreateEnumHandle0(HANDLE engineHandle,
                                            const FWPM_CALLOUT_ENUM_TEMPLATE0* enumTemplate,
                                            HANDLE* enumHandle);
XFPM_API DWORD FwpmCalloutEnum0(HANDLE engineHandle,
                                HANDLE enumHandle,
                                UINT32 numEntriesRequested,
                                FWPM_CALLOUT0*** entries,
                                UINT32* numEntriesReturned);
XFPM_API DWORD FwpmCalloutDestroyEnumHandle0(HANDLE engineHandle, HANDLE enumHandle);

// ---- Filters ----

XFPM_API DWORD FwpmFilterAdd0(HANDLE engineHandle,
                              const FWPM_FILTER0* filter,
                              PSECURITY_DESCRIPTOR sd,
                              UINT64* id);
XFPM_API DWORD FwpmFilterDeleteById0(HANDLE engineHandle, UINT64 id);
XFPM_API DWORD FwpmFilterDeleteByKey0(HANDLE engineHandle, const GUID* key);
XFPM_API DWORD FwpmFilterGetById0(HANDLE engineHandle, UINT64 id, FWPM_FILTER0** filter);
XFPM_API DWORD FwpmFilterGetByKey0(HANDLE engineHandle, const GUID* key, FWPM_FILTER0** filter);
XFPM_API DWORD FwpmFilterCreateEnumHandle0(HANDLE engineHandle,
                                           const FWPM_FILTER_ENUM_TEMPLATE0* enumTemplate,
                                           HANDLE* enumHandle);
XFPM_API DWORD FwpmFilterEnum0(HANDLE engineHandle,
                               HANDLE enumHandle,
                               UINT32 numEntriesRequested,
                               FWPM_FILTER0*** entries,
                               UINT32* numEntriesReturned);
XFPM_API DWORD FwpmFilterDestroyEnumHandle0(HANDLE engineHandle, HANDLE enumHandle);

// Change subscriptions (§7.6). Changes made through `engineHandle` itself are not reported.
XFPM_API DWORD FwpmFilterSubscribeChanges0(HANDLE engineHandle,
                                           const FWPM_FILTER_SUBSCRIPTION0* subscription,
                                           FWPM_FILTER_CHANGE_CALLBACK0 callback,
                                           void* context,
                                           HANDLE* changeHandle);
XFPM_API DWORD FwpmFilterUnsubscribeChanges0(HANDLE engineHandle, HANDLE changeHandle);
XFPM_API DWORD FwpmFilterSubscriptionsGet0(HANDLE engineHandle,
                                           FWPM_FILTER_SUBSCRIPTION0*** entries,
                                           UINT32* numEntries);

// ---- Net events (§7.7) ----

XFPM_API DWORD FwpmNetEventCreateEnumHandle0(HANDLE engineHandle,
                                             const FWPM_NET_EVENT_ENUM_TEMPLATE0* enumTemplate,
                                             HANDLE* enumHandle);
XFPM_API DWORD FwpmNetEventEnum1(HANDLE engineHandle,
                                 HANDLE enumHandle,
                                 UINT32 numEntriesRequested,
                                 FWPM_NET_EVENT1*** entries,
                                 UINT32* numEntriesReturned);
XFPM_API DWORD FwpmNetEventDestroyEnumHandle0(HANDLE engineHandle, HANDLE enumHandle);
XFPM_API DWORD FwpmNetEventSubscribe0(HANDLE engineHandle,
                                      const FWPM_NET_EVENT_SUBSCRIPTION0* subscription,
                                      FWPM_NET_EVENT_CALLBACK0 callback,
                                      void* context,
                                      HANDLE* eventsHandle);
XFPM_API DWORD FwpmNetEventUnsubscribe0(HANDLE engineHandle, HANDLE eventsHandle);

// ---- xfp extensions ----

// What the last failing Fwpm* call of this thread said (the service's explanation, or the
// library's), "" when the last call succeeded. Valid until this thread's next Fwpm* call.
XFPM_API const char* XfpmLastErrorMessage(void);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // XFP_FWPMU_H
