// The compiled fast path (walked by compiled_eval, the C++ twin of the BPF walk) against the
// reference classifier, on random policies and random frames: every layer verdict and deciding
// filter must agree. A disagreement prints the seed, the policy and the packet.
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "compiler/compiled_eval.h"
#include "compiler/compiler.h"
#include "compiler/fast_path_fields.h"
#include "tests/harness/random_policy.h"
#include "userspace/core/packet/packet_parse.h"

namespace xfp {
namespace {

// Compares one packet at every layer it reaches; returns false (after reporting) on mismatch.
bool agreeOnFrame(const Policy& policy,
                  const compiler::CompiledPolicy& compiled,
                  const test::RandomFrame& rf,
                  const std::string& policyLog,
                  uint64_t seed) {
  NoCallouts none;
  const xfp_pkt pkt = packet::parse(rf.frame);
  const xfp_key key = fastpath::buildKey(pkt, rf.meta);
  for (int ls : fastpath::layersFor(pkt, rf.meta.direction)) {
    if ((ls >= XFP_LS_OUT_MAC) != (rf.meta.direction == fastpath::Direction::Outbound)) {
      ADD_FAILURE() << "layersFor gave layer slot " << ls << " for the other direction";
      return false;
    }
    auto ref = classify(policy, fastpath::incomingValues(ls, pkt, rf.meta), {}, none);
    if (!ref) {
      ADD_FAILURE() << ref.error().message;
      return false;
    }
    const xfp_result fast = compiler::evaluate(compiled, ls, key);
    const ActionType fastAction = compiler::verdictAction(fast.verdict);
    const uint64_t fastFilter =
        (fast.verdict == XFP_VERDICT_PERMIT || fast.verdict == XFP_VERDICT_BLOCK)
            ? compiled.filters.at(fast.filter).filter_id
            : 0;
    if (fastAction != ref->action || fastFilter != ref->filterId) {
      ADD_FAILURE() << "seed " << seed << " layer slot " << ls << ": reference "
                    << actionTypeName(ref->action) << " by filter " << ref->filterId
                    << ", compiled " << actionTypeName(fastAction) << " by filter " << fastFilter
                    << "\npacket: " << rf.description << " " << packet::describe(pkt) << "\n"
                    << packet::hexDump(rf.frame) << "policy:\n"
                    << policyLog;
      return false;
    }
  }
  return true;
}

void runDifferential(uint64_t firstSeed,
                     int sets,
                     const test::RandomPolicyOptions& options,
                     int framesPerSet) {
  for (int s = 0; s < sets; ++s) {
    const uint64_t seed = firstSeed + static_cast<uint64_t>(s);
    std::mt19937_64 rng(seed);
    std::string log;
    Policy policy = test::randomPolicy(rng, options, &log);
    auto compiled = compiler::compile(policy);
    ASSERT_TRUE(compiled.has_value()) << "seed " << seed << ": " << compiled.error().message << "\n"
                                      << log;
    for (int i = 0; i < framesPerSet; ++i) {
      if (!agreeOnFrame(policy, *compiled, test::randomFrame(rng), log, seed)) {
        return;
      }
    }
  }
}

TEST(CompilerDifferential, SmallRandomPolicies) {
  test::RandomPolicyOptions o;
  o.filters = 12;
  runDifferential(1000, 2000, o, 100);
}

TEST(CompilerDifferential, MediumRandomPolicies) {
  test::RandomPolicyOptions o;
  o.filters = 150;
  o.sublayers = 4;
  runDifferential(5000, 60, o, 400);
}

TEST(CompilerDifferential, LargeRandomPolicies) {
  test::RandomPolicyOptions o;
  o.filters = 2000;
  o.sublayers = 4;
  o.maxConditions = 5;
  runDifferential(9000, 4, o, 3000);
}

TEST(CompilerDifferential, StaticFiltersOnlyDeepTrees) {
  test::RandomPolicyOptions o;
  o.filters = 800;
  o.callouts = false;
  o.sublayers = 1;
  o.layerSlots = {XFP_LS_IN_TR4, XFP_LS_IN_TR6};
  runDifferential(12000, 6, o, 3000);
}

TEST(CompilerDifferential, IsDeterministic) {
  std::mt19937_64 rng(77);
  test::RandomPolicyOptions o;
  o.filters = 300;
  Policy policy = test::randomPolicy(rng, o, nullptr);
  auto a = compiler::compile(policy);
  auto b = compiler::compile(policy);
  ASSERT_TRUE(a && b);
  ASSERT_EQ(a->nodes.size(), b->nodes.size());
  ASSERT_EQ(a->cands, b->cands);
  ASSERT_EQ(a->boxes.size(), b->boxes.size());
  EXPECT_EQ(0, std::memcmp(a->nodes.data(), b->nodes.data(), a->nodes.size() * sizeof(xfp_node)));
  EXPECT_EQ(0, std::memcmp(a->boxes.data(), b->boxes.data(), a->boxes.size() * sizeof(xfp_box)));
}

}  // namespace
}  // namespace xfp
