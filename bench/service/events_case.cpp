// Section 3: net events per second. xfpd blocks UDP port 7901 (drop events on, the default
// per-CPU budget of 10k events/s); a program subscribes through the FWPM C API
// (FwpmNetEventSubscribe0) and counts what its callback gets. Sender threads in B push a bounded
// burst of datagrams to the blocked port at a paced rate; the `counters` RPC before and after
// gives the events the data path emitted and those it suppressed (over a CPU's budget or ring
// full) and the packets it blocked; a socket bound to the port in A counts what got through.
#include <arpa/inet.h>
#include <fwpmu.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <fmt/format.h>

#include "bench/service/service_cases.h"
#include "bench/service/service_env.h"
#include "userspace/dataplane/net_events.h"

namespace xfp::bench::service {
namespace {

constexpr uint16_t kBlockedPort = 7901;

struct CounterSnapshot {
  bool ok = false;
  uint64_t emitted = 0, suppressed = 0, blocked = 0;
};

CounterSnapshot counters(test::ApiSession& api) {
  v1::SessionRequest q;
  q.mutable_counters();
  const v1::SessionReply r = api.call(q);
  CounterSnapshot c;
  if (r.status() != 0 || !r.has_counters()) {
    return c;
  }
  c.ok = true;
  c.emitted = r.counters().net_events_emitted();
  c.suppressed = r.counters().net_events_suppressed();
  for (const auto& l : r.counters().layers()) {
    c.blocked += l.blocked();
  }
  return c;
}

struct Delivered {
  std::atomic<uint64_t> all{0};
  std::atomic<uint64_t> ours{0};  // classify drops of UDP to the blocked port
  std::atomic<int64_t> lastNs{0};
};

void onEvent(void* context, const FWPM_NET_EVENT1* e) {
  auto* d = static_cast<Delivered*>(context);
  d->all.fetch_add(1, std::memory_order_relaxed);
  if (e->type == FWPM_NET_EVENT_TYPE_CLASSIFY_DROP && e->header.ipProtocol == 17 &&
      e->header.localPort == kBlockedPort) {
    d->ours.fetch_add(1, std::memory_order_relaxed);
  }
  d->lastNs.store(Clock::now().time_since_epoch().count(), std::memory_order_relaxed);
}

struct Burst {
  std::string label;
  uint32_t datagrams = 0;
  uint32_t rate = 0;
  // results
  bool ok = false;
  std::string error;
  uint64_t sent = 0, sendErrors = 0, received = 0;
  double sendSeconds = 0, deliverySeconds = 0;
  CounterSnapshot before, after;
  uint64_t delivered = 0, deliveredOurs = 0, logLines = 0;
};

void runBurst(const ServiceEnv& env,
              HANDLE h,
              test::ApiSession& api,
              XfpdChild& xfpd,
              int senders,
              Burst& b) {
  Delivered d;
  FWPM_NET_EVENT_SUBSCRIPTION0 sub{};
  HANDLE events = nullptr;
  if (DWORD rc = FwpmNetEventSubscribe0(h, &sub, onEvent, &d, &events); rc != 0) {
    b.error = fmt::format("FwpmNetEventSubscribe0: 0x{:08x} {}", rc, XfpmLastErrorMessage());
    return;
  }
  // A receiver on the blocked port (anything arriving got through).
  int rx = -1;
  (void)test::VethNamespaces::runIn(env.ns().nsA(),
                                    [&] { rx = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); });
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(kBlockedPort);
  ::inet_pton(AF_INET, test::VethNamespaces::kAddr4A, &to.sin_addr);
  std::atomic<bool> stopRx{false};
  std::atomic<uint64_t> received{0};
  std::thread rxThread;
  if (rx >= 0 && ::bind(rx, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0) {
    timeval tv{0, 50000};
    ::setsockopt(rx, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    rxThread = std::thread([&] {
      char buf[64];
      while (!stopRx.load()) {
        if (::recv(rx, buf, sizeof buf, 0) > 0) {
          ++received;
        }
      }
    });
  }
  std::this_thread::sleep_for(milliseconds(200));  // the subscription is in place
  b.before = counters(api);
  const uint64_t logBefore = xfpd.count("net event:");

  std::vector<int> fds(static_cast<size_t>(senders), -1);
  for (int& fd : fds) {
    (void)test::VethNamespaces::runIn(
        env.ns().nsB(), [&] { fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); });
  }
  std::atomic<uint64_t> sent{0}, errors{0};
  const uint32_t perThread = b.datagrams / static_cast<uint32_t>(senders);
  const double perMs = static_cast<double>(b.rate) / senders / 1000.0;
  const double planned = static_cast<double>(b.datagrams) / b.rate;
  const auto start = Clock::now();
  const auto limit = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(3 * planned + 5));
  std::vector<std::thread> tx;
  for (int t = 0; t < senders; ++t) {
    tx.emplace_back([&, fd = fds[static_cast<size_t>(t)]] {
      if (fd < 0) {
        return;
      }
      char payload[16] = "xfp net events";
      double due = 0;
      uint32_t done = 0;
      auto next = start;
      // Bounded in count (perThread) and time (limit).
      while (done < perThread && !gStop.load() && Clock::now() < limit) {
        due += perMs;
        for (; done < perThread && static_cast<double>(done) < due; ++done) {
          if (::sendto(
                  fd, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
              static_cast<ssize_t>(sizeof payload)) {
            sent.fetch_add(1, std::memory_order_relaxed);
          } else {
            errors.fetch_add(1, std::memory_order_relaxed);
          }
        }
        next += milliseconds(1);
        std::this_thread::sleep_until(next);
      }
    });
  }
  for (std::thread& t : tx) {
    t.join();
  }
  const auto sendEnd = Clock::now();
  for (int fd : fds) {
    if (fd >= 0) {
      ::close(fd);
    }
  }
  // Delivery settles: nothing new for 500 ms (at most 10 s).
  uint64_t seen = d.all.load();
  auto quietSince = Clock::now();
  for (int i = 0; i < 1000 && !gStop.load() && Clock::now() - quietSince < milliseconds(500); ++i) {
    std::this_thread::sleep_for(milliseconds(10));
    if (const uint64_t now = d.all.load(); now != seen) {
      seen = now;
      quietSince = Clock::now();
    }
  }
  b.after = counters(api);
  b.logLines = xfpd.count("net event:") - logBefore;
  (void)FwpmNetEventUnsubscribe0(h, events);
  stopRx = true;
  if (rxThread.joinable()) {
    rxThread.join();
  }
  if (rx >= 0) {
    ::close(rx);
  }
  b.sent = sent.load();
  b.sendErrors = errors.load();
  b.received = received.load();
  b.sendSeconds = std::chrono::duration<double>(sendEnd - start).count();
  const int64_t last = d.lastNs.load();
  b.deliverySeconds =
      last > 0
          ? std::chrono::duration<double>(Clock::time_point(Clock::duration(last)) - start).count()
          : 0;
  b.delivered = d.all.load();
  b.deliveredOurs = d.ours.load();
  b.ok = b.before.ok && b.after.ok;
  if (!b.ok) {
    b.error = "the counters RPC failed";
  }
}

std::string perSecond(double n, double s) {
  return s > 0 ? fmt::format("{:.0f}", n / s) : "";
}

std::string share(double part, double whole) {
  return whole > 0 ? fmt::format("{:.1f}%", 100.0 * part / whole) : "";
}

}  // namespace

int runEventsSection(const Settings& s) {
  const auto started = Clock::now();
  ServiceEnv env;
  if (std::string e = env.setUp(); !e.empty()) {
    fmt::print(stderr, "events: {}\n", e);
    return 1;
  }
  const std::string policy = env.dir() + "/policy.json";
  {
    std::ofstream out(policy);
    out << R"({"xfp_policy": 1, "filters": [{"name": "bench blocked port", "layer": )"
        << R"("INBOUND_TRANSPORT_V4", "action": "block", "conditions": [{"field": "IP_PROTOCOL", )"
        << R"("value": "udp"}, {"field": "IP_LOCAL_PORT", "value": )" << kBlockedPort << "}]}]}\n";
  }
  if (std::string e = env.writeConfig(policy, true); !e.empty()) {
    fmt::print(stderr, "events: {}\n", e);
    return 1;
  }
  XfpdChild xfpd({"xfpd ready", "net event:"});
  if (std::string e = xfpd.start(s.xfpd, {"--config", env.configPath(), "--duration", "7200"});
      !e.empty() || !xfpd.waitFor("xfpd ready", milliseconds(60000))) {
    fmt::print(stderr, "events: xfpd did not start: {}\n{}\n", e, xfpd.logExcerpt());
    return 1;
  }
  ::setenv("XFP_SOCKET", env.socket().c_str(), 1);
  HANDLE h = nullptr;
  if (DWORD rc = FwpmEngineOpen0(nullptr, RPC_C_AUTHN_WINNT, nullptr, nullptr, &h); rc != 0) {
    fmt::print(stderr, "events: FwpmEngineOpen0: 0x{:08x} {}\n", rc, XfpmLastErrorMessage());
    return 1;
  }
  std::string error;
  auto api = test::ApiSession::open(env.socket(), 0, &error);
  if (!api) {
    fmt::print(stderr, "events: control API: {}\n", error);
    (void)FwpmEngineClose0(h);
    return 1;
  }
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  // Within the budget (below 10k/s on any one CPU), then the burst of the issue (over it).
  std::vector<Burst> bursts;
  const uint32_t within = s.quick ? 2000 : 8000;
  const auto burst = [](const char* label, uint32_t datagrams, uint32_t rate) {
    Burst b;
    b.label = label;
    b.datagrams = datagrams;
    b.rate = rate;
    return b;
  };
  bursts.push_back(burst("within the budget", within * (s.quick ? 1u : 4u), within));
  bursts.push_back(
      burst("over the budget", s.quick ? 20000u : s.events, s.quick ? 20000u : s.eventRate));
  for (Burst& b : bursts) {
    if (gStop.load()) {
      break;
    }
    fmt::print(stderr, "events: {} datagrams at {}/s\n", b.datagrams, b.rate);
    runBurst(env, h, *api, xfpd, s.eventSenders, b);
    sleepFor(milliseconds(1200));  // the budget refills
  }
  api.reset();
  (void)FwpmEngineClose0(h);
  ::unsetenv("XFP_SOCKET");
  xfpd.stop(SIGTERM);

  fmt::print("\n## 3. Net events per second\n\n");
  fmt::print(
      "xfpd blocks UDP port {} at INBOUND_TRANSPORT_V4 (drop events on; the data path's budget "
      "is {} events/s per CPU, {} CPUs). {} sender threads in the other namespace send 16-byte "
      "datagrams to that port, paced per millisecond to the offered rate; a subscriber "
      "(FwpmNetEventSubscribe0, this process) counts its callbacks. emitted / suppressed / "
      "blocked: differences of the `counters` RPC over the burst (suppressed = over a CPU's "
      "budget or the ring full). delivered/s: delivered over the time from the first datagram to "
      "the last callback. xfpd log lines: single net events in xfpd's output (only with "
      "--verbose). "
      "Run time {:.0f} s.\n\n",
      kBlockedPort,
      dataplane::NetEventReader::kDefaultRate,
      cpus,
      s.eventSenders,
      msBetween(started, Clock::now()) / 1000.0);
  fmt::print(
      "| burst | datagrams sent | send s | sent/s | blocked by the data path | got through | "
      "events emitted | emitted/s | suppressed | delivered to the subscriber | delivered/s | "
      "delivered/emitted | xfpd log lines | errors |\n");
  fmt::print(
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
      "| --- |\n");
  for (const Burst& b : bursts) {
    const uint64_t emitted = b.after.emitted - b.before.emitted;
    const uint64_t suppressed = b.after.suppressed - b.before.suppressed;
    const uint64_t blocked = b.after.blocked - b.before.blocked;
    fmt::print(
        "| {} | {} | {:.2f} | {} | {} ({}) | {} | {} | {} | {} ({}) | {} | {} | {} | {} | {}{}{} "
        "|\n",
        b.label,
        b.sent,
        b.sendSeconds,
        perSecond(static_cast<double>(b.sent), b.sendSeconds),
        blocked,
        share(static_cast<double>(blocked), static_cast<double>(b.sent)),
        b.received,
        emitted,
        perSecond(static_cast<double>(emitted), b.sendSeconds),
        suppressed,
        share(static_cast<double>(suppressed), static_cast<double>(emitted + suppressed)),
        b.delivered,
        perSecond(static_cast<double>(b.delivered), b.deliverySeconds),
        share(static_cast<double>(b.delivered), static_cast<double>(emitted)),
        b.logLines,
        b.delivered != b.deliveredOurs
            ? fmt::format("{} other events; ", b.delivered - b.deliveredOurs)
            : std::string(),
        b.error,
        b.sendErrors > 0 ? fmt::format(" {} send errors", b.sendErrors) : std::string());
  }
  bool complete = true;
  for (const Burst& b : bursts) {
    complete = complete && b.ok;
  }
  return complete || gStop.load() ? 0 : 1;
}

}  // namespace xfp::bench::service
