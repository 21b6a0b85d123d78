// From xfp's C++ model to the FWPS structs a classifyFn/notifyFn receives: incoming values
// (FWP_VALUE0 keeps 64-bit integers, doubles and byte arrays behind pointers, so an arena owns
// them for the duration of the call), run-time filters, and the incoming values of the ALE auth
// layers for a packet that opens (or re-authorizes) a flow.
#pragma once

#include <fwpsk.h>

#include <cstdint>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "userspace/callout/process_identity.h"
#include "userspace/core/classifier.h"
#include "userspace/core/policy.h"
#include "xfp/abi.h"

namespace xfp::callout {

// Owns what FWP_VALUE0 members point to: a bump allocator over an inline buffer (no heap
// allocation for the values a packet layer has), spilling to the heap for large blobs.
class FwpArena {
 public:
  FwpArena() = default;
  FwpArena(const FwpArena&) = delete;
  FwpArena& operator=(const FwpArena&) = delete;
  FWP_VALUE0 value(const Value& v);

 private:
  void* allocate(size_t size);
  template <class T>
  T* make(const T& v) {
    void* p = allocate(sizeof(T));
    return new (p) T(v);
  }
  alignas(16) unsigned char inline_[1024];
  size_t used_ = 0;
  std::vector<std::unique_ptr<unsigned char[]>> spill_;
};

struct FwpsIncoming {
  FwpArena arena;
  std::vector<FWPS_INCOMING_VALUE0> values;
  FWPS_INCOMING_VALUES0 in{};
  void fill(const IncomingValues& v);
};

// FWPS_FILTER2 (FWPS_FILTER0/1 share its layout; only providerContext's pointee type differs).
// Filter conditions are not exposed (numFilterConditions = 0): docs/callouts.md.
struct FwpsFilterImage {
  FWPS_FILTER2 filter{};
  UINT64 weight = 0;
  void fill(const Filter& f, const Policy& policy, uint32_t calloutId);
};

// The incoming values of ALE_AUTH_CONNECT_V4/V6 or ALE_AUTH_RECV_ACCEPT_V4/V6 for a packet that
// opens a flow: addresses, ports, protocol, interface and FLAGS/REAUTHORIZE_REASON. Process
// identity (ALE_APP_ID, ALE_USER_ID) is FWP_EMPTY at packet level (cgroup hooks: issue 6).
IncomingValues aleIncomingValues(uint16_t layerId,
                                 const xfp_pkt& pkt,
                                 bool inbound,
                                 uint32_t ifindex,
                                 uint32_t flags,
                                 uint32_t reauthReason,
                                 const ProcessIdentity* who = nullptr);

// The incoming values of a socket-layer indication (bind/connect redirect, resource assignment
// and release, endpoint closure, flow established) from the socket hooks' record.
IncomingValues sockIncomingValues(uint16_t layerId,
                                  const xfp_sock_event& ev,
                                  const ProcessIdentity& who,
                                  uint32_t flags);

// ALE_APP_ID / ALE_USER_ID / ALE_PACKAGE_ID of `who` into the fields `layer` has.
void fillIdentity(IncomingValues& in, const LayerInfo& layer, const ProcessIdentity& who);

}  // namespace xfp::callout
