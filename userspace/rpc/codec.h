// The codecs between xfp's core and engine objects and the control API's proto messages
// (userspace/rpc/xfp.proto, package xfp.v1).
//
// toProto never fails: everything the core types hold has a wire form. fromProto treats the
// message as untrusted client input: it never asserts or throws, and refuses what the core types
// cannot hold -- a GUID that is not 16 bytes, an unknown FWP_DATA_TYPE, a value whose data sits
// in another member than its type says, a byte array of the wrong length, an IPv6 prefix over
// 128, an out-of-range enumerator, invalid UTF-8, sizes over the limits below -- with the FWP_E_*
// status WFP gives for that kind of fault and a message that names the field, e.g.
// "filter.conditions[2].value: FWP_BYTE_ARRAY16_TYPE needs 16 bytes, got 3". What WFP's own
// validation decides (layers, field types, weights, flags, ranges) is left to Policy and the
// engine, so their codes reach the client unchanged.
//
// Wire conventions beyond xfp.proto's comments:
// * GUIDs are 16 bytes in wire order. A non-optional GUID field may also be empty (proto3's
//   unset bytes), meaning the zero GUID; an `optional bytes` GUID that is present must be 16
//   bytes.
// * FWP_UNICODE_STRING_TYPE goes in `s` as UTF-8. A string that is not well-formed UTF-16 (a
//   lone surrogate, which UTF-8 cannot carry) goes in `b` as its UTF-16LE code units instead, so
//   every string round-trips exactly; fromProto accepts either member, not both.
// * Text the core holds as UTF-8 (names, descriptions, service names, user names) is sent as
//   is when valid; invalid sequences are sent as U+FFFD (proto3 strings must be UTF-8).
// * An absent `origin` decodes as the core default (static, session 0), not as lifetime 0
//   (built-in): the engine sets origins itself, and a client omitting one claims nothing.
// * engine::SessionOptions' processId, uid and username are not sent (the daemon takes them
//   from the peer's credentials); SessionInfo carries them. SessionInfo.dynamic is the DYNAMIC
//   flag.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "userspace/core/guid.h"
#include "userspace/core/objects.h"
#include "userspace/core/result.h"
#include "userspace/core/value.h"
#include "userspace/engine/enum_template.h"
#include "userspace/engine/session.h"
#include "userspace/engine/subscriptions.h"
#include "userspace/rpc/xfp.pb.h"

namespace xfp::rpc {

// What a client may send, beyond which fromProto answers FWP_E_OUT_OF_BOUNDS. Far above any
// real policy; they bound what one request can make the service allocate and compile.
constexpr size_t kMaxFieldBytes = size_t{1} << 20;  // any bytes or string field
constexpr size_t kMaxConditions = 1024;             // per filter or enumeration template
constexpr size_t kMaxTokenGroups = 65536;           // NGROUPS_MAX

// GUIDs <-> the 16 bytes of a `bytes` field (for the requests that carry a bare key).
std::string guidToBytes(const Guid& guid);
Result<Guid> guidFromBytes(const std::string& bytes, std::string_view where = "key");

// Values.
v1::Token toProto(const Token& token);
v1::Value toProto(const Value& value);
v1::V4AddrMask toProto(const V4AddrMask& mask);
v1::V6AddrMask toProto(const V6AddrMask& mask);
v1::Range toProto(const RangeValue& range);
v1::ConditionValue toProto(const ConditionValue& value);

// Objects.
v1::Condition toProto(const Condition& condition);
v1::Action toProto(const Action& action);
v1::DisplayData toProto(const DisplayData& displayData);
v1::Origin toProto(const ObjectOrigin& origin);
v1::Provider toProto(const Provider& provider);
v1::ProviderContext toProto(const ProviderContext& context);
v1::Sublayer toProto(const Sublayer& sublayer);
v1::Callout toProto(const Callout& callout);
v1::Filter toProto(const Filter& filter);

// Engine types.
v1::ProviderContextTemplate toProto(const engine::ProviderContextTemplate& t);
v1::FilterEnumTemplate toProto(const engine::FilterEnumTemplate& t);
v1::SublayerEnumTemplate toProto(const engine::SublayerEnumTemplate& t);
v1::CalloutEnumTemplate toProto(const engine::CalloutEnumTemplate& t);
v1::FilterSubscription toProto(const engine::FilterSubscription& subscription);
v1::SessionOptions toProto(const engine::SessionOptions& options);
v1::SessionInfo toProto(const engine::SessionInfo& info);

// The inverses. `where` is the name the error messages start their field paths with (the
// daemon may pass the request member, e.g. "add_filter").
Result<Token> fromProto(const v1::Token& m, std::string_view where = "token");
Result<Value> fromProto(const v1::Value& m, std::string_view where = "value");
Result<V4AddrMask> fromProto(const v1::V4AddrMask& m, std::string_view where = "v4_mask");
Result<V6AddrMask> fromProto(const v1::V6AddrMask& m, std::string_view where = "v6_mask");
Result<RangeValue> fromProto(const v1::Range& m, std::string_view where = "range");
Result<ConditionValue> fromProto(const v1::ConditionValue& m,
                                 std::string_view where = "condition_value");

Result<Condition> fromProto(const v1::Condition& m, std::string_view where = "condition");
Result<Action> fromProto(const v1::Action& m, std::string_view where = "action");
Result<DisplayData> fromProto(const v1::DisplayData& m, std::string_view where = "display_data");
Result<ObjectOrigin> fromProto(const v1::Origin& m, std::string_view where = "origin");
Result<Provider> fromProto(const v1::Provider& m, std::string_view where = "provider");
Result<ProviderContext> fromProto(const v1::ProviderContext& m,
                                  std::string_view where = "provider_context");
Result<Sublayer> fromProto(const v1::Sublayer& m, std::string_view where = "sublayer");
Result<Callout> fromProto(const v1::Callout& m, std::string_view where = "callout");
Result<Filter> fromProto(const v1::Filter& m, std::string_view where = "filter");

Result<engine::ProviderContextTemplate> fromProto(
    const v1::ProviderContextTemplate& m, std::string_view where = "provider_context_template");
Result<engine::FilterEnumTemplate> fromProto(const v1::FilterEnumTemplate& m,
                                             std::string_view where = "filter_enum_template");
Result<engine::SublayerEnumTemplate> fromProto(const v1::SublayerEnumTemplate& m,
                                               std::string_view where = "sublayer_enum_template");
Result<engine::CalloutEnumTemplate> fromProto(const v1::CalloutEnumTemplate& m,
                                              std::string_view where = "callout_enum_template");
Result<engine::FilterSubscription> fromProto(const v1::FilterSubscription& m,
                                             std::string_view where = "filter_subscription");
Result<engine::SessionOptions> fromProto(const v1::SessionOptions& m,
                                         std::string_view where = "session_options");
Result<engine::SessionInfo> fromProto(const v1::SessionInfo& m,
                                      std::string_view where = "session_info");

}  // namespace xfp::rpc
