#include "userspace/daemon/net_event_log.h"

#include <time.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "compiler/fast_path_fields.h"
#include "userspace/core/layers.h"
#include "userspace/core/wfp_constants.h"
#include "userspace/rpc/codec.h"

namespace xfp::daemon {
namespace {

enum Field { kProtocol, kLocalAddr, kRemoteAddr, kLocalPort, kRemotePort, kType };

uint64_t nowNs(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec);
}

}  // namespace

Result<NetEventFilter> NetEventFilter::fromProto(const v1::NetEventEnumTemplate& t) {
  NetEventFilter f;
  f.start_ = t.start_time_ns();
  f.end_ = t.end_time_ns();
  for (int i = 0; i < t.conditions_size(); ++i) {
    const std::string where = fmt::format("net event template.conditions[{}]", i);
    auto c = rpc::fromProto(t.conditions(i), where);
    if (!c) {
      return tl::unexpected(c.error());
    }
    if (c->matchType != MatchType::Equal || c->value.plain() == nullptr) {
      return fail(status::kMatchTypeMismatch,
                  where + ": net event templates take FWP_MATCH_EQUAL with a plain value");
    }
    const Value& v = *c->value.plain();
    const std::string name = conditionName(c->fieldKey);
    Test test;
    if (name == "FWPM_CONDITION_IP_PROTOCOL") {
      test.field = kProtocol;
    } else if (name == "FWPM_CONDITION_IP_LOCAL_ADDRESS") {
      test.field = kLocalAddr;
    } else if (name == "FWPM_CONDITION_IP_REMOTE_ADDRESS") {
      test.field = kRemoteAddr;
    } else if (name == "FWPM_CONDITION_IP_LOCAL_PORT") {
      test.field = kLocalPort;
    } else if (name == "FWPM_CONDITION_IP_REMOTE_PORT") {
      test.field = kRemotePort;
    } else if (name == "FWPM_CONDITION_NET_EVENT_TYPE") {
      test.field = kType;
    } else {
      return fail(status::kConditionNotFound, where + ": net events have no field " + name);
    }
    if (test.field == kLocalAddr || test.field == kRemoteAddr) {
      if (v.type() == DataType::Uint32) {  // IPv4, host order as FWP_UINT32
        const uint32_t a = static_cast<uint32_t>(v.asUnsigned());
        const uint8_t b[4] = {uint8_t(a >> 24), uint8_t(a >> 16), uint8_t(a >> 8), uint8_t(a)};
        test.bytes.assign(reinterpret_cast<const char*>(b), 4);
      } else if (v.type() == DataType::ByteArray16) {
        test.bytes.assign(v.asBytes().begin(), v.asBytes().end());
      } else {
        return fail(status::kTypeMismatch,
                    where + ": an address is FWP_UINT32 (IPv4) or FWP_BYTE_ARRAY16_TYPE (IPv6)");
      }
    } else if (v.isUnsigned()) {
      test.number = v.asUnsigned();
    } else {
      return fail(status::kTypeMismatch, where + ": " + name + " takes an unsigned integer");
    }
    f.tests_.push_back(std::move(test));
  }
  return f;
}

bool NetEventFilter::matches(const v1::NetEvent& e) const {
  if ((start_ != 0 && e.time_ns() < start_) || (end_ != 0 && e.time_ns() > end_)) {
    return false;
  }
  for (const Test& t : tests_) {
    bool ok = false;
    switch (t.field) {
      case kProtocol:
        ok = e.ip_protocol() == t.number;
        break;
      case kLocalAddr:
        ok = e.local_addr() == t.bytes;
        break;
      case kRemoteAddr:
        ok = e.remote_addr() == t.bytes;
        break;
      case kLocalPort:
        ok = e.local_port() == t.number;
        break;
      case kRemotePort:
        ok = e.remote_port() == t.number;
        break;
      case kType:
        ok = e.type() == t.number;
        break;
      default:
        break;
    }
    if (!ok) {
      return false;
    }
  }
  return true;
}

NetEventLog::NetEventLog(size_t capacity, size_t subscriberQueue)
    : capacity_(std::max<size_t>(capacity, 1)), subscriberQueue_(subscriberQueue) {}

void NetEventLog::add(v1::NetEvent event) {
  std::vector<std::shared_ptr<Subscriber>> subs;
  {
    std::lock_guard lock(mu_);
    ++total_;
    subs = subscribers_;
    if (ring_.size() == capacity_) {
      ring_.pop_front();
    }
    ring_.push_back(event);
  }
  for (const auto& s : subs) {
    if (!s->filter.matches(event)) {
      continue;
    }
    {
      std::lock_guard lock(s->mu);
      if (s->queue.size() >= subscriberQueue_) {
        ++s->lost;
        continue;
      }
      s->queue.push_back(event);
    }
    s->cv.notify_one();
  }
}

std::vector<v1::NetEvent> NetEventLog::snapshot(const NetEventFilter& filter) const {
  std::lock_guard lock(mu_);
  std::vector<v1::NetEvent> out;
  for (const auto& e : ring_) {
    if (filter.matches(e)) {
      out.push_back(e);
    }
  }
  return out;
}

std::shared_ptr<NetEventLog::Subscriber> NetEventLog::subscribe(NetEventFilter filter) {
  auto s = std::make_shared<Subscriber>();
  s->filter = std::move(filter);
  std::lock_guard lock(mu_);
  subscribers_.push_back(s);
  return s;
}

void NetEventLog::unsubscribe(const std::shared_ptr<Subscriber>& s) {
  std::lock_guard lock(mu_);
  std::erase(subscribers_, s);
}

uint64_t NetEventLog::total() const {
  std::lock_guard lock(mu_);
  return total_;
}

v1::NetEvent toNetEvent(const xfp_net_event& e) {
  v1::NetEvent out;
  // The kernel stamps CLOCK_MONOTONIC_COARSE; shift by the distance between the clocks now.
  const uint64_t mono = nowNs(CLOCK_MONOTONIC_COARSE);
  const uint64_t wall = nowNs(CLOCK_REALTIME);
  const uint64_t age = mono > e.timestamp_ns ? mono - e.timestamp_ns : 0;
  out.set_time_ns(wall - std::min(wall, age));
  out.set_type(e.verdict == XFP_VERDICT_BLOCK ? kNetEventClassifyDrop : kNetEventClassifyAllow);
  const bool v6 = (e.flags & XFP_PKT_F_IPV6) != 0;
  out.set_ip_version(v6 ? 6 : 4);
  out.set_ip_protocol(e.ip_proto);
  const size_t len = v6 ? 16 : 4;
  const uint8_t* local = e.inbound != 0 ? e.dst_addr : e.src_addr;
  const uint8_t* remote = e.inbound != 0 ? e.src_addr : e.dst_addr;
  out.set_local_addr(std::string(reinterpret_cast<const char*>(local), len));
  out.set_remote_addr(std::string(reinterpret_cast<const char*>(remote), len));
  out.set_local_port(e.inbound != 0 ? e.dst_port : e.src_port);
  out.set_remote_port(e.inbound != 0 ? e.src_port : e.dst_port);
  out.set_filter_id(e.filter_id);
  out.set_direction(e.inbound != 0 ? 1 /* FWP_DIRECTION_INBOUND */ : 0);
  out.set_ifindex(e.ifindex);
  if (e.layer_slot < XFP_LS_COUNT) {
    const uint16_t id = fastpath::layerIdOf(e.layer_slot);
    out.set_layer_id(id);
    if (const LayerInfo* l = layerById(id); l != nullptr) {
      out.set_layer_name(std::string(l->name));
    }
  } else {
    out.set_layer_name(e.inbound != 0 ? "ALE_AUTH_RECV_ACCEPT" : "ALE_AUTH_CONNECT");
  }
  return out;
}

}  // namespace xfp::daemon
