// CounterSlots: which xfp_counters slot counts each filter. A filter keeps its slot across
// policy generations (so its hits survive recompiles) and loses it when it leaves the policy;
// a freed slot is zeroed before reuse, only after no packet can still count into it.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

namespace xfp::dataplane {

class CounterSlots {
 public:
  explicit CounterSlots(uint32_t capacity) : capacity_(capacity) {}

  // The slot of `filterId`, allocating one if needed; UINT32_MAX when all are taken.
  uint32_t slotFor(uint64_t filterId);
  // Looks up without allocating; UINT32_MAX if none.
  [[nodiscard]] uint32_t find(uint64_t filterId) const;
  // Releases the slots of filters not in `live`; returns them (the caller zeroes them).
  std::vector<uint32_t> retainOnly(const std::vector<uint64_t>& live);
  // Makes released (and zeroed) slots available again.
  void recycle(const std::vector<uint32_t>& slots);

  // Starts over from a policy that is already live (FastPath::adopt): each (filterId, slot) pair
  // keeps its slot; every other slot is free (the caller has zeroed them). Returns the slots the
  // live policy counts into that no filter keeps (an id seen with two slots, a slot claimed by
  // two ids: corrupt input, never written by commit()), which the caller releases only after its
  // next flip. Pairs with a slot >= capacity are ignored (the kernel cannot count into them).
  std::vector<uint32_t> restore(const std::vector<std::pair<uint64_t, uint32_t>>& live);

 private:
  uint32_t capacity_;
  uint32_t next_ = 0;
  std::unordered_map<uint64_t, uint32_t> byFilter_;
  std::vector<uint32_t> free_;
};

}  // namespace xfp::dataplane
