#include "userspace/core/policy_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "userspace/core/value_text.h"

namespace xfp {
namespace {

using nlohmann::json;

// Collects the path of the object being read so errors can name it.
class Reader {
 public:
  explicit Reader(std::string origin) : origin_(std::move(origin)) {}

  tl::unexpected<Error> error(uint32_t code,
                              const std::string& where,
                              const std::string& what) const {
    return tl::unexpected(Error{code, fmt::format("{}: {}: {}", origin_, where, what)});
  }
  tl::unexpected<Error> error(const Error& e, const std::string& where) const {
    std::string msg = e.message;
    if (e.status != 0) {
      msg = fmt::format("{}: {}", statusName(e.status), e.message);
    }
    return tl::unexpected(Error{e.status, fmt::format("{}: {}: {}", origin_, where, msg)});
  }

 private:
  std::string origin_;
};

std::string objectWhere(const char* kind, size_t index, const json& obj) {
  if (obj.is_object() && obj.contains("name") && obj["name"].is_string()) {
    return fmt::format("{}[{}] \"{}\"", kind, index, obj["name"].get<std::string>());
  }
  return fmt::format("{}[{}]", kind, index);
}

Result<void> checkKeys(const json& obj, std::initializer_list<std::string_view> allowed) {
  if (!obj.is_object()) {
    return fail(status::kInvalidParameter, "must be a JSON object");
  }
  for (const auto& [k, v] : obj.items()) {
    bool ok = false;
    for (std::string_view a : allowed) {
      ok = ok || k == a;
    }
    if (!ok) {
      std::string list;
      for (std::string_view a : allowed) {
        list += (list.empty() ? "" : ", ") + std::string(a);
      }
      return fail(status::kInvalidParameter,
                  fmt::format("unknown member \"{}\" (allowed: {})", k, list));
    }
  }
  return {};
}

Result<std::string> getString(const json& obj, const char* member) {
  const json& v = obj[member];
  if (!v.is_string()) {
    return fail(status::kInvalidParameter, fmt::format("\"{}\" must be a string", member));
  }
  return v.get<std::string>();
}

Result<Guid> parseKey(const json& v) {
  if (!v.is_string()) {
    return fail(status::kInvalidParameter, "a key must be a GUID string");
  }
  auto g = Guid::parse(v.get<std::string>());
  if (!g) {
    return fail(status::kInvalidParameter,
                fmt::format("\"{}\" is not a GUID ({{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}})",
                            v.get<std::string>()));
  }
  return *g;
}

Result<Bytes> parseData(const json& v) {
  if (!v.is_string()) {
    return fail(status::kInvalidParameter, "data must be a string (text, or hex:<bytes>)");
  }
  const std::string s = v.get<std::string>();
  if (s.rfind("hex:", 0) == 0) {
    Bytes out;
    const std::string hex = s.substr(4);
    if (hex.size() % 2 != 0 ||
        hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) {
      return fail(status::kInvalidParameter, "hex: data needs an even number of hex digits");
    }
    for (size_t i = 0; i < hex.size(); i += 2) {
      out.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
    }
    return out;
  }
  return Bytes(s.begin(), s.end());
}

// Flags: a list of names (with or without the type's prefix) or a number.
Result<uint32_t> parseFlags(const json& v,
                            const std::map<std::string, uint32_t, std::less<>>& names) {
  if (v.is_number_unsigned()) {
    return v.get<uint32_t>();
  }
  if (!v.is_array()) {
    return fail(status::kInvalidParameter, "flags must be a list of names or a number");
  }
  uint32_t flags = 0;
  for (const json& f : v) {
    if (!f.is_string()) {
      return fail(status::kInvalidParameter, "flags must be names");
    }
    std::string n = f.get<std::string>();
    for (char& c : n) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    auto it = names.find(n);
    if (it == names.end()) {
      std::string list;
      for (const auto& [name, bit] : names) {
        list += (list.empty() ? "" : ", ") + name;
      }
      return fail(status::kInvalidFlags,
                  fmt::format("unknown flag \"{}\" (known: {})", f.get<std::string>(), list));
    }
    flags |= it->second;
  }
  return flags;
}

// Resolves a reference to an object of the file by name or by key.
class NameTable {
 public:
  Result<void> add(const std::string& name, const Guid& key, const char* kind) {
    if (!byName_.emplace(name, key).second) {
      duplicates_.insert(name);
    }
    (void)kind;
    return {};
  }
  Result<Guid> resolve(const json& ref, const char* kind) const {
    if (!ref.is_string()) {
      return fail(status::kInvalidParameter, fmt::format("a {} reference must be a string", kind));
    }
    const std::string s = ref.get<std::string>();
    if (auto g = Guid::parse(s)) {
      return *g;
    }
    if (duplicates_.contains(s)) {
      return fail(status::kInvalidParameter,
                  fmt::format("{} name \"{}\" is not unique: use its key", kind, s));
    }
    auto it = byName_.find(s);
    if (it == byName_.end()) {
      return fail(status::kInvalidParameter,
                  fmt::format("no {} named \"{}\" in this file (use a name or a GUID)", kind, s));
    }
    return it->second;
  }

 private:
  std::map<std::string, Guid> byName_;
  std::set<std::string> duplicates_;
};

const std::map<std::string, uint32_t, std::less<>> kPersistentOnly = {{"PERSISTENT", 0x1}};
const std::map<std::string, uint32_t, std::less<>> kCalloutFlags = {
    {"PERSISTENT", kCalloutFlagPersistent},
    {"USES_PROVIDER_CONTEXT", kCalloutFlagUsesProviderContext}};

// The members every object kind has: key, name, description, flags, provider, data.
struct Common {
  Guid key;
  DisplayData displayData;
  uint32_t flags = 0;
  std::optional<Guid> providerKey;
  Bytes data;
};

// Reads the common members of `o` (the object at `where`); `providers` is null for providers
// themselves (a provider has no owner).
Result<Common> readCommon(const Reader& rd,
                          const json& o,
                          const std::string& where,
                          const std::map<std::string, uint32_t, std::less<>>& flagNames,
                          const NameTable* providers) {
  Common c;
  c.key = Guid::generate();
  if (o.contains("name") && o["name"].is_string()) {
    c.displayData.name = o["name"].get<std::string>();
  }
  if (o.contains("description")) {
    if (!o["description"].is_string()) {
      return rd.error(status::kInvalidParameter, where + ".description", "must be a string");
    }
    c.displayData.description = o["description"].get<std::string>();
  }
  if (o.contains("key")) {
    auto k = parseKey(o["key"]);
    if (!k) {
      return rd.error(k.error(), where + ".key");
    }
    c.key = *k;
  }
  if (o.contains("flags")) {
    auto f = parseFlags(o["flags"], flagNames);
    if (!f) {
      return rd.error(f.error(), where + ".flags");
    }
    c.flags = *f;
  }
  if (providers != nullptr && o.contains("provider")) {
    auto g = providers->resolve(o["provider"], "provider");
    if (!g) {
      return rd.error(g.error(), where + ".provider");
    }
    c.providerKey = *g;
  }
  if (o.contains("data")) {
    auto d = parseData(o["data"]);
    if (!d) {
      return rd.error(d.error(), where + ".data");
    }
    c.data = *d;
  }
  return c;
}

std::map<std::string, uint32_t, std::less<>> filterFlagNames() {
  std::map<std::string, uint32_t, std::less<>> names;
  for (uint32_t bit = 1; bit <= 0x2000; bit <<= 1) {
    const std::string n = filterFlagsToString(bit);
    names.emplace(n, bit);
    names.emplace("FWPM_FILTER_FLAG_" + n, bit);
  }
  return names;
}

Result<Value> plainFromJson(const FieldInfo& field, const json& v) {
  if (v.is_null()) {
    return Value{};
  }
  if (v.is_string()) {
    return parseValueText(field, field.type, v.get<std::string>());
  }
  if (v.is_number_integer()) {
    const std::string text = v.is_number_unsigned() ? std::to_string(v.get<uint64_t>())
                                                    : std::to_string(v.get<int64_t>());
    if (field.isAddress && field.type == DataType::Uint32) {
      uint64_t raw = v.get<uint64_t>();
      if (raw > 0xFFFFFFFF) {
        return fail(status::kOutOfBounds, "IPv4 address number > 0xFFFFFFFF");
      }
      return Value::uint32(static_cast<uint32_t>(raw));
    }
    return parseValueText(field, field.type, text);
  }
  if (v.is_object()) {
    if (auto r = checkKeys(v, {"type", "value"}); !r) {
      return tl::unexpected(r.error());
    }
    if (!v.contains("type") || !v["type"].is_string() || !v.contains("value")) {
      return fail(status::kInvalidParameter, "a typed value is {\"type\": NAME, \"value\": ...}");
    }
    auto type = parseDataType(v["type"].get<std::string>());
    if (!type) {
      return fail(status::kInvalidParameter,
                  fmt::format("unknown data type \"{}\"", v["type"].get<std::string>()));
    }
    const json& inner = v["value"];
    const std::string text = inner.is_string() ? inner.get<std::string>() : inner.dump();
    return parseValueText(field, *type, text);
  }
  return fail(status::kInvalidParameter,
              "a value is a number, a string, null (FWP_EMPTY), [low, high] or {type, value}");
}

Result<ConditionValue> conditionValueFromJson(const FieldInfo& field, const json& v) {
  if (v.is_array()) {
    if (v.size() != 2) {
      return fail(status::kInvalidParameter, "a range is [low, high]");
    }
    auto low = plainFromJson(field, v[0]);
    if (!low) {
      return tl::unexpected(Error(low.error()).within("low"));
    }
    auto high = plainFromJson(field, v[1]);
    if (!high) {
      return tl::unexpected(Error(high.error()).within("high"));
    }
    return ConditionValue(RangeValue{*low, *high});
  }
  if (v.is_string()) {
    return parseConditionText(field, v.get<std::string>());
  }
  auto plain = plainFromJson(field, v);
  if (!plain) {
    return tl::unexpected(plain.error());
  }
  return ConditionValue(*plain);
}

}  // namespace

Result<Policy> parsePolicy(std::string_view text, const std::string& origin) {
  Reader rd(origin);
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    return rd.error(status::kInvalidParameter, "JSON", e.what());
  }
  if (auto r = checkKeys(
          doc,
          {"xfp_policy", "providers", "provider_contexts", "sublayers", "callouts", "filters"});
      !r) {
    return rd.error(r.error(), "top level");
  }
  if (!doc.contains("xfp_policy") || doc["xfp_policy"] != 1) {
    return rd.error(
        status::kInvalidParameter, "top level", "\"xfp_policy\": 1 is required (format version)");
  }
  for (const char* section :
       {"providers", "provider_contexts", "sublayers", "callouts", "filters"}) {
    if (doc.contains(section) && !doc[section].is_array()) {
      return rd.error(status::kInvalidParameter, section, "must be a list");
    }
  }
  const json empty = json::array();
  auto list = [&](const char* section) -> const json& {
    return doc.contains(section) ? doc[section] : empty;
  };

  Policy policy;
  NameTable providers;
  NameTable contexts;
  NameTable sublayers;
  NameTable callouts;
  for (const BuiltinSublayer& b : builtinSublayers()) {
    sublayers.add("FWPM_SUBLAYER_" + std::string(b.name), b.key, "sublayer");
  }
  const auto named = [](const json& o) -> std::optional<std::string> {
    if (o.contains("name") && o["name"].is_string()) {
      return o["name"].get<std::string>();
    }
    return std::nullopt;
  };

  // Providers.
  const json& provs = list("providers");
  for (size_t i = 0; i < provs.size(); ++i) {
    const json& o = provs[i];
    const std::string where = objectWhere("providers", i, o);
    if (auto r = checkKeys(o, {"key", "name", "description", "flags", "data", "service_name"});
        !r) {
      return rd.error(r.error(), where);
    }
    auto common = readCommon(rd, o, where, kPersistentOnly, nullptr);
    if (!common) {
      return tl::unexpected(common.error());
    }
    Provider p;
    p.key = common->key;
    p.displayData = common->displayData;
    p.flags = common->flags;
    p.providerData = common->data;
    if (o.contains("service_name")) {
      auto sn = getString(o, "service_name");
      if (!sn) {
        return rd.error(sn.error(), where + ".service_name");
      }
      p.serviceName = *sn;
    }
    if (auto r = policy.addProvider(std::move(p)); !r) {
      return rd.error(r.error(), where);
    }
    if (auto n = named(o)) {
      providers.add(*n, common->key, "provider");
    }
  }

  // Provider contexts (FWPM_GENERAL_CONTEXT: the data is the context's blob).
  const json& ctxs = list("provider_contexts");
  for (size_t i = 0; i < ctxs.size(); ++i) {
    const json& o = ctxs[i];
    const std::string where = objectWhere("provider_contexts", i, o);
    if (auto r = checkKeys(o, {"key", "name", "description", "flags", "provider", "data"}); !r) {
      return rd.error(r.error(), where);
    }
    auto common = readCommon(rd, o, where, kPersistentOnly, &providers);
    if (!common) {
      return tl::unexpected(common.error());
    }
    ProviderContext c;
    c.key = common->key;
    c.displayData = common->displayData;
    c.flags = common->flags;
    c.providerKey = common->providerKey;
    c.dataBuffer = common->data;
    if (auto r = policy.addProviderContext(std::move(c)); !r) {
      return rd.error(r.error(), where);
    }
    if (auto n = named(o)) {
      contexts.add(*n, common->key, "provider context");
    }
  }

  // Sublayers.
  const json& subs = list("sublayers");
  for (size_t i = 0; i < subs.size(); ++i) {
    const json& o = subs[i];
    const std::string where = objectWhere("sublayers", i, o);
    if (auto r =
            checkKeys(o, {"key", "name", "description", "flags", "provider", "weight", "data"});
        !r) {
      return rd.error(r.error(), where);
    }
    auto common = readCommon(rd, o, where, kPersistentOnly, &providers);
    if (!common) {
      return tl::unexpected(common.error());
    }
    if (!o.contains("weight") || !o["weight"].is_number_unsigned() ||
        o["weight"].get<uint64_t>() > 0xFFFF) {
      return rd.error(status::kInvalidParameter,
                      where + ".weight",
                      "a sublayer weight is required: an integer 0..65535");
    }
    Sublayer sl;
    sl.key = common->key;
    sl.displayData = common->displayData;
    sl.flags = common->flags;
    sl.providerKey = common->providerKey;
    sl.providerData = common->data;
    sl.weight = o["weight"].get<uint16_t>();
    if (auto r = policy.addSublayer(std::move(sl)); !r) {
      return rd.error(r.error(), where);
    }
    if (auto n = named(o)) {
      sublayers.add(*n, common->key, "sublayer");
    }
  }

  // Callouts (management objects).
  const json& cos = list("callouts");
  for (size_t i = 0; i < cos.size(); ++i) {
    const json& o = cos[i];
    const std::string where = objectWhere("callouts", i, o);
    if (auto r = checkKeys(o, {"key", "name", "description", "flags", "provider", "layer", "data"});
        !r) {
      return rd.error(r.error(), where);
    }
    auto common = readCommon(rd, o, where, kCalloutFlags, &providers);
    if (!common) {
      return tl::unexpected(common.error());
    }
    if (!o.contains("layer") || !o["layer"].is_string()) {
      return rd.error(
          status::kInvalidParameter, where + ".layer", "the applicable layer is required");
    }
    const LayerInfo* layer = layerByName(o["layer"].get<std::string>());
    if (layer == nullptr) {
      return rd.error(status::kLayerNotFound,
                      where + ".layer",
                      fmt::format("unknown layer \"{}\"", o["layer"].get<std::string>()));
    }
    Callout c;
    c.key = common->key;
    c.displayData = common->displayData;
    c.flags = common->flags;
    c.providerKey = common->providerKey;
    c.providerData = common->data;
    c.applicableLayer = layer->key;
    if (auto r = policy.addCallout(std::move(c)); !r) {
      return rd.error(r.error(), where);
    }
    if (auto n = named(o)) {
      callouts.add(*n, common->key, "callout");
    }
  }

  // Filters.
  static const auto kFilterFlagNames = filterFlagNames();
  const json& fils = list("filters");
  for (size_t i = 0; i < fils.size(); ++i) {
    const json& o = fils[i];
    const std::string where = objectWhere("filters", i, o);
    if (auto r = checkKeys(o,
                           {"key",
                            "name",
                            "description",
                            "flags",
                            "provider",
                            "layer",
                            "sublayer",
                            "weight",
                            "action",
                            "callout",
                            "conditions",
                            "raw_context",
                            "provider_context",
                            "filter_type",
                            "data"});
        !r) {
      return rd.error(r.error(), where);
    }
    auto common = readCommon(rd, o, where, kFilterFlagNames, &providers);
    if (!common) {
      return tl::unexpected(common.error());
    }
    Filter f;
    f.key = common->key;
    f.displayData = common->displayData;
    f.flags = common->flags;
    f.providerKey = common->providerKey;
    f.providerData = common->data;
    if (!o.contains("layer") || !o["layer"].is_string()) {
      return rd.error(status::kInvalidParameter, where + ".layer", "a layer is required");
    }
    const LayerInfo* layer = layerByName(o["layer"].get<std::string>());
    if (layer == nullptr || !layer->hasSchema()) {
      return rd.error(status::kLayerNotFound,
                      where + ".layer",
                      fmt::format("unknown layer \"{}\"", o["layer"].get<std::string>()));
    }
    f.layerKey = layer->key;
    if (o.contains("sublayer")) {
      auto s = sublayers.resolve(o["sublayer"], "sublayer");
      if (!s) {
        // Any FWPM_SUBLAYER_* name from the spec is accepted as its GUID.
        const Guid* k = o["sublayer"].is_string()
                            ? sublayerKeyByName(o["sublayer"].get<std::string>())
                            : nullptr;
        if (k == nullptr) {
          return rd.error(s.error(), where + ".sublayer");
        }
        f.subLayerKey = *k;
      } else {
        f.subLayerKey = *s;
      }
    }
    // Weight: absent/"auto"/null = FWP_EMPTY; a number = FWP_UINT64; {"range": k} = FWP_UINT8.
    if (o.contains("weight")) {
      const json& w = o["weight"];
      if (w.is_number_unsigned()) {
        f.weight = Value::uint64(w.get<uint64_t>());
      } else if (w.is_object() && w.size() == 1 && w.contains("range") &&
                 w["range"].is_number_unsigned() && w["range"].get<uint64_t>() <= 0xFF) {
        f.weight = Value::uint8(w["range"].get<uint8_t>());
      } else if (w.is_object() && w.size() == 1 && w.contains("uint64") &&
                 w["uint64"].is_number_unsigned()) {
        f.weight = Value::uint64(w["uint64"].get<uint64_t>());
      } else if (!(w.is_null() || (w.is_string() && w.get<std::string>() == "auto"))) {
        return rd.error(status::kInvalidWeight,
                        where + ".weight",
                        "a weight is a number (FWP_UINT64), {\"range\": 0..15} (FWP_UINT8), "
                        "or \"auto\" (FWP_EMPTY)");
      }
    }
    // Action.
    if (!o.contains("action") || !o["action"].is_string()) {
      return rd.error(status::kInvalidActionType,
                      where + ".action",
                      "an action is required: block, permit, callout_terminating, "
                      "callout_inspection or callout_unknown");
    }
    auto action = parseActionType(o["action"].get<std::string>());
    if (!action) {
      return rd.error(status::kInvalidActionType,
                      where + ".action",
                      fmt::format("unknown action \"{}\"", o["action"].get<std::string>()));
    }
    f.action.type = *action;
    if (isCalloutAction(*action)) {
      if (!o.contains("callout")) {
        return rd.error(
            status::kCalloutNotFound, where + ".callout", "a callout action names its callout");
      }
      auto c = callouts.resolve(o["callout"], "callout");
      if (!c) {
        return rd.error(c.error(), where + ".callout");
      }
      f.action.calloutKey = *c;
    } else if (o.contains("callout")) {
      return rd.error(
          status::kInvalidParameter, where + ".callout", "only callout actions name a callout");
    }
    if (o.contains("filter_type")) {
      auto k = parseKey(o["filter_type"]);
      if (!k) {
        return rd.error(k.error(), where + ".filter_type");
      }
      f.action.filterType = *k;
    }
    if (o.contains("raw_context")) {
      if (!o["raw_context"].is_number_unsigned()) {
        return rd.error(status::kInvalidParameter, where + ".raw_context", "must be a number");
      }
      f.rawContext = o["raw_context"].get<uint64_t>();
    }
    if (o.contains("provider_context")) {
      auto c = contexts.resolve(o["provider_context"], "provider context");
      if (!c) {
        return rd.error(c.error(), where + ".provider_context");
      }
      f.providerContextKey = *c;
      f.flags |= filter_flag::kHasProviderContext;
    }
    // Conditions.
    if (o.contains("conditions")) {
      const json& cs = o["conditions"];
      if (!cs.is_array()) {
        return rd.error(status::kInvalidParameter, where + ".conditions", "must be a list");
      }
      for (size_t j = 0; j < cs.size(); ++j) {
        const json& c = cs[j];
        const std::string cw = fmt::format("{}.conditions[{}]", where, j);
        if (auto r = checkKeys(c, {"field", "match", "value"}); !r) {
          return rd.error(r.error(), cw);
        }
        if (!c.contains("field") || !c["field"].is_string()) {
          return rd.error(status::kConditionNotFound, cw + ".field", "a field name is required");
        }
        const std::string fieldName = c["field"].get<std::string>();
        const FieldInfo* field = layer->fieldByName(fieldName);
        if (field == nullptr) {
          return rd.error(status::kConditionNotFound,
                          cw + ".field",
                          fmt::format("\"{}\" is not a field of {} (xfpctl layers {} lists them)",
                                      fieldName,
                                      layer->fullName(),
                                      layer->name));
        }
        Condition cond;
        cond.fieldKey = field->conditionKey;
        if (!c.contains("value")) {
          return rd.error(status::kNullPointer, cw + ".value", "a value is required");
        }
        auto value = conditionValueFromJson(*field, c["value"]);
        if (!value) {
          return rd.error(value.error(), cw + ".value");
        }
        cond.value = *value;
        if (c.contains("match")) {
          if (!c["match"].is_string()) {
            return rd.error(status::kInvalidParameter, cw + ".match", "must be a name");
          }
          auto m = parseMatchType(c["match"].get<std::string>());
          if (!m) {
            return rd.error(
                status::kInvalidEnumerator,
                cw + ".match",
                fmt::format("unknown match type \"{}\"", c["match"].get<std::string>()));
          }
          cond.matchType = *m;
        } else {
          cond.matchType =
              cond.value.type() == DataType::Range ? MatchType::Range : MatchType::Equal;
        }
        f.conditions.push_back(std::move(cond));
      }
    }
    if (auto r = policy.addFilter(std::move(f)); !r) {
      return rd.error(r.error(), where);
    }
  }
  return policy;
}

Result<Policy> loadPolicyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return fail(status::kInvalidParameter,
                fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parsePolicy(text.str(), path);
}

}  // namespace xfp
