// The kernel ends of the punt path, as plain I/O objects (no WFP semantics here):
//   XskReceiver   AF_XDP sockets (libxdp xsk API, copy mode, receive only) on every receive
//                 queue of one interface, registered in xfp_xsks: frames XDP punts arrive here.
//   RingReceiver  the tc-egress punt ring buffer (xfp_punt_rb): stolen frames arrive here.
//   FrameSender   an AF_PACKET socket that sends whole frames out of one interface below tc
//                 (PACKET_QDISC_BYPASS: xfp's egress layers do not see them again).
//   InjectPort    a veth pair of the runtime's own in the interface's namespace; a frame sent
//                 into it with an 802.1Q tag = slot is delivered by xfp_tc_inject into the ingress
//                 of xfp_inj_targets[slot].ifindex: inbound reinjection into the local stack.
// Objects that name an interface must be created on a thread inside that interface's network
// namespace (their sockets keep it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "userspace/dataplane/bpf_error.h"
#include "userspace/dataplane/tc_attachment.h"
#include "userspace/dataplane/unique_fd.h"

struct xsk_socket;
struct xsk_umem;
struct ring_buffer;

namespace xfp::dataplane {

struct ReceivedFrame {
  std::vector<uint8_t> bytes;
  uint32_t ifindex = 0;
  uint32_t queue = 0;
  uint32_t reason = 0;  // XFP_PUNT_* (ring buffer only; 0 from AF_XDP)
  uint32_t mark = 0;
  uint64_t sockCookie = 0;  // the sending socket (ring buffer only; 0: none)
  bool inbound = true;
};

class XskReceiver {
 public:
  // One socket per receive queue of `ifindex` (ETHTOOL_GCHANNELS), each put into xsksMapFd.
  [[nodiscard]] static BpfResult<std::unique_ptr<XskReceiver>> open(int ifindex, int xsksMapFd);
  ~XskReceiver();
  XskReceiver(const XskReceiver&) = delete;
  XskReceiver& operator=(const XskReceiver&) = delete;

  [[nodiscard]] size_t sockets() const { return queues_.size(); }
  [[nodiscard]] int fd(size_t i) const;
  // Copies up to `max` frames of socket i into `out` (appended) and returns their number.
  size_t receive(size_t i, std::vector<ReceivedFrame>& out, size_t max);

 private:
  struct Queue;
  XskReceiver() = default;
  int ifindex_ = 0;
  int mapFd_ = -1;
  std::vector<std::unique_ptr<Queue>> queues_;
};

class RingReceiver {
 public:
  [[nodiscard]] static BpfResult<std::unique_ptr<RingReceiver>> open(int ringFd);
  ~RingReceiver();
  RingReceiver(const RingReceiver&) = delete;
  RingReceiver& operator=(const RingReceiver&) = delete;

  [[nodiscard]] int epollFd() const;
  // Appends every record available now to `out`; returns their number.
  size_t consume(std::vector<ReceivedFrame>& out);

 private:
  RingReceiver() = default;
  static int onRecord(void* ctx, void* data, size_t size);
  ring_buffer* rb_ = nullptr;
  std::vector<ReceivedFrame>* sink_ = nullptr;
};

class FrameSender {
 public:
  // bypassQdisc: send below tc egress (outbound reinjection).
  [[nodiscard]] static BpfResult<FrameSender> open(int ifindex, bool bypassQdisc);
  // Sends every frame (sendmmsg, in batches); returns how many the kernel took.
  size_t send(std::span<const std::span<const uint8_t>> frames);
  [[nodiscard]] int ifindex() const { return ifindex_; }

 private:
  UniqueFd fd_;
  int ifindex_ = 0;
};

class InjectPort {
 public:
  // Creates the veth pair (names from `tag`, <= 10 chars), attaches xfp_tc_inject (injectProgFd)
  // to the far end's ingress and opens a sender on the near end.
  [[nodiscard]] static BpfResult<std::unique_ptr<InjectPort>> create(const std::string& tag,
                                                                     int injectProgFd,
                                                                     int targetsMapFd);
  ~InjectPort();
  InjectPort(const InjectPort&) = delete;
  InjectPort& operator=(const InjectPort&) = delete;

  // The slot (VLAN id 1..4094) that delivers into `ifindex` with skb->mark = mark.
  [[nodiscard]] BpfResult<uint16_t> slotFor(int ifindex, uint32_t mark);
  // Delivers Ethernet frames, each tagged first with tagInPlace(frame, slot), into the ingress of
  // their slot's interface (one sendmmsg per 64 frames).
  static void tagInPlace(std::vector<uint8_t>& frame, uint16_t slot);
  size_t deliverTagged(std::span<const std::span<const uint8_t>> frames);

 private:
  InjectPort() = default;
  std::string near_;
  std::string far_;
  int targetsFd_ = -1;
  std::unique_ptr<FrameSender> sender_;
  std::unique_ptr<TcAttachment> attachment_;
  std::vector<std::pair<uint64_t, uint16_t>> slots_;  // (ifindex << 32 | mark) -> slot
};

// Turns off TSO/GSO on an interface so tc egress sees wire-sized frames (a callout is shown
// frames, not super-packets: FWP_CALLOUT_FLAG_ALLOW_OFFLOAD is not honoured). Returns the
// previous state for restoreOffloads.
struct OffloadState {
  int ifindex = 0;
  uint32_t tso = 0;
  uint32_t gso = 0;
};
[[nodiscard]] BpfResult<OffloadState> disableSegmentationOffloads(int ifindex);
void restoreOffloads(const OffloadState& state);

// Fills in the TCP/UDP/ICMPv6 checksum (and the IPv4 header checksum) of an Ethernet frame:
// frames taken from the egress path carry only a partial checksum (offload).
void finalizeChecksums(std::span<uint8_t> frame);

}  // namespace xfp::dataplane
