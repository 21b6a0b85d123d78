#include "userspace/client/fwpm_convert.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "userspace/client/block.h"
#include "userspace/core/wfp_constants.h"

namespace xfp::client {
namespace {

// A C enum member read as the 32-bit number the caller stored: a value outside the enum's
// declared range must reach validation, not be an out-of-range enum load (UBSan's `enum` check).
template <class E>
uint32_t rawEnum(const E& e) {
  static_assert(sizeof(E) == sizeof(uint32_t));
  uint32_t v = 0;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

std::u16string wideCopyFromC(const WCHAR* s) {
  std::u16string out;
  for (const WCHAR* p = s; *p != 0; ++p) {
    out.push_back(static_cast<char16_t>(*p));
  }
  return out;
}

// Text the core holds as UTF-8 (names, descriptions, service names) must be well-formed UTF-16:
// an unpaired surrogate has no UTF-8 form, and replacing it would store something other than
// what the caller gave.
Result<std::u16string> wideFromC(const WCHAR* s, const char* what) {
  std::u16string out = wideCopyFromC(s);
  for (size_t i = 0; i < out.size(); ++i) {
    const char16_t c = out[i];
    if (c >= 0xD800 && c < 0xDC00 && i + 1 < out.size() && out[i + 1] >= 0xDC00 &&
        out[i + 1] < 0xE000) {
      ++i;  // a surrogate pair
    } else if (c >= 0xD800 && c < 0xE000) {
      return fail(status::kInvalidParameter,
                  fmt::format("{}: unpaired UTF-16 surrogate 0x{:04x} at unit {}",
                              what,
                              static_cast<unsigned>(c),
                              i));
    }
  }
  return out;
}

Result<Bytes> blobFromC(const FWP_BYTE_BLOB& b, const char* what) {
  if (b.size == 0) {
    return Bytes{};
  }
  if (b.data == nullptr) {
    return fail(status::kNullPointer, fmt::format("{}: data is NULL with size {}", what, b.size));
  }
  return Bytes(b.data, b.data + b.size);
}

Result<std::optional<Guid>> optionalGuid(const GUID* g) {
  if (g == nullptr) {
    return std::optional<Guid>{};
  }
  return std::optional<Guid>{guidFromC(*g)};
}

Result<DisplayData> displayDataFromC(const FWPM_DISPLAY_DATA0& d, bool nameRequired) {
  DisplayData out;
  auto name = stringFromC(d.name, "displayData.name");
  if (!name) {
    return tl::unexpected(name.error());
  }
  if (!*name && nameRequired) {
    return fail(status::kNullDisplayName, "displayData.name is required");
  }
  out.name = std::move(*name);
  auto description = stringFromC(d.description, "displayData.description");
  if (!description) {
    return tl::unexpected(description.error());
  }
  out.description = description->value_or("");
  return out;
}

template <class T>
Result<T> nullPointerOf(const char* what) {
  return fail(status::kNullPointer, fmt::format("{} is NULL", what));
}

// ---- core -> C fills ----

WCHAR* wideCopy(BlockArena& a, const std::u16string& s) {
  auto* w = a.array<WCHAR>(s.size() + 1);
  std::memcpy(w, s.data(), s.size() * sizeof(WCHAR));
  return w;  // zeroed: NUL-terminated
}

WCHAR* wideCopy(BlockArena& a, const std::string& utf8) {
  return wideCopy(a, utf8ToUtf16(utf8));
}

void fillDisplay(BlockArena& a, FWPM_DISPLAY_DATA0& out, const DisplayData& d) {
  out.name = d.name ? wideCopy(a, *d.name) : nullptr;
  out.description = d.description.empty() ? nullptr : wideCopy(a, d.description);
}

void fillBlob(BlockArena& a, FWP_BYTE_BLOB& out, const Bytes& b) {
  out.size = static_cast<UINT32>(b.size());
  out.data = a.bytes(b.data(), b.size());
}

GUID* guidPtr(BlockArena& a, const std::optional<Guid>& g) {
  return g ? a.copy(guidToC(*g)) : nullptr;
}

void fillValue(BlockArena& a, FWP_VALUE0& out, const Value& v) {
  out.type = static_cast<FWP_DATA_TYPE>(v.type());
  switch (v.type()) {
    case DataType::Empty:
      break;
    case DataType::Uint8:
      out.uint8 = static_cast<UINT8>(v.asUnsigned());
      break;
    case DataType::Uint16:
      out.uint16 = static_cast<UINT16>(v.asUnsigned());
      break;
    case DataType::Uint32:
      out.uint32 = static_cast<UINT32>(v.asUnsigned());
      break;
    case DataType::Uint64:
      out.uint64 = a.copy<UINT64>(v.asUnsigned());
      break;
    case DataType::Int8:
      out.int8 = static_cast<INT8>(v.asSigned());
      break;
    case DataType::Int16:
      out.int16 = static_cast<INT16>(v.asSigned());
      break;
    case DataType::Int32:
      out.int32 = static_cast<INT32>(v.asSigned());
      break;
    case DataType::Int64:
      out.int64 = a.copy<INT64>(v.asSigned());
      break;
    case DataType::Float:
      out.float32 = static_cast<float>(v.asDouble());
      break;
    case DataType::Double:
      out.double64 = a.copy<double>(v.asDouble());
      break;
    case DataType::ByteArray16: {
      auto* p = a.make<FWP_BYTE_ARRAY16>();
      std::memcpy(p->byteArray16, v.asBytes().data(), std::min<size_t>(16, v.asBytes().size()));
      out.byteArray16 = p;
      break;
    }
    case DataType::ByteArray6: {
      auto* p = a.make<FWP_BYTE_ARRAY6>();
      std::memcpy(p->byteArray6, v.asBytes().data(), std::min<size_t>(6, v.asBytes().size()));
      out.byteArray6 = p;
      break;
    }
    case DataType::ByteBlob:
    case DataType::SecurityDescriptor: {
      auto* blob = a.make<FWP_BYTE_BLOB>();
      fillBlob(a, *blob, v.asBytes());
      if (v.type() == DataType::ByteBlob) {
        out.byteBlob = blob;
      } else {
        out.sd = blob;
      }
      break;
    }
    case DataType::Sid: {
      // SIDs are DWORD-aligned in Windows memory.
      const Bytes& b = v.asBytes();
      void* p = a.allocate(b.size(), alignof(DWORD));
      std::memcpy(p, b.data(), b.size());
      out.sid = static_cast<SID*>(p);
      break;
    }
    case DataType::UnicodeString:
      out.unicodeString = wideCopy(a, v.asString());
      break;
    default:
      // Token information has no C form a client can use (the engine never returns one).
      out = FWP_VALUE0{};
      break;
  }
}

void fillConditionValue(BlockArena& a, FWP_CONDITION_VALUE0& out, const ConditionValue& cv) {
  static_assert(sizeof(FWP_VALUE0) == sizeof(FWP_CONDITION_VALUE0));
  if (const Value* v = cv.plain()) {
    // FWP_CONDITION_VALUE0 extends FWP_VALUE0's union with the mask and range pointers; the
    // common members are at the same places.
    FWP_VALUE0 plain{};
    fillValue(a, plain, *v);
    std::memcpy(static_cast<void*>(&out), &plain, sizeof out);
  } else if (const V4AddrMask* m = cv.v4Mask()) {
    out.type = FWP_V4_ADDR_MASK;
    auto* p = a.make<FWP_V4_ADDR_AND_MASK>();
    p->addr = m->addr;
    p->mask = m->mask;
    out.v4AddrMask = p;
  } else if (const V6AddrMask* m6 = cv.v6Mask()) {
    out.type = FWP_V6_ADDR_MASK;
    auto* p = a.make<FWP_V6_ADDR_AND_MASK>();
    std::memcpy(p->addr, m6->addr.data(), 16);
    p->prefixLength = m6->prefixLength;
    out.v6AddrMask = p;
  } else if (const RangeValue* r = cv.range()) {
    out.type = FWP_RANGE_TYPE;
    auto* p = a.make<FWP_RANGE0>();
    fillValue(a, p->valueLow, r->low);
    fillValue(a, p->valueHigh, r->high);
    out.rangeValue = p;
  }
}

FWPM_FILTER_CONDITION0* fillConditions(BlockArena& a, const std::vector<Condition>& conditions) {
  auto* out = a.array<FWPM_FILTER_CONDITION0>(conditions.size());
  for (size_t i = 0; i < conditions.size(); ++i) {
    out[i].fieldKey = guidToC(conditions[i].fieldKey);
    out[i].matchType = static_cast<FWP_MATCH_TYPE>(conditions[i].matchType);
    fillConditionValue(a, out[i].conditionValue, conditions[i].value);
  }
  return out;
}

void fillProvider(BlockArena& a, FWPM_PROVIDER0& out, const Provider& p) {
  out.providerKey = guidToC(p.key);
  fillDisplay(a, out.displayData, p.displayData);
  out.flags = p.flags;
  fillBlob(a, out.providerData, p.providerData);
  out.serviceName = p.serviceName.empty() ? nullptr : wideCopy(a, p.serviceName);
}

void fillProviderContext(BlockArena& a, FWPM_PROVIDER_CONTEXT0& out, const ProviderContext& p) {
  out.providerContextKey = guidToC(p.key);
  fillDisplay(a, out.displayData, p.displayData);
  out.flags = p.flags;
  out.providerKey = guidPtr(a, p.providerKey);
  fillBlob(a, out.providerData, p.providerData);
  out.type = static_cast<FWPM_PROVIDER_CONTEXT_TYPE>(p.type);
  if (p.type == FWPM_GENERAL_CONTEXT) {
    out.dataBuffer = a.make<FWP_BYTE_BLOB>();
    fillBlob(a, *out.dataBuffer, p.dataBuffer);
  }
  out.providerContextId = p.providerContextId;
}

void fillSublayer(BlockArena& a, FWPM_SUBLAYER0& out, const Sublayer& s) {
  out.subLayerKey = guidToC(s.key);
  fillDisplay(a, out.displayData, s.displayData);
  out.flags = s.flags;
  out.providerKey = guidPtr(a, s.providerKey);
  fillBlob(a, out.providerData, s.providerData);
  out.weight = s.weight;
}

void fillCallout(BlockArena& a, FWPM_CALLOUT0& out, const Callout& c) {
  out.calloutKey = guidToC(c.key);
  fillDisplay(a, out.displayData, c.displayData);
  out.flags = c.flags;
  out.providerKey = guidPtr(a, c.providerKey);
  fillBlob(a, out.providerData, c.providerData);
  out.applicableLayer = guidToC(c.applicableLayer);
  out.calloutId = c.calloutId;
}

void fillFilter(BlockArena& a, FWPM_FILTER0& out, const Filter& f) {
  out.filterKey = guidToC(f.key);
  fillDisplay(a, out.displayData, f.displayData);
  out.flags = f.flags;
  out.providerKey = guidPtr(a, f.providerKey);
  fillBlob(a, out.providerData, f.providerData);
  out.layerKey = guidToC(f.layerKey);
  out.subLayerKey = guidToC(f.subLayerKey);
  fillValue(a, out.weight, f.weight);
  out.numFilterConditions = static_cast<UINT32>(f.conditions.size());
  out.filterCondition = fillConditions(a, f.conditions);
  out.action.type = static_cast<FWP_ACTION_TYPE>(f.action.type);
  if (isCalloutAction(f.action.type)) {
    out.action.calloutKey = guidToC(f.action.calloutKey);
  } else {
    out.action.filterType = guidToC(f.action.filterType);
  }
  if ((f.flags & filter_flag::kHasProviderContext) != 0) {
    out.providerContextKey = guidToC(f.providerContextKey);
  } else {
    out.rawContext = f.rawContext;
  }
  out.reserved = nullptr;
  out.filterId = f.filterId;
  // WFP reports the weight actually used as FWP_UINT64.
  out.effectiveWeight.type = FWP_UINT64;
  out.effectiveWeight.uint64 = a.copy<UINT64>(f.effectiveWeight);
}

void fillFilterEnumTemplate(BlockArena& a,
                            FWPM_FILTER_ENUM_TEMPLATE0& out,
                            const engine::FilterEnumTemplate& t) {
  out.providerKey = guidPtr(a, t.providerKey);
  out.layerKey = guidToC(t.layerKey);
  out.enumType = static_cast<FWP_FILTER_ENUM_TYPE>(t.enumType);
  out.flags = t.flags;
  if (t.providerContextTemplate) {
    auto* pct = a.make<FWPM_PROVIDER_CONTEXT_ENUM_TEMPLATE0>();
    pct->providerKey = guidPtr(a, t.providerContextTemplate->providerKey);
    pct->providerContextType =
        static_cast<FWPM_PROVIDER_CONTEXT_TYPE>(t.providerContextTemplate->providerContextType);
    out.providerContextTemplate = pct;
  }
  out.numFilterConditions = static_cast<UINT32>(t.filterConditions.size());
  out.filterCondition = fillConditions(a, t.filterConditions);
  out.actionMask = t.actionMask;
  out.calloutKey = guidPtr(a, t.calloutKey);
}

template <class C, class T, class Fill>
C* oneToC(const T& object, Fill fill) {
  return buildBlock([&](BlockArena& a) {
    C* out = a.make<C>();
    fill(a, *out, object);
    return out;
  });
}

template <class C, class T, class Fill>
C** manyToC(const std::vector<T>& objects, Fill fill) {
  if (objects.empty()) {
    return nullptr;
  }
  return buildBlock([&](BlockArena& a) {
    C** out = a.array<C*>(objects.size());
    for (size_t i = 0; i < objects.size(); ++i) {
      out[i] = a.make<C>();
      fill(a, *out[i], objects[i]);
    }
    return out;
  });
}

}  // namespace

// ---- GUIDs and strings ----

Guid guidFromC(const GUID& g) {
  // The wire form: Data1..Data3 little-endian, Data4 as is (wfp-constants.md §0).
  Guid out;
  for (int i = 0; i < 4; ++i) {
    out.bytes[i] = static_cast<uint8_t>(g.Data1 >> (8 * i));
  }
  out.bytes[4] = static_cast<uint8_t>(g.Data2);
  out.bytes[5] = static_cast<uint8_t>(g.Data2 >> 8);
  out.bytes[6] = static_cast<uint8_t>(g.Data3);
  out.bytes[7] = static_cast<uint8_t>(g.Data3 >> 8);
  std::memcpy(&out.bytes[8], g.Data4, 8);
  return out;
}

GUID guidToC(const Guid& g) {
  GUID out{};
  for (int i = 0; i < 4; ++i) {
    out.Data1 |= static_cast<UINT32>(g.bytes[i]) << (8 * i);
  }
  out.Data2 = static_cast<UINT16>(g.bytes[4] | (g.bytes[5] << 8));
  out.Data3 = static_cast<UINT16>(g.bytes[6] | (g.bytes[7] << 8));
  std::memcpy(out.Data4, &g.bytes[8], 8);
  return out;
}

Result<std::optional<std::string>> stringFromC(const WCHAR* s, const char* what) {
  if (s == nullptr) {
    return std::optional<std::string>{};
  }
  auto wide = wideFromC(s, what);
  if (!wide) {
    return tl::unexpected(wide.error());
  }
  return std::optional<std::string>{utf16ToUtf8(*wide)};
}

// ---- C -> core ----

Result<Value> valueFromC(const FWP_VALUE0& v) {
  const uint32_t type = rawEnum(v.type);
  auto need = [&](const void* p) -> Result<void> {
    if (p == nullptr) {
      return fail(status::kNullPointer,
                  fmt::format("value of type {} has a NULL pointer",
                              dataTypeName(static_cast<DataType>(type))));
    }
    return {};
  };
  switch (type) {
    case FWP_EMPTY:
      return Value();
    case FWP_UINT8:
      return Value::uint8(v.uint8);
    case FWP_UINT16:
      return Value::uint16(v.uint16);
    case FWP_UINT32:
      return Value::uint32(v.uint32);
    case FWP_UINT64:
      return need(v.uint64).map([&] { return Value::uint64(*v.uint64); });
    case FWP_INT8:
      return Value::int8(v.int8);
    case FWP_INT16:
      return Value::int16(v.int16);
    case FWP_INT32:
      return Value::int32(v.int32);
    case FWP_INT64:
      return need(v.int64).map([&] { return Value::int64(*v.int64); });
    case FWP_FLOAT:
      return Value::float32(v.float32);
    case FWP_DOUBLE:
      return need(v.double64).map([&] { return Value::float64(*v.double64); });
    case FWP_BYTE_ARRAY16_TYPE:
      return need(v.byteArray16).map([&] {
        std::array<uint8_t, 16> a{};
        std::memcpy(a.data(), v.byteArray16->byteArray16, 16);
        return Value::byteArray16(a);
      });
    case FWP_BYTE_ARRAY6_TYPE:
      return need(v.byteArray6).map([&] {
        std::array<uint8_t, 6> a{};
        std::memcpy(a.data(), v.byteArray6->byteArray6, 6);
        return Value::byteArray6(a);
      });
    case FWP_BYTE_BLOB_TYPE:
    case FWP_SECURITY_DESCRIPTOR_TYPE: {
      const FWP_BYTE_BLOB* blob = type == FWP_BYTE_BLOB_TYPE ? v.byteBlob : v.sd;
      if (auto r = need(blob); !r) {
        return tl::unexpected(r.error());
      }
      auto bytes = blobFromC(*blob, "value");
      if (!bytes) {
        return tl::unexpected(bytes.error());
      }
      return type == FWP_BYTE_BLOB_TYPE ? Value::byteBlob(std::move(*bytes))
                                        : Value::securityDescriptor(std::move(*bytes));
    }
    case FWP_SID: {
      if (auto r = need(v.sid); !r) {
        return tl::unexpected(r.error());
      }
      // Revision, SubAuthorityCount, 6-byte authority, then SubAuthorityCount DWORDs
      // (at most SID_MAX_SUB_AUTHORITIES, 15).
      const auto* raw = reinterpret_cast<const uint8_t*>(v.sid);
      if (raw[1] > 15) {
        return fail(status::kInvalidParameter,
                    fmt::format("SID with {} sub-authorities (at most 15)", raw[1]));
      }
      return Value::sid(Bytes(raw, raw + 8 + 4 * size_t{raw[1]}));
    }
    case FWP_UNICODE_STRING_TYPE: {
      if (auto r = need(v.unicodeString); !r) {
        return tl::unexpected(r.error());
      }
      // Any UTF-16, as WFP takes it: the wire carries even unpaired surrogates exactly.
      return Value::unicodeString(wideCopyFromC(v.unicodeString));
    }
    case FWP_TOKEN_INFORMATION_TYPE:
    case FWP_TOKEN_ACCESS_INFORMATION_TYPE:
      return fail(status::kTypeMismatch,
                  fmt::format("{} values cannot be sent to the engine",
                              dataTypeName(static_cast<DataType>(type))));
    case FWP_V4_ADDR_MASK:
    case FWP_V6_ADDR_MASK:
    case FWP_RANGE_TYPE:
      return fail(status::kTypeMismatch,
                  fmt::format("{} is only valid in a condition value",
                              dataTypeName(static_cast<DataType>(type))));
    default:
      return fail(status::kInvalidEnumerator,
                  fmt::format("data type {} is not an FWP_DATA_TYPE", type));
  }
}

Result<ConditionValue> conditionValueFromC(const FWP_CONDITION_VALUE0& v) {
  switch (rawEnum(v.type)) {
    case FWP_V4_ADDR_MASK:
      if (v.v4AddrMask == nullptr) {
        return nullPointerOf<ConditionValue>("FWP_V4_ADDR_MASK value");
      }
      return ConditionValue(V4AddrMask{v.v4AddrMask->addr, v.v4AddrMask->mask});
    case FWP_V6_ADDR_MASK: {
      if (v.v6AddrMask == nullptr) {
        return nullPointerOf<ConditionValue>("FWP_V6_ADDR_MASK value");
      }
      V6AddrMask m;
      std::memcpy(m.addr.data(), v.v6AddrMask->addr, 16);
      m.prefixLength = v.v6AddrMask->prefixLength;
      return ConditionValue(m);
    }
    case FWP_RANGE_TYPE: {
      if (v.rangeValue == nullptr) {
        return nullPointerOf<ConditionValue>("FWP_RANGE_TYPE value");
      }
      auto low = valueFromC(v.rangeValue->valueLow);
      if (!low) {
        return tl::unexpected(std::move(low.error()).within("valueLow"));
      }
      auto high = valueFromC(v.rangeValue->valueHigh);
      if (!high) {
        return tl::unexpected(std::move(high.error()).within("valueHigh"));
      }
      return ConditionValue(RangeValue{std::move(*low), std::move(*high)});
    }
    default: {
      FWP_VALUE0 plain{};
      std::memcpy(static_cast<void*>(&plain), &v, sizeof plain);
      return valueFromC(plain).map([](Value x) { return ConditionValue(std::move(x)); });
    }
  }
}

Result<Condition> conditionFromC(const FWPM_FILTER_CONDITION0& c) {
  Condition out;
  out.fieldKey = guidFromC(c.fieldKey);
  // Any number: the engine refuses match types that are not FWP_MATCH_TYPE values.
  out.matchType = static_cast<MatchType>(rawEnum(c.matchType));
  auto value = conditionValueFromC(c.conditionValue);
  if (!value) {
    return tl::unexpected(std::move(value.error()).within("conditionValue"));
  }
  out.value = std::move(*value);
  return out;
}

Result<std::vector<Condition>> conditionsFromC(UINT32 count, const FWPM_FILTER_CONDITION0* c) {
  std::vector<Condition> out;
  if (count == 0) {
    return out;
  }
  if (c == nullptr) {
    return fail(status::kNullPointer,
                fmt::format("filterCondition is NULL with numFilterConditions {}", count));
  }
  out.reserve(count);
  for (UINT32 i = 0; i < count; ++i) {
    auto cond = conditionFromC(c[i]);
    if (!cond) {
      return tl::unexpected(std::move(cond.error()).within(fmt::format("filterCondition[{}]", i)));
    }
    out.push_back(std::move(*cond));
  }
  return out;
}

// The members every object shares, in the order the C structures have them.
#define XFP_TRY(var, expr, where)                                  \
  auto var = (expr);                                               \
  if (!var) {                                                      \
    return tl::unexpected(std::move(var.error()).within((where))); \
  }

Result<Provider> providerFromC(const FWPM_PROVIDER0* p) {
  if (p == nullptr) {
    return nullPointerOf<Provider>("provider");
  }
  Provider out;
  out.key = guidFromC(p->providerKey);
  XFP_TRY(dd, displayDataFromC(p->displayData, true), "provider");
  out.displayData = std::move(*dd);
  out.flags = p->flags;
  XFP_TRY(data, blobFromC(p->providerData, "providerData"), "provider");
  out.providerData = std::move(*data);
  XFP_TRY(service, stringFromC(p->serviceName, "serviceName"), "provider");
  out.serviceName = service->value_or("");
  return out;
}

Result<ProviderContext> providerContextFromC(const FWPM_PROVIDER_CONTEXT0* p) {
  if (p == nullptr) {
    return nullPointerOf<ProviderContext>("provider context");
  }
  ProviderContext out;
  out.key = guidFromC(p->providerContextKey);
  XFP_TRY(dd, displayDataFromC(p->displayData, true), "provider context");
  out.displayData = std::move(*dd);
  out.flags = p->flags;
  XFP_TRY(provider, optionalGuid(p->providerKey), "provider context");
  out.providerKey = *provider;
  XFP_TRY(data, blobFromC(p->providerData, "providerData"), "provider context");
  out.providerData = std::move(*data);
  out.type = rawEnum(p->type);
  if (out.type == FWPM_GENERAL_CONTEXT) {
    if (p->dataBuffer == nullptr) {
      return nullPointerOf<ProviderContext>("provider context: dataBuffer");
    }
    XFP_TRY(buffer, blobFromC(*p->dataBuffer, "dataBuffer"), "provider context");
    out.dataBuffer = std::move(*buffer);
  }
  // Other types point to IPsec policy structures xfp does not model; the engine refuses the
  // type itself (wfp-model.md §1.4), so nothing of the union is read.
  return out;
}

Result<Sublayer> sublayerFromC(const FWPM_SUBLAYER0* s) {
  if (s == nullptr) {
    return nullPointerOf<Sublayer>("sublayer");
  }
  Sublayer out;
  out.key = guidFromC(s->subLayerKey);
  XFP_TRY(dd, displayDataFromC(s->displayData, true), "sublayer");
  out.displayData = std::move(*dd);
  out.flags = s->flags;
  XFP_TRY(provider, optionalGuid(s->providerKey), "sublayer");
  out.providerKey = *provider;
  XFP_TRY(data, blobFromC(s->providerData, "providerData"), "sublayer");
  out.providerData = std::move(*data);
  out.weight = s->weight;
  return out;
}

Result<Callout> calloutFromC(const FWPM_CALLOUT0* c) {
  if (c == nullptr) {
    return nullPointerOf<Callout>("callout");
  }
  Callout out;
  out.key = guidFromC(c->calloutKey);
  XFP_TRY(dd, displayDataFromC(c->displayData, true), "callout");
  out.displayData = std::move(*dd);
  out.flags = c->flags;
  XFP_TRY(provider, optionalGuid(c->providerKey), "callout");
  out.providerKey = *provider;
  XFP_TRY(data, blobFromC(c->providerData, "providerData"), "callout");
  out.providerData = std::move(*data);
  out.applicableLayer = guidFromC(c->applicableLayer);
  return out;  // calloutId is an output
}

Result<Filter> filterFromC(const FWPM_FILTER0* f) {
  if (f == nullptr) {
    return nullPointerOf<Filter>("filter");
  }
  Filter out;
  out.key = guidFromC(f->filterKey);
  XFP_TRY(dd, displayDataFromC(f->displayData, true), "filter");
  out.displayData = std::move(*dd);
  out.flags = f->flags;
  XFP_TRY(provider, optionalGuid(f->providerKey), "filter");
  out.providerKey = *provider;
  XFP_TRY(data, blobFromC(f->providerData, "providerData"), "filter");
  out.providerData = std::move(*data);
  out.layerKey = guidFromC(f->layerKey);
  out.subLayerKey = guidFromC(f->subLayerKey);
  // The engine decides which weight types are valid (FWP_E_INVALID_WEIGHT); a value that is not
  // even a single FWP_VALUE0 cannot be one.
  auto weight = valueFromC(f->weight);
  if (!weight) {
    const uint32_t code = weight.error().status == status::kNullPointer ? status::kNullPointer
                                                                        : status::kInvalidWeight;
    return fail(code, "filter: weight: " + weight.error().message);
  }
  out.weight = std::move(*weight);
  XFP_TRY(conditions, conditionsFromC(f->numFilterConditions, f->filterCondition), "filter");
  out.conditions = std::move(*conditions);
  out.action.type = static_cast<ActionType>(f->action.type);
  if ((f->action.type & FWP_ACTION_FLAG_CALLOUT) != 0) {
    out.action.calloutKey = guidFromC(f->action.calloutKey);
  } else {
    out.action.filterType = guidFromC(f->action.filterType);
  }
  if ((f->flags & FWPM_FILTER_FLAG_HAS_PROVIDER_CONTEXT) != 0) {
    out.providerContextKey = guidFromC(f->providerContextKey);
  } else {
    out.rawContext = f->rawContext;
  }
  out.reservedSet = f->reserved != nullptr;  // the engine answers FWP_E_RESERVED
  return out;                                // filterId and effectiveWeight are outputs
}

Result<std::optional<engine::FilterEnumTemplate>> filterEnumTemplateFromC(
    const FWPM_FILTER_ENUM_TEMPLATE0* t) {
  using Out = std::optional<engine::FilterEnumTemplate>;
  if (t == nullptr) {
    return Out{};
  }
  engine::FilterEnumTemplate out;
  out.providerKey = *optionalGuid(t->providerKey);
  out.layerKey = guidFromC(t->layerKey);
  out.enumType = static_cast<engine::FilterEnumType>(rawEnum(t->enumType));
  out.flags = t->flags;
  if (t->providerContextTemplate != nullptr) {
    engine::ProviderContextTemplate pct;
    pct.providerKey = *optionalGuid(t->providerContextTemplate->providerKey);
    pct.providerContextType = rawEnum(t->providerContextTemplate->providerContextType);
    out.providerContextTemplate = pct;
  }
  XFP_TRY(conditions,
          conditionsFromC(t->numFilterConditions, t->filterCondition),
          "filter enum template");
  out.filterConditions = std::move(*conditions);
  out.actionMask = t->actionMask;
  out.calloutKey = *optionalGuid(t->calloutKey);
  return Out{std::move(out)};
}

std::optional<engine::SublayerEnumTemplate> sublayerEnumTemplateFromC(
    const FWPM_SUBLAYER_ENUM_TEMPLATE0* t) {
  if (t == nullptr) {
    return std::nullopt;
  }
  return engine::SublayerEnumTemplate{*optionalGuid(t->providerKey)};
}

std::optional<engine::CalloutEnumTemplate> calloutEnumTemplateFromC(
    const FWPM_CALLOUT_ENUM_TEMPLATE0* t) {
  if (t == nullptr) {
    return std::nullopt;
  }
  engine::CalloutEnumTemplate out;
  out.providerKey = *optionalGuid(t->providerKey);
  const Guid layer = guidFromC(t->layerKey);
  if (!layer.isZero()) {
    out.layerKey = layer;
  }
  return out;
}

Result<engine::FilterSubscription> filterSubscriptionFromC(const FWPM_FILTER_SUBSCRIPTION0* s) {
  if (s == nullptr) {
    return nullPointerOf<engine::FilterSubscription>("subscription");
  }
  engine::FilterSubscription out;
  XFP_TRY(t, filterEnumTemplateFromC(s->enumTemplate), "subscription: enumTemplate");
  out.enumTemplate = std::move(*t);
  out.flags = s->flags;  // 0: adds and deletes (the engine's reading)
  return out;
}

Result<engine::SessionOptions> sessionOptionsFromC(const FWPM_SESSION0* s) {
  engine::SessionOptions out;
  if (s == nullptr) {
    return out;
  }
  out.sessionKey = guidFromC(s->sessionKey);
  XFP_TRY(dd, displayDataFromC(s->displayData, false), "session");
  out.displayData = std::move(*dd);
  out.flags = s->flags;
  out.txnWaitTimeoutInMSec = s->txnWaitTimeoutInMSec;
  return out;  // processId, sid, username, kernelMode are the engine's to fill
}

#undef XFP_TRY

// ---- core -> C ----

FWPM_PROVIDER0* providerToC(const Provider& p) {
  return oneToC<FWPM_PROVIDER0>(p, fillProvider);
}

FWPM_PROVIDER_CONTEXT0* providerContextToC(const ProviderContext& p) {
  return oneToC<FWPM_PROVIDER_CONTEXT0>(p, fillProviderContext);
}

FWPM_SUBLAYER0* sublayerToC(const Sublayer& s) {
  return oneToC<FWPM_SUBLAYER0>(s, fillSublayer);
}

FWPM_CALLOUT0* calloutToC(const Callout& c) {
  return oneToC<FWPM_CALLOUT0>(c, fillCallout);
}

FWPM_FILTER0* filterToC(const Filter& f) {
  return oneToC<FWPM_FILTER0>(f, fillFilter);
}

FWPM_PROVIDER0** providersToC(const std::vector<Provider>& v) {
  return manyToC<FWPM_PROVIDER0>(v, fillProvider);
}

FWPM_SUBLAYER0** sublayersToC(const std::vector<Sublayer>& v) {
  return manyToC<FWPM_SUBLAYER0>(v, fillSublayer);
}

FWPM_CALLOUT0** calloutsToC(const std::vector<Callout>& v) {
  return manyToC<FWPM_CALLOUT0>(v, fillCallout);
}

FWPM_FILTER0** filtersToC(const std::vector<Filter>& v) {
  return manyToC<FWPM_FILTER0>(v, fillFilter);
}

FWPM_FILTER_SUBSCRIPTION0** filterSubscriptionsToC(const std::vector<engine::FilterSubscription>& v,
                                                   const Guid& sessionKey) {
  return manyToC<FWPM_FILTER_SUBSCRIPTION0>(
      v, [&](BlockArena& a, FWPM_FILTER_SUBSCRIPTION0& out, const engine::FilterSubscription& s) {
        if (s.enumTemplate) {
          out.enumTemplate = a.make<FWPM_FILTER_ENUM_TEMPLATE0>();
          fillFilterEnumTemplate(a, *out.enumTemplate, *s.enumTemplate);
        }
        out.flags = s.flags;
        out.sessionKey = guidToC(sessionKey);
      });
}

FWPM_FILTER_CHANGE0 filterChangeToC(const engine::FilterChange& c) {
  FWPM_FILTER_CHANGE0 out{};
  out.changeType = static_cast<FWPM_CHANGE_TYPE>(c.changeType);
  out.filterKey = guidToC(c.filterKey);
  out.filterId = c.filterId;
  return out;
}

}  // namespace xfp::client
