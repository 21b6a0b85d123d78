// From xfp's C++ model to the FWPS structs a classifyFn/notifyFn receives: incoming values
// (FWP_VALUE0 keeps 64-bit integers, doubles and byte arrays behind pointers, so an arena owns
// them for the duration of the call), run-time filters, and the incoming values of the ALE auth
// layers for a packet that opens (or re-authorizes) a flow.
#pragma once

#include <fwpsk.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "userspace/core/classifier.h"
#include "userspace/core/policy.h"
#include "xfp/abi.h"

namespace xfp::callout {

// Owns what FWP_VALUE0 members point to.
class FwpArena {
 public:
  FWP_VALUE0 value(const Value& v);

 private:
  std::deque<UINT64> u64_;
  std::deque<INT64> i64_;
  std::deque<double> dbl_;
  std::deque<FWP_BYTE_ARRAY16> a16_;
  std::deque<FWP_BYTE_ARRAY6> a6_;
  std::deque<std::vector<uint8_t>> bytes_;
  std::deque<FWP_BYTE_BLOB> blobs_;
  std::deque<std::u16string> strings_;
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
                                 uint32_t reauthReason);

}  // namespace xfp::callout
