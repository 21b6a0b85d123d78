// The C entry points of fwpsk.h: each checks its arguments, finds the process's CalloutRuntime
// and does what wfp-model.md §5-§6 say, returning WFP's NTSTATUS codes.
#include <arpa/inet.h>
#include <fwpsk.h>

#include <cstring>
#include <thread>

#include "userspace/callout/runtime_impl.h"
#include "userspace/core/layers.h"

namespace xfp::callout {
namespace {

Guid toGuid(const GUID& g) {
  Guid out;
  std::memcpy(out.bytes.data(), &g, 16);
  return out;
}

bool pendableLayer(uint16_t layerId) {
  const LayerInfo* l = layerById(layerId);
  if (l == nullptr) {
    return false;
  }
  const std::string_view n = l->name;
  return n.starts_with("ALE_AUTH_CONNECT_V") || n.starts_with("ALE_AUTH_RECV_ACCEPT_V") ||
         n.starts_with("ALE_CONNECT_REDIRECT_V") || n.starts_with("ALE_BIND_REDIRECT_V") ||
         n.starts_with("ALE_ENDPOINT_CLOSURE_V");
}

uint16_t currentLayer(const Indication& ind) {
  return ind.next < ind.layers.size() ? ind.layers[ind.next] : 0;
}

template <class Callout>
NTSTATUS registerCallout(void* deviceObject, const Callout* callout, UINT32* calloutId, int rev) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return STATUS_FWP_TCPIP_NOT_READY;
  }
  if (callout == nullptr || callout->classifyFn == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  auto c = std::make_shared<RegisteredCallout>();
  c->key = callout->calloutKey;
  c->flags = callout->flags;
  c->revision = rev;
  c->classifyFn = reinterpret_cast<void*>(callout->classifyFn);
  c->notifyFn = reinterpret_cast<void*>(callout->notifyFn);
  c->flowDeleteFn = callout->flowDeleteFn;
  c->device = deviceObject;
  {
    std::lock_guard plock(rt->policyMu);
    c->id = rt->calloutIdFor(toGuid(callout->calloutKey));
    {
      std::unique_lock lock(rt->regMu);
      for (const auto& [id, other] : rt->callouts) {
        if (std::memcmp(&other->key, &callout->calloutKey, sizeof(GUID)) == 0) {
          return STATUS_FWP_ALREADY_EXISTS;
        }
      }
      rt->callouts[c->id] = c;
    }
    // Filters of this callout now punt (registered): recompile and publish.
    if (auto r = rt->republishLocked(); !r) {
      std::unique_lock lock(rt->regMu);
      rt->callouts.erase(c->id);
      return STATUS_UNSUCCESSFUL;
    }
  }
  if (calloutId != nullptr) {
    *calloutId = c->id;
  }
  return STATUS_SUCCESS;
}

NTSTATUS unregisterCallout(RuntimeImpl* rt, std::shared_ptr<RegisteredCallout> c) {
  {
    std::lock_guard lock(rt->flowMu);
    for (const auto& [k, f] : rt->flows) {
      for (const auto& [lc, ctx] : f->contexts) {
        if (lc.second == c->id) {
          return STATUS_DEVICE_BUSY;  // remove the flow contexts first (wfp-model.md §5.6)
        }
      }
    }
  }
  if (c->unregistering.exchange(true)) {
    return STATUS_FWP_IN_USE;
  }
  // Quiescence: no classifyFn of this callout runs after we return (unless we are inside it).
  const Indication* self = currentIndication();
  const int mine = self != nullptr && self->currentCalloutId == c->id ? 1 : 0;
  for (int i = 0; i < 5000 && c->inFlight.load() > mine; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  {
    std::unique_lock lock(rt->regMu);
    rt->callouts.erase(c->id);
  }
  rt->blockPendedOf(c->id);
  std::lock_guard plock(rt->policyMu);
  (void)rt->fastPath->setCalloutLive(c->id, false);
  (void)rt->republishLocked();
  return STATUS_SUCCESS;
}

// Bounds on pended indications (docs/callouts.md, "Pend bounds"); call with pendMu held.
bool pendRoom(RuntimeImpl& rt, const Indication& ind) {
  return rt.pended.size() < rt.options.maxPended &&
         rt.pendedBytes + (ind.nbl ? ind.nbl->frame.size() : 0) <= rt.options.maxPendedBytes;
}

// Ethernet header for an injected IP packet.
std::vector<uint8_t> ethernetFor(const NET_BUFFER_LIST& nbl,
                                 const uint8_t* ownMac,
                                 bool inbound,
                                 uint8_t ipVersion) {
  std::vector<uint8_t> eth(14, 0);
  const bool haveFrame = nbl.l3 >= 14 && nbl.frame.size() >= 14 && nbl.l4 != 0;
  if (inbound) {
    std::memcpy(eth.data(), ownMac, 6);
    if (haveFrame) {
      std::memcpy(eth.data() + 6, nbl.frame.data() + (nbl.inbound ? 6 : 0), 6);
    } else {
      eth[6] = 0x02;
      eth[11] = 0x01;
    }
  } else if (haveFrame) {
    // Toward the peer the original frame came from or went to.
    std::memcpy(eth.data(), nbl.frame.data() + (nbl.inbound ? 6 : 0), 6);
    std::memcpy(eth.data() + 6, nbl.frame.data() + (nbl.inbound ? 0 : 6), 6);
  }
  eth[12] = ipVersion == 6 ? 0x86 : 0x08;
  eth[13] = ipVersion == 6 ? 0xdd : 0x00;
  return eth;
}

void fixLengths(std::vector<uint8_t>& f) {
  if (f.size() < 14 + 20) {
    return;
  }
  const size_t l3 = 14;
  if ((f[l3] >> 4) == 4) {
    const size_t ihl = static_cast<size_t>(f[l3] & 0xf) * 4;
    const size_t total = f.size() - l3;
    f[l3 + 2] = static_cast<uint8_t>(total >> 8);
    f[l3 + 3] = static_cast<uint8_t>(total & 0xff);
    if (f[l3 + 9] == 17 && f.size() >= l3 + ihl + 8) {
      const size_t ul = total - ihl;
      f[l3 + ihl + 4] = static_cast<uint8_t>(ul >> 8);
      f[l3 + ihl + 5] = static_cast<uint8_t>(ul & 0xff);
    }
  } else if ((f[l3] >> 4) == 6 && f.size() >= l3 + 40) {
    const size_t pl = f.size() - l3 - 40;
    f[l3 + 4] = static_cast<uint8_t>(pl >> 8);
    f[l3 + 5] = static_cast<uint8_t>(pl & 0xff);
    if (f[l3 + 6] == 17 && f.size() >= l3 + 48) {
      f[l3 + 44] = static_cast<uint8_t>(pl >> 8);
      f[l3 + 45] = static_cast<uint8_t>(pl & 0xff);
    }
  }
}

enum class InjectKind { NetworkSend, NetworkReceive, TransportSend, TransportReceive };

NTSTATUS inject(HANDLE injectionHandle,
                HANDLE injectionContext,
                InjectKind kind,
                ADDRESS_FAMILY af,
                IF_INDEX ifIndex,
                const UCHAR* remoteAddress,
                NET_BUFFER_LIST* nbl,
                FWPS_INJECT_COMPLETE0 completionFn,
                HANDLE completionContext) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return STATUS_FWP_TCPIP_NOT_READY;
  }
  if (nbl == nullptr || completionFn == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  auto* h = static_cast<InjectionHandle*>(injectionHandle);
  {
    std::lock_guard lock(rt->injectMu);
    if (rt->injectionHandles.count(h) == 0) {
      return STATUS_INVALID_HANDLE;
    }
  }
  if (h->closing.load()) {
    return STATUS_FWP_INJECT_HANDLE_CLOSING;
  }
  const bool network = kind == InjectKind::NetworkSend || kind == InjectKind::NetworkReceive;
  if (network && ((h->flags & FWPS_INJECTION_TYPE_NETWORK) == 0 ||
                  (h->family != AF_INET && h->family != AF_INET6))) {
    return STATUS_FWP_INJECT_HANDLE_STALE;
  }
  if (!network && h->flags != 0 && (h->flags & FWPS_INJECTION_TYPE_TRANSPORT) == 0) {
    return STATUS_FWP_INJECT_HANDLE_STALE;
  }
  const bool inbound = kind == InjectKind::NetworkReceive || kind == InjectKind::TransportReceive;
  const uint32_t ifindex = ifIndex != 0 ? ifIndex : nbl->ifindex;
  AttachedInterface* port = rt->interfaceFor(ifindex);
  if (port == nullptr) {
    return STATUS_INVALID_PARAMETER;  // not an interface this runtime serves
  }
  std::vector<uint8_t> frame;
  const uint8_t* data = nbl->frame.data() + nbl->offset;
  const size_t len = nbl->dataLength();
  if (kind == InjectKind::TransportSend) {
    // The data starts at the transport header; the IP header comes from the packet the list was
    // made from (xfp cannot build one from an endpoint handle).
    if (nbl->l4 == 0 || nbl->l4 > nbl->offset || nbl->l3 >= nbl->l4) {
      return STATUS_INVALID_PARAMETER;
    }
    const uint8_t version = nbl->frame[nbl->l3] >> 4;
    frame = ethernetFor(*nbl, port->mac, false, version);
    frame.insert(frame.end(),
                 nbl->frame.begin() + static_cast<long>(nbl->l3),
                 nbl->frame.begin() + static_cast<long>(nbl->l4));
    if (nbl->inbound) {
      // Answering an inbound packet: swap its addresses.
      uint8_t* ip = frame.data() + 14;
      if (version == 4) {
        uint8_t tmp[4];
        std::memcpy(tmp, ip + 12, 4);
        std::memcpy(ip + 12, ip + 16, 4);
        std::memcpy(ip + 16, tmp, 4);
      } else {
        uint8_t tmp[16];
        std::memcpy(tmp, ip + 8, 16);
        std::memcpy(ip + 8, ip + 24, 16);
        std::memcpy(ip + 24, tmp, 16);
      }
    }
    if (remoteAddress != nullptr) {
      std::memcpy(
          frame.data() + 14 + (version == 4 ? 16 : 24), remoteAddress, version == 4 ? 4 : 16);
    }
    frame.insert(frame.end(), data, data + len);
  } else {
    // The data starts at the IP header.
    if (len < 20) {
      return STATUS_INVALID_PARAMETER;
    }
    const uint8_t version = data[0] >> 4;
    if ((version == 4 && af == AF_INET6) || (version == 6 && af == AF_INET)) {
      return STATUS_INVALID_PARAMETER;
    }
    frame = ethernetFor(*nbl, port->mac, inbound, version);
    frame.insert(frame.end(), data, data + len);
  }
  fixLengths(frame);
  h->outstanding.fetch_add(1);
  nbl->previouslyInjectedBy = nbl->injectedBy;
  nbl->injectedBy = h;
  nbl->injectionContext = injectionContext;
  if (inbound) {
    rt->deliverInbound(ifindex, h->mark, std::move(frame));
  } else {
    rt->sendOutbound(ifindex, std::move(frame));
  }
  rt->stats.injected.fetch_add(1);
  // Completion runs later, on the runtime's completion thread (never inside this call).
  rt->postCompletion([h, nbl, completionFn, completionContext] {
    nbl->status = STATUS_SUCCESS;
    try {
      completionFn(completionContext, nbl, FALSE);
    } catch (...) {
      if (RuntimeImpl* r = activeRuntime()) {
        r->stats.pluginFaults.fetch_add(1);
      }
    }
    h->outstanding.fetch_sub(1);
  });
  return STATUS_SUCCESS;
}

std::atomic<uint64_t> gNextTag{1};
std::atomic<uint32_t> gNextMark{1};

}  // namespace
}  // namespace xfp::callout

using namespace xfp::callout;

extern "C" {

NTSTATUS FwpsCalloutRegister0(void* deviceObject, const FWPS_CALLOUT0* callout, UINT32* id) {
  return registerCallout(deviceObject, callout, id, 0);
}
NTSTATUS FwpsCalloutRegister1(void* deviceObject, const FWPS_CALLOUT1* callout, UINT32* id) {
  return registerCallout(deviceObject, callout, id, 1);
}
NTSTATUS FwpsCalloutRegister2(void* deviceObject, const FWPS_CALLOUT2* callout, UINT32* id) {
  return registerCallout(deviceObject, callout, id, 2);
}

NTSTATUS FwpsCalloutUnregisterById0(const UINT32 calloutId) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return STATUS_FWP_CALLOUT_NOT_FOUND;
  }
  auto c = rt->registered(calloutId);
  if (c == nullptr) {
    return STATUS_FWP_CALLOUT_NOT_FOUND;
  }
  return unregisterCallout(rt, c);
}

NTSTATUS FwpsCalloutUnregisterByKey0(const GUID* calloutKey) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr || calloutKey == nullptr) {
    return calloutKey == nullptr ? STATUS_INVALID_PARAMETER : STATUS_FWP_CALLOUT_NOT_FOUND;
  }
  std::shared_ptr<RegisteredCallout> c;
  {
    std::shared_lock lock(rt->regMu);
    for (const auto& [id, other] : rt->callouts) {
      if (std::memcmp(&other->key, calloutKey, sizeof(GUID)) == 0) {
        c = other;
      }
    }
  }
  if (c == nullptr) {
    return STATUS_FWP_CALLOUT_NOT_FOUND;
  }
  return unregisterCallout(rt, c);
}

NTSTATUS FwpsFlowAssociateContext0(UINT64 flowId, UINT16 layerId, UINT32 calloutId, UINT64 ctx) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr || ctx == 0) {
    return STATUS_INVALID_PARAMETER;
  }
  auto c = rt->registered(calloutId);
  if (c == nullptr || c->flowDeleteFn == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  std::lock_guard lock(rt->flowMu);
  auto it = rt->flowsById.find(flowId);
  if (it == rt->flowsById.end()) {
    return STATUS_INVALID_PARAMETER;
  }
  auto [pos, inserted] = it->second->contexts.emplace(std::make_pair(layerId, calloutId), ctx);
  (void)pos;
  return inserted ? STATUS_SUCCESS : STATUS_OBJECT_NAME_EXISTS;
}

NTSTATUS FwpsFlowRemoveContext0(UINT64 flowId, UINT16 layerId, UINT32 calloutId) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return STATUS_UNSUCCESSFUL;
  }
  uint64_t ctx = 0;
  std::shared_ptr<RegisteredCallout> c = rt->registered(calloutId);
  {
    std::lock_guard lock(rt->flowMu);
    auto it = rt->flowsById.find(flowId);
    if (it == rt->flowsById.end()) {
      return STATUS_UNSUCCESSFUL;
    }
    Flow& f = *it->second;
    auto ci = f.contexts.find({layerId, calloutId});
    if (ci == f.contexts.end()) {
      return STATUS_UNSUCCESSFUL;
    }
    const Indication* cur = currentIndication();
    const bool insideOwnClassify = cur != nullptr && cur->flow.get() == &f;
    if (f.classifying > (insideOwnClassify ? 1 : 0)) {
      // A classify of this flow runs elsewhere: flowDeleteFn once it has finished.
      f.deleteAfterClassify.insert({layerId, calloutId});
      return STATUS_PENDING;
    }
    ctx = ci->second;
    f.contexts.erase(ci);
  }
  if (c != nullptr && c->flowDeleteFn != nullptr) {
    c->flowDeleteFn(layerId, calloutId, ctx);
  }
  return STATUS_SUCCESS;
}

NTSTATUS FwpsAcquireClassifyHandle0(void* classifyContext, UINT32 flags, UINT64* classifyHandle) {
  RuntimeImpl* rt = activeRuntime();
  Indication* cur = currentIndication();
  if (rt == nullptr || classifyHandle == nullptr || flags != 0 || cur == nullptr ||
      classifyContext != cur) {
    return STATUS_INVALID_PARAMETER;
  }
  std::lock_guard lock(rt->pendMu);
  const uint64_t h = rt->nextHandle++;
  ClassifyHandleState& st = rt->handles[h];
  st.ind = cur->self.lock();
  st.calloutId = cur->currentCalloutId;
  st.filterId = cur->currentFilterId;
  st.refs = 1;
  *classifyHandle = h;
  return STATUS_SUCCESS;
}

void FwpsReleaseClassifyHandle0(UINT64 classifyHandle) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return;
  }
  std::lock_guard lock(rt->pendMu);
  auto it = rt->handles.find(classifyHandle);
  if (it != rt->handles.end() && --it->second.refs <= 0) {
    rt->handles.erase(it);
  }
}

NTSTATUS FwpsPendClassify0(UINT64 classifyHandle,
                           UINT64 filterId,
                           UINT32 flags,
                           FWPS_CLASSIFY_OUT0* classifyOut) {
  RuntimeImpl* rt = activeRuntime();
  Indication* cur = currentIndication();
  if (rt == nullptr || flags != 0 || classifyOut == nullptr || cur == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  std::lock_guard lock(rt->pendMu);
  auto it = rt->handles.find(classifyHandle);
  if (it == rt->handles.end() || it->second.ind.get() != cur || it->second.operation) {
    return STATUS_INVALID_PARAMETER;
  }
  if (!pendableLayer(currentLayer(*cur)) || cur->noPend) {
    return STATUS_FWP_CANNOT_PEND;
  }
  if (!pendRoom(*rt, *cur)) {
    rt->stats.pendRefused.fetch_add(1);
    return STATUS_QUOTA_EXCEEDED;
  }
  it->second.pended = true;
  it->second.filterId = filterId;
  it->second.refs++;
  cur->pendingFilters.insert(filterId);
  rt->stats.pended.fetch_add(1);
  return STATUS_SUCCESS;
}

void FwpsCompleteClassify0(UINT64 classifyHandle,
                           UINT32 flags,
                           const FWPS_CLASSIFY_OUT0* classifyOut) {
  (void)flags;
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return;
  }
  std::shared_ptr<Indication> ind;
  bool resume = false;
  {
    std::lock_guard lock(rt->pendMu);
    auto it = rt->handles.find(classifyHandle);
    if (it == rt->handles.end() || !it->second.pended || !it->second.ind) {
      return;
    }
    ind = it->second.ind;
    const uint64_t fid = it->second.filterId;
    it->second.pended = false;
    if (--it->second.refs <= 0) {
      rt->handles.erase(it);
    }
    ind->pendingFilters.erase(fid);
    if (classifyOut != nullptr) {
      ind->memo[fid] = *classifyOut;  // the callout's final answer for this filter
    } else {
      // NULL: re-authorize the indication (the layer runs again, no pend allowed).
      ind->memo.clear();
      ind->extraFlags |= FWP_CONDITION_FLAG_IS_REAUTHORIZE;
      ind->reauthReason = FWP_CONDITION_REAUTHORIZE_REASON_CLASSIFY_COMPLETION;
      ind->noPend = true;
    }
    if (ind->pendingFilters.empty() && !ind->pendOperation) {
      if (rt->pended.count(ind->pendId) != 0 && ind->pendId != 0) {
        resume = true;
      } else {
        ind->rerun = true;
      }
    }
  }
  if (resume) {
    rt->completePend(ind);
  }
}

NTSTATUS FwpsPendOperation0(HANDLE completionHandle, HANDLE* completionContext) {
  RuntimeImpl* rt = activeRuntime();
  Indication* cur = currentIndication();
  if (rt == nullptr || completionContext == nullptr || cur == nullptr || completionHandle != cur) {
    return STATUS_INVALID_PARAMETER;
  }
  const xfp::LayerInfo* l = xfp::layerById(currentLayer(*cur));
  if (l == nullptr ||
      !(l->name.starts_with("ALE_AUTH_CONNECT_V") ||
        l->name.starts_with("ALE_AUTH_RECV_ACCEPT_V")) ||
      cur->noPend) {
    return STATUS_FWP_CANNOT_PEND;
  }
  std::lock_guard lock(rt->pendMu);
  if (!pendRoom(*rt, *cur)) {
    rt->stats.pendRefused.fetch_add(1);
    return STATUS_QUOTA_EXCEEDED;
  }
  const uint64_t h = rt->nextHandle++;
  ClassifyHandleState& st = rt->handles[h];
  st.ind = cur->self.lock();
  st.operation = true;
  st.pended = true;
  st.calloutId = cur->currentCalloutId;
  st.filterId = cur->currentFilterId;
  st.refs = 1;
  cur->pendOperation = true;
  rt->stats.pended.fetch_add(1);
  *completionContext = reinterpret_cast<HANDLE>(h);
  return STATUS_SUCCESS;
}

void FwpsCompleteOperation0(HANDLE completionContext, NET_BUFFER_LIST* netBufferList) {
  (void)netBufferList;  // xfp holds the pended packet itself: no clone to hand back
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return;
  }
  std::shared_ptr<Indication> ind;
  bool resume = false;
  {
    std::lock_guard lock(rt->pendMu);
    auto it = rt->handles.find(reinterpret_cast<uint64_t>(completionContext));
    if (it == rt->handles.end() || !it->second.operation || !it->second.ind) {
      return;
    }
    ind = it->second.ind;
    rt->handles.erase(it);
    ind->pendOperation = false;
    // Completion triggers a re-authorization of the layer (wfp-model.md §6.1, legacy path).
    ind->memo.clear();
    ind->extraFlags |= FWP_CONDITION_FLAG_IS_REAUTHORIZE;
    ind->reauthReason = FWP_CONDITION_REAUTHORIZE_REASON_CLASSIFY_COMPLETION;
    ind->noPend = true;
    if (ind->pendingFilters.empty()) {
      if (rt->pended.count(ind->pendId) != 0 && ind->pendId != 0) {
        resume = true;
      } else {
        ind->rerun = true;
      }
    }
  }
  if (resume) {
    rt->completePend(ind);
  }
}

NTSTATUS FwpsInjectionHandleCreate0(ADDRESS_FAMILY af, UINT32 flags, HANDLE* injectionHandle) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return STATUS_FWP_TCPIP_NOT_READY;
  }
  if (injectionHandle == nullptr || (af != AF_UNSPEC && af != AF_INET && af != AF_INET6)) {
    return STATUS_INVALID_PARAMETER;
  }
  auto* h = new InjectionHandle();
  h->family = af;
  h->flags = flags;
  // The skb mark of its inbound injections: 'XF' in the top 16 bits, a handle number below.
  h->mark = 0x58460000u | (gNextMark.fetch_add(1) & 0xffff);
  std::lock_guard lock(rt->injectMu);
  rt->injectionHandles.insert(h);
  *injectionHandle = h;
  return STATUS_SUCCESS;
}

NTSTATUS FwpsInjectionHandleDestroy0(HANDLE injectionHandle) {
  RuntimeImpl* rt = activeRuntime();
  auto* h = static_cast<InjectionHandle*>(injectionHandle);
  if (rt == nullptr) {
    return STATUS_INVALID_HANDLE;
  }
  {
    std::lock_guard lock(rt->injectMu);
    if (rt->injectionHandles.count(h) == 0) {
      return STATUS_INVALID_HANDLE;
    }
  }
  h->closing = true;
  // Waits for this handle's injections to complete (bounded: a completion function that never
  // returns cannot hold the caller forever).
  for (int i = 0; i < 5000 && h->outstanding.load() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  std::lock_guard lock(rt->injectMu);
  rt->injectionHandles.erase(h);
  if (h->outstanding.load() == 0) {
    delete h;
  }
  return STATUS_SUCCESS;
}

NTSTATUS FwpsInjectTransportSendAsync0(HANDLE h,
                                       HANDLE injectionContext,
                                       UINT64 endpointHandle,
                                       UINT32 flags,
                                       FWPS_TRANSPORT_SEND_PARAMS0* sendArgs,
                                       ADDRESS_FAMILY af,
                                       COMPARTMENT_ID compartmentId,
                                       NET_BUFFER_LIST* nbl,
                                       FWPS_INJECT_COMPLETE0 completionFn,
                                       HANDLE completionContext) {
  (void)endpointHandle;
  (void)flags;
  (void)compartmentId;
  return inject(h,
                injectionContext,
                InjectKind::TransportSend,
                af,
                0,
                sendArgs != nullptr ? sendArgs->remoteAddress : nullptr,
                nbl,
                completionFn,
                completionContext);
}

NTSTATUS FwpsInjectTransportSendAsync1(HANDLE h,
                                       HANDLE injectionContext,
                                       UINT64 endpointHandle,
                                       UINT32 flags,
                                       FWPS_TRANSPORT_SEND_PARAMS1* sendArgs,
                                       ADDRESS_FAMILY af,
                                       COMPARTMENT_ID compartmentId,
                                       NET_BUFFER_LIST* nbl,
                                       FWPS_INJECT_COMPLETE0 completionFn,
                                       HANDLE completionContext) {
  (void)endpointHandle;
  (void)flags;
  (void)compartmentId;
  return inject(h,
                injectionContext,
                InjectKind::TransportSend,
                af,
                0,
                sendArgs != nullptr ? sendArgs->remoteAddress : nullptr,
                nbl,
                completionFn,
                completionContext);
}

NTSTATUS FwpsInjectTransportReceiveAsync0(HANDLE h,
                                          HANDLE injectionContext,
                                          PVOID reserved,
                                          UINT32 flags,
                                          ADDRESS_FAMILY af,
                                          COMPARTMENT_ID compartmentId,
                                          IF_INDEX interfaceIndex,
                                          IF_INDEX subInterfaceIndex,
                                          NET_BUFFER_LIST* nbl,
                                          FWPS_INJECT_COMPLETE0 completionFn,
                                          HANDLE completionContext) {
  (void)reserved;
  (void)flags;
  (void)compartmentId;
  (void)subInterfaceIndex;
  return inject(h,
                injectionContext,
                InjectKind::TransportReceive,
                af,
                interfaceIndex,
                nullptr,
                nbl,
                completionFn,
                completionContext);
}

NTSTATUS FwpsInjectNetworkSendAsync0(HANDLE h,
                                     HANDLE injectionContext,
                                     UINT32 flags,
                                     COMPARTMENT_ID compartmentId,
                                     NET_BUFFER_LIST* nbl,
                                     FWPS_INJECT_COMPLETE0 completionFn,
                                     HANDLE completionContext) {
  (void)flags;
  (void)compartmentId;
  auto* handle = static_cast<InjectionHandle*>(h);
  return inject(h,
                injectionContext,
                InjectKind::NetworkSend,
                handle != nullptr ? handle->family : AF_UNSPEC,
                0,
                nullptr,
                nbl,
                completionFn,
                completionContext);
}

NTSTATUS FwpsInjectNetworkReceiveAsync0(HANDLE h,
                                        HANDLE injectionContext,
                                        UINT32 flags,
                                        COMPARTMENT_ID compartmentId,
                                        IF_INDEX interfaceIndex,
                                        IF_INDEX subInterfaceIndex,
                                        NET_BUFFER_LIST* nbl,
                                        FWPS_INJECT_COMPLETE0 completionFn,
                                        HANDLE completionContext) {
  (void)flags;
  (void)compartmentId;
  (void)subInterfaceIndex;
  auto* handle = static_cast<InjectionHandle*>(h);
  return inject(h,
                injectionContext,
                InjectKind::NetworkReceive,
                handle != nullptr ? handle->family : AF_UNSPEC,
                interfaceIndex,
                nullptr,
                nbl,
                completionFn,
                completionContext);
}

FWPS_PACKET_INJECTION_STATE FwpsQueryPacketInjectionState0(HANDLE injectionHandle,
                                                           const NET_BUFFER_LIST* nbl,
                                                           HANDLE* injectionContext) {
  if (nbl == nullptr || nbl->injectedBy == nullptr) {
    return FWPS_PACKET_NOT_INJECTED;
  }
  if (nbl->injectedBy == injectionHandle) {
    if (injectionContext != nullptr) {
      *injectionContext = nbl->injectionContext;
    }
    return FWPS_PACKET_INJECTED_BY_SELF;
  }
  if (nbl->previouslyInjectedBy == injectionHandle) {
    if (injectionContext != nullptr) {
      *injectionContext = nbl->injectionContext;
    }
    return FWPS_PACKET_PREVIOUSLY_INJECTED_BY_SELF;
  }
  return FWPS_PACKET_INJECTED_BY_OTHER;
}

UINT64 FwpsNetBufferListGetTagForContext0(void) {
  return gNextTag.fetch_add(1);
}

NTSTATUS FwpsNetBufferListAssociateContext0(NET_BUFFER_LIST* nbl,
                                            UINT16 layerId,
                                            UINT64 context,
                                            UINT64 contextTag,
                                            GUID* providerGuid,
                                            void* deviceObject,
                                            FWPS_NET_BUFFER_LIST_NOTIFY_FN0 notifyFn,
                                            UINT32 flags) {
  (void)providerGuid;
  (void)deviceObject;
  if (nbl == nullptr || contextTag == 0 || flags != 0) {
    return STATUS_INVALID_PARAMETER;
  }
  for (const auto& t : nbl->tags) {
    if (t.tag == contextTag) {
      return STATUS_OBJECT_NAME_EXISTS;
    }
  }
  nbl->tags.push_back({contextTag, context, layerId, notifyFn});
  return STATUS_SUCCESS;
}

NTSTATUS FwpsNetBufferListRetrieveContext0(
    NET_BUFFER_LIST* nbl, UINT64 contextTag, BOOLEAN removeContext, UINT32 flags, UINT64* context) {
  if (nbl == nullptr || context == nullptr || flags != 0) {
    return STATUS_INVALID_PARAMETER;
  }
  for (auto it = nbl->tags.begin(); it != nbl->tags.end(); ++it) {
    if (it->tag == contextTag) {
      *context = it->context;
      if (removeContext) {
        nbl->tags.erase(it);
      }
      return STATUS_SUCCESS;
    }
  }
  return STATUS_NOT_FOUND;
}

NTSTATUS FwpsNetBufferListRemoveContext0(NET_BUFFER_LIST* nbl, UINT64 contextTag, UINT32 flags) {
  if (flags != 0) {
    return STATUS_INVALID_PARAMETER;
  }
  auto removeFrom = [contextTag](NET_BUFFER_LIST* n) {
    for (auto it = n->tags.begin(); it != n->tags.end(); ++it) {
      if (it->tag == contextTag) {
        const auto t = *it;
        n->tags.erase(it);
        if (t.notify != nullptr) {
          t.notify(FWPS_NET_BUFFER_LIST_CONTEXT_REMOVED, n, nullptr, t.layerId, t.context, t.tag);
        }
        return true;
      }
    }
    return false;
  };
  if (nbl != nullptr) {
    return removeFrom(nbl) ? STATUS_SUCCESS : STATUS_NOT_FOUND;
  }
  bool any = false;
  forEachLiveNetBufferList([&](NET_BUFFER_LIST* n) { any = removeFrom(n) || any; });
  return any ? STATUS_SUCCESS : STATUS_NOT_FOUND;
}

}  // extern "C"
