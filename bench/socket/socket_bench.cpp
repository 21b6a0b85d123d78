// Socket-hook benchmark (root): what one TCP connect() pays for xfp's socket hooks (cgroup BPF
// programs, docs/ale.md) and for an ALE_CONNECT_REDIRECT_V4 upcall to the callout runtime, beside
// the same redirection done by nftables. A client child forked into a test cgroup and a network
// namespace makes N connect()+close() to a listener on loopback that accepts in a loop, and times
// each connect() with clock_gettime. Cases, measured in rounds that alternate between them:
//   1. baseline: a cgroup without programs;
//   2. the runtime's hooks on the cgroup, no filter at the redirect layer (no upcall);
//   3. an upcall: a static PERMIT filter at ALE_CONNECT_REDIRECT_V4 (classified in user space);
//   4. an upcall answered by an in-process callout that redirects the connection to the
//      listener's port (FwpsAcquireWritableLayerDataPointer0 / FwpsApplyModifiedLayerData0);
//   5. the peer: nftables `redirect to :port` in an output nat chain, no xfp hooks.
// Prints Markdown (bench/README.md, "bench/socket").
//
//   xfp_bench_socket [--quick] [--connects N] [--rounds R] [--warmup N] [--wait-ms MS] [--no-pin]
//   XFP_BENCH_QUICK=1 is --quick: a smoke run of a few seconds.
#include <fwpsk.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench/socket/connect_probe.h"
#include "tests/harness/callout_env.h"
#include "tests/harness/cgroup.h"
#include "tests/harness/netns.h"
#include "userspace/core/objects.h"
#include "userspace/core/policy.h"

namespace xfp::bench::sock {
namespace {

using Clock = std::chrono::steady_clock;

// Clients dial kListenPort directly (cases 1-3) or kDialPort, where nothing listens: only a
// redirection (cases 4 and 5) gets them to the listener.
constexpr uint16_t kListenPort = 7811;
constexpr uint16_t kDialPort = 7810;
// A connect() slower than this is counted in the notes.
constexpr uint64_t kSlowNs = 10'000'000;

struct Settings {
  bool quick = false;
  size_t connects = 2000;  // measured connects per case, over all rounds
  int rounds = 4;
  size_t warmup = 20;  // unmeasured connects per child
  int waitMs = 200;    // attachCgroup: how long a hook waits for the runtime's answer
  bool pin = true;     // client on CPU 0, listeners on the last CPU
};

std::atomic<bool> gStop{false};
ClientRunner* gRunner = nullptr;

void onStopSignal(int) {
  gStop.store(true);
  if (gRunner != nullptr) {
    gRunner->requestStop();
  }
}

void installStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = onStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

// ---------------------------------------------------------------------------------------------
// The redirect callout (case 4)

// {6a1f0c3d-52b8-4d9e-8b62-3e7f1e4d8c21}
constexpr GUID kRedirectKey = {
    0x6a1f0c3d, 0x52b8, 0x4d9e, {0x8b, 0x62, 0x3e, 0x7f, 0x1e, 0x4d, 0x8c, 0x21}};
constexpr const char* kRedirectText = "6a1f0c3d-52b8-4d9e-8b62-3e7f1e4d8c21";

std::atomic<uint64_t> gCalloutRedirects{0};

NTSTATUS notifyNothing(FWPS_CALLOUT_NOTIFY_TYPE, const GUID*, FWPS_FILTER1*) {
  return STATUS_SUCCESS;
}

// Sends the connection to kListenPort on the same address: what `redirect to :port` does.
void redirectClassify(const FWPS_INCOMING_VALUES0*,
                      const FWPS_INCOMING_METADATA_VALUES0*,
                      void*,
                      const void* classifyContext,
                      const FWPS_FILTER1* filter,
                      UINT64,
                      FWPS_CLASSIFY_OUT0* out) {
  if ((out->rights & FWPS_RIGHT_ACTION_WRITE) == 0) {
    return;
  }
  UINT64 handle = 0;
  if (FwpsAcquireClassifyHandle0(const_cast<void*>(classifyContext), 0, &handle) !=
      STATUS_SUCCESS) {
    out->actionType = FWP_ACTION_BLOCK;
    return;
  }
  FWPS_CONNECT_REQUEST0* req = nullptr;
  if (FwpsAcquireWritableLayerDataPointer0(
          handle, filter->filterId, 0, reinterpret_cast<PVOID*>(&req), out) == STATUS_SUCCESS) {
    reinterpret_cast<sockaddr_in*>(&req->remoteAddressAndPort)->sin_port = htons(kListenPort);
    FwpsApplyModifiedLayerData0(handle, req, 0);
    out->actionType = FWP_ACTION_PERMIT;
    gCalloutRedirects.fetch_add(1);
  } else {
    out->actionType = FWP_ACTION_BLOCK;
  }
  FwpsReleaseClassifyHandle0(handle);
}

// Both filters at ALE_CONNECT_REDIRECT_V4: connects to kListenPort are permitted by a static
// filter (case 3), connects to kDialPort go to the callout (case 4).
std::string policyJson() {
  return fmt::format(R"({{"xfp_policy": 1,
    "callouts": [{{"key": "{0}", "name": "bench redirect", "layer": "ALE_CONNECT_REDIRECT_V4"}}],
    "filters": [
      {{"name": "bench permit", "layer": "ALE_CONNECT_REDIRECT_V4", "action": "permit",
        "conditions": [{{"field": "IP_REMOTE_PORT", "value": {1}}}]}},
      {{"name": "bench redirect", "layer": "ALE_CONNECT_REDIRECT_V4",
        "action": "callout_terminating", "callout": "{0}",
        "conditions": [{{"field": "IP_REMOTE_PORT", "value": {2}}}]}}]}})",
                     kRedirectText,
                     kListenPort,
                     kDialPort);
}

// ---------------------------------------------------------------------------------------------
// Cases and their totals

struct CaseTotals {
  std::vector<uint64_t> ns;  // measured connect() latencies, all rounds
  uint64_t attempted = 0;
  uint64_t failed = 0;
  int firstErrno = 0;
  double loopSeconds = 0;
  uint64_t sockRequests = 0;
  uint64_t sockRedirected = 0;
  uint64_t calloutRedirects = 0;
  uint64_t accepted = 0;  // connections the listener of the case's namespace accepted
  std::string error;      // a child that did not run, nft missing, ...
  bool missing = false;   // not measured at all
};

struct Case {
  const char* name;
  CaseTotals t;
};

std::string describeErrno(int e) {
  return e == 0 ? std::string() : fmt::format("{} ({})", std::strerror(e), e);
}

std::string us(double ns) {
  return fmt::format("{:.1f}", ns / 1000.0);
}

void printTable(const std::vector<Case>& cases) {
  fmt::print(
      "| case | connects | failed | p50 us | p99 us | mean us | p50 - baseline us | connects/s | "
      "upcalls (sockRequests) | redirected (sockRedirected) | notes |\n");
  fmt::print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
  std::vector<uint64_t> base = cases.front().t.ns;
  std::sort(base.begin(), base.end());
  const double baseP50 = static_cast<double>(percentile(base, 0.5));
  for (const Case& c : cases) {
    const CaseTotals& t = c.t;
    if (t.missing) {
      fmt::print("| {} | | | | | | | | | | {} |\n", c.name, t.error);
      continue;
    }
    std::vector<uint64_t> s = t.ns;
    std::sort(s.begin(), s.end());
    const double mean =
        s.empty() ? 0.0
                  : static_cast<double>(std::accumulate(s.begin(), s.end(), uint64_t{0})) /
                        static_cast<double>(s.size());
    const double p50 = static_cast<double>(percentile(s, 0.5));
    std::string notes = t.error;
    if (t.failed > 0) {
      notes += fmt::format("{}{} of {} connects failed, first: {}",
                           notes.empty() ? "" : "; ",
                           t.failed,
                           t.attempted,
                           describeErrno(t.firstErrno));
    }
    // Waits far beyond the rest: an upcall answered only after a responder's 100 ms epoll
    // time-out looks like this (bench/README.md, "bench/socket").
    const auto slow =
        static_cast<size_t>(s.end() - std::upper_bound(s.begin(), s.end(), uint64_t{kSlowNs}));
    if (slow > 0) {
      notes += fmt::format("{}{} connects over {} ms (max {:.1f} ms)",
                           notes.empty() ? "" : "; ",
                           slow,
                           kSlowNs / 1000000,
                           static_cast<double>(s.back()) / 1e6);
    }
    const uint64_t reached = t.attempted - t.failed;
    if (t.accepted != reached) {
      notes += fmt::format(
          "{}listener accepted {} of {}", notes.empty() ? "" : "; ", t.accepted, reached);
    }
    fmt::print(
        "| {} | {} | {} | {} | {} | {} | {} | {:.0f} | {} | {} | {} |\n",
        c.name,
        s.size(),
        t.failed,
        s.empty() ? "" : us(p50),
        s.empty() ? "" : us(static_cast<double>(percentile(s, 0.99))),
        s.empty() ? "" : us(mean),
        s.empty() || &c == &cases.front() ? "" : fmt::format("{:+.1f}", (p50 - baseP50) / 1e3),
        t.loopSeconds > 0 ? static_cast<double>(s.size()) / t.loopSeconds : 0.0,
        t.sockRequests,
        t.sockRedirected,
        notes);
  }
}

std::string firstLineOf(const char* path, const char* prefix) {
  std::ifstream in(path);
  std::string line;
  for (int i = 0; i < 10000 && std::getline(in, line); ++i) {  // bounded
    if (line.rfind(prefix, 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? line : line.substr(colon + 2);
    }
  }
  return "unknown CPU";
}

// ---------------------------------------------------------------------------------------------

class Bench {
 public:
  explicit Bench(const Settings& s) : s_(s) {}

  int run();

 private:
  // One child's connects for case `c`, with the runtime's counters and the listener's accepts
  // around it.
  void measure(Case& c,
               test::TestCgroup& cgroup,
               const std::string& ns,
               AcceptLoop& listener,
               uint16_t port,
               size_t count);
  // Filters at the redirect layer: none (case 2) or both (cases 3 and 4); commits.
  std::string setRedirectLayer(bool withFilters);
  std::string setUpNft(const std::string& ns);

  const Settings& s_;
  int clientCpu_ = -1;
  int serverCpu_ = -1;
  // Declaration order is teardown order reversed: the runtime (env_) detaches its hooks before
  // the cgroups go, the listeners close before the namespaces go.
  test::TestCgroup plain_;
  test::TestCgroup hooked_;
  test::CalloutEnv env_;
  AcceptLoop xfpListener_;
  AcceptLoop nftListener_;
  std::unique_ptr<ClientRunner> runner_;
  std::vector<Filter> filters_;      // the two filters, to add again after case 2
  std::vector<uint64_t> filterIds_;  // their ids in the runtime's policy right now
  UINT32 calloutId_ = 0;
};

void Bench::measure(Case& c,
                    test::TestCgroup& cgroup,
                    const std::string& ns,
                    AcceptLoop& listener,
                    uint16_t port,
                    size_t count) {
  if (gStop.load() || c.t.missing) {
    return;
  }
  const callout::RuntimeStats& st = env_.runtime().stats();
  const uint64_t req0 = st.sockRequests.load();
  const uint64_t red0 = st.sockRedirected.load();
  const uint64_t cal0 = gCalloutRedirects.load();
  const uint64_t acc0 = listener.accepted();
  ClientRun r = runner_->run(cgroup, ns, port, s_.warmup, count, clientCpu_);
  // The listener's thread may still be accepting the last connections (bounded wait).
  const uint64_t reached = r.attempted - r.failed;
  for (int i = 0; i < 100 && listener.accepted() - acc0 < reached; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CaseTotals& t = c.t;
  t.ns.insert(t.ns.end(), r.connectNs.begin(), r.connectNs.end());
  t.attempted += r.attempted;
  t.failed += r.failed;
  t.firstErrno = t.firstErrno != 0 ? t.firstErrno : r.firstErrno;
  t.loopSeconds += r.loopSeconds;
  t.sockRequests += st.sockRequests.load() - req0;
  t.sockRedirected += st.sockRedirected.load() - red0;
  t.calloutRedirects += gCalloutRedirects.load() - cal0;
  t.accepted += listener.accepted() - acc0;
  if (!r.error.empty() && t.error.find(r.error) == std::string::npos) {
    t.error += (t.error.empty() ? "" : "; ") + r.error;
  }
}

std::string Bench::setRedirectLayer(bool withFilters) {
  callout::CalloutRuntime& rt = env_.runtime();
  if (withFilters && filterIds_.empty()) {
    for (Filter f : filters_) {
      f.filterId = 0;
      f.effectiveWeight = 0;
      auto id = rt.addFilter(std::move(f));
      if (!id) {
        return "add filter: " + id.error().message;
      }
      filterIds_.push_back(*id);
    }
  } else if (!withFilters) {
    for (uint64_t id : filterIds_) {
      if (auto r = rt.deleteFilter(id); !r) {
        return "delete filter: " + r.error().message;
      }
    }
    filterIds_.clear();
  }
  if (auto r = rt.commit(); !r) {
    return "commit: " + r.error().message;
  }
  return {};
}

std::string Bench::setUpNft(const std::string& ns) {
  if (test::VethNamespaces::run("command -v nft >/dev/null 2>&1") != 0) {
    return "nft not found (apt package nftables): case 5 not measured";
  }
  const std::string file = fmt::format("/tmp/xfpb-socket-{}.nft", ::getpid());
  {
    std::ofstream out(file);
    out << fmt::format(
        "table ip xfp_bench_socket {{\n"
        "  chain out {{\n"
        "    type nat hook output priority -100; policy accept;\n"
        "    ip daddr 127.0.0.1 tcp dport {} redirect to :{}\n"
        "  }}\n"
        "}}\n",
        kDialPort,
        kListenPort);
  }
  const int rc = test::VethNamespaces::run(fmt::format("ip netns exec {} nft -f {}", ns, file));
  std::remove(file.c_str());
  return rc == 0 ? "" : fmt::format("nft -f in {} failed (exit {}): case 5 not measured", ns, rc);
}

int Bench::run() {
  if (::geteuid() != 0) {
    fmt::print(stderr, "xfp_bench_socket needs root (network namespaces, cgroups, bpf())\n");
    return 2;
  }
  installStopHandlers();
  const auto start = Clock::now();
  double load[3] = {0, 0, 0};
  (void)::getloadavg(load, 3);
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (s_.pin && cpus >= 2) {
    clientCpu_ = 0;
    serverCpu_ = static_cast<int>(cpus - 1);
  }

  if (std::string e = plain_.setUp(); !e.empty()) {
    fmt::print(stderr, "cgroup: {}\n", e);
    return 1;
  }
  if (std::string e = hooked_.setUp(); !e.empty()) {
    fmt::print(stderr, "cgroup: {}\n", e);
    return 1;
  }
  callout::RuntimeOptions options;
  options.disableOffloads = false;  // nothing here crosses the veth
  if (std::string e = env_.setUp(policyJson(), options); !e.empty()) {
    fmt::print(stderr, "runtime: {}\n", e);
    return 1;
  }
  if (auto r = env_.runtime().attachCgroup(hooked_.path(), std::chrono::milliseconds(s_.waitMs));
      !r) {
    fmt::print(stderr, "attachCgroup {}: {}\n", hooked_.path(), r.error().message);
    return 1;
  }
  FWPS_CALLOUT1 callout{};
  callout.calloutKey = kRedirectKey;
  callout.classifyFn = redirectClassify;
  callout.notifyFn = notifyNothing;
  if (FwpsCalloutRegister1(nullptr, &callout, &calloutId_) != STATUS_SUCCESS) {
    fmt::print(stderr, "FwpsCalloutRegister1 failed\n");
    return 1;
  }
  env_.runtime().withPolicy([&](const Policy& p) {
    for (const auto& [id, f] : p.filters()) {
      if (f.displayData.name && f.displayData.name->rfind("bench ", 0) == 0) {
        filters_.push_back(f);
        filterIds_.push_back(id);
      }
    }
  });
  const std::string nsX = env_.ns().nsA();  // cases 1-4
  const std::string nsN = env_.ns().nsB();  // case 5
  for (const std::string& ns : {nsX, nsN}) {
    // Room for many connects in a row (TIME_WAIT); per namespace.
    (void)test::VethNamespaces::run(fmt::format(
        "ip netns exec {} sysctl -qw \"net.ipv4.ip_local_port_range=10000 65000\"", ns));
  }
  if (std::string e = xfpListener_.start(nsX, kListenPort, serverCpu_); !e.empty()) {
    fmt::print(stderr, "listener: {}\n", e);
    return 1;
  }
  if (std::string e = nftListener_.start(nsN, kListenPort, serverCpu_); !e.empty()) {
    fmt::print(stderr, "listener: {}\n", e);
    return 1;
  }
  const std::string nftError = setUpNft(nsN);
  if (!nftError.empty()) {
    fmt::print(stderr, "{}\n", nftError);
  }

  const int rounds = std::max(1, s_.rounds);
  const size_t perRound = (s_.connects + static_cast<size_t>(rounds) - 1) / rounds;
  runner_ = std::make_unique<ClientRunner>(perRound);
  if (!runner_->ok()) {
    fmt::print(stderr, "shared memory for the samples: {}\n", std::strerror(errno));
    return 1;
  }
  gRunner = runner_.get();

  std::vector<Case> cases = {
      {"1. baseline: cgroup without programs", {}},
      {"2. hooks attached, no filter at ALE_CONNECT_REDIRECT_V4 (no upcall)", {}},
      {"3. upcall, static PERMIT filter at ALE_CONNECT_REDIRECT_V4", {}},
      {"4. upcall, in-process callout redirects :7810 -> :7811", {}},
      {"5. peer: nftables output nat `redirect to :7811` (no xfp hooks)", {}},
  };
  if (!nftError.empty()) {
    cases[4].t.missing = true;
    cases[4].t.error = nftError;
  }
  std::string fatal;
  size_t left = s_.connects;
  for (int round = 0; round < rounds && left > 0 && !gStop.load() && fatal.empty(); ++round) {
    const size_t n = std::min(perRound, left);
    left -= n;
    fmt::print(stderr, "round {}/{}: {} connects per case\n", round + 1, rounds, n);
    measure(cases[0], plain_, nsX, xfpListener_, kListenPort, n);
    if (fatal = setRedirectLayer(false); !fatal.empty()) {
      break;
    }
    measure(cases[1], hooked_, nsX, xfpListener_, kListenPort, n);
    if (fatal = setRedirectLayer(true); !fatal.empty()) {
      break;
    }
    measure(cases[2], hooked_, nsX, xfpListener_, kListenPort, n);
    measure(cases[3], hooked_, nsX, xfpListener_, kDialPort, n);
    measure(cases[4], plain_, nsN, nftListener_, kDialPort, n);
  }
  gRunner = nullptr;
  xfpListener_.stop();
  nftListener_.stop();
  (void)FwpsCalloutUnregisterById0(calloutId_);

  const callout::RuntimeStats& st = env_.runtime().stats();
  utsname u{};
  ::uname(&u);
  char date[64] = {};
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  fmt::print("# xfp socket hooks: the cost of one TCP connect(), {}\n\n",
             s_.quick ? "quick smoke run" : "full run");
  fmt::print(
      "{}, {} CPUs ({}), kernel {}. A client child in a test cgroup makes {} connect()+close() "
      "per case to a listener on 127.0.0.1 in the same network namespace that accepts and closes "
      "in a loop; {} rounds alternate the cases, each child first makes {} unmeasured connects. "
      "Latency = clock_gettime around connect(); connects/s = measured connects / wall time of "
      "the measured loops (socket + connect + close). Client {}; listeners {}; the runtime's "
      "responder threads are pinned one per CPU. Hook wait {} ms. Load average at start {:.2f} "
      "(the machine is shared: read ranges, not points).\n\n",
      date,
      cpus,
      firstLineOf("/proc/cpuinfo", "model name"),
      u.release,
      s_.connects,
      rounds,
      s_.warmup,
      clientCpu_ < 0 ? std::string("not pinned") : fmt::format("on CPU {}", clientCpu_),
      serverCpu_ < 0 ? std::string("not pinned") : fmt::format("on CPU {}", serverCpu_),
      s_.waitMs,
      load[0]);
  printTable(cases);
  const CaseTotals& c4 = cases[3].t;
  fmt::print(
      "\nRuntimeStats over the run: sockRequests {}, sockRedirected {}, sockEvents {}, sockLate {} "
      "(answers ready after the call gave up) (case 3: {} "
      "upcalls for {} connects; case 4: {} upcalls, {} redirected for {} connects, warm-up "
      "included).\n",
      st.sockRequests.load(),
      st.sockRedirected.load(),
      st.sockEvents.load(),
      st.sockLate.load(),
      cases[2].t.sockRequests,
      cases[2].t.attempted,
      c4.sockRequests,
      c4.sockRedirected,
      c4.attempted);
  const xfp_sock_stats hs = env_.runtime().socketHookStats();
  fmt::print(
      "Socket hooks over the run: upcalls {}, answered in time {}, timed out {} (EPERM), busy {} "
      "(EAGAIN), no runtime {} (EPERM).\n",
      hs.upcalls,
      hs.answered,
      hs.timed_out,
      hs.busy,
      hs.no_runtime);
  fmt::print("\nTotal run time {:.1f} s.\n",
             std::chrono::duration<double>(Clock::now() - start).count());

  if (!fatal.empty()) {
    fmt::print(stderr, "error: {}\n", fatal);
    return 1;
  }
  if (gStop.load()) {
    return 130;
  }
  if (c4.attempted == 0 || c4.failed != 0 || c4.sockRedirected != c4.attempted ||
      c4.calloutRedirects != c4.attempted) {
    fmt::print(stderr,
               "error: case 4 did not redirect every connect: {} connects, {} failed, "
               "sockRedirected {}, callout redirects {}\n",
               c4.attempted,
               c4.failed,
               c4.sockRedirected,
               c4.calloutRedirects);
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace xfp::bench::sock

int main(int argc, char** argv) {
  xfp::bench::sock::Settings s;
  const char* quickEnv = std::getenv("XFP_BENCH_QUICK");
  s.quick = quickEnv != nullptr && std::strcmp(quickEnv, "0") != 0 && *quickEnv != '\0';
  bool connectsSet = false, roundsSet = false, warmupSet = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--quick") {
      s.quick = true;
    } else if (a == "--connects" && (v = next()) != nullptr) {
      s.connects = static_cast<size_t>(std::clamp(std::atol(v), 1L, 200000L));
      connectsSet = true;
    } else if (a == "--rounds" && (v = next()) != nullptr) {
      s.rounds = std::clamp(std::atoi(v), 1, 100);
      roundsSet = true;
    } else if (a == "--warmup" && (v = next()) != nullptr) {
      s.warmup = static_cast<size_t>(std::clamp(std::atol(v), 0L, 10000L));
      warmupSet = true;
    } else if (a == "--wait-ms" && (v = next()) != nullptr) {
      s.waitMs = std::clamp(std::atoi(v), 1, 5000);
    } else if (a == "--no-pin") {
      s.pin = false;
    } else {
      fmt::print(stderr,
                 "usage: {} [--quick] [--connects N] [--rounds R] [--warmup N] [--wait-ms MS] "
                 "[--no-pin]\n",
                 argv[0]);
      return 2;
    }
  }
  if (s.quick) {
    s.connects = connectsSet ? s.connects : 200;
    s.rounds = roundsSet ? s.rounds : 2;
    s.warmup = warmupSet ? s.warmup : 5;
  }
  return xfp::bench::sock::Bench(s).run();
}
