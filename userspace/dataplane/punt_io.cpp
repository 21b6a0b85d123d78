#include "userspace/dataplane/punt_io.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/veth.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "xfp/abi.h"

namespace xfp::dataplane {

// ---------------------------------------------------------------------------------------------
// XskReceiver

namespace {

constexpr uint32_t kFrames = 4096;
constexpr uint32_t kFrameSize = XSK_UMEM__DEFAULT_FRAME_SIZE;
constexpr uint32_t kRingSize = 2048;

uint32_t rxQueues(int ifindex) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  if (s.get() < 0 || if_indextoname(static_cast<unsigned>(ifindex), ifr.ifr_name) == nullptr) {
    return 1;
  }
  ethtool_channels ch{};
  ch.cmd = ETHTOOL_GCHANNELS;
  ifr.ifr_data = reinterpret_cast<char*>(&ch);
  if (::ioctl(s.get(), SIOCETHTOOL, &ifr) != 0) {
    return 1;
  }
  return std::clamp<uint32_t>(std::max(ch.rx_count, ch.combined_count), 1, XFP_XSK_QUEUES);
}

}  // namespace

struct XskReceiver::Queue {
  uint32_t queue = 0;
  void* area = nullptr;
  size_t areaSize = 0;
  // libxdp 1.3.1 leaves cached ring pointers uninitialised: zero-initialise (baselines.md).
  xsk_ring_prod fill{};
  xsk_ring_cons comp{};
  xsk_ring_cons rx{};
  xsk_umem* umem = nullptr;
  xsk_socket* xsk = nullptr;

  ~Queue() {
    if (xsk != nullptr) {
      xsk_socket__delete(xsk);
    }
    if (umem != nullptr) {
      xsk_umem__delete(umem);
    }
    if (area != nullptr) {
      ::munmap(area, areaSize);
    }
  }
};

BpfResult<std::unique_ptr<XskReceiver>> XskReceiver::open(int ifindex, int xsksMapFd) {
  std::unique_ptr<XskReceiver> r(new XskReceiver());
  r->ifindex_ = ifindex;
  r->mapFd_ = xsksMapFd;
  char name[IF_NAMESIZE] = {};
  if (if_indextoname(static_cast<unsigned>(ifindex), name) == nullptr) {
    return bpfFailure(-errno, "no interface with ifindex " + std::to_string(ifindex));
  }
  const uint32_t queues = rxQueues(ifindex);
  for (uint32_t q = 0; q < queues; ++q) {
    auto queue = std::make_unique<Queue>();
    queue->queue = q;
    queue->areaSize = static_cast<size_t>(kFrames) * kFrameSize;
    void* area = ::mmap(
        nullptr, queue->areaSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (area == MAP_FAILED) {
      return bpfFailure(-errno, "mmap AF_XDP umem");
    }
    queue->area = area;
    xsk_umem_config ucfg{};
    ucfg.fill_size = kRingSize;
    ucfg.comp_size = kRingSize;
    ucfg.frame_size = kFrameSize;
    ucfg.frame_headroom = 0;
    if (int err = xsk_umem__create(
            &queue->umem, area, queue->areaSize, &queue->fill, &queue->comp, &ucfg);
        err != 0) {
      return bpfFailure(err, "create AF_XDP umem");
    }
    xsk_socket_config scfg{};
    scfg.rx_size = kRingSize;
    scfg.tx_size = 0;
    scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
    scfg.bind_flags = XDP_COPY;
    if (int err = xsk_socket__create(&queue->xsk, name, q, queue->umem, &queue->rx, nullptr, &scfg);
        err != 0) {
      return bpfFailure(
          err, std::string("create AF_XDP socket on ") + name + " queue " + std::to_string(q));
    }
    // Hand every frame but the ones kept for nothing to the fill ring.
    uint32_t idx = 0;
    const uint32_t n = xsk_ring_prod__reserve(&queue->fill, kRingSize, &idx);
    for (uint32_t i = 0; i < n; ++i) {
      *xsk_ring_prod__fill_addr(&queue->fill, idx + i) = static_cast<uint64_t>(i) * kFrameSize;
    }
    xsk_ring_prod__submit(&queue->fill, n);
    const int fd = xsk_socket__fd(queue->xsk);
    if (int err = bpf_map_update_elem(xsksMapFd, &q, &fd, BPF_ANY); err != 0) {
      return bpfFailure(err, "register AF_XDP socket in xfp_xsks");
    }
    r->queues_.push_back(std::move(queue));
  }
  return r;
}

XskReceiver::~XskReceiver() {
  for (const auto& q : queues_) {
    uint32_t key = q->queue;
    bpf_map_delete_elem(mapFd_, &key);
  }
}

int XskReceiver::fd(size_t i) const {
  return xsk_socket__fd(queues_[i]->xsk);
}

size_t XskReceiver::receive(size_t i, std::vector<ReceivedFrame>& out, size_t max) {
  Queue& q = *queues_[i];
  uint32_t idx = 0;
  const uint32_t n = xsk_ring_cons__peek(&q.rx, static_cast<uint32_t>(max), &idx);
  if (n == 0) {
    return 0;
  }
  uint32_t fillIdx = 0;
  // The fill ring has room for every frame we take back (it held them before); should it not, the
  // frames stay out of the pool rather than this thread spinning forever.
  bool refill = false;
  for (int attempt = 0; attempt < 1000 && !refill; ++attempt) {
    refill = xsk_ring_prod__reserve(&q.fill, n, &fillIdx) == n;
  }
  for (uint32_t k = 0; k < n; ++k) {
    const xdp_desc* d = xsk_ring_cons__rx_desc(&q.rx, idx + k);
    const auto* data = static_cast<const uint8_t*>(xsk_umem__get_data(q.area, d->addr));
    ReceivedFrame f;
    f.bytes.assign(data, data + d->len);
    f.ifindex = static_cast<uint32_t>(ifindex_);
    f.queue = q.queue;
    f.inbound = true;
    out.push_back(std::move(f));
    if (refill) {
      *xsk_ring_prod__fill_addr(&q.fill, fillIdx + k) = xsk_umem__extract_addr(d->addr);
    }
  }
  xsk_ring_cons__release(&q.rx, n);
  if (refill) {
    xsk_ring_prod__submit(&q.fill, n);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// RingReceiver

BpfResult<std::unique_ptr<RingReceiver>> RingReceiver::open(int ringFd) {
  std::unique_ptr<RingReceiver> r(new RingReceiver());
  errno = 0;
  r->rb_ = ring_buffer__new(ringFd, &RingReceiver::onRecord, r.get(), nullptr);
  if (r->rb_ == nullptr) {
    return bpfFailure(-errno, "open the punt ring buffer");
  }
  return r;
}

RingReceiver::~RingReceiver() {
  ring_buffer__free(rb_);
}

int RingReceiver::epollFd() const {
  return ring_buffer__epoll_fd(rb_);
}

int RingReceiver::onRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingReceiver*>(ctx);
  if (size < sizeof(xfp_punt_hdr) || self->sink_ == nullptr) {
    return 0;
  }
  xfp_punt_hdr h{};
  std::memcpy(&h, data, sizeof h);
  if (h.cap_len > size - sizeof h) {
    return 0;  // a record that does not hold what it claims: ignore it (fail closed)
  }
  ReceivedFrame f;
  const auto* bytes = static_cast<const uint8_t*>(data) + sizeof h;
  f.bytes.assign(bytes, bytes + h.cap_len);
  f.ifindex = h.ifindex;
  f.reason = h.reason;
  f.mark = h.mark;
  f.sockCookie = h.sock_cookie;
  f.inbound = false;
  self->sink_->push_back(std::move(f));
  return 0;
}

size_t RingReceiver::consume(std::vector<ReceivedFrame>& out) {
  const size_t before = out.size();
  sink_ = &out;
  ring_buffer__consume(rb_);
  sink_ = nullptr;
  return out.size() - before;
}

// ---------------------------------------------------------------------------------------------
// FrameSender

BpfResult<FrameSender> FrameSender::open(int ifindex, bool bypassQdisc) {
  FrameSender s;
  s.ifindex_ = ifindex;
  s.fd_ = UniqueFd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));  // protocol 0: send only
  if (s.fd_.get() < 0) {
    return bpfFailure(-errno, "open an AF_PACKET socket");
  }
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_ifindex = ifindex;
  if (::bind(s.fd_.get(), reinterpret_cast<sockaddr*>(&ll), sizeof ll) != 0) {
    return bpfFailure(-errno, "bind an AF_PACKET socket to ifindex " + std::to_string(ifindex));
  }
  if (bypassQdisc) {
    int one = 1;
    if (::setsockopt(s.fd_.get(), SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) != 0) {
      return bpfFailure(-errno, "PACKET_QDISC_BYPASS");
    }
  }
  int buf = 4 << 20;
  ::setsockopt(s.fd_.get(), SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  return s;
}

size_t FrameSender::send(std::span<const std::span<const uint8_t>> frames) {
  constexpr size_t kBatch = 64;
  size_t sent = 0;
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_ifindex = ifindex_;
  ll.sll_halen = ETH_ALEN;
  for (size_t off = 0; off < frames.size(); off += kBatch) {
    const size_t n = std::min(kBatch, frames.size() - off);
    iovec iov[kBatch];
    mmsghdr msgs[kBatch];
    std::memset(msgs, 0, sizeof(mmsghdr) * n);
    for (size_t i = 0; i < n; ++i) {
      const auto& f = frames[off + i];
      iov[i].iov_base = const_cast<uint8_t*>(f.data());
      iov[i].iov_len = f.size();
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &ll;
      msgs[i].msg_hdr.msg_namelen = sizeof ll;
    }
    size_t done = 0;
    int attempts = 0;
    while (done < n && attempts++ < 16) {
      const int r = ::sendmmsg(fd_.get(), msgs + done, static_cast<unsigned>(n - done), 0);
      if (r > 0) {
        done += static_cast<size_t>(r);
      } else if (r < 0 && errno != EINTR && errno != EAGAIN && errno != ENOBUFS) {
        ++done;  // this frame is refused (e.g. too large): skip it, keep the others
      }
    }
    sent += done;
  }
  return sent;
}

// ---------------------------------------------------------------------------------------------
// InjectPort: a veth pair made with rtnetlink.

namespace {

int ethtoolValue(int ifindex, uint32_t cmd, uint32_t* value);

rtattr* nlAdd(nlmsghdr* h, unsigned short type, const void* data, size_t len) {
  auto* a = reinterpret_cast<rtattr*>(reinterpret_cast<char*>(h) + NLMSG_ALIGN(h->nlmsg_len));
  a->rta_type = type;
  a->rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
  if (len > 0) {
    std::memcpy(RTA_DATA(a), data, len);
  }
  h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
  return a;
}

void nlEnd(nlmsghdr* h, rtattr* nest) {
  nest->rta_len = static_cast<unsigned short>(reinterpret_cast<char*>(h) + h->nlmsg_len -
                                              reinterpret_cast<char*>(nest));
}

int nlTalk(nlmsghdr* h) {
  UniqueFd s(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (s.get() < 0) {
    return -errno;
  }
  h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  if (::sendto(s.get(), h, h->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
    return -errno;
  }
  char reply[4096];
  const ssize_t n = ::recv(s.get(), reply, sizeof reply, 0);
  if (n < 0) {
    return -errno;
  }
  auto* r = reinterpret_cast<nlmsghdr*>(reply);
  if (r->nlmsg_type == NLMSG_ERROR) {
    return static_cast<nlmsgerr*>(NLMSG_DATA(r))->error;
  }
  return 0;
}

int createVeth(const std::string& a, const std::string& b) {
  alignas(nlmsghdr) char buf[1024] = {};
  auto* h = reinterpret_cast<nlmsghdr*>(buf);
  h->nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  h->nlmsg_type = RTM_NEWLINK;
  h->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
  nlAdd(h, IFLA_IFNAME, a.c_str(), a.size() + 1);
  rtattr* linkinfo = nlAdd(h, IFLA_LINKINFO, nullptr, 0);
  nlAdd(h, IFLA_INFO_KIND, "veth", 4);
  rtattr* data = nlAdd(h, IFLA_INFO_DATA, nullptr, 0);
  rtattr* peer = nlAdd(h, VETH_INFO_PEER, nullptr, 0);
  h->nlmsg_len += sizeof(ifinfomsg);  // the peer's ifinfomsg (zeroed)
  nlAdd(h, IFLA_IFNAME, b.c_str(), b.size() + 1);
  nlEnd(h, peer);
  nlEnd(h, data);
  nlEnd(h, linkinfo);
  return nlTalk(h);
}

int deleteLink(const std::string& name) {
  alignas(nlmsghdr) char buf[256] = {};
  auto* h = reinterpret_cast<nlmsghdr*>(buf);
  h->nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
  h->nlmsg_type = RTM_DELLINK;
  nlAdd(h, IFLA_IFNAME, name.c_str(), name.size() + 1);
  return nlTalk(h);
}

int setUp(const std::string& name) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IF_NAMESIZE - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) {
    return -errno;
  }
  ifr.ifr_flags |= IFF_UP;
  return ::ioctl(s.get(), SIOCSIFFLAGS, &ifr) == 0 ? 0 : -errno;
}

}  // namespace

BpfResult<std::unique_ptr<InjectPort>> InjectPort::create(const std::string& tag,
                                                          int injectProgFd,
                                                          int targetsMapFd) {
  std::unique_ptr<InjectPort> p(new InjectPort());
  p->near_ = "xfpi" + tag.substr(0, 10);
  p->far_ = "xfpj" + tag.substr(0, 10);
  p->targetsFd_ = targetsMapFd;
  deleteLink(p->near_);  // a leftover of a crashed run
  if (int err = createVeth(p->near_, p->far_); err != 0) {
    p->near_.clear();
    return bpfFailure(err, "create the injection veth pair " + p->near_);
  }
  for (const std::string& n : {p->near_, p->far_}) {
    if (int err = setUp(n); err != 0) {
      return bpfFailure(err, "bring up " + n);
    }
  }
  const int farIndex = static_cast<int>(if_nametoindex(p->far_.c_str()));
  {
    // GRO on the far end puts veth in NAPI mode: injected frames are received in batches from a
    // ring instead of one by one through the backlog queue.
    uint32_t on = 1;
    (void)ethtoolValue(farIndex, ETHTOOL_SGRO, &on);
  }
  const int nearIndex = static_cast<int>(if_nametoindex(p->near_.c_str()));
  auto a = TcAttachment::attach(farIndex, injectProgFd, "xfp_tc_inject", BPF_TC_INGRESS);
  if (!a) {
    return tl::unexpected(a.error());
  }
  p->attachment_ = std::make_unique<TcAttachment>(std::move(*a));
  auto s = FrameSender::open(nearIndex, false);
  if (!s) {
    return tl::unexpected(s.error());
  }
  p->sender_ = std::make_unique<FrameSender>(std::move(*s));
  return p;
}

InjectPort::~InjectPort() {
  attachment_.reset();
  for (const auto& [key, slot] : slots_) {
    uint32_t k = slot;
    xfp_inject_target none{};
    bpf_map_update_elem(targetsFd_, &k, &none, BPF_ANY);
  }
  if (!near_.empty()) {
    deleteLink(near_);
  }
}

BpfResult<uint16_t> InjectPort::slotFor(int ifindex, uint32_t mark) {
  const uint64_t key = (static_cast<uint64_t>(ifindex) << 32) | mark;
  for (const auto& [k, slot] : slots_) {
    if (k == key) {
      return slot;
    }
  }
  // Slots are per process: each runtime uses its own range start so two runtimes in one
  // namespace do not collide (they have separate maps anyway).
  if (slots_.size() >= 4094) {
    return bpfFailure(-ENOSPC, "no free injection slot");
  }
  const auto slot = static_cast<uint16_t>(slots_.size() + 1);
  uint32_t k = slot;
  xfp_inject_target t{static_cast<uint32_t>(ifindex), mark};
  if (int err = bpf_map_update_elem(targetsFd_, &k, &t, BPF_ANY); err != 0) {
    return bpfFailure(err, "write xfp_inj_targets");
  }
  slots_.emplace_back(key, slot);
  return slot;
}

void InjectPort::tagInPlace(std::vector<uint8_t>& frame, uint16_t slot) {
  if (frame.size() < 14) {
    return;
  }
  const uint8_t tag[4] = {
      0x81, 0x00, static_cast<uint8_t>(slot >> 8), static_cast<uint8_t>(slot & 0xff)};
  frame.insert(frame.begin() + 12, tag, tag + 4);
}

size_t InjectPort::deliverTagged(std::span<const std::span<const uint8_t>> frames) {
  return sender_->send(frames);
}

// ---------------------------------------------------------------------------------------------
// Offloads and checksums

namespace {

int ethtoolValue(int ifindex, uint32_t cmd, uint32_t* value) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq ifr{};
  if (s.get() < 0 || if_indextoname(static_cast<unsigned>(ifindex), ifr.ifr_name) == nullptr) {
    return -ENODEV;
  }
  ethtool_value v{};
  v.cmd = cmd;
  v.data = *value;
  ifr.ifr_data = reinterpret_cast<char*>(&v);
  if (::ioctl(s.get(), SIOCETHTOOL, &ifr) != 0) {
    return -errno;
  }
  *value = v.data;
  return 0;
}

}  // namespace

BpfResult<OffloadState> disableSegmentationOffloads(int ifindex) {
  OffloadState st;
  st.ifindex = ifindex;
  if (int err = ethtoolValue(ifindex, ETHTOOL_GTSO, &st.tso); err != 0) {
    return bpfFailure(err, "read TSO state");
  }
  if (int err = ethtoolValue(ifindex, ETHTOOL_GGSO, &st.gso); err != 0) {
    return bpfFailure(err, "read GSO state");
  }
  uint32_t off = 0;
  if (int err = ethtoolValue(ifindex, ETHTOOL_STSO, &off); err != 0) {
    return bpfFailure(err, "turn TSO off");
  }
  off = 0;
  if (int err = ethtoolValue(ifindex, ETHTOOL_SGSO, &off); err != 0) {
    return bpfFailure(err, "turn GSO off");
  }
  return st;
}

void restoreOffloads(const OffloadState& state) {
  uint32_t v = state.tso;
  ethtoolValue(state.ifindex, ETHTOOL_STSO, &v);
  v = state.gso;
  ethtoolValue(state.ifindex, ETHTOOL_SGSO, &v);
}

namespace {

uint32_t sum16(const uint8_t* p, size_t n, uint32_t acc) {
  for (size_t i = 0; i + 1 < n; i += 2) {
    acc += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  }
  if ((n & 1) != 0) {
    acc += static_cast<uint32_t>(p[n - 1] << 8);
  }
  return acc;
}

uint16_t fold(uint32_t acc) {
  while ((acc >> 16) != 0) {
    acc = (acc & 0xffff) + (acc >> 16);
  }
  return static_cast<uint16_t>(~acc & 0xffff);
}

void put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v & 0xff);
}

}  // namespace

void finalizeChecksums(std::span<uint8_t> f) {
  size_t l3 = 14;
  if (f.size() < l3 + 20) {
    return;
  }
  uint16_t type = static_cast<uint16_t>(f[12] << 8 | f[13]);
  while ((type == 0x8100 || type == 0x88a8) && f.size() >= l3 + 4 + 20) {
    type = static_cast<uint16_t>(f[l3 + 2] << 8 | f[l3 + 3]);
    l3 += 4;
  }
  uint8_t proto = 0;
  size_t l4 = 0;
  size_t l4len = 0;
  uint32_t pseudo = 0;
  uint8_t* ip = f.data() + l3;
  if (type == 0x0800 && (ip[0] >> 4) == 4) {
    const size_t ihl = static_cast<size_t>(ip[0] & 0xf) * 4;
    const size_t total = static_cast<size_t>(ip[2] << 8 | ip[3]);
    if (ihl < 20 || l3 + total > f.size() || total < ihl) {
      return;
    }
    put16(ip + 10, 0);
    put16(ip + 10, fold(sum16(ip, ihl, 0)));
    if ((ip[6] & 0x1f) != 0 || ip[7] != 0 || (ip[6] & 0x20) != 0) {
      return;  // a fragment: the transport checksum spans all fragments
    }
    proto = ip[9];
    l4 = l3 + ihl;
    l4len = total - ihl;
    pseudo = sum16(ip + 12, 8, 0) + proto + static_cast<uint32_t>(l4len);
  } else if (type == 0x86dd && f.size() >= l3 + 40) {
    proto = ip[6];  // extension headers are left alone (no checksum fix behind them)
    l4 = l3 + 40;
    l4len = static_cast<size_t>(ip[4] << 8 | ip[5]);
    if (l4 + l4len > f.size()) {
      return;
    }
    pseudo = sum16(ip + 8, 32, 0) + proto + static_cast<uint32_t>(l4len);
  } else {
    return;
  }
  uint8_t* t = f.data() + l4;
  size_t csumOff = 0;
  if (proto == 6 && l4len >= 20) {
    csumOff = 16;
  } else if (proto == 17 && l4len >= 8) {
    csumOff = 6;
  } else if (proto == 58 && l4len >= 4) {
    csumOff = 2;
  } else if (proto == 1 && l4len >= 4) {
    put16(t + 2, 0);
    put16(t + 2, fold(sum16(t, l4len, 0)));
    return;
  } else {
    return;
  }
  put16(t + csumOff, 0);
  uint16_t c = fold(sum16(t, l4len, pseudo));
  if (proto == 17 && c == 0) {
    c = 0xffff;
  }
  put16(t + csumOff, c);
}

}  // namespace xfp::dataplane
