// The real xfp_xdp_in / xfp_tc_out programs with compiled maps (BPF_PROG_TEST_RUN), against the
// reference classifier: random policies of 1 to 5000 filters over every fast-path field and match
// type, several sublayers and weight kinds, with random and malformed frames. Every layer's
// verdict and deciding filter, the key words and the program's return value must agree; each
// frame runs twice so the second answer comes from the flow cache. A disagreement prints the
// seed, the policy and the frame.
#include <sched.h>

#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "compiler/compiled_eval.h"
#include "compiler/compiler.h"
#include "compiler/fast_path_fields.h"
#include "tests/harness/random_policy.h"
#include "tests/harness/test_env.h"
#include "userspace/core/classifier.h"
#include "userspace/core/packet/packet_parse.h"
#include "userspace/dataplane/fast_path.h"
#include "userspace/dataplane/percpu_map.h"
#include "userspace/dataplane/prog_test_run.h"

namespace xfp {
namespace {

using dataplane::FastPath;

// The skb test run refuses IP frames shorter than their IP header before the program runs.
bool skbTestRunRefuses(const test::Bytes& frame) {
  const unsigned type = (frame[12] << 8) | frame[13];
  return (type == 0x0800 && frame.size() < 14 + 20) || (type == 0x86DD && frame.size() < 14 + 40);
}

class FastPathDifferential : public testing::Test {
 protected:
  void SetUp() override {
    XFP_REQUIRE_ROOT();
    cpu_ = test::pinToCurrentCpu();
    dataplane::FastPathOptions caps;
    caps.nodes = 1u << 18;
    caps.cands = 1u << 20;
    caps.boxes = 1u << 16;
    caps.filters = 1u << 16;
    auto fp = FastPath::load(caps);
    ASSERT_TRUE(fp) << fp.error().describe();
    fp_ = std::move(*fp);
  }

  // Runs one frame; "" when the program agrees with the reference at every layer.
  std::string check(const Policy& policy,
                    const compiler::CompiledPolicy& compiled,
                    const test::RandomFrame& rf) {
    const bool inbound = rf.meta.direction == fastpath::Direction::Inbound;
    auto run = dataplane::progTestRun(inbound ? fp_->xdpProgFd() : fp_->tcProgFd(), rf.frame);
    if (!run) {
      if (!inbound && run.error().errnoValue == EINVAL && skbTestRunRefuses(rf.frame)) {
        return {};  // the kernel never ran the program
      }
      return run.error().describe();
    }
    const uint32_t key0 = 0;
    auto scratch = dataplane::lookupPerCpu<xfp_scratch>(
        inbound ? fp_->mapFd("xfp_scratch") : fp_->tcMapFd("xfp_scratch"), key0);
    if (!scratch) {
      return scratch.error().describe();
    }
    const xfp_scratch& sc = scratch->at(static_cast<size_t>(cpu_));
    const xfp_pkt pkt = packet::parse(rf.frame);
    const xfp_key want = fastpath::buildKey(pkt, rf.meta);
    if (std::memcmp(&sc.key, &want, sizeof want) != 0) {
      std::string diff;
      for (int i = 0; i < XFP_SLOT_COUNT; ++i) {
        if (sc.key.w[i] != want.w[i]) {
          diff += " w[" + std::to_string(i) + "] bpf " + std::to_string(sc.key.w[i]) + " ref " +
                  std::to_string(want.w[i]);
        }
      }
      return "key words differ:" + diff;
    }
    NoCallouts none;
    bool blocked = false;
    uint32_t expectedMask = 0;
    for (int ls : fastpath::layersFor(pkt, rf.meta.direction)) {
      expectedMask |= 1u << ls;
      auto ref = classify(policy, fastpath::incomingValues(ls, pkt, rf.meta), {}, none);
      if (!ref) {
        return ref.error().message;
      }
      const xfp_result& got = sc.res[ls];
      const ActionType gotAction = compiler::verdictAction(got.verdict);
      const uint64_t gotFilter =
          (got.verdict == XFP_VERDICT_PERMIT || got.verdict == XFP_VERDICT_BLOCK) &&
                  got.filter < compiled.filters.size()
              ? compiled.filters[got.filter].filter_id
              : 0;
      if (gotAction != ref->action || gotFilter != ref->filterId) {
        return "layer slot " + std::to_string(ls) + ": reference " +
               std::string(actionTypeName(ref->action)) + " by filter " +
               std::to_string(ref->filterId) + ", BPF " + std::string(actionTypeName(gotAction)) +
               " by filter " + std::to_string(gotFilter);
      }
      if (ref->action == ActionType::Block) {
        blocked = true;
        break;  // a block at any layer drops: later layers are not classified
      }
    }
    if (sc.evaluated != expectedMask) {
      return "classified layers " + std::to_string(sc.evaluated) + ", expected " +
             std::to_string(expectedMask);
    }
    const uint32_t wantRet =
        inbound ? (blocked ? XDP_DROP : XDP_PASS) : (blocked ? TC_ACT_SHOT : TC_ACT_OK);
    if (run->retval != wantRet) {
      return "program returned " + std::to_string(run->retval) + ", expected " +
             std::to_string(wantRet);
    }
    return {};
  }

  void runSets(uint64_t firstSeed, int sets, const test::RandomPolicyOptions& options, int frames) {
    for (int s = 0; s < sets; ++s) {
      const uint64_t seed = firstSeed + static_cast<uint64_t>(s);
      std::mt19937_64 rng(seed);
      std::string log;
      Policy policy = test::randomPolicy(rng, options, &log);
      auto compiled = compiler::compile(policy);
      ASSERT_TRUE(compiled) << "seed " << seed << ": " << compiled.error().message;
      auto commit = fp_->commit(*compiled);
      ASSERT_TRUE(commit) << commit.error().describe();
      for (int i = 0; i < frames; ++i) {
        test::RandomFrame rf = test::randomFrame(rng);
        rf.meta.ifindex = 1;                    // test runs see the loopback device (ifindex 1)
        for (int pass = 0; pass < 2; ++pass) {  // the second pass may hit the flow cache
          const std::string err = check(policy, *compiled, rf);
          if (!err.empty()) {
            const xfp_pkt pkt = packet::parse(rf.frame);
            FAIL() << "seed " << seed << " frame " << i << " pass " << pass << ": " << err
                   << "\npacket: " << rf.description << " " << packet::describe(pkt) << "\n"
                   << packet::hexDump(rf.frame) << "policy:\n"
                   << log;
          }
        }
      }
      ++setsRun_;
    }
  }

  int cpu_ = 0;
  int setsRun_ = 0;
  std::unique_ptr<FastPath> fp_;
};

TEST_F(FastPathDifferential, OneToFiftyFilters) {
  test::RandomPolicyOptions o;
  for (uint32_t n : {1u, 2u, 5u, 20u, 50u}) {
    o.filters = n;
    runSets(100 + n * 1000, 250, o, 100);
  }
}

TEST_F(FastPathDifferential, HundredsOfFilters) {
  test::RandomPolicyOptions o;
  o.filters = 400;
  o.sublayers = 4;
  runSets(70000, 12, o, 600);
}

TEST_F(FastPathDifferential, FiveThousandFilters) {
  test::RandomPolicyOptions o;
  o.filters = 5000;
  o.sublayers = 4;
  o.maxConditions = 5;
  runSets(90000, 2, o, 3000);
}

TEST_F(FastPathDifferential, EmptyPolicyPermitsEverything) {
  Policy empty;
  auto compiled = compiler::compile(empty);
  ASSERT_TRUE(compiled);
  ASSERT_TRUE(fp_->commit(*compiled));  // no nodes, no boxes: nothing to copy
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200; ++i) {
    test::RandomFrame rf = test::randomFrame(rng);
    rf.meta.ifindex = 1;
    const std::string err = check(empty, *compiled, rf);
    ASSERT_TRUE(err.empty()) << err;
  }
}

TEST_F(FastPathDifferential, PolicySwapsNeverServeStaleCacheEntries) {
  // The same frames under a sequence of policies: every answer must match the current policy,
  // so flow-cache entries of earlier generations must never be served.
  std::mt19937_64 frameRng(4242);
  std::vector<test::RandomFrame> frames;
  for (int i = 0; i < 300; ++i) {
    frames.push_back(test::randomFrame(frameRng));
    frames.back().meta.ifindex = 1;
  }
  test::RandomPolicyOptions o;
  o.filters = 60;
  for (uint64_t seed = 500; seed < 530; ++seed) {
    std::mt19937_64 rng(seed);
    Policy policy = test::randomPolicy(rng, o, nullptr);
    auto compiled = compiler::compile(policy);
    ASSERT_TRUE(compiled);
    ASSERT_TRUE(fp_->commit(*compiled));
    for (const auto& rf : frames) {
      const std::string err = check(policy, *compiled, rf);
      ASSERT_TRUE(err.empty()) << "policy seed " << seed << ": " << err;
    }
  }
  EXPECT_GE(fp_->generation(), 30u);
}

}  // namespace
}  // namespace xfp
