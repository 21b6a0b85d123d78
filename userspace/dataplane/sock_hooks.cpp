#include "userspace/dataplane/sock_hooks.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <mutex>
#include <vector>

#include "userspace/dataplane/mmap_array.h"
#include "userspace/dataplane/skeleton.h"
#include "userspace/dataplane/unique_fd.h"
#include "xfp_sock.skel.h"

namespace xfp::dataplane {

struct SockHooksImpl {
  std::mutex cfgMu;  // configure() and heartbeat() rewrite one map value from different threads
  std::string cgroupPath;
  std::string pinDir;             // empty: links are not pinned
  std::vector<std::string> pins;  // this object's pins (takeOver())
  uint64_t cgroupId = 0;
  Skeleton<xfp_sock> skel;
  UniqueFd cgroupFd;
  // Declared after skel: destroyed (detached) before the object is closed.
  std::vector<bpf_link*> links;
  ring_buffer* rb = nullptr;
  MmapArray<xfp_sock_reply> replies;
  // The ring's consumer and producer position pages, read-only (producedPosition()).
  void* ringPositions = MAP_FAILED;
  size_t pageSize = 0;
  const std::function<void(const xfp_sock_event&)>* sink = nullptr;

  explicit SockHooksImpl(Skeleton<xfp_sock> s) : skel(std::move(s)) {}
  SockHooksImpl(const SockHooksImpl&) = delete;
  SockHooksImpl& operator=(const SockHooksImpl&) = delete;
  ~SockHooksImpl() {
    if (ringPositions != MAP_FAILED) {
      ::munmap(ringPositions, 2 * pageSize);
    }
    ring_buffer__free(rb);
    for (bpf_link* l : links) {
      bpf_link__destroy(l);
    }
  }

  static int onRecord(void* ctx, void* data, size_t size) {
    auto* self = static_cast<SockHooksImpl*>(ctx);
    if (self->sink == nullptr || size < sizeof(xfp_sock_event)) {
      return 0;
    }
    xfp_sock_event ev{};
    std::memcpy(&ev, data, sizeof ev);
    (*self->sink)(ev);
    return 0;
  }

  [[nodiscard]] xfp_sock_cfg readCfg() const {
    xfp_sock_cfg cfg{};
    const uint32_t key = 0;
    bpf_map_lookup_elem(bpf_map__fd(skel->maps.xfp_sock_cfg), &key, &cfg);
    return cfg;
  }
  void writeCfg(const xfp_sock_cfg& cfg) const {
    const uint32_t key = 0;
    bpf_map_update_elem(bpf_map__fd(skel->maps.xfp_sock_cfg), &key, &cfg, BPF_ANY);
  }
};

BpfResult<std::unique_ptr<SockHooks>> SockHooks::attach(const std::string& cgroupPath,
                                                        const std::string& pinDir) {
  auto skel = Skeleton<xfp_sock>::open("xfp_sock");
  if (!skel) {
    return tl::unexpected(skel.error());
  }
  // The count of waiting hooks is shared by every xfp_sock object of the system: libbpf reuses
  // the pinned map, or creates and pins it.
  if (int err = bpf_map__set_pin_path((*skel)->maps.xfp_sock_waiters, XFP_SOCK_WAITERS_PIN);
      err != 0) {
    return bpfFailure(err, "pin path of xfp_sock_waiters");
  }
  if (auto loaded = skel->load(); !loaded) {
    return tl::unexpected(loaded.error());
  }
  auto impl = std::make_unique<SockHooksImpl>(std::move(*skel));
  impl->cgroupPath = cgroupPath;
  impl->pinDir = pinDir;

  impl->cgroupFd = UniqueFd(::open(cgroupPath.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!impl->cgroupFd) {
    return bpfFailure(-errno, "open the cgroup directory " + cgroupPath);
  }
  struct stat st {};
  if (::fstat(impl->cgroupFd.get(), &st) != 0) {
    return bpfFailure(-errno, "stat the cgroup directory " + cgroupPath);
  }
  impl->cgroupId = static_cast<uint64_t>(st.st_ino);

  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, impl->skel->obj) {
    errno = 0;
    bpf_link* link = bpf_program__attach_cgroup(prog, impl->cgroupFd.get());
    if (link == nullptr) {
      return bpfFailure(-errno,
                        std::string("attach ") + bpf_program__name(prog) + " (" +
                            bpf_program__section_name(prog) + ") to the cgroup " + cgroupPath);
    }
    impl->links.push_back(link);
  }

  errno = 0;
  impl->rb = ring_buffer__new(
      bpf_map__fd(impl->skel->maps.xfp_sock_events), &SockHooksImpl::onRecord, impl.get(), nullptr);
  if (impl->rb == nullptr) {
    return bpfFailure(-errno, "open the socket event ring buffer xfp_sock_events");
  }
  auto replies = MmapArray<xfp_sock_reply>::map(
      bpf_map__fd(impl->skel->maps.xfp_sock_replies), XFP_SOCK_SLOTS, "xfp_sock_replies");
  if (!replies) {
    return tl::unexpected(replies.error());
  }
  impl->replies = std::move(*replies);
  impl->pageSize = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  impl->ringPositions = ::mmap(nullptr,
                               2 * impl->pageSize,
                               PROT_READ,
                               MAP_SHARED,
                               bpf_map__fd(impl->skel->maps.xfp_sock_events),
                               0);
  if (impl->ringPositions == MAP_FAILED) {
    return bpfFailure(-errno, "map the positions of the ring buffer xfp_sock_events");
  }
  return std::unique_ptr<SockHooks>(new SockHooks(std::move(impl)));
}

SockHooks::SockHooks(std::unique_ptr<SockHooksImpl> impl) : impl_(std::move(impl)) {}

SockHooks::~SockHooks() = default;

void SockHooks::configure(uint32_t layers, uint64_t waitNs, uint32_t runtimeTgid) {
  std::lock_guard lock(impl_->cfgMu);
  xfp_sock_cfg cfg = impl_->readCfg();  // keeps the heartbeat
  cfg.layers = layers;
  cfg.wait_ns = waitNs;
  cfg.runtime_tgid = runtimeTgid;
  // One CPU stays free for the answer (a waiting hook holds its CPU): counted among the CPUs the
  // answering process may run on, since hooks may spin on any of them.
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  // (The process's mask, not the calling thread's: configure() may run on a pinned thread.)
  long cpus = ::sched_getaffinity(::getpid(), sizeof allowed, &allowed) == 0
                  ? CPU_COUNT(&allowed)
                  : ::sysconf(_SC_NPROCESSORS_ONLN);
  cfg.max_waiters = cpus > 1 ? static_cast<uint32_t>(cpus - 1) : 0;
  impl_->writeCfg(cfg);
}

namespace {

// The cgroup links pinned in dir (an earlier xfp_sock's), opened and checked; names relative.
struct PinnedLink {
  std::string name;
  UniqueFd fd;
};

BpfResult<std::vector<PinnedLink>> openPinned(const std::string& dir) {
  std::vector<PinnedLink> found;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) {
      return found;
    }
    return bpfFailure(-errno, "open " + dir);
  }
  std::vector<std::string> names;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') {  // bpffs names have no dots: only "." and ".." are skipped
      names.emplace_back(e->d_name);
    }
  }
  ::closedir(d);
  for (const std::string& name : names) {
    const std::string path = dir + "/" + name;
    UniqueFd fd(bpf_obj_get(path.c_str()));
    if (!fd) {
      return bpfFailure(-errno, "open the pinned socket hook " + path);
    }
    bpf_link_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0 || info.type != BPF_LINK_TYPE_CGROUP) {
      return bpfFailure(-EINVAL, path + " is not a cgroup link: left alone, and so is the rest");
    }
    found.push_back({name, std::move(fd)});
  }
  return found;
}

}  // namespace

BpfResult<void> SockHooks::retirePinned(const std::string& dir) {
  auto pinned = openPinned(dir);
  if (!pinned) {
    return tl::unexpected(pinned.error());
  }
  for (PinnedLink& l : *pinned) {
    if (bpf_link_detach(l.fd.get()) != 0 && errno != ENOLINK) {
      return bpfFailure(-errno, "detach the pinned socket hook " + dir + "/" + l.name);
    }
    ::unlink((dir + "/" + l.name).c_str());
  }
  ::rmdir(dir.c_str());  // only when empty
  return {};
}

BpfResult<void> SockHooks::takeOver() {
  const std::string& dir = impl_->pinDir;
  if (dir.empty() || !impl_->pins.empty()) {
    return {};
  }
  // 1. The predecessor's links, all checked before anything changes: on an error here they stay
  //    as they are (still refusing), and ours are not pinned.
  auto predecessors = openPinned(dir);
  if (!predecessors) {
    return tl::unexpected(predecessors.error());
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return bpfFailure(-errno, "mkdir " + dir);
  }
  // 2. Ours pinned under staging names first: from here a crash leaves them attached.
  std::vector<std::pair<std::string, std::string>> staged;  // hidden path, final path
  size_t i = 0;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, impl_->skel->obj) {
    if (i >= impl_->links.size()) {
      break;
    }
    // Final name: the program's; first a staging one (bpffs allows no dots in names), while a
    // predecessor's may be in the way. A takeover that crashed half-way left its links under
    // staging names: found as predecessors above, detached below.
    const std::string final = dir + "/" + bpf_program__name(prog);
    const std::string hidden = final + "_next";
    ::unlink(hidden.c_str());
    if (bpf_obj_pin(bpf_link__fd(impl_->links[i]), hidden.c_str()) != 0) {
      const int err = -errno;
      for (const auto& [h, f] : staged) {
        ::unlink(h.c_str());
      }
      return bpfFailure(err, "pin the socket hook " + hidden);
    }
    staged.emplace_back(hidden, final);
    ++i;
  }
  // 3. The predecessor makes way (both ran until now; the stale one refused), then our pins
  //    take the final names (a rename replaces a predecessor's pin of the same name).
  for (PinnedLink& l : *predecessors) {
    (void)bpf_link_detach(l.fd.get());
    const std::string path = dir + "/" + l.name;
    const bool nowOurs =
        std::any_of(staged.begin(), staged.end(), [&](const auto& st) { return st.first == path; });
    if (!nowOurs) {  // a crashed takeover's staging name is ours by now (replaced in step 2)
      ::unlink(path.c_str());
    }
  }
  for (const auto& [hidden, final] : staged) {
    if (::rename(hidden.c_str(), final.c_str()) != 0) {
      impl_->pins.push_back(hidden);  // pinned all the same, under its staging name
      continue;
    }
    impl_->pins.push_back(final);
  }
  return {};
}

void SockHooks::detach() {
  for (bpf_link* l : impl_->links) {
    (void)bpf_link_detach(bpf_link__fd(l));  // at once, whoever else holds the link
  }
  for (const std::string& pin : impl_->pins) {
    ::unlink(pin.c_str());
  }
  impl_->pins.clear();
  if (!impl_->pinDir.empty()) {
    ::rmdir(impl_->pinDir.c_str());  // only when empty
  }
}

xfp_sock_stats SockHooks::stats() const {
  xfp_sock_stats st{};
  const uint32_t key = 0;
  bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.xfp_sock_stats), &key, &st);
  return st;
}

void SockHooks::heartbeat() {
  std::lock_guard lock(impl_->cfgMu);
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);  // bpf_ktime_get_ns()'s clock
  xfp_sock_cfg cfg = impl_->readCfg();
  cfg.heartbeat_ns =
      static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
  impl_->writeCfg(cfg);
}

int SockHooks::eventsMapFd() const {
  return bpf_map__fd(impl_->skel->maps.xfp_sock_events);
}

int SockHooks::eventsEpollFd() const {
  return ring_buffer__epoll_fd(impl_->rb);
}

size_t SockHooks::consume(const std::function<void(const xfp_sock_event&)>& fn) {
  impl_->sink = &fn;
  const int n = ring_buffer__consume(impl_->rb);
  impl_->sink = nullptr;
  return n > 0 ? static_cast<size_t>(n) : 0;
}

uint64_t SockHooks::consumedPosition() const {
  // Page 0 of a BPF ring buffer: the consumer position; page 1: the producer position.
  const auto* p = static_cast<const uint64_t*>(impl_->ringPositions);
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

uint64_t SockHooks::producedPosition() const {
  const auto* p = reinterpret_cast<const uint64_t*>(static_cast<const char*>(impl_->ringPositions) +
                                                    impl_->pageSize);
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

void SockHooks::reply(const xfp_sock_reply& r) {
  xfp_sock_reply& slot = impl_->replies[r.seq % XFP_SOCK_SLOTS];
  // Everything but seq first; seq last with a release store (the hook reads seq first).
  constexpr size_t kSeq = sizeof(r.seq);
  static_assert(offsetof(xfp_sock_reply, seq) == 0);
  std::memcpy(reinterpret_cast<char*>(&slot) + kSeq,
              reinterpret_cast<const char*>(&r) + kSeq,
              sizeof r - kSeq);
  __atomic_store_n(&slot.seq, r.seq, __ATOMIC_RELEASE);
}

std::optional<xfp_sock_owner> SockHooks::owner(uint64_t cookie) const {
  xfp_sock_owner o{};
  if (bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.xfp_sock_owners), &cookie, &o) != 0) {
    return std::nullopt;
  }
  return o;
}

std::optional<xfp_redirect_record> SockHooks::redirectRecord(const xfp_redirect_key& key) const {
  xfp_redirect_record r{};
  if (bpf_map_lookup_elem(bpf_map__fd(impl_->skel->maps.xfp_redirects), &key, &r) != 0) {
    return std::nullopt;
  }
  return r;
}

uint64_t SockHooks::cgroupId() const {
  return impl_->cgroupId;
}

const std::string& SockHooks::cgroupPath() const {
  return impl_->cgroupPath;
}

int SockHooks::mapFd(const char* name) const {
  bpf_map* m = bpf_object__find_map_by_name(impl_->skel->obj, name);
  return m == nullptr ? -1 : bpf_map__fd(m);
}

}  // namespace xfp::dataplane
