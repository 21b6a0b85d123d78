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
  ~FastPath();
  FastPath(const FastPath&) = delete;
  FastPath& operator=(const FastPath&) = delete;

  // Publishes a compiled policy atomically (see the note at the top of this header).
  [[nodiscard]] BpfResult<CommitStats> commit(const compiler::CompiledPolicy& policy);

  // Attaches the XDP program to `ifindex` (inbound layers) / the tc program to its egress
  // (outbound layers). Attachments are undone by detachAll() and by the destructor.
  [[nodiscard]] BpfResult<void> attachXdp(int ifindex, uint32_t mode = 0);
  [[nodiscard]] BpfResult<void> attachTc(int ifindex);
  void detachAll();

  // Pins maps, programs and XDP links under dir/maps, dir/progs and dir/links (bpffs names: the
  // kernel object names; links: xfp_xdp_in_if<ifindex>); a pinned link keeps the program
  // attached after this process exits. unpinAll() removes what pin() created.
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
  std::unique_ptr<Impl> impl_;
};

}  // namespace xfp::dataplane
