#include "userspace/core/classifier.h"

#include <fmt/format.h>

#include "userspace/core/match.h"

namespace xfp {
namespace {

// One filter's contribution before it is applied (r in §4.8).
struct Evaluation {
  enum Kind { Skip, Continue, Permit, Block } kind = Skip;
  uint32_t rights = 0;
  uint32_t flags = 0;
  bool invokedCallout = false;  // only an invoked callout's BLOCK can veto (Appendix B.1-B.2)
  std::string note;
};

ActionType toAction(Evaluation::Kind k) {
  switch (k) {
    case Evaluation::Permit:
      return ActionType::Permit;
    case Evaluation::Block:
      return ActionType::Block;
    default:
      return ActionType::Continue;
  }
}

// §4.2: the filter's action type decides what a callout's answer means.
Evaluation::Kind coerce(ActionType filterAction, ActionType answer) {
  switch (filterAction) {
    case ActionType::CalloutTerminating:
      return answer == ActionType::Permit ? Evaluation::Permit : Evaluation::Block;
    case ActionType::CalloutInspection:
      return Evaluation::Continue;
    default:  // CALLOUT_UNKNOWN
      if (answer == ActionType::Permit) {
        return Evaluation::Permit;
      }
      return answer == ActionType::Block ? Evaluation::Block : Evaluation::Continue;
  }
}

Evaluation evaluate(const ArbitrationEntry& e,
                    const ClassifyResult& v,
                    const LayerInfo& layer,
                    const IncomingValues& in,
                    const IncomingMetadata& meta,
                    const Policy& policy,
                    CalloutRegistry& callouts) {
  const Filter& f = *e.filter;
  const bool clearRight = (f.flags & filter_flag::kClearActionRight) != 0;
  const ActionType t = f.action.type;
  if (t == ActionType::Block) {
    return {Evaluation::Block, 0, 0, false, {}};
  }
  if (t == ActionType::Permit) {
    return {Evaluation::Permit, clearRight ? 0 : v.rights, 0, false, {}};
  }
  const Callout* mgmt = policy.callout(f.action.calloutKey);
  const uint32_t calloutId = mgmt != nullptr ? mgmt->calloutId : 0;
  if (calloutId == 0 || !callouts.isRegistered(calloutId)) {  // §4.5
    if (t == ActionType::CalloutInspection) {
      return {Evaluation::Skip, 0, 0, false, "inspection callout unregistered: ignored"};
    }
    if ((f.flags & filter_flag::kPermitIfCalloutUnregistered) != 0) {
      return {Evaluation::Permit,
              clearRight ? 0 : v.rights,
              0,
              false,
              "callout unregistered: acts as PERMIT (PERMIT_IF_CALLOUT_UNREGISTERED)"};
    }
    return {Evaluation::Block, 0, 0, false, "callout unregistered: acts as BLOCK"};
  }
  if ((callouts.registrationFlags(calloutId) & kCalloutConditionalOnFlow) != 0 &&
      !(meta.hasFlowHandle && callouts.hasFlowContext(calloutId, meta.flowHandle, layer.id))) {
    return {Evaluation::Skip, 0, 0, false, "CONDITIONAL_ON_FLOW without a flow context: skipped"};
  }
  ClassifyOut co;
  co.actionType = (v.action == ActionType::Permit || v.action == ActionType::Block)
                      ? v.action
                      : ActionType::Continue;
  co.rights = v.rights;
  callouts.classify(calloutId, CalloutInvocation{layer, in, meta, f}, co);
  const Evaluation::Kind kind = coerce(t, co.actionType);
  if (t == ActionType::CalloutInspection) {
    // An inspection callout's rights and flags are discarded too (§4.2, our choice).
    return {Evaluation::Continue, 0, 0, true, {}};
  }
  std::string note;
  if (kind == Evaluation::Block && co.actionType != ActionType::Block) {
    note = fmt::format("callout answered {}: coerced to BLOCK", actionTypeName(co.actionType));
  }
  return {kind, co.rights & kRightActionWrite, co.flags, true, std::move(note)};
}

// FWPS_FILTER*.context: the provider context's LUID, or rawContext (wfp-model.md §1.4).
uint64_t filterContext(const Policy& policy, const Filter& f) {
  if ((f.flags & filter_flag::kHasProviderContext) != 0) {
    const ProviderContext* pc = policy.providerContext(f.providerContextKey);
    return pc != nullptr ? pc->providerContextId : 0;
  }
  return f.rawContext;
}

}  // namespace

bool filterMatches(const ArbitrationEntry& entry, const IncomingValues& in) {
  for (const auto& group : entry.groups) {
    const Value& v = in.values[group.fieldIndex];
    bool any = false;
    for (const Condition* c : group.conditions) {
      if (conditionMatches(c->matchType, c->value, v)) {
        any = true;
        break;
      }
    }
    if (!any) {
      return false;
    }
  }
  return true;
}

Result<ClassifyResult> classify(const Policy& policy,
                                const IncomingValues& in,
                                const IncomingMetadata& meta,
                                CalloutRegistry& callouts) {
  const LayerInfo* layer = layerById(in.layerId);
  if (layer == nullptr || !layer->hasSchema()) {
    return fail(status::kLayerNotFound, fmt::format("layer id {} not found", in.layerId));
  }
  if (in.values.size() != layer->fields.size()) {
    return fail(status::kInvalidParameter,
                fmt::format("{} incoming values for {} fields of {}",
                            in.values.size(),
                            layer->fields.size(),
                            layer->fullName()));
  }
  for (const FieldInfo& field : layer->fields) {
    const Value& v = in.values[field.index];
    if (!v.isEmpty() && v.type() != field.type) {
      return fail(status::kTypeMismatch,
                  fmt::format("incoming {} is {}, the field is {}",
                              field.name,
                              dataTypeName(v.type()),
                              dataTypeName(field.type)));
    }
  }

  ClassifyResult v;
  bool anyMatch = false;
  const std::vector<ArbitrationEntry>& order = policy.arbitrationOrder(layer->id);
  for (size_t i = 0; i < order.size();) {
    // One sublayer: entries [i, end).
    const Sublayer* sl = order[i].sublayer;
    size_t end = i;
    while (end < order.size() && order[end].sublayer == sl) {
      ++end;
    }
    SublayerTrace trace{sl->key, sl->weight, {}, 0};
    for (size_t k = i; k < end; ++k) {
      const ArbitrationEntry& e = order[k];
      const Filter& f = *e.filter;
      if ((f.flags & filter_flag::kDisabled) != 0 || !filterMatches(e, in)) {
        ++trace.notMatched;
        continue;
      }
      Evaluation r = evaluate(e, v, *layer, in, meta, policy, callouts);
      FilterStep step{f.filterId,
                      toAction(r.kind),
                      FilterOutcome::Continue,
                      r.invokedCallout,
                      v.rights,
                      std::move(r.note)};
      if (r.kind == Evaluation::Skip) {
        step.outcome = FilterOutcome::Skipped;
        trace.steps.push_back(std::move(step));
        continue;  // not counted as a match
      }
      anyMatch = true;
      if (r.kind == Evaluation::Continue) {
        trace.steps.push_back(std::move(step));
        continue;
      }
      // apply(v, r, f): PERMIT or BLOCK ends this sublayer.
      if ((v.rights & kRightActionWrite) != 0) {
        v.action = toAction(r.kind);
        v.rights = r.rights;
        v.flags = r.flags;
        v.filterId = f.filterId;
        v.outContext = filterContext(policy, f);
        step.outcome = FilterOutcome::Applied;
      } else if (r.kind == Evaluation::Block && r.invokedCallout &&
                 v.action == ActionType::Permit) {
        v.action = ActionType::Block;
        v.flags = r.flags;
        v.filterId = f.filterId;
        v.outContext = filterContext(policy, f);
        v.vetoed = true;
        step.outcome = FilterOutcome::Vetoed;
      } else {
        step.outcome = FilterOutcome::Ignored;
      }
      step.rightsAfter = v.rights;
      trace.steps.push_back(std::move(step));
      break;
    }
    v.trace.push_back(std::move(trace));
    i = end;
  }
  if (v.action == ActionType::NoneNoMatch && anyMatch) {
    v.action = ActionType::None;
  }
  if (v.action != ActionType::Block) {
    v.flags &= ~kClassifyOutFlagAbsorb;  // Appendix B.9
  }
  return v;
}

std::string_view filterOutcomeName(FilterOutcome o) {
  switch (o) {
    case FilterOutcome::Skipped:
      return "skipped";
    case FilterOutcome::Continue:
      return "continue";
    case FilterOutcome::Applied:
      return "applied";
    case FilterOutcome::Ignored:
      return "ignored (hard decision stands)";
    case FilterOutcome::Vetoed:
      return "VETO";
  }
  return "?";
}

}  // namespace xfp
