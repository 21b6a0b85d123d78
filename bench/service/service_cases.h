// The three sections of xfp_bench_service (bench/README.md, "Service"): commit latency through
// the FWPM C API beside nftables, restart-to-enforcing, net events per second. Each prints its
// own Markdown table to stdout; progress goes to stderr.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace xfp::bench::service {

struct Settings {
  bool quick = false;
  std::string only;  // "", "commit", "restart" or "events"
  std::string xfpd;  // the xfpd binary
  std::string classbenchDir;
  std::vector<uint32_t> sizes;          // commit: random 5-tuple base sizes (empty: by mode)
  std::vector<std::string> classbench;  // commit: wustl-hs1 sets (empty: by mode; "none")
  int reps = 0;                         // commit: single-add repetitions (0: by size)
  int restartReps = 5;
  uint32_t restartFilters = 10000;
  uint32_t events = 200000;    // datagrams in the net-event burst
  uint32_t eventRate = 50000;  // datagrams per second offered
  int eventSenders = 4;
};

// Each returns 0, or 1 when the section could not run (its reason on stderr and in the output).
int runCommitSection(const Settings& s);
int runRestartSection(const Settings& s);
int runEventsSection(const Settings& s);

// Markdown number formatting shared by the sections.
std::string fixed(double v, int decimals);

}  // namespace xfp::bench::service
