// NetEventReader: consumes the fast path's net events (ring buffer xfp_events, struct
// xfp_net_event: the deciding filter, layer, verdict and 5-tuple of a dropped -- or, when
// enabled, permitted -- packet; FastPath::setNetEvents switches them).
#pragma once

#include <chrono>
#include <memory>
#include <vector>

#include "userspace/dataplane/bpf_error.h"
#include "xfp/abi.h"

struct ring_buffer;

namespace xfp::dataplane {

class NetEventReader {
 public:
  [[nodiscard]] static BpfResult<std::unique_ptr<NetEventReader>> open(int eventsMapFd);
  ~NetEventReader();
  NetEventReader(const NetEventReader&) = delete;
  NetEventReader& operator=(const NetEventReader&) = delete;

  // Waits up to `timeout` for events and appends every one available to `out`; returns how many.
  size_t poll(std::vector<xfp_net_event>& out, std::chrono::milliseconds timeout);

 private:
  NetEventReader() = default;
  static int onRecord(void* ctx, void* data, size_t size);
  ring_buffer* rb_ = nullptr;
  std::vector<xfp_net_event>* sink_ = nullptr;
};

}  // namespace xfp::dataplane
