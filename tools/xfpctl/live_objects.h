// The service's objects as core objects (decoded with userspace/rpc's codecs), for the commands
// that show them, name them, or resolve what the user typed ("Example admin rules" or a GUID)
// to a key.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tools/xfpctl/object_text.h"
#include "tools/xfpctl/outcome.h"
#include "tools/xfpctl/service_client.h"
#include "userspace/core/objects.h"

namespace xfp::ctl {

struct LiveObjects {
  std::vector<Provider> providers;
  std::vector<Sublayer> sublayers;  // built-in ones included
  std::vector<Callout> callouts;
  ObjectNames names;
};

// Providers, sublayers and callouts of the service (what the session sees).
Outcome<LiveObjects> fetchLiveObjects(ServiceClient& client);

// The service's filters, every one or those of `layer` (an enumeration template), by filterId.
Outcome<std::vector<Filter>> fetchFilters(ServiceClient& client, const LayerInfo* layer);

// `text` as a key: a GUID, or the name of exactly one object in `names` (kind: "sublayer", ...,
// for the messages). Unknown or ambiguous names are kExitUsage failures that say where to look.
Outcome<Guid> resolveKey(const std::string& text,
                         const std::map<Guid, std::string>& names,
                         const std::string& kind);

}  // namespace xfp::ctl
