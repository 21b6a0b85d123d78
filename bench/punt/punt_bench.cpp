// Punt-path benchmark (root): packets per second delivered to a UDP socket when every packet
// leaves the kernel's path for a user-space consumer that gives a verdict and re-injects it.
// 64-byte UDP frames over 64 flows are pushed from namespace B into a veth pair by a live-frames
// XDP generator; namespace A holds the consumer and the receiving socket. Rows: nothing in between
// (the stack's own ceiling), NFQUEUE with a verdict per packet, NFQUEUE with batched verdicts, and
// xfp's punt path (xfp_punt_case.cpp). Also the latency of one datagram through each (ping-pong,
// idle). Prints Markdown (bench/README.md).
//
//   xfp_bench_punt [--quick] [--only TEXT] [--seconds S] [--flows N] [--receivers N] [--latency N]
//                  [--no-pin]
//   XFP_BENCH_QUICK=1 is --quick: a short smoke run (< 15 s).
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bench/punt/nfqueue_case.h"
#include "bench/punt/punt_harness.h"
#include "bench/punt/xfp_punt_case.h"

namespace xfp::bench::punt {
namespace {

struct Settings {
  bool quick = false;
  std::string only;      // run only the rows whose name contains this
  double seconds = 3.0;  // measured window per case
  std::uint32_t flows = 64;
  int receivers = 1;
  int latencySamples = 2000;
  bool pin = true;  // generator on CPU 0, consumer and receiver on CPU 1 (when there are 2+)
};

struct Row {
  std::string path;
  std::optional<CaseResult> result;  // nullopt: not built yet
};

std::string mpps(double pps) {
  return fmt::format("{:.3f}", pps / 1e6);
}

void printTable(const std::vector<Row>& rows) {
  fmt::print(
      "| path | offered Mpps | delivered Mpps | delivered/offered | socket drops | p50 us | p99 us "
      "| notes |\n");
  fmt::print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
  for (const Row& row : rows) {
    if (!row.result) {
      fmt::print("| {} | | | | | | | not built yet |\n", row.path);
      continue;
    }
    const CaseResult& r = *row.result;
    if (!r.error.empty() && r.seconds == 0) {
      fmt::print("| {} | | | | | | | {} |\n", row.path, r.error);
      continue;
    }
    std::string p50, p99, notes = r.detail;
    if (r.latency && r.latency->samples > 0) {
      p50 = fmt::format("{:.1f}", r.latency->p50us);
      p99 = fmt::format("{:.1f}", r.latency->p99us);
      if (r.latency->lost > 0) {
        notes += fmt::format(
            "; {} of {} probes lost", r.latency->lost, r.latency->lost + r.latency->samples);
      }
    } else if (r.latency) {
      notes += "; latency probes all lost";
    }
    if (!r.error.empty()) {
      notes += "; " + r.error;
    }
    fmt::print("| {} | {} | {} | {:.1f}% | {} | {} | {} | {} |\n",
               row.path,
               mpps(r.offeredPps),
               mpps(r.deliveredPps),
               r.offered > 0
                   ? 100.0 * static_cast<double>(r.delivered) / static_cast<double>(r.offered)
                   : 0.0,
               r.socketDrops,
               p50,
               p99,
               notes);
  }
}

int run(const Settings& s) {
  if (::geteuid() != 0) {
    fmt::print(stderr,
               "xfp_bench_punt needs root (network namespaces, bpf(), iptables, nfnetlink)\n");
    return 2;
  }
  installStopHandlers();
  const auto start = Clock::now();
  double load[3] = {0, 0, 0};
  (void)::getloadavg(load, 3);

  PuntNetwork net;
  if (std::string e = net.setUp(); !e.empty()) {
    fmt::print(stderr, "network: {}\n", e);
    return 1;
  }
  PuntEnv env;
  env.nsA = net.nsA();
  env.nsB = net.nsB();
  env.linkA = net.linkA();
  env.linkB = net.linkB();
  env.ifindexA = net.ifindexA();
  env.ifindexB = net.ifindexB();
  env.macA = net.macA();
  env.macB = net.macB();
  env.dport = 9099;
  env.sportBase = 40000;
  env.flows = s.flows;
  env.duration = std::chrono::milliseconds(static_cast<int64_t>(s.seconds * 1000));
  env.warmup = std::chrono::milliseconds(s.quick ? 200 : 500);
  env.latencySamples = s.latencySamples;
  env.quick = s.quick;
  if (s.pin && ::sysconf(_SC_NPROCESSORS_ONLN) >= 2) {
    env.genCpu = 0;
    env.appCpu = 1;
  }

  TrafficGenerator gen;
  if (std::string e = gen.load(net, env.dport, env.sportBase, env.flows); !e.empty()) {
    fmt::print(stderr, "generator: {}\n", e);
    return 1;
  }
  UdpReceiver receiver;
  if (std::string e = receiver.start(env.nsA, env.addrA, env.dport, s.receivers, env.appCpu);
      !e.empty()) {
    fmt::print(stderr, "receiver: {}\n", e);
    return 1;
  }
  env.gen = &gen;
  env.receiver = &receiver;

  struct Case {
    const char* path;
    std::function<std::optional<CaseResult>()> run;
  };
  const Case cases[] = {
      {"no consumer (socket only)", [&] { return std::optional(runDirectCase(env)); }},
      {"NFQUEUE, verdict per packet",
       [&] { return std::optional(runNfqueueCase(env, NfqVerdictMode::PerPacket)); }},
      {"NFQUEUE, batched verdicts (<= 64)",
       [&] { return std::optional(runNfqueueCase(env, NfqVerdictMode::Batched)); }},
      {"xfp punt (XDP -> AF_XDP -> classifyFn PERMIT -> reinjection), classify on the I/O thread",
       [&] { return runXfpPuntCase(env, 0); }},
      {"xfp punt, classify on 1 worker thread (flow affinity)",
       [&] { return runXfpPuntCase(env, 1); }},
      {"xfp ALE new flow, classifyFn answers inline (latency only)",
       [&] { return runXfpPendCase(env, false); }},
      {"xfp ALE new flow, pended and completed from another thread (latency only)",
       [&] { return runXfpPendCase(env, true); }},
  };
  std::vector<Row> rows;
  for (const Case& c : cases) {
    if (gStopRequested.load()) {
      break;
    }
    if (!s.only.empty() && std::string(c.path).find(s.only) == std::string::npos) {
      continue;
    }
    fmt::print(stderr, "{}: running\n", c.path);
    rows.push_back({c.path, c.run()});
  }
  receiver.stop();

  fmt::print("# xfp punt path, {}\n\n", s.quick ? "quick smoke subset" : "full run");
  fmt::print(
      "64-byte UDP frames, {} flows, pushed from namespace B by a live-frames XDP_TX generator "
      "into a veth pair; delivered = datagrams a UDP socket in namespace A received ({} "
      "receiving thread(s), recvmmsg) per second over a {:.1f} s window after {} ms of warm-up. "
      "Latency: {} single datagrams sent from a socket in B one at a time, idle, send to "
      "receive. CPUs: {}. Load average at start {:.2f} (other work on the machine skews "
      "everything).\n\n",
      env.flows,
      s.receivers,
      s.seconds,
      env.warmup.count(),
      s.latencySamples,
      env.genCpu < 0 ? std::string("not pinned")
                     : fmt::format("generator and A's softirq receive work on CPU {}, consumer "
                                   "and receiving thread(s) on CPU {}",
                                   env.genCpu,
                                   env.appCpu),
      load[0]);
  printTable(rows);
  fmt::print("\nTotal run time {:.1f} s.\n",
             std::chrono::duration<double>(Clock::now() - start).count());
  return gStopRequested.load() ? 130 : 0;
}

}  // namespace
}  // namespace xfp::bench::punt

int main(int argc, char** argv) {
  xfp::bench::punt::Settings s;
  const char* quickEnv = std::getenv("XFP_BENCH_QUICK");
  s.quick = quickEnv != nullptr && std::strcmp(quickEnv, "0") != 0 && *quickEnv != '\0';
  bool latencySet = false, secondsSet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--quick") {
      s.quick = true;
    } else if (a == "--seconds" && (v = next()) != nullptr) {
      s.seconds = std::clamp(std::atof(v), 0.2, 30.0);
      secondsSet = true;
    } else if (a == "--no-pin") {
      s.pin = false;
    } else if (a == "--flows" && (v = next()) != nullptr) {
      s.flows = static_cast<std::uint32_t>(std::clamp(std::atoi(v), 1, 65536));
    } else if (a == "--receivers" && (v = next()) != nullptr) {
      s.receivers = std::clamp(std::atoi(v), 1, 16);
    } else if (a == "--only" && (v = next()) != nullptr) {
      s.only = v;
    } else if (a == "--latency" && (v = next()) != nullptr) {
      s.latencySamples = std::clamp(std::atoi(v), 0, 100000);
      latencySet = true;
    } else {
      fmt::print(stderr,
                 "usage: {} [--quick] [--only TEXT] [--seconds S] [--flows N] [--receivers N] "
                 "[--latency N] "
                 "[--no-pin]\n",
                 argv[0]);
      return 2;
    }
  }
  if (s.quick) {
    if (!secondsSet) {
      s.seconds = 0.5;
    }
    if (!latencySet) {
      s.latencySamples = 100;
    }
  }
  return xfp::bench::punt::run(s);
}
