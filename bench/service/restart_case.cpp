// Section 2: restart to enforcing. xfpd with a policy file (one UDP port blocked plus N random
// 5-tuple filters) and a pinned data path; a prober sends a datagram to the blocked and to an
// open port every millisecond from B to A throughout. Alternating, `reps` times:
//  - cold: SIGTERM with detach_on_stop (the data path is detached and unpinned), down for
//    `down`, then a new xfpd: no pins, so it loads and attaches a fresh data path;
//  - kill -9: the pinned data path stays attached, down for `down`, then a new xfpd adopts it.
// Per start: exec -> "xfpd ready" in its log, exec -> the control API answers a status request
// (and says `adopted`), exec -> the pinned xfp_gen shows the new generation (for a cold start:
// shows one at all, which xfpd pins after attaching), and over the window from the stop to 300 ms
// after ready: datagrams to the blocked port that arrived, and the longest time the open port
// went without one.
#include <signal.h>

#include <fstream>
#include <random>

#include <fmt/format.h>

#include "bench/service/filter_shapes.h"
#include "bench/service/service_cases.h"
#include "bench/service/service_env.h"

namespace xfp::bench::service {
namespace {

constexpr uint16_t kBlockedPort = 7901;
constexpr uint16_t kOpenPort = 7902;

struct StartRun {
  bool ok = false;
  std::string error;
  double readyMs = -1, apiMs = -1, genMs = -1;
  bool adopted = false;
  double lastBlockedMs = -1;  // exec -> the last blocked-port datagram that arrived
  Prober::Window w;
};

std::string writePolicy(const std::string& path, uint32_t filters) {
  std::mt19937_64 rng(7901);
  std::ofstream out(path, std::ios::trunc);
  out << R"({"xfp_policy": 1, "filters": [)"
      << "\n"
      << R"({"name": "bench blocked port", "layer": "INBOUND_TRANSPORT_V4", "action": "block", )"
      << R"("conditions": [{"field": "IP_PROTOCOL", "value": "udp"}, )"
      << R"({"field": "IP_LOCAL_PORT", "value": )" << kBlockedPort << "}]}";
  size_t i = 0;
  for (const BenchRule& r : randomFiveTuples(rng, filters)) {
    out << ",\n" << policyJson(r, fmt::format("policy {}", i++));
  }
  out << "\n]}\n";
  out.close();
  return out ? "" : "cannot write " + path;
}

StartRun measuredStart(
    const Settings& s, ServiceEnv& env, XfpdChild& xfpd, Prober& prober, Clock::time_point down) {
  StartRun run;
  const std::optional<uint64_t> gen0 = pinnedGeneration(env.pinDir());
  if (std::string e = xfpd.start(s.xfpd, {"--config", env.configPath(), "--duration", "7200"});
      !e.empty()) {
    run.error = e;
    return run;
  }
  const Clock::time_point exec = xfpd.execTime();
  std::optional<Clock::time_point> genAt;
  std::thread genPoll([&] {
    // Bounded: 60 s, 1 ms apart.
    for (int i = 0; i < 60000 && !gStop.load(); ++i) {
      const auto g = pinnedGeneration(env.pinDir());
      if (g && *g > 0 && (!gen0 || *g != *gen0)) {
        genAt = Clock::now();
        return;
      }
      std::this_thread::sleep_for(milliseconds(1));
    }
  });
  std::optional<ApiAnswer> api;
  std::thread apiPoll([&] { api = pollApi(env.socket(), milliseconds(60000)); });
  const auto ready = xfpd.waitFor("xfpd ready", milliseconds(120000));
  genPoll.join();
  apiPoll.join();
  sleepFor(milliseconds(300));
  const Clock::time_point end = Clock::now();
  run.w = prober.window(down, end);
  if (!ready) {
    run.error = gStop.load() ? "interrupted" : "xfpd did not become ready";
    fmt::print(stderr, "{}\n", xfpd.logExcerpt());
    return run;
  }
  run.readyMs = msBetween(exec, *ready);
  run.apiMs = api ? msBetween(exec, api->at) : -1;
  run.adopted = api && api->adopted;
  run.genMs = genAt ? msBetween(exec, *genAt) : -1;
  if (run.w.lastBlockedAt) {
    run.lastBlockedMs = msBetween(exec, *run.w.lastBlockedAt);
  }
  run.ok = true;
  return run;
}

struct Row {
  std::string label;
  std::vector<StartRun> runs;
};

std::string p50max(const std::vector<double>& v) {
  if (v.empty()) {
    return "";
  }
  return fmt::format("{} / {}", fixed(percentile(v, 50), 1), fixed(percentile(v, 100), 1));
}

void printRow(const Row& row, uint32_t filters, double downMs) {
  std::vector<double> ready, api, gen, gap, lastBlocked;
  uint64_t through = 0, throughMax = 0, lost = 0, sent = 0;
  int adopted = 0, ok = 0;
  std::vector<std::string> errors;
  for (const StartRun& r : row.runs) {
    if (!r.ok) {
      errors.push_back(r.error);
      continue;
    }
    ++ok;
    ready.push_back(r.readyMs);
    if (r.apiMs >= 0) {
      api.push_back(r.apiMs);
    }
    if (r.genMs >= 0) {
      gen.push_back(r.genMs);
    }
    if (r.lastBlockedMs >= 0) {
      lastBlocked.push_back(r.lastBlockedMs);
    }
    gap.push_back(r.w.longestOpenGapMs);
    through += r.w.blockedThrough;
    throughMax = std::max(throughMax, r.w.blockedThrough);
    sent += r.w.sent;
    lost += r.w.sent > r.w.openReceived ? r.w.sent - r.w.openReceived : 0;
    adopted += r.adopted ? 1 : 0;
  }
  fmt::print(
      "| {} | {} | {} | {:.0f} | {} | {} | {} | {}/{} | {} of {} (max {} per start) | {} | {} "
      "| {} of {} | {} |\n",
      row.label,
      ok,
      filters,
      downMs,
      p50max(ready),
      p50max(api),
      p50max(gen),
      adopted,
      ok,
      through,
      sent,
      throughMax,
      p50max(lastBlocked),
      p50max(gap),
      lost,
      sent,
      fmt::join(errors, "; "));
}

}  // namespace

int runRestartSection(const Settings& s) {
  const auto started = Clock::now();
  const uint32_t filters = s.quick ? std::min<uint32_t>(s.restartFilters, 1000) : s.restartFilters;
  const int reps = s.quick ? 1 : s.restartReps;
  const auto down = milliseconds(s.quick ? 300 : 1000);
  ServiceEnv env;
  if (std::string e = env.setUp(); !e.empty()) {
    fmt::print(stderr, "restart: {}\n", e);
    return 1;
  }
  const std::string policy = env.dir() + "/policy.json";
  if (std::string e = writePolicy(policy, filters); !e.empty()) {
    fmt::print(stderr, "restart: {}\n", e);
    return 1;
  }
  if (std::string e = env.writeConfig(policy, true); !e.empty()) {
    fmt::print(stderr, "restart: {}\n", e);
    return 1;
  }
  Prober prober;
  if (std::string e = prober.start(env.ns(),
                                   kBlockedPort,
                                   kOpenPort,
                                   std::chrono::microseconds(1000),
                                   std::chrono::seconds(900));
      !e.empty()) {
    fmt::print(stderr, "restart: {}\n", e);
    return 1;
  }
  XfpdChild xfpd({"xfpd ready", "adopted the pinned data path"});
  fmt::print(stderr, "restart: first start ({} filters)\n", filters + 1);
  if (std::string e = xfpd.start(s.xfpd, {"--config", env.configPath(), "--duration", "7200"});
      !e.empty() || !xfpd.waitFor("xfpd ready", milliseconds(120000))) {
    fmt::print(stderr, "restart: xfpd did not start: {}\n{}\n", e, xfpd.logExcerpt());
    return 1;
  }
  sleepFor(milliseconds(500));
  Row cold{"cold start: SIGTERM (detach_on_stop), no pins: load + attach", {}};
  Row warm{"restart after kill -9: the pinned data path adopted", {}};
  for (int r = 0; r < reps && !gStop.load(); ++r) {
    fmt::print(stderr, "restart: round {}/{}: cold\n", r + 1, reps);
    Clock::time_point t = Clock::now();
    xfpd.stop(SIGTERM);
    env.removePins();  // nothing should be left; make sure
    sleepFor(down);
    cold.runs.push_back(measuredStart(s, env, xfpd, prober, t));
    if (!cold.runs.back().ok || gStop.load()) {
      break;
    }
    fmt::print(stderr, "restart: round {}/{}: kill -9\n", r + 1, reps);
    t = Clock::now();
    xfpd.stop(SIGKILL);
    sleepFor(down);
    warm.runs.push_back(measuredStart(s, env, xfpd, prober, t));
    if (!warm.runs.back().ok) {
      break;
    }
  }
  xfpd.stop(SIGTERM);
  prober.stop();

  fmt::print("\n## 2. Restart to enforcing\n\n");
  fmt::print(
      "xfpd with a policy file of {} filters (one blocking UDP port {}, {} random 5-tuples that "
      "match no probe) at INBOUND_TRANSPORT_V4, on a veth end in its own namespace, pins and "
      "state under unique temporary paths. A prober sends one datagram to the blocked port and "
      "one to an open port ({}) every 1 ms from the other namespace throughout. Each start: xfpd "
      "was stopped (cold: SIGTERM with detach_on_stop, so nothing is attached or pinned; kill -9: "
      "the pinned data path stays), {} ms pass, then a new xfpd is exec'ed. Times from the exec; "
      "p50 / max over the starts. `data path on the new generation`: the pinned xfp_gen shows a "
      "generation other than before the exec (a cold start pins it after attaching). The traffic "
      "columns cover the stop, the time down and the start, to 300 ms after ready: `blocked "
      "through` = datagrams to the blocked port that arrived, `last blocked` = when the last of "
      "them arrived (exec = 0), `outage` = the longest time the open port received nothing. Run "
      "time {:.0f} s.\n\n",
      filters + 1,
      kBlockedPort,
      filters,
      kOpenPort,
      down.count(),
      msBetween(started, Clock::now()) / 1000.0);
  fmt::print(
      "| start | starts | policy filters | down ms | exec -> \"xfpd ready\" ms | exec -> API "
      "answers ms | exec -> data path on the new generation ms | adopted | blocked datagrams "
      "through | last blocked through, ms after exec | longest open-port outage ms | open-port "
      "datagrams lost | errors |\n");
  fmt::print(
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- "
      "|\n");
  printRow(cold, filters + 1, static_cast<double>(down.count()));
  printRow(warm, filters + 1, static_cast<double>(down.count()));
  bool complete = !cold.runs.empty() && !warm.runs.empty();
  for (const Row* row : {&cold, &warm}) {
    for (const StartRun& r : row->runs) {
      complete = complete && r.ok;
    }
  }
  return complete || gStop.load() ? 0 : 1;
}

}  // namespace xfp::bench::service
