// Engine sessions (wfp-model.md §7.1, FWPM_SESSION0): what a client passes to open one and what
// the engine keeps about it. A session is a client's handle on the engine; the daemon maps one
// management connection to one session.
#pragma once

#include <cstdint>
#include <string>

#include "userspace/core/guid.h"
#include "userspace/core/objects.h"

namespace xfp::engine {

using SessionId = uint64_t;  // the engine handle; never 0, never reused

// FWPM_SESSION0.flags
constexpr uint32_t kSessionFlagDynamic = 0x00000001;   // FWPM_SESSION_FLAG_DYNAMIC
constexpr uint32_t kSessionFlagReserved = 0x10000000;  // FWPM_SESSION_FLAG_RESERVED
constexpr uint32_t kSessionFlagsValid = kSessionFlagDynamic | kSessionFlagReserved;

// FWPM_SESSION0.txnWaitTimeoutInMSec: 0 is the engine default (15 s), INFINITE waits forever.
constexpr uint32_t kTxnWaitDefault = 0;
constexpr uint32_t kTxnWaitInfinite = 0xFFFFFFFF;

// FWPM_SESSION0 as a client fills it.
struct SessionOptions {
  Guid sessionKey;  // zero: generated; the key of an open session: FWP_E_ALREADY_EXISTS
  DisplayData displayData;
  uint32_t flags = 0;  // kSessionFlag*
  uint32_t txnWaitTimeoutInMSec = kTxnWaitDefault;
  // Engine-filled in WFP; here set by the daemon from SO_PEERCRED (informational).
  uint32_t processId = 0;
  uint32_t uid = 0;
  std::string username;
};

// A session as the engine reports it.
struct SessionInfo {
  SessionId id = 0;
  SessionOptions options;  // with the generated sessionKey
  bool dynamic = false;
  bool inTransaction = false;
  bool readOnlyTransaction = false;
};

}  // namespace xfp::engine
