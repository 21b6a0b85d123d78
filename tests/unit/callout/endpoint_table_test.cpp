// EndpointTable: which socket serves a flow, found through the port index, checked against a
// scan of every socket (the rule written out plainly) on random tables that change under it.
#include "userspace/callout/endpoint_table.h"

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace xfp::callout {
namespace {

struct Addr {
  uint8_t b[16] = {};
};

Addr v4(uint8_t last) {
  Addr a;
  a.b[0] = 10;
  a.b[3] = last;
  return a;
}

Addr v6(uint8_t last) {
  Addr a;
  a.b[0] = 0xfd;
  a.b[15] = last;
  return a;
}

const Addr kAny{};

ProcessIdentity owner(uint32_t tgid) {
  ProcessIdentity who;
  who.known = true;
  who.tgid = tgid;
  return who;
}

bool zero(const uint8_t* a) {
  return std::all_of(a, a + 16, [](uint8_t x) { return x == 0; });
}

// The rule, by scanning every socket in cookie order.
const Endpoint* servingByScan(const EndpointTable& t,
                              bool isV6,
                              uint8_t proto,
                              const uint8_t* local,
                              uint16_t lport,
                              const uint8_t* remote,
                              uint16_t rport) {
  const Endpoint* own = nullptr;
  const Endpoint* listenerExact = nullptr;
  const Endpoint* listenerAny = nullptr;
  for (const auto& [id, e] : t) {
    if (e.proto != proto || e.localPort != lport || !e.who.known) {
      continue;
    }
    const bool dual = e.v6 && !isV6 && zero(e.local) && !e.connected;
    if (e.v6 != isV6 && !dual) {
      continue;
    }
    const bool exact = !dual && std::memcmp(e.local, local, 16) == 0;
    if (!exact && !zero(e.local)) {
      continue;
    }
    if (e.connected) {
      if (own == nullptr && e.remotePort == rport && std::memcmp(e.remote, remote, 16) == 0) {
        own = &e;
      }
      continue;
    }
    const Endpoint*& slot = exact && !zero(e.local) ? listenerExact : listenerAny;
    if (slot == nullptr) {
      slot = &e;
    }
  }
  if (own != nullptr) {
    return own;
  }
  return listenerExact != nullptr ? listenerExact : listenerAny;
}

TEST(EndpointTable, TheConnectionsOwnSocketBeatsTheListenerAndExactBeatsWildcard) {
  EndpointTable t;
  t.place(1, false, 6, kAny.b, 80).who = owner(100);   // listener on 0.0.0.0:80
  t.place(2, false, 6, v4(1).b, 80).who = owner(200);  // listener on 10.0.0.1:80
  t.place(3, false, 6, v4(1).b, 80).who = owner(300);  // an accepted connection
  t.connect(3, v4(9).b, 5555);

  auto tgidOf = [&](const Addr& local, const Addr& remote, uint16_t rport) {
    const Endpoint* e = t.serving(false, 6, local.b, 80, remote.b, rport);
    return e != nullptr ? e->who.tgid : 0u;
  };
  EXPECT_EQ(tgidOf(v4(1), v4(9), 5555), 300u);
  EXPECT_EQ(tgidOf(v4(1), v4(9), 5556), 200u);
  EXPECT_EQ(tgidOf(v4(2), v4(9), 5555), 100u);
  EXPECT_EQ(t.serving(false, 17, v4(1).b, 80, v4(9).b, 1), nullptr) << "another protocol";
  EXPECT_EQ(t.serving(false, 6, v4(1).b, 81, v4(9).b, 1), nullptr) << "another port";
}

TEST(EndpointTable, ADualStackWildcardListenerServesIpv4Flows) {
  EndpointTable t;
  t.place(7, true, 6, kAny.b, 443).who = owner(70);
  const Endpoint* e = t.serving(false, 6, v4(1).b, 443, v4(2).b, 1000);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->who.tgid, 70u);
  EXPECT_EQ(t.serving(true, 6, v6(1).b, 443, v6(2).b, 1000)->who.tgid, 70u);
  t.place(8, true, 6, v6(1).b, 444).who = owner(80);
  EXPECT_EQ(t.serving(false, 6, v4(1).b, 444, v4(2).b, 1000), nullptr)
      << "an IPv6 socket bound to an IPv6 address serves no IPv4 flow";
}

TEST(EndpointTable, TheIndexFollowsARebindAndAnErase) {
  EndpointTable t;
  t.place(1, false, 17, kAny.b, 53).who = owner(1);
  t.place(1, false, 17, kAny.b, 5353);  // the same socket, now on another port
  EXPECT_EQ(t.serving(false, 17, v4(1).b, 53, v4(2).b, 9), nullptr);
  ASSERT_NE(t.serving(false, 17, v4(1).b, 5353, v4(2).b, 9), nullptr);
  EXPECT_EQ(t.size(), 1u);
  t.erase(1);
  EXPECT_EQ(t.serving(false, 17, v4(1).b, 5353, v4(2).b, 9), nullptr);
  EXPECT_EQ(t.find(1), nullptr);
  t.erase(1);  // twice: nothing happens
  EXPECT_EQ(t.size(), 0u);
}

TEST(EndpointTable, AClosedConnectionServesAsItsBoundSocketAgain) {
  EndpointTable t;
  t.place(4, false, 17, v4(1).b, 53).who = owner(40);
  t.connect(4, v4(9).b, 999);
  EXPECT_EQ(t.serving(false, 17, v4(1).b, 53, v4(8).b, 1), nullptr) << "connected to another peer";
  ASSERT_NE(t.serving(false, 17, v4(1).b, 53, v4(9).b, 999), nullptr);
  t.disconnect(4);
  ASSERT_NE(t.serving(false, 17, v4(1).b, 53, v4(8).b, 1), nullptr);
  t.erase(4);
  EXPECT_EQ(t.serving(false, 17, v4(1).b, 53, v4(9).b, 999), nullptr);
}

TEST(EndpointTable, AnOwnerNotKnownDoesNotServe) {
  EndpointTable t;
  t.place(1, false, 6, kAny.b, 22);
  EXPECT_EQ(t.serving(false, 6, v4(1).b, 22, v4(2).b, 9), nullptr);
}

// Random sockets placed, moved, connected and erased; after every step the index answers as the
// scan does for every flow of a small address space.
TEST(EndpointTable, AgreesWithAScanOnRandomTables) {
  std::mt19937 rng(20261123);
  EndpointTable t;
  const Addr addrs[] = {kAny, v4(1), v4(2), v6(1), v6(2)};
  const uint16_t ports[] = {80, 443, 5000};
  const uint8_t protos[] = {6, 17};
  auto pick = [&](auto& arr) -> const auto& {
    return arr[std::uniform_int_distribution<size_t>(0, std::size(arr) - 1)(rng)];
  };
  for (int step = 0; step < 400; ++step) {
    const uint64_t cookie = std::uniform_int_distribution<uint64_t>(1, 40)(rng);
    if (std::uniform_int_distribution<int>(0, 4)(rng) == 0) {
      t.erase(cookie);
    } else {
      const Addr& local = pick(addrs);
      const bool isV6 = local.b[0] == 0xfd || (zero(local.b) && (rng() & 1) != 0);
      Endpoint& e = t.place(cookie, isV6, pick(protos), local.b, pick(ports));
      e.who = (rng() % 5) != 0 ? owner(static_cast<uint32_t>(cookie)) : ProcessIdentity{};
      if ((rng() % 3) == 0) {
        t.connect(cookie, (isV6 ? v6(9) : v4(9)).b, (rng() & 1) != 0 ? 7000 : 7001);
      } else if ((rng() % 4) == 0) {
        t.disconnect(cookie);  // a connection that closed while its socket stays bound
      }
    }
    for (const Addr& local : addrs) {
      const bool isV6 = local.b[0] == 0xfd;
      const Addr& remote = isV6 ? v6(9) : v4(9);
      for (uint16_t port : ports) {
        for (uint8_t proto : protos) {
          for (uint16_t rport : {7000, 7001}) {
            const Endpoint* got = t.serving(isV6, proto, local.b, port, remote.b, rport);
            const Endpoint* want = servingByScan(t, isV6, proto, local.b, port, remote.b, rport);
            ASSERT_EQ(got, want) << "step " << step << " port " << port << " proto " << int{proto}
                                 << " rport " << rport;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace xfp::callout
