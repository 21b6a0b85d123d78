// Integration: the FWPM C API (libxfpm.so) against a real xfpd. Each test starts xfpd with its
// own control socket, state directory and pins, enforcing on one veth end of a namespace pair,
// and drives it through fwpmu.h the way a WFP program does: transactions (an abort leaves no
// trace; uncommitted changes are invisible to another session), dynamic sessions (their objects
// vanish on close), object round trips, enumeration with templates, change subscriptions
// (another session's change arrives; one's own does not), net events of a real drop, the refusal
// of a non-root caller, and what a client sees when the service stops.
#include <fcntl.h>
#include <fwpmu.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/harness/netns.h"
#include "tests/harness/sockets.h"
#include "tests/harness/test_env.h"

namespace {

// Re-executed as an unprivileged child (NonRootCallerIsRefused), the binary only tries to open a
// session, prints what it got and exits, before gtest starts.
[[maybe_unused]] const int kChildMode = [] {
  if (std::getenv("XFPM_TEST_OPEN_AS_CHILD") == nullptr) {
    return 0;
  }
  HANDLE h = nullptr;
  const DWORD r = FwpmEngineOpen0(nullptr, RPC_C_AUTHN_WINNT, nullptr, nullptr, &h);
  std::printf("uid %u: 0x%08x %s\n", ::getuid(), r, XfpmLastErrorMessage());
  std::fflush(stdout);
  ::_exit(r == ERROR_ACCESS_DENIED ? 0 : 1);
}();

}  // namespace

namespace xfp::test {
namespace {

using namespace std::chrono_literals;

// UTF-16 text for the C structures.
struct W {
  std::vector<WCHAR> units;
  explicit W(std::string_view s) {
    for (char c : s) {
      units.push_back(static_cast<WCHAR>(static_cast<unsigned char>(c)));
    }
    units.push_back(0);
  }
  WCHAR* get() { return units.data(); }
};

std::string narrow(const WCHAR* s) {
  std::string out;
  for (; s != nullptr && *s != 0; ++s) {
    out.push_back(static_cast<char>(*s));
  }
  return out;
}

// A GUID unique to this process and `n`.
GUID key(uint32_t n) {
  GUID g{};
  g.Data1 = 0xf0000000u | n;
  g.Data2 = 0x4fa1;
  g.Data3 = static_cast<UINT16>(::getpid());
  g.Data4[0] = 0x8a;
  g.Data4[7] = static_cast<UINT8>(n);
  return g;
}

bool sameGuid(const GUID& a, const GUID& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Reads the child's output until `needle` shows up or `limit` passes.
bool waitFor(int fd, std::string& log, const std::string& needle, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (log.find(needle) == std::string::npos && std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) == 1) {
      char buf[2048];
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) {
        break;
      }
      log.append(buf, static_cast<size_t>(n));
    }
  }
  return log.find(needle) != std::string::npos;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5000ms) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!pred() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

// A filter as a WFP program writes one: name, layer, weight, action, optional conditions.
struct FilterSpec {
  W name{"filter"};
  FWPM_FILTER0 f{};
  UINT64 weight = 0;
  std::vector<FWPM_FILTER_CONDITION0> conditions;
  explicit FilterSpec(const char* n, const GUID& layer, FWP_ACTION_TYPE action) : name(n) {
    f.displayData.name = name.get();
    f.layerKey = layer;
    f.action.type = action;
  }
  FilterSpec& withKey(const GUID& k) {
    f.filterKey = k;
    return *this;
  }
  FilterSpec& withWeight(UINT64 w) {
    weight = w;
    f.weight.type = FWP_UINT64;
    f.weight.uint64 = &weight;
    return *this;
  }
  FilterSpec& withUdpPort(UINT16 port) {
    FWPM_FILTER_CONDITION0 proto{};
    proto.fieldKey = FWPM_CONDITION_IP_PROTOCOL;
    proto.matchType = FWP_MATCH_EQUAL;
    proto.conditionValue.type = FWP_UINT8;
    proto.conditionValue.uint8 = 17;
    FWPM_FILTER_CONDITION0 local{};
    local.fieldKey = FWPM_CONDITION_IP_LOCAL_PORT;
    local.matchType = FWP_MATCH_EQUAL;
    local.conditionValue.type = FWP_UINT16;
    local.conditionValue.uint16 = port;
    conditions = {proto, local};
    return *this;
  }
  FWPM_FILTER0* get() {
    f.numFilterConditions = static_cast<UINT32>(conditions.size());
    f.filterCondition = conditions.empty() ? nullptr : conditions.data();
    return &f;
  }
};

class FwpmApi : public ::testing::Test {
 protected:
  void SetUp() override {
    XFP_REQUIRE_ROOT();
    ASSERT_EQ(ns_.setUp(), "");
    base_ = "/tmp/xfpt-fwpm-" + std::to_string(::getpid());
    socket_ = base_ + ".sock";
    pins_ = "/sys/fs/bpf/xfpt-fwpm-" + std::to_string(::getpid());
    std::ofstream(base_ + ".toml")
        << "state_dir = \"" << base_ << "-state\"\n"
        << "pin_dir = \"" << pins_ << "\"\n"
        << "socket = \"" << socket_ << "\"\n"
        << "detach_on_stop = true\n"
        << "[[interface]]\nname = \"" << ns_.linkA() << "\"\nnetns = \"" << ns_.nsA() << "\"\n";
    startXfpd();
    ::setenv("XFP_SOCKET", socket_.c_str(), 1);
  }

  void TearDown() override {
    stopXfpd();
    ::unsetenv("XFP_SOCKET");
    if (!base_.empty()) {
      VethNamespaces::run("rm -rf '" + base_ + "-state' '" + base_ + ".toml' '" + socket_ + "' '" +
                          pins_ + "'");
    }
  }

  void startXfpd() {
    int out[2];
    ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
    const std::string xfpd = binaryDir() + "/userspace/daemon/xfpd";
    const std::string config = base_ + ".toml";
    pid_ = ::fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::dup2(out[1], 2);
      ::execl(xfpd.c_str(),
              xfpd.c_str(),
              "--config",
              config.c_str(),
              "--duration",
              "300",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(out[1]);
    out_ = out[0];
    ASSERT_TRUE(waitFor(out_, log_, "xfpd ready", 30s)) << log_;
  }

  void stopXfpd() {
    if (pid_ <= 0) {
      return;
    }
    ::kill(pid_, SIGTERM);
    int status = -1;
    for (int i = 0; i < 200 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) {
      std::this_thread::sleep_for(50ms);
    }
    if (::waitpid(pid_, &status, WNOHANG) == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      ADD_FAILURE() << "xfpd did not stop on SIGTERM\n" << log_;
    }
    pid_ = -1;
    waitFor(out_, log_, "xfpd stopped", 1s);
    ::close(out_);
    out_ = -1;
  }

  HANDLE open(UINT32 flags = 0, const char* name = "fwpm_api_test") {
    W n(name);
    FWPM_SESSION0 s{};
    s.displayData.name = n.get();
    s.flags = flags;
    HANDLE h = nullptr;
    const DWORD r = FwpmEngineOpen0(nullptr, RPC_C_AUTHN_WINNT, nullptr, &s, &h);
    EXPECT_EQ(r, ERROR_SUCCESS) << XfpmLastErrorMessage() << "\n" << log_;
    return h;
  }

  // Adds a sublayer of our own (filters go there, away from the built-in ones).
  void addSublayer(HANDLE h, const GUID& k, UINT16 weight, GUID* provider = nullptr) {
    W n("fwpm test sublayer");
    FWPM_SUBLAYER0 s{};
    s.subLayerKey = k;
    s.displayData.name = n.get();
    s.weight = weight;
    s.providerKey = provider;
    ASSERT_EQ(FwpmSubLayerAdd0(h, &s, nullptr), ERROR_SUCCESS) << XfpmLastErrorMessage();
  }

  VethNamespaces ns_;
  std::string base_;
  std::string socket_;
  std::string pins_;
  pid_t pid_ = -1;
  int out_ = -1;
  std::string log_;
};

// ---- transactions ----

TEST_F(FwpmApi, TransactionAbortLeavesNoTrace) {
  HANDLE h = open();
  ASSERT_EQ(FwpmTransactionBegin0(h, 0), ERROR_SUCCESS) << XfpmLastErrorMessage();
  EXPECT_EQ(FwpmTransactionBegin0(h, 0), FWP_E_TXN_IN_PROGRESS);
  addSublayer(h, key(1), 0x100);
  FilterSpec spec("aborted", FWPM_LAYER_INBOUND_TRANSPORT_V4, FWP_ACTION_BLOCK);
  spec.withKey(key(2)).withUdpPort(7001);
  spec.f.subLayerKey = key(1);
  UINT64 id = 0;
  ASSERT_EQ(FwpmFilterAdd0(h, spec.get(), nullptr, &id), ERROR_SUCCESS) << XfpmLastErrorMessage();
  EXPECT_NE(id, 0u);
  FWPM_FILTER0* got = nullptr;
  ASSERT_EQ(FwpmFilterGetById0(h, id, &got), ERROR_SUCCESS);  // the session sees its own change
  FwpmFreeMemory0(reinterpret_cast<void**>(&got));
  ASSERT_EQ(FwpmTransactionAbort0(h), ERROR_SUCCESS);

  EXPECT_EQ(FwpmFilterGetById0(h, id, &got), FWP_E_FILTER_NOT_FOUND);
  EXPECT_EQ(FwpmFilterGetByKey0(h, &spec.f.filterKey, &got), FWP_E_FILTER_NOT_FOUND);
  const GUID sl = key(1);
  FWPM_SUBLAYER0* s = nullptr;
  EXPECT_EQ(FwpmSubLayerGetByKey0(h, &sl, &s), FWP_E_SUBLAYER_NOT_FOUND);
  EXPECT_EQ(FwpmTransactionCommit0(h), FWP_E_NO_TXN_IN_PROGRESS);
  EXPECT_EQ(FwpmTransactionAbort0(h), FWP_E_NO_TXN_IN_PROGRESS);
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
}

TEST_F(FwpmApi, UncommittedChangesAreInvisibleToOtherSessions) {
  HANDLE a = open(0, "writer");
  HANDLE b = open(0, "reader");
  ASSERT_EQ(FwpmTransactionBegin0(a, 0), ERROR_SUCCESS);
  FilterSpec spec("pending", FWPM_LAYER_INBOUND_TRANSPORT_V4, FWP_ACTION_PERMIT);
  spec.withKey(key(3)).withUdpPort(7002).withWeight(5);
  UINT64 id = 0;
  ASSERT_EQ(FwpmFilterAdd0(a, spec.get(), nullptr, &id), ERROR_SUCCESS) << XfpmLastErrorMessage();

  FWPM_FILTER0* got = nullptr;
  EXPECT_EQ(FwpmFilterGetByKey0(b, &spec.f.filterKey, &got), FWP_E_FILTER_NOT_FOUND);
  HANDLE e = nullptr;
  FWPM_FILTER_ENUM_TEMPLATE0 t{};
  t.layerKey = FWPM_LAYER_INBOUND_TRANSPORT_V4;
  t.actionMask = 0xFFFFFFFF;
  ASSERT_EQ(FwpmFilterCreateEnumHandle0(b, &t, &e), ERROR_SUCCESS) << XfpmLastErrorMessage();
  FWPM_FILTER0** entries = nullptr;
  UINT32 n = 0;
  ASSERT_EQ(FwpmFilterEnum0(b, e, 100, &entries, &n), ERROR_SUCCESS);
  for (UINT32 i = 0; i < n; ++i) {
    EXPECT_NE(entries[i]->filterId, id);
  }
  FwpmFreeMemory0(reinterpret_cast<void**>(&entries));
  EXPECT_EQ(FwpmFilterDestroyEnumHandle0(b, e), ERROR_SUCCESS);

  ASSERT_EQ(FwpmTransactionCommit0(a), ERROR_SUCCESS) << XfpmLastErrorMessage();
  ASSERT_EQ(FwpmFilterGetByKey0(b, &spec.f.filterKey, &got), ERROR_SUCCESS);
  EXPECT_EQ(got->filterId, id);
  EXPECT_EQ(narrow(got->displayData.name), "pending");
  FwpmFreeMemory0(reinterpret_cast<void**>(&got));
  EXPECT_EQ(FwpmFilterDeleteById0(b, id), ERROR_SUCCESS);
  EXPECT_EQ(FwpmEngineClose0(a), ERROR_SUCCESS);
  EXPECT_EQ(FwpmEngineClose0(b), ERROR_SUCCESS);
}

TEST_F(FwpmApi, ReadOnlyTransactionRefusesWrites) {
  HANDLE h = open();
  ASSERT_EQ(FwpmTransactionBegin0(h, FWPM_TXN_READ_ONLY), ERROR_SUCCESS);
  FilterSpec spec("ro", FWPM_LAYER_INBOUND_TRANSPORT_V4, FWP_ACTION_BLOCK);
  EXPECT_EQ(FwpmFilterAdd0(h, spec.get(), nullptr, nullptr), FWP_E_INCOMPATIBLE_TXN);
  EXPECT_STRNE(XfpmLastErrorMessage(), "");
  EXPECT_EQ(FwpmTransactionCommit0(h), ERROR_SUCCESS);
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
}

// ---- sessions ----

TEST_F(FwpmApi, DynamicSessionObjectsVanishOnClose) {
  HANDLE d = open(FWPM_SESSION_FLAG_DYNAMIC, "dynamic");
  HANDLE other = open(0, "observer");
  W pn("dynamic provider");
  FWPM_PROVIDER0 p{};
  p.providerKey = key(10);
  p.displayData.name = pn.get();
  ASSERT_EQ(FwpmProviderAdd0(d, &p, nullptr), ERROR_SUCCESS) << XfpmLastErrorMessage();
  GUID provider = key(10);
  addSublayer(d, key(11), 0x200, &provider);
  FilterSpec spec("dynamic filter", FWPM_LAYER_INBOUND_TRANSPORT_V4, FWP_ACTION_BLOCK);
  spec.withKey(key(12)).withUdpPort(7003);
  spec.f.subLayerKey = key(11);
  spec.f.providerKey = &provider;
  UINT64 id = 0;
  ASSERT_EQ(FwpmFilterAdd0(d, spec.get(), nullptr, &id), ERROR_SUCCESS) << XfpmLastErrorMessage();

  // Committed (implicit transactions): the other session sees them, and may not delete them.
  FWPM_FILTER0* f = nullptr;
  ASSERT_EQ(FwpmFilterGetById0(other, id, &f), ERROR_SUCCESS);
  FwpmFreeMemory0(reinterpret_cast<void**>(&f));
  EXPECT_EQ(FwpmFilterDeleteById0(other, id), FWP_E_WRONG_SESSION);

  ASSERT_EQ(FwpmEngineClose0(d), ERROR_SUCCESS);
  EXPECT_EQ(FwpmFilterGetById0(other, id, &f), FWP_E_FILTER_NOT_FOUND);
  const GUID sl = key(11);
  FWPM_SUBLAYER0* s = nullptr;
  EXPECT_EQ(FwpmSubLayerGetByKey0(other, &sl, &s), FWP_E_SUBLAYER_NOT_FOUND);
  FWPM_PROVIDER0* pr = nullptr;
  EXPECT_EQ(FwpmProviderGetByKey0(other, &provider, &pr), FWP_E_PROVIDER_NOT_FOUND);
  EXPECT_EQ(FwpmEngineClose0(other), ERROR_SUCCESS);
}

// ---- objects ----

TEST_F(FwpmApi, ObjectsRoundTripThroughTheService) {
  HANDLE h = open();
  // Provider with data and a service name.
  W pn("acme");
  W svc("acme.service");
  UINT8 pdata[3] = {1, 2, 3};
  FWPM_PROVIDER0 p{};
  p.providerKey = key(20);
  p.displayData.name = pn.get();
  p.providerData = {3, pdata};
  p.serviceName = svc.get();
  ASSERT_EQ(FwpmProviderAdd0(h, &p, nullptr), ERROR_SUCCESS) << XfpmLastErrorMessage();
  EXPECT_EQ(FwpmProviderAdd0(h, &p, nullptr), FWP_E_ALREADY_EXISTS);
  FWPM_PROVIDER0* pg = nullptr;
  ASSERT_EQ(FwpmProviderGetByKey0(h, &p.providerKey, &pg), ERROR_SUCCESS);
  EXPECT_EQ(narrow(pg->displayData.name), "acme");
  EXPECT_EQ(narrow(pg->serviceName), "acme.service");
  ASSERT_EQ(pg->providerData.size, 3u);
  EXPECT_EQ(pg->providerData.data[2], 3);
  FwpmFreeMemory0(reinterpret_cast<void**>(&pg));

  // Provider context (FWPM_GENERAL_CONTEXT).
  W cn("ctx");
  UINT8 cdata[4] = {'c', 'o', 'n', 'f'};
  FWP_BYTE_BLOB buffer{4, cdata};
  FWPM_PROVIDER_CONTEXT0 pc{};
  pc.providerContextKey = key(21);
  pc.displayData.name = cn.get();
  pc.type = FWPM_GENERAL_CONTEXT;
  pc.dataBuffer = &buffer;
  UINT64 pcId = 0;
  ASSERT_EQ(FwpmProviderContextAdd0(h, &pc, nullptr, &pcId), ERROR_SUCCESS)
      << XfpmLastErrorMessage();
  EXPECT_NE(pcId, 0u);
  FWPM_PROVIDER_CONTEXT0* pcg = nullptr;
  ASSERT_EQ(FwpmProviderContextGetByKey0(h, &pc.providerContextKey, &pcg), ERROR_SUCCESS);
  EXPECT_EQ(pcg->providerContextId, pcId);
  ASSERT_NE(pcg->dataBuffer, nullptr);
  EXPECT_EQ(pcg->dataBuffer->size, 4u);
  FwpmFreeMemory0(reinterpret_cast<void**>(&pcg));

  // Callout: by key and by id.
  W con("inspector");
  FWPM_CALLOUT0 c{};
  c.calloutKey = key(22);
  c.displayData.name = con.get();
  c.applicableLayer = FWPM_LAYER_ALE_AUTH_CONNECT_V4;
  UINT32 calloutId = 0;
  ASSERT_EQ(FwpmCalloutAdd0(h, &c, nullptr, &calloutId), ERROR_SUCCESS) << XfpmLastErrorMessage();
  EXPECT_NE(calloutId, 0u);
  FWPM_CALLOUT0* cg = nullptr;
  ASSERT_EQ(FwpmCalloutGetById0(h, calloutId, &cg), ERROR_SUCCESS);
  EXPECT_TRUE(sameGuid(cg->calloutKey, c.calloutKey));
  EXPECT_TRUE(sameGuid(cg->applicableLayer, FWPM_LAYER_ALE_AUTH_CONNECT_V4));
  FwpmFreeMemory0(reinterpret_cast<void**>(&cg));
  ASSERT_EQ(FwpmCalloutGetByKey0(h, &c.calloutKey, &cg), ERROR_SUCCESS);
  EXPECT_EQ(cg->calloutId, calloutId);
  FwpmFreeMemory0(reinterpret_cast<void**>(&cg));

  // A callout filter with the provider context, then everything deleted in dependency order.
  FilterSpec spec("inspect", FWPM_LAYER_ALE_AUTH_CONNECT_V4, FWP_ACTION_CALLOUT_INSPECTION);
  spec.withKey(key(23)).withWeight(77);
  spec.f.action.calloutKey = c.calloutKey;
  spec.f.flags = FWPM_FILTER_FLAG_HAS_PROVIDER_CONTEXT;
  spec.f.providerContextKey = pc.providerContextKey;
  UINT64 fid = 0;
  ASSERT_EQ(FwpmFilterAdd0(h, spec.get(), nullptr, &fid), ERROR_SUCCESS) << XfpmLastErrorMessage();
  FWPM_FILTER0* fg = nullptr;
  ASSERT_EQ(FwpmFilterGetByKey0(h, &spec.f.filterKey, &fg), ERROR_SUCCESS);
  EXPECT_EQ(fg->filterId, fid);
  EXPECT_EQ(fg->action.type, static_cast<FWP_ACTION_TYPE>(FWP_ACTION_CALLOUT_INSPECTION));
  EXPECT_TRUE(sameGuid(fg->action.calloutKey, c.calloutKey));
  EXPECT_TRUE(sameGuid(fg->providerContextKey, pc.providerContextKey));
  EXPECT_EQ(fg->weight.type, FWP_UINT64);
  EXPECT_EQ(*fg->weight.uint64, 77u);
  EXPECT_EQ(fg->effectiveWeight.type, FWP_UINT64);
  EXPECT_EQ(*fg->effectiveWeight.uint64, 77u);
  FwpmFreeMemory0(reinterpret_cast<void**>(&fg));
  EXPECT_EQ(FwpmCalloutDeleteById0(h, calloutId), FWP_E_IN_USE);
  EXPECT_EQ(FwpmFilterDeleteByKey0(h, &spec.f.filterKey), ERROR_SUCCESS);
  EXPECT_EQ(FwpmCalloutDeleteById0(h, calloutId), ERROR_SUCCESS);
  EXPECT_EQ(FwpmCalloutGetByKey0(h, &c.calloutKey, &cg), FWP_E_CALLOUT_NOT_FOUND);
  EXPECT_EQ(FwpmProviderContextDeleteByKey0(h, &pc.providerContextKey), ERROR_SUCCESS);
  EXPECT_EQ(FwpmProviderDeleteByKey0(h, &p.providerKey), ERROR_SUCCESS);
  EXPECT_EQ(FwpmSubLayerDeleteByKey0(h, &FWPM_SUBLAYER_UNIVERSAL), FWP_E_BUILTIN_OBJECT);
  EXPECT_STRNE(XfpmLastErrorMessage(), "");
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
}

TEST_F(FwpmApi, EngineValidationReachesTheCaller) {
  HANDLE h = open();
  GUID unknownLayer = key(30);
  FilterSpec spec("bad layer", unknownLayer, FWP_ACTION_BLOCK);
  EXPECT_EQ(FwpmFilterAdd0(h, spec.get(), nullptr, nullptr), FWP_E_LAYER_NOT_FOUND);
  EXPECT_STRNE(XfpmLastErrorMessage(), "");
  FilterSpec cont("continue", FWPM_LAYER_INBOUND_TRANSPORT_V4, FWP_ACTION_CONTINUE);
  EXPECT_EQ(FwpmFilterAdd0(h, cont.get(), nullptr, nullptr), FWP_E_INVALID_ACTION_TYPE);
  FilterSpec weight("weight", FWPM_LAYER_INBOUND_TRANSPORT_V4, FWP_ACTION_BLOCK);
  weight.f.weight.type = FWP_UINT8;
  weight.f.weight.uint8 = 16;
  EXPECT_EQ(FwpmFilterAdd0(h, weight.get(), nullptr, nullptr), FWP_E_INVALID_WEIGHT);
  FilterSpec noName("x", FWPM_LAYER_INBOUND_TRANSPORT_V4, FWP_ACTION_BLOCK);
  noName.f.displayData.name = nullptr;
  EXPECT_EQ(FwpmFilterAdd0(h, noName.get(), nullptr, nullptr), FWP_E_NULL_DISPLAY_NAME);
  EXPECT_EQ(FwpmFilterDeleteById0(h, 0xFFFFFFFFFFFFull), FWP_E_FILTER_NOT_FOUND);
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
}

// ---- enumeration ----

TEST_F(FwpmApi, EnumerationWithTemplates) {
  HANDLE h = open();
  W pn("enum provider");
  FWPM_PROVIDER0 p{};
  p.providerKey = key(40);
  p.displayData.name = pn.get();
  ASSERT_EQ(FwpmProviderAdd0(h, &p, nullptr), ERROR_SUCCESS) << XfpmLastErrorMessage();
  GUID provider = key(40);
  addSublayer(h, key(41), 0x300, &provider);
  const UINT64 weights[] = {10, 30, 20};
  const char* names[] = {"w10", "w30", "w20"};
  std::vector<UINT64> ids;
  for (int i = 0; i < 3; ++i) {
    FilterSpec spec(names[i], FWPM_LAYER_INBOUND_TRANSPORT_V4, FWP_ACTION_BLOCK);
    spec.withKey(key(42 + i)).withWeight(weights[i]).withUdpPort(static_cast<UINT16>(7100 + i));
    spec.f.providerKey = &provider;
    spec.f.subLayerKey = key(41);
    UINT64 id = 0;
    ASSERT_EQ(FwpmFilterAdd0(h, spec.get(), nullptr, &id), ERROR_SUCCESS) << XfpmLastErrorMessage();
    ids.push_back(id);
  }
  // One more of the provider in another layer, one in the layer without the provider.
  FilterSpec otherLayer("other layer", FWPM_LAYER_OUTBOUND_TRANSPORT_V4, FWP_ACTION_BLOCK);
  otherLayer.f.providerKey = &provider;
  ASSERT_EQ(FwpmFilterAdd0(h, otherLayer.get(), nullptr, nullptr), ERROR_SUCCESS);
  FilterSpec noProvider("no provider", FWPM_LAYER_INBOUND_TRANSPORT_V4, FWP_ACTION_BLOCK);
  ASSERT_EQ(FwpmFilterAdd0(h, noProvider.get(), nullptr, nullptr), ERROR_SUCCESS);

  // The provider's filters of the layer, by weight, two at a time.
  FWPM_FILTER_ENUM_TEMPLATE0 t{};
  t.providerKey = &provider;
  t.layerKey = FWPM_LAYER_INBOUND_TRANSPORT_V4;
  t.flags = FWP_FILTER_ENUM_FLAG_SORTED;
  t.actionMask = 0xFFFFFFFF;
  HANDLE e = nullptr;
  ASSERT_EQ(FwpmFilterCreateEnumHandle0(h, &t, &e), ERROR_SUCCESS) << XfpmLastErrorMessage();
  std::vector<std::string> seen;
  for (;;) {
    FWPM_FILTER0** page = nullptr;
    UINT32 n = 0;
    ASSERT_EQ(FwpmFilterEnum0(h, e, 2, &page, &n), ERROR_SUCCESS) << XfpmLastErrorMessage();
    for (UINT32 i = 0; i < n; ++i) {
      seen.push_back(narrow(page[i]->displayData.name));
    }
    FwpmFreeMemory0(reinterpret_cast<void**>(&page));
    if (n < 2) {
      break;
    }
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"w30", "w20", "w10"}));
  EXPECT_EQ(FwpmFilterDestroyEnumHandle0(h, e), ERROR_SUCCESS);
  FWPM_FILTER0** none = nullptr;
  UINT32 n = 0;
  EXPECT_EQ(FwpmFilterEnum0(h, e, 2, &none, &n), HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE));

  // A condition point: the filter on port 7101 only (FULLY_CONTAINED).
  FWPM_FILTER_CONDITION0 cond[2]{};
  cond[0].fieldKey = FWPM_CONDITION_IP_PROTOCOL;
  cond[0].conditionValue.type = FWP_UINT8;
  cond[0].conditionValue.uint8 = 17;
  cond[1].fieldKey = FWPM_CONDITION_IP_LOCAL_PORT;
  cond[1].conditionValue.type = FWP_UINT16;
  cond[1].conditionValue.uint16 = 7101;
  t.flags = 0;
  t.numFilterConditions = 2;
  t.filterCondition = cond;
  ASSERT_EQ(FwpmFilterCreateEnumHandle0(h, &t, &e), ERROR_SUCCESS) << XfpmLastErrorMessage();
  FWPM_FILTER0** page = nullptr;
  ASSERT_EQ(FwpmFilterEnum0(h, e, 10, &page, &n), ERROR_SUCCESS);
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(page[0]->filterId, ids[1]);
  FwpmFreeMemory0(reinterpret_cast<void**>(&page));
  EXPECT_EQ(FwpmFilterDestroyEnumHandle0(h, e), ERROR_SUCCESS);

  // A template the engine refuses.
  t.numFilterConditions = 0;
  t.actionMask = 0;
  EXPECT_EQ(FwpmFilterCreateEnumHandle0(h, &t, &e), FWP_E_NEVER_MATCH);

  // Providers, sublayers of the provider, callouts of a layer.
  ASSERT_EQ(FwpmProviderCreateEnumHandle0(h, nullptr, &e), ERROR_SUCCESS);
  FWPM_PROVIDER0** providers = nullptr;
  ASSERT_EQ(FwpmProviderEnum0(h, e, 1000, &providers, &n), ERROR_SUCCESS);
  bool found = false;
  for (UINT32 i = 0; i < n; ++i) {
    found = found || sameGuid(providers[i]->providerKey, provider);
  }
  EXPECT_TRUE(found);
  FwpmFreeMemory0(reinterpret_cast<void**>(&providers));
  EXPECT_EQ(FwpmProviderDestroyEnumHandle0(h, e), ERROR_SUCCESS);

  FWPM_SUBLAYER_ENUM_TEMPLATE0 st{&provider};
  ASSERT_EQ(FwpmSubLayerCreateEnumHandle0(h, &st, &e), ERROR_SUCCESS);
  FWPM_SUBLAYER0** sublayers = nullptr;
  ASSERT_EQ(FwpmSubLayerEnum0(h, e, 1000, &sublayers, &n), ERROR_SUCCESS);
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(sublayers[0]->weight, 0x300);
  FwpmFreeMemory0(reinterpret_cast<void**>(&sublayers));
  EXPECT_EQ(FwpmSubLayerDestroyEnumHandle0(h, e), ERROR_SUCCESS);

  W con("enum callout");
  FWPM_CALLOUT0 c{};
  c.calloutKey = key(48);
  c.displayData.name = con.get();
  c.applicableLayer = FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4;
  ASSERT_EQ(FwpmCalloutAdd0(h, &c, nullptr, nullptr), ERROR_SUCCESS) << XfpmLastErrorMessage();
  FWPM_CALLOUT_ENUM_TEMPLATE0 ct{};
  ct.layerKey = FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4;
  ASSERT_EQ(FwpmCalloutCreateEnumHandle0(h, &ct, &e), ERROR_SUCCESS);
  FWPM_CALLOUT0** callouts = nullptr;
  ASSERT_EQ(FwpmCalloutEnum0(h, e, 1000, &callouts, &n), ERROR_SUCCESS);
  found = false;
  for (UINT32 i = 0; i < n; ++i) {
    EXPECT_TRUE(sameGuid(callouts[i]->applicableLayer, FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4));
    found = found || sameGuid(callouts[i]->calloutKey, c.calloutKey);
  }
  EXPECT_TRUE(found);
  FwpmFreeMemory0(reinterpret_cast<void**>(&callouts));
  EXPECT_EQ(FwpmCalloutDestroyEnumHandle0(h, e), ERROR_SUCCESS);
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
}

// ---- change subscriptions ----

struct Changes {
  std::mutex mu;
  std::vector<FWPM_FILTER_CHANGE0> seen;
  size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return seen.size();
  }
};

void onChange(void* context, const FWPM_FILTER_CHANGE0* change) {
  auto* c = static_cast<Changes*>(context);
  std::lock_guard<std::mutex> lock(c->mu);
  c->seen.push_back(*change);
}

TEST_F(FwpmApi, SubscriptionSeesAnotherSessionsChanges) {
  HANDLE watcher = open(0, "watcher");
  HANDLE writer = open(0, "writer");
  Changes changes;
  FWPM_FILTER_ENUM_TEMPLATE0 t{};
  t.layerKey = FWPM_LAYER_INBOUND_TRANSPORT_V4;
  t.actionMask = 0xFFFFFFFF;
  FWPM_FILTER_SUBSCRIPTION0 sub{};
  sub.enumTemplate = &t;
  sub.flags = FWPM_SUBSCRIPTION_FLAG_NOTIFY_ON_ADD | FWPM_SUBSCRIPTION_FLAG_NOTIFY_ON_DELETE;
  HANDLE ch = nullptr;
  ASSERT_EQ(FwpmFilterSubscribeChanges0(watcher, &sub, onChange, &changes, &ch), ERROR_SUCCESS)
      << XfpmLastErrorMessage();

  FWPM_FILTER_SUBSCRIPTION0** subs = nullptr;
  UINT32 n = 0;
  ASSERT_EQ(FwpmFilterSubscriptionsGet0(watcher, &subs, &n), ERROR_SUCCESS);
  ASSERT_EQ(n, 1u);
  ASSERT_NE(subs[0]->enumTemplate, nullptr);
  EXPECT_TRUE(sameGuid(subs[0]->enumTemplate->layerKey, FWPM_LAYER_INBOUND_TRANSPORT_V4));
  FwpmFreeMemory0(reinterpret_cast<void**>(&subs));

  // The watcher's own change is not reported; the writer's add and delete are, in order; a
  // change in another layer is outside the template.
  FilterSpec own("own", FWPM_LAYER_INBOUND_TRANSPORT_V4, FWP_ACTION_BLOCK);
  UINT64 ownId = 0;
  ASSERT_EQ(FwpmFilterAdd0(watcher, own.get(), nullptr, &ownId), ERROR_SUCCESS);
  FilterSpec outside("outside", FWPM_LAYER_OUTBOUND_TRANSPORT_V4, FWP_ACTION_BLOCK);
  ASSERT_EQ(FwpmFilterAdd0(writer, outside.get(), nullptr, nullptr), ERROR_SUCCESS);
  FilterSpec spec("watched", FWPM_LAYER_INBOUND_TRANSPORT_V4, FWP_ACTION_BLOCK);
  spec.withKey(key(50));
  UINT64 id = 0;
  ASSERT_EQ(FwpmFilterAdd0(writer, spec.get(), nullptr, &id), ERROR_SUCCESS);
  ASSERT_EQ(FwpmFilterDeleteById0(writer, id), ERROR_SUCCESS);
  ASSERT_TRUE(eventually([&] { return changes.count() >= 2; })) << changes.count();
  std::this_thread::sleep_for(200ms);  // nothing else may follow
  {
    std::lock_guard<std::mutex> lock(changes.mu);
    ASSERT_EQ(changes.seen.size(), 2u);
    EXPECT_EQ(changes.seen[0].changeType, FWPM_CHANGE_ADD);
    EXPECT_EQ(changes.seen[0].filterId, id);
    EXPECT_TRUE(sameGuid(changes.seen[0].filterKey, key(50)));
    EXPECT_EQ(changes.seen[1].changeType, FWPM_CHANGE_DELETE);
    EXPECT_EQ(changes.seen[1].filterId, id);
  }
  ASSERT_EQ(FwpmFilterUnsubscribeChanges0(watcher, ch), ERROR_SUCCESS) << XfpmLastErrorMessage();
  ASSERT_EQ(FwpmFilterAdd0(writer, spec.get(), nullptr, &id), ERROR_SUCCESS);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(changes.count(), 2u);
  ASSERT_EQ(FwpmFilterSubscriptionsGet0(watcher, &subs, &n), ERROR_SUCCESS);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(FwpmEngineClose0(writer), ERROR_SUCCESS);
  EXPECT_EQ(FwpmEngineClose0(watcher), ERROR_SUCCESS);
}

// ---- net events ----

struct Drops {
  std::mutex mu;
  std::vector<FWPM_NET_EVENT_CLASSIFY_DROP1> drops;
  std::vector<FWPM_NET_EVENT_HEADER1> headers;
};

TEST_F(FwpmApi, NetEventsOfADrop) {
  HANDLE h = open();
  Drops drops;
  FWPM_NET_EVENT_SUBSCRIPTION0 ns{};
  HANDLE eh = nullptr;
  auto cb = [](void* context, const FWPM_NET_EVENT1* e) {
    auto* d = static_cast<Drops*>(context);
    if (e->type == FWPM_NET_EVENT_TYPE_CLASSIFY_DROP && e->classifyDrop != nullptr) {
      std::lock_guard<std::mutex> lock(d->mu);
      d->drops.push_back(*e->classifyDrop);
      d->headers.push_back(e->header);
    }
  };
  ASSERT_EQ(FwpmNetEventSubscribe0(h, &ns, cb, &drops, &eh), ERROR_SUCCESS)
      << XfpmLastErrorMessage();

  FilterSpec spec("drop 7961", FWPM_LAYER_INBOUND_TRANSPORT_V4, FWP_ACTION_BLOCK);
  spec.withUdpPort(7961);
  UINT64 id = 0;
  ASSERT_EQ(FwpmFilterAdd0(h, spec.get(), nullptr, &id), ERROR_SUCCESS) << XfpmLastErrorMessage();
  EXPECT_TRUE(udpArrives(ns_, 7962));
  EXPECT_FALSE(udpArrives(ns_, 7961));

  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(drops.mu);
    for (const auto& d : drops.drops) {
      if (d.filterId == id) {
        return true;
      }
    }
    return false;
  })) << log_;
  {
    std::lock_guard<std::mutex> lock(drops.mu);
    for (size_t i = 0; i < drops.drops.size(); ++i) {
      if (drops.drops[i].filterId == id) {
        const FWPM_NET_EVENT_HEADER1& hd = drops.headers[i];
        EXPECT_EQ(hd.ipVersion, FWP_IP_VERSION_V4);
        EXPECT_EQ(hd.ipProtocol, 17);
        EXPECT_EQ(hd.localPort, 7961);
        EXPECT_EQ(hd.localAddrV4, 0x0ac70001u);  // 10.199.0.1, host order
        EXPECT_EQ(drops.drops[i].layerId, 12);   // FWPS_LAYER_INBOUND_TRANSPORT_V4
      }
    }
  }
  EXPECT_EQ(FwpmNetEventUnsubscribe0(h, eh), ERROR_SUCCESS);

  // The same event through enumeration (the service's circular log).
  HANDLE e = nullptr;
  ASSERT_EQ(FwpmNetEventCreateEnumHandle0(h, nullptr, &e), ERROR_SUCCESS) << XfpmLastErrorMessage();
  FWPM_NET_EVENT1** events = nullptr;
  UINT32 n = 0;
  ASSERT_EQ(FwpmNetEventEnum1(h, e, 4096, &events, &n), ERROR_SUCCESS);
  bool found = false;
  for (UINT32 i = 0; i < n; ++i) {
    found = found || (events[i]->type == FWPM_NET_EVENT_TYPE_CLASSIFY_DROP &&
                      events[i]->classifyDrop->filterId == id);
  }
  EXPECT_TRUE(found);
  FwpmFreeMemory0(reinterpret_cast<void**>(&events));
  EXPECT_EQ(FwpmNetEventDestroyEnumHandle0(h, e), ERROR_SUCCESS);
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
}

// ---- the caller and the service ----

TEST_F(FwpmApi, NonRootCallerIsRefused) {
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    // nobody: neither root nor in a socket group.
    if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) {
      ::_exit(3);
    }
    ::setenv("XFPM_TEST_OPEN_AS_CHILD", "1", 1);
    ::execl("/proc/self/exe", "fwpm_api_child", static_cast<char*>(nullptr));
    ::_exit(4);
  }
  ::close(out[1]);
  std::string childLog;
  waitFor(out[0], childLog, "\n", 20s);
  int status = -1;
  for (int i = 0; i < 400 && ::waitpid(child, &status, WNOHANG) == 0; ++i) {
    std::this_thread::sleep_for(25ms);
  }
  if (!WIFEXITED(status) && !WIFSIGNALED(status)) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
  }
  ::close(out[0]);
  ASSERT_TRUE(WIFEXITED(status)) << childLog;
  EXPECT_EQ(WEXITSTATUS(status), 0) << childLog;
  EXPECT_NE(childLog.find("0x00000005"), std::string::npos) << childLog;
}

TEST_F(FwpmApi, ServiceStopDisconnectsSessions) {
  HANDLE h = open();
  FilterSpec spec("dies with the session", FWPM_LAYER_INBOUND_TRANSPORT_V4, FWP_ACTION_BLOCK);
  ASSERT_EQ(FwpmTransactionBegin0(h, 0), ERROR_SUCCESS);
  ASSERT_EQ(FwpmFilterAdd0(h, spec.get(), nullptr, nullptr), ERROR_SUCCESS);
  stopXfpd();
  EXPECT_EQ(FwpmTransactionCommit0(h), RPC_E_DISCONNECTED);
  EXPECT_STRNE(XfpmLastErrorMessage(), "");
  EXPECT_EQ(FwpmTransactionAbort0(h), RPC_E_DISCONNECTED);
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
  HANDLE again = nullptr;
  EXPECT_EQ(FwpmEngineOpen0(nullptr, RPC_C_AUTHN_WINNT, nullptr, nullptr, &again),
            HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE));
  EXPECT_STRNE(XfpmLastErrorMessage(), "");
}

}  // namespace
}  // namespace xfp::test
