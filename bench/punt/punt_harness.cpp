#include "bench/punt/punt_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "xfp_punt_gen.skel.h"

namespace xfp::bench::punt {

std::atomic<bool> gStopRequested{false};

namespace {

void onStopSignal(int /*sig*/) {
  gStopRequested.store(true);
}

std::int64_t monotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Sleeps up to d in small steps, returning early when a stop is requested.
void sleepFor(std::chrono::milliseconds d) {
  const auto end = Clock::now() + d;
  while (!gStopRequested.load() && Clock::now() < end) {
    std::this_thread::sleep_for(
        std::min<Clock::duration>(std::chrono::milliseconds(20), end - Clock::now()));
  }
}

std::uint16_t ipChecksum(const std::uint8_t* p, std::size_t n) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) {
    sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  }
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<std::uint16_t>(~sum);
}

// Runs fn on a thread inside namespace ns; "" or the error entering it.
template <class Fn>
std::string inNetns(const std::string& ns, Fn fn) {
  std::string err;
  std::thread t([&] {
    err = enterNetns(ns);
    if (err.empty()) {
      fn();
    }
  });
  t.join();
  return err;
}

}  // namespace

void installStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = onStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

std::string pinThisThread(int cpu) {
  if (cpu < 0) {
    return {};
  }
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (const int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set); rc != 0) {
    return fmt::format("pin to CPU {}: {}", cpu, std::strerror(rc));
  }
  return {};
}

std::string enterNetns(const std::string& ns) {
  const std::string path = "/run/netns/" + ns;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return fmt::format("open {}: {}", path, std::strerror(errno));
  }
  const int rc = ::setns(fd, CLONE_NEWNET);
  const int saved = errno;
  ::close(fd);
  if (rc != 0) {
    return fmt::format("setns {}: {}", path, std::strerror(saved));
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// PuntNetwork

std::string PuntNetwork::setUp() {
  if (std::string err = veth_.setUp(); !err.empty()) {
    return err;
  }
  std::string err;
  auto linkInfo =
      [&](const std::string& ns, const std::string& link, int* ifindex, Mac* mac, bool gro) {
        const std::string e = inNetns(ns, [&] {
          *ifindex = static_cast<int>(::if_nametoindex(link.c_str()));
          const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
          if (s < 0) {
            err = fmt::format("socket: {}", std::strerror(errno));
            return;
          }
          ifreq ifr{};
          std::strncpy(ifr.ifr_name, link.c_str(), IFNAMSIZ - 1);
          if (::ioctl(s, SIOCGIFHWADDR, &ifr) != 0) {
            err = fmt::format("SIOCGIFHWADDR {}: {}", link, std::strerror(errno));
          } else {
            std::memcpy(mac->data(), ifr.ifr_hwaddr.sa_data, 6);
          }
          if (gro && err.empty()) {
            // GRO on: veth then receives through NAPI, which XDP_TX from the peer needs.
            ethtool_value ev{};
            ev.cmd = ETHTOOL_SGRO;
            ev.data = 1;
            ifr.ifr_data = reinterpret_cast<char*>(&ev);
            if (::ioctl(s, SIOCETHTOOL, &ifr) != 0) {
              err = fmt::format("ETHTOOL_SGRO {}: {}", link, std::strerror(errno));
            }
          }
          ::close(s);
        });
        if (!e.empty() && err.empty()) {
          err = e;
        }
      };
  linkInfo(nsA(), linkA(), &ifindexA_, &macA_, true);
  if (err.empty()) {
    linkInfo(nsB(), linkB(), &ifindexB_, &macB_, false);
  }
  if (err.empty() && (ifindexA_ == 0 || ifindexB_ == 0)) {
    err = "veth ifindex not found";
  }
  return err;
}

std::vector<std::uint8_t> udpFrame(const Mac& dst,
                                   const Mac& src,
                                   const char* srcAddr,
                                   const char* dstAddr,
                                   std::uint16_t sport,
                                   std::uint16_t dport) {
  std::vector<std::uint8_t> f(60, 0);
  std::memcpy(&f[0], dst.data(), 6);
  std::memcpy(&f[6], src.data(), 6);
  f[12] = 0x08;  // IPv4
  std::uint8_t* ip = &f[14];
  ip[0] = 0x45;
  const std::uint16_t totalLen = 60 - 14;
  ip[2] = totalLen >> 8;
  ip[3] = totalLen & 0xff;
  ip[6] = 0x40;  // DF
  ip[8] = 64;    // TTL
  ip[9] = IPPROTO_UDP;
  in_addr a{};
  inet_pton(AF_INET, srcAddr, &a);
  std::memcpy(&ip[12], &a, 4);
  inet_pton(AF_INET, dstAddr, &a);
  std::memcpy(&ip[16], &a, 4);
  const std::uint16_t csum = ipChecksum(ip, 20);
  ip[10] = csum >> 8;
  ip[11] = csum & 0xff;
  std::uint8_t* udp = ip + 20;
  udp[0] = sport >> 8;
  udp[1] = sport & 0xff;
  udp[2] = dport >> 8;
  udp[3] = dport & 0xff;
  const std::uint16_t udpLen = totalLen - 20;
  udp[4] = udpLen >> 8;
  udp[5] = udpLen & 0xff;  // checksum (udp[6..7]) 0: none
  return f;
}

// ---------------------------------------------------------------------------------------------
// TrafficGenerator

TrafficGenerator::TrafficGenerator() = default;

TrafficGenerator::~TrafficGenerator() {
  stop();
  xfp_punt_gen::destroy(skel_);
}

std::string TrafficGenerator::load(const PuntNetwork& net,
                                   std::uint16_t dport,
                                   std::uint16_t sportBase,
                                   std::uint32_t flows) {
  skel_ = xfp_punt_gen::open();
  if (skel_ == nullptr) {
    return fmt::format("xfp_punt_gen open: {}", std::strerror(errno));
  }
  skel_->rodata->flows = flows;
  skel_->rodata->sport_base = sportBase;
  if (xfp_punt_gen::load(skel_) != 0) {
    return fmt::format("xfp_punt_gen load: {}", std::strerror(errno));
  }
  nsB_ = net.nsB();
  ifindexB_ = net.ifindexB();
  frame_ = udpFrame(net.macA(),
                    net.macB(),
                    test::VethNamespaces::kAddr4B,
                    test::VethNamespaces::kAddr4A,
                    sportBase,
                    dport);
  return {};
}

void TrafficGenerator::start(int cpu) {
  stop();
  stop_.store(false);
  {
    std::lock_guard lock(mutex_);
    error_.clear();
  }
  thread_ = std::thread([this, cpu] { loop(cpu); });
}

void TrafficGenerator::stop() {
  stop_.store(true);
  if (thread_.joinable()) {
    thread_.join();
  }
}

std::uint64_t TrafficGenerator::framesSent() const {
  if (skel_ == nullptr) {
    return 0;
  }
  return __atomic_load_n(&skel_->bss->runs, __ATOMIC_RELAXED);
}

std::string TrafficGenerator::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void TrafficGenerator::loop(int cpu) {
  auto fail = [this](std::string e) {
    std::lock_guard lock(mutex_);
    error_ = std::move(e);
  };
  if (std::string e = pinThisThread(cpu); !e.empty()) {
    fail(e);
    return;
  }
  if (std::string e = enterNetns(nsB_); !e.empty()) {
    fail(e);
    return;
  }
  xdp_md ctx{};
  ctx.data = 0;
  ctx.data_end = static_cast<__u32>(frame_.size());  // live frames: must equal the frame length
  ctx.ingress_ifindex = static_cast<__u32>(ifindexB_);
  const int progFd = bpf_program__fd(skel_->progs.xfp_punt_gen);
  std::uint32_t repeat = 1u << 16;
  constexpr double kTargetCallMs = 200;
  while (!stop_.load() && !gStopRequested.load()) {
    LIBBPF_OPTS(bpf_test_run_opts,
                opts,
                .data_in = frame_.data(),
                .data_size_in = static_cast<__u32>(frame_.size()),
                .ctx_in = &ctx,
                .ctx_size_in = sizeof ctx,
                .repeat = static_cast<int>(repeat),
                .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
                .batch_size = 64);
    const auto t0 = Clock::now();
    if (bpf_prog_test_run_opts(progFd, &opts) != 0) {
      fail(fmt::format("BPF_PROG_TEST_RUN (live frames): {}", std::strerror(errno)));
      return;
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    // Keep each call near the target: long enough to amortise the fixed cost, short enough to
    // stop promptly.
    const double scaled = repeat * kTargetCallMs / std::max(ms, 1.0);
    repeat = static_cast<std::uint32_t>(std::clamp(scaled, 4096.0, 4194304.0));
  }
}

// ---------------------------------------------------------------------------------------------
// UdpReceiver

UdpReceiver::~UdpReceiver() {
  stop();
}

std::string UdpReceiver::start(
    const std::string& ns, const char* addr, std::uint16_t port, int sockets, int cpu) {
  stop();
  stop_.store(false);
  std::string err;
  const std::string e = inNetns(ns, [&] {
    for (int i = 0; i < sockets && err.empty(); ++i) {
      const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        err = fmt::format("socket: {}", std::strerror(errno));
        return;
      }
      fds_.push_back(fd);
      const int one = 1;
      if (sockets > 1) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
      }
      const int buf = 32 << 20;
      setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf);
      timeval tv{0, 50000};  // the thread looks at stop_ every 50 ms
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(port);
      inet_pton(AF_INET, addr, &sa.sin_addr);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        err = fmt::format("bind {}:{}: {}", addr, port, std::strerror(errno));
      }
    }
  });
  if (!e.empty()) {
    err = e;
  }
  if (!err.empty()) {
    stop();
    return err;
  }
  for (int fd : fds_) {
    threads_.emplace_back([this, fd, cpu] { loop(fd, cpu); });
  }
  return {};
}

void UdpReceiver::stop() {
  stop_.store(true);
  for (std::thread& t : threads_) {
    t.join();
  }
  threads_.clear();
  for (int fd : fds_) {
    ::close(fd);
  }
  fds_.clear();
}

std::uint64_t UdpReceiver::socketDrops() const {
  std::uint64_t drops = 0;
  for (int fd : fds_) {
    std::uint32_t mem[SK_MEMINFO_VARS] = {};
    socklen_t len = sizeof mem;
    if (getsockopt(fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 && len > SK_MEMINFO_DROPS * 4) {
      drops += mem[SK_MEMINFO_DROPS];
    }
  }
  return drops;
}

std::optional<std::int64_t> UdpReceiver::waitProbe(std::uint32_t seq,
                                                   std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (cv_.wait_for(lock, timeout, [&] { return probeSeq_ == seq; })) {
    return probeNs_;
  }
  return std::nullopt;
}

void UdpReceiver::loop(int fd, int cpu) {
  (void)pinThisThread(cpu);  // best effort: an unpinned receiver still counts
  constexpr int kBatch = 64;
  constexpr std::size_t kBuf = 128;
  std::vector<std::uint8_t> bufs(kBatch * kBuf);
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  while (!stop_.load()) {
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {&bufs[i * kBuf], kBuf};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    // Blocks for the first datagram (SO_RCVTIMEO bounds it), then takes what is queued.
    const int n = ::recvmmsg(fd, msgs, kBatch, MSG_WAITFORONE, nullptr);
    if (n <= 0) {
      continue;
    }
    const std::int64_t now = monotonicNs();
    delivered_.fetch_add(static_cast<std::uint64_t>(n), std::memory_order_relaxed);
    for (int i = 0; i < n; ++i) {
      const std::uint8_t* p = &bufs[i * kBuf];
      std::uint32_t magic = 0;
      if (msgs[i].msg_len >= 8 && (std::memcpy(&magic, p, 4), magic == kProbeMagic)) {
        std::uint32_t seq = 0;
        std::memcpy(&seq, p + 4, 4);
        {
          std::lock_guard lock(mutex_);
          probeSeq_ = seq;
          probeNs_ = now;
        }
        cv_.notify_all();
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Measurements

CaseResult measureThroughput(const PuntEnv& env) {
  CaseResult r;
  env.gen->start(env.genCpu);
  sleepFor(env.warmup);
  const std::uint64_t off0 = env.gen->framesSent();
  const std::uint64_t del0 = env.receiver->delivered();
  const std::uint64_t drop0 = env.receiver->socketDrops();
  const auto t0 = Clock::now();
  sleepFor(env.duration);
  const std::uint64_t off1 = env.gen->framesSent();
  const std::uint64_t del1 = env.receiver->delivered();
  const std::uint64_t drop1 = env.receiver->socketDrops();
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  env.gen->stop();
  if (std::string e = env.gen->error(); !e.empty()) {
    r.error = "generator: " + e;
  }
  r.offered = off1 - off0;
  r.delivered = del1 - del0;
  r.socketDrops = drop1 - drop0;
  r.offeredPps = r.seconds > 0 ? static_cast<double>(r.offered) / r.seconds : 0;
  r.deliveredPps = r.seconds > 0 ? static_cast<double>(r.delivered) / r.seconds : 0;
  // Let whatever is still queued drain (bounded: until 100 ms pass with nothing delivered, at
  // most 2 s), so the next case starts idle.
  const auto limit = Clock::now() + std::chrono::seconds(2);
  std::uint64_t last = env.receiver->delivered();
  while (!gStopRequested.load() && Clock::now() < limit) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::uint64_t now = env.receiver->delivered();
    if (now == last) {
      break;
    }
    last = now;
  }
  if (gStopRequested.load() && r.error.empty()) {
    r.error = "interrupted";
  }
  return r;
}

std::optional<LatencyResult> measureLatency(const PuntEnv& env) {
  if (env.latencySamples <= 0) {
    return std::nullopt;
  }
  int fd = -1;
  if (!inNetns(env.nsB, [&] { fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }).empty() ||
      fd < 0) {
    return std::nullopt;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(env.dport);
  inet_pton(AF_INET, env.addrA, &to.sin_addr);
  std::vector<double> us;
  LatencyResult r;
  const auto limit = Clock::now() + std::chrono::seconds(3);
  static std::uint32_t seq = 1;  // distinct across cases
  for (int i = 0; i < env.latencySamples && Clock::now() < limit && !gStopRequested.load(); ++i) {
    std::uint8_t payload[18] = {};
    const std::uint32_t s = ++seq;
    std::memcpy(payload, &UdpReceiver::kProbeMagic, 4);
    std::memcpy(payload + 4, &s, 4);
    const std::int64_t sent = monotonicNs();
    if (::sendto(fd, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) !=
        static_cast<ssize_t>(sizeof payload)) {
      ++r.lost;
      continue;
    }
    if (auto at = env.receiver->waitProbe(s, std::chrono::milliseconds(200))) {
      us.push_back(static_cast<double>(*at - sent) / 1000.0);
    } else {
      ++r.lost;
    }
  }
  ::close(fd);
  if (us.empty()) {
    r.samples = 0;
    return r;
  }
  std::sort(us.begin(), us.end());
  r.samples = us.size();
  r.p50us = us[us.size() / 2];
  r.p99us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  return r;
}

}  // namespace xfp::bench::punt
