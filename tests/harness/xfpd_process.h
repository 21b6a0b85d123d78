// An xfpd started as a child process for integration tests: its output captured, readiness
// awaited, stopped by SIGTERM or killed with SIGKILL (a crash), and always reaped -- the
// destructor kills a still-running child. Plus a small client of its control API (the gRPC
// stub, one Session stream) for tests that drive the service below the C API.
#pragma once

#include <grpcpp/channel.h>
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "userspace/rpc/xfp.grpc.pb.h"

namespace xfp::test {

class XfpdProcess {
 public:
  XfpdProcess() = default;
  XfpdProcess(const XfpdProcess&) = delete;
  XfpdProcess& operator=(const XfpdProcess&) = delete;
  ~XfpdProcess();

  // fork+exec of build/.../xfpd with `args`; "" or why not.
  std::string start(const std::vector<std::string>& args);
  // Reads the output until `needle` appears (true) or `limit` passes / the child exits.
  bool waitFor(const std::string& needle, std::chrono::milliseconds limit);
  bool waitReady() { return waitFor("xfpd ready", std::chrono::seconds(30)); }
  // Sends `sig` and reaps the child (up to `limit`); its exit status as waitpid reports it, or
  // -1 when it did not end in time (then it is SIGKILLed).
  int stop(int sig, std::chrono::milliseconds limit = std::chrono::seconds(10));
  [[nodiscard]] const std::string& log() const { return log_; }
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string log_;
};

// One engine session over the control API.
class ApiSession {
 public:
  // Connects to `socketPath` and opens a session (flags: FWPM_SESSION_FLAG_*).
  static std::unique_ptr<ApiSession> open(const std::string& socketPath,
                                          uint32_t flags = 0,
                                          std::string* error = nullptr);
  ~ApiSession();
  // One request, one reply (status 0xFFFFFFFF when the stream broke).
  v1::SessionReply call(const v1::SessionRequest& request);
  // Ends the stream without a close request (what a dying client's kernel does).
  void abandon();
  [[nodiscard]] uint64_t id() const { return id_; }
  [[nodiscard]] const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Engine::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::SessionRequest, v1::SessionReply>> stream_;
  uint64_t id_ = 0;
  bool done_ = false;
};

}  // namespace xfp::test
