// FastPath: the loaded XDP (inbound) and tc egress (outbound) programs sharing one set of policy
// maps, and the commit that publishes a CompiledPolicy to them.
//
// The generation flip (read this before touching commit()):
//   Every double-buffered map holds two halves. A commit writes the half that is not live,
//   through mmap, then stores generation+1 into xfp_gen with one 64-bit store: its low bit is the
//   live half, so each packet -- which loads the generation once -- sees either the whole old
//   policy or the whole new one. The old half may still be read by packets in flight, so before
//   the next commit overwrites it we wait one RCU grace period (membarrier(MEMBARRIER_CMD_GLOBAL)
//   runs synchronize_rcu(), and XDP/tc programs run inside RCU read-side sections). Counter slots
//   of filters that left the policy are zeroed and reused only after that same grace period.
//
// Threading: one FastPath is driven by one thread at a time (commit, attach, setCalloutLive);
// reads (counters, layerStats) may run alongside. The engine serialises commits (issue 5).
//
// Restarts without a gap (adopt): a FastPath that pinned its maps and XDP links (pin()) and then
// died -- crashed, or left with leaveAttached() -- leaves its programs enforcing its last policy:
// the pinned links hold the XDP program, the kernel holds the tc filter, both read the pinned
// maps. adopt(dir) loads new programs against those very maps (generation, both halves, counters,
// flow tables), so the live policy stays live; attachXdp()/attachTc() then switch each
// interface's link / tc filter to the new program in place (bpf_link_update, BPF_TC_F_REPLACE);
// the next commit() writes the half that is not live and flips, as always. At no point does an
// interface run without a program or a program without the last committed policy.
// docs/decisions.md ("Adopting a pinned data path") has the details.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compiler/compiled_policy.h"
#include "userspace/dataplane/bpf_error.h"
#include "userspace/dataplane/counter_slots.h"
#include "userspace/dataplane/tc_attachment.h"
#include "xfp/abi.h"

namespace xfp::dataplane {

struct FastPathOptions {
  // Entries per generation half of each double-buffered map (the maps hold two halves).
  uint32_t nodes = XFP_NODE_CAP;
  uint32_t cands = XFP_CAND_CAP;
  uint32_t boxes = XFP_BOX_CAP;
  uint32_t filters = XFP_FILTER_CAP;
};

struct FilterCounters {
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

struct NetEventCounts {
  uint64_t emitted = 0;
  uint64_t suppressed = 0;  // over a CPU's budget, or the ring was full
};

struct CommitStats {
  uint64_t generation = 0;
  double graceMs = 0;  // waiting for packets on the old half (membarrier) + zeroing freed counters
  double writeMs = 0;  // writing the inactive half
};

class FastPath {
 public:
  // Opens and loads both programs (verifying them) with the policy maps sized by `options`.
  [[nodiscard]] static BpfResult<std::unique_ptr<FastPath>> load(
      const FastPathOptions& options = {});

  // Takes over the data path an earlier FastPath pinned under pinDir (pin()): opens both
  // programs with every map of pinDir/maps reused (checked first: type, sizes, flags and the BTF
  // layout of key and value against this build and `options`), loads them against those maps,
  // and continues from what the maps hold:
  //  - the generation: the next commit() writes the half that is not live and flips;
  //  - counters: filters of the live policy keep their slots and their counts, provided the
  //    caller commits them under the same filter ids; every other slot is zeroed;
  //  - xfp_cfg (flow cache, net-event switches) stays as it was; callout liveness is cleared
  //    (the previous owner's runtime is gone; the new one registers its callouts again);
  //  - attachXdp()/attachTc() take over the pinned links and the tc filters (see there); pins
  //    are now this object's: pin(pinDir) keeps or re-pins them, unpinAll() removes them.
  // Errors: ENOENT nothing is pinned there; ESTALE the pins do not match this build or these
  // options (an upgrade that changed a map: fall back to load() + takeOverAttachments());
  // EBUSY the previous owner's callout runtime is still alive. A failed adopt() leaves the live
  // policy, its attachments and its counts as they were. The previous owner must be gone: two
  // writers of one policy corrupt it.
  [[nodiscard]] static BpfResult<std::unique_ptr<FastPath>> adopt(
      const std::string& pinDir, const FastPathOptions& options = {});
  ~FastPath();
  FastPath(const FastPath&) = delete;
  FastPath& operator=(const FastPath&) = delete;

  // Publishes a compiled policy atomically (see the note at the top of this header).
  [[nodiscard]] BpfResult<CommitStats> commit(const compiler::CompiledPolicy& policy);

  // Attaches the XDP program to `ifindex` (inbound layers) / the tc program to its egress
  // (outbound layers). Attachments are undone by detachAll(); the destructor removes the tc filters
  // and closes the XDP links (a pinned link stays attached). Take-over (after adopt() or
  // takeOverAttachments(dir)): if dir/links/xfp_xdp_in_if<ifindex> is the XDP link of this
  // interface (in the caller's network namespace), attachXdp() switches it to this object's program
  // atomically (bpf_link_update) and keeps it; a pin whose interface is gone is ignored (pin()
  // replaces it); a pin of another interface is EEXIST. attachTc() replaces a tc filter running
  // xfp_tc_out at our handle/priority atomically (BPF_TC_F_REPLACE); one running another program is
  // EEXIST.
  [[nodiscard]] BpfResult<void> attachXdp(int ifindex, uint32_t mode = 0);
  [[nodiscard]] BpfResult<void> attachTc(int ifindex);
  // For a load()ed FastPath, e.g. after adopt() failed with ESTALE: attachXdp()/attachTc() take
  // over what an earlier FastPath left attached under pinDir, as after adopt(). The policy maps
  // are new, so commit() before attaching: the interfaces then switch from the old program and
  // policy to the new ones without running unfiltered.
  void takeOverAttachments(const std::string& pinDir);
  // Removes this object's tc filters and detaches its XDP links, pinned or not, before
  // returning (the pins themselves stay until unpinAll()). The destructor only closes: a pinned
  // link stays attached.
  void detachAll();
  // Forgets every attachment without undoing any: tc filters stay in the kernel, pinned XDP
  // links stay attached (an unpinned link detaches: pin() first). What a service does before
  // exiting for a restart, so the next instance can adopt() without a gap.
  void leaveAttached();

  // Pins maps, programs and XDP links under dir/maps, dir/progs and dir/links (bpffs names: the
  // kernel object names; links: xfp_xdp_in_if<ifindex>); a pinned link keeps the program
  // attached after this process exits. Existing pins of the same objects are kept, pins of other
  // maps or programs (an earlier generation's) replaced; a pin of another live link is EEXIST.
  // unpinAll() removes what pin() created or re-pinned and, after adopt(), the adopted pins and
  // any links it took over (links of interfaces never attached again stay pinned).
  [[nodiscard]] BpfResult<void> pin(const std::string& dir);
  void unpinAll();

  // Hits of a filter (summed over CPUs) since it entered the policy.
  [[nodiscard]] BpfResult<FilterCounters> counters(uint64_t filterId) const;
  // Per-CPU-summed verdict statistics of one layer slot.
  [[nodiscard]] BpfResult<xfp_layer_stats> layerStats(uint32_t layerSlot) const;
  // Marks a callout live (its filters punt) or not (they use the unregistered fallback); bumps
  // the generation so no flow-cache entry outlives the change.
  [[nodiscard]] BpfResult<void> setCalloutLive(uint32_t calloutId, bool live);

  // Switches the flow cache on (default) or off (every packet walks the compiled trees).
  [[nodiscard]] BpfResult<void> setFlowCache(bool enabled);

  // Net events (ring buffer xfp_events, read with NetEventReader, which also gives each CPU its
  // budget): one per dropped packet and per permitted one; both off until switched on (the
  // service switches drop events on at start).
  [[nodiscard]] BpfResult<void> setNetEvents(bool drops, bool allows);
  [[nodiscard]] BpfResult<NetEventCounts> netEventCounts() const;

  [[nodiscard]] int xdpProgFd() const;
  [[nodiscard]] int tcProgFd() const;
  // xfp_tc_inject: delivers the callout runtime's inbound injections (punt_io.h, InjectPort).
  [[nodiscard]] int tcInjectProgFd() const;
  [[nodiscard]] int mapFd(const char* name) const;  // e.g. "xfp_scratch" (of the XDP object)
  [[nodiscard]] int tcMapFd(const char* name) const;
  [[nodiscard]] uint64_t generation() const;

 private:
  struct Impl;
  explicit FastPath(std::unique_ptr<Impl> impl);
  // load() (adoptFrom null) and adopt().
  [[nodiscard]] static BpfResult<std::unique_ptr<FastPath>> create(const FastPathOptions& options,
                                                                   const std::string* adoptFrom);
  std::unique_ptr<Impl> impl_;
};

}  // namespace xfp::dataplane
