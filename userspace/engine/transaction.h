// A transaction of the engine (wfp-model.md §7.2): the policy a session's calls read and change
// until commit or abort. Read-only transactions read the committed policy of their start (an
// immutable snapshot, no lock); read/write transactions hold the engine's write lock and change
// a private working copy (Policy::snapshot()) that only their session sees. Commit publishes the
// copy; abort drops it. An implicit transaction wraps one call made outside begin/commit.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "userspace/core/objects.h"
#include "userspace/core/policy.h"
#include "userspace/engine/subscriptions.h"

namespace xfp::engine {

constexpr uint32_t kTxnReadOnly = 0x1;  // FWPM_TXN_READ_ONLY

class Transaction {
 public:
  // A read-only transaction over `base`.
  explicit Transaction(std::shared_ptr<const Policy> base)
      : readOnly_(true), implicit_(false), base_(std::move(base)) {}
  // A read/write transaction changing `working`, a copy of `base`.
  Transaction(std::shared_ptr<const Policy> base, std::unique_ptr<Policy> working, bool implicit)
      : readOnly_(false),
        implicit_(implicit),
        base_(std::move(base)),
        working_(std::move(working)) {}

  [[nodiscard]] bool readOnly() const { return readOnly_; }
  [[nodiscard]] bool implicit() const { return implicit_; }
  // What calls in this transaction read: the working copy, or the snapshot of a read-only one.
  [[nodiscard]] const Policy& view() const { return working_ ? *working_ : *base_; }
  [[nodiscard]] const Policy& base() const { return *base_; }
  Policy& working() { return *working_; }
  std::unique_ptr<Policy> takeWorking() { return std::move(working_); }

  // Bookkeeping of successful writes.
  void recordWrite(bool persistent) {
    changed_ = true;
    persistentChanged_ = persistentChanged_ || persistent;
  }
  void recordFilterAdd(const Filter& f) {
    recordWrite(f.origin.lifetime == Lifetime::Persistent);
    filterChanges_.emplace_back(ChangeType::Add, f);
    added_.insert(f.filterId);
  }
  void recordFilterDelete(const Filter& f) {
    recordWrite(f.origin.lifetime == Lifetime::Persistent);
    filterChanges_.emplace_back(ChangeType::Delete, f);
    deleted_.insert(f.filterId);
  }
  [[nodiscard]] bool changed() const { return changed_; }
  [[nodiscard]] bool persistentChanged() const { return persistentChanged_; }

  // The filter changes this transaction commits, in call order: an added filter that the
  // transaction deleted again, and its delete, cancel out (ids are never reused).
  [[nodiscard]] std::vector<std::pair<ChangeType, const Filter*>> netFilterChanges() const {
    std::vector<std::pair<ChangeType, const Filter*>> out;
    for (const auto& [type, f] : filterChanges_) {
      const bool transient = added_.contains(f.filterId) && deleted_.contains(f.filterId);
      if (!transient) {
        out.emplace_back(type, &f);
      }
    }
    return out;
  }

  // Filters this transaction added and did not delete again (what an abort must take back).
  [[nodiscard]] std::vector<uint64_t> netAddedFilterIds() const {
    std::vector<uint64_t> out;
    for (uint64_t id : added_) {
      if (!deleted_.contains(id)) {
        out.push_back(id);
      }
    }
    return out;
  }

  // The write lock's hold limit (explicit read/write transactions only).
  std::chrono::steady_clock::time_point lockDeadline = std::chrono::steady_clock::time_point::max();

 private:
  bool readOnly_;
  bool implicit_;
  std::shared_ptr<const Policy> base_;
  std::unique_ptr<Policy> working_;
  std::vector<std::pair<ChangeType, Filter>> filterChanges_;
  std::set<uint64_t> added_;
  std::set<uint64_t> deleted_;
  bool changed_ = false;
  bool persistentChanged_ = false;
};

}  // namespace xfp::engine
