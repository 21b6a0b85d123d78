#include "userspace/callout/runtime.h"

#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <algorithm>
#include <cstring>

#include "compiler/compiler.h"
#include "compiler/fast_path_fields.h"
#include "userspace/callout/fwps_convert.h"
#include "userspace/callout/runtime_impl.h"
#include "userspace/core/classifier.h"
#include "userspace/core/layers.h"
#include "userspace/core/packet/packet_parse.h"

namespace xfp::callout {

namespace {

std::atomic<RuntimeImpl*> gRuntime{nullptr};
thread_local Indication* tCurrent = nullptr;
// Frames this thread re-sends at the end of its current batch (I/O and worker threads); null on
// other threads (plugin threads injecting): those send at once.
thread_local std::vector<OutFrame>* tOut = nullptr;

struct LayerIds {
  uint16_t inMac = layerIdByName("INBOUND_MAC_FRAME_ETHERNET");
  uint16_t outMac = layerIdByName("OUTBOUND_MAC_FRAME_ETHERNET");
  uint16_t inIp4 = layerIdByName("INBOUND_IPPACKET_V4");
  uint16_t inIp6 = layerIdByName("INBOUND_IPPACKET_V6");
  uint16_t outIp4 = layerIdByName("OUTBOUND_IPPACKET_V4");
  uint16_t outIp6 = layerIdByName("OUTBOUND_IPPACKET_V6");
  uint16_t inTr4 = layerIdByName("INBOUND_TRANSPORT_V4");
  uint16_t inTr6 = layerIdByName("INBOUND_TRANSPORT_V6");
  uint16_t outTr4 = layerIdByName("OUTBOUND_TRANSPORT_V4");
  uint16_t outTr6 = layerIdByName("OUTBOUND_TRANSPORT_V6");
  uint16_t connect4 = layerIdByName("ALE_AUTH_CONNECT_V4");
  uint16_t connect6 = layerIdByName("ALE_AUTH_CONNECT_V6");
  uint16_t accept4 = layerIdByName("ALE_AUTH_RECV_ACCEPT_V4");
  uint16_t accept6 = layerIdByName("ALE_AUTH_RECV_ACCEPT_V6");
  uint16_t established4 = layerIdByName("ALE_FLOW_ESTABLISHED_V4");
  uint16_t established6 = layerIdByName("ALE_FLOW_ESTABLISHED_V6");
};
const LayerIds& ids() {
  static const LayerIds k;
  return k;
}

bool isAleAuth(uint16_t layer) {
  const LayerIds& k = ids();
  return layer == k.connect4 || layer == k.connect6 || layer == k.accept4 || layer == k.accept6;
}

// ALE_FLOW_ESTABLISHED of a non-TCP flow, classified right after its first authorization (TCP
// flows are indicated by the socket hooks at the end of the handshake, socket_layers.cpp).
bool isEstablished(uint16_t layer) {
  const LayerIds& k = ids();
  return layer == k.established4 || layer == k.established6;
}

bool isTransport(uint16_t layer) {
  const LayerIds& k = ids();
  return layer == k.inTr4 || layer == k.inTr6 || layer == k.outTr4 || layer == k.outTr6;
}

bool isIpPacket(uint16_t layer) {
  const LayerIds& k = ids();
  return layer == k.inIp4 || layer == k.inIp6 || layer == k.outIp4 || layer == k.outIp6;
}

uint64_t monotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

xfp_ale_key aleKey(const FlowKey& k) {
  xfp_ale_key a{};
  std::memcpy(a.local, k.local, 16);
  std::memcpy(a.remote, k.remote, 16);
  a.local_port = k.localPort;
  a.remote_port = k.remotePort;
  a.proto = k.proto;
  a.v6 = k.v6;
  return a;
}

// The key of a packet's flow, as the BPF ALE stage builds it (bpf/lib/enforce.h, xfp_ale).
bool flowKeyOf(const xfp_pkt& pkt, bool inbound, FlowKey& k) {
  if ((pkt.flags & (XFP_PKT_F_IPV4 | XFP_PKT_F_IPV6)) == 0 ||
      (pkt.flags & (XFP_PKT_F_LATER_FRAGMENT | XFP_PKT_F_MALFORMED)) != 0) {
    return false;
  }
  std::memcpy(k.local, inbound ? pkt.dst_addr : pkt.src_addr, 16);
  std::memcpy(k.remote, inbound ? pkt.src_addr : pkt.dst_addr, 16);
  const bool icmp = pkt.ip_proto == 1 || pkt.ip_proto == 58;
  if ((pkt.flags & XFP_PKT_F_L4) != 0 && !icmp) {
    k.localPort = inbound ? pkt.dst_port : pkt.src_port;
    k.remotePort = inbound ? pkt.src_port : pkt.dst_port;
  }
  k.proto = pkt.ip_proto;
  k.v6 = (pkt.flags & XFP_PKT_F_IPV6) != 0 ? 1 : 0;
  return true;
}

// Where a layer's data starts (wfp-model.md §1.6, "layerData").
size_t layerOffset(const NET_BUFFER_LIST& nbl, uint16_t layer, bool inbound) {
  const LayerIds& k = ids();
  const size_t l4 = nbl.l4 != 0 ? nbl.l4 : nbl.frame.size();
  size_t payload = l4;
  if (nbl.l4 != 0 && nbl.l4 < nbl.frame.size()) {
    const uint8_t proto = nbl.frame.size() > nbl.l3 + 9 && (nbl.frame[nbl.l3] >> 4) == 4
                              ? nbl.frame[nbl.l3 + 9]
                              : (nbl.frame.size() > nbl.l3 + 6 ? nbl.frame[nbl.l3 + 6] : 0);
    if (proto == 6 && nbl.frame.size() >= l4 + 20) {
      payload = l4 + static_cast<size_t>(nbl.frame[l4 + 12] >> 4) * 4;
    } else if (proto == 17) {
      payload = l4 + 8;
    }
  }
  payload = std::min(payload, nbl.frame.size());
  if (layer == k.inMac) {
    return nbl.l3;
  }
  if (layer == k.outMac) {
    return 0;
  }
  if (layer == k.inIp4 || layer == k.inIp6) {
    return l4;
  }
  if (layer == k.outIp4 || layer == k.outIp6) {
    return nbl.l3;
  }
  if (layer == k.inTr4 || layer == k.inTr6) {
    return payload;
  }
  if (layer == k.outTr4 || layer == k.outTr6) {
    return l4;
  }
  return inbound ? payload : l4;  // ALE auth layers
}

int slotOfLayer(uint16_t layer) {
  return fastpath::layerSlotOf(layer);
}

}  // namespace

size_t FlowKeyHash::operator()(const FlowKey& k) const noexcept {
  uint64_t h = 0x9E3779B97F4A7C15ull;
  auto mix = [&](uint64_t v) {
    h ^= v;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 29;
  };
  uint64_t w[4];
  std::memcpy(w, k.local, 16);
  std::memcpy(w + 2, k.remote, 16);
  for (uint64_t v : w) {
    mix(v);
  }
  mix(static_cast<uint64_t>(k.localPort) << 24 | static_cast<uint64_t>(k.remotePort) << 8 |
      k.proto);
  return static_cast<size_t>(h);
}

RuntimeImpl* activeRuntime() {
  return gRuntime.load(std::memory_order_acquire);
}
void setActiveRuntime(RuntimeImpl* rt) {
  gRuntime.store(rt, std::memory_order_release);
}
Indication* currentIndication() {
  return tCurrent;
}

// ---------------------------------------------------------------------------------------------
// The callout adapter the reference classifier calls.

namespace {

class Invoker final : public CalloutRegistry {
 public:
  Invoker(RuntimeImpl& rt,
          Indication& ind,
          const Policy& policy,
          const FWPS_INCOMING_METADATA_VALUES0& meta,
          void* layerData)
      : rt_(rt), ind_(ind), policy_(policy), meta_(meta), layerData_(layerData) {}

  [[nodiscard]] bool isRegistered(uint32_t calloutId) const override {
    auto c = rt_.registered(calloutId);
    return c != nullptr && !c->unregistering.load();
  }
  [[nodiscard]] uint32_t registrationFlags(uint32_t calloutId) const override {
    auto c = rt_.registered(calloutId);
    return c != nullptr ? c->flags : 0;
  }
  [[nodiscard]] bool hasFlowContext(uint32_t calloutId,
                                    uint64_t flowHandle,
                                    uint16_t layerId) const override {
    std::lock_guard lock(rt_.flowMu);
    auto it = rt_.flowsById.find(flowHandle);
    return it != rt_.flowsById.end() && it->second->contexts.count({layerId, calloutId}) != 0;
  }

  void classify(uint32_t calloutId, const CalloutInvocation& call, ClassifyOut& out) override {
    const uint64_t fid = call.filter.filterId;
    {
      // The memo is shared with completions arriving on other threads.
      std::lock_guard lock(rt_.pendMu);
      if (auto m = ind_.memo.find(fid); m != ind_.memo.end()) {
        out.actionType = static_cast<ActionType>(m->second.actionType);
        out.rights = m->second.rights;
        out.flags = m->second.flags;
        return;
      }
    }
    auto c = rt_.registered(calloutId);
    if (c == nullptr || c->unregistering.load()) {
      out.actionType = ActionType::Block;
      out.rights = 0;
      return;
    }
    FwpsIncoming in;
    in.fill(call.in);
    FwpsFilterImage filter;
    filter.fill(call.filter, policy_, calloutId);
    uint64_t flowContext = 0;
    if (call.meta.hasFlowHandle) {
      std::lock_guard lock(rt_.flowMu);
      auto it = rt_.flowsById.find(call.meta.flowHandle);
      if (it != rt_.flowsById.end()) {
        auto ctx = it->second->contexts.find({call.in.layerId, calloutId});
        if (ctx != it->second->contexts.end()) {
          flowContext = ctx->second;
        }
      }
    }
    // Socket layers: the request as the callouts before this one left it (wfp-model.md §6.2).
    void* layerData = layerData_;
    if (ind_.sock) {
      std::lock_guard lock(rt_.pendMu);  // a pended callout may acquire/apply meanwhile
      layerData = ind_.sock->currentLayerData();
    }
    FWPS_CLASSIFY_OUT0 co{};
    co.actionType = static_cast<FWP_ACTION_TYPE>(out.actionType);
    co.rights = out.rights;
    co.flags = out.flags;
    ind_.currentFilterId = fid;
    ind_.currentCalloutId = calloutId;
    Indication* saved = tCurrent;
    tCurrent = &ind_;
    c->inFlight.fetch_add(1);
    try {
      switch (c->revision) {
        case 0:
          reinterpret_cast<FWPS_CALLOUT_CLASSIFY_FN0>(c->classifyFn)(
              &in.in,
              &meta_,
              layerData,
              reinterpret_cast<const FWPS_FILTER0*>(&filter.filter),
              flowContext,
              &co);
          break;
        case 1:
          reinterpret_cast<FWPS_CALLOUT_CLASSIFY_FN1>(c->classifyFn)(
              &in.in,
              &meta_,
              layerData,
              &ind_,
              reinterpret_cast<const FWPS_FILTER1*>(&filter.filter),
              flowContext,
              &co);
          break;
        default:
          reinterpret_cast<FWPS_CALLOUT_CLASSIFY_FN2>(c->classifyFn)(
              &in.in, &meta_, layerData, &ind_, &filter.filter, flowContext, &co);
          break;
      }
    } catch (...) {
      // A classifyFn that throws decides nothing: fail closed with a hard BLOCK.
      rt_.stats.pluginFaults.fetch_add(1);
      spdlog::warn("callout {}: classifyFn threw; the packet is blocked", calloutId);
      co.actionType = FWP_ACTION_BLOCK;
      co.rights = 0;
      co.flags = 0;
    }
    c->inFlight.fetch_sub(1);
    tCurrent = saved;
    {
      // A completion that raced ahead of this return already stored the final answer: keep it.
      std::lock_guard lock(rt_.pendMu);
      ind_.memo.emplace(fid, co);
    }
    out.actionType = static_cast<ActionType>(co.actionType);
    out.rights = co.rights;
    out.flags = co.flags;
  }

 private:
  RuntimeImpl& rt_;
  Indication& ind_;
  const Policy& policy_;
  const FWPS_INCOMING_METADATA_VALUES0& meta_;
  void* layerData_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Lifecycle

Result<std::unique_ptr<CalloutRuntime>> CalloutRuntime::create(dataplane::FastPath& fastPath,
                                                               Policy policy,
                                                               RuntimeOptions options) {
  if (activeRuntime() != nullptr) {
    return fail(0, "a callout runtime already runs in this process");
  }
  auto impl = std::make_unique<RuntimeImpl>();
  impl->fastPath = &fastPath;
  impl->options = options;
  impl->policy = std::move(policy);
  impl->aleFlowsFd = fastPath.mapFd("xfp_ale_flows");
  impl->aleCfgFd = fastPath.mapFd("xfp_ale_cfg");
  {
    // An adopted data path keeps the ALE verdicts an earlier runtime cached under its
    // generation; start past it so every cached flow is re-authorized against our policy (the
    // flow state of that runtime -- contexts, pends -- is gone with it).
    uint32_t zero = 0;
    xfp_ale_cfg c{};
    if (impl->aleCfgFd >= 0 && bpf_map_lookup_elem(impl->aleCfgFd, &zero, &c) == 0) {
      impl->aleGen = std::max<uint64_t>(impl->aleGen.load(), c.ale_gen + 1);
    }
  }
  impl->runtimeFd = fastPath.mapFd("xfp_runtime");
  auto ring = dataplane::RingReceiver::open(fastPath.tcMapFd("xfp_punt_rb"));
  if (!ring) {
    return fail(0, ring.error().describe());
  }
  impl->ring = std::move(*ring);
  impl->plugins = std::make_unique<PluginHost>(*impl);
  {
    std::lock_guard lock(impl->policyMu);
    if (auto r = impl->commitLocked(); !r) {
      return tl::unexpected(r.error());
    }
  }
  impl->start();
  setActiveRuntime(impl.get());
  return std::unique_ptr<CalloutRuntime>(new CalloutRuntime(std::move(impl)));
}

CalloutRuntime::CalloutRuntime(std::unique_ptr<RuntimeImpl> impl) : impl_(std::move(impl)) {}

CalloutRuntime::~CalloutRuntime() {
  // Plugins first (their DriverUnload uses the C API), then the threads.
  impl_->plugins.reset();
  impl_->stop();
  setActiveRuntime(nullptr);
}

void RuntimeImpl::start() {
  epollFd = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = UINT64_MAX;  // the ring
  ::epoll_ctl(epollFd, EPOLL_CTL_ADD, ring->epollFd(), &ev);
  for (unsigned i = 0; i < options.workers; ++i) {
    workers.push_back(std::make_unique<Worker>());
  }
  for (auto& w : workers) {
    Worker* wp = w.get();
    w->thread = std::thread([this, wp] { workerLoop(*wp); });
  }
  heartbeat(true);
  ioThread = std::thread([this] { ioLoop(); });
  housekeeping = std::thread([this] { housekeepingLoop(); });
  completionThread = std::thread([this] { completionLoop(); });
}

void RuntimeImpl::stop() {
  if (stopping.exchange(true)) {
    return;
  }
  heartbeat(false);  // from now on callouts count as unregistered in the kernel
  if (sockHooks) {
    // Socket calls waiting from now on are refused at once (fail closed).
    sockHooks->configure(sockLayerBits.load(), 0, static_cast<uint32_t>(::getpid()));
  }
  if (ioThread.joinable()) {
    ioThread.join();
  }
  for (auto& w : workers) {
    { std::lock_guard lock(w->mu); }
    w->cv.notify_all();
    if (w->thread.joinable()) {
      w->thread.join();
    }
  }
  if (housekeeping.joinable()) {
    housekeeping.join();
  }
  // Pended indications are blocked; flows end (flowDeleteFn) before the runtime goes.
  std::vector<std::shared_ptr<Indication>> held;
  {
    std::lock_guard lock(pendMu);
    for (auto& [id, ind] : pended) {
      held.push_back(ind);
    }
    pended.clear();
    handles.clear();
  }
  for (auto& ind : held) {
    drop(*ind);
  }
  // The socket hooks go after everything that may still answer through them.
  stopSockHooks();
  std::vector<std::shared_ptr<Flow>> all;
  {
    std::lock_guard lock(flowMu);
    for (auto& [k, f] : flows) {
      all.push_back(f);
    }
  }
  for (auto& f : all) {
    endFlow(f);
  }
  { std::lock_guard lock(completionMu); }
  completionCv.notify_all();
  if (completionThread.joinable()) {
    completionThread.join();
  }
  {
    std::lock_guard lock(attachMu);
    for (auto& a : attached) {
      if (a->offloadsChanged) {
        dataplane::restoreOffloads(a->offloads);
      }
    }
    attached.clear();
  }
  if (epollFd >= 0) {
    ::close(epollFd);
  }
}

void RuntimeImpl::heartbeat(bool alive) {
  uint32_t zero = 0;
  xfp_runtime r{};
  r.heartbeat_ns = alive ? monotonicNs() : 0;
  r.pid = static_cast<uint32_t>(::getpid());
  bpf_map_update_elem(runtimeFd, &zero, &r, BPF_ANY);
  if (dataplane::SockHooks* hooks = liveSockHooks.load(); hooks != nullptr && alive) {
    hooks->heartbeat();
  }
}

Result<void> CalloutRuntime::attach(int ifindex) {
  RuntimeImpl& rt = *impl_;
  auto a = std::make_unique<AttachedInterface>();
  a->ifindex = ifindex;
  if (rt.options.disableOffloads) {
    auto off = dataplane::disableSegmentationOffloads(ifindex);
    if (off) {
      a->offloads = *off;
      a->offloadsChanged = true;
    }
  }
  auto xsk = dataplane::XskReceiver::open(ifindex, rt.fastPath->mapFd("xfp_xsks"));
  if (!xsk) {
    return fail(0, xsk.error().describe());
  }
  a->xsk = std::move(*xsk);
  auto sender = dataplane::FrameSender::open(ifindex, true);
  if (!sender) {
    return fail(0, sender.error().describe());
  }
  a->sender = std::make_unique<dataplane::FrameSender>(std::move(*sender));
  const std::string tag = std::to_string(::getpid() % 100000) + "x" + std::to_string(ifindex);
  auto port = dataplane::InjectPort::create(
      tag, rt.fastPath->tcInjectProgFd(), rt.fastPath->tcMapFd("xfp_inj_targets"));
  if (!port) {
    return fail(0, port.error().describe());
  }
  a->inject = std::move(*port);
  auto slot = a->inject->slotFor(ifindex, 0);
  if (!slot) {
    return fail(0, slot.error().describe());
  }
  a->plainSlot = *slot;
  {
    dataplane::UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    if (s.get() >= 0 && if_indextoname(static_cast<unsigned>(ifindex), ifr.ifr_name) != nullptr &&
        ::ioctl(s.get(), SIOCGIFHWADDR, &ifr) == 0) {
      std::memcpy(a->mac, ifr.ifr_hwaddr.sa_data, 6);
    }
  }
  std::lock_guard lock(rt.attachMu);
  for (size_t i = 0; i < a->xsk->sockets(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = (static_cast<uint64_t>(rt.attached.size()) << 32) | i;
    ::epoll_ctl(rt.epollFd, EPOLL_CTL_ADD, a->xsk->fd(i), &ev);
  }
  rt.attached.push_back(std::move(a));
  return {};
}

Result<void> CalloutRuntime::attachCgroup(const std::string& cgroupPath,
                                          std::chrono::milliseconds wait,
                                          const std::string& pinDir) {
  impl_->sockWaitNs.store(static_cast<uint64_t>(wait.count()) * 1000000ull);
  return impl_->attachSockHooks(cgroupPath, pinDir);
}

void CalloutRuntime::leaveSocketHooksAttached() {
  impl_->keepSockHooks.store(true);
}

AttachedInterface* RuntimeImpl::interfaceFor(uint32_t ifindex) {
  std::lock_guard lock(attachMu);
  for (auto& a : attached) {
    if (static_cast<uint32_t>(a->ifindex) == ifindex) {
      return a.get();
    }
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Threads

void RuntimeImpl::ioLoop() {
  std::vector<dataplane::ReceivedFrame> frames;
  std::vector<OutFrame> out;
  tOut = &out;
  epoll_event events[16];
  bool busy = false;
  while (!stopping.load()) {
    // While frames keep coming, poll without sleeping (fewer wake-ups and context switches).
    const int n = ::epoll_wait(epollFd, events, 16, busy ? 0 : 50);
    frames.clear();
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[i].data.u64;
      if (tag == UINT64_MAX) {
        ring->consume(frames);
        continue;
      }
      std::lock_guard lock(attachMu);
      const size_t ai = static_cast<size_t>(tag >> 32);
      if (ai < attached.size()) {
        attached[ai]->xsk->receive(static_cast<size_t>(tag & 0xffffffff), frames, 256);
      }
    }
    busy = !frames.empty();
    for (auto& f : frames) {
      onFrame(std::move(f));
    }
    flushOut(out);
  }
  tOut = nullptr;
}

void RuntimeImpl::post(unsigned worker, std::function<void()> task) {
  if (workers.empty()) {
    task();
    return;
  }
  Worker& w = *workers[worker % workers.size()];
  {
    std::lock_guard lock(w.mu);
    w.tasks.push_back(std::move(task));
  }
  w.cv.notify_one();
}

void RuntimeImpl::workerLoop(Worker& w) {
  std::deque<std::function<void()>> batch;
  std::vector<OutFrame> out;
  tOut = &out;
  while (true) {
    {
      std::unique_lock lock(w.mu);
      w.cv.wait_for(
          lock, std::chrono::milliseconds(50), [&] { return !w.tasks.empty() || stopping.load(); });
      if (w.tasks.empty() && stopping.load()) {
        return;
      }
      batch.swap(w.tasks);
    }
    for (auto& t : batch) {
      t();
    }
    batch.clear();
    flushOut(out);
  }
}

void RuntimeImpl::postCompletion(std::function<void()> fn) {
  {
    std::lock_guard lock(completionMu);
    completions.push_back(std::move(fn));
  }
  completionCv.notify_one();
}

void RuntimeImpl::completionLoop() {
  while (true) {
    std::deque<std::function<void()>> batch;
    {
      std::unique_lock lock(completionMu);
      completionCv.wait_for(lock, std::chrono::milliseconds(50), [&] {
        return !completions.empty() || stopping.load();
      });
      if (completions.empty() && stopping.load()) {
        return;
      }
      batch.swap(completions);
    }
    for (auto& fn : batch) {
      fn();
    }
  }
}

void RuntimeImpl::housekeepingLoop() {
  auto lastBeat = Clock::now() - std::chrono::seconds(1);
  while (!stopping.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const auto now = Clock::now();
    if (now - lastBeat >= std::chrono::milliseconds(100)) {
      heartbeat(true);
      lastBeat = now;
    }
    // Pends past their time: BLOCK (docs/callouts.md, "Pend bounds").
    std::vector<std::shared_ptr<Indication>> expired;
    {
      std::lock_guard lock(pendMu);
      for (auto it = pended.begin(); it != pended.end();) {
        if (now - it->second->pendedAt >= options.pendTimeout) {
          expired.push_back(it->second);
          pendedBytes -= std::min(pendedBytes, it->second->nbl->frame.size());
          it = pended.erase(it);
        } else {
          ++it;
        }
      }
      for (auto it = handles.begin(); it != handles.end();) {
        bool gone = false;
        for (auto& e : expired) {
          gone = gone || it->second.ind == e;
        }
        it = gone ? handles.erase(it) : std::next(it);
      }
    }
    for (auto& ind : expired) {
      stats.pendTimedOut.fetch_add(1);
      spdlog::warn("a pended classify timed out after {} ms: blocked", options.pendTimeout.count());
      if (!ind->layers.empty() && ind->next < ind->layers.size() &&
          isAleAuth(ind->layers[ind->next])) {
        finishAle(*ind, false);
      }
      drop(*ind);
    }
    // Idle flows end.
    std::vector<std::shared_ptr<Flow>> idle;
    {
      std::lock_guard lock(flowMu);
      for (auto& [k, f] : flows) {
        if (now - f->lastSeen >= options.flowIdle && f->classifying == 0) {
          idle.push_back(f);
        }
      }
    }
    for (auto& f : idle) {
      endFlow(f);
    }
  }
}

unsigned RuntimeImpl::workerFor(const FlowKey& key) const {
  return workers.empty() ? 0 : static_cast<unsigned>(FlowKeyHash{}(key) % workers.size());
}

unsigned CalloutRuntime::workerOf(const uint8_t local[16],
                                  const uint8_t remote[16],
                                  uint16_t localPort,
                                  uint16_t remotePort,
                                  uint8_t proto) const {
  FlowKey k;
  std::memcpy(k.local, local, 16);
  std::memcpy(k.remote, remote, 16);
  k.localPort = localPort;
  k.remotePort = remotePort;
  k.proto = proto;
  return impl_->workerFor(k);
}

// ---------------------------------------------------------------------------------------------
// Flows

std::shared_ptr<Flow> RuntimeImpl::flowFor(const FlowKey& key, bool outbound) {
  std::shared_ptr<Flow> evicted;
  {
    std::lock_guard lock(flowMu);
    auto it = flows.find(key);
    if (it != flows.end()) {
      it->second->lastSeen = Clock::now();
      return it->second;
    }
    if (flows.size() >= options.maxFlows) {
      // The table is full: the flow seen least recently ends (its flowDeleteFn runs) to make
      // room -- a flood of new flows cannot grow the runtime without bound.
      for (const auto& [k, f] : flows) {
        if (f->classifying == 0 && (!evicted || f->lastSeen < evicted->lastSeen)) {
          evicted = f;
        }
      }
    }
  }
  if (evicted) {
    endFlow(evicted);
    stats.flowsEvicted.fetch_add(1);
  }
  std::lock_guard lock(flowMu);
  if (auto it = flows.find(key); it != flows.end()) {
    it->second->lastSeen = Clock::now();
    return it->second;
  }
  auto f = std::make_shared<Flow>();
  f->id = nextFlowId++;
  f->key = key;
  f->outbound = outbound;
  f->lastSeen = Clock::now();
  flows.emplace(key, f);
  flowsById.emplace(f->id, f);
  return f;
}

void RuntimeImpl::endFlow(const std::shared_ptr<Flow>& flow) {
  std::map<std::pair<uint16_t, uint32_t>, uint64_t> contexts;
  {
    std::lock_guard lock(flowMu);
    if (flow->ended) {
      return;
    }
    flow->ended = true;
    contexts.swap(flow->contexts);
    flows.erase(flow->key);
    flowsById.erase(flow->id);
  }
  // flowDeleteFn exactly once per associated context (wfp-model.md §5.5).
  for (const auto& [lc, ctx] : contexts) {
    auto c = registered(lc.second);
    if (c != nullptr && c->flowDeleteFn != nullptr) {
      try {
        c->flowDeleteFn(lc.first, lc.second, ctx);
      } catch (...) {
        stats.pluginFaults.fetch_add(1);
      }
    }
  }
  stats.flowsEnded.fetch_add(1);
}

void RuntimeImpl::writeAleEntry(const FlowKey& key,
                                uint32_t verdict,
                                bool outbound,
                                uint64_t flowId) {
  xfp_ale_key k = aleKey(key);
  xfp_ale_flow v{};
  v.ale_gen = aleGen.load();
  v.verdict = verdict;
  v.outbound = outbound ? 1 : 0;
  v.flow_id = flowId;
  bpf_map_update_elem(aleFlowsFd, &k, &v, BPF_ANY);
}

void RuntimeImpl::writeAleCfg(uint32_t layers) {
  uint32_t zero = 0;
  xfp_ale_cfg c{};
  c.ale_gen = aleGen.load();
  c.layers = layers;
  bpf_map_update_elem(aleCfgFd, &zero, &c, BPF_ANY);
}

// ---------------------------------------------------------------------------------------------
// Packets

void RuntimeImpl::onFrame(dataplane::ReceivedFrame&& frame) {
  stats.punted.fetch_add(1);
  auto ind = std::make_shared<Indication>();
  ind->self = ind;
  ind->inbound = frame.inbound;
  ind->ifindex = frame.ifindex;
  ind->reason = frame.reason;
  ind->sockCookie = frame.sockCookie;
  ind->pkt = packet::parse(frame.bytes);
  ind->nbl.reset(newNetBufferList(std::move(frame.bytes), 0));
  ind->nbl->ifindex = frame.ifindex;
  ind->nbl->inbound = frame.inbound;
  ind->hasFlow = flowKeyOf(ind->pkt, ind->inbound, ind->key);
  ind->worker = ind->hasFlow ? workerFor(ind->key) : 0;
  if (!workers.empty()) {
    // A worker that cannot keep up does not queue without bound: new packets beyond the bound
    // are dropped (fail closed) and counted; completions are always queued.
    Worker& w = *workers[ind->worker % workers.size()];
    std::lock_guard lock(w.mu);
    if (w.tasks.size() >= options.maxQueuedPerWorker) {
      stats.overloadDropped.fetch_add(1);
      return;
    }
  }
  post(ind->worker, [this, ind] { run(ind); });
}

void RuntimeImpl::run(const std::shared_ptr<Indication>& ind) {
  const LayerIds& k = ids();
  const xfp_pkt& p = ind->pkt;
  const bool v4 = (p.flags & XFP_PKT_F_IPV4) != 0;
  const bool v6 = (p.flags & XFP_PKT_F_IPV6) != 0;
  const bool transport = (v4 || v6) && (p.flags & XFP_PKT_F_LATER_FRAGMENT) == 0;
  // ALE: the flow's auth layer classifies the first packet, re-authorizes after a policy change,
  // and holds back packets of a pended flow.
  bool ale = false;
  uint16_t aleLayer = 0;
  if (ind->hasFlow) {
    ind->flow = flowFor(ind->key, !ind->inbound);
    const bool outboundFlow = ind->flow->outbound;
    aleLayer = outboundFlow ? (v6 ? k.connect6 : k.connect4) : (v6 ? k.accept6 : k.accept4);
    const uint64_t gen = aleGen.load();
    const uint32_t bits = aleLayerBits.load();
    const bool layerActive = (bits & (aleLayer == k.connect4   ? XFP_ALE_CONNECT_V4
                                      : aleLayer == k.connect6 ? XFP_ALE_CONNECT_V6
                                      : aleLayer == k.accept4  ? XFP_ALE_RECV_ACCEPT_V4
                                                               : XFP_ALE_RECV_ACCEPT_V6)) != 0;
    Flow::Ale state;
    uint64_t flowGen;
    {
      std::lock_guard lock(flowMu);
      state = ind->flow->ale;
      flowGen = ind->flow->aleGen;
      ind->flow->classifying++;
    }
    if (state == Flow::Ale::Pending) {
      // A retransmission of a pended flow's packet: the first one is held; this one goes.
      std::lock_guard lock(flowMu);
      ind->flow->classifying--;
      stats.blocked.fetch_add(1);
      return;
    }
    if (layerActive && (state == Flow::Ale::Unknown || flowGen != gen)) {
      ale = true;
      if (state != Flow::Ale::Unknown) {
        ind->extraFlags = condition_flag::kIsReauthorize;
        ind->reauthReason = 0x1;  // FWP_CONDITION_REAUTHORIZE_REASON_POLICY_CHANGE
        ind->noPend = true;
      }
    } else if (state == Flow::Ale::Block && flowGen == gen) {
      std::lock_guard lock(flowMu);
      ind->flow->classifying--;
      stats.blocked.fetch_add(1);
      return;
    }
  }
  // A non-TCP flow's first authorization is followed by ALE_FLOW_ESTABLISHED (wfp-model.md §1.6).
  const bool established =
      ale && (ind->extraFlags & condition_flag::kIsReauthorize) == 0 && p.ip_proto != IPPROTO_TCP;
  if (ind->inbound) {
    ind->layers.push_back(k.inMac);
    if (v4 || v6) {
      ind->layers.push_back(v6 ? k.inIp6 : k.inIp4);
    }
    if (transport) {
      ind->layers.push_back(v6 ? k.inTr6 : k.inTr4);
    }
    if (ale) {
      ind->layers.push_back(aleLayer);
      if (established) {
        ind->layers.push_back(v6 ? k.established6 : k.established4);
      }
    }
  } else {
    if (ale) {
      ind->layers.push_back(aleLayer);
      if (established) {
        ind->layers.push_back(v6 ? k.established6 : k.established4);
      }
    }
    if (transport) {
      ind->layers.push_back(v6 ? k.outTr6 : k.outTr4);
    }
    if (v4 || v6) {
      ind->layers.push_back(v6 ? k.outIp6 : k.outIp4);
    }
    ind->layers.push_back(k.outMac);
  }
  resume(ind);
}

// Runs the remaining layers of an indication (from ind->next), then sends or drops it.
void RuntimeImpl::resume(const std::shared_ptr<Indication>& ind) {
  while (ind->next < ind->layers.size()) {
    const uint16_t layer = ind->layers[ind->next];
    const LayerOutcome o = classifyLayer(ind, layer);
    if (o == LayerOutcome::Pended) {
      return;  // completion resumes it
    }
    if (isAleAuth(layer) || (isEstablished(layer) && o == LayerOutcome::Block)) {
      finishAle(*ind, o == LayerOutcome::Permit);  // a BLOCK at flow established ends the flow
    }
    if (o == LayerOutcome::Block) {
      drop(*ind);
      return;
    }
    ind->next++;
    ind->memo.clear();
    ind->extraFlags = 0;
    ind->reauthReason = 0;
    ind->noPend = false;
  }
  sendOut(*ind);
}

void RuntimeImpl::finishAle(Indication& ind, bool permit) {
  if (!ind.flow) {
    return;
  }
  {
    std::lock_guard lock(flowMu);
    ind.flow->ale = permit ? Flow::Ale::Permit : Flow::Ale::Block;
    ind.flow->aleGen = aleGen.load();
  }
  writeAleEntry(ind.key, permit ? XFP_ALE_PERMIT : XFP_ALE_BLOCK, ind.flow->outbound, ind.flow->id);
}

IncomingValues RuntimeImpl::aleValues(const Indication& ind, uint16_t layerId) const {
  IncomingValues in = aleIncomingValues(layerId,
                                        ind.pkt,
                                        ind.inbound,
                                        ind.ifindex,
                                        ind.extraFlags | ind.redirectFlags,
                                        ind.reauthReason,
                                        &ind.who);
  const LayerInfo* layer = layerById(layerId);
  if (isEstablished(layerId) && ind.flow && layer != nullptr) {
    if (const FieldInfo* f = layer->fieldByName("DIRECTION"); f != nullptr) {
      in.values[f->index] =
          Value::uint32(ind.flow->outbound ? FWP_DIRECTION_OUTBOUND : FWP_DIRECTION_INBOUND);
    }
  }
  return in;
}

RuntimeImpl::LayerOutcome RuntimeImpl::classifyLayer(const std::shared_ptr<Indication>& ind,
                                                     uint16_t layerId) {
  if (!ind->policy) {
    ind->policy = currentSnapshot();
  }
  const std::shared_ptr<const Policy>& snap = ind->policy;
  const LayerInfo* layer = layerById(layerId);
  if (layer == nullptr) {
    return LayerOutcome::Block;
  }
  // Nothing at this layer: FWP_ACTION_NONE_NO_MATCH.
  if (snap->arbitrationOrder(layerId).empty()) {
    return LayerOutcome::Permit;
  }
  IncomingValues in;
  FWPS_INCOMING_METADATA_VALUES0 meta{};
  NET_BUFFER_LIST& nbl = *ind->nbl;
  if (ind->sock) {
    // A socket call or socket event: no packet (socket_layers.cpp).
    prepareSockClassify(*ind, layerId, in, meta);
    return runClassify(ind, layerId, in, meta, nullptr);
  }
  const fastpath::PacketMeta pm{
      ind->ifindex, ind->inbound ? fastpath::Direction::Inbound : fastpath::Direction::Outbound};
  const bool ale = isAleAuth(layerId) || isEstablished(layerId);
  ProcessIdentity who;
  if (ale) {
    // The local process: the sending socket's owner (outbound), else the socket that owns the
    // flow's local address and port (the listener of an accepted connection).
    who = ind->sockCookie != 0 ? ownerIdentity(ind->sockCookie, nullptr) : ProcessIdentity{};
    if (!who.known && ind->hasFlow) {
      who = localEndpointIdentity(ind->key);
      if (!who.known && ind->inbound) {
        // The bind of the socket serving it may be in the events not yet handled (a listener
        // that connections reach right after listen()): catch up once, bounded.
        awaitSockEvents(std::chrono::milliseconds(20));
        who = localEndpointIdentity(ind->key);
      }
    }
    ind->who = who;
    aleRedirectState(*ind);
    in = aleValues(*ind, layerId);
  } else {
    const int slot = slotOfLayer(layerId);
    if (slot < 0) {
      return LayerOutcome::Block;
    }
    in = fastpath::incomingValues(slot, ind->pkt, pm);
  }
  // Metadata (what Linux can supply at this layer).
  const bool hasTransport = nbl.l4 != 0;
  if (ind->flow && (isTransport(layerId) || ale)) {
    meta.currentMetadataValues |= FWPS_METADATA_FIELD_FLOW_HANDLE;
    meta.flowHandle = ind->flow->id;
  }
  if (isIpPacket(layerId) || isTransport(layerId) || ale) {
    meta.currentMetadataValues |= FWPS_METADATA_FIELD_IP_HEADER_SIZE;
    meta.ipHeaderSize = static_cast<UINT32>(hasTransport ? nbl.l4 - nbl.l3 : 0);
    meta.currentMetadataValues |= FWPS_METADATA_FIELD_COMPARTMENT_ID;
    meta.compartmentId = 1;
  }
  if ((isTransport(layerId) || ale) && hasTransport) {
    meta.currentMetadataValues |= FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE;
    meta.transportHeaderSize = static_cast<UINT32>(layerOffset(nbl, ids().inTr4, true) - nbl.l4);
  }
  if (ind->inbound) {
    meta.currentMetadataValues |= FWPS_METADATA_FIELD_SOURCE_INTERFACE_INDEX;
    meta.sourceInterfaceIndex = ind->ifindex;
  } else {
    meta.currentMetadataValues |= FWPS_METADATA_FIELD_DESTINATION_INTERFACE_INDEX;
    meta.destinationInterfaceIndex = ind->ifindex;
  }
  if (ale) {
    if (!isEstablished(layerId)) {  // no pend at flow established
      meta.currentMetadataValues |= FWPS_METADATA_FIELD_COMPLETION_HANDLE;
      meta.completionHandle = ind.get();
    }
    meta.currentMetadataValues |= FWPS_METADATA_FIELD_PACKET_DIRECTION;
    meta.packetDirection = ind->inbound ? FWP_DIRECTION_INBOUND : FWP_DIRECTION_OUTBOUND;
    if (ind->who.known) {
      meta.currentMetadataValues |= FWPS_METADATA_FIELD_PROCESS_ID;
      meta.processId = ind->who.tgid;
      if (!ind->who.exePath.empty()) {
        ind->appId = ind->who.appId();
        ind->processPath.size = static_cast<UINT32>(ind->appId.size());
        ind->processPath.data = ind->appId.data();
        meta.currentMetadataValues |= FWPS_METADATA_FIELD_PROCESS_PATH;
        meta.processPath = &ind->processPath;
      }
    }
    if (ind->sockCookie != 0) {
      meta.currentMetadataValues |= FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE;
      meta.transportEndpointHandle = ind->sockCookie;
    }
    if ((ind->redirectFlags & FWP_CONDITION_FLAG_IS_CONNECTION_REDIRECTED) != 0) {
      meta.currentMetadataValues |= FWPS_METADATA_FIELD_ORIGINAL_DESTINATION;
      meta.originalDestination = reinterpret_cast<SOCKADDR*>(&ind->originalDestination);
      meta.currentMetadataValues |= FWPS_METADATA_FIELD_LOCAL_REDIRECT_TARGET_PID;
      meta.localRedirectTargetPID = ind->redirectTargetPid;
    }
  }
  if (layerId == ids().inMac || layerId == ids().outMac) {
    meta.currentMetadataValues |= FWPS_METADATA_FIELD_ETHER_FRAME_LENGTH;
    meta.frameLength = static_cast<UINT16>(nbl.frame.size());
  }
  // Layer data: the NBL at the layer's offset; TCP at ALE_AUTH_CONNECT has none.
  void* layerData = &nbl;
  if (isAleAuth(layerId) && !ind->inbound && ind->pkt.ip_proto == 6) {
    layerData = nullptr;
  }
  nbl.offset = layerOffset(nbl, layerId, ind->inbound);
  return runClassify(ind, layerId, in, meta, layerData);
}

RuntimeImpl::LayerOutcome RuntimeImpl::runClassify(const std::shared_ptr<Indication>& ind,
                                                   uint16_t layerId,
                                                   IncomingValues& in,
                                                   FWPS_INCOMING_METADATA_VALUES0& meta,
                                                   void* layerData) {
  const std::shared_ptr<const Policy>& snap = ind->policy;
  NET_BUFFER_LIST& nbl = *ind->nbl;
  const bool ale = isAleAuth(layerId);
  IncomingMetadata im;
  im.hasFlowHandle = (meta.currentMetadataValues & FWPS_METADATA_FIELD_FLOW_HANDLE) != 0;
  im.flowHandle = meta.flowHandle;
  Invoker invoker(*this, *ind, *snap, meta, layerData);
  Result<ClassifyResult> result = fail(0, "not classified");
  for (;;) {
    result = xfp::classify(*snap, in, im, invoker);
    deleteContextsAfterClassify(*ind);
    if (!result) {
      spdlog::warn("classify at layer {} failed: {}", layerId, result.error().message);
      return LayerOutcome::Block;
    }
    // Pend registration and a completion that raced ahead of it are decided under one lock.
    std::lock_guard lock(pendMu);
    if (!ind->pendingFilters.empty() || ind->pendOperation) {
      ind->pendId = nextPendId++;
      ind->pendedAt = Clock::now();
      pended[ind->pendId] = ind;
      pendedBytes += nbl.frame.size();
      if (ind->flow) {
        std::lock_guard flock(flowMu);
        ind->flow->ale = Flow::Ale::Pending;
        ind->flow->classifying--;
        writeAleEntry(ind->key, XFP_ALE_PENDING, ind->flow->outbound, ind->flow->id);
      }
      return LayerOutcome::Pended;
    }
    if (!ind->rerun) {
      break;
    }
    // A callout completed its pend before classify returned: classify again with the answer.
    ind->rerun = false;
    nbl.offset = layerOffset(nbl, layerId, ind->inbound);
    if (ind->sock) {
      in = sockIncomingValues(layerId, ind->sock->ev, ind->sock->who, ind->extraFlags);
    } else if (ale) {
      in = aleValues(*ind, layerId);
    }
  }
  if (result->action == ActionType::Block) {
    if ((result->flags & FWPS_CLASSIFY_OUT_FLAG_ABSORB) != 0) {
      stats.absorbed.fetch_add(1);
    }
    return LayerOutcome::Block;
  }
  return LayerOutcome::Permit;
}

void RuntimeImpl::deleteContextsAfterClassify(Indication& ind) {
  std::vector<std::tuple<uint16_t, uint32_t, uint64_t>> gone;
  {
    std::lock_guard lock(flowMu);
    if (!ind.flow) {
      return;
    }
    // Flow contexts removed while this classify ran (STATUS_PENDING) go now.
    for (const auto& lc : ind.flow->deleteAfterClassify) {
      auto it = ind.flow->contexts.find(lc);
      if (it != ind.flow->contexts.end()) {
        gone.emplace_back(lc.first, lc.second, it->second);
        ind.flow->contexts.erase(it);
      }
    }
    ind.flow->deleteAfterClassify.clear();
  }
  for (const auto& [layer, calloutId, ctx] : gone) {
    auto c = registered(calloutId);
    if (c != nullptr && c->flowDeleteFn != nullptr) {
      try {
        c->flowDeleteFn(layer, calloutId, ctx);
      } catch (...) {
        stats.pluginFaults.fetch_add(1);
      }
    }
  }
}

void RuntimeImpl::completePend(const std::shared_ptr<Indication>& ind) {
  {
    std::lock_guard lock(pendMu);
    if (pended.erase(ind->pendId) == 0) {
      return;  // timed out or dropped meanwhile
    }
    pendedBytes -= std::min(pendedBytes, ind->nbl->frame.size());
  }
  if (ind->flow) {
    std::lock_guard lock(flowMu);
    ind->flow->classifying++;
    ind->flow->ale = Flow::Ale::Unknown;
  }
  post(ind->worker, [this, ind] { resume(ind); });
}

void RuntimeImpl::drop(Indication& ind) {
  if (ind.sock) {
    finishSock(ind, false);
    return;
  }
  stats.blocked.fetch_add(1);
  if (ind.flow) {
    std::lock_guard lock(flowMu);
    ind.flow->classifying = std::max(0, ind.flow->classifying - 1);
  }
  ind.nbl.reset();
}

void RuntimeImpl::sendOut(Indication& ind) {
  if (ind.sock) {
    finishSock(ind, true);
    return;
  }
  std::shared_ptr<Flow> flow = ind.flow;
  bool end = false;
  if (flow) {
    std::lock_guard lock(flowMu);
    flow->classifying = std::max(0, flow->classifying - 1);
    // TCP: the flow ends with FIN in both directions, or RST (its flowDeleteFn then runs).
    if (ind.pkt.ip_proto == 6 && (ind.pkt.flags & XFP_PKT_F_L4) != 0) {
      if ((ind.pkt.tcp_flags & 0x04) != 0) {
        end = true;
      }
      if ((ind.pkt.tcp_flags & 0x01) != 0) {
        (ind.inbound ? flow->finIn : flow->finOut) = true;
      }
      end = end || (flow->finIn && flow->finOut && (ind.pkt.tcp_flags & 0x10) != 0 &&
                    (ind.pkt.tcp_flags & 0x01) == 0);
    }
  }
  std::vector<uint8_t> frame = std::move(ind.nbl->frame);
  ind.nbl.reset();
  stats.permitted.fetch_add(1);
  if (ind.inbound) {
    deliverInbound(ind.ifindex, 0, std::move(frame));
  } else {
    sendOutbound(ind.ifindex, std::move(frame));
  }
  if (end) {
    endFlow(flow);
  }
}

void RuntimeImpl::deliverInbound(uint32_t ifindex, uint32_t mark, std::vector<uint8_t> frame) {
  queueOrSend(OutFrame{ifindex, true, mark, std::move(frame)});
}

void RuntimeImpl::sendOutbound(uint32_t ifindex, std::vector<uint8_t> frame) {
  queueOrSend(OutFrame{ifindex, false, 0, std::move(frame)});
}

void RuntimeImpl::queueOrSend(OutFrame f) {
  dataplane::finalizeChecksums(f.frame);
  if (tOut != nullptr) {
    tOut->push_back(std::move(f));
    return;
  }
  std::vector<OutFrame> one;
  one.push_back(std::move(f));
  flushOut(one);
}

void RuntimeImpl::flushOut(std::vector<OutFrame>& out) {
  if (out.empty()) {
    return;
  }
  std::vector<std::span<const uint8_t>> views;
  views.reserve(out.size());
  size_t i = 0;
  while (i < out.size()) {
    // One run of frames for the same interface and direction: one batched send.
    const uint32_t ifindex = out[i].ifindex;
    const bool inbound = out[i].inbound;
    AttachedInterface* a = interfaceFor(ifindex);
    views.clear();
    size_t j = i;
    for (; j < out.size() && out[j].ifindex == ifindex && out[j].inbound == inbound; ++j) {
      if (a == nullptr) {
        continue;
      }
      if (inbound) {
        uint16_t slot = a->plainSlot;
        if (out[j].mark != 0) {
          if (auto s = a->inject->slotFor(static_cast<int>(ifindex), out[j].mark)) {
            slot = *s;
          }
        }
        dataplane::InjectPort::tagInPlace(out[j].frame, slot);
      }
      views.emplace_back(out[j].frame);
    }
    if (a != nullptr) {
      if (inbound) {
        a->inject->deliverTagged(views);
      } else {
        a->sender->send(views);
      }
    }
    i = j;
  }
  out.clear();
}

// ---------------------------------------------------------------------------------------------
// Management

std::shared_ptr<const Policy> RuntimeImpl::currentSnapshot() const {
  std::lock_guard lock(snapshotMu);
  return snapshot;
}

bool RuntimeImpl::isRegistered(uint32_t calloutId) const {
  std::shared_lock lock(regMu);
  auto it = callouts.find(calloutId);
  return it != callouts.end() && !it->second->unregistering.load();
}

std::shared_ptr<RegisteredCallout> RuntimeImpl::registered(uint32_t calloutId) const {
  std::shared_lock lock(regMu);
  auto it = callouts.find(calloutId);
  return it != callouts.end() ? it->second : nullptr;
}

Result<void> RuntimeImpl::commitLocked() {
  return publishLocked(std::make_shared<const Policy>(policy.snapshot()));
}

Result<void> RuntimeImpl::republishLocked() {
  std::shared_ptr<const Policy> p = currentSnapshot();
  return p ? publishLocked(std::move(p)) : commitLocked();
}

uint32_t RuntimeImpl::calloutIdFor(const Guid& key) const {
  return options.calloutIdFor ? options.calloutIdFor(key) : policy.calloutIdForKey(key);
}

Result<void> RuntimeImpl::publishLocked(std::shared_ptr<const Policy> published) {
  const Policy& pol = *published;
  compiler::CompileOptions co;
  co.registered = [this](uint32_t id) { return isRegistered(id); };
  auto compiled = compiler::compile(pol, co);
  if (!compiled) {
    return tl::unexpected(compiled.error());
  }
  // Callout liveness in the kernel follows registration.
  {
    std::shared_lock lock(regMu);
    for (const auto& [id, c] : callouts) {
      (void)fastPath->setCalloutLive(id, !c->unregistering.load());
    }
  }
  if (auto r = fastPath->commit(*compiled); !r) {
    return fail(0, r.error().describe());
  }
  {
    std::lock_guard lock(snapshotMu);
    snapshot = std::move(published);
  }
  // ALE: which auth layers have filters, and a new ALE generation when they changed (every
  // cached flow is then re-authorized on its next packet, wfp-model.md §4.10).
  const LayerIds& k = ids();
  std::set<uint64_t> aleIds;
  uint32_t layers = 0;
  for (const auto& [id, f] : pol.filters()) {
    const LayerInfo* l = layerByKey(f.layerKey);
    if (l != nullptr && isEstablished(l->id)) {
      // Flow established needs the new flows punted; its filters do not re-authorize.
      layers |= l->id == k.established4 ? XFP_ALE_CONNECT_V4 | XFP_ALE_RECV_ACCEPT_V4
                                        : XFP_ALE_CONNECT_V6 | XFP_ALE_RECV_ACCEPT_V6;
      continue;
    }
    if (l == nullptr || !isAleAuth(l->id)) {
      continue;
    }
    aleIds.insert(id);
    layers |= l->id == k.connect4   ? XFP_ALE_CONNECT_V4
              : l->id == k.connect6 ? XFP_ALE_CONNECT_V6
              : l->id == k.accept4  ? XFP_ALE_RECV_ACCEPT_V4
                                    : XFP_ALE_RECV_ACCEPT_V6;
  }
  if (aleIds != aleFilterIds) {
    aleFilterIds = std::move(aleIds);
    aleGen++;
  }
  aleLayerBits.store(layers);
  writeAleCfg(layers);
  // Socket layers: which socket calls must wait for an answer.
  sockLayerBits.store(sockLayersOf(pol));
  if (dataplane::SockHooks* hooks = liveSockHooks.load(); hooks != nullptr) {
    hooks->configure(sockLayerBits.load(), sockWaitNs.load(), static_cast<uint32_t>(::getpid()));
  }
  return {};
}

NTSTATUS RuntimeImpl::notify(const RegisteredCallout& c,
                             FWPS_CALLOUT_NOTIFY_TYPE type,
                             const Filter& filter,
                             const Policy& pol) {
  if (c.notifyFn == nullptr) {
    return STATUS_SUCCESS;
  }
  FwpsFilterImage image;
  image.fill(filter, pol, c.id);
  GUID key{};
  std::memcpy(&key, filter.key.bytes.data(), sizeof key);
  const GUID* keyArg = type == FWPS_CALLOUT_NOTIFY_DELETE_FILTER ? nullptr : &key;
  try {
    switch (c.revision) {
      case 0:
        return reinterpret_cast<FWPS_CALLOUT_NOTIFY_FN0>(c.notifyFn)(
            type, keyArg, reinterpret_cast<FWPS_FILTER0*>(&image.filter));
      case 1:
        return reinterpret_cast<FWPS_CALLOUT_NOTIFY_FN1>(c.notifyFn)(
            type, keyArg, reinterpret_cast<FWPS_FILTER1*>(&image.filter));
      default:
        return reinterpret_cast<FWPS_CALLOUT_NOTIFY_FN2>(c.notifyFn)(type, keyArg, &image.filter);
    }
  } catch (...) {
    stats.pluginFaults.fetch_add(1);
    return STATUS_UNSUCCESSFUL;
  }
}

namespace {
uint32_t calloutIdOf(const Policy& p, const Filter& f) {
  if (!isCalloutAction(f.action.type)) {
    return 0;
  }
  const Callout* c = p.callout(f.action.calloutKey);
  return c != nullptr ? c->calloutId : 0;
}
}  // namespace

Result<uint64_t> CalloutRuntime::addFilter(Filter filter) {
  RuntimeImpl& rt = *impl_;
  std::lock_guard lock(rt.policyMu);
  auto id = rt.policy.addFilter(std::move(filter));
  if (!id) {
    return id;
  }
  const Filter& f = *rt.policy.filterById(*id);
  if (auto c = rt.registered(calloutIdOf(rt.policy, f)); c != nullptr) {
    if (rt.notify(*c, FWPS_CALLOUT_NOTIFY_ADD_FILTER, f, rt.policy) != STATUS_SUCCESS) {
      (void)rt.policy.deleteFilterById(*id);
      return fail(status::kCalloutNotificationFailed,
                  "the callout refused the filter (notifyFn ADD_FILTER failed)");
    }
  }
  rt.addedSinceCommit.push_back(*id);
  return id;
}

Result<void> CalloutRuntime::deleteFilter(uint64_t filterId) {
  RuntimeImpl& rt = *impl_;
  std::lock_guard lock(rt.policyMu);
  const Filter* f = rt.policy.filterById(filterId);
  if (f == nullptr) {
    return fail(status::kFilterNotFound, "no filter with id " + std::to_string(filterId));
  }
  // DELETE_FILTER goes to the callout whether or not it saw the ADD (filterKey NULL).
  if (auto c = rt.registered(calloutIdOf(rt.policy, *f)); c != nullptr) {
    (void)rt.notify(*c, FWPS_CALLOUT_NOTIFY_DELETE_FILTER, *f, rt.policy);
  }
  return rt.policy.deleteFilterById(filterId);
}

Result<uint32_t> CalloutRuntime::addCallout(Callout callout) {
  std::lock_guard lock(impl_->policyMu);
  return impl_->policy.addCallout(std::move(callout));
}

Result<void> CalloutRuntime::addSublayer(Sublayer sublayer) {
  std::lock_guard lock(impl_->policyMu);
  return impl_->policy.addSublayer(std::move(sublayer));
}

Result<void> CalloutRuntime::commit() {
  RuntimeImpl& rt = *impl_;
  std::vector<uint64_t> added;
  {
    std::lock_guard lock(rt.policyMu);
    if (auto r = rt.commitLocked(); !r) {
      return r;
    }
    added.swap(rt.addedSinceCommit);
    // ADD_FILTER_POST_COMMIT to callouts that asked for it (wfp-model.md §5.4).
    for (uint64_t id : added) {
      const Filter* f = rt.policy.filterById(id);
      if (f == nullptr) {
        continue;
      }
      auto c = rt.registered(calloutIdOf(rt.policy, *f));
      if (c != nullptr && (c->flags & FWP_CALLOUT_FLAG_ENABLE_COMMIT_ADD_NOTIFY) != 0) {
        (void)rt.notify(*c, FWPS_CALLOUT_NOTIFY_ADD_FILTER_POST_COMMIT, *f, rt.policy);
      }
    }
  }
  return {};
}

Result<void> CalloutRuntime::publish(std::shared_ptr<const Policy> policy,
                                     const std::vector<uint64_t>& added) {
  RuntimeImpl& rt = *impl_;
  std::lock_guard lock(rt.policyMu);
  const std::shared_ptr<const Policy> p = policy;
  if (auto r = rt.publishLocked(std::move(policy)); !r) {
    return r;
  }
  for (uint64_t id : added) {  // ADD_FILTER_POST_COMMIT (wfp-model.md §5.4)
    const Filter* f = p->filterById(id);
    if (f == nullptr) {
      continue;
    }
    auto c = rt.registered(calloutIdOf(*p, *f));
    if (c != nullptr && (c->flags & FWP_CALLOUT_FLAG_ENABLE_COMMIT_ADD_NOTIFY) != 0) {
      (void)rt.notify(*c, FWPS_CALLOUT_NOTIFY_ADD_FILTER_POST_COMMIT, *f, *p);
    }
  }
  return {};
}

bool CalloutRuntime::notifyFilterAdded(const Filter& filter, const Policy& context) {
  auto c = impl_->registered(calloutIdOf(context, filter));
  return c == nullptr ||
         impl_->notify(*c, FWPS_CALLOUT_NOTIFY_ADD_FILTER, filter, context) == STATUS_SUCCESS;
}

void CalloutRuntime::notifyFilterDeleted(const Filter& filter, const Policy& context) {
  // DELETE_FILTER goes to the callout whether or not it saw the ADD (filterKey NULL).
  if (auto c = impl_->registered(calloutIdOf(context, filter)); c != nullptr) {
    (void)impl_->notify(*c, FWPS_CALLOUT_NOTIFY_DELETE_FILTER, filter, context);
  }
}

void CalloutRuntime::withPolicy(const std::function<void(const Policy&)>& fn) const {
  std::lock_guard lock(impl_->policyMu);
  fn(impl_->policy);
}

PluginHost& CalloutRuntime::plugins() {
  return *impl_->plugins;
}

const RuntimeStats& CalloutRuntime::stats() const {
  return impl_->stats;
}

xfp_sock_stats CalloutRuntime::socketHookStats() const {
  dataplane::SockHooks* hooks = impl_->liveSockHooks.load();
  return hooks != nullptr ? hooks->stats() : xfp_sock_stats{};
}

size_t CalloutRuntime::pendedNow() const {
  std::lock_guard lock(impl_->pendMu);
  return impl_->pended.size();
}

size_t CalloutRuntime::flowsWithContexts() const {
  std::lock_guard lock(impl_->flowMu);
  size_t n = 0;
  for (const auto& [k, f] : impl_->flows) {
    n += f->contexts.empty() ? 0 : 1;
  }
  return n;
}

void RuntimeImpl::blockPendedOf(uint32_t calloutId) {
  std::vector<std::shared_ptr<Indication>> toBlock;
  {
    std::lock_guard lock(pendMu);
    for (auto it = handles.begin(); it != handles.end();) {
      if (it->second.calloutId == calloutId && it->second.pended && it->second.ind) {
        toBlock.push_back(it->second.ind);
        it = handles.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& ind : toBlock) {
      pended.erase(ind->pendId);
    }
  }
  for (auto& ind : toBlock) {
    if (ind->next < ind->layers.size() && isAleAuth(ind->layers[ind->next])) {
      finishAle(*ind, false);
    }
    drop(*ind);
  }
}

}  // namespace xfp::callout
