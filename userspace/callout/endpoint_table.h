// The live sockets the socket hooks told about (FwpsAleEndpointEnum0 and the local process of
// new inbound flows): by socket cookie, plus two indexes so that finding the socket that serves a
// flow scans neither every socket of the cgroup nor every connection of a busy port: unconnected
// sockets (listeners, bound datagram sockets) by (protocol, local port), connected ones by
// (protocol, local port, remote address and port). Not thread-safe: the runtime guards it with
// its endpoint mutex.
#pragma once

#include <cstdint>
#include <map>
#include <unordered_map>

#include "userspace/callout/process_identity.h"

namespace xfp::callout {

// One socket: id = socket cookie; addresses are 16 bytes (IPv4 in the first 4).
struct Endpoint {
  uint64_t id = 0;
  bool v6 = false;
  uint8_t proto = 0;
  uint8_t local[16] = {};
  uint8_t remote[16] = {};
  uint16_t localPort = 0;
  uint16_t remotePort = 0;
  bool assigned = false;   // a RESOURCE_ASSIGNMENT was indicated (RELEASE follows once)
  bool connected = false;  // remote/remotePort/connected: set through EndpointTable::connect()
  bool released = false;   // the socket is closed, its TCP connection not yet (TCP_CLOSED to come)
  ProcessIdentity who;
};

class EndpointTable {
 public:
  // The entry of `cookie`, created if new, with its local end set to these values; the indexes
  // follow. Fields other than the local end and the peer (connect()) are the caller's to set.
  Endpoint& place(uint64_t cookie, bool v6, uint8_t proto, const uint8_t* local, uint16_t port);
  // The socket of `cookie` is connected to remote:remotePort / no longer connected.
  void connect(uint64_t cookie, const uint8_t* remote, uint16_t remotePort);
  void disconnect(uint64_t cookie);
  [[nodiscard]] Endpoint* find(uint64_t cookie);
  [[nodiscard]] const Endpoint* find(uint64_t cookie) const;
  void erase(uint64_t cookie);

  // The socket that serves a flow with this local end and peer: the connection's own socket if
  // it is known, else the listener / unconnected socket on the local port, one bound to the
  // exact local address before one on the wildcard; an IPv6 wildcard socket ([::], dual-stack)
  // serves IPv4 flows too. Only sockets whose owner is known count. nullptr if none.
  [[nodiscard]] const Endpoint* serving(bool v6,
                                        uint8_t proto,
                                        const uint8_t* local,
                                        uint16_t localPort,
                                        const uint8_t* remote,
                                        uint16_t remotePort) const;

  [[nodiscard]] size_t size() const { return byId_.size(); }
  [[nodiscard]] auto begin() const { return byId_.begin(); }
  [[nodiscard]] auto end() const { return byId_.end(); }

 private:
  static uint32_t portKey(uint8_t proto, uint16_t port) { return (uint32_t{proto} << 16) | port; }
  static uint64_t connKey(uint8_t proto,
                          uint16_t localPort,
                          const uint8_t* remote,
                          uint16_t remotePort);
  void index(const Endpoint& e);
  void unindex(const Endpoint& e);

  std::map<uint64_t, Endpoint> byId_;
  std::unordered_multimap<uint32_t, uint64_t> byPort_;  // portKey -> cookie (unconnected)
  std::unordered_multimap<uint64_t, uint64_t> byConn_;  // connKey -> cookie (connected)
};

}  // namespace xfp::callout
