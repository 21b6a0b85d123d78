#include "tools/xfpctl/events_command.h"

#include <arpa/inet.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/xfpctl/service_client.h"
#include "userspace/core/layers.h"
#include "userspace/core/value_text.h"
#include "userspace/rpc/codec.h"

namespace xfp::ctl {
namespace {

using nlohmann::json;

constexpr uint32_t kEventDrop = 3;   // FWPM_NET_EVENT_TYPE_CLASSIFY_DROP
constexpr uint32_t kEventAllow = 6;  // FWPM_NET_EVENT_TYPE_CLASSIFY_ALLOW
constexpr uint32_t kFwpUint32 = 3;
constexpr uint32_t kFwpByteArray16 = 11;

std::atomic<bool> gInterrupted{false};

void onSignal(int) {
  gInterrupted = true;
}

// One FWP_MATCH_EQUAL condition of the net-event template.
void addCondition(v1::NetEventEnumTemplate& t,
                  const char* field,
                  uint32_t type,
                  uint64_t u,
                  const std::string& bytes = {}) {
  v1::Condition* c = t.add_conditions();
  c->set_field_key(rpc::guidToBytes(*conditionKeyByName(field)));
  c->set_match_type(0);
  v1::Value* v = c->mutable_value()->mutable_value();
  v->set_type(type);
  if (bytes.empty()) {
    v->set_u(u);
  } else {
    v->set_b(bytes);
  }
}

Outcome<void> addAddress(v1::NetEventEnumTemplate& t,
                         const char* field,
                         const char* flag,
                         const std::string& text) {
  in_addr a4{};
  in6_addr a6{};
  if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
    addCondition(t, field, kFwpUint32, ntohl(a4.s_addr));  // FWP_UINT32 is host order
  } else if (inet_pton(AF_INET6, text.c_str(), &a6) == 1) {
    addCondition(
        t, field, kFwpByteArray16, 0, std::string(reinterpret_cast<const char*>(a6.s6_addr), 16));
  } else {
    return failWith(kExitValue, fmt::format("{} \"{}\": not an IPv4 or IPv6 address", flag, text));
  }
  return {};
}

Outcome<uint32_t> protocolNumberOf(const std::string& text) {
  // The core's reading of IP_PROTOCOL values (numbers and the names it knows).
  static const FieldInfo* field = [] {
    const LayerInfo* l = layerByName("INBOUND_TRANSPORT_V4");
    return l != nullptr ? l->fieldByName("IP_PROTOCOL") : nullptr;
  }();
  if (field != nullptr) {
    if (auto v = parseValueText(*field, field->type, text)) {
      return static_cast<uint32_t>(v->asUnsigned());
    }
  }
  return failWith(kExitValue,
                  fmt::format("--protocol \"{}\": expected a protocol number or tcp, udp, icmp, "
                              "icmpv6, gre, sctp",
                              text));
}

std::string addressText(const std::string& bytes) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (bytes.size() == 4) {
    inet_ntop(AF_INET, bytes.data(), buf, sizeof buf);
  } else if (bytes.size() == 16) {
    inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  } else {
    return "?";
  }
  return buf;
}

std::string endpointText(const std::string& addr, uint32_t port) {
  const std::string a = addressText(addr);
  return addr.size() == 16 ? fmt::format("[{}]:{}", a, port) : fmt::format("{}:{}", a, port);
}

std::string protocolName(uint32_t p) {
  switch (p) {
    case 1:
      return "icmp";
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 58:
      return "icmpv6";
    default:
      return std::to_string(p);
  }
}

// Local time with milliseconds, ISO 8601 without the zone (the reader's clock).
std::string timeText(uint64_t ns) {
  const time_t secs = static_cast<time_t>(ns / 1000000000ULL);
  tm local{};
  localtime_r(&secs, &local);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &local);
  return fmt::format("{}.{:03}", buf, (ns / 1000000ULL) % 1000);
}

std::string lineOf(const v1::NetEvent& e) {
  const bool in = e.direction() == 1;
  const std::string filter = e.filter_id() == 0
                                 ? std::string("no filter")
                                 : fmt::format("filter {} \"{}\"", e.filter_id(), e.filter_name());
  const std::string iface =
      !e.interface().empty() ? e.interface() : fmt::format("ifindex {}", e.ifindex());
  return fmt::format("{}  {:<5}  {:<3}  {:<6}  {:<21} {} {:<21}  {}  {}  {}",
                     timeText(e.time_ns()),
                     e.type() == kEventDrop ? "drop" : "allow",
                     in ? "in" : "out",
                     protocolName(e.ip_protocol()),
                     endpointText(e.local_addr(), e.local_port()),
                     in ? "<-" : "->",
                     endpointText(e.remote_addr(), e.remote_port()),
                     filter,
                     e.layer_name(),
                     iface);
}

json jsonOf(const v1::NetEvent& e) {
  return {{"time", timeText(e.time_ns())},
          {"time_ns", e.time_ns()},
          {"type", e.type() == kEventDrop ? "drop" : "allow"},
          {"direction", e.direction() == 1 ? "in" : "out"},
          {"ip_version", e.ip_version()},
          {"protocol", e.ip_protocol()},
          {"local_addr", addressText(e.local_addr())},
          {"local_port", e.local_port()},
          {"remote_addr", addressText(e.remote_addr())},
          {"remote_port", e.remote_port()},
          {"filter_id", e.filter_id()},
          {"filter_name", e.filter_name()},
          {"layer", e.layer_name()},
          {"layer_id", e.layer_id()},
          {"interface", e.interface()},
          {"ifindex", e.ifindex()}};
}

}  // namespace

Outcome<void> runEvents(const EventsOptions& o) {
  v1::NetEventsRequest request;
  v1::NetEventEnumTemplate& t = *request.mutable_template_();
  if (!o.protocol.empty()) {
    auto p = protocolNumberOf(o.protocol);
    if (!p) {
      return tl::unexpected(p.error());
    }
    addCondition(t, "IP_PROTOCOL", kFwpUint32, *p);
  }
  if (o.localPort) {
    addCondition(t, "IP_LOCAL_PORT", kFwpUint32, *o.localPort);
  }
  if (o.remotePort) {
    addCondition(t, "IP_REMOTE_PORT", kFwpUint32, *o.remotePort);
  }
  if (!o.localAddr.empty()) {
    if (auto r = addAddress(t, "IP_LOCAL_ADDRESS", "--local-addr", o.localAddr); !r) {
      return r;
    }
  }
  if (!o.remoteAddr.empty()) {
    if (auto r = addAddress(t, "IP_REMOTE_ADDRESS", "--remote-addr", o.remoteAddr); !r) {
      return r;
    }
  }
  if (!o.type.empty()) {
    addCondition(t, "NET_EVENT_TYPE", kFwpUint32, o.type == "drop" ? kEventDrop : kEventAllow);
  }
  if (o.since > 0) {
    const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const auto back = static_cast<int64_t>(o.since * 1e9);
    t.set_start_time_ns(static_cast<uint64_t>(now > back ? now - back : 1));
  }
  request.set_history(true);
  request.set_follow(o.follow);

  // Ctrl-C (and SIGTERM) end --follow cleanly: the stream is cancelled, the exit status is 0.
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.timeout);
  uint64_t seen = 0;
  auto r = streamNetEvents(
      o.socket,
      request,
      [&](const v1::NetEvent& e) {
        const std::string line = o.json ? jsonOf(e).dump() : lineOf(e);
        std::fputs((line + "\n").c_str(), stdout);
        std::fflush(stdout);  // a script reading the pipe sees each event when it happens
        ++seen;
        return o.count == 0 || seen < o.count;
      },
      [&] {
        return gInterrupted.load() ||
               (o.timeout > 0 && std::chrono::steady_clock::now() >= deadline);
      });
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  return r;
}

}  // namespace xfp::ctl
