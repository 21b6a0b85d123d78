#include "bench/service/nft_peer.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include <fmt/format.h>

namespace xfp::bench::service {
namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

}  // namespace

NftPeer::~NftPeer() {
  if (worker_.joinable()) {
    if (ctx_ != nullptr) {
      (void)run(fmt::format("delete table ip {}", kTable));
    }
    {
      std::lock_guard lock(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  if (lib_ != nullptr) {
    ::dlclose(lib_);
  }
}

std::string NftPeer::start(const std::string& ns) {
  ns_ = ns;
  lib_ = ::dlopen("libnftables.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib_ == nullptr) {
    return fmt::format("libnftables.so.1 not loadable: {}", ::dlerror());
  }
  const auto sym = [&](const char* name) { return ::dlsym(lib_, name); };
  ctxNew_ = reinterpret_cast<void* (*)(unsigned)>(sym("nft_ctx_new"));
  ctxFree_ = reinterpret_cast<void (*)(void*)>(sym("nft_ctx_free"));
  bufferOutput_ = reinterpret_cast<int (*)(void*)>(sym("nft_ctx_buffer_output"));
  bufferError_ = reinterpret_cast<int (*)(void*)>(sym("nft_ctx_buffer_error"));
  errorBuffer_ = reinterpret_cast<const char* (*)(void*)>(sym("nft_ctx_get_error_buffer"));
  runCmd_ = reinterpret_cast<int (*)(void*, const char*)>(sym("nft_run_cmd_from_buffer"));
  if (ctxNew_ == nullptr || ctxFree_ == nullptr || bufferOutput_ == nullptr ||
      bufferError_ == nullptr || errorBuffer_ == nullptr || runCmd_ == nullptr) {
    return "libnftables.so.1 lacks the functions of its public API";
  }
  std::string error;
  bool ready = false;
  worker_ = std::thread([this, &error, &ready] {
    const std::string path = "/run/netns/" + ns_;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
      error = "cannot enter " + path;
    } else {
      ctx_ = ctxNew_(0);  // NFT_CTX_DEFAULT
      if (ctx_ == nullptr) {
        error = "nft_ctx_new failed";
      } else {
        bufferOutput_(ctx_);
        bufferError_(ctx_);
      }
    }
    if (fd >= 0) {
      ::close(fd);
    }
    std::unique_lock lock(mu_);
    ready = true;
    cv_.notify_all();
    // Serves jobs until told to quit (the destructor).
    while (!quit_) {
      cv_.wait(lock, [&] { return quit_ || (job_ && !jobDone_); });
      if (job_ && !jobDone_) {
        lock.unlock();
        job_();
        lock.lock();
        jobDone_ = true;
        cv_.notify_all();
      }
    }
    if (ctx_ != nullptr) {
      ctxFree_(ctx_);
      ctx_ = nullptr;
    }
  });
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return ready; });
  return error;
}

void NftPeer::onWorker(const std::function<void()>& fn) {
  std::unique_lock lock(mu_);
  job_ = fn;
  jobDone_ = false;
  cv_.notify_all();
  cv_.wait(lock, [&] { return jobDone_; });
  job_ = nullptr;
}

NftTimed NftPeer::run(const std::string& commands) {
  NftTimed t;
  if (ctx_ == nullptr) {
    t.error = "libnftables unavailable";
    return t;
  }
  onWorker([&] {
    const auto start = Clock::now();
    const int rc = runCmd_(ctx_, commands.c_str());
    t.ms = msSince(start);
    t.ok = rc == 0;
    if (!t.ok) {
      const char* e = errorBuffer_(ctx_);
      t.error = e != nullptr ? e : "nft failed";
    }
  });
  return t;
}

NftTimed NftPeer::runCli(const std::vector<std::string>& args) {
  NftTimed t;
  std::vector<std::string> all{"/usr/sbin/nft"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  const std::string path = "/run/netns/" + ns_;
  const int nsFd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (nsFd < 0) {
    t.error = "cannot open " + path;
    return t;
  }
  const auto start = Clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    if (::setns(nsFd, CLONE_NEWNET) != 0) {
      ::_exit(126);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(nsFd);
  if (pid < 0) {
    t.error = "fork failed";
    return t;
  }
  int status = 0;
  // Bounded: an nft that hangs for 120 s is killed.
  const auto until = start + std::chrono::seconds(120);
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      t.error = "nft did not finish in 120 s";
      return t;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  t.ms = msSince(start);
  t.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!t.ok) {
    t.error = fmt::format("nft exited with status {}", status);
  }
  return t;
}

std::string NftPeer::reset() {
  (void)run(fmt::format("delete table ip {}", kTable));  // absent the first time
  NftTimed t = run(fmt::format(
      "add table ip {0}\nadd chain ip {0} {1} {{ type filter hook input priority 0; policy "
      "accept; }}",
      kTable,
      kChain));
  return t.ok ? "" : "nft: " + t.error;
}

std::string NftPeer::addRule(const std::string& body) {
  return fmt::format("add rule ip {} {} {}", kTable, kChain, body);
}

NftTimed NftPeer::load(const std::vector<std::string>& rules) {
  std::string batch = fmt::format("flush chain ip {} {}\n", kTable, kChain);
  batch.reserve(rules.size() * 96);
  for (const std::string& r : rules) {
    batch += addRule(r);
    batch += '\n';
  }
  return run(batch);
}

}  // namespace xfp::bench::service
