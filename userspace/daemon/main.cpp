// xfpd: xfp's Base Filtering Engine service. Today it loads its configuration (TOML), commits the
// configured policy to the eBPF fast path, attaches to the configured interfaces (in their
// network namespaces), hosts the callout runtime and plugins, logs net events of drops, tells
// systemd when it is ready (Type=notify) and cleans up on SIGTERM. Without --config it runs the
// safe demo default: two network namespaces of its own joined by a veth pair, the example policy,
// and a printout of how to send traffic through it. The control API (gRPC), the FWPM C library,
// sessions/transactions over the wire and re-adoption after a restart come next (issue 5,
// docs/engine.md "Composing xfpd").
// Exit status: 0 stopped by a signal or --duration, 2 bad command line, 3 configuration or policy
// error, 4 plugin error, 5 kernel (load/attach) error.
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <linux/if_link.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <systemd/sd-daemon.h>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "userspace/callout/plugin_host.h"
#include "userspace/callout/runtime.h"
#include "userspace/core/policy_file.h"
#include "userspace/daemon/config.h"
#include "userspace/dataplane/fast_path.h"
#include "userspace/dataplane/net_events.h"

#ifndef XFP_SOURCE_DIR
#define XFP_SOURCE_DIR "."
#endif

namespace {

std::atomic<bool> gStop{false};

void onSignal(int) {
  gStop = true;
}

// Runs fn on a thread inside network namespace ns ("" = this one); "" or why not.
std::string inNetns(const std::string& ns, const std::function<void()>& fn) {
  std::string error;
  std::thread t([&] {
    if (!ns.empty()) {
      const std::string path = "/run/netns/" + ns;
      const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
        error = "cannot enter network namespace " + ns;
        if (fd >= 0) {
          ::close(fd);
        }
        return;
      }
      ::close(fd);
    }
    fn();
  });
  t.join();
  return error;
}

int run(const std::string& command) {
  return std::system(command.c_str());
}

// The demo's namespaces and veth pair (iproute2), removed by the destructor.
struct DemoNetwork {
  std::string a, b;
  bool made = false;
  std::string setUp() {
    const std::string id = std::to_string(::getpid() % 100000);
    a = "xfpd" + id + "a";
    b = "xfpd" + id + "b";
    made = true;
    const std::string q = " >/dev/null 2>&1";
    for (const std::string& c :
         {"ip netns add " + a,
          "ip netns add " + b,
          "ip link add " + a + " netns " + a + " type veth peer name " + b + " netns " + b,
          "ip -n " + a + " addr add 10.201.0.1/24 dev " + a,
          "ip -n " + b + " addr add 10.201.0.2/24 dev " + b,
          "ip -n " + a + " link set " + a + " up",
          "ip -n " + b + " link set " + b + " up",
          "ip -n " + a + " link set lo up",
          "ip -n " + b + " link set lo up"}) {
      if (run(c + q) != 0) {
        return "demo network: \"" + c + "\" failed";
      }
    }
    return "";
  }
  ~DemoNetwork() {
    if (made) {
      run("ip netns del " + a + " >/dev/null 2>&1");
      run("ip netns del " + b + " >/dev/null 2>&1");
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xfpd: the xfp filtering service (WFP's Base Filtering Engine on eBPF)"};
  std::string configPath;
  std::string policyOverride;
  double duration = 0;
  app.add_option("--config", configPath, "TOML configuration (none: the safe demo default)");
  app.add_option("--policy", policyOverride, "policy file to start from (overrides the config)");
  app.add_option("--duration", duration, "seconds to run (0: until SIGTERM/SIGINT)")
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return e.get_exit_code() == 0 ? app.exit(e) : (app.exit(e), 2);
  }
  if (::geteuid() != 0) {
    std::cerr << "xfpd: must run as root (it loads BPF programs and attaches them)\n";
    return 2;
  }
  xfp::daemon::DaemonConfig config;
  DemoNetwork demo;
  if (!configPath.empty()) {
    auto c = xfp::daemon::loadConfig(configPath);
    if (!c) {
      std::cerr << "xfpd: " << c.error().message << "\n";
      return 3;
    }
    config = std::move(*c);
  } else {
    if (std::string e = demo.setUp(); !e.empty()) {
      std::cerr << "xfpd: " << e << "\n";
      return 5;
    }
    config.interfaces.push_back({demo.a, demo.a});
    config.policyFile = std::string(XFP_SOURCE_DIR) + "/examples/policy.json";
    config.pinDir.clear();  // the demo leaves nothing behind
  }
  if (!policyOverride.empty()) {
    config.policyFile = policyOverride;
  }
  xfp::Policy policy;
  if (!config.policyFile.empty()) {
    auto p = xfp::loadPolicyFile(config.policyFile);
    if (!p) {
      std::cerr << "xfpd: " << p.error().message << "\n";
      return 3;
    }
    policy = std::move(*p);
  }
  const size_t filterCount = policy.filters().size();
  auto fp = xfp::dataplane::FastPath::load();
  if (!fp) {
    std::cerr << "xfpd: " << fp.error().describe() << "\n";
    return 5;
  }
  xfp::callout::RuntimeOptions options;
  options.workers = config.workers;
  options.pendTimeout = config.pendTimeout;
  options.maxPended = config.maxPended;
  auto runtime = xfp::callout::CalloutRuntime::create(**fp, std::move(policy), options);
  if (!runtime) {
    std::cerr << "xfpd: " << config.policyFile << ": " << runtime.error().message << "\n";
    return 3;
  }
  (void)(*fp)->setNetEvents(config.dropEvents, config.allowEvents);
  int status = 0;
  for (const auto& ic : config.interfaces) {
    std::string error;
    const std::string entered = inNetns(ic.netns, [&] {
      const int ifindex = static_cast<int>(::if_nametoindex(ic.name.c_str()));
      if (ifindex == 0) {
        error = "no interface " + ic.name;
        return;
      }
      for (auto r : {(*fp)->attachXdp(ifindex, XDP_FLAGS_DRV_MODE), (*fp)->attachTc(ifindex)}) {
        if (!r) {
          error = r.error().describe();
          return;
        }
      }
      if (auto r = (*runtime)->attach(ifindex); !r) {
        error = r.error().message;
      }
    });
    if (!entered.empty() || !error.empty()) {
      std::cerr << "xfpd: " << ic.name << (ic.netns.empty() ? "" : " in " + ic.netns) << ": "
                << (entered.empty() ? error : entered) << "\n";
      status = 5;
      break;
    }
    spdlog::info("attached to {}{}", ic.name, ic.netns.empty() ? "" : " in netns " + ic.netns);
  }
  if (status == 0 && !config.pinDir.empty()) {
    if (auto r = (*fp)->pin(config.pinDir); !r) {
      std::cerr << "xfpd: " << r.error().describe() << "\n";
      status = 5;
    }
  }
  for (size_t i = 0; status == 0 && i < config.plugins.size(); ++i) {
    if (auto r = (*runtime)->plugins().load(config.plugins[i].path, config.plugins[i].parameters);
        !r) {
      std::cerr << "xfpd: " << r.error().message << "\n";
      status = 4;
    }
  }
  std::unique_ptr<xfp::dataplane::NetEventReader> events;
  if (status == 0) {
    auto r = xfp::dataplane::NetEventReader::open((*fp)->mapFd("xfp_events"),
                                                  (*fp)->mapFd("xfp_ev_budget"));
    if (r) {
      events = std::move(*r);
    }
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    sd_notifyf(0,
               "READY=1\nSTATUS=enforcing %zu filters on %zu interface(s)",
               filterCount,
               config.interfaces.size());
    spdlog::info("xfpd ready: policy {}, {} interface(s), {} plugin(s)",
                 config.policyFile.empty() ? "(none)" : config.policyFile,
                 config.interfaces.size(),
                 config.plugins.size());
    if (configPath.empty()) {
      fmt::print(
          "xfpd runs its demo: namespaces {0} (10.201.0.1, enforced) and {1} (10.201.0.2), policy "
          "{2}.\nTry, from another shell:\n"
          "  ip netns exec {1} ping -c 2 10.201.0.1          # permitted\n"
          "  ip netns exec {1} nc -z -w 1 10.201.0.1 23      # telnet: dropped (a net event is "
          "logged here)\n"
          "Stop with Ctrl-C.\n",
          demo.a,
          demo.b,
          config.policyFile);
      std::fflush(stdout);
    }
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(duration);
  std::vector<xfp_net_event> batch;
  while (status == 0 && !gStop && (duration <= 0 || std::chrono::steady_clock::now() < until)) {
    batch.clear();
    if (events) {
      events->poll(batch, std::chrono::milliseconds(100));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    for (const xfp_net_event& e : batch) {
      spdlog::info("net event: {} proto {} port {} -> {} by filter {} at layer slot {}",
                   e.verdict == XFP_VERDICT_BLOCK ? "drop" : "permit",
                   e.ip_proto,
                   e.src_port,
                   e.dst_port,
                   e.filter_id,
                   e.layer_slot);
    }
  }
  sd_notify(0, "STOPPING=1");
  events.reset();
  runtime->reset();
  for (const auto& ic : config.interfaces) {
    (void)inNetns(ic.netns, [&] { (*fp)->detachAll(); });
  }
  if (!config.pinDir.empty()) {
    (*fp)->unpinAll();
  }
  spdlog::info("xfpd stopped");
  return status;
}
