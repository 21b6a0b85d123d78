// The ABI structs as the BPF compiler laid them out (BTF of the built objects) must match the C++
// compiler's layout: sizes and every member's offset (idea: cilium bpf_alignchecker).
#include <bpf/btf.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "xfp/abi.h"

namespace {

struct Member {
  const char* name;
  std::size_t offset;
};

#define XFP_MEMBER(type, field)   \
  Member {                        \
#field, offsetof(type, field) \
  }

struct BtfDeleter {
  void operator()(btf* b) const { btf__free(b); }
};

void checkStruct(const char* object,
                 const char* structName,
                 std::size_t size,
                 const std::vector<Member>& members) {
  SCOPED_TRACE(std::string(object) + ": struct " + structName);
  std::unique_ptr<btf, BtfDeleter> b(btf__parse(object, nullptr));
  ASSERT_NE(b, nullptr) << "btf__parse failed";
  const int id = btf__find_by_name_kind(b.get(), structName, BTF_KIND_STRUCT);
  ASSERT_GT(id, 0) << "struct not in BTF";
  const btf_type* t = btf__type_by_id(b.get(), id);
  EXPECT_EQ(t->size, size);
  ASSERT_EQ(btf_vlen(t), members.size());
  const btf_member* m = btf_members(t);
  for (std::size_t i = 0; i < members.size(); ++i) {
    EXPECT_STREQ(btf__name_by_offset(b.get(), m[i].name_off), members[i].name);
    EXPECT_EQ(btf_member_bit_offset(t, static_cast<__u32>(i)), members[i].offset * 8)
        << members[i].name;
  }
}

const std::vector<Member>& pktMembers() {
  static const std::vector<Member> m = {
      XFP_MEMBER(xfp_pkt, flags),
      XFP_MEMBER(xfp_pkt, ether_type),
      XFP_MEMBER(xfp_pkt, vlan_id),
      XFP_MEMBER(xfp_pkt, dst_mac),
      XFP_MEMBER(xfp_pkt, src_mac),
      XFP_MEMBER(xfp_pkt, src_addr),
      XFP_MEMBER(xfp_pkt, dst_addr),
      XFP_MEMBER(xfp_pkt, src_port),
      XFP_MEMBER(xfp_pkt, dst_port),
      XFP_MEMBER(xfp_pkt, ip_proto),
      XFP_MEMBER(xfp_pkt, tcp_flags),
      XFP_MEMBER(xfp_pkt, l3_offset),
      XFP_MEMBER(xfp_pkt, l4_offset),
      XFP_MEMBER(xfp_pkt, _pad),
  };
  return m;
}

const std::vector<Member>& countersMembers() {
  static const std::vector<Member> m = {
      XFP_MEMBER(xfp_parse_counters, total),
      XFP_MEMBER(xfp_parse_counters, vlan),
      XFP_MEMBER(xfp_parse_counters, ipv4),
      XFP_MEMBER(xfp_parse_counters, ipv6),
      XFP_MEMBER(xfp_parse_counters, tcp),
      XFP_MEMBER(xfp_parse_counters, udp),
      XFP_MEMBER(xfp_parse_counters, icmp),
      XFP_MEMBER(xfp_parse_counters, icmpv6),
      XFP_MEMBER(xfp_parse_counters, fragment),
      XFP_MEMBER(xfp_parse_counters, malformed),
      XFP_MEMBER(xfp_parse_counters, ext_limit),
      XFP_MEMBER(xfp_parse_counters, other_l3),
  };
  return m;
}

TEST(AbiLayout, XdpObjectMatchesCxx) {
  checkStruct(XFP_BPF_OBJ_xfp_xdp, "xfp_pkt", sizeof(xfp_pkt), pktMembers());
  checkStruct(
      XFP_BPF_OBJ_xfp_xdp, "xfp_parse_counters", sizeof(xfp_parse_counters), countersMembers());
}

TEST(AbiLayout, TcObjectMatchesCxx) {
  checkStruct(XFP_BPF_OBJ_xfp_tc, "xfp_pkt", sizeof(xfp_pkt), pktMembers());
  checkStruct(
      XFP_BPF_OBJ_xfp_tc, "xfp_parse_counters", sizeof(xfp_parse_counters), countersMembers());
}

TEST(AbiLayout, VersionIsOne) {
  EXPECT_EQ(XFP_ABI_VERSION, 1);
}

}  // namespace
