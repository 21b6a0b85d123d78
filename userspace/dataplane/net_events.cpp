#include "userspace/dataplane/net_events.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace xfp::dataplane {

BpfResult<std::unique_ptr<NetEventReader>> NetEventReader::open(int eventsMapFd,
                                                                int budgetMapFd,
                                                                uint32_t perSecondPerCpu) {
  std::unique_ptr<NetEventReader> r(new NetEventReader());
  r->budgetFd_ = budgetMapFd;
  r->rate_ = perSecondPerCpu;
  errno = 0;
  r->rb_ = ring_buffer__new(eventsMapFd, &NetEventReader::onRecord, r.get(), nullptr);
  if (r->rb_ == nullptr) {
    return bpfFailure(-errno, "open the net event ring buffer");
  }
  r->refill();
  return r;
}

NetEventReader::~NetEventReader() {
  ring_buffer__free(rb_);
  // No reader, no events: take the budget back.
  const int cpus = libbpf_num_possible_cpus();
  if (cpus > 0) {
    std::vector<uint64_t> zero(static_cast<size_t>(cpus), 0);
    const uint32_t key = 0;
    bpf_map_update_elem(budgetFd_, &key, zero.data(), BPF_ANY);
  }
}

void NetEventReader::refill() {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) {
    return;
  }
  // The budget is replaced, not added to: grant what the time since the last refill is worth
  // (polls end 100 ms apart or more, often more under load; a fixed tenth of a second's worth
  // undershot the rate), at most 200 ms worth so a burst stays bounded, at least one event.
  const auto now = std::chrono::steady_clock::now();
  auto elapsed = lastRefill_ == std::chrono::steady_clock::time_point{}
                     ? std::chrono::milliseconds(100)
                     : std::chrono::duration_cast<std::chrono::milliseconds>(now - lastRefill_);
  elapsed = std::min(elapsed, std::chrono::milliseconds(200));
  const uint64_t grant = std::max<uint64_t>(1, uint64_t{rate_} * uint64_t(elapsed.count()) / 1000);
  std::vector<uint64_t> values(static_cast<size_t>(cpus), grant);
  const uint32_t key = 0;
  bpf_map_update_elem(budgetFd_, &key, values.data(), BPF_ANY);
  lastRefill_ = now;
}

int NetEventReader::onRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<NetEventReader*>(ctx);
  if (self->sink_ != nullptr && size >= sizeof(xfp_net_event)) {
    xfp_net_event e{};
    std::memcpy(&e, data, sizeof e);
    self->sink_->push_back(e);
  }
  return 0;
}

size_t NetEventReader::poll(std::vector<xfp_net_event>& out, std::chrono::milliseconds timeout) {
  const size_t before = out.size();
  sink_ = &out;
  ring_buffer__poll(rb_, static_cast<int>(timeout.count()));
  sink_ = nullptr;
  if (std::chrono::steady_clock::now() - lastRefill_ >= std::chrono::milliseconds(100)) {
    refill();
  }
  return out.size() - before;
}

}  // namespace xfp::dataplane
