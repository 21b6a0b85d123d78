// A test-only callout plugin that misbehaves on purpose (plugin_test.cpp), selected by its
// parameters:
//   mode=throw  (default) its classifyFn throws a C++ exception: the host must catch it, count it
//               in RuntimeStats.pluginFaults and block the packet;
//   mode=leak   its classifyFn associates a flow context with every flow and permits, and its
//               DriverUnload forgets to remove the contexts and to unregister: the host must
//               refuse to unload it, and at shutdown unregister it by force -- calling
//               flowDeleteFn for every context first, so the contexts are freed.
#include <fwpsk.h>

#include <atomic>
#include <cstring>
#include <new>
#include <stdexcept>

namespace {

// {6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e05}
constexpr GUID kMisbehavingKey = {
    0x6f1c2d3e, 0x4a5b, 0x4c6d, {0x8e, 0x7f, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x05}};

UINT32 gCalloutId = 0;
bool gLeak = false;
std::atomic<UINT64> gAssociated{0};
std::atomic<UINT64> gDeleted{0};

struct Context {
  UINT64 packets = 0;
};

void classify(const FWPS_INCOMING_VALUES0*,
              const FWPS_INCOMING_METADATA_VALUES0* inMetaValues,
              void*,
              const void*,
              const FWPS_FILTER1*,
              UINT64 flowContext,
              FWPS_CLASSIFY_OUT0* classifyOut) {
  if (!gLeak) {
    classifyOut->actionType = FWP_ACTION_PERMIT;  // would permit, but never returns normally
    throw std::runtime_error("xfp test plugin: classifyFn throws");
  }
  classifyOut->actionType = FWP_ACTION_PERMIT;
  if (flowContext != 0) {
    reinterpret_cast<Context*>(flowContext)->packets++;
    return;
  }
  if (!FWPS_IS_METADATA_FIELD_PRESENT(inMetaValues, FWPS_METADATA_FIELD_FLOW_HANDLE)) {
    return;
  }
  auto* ctx = new Context{1};
  if (FwpsFlowAssociateContext0(inMetaValues->flowHandle,
                                FWPS_LAYER_INBOUND_TRANSPORT_V4,
                                gCalloutId,
                                reinterpret_cast<UINT64>(ctx)) == STATUS_SUCCESS) {
    gAssociated++;
  } else {
    delete ctx;
  }
}

NTSTATUS notify(FWPS_CALLOUT_NOTIFY_TYPE, const GUID*, FWPS_FILTER1*) {
  return STATUS_SUCCESS;
}

void flowDelete(UINT16, UINT32, UINT64 flowContext) {
  delete reinterpret_cast<Context*>(flowContext);
  gDeleted++;
}

void driverUnload(DRIVER_OBJECT*) {
  if (!gLeak) {
    (void)FwpsCalloutUnregisterById0(gCalloutId);
  }
}

}  // namespace

XFP_PLUGIN_EXPORT NTSTATUS DriverEntry(DRIVER_OBJECT* driverObject, UNICODE_STRING*) {
  gLeak = std::strcmp(driverObject->XfpParameters, "mode=leak") == 0;
  gAssociated = gDeleted = 0;
  FWPS_CALLOUT1 callout{};
  callout.calloutKey = kMisbehavingKey;
  callout.classifyFn = classify;
  callout.notifyFn = notify;
  callout.flowDeleteFn = flowDelete;
  const NTSTATUS status = FwpsCalloutRegister1(driverObject->DeviceObject, &callout, &gCalloutId);
  if (status == STATUS_SUCCESS) {
    driverObject->DriverUnload = driverUnload;
  }
  return status;
}

// Flow contexts associated and deleted (flowDeleteFn calls).
XFP_PLUGIN_EXPORT void XfpTestMisbehavingCounts(UINT64* associated, UINT64* deleted) {
  *associated = gAssociated.load();
  *deleted = gDeleted.load();
}
