// fwpmtypes.h: the management (FWPM) types of xfp's WFP API: sessions, providers, sublayers,
// callouts, filters, enumeration templates, change subscriptions and net events, with their flag
// constants, and the status codes the Fwpm* functions return.
//
// Mirrors the Windows SDK's fwpmtypes.h (fwpmtypes.idl) and the needed parts of winerror.h and
// rpcdce.h. Layouts are WFP's on x64 (tests/unit/api checks them). FWPM_DISPLAY_DATA0 and
// FWPM_PROVIDER_CONTEXT0/1/2 come from fwptypes.h. Differences on Linux:
//  * Strings are UTF-16 (WCHAR*, 16-bit), not wchar_t* (32-bit on Linux).
//  * The status codes are DWORD constants (Windows defines FWP_E_* as HRESULTs): every Fwpm*
//    function returns a DWORD, and `status == FWP_E_ALREADY_EXISTS` then compares like types.
//  * Only the types of the functions xfp implements (fwpmu.h) are here; IPsec, IKE and
//    vSwitch structures are not. Union members for event types xfp never produces are void*.
//  * FWPM_NET_EVENT1's union has one member WFP's revision 1 lacks, `classifyAllow`
//    (FWPM_NET_EVENT_CLASSIFY_ALLOW0*, Windows 8's FWPM_NET_EVENT2 has it): xfp reports
//    CLASSIFY_ALLOW events through FwpmNetEventEnum1 too. The union is pointers either way, so
//    the layout is WFP's.
#ifndef XFP_FWPMTYPES_H
#define XFP_FWPMTYPES_H

#include "fwptypes.h"

#ifdef __cplusplus
extern "C" {
#endif

// ---- Status codes (winerror.h) ----

#define ERROR_SUCCESS ((DWORD)0L)
#define ERROR_ACCESS_DENIED ((DWORD)5L)
#define ERROR_INVALID_HANDLE ((DWORD)6L)
#define ERROR_NOT_ENOUGH_MEMORY ((DWORD)8L)
#define ERROR_INVALID_PARAMETER ((DWORD)87L)
#define ERROR_INVALID_SECURITY_DESCR ((DWORD)1338L)
#define RPC_S_SERVER_UNAVAILABLE ((DWORD)1722L)

// A Win32 error code as an HRESULT (0x8007xxxx), as the engine reports bad handles
// (HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE) = 0x80070006).
#define HRESULT_FROM_WIN32(x) \
  ((DWORD)((x) == 0 ? 0u : ((((DWORD)(x)) & 0x0000FFFFu) | (7u << 16) | 0x80000000u)))

// Transport failures (the Fwpm* "RPC_* error code" range, wfp-model.md §7): what a call returns
// when xfpd cannot be reached or the connection broke. See fwpmu.h for which one when.
#define RPC_E_INVALID_DATA ((DWORD)0x8001000FL)
#define RPC_E_SERVERFAULT ((DWORD)0x80010105L)
#define RPC_E_DISCONNECTED ((DWORD)0x80010108L)

// FWP_E_* (wfp-constants.md §6).
#define FWP_E_CALLOUT_NOT_FOUND ((DWORD)0x80320001L)
#define FWP_E_CONDITION_NOT_FOUND ((DWORD)0x80320002L)
#define FWP_E_FILTER_NOT_FOUND ((DWORD)0x80320003L)
#define FWP_E_LAYER_NOT_FOUND ((DWORD)0x80320004L)
#define FWP_E_PROVIDER_NOT_FOUND ((DWORD)0x80320005L)
#define FWP_E_PROVIDER_CONTEXT_NOT_FOUND ((DWORD)0x80320006L)
#define FWP_E_SUBLAYER_NOT_FOUND ((DWORD)0x80320007L)
#define FWP_E_NOT_FOUND ((DWORD)0x80320008L)
#define FWP_E_ALREADY_EXISTS ((DWORD)0x80320009L)
#define FWP_E_IN_USE ((DWORD)0x8032000AL)
#define FWP_E_DYNAMIC_SESSION_IN_PROGRESS ((DWORD)0x8032000BL)
#define FWP_E_WRONG_SESSION ((DWORD)0x8032000CL)
#define FWP_E_NO_TXN_IN_PROGRESS ((DWORD)0x8032000DL)
#define FWP_E_TXN_IN_PROGRESS ((DWORD)0x8032000EL)
#define FWP_E_TXN_ABORTED ((DWORD)0x8032000FL)
#define FWP_E_SESSION_ABORTED ((DWORD)0x80320010L)
#define FWP_E_INCOMPATIBLE_TXN ((DWORD)0x80320011L)
#define FWP_E_TIMEOUT ((DWORD)0x80320012L)
#define FWP_E_NET_EVENTS_DISABLED ((DWORD)0x80320013L)
#define FWP_E_INCOMPATIBLE_LAYER ((DWORD)0x80320014L)
#define FWP_E_KM_CLIENTS_ONLY ((DWORD)0x80320015L)
#define FWP_E_LIFETIME_MISMATCH ((DWORD)0x80320016L)
#define FWP_E_BUILTIN_OBJECT ((DWORD)0x80320017L)
#define FWP_E_TOO_MANY_CALLOUTS ((DWORD)0x80320018L)
#define FWP_E_NOTIFICATION_DROPPED ((DWORD)0x80320019L)
#define FWP_E_TRAFFIC_MISMATCH ((DWORD)0x8032001AL)
#define FWP_E_INCOMPATIBLE_SA_STATE ((DWORD)0x8032001BL)
#define FWP_E_NULL_POINTER ((DWORD)0x8032001CL)
#define FWP_E_INVALID_ENUMERATOR ((DWORD)0x8032001DL)
#define FWP_E_INVALID_FLAGS ((DWORD)0x8032001EL)
#define FWP_E_INVALID_NET_MASK ((DWORD)0x8032001FL)
#define FWP_E_INVALID_RANGE ((DWORD)0x80320020L)
#define FWP_E_INVALID_INTERVAL ((DWORD)0x80320021L)
#define FWP_E_ZERO_LENGTH_ARRAY ((DWORD)0x80320022L)
#define FWP_E_NULL_DISPLAY_NAME ((DWORD)0x80320023L)
#define FWP_E_INVALID_ACTION_TYPE ((DWORD)0x80320024L)
#define FWP_E_INVALID_WEIGHT ((DWORD)0x80320025L)
#define FWP_E_MATCH_TYPE_MISMATCH ((DWORD)0x80320026L)
#define FWP_E_TYPE_MISMATCH ((DWORD)0x80320027L)
#define FWP_E_OUT_OF_BOUNDS ((DWORD)0x80320028L)
#define FWP_E_RESERVED ((DWORD)0x80320029L)
#define FWP_E_DUPLICATE_CONDITION ((DWORD)0x8032002AL)
#define FWP_E_DUPLICATE_KEYMOD ((DWORD)0x8032002BL)
#define FWP_E_ACTION_INCOMPATIBLE_WITH_LAYER ((DWORD)0x8032002CL)
#define FWP_E_ACTION_INCOMPATIBLE_WITH_SUBLAYER ((DWORD)0x8032002DL)
#define FWP_E_CONTEXT_INCOMPATIBLE_WITH_LAYER ((DWORD)0x8032002EL)
#define FWP_E_CONTEXT_INCOMPATIBLE_WITH_CALLOUT ((DWORD)0x8032002FL)
#define FWP_E_INCOMPATIBLE_AUTH_METHOD ((DWORD)0x80320030L)
#define FWP_E_INCOMPATIBLE_DH_GROUP ((DWORD)0x80320031L)
#define FWP_E_EM_NOT_SUPPORTED ((DWORD)0x80320032L)
#define FWP_E_NEVER_MATCH ((DWORD)0x80320033L)
#define FWP_E_PROVIDER_CONTEXT_MISMATCH ((DWORD)0x80320034L)
#define FWP_E_INVALID_PARAMETER ((DWORD)0x80320035L)
#define FWP_E_TOO_MANY_SUBLAYERS ((DWORD)0x80320036L)
#define FWP_E_CALLOUT_NOTIFICATION_FAILED ((DWORD)0x80320037L)
#define FWP_E_INVALID_AUTH_TRANSFORM ((DWORD)0x80320038L)
#define FWP_E_INVALID_CIPHER_TRANSFORM ((DWORD)0x80320039L)
#define FWP_E_INCOMPATIBLE_CIPHER_TRANSFORM ((DWORD)0x8032003AL)
#define FWP_E_INVALID_TRANSFORM_COMBINATION ((DWORD)0x8032003BL)
#define FWP_E_DUPLICATE_AUTH_METHOD ((DWORD)0x8032003CL)
#define FWP_E_INVALID_TUNNEL_ENDPOINT ((DWORD)0x8032003DL)
#define FWP_E_L2_DRIVER_NOT_READY ((DWORD)0x8032003EL)
#define FWP_E_KEY_DICTATOR_ALREADY_REGISTERED ((DWORD)0x8032003FL)
#define FWP_E_KEY_DICTATION_INVALID_KEYING_MATERIAL ((DWORD)0x80320040L)
#define FWP_E_CONNECTIONS_DISABLED ((DWORD)0x80320041L)
#define FWP_E_INVALID_DNS_NAME ((DWORD)0x80320042L)
#define FWP_E_STILL_ON ((DWORD)0x80320043L)
#define FWP_E_IKEEXT_NOT_RUNNING ((DWORD)0x80320044L)
#define FWP_E_DROP_NOICMP ((DWORD)0x80320104L)

// ---- FILETIME (minwinbase.h): 100 ns intervals since 1601-01-01 UTC ----

#ifndef XFP_FILETIME_DEFINED
#define XFP_FILETIME_DEFINED
typedef struct _FILETIME {
  DWORD dwLowDateTime;
  DWORD dwHighDateTime;
} FILETIME;
#endif

// ---- Enumerations (wfp-constants.md §4) ----

typedef enum FWPM_CHANGE_TYPE_ {
  FWPM_CHANGE_ADD = 1,
  FWPM_CHANGE_DELETE = 2,
  FWPM_CHANGE_TYPE_MAX = 3
} FWPM_CHANGE_TYPE;

typedef enum FWP_FILTER_ENUM_TYPE_ {
  FWP_FILTER_ENUM_FULLY_CONTAINED = 0,
  FWP_FILTER_ENUM_OVERLAPPING = 1,
  FWP_FILTER_ENUM_TYPE_MAX = 2
} FWP_FILTER_ENUM_TYPE;

typedef enum FWPM_FIELD_TYPE_ {
  FWPM_FIELD_RAW_DATA = 0,
  FWPM_FIELD_IP_ADDRESS = 1,
  FWPM_FIELD_FLAGS = 2,
  FWPM_FIELD_TYPE_MAX = 3
} FWPM_FIELD_TYPE;

typedef enum FWPM_NET_EVENT_TYPE_ {
  FWPM_NET_EVENT_TYPE_IKEEXT_MM_FAILURE = 0,
  FWPM_NET_EVENT_TYPE_IKEEXT_QM_FAILURE = 1,
  FWPM_NET_EVENT_TYPE_IKEEXT_EM_FAILURE = 2,
  FWPM_NET_EVENT_TYPE_CLASSIFY_DROP = 3,
  FWPM_NET_EVENT_TYPE_IPSEC_KERNEL_DROP = 4,
  FWPM_NET_EVENT_TYPE_IPSEC_DOSP_DROP = 5,
  FWPM_NET_EVENT_TYPE_CLASSIFY_ALLOW = 6,
  FWPM_NET_EVENT_TYPE_CAPABILITY_DROP = 7,
  FWPM_NET_EVENT_TYPE_CAPABILITY_ALLOW = 8,
  FWPM_NET_EVENT_TYPE_CLASSIFY_DROP_MAC = 9,
  FWPM_NET_EVENT_TYPE_LPM_PACKET_ARRIVAL = 10,
  FWPM_NET_EVENT_TYPE_MAX = 11
} FWPM_NET_EVENT_TYPE;

// ---- Flags (wfp-constants.md §5) ----

#define FWPM_SESSION_FLAG_DYNAMIC (0x00000001)
#define FWPM_SESSION_FLAG_RESERVED (0x10000000)

#define FWPM_PROVIDER_FLAG_PERSISTENT (0x00000001)
#define FWPM_PROVIDER_FLAG_DISABLED (0x00000010)  // output only

#define FWPM_SUBLAYER_FLAG_PERSISTENT (0x00000001)

#define FWPM_CALLOUT_FLAG_PERSISTENT (0x00010000)
#define FWPM_CALLOUT_FLAG_USES_PROVIDER_CONTEXT (0x00020000)
#define FWPM_CALLOUT_FLAG_REGISTERED (0x00040000)  // output only

#define FWPM_LAYER_FLAG_KERNEL (0x00000001)
#define FWPM_LAYER_FLAG_BUILTIN (0x00000002)
#define FWPM_LAYER_FLAG_CLASSIFY_MOSTLY (0x00000004)
#define FWPM_LAYER_FLAG_BUFFERED (0x00000008)

#define FWPM_FILTER_FLAG_NONE (0x00000000)
#define FWPM_FILTER_FLAG_PERSISTENT (0x00000001)
#define FWPM_FILTER_FLAG_BOOTTIME (0x00000002)
#define FWPM_FILTER_FLAG_HAS_PROVIDER_CONTEXT (0x00000004)
#define FWPM_FILTER_FLAG_CLEAR_ACTION_RIGHT (0x00000008)
#define FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED (0x00000010)
#define FWPM_FILTER_FLAG_DISABLED (0x00000020)  // output only
#define FWPM_FILTER_FLAG_INDEXED (0x00000040)   // output only
#define FWPM_FILTER_FLAG_HAS_SECURITY_REALM_PROVIDER_CONTEXT (0x00000080)
#define FWPM_FILTER_FLAG_SYSTEMOS_ONLY (0x00000100)
#define FWPM_FILTER_FLAG_GAMEOS_ONLY (0x00000200)
#define FWPM_FILTER_FLAG_SILENT_MODE (0x00000400)
#define FWPM_FILTER_FLAG_IPSEC_NO_ACQUIRE_INITIATE (0x00000800)
#define FWPM_FILTER_FLAG_RESERVED0 (0x00001000)
#define FWPM_FILTER_FLAG_RESERVED1 (0x00002000)

#define FWP_FILTER_ENUM_FLAG_BEST_TERMINATING_MATCH (0x00000001)
#define FWP_FILTER_ENUM_FLAG_SORTED (0x00000002)
#define FWP_FILTER_ENUM_FLAG_BOOTTIME_ONLY (0x00000004)
#define FWP_FILTER_ENUM_FLAG_INCLUDE_BOOTTIME (0x00000008)
#define FWP_FILTER_ENUM_FLAG_INCLUDE_DISABLED (0x00000010)
#define FWP_FILTER_ENUM_FLAG_RESERVED1 (0x00000020)
#define FWP_FILTER_ENUM_VALID_FLAGS \
  (FWP_FILTER_ENUM_FLAG_BEST_TERMINATING_MATCH | FWP_FILTER_ENUM_FLAG_SORTED)

#define FWPM_SUBSCRIPTION_FLAG_NOTIFY_ON_ADD (0x00000001)
#define FWPM_SUBSCRIPTION_FLAG_NOTIFY_ON_DELETE (0x00000002)

#define FWPM_NET_EVENT_FLAG_IP_PROTOCOL_SET (0x00000001)
#define FWPM_NET_EVENT_FLAG_LOCAL_ADDR_SET (0x00000002)
#define FWPM_NET_EVENT_FLAG_REMOTE_ADDR_SET (0x00000004)
#define FWPM_NET_EVENT_FLAG_LOCAL_PORT_SET (0x00000008)
#define FWPM_NET_EVENT_FLAG_REMOTE_PORT_SET (0x00000010)
#define FWPM_NET_EVENT_FLAG_APP_ID_SET (0x00000020)
#define FWPM_NET_EVENT_FLAG_USER_ID_SET (0x00000040)
#define FWPM_NET_EVENT_FLAG_SCOPE_ID_SET (0x00000080)
#define FWPM_NET_EVENT_FLAG_IP_VERSION_SET (0x00000100)
#define FWPM_NET_EVENT_FLAG_REAUTH_REASON_SET (0x00000200)
#define FWPM_NET_EVENT_FLAG_PACKAGE_ID_SET (0x00000400)
#define FWPM_NET_EVENT_FLAG_ENTERPRISE_ID_SET (0x00000800)
#define FWPM_NET_EVENT_FLAG_POLICY_FLAGS_SET (0x00001000)
#define FWPM_NET_EVENT_FLAG_EFFECTIVE_NAME_SET (0x00002000)

// ---- Sessions (wfp-model.md §7.1) ----

typedef struct FWPM_SESSION0_ {
  GUID sessionKey;  // zero: generated by the engine
  FWPM_DISPLAY_DATA0 displayData;
  UINT32 flags;                 // FWPM_SESSION_FLAG_*
  UINT32 txnWaitTimeoutInMSec;  // 0: the engine's default (15 s); 0xFFFFFFFF: forever
  // Filled by the engine (ignored on open).
  DWORD processId;
  SID* sid;
  WCHAR* username;
  BOOL kernelMode;
} FWPM_SESSION0;

// ---- Objects (wfp-model.md §1) ----

typedef struct FWPM_PROVIDER0_ {
  GUID providerKey;
  FWPM_DISPLAY_DATA0 displayData;
  UINT32 flags;  // FWPM_PROVIDER_FLAG_*
  FWP_BYTE_BLOB providerData;
  WCHAR* serviceName;  // optional: the systemd unit gating its persistent objects
} FWPM_PROVIDER0;

typedef struct FWPM_SUBLAYER0_ {
  GUID subLayerKey;
  FWPM_DISPLAY_DATA0 displayData;
  UINT32 flags;  // FWPM_SUBLAYER_FLAG_*
  GUID* providerKey;
  FWP_BYTE_BLOB providerData;
  UINT16 weight;  // higher is evaluated first
} FWPM_SUBLAYER0;

typedef struct FWPM_CALLOUT0_ {
  GUID calloutKey;
  FWPM_DISPLAY_DATA0 displayData;
  UINT32 flags;  // FWPM_CALLOUT_FLAG_*
  GUID* providerKey;
  FWP_BYTE_BLOB providerData;
  GUID applicableLayer;
  UINT32 calloutId;  // output
} FWPM_CALLOUT0;

typedef struct FWPM_FIELD0_ {
  GUID* fieldKey;
  FWPM_FIELD_TYPE type;
  FWP_DATA_TYPE dataType;
} FWPM_FIELD0;

typedef struct FWPM_LAYER0_ {
  GUID layerKey;
  FWPM_DISPLAY_DATA0 displayData;
  UINT32 flags;  // FWPM_LAYER_FLAG_*
  UINT32 numFields;
  FWPM_FIELD0* field;
  GUID defaultSubLayerKey;
  UINT16 layerId;
} FWPM_LAYER0;

typedef struct FWPM_FILTER_CONDITION0_ {
  GUID fieldKey;  // FWPM_CONDITION_*
  FWP_MATCH_TYPE matchType;
  FWP_CONDITION_VALUE0 conditionValue;
} FWPM_FILTER_CONDITION0;

typedef struct FWPM_ACTION0_ {
  FWP_ACTION_TYPE type;
  union {
    GUID filterType;  // not a callout action: provider-chosen, no engine meaning
    GUID calloutKey;  // type & FWP_ACTION_FLAG_CALLOUT
  };
} FWPM_ACTION0;

typedef struct FWPM_FILTER0_ {
  GUID filterKey;  // zero: generated by the engine
  FWPM_DISPLAY_DATA0 displayData;
  UINT32 flags;  // FWPM_FILTER_FLAG_*
  GUID* providerKey;
  FWP_BYTE_BLOB providerData;
  GUID layerKey;
  GUID subLayerKey;   // zero: FWPM_SUBLAYER_UNIVERSAL
  FWP_VALUE0 weight;  // FWP_EMPTY, FWP_UINT8 (0-15) or FWP_UINT64
  UINT32 numFilterConditions;
  FWPM_FILTER_CONDITION0* filterCondition;
  FWPM_ACTION0 action;
  union {
    UINT64 rawContext;
    GUID providerContextKey;  // with FWPM_FILTER_FLAG_HAS_PROVIDER_CONTEXT
  };
  GUID* reserved;  // must be NULL
  // Outputs.
  UINT64 filterId;
  FWP_VALUE0 effectiveWeight;  // FWP_UINT64
} FWPM_FILTER0;

// ---- Enumeration templates (wfp-model.md §7.4) ----

typedef struct FWPM_PROVIDER_ENUM_TEMPLATE0_ {
  UINT64 reserved;
} FWPM_PROVIDER_ENUM_TEMPLATE0;

typedef struct FWPM_PROVIDER_CONTEXT_ENUM_TEMPLATE0_ {
  GUID* providerKey;
  FWPM_PROVIDER_CONTEXT_TYPE providerContextType;
} FWPM_PROVIDER_CONTEXT_ENUM_TEMPLATE0;

typedef struct FWPM_SUBLAYER_ENUM_TEMPLATE0_ {
  GUID* providerKey;
} FWPM_SUBLAYER_ENUM_TEMPLATE0;

// layerKey zero: callouts of every layer (xfp's reading; WFP leaves it unsaid).
typedef struct FWPM_CALLOUT_ENUM_TEMPLATE0_ {
  GUID* providerKey;
  GUID layerKey;
} FWPM_CALLOUT_ENUM_TEMPLATE0;

typedef struct FWPM_FILTER_ENUM_TEMPLATE0_ {
  GUID* providerKey;
  GUID layerKey;  // required
  FWP_FILTER_ENUM_TYPE enumType;
  UINT32 flags;  // FWP_FILTER_ENUM_FLAG_*
  FWPM_PROVIDER_CONTEXT_ENUM_TEMPLATE0* providerContextTemplate;
  UINT32 numFilterConditions;
  FWPM_FILTER_CONDITION0* filterCondition;
  UINT32 actionMask;  // 0xFFFFFFFF: any action
  GUID* calloutKey;
} FWPM_FILTER_ENUM_TEMPLATE0;

// ---- Change subscriptions (wfp-model.md §7.6) ----

typedef struct FWPM_FILTER_SUBSCRIPTION0_ {
  FWPM_FILTER_ENUM_TEMPLATE0* enumTemplate;  // NULL: every filter
  UINT32 flags;                              // FWPM_SUBSCRIPTION_FLAG_*
  GUID sessionKey;                           // output
} FWPM_FILTER_SUBSCRIPTION0;

typedef struct FWPM_FILTER_CHANGE0_ {
  FWPM_CHANGE_TYPE changeType;
  GUID filterKey;
  UINT64 filterId;
} FWPM_FILTER_CHANGE0;

typedef void (*FWPM_FILTER_CHANGE_CALLBACK0)(void* context, const FWPM_FILTER_CHANGE0* change);

// ---- Net events (wfp-model.md §7.7) ----

typedef struct FWPM_NET_EVENT_HEADER0_ {
  FILETIME timeStamp;
  UINT32 flags;  // FWPM_NET_EVENT_FLAG_*: which members below are valid
  FWP_IP_VERSION ipVersion;
  UINT8 ipProtocol;
  union {
    UINT32 localAddrV4;  // host byte order
    FWP_BYTE_ARRAY16 localAddrV6;
  };
  union {
    UINT32 remoteAddrV4;
    FWP_BYTE_ARRAY16 remoteAddrV6;
  };
  UINT16 localPort;
  UINT16 remotePort;
  UINT32 scopeId;
  FWP_BYTE_BLOB appId;
  SID* userId;
} FWPM_NET_EVENT_HEADER0;

// HEADER0 plus Windows 7's reserved members (always zero in xfp).
typedef struct FWPM_NET_EVENT_HEADER1_ {
  FILETIME timeStamp;
  UINT32 flags;
  FWP_IP_VERSION ipVersion;
  UINT8 ipProtocol;
  union {
    UINT32 localAddrV4;
    FWP_BYTE_ARRAY16 localAddrV6;
  };
  union {
    UINT32 remoteAddrV4;
    FWP_BYTE_ARRAY16 remoteAddrV6;
  };
  UINT16 localPort;
  UINT16 remotePort;
  UINT32 scopeId;
  FWP_BYTE_BLOB appId;
  SID* userId;
  union {
    struct {
      FWP_AF reserved1;
      union {
        struct {
          FWP_BYTE_ARRAY6 reserved2;
          FWP_BYTE_ARRAY6 reserved3;
          UINT32 reserved4;
          UINT32 reserved5;
          UINT16 reserved6;
          UINT32 reserved7;
          UINT32 reserved8;
          UINT16 reserved9;
          UINT64 reserved10;
        };
      };
    };
  };
} FWPM_NET_EVENT_HEADER1;

typedef struct FWPM_NET_EVENT_CLASSIFY_DROP0_ {
  UINT64 filterId;  // the deciding filter, 0 if none
  UINT16 layerId;   // FWPS_LAYER_*
} FWPM_NET_EVENT_CLASSIFY_DROP0;

typedef struct FWPM_NET_EVENT_CLASSIFY_DROP1_ {
  UINT64 filterId;
  UINT16 layerId;
  UINT32 reauthReason;
  UINT32 originalProfile;
  UINT32 currentProfile;
  UINT32 msFwpDirection;  // FWP_DIRECTION
  BOOL isLoopback;
} FWPM_NET_EVENT_CLASSIFY_DROP1;

typedef struct FWPM_NET_EVENT_CLASSIFY_ALLOW0_ {
  UINT64 filterId;
  UINT16 layerId;
  UINT32 reauthReason;
  UINT32 originalProfile;
  UINT32 currentProfile;
  UINT32 msFwpDirection;
  BOOL isLoopback;
} FWPM_NET_EVENT_CLASSIFY_ALLOW0;

typedef struct FWPM_NET_EVENT1_ {
  FWPM_NET_EVENT_HEADER1 header;
  FWPM_NET_EVENT_TYPE type;
  union {
    void* ikeMmFailure;  // IKE/IPsec events: never produced by xfp
    void* ikeQmFailure;
    void* ikeEmFailure;
    FWPM_NET_EVENT_CLASSIFY_DROP1* classifyDrop;  // FWPM_NET_EVENT_TYPE_CLASSIFY_DROP
    void* ipsecDrop;
    void* idpDrop;
    FWPM_NET_EVENT_CLASSIFY_ALLOW0* classifyAllow;  // xfp: FWPM_NET_EVENT_TYPE_CLASSIFY_ALLOW
  };
} FWPM_NET_EVENT1;

// startTime/endTime: the window of event times (FILETIME; an all-zero endTime is open-ended in
// xfp, an endTime before startTime is FWP_E_INVALID_INTERVAL). Conditions on the header fields
// (IP_PROTOCOL, IP_LOCAL/REMOTE_ADDRESS, IP_LOCAL/REMOTE_PORT, FWPM_CONDITION_NET_EVENT_TYPE),
// FWP_MATCH_EQUAL only.
typedef struct FWPM_NET_EVENT_ENUM_TEMPLATE0_ {
  FILETIME startTime;
  FILETIME endTime;
  UINT32 numFilterConditions;
  FWPM_FILTER_CONDITION0* filterCondition;
} FWPM_NET_EVENT_ENUM_TEMPLATE0;

typedef struct FWPM_NET_EVENT_SUBSCRIPTION0_ {
  FWPM_NET_EVENT_ENUM_TEMPLATE0* enumTemplate;  // NULL: every event
  UINT32 flags;                                 // reserved: 0
  GUID sessionKey;                              // output
} FWPM_NET_EVENT_SUBSCRIPTION0;

typedef void (*FWPM_NET_EVENT_CALLBACK0)(void* context, const FWPM_NET_EVENT1* event);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // XFP_FWPMTYPES_H
