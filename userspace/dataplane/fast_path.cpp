#include "userspace/dataplane/fast_path.h"

#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/membarrier.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>

#include "userspace/dataplane/mmap_array.h"
#include "userspace/dataplane/percpu_map.h"
#include "userspace/dataplane/skeleton.h"
#include "xfp_tc.skel.h"
#include "xfp_xdp.skel.h"

namespace xfp::dataplane {
namespace {

using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// The maps both programs share: one policy for both hooks, one set of counters.
constexpr const char* kShared[] = {"xfp_gen",
                                   "xfp_halves",
                                   "xfp_layers",
                                   "xfp_nodes",
                                   "xfp_cands",
                                   "xfp_boxes",
                                   "xfp_filters",
                                   "xfp_counters",
                                   "xfp_callouts",
                                   "xfp_verdicts",
                                   "xfp_cfg",
                                   "xfp_runtime",
                                   "xfp_ale_cfg",
                                   "xfp_ale_flows",
                                   "xfp_events",
                                   "xfp_ev_budget",
                                   "xfp_event_stats"};

}  // namespace

static_assert(sizeof(xfp_node) % 8 == 0 && sizeof(xfp_box) % 8 == 0 &&
                  sizeof(xfp_filter) % 8 == 0 && sizeof(xfp_cand) % 8 == 0 &&
                  sizeof(xfp_layer_root) % 8 == 0,
              "mmap writes assume the kernel's 8-byte array value stride");

struct FastPath::Impl {
  Skeleton<xfp_xdp> xdp;
  Skeleton<xfp_tc> tc;
  FastPathOptions caps;
  MmapArray<xfp_gen> gen;
  MmapArray<xfp_layer_root> layers;
  MmapArray<xfp_node> nodes;
  MmapArray<xfp_cand> cands;
  MmapArray<xfp_box> boxes;
  MmapArray<xfp_filter> filters;
  CounterSlots counterSlots{XFP_COUNTER_CAP};
  std::vector<uint32_t> releasedSlots;  // freed at the last commit, zeroed after a grace period
  bool flippedSinceGrace = false;
  // XDP attachments are bpf_links (pinnable, so they can outlive the process), keyed by ifindex.
  struct XdpLink {
    int ifindex;
    bpf_link* link;
  };
  std::vector<XdpLink> xdpLinks;
  std::vector<TcAttachment> tcAttachments;
  std::vector<std::string> pins;
  std::vector<std::string> pinDirs;  // directories pin() created

  Impl(Skeleton<xfp_xdp> x, Skeleton<xfp_tc> t) : xdp(std::move(x)), tc(std::move(t)) {}

  [[nodiscard]] bpf_map* xdpMap(const char* name) const {
    return bpf_object__find_map_by_name(xdp->obj, name);
  }

  // Waits until no packet can still read the inactive half or count into released slots.
  BpfResult<void> graceIfNeeded(CommitStats& stats) {
    if (!flippedSinceGrace) {
      return {};
    }
    const auto t = Clock::now();
    if (::syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) != 0) {
      return bpfFailure(-1, "membarrier(MEMBARRIER_CMD_GLOBAL)");
    }
    flippedSinceGrace = false;
    if (!releasedSlots.empty()) {
      auto cpus = possibleCpus();
      if (!cpus) {
        return tl::unexpected(cpus.error());
      }
      // One batched update zeroes every released slot (a per-CPU value per possible CPU).
      std::vector<uint8_t> zero(
          releasedSlots.size() * static_cast<size_t>(*cpus) * sizeof(xfp_counter), 0);
      const int fd = bpf_map__fd(xdp->maps.xfp_counters);
      uint32_t count = static_cast<uint32_t>(releasedSlots.size());
      if (int err = bpf_map_update_batch(fd, releasedSlots.data(), zero.data(), &count, nullptr);
          err != 0) {
        return bpfFailure(err, "zero " + std::to_string(releasedSlots.size()) + " counter slots");
      }
      counterSlots.recycle(releasedSlots);
      releasedSlots.clear();
    }
    stats.graceMs = msSince(t);  // the wait and the zeroing of released counter slots
    return {};
  }
};

FastPath::FastPath(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

FastPath::~FastPath() {
  if (impl_) {
    detachAll();
  }
}

BpfResult<std::unique_ptr<FastPath>> FastPath::load(const FastPathOptions& options) {
  auto xdp = Skeleton<xfp_xdp>::open("xfp_xdp");
  if (!xdp) {
    return tl::unexpected(xdp.error());
  }
  struct Size {
    bpf_map* map;
    uint32_t entries;
  };
  for (const Size& s : {Size{(*xdp)->maps.xfp_nodes, 2 * options.nodes},
                        Size{(*xdp)->maps.xfp_cands, 2 * options.cands},
                        Size{(*xdp)->maps.xfp_boxes, 2 * options.boxes},
                        Size{(*xdp)->maps.xfp_filters, 2 * options.filters}}) {
    if (int err = bpf_map__set_max_entries(s.map, s.entries); err != 0) {
      return bpfFailure(err, std::string("size ") + bpf_map__name(s.map));
    }
  }
  if (auto r = xdp->load(); !r) {
    return tl::unexpected(r.error());
  }
  auto tc = Skeleton<xfp_tc>::open("xfp_tc");
  if (!tc) {
    return tl::unexpected(tc.error());
  }
  for (const char* name : kShared) {
    bpf_map* mine = bpf_object__find_map_by_name((*tc)->obj, name);
    bpf_map* theirs = bpf_object__find_map_by_name((*xdp)->obj, name);
    if (mine == nullptr || theirs == nullptr) {
      return bpfFailure(-ENOENT, std::string("find shared map ") + name);
    }
    bpf_map__set_max_entries(mine, bpf_map__max_entries(theirs));
    if (int err = bpf_map__reuse_fd(mine, bpf_map__fd(theirs)); err != 0) {
      return bpfFailure(err, std::string("share map ") + name);
    }
  }
  if (auto r = tc->load(); !r) {
    return tl::unexpected(r.error());
  }
  auto impl = std::make_unique<Impl>(std::move(*xdp), std::move(*tc));
  impl->caps = options;
  auto& m = impl->xdp->maps;
  auto gen = MmapArray<xfp_gen>::map(bpf_map__fd(m.xfp_gen), 1, "xfp_gen");
  auto layers =
      MmapArray<xfp_layer_root>::map(bpf_map__fd(m.xfp_layers), 2 * XFP_LS_COUNT, "xfp_layers");
  auto nodes = MmapArray<xfp_node>::map(bpf_map__fd(m.xfp_nodes), 2 * options.nodes, "xfp_nodes");
  auto cands = MmapArray<xfp_cand>::map(bpf_map__fd(m.xfp_cands), 2 * options.cands, "xfp_cands");
  auto boxes = MmapArray<xfp_box>::map(bpf_map__fd(m.xfp_boxes), 2 * options.boxes, "xfp_boxes");
  auto filters =
      MmapArray<xfp_filter>::map(bpf_map__fd(m.xfp_filters), 2 * options.filters, "xfp_filters");
  for (const BpfError* e : {gen ? nullptr : &gen.error(),
                            layers ? nullptr : &layers.error(),
                            nodes ? nullptr : &nodes.error(),
                            cands ? nullptr : &cands.error(),
                            boxes ? nullptr : &boxes.error(),
                            filters ? nullptr : &filters.error()}) {
    if (e != nullptr) {
      return tl::unexpected(*e);
    }
  }
  impl->gen = std::move(*gen);
  impl->layers = std::move(*layers);
  impl->nodes = std::move(*nodes);
  impl->cands = std::move(*cands);
  impl->boxes = std::move(*boxes);
  impl->filters = std::move(*filters);
  const int halvesFd = bpf_map__fd(m.xfp_halves);
  for (uint32_t h = 0; h < 2; ++h) {
    xfp_half half{h * XFP_LS_COUNT,
                  h * options.nodes,
                  h * options.cands,
                  h * options.boxes,
                  h * options.filters,
                  0};
    if (int err = bpf_map_update_elem(halvesFd, &h, &half, BPF_ANY); err != 0) {
      return bpfFailure(err, "write xfp_halves");
    }
  }
  return std::unique_ptr<FastPath>(new FastPath(std::move(impl)));
}

BpfResult<CommitStats> FastPath::commit(const compiler::CompiledPolicy& p) {
  Impl& s = *impl_;
  CommitStats stats;
  if (p.nodes.size() > s.caps.nodes || p.cands.size() > s.caps.cands ||
      p.boxes.size() > s.caps.boxes || p.filters.size() > s.caps.filters) {
    return bpfFailure(-E2BIG, "commit: the compiled policy exceeds the map capacity");
  }
  if (auto r = s.graceIfNeeded(stats); !r) {
    return tl::unexpected(r.error());
  }
  const auto t = Clock::now();
  const uint64_t current = std::atomic_ref<__u64>(s.gen[0].generation).load();
  const uint64_t next = current + 1;
  const uint32_t half = static_cast<uint32_t>(next & 1);
  // Counter slots: every filter of the new policy keeps (or gets) its slot.
  std::vector<uint64_t> live;
  live.reserve(p.filters.size());
  xfp_filter* filters = s.filters.data() + static_cast<size_t>(half) * s.caps.filters;
  for (size_t i = 0; i < p.filters.size(); ++i) {
    xfp_filter f = p.filters[i];
    f.counter = s.counterSlots.slotFor(f.filter_id);
    if (f.counter == UINT32_MAX) {
      return bpfFailure(-ENOSPC, "commit: no free counter slot");
    }
    filters[i] = f;
    live.push_back(f.filter_id);
  }
  std::memcpy(s.layers.data() + static_cast<size_t>(half) * XFP_LS_COUNT,
              p.layers.data(),
              sizeof(xfp_layer_root) * XFP_LS_COUNT);
  // std::copy, not memcpy: an empty policy's vectors have a null data().
  std::copy(
      p.nodes.begin(), p.nodes.end(), s.nodes.data() + static_cast<size_t>(half) * s.caps.nodes);
  xfp_cand* cands = s.cands.data() + static_cast<size_t>(half) * s.caps.cands;
  for (size_t i = 0; i < p.cands.size(); ++i) {
    cands[i] = xfp_cand{p.cands[i], 0};
  }
  std::copy(
      p.boxes.begin(), p.boxes.end(), s.boxes.data() + static_cast<size_t>(half) * s.caps.boxes);
  // Which layers of this half have filters (read only by packets of the new generation).
  xfp_half offsets{half * XFP_LS_COUNT,
                   half * s.caps.nodes,
                   half * s.caps.cands,
                   half * s.caps.boxes,
                   half * s.caps.filters,
                   0};
  for (int ls = 0; ls < XFP_LS_COUNT; ++ls) {
    if ((p.layers[ls].flags & XFP_LAYER_ACTIVE) != 0) {
      offsets.active_layers |= 1u << ls;
    }
  }
  if (int err = bpf_map_update_elem(bpf_map__fd(s.xdp->maps.xfp_halves), &half, &offsets, BPF_ANY);
      err != 0) {
    return bpfFailure(err, "write xfp_halves");
  }
  // The flip: one 64-bit release store; everything above is visible before it.
  std::atomic_ref<__u64>(s.gen[0].generation).store(next, std::memory_order_release);
  s.flippedSinceGrace = true;
  s.releasedSlots = s.counterSlots.retainOnly(live);
  stats.writeMs = msSince(t);
  stats.generation = next;
  return stats;
}

BpfResult<void> FastPath::attachXdp(int ifindex, uint32_t mode) {
  // A link-based attach (libxdp's dispatcher needs freplace, which this kernel refuses: one
  // program per interface). `mode` is kept for API compatibility: links pick the driver mode.
  (void)mode;
  errno = 0;
  bpf_link* link = bpf_program__attach_xdp(impl_->xdp->progs.xfp_xdp_in, ifindex);
  if (link == nullptr) {
    return bpfFailure(-errno, "attach xfp_xdp_in to ifindex " + std::to_string(ifindex));
  }
  impl_->xdpLinks.push_back({ifindex, link});
  return {};
}

BpfResult<void> FastPath::attachTc(int ifindex) {
  auto a = TcAttachment::attach(ifindex, tcProgFd(), "xfp_tc_out", BPF_TC_EGRESS);
  if (!a) {
    return tl::unexpected(a.error());
  }
  impl_->tcAttachments.push_back(std::move(*a));
  return {};
}

void FastPath::detachAll() {
  for (const auto& l : impl_->xdpLinks) {
    // A pinned link stays attached until its pin is removed (unpinAll): that is the point of it.
    bpf_link__destroy(l.link);
  }
  impl_->xdpLinks.clear();
  impl_->tcAttachments.clear();
}

BpfResult<void> FastPath::pin(const std::string& dir) {
  for (const std::string& sub : {dir, dir + "/maps", dir + "/progs"}) {
    if (::mkdir(sub.c_str(), 0700) == 0) {
      impl_->pinDirs.push_back(sub);
    } else if (errno != EEXIST) {
      return bpfFailure(-1, "mkdir " + sub);
    }
  }
  auto pinMap = [&](bpf_map* map) -> BpfResult<void> {
    const std::string path = dir + "/maps/" + bpf_map__name(map);
    if (int err = bpf_map__pin(map, path.c_str()); err != 0) {
      return bpfFailure(err, "pin " + path);
    }
    impl_->pins.push_back(path);
    return {};
  };
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, impl_->xdp->obj) {
    if (bpf_map__is_internal(map)) {
      continue;  // .rodata/.bss: bpffs refuses names with '.', and they hold no state
    }
    if (auto r = pinMap(map); !r) {
      return r;
    }
  }
  for (const auto& l : impl_->xdpLinks) {
    const std::string path = dir + "/links/xfp_xdp_in_if" + std::to_string(l.ifindex);
    if (::mkdir((dir + "/links").c_str(), 0700) == 0) {
      impl_->pinDirs.push_back(dir + "/links");
    }
    if (int err = bpf_link__pin(l.link, path.c_str()); err != 0) {
      return bpfFailure(err, "pin " + path);
    }
    impl_->pins.push_back(path);
  }
  for (bpf_program* prog : {impl_->xdp->progs.xfp_xdp_in, impl_->tc->progs.xfp_tc_out}) {
    const std::string path = dir + "/progs/" + bpf_program__name(prog);
    if (int err = bpf_program__pin(prog, path.c_str()); err != 0) {
      return bpfFailure(err, "pin " + path);
    }
    impl_->pins.push_back(path);
  }
  return {};
}

void FastPath::unpinAll() {
  for (const std::string& path : impl_->pins) {
    ::unlink(path.c_str());
  }
  impl_->pins.clear();
  for (auto it = impl_->pinDirs.rbegin(); it != impl_->pinDirs.rend(); ++it) {
    ::rmdir(it->c_str());  // only succeeds when empty: never removes what others pinned
  }
  impl_->pinDirs.clear();
}

BpfResult<FilterCounters> FastPath::counters(uint64_t filterId) const {
  const uint32_t slot = impl_->counterSlots.find(filterId);
  if (slot == UINT32_MAX) {
    return bpfFailure(-ENOENT, "counters of filter " + std::to_string(filterId));
  }
  auto values = lookupPerCpu<xfp_counter>(bpf_map__fd(impl_->xdp->maps.xfp_counters), slot);
  if (!values) {
    return tl::unexpected(values.error());
  }
  FilterCounters sum;
  for (const xfp_counter& c : *values) {
    sum.packets += c.packets;
    sum.bytes += c.bytes;
  }
  return sum;
}

BpfResult<xfp_layer_stats> FastPath::layerStats(uint32_t layerSlot) const {
  auto values =
      lookupPerCpu<xfp_layer_stats>(bpf_map__fd(impl_->xdp->maps.xfp_verdicts), layerSlot);
  if (!values) {
    return tl::unexpected(values.error());
  }
  xfp_layer_stats sum{};
  for (const xfp_layer_stats& v : *values) {
    for (int i = 0; i < 5; ++i) {
      sum.verdict[i] += v.verdict[i];
    }
    sum.cache_hits += v.cache_hits;
  }
  return sum;
}

BpfResult<void> FastPath::setCalloutLive(uint32_t calloutId, bool live) {
  const uint32_t value = live ? 1 : 0;
  if (int err = bpf_map_update_elem(
          bpf_map__fd(impl_->xdp->maps.xfp_callouts), &calloutId, &value, BPF_ANY);
      err != 0) {
    return bpfFailure(err, "set callout " + std::to_string(calloutId));
  }
  // Same half, new tag: cached verdicts computed under the old liveness are not served again.
  std::atomic_ref<__u64>(impl_->gen[0].generation).fetch_add(2, std::memory_order_acq_rel);
  return {};
}

namespace {

BpfResult<void> updateCfg(int fd, const std::function<void(xfp_cfg&)>& change) {
  const uint32_t key = 0;
  xfp_cfg cfg{};
  if (int err = bpf_map_lookup_elem(fd, &key, &cfg); err != 0) {
    return bpfFailure(err, "read xfp_cfg");
  }
  change(cfg);
  if (int err = bpf_map_update_elem(fd, &key, &cfg, BPF_ANY); err != 0) {
    return bpfFailure(err, "write xfp_cfg");
  }
  return {};
}

}  // namespace

BpfResult<void> FastPath::setFlowCache(bool enabled) {
  return updateCfg(bpf_map__fd(impl_->xdp->maps.xfp_cfg), [&](xfp_cfg& c) {
    c.flags = enabled ? (c.flags & ~uint32_t{XFP_CFG_NO_FLOW_CACHE})
                      : (c.flags | uint32_t{XFP_CFG_NO_FLOW_CACHE});
  });
}

BpfResult<void> FastPath::setNetEvents(bool drops, bool allows) {
  return updateCfg(bpf_map__fd(impl_->xdp->maps.xfp_cfg), [&](xfp_cfg& c) {
    c.flags &= ~uint32_t{XFP_CFG_DROP_EVENTS | XFP_CFG_ALLOW_EVENTS};
    c.flags |= (drops ? uint32_t{XFP_CFG_DROP_EVENTS} : 0u) |
               (allows ? uint32_t{XFP_CFG_ALLOW_EVENTS} : 0u);
  });
}

BpfResult<NetEventCounts> FastPath::netEventCounts() const {
  const uint32_t key = 0;
  auto per = lookupPerCpu<xfp_event_stats>(bpf_map__fd(impl_->xdp->maps.xfp_event_stats), key);
  if (!per) {
    return tl::unexpected(per.error());
  }
  NetEventCounts sum;
  for (const auto& c : *per) {
    sum.emitted += c.emitted;
    sum.suppressed += c.suppressed;
  }
  return sum;
}

int FastPath::xdpProgFd() const {
  return bpf_program__fd(impl_->xdp->progs.xfp_xdp_in);
}
int FastPath::tcProgFd() const {
  return bpf_program__fd(impl_->tc->progs.xfp_tc_out);
}

int FastPath::tcInjectProgFd() const {
  return bpf_program__fd(impl_->tc->progs.xfp_tc_inject);
}
int FastPath::mapFd(const char* name) const {
  bpf_map* m = impl_->xdpMap(name);
  return m != nullptr ? bpf_map__fd(m) : -1;
}
int FastPath::tcMapFd(const char* name) const {
  bpf_map* m = bpf_object__find_map_by_name(impl_->tc->obj, name);
  return m != nullptr ? bpf_map__fd(m) : -1;
}
uint64_t FastPath::generation() const {
  return std::atomic_ref<__u64>(impl_->gen[0].generation).load();
}

}  // namespace xfp::dataplane
