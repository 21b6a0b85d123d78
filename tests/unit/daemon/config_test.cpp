// xfpd's configuration: the shipped example parses; every mistake is an error that names the key.
#include "userspace/daemon/config.h"

#include <gtest/gtest.h>

#include "tests/harness/test_env.h"

namespace xfp::daemon {
namespace {

TEST(DaemonConfig, TheShippedExampleParses) {
  auto c = loadConfig(test::sourceDir() + "/examples/xfpd.toml");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->interfaces.size(), 1u);
  EXPECT_EQ(c->interfaces[0].name, "eth1");
  EXPECT_EQ(c->policyFile, "/etc/xfp/policy.json");
  EXPECT_EQ(c->workers, 2u);
  EXPECT_EQ(c->pendTimeout.count(), 30000);
  EXPECT_TRUE(c->dropEvents);
  EXPECT_FALSE(c->allowEvents);
}

TEST(DaemonConfig, DefaultsWhenEmpty) {
  auto c = parseConfig("", "empty.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_TRUE(c->interfaces.empty());
  EXPECT_EQ(c->socketPath, "/run/xfp/xfpd.sock");
  EXPECT_EQ(c->pinDir, "/sys/fs/bpf/xfp");
}

TEST(DaemonConfig, InterfacesPluginsAndRelativePaths) {
  auto c = parseConfig(R"(
plugin_dir = "/opt/plugins"
workers = 0
[[interface]]
name = "veth0"
netns = "tenant"
[[interface]]
name = "veth1"
[[plugin]]
path = "guard.so"
parameters = "allow=80"
[[plugin]]
path = "/abs/other.so"
)",
                       "t.toml");
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->interfaces.size(), 2u);
  EXPECT_EQ(c->interfaces[0].netns, "tenant");
  EXPECT_EQ(c->interfaces[1].netns, "");
  ASSERT_EQ(c->plugins.size(), 2u);
  EXPECT_EQ(c->plugins[0].path, "/opt/plugins/guard.so");
  EXPECT_EQ(c->plugins[0].parameters, "allow=80");
  EXPECT_EQ(c->plugins[1].path, "/abs/other.so");
  EXPECT_EQ(c->workers, 0u);
}

TEST(DaemonConfig, SocketHooksCgroupAndWait) {
  auto c = parseConfig("cgroup = \"/sys/fs/cgroup/app\"\nsocket_wait_ms = 50\n", "x.toml");
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->cgroup, "/sys/fs/cgroup/app");
  EXPECT_EQ(c->socketWait, std::chrono::milliseconds(50));
  auto d = parseConfig("", "x.toml");
  ASSERT_TRUE(d);
  EXPECT_TRUE(d->cgroup.empty()) << "no cgroup: no socket hooks";
  EXPECT_EQ(d->socketWait, std::chrono::milliseconds(200));
}

TEST(DaemonConfig, MistakesNameTheKey) {
  struct Case {
    const char* text;
    const char* expect;
  };
  for (const Case& k : {
           Case{"polcy = \"x\"", "unknown key \"polcy\""},
           Case{"workers = \"two\"", "workers: a non-negative integer"},
           Case{"workers = -1", "workers: a non-negative integer"},
           Case{"workers = 100", "workers: at most 64"},
           Case{"drop_events = 1", "drop_events: true or false"},
           Case{"pend_timeout_ms = 0", "pend_timeout_ms: must be above 0"},
           Case{"[[interface]]\nnam = \"x\"", "interface[0].unknown key \"nam\""},
           Case{"[[interface]]\nname = \"an-interface-name-too-long\"", "interface[0].name"},
           Case{"[[plugin]]\nparameters = \"x\"", "plugin[0].path: required"},
           Case{"interface = 3", "interface: an array of tables"},
           Case{"workers = [", "line 1"},
           Case{"log_format = \"xml\"", "log_format: \"text\" or \"json\""},
           Case{"net_event_log_size = 0", "net_event_log_size: 1 to 1048576"},
           Case{"detach_on_stop = \"yes\"", "detach_on_stop: true or false"},
           Case{"socket_wait_ms = 0", "socket_wait_ms: 1 to 1000"},
           Case{"socket_wait_ms = 5000", "socket_wait_ms: 1 to 1000"},
           Case{"cgroup = \"relative/dir\"", "cgroup: an absolute path"},
           Case{"cgroup = 7", "cgroup: a string"},
       }) {
    auto c = parseConfig(k.text, "bad.toml");
    ASSERT_FALSE(c) << k.text;
    EXPECT_NE(c.error().message.find(k.expect), std::string::npos)
        << k.text << " -> " << c.error().message;
    EXPECT_EQ(c.error().message.rfind("bad.toml", 0), 0u) << c.error().message;
  }
  auto missing = loadConfig("/nonexistent/xfpd.toml");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("cannot be read"), std::string::npos);
}

}  // namespace
}  // namespace xfp::daemon
