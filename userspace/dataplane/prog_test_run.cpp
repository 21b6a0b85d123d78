#include "userspace/dataplane/prog_test_run.h"

#include <bpf/bpf.h>

#include <string>

namespace xfp::dataplane {

BpfResult<TestRunResult> progTestRun(int progFd,
                                     std::span<const std::uint8_t> data,
                                     const TestRunOptions& options) {
  TestRunResult result;
  result.dataOut.resize(data.size() + options.dataOutHeadroom);
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = data.data();
  opts.data_size_in = static_cast<std::uint32_t>(data.size());
  opts.data_out = result.dataOut.data();
  opts.data_size_out = static_cast<std::uint32_t>(result.dataOut.size());
  opts.repeat = options.repeat;
  const int err = bpf_prog_test_run_opts(progFd, &opts);
  if (err != 0) {
    return bpfFailure(err,
                      "test run prog fd " + std::to_string(progFd) + " on " +
                          std::to_string(data.size()) + " bytes");
  }
  result.retval = opts.retval;
  result.durationNs = opts.duration;
  result.dataOut.resize(opts.data_size_out);
  return result;
}

}  // namespace xfp::dataplane
