#include "tools/xfpctl/policy_objects.h"

#include <set>

#include <fmt/format.h>

#include "userspace/core/policy_file.h"
#include "userspace/rpc/codec.h"

namespace xfp::ctl {
namespace {

using nlohmann::json;

constexpr const char* kSections[] = {
    "providers", "provider_contexts", "sublayers", "callouts", "filters"};

ObjectKind kindOf(const std::string& section) {
  if (section == "providers") {
    return ObjectKind::Provider;
  }
  if (section == "provider_contexts") {
    return ObjectKind::ProviderContext;
  }
  if (section == "sublayers") {
    return ObjectKind::Sublayer;
  }
  if (section == "callouts") {
    return ObjectKind::Callout;
  }
  return ObjectKind::Filter;
}

// What the document defines itself in one section: a live object with one of these keys or
// names gets no stand-in (the document's own object is the one references mean).
struct Defined {
  std::set<std::string> keys;  // GUID text as Guid::toString() prints it
  std::set<std::string> names;
};

bool definedBy(const Defined& d, const Guid& key, const std::string& name) {
  return d.keys.contains(key.toString()) || d.names.contains(name);
}

json persistentFlags(bool persistent) {
  return persistent ? json::array({"PERSISTENT"}) : json::array();
}

std::string hex(const Bytes& b) {
  std::string out = "hex:";
  for (uint8_t x : b) {
    out += fmt::format("{:02x}", x);
  }
  return out;
}

bool isBuiltinSublayer(const Sublayer& s) {
  if (s.origin.lifetime == Lifetime::BuiltIn) {
    return true;
  }
  for (const BuiltinSublayer& b : builtinSublayers()) {
    if (b.key == s.key) {
      return true;
    }
  }
  return false;
}

std::string whereOf(const char* section, size_t i, const json& o) {
  if (o.contains("name") && o["name"].is_string()) {
    return fmt::format("{}[{}] \"{}\"", section, i, o["name"].get<std::string>());
  }
  return fmt::format("{}[{}]", section, i);
}

}  // namespace

const char* kindName(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::Provider:
      return "provider";
    case ObjectKind::ProviderContext:
      return "provider context";
    case ObjectKind::Sublayer:
      return "sublayer";
    case ObjectKind::Callout:
      return "callout";
    case ObjectKind::Filter:
      return "filter";
  }
  return "object";
}

Outcome<std::vector<PolicyObject>> readPolicyObjects(json doc,
                                                     const std::string& origin,
                                                     const LiveObjects& live,
                                                     ServiceClient& client,
                                                     int exitCode) {
  if (!doc.is_object()) {
    return failWith(exitCode, origin + ": a policy document is a JSON object");
  }
  // Give every object a key, and note what the document defines.
  std::map<std::string, Defined> defined;
  for (const char* section : kSections) {
    if (!doc.contains(section) || !doc[section].is_array()) {
      continue;  // absent; a wrong type is the reader's to report
    }
    for (json& o : doc[section]) {
      if (!o.is_object()) {
        continue;
      }
      if (!o.contains("key")) {
        o["key"] = Guid::generate().toString();
      }
      if (o["key"].is_string()) {
        if (auto g = Guid::parse(o["key"].get<std::string>())) {
          defined[section].keys.insert(g->toString());
        }
      }
      if (o.contains("name") && o["name"].is_string()) {
        defined[section].names.insert(o["name"].get<std::string>());
      }
    }
  }

  // Stand-ins for the live objects the document may refer to, after its own objects (so the
  // reader's messages count the document's objects as the user wrote them).
  json full = doc;
  const auto append = [&](const char* section, json stub) {
    if (!full.contains(section)) {
      full[section] = json::array();
    }
    if (full[section].is_array()) {
      full[section].push_back(std::move(stub));
    }
  };
  for (const Provider& p : live.providers) {
    const std::string name = nameOr(p.displayData, p.key);
    if (!definedBy(defined["providers"], p.key, name)) {
      append("providers",
             {{"key", p.key.toString()},
              {"name", name},
              {"flags", persistentFlags((p.flags & kProviderFlagPersistent) != 0)}});
    }
  }
  for (const Sublayer& s : live.sublayers) {
    const std::string name = nameOr(s.displayData, s.key);
    if (!isBuiltinSublayer(s) && !definedBy(defined["sublayers"], s.key, name)) {
      append("sublayers",
             {{"key", s.key.toString()},
              {"name", name},
              {"weight", s.weight},
              {"flags", persistentFlags((s.flags & kSublayerFlagPersistent) != 0)}});
    }
  }
  for (const Callout& c : live.callouts) {
    const std::string name = nameOr(c.displayData, c.key);
    if (layerByKey(c.applicableLayer) != nullptr && !definedBy(defined["callouts"], c.key, name)) {
      append("callouts",
             {{"key", c.key.toString()},
              {"name", name},
              {"layer", c.applicableLayer.toString()},
              {"flags", c.flags & (kCalloutFlagPersistent | kCalloutFlagUsesProviderContext)}});
    }
  }
  // Provider contexts cannot be enumerated: fetch the ones filters name by key.
  std::set<std::string> fetched;
  if (doc.contains("filters") && doc["filters"].is_array()) {
    for (const json& f : doc["filters"]) {
      if (!f.is_object() || !f.contains("provider_context") || !f["provider_context"].is_string()) {
        continue;
      }
      auto g = Guid::parse(f["provider_context"].get<std::string>());
      if (!g || defined["provider_contexts"].keys.contains(g->toString()) ||
          !fetched.insert(g->toString()).second) {
        continue;
      }
      v1::SessionRequest q;
      q.set_get_provider_context(rpc::guidToBytes(*g));
      auto r = client.call(q);
      if (!r) {
        if (r.error().exitCode != kExitRefused) {
          return tl::unexpected(r.error());
        }
        continue;  // not there: the reader reports the dangling reference
      }
      auto pc = rpc::fromProto(r->provider_context(), "provider_context");
      if (!pc) {
        continue;
      }
      append("provider_contexts",
             {{"key", pc->key.toString()},
              {"name", nameOr(pc->displayData, pc->key)},
              {"flags", persistentFlags((pc->flags & kProviderContextFlagPersistent) != 0)},
              {"data", hex(pc->dataBuffer)}});
    }
  }

  auto policy = parsePolicy(full.dump(), origin);
  if (!policy) {
    return failWith(exitCode, policy.error().message, policy.error().status);
  }

  std::vector<PolicyObject> out;
  for (const char* section : kSections) {
    if (!doc.contains(section)) {
      continue;
    }
    const json& list = doc[section];
    for (size_t i = 0; i < list.size(); ++i) {
      PolicyObject obj;
      obj.kind = kindOf(section);
      obj.where = whereOf(section, i, list[i]);
      // The reader accepted the document, so every object has a key that parses.
      obj.key = *Guid::parse(list[i]["key"].get<std::string>());
      const auto missing = [&] {
        return failWith(exitCode,
                        fmt::format("{}: {}: not found after reading", origin, obj.where));
      };
      switch (obj.kind) {
        case ObjectKind::Provider: {
          const Provider* p = policy->provider(obj.key);
          if (p == nullptr) {
            return missing();
          }
          *obj.add.mutable_add_provider() = rpc::toProto(*p);
          obj.add.mutable_add_provider()->clear_origin();
          break;
        }
        case ObjectKind::ProviderContext: {
          const ProviderContext* p = policy->providerContext(obj.key);
          if (p == nullptr) {
            return missing();
          }
          *obj.add.mutable_add_provider_context() = rpc::toProto(*p);
          obj.add.mutable_add_provider_context()->clear_provider_context_id();
          obj.add.mutable_add_provider_context()->clear_origin();
          break;
        }
        case ObjectKind::Sublayer: {
          const Sublayer* s = policy->sublayer(obj.key);
          if (s == nullptr) {
            return missing();
          }
          *obj.add.mutable_add_sublayer() = rpc::toProto(*s);
          obj.add.mutable_add_sublayer()->clear_origin();
          break;
        }
        case ObjectKind::Callout: {
          const Callout* c = policy->callout(obj.key);
          if (c == nullptr) {
            return missing();
          }
          *obj.add.mutable_add_callout() = rpc::toProto(*c);
          obj.add.mutable_add_callout()->clear_callout_id();
          obj.add.mutable_add_callout()->clear_origin();
          break;
        }
        case ObjectKind::Filter: {
          const Filter* f = policy->filterByKey(obj.key);
          if (f == nullptr) {
            return missing();
          }
          v1::Filter* m = obj.add.mutable_add_filter();
          *m = rpc::toProto(*f);
          // The engine assigns these; the local parse's values mean nothing to it.
          m->clear_filter_id();
          m->clear_effective_weight();
          m->clear_origin();
          break;
        }
      }
      out.push_back(std::move(obj));
    }
  }
  return out;
}

}  // namespace xfp::ctl
