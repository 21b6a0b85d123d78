#include "userspace/core/wfp_constants.h"

#include <array>
#include <cctype>
#include <string>
#include <utility>

namespace xfp {
namespace {

template <typename T>
struct Named {
  T value;
  std::string_view name;
};

bool equalsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(a[i])) !=
        std::toupper(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Looks `name` up with or without `prefix`.
template <typename T, size_t N>
std::optional<T> lookup(const std::array<Named<T>, N>& table,
                        std::string_view prefix,
                        std::string_view name) {
  for (const auto& e : table) {
    if (equalsNoCase(e.name, name) ||
        (e.name.size() > prefix.size() && equalsNoCase(e.name.substr(prefix.size()), name))) {
      return e.value;
    }
  }
  return std::nullopt;
}

template <typename T, size_t N>
std::string_view nameOf(const std::array<Named<T>, N>& table, T value) {
  for (const auto& e : table) {
    if (e.value == value) {
      return e.name;
    }
  }
  return "?";
}

constexpr std::array<Named<ActionType>, 8> kActions = {{
    {ActionType::Block, "FWP_ACTION_BLOCK"},
    {ActionType::Permit, "FWP_ACTION_PERMIT"},
    {ActionType::CalloutTerminating, "FWP_ACTION_CALLOUT_TERMINATING"},
    {ActionType::CalloutInspection, "FWP_ACTION_CALLOUT_INSPECTION"},
    {ActionType::CalloutUnknown, "FWP_ACTION_CALLOUT_UNKNOWN"},
    {ActionType::Continue, "FWP_ACTION_CONTINUE"},
    {ActionType::None, "FWP_ACTION_NONE"},
    {ActionType::NoneNoMatch, "FWP_ACTION_NONE_NO_MATCH"},
}};

constexpr std::array<Named<DataType>, 22> kDataTypes = {{
    {DataType::Empty, "FWP_EMPTY"},
    {DataType::Uint8, "FWP_UINT8"},
    {DataType::Uint16, "FWP_UINT16"},
    {DataType::Uint32, "FWP_UINT32"},
    {DataType::Uint64, "FWP_UINT64"},
    {DataType::Int8, "FWP_INT8"},
    {DataType::Int16, "FWP_INT16"},
    {DataType::Int32, "FWP_INT32"},
    {DataType::Int64, "FWP_INT64"},
    {DataType::Float, "FWP_FLOAT"},
    {DataType::Double, "FWP_DOUBLE"},
    {DataType::ByteArray16, "FWP_BYTE_ARRAY16_TYPE"},
    {DataType::ByteBlob, "FWP_BYTE_BLOB_TYPE"},
    {DataType::Sid, "FWP_SID"},
    {DataType::SecurityDescriptor, "FWP_SECURITY_DESCRIPTOR_TYPE"},
    {DataType::TokenInformation, "FWP_TOKEN_INFORMATION_TYPE"},
    {DataType::TokenAccessInformation, "FWP_TOKEN_ACCESS_INFORMATION_TYPE"},
    {DataType::UnicodeString, "FWP_UNICODE_STRING_TYPE"},
    {DataType::ByteArray6, "FWP_BYTE_ARRAY6_TYPE"},
    {DataType::V4AddrMask, "FWP_V4_ADDR_MASK"},
    {DataType::V6AddrMask, "FWP_V6_ADDR_MASK"},
    {DataType::Range, "FWP_RANGE_TYPE"},
}};

constexpr std::array<Named<MatchType>, 13> kMatchTypes = {{
    {MatchType::Equal, "FWP_MATCH_EQUAL"},
    {MatchType::Greater, "FWP_MATCH_GREATER"},
    {MatchType::Less, "FWP_MATCH_LESS"},
    {MatchType::GreaterOrEqual, "FWP_MATCH_GREATER_OR_EQUAL"},
    {MatchType::LessOrEqual, "FWP_MATCH_LESS_OR_EQUAL"},
    {MatchType::Range, "FWP_MATCH_RANGE"},
    {MatchType::FlagsAllSet, "FWP_MATCH_FLAGS_ALL_SET"},
    {MatchType::FlagsAnySet, "FWP_MATCH_FLAGS_ANY_SET"},
    {MatchType::FlagsNoneSet, "FWP_MATCH_FLAGS_NONE_SET"},
    {MatchType::EqualCaseInsensitive, "FWP_MATCH_EQUAL_CASE_INSENSITIVE"},
    {MatchType::NotEqual, "FWP_MATCH_NOT_EQUAL"},
    {MatchType::Prefix, "FWP_MATCH_PREFIX"},
    {MatchType::NotPrefix, "FWP_MATCH_NOT_PREFIX"},
}};

constexpr std::array<Named<uint32_t>, 14> kFilterFlags = {{
    {filter_flag::kPersistent, "FWPM_FILTER_FLAG_PERSISTENT"},
    {filter_flag::kBoottime, "FWPM_FILTER_FLAG_BOOTTIME"},
    {filter_flag::kHasProviderContext, "FWPM_FILTER_FLAG_HAS_PROVIDER_CONTEXT"},
    {filter_flag::kClearActionRight, "FWPM_FILTER_FLAG_CLEAR_ACTION_RIGHT"},
    {filter_flag::kPermitIfCalloutUnregistered, "FWPM_FILTER_FLAG_PERMIT_IF_CALLOUT_UNREGISTERED"},
    {filter_flag::kDisabled, "FWPM_FILTER_FLAG_DISABLED"},
    {filter_flag::kIndexed, "FWPM_FILTER_FLAG_INDEXED"},
    {filter_flag::kHasSecurityRealmProviderContext,
     "FWPM_FILTER_FLAG_HAS_SECURITY_REALM_PROVIDER_CONTEXT"},
    {filter_flag::kSystemOsOnly, "FWPM_FILTER_FLAG_SYSTEMOS_ONLY"},
    {filter_flag::kGameOsOnly, "FWPM_FILTER_FLAG_GAMEOS_ONLY"},
    {filter_flag::kSilentMode, "FWPM_FILTER_FLAG_SILENT_MODE"},
    {filter_flag::kIpsecNoAcquireInitiate, "FWPM_FILTER_FLAG_IPSEC_NO_ACQUIRE_INITIATE"},
    {filter_flag::kReserved0, "FWPM_FILTER_FLAG_RESERVED0"},
    {filter_flag::kReserved1, "FWPM_FILTER_FLAG_RESERVED1"},
}};

// Every FWP_E_* of wfp-constants.md §6, then the HRESULT_FROM_WIN32 codes the engine and the
// FWPM API use where WFP has no FWP_E_* code.
constexpr std::array<Named<uint32_t>, 75> kStatus = {{
    {0, "ERROR_SUCCESS"},
    {0x80320001, "FWP_E_CALLOUT_NOT_FOUND"},
    {0x80320002, "FWP_E_CONDITION_NOT_FOUND"},
    {0x80320003, "FWP_E_FILTER_NOT_FOUND"},
    {0x80320004, "FWP_E_LAYER_NOT_FOUND"},
    {0x80320005, "FWP_E_PROVIDER_NOT_FOUND"},
    {0x80320006, "FWP_E_PROVIDER_CONTEXT_NOT_FOUND"},
    {0x80320007, "FWP_E_SUBLAYER_NOT_FOUND"},
    {0x80320008, "FWP_E_NOT_FOUND"},
    {0x80320009, "FWP_E_ALREADY_EXISTS"},
    {0x8032000A, "FWP_E_IN_USE"},
    {0x8032000B, "FWP_E_DYNAMIC_SESSION_IN_PROGRESS"},
    {0x8032000C, "FWP_E_WRONG_SESSION"},
    {0x8032000D, "FWP_E_NO_TXN_IN_PROGRESS"},
    {0x8032000E, "FWP_E_TXN_IN_PROGRESS"},
    {0x8032000F, "FWP_E_TXN_ABORTED"},
    {0x80320010, "FWP_E_SESSION_ABORTED"},
    {0x80320011, "FWP_E_INCOMPATIBLE_TXN"},
    {0x80320012, "FWP_E_TIMEOUT"},
    {0x80320013, "FWP_E_NET_EVENTS_DISABLED"},
    {0x80320014, "FWP_E_INCOMPATIBLE_LAYER"},
    {0x80320015, "FWP_E_KM_CLIENTS_ONLY"},
    {0x80320016, "FWP_E_LIFETIME_MISMATCH"},
    {0x80320017, "FWP_E_BUILTIN_OBJECT"},
    {0x80320018, "FWP_E_TOO_MANY_CALLOUTS"},
    {0x80320019, "FWP_E_NOTIFICATION_DROPPED"},
    {0x8032001A, "FWP_E_TRAFFIC_MISMATCH"},
    {0x8032001B, "FWP_E_INCOMPATIBLE_SA_STATE"},
    {0x8032001C, "FWP_E_NULL_POINTER"},
    {0x8032001D, "FWP_E_INVALID_ENUMERATOR"},
    {0x8032001E, "FWP_E_INVALID_FLAGS"},
    {0x8032001F, "FWP_E_INVALID_NET_MASK"},
    {0x80320020, "FWP_E_INVALID_RANGE"},
    {0x80320021, "FWP_E_INVALID_INTERVAL"},
    {0x80320022, "FWP_E_ZERO_LENGTH_ARRAY"},
    {0x80320023, "FWP_E_NULL_DISPLAY_NAME"},
    {0x80320024, "FWP_E_INVALID_ACTION_TYPE"},
    {0x80320025, "FWP_E_INVALID_WEIGHT"},
    {0x80320026, "FWP_E_MATCH_TYPE_MISMATCH"},
    {0x80320027, "FWP_E_TYPE_MISMATCH"},
    {0x80320028, "FWP_E_OUT_OF_BOUNDS"},
    {0x80320029, "FWP_E_RESERVED"},
    {0x8032002A, "FWP_E_DUPLICATE_CONDITION"},
    {0x8032002B, "FWP_E_DUPLICATE_KEYMOD"},
    {0x8032002C, "FWP_E_ACTION_INCOMPATIBLE_WITH_LAYER"},
    {0x8032002D, "FWP_E_ACTION_INCOMPATIBLE_WITH_SUBLAYER"},
    {0x8032002E, "FWP_E_CONTEXT_INCOMPATIBLE_WITH_LAYER"},
    {0x8032002F, "FWP_E_CONTEXT_INCOMPATIBLE_WITH_CALLOUT"},
    {0x80320030, "FWP_E_INCOMPATIBLE_AUTH_METHOD"},
    {0x80320031, "FWP_E_INCOMPATIBLE_DH_GROUP"},
    {0x80320032, "FWP_E_EM_NOT_SUPPORTED"},
    {0x80320033, "FWP_E_NEVER_MATCH"},
    {0x80320034, "FWP_E_PROVIDER_CONTEXT_MISMATCH"},
    {0x80320035, "FWP_E_INVALID_PARAMETER"},
    {0x80320036, "FWP_E_TOO_MANY_SUBLAYERS"},
    {0x80320037, "FWP_E_CALLOUT_NOTIFICATION_FAILED"},
    {0x80320038, "FWP_E_INVALID_AUTH_TRANSFORM"},
    {0x80320039, "FWP_E_INVALID_CIPHER_TRANSFORM"},
    {0x8032003A, "FWP_E_INCOMPATIBLE_CIPHER_TRANSFORM"},
    {0x8032003B, "FWP_E_INVALID_TRANSFORM_COMBINATION"},
    {0x8032003C, "FWP_E_DUPLICATE_AUTH_METHOD"},
    {0x8032003D, "FWP_E_INVALID_TUNNEL_ENDPOINT"},
    {0x8032003E, "FWP_E_L2_DRIVER_NOT_READY"},
    {0x8032003F, "FWP_E_KEY_DICTATOR_ALREADY_REGISTERED"},
    {0x80320040, "FWP_E_KEY_DICTATION_INVALID_KEYING_MATERIAL"},
    {0x80320041, "FWP_E_CONNECTIONS_DISABLED"},
    {0x80320042, "FWP_E_INVALID_DNS_NAME"},
    {0x80320043, "FWP_E_STILL_ON"},
    {0x80320044, "FWP_E_IKEEXT_NOT_RUNNING"},
    {0x80320104, "FWP_E_DROP_NOICMP"},
    {0x80070005, "ERROR_ACCESS_DENIED"},
    {0x80070006, "ERROR_INVALID_HANDLE"},
    {0x8007001D, "ERROR_WRITE_FAULT"},
    {0x80070057, "ERROR_INVALID_PARAMETER"},
    {0x8007053A, "ERROR_INVALID_SECURITY_DESCR"},
}};

}  // namespace

std::string_view statusName(uint32_t code) {
  for (const auto& e : kStatus) {
    if (e.value == code) {
      return e.name;
    }
  }
  return "unknown status";  // callers that need the number print it themselves
}

std::string_view actionTypeName(ActionType t) {
  return nameOf(kActions, t);
}
std::optional<ActionType> parseActionType(std::string_view name) {
  return lookup(kActions, "FWP_ACTION_", name);
}
std::string_view dataTypeName(DataType t) {
  return nameOf(kDataTypes, t);
}
std::optional<DataType> parseDataType(std::string_view name) {
  return lookup(kDataTypes, "FWP_", name);
}
std::string_view matchTypeName(MatchType t) {
  return nameOf(kMatchTypes, t);
}
std::optional<MatchType> parseMatchType(std::string_view name) {
  return lookup(kMatchTypes, "FWP_MATCH_", name);
}
std::optional<uint32_t> parseFilterFlag(std::string_view name) {
  return lookup(kFilterFlags, "FWPM_FILTER_FLAG_", name);
}

std::string filterFlagsToString(uint32_t flags) {
  std::string out;
  for (const auto& e : kFilterFlags) {
    if ((flags & e.value) != 0) {
      if (!out.empty()) {
        out += '|';
      }
      out += e.name.substr(std::string_view("FWPM_FILTER_FLAG_").size());
      flags &= ~e.value;
    }
  }
  if (flags != 0) {
    out += (out.empty() ? "" : "|") + std::to_string(flags);
  }
  return out.empty() ? "NONE" : out;
}

}  // namespace xfp
