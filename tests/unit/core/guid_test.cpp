// GUID text/wire forms (wfp-constants.md §0) and spot checks of the generated layer tables
// against wfp-constants.md §7 and §12.
#include "userspace/core/guid.h"

#include <array>
#include <unordered_set>

#include <gtest/gtest.h>

#include "tests/unit/core/core_test_util.h"
#include "userspace/core/layers.h"

namespace xfp {
namespace {

TEST(CoreGuid, WireFormOfInboundIppacketV4) {
  auto g = Guid::parse("c86fd1bf-21cd-497e-a0bb-17425c885c58");
  ASSERT_TRUE(g.has_value());
  const std::array<uint8_t, 16> expected = {0xbf,
                                            0xd1,
                                            0x6f,
                                            0xc8,
                                            0xcd,
                                            0x21,
                                            0x7e,
                                            0x49,
                                            0xa0,
                                            0xbb,
                                            0x17,
                                            0x42,
                                            0x5c,
                                            0x88,
                                            0x5c,
                                            0x58};
  EXPECT_EQ(g->bytes, expected);
  EXPECT_EQ(coretest::layerNamed("INBOUND_IPPACKET_V4").key, *g);
}

TEST(CoreGuid, RoundTripAndBracesOptional) {
  const auto a = Guid::parse("{C86FD1BF-21CD-497E-A0BB-17425C885C58}");
  const auto b = Guid::parse("c86fd1bf-21cd-497e-a0bb-17425c885c58");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->toString(), "{c86fd1bf-21cd-497e-a0bb-17425c885c58}");
  EXPECT_EQ(Guid::parse(a->toString()), a);
  for (int i = 0; i < 20; ++i) {
    const Guid g = Guid::generate();
    EXPECT_EQ(Guid::parse(g.toString()), g);
    EXPECT_FALSE(g.isZero());
  }
}

TEST(CoreGuid, GeneratedAreVersion4AndDistinct) {
  const Guid a = Guid::generate();
  const Guid b = Guid::generate();
  EXPECT_NE(a, b);
  const std::string t = a.toString();
  EXPECT_EQ(t[15], '4') << t;  // version nibble of the third group
}

TEST(CoreGuid, InvalidTextsRejected) {
  for (const char* bad : {"",
                          "{}",
                          "c86fd1bf-21cd-497e-a0bb-17425c885c5",
                          "c86fd1bf-21cd-497e-a0bb-17425c885c588",
                          "c86fd1bf21cd-497e-a0bb-17425c885c58-",
                          "g86fd1bf-21cd-497e-a0bb-17425c885c58",
                          "{c86fd1bf-21cd-497e-a0bb-17425c885c58",
                          "c86fd1bf-21cd-497e-a0bb-17425c885c58}",
                          "c86fd1bf 21cd 497e a0bb 17425c885c58",
                          "(c86fd1bf-21cd-497e-a0bb-17425c885c58)",
                          "c86fd1bf-21cd-497e-a0bb+17425c885c58",
                          "c86fd1b-f21cd-497e-a0bb-17425c885c58"}) {
    EXPECT_FALSE(Guid::parse(bad).has_value()) << bad;
  }
}

TEST(CoreGuid, ZeroAndOrderingIsWireOrder) {
  EXPECT_TRUE(Guid{}.isZero());
  EXPECT_TRUE(Guid::fromText("00000000-0000-0000-0000-000000000000").isZero());
  // Text order: a < b; wire order: b (00 01 ...) < a (01 00 ...).
  const Guid a = Guid::fromText("00000001-0000-0000-0000-000000000000");
  const Guid b = Guid::fromText("00000100-0000-0000-0000-000000000000");
  EXPECT_LT(a.toString(), b.toString());
  EXPECT_LT(b, a);
}

TEST(CoreGuid, Hashing) {
  const Guid a = Guid::fromText("c86fd1bf-21cd-497e-a0bb-17425c885c58");
  const Guid a2 = *Guid::parse("{C86FD1BF-21CD-497E-A0BB-17425C885C58}");
  EXPECT_EQ(std::hash<Guid>{}(a), std::hash<Guid>{}(a2));
  std::unordered_set<Guid> set;
  for (const LayerInfo& l : allLayers()) {
    set.insert(l.key);
  }
  EXPECT_EQ(set.size(), allLayers().size());  // layer keys are distinct and hash-usable
  EXPECT_EQ(set.count(a2), 1u);
}

TEST(CoreLayers, LayerIds) {
  struct Row {
    const char* name;
    uint16_t id;
  };
  for (const Row& r : {Row{"INBOUND_IPPACKET_V4", 0},
                       Row{"INBOUND_IPPACKET_V6", 2},
                       Row{"OUTBOUND_IPPACKET_V4", 4},
                       Row{"INBOUND_TRANSPORT_V4", 12},
                       Row{"INBOUND_TRANSPORT_V6", 14},
                       Row{"OUTBOUND_TRANSPORT_V4", 16},
                       Row{"STREAM_V4", 20},
                       Row{"DATAGRAM_DATA_V4", 24},
                       Row{"ALE_RESOURCE_ASSIGNMENT_V4", 36},
                       Row{"ALE_AUTH_LISTEN_V4", 40},
                       Row{"ALE_AUTH_RECV_ACCEPT_V4", 44},
                       Row{"ALE_AUTH_CONNECT_V4", 48},
                       Row{"ALE_AUTH_CONNECT_V6", 50},
                       Row{"ALE_FLOW_ESTABLISHED_V4", 52},
                       Row{"INBOUND_MAC_FRAME_ETHERNET", 56},
                       Row{"OUTBOUND_MAC_FRAME_ETHERNET", 57},
                       Row{"ALE_RESOURCE_RELEASE_V4", 62},
                       Row{"ALE_ENDPOINT_CLOSURE_V4", 64},
                       Row{"ALE_CONNECT_REDIRECT_V4", 66},
                       Row{"ALE_BIND_REDIRECT_V4", 68},
                       Row{"STREAM_PACKET_V4", 70}}) {
    const LayerInfo* l = layerByName(r.name);
    ASSERT_NE(l, nullptr) << r.name;
    EXPECT_EQ(l->id, r.id) << r.name;
    EXPECT_EQ(layerById(r.id), l) << r.name;
    EXPECT_EQ(layerByKey(l->key), l) << r.name;
  }
  EXPECT_EQ(layerByName("FWPM_LAYER_inbound_transport_v4"), layerByName("INBOUND_TRANSPORT_V4"));
  EXPECT_EQ(layerByName("{5926dfc8-e3cf-4426-a283-dc393f5d0f9d}"),
            layerByName("INBOUND_TRANSPORT_V4"));
  EXPECT_EQ(layerByName("NO_SUCH_LAYER"), nullptr);
}

TEST(CoreLayers, IppacketFieldOrderTraps) {
  const LayerInfo& in = coretest::layerNamed("INBOUND_IPPACKET_V4");
  const LayerInfo& out = coretest::layerNamed("OUTBOUND_IPPACKET_V4");
  EXPECT_EQ(coretest::fieldOf(in, "IP_REMOTE_ADDRESS").index, 1);
  EXPECT_EQ(coretest::fieldOf(in, "IP_LOCAL_ADDRESS_TYPE").index, 2);
  EXPECT_EQ(coretest::fieldOf(out, "IP_LOCAL_ADDRESS_TYPE").index, 1);
  EXPECT_EQ(coretest::fieldOf(out, "IP_REMOTE_ADDRESS").index, 2);
  EXPECT_EQ(in.fields.size(), 10u);
  EXPECT_EQ(coretest::fieldOf(in, "COMPARTMENT_ID").index, 9);
  EXPECT_EQ(in.fieldByName("IP_LOCAL_PORT"), nullptr);
}

TEST(CoreLayers, TransportFields) {
  const LayerInfo& v4 = coretest::layerNamed("INBOUND_TRANSPORT_V4");
  const LayerInfo& v6 = coretest::layerNamed("INBOUND_TRANSPORT_V6");
  EXPECT_EQ(coretest::fieldOf(v4, "IP_PROTOCOL").index, 0);
  EXPECT_EQ(coretest::fieldOf(v4, "IP_PROTOCOL").type, DataType::Uint8);
  EXPECT_EQ(coretest::fieldOf(v4, "IP_LOCAL_PORT").index, 4);
  EXPECT_EQ(coretest::fieldOf(v4, "IP_REMOTE_PORT").index, 5);
  EXPECT_EQ(coretest::fieldOf(v4, "IP_REMOTE_PORT").type, DataType::Uint16);
  EXPECT_EQ(coretest::fieldOf(v4, "IP_REMOTE_ADDRESS").type, DataType::Uint32);
  EXPECT_TRUE(coretest::fieldOf(v4, "IP_REMOTE_ADDRESS").isAddress);
  EXPECT_EQ(coretest::fieldOf(v4, "IP_LOCAL_INTERFACE").type, DataType::Uint64);
  EXPECT_EQ(coretest::fieldOf(v4, "FLAGS").index, 9);
  EXPECT_EQ(coretest::fieldOf(v4, "PROFILE_ID").index, 12);          // FWPS name
  EXPECT_EQ(coretest::fieldOf(v4, "CURRENT_PROFILE_ID").index, 12);  // FWPM name
  EXPECT_EQ(v4.fields.size(), 15u);
  EXPECT_EQ(coretest::fieldOf(v6, "IP_LOCAL_ADDRESS").type, DataType::ByteArray16);
  EXPECT_EQ(coretest::fieldOf(v6, "IP_REMOTE_ADDRESS").type, DataType::ByteArray16);
  EXPECT_TRUE(coretest::fieldOf(v6, "IP_REMOTE_ADDRESS").isAddress);
  const LayerInfo& out = coretest::layerNamed("OUTBOUND_TRANSPORT_V4");
  EXPECT_EQ(coretest::fieldOf(out, "IP_REMOTE_ADDRESS").index, 3);
  EXPECT_EQ(coretest::fieldOf(out, "IP_DESTINATION_ADDRESS_TYPE").index, 9);
}

TEST(CoreLayers, ConditionKeysAreSharedAcrossLayers) {
  const Guid* port = conditionKeyByName("FWPM_CONDITION_IP_REMOTE_PORT");
  ASSERT_NE(port, nullptr);
  EXPECT_EQ(conditionKeyByName("IP_REMOTE_PORT"), port);
  for (const char* ln : {"INBOUND_TRANSPORT_V4", "ALE_AUTH_CONNECT_V4", "STREAM_V6"}) {
    const FieldInfo* f = coretest::layerNamed(ln).fieldByKey(*port);
    ASSERT_NE(f, nullptr) << ln;
    EXPECT_EQ(f->conditionKey, *port);
  }
  EXPECT_EQ(Guid::fromText("b235ae9a-1d64-49b8-a44c-5ff3d9095045"),
            *conditionKeyByName("IP_REMOTE_ADDRESS"));
  EXPECT_EQ(conditionName(*port), "FWPM_CONDITION_IP_REMOTE_PORT");
}

TEST(CoreLayers, MacLayerUsesHeaderBytesNotComment) {
  // wfp-constants.md §0: the fwpmu.h comment says ...a23a...; the bytes say ...a231...
  const LayerInfo& mac = coretest::layerNamed("INBOUND_MAC_FRAME_ETHERNET");
  EXPECT_EQ(mac.key, Guid::fromText("effb7edb-0055-4f9a-a231-4ff8131ad191"));
  EXPECT_EQ(coretest::fieldOf(mac, "MAC_REMOTE_ADDRESS").type, DataType::ByteArray6);
}

TEST(CoreLayers, BuiltinSublayers) {
  bool universal = false;
  bool inspection = false;
  bool rpc = false;
  for (const BuiltinSublayer& s : builtinSublayers()) {
    if (s.key == keys::kSublayerUniversal) {
      universal = true;
      EXPECT_EQ(s.weight, 0x8000);
    } else if (s.key == keys::kSublayerInspection) {
      inspection = true;
      EXPECT_EQ(s.weight, 0x0000);
    } else if (s.key == keys::kSublayerRpcAudit) {
      rpc = true;
      EXPECT_EQ(s.weight, 0xC000);
    }
  }
  EXPECT_TRUE(universal && inspection && rpc);
}

}  // namespace
}  // namespace xfp
