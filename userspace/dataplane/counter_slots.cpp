#include "userspace/dataplane/counter_slots.h"

#include <limits>
#include <unordered_set>

namespace xfp::dataplane {

uint32_t CounterSlots::slotFor(uint64_t filterId) {
  auto it = byFilter_.find(filterId);
  if (it != byFilter_.end()) {
    return it->second;
  }
  uint32_t slot = std::numeric_limits<uint32_t>::max();
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else if (next_ < capacity_) {
    slot = next_++;
  } else {
    return slot;
  }
  byFilter_.emplace(filterId, slot);
  return slot;
}

uint32_t CounterSlots::find(uint64_t filterId) const {
  auto it = byFilter_.find(filterId);
  return it == byFilter_.end() ? std::numeric_limits<uint32_t>::max() : it->second;
}

std::vector<uint32_t> CounterSlots::retainOnly(const std::vector<uint64_t>& live) {
  const std::unordered_set<uint64_t> keep(live.begin(), live.end());
  std::vector<uint32_t> released;
  for (auto it = byFilter_.begin(); it != byFilter_.end();) {
    if (!keep.contains(it->first)) {
      released.push_back(it->second);
      it = byFilter_.erase(it);
    } else {
      ++it;
    }
  }
  return released;
}

std::vector<uint32_t> CounterSlots::restore(
    const std::vector<std::pair<uint64_t, uint32_t>>& live) {
  byFilter_.clear();
  free_.clear();
  std::vector<bool> used(capacity_, false);
  std::vector<uint32_t> orphans;
  for (const auto& [filterId, slot] : live) {
    if (slot >= capacity_) {
      continue;
    }
    const bool slotTaken = used[slot];
    used[slot] = true;
    auto it = byFilter_.find(filterId);
    if (it != byFilter_.end()) {
      if (it->second != slot && !slotTaken) {
        orphans.push_back(slot);
      }
      continue;
    }
    if (!slotTaken) {
      byFilter_.emplace(filterId, slot);
    }
  }
  // Lowest slots first: slotFor() takes free slots from the back.
  for (uint32_t slot = capacity_; slot-- > 0;) {
    if (!used[slot]) {
      free_.push_back(slot);
    }
  }
  next_ = capacity_;
  return orphans;
}

void CounterSlots::recycle(const std::vector<uint32_t>& slots) {
  free_.insert(free_.end(), slots.begin(), slots.end());
}

}  // namespace xfp::dataplane
