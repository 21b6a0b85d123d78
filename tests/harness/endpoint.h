// A socket address for tests: "10.199.0.1" or "fd00:199::1" plus a port, ready for bind(),
// connect() and sendto().
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

namespace xfp::test {

struct Endpoint {
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family = AF_INET;

  [[nodiscard]] const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

inline Endpoint endpoint(const char* addr, std::uint16_t port) {
  Endpoint e;
  if (std::strchr(addr, ':') != nullptr) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&e.storage);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(port);
    inet_pton(AF_INET6, addr, &sa->sin6_addr);
    e.len = sizeof(sockaddr_in6);
    e.family = AF_INET6;
  } else {
    auto* sa = reinterpret_cast<sockaddr_in*>(&e.storage);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    inet_pton(AF_INET, addr, &sa->sin_addr);
    e.len = sizeof(sockaddr_in);
  }
  return e;
}

}  // namespace xfp::test
