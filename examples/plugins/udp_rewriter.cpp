// xfp_udp_rewriter: an example callout plugin that rewrites inbound UDP datagrams at
// FWPM_LAYER_INBOUND_TRANSPORT_V4 -- the "absorb and reinject a modified copy" pattern of WFP's
// packet-modification samples (inspect/modify, wfp-model.md §6.3):
//
//   1. classifyFn sees a datagram (layer data: an NBL positioned at the UDP payload);
//   2. it clones the NBL (FwpsAllocateCloneNetBufferList0: in xfp a writable deep copy),
//      retreats the clone to the IP header, upper-cases the payload and fixes the checksum;
//   3. it injects the clone into the local stack (FwpsInjectTransportReceiveAsync0) and absorbs
//      the original (BLOCK + FWPS_CLASSIFY_OUT_FLAG_ABSORB: dropped silently);
//   4. the completion function frees the clone.
//
// A packet it injected itself is recognised with FwpsQueryPacketInjectionState0 and permitted
// unmodified (on Windows the injected copy traverses the layers again; in xfp it does not, but a
// portable driver keeps the check).
//
// Parameters: none. Filters reach it through kUdpRewriterKey, e.g.
//   {"callouts": [{"key": "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e02", "name": "udp rewriter",
//                  "layer": "INBOUND_TRANSPORT_V4"}],
//    "filters": [{"name": "rewrite udp 7300", "layer": "INBOUND_TRANSPORT_V4",
//                 "action": "callout_terminating", "callout": "udp rewriter",
//                 "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
//                                {"field": "IP_LOCAL_PORT", "value": 7300}]}]}
#include <fwpsk.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>

#include "xfp_examples.h"

namespace {

// {6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e02}
constexpr GUID kUdpRewriterKey = {
    0x6f1c2d3e, 0x4a5b, 0x4c6d, {0x8e, 0x7f, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x02}};

UINT32 gCalloutId = 0;
HANDLE gInjectionHandle = nullptr;

// Counters the tests read (XfpUdpRewriterStats).
std::atomic<UINT64> gClassified{0};
std::atomic<UINT64> gInjected{0};
std::atomic<UINT64> gCompleted{0};
std::atomic<UINT64> gSeenOwn{0};

UINT32 sum16(const UCHAR* p, size_t n, UINT32 sum) {
  for (size_t i = 0; i + 1 < n; i += 2) {
    sum += static_cast<UINT32>(p[i] << 8 | p[i + 1]);
  }
  if ((n & 1) != 0) {
    sum += static_cast<UINT32>(p[n - 1] << 8);
  }
  return sum;
}

// The UDP checksum of an IPv4 datagram (ip points at the IPv4 header, udp at the UDP header).
void fixUdpChecksum(const UCHAR* ip, UCHAR* udp, size_t udpLength) {
  udp[6] = udp[7] = 0;
  UINT32 sum = sum16(ip + 12, 8, 0) + 17 + static_cast<UINT32>(udpLength);
  sum = sum16(udp, udpLength, sum);
  while ((sum >> 16) != 0) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  UINT16 c = static_cast<UINT16>(~sum);
  if (c == 0) {
    c = 0xffff;
  }
  udp[6] = static_cast<UCHAR>(c >> 8);
  udp[7] = static_cast<UCHAR>(c & 0xff);
}

void injectComplete(void* context, NET_BUFFER_LIST* netBufferList, BOOLEAN dispatchLevel) {
  (void)context;
  (void)dispatchLevel;
  // NET_BUFFER_LIST_STATUS(netBufferList) tells whether the stack took it; either way the clone
  // is ours to free.
  FwpsFreeCloneNetBufferList0(netBufferList, 0);
  gCompleted++;
}

void classify(const FWPS_INCOMING_VALUES0* inFixedValues,
              const FWPS_INCOMING_METADATA_VALUES0* inMetaValues,
              void* layerData,
              const void* classifyContext,
              const FWPS_FILTER1* filter,
              UINT64 flowContext,
              FWPS_CLASSIFY_OUT0* classifyOut) {
  (void)classifyContext;
  (void)filter;
  (void)flowContext;
  gClassified++;
  auto* nbl = static_cast<NET_BUFFER_LIST*>(layerData);
  if (nbl == nullptr || (classifyOut->rights & FWPS_RIGHT_ACTION_WRITE) == 0) {
    return;
  }
  // Our own injection coming back: let it through untouched.
  const FWPS_PACKET_INJECTION_STATE state =
      FwpsQueryPacketInjectionState0(gInjectionHandle, nbl, nullptr);
  if (state == FWPS_PACKET_INJECTED_BY_SELF || state == FWPS_PACKET_PREVIOUSLY_INJECTED_BY_SELF) {
    gSeenOwn++;
    classifyOut->actionType = FWP_ACTION_PERMIT;
    return;
  }
  const FWPS_INCOMING_VALUE0* v = inFixedValues->incomingValue;
  if (inFixedValues->layerId != FWPS_LAYER_INBOUND_TRANSPORT_V4 ||
      v[FWPS_FIELD_INBOUND_TRANSPORT_V4_IP_PROTOCOL].value.uint8 != 17 ||
      !FWPS_IS_METADATA_FIELD_PRESENT(inMetaValues, FWPS_METADATA_FIELD_IP_HEADER_SIZE) ||
      !FWPS_IS_METADATA_FIELD_PRESENT(inMetaValues, FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE)) {
    classifyOut->actionType = FWP_ACTION_CONTINUE;
    return;
  }
  const ULONG ipHeaderSize = inMetaValues->ipHeaderSize;
  const ULONG udpHeaderSize = inMetaValues->transportHeaderSize;

  // The clone is a writable deep copy positioned like the original (at the UDP payload).
  NET_BUFFER_LIST* clone = nullptr;
  if (FwpsAllocateCloneNetBufferList0(nbl, nullptr, nullptr, 0, &clone) != STATUS_SUCCESS) {
    classifyOut->actionType = FWP_ACTION_BLOCK;
    return;
  }
  // Inbound transport injection wants the data to start at the IP header.
  if (NdisRetreatNetBufferListDataStart(clone, ipHeaderSize + udpHeaderSize, 0, nullptr, nullptr) !=
      NDIS_STATUS_SUCCESS) {
    FwpsFreeCloneNetBufferList0(clone, 0);
    classifyOut->actionType = FWP_ACTION_BLOCK;
    return;
  }
  NET_BUFFER* nb = NET_BUFFER_LIST_FIRST_NB(clone);
  UCHAR* ip = XfpNetBufferData(nb);
  const ULONG length = NET_BUFFER_DATA_LENGTH(nb);
  UCHAR* udp = ip + ipHeaderSize;
  UCHAR* payload = udp + udpHeaderSize;
  const ULONG payloadLength = length - ipHeaderSize - udpHeaderSize;
  for (ULONG i = 0; i < payloadLength; ++i) {
    if (payload[i] >= 'a' && payload[i] <= 'z') {
      payload[i] = static_cast<UCHAR>(payload[i] - 'a' + 'A');
    }
  }
  fixUdpChecksum(ip, udp, length - ipHeaderSize);

  const IF_INDEX ifIndex = v[FWPS_FIELD_INBOUND_TRANSPORT_V4_INTERFACE_INDEX].value.uint32;
  const IF_INDEX subIfIndex = v[FWPS_FIELD_INBOUND_TRANSPORT_V4_SUB_INTERFACE_INDEX].value.uint32;
  const COMPARTMENT_ID compartment =
      FWPS_IS_METADATA_FIELD_PRESENT(inMetaValues, FWPS_METADATA_FIELD_COMPARTMENT_ID)
          ? inMetaValues->compartmentId
          : UNSPECIFIED_COMPARTMENT_ID;
  const NTSTATUS status = FwpsInjectTransportReceiveAsync0(gInjectionHandle,
                                                           nullptr,
                                                           nullptr,
                                                           0,
                                                           AF_INET,
                                                           compartment,
                                                           ifIndex,
                                                           subIfIndex,
                                                           clone,
                                                           injectComplete,
                                                           nullptr);
  if (status != STATUS_SUCCESS) {
    FwpsFreeCloneNetBufferList0(clone, 0);  // no completion: still ours
    classifyOut->actionType = FWP_ACTION_BLOCK;
    return;
  }
  gInjected++;
  // The original is absorbed: dropped without a trace, the modified copy replaces it.
  classifyOut->actionType = FWP_ACTION_BLOCK;
  classifyOut->flags |= FWPS_CLASSIFY_OUT_FLAG_ABSORB;
  classifyOut->rights &= ~FWPS_RIGHT_ACTION_WRITE;
}

NTSTATUS notify(FWPS_CALLOUT_NOTIFY_TYPE type, const GUID* filterKey, FWPS_FILTER1* filter) {
  (void)type;
  (void)filterKey;
  (void)filter;
  return STATUS_SUCCESS;
}

void driverUnload(DRIVER_OBJECT* driverObject) {
  (void)driverObject;
  (void)FwpsCalloutUnregisterById0(gCalloutId);
  // Waits for the handle's outstanding injections (their completions free the clones).
  (void)FwpsInjectionHandleDestroy0(gInjectionHandle);
  gInjectionHandle = nullptr;
}

}  // namespace

XFP_PLUGIN_EXPORT NTSTATUS DriverEntry(DRIVER_OBJECT* driverObject, UNICODE_STRING* registryPath) {
  (void)registryPath;
  gClassified = gInjected = gCompleted = gSeenOwn = 0;
  NTSTATUS status =
      FwpsInjectionHandleCreate0(AF_INET, FWPS_INJECTION_TYPE_TRANSPORT, &gInjectionHandle);
  if (status != STATUS_SUCCESS) {
    return status;
  }
  FWPS_CALLOUT1 callout{};
  callout.calloutKey = kUdpRewriterKey;
  callout.classifyFn = classify;
  callout.notifyFn = notify;
  status = FwpsCalloutRegister1(driverObject->DeviceObject, &callout, &gCalloutId);
  if (status != STATUS_SUCCESS) {
    (void)FwpsInjectionHandleDestroy0(gInjectionHandle);
    return status;
  }
  driverObject->DriverUnload = driverUnload;
  return STATUS_SUCCESS;
}

XFP_PLUGIN_EXPORT UINT32 XfpPluginAbiVersion(void) {
  return XFP_PLUGIN_ABI_VERSION;
}

XFP_PLUGIN_EXPORT void XfpUdpRewriterStats(XfpUdpRewriterCounters* out) {
  out->classified = gClassified.load();
  out->injected = gInjected.load();
  out->completed = gCompleted.load();
  out->seenOwn = gSeenOwn.load();
}
