#include "userspace/dataplane/fast_path.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/membarrier.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <unordered_set>
#include <utility>

#include "userspace/dataplane/mmap_array.h"
#include "userspace/dataplane/percpu_map.h"
#include "userspace/dataplane/skeleton.h"
#include "userspace/dataplane/unique_fd.h"
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

bool isShared(const char* name) {
  return std::any_of(std::begin(kShared), std::end(kShared), [&](const char* s) {
    return std::strcmp(s, name) == 0;
  });
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string linkPinPath(const std::string& dir, int ifindex) {
  return dir + "/links/xfp_xdp_in_if" + std::to_string(ifindex);
}

// The kernel id of a BPF map, program or link fd (their info structs all start with type, id);
// 0 if it cannot be read.
uint32_t objectId(int fd) {
  struct {
    uint32_t type;
    uint32_t id;
  } head{};
  uint32_t len = sizeof(head);
  return bpf_obj_get_info_by_fd(fd, &head, &len) == 0 ? head.id : 0;
}

// A pinned XDP link whose interface is gone (the kernel reports ifindex 0).
bool defunctXdpLink(int fd) {
  bpf_link_info info{};
  uint32_t len = sizeof(info);
  return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.type == BPF_LINK_TYPE_XDP &&
         info.xdp.ifindex == 0;
}

// Whether BTF type a (of ba) and b (of bb) lay memory out the same way: kinds, sizes, integer
// encodings, array lengths, member names, offsets and bitfield sizes, recursively (typedefs and
// qualifiers skipped, pointers only by size). `where` names the first difference.
bool sameLayout(
    const btf* ba, uint32_t a, const btf* bb, uint32_t b, int depth, std::string& where) {
  if (depth > 16) {  // deeper than any xfp ABI struct nests
    where += ": nested too deep to compare";
    return false;
  }
  const int ra = btf__resolve_type(ba, a);
  const int rb = btf__resolve_type(bb, b);
  if (ra < 0 || rb < 0) {
    where += ": unresolvable type";
    return false;
  }
  if (ra == 0 || rb == 0) {
    return ra == rb;  // void
  }
  const btf_type* ta = btf__type_by_id(ba, static_cast<uint32_t>(ra));
  const btf_type* tb = btf__type_by_id(bb, static_cast<uint32_t>(rb));
  if (ta == nullptr || tb == nullptr || btf_kind(ta) != btf_kind(tb)) {
    where += ": different kinds of type";
    return false;
  }
  switch (btf_kind(ta)) {
    case BTF_KIND_INT:
      if (ta->size != tb->size || btf_int_encoding(ta) != btf_int_encoding(tb) ||
          btf_int_bits(ta) != btf_int_bits(tb) || btf_int_offset(ta) != btf_int_offset(tb)) {
        where += ": an integer of another size or encoding";
        return false;
      }
      return true;
    case BTF_KIND_PTR:
      return true;
    case BTF_KIND_ENUM:
    case BTF_KIND_ENUM64:
      if (ta->size != tb->size) {
        where += ": enum size differs";
        return false;
      }
      return true;
    case BTF_KIND_ARRAY: {
      const struct btf_array* xa = btf_array(ta);
      const struct btf_array* xb = btf_array(tb);
      if (xa->nelems != xb->nelems) {
        where +=
            ": array of " + std::to_string(xb->nelems) + ", pinned " + std::to_string(xa->nelems);
        return false;
      }
      where += "[]";
      return sameLayout(ba, xa->type, bb, xb->type, depth + 1, where);
    }
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION: {
      const std::string name = btf__name_by_offset(bb, tb->name_off);
      if (ta->size != tb->size) {
        where += " (" + name + "): " + std::to_string(tb->size) + " bytes, pinned " +
                 std::to_string(ta->size);
        return false;
      }
      if (btf_vlen(ta) != btf_vlen(tb)) {
        where += " (" + name + "): " + std::to_string(btf_vlen(tb)) + " members, pinned " +
                 std::to_string(btf_vlen(ta));
        return false;
      }
      const btf_member* ma = btf_members(ta);
      const btf_member* mb = btf_members(tb);
      for (uint32_t i = 0; i < btf_vlen(ta); ++i) {
        const std::string member = btf__name_by_offset(bb, mb[i].name_off);
        if (member != btf__name_by_offset(ba, ma[i].name_off) ||
            btf_member_bit_offset(ta, i) != btf_member_bit_offset(tb, i) ||
            btf_member_bitfield_size(ta, i) != btf_member_bitfield_size(tb, i)) {
          where += " (" + name + "): member " + std::to_string(i) + " (" + member +
                   ") differs in name, offset or width";
          return false;
        }
        std::string inner = where + "." + member;
        if (!sameLayout(ba, ma[i].type, bb, mb[i].type, depth + 1, inner)) {
          where = inner;
          return false;
        }
      }
      return true;
    }
    default:
      if (ta->size != tb->size) {
        where += ": size differs";
        return false;
      }
      return true;
  }
}

// adopt(): the pinned map at `path` can stand in for `map` of this build (type, key and value
// sizes, entries, flags, and the BTF layout of key and value). ESTALE otherwise.
BpfResult<void> checkPinnedMap(const bpf_map* map,
                               int fd,
                               const std::string& path,
                               const btf* ours) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) {
    return bpfFailure(-1, "read the info of pinned map " + path);
  }
  auto mismatch = [&](const std::string& what, uint64_t pinned, uint64_t expected) {
    return bpfFailure(-ESTALE,
                      "pinned map " + path + " does not match this build and options: " + what +
                          " " + std::to_string(pinned) + ", expected " + std::to_string(expected) +
                          " (load() instead of adopt())");
  };
  if (info.type != static_cast<uint32_t>(bpf_map__type(map))) {
    return mismatch("map type", info.type, bpf_map__type(map));
  }
  if (info.key_size != bpf_map__key_size(map)) {
    return mismatch("key size", info.key_size, bpf_map__key_size(map));
  }
  if (info.value_size != bpf_map__value_size(map)) {
    return mismatch("value size", info.value_size, bpf_map__value_size(map));
  }
  if (info.max_entries != bpf_map__max_entries(map)) {
    return mismatch("max_entries", info.max_entries, bpf_map__max_entries(map));
  }
  if (info.map_flags != bpf_map__map_flags(map)) {
    return mismatch("map flags", info.map_flags, bpf_map__map_flags(map));
  }
  const uint32_t keyType = bpf_map__btf_key_type_id(map);
  const uint32_t valueType = bpf_map__btf_value_type_id(map);
  if (info.btf_id == 0 || ours == nullptr || (keyType == 0 && valueType == 0)) {
    return {};  // nothing typed to compare (a ring buffer): the sizes above decide
  }
  btf* theirs = btf__load_from_kernel_by_id(info.btf_id);
  if (theirs == nullptr) {
    return bpfFailure(-errno, "read the BTF of pinned map " + path);
  }
  std::string keyWhere = "key";
  std::string valueWhere = "value";
  const bool sameKey = sameLayout(theirs, info.btf_key_type_id, ours, keyType, 0, keyWhere);
  const bool sameValue =
      sameKey && sameLayout(theirs, info.btf_value_type_id, ours, valueType, 0, valueWhere);
  btf__free(theirs);
  if (!sameKey || !sameValue) {
    return bpfFailure(-ESTALE,
                      "pinned map " + path + " does not match this build: its " +
                          (sameKey ? valueWhere : keyWhere) +
                          " has another layout (load() instead of adopt())");
  }
  return {};
}

uint64_t monotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

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
  // adopt(): slots the adopted live policy counts into that no filter keeps (corrupt input
  // only); released by the next commit after its flip.
  std::vector<uint32_t> orphanSlots;
  bool flippedSinceGrace = false;
  // adopt() / takeOverAttachments(): attachXdp() takes over pinned links under takeOverDir/links
  // and attachTc() our own tc filters, switching them to this object's programs.
  std::string takeOverDir;
  // XDP attachments are bpf_links (pinnable, so they can outlive the process), keyed by ifindex.
  struct XdpLink {
    int ifindex;
    bpf_link* link;
  };
  std::vector<XdpLink> xdpLinks;
  std::vector<TcAttachment> tcAttachments;
  std::vector<std::string> pins;     // pins this object created, re-pinned or took over
  std::vector<std::string> pinDirs;  // directories pin() created (or adopt() took over)

  Impl(Skeleton<xfp_xdp> x, Skeleton<xfp_tc> t) : xdp(std::move(x)), tc(std::move(t)) {}

  [[nodiscard]] bpf_map* xdpMap(const char* name) const {
    return bpf_object__find_map_by_name(xdp->obj, name);
  }

  void addPin(const std::string& path) {
    if (std::find(pins.begin(), pins.end(), path) == pins.end()) {
      pins.push_back(path);
    }
  }
  void addPinDir(const std::string& path) {
    if (std::find(pinDirs.begin(), pinDirs.end(), path) == pinDirs.end()) {
      pinDirs.push_back(path);
    }
  }

  // Pins fd at path. A pin of this very object is kept (adopted maps, taken-over links); a pin of
  // another map or program (an earlier generation's) is replaced; a pin of another link is
  // replaced only when that link is defunct (its interface is gone): a live one still holds an
  // attachment, and removing its pin could detach it.
  BpfResult<void> pinAt(const std::string& path, int fd, bool link) {
    if (bpf_obj_pin(fd, path.c_str()) == 0) {
      addPin(path);
      return {};
    }
    if (errno != EEXIST) {
      return bpfFailure(-1, "pin " + path);
    }
    UniqueFd other(bpf_obj_get(path.c_str()));
    if (!other) {
      return bpfFailure(-1, "open existing pin " + path);
    }
    if (objectId(other.get()) != objectId(fd)) {
      if (link && !defunctXdpLink(other.get())) {
        return bpfFailure(-EEXIST, "pin " + path + ": another live link is pinned there");
      }
      if (::unlink(path.c_str()) != 0 || bpf_obj_pin(fd, path.c_str()) != 0) {
        return bpfFailure(-1, "re-pin " + path);
      }
    }
    addPin(path);
    return {};
  }

  // The xfp_filters indices (relative to `half`) packets of the live generation can be decided
  // by: reached from the active layers' tree roots through nodes, leaf candidates and boxes.
  // Walks every reachable node once (no depth cut: more is only more conservative). ESTALE if
  // the leaves name more candidates than a sane image can (corrupt maps).
  BpfResult<std::vector<uint32_t>> reachableFilters(uint32_t half) const {
    const size_t layerOff = static_cast<size_t>(half) * XFP_LS_COUNT;
    const size_t nodeOff = static_cast<size_t>(half) * caps.nodes;
    const size_t candOff = static_cast<size_t>(half) * caps.cands;
    const size_t boxOff = static_cast<size_t>(half) * caps.boxes;
    std::vector<bool> seenNode(caps.nodes, false);
    std::vector<bool> seenBox(caps.boxes, false);
    std::vector<bool> seenFilter(caps.filters, false);
    std::unordered_set<uint64_t> seenLeaf;  // (base, count): leaves sharing a list walk it once
    std::vector<uint32_t> stack;
    std::vector<uint32_t> out;
    for (int ls = 0; ls < XFP_LS_COUNT; ++ls) {
      const xfp_layer_root& root = layers[layerOff + static_cast<size_t>(ls)];
      if ((root.flags & XFP_LAYER_ACTIVE) == 0) {
        continue;
      }
      for (uint32_t t = 0; t < std::min<uint32_t>(root.trees, XFP_MAX_TREES); ++t) {
        stack.push_back(root.root[t]);
      }
    }
    uint64_t candBudget = 16ull * caps.cands + 16;
    while (!stack.empty()) {  // bounded: only a node seen for the first time pushes (two)
      const uint32_t n = stack.back();
      stack.pop_back();
      if (n >= caps.nodes || seenNode[n]) {
        continue;
      }
      seenNode[n] = true;
      const xfp_node& node = nodes[nodeOff + n];
      if (node.kind != XFP_NODE_LEAF) {
        stack.push_back(node.base);
        if (node.base != UINT32_MAX) {
          stack.push_back(node.base + 1);
        }
        continue;
      }
      if (!seenLeaf.insert((uint64_t{node.base} << 32) | node.mask_or_count).second) {
        continue;
      }
      const uint64_t end = std::min<uint64_t>(uint64_t{node.base} + node.mask_or_count, caps.cands);
      for (uint64_t c = node.base; c < end; ++c) {
        if (candBudget-- == 0) {
          return bpfFailure(-ESTALE, "adopt: the live policy's leaves are inconsistent");
        }
        const uint32_t box = cands[candOff + c].box;
        if (box >= caps.boxes || seenBox[box]) {
          continue;
        }
        seenBox[box] = true;
        const uint32_t f = boxes[boxOff + box].filter;
        if (f < caps.filters && !seenFilter[f]) {
          seenFilter[f] = true;
          out.push_back(f);
        }
      }
    }
    return out;
  }

  // adopt(), after the programs are loaded against the pinned maps: refuses while the previous
  // owner's callout runtime still beats; rebuilds the counter slots from the live half (kept
  // filters keep counting, every other slot is zeroed); clears callout liveness (the new
  // runtime registers its callouts again); takes over the pin tree. Until it succeeds it
  // writes only what the live policy's verdicts cannot depend on while its runtime is gone.
  BpfResult<void> takeOver(const std::string& dir, std::vector<std::string> adoptedPins) {
    const uint32_t zero = 0;
    xfp_runtime rt{};
    if (bpf_map_lookup_elem(bpf_map__fd(xdp->maps.xfp_runtime), &zero, &rt) == 0 &&
        rt.heartbeat_ns != 0 && rt.pid != static_cast<uint32_t>(::getpid()) &&
        monotonicNs() - rt.heartbeat_ns < XFP_RUNTIME_STALE_NS &&
        (::kill(static_cast<pid_t>(rt.pid), 0) == 0 || errno == EPERM)) {
      return bpfFailure(-EBUSY,
                        "adopt " + dir + ": its callout runtime (pid " + std::to_string(rt.pid) +
                            ") is still running");
    }
    // Which counter slots the live generation counts into, and for which filter.
    const uint64_t generation = std::atomic_ref<__u64>(gen[0].generation).load();
    std::vector<std::pair<uint64_t, uint32_t>> live;
    if (generation != 0) {
      const uint32_t half = static_cast<uint32_t>(generation & 1);
      auto reachable = reachableFilters(half);
      if (!reachable) {
        return tl::unexpected(reachable.error());
      }
      const xfp_filter* f = filters.data() + static_cast<size_t>(half) * caps.filters;
      for (uint32_t i : *reachable) {
        live.emplace_back(f[i].filter_id, f[i].counter);
      }
    }
    // Packets of generations before the live one (the previous owner may have died between a
    // flip and its grace period) may still count into slots about to be zeroed: wait them out.
    if (::syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) != 0) {
      return bpfFailure(-1, "membarrier(MEMBARRIER_CMD_GLOBAL)");
    }
    flippedSinceGrace = false;
    std::vector<bool> keep(XFP_COUNTER_CAP, false);
    for (const auto& [id, slot] : live) {
      if (slot < XFP_COUNTER_CAP) {
        keep[slot] = true;
      }
    }
    auto cpus = possibleCpus();
    if (!cpus) {
      return tl::unexpected(cpus.error());
    }
    // Zero every slot the live policy does not count into, in batches of at most ~1 MiB.
    const size_t perSlot = static_cast<size_t>(*cpus) * sizeof(xfp_counter);
    const size_t batch = std::max<size_t>(1, (size_t{1} << 20) / perSlot);
    std::vector<uint32_t> keys;
    keys.reserve(batch);
    std::vector<uint8_t> zeros(batch * perSlot, 0);
    const int countersFd = bpf_map__fd(xdp->maps.xfp_counters);
    for (uint32_t slot = 0; slot <= XFP_COUNTER_CAP; ++slot) {
      if (slot < XFP_COUNTER_CAP && !keep[slot]) {
        keys.push_back(slot);
      }
      if (!keys.empty() && (keys.size() == batch || slot == XFP_COUNTER_CAP)) {
        uint32_t count = static_cast<uint32_t>(keys.size());
        if (int err = bpf_map_update_batch(countersFd, keys.data(), zeros.data(), &count, nullptr);
            err != 0) {
          return bpfFailure(err, "zero unused counter slots");
        }
        keys.clear();
      }
    }
    orphanSlots = counterSlots.restore(live);
    // Callout liveness belonged to the previous owner's runtime.
    const int calloutsFd = bpf_map__fd(xdp->maps.xfp_callouts);
    std::vector<uint32_t> ids(XFP_CALLOUT_CAP);
    std::vector<uint32_t> liveness(XFP_CALLOUT_CAP);
    uint32_t count = XFP_CALLOUT_CAP;
    uint32_t outBatch = 0;
    if (int err = bpf_map_lookup_batch(
            calloutsFd, nullptr, &outBatch, ids.data(), liveness.data(), &count, nullptr);
        err != 0 && err != -ENOENT) {
      return bpfFailure(err, "read xfp_callouts");
    }
    std::vector<uint32_t> wasLive;
    for (uint32_t i = 0; i < count && i < XFP_CALLOUT_CAP; ++i) {
      if (liveness[i] != 0) {
        wasLive.push_back(ids[i]);
      }
    }
    if (!wasLive.empty()) {
      std::vector<uint32_t> off(wasLive.size(), 0);
      uint32_t n = static_cast<uint32_t>(wasLive.size());
      if (int err = bpf_map_update_batch(calloutsFd, wasLive.data(), off.data(), &n, nullptr);
          err != 0) {
        return bpfFailure(err, "clear xfp_callouts");
      }
      // Same half, new tag: no cached verdict computed with the old liveness is served again.
      std::atomic_ref<__u64>(gen[0].generation).fetch_add(2, std::memory_order_acq_rel);
    }
    // The pin tree is ours now: unpinAll() removes it (after pin() has re-pinned the programs).
    takeOverDir = dir;
    for (const std::string& d : {dir, dir + "/maps", dir + "/progs", dir + "/links"}) {
      if (exists(d)) {
        addPinDir(d);
      }
    }
    for (std::string& path : adoptedPins) {
      addPin(path);
    }
    for (const char* prog : {"xfp_xdp_in", "xfp_tc_out"}) {
      if (exists(dir + "/progs/" + prog)) {
        addPin(dir + "/progs/" + prog);
      }
    }
    return {};
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
  if (!impl_) {
    return;
  }
  // Not detachAll(): a FastPath destroyed without a decision (an error path) must not take a
  // pinned data path down with it. Closing our link fds detaches only unpinned links.
  for (const auto& l : impl_->xdpLinks) {
    bpf_link__destroy(l.link);
  }
  impl_->xdpLinks.clear();
  impl_->tcAttachments.clear();
}

BpfResult<std::unique_ptr<FastPath>> FastPath::load(const FastPathOptions& options) {
  return create(options, nullptr);
}

BpfResult<std::unique_ptr<FastPath>> FastPath::adopt(const std::string& pinDir,
                                                     const FastPathOptions& options) {
  return create(options, &pinDir);
}

BpfResult<std::unique_ptr<FastPath>> FastPath::create(const FastPathOptions& options,
                                                      const std::string* adoptFrom) {
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
  // adopt(): every map pinned by an earlier FastPath stands in for ours (checked first); the
  // shared policy maps must all be there, per-object scratch maps are made afresh if missing.
  std::vector<std::string> adoptedPins;
  if (adoptFrom != nullptr) {
    const std::string maps = *adoptFrom + "/maps/";
    if (!exists(maps + "xfp_gen")) {
      return bpfFailure(-ENOENT,
                        "adopt " + *adoptFrom + ": no pinned xfp_gen in " + maps +
                            " (nothing to adopt: load() instead)");
    }
    bpf_map* map = nullptr;
    bpf_object__for_each_map(map, (*xdp)->obj) {
      if (bpf_map__is_internal(map)) {
        continue;
      }
      const std::string path = maps + bpf_map__name(map);
      UniqueFd fd(bpf_obj_get(path.c_str()));
      if (!fd) {
        if (errno == ENOENT && !isShared(bpf_map__name(map))) {
          continue;
        }
        return bpfFailure(-1, "adopt " + *adoptFrom + ": open pinned map " + path);
      }
      if (auto r = checkPinnedMap(map, fd.get(), path, bpf_object__btf((*xdp)->obj)); !r) {
        return tl::unexpected(r.error());
      }
      if (int err = bpf_map__reuse_fd(map, fd.get()); err != 0) {
        return bpfFailure(err, "reuse pinned map " + path);
      }
      adoptedPins.push_back(path);
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
    if (adoptFrom != nullptr) {
      // The live half's active_layers must stay as they are: check the offsets, write nothing.
      xfp_half pinned{};
      if (int err = bpf_map_lookup_elem(halvesFd, &h, &pinned); err != 0) {
        return bpfFailure(err, "read pinned xfp_halves");
      }
      if (pinned.layer_off != half.layer_off || pinned.node_off != half.node_off ||
          pinned.cand_off != half.cand_off || pinned.box_off != half.box_off ||
          pinned.filter_off != half.filter_off) {
        return bpfFailure(-ESTALE,
                          "adopt " + *adoptFrom + ": pinned xfp_halves[" + std::to_string(h) +
                              "] does not match these capacities (load() instead)");
      }
      continue;
    }
    if (int err = bpf_map_update_elem(halvesFd, &h, &half, BPF_ANY); err != 0) {
      return bpfFailure(err, "write xfp_halves");
    }
  }
  if (adoptFrom != nullptr) {
    if (auto r = impl->takeOver(*adoptFrom, std::move(adoptedPins)); !r) {
      return tl::unexpected(r.error());
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
  s.releasedSlots.insert(s.releasedSlots.end(), s.orphanSlots.begin(), s.orphanSlots.end());
  s.orphanSlots.clear();
  stats.writeMs = msSince(t);
  stats.generation = next;
  return stats;
}

BpfResult<void> FastPath::attachXdp(int ifindex, uint32_t mode) {
  // A link-based attach (libxdp's dispatcher needs freplace, which this kernel refuses: one
  // program per interface). `mode` is kept for API compatibility: links pick the driver mode.
  (void)mode;
  Impl& s = *impl_;
  bpf_program* prog = s.xdp->progs.xfp_xdp_in;
  if (!s.takeOverDir.empty()) {
    const std::string path = linkPinPath(s.takeOverDir, ifindex);
    if (exists(path)) {
      errno = 0;
      bpf_link* link = bpf_link__open(path.c_str());
      if (link == nullptr) {
        return bpfFailure(-errno, "open pinned link " + path);
      }
      bpf_link_info info{};
      uint32_t len = sizeof(info);
      if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len) != 0) {
        const int err = -errno;
        bpf_link__destroy(link);
        return bpfFailure(err, "read pinned link " + path);
      }
      // The pin's name holds only the ifindex: make sure the link is attached to this
      // interface of the caller's network namespace (the same program id is attached here).
      bool here = false;
      if (info.type == BPF_LINK_TYPE_XDP && info.xdp.ifindex == static_cast<uint32_t>(ifindex)) {
        bpf_xdp_query_opts q{};
        q.sz = sizeof(q);
        here = bpf_xdp_query(ifindex, 0, &q) == 0 &&
               (q.prog_id == info.prog_id || q.drv_prog_id == info.prog_id ||
                q.skb_prog_id == info.prog_id);
      }
      if (here) {
        // The switch: one program replaces the other on the live link, no moment without one.
        if (int err = bpf_link__update_program(link, prog); err != 0) {
          bpf_link__destroy(link);
          return bpfFailure(err, "switch pinned link " + path + " to the new xfp_xdp_in");
        }
        s.xdpLinks.push_back({ifindex, link});
        s.addPin(path);
        return {};
      }
      const bool defunct = info.type == BPF_LINK_TYPE_XDP && info.xdp.ifindex == 0;
      bpf_link__destroy(link);
      if (!defunct) {
        return bpfFailure(-EEXIST,
                          "take over " + path + ": it is not the XDP link of ifindex " +
                              std::to_string(ifindex) + " in this network namespace");
      }
      // Its interface is gone: attach afresh; pin() replaces the stale pin.
    }
  }
  errno = 0;
  bpf_link* link = bpf_program__attach_xdp(prog, ifindex);
  if (link == nullptr) {
    return bpfFailure(-errno, "attach xfp_xdp_in to ifindex " + std::to_string(ifindex));
  }
  s.xdpLinks.push_back({ifindex, link});
  return {};
}

BpfResult<void> FastPath::attachTc(int ifindex) {
  auto a = impl_->takeOverDir.empty()
               ? TcAttachment::attach(ifindex, tcProgFd(), "xfp_tc_out", BPF_TC_EGRESS)
               : TcAttachment::takeOver(ifindex, tcProgFd(), "xfp_tc_out", BPF_TC_EGRESS);
  if (!a) {
    return tl::unexpected(a.error());
  }
  impl_->tcAttachments.push_back(std::move(*a));
  return {};
}

void FastPath::takeOverAttachments(const std::string& pinDir) {
  impl_->takeOverDir = pinDir;
  for (const std::string& d : {pinDir, pinDir + "/links"}) {
    if (exists(d)) {
      impl_->addPinDir(d);  // the pin tree is ours now: unpinAll() may remove it when empty
    }
  }
}

void FastPath::detachAll() {
  for (const auto& l : impl_->xdpLinks) {
    // Detach explicitly (BPF_LINK_DETACH) instead of relying on the last reference going away:
    // a pinned link would stay attached until unpinAll(), and even then the kernel drops a
    // link's last pinned reference from a workqueue, so the program could still run for a
    // moment after this returns (seen in CI: the interface still had the program).
    (void)bpf_link__detach(l.link);
    bpf_link__destroy(l.link);
  }
  impl_->xdpLinks.clear();
  impl_->tcAttachments.clear();
}

void FastPath::leaveAttached() {
  for (const auto& l : impl_->xdpLinks) {
    bpf_link__destroy(l.link);  // closes our fd only: a pinned link stays attached
  }
  impl_->xdpLinks.clear();
  for (TcAttachment& t : impl_->tcAttachments) {
    t.release();
  }
  impl_->tcAttachments.clear();
}

BpfResult<void> FastPath::pin(const std::string& dir) {
  Impl& s = *impl_;
  // Our subdirectories are ours to remove when empty even if they existed (an earlier
  // generation's); `dir` itself only if we created it (or took its pins over).
  for (const std::string& sub : {dir, dir + "/maps", dir + "/progs"}) {
    if (::mkdir(sub.c_str(), 0700) == 0 || (errno == EEXIST && sub != dir)) {
      s.addPinDir(sub);
    } else if (errno != EEXIST) {
      return bpfFailure(-1, "mkdir " + sub);
    }
  }
  bpf_map* map = nullptr;
  bpf_object__for_each_map(map, s.xdp->obj) {
    if (bpf_map__is_internal(map)) {
      continue;  // .rodata/.bss: bpffs refuses names with '.', and they hold no state
    }
    if (auto r = s.pinAt(dir + "/maps/" + bpf_map__name(map), bpf_map__fd(map), false); !r) {
      return r;
    }
  }
  for (const auto& l : s.xdpLinks) {
    if (::mkdir((dir + "/links").c_str(), 0700) == 0 || errno == EEXIST) {
      s.addPinDir(dir + "/links");
    }
    if (auto r = s.pinAt(linkPinPath(dir, l.ifindex), bpf_link__fd(l.link), true); !r) {
      return r;
    }
  }
  for (bpf_program* prog : {s.xdp->progs.xfp_xdp_in, s.tc->progs.xfp_tc_out}) {
    const std::string path = dir + "/progs/" + bpf_program__name(prog);
    if (auto r = s.pinAt(path, bpf_program__fd(prog), false); !r) {
      return r;
    }
  }
  return {};
}

void FastPath::unpinAll() {
  for (const std::string& path : impl_->pins) {
    ::unlink(path.c_str());
  }
  impl_->pins.clear();
  // Deepest first (a subdirectory's path is longer than its parent's).
  std::sort(impl_->pinDirs.begin(),
            impl_->pinDirs.end(),
            [](const std::string& x, const std::string& y) { return x.size() > y.size(); });
  for (const std::string& d : impl_->pinDirs) {
    ::rmdir(d.c_str());  // only succeeds when empty: never removes what others pinned
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
