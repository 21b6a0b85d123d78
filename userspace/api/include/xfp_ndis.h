// xfp_ndis.h: the subset of NDIS (ndis.h / nbl.h) that xfp offers callout plugins.
//
// Differences from Windows:
//  * NET_BUFFER_LIST and NET_BUFFER are OPAQUE: there are no MDL chains, no NBL fields to read
//    directly, and the NDIS accessor macros call host functions instead of touching fields.
//  * xfp never chains: an NBL holds exactly one NET_BUFFER, and NET_BUFFER_LIST_NEXT_NBL /
//    NET_BUFFER_NEXT_NB are always NULL.
//  * NET_BUFFER_LIST_STATUS is read-only (the host sets it before an injection completion).
//  * The packet data is one contiguous, writable buffer: NdisGetDataBuffer always returns a
//    pointer into it (never copies into `storage`), and XfpNetBufferData gives direct access.
//  * Retreat/advance work on the data offset only; the MDL handler arguments are ignored.
// All functions are implemented by the xfp host; they may be called from classifyFn (they never
// block).
#ifndef XFP_NDIS_H
#define XFP_NDIS_H

#include "xfp_wintypes.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct NET_BUFFER_LIST_ NET_BUFFER_LIST;
typedef struct NET_BUFFER_ NET_BUFFER;
typedef NET_BUFFER_LIST* PNET_BUFFER_LIST;
typedef NET_BUFFER* PNET_BUFFER;
typedef void* NDIS_HANDLE;

typedef NTSTATUS NDIS_STATUS;
#define NDIS_STATUS_SUCCESS ((NDIS_STATUS)STATUS_SUCCESS)
#define NDIS_STATUS_PENDING ((NDIS_STATUS)STATUS_PENDING)
#define NDIS_STATUS_FAILURE ((NDIS_STATUS)STATUS_UNSUCCESSFUL)
#define NDIS_STATUS_RESOURCES ((NDIS_STATUS)STATUS_INSUFFICIENT_RESOURCES)
#define NDIS_STATUS_INVALID_PARAMETER ((NDIS_STATUS)STATUS_INVALID_PARAMETER)

// The single NET_BUFFER of an NBL.
NET_BUFFER* XfpNetBufferListFirstNb(NET_BUFFER_LIST* nbl);
#define NET_BUFFER_LIST_FIRST_NB(nbl) XfpNetBufferListFirstNb(nbl)
#define NET_BUFFER_LIST_NEXT_NBL(nbl) ((NET_BUFFER_LIST*)0)  // xfp never chains NBLs
#define NET_BUFFER_NEXT_NB(nb) ((NET_BUFFER*)0)              // one NET_BUFFER per NBL

// Completion status of an injected NBL (read-only).
NTSTATUS XfpNetBufferListStatus(const NET_BUFFER_LIST* nbl);
#define NET_BUFFER_LIST_STATUS(nbl) XfpNetBufferListStatus(nbl)

// Bytes from the current data offset to the end, and the current data offset.
ULONG XfpNetBufferDataLength(const NET_BUFFER* nb);
#define NET_BUFFER_DATA_LENGTH(nb) XfpNetBufferDataLength(nb)
ULONG XfpNetBufferDataOffset(const NET_BUFFER* nb);
#define NET_BUFFER_DATA_OFFSET(nb) XfpNetBufferDataOffset(nb)

// A pointer to bytesNeeded bytes at the current data offset, or NULL if fewer are available.
// xfp's data is contiguous: `storage`, alignMultiple and alignOffset are ignored.
void* NdisGetDataBuffer(
    NET_BUFFER* nb, ULONG bytesNeeded, void* storage, UINT32 alignMultiple, UINT32 alignOffset);

// Move the data start back (retreat: exposes dataOffsetDelta earlier bytes, e.g. the IP header)
// or forward (advance). Retreat fails with NDIS_STATUS_RESOURCES when there is not enough
// headroom. The MDL arguments exist for source compatibility and are ignored.
NDIS_STATUS NdisRetreatNetBufferListDataStart(NET_BUFFER_LIST* nbl,
                                              ULONG dataOffsetDelta,
                                              ULONG dataBackFill,
                                              void* allocateMdlHandler,
                                              void* freeMdlHandler);
void NdisAdvanceNetBufferListDataStart(NET_BUFFER_LIST* nbl,
                                       ULONG dataOffsetDelta,
                                       BOOLEAN freeMdl,
                                       void* freeMdlHandler);
NDIS_STATUS NdisRetreatNetBufferDataStart(NET_BUFFER* nb,
                                          ULONG dataOffsetDelta,
                                          ULONG dataBackFill,
                                          void* allocateMdlHandler);
void NdisAdvanceNetBufferDataStart(NET_BUFFER* nb,
                                   ULONG dataOffsetDelta,
                                   BOOLEAN freeMdl,
                                   void* freeMdlHandler);

// xfp extensions.

// The contiguous, writable bytes of nb at its current data offset (NET_BUFFER_DATA_LENGTH of
// them). Valid until the NBL is freed, completed or its data start is moved.
UCHAR* XfpNetBufferData(NET_BUFFER* nb);

// A new NBL holding a deep copy of `length` bytes of `data`, data offset 0 (the analog of
// FwpsAllocateNetBufferAndNetBufferList0 over a freshly allocated MDL). Free it with
// FwpsFreeNetBufferList0, or hand it to an Fwps inject function.
NTSTATUS XfpAllocateNetBufferList(const void* data, ULONG length, NET_BUFFER_LIST** nbl);

// The Linux ifindex the packet arrived on (inbound) or leaves by (outbound); 0 if unknown.
ULONG XfpNetBufferListIfIndex(const NET_BUFFER_LIST* nbl);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // XFP_NDIS_H
