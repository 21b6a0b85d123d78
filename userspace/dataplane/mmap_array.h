// MmapArray<T>: a BPF_F_MMAPABLE array map seen as memory. Policy commits write compiled images
// with memcpy instead of one bpf() call per element; the BPF side reads the same pages.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "userspace/dataplane/bpf_error.h"

namespace xfp::dataplane {

template <class T>
class MmapArray {
 public:
  MmapArray() = default;
  // Maps `entries` values of the array map `fd` read-write.
  [[nodiscard]] static BpfResult<MmapArray> map(int fd, std::size_t entries, std::string name) {
    const std::size_t bytes = roundUp(entries * sizeof(T));
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      return bpfFailure(-1, "mmap " + name);
    }
    return MmapArray(static_cast<T*>(p), entries, bytes);
  }

  MmapArray(MmapArray&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)),
        entries_(std::exchange(o.entries_, 0)),
        bytes_(std::exchange(o.bytes_, 0)) {}
  MmapArray& operator=(MmapArray&& o) noexcept {
    if (this != &o) {
      unmap();
      data_ = std::exchange(o.data_, nullptr);
      entries_ = std::exchange(o.entries_, 0);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  MmapArray(const MmapArray&) = delete;
  MmapArray& operator=(const MmapArray&) = delete;
  ~MmapArray() { unmap(); }

  [[nodiscard]] T* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return entries_; }
  T& operator[](std::size_t i) const noexcept { return data_[i]; }

 private:
  MmapArray(T* data, std::size_t entries, std::size_t bytes)
      : data_(data), entries_(entries), bytes_(bytes) {}
  static std::size_t roundUp(std::size_t n) {
    constexpr std::size_t kPage = 4096;
    return (n + kPage - 1) / kPage * kPage;
  }
  void unmap() noexcept {
    if (data_ != nullptr) {
      ::munmap(data_, bytes_);
      data_ = nullptr;
    }
  }

  T* data_ = nullptr;
  std::size_t entries_ = 0;
  std::size_t bytes_ = 0;
};

}  // namespace xfp::dataplane
