// Objects written in the policy file format (docs/policy-format.md) turned into the control
// API's add requests: `xfpctl apply FILE`, `xfpctl add ... --json OBJECT` and the flags of
// `xfpctl add filter` (which build such an object) all go through here, so they read names,
// values and flags exactly as a policy file does (userspace/core/policy_file + value_text).
//
// The objects may refer to what the service already has: providers, sublayers and callouts by
// name or key, provider contexts by key. They are parsed together with stand-ins for those live
// objects (same key, name, weight, layer and PERSISTENT flag), so the local validation resolves
// and checks the references the way the engine will; only the document's own objects are sent.
// Objects without a key get one here, so each can be named in messages and found again.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/xfpctl/live_objects.h"
#include "tools/xfpctl/outcome.h"
#include "tools/xfpctl/service_client.h"
#include "userspace/rpc/xfp.pb.h"

namespace xfp::ctl {

enum class ObjectKind { Provider, ProviderContext, Sublayer, Callout, Filter };

struct PolicyObject {
  ObjectKind kind = ObjectKind::Filter;
  std::string where;  // `filters[2] "Block web"`, as the policy file's messages name it
  Guid key;
  v1::SessionRequest add;  // add_provider, add_sublayer, ...
};

// The document's objects in the order the engine needs them (providers, provider contexts,
// sublayers, callouts, filters), each kind in document order. A document the policy file reader
// refuses is a failure with `exitCode` and the reader's message (file, object, member, FWP_E_*).
Outcome<std::vector<PolicyObject>> readPolicyObjects(nlohmann::json doc,
                                                     const std::string& origin,
                                                     const LiveObjects& live,
                                                     ServiceClient& client,
                                                     int exitCode);

// "provider", "sublayer", ... for messages.
const char* kindName(ObjectKind kind);

}  // namespace xfp::ctl
