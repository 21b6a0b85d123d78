// Reading per-CPU array/hash values: the kernel returns one value per possible CPU, each slot
// rounded up to 8 bytes. T must be trivially copyable.
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include "userspace/dataplane/bpf_error.h"

namespace xfp::dataplane {

// Number of possible CPUs (the per-CPU value count), or an error.
[[nodiscard]] BpfResult<int> possibleCpus();

// Raw per-CPU lookup: valueSize bytes per CPU, each in an 8-byte aligned slot.
[[nodiscard]] BpfResult<std::vector<std::uint8_t>> lookupPerCpuRaw(int mapFd,
                                                                   const void* key,
                                                                   std::size_t valueSize);

template <class T, class K>
[[nodiscard]] BpfResult<std::vector<T>> lookupPerCpu(int mapFd, const K& key) {
  static_assert(std::is_trivially_copyable_v<T>);
  auto raw = lookupPerCpuRaw(mapFd, &key, sizeof(T));
  if (!raw) {
    return tl::unexpected(raw.error());
  }
  constexpr std::size_t kStride = (sizeof(T) + 7) / 8 * 8;
  std::vector<T> out(raw->size() / kStride);
  for (std::size_t i = 0; i < out.size(); ++i) {
    __builtin_memcpy(&out[i], raw->data() + i * kStride, sizeof(T));
  }
  return out;
}

}  // namespace xfp::dataplane
