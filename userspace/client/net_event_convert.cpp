#include "userspace/client/net_event_convert.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "userspace/client/block.h"
#include "userspace/client/fwpm_convert.h"
#include "userspace/rpc/codec.h"

namespace xfp::client {
namespace {

// 1970-01-01 in FILETIME units.
constexpr uint64_t kUnixEpochAsFileTime = 116444736000000000ULL;

uint64_t fileTimeValue(const FILETIME& ft) {
  return (static_cast<uint64_t>(ft.dwHighDateTime) << 32) | ft.dwLowDateTime;
}

// Protocols whose events have ports (ICMP's are its type and code, as in WFP's incoming values).
bool hasPorts(uint32_t protocol) {
  switch (protocol) {
    case 1:    // ICMP
    case 6:    // TCP
    case 17:   // UDP
    case 58:   // ICMPv6
    case 132:  // SCTP
    case 136:  // UDP-Lite
      return true;
    default:
      return false;
  }
}

// An address as the header holds it: v4 as a host-order UINT32, v6 as its 16 bytes. False when
// the wire gave neither length.
bool setAddress(const std::string& wire, UINT32& v4, FWP_BYTE_ARRAY16& v6) {
  if (wire.size() == 4) {
    const auto* b = reinterpret_cast<const uint8_t*>(wire.data());
    v4 = static_cast<UINT32>(b[0]) << 24 | static_cast<UINT32>(b[1]) << 16 |
         static_cast<UINT32>(b[2]) << 8 | b[3];
    return true;
  }
  if (wire.size() == 16) {
    std::memcpy(v6.byteArray16, wire.data(), 16);
    return true;
  }
  return false;
}

template <class Detail>
Detail* classifyDetail(BlockArena& a, const v1::NetEvent& e) {
  auto* d = a.make<Detail>();
  d->filterId = e.filter_id();
  d->layerId = static_cast<UINT16>(e.layer_id());
  d->msFwpDirection = e.direction();
  return d;
}

void fillNetEvent(BlockArena& a, FWPM_NET_EVENT1& out, const v1::NetEvent& e) {
  FWPM_NET_EVENT_HEADER1& h = out.header;
  h.timeStamp = fileTimeFromUnixNs(e.time_ns());
  if (e.ip_version() == 4 || e.ip_version() == 6) {
    h.flags |= FWPM_NET_EVENT_FLAG_IP_VERSION_SET;
    h.ipVersion = e.ip_version() == 4 ? FWP_IP_VERSION_V4 : FWP_IP_VERSION_V6;
  } else {
    h.ipVersion = FWP_IP_VERSION_NONE;
  }
  h.flags |= FWPM_NET_EVENT_FLAG_IP_PROTOCOL_SET;
  h.ipProtocol = static_cast<UINT8>(e.ip_protocol());
  if (setAddress(e.local_addr(), h.localAddrV4, h.localAddrV6)) {
    h.flags |= FWPM_NET_EVENT_FLAG_LOCAL_ADDR_SET;
  }
  if (setAddress(e.remote_addr(), h.remoteAddrV4, h.remoteAddrV6)) {
    h.flags |= FWPM_NET_EVENT_FLAG_REMOTE_ADDR_SET;
  }
  if (hasPorts(e.ip_protocol())) {
    h.flags |= FWPM_NET_EVENT_FLAG_LOCAL_PORT_SET | FWPM_NET_EVENT_FLAG_REMOTE_PORT_SET;
    h.localPort = static_cast<UINT16>(e.local_port());
    h.remotePort = static_cast<UINT16>(e.remote_port());
  }
  // No application or user identity at packet level (ALE socket layers: issue 6).
  // The type as sent, even one this revision does not name (stored, never read as the enum).
  const uint32_t type = e.type();
  std::memcpy(&out.type, &type, sizeof type);
  if (type == FWPM_NET_EVENT_TYPE_CLASSIFY_DROP) {
    out.classifyDrop = classifyDetail<FWPM_NET_EVENT_CLASSIFY_DROP1>(a, e);
  } else if (type == FWPM_NET_EVENT_TYPE_CLASSIFY_ALLOW) {
    out.classifyAllow = classifyDetail<FWPM_NET_EVENT_CLASSIFY_ALLOW0>(a, e);
  }
}

}  // namespace

uint64_t unixNsFromFileTime(const FILETIME& ft) {
  const uint64_t v = fileTimeValue(ft);
  if (v <= kUnixEpochAsFileTime) {
    return 0;
  }
  const uint64_t units = v - kUnixEpochAsFileTime;
  if (units > std::numeric_limits<uint64_t>::max() / 100) {
    return std::numeric_limits<uint64_t>::max();
  }
  return units * 100;
}

FILETIME fileTimeFromUnixNs(uint64_t ns) {
  const uint64_t v = ns / 100 + kUnixEpochAsFileTime;
  FILETIME ft;
  ft.dwLowDateTime = static_cast<DWORD>(v);
  ft.dwHighDateTime = static_cast<DWORD>(v >> 32);
  return ft;
}

Result<v1::NetEventEnumTemplate> netEventTemplateFromC(const FWPM_NET_EVENT_ENUM_TEMPLATE0* t) {
  v1::NetEventEnumTemplate out;
  if (t == nullptr) {
    return out;
  }
  const uint64_t end = fileTimeValue(t->endTime);
  if (end != 0 && end < fileTimeValue(t->startTime)) {
    return fail(FWP_E_INVALID_INTERVAL, "net event template: endTime is before startTime");
  }
  out.set_start_time_ns(unixNsFromFileTime(t->startTime));
  // An end before the epoch selects nothing, which the nearest representable end (1 ns) keeps.
  out.set_end_time_ns(end == 0 ? 0 : std::max<uint64_t>(1, unixNsFromFileTime(t->endTime)));
  auto conditions = conditionsFromC(t->numFilterConditions, t->filterCondition);
  if (!conditions) {
    return tl::unexpected(std::move(conditions.error()).within("net event template"));
  }
  for (const Condition& c : *conditions) {
    *out.add_conditions() = rpc::toProto(c);
  }
  return out;
}

FWPM_NET_EVENT1* netEventToC(const v1::NetEvent& e) {
  return buildBlock([&](BlockArena& a) {
    auto* out = a.make<FWPM_NET_EVENT1>();
    fillNetEvent(a, *out, e);
    return out;
  });
}

FWPM_NET_EVENT1** netEventsToC(const google::protobuf::RepeatedPtrField<v1::NetEvent>& events) {
  if (events.empty()) {
    return nullptr;
  }
  return buildBlock([&](BlockArena& a) {
    auto** out = a.array<FWPM_NET_EVENT1*>(static_cast<size_t>(events.size()));
    for (int i = 0; i < events.size(); ++i) {
      out[i] = a.make<FWPM_NET_EVENT1>();
      fillNetEvent(a, *out[i], events[i]);
    }
    return out;
  });
}

}  // namespace xfp::client
