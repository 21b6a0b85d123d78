#include "tools/xfpctl/service_client.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "tools/xfpctl/status_text.h"

namespace xfp::ctl {
namespace {

using namespace std::chrono_literals;

constexpr auto kConnectTimeout = 5s;
constexpr uint32_t kEnumPage = 1000;
// Far above any real policy; bounds the loop should a service never send a short page.
constexpr int kMaxEnumPages = 100000;

std::string unreachableHint() {
  return "xfpd may not be running (start it: sudo xfpd), or it listens on another socket "
         "(--socket PATH or XFP_SOCKET=PATH)";
}

// Looks at the socket before gRPC does: gRPC reports a missing file, a refused connection and a
// forbidden directory alike as UNAVAILABLE after retrying, and the user needs to know which.
Outcome<void> probeSocket(const std::string& socket) {
  struct stat st {};
  if (::stat(socket.c_str(), &st) != 0) {
    const int err = errno;
    if (err == EACCES) {
      return failWith(
          kExitDenied,
          fmt::format("cannot reach xfpd's socket {}: permission denied on the path", socket));
    }
    return failWith(kExitUnreachable,
                    fmt::format("cannot reach xfpd: no socket at {} ({}); {}",
                                socket,
                                std::strerror(err),
                                unreachableHint()));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return failWith(
        kExitUnreachable,
        fmt::format("cannot reach xfpd: {} is not a socket; {}", socket, unreachableHint()));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.size() >= sizeof addr.sun_path) {
    return failWith(kExitUsage, fmt::format("socket path too long: {}", socket));
  }
  std::memcpy(addr.sun_path, socket.c_str(), socket.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return failWith(kExitUnreachable, fmt::format("socket(): {}", std::strerror(errno)));
  }
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  const int err = errno;
  ::close(fd);
  if (rc != 0) {
    if (err == EACCES || err == EPERM) {
      return failWith(
          kExitDenied,
          fmt::format(
              "cannot connect to xfpd at {}: permission denied ({})", socket, std::strerror(err)));
    }
    return failWith(kExitUnreachable,
                    fmt::format("cannot connect to xfpd at {}: {} (a stale socket file?); {}",
                                socket,
                                std::strerror(err),
                                unreachableHint()));
  }
  return {};
}

Outcome<std::shared_ptr<grpc::Channel>> connect(const std::string& socket) {
  if (auto r = probeSocket(socket); !r) {
    return tl::unexpected(r.error());
  }
  grpc::ChannelArguments args;
  // A local socket: never through a proxy from the environment; enumeration pages of a large
  // policy exceed gRPC's default 4 MiB.
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  auto channel =
      grpc::CreateCustomChannel("unix:" + socket, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + kConnectTimeout)) {
    return failWith(kExitUnreachable,
                    fmt::format("cannot connect to xfpd at {}: no answer within {} s; {}",
                                socket,
                                kConnectTimeout.count(),
                                unreachableHint()));
  }
  return channel;
}

// A gRPC status that ended a stream, as an xfpctl failure.
Failure transportFailure(const grpc::Status& status, const std::string& socket, bool opening) {
  const std::string what = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED:
      return Failure{kExitDenied, fmt::format("xfpd at {} refused this client: {}", socket, what)};
    case grpc::StatusCode::UNIMPLEMENTED:
      return Failure{
          kExitUnreachable,
          fmt::format("the service at {} does not serve xfp's control API ({})", socket, what)};
    default:
      if (opening) {
        return Failure{kExitUnreachable,
                       fmt::format("cannot reach xfpd at {}: {}; {}",
                                   socket,
                                   what.empty() ? "the connection closed" : what,
                                   unreachableHint())};
      }
      return Failure{kExitUnreachable,
                     fmt::format("the connection to xfpd at {} broke: {} (did xfpd stop?)",
                                 socket,
                                 what.empty() ? "closed" : what)};
  }
}

Failure refused(uint32_t status, const std::string& message) {
  return Failure{
      kExitRefused,
      message.empty() ? statusText(status) : fmt::format("{}: {}", statusText(status), message),
      status};
}

}  // namespace

std::string resolveSocket(const std::string& flag) {
  if (!flag.empty()) {
    return flag;
  }
  const char* env = std::getenv("XFP_SOCKET");
  return env != nullptr && *env != 0 ? std::string(env) : std::string(kDefaultSocket);
}

Outcome<std::unique_ptr<ServiceClient>> ServiceClient::open(const std::string& socket,
                                                            const std::string& purpose) {
  auto channel = connect(socket);
  if (!channel) {
    return tl::unexpected(channel.error());
  }
  std::unique_ptr<ServiceClient> c(new ServiceClient());
  c->socket_ = socket;
  c->channel_ = std::move(*channel);
  c->stub_ = v1::Engine::NewStub(c->channel_);
  c->stream_ = c->stub_->Session(&c->context_);
  v1::SessionRequest request;
  request.mutable_open()->mutable_display_data()->set_name(purpose);
  request.mutable_open()->mutable_display_data()->set_description("xfpctl, pid " +
                                                                  std::to_string(::getpid()));
  v1::SessionReply reply;
  if (!c->stream_->Write(request) || !c->stream_->Read(&reply)) {
    c->done_ = true;
    return tl::unexpected(transportFailure(c->stream_->Finish(), socket, true));
  }
  if (reply.status() != 0 || !reply.has_session()) {
    c->done_ = true;
    c->context_.TryCancel();
    (void)c->stream_->Finish();
    if (reply.status() == 0) {
      return failWith(kExitUnreachable,
                      fmt::format("xfpd at {} answered open without a session", socket));
    }
    return tl::unexpected(refused(reply.status(), "opening a session: " + reply.message()));
  }
  c->sessionId_ = reply.session().session_id();
  return c;
}

ServiceClient::~ServiceClient() {
  (void)close();
}

Failure ServiceClient::streamBroke() {
  done_ = true;
  return transportFailure(stream_->Finish(), socket_, false);
}

Outcome<v1::SessionReply> ServiceClient::call(const v1::SessionRequest& request) {
  if (done_) {
    return failWith(kExitUnreachable, "the session with xfpd has ended");
  }
  v1::SessionReply reply;
  if (!stream_->Write(request) || !stream_->Read(&reply)) {
    return tl::unexpected(streamBroke());
  }
  if (reply.status() != 0) {
    return tl::unexpected(refused(reply.status(), reply.message()));
  }
  return reply;
}

Outcome<v1::EnumEntries> ServiceClient::enumerate(const v1::CreateEnum& create) {
  v1::SessionRequest q;
  *q.mutable_create_enum() = create;
  auto handle = call(q);
  if (!handle) {
    return tl::unexpected(handle.error());
  }
  v1::EnumEntries all;
  Outcome<void> result;
  for (int page = 0; page < kMaxEnumPages; ++page) {
    v1::SessionRequest next;
    next.mutable_enum_next()->set_kind(create.kind());
    next.mutable_enum_next()->set_handle(handle->id());
    next.mutable_enum_next()->set_count(kEnumPage);
    auto r = call(next);
    if (!r) {
      result = tl::unexpected(r.error());
      break;
    }
    const v1::EnumEntries& e = r->entries();
    const int got = e.providers_size() + e.provider_contexts_size() + e.sublayers_size() +
                    e.callouts_size() + e.filters_size() + e.net_events_size();
    all.MergeFrom(e);
    if (got < static_cast<int>(kEnumPage)) {
      break;
    }
  }
  if (!done_) {
    v1::SessionRequest destroy;
    destroy.mutable_destroy_enum()->set_kind(create.kind());
    destroy.mutable_destroy_enum()->set_handle(handle->id());
    auto r = call(destroy);
    if (!r && result) {
      result = tl::unexpected(r.error());
    }
  }
  if (!result) {
    return tl::unexpected(result.error());
  }
  return all;
}

Outcome<std::vector<v1::Filter>> ServiceClient::filters(const v1::FilterEnumTemplate* t) {
  v1::CreateEnum c;
  c.set_kind(v1::OBJECT_KIND_FILTER);
  if (t != nullptr) {
    *c.mutable_filter_template() = *t;
  }
  auto e = enumerate(c);
  if (!e) {
    return tl::unexpected(e.error());
  }
  return std::vector<v1::Filter>(e->filters().begin(), e->filters().end());
}

Outcome<std::vector<v1::Sublayer>> ServiceClient::sublayers() {
  v1::CreateEnum c;
  c.set_kind(v1::OBJECT_KIND_SUBLAYER);
  auto e = enumerate(c);
  if (!e) {
    return tl::unexpected(e.error());
  }
  return std::vector<v1::Sublayer>(e->sublayers().begin(), e->sublayers().end());
}

Outcome<std::vector<v1::Provider>> ServiceClient::providers() {
  v1::CreateEnum c;
  c.set_kind(v1::OBJECT_KIND_PROVIDER);
  auto e = enumerate(c);
  if (!e) {
    return tl::unexpected(e.error());
  }
  return std::vector<v1::Provider>(e->providers().begin(), e->providers().end());
}

Outcome<std::vector<v1::Callout>> ServiceClient::callouts() {
  v1::CreateEnum c;
  c.set_kind(v1::OBJECT_KIND_CALLOUT);
  auto e = enumerate(c);
  if (!e) {
    return tl::unexpected(e.error());
  }
  return std::vector<v1::Callout>(e->callouts().begin(), e->callouts().end());
}

Outcome<void> ServiceClient::close() {
  if (done_ || !stream_) {
    return {};
  }
  v1::SessionRequest q;
  q.mutable_close();
  v1::SessionReply reply;
  const bool answered = stream_->Write(q) && stream_->Read(&reply);
  done_ = true;
  stream_->WritesDone();
  const grpc::Status st = stream_->Finish();
  if (!answered) {
    return tl::unexpected(transportFailure(st, socket_, false));
  }
  if (reply.status() != 0) {
    return tl::unexpected(refused(reply.status(), "closing the session: " + reply.message()));
  }
  return {};
}

Outcome<void> streamNetEvents(const std::string& socket,
                              const v1::NetEventsRequest& request,
                              const std::function<bool(const v1::NetEvent&)>& onEvent,
                              const std::function<bool()>& stop) {
  auto channel = connect(socket);
  if (!channel) {
    return tl::unexpected(channel.error());
  }
  auto stub = v1::Engine::NewStub(*channel);
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::NetEventMessage>> reader =
      stub->NetEvents(&context, request);
  // The reader blocks in Read(); a watcher cancels the call when asked to stop.
  std::atomic<bool> finished{false};
  std::atomic<bool> stopped{false};
  std::thread watcher([&] {
    while (!finished.load()) {
      if (stop()) {
        stopped = true;
        context.TryCancel();
        return;
      }
      std::this_thread::sleep_for(50ms);
    }
  });
  Outcome<void> result;
  v1::NetEventMessage m;
  bool first = true;
  bool quit = false;
  while (!quit && reader->Read(&m)) {
    if (first) {
      first = false;
      if (m.status() != 0) {
        result = tl::unexpected(refused(m.status(), m.message()));
        context.TryCancel();
        break;
      }
      continue;  // the answer to the request, no event
    }
    if (m.has_event() && !onEvent(m.event())) {
      quit = true;
      context.TryCancel();
    }
  }
  const grpc::Status st = reader->Finish();
  finished = true;
  watcher.join();
  if (!result || quit || stopped.load()) {
    return result;
  }
  if (!st.ok()) {
    return tl::unexpected(transportFailure(st, socket, first));
  }
  return {};
}

}  // namespace xfp::ctl
