// BPF_PROG_TEST_RUN (bpf_prog_test_run_opts) for XDP and tc programs: run a loaded program on a
// frame and get its return value, the output frame and the kernel-measured time per run.
// XDP and tc need at least 14 bytes (ETH_HLEN) of data.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "userspace/dataplane/bpf_error.h"

namespace xfp::dataplane {

struct TestRunOptions {
  std::uint32_t repeat = 1;           // runs in the kernel (timing); the map sees every run
  std::size_t dataOutHeadroom = 256;  // room beyond the input size for the output frame
};

struct TestRunResult {
  std::uint32_t retval = 0;           // XDP_* / TC_ACT_*
  std::uint32_t durationNs = 0;       // mean time per run, as measured by the kernel
  std::vector<std::uint8_t> dataOut;  // the frame after the program
};

[[nodiscard]] BpfResult<TestRunResult> progTestRun(int progFd,
                                                   std::span<const std::uint8_t> data,
                                                   const TestRunOptions& options = {});

}  // namespace xfp::dataplane
