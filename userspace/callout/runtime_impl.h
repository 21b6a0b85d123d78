// Internals of CalloutRuntime shared by runtime.cpp, fwps_api.cpp and plugin_host.cpp. Not a
// public header.
#pragma once

#include <fwpsk.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "userspace/callout/endpoint_table.h"
#include "userspace/callout/nbl.h"
#include "userspace/callout/plugin_host.h"
#include "userspace/callout/process_identity.h"
#include "userspace/callout/runtime.h"
#include "userspace/core/classifier.h"
#include "userspace/dataplane/punt_io.h"
#include "userspace/dataplane/sock_hooks.h"
#include "xfp/abi.h"

namespace xfp::callout {

using Clock = std::chrono::steady_clock;

struct RegisteredCallout {
  uint32_t id = 0;
  GUID key{};
  uint32_t flags = 0;
  int revision = 0;  // FWPS_CALLOUT0/1/2
  void* classifyFn = nullptr;
  void* notifyFn = nullptr;
  FWPS_CALLOUT_FLOW_DELETE_NOTIFY_FN0 flowDeleteFn = nullptr;
  void* device = nullptr;
  std::atomic<int> inFlight{0};
  std::atomic<bool> unregistering{false};
};

// A flow from this host's point of view (both directions).
struct FlowKey {
  uint8_t local[16] = {};
  uint8_t remote[16] = {};
  uint16_t localPort = 0;
  uint16_t remotePort = 0;
  uint8_t proto = 0;
  uint8_t v6 = 0;
  bool operator==(const FlowKey&) const = default;
};
struct FlowKeyHash {
  size_t operator()(const FlowKey& k) const noexcept;
};

struct Flow {
  uint64_t id = 0;
  FlowKey key;
  bool outbound = false;  // this host sent the first packet
  Clock::time_point lastSeen;
  bool finOut = false;
  bool finIn = false;
  bool ended = false;
  int classifying = 0;  // classifies of this flow running now
  std::map<std::pair<uint16_t, uint32_t>, uint64_t> contexts;   // (layer, callout) -> context
  std::set<std::pair<uint16_t, uint32_t>> deleteAfterClassify;  // FwpsFlowRemoveContext0 PENDING
  enum class Ale { Unknown, Pending, Permit, Block } ale = Ale::Unknown;
  uint64_t aleGen = 0;
};

class InjectionHandle {
 public:
  ADDRESS_FAMILY family = 0;
  uint32_t flags = 0;
  uint32_t mark = 0;
  std::atomic<int> outstanding{0};
  std::atomic<bool> closing{false};
};

// Redirect records a connection carries (FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE): the
// redirect handle of the callout that redirected the connection the proxy accepted
// (FwpsQueryConnectionRedirectState0 compares it with the caller's).
struct RedirectRecords {
  uint64_t handle = 0;
};

// A socket call or socket event at an ALE layer (socket_layers.cpp): the hooks' record, the
// owner, and the writable layer data of the redirect layers. Every version of the request is kept
// (the first is the original), so previousVersion pointers stay valid for the whole classify.
struct SockRequest {
  xfp_sock_event ev{};
  bool upcall = false;  // the hook waits for a reply
  ProcessIdentity who;
  FWP_BYTE_BLOB processPath{};
  Bytes appId;
  std::deque<FWPS_BIND_REQUEST0> bindVersions;
  std::deque<FWPS_CONNECT_REQUEST0> connectVersions;
  std::deque<std::vector<uint8_t>> contexts;  // copies of localRedirectContext
  size_t current = 0;                         // index of the version in effect
  void* acquired = nullptr;  // handed out by FwpsAcquireWritableLayerDataPointer0, not applied
  uint64_t acquiredFilter = 0;
  uint64_t acquiredHandle = 0;
  RedirectRecords records;
  sockaddr_storage originalDestination{};
  bool finished = false;
  Clock::time_point deadline{};  // upcalls: when the hook stops waiting
  // The version classifyFn sees as layerData (read-only view), nullptr at layers without data.
  void* currentLayerData();
};

// One punted packet on its way through the user-space layers.
struct Indication {
  std::weak_ptr<Indication> self;
  std::unique_ptr<NET_BUFFER_LIST> nbl;
  xfp_pkt pkt{};
  bool inbound = true;
  uint32_t ifindex = 0;
  uint32_t reason = 0;
  bool hasFlow = false;
  FlowKey key;
  std::shared_ptr<Flow> flow;
  std::vector<uint16_t> layers;  // FWPS layer ids, WFP order
  // The policy generation this packet is decided by (all its layers, also after a pend).
  std::shared_ptr<const Policy> policy;
  size_t next = 0;
  unsigned worker = 0;
  // State of the layer being classified.
  std::map<uint64_t, FWPS_CLASSIFY_OUT0> memo;  // callout answers, by filter id (replayed)
  std::set<uint64_t> pendingFilters;            // FwpsPendClassify0 not completed yet
  bool pendOperation = false;                   // FwpsPendOperation0 not completed yet
  bool noPend = false;                          // a re-authorization: pends are refused
  uint32_t extraFlags = 0;                      // FWP_CONDITION_FLAG_* for this run
  uint32_t reauthReason = 0;
  uint64_t currentFilterId = 0;
  uint32_t currentCalloutId = 0;
  Clock::time_point pendedAt;
  uint64_t pendId = 0;
  bool rerun = false;       // a completion arrived while the layer was still being classified
  uint64_t sockCookie = 0;  // the sending socket of an outbound punt (0: unknown)
  ProcessIdentity who;      // ALE auth layers: the local process
  Bytes appId;              // FWPS_METADATA_FIELD_PROCESS_PATH's bytes
  FWP_BYTE_BLOB processPath{};
  uint32_t redirectFlags = 0;  // FWP_CONDITION_FLAG_IS_CONNECTION_REDIRECTED
  sockaddr_storage originalDestination{};
  DWORD redirectTargetPid = 0;
  std::shared_ptr<SockRequest> sock;  // a socket-layer indication (no packet)
};

struct ClassifyHandleState {
  std::shared_ptr<Indication> ind;
  bool operation = false;  // FwpsPendOperation0's completion context
  uint32_t calloutId = 0;
  uint64_t filterId = 0;
  int refs = 0;
  bool pended = false;
};

struct AttachedInterface {
  int ifindex = 0;
  std::unique_ptr<dataplane::XskReceiver> xsk;
  std::unique_ptr<dataplane::FrameSender> sender;
  std::unique_ptr<dataplane::InjectPort> inject;
  uint16_t plainSlot = 0;  // injection slot with mark 0
  uint8_t mac[6] = {};     // the interface's own address (destination of inbound injections)
  dataplane::OffloadState offloads;
  bool offloadsChanged = false;
};

// A frame to send once the current batch is done (one sendmmsg per interface and direction).
struct OutFrame {
  uint32_t ifindex = 0;
  bool inbound = true;
  uint32_t mark = 0;
  std::vector<uint8_t> frame;
};

struct Worker {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> tasks;
  std::thread thread;
};

struct RuntimeImpl {
  dataplane::FastPath* fastPath = nullptr;
  RuntimeOptions options;
  RuntimeStats stats;
  std::atomic<bool> stopping{false};

  // Management side.
  mutable std::mutex policyMu;
  Policy policy;  // standalone hosts only; with an engine (publish()) it stays unused
  std::vector<uint64_t> addedSinceCommit;
  std::set<uint64_t> aleFilterIds;
  std::atomic<uint32_t> aleLayerBits{0};  // XFP_ALE_*: the ALE auth layers with filters
  std::atomic<uint64_t> aleGen{1};  // read without policyMu (lock order: flowMu, then policyMu)
  std::shared_ptr<const Policy> snapshot;  // what classification reads
  mutable std::mutex snapshotMu;

  // Registered callouts.
  mutable std::shared_mutex regMu;
  std::map<uint32_t, std::shared_ptr<RegisteredCallout>> callouts;

  // Flows.
  mutable std::mutex flowMu;
  std::unordered_map<FlowKey, std::shared_ptr<Flow>, FlowKeyHash> flows;
  std::unordered_map<uint64_t, std::shared_ptr<Flow>> flowsById;
  uint64_t nextFlowId = 1;

  // Pends and classify handles.
  mutable std::mutex pendMu;
  std::map<uint64_t, std::shared_ptr<Indication>> pended;  // by pendId
  std::map<uint64_t, ClassifyHandleState> handles;
  uint64_t nextHandle = 1;
  uint64_t nextPendId = 1;
  size_t pendedBytes = 0;

  // Injection.
  std::mutex injectMu;
  std::set<InjectionHandle*> injectionHandles;
  uint32_t nextInjectionMark = 1;
  std::mutex completionMu;
  std::condition_variable completionCv;
  std::deque<std::function<void()>> completions;
  std::thread completionThread;

  // I/O.
  std::mutex attachMu;
  std::vector<std::unique_ptr<AttachedInterface>> attached;
  std::unique_ptr<dataplane::RingReceiver> ring;
  int epollFd = -1;
  std::thread ioThread;
  std::vector<std::unique_ptr<Worker>> workers;
  std::thread housekeeping;

  std::unique_ptr<PluginHost> plugins;

  // Socket hooks (socket_layers.cpp): upcalls answered by one responder thread per CPU (a hook
  // spins on the CPU it runs on, so an answer must be able to come from another one), lifetime
  // events classified in order by one thread.
  std::unique_ptr<dataplane::SockHooks> sockHooks;
  // What threads other than the responders and the event thread read (set after attach, cleared
  // before the hooks go): heartbeat, publish, identity lookups, late answers.
  std::atomic<dataplane::SockHooks*> liveSockHooks{nullptr};
  std::atomic<uint32_t> sockLayerBits{0};
  std::atomic<uint64_t> sockWaitNs{200'000'000};
  // leaveSocketHooksAttached(): at stop the pinned hooks stay (refusing at active layers).
  std::atomic<bool> keepSockHooks{false};
  std::mutex sockConsumeMu;
  std::vector<std::thread> responders;
  std::mutex sockEventMu;
  std::condition_variable sockEventCv;
  std::deque<xfp_sock_event> sockEvents;
  uint64_t sockEventsQueued = 0;  // under sockEventMu: pushed to sockEvents so far
  uint64_t sockEventsDone = 0;    // under sockEventMu: handled by the event thread so far
  std::condition_variable sockEventsDoneCv;
  std::thread sockEventThread;
  mutable std::mutex endpointMu;
  EndpointTable endpoints;
  // Redirect handles (FwpsRedirectHandleCreate0): id -> provider key.
  std::mutex redirectMu;
  std::map<uint64_t, GUID> redirectHandles;
  // Endpoint enumeration handles (FwpsAleEndpointCreateEnumHandle0) and the enumeration's
  // security descriptor (FwpsAleEndpointGet/SetSecurityInfo0).
  std::mutex endpointEnumMu;
  std::map<uint64_t, std::vector<uint64_t>> endpointEnums;  // handle -> ids left to return
  uint64_t nextEndpointEnum = 1;
  Bytes endpointSecurity;

  // Map fds.
  int aleFlowsFd = -1;
  int aleCfgFd = -1;
  int runtimeFd = -1;

  // --- runtime.cpp ---
  void start();
  void stop();
  void ioLoop();
  void workerLoop(Worker& w);
  void housekeepingLoop();
  void completionLoop();
  void post(unsigned worker, std::function<void()> task);
  void postCompletion(std::function<void()> fn);
  void onFrame(dataplane::ReceivedFrame&& frame);
  // --- socket_layers.cpp ---
  Result<void> attachSockHooks(const std::string& cgroupPath, const std::string& pinDir);
  void stopSockHooks();
  // Waits, at most `limit`, until the lifetime events the hooks posted before this call have
  // been handled (the endpoint table then shows every bind made before). Not on the event thread.
  void awaitSockEvents(Clock::duration limit);
  void responderLoop(unsigned cpu);
  void sockEventLoop();
  void onSockRequest(const xfp_sock_event& ev);
  void onSockEvent(const xfp_sock_event& ev);
  // Classifies `layerId` for a socket request/event (synchronously, or later after a pend);
  // finishSock() answers an upcall.
  void runSock(const std::shared_ptr<SockRequest>& req, uint16_t layerId);
  void finishSock(Indication& ind, bool permit);
  ProcessIdentity ownerIdentity(uint64_t cookie, const xfp_sock_owner* recorded) const;
  // The listener/bound socket that owns local addr:port (inbound flows' local process).
  ProcessIdentity localEndpointIdentity(const FlowKey& key) const;
  uint32_t sockLayersOf(const Policy& p) const;
  void prepareSockClassify(Indication& ind,
                           uint16_t layerId,
                           IncomingValues& in,
                           FWPS_INCOMING_METADATA_VALUES0& meta);
  // Ends runtime flows of a closed TCP connection / released socket (flowDeleteFn).
  void endFlowsOf(const xfp_sock_event& ev, bool wholeSocket);
  void run(const std::shared_ptr<Indication>& ind);
  enum class LayerOutcome { Permit, Block, Pended };
  LayerOutcome classifyLayer(const std::shared_ptr<Indication>& ind, uint16_t layerId);
  LayerOutcome runClassify(const std::shared_ptr<Indication>& ind,
                           uint16_t layerId,
                           IncomingValues& in,
                           FWPS_INCOMING_METADATA_VALUES0& meta,
                           void* layerData);
  // ALE_AUTH_CONNECT of a connection a callout redirected: the flag and original destination.
  void aleRedirectState(Indication& ind);
  // The incoming values of an ALE auth / flow-established layer for a punted packet.
  IncomingValues aleValues(const Indication& ind, uint16_t layerId) const;
  void finishAle(Indication& ind, bool permit);
  void resume(const std::shared_ptr<Indication>& ind);
  void drop(Indication& ind);
  void sendOut(Indication& ind);
  void deliverInbound(uint32_t ifindex, uint32_t mark, std::vector<uint8_t> frame);
  void sendOutbound(uint32_t ifindex, std::vector<uint8_t> frame);
  void queueOrSend(OutFrame f);
  void flushOut(std::vector<OutFrame>& out);
  std::shared_ptr<Flow> flowFor(const FlowKey& key, bool outbound);
  void endFlow(const std::shared_ptr<Flow>& flow);
  void writeAleEntry(const FlowKey& key, uint32_t verdict, bool outbound, uint64_t flowId);
  void writeAleCfg(uint32_t layers);
  void heartbeat(bool alive);
  unsigned workerFor(const FlowKey& key) const;
  std::shared_ptr<const Policy> currentSnapshot() const;
  // Compiles `p`, publishes it to the fast path (one generation) and makes it what the punt path
  // classifies against. policyMu held.
  Result<void> publishLocked(std::shared_ptr<const Policy> p);
  // Publishes the runtime-owned policy (standalone hosts: xfp-enforce, tests). policyMu held.
  Result<void> commitLocked();
  // Publishes the last published policy again: callout registration changed what it compiles to
  // (§4.5) without changing the policy. policyMu held.
  Result<void> republishLocked();
  // The id of a callout key: the engine's allocator when one owns the policy, else ours.
  uint32_t calloutIdFor(const Guid& key) const;
  bool isRegistered(uint32_t calloutId) const;
  std::shared_ptr<RegisteredCallout> registered(uint32_t calloutId) const;
  AttachedInterface* interfaceFor(uint32_t ifindex);
  void completePend(const std::shared_ptr<Indication>& ind);
  void deleteContextsAfterClassify(Indication& ind);
  void blockPendedOf(uint32_t calloutId);
  NTSTATUS notify(const RegisteredCallout& c,
                  FWPS_CALLOUT_NOTIFY_TYPE type,
                  const Filter& filter,
                  const Policy& policy);
};

// The runtime the C API talks to (one per process).
RuntimeImpl* activeRuntime();
void setActiveRuntime(RuntimeImpl* rt);

// The indication whose classifyFn runs on this thread (classifyContext / completionHandle).
Indication* currentIndication();

}  // namespace xfp::callout
