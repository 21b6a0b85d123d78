#include "tools/xfpctl/live_objects.h"

#include <fmt/format.h>

#include "userspace/rpc/codec.h"

namespace xfp::ctl {
namespace {

// What the service sent, decoded; a message the codecs refuse means client and service do not
// speak the same protocol version.
template <typename Core, typename Proto>
Outcome<std::vector<Core>> decodeAll(const std::vector<Proto>& in, const char* what) {
  std::vector<Core> out;
  out.reserve(in.size());
  for (const Proto& m : in) {
    auto v = rpc::fromProto(m, what);
    if (!v) {
      return failWith(
          kExitUnreachable,
          fmt::format(
              "xfpd sent a {} xfpctl cannot read: {} (versions differ?)", what, v.error().message));
    }
    out.push_back(std::move(*v));
  }
  return out;
}

}  // namespace

Outcome<LiveObjects> fetchLiveObjects(ServiceClient& client) {
  LiveObjects live;
  auto providers = client.providers();
  if (!providers) {
    return tl::unexpected(providers.error());
  }
  auto p = decodeAll<Provider>(*providers, "provider");
  if (!p) {
    return tl::unexpected(p.error());
  }
  live.providers = std::move(*p);
  auto sublayers = client.sublayers();
  if (!sublayers) {
    return tl::unexpected(sublayers.error());
  }
  auto s = decodeAll<Sublayer>(*sublayers, "sublayer");
  if (!s) {
    return tl::unexpected(s.error());
  }
  live.sublayers = std::move(*s);
  auto callouts = client.callouts();
  if (!callouts) {
    return tl::unexpected(callouts.error());
  }
  auto c = decodeAll<Callout>(*callouts, "callout");
  if (!c) {
    return tl::unexpected(c.error());
  }
  live.callouts = std::move(*c);
  for (const Provider& x : live.providers) {
    live.names.providers[x.key] = nameOr(x.displayData, x.key);
  }
  for (const Sublayer& x : live.sublayers) {
    live.names.sublayers[x.key] = nameOr(x.displayData, x.key);
  }
  for (const Callout& x : live.callouts) {
    live.names.callouts[x.key] = nameOr(x.displayData, x.key);
  }
  return live;
}

Outcome<std::vector<Filter>> fetchFilters(ServiceClient& client, const LayerInfo* layer) {
  v1::FilterEnumTemplate t;
  if (layer != nullptr) {
    t.set_layer_key(rpc::guidToBytes(layer->key));
    t.set_action_mask(0xFFFFFFFF);  // every action (0 would select none: FWP_E_NEVER_MATCH)
  }
  auto filters = client.filters(layer != nullptr ? &t : nullptr);
  if (!filters) {
    return tl::unexpected(filters.error());
  }
  return decodeAll<Filter>(*filters, "filter");
}

Outcome<Guid> resolveKey(const std::string& text,
                         const std::map<Guid, std::string>& names,
                         const std::string& kind) {
  if (auto g = Guid::parse(text)) {
    return *g;
  }
  std::vector<Guid> found;
  for (const auto& [key, name] : names) {
    if (name == text) {
      found.push_back(key);
    }
  }
  if (found.size() == 1) {
    return found.front();
  }
  if (found.empty()) {
    return failWith(
        kExitUsage,
        fmt::format("no {0} named \"{1}\" in the service (xfpctl show {0}s lists them; a key is "
                    "a GUID such as {{a1b2c3d4-0001-4000-8000-000000000001}})",
                    kind,
                    text));
  }
  return failWith(
      kExitUsage,
      fmt::format("{} {} objects are named \"{}\": use the key", found.size(), kind, text));
}

}  // namespace xfp::ctl
