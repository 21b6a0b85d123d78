// xfp-enforce: loads a policy file into the fast path and enforces it on one interface (XDP for
// the inbound layers, tc egress for the outbound ones) until a signal or --duration, then prints
// the per-filter counters and per-layer verdicts. It hosts the callout runtime: packets a callout
// must decide are punted to it, and --plugin loads callout plugins (.so, docs/plugin-guide.md).
// The forerunner of xfpd (issue 5), used by tools/demo in its own network namespaces.
// Exit status: 0 done, 2 bad command line, 3 policy error, 4 plugin error, 5 kernel (load/attach)
// error.
#include <arpa/inet.h>
#include <net/if.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "compiler/fast_path_fields.h"
#include "userspace/callout/plugin_host.h"
#include "userspace/callout/runtime.h"
#include "userspace/core/policy_file.h"
#include "userspace/dataplane/fast_path.h"
#include "userspace/dataplane/net_events.h"

namespace {

std::atomic<bool> gStop{false};

void onSignal(int) {
  gStop = true;
}

// "udp 10.0.0.1:4000 -> 10.0.0.2:53 (in)" for a net event.
std::string describeFlow(const xfp_net_event& e) {
  const bool v6 = (e.flags & XFP_PKT_F_IPV6) != 0;
  char src[INET6_ADDRSTRLEN] = "?";
  char dst[INET6_ADDRSTRLEN] = "?";
  inet_ntop(v6 ? AF_INET6 : AF_INET, e.src_addr, src, sizeof src);
  inet_ntop(v6 ? AF_INET6 : AF_INET, e.dst_addr, dst, sizeof dst);
  const char* proto = e.ip_proto == 6    ? "tcp"
                      : e.ip_proto == 17 ? "udp"
                      : e.ip_proto == 1  ? "icmp"
                      : e.ip_proto == 58 ? "icmpv6"
                                         : "ip";
  return fmt::format("{} {}:{} -> {}:{} ({})",
                     proto,
                     src,
                     e.src_port,
                     dst,
                     e.dst_port,
                     e.inbound != 0 ? "in" : "out");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xfp-enforce: enforce a WFP policy file on one interface with the xfp fast path"};
  std::string policyPath;
  std::string interface;
  double duration = 0;
  std::string pinDir;
  std::vector<std::string> plugins;
  unsigned workers = 2;
  double pendTimeout = 30;
  app.add_option("--policy", policyPath, "policy file (JSON)")->required();
  app.add_option("--plugin",
                 plugins,
                 "callout plugin to load: PATH or PATH=PARAMETERS (DRIVER_OBJECT.XfpParameters)");
  app.add_option("--workers", workers, "callout classify threads (0: the I/O thread)")
      ->check(CLI::Range(0, 64));
  app.add_option("--pend-timeout", pendTimeout, "seconds before a pended classify is blocked")
      ->check(CLI::PositiveNumber);
  bool events = false;
  app.add_flag("--events", events, "print a net event for every dropped packet (rate-limited)");
  app.add_option("--interface", interface, "interface to attach to (XDP + tc egress)")->required();
  app.add_option("--duration", duration, "seconds to enforce (0: until SIGINT/SIGTERM)");
  app.add_option("--pin", pinDir, "pin maps and programs under this bpffs directory");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return e.get_exit_code() == 0 ? app.exit(e) : (app.exit(e), 2);
  }
  auto policy = xfp::loadPolicyFile(policyPath);
  if (!policy) {
    std::cerr << "xfp-enforce: " << policy.error().message << "\n";
    return 3;
  }
  const unsigned ifindex = if_nametoindex(interface.c_str());
  if (ifindex == 0) {
    std::cerr << "xfp-enforce: no interface \"" << interface << "\" in this network namespace\n";
    return 2;
  }
  auto fp = xfp::dataplane::FastPath::load();
  if (!fp) {
    std::cerr << "xfp-enforce: " << fp.error().describe() << "\n";
    return 5;
  }
  // The runtime compiles and commits the policy: it is in the maps before the programs see a
  // packet, so there is no window without it.
  const size_t filters = policy->filters().size();
  xfp::callout::RuntimeOptions options;
  options.workers = workers;
  options.pendTimeout = std::chrono::milliseconds(static_cast<int64_t>(pendTimeout * 1000));
  auto runtime = xfp::callout::CalloutRuntime::create(**fp, std::move(*policy), options);
  if (!runtime) {
    std::cerr << "xfp-enforce: " << policyPath << ": " << runtime.error().message << "\n";
    return 3;
  }
  for (auto r :
       {(*fp)->attachXdp(static_cast<int>(ifindex)), (*fp)->attachTc(static_cast<int>(ifindex))}) {
    if (!r) {
      std::cerr << "xfp-enforce: " << r.error().describe() << "\n";
      return 5;
    }
  }
  if (auto r = (*runtime)->attach(static_cast<int>(ifindex)); !r) {
    std::cerr << "xfp-enforce: " << r.error().message << "\n";
    return 5;
  }
  for (const std::string& spec : plugins) {
    const auto eq = spec.find('=');
    const std::string path = spec.substr(0, eq);
    const std::string params = eq == std::string::npos ? "" : spec.substr(eq + 1);
    if (auto r = (*runtime)->plugins().load(path, params); !r) {
      std::cerr << "xfp-enforce: " << r.error().message << "\n";
      return 4;
    }
  }
  if (!pinDir.empty()) {
    if (auto r = (*fp)->pin(pinDir); !r) {
      std::cerr << "xfp-enforce: " << r.error().describe() << "\n";
      return 5;
    }
  }
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  fmt::print(
      "xfp-enforce: enforcing {} filters of {} on {} (ifindex {}), generation {}, {} plugin(s)\n",
      filters,
      policyPath,
      interface,
      ifindex,
      (*fp)->generation(),
      plugins.size());
  std::fflush(stdout);
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(duration);
  std::unique_ptr<xfp::dataplane::NetEventReader> reader;
  if (events) {
    if (auto on = (*fp)->setNetEvents(true, false); !on) {
      std::cerr << "xfp-enforce: " << on.error().describe() << "\n";
      return 5;
    }
    auto r = xfp::dataplane::NetEventReader::open((*fp)->mapFd("xfp_events"),
                                                  (*fp)->mapFd("xfp_ev_budget"));
    if (!r) {
      std::cerr << "xfp-enforce: " << r.error().describe() << "\n";
      return 5;
    }
    reader = std::move(*r);
  }
  std::vector<xfp_net_event> batch;
  while (!gStop && (duration <= 0 || std::chrono::steady_clock::now() < until)) {
    if (!reader) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    batch.clear();
    reader->poll(batch, std::chrono::milliseconds(50));
    for (const xfp_net_event& e : batch) {
      std::string filter = "-";
      (*runtime)->withPolicy([&](const xfp::Policy& p) {
        if (const xfp::Filter* f = p.filterById(e.filter_id)) {
          filter = fmt::format("{} \"{}\"", e.filter_id, f->displayData.name.value_or(""));
        }
      });
      fmt::print("net event: {} {} at {} by filter {}\n",
                 e.verdict == XFP_VERDICT_BLOCK ? "DROP" : "PERMIT",
                 describeFlow(e),
                 e.layer_slot < XFP_LS_COUNT
                     ? xfp::layerById(xfp::fastpath::layerIdOf(e.layer_slot))->fullName()
                     : std::string("the ALE stage"),
                 filter);
    }
    std::fflush(stdout);
  }
  fmt::print("filter hits (the filter that decided in the fast path):\n");
  (*runtime)->withPolicy([&](const xfp::Policy& p) {
    for (const auto& [id, f] : p.filters()) {
      auto c = (*fp)->counters(id);
      if (c && c->packets > 0) {
        fmt::print("  {:>4} packets {:>7} bytes  {} \"{}\"\n",
                   c->packets,
                   c->bytes,
                   xfp::actionTypeName(f.action.type),
                   f.displayData.name.value_or(""));
      }
    }
  });
  const auto& rs = (*runtime)->stats();
  fmt::print(
      "callout runtime: {} punted, {} re-sent, {} blocked, {} pended ({} timed out), {} injected, "
      "{} plugin faults\n",
      rs.punted.load(),
      rs.permitted.load(),
      rs.blocked.load(),
      rs.pended.load(),
      rs.pendTimedOut.load(),
      rs.injected.load(),
      rs.pluginFaults.load());
  fmt::print("verdicts per layer (no match / none / permit / block / punt, cache hits):\n");
  for (int ls = 0; ls < XFP_LS_COUNT; ++ls) {
    auto st = (*fp)->layerStats(static_cast<uint32_t>(ls));
    if (!st) {
      continue;
    }
    const auto& v = st->verdict;
    if (v[0] + v[1] + v[2] + v[3] + v[4] == 0) {
      continue;
    }
    fmt::print("  {:<40} {} / {} / {} / {} / {}, {}\n",
               xfp::layerById(xfp::fastpath::layerIdOf(ls))->fullName(),
               v[0],
               v[1],
               v[2],
               v[3],
               v[4],
               st->cache_hits);
  }
  runtime->reset();  // unloads the plugins (DriverUnload), ends flows
  if (!pinDir.empty()) {
    (*fp)->unpinAll();
  }
  (*fp)->detachAll();
  return 0;
}
