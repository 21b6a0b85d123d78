// A test-only callout plugin whose classifyFn throws a C++ exception (plugin_test.cpp): the host
// must catch it, count it in RuntimeStats.pluginFaults and block the packet.
#include <fwpsk.h>

#include <stdexcept>

namespace {

// {6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e05}
constexpr GUID kThrowingKey = {
    0x6f1c2d3e, 0x4a5b, 0x4c6d, {0x8e, 0x7f, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x05}};

UINT32 gCalloutId = 0;

void classify(const FWPS_INCOMING_VALUES0*,
              const FWPS_INCOMING_METADATA_VALUES0*,
              void*,
              const void*,
              const FWPS_FILTER1*,
              UINT64,
              FWPS_CLASSIFY_OUT0* classifyOut) {
  classifyOut->actionType = FWP_ACTION_PERMIT;  // would permit, but never returns normally
  throw std::runtime_error("xfp test plugin: classifyFn throws");
}

NTSTATUS notify(FWPS_CALLOUT_NOTIFY_TYPE, const GUID*, FWPS_FILTER1*) {
  return STATUS_SUCCESS;
}

void driverUnload(DRIVER_OBJECT*) {
  (void)FwpsCalloutUnregisterById0(gCalloutId);
}

}  // namespace

XFP_PLUGIN_EXPORT NTSTATUS DriverEntry(DRIVER_OBJECT* driverObject, UNICODE_STRING*) {
  FWPS_CALLOUT1 callout{};
  callout.calloutKey = kThrowingKey;
  callout.classifyFn = classify;
  callout.notifyFn = notify;
  const NTSTATUS status = FwpsCalloutRegister1(driverObject->DeviceObject, &callout, &gCalloutId);
  if (status == STATUS_SUCCESS) {
    driverObject->DriverUnload = driverUnload;
  }
  return status;
}
