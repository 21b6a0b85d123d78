// xfpctl's connection to xfpd: the control API of userspace/rpc/xfp.proto over gRPC on xfpd's
// Unix socket. One xfpctl command is one engine session (one `Session` stream: open, the
// command's requests, close); the session is not dynamic, so what a command adds stays after
// xfpctl exits. Net events are a server stream of their own.
//
// Failures come back as Outcome failures with xfpctl's exit statuses (outcome.h): no socket or
// nothing listening -> kExitUnreachable (naming the socket: xfpd may not be running); gRPC
// PERMISSION_DENIED -> kExitDenied with the service's own words (who may manage and why not);
// a reply whose status is not 0 -> kExitRefused with the FWP_E_* name and the engine's message.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tools/xfpctl/outcome.h"
#include "userspace/rpc/xfp.grpc.pb.h"

namespace xfp::ctl {

constexpr const char* kDefaultSocket = "/run/xfp/xfpd.sock";

// The socket to talk to: `flag` (--socket) if given, else $XFP_SOCKET, else kDefaultSocket.
std::string resolveSocket(const std::string& flag);

class ServiceClient {
 public:
  // Connects to xfpd at `socket` and opens a session whose display name is `purpose`
  // ("xfpctl show filters"), so `xfpctl show sessions` tells xfpctl's sessions apart.
  static Outcome<std::unique_ptr<ServiceClient>> open(const std::string& socket,
                                                      const std::string& purpose);
  ServiceClient(const ServiceClient&) = delete;
  ServiceClient& operator=(const ServiceClient&) = delete;
  ~ServiceClient();

  // One request and its reply.
  Outcome<v1::SessionReply> call(const v1::SessionRequest& request);

  // Every object of a kind, page by page (create_enum, enum_next until a short page,
  // destroy_enum). `filterTemplate` null: every filter, in filterId order.
  Outcome<std::vector<v1::Filter>> filters(const v1::FilterEnumTemplate* filterTemplate = nullptr);
  Outcome<std::vector<v1::Sublayer>> sublayers();
  Outcome<std::vector<v1::Provider>> providers();
  Outcome<std::vector<v1::Callout>> callouts();

  // Ends the session (the engine aborts a transaction left open). Idempotent.
  Outcome<void> close();

  [[nodiscard]] uint64_t sessionId() const { return sessionId_; }
  [[nodiscard]] const std::string& socket() const { return socket_; }

 private:
  ServiceClient() = default;
  Outcome<v1::EnumEntries> enumerate(const v1::CreateEnum& create);
  Failure streamBroke();

  std::string socket_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Engine::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionReply>> stream_;
  uint64_t sessionId_ = 0;
  bool done_ = false;  // closed, or the stream broke: no more requests
};

// Reads the NetEvents stream of xfpd at `socket`: `onEvent` for each event until the stream ends
// (history only: when the history is sent), `onEvent` returns false, or `stop` (polled a few
// times a second) returns true. Stopping is not a failure.
Outcome<void> streamNetEvents(const std::string& socket,
                              const v1::NetEventsRequest& request,
                              const std::function<bool(const v1::NetEvent&)>& onEvent,
                              const std::function<bool()>& stop);

}  // namespace xfp::ctl
