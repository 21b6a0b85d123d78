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

constexpr std::array<Named<uint32_t>, 36> kStatus = {{
    {status::kSuccess, "ERROR_SUCCESS"},
    {status::kCalloutNotFound, "FWP_E_CALLOUT_NOT_FOUND"},
    {status::kConditionNotFound, "FWP_E_CONDITION_NOT_FOUND"},
    {status::kFilterNotFound, "FWP_E_FILTER_NOT_FOUND"},
    {status::kLayerNotFound, "FWP_E_LAYER_NOT_FOUND"},
    {status::kProviderNotFound, "FWP_E_PROVIDER_NOT_FOUND"},
    {status::kProviderContextNotFound, "FWP_E_PROVIDER_CONTEXT_NOT_FOUND"},
    {status::kSublayerNotFound, "FWP_E_SUBLAYER_NOT_FOUND"},
    {status::kNotFound, "FWP_E_NOT_FOUND"},
    {status::kAlreadyExists, "FWP_E_ALREADY_EXISTS"},
    {status::kInUse, "FWP_E_IN_USE"},
    {status::kDynamicSessionInProgress, "FWP_E_DYNAMIC_SESSION_IN_PROGRESS"},
    {status::kWrongSession, "FWP_E_WRONG_SESSION"},
    {status::kNoTxnInProgress, "FWP_E_NO_TXN_IN_PROGRESS"},
    {status::kTxnInProgress, "FWP_E_TXN_IN_PROGRESS"},
    {status::kTxnAborted, "FWP_E_TXN_ABORTED"},
    {status::kIncompatibleTxn, "FWP_E_INCOMPATIBLE_TXN"},
    {status::kTimeout, "FWP_E_TIMEOUT"},
    {status::kIncompatibleLayer, "FWP_E_INCOMPATIBLE_LAYER"},
    {status::kLifetimeMismatch, "FWP_E_LIFETIME_MISMATCH"},
    {status::kBuiltinObject, "FWP_E_BUILTIN_OBJECT"},
    {status::kNullPointer, "FWP_E_NULL_POINTER"},
    {status::kInvalidEnumerator, "FWP_E_INVALID_ENUMERATOR"},
    {status::kInvalidFlags, "FWP_E_INVALID_FLAGS"},
    {status::kInvalidNetMask, "FWP_E_INVALID_NET_MASK"},
    {status::kInvalidRange, "FWP_E_INVALID_RANGE"},
    {status::kNullDisplayName, "FWP_E_NULL_DISPLAY_NAME"},
    {status::kInvalidActionType, "FWP_E_INVALID_ACTION_TYPE"},
    {status::kInvalidWeight, "FWP_E_INVALID_WEIGHT"},
    {status::kMatchTypeMismatch, "FWP_E_MATCH_TYPE_MISMATCH"},
    {status::kTypeMismatch, "FWP_E_TYPE_MISMATCH"},
    {status::kOutOfBounds, "FWP_E_OUT_OF_BOUNDS"},
    {status::kReserved, "FWP_E_RESERVED"},
    {status::kInvalidParameter, "FWP_E_INVALID_PARAMETER"},
    {status::kInvalidSecurityDescriptor, "ERROR_INVALID_SECURITY_DESCR"},
    {0xFFFFFFFF, "?"},
}};

}  // namespace

std::string_view statusName(uint32_t code) {
  for (const auto& e : kStatus) {
    if (e.value == code) {
      return e.name;
    }
  }
  return "unknown status";
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
