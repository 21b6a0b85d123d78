// NET_BUFFER_LIST as xfp builds it: one contiguous copy of the whole Ethernet frame, a movable data
// start (the layer's offset, wfp-model.md §1.6 "layerData"), the interface and direction it was
// seen on, what injected it, and the packet-tag contexts callouts attached (§6.4). One NET_BUFFER
// per list; lists are never chained. Clones are deep copies (writable).
#pragma once

#include <fwpsk.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace xfp::callout {
class InjectionHandle;
}

struct NET_BUFFER_ {
  NET_BUFFER_LIST* owner = nullptr;
};

struct NET_BUFFER_LIST_ {
  std::vector<uint8_t> frame;  // from the Ethernet header
  size_t offset = 0;           // current data start
  NET_BUFFER nb;
  NTSTATUS status = STATUS_SUCCESS;
  uint32_t ifindex = 0;
  bool inbound = true;
  size_t l3 = 14;  // where the IP header starts in `frame`
  size_t l4 = 0;   // where the transport header starts (0: none)
  // Set on the NBLs of injections; FwpsQueryPacketInjectionState0 reads them.
  const xfp::callout::InjectionHandle* injectedBy = nullptr;
  const xfp::callout::InjectionHandle* previouslyInjectedBy = nullptr;
  HANDLE injectionContext = nullptr;

  struct Tag {
    UINT64 tag;
    UINT64 context;
    UINT16 layerId;
    FWPS_NET_BUFFER_LIST_NOTIFY_FN0 notify;
  };
  std::vector<Tag> tags;

  NET_BUFFER_LIST_();
  NET_BUFFER_LIST_(const NET_BUFFER_LIST_&) = delete;
  NET_BUFFER_LIST_& operator=(const NET_BUFFER_LIST_&) = delete;
  ~NET_BUFFER_LIST_();  // tells every tag's notify function CONTEXT_REMOVED

  [[nodiscard]] size_t dataLength() const { return frame.size() - offset; }
};

namespace xfp::callout {

// A list holding a copy of `frame`, positioned at `offset`.
NET_BUFFER_LIST* newNetBufferList(std::vector<uint8_t> frame, size_t offset);
// Deep copy (contents, position, interface, direction, injection state; not the tags).
NET_BUFFER_LIST* cloneNetBufferList(const NET_BUFFER_LIST& original);
// Where the IP and transport headers start in `frame` (Ethernet, up to two VLAN tags; IPv6
// extension headers are walked); l4 = 0 when there is no transport header.
void locateHeaders(NET_BUFFER_LIST& nbl);
// Calls fn for every list alive now (FwpsNetBufferListRemoveContext0 with a NULL list).
void forEachLiveNetBufferList(const std::function<void(NET_BUFFER_LIST*)>& fn);

}  // namespace xfp::callout
