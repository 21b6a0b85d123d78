// CalloutRuntime: xfp's FWPS run time. It takes the packets the fast path punts (AF_XDP from XDP,
// the ring buffer from tc egress), runs the WFP layers of the packet's direction in user space
// with the reference classifier -- calling the classifyFn of registered callouts in-process --
// and re-sends what is permitted (outbound: out of the interface below tc; inbound: into the
// local stack through the injection veth). It implements pend/complete (both styles), injection,
// flow contexts and packet tags behind the C API of fwpsk.h (fwps_api.cpp), and keeps the kernel
// informed: callout liveness, a heartbeat (no heartbeat: callouts count as unregistered), the ALE
// flow verdicts. docs/callouts.md is the guide.
//
// Threads: one I/O thread per runtime (receive, dispatch by flow hash), `workers` classify
// threads (a flow always lands on the same one, so a slow classify stalls only its own flows),
// and a housekeeping thread (heartbeat, pend time-outs, idle flows). Completions may come from
// any thread; they are queued to the flow's worker.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "userspace/core/objects.h"
#include "userspace/core/policy.h"
#include "userspace/core/result.h"
#include "userspace/dataplane/fast_path.h"
#include "xfp/abi.h"

namespace xfp::callout {

struct RuntimeOptions {
  unsigned workers = 2;  // 0: classify on the I/O thread
  // Pend bounds (docs/callouts.md, "Pend bounds"): at the bound a pend is refused
  // (STATUS_QUOTA_EXCEEDED) and the indication is blocked; a pend older than pendTimeout is
  // completed as BLOCK. Both count in RuntimeStats.
  std::chrono::milliseconds pendTimeout{30000};
  size_t maxPended = 4096;
  size_t maxPendedBytes = 16u << 20;
  // Punted packets waiting for one worker; beyond this new ones are dropped (overloadDropped).
  size_t maxQueuedPerWorker = 8192;
  // Flows the runtime tracks at most; a new flow beyond it ends the least recently seen one.
  size_t maxFlows = 65536;
  // Flows without packets for this long end (flowDeleteFn); TCP flows also end at FIN/RST.
  std::chrono::milliseconds flowIdle{60000};
  // Turn off TSO/GSO on attached interfaces so callouts see wire-sized frames.
  bool disableOffloads = true;
  // Where run-time callout ids come from when an engine owns the policy (xfpd: the engine's
  // calloutIdForKey, so FwpsCalloutRegister* and FwpmCalloutAdd0 agree on one id per key).
  // Empty: the runtime's own policy allocates them.
  std::function<uint32_t(const Guid& key)> calloutIdFor;
};

struct RuntimeStats {
  std::atomic<uint64_t> punted{0};
  std::atomic<uint64_t> permitted{0};  // re-sent after classification
  std::atomic<uint64_t> blocked{0};
  std::atomic<uint64_t> absorbed{0};
  std::atomic<uint64_t> pended{0};  // successful FwpsPendClassify0 / FwpsPendOperation0 calls
  std::atomic<uint64_t> pendRefused{0};
  std::atomic<uint64_t> pendTimedOut{0};
  std::atomic<uint64_t> injected{0};
  std::atomic<uint64_t> pluginFaults{0};  // exceptions thrown by plugin code
  std::atomic<uint64_t> flowsEnded{0};
  std::atomic<uint64_t> overloadDropped{0};
  std::atomic<uint64_t> flowsEvicted{0};    // flows ended early because the table was full
  std::atomic<uint64_t> sockRequests{0};    // socket calls answered (bind/connect/assignment)
  std::atomic<uint64_t> sockRedirected{0};  // connects sent elsewhere by a callout
  std::atomic<uint64_t> sockEvents{0};      // socket lifetime events taken
  std::atomic<uint64_t> sockLate{0};        // answers ready after the socket call gave up
};

class PluginHost;
struct RuntimeImpl;

class CalloutRuntime {
 public:
  // Takes over `policy` (the management side) and publishes it to `fastPath`. At most one runtime
  // exists per process: the Fwps* C functions talk to it.
  [[nodiscard]] static Result<std::unique_ptr<CalloutRuntime>> create(dataplane::FastPath& fastPath,
                                                                      Policy policy,
                                                                      RuntimeOptions options = {});
  ~CalloutRuntime();
  CalloutRuntime(const CalloutRuntime&) = delete;
  CalloutRuntime& operator=(const CalloutRuntime&) = delete;

  // Starts taking punts from interface `ifindex` (XDP and tc egress must be attached to it).
  // Must run on a thread inside the interface's network namespace.
  [[nodiscard]] Result<void> attach(int ifindex);

  // Classifies the socket calls of every process below the cgroup v2 directory `cgroupPath`
  // (docs/ale.md): bind/connect redirection and resource assignment (the call waits for the
  // answer, at most `wait`), and the endpoint lifetime (flow established, endpoint closure,
  // resource release, flowDeleteFn at a connection's end, FwpsAleEndpoint* enumeration). ALE
  // auth layers then see the local process's identity. One cgroup per runtime.
  // With a pinDir the hooks are pinned there once answering (SockHooks::takeOver): hooks an
  // earlier runtime left there are replaced, and these survive this process's crash, refusing
  // the socket calls at layers with filters until a new runtime takes over (fail closed).
  [[nodiscard]] Result<void> attachCgroup(
      const std::string& cgroupPath,
      std::chrono::milliseconds wait = std::chrono::milliseconds(200),
      const std::string& pinDir = "");
  // At stop, leave pinned socket hooks attached (a service restart) instead of detaching them.
  void leaveSocketHooksAttached();

  // The management operations a host needs until xfpd owns them (issue 5). Filter add/delete
  // notify the filter's callout (notifyFn; a failing ADD fails the add with
  // FWP_E_CALLOUT_NOTIFICATION_FAILED); commit() compiles, publishes one generation and then
  // sends ADD_FILTER_POST_COMMIT to callouts registered with ENABLE_COMMIT_ADD_NOTIFY.
  [[nodiscard]] Result<uint64_t> addFilter(Filter filter);
  [[nodiscard]] Result<void> deleteFilter(uint64_t filterId);
  [[nodiscard]] Result<uint32_t> addCallout(Callout callout);
  [[nodiscard]] Result<void> addSublayer(Sublayer sublayer);
  [[nodiscard]] Result<void> commit();

  // The engine-owned mode (xfpd; docs/engine.md "Composing xfpd"): the engine's committed policy
  // is published as is (one fast-path generation), ADD_FILTER_POST_COMMIT goes to the callouts of
  // `added` that asked for it, and the punt path classifies against `policy` from then on.
  [[nodiscard]] Result<void> publish(std::shared_ptr<const Policy> policy,
                                     const std::vector<uint64_t>& added);
  // notifyFn ADD_FILTER / DELETE_FILTER for the engine's FilterNotifier (at the add/delete call,
  // wfp-model.md §5.4): false when the filter's registered callout refused it.
  [[nodiscard]] bool notifyFilterAdded(const Filter& filter, const Policy& context);
  void notifyFilterDeleted(const Filter& filter, const Policy& context);
  // Runs fn with the policy under the runtime's lock (read-only use).
  void withPolicy(const std::function<void(const Policy&)>& fn) const;

  PluginHost& plugins();
  [[nodiscard]] const RuntimeStats& stats() const;
  // The socket hooks' own count of their upcalls (posted, answered in time, timed out, refused
  // as busy or for want of a runtime); all zero without attachCgroup().
  [[nodiscard]] xfp_sock_stats socketHookStats() const;
  // Pended indications held right now.
  [[nodiscard]] size_t pendedNow() const;
  // Flows with a flow context right now.
  [[nodiscard]] size_t flowsWithContexts() const;
  // The worker a 5-tuple's flow lands on (tests pick flows on different workers).
  [[nodiscard]] unsigned workerOf(const uint8_t local[16],
                                  const uint8_t remote[16],
                                  uint16_t localPort,
                                  uint16_t remotePort,
                                  uint8_t proto) const;

  RuntimeImpl& impl() { return *impl_; }

 private:
  explicit CalloutRuntime(std::unique_ptr<RuntimeImpl> impl);
  std::unique_ptr<RuntimeImpl> impl_;
};

}  // namespace xfp::callout
