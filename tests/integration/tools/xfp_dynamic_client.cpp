// A management client for the service tests: opens a DYNAMIC session on xfpd's control API, adds
// a filter blocking inbound UDP to the port given, prints "ready <filterId>" and then waits to be
// killed (at most 60 s). The test kills it with SIGKILL: the session must end with the process
// (RPC rundown, wfp-model.md §7.1) and take the filter with it.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/harness/xfpd_process.h"
#include "userspace/core/layers.h"
#include "userspace/core/objects.h"
#include "userspace/rpc/codec.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: xfp_dynamic_client SOCKET UDP_PORT\n");
    return 2;
  }
  std::string error;
  auto s = xfp::test::ApiSession::open(argv[1], 0x1 /* FWPM_SESSION_FLAG_DYNAMIC */, &error);
  if (!s) {
    std::fprintf(stderr, "open: %s\n", error.c_str());
    return 1;
  }
  xfp::Filter f;
  f.key = xfp::Guid::generate();
  f.displayData.name = "dynamic block";
  f.layerKey = xfp::layerByName("INBOUND_TRANSPORT_V4")->key;
  f.action.type = xfp::ActionType::Block;
  f.conditions.push_back(
      {*xfp::conditionKeyByName("IP_PROTOCOL"), xfp::MatchType::Equal, xfp::Value::uint8(17)});
  f.conditions.push_back({*xfp::conditionKeyByName("IP_LOCAL_PORT"),
                          xfp::MatchType::Equal,
                          xfp::Value::uint16(static_cast<uint16_t>(std::atoi(argv[2])))});
  xfp::v1::SessionRequest add;
  *add.mutable_add_filter() = xfp::rpc::toProto(f);
  xfp::v1::SessionReply r = s->call(add);
  if (r.status() != 0) {
    std::fprintf(stderr, "add: 0x%x %s\n", r.status(), r.message().c_str());
    return 1;
  }
  std::printf("ready %llu\n", static_cast<unsigned long long>(r.id()));
  std::fflush(stdout);
  ::sleep(60);
  return 0;
}
