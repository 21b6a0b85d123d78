#include "tests/harness/callout_env.h"

#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>

#include <linux/if_link.h>

#include <cerrno>
#include <cstring>

#include "tests/harness/sockets.h"
#include "userspace/core/policy_file.h"

namespace xfp::test {

CalloutEnv::~CalloutEnv() {
  tearDown();
}

std::string CalloutEnv::setUp(const std::string& policyJson, callout::RuntimeOptions options) {
  if (std::string e = ns_.setUp(); !e.empty()) {
    return e;
  }
  auto policy = parsePolicy(policyJson, "test policy");
  if (!policy) {
    return policy.error().message;
  }
  auto fp = dataplane::FastPath::load();
  if (!fp) {
    return fp.error().describe();
  }
  fp_ = std::move(*fp);
  auto rt = callout::CalloutRuntime::create(*fp_, std::move(*policy), options);
  if (!rt) {
    return rt.error().message;
  }
  runtime_ = std::move(*rt);
  std::string error;
  const std::string entered = VethNamespaces::runIn(ns_.nsA(), [&] {
    ifindexA_ = static_cast<int>(::if_nametoindex(ns_.linkA().c_str()));
    if (ifindexA_ == 0) {
      error = "no " + ns_.linkA();
      return;
    }
    auto x = fp_->attachXdp(ifindexA_, XDP_FLAGS_DRV_MODE);
    if (!x) {
      error = x.error().describe();
      return;
    }
    auto t = fp_->attachTc(ifindexA_);
    if (!t) {
      error = t.error().describe();
      return;
    }
    auto a = runtime_->attach(ifindexA_);
    if (!a) {
      error = a.error().message;
    }
  });
  return !entered.empty() ? entered : error;
}

void CalloutEnv::tearDown() {
  runtime_.reset();
  if (fp_) {
    (void)VethNamespaces::runIn(ns_.nsA(), [&] { fp_->detachAll(); });
    fp_.reset();
  }
}

uint64_t CalloutEnv::filterId(const std::string& name) {
  uint64_t id = 0;
  runtime_->withPolicy([&](const Policy& p) {
    for (const auto& [fid, f] : p.filters()) {
      if (f.displayData.name && *f.displayData.name == name) {
        id = fid;
      }
    }
  });
  return id;
}

namespace {

std::vector<std::string> udpExchange(const std::string& fromNs,
                                     const std::string& toNs,
                                     const char* toAddr,
                                     uint16_t port,
                                     const std::vector<std::string>& payloads,
                                     std::chrono::milliseconds wait) {
  std::vector<std::string> got;
  const Endpoint to = endpoint(toAddr, port);
  dataplane::UniqueFd rx = socketIn(toNs, to.family, SOCK_DGRAM, wait);
  dataplane::UniqueFd tx = socketIn(fromNs, to.family, SOCK_DGRAM, wait);
  if (!rx || !tx || ::bind(rx.get(), to.sa(), to.len) != 0) {
    ADD_FAILURE() << "udp socket/bind: " << std::strerror(errno);
    return got;
  }
  for (const auto& p : payloads) {
    if (::sendto(tx.get(), p.data(), p.size(), 0, to.sa(), to.len) !=
        static_cast<ssize_t>(p.size())) {
      ADD_FAILURE() << "sendto: " << std::strerror(errno);
    }
  }
  char buf[2048];
  for (size_t i = 0; i < payloads.size() + 8; ++i) {  // bounded: a few more than sent
    const ssize_t n = ::recv(rx.get(), buf, sizeof buf, 0);
    if (n < 0) {
      break;
    }
    got.emplace_back(buf, static_cast<size_t>(n));
  }
  return got;
}

}  // namespace

std::vector<std::string> CalloutEnv::udpToA(uint16_t port,
                                            const std::vector<std::string>& payloads,
                                            std::chrono::milliseconds wait) {
  return udpExchange(ns_.nsB(), ns_.nsA(), VethNamespaces::kAddr4A, port, payloads, wait);
}

std::vector<std::string> CalloutEnv::udpToB(uint16_t port,
                                            const std::vector<std::string>& payloads,
                                            std::chrono::milliseconds wait) {
  return udpExchange(ns_.nsA(), ns_.nsB(), VethNamespaces::kAddr4B, port, payloads, wait);
}

std::vector<std::string> CalloutEnv::udp6ToA(uint16_t port,
                                             const std::vector<std::string>& payloads,
                                             std::chrono::milliseconds wait) {
  return udpExchange(ns_.nsB(), ns_.nsA(), VethNamespaces::kAddr6A, port, payloads, wait);
}

std::vector<std::string> CalloutEnv::udp6ToB(uint16_t port,
                                             const std::vector<std::string>& payloads,
                                             std::chrono::milliseconds wait) {
  return udpExchange(ns_.nsA(), ns_.nsB(), VethNamespaces::kAddr6B, port, payloads, wait);
}

CalloutEnv::TcpAttempt CalloutEnv::tcpFromA(uint16_t port) {
  TcpAttempt t;
  const Endpoint at = endpoint(VethNamespaces::kAddr4B, port);
  t.listener = socketIn(ns_.nsB(), AF_INET, SOCK_STREAM | SOCK_NONBLOCK, std::chrono::seconds(2));
  t.client = socketIn(ns_.nsA(), AF_INET, SOCK_STREAM | SOCK_NONBLOCK, std::chrono::seconds(2));
  const int one = 1;
  setsockopt(t.listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(t.listener.get(), at.sa(), at.len) != 0 || ::listen(t.listener.get(), 8) != 0) {
    ADD_FAILURE() << "tcp listen: " << std::strerror(errno);
  }
  if (::connect(t.client.get(), at.sa(), at.len) != 0 && errno != EINPROGRESS) {
    ADD_FAILURE() << "connect: " << std::strerror(errno);
  }
  return t;
}

bool CalloutEnv::TcpAttempt::connected(std::chrono::milliseconds timeout) {
  pollfd p{client.get(), POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
    return false;
  }
  int err = 0;
  socklen_t len = sizeof err;
  return getsockopt(client.get(), SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

bool CalloutEnv::TcpAttempt::accepted(std::chrono::milliseconds timeout) {
  pollfd p{listener.get(), POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

}  // namespace xfp::test
