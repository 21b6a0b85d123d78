// Integration: the FWPS surface a callout sees, on real punted traffic, with callouts registered
// in-process: the incoming values and metadata at the transport layer, classifyFn0 and
// classifyFn2 registrations, packet tags carried from the IP-packet layer to the transport layer
// (and their removal notifications), and the four injection functions -- inbound injections
// arriving as if on the original interface (IP_PKTINFO), outbound ones leaving through it, and
// FwpsQueryPacketInjectionState0 on the injected lists.
#include <arpa/inet.h>
#include <fwpsk.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/harness/callout_env.h"
#include "tests/harness/sockets.h"
#include "tests/harness/test_env.h"

namespace xfp::test {
namespace {

using namespace std::chrono_literals;

// {0b8e3f71-6c2a-4d95-a1e4-3f7c9d2b5a01} .. 03
constexpr GUID kKeyA = {
    0x0b8e3f71, 0x6c2a, 0x4d95, {0xa1, 0xe4, 0x3f, 0x7c, 0x9d, 0x2b, 0x5a, 0x01}};
constexpr GUID kKeyB = {
    0x0b8e3f71, 0x6c2a, 0x4d95, {0xa1, 0xe4, 0x3f, 0x7c, 0x9d, 0x2b, 0x5a, 0x02}};
constexpr const char* kTextA = "0b8e3f71-6c2a-4d95-a1e4-3f7c9d2b5a01";
constexpr const char* kTextB = "0b8e3f71-6c2a-4d95-a1e4-3f7c9d2b5a02";

std::string filterJson(const char* name,
                       const char* layer,
                       const char* callout,
                       const std::string& conditions) {
  return std::string(R"({"name": ")") + name + R"(", "layer": ")" + layer +
         R"(", "action": "callout_terminating", "callout": ")" + callout + R"(", "conditions": [)" +
         conditions + "]}";
}

std::string policy(const std::vector<std::pair<const char*, const char*>>& callouts,
                   const std::vector<std::string>& filters) {
  std::string j = R"({"xfp_policy": 1, "callouts": [)";
  for (size_t i = 0; i < callouts.size(); ++i) {
    j += std::string(i ? "," : "") + R"({"key": ")" + callouts[i].first + R"(", "name": ")" +
         callouts[i].first + R"(", "layer": ")" + callouts[i].second + R"("})";
  }
  j += R"(], "filters": [)";
  for (size_t i = 0; i < filters.size(); ++i) {
    j += (i ? "," : "") + filters[i];
  }
  return j + "]}";
}

const std::string kUdpPort =
    R"({"field": "IP_PROTOCOL", "value": "udp"}, {"field": "IP_LOCAL_PORT", "value": )";
const std::string kUdpRemotePort =
    R"({"field": "IP_PROTOCOL", "value": "udp"}, {"field": "IP_REMOTE_PORT", "value": )";

class CalloutApi : public ::testing::Test {
 protected:
  void SetUp() override { XFP_REQUIRE_ROOT(); }
  void TearDown() override {
    for (UINT32 id : ids_) {
      EXPECT_EQ(FwpsCalloutUnregisterById0(id), STATUS_SUCCESS);
    }
    env_.tearDown();
  }
  CalloutEnv env_;
  std::vector<UINT32> ids_;
};

// --- incoming values and metadata, classifyFn0 ---------------------------------------------

struct Seen {
  std::mutex mu;
  UINT16 layerId = 0;
  UINT32 valueCount = 0;
  UINT32 localAddr = 0, remoteAddr = 0;
  UINT16 localPort = 0, remotePort = 0;
  UINT8 protocol = 0;
  UINT64 localInterface = 0;
  UINT32 metaPresent = 0;
  UINT64 flowHandle = 0;
  UINT32 ipHeaderSize = 0, transportHeaderSize = 0, sourceInterface = 0;
  std::string data;
  UINT32 rights = 0;
  int calls = 0;
} gSeen;

void recordingClassify0(const FWPS_INCOMING_VALUES0* in,
                        const FWPS_INCOMING_METADATA_VALUES0* meta,
                        void* layerData,
                        const FWPS_FILTER0* filter,
                        UINT64,
                        FWPS_CLASSIFY_OUT0* out) {
  std::lock_guard lock(gSeen.mu);
  gSeen.calls++;
  gSeen.layerId = in->layerId;
  gSeen.valueCount = in->valueCount;
  const FWPS_INCOMING_VALUE0* v = in->incomingValue;
  gSeen.localAddr = v[FWPS_FIELD_INBOUND_TRANSPORT_V4_IP_LOCAL_ADDRESS].value.uint32;
  gSeen.remoteAddr = v[FWPS_FIELD_INBOUND_TRANSPORT_V4_IP_REMOTE_ADDRESS].value.uint32;
  gSeen.localPort = v[FWPS_FIELD_INBOUND_TRANSPORT_V4_IP_LOCAL_PORT].value.uint16;
  gSeen.remotePort = v[FWPS_FIELD_INBOUND_TRANSPORT_V4_IP_REMOTE_PORT].value.uint16;
  gSeen.protocol = v[FWPS_FIELD_INBOUND_TRANSPORT_V4_IP_PROTOCOL].value.uint8;
  const FWP_VALUE0& li = v[FWPS_FIELD_INBOUND_TRANSPORT_V4_IP_LOCAL_INTERFACE].value;
  gSeen.localInterface = li.type == FWP_UINT64 ? *li.uint64 : 0;
  gSeen.metaPresent = meta->currentMetadataValues;
  gSeen.flowHandle = meta->flowHandle;
  gSeen.ipHeaderSize = meta->ipHeaderSize;
  gSeen.transportHeaderSize = meta->transportHeaderSize;
  gSeen.sourceInterface = meta->sourceInterfaceIndex;
  NET_BUFFER* nb = NET_BUFFER_LIST_FIRST_NB(static_cast<NET_BUFFER_LIST*>(layerData));
  const ULONG len = NET_BUFFER_DATA_LENGTH(nb);
  gSeen.data.assign(static_cast<const char*>(NdisGetDataBuffer(nb, len, nullptr, 1, 0)), len);
  gSeen.rights = out->rights;
  (void)filter;
  out->actionType = FWP_ACTION_PERMIT;
}

TEST_F(CalloutApi, IncomingValuesAndMetadataAtInboundTransport) {
  ASSERT_EQ(
      env_.setUp(policy({{kTextA, "INBOUND_TRANSPORT_V4"}},
                        {filterJson("a", "INBOUND_TRANSPORT_V4", kTextA, kUdpPort + "7601}")})),
      "");
  FWPS_CALLOUT0 c{};
  c.calloutKey = kKeyA;
  c.classifyFn = recordingClassify0;
  UINT32 id = 0;
  ASSERT_EQ(FwpsCalloutRegister0(nullptr, &c, &id), STATUS_SUCCESS);
  ids_.push_back(id);
  EXPECT_EQ(env_.udpToA(7601, {"payload-1"}), (std::vector<std::string>{"payload-1"}));
  std::lock_guard lock(gSeen.mu);
  EXPECT_EQ(gSeen.calls, 1);
  EXPECT_EQ(gSeen.layerId, FWPS_LAYER_INBOUND_TRANSPORT_V4);
  EXPECT_EQ(gSeen.valueCount, static_cast<UINT32>(FWPS_FIELD_INBOUND_TRANSPORT_V4_MAX));
  EXPECT_EQ(gSeen.localAddr, 0x0AC70001u);  // 10.199.0.1, host order
  EXPECT_EQ(gSeen.remoteAddr, 0x0AC70002u);
  EXPECT_EQ(gSeen.localPort, 7601);
  EXPECT_NE(gSeen.remotePort, 0);
  EXPECT_EQ(gSeen.protocol, 17);
  EXPECT_EQ(gSeen.localInterface, static_cast<UINT64>(env_.ifindexA()));
  EXPECT_NE(gSeen.metaPresent & FWPS_METADATA_FIELD_FLOW_HANDLE, 0u);
  EXPECT_NE(gSeen.flowHandle, 0u);
  EXPECT_NE(gSeen.metaPresent & FWPS_METADATA_FIELD_IP_HEADER_SIZE, 0u);
  EXPECT_EQ(gSeen.ipHeaderSize, 20u);
  EXPECT_NE(gSeen.metaPresent & FWPS_METADATA_FIELD_TRANSPORT_HEADER_SIZE, 0u);
  EXPECT_EQ(gSeen.transportHeaderSize, 8u);
  EXPECT_NE(gSeen.metaPresent & FWPS_METADATA_FIELD_SOURCE_INTERFACE_INDEX, 0u);
  EXPECT_EQ(gSeen.sourceInterface, static_cast<UINT32>(env_.ifindexA()));
  EXPECT_EQ(gSeen.metaPresent & FWPS_METADATA_FIELD_PROCESS_ID, 0u);  // not at packet level
  EXPECT_EQ(gSeen.data, "payload-1");  // inbound transport: the data starts at the payload
  EXPECT_EQ(gSeen.rights, static_cast<UINT32>(FWPS_RIGHT_ACTION_WRITE));
}

// --- classifyFn2 -----------------------------------------------------------------------------

std::atomic<int> gClassify2{0};
void blockingClassify2(const FWPS_INCOMING_VALUES0*,
                       const FWPS_INCOMING_METADATA_VALUES0*,
                       void*,
                       const void* classifyContext,
                       const FWPS_FILTER2* filter,
                       UINT64,
                       FWPS_CLASSIFY_OUT0* out) {
  if (classifyContext != nullptr && filter != nullptr && filter->filterId != 0) {
    gClassify2++;
  }
  out->actionType = FWP_ACTION_BLOCK;
}

TEST_F(CalloutApi, ClassifyFn2RegistrationDecides) {
  ASSERT_EQ(env_.setUp(policy(
                {{kTextA, "OUTBOUND_TRANSPORT_V4"}},
                {filterJson("a", "OUTBOUND_TRANSPORT_V4", kTextA, kUdpRemotePort + "7611}")})),
            "");
  FWPS_CALLOUT2 c{};
  c.calloutKey = kKeyA;
  c.classifyFn = blockingClassify2;
  UINT32 id = 0;
  ASSERT_EQ(FwpsCalloutRegister2(nullptr, &c, &id), STATUS_SUCCESS);
  ids_.push_back(id);
  EXPECT_TRUE(env_.udpToB(7611, {"x", "y"}).empty());
  EXPECT_EQ(gClassify2.load(), 2);
}

// --- packet tags -----------------------------------------------------------------------------

UINT64 gTag = 0;
std::atomic<int> gTagged{0};
std::atomic<int> gRetrieved{0};
std::atomic<int> gRemovedNotifications{0};

void tagNotify(FWPS_NET_BUFFER_LIST_EVENT_TYPE0 type,
               NET_BUFFER_LIST*,
               NET_BUFFER_LIST*,
               UINT16 layerId,
               UINT64 context,
               UINT64 tag) {
  if (type == FWPS_NET_BUFFER_LIST_CONTEXT_REMOVED && tag == gTag && context == 0x5eed &&
      layerId == FWPS_LAYER_INBOUND_IPPACKET_V4) {
    gRemovedNotifications++;
  }
}

void tagAtIpLayer(const FWPS_INCOMING_VALUES0*,
                  const FWPS_INCOMING_METADATA_VALUES0*,
                  void* layerData,
                  const void*,
                  const FWPS_FILTER1*,
                  UINT64,
                  FWPS_CLASSIFY_OUT0* out) {
  auto* nbl = static_cast<NET_BUFFER_LIST*>(layerData);
  if (FwpsNetBufferListAssociateContext0(
          nbl, FWPS_LAYER_INBOUND_IPPACKET_V4, 0x5eed, gTag, nullptr, nullptr, tagNotify, 0) ==
      STATUS_SUCCESS) {
    gTagged++;
  }
  out->actionType = FWP_ACTION_CONTINUE;
}

void requireTagAtTransport(const FWPS_INCOMING_VALUES0*,
                           const FWPS_INCOMING_METADATA_VALUES0*,
                           void* layerData,
                           const void*,
                           const FWPS_FILTER1*,
                           UINT64,
                           FWPS_CLASSIFY_OUT0* out) {
  UINT64 ctx = 0;
  const bool found =
      FwpsNetBufferListRetrieveContext0(
          static_cast<NET_BUFFER_LIST*>(layerData), gTag, FALSE, 0, &ctx) == STATUS_SUCCESS &&
      ctx == 0x5eed;
  gRetrieved += found ? 1 : 0;
  out->actionType = found ? FWP_ACTION_PERMIT : FWP_ACTION_BLOCK;
}

TEST_F(CalloutApi, PacketTagTravelsFromIpLayerToTransportLayer) {
  ASSERT_EQ(
      env_.setUp(policy({{kTextA, "INBOUND_IPPACKET_V4"}, {kTextB, "INBOUND_TRANSPORT_V4"}},
                        {R"({"name": "tag", "layer": "INBOUND_IPPACKET_V4",
                                   "action": "callout_inspection", "callout": ")" +
                             std::string(kTextA) + R"(", "conditions": [
                                   {"field": "IP_REMOTE_ADDRESS", "value": "10.199.0.2"}]})",
                         filterJson("check", "INBOUND_TRANSPORT_V4", kTextB, kUdpPort + "7621}")})),
      "");
  gTag = FwpsNetBufferListGetTagForContext0();
  ASSERT_NE(gTag, 0u);
  ASSERT_NE(FwpsNetBufferListGetTagForContext0(), gTag);  // locally unique
  FWPS_CALLOUT1 a{};
  a.calloutKey = kKeyA;
  a.classifyFn = tagAtIpLayer;
  FWPS_CALLOUT1 b{};
  b.calloutKey = kKeyB;
  b.classifyFn = requireTagAtTransport;
  UINT32 ida = 0, idb = 0;
  ASSERT_EQ(FwpsCalloutRegister1(nullptr, &a, &ida), STATUS_SUCCESS);
  ids_.push_back(ida);
  // Only the transport callout: untagged packets are blocked.
  ASSERT_EQ(FwpsCalloutRegister1(nullptr, &b, &idb), STATUS_SUCCESS);
  ids_.push_back(idb);
  EXPECT_EQ(env_.udpToA(7621, {"t1", "t2", "t3"}), (std::vector<std::string>{"t1", "t2", "t3"}));
  EXPECT_EQ(gRetrieved.load(), 3);
  EXPECT_GE(gTagged.load(), 3);
  // Every tagged packet's context was removed (notify) when the packet left the runtime.
  for (int i = 0; i < 50 && gRemovedNotifications.load() < gTagged.load(); ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(gRemovedNotifications.load(), gTagged.load());
}

// --- injection -------------------------------------------------------------------------------

HANDLE gInjection = nullptr;
std::atomic<int> gCompletedSelf{0};
std::atomic<int> gCompletedWrongState{0};

void injectComplete(void* context, NET_BUFFER_LIST* nbl, BOOLEAN) {
  HANDLE ctx = nullptr;
  if (FwpsQueryPacketInjectionState0(gInjection, nbl, &ctx) == FWPS_PACKET_INJECTED_BY_SELF &&
      ctx == context && NET_BUFFER_LIST_STATUS(nbl) == STATUS_SUCCESS) {
    gCompletedSelf++;
  } else {
    gCompletedWrongState++;
  }
  FwpsFreeCloneNetBufferList0(nbl, 0);
}

enum class Kind { TransportReceive, NetworkReceive, TransportSend, NetworkSend };
Kind gKind = Kind::TransportReceive;
uint16_t gPort = 0;  // IP-packet layers have no port fields: the callout picks the test's UDP

// Absorbs the packet and injects a clone whose payload is upper-cased.
void injectUpper(const FWPS_INCOMING_VALUES0*,
                 const FWPS_INCOMING_METADATA_VALUES0* meta,
                 void* layerData,
                 const void*,
                 const FWPS_FILTER1*,
                 UINT64,
                 FWPS_CLASSIFY_OUT0* out) {
  auto* nbl = static_cast<NET_BUFFER_LIST*>(layerData);
  HANDLE state = nullptr;
  if (FwpsQueryPacketInjectionState0(gInjection, nbl, &state) != FWPS_PACKET_NOT_INJECTED) {
    out->actionType = FWP_ACTION_PERMIT;  // never happens: injections skip xfp's layers
    return;
  }
  if (gKind == Kind::NetworkReceive || gKind == Kind::NetworkSend) {
    NET_BUFFER* onb = NET_BUFFER_LIST_FIRST_NB(nbl);
    const auto* d = static_cast<const UCHAR*>(
        NdisGetDataBuffer(onb, NET_BUFFER_DATA_LENGTH(onb), nullptr, 1, 0));
    const ULONG udp = gKind == Kind::NetworkSend ? meta->ipHeaderSize : 0;
    const bool isUdp = gKind == Kind::NetworkSend ? d[9] == 17 : true;
    if (d == nullptr || NET_BUFFER_DATA_LENGTH(onb) < udp + 8 || !isUdp ||
        ((d[udp + 2] << 8) | d[udp + 3]) != gPort) {
      out->actionType = FWP_ACTION_PERMIT;
      return;
    }
  }
  NET_BUFFER_LIST* clone = nullptr;
  if (FwpsAllocateCloneNetBufferList0(nbl, nullptr, nullptr, 0, &clone) != STATUS_SUCCESS) {
    return;
  }
  NET_BUFFER* nb = NET_BUFFER_LIST_FIRST_NB(clone);
  // Find the payload from where the layer put the data start.
  UCHAR* data = XfpNetBufferData(nb);
  ULONG len = NET_BUFFER_DATA_LENGTH(nb);
  ULONG payload = 0;  // offset of the UDP payload from the data start
  switch (gKind) {
    case Kind::TransportReceive:  // inbound transport: at the payload
      break;
    case Kind::NetworkReceive:  // inbound IP packet: at the transport header
      payload = 8;
      break;
    case Kind::TransportSend:  // outbound transport: at the transport header
      payload = 8;
      break;
    case Kind::NetworkSend:  // outbound IP packet: at the IP header
      payload = meta->ipHeaderSize + 8;
      break;
  }
  for (ULONG i = payload; i < len; ++i) {
    data[i] = static_cast<UCHAR>(std::toupper(data[i]));
  }
  static std::atomic<UINT64> nextContext{1};
  auto* context = reinterpret_cast<HANDLE>(nextContext.fetch_add(1));
  NTSTATUS st = STATUS_UNSUCCESSFUL;
  switch (gKind) {
    case Kind::TransportReceive:
      NdisRetreatNetBufferListDataStart(
          clone, meta->ipHeaderSize + meta->transportHeaderSize, 0, nullptr, nullptr);
      st = FwpsInjectTransportReceiveAsync0(gInjection,
                                            context,
                                            nullptr,
                                            0,
                                            AF_INET,
                                            1,
                                            meta->sourceInterfaceIndex,
                                            0,
                                            clone,
                                            injectComplete,
                                            context);
      break;
    case Kind::NetworkReceive:
      NdisRetreatNetBufferListDataStart(clone, meta->ipHeaderSize, 0, nullptr, nullptr);
      st = FwpsInjectNetworkReceiveAsync0(
          gInjection, context, 0, 1, meta->sourceInterfaceIndex, 0, clone, injectComplete, context);
      break;
    case Kind::TransportSend:
      st = FwpsInjectTransportSendAsync0(
          gInjection, context, 0, 0, nullptr, AF_INET, 1, clone, injectComplete, context);
      break;
    case Kind::NetworkSend:
      st = FwpsInjectNetworkSendAsync0(gInjection, context, 0, 1, clone, injectComplete, context);
      break;
  }
  if (st != STATUS_SUCCESS) {
    FwpsFreeCloneNetBufferList0(clone, 0);
    return;
  }
  out->actionType = FWP_ACTION_BLOCK;
  out->flags |= FWPS_CLASSIFY_OUT_FLAG_ABSORB;
  out->rights &= ~FWPS_RIGHT_ACTION_WRITE;
}

struct InjectCase {
  Kind kind;
  const char* layer;
  bool inbound;
  uint16_t port;
};

class CalloutInjection : public CalloutApi, public ::testing::WithParamInterface<InjectCase> {};

TEST_P(CalloutInjection, ModifiedCopyArrivesAndIsNotClassifiedAgain) {
  const InjectCase c = GetParam();
  gKind = c.kind;
  gPort = c.port;
  gCompletedSelf = 0;
  gCompletedWrongState = 0;
  const std::string port = std::to_string(c.port) + "}";
  const bool network = c.kind == Kind::NetworkReceive || c.kind == Kind::NetworkSend;
  const std::string conditions =
      network ? std::string(R"({"field": "IP_REMOTE_ADDRESS", "value": "10.199.0.2"})")
              : (c.inbound ? kUdpPort : kUdpRemotePort) + port;
  ASSERT_EQ(
      env_.setUp(policy({{kTextA, c.layer}}, {filterJson("inject", c.layer, kTextA, conditions)})),
      "");
  ASSERT_EQ(FwpsInjectionHandleCreate0(
                AF_INET, FWPS_INJECTION_TYPE_TRANSPORT | FWPS_INJECTION_TYPE_NETWORK, &gInjection),
            STATUS_SUCCESS);
  FWPS_CALLOUT1 a{};
  a.calloutKey = kKeyA;
  a.classifyFn = injectUpper;
  UINT32 id = 0;
  ASSERT_EQ(FwpsCalloutRegister1(nullptr, &a, &id), STATUS_SUCCESS);
  ids_.push_back(id);
  const auto before = env_.runtime().stats().punted.load();
  if (c.inbound) {
    // The receiver asks where each datagram arrived: the original interface, not the runtime's.
    const Endpoint at = endpoint(VethNamespaces::kAddr4A, c.port);
    dataplane::UniqueFd rx = socketIn(env_.ns().nsA(), AF_INET, SOCK_DGRAM, 1s);
    dataplane::UniqueFd tx = socketIn(env_.ns().nsB(), AF_INET, SOCK_DGRAM, 1s);
    const int one = 1;
    ASSERT_EQ(setsockopt(rx.get(), IPPROTO_IP, IP_PKTINFO, &one, sizeof one), 0);
    ASSERT_EQ(::bind(rx.get(), at.sa(), at.len), 0);
    for (const char* p : {"abc", "xyz"}) {
      ASSERT_EQ(::sendto(tx.get(), p, 3, 0, at.sa(), at.len), 3);
      char buf[64];
      char cbuf[256];
      iovec iov{buf, sizeof buf};
      msghdr m{};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      m.msg_control = cbuf;
      m.msg_controllen = sizeof cbuf;
      const ssize_t n = ::recvmsg(rx.get(), &m, 0);
      ASSERT_EQ(n, 3);
      std::string upper(p);
      for (char& ch : upper) {
        ch = static_cast<char>(std::toupper(ch));
      }
      EXPECT_EQ(std::string(buf, 3), upper);
      int arrivedOn = 0;
      for (cmsghdr* cm = CMSG_FIRSTHDR(&m); cm != nullptr; cm = CMSG_NXTHDR(&m, cm)) {
        if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
          arrivedOn = reinterpret_cast<in_pktinfo*>(CMSG_DATA(cm))->ipi_ifindex;
        }
      }
      EXPECT_EQ(arrivedOn, env_.ifindexA());
    }
  } else {
    EXPECT_EQ(env_.udpToB(c.port, {"abc", "xyz"}), (std::vector<std::string>{"ABC", "XYZ"}));
  }
  // Each original was punted once; the injected copies were not punted (classified) again.
  if (!network) {
    EXPECT_EQ(env_.runtime().stats().punted.load() - before, 2u);
  }
  for (int i = 0; i < 50 && gCompletedSelf.load() < 2; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(gCompletedSelf.load(), 2);
  EXPECT_EQ(gCompletedWrongState.load(), 0);
  EXPECT_EQ(FwpsInjectionHandleDestroy0(gInjection), STATUS_SUCCESS);
  gInjection = nullptr;
}

INSTANTIATE_TEST_SUITE_P(
    AllFour,
    CalloutInjection,
    ::testing::Values(InjectCase{Kind::TransportReceive, "INBOUND_TRANSPORT_V4", true, 7631},
                      InjectCase{Kind::NetworkReceive, "INBOUND_IPPACKET_V4", true, 7632},
                      InjectCase{Kind::TransportSend, "OUTBOUND_TRANSPORT_V4", false, 7633},
                      InjectCase{Kind::NetworkSend, "OUTBOUND_IPPACKET_V4", false, 7634}),
    [](const auto& param) {
      switch (param.param.kind) {
        case Kind::TransportReceive:
          return std::string("TransportReceive");
        case Kind::NetworkReceive:
          return std::string("NetworkReceive");
        case Kind::TransportSend:
          return std::string("TransportSend");
        default:
          return std::string("NetworkSend");
      }
    });

}  // namespace
}  // namespace xfp::test
