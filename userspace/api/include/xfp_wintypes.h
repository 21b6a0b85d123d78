// xfp_wintypes.h: the Windows base types and NTSTATUS codes a WFP callout driver uses, with their
// Windows sizes on LP64 Linux.
//
// Mirrors (the needed subset of) basetsd.h, minwindef.h, winnt.h, ntdef.h, ntstatus.h, guiddef.h,
// ws2def.h, ws2ipdef.h, ifdef.h and ndis/types.h. Differences on Linux:
//  * ULONG/LONG are 32-bit (Windows LLP64), not `unsigned long`; do not mix them with Linux APIs
//    that take `long`.
//  * WCHAR is a 16-bit UTF-16 code unit (uint16_t), not wchar_t (32-bit on Linux): L"..." literals
//    are not WCHAR strings; use u"..." (char16_t) and cast, or convert at run time.
//  * SOCKADDR, SOCKADDR_STORAGE and WSACMSGHDR are the Linux struct sockaddr, struct
//    sockaddr_storage and struct cmsghdr (same layout as Windows on x86-64, but the AF_INET6 value
//    is Linux's 10, not Windows' 23: always compare with AF_INET/AF_INET6, never with numbers).
//  * SID is opaque data of variable length (winnt.h layout); xfp's SIDs are Linux uids/gids
//    mapped as described in wfp-model.md §2.7.
#ifndef XFP_WINTYPES_H
#define XFP_WINTYPES_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

// Integers (basetsd.h / minwindef.h / winnt.h).
typedef uint8_t UINT8;
typedef uint16_t UINT16;
typedef uint32_t UINT32;
typedef uint64_t UINT64;
typedef int8_t INT8;
typedef int16_t INT16;
typedef int32_t INT32;
typedef int64_t INT64;
typedef uint8_t UCHAR;
typedef uint8_t BYTE;
typedef uint16_t USHORT;
typedef uint16_t WORD;
typedef uint32_t ULONG;  // 32-bit as on Windows (LLP64)
typedef int32_t LONG;
typedef uint32_t DWORD;
typedef uint64_t ULONG64;
typedef uint64_t ULONGLONG;
typedef int64_t LONGLONG;
typedef int32_t INT;
typedef uint32_t UINT;
typedef uint8_t BOOLEAN;  // TRUE/FALSE, one byte
typedef int32_t BOOL;
typedef size_t SIZE_T;
typedef SIZE_T* PSIZE_T;
typedef uintptr_t ULONG_PTR;
typedef void* PVOID;
typedef void* HANDLE;
typedef HANDLE* PHANDLE;
typedef uint16_t WCHAR;  // UTF-16 code unit
typedef WCHAR* LPWSTR;
typedef WCHAR* PWSTR;
typedef const WCHAR* LPCWSTR;
typedef const WCHAR* PCWSTR;
typedef char CHAR;

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

// NTSTATUS (ntdef.h).
typedef int32_t NTSTATUS;
#define NT_SUCCESS(Status) (((NTSTATUS)(Status)) >= 0)
#define NT_INFORMATION(Status) ((((ULONG)(Status)) >> 30) == 1)
#define NT_WARNING(Status) ((((ULONG)(Status)) >> 30) == 2)
#define NT_ERROR(Status) ((((ULONG)(Status)) >> 30) == 3)

// GUID (guiddef.h). In memory: Data1..Data3 little-endian, Data4 as written (the 16-byte form
// wfp-constants.md §0 describes).
#ifndef GUID_DEFINED
#define GUID_DEFINED
typedef struct _GUID {
  UINT32 Data1;
  UINT16 Data2;
  UINT16 Data3;
  UINT8 Data4[8];
} GUID;
#endif
typedef GUID* LPGUID;
typedef const GUID* LPCGUID;

// LUID (ntdef.h).
typedef struct _LUID {
  DWORD LowPart;
  LONG HighPart;
} LUID, *PLUID;

// Security identifiers (winnt.h). A SID is variable length: SubAuthority has
// SubAuthorityCount entries.
typedef struct _SID_IDENTIFIER_AUTHORITY {
  BYTE Value[6];
} SID_IDENTIFIER_AUTHORITY;
typedef struct _SID {
  BYTE Revision;
  BYTE SubAuthorityCount;
  SID_IDENTIFIER_AUTHORITY IdentifierAuthority;
  DWORD SubAuthority[1];
} SID;
typedef void* PSID;  // as in winnt.h: an untyped pointer to a SID
typedef struct _SID_AND_ATTRIBUTES {
  PSID Sid;
  DWORD Attributes;
} SID_AND_ATTRIBUTES, *PSID_AND_ATTRIBUTES;
typedef struct _ACL {
  BYTE AclRevision;
  BYTE Sbz1;
  WORD AclSize;
  WORD AceCount;
  WORD Sbz2;
} ACL, *PACL;
typedef void* PSECURITY_DESCRIPTOR;  // self-relative security descriptor bytes
typedef DWORD SECURITY_INFORMATION;
#define OWNER_SECURITY_INFORMATION (0x00000001L)
#define GROUP_SECURITY_INFORMATION (0x00000002L)
#define DACL_SECURITY_INFORMATION (0x00000004L)
#define SACL_SECURITY_INFORMATION (0x00000008L)

// Counted UTF-16 string (ntdef.h). Length and MaximumLength are in bytes.
typedef struct _UNICODE_STRING {
  USHORT Length;
  USHORT MaximumLength;
  WCHAR* Buffer;
} UNICODE_STRING, *PUNICODE_STRING;
typedef const UNICODE_STRING* PCUNICODE_STRING;

// Networking (ws2def.h, ws2ipdef.h, ifdef.h, ndis/types.h).
typedef uint16_t ADDRESS_FAMILY;  // AF_INET / AF_INET6 (Linux values)
typedef struct sockaddr SOCKADDR;
typedef struct sockaddr* PSOCKADDR;
typedef struct sockaddr_storage SOCKADDR_STORAGE;
typedef struct sockaddr_storage* PSOCKADDR_STORAGE;
typedef struct cmsghdr WSACMSGHDR;  // {size_t cmsg_len; int cmsg_level; int cmsg_type;}

typedef union _SOCKADDR_INET {
  struct sockaddr_in Ipv4;
  struct sockaddr_in6 Ipv6;
  ADDRESS_FAMILY si_family;
} SOCKADDR_INET;

typedef struct _IP_ADDRESS_PREFIX {
  SOCKADDR_INET Prefix;
  UINT8 PrefixLength;
} IP_ADDRESS_PREFIX;

typedef enum { ScopeLevelInterface = 1, ScopeLevelLink = 2, ScopeLevelGlobal = 14 } SCOPE_LEVEL;

typedef struct _SCOPE_ID {
  union {
    struct {
      ULONG Zone : 28;
      ULONG Level : 4;
    };
    ULONG Value;
  };
} SCOPE_ID;

typedef UINT32 COMPARTMENT_ID;  // an enum in Windows; 4 bytes either way
#define UNSPECIFIED_COMPARTMENT_ID ((COMPARTMENT_ID)0)
#define DEFAULT_COMPARTMENT_ID ((COMPARTMENT_ID)1)
typedef ULONG IF_INDEX;  // Linux ifindex
typedef ULONG NDIS_PORT_NUMBER;

// SAL annotations and helpers ported drivers use, as no-ops (sal.h, wdm.h). Define
// XFP_NO_SAL_MACROS to leave them out.
#ifndef XFP_NO_SAL_MACROS
#ifndef _In_
#define _In_
#define _In_opt_
#define _Out_
#define _Out_opt_
#define _Inout_
#define _Inout_opt_
#define _Outptr_
#define _Outptr_opt_
#define _Reserved_
#define _In_reads_bytes_(size)
#define _Out_writes_bytes_(size)
#define _IRQL_requires_max_(irql)
#define _IRQL_requires_(irql)
#define _IRQL_requires_same_
#define _Function_class_(name)
#define _Use_decl_annotations_
#define _Must_inspect_result_
#define _Check_return_
#endif
#endif
#ifndef UNREFERENCED_PARAMETER
#define UNREFERENCED_PARAMETER(P) ((void)(P))
#endif

// NTSTATUS values (ntstatus.h). The casts make them NTSTATUS (int32_t) constants.
#define STATUS_SUCCESS ((NTSTATUS)0x00000000L)
#define STATUS_TIMEOUT ((NTSTATUS)0x00000102L)
#define STATUS_PENDING ((NTSTATUS)0x00000103L)
#define STATUS_OBJECT_NAME_EXISTS ((NTSTATUS)0x40000000L)
#define STATUS_DEVICE_BUSY ((NTSTATUS)0x80000011L)
#define STATUS_UNSUCCESSFUL ((NTSTATUS)0xC0000001L)
#define STATUS_NOT_IMPLEMENTED ((NTSTATUS)0xC0000002L)
#define STATUS_INVALID_HANDLE ((NTSTATUS)0xC0000008L)
#define STATUS_INVALID_PARAMETER ((NTSTATUS)0xC000000DL)
#define STATUS_NO_MEMORY ((NTSTATUS)0xC0000017L)
#define STATUS_ACCESS_DENIED ((NTSTATUS)0xC0000022L)
#define STATUS_BUFFER_TOO_SMALL ((NTSTATUS)0xC0000023L)
#define STATUS_QUOTA_EXCEEDED ((NTSTATUS)0xC0000044L)
#define STATUS_INSUFFICIENT_RESOURCES ((NTSTATUS)0xC000009AL)
#define STATUS_NOT_SUPPORTED ((NTSTATUS)0xC00000BBL)
#define STATUS_CANCELLED ((NTSTATUS)0xC0000120L)
#define STATUS_NOT_FOUND ((NTSTATUS)0xC0000225L)

// STATUS_FWP_* (wfp-constants.md §6).
#define STATUS_FWP_CALLOUT_NOT_FOUND ((NTSTATUS)0xC0220001L)
#define STATUS_FWP_CONDITION_NOT_FOUND ((NTSTATUS)0xC0220002L)
#define STATUS_FWP_FILTER_NOT_FOUND ((NTSTATUS)0xC0220003L)
#define STATUS_FWP_LAYER_NOT_FOUND ((NTSTATUS)0xC0220004L)
#define STATUS_FWP_PROVIDER_NOT_FOUND ((NTSTATUS)0xC0220005L)
#define STATUS_FWP_PROVIDER_CONTEXT_NOT_FOUND ((NTSTATUS)0xC0220006L)
#define STATUS_FWP_SUBLAYER_NOT_FOUND ((NTSTATUS)0xC0220007L)
#define STATUS_FWP_NOT_FOUND ((NTSTATUS)0xC0220008L)
#define STATUS_FWP_ALREADY_EXISTS ((NTSTATUS)0xC0220009L)
#define STATUS_FWP_IN_USE ((NTSTATUS)0xC022000AL)
#define STATUS_FWP_DYNAMIC_SESSION_IN_PROGRESS ((NTSTATUS)0xC022000BL)
#define STATUS_FWP_WRONG_SESSION ((NTSTATUS)0xC022000CL)
#define STATUS_FWP_NO_TXN_IN_PROGRESS ((NTSTATUS)0xC022000DL)
#define STATUS_FWP_TXN_IN_PROGRESS ((NTSTATUS)0xC022000EL)
#define STATUS_FWP_TXN_ABORTED ((NTSTATUS)0xC022000FL)
#define STATUS_FWP_SESSION_ABORTED ((NTSTATUS)0xC0220010L)
#define STATUS_FWP_INCOMPATIBLE_TXN ((NTSTATUS)0xC0220011L)
#define STATUS_FWP_TIMEOUT ((NTSTATUS)0xC0220012L)
#define STATUS_FWP_NET_EVENTS_DISABLED ((NTSTATUS)0xC0220013L)
#define STATUS_FWP_INCOMPATIBLE_LAYER ((NTSTATUS)0xC0220014L)
#define STATUS_FWP_KM_CLIENTS_ONLY ((NTSTATUS)0xC0220015L)
#define STATUS_FWP_LIFETIME_MISMATCH ((NTSTATUS)0xC0220016L)
#define STATUS_FWP_BUILTIN_OBJECT ((NTSTATUS)0xC0220017L)
#define STATUS_FWP_TOO_MANY_CALLOUTS ((NTSTATUS)0xC0220018L)
#define STATUS_FWP_NOTIFICATION_DROPPED ((NTSTATUS)0xC0220019L)
#define STATUS_FWP_TRAFFIC_MISMATCH ((NTSTATUS)0xC022001AL)
#define STATUS_FWP_INCOMPATIBLE_SA_STATE ((NTSTATUS)0xC022001BL)
#define STATUS_FWP_NULL_POINTER ((NTSTATUS)0xC022001CL)
#define STATUS_FWP_INVALID_ENUMERATOR ((NTSTATUS)0xC022001DL)
#define STATUS_FWP_INVALID_FLAGS ((NTSTATUS)0xC022001EL)
#define STATUS_FWP_INVALID_NET_MASK ((NTSTATUS)0xC022001FL)
#define STATUS_FWP_INVALID_RANGE ((NTSTATUS)0xC0220020L)
#define STATUS_FWP_INVALID_INTERVAL ((NTSTATUS)0xC0220021L)
#define STATUS_FWP_ZERO_LENGTH_ARRAY ((NTSTATUS)0xC0220022L)
#define STATUS_FWP_NULL_DISPLAY_NAME ((NTSTATUS)0xC0220023L)
#define STATUS_FWP_INVALID_ACTION_TYPE ((NTSTATUS)0xC0220024L)
#define STATUS_FWP_INVALID_WEIGHT ((NTSTATUS)0xC0220025L)
#define STATUS_FWP_MATCH_TYPE_MISMATCH ((NTSTATUS)0xC0220026L)
#define STATUS_FWP_TYPE_MISMATCH ((NTSTATUS)0xC0220027L)
#define STATUS_FWP_OUT_OF_BOUNDS ((NTSTATUS)0xC0220028L)
#define STATUS_FWP_RESERVED ((NTSTATUS)0xC0220029L)
#define STATUS_FWP_DUPLICATE_CONDITION ((NTSTATUS)0xC022002AL)
#define STATUS_FWP_DUPLICATE_KEYMOD ((NTSTATUS)0xC022002BL)
#define STATUS_FWP_ACTION_INCOMPATIBLE_WITH_LAYER ((NTSTATUS)0xC022002CL)
#define STATUS_FWP_ACTION_INCOMPATIBLE_WITH_SUBLAYER ((NTSTATUS)0xC022002DL)
#define STATUS_FWP_CONTEXT_INCOMPATIBLE_WITH_LAYER ((NTSTATUS)0xC022002EL)
#define STATUS_FWP_CONTEXT_INCOMPATIBLE_WITH_CALLOUT ((NTSTATUS)0xC022002FL)
#define STATUS_FWP_INCOMPATIBLE_AUTH_METHOD ((NTSTATUS)0xC0220030L)
#define STATUS_FWP_INCOMPATIBLE_DH_GROUP ((NTSTATUS)0xC0220031L)
#define STATUS_FWP_EM_NOT_SUPPORTED ((NTSTATUS)0xC0220032L)
#define STATUS_FWP_NEVER_MATCH ((NTSTATUS)0xC0220033L)
#define STATUS_FWP_PROVIDER_CONTEXT_MISMATCH ((NTSTATUS)0xC0220034L)
#define STATUS_FWP_INVALID_PARAMETER ((NTSTATUS)0xC0220035L)
#define STATUS_FWP_TOO_MANY_SUBLAYERS ((NTSTATUS)0xC0220036L)
#define STATUS_FWP_CALLOUT_NOTIFICATION_FAILED ((NTSTATUS)0xC0220037L)
#define STATUS_FWP_INVALID_AUTH_TRANSFORM ((NTSTATUS)0xC0220038L)
#define STATUS_FWP_INVALID_CIPHER_TRANSFORM ((NTSTATUS)0xC0220039L)
#define STATUS_FWP_INCOMPATIBLE_CIPHER_TRANSFORM ((NTSTATUS)0xC022003AL)
#define STATUS_FWP_INVALID_TRANSFORM_COMBINATION ((NTSTATUS)0xC022003BL)
#define STATUS_FWP_DUPLICATE_AUTH_METHOD ((NTSTATUS)0xC022003CL)
#define STATUS_FWP_INVALID_TUNNEL_ENDPOINT ((NTSTATUS)0xC022003DL)
#define STATUS_FWP_L2_DRIVER_NOT_READY ((NTSTATUS)0xC022003EL)
#define STATUS_FWP_KEY_DICTATOR_ALREADY_REGISTERED ((NTSTATUS)0xC022003FL)
#define STATUS_FWP_KEY_DICTATION_INVALID_KEYING_MATERIAL ((NTSTATUS)0xC0220040L)
#define STATUS_FWP_CONNECTIONS_DISABLED ((NTSTATUS)0xC0220041L)
#define STATUS_FWP_INVALID_DNS_NAME ((NTSTATUS)0xC0220042L)
#define STATUS_FWP_STILL_ON ((NTSTATUS)0xC0220043L)
#define STATUS_FWP_IKEEXT_NOT_RUNNING ((NTSTATUS)0xC0220044L)
#define STATUS_FWP_TCPIP_NOT_READY ((NTSTATUS)0xC0220100L)
#define STATUS_FWP_INJECT_HANDLE_CLOSING ((NTSTATUS)0xC0220101L)
#define STATUS_FWP_INJECT_HANDLE_STALE ((NTSTATUS)0xC0220102L)
#define STATUS_FWP_CANNOT_PEND ((NTSTATUS)0xC0220103L)
#define STATUS_FWP_DROP_NOICMP ((NTSTATUS)0xC0220104L)

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // XFP_WINTYPES_H
