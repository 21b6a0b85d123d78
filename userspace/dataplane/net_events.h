// NetEventReader: consumes the fast path's net events (ring buffer xfp_events, struct
// xfp_net_event: the deciding filter, layer, verdict and 5-tuple of a dropped -- or, when
// enabled, permitted -- packet; FastPath::setNetEvents switches them) and enforces their rate:
// when a poll ends 100 ms or more after the last grant, each CPU's budget (xfp_ev_budget) is set
// to what the elapsed time is worth at `perSecondPerCpu` (at most 200 ms worth), so the packet
// path never reads a clock for the limit. Without a reader no
// CPU has budget and no event is produced.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "userspace/dataplane/bpf_error.h"
#include "xfp/abi.h"

struct ring_buffer;

namespace xfp::dataplane {

class NetEventReader {
 public:
  static constexpr uint32_t kDefaultRate = 10000;  // events per second and CPU

  [[nodiscard]] static BpfResult<std::unique_ptr<NetEventReader>> open(
      int eventsMapFd, int budgetMapFd, uint32_t perSecondPerCpu = kDefaultRate);
  ~NetEventReader();
  NetEventReader(const NetEventReader&) = delete;
  NetEventReader& operator=(const NetEventReader&) = delete;

  // Waits up to `timeout` for events and appends every one available to `out`; returns how many.
  size_t poll(std::vector<xfp_net_event>& out, std::chrono::milliseconds timeout);

 private:
  NetEventReader() = default;
  static int onRecord(void* ctx, void* data, size_t size);
  void refill();
  ring_buffer* rb_ = nullptr;
  int budgetFd_ = -1;
  uint32_t rate_ = kDefaultRate;
  std::chrono::steady_clock::time_point lastRefill_{};
  std::vector<xfp_net_event>* sink_ = nullptr;
};

}  // namespace xfp::dataplane
