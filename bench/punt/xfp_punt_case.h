// xfp's punt path as rows of xfp_bench_punt: xfp's XDP program on namespace A's veth end punts
// the generated datagrams to a callout in this process over AF_XDP; the callout's classifyFn
// permits, and the runtime re-injects the packets into A's stack (through its injection veth),
// where the benchmark's UDP receiver counts them. A second kind of row measures pend -> complete:
// every probe opens a new UDP flow, classified at ALE_AUTH_RECV_ACCEPT_V4 by a callout that pends
// it (FwpsPendClassify0) and completes it from another thread.
#pragma once

#include <optional>

#include "bench/punt/punt_harness.h"

namespace xfp::bench::punt {

// Throughput + idle latency of punt -> trivial classifyFn (PERMIT) -> reinjection, with the
// runtime's classify on `workers` threads (0: on its I/O thread).
std::optional<CaseResult> runXfpPuntCase(const PuntEnv& env, unsigned workers = 0);

// Latency of the first datagram of new flows whose ALE classify is pended and completed from
// another thread (pend = true), or answered inline by the same callout (pend = false).
std::optional<CaseResult> runXfpPendCase(const PuntEnv& env, bool pend);

}  // namespace xfp::bench::punt
