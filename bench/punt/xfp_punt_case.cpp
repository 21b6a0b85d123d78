#include "bench/punt/xfp_punt_case.h"

#include <arpa/inet.h>
#include <fwpsk.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_link.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "userspace/callout/runtime.h"
#include "userspace/core/policy_file.h"
#include "userspace/dataplane/fast_path.h"

namespace xfp::bench::punt {
namespace {

// {5d0c2b9e-41a7-4c8e-9a51-2f6e0d3c7b11}
constexpr GUID kBenchKey = {
    0x5d0c2b9e, 0x41a7, 0x4c8e, {0x9a, 0x51, 0x2f, 0x6e, 0x0d, 0x3c, 0x7b, 0x11}};
constexpr const char* kBenchText = "5d0c2b9e-41a7-4c8e-9a51-2f6e0d3c7b11";

void permitAll(const FWPS_INCOMING_VALUES0*,
               const FWPS_INCOMING_METADATA_VALUES0*,
               void*,
               const void*,
               const FWPS_FILTER1*,
               UINT64,
               FWPS_CLASSIFY_OUT0* out) {
  if ((out->rights & FWPS_RIGHT_ACTION_WRITE) != 0) {
    out->actionType = FWP_ACTION_PERMIT;
  }
}

// The pend callout: acquire, pend, hand the handle to the completer thread.
struct Completer {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<UINT64> handles;
  bool stop = false;
  std::thread thread;
};
Completer* gCompleter = nullptr;

void pendAll(const FWPS_INCOMING_VALUES0*,
             const FWPS_INCOMING_METADATA_VALUES0*,
             void*,
             const void* classifyContext,
             const FWPS_FILTER1* filter,
             UINT64,
             FWPS_CLASSIFY_OUT0* out) {
  UINT64 h = 0;
  if (FwpsAcquireClassifyHandle0(const_cast<void*>(classifyContext), 0, &h) != STATUS_SUCCESS) {
    return;
  }
  if (FwpsPendClassify0(h, filter->filterId, 0, out) != STATUS_SUCCESS) {
    FwpsReleaseClassifyHandle0(h);
    return;
  }
  out->actionType = FWP_ACTION_BLOCK;
  out->rights &= ~FWPS_RIGHT_ACTION_WRITE;
  {
    std::lock_guard lock(gCompleter->mu);
    gCompleter->handles.push_back(h);
  }
  gCompleter->cv.notify_one();
}

void completerLoop(Completer& c) {
  std::unique_lock lock(c.mu);
  while (true) {
    c.cv.wait(lock, [&] { return c.stop || !c.handles.empty(); });
    if (c.stop) {
      return;
    }
    const UINT64 h = c.handles.front();
    c.handles.pop_front();
    lock.unlock();
    FWPS_CLASSIFY_OUT0 co{};
    co.actionType = FWP_ACTION_PERMIT;
    co.rights = FWPS_RIGHT_ACTION_WRITE;
    FwpsCompleteClassify0(h, 0, &co);
    FwpsReleaseClassifyHandle0(h);
    lock.lock();
  }
}

std::string policyJson(const std::string& layer, uint16_t port) {
  return fmt::format(R"({{"xfp_policy": 1,
    "callouts": [{{"key": "{0}", "name": "bench", "layer": "{1}"}}],
    "filters": [{{"name": "bench", "layer": "{1}", "action": "callout_terminating",
                 "callout": "{0}",
                 "conditions": [{{"field": "IP_PROTOCOL", "value": "udp"}},
                                {{"field": "IP_LOCAL_PORT", "value": {2}}}]}}]}})",
                     kBenchText,
                     layer,
                     port);
}

// The fast path on A's end and a runtime with `policy`; torn down (inside A) on destruction.
class XfpSetup {
 public:
  std::string setUp(const PuntEnv& env, const std::string& json, unsigned workers) {
    env_ = &env;
    auto policy = parsePolicy(json, "bench policy");
    if (!policy) {
      return policy.error().message;
    }
    auto fp = dataplane::FastPath::load();
    if (!fp) {
      return fp.error().describe();
    }
    fp_ = std::move(*fp);
    callout::RuntimeOptions o;
    o.workers = workers;
    o.disableOffloads = false;  // UDP only: nothing to segment
    // The runtime's threads inherit the creating thread's CPU: the consumer CPU, as NFQUEUE's
    // consumer thread (the creating thread's own affinity is restored afterwards).
    cpu_set_t saved;
    CPU_ZERO(&saved);
    sched_getaffinity(0, sizeof saved, &saved);
    if (env.appCpu >= 0) {
      (void)pinThisThread(env.appCpu);
    }
    auto rt = callout::CalloutRuntime::create(*fp_, std::move(*policy), o);
    sched_setaffinity(0, sizeof saved, &saved);
    if (!rt) {
      return rt.error().message;
    }
    rt_ = std::move(*rt);
    std::string error;
    std::thread t([&] {
      if (std::string e = enterNetns(env.nsA); !e.empty()) {
        error = e;
        return;
      }
      auto x = fp_->attachXdp(env.ifindexA, XDP_FLAGS_DRV_MODE);
      if (!x) {
        error = x.error().describe();
        return;
      }
      auto a = rt_->attach(env.ifindexA);
      if (!a) {
        error = a.error().message;
      }
    });
    t.join();
    return error;
  }
  ~XfpSetup() {
    rt_.reset();
    if (fp_) {
      std::thread t([&] {
        if (enterNetns(env_->nsA).empty()) {
          fp_->detachAll();
        }
      });
      t.join();
    }
  }
  callout::CalloutRuntime& runtime() { return *rt_; }

 private:
  const PuntEnv* env_ = nullptr;
  std::unique_ptr<dataplane::FastPath> fp_;
  std::unique_ptr<callout::CalloutRuntime> rt_;
};

UINT32 registerCallout(FWPS_CALLOUT_CLASSIFY_FN1 fn) {
  FWPS_CALLOUT1 c{};
  c.calloutKey = kBenchKey;
  c.classifyFn = fn;
  UINT32 id = 0;
  return FwpsCalloutRegister1(nullptr, &c, &id) == STATUS_SUCCESS ? id : 0;
}

std::string runtimeDetail(callout::CalloutRuntime& rt) {
  const auto& s = rt.stats();
  return fmt::format(
      "runtime: {} punted, {} re-sent, {} blocked, {} pended, {} over the worker bound",
      s.punted.load(),
      s.permitted.load(),
      s.blocked.load(),
      s.pended.load(),
      s.overloadDropped.load());
}

}  // namespace

std::optional<CaseResult> runXfpPuntCase(const PuntEnv& env, unsigned workers) {
  CaseResult r;
  XfpSetup xfp;
  if (std::string e = xfp.setUp(env, policyJson("INBOUND_TRANSPORT_V4", env.dport), workers);
      !e.empty()) {
    r.error = e;
    return r;
  }
  const UINT32 id = registerCallout(permitAll);
  if (id == 0) {
    r.error = "FwpsCalloutRegister1 failed";
    return r;
  }
  r = measureThroughput(env);
  r.latency = measureLatency(env);
  r.detail = runtimeDetail(xfp.runtime());
  FwpsCalloutUnregisterById0(id);
  return r;
}

std::optional<CaseResult> runXfpPendCase(const PuntEnv& env, bool pend) {
  CaseResult r;
  XfpSetup xfp;
  if (std::string e = xfp.setUp(env, policyJson("ALE_AUTH_RECV_ACCEPT_V4", env.dport), 1);
      !e.empty()) {
    r.error = e;
    return r;
  }
  Completer completer;
  gCompleter = &completer;
  completer.thread = std::thread([&] { completerLoop(completer); });
  const UINT32 id = registerCallout(pend ? pendAll : permitAll);
  // Every probe is the first datagram of a new flow: a new socket (a new source port) each time.
  std::vector<double> us;
  LatencyResult lat;
  const auto limit = Clock::now() + std::chrono::seconds(env.quick ? 1 : 3);
  static std::uint32_t seq = 0x10000000;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(env.dport);
  inet_pton(AF_INET, env.addrA, &to.sin_addr);
  std::thread prober([&] {
    if (!enterNetns(env.nsB).empty()) {
      return;
    }
    for (int i = 0; i < env.latencySamples && Clock::now() < limit && !gStopRequested.load(); ++i) {
      const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      std::uint8_t payload[18] = {};
      const std::uint32_t s = ++seq;
      std::memcpy(payload, &UdpReceiver::kProbeMagic, 4);
      std::memcpy(payload + 4, &s, 4);
      timespec ts{};
      clock_gettime(CLOCK_MONOTONIC, &ts);
      const std::int64_t sent = ts.tv_sec * 1000000000LL + ts.tv_nsec;
      const bool ok =
          ::sendto(fd, payload, sizeof payload, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) ==
          static_cast<ssize_t>(sizeof payload);
      if (auto at = ok ? env.receiver->waitProbe(s, std::chrono::milliseconds(200))
                       : std::optional<std::int64_t>{}) {
        us.push_back(static_cast<double>(*at - sent) / 1000.0);
      } else {
        ++lat.lost;
      }
      ::close(fd);
    }
  });
  prober.join();
  if (!us.empty()) {
    std::sort(us.begin(), us.end());
    lat.samples = us.size();
    lat.p50us = us[us.size() / 2];
    lat.p99us = us[std::min(us.size() - 1, us.size() * 99 / 100)];
  }
  r.latency = lat;
  r.detail = runtimeDetail(xfp.runtime());
  if (id != 0) {
    FwpsCalloutUnregisterById0(id);
  }
  {
    std::lock_guard lock(completer.mu);
    completer.stop = true;
  }
  completer.cv.notify_all();
  completer.thread.join();
  gCompleter = nullptr;
  return r;
}

}  // namespace xfp::bench::punt
