// The real XDP program on ClassBench (wustl-hs1) rule sets: every TCP/UDP trace packet, as a
// real frame through BPF_PROG_TEST_RUN, must be decided at INBOUND_TRANSPORT_V4 by its oracle
// rule (the trace's first match) with that rule's action, with the flow cache off (the trees
// decide) and then on (the cache answers). Trace lines of other protocols carry ports that the
// protocol's real packets do not have; the unit tier covers them with synthetic keys.
#include <sched.h>

#include <linux/bpf.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "compiler/compiler.h"
#include "tests/harness/classbench.h"
#include "tests/harness/packet_builder.h"
#include "tests/harness/test_env.h"
#include "userspace/dataplane/fast_path.h"
#include "userspace/dataplane/percpu_map.h"
#include "userspace/dataplane/prog_test_run.h"

namespace xfp {
namespace {

class ClassBenchBpf : public testing::TestWithParam<const char*> {};

TEST_P(ClassBenchBpf, EveryTcpUdpTracePacketIsDecidedByItsRule) {
  XFP_REQUIRE_ROOT();
  const std::string dir = test::classbenchDir() + "/wustl-hs1";
  if (!std::filesystem::exists(dir)) {
    XFP_SKIP_OR_FAIL("ClassBench data not found at " + dir + " (set XFP_CLASSBENCH_DIR)");
  }
  const std::string name = GetParam();
  std::string error;
  auto set = test::loadWustlSet(dir, name, &error);
  ASSERT_TRUE(set) << error;
  const Policy& policy = set->policy;
  const std::vector<uint64_t>& ids = set->ids;
  const std::vector<test::ClassBenchPacket>* trace = &set->trace;
  auto compiled = compiler::compile(policy);
  ASSERT_TRUE(compiled) << compiled.error().message;

  const int cpu = test::pinToCurrentCpu();
  dataplane::FastPathOptions caps;
  caps.nodes = 1u << 17;
  caps.cands = 1u << 18;
  caps.boxes = 1u << 15;
  caps.filters = 1u << 15;
  auto fp = dataplane::FastPath::load(caps);
  ASSERT_TRUE(fp) << fp.error().describe();
  ASSERT_TRUE((*fp)->commit(*compiled));

  size_t checked = 0;
  for (bool cache : {false, true}) {
    ASSERT_TRUE((*fp)->setFlowCache(cache));
    for (const test::ClassBenchPacket& p : *trace) {
      if (p.proto != 6 && p.proto != 17) {
        continue;
      }
      auto run = dataplane::progTestRun((*fp)->xdpProgFd(),
                                        test::ipv4Frame(p.src, p.dst, p.proto, p.sport, p.dport));
      ASSERT_TRUE(run) << run.error().describe();
      const uint32_t zero = 0;
      auto sc = dataplane::lookupPerCpu<xfp_scratch>((*fp)->mapFd("xfp_scratch"), zero);
      ASSERT_TRUE(sc) << sc.error().describe();
      const xfp_result& r = sc->at(static_cast<size_t>(cpu)).res[XFP_LS_IN_TR4];
      const uint64_t want = ids.at(static_cast<size_t>(p.expected));
      const uint64_t got =
          r.filter < compiled->filters.size() ? compiled->filters[r.filter].filter_id : 0;
      const bool block = p.expected % 2 == 0;
      ASSERT_EQ(got, want) << name << (cache ? " (flow cache on)" : "") << ": packet " << checked
                           << " " << p.src << " " << p.dst << " " << p.sport << " " << p.dport
                           << " " << int{p.proto};
      ASSERT_EQ(run->retval, block ? XDP_DROP : XDP_PASS);
      ++checked;
    }
  }
  EXPECT_GT(checked, trace->size());  // most lines are TCP/UDP, each checked twice
  auto hits = (*fp)->layerStats(XFP_LS_IN_TR4);
  ASSERT_TRUE(hits);
  EXPECT_GT(hits->cache_hits, 0u);
}

INSTANTIATE_TEST_SUITE_P(WustlHs1,
                         ClassBenchBpf,
                         testing::Values("acl1",
                                         "acl1_1K",
                                         "acl1_10K",
                                         "fw1",
                                         "fw1_1K",
                                         "fw1_5K",
                                         "fw1_10K",
                                         "ipc1",
                                         "ipc1_1K",
                                         "ipc1_10K"));

}  // namespace
}  // namespace xfp
