#include "tools/xfpctl/edit_commands.h"

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/xfpctl/live_objects.h"
#include "tools/xfpctl/policy_objects.h"
#include "tools/xfpctl/service_client.h"
#include "tools/xfpctl/status_text.h"
#include "userspace/core/value_text.h"
#include "userspace/rpc/codec.h"

namespace xfp::ctl {
namespace {

using nlohmann::json;

// --json TEXT: one object of the policy file format.
Outcome<json> objectArgument(const std::string& text, const char* kind) {
  if (text.empty()) {
    return json::object();
  }
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return failWith(kExitPolicy, fmt::format("--json: not JSON: {}", e.what()));
  }
  if (!j.is_object()) {
    return failWith(kExitPolicy, fmt::format("--json: a {} is a JSON object", kind));
  }
  return j;
}

bool parseNumber(std::string_view text, uint64_t& out) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    text.remove_prefix(2);
    base = 16;
  }
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return !text.empty() && ec == std::errc() && p == text.data() + text.size();
}

struct ConditionSpec {
  std::string field;
  std::string match;  // empty: the policy file's default (equal, or range for a range value)
  std::string value;
};

// "FIELD=VALUE", "FIELD!=VALUE", "FIELD>=VALUE", "FIELD<=VALUE", "FIELD>VALUE", "FIELD<VALUE",
// "FIELD:MATCH=VALUE" -- what `xfpctl show filters` prints.
Outcome<ConditionSpec> parseConditionSpec(const std::string& text) {
  ConditionSpec c;
  size_t i = 0;
  while (i < text.size() &&
         (std::isalnum(static_cast<unsigned char>(text[i])) != 0 || text[i] == '_')) {
    ++i;
  }
  c.field = text.substr(0, i);
  const std::string rest = text.substr(i);
  const auto bad = [&] {
    return failWith(kExitUsage,
                    fmt::format("--condition \"{}\": expected FIELD=VALUE (or FIELD!=VALUE, "
                                "FIELD>=VALUE, FIELD<=VALUE, FIELD>VALUE, FIELD<VALUE, "
                                "FIELD:MATCH=VALUE)",
                                text));
  };
  if (c.field.empty() || rest.empty()) {
    return bad();
  }
  static const std::pair<const char*, const char*> kOps[] = {{"!=", "not_equal"},
                                                             {">=", "greater_or_equal"},
                                                             {"<=", "less_or_equal"},
                                                             {">", "greater"},
                                                             {"<", "less"},
                                                             {"=", ""}};
  if (rest[0] == ':') {
    const size_t eq = rest.find('=');
    if (eq == std::string::npos || eq == 1) {
      return bad();
    }
    c.match = rest.substr(1, eq - 1);
    c.value = rest.substr(eq + 1);
    return c;
  }
  for (const auto& [op, match] : kOps) {
    if (rest.rfind(op, 0) == 0) {
      c.match = match;
      c.value = rest.substr(std::string_view(op).size());
      return c;
    }
  }
  return bad();
}

// The condition as a policy-file member, checked against the layer first so a bad field or
// value is reported as the user typed it (exit 4), not as a member of a generated document.
Outcome<json> conditionMember(const LayerInfo& layer, const std::string& text) {
  auto spec = parseConditionSpec(text);
  if (!spec) {
    return tl::unexpected(spec.error());
  }
  const FieldInfo* field = layer.fieldByName(spec->field);
  if (field == nullptr) {
    return failWith(kExitValue,
                    fmt::format("--condition \"{}\": {} has no field {} (xfpctl layers {} lists "
                                "them)",
                                text,
                                layer.name,
                                spec->field,
                                layer.name));
  }
  if (!spec->match.empty() && !parseMatchType(spec->match)) {
    return failWith(kExitUsage,
                    fmt::format("--condition \"{}\": unknown match type \"{}\" (equal, not_equal, "
                                "greater, less, greater_or_equal, less_or_equal, range, "
                                "flags_all_set, flags_any_set, flags_none_set, "
                                "equal_case_insensitive, prefix, not_prefix)",
                                text,
                                spec->match));
  }
  if (auto v = parseConditionText(*field, spec->value); !v) {
    return failWith(
        kExitValue,
        fmt::format(
            "--condition \"{}\": {}: {}", text, statusText(v.error().status), v.error().message));
  }
  json c = {{"field", spec->field}, {"value", spec->value}};
  if (!spec->match.empty()) {
    c["match"] = spec->match;
  }
  return c;
}

// --weight: auto | N | range:K.
Outcome<json> weightMember(const std::string& text) {
  if (text == "auto") {
    return json("auto");
  }
  uint64_t n = 0;
  if (text.rfind("range:", 0) == 0) {
    if (parseNumber(text.substr(6), n) && n <= 15) {
      return json{{"range", n}};
    }
  } else if (parseNumber(text, n)) {
    return json(n);
  }
  return failWith(kExitUsage,
                  fmt::format("--weight \"{}\": expected auto, a number (FWP_UINT64) or range:K "
                              "with K in 0..15 (FWP_UINT8)",
                              text));
}

// A sublayer / callout / provider reference the way the policy reader takes it: a GUID, or a
// name -- resolved here against the service so an unknown name says where to look.
Outcome<std::string> referenceMember(const std::string& text,
                                     const std::map<Guid, std::string>& names,
                                     const std::string& kind) {
  if (Guid::parse(text)) {
    return text;
  }
  if (kind == "sublayer" && sublayerKeyByName(text) != nullptr) {
    return text;  // FWPM_SUBLAYER_UNIVERSAL & co.
  }
  auto k = resolveKey(text, names, kind);
  if (!k) {
    return tl::unexpected(k.error());
  }
  return k->toString();
}

// The filter object of `add filter`: --json, then the flags on top of it.
Outcome<json> filterObject(const AddFilterOptions& o, const LiveObjects& live) {
  auto obj = objectArgument(o.json, "filter");
  if (!obj) {
    return tl::unexpected(obj.error());
  }
  json& f = *obj;
  if (!o.layer.empty()) {
    f["layer"] = o.layer;
  }
  if (!f.contains("layer")) {
    return failWith(kExitUsage, "add filter: --layer is required (or \"layer\" in --json)");
  }
  const LayerInfo* layer =
      f["layer"].is_string() ? layerByName(f["layer"].get<std::string>()) : nullptr;
  if (layer == nullptr || !layer->hasSchema()) {
    return failWith(
        kExitUsage,
        fmt::format("add filter: unknown layer {} (xfpctl layers lists them)", f["layer"].dump()));
  }
  if (!o.name.empty()) {
    f["name"] = o.name;
  }
  if (!f.contains("name")) {
    return failWith(kExitUsage, "add filter: --name is required (WFP objects have a name)");
  }
  if (!o.description.empty()) {
    f["description"] = o.description;
  }
  if (!o.key.empty()) {
    f["key"] = o.key;
  }
  if (!o.action.empty()) {
    const size_t colon = o.action.find(':');
    std::string word = o.action.substr(0, colon);
    for (char& c : word) {
      c = c == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    auto type = parseActionType(word);
    if (!type || *type == ActionType::Continue || *type == ActionType::None ||
        *type == ActionType::NoneNoMatch) {
      return failWith(kExitUsage,
                      fmt::format("--action \"{}\": expected permit, block, "
                                  "callout-terminating:CALLOUT, callout-inspection:CALLOUT or "
                                  "callout-unknown:CALLOUT",
                                  o.action));
    }
    f["action"] = word;
    f.erase("callout");
    if (isCalloutAction(*type)) {
      if (colon == std::string::npos || colon + 1 == o.action.size()) {
        return failWith(kExitUsage,
                        fmt::format("--action \"{}\": a callout action names its callout "
                                    "({}:NAME or {}:KEY)",
                                    o.action,
                                    o.action.substr(0, colon),
                                    o.action.substr(0, colon)));
      }
      auto ref = referenceMember(o.action.substr(colon + 1), live.names.callouts, "callout");
      if (!ref) {
        return tl::unexpected(ref.error());
      }
      f["callout"] = *ref;
    } else if (colon != std::string::npos) {
      return failWith(
          kExitUsage,
          fmt::format("--action \"{}\": only callout actions name a callout", o.action));
    }
  }
  if (!f.contains("action")) {
    return failWith(kExitUsage, "add filter: --action is required (permit, block, callout-...)");
  }
  if (!o.weight.empty()) {
    auto w = weightMember(o.weight);
    if (!w) {
      return tl::unexpected(w.error());
    }
    f["weight"] = *w;
  }
  if (!o.sublayer.empty()) {
    auto ref = referenceMember(o.sublayer, live.names.sublayers, "sublayer");
    if (!ref) {
      return tl::unexpected(ref.error());
    }
    f["sublayer"] = *ref;
  }
  if (!o.provider.empty()) {
    auto ref = referenceMember(o.provider, live.names.providers, "provider");
    if (!ref) {
      return tl::unexpected(ref.error());
    }
    f["provider"] = *ref;
  }
  if (!o.conditions.empty()) {
    if (!f.contains("conditions")) {
      f["conditions"] = json::array();
    }
    if (!f["conditions"].is_array()) {
      return failWith(kExitPolicy, "--json: \"conditions\" must be a list");
    }
    for (const std::string& text : o.conditions) {
      auto c = conditionMember(*layer, text);
      if (!c) {
        return tl::unexpected(c.error());
      }
      f["conditions"].push_back(std::move(*c));
    }
  }
  std::vector<std::string> flags = o.flags;
  if (o.persistent) {
    flags.emplace_back("PERSISTENT");
  }
  if (o.boottime) {
    flags.emplace_back("BOOTTIME");
  }
  if (!flags.empty()) {
    json list = json::array();
    if (f.contains("flags") && f["flags"].is_array()) {
      list = f["flags"];
    } else if (f.contains("flags")) {
      return failWith(kExitPolicy, "--json: give \"flags\" as a list of names to add flags to it");
    }
    for (const std::string& s : flags) {
      list.push_back(s);
    }
    f["flags"] = list;
  }
  return f;
}

// Reads one object of `section` and adds it (an implicit transaction of its own).
Outcome<PolicyObject> addOne(ServiceClient& client,
                             const LiveObjects& live,
                             const char* section,
                             json object,
                             const std::string& origin,
                             int exitCode) {
  json doc = {{"xfp_policy", 1}, {section, json::array({std::move(object)})}};
  auto objects = readPolicyObjects(std::move(doc), origin, live, client, exitCode);
  if (!objects) {
    return tl::unexpected(objects.error());
  }
  if (objects->size() != 1) {
    return failWith(exitCode, origin + ": expected exactly one object");
  }
  PolicyObject& obj = objects->front();
  auto r = client.call(obj.add);
  if (!r) {
    Failure f = r.error();
    f.message = fmt::format("adding the {}: {}", kindName(obj.kind), f.message);
    return tl::unexpected(f);
  }
  if (obj.kind == ObjectKind::Filter) {
    obj.add.mutable_add_filter()->set_filter_id(r->id());
  }
  return std::move(obj);
}

Outcome<std::unique_ptr<ServiceClient>> openWithLive(const std::string& socket,
                                                     const std::string& purpose,
                                                     LiveObjects& live) {
  auto client = ServiceClient::open(socket, purpose);
  if (!client) {
    return tl::unexpected(client.error());
  }
  auto l = fetchLiveObjects(**client);
  if (!l) {
    return tl::unexpected(l.error());
  }
  live = std::move(*l);
  return client;
}

}  // namespace

Outcome<void> runAddFilter(const AddFilterOptions& o) {
  LiveObjects live;
  auto client = openWithLive(o.socket, "xfpctl add filter", live);
  if (!client) {
    return tl::unexpected(client.error());
  }
  auto f = filterObject(o, live);
  if (!f) {
    return tl::unexpected(f.error());
  }
  // What the flags built is a command-line matter; what --json said is a policy-format one.
  const int exitCode = o.json.empty() ? kExitUsage : kExitPolicy;
  auto obj = addOne(
      **client, live, "filters", std::move(*f), o.json.empty() ? "add filter" : "--json", exitCode);
  if (!obj) {
    return tl::unexpected(obj.error());
  }
  std::cout << obj->add.add_filter().filter_id() << "\n";
  return (*client)->close();
}

Outcome<void> runAddSublayer(const AddSublayerOptions& o) {
  LiveObjects live;
  auto client = openWithLive(o.socket, "xfpctl add sublayer", live);
  if (!client) {
    return tl::unexpected(client.error());
  }
  auto s = objectArgument(o.json, "sublayer");
  if (!s) {
    return tl::unexpected(s.error());
  }
  if (!o.name.empty()) {
    (*s)["name"] = o.name;
  }
  if (!o.description.empty()) {
    (*s)["description"] = o.description;
  }
  if (!o.key.empty()) {
    (*s)["key"] = o.key;
  }
  if (o.weight) {
    (*s)["weight"] = *o.weight;
  }
  if (!o.provider.empty()) {
    auto ref = referenceMember(o.provider, live.names.providers, "provider");
    if (!ref) {
      return tl::unexpected(ref.error());
    }
    (*s)["provider"] = *ref;
  }
  if (o.persistent) {
    (*s)["flags"] = json::array({"PERSISTENT"});
  }
  if (!s->contains("name") || !s->contains("weight")) {
    return failWith(kExitUsage, "add sublayer: --name and --weight (0..65535) are required");
  }
  const int exitCode = o.json.empty() ? kExitUsage : kExitPolicy;
  auto obj = addOne(**client,
                    live,
                    "sublayers",
                    std::move(*s),
                    o.json.empty() ? "add sublayer" : "--json",
                    exitCode);
  if (!obj) {
    return tl::unexpected(obj.error());
  }
  std::cout << obj->key.toString() << "\n";
  return (*client)->close();
}

Outcome<void> runAddProvider(const AddProviderOptions& o) {
  LiveObjects live;
  auto client = openWithLive(o.socket, "xfpctl add provider", live);
  if (!client) {
    return tl::unexpected(client.error());
  }
  auto p = objectArgument(o.json, "provider");
  if (!p) {
    return tl::unexpected(p.error());
  }
  if (!o.name.empty()) {
    (*p)["name"] = o.name;
  }
  if (!o.description.empty()) {
    (*p)["description"] = o.description;
  }
  if (!o.key.empty()) {
    (*p)["key"] = o.key;
  }
  if (!o.serviceName.empty()) {
    (*p)["service_name"] = o.serviceName;
  }
  if (o.persistent) {
    (*p)["flags"] = json::array({"PERSISTENT"});
  }
  if (!p->contains("name")) {
    return failWith(kExitUsage, "add provider: --name is required");
  }
  const int exitCode = o.json.empty() ? kExitUsage : kExitPolicy;
  auto obj = addOne(**client,
                    live,
                    "providers",
                    std::move(*p),
                    o.json.empty() ? "add provider" : "--json",
                    exitCode);
  if (!obj) {
    return tl::unexpected(obj.error());
  }
  std::cout << obj->key.toString() << "\n";
  return (*client)->close();
}

Outcome<void> runDelete(const DeleteOptions& o) {
  auto client = ServiceClient::open(o.socket, "xfpctl delete " + o.kind);
  if (!client) {
    return tl::unexpected(client.error());
  }
  ServiceClient& c = **client;
  v1::SessionRequest q;
  uint64_t id = 0;
  const bool byId = parseNumber(o.target, id);
  std::string label = o.target;
  if (o.kind == "filter") {
    if (byId) {
      q.mutable_delete_filter()->set_id(id);
    } else if (auto g = Guid::parse(o.target)) {
      q.mutable_delete_filter()->set_key(rpc::guidToBytes(*g));
    } else {
      // A name: fine when exactly one filter has it.
      auto filters = fetchFilters(c, nullptr);
      if (!filters) {
        return tl::unexpected(filters.error());
      }
      std::map<Guid, std::string> names;
      for (const Filter& f : *filters) {
        names[f.key] = f.displayData.name.value_or("");
      }
      auto k = resolveKey(o.target, names, "filter");
      if (!k) {
        return tl::unexpected(k.error());
      }
      q.mutable_delete_filter()->set_key(rpc::guidToBytes(*k));
      label = fmt::format("\"{}\" {}", o.target, k->toString());
    }
  } else {
    auto live = fetchLiveObjects(c);
    if (!live) {
      return tl::unexpected(live.error());
    }
    const std::map<Guid, std::string>& names = o.kind == "sublayer"   ? live->names.sublayers
                                               : o.kind == "provider" ? live->names.providers
                                                                      : live->names.callouts;
    if (o.kind == "callout" && byId) {
      q.mutable_delete_callout()->set_id(id);
    } else {
      auto k = resolveKey(o.target, names, o.kind);
      if (!k) {
        return tl::unexpected(k.error());
      }
      if (!Guid::parse(o.target)) {
        label = fmt::format("\"{}\" {}", o.target, k->toString());
      }
      const std::string bytes = rpc::guidToBytes(*k);
      if (o.kind == "sublayer") {
        q.set_delete_sublayer(bytes);
      } else if (o.kind == "provider") {
        q.set_delete_provider(bytes);
      } else if (o.kind == "callout") {
        q.mutable_delete_callout()->set_key(bytes);
      } else {
        return failWith(kExitUsage, fmt::format("delete: unknown object kind \"{}\"", o.kind));
      }
    }
  }
  auto r = c.call(q);
  if (!r) {
    Failure f = r.error();
    f.message = fmt::format("deleting {} {}: {}", o.kind, label, f.message);
    return tl::unexpected(f);
  }
  fmt::print("deleted {} {}\n", o.kind, label);
  return c.close();
}

Outcome<void> runApply(const ApplyOptions& o) {
  std::ifstream in(o.path);
  if (!in) {
    return failWith(kExitPolicy, fmt::format("{}: cannot open: {}", o.path, std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  json doc;
  try {
    doc = json::parse(text.str());
  } catch (const json::parse_error& e) {
    return failWith(kExitPolicy, fmt::format("{}: JSON: {}", o.path, e.what()));
  }
  LiveObjects live;
  auto client = openWithLive(o.socket, "xfpctl apply " + o.path, live);
  if (!client) {
    return tl::unexpected(client.error());
  }
  ServiceClient& c = **client;
  auto objects = readPolicyObjects(std::move(doc), o.path, live, c, kExitPolicy);
  if (!objects) {
    return tl::unexpected(objects.error());
  }
  v1::SessionRequest begin;
  begin.set_begin(0);
  if (auto r = c.call(begin); !r) {
    Failure f = r.error();
    f.message = fmt::format("{}: beginning the transaction: {}", o.path, f.message);
    return tl::unexpected(f);
  }
  const auto abort = [&] {
    v1::SessionRequest q;
    q.mutable_abort();
    (void)c.call(q);  // if this fails, closing the session aborts the transaction anyway
  };
  std::map<ObjectKind, size_t> counts;
  std::vector<uint64_t> filterIds;
  for (const PolicyObject& obj : *objects) {
    auto r = c.call(obj.add);
    if (!r) {
      Failure f = r.error();
      if (f.exitCode == kExitRefused) {
        abort();
        f.message = fmt::format("{}: {}: {}\nxfpctl: the transaction was aborted: nothing changed",
                                o.path,
                                obj.where,
                                f.message);
      } else {
        f.message = fmt::format("{}: {}: {}", o.path, obj.where, f.message);
      }
      return tl::unexpected(f);
    }
    ++counts[obj.kind];
    if (obj.kind == ObjectKind::Filter) {
      filterIds.push_back(r->id());
    }
  }
  v1::SessionRequest end;
  if (o.dryRun) {
    end.mutable_abort();
  } else {
    end.mutable_commit();
  }
  if (auto r = c.call(end); !r) {
    Failure f = r.error();
    f.message = fmt::format("{}: {}: {}", o.path, o.dryRun ? "abort" : "commit", f.message);
    return tl::unexpected(f);
  }
  std::string summary;
  for (const auto& [kind, n] : counts) {
    summary +=
        fmt::format("{}{} {}{}", summary.empty() ? "" : ", ", n, kindName(kind), n == 1 ? "" : "s");
  }
  if (summary.empty()) {
    summary = "no objects";
  }
  if (o.dryRun) {
    fmt::print("{}: dry run: xfpd accepts all of it ({}); nothing was changed\n", o.path, summary);
  } else {
    std::string ids;
    for (uint64_t id : filterIds) {
      ids += (ids.empty() ? "" : " ") + std::to_string(id);
    }
    fmt::print("{}: applied in one transaction: {}{}\n",
               o.path,
               summary,
               ids.empty() ? "" : " (filter ids " + ids + ")");
  }
  return c.close();
}

}  // namespace xfp::ctl
