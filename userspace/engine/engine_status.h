// Status codes the engine returns that userspace/core does not define yet (values from
// shared/spec/wfp-constants.md §6). TODO(core): move them next to xfp::status.
#pragma once

#include <cstdint>

namespace xfp::engine::engine_status {

// HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE): an unknown or closed session, enumeration or
// change handle (WFP has no FWP_E_* code for a bad handle; Fwpm* return ERROR_INVALID_HANDLE).
constexpr uint32_t kInvalidHandle = 0x80070006;
// HRESULT_FROM_WIN32(ERROR_WRITE_FAULT): the persistent store could not be written at commit.
constexpr uint32_t kStoreWriteFailed = 0x8007001D;
constexpr uint32_t kSessionAborted = 0x80320010;
constexpr uint32_t kNotificationDropped = 0x80320019;
constexpr uint32_t kDuplicateCondition = 0x8032002A;
constexpr uint32_t kNeverMatch = 0x80320033;

}  // namespace xfp::engine::engine_status
