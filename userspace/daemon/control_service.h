// ControlService: xfpd's control API (userspace/rpc/xfp.proto) on top of the engine. One
// `Session` stream is one engine session: its end -- a close request, or the client's death
// closing its connection -- ends the session (§7.1: its transaction aborted, a dynamic session's
// objects deleted). Every request is checked: the peer must be allowed to manage (ControlSocket),
// every message is decoded as untrusted input (rpc codec), and a bad one gets a reply with a
// FWP_E_* status and a message, never a crash or a changed policy.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "userspace/rpc/xfp.grpc.pb.h"  // generated

namespace xfp::engine {
class Engine;
}
namespace xfp::dataplane {
class FastPath;
}
namespace xfp::callout {
class CalloutRuntime;
}

namespace xfp::daemon {

class ControlSocket;
class NetEventLog;

struct ServiceParts {
  engine::Engine* engine = nullptr;
  dataplane::FastPath* fastPath = nullptr;
  callout::CalloutRuntime* runtime = nullptr;
  NetEventLog* events = nullptr;
  ControlSocket* socket = nullptr;
  std::string pluginDir;                // relative plugin paths are resolved against it
  std::vector<std::string> interfaces;  // "name" or "name (netns ns)"
  bool adopted = false;
};

class ControlService final : public v1::Engine::Service {
 public:
  explicit ControlService(ServiceParts parts);
  ~ControlService() override;

  grpc::Status Session(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::SessionReply, v1::SessionRequest>* stream) override;
  grpc::Status SubscribeFilterChanges(grpc::ServerContext* context,
                                      const v1::SubscribeFilterChangesRequest* request,
                                      grpc::ServerWriter<v1::FilterChangeMessage>* writer) override;
  grpc::Status NetEvents(grpc::ServerContext* context,
                         const v1::NetEventsRequest* request,
                         grpc::ServerWriter<v1::NetEventMessage>* writer) override;

  // Ends every stream promptly (xfpd is stopping).
  void shutdown();

 private:
  struct SessionState;
  v1::SessionReply handle(SessionState& s, const v1::SessionRequest& request);
  // Refusal (PERMISSION_DENIED) unless the peer may manage; fills its pid.
  grpc::Status admit(grpc::ServerContext* context, uint32_t* pid);
  // The session exists and belongs to the calling process.
  bool ownsSession(uint64_t sessionId, uint32_t pid, std::string* why) const;

  ServiceParts p_;
  std::atomic<bool> stopping_{false};
};

}  // namespace xfp::daemon
