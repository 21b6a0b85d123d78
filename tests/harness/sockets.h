// Sockets for integration tests: an address+port (Endpoint), a socket opened inside one of the
// test's network namespaces, and socket timeouts.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "tests/harness/netns.h"
#include "userspace/dataplane/unique_fd.h"

namespace xfp::test {

struct Endpoint {
  sockaddr_storage storage{};
  socklen_t len = 0;
  int family = AF_INET;

  [[nodiscard]] const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// "10.199.0.1" or "fd00:199::1" plus a port, ready for bind(), connect() and sendto().
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

// Send and receive timeouts of a socket (every test loop stays bounded in time).
inline void setTimeouts(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A socket opened inside namespace ns (it keeps that namespace for its lifetime), with timeouts.
inline dataplane::UniqueFd socketIn(const std::string& ns,
                                    int family,
                                    int type,
                                    std::chrono::milliseconds timeout) {
  dataplane::UniqueFd fd;
  const std::string err =
      VethNamespaces::runIn(ns, [&] { fd.reset(::socket(family, type | SOCK_CLOEXEC, 0)); });
  EXPECT_EQ(err, "");
  if (fd) {
    setTimeouts(fd.get(), timeout);
  }
  return fd;
}

// Binds a UDP socket in `nsRx` on addrRx:port, sends `payload` to it from a socket in `nsTx`
// and says whether it arrived within `wait` (a socket or bind failure is a test failure).
inline bool udpArrives(const std::string& nsRx,
                       const char* addrRx,
                       const std::string& nsTx,
                       uint16_t port,
                       std::chrono::milliseconds wait = std::chrono::milliseconds(400),
                       const std::string& payload = "probe") {
  const Endpoint to = endpoint(addrRx, port);
  dataplane::UniqueFd rx = socketIn(nsRx, AF_INET, SOCK_DGRAM, wait);
  dataplane::UniqueFd tx = socketIn(nsTx, AF_INET, SOCK_DGRAM, wait);
  if (!rx || !tx || ::bind(rx.get(), to.sa(), to.len) != 0) {
    ADD_FAILURE() << "udp socket/bind in " << nsRx << " on " << addrRx << ":" << port;
    return false;
  }
  ::sendto(tx.get(), payload.data(), payload.size(), 0, to.sa(), to.len);
  char buf[256];
  return ::recv(rx.get(), buf, sizeof buf, 0) == static_cast<ssize_t>(payload.size());
}

// The same from namespace B to A's IPv4 address of a VethNamespaces pair.
inline bool udpArrives(const VethNamespaces& ns,
                       uint16_t port,
                       std::chrono::milliseconds wait = std::chrono::milliseconds(400),
                       const std::string& payload = "probe") {
  return udpArrives(ns.nsA(), VethNamespaces::kAddr4A, ns.nsB(), port, wait, payload);
}

// A listening TCP socket on addr:port inside namespace ns (SO_REUSEADDR, timeouts); an invalid
// fd and a test failure when it cannot bind or listen.
inline dataplane::UniqueFd tcpListenerIn(const std::string& ns,
                                         const char* addr,
                                         std::uint16_t port,
                                         std::chrono::milliseconds timeout) {
  const Endpoint at = endpoint(addr, port);
  dataplane::UniqueFd fd = socketIn(ns, at.family, SOCK_STREAM, timeout);
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), at.sa(), at.len) != 0 || ::listen(fd.get(), 8) != 0) {
    ADD_FAILURE() << "listen on " << addr << ":" << port << " in " << ns << ": "
                  << std::strerror(errno);
    return {};
  }
  return fd;
}

// Connects a TCP socket of the caller's namespace to addr:port within `ms`: 0 when connected,
// else the errno (ETIMEDOUT when nothing answered). Plain system calls only, so a forked child
// of a multi-threaded test may use it.
inline int connectWithin(const char* addr, std::uint16_t port, int ms) {
  const Endpoint to = endpoint(addr, port);
  const int fd = ::socket(to.family, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return errno;
  }
  if (::connect(fd, to.sa(), to.len) != 0 && errno != EINPROGRESS) {
    const int e = errno;
    ::close(fd);
    return e;
  }
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, ms) != 1) {
    ::close(fd);
    return ETIMEDOUT;
  }
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  ::close(fd);
  return err;
}

}  // namespace xfp::test
