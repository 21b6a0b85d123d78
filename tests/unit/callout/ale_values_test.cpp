// The values the socket-level ALE layers classify with (docs/ale.md "Identity"): addresses and
// ports from the socket hooks' record, the process identity as app id, token and cgroup SID, and
// the reference classifier deciding on them the way a policy file's conditions say.
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include <gtest/gtest.h>

#include "userspace/callout/fwps_convert.h"
#include "userspace/callout/process_identity.h"
#include "userspace/core/classifier.h"
#include "userspace/core/layers.h"
#include "userspace/core/policy_file.h"
#include "userspace/core/security.h"
#include "userspace/core/value_text.h"

namespace xfp::callout {
namespace {

xfp_sock_event connectRequest() {
  xfp_sock_event ev{};
  ev.type = XFP_SOCK_EV_REQUEST;
  ev.layer = XFP_SOCK_CONNECT_REDIRECT_V4;
  ev.proto = 6;
  const uint8_t local[4] = {10, 199, 0, 1};
  const uint8_t remote[4] = {10, 199, 0, 2};
  std::memcpy(ev.local, local, 4);
  std::memcpy(ev.remote, remote, 4);
  ev.local_port = 40000;
  ev.remote_port = 443;
  return ev;
}

ProcessIdentity someone() {
  ProcessIdentity who;
  who.known = true;
  who.tgid = 1234;
  who.uid = 1000;
  who.gid = 100;
  who.groups = {100, 27};
  who.cgroupId = 4242;
  who.exePath = "/usr/bin/Curl";
  return who;
}

TEST(AleValues, CgroupSids) {
  EXPECT_EQ(sidToString(cgroupSid(4242)), "S-1-15-2-4242");
  EXPECT_EQ(sidToString(cgroupSid((uint64_t{3} << 32) | 7)), "S-1-15-2-7-3");
  struct stat st {};
  ASSERT_EQ(::stat("/tmp", &st), 0);
  auto byPath = sidFromString("cgroup:/tmp");
  ASSERT_TRUE(byPath);
  EXPECT_EQ(*byPath, cgroupSid(st.st_ino));
  auto missing = sidFromString("cgroup:/nonexistent/dir");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("/nonexistent/dir"), std::string::npos);
}

TEST(AleValues, ConnectRequestFieldsAndIdentity) {
  const LayerInfo* layer = layerByName("ALE_CONNECT_REDIRECT_V4");
  ASSERT_NE(layer, nullptr);
  const IncomingValues in = sockIncomingValues(layer->id, connectRequest(), someone(), 0);
  auto at = [&](const char* field) { return in.values[layer->fieldByName(field)->index]; };
  EXPECT_EQ(at("IP_LOCAL_ADDRESS"), Value::uint32(0x0AC70001));  // host order
  EXPECT_EQ(at("IP_REMOTE_ADDRESS"), Value::uint32(0x0AC70002));
  EXPECT_EQ(at("IP_LOCAL_PORT"), Value::uint16(40000));
  EXPECT_EQ(at("IP_REMOTE_PORT"), Value::uint16(443));
  EXPECT_EQ(at("IP_PROTOCOL"), Value::uint8(6));
  EXPECT_EQ(at("ALE_APP_ID"), Value::byteBlob(appIdFromPath("/usr/bin/curl")))
      << "lower-cased, as WFP stores app ids";
  EXPECT_EQ(at("ALE_USER_ID"), Value::token(Token{1000, {100, 27}}));
  EXPECT_EQ(at("ALE_PACKAGE_ID"), Value::sid(cgroupSid(4242)));
  // Without an identity those fields are FWP_EMPTY.
  const IncomingValues anon = sockIncomingValues(layer->id, connectRequest(), {}, 0);
  EXPECT_TRUE(anon.values[layer->fieldByName("ALE_APP_ID")->index].isEmpty());
  EXPECT_TRUE(anon.values[layer->fieldByName("ALE_USER_ID")->index].isEmpty());
}

TEST(AleValues, PolicyConditionsOnIdentityDecide) {
  auto policy = parsePolicy(R"({"xfp_policy": 1, "filters": [
      {"name": "curl of uid 1000 in cgroup", "layer": "ALE_CONNECT_REDIRECT_V4", "action": "block",
       "conditions": [{"field": "ALE_APP_ID", "value": "/usr/bin/curl"},
                      {"field": "ALE_USER_ID", "value": "uid=1000"}]}]})",
                            "t.json");
  ASSERT_TRUE(policy) << policy.error().message;
  const LayerInfo* layer = layerByName("ALE_CONNECT_REDIRECT_V4");
  auto decide = [&](const ProcessIdentity& who) {
    const IncomingValues in = sockIncomingValues(layer->id, connectRequest(), who, 0);
    NoCallouts none;
    auto r = classify(*policy, in, IncomingMetadata{}, none);
    return r && r->permits() ? ActionType::Permit : ActionType::Block;
  };
  EXPECT_EQ(decide(someone()), ActionType::Block);
  ProcessIdentity other = someone();
  other.exePath = "/usr/bin/wget";
  EXPECT_EQ(decide(other), ActionType::Permit);
  other = someone();
  other.uid = 1001;
  EXPECT_EQ(decide(other), ActionType::Permit);
  EXPECT_EQ(decide({}), ActionType::Permit) << "no identity: the conditions do not match";
}

TEST(AleValues, IdentityOfAProcessFromProc) {
  xfp_sock_owner o{};
  o.tgid = static_cast<uint32_t>(::getpid());
  o.uid = ::getuid();
  o.gid = ::getgid();
  std::strncpy(o.comm, "unit", sizeof o.comm);
  const ProcessIdentity who = identityOf(o);
  EXPECT_TRUE(who.known);
  EXPECT_EQ(who.exePath, std::filesystem::read_symlink("/proc/self/exe").string());
  EXPECT_EQ(who.comm, "unit");
  ASSERT_FALSE(who.groups.empty());
  EXPECT_EQ(who.groups.front(), o.gid);
}

}  // namespace
}  // namespace xfp::callout
