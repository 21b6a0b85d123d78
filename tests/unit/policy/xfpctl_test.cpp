// xfpctl as a script sees it: exit status, stdout, stderr, JSON.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/harness/test_env.h"

namespace {

struct CtlRun {
  int status = -1;
  std::string out;
};

std::string binary() {
  return xfp::test::binaryDir() + "/tools/xfpctl/xfpctl";
}
std::string examplePolicy() {
  return xfp::test::sourceDir() + "/examples/policy.json";
}

// Runs xfpctl with `args` (shell-quoted by the caller); captures stdout and stderr together.
CtlRun xfpctl(const std::string& args) {
  CtlRun r;
  FILE* p = popen((binary() + " " + args + " 2>&1").c_str(), "r");
  if (p == nullptr) {
    return r;
  }
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) {
    r.out.append(buf.data(), n);
  }
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

TEST(Xfpctl, ExplainBlockedTelnetAsJson) {
  CtlRun r = xfpctl("explain --json --policy " + examplePolicy() +
                    " --layer INBOUND_TRANSPORT_V4 --packet 'IP_PROTOCOL=tcp IP_LOCAL_PORT=23'");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["verdict"], "block");
  EXPECT_EQ(j["action"], "FWP_ACTION_BLOCK");
  EXPECT_EQ(j["filter"]["name"], "Admin: block telnet");
  EXPECT_EQ(j["hard"], true);
  ASSERT_FALSE(j["trace"].empty());
}

TEST(Xfpctl, ExplainHardPermitBeatsLowerBlock) {
  CtlRun r = xfpctl("explain --policy " + examplePolicy() +
                    " --layer INBOUND_TRANSPORT_V4 --packet 'IP_PROTOCOL=tcp "
                    "IP_REMOTE_ADDRESS=10.99.1.2 IP_LOCAL_PORT=22'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("verdict  PERMIT"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ignored (hard decision stands)"), std::string::npos) << r.out;
}

TEST(Xfpctl, ScriptedCalloutChangesTheVerdict) {
  const std::string base = "explain --json --policy " + examplePolicy() +
                           " --layer INBOUND_TRANSPORT_V4 --packet 'IP_PROTOCOL=udp "
                           "IP_LOCAL_PORT=15000'";
  CtlRun unregistered = xfpctl(base);
  ASSERT_EQ(unregistered.status, 0) << unregistered.out;
  EXPECT_EQ(nlohmann::json::parse(unregistered.out)["verdict"], "permit");  // flag: permit
  CtlRun blocking = xfpctl(base + " --callout 'connection inspector=block!'");
  ASSERT_EQ(blocking.status, 0) << blocking.out;
  auto j = nlohmann::json::parse(blocking.out);
  EXPECT_EQ(j["verdict"], "block");
  EXPECT_EQ(j["trace"][2]["steps"][0]["callout_invoked"], true);
}

TEST(Xfpctl, UnknownLayerExitsTwo) {
  CtlRun r = xfpctl("explain --policy " + examplePolicy() + " --layer NO_SUCH_LAYER --packet ''");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("unknown layer \"NO_SUCH_LAYER\""), std::string::npos) << r.out;
}

TEST(Xfpctl, BadPacketExitsFour) {
  CtlRun r = xfpctl("explain --policy " + examplePolicy() +
                    " --layer INBOUND_TRANSPORT_V4 --packet 'IP_LOCAL_PORT=70000'");
  EXPECT_EQ(r.status, 4);
  EXPECT_NE(r.out.find("IP_LOCAL_PORT"), std::string::npos) << r.out;
  CtlRun r2 = xfpctl("explain --policy " + examplePolicy() +
                     " --layer INBOUND_IPPACKET_V4 --packet 'IP_LOCAL_PORT=80'");
  EXPECT_EQ(r2.status, 4);
  EXPECT_NE(r2.out.find("not a field of FWPM_LAYER_INBOUND_IPPACKET_V4"), std::string::npos)
      << r2.out;
}

TEST(Xfpctl, BadPolicyExitsThreeAndNamesThePlace) {
  const std::string path = ::testing::TempDir() + "xfpctl_bad_policy.json";
  std::ofstream(path) << R"({"xfp_policy": 1, "filters": [
      {"name": "bad one", "layer": "INBOUND_TRANSPORT_V4", "action": "block",
       "conditions": [{"field": "IP_PROTOCOL", "match": "greater", "value": "10.0.0.0/8"}]}]})";
  CtlRun r = xfpctl("check --policy " + path);
  EXPECT_EQ(r.status, 3);
  EXPECT_NE(r.out.find(path + ": filters[0] \"bad one\".conditions[0].value"), std::string::npos)
      << r.out;
}

TEST(Xfpctl, MissingSubcommandExitsTwo) {
  EXPECT_EQ(xfpctl("").status, 2);
  EXPECT_EQ(xfpctl("explain --layer X").status, 2);
}

TEST(Xfpctl, LayersListsFieldsInFwpsOrder) {
  CtlRun r = xfpctl("layers OUTBOUND_IPPACKET_V4 --json");
  ASSERT_EQ(r.status, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_GT(j.size(), 2u);
  EXPECT_EQ(j[1]["fwps"], "IP_LOCAL_ADDRESS_TYPE");  // OUTBOUND puts the type at 1
  EXPECT_EQ(j[2]["fwps"], "IP_REMOTE_ADDRESS");
}

}  // namespace
