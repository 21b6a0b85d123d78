// Pinning: maps and programs appear under <dir>/maps and <dir>/progs with their kernel names,
// can be reopened by path (what a restarted xfpd or bpftool does), and unpinAll() removes them.
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <string>

#include <gtest/gtest.h>

#include "tests/harness/test_env.h"
#include "userspace/dataplane/fast_path.h"

namespace xfp {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

TEST(FastPathPin, MapsAndProgramsArePinnedByNameAndRemoved) {
  XFP_REQUIRE_ROOT();
  const std::string dir = "/sys/fs/bpf/xfp-test-" + std::to_string(::getpid());
  dataplane::FastPathOptions caps;
  caps.nodes = 1024;
  caps.cands = 1024;
  caps.boxes = 1024;
  caps.filters = 1024;
  auto fp = dataplane::FastPath::load(caps);
  ASSERT_TRUE(fp) << fp.error().describe();
  auto pinned = (*fp)->pin(dir);
  ASSERT_TRUE(pinned) << pinned.error().describe();
  for (const char* name : {"maps/xfp_gen",
                           "maps/xfp_nodes",
                           "maps/xfp_boxes",
                           "maps/xfp_filters",
                           "maps/xfp_counters",
                           "maps/xfp_flows",
                           "progs/xfp_xdp_in",
                           "progs/xfp_tc_out"}) {
    EXPECT_TRUE(exists(dir + "/" + name)) << name;
  }
  // A pinned map is the same kernel object: a write through the pin is seen by the loader.
  const int fd = bpf_obj_get((dir + "/maps/xfp_cfg").c_str());
  ASSERT_GE(fd, 0);
  const uint32_t key = 0;
  const uint64_t value = 1;  // XFP_CFG_NO_FLOW_CACHE
  ASSERT_EQ(bpf_map_update_elem(fd, &key, &value, BPF_ANY), 0);
  uint64_t readBack = 0;
  ASSERT_EQ(bpf_map_lookup_elem((*fp)->mapFd("xfp_cfg"), &key, &readBack), 0);
  EXPECT_EQ(readBack, 1u);
  ::close(fd);
  (*fp)->unpinAll();
  EXPECT_FALSE(exists(dir + "/maps/xfp_gen"));
  EXPECT_FALSE(exists(dir));
}

}  // namespace
}  // namespace xfp
