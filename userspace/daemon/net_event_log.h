// NetEventLog: xfpd's net-event diagnostics (wfp-model.md §7.7). Events of the fast path
// (xfp_net_event, read by NetEventReader) become FWPM_NET_EVENT-shaped records (v1::NetEvent:
// wall-clock time, local/remote by direction, deciding filter and layer), kept in a circular log
// of the last `capacity` events (FwpmNetEventEnum) and handed to live subscribers
// (FwpmNetEventSubscribe0, `xfpctl events --follow`). A subscriber that does not keep up loses
// events (counted), never blocks the reader: net events are unreliable by WFP's definition.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "userspace/core/result.h"
#include "userspace/rpc/xfp.pb.h"  // generated
#include "xfp/abi.h"

namespace xfp::daemon {

// FWPM_NET_EVENT_TYPE values we produce.
constexpr uint32_t kNetEventClassifyDrop = 3;
constexpr uint32_t kNetEventClassifyAllow = 6;

// A checked FWPM_NET_EVENT_ENUM_TEMPLATE0: a time window and equality conditions on the header.
class NetEventFilter {
 public:
  // FWP_E_CONDITION_NOT_FOUND for a field a net event does not have, FWP_E_MATCH_TYPE_MISMATCH
  // for anything but FWP_MATCH_EQUAL, the codec's codes for a malformed value.
  static Result<NetEventFilter> fromProto(const v1::NetEventEnumTemplate& t);
  [[nodiscard]] bool matches(const v1::NetEvent& e) const;

 private:
  struct Test {
    int field = 0;  // which header field (see net_event_log.cpp)
    uint64_t number = 0;
    std::string bytes;
  };
  uint64_t start_ = 0, end_ = 0;
  std::vector<Test> tests_;
};

class NetEventLog {
 public:
  // What a subscriber reads from; shared with the log so a late push after unsubscribe is safe.
  struct Subscriber {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<v1::NetEvent> queue;
    uint64_t lost = 0;
    NetEventFilter filter;
  };

  explicit NetEventLog(size_t capacity = 4096, size_t subscriberQueue = 4096);

  // Converts and records one fast-path event. `filterName`/`layer` resolution is the caller's.
  void add(v1::NetEvent event);
  // The log's events that `filter` selects, oldest first.
  [[nodiscard]] std::vector<v1::NetEvent> snapshot(const NetEventFilter& filter) const;
  std::shared_ptr<Subscriber> subscribe(NetEventFilter filter);
  void unsubscribe(const std::shared_ptr<Subscriber>& s);
  [[nodiscard]] uint64_t total() const;

 private:
  const size_t capacity_;
  const size_t subscriberQueue_;
  mutable std::mutex mu_;
  std::deque<v1::NetEvent> ring_;
  uint64_t total_ = 0;
  std::vector<std::shared_ptr<Subscriber>> subscribers_;
};

// The record of one fast-path event: time converted from CLOCK_MONOTONIC_COARSE to wall clock,
// addresses ordered local/remote by direction, the layer's FWPS id from its slot.
v1::NetEvent toNetEvent(const xfp_net_event& e);

}  // namespace xfp::daemon
