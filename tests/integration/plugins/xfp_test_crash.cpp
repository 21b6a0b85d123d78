// Test-only plugin: a callout at INBOUND_TRANSPORT_V4 that permits datagrams starting with "ok",
// blocks others, and crashes the host process (SIGSEGV) on a datagram starting with "crash" --
// the crash-containment test (crash_test.cpp) shows what survives it.
#include <fwpsk.h>

#include <csignal>
#include <cstring>

namespace {

// {2c7e5a10-93d4-4b6f-8e21-7a0d5c3f9b42}
constexpr GUID kKey = {
    0x2c7e5a10, 0x93d4, 0x4b6f, {0x8e, 0x21, 0x7a, 0x0d, 0x5c, 0x3f, 0x9b, 0x42}};
UINT32 gId = 0;

void classify(const FWPS_INCOMING_VALUES0*,
              const FWPS_INCOMING_METADATA_VALUES0*,
              void* layerData,
              const void*,
              const FWPS_FILTER1*,
              UINT64,
              FWPS_CLASSIFY_OUT0* out) {
  NET_BUFFER* nb = NET_BUFFER_LIST_FIRST_NB(static_cast<NET_BUFFER_LIST*>(layerData));
  const ULONG len = NET_BUFFER_DATA_LENGTH(nb);
  const auto* data = static_cast<const char*>(NdisGetDataBuffer(nb, len, nullptr, 1, 0));
  if (data != nullptr && len >= 5 && std::memcmp(data, "crash", 5) == 0) {
    std::raise(SIGSEGV);
  }
  const bool ok = data != nullptr && len >= 2 && std::memcmp(data, "ok", 2) == 0;
  if ((out->rights & FWPS_RIGHT_ACTION_WRITE) != 0) {
    out->actionType = ok ? FWP_ACTION_PERMIT : FWP_ACTION_BLOCK;
  }
}

NTSTATUS notify(FWPS_CALLOUT_NOTIFY_TYPE, const GUID*, FWPS_FILTER1*) {
  return STATUS_SUCCESS;
}

void unload(DRIVER_OBJECT*) {
  FwpsCalloutUnregisterById0(gId);
}

}  // namespace

XFP_PLUGIN_EXPORT NTSTATUS DriverEntry(DRIVER_OBJECT* driver, UNICODE_STRING*) {
  FWPS_CALLOUT1 c{};
  c.calloutKey = kKey;
  c.classifyFn = classify;
  c.notifyFn = notify;
  driver->DriverUnload = unload;
  return FwpsCalloutRegister1(driver->DeviceObject, &c, &gId);
}
