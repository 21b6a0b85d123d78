#include "bench/punt/nfqueue_case.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <poll.h>
#include <sys/socket.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>
#include <vector>

#include <fmt/format.h>

namespace xfp::bench::punt {
namespace {

// What the kernel says about one queue (/proc/net/netfilter/nfnetlink_queue, read from inside the
// namespace): packets waiting, dropped because the queue was full, dropped because netlink could
// not deliver them to the consumer.
struct QueueStats {
  std::uint64_t total = 0, queueDropped = 0, userDropped = 0;
};

std::optional<QueueStats> queueStats(const std::string& ns, std::uint16_t queueNum) {
  std::optional<QueueStats> out;
  (void)test::VethNamespaces::runIn(ns, [&] {
    std::ifstream in("/proc/thread-self/net/netfilter/nfnetlink_queue");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream ls(line);
      unsigned num = 0, portid = 0, mode = 0, range = 0;
      QueueStats s;
      if (ls >> num >> portid >> s.total >> mode >> range >> s.queueDropped >> s.userDropped &&
          num == queueNum) {
        out = s;
      }
    }
  });
  return out;
}

// nfnetlink_queue consumer on a thread of its own inside namespace A.
class NfqConsumer {
 public:
  ~NfqConsumer() { stop(); }

  // Binds queue queueNum in namespace ns and configures it; returns once the queue is bound ("")
  // or could not be (the error).
  std::string start(const std::string& ns, std::uint16_t queueNum, NfqVerdictMode mode, int cpu) {
    queueNum_ = queueNum;
    mode_ = mode;
    cpu_ = cpu;
    std::promise<std::string> ready;
    std::future<std::string> bound = ready.get_future();
    thread_ = std::thread([this, ns, &ready] { run(ns, ready); });
    std::string err = bound.get();
    if (!err.empty()) {
      stop();
    }
    return err;
  }

  void stop() {
    stop_.store(true);
    if (thread_.joinable()) {
      thread_.join();
    }
  }

  std::uint64_t packets() const { return packets_.load(); }
  std::uint64_t verdictMsgs() const { return verdictMsgs_.load(); }
  std::uint64_t errors() const { return errors_.load(); }

 private:
  static nlmsghdr* putHeader(char* buf, std::uint16_t type, std::uint16_t queueNum, bool ack) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = static_cast<std::uint16_t>((NFNL_SUBSYS_QUEUE << 8) | type);
    nlh->nlmsg_flags = static_cast<std::uint16_t>(NLM_F_REQUEST | (ack ? NLM_F_ACK : 0));
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = AF_UNSPEC;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = htons(queueNum);
    return nlh;
  }

  // Sends a request with NLM_F_ACK and reads the answer; "" or the error.
  std::string request(mnl_socket* nl, nlmsghdr* nlh, const char* what) {
    const unsigned portid = mnl_socket_get_portid(nl);
    nlh->nlmsg_seq = ++seq_;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
      return fmt::format("{}: send: {}", what, std::strerror(errno));
    }
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
    if (n < 0) {
      return fmt::format("{}: recv: {}", what, std::strerror(errno));
    }
    if (mnl_cb_run(buf.data(), static_cast<size_t>(n), seq_, portid, nullptr, nullptr) < 0) {
      return fmt::format("{}: {}", what, std::strerror(errno));
    }
    return {};
  }

  std::string configure(mnl_socket* nl) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    // Bind the queue (the PF_BIND/UNBIND commands are no-ops since Linux 3.8).
    nlmsghdr* nlh = putHeader(buf.data(), NFQNL_MSG_CONFIG, queueNum_, true);
    nfqnl_msg_config_cmd cmd{};
    cmd.command = NFQNL_CFG_CMD_BIND;
    cmd.pf = htons(AF_INET);
    mnl_attr_put(nlh, NFQA_CFG_CMD, sizeof cmd, &cmd);
    if (std::string e = request(nl, nlh, "NFQNL_CFG_CMD_BIND"); !e.empty()) {
      return e;
    }
    // Copy the whole packet; queue up to 8192 packets; fail-open off (a full queue drops).
    nlh = putHeader(buf.data(), NFQNL_MSG_CONFIG, queueNum_, true);
    nfqnl_msg_config_params params{};
    params.copy_range = htonl(0xffff);
    params.copy_mode = NFQNL_COPY_PACKET;
    mnl_attr_put(nlh, NFQA_CFG_PARAMS, sizeof params, &params);
    mnl_attr_put_u32(nlh, NFQA_CFG_QUEUE_MAXLEN, htonl(8192));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_FAIL_OPEN));
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(0));
    return request(nl, nlh, "NFQNL_MSG_CONFIG params");
  }

  void run(const std::string& ns, std::promise<std::string>& ready) {
    if (std::string e = enterNetns(ns); !e.empty()) {
      ready.set_value(e);
      return;
    }
    if (std::string e = pinThisThread(cpu_); !e.empty()) {
      ready.set_value(e);
      return;
    }
    mnl_socket* nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    if (nl == nullptr) {
      ready.set_value(fmt::format("mnl_socket_open: {}", std::strerror(errno)));
      return;
    }
    const int fd = mnl_socket_get_fd(nl);
    const int rcvbuf = 64 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
    std::string err;
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
      err = fmt::format("mnl_socket_bind: {}", std::strerror(errno));
    } else {
      err = configure(nl);
    }
    if (!err.empty()) {
      mnl_socket_close(nl);
      ready.set_value(err);
      return;
    }
    // Overruns show in the queue's user_dropped count; do not turn them into recv errors.
    const int one = 1;
    setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
    ready.set_value({});
    consume(nl);
    mnl_socket_close(nl);  // closing the socket unbinds the queue
  }

  void sendVerdict(mnl_socket* nl, std::uint32_t id, bool batch) {
    char buf[128];
    nlmsghdr* nlh = putHeader(
        buf, batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT, queueNum_, /*ack=*/false);
    nfqnl_msg_verdict_hdr vh{};
    vh.verdict = htonl(NF_ACCEPT);
    vh.id = htonl(id);
    mnl_attr_put(nlh, NFQA_VERDICT_HDR, sizeof vh, &vh);
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
      errors_.fetch_add(1, std::memory_order_relaxed);
    } else {
      verdictMsgs_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void consume(mnl_socket* nl) {
    const int fd = mnl_socket_get_fd(nl);
    constexpr int kBatch = 64;  // messages per recvmmsg = packets per batched verdict at most
    constexpr std::size_t kBuf = 4096;
    std::vector<char> bufs(kBatch * kBuf);
    mmsghdr msgs[kBatch];
    iovec iov[kBatch];
    const bool batched = mode_ == NfqVerdictMode::Batched;
    std::uint32_t checksum = 0;  // what the "callout" looked at, so the reads are not elided
    while (!stop_.load()) {
      for (int i = 0; i < kBatch; ++i) {
        iov[i] = {&bufs[i * kBuf], kBuf};
        msgs[i] = {};
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      const int n = ::recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          errors_.fetch_add(1, std::memory_order_relaxed);
        }
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 50);  // drained: wait (bounded, to look at stop_)
        continue;
      }
      std::uint32_t maxId = 0;
      std::uint32_t pending = 0;
      for (int i = 0; i < n; ++i) {
        auto* nlh = reinterpret_cast<nlmsghdr*>(&bufs[i * kBuf]);
        int len = static_cast<int>(msgs[i].msg_len);
        for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
          if (nlh->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) {
            if (nlh->nlmsg_type == NLMSG_ERROR) {
              errors_.fetch_add(1, std::memory_order_relaxed);
            }
            continue;
          }
          std::uint32_t id = 0;
          bool haveId = false;
          auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
          for (auto* attr =
                   static_cast<nlattr*>(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)));
               mnl_attr_ok(attr, static_cast<int>(tail - reinterpret_cast<const char*>(attr)));
               attr = mnl_attr_next(attr)) {
            const auto type = mnl_attr_get_type(attr);
            if (type == NFQA_PACKET_HDR) {
              nfqnl_msg_packet_hdr ph{};
              std::memcpy(&ph, mnl_attr_get_payload(attr), sizeof ph);
              id = ntohl(ph.packet_id);
              haveId = true;
            } else if (type == NFQA_PAYLOAD && mnl_attr_get_payload_len(attr) >= 24) {
              // The callout's look at the packet: the IPv4 source and the UDP ports.
              const auto* ip = static_cast<const std::uint8_t*>(mnl_attr_get_payload(attr));
              std::uint32_t w = 0;
              std::memcpy(&w, ip + 12, 4);
              checksum += w;
              std::memcpy(&w, ip + 20, 4);
              checksum += w;
            }
          }
          if (!haveId) {
            continue;
          }
          packets_.fetch_add(1, std::memory_order_relaxed);
          if (batched) {
            maxId = std::max(maxId, id);
            ++pending;
          } else {
            sendVerdict(nl, id, false);
          }
        }
      }
      if (batched && pending > 0) {
        sendVerdict(nl, maxId, true);  // accepts every queued id <= maxId
      }
    }
    sink_.store(checksum, std::memory_order_relaxed);
  }

  std::uint16_t queueNum_ = 0;
  int cpu_ = -1;
  NfqVerdictMode mode_ = NfqVerdictMode::Batched;
  std::uint32_t seq_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> packets_{0}, verdictMsgs_{0}, errors_{0};
  std::atomic<std::uint32_t> sink_{0};
};

std::string iptables(const std::string& ns, const std::string& args) {
  // iptables-nft (Debian's default) with the xtables NFQUEUE target through nft_compat; fall
  // back to the legacy backend when that fails.
  for (const char* bin : {"iptables", "iptables-legacy"}) {
    if (test::VethNamespaces::run(fmt::format("ip netns exec {} {} -w 5 {}", ns, bin, args), 20) ==
        0) {
      return bin;
    }
  }
  return {};
}

}  // namespace

CaseResult runNfqueueCase(const PuntEnv& env, NfqVerdictMode mode, std::uint16_t queueNum) {
  NfqConsumer consumer;
  if (std::string e = consumer.start(env.nsA, queueNum, mode, env.appCpu); !e.empty()) {
    CaseResult r;
    r.error = "nfqueue consumer: " + e;
    return r;
  }
  const std::string rule = fmt::format(
      "-t raw -{{}} PREROUTING -p udp --dport {} -j NFQUEUE --queue-num {}", env.dport, queueNum);
  const std::string bin = iptables(env.nsA, fmt::format(fmt::runtime(rule), "A"));
  if (bin.empty()) {
    CaseResult r;
    r.error = "iptables -t raw ... -j NFQUEUE failed";
    return r;
  }
  const std::optional<QueueStats> q0 = queueStats(env.nsA, queueNum);
  const std::uint64_t p0 = consumer.packets();
  const std::uint64_t v0 = consumer.verdictMsgs();
  CaseResult r = measureThroughput(env);
  const std::uint64_t p1 = consumer.packets();
  const std::uint64_t v1 = consumer.verdictMsgs();
  const std::optional<QueueStats> q1 = queueStats(env.nsA, queueNum);
  if (r.error.empty()) {
    r.latency = measureLatency(env);
  }
  // The rule goes before the consumer: with the rule and no consumer the packets would be dropped.
  (void)test::VethNamespaces::run(fmt::format(
      "ip netns exec {} {} -w 5 {}", env.nsA, bin, fmt::format(fmt::runtime(rule), "D")));
  consumer.stop();
  const double pk = static_cast<double>(p1 - p0);
  r.detail = fmt::format("{}; {:.1f} packets per verdict message",
                         bin,
                         v1 > v0 ? pk / static_cast<double>(v1 - v0) : 0.0);
  if (q0 && q1) {
    r.detail += fmt::format("; queue full drops {}, netlink drops {}",
                            q1->queueDropped - q0->queueDropped,
                            q1->userDropped - q0->userDropped);
  }
  if (consumer.errors() > 0) {
    r.detail += fmt::format("; {} netlink errors", consumer.errors());
  }
  return r;
}

CaseResult runDirectCase(const PuntEnv& env) {
  CaseResult r = measureThroughput(env);
  if (r.error.empty()) {
    r.latency = measureLatency(env);
  }
  r.detail = "no consumer: the stack's own cost";
  return r;
}

}  // namespace xfp::bench::punt
