#include "bench/service/service_env.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

namespace xfp::bench::service {

std::atomic<bool> gStop{false};

namespace {

void onStop(int /*sig*/) {
  gStop.store(true);
}

constexpr size_t kLogKeep = 64 * 1024;

}  // namespace

void installStopHandlers() {
  struct sigaction sa {};
  sa.sa_handler = onStop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGHUP, &sa, nullptr);
}

void sleepFor(Clock::duration d) {
  const auto end = Clock::now() + d;
  while (!gStop.load() && Clock::now() < end) {
    std::this_thread::sleep_for(std::min<Clock::duration>(milliseconds(10), end - Clock::now()));
  }
}

double msBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) {
    return 0;
  }
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// ---- XfpdChild ----

XfpdChild::XfpdChild(std::vector<std::string> markers) : markers_(std::move(markers)) {}

XfpdChild::~XfpdChild() {
  if (pid_ > 0) {
    stop(SIGKILL, milliseconds(5000));
  }
  if (reader_.joinable()) {
    reader_.join();
  }
}

std::string XfpdChild::start(const std::string& xfpd, const std::vector<std::string>& args) {
  if (pid_ > 0) {
    return "xfpd is already running";
  }
  if (reader_.joinable()) {
    reader_.join();  // the previous child's output reached its end in stop()
  }
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) {
    return "pipe2 failed";
  }
  std::vector<std::string> all{xfpd};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  {
    std::lock_guard lock(mu_);
    first_.clear();
    counts_.clear();
    head_.clear();
    tail_.clear();
    eof_ = false;
  }
  exec_ = Clock::now();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(out[0]);
    ::close(out[1]);
    return "fork failed";
  }
  if (pid == 0) {
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the benchmark
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  ::close(out[1]);
  reader_ = std::thread([this, fd = out[0]] { drain(fd); });
  return "";
}

void XfpdChild::drain(int fd) {
  std::string partial;
  char buf[16384];
  // Ends at EOF (the child exited); bounded by the child's life, which stop() bounds.
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, 200);
    if (r < 0 && errno != EINTR) {
      break;
    }
    if (r <= 0) {
      continue;
    }
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      break;
    }
    const auto now = Clock::now();
    partial.append(buf, static_cast<size_t>(n));
    std::lock_guard lock(mu_);
    bool notify = false;
    size_t start = 0;
    for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      const std::string_view line(partial.data() + start, nl - start);
      for (const std::string& m : markers_) {
        if (line.find(m) != std::string_view::npos) {
          ++counts_[m];
          notify |= first_.emplace(m, now).second;
        }
      }
    }
    const std::string_view done(partial.data(), start);
    if (head_.size() < kLogKeep) {
      head_.append(done.substr(0, kLogKeep - head_.size()));
    }
    tail_.append(done);
    if (tail_.size() > 2 * kLogKeep) {
      tail_.erase(0, tail_.size() - kLogKeep);
    }
    partial.erase(0, start);
    if (notify) {
      cv_.notify_all();
    }
  }
  ::close(fd);
  std::lock_guard lock(mu_);
  eof_ = true;
  cv_.notify_all();
}

std::optional<Clock::time_point> XfpdChild::waitFor(const std::string& marker, milliseconds limit) {
  std::unique_lock lock(mu_);
  const auto until = Clock::now() + limit;
  // Wakes at least every 50 ms to notice a stop request.
  while (first_.count(marker) == 0 && !eof_ && !gStop.load() && Clock::now() < until) {
    cv_.wait_for(lock, milliseconds(50));
  }
  auto it = first_.find(marker);
  return it == first_.end() ? std::nullopt : std::optional(it->second);
}

uint64_t XfpdChild::count(const std::string& marker) {
  std::lock_guard lock(mu_);
  auto it = counts_.find(marker);
  return it == counts_.end() ? 0 : it->second;
}

int XfpdChild::stop(int sig, milliseconds limit) {
  if (pid_ <= 0) {
    return -1;
  }
  ::kill(pid_, sig);
  int status = -1;
  const auto until = Clock::now() + limit;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (Clock::now() >= until) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      status = -1;
      break;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  pid_ = -1;
  {
    // The output ends with the child (nothing else holds the pipe): wait for the reader's EOF.
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, milliseconds(3000), [&] { return eof_; });
  }
  return status;
}

std::string XfpdChild::logExcerpt() {
  std::lock_guard lock(mu_);
  const std::string end = tail_.size() > 4000 ? tail_.substr(tail_.size() - 4000) : tail_;
  return head_.substr(0, 4000) + (head_.size() > 4000 ? "\n...\n" : "") + "\n[...]\n" + end;
}

// ---- ServiceEnv ----

ServiceEnv::ServiceEnv() {
  static std::atomic<int> n{0};
  const std::string id = fmt::format("{}-{}", ::getpid(), n.fetch_add(1));
  dir_ = "/tmp/xfpb-" + id;
  pinDir_ = "/sys/fs/bpf/xfpb-" + id;
  socket_ = dir_ + "/xfpd.sock";
}

ServiceEnv::~ServiceEnv() {
  removePins();
  if (made_) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // ns_ goes last: deleting the namespaces removes the veth pair and the tc filter on it.
}

void ServiceEnv::removePins() {
  std::error_code ec;
  std::filesystem::remove_all(pinDir_, ec);  // unpinning the XDP link detaches it
}

std::string ServiceEnv::setUp() {
  if (::mkdir(dir_.c_str(), 0700) != 0) {
    return "mkdir " + dir_ + ": " + std::strerror(errno);
  }
  made_ = true;
  return ns_.setUp();
}

std::string ServiceEnv::writeConfig(const std::string& policyFile, bool detachOnStop) {
  std::ofstream out(configPath(), std::ios::trunc);
  if (!policyFile.empty()) {
    out << "policy = \"" << policyFile << "\"\n";
  }
  out << "pin_dir = \"" << pinDir_ << "\"\n"
      << "state_dir = \"" << dir_ << "/state\"\n"
      << "socket = \"" << socket_ << "\"\n"
      << "detach_on_stop = " << (detachOnStop ? "true" : "false") << "\n"
      << "[[interface]]\nname = \"" << ns_.linkA() << "\"\nnetns = \"" << ns_.nsA() << "\"\n";
  out.close();
  return out ? "" : "cannot write " + configPath();
}

// ---- probes ----

std::optional<uint64_t> pinnedGeneration(const std::string& pinDir) {
  const std::string path = pinDir + "/maps/xfp_gen";
  const int fd = bpf_obj_get(path.c_str());
  if (fd < 0) {
    return std::nullopt;
  }
  uint32_t key = 0;
  uint64_t value = 0;
  const int r = bpf_map_lookup_elem(fd, &key, &value);
  ::close(fd);
  return r == 0 ? std::optional(value) : std::nullopt;
}

namespace {

bool socketAccepts(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::optional<ApiAnswer> pollApi(const std::string& socketPath, milliseconds limit) {
  const auto until = Clock::now() + limit;
  while (!gStop.load() && Clock::now() < until) {
    if (socketAccepts(socketPath)) {
      if (auto s = test::ApiSession::open(socketPath)) {
        v1::SessionRequest q;
        q.mutable_status();
        const v1::SessionReply r = s->call(q);
        if (r.status() == 0 && r.has_engine_status()) {
          ApiAnswer a;
          a.at = Clock::now();
          a.generation = r.engine_status().generation();
          a.adopted = r.engine_status().adopted();
          return a;
        }
      }
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  return std::nullopt;
}

// ---- Prober ----

namespace {

int udpSocketIn(const std::string& ns, std::string* error) {
  int fd = -1;
  const std::string e = test::VethNamespaces::runIn(
      ns, [&] { fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); });
  if (!e.empty() || fd < 0) {
    *error = e.empty() ? "socket in " + ns + " failed" : e;
    return -1;
  }
  return fd;
}

sockaddr_in addrOf(const char* ip, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &sa.sin_addr);
  return sa;
}

}  // namespace

Prober::~Prober() {
  stop();
}

std::string Prober::start(const test::VethNamespaces& ns,
                          uint16_t blockedPort,
                          uint16_t openPort,
                          std::chrono::microseconds period,
                          std::chrono::seconds maxRun) {
  std::string error;
  const int tx = udpSocketIn(ns.nsB(), &error);
  const int rxB = tx >= 0 ? udpSocketIn(ns.nsA(), &error) : -1;
  const int rxO = rxB >= 0 ? udpSocketIn(ns.nsA(), &error) : -1;
  const auto closeAll = [&] {
    for (int fd : {tx, rxB, rxO}) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
  };
  const sockaddr_in blocked = addrOf(test::VethNamespaces::kAddr4A, blockedPort);
  const sockaddr_in open = addrOf(test::VethNamespaces::kAddr4A, openPort);
  if (rxO < 0 || ::bind(rxB, reinterpret_cast<const sockaddr*>(&blocked), sizeof blocked) != 0 ||
      ::bind(rxO, reinterpret_cast<const sockaddr*>(&open), sizeof open) != 0) {
    closeAll();
    return error.empty() ? "prober: bind failed" : "prober: " + error;
  }
  timeval tv{0, 20000};
  for (int fd : {rxB, rxO}) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int size = 4 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  const size_t cap = static_cast<size_t>(maxRun / period) + 1024;
  sent_.reserve(cap);
  blocked_.reserve(cap);
  open_.reserve(cap);
  stop_ = false;
  const auto until = Clock::now() + maxRun;
  const auto receiver = [this, until, cap](int fd, std::vector<Clock::time_point>* into) {
    char buf[64];
    while (!stop_.load() && Clock::now() < until) {
      if (::recv(fd, buf, sizeof buf, 0) > 0) {
        std::lock_guard lock(mu_);
        if (into->size() < cap) {
          into->push_back(Clock::now());
        }
      }
    }
    ::close(fd);
  };
  rxBlocked_ = std::thread(receiver, rxB, &blocked_);
  rxOpen_ = std::thread(receiver, rxO, &open_);
  tx_ = std::thread([=, this] {
    auto next = Clock::now();
    while (!stop_.load() && Clock::now() < until) {
      ::sendto(tx, "b", 1, 0, reinterpret_cast<const sockaddr*>(&blocked), sizeof blocked);
      ::sendto(tx, "o", 1, 0, reinterpret_cast<const sockaddr*>(&open), sizeof open);
      {
        std::lock_guard lock(mu_);
        if (sent_.size() < cap) {
          sent_.push_back(Clock::now());
        }
      }
      next += period;
      const auto now = Clock::now();
      if (now > next + 10 * period) {
        next = now;  // fell behind (descheduled): no catch-up burst
      }
      std::this_thread::sleep_until(next);
    }
    ::close(tx);
  });
  return "";
}

void Prober::stop() {
  stop_ = true;
  for (std::thread* t : {&tx_, &rxBlocked_, &rxOpen_}) {
    if (t->joinable()) {
      t->join();
    }
  }
}

Prober::Window Prober::window(Clock::time_point from, Clock::time_point to) {
  std::lock_guard lock(mu_);
  Window w;
  const auto in = [&](Clock::time_point t) { return t >= from && t <= to; };
  w.sent = static_cast<uint64_t>(std::count_if(sent_.begin(), sent_.end(), in));
  for (Clock::time_point t : blocked_) {
    if (in(t)) {
      ++w.blockedThrough;
      w.lastBlockedAt = t;
    }
  }
  Clock::time_point prev = from;
  for (Clock::time_point t : open_) {
    if (in(t)) {
      ++w.openReceived;
      w.longestOpenGapMs = std::max(w.longestOpenGapMs, msBetween(prev, t));
      prev = t;
    }
  }
  w.longestOpenGapMs = std::max(w.longestOpenGapMs, msBetween(prev, to));
  return w;
}

}  // namespace xfp::bench::service
