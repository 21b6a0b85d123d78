// xfpctl: the command-line client of xfp. Offline commands (no service needed):
//   xfpctl explain --policy FILE --layer LAYER --packet "FIELD=VALUE ..." [--json]
//   xfpctl check   --policy FILE [--json]     validate a policy file, list filters in order
//   xfpctl layers  [LAYER]                    built-in layers and their fields
// Exit status: 0 done, 2 bad command line, 3 policy file error, 4 bad packet/field value.
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "compiler/compiler.h"
#include "compiler/fast_path_fields.h"
#include "tools/xfpctl/explain_report.h"
#include "tools/xfpctl/scripted_callouts.h"
#include "userspace/core/policy_file.h"
#include "userspace/core/value_text.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitPolicy = 3;
constexpr int kExitPacket = 4;

int errorExit(int code, const std::string& message) {
  std::cerr << "xfpctl: " << message << "\n";
  return code;
}

std::string errorText(const xfp::Error& e) {
  return e.message;
}

int runExplain(const std::string& policyPath,
               const std::string& layerName,
               const std::string& packet,
               const std::vector<std::string>& calloutSpecs,
               bool asJson) {
  auto policy = xfp::loadPolicyFile(policyPath);
  if (!policy) {
    return errorExit(kExitPolicy, errorText(policy.error()));
  }
  const xfp::LayerInfo* layer = xfp::layerByName(layerName);
  if (layer == nullptr || !layer->hasSchema()) {
    return errorExit(kExitUsage,
                     fmt::format("unknown layer \"{}\" (xfpctl layers lists them)", layerName));
  }
  auto in = xfp::parseIncomingValues(*layer, packet);
  if (!in) {
    return errorExit(kExitPacket, "--packet: " + in.error().message);
  }
  xfp::ctl::ScriptedCallouts callouts;
  for (const std::string& spec : calloutSpecs) {
    const size_t eq = spec.rfind('=');
    if (eq == std::string::npos) {
      return errorExit(kExitUsage, fmt::format("--callout \"{}\": expected NAME=ANSWER", spec));
    }
    const std::string name = spec.substr(0, eq);
    const xfp::Callout* found = nullptr;
    for (const auto& [key, c] : policy->callouts()) {
      if ((c.displayData.name && *c.displayData.name == name) || key.toString() == name ||
          (xfp::Guid::parse(name) && *xfp::Guid::parse(name) == key)) {
        found = &c;
      }
    }
    if (found == nullptr) {
      return errorExit(kExitUsage,
                       fmt::format("--callout: no callout \"{}\" in {}", name, policyPath));
    }
    auto answer = xfp::ctl::parseScriptedAnswer(spec.substr(eq + 1));
    if (!answer) {
      return errorExit(kExitUsage, "--callout: " + answer.error().message);
    }
    callouts.registerCallout(found->calloutId, *answer);
  }
  auto result = xfp::classify(*policy, *in, xfp::IncomingMetadata{}, callouts);
  if (!result) {
    return errorExit(kExitPacket, result.error().message);
  }
  if (asJson) {
    std::cout << xfp::ctl::explainJson(*policy, *layer, *in, *result).dump(2) << "\n";
  } else {
    std::cout << xfp::ctl::explainText(*policy, *layer, *in, *result);
  }
  return 0;
}

int runCheck(const std::string& policyPath, bool asJson) {
  auto policy = xfp::loadPolicyFile(policyPath);
  if (!policy) {
    return errorExit(kExitPolicy, errorText(policy.error()));
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
                          xfp::ctl::formatWeight(f.effectiveWeight),
                          f.filterId,
                          xfp::actionTypeName(f.action.type),
                          name);
      filters.push_back({{"id", f.filterId},
                         {"key", f.key.toString()},
                         {"name", name},
                         {"sublayer_weight", e.sublayer->weight},
                         {"weight", xfp::ctl::formatWeight(f.effectiveWeight)},
                         {"action", xfp::actionTypeName(f.action.type)}});
    }
    layers.push_back({{"layer", layer.fullName()}, {"filters", std::move(filters)}});
  }
  // What the fast path would hold for this policy.
  auto compiled = xfp::compiler::compile(*policy);
  if (!compiled) {
    return errorExit(
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
  return 0;
}

int runLayers(const std::string& layerName, bool asJson) {
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
      return errorExit(kExitUsage, fmt::format("unknown layer \"{}\"", layerName));
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
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xfpctl: manage and query xfp, the Windows Filtering Platform model on eBPF"};
  app.require_subcommand(1);
  bool asJson = false;

  std::string policyPath;
  std::string layerName;
  std::string packet;
  std::vector<std::string> calloutSpecs;
  auto* explain = app.add_subcommand("explain", "decide one packet against a policy and show why");
  explain->add_option("--policy", policyPath, "policy file (JSON)")->required();
  explain->add_option("--layer", layerName, "layer, e.g. INBOUND_TRANSPORT_V4")->required();
  explain->add_option("--packet", packet, "incoming values: \"FIELD=VALUE ...\"");
  explain->add_option("--callout",
                      calloutSpecs,
                      "register a callout that answers: NAME=permit|block|continue[!][+absorb]");
  explain->add_flag("--json", asJson, "print JSON");

  auto* check = app.add_subcommand("check", "validate a policy file and list its filters");
  check->add_option("--policy", policyPath, "policy file (JSON)")->required();
  check->add_flag("--json", asJson, "print JSON");

  std::string layersArg;
  auto* layers = app.add_subcommand("layers", "list layers, or one layer's fields");
  layers->add_option("layer", layersArg, "a layer name");
  layers->add_flag("--json", asJson, "print JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  if (explain->parsed()) {
    return runExplain(policyPath, layerName, packet, calloutSpecs, asJson);
  }
  if (check->parsed()) {
    return runCheck(policyPath, asJson);
  }
  return runLayers(layersArg, asJson);
}
