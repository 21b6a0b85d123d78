// xfp's punt path as a row of xfp_bench_punt: xfp's XDP program on namespace A's veth end punts
// the generated datagrams to a user-space callout over AF_XDP, which gives a verdict and
// re-injects the permitted packets into A's stack, where the benchmark's UDP receiver counts them.
#pragma once

#include <optional>

#include "bench/punt/punt_harness.h"

namespace xfp::bench::punt {

// Sets up xfp's punt path on env.linkA (in env.nsA), runs measureThroughput(env) and
// measureLatency(env), and tears everything down again (no program left attached). nullopt: the
// punt path is not built yet (the table says so).
std::optional<CaseResult> runXfpPuntCase(const PuntEnv& env);

}  // namespace xfp::bench::punt
