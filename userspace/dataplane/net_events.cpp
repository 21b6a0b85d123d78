#include "userspace/dataplane/net_events.h"

#include <bpf/libbpf.h>

#include <cerrno>
#include <cstring>

namespace xfp::dataplane {

BpfResult<std::unique_ptr<NetEventReader>> NetEventReader::open(int eventsMapFd) {
  std::unique_ptr<NetEventReader> r(new NetEventReader());
  errno = 0;
  r->rb_ = ring_buffer__new(eventsMapFd, &NetEventReader::onRecord, r.get(), nullptr);
  if (r->rb_ == nullptr) {
    return bpfFailure(-errno, "open the net event ring buffer");
  }
  return r;
}

NetEventReader::~NetEventReader() {
  ring_buffer__free(rb_);
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
  return out.size() - before;
}

}  // namespace xfp::dataplane
