// xfpd: xfp's Base Filtering Engine service (wfp-model.md §7, docs/engine.md "Composing xfpd").
//
// Start-up, in this order so the data path never runs without the last committed policy:
//   1. configuration (TOML; none: the safe demo default, see DemoNetwork);
//   2. the persistent store (state_dir/store.json, falling back to store.prev.json) -> the
//      engine, which owns the policy; then the configured policy file as one transaction;
//   3. the data path: adopt() the pinned maps of an earlier xfpd (its programs keep enforcing
//      meanwhile) or load() a fresh one; the callout runtime publishes the engine's policy as
//      the next generation; interfaces are attached (a pinned XDP link / our tc filter is switched
//      to the new program in place), maps and links pinned;
//   4. plugins, net events, the control API (gRPC on a Unix socket with peer-credential checks);
//      then READY=1 to systemd.
// Every engine commit is one data-path generation (the engine's commit hook publishes it).
// SIGTERM leaves the pinned data path enforcing (unless detach_on_stop); kill -9 does too.
// Exit status: 0 stopped by a signal or --duration, 2 bad command line, 3 configuration, policy
// or store error, 4 plugin error, 5 kernel (load/attach) or socket error.
#include <fcntl.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>
#include <net/if.h>
#include <sched.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <linux/if_link.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <systemd/sd-daemon.h>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "userspace/callout/plugin_host.h"
#include "userspace/callout/runtime.h"
#include "userspace/core/policy_file.h"
#include "userspace/daemon/config.h"
#include "userspace/daemon/control_service.h"
#include "userspace/daemon/control_socket.h"
#include "userspace/daemon/log_format.h"
#include "userspace/daemon/net_event_log.h"
#include "userspace/dataplane/cgroup2.h"
#include "userspace/dataplane/fast_path.h"
#include "userspace/dataplane/net_events.h"
#include "userspace/dataplane/sock_hooks.h"
#include "userspace/engine/engine.h"
#include "userspace/engine/store.h"

#ifndef XFP_SOURCE_DIR
#define XFP_SOURCE_DIR "."
#endif

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitConfig = 3;
constexpr int kExitPlugin = 4;
constexpr int kExitKernel = 5;

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

// Adds the objects of a policy file to the engine as one transaction; objects whose key the
// engine has already (persistent ones restored from the store) are kept as stored.
xfp::Result<size_t> applyPolicyFile(xfp::engine::Engine& engine, const std::string& path) {
  auto file = xfp::loadPolicyFile(path);
  if (!file) {
    return tl::unexpected(file.error());
  }
  xfp::engine::SessionOptions so;
  so.displayData.name = "xfpd start-up: " + path;
  auto s = engine.open(so);
  if (!s) {
    return tl::unexpected(s.error());
  }
  const auto within = [&](const xfp::Error& e) {
    (void)engine.close(*s);
    return tl::unexpected(xfp::Error{e.status, path + ": " + e.message});
  };
  if (auto r = engine.begin(*s); !r) {
    return within(r.error());
  }
  const std::shared_ptr<const xfp::Policy> have = engine.committed();
  size_t added = 0;
  for (const auto& [k, p] : file->providers()) {
    if (have->provider(k) == nullptr) {
      if (auto r = engine.addProvider(*s, p); !r) {
        return within(r.error());
      }
    }
  }
  for (const auto& [k, sl] : file->sublayers()) {
    if (have->sublayer(k) == nullptr && sl.origin.lifetime != xfp::Lifetime::BuiltIn) {
      if (auto r = engine.addSublayer(*s, sl); !r) {
        return within(r.error());
      }
    }
  }
  for (const auto& [k, c] : file->callouts()) {
    if (have->callout(k) == nullptr) {
      if (auto r = engine.addCallout(*s, c); !r) {
        return within(r.error());
      }
    }
  }
  for (const auto& [id, f] : file->filters()) {
    if (have->filterByKey(f.key) == nullptr) {
      if (auto r = engine.addFilter(*s, f); !r) {
        return within(r.error());
      }
      ++added;
    }
  }
  if (auto r = engine.commit(*s); !r) {
    return within(r.error());
  }
  (void)engine.close(*s);
  return added;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xfpd: the xfp filtering service (WFP's Base Filtering Engine on eBPF)"};
  std::string configPath;
  std::string policyOverride;
  std::string socketOverride;
  double duration = 0;
  app.add_option("--config", configPath, "TOML configuration (none: the safe demo default)");
  app.add_option("--policy", policyOverride, "policy file to start from (overrides the config)");
  app.add_option("--socket", socketOverride, "control socket path (overrides the config)");
  bool verbose = false;
  app.add_flag("--verbose", verbose, "debug logging (every net event, one line each)");
  app.add_option("--duration", duration, "seconds to run (0: until SIGTERM/SIGINT)")
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return e.get_exit_code() == 0 ? app.exit(e) : (app.exit(e), kExitUsage);
  }
  if (::geteuid() != 0) {
    std::cerr << "xfpd: must run as root (it loads BPF programs and attaches them)\n";
    return kExitUsage;
  }
  const bool demoMode = configPath.empty();
  xfp::daemon::DaemonConfig config;
  DemoNetwork demo;
  std::unique_ptr<xfp::dataplane::OwnedCgroup> demoCgroup;
  if (!demoMode) {
    auto c = xfp::daemon::loadConfig(configPath);
    if (!c) {
      std::cerr << "xfpd: " << c.error().message << "\n";
      return kExitConfig;
    }
    config = std::move(*c);
  } else {
    if (std::string e = demo.setUp(); !e.empty()) {
      std::cerr << "xfpd: " << e << "\n";
      return kExitKernel;
    }
    config.interfaces.push_back({demo.a, demo.a});
    config.policyFile = std::string(XFP_SOURCE_DIR) + "/examples/policy.json";
    config.pinDir.clear();    // the demo leaves nothing behind: no pins,
    config.stateDir.clear();  // no store
    config.detachOnStop = true;
    config.pluginDir = std::string(XFP_SOURCE_DIR) + "/build/release/examples/plugins";
    // A cgroup of its own: the socket-level ALE layers apply to the processes put into it.
    std::string error;
    demoCgroup = xfp::dataplane::OwnedCgroup::create(demo.a, &error);
    if (!demoCgroup) {
      std::cerr << "xfpd: demo cgroup: " << error << "\n";
      return kExitKernel;
    }
    config.cgroup = demoCgroup->path();
  }
  if (!policyOverride.empty()) {
    config.policyFile = policyOverride;
  }
  (void)xfp::daemon::setLogFormat(config.logFormat);  // validated with the configuration
  if (verbose) {
    spdlog::set_level(spdlog::level::debug);
  }
  if (!socketOverride.empty()) {
    config.socketPath = socketOverride;
  }

  // --- 2. store and engine ---
  std::unique_ptr<xfp::engine::Store> store;
  xfp::Policy restored;
  if (!config.stateDir.empty()) {
    store = std::make_unique<xfp::engine::Store>(config.stateDir);
    auto loaded = store->load();
    if (!loaded) {
      std::cerr << "xfpd: persistent store: " << loaded.error().message
                << "\nxfpd: nothing was changed; the pinned data path (if any) keeps enforcing "
                   "the last committed policy. Repair or move the store files aside to start.\n";
      return kExitConfig;
    }
    for (const std::string& p : loaded->report.problems) {
      spdlog::error("persistent store: {}", p);
    }
    if (loaded->report.source == xfp::engine::LoadReport::Source::Previous) {
      spdlog::warn("persistent store: using the last good state {}", loaded->report.path.string());
    }
    restored = std::move(loaded->policy);
  }
  const size_t persistentFilters = restored.filters().size();

  // The engine's hooks reach the runtime through this pointer: null until the runtime exists
  // (start-up commits are published when it is created) and again once it is gone. The commit
  // hook holds runtimeMu so the runtime cannot go away under a publish; the notifiers, called
  // with the engine's lock held, only load the pointer (no lock order with the runtime's own).
  std::mutex runtimeMu;
  std::atomic<xfp::callout::CalloutRuntime*> runtimeHook{nullptr};
  xfp::engine::EngineOptions eo;
  eo.store = store.get();
  eo.onCommit = [&](const std::shared_ptr<const xfp::Policy>& p,
                    uint64_t generation,
                    const std::vector<uint64_t>& added) {
    std::lock_guard lock(runtimeMu);
    xfp::callout::CalloutRuntime* rt = runtimeHook.load();
    if (rt == nullptr) {
      return;  // start-up: the runtime publishes the committed policy when it is created
    }
    if (auto r = rt->publish(p, added); !r) {
      spdlog::error(
          "generation {} could not be published to the data path: {} (the data path "
          "keeps the previous generation)",
          generation,
          r.error().message);
    }
  };
  eo.notifier.added = [&](const xfp::Filter& f, const xfp::Policy& context) {
    xfp::callout::CalloutRuntime* rt = runtimeHook.load();
    return rt == nullptr || rt->notifyFilterAdded(f, context);
  };
  eo.notifier.deleted = [&](const xfp::Filter& f, const xfp::Policy& context) {
    if (xfp::callout::CalloutRuntime* rt = runtimeHook.load(); rt != nullptr) {
      rt->notifyFilterDeleted(f, context);
    }
  };
  xfp::engine::Engine engine(eo, std::move(restored));
  if (!config.policyFile.empty()) {
    auto r = applyPolicyFile(engine, config.policyFile);
    if (!r) {
      std::cerr << "xfpd: " << r.error().message << "\n";
      return kExitConfig;
    }
    spdlog::info("policy file {}: {} filter(s) added", config.policyFile, *r);
  }

  // --- 3. data path ---
  std::unique_ptr<xfp::dataplane::FastPath> fp;
  bool adopted = false;
  if (!config.pinDir.empty()) {
    auto a = xfp::dataplane::FastPath::adopt(config.pinDir);
    if (a) {
      fp = std::move(*a);
      adopted = true;
      spdlog::info("adopted the pinned data path under {} (it kept enforcing meanwhile)",
                   config.pinDir);
    } else if (a.error().errnoValue == ENOENT || a.error().errnoValue == ESTALE) {
      if (a.error().errnoValue == ESTALE) {
        spdlog::warn(
            "pinned data path under {} does not match this build ({}): loading a new "
            "one and switching the interfaces over",
            config.pinDir,
            a.error().describe());
      }
    } else {
      std::cerr << "xfpd: " << a.error().describe() << "\n";
      return kExitKernel;
    }
  }
  if (!fp) {
    auto l = xfp::dataplane::FastPath::load();
    if (!l) {
      std::cerr << "xfpd: " << l.error().describe() << "\n";
      return kExitKernel;
    }
    fp = std::move(*l);
    if (!config.pinDir.empty()) {
      fp->takeOverAttachments(config.pinDir);
    }
  }
  xfp::callout::RuntimeOptions options;
  options.workers = config.workers;
  options.pendTimeout = config.pendTimeout;
  options.maxPended = config.maxPended;
  options.calloutIdFor = [&engine](const xfp::Guid& key) { return engine.calloutIdForKey(key); };
  std::unique_ptr<xfp::callout::CalloutRuntime> ownedRuntime;
  xfp::callout::CalloutRuntime* runtime = nullptr;
  {
    // Publishes the engine's committed policy: the next generation of an adopted data path.
    std::lock_guard lock(runtimeMu);
    auto r = xfp::callout::CalloutRuntime::create(*fp, engine.committed()->snapshot(), options);
    if (!r) {
      std::cerr << "xfpd: " << r.error().message << "\n";
      return kExitConfig;
    }
    ownedRuntime = std::move(*r);
    runtime = ownedRuntime.get();
    runtimeHook = runtime;  // create() published the committed policy: no second compile
  }
  (void)fp->setNetEvents(config.dropEvents, config.allowEvents);
  int status = 0;
  std::map<uint32_t, std::string> interfaceNames;
  std::vector<std::string> interfaceList;
  for (const auto& ic : config.interfaces) {
    std::string error;
    int ifindex = 0;
    const std::string entered = inNetns(ic.netns, [&] {
      ifindex = static_cast<int>(::if_nametoindex(ic.name.c_str()));
      if (ifindex == 0) {
        error = "no interface " + ic.name;
        return;
      }
      for (auto r : {fp->attachXdp(ifindex, XDP_FLAGS_DRV_MODE), fp->attachTc(ifindex)}) {
        if (!r) {
          error = r.error().describe();
          return;
        }
      }
      if (auto r = runtime->attach(ifindex); !r) {
        error = r.error().message;
      }
    });
    const std::string label = ic.name + (ic.netns.empty() ? "" : " (netns " + ic.netns + ")");
    if (!entered.empty() || !error.empty()) {
      std::cerr << "xfpd: " << label << ": " << (entered.empty() ? error : entered) << "\n";
      status = kExitKernel;
      break;
    }
    interfaceNames[static_cast<uint32_t>(ifindex)] = ic.name;
    interfaceList.push_back(label);
    spdlog::info("attached to {}", label);
  }
  if (status == 0 && !config.pinDir.empty()) {
    if (auto r = fp->pin(config.pinDir); !r) {
      std::cerr << "xfpd: " << r.error().describe() << "\n";
      status = kExitKernel;
    }
  }
  if (status == 0 && !config.pinDir.empty() && config.cgroup.empty()) {
    // Socket hooks an earlier configuration pinned (on a cgroup no longer named) would keep
    // refusing that cgroup's socket calls with nobody answering: retired.
    if (auto r = xfp::dataplane::SockHooks::retirePinned(config.pinDir + "/sock"); !r) {
      spdlog::warn("pinned socket hooks under {}/sock: {}", config.pinDir, r.error().describe());
    }
  }
  if (status == 0 && !config.cgroup.empty()) {
    // Pinned beside the data path: a crash or restart leaves the socket layers closed.
    const std::string sockPins = config.pinDir.empty() ? "" : config.pinDir + "/sock";
    if (auto r = runtime->attachCgroup(config.cgroup, config.socketWait, sockPins); !r) {
      std::cerr << "xfpd: cgroup " << config.cgroup << ": " << r.error().message << "\n";
      status = kExitKernel;
    } else {
      spdlog::info("socket hooks on cgroup {}", config.cgroup);
    }
  }
  for (size_t i = 0; status == 0 && i < config.plugins.size(); ++i) {
    if (auto r = runtime->plugins().load(config.plugins[i].path, config.plugins[i].parameters);
        !r) {
      std::cerr << "xfpd: " << r.error().message << "\n";
      status = kExitPlugin;
    }
  }

  // --- 4. net events and the control API ---
  xfp::daemon::NetEventLog eventLog(config.netEventLogSize);
  std::unique_ptr<xfp::dataplane::NetEventReader> events;
  std::atomic<bool> eventsStop{false};
  std::thread eventThread;
  if (status == 0) {
    auto r =
        xfp::dataplane::NetEventReader::open(fp->mapFd("xfp_events"), fp->mapFd("xfp_ev_budget"));
    if (r) {
      events = std::move(*r);
      eventThread = std::thread([&] {
        // Every event goes to the log ring and the API streams; the service log gets them one
        // by one only at debug level (a flood of drops must not become a flood of log lines)
        // and a count per 10 s at info.
        std::vector<xfp_net_event> batch;
        uint64_t drops = 0, allows = 0;
        auto summaryAt = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!eventsStop) {
          batch.clear();
          events->poll(batch, std::chrono::milliseconds(100));
          if (!batch.empty()) {
            const std::shared_ptr<const xfp::Policy> policy = engine.committed();
            for (const xfp_net_event& e : batch) {
              xfp::v1::NetEvent ev = xfp::daemon::toNetEvent(e);
              if (const xfp::Filter* f = policy->filterById(e.filter_id); f != nullptr) {
                ev.set_filter_name(f->displayData.name.value_or(""));
              }
              if (auto it = interfaceNames.find(e.ifindex); it != interfaceNames.end()) {
                ev.set_interface(it->second);
              }
              const bool drop = ev.type() == xfp::daemon::kNetEventClassifyDrop;
              (drop ? drops : allows)++;
              spdlog::debug("net event: {} {} proto {} port {} -> {} by filter {} \"{}\" at {}",
                            drop ? "drop" : "permit",
                            e.inbound != 0 ? "in" : "out",
                            e.ip_proto,
                            e.src_port,
                            e.dst_port,
                            e.filter_id,
                            ev.filter_name(),
                            ev.layer_name());
              eventLog.add(std::move(ev));
            }
          }
          if (std::chrono::steady_clock::now() >= summaryAt) {
            if (drops + allows > 0) {
              spdlog::info(
                  "net events in the last 10 s: {} drop(s), {} permit(s) (xfpctl "
                  "events shows them)",
                  drops,
                  allows);
            }
            drops = allows = 0;
            summaryAt += std::chrono::seconds(10);
          }
        }
      });
    } else {
      spdlog::warn("net events unavailable: {}", r.error().describe());
    }
  }
  std::unique_ptr<xfp::daemon::ControlSocket> socket;
  std::unique_ptr<xfp::daemon::ControlService> service;
  std::unique_ptr<grpc::Server> server;
  if (status == 0) {
    auto s = xfp::daemon::ControlSocket::listen(config.socketPath, config.socketGroup);
    if (!s) {
      std::cerr << "xfpd: " << s.error().message << "\n";
      status = kExitKernel;
    } else {
      socket = std::move(*s);
      xfp::daemon::ServiceParts parts;
      parts.engine = &engine;
      parts.fastPath = fp.get();
      parts.runtime = runtime;
      parts.events = &eventLog;
      parts.socket = socket.get();
      parts.pluginDir = config.pluginDir;
      parts.interfaces = interfaceList;
      parts.adopted = adopted;
      service = std::make_unique<xfp::daemon::ControlService>(std::move(parts));
      grpc::ServerBuilder builder;
      grpc::ResourceQuota quota("xfpd");
      quota.SetMaxThreads(256);  // bounds concurrent sessions and streams
      builder.SetResourceQuota(quota);
      builder.SetMaxReceiveMessageSize(64 << 20);
      builder.RegisterService(service.get());
      server = builder.BuildAndStart();
      if (!server) {
        std::cerr << "xfpd: the gRPC server did not start\n";
        status = kExitKernel;
      } else {
        socket->serve(server.get());
      }
    }
  }

  if (status == 0) {
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    sd_notifyf(0,
               "READY=1\nSTATUS=enforcing %zu filters on %zu interface(s); API on %s",
               engine.committed()->filters().size(),
               config.interfaces.size(),
               config.socketPath.c_str());
    spdlog::info(
        "xfpd ready: {} filter(s) ({} persistent restored), generation {}, {} "
        "interface(s), {} plugin(s), control API on {}{}",
        engine.committed()->filters().size(),
        persistentFilters,
        engine.generation(),
        config.interfaces.size(),
        config.plugins.size(),
        config.socketPath,
        adopted ? ", data path adopted" : "");
    if (demoMode) {
      const std::string sock =
          config.socketPath == "/run/xfp/xfpd.sock" ? "" : " --socket " + config.socketPath;
      fmt::print(
          "xfpd runs its demo: namespaces {0} (10.201.0.1, enforced) and {1} (10.201.0.2), "
          "policy {2}.\nTry, from another shell:\n"
          "  ip netns exec {1} ping -c 2 10.201.0.1       # permitted\n"
          "  ip netns exec {1} nc -z -w 1 10.201.0.1 23   # telnet: dropped\n"
          "  xfpctl{3} show filters      # the live policy\n"
          "  xfpctl{3} events --follow   # drops as net events\n"
          "  xfpctl{3} add filter --layer INBOUND_TRANSPORT_V4 --name no-ssh --action block "
          "--condition IP_LOCAL_PORT=22\n"
          "Processes in cgroup {4} also get the socket-level ALE layers (process identity,\n"
          "redirection, endpoints), e.g.\n"
          "  sudo sh -c 'echo $$ > {4}/cgroup.procs; exec ip netns exec {0} curl -m 2 "
          "http://10.201.0.2/'\n"
          "Stop with Ctrl-C.\n",
          demo.a,
          demo.b,
          config.policyFile,
          sock,
          config.cgroup);
      std::fflush(stdout);
    }
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(duration);
  while (status == 0 && !gStop && (duration <= 0 || std::chrono::steady_clock::now() < until)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  sd_notify(0, "STOPPING=1");
  if (socket) {
    socket->stop();
  }
  if (service) {
    service->shutdown();
  }
  if (server) {
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  eventsStop = true;
  if (eventThread.joinable()) {
    eventThread.join();
  }
  events.reset();
  {
    std::lock_guard lock(runtimeMu);
    runtimeHook = nullptr;
  }
  const bool leaveAttached = !(config.detachOnStop || config.pinDir.empty());
  if (leaveAttached && runtime != nullptr) {
    runtime->leaveSocketHooksAttached();  // pinned: they refuse until the next xfpd answers
  }
  ownedRuntime.reset();  // plugins unloaded: their filters fall back per §4.5 (fail closed)
  if (!leaveAttached) {
    for (const auto& ic : config.interfaces) {
      (void)inNetns(ic.netns, [&] { fp->detachAll(); });
    }
    if (!config.pinDir.empty()) {
      fp->unpinAll();
    }
    spdlog::info("xfpd stopped; the data path is detached");
  } else {
    fp->leaveAttached();
    spdlog::info("xfpd stopped; the pinned data path under {} keeps enforcing generation {}",
                 config.pinDir,
                 fp->generation());
  }
  return status;
}
