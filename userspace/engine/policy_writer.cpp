#include "userspace/engine/policy_writer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "userspace/core/layers.h"

namespace xfp::engine {

using nlohmann::json;

namespace {

// ---------------------------------------------------------------------------------------------
// Writer helpers

std::string hex(const Bytes& bytes) {
  return formatHex(bytes);
}

json optGuid(const std::optional<Guid>& g) {
  return g ? json(g->toString()) : json(nullptr);
}

json displayData(const DisplayData& d) {
  return json{{"name", d.name ? json(*d.name) : json(nullptr)}, {"description", d.description}};
}

// True when `s` is valid UTF-16 (no lone surrogate): then it is stored as UTF-8 text.
bool wellFormedUtf16(const std::u16string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const char16_t c = s[i];
    if (c >= 0xD800 && c < 0xDC00) {
      if (i + 1 >= s.size() || s[i + 1] < 0xDC00 || s[i + 1] >= 0xE000) {
        return false;
      }
      ++i;
    } else if (c >= 0xDC00 && c < 0xE000) {
      return false;
    }
  }
  return true;
}

json floatingToJson(double v) {
  if (std::isnan(v)) {
    return "nan";
  }
  if (std::isinf(v)) {
    return v > 0 ? "inf" : "-inf";
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Reader helpers

#define XFP_TRY(var, expr)                       \
  auto var##_result = (expr);                    \
  if (!var##_result) {                           \
    return tl::unexpected(var##_result.error()); \
  }                                              \
  auto var = std::move(*var##_result)

tl::unexpected<Error> bad(const std::string& path, const std::string& what) {
  return fail(status::kInvalidParameter, path + ": " + what);
}

std::string kind(const json& j) {
  return j.type_name();
}

Result<const json*> member(const json& obj, const char* name, const std::string& path) {
  if (!obj.is_object()) {
    return bad(path, "expected an object, found " + kind(obj));
  }
  auto it = obj.find(name);
  if (it == obj.end()) {
    return bad(path, fmt::format("member \"{}\" is missing", name));
  }
  return &*it;
}

std::string sub(const std::string& path, const char* name) {
  return path.empty() ? std::string(name) : path + "." + name;
}

Result<uint64_t> unsignedAt(const json& j, const std::string& path, uint64_t max) {
  if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<int64_t>() >= 0)) {
    return bad(path, "expected an unsigned integer, found " + kind(j));
  }
  const uint64_t v = j.get<uint64_t>();
  if (v > max) {
    return bad(path, fmt::format("{} is out of range (at most {})", v, max));
  }
  return v;
}

Result<uint64_t> unsignedMember(const json& obj,
                                const char* name,
                                const std::string& path,
                                uint64_t max) {
  XFP_TRY(m, member(obj, name, path));
  return unsignedAt(*m, sub(path, name), max);
}

Result<int64_t> signedAt(const json& j, const std::string& path, int64_t min, int64_t max) {
  if (!j.is_number_integer()) {
    return bad(path, "expected an integer, found " + kind(j));
  }
  if (j.is_number_unsigned() &&
      j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return bad(path, "integer out of range");
  }
  const int64_t v = j.get<int64_t>();
  if (v < min || v > max) {
    return bad(path, fmt::format("{} is out of range ({}..{})", v, min, max));
  }
  return v;
}

Result<std::string> stringAt(const json& j, const std::string& path) {
  if (!j.is_string()) {
    return bad(path, "expected a string, found " + kind(j));
  }
  return j.get<std::string>();
}

Result<std::string> stringMember(const json& obj, const char* name, const std::string& path) {
  XFP_TRY(m, member(obj, name, path));
  return stringAt(*m, sub(path, name));
}

Result<Guid> guidAt(const json& j, const std::string& path) {
  XFP_TRY(text, stringAt(j, path));
  auto g = Guid::parse(text);
  if (!g) {
    return bad(path, "\"" + text + "\" is not a GUID");
  }
  return *g;
}

Result<Guid> guidMember(const json& obj, const char* name, const std::string& path) {
  XFP_TRY(m, member(obj, name, path));
  return guidAt(*m, sub(path, name));
}

Result<std::optional<Guid>> optGuidMember(const json& obj,
                                          const char* name,
                                          const std::string& path) {
  XFP_TRY(m, member(obj, name, path));
  if (m->is_null()) {
    return std::optional<Guid>();
  }
  XFP_TRY(g, guidAt(*m, sub(path, name)));
  return std::optional<Guid>(g);
}

Result<Bytes> hexAt(const json& j, const std::string& path) {
  XFP_TRY(text, stringAt(j, path));
  if (text.size() % 2 != 0) {
    return bad(path, "hex text of odd length");
  }
  Bytes out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = detail::hexValue(text[i]);
    const int lo = detail::hexValue(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return bad(path, fmt::format("not hex at offset {}", i));
    }
    out.push_back(static_cast<uint8_t>(hi * 16 + lo));
  }
  return out;
}

Result<Bytes> hexMember(const json& obj, const char* name, const std::string& path) {
  XFP_TRY(m, member(obj, name, path));
  return hexAt(*m, sub(path, name));
}

Result<DisplayData> displayDataMember(const json& obj, const std::string& path) {
  XFP_TRY(m, member(obj, "displayData", path));
  const std::string p = sub(path, "displayData");
  XFP_TRY(name, member(*m, "name", p));
  DisplayData d;
  if (!name->is_null()) {
    XFP_TRY(n, stringAt(*name, sub(p, "name")));
    d.name = std::move(n);
  }
  XFP_TRY(description, stringMember(*m, "description", p));
  d.description = std::move(description);
  return d;
}

Result<double> floatingAt(const json& j, const std::string& path) {
  if (j.is_number()) {
    return j.get<double>();
  }
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s == "nan") {
      return std::numeric_limits<double>::quiet_NaN();
    }
    if (s == "inf") {
      return std::numeric_limits<double>::infinity();
    }
    if (s == "-inf") {
      return -std::numeric_limits<double>::infinity();
    }
  }
  return bad(path, "expected a number, \"nan\", \"inf\" or \"-inf\", found " + kind(j));
}

template <size_t N>
Result<std::array<uint8_t, N>> fixedBytes(const json& obj, const std::string& path) {
  XFP_TRY(b, hexMember(obj, "value", path));
  if (b.size() != N) {
    return bad(sub(path, "value"), fmt::format("{} bytes, expected {}", b.size(), N));
  }
  std::array<uint8_t, N> out{};
  std::copy(b.begin(), b.end(), out.begin());
  return out;
}

Result<DataType> dataTypeMember(const json& obj, const std::string& path) {
  XFP_TRY(name, stringMember(obj, "type", path));
  auto t = parseDataType(name);
  if (!t) {
    return bad(sub(path, "type"), "unknown data type \"" + name + "\"");
  }
  return *t;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Collecting

PersistentObjects collectPersistent(const Policy& policy) {
  PersistentObjects out;
  const auto persistent = [](const ObjectOrigin& o) { return o.lifetime == Lifetime::Persistent; };
  for (const auto& [key, p] : policy.providers()) {
    if (persistent(p.origin)) {
      out.providers.push_back(p);
      out.providers.back().flags &= ~kProviderFlagDisabled;
    }
  }
  for (const auto& [key, s] : policy.sublayers()) {
    if (persistent(s.origin)) {
      out.sublayers.push_back(s);
    }
  }
  for (const auto& [key, c] : policy.callouts()) {
    if (persistent(c.origin)) {
      out.callouts.push_back(c);
      out.callouts.back().flags &= ~kCalloutFlagRegistered;
    }
  }
  std::sort(out.callouts.begin(), out.callouts.end(), [](const Callout& a, const Callout& b) {
    return a.calloutId < b.calloutId;
  });
  for (const auto& [id, f] : policy.filters()) {  // ascending filterId
    if (persistent(f.origin)) {
      out.filters.push_back(f);
      out.filters.back().flags &= ~(filter_flag::kDisabled | filter_flag::kIndexed);
    }
  }

  // Policy has no enumeration of provider contexts nor an accessor for its next provider-context
  // id; a snapshot is probed for it (its ids advance, the policy's do not). The callout id
  // allocator is shared with snapshots, so it is read, never probed.
  // TODO(core): replace with Policy::providerContexts() / nextProviderContextId().
  Policy probe = policy.snapshot();
  out.nextFilterId = policy.nextFilterId();
  out.nextCalloutId = policy.nextCalloutId();
  ProviderContext dummy;
  dummy.displayData.name = "xfp store probe";
  auto next = probe.addProviderContext(dummy);
  out.nextProviderContextId = next ? *next : 1;
  for (uint64_t id = 1; id < out.nextProviderContextId; ++id) {
    const ProviderContext* c = policy.providerContextById(id);
    if (c != nullptr && persistent(c->origin)) {
      out.providerContexts.push_back(*c);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writer

json valueToJson(const Value& v) {
  json j{{"type", dataTypeName(v.type())}};
  switch (v.type()) {
    case DataType::Empty:
      break;
    case DataType::Uint8:
    case DataType::Uint16:
    case DataType::Uint32:
    case DataType::Uint64:
      j["value"] = v.asUnsigned();
      break;
    case DataType::Int8:
    case DataType::Int16:
    case DataType::Int32:
    case DataType::Int64:
      j["value"] = v.asSigned();
      break;
    case DataType::Float:
    case DataType::Double:
      j["value"] = floatingToJson(v.asDouble());
      break;
    case DataType::ByteArray16:
    case DataType::ByteArray6:
    case DataType::ByteBlob:
    case DataType::Sid:
    case DataType::SecurityDescriptor:
      j["value"] = hex(v.asBytes());
      break;
    case DataType::UnicodeString:
      if (wellFormedUtf16(v.asString())) {
        j["value"] = utf16ToUtf8(v.asString());
      } else {
        j["units"] = json::array();
        for (char16_t c : v.asString()) {
          j["units"].push_back(static_cast<uint16_t>(c));
        }
      }
      break;
    case DataType::TokenInformation:
    case DataType::TokenAccessInformation:
      j["uid"] = v.asToken().uid;
      j["gids"] = v.asToken().gids;
      break;
    default:
      break;
  }
  return j;
}

json conditionValueToJson(const ConditionValue& v) {
  if (const Value* plain = v.plain()) {
    return valueToJson(*plain);
  }
  if (const V4AddrMask* m = v.v4Mask()) {
    return json{{"type", dataTypeName(DataType::V4AddrMask)}, {"addr", m->addr}, {"mask", m->mask}};
  }
  if (const V6AddrMask* m = v.v6Mask()) {
    return json{{"type", dataTypeName(DataType::V6AddrMask)},
                {"addr", hex(Bytes(m->addr.begin(), m->addr.end()))},
                {"prefixLength", m->prefixLength}};
  }
  const RangeValue* r = v.range();
  return json{{"type", dataTypeName(DataType::Range)},
              {"low", valueToJson(r->low)},
              {"high", valueToJson(r->high)}};
}

json toJson(const Provider& p) {
  return json{{"key", p.key.toString()},
              {"displayData", displayData(p.displayData)},
              {"flags", p.flags},
              {"providerData", hex(p.providerData)},
              {"serviceName", p.serviceName}};
}

json toJson(const ProviderContext& c) {
  return json{{"key", c.key.toString()},
              {"displayData", displayData(c.displayData)},
              {"flags", c.flags},
              {"providerKey", optGuid(c.providerKey)},
              {"providerData", hex(c.providerData)},
              {"type", c.type},
              {"dataBuffer", hex(c.dataBuffer)},
              {"providerContextId", c.providerContextId}};
}

json toJson(const Sublayer& s) {
  return json{{"key", s.key.toString()},
              {"displayData", displayData(s.displayData)},
              {"flags", s.flags},
              {"providerKey", optGuid(s.providerKey)},
              {"providerData", hex(s.providerData)},
              {"weight", s.weight}};
}

json toJson(const Callout& c) {
  return json{{"key", c.key.toString()},
              {"displayData", displayData(c.displayData)},
              {"flags", c.flags},
              {"providerKey", optGuid(c.providerKey)},
              {"providerData", hex(c.providerData)},
              {"applicableLayer", c.applicableLayer.toString()},
              {"calloutId", c.calloutId}};
}

json toJson(const Filter& f) {
  json conditions = json::array();
  for (const Condition& c : f.conditions) {
    conditions.push_back(json{{"fieldKey", c.fieldKey.toString()},
                              {"matchType", matchTypeName(c.matchType)},
                              {"value", conditionValueToJson(c.value)}});
  }
  return json{{"key", f.key.toString()},
              {"displayData", displayData(f.displayData)},
              {"flags", f.flags},
              {"providerKey", optGuid(f.providerKey)},
              {"providerData", hex(f.providerData)},
              {"layerKey", f.layerKey.toString()},
              {"subLayerKey", f.subLayerKey.toString()},
              {"weight", valueToJson(f.weight)},
              {"conditions", std::move(conditions)},
              {"action",
               json{{"type", actionTypeName(f.action.type)},
                    {"filterType", f.action.filterType.toString()},
                    {"calloutKey", f.action.calloutKey.toString()}}},
              {"rawContext", f.rawContext},
              {"providerContextKey", f.providerContextKey.toString()},
              {"filterId", f.filterId},
              {"effectiveWeight", f.effectiveWeight}};
}

json objectsToJson(const PersistentObjects& o) {
  const auto list = [](const auto& objects) {
    json a = json::array();
    for (const auto& x : objects) {
      a.push_back(toJson(x));
    }
    return a;
  };
  return json{{"nextIds",
               json{{"filterId", o.nextFilterId},
                    {"calloutId", o.nextCalloutId},
                    {"providerContextId", o.nextProviderContextId}}},
              {"providers", list(o.providers)},
              {"providerContexts", list(o.providerContexts)},
              {"sublayers", list(o.sublayers)},
              {"callouts", list(o.callouts)},
              {"filters", list(o.filters)}};
}

// ---------------------------------------------------------------------------------------------
// Reader

Result<Value> valueFromJson(const json& j, const std::string& path) {
  XFP_TRY(type, dataTypeMember(j, path));
  const auto uint = [&](uint64_t max) { return unsignedMember(j, "value", path, max); };
  const auto sint = [&](int64_t min, int64_t max) -> Result<int64_t> {
    XFP_TRY(m, member(j, "value", path));
    return signedAt(*m, sub(path, "value"), min, max);
  };
  switch (type) {
    case DataType::Empty:
      return Value();
    case DataType::Uint8: {
      XFP_TRY(v, uint(UINT8_MAX));
      return Value::uint8(static_cast<uint8_t>(v));
    }
    case DataType::Uint16: {
      XFP_TRY(v, uint(UINT16_MAX));
      return Value::uint16(static_cast<uint16_t>(v));
    }
    case DataType::Uint32: {
      XFP_TRY(v, uint(UINT32_MAX));
      return Value::uint32(static_cast<uint32_t>(v));
    }
    case DataType::Uint64: {
      XFP_TRY(v, uint(UINT64_MAX));
      return Value::uint64(v);
    }
    case DataType::Int8: {
      XFP_TRY(v, sint(INT8_MIN, INT8_MAX));
      return Value::int8(static_cast<int8_t>(v));
    }
    case DataType::Int16: {
      XFP_TRY(v, sint(INT16_MIN, INT16_MAX));
      return Value::int16(static_cast<int16_t>(v));
    }
    case DataType::Int32: {
      XFP_TRY(v, sint(INT32_MIN, INT32_MAX));
      return Value::int32(static_cast<int32_t>(v));
    }
    case DataType::Int64: {
      XFP_TRY(v, sint(INT64_MIN, INT64_MAX));
      return Value::int64(v);
    }
    case DataType::Float:
    case DataType::Double: {
      XFP_TRY(m, member(j, "value", path));
      XFP_TRY(v, floatingAt(*m, sub(path, "value")));
      return type == DataType::Float ? Value::float32(static_cast<float>(v)) : Value::float64(v);
    }
    case DataType::ByteArray16: {
      XFP_TRY(b, fixedBytes<16>(j, path));
      return Value::byteArray16(b);
    }
    case DataType::ByteArray6: {
      XFP_TRY(b, fixedBytes<6>(j, path));
      return Value::byteArray6(b);
    }
    case DataType::ByteBlob:
    case DataType::Sid:
    case DataType::SecurityDescriptor: {
      XFP_TRY(b, hexMember(j, "value", path));
      if (type == DataType::ByteBlob) {
        return Value::byteBlob(std::move(b));
      }
      return type == DataType::Sid ? Value::sid(std::move(b))
                                   : Value::securityDescriptor(std::move(b));
    }
    case DataType::UnicodeString: {
      if (j.contains("units")) {
        const json& units = j["units"];
        if (!units.is_array()) {
          return bad(sub(path, "units"), "expected an array, found " + kind(units));
        }
        std::u16string s;
        for (size_t i = 0; i < units.size(); ++i) {
          XFP_TRY(u, unsignedAt(units[i], fmt::format("{}.units[{}]", path, i), UINT16_MAX));
          s.push_back(static_cast<char16_t>(u));
        }
        return Value::unicodeString(std::move(s));
      }
      XFP_TRY(text, stringMember(j, "value", path));
      return Value::unicodeString(utf8ToUtf16(text));
    }
    case DataType::TokenAccessInformation: {
      Token t;
      XFP_TRY(uid, unsignedMember(j, "uid", path, UINT32_MAX));
      t.uid = static_cast<uint32_t>(uid);
      XFP_TRY(gids, member(j, "gids", path));
      if (!gids->is_array()) {
        return bad(sub(path, "gids"), "expected an array, found " + kind(*gids));
      }
      for (size_t i = 0; i < gids->size(); ++i) {
        XFP_TRY(g, unsignedAt((*gids)[i], fmt::format("{}.gids[{}]", path, i), UINT32_MAX));
        t.gids.push_back(static_cast<uint32_t>(g));
      }
      return Value::token(std::move(t));
    }
    default:
      return bad(sub(path, "type"),
                 std::string(dataTypeName(type)) + " is not a value type the store holds");
  }
}

Result<ConditionValue> conditionValueFromJson(const json& j, const std::string& path) {
  XFP_TRY(type, dataTypeMember(j, path));
  switch (type) {
    case DataType::V4AddrMask: {
      XFP_TRY(addr, unsignedMember(j, "addr", path, UINT32_MAX));
      XFP_TRY(mask, unsignedMember(j, "mask", path, UINT32_MAX));
      return ConditionValue(V4AddrMask{static_cast<uint32_t>(addr), static_cast<uint32_t>(mask)});
    }
    case DataType::V6AddrMask: {
      V6AddrMask m;
      XFP_TRY(addr, hexMember(j, "addr", path));
      if (addr.size() != 16) {
        return bad(sub(path, "addr"), fmt::format("{} bytes, expected 16", addr.size()));
      }
      std::copy(addr.begin(), addr.end(), m.addr.begin());
      XFP_TRY(prefix, unsignedMember(j, "prefixLength", path, UINT8_MAX));
      m.prefixLength = static_cast<uint8_t>(prefix);
      return ConditionValue(m);
    }
    case DataType::Range: {
      XFP_TRY(lowJ, member(j, "low", path));
      XFP_TRY(low, valueFromJson(*lowJ, sub(path, "low")));
      XFP_TRY(highJ, member(j, "high", path));
      XFP_TRY(high, valueFromJson(*highJ, sub(path, "high")));
      return ConditionValue(RangeValue{std::move(low), std::move(high)});
    }
    default: {
      XFP_TRY(v, valueFromJson(j, path));
      return ConditionValue(std::move(v));
    }
  }
}

Result<Provider> providerFromJson(const json& j, const std::string& path) {
  Provider p;
  XFP_TRY(key, guidMember(j, "key", path));
  XFP_TRY(dd, displayDataMember(j, path));
  XFP_TRY(flags, unsignedMember(j, "flags", path, UINT32_MAX));
  XFP_TRY(data, hexMember(j, "providerData", path));
  XFP_TRY(service, stringMember(j, "serviceName", path));
  p.key = key;
  p.displayData = std::move(dd);
  p.flags = static_cast<uint32_t>(flags);
  p.providerData = std::move(data);
  p.serviceName = std::move(service);
  return p;
}

Result<ProviderContext> providerContextFromJson(const json& j, const std::string& path) {
  ProviderContext c;
  XFP_TRY(key, guidMember(j, "key", path));
  XFP_TRY(dd, displayDataMember(j, path));
  XFP_TRY(flags, unsignedMember(j, "flags", path, UINT32_MAX));
  XFP_TRY(provider, optGuidMember(j, "providerKey", path));
  XFP_TRY(data, hexMember(j, "providerData", path));
  XFP_TRY(type, unsignedMember(j, "type", path, UINT32_MAX));
  XFP_TRY(buffer, hexMember(j, "dataBuffer", path));
  XFP_TRY(id, unsignedMember(j, "providerContextId", path, UINT64_MAX));
  c.key = key;
  c.displayData = std::move(dd);
  c.flags = static_cast<uint32_t>(flags);
  c.providerKey = provider;
  c.providerData = std::move(data);
  c.type = static_cast<uint32_t>(type);
  c.dataBuffer = std::move(buffer);
  c.providerContextId = id;
  return c;
}

Result<Sublayer> sublayerFromJson(const json& j, const std::string& path) {
  Sublayer s;
  XFP_TRY(key, guidMember(j, "key", path));
  XFP_TRY(dd, displayDataMember(j, path));
  XFP_TRY(flags, unsignedMember(j, "flags", path, UINT32_MAX));
  XFP_TRY(provider, optGuidMember(j, "providerKey", path));
  XFP_TRY(data, hexMember(j, "providerData", path));
  XFP_TRY(weight, unsignedMember(j, "weight", path, UINT16_MAX));
  s.key = key;
  s.displayData = std::move(dd);
  s.flags = static_cast<uint32_t>(flags);
  s.providerKey = provider;
  s.providerData = std::move(data);
  s.weight = static_cast<uint16_t>(weight);
  return s;
}

Result<Callout> calloutFromJson(const json& j, const std::string& path) {
  Callout c;
  XFP_TRY(key, guidMember(j, "key", path));
  XFP_TRY(dd, displayDataMember(j, path));
  XFP_TRY(flags, unsignedMember(j, "flags", path, UINT32_MAX));
  XFP_TRY(provider, optGuidMember(j, "providerKey", path));
  XFP_TRY(data, hexMember(j, "providerData", path));
  XFP_TRY(layer, guidMember(j, "applicableLayer", path));
  XFP_TRY(id, unsignedMember(j, "calloutId", path, UINT32_MAX));
  c.key = key;
  c.displayData = std::move(dd);
  c.flags = static_cast<uint32_t>(flags);
  c.providerKey = provider;
  c.providerData = std::move(data);
  c.applicableLayer = layer;
  c.calloutId = static_cast<uint32_t>(id);
  return c;
}

Result<Filter> filterFromJson(const json& j, const std::string& path) {
  Filter f;
  XFP_TRY(key, guidMember(j, "key", path));
  XFP_TRY(dd, displayDataMember(j, path));
  XFP_TRY(flags, unsignedMember(j, "flags", path, UINT32_MAX));
  XFP_TRY(provider, optGuidMember(j, "providerKey", path));
  XFP_TRY(data, hexMember(j, "providerData", path));
  XFP_TRY(layer, guidMember(j, "layerKey", path));
  XFP_TRY(sublayer, guidMember(j, "subLayerKey", path));
  XFP_TRY(weightJ, member(j, "weight", path));
  XFP_TRY(weight, valueFromJson(*weightJ, sub(path, "weight")));
  XFP_TRY(conditions, member(j, "conditions", path));
  if (!conditions->is_array()) {
    return bad(sub(path, "conditions"), "expected an array, found " + kind(*conditions));
  }
  for (size_t i = 0; i < conditions->size(); ++i) {
    const json& cj = (*conditions)[i];
    const std::string cp = fmt::format("{}.conditions[{}]", path, i);
    Condition c;
    XFP_TRY(field, guidMember(cj, "fieldKey", cp));
    XFP_TRY(matchName, stringMember(cj, "matchType", cp));
    auto match = parseMatchType(matchName);
    if (!match) {
      return bad(cp + ".matchType", "unknown match type \"" + matchName + "\"");
    }
    XFP_TRY(valueJ, member(cj, "value", cp));
    XFP_TRY(value, conditionValueFromJson(*valueJ, cp + ".value"));
    c.fieldKey = field;
    c.matchType = *match;
    c.value = std::move(value);
    f.conditions.push_back(std::move(c));
  }
  XFP_TRY(action, member(j, "action", path));
  const std::string ap = sub(path, "action");
  XFP_TRY(actionName, stringMember(*action, "type", ap));
  auto actionType = parseActionType(actionName);
  if (!actionType) {
    return bad(ap + ".type", "unknown action type \"" + actionName + "\"");
  }
  XFP_TRY(filterType, guidMember(*action, "filterType", ap));
  XFP_TRY(calloutKey, guidMember(*action, "calloutKey", ap));
  XFP_TRY(rawContext, unsignedMember(j, "rawContext", path, UINT64_MAX));
  XFP_TRY(contextKey, guidMember(j, "providerContextKey", path));
  XFP_TRY(id, unsignedMember(j, "filterId", path, UINT64_MAX));
  XFP_TRY(effective, unsignedMember(j, "effectiveWeight", path, UINT64_MAX));
  f.key = key;
  f.displayData = std::move(dd);
  f.flags = static_cast<uint32_t>(flags);
  f.providerKey = provider;
  f.providerData = std::move(data);
  f.layerKey = layer;
  f.subLayerKey = sublayer;
  f.weight = std::move(weight);
  f.action.type = *actionType;
  f.action.filterType = filterType;
  f.action.calloutKey = calloutKey;
  f.rawContext = rawContext;
  f.providerContextKey = contextKey;
  f.filterId = id;
  f.effectiveWeight = effective;
  return f;
}

namespace {

template <typename T, typename Decode>
Result<void> decodeList(const json& payload, const char* name, Decode decode, std::vector<T>& out) {
  XFP_TRY(list, member(payload, name, "payload"));
  if (!list->is_array()) {
    return bad(std::string("payload.") + name, "expected an array, found " + kind(*list));
  }
  for (size_t i = 0; i < list->size(); ++i) {
    XFP_TRY(object, decode((*list)[i], fmt::format("{}[{}]", name, i)));
    out.push_back(std::move(object));
  }
  return {};
}

}  // namespace

Result<PersistentObjects> objectsFromJson(const json& payload) {
  PersistentObjects o;
  XFP_TRY(ids, member(payload, "nextIds", "payload"));
  XFP_TRY(nextFilter, unsignedMember(*ids, "filterId", "nextIds", UINT64_MAX));
  XFP_TRY(nextCallout, unsignedMember(*ids, "calloutId", "nextIds", UINT32_MAX));
  XFP_TRY(nextContext, unsignedMember(*ids, "providerContextId", "nextIds", UINT64_MAX));
  o.nextFilterId = nextFilter;
  o.nextCalloutId = static_cast<uint32_t>(nextCallout);
  o.nextProviderContextId = nextContext;
  if (auto r = decodeList(payload, "providers", providerFromJson, o.providers); !r) {
    return tl::unexpected(r.error());
  }
  if (auto r = decodeList(payload, "providerContexts", providerContextFromJson, o.providerContexts);
      !r) {
    return tl::unexpected(r.error());
  }
  if (auto r = decodeList(payload, "sublayers", sublayerFromJson, o.sublayers); !r) {
    return tl::unexpected(r.error());
  }
  if (auto r = decodeList(payload, "callouts", calloutFromJson, o.callouts); !r) {
    return tl::unexpected(r.error());
  }
  if (auto r = decodeList(payload, "filters", filterFromJson, o.filters); !r) {
    return tl::unexpected(r.error());
  }
  return o;
}

// ---------------------------------------------------------------------------------------------
// Restoring

namespace {

// Policy assigns ids itself (monotonically, from 1); to give a restored object its stored id the
// counter is first advanced to it by adding and deleting a placeholder. Cost: one add/delete per
// id skipped. TODO(core): a Policy call that restores an object with its id would make this O(1).
const Guid kPlaceholderKey = Guid::fromText("78667073-746f-7265-2d69-642d72657365");

Result<void> advanceFilterIds(Policy& policy, uint64_t target) {
  const LayerInfo* layer = nullptr;
  for (const LayerInfo& l : allLayers()) {
    if (l.hasSchema()) {
      layer = &l;
      break;
    }
  }
  while (policy.nextFilterId() < target) {
    Filter f;
    f.key = kPlaceholderKey;
    f.displayData.name = "xfp store id placeholder";
    f.layerKey = layer->key;
    auto id = policy.addFilter(std::move(f));
    if (!id) {
      return tl::unexpected(id.error());
    }
    (void)policy.deleteFilterById(*id);
  }
  return {};
}

Result<void> advanceProviderContextIds(Policy& policy, uint64_t& next, uint64_t target) {
  while (next < target) {
    ProviderContext c;
    c.key = kPlaceholderKey;
    c.displayData.name = "xfp store id placeholder";
    auto id = policy.addProviderContext(std::move(c));
    if (!id) {
      return tl::unexpected(id.error());
    }
    (void)policy.deleteProviderContext(kPlaceholderKey);
    next = *id + 1;
  }
  return {};
}

void advanceCalloutIds(Policy& policy, uint32_t& next, uint32_t target) {
  policy.reserveCalloutIdsBelow(target);
  next = std::max(next, policy.nextCalloutId());
}

std::string describe(const char* list,
                     size_t index,
                     const Guid& key,
                     const std::optional<std::string>& name) {
  return fmt::format(
      "{}[{}] {} \"{}\"", list, index, key.toString(), name.value_or("(no display name)"));
}

// Every stored object must carry its type's PERSISTENT flag (only persistent objects are stored,
// and the flag is what makes Policy give them the Persistent lifetime).
Result<void> requirePersistent(uint32_t flags, uint32_t bit, const char* flagName) {
  if ((flags & bit) == 0) {
    return fail(
        status::kInvalidFlags,
        fmt::format(
            "flags 0x{:x} lack {}: the store holds persistent objects only", flags, flagName));
  }
  return {};
}

Result<void> checkIds(const char* what, const std::vector<uint64_t>& ids, uint64_t next) {
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == 0) {
      return fail(status::kInvalidParameter, fmt::format("{} 0 is not a valid id", what));
    }
    if (i > 0 && ids[i] == ids[i - 1]) {
      return fail(status::kInvalidParameter, fmt::format("{} {} is stored twice", what, ids[i]));
    }
  }
  if (!ids.empty() && ids.back() >= next) {
    return fail(
        status::kInvalidParameter,
        fmt::format(
            "nextIds.{} {} is not above the largest stored {} {}", what, next, what, ids.back()));
  }
  return {};
}

template <typename T, typename Id>
std::vector<size_t> orderById(const std::vector<T>& objects, Id id, std::vector<uint64_t>& ids) {
  std::vector<size_t> order(objects.size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return id(objects[a]) < id(objects[b]);
  });
  ids.clear();
  for (size_t i : order) {
    ids.push_back(id(objects[i]));
  }
  return order;
}

}  // namespace

Result<Policy> restorePolicy(const PersistentObjects& o) {
  Policy policy;
  const auto within = [](Error e, const std::string& where) {
    return tl::unexpected(std::move(e).within(where));
  };

  for (size_t i = 0; i < o.providers.size(); ++i) {
    const Provider& p = o.providers[i];
    const std::string where = describe("providers", i, p.key, p.displayData.name);
    if (auto r =
            requirePersistent(p.flags, kProviderFlagPersistent, "FWPM_PROVIDER_FLAG_PERSISTENT");
        !r) {
      return within(r.error(), where);
    }
    if (p.key.isZero()) {
      return within(Error{status::kInvalidParameter, "zero key"}, where);
    }
    if (auto r = policy.addProvider(p); !r) {
      return within(r.error(), where);
    }
  }

  std::vector<uint64_t> ids;
  auto order = orderById(
      o.providerContexts, [](const ProviderContext& c) { return c.providerContextId; }, ids);
  if (auto r = checkIds("providerContextId", ids, o.nextProviderContextId); !r) {
    return tl::unexpected(r.error());
  }
  uint64_t nextContext = 1;
  for (size_t i : order) {
    const ProviderContext& c = o.providerContexts[i];
    const std::string where = describe("providerContexts", i, c.key, c.displayData.name);
    if (auto r = requirePersistent(
            c.flags, kProviderContextFlagPersistent, "FWPM_PROVIDER_CONTEXT_FLAG_PERSISTENT");
        !r) {
      return within(r.error(), where);
    }
    if (c.key.isZero()) {
      return within(Error{status::kInvalidParameter, "zero key"}, where);
    }
    if (auto r = advanceProviderContextIds(policy, nextContext, c.providerContextId); !r) {
      return within(r.error(), where);
    }
    auto id = policy.addProviderContext(c);
    if (!id) {
      return within(id.error(), where);
    }
    nextContext = *id + 1;
  }
  if (auto r = advanceProviderContextIds(policy, nextContext, o.nextProviderContextId); !r) {
    return tl::unexpected(r.error());
  }

  for (size_t i = 0; i < o.sublayers.size(); ++i) {
    const Sublayer& s = o.sublayers[i];
    const std::string where = describe("sublayers", i, s.key, s.displayData.name);
    if (auto r =
            requirePersistent(s.flags, kSublayerFlagPersistent, "FWPM_SUBLAYER_FLAG_PERSISTENT");
        !r) {
      return within(r.error(), where);
    }
    if (s.key.isZero()) {
      return within(Error{status::kInvalidParameter, "zero key"}, where);
    }
    if (auto r = policy.addSublayer(s); !r) {
      return within(r.error(), where);
    }
  }

  order = orderById(
      o.callouts, [](const Callout& c) { return uint64_t{c.calloutId}; }, ids);
  if (auto r = checkIds("calloutId", ids, o.nextCalloutId); !r) {
    return tl::unexpected(r.error());
  }
  uint32_t nextCallout = 1;
  for (size_t i : order) {
    const Callout& c = o.callouts[i];
    const std::string where = describe("callouts", i, c.key, c.displayData.name);
    if (auto r = requirePersistent(c.flags, kCalloutFlagPersistent, "FWPM_CALLOUT_FLAG_PERSISTENT");
        !r) {
      return within(r.error(), where);
    }
    if (c.key.isZero()) {
      return within(Error{status::kInvalidParameter, "zero key"}, where);
    }
    advanceCalloutIds(policy, nextCallout, c.calloutId);
    auto id = policy.addCallout(c);
    if (!id) {
      return within(id.error(), where);
    }
    nextCallout = *id + 1;
  }
  advanceCalloutIds(policy, nextCallout, o.nextCalloutId);

  order = orderById(
      o.filters, [](const Filter& f) { return f.filterId; }, ids);
  if (auto r = checkIds("filterId", ids, o.nextFilterId); !r) {
    return tl::unexpected(r.error());
  }
  for (size_t i : order) {
    const Filter& f = o.filters[i];
    const std::string where = describe("filters", i, f.key, f.displayData.name);
    if (auto r =
            requirePersistent(f.flags, filter_flag::kPersistent, "FWPM_FILTER_FLAG_PERSISTENT");
        !r) {
      return within(r.error(), where);
    }
    if (f.key.isZero()) {
      return within(Error{status::kInvalidParameter, "zero key"}, where);
    }
    if (auto r = advanceFilterIds(policy, f.filterId); !r) {
      return within(r.error(), where);
    }
    auto id = policy.addFilter(f);
    if (!id) {
      return within(id.error(), where);
    }
    const Filter* added = policy.filterById(*id);
    if (added->effectiveWeight != f.effectiveWeight) {
      return within(Error{status::kInvalidWeight,
                          fmt::format("stored effectiveWeight 0x{:x} differs from the weight "
                                      "computed now, 0x{:x}",
                                      f.effectiveWeight,
                                      added->effectiveWeight)},
                    where);
    }
  }
  if (auto r = advanceFilterIds(policy, o.nextFilterId); !r) {
    return tl::unexpected(r.error());
  }
  return policy;
}

#undef XFP_TRY

}  // namespace xfp::engine
