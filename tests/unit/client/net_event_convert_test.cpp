// Net events between the wire and WFP's C form (userspace/client/net_event_convert): FILETIME
// arithmetic, the enumeration template, and FWPM_NET_EVENT1 (header flags, host-order IPv4,
// the classify detail in the same block).
#include "userspace/client/net_event_convert.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <memory>

#include <gtest/gtest.h>

#include "userspace/client/fwpm_convert.h"
#include "userspace/rpc/codec.h"

namespace xfp::client {
namespace {

struct FreeBlock {
  void operator()(void* p) const { std::free(p); }
};

FILETIME fileTime(uint64_t v) {
  FILETIME ft;
  ft.dwLowDateTime = static_cast<DWORD>(v);
  ft.dwHighDateTime = static_cast<DWORD>(v >> 32);
  return ft;
}

bool inBlock(const void* base, const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(base);
  const auto* q = static_cast<const unsigned char*>(p);
  return q >= b && q + n <= b + malloc_usable_size(const_cast<void*>(base));
}

TEST(NetEventConvert, FileTime) {
  constexpr uint64_t kEpoch = 116444736000000000ULL;
  EXPECT_EQ(unixNsFromFileTime(fileTime(kEpoch)), 0u);
  EXPECT_EQ(unixNsFromFileTime(fileTime(0)), 0u);  // before 1970: 0
  EXPECT_EQ(unixNsFromFileTime(fileTime(kEpoch + 10)), 1000u);
  EXPECT_EQ(unixNsFromFileTime(fileTime(~0ULL)), ~0ULL);  // saturates
  // 2024-01-01T00:00:00Z.
  const uint64_t ns = 1704067200ULL * 1000000000ULL;
  const FILETIME ft = fileTimeFromUnixNs(ns);
  EXPECT_EQ((static_cast<uint64_t>(ft.dwHighDateTime) << 32) | ft.dwLowDateTime, kEpoch + ns / 100);
  EXPECT_EQ(unixNsFromFileTime(ft), ns);
  EXPECT_EQ(unixNsFromFileTime(fileTimeFromUnixNs(123456789)), 123456700u);  // 100 ns units
}

TEST(NetEventConvert, Template) {
  auto all = netEventTemplateFromC(nullptr);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->start_time_ns(), 0u);
  EXPECT_EQ(all->end_time_ns(), 0u);
  EXPECT_EQ(all->conditions_size(), 0);

  const uint64_t start = 1704067200ULL * 1000000000ULL;
  FWPM_FILTER_CONDITION0 cond{};
  cond.fieldKey = guidToC(Guid::fromText("3971ef2b-623e-4f9a-8cb1-6e79b806b9a7"));  // IP_PROTOCOL
  cond.matchType = FWP_MATCH_EQUAL;
  cond.conditionValue.type = FWP_UINT8;
  cond.conditionValue.uint8 = 17;
  FWPM_NET_EVENT_ENUM_TEMPLATE0 t{};
  t.startTime = fileTimeFromUnixNs(start);
  t.numFilterConditions = 1;
  t.filterCondition = &cond;
  auto open = netEventTemplateFromC(&t);
  ASSERT_TRUE(open);
  EXPECT_EQ(open->start_time_ns(), start);
  EXPECT_EQ(open->end_time_ns(), 0u);  // an all-zero endTime: open-ended
  ASSERT_EQ(open->conditions_size(), 1);
  auto back = rpc::fromProto(open->conditions(0));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->value, ConditionValue(Value::uint8(17)));

  t.endTime = fileTimeFromUnixNs(start + 1000000000ULL);
  auto window = netEventTemplateFromC(&t);
  ASSERT_TRUE(window);
  EXPECT_EQ(window->end_time_ns(), start + 1000000000ULL);

  t.endTime = fileTimeFromUnixNs(start - 1000000000ULL);
  auto backwards = netEventTemplateFromC(&t);
  ASSERT_FALSE(backwards);
  EXPECT_EQ(backwards.error().status, FWP_E_INVALID_INTERVAL);

  t.endTime = FILETIME{};
  t.filterCondition = nullptr;
  auto noConditions = netEventTemplateFromC(&t);
  ASSERT_FALSE(noConditions);
  EXPECT_EQ(noConditions.error().status, FWP_E_NULL_POINTER);
}

v1::NetEvent dropV4() {
  v1::NetEvent e;
  e.set_time_ns(1704067200ULL * 1000000000ULL + 500);
  e.set_type(FWPM_NET_EVENT_TYPE_CLASSIFY_DROP);
  e.set_ip_version(4);
  e.set_ip_protocol(17);
  e.set_local_addr(std::string("\x0a\x63\x01\x01", 4));
  e.set_remote_addr(std::string("\x0a\x63\x01\x02", 4));
  e.set_local_port(7951);
  e.set_remote_port(40000);
  e.set_filter_id(12);
  e.set_layer_id(12);  // INBOUND_TRANSPORT_V4
  e.set_direction(FWP_DIRECTION_INBOUND);
  e.set_interface("veth0");
  return e;
}

TEST(NetEventConvert, ClassifyDropV4) {
  std::unique_ptr<FWPM_NET_EVENT1, FreeBlock> ev(netEventToC(dropV4()));
  ASSERT_NE(ev, nullptr);
  const FWPM_NET_EVENT_HEADER1& h = ev->header;
  EXPECT_EQ(unixNsFromFileTime(h.timeStamp), 1704067200ULL * 1000000000ULL + 500);
  EXPECT_EQ(h.flags,
            static_cast<UINT32>(
                FWPM_NET_EVENT_FLAG_IP_VERSION_SET | FWPM_NET_EVENT_FLAG_IP_PROTOCOL_SET |
                FWPM_NET_EVENT_FLAG_LOCAL_ADDR_SET | FWPM_NET_EVENT_FLAG_REMOTE_ADDR_SET |
                FWPM_NET_EVENT_FLAG_LOCAL_PORT_SET | FWPM_NET_EVENT_FLAG_REMOTE_PORT_SET));
  EXPECT_EQ(h.ipVersion, FWP_IP_VERSION_V4);
  EXPECT_EQ(h.ipProtocol, 17);
  EXPECT_EQ(h.localAddrV4, 0x0a630101u);  // host order, as WFP's header
  EXPECT_EQ(h.remoteAddrV4, 0x0a630102u);
  EXPECT_EQ(h.localPort, 7951);
  EXPECT_EQ(h.remotePort, 40000);
  EXPECT_EQ(h.appId.size, 0u);
  EXPECT_EQ(h.userId, nullptr);
  EXPECT_EQ(ev->type, FWPM_NET_EVENT_TYPE_CLASSIFY_DROP);
  ASSERT_NE(ev->classifyDrop, nullptr);
  EXPECT_TRUE(inBlock(ev.get(), ev->classifyDrop, sizeof(FWPM_NET_EVENT_CLASSIFY_DROP1)));
  EXPECT_EQ(ev->classifyDrop->filterId, 12u);
  EXPECT_EQ(ev->classifyDrop->layerId, 12);
  EXPECT_EQ(ev->classifyDrop->msFwpDirection, static_cast<UINT32>(FWP_DIRECTION_INBOUND));
  EXPECT_EQ(ev->classifyDrop->isLoopback, FALSE);
}

TEST(NetEventConvert, AllowV6AndOthers) {
  v1::NetEvent e;
  e.set_type(FWPM_NET_EVENT_TYPE_CLASSIFY_ALLOW);
  e.set_ip_version(6);
  e.set_ip_protocol(47);  // GRE: no ports
  std::string v6(16, '\0');
  v6[0] = '\xfd';
  v6[15] = '\x01';
  e.set_local_addr(v6);
  e.set_filter_id(3);
  e.set_local_port(1);
  std::unique_ptr<FWPM_NET_EVENT1, FreeBlock> ev(netEventToC(e));
  ASSERT_NE(ev, nullptr);
  EXPECT_EQ(ev->header.ipVersion, FWP_IP_VERSION_V6);
  EXPECT_EQ(ev->header.localAddrV6.byteArray16[0], 0xfd);
  EXPECT_EQ(ev->header.localAddrV6.byteArray16[15], 0x01);
  EXPECT_NE(ev->header.flags & FWPM_NET_EVENT_FLAG_LOCAL_ADDR_SET, 0u);
  EXPECT_EQ(ev->header.flags & FWPM_NET_EVENT_FLAG_REMOTE_ADDR_SET, 0u);  // none sent
  EXPECT_EQ(ev->header.flags & FWPM_NET_EVENT_FLAG_LOCAL_PORT_SET, 0u);
  EXPECT_EQ(ev->header.localPort, 0);
  EXPECT_EQ(ev->type, FWPM_NET_EVENT_TYPE_CLASSIFY_ALLOW);
  ASSERT_NE(ev->classifyAllow, nullptr);
  EXPECT_EQ(ev->classifyAllow->filterId, 3u);

  // A type without a detail structure here: the union stays empty.
  e.set_type(FWPM_NET_EVENT_TYPE_CAPABILITY_DROP);
  std::unique_ptr<FWPM_NET_EVENT1, FreeBlock> other(netEventToC(e));
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->classifyDrop, nullptr);
  e.set_ip_version(0);
  std::unique_ptr<FWPM_NET_EVENT1, FreeBlock> noVersion(netEventToC(e));
  EXPECT_EQ(noVersion->header.ipVersion, FWP_IP_VERSION_NONE);
  EXPECT_EQ(noVersion->header.flags & FWPM_NET_EVENT_FLAG_IP_VERSION_SET, 0u);
}

TEST(NetEventConvert, ArrayIsOneBlock) {
  google::protobuf::RepeatedPtrField<v1::NetEvent> events;
  EXPECT_EQ(netEventsToC(events), nullptr);
  for (int i = 0; i < 4; ++i) {
    v1::NetEvent e = dropV4();
    e.set_filter_id(100 + i);
    *events.Add() = e;
  }
  std::unique_ptr<FWPM_NET_EVENT1*, FreeBlock> arr(netEventsToC(events));
  ASSERT_NE(arr, nullptr);
  for (int i = 0; i < 4; ++i) {
    const FWPM_NET_EVENT1* ev = arr.get()[i];
    EXPECT_TRUE(inBlock(arr.get(), ev, sizeof *ev));
    EXPECT_TRUE(inBlock(arr.get(), ev->classifyDrop, sizeof *ev->classifyDrop));
    EXPECT_EQ(ev->classifyDrop->filterId, 100u + i);
  }
}

}  // namespace
}  // namespace xfp::client
