// Service benchmark (root): xfpd as a running service, measured from outside the way its clients
// and its operators meet it (bench/README.md, "Service"):
//   1. commit latency through the FWPM C API (one filter; one transaction of many) with 1k, 10k
//      and 100k filters committed, beside nftables with the same rules;
//   2. restart to enforcing: a cold start against a restart after kill -9 that adopts the pinned
//      data path, under a 1 ms prober (what got through, how long the open port went dark);
//   3. net events per second to an FwpmNetEventSubscribe0 subscriber, against the per-CPU budget.
// Everything runs in namespaces, pins and directories of its own, removed on every exit.
//
//   xfp_bench_service [--quick] [--only commit|restart|events] [--xfpd PATH] [--sizes N,N..]
//                     [--classbench SET,SET..|none] [--reps N] [--restart-reps N]
//                     [--restart-filters N] [--events N]
//                     [--event-rate R] [--senders N]
//   XFP_BENCH_QUICK=1 is --quick: a small version of every section (CI smoke run, < 1 minute).
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "bench/service/service_cases.h"
#include "bench/service/service_env.h"
#include "tests/harness/test_env.h"

namespace xfp::bench::service {

std::string fixed(double v, int decimals) {
  return fmt::format("{:.{}f}", v, decimals);
}

namespace {

std::vector<std::string> splitList(const char* text) {
  std::vector<std::string> out;
  std::string cur;
  for (const char* p = text; *p != 0; ++p) {
    if (*p == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(*p);
    }
  }
  out.push_back(cur);
  return out;
}

int run(const Settings& s) {
  if (::geteuid() != 0) {
    fmt::print(stderr,
               "xfp_bench_service needs root (network namespaces, bpf(), xfpd, nftables)\n");
    return 2;
  }
  if (::access(s.xfpd.c_str(), X_OK) != 0) {
    fmt::print(
        stderr, "xfpd not found at {} (build the xfpd target, or pass --xfpd PATH)\n", s.xfpd);
    return 2;
  }
  installStopHandlers();
  const auto start = Clock::now();
  double load[3] = {0, 0, 0};
  (void)::getloadavg(load, 3);
  fmt::print("# xfp service benchmark, {}\n\n", s.quick ? "quick smoke subset" : "full run");
  fmt::print(
      "xfpd: {}. CPUs: {}. Load average at start {:.2f} (other work on the machine skews "
      "every figure; compare ratios measured in one run).\n",
      s.xfpd,
      ::sysconf(_SC_NPROCESSORS_ONLN),
      load[0]);
  std::fflush(stdout);
  int status = 0;
  const struct {
    const char* name;
    int (*fn)(const Settings&);
  } sections[] = {
      {"commit", runCommitSection}, {"restart", runRestartSection}, {"events", runEventsSection}};
  for (const auto& section : sections) {
    if (gStop.load()) {
      break;
    }
    if (!s.only.empty() && s.only != section.name) {
      continue;
    }
    if (section.fn(s) != 0) {
      fmt::print("\n({} section: could not run, see stderr)\n", section.name);
      status = 1;
    }
    std::fflush(stdout);
  }
  fmt::print("\nTotal run time {:.1f} s.\n", msBetween(start, Clock::now()) / 1000.0);
  return gStop.load() ? 130 : status;
}

}  // namespace
}  // namespace xfp::bench::service

int main(int argc, char** argv) {
  using xfp::bench::service::Settings;
  using xfp::bench::service::splitList;
  Settings s;
  const char* quickEnv = std::getenv("XFP_BENCH_QUICK");
  s.quick = quickEnv != nullptr && std::strcmp(quickEnv, "0") != 0 && *quickEnv != '\0';
  s.xfpd = xfp::test::binaryDir() + "/userspace/daemon/xfpd";
  s.classbenchDir = xfp::test::classbenchDir();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--quick") {
      s.quick = true;
    } else if (a == "--only" && (v = next()) != nullptr &&
               (std::strcmp(v, "commit") == 0 || std::strcmp(v, "restart") == 0 ||
                std::strcmp(v, "events") == 0)) {
      s.only = v;
    } else if (a == "--xfpd" && (v = next()) != nullptr) {
      s.xfpd = v;
    } else if (a == "--sizes" && (v = next()) != nullptr) {
      for (const std::string& n : splitList(v)) {
        s.sizes.push_back(static_cast<uint32_t>(std::clamp(std::atol(n.c_str()), 1L, 1000000L)));
      }
    } else if (a == "--classbench" && (v = next()) != nullptr) {
      s.classbench = splitList(v);
    } else if (a == "--reps" && (v = next()) != nullptr) {
      s.reps = std::clamp(std::atoi(v), 1, 1000);
    } else if (a == "--restart-reps" && (v = next()) != nullptr) {
      s.restartReps = std::clamp(std::atoi(v), 1, 100);
    } else if (a == "--restart-filters" && (v = next()) != nullptr) {
      s.restartFilters = static_cast<uint32_t>(std::clamp(std::atol(v), 0L, 200000L));
    } else if (a == "--events" && (v = next()) != nullptr) {
      s.events = static_cast<uint32_t>(std::clamp(std::atol(v), 1000L, 5000000L));
    } else if (a == "--event-rate" && (v = next()) != nullptr) {
      s.eventRate = static_cast<uint32_t>(std::clamp(std::atol(v), 1000L, 2000000L));
    } else if (a == "--senders" && (v = next()) != nullptr) {
      s.eventSenders = std::clamp(std::atoi(v), 1, 16);
    } else {
      fmt::print(stderr,
                 "usage: {} [--quick] [--only commit|restart|events] [--xfpd PATH] "
                 "[--sizes N,N..] [--classbench SET,SET..|none] [--reps N] [--restart-reps N] "
                 "[--restart-filters N] "
                 "[--events N] [--event-rate R] [--senders N]\n",
                 argv[0]);
      return 2;
    }
  }
  return xfp::bench::service::run(s);
}
