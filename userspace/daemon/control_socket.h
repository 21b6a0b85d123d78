// ControlSocket: the Unix socket xfpd's control API listens on, with peer-credential checks.
// xfpd accepts connections itself (not gRPC) so it can read each client's SO_PEERCRED before
// handing the connection to the gRPC server (AddInsecureChannelFromFd); the gRPC peer string of
// such a connection is "fd:<n>", by which handlers look the credentials up. Who may manage:
// uid 0, or a member (primary or supplementary group, from /proc/<pid>/status) of the configured
// group. Everyone else still connects -- the socket is 0666 -- so they get a clear refusal that
// says what would let them in, rather than a bare EACCES from connect(2).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "userspace/core/result.h"

namespace grpc {
class Server;
}

namespace xfp::daemon {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string username;
  bool mayManage = false;
  std::string refusal;  // why not, when !mayManage
};

// Whether a process with these credentials may manage: uid 0, or in `groupName` ("" = root
// only). `pid` is used to read supplementary groups.
PeerCredentials authorize(pid_t pid, uid_t uid, gid_t gid, const std::string& groupName);

class ControlSocket {
 public:
  ~ControlSocket();
  // Creates the socket (and its directory, 0755), replacing a stale socket file; fails clearly
  // when another process is listening on it. Mode 0666: see above.
  static Result<std::unique_ptr<ControlSocket>> listen(const std::string& path,
                                                       const std::string& groupName);
  // Accepts connections on a thread of its own and hands each to `server`.
  void serve(grpc::Server* server);
  void stop();  // stops accepting; removes the socket file
  // The credentials of the connection behind a gRPC peer string ("fd:<n>").
  [[nodiscard]] std::optional<PeerCredentials> peer(const std::string& grpcPeer) const;
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  ControlSocket() = default;
  void acceptLoop(grpc::Server* server);

  std::string path_;
  std::string group_;
  int fd_ = -1;
  int wakeFd_ = -1;  // eventfd: stop() wakes the accept loop
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<int, PeerCredentials> peers_;  // by connection fd (a new accept overwrites a reused fd)
};

}  // namespace xfp::daemon
