#include "tools/xfpctl/offline_commands.h"

#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "compiler/compiler.h"
#include "compiler/fast_path_fields.h"
#include "tools/xfpctl/explain_report.h"
#include "userspace/core/policy_file.h"

namespace xfp::ctl {

Outcome<void> runCheck(const std::string& policyPath, bool asJson) {
  auto policy = xfp::loadPolicyFile(policyPath);
  if (!policy) {
    return failWith(kExitPolicy, policy.error().message);
  }
  nlohmann::json layers = nlohmann::json::array();
  std::string text = fmt::format(
      "{}: OK: {} providers, {} sublayers ({} built in), {} callouts, "
      "{} filters\n",
      policyPath,
      policy->providers().size(),
      policy->sublayers().size(),
      xfp::builtinSublayers().size(),
      policy->callouts().size(),
      policy->filters().size());
  for (const xfp::LayerInfo& layer : xfp::allLayers()) {
    const auto& order = policy->arbitrationOrder(layer.id);
    if (order.empty() || !layer.hasSchema()) {
      continue;
    }
    nlohmann::json filters = nlohmann::json::array();
    text += fmt::format("{} ({} filters, arbitration order)\n", layer.fullName(), order.size());
    for (const auto& e : order) {
      const xfp::Filter& f = *e.filter;
      const std::string name = f.displayData.name.value_or("");
      text += fmt::format("  sublayer 0x{:04x}  weight {}  id {:<5} {:<32} \"{}\"\n",
                          e.sublayer->weight,
                          formatWeight(f.effectiveWeight),
                          f.filterId,
                          xfp::actionTypeName(f.action.type),
                          name);
      filters.push_back({{"id", f.filterId},
                         {"key", f.key.toString()},
                         {"name", name},
                         {"sublayer_weight", e.sublayer->weight},
                         {"weight", formatWeight(f.effectiveWeight)},
                         {"action", xfp::actionTypeName(f.action.type)}});
    }
    layers.push_back({{"layer", layer.fullName()}, {"filters", std::move(filters)}});
  }
  // What the fast path would hold for this policy.
  auto compiled = xfp::compiler::compile(*policy);
  if (!compiled) {
    return failWith(
        kExitPolicy,
        fmt::format(
            "{}: the fast path cannot hold this policy: {}", policyPath, compiled.error().message));
  }
  nlohmann::json fast = nlohmann::json::array();
  text += "fast path (compiled)\n";
  for (int ls = 0; ls < XFP_LS_COUNT; ++ls) {
    const xfp::compiler::LayerStats& st = compiled->stats[ls];
    if (st.filters == 0) {
      continue;
    }
    const std::string name = xfp::layerById(xfp::fastpath::layerIdOf(ls))->fullName();
    text += fmt::format(
        "  {:<42} {} filters, {} boxes, {} tree(s), {} nodes, depth {}, "
        "longest leaf {}\n",
        name,
        st.filters,
        st.boxes,
        st.trees,
        st.nodes,
        st.maxDepth,
        st.maxLeafCandidates);
    fast.push_back({{"layer", name},
                    {"filters", st.filters},
                    {"boxes", st.boxes},
                    {"trees", st.trees},
                    {"nodes", st.nodes},
                    {"depth", st.maxDepth},
                    {"longest_leaf", st.maxLeafCandidates}});
  }
  if (asJson) {
    std::cout << nlohmann::json{{"ok", true},
                                {"layers", std::move(layers)},
                                {"fast_path", std::move(fast)}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << text;
  }
  return {};
}

Outcome<void> runLayers(const std::string& layerName, bool asJson) {
  nlohmann::json out = nlohmann::json::array();
  if (layerName.empty()) {
    for (const xfp::LayerInfo& l : xfp::allLayers()) {
      if (!l.hasSchema()) {
        continue;
      }
      if (asJson) {
        out.push_back({{"name", l.fullName()},
                       {"id", l.id},
                       {"key", l.key.toString()},
                       {"fields", l.fields.size()}});
      } else {
        fmt::print("{:<44} id {:>3}  {}  {} fields\n",
                   l.fullName(),
                   l.id,
                   l.key.toString(),
                   l.fields.size());
      }
    }
  } else {
    const xfp::LayerInfo* l = xfp::layerByName(layerName);
    if (l == nullptr || !l->hasSchema()) {
      return failWith(kExitUsage, fmt::format("unknown layer \"{}\"", layerName));
    }
    for (const xfp::FieldInfo& f : l->fields) {
      if (asJson) {
        out.push_back({{"index", f.index},
                       {"fwps", f.name},
                       {"condition", f.condition},
                       {"key", f.conditionKey.toString()},
                       {"type", xfp::dataTypeName(f.type)}});
      } else {
        fmt::print("{:>3}  {:<36} {:<40} {}\n",
                   f.index,
                   f.name,
                   f.condition.empty() ? "(internal)" : f.condition,
                   xfp::dataTypeName(f.type));
      }
    }
  }
  if (asJson) {
    std::cout << out.dump(2) << "\n";
  }
  return {};
}

}  // namespace xfp::ctl
