#include "tools/xfpctl/show_commands.h"

#include <algorithm>
#include <iostream>
#include <map>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/xfpctl/explain_report.h"
#include "tools/xfpctl/live_objects.h"
#include "tools/xfpctl/object_text.h"
#include "tools/xfpctl/service_client.h"
#include "userspace/rpc/codec.h"

namespace xfp::ctl {
namespace {

using nlohmann::json;

void print(const json& j) {
  std::cout << j.dump(2) << "\n";
}

// Conditions grouped as WFP evaluates them: OR within a field, AND across fields (§2.9).
std::string conditionsText(const Filter& f) {
  if (f.conditions.empty()) {
    return "(any)";
  }
  const LayerInfo* layer = layerByKey(f.layerKey);
  std::vector<Guid> order;
  std::map<Guid, std::vector<std::string>> groups;
  for (const Condition& c : f.conditions) {
    if (!groups.contains(c.fieldKey)) {
      order.push_back(c.fieldKey);
    }
    groups[c.fieldKey].push_back(conditionText(c, layer));
  }
  std::string out;
  for (const Guid& field : order) {
    std::string group;
    for (const std::string& t : groups[field]) {
      group += (group.empty() ? "" : " or ") + t;
    }
    out += (out.empty() ? "" : ", ") + group;
  }
  return out;
}

// --layer NAME, checked here so an unknown name is a command-line error (exit 2), as offline.
Outcome<const LayerInfo*> layerOption(const std::string& name) {
  if (name.empty()) {
    return nullptr;
  }
  const LayerInfo* l = layerByName(name);
  if (l == nullptr || !l->hasSchema()) {
    return failWith(kExitUsage,
                    fmt::format("unknown layer \"{}\" (xfpctl layers lists them)", name));
  }
  return l;
}

Outcome<std::unique_ptr<ServiceClient>> openFor(const ShowOptions& o) {
  return ServiceClient::open(o.socket, "xfpctl show " + o.what);
}

// The end of every `show <objects>` listing: with --json an array of `toJson` of each object,
// else a table with `headers` and a `toRow` row for each.
template <class T, class ToJson, class ToRow>
void printObjects(const ShowOptions& o,
                  const std::vector<T>& objects,
                  ToJson toJson,
                  std::vector<std::string> headers,
                  ToRow toRow) {
  if (o.json) {
    json out = json::array();
    for (const T& x : objects) {
      out.push_back(toJson(x));
    }
    print(out);
    return;
  }
  Table t(std::move(headers));
  for (const T& x : objects) {
    t.add(toRow(x));
  }
  std::cout << t.render();
}

// `show sublayers/providers/callouts`: the service's live objects, then `show` (the session
// stays open until it returns).
template <class Show>
Outcome<void> showLive(const ShowOptions& o, Show&& show) {
  auto client = openFor(o);
  if (!client) {
    return tl::unexpected(client.error());
  }
  auto live = fetchLiveObjects(**client);
  if (!live) {
    return tl::unexpected(live.error());
  }
  show(*live);
  return {};
}

Outcome<void> showFilters(const ShowOptions& o) {
  auto layer = layerOption(o.layer);
  if (!layer) {
    return tl::unexpected(layer.error());
  }
  auto client = openFor(o);
  if (!client) {
    return tl::unexpected(client.error());
  }
  auto live = fetchLiveObjects(**client);
  if (!live) {
    return tl::unexpected(live.error());
  }
  auto filters = fetchFilters(**client, *layer);
  if (!filters) {
    return tl::unexpected(filters.error());
  }
  const ObjectNames& names = live->names;
  printObjects(
      o,
      *filters,
      [&](const Filter& f) { return filterJson(f, names); },
      {"ID>", "NAME", "LAYER", "SUBLAYER", "WEIGHT", "ACTION", "FLAGS", "CONDITIONS"},
      [&](const Filter& f) -> std::vector<std::string> {
        const auto sl = names.sublayers.find(f.subLayerKey);
        return {std::to_string(f.filterId),
                f.displayData.name.value_or(""),
                layerText(f.layerKey),
                sl != names.sublayers.end() ? sl->second : f.subLayerKey.toString(),
                formatWeight(f.effectiveWeight),
                actionText(f.action, names),
                joinFlags(filterFlagWords(f.flags)),
                conditionsText(f)};
      });
  return {};
}

Outcome<void> showSublayers(const ShowOptions& o) {
  return showLive(o, [&](LiveObjects& live) {
    // Arbitration order: the highest weight is evaluated first.
    std::stable_sort(live.sublayers.begin(),
                     live.sublayers.end(),
                     [](const Sublayer& a, const Sublayer& b) { return a.weight > b.weight; });
    const ObjectNames& names = live.names;
    printObjects(
        o,
        live.sublayers,
        [&](const Sublayer& s) { return sublayerJson(s, names); },
        {"WEIGHT>", "NAME", "PROVIDER", "FLAGS", "LIFETIME", "KEY"},
        [&](const Sublayer& s) -> std::vector<std::string> {
          std::string provider = "-";
          if (s.providerKey) {
            const auto p = names.providers.find(*s.providerKey);
            provider = p != names.providers.end() ? p->second : s.providerKey->toString();
          }
          return {fmt::format("0x{:04x}", s.weight),
                  nameOr(s.displayData, s.key),
                  provider,
                  joinFlags(sublayerFlagWords(s.flags)),
                  lifetimeText(s.origin.lifetime),
                  s.key.toString()};
        });
  });
}

Outcome<void> showProviders(const ShowOptions& o) {
  return showLive(o, [&](const LiveObjects& live) {
    printObjects(o,
                 live.providers,
                 providerJson,
                 {"NAME", "SERVICE", "FLAGS", "LIFETIME", "KEY"},
                 [](const Provider& p) -> std::vector<std::string> {
                   return {nameOr(p.displayData, p.key),
                           p.serviceName.empty() ? "-" : p.serviceName,
                           joinFlags(providerFlagWords(p.flags)),
                           lifetimeText(p.origin.lifetime),
                           p.key.toString()};
                 });
  });
}

Outcome<void> showCallouts(const ShowOptions& o) {
  return showLive(o, [&](const LiveObjects& live) {
    printObjects(o,
                 live.callouts,
                 calloutJson,
                 {"ID>", "NAME", "LAYER", "FLAGS", "LIFETIME", "KEY"},
                 [](const Callout& c) -> std::vector<std::string> {
                   return {std::to_string(c.calloutId),
                           nameOr(c.displayData, c.key),
                           layerText(c.applicableLayer),
                           joinFlags(calloutFlagWords(c.flags)),
                           lifetimeText(c.origin.lifetime),
                           c.key.toString()};
                 });
  });
}

Outcome<v1::Counters> fetchCounters(ServiceClient& client) {
  v1::SessionRequest q;
  q.mutable_counters();
  auto r = client.call(q);
  if (!r) {
    return tl::unexpected(r.error());
  }
  return r->counters();
}

Outcome<void> showCounters(const ShowOptions& o) {
  auto layer = layerOption(o.layer);
  if (!layer) {
    return tl::unexpected(layer.error());
  }
  auto client = openFor(o);
  if (!client) {
    return tl::unexpected(client.error());
  }
  auto filters = fetchFilters(**client, *layer);
  if (!filters) {
    return tl::unexpected(filters.error());
  }
  auto counters = fetchCounters(**client);
  if (!counters) {
    return tl::unexpected(counters.error());
  }
  std::map<uint64_t, const v1::FilterCounter*> byId;
  for (const auto& c : counters->filters()) {
    byId[c.filter_id()] = &c;
  }
  json jf = json::array();
  Table tf({"ID>", "NAME", "LAYER", "PACKETS>", "BYTES>"});
  for (const Filter& f : *filters) {
    const auto it = byId.find(f.filterId);
    const uint64_t packets = it != byId.end() ? it->second->packets() : 0;
    const uint64_t bytes = it != byId.end() ? it->second->bytes() : 0;
    jf.push_back({{"id", f.filterId},
                  {"name", f.displayData.name.value_or("")},
                  {"layer", layerText(f.layerKey)},
                  {"packets", packets},
                  {"bytes", bytes}});
    tf.add({std::to_string(f.filterId),
            f.displayData.name.value_or(""),
            layerText(f.layerKey),
            std::to_string(packets),
            std::to_string(bytes)});
  }
  json jl = json::array();
  Table tlayers({"LAYER", "PERMITTED>", "BLOCKED>", "PUNTED>"});
  for (const auto& l : counters->layers()) {
    if (*layer != nullptr && l.layer() != (*layer)->name) {
      continue;
    }
    jl.push_back({{"layer", l.layer()},
                  {"permitted", l.permitted()},
                  {"blocked", l.blocked()},
                  {"punted", l.punted()}});
    tlayers.add({l.layer(),
                 std::to_string(l.permitted()),
                 std::to_string(l.blocked()),
                 std::to_string(l.punted())});
  }
  if (o.json) {
    print({{"filters", std::move(jf)},
           {"layers", std::move(jl)},
           {"net_events",
            {{"emitted", counters->net_events_emitted()},
             {"suppressed", counters->net_events_suppressed()}}}});
    return {};
  }
  std::cout << tf.render() << "\n" << tlayers.render() << "\n";
  fmt::print("net events: {} emitted, {} suppressed by the budget\n",
             counters->net_events_emitted(),
             counters->net_events_suppressed());
  return {};
}

Outcome<void> showLayers(const ShowOptions& o) {
  auto only = layerOption(o.layer);
  if (!only) {
    return tl::unexpected(only.error());
  }
  std::map<std::string, v1::LayerCounter> byName;
  if (o.counters) {
    auto client = openFor(o);
    if (!client) {
      return tl::unexpected(client.error());
    }
    auto counters = fetchCounters(**client);
    if (!counters) {
      return tl::unexpected(counters.error());
    }
    for (const auto& l : counters->layers()) {
      byName[l.layer()] = l;
    }
  }
  json out = json::array();
  Table t = o.counters
                ? Table({"NAME", "ID>", "FIELDS>", "PERMITTED>", "BLOCKED>", "PUNTED>", "KEY"})
                : Table({"NAME", "ID>", "FIELDS>", "KEY"});
  for (const LayerInfo& l : allLayers()) {
    if (!l.hasSchema() || (*only != nullptr && *only != &l)) {
      continue;
    }
    json j = {{"name", std::string(l.name)},
              {"id", l.id},
              {"key", l.key.toString()},
              {"fields", l.fields.size()}};
    std::vector<std::string> row = {
        std::string(l.name), std::to_string(l.id), std::to_string(l.fields.size())};
    if (o.counters) {
      // Only the layers the fast path enforces have counters; the others show "-".
      const auto it = byName.find(std::string(l.name));
      if (it != byName.end()) {
        j["permitted"] = it->second.permitted();
        j["blocked"] = it->second.blocked();
        j["punted"] = it->second.punted();
        row.push_back(std::to_string(it->second.permitted()));
        row.push_back(std::to_string(it->second.blocked()));
        row.push_back(std::to_string(it->second.punted()));
      } else {
        j["permitted"] = j["blocked"] = j["punted"] = nullptr;
        row.insert(row.end(), {"-", "-", "-"});
      }
    }
    row.push_back(l.key.toString());
    t.add(std::move(row));
    out.push_back(std::move(j));
  }
  if (o.json) {
    print(out);
  } else {
    std::cout << t.render();
  }
  return {};
}

Outcome<std::vector<engine::SessionInfo>> sessionsOf(const v1::EngineStatus& st) {
  std::vector<engine::SessionInfo> out;
  for (const auto& s : st.sessions()) {
    auto info = rpc::fromProto(s, "session");
    if (!info) {
      return failWith(kExitUnreachable,
                      "xfpd sent a session xfpctl cannot read: " + info.error().message);
    }
    out.push_back(std::move(*info));
  }
  return out;
}

Outcome<void> showSessions(const ShowOptions& o) {
  auto client = openFor(o);
  if (!client) {
    return tl::unexpected(client.error());
  }
  v1::SessionRequest q;
  q.mutable_status();
  auto r = (*client)->call(q);
  if (!r) {
    return tl::unexpected(r.error());
  }
  auto sessions = sessionsOf(r->engine_status());
  if (!sessions) {
    return tl::unexpected(sessions.error());
  }
  printObjects(o,
               *sessions,
               sessionJson,
               {"ID>", "PID>", "UID>", "USER", "DYNAMIC", "TRANSACTION", "NAME"},
               [](const engine::SessionInfo& s) -> std::vector<std::string> {
                 return {
                     std::to_string(s.id),
                     std::to_string(s.options.processId),
                     std::to_string(s.options.uid),
                     s.options.username.empty() ? "-" : s.options.username,
                     s.dynamic ? "yes" : "no",
                     !s.inTransaction ? "-" : (s.readOnlyTransaction ? "read-only" : "read-write"),
                     s.options.displayData.name.value_or("")};
               });
  return {};
}

Outcome<void> showStatus(const ShowOptions& o) {
  auto client = openFor(o);
  if (!client) {
    return tl::unexpected(client.error());
  }
  v1::SessionRequest q;
  q.mutable_status();
  auto r = (*client)->call(q);
  if (!r) {
    return tl::unexpected(r.error());
  }
  const v1::EngineStatus& st = r->engine_status();
  v1::SessionRequest pq;
  pq.mutable_plugin_list();
  auto plugins = (*client)->call(pq);
  if (!plugins) {
    return tl::unexpected(plugins.error());
  }
  std::vector<std::string> interfaces(st.interfaces().begin(), st.interfaces().end());
  std::vector<std::string> pluginNames;
  for (const auto& p : plugins->plugins().plugins()) {
    pluginNames.push_back(p.name());
  }
  if (o.json) {
    print({{"socket", (*client)->socket()},
           {"daemon_pid", st.daemon_pid()},
           {"generation", st.generation()},
           {"filters", st.filters()},
           {"sessions", st.sessions_size()},
           {"interfaces", interfaces},
           {"plugins", pluginNames},
           {"adopted", st.adopted()}});
    return {};
  }
  const auto list = [](const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& s : v) {
      out += (out.empty() ? "" : ", ") + s;
    }
    return out.empty() ? std::string("none") : out;
  };
  fmt::print("xfpd        pid {} on {}\n", st.daemon_pid(), (*client)->socket());
  fmt::print("generation  {}\n", st.generation());
  fmt::print("filters     {}\n", st.filters());
  fmt::print("sessions    {} (this one included)\n", st.sessions_size());
  fmt::print("interfaces  {}\n", list(interfaces));
  fmt::print("plugins     {}\n", list(pluginNames));
  fmt::print("data path   {}\n",
             st.adopted() ? "adopted from the previous xfpd (pinned)" : "loaded by this xfpd");
  return {};
}

}  // namespace

Outcome<void> runShow(const ShowOptions& o) {
  static constexpr std::pair<std::string_view, Outcome<void> (*)(const ShowOptions&)> kShows[] = {
      {"filters", showFilters},
      {"sublayers", showSublayers},
      {"providers", showProviders},
      {"callouts", showCallouts},
      {"layers", showLayers},
      {"counters", showCounters},
      {"sessions", showSessions},
      {"status", showStatus},
  };
  for (const auto& [what, show] : kShows) {
    if (o.what == what) {
      return show(o);
    }
  }
  return failWith(kExitUsage, fmt::format("show: unknown object kind \"{}\"", o.what));
}

}  // namespace xfp::ctl
