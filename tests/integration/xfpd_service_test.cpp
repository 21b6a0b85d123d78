// Integration: xfpd as a real process with its control API, enforcing on a veth end inside test
// namespaces, driven over gRPC (the C API and xfpctl have tests of their own):
//  - persistence: persistent filters survive a restart (and are enforced again), others do not;
//  - kill -9 under continuous traffic: the pinned data path keeps enforcing while xfpd is dead
//    (not one datagram to the blocked port arrives, measured), the next xfpd adopts it;
//  - a corrupt store: the last good state is used, or xfpd refuses to start and changes nothing
//    while the pinned data path keeps enforcing;
//  - transactions over the wire (abort leaves no trace in the policy or the data path,
//    uncommitted changes are neither visible nor enforced) and a dynamic session whose client
//    process is killed (its filter vanishes);
//  - malformed messages: raw garbage, bad fields, a session without open -- each gets an error,
//    the service and the policy stay intact;
//  - net events: a real drop arrives on the NetEvents stream with the deciding filter;
//  - the socket hooks on a configured cgroup: a filter added over the API at
//    ALE_CONNECT_REDIRECT_V4 refuses connects of processes in the cgroup only, until deleted;
//    pinned, the hooks keep such a layer closed while xfpd is dead or restarting.
#include <fcntl.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/harness/cgroup.h"
#include "tests/harness/netns.h"
#include "tests/harness/sockets.h"
#include "tests/harness/test_env.h"
#include "tests/harness/xfpd_process.h"
#include "userspace/core/layers.h"
#include "userspace/core/wfp_constants.h"
#include "userspace/rpc/codec.h"

namespace xfp::test {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

constexpr uint32_t kPersistent = 0x1;  // FWPM_FILTER_FLAG_PERSISTENT

Filter udpBlock(const std::string& name, uint16_t port, uint32_t flags = 0) {
  Filter f;
  f.key = Guid::generate();
  f.displayData.name = name;
  f.flags = flags;
  f.layerKey = layerByName("INBOUND_TRANSPORT_V4")->key;
  f.action.type = ActionType::Block;
  f.conditions.push_back({*conditionKeyByName("IP_PROTOCOL"), MatchType::Equal, Value::uint8(17)});
  f.conditions.push_back(
      {*conditionKeyByName("IP_LOCAL_PORT"), MatchType::Equal, Value::uint16(port)});
  return f;
}

v1::SessionRequest addRequest(const Filter& f) {
  v1::SessionRequest q;
  *q.mutable_add_filter() = rpc::toProto(f);
  return q;
}

v1::SessionRequest getByKey(const Guid& key) {
  v1::SessionRequest q;
  q.mutable_get_filter()->set_key(rpc::guidToBytes(key));
  return q;
}

v1::SessionRequest simple(int which) {
  v1::SessionRequest q;
  switch (which) {
    case 0:
      q.set_begin(0);
      break;
    case 1:
      q.mutable_commit();
      break;
    case 2:
      q.mutable_abort();
      break;
    default:
      q.mutable_status();
      break;
  }
  return q;
}

class XfpdService : public ::testing::Test {
 protected:
  void SetUp() override {
    XFP_REQUIRE_ROOT();
    ASSERT_EQ(ns_.setUp(), "");
    static int n = 0;
    const std::string id = std::to_string(::getpid()) + "-" + std::to_string(n++);
    base_ = "/tmp/xfpt-svc-" + id;
    pinDir_ = "/sys/fs/bpf/xfpt-svc-" + id;
    socket_ = base_ + ".sock";
    std::ofstream(base_ + ".json") << R"({"xfp_policy": 1, "filters": [
        {"name": "static block 7801", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
         "conditions": [{"field": "IP_PROTOCOL", "value": "udp"},
                        {"field": "IP_LOCAL_PORT", "value": 7801}]}]})";
    writeConfig();
  }
  void TearDown() override {
    xfpd_.stop(SIGTERM);
    VethNamespaces::run("rm -rf " + pinDir_ + " " + base_ + "-state");
    for (const char* ext : {".json", ".toml", ".sock"}) {
      ::unlink((base_ + ext).c_str());
    }
  }
  // extraKeys: more top-level keys, each line ending in \n (they go before [[interface]]).
  void writeConfig(const std::string& extraKeys = "") {
    std::ofstream(base_ + ".toml") << "policy = \"" << base_ << ".json\"\n"
                                   << "pin_dir = \"" << pinDir_ << "\"\n"
                                   << "state_dir = \"" << base_ << "-state\"\n"
                                   << "socket = \"" << socket_ << "\"\n"
                                   << extraKeys << "[[interface]]\nname = \"" << ns_.linkA()
                                   << "\"\nnetns = \"" << ns_.nsA() << "\"\n";
  }
  void startXfpd() {
    ASSERT_EQ(xfpd_.start({"--config", base_ + ".toml", "--duration", "300"}), "");
    ASSERT_TRUE(xfpd_.waitReady()) << xfpd_.log();
  }
  std::unique_ptr<ApiSession> session(uint32_t flags = 0) {
    std::string error;
    auto s = ApiSession::open(socket_, flags, &error);
    EXPECT_NE(s, nullptr) << error;
    return s;
  }

  VethNamespaces ns_;
  XfpdProcess xfpd_;
  std::string base_, pinDir_, socket_;
};

TEST_F(XfpdService, PersistentFiltersSurviveARestartOthersDoNot) {
  startXfpd();
  const Filter kept = udpBlock("persistent block 7811", 7811, kPersistent);
  const Filter lost = udpBlock("static block 7812", 7812);
  {
    auto s = session();
    ASSERT_EQ(s->call(addRequest(kept)).status(), 0u);
    ASSERT_EQ(s->call(addRequest(lost)).status(), 0u);
  }
  EXPECT_FALSE(udpArrives(ns_, 7811));
  EXPECT_FALSE(udpArrives(ns_, 7812));
  EXPECT_TRUE(udpArrives(ns_, 7813));
  ASSERT_EQ(xfpd_.stop(SIGTERM), 0) << xfpd_.log();
  EXPECT_NE(xfpd_.log().find("keeps enforcing"), std::string::npos) << xfpd_.log();
  // Stopped: the pinned data path still enforces the last committed policy (§7.5).
  EXPECT_FALSE(udpArrives(ns_, 7811));
  EXPECT_FALSE(udpArrives(ns_, 7812));

  startXfpd();
  EXPECT_NE(xfpd_.log().find("1 persistent restored"), std::string::npos) << xfpd_.log();
  auto s = session();
  v1::SessionReply got = s->call(getByKey(kept.key));
  ASSERT_EQ(got.status(), 0u) << got.message();
  EXPECT_EQ(got.filter().display_data().name(), "persistent block 7811");
  EXPECT_EQ(s->call(getByKey(lost.key)).status(), status::kFilterNotFound);
  EXPECT_FALSE(udpArrives(ns_, 7811));  // restored and enforced
  EXPECT_TRUE(udpArrives(ns_, 7812));   // gone with the restart
  EXPECT_FALSE(udpArrives(ns_, 7801));  // the policy file is applied again
  v1::SessionReply st = s->call(simple(3));
  EXPECT_TRUE(st.engine_status().adopted());
}

TEST_F(XfpdService, KillNineUnderTrafficLetsNothingBlockedThrough) {
  startXfpd();
  constexpr uint16_t kBlocked = 7801;  // from the policy file
  constexpr uint16_t kOpen = 7802;
  std::atomic<int> phase{0};  // 0 xfpd up, 1 killed, 2 restarted
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> gotBlocked{0};
  std::array<std::atomic<uint64_t>, 3> gotOpen{};
  const auto receiver = [&](uint16_t port, const std::function<void()>& onDatagram) {
    dataplane::UniqueFd rx = socketIn(ns_.nsA(), AF_INET, SOCK_DGRAM, 100ms);
    const Endpoint at = endpoint(VethNamespaces::kAddr4A, port);
    if (!rx || ::bind(rx.get(), at.sa(), at.len) != 0) {
      ADD_FAILURE() << "bind " << port;
      return;
    }
    char buf[64];
    while (!stop) {
      if (::recv(rx.get(), buf, sizeof buf, 0) > 0) {
        onDatagram();
      }
    }
  };
  std::thread rxBlocked(receiver, kBlocked, [&] { ++gotBlocked; });
  std::thread rxOpen(receiver, kOpen, [&] { ++gotOpen[phase.load()]; });
  std::thread tx([&] {
    dataplane::UniqueFd s = socketIn(ns_.nsB(), AF_INET, SOCK_DGRAM, 100ms);
    const Endpoint blocked = endpoint(VethNamespaces::kAddr4A, kBlocked);
    const Endpoint open = endpoint(VethNamespaces::kAddr4A, kOpen);
    // Bounded: at most 60 s and 200k datagrams of each kind.
    const auto until = std::chrono::steady_clock::now() + 60s;
    while (!stop && sent < 200000 && std::chrono::steady_clock::now() < until) {
      ::sendto(s.get(), "b", 1, 0, blocked.sa(), blocked.len);
      ::sendto(s.get(), "o", 1, 0, open.sa(), open.len);
      ++sent;
      std::this_thread::sleep_for(200us);
    }
  });
  std::this_thread::sleep_for(700ms);
  ASSERT_EQ(xfpd_.stop(SIGKILL), SIGKILL) << xfpd_.log();
  phase = 1;
  std::this_thread::sleep_for(1500ms);  // dead for longer than the punt heartbeat (1 s)
  phase = 2;
  startXfpd();
  std::this_thread::sleep_for(700ms);
  stop = true;
  tx.join();
  rxBlocked.join();
  rxOpen.join();
  std::printf(
      "kill -9 under traffic: %llu datagrams sent to each port; blocked port received "
      "%llu; open port received %llu (xfpd up) / %llu (killed) / %llu (restarted)\n",
      static_cast<unsigned long long>(sent.load()),
      static_cast<unsigned long long>(gotBlocked.load()),
      static_cast<unsigned long long>(gotOpen[0].load()),
      static_cast<unsigned long long>(gotOpen[1].load()),
      static_cast<unsigned long long>(gotOpen[2].load()));
  EXPECT_EQ(gotBlocked.load(), 0u);
  EXPECT_GT(gotOpen[0].load(), 100u);
  EXPECT_GT(gotOpen[1].load(), 100u);  // enforcing, not blackholing, while xfpd is dead
  EXPECT_GT(gotOpen[2].load(), 100u);
  EXPECT_NE(xfpd_.log().find("adopted the pinned data path"), std::string::npos) << xfpd_.log();
}

TEST_F(XfpdService, CorruptStoreKeepsTheLastGoodState) {
  startXfpd();
  const Filter first = udpBlock("persistent 7821", 7821, kPersistent);
  const Filter second = udpBlock("persistent 7822", 7822, kPersistent);
  {
    auto s = session();
    ASSERT_EQ(s->call(addRequest(first)).status(), 0u);
    ASSERT_EQ(s->call(addRequest(second)).status(), 0u);  // store.prev.json now holds `first`
  }
  ASSERT_EQ(xfpd_.stop(SIGTERM), 0);
  const std::string current = base_ + "-state/store.json";
  const auto size = std::filesystem::file_size(current);
  std::filesystem::resize_file(current, size / 2);  // a torn write

  startXfpd();
  EXPECT_NE(xfpd_.log().find("persistent store"), std::string::npos) << xfpd_.log();
  EXPECT_NE(xfpd_.log().find("last good state"), std::string::npos) << xfpd_.log();
  {
    auto s = session();
    EXPECT_EQ(s->call(getByKey(first.key)).status(), 0u);
    EXPECT_EQ(s->call(getByKey(second.key)).status(), status::kFilterNotFound);
  }
  EXPECT_FALSE(udpArrives(ns_, 7821));
  ASSERT_EQ(xfpd_.stop(SIGTERM), 0);

  // Both files bad: xfpd refuses to start, says why, touches nothing; the pinned data path
  // keeps enforcing what the last xfpd committed.
  for (const char* f : {"/store.json", "/store.prev.json"}) {
    std::ofstream(base_ + "-state" + f, std::ios::trunc) << "{\"not\": \"a store\"";
  }
  const std::string before = [&] {
    std::ifstream in(current);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  ASSERT_EQ(xfpd_.start({"--config", base_ + ".toml", "--duration", "30"}), "");
  const int status = xfpd_.stop(0, 20s);  // signal 0: just wait for it to exit
  ASSERT_TRUE(WIFEXITED(status)) << xfpd_.log();
  EXPECT_EQ(WEXITSTATUS(status), 3) << xfpd_.log();
  EXPECT_NE(xfpd_.log().find("persistent store"), std::string::npos) << xfpd_.log();
  EXPECT_NE(xfpd_.log().find("nothing was changed"), std::string::npos) << xfpd_.log();
  std::ifstream in(current);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), before);
  EXPECT_FALSE(udpArrives(ns_, 7821));
  EXPECT_FALSE(udpArrives(ns_, 7801));
}

TEST_F(XfpdService, TransactionsAndDynamicSessionsOverTheWire) {
  startXfpd();
  auto a = session();
  auto b = session();
  // Abort leaves no trace, in the policy or on the wire.
  ASSERT_EQ(a->call(simple(0)).status(), 0u);
  const Filter aborted = udpBlock("aborted 7831", 7831);
  ASSERT_EQ(a->call(addRequest(aborted)).status(), 0u);
  EXPECT_EQ(a->call(getByKey(aborted.key)).status(), 0u);  // the transaction sees its own add
  EXPECT_EQ(b->call(getByKey(aborted.key)).status(), status::kFilterNotFound);
  EXPECT_TRUE(udpArrives(ns_, 7831));  // uncommitted: not enforced
  ASSERT_EQ(a->call(simple(2)).status(), 0u);
  EXPECT_EQ(a->call(getByKey(aborted.key)).status(), status::kFilterNotFound);
  EXPECT_TRUE(udpArrives(ns_, 7831));
  // A second writer waits for the first one's transaction.
  ASSERT_EQ(a->call(simple(0)).status(), 0u);
  const Filter committed = udpBlock("committed 7832", 7832);
  ASSERT_EQ(a->call(addRequest(committed)).status(), 0u);
  ASSERT_EQ(a->call(simple(1)).status(), 0u);
  EXPECT_EQ(b->call(getByKey(committed.key)).status(), 0u);
  EXPECT_FALSE(udpArrives(ns_, 7832));

  // A dynamic session of another process: its filter lives as long as the process.
  int out[2];
  ASSERT_EQ(::pipe2(out, O_CLOEXEC), 0);
  const std::string client = binaryDir() + "/tests/integration/xfp_dynamic_client";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::execl(client.c_str(), client.c_str(), socket_.c_str(), "7833", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  char buf[64] = {};
  const ssize_t n = ::read(out[0], buf, sizeof buf - 1);
  ::close(out[0]);
  ASSERT_GT(n, 0);
  ASSERT_EQ(std::string(buf).rfind("ready ", 0), 0u) << buf;
  const uint64_t dynamicId = std::stoull(std::string(buf).substr(6));
  EXPECT_FALSE(udpArrives(ns_, 7833));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  v1::SessionRequest get;
  get.mutable_get_filter()->set_id(dynamicId);
  uint32_t st = 0;
  for (int i = 0; i < 50 && (st = b->call(get).status()) == 0; ++i) {
    std::this_thread::sleep_for(100ms);  // the service notices the closed connection
  }
  EXPECT_EQ(st, status::kFilterNotFound);
  // The service's cleanup commit is enforced before other sessions see it (the engine publishes
  // to the data path first), so one probe would do; a few allow for a slow test machine.
  bool open = false;
  for (int i = 0; i < 10 && !open; ++i) {
    open = udpArrives(ns_, 7833, 200ms);
  }
  EXPECT_TRUE(open) << xfpd_.log();
}

TEST_F(XfpdService, MalformedMessagesGetErrorsAndChangeNothing) {
  startXfpd();
  auto s = session();
  v1::SessionReply before = s->call(simple(3));
  ASSERT_EQ(before.status(), 0u);
  // A GUID of 3 bytes, an unknown layer, a value in the wrong member, no operation at all.
  v1::SessionRequest bad = addRequest(udpBlock("bad", 7841));
  bad.mutable_add_filter()->set_key("abc");
  v1::SessionReply r = s->call(bad);
  EXPECT_EQ(r.status(), status::kInvalidParameter);
  EXPECT_NE(r.message().find("add_filter.key"), std::string::npos) << r.message();
  bad = addRequest(udpBlock("bad", 7841));
  bad.mutable_add_filter()->set_layer_key(rpc::guidToBytes(Guid::generate()));
  EXPECT_EQ(s->call(bad).status(), status::kLayerNotFound);
  bad = addRequest(udpBlock("bad", 7841));
  bad.mutable_add_filter()->mutable_conditions(1)->mutable_value()->mutable_value()->set_s("x");
  EXPECT_NE(s->call(bad).status(), 0u);
  EXPECT_EQ(s->call(v1::SessionRequest()).status(), status::kInvalidParameter);
  v1::SessionRequest wrongKind;
  wrongKind.mutable_create_enum()->set_kind(static_cast<v1::ObjectKind>(77));
  EXPECT_EQ(s->call(wrongKind).status(), status::kInvalidEnumerator);

  // Raw bytes that are no SessionRequest at all, on a stream of their own.
  {
    auto channel = s->channel();
    grpc::GenericStub generic(channel);
    grpc::ClientContext ctx;
    grpc::CompletionQueue cq;
    auto call = generic.PrepareCall(&ctx, "/xfp.v1.Engine/Session", &cq);
    call->StartCall(reinterpret_cast<void*>(1));
    void* tag = nullptr;
    bool ok = false;
    ASSERT_TRUE(cq.Next(&tag, &ok));
    const std::string garbage = "\xff\xff\xff\xff\x0f garbage \x01\x02";
    grpc::Slice slice(garbage);
    grpc::ByteBuffer buffer(&slice, 1);
    call->Write(buffer, reinterpret_cast<void*>(2));
    ASSERT_TRUE(cq.Next(&tag, &ok));
    grpc::ByteBuffer reply;
    call->Read(&reply, reinterpret_cast<void*>(3));
    ASSERT_TRUE(cq.Next(&tag, &ok));
    EXPECT_FALSE(ok);  // the service ended that stream
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(4));
    ASSERT_TRUE(cq.Next(&tag, &ok));
    EXPECT_FALSE(status.ok());
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
  }
  // A stream whose first request is not open.
  {
    auto stub = v1::Engine::NewStub(s->channel());
    grpc::ClientContext ctx;
    auto stream = stub->Session(&ctx);
    ASSERT_TRUE(stream->Write(simple(3)));
    v1::SessionReply first;
    ASSERT_TRUE(stream->Read(&first));
    EXPECT_EQ(first.status(), status::kInvalidParameter);
    EXPECT_NE(first.message().find("open"), std::string::npos);
    stream->WritesDone();
    (void)stream->Finish();
  }
  // The service and its policy are intact.
  v1::SessionReply after = s->call(simple(3));
  ASSERT_EQ(after.status(), 0u);
  EXPECT_EQ(after.engine_status().generation(), before.engine_status().generation());
  EXPECT_EQ(after.engine_status().filters(), before.engine_status().filters());
  EXPECT_FALSE(udpArrives(ns_, 7801));
  EXPECT_TRUE(udpArrives(ns_, 7841));
}

TEST_F(XfpdService, NetEventsStreamReportsRealDrops) {
  startXfpd();
  auto s = session();
  auto stub = v1::Engine::NewStub(s->channel());
  grpc::ClientContext ctx;
  v1::NetEventsRequest req;
  req.set_session_id(s->id());
  req.set_follow(true);
  auto stream = stub->NetEvents(&ctx, req);
  v1::NetEventMessage m;
  ASSERT_TRUE(stream->Read(&m));
  ASSERT_EQ(m.status(), 0u) << m.message();
  uint64_t staticId = 0;
  {
    v1::SessionRequest en;
    en.mutable_create_enum()->set_kind(v1::OBJECT_KIND_FILTER);
    const uint64_t h = s->call(en).id();
    v1::SessionRequest next;
    next.mutable_enum_next()->set_kind(v1::OBJECT_KIND_FILTER);
    next.mutable_enum_next()->set_handle(h);
    next.mutable_enum_next()->set_count(100);
    const v1::SessionReply page = s->call(next);
    for (const auto& f : page.entries().filters()) {
      if (f.display_data().name() == "static block 7801") {
        staticId = f.filter_id();
      }
    }
  }
  ASSERT_NE(staticId, 0u);
  EXPECT_FALSE(udpArrives(ns_, 7801));
  bool found = false;
  for (int i = 0; i < 20 && !found && stream->Read(&m); ++i) {
    const v1::NetEvent& e = m.event();
    found = e.type() == 3 && e.filter_id() == staticId && e.local_port() == 7801 &&
            e.ip_protocol() == 17 && e.direction() == 1 &&
            e.layer_name() == "INBOUND_TRANSPORT_V4" && e.filter_name() == "static block 7801";
  }
  EXPECT_TRUE(found);
  ctx.TryCancel();
  (void)stream->Finish();
}

TEST_F(XfpdService, SocketLayersApplyToTheConfiguredCgroup) {
  TestCgroup cgroup;
  ASSERT_EQ(cgroup.setUp(), "");
  writeConfig("cgroup = \"" + cgroup.path() + "\"\nsocket_wait_ms = 300\ndetach_on_stop = true\n");
  startXfpd();
  EXPECT_NE(xfpd_.log().find("socket hooks on cgroup " + cgroup.path()), std::string::npos)
      << xfpd_.log();
  std::vector<dataplane::UniqueFd> listeners;
  for (uint16_t port : {7990, 7991}) {
    listeners.push_back(tcpListenerIn(ns_.nsB(), VethNamespaces::kAddr4B, port, 2000ms));
    ASSERT_TRUE(listeners.back());
  }
  auto s = session();
  ASSERT_NE(s, nullptr);
  Filter f;
  f.key = Guid::generate();
  f.displayData.name = "no connects to 7990";
  f.layerKey = layerByName("ALE_CONNECT_REDIRECT_V4")->key;
  f.action.type = ActionType::Block;
  f.conditions.push_back(
      {*conditionKeyByName("IP_REMOTE_PORT"), MatchType::Equal, Value::uint16(7990)});
  const v1::SessionReply added = s->call(addRequest(f));
  ASSERT_EQ(added.status(), 0u) << added.message();
  const std::string nsA = ns_.nsA();
  auto inCgroup = [&](uint16_t port) {
    return cgroup.runInside(nsA,
                            [port] { return connectWithin(VethNamespaces::kAddr4B, port, 1500); });
  };
  EXPECT_EQ(inCgroup(7990), EPERM) << "refused at connect() by the socket hook";
  EXPECT_EQ(inCgroup(7991), 0);
  int outside = -1;
  ASSERT_EQ(VethNamespaces::runIn(
                nsA, [&] { outside = connectWithin(VethNamespaces::kAddr4B, 7990, 1500); }),
            "");
  EXPECT_EQ(outside, 0) << "a process outside the cgroup is not governed by the socket layers";
  v1::SessionRequest del;
  del.mutable_delete_filter()->set_id(added.id());
  ASSERT_EQ(s->call(del).status(), 0u);
  EXPECT_EQ(inCgroup(7990), 0) << "the filter is gone";
}

// With a pin dir and no detach_on_stop, the socket hooks are pinned beside the data path: while
// xfpd is dead (kill -9) or stopped for a restart, socket calls below the cgroup at a layer with
// filters are refused (fail closed; there is nobody to classify them), others pass; the next
// xfpd takes the hooks over (one set of programs on the cgroup, not two) and classifies again.
TEST_F(XfpdService, SocketLayersStayClosedWhileXfpdIsAway) {
  TestCgroup cgroup;
  ASSERT_EQ(cgroup.setUp(), "");
  std::ofstream(base_ + ".json") << R"({"xfp_policy": 1, "filters": [
      {"name": "no connects to 7990", "layer": "ALE_CONNECT_REDIRECT_V4", "action": "block",
       "conditions": [{"field": "IP_REMOTE_PORT", "value": 7990}]}]})";
  writeConfig("cgroup = \"" + cgroup.path() + "\"\nsocket_wait_ms = 300\n");
  std::vector<dataplane::UniqueFd> listeners;
  for (uint16_t port : {7990, 7991}) {
    listeners.push_back(tcpListenerIn(ns_.nsB(), VethNamespaces::kAddr4B, port, 2000ms));
    ASSERT_TRUE(listeners.back());
  }
  const std::string nsA = ns_.nsA();
  auto inCgroup = [&](uint16_t port) {
    return cgroup.runInside(nsA,
                            [port] { return connectWithin(VethNamespaces::kAddr4B, port, 1500); });
  };
  auto bindInCgroup = [&] {  // a call at a layer without filters
    return cgroup.runInside(nsA, [] {
      const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
      const Endpoint at = endpoint(VethNamespaces::kAddr4A, 7992);
      const int rc = ::bind(fd, at.sa(), at.len) == 0 ? 0 : errno;
      ::close(fd);
      return rc;
    });
  };
  const std::string connectPin = pinDir_ + "/sock/xfp_connect4";
  auto connectProgs = [&] {
    const int cg = ::open(cgroup.path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    uint32_t ids[8] = {};
    uint32_t count = 8;
    uint32_t flags = 0;
    const int rc = bpf_prog_query(cg, BPF_CGROUP_INET4_CONNECT, 0, &flags, ids, &count);
    ::close(cg);
    return rc == 0 ? static_cast<int>(count) : -1;
  };

  startXfpd();
  EXPECT_EQ(inCgroup(7990), EPERM);
  EXPECT_EQ(inCgroup(7991), 0);
  EXPECT_EQ(::access(connectPin.c_str(), F_OK), 0) << "pinned beside the data path";

  ASSERT_EQ(xfpd_.stop(SIGKILL), SIGKILL) << xfpd_.log();
  EXPECT_EQ(connectProgs(), 1) << "the hooks outlive the killed xfpd";
  EXPECT_EQ(inCgroup(7990), EPERM);
  EXPECT_EQ(inCgroup(7991), EPERM) << "nobody classifies: refused, not let through";
  EXPECT_EQ(bindInCgroup(), 0) << "a layer without filters is not affected";
  int outside = -1;
  ASSERT_EQ(VethNamespaces::runIn(
                nsA, [&] { outside = connectWithin(VethNamespaces::kAddr4B, 7990, 1500); }),
            "");
  EXPECT_EQ(outside, 0) << "outside the cgroup";

  startXfpd();
  EXPECT_EQ(connectProgs(), 1) << "taken over, not attached beside";
  EXPECT_EQ(inCgroup(7990), EPERM);
  EXPECT_EQ(inCgroup(7991), 0);

  // A clean stop that leaves the data path attached leaves the socket layers closed too.
  ASSERT_EQ(xfpd_.stop(SIGTERM), 0) << xfpd_.log();
  EXPECT_EQ(connectProgs(), 1);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(inCgroup(7991), EPERM);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1200ms) << "refused at once, no wait";
}

}  // namespace
}  // namespace xfp::test
