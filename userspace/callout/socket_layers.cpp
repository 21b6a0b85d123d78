// The ALE layers classified at a socket call or socket event (docs/ale.md): bind and connect
// redirection and resource assignment as upcalls from the cgroup hooks (answered here, while the
// hook waits), and the endpoint lifetime -- flow established, endpoint closure, resource release
// -- from the hooks' one-way events. Also the endpoint table behind FwpsAleEndpoint*.
#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "userspace/callout/fwps_convert.h"
#include "userspace/callout/runtime_impl.h"
#include "userspace/core/layers.h"

namespace xfp::callout {
namespace {

struct SockLayerIds {
  uint16_t bind4 = layerIdByName("ALE_BIND_REDIRECT_V4");
  uint16_t bind6 = layerIdByName("ALE_BIND_REDIRECT_V6");
  uint16_t connect4 = layerIdByName("ALE_CONNECT_REDIRECT_V4");
  uint16_t connect6 = layerIdByName("ALE_CONNECT_REDIRECT_V6");
  uint16_t assign4 = layerIdByName("ALE_RESOURCE_ASSIGNMENT_V4");
  uint16_t assign6 = layerIdByName("ALE_RESOURCE_ASSIGNMENT_V6");
  uint16_t release4 = layerIdByName("ALE_RESOURCE_RELEASE_V4");
  uint16_t release6 = layerIdByName("ALE_RESOURCE_RELEASE_V6");
  uint16_t closure4 = layerIdByName("ALE_ENDPOINT_CLOSURE_V4");
  uint16_t closure6 = layerIdByName("ALE_ENDPOINT_CLOSURE_V6");
  uint16_t established4 = layerIdByName("ALE_FLOW_ESTABLISHED_V4");
  uint16_t established6 = layerIdByName("ALE_FLOW_ESTABLISHED_V6");
};

const SockLayerIds& sids() {
  static const SockLayerIds ids;
  return ids;
}

uint16_t requestLayer(const xfp_sock_event& ev) {
  const SockLayerIds& k = sids();
  switch (ev.layer) {
    case XFP_SOCK_BIND_REDIRECT_V4:
      return k.bind4;
    case XFP_SOCK_BIND_REDIRECT_V6:
      return k.bind6;
    case XFP_SOCK_CONNECT_REDIRECT_V4:
      return k.connect4;
    case XFP_SOCK_CONNECT_REDIRECT_V6:
      return k.connect6;
    case XFP_SOCK_RESOURCE_ASSIGNMENT_V4:
      return k.assign4;
    case XFP_SOCK_RESOURCE_ASSIGNMENT_V6:
      return k.assign6;
    default:
      return 0;
  }
}

void toSockaddr(bool v6, const uint8_t* addr, uint16_t port, SOCKADDR_STORAGE& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    std::memcpy(&s6->sin6_addr, addr, 16);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    std::memcpy(&s4->sin_addr, addr, 4);
  }
}

// false: not an address of the request's family (a callout wrote garbage).
bool fromSockaddr(bool v6, const SOCKADDR_STORAGE& ss, uint8_t* addr, uint16_t& port) {
  std::memset(addr, 0, 16);
  if (v6) {
    if (ss.ss_family != AF_INET6) {
      return false;
    }
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    std::memcpy(addr, &s6->sin6_addr, 16);
    port = ntohs(s6->sin6_port);
    return true;
  }
  if (ss.ss_family != AF_INET) {
    return false;
  }
  const auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
  std::memcpy(addr, &s4->sin_addr, 4);
  port = ntohs(s4->sin_port);
  return true;
}

bool isZero(const uint8_t* a) {
  return std::all_of(a, a + 16, [](uint8_t b) { return b == 0; });
}

bool isMapped(const uint8_t* a) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a, prefix, 12) == 0;
}

// A dual-stack socket's IPv4 traffic (addresses ::ffff:a.b.c.d) is IPv4 for WFP: the _V4 layers
// classify it and the packet path keys its flows as IPv4.
void normalizeMapped(xfp_sock_event& ev) {
  if (ev.v6 == 0) {
    return;
  }
  const bool localOk = isMapped(ev.local) || isZero(ev.local);
  const bool remoteOk = isMapped(ev.remote) || isZero(ev.remote);
  if (!localOk || !remoteOk || (!isMapped(ev.local) && !isMapped(ev.remote))) {
    return;
  }
  for (uint8_t* a : {ev.local, ev.remote}) {
    uint8_t v4[4];
    std::memcpy(v4, a + 12, 4);  // the unspecified address stays all zero
    std::memset(a, 0, 16);
    std::memcpy(a, v4, 4);
  }
  ev.v6 = 0;
}

uint32_t layerBit(uint16_t id) {
  const SockLayerIds& k = sids();
  return id == k.bind4      ? XFP_SOCK_BIND_REDIRECT_V4
         : id == k.bind6    ? XFP_SOCK_BIND_REDIRECT_V6
         : id == k.connect4 ? XFP_SOCK_CONNECT_REDIRECT_V4
         : id == k.connect6 ? XFP_SOCK_CONNECT_REDIRECT_V6
         : id == k.assign4  ? XFP_SOCK_RESOURCE_ASSIGNMENT_V4
         : id == k.assign6  ? XFP_SOCK_RESOURCE_ASSIGNMENT_V6
                            : 0;
}

}  // namespace

void* SockRequest::currentLayerData() {
  if (!bindVersions.empty()) {
    return &bindVersions[current];
  }
  if (!connectVersions.empty()) {
    return &connectVersions[current];
  }
  return nullptr;
}

uint32_t RuntimeImpl::sockLayersOf(const Policy& p) const {
  uint32_t bits = 0;
  for (const auto& [id, f] : p.filters()) {
    const LayerInfo* l = layerByKey(f.layerKey);
    if (l != nullptr) {
      bits |= layerBit(l->id);
    }
  }
  return bits;
}

// ---------------------------------------------------------------------------------------------
// Threads

Result<void> RuntimeImpl::attachSockHooks(const std::string& cgroupPath,
                                          const std::string& pinDir) {
  if (sockHooks) {
    return fail(status::kInvalidParameter, "socket hooks are already attached");
  }
  auto hooks = dataplane::SockHooks::attach(cgroupPath, pinDir);
  if (!hooks) {
    return fail(0, hooks.error().describe());
  }
  sockHooks = std::move(*hooks);
  sockHooks->configure(sockLayerBits.load(), sockWaitNs.load(), static_cast<uint32_t>(::getpid()));
  sockHooks->heartbeat();
  liveSockHooks.store(sockHooks.get());  // from now on other threads use it
  // Again: a publish between the first configure and the store above told nobody.
  sockHooks->configure(sockLayerBits.load(), sockWaitNs.load(), static_cast<uint32_t>(::getpid()));
  sockEventThread = std::thread([this] { sockEventLoop(); });
  // One responder per CPU this process may run on (its cpuset / affinity, not all CPUs).
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
    CPU_SET(0, &allowed);
  }
  for (unsigned cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) {
      responders.emplace_back([this, cpu] { responderLoop(cpu); });
    }
  }
  // Answering now: a predecessor's pinned hooks (refusing while nobody answered) make way.
  if (auto r = sockHooks->takeOver(); !r) {
    // Nothing changed: the predecessor's hooks stay pinned (refusing), ours are not pinned.
    return fail(0, r.error().describe());
  }
  return {};
}

void RuntimeImpl::stopSockHooks() {
  for (auto& t : responders) {
    if (t.joinable()) {
      t.join();
    }
  }
  responders.clear();
  { std::lock_guard lock(sockEventMu); }
  sockEventCv.notify_all();
  if (sockEventThread.joinable()) {
    sockEventThread.join();
  }
  if (sockHooks && keepSockHooks.load()) {
    // Pinned hooks stay for the next runtime: refusing at once at active layers (no wait, and
    // no exempt process: this pid may be reused), as they will once the heartbeat is stale.
    sockHooks->configure(sockLayerBits.load(), 0, 0);
  } else if (sockHooks) {
    // Detaching the hooks: from here socket calls below the cgroup are no longer classified.
    sockHooks->detach();
  }
  liveSockHooks.store(nullptr);
  sockHooks.reset();
}

void RuntimeImpl::responderLoop(unsigned cpu) {
  // A hook waits by spinning on its CPU; pinned to one CPU each, some responder is always free
  // to run unless every CPU is spinning (then the hooks time out: EPERM, fail closed).
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  // Real-time (lowest RT priority): an application thread woken on this CPU cannot preempt a
  // responder in the middle of taking events off the ring (holding the consumer lock) and then
  // spin in a hook on this CPU while the other responder waits for that lock. Responders sleep
  // in epoll_wait otherwise; without CAP_SYS_NICE they stay SCHED_OTHER.
  sched_param rt{};
  rt.sched_priority = 1;
  (void)pthread_setschedparam(pthread_self(), SCHED_FIFO, &rt);
  // An epoll instance of its own: the waiters of one epoll fd are woken one at a time, and the
  // one woken might be the responder of the CPU the hook spins on (measured: a 100 ms stall on
  // ~7% of upcalls with a shared epoll fd, bench/README.md "bench/socket").
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event want{};
  want.events = EPOLLIN;
  if (fd < 0 || ::epoll_ctl(fd, EPOLL_CTL_ADD, sockHooks->eventsMapFd(), &want) != 0) {
    spdlog::error("socket responder on CPU {}: epoll: {}", cpu, std::strerror(errno));
    if (fd >= 0) {
      ::close(fd);
    }
    return;
  }
  std::vector<xfp_sock_event> batch;
  while (!stopping.load()) {
    epoll_event e{};
    if (::epoll_wait(fd, &e, 1, 100) <= 0) {
      continue;
    }
    batch.clear();
    bool queued = false;
    {
      // Lifetime events reach the event thread in ring order (a later batch consumed by another
      // responder cannot overtake them); requests are answered after the lock is released.
      std::lock_guard lock(sockConsumeMu);
      sockHooks->consume([&](const xfp_sock_event& ev) {
        if (ev.type == XFP_SOCK_EV_REQUEST) {
          batch.push_back(ev);
          return;
        }
        xfp_sock_event normalized = ev;
        normalizeMapped(normalized);
        std::lock_guard qlock(sockEventMu);
        sockEvents.push_back(normalized);
        ++sockEventsQueued;
        queued = true;
      });
    }
    if (queued) {
      sockEventCv.notify_one();
    }
    for (const auto& ev : batch) {
      onSockRequest(ev);
    }
  }
  ::close(fd);
}

namespace {
thread_local bool tOnSockEventThread = false;  // awaitSockEvents() must not wait for itself
}  // namespace

void RuntimeImpl::sockEventLoop() {
  tOnSockEventThread = true;
  // A non-TCP socket's flows end a little after its release: a datagram it sent just before
  // closing may still be on its way through the punt path, and its flow must exist to be ended.
  // (The endpoint itself goes at once, so a new socket on the same port is not mistaken for it.)
  constexpr auto kReleaseGrace = std::chrono::milliseconds(200);
  std::deque<std::pair<Clock::time_point, xfp_sock_event>> released;
  for (;;) {
    std::deque<xfp_sock_event> todo;
    {
      std::unique_lock lock(sockEventMu);
      sockEventCv.wait_for(lock, std::chrono::milliseconds(released.empty() ? 100 : 20), [&] {
        return stopping.load() || !sockEvents.empty();
      });
      todo.swap(sockEvents);
    }
    for (const auto& ev : todo) {
      onSockEvent(ev);
      if (ev.type == XFP_SOCK_EV_RELEASED && ev.proto != IPPROTO_TCP) {
        released.emplace_back(Clock::now() + kReleaseGrace, ev);
      }
    }
    if (!todo.empty()) {
      {
        std::lock_guard lock(sockEventMu);
        sockEventsDone += todo.size();
      }
      sockEventsDoneCv.notify_all();
    }
    const bool last = stopping.load();
    while (!released.empty() && (last || released.front().first <= Clock::now())) {
      endFlowsOf(released.front().second, true);
      released.pop_front();
    }
    if (last && todo.empty() && released.empty()) {
      return;
    }
  }
}

void RuntimeImpl::awaitSockEvents(Clock::duration limit) {
  dataplane::SockHooks* hooks = liveSockHooks.load();
  if (hooks == nullptr || tOnSockEventThread) {
    return;
  }
  const auto deadline = Clock::now() + limit;
  // 1. Everything posted so far is off the ring (the responders take it; they are woken by the
  //    ring and are never waited for here under a lock of theirs).
  const uint64_t produced = hooks->producedPosition();
  while (hooks->consumedPosition() < produced) {
    if (Clock::now() >= deadline || stopping.load()) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  // 2. ... and handled: events are queued before the consumer position moves past them.
  std::unique_lock lock(sockEventMu);
  const uint64_t target = sockEventsQueued;
  sockEventsDoneCv.wait_until(
      lock, deadline, [&] { return sockEventsDone >= target || stopping.load(); });
}

// ---------------------------------------------------------------------------------------------
// Identity

ProcessIdentity RuntimeImpl::ownerIdentity(uint64_t cookie, const xfp_sock_owner* recorded) const {
  if (recorded != nullptr && recorded->tgid != 0) {
    return identityOf(*recorded);
  }
  {
    std::lock_guard lock(endpointMu);
    if (const Endpoint* e = endpoints.find(cookie); e != nullptr && e->who.known) {
      return e->who;
    }
  }
  dataplane::SockHooks* hooks = liveSockHooks.load();
  if (hooks != nullptr && cookie != 0) {
    if (auto o = hooks->owner(cookie)) {
      return identityOf(*o);
    }
  }
  return {};
}

ProcessIdentity RuntimeImpl::localEndpointIdentity(const FlowKey& key) const {
  std::lock_guard lock(endpointMu);
  const Endpoint* e = endpoints.serving(
      key.v6 != 0, key.proto, key.local, key.localPort, key.remote, key.remotePort);
  return e != nullptr ? e->who : ProcessIdentity{};
}

// ---------------------------------------------------------------------------------------------
// Upcalls and events

void RuntimeImpl::onSockRequest(const xfp_sock_event& ev) {
  stats.sockRequests.fetch_add(1);
  const uint16_t layerId = requestLayer(ev);
  auto req = std::make_shared<SockRequest>();
  req->ev = ev;
  req->upcall = true;
  // The hook gives up after its wait: an answer after that is for nobody (and its slot may by
  // then belong to a newer request).
  req->deadline = Clock::now() + std::chrono::nanoseconds(sockWaitNs.load());
  req->who = identityOf(ev.owner);
  const bool v6 = ev.v6 != 0;
  const SockLayerIds& k = sids();
  if (layerId == k.bind4 || layerId == k.bind6) {
    FWPS_BIND_REQUEST0 b{};
    toSockaddr(v6, ev.local, ev.local_port, b.localAddressAndPort);
    req->bindVersions.push_back(b);
  } else if (layerId == k.connect4 || layerId == k.connect6) {
    FWPS_CONNECT_REQUEST0 c{};
    toSockaddr(v6, ev.local, ev.local_port, c.localAddressAndPort);
    toSockaddr(v6, ev.remote, ev.remote_port, c.remoteAddressAndPort);
    req->connectVersions.push_back(c);
    if ((ev.flags & XFP_SOCK_F_RECORDS) != 0) {
      req->records.handle = ev.records_handle;
    }
  } else if (layerId == 0) {
    // Not a layer this runtime knows: refuse (fail closed).
    xfp_sock_reply r{};
    r.seq = ev.seq;
    r.verdict = XFP_SOCK_BLOCK;
    sockHooks->reply(r);
    return;
  }
  runSock(req, layerId);
}

void RuntimeImpl::runSock(const std::shared_ptr<SockRequest>& req, uint16_t layerId) {
  auto ind = std::make_shared<Indication>();
  ind->self = ind;
  ind->sock = req;
  ind->inbound = false;
  ind->nbl.reset(newNetBufferList({}, 0));
  ind->layers.push_back(layerId);
  ind->worker = workers.empty() ? 0 : static_cast<unsigned>(req->ev.cookie % workers.size());
  resume(ind);  // classifies now; a pend resumes it from the completion
}

void RuntimeImpl::finishSock(Indication& ind, bool permit) {
  const std::shared_ptr<SockRequest> req = ind.sock;
  if (!req || req->finished) {
    return;
  }
  req->finished = true;
  const uint16_t layerId = ind.layers.empty() ? 0 : ind.layers.front();
  dataplane::SockHooks* hooks = liveSockHooks.load();
  if (req->upcall && (hooks == nullptr || Clock::now() > req->deadline)) {
    // Too late: the socket call has failed with EPERM already. Nothing to answer or record.
    stats.sockLate.fetch_add(1);
    return;
  }
  const SockLayerIds& k = sids();
  const xfp_sock_event& ev = req->ev;
  if (permit && (layerId == k.assign4 || layerId == k.assign6)) {
    // Into the endpoint table before the answer: the socket's release may follow right after.
    std::lock_guard lock(endpointMu);
    Endpoint& e = endpoints.place(ev.cookie, ev.v6 != 0, ev.proto, ev.local, ev.local_port);
    e.assigned = true;
    e.who = req->who;
  }
  if (req->upcall) {
    xfp_sock_reply r{};
    r.seq = ev.seq;
    r.verdict = permit ? XFP_SOCK_PERMIT : XFP_SOCK_BLOCK;
    const bool v6 = ev.v6 != 0;
    if (permit && req->current != 0) {
      // A callout applied a modified request: the socket call goes where the last version says.
      if (!req->bindVersions.empty()) {
        const FWPS_BIND_REQUEST0& b = req->bindVersions[req->current];
        if (fromSockaddr(v6, b.localAddressAndPort, r.addr, r.port)) {
          r.rewrite = 1;
        } else {
          r.verdict = XFP_SOCK_BLOCK;  // an address of the wrong family: fail closed
        }
      } else if (!req->connectVersions.empty()) {
        const FWPS_CONNECT_REQUEST0& c = req->connectVersions[req->current];
        if (fromSockaddr(v6, c.remoteAddressAndPort, r.addr, r.port)) {
          r.rewrite = 1;
          r.redirect_handle = reinterpret_cast<uint64_t>(c.localRedirectHandle);
          r.target_pid = c.localRedirectTargetPID;
          if (c.localRedirectContext != nullptr && c.localRedirectContextSize != 0) {
            r.context_len = static_cast<uint32_t>(
                std::min<SIZE_T>(c.localRedirectContextSize, sizeof r.context));
            std::memcpy(r.context, c.localRedirectContext, r.context_len);
          }
          stats.sockRedirected.fetch_add(1);
        } else {
          r.verdict = XFP_SOCK_BLOCK;
        }
      }
    }
    hooks->reply(r);
    if (r.verdict != XFP_SOCK_PERMIT) {
      permit = false;
    }
  }
  if (!permit && (layerId == k.assign4 || layerId == k.assign6)) {
    std::lock_guard lock(endpointMu);
    endpoints.erase(ev.cookie);  // refused (or the answer failed closed): not assigned
  }
  if (!permit && (layerId == k.established4 || layerId == k.established6)) {
    // A BLOCK at flow established ends the flow: its packets are dropped from now on.
    FlowKey key;
    std::memcpy(key.local, ev.local, 16);
    std::memcpy(key.remote, ev.remote, 16);
    key.localPort = ev.local_port;
    key.remotePort = ev.remote_port;
    key.proto = ev.proto;
    key.v6 = ev.v6;
    uint64_t flowId = 0;
    {
      // The runtime's flow too, or its next re-authorization would write PERMIT again.
      std::lock_guard lock(flowMu);
      if (auto it = flows.find(key); it != flows.end()) {
        it->second->ale = Flow::Ale::Block;
        it->second->aleGen = aleGen.load();
        flowId = it->second->id;
      }
    }
    writeAleEntry(key, XFP_ALE_BLOCK, (ev.flags & XFP_SOCK_F_ACTIVE) != 0, flowId);
  }
}

void RuntimeImpl::endFlowsOf(const xfp_sock_event& ev, bool wholeSocket) {
  std::vector<std::shared_ptr<Flow>> ending;
  {
    std::lock_guard lock(flowMu);
    for (const auto& [key, f] : flows) {
      if (key.proto != ev.proto || key.localPort != ev.local_port || key.v6 != ev.v6) {
        continue;
      }
      if (!isZero(ev.local) && std::memcmp(key.local, ev.local, 16) != 0) {
        continue;
      }
      if (!wholeSocket &&
          (key.remotePort != ev.remote_port || std::memcmp(key.remote, ev.remote, 16) != 0)) {
        continue;
      }
      ending.push_back(f);
    }
  }
  for (auto& f : ending) {
    endFlow(f);
  }
}

void RuntimeImpl::onSockEvent(const xfp_sock_event& ev) {
  stats.sockEvents.fetch_add(1);
  const SockLayerIds& k = sids();
  const bool v6 = ev.v6 != 0;
  auto classify = [&](uint16_t layerId, const ProcessIdentity& who) {
    auto snap = currentSnapshot();
    if (!snap || snap->arbitrationOrder(layerId).empty()) {
      return;  // nothing at this layer (FWP_ACTION_NONE_NO_MATCH): no indication needed
    }
    auto req = std::make_shared<SockRequest>();
    req->ev = ev;
    req->who = who;
    runSock(req, layerId);
  };
  switch (ev.type) {
    case XFP_SOCK_EV_BOUND: {
      std::lock_guard lock(endpointMu);
      Endpoint& e = endpoints.place(ev.cookie, v6, ev.proto, ev.local, ev.local_port);
      e.assigned = true;
      if (!e.who.known) {
        e.who = ev.owner.tgid != 0 ? identityOf(ev.owner) : ProcessIdentity{};
      }
      break;
    }
    case XFP_SOCK_EV_ESTABLISHED: {
      FlowKey key;
      std::memcpy(key.local, ev.local, 16);
      std::memcpy(key.remote, ev.remote, 16);
      key.localPort = ev.local_port;
      key.remotePort = ev.remote_port;
      key.proto = ev.proto;
      key.v6 = ev.v6;
      // An accepted connection's socket has no owner record of its own: the listener's.
      ProcessIdentity who = ownerIdentity(ev.cookie, &ev.owner);
      if (!who.known) {
        who = localEndpointIdentity(key);
      }
      {
        std::lock_guard lock(endpointMu);
        endpoints.place(ev.cookie, v6, ev.proto, ev.local, ev.local_port).who = who;
        endpoints.connect(ev.cookie, ev.remote, ev.remote_port);
      }
      classify(v6 ? k.established6 : k.established4, who);
      break;
    }
    case XFP_SOCK_EV_TCP_CLOSED: {
      // Usually after the socket's release (close() releases, then TCP reaches CLOSE): the
      // endpoint was kept for this.
      ProcessIdentity who = ownerIdentity(ev.cookie, &ev.owner);
      // Once per connection (the state callback is armed at establishment only).
      classify(v6 ? k.closure6 : k.closure4, who);
      endFlowsOf(ev, false);
      std::lock_guard lock(endpointMu);
      if (Endpoint* e = endpoints.find(ev.cookie); e != nullptr) {
        if (!e->assigned || e->released) {
          endpoints.erase(ev.cookie);
        } else {
          endpoints.disconnect(ev.cookie);
        }
      }
      break;
    }
    case XFP_SOCK_EV_RELEASED: {
      Endpoint e;
      bool known = false;
      {
        std::lock_guard lock(endpointMu);
        if (Endpoint* live = endpoints.find(ev.cookie); live != nullptr) {
          e = *live;
          known = true;
          // A TCP connection outlives its socket's release until it reaches CLOSE: its closure
          // (TCP_CLOSED) still needs the endpoint's identity.
          if (ev.proto == IPPROTO_TCP && live->connected) {
            live->released = true;
          } else {
            endpoints.erase(ev.cookie);
          }
        }
      }
      const ProcessIdentity who =
          known && e.who.known ? e.who : (ev.owner.tgid != 0 ? identityOf(ev.owner) : e.who);
      // Endpoint closure: once per non-TCP socket, and for every TCP listener.
      if (ev.proto != IPPROTO_TCP || (ev.flags & XFP_SOCK_F_LISTENING) != 0) {
        classify(v6 ? k.closure6 : k.closure4, who);
      }
      // Resource release: once for every resource assignment.
      if (known && e.assigned) {
        classify(v6 ? k.release6 : k.release4, who);
      }
      break;
    }
    default:
      break;
  }
}

void RuntimeImpl::aleRedirectState(Indication& ind) {
  ind.redirectFlags = 0;
  dataplane::SockHooks* hooks = liveSockHooks.load();
  if (hooks == nullptr || ind.inbound || !ind.hasFlow || ind.pkt.ip_proto != IPPROTO_TCP) {
    return;
  }
  xfp_redirect_key key{};
  std::memcpy(key.addr, ind.key.local, 16);
  key.port = ind.key.localPort;
  key.proto = ind.key.proto;
  key.v6 = ind.key.v6;
  const auto rec = hooks->redirectRecord(key);
  if (!rec) {
    return;
  }
  ind.redirectFlags = FWP_CONDITION_FLAG_IS_CONNECTION_REDIRECTED;
  toSockaddr(rec->v6 != 0, rec->orig_addr, rec->orig_port, ind.originalDestination);
  ind.redirectTargetPid = rec->target_pid;
}

void RuntimeImpl::prepareSockClassify(Indication& ind,
                                      uint16_t layerId,
                                      IncomingValues& in,
                                      FWPS_INCOMING_METADATA_VALUES0& meta) {
  SockRequest& req = *ind.sock;
  const SockLayerIds& k = sids();
  in = sockIncomingValues(layerId, req.ev, req.who, ind.extraFlags);
  meta.currentMetadataValues |= FWPS_METADATA_FIELD_COMPARTMENT_ID;
  meta.compartmentId = 1;
  meta.currentMetadataValues |= FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE;
  meta.transportEndpointHandle = req.ev.cookie;
  if (req.who.known) {
    meta.currentMetadataValues |= FWPS_METADATA_FIELD_PROCESS_ID;
    meta.processId = req.who.tgid;
    if (!req.who.exePath.empty()) {
      req.appId = req.who.appId();
      req.processPath.size = static_cast<UINT32>(req.appId.size());
      req.processPath.data = req.appId.data();
      meta.currentMetadataValues |= FWPS_METADATA_FIELD_PROCESS_PATH;
      meta.processPath = &req.processPath;
    }
  }
  if (layerId == k.connect4 || layerId == k.connect6) {
    meta.currentMetadataValues |= FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE;
    meta.redirectRecords = req.records.handle != 0 ? &req.records : nullptr;
  }
  if (layerId == k.established4 || layerId == k.established6) {
    FlowKey key;
    std::memcpy(key.local, req.ev.local, 16);
    std::memcpy(key.remote, req.ev.remote, 16);
    key.localPort = req.ev.local_port;
    key.remotePort = req.ev.remote_port;
    key.proto = req.ev.proto;
    key.v6 = req.ev.v6;
    std::lock_guard lock(flowMu);
    if (auto it = flows.find(key); it != flows.end()) {
      meta.currentMetadataValues |= FWPS_METADATA_FIELD_FLOW_HANDLE;
      meta.flowHandle = it->second->id;
    }
    meta.currentMetadataValues |= FWPS_METADATA_FIELD_PACKET_DIRECTION;
    meta.packetDirection =
        (req.ev.flags & XFP_SOCK_F_ACTIVE) != 0 ? FWP_DIRECTION_OUTBOUND : FWP_DIRECTION_INBOUND;
  }
  if (layerId == k.closure4 || layerId == k.closure6 || layerId == k.connect4 ||
      layerId == k.connect6 || layerId == k.bind4 || layerId == k.bind6) {
    meta.currentMetadataValues |= FWPS_METADATA_FIELD_COMPLETION_HANDLE;
    meta.completionHandle = &ind;
  }
}

}  // namespace xfp::callout
