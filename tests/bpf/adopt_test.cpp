// FastPath::adopt (BPF_PROG_TEST_RUN of the real programs, no interfaces): a FastPath loaded
// against the maps an earlier one pinned continues its generation, its policy (enforced by the
// new program before any commit) and its counters; callout liveness is cleared; pins that do
// not fit this build (capacities, a map's layout), a missing pin tree and a still-running owner
// are refused with ENOENT / ESTALE / EBUSY before anything changes.
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "compiler/compiler.h"
#include "tests/harness/netns.h"
#include "tests/harness/packet_builder.h"
#include "tests/harness/test_env.h"
#include "userspace/core/layers.h"
#include "userspace/dataplane/counter_slots.h"
#include "userspace/dataplane/fast_path.h"
#include "userspace/dataplane/prog_test_run.h"
#include "userspace/dataplane/unique_fd.h"

namespace xfp {
namespace {

using dataplane::FastPath;
using dataplane::FastPathOptions;

Filter blockUdpPort(uint16_t port, const char* name) {
  const LayerInfo& layer = *layerByName("INBOUND_TRANSPORT_V4");
  Filter f;
  f.displayData.name = name;
  f.layerKey = layer.key;
  f.action.type = ActionType::Block;
  f.conditions.push_back(
      {layer.fieldByName("IP_PROTOCOL")->conditionKey, MatchType::Equal, Value::uint8(17)});
  f.conditions.push_back(
      {layer.fieldByName("IP_LOCAL_PORT")->conditionKey, MatchType::Equal, Value::uint16(port)});
  return f;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

FastPathOptions smallCaps() {
  FastPathOptions caps;
  caps.nodes = caps.cands = caps.boxes = caps.filters = 4096;
  return caps;
}

// A private bpffs directory, removed on every exit.
struct PinDir {
  std::string path;
  explicit PinDir(const std::string& tag)
      : path("/sys/fs/bpf/xfp-adopt-bpf-" + std::to_string(::getpid()) + "-" + tag) {}
  ~PinDir() { test::VethNamespaces::run("rm -rf " + path); }
};

// The XDP verdict of one UDP datagram to `port`.
int verdict(const FastPath& fp, uint16_t port) {
  const test::Bytes frame = test::PacketBuilder().eth().ipv4().udp(4000, port).payload(10).build();
  auto run = dataplane::progTestRun(fp.xdpProgFd(), frame);
  EXPECT_TRUE(run) << (run ? "" : run.error().describe());
  return run ? static_cast<int>(run->retval) : -1;
}

uint64_t packets(const FastPath& fp, uint64_t filterId) {
  auto c = fp.counters(filterId);
  EXPECT_TRUE(c) << (c ? "" : c.error().describe());
  return c ? c->packets : UINT64_MAX;
}

void commit(FastPath& fp, const Policy& policy) {
  auto compiled = compiler::compile(policy);
  ASSERT_TRUE(compiled) << compiled.error().message;
  auto r = fp.commit(*compiled);
  ASSERT_TRUE(r) << r.error().describe();
}

// A FastPath with one committed policy, pinned under dir and then dropped (nothing attached).
void pinAndDrop(const Policy& policy, const std::string& dir, const FastPathOptions& caps) {
  auto fp = FastPath::load(caps);
  ASSERT_TRUE(fp) << fp.error().describe();
  commit(**fp, policy);
  auto pinned = (*fp)->pin(dir);
  ASSERT_TRUE(pinned) << pinned.error().describe();
}

TEST(FastPathAdoptBpf, ContinuesGenerationPolicyAndCounters) {
  XFP_REQUIRE_ROOT();
  PinDir dir("continue");
  Policy policy;
  const uint64_t x = *policy.addFilter(blockUdpPort(9, "x"));
  const uint64_t y = *policy.addFilter(blockUdpPort(10, "y"));
  {
    auto fp = FastPath::load(smallCaps());
    ASSERT_TRUE(fp) << fp.error().describe();
    commit(**fp, policy);
    for (int i = 0; i < 5; ++i) {
      ASSERT_EQ(verdict(**fp, 9), XDP_DROP);
    }
    ASSERT_EQ(verdict(**fp, 10), XDP_DROP);
    ASSERT_TRUE((*fp)->setCalloutLive(7, true));  // generation 1 -> 3 (same half)
    ASSERT_EQ((*fp)->generation(), 3u);
    auto pinned = (*fp)->pin(dir.path);
    ASSERT_TRUE(pinned) << pinned.error().describe();
  }  // the first owner is gone; its pinned maps stay

  auto fp = FastPath::adopt(dir.path, smallCaps());
  ASSERT_TRUE(fp) << fp.error().describe();
  FastPath& a = **fp;
  // Callout 7's liveness was the old runtime's: cleared, with a new flow-cache tag (+2).
  EXPECT_EQ(a.generation(), 5u);
  uint32_t key = 7;
  uint32_t live = 1;
  ASSERT_EQ(bpf_map_lookup_elem(a.mapFd("xfp_callouts"), &key, &live), 0);
  EXPECT_EQ(live, 0u);
  // The new program enforces the adopted policy, counting into the adopted slots.
  EXPECT_EQ(verdict(a, 9), XDP_DROP);
  EXPECT_EQ(verdict(a, 11), XDP_PASS);
  EXPECT_EQ(packets(a, x), 6u);
  EXPECT_EQ(packets(a, y), 1u);

  // y leaves, z joins (a new id): x counts on, z starts from zero, commits flip as always.
  ASSERT_TRUE(policy.deleteFilterById(y));
  const uint64_t z = *policy.addFilter(blockUdpPort(11, "z"));
  commit(a, policy);
  EXPECT_EQ(a.generation(), 6u) << "the half that was not live, then the flip";
  EXPECT_EQ(verdict(a, 9), XDP_DROP);
  EXPECT_EQ(verdict(a, 10), XDP_PASS);
  EXPECT_EQ(verdict(a, 11), XDP_DROP);
  EXPECT_EQ(packets(a, x), 7u);
  EXPECT_EQ(packets(a, z), 1u);
  EXPECT_FALSE(a.counters(y));
  // A second commit recycles y's slot (zeroed after a grace period) for a newcomer.
  const uint64_t w = *policy.addFilter(blockUdpPort(12, "w"));
  commit(a, policy);
  EXPECT_EQ(verdict(a, 12), XDP_DROP);
  EXPECT_EQ(packets(a, w), 1u);
  EXPECT_EQ(packets(a, x), 7u);

  // The adopted pin tree is this object's: unpinAll() removes it.
  a.unpinAll();
  EXPECT_FALSE(exists(dir.path)) << dir.path;
}

TEST(FastPathAdoptBpf, NothingPinnedIsENOENT) {
  XFP_REQUIRE_ROOT();
  PinDir dir("none");
  auto missing = FastPath::adopt(dir.path);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().errnoValue, ENOENT);
  EXPECT_NE(missing.error().describe().find("load() instead"), std::string::npos)
      << missing.error().describe();
  ASSERT_EQ(::mkdir(dir.path.c_str(), 0700), 0);
  auto empty = FastPath::adopt(dir.path);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().errnoValue, ENOENT) << empty.error().describe();
}

TEST(FastPathAdoptBpf, OtherCapacitiesAreESTALE) {
  XFP_REQUIRE_ROOT();
  PinDir dir("caps");
  Policy policy;
  const uint64_t x = *policy.addFilter(blockUdpPort(9, "x"));
  pinAndDrop(policy, dir.path, smallCaps());
  auto refused = FastPath::adopt(dir.path);  // the default capacities
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().errnoValue, ESTALE);
  const std::string why = refused.error().describe();
  EXPECT_NE(why.find("max_entries 8192, expected"), std::string::npos) << why;
  EXPECT_NE(why.find("load() instead of adopt()"), std::string::npos) << why;
  // Nothing changed: the right capacities still adopt the policy.
  auto fp = FastPath::adopt(dir.path, smallCaps());
  ASSERT_TRUE(fp) << fp.error().describe();
  EXPECT_EQ(verdict(**fp, 9), XDP_DROP);
  EXPECT_EQ(packets(**fp, x), 1u);
}

// An upgrade that changed a struct but not its size: same type, sizes and flags, another BTF
// layout of the value.
TEST(FastPathAdoptBpf, AnotherValueLayoutIsESTALE) {
  XFP_REQUIRE_ROOT();
  PinDir dir("layout");
  Policy policy;
  (void)*policy.addFilter(blockUdpPort(9, "x"));
  pinAndDrop(policy, dir.path, smallCaps());

  btf* types = btf__new_empty();
  ASSERT_NE(types, nullptr);
  const int u32 = btf__add_int(types, "unsigned int", 4, 0);
  const int gen = btf__add_struct(types, "xfp_gen", 8);  // {__u64 generation} upstream
  ASSERT_GT(u32, 0);
  ASSERT_GT(gen, 0);
  ASSERT_EQ(btf__add_field(types, "low", u32, 0, 0), 0);
  ASSERT_EQ(btf__add_field(types, "high", u32, 32, 0), 0);
  ASSERT_EQ(btf__load_into_kernel(types), 0);
  bpf_map_create_opts opts{};
  opts.sz = sizeof(opts);
  opts.btf_fd = static_cast<uint32_t>(btf__fd(types));
  opts.btf_key_type_id = static_cast<uint32_t>(u32);
  opts.btf_value_type_id = static_cast<uint32_t>(gen);
  opts.map_flags = BPF_F_MMAPABLE;
  dataplane::UniqueFd fake(bpf_map_create(BPF_MAP_TYPE_ARRAY, "xfp_gen", 4, 8, 1, &opts));
  btf__free(types);
  ASSERT_TRUE(fake) << std::strerror(errno);
  const std::string genPin = dir.path + "/maps/xfp_gen";
  ASSERT_EQ(::unlink(genPin.c_str()), 0);
  ASSERT_EQ(bpf_obj_pin(fake.get(), genPin.c_str()), 0);

  auto refused = FastPath::adopt(dir.path, smallCaps());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().errnoValue, ESTALE);
  const std::string why = refused.error().describe();
  EXPECT_NE(why.find("xfp_gen"), std::string::npos) << why;
  EXPECT_NE(why.find("another layout"), std::string::npos) << why;
}

TEST(FastPathAdoptBpf, AStillRunningOwnerIsEBUSY) {
  XFP_REQUIRE_ROOT();
  PinDir dir("busy");
  Policy policy;
  (void)*policy.addFilter(blockUdpPort(9, "x"));
  pinAndDrop(policy, dir.path, smallCaps());
  // A fresh heartbeat of a callout runtime in a live process (pid 1 always is).
  dataplane::UniqueFd runtime(bpf_obj_get((dir.path + "/maps/xfp_runtime").c_str()));
  ASSERT_TRUE(runtime);
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  xfp_runtime beat{};
  beat.heartbeat_ns =
      static_cast<uint64_t>(now.tv_sec) * 1000000000ull + static_cast<uint64_t>(now.tv_nsec);
  beat.pid = 1;
  const uint32_t zero = 0;
  ASSERT_EQ(bpf_map_update_elem(runtime.get(), &zero, &beat, BPF_ANY), 0);
  auto refused = FastPath::adopt(dir.path, smallCaps());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().errnoValue, EBUSY) << refused.error().describe();
  // Once the runtime said goodbye (heartbeat 0), adoption goes ahead.
  beat.heartbeat_ns = 0;
  ASSERT_EQ(bpf_map_update_elem(runtime.get(), &zero, &beat, BPF_ANY), 0);
  auto fp = FastPath::adopt(dir.path, smallCaps());
  ASSERT_TRUE(fp) << fp.error().describe();
  EXPECT_EQ(verdict(**fp, 9), XDP_DROP);
}

// The allocator adopt() rebuilds (no kernel needed): live filters keep their slots, newcomers
// get the lowest free ones, and slots claimed twice by corrupt input come back as orphans.
TEST(CounterSlotsRestore, KeepsLiveSlotsAndReportsOrphans) {
  dataplane::CounterSlots slots(8);
  const auto orphans = slots.restore({{100, 3}, {101, 0}, {100, 5}, {102, 3}, {103, 42}});
  EXPECT_EQ(orphans, std::vector<uint32_t>{5});  // 100 keeps 3; 102 lost 3 to it, 103 invalid
  EXPECT_EQ(slots.find(100), 3u);
  EXPECT_EQ(slots.find(101), 0u);
  EXPECT_EQ(slots.find(102), UINT32_MAX);
  EXPECT_EQ(slots.find(103), UINT32_MAX);
  EXPECT_EQ(slots.slotFor(102), 1u);
  EXPECT_EQ(slots.slotFor(103), 2u);
  EXPECT_EQ(slots.slotFor(104), 4u);  // 3 and 5 are counted into by the live policy
  EXPECT_EQ(slots.slotFor(105), 6u);
  EXPECT_EQ(slots.slotFor(106), 7u);
  EXPECT_EQ(slots.slotFor(107), UINT32_MAX);
  // The orphan comes back once released (after the next flip and its grace period).
  slots.recycle(orphans);
  EXPECT_EQ(slots.slotFor(107), 5u);
}

}  // namespace
}  // namespace xfp
