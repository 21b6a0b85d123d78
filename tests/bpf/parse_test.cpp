// BPF tier: the real stage-0 programs (xfp_xdp_in, xfp_tc_out) run with BPF_PROG_TEST_RUN on the
// docs/parsing.md cases and on thousands of random and malformed frames. The struct xfp_pkt each
// program leaves in xfp_last_pkt must equal the C++ reference parser's byte for byte; a
// disagreement prints a hex reproducer. Counters in xfp_stats must equal the reference counts.
#include <sched.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/harness/packet_builder.h"
#include "tests/harness/packet_cases.h"
#include "tests/harness/test_env.h"
#include "userspace/core/packet/packet_parse.h"
#include "userspace/dataplane/percpu_map.h"
#include "userspace/dataplane/prog_test_run.h"
#include "userspace/dataplane/skeleton.h"
#include "xfp_tc.skel.h"
#include "xfp_xdp.skel.h"

namespace xfp::dataplane {
namespace {

using test::Bytes;
using test::PacketBuilder;
using test::with;

// One loaded program with its maps, seen through the same interface for XDP and tc.
struct Prog {
  std::string name;
  int progFd = -1;
  int lastPktFd = -1;
  int statsFd = -1;
  std::uint32_t passVerdict = 0;
};

// The kernel's skb test run (tc) refuses an IPv4/IPv6 frame (by its outer Ethernet type) whose
// linear data is shorter than the IP header, before the program runs; XDP runs it.
bool skbTestRunRefuses(const Bytes& frame) {
  const unsigned type = (frame[12] << 8) | frame[13];
  return (type == 0x0800 && frame.size() < 14 + 20) || (type == 0x86DD && frame.size() < 14 + 40);
}

class Parse : public testing::Test {
 protected:
  void SetUp() override {
    XFP_REQUIRE_ROOT();
    cpu_ = test::pinToCurrentCpu();
    auto x = Skeleton<xfp_xdp>::openAndLoad("xfp_xdp");
    ASSERT_TRUE(x) << x.error().describe();
    auto t = Skeleton<xfp_tc>::openAndLoad("xfp_tc");
    ASSERT_TRUE(t) << t.error().describe();
    xdp_.emplace(std::move(*x));
    tc_.emplace(std::move(*t));
    progs_ = {
        Prog{"xfp_xdp_in",
             bpf_program__fd((*xdp_)->progs.xfp_xdp_in),
             bpf_map__fd((*xdp_)->maps.xfp_last_pkt),
             bpf_map__fd((*xdp_)->maps.xfp_stats),
             XDP_PASS},
        Prog{"xfp_tc_out",
             bpf_program__fd((*tc_)->progs.xfp_tc_out),
             bpf_map__fd((*tc_)->maps.xfp_last_pkt),
             bpf_map__fd((*tc_)->maps.xfp_stats),
             TC_ACT_OK},
    };
  }

  // Runs one frame through prog; returns "" when the BPF result equals the reference.
  std::string runOne(const Prog& prog, const Bytes& frame) {
    auto run = progTestRun(prog.progFd, frame);
    if (!run) {
      if (prog.passVerdict == TC_ACT_OK && run.error().errnoValue == EINVAL &&
          skbTestRunRefuses(frame)) {
        ++skbRefused_;
        return {};
      }
      return run.error().describe();
    }
    if (run->retval != prog.passVerdict) {
      return "verdict " + std::to_string(run->retval);
    }
    const std::uint32_t key = 0;
    auto values = lookupPerCpu<xfp_pkt>(prog.lastPktFd, key);
    if (!values) {
      return values.error().describe();
    }
    const xfp_pkt& got = values->at(static_cast<std::size_t>(cpu_));
    const xfp_pkt want = packet::parse(frame);
    packet::count(want, expected_[&prog == &progs_[0] ? 0 : 1]);
    if (std::memcmp(&got, &want, sizeof got) != 0) {
      const std::span<const std::uint8_t> gotBytes(reinterpret_cast<const std::uint8_t*>(&got),
                                                   sizeof got);
      const std::span<const std::uint8_t> wantBytes(reinterpret_cast<const std::uint8_t*>(&want),
                                                    sizeof want);
      return prog.name + " disagrees with the reference parser\n  bpf: " + packet::describe(got) +
             "\n  ref: " + packet::describe(want) + "\nframe (" + std::to_string(frame.size()) +
             " bytes):\n" + packet::hexDump(frame) + "\nbpf xfp_pkt:\n" +
             packet::hexDump(gotBytes) + "\nref xfp_pkt:\n" + packet::hexDump(wantBytes);
    }
    return {};
  }

  void expectCountersMatch() {
    for (std::size_t i = 0; i < progs_.size(); ++i) {
      SCOPED_TRACE(progs_[i].name);
      const std::uint32_t key = 0;
      auto per = lookupPerCpu<xfp_parse_counters>(progs_[i].statsFd, key);
      ASSERT_TRUE(per) << per.error().describe();
      xfp_parse_counters sum{};
      for (const xfp_parse_counters& c : *per) {
        sum.total += c.total;
        sum.vlan += c.vlan;
        sum.ipv4 += c.ipv4;
        sum.ipv6 += c.ipv6;
        sum.tcp += c.tcp;
        sum.udp += c.udp;
        sum.icmp += c.icmp;
        sum.icmpv6 += c.icmpv6;
        sum.fragment += c.fragment;
        sum.malformed += c.malformed;
        sum.ext_limit += c.ext_limit;
        sum.other_l3 += c.other_l3;
      }
      const xfp_parse_counters& want = expected_[i];
      EXPECT_EQ(sum.total, want.total);
      EXPECT_EQ(sum.vlan, want.vlan);
      EXPECT_EQ(sum.ipv4, want.ipv4);
      EXPECT_EQ(sum.ipv6, want.ipv6);
      EXPECT_EQ(sum.tcp, want.tcp);
      EXPECT_EQ(sum.udp, want.udp);
      EXPECT_EQ(sum.icmp, want.icmp);
      EXPECT_EQ(sum.icmpv6, want.icmpv6);
      EXPECT_EQ(sum.fragment, want.fragment);
      EXPECT_EQ(sum.malformed, want.malformed);
      EXPECT_EQ(sum.ext_limit, want.ext_limit);
      EXPECT_EQ(sum.other_l3, want.other_l3);
    }
  }

  int cpu_ = 0;
  int skbRefused_ = 0;
  std::optional<Skeleton<xfp_xdp>> xdp_;
  std::optional<Skeleton<xfp_tc>> tc_;
  std::vector<Prog> progs_;
  xfp_parse_counters expected_[2] = {};
};

TEST_F(Parse, BothProgramsVerify) {
  for (const Prog& p : progs_) {
    EXPECT_GE(p.progFd, 0) << p.name;
    bpf_prog_info info{};
    __u32 len = sizeof(info);
    ASSERT_EQ(bpf_obj_get_info_by_fd(p.progFd, &info, &len), 0) << p.name;
    EXPECT_STREQ(info.name, p.name.c_str());
    EXPECT_GT(info.xlated_prog_len, 0U);
  }
}

TEST_F(Parse, DocsCasesMatchReference) {
  int checked = 0;
  for (const test::ParseCase& c : test::parseCases()) {
    if (c.frame.size() < 14) {
      continue;  // BPF_PROG_TEST_RUN refuses frames shorter than ETH_HLEN
    }
    for (const Prog& p : progs_) {
      const std::string diff = runOne(p, c.frame);
      EXPECT_EQ(diff, "") << c.name;
      ++checked;
    }
  }
  EXPECT_GT(checked, 80);
  expectCountersMatch();
}

// A random well-formed frame: VLAN tags, IPv4 (options, fragments) or IPv6 (extension chains),
// then TCP/UDP/ICMP/other with random ports and flags.
Bytes randomFrame(std::mt19937& rng) {
  auto pick = [&rng](std::uint32_t n) { return static_cast<std::uint32_t>(rng() % n); };
  PacketBuilder b;
  b.eth();
  const std::uint32_t tags = pick(8) == 0 ? pick(4) : 0;
  for (std::uint32_t i = 0; i < tags; ++i) {
    b.vlan(static_cast<std::uint16_t>(pick(4096)), pick(2) ? 0x8100 : 0x88A8);
  }
  const bool v6 = pick(2) == 1;
  if (pick(16) == 0) {
    b.etherType(static_cast<std::uint16_t>(pick(2) ? 0x0806 : rng()));
    b.payload(pick(64));
    return b.build();
  }
  if (!v6) {
    test::Ipv4Options o;
    if (pick(4) == 0) {
      o.options = Bytes(4 * pick(11), 1);
    }
    if (pick(5) == 0) {
      o.moreFragments = pick(2) == 1;
      o.fragOffset = static_cast<std::uint16_t>(pick(3) == 0 ? 0 : pick(8192));
    }
    o.dontFragment = pick(2) == 1;
    b.ipv4({10, 0, 0, static_cast<std::uint8_t>(rng())}, {192, 168, 1, 1}, o);
  } else {
    test::Ipv6Addr src = test::kSrc6;
    src[15] = static_cast<std::uint8_t>(rng());
    b.ipv6(src, test::kDst6);
    const std::uint32_t exts = pick(3) == 0 ? pick(9) : 0;
    static constexpr std::uint8_t kExt[] = {0, 43, 60, 51, 44};
    for (std::uint32_t i = 0; i < exts; ++i) {
      const std::uint8_t t = kExt[pick(5)];
      if (t == 44) {
        b.ipv6Frag(static_cast<std::uint16_t>(pick(3) == 0 ? pick(8192) : 0), pick(2) == 1);
      } else {
        b.ipv6Ext(t, static_cast<std::uint8_t>(pick(4)));
      }
    }
  }
  switch (pick(5)) {
    case 0:
      b.tcp(static_cast<std::uint16_t>(rng()),
            static_cast<std::uint16_t>(rng()),
            static_cast<std::uint8_t>(rng()),
            with<test::TcpOptions>([&](auto& o) { o.optionBytes = 4 * pick(11); }));
      break;
    case 1:
      b.udp(static_cast<std::uint16_t>(rng()), static_cast<std::uint16_t>(rng()));
      break;
    case 2:
      if (v6) {
        b.icmpv6(static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng()));
      } else {
        b.icmp(static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng()));
      }
      break;
    case 3:
      b.raw({static_cast<std::uint8_t>(rng())});  // an unknown protocol's first byte
      break;
    default:
      break;
  }
  b.payload(pick(4) == 0 ? pick(200) : pick(16), static_cast<std::uint8_t>(rng()));
  return b.build();
}

// Damages a frame: truncation, random trailing bytes, bit flips in the headers, bad IHL, bad TCP
// data offsets, or fully random bytes.
void mutate(Bytes& f, std::mt19937& rng) {
  auto pick = [&rng](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  const xfp_pkt p = packet::parse(f);
  switch (pick(7)) {
    case 0:
      f.resize(14 + pick(f.size() - 13));
      break;
    case 1:
      for (std::size_t n = 1 + pick(64); n > 0; --n) {
        f.push_back(static_cast<std::uint8_t>(rng()));
      }
      break;
    case 2:
      for (std::size_t n = 1 + pick(4); n > 0; --n) {
        const std::size_t at = pick(std::min<std::size_t>(f.size(), 120));
        f[at] = static_cast<std::uint8_t>(f[at] ^ (1U << pick(8)));
      }
      break;
    case 3:
      if (p.ether_type == 0x0800 && p.l3_offset != 0 && p.l3_offset < f.size()) {
        f[p.l3_offset] = static_cast<std::uint8_t>(0x40 | pick(16));
      }
      break;
    case 4:
      if (p.l4_offset != 0 && p.ip_proto == 6 && p.l4_offset + 12U < f.size()) {
        f[p.l4_offset + 12U] = static_cast<std::uint8_t>(pick(16) << 4);
      }
      break;
    case 5:
      if (p.l3_offset != 0 && p.l3_offset + 4U < f.size()) {
        const std::size_t at = p.l3_offset + pick(4) + 2;  // IPv4 total / IPv6 payload length
        f[at] = static_cast<std::uint8_t>(rng());
      }
      break;
    default:
      for (std::size_t i = 12; i < f.size(); ++i) {
        f[i] = static_cast<std::uint8_t>(rng());
      }
      break;
  }
}

TEST_F(Parse, RandomAndMalformedFramesMatchReference) {
  std::mt19937 rng(0x5eed);
  constexpr int kFrames = 3000;
  int failures = 0;
  for (int i = 0; i < kFrames && failures < 5; ++i) {
    Bytes frame = randomFrame(rng);
    if (i % 3 != 0) {
      mutate(frame, rng);
    }
    if (frame.size() < 14) {
      frame.resize(14, 0);
    }
    for (const Prog& p : progs_) {
      const std::string diff = runOne(p, frame);
      if (!diff.empty()) {
        ++failures;
        ADD_FAILURE() << "frame #" << i << ": " << diff;
      }
    }
  }
  expectCountersMatch();
  const xfp_parse_counters& c = expected_[0];
  std::printf(
      "frames %llu: ipv4 %llu ipv6 %llu vlan %llu tcp %llu udp %llu icmp %llu icmpv6 %llu "
      "fragment %llu malformed %llu ext_limit %llu other %llu; skb test run refused %d\n",
      static_cast<unsigned long long>(c.total),
      static_cast<unsigned long long>(c.ipv4),
      static_cast<unsigned long long>(c.ipv6),
      static_cast<unsigned long long>(c.vlan),
      static_cast<unsigned long long>(c.tcp),
      static_cast<unsigned long long>(c.udp),
      static_cast<unsigned long long>(c.icmp),
      static_cast<unsigned long long>(c.icmpv6),
      static_cast<unsigned long long>(c.fragment),
      static_cast<unsigned long long>(c.malformed),
      static_cast<unsigned long long>(c.ext_limit),
      static_cast<unsigned long long>(c.other_l3),
      skbRefused_);
  EXPECT_GE(c.total, static_cast<unsigned long long>(kFrames));
  EXPECT_GT(c.malformed, 300U);
  EXPECT_GT(c.ext_limit, 0U);
}

TEST_F(Parse, LongIpv6ExtensionChains) {
  std::mt19937 rng(77);
  for (int n = 0; n <= 10; ++n) {
    PacketBuilder b;
    b.eth().ipv6();
    for (int i = 0; i < n; ++i) {
      b.ipv6Ext(i % 2 == 0 ? 60 : 0, static_cast<std::uint8_t>(rng() % 3));
    }
    const Bytes frame = b.udp(1, 2).build();
    for (const Prog& p : progs_) {
      EXPECT_EQ(runOne(p, frame), "") << n << " extension headers";
    }
  }
  expectCountersMatch();
}

}  // namespace
}  // namespace xfp::dataplane
