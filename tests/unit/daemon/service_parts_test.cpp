// xfpd's service parts that need no kernel: who may manage (authorize: root, the socket group by
// primary or supplementary membership, a refusal that says what would admit the user), the
// net-event log (a bounded ring, templates as FWPM_NET_EVENT_ENUM_TEMPLATE0 selects, subscribers
// that lose events instead of slowing the reader) and the fast-path event's conversion (local and
// remote by direction, layer id and name, wall-clock time).
#include <grp.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include <gtest/gtest.h>

#include "compiler/fast_path_fields.h"
#include "userspace/core/layers.h"
#include "userspace/core/wfp_constants.h"
#include "userspace/daemon/control_socket.h"
#include "userspace/daemon/net_event_log.h"
#include "userspace/rpc/codec.h"

namespace xfp::daemon {
namespace {

TEST(Authorize, RootAlwaysOthersOnlyThroughTheGroup) {
  EXPECT_TRUE(authorize(::getpid(), 0, 0, "").mayManage);
  const PeerCredentials nobody = authorize(::getpid(), 65534, 65534, "");
  EXPECT_FALSE(nobody.mayManage);
  EXPECT_NE(nobody.refusal.find("uid 65534"), std::string::npos) << nobody.refusal;
  EXPECT_NE(nobody.refusal.find("socket_group"), std::string::npos) << nobody.refusal;
  // Primary group membership admits; the group is looked up by name.
  const group* root = ::getgrgid(0);
  ASSERT_NE(root, nullptr);
  EXPECT_TRUE(authorize(::getpid(), 65534, 0, root->gr_name).mayManage);
  const PeerCredentials outsider = authorize(::getpid(), 65534, 65534, root->gr_name);
  EXPECT_FALSE(outsider.mayManage);
  EXPECT_NE(outsider.refusal.find(std::string("\"") + root->gr_name + "\""), std::string::npos);
  // A group that does not exist admits nobody but root.
  EXPECT_FALSE(authorize(::getpid(), 65534, 65534, "xfp-no-such-group").mayManage);
}

v1::NetEvent event(uint32_t proto, uint16_t localPort, uint64_t timeNs, uint32_t type = 3) {
  v1::NetEvent e;
  e.set_ip_protocol(proto);
  e.set_local_port(localPort);
  e.set_time_ns(timeNs);
  e.set_type(type);
  e.set_local_addr(std::string("\x0a\x00\x00\x01", 4));
  return e;
}

v1::Condition condition(const char* field, const Value& v) {
  return rpc::toProto(Condition{*conditionKeyByName(field), MatchType::Equal, v});
}

TEST(NetEventLog, RingKeepsTheNewestAndTemplatesSelect) {
  NetEventLog log(3);
  for (uint16_t i = 0; i < 5; ++i) {
    log.add(event(i % 2 == 0 ? 17 : 6, 1000 + i, 100 + i));
  }
  EXPECT_EQ(log.total(), 5u);
  auto all = log.snapshot(*NetEventFilter::fromProto({}));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all.front().local_port(), 1002u);  // the two oldest fell out
  v1::NetEventEnumTemplate t;
  *t.add_conditions() = condition("IP_PROTOCOL", Value::uint8(17));
  auto udp = log.snapshot(*NetEventFilter::fromProto(t));
  ASSERT_EQ(udp.size(), 2u);
  EXPECT_EQ(udp[1].local_port(), 1004u);
  t.set_start_time_ns(104);
  EXPECT_EQ(log.snapshot(*NetEventFilter::fromProto(t)).size(), 1u);
  v1::NetEventEnumTemplate addr;
  *addr.add_conditions() = condition("IP_LOCAL_ADDRESS", Value::uint32(0x0a000001));
  EXPECT_EQ(log.snapshot(*NetEventFilter::fromProto(addr)).size(), 3u);
}

TEST(NetEventLog, BadTemplatesAreRefusedWithTheField) {
  v1::NetEventEnumTemplate t;
  *t.add_conditions() = condition("ALE_APP_ID", Value::byteBlob({1, 2}));
  auto r = NetEventFilter::fromProto(t);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().status, status::kConditionNotFound);
  v1::NetEventEnumTemplate range;
  *range.add_conditions() = rpc::toProto(Condition{*conditionKeyByName("IP_LOCAL_PORT"),
                                                   MatchType::Range,
                                                   RangeValue{Value::uint16(1), Value::uint16(9)}});
  r = NetEventFilter::fromProto(range);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().status, status::kMatchTypeMismatch);
  EXPECT_NE(r.error().message.find("conditions[0]"), std::string::npos);
}

TEST(NetEventLog, SlowSubscribersLoseEventsNotTheService) {
  NetEventLog log(16, /*subscriberQueue=*/4);
  auto sub = log.subscribe(*NetEventFilter::fromProto({}));
  for (uint16_t i = 0; i < 10; ++i) {
    log.add(event(17, i, i));
  }
  EXPECT_EQ(sub->queue.size(), 4u);
  EXPECT_EQ(sub->lost, 6u);
  log.unsubscribe(sub);
  log.add(event(17, 99, 99));
  EXPECT_EQ(sub->queue.size(), 4u);
}

TEST(NetEventLog, FastPathEventsBecomeFwpmNetEvents) {
  xfp_net_event e{};
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  e.timestamp_ns = uint64_t(now.tv_sec) * 1000000000ULL + uint64_t(now.tv_nsec);
  e.filter_id = 42;
  e.layer_slot = XFP_LS_IN_TR4;
  e.verdict = XFP_VERDICT_BLOCK;
  e.inbound = 1;
  e.ip_proto = 17;
  e.flags = XFP_PKT_F_IPV4;
  const uint8_t src[4] = {10, 0, 0, 2}, dst[4] = {10, 0, 0, 1};
  std::memcpy(e.src_addr, src, 4);
  std::memcpy(e.dst_addr, dst, 4);
  e.src_port = 5555;
  e.dst_port = 53;
  const v1::NetEvent out = toNetEvent(e);
  EXPECT_EQ(out.type(), kNetEventClassifyDrop);
  EXPECT_EQ(out.local_addr(), std::string("\x0a\x00\x00\x01", 4));  // inbound: local = dst
  EXPECT_EQ(out.remote_addr(), std::string("\x0a\x00\x00\x02", 4));
  EXPECT_EQ(out.local_port(), 53u);
  EXPECT_EQ(out.remote_port(), 5555u);
  EXPECT_EQ(out.direction(), 1u);
  EXPECT_EQ(out.layer_name(), "INBOUND_TRANSPORT_V4");
  EXPECT_EQ(out.layer_id(), layerByName("INBOUND_TRANSPORT_V4")->id);
  const auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  EXPECT_LT(std::llabs(static_cast<long long>(out.time_ns()) - wall), 2'000'000'000LL);
  e.inbound = 0;
  e.verdict = XFP_VERDICT_PERMIT;
  const v1::NetEvent outbound = toNetEvent(e);
  EXPECT_EQ(outbound.type(), kNetEventClassifyAllow);
  EXPECT_EQ(outbound.local_port(), 5555u);
  EXPECT_EQ(outbound.direction(), 0u);
}

}  // namespace
}  // namespace xfp::daemon
