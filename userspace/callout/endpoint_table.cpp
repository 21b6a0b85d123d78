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
  if (!fresh) {
    unindex(e);  // by the fields it was indexed under
  }
  e.id = cookie;
  e.v6 = v6;
  e.proto = proto;
  std::memcpy(e.local, local, 16);
  e.localPort = port;
  index(e);
  return e;
}

void EndpointTable::connect(uint64_t cookie, const uint8_t* remote, uint16_t remotePort) {
  Endpoint* e = find(cookie);
  if (e == nullptr) {
    return;
  }
  unindex(*e);
  std::memcpy(e->remote, remote, 16);
  e->remotePort = remotePort;
  e->connected = true;
  index(*e);
}

void EndpointTable::disconnect(uint64_t cookie) {
  Endpoint* e = find(cookie);
  if (e == nullptr) {
    return;
  }
  unindex(*e);
  e->connected = false;
  index(*e);
}

uint64_t EndpointTable::connKey(uint8_t proto,
                                uint16_t localPort,
                                const uint8_t* remote,
                                uint16_t remotePort) {
  // FNV-1a over the fields; a collision only costs a comparison (serving() checks them all).
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](uint8_t b) {
    h ^= b;
    h *= 0x100000001b3ull;
  };
  mix(proto);
  mix(static_cast<uint8_t>(localPort >> 8));
  mix(static_cast<uint8_t>(localPort));
  mix(static_cast<uint8_t>(remotePort >> 8));
  mix(static_cast<uint8_t>(remotePort));
  for (int i = 0; i < 16; ++i) {
    mix(remote[i]);
  }
  return h;
}

void EndpointTable::index(const Endpoint& e) {
  if (e.connected) {
    byConn_.emplace(connKey(e.proto, e.localPort, e.remote, e.remotePort), e.id);
  } else {
    byPort_.emplace(portKey(e.proto, e.localPort), e.id);
  }
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
  auto drop = [&e](auto& index, auto key) {
    auto [first, last] = index.equal_range(key);
    for (auto it = first; it != last; ++it) {
      if (it->second == e.id) {
        index.erase(it);
        return;
      }
    }
  };
  if (e.connected) {
    drop(byConn_, connKey(e.proto, e.localPort, e.remote, e.remotePort));
  } else {
    drop(byPort_, portKey(e.proto, e.localPort));
  }
}

const Endpoint* EndpointTable::serving(bool v6,
                                       uint8_t proto,
                                       const uint8_t* local,
                                       uint16_t localPort,
                                       const uint8_t* remote,
                                       uint16_t remotePort) const {
  // The connection's own socket beats any listener (lowest cookie among equals, so the answer
  // does not depend on an index's order).
  const Endpoint* own = nullptr;
  auto [c0, c1] = byConn_.equal_range(connKey(proto, localPort, remote, remotePort));
  for (auto it = c0; it != c1; ++it) {
    const Endpoint& e = byId_.at(it->second);
    const bool same = e.proto == proto && e.localPort == localPort && e.remotePort == remotePort &&
                      std::memcmp(e.remote, remote, 16) == 0;
    const bool localOk = std::memcmp(e.local, local, 16) == 0 || isZero(e.local);
    if (same && e.v6 == v6 && localOk && e.who.known && (own == nullptr || e.id < own->id)) {
      own = &e;
    }
  }
  if (own != nullptr) {
    return own;
  }
  const Endpoint* best = nullptr;
  auto [first, last] = byPort_.equal_range(portKey(proto, localPort));
  for (auto it = first; it != last; ++it) {
    const Endpoint& e = byId_.at(it->second);
    // A dual-stack socket ([::], IPv6 wildcard, not connected) also serves IPv4 flows.
    const bool dualStack = e.v6 && !v6 && isZero(e.local);
    if ((e.v6 != v6 && !dualStack) || !e.who.known) {
      continue;
    }
    const bool exactLocal = !dualStack && std::memcmp(e.local, local, 16) == 0;
    if (!exactLocal && !isZero(e.local)) {
      continue;
    }
    // A socket bound to the flow's own address beats one on the wildcard; among equals the
    // oldest (lowest cookie).
    const bool specific = !isZero(e.local);  // accepted above, so it is the flow's address
    const bool better = best == nullptr || (specific && isZero(best->local)) ||
                        (specific == !isZero(best->local) && e.id < best->id);
    if (better) {
      best = &e;
    }
  }
  return best;
}

}  // namespace xfp::callout
