#include "userspace/callout/nbl.h"

#include <cstring>
#include <mutex>
#include <unordered_set>

namespace {
std::mutex gLiveMu;
std::unordered_set<NET_BUFFER_LIST*> gLive;
}  // namespace

NET_BUFFER_LIST_::NET_BUFFER_LIST_() {
  nb.owner = this;
  std::lock_guard lock(gLiveMu);
  gLive.insert(this);
}

NET_BUFFER_LIST_::~NET_BUFFER_LIST_() {
  {
    std::lock_guard lock(gLiveMu);
    gLive.erase(this);
  }
  // Tags leave with the packet (wfp-model.md §6.4: contexts are removed when packets leave).
  for (const Tag& t : tags) {
    if (t.notify != nullptr) {
      try {
        t.notify(FWPS_NET_BUFFER_LIST_CONTEXT_REMOVED, this, nullptr, t.layerId, t.context, t.tag);
      } catch (...) {
        // A plugin's notify function that throws loses its notification, nothing else.
      }
    }
  }
}

namespace xfp::callout {

void forEachLiveNetBufferList(const std::function<void(NET_BUFFER_LIST*)>& fn) {
  std::vector<NET_BUFFER_LIST*> all;
  {
    std::lock_guard lock(gLiveMu);
    all.assign(gLive.begin(), gLive.end());
  }
  for (NET_BUFFER_LIST* n : all) {
    fn(n);
  }
}

NET_BUFFER_LIST* newNetBufferList(std::vector<uint8_t> frame, size_t offset) {
  auto* nbl = new NET_BUFFER_LIST_();
  nbl->frame = std::move(frame);
  nbl->offset = offset <= nbl->frame.size() ? offset : nbl->frame.size();
  locateHeaders(*nbl);
  return nbl;
}

NET_BUFFER_LIST* cloneNetBufferList(const NET_BUFFER_LIST& o) {
  auto* c = new NET_BUFFER_LIST_();
  c->frame = o.frame;
  c->offset = o.offset;
  c->ifindex = o.ifindex;
  c->inbound = o.inbound;
  c->l3 = o.l3;
  c->l4 = o.l4;
  c->injectedBy = o.injectedBy;
  c->previouslyInjectedBy = o.previouslyInjectedBy;
  c->injectionContext = o.injectionContext;
  return c;
}

void locateHeaders(NET_BUFFER_LIST& nbl) {
  const auto& f = nbl.frame;
  size_t l3 = 14;
  nbl.l3 = l3;
  nbl.l4 = 0;
  if (f.size() < 14) {
    return;
  }
  uint16_t type = static_cast<uint16_t>(f[12] << 8 | f[13]);
  for (int i = 0; i < 2 && (type == 0x8100 || type == 0x88a8) && f.size() >= l3 + 4; ++i) {
    type = static_cast<uint16_t>(f[l3 + 2] << 8 | f[l3 + 3]);
    l3 += 4;
  }
  nbl.l3 = l3;
  if (type == 0x0800 && f.size() >= l3 + 20) {
    const size_t ihl = static_cast<size_t>(f[l3] & 0xf) * 4;
    const bool later = ((f[l3 + 6] & 0x1f) | f[l3 + 7]) != 0;
    if (ihl >= 20 && !later && f.size() >= l3 + ihl) {
      nbl.l4 = l3 + ihl;
    }
  } else if (type == 0x86dd && f.size() >= l3 + 40) {
    uint8_t next = f[l3 + 6];
    size_t off = l3 + 40;
    for (int i = 0; i < 8; ++i) {
      if ((next == 0 || next == 43 || next == 60) && f.size() >= off + 8) {
        next = f[off];
        off += (static_cast<size_t>(f[off + 1]) + 1) * 8;
      } else if (next == 44 && f.size() >= off + 8) {
        if ((((f[off + 2] << 8) | f[off + 3]) & 0xfff8) != 0) {
          return;  // a later fragment
        }
        next = f[off];
        off += 8;
      } else {
        break;
      }
    }
    if (off <= f.size()) {
      nbl.l4 = off;
    }
  }
}

}  // namespace xfp::callout

// ---------------------------------------------------------------------------------------------
// The NDIS subset of xfp_ndis.h.

extern "C" {

NET_BUFFER* XfpNetBufferListFirstNb(NET_BUFFER_LIST* nbl) {
  return nbl != nullptr ? &nbl->nb : nullptr;
}

NTSTATUS XfpNetBufferListStatus(const NET_BUFFER_LIST* nbl) {
  return nbl != nullptr ? nbl->status : STATUS_INVALID_PARAMETER;
}

ULONG XfpNetBufferDataLength(const NET_BUFFER* nb) {
  return nb != nullptr ? static_cast<ULONG>(nb->owner->dataLength()) : 0;
}

ULONG XfpNetBufferDataOffset(const NET_BUFFER* nb) {
  return nb != nullptr ? static_cast<ULONG>(nb->owner->offset) : 0;
}

void* NdisGetDataBuffer(NET_BUFFER* nb, ULONG bytesNeeded, void* storage, UINT32, UINT32) {
  if (nb == nullptr || bytesNeeded > nb->owner->dataLength()) {
    return nullptr;
  }
  // xfp's data is contiguous: the pointer is always into the buffer, `storage` is not needed.
  (void)storage;
  return nb->owner->frame.data() + nb->owner->offset;
}

NDIS_STATUS NdisRetreatNetBufferListDataStart(
    NET_BUFFER_LIST* nbl, ULONG delta, ULONG dataBackFill, void*, void*) {
  (void)dataBackFill;
  if (nbl == nullptr) {
    return NDIS_STATUS_INVALID_PARAMETER;
  }
  if (delta <= nbl->offset) {
    nbl->offset -= delta;
    return NDIS_STATUS_SUCCESS;
  }
  // Not enough room in front: grow the buffer (new bytes are zero).
  const size_t grow = delta - nbl->offset;
  nbl->frame.insert(nbl->frame.begin(), grow, 0);
  nbl->l3 += grow;
  nbl->l4 = nbl->l4 != 0 ? nbl->l4 + grow : 0;
  nbl->offset = 0;
  return NDIS_STATUS_SUCCESS;
}

void NdisAdvanceNetBufferListDataStart(NET_BUFFER_LIST* nbl, ULONG delta, BOOLEAN, void*) {
  if (nbl != nullptr) {
    nbl->offset = std::min(nbl->frame.size(), nbl->offset + delta);
  }
}

NDIS_STATUS NdisRetreatNetBufferDataStart(NET_BUFFER* nb, ULONG delta, ULONG backFill, void* h) {
  return nb != nullptr ? NdisRetreatNetBufferListDataStart(nb->owner, delta, backFill, h, nullptr)
                       : NDIS_STATUS_INVALID_PARAMETER;
}

void NdisAdvanceNetBufferDataStart(NET_BUFFER* nb, ULONG delta, BOOLEAN freeMdl, void* h) {
  if (nb != nullptr) {
    NdisAdvanceNetBufferListDataStart(nb->owner, delta, freeMdl, h);
  }
}

UCHAR* XfpNetBufferData(NET_BUFFER* nb) {
  return nb != nullptr ? nb->owner->frame.data() + nb->owner->offset : nullptr;
}

NTSTATUS XfpAllocateNetBufferList(const void* data, ULONG length, NET_BUFFER_LIST** nbl) {
  if (nbl == nullptr || (data == nullptr && length != 0)) {
    return STATUS_INVALID_PARAMETER;
  }
  const auto* p = static_cast<const uint8_t*>(data);
  *nbl = xfp::callout::newNetBufferList(std::vector<uint8_t>(p, p + length), 0);
  return STATUS_SUCCESS;
}

ULONG XfpNetBufferListIfIndex(const NET_BUFFER_LIST* nbl) {
  return nbl != nullptr ? nbl->ifindex : 0;
}

NTSTATUS FwpsAllocateCloneNetBufferList0(
    NET_BUFFER_LIST* original, void*, void*, ULONG, NET_BUFFER_LIST** clone) {
  if (original == nullptr || clone == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  *clone = xfp::callout::cloneNetBufferList(*original);
  return STATUS_SUCCESS;
}

void FwpsFreeCloneNetBufferList0(NET_BUFFER_LIST* nbl, ULONG) {
  delete nbl;
}

void FwpsFreeNetBufferList0(NET_BUFFER_LIST* nbl) {
  delete nbl;
}

}  // extern "C"
