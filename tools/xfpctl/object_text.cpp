#include "tools/xfpctl/object_text.h"

#include <algorithm>
#include <bit>

#include <fmt/format.h>

#include "tools/xfpctl/explain_report.h"
#include "userspace/core/security.h"

namespace xfp::ctl {
namespace {

std::string lowerCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string hexBytes(const Bytes& b) {
  std::string out;
  for (uint8_t x : b) {
    out += fmt::format("{:02x}", x);
  }
  return out;
}

std::string protocolText(uint64_t p) {
  switch (p) {
    case 1:
      return "icmp";
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 47:
      return "gre";
    case 58:
      return "icmpv6";
    case 132:
      return "sctp";
    default:
      return std::to_string(p);
  }
}

// A plain value as value_text.h reads it back for `field`.
std::string plainText(const FieldInfo* field, const Value& v) {
  const bool v4 = field != nullptr && field->isAddress && v.type() == DataType::Uint32;
  switch (v.type()) {
    case DataType::Empty:
      return "empty";
    case DataType::Uint8:
    case DataType::Uint16:
    case DataType::Uint32:
    case DataType::Uint64:
      if (field != nullptr && field->condition == "IP_PROTOCOL") {
        return protocolText(v.asUnsigned());
      }
      return v.toString(v4);
    case DataType::ByteBlob:
      return "hex:" + hexBytes(v.asBytes());
    case DataType::Sid:
      return sidToString(v.asBytes());
    case DataType::SecurityDescriptor:
      return securityDescriptorToSddl(v.asBytes());
    default:
      return v.toString(v4);
  }
}

// flags -> words for the bits in `table`; bits it does not name as hex.
std::vector<std::string> words(uint32_t flags,
                               std::initializer_list<std::pair<uint32_t, const char*>> table) {
  std::vector<std::string> out;
  for (const auto& [bit, name] : table) {
    if ((flags & bit) != 0) {
      out.emplace_back(name);
      flags &= ~bit;
    }
  }
  if (flags != 0) {
    out.push_back(fmt::format("0x{:x}", flags));
  }
  return out;
}

nlohmann::json optionalKey(const std::optional<Guid>& k) {
  return k ? nlohmann::json(k->toString()) : nlohmann::json(nullptr);
}

// Display width of UTF-8 text: code points (continuation bytes do not count).
size_t displayWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    n += (c & 0xC0) != 0x80 ? 1 : 0;
  }
  return n;
}

}  // namespace

std::string layerText(const Guid& layerKey) {
  const LayerInfo* l = layerByKey(layerKey);
  return l != nullptr ? std::string(l->name) : layerKey.toString();
}

std::string matchText(MatchType m) {
  std::string_view n = matchTypeName(m);
  constexpr std::string_view kPrefix = "FWP_MATCH_";
  if (n.substr(0, kPrefix.size()) == kPrefix) {
    n.remove_prefix(kPrefix.size());
  }
  return lowerCase(n);
}

std::string conditionValueText(const FieldInfo* field, const ConditionValue& value) {
  if (const Value* v = value.plain()) {
    return plainText(field, *v);
  }
  if (const V4AddrMask* m = value.v4Mask()) {
    const std::string addr = Value::uint32(m->addr).toString(true);
    // A contiguous mask reads best as a prefix length; anything else as the mask itself.
    const int ones = std::popcount(m->mask);
    const uint32_t contiguous = ones == 0 ? 0 : ~uint32_t{0} << (32 - ones);
    if (m->mask == contiguous) {
      return fmt::format("{}/{}", addr, ones);
    }
    return addr + "/" + Value::uint32(m->mask).toString(true);
  }
  if (value.v6Mask() != nullptr) {
    return value.toString();
  }
  const RangeValue* r = value.range();
  return plainText(field, r->low) + ".." + plainText(field, r->high);
}

std::string conditionText(const Condition& c, const LayerInfo* layer) {
  const FieldInfo* field = layer != nullptr ? layer->fieldByKey(c.fieldKey) : nullptr;
  std::string name;
  if (field != nullptr && !field->condition.empty()) {
    name = std::string(field->condition);
  } else {
    name = conditionName(c.fieldKey);
    constexpr std::string_view kPrefix = "FWPM_CONDITION_";
    if (name.rfind(kPrefix, 0) == 0) {
      name.erase(0, kPrefix.size());
    }
  }
  const std::string value = conditionValueText(field, c.value);
  switch (c.matchType) {
    case MatchType::Equal:
      return name + "=" + value;
    case MatchType::Range:
      // A range value reads back as FWP_MATCH_RANGE by default.
      return c.value.range() != nullptr ? name + "=" + value : name + ":range=" + value;
    case MatchType::NotEqual:
      return name + "!=" + value;
    case MatchType::Greater:
      return name + ">" + value;
    case MatchType::Less:
      return name + "<" + value;
    case MatchType::GreaterOrEqual:
      return name + ">=" + value;
    case MatchType::LessOrEqual:
      return name + "<=" + value;
    default:
      return name + ":" + matchText(c.matchType) + "=" + value;
  }
}

std::string actionWord(ActionType t) {
  std::string_view n = actionTypeName(t);
  constexpr std::string_view kPrefix = "FWP_ACTION_";
  if (n.substr(0, kPrefix.size()) == kPrefix) {
    n.remove_prefix(kPrefix.size());
  }
  return lowerCase(n);
}

std::string actionText(const Action& a, const ObjectNames& names) {
  std::string out = actionWord(a.type);
  if (isCalloutAction(a.type)) {
    auto it = names.callouts.find(a.calloutKey);
    out += ":" + (it != names.callouts.end() ? it->second : a.calloutKey.toString());
  }
  return out;
}

std::string lifetimeText(Lifetime l) {
  switch (l) {
    case Lifetime::BuiltIn:
      return "built-in";
    case Lifetime::Persistent:
      return "persistent";
    case Lifetime::Static:
      return "static";
    case Lifetime::Dynamic:
      return "dynamic";
  }
  return "?";
}

std::vector<std::string> filterFlagWords(uint32_t flags) {
  std::vector<std::string> out;
  if (flags == 0) {
    return out;
  }
  const std::string all = filterFlagsToString(flags);
  size_t start = 0;
  while (start < all.size()) {
    size_t bar = all.find('|', start);
    if (bar == std::string::npos) {
      bar = all.size();
    }
    out.push_back(all.substr(start, bar - start));
    start = bar + 1;
  }
  return out;
}

std::vector<std::string> sublayerFlagWords(uint32_t flags) {
  return words(flags, {{kSublayerFlagPersistent, "PERSISTENT"}});
}

std::vector<std::string> providerFlagWords(uint32_t flags) {
  return words(flags,
               {{kProviderFlagPersistent, "PERSISTENT"}, {kProviderFlagDisabled, "DISABLED"}});
}

std::vector<std::string> calloutFlagWords(uint32_t flags) {
  return words(flags,
               {{kCalloutFlagPersistent, "PERSISTENT"},
                {kCalloutFlagUsesProviderContext, "USES_PROVIDER_CONTEXT"},
                {kCalloutFlagRegistered, "REGISTERED"}});
}

std::string joinFlags(const std::vector<std::string>& w) {
  std::string out;
  for (const std::string& s : w) {
    out += (out.empty() ? "" : "|") + s;
  }
  return out.empty() ? "-" : out;
}

std::string nameOr(const DisplayData& d, const Guid& key) {
  return d.name && !d.name->empty() ? *d.name : key.toString();
}

nlohmann::json filterJson(const Filter& f, const ObjectNames& names) {
  const LayerInfo* layer = layerByKey(f.layerKey);
  nlohmann::json conditions = nlohmann::json::array();
  for (const Condition& c : f.conditions) {
    const FieldInfo* field = layer != nullptr ? layer->fieldByKey(c.fieldKey) : nullptr;
    conditions.push_back(
        {{"field",
          field != nullptr && !field->condition.empty() ? std::string(field->condition)
                                                        : conditionName(c.fieldKey)},
         {"match", matchText(c.matchType)},
         {"value", conditionValueText(field, c.value)},
         {"type", std::string(dataTypeName(c.value.type()))},
         {"text", conditionText(c, layer)}});
  }
  const auto sl = names.sublayers.find(f.subLayerKey);
  nlohmann::json j = {
      {"id", f.filterId},
      {"key", f.key.toString()},
      {"name", f.displayData.name.value_or("")},
      {"description", f.displayData.description},
      {"layer", layerText(f.layerKey)},
      {"sublayer", sl != names.sublayers.end() ? sl->second : f.subLayerKey.toString()},
      {"sublayer_key", f.subLayerKey.toString()},
      {"weight", formatWeight(f.effectiveWeight)},
      {"action", actionWord(f.action.type)},
      {"callout", nullptr},
      {"callout_key", nullptr},
      {"conditions", std::move(conditions)},
      {"flags", filterFlagWords(f.flags)},
      {"lifetime", lifetimeText(f.origin.lifetime)},
      {"provider_key", optionalKey(f.providerKey)}};
  if (isCalloutAction(f.action.type)) {
    const auto c = names.callouts.find(f.action.calloutKey);
    j["callout"] = c != names.callouts.end() ? c->second : f.action.calloutKey.toString();
    j["callout_key"] = f.action.calloutKey.toString();
  }
  return j;
}

nlohmann::json sublayerJson(const Sublayer& s, const ObjectNames& names) {
  nlohmann::json provider = nullptr;
  if (s.providerKey) {
    const auto p = names.providers.find(*s.providerKey);
    provider = p != names.providers.end() ? p->second : s.providerKey->toString();
  }
  return {{"key", s.key.toString()},
          {"name", s.displayData.name.value_or("")},
          {"description", s.displayData.description},
          {"weight", s.weight},
          {"provider", provider},
          {"provider_key", optionalKey(s.providerKey)},
          {"flags", sublayerFlagWords(s.flags)},
          {"lifetime", lifetimeText(s.origin.lifetime)}};
}

nlohmann::json providerJson(const Provider& p) {
  return {{"key", p.key.toString()},
          {"name", p.displayData.name.value_or("")},
          {"description", p.displayData.description},
          {"service_name", p.serviceName},
          {"flags", providerFlagWords(p.flags)},
          {"lifetime", lifetimeText(p.origin.lifetime)}};
}

nlohmann::json calloutJson(const Callout& c) {
  return {{"id", c.calloutId},
          {"key", c.key.toString()},
          {"name", c.displayData.name.value_or("")},
          {"description", c.displayData.description},
          {"layer", layerText(c.applicableLayer)},
          {"provider_key", optionalKey(c.providerKey)},
          {"flags", calloutFlagWords(c.flags)},
          {"lifetime", lifetimeText(c.origin.lifetime)}};
}

nlohmann::json sessionJson(const engine::SessionInfo& s) {
  return {{"id", s.id},
          {"key", s.options.sessionKey.toString()},
          {"name", s.options.displayData.name.value_or("")},
          {"description", s.options.displayData.description},
          {"pid", s.options.processId},
          {"uid", s.options.uid},
          {"user", s.options.username},
          {"dynamic", s.dynamic},
          {"transaction",
           !s.inTransaction ? "none" : (s.readOnlyTransaction ? "read-only" : "read-write")}};
}

Table::Table(std::vector<std::string> headers) {
  for (std::string& h : headers) {
    const bool right = !h.empty() && h.back() == '>';
    if (right) {
      h.pop_back();
    }
    right_.push_back(right);
    headers_.push_back(std::move(h));
  }
}

void Table::add(std::vector<std::string> row) {
  row.resize(headers_.size());
  rows_.push_back(std::move(row));
}

std::string Table::render() const {
  std::vector<size_t> width(headers_.size());
  for (size_t i = 0; i < headers_.size(); ++i) {
    width[i] = displayWidth(headers_[i]);
    for (const auto& r : rows_) {
      width[i] = std::max(width[i], displayWidth(r[i]));
    }
  }
  std::string out;
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t i = 0; i < cells.size(); ++i) {
      const std::string pad(width[i] - displayWidth(cells[i]), ' ');
      const bool last = i + 1 == cells.size();
      if (right_[i]) {
        l += pad + cells[i];
      } else {
        l += cells[i] + (last ? "" : pad);
      }
      if (!last) {
        l += "  ";
      }
    }
    while (!l.empty() && l.back() == ' ') {
      l.pop_back();
    }
    out += l + "\n";
  };
  line(headers_);
  for (const auto& r : rows_) {
    line(r);
  }
  return out;
}

}  // namespace xfp::ctl
