// The FWPS functions of the socket-level ALE layers (wfp-model.md §6.2, §6.5; docs/ale.md):
// writable layer data at the redirect layers, redirect handles and the redirect-state query,
// and ALE endpoint enumeration with its security descriptor.
#include <arpa/inet.h>
#include <fwpsk.h>
#include <sys/random.h>

#include <cstdlib>
#include <cstring>

#include "userspace/callout/runtime_impl.h"
#include "userspace/core/layers.h"
#include "userspace/core/security.h"

namespace xfp::callout {
namespace {

bool isRedirectLayer(uint16_t layerId) {
  const LayerInfo* l = layerById(layerId);
  return l != nullptr && (l->name.starts_with("ALE_BIND_REDIRECT_V") ||
                          l->name.starts_with("ALE_CONNECT_REDIRECT_V"));
}

// The socket indication a classify handle belongs to (pendMu held).
SockRequest* requestOf(RuntimeImpl& rt, uint64_t classifyHandle, uint16_t* layerId) {
  auto it = rt.handles.find(classifyHandle);
  if (it == rt.handles.end() || !it->second.ind || !it->second.ind->sock) {
    return nullptr;
  }
  const Indication& ind = *it->second.ind;
  *layerId = ind.next < ind.layers.size() ? ind.layers[ind.next] : 0;
  return ind.sock.get();
}

bool inSubnet(const FWP_CONDITION_VALUE0& c, bool v6, const uint8_t* addr) {
  switch (c.type) {
    case FWP_EMPTY:
      return true;
    case FWP_UINT32: {
      uint32_t a = 0;
      std::memcpy(&a, addr, 4);
      return !v6 && ntohl(a) == c.uint32;
    }
    case FWP_BYTE_ARRAY16_TYPE:
      return v6 && c.byteArray16 != nullptr &&
             std::memcmp(c.byteArray16->byteArray16, addr, 16) == 0;
    case FWP_V4_ADDR_MASK: {
      uint32_t a = 0;
      std::memcpy(&a, addr, 4);
      return !v6 && c.v4AddrMask != nullptr &&
             (ntohl(a) & c.v4AddrMask->mask) == (c.v4AddrMask->addr & c.v4AddrMask->mask);
    }
    case FWP_V6_ADDR_MASK: {
      if (!v6 || c.v6AddrMask == nullptr || c.v6AddrMask->prefixLength > 128) {
        return false;
      }
      const unsigned bits = c.v6AddrMask->prefixLength;
      for (unsigned i = 0; i < bits; ++i) {
        const uint8_t m = static_cast<uint8_t>(0x80u >> (i % 8));
        if ((addr[i / 8] & m) != (c.v6AddrMask->addr[i / 8] & m)) {
          return false;
        }
      }
      return true;
    }
    default:
      return false;
  }
}

bool inRange(const FWP_CONDITION_VALUE0& c, uint32_t v, FWP_DATA_TYPE exact) {
  if (c.type == FWP_EMPTY) {
    return true;
  }
  if (c.type == exact) {
    return exact == FWP_UINT8 ? v == c.uint8 : v == c.uint16;
  }
  if (c.type == FWP_RANGE_TYPE && c.rangeValue != nullptr && c.rangeValue->valueLow.type == exact &&
      c.rangeValue->valueHigh.type == exact) {
    const uint32_t lo =
        exact == FWP_UINT8 ? c.rangeValue->valueLow.uint8 : c.rangeValue->valueLow.uint16;
    const uint32_t hi =
        exact == FWP_UINT8 ? c.rangeValue->valueHigh.uint8 : c.rangeValue->valueHigh.uint16;
    return lo <= v && v <= hi;
  }
  return false;
}

bool validTemplate(const FWPS_ALE_ENDPOINT_ENUM_TEMPLATE0& t) {
  auto addrOk = [](const FWP_CONDITION_VALUE0& c) {
    return c.type == FWP_EMPTY || c.type == FWP_UINT32 ||
           (c.type == FWP_BYTE_ARRAY16_TYPE && c.byteArray16 != nullptr) ||
           (c.type == FWP_V4_ADDR_MASK && c.v4AddrMask != nullptr) ||
           (c.type == FWP_V6_ADDR_MASK && c.v6AddrMask != nullptr);
  };
  auto numOk = [](const FWP_CONDITION_VALUE0& c, FWP_DATA_TYPE exact) {
    return c.type == FWP_EMPTY || c.type == exact ||
           (c.type == FWP_RANGE_TYPE && c.rangeValue != nullptr);
  };
  return addrOk(t.localSubNet) && addrOk(t.remoteSubNet) && numOk(t.ipProtocol, FWP_UINT8) &&
         numOk(t.localPort, FWP_UINT16) && numOk(t.remotePort, FWP_UINT16);
}

bool matches(const FWPS_ALE_ENDPOINT_ENUM_TEMPLATE0& t, const Endpoint& e) {
  return inSubnet(t.localSubNet, e.v6, e.local) && inSubnet(t.remoteSubNet, e.v6, e.remote) &&
         inRange(t.ipProtocol, e.proto, FWP_UINT8) &&
         inRange(t.localPort, e.localPort, FWP_UINT16) &&
         inRange(t.remotePort, e.remotePort, FWP_UINT16);
}

// Bytes one entry takes in a result block: the properties, then the app id, 16-byte aligned.
size_t entrySize(const Bytes& app) {
  return (sizeof(FWPS_ALE_ENDPOINT_PROPERTIES0) + app.size() + 15) & ~size_t{15};
}

// Writes an endpoint's properties at p (zeroed memory of entrySize(app) bytes), the app id right
// after them.
void fillProperties(const Endpoint& e, const Bytes& app, FWPS_ALE_ENDPOINT_PROPERTIES0* p) {
  p->endpointId = e.id;
  p->ipVersion = e.v6 ? FWP_IP_VERSION_V6 : FWP_IP_VERSION_V4;
  if (e.v6) {
    std::memcpy(p->localV6Address, e.local, 16);
    std::memcpy(p->remoteV6Address, e.remote, 16);
  } else {
    uint32_t a = 0;
    std::memcpy(&a, e.local, 4);
    p->localV4Address = ntohl(a);  // host order, as every WFP IPv4 value
    std::memcpy(&a, e.remote, 4);
    p->remoteV4Address = ntohl(a);
  }
  p->ipProtocol = e.proto;
  p->localPort = e.localPort;
  p->remotePort = e.remotePort;
  p->appId.size = static_cast<UINT32>(app.size());
  if (!app.empty()) {
    p->appId.data = reinterpret_cast<UINT8*>(p + 1);
    std::memcpy(p->appId.data, app.data(), app.size());
  }
}

// The enumeration's descriptor: LocalSystem owns it, Administrators and LocalSystem may
// enumerate (wfp-model.md §6.5; docs/ale.md "Endpoints").
const Bytes& defaultEndpointSecurity() {
  static const Bytes sd = *securityDescriptorFromSddl("O:SYG:SYD:(A;;GA;;;BA)(A;;GA;;;SY)");
  return sd;
}

uint32_t le32(const Bytes& b, size_t off) {
  uint32_t v = 0;
  std::memcpy(&v, b.data() + off, 4);
  return v;
}

size_t sidSize(const void* sid) {
  const auto* s = static_cast<const uint8_t*>(sid);
  return 8 + 4u * s[1];
}

}  // namespace
}  // namespace xfp::callout

using namespace xfp::callout;

extern "C" {

// Plain free() of one block, as libxfpm's; weak so that a process linking both has one.
__attribute__((weak)) void FwpmFreeMemory0(void** p) {
  if (p != nullptr) {
    std::free(*p);
    *p = nullptr;
  }
}

NTSTATUS FwpsAcquireWritableLayerDataPointer0(UINT64 classifyHandle,
                                              UINT64 filterId,
                                              UINT32 flags,
                                              PVOID* writableLayerData,
                                              FWPS_CLASSIFY_OUT0* classifyOut) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr || writableLayerData == nullptr || classifyOut == nullptr || flags != 0) {
    return STATUS_INVALID_PARAMETER;
  }
  std::lock_guard lock(rt->pendMu);
  uint16_t layerId = 0;
  SockRequest* req = requestOf(*rt, classifyHandle, &layerId);
  if (req == nullptr || !isRedirectLayer(layerId)) {
    return STATUS_FWP_INCOMPATIBLE_LAYER;
  }
  if (req->acquired != nullptr || req->finished) {
    return STATUS_FWP_IN_USE;  // one writable copy at a time, applied before the next
  }
  // A copy of the version in effect, chained to it (previousVersion) -- the callout edits the
  // copy and hands it back with FwpsApplyModifiedLayerData0.
  if (!req->bindVersions.empty()) {
    FWPS_BIND_REQUEST0 copy = req->bindVersions[req->current];
    copy.previousVersion = &req->bindVersions[req->current];
    copy.modifierFilterId = 0;
    req->bindVersions.push_back(copy);
    req->acquired = &req->bindVersions.back();
  } else {
    FWPS_CONNECT_REQUEST0 copy = req->connectVersions[req->current];
    copy.previousVersion = &req->connectVersions[req->current];
    copy.modifierFilterId = 0;
    req->connectVersions.push_back(copy);
    req->acquired = &req->connectVersions.back();
  }
  req->acquiredFilter = filterId;
  req->acquiredHandle = classifyHandle;
  *writableLayerData = req->acquired;
  // Documented side effect: BLOCK, and the write right taken (the callout sets PERMIT itself).
  classifyOut->actionType = FWP_ACTION_BLOCK;
  classifyOut->rights &= ~FWPS_RIGHT_ACTION_WRITE;
  return STATUS_SUCCESS;
}

void FwpsApplyModifiedLayerData0(UINT64 classifyHandle, PVOID modifiedLayerData, UINT32 flags) {
  (void)flags;  // REAUTHORIZE_IF_MODIFIED_BY_OTHERS: no later callout is re-run (docs/ale.md)
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return;
  }
  std::lock_guard lock(rt->pendMu);
  uint16_t layerId = 0;
  SockRequest* req = requestOf(*rt, classifyHandle, &layerId);
  if (req == nullptr || req->acquired == nullptr || req->acquired != modifiedLayerData ||
      req->acquiredHandle != classifyHandle) {
    return;  // not the copy this handle acquired: ignored
  }
  if (!req->bindVersions.empty()) {
    req->current = req->bindVersions.size() - 1;
    req->bindVersions.back().modifierFilterId = req->acquiredFilter;
  } else {
    req->current = req->connectVersions.size() - 1;
    FWPS_CONNECT_REQUEST0& c = req->connectVersions.back();
    c.modifierFilterId = req->acquiredFilter;
    // The context is the callout's memory: keep a copy for the life of the request.
    if (c.localRedirectContext != nullptr && c.localRedirectContextSize != 0) {
      const auto* p = static_cast<const uint8_t*>(c.localRedirectContext);
      req->contexts.emplace_back(p, p + c.localRedirectContextSize);
      c.localRedirectContext = req->contexts.back().data();
    }
  }
  req->acquired = nullptr;
}

NTSTATUS FwpsRedirectHandleCreate0(const GUID* providerGuid, UINT32 flags, HANDLE* redirectHandle) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return STATUS_FWP_TCPIP_NOT_READY;
  }
  if (providerGuid == nullptr || redirectHandle == nullptr || flags != 0) {
    return STATUS_INVALID_PARAMETER;
  }
  // Random, not sequential: a process in the cgroup can attach any records to its sockets
  // (setsockopt), so a handle must not be guessable.
  uint64_t h = 0;
  std::lock_guard lock(rt->redirectMu);
  while (h == 0 || rt->redirectHandles.count(h) != 0) {
    if (::getrandom(&h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) {
      return STATUS_INSUFFICIENT_RESOURCES;
    }
  }
  rt->redirectHandles[h] = *providerGuid;
  *redirectHandle = reinterpret_cast<HANDLE>(h);
  return STATUS_SUCCESS;
}

void FwpsRedirectHandleDestroy0(HANDLE redirectHandle) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return;
  }
  std::lock_guard lock(rt->redirectMu);
  rt->redirectHandles.erase(reinterpret_cast<uint64_t>(redirectHandle));
}

FWPS_CONNECTION_REDIRECT_STATE FwpsQueryConnectionRedirectState0(HANDLE redirectRecords,
                                                                 HANDLE redirectHandle,
                                                                 void** redirectContext) {
  if (redirectContext != nullptr) {
    *redirectContext = nullptr;
  }
  const auto* records = static_cast<const RedirectRecords*>(redirectRecords);
  if (records == nullptr || records->handle == 0) {
    return FWPS_CONNECTION_NOT_REDIRECTED;
  }
  RuntimeImpl* rt = activeRuntime();
  if (rt != nullptr) {
    // Records naming no live handle were not issued by a redirect of this runtime.
    std::lock_guard lock(rt->redirectMu);
    if (rt->redirectHandles.count(records->handle) == 0) {
      return FWPS_CONNECTION_NOT_REDIRECTED;
    }
  }
  return records->handle == reinterpret_cast<uint64_t>(redirectHandle)
             ? FWPS_CONNECTION_REDIRECTED_BY_SELF
             : FWPS_CONNECTION_REDIRECTED_BY_OTHER;
}

NTSTATUS FwpsAleEndpointGetById0(HANDLE engineHandle,
                                 UINT64 endpointId,
                                 FWPS_ALE_ENDPOINT_PROPERTIES0** properties) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return STATUS_FWP_TCPIP_NOT_READY;
  }
  if (engineHandle == nullptr || properties == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  std::lock_guard lock(rt->endpointMu);
  const Endpoint* e = rt->endpoints.find(endpointId);
  if (e == nullptr) {
    return STATUS_NOT_FOUND;
  }
  // One block (FwpmFreeMemory0 is free()).
  const xfp::Bytes app = e->who.appId();
  auto* p = static_cast<FWPS_ALE_ENDPOINT_PROPERTIES0*>(std::calloc(1, entrySize(app)));
  if (p == nullptr) {
    return STATUS_NO_MEMORY;
  }
  fillProperties(*e, app, p);
  *properties = p;
  return STATUS_SUCCESS;
}

NTSTATUS FwpsAleEndpointCreateEnumHandle0(HANDLE engineHandle,
                                          const FWPS_ALE_ENDPOINT_ENUM_TEMPLATE0* enumTemplate,
                                          HANDLE* enumHandle) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return STATUS_FWP_TCPIP_NOT_READY;
  }
  if (engineHandle == nullptr || enumHandle == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  if (enumTemplate != nullptr && !validTemplate(*enumTemplate)) {
    return STATUS_FWP_TYPE_MISMATCH;
  }
  // The matching endpoints are fixed now (a snapshot); Enum0 pages through them.
  std::vector<uint64_t> ids;
  {
    std::lock_guard lock(rt->endpointMu);
    for (const auto& [id, e] : rt->endpoints) {
      if (enumTemplate == nullptr || matches(*enumTemplate, e)) {
        ids.push_back(id);
      }
    }
  }
  std::lock_guard lock(rt->endpointEnumMu);
  const uint64_t h = rt->nextEndpointEnum++;
  rt->endpointEnums[h] = std::move(ids);
  *enumHandle = reinterpret_cast<HANDLE>(h);
  return STATUS_SUCCESS;
}

NTSTATUS FwpsAleEndpointEnum0(HANDLE engineHandle,
                              HANDLE enumHandle,
                              UINT32 numEntriesRequested,
                              FWPS_ALE_ENDPOINT_PROPERTIES0*** entries,
                              UINT32* numEntriesReturned) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return STATUS_FWP_TCPIP_NOT_READY;
  }
  if (engineHandle == nullptr || entries == nullptr || numEntriesReturned == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  *entries = nullptr;
  *numEntriesReturned = 0;
  // A page is short only when nothing more matches (wfp-model.md §6.5): endpoints closed since
  // the snapshot are skipped and the next ids taken instead.
  std::vector<Endpoint> live;
  {
    std::lock_guard lock(rt->endpointEnumMu);
    auto it = rt->endpointEnums.find(reinterpret_cast<uint64_t>(enumHandle));
    if (it == rt->endpointEnums.end()) {
      return STATUS_INVALID_HANDLE;
    }
    auto& left = it->second;
    std::lock_guard elock(rt->endpointMu);
    size_t used = 0;
    while (used < left.size() && live.size() < numEntriesRequested) {
      if (const Endpoint* e = rt->endpoints.find(left[used]); e != nullptr) {
        live.push_back(*e);
      }
      ++used;
    }
    left.erase(left.begin(), left.begin() + static_cast<long>(used));
  }
  if (live.empty()) {
    return STATUS_SUCCESS;
  }
  // One block: the pointer array, then each entry with its app id.
  const size_t head = (live.size() * sizeof(void*) + 15) & ~size_t{15};
  size_t size = head;
  std::vector<xfp::Bytes> apps;
  for (const auto& e : live) {
    apps.push_back(e.who.appId());
    size += entrySize(apps.back());
  }
  auto* block = static_cast<uint8_t*>(std::calloc(1, size));
  if (block == nullptr) {
    return STATUS_NO_MEMORY;
  }
  auto** array = reinterpret_cast<FWPS_ALE_ENDPOINT_PROPERTIES0**>(block);
  size_t off = head;
  for (size_t i = 0; i < live.size(); ++i) {
    array[i] = reinterpret_cast<FWPS_ALE_ENDPOINT_PROPERTIES0*>(block + off);
    fillProperties(live[i], apps[i], array[i]);
    off += entrySize(apps[i]);
  }
  *entries = array;
  *numEntriesReturned = static_cast<UINT32>(live.size());
  return STATUS_SUCCESS;
}

NTSTATUS FwpsAleEndpointDestroyEnumHandle0(HANDLE engineHandle, HANDLE enumHandle) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return STATUS_FWP_TCPIP_NOT_READY;
  }
  if (engineHandle == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  std::lock_guard lock(rt->endpointEnumMu);
  return rt->endpointEnums.erase(reinterpret_cast<uint64_t>(enumHandle)) != 0
             ? STATUS_SUCCESS
             : STATUS_INVALID_HANDLE;
}

NTSTATUS FwpsAleEndpointGetSecurityInfo0(HANDLE engineHandle,
                                         SECURITY_INFORMATION securityInfo,
                                         PSID* sidOwner,
                                         PSID* sidGroup,
                                         PACL* dacl,
                                         PACL* sacl,
                                         PSECURITY_DESCRIPTOR* securityDescriptor) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return STATUS_FWP_TCPIP_NOT_READY;
  }
  if (engineHandle == nullptr || securityDescriptor == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  xfp::Bytes sd;
  {
    std::lock_guard lock(rt->endpointEnumMu);
    sd = rt->endpointSecurity.empty() ? defaultEndpointSecurity() : rt->endpointSecurity;
  }
  auto* block = static_cast<uint8_t*>(std::malloc(sd.size()));
  if (block == nullptr) {
    return STATUS_NO_MEMORY;
  }
  std::memcpy(block, sd.data(), sd.size());
  // Self-relative layout: owner, group, SACL, DACL offsets at 4, 8, 12, 16.
  auto part = [&](size_t at, SECURITY_INFORMATION bit) -> void* {
    const uint32_t off = le32(sd, at);
    return (securityInfo & bit) != 0 && off != 0 ? block + off : nullptr;
  };
  if (sidOwner != nullptr) {
    *sidOwner = part(4, OWNER_SECURITY_INFORMATION);
  }
  if (sidGroup != nullptr) {
    *sidGroup = part(8, GROUP_SECURITY_INFORMATION);
  }
  if (sacl != nullptr) {
    *sacl = nullptr;  // xfp keeps no audit ACL
  }
  if (dacl != nullptr) {
    *dacl = static_cast<PACL>(part(16, DACL_SECURITY_INFORMATION));
  }
  *securityDescriptor = block;
  return STATUS_SUCCESS;
}

NTSTATUS FwpsAleEndpointSetSecurityInfo0(HANDLE engineHandle,
                                         SECURITY_INFORMATION securityInfo,
                                         const SID* sidOwner,
                                         const SID* sidGroup,
                                         const ACL* dacl,
                                         const ACL* sacl) {
  RuntimeImpl* rt = activeRuntime();
  if (rt == nullptr) {
    return STATUS_FWP_TCPIP_NOT_READY;
  }
  if (engineHandle == nullptr || (securityInfo & SACL_SECURITY_INFORMATION) != 0 ||
      sacl != nullptr) {
    return (securityInfo & SACL_SECURITY_INFORMATION) != 0 ? STATUS_NOT_SUPPORTED
                                                           : STATUS_INVALID_PARAMETER;
  }
  std::lock_guard lock(rt->endpointEnumMu);
  const xfp::Bytes old =
      rt->endpointSecurity.empty() ? defaultEndpointSecurity() : rt->endpointSecurity;
  auto piece = [&](size_t at) -> xfp::Bytes {
    const uint32_t off = le32(old, at);
    if (off == 0) {
      return {};
    }
    const uint8_t* p = old.data() + off;
    const size_t n = at == 16 ? static_cast<size_t>(p[2] | p[3] << 8) : sidSize(p);
    return xfp::Bytes(p, p + n);
  };
  xfp::Bytes owner = piece(4);
  xfp::Bytes group = piece(8);
  xfp::Bytes acl = piece(16);
  if ((securityInfo & OWNER_SECURITY_INFORMATION) != 0) {
    if (sidOwner == nullptr) {
      return STATUS_INVALID_PARAMETER;
    }
    const auto* p = reinterpret_cast<const uint8_t*>(sidOwner);
    owner.assign(p, p + sidSize(p));
  }
  if ((securityInfo & GROUP_SECURITY_INFORMATION) != 0) {
    if (sidGroup == nullptr) {
      return STATUS_INVALID_PARAMETER;
    }
    const auto* p = reinterpret_cast<const uint8_t*>(sidGroup);
    group.assign(p, p + sidSize(p));
  }
  if ((securityInfo & DACL_SECURITY_INFORMATION) != 0) {
    if (dacl == nullptr || dacl->AclSize < sizeof(ACL)) {
      return STATUS_INVALID_PARAMETER;
    }
    const auto* p = reinterpret_cast<const uint8_t*>(dacl);
    acl.assign(p, p + dacl->AclSize);
  }
  // Rebuild the self-relative descriptor: header, owner, group, DACL.
  xfp::Bytes sd(20, 0);
  sd[0] = 1;
  const uint16_t control = 0x8000 | (acl.empty() ? 0 : 0x0004);  // SELF_RELATIVE | DACL_PRESENT
  sd[2] = static_cast<uint8_t>(control);
  sd[3] = static_cast<uint8_t>(control >> 8);
  auto append = [&](const xfp::Bytes& part, size_t at) {
    if (part.empty()) {
      return;
    }
    const auto off = static_cast<uint32_t>(sd.size());
    std::memcpy(sd.data() + at, &off, 4);
    sd.insert(sd.end(), part.begin(), part.end());
  };
  append(owner, 4);
  append(group, 8);
  append(acl, 16);
  if (!xfp::validateSecurityDescriptor(sd)) {
    return STATUS_INVALID_PARAMETER;
  }
  rt->endpointSecurity = std::move(sd);
  return STATUS_SUCCESS;
}

}  // extern "C"
