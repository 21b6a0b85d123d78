#include "userspace/callout/fwps_convert.h"

#include <cstring>

#include "userspace/core/layers.h"

namespace xfp::callout {

void* FwpArena::allocate(size_t size) {
  const size_t aligned = (size + 15) & ~size_t{15};
  if (used_ + aligned <= sizeof inline_) {
    void* p = inline_ + used_;
    used_ += aligned;
    return p;
  }
  spill_.push_back(std::make_unique<unsigned char[]>(aligned));
  return spill_.back().get();
}

FWP_VALUE0 FwpArena::value(const Value& v) {
  FWP_VALUE0 out{};
  out.type = static_cast<FWP_DATA_TYPE>(v.type());
  auto bytes = [&](const Bytes& b) {
    auto* p = static_cast<UINT8*>(allocate(b.empty() ? 1 : b.size()));
    if (!b.empty()) {
      std::memcpy(p, b.data(), b.size());
    }
    return p;
  };
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
      out.uint64 = make<UINT64>(v.asUnsigned());
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
      out.int64 = make<INT64>(v.asSigned());
      break;
    case DataType::Float:
      out.float32 = static_cast<float>(v.asDouble());
      break;
    case DataType::Double:
      out.double64 = make<double>(v.asDouble());
      break;
    case DataType::ByteArray16: {
      FWP_BYTE_ARRAY16 a{};
      std::memcpy(a.byteArray16, v.asBytes().data(), 16);
      out.byteArray16 = make(a);
      break;
    }
    case DataType::ByteArray6: {
      FWP_BYTE_ARRAY6 a{};
      std::memcpy(a.byteArray6, v.asBytes().data(), 6);
      out.byteArray6 = make(a);
      break;
    }
    case DataType::ByteBlob:
    case DataType::SecurityDescriptor: {
      FWP_BYTE_BLOB blob{};
      blob.size = static_cast<UINT32>(v.asBytes().size());
      blob.data = bytes(v.asBytes());
      if (v.type() == DataType::ByteBlob) {
        out.byteBlob = make(blob);
      } else {
        out.sd = make(blob);
      }
      break;
    }
    case DataType::Sid:
      out.sid = reinterpret_cast<SID*>(bytes(v.asBytes()));
      break;
    case DataType::UnicodeString: {
      const std::u16string& str = v.asString();
      auto* w = static_cast<WCHAR*>(allocate((str.size() + 1) * sizeof(WCHAR)));
      std::memcpy(w, str.data(), str.size() * sizeof(WCHAR));
      w[str.size()] = 0;
      out.unicodeString = w;
      break;
    }
    default:
      // Token information has no flat FWP form in xfp: presented as FWP_EMPTY.
      out = FWP_VALUE0{};
      break;
  }
  return out;
}

void FwpsIncoming::fill(const IncomingValues& v) {
  values.resize(v.values.size());
  for (size_t i = 0; i < v.values.size(); ++i) {
    values[i].value = arena.value(v.values[i]);
  }
  in.layerId = v.layerId;
  in.valueCount = static_cast<UINT32>(values.size());
  in.incomingValue = values.data();
}

void FwpsFilterImage::fill(const Filter& f, const Policy& policy, uint32_t calloutId) {
  weight = f.effectiveWeight;
  filter.filterId = f.filterId;
  filter.weight.type = FWP_UINT64;
  filter.weight.uint64 = &weight;
  const Sublayer* sl = policy.sublayer(f.subLayerKey);
  filter.subLayerWeight = sl != nullptr ? sl->weight : 0;
  filter.flags = runtimeFilterFlags(f);
  filter.numFilterConditions = 0;
  filter.filterCondition = nullptr;
  filter.action.type = static_cast<FWP_ACTION_TYPE>(f.action.type);
  filter.action.calloutId = calloutId;
  filter.context = f.rawContext;
  if ((f.flags & filter_flag::kHasProviderContext) != 0) {
    const ProviderContext* pc = policy.providerContext(f.providerContextKey);
    filter.context = pc != nullptr ? pc->providerContextId : 0;
  }
  filter.providerContext = nullptr;
}

IncomingValues aleIncomingValues(uint16_t layerId,
                                 const xfp_pkt& pkt,
                                 bool inbound,
                                 uint32_t ifindex,
                                 uint32_t flags,
                                 uint32_t reauthReason,
                                 const ProcessIdentity* who) {
  const LayerInfo* layer = layerById(layerId);
  IncomingValues in;
  if (layer == nullptr) {
    return in;
  }
  in = IncomingValues::emptyFor(*layer);
  const bool v6 = (pkt.flags & XFP_PKT_F_IPV6) != 0;
  const uint8_t* local = inbound ? pkt.dst_addr : pkt.src_addr;
  const uint8_t* remote = inbound ? pkt.src_addr : pkt.dst_addr;
  const bool icmp = pkt.ip_proto == 1 || pkt.ip_proto == 58;
  const bool ports = (pkt.flags & XFP_PKT_F_L4) != 0;
  auto address = [&](const uint8_t* a) {
    if (v6) {
      std::array<uint8_t, 16> b{};
      std::memcpy(b.data(), a, 16);
      return Value::byteArray16(b);
    }
    return Value::uint32(static_cast<uint32_t>(a[0]) << 24 | static_cast<uint32_t>(a[1]) << 16 |
                         static_cast<uint32_t>(a[2]) << 8 | a[3]);
  };
  if ((pkt.flags & XFP_PKT_F_FRAGMENT) != 0) {
    flags |= condition_flag::kIsFragment;
  }
  for (const FieldInfo& f : layer->fields) {
    const std::string_view c = f.condition;
    Value v;
    if (c == "IP_LOCAL_ADDRESS") {
      v = address(local);
    } else if (c == "IP_REMOTE_ADDRESS") {
      v = address(remote);
    } else if (c == "IP_PROTOCOL") {
      v = Value::uint8(pkt.ip_proto);
    } else if (c == "IP_LOCAL_PORT" && ports) {
      v = Value::uint16(icmp ? pkt.src_port : (inbound ? pkt.dst_port : pkt.src_port));
    } else if (c == "IP_REMOTE_PORT" && ports) {
      v = Value::uint16(icmp ? pkt.dst_port : (inbound ? pkt.src_port : pkt.dst_port));
    } else if (c == "IP_LOCAL_INTERFACE" || c == "IP_ARRIVAL_INTERFACE") {
      v = Value::uint64(ifindex);
    } else if (c == "INTERFACE_INDEX" || c == "ARRIVAL_INTERFACE_INDEX") {
      v = Value::uint32(ifindex);
    } else if (c == "FLAGS") {
      v = Value::uint32(flags);
    } else if (c == "REAUTHORIZE_REASON" && reauthReason != 0) {
      v = Value::uint32(reauthReason);
    } else if (c == "COMPARTMENT_ID") {
      v = Value::uint32(1);
    } else {
      continue;
    }
    in.values[f.index] = std::move(v);
  }
  if (who != nullptr) {
    fillIdentity(in, *layer, *who);
  }
  return in;
}

void fillIdentity(IncomingValues& in, const LayerInfo& layer, const ProcessIdentity& who) {
  if (!who.known) {
    return;
  }
  for (const FieldInfo& f : layer.fields) {
    const std::string_view c = f.condition;
    if (c == "ALE_APP_ID" || c == "ALE_ORIGINAL_APP_ID") {
      if (!who.exePath.empty()) {
        in.values[f.index] = Value::byteBlob(who.appId());
      }
    } else if (c == "ALE_USER_ID") {
      in.values[f.index] = Value::token(who.token());
    } else if (c == "ALE_PACKAGE_ID") {
      in.values[f.index] = Value::sid(who.packageSid());
    }
  }
}

IncomingValues sockIncomingValues(uint16_t layerId,
                                  const xfp_sock_event& ev,
                                  const ProcessIdentity& who,
                                  uint32_t flags) {
  const LayerInfo* layer = layerById(layerId);
  IncomingValues in;
  if (layer == nullptr) {
    return in;
  }
  in = IncomingValues::emptyFor(*layer);
  auto address = [&](const uint8_t* a) {
    if (ev.v6 != 0) {
      std::array<uint8_t, 16> b{};
      std::memcpy(b.data(), a, 16);
      return Value::byteArray16(b);
    }
    return Value::uint32(static_cast<uint32_t>(a[0]) << 24 | static_cast<uint32_t>(a[1]) << 16 |
                         static_cast<uint32_t>(a[2]) << 8 | a[3]);
  };
  auto zero = [](const uint8_t* a) {
    for (int i = 0; i < 16; ++i) {
      if (a[i] != 0) {
        return false;
      }
    }
    return true;
  };
  const bool hasRemote = ev.remote_port != 0 || !zero(ev.remote);
  for (const FieldInfo& f : layer->fields) {
    const std::string_view c = f.condition;
    Value v;
    if (c == "IP_LOCAL_ADDRESS") {
      v = address(ev.local);  // the wildcard address of an unbound socket is 0.0.0.0 / ::
    } else if (c == "IP_REMOTE_ADDRESS" && hasRemote) {
      v = address(ev.remote);
    } else if (c == "IP_PROTOCOL") {
      v = Value::uint8(ev.proto);
    } else if (c == "IP_LOCAL_PORT") {
      v = Value::uint16(ev.local_port);
    } else if (c == "IP_REMOTE_PORT" && hasRemote) {
      v = Value::uint16(ev.remote_port);
    } else if (c == "FLAGS") {
      v = Value::uint32(flags);
    } else if (c == "DIRECTION" && ev.type == XFP_SOCK_EV_ESTABLISHED) {
      v = Value::uint32((ev.flags & XFP_SOCK_F_ACTIVE) != 0 ? 0u : 1u);  // FWP_DIRECTION_*
    } else if (c == "COMPARTMENT_ID") {
      v = Value::uint32(1);
    } else {
      continue;
    }
    in.values[f.index] = std::move(v);
  }
  fillIdentity(in, *layer, who);
  return in;
}

}  // namespace xfp::callout
