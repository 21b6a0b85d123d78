// The FWPM C API over its transport, against a scripted fake xfpd in this process (a gRPC server
// on a temporary Unix socket): sessions, one request -> one reply in order, the service's status
// and message passed through, transport failures as RPC-range codes, PERMISSION_DENIED as
// ERROR_ACCESS_DENIED, enumeration paging, subscriptions (their threads, unsubscribing and
// closing from inside a callback), net events, concurrent callers, the per-thread last error.
// The real service is exercised by tests/integration/fwpm_api_test.cpp.
#include <fwpmu.h>
#include <grpcpp/grpcpp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "userspace/client/fwpm_convert.h"
#include "userspace/rpc/codec.h"
#include "userspace/rpc/xfp.grpc.pb.h"

namespace xfp::client {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kServerChangeHandle = 7;

// A scripted xfpd: enough of the protocol to drive every client path.
class FakeXfpd final : public v1::Engine::Service {
 public:
  // Test controls.
  std::atomic<bool> refuse{false};          // Session -> PERMISSION_DENIED
  std::atomic<bool> dieOnCommit{false};     // commit -> the stream ends without a reply
  std::atomic<int> subscriptionsActive{0};  // running subscription handlers
  std::atomic<bool> refuseSubscriptions{false};

  grpc::Status Session(
      grpc::ServerContext* /*ctx*/,
      grpc::ServerReaderWriter<v1::SessionReply, v1::SessionRequest>* stream) override {
    if (refuse) {
      return {grpc::StatusCode::PERMISSION_DENIED,
              "uid 1000 is neither root nor in group xfp: add it to the group"};
    }
    v1::SessionRequest req;
    if (!stream->Read(&req) || req.op_case() != v1::SessionRequest::kOpen) {
      return {grpc::StatusCode::INVALID_ARGUMENT, "the first request must be open"};
    }
    record(req);
    v1::SessionReply open;
    v1::SessionInfo* info = open.mutable_session();
    info->set_session_id(nextSession_.fetch_add(1));
    // A zero key asks the engine to generate one.
    const std::string& key = req.open().session_key();
    info->set_session_key(key.empty() || key == std::string(16, '\0') ? std::string(16, '\x5e')
                                                                      : key);
    *info->mutable_display_data() = req.open().display_data();
    info->set_flags(req.open().flags());
    stream->Write(open);
    uint64_t enumCalls = 0;
    while (stream->Read(&req)) {
      record(req);
      v1::SessionReply reply;
      switch (req.op_case()) {
        case v1::SessionRequest::kClose:
          stream->Write(reply);
          return grpc::Status::OK;
        case v1::SessionRequest::kCommit:
          if (dieOnCommit) {
            return {grpc::StatusCode::UNAVAILABLE, "xfpd is stopping"};
          }
          break;
        case v1::SessionRequest::kBegin:
        case v1::SessionRequest::kAbort:
        case v1::SessionRequest::kAddProvider:
        case v1::SessionRequest::kAddSublayer:
        case v1::SessionRequest::kDestroyEnum:
        case v1::SessionRequest::kUnsubscribeFilterChanges:
          break;
        case v1::SessionRequest::kAddFilter: {
          std::lock_guard<std::mutex> lock(mu_);
          v1::Filter f = req.add_filter();
          f.set_filter_id(nextFilter_++);
          filters_.push_back(f);
          reply.set_id(f.filter_id());
          break;
        }
        case v1::SessionRequest::kGetFilter: {
          std::lock_guard<std::mutex> lock(mu_);
          bool found = false;
          for (const v1::Filter& f : filters_) {
            if (req.get_filter().by_case() == v1::KeyOrId::kId &&
                f.filter_id() == req.get_filter().id()) {
              *reply.mutable_filter() = f;
              found = true;
            }
          }
          if (!found) {
            reply.set_status(FWP_E_FILTER_NOT_FOUND);
            reply.set_message("no filter with that id");
          }
          break;
        }
        case v1::SessionRequest::kDeleteFilter:
          reply.set_status(FWP_E_FILTER_NOT_FOUND);
          reply.set_message("filter 99 does not exist");
          break;
        case v1::SessionRequest::kCreateEnum:
          reply.set_id(5);
          enumCalls = 0;
          break;
        case v1::SessionRequest::kEnumNext:
          if (req.enum_next().kind() == v1::OBJECT_KIND_NET_EVENT) {
            if (enumCalls++ == 0) {
              v1::NetEvent* e = reply.mutable_entries()->add_net_events();
              e->set_type(FWPM_NET_EVENT_TYPE_CLASSIFY_DROP);
              e->set_ip_version(4);
              e->set_filter_id(44);
            }
          } else if (enumCalls++ == 0) {
            std::lock_guard<std::mutex> lock(mu_);
            for (const v1::Filter& f : filters_) {
              *reply.mutable_entries()->add_filters() = f;
            }
          } else {
            reply.mutable_entries();
          }
          break;
        case v1::SessionRequest::kFilterSubscriptions: {
          v1::FilterSubscription* s = reply.mutable_subscriptions()->add_subscriptions();
          s->set_flags(FWPM_SUBSCRIPTION_FLAG_NOTIFY_ON_DELETE);
          reply.mutable_subscriptions()->add_handles(kServerChangeHandle);
          break;
        }
        default:
          reply.set_status(FWP_E_INVALID_PARAMETER);
          reply.set_message("not scripted");
          break;
      }
      stream->Write(reply);
    }
    return grpc::Status::OK;
  }

  grpc::Status SubscribeFilterChanges(
      grpc::ServerContext* ctx,
      const v1::SubscribeFilterChangesRequest* req,
      grpc::ServerWriter<v1::FilterChangeMessage>* writer) override {
    v1::FilterChangeMessage first;
    if (req->session_id() == 0 || refuseSubscriptions) {
      first.set_status(FWP_E_TXN_IN_PROGRESS);
      first.set_message("not inside a transaction");
      writer->Write(first);
      return grpc::Status::OK;
    }
    first.set_handle(kServerChangeHandle);
    writer->Write(first);
    ++subscriptionsActive;
    while (!ctx->IsCancelled()) {
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait_for(lock, 5ms, [&] { return !changes_.empty(); });
      while (!changes_.empty()) {
        v1::FilterChangeMessage m = changes_.front();
        changes_.pop_front();
        lock.unlock();
        writer->Write(m);
        lock.lock();
      }
    }
    --subscriptionsActive;
    return grpc::Status::OK;
  }

  grpc::Status NetEvents(grpc::ServerContext* ctx,
                         const v1::NetEventsRequest* req,
                         grpc::ServerWriter<v1::NetEventMessage>* writer) override {
    EXPECT_TRUE(req->follow());
    writer->Write(v1::NetEventMessage{});
    ++subscriptionsActive;
    while (!ctx->IsCancelled()) {
      std::unique_lock<std::mutex> lock(mu_);
      changed_.wait_for(lock, 5ms, [&] { return !events_.empty(); });
      while (!events_.empty()) {
        v1::NetEventMessage m;
        *m.mutable_event() = events_.front();
        events_.pop_front();
        lock.unlock();
        writer->Write(m);
        lock.lock();
      }
    }
    --subscriptionsActive;
    return grpc::Status::OK;
  }

  void pushChange(uint32_t type, uint64_t filterId) {
    v1::FilterChangeMessage m;
    m.set_change_type(type);
    m.set_filter_id(filterId);
    m.set_filter_key(std::string(16, static_cast<char>(filterId)));
    std::lock_guard<std::mutex> lock(mu_);
    changes_.push_back(m);
    changed_.notify_all();
  }
  void pushEvent(const v1::NetEvent& e) {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(e);
    changed_.notify_all();
  }
  std::vector<v1::SessionRequest::OpCase> ops() {
    std::lock_guard<std::mutex> lock(mu_);
    return ops_;
  }
  std::vector<v1::SessionRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void record(const v1::SessionRequest& req) {
    std::lock_guard<std::mutex> lock(mu_);
    ops_.push_back(req.op_case());
    requests_.push_back(req);
  }

  std::atomic<uint64_t> nextSession_{1};
  std::mutex mu_;
  std::condition_variable changed_;
  uint64_t nextFilter_ = 1;
  std::vector<v1::Filter> filters_;
  std::deque<v1::FilterChangeMessage> changes_;
  std::deque<v1::NetEvent> events_;
  std::vector<v1::SessionRequest::OpCase> ops_;
  std::vector<v1::SessionRequest> requests_;
};

class Transport : public ::testing::Test {
 protected:
  void SetUp() override {
    socket_ = "/tmp/xfpm-transport-" + std::to_string(::getpid()) + ".sock";
    ::unlink(socket_.c_str());
    grpc::ServerBuilder builder;
    builder.AddListeningPort("unix:" + socket_, grpc::InsecureServerCredentials());
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ::setenv("XFP_SOCKET", socket_.c_str(), 1);
  }
  void TearDown() override {
    server_->Shutdown(std::chrono::system_clock::now() + 2s);
    ::unlink(socket_.c_str());
    ::unsetenv("XFP_SOCKET");
  }
  HANDLE open(UINT32 flags = 0) {
    FWPM_SESSION0 s{};
    s.flags = flags;
    HANDLE h = nullptr;
    EXPECT_EQ(FwpmEngineOpen0(nullptr, RPC_C_AUTHN_WINNT, nullptr, &s, &h), ERROR_SUCCESS)
        << XfpmLastErrorMessage();
    return h;
  }
  // Waits until `pred` holds (for callbacks running on the library's threads).
  template <class Pred>
  static bool eventually(Pred pred) {
    for (int i = 0; i < 400 && !pred(); ++i) {
      std::this_thread::sleep_for(5ms);
    }
    return pred();
  }

  std::string socket_;
  FakeXfpd fake_;
  std::unique_ptr<grpc::Server> server_;
};

struct TestFilter {
  std::vector<WCHAR> name{'w', 'e', 'b', 0};
  FWPM_FILTER_CONDITION0 cond{};
  UINT64 weight = 99;
  FWPM_FILTER0 f{};
  TestFilter() {
    f.displayData.name = name.data();
    f.layerKey =
        guidToC(Guid::fromText("5926dfc8-e3cf-4426-a283-dc393f5d0f9d"));  // INBOUND_TRANSPORT_V4
    f.weight.type = FWP_UINT64;
    f.weight.uint64 = &weight;
    cond.fieldKey = guidToC(Guid::fromText("0c1ba1af-5765-453f-af22-a8f791ac775b"));
    cond.matchType = FWP_MATCH_EQUAL;
    cond.conditionValue.type = FWP_UINT16;
    cond.conditionValue.uint16 = 443;
    f.numFilterConditions = 1;
    f.filterCondition = &cond;
    f.action.type = FWP_ACTION_BLOCK;
  }
};

// ---- no service, refused ----

TEST(TransportNoService, MissingSocketIsServerUnavailable) {
  ::setenv("XFP_SOCKET", "/tmp/xfpm-no-such-dir/xfpd.sock", 1);
  HANDLE h = reinterpret_cast<HANDLE>(0x1);
  EXPECT_EQ(FwpmEngineOpen0(nullptr, RPC_C_AUTHN_DEFAULT, nullptr, nullptr, &h),
            HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE));
  EXPECT_NE(std::string(XfpmLastErrorMessage()).find("/tmp/xfpm-no-such-dir/xfpd.sock"),
            std::string::npos)
      << XfpmLastErrorMessage();
  ::unsetenv("XFP_SOCKET");
}

TEST(TransportNoService, StaleSocketIsServerUnavailable) {
  // A socket file nobody listens on (what a crashed service leaves behind).
  const std::string path = "/tmp/xfpm-stale-" + std::to_string(::getpid()) + ".sock";
  ::unlink(path.c_str());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::close(fd);
  ::setenv("XFP_SOCKET", path.c_str(), 1);
  HANDLE h = nullptr;
  EXPECT_EQ(FwpmEngineOpen0(nullptr, RPC_C_AUTHN_WINNT, nullptr, nullptr, &h),
            HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE));
  EXPECT_EQ(h, nullptr);
  ::unsetenv("XFP_SOCKET");
  ::unlink(path.c_str());
}

TEST_F(Transport, RefusedCallerIsAccessDenied) {
  fake_.refuse = true;
  HANDLE h = nullptr;
  EXPECT_EQ(FwpmEngineOpen0(nullptr, RPC_C_AUTHN_WINNT, nullptr, nullptr, &h), ERROR_ACCESS_DENIED);
  EXPECT_NE(std::string(XfpmLastErrorMessage()).find("neither root"), std::string::npos)
      << XfpmLastErrorMessage();
}

// ---- argument checks (nothing reaches the service) ----

TEST_F(Transport, ArgumentsCheckedLocally) {
  HANDLE h = nullptr;
  const WCHAR server[] = {'h', 'o', 's', 't', 0};
  EXPECT_EQ(FwpmEngineOpen0(nullptr, RPC_C_AUTHN_WINNT, nullptr, nullptr, nullptr),
            FWP_E_NULL_POINTER);
  EXPECT_EQ(FwpmEngineOpen0(server, RPC_C_AUTHN_WINNT, nullptr, nullptr, &h),
            FWP_E_INVALID_PARAMETER);
  EXPECT_EQ(FwpmEngineOpen0(nullptr, 9, nullptr, nullptr, &h), FWP_E_INVALID_PARAMETER);
  SEC_WINNT_AUTH_IDENTITY_W id{};
  EXPECT_EQ(FwpmEngineOpen0(nullptr, RPC_C_AUTHN_WINNT, &id, nullptr, &h), FWP_E_INVALID_PARAMETER);
  EXPECT_TRUE(fake_.ops().empty());

  h = open();
  const size_t before = fake_.ops().size();
  TestFilter tf;
  char sd[20] = {1};
  EXPECT_EQ(FwpmFilterAdd0(h, &tf.f, sd, nullptr), FWP_E_INVALID_PARAMETER);
  EXPECT_EQ(FwpmFilterAdd0(h, nullptr, nullptr, nullptr), FWP_E_NULL_POINTER);
  tf.f.displayData.name = nullptr;
  EXPECT_EQ(FwpmFilterAdd0(h, &tf.f, nullptr, nullptr), FWP_E_NULL_DISPLAY_NAME);
  EXPECT_EQ(FwpmFilterDeleteByKey0(h, nullptr), FWP_E_NULL_POINTER);
  EXPECT_EQ(FwpmFilterGetById0(h, 1, nullptr), FWP_E_NULL_POINTER);
  FWPM_FILTER0* got = nullptr;
  EXPECT_EQ(FwpmFilterGetByKey0(h, nullptr, &got), FWP_E_NULL_POINTER);
  EXPECT_EQ(FwpmProviderGetByKey0(h, nullptr, nullptr), FWP_E_NULL_POINTER);
  EXPECT_EQ(FwpmFilterSubscribeChanges0(h, nullptr, nullptr, nullptr, nullptr), FWP_E_NULL_POINTER);
  FWPM_NET_EVENT_SUBSCRIPTION0 ns{};
  ns.flags = 1;
  HANDLE eh = nullptr;
  EXPECT_EQ(FwpmNetEventSubscribe0(
                h, &ns, [](void*, const FWPM_NET_EVENT1*) {}, nullptr, &eh),
            FWP_E_INVALID_FLAGS);
  EXPECT_EQ(fake_.ops().size(), before);
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
}

TEST_F(Transport, BadEngineHandles) {
  const DWORD invalid = HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE);
  EXPECT_EQ(FwpmTransactionBegin0(nullptr, 0), invalid);
  EXPECT_EQ(FwpmEngineClose0(reinterpret_cast<HANDLE>(0xdead)), invalid);
  HANDLE h = open();
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
  EXPECT_EQ(FwpmEngineClose0(h), invalid);  // never reused, so a stale handle stays invalid
  EXPECT_EQ(FwpmTransactionCommit0(h), invalid);
  EXPECT_NE(std::string(XfpmLastErrorMessage()), "");
}

// ---- the session stream ----

TEST_F(Transport, RequestsAndRepliesInOrder) {
  FWPM_SESSION0 s{};
  const WCHAR name[] = {'t', 'o', 'o', 'l', 0};
  s.displayData.name = const_cast<WCHAR*>(name);
  s.flags = FWPM_SESSION_FLAG_DYNAMIC;
  s.txnWaitTimeoutInMSec = 1234;
  HANDLE h = nullptr;
  ASSERT_EQ(FwpmEngineOpen0(nullptr, RPC_C_AUTHN_DEFAULT, nullptr, &s, &h), ERROR_SUCCESS);
  EXPECT_STREQ(XfpmLastErrorMessage(), "");

  EXPECT_EQ(FwpmTransactionBegin0(h, FWPM_TXN_READ_ONLY), ERROR_SUCCESS);
  TestFilter tf;
  UINT64 id = 0;
  EXPECT_EQ(FwpmFilterAdd0(h, &tf.f, nullptr, &id), ERROR_SUCCESS);
  EXPECT_EQ(id, 1u);
  EXPECT_EQ(FwpmTransactionCommit0(h), ERROR_SUCCESS);

  FWPM_FILTER0* got = nullptr;
  ASSERT_EQ(FwpmFilterGetById0(h, id, &got), ERROR_SUCCESS) << XfpmLastErrorMessage();
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->filterId, 1u);
  EXPECT_EQ(got->displayData.name[0], 'w');
  EXPECT_EQ(got->weight.type, FWP_UINT64);
  EXPECT_EQ(*got->weight.uint64, 99u);
  ASSERT_EQ(got->numFilterConditions, 1u);
  EXPECT_EQ(got->filterCondition[0].conditionValue.uint16, 443);
  FwpmFreeMemory0(reinterpret_cast<void**>(&got));
  EXPECT_EQ(got, nullptr);
  FwpmFreeMemory0(nullptr);  // harmless

  // The service's status and message reach the caller unchanged.
  EXPECT_EQ(FwpmFilterGetById0(h, 42, &got), FWP_E_FILTER_NOT_FOUND);
  EXPECT_STREQ(XfpmLastErrorMessage(), "no filter with that id");
  EXPECT_EQ(got, nullptr);
  EXPECT_EQ(FwpmFilterDeleteById0(h, 99), FWP_E_FILTER_NOT_FOUND);
  EXPECT_STREQ(XfpmLastErrorMessage(), "filter 99 does not exist");
  EXPECT_EQ(FwpmTransactionAbort0(h), ERROR_SUCCESS);
  EXPECT_STREQ(XfpmLastErrorMessage(), "");  // a success clears it
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);

  using Op = v1::SessionRequest::OpCase;
  const std::vector<Op> expected = {Op::kOpen,
                                    Op::kBegin,
                                    Op::kAddFilter,
                                    Op::kCommit,
                                    Op::kGetFilter,
                                    Op::kGetFilter,
                                    Op::kDeleteFilter,
                                    Op::kAbort,
                                    Op::kClose};
  EXPECT_EQ(fake_.ops(), expected);
  const auto reqs = fake_.requests();
  EXPECT_EQ(reqs[0].open().display_data().name(), "tool");
  EXPECT_EQ(reqs[0].open().flags(), static_cast<uint32_t>(FWPM_SESSION_FLAG_DYNAMIC));
  EXPECT_EQ(reqs[0].open().txn_wait_timeout_ms(), 1234u);
  EXPECT_EQ(reqs[1].begin(), static_cast<uint32_t>(FWPM_TXN_READ_ONLY));
  auto sent = rpc::fromProto(reqs[2].add_filter());
  ASSERT_TRUE(sent);
  EXPECT_EQ(sent->conditions.size(), 1u);
  EXPECT_EQ(sent->weight, Value::uint64(99));
}

TEST_F(Transport, BrokenStreamIsDisconnected) {
  HANDLE h = open();
  fake_.dieOnCommit = true;
  EXPECT_EQ(FwpmTransactionCommit0(h), RPC_E_DISCONNECTED);
  EXPECT_NE(std::string(XfpmLastErrorMessage()).find("xfpd is stopping"), std::string::npos)
      << XfpmLastErrorMessage();
  EXPECT_EQ(FwpmTransactionBegin0(h, 0), RPC_E_DISCONNECTED);  // the session is gone
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);               // the handle is released
}

TEST_F(Transport, ServiceGoneMidSession) {
  HANDLE h = open();
  server_->Shutdown(std::chrono::system_clock::now() + 100ms);
  EXPECT_EQ(FwpmTransactionBegin0(h, 0), RPC_E_DISCONNECTED);
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
}

TEST_F(Transport, ConcurrentCallersShareAHandle) {
  HANDLE h = open();
  constexpr int kThreads = 6;
  constexpr int kEach = 25;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<UINT64> ids;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      TestFilter tf;
      for (int i = 0; i < kEach; ++i) {
        UINT64 id = 0;
        if (FwpmFilterAdd0(h, &tf.f, nullptr, &id) != ERROR_SUCCESS) {
          ++failures;
        }
        std::lock_guard<std::mutex> lock(mu);
        ids.insert(id);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kThreads * kEach));  // every reply to its request
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
}

TEST_F(Transport, LastErrorIsPerThread) {
  HANDLE h = open();
  EXPECT_EQ(FwpmFilterDeleteById0(h, 99), FWP_E_FILTER_NOT_FOUND);
  std::thread([&] {
    EXPECT_STREQ(XfpmLastErrorMessage(), "");
    EXPECT_EQ(FwpmTransactionBegin0(h, 0), ERROR_SUCCESS);
  }).join();
  EXPECT_STREQ(XfpmLastErrorMessage(), "filter 99 does not exist");
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
}

// ---- enumeration ----

TEST_F(Transport, EnumerationPages) {
  HANDLE h = open();
  TestFilter tf;
  ASSERT_EQ(FwpmFilterAdd0(h, &tf.f, nullptr, nullptr), ERROR_SUCCESS);
  ASSERT_EQ(FwpmFilterAdd0(h, &tf.f, nullptr, nullptr), ERROR_SUCCESS);
  FWPM_FILTER_ENUM_TEMPLATE0 t{};
  t.layerKey = tf.f.layerKey;
  t.actionMask = 0xFFFFFFFF;
  t.flags = FWP_FILTER_ENUM_FLAG_SORTED;
  HANDLE e = nullptr;
  ASSERT_EQ(FwpmFilterCreateEnumHandle0(h, &t, &e), ERROR_SUCCESS);
  EXPECT_EQ(e, reinterpret_cast<HANDLE>(5));
  FWPM_FILTER0** entries = nullptr;
  UINT32 n = 0;
  ASSERT_EQ(FwpmFilterEnum0(h, e, 10, &entries, &n), ERROR_SUCCESS);
  ASSERT_EQ(n, 2u);
  EXPECT_EQ(entries[0]->filterId, 1u);
  EXPECT_EQ(entries[1]->filterId, 2u);
  FwpmFreeMemory0(reinterpret_cast<void**>(&entries));
  ASSERT_EQ(FwpmFilterEnum0(h, e, 10, &entries, &n), ERROR_SUCCESS);
  EXPECT_EQ(n, 0u);
  EXPECT_EQ(entries, nullptr);
  EXPECT_EQ(FwpmFilterDestroyEnumHandle0(h, e), ERROR_SUCCESS);
  EXPECT_EQ(FwpmFilterEnum0(h, e, 10, nullptr, &n), FWP_E_NULL_POINTER);

  // What went on the wire.
  const auto reqs = fake_.requests();
  const v1::SessionRequest* create = nullptr;
  for (const auto& r : reqs) {
    if (r.op_case() == v1::SessionRequest::kCreateEnum) {
      create = &r;
    }
  }
  ASSERT_NE(create, nullptr);
  EXPECT_EQ(create->create_enum().kind(), v1::OBJECT_KIND_FILTER);
  ASSERT_TRUE(create->create_enum().has_filter_template());
  EXPECT_EQ(create->create_enum().filter_template().flags(),
            static_cast<uint32_t>(FWP_FILTER_ENUM_FLAG_SORTED));

  // Net events the same way.
  HANDLE ne = nullptr;
  ASSERT_EQ(FwpmNetEventCreateEnumHandle0(h, nullptr, &ne), ERROR_SUCCESS);
  FWPM_NET_EVENT1** events = nullptr;
  ASSERT_EQ(FwpmNetEventEnum1(h, ne, 100, &events, &n), ERROR_SUCCESS);
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(events[0]->type, FWPM_NET_EVENT_TYPE_CLASSIFY_DROP);
  EXPECT_EQ(events[0]->classifyDrop->filterId, 44u);
  FwpmFreeMemory0(reinterpret_cast<void**>(&events));
  EXPECT_EQ(FwpmNetEventDestroyEnumHandle0(h, ne), ERROR_SUCCESS);
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
}

// ---- subscriptions ----

struct Changes {
  std::mutex mu;
  std::vector<FWPM_FILTER_CHANGE0> seen;
  HANDLE engine = nullptr;
  HANDLE change = nullptr;
  DWORD unsubscribeResult = 0xFFFFFFFF;
  DWORD closeResult = 0xFFFFFFFF;
  size_t count() {
    std::lock_guard<std::mutex> lock(mu);
    return seen.size();
  }
};

void recordChange(void* context, const FWPM_FILTER_CHANGE0* change) {
  auto* c = static_cast<Changes*>(context);
  std::lock_guard<std::mutex> lock(c->mu);
  c->seen.push_back(*change);
}

TEST_F(Transport, FilterChangesReachTheCallbackInOrder) {
  HANDLE h = open();
  Changes changes;
  FWPM_FILTER_SUBSCRIPTION0 sub{};
  sub.flags = FWPM_SUBSCRIPTION_FLAG_NOTIFY_ON_ADD | FWPM_SUBSCRIPTION_FLAG_NOTIFY_ON_DELETE;
  HANDLE ch = nullptr;
  ASSERT_EQ(FwpmFilterSubscribeChanges0(h, &sub, recordChange, &changes, &ch), ERROR_SUCCESS)
      << XfpmLastErrorMessage();
  ASSERT_NE(ch, nullptr);
  fake_.pushChange(FWPM_CHANGE_ADD, 10);
  fake_.pushChange(FWPM_CHANGE_DELETE, 11);
  fake_.pushChange(9, 12);  // an unknown change type is not delivered
  fake_.pushChange(FWPM_CHANGE_ADD, 13);
  ASSERT_TRUE(eventually([&] { return changes.count() == 3; }));
  {
    std::lock_guard<std::mutex> lock(changes.mu);
    EXPECT_EQ(changes.seen[0].changeType, FWPM_CHANGE_ADD);
    EXPECT_EQ(changes.seen[0].filterId, 10u);
    EXPECT_EQ(changes.seen[0].filterKey.Data1, 0x0a0a0a0au);
    EXPECT_EQ(changes.seen[1].changeType, FWPM_CHANGE_DELETE);
    EXPECT_EQ(changes.seen[1].filterId, 11u);
    EXPECT_EQ(changes.seen[2].filterId, 13u);
  }

  FWPM_FILTER_SUBSCRIPTION0** subs = nullptr;
  UINT32 n = 0;
  ASSERT_EQ(FwpmFilterSubscriptionsGet0(h, &subs, &n), ERROR_SUCCESS);
  ASSERT_EQ(n, 1u);
  EXPECT_EQ(subs[0]->flags, static_cast<UINT32>(FWPM_SUBSCRIPTION_FLAG_NOTIFY_ON_DELETE));
  EXPECT_EQ(subs[0]->sessionKey.Data1, 0x5e5e5e5eu);  // the session's key from open
  FwpmFreeMemory0(reinterpret_cast<void**>(&subs));

  EXPECT_EQ(FwpmFilterUnsubscribeChanges0(h, ch), ERROR_SUCCESS);
  EXPECT_EQ(FwpmFilterUnsubscribeChanges0(h, ch), HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE));
  fake_.pushChange(FWPM_CHANGE_ADD, 14);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(changes.count(), 3u);  // nothing after unsubscribing
  EXPECT_TRUE(eventually([&] { return fake_.subscriptionsActive.load() == 0; }));
  bool sawUnsubscribe = false;
  for (const auto& r : fake_.requests()) {
    if (r.op_case() == v1::SessionRequest::kUnsubscribeFilterChanges) {
      sawUnsubscribe = r.unsubscribe_filter_changes() == kServerChangeHandle;
    }
  }
  EXPECT_TRUE(sawUnsubscribe);
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
}

TEST_F(Transport, UnsubscribeFromInsideTheCallback) {
  HANDLE h = open();
  Changes changes;
  changes.engine = h;
  FWPM_FILTER_SUBSCRIPTION0 sub{};
  auto cb = [](void* context, const FWPM_FILTER_CHANGE0* change) {
    auto* c = static_cast<Changes*>(context);
    recordChange(context, change);
    c->unsubscribeResult = FwpmFilterUnsubscribeChanges0(c->engine, c->change);
  };
  ASSERT_EQ(FwpmFilterSubscribeChanges0(h, &sub, cb, &changes, &changes.change), ERROR_SUCCESS);
  fake_.pushChange(FWPM_CHANGE_ADD, 1);
  fake_.pushChange(FWPM_CHANGE_ADD, 2);
  ASSERT_TRUE(eventually([&] { return changes.count() >= 1; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(changes.count(), 1u);  // no call after the callback unsubscribed
  EXPECT_EQ(changes.unsubscribeResult, ERROR_SUCCESS);
  EXPECT_TRUE(eventually([&] { return fake_.subscriptionsActive.load() == 0; }));
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
}

TEST_F(Transport, CloseFromInsideTheCallback) {
  HANDLE h = open();
  Changes changes;
  changes.engine = h;
  FWPM_FILTER_SUBSCRIPTION0 sub{};
  auto cb = [](void* context, const FWPM_FILTER_CHANGE0* change) {
    auto* c = static_cast<Changes*>(context);
    recordChange(context, change);
    c->closeResult = FwpmEngineClose0(c->engine);
  };
  ASSERT_EQ(FwpmFilterSubscribeChanges0(h, &sub, cb, &changes, &changes.change), ERROR_SUCCESS);
  fake_.pushChange(FWPM_CHANGE_DELETE, 1);
  ASSERT_TRUE(eventually([&] { return changes.closeResult != 0xFFFFFFFF; }));
  EXPECT_EQ(changes.closeResult, ERROR_SUCCESS);
  EXPECT_EQ(FwpmTransactionBegin0(h, 0), HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE));
  EXPECT_TRUE(eventually([&] { return fake_.subscriptionsActive.load() == 0; }));
}

TEST_F(Transport, CloseEndsSubscriptions) {
  HANDLE h = open();
  Changes changes;
  FWPM_FILTER_SUBSCRIPTION0 sub{};
  HANDLE ch = nullptr;
  ASSERT_EQ(FwpmFilterSubscribeChanges0(h, &sub, recordChange, &changes, &ch), ERROR_SUCCESS);
  FWPM_NET_EVENT_SUBSCRIPTION0 ns{};
  HANDLE eh = nullptr;
  ASSERT_EQ(FwpmNetEventSubscribe0(
                h, &ns, [](void*, const FWPM_NET_EVENT1*) {}, nullptr, &eh),
            ERROR_SUCCESS);
  ASSERT_TRUE(eventually([&] { return fake_.subscriptionsActive.load() == 2; }));
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
  EXPECT_TRUE(eventually([&] { return fake_.subscriptionsActive.load() == 0; }));
  fake_.pushChange(FWPM_CHANGE_ADD, 1);
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(changes.count(), 0u);
  // A change handle is bound to its engine handle.
  HANDLE other = open();
  EXPECT_EQ(FwpmFilterUnsubscribeChanges0(other, ch), HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE));
  EXPECT_EQ(FwpmNetEventUnsubscribe0(other, eh), HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE));
  EXPECT_EQ(FwpmEngineClose0(other), ERROR_SUCCESS);
}

TEST_F(Transport, RefusedSubscription) {
  HANDLE h = open();
  Changes changes;
  FWPM_FILTER_SUBSCRIPTION0 sub{};
  HANDLE ch = nullptr;
  // Refused by the service: its status and message, no handle, no thread left behind.
  fake_.refuseSubscriptions = true;
  EXPECT_EQ(FwpmFilterSubscribeChanges0(h, &sub, recordChange, &changes, &ch),
            FWP_E_TXN_IN_PROGRESS);
  EXPECT_STREQ(XfpmLastErrorMessage(), "not inside a transaction");
  EXPECT_EQ(ch, nullptr);
  // Refused locally: a template with conditions but no array.
  FWPM_FILTER_ENUM_TEMPLATE0 t{};
  t.numFilterConditions = 1;
  sub.enumTemplate = &t;
  EXPECT_EQ(FwpmFilterSubscribeChanges0(h, &sub, recordChange, &changes, &ch), FWP_E_NULL_POINTER);
  EXPECT_EQ(ch, nullptr);
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
}

struct Events {
  std::mutex mu;
  std::vector<FWPM_NET_EVENT_CLASSIFY_DROP1> drops;
  std::vector<UINT32> localAddrs;
};

TEST_F(Transport, NetEventSubscription) {
  HANDLE h = open();
  Events events;
  FWPM_NET_EVENT_SUBSCRIPTION0 ns{};
  FWPM_NET_EVENT_ENUM_TEMPLATE0 t{};
  ns.enumTemplate = &t;
  HANDLE eh = nullptr;
  auto cb = [](void* context, const FWPM_NET_EVENT1* e) {
    auto* ev = static_cast<Events*>(context);
    std::lock_guard<std::mutex> lock(ev->mu);
    if (e->type == FWPM_NET_EVENT_TYPE_CLASSIFY_DROP) {
      ev->drops.push_back(*e->classifyDrop);
      ev->localAddrs.push_back(e->header.localAddrV4);
    }
  };
  ASSERT_EQ(FwpmNetEventSubscribe0(h, &ns, cb, &events, &eh), ERROR_SUCCESS)
      << XfpmLastErrorMessage();
  v1::NetEvent e;
  e.set_type(FWPM_NET_EVENT_TYPE_CLASSIFY_DROP);
  e.set_ip_version(4);
  e.set_ip_protocol(6);
  e.set_local_addr(std::string("\xc0\xa8\x00\x01", 4));
  e.set_filter_id(77);
  e.set_layer_id(44);
  fake_.pushEvent(e);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard<std::mutex> lock(events.mu);
    return events.drops.size() == 1;
  }));
  {
    std::lock_guard<std::mutex> lock(events.mu);
    EXPECT_EQ(events.drops[0].filterId, 77u);
    EXPECT_EQ(events.drops[0].layerId, 44);
    EXPECT_EQ(events.localAddrs[0], 0xc0a80001u);
  }
  EXPECT_EQ(FwpmNetEventUnsubscribe0(h, eh), ERROR_SUCCESS);
  EXPECT_TRUE(eventually([&] { return fake_.subscriptionsActive.load() == 0; }));
  EXPECT_EQ(FwpmEngineClose0(h), ERROR_SUCCESS);
}

}  // namespace
}  // namespace xfp::client
