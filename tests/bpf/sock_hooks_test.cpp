// Socket hooks (object xfp_sock) on real sockets: children forked into a test cgroup and a fresh
// network namespace create, bind, connect and send on loopback; a responder thread in the test
// process (outside the cgroup) answers their upcalls through SockHooks::consume/reply and
// collects every event. Upcalls busy-wait in the kernel on the caller's CPU, so children run on
// CPU 0 and the responder on the last CPU (the kernel here is PREEMPT_NONE: a responder woken on
// the spinning CPU would not run before the wait ends).
#include "userspace/dataplane/sock_hooks.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <mutex>
#include <new>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <gtest/gtest.h>

#include "tests/harness/cgroup.h"
#include "tests/harness/netns.h"
#include "tests/harness/test_env.h"

namespace xfp {
namespace {

using namespace std::chrono_literals;
using dataplane::SockHooks;

constexpr uint16_t kPortA = 40001;  // the namespace is fresh: fixed ports are free
constexpr uint16_t kPortB = 40002;
constexpr uint16_t kPortC = 40003;
constexpr uint16_t kPortD = 40004;
constexpr uint64_t kWaitNs = 3'000'000'000ull;
constexpr const char* kChildComm = "xfpchild";

std::atomic<int> gNsCounter{0};

// Memory shared with the children (MAP_SHARED): what they saw, and a go signal for steps.
struct Shared {
  std::atomic<int> stage{0};  // child -> parent
  std::atomic<int> go{0};     // parent -> child
  uint64_t cookie[4] = {};
  uint16_t port[4] = {};
  int err[8] = {};
  int ret[8] = {};
  xfp_redirect_record rec{};
  socklen_t recLen = 0;
  sockaddr_in orig4{};
  socklen_t orig4Len = 0;
  sockaddr_in6 orig6{};
  socklen_t orig6Len = 0;
  char data[16] = {};
  int received[4] = {};
};

// ---- child side: system calls only ----

void pinChild() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  sched_setaffinity(0, sizeof set, &set);
  prctl(PR_SET_NAME, kChildComm, 0, 0, 0);
}

bool waitGo(Shared* s, int value) {
  for (int i = 0; i < 10000; ++i) {
    if (s->go.load() >= value) {
      return true;
    }
    usleep(1000);
  }
  return false;
}

uint64_t cookieOf(int fd) {
  uint64_t c = 0;
  socklen_t len = sizeof c;
  getsockopt(fd, SOL_SOCKET, SO_COOKIE, &c, &len);
  return c;
}

uint16_t localPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  return ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                  : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

sockaddr_in loop4(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

sockaddr_in6 loop6(uint16_t port) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(port);
  a.sin6_addr = in6addr_loopback;
  return a;
}

template <class A>
int bindTo(int fd, const A& a) {
  return bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
}

template <class A>
int connectTo(int fd, const A& a) {
  return connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
}

void timeouts(int fd) {
  timeval tv{};
  tv.tv_sec = 5;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int tcpSocket(int family = AF_INET) {
  const int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    timeouts(fd);
  }
  return fd;
}

int udpSocket(int family = AF_INET) {
  const int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    timeouts(fd);
  }
  return fd;
}

// ---- test side ----

const uint8_t kLoop4[4] = {127, 0, 0, 1};

bool isLoop4(const uint8_t* addr) {
  return std::memcmp(addr, kLoop4, 4) == 0;
}

class SockHooksTest : public testing::Test {
 protected:
  void SetUp() override {
    XFP_REQUIRE_ROOT();
    if (std::thread::hardware_concurrency() < 2) {
      XFP_SKIP_OR_FAIL("needs two CPUs: an upcall spins on the caller's CPU");
    }
    ns_ = fmt::format("xfpt{}s{}", ::getpid(), gNsCounter.fetch_add(1));
    ASSERT_EQ(test::VethNamespaces::run("ip netns add " + ns_), 0) << "ip netns add " << ns_;
    nsCreated_ = true;
    ASSERT_EQ(test::VethNamespaces::run("ip -n " + ns_ + " link set lo up"), 0);
    const std::string err = cgroup_.setUp();
    if (!err.empty()) {
      XFP_SKIP_OR_FAIL(err);
    }
    auto hooks = SockHooks::attach(cgroup_.path());
    ASSERT_TRUE(hooks) << hooks.error().describe();
    hooks_ = std::move(*hooks);
    hooks_->configure(0, kWaitNs, static_cast<uint32_t>(::getpid()));
    hooks_->heartbeat();

    void* mem =
        mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    shared_ = new (mem) Shared();

    responder_ = std::thread([this] { respond(); });
  }

  void TearDown() override {
    stop_ = true;
    if (responder_.joinable()) {
      responder_.join();
    }
    hooks_.reset();
    if (shared_ != nullptr) {
      shared_->~Shared();
      munmap(shared_, sizeof(Shared));
    }
    if (nsCreated_) {
      test::VethNamespaces::run("ip netns del " + ns_);
    }
  }

  void respond() {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(std::thread::hardware_concurrency() - 1, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    const int ep = hooks_->eventsEpollFd();
    auto lastBeat = std::chrono::steady_clock::now();
    const std::function<void(const xfp_sock_event&)> onEvent = [this](const xfp_sock_event& ev) {
      std::function<xfp_sock_reply(const xfp_sock_event&)> policy;
      {
        std::lock_guard lock(mu_);
        events_.push_back(ev);
        policy = policy_;
      }
      if (ev.type == XFP_SOCK_EV_REQUEST && answer_.load()) {
        xfp_sock_reply r{};
        if (policy) {
          r = policy(ev);
        } else {
          r.verdict = XFP_SOCK_PERMIT;
        }
        r.seq = ev.seq;
        hooks_->reply(r);
      }
    };
    while (!stop_.load()) {
      epoll_event e{};
      epoll_wait(ep, &e, 1, 20);
      hooks_->consume(onEvent);
      const auto now = std::chrono::steady_clock::now();
      if (beat_.load() && now - lastBeat > 100ms) {
        hooks_->heartbeat();
        lastBeat = now;
      }
    }
  }

  void setPolicy(std::function<xfp_sock_reply(const xfp_sock_event&)> p) {
    std::lock_guard lock(mu_);
    policy_ = std::move(p);
  }

  std::vector<xfp_sock_event> events() {
    std::lock_guard lock(mu_);
    return events_;
  }

  // Waits (bounded) until an event matches; returns it.
  std::optional<xfp_sock_event> waitEvent(const std::function<bool(const xfp_sock_event&)>& pred,
                                          std::chrono::milliseconds timeout = 3s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    do {
      for (const auto& ev : events()) {
        if (pred(ev)) {
          return ev;
        }
      }
      std::this_thread::sleep_for(5ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return std::nullopt;
  }

  size_t countEvents(const std::function<bool(const xfp_sock_event&)>& pred) {
    size_t n = 0;
    for (const auto& ev : events()) {
      n += pred(ev) ? 1 : 0;
    }
    return n;
  }

  // The upcall (request) of one socket, waited for.
  std::optional<xfp_sock_event> requestOf(uint64_t cookie) {
    return waitEvent([cookie](const xfp_sock_event& e) {
      return e.type == XFP_SOCK_EV_REQUEST && e.cookie == cookie;
    });
  }

  // Runs fn in a child inside the cgroup and the namespace; its exit code (0: all went as
  // expected) and why it failed to run.
  int run(const std::function<int()>& fn) {
    std::string why;
    const int rc = cgroup_.runInside(
        ns_,
        [&] {
          pinChild();
          return fn();
        },
        20s,
        &why);
    EXPECT_GE(rc, 0) << why;
    return rc;
  }

  bool waitStage(int value, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (shared_->stage.load() < value) {
      if (std::chrono::steady_clock::now() >= deadline) {
        return false;
      }
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }

  void writeHeartbeat(uint64_t ns) {
    const int fd = hooks_->mapFd("xfp_sock_cfg");
    ASSERT_GE(fd, 0);
    const uint32_t key = 0;
    xfp_sock_cfg cfg{};
    ASSERT_EQ(bpf_map_lookup_elem(fd, &key, &cfg), 0);
    cfg.heartbeat_ns = ns;
    ASSERT_EQ(bpf_map_update_elem(fd, &key, &cfg, BPF_ANY), 0);
  }

  std::string ns_;
  bool nsCreated_ = false;
  test::TestCgroup cgroup_;
  std::unique_ptr<SockHooks> hooks_;
  Shared* shared_ = nullptr;
  std::thread responder_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> answer_{true};
  std::atomic<bool> beat_{true};
  std::mutex mu_;
  std::vector<xfp_sock_event> events_;
  std::function<xfp_sock_reply(const xfp_sock_event&)> policy_;
};

// What the kernel itself answers to the XFP_SOL options on a TCP socket outside the cgroup.
int kernelGetsockoptErrno() {
  const int fd = tcpSocket();
  xfp_redirect_record rec{};
  socklen_t len = sizeof rec;
  const int rc = getsockopt(fd, XFP_SOL, XFP_SO_REDIRECT_RECORDS, &rec, &len);
  const int err = rc == 0 ? 0 : errno;
  close(fd);
  return err;
}

int kernelSetsockoptErrno() {
  const int fd = tcpSocket();
  xfp_redirect_record rec{};
  const int rc = setsockopt(fd, XFP_SOL, XFP_SO_REDIRECT_RECORDS, &rec, sizeof rec);
  const int err = rc == 0 ? 0 : errno;
  close(fd);
  return err;
}

xfp_sock_reply permit() {
  xfp_sock_reply r{};
  r.verdict = XFP_SOCK_PERMIT;
  return r;
}

xfp_sock_reply block() {
  xfp_sock_reply r{};
  r.verdict = XFP_SOCK_BLOCK;
  return r;
}

xfp_sock_reply rewriteTo4(uint16_t port) {
  xfp_sock_reply r = permit();
  r.rewrite = 1;
  std::memcpy(r.addr, kLoop4, 4);
  r.port = port;
  return r;
}

// ---------------------------------------------------------------------------------------------

TEST_F(SockHooksTest, OwnerIsRecordedAtCreationAndDroppedAtRelease) {
  Shared* s = shared_;
  const pid_t pid = cgroup_.spawnInside(ns_, [s] {
    pinChild();
    const int fd = udpSocket();
    s->cookie[0] = cookieOf(fd);
    s->stage = 1;
    if (!waitGo(s, 1)) {
      return 2;
    }
    close(fd);
    return 0;
  });
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(waitStage(1));
  ASSERT_NE(s->cookie[0], 0u);
  const auto o = hooks_->owner(s->cookie[0]);
  ASSERT_TRUE(o.has_value());
  EXPECT_EQ(o->tgid, static_cast<uint32_t>(pid));
  EXPECT_EQ(o->pid, static_cast<uint32_t>(pid));
  EXPECT_EQ(o->uid, ::getuid());
  EXPECT_EQ(o->gid, ::getgid());
  EXPECT_EQ(o->cgroup_id, hooks_->cgroupId());
  EXPECT_STREQ(o->comm, kChildComm);
  s->go = 1;
  EXPECT_EQ(cgroup_.wait(pid, 10s), 0);
  EXPECT_FALSE(hooks_->owner(s->cookie[0]).has_value()) << "sock_release drops the owner";
  // The test process is outside the cgroup: its sockets are not seen.
  const int mine = udpSocket();
  EXPECT_FALSE(hooks_->owner(cookieOf(mine)).has_value());
  close(mine);
}

TEST_F(SockHooksTest, BoundAndReleasedEventsOfAUdpSocket) {
  Shared* s = shared_;
  ASSERT_EQ(run([s] {
              const int fd = udpSocket();
              s->cookie[0] = cookieOf(fd);
              if (bindTo(fd, loop4(kPortA)) != 0) {
                return 2;
              }
              close(fd);
              return 0;
            }),
            0);
  const uint64_t cookie = s->cookie[0];
  auto bound = waitEvent(
      [&](const xfp_sock_event& e) { return e.type == XFP_SOCK_EV_BOUND && e.cookie == cookie; });
  ASSERT_TRUE(bound.has_value());
  EXPECT_EQ(bound->proto, 17);
  EXPECT_EQ(bound->v6, 0);
  EXPECT_EQ(bound->layer, 0u);
  EXPECT_TRUE(isLoop4(bound->local));
  EXPECT_EQ(bound->local_port, kPortA);
  EXPECT_STREQ(bound->owner.comm, kChildComm);
  EXPECT_EQ(bound->owner.cgroup_id, hooks_->cgroupId());
  auto released = waitEvent([&](const xfp_sock_event& e) {
    return e.type == XFP_SOCK_EV_RELEASED && e.cookie == cookie;
  });
  ASSERT_TRUE(released.has_value());
  EXPECT_EQ(released->proto, 17);
  EXPECT_TRUE(isLoop4(released->local));
  EXPECT_EQ(released->local_port, kPortA);
  EXPECT_EQ(released->remote_port, 0);
  EXPECT_EQ(released->flags & XFP_SOCK_F_LISTENING, 0u);
  EXPECT_EQ(released->owner.tgid, bound->owner.tgid);
}

// The ring positions are a barrier for a thread that does not consume: once the consumed
// position reaches the produced position read after a bind() returned, its BOUND event has been
// handed to the consumer already (the runtime waits so before it looks for a new flow's listener).
TEST_F(SockHooksTest, RingPositionsOrderEventsBeforeABarrier) {
  Shared* s = shared_;
  const uint64_t start = hooks_->producedPosition();
  ASSERT_EQ(run([s] {
              const int fd = udpSocket();
              s->cookie[0] = cookieOf(fd);
              return bindTo(fd, loop4(kPortA)) == 0 ? 0 : 2;  // stays bound until exit
            }),
            0);
  const uint64_t produced = hooks_->producedPosition();
  EXPECT_GT(produced, start) << "the bind posted its event";
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (hooks_->consumedPosition() < produced && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100us);
  }
  ASSERT_GE(hooks_->consumedPosition(), produced);
  EXPECT_EQ(countEvents([&](const xfp_sock_event& e) {
              return e.type == XFP_SOCK_EV_BOUND && e.cookie == s->cookie[0];
            }),
            1u)
      << "consumed means delivered: no waiting for the event after the barrier";
  EXPECT_LE(hooks_->consumedPosition(), hooks_->producedPosition());
}

TEST_F(SockHooksTest, EstablishedAndClosedEventsOfALoopbackTcpConnection) {
  Shared* s = shared_;
  ASSERT_EQ(run([s] {
              const int l = tcpSocket();
              if (bindTo(l, loop4(kPortB)) != 0 || listen(l, 4) != 0) {
                return 2;
              }
              const int c = tcpSocket();
              if (connectTo(c, loop4(kPortB)) != 0) {
                return 3;
              }
              const int a = accept(l, nullptr, nullptr);
              if (a < 0) {
                return 4;
              }
              s->cookie[0] = cookieOf(l);
              s->cookie[1] = cookieOf(c);
              s->cookie[2] = cookieOf(a);
              s->port[1] = localPort(c);
              char buf[5] = {};
              if (write(c, "hello", 5) != 5 || read(a, buf, 5) != 5 ||
                  std::memcmp(buf, "hello", 5) != 0) {
                return 5;
              }
              close(c);
              if (read(a, buf, 5) != 0) {  // the client's FIN
                return 6;
              }
              close(a);
              close(l);
              return 0;
            }),
            0);
  const uint64_t client = s->cookie[1];
  const uint64_t accepted = s->cookie[2];
  const uint16_t clientPort = s->port[1];
  auto active = waitEvent([&](const xfp_sock_event& e) {
    return e.type == XFP_SOCK_EV_ESTABLISHED && e.cookie == client;
  });
  ASSERT_TRUE(active.has_value());
  EXPECT_EQ(active->flags & XFP_SOCK_F_ACTIVE, uint32_t{XFP_SOCK_F_ACTIVE});
  EXPECT_EQ(active->proto, 6);
  EXPECT_TRUE(isLoop4(active->local));
  EXPECT_TRUE(isLoop4(active->remote));
  EXPECT_EQ(active->local_port, clientPort);
  EXPECT_EQ(active->remote_port, kPortB);
  EXPECT_STREQ(active->owner.comm, kChildComm) << "owner recorded at the client's creation";
  auto passive = waitEvent([&](const xfp_sock_event& e) {
    return e.type == XFP_SOCK_EV_ESTABLISHED && e.cookie == accepted;
  });
  ASSERT_TRUE(passive.has_value());
  EXPECT_EQ(passive->flags & XFP_SOCK_F_ACTIVE, 0u);
  EXPECT_EQ(passive->local_port, kPortB);
  EXPECT_EQ(passive->remote_port, clientPort);

  for (uint64_t cookie : {client, accepted}) {
    auto closed = waitEvent([&](const xfp_sock_event& e) {
      return e.type == XFP_SOCK_EV_TCP_CLOSED && e.cookie == cookie;
    });
    ASSERT_TRUE(closed.has_value()) << "cookie " << cookie;
    EXPECT_NE(closed->tcp_state, 0);
    EXPECT_EQ(closed->flags, 0u);
  }
  auto listener = waitEvent([&](const xfp_sock_event& e) {
    return e.type == XFP_SOCK_EV_RELEASED && e.cookie == s->cookie[0];
  });
  ASSERT_TRUE(listener.has_value());
  EXPECT_EQ(listener->flags & XFP_SOCK_F_LISTENING, uint32_t{XFP_SOCK_F_LISTENING});
  EXPECT_EQ(listener->local_port, kPortB);
}

TEST_F(SockHooksTest, ConnectAnsweredBlockFailsWithEperm) {
  hooks_->configure(XFP_SOCK_CONNECT_REDIRECT_V4, kWaitNs, static_cast<uint32_t>(::getpid()));
  setPolicy([](const xfp_sock_event&) { return block(); });
  Shared* s = shared_;
  ASSERT_EQ(run([s] {
              const int l = tcpSocket();
              if (bindTo(l, loop4(kPortB)) != 0 || listen(l, 4) != 0) {
                return 2;
              }
              const int c = tcpSocket();
              s->cookie[0] = cookieOf(c);
              s->ret[0] = connectTo(c, loop4(kPortB));
              s->err[0] = errno;
              return 0;
            }),
            0);
  EXPECT_EQ(s->ret[0], -1);
  EXPECT_EQ(s->err[0], EPERM);
  auto req = requestOf(s->cookie[0]);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->layer, uint32_t{XFP_SOCK_CONNECT_REDIRECT_V4});
  EXPECT_EQ(req->proto, 6);
  EXPECT_TRUE(isLoop4(req->remote));
  EXPECT_EQ(req->remote_port, kPortB);
  EXPECT_EQ(req->flags & XFP_SOCK_F_HAD_LOCAL_PORT, 0u);
  EXPECT_STREQ(req->owner.comm, kChildComm);
  EXPECT_EQ(req->owner.cgroup_id, hooks_->cgroupId());
  EXPECT_NE(req->seq, 0u);
}

TEST_F(SockHooksTest, ConnectOfABoundSocketCarriesItsLocalPort) {
  hooks_->configure(XFP_SOCK_CONNECT_REDIRECT_V4, kWaitNs, static_cast<uint32_t>(::getpid()));
  Shared* s = shared_;
  ASSERT_EQ(run([s] {
              const int l = tcpSocket();
              if (bindTo(l, loop4(kPortB)) != 0 || listen(l, 4) != 0) {
                return 2;
              }
              const int c = tcpSocket();
              if (bindTo(c, loop4(kPortC)) != 0) {
                return 3;
              }
              s->cookie[0] = cookieOf(c);
              return connectTo(c, loop4(kPortB)) == 0 ? 0 : 4;
            }),
            0);
  auto req = requestOf(s->cookie[0]);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->flags & XFP_SOCK_F_HAD_LOCAL_PORT, uint32_t{XFP_SOCK_F_HAD_LOCAL_PORT});
  EXPECT_EQ(req->local_port, kPortC);
  EXPECT_TRUE(isLoop4(req->local));
}

TEST_F(SockHooksTest, WithoutAHeartbeatAnUpcallIsRefusedAtOnce) {
  beat_ = false;
  writeHeartbeat(0);
  hooks_->configure(XFP_SOCK_CONNECT_REDIRECT_V4, kWaitNs, static_cast<uint32_t>(::getpid()));
  Shared* s = shared_;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(run([s] {
              const int c = tcpSocket();
              s->cookie[0] = cookieOf(c);
              s->ret[0] = connectTo(c, loop4(kPortB));
              s->err[0] = errno;
              return 0;
            }),
            0);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(s->ret[0], -1);
  EXPECT_EQ(s->err[0], EPERM);
  EXPECT_LT(took, 1500ms) << "refused without waiting for an answer";
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(countEvents([&](const xfp_sock_event& e) {
              return e.type == XFP_SOCK_EV_REQUEST && e.cookie == s->cookie[0];
            }),
            0u)
      << "no request without a runtime";
}

TEST_F(SockHooksTest, AnUnansweredUpcallIsRefusedAfterTheWait) {
  answer_ = false;
  constexpr uint64_t kShortWait = 300'000'000ull;
  hooks_->configure(XFP_SOCK_CONNECT_REDIRECT_V4, kShortWait, static_cast<uint32_t>(::getpid()));
  Shared* s = shared_;
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(run([s] {
              const int c = tcpSocket();
              s->cookie[0] = cookieOf(c);
              s->ret[0] = connectTo(c, loop4(kPortB));
              s->err[0] = errno;
              return 0;
            }),
            0);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(s->ret[0], -1);
  EXPECT_EQ(s->err[0], EPERM);
  EXPECT_GE(took, 300ms);
  EXPECT_TRUE(requestOf(s->cookie[0]).has_value());
}

// One CPU stays free for the answer: with one hook waiting on this 2-CPU machine (max_waiters =
// CPUs - 1), a second socket call at an active layer fails at once with EAGAIN instead of taking
// the last CPU; the stats count both.
TEST_F(SockHooksTest, ASecondWaiterBeyondTheCpusLeftFailsAtOnceWithEagain) {
  answer_ = false;
  hooks_->configure(
      XFP_SOCK_CONNECT_REDIRECT_V4, 600'000'000ull, static_cast<uint32_t>(::getpid()));
  const xfp_sock_stats before = hooks_->stats();
  Shared* s = shared_;
  const pid_t first = cgroup_.spawnInside(ns_, [s] {
    pinChild();  // CPU 0, where it will spin
    s->stage = 1;
    s->ret[0] = connectTo(tcpSocket(), loop4(kPortB));
    s->err[0] = errno;
    return 0;
  });
  ASSERT_GT(first, 0);
  ASSERT_TRUE(waitStage(1, 2000ms));
  std::this_thread::sleep_for(100ms);  // the first is waiting now
  const pid_t second = cgroup_.spawnInside(ns_, [s] {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(1, &set);
    sched_setaffinity(0, sizeof set, &set);
    const auto t0 = std::chrono::steady_clock::now();
    s->ret[1] = connectTo(tcpSocket(), loop4(kPortB));
    s->err[1] = errno;
    s->port[1] = static_cast<uint16_t>(std::min<long>(
        65535,
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count()));
    return 0;
  });
  ASSERT_GT(second, 0);
  EXPECT_EQ(cgroup_.wait(second, 5s), 0);
  EXPECT_EQ(cgroup_.wait(first, 5s), 0);
  EXPECT_EQ(s->ret[1], -1);
  EXPECT_EQ(s->err[1], EAGAIN);
  EXPECT_LT(s->port[1], 300) << "ms: refused at once, not after the wait";
  EXPECT_EQ(s->ret[0], -1);
  EXPECT_EQ(s->err[0], EPERM) << "the first one waited and was not answered";
  const xfp_sock_stats after = hooks_->stats();
  EXPECT_EQ(after.busy - before.busy, 1u);
  EXPECT_EQ(after.timed_out - before.timed_out, 1u);
  EXPECT_EQ(after.upcalls - before.upcalls, 1u);
}

TEST_F(SockHooksTest, ConnectRedirectLandsOnTheProxyWhichReadsTheOriginalDestination) {
  hooks_->configure(XFP_SOCK_CONNECT_REDIRECT_V4, kWaitNs, static_cast<uint32_t>(::getpid()));
  setPolicy([](const xfp_sock_event& e) {
    if (e.remote_port != kPortA) {
      return permit();
    }
    xfp_sock_reply r = rewriteTo4(kPortB);
    r.redirect_handle = 0x1234567890ull;
    r.target_pid = 4242;
    r.context_len = 5;
    std::memcpy(r.context, "proxy", 5);
    return r;
  });
  Shared* s = shared_;
  const pid_t pid = cgroup_.spawnInside(ns_, [s] {
    pinChild();
    const int l = tcpSocket();  // the proxy, on B; nothing listens on A
    if (bindTo(l, loop4(kPortB)) != 0 || listen(l, 4) != 0) {
      return 2;
    }
    const int c = tcpSocket();
    if (connectTo(c, loop4(kPortA)) != 0) {
      return 3;
    }
    const int a = accept(l, nullptr, nullptr);
    if (a < 0) {
      return 4;
    }
    s->cookie[0] = cookieOf(c);
    s->port[0] = localPort(c);
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    getpeername(c, reinterpret_cast<sockaddr*>(&peer), &len);
    s->port[1] = ntohs(peer.sin_port);
    if (write(c, "hello", 5) != 5 || read(a, s->data, 5) != 5) {
      return 5;
    }
    s->recLen = sizeof s->rec;
    s->ret[0] = getsockopt(a, XFP_SOL, XFP_SO_REDIRECT_RECORDS, &s->rec, &s->recLen);
    s->err[0] = errno;
    s->orig4Len = sizeof s->orig4;
    s->ret[1] = getsockopt(a, SOL_IP, XFP_SO_ORIGINAL_DST, &s->orig4, &s->orig4Len);
    s->err[1] = errno;
    // The client's own socket is not a redirected connection's accepted end: untouched.
    xfp_redirect_record none{};
    socklen_t noneLen = sizeof none;
    s->ret[2] = getsockopt(c, XFP_SOL, XFP_SO_REDIRECT_RECORDS, &none, &noneLen);
    s->err[2] = errno;
    s->stage = 1;
    if (!waitGo(s, 1)) {
      return 6;
    }
    close(c);
    close(a);
    close(l);
    return 0;
  });
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(waitStage(1)) << "child exit " << cgroup_.wait(pid, 1s);
  EXPECT_EQ(s->port[1], kPortB) << "the client's connection ended at the proxy";
  EXPECT_EQ(std::string(s->data, 5), "hello");
  ASSERT_EQ(s->ret[0], 0) << std::strerror(s->err[0]);
  EXPECT_EQ(s->recLen, sizeof(xfp_redirect_record));
  EXPECT_TRUE(isLoop4(s->rec.orig_addr));
  EXPECT_EQ(s->rec.orig_port, kPortA);
  EXPECT_EQ(s->rec.v6, 0);
  EXPECT_EQ(s->rec.redirect_handle, 0x1234567890ull);
  EXPECT_EQ(s->rec.target_pid, 4242u);
  EXPECT_EQ(s->rec.context_len, 5u);
  EXPECT_EQ(std::memcmp(s->rec.context, "proxy", 5), 0);
  ASSERT_EQ(s->ret[1], 0) << std::strerror(s->err[1]);
  EXPECT_EQ(s->orig4Len, sizeof(sockaddr_in));
  EXPECT_EQ(s->orig4.sin_family, AF_INET);
  EXPECT_EQ(ntohs(s->orig4.sin_port), kPortA);
  EXPECT_EQ(s->orig4.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  EXPECT_EQ(s->ret[2], -1);
  EXPECT_EQ(s->err[2], kernelGetsockoptErrno()) << "the kernel's own answer";

  xfp_redirect_key key{};
  std::memcpy(key.addr, kLoop4, 4);
  key.port = s->port[0];
  key.proto = 6;
  const auto rec = hooks_->redirectRecord(key);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->orig_port, kPortA);
  EXPECT_EQ(rec->redirect_handle, 0x1234567890ull);
  s->go = 1;
  EXPECT_EQ(cgroup_.wait(pid, 10s), 0);
  const auto deadline = std::chrono::steady_clock::now() + 3s;
  while (hooks_->redirectRecord(key).has_value() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_FALSE(hooks_->redirectRecord(key).has_value()) << "dropped when the connection closed";
}

TEST_F(SockHooksTest, Ipv6ConnectRedirectAndOriginalDestination) {
  hooks_->configure(XFP_SOCK_CONNECT_REDIRECT_V6, kWaitNs, static_cast<uint32_t>(::getpid()));
  setPolicy([](const xfp_sock_event& e) {
    if (e.remote_port != kPortA) {
      return permit();
    }
    xfp_sock_reply r = permit();
    r.rewrite = 1;
    std::memcpy(r.addr, &in6addr_loopback, 16);
    r.port = kPortB;
    r.redirect_handle = 66;
    return r;
  });
  Shared* s = shared_;
  ASSERT_EQ(run([s] {
              const int l = tcpSocket(AF_INET6);
              if (bindTo(l, loop6(kPortB)) != 0 || listen(l, 4) != 0) {
                return 2;
              }
              const int c = tcpSocket(AF_INET6);
              if (connectTo(c, loop6(kPortA)) != 0) {
                return 3;
              }
              const int a = accept(l, nullptr, nullptr);
              if (a < 0) {
                return 4;
              }
              if (write(c, "six", 3) != 3 || read(a, s->data, 3) != 3) {
                return 5;
              }
              s->orig6Len = sizeof s->orig6;
              s->ret[0] = getsockopt(a, SOL_IPV6, XFP_SO_ORIGINAL_DST, &s->orig6, &s->orig6Len);
              s->err[0] = errno;
              s->recLen = sizeof s->rec;
              s->ret[1] = getsockopt(a, XFP_SOL, XFP_SO_REDIRECT_RECORDS, &s->rec, &s->recLen);
              s->err[1] = errno;
              return 0;
            }),
            0);
  EXPECT_EQ(std::string(s->data, 3), "six");
  ASSERT_EQ(s->ret[0], 0) << std::strerror(s->err[0]);
  EXPECT_EQ(s->orig6Len, sizeof(sockaddr_in6));
  EXPECT_EQ(s->orig6.sin6_family, AF_INET6);
  EXPECT_EQ(ntohs(s->orig6.sin6_port), kPortA);
  EXPECT_EQ(std::memcmp(&s->orig6.sin6_addr, &in6addr_loopback, 16), 0);
  ASSERT_EQ(s->ret[1], 0) << std::strerror(s->err[1]);
  EXPECT_EQ(s->rec.v6, 1);
  EXPECT_EQ(s->rec.redirect_handle, 66u);
}

// A dual-stack (AF_INET6) socket reaching an IPv4 peer through ::ffff:a.b.c.d is IPv4 for WFP:
// its connect and bind are asked at the _V4 layers with IPv4 addresses, and the IPv4 answers are
// written back in mapped form. Only the _V4 layers are active here: an upcall at _V6 would not
// be answered as asked.
TEST_F(SockHooksTest, DualStackCallsToMappedAddressesAreAskedAtTheV4Layers) {
  hooks_->configure(XFP_SOCK_CONNECT_REDIRECT_V4 | XFP_SOCK_BIND_REDIRECT_V4,
                    kWaitNs,
                    static_cast<uint32_t>(::getpid()));
  setPolicy([](const xfp_sock_event& e) {
    if (e.layer == XFP_SOCK_CONNECT_REDIRECT_V4 && e.remote_port == kPortA) {
      return rewriteTo4(kPortB);
    }
    if (e.layer == XFP_SOCK_BIND_REDIRECT_V4 && e.local_port == kPortC) {
      return rewriteTo4(kPortD);
    }
    return permit();
  });
  Shared* s = shared_;
  ASSERT_EQ(run([s] {
              const int l = tcpSocket();  // an IPv4 proxy on B
              if (bindTo(l, loop4(kPortB)) != 0 || listen(l, 4) != 0) {
                return 2;
              }
              sockaddr_in6 mappedA = loop6(kPortA);
              inet_pton(AF_INET6, "::ffff:127.0.0.1", &mappedA.sin6_addr);
              const int c = tcpSocket(AF_INET6);
              s->cookie[0] = cookieOf(c);
              if (connectTo(c, mappedA) != 0) {
                return 3;
              }
              const int a = accept(l, nullptr, nullptr);
              if (a < 0) {
                return 4;
              }
              sockaddr_in6 peer{};
              socklen_t len = sizeof peer;
              getpeername(c, reinterpret_cast<sockaddr*>(&peer), &len);
              s->port[0] = ntohs(peer.sin6_port);
              s->ret[0] = IN6_IS_ADDR_V4MAPPED(&peer.sin6_addr) ? 1 : 0;
              s->orig4Len = sizeof s->orig4;
              s->ret[1] = getsockopt(a, SOL_IP, XFP_SO_ORIGINAL_DST, &s->orig4, &s->orig4Len);
              s->err[1] = errno;
              // bind: asked for C, bound to D, still in mapped form
              sockaddr_in6 mappedC = loop6(kPortC);
              inet_pton(AF_INET6, "::ffff:127.0.0.1", &mappedC.sin6_addr);
              const int u = udpSocket(AF_INET6);
              s->cookie[1] = cookieOf(u);
              s->ret[2] = bindTo(u, mappedC);
              s->err[2] = errno;
              sockaddr_in6 self{};
              len = sizeof self;
              getsockname(u, reinterpret_cast<sockaddr*>(&self), &len);
              s->port[1] = ntohs(self.sin6_port);
              s->ret[3] = IN6_IS_ADDR_V4MAPPED(&self.sin6_addr) ? 1 : 0;
              return 0;
            }),
            0);
  EXPECT_EQ(s->port[0], kPortB) << "the dual-stack client's connection ended at the proxy";
  EXPECT_EQ(s->ret[0], 1) << "its peer is still a mapped address";
  ASSERT_EQ(s->ret[1], 0) << std::strerror(s->err[1]);
  EXPECT_EQ(s->orig4.sin_family, AF_INET);
  EXPECT_EQ(ntohs(s->orig4.sin_port), kPortA);
  EXPECT_EQ(s->orig4.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  auto req = requestOf(s->cookie[0]);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->layer, uint32_t{XFP_SOCK_CONNECT_REDIRECT_V4});
  EXPECT_EQ(req->v6, 0);
  EXPECT_TRUE(isLoop4(req->remote));
  EXPECT_EQ(req->remote_port, kPortA);

  ASSERT_EQ(s->ret[2], 0) << std::strerror(s->err[2]);
  EXPECT_EQ(s->port[1], kPortD);
  EXPECT_EQ(s->ret[3], 1);
  auto bindReq = requestOf(s->cookie[1]);
  ASSERT_TRUE(bindReq.has_value());
  EXPECT_EQ(bindReq->layer, uint32_t{XFP_SOCK_BIND_REDIRECT_V4});
  EXPECT_EQ(bindReq->v6, 0);
  EXPECT_TRUE(isLoop4(bindReq->local));
  EXPECT_EQ(bindReq->local_port, kPortC);
  // Its BOUND event names the IPv4 address too.
  auto bound = waitEvent([&](const xfp_sock_event& e) {
    return e.type == XFP_SOCK_EV_BOUND && e.cookie == s->cookie[1];
  });
  ASSERT_TRUE(bound.has_value());
  EXPECT_EQ(bound->v6, 0);
  EXPECT_TRUE(isLoop4(bound->local));
  EXPECT_EQ(bound->local_port, kPortD);
}

// Pinned by takeOver(), the hooks outlive their owner (as after kill -9) and refuse the socket
// calls at the layers it had configured, at once (fail closed); the next owner's takeOver()
// replaces them instead of running beside them, and detach() leaves nothing behind.
TEST_F(SockHooksTest, PinnedHooksOutliveTheirOwnerUntilTheNextTakesOver) {
  const std::string dir = fmt::format("/sys/fs/bpf/xfpt{}-sockpins", ::getpid());
  struct Cleanup {
    std::string dir;
    ~Cleanup() { test::VethNamespaces::run("rm -rf " + dir); }  // unpinned: they detach
  } cleanup{dir};
  const int cg = ::open(cgroup_.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(cg, 0);
  auto connectProgs = [cg] {
    std::vector<uint32_t> ids(16);
    uint32_t count = static_cast<uint32_t>(ids.size());
    uint32_t flags = 0;
    EXPECT_EQ(bpf_prog_query(cg, BPF_CGROUP_INET4_CONNECT, 0, &flags, ids.data(), &count), 0);
    ids.resize(count);
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  const std::vector<uint32_t> fixtureOnly = connectProgs();
  ASSERT_EQ(fixtureOnly.size(), 1u) << "the fixture's own hooks";
  Shared* s = shared_;
  auto tryCalls = [&] {
    return run([s] {
      const int l = tcpSocket();
      if (bindTo(l, loop4(kPortB)) != 0 || listen(l, 4) != 0) {
        return 2;
      }
      const int c = tcpSocket();
      s->ret[0] = connectTo(c, loop4(kPortB));
      s->err[0] = errno;
      close(c);
      close(l);
      return 0;
    });
  };
  {
    auto first = SockHooks::attach(cgroup_.path(), dir);
    ASSERT_TRUE(first) << first.error().describe();
    (*first)->configure(XFP_SOCK_CONNECT_REDIRECT_V4, 0, 0);  // as a runtime leaves them at stop
    (*first)->heartbeat();
    auto pinned = (*first)->takeOver();
    ASSERT_TRUE(pinned) << pinned.error().describe();
    EXPECT_EQ(::access((dir + "/xfp_connect4").c_str(), F_OK), 0);
  }  // the owner is gone: its fds are closed
  const std::vector<uint32_t> kept = connectProgs();
  EXPECT_EQ(kept.size(), 2u) << "the pinned hooks stay attached";
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(tryCalls(), 0);
  EXPECT_EQ(s->ret[0], -1);
  EXPECT_EQ(s->err[0], EPERM) << "refused at the layer that had filters";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s) << "refused at once, not after a wait";

  auto second = SockHooks::attach(cgroup_.path(), dir);
  ASSERT_TRUE(second) << second.error().describe();
  (*second)->configure(0, kWaitNs, static_cast<uint32_t>(::getpid()));
  (*second)->heartbeat();
  // Something not ours in the way: the takeover changes nothing (the predecessor keeps
  // refusing, ours are not pinned) and says why.
  const std::string foreign = dir + "/foreign";
  ASSERT_EQ(bpf_obj_pin(hooks_->mapFd("xfp_sock_stats"), foreign.c_str()), 0);
  auto refused = (*second)->takeOver();
  EXPECT_FALSE(refused);
  EXPECT_EQ(connectProgs().size(), 3u) << "predecessor and ours both attached, nothing detached";
  EXPECT_EQ(::access((dir + "/xfp_connect4").c_str(), F_OK), 0) << "the predecessor's pin stays";
  ASSERT_EQ(::unlink(foreign.c_str()), 0);
  // As if a takeover had crashed half-way: the predecessor's link also under a staging name.
  {
    const int link = bpf_obj_get((dir + "/xfp_connect4").c_str());
    ASSERT_GE(link, 0);
    ASSERT_EQ(bpf_obj_pin(link, (dir + "/xfp_connect4_next").c_str()), 0);
    ::close(link);
  }
  auto took = (*second)->takeOver();
  ASSERT_TRUE(took) << took.error().describe();
  const std::vector<uint32_t> now = connectProgs();
  ASSERT_EQ(now.size(), 2u) << "the predecessor made way (not three programs)";
  for (uint32_t id : kept) {
    if (!std::binary_search(fixtureOnly.begin(), fixtureOnly.end(), id)) {
      EXPECT_FALSE(std::binary_search(now.begin(), now.end(), id)) << "the first owner's program";
    }
  }
  EXPECT_EQ(::access((dir + "/xfp_connect4").c_str(), F_OK), 0) << "ours, under the final name";
  EXPECT_NE(::access((dir + "/xfp_connect4_next").c_str(), F_OK), 0) << "no staging name left";
  ASSERT_EQ(tryCalls(), 0);
  EXPECT_EQ(s->ret[0], 0) << std::strerror(s->err[0]);

  (*second)->detach();
  EXPECT_EQ(connectProgs(), fixtureOnly);
  EXPECT_NE(::access(dir.c_str(), F_OK), 0) << "pins and their directory removed";
  ::close(cg);
}

TEST_F(SockHooksTest, RecordsSetOnAnOutgoingSocketMarkItsConnectRequest) {
  hooks_->configure(XFP_SOCK_CONNECT_REDIRECT_V4, kWaitNs, static_cast<uint32_t>(::getpid()));
  Shared* s = shared_;
  ASSERT_EQ(run([s] {
              const int l = tcpSocket();
              if (bindTo(l, loop4(kPortB)) != 0 || listen(l, 4) != 0) {
                return 2;
              }
              xfp_redirect_record rec{};
              rec.redirect_handle = 0xbeef;
              rec.orig_port = kPortA;
              const int withRecords = tcpSocket();
              s->cookie[0] = cookieOf(withRecords);
              s->ret[0] =
                  setsockopt(withRecords, XFP_SOL, XFP_SO_REDIRECT_RECORDS, &rec, sizeof rec);
              s->err[0] = errno;
              // Too short, or another option of the level: the kernel's own answer.
              s->ret[1] = setsockopt(withRecords, XFP_SOL, XFP_SO_REDIRECT_RECORDS, &rec, 8);
              s->err[1] = errno;
              s->ret[2] = setsockopt(withRecords, XFP_SOL, 2, &rec, sizeof rec);
              s->err[2] = errno;
              if (connectTo(withRecords, loop4(kPortB)) != 0) {
                return 3;
              }
              const int plain = tcpSocket();
              s->cookie[1] = cookieOf(plain);
              if (connectTo(plain, loop4(kPortB)) != 0) {
                return 4;
              }
              return 0;
            }),
            0);
  ASSERT_EQ(s->ret[0], 0) << std::strerror(s->err[0]);
  const int kernelErrno = kernelSetsockoptErrno();
  EXPECT_EQ(s->ret[1], -1);
  EXPECT_EQ(s->err[1], kernelErrno) << "the kernel's own answer";
  EXPECT_EQ(s->ret[2], -1);
  EXPECT_EQ(s->err[2], kernelErrno) << "the kernel's own answer";
  auto marked = requestOf(s->cookie[0]);
  ASSERT_TRUE(marked.has_value());
  EXPECT_EQ(marked->flags & XFP_SOCK_F_RECORDS, uint32_t{XFP_SOCK_F_RECORDS});
  EXPECT_EQ(marked->records_handle, 0xbeefu);
  auto plain = requestOf(s->cookie[1]);
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->flags & XFP_SOCK_F_RECORDS, 0u);
  EXPECT_EQ(plain->records_handle, 0u);
}

TEST_F(SockHooksTest, BindRedirectRewritesThePortBound) {
  hooks_->configure(XFP_SOCK_BIND_REDIRECT_V4, kWaitNs, static_cast<uint32_t>(::getpid()));
  setPolicy([](const xfp_sock_event& e) {
    return e.local_port == kPortA ? rewriteTo4(kPortB) : permit();
  });
  Shared* s = shared_;
  ASSERT_EQ(
      run([s] {
        const int fd = udpSocket();
        s->cookie[0] = cookieOf(fd);
        if (bindTo(fd, loop4(kPortA)) != 0) {
          return 2;
        }
        s->port[0] = localPort(fd);
        // Real bytes: a datagram to B arrives on the socket that asked for A.
        const int tx = udpSocket();
        const sockaddr_in to = loop4(kPortB);
        if (sendto(tx, "bind", 4, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 4) {
          return 3;
        }
        s->received[0] = static_cast<int>(recv(fd, s->data, sizeof s->data, 0));
        return 0;
      }),
      0);
  EXPECT_EQ(s->port[0], kPortB);
  EXPECT_EQ(s->received[0], 4);
  EXPECT_EQ(std::string(s->data, 4), "bind");
  auto req = requestOf(s->cookie[0]);
  ASSERT_TRUE(req.has_value());
  EXPECT_EQ(req->layer, uint32_t{XFP_SOCK_BIND_REDIRECT_V4});
  EXPECT_EQ(req->proto, 17);
  EXPECT_EQ(req->local_port, kPortA);
  EXPECT_TRUE(isLoop4(req->local));
  auto bound = waitEvent([&](const xfp_sock_event& e) {
    return e.type == XFP_SOCK_EV_BOUND && e.cookie == s->cookie[0];
  });
  ASSERT_TRUE(bound.has_value());
  EXPECT_EQ(bound->local_port, kPortB);
}

TEST_F(SockHooksTest, ResourceAssignmentBlockFailsTheBind) {
  hooks_->configure(XFP_SOCK_RESOURCE_ASSIGNMENT_V4, kWaitNs, static_cast<uint32_t>(::getpid()));
  setPolicy([](const xfp_sock_event& e) { return e.local_port == kPortA ? block() : permit(); });
  Shared* s = shared_;
  ASSERT_EQ(run([s] {
              const int fd = udpSocket();
              s->cookie[0] = cookieOf(fd);
              s->ret[0] = bindTo(fd, loop4(kPortA));
              s->err[0] = errno;
              s->ret[1] = bindTo(fd, loop4(kPortC));  // the failed bind left it unbound
              s->err[1] = errno;
              s->port[1] = localPort(fd);
              return 0;
            }),
            0);
  EXPECT_EQ(s->ret[0], -1);
  EXPECT_EQ(s->err[0], EPERM);
  ASSERT_EQ(s->ret[1], 0) << std::strerror(s->err[1]);
  EXPECT_EQ(s->port[1], kPortC);
  auto blocked = waitEvent([&](const xfp_sock_event& e) {
    return e.type == XFP_SOCK_EV_REQUEST && e.cookie == s->cookie[0] && e.local_port == kPortA;
  });
  ASSERT_TRUE(blocked.has_value());
  EXPECT_EQ(blocked->layer, uint32_t{XFP_SOCK_RESOURCE_ASSIGNMENT_V4});
  EXPECT_TRUE(isLoop4(blocked->local));
  EXPECT_TRUE(waitEvent([&](const xfp_sock_event& e) {
                return e.type == XFP_SOCK_EV_REQUEST && e.cookie == s->cookie[0] &&
                       e.local_port == kPortC;
              }).has_value());
  EXPECT_EQ(countEvents([&](const xfp_sock_event& e) {
              return e.type == XFP_SOCK_EV_BOUND && e.cookie == s->cookie[0];
            }),
            0u)
      << "an upcall is the record of the bind, no BOUND event besides";
}

TEST_F(SockHooksTest, UnconnectedUdpAsksOncePerPeer) {
  hooks_->configure(XFP_SOCK_CONNECT_REDIRECT_V4, kWaitNs, static_cast<uint32_t>(::getpid()));
  setPolicy([](const xfp_sock_event& e) {
    if (e.remote_port == kPortB) {
      return rewriteTo4(kPortC);
    }
    return e.remote_port == kPortD ? block() : permit();
  });
  Shared* s = shared_;
  ASSERT_EQ(run([s] {
              const int rxA = udpSocket();
              const int rxC = udpSocket();
              if (bindTo(rxA, loop4(kPortA)) != 0 || bindTo(rxC, loop4(kPortC)) != 0) {
                return 2;
              }
              const int tx = udpSocket();
              s->cookie[0] = cookieOf(tx);
              const sockaddr_in a = loop4(kPortA);
              const sockaddr_in b = loop4(kPortB);
              const sockaddr_in d = loop4(kPortD);
              for (int i = 0; i < 3; ++i) {
                if (sendto(tx, "a", 1, 0, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 1) {
                  return 3;
                }
              }
              for (int i = 0; i < 2; ++i) {
                if (sendto(tx, "b", 1, 0, reinterpret_cast<const sockaddr*>(&b), sizeof b) != 1) {
                  return 4;
                }
              }
              for (int i = 0; i < 2; ++i) {
                s->ret[i] = static_cast<int>(
                    sendto(tx, "d", 1, 0, reinterpret_cast<const sockaddr*>(&d), sizeof d));
                s->err[i] = errno;
              }
              char buf[4];
              while (recv(rxA, buf, sizeof buf, MSG_DONTWAIT) == 1) {
                s->received[0]++;
              }
              while (recv(rxC, buf, sizeof buf, MSG_DONTWAIT) == 1) {
                s->received[1]++;
              }
              return 0;
            }),
            0);
  EXPECT_EQ(s->received[0], 3) << "permitted: all three datagrams to A";
  EXPECT_EQ(s->received[1], 2) << "rewritten: both datagrams to B arrived on C";
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(s->ret[i], -1);
    EXPECT_EQ(s->err[i], EPERM);
  }
  std::this_thread::sleep_for(100ms);
  const uint64_t tx = s->cookie[0];
  for (uint16_t port : {kPortA, kPortB, kPortD}) {
    EXPECT_EQ(countEvents([&](const xfp_sock_event& e) {
                return e.type == XFP_SOCK_EV_REQUEST && e.cookie == tx && e.remote_port == port &&
                       (e.flags & XFP_SOCK_F_SENDMSG) != 0;
              }),
              1u)
        << "port " << port;
  }
}

}  // namespace
}  // namespace xfp
