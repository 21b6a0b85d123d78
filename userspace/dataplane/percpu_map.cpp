#include "userspace/dataplane/percpu_map.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <string>

namespace xfp::dataplane {

BpfResult<int> possibleCpus() {
  const int n = libbpf_num_possible_cpus();
  if (n <= 0) {
    return bpfFailure(n, "count possible CPUs");
  }
  return n;
}

BpfResult<std::vector<std::uint8_t>> lookupPerCpuRaw(int mapFd,
                                                     const void* key,
                                                     std::size_t valueSize) {
  auto cpus = possibleCpus();
  if (!cpus) {
    return tl::unexpected(cpus.error());
  }
  const std::size_t stride = (valueSize + 7) / 8 * 8;
  std::vector<std::uint8_t> buf(stride * static_cast<std::size_t>(*cpus));
  const int err = bpf_map_lookup_elem(mapFd, key, buf.data());
  if (err != 0) {
    return bpfFailure(err, "lookup per-CPU map fd " + std::to_string(mapFd));
  }
  return buf;
}

}  // namespace xfp::dataplane
