#include "userspace/daemon/control_socket.h"

#include <fcntl.h>
#include <grp.h>
#include <grpcpp/server.h>
#include <grpcpp/server_posix.h>
#include <poll.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace xfp::daemon {
namespace {

std::string userName(uid_t uid) {
  passwd pw{};
  passwd* out = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &out) == 0 && out != nullptr) {
    return out->pw_name;
  }
  return std::to_string(uid);
}

std::optional<gid_t> groupId(const std::string& name) {
  group gr{};
  group* out = nullptr;
  char buf[8192];
  if (::getgrnam_r(name.c_str(), &gr, buf, sizeof buf, &out) == 0 && out != nullptr) {
    return out->gr_gid;
  }
  return std::nullopt;
}

// The supplementary groups of a live process ("Groups:" of /proc/<pid>/status).
std::vector<gid_t> supplementaryGroups(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  std::vector<gid_t> out;
  while (std::getline(in, line)) {
    if (line.rfind("Groups:", 0) == 0) {
      std::istringstream ss(line.substr(7));
      gid_t g = 0;
      while (ss >> g) {
        out.push_back(g);
      }
    }
  }
  return out;
}

}  // namespace

PeerCredentials authorize(pid_t pid, uid_t uid, gid_t gid, const std::string& groupName) {
  PeerCredentials c;
  c.pid = pid;
  c.uid = uid;
  c.gid = gid;
  c.username = userName(uid);
  if (uid == 0) {
    c.mayManage = true;
    return c;
  }
  if (!groupName.empty()) {
    if (auto g = groupId(groupName)) {
      bool member = gid == *g;
      for (gid_t s : supplementaryGroups(pid)) {
        member = member || s == *g;
      }
      if (member) {
        c.mayManage = true;
        return c;
      }
    }
  }
  c.refusal = groupName.empty()
                  ? fmt::format(
                        "xfpd refuses user {} (uid {}): only root may manage the filtering "
                        "engine (set socket_group in xfpd's configuration to admit a "
                        "group)",
                        c.username,
                        uid)
                  : fmt::format(
                        "xfpd refuses user {} (uid {}): managing the filtering engine "
                        "needs root or membership of group \"{}\"",
                        c.username,
                        uid,
                        groupName);
  return c;
}

ControlSocket::~ControlSocket() {
  stop();
}

Result<std::unique_ptr<ControlSocket>> ControlSocket::listen(const std::string& path,
                                                             const std::string& groupName) {
  std::unique_ptr<ControlSocket> s(new ControlSocket());
  s->path_ = path;
  s->group_ = groupName;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return fail(0,
                fmt::format("control socket path \"{}\": empty or longer than {} bytes",
                            path,
                            sizeof addr.sun_path - 1));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size());
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return fail(0, fmt::format("control socket directory {}: {}", dir.string(), ec.message()));
    }
    ::chmod(dir.c_str(), 0755);
  }
  // A socket file that nobody answers on is stale (an earlier xfpd crashed): replace it. One
  // that answers belongs to a running xfpd: refuse, never steal it.
  {
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live =
        probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    if (probe >= 0) {
      ::close(probe);
    }
    if (live) {
      return fail(0,
                  fmt::format("control socket {}: another process listens on it (is xfpd "
                              "already running?)",
                              path));
    }
    ::unlink(path.c_str());
  }
  s->fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s->fd_ < 0 || ::bind(s->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(s->fd_, 64) != 0) {
    return fail(0, fmt::format("control socket {}: {}", path, std::strerror(errno)));
  }
  ::chmod(path.c_str(), 0666);
  if (!groupName.empty()) {
    if (auto g = groupId(groupName)) {
      (void)!::chown(path.c_str(), 0, *g);
    } else {
      spdlog::warn("socket_group \"{}\" does not exist: only root may manage", groupName);
    }
  }
  s->wakeFd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return s;
}

void ControlSocket::serve(grpc::Server* server) {
  thread_ = std::thread([this, server] { acceptLoop(server); });
}

void ControlSocket::acceptLoop(grpc::Server* server) {
  while (!stopping_) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wakeFd_, POLLIN, 0}};
    if (::poll(fds, 2, 1000) <= 0 || (fds[1].revents & POLLIN) != 0) {
      continue;
    }
    // gRPC wants non-blocking fds for channels made from them.
    const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (c < 0) {
      continue;
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      ::close(c);
      continue;
    }
    PeerCredentials peer = authorize(cred.pid, cred.uid, cred.gid, group_);
    if (!peer.mayManage) {
      spdlog::warn("control API: {}", peer.refusal);
    }
    {
      std::lock_guard lock(mu_);
      peers_[c] = std::move(peer);
    }
    grpc::AddInsecureChannelFromFd(server, c);  // gRPC owns the fd from here on
  }
}

void ControlSocket::stop() {
  if (stopping_.exchange(true)) {
    return;
  }
  if (wakeFd_ >= 0) {
    const uint64_t one = 1;
    (void)!::write(wakeFd_, &one, sizeof one);
  }
  if (thread_.joinable()) {
    thread_.join();
  }
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  if (wakeFd_ >= 0) {
    ::close(wakeFd_);
  }
  fd_ = wakeFd_ = -1;
}

std::optional<PeerCredentials> ControlSocket::peer(const std::string& grpcPeer) const {
  if (grpcPeer.rfind("fd:", 0) != 0) {
    return std::nullopt;
  }
  int fd = -1;
  try {
    fd = std::stoi(grpcPeer.substr(3));
  } catch (...) {
    return std::nullopt;
  }
  std::lock_guard lock(mu_);
  auto it = peers_.find(fd);
  if (it == peers_.end()) {
    return std::nullopt;
  }
  return it->second;
}

}  // namespace xfp::daemon
