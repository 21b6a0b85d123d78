#include "userspace/callout/endpoint_table.h"

#include <algorithm>
#include <cstring>

namespace xfp::callout {
namespace {

bool isZero(const uint8_t* a) {
  return std::all_of(a, a + 16, [](uint8_t b) { return b == 0; });
}

}  // namespace

Endpoint& EndpointTable::place(
    uint64_t cookie, bool v6, uint8_t proto, const uint8_t* local, uint16_t port) {
  auto [it, fresh] = byId_.try_emplace(cookie);
  Endpoint& e = it->second;
  if (fresh || e.proto != proto || e.localPort != port) {
    if (!fresh) {
      unindex(e);
    }
    byPort_.emplace(portKey(proto, port), cookie);
  }
  e.id = cookie;
  e.v6 = v6;
  e.proto = proto;
  std::memcpy(e.local, local, 16);
  e.localPort = port;
  return e;
}

Endpoint* EndpointTable::find(uint64_t cookie) {
  auto it = byId_.find(cookie);
  return it == byId_.end() ? nullptr : &it->second;
}

const Endpoint* EndpointTable::find(uint64_t cookie) const {
  auto it = byId_.find(cookie);
  return it == byId_.end() ? nullptr : &it->second;
}

void EndpointTable::erase(uint64_t cookie) {
  auto it = byId_.find(cookie);
  if (it == byId_.end()) {
    return;
  }
  unindex(it->second);
  byId_.erase(it);
}

void EndpointTable::unindex(const Endpoint& e) {
  auto [first, last] = byPort_.equal_range(portKey(e.proto, e.localPort));
  for (auto it = first; it != last; ++it) {
    if (it->second == e.id) {
      byPort_.erase(it);
      return;
    }
  }
}

const Endpoint* EndpointTable::serving(bool v6,
                                       uint8_t proto,
                                       const uint8_t* local,
                                       uint16_t localPort,
                                       const uint8_t* remote,
                                       uint16_t remotePort) const {
  const Endpoint* own = nullptr;  // the connection's own socket: it beats any listener
  const Endpoint* best = nullptr;
  auto [first, last] = byPort_.equal_range(portKey(proto, localPort));
  for (auto it = first; it != last; ++it) {
    const Endpoint& e = byId_.at(it->second);
    const bool dualStack = e.v6 && !v6 && isZero(e.local) && !e.connected;
    if ((e.v6 != v6 && !dualStack) || !e.who.known) {
      continue;
    }
    const bool exactLocal = !dualStack && std::memcmp(e.local, local, 16) == 0;
    if (!exactLocal && !isZero(e.local)) {
      continue;
    }
    if (e.connected) {
      if (e.remotePort == remotePort && std::memcmp(e.remote, remote, 16) == 0 &&
          (own == nullptr || e.id < own->id)) {
        own = &e;
      }
      continue;
    }
    // A socket bound to the flow's own address beats one on the wildcard; among equals the
    // oldest (lowest cookie), so the answer does not depend on the index's order.
    const bool specific = !isZero(e.local);  // accepted above, so it is the flow's address
    const bool better = best == nullptr || (specific && isZero(best->local)) ||
                        (specific == !isZero(best->local) && e.id < best->id);
    if (better) {
      best = &e;
    }
  }
  return own != nullptr ? own : best;
}

}  // namespace xfp::callout
