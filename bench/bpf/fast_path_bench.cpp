// Fast-path benchmark (root): the kernel-measured cost per packet of xfp_xdp_in under
// BPF_PROG_TEST_RUN, cold (flow cache off: every run walks the compiled tree) and warm (flow cache
// on: repeated runs of one packet hit it), beside an empty XDP program measured in the same run,
// for ClassBench acl1/fw1/ipc1, an address blocklist and random mixed policies of 1 to 100k
// filters. Also: compile time, compiled size, full-commit latency and the latency of adding one
// filter (a full recompile and commit today). Prints Markdown tables (bench/README.md).
//
//   xfp_bench_fast_path [--quick] [--repeat N] [--packets N]
//   XFP_BENCH_QUICK=1 is --quick: a tiny subset for CI smoke (< 30 s).
// Wall time is dominated by a fixed cost of ~16 ms per BPF_PROG_TEST_RUN call with repeat > 1
// (shared/baselines.md), not by the runs: mind the number of calls (packets x 3 modes x trials).
#include <sched.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "compiler/compiler.h"
#include "tests/harness/classbench.h"
#include "tests/harness/packet_builder.h"
#include "tests/harness/random_policy.h"
#include "tests/harness/test_env.h"
#include "userspace/core/layers.h"
#include "userspace/core/policy.h"
#include "userspace/dataplane/fast_path.h"
#include "userspace/dataplane/prog_test_run.h"
#include "xfp_empty.skel.h"

namespace xfp::bench {
namespace {

using Clock = std::chrono::steady_clock;
using dataplane::FastPath;
using test::Bytes;

double msSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Settings {
  bool quick = false;
  uint32_t repeat = 10000;  // runs per test-run call (the kernel reports the mean)
  uint32_t packets = 32;    // distinct packets per case
};

// One benchmark case: a policy, the layer slot its filters live at and the packets to run.
struct Case {
  std::string shape;
  uint32_t filters = 0;  // nominal size (the row label)
  Policy policy;
  int slot = XFP_LS_IN_TR4;
  std::vector<Bytes> frames;
  std::string error;                    // set: the case could not be built
  std::function<void(Policy&)> addOne;  // adds one more filter (incremental commit)
};

struct Row {
  std::string shape;
  uint32_t filters = 0;
  std::string error;  // "not compiled: ..." etc.
  double compileMs = 0;
  compiler::LayerStats stats;
  uint64_t bytes = 0;
  double commitMs = 0, writeMs = 0, graceMs = 0;
  double coldNs = 0, warmNs = 0, emptyNs = 0;
  uint32_t dropped = 0, frames = 0;
};

struct IncrementalRow {
  std::string shape;
  uint32_t filters = 0;
  std::string error;
  double compileMs = 0, writeMs = 0, graceMs = 0, wallMs = 0;
};

// 60+ bytes on the wire before the FCS, like a minimal frame.
Bytes v4Frame(uint32_t src, uint32_t dst, uint8_t proto, uint16_t sport, uint16_t dport) {
  return test::ipv4Frame(src, dst, proto, sport, dport, 18);
}

// A /32 BLOCK at `layerName` on IP_REMOTE_ADDRESS.
Filter blockRemote(const LayerInfo& layer, uint32_t addr, uint64_t weight) {
  Filter f;
  f.displayData.name = fmt::format("block {:08x}", addr);
  f.layerKey = layer.key;
  f.weight = Value::uint64(weight);
  f.action.type = ActionType::Block;
  f.conditions.push_back({layer.fieldByName("IP_REMOTE_ADDRESS")->conditionKey,
                          MatchType::Equal,
                          Value::uint32(addr)});
  return f;
}

Case classBenchCase(const std::string& name, uint32_t nominal, const Settings& s) {
  Case c;
  c.shape = "ClassBench " + name.substr(0, name.find('_'));
  c.filters = nominal;
  c.slot = XFP_LS_IN_TR4;
  const std::string dir = test::classbenchDir() + "/wustl-hs1/";
  std::string err;
  auto rules = test::loadClassBenchRules(dir + name, &err);
  if (!rules) {
    c.error = "rules not loaded: " + err;
    return c;
  }
  auto trace = test::loadClassBenchTrace(dir + name + "_trace", true, &err);
  if (!trace || trace->empty()) {
    c.error = "trace not loaded: " + err;
    return c;
  }
  c.filters = static_cast<uint32_t>(rules->size());
  test::addClassBenchFilters(c.policy, *rules);
  // `packets` distinct 5-tuples spread evenly over the trace.
  std::set<std::tuple<uint32_t, uint32_t, uint16_t, uint16_t, uint8_t>> seen;
  const size_t stride = std::max<size_t>(1, trace->size() / (s.packets * 2));
  for (size_t i = 0; i < trace->size() && c.frames.size() < s.packets; i += stride) {
    const test::ClassBenchPacket& p = (*trace)[i];
    if (seen.insert({p.src, p.dst, p.sport, p.dport, p.proto}).second) {
      c.frames.push_back(v4Frame(p.src, p.dst, p.proto, p.sport, p.dport));
    }
  }
  const LayerInfo& layer = *layerByName("INBOUND_TRANSPORT_V4");
  c.addOne = [&layer](Policy& p) { p.addFilter(blockRemote(layer, 0xC6336401, 1u << 30)); };
  return c;
}

// N distinct /32 remote addresses blocked at INBOUND_IPPACKET_V4; half the packets come from a
// blocked address, half from one that is not.
Case blocklistCase(uint32_t n, const Settings& s) {
  Case c;
  c.shape = "blocklist /32";
  c.filters = n;
  c.slot = XFP_LS_IN_IP4;
  std::mt19937_64 rng(0xB10C + n);
  std::uniform_int_distribution<uint32_t> any(0x01000000, 0xDFFFFFFF);
  std::set<uint32_t> blocked;
  std::vector<uint32_t> list;
  while (list.size() < n) {
    const uint32_t a = any(rng);
    if (blocked.insert(a).second) {
      list.push_back(a);
    }
  }
  const LayerInfo& layer = *layerByName("INBOUND_IPPACKET_V4");
  for (uint32_t i = 0; i < n; ++i) {
    c.policy.addFilter(blockRemote(layer, list[i], i));
  }
  for (uint32_t i = 0; i < s.packets; ++i) {
    uint32_t src = 0;
    if (i % 2 == 0) {
      src = list[std::uniform_int_distribution<size_t>(0, list.size() - 1)(rng)];
    } else {
      do {
        src = any(rng);
      } while (blocked.count(src) != 0);
    }
    c.frames.push_back(v4Frame(src, 0x0A000002, 17, static_cast<uint16_t>(1024 + i), 53));
  }
  c.addOne = [&layer](Policy& p) { p.addFilter(blockRemote(layer, 0x00000001, 1u << 30)); };
  return c;
}

// tests/harness/random_policy at INBOUND_TRANSPORT_V4, no callouts; packets from the same value
// pools (inbound IPv4 TCP/UDP/ICMP) so they land on the filters' edges.
Case randomCase(uint32_t n, const Settings& s) {
  Case c;
  c.shape = "random mixed";
  c.filters = n;
  c.slot = XFP_LS_IN_TR4;
  std::mt19937_64 rng(0x5EED + n);
  test::RandomPolicyOptions o;
  o.filters = n;
  o.callouts = false;
  o.layerSlots = {XFP_LS_IN_TR4};
  c.policy = test::randomPolicy(rng, o, nullptr);
  const std::vector<uint32_t> v4 = {0x0A000001,
                                    0x0A000002,
                                    0x0A010203,
                                    0x0AFF0001,
                                    0xC0A80101,
                                    0xC0000207,
                                    0x7F000001,
                                    0x0B000001};
  const std::vector<uint16_t> ports = {
      0, 1, 22, 23, 53, 80, 443, 999, 1000, 1023, 1024, 2000, 8080, 32768, 65534, 65535};
  const std::vector<uint8_t> protos = {6, 17, 6, 17, 1};
  auto pick = [&rng](const auto& v) {
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
  };
  for (uint32_t i = 0; i < s.packets; ++i) {
    c.frames.push_back(v4Frame(pick(v4), pick(v4), pick(protos), pick(ports), pick(ports)));
  }
  const LayerInfo& layer = *layerByName("INBOUND_TRANSPORT_V4");
  c.addOne = [&layer](Policy& p) { p.addFilter(blockRemote(layer, 0xC6336401, 1u << 30)); };
  return c;
}

uint64_t compiledBytes(const compiler::CompiledPolicy& cp) {
  // What one generation half of the maps holds (a candidate is an 8-byte xfp_cand there).
  return cp.nodes.size() * sizeof(xfp_node) + cp.cands.size() * sizeof(xfp_cand) +
         cp.boxes.size() * sizeof(xfp_box) + cp.filters.size() * sizeof(xfp_filter);
}

class Bench {
 public:
  static constexpr int kTrials = 3;

  Bench(Settings s, std::unique_ptr<FastPath> fp, int emptyFd)
      : s_(s), fp_(std::move(fp)), emptyFd_(emptyFd) {}

  // Kernel ns per run of one frame: the best of `kTrials` test runs of `repeat` runs each (the
  // kernel reports each run's mean; the minimum sheds interference from other processes).
  std::optional<double> measureOne(int fd, const Bytes& frame, uint32_t* retval, std::string* err) {
    uint32_t best = UINT32_MAX;
    for (int t = 0; t < kTrials; ++t) {
      dataplane::TestRunOptions o;
      o.repeat = s_.repeat;
      auto r = dataplane::progTestRun(fd, frame, o);
      if (!r) {
        *err = "test run: " + r.error().describe();
        return std::nullopt;
      }
      best = std::min(best, r->durationNs);
      *retval = r->retval;
    }
    return best;
  }

  // Per frame, in turn: cold (flow cache off), warm (on), empty program, so the three modes
  // share whatever else the machine is doing; returns false with `err` on failure.
  bool measure(const std::vector<Bytes>& frames, Row& row, std::string* err) {
    double cold = 0, warm = 0, empty = 0;
    for (const Bytes& f : frames) {
      uint32_t ret = 0;
      if (auto fc = fp_->setFlowCache(false); !fc) {
        *err = "setFlowCache: " + fc.error().describe();
        return false;
      }
      auto c = measureOne(fp_->xdpProgFd(), f, &ret, err);
      if (!c) {
        return false;
      }
      row.dropped += ret == XDP_DROP ? 1 : 0;
      if (auto fc = fp_->setFlowCache(true); !fc) {
        *err = "setFlowCache: " + fc.error().describe();
        return false;
      }
      auto w = measureOne(fp_->xdpProgFd(), f, &ret, err);
      auto e = w ? measureOne(emptyFd_, f, &ret, err) : std::nullopt;
      if (!e) {
        return false;
      }
      cold += *c;
      warm += *w;
      empty += *e;
    }
    const double n = static_cast<double>(frames.size());
    row.coldNs = cold / n;
    row.warmNs = warm / n;
    row.emptyNs = empty / n;
    return true;
  }

  void run(Case c, bool incremental) {
    Row row;
    row.shape = c.shape;
    row.filters = c.filters;
    if (!c.error.empty()) {
      row.error = c.error;
      rows_.push_back(row);
      return;
    }
    fmt::print(stderr, "{} {}: compiling\n", c.shape, c.filters);
    auto t0 = Clock::now();
    auto compiled = compiler::compile(c.policy);
    row.compileMs = msSince(t0);
    if (!compiled) {
      row.error = "not compiled: " + compiled.error().message;
      rows_.push_back(row);
      return;
    }
    row.stats = compiled->stats[c.slot];
    row.bytes = compiledBytes(*compiled);
    t0 = Clock::now();
    auto commit = fp_->commit(*compiled);
    row.commitMs = msSince(t0);
    if (!commit) {
      row.error = "not committed: " + commit.error().describe();
      rows_.push_back(row);
      return;
    }
    row.writeMs = commit->writeMs;
    row.graceMs = commit->graceMs;
    row.frames = static_cast<uint32_t>(c.frames.size());
    fmt::print(
        stderr, "{} {}: running {} packets x {}\n", c.shape, c.filters, row.frames, s_.repeat);
    std::string err;
    if (!measure(c.frames, row, &err)) {
      row.error = err;
      rows_.push_back(row);
      return;
    }
    rows_.push_back(row);

    if (incremental && c.addOne) {
      IncrementalRow inc;
      inc.shape = c.shape;
      inc.filters = c.filters;
      c.addOne(c.policy);
      t0 = Clock::now();
      auto again = compiler::compile(c.policy);
      inc.compileMs = msSince(t0);
      if (!again) {
        inc.error = "not compiled: " + again.error().message;
      } else if (auto cm = fp_->commit(*again); !cm) {
        inc.error = "not committed: " + cm.error().describe();
      } else {
        inc.writeMs = cm->writeMs;
        inc.graceMs = cm->graceMs;
      }
      inc.wallMs = msSince(t0);
      incs_.push_back(inc);
    }
  }

  void print() const {
    fmt::print(
        "## Per-packet cost (BPF_PROG_TEST_RUN: per packet the best of {} calls of {} runs; "
        "mean over the packets)\n\n",
        kTrials,
        s_.repeat);
    fmt::print(
        "| shape | filters | compile ms | nodes | depth | cold ns | warm ns | empty ns | "
        "cold/empty | warm/empty |\n");
    fmt::print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (const Row& r : rows_) {
      if (!r.error.empty() && r.frames == 0 && r.compileMs == 0) {
        fmt::print("| {} | {} | | | | | | | | {} |\n", r.shape, r.filters, r.error);
      } else if (!r.error.empty() && r.frames == 0) {
        fmt::print(
            "| {} | {} | {:.1f} | | | | | | | {} |\n", r.shape, r.filters, r.compileMs, r.error);
      } else if (!r.error.empty()) {
        fmt::print("| {} | {} | {:.1f} | {} | {} | | | | | {} |\n",
                   r.shape,
                   r.filters,
                   r.compileMs,
                   r.stats.nodes,
                   r.stats.maxDepth,
                   r.error);
      } else {
        fmt::print("| {} | {} | {:.1f} | {} | {} | {:.1f} | {:.1f} | {:.1f} | {:.2f} | {:.2f} |\n",
                   r.shape,
                   r.filters,
                   r.compileMs,
                   r.stats.nodes,
                   r.stats.maxDepth,
                   r.coldNs,
                   r.warmNs,
                   r.emptyNs,
                   r.coldNs / r.emptyNs,
                   r.warmNs / r.emptyNs);
      }
    }
    fmt::print(
        "\n## Compiled policy and full commit\n\n"
        "Tree figures are the shape's layer slot (compiled filters: those left after pruning); "
        "bytes = nodes + candidates + boxes + filters "
        "as written into one generation half. Commit = FastPath::commit wall time (write of the "
        "inactive half + RCU grace wait + "
        "other: zeroing the counter slots released by the previous commit, one bpf() update per "
        "slot, counted in neither graceMs nor writeMs; each case is a new Policy whose filter ids "
        "restart at 1, so slots are released when a case has fewer filters than the one before). "
        "Dropped = packets XDP_DROPped (cold pass).\n\n");
    fmt::print(
        "| shape | filters | compiled filters | boxes | leaves | max leaf | long leaves | leaf "
        "entries | bytes | commit ms | write ms | grace ms | other ms | dropped |\n");
    fmt::print(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| "
        "---: |\n");
    for (const Row& r : rows_) {
      if (r.stats.nodes == 0) {
        continue;
      }
      fmt::print(
          "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2f} | {:.2f} | {:.2f} | {:.2f} | "
          "{}/{} "
          "|\n",
          r.shape,
          r.filters,
          r.stats.filters,
          r.stats.boxes,
          r.stats.leaves,
          r.stats.maxLeafCandidates,
          r.stats.longLeaves,
          r.stats.candidateEntries,
          r.bytes,
          r.commitMs,
          r.writeMs,
          r.graceMs,
          r.commitMs - r.writeMs - r.graceMs,
          r.dropped,
          r.frames);
    }
    if (incs_.empty()) {
      return;
    }
    fmt::print(
        "\n## Adding one filter (compile + commit wall time)\n\n"
        "There is no incremental update yet: adding one filter recompiles the whole policy and "
        "rewrites the inactive half.\n\n");
    fmt::print("| shape | filters before | compile ms | write ms | grace ms | total ms |\n");
    fmt::print("| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (const IncrementalRow& r : incs_) {
      if (!r.error.empty()) {
        fmt::print("| {} | {} | {:.1f} | | | {} |\n", r.shape, r.filters, r.compileMs, r.error);
      } else {
        fmt::print("| {} | {} | {:.1f} | {:.2f} | {:.2f} | {:.1f} |\n",
                   r.shape,
                   r.filters,
                   r.compileMs,
                   r.writeMs,
                   r.graceMs,
                   r.wallMs);
      }
    }
  }

 private:
  Settings s_;
  std::unique_ptr<FastPath> fp_;
  int emptyFd_;
  std::vector<Row> rows_;
  std::vector<IncrementalRow> incs_;
};

int benchMain(int argc, char** argv) {
  Settings s;
  const char* quickEnv = std::getenv("XFP_BENCH_QUICK");
  s.quick = quickEnv != nullptr && std::strcmp(quickEnv, "0") != 0 && *quickEnv != '\0';
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      s.quick = true;
    } else if (a == "--repeat" && i + 1 < argc) {
      s.repeat = static_cast<uint32_t>(std::stoul(argv[++i]));
    } else if (a == "--packets" && i + 1 < argc) {
      s.packets = std::max<uint32_t>(2, static_cast<uint32_t>(std::stoul(argv[++i])));
    } else {
      fmt::print(stderr, "usage: {} [--quick] [--repeat N] [--packets N]\n", argv[0]);
      return 2;
    }
  }
  if (s.quick) {
    s.repeat = std::min<uint32_t>(s.repeat, 2000);
    s.packets = std::min<uint32_t>(s.packets, 8);
  }
  if (geteuid() != 0) {
    fmt::print(stderr, "xfp_bench_fast_path needs root (bpf(), BPF_PROG_TEST_RUN)\n");
    return 1;
  }
  const auto start = Clock::now();
  const int cpu = test::pinToCurrentCpu();

  xfp_empty* empty = xfp_empty__open_and_load();
  if (empty == nullptr) {
    fmt::print(stderr, "loading xfp_empty: {}\n", std::strerror(errno));
    return 1;
  }
  dataplane::FastPathOptions caps;
  if (!s.quick) {
    caps.nodes = 1u << 21;
    caps.cands = 1u << 22;
    caps.boxes = 1u << 19;
    caps.filters = 1u << 17;
  }
  auto t0 = Clock::now();
  auto fp = FastPath::load(caps);
  if (!fp) {
    fmt::print(stderr, "FastPath::load: {}\n", fp.error().describe());
    xfp_empty__destroy(empty);
    return 1;
  }
  const double loadMs = msSince(t0);
  Bench bench(s, std::move(*fp), bpf_program__fd(empty->progs.xfp_empty_prog));

  auto incremental = [](uint32_t n) { return n == 1000 || n == 10000 || n == 100000; };
  if (s.quick) {
    bench.run(blocklistCase(1, s), false);
    bench.run(blocklistCase(1000, s), true);
    bench.run(classBenchCase("acl1_100", 100, s), false);
    bench.run(randomCase(100, s), false);
  } else {
    for (const char* set : {"acl1", "fw1", "ipc1"}) {
      for (const auto& [suffix, n] : std::vector<std::pair<std::string, uint32_t>>{
               {"100", 100}, {"1K", 1000}, {"5K", 5000}, {"10K", 10000}}) {
        bench.run(classBenchCase(std::string(set) + "_" + suffix, n, s), incremental(n));
      }
    }
    for (uint32_t n : {1u, 100u, 1000u, 10000u, 100000u}) {
      bench.run(blocklistCase(n, s), incremental(n));
    }
    for (uint32_t n : {1u, 100u, 1000u, 10000u, 100000u}) {
      bench.run(randomCase(n, s), incremental(n));
    }
  }

  fmt::print("# xfp fast path, {}\n\n", s.quick ? "quick smoke subset" : "full run");
  fmt::print(
      "CPU {} of {}, pinned; FastPath::load (verifier, maps of {} nodes / {} cands / {} boxes / "
      "{} filters per half) {:.0f} ms.\n"
      "cold = flow cache off (every run walks the tree); warm = flow cache on (one packet "
      "repeated: a cache hit after the first run); empty = an XDP program returning XDP_PASS on "
      "the same packets.\n\n",
      cpu,
      sysconf(_SC_NPROCESSORS_ONLN),
      caps.nodes,
      caps.cands,
      caps.boxes,
      caps.filters,
      loadMs);
  bench.print();
  fmt::print("\nTotal run time {:.1f} s.\n", msSince(start) / 1000);
  xfp_empty__destroy(empty);
  return 0;
}

}  // namespace
}  // namespace xfp::bench

int main(int argc, char** argv) {
  return xfp::bench::benchMain(argc, argv);
}
