// xfp_connect_guard: an example callout plugin that holds outbound TCP connects at
// FWPM_LAYER_ALE_AUTH_CONNECT_V4 and decides them later, from its own worker thread, after a
// delay -- the shape of a driver that asks a user-mode service (or a remote reputation server)
// before letting a connection out.
//
// Parameters (DRIVER_OBJECT.XfpParameters), ';'-separated:
//   style=classify   pend with FwpsAcquireClassifyHandle0 + FwpsPendClassify0, complete with
//                    FwpsCompleteClassify0 (the Windows 7 way; default)
//   style=operation  pend with FwpsPendOperation0(completionHandle), complete with
//                    FwpsCompleteOperation0; the engine then re-authorizes the connect
//                    (FWP_CONDITION_FLAG_IS_REAUTHORIZE, reason CLASSIFY_COMPLETION) and the
//                    callout answers from the decision it kept, matched by 5-tuple
//   allow=80,443     remote ports that are permitted; every other port is blocked
//   delay_ms=300     how long a connect stays pended; "never" keeps it pended until the
//                    engine times it out (RuntimeOptions::pendTimeout)
//
// Filters reach it through its callout key (kConnectGuardKey below), e.g.
//   {"callouts": [{"key": "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e01", "name": "connect guard",
//                  "layer": "ALE_AUTH_CONNECT_V4"}],
//    "filters": [{"name": "guard connects", "layer": "ALE_AUTH_CONNECT_V4",
//                 "action": "callout_terminating", "callout": "connect guard",
//                 "conditions": [{"field": "IP_PROTOCOL", "value": "tcp"}]}]}
#include <fwpsk.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>

#include "xfp_examples.h"

namespace {

// {6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e01}
constexpr GUID kConnectGuardKey = {
    0x6f1c2d3e, 0x4a5b, 0x4c6d, {0x8e, 0x7f, 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x01}};

using Clock = std::chrono::steady_clock;

// The 5-tuple of a connect as ALE_AUTH_CONNECT_V4 shows it (addresses in host order).
struct Tuple {
  UINT32 local = 0;
  UINT32 remote = 0;
  UINT16 localPort = 0;
  UINT16 remotePort = 0;
  UINT8 protocol = 0;
  bool operator<(const Tuple& o) const {
    return std::tie(local, remote, localPort, remotePort, protocol) <
           std::tie(o.local, o.remote, o.localPort, o.remotePort, o.protocol);
  }
};

// One pended connect waiting for its decision.
struct PendedConnect {
  Clock::time_point due;
  bool permit = false;
  bool operation = false;
  UINT64 classifyHandle = 0;           // style=classify
  FWPS_CLASSIFY_OUT0 classifyOut{};    // deep copy of the classifyOut seen at pend time
  HANDLE completionContext = nullptr;  // style=operation
  Tuple tuple;
};

struct State {
  bool operationStyle = false;
  std::set<UINT16> allowed;
  long delayMs = 300;  // < 0: never complete
  UINT32 calloutId = 0;

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::deque<PendedConnect> queue;
  std::map<Tuple, bool> decided;  // style=operation: answers for the re-authorization
  std::thread worker;
};

State* gState = nullptr;

// Counters the tests read (XfpConnectGuardStats).
std::mutex gStatsMu;
UINT64 gPended = 0;
UINT64 gCompleted = 0;
UINT64 gReauthorized = 0;

void parseParameters(const char* text, State& s) {
  std::stringstream in(text != nullptr ? text : "");
  std::string item;
  while (std::getline(in, item, ';')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      continue;
    }
    const std::string key = item.substr(0, eq);
    const std::string value = item.substr(eq + 1);
    if (key == "style") {
      s.operationStyle = value == "operation";
    } else if (key == "delay_ms") {
      s.delayMs = value == "never" ? -1 : std::strtol(value.c_str(), nullptr, 10);
    } else if (key == "allow") {
      std::stringstream ports(value);
      std::string p;
      while (std::getline(ports, p, ',')) {
        s.allowed.insert(static_cast<UINT16>(std::strtoul(p.c_str(), nullptr, 10)));
      }
    }
  }
}

Tuple tupleOf(const FWPS_INCOMING_VALUES0* in) {
  const FWPS_INCOMING_VALUE0* v = in->incomingValue;
  Tuple t;
  t.local = v[FWPS_FIELD_ALE_AUTH_CONNECT_V4_IP_LOCAL_ADDRESS].value.uint32;
  t.remote = v[FWPS_FIELD_ALE_AUTH_CONNECT_V4_IP_REMOTE_ADDRESS].value.uint32;
  t.localPort = v[FWPS_FIELD_ALE_AUTH_CONNECT_V4_IP_LOCAL_PORT].value.uint16;
  t.remotePort = v[FWPS_FIELD_ALE_AUTH_CONNECT_V4_IP_REMOTE_PORT].value.uint16;
  t.protocol = v[FWPS_FIELD_ALE_AUTH_CONNECT_V4_IP_PROTOCOL].value.uint8;
  return t;
}

// Completes one pended connect with its decision.
void complete(PendedConnect& p) {
  {
    std::lock_guard lock(gStatsMu);
    gCompleted++;  // counted first: the connect may go on before the call below returns
  }
  if (p.operation) {
    {
      std::lock_guard lock(gState->mu);
      gState->decided[p.tuple] = p.permit;
    }
    // The engine re-authorizes the connect: classifyFn runs again (IS_REAUTHORIZE) and answers
    // from `decided`.
    FwpsCompleteOperation0(p.completionContext, nullptr);
  } else {
    FWPS_CLASSIFY_OUT0 out = p.classifyOut;  // filled in as an inline classify would
    out.actionType = p.permit ? FWP_ACTION_PERMIT : FWP_ACTION_BLOCK;
    if (!p.permit) {
      out.rights &= ~FWPS_RIGHT_ACTION_WRITE;  // a hard block
    }
    FwpsCompleteClassify0(p.classifyHandle, 0, &out);
    FwpsReleaseClassifyHandle0(p.classifyHandle);  // our own reference (from the acquire)
  }
}

// The worker: completes pended connects when their delay has passed. On stop, what is still
// pended is completed as BLOCK (a driver must not leave pends behind when it unloads).
void workerLoop(State& s) {
  std::unique_lock lock(s.mu);
  while (true) {
    if (s.stopping) {
      std::deque<PendedConnect> left;
      left.swap(s.queue);
      lock.unlock();
      for (auto& p : left) {
        p.permit = false;
        complete(p);
      }
      return;
    }
    if (s.queue.empty() || s.delayMs < 0) {
      s.cv.wait(lock);
      continue;
    }
    const auto due = s.queue.front().due;
    if (Clock::now() < due) {
      s.cv.wait_until(lock, due);
      continue;
    }
    PendedConnect p = s.queue.front();
    s.queue.pop_front();
    lock.unlock();
    complete(p);
    lock.lock();
  }
}

void classify(const FWPS_INCOMING_VALUES0* inFixedValues,
              const FWPS_INCOMING_METADATA_VALUES0* inMetaValues,
              void* layerData,
              const void* classifyContext,
              const FWPS_FILTER1* filter,
              UINT64 flowContext,
              FWPS_CLASSIFY_OUT0* classifyOut) {
  (void)layerData;  // NULL for TCP at ALE_AUTH_CONNECT
  (void)flowContext;
  if ((classifyOut->rights & FWPS_RIGHT_ACTION_WRITE) == 0) {
    return;  // a higher-priority filter already decided
  }
  if (inFixedValues->layerId != FWPS_LAYER_ALE_AUTH_CONNECT_V4) {
    classifyOut->actionType = FWP_ACTION_CONTINUE;
    return;
  }
  const Tuple t = tupleOf(inFixedValues);
  if (t.protocol != 6) {
    classifyOut->actionType = FWP_ACTION_PERMIT;  // only TCP connects are guarded
    return;
  }
  State& s = *gState;
  const bool permit = s.allowed.count(t.remotePort) != 0;
  const UINT32 flags =
      inFixedValues->incomingValue[FWPS_FIELD_ALE_AUTH_CONNECT_V4_FLAGS].value.uint32;
  if ((flags & FWP_CONDITION_FLAG_IS_REAUTHORIZE) != 0) {
    // Re-authorization (after FwpsCompleteOperation0, or a policy change): answer from the kept
    // decision, or decide now. Pending is not allowed here.
    bool answer = permit;
    {
      std::lock_guard lock(s.mu);
      if (auto it = s.decided.find(t); it != s.decided.end()) {
        answer = it->second;
        s.decided.erase(it);
      }
    }
    {
      std::lock_guard lock(gStatsMu);
      gReauthorized++;
    }
    classifyOut->actionType = answer ? FWP_ACTION_PERMIT : FWP_ACTION_BLOCK;
    if (!answer) {
      classifyOut->rights &= ~FWPS_RIGHT_ACTION_WRITE;
    }
    return;
  }

  PendedConnect p;
  p.due = Clock::now() + std::chrono::milliseconds(s.delayMs > 0 ? s.delayMs : 0);
  p.permit = permit;
  p.tuple = t;
  if (s.operationStyle) {
    // The legacy path: pend the ALE operation with the completion handle of the metadata.
    if (!FWPS_IS_METADATA_FIELD_PRESENT(inMetaValues, FWPS_METADATA_FIELD_COMPLETION_HANDLE) ||
        FwpsPendOperation0(inMetaValues->completionHandle, &p.completionContext) !=
            STATUS_SUCCESS) {
      classifyOut->actionType = permit ? FWP_ACTION_PERMIT : FWP_ACTION_BLOCK;
      return;  // cannot pend: decide inline
    }
    p.operation = true;
    classifyOut->actionType = FWP_ACTION_BLOCK;
    classifyOut->flags |= FWPS_CLASSIFY_OUT_FLAG_ABSORB;  // documented requirement of the path
  } else {
    UINT64 handle = 0;
    if (FwpsAcquireClassifyHandle0(const_cast<void*>(classifyContext), 0, &handle) !=
        STATUS_SUCCESS) {
      classifyOut->actionType = permit ? FWP_ACTION_PERMIT : FWP_ACTION_BLOCK;
      return;
    }
    if (FwpsPendClassify0(handle, filter->filterId, 0, classifyOut) != STATUS_SUCCESS) {
      FwpsReleaseClassifyHandle0(handle);
      classifyOut->actionType = permit ? FWP_ACTION_PERMIT : FWP_ACTION_BLOCK;
      return;
    }
    p.classifyHandle = handle;
    p.classifyOut = *classifyOut;  // deep copy, completed later
    classifyOut->actionType = FWP_ACTION_BLOCK;
    classifyOut->rights &= ~FWPS_RIGHT_ACTION_WRITE;
  }
  {
    std::lock_guard lock(s.mu);
    s.queue.push_back(p);
  }
  s.cv.notify_one();
  std::lock_guard lock(gStatsMu);
  gPended++;
}

NTSTATUS notify(FWPS_CALLOUT_NOTIFY_TYPE type, const GUID* filterKey, FWPS_FILTER1* filter) {
  (void)type;
  (void)filterKey;
  (void)filter;
  return STATUS_SUCCESS;
}

void driverUnload(DRIVER_OBJECT* driverObject) {
  (void)driverObject;
  State* s = gState;
  if (s == nullptr) {
    return;
  }
  // Unregister first (no classifyFn runs after it returns), then complete what is left.
  (void)FwpsCalloutUnregisterById0(s->calloutId);
  {
    std::lock_guard lock(s->mu);
    s->stopping = true;
  }
  s->cv.notify_all();
  s->worker.join();
  gState = nullptr;
  delete s;
}

}  // namespace

XFP_PLUGIN_EXPORT NTSTATUS DriverEntry(DRIVER_OBJECT* driverObject, UNICODE_STRING* registryPath) {
  (void)registryPath;
  auto* s = new State();
  parseParameters(driverObject->XfpParameters, *s);
  {
    std::lock_guard lock(gStatsMu);
    gPended = gCompleted = gReauthorized = 0;
  }
  gState = s;
  s->worker = std::thread([s] { workerLoop(*s); });

  FWPS_CALLOUT1 callout{};
  callout.calloutKey = kConnectGuardKey;
  callout.classifyFn = classify;
  callout.notifyFn = notify;
  const NTSTATUS status = FwpsCalloutRegister1(driverObject->DeviceObject, &callout, &s->calloutId);
  if (status != STATUS_SUCCESS) {
    {
      std::lock_guard lock(s->mu);
      s->stopping = true;
    }
    s->cv.notify_all();
    s->worker.join();
    gState = nullptr;
    delete s;
    return status;
  }
  driverObject->DriverUnload = driverUnload;
  return STATUS_SUCCESS;
}

XFP_PLUGIN_EXPORT UINT32 XfpPluginAbiVersion(void) {
  return XFP_PLUGIN_ABI_VERSION;
}

XFP_PLUGIN_EXPORT void XfpConnectGuardStats(XfpConnectGuardCounters* out) {
  std::lock_guard lock(gStatsMu);
  out->pended = gPended;
  out->completed = gCompleted;
  out->reauthorized = gReauthorized;
}
