#include "userspace/client/engine_session.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <future>
#include <utility>

#include <fmt/format.h>

#include "userspace/client/fwpm_convert.h"
#include "userspace/client/net_event_convert.h"
#include "userspace/rpc/codec.h"

namespace xfp::client {
namespace {

constexpr const char* kDefaultSocket = "/run/xfp/xfpd.sock";

// Change and event handles are unique across engine handles, so that one engine's handle passed
// with another engine is refused, and never reused.
std::atomic<uint64_t> gNextSubscriptionHandle{1};

// One subscription stream and the thread reading it. `Msg` is the stream's message type.
template <class Msg>
struct StreamSubscription final : EngineSession::Subscription {
  std::shared_ptr<grpc::Channel> channel;  // the connection outlives the session object if need be
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<Msg>> reader;
  std::function<void(const Msg&)> deliver;
  void cancel() override { context.TryCancel(); }
};

// Reads the stream's first message (the answer to the subscription) and, if it says yes, starts
// the reader thread and returns the answer.
template <class Msg>
Result<Msg> startReader(const std::shared_ptr<StreamSubscription<Msg>>& sub,
                        const std::string& socket,
                        std::shared_future<void> registered) {
  Msg first;
  if (!sub->reader->Read(&first)) {
    const grpc::Status st = sub->reader->Finish();
    return tl::unexpected(transportError(st, false, socket));
  }
  if (first.status() != 0) {
    // The service refused; it ends the stream itself, cancelling only makes sure of it.
    sub->context.TryCancel();
    Msg rest;
    while (sub->reader->Read(&rest)) {
    }
    (void)sub->reader->Finish();
    return fail(first.status(), first.message());
  }
  sub->thread = std::thread([sub, registered] {
    // The handle is in the session's table before the first callback can use it.
    registered.wait();
    Msg m;
    while (!sub->stopped.load() && sub->reader->Read(&m)) {
      if (sub->stopped.load()) {
        break;
      }
      sub->deliver(m);
    }
    (void)sub->reader->Finish();
  });
  return first;
}

// Puts a started subscription in the table and lets its thread go; if that fails (memory), the
// thread is stopped before the error goes on.
template <class Add>
uint64_t registerStarted(const std::shared_ptr<EngineSession::Subscription>& sub,
                         std::promise<void>& registered,
                         Add&& add,
                         void (*stop)(const std::shared_ptr<EngineSession::Subscription>&)) {
  try {
    const uint64_t handle = add();
    registered.set_value();
    return handle;
  } catch (...) {
    registered.set_value();
    stop(sub);
    throw;
  }
}

}  // namespace

std::string serviceSocketPath() {
  const char* env = std::getenv("XFP_SOCKET");
  return env != nullptr && *env != 0 ? std::string(env) : std::string(kDefaultSocket);
}

Error transportError(const grpc::Status& status, bool opening, const std::string& socket) {
  const std::string what = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return Error{ERROR_ACCESS_DENIED, fmt::format("xfpd refused the connection: {}", what)};
    case grpc::StatusCode::INTERNAL:
      return Error{RPC_E_SERVERFAULT, fmt::format("xfpd failed: {}", what)};
    case grpc::StatusCode::UNIMPLEMENTED:
      return Error{
          opening ? HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE) : RPC_E_SERVERFAULT,
          fmt::format("the service at {} does not serve xfp's control API: {}", socket, what)};
    default:
      if (opening) {
        return Error{HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE),
                     fmt::format("cannot reach xfpd at {}: {}", socket, what)};
      }
      return Error{
          RPC_E_DISCONNECTED,
          fmt::format(
              "the connection to xfpd at {} broke ({}): the session has ended", socket, what)};
  }
}

Result<std::shared_ptr<EngineSession>> EngineSession::open(const std::string& socket,
                                                           const engine::SessionOptions& options) {
  // gRPC reports a missing or forbidden socket as a generic UNAVAILABLE; look first, so the
  // caller learns which it is.
  struct stat st {};
  if (::stat(socket.c_str(), &st) != 0) {
    const int err = errno;
    if (err == EACCES) {
      return fail(ERROR_ACCESS_DENIED,
                  fmt::format("cannot reach {}: permission denied (xfpd admits root and the "
                              "members of its socket's group)",
                              socket));
    }
    return fail(
        HRESULT_FROM_WIN32(RPC_S_SERVER_UNAVAILABLE),
        fmt::format("xfpd is not running: no socket at {} ({})", socket, std::strerror(err)));
  }
  if (::faccessat(AT_FDCWD, socket.c_str(), R_OK | W_OK, AT_EACCESS) != 0 && errno == EACCES) {
    return fail(ERROR_ACCESS_DENIED,
                fmt::format("cannot connect to {}: permission denied (xfpd admits root and the "
                            "members of its socket's group)",
                            socket));
  }

  std::shared_ptr<EngineSession> s(new EngineSession());
  s->socket_ = socket;
  grpc::ChannelArguments args;
  // One connection per engine handle (a session is a connection, wfp-model.md §7.1), no proxy
  // for a local socket, and no message size limit on enumeration pages.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  s->channel_ =
      grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
  s->stub_ = v1::Engine::NewStub(s->channel_);
  s->stream_ = s->stub_->Session(&s->context_);

  v1::SessionRequest request;
  *request.mutable_open() = rpc::toProto(options);
  v1::SessionReply reply;
  if (!s->stream_->Write(request) || !s->stream_->Read(&reply)) {
    const grpc::Status status = s->stream_->Finish();
    s->closed_ = true;
    return tl::unexpected(transportError(status, true, socket));
  }
  if (reply.status() != 0 || !reply.has_session()) {
    s->context_.TryCancel();
    (void)s->stream_->Finish();
    s->closed_ = true;
    if (reply.status() != 0) {
      return fail(reply.status(), reply.message());
    }
    return fail(RPC_E_INVALID_DATA, "xfpd answered open without a session");
  }
  auto info = rpc::fromProto(reply.session(), "session");
  if (!info) {
    s->context_.TryCancel();
    (void)s->stream_->Finish();
    s->closed_ = true;
    return fail(RPC_E_INVALID_DATA, "xfpd's session: " + info.error().message);
  }
  s->sessionId_ = info->id;
  s->sessionKey_ = info->options.sessionKey;
  return s;
}

EngineSession::~EngineSession() {
  (void)close();
}

Error EngineSession::breakStream() {
  broken_ = true;
  const grpc::Status status = stream_->Finish();
  brokenError_ = transportError(status, false, socket_);
  return brokenError_;
}

Result<void> EngineSession::usableLocked() const {
  if (closed_) {
    return fail(HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE), "the engine handle is closed");
  }
  if (broken_) {
    return tl::unexpected(brokenError_);
  }
  return {};
}

Result<v1::SessionReply> EngineSession::callLocked(const v1::SessionRequest& request) {
  if (auto usable = usableLocked(); !usable) {
    return tl::unexpected(usable.error());
  }
  v1::SessionReply reply;
  if (!stream_->Write(request) || !stream_->Read(&reply)) {
    return tl::unexpected(breakStream());
  }
  if (reply.status() != 0) {
    return fail(reply.status(), reply.message());
  }
  return reply;
}

Result<v1::SessionReply> EngineSession::call(const v1::SessionRequest& request) {
  std::lock_guard<std::mutex> lock(callMu_);
  return callLocked(request);
}

Result<void> EngineSession::close() {
  std::map<uint64_t, std::shared_ptr<Subscription>> subs;
  {
    std::lock_guard<std::mutex> lock(subsMu_);
    subs.swap(subscriptions_);
  }
  for (auto& [handle, sub] : subs) {
    stopSubscription(sub);
  }
  std::lock_guard<std::mutex> lock(callMu_);
  if (closed_) {
    return {};
  }
  Result<void> result;
  if (!broken_) {
    v1::SessionRequest request;
    request.mutable_close();
    auto reply = callLocked(request);
    if (!reply) {
      result = tl::unexpected(reply.error());
    }
    if (!broken_) {
      stream_->WritesDone();
      (void)stream_->Finish();
    }
  }
  closed_ = true;
  return result;
}

uint64_t EngineSession::addSubscription(std::shared_ptr<Subscription> sub) {
  const uint64_t handle = gNextSubscriptionHandle.fetch_add(1);
  std::lock_guard<std::mutex> lock(subsMu_);
  subscriptions_.emplace(handle, std::move(sub));
  return handle;
}

std::shared_ptr<EngineSession::Subscription> EngineSession::takeSubscription(uint64_t handle,
                                                                             bool filterChanges) {
  std::lock_guard<std::mutex> lock(subsMu_);
  auto it = subscriptions_.find(handle);
  if (it == subscriptions_.end() || it->second->filterChanges != filterChanges) {
    return nullptr;
  }
  auto sub = std::move(it->second);
  subscriptions_.erase(it);
  return sub;
}

void EngineSession::stopSubscription(const std::shared_ptr<Subscription>& sub) {
  sub->stopped.store(true);
  sub->cancel();
  if (!sub->thread.joinable()) {
    return;
  }
  if (sub->thread.get_id() == std::this_thread::get_id()) {
    // Called from the subscription's own callback: joining would wait for ourselves. The
    // thread sees `stopped` when the callback returns and ends without another call.
    sub->thread.detach();
  } else {
    sub->thread.join();  // waits for a callback in progress, as WFP does
  }
}

Result<uint64_t> EngineSession::subscribeFilterChanges(
    const engine::FilterSubscription& subscription,
    FWPM_FILTER_CHANGE_CALLBACK0 callback,
    void* context) {
  {
    std::lock_guard<std::mutex> lock(callMu_);
    if (auto usable = usableLocked(); !usable) {
      return tl::unexpected(usable.error());
    }
  }
  auto sub = std::make_shared<StreamSubscription<v1::FilterChangeMessage>>();
  sub->filterChanges = true;
  sub->channel = channel_;
  sub->deliver = [callback, context](const v1::FilterChangeMessage& m) {
    if (m.change_type() != FWPM_CHANGE_ADD && m.change_type() != FWPM_CHANGE_DELETE) {
      return;  // a change type this revision does not know
    }
    engine::FilterChange change;
    change.changeType = static_cast<engine::ChangeType>(m.change_type());
    if (auto key = rpc::guidFromBytes(m.filter_key(), "filter_key")) {
      change.filterKey = *key;
    }
    change.filterId = m.filter_id();
    const FWPM_FILTER_CHANGE0 c = filterChangeToC(change);
    callback(context, &c);
  };
  v1::SubscribeFilterChangesRequest request;
  request.set_session_id(sessionId_);
  *request.mutable_subscription() = rpc::toProto(subscription);
  sub->reader = stub_->SubscribeFilterChanges(&sub->context, request);

  std::promise<void> registered;
  auto first = startReader(sub, socket_, registered.get_future().share());
  if (!first) {
    return tl::unexpected(first.error());
  }
  sub->serverHandle = first->handle();  // the engine's change handle (the thread never reads it)
  return registerStarted(
      sub, registered, [&] { return addSubscription(sub); }, &EngineSession::stopSubscription);
}

Result<void> EngineSession::unsubscribeFilterChanges(uint64_t changeHandle) {
  auto sub = takeSubscription(changeHandle, true);
  if (sub == nullptr) {
    return fail(
        HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE),
        fmt::format("no filter change subscription {} on this engine handle", changeHandle));
  }
  Result<void> result;
  if (sub->serverHandle != 0) {
    v1::SessionRequest request;
    request.set_unsubscribe_filter_changes(sub->serverHandle);
    if (auto reply = call(request); !reply) {
      result = tl::unexpected(reply.error());
    }
  }
  stopSubscription(sub);
  return result;
}

Result<uint64_t> EngineSession::subscribeNetEvents(const v1::NetEventEnumTemplate& enumTemplate,
                                                   FWPM_NET_EVENT_CALLBACK0 callback,
                                                   void* context) {
  {
    std::lock_guard<std::mutex> lock(callMu_);
    if (auto usable = usableLocked(); !usable) {
      return tl::unexpected(usable.error());
    }
  }
  auto sub = std::make_shared<StreamSubscription<v1::NetEventMessage>>();
  sub->channel = channel_;
  sub->deliver = [callback, context](const v1::NetEventMessage& m) {
    if (!m.has_event()) {
      return;
    }
    FWPM_NET_EVENT1* event = netEventToC(m.event());
    if (event == nullptr) {
      return;  // out of memory: net events are best-effort
    }
    callback(context, event);
    std::free(event);
  };
  v1::NetEventsRequest request;
  request.set_session_id(sessionId_);
  *request.mutable_template_() = enumTemplate;
  request.set_follow(true);
  request.set_history(false);
  sub->reader = stub_->NetEvents(&sub->context, request);

  std::promise<void> registered;
  auto first = startReader(sub, socket_, registered.get_future().share());
  if (!first) {
    return tl::unexpected(first.error());
  }
  return registerStarted(
      sub, registered, [&] { return addSubscription(sub); }, &EngineSession::stopSubscription);
}

Result<void> EngineSession::unsubscribeNetEvents(uint64_t eventsHandle) {
  auto sub = takeSubscription(eventsHandle, false);
  if (sub == nullptr) {
    return fail(HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE),
                fmt::format("no net event subscription {} on this engine handle", eventsHandle));
  }
  stopSubscription(sub);
  return {};
}

}  // namespace xfp::client
