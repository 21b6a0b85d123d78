// WFP numeric constants used by the model (values from shared/spec/wfp-constants.md §1-§6):
// action, data and match types, the flag sets of filters, sublayers, providers and callouts,
// classify rights/flags and the FWP_E_* status codes. The public C headers in userspace/api keep
// WFP's spelling; this is the C++ view of the same numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace xfp {

enum class ActionType : uint32_t {
  Block = 0x00001001,
  Permit = 0x00001002,
  CalloutTerminating = 0x00005003,
  CalloutInspection = 0x00006004,
  CalloutUnknown = 0x00004005,
  Continue = 0x00002006,  // a callout's answer only
  None = 0x00000007,      // classify result: some filter matched, none terminated
  NoneNoMatch = 0x00000008,
};
constexpr uint32_t kActionFlagTerminating = 0x00001000;
constexpr uint32_t kActionFlagNonTerminating = 0x00002000;
constexpr uint32_t kActionFlagCallout = 0x00004000;

constexpr bool isCalloutAction(ActionType t) {
  return (static_cast<uint32_t>(t) & kActionFlagCallout) != 0;
}

enum class DataType : uint32_t {
  Empty = 0,
  Uint8 = 1,
  Uint16 = 2,
  Uint32 = 3,
  Uint64 = 4,
  Int8 = 5,
  Int16 = 6,
  Int32 = 7,
  Int64 = 8,
  Float = 9,
  Double = 10,
  ByteArray16 = 11,
  ByteBlob = 12,
  Sid = 13,
  SecurityDescriptor = 14,
  TokenInformation = 15,
  TokenAccessInformation = 16,
  UnicodeString = 17,
  ByteArray6 = 18,
  V4AddrMask = 0x100,
  V6AddrMask = 0x101,
  Range = 0x102,
};

enum class MatchType : uint32_t {
  Equal = 0,
  Greater = 1,
  Less = 2,
  GreaterOrEqual = 3,
  LessOrEqual = 4,
  Range = 5,
  FlagsAllSet = 6,
  FlagsAnySet = 7,
  FlagsNoneSet = 8,
  EqualCaseInsensitive = 9,
  NotEqual = 10,
  Prefix = 11,     // tests a SUFFIX (wfp-model.md §2.2)
  NotPrefix = 12,  // "does not end with"
};
constexpr uint32_t kMatchTypeMax = 13;

// FWPM_FILTER0.flags
namespace filter_flag {
constexpr uint32_t kPersistent = 0x0001;
constexpr uint32_t kBoottime = 0x0002;
constexpr uint32_t kHasProviderContext = 0x0004;
constexpr uint32_t kClearActionRight = 0x0008;
constexpr uint32_t kPermitIfCalloutUnregistered = 0x0010;
constexpr uint32_t kDisabled = 0x0020;
constexpr uint32_t kIndexed = 0x0040;
constexpr uint32_t kHasSecurityRealmProviderContext = 0x0080;
constexpr uint32_t kSystemOsOnly = 0x0100;
constexpr uint32_t kGameOsOnly = 0x0200;
constexpr uint32_t kSilentMode = 0x0400;
constexpr uint32_t kIpsecNoAcquireInitiate = 0x0800;
constexpr uint32_t kReserved0 = 0x1000;
constexpr uint32_t kReserved1 = 0x2000;
}  // namespace filter_flag

// FWPS_FILTER*.flags (run time)
namespace fwps_filter_flag {
constexpr uint16_t kClearActionRight = 0x0001;
constexpr uint16_t kPermitIfCalloutUnregistered = 0x0002;
constexpr uint16_t kOrConditions = 0x0004;
}  // namespace fwps_filter_flag

constexpr uint32_t kSublayerFlagPersistent = 0x1;
constexpr uint32_t kProviderFlagPersistent = 0x1;
constexpr uint32_t kProviderFlagDisabled = 0x10;
constexpr uint32_t kProviderContextFlagPersistent = 0x1;
constexpr uint32_t kCalloutFlagPersistent = 0x00010000;
constexpr uint32_t kCalloutFlagUsesProviderContext = 0x00020000;
constexpr uint32_t kCalloutFlagRegistered = 0x00040000;

// FWP_CALLOUT_FLAG_* (run-time registration)
constexpr uint32_t kCalloutConditionalOnFlow = 0x00000001;

// FWPS_CLASSIFY_OUT0
constexpr uint32_t kRightActionWrite = 0x00000001;
constexpr uint32_t kClassifyOutFlagAbsorb = 0x00000001;

// FWP_CONDITION_FLAG_* (values of the FLAGS condition field)
namespace condition_flag {
constexpr uint32_t kIsLoopback = 0x00000001;
constexpr uint32_t kIsReauthorize = 0x00000004;
constexpr uint32_t kIsFragment = 0x00000020;
constexpr uint32_t kIsReassembled = 0x00000400;
}  // namespace condition_flag

// Access right tested by security-descriptor conditions (FWP_ACTRL_MATCH_FILTER).
constexpr uint32_t kActrlMatchFilter = 0x00000001;

// FWPM_PROVIDER_CONTEXT_TYPE: the only one xfp accepts (wfp-model.md §1.4).
constexpr uint32_t kGeneralContext = 8;

// Weights (wfp-model.md §3.2).
constexpr int kAutoWeightBits = 60;
constexpr uint64_t kAutoWeightMax = 0x0FFFFFFFFFFFFFFFULL;
constexpr uint8_t kWeightRangeMax = 15;

// FWP_E_* (HRESULTs as the user-mode API returns them) and two related codes.
namespace status {
constexpr uint32_t kSuccess = 0;
constexpr uint32_t kCalloutNotFound = 0x80320001;
constexpr uint32_t kConditionNotFound = 0x80320002;
constexpr uint32_t kFilterNotFound = 0x80320003;
constexpr uint32_t kLayerNotFound = 0x80320004;
constexpr uint32_t kProviderNotFound = 0x80320005;
constexpr uint32_t kProviderContextNotFound = 0x80320006;
constexpr uint32_t kSublayerNotFound = 0x80320007;
constexpr uint32_t kNotFound = 0x80320008;
constexpr uint32_t kAlreadyExists = 0x80320009;
constexpr uint32_t kInUse = 0x8032000A;
constexpr uint32_t kDynamicSessionInProgress = 0x8032000B;
constexpr uint32_t kWrongSession = 0x8032000C;
constexpr uint32_t kNoTxnInProgress = 0x8032000D;
constexpr uint32_t kTxnInProgress = 0x8032000E;
constexpr uint32_t kTxnAborted = 0x8032000F;
constexpr uint32_t kIncompatibleTxn = 0x80320011;
constexpr uint32_t kTimeout = 0x80320012;
constexpr uint32_t kIncompatibleLayer = 0x80320014;
constexpr uint32_t kLifetimeMismatch = 0x80320016;
constexpr uint32_t kBuiltinObject = 0x80320017;
constexpr uint32_t kNullPointer = 0x8032001C;
constexpr uint32_t kInvalidEnumerator = 0x8032001D;
constexpr uint32_t kInvalidFlags = 0x8032001E;
constexpr uint32_t kInvalidNetMask = 0x8032001F;
constexpr uint32_t kInvalidRange = 0x80320020;
constexpr uint32_t kNullDisplayName = 0x80320023;
constexpr uint32_t kInvalidActionType = 0x80320024;
constexpr uint32_t kInvalidWeight = 0x80320025;
constexpr uint32_t kMatchTypeMismatch = 0x80320026;
constexpr uint32_t kTypeMismatch = 0x80320027;
constexpr uint32_t kOutOfBounds = 0x80320028;
constexpr uint32_t kReserved = 0x80320029;
constexpr uint32_t kInvalidParameter = 0x80320035;
constexpr uint32_t kCalloutNotificationFailed = 0x80320037;
constexpr uint32_t kInvalidSecurityDescriptor = 0x8007053A;  // ERROR_INVALID_SECURITY_DESCR
}  // namespace status

// "FWP_E_TYPE_MISMATCH" for a known code, else "0x........".
std::string_view statusName(uint32_t status);

// Symbolic names <-> values. Names are accepted with or without the WFP prefix
// ("BLOCK" or "FWP_ACTION_BLOCK"), case-insensitively.
std::string_view actionTypeName(ActionType t);  // "FWP_ACTION_BLOCK"
std::optional<ActionType> parseActionType(std::string_view name);
std::string_view dataTypeName(DataType t);  // "FWP_UINT16"
std::optional<DataType> parseDataType(std::string_view name);
std::string_view matchTypeName(MatchType t);  // "FWP_MATCH_EQUAL"
std::optional<MatchType> parseMatchType(std::string_view name);
std::optional<uint32_t> parseFilterFlag(std::string_view name);  // "CLEAR_ACTION_RIGHT"
std::string filterFlagsToString(uint32_t flags);                 // "CLEAR_ACTION_RIGHT|..."

}  // namespace xfp
