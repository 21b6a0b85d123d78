// xfp_flow_bytes: an example callout plugin that counts the transport payload bytes of every
// flow in both directions with flow contexts (wfp-model.md §5.5, §5.7) -- the bookkeeping half of
// a traffic monitor. It never decides anything (CONTINUE), so its filters use
// callout_inspection.
//
// Two callouts, one per layer (a callout has one applicable layer):
//   kFlowBytesOutKey at FWPM_LAYER_OUTBOUND_TRANSPORT_V4 (data: the transport header)
//   kFlowBytesInKey  at FWPM_LAYER_INBOUND_TRANSPORT_V4  (data: the transport payload)
// The first packet of a flow at a layer associates a context there
// (FwpsFlowAssociateContext0(inMetaValues->flowHandle, layerId, calloutId, context)); the
// context of both layers is the same per-flow record, reference-counted. Later packets get it
// back as the flowContext argument. When the flow ends, flowDeleteFn runs once per associated
// context; the second one frees the record and logs the flow's totals.
//
// Parameters: none. Filters, e.g.
//   {"callouts": [{"key": "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e03", "name": "bytes out",
//                  "layer": "OUTBOUND_TRANSPORT_V4"},
//                 {"key": "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e04", "name": "bytes in",
//                  "layer": "INBOUND_TRANSPORT_V4"}],
//    "filters": [{"name": "count out", "layer": "OUTBOUND_TRANSPORT_V4",
//                 "action": "callout_inspection", "callout": "bytes out",
//                 "conditions": [{"field": "IP_PROTOCOL", "value": "tcp"}]},
//                {"name": "count in", "layer": "INBOUND_TRANSPORT_V4",
//                 "action": "callout_inspection", "callout": "bytes in",
//                 "conditions": [{"field": "IP_PROTOCOL", "value": "tcp"}]}]}
#include <fwpsk.h>

#include <chrono>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "xfp_examples.h"

namespace {

// {6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e03}
constexpr GUID kFlowBytesOutKey = {
    0x6f1c2d3e, 0x4a5b, 0x4c6d, {0x8e, 0x7f, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x03}};
// {6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e04}
constexpr GUID kFlowBytesInKey = {
    0x6f1c2d3e, 0x4a5b, 0x4c6d, {0x8e, 0x7f, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x04}};

// The per-flow record; its address is the flow context at both layers.
struct FlowRecord {
  UINT64 flowId = 0;
  UINT64 bytesOut = 0;
  UINT64 bytesIn = 0;
  UINT64 packetsOut = 0;
  UINT64 packetsIn = 0;
  bool associatedOut = false;
  bool associatedIn = false;
  int refs = 0;  // contexts that point at it
};

std::mutex gMu;
UINT32 gCalloutOut = 0;
UINT32 gCalloutIn = 0;
std::map<UINT64, FlowRecord*> gFlows;  // by flow handle
std::vector<XfpFlowBytesDelete> gDeletes;
std::vector<XfpFlowBytesTotal> gTotals;

void classify(const FWPS_INCOMING_VALUES0* inFixedValues,
              const FWPS_INCOMING_METADATA_VALUES0* inMetaValues,
              void* layerData,
              const void* classifyContext,
              const FWPS_FILTER1* filter,
              UINT64 flowContext,
              FWPS_CLASSIFY_OUT0* classifyOut) {
  (void)classifyContext;
  (void)filter;
  // An inspection callout: whatever it sees, the decision is left to other filters.
  if ((classifyOut->rights & FWPS_RIGHT_ACTION_WRITE) != 0) {
    classifyOut->actionType = FWP_ACTION_CONTINUE;
  }
  const UINT16 layer = inFixedValues->layerId;
  const bool outbound = layer == FWPS_LAYER_OUTBOUND_TRANSPORT_V4;
  if (!outbound && layer != FWPS_LAYER_INBOUND_TRANSPORT_V4) {
    return;
  }
  if (!FWPS_IS_METADATA_FIELD_PRESENT(inMetaValues, FWPS_METADATA_FIELD_FLOW_HANDLE)) {
    return;  // not part of a flow (e.g. a later IP fragment)
  }
  // Payload bytes: outbound data starts at the transport header, inbound at the payload.
  UINT64 bytes = 0;
  if (auto* nbl = static_cast<NET_BUFFER_LIST*>(layerData); nbl != nullptr) {
    bytes = NET_BUFFER_DATA_LENGTH(NET_BUFFER_LIST_FIRST_NB(nbl));
    if (outbound &&
        FWPS_IS_METADATA_FIELD_PRESENT(inMetaValues, FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE)) {
      bytes -=
          inMetaValues->transportHeaderSize < bytes ? inMetaValues->transportHeaderSize : bytes;
    }
  }
  auto* record = reinterpret_cast<FlowRecord*>(flowContext);
  const UINT64 flowId = inMetaValues->flowHandle;
  if (record == nullptr) {
    // First packet of this flow at this layer: share the flow's record (the other layer may
    // have made it already) and associate it as this layer's context. The engine's call is
    // made without holding our lock (flowDelete takes it).
    FlowRecord* r = nullptr;
    bool associate = false;
    {
      std::lock_guard lock(gMu);
      FlowRecord*& slot = gFlows[flowId];
      if (slot == nullptr) {
        slot = new FlowRecord();
        slot->flowId = flowId;
      }
      r = slot;
      bool& associated = outbound ? r->associatedOut : r->associatedIn;
      if (!associated) {
        associated = true;
        r->refs++;
        associate = true;
      }
    }
    if (associate && FwpsFlowAssociateContext0(flowId,
                                               layer,
                                               outbound ? gCalloutOut : gCalloutIn,
                                               reinterpret_cast<UINT64>(r)) != STATUS_SUCCESS) {
      std::lock_guard lock(gMu);
      (outbound ? r->associatedOut : r->associatedIn) = false;
      if (--r->refs == 0) {
        gFlows.erase(flowId);
        delete r;
      }
      return;
    }
    record = r;
  }
  std::lock_guard lock(gMu);
  (outbound ? record->bytesOut : record->bytesIn) += bytes;
  (outbound ? record->packetsOut : record->packetsIn)++;
}

NTSTATUS notify(FWPS_CALLOUT_NOTIFY_TYPE type, const GUID* filterKey, FWPS_FILTER1* filter) {
  (void)type;
  (void)filterKey;
  (void)filter;
  return STATUS_SUCCESS;
}

// Runs once per associated context when the flow ends (or when DriverUnload removes it).
void flowDelete(UINT16 layerId, UINT32 calloutId, UINT64 flowContext) {
  auto* r = reinterpret_cast<FlowRecord*>(flowContext);
  std::lock_guard lock(gMu);
  gDeletes.push_back({r->flowId, layerId, calloutId});
  (layerId == FWPS_LAYER_OUTBOUND_TRANSPORT_V4 ? r->associatedOut : r->associatedIn) = false;
  if (--r->refs > 0) {
    return;
  }
  gTotals.push_back({r->flowId, r->bytesOut, r->bytesIn, r->packetsOut, r->packetsIn});
  gFlows.erase(r->flowId);
  delete r;
}

void driverUnload(DRIVER_OBJECT* driverObject) {
  (void)driverObject;
  // Contexts first: unregistering fails with STATUS_DEVICE_BUSY while a flow carries one.
  // FwpsFlowRemoveContext0 calls flowDelete synchronously (or, STATUS_PENDING, once the flow's
  // running classify returns), so collect the work under the lock and call it outside.
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::vector<std::pair<UINT64, UINT16>> contexts;
    {
      std::lock_guard lock(gMu);
      for (const auto& [flowId, r] : gFlows) {
        if (r->associatedOut) {
          contexts.emplace_back(flowId, FWPS_LAYER_OUTBOUND_TRANSPORT_V4);
        }
        if (r->associatedIn) {
          contexts.emplace_back(flowId, FWPS_LAYER_INBOUND_TRANSPORT_V4);
        }
      }
    }
    for (const auto& [flowId, layer] : contexts) {
      (void)FwpsFlowRemoveContext0(
          flowId, layer, layer == FWPS_LAYER_OUTBOUND_TRANSPORT_V4 ? gCalloutOut : gCalloutIn);
    }
    const NTSTATUS a = gCalloutOut != 0 ? FwpsCalloutUnregisterById0(gCalloutOut) : STATUS_SUCCESS;
    if (a == STATUS_SUCCESS || a == STATUS_FWP_CALLOUT_NOT_FOUND) {
      gCalloutOut = 0;
    }
    const NTSTATUS b = gCalloutIn != 0 ? FwpsCalloutUnregisterById0(gCalloutIn) : STATUS_SUCCESS;
    if (b == STATUS_SUCCESS || b == STATUS_FWP_CALLOUT_NOT_FOUND) {
      gCalloutIn = 0;
    }
    if (gCalloutOut == 0 && gCalloutIn == 0) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

XFP_PLUGIN_EXPORT NTSTATUS DriverEntry(DRIVER_OBJECT* driverObject, UNICODE_STRING* registryPath) {
  (void)registryPath;
  {
    std::lock_guard lock(gMu);
    gDeletes.clear();
    gTotals.clear();
  }
  FWPS_CALLOUT1 out{};
  out.calloutKey = kFlowBytesOutKey;
  out.classifyFn = classify;
  out.notifyFn = notify;
  out.flowDeleteFn = flowDelete;  // required for FwpsFlowAssociateContext0
  NTSTATUS status = FwpsCalloutRegister1(driverObject->DeviceObject, &out, &gCalloutOut);
  if (status != STATUS_SUCCESS) {
    gCalloutOut = 0;
    return status;
  }
  FWPS_CALLOUT1 in = out;
  in.calloutKey = kFlowBytesInKey;
  status = FwpsCalloutRegister1(driverObject->DeviceObject, &in, &gCalloutIn);
  if (status != STATUS_SUCCESS) {
    (void)FwpsCalloutUnregisterById0(gCalloutOut);
    gCalloutOut = gCalloutIn = 0;
    return status;
  }
  driverObject->DriverUnload = driverUnload;
  return STATUS_SUCCESS;
}

XFP_PLUGIN_EXPORT UINT32 XfpPluginAbiVersion(void) {
  return XFP_PLUGIN_ABI_VERSION;
}

XFP_PLUGIN_EXPORT void XfpFlowBytesGetReport(XfpFlowBytesReport* report,
                                             XfpFlowBytesDelete* deleteLog,
                                             UINT32 deleteCapacity,
                                             XfpFlowBytesTotal* totals,
                                             UINT32 totalsCapacity) {
  std::lock_guard lock(gMu);
  report->calloutIdOut = gCalloutOut;
  report->calloutIdIn = gCalloutIn;
  report->deletes = 0;
  for (const auto& d : gDeletes) {
    if (report->deletes < deleteCapacity) {
      deleteLog[report->deletes++] = d;
    }
  }
  report->totals = 0;
  for (const auto& t : gTotals) {
    if (report->totals < totalsCapacity) {
      totals[report->totals++] = t;
    }
  }
  report->liveFlows = static_cast<UINT32>(gFlows.size());
}
