#include "userspace/core/layers.h"

#include <algorithm>
#include <cctype>
#include <optional>

namespace xfp {
namespace {

struct NamedGuid {
  std::string_view name;
  Guid key;
};

constexpr NamedGuid kConditions[] = {
#define XFP_WFP_CONDITION(name, guid) {#name, guid},
#include "userspace/core/wfp_tables.inc"
#undef XFP_WFP_CONDITION
};

constexpr NamedGuid kSublayerKeys[] = {
#define XFP_WFP_SUBLAYER(name, guid) {#name, guid},
#include "userspace/core/wfp_tables.inc"
#undef XFP_WFP_SUBLAYER
};

struct LayerKey {
  std::string_view name;
  Guid key;
  uint16_t id;
};
constexpr LayerKey kLayerKeys[] = {
#define XFP_WFP_LAYER_KEY(name, guid, id) {#name, guid, id},
#include "userspace/core/wfp_tables.inc"
#undef XFP_WFP_LAYER_KEY
};

struct SchemaField {
  std::string_view layer;
  uint16_t index;
  std::string_view fwpsName;
  std::string_view condition;
  DataType type;
};
constexpr SchemaField kSchemaFields[] = {
#define XFP_WFP_FIELD(layer, idx, fwps, cond, type) {#layer, idx, #fwps, #cond, type},
#include "userspace/core/wfp_tables.inc"
#undef XFP_WFP_FIELD
};

bool equalsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

std::string_view stripPrefix(std::string_view name, std::string_view prefix) {
  if (name.size() > prefix.size() && equalsNoCase(name.substr(0, prefix.size()), prefix)) {
    return name.substr(prefix.size());
  }
  return name;
}

}  // namespace
}  // namespace xfp

namespace xfp {
namespace {

const NamedGuid* findCondition(std::string_view name) {
  name = stripPrefix(name, "FWPM_CONDITION_");
  for (const auto& c : kConditions) {
    if (equalsNoCase(c.name, name)) {
      return &c;
    }
  }
  return nullptr;
}

bool isAddressCondition(std::string_view c) {
  return c == "IP_LOCAL_ADDRESS" || c == "IP_REMOTE_ADDRESS" || c == "IP_SOURCE_ADDRESS" ||
         c == "IP_DESTINATION_ADDRESS" || c == "EMBEDDED_REMOTE_ADDRESS" ||
         c == "IP_NEXTHOP_ADDRESS";
}

std::vector<LayerInfo> buildLayers() {
  std::vector<LayerInfo> layers;
  for (const auto& lk : kLayerKeys) {
    LayerInfo layer;
    layer.name = lk.name;
    layer.key = lk.key;
    layer.id = lk.id;
    for (const auto& f : kSchemaFields) {
      if (f.layer != lk.name) {
        continue;
      }
      FieldInfo field;
      field.index = f.index;
      field.name = f.fwpsName;
      if (f.condition != "NONE") {
        field.condition = f.condition;
        const NamedGuid* c = findCondition(f.condition);
        field.conditionKey = c != nullptr ? c->key : Guid{};
      }
      field.type = f.type;
      field.isAddress = isAddressCondition(f.condition);
      layer.fields.push_back(field);
    }
    layers.push_back(std::move(layer));
  }
  return layers;
}

const std::vector<LayerInfo>& layerTable() {
  static const std::vector<LayerInfo> kLayers = buildLayers();
  return kLayers;
}

}  // namespace

namespace keys {
const Guid kSublayerUniversal = Guid::fromText("eebecc03-ced4-4380-819a-2734397b2b74");
const Guid kSublayerInspection = Guid::fromText("877519e1-e6a9-41a5-81b4-8c4f118e4a60");
const Guid kSublayerRpcAudit = Guid::fromText("758c84f4-fb48-4de9-9aeb-3ed9551ab1fd");
}  // namespace keys

const FieldInfo* LayerInfo::fieldByKey(const Guid& conditionKey) const {
  if (conditionKey.isZero()) {
    return nullptr;
  }
  for (const auto& f : fields) {
    if (f.conditionKey == conditionKey) {
      return &f;
    }
  }
  return nullptr;
}

const FieldInfo* LayerInfo::fieldByName(std::string_view text) const {
  if (auto guid = Guid::parse(text)) {
    return fieldByKey(*guid);
  }
  const std::string_view bare = stripPrefix(text, "FWPM_CONDITION_");
  for (const auto& f : fields) {
    if (!f.condition.empty() && equalsNoCase(f.condition, bare)) {
      return &f;
    }
  }
  // FWPS spelling (e.g. PROFILE_ID) or an alias such as ICMP_TYPE.
  for (const auto& f : fields) {
    if (!f.condition.empty() && equalsNoCase(f.name, bare)) {
      return &f;
    }
  }
  if (const NamedGuid* c = findCondition(bare)) {
    return fieldByKey(c->key);
  }
  return nullptr;
}

std::span<const LayerInfo> allLayers() {
  return layerTable();
}

const LayerInfo* layerByKey(const Guid& key) {
  for (const auto& l : layerTable()) {
    if (l.key == key) {
      return &l;
    }
  }
  return nullptr;
}

const LayerInfo* layerById(uint16_t id) {
  // An index by id, built once: the punt path asks for every layer of every packet.
  static const std::vector<const LayerInfo*> kById = [] {
    std::vector<const LayerInfo*> index;
    for (const auto& l : layerTable()) {
      if (l.id == 0xFFFF) {
        continue;
      }
      if (index.size() <= l.id) {
        index.resize(size_t{l.id} + 1, nullptr);
      }
      if (index[l.id] == nullptr) {
        index[l.id] = &l;  // the first of the table, as the linear search found it
      }
    }
    return index;
  }();
  return id < kById.size() ? kById[id] : nullptr;
}

const LayerInfo* layerByName(std::string_view name) {
  if (auto guid = Guid::parse(name)) {
    return layerByKey(*guid);
  }
  const std::string_view bare = stripPrefix(name, "FWPM_LAYER_");
  for (const auto& l : layerTable()) {
    if (equalsNoCase(l.name, bare)) {
      return &l;
    }
  }
  return nullptr;
}

uint16_t layerIdByName(std::string_view name) {
  const LayerInfo* l = layerByName(name);
  return l != nullptr ? l->id : 0;
}

const Guid* conditionKeyByName(std::string_view name) {
  const NamedGuid* c = findCondition(name);
  return c != nullptr ? &c->key : nullptr;
}

std::string conditionName(const Guid& key) {
  for (const auto& c : kConditions) {
    if (c.key == key) {
      return "FWPM_CONDITION_" + std::string(c.name);
    }
  }
  return key.toString();
}

std::span<const BuiltinSublayer> builtinSublayers() {
  static const BuiltinSublayer kBuiltins[] = {
      {"RPC_AUDIT", keys::kSublayerRpcAudit, 0xC000},
      {"UNIVERSAL", keys::kSublayerUniversal, 0x8000},
      {"INSPECTION", keys::kSublayerInspection, 0x0000},
  };
  return kBuiltins;
}

const Guid* sublayerKeyByName(std::string_view name) {
  const std::string_view bare = stripPrefix(name, "FWPM_SUBLAYER_");
  for (const auto& s : kSublayerKeys) {
    if (equalsNoCase(s.name, bare)) {
      return &s.key;
    }
  }
  return nullptr;
}

}  // namespace xfp
