// One engine handle of the FWPM client library: a gRPC `Session` stream to xfpd (xfp.proto) and
// the subscription streams bound to it.
//
// The stream's first request is `open`; after it, strictly one request -> one reply, in order,
// so calls on one handle are serialised (WFP handles may be used from several threads). Each
// subscription is a server stream read by a thread of its own that calls the client's callback;
// callbacks never run with the call lock held, so they may call the engine.
//
// Transport failures become the RPC-range codes fwpmu.h lists; gRPC PERMISSION_DENIED (the
// service refuses the caller) becomes ERROR_ACCESS_DENIED. Once the session stream broke every
// call fails with RPC_E_DISCONNECTED (the service has ended the session).
#pragma once

#include <fwpmtypes.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "userspace/core/result.h"
#include "userspace/engine/session.h"
#include "userspace/engine/subscriptions.h"
#include "userspace/rpc/xfp.grpc.pb.h"

namespace xfp::client {

// The service socket: $XFP_SOCKET, else /run/xfp/xfpd.sock.
std::string serviceSocketPath();

// A gRPC status as the Fwpm* result: `opening` says whether the session was being opened (then
// an unreachable service is RPC_S_SERVER_UNAVAILABLE, later RPC_E_DISCONNECTED).
Error transportError(const grpc::Status& status, bool opening, const std::string& socket);

class EngineSession {
 public:
  // Connects to `socket` and opens a session with `options`.
  static Result<std::shared_ptr<EngineSession>> open(const std::string& socket,
                                                     const engine::SessionOptions& options);
  EngineSession(const EngineSession&) = delete;
  EngineSession& operator=(const EngineSession&) = delete;
  ~EngineSession();

  // One request, its reply. A reply whose status is not 0 is returned as that error, with the
  // service's message.
  Result<v1::SessionReply> call(const v1::SessionRequest& request);

  // Ends the subscriptions, sends `close`, ends the stream. Idempotent.
  Result<void> close();

  [[nodiscard]] uint64_t sessionId() const { return sessionId_; }
  [[nodiscard]] const Guid& sessionKey() const { return sessionKey_; }

  // Filter change subscription (the stream's first message answers it). Returns the client's
  // change handle.
  Result<uint64_t> subscribeFilterChanges(const engine::FilterSubscription& subscription,
                                          FWPM_FILTER_CHANGE_CALLBACK0 callback,
                                          void* context);
  Result<void> unsubscribeFilterChanges(uint64_t changeHandle);

  // Net event subscription: new events as they come (follow, no history).
  Result<uint64_t> subscribeNetEvents(const v1::NetEventEnumTemplate& enumTemplate,
                                      FWPM_NET_EVENT_CALLBACK0 callback,
                                      void* context);
  Result<void> unsubscribeNetEvents(uint64_t eventsHandle);

  // Base of a subscription (public for the reader threads' code in the .cpp).
  struct Subscription {
    virtual ~Subscription() = default;
    virtual void cancel() = 0;
    bool filterChanges = false;
    uint64_t serverHandle = 0;  // the engine's change handle (filter changes)
    std::thread thread;
    std::atomic<bool> stopped{false};
  };

 private:
  EngineSession() = default;
  // Whether the handle takes requests (callMu_ held): not closed, stream not broken. The
  // calls and the subscriptions check the same.
  Result<void> usableLocked() const;
  Result<v1::SessionReply> callLocked(const v1::SessionRequest& request);
  Error breakStream();
  uint64_t addSubscription(std::shared_ptr<Subscription> sub);
  std::shared_ptr<Subscription> takeSubscription(uint64_t handle, bool filterChanges);

 public:
  // Stops the stream and joins its thread (detaches it when called from its own callback).
  static void stopSubscription(const std::shared_ptr<Subscription>& sub);

 private:
  std::string socket_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Engine::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionReply>> stream_;
  uint64_t sessionId_ = 0;
  Guid sessionKey_;

  std::mutex callMu_;  // one request/reply at a time; guards everything below it
  bool broken_ = false;
  bool closed_ = false;
  Error brokenError_;

  std::mutex subsMu_;  // the subscription table
  std::map<uint64_t, std::shared_ptr<Subscription>> subscriptions_;
};

}  // namespace xfp::client
