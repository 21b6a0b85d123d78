// The NFQUEUE peer of xfp's punt path: in namespace A an iptables rule
//   -t raw -A PREROUTING -p udp --dport <port> -j NFQUEUE --queue-num <n>
// (xtables NFQUEUE target: nft's queue expression is not built into this kernel) hands every
// generated datagram to a consumer thread in A speaking nfnetlink_queue over libmnl: copy-packet
// mode with the whole packet (like a callout that sees the packet), fail-open off (a full queue
// drops), a large socket buffer, and an ACCEPT verdict per packet (NFQNL_MSG_VERDICT) or batched
// (NFQNL_MSG_VERDICT_BATCH for up to 64 packets, or fewer when the queue drains).
//
// raw PREROUTING, not INPUT: it is the first IPv4 hook, before conntrack and the route lookup,
// the closest the stack has to where xfp punts (XDP, before the stack); the accepted packet then
// pays for routing and the rest of the stack after the verdict, as a packet xfp re-injects does.
#pragma once

#include <cstdint>
#include <string>

#include "bench/punt/punt_harness.h"

namespace xfp::bench::punt {

enum class NfqVerdictMode { PerPacket, Batched };

// Rule, consumer, measureThroughput + measureLatency, then the rule and consumer are removed.
CaseResult runNfqueueCase(const PuntEnv& env, NfqVerdictMode mode, std::uint16_t queueNum = 0);

// The reference row: the same traffic straight to the socket, nothing in between.
CaseResult runDirectCase(const PuntEnv& env);

}  // namespace xfp::bench::punt
