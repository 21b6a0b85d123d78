#include "tests/harness/xfpd_process.h"

#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "tests/harness/test_env.h"

namespace xfp::test {

XfpdProcess::~XfpdProcess() {
  if (pid_ > 0) {
    stop(SIGKILL, std::chrono::seconds(5));
  }
  if (out_ >= 0) {
    ::close(out_);
  }
}

std::string XfpdProcess::start(const std::vector<std::string>& args) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    return "pipe2 failed";
  }
  const std::string xfpd = binaryDir() + "/userspace/daemon/xfpd";
  std::vector<std::string> all{xfpd};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) {
    return "fork failed";
  }
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::execv(xfpd.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  if (out_ >= 0) {
    ::close(out_);
  }
  out_ = out[0];
  log_.clear();
  return "";
}

bool XfpdProcess::waitFor(const std::string& needle, std::chrono::milliseconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (log_.find(needle) == std::string::npos && std::chrono::steady_clock::now() < until) {
    pollfd p{out_, POLLIN, 0};
    if (::poll(&p, 1, 50) == 1) {
      char buf[4096];
      const ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) {
        break;  // the child is gone
      }
      log_.append(buf, static_cast<size_t>(n));
    }
  }
  return log_.find(needle) != std::string::npos;
}

int XfpdProcess::stop(int sig, std::chrono::milliseconds limit) {
  if (pid_ <= 0) {
    return -1;
  }
  ::kill(pid_, sig);
  int status = -1;
  const auto until = std::chrono::steady_clock::now() + limit;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= until) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      status = -1;
      break;
    }
    waitFor("\x01never", std::chrono::milliseconds(20));  // keep draining the output
  }
  waitFor("\x01never", std::chrono::milliseconds(50));
  pid_ = -1;
  return status;
}

std::unique_ptr<ApiSession> ApiSession::open(const std::string& socketPath,
                                             uint32_t flags,
                                             std::string* error) {
  std::unique_ptr<ApiSession> s(new ApiSession());
  grpc::ChannelArguments args;
  args.SetInt("grpc.use_local_subchannel_pool", 1);  // one connection per session, like a client
  s->channel_ =
      grpc::CreateCustomChannel("unix:" + socketPath, grpc::InsecureChannelCredentials(), args);
  s->stub_ = v1::Engine::NewStub(s->channel_);
  s->context_ = std::make_unique<grpc::ClientContext>();
  s->stream_ = s->stub_->Session(s->context_.get());
  v1::SessionRequest open;
  open.mutable_open()->set_flags(flags);
  open.mutable_open()->mutable_display_data()->set_name("integration test");
  v1::SessionReply reply = s->call(open);
  if (reply.status() != 0 || !reply.has_session()) {
    if (error != nullptr) {
      grpc::Status st = s->stream_->Finish();
      *error = reply.status() == 0xFFFFFFFF ? st.error_message() : reply.message();
    }
    s->done_ = true;
    return nullptr;
  }
  s->id_ = reply.session().session_id();
  return s;
}

ApiSession::~ApiSession() {
  if (!done_) {
    v1::SessionRequest close;
    close.mutable_close();
    (void)call(close);
    stream_->WritesDone();
    (void)stream_->Finish();
  }
}

v1::SessionReply ApiSession::call(const v1::SessionRequest& request) {
  v1::SessionReply reply;
  if (!stream_->Write(request) || !stream_->Read(&reply)) {
    reply.set_status(0xFFFFFFFF);
    reply.set_message("the session stream broke");
  }
  return reply;
}

void ApiSession::abandon() {
  context_->TryCancel();
  done_ = true;
}

}  // namespace xfp::test
