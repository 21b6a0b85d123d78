#include "tools/xfpctl/explain_command.h"

#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/xfpctl/explain_report.h"
#include "tools/xfpctl/scripted_callouts.h"
#include "tools/xfpctl/service_client.h"
#include "userspace/core/policy_file.h"
#include "userspace/core/value_text.h"

namespace xfp::ctl {
namespace {

struct CalloutSpec {
  std::string name;
  ScriptedAnswer answer;
};

// NAME=ANSWER, split at the last '=' (callout names may contain '=').
Outcome<CalloutSpec> parseCalloutSpec(const std::string& spec) {
  const size_t eq = spec.rfind('=');
  if (eq == std::string::npos) {
    return failWith(kExitUsage, fmt::format("--callout \"{}\": expected NAME=ANSWER", spec));
  }
  auto answer = parseScriptedAnswer(spec.substr(eq + 1));
  if (!answer) {
    return failWith(kExitUsage, "--callout: " + answer.error().message);
  }
  return CalloutSpec{spec.substr(0, eq), *answer};
}

Outcome<const LayerInfo*> layerArgument(const std::string& name) {
  const LayerInfo* layer = layerByName(name);
  if (layer == nullptr || !layer->hasSchema()) {
    return failWith(kExitUsage,
                    fmt::format("unknown layer \"{}\" (xfpctl layers lists them)", name));
  }
  return layer;
}

Outcome<void> explainOffline(const ExplainOptions& o) {
  auto policy = loadPolicyFile(o.policyPath);
  if (!policy) {
    return failWith(kExitPolicy, policy.error().message);
  }
  auto l = layerArgument(o.layer);
  if (!l) {
    return tl::unexpected(l.error());
  }
  const LayerInfo& layer = **l;
  auto in = parseIncomingValues(layer, o.packet);
  if (!in) {
    return failWith(kExitValue, "--packet: " + in.error().message);
  }
  ScriptedCallouts callouts;
  for (const std::string& text : o.callouts) {
    auto spec = parseCalloutSpec(text);
    if (!spec) {
      return tl::unexpected(spec.error());
    }
    const Callout* found = nullptr;
    for (const auto& [key, c] : policy->callouts()) {
      if ((c.displayData.name && *c.displayData.name == spec->name) ||
          key.toString() == spec->name ||
          (Guid::parse(spec->name) && *Guid::parse(spec->name) == key)) {
        found = &c;
      }
    }
    if (found == nullptr) {
      return failWith(kExitUsage,
                      fmt::format("--callout: no callout \"{}\" in {}", spec->name, o.policyPath));
    }
    callouts.registerCallout(found->calloutId, spec->answer);
  }
  auto result = classify(*policy, *in, IncomingMetadata{}, callouts);
  if (!result) {
    return failWith(kExitValue, result.error().message);
  }
  if (o.json) {
    std::cout << explainJson(*policy, layer, *in, *result).dump(2) << "\n";
  } else {
    std::cout << explainText(*policy, layer, *in, *result);
  }
  return {};
}

Outcome<void> explainOnline(const ExplainOptions& o) {
  auto l = layerArgument(o.layer);
  if (!l) {
    return tl::unexpected(l.error());
  }
  const LayerInfo& layer = **l;
  // What the command line got wrong is found here, with the offline exit statuses, before the
  // service is asked; the service checks it again.
  if (auto in = parseIncomingValues(layer, o.packet); !in) {
    return failWith(kExitValue, "--packet: " + in.error().message);
  }
  for (const std::string& text : o.callouts) {
    if (auto spec = parseCalloutSpec(text); !spec) {
      return tl::unexpected(spec.error());
    }
  }
  auto client = ServiceClient::open(o.socket, "xfpctl explain");
  if (!client) {
    return tl::unexpected(client.error());
  }
  v1::SessionRequest q;
  v1::ExplainRequest* x = q.mutable_explain();
  x->set_layer(std::string(layer.name));
  x->set_packet(o.packet);
  for (const std::string& c : o.callouts) {
    x->add_callouts(c);
  }
  auto r = (*client)->call(q);
  if (!r) {
    return tl::unexpected(r.error());
  }
  if (o.json) {
    // The service sends compact JSON; printed like the offline report.
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(r->explain().json());
    } catch (const nlohmann::json::parse_error& e) {
      return failWith(kExitUnreachable,
                      fmt::format("xfpd sent an explain report that is not JSON: {}", e.what()));
    }
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << r->explain().text();
  }
  return (*client)->close();
}

}  // namespace

Outcome<void> runExplain(const ExplainOptions& o) {
  return o.policyPath.empty() ? explainOnline(o) : explainOffline(o);
}

}  // namespace xfp::ctl
