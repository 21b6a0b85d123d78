// One-block allocation of what the Fwpm* functions return: a struct (or an array of pointers to
// structs) and everything it points to laid out in ONE malloc'ed block, so that
// FwpmFreeMemory0 is a plain free().
//
// A block is built by a fill function run twice over a BlockArena: first counting (every
// allocation gets its own scratch memory, so the fill may write through what it gets), then
// for real into a block of exactly the counted size. The fill must make the same allocations
// in the same order both times, which a function of its inputs does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <vector>

namespace xfp::client {

class BlockArena {
 public:
  // Counting arena.
  BlockArena() = default;
  // Writing arena over `size` zeroed bytes at `base` (16-byte aligned, as malloc's).
  BlockArena(void* base, size_t size) : base_(static_cast<unsigned char*>(base)), capacity_(size) {}
  BlockArena(const BlockArena&) = delete;
  BlockArena& operator=(const BlockArena&) = delete;

  // `size` zeroed bytes at `align` (a power of two, at most 16) relative to the block start.
  void* allocate(size_t size, size_t align) {
    const size_t offset = (used_ + align - 1) & ~(align - 1);
    used_ = offset + size;
    if (base_ == nullptr) {
      // Counting: scratch memory of its own, zeroed like the block's.
      scratch_.push_back(std::make_unique<unsigned char[]>(size == 0 ? 1 : size));
      std::memset(scratch_.back().get(), 0, size == 0 ? 1 : size);
      return scratch_.back().get();
    }
    if (used_ > capacity_) {
      std::abort();  // the fill was not deterministic: a bug, never data-dependent at run time
    }
    return base_ + offset;
  }

  template <class T>
  T* make() {
    static_assert(std::is_trivially_copyable_v<T> && alignof(T) <= 16);
    return static_cast<T*>(allocate(sizeof(T), alignof(T)));
  }
  template <class T>
  T* array(size_t n) {
    static_assert(std::is_trivially_copyable_v<T> && alignof(T) <= 16);
    return n == 0 ? nullptr : static_cast<T*>(allocate(sizeof(T) * n, alignof(T)));
  }
  template <class T>
  T* copy(const T& value) {
    T* p = make<T>();
    std::memcpy(static_cast<void*>(p), &value, sizeof(T));
    return p;
  }
  // `n` bytes copied in; NULL for none.
  uint8_t* bytes(const void* data, size_t n) {
    if (n == 0) {
      return nullptr;
    }
    auto* p = static_cast<uint8_t*>(allocate(n, 1));
    std::memcpy(p, data, n);
    return p;
  }

  [[nodiscard]] size_t used() const { return used_; }

 private:
  unsigned char* base_ = nullptr;
  size_t capacity_ = 0;
  size_t used_ = 0;
  std::vector<std::unique_ptr<unsigned char[]>> scratch_;
};

// Runs `fill(arena)` (returning the root pointer) counting, then into one calloc'ed block.
// Returns the root (the block's start: the root must be the first allocation), or nullptr when
// memory is exhausted.
template <class Fill>
auto buildBlock(Fill&& fill) -> decltype(fill(std::declval<BlockArena&>())) {
  size_t size = 0;
  {
    BlockArena counter;
    (void)fill(counter);
    size = counter.used();
  }
  void* block = std::calloc(1, size == 0 ? 1 : size);
  if (block == nullptr) {
    return nullptr;
  }
  BlockArena writer(block, size);
  auto* root = fill(writer);
  if (static_cast<void*>(root) != block) {
    std::abort();  // the root was not allocated first
  }
  return root;
}

}  // namespace xfp::client
