// xfp-enforce: loads a policy file into the fast path and enforces it on one interface (XDP for
// the inbound layers, tc egress for the outbound ones) until a signal or --duration, then prints
// the per-filter counters and per-layer verdicts. The forerunner of xfpd (issue 5), used by
// tools/demo in its own network namespaces.
// Exit status: 0 done, 2 bad command line, 3 policy error, 5 kernel (load/attach) error.
#include <net/if.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "compiler/compiler.h"
#include "compiler/fast_path_fields.h"
#include "userspace/core/policy_file.h"
#include "userspace/dataplane/fast_path.h"

namespace {

std::atomic<bool> gStop{false};

void onSignal(int) {
  gStop = true;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xfp-enforce: enforce a WFP policy file on one interface with the xfp fast path"};
  std::string policyPath;
  std::string interface;
  double duration = 0;
  std::string pinDir;
  app.add_option("--policy", policyPath, "policy file (JSON)")->required();
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
  auto compiled = xfp::compiler::compile(*policy);
  if (!compiled) {
    std::cerr << "xfp-enforce: " << policyPath << ": " << compiled.error().message << "\n";
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
  auto commit = (*fp)->commit(*compiled);
  if (!commit) {
    std::cerr << "xfp-enforce: " << commit.error().describe() << "\n";
    return 5;
  }
  // The policy is in the maps before the programs see a packet: no window without it.
  for (auto r :
       {(*fp)->attachXdp(static_cast<int>(ifindex)), (*fp)->attachTc(static_cast<int>(ifindex))}) {
    if (!r) {
      std::cerr << "xfp-enforce: " << r.error().describe() << "\n";
      return 5;
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
  fmt::print("xfp-enforce: enforcing {} filters of {} on {} (ifindex {}), generation {}\n",
             policy->filters().size(),
             policyPath,
             interface,
             ifindex,
             commit->generation);
  std::fflush(stdout);
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(duration);
  while (!gStop && (duration <= 0 || std::chrono::steady_clock::now() < until)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  fmt::print("filter hits (the filter that decided):\n");
  for (const auto& [id, f] : policy->filters()) {
    auto c = (*fp)->counters(id);
    if (c && c->packets > 0) {
      fmt::print("  {:>4} packets {:>7} bytes  {} \"{}\"\n",
                 c->packets,
                 c->bytes,
                 xfp::actionTypeName(f.action.type),
                 f.displayData.name.value_or(""));
    }
  }
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
  if (!pinDir.empty()) {
    (*fp)->unpinAll();
  }
  return 0;
}
