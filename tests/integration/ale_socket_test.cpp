// Integration: the socket-level ALE layers (docs/ale.md) on real sockets. The callout runtime
// takes namespace A's punts and the socket hooks of a cgroup made by the test; child processes
// forked into that cgroup (and into namespace A) make the socket calls, servers live in
// namespace B. Callouts are registered in-process through fwpsk.h.
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <fwpsk.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "examples/plugins/xfp_examples.h"
#include "tests/harness/callout_env.h"
#include "tests/harness/cgroup.h"
#include "tests/harness/sockets.h"
#include "tests/harness/test_env.h"
#include "userspace/core/layers.h"
#include "userspace/core/value_text.h"
#include "xfp/abi.h"

namespace xfp::test {
namespace {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// What the children do (plain system calls only: they are forks of a multi-threaded process).

bool readExactly(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::recv(fd, buf + got, n - got, 0);
    if (r <= 0) {
      return false;
    }
    got += static_cast<size_t>(r);
  }
  return true;
}

// A transparent proxy's life for one connection (run in a child of the cgroup): accepts on
// 127.0.0.1:listenPort (telling `readyFd` once listening), checks the original destination
// (SO_ORIGINAL_DST: 10.199.0.2:origPort) and the redirect records (handle, context, target pid),
// connects there itself with those records on its socket (so it is not redirected again) and
// relays one exchange: 5 bytes from the client, "via-proxy:" + them to the server, the server's
// reply back. 0 on success, else the step that failed (10..19; 15/18/19: its own connect failed
// with EPERM / EAGAIN / another error).
int proxyOnce(uint16_t listenPort,
              uint16_t origPort,
              const char* context,
              size_t contextLen,
              int readyFd,
              bool checkPid = true) {
  const int l = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const Endpoint at = endpoint("127.0.0.1", listenPort);
  if (::bind(l, at.sa(), at.len) != 0 || ::listen(l, 4) != 0) {
    return 10;
  }
  (void)!::write(readyFd, "r", 1);
  const int c = ::accept(l, nullptr, nullptr);
  if (c < 0) {
    return 11;
  }
  sockaddr_in orig{};
  socklen_t len = sizeof orig;
  if (::getsockopt(c, SOL_IP, XFP_SO_ORIGINAL_DST, &orig, &len) != 0 ||
      ntohs(orig.sin_port) != origPort ||
      orig.sin_addr.s_addr != inet_addr(VethNamespaces::kAddr4B)) {
    return 12;
  }
  xfp_redirect_record rec{};
  len = sizeof rec;
  if (::getsockopt(c, XFP_SOL, XFP_SO_REDIRECT_RECORDS, &rec, &len) != 0 ||
      rec.redirect_handle == 0 || rec.context_len != contextLen ||
      std::memcmp(rec.context, context, contextLen) != 0 ||
      (checkPid && rec.target_pid != static_cast<uint32_t>(::getpid()))) {
    return 13;
  }
  const int out = ::socket(AF_INET, SOCK_STREAM, 0);
  if (::setsockopt(out, XFP_SOL, XFP_SO_REDIRECT_RECORDS, &rec, sizeof rec) != 0) {
    return 14;
  }
  if (::connect(out, reinterpret_cast<sockaddr*>(&orig), sizeof orig) != 0) {
    // Which refusal tells the cause: EPERM = the upcall got no answer in time (or a BLOCK),
    // EAGAIN = every CPU but one already had a waiting hook.
    return errno == EPERM ? 15 : errno == EAGAIN ? 18 : 19;
  }
  char buf[5];
  if (!readExactly(c, buf, 5) || ::send(out, "via-proxy:", 10, 0) != 10 ||
      ::send(out, buf, 5, 0) != 5) {
    return 16;
  }
  char reply[64];
  const ssize_t n = ::recv(out, reply, sizeof reply, 0);
  if (n <= 0 || ::send(c, reply, static_cast<size_t>(n), 0) != n) {
    return 17;
  }
  ::close(out);
  ::close(c);
  return 0;
}

// The client of a redirected connection: asks for 10.199.0.2:port, sends "hello", expects the
// server's "reply:via-proxy:hello" back through the proxy. 0 on success.
int clientThroughProxy(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const Endpoint to = endpoint(VethNamespaces::kAddr4B, port);
  if (::connect(fd, to.sa(), to.len) != 0) {
    return 30;
  }
  if (::send(fd, "hello", 5, 0) != 5) {
    return 31;
  }
  char buf[64] = {};
  const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
  return n > 0 && std::string(buf, static_cast<size_t>(n)) == "reply:via-proxy:hello" ? 0 : 32;
}

// The server side in B: accepts one connection (5 s), reads "via-proxy:hello" (15 bytes),
// answers "reply:" + it; returns what it read ("" if nothing came) and the peer's address.
std::string serveOneExchange(int listener, in_addr_t* peerAddr) {
  setTimeouts(listener, 5000ms);
  sockaddr_in peer{};
  socklen_t plen = sizeof peer;
  dataplane::UniqueFd conn(::accept(listener, reinterpret_cast<sockaddr*>(&peer), &plen));
  if (!conn) {
    return "";
  }
  *peerAddr = peer.sin_addr.s_addr;
  setTimeouts(conn.get(), 5000ms);
  char got[15];
  if (!readExactly(conn.get(), got, sizeof got)) {
    return "";
  }
  const std::string text(got, sizeof got);
  const std::string reply = "reply:" + text;
  (void)::send(conn.get(), reply.data(), reply.size(), 0);
  return text;
}

// ---------------------------------------------------------------------------------------------
// Callouts

// Callout keys: 5e0c1a77-42b1-4c0e-8a51-1f3d926e0bNN, one NN per callout (a callout serves the
// one layer it was added for).
GUID keyNo(uint8_t n) {
  return GUID{0x5e0c1a77, 0x42b1, 0x4c0e, {0x8a, 0x51, 0x1f, 0x3d, 0x92, 0x6e, 0x0b, n}};
}
std::string keyText(uint8_t n) {
  return fmt::format("5e0c1a77-42b1-4c0e-8a51-1f3d926e0b{:02x}", n);
}
constexpr uint8_t kInspect = 0x11;
constexpr uint8_t kRedirect = 0x12;
constexpr uint8_t kBind = 0x13;
constexpr uint8_t kLifetime = 0x14;
constexpr uint8_t kProvider = 0x15;
constexpr uint8_t kEstablished = 0x16;
constexpr uint8_t kClosure = 0x17;

NTSTATUS notifyNothing(FWPS_CALLOUT_NOTIFY_TYPE, const GUID*, FWPS_FILTER1*) {
  return STATUS_SUCCESS;
}

// What the callouts saw (reset per test).
struct Seen {
  std::mutex mu;
  std::vector<uint64_t> processIds;
  std::vector<std::vector<uint8_t>> processPaths;
  std::atomic<int> redirected{0};
  std::atomic<int> redirectedBySelf{0};
  std::atomic<int> bindRewritten{0};
  std::atomic<uint16_t> bindOriginalPort{0};
  std::map<uint16_t, int> lifetime;  // FWPS layer id -> classifies
  std::vector<uint64_t> closureEndpoints;
  std::vector<uint32_t> establishedDirections;
  std::map<uint64_t, int> flowDeletes;  // flow context -> flowDeleteFn calls
  std::atomic<uint64_t> nextContext{0x1000};
  std::vector<uint32_t> flagsSeen;
  std::vector<uint32_t> reasonsSeen;
};
Seen* gSeen = nullptr;
HANDLE gRedirectHandle = nullptr;
std::atomic<uint16_t> gProxyPort{0};
std::atomic<uint32_t> gProxyPid{0};
UINT32 gLifetimeId = 0;
const char kProxyContext[] = "proxy-ctx-42";

// ALE_AUTH_CONNECT: records the local process from the metadata and permits.
void inspectClassify(const FWPS_INCOMING_VALUES0*,
                     const FWPS_INCOMING_METADATA_VALUES0* meta,
                     void*,
                     const void*,
                     const FWPS_FILTER1*,
                     UINT64,
                     FWPS_CLASSIFY_OUT0* out) {
  std::lock_guard lock(gSeen->mu);
  if (FWPS_IS_METADATA_FIELD_PRESENT(meta, FWPS_METADATA_FIELD_PROCESS_ID)) {
    gSeen->processIds.push_back(meta->processId);
  }
  if (FWPS_IS_METADATA_FIELD_PRESENT(meta, FWPS_METADATA_FIELD_PROCESS_PATH)) {
    gSeen->processPaths.emplace_back(meta->processPath->data,
                                     meta->processPath->data + meta->processPath->size);
  }
  out->actionType = FWP_ACTION_PERMIT;
}

// ALE_CONNECT_REDIRECT: sends connections to the local proxy, except the proxy's own (its
// socket carries the records of the connection it accepted: REDIRECTED_BY_SELF).
void redirectClassify(const FWPS_INCOMING_VALUES0*,
                      const FWPS_INCOMING_METADATA_VALUES0* meta,
                      void*,
                      const void* classifyContext,
                      const FWPS_FILTER1* filter,
                      UINT64,
                      FWPS_CLASSIFY_OUT0* out) {
  if ((out->rights & FWPS_RIGHT_ACTION_WRITE) == 0) {
    return;
  }
  void* ctx = nullptr;
  if (FWPS_IS_METADATA_FIELD_PRESENT(meta, FWPS_METADATA_FIELD_REDIRECT_RECORD_HANDLE) &&
      FwpsQueryConnectionRedirectState0(meta->redirectRecords, gRedirectHandle, &ctx) ==
          FWPS_CONNECTION_REDIRECTED_BY_SELF) {
    gSeen->redirectedBySelf++;
    out->actionType = FWP_ACTION_PERMIT;
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
    auto* remote = reinterpret_cast<sockaddr_in*>(&req->remoteAddressAndPort);
    inet_pton(AF_INET, "127.0.0.1", &remote->sin_addr);
    remote->sin_port = htons(gProxyPort.load());
    req->localRedirectTargetPID = gProxyPid.load();
    req->localRedirectHandle = gRedirectHandle;
    req->localRedirectContext = const_cast<char*>(kProxyContext);
    req->localRedirectContextSize = sizeof kProxyContext;
    FwpsApplyModifiedLayerData0(handle, req, 0);
    out->actionType = FWP_ACTION_PERMIT;
    gSeen->redirected++;
  }
  FwpsReleaseClassifyHandle0(handle);
}

// ALE_BIND_REDIRECT: a bind to port P goes to P + 1.
void bindClassify(const FWPS_INCOMING_VALUES0*,
                  const FWPS_INCOMING_METADATA_VALUES0*,
                  void* layerData,
                  const void* classifyContext,
                  const FWPS_FILTER1* filter,
                  UINT64,
                  FWPS_CLASSIFY_OUT0* out) {
  const auto* view = static_cast<const FWPS_BIND_REQUEST0*>(layerData);
  const uint16_t port =
      ntohs(reinterpret_cast<const sockaddr_in*>(&view->localAddressAndPort)->sin_port);
  gSeen->bindOriginalPort = port;
  UINT64 handle = 0;
  FWPS_BIND_REQUEST0* req = nullptr;
  if (FwpsAcquireClassifyHandle0(const_cast<void*>(classifyContext), 0, &handle) ==
          STATUS_SUCCESS &&
      FwpsAcquireWritableLayerDataPointer0(
          handle, filter->filterId, 0, reinterpret_cast<PVOID*>(&req), out) == STATUS_SUCCESS) {
    // The copy starts as the request in effect and points back at it.
    if (req->previousVersion == view) {
      reinterpret_cast<sockaddr_in*>(&req->localAddressAndPort)->sin_port =
          htons(static_cast<uint16_t>(port + 1));
      gSeen->bindRewritten++;
    }
    FwpsApplyModifiedLayerData0(handle, req, 0);
    out->actionType = FWP_ACTION_PERMIT;
    FwpsReleaseClassifyHandle0(handle);
  }
}

// Flow established, endpoint closure, and ALE_AUTH_CONNECT (which also associates a flow
// context so that flowDeleteFn reports the flow's end).
void lifetimeClassify(const FWPS_INCOMING_VALUES0* in,
                      const FWPS_INCOMING_METADATA_VALUES0* meta,
                      void*,
                      const void*,
                      const FWPS_FILTER1*,
                      UINT64,
                      FWPS_CLASSIFY_OUT0* out) {
  {
    std::lock_guard lock(gSeen->mu);
    gSeen->lifetime[in->layerId]++;
    if (in->layerId == FWPS_LAYER_ALE_ENDPOINT_CLOSURE_V4 &&
        FWPS_IS_METADATA_FIELD_PRESENT(meta, FWPS_METADATA_FIELD_TRANSPORT_ENDPOINT_HANDLE)) {
      gSeen->closureEndpoints.push_back(meta->transportEndpointHandle);
    }
    if (in->layerId == FWPS_LAYER_ALE_FLOW_ESTABLISHED_V4) {
      gSeen->establishedDirections.push_back(
          in->incomingValue[FWPS_FIELD_ALE_FLOW_ESTABLISHED_V4_DIRECTION].value.uint32);
    }
  }
  if (in->layerId == FWPS_LAYER_ALE_AUTH_CONNECT_V4 &&
      FWPS_IS_METADATA_FIELD_PRESENT(meta, FWPS_METADATA_FIELD_FLOW_HANDLE)) {
    (void)FwpsFlowAssociateContext0(
        meta->flowHandle, in->layerId, gLifetimeId, gSeen->nextContext.fetch_add(1));
  }
  if ((out->rights & FWPS_RIGHT_ACTION_WRITE) != 0) {
    out->actionType = FWP_ACTION_PERMIT;
  }
}

void lifetimeFlowDelete(UINT16, UINT32, UINT64 flowContext) {
  std::lock_guard lock(gSeen->mu);
  gSeen->flowDeletes[flowContext]++;
}

bool waitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) {
      return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

std::string selfExe() {
  return std::filesystem::read_symlink("/proc/self/exe").string();
}

// A callout filter entry of the policy file format.
std::string calloutFilter(const std::string& name,
                          const std::string& layer,
                          const std::string& calloutKey,
                          const std::string& conditions) {
  return R"({"name": ")" + name + R"(", "layer": ")" + layer +
         R"(", "action": "callout_terminating", "callout": ")" + calloutKey +
         R"(", "conditions": [)" + conditions + "]}";
}

std::string calloutDecl(const std::string& key, const std::string& name, const std::string& layer) {
  return R"({"key": ")" + std::string(key) + R"(", "name": ")" + name + R"(", "layer": ")" + layer +
         R"("})";
}

class AleSockets : public ::testing::Test {
 protected:
  void SetUp() override {
    XFP_REQUIRE_ROOT();
    gSeen = &seen_;
    ASSERT_EQ(cgroup_.setUp(), "");
  }
  void TearDown() override {
    for (UINT32 id : registered_) {
      EXPECT_EQ(FwpsCalloutUnregisterById0(id), STATUS_SUCCESS);
    }
    if (gRedirectHandle != nullptr) {
      FwpsRedirectHandleDestroy0(gRedirectHandle);
      gRedirectHandle = nullptr;
    }
    env_.tearDown();
    gSeen = nullptr;
  }

  // The runtime with `policyJson`, its socket hooks on the test's cgroup.
  void start(const std::string& policyJson,
             std::chrono::milliseconds wait = std::chrono::milliseconds(200)) {
    ASSERT_EQ(env_.setUp(policyJson), "");
    auto r = env_.runtime().attachCgroup(cgroup_.path(), wait);
    ASSERT_TRUE(r) << r.error().message;
  }

  UINT32 registerCallout(const GUID& key,
                         FWPS_CALLOUT_CLASSIFY_FN1 fn,
                         FWPS_CALLOUT_FLOW_DELETE_NOTIFY_FN0 flowDelete = nullptr) {
    FWPS_CALLOUT1 c{};
    c.calloutKey = key;
    c.classifyFn = fn;
    c.notifyFn = notifyNothing;
    c.flowDeleteFn = flowDelete;
    UINT32 id = 0;
    EXPECT_EQ(FwpsCalloutRegister1(nullptr, &c, &id), STATUS_SUCCESS);
    registered_.push_back(id);
    return id;
  }

  // A TCP listener in namespace B.
  dataplane::UniqueFd listenInB(uint16_t port) {
    return tcpListenerIn(env_.ns().nsB(), VethNamespaces::kAddr4B, port, 5000ms);
  }

  // A proxy child (proxyOnce) in namespace A, returned once it listens on 127.0.0.1:listenPort.
  pid_t startProxy(uint16_t listenPort,
                   uint16_t origPort,
                   const char* context,
                   size_t contextLen,
                   bool checkPid) {
    int ready[2];
    if (::pipe(ready) != 0) {
      return -1;
    }
    const pid_t pid = cgroup_.spawnInside(env_.ns().nsA(), [&] {
      ::close(ready[0]);
      return proxyOnce(listenPort, origPort, context, contextLen, ready[1], checkPid);
    });
    ::close(ready[1]);
    char r = 0;
    const bool listening = pid > 0 && ::read(ready[0], &r, 1) == 1;
    ::close(ready[0]);
    return listening ? pid : -1;
  }

  Seen seen_;
  TestCgroup cgroup_;
  CalloutEnv env_;
  std::vector<UINT32> registered_;
};

// ---------------------------------------------------------------------------------------------

TEST_F(AleSockets, ProcessIdentityDecidesConnect) {
  // Two copies of bash at different paths: the app id of one is blocked at 7501.
  const std::string dir = "/tmp/xfpt" + std::to_string(::getpid()) + "ale";
  std::filesystem::create_directories(dir + "/blocked");
  std::filesystem::create_directories(dir + "/allowed");
  for (const char* sub : {"/blocked/nettool", "/allowed/nettool"}) {
    std::filesystem::copy_file(
        "/bin/bash", dir + sub, std::filesystem::copy_options::overwrite_existing);
  }
  const std::string blockedApp = dir + "/blocked/nettool";
  start(R"({"xfp_policy": 1,
    "callouts": [)" +
        calloutDecl(keyText(kInspect), "inspect", "ALE_AUTH_CONNECT_V4") + R"(],
    "filters": [
      {"name": "app", "layer": "ALE_AUTH_CONNECT_V4", "action": "block",
       "conditions": [{"field": "ALE_APP_ID", "value": ")" +
        blockedApp + R"("}, {"field": "IP_REMOTE_PORT", "value": 7501}]},
      {"name": "user", "layer": "ALE_AUTH_CONNECT_V4", "action": "block",
       "conditions": [{"field": "ALE_USER_ID", "value": "uid=65534"},
                      {"field": "IP_REMOTE_PORT", "value": 7502}]},
      {"name": "cgroup", "layer": "ALE_AUTH_CONNECT_V4", "action": "block",
       "conditions": [{"field": "ALE_PACKAGE_ID", "value": "cgroup:)" +
        cgroup_.path() + R"("}, {"field": "IP_REMOTE_PORT", "value": 7503}]},
      )" +
        calloutFilter("who",
                      "ALE_AUTH_CONNECT_V4",
                      keyText(kInspect),
                      R"({"field": "IP_REMOTE_PORT", "value": 7504})") +
        "]}");
  registerCallout(keyNo(kInspect), inspectClassify);
  std::vector<dataplane::UniqueFd> listeners;
  for (uint16_t port : {7501, 7502, 7503, 7504}) {
    listeners.push_back(listenInB(port));
  }
  const std::string nsA = env_.ns().nsA();
  auto bashConnect = [&](const std::string& app, uint16_t port) {
    const std::string script =
        "exec 3<>/dev/tcp/" + std::string(VethNamespaces::kAddr4B) + "/" + std::to_string(port);
    return cgroup_.runInside(nsA, [&] {
      const char* argv[] = {"timeout", "2", app.c_str(), "-c", script.c_str(), nullptr};
      ::execvp("timeout", const_cast<char* const*>(argv));
      return 127;
    });
  };
  // App id: the blocked copy cannot connect to 7501 (timeout's 124), the other copy can.
  EXPECT_EQ(bashConnect(blockedApp, 7501), 124);
  EXPECT_EQ(bashConnect(dir + "/allowed/nettool", 7501), 0);
  // User: uid 65534 is blocked at 7502, root is not.
  EXPECT_EQ(cgroup_.runInside(nsA,
                              [] {
                                if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
                                  return 99;
                                }
                                return connectWithin(VethNamespaces::kAddr4B, 7502, 1500);
                              }),
            ETIMEDOUT);
  EXPECT_EQ(
      cgroup_.runInside(nsA, [] { return connectWithin(VethNamespaces::kAddr4B, 7502, 1500); }), 0);
  // Package id = the cgroup: its processes are blocked at 7503; the test process (outside the
  // cgroup, so without an identity) is not.
  EXPECT_EQ(
      cgroup_.runInside(nsA, [] { return connectWithin(VethNamespaces::kAddr4B, 7503, 1500); }),
      ETIMEDOUT);
  int outside = -1;
  ASSERT_EQ(VethNamespaces::runIn(
                nsA, [&] { outside = connectWithin(VethNamespaces::kAddr4B, 7503, 1500); }),
            "");
  EXPECT_EQ(outside, 0);
  // The callout at 7504 sees the child's pid and executable path in the metadata.
  const pid_t child =
      cgroup_.spawnInside(nsA, [] { return connectWithin(VethNamespaces::kAddr4B, 7504, 1500); });
  ASSERT_GT(child, 0);
  EXPECT_EQ(cgroup_.wait(child, 5s), 0);
  std::lock_guard lock(seen_.mu);
  ASSERT_EQ(seen_.processIds.size(), 1u);
  EXPECT_EQ(seen_.processIds[0], static_cast<uint64_t>(child));
  ASSERT_EQ(seen_.processPaths.size(), 1u);
  EXPECT_EQ(seen_.processPaths[0], appIdFromPath(selfExe()));
  std::filesystem::remove_all(dir);
}

TEST_F(AleSockets, ConnectRedirectedToALocalProxyThatReadsTheOriginalDestination) {
  start(R"({"xfp_policy": 1, "callouts": [)" +
        calloutDecl(keyText(kRedirect), "redirect", "ALE_CONNECT_REDIRECT_V4") +
        R"(], "filters": [)" +
        calloutFilter("to proxy",
                      "ALE_CONNECT_REDIRECT_V4",
                      keyText(kRedirect),
                      R"({"field": "IP_REMOTE_PORT", "value": 7600})") +
        "]}");
  registerCallout(keyNo(kRedirect), redirectClassify);
  const GUID provider = keyNo(kProvider);
  ASSERT_EQ(FwpsRedirectHandleCreate0(&provider, 0, &gRedirectHandle), STATUS_SUCCESS);
  gProxyPort = 7610;
  dataplane::UniqueFd server = listenInB(7600);
  const std::string nsA = env_.ns().nsA();

  // The proxy: accepts on 127.0.0.1:7610, learns the original destination, connects there itself
  // with the accepted connection's records (so it is not redirected again) and relays one
  // exchange. It expects its own pid as the redirect's target: the callout reads gProxyPid.
  const pid_t proxy = startProxy(7610, 7600, kProxyContext, sizeof kProxyContext, true);
  ASSERT_GT(proxy, 0) << "the proxy did not start";
  gProxyPid = static_cast<uint32_t>(proxy);

  // The client asks for 10.199.0.2:7600; the redirect sends it to the proxy.
  const pid_t client = cgroup_.spawnInside(nsA, [] { return clientThroughProxy(7600); });
  ASSERT_GT(client, 0);

  // The server in B sees the proxy's connection (from A's address) carrying the client's bytes.
  in_addr_t peer = 0;
  EXPECT_EQ(serveOneExchange(server.get(), &peer), "via-proxy:hello");
  EXPECT_EQ(peer, inet_addr(VethNamespaces::kAddr4A));

  std::string why;
  EXPECT_EQ(cgroup_.wait(client, 10s, &why), 0) << why;
  const xfp_sock_stats hooks = env_.runtime().socketHookStats();
  EXPECT_EQ(cgroup_.wait(proxy, 10s, &why), 0)
      << why << " (hooks: " << hooks.upcalls << " upcalls, " << hooks.answered << " answered, "
      << hooks.timed_out << " timed out, " << hooks.busy << " busy)";
  EXPECT_EQ(seen_.redirected.load(), 1) << "the client's connect, redirected once";
  EXPECT_EQ(seen_.redirectedBySelf.load(), 1) << "the proxy's own connect, recognized";
  EXPECT_EQ(env_.runtime().stats().sockRedirected.load(), 1u);
}

TEST_F(AleSockets, BindRedirected) {
  start(R"({"xfp_policy": 1, "callouts": [)" +
        calloutDecl(keyText(kBind), "bind", "ALE_BIND_REDIRECT_V4") + R"(], "filters": [)" +
        calloutFilter("rebind",
                      "ALE_BIND_REDIRECT_V4",
                      keyText(kBind),
                      R"({"field": "IP_LOCAL_PORT", "value": 7700},
                         {"field": "IP_PROTOCOL", "value": "udp"})") +
        "]}");
  registerCallout(keyNo(kBind), bindClassify);
  const std::string nsA = env_.ns().nsA();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  // The child binds UDP port 7700, finds itself on 7701 and receives what B sends there.
  const pid_t child = cgroup_.spawnInside(nsA, [&] {
    ::close(ready[0]);
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    const Endpoint at = endpoint("0.0.0.0", 7700);
    if (::bind(fd, at.sa(), at.len) != 0) {
      return 40;
    }
    sockaddr_in got{};
    socklen_t len = sizeof got;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&got), &len);
    if (ntohs(got.sin_port) != 7701) {
      return 41;
    }
    (void)!::write(ready[1], "r", 1);
    setTimeouts(fd, 5000ms);
    char buf[16] = {};
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return n == 7 && std::memcmp(buf, "to-7701", 7) == 0 ? 0 : 42;
  });
  ASSERT_GT(child, 0);
  ::close(ready[1]);
  char r = 0;
  const bool bound = ::read(ready[0], &r, 1) == 1;
  ::close(ready[0]);
  if (bound) {
    dataplane::UniqueFd tx = socketIn(env_.ns().nsB(), AF_INET, SOCK_DGRAM, 5000ms);
    const Endpoint to = endpoint(VethNamespaces::kAddr4A, 7701);
    ASSERT_EQ(::sendto(tx.get(), "to-7701", 7, 0, to.sa(), to.len), 7);
  }
  std::string why;
  EXPECT_EQ(cgroup_.wait(child, 10s, &why), 0) << why;
  EXPECT_EQ(seen_.bindOriginalPort.load(), 7700);
  EXPECT_EQ(seen_.bindRewritten.load(), 1);
}

TEST_F(AleSockets, EndpointEnumerationListsALiveSocket) {
  start(R"({"xfp_policy": 1, "filters": []})");
  const std::string nsA = env_.ns().nsA();
  int ready[2];
  int done[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(done), 0);
  const pid_t child = cgroup_.spawnInside(nsA, [&] {
    ::close(ready[0]);
    ::close(done[1]);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const Endpoint at = endpoint(VethNamespaces::kAddr4A, 7800);
    if (::bind(fd, at.sa(), at.len) != 0 || ::listen(fd, 1) != 0) {
      return 50;
    }
    (void)!::write(ready[1], "r", 1);
    char c = 0;
    (void)!::read(done[0], &c, 1);  // until the test has looked
    ::close(fd);
    return 0;
  });
  ASSERT_GT(child, 0);
  ::close(ready[1]);
  ::close(done[0]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);

  const HANDLE engine = reinterpret_cast<HANDLE>(1);
  FWPS_ALE_ENDPOINT_ENUM_TEMPLATE0 tmpl{};
  tmpl.localPort.type = FWP_UINT16;
  tmpl.localPort.uint16 = 7800;
  tmpl.ipProtocol.type = FWP_UINT8;
  tmpl.ipProtocol.uint8 = IPPROTO_TCP;
  const std::vector<uint8_t> app = appIdFromPath(selfExe());
  std::vector<bool> appMatched;
  auto listed = [&]() {
    std::vector<FWPS_ALE_ENDPOINT_PROPERTIES0> out;
    appMatched.clear();
    HANDLE e = nullptr;
    if (FwpsAleEndpointCreateEnumHandle0(engine, &tmpl, &e) != STATUS_SUCCESS) {
      return out;
    }
    FWPS_ALE_ENDPOINT_PROPERTIES0** entries = nullptr;
    UINT32 n = 0;
    if (FwpsAleEndpointEnum0(engine, e, 16, &entries, &n) == STATUS_SUCCESS) {
      for (UINT32 i = 0; i < n; ++i) {
        out.push_back(*entries[i]);
        out.back().appId.data = nullptr;  // the block is freed below
        appMatched.push_back(entries[i]->appId.size == app.size() &&
                             std::memcmp(entries[i]->appId.data, app.data(), app.size()) == 0);
      }
      FwpmFreeMemory0(reinterpret_cast<void**>(&entries));
    }
    EXPECT_EQ(FwpsAleEndpointDestroyEnumHandle0(engine, e), STATUS_SUCCESS);
    return out;
  };
  std::vector<FWPS_ALE_ENDPOINT_PROPERTIES0> found;
  ASSERT_TRUE(waitFor(
      [&] {
        found = listed();
        return found.size() == 1;
      },
      3s));
  const FWPS_ALE_ENDPOINT_PROPERTIES0& p = found[0];
  EXPECT_EQ(p.ipVersion, FWP_IP_VERSION_V4);
  EXPECT_EQ(p.localV4Address, ntohl(inet_addr(VethNamespaces::kAddr4A)));
  EXPECT_EQ(p.localPort, 7800);
  EXPECT_EQ(p.ipProtocol, IPPROTO_TCP);
  ASSERT_EQ(appMatched.size(), 1u);
  EXPECT_TRUE(appMatched[0]) << "the app id is the listener's executable";
  EXPECT_NE(p.endpointId, 0u);
  FWPS_ALE_ENDPOINT_PROPERTIES0* one = nullptr;
  ASSERT_EQ(FwpsAleEndpointGetById0(engine, p.endpointId, &one), STATUS_SUCCESS);
  EXPECT_EQ(one->localPort, 7800);
  FwpmFreeMemory0(reinterpret_cast<void**>(&one));
  // A template of another port lists nothing; the socket's close removes it.
  tmpl.localPort.uint16 = 7801;
  EXPECT_TRUE(listed().empty());
  tmpl.localPort.uint16 = 7800;
  (void)!::write(done[1], "d", 1);
  ::close(done[1]);
  EXPECT_EQ(cgroup_.wait(child, 5s), 0);
  EXPECT_TRUE(waitFor([&] { return listed().empty(); }, 3s));
  EXPECT_EQ(FwpsAleEndpointGetById0(engine, p.endpointId, &one), STATUS_NOT_FOUND);
}

TEST_F(AleSockets, ClosureAndFlowDeleteOncePerConnection) {
  const std::string port = R"({"field": "IP_REMOTE_PORT", "value": 7900})";
  start(R"({"xfp_policy": 1, "callouts": [)" +
        calloutDecl(keyText(kLifetime), "auth", "ALE_AUTH_CONNECT_V4") + "," +
        calloutDecl(keyText(kEstablished), "established", "ALE_FLOW_ESTABLISHED_V4") + "," +
        calloutDecl(keyText(kClosure), "closure", "ALE_ENDPOINT_CLOSURE_V4") +
        R"(], "filters": [)" +
        calloutFilter("auth", "ALE_AUTH_CONNECT_V4", keyText(kLifetime), port) + "," +
        calloutFilter("established", "ALE_FLOW_ESTABLISHED_V4", keyText(kEstablished), port) + "," +
        calloutFilter("closure", "ALE_ENDPOINT_CLOSURE_V4", keyText(kClosure), port) + "]}");
  gLifetimeId = registerCallout(keyNo(kLifetime), lifetimeClassify, lifetimeFlowDelete);
  registerCallout(keyNo(kEstablished), lifetimeClassify);
  registerCallout(keyNo(kClosure), lifetimeClassify);
  dataplane::UniqueFd server = listenInB(7900);
  const std::string nsA = env_.ns().nsA();
  const pid_t child = cgroup_.spawnInside(nsA, [] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const Endpoint to = endpoint(VethNamespaces::kAddr4B, 7900);
    if (::connect(fd, to.sa(), to.len) != 0) {
      return 60;
    }
    if (::send(fd, "x", 1, 0) != 1) {
      return 61;
    }
    char c = 0;
    setTimeouts(fd, 5000ms);
    (void)::recv(fd, &c, 1, 0);  // the server closes: FIN both ways
    ::close(fd);
    return 0;
  });
  ASSERT_GT(child, 0);
  setTimeouts(server.get(), 5000ms);
  {
    dataplane::UniqueFd conn(::accept(server.get(), nullptr, nullptr));
    ASSERT_TRUE(conn);
    char c = 0;
    setTimeouts(conn.get(), 5000ms);
    EXPECT_EQ(::recv(conn.get(), &c, 1, 0), 1);
  }  // closed
  EXPECT_EQ(cgroup_.wait(child, 10s), 0);
  auto count = [&](uint16_t layer) {
    std::lock_guard lock(seen_.mu);
    return seen_.lifetime[layer];
  };
  EXPECT_TRUE(waitFor(
      [&] {
        std::lock_guard lock(seen_.mu);
        return seen_.flowDeletes.size() == 1 && seen_.closureEndpoints.size() == 1;
      },
      5s));
  std::this_thread::sleep_for(500ms);  // nothing more may come
  EXPECT_EQ(count(FWPS_LAYER_ALE_AUTH_CONNECT_V4), 1);
  EXPECT_EQ(count(FWPS_LAYER_ALE_FLOW_ESTABLISHED_V4), 1);
  EXPECT_EQ(count(FWPS_LAYER_ALE_ENDPOINT_CLOSURE_V4), 1);
  std::lock_guard lock(seen_.mu);
  ASSERT_EQ(seen_.flowDeletes.size(), 1u);
  EXPECT_EQ(seen_.flowDeletes.begin()->second, 1) << "flowDeleteFn exactly once per flow";
  ASSERT_EQ(seen_.establishedDirections.size(), 1u);
  EXPECT_EQ(seen_.establishedDirections[0], static_cast<uint32_t>(FWP_DIRECTION_OUTBOUND));
  ASSERT_EQ(seen_.closureEndpoints.size(), 1u);
  EXPECT_NE(seen_.closureEndpoints[0], 0u);
}

std::atomic<bool> gBlockOnReauth{false};

// ALE_AUTH_CONNECT: records FLAGS and REAUTHORIZE_REASON; blocks re-authorizations when asked.
void reauthClassify(const FWPS_INCOMING_VALUES0* in,
                    const FWPS_INCOMING_METADATA_VALUES0*,
                    void*,
                    const void*,
                    const FWPS_FILTER1*,
                    UINT64,
                    FWPS_CLASSIFY_OUT0* out) {
  const UINT32 flags = in->incomingValue[FWPS_FIELD_ALE_AUTH_CONNECT_V4_FLAGS].value.uint32;
  const FWP_VALUE0& reason =
      in->incomingValue[FWPS_FIELD_ALE_AUTH_CONNECT_V4_REAUTHORIZE_REASON].value;
  {
    std::lock_guard lock(gSeen->mu);
    gSeen->flagsSeen.push_back(flags);
    gSeen->reasonsSeen.push_back(reason.type == FWP_UINT32 ? reason.uint32 : 0);
  }
  const bool reauth = (flags & FWP_CONDITION_FLAG_IS_REAUTHORIZE) != 0;
  out->actionType = reauth && gBlockOnReauth.load() ? FWP_ACTION_BLOCK : FWP_ACTION_PERMIT;
}

TEST_F(AleSockets, ReauthorizationIsFlaggedToCalloutsAndCutsTheFlow) {
  start(R"({"xfp_policy": 1, "callouts": [)" +
        calloutDecl(keyText(0x41), "reauth", "ALE_AUTH_CONNECT_V4") + R"(], "filters": [)" +
        calloutFilter("reauth",
                      "ALE_AUTH_CONNECT_V4",
                      keyText(0x41),
                      R"({"field": "IP_REMOTE_PORT", "value": 7960})") +
        "]}");
  registerCallout(keyNo(0x41), reauthClassify);
  gBlockOnReauth = true;
  dataplane::UniqueFd server = listenInB(7960);
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  const pid_t child = cgroup_.spawnInside(env_.ns().nsA(), [&] {
    ::close(go[1]);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const Endpoint to = endpoint(VethNamespaces::kAddr4B, 7960);
    if (::connect(fd, to.sa(), to.len) != 0 || ::send(fd, "before", 6, 0) != 6) {
      return 70;
    }
    char c = 0;
    (void)!::read(go[0], &c, 1);
    return ::send(fd, "after", 5, MSG_NOSIGNAL) == 5 ? 0 : 71;
  });
  ASSERT_GT(child, 0);
  ::close(go[0]);
  setTimeouts(server.get(), 5000ms);
  dataplane::UniqueFd conn(::accept(server.get(), nullptr, nullptr));
  ASSERT_TRUE(conn);
  setTimeouts(conn.get(), 1000ms);
  char buf[16];
  ASSERT_TRUE(readExactly(conn.get(), buf, 6));
  // A policy change at the layer: every flow it authorized is re-authorized on its next packet.
  Filter other;
  other.displayData.name = "another connect filter";
  other.layerKey = layerByName("ALE_AUTH_CONNECT_V4")->key;
  other.action.type = ActionType::Permit;
  Condition c;
  c.fieldKey = layerByName("ALE_AUTH_CONNECT_V4")->fieldByName("IP_REMOTE_PORT")->conditionKey;
  c.value = ConditionValue(Value::uint16(7961));
  other.conditions.push_back(c);
  ASSERT_TRUE(env_.runtime().addFilter(other));
  ASSERT_TRUE(env_.runtime().commit());
  (void)!::write(go[1], "g", 1);
  ::close(go[1]);
  EXPECT_EQ(cgroup_.wait(child, 5s), 0);
  EXPECT_LT(::recv(conn.get(), buf, sizeof buf, 0), 1) << "the re-authorized flow is blocked";
  std::lock_guard lock(seen_.mu);
  ASSERT_GE(seen_.flagsSeen.size(), 2u);
  EXPECT_EQ(seen_.flagsSeen[0] & FWP_CONDITION_FLAG_IS_REAUTHORIZE, 0u) << "the first classify";
  EXPECT_NE(seen_.flagsSeen[1] & FWP_CONDITION_FLAG_IS_REAUTHORIZE, 0u);
  EXPECT_EQ(seen_.reasonsSeen[1],
            static_cast<UINT32>(FWP_CONDITION_REAUTHORIZE_REASON_POLICY_CHANGE));
}

TEST_F(AleSockets, ResourceAssignmentReleaseAndClosureOfAUdpSocket) {
  const std::string port = R"({"field": "IP_LOCAL_PORT", "value": 7970})";
  start(R"({"xfp_policy": 1, "callouts": [)" +
        calloutDecl(keyText(0x42), "assign", "ALE_RESOURCE_ASSIGNMENT_V4") + "," +
        calloutDecl(keyText(0x43), "release", "ALE_RESOURCE_RELEASE_V4") + "," +
        calloutDecl(keyText(0x44), "closure", "ALE_ENDPOINT_CLOSURE_V4") + "," +
        calloutDecl(keyText(kLifetime), "auth", "ALE_AUTH_CONNECT_V4") + "," +
        calloutDecl(keyText(0x45), "established", "ALE_FLOW_ESTABLISHED_V4") +
        R"(], "filters": [
      {"name": "no 7971", "layer": "ALE_RESOURCE_ASSIGNMENT_V4", "action": "block",
       "conditions": [{"field": "IP_LOCAL_PORT", "value": 7971}]},)" +
        calloutFilter("assign", "ALE_RESOURCE_ASSIGNMENT_V4", keyText(0x42), port) + "," +
        calloutFilter("release", "ALE_RESOURCE_RELEASE_V4", keyText(0x43), port) + "," +
        calloutFilter("closure", "ALE_ENDPOINT_CLOSURE_V4", keyText(0x44), port) + "," +
        calloutFilter("auth", "ALE_AUTH_CONNECT_V4", keyText(kLifetime), port) + "," +
        calloutFilter("established", "ALE_FLOW_ESTABLISHED_V4", keyText(0x45), port) + "]}");
  registerCallout(keyNo(0x42), lifetimeClassify);
  registerCallout(keyNo(0x45), lifetimeClassify);
  registerCallout(keyNo(0x43), lifetimeClassify);
  registerCallout(keyNo(0x44), lifetimeClassify);
  gLifetimeId = registerCallout(keyNo(kLifetime), lifetimeClassify, lifetimeFlowDelete);
  dataplane::UniqueFd rx = socketIn(env_.ns().nsB(), AF_INET, SOCK_DGRAM, 5000ms);
  const Endpoint at = endpoint(VethNamespaces::kAddr4B, 7972);
  ASSERT_EQ(::bind(rx.get(), at.sa(), at.len), 0);
  const pid_t child = cgroup_.spawnInside(env_.ns().nsA(), [] {
    const int refused = ::socket(AF_INET, SOCK_DGRAM, 0);
    const Endpoint no = endpoint("0.0.0.0", 7971);
    if (::bind(refused, no.sa(), no.len) == 0 || errno != EPERM) {
      return 80;  // the static BLOCK at resource assignment refuses the bind
    }
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    const Endpoint yes = endpoint("0.0.0.0", 7970);
    if (::bind(fd, yes.sa(), yes.len) != 0) {
      return 81;
    }
    const Endpoint to = endpoint(VethNamespaces::kAddr4B, 7972);
    if (::sendto(fd, "u", 1, 0, to.sa(), to.len) != 1) {
      return 82;
    }
    ::close(fd);
    ::close(refused);
    return 0;
  });
  ASSERT_GT(child, 0);
  EXPECT_EQ(cgroup_.wait(child, 5s), 0);
  char b = 0;
  EXPECT_EQ(::recv(rx.get(), &b, 1, 0), 1) << "the datagram of the bound socket went out";
  auto count = [&](uint16_t layer) {
    std::lock_guard lock(seen_.mu);
    return seen_.lifetime[layer];
  };
  EXPECT_TRUE(waitFor(
      [&] {
        std::lock_guard lock(seen_.mu);
        return seen_.flowDeletes.size() == 1 &&
               seen_.lifetime[FWPS_LAYER_ALE_RESOURCE_RELEASE_V4] == 1;
      },
      5s));
  std::this_thread::sleep_for(300ms);  // nothing more may come
  EXPECT_EQ(count(FWPS_LAYER_ALE_RESOURCE_ASSIGNMENT_V4), 1);
  EXPECT_EQ(count(FWPS_LAYER_ALE_RESOURCE_RELEASE_V4), 1) << "one release per assignment";
  EXPECT_EQ(count(FWPS_LAYER_ALE_ENDPOINT_CLOSURE_V4), 1) << "once per UDP socket";
  EXPECT_EQ(count(FWPS_LAYER_ALE_AUTH_CONNECT_V4), 1);
  EXPECT_EQ(count(FWPS_LAYER_ALE_FLOW_ESTABLISHED_V4), 1) << "right after the authorization";
  std::lock_guard lock(seen_.mu);
  ASSERT_EQ(seen_.establishedDirections.size(), 1u);
  EXPECT_EQ(seen_.establishedDirections[0], static_cast<uint32_t>(FWP_DIRECTION_OUTBOUND));
  ASSERT_EQ(seen_.flowDeletes.size(), 1u);
  EXPECT_EQ(seen_.flowDeletes.begin()->second, 1) << "the socket's close ends its flow once";
}

// ALE_CONNECT_REDIRECT, asynchronously: classifyFn takes a writable copy and pends; another
// thread redirects and completes `delay` later (or never).
struct PendedRedirect {
  UINT64 handle = 0;
  UINT64 filterId = 0;
  FWPS_CONNECT_REQUEST0* req = nullptr;
};
std::mutex gPendMu;
std::vector<PendedRedirect> gPended;

void pendingRedirectClassify(const FWPS_INCOMING_VALUES0*,
                             const FWPS_INCOMING_METADATA_VALUES0*,
                             void*,
                             const void* classifyContext,
                             const FWPS_FILTER1* filter,
                             UINT64,
                             FWPS_CLASSIFY_OUT0* out) {
  PendedRedirect p;
  p.filterId = filter->filterId;
  if (FwpsAcquireClassifyHandle0(const_cast<void*>(classifyContext), 0, &p.handle) !=
          STATUS_SUCCESS ||
      FwpsAcquireWritableLayerDataPointer0(
          p.handle, p.filterId, 0, reinterpret_cast<PVOID*>(&p.req), out) != STATUS_SUCCESS ||
      FwpsPendClassify0(p.handle, p.filterId, 0, out) != STATUS_SUCCESS) {
    out->actionType = FWP_ACTION_BLOCK;
    return;
  }
  std::lock_guard lock(gPendMu);
  gPended.push_back(p);
}

void completeRedirect(const PendedRedirect& p, uint16_t toPort) {
  auto* remote = reinterpret_cast<sockaddr_in*>(&p.req->remoteAddressAndPort);
  inet_pton(AF_INET, "127.0.0.1", &remote->sin_addr);
  remote->sin_port = htons(toPort);
  FwpsApplyModifiedLayerData0(p.handle, p.req, 0);
  FWPS_CLASSIFY_OUT0 out{};
  out.actionType = FWP_ACTION_PERMIT;
  FwpsCompleteClassify0(p.handle, 0, &out);
  FwpsReleaseClassifyHandle0(p.handle);
}

TEST_F(AleSockets, PendedRedirectCompletedWithinTheWaitAndNeverCompleted) {
  start(R"({"xfp_policy": 1, "callouts": [)" +
            calloutDecl(keyText(0x46), "pend redirect", "ALE_CONNECT_REDIRECT_V4") +
            R"(], "filters": [)" +
            calloutFilter("pend redirect",
                          "ALE_CONNECT_REDIRECT_V4",
                          keyText(0x46),
                          R"({"field": "IP_REMOTE_PORT", "value": 7620})") +
            "]}",
        1000ms);  // room for the 50 ms pend on a loaded machine
  registerCallout(keyNo(0x46), pendingRedirectClassify);
  gPended.clear();
  const std::string nsA = env_.ns().nsA();
  // The redirect target: a listener on 127.0.0.1:7621 in A (the test's own socket).
  dataplane::UniqueFd target = socketIn(nsA, AF_INET, SOCK_STREAM, 3000ms);
  const Endpoint at = endpoint("127.0.0.1", 7621);
  ASSERT_EQ(::bind(target.get(), at.sa(), at.len), 0);
  ASSERT_EQ(::listen(target.get(), 4), 0);
  std::atomic<bool> stop{false};
  // Completes each pend 50 ms after it appears, from another thread.
  std::thread completer([&] {
    for (int i = 0; i < 400 && !stop.load(); ++i) {
      std::this_thread::sleep_for(10ms);
      std::vector<PendedRedirect> ready;
      {
        std::lock_guard lock(gPendMu);
        ready.swap(gPended);
      }
      for (const auto& p : ready) {
        std::this_thread::sleep_for(50ms);
        completeRedirect(p, 7621);
      }
    }
  });
  const int completed =
      cgroup_.runInside(nsA, [] { return connectWithin(VethNamespaces::kAddr4B, 7620, 2000); });
  EXPECT_EQ(completed, 0) << "the pended connect went on after the completion";
  setTimeouts(target.get(), 2000ms);
  dataplane::UniqueFd conn(::accept(target.get(), nullptr, nullptr));
  EXPECT_TRUE(conn) << "and landed where the completion redirected it";
  stop = true;
  completer.join();
  EXPECT_EQ(env_.runtime().stats().pended.load(), 1u);

  // Never completed: the socket call gives up after its wait (1 s here) with EPERM.
  const auto before = std::chrono::steady_clock::now();
  const int abandoned =
      cgroup_.runInside(nsA, [] { return connectWithin(VethNamespaces::kAddr4B, 7620, 2000); });
  const auto took = std::chrono::steady_clock::now() - before;
  EXPECT_EQ(abandoned, EPERM);
  EXPECT_LT(took, 3000ms) << "bounded by the wait, not by the pend time-out (30 s)";
  std::lock_guard lock(gPendMu);
  ASSERT_EQ(gPended.size(), 1u);
  // Completing it late changes nothing for the failed call (nobody waits for the answer).
  completeRedirect(gPended.front(), 7621);
  gPended.clear();
}

TEST_F(AleSockets, RecvAcceptSeesTheListenersIdentity) {
  start(R"({"xfp_policy": 1, "callouts": [)" +
        calloutDecl(keyText(0x47), "who accepts", "ALE_AUTH_RECV_ACCEPT_V4") +
        R"(], "filters": [
      {"name": "cgroup listeners", "layer": "ALE_AUTH_RECV_ACCEPT_V4", "action": "block",
       "conditions": [{"field": "ALE_PACKAGE_ID", "value": "cgroup:)" +
        cgroup_.path() + R"("}, {"field": "IP_LOCAL_PORT", "value": 7505},
                      {"field": "IP_LOCAL_PORT", "value": 7506}]},
      )" +
        calloutFilter("who accepts",
                      "ALE_AUTH_RECV_ACCEPT_V4",
                      keyText(0x47),
                      R"({"field": "IP_LOCAL_PORT", "value": 7507})") +
        "]}");
  registerCallout(keyNo(0x47), inspectClassify);
  const std::string nsA = env_.ns().nsA();
  // A listener of the cgroup in A; 0 when it accepted a connection within 1.5 s.
  auto listener = [&](uint16_t port, pid_t* pid, bool dualStack = false) {
    int ready[2];
    EXPECT_EQ(::pipe(ready), 0);
    *pid = cgroup_.spawnInside(nsA, [&, port, dualStack] {
      ::close(ready[0]);
      // dualStack: [::]:port without IPV6_V6ONLY, which takes IPv4 connections too
      const Endpoint at = endpoint(dualStack ? "::" : VethNamespaces::kAddr4A, port);
      const int fd = ::socket(at.family, SOCK_STREAM, 0);
      if (::bind(fd, at.sa(), at.len) != 0 || ::listen(fd, 4) != 0) {
        return 90;
      }
      (void)!::write(ready[1], "r", 1);
      pollfd p{fd, POLLIN, 0};
      return ::poll(&p, 1, 1500) == 1 ? 0 : 1;
    });
    ::close(ready[1]);
    char c = 0;
    EXPECT_EQ(::read(ready[0], &c, 1), 1);
    ::close(ready[0]);
  };
  auto connectFromB = [&](uint16_t port) {
    int r = -1;
    EXPECT_EQ(VethNamespaces::runIn(
                  env_.ns().nsB(), [&] { r = connectWithin(VethNamespaces::kAddr4A, port, 1000); }),
              "");
    return r;
  };
  pid_t blocked = 0;
  listener(7505, &blocked);
  EXPECT_EQ(connectFromB(7505), ETIMEDOUT) << "the cgroup's listener is blocked at recv-accept";
  EXPECT_EQ(cgroup_.wait(blocked, 5s), 1);
  // A dual-stack listener's IPv4 connections are IPv4 for WFP: the _V4 filter decides.
  pid_t dual = 0;
  listener(7506, &dual, true);
  EXPECT_EQ(connectFromB(7506), ETIMEDOUT) << "the [::] listener of the cgroup is identified";
  EXPECT_EQ(cgroup_.wait(dual, 5s), 1);
  // Its release reaches the endpoint table asynchronously: wait until it is gone.
  FWPS_ALE_ENDPOINT_ENUM_TEMPLATE0 tmpl{};
  tmpl.localPort.type = FWP_UINT16;
  tmpl.localPort.uint16 = 7505;
  EXPECT_TRUE(waitFor(
      [&] {
        HANDLE e = nullptr;
        FWPS_ALE_ENDPOINT_PROPERTIES0** entries = nullptr;
        UINT32 n = 1;
        const HANDLE engine = reinterpret_cast<HANDLE>(1);
        if (FwpsAleEndpointCreateEnumHandle0(engine, &tmpl, &e) == STATUS_SUCCESS) {
          (void)FwpsAleEndpointEnum0(engine, e, 4, &entries, &n);
          FwpmFreeMemory0(reinterpret_cast<void**>(&entries));
          (void)FwpsAleEndpointDestroyEnumHandle0(engine, e);
        }
        return n == 0;
      },
      3s));
  // The same port served by a listener outside the cgroup (no identity): permitted.
  dataplane::UniqueFd outside = tcpListenerIn(nsA, VethNamespaces::kAddr4A, 7505, 2000ms);
  ASSERT_TRUE(outside);
  EXPECT_EQ(connectFromB(7505), 0);
  outside.reset();
  // The callout at 7507 sees the listener's pid.
  pid_t seenPid = 0;
  listener(7507, &seenPid);
  EXPECT_EQ(connectFromB(7507), 0);
  EXPECT_EQ(cgroup_.wait(seenPid, 5s), 0);
  std::lock_guard lock(seen_.mu);
  ASSERT_EQ(seen_.processIds.size(), 1u);
  EXPECT_EQ(seen_.processIds[0], static_cast<uint64_t>(seenPid));
}

// The example plugin examples/plugins/redirect_proxy.cpp, loaded as a .so: the same redirection
// by a callout driver as it would be written for Windows.
TEST_F(AleSockets, ExampleRedirectPluginSendsConnectsToAProxy) {
  start(R"({"xfp_policy": 1, "callouts": [
      {"key": "6f1c2d3e-4a5b-4c6d-8e7f-0a1b2c3d4e05", "name": "to proxy",
       "layer": "ALE_CONNECT_REDIRECT_V4"}],
    "filters": [{"name": "via proxy", "layer": "ALE_CONNECT_REDIRECT_V4",
                 "action": "callout_terminating", "callout": "to proxy",
                 "conditions": [{"field": "IP_REMOTE_PORT", "value": 7630}]}]})");
  auto loaded = env_.runtime().plugins().load(XFP_REDIRECT_PROXY_SO, "to=127.0.0.1:7640");
  ASSERT_TRUE(loaded) << loaded.error().message;
  dataplane::UniqueFd server = listenInB(7630);
  const std::string nsA = env_.ns().nsA();
  const pid_t proxy =
      startProxy(7640, 7630, "xfp_redirect_proxy", sizeof "xfp_redirect_proxy", false);
  ASSERT_GT(proxy, 0) << "the proxy did not start";
  const pid_t client = cgroup_.spawnInside(nsA, [] { return clientThroughProxy(7630); });
  ASSERT_GT(client, 0);
  in_addr_t peer = 0;
  EXPECT_EQ(serveOneExchange(server.get(), &peer), "via-proxy:hello");
  std::string why;
  EXPECT_EQ(cgroup_.wait(client, 10s, &why), 0) << why;
  EXPECT_EQ(cgroup_.wait(proxy, 10s, &why), 0) << why;
  void* so = ::dlopen(XFP_REDIRECT_PROXY_SO, RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(so, nullptr);
  auto* stats =
      reinterpret_cast<XFP_REDIRECT_PROXY_STATS_FN*>(::dlsym(so, XFP_REDIRECT_PROXY_STATS_SYMBOL));
  ASSERT_NE(stats, nullptr);
  XfpRedirectProxyCounters c{};
  stats(&c);
  ::dlclose(so);
  EXPECT_EQ(c.redirected, 1u);
  EXPECT_EQ(c.bySelf, 1u);
  EXPECT_TRUE(env_.runtime().plugins().unload("xfp_redirect_proxy"));
  // A bad parameter string: DriverEntry refuses, nothing stays loaded.
  EXPECT_FALSE(env_.runtime().plugins().load(XFP_REDIRECT_PROXY_SO, "to=nowhere"));
}

}  // namespace
}  // namespace xfp::test
