// Harness of the punt-path benchmark (bench/README.md): two network namespaces joined by a veth
// pair (tests/harness/netns.h), a live-frames traffic generator pushing 64-byte UDP frames from
// namespace B toward A, a UDP receiver in A counting the datagrams delivered to its socket(s), a
// single-datagram latency probe, and one measurement routine every case uses, so each row of the
// table is measured the same way whatever consumes the packets in between.
//
// Threads enter a namespace with setns() (PuntThreadNs); the process's own namespace and
// /sys/fs/bpf are never touched. Everything is bounded in time and removed on every exit: the
// namespaces (and with them the veth pair and any iptables rule inside) go in ~PuntNetwork.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/netns.h"

struct xfp_punt_gen;  // the generator's BPF skeleton (xfp_punt_gen.skel.h)

namespace xfp::bench::punt {

using Clock = std::chrono::steady_clock;
using Mac = std::array<std::uint8_t, 6>;

// Set by SIGINT/SIGTERM (installStopHandlers): every loop of the harness ends early, so the
// destructors run and remove namespaces and programs.
extern std::atomic<bool> gStopRequested;
void installStopHandlers();

// Pins the calling thread to one CPU (cpu < 0: leaves it alone). "" or an error.
std::string pinThisThread(int cpu);

// Moves the calling thread into network namespace ns (setns on /run/netns/ns). "" or an error.
std::string enterNetns(const std::string& ns);

// The veth pair: namespace A (receiver, where the consumer runs) and B (generator). A has GRO
// enabled, which live-frames XDP_TX from B needs to be delivered when no XDP program is attached
// on A (shared/baselines.md).
class PuntNetwork {
 public:
  PuntNetwork() = default;
  PuntNetwork(const PuntNetwork&) = delete;
  PuntNetwork& operator=(const PuntNetwork&) = delete;

  [[nodiscard]] std::string setUp();  // "" or why not

  [[nodiscard]] const std::string& nsA() const { return veth_.nsA(); }
  [[nodiscard]] const std::string& nsB() const { return veth_.nsB(); }
  [[nodiscard]] const std::string& linkA() const { return veth_.linkA(); }
  [[nodiscard]] const std::string& linkB() const { return veth_.linkB(); }
  [[nodiscard]] int ifindexA() const { return ifindexA_; }
  [[nodiscard]] int ifindexB() const { return ifindexB_; }
  [[nodiscard]] const Mac& macA() const { return macA_; }
  [[nodiscard]] const Mac& macB() const { return macB_; }

 private:
  test::VethNamespaces veth_;
  int ifindexA_ = 0;
  int ifindexB_ = 0;
  Mac macA_{};
  Mac macB_{};
};

// 60-byte Ethernet/IPv4/UDP frame (64 on the wire with the FCS), UDP checksum 0, 18 zero bytes of
// payload. Source port sport; the generator rewrites it per frame.
std::vector<std::uint8_t> udpFrame(const Mac& dst,
                                   const Mac& src,
                                   const char* srcAddr,
                                   const char* dstAddr,
                                   std::uint16_t sport,
                                   std::uint16_t dport);

// Live-frames generator: a thread in namespace B calls BPF_PROG_TEST_RUN with
// BPF_F_TEST_XDP_LIVE_FRAMES on B's ifindex; the program (xfp_punt_gen.bpf.c) returns XDP_TX, so
// each run sends the frame out of B to A. Each call runs `repeat` frames, tuned to ~0.2 s a call
// (each call also costs a fixed ~16 ms here); stop() ends the loop after the current call.
class TrafficGenerator {
 public:
  TrafficGenerator();
  ~TrafficGenerator();
  TrafficGenerator(const TrafficGenerator&) = delete;
  TrafficGenerator& operator=(const TrafficGenerator&) = delete;

  // Loads the program for `flows` flows (source ports sportBase..sportBase+flows-1) and builds
  // the frame. "" or an error.
  [[nodiscard]] std::string load(const PuntNetwork& net,
                                 std::uint16_t dport,
                                 std::uint16_t sportBase,
                                 std::uint32_t flows);
  // Starts pushing frames from a thread pinned to cpu (< 0: not pinned); an error of the
  // generator thread shows up in error() after stop(). The receive side's softirq work for
  // frames arriving on A (XDP, stack, netfilter) runs on that CPU too: veth schedules A's NAPI
  // on the CPU that transmitted.
  void start(int cpu = -1);
  void stop();  // waits for the current call (at most ~0.3 s)
  [[nodiscard]] bool running() const { return thread_.joinable(); }
  // Frames the program has run on (offered to XDP_TX; the veth may still drop some when the
  // receiving side's ring is full). Live: read from the program's mmap'ed bss.
  [[nodiscard]] std::uint64_t framesSent() const;
  [[nodiscard]] std::string error() const;

 private:
  void loop(int cpu);

  xfp_punt_gen* skel_ = nullptr;
  std::string nsB_;
  int ifindexB_ = 0;
  std::vector<std::uint8_t> frame_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::string error_;
};

// UDP sockets (SO_REUSEPORT when more than one) bound to addrA:port in namespace A, one thread
// each, counting datagrams with recvmmsg. Latency probes (LatencyProbe) are datagrams with a
// marker; the receiving thread notes their arrival time itself, so waking the prober is not in the
// measured time.
class UdpReceiver {
 public:
  UdpReceiver() = default;
  ~UdpReceiver();
  UdpReceiver(const UdpReceiver&) = delete;
  UdpReceiver& operator=(const UdpReceiver&) = delete;

  [[nodiscard]] std::string start(const std::string& ns,
                                  const char* addr,
                                  std::uint16_t port,
                                  int sockets = 1,
                                  int cpu = -1);  // receiving threads pinned to cpu (< 0: not)
  void stop();

  [[nodiscard]] std::uint64_t delivered() const { return delivered_.load(); }
  // Datagrams the sockets dropped (receive buffer full): SO_MEMINFO's SK_MEMINFO_DROPS, summed.
  [[nodiscard]] std::uint64_t socketDrops() const;
  // Waits (at most timeout) for the probe with sequence seq; its arrival time in ns of
  // CLOCK_MONOTONIC, or nullopt.
  [[nodiscard]] std::optional<std::int64_t> waitProbe(std::uint32_t seq,
                                                      std::chrono::milliseconds timeout);

  static constexpr std::uint32_t kProbeMagic = 0x58465050;  // "XFPP"

 private:
  void loop(int fd, int cpu);

  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> delivered_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::uint32_t probeSeq_ = 0;
  std::int64_t probeNs_ = 0;
};

// Everything a punt case needs; built once by xfp_bench_punt and passed to each case. A case must
// leave the namespaces as it found them (no rule, no program attached, generator stopped).
struct PuntEnv {
  std::string nsA, nsB;      // namespace A receives (the consumer runs here), B generates
  std::string linkA, linkB;  // the veth end inside each namespace (same name as the namespace)
  int ifindexA = 0, ifindexB = 0;
  Mac macA{}, macB{};
  const char* addrA = test::VethNamespaces::kAddr4A;  // 10.199.0.1, the receiver's address
  const char* addrB = test::VethNamespaces::kAddr4B;  // 10.199.0.2, the generator's source
  std::uint16_t dport = 0;                // destination UDP port of every generated frame
  std::uint16_t sportBase = 0;            // source ports sportBase .. sportBase + flows - 1
  std::uint32_t flows = 0;                // distinct flows the generator cycles through
  std::chrono::milliseconds duration{0};  // measured window per throughput case
  std::chrono::milliseconds warmup{0};    // generator runs this long before the window opens
  int latencySamples = 0;                 // ping-pong probes per case (0: no latency)
  // CPUs (-1: not pinned). The generator, and with it A's softirq receive work, runs on genCpu;
  // the receiver's threads on appCpu, where a case should put its consumer/callout thread too.
  int genCpu = -1, appCpu = -1;
  TrafficGenerator* gen = nullptr;  // loaded, stopped between cases
  UdpReceiver* receiver = nullptr;  // running for the whole benchmark
  bool quick = false;
};

struct LatencyResult {
  std::size_t samples = 0;
  std::size_t lost = 0;
  double p50us = 0, p99us = 0;
};

// One row of the table.
struct CaseResult {
  double seconds = 0;           // measured window
  std::uint64_t offered = 0;    // generator frames in the window
  std::uint64_t delivered = 0;  // datagrams delivered to the receiver's socket(s) in the window
  double offeredPps = 0, deliveredPps = 0;
  std::uint64_t socketDrops = 0;  // receiver socket drops in the window
  std::optional<LatencyResult> latency;
  std::string detail;  // case-specific figures (verdict messages, queue drops, ...)
  std::string error;   // set: the case failed (the row says why)
};

// The standard throughput measurement: starts env.gen, waits env.warmup, counts frames offered
// and datagrams delivered over env.duration while the generator runs, stops it and waits until
// the receiver is idle (bounded). The consumer must already be in place.
CaseResult measureThroughput(const PuntEnv& env);

// Ping-pong of single datagrams from a UDP socket in namespace B to addrA:dport (generator
// stopped): send with a timestamp, wait until the receiver saw it (timeout 200 ms = lost), next.
// At most env.latencySamples probes and ~3 s.
std::optional<LatencyResult> measureLatency(const PuntEnv& env);

}  // namespace xfp::bench::punt
