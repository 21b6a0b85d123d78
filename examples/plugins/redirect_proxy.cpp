// xfp_redirect_proxy: an example callout plugin that sends TCP connections to a local proxy, the
// way a WFP transparent proxy driver does (wfp-model.md §6.2; docs/ale.md "Redirection"):
// at ALE_CONNECT_REDIRECT_V4 it takes the writable FWPS_CONNECT_REQUEST0, points it at the proxy,
// names its redirect handle and a context, and applies it. The proxy reads the original
// destination on the connection it accepted (getsockopt SOL_IP/SO_ORIGINAL_DST, or the redirect
// records at XFP_SOL) and, before connecting onwards, puts those records on its own socket
// (setsockopt XFP_SOL/XFP_SO_REDIRECT_RECORDS): its connect then shows
// FWPS_CONNECTION_REDIRECTED_BY_SELF and is let through, not redirected again.
//
// Callout: kRedirectProxyKey at FWPM_LAYER_ALE_CONNECT_REDIRECT_V4; the filters choose which
// connects reach it. Parameters (DRIVER_OBJECT.XfpParameters), ';'-separated:
//   to=127.0.0.1:8080   the proxy's address (required)
//   pid=1234            localRedirectTargetPID (optional; recorded, Linux does not need it)
// Filters, e.g.
//   {"callouts": [{"key": "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e05", "name": "to proxy",
//                  "layer": "ALE_CONNECT_REDIRECT_V4"}],
//    "filters": [{"name": "web via proxy", "layer": "ALE_CONNECT_REDIRECT_V4",
//                 "action": "callout_terminating", "callout": "to proxy",
//                 "conditions": [{"field": "IP_REMOTE_PORT", "value": 80}]}]}
#include <arpa/inet.h>
#include <fwpsk.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>

#include "xfp_examples.h"

namespace {

// {6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e05}
constexpr GUID kRedirectProxyKey = {
    0x6f1c2d3e, 0x4a5b, 0x4c6d, {0x8e, 0x7f, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x05}};
// {6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e06}: the provider its redirect handle belongs to
constexpr GUID kRedirectProxyProvider = {
    0x6f1c2d3e, 0x4a5b, 0x4c6d, {0x8e, 0x7f, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x06}};
// What the proxy finds as the redirect context (FWPS_CONNECT_REQUEST0.localRedirectContext).
constexpr char kContext[] = "xfp_redirect_proxy";

struct Config {
  sockaddr_in proxy{};
  DWORD pid = 0;
};

Config gConfig;
UINT32 gCalloutId = 0;
HANDLE gRedirectHandle = nullptr;
std::mutex gStatsMu;
XfpRedirectProxyCounters gCounters{};

bool parseParameters(const char* text, Config& c) {
  std::stringstream in(text != nullptr ? text : "");
  std::string item;
  bool haveTarget = false;
  while (std::getline(in, item, ';')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      continue;
    }
    const std::string key = item.substr(0, eq);
    const std::string value = item.substr(eq + 1);
    if (key == "to") {
      const size_t colon = value.rfind(':');
      if (colon == std::string::npos) {
        return false;
      }
      c.proxy.sin_family = AF_INET;
      c.proxy.sin_port =
          htons(static_cast<uint16_t>(std::strtoul(value.c_str() + colon + 1, nullptr, 10)));
      haveTarget = inet_pton(AF_INET, value.substr(0, colon).c_str(), &c.proxy.sin_addr) == 1 &&
                   c.proxy.sin_port != 0;
    } else if (key == "pid") {
      c.pid = static_cast<DWORD>(std::strtoul(value.c_str(), nullptr, 10));
    }
  }
  return haveTarget;
}

void classify(const FWPS_INCOMING_VALUES0* inFixedValues,
              const FWPS_INCOMING_METADATA_VALUES0* inMetaValues,
              void* layerData,
              const void* classifyContext,
              const FWPS_FILTER1* filter,
              UINT64 flowContext,
              FWPS_CLASSIFY_OUT0* classifyOut) {
  (void)inFixedValues;
  (void)layerData;
  (void)flowContext;
  if ((classifyOut->rights & FWPS_RIGHT_ACTION_WRITE) == 0) {
    return;  // a higher filter decided already
  }
  // The proxy's own connection (it carries the records of the one it accepted): let it go.
  void* context = nullptr;
  if (FWPS_IS_METADATA_FIELD_PRESENT(inMetaValues, FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE) &&
      FwpsQueryConnectionRedirectState0(inMetaValues->redirectRecords, gRedirectHandle, &context) ==
          FWPS_CONNECTION_REDIRECTED_BY_SELF) {
    classifyOut->actionType = FWP_ACTION_PERMIT;
    std::lock_guard lock(gStatsMu);
    gCounters.bySelf++;
    return;
  }
  UINT64 handle = 0;
  if (FwpsAcquireClassifyHandle0(const_cast<void*>(classifyContext), 0, &handle) !=
      STATUS_SUCCESS) {
    classifyOut->actionType = FWP_ACTION_BLOCK;  // cannot redirect: do not let it go elsewhere
    return;
  }
  FWPS_CONNECT_REQUEST0* request = nullptr;
  if (FwpsAcquireWritableLayerDataPointer0(
          handle, filter->filterId, 0, reinterpret_cast<PVOID*>(&request), classifyOut) ==
      STATUS_SUCCESS) {
    // Acquire set BLOCK and took the write right; every acquire is paired with one apply.
    std::memcpy(&request->remoteAddressAndPort, &gConfig.proxy, sizeof gConfig.proxy);
    request->localRedirectTargetPID = gConfig.pid;
    request->localRedirectHandle = gRedirectHandle;
    request->localRedirectContext = const_cast<char*>(kContext);
    request->localRedirectContextSize = sizeof kContext;
    FwpsApplyModifiedLayerData0(handle, request, 0);
    classifyOut->actionType = FWP_ACTION_PERMIT;
    std::lock_guard lock(gStatsMu);
    gCounters.redirected++;
  } else {
    classifyOut->actionType = FWP_ACTION_BLOCK;
  }
  FwpsReleaseClassifyHandle0(handle);
}

NTSTATUS notify(FWPS_CALLOUT_NOTIFY_TYPE type, const GUID* filterKey, FWPS_FILTER1* filter) {
  (void)type;
  (void)filterKey;
  (void)filter;
  return STATUS_SUCCESS;
}

void driverUnload(DRIVER_OBJECT* driverObject) {
  (void)driverObject;
  if (gCalloutId != 0) {
    (void)FwpsCalloutUnregisterById0(gCalloutId);
    gCalloutId = 0;
  }
  if (gRedirectHandle != nullptr) {
    FwpsRedirectHandleDestroy0(gRedirectHandle);
    gRedirectHandle = nullptr;
  }
}

}  // namespace

XFP_PLUGIN_EXPORT NTSTATUS DriverEntry(DRIVER_OBJECT* driverObject, UNICODE_STRING* registryPath) {
  (void)registryPath;
  gConfig = Config{};
  if (!parseParameters(driverObject->XfpParameters, gConfig)) {
    return STATUS_INVALID_PARAMETER;  // "to=<IPv4>:<port>" is required
  }
  {
    std::lock_guard lock(gStatsMu);
    gCounters = XfpRedirectProxyCounters{};
  }
  NTSTATUS status = FwpsRedirectHandleCreate0(&kRedirectProxyProvider, 0, &gRedirectHandle);
  if (status != STATUS_SUCCESS) {
    return status;
  }
  FWPS_CALLOUT1 callout{};
  callout.calloutKey = kRedirectProxyKey;
  callout.classifyFn = classify;
  callout.notifyFn = notify;
  status = FwpsCalloutRegister1(driverObject->DeviceObject, &callout, &gCalloutId);
  if (status != STATUS_SUCCESS) {
    FwpsRedirectHandleDestroy0(gRedirectHandle);
    gRedirectHandle = nullptr;
    return status;
  }
  driverObject->DriverUnload = driverUnload;
  return STATUS_SUCCESS;
}

XFP_PLUGIN_EXPORT UINT32 XfpPluginAbiVersion(void) {
  return XFP_PLUGIN_ABI_VERSION;
}

XFP_PLUGIN_EXPORT void XfpRedirectProxyStats(XfpRedirectProxyCounters* out) {
  std::lock_guard lock(gStatsMu);
  *out = gCounters;
}
