#include "tools/xfpctl/explain_report.h"

#include <fmt/format.h>

namespace xfp::ctl {
namespace {

std::string sublayerLabel(const Policy& policy, const Guid& key) {
  const Sublayer* s = policy.sublayer(key);
  const std::string name = s != nullptr && s->displayData.name ? *s->displayData.name : "?";
  return fmt::format("\"{}\" {}", name, key.toString());
}

std::string filterName(const Filter* f) {
  return f != nullptr && f->displayData.name ? *f->displayData.name : "?";
}

std::string packetText(const LayerInfo& layer, const IncomingValues& in) {
  std::string out;
  for (const FieldInfo& field : layer.fields) {
    const Value& v = in.values[field.index];
    if (!v.isEmpty()) {
      out += fmt::format("{}{}={}",
                         out.empty() ? "" : " ",
                         field.condition,
                         v.toString(field.isAddress && field.type == DataType::Uint32));
    }
  }
  return out.empty() ? "(all fields empty)" : out;
}

std::string verdictWord(const ClassifyResult& r) {
  switch (r.action) {
    case ActionType::Block:
      return (r.flags & kClassifyOutFlagAbsorb) != 0 ? "BLOCK (absorbed: silent drop)"
                                                     : "BLOCK (data path: drop)";
    case ActionType::Permit:
      return "PERMIT (data path: pass)";
    case ActionType::None:
      return "NONE: filters matched, none decided (data path: pass)";
    default:
      return "NONE_NO_MATCH: no filter matched (data path: pass)";
  }
}

std::string shortAction(ActionType t) {
  std::string_view n = actionTypeName(t);
  return std::string(n.substr(std::string_view("FWP_ACTION_").size()));
}

}  // namespace

std::string formatWeight(uint64_t weight) {
  return fmt::format("0x{:016x}", weight);
}

std::string explainText(const Policy& policy,
                        const LayerInfo& layer,
                        const IncomingValues& in,
                        const ClassifyResult& r) {
  std::string out;
  out += fmt::format("layer    {} (FWPS layer {})\n", layer.fullName(), layer.id);
  out += fmt::format("packet   {}\n", packetText(layer, in));
  out += fmt::format("verdict  {}\n", verdictWord(r));
  if (const Filter* f = policy.filterById(r.filterId)) {
    out += fmt::format("decided  filter {} \"{}\" {} weight {}\n",
                       f->filterId,
                       filterName(f),
                       f->key.toString(),
                       formatWeight(f->effectiveWeight));
    out += fmt::format("rights   {}{}\n",
                       (r.rights & kRightActionWrite) != 0 ? "soft (lower sublayers could override)"
                                                           : "hard (write right cleared)",
                       r.vetoed ? "; VETOED by a callout" : "");
  }
  out += "trace\n";
  if (r.trace.empty()) {
    out += "  (no filters at this layer)\n";
  }
  for (const SublayerTrace& t : r.trace) {
    out += fmt::format(
        "  sublayer {} weight 0x{:04x}", sublayerLabel(policy, t.sublayerKey), t.weight);
    if (t.notMatched != 0) {
      out +=
          fmt::format(" ({} filter{} did not match)", t.notMatched, t.notMatched == 1 ? "" : "s");
    }
    out += "\n";
    if (t.steps.empty()) {
      out += "    no matching filter\n";
    }
    for (const FilterStep& s : t.steps) {
      const Filter* f = policy.filterById(s.filterId);
      out += fmt::format("    filter {} \"{}\" weight {} {} -> {}: {}{}\n",
                         s.filterId,
                         filterName(f),
                         formatWeight(f != nullptr ? f->effectiveWeight : 0),
                         f != nullptr ? shortAction(f->action.type) : "?",
                         shortAction(s.result),
                         filterOutcomeName(s.outcome),
                         s.note.empty() ? "" : " (" + s.note + ")");
    }
  }
  return out;
}

nlohmann::json explainJson(const Policy& policy,
                           const LayerInfo& layer,
                           const IncomingValues& in,
                           const ClassifyResult& r) {
  using nlohmann::json;
  auto filterJson = [&](uint64_t id) -> json {
    const Filter* f = policy.filterById(id);
    if (f == nullptr) {
      return nullptr;
    }
    return json{{"id", f->filterId},
                {"key", f->key.toString()},
                {"name", filterName(f)},
                {"weight", formatWeight(f->effectiveWeight)},
                {"action", actionTypeName(f->action.type)}};
  };
  json trace = json::array();
  for (const SublayerTrace& t : r.trace) {
    const Sublayer* s = policy.sublayer(t.sublayerKey);
    json steps = json::array();
    for (const FilterStep& st : t.steps) {
      json step = filterJson(st.filterId);
      step["result"] = actionTypeName(st.result);
      step["outcome"] = filterOutcomeName(st.outcome);
      step["callout_invoked"] = st.calloutInvoked;
      step["rights_after"] = st.rightsAfter;
      if (!st.note.empty()) {
        step["note"] = st.note;
      }
      steps.push_back(std::move(step));
    }
    trace.push_back(
        json{{"sublayer",
              {{"key", t.sublayerKey.toString()},
               {"name", s != nullptr && s->displayData.name ? *s->displayData.name : ""},
               {"weight", t.weight}}},
             {"not_matched", t.notMatched},
             {"steps", std::move(steps)}});
  }
  json values = json::object();
  for (const FieldInfo& field : layer.fields) {
    const Value& v = in.values[field.index];
    if (!v.isEmpty()) {
      values[std::string(field.condition)] =
          v.toString(field.isAddress && field.type == DataType::Uint32);
    }
  }
  return json{
      {"layer", {{"name", layer.fullName()}, {"id", layer.id}, {"key", layer.key.toString()}}},
      {"packet", std::move(values)},
      {"action", actionTypeName(r.action)},
      {"verdict", r.permits() ? "permit" : "block"},
      {"filter", filterJson(r.filterId)},
      {"rights", r.rights},
      {"hard", (r.rights & kRightActionWrite) == 0},
      {"absorb", (r.flags & kClassifyOutFlagAbsorb) != 0},
      {"vetoed", r.vetoed},
      {"trace", std::move(trace)}};
}

}  // namespace xfp::ctl
