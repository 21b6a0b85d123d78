// Net events between the wire (xfp.proto's NetEvent, NetEventEnumTemplate) and WFP's C form
// (FWPM_NET_EVENT1, FWPM_NET_EVENT_ENUM_TEMPLATE0). Net events have no core object: the service
// sends what its event reader recorded, and this is the one translation of it.
#pragma once

#include <fwpmtypes.h>

#include <cstdint>

#include "userspace/core/result.h"
#include "userspace/rpc/xfp.pb.h"

namespace xfp::client {

// FILETIME (100 ns since 1601-01-01 UTC) <-> ns since the Unix epoch. Times before the epoch
// become 0; times past the uint64 range of ns saturate.
uint64_t unixNsFromFileTime(const FILETIME& ft);
FILETIME fileTimeFromUnixNs(uint64_t ns);

// NULL: every event. An all-zero endTime is open-ended; an endTime before a startTime ->
// FWP_E_INVALID_INTERVAL; conditions are converted as filter conditions are (fwpm_convert.h),
// the service checks which fields and match types it supports.
Result<v1::NetEventEnumTemplate> netEventTemplateFromC(const FWPM_NET_EVENT_ENUM_TEMPLATE0* t);

// One event, or an array of them, as one malloc'ed block (nullptr: out of memory, or none).
// The header says which members are set (FWPM_NET_EVENT_FLAG_*); CLASSIFY_DROP events carry
// FWPM_NET_EVENT_CLASSIFY_DROP1, CLASSIFY_ALLOW events FWPM_NET_EVENT_CLASSIFY_ALLOW0 (xfp's
// addition to the union); other types an empty union.
FWPM_NET_EVENT1* netEventToC(const v1::NetEvent& e);
FWPM_NET_EVENT1** netEventsToC(const google::protobuf::RepeatedPtrField<v1::NetEvent>& events);

}  // namespace xfp::client
