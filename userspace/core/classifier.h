// The reference classifier: WFP filter arbitration exactly as wfp-model.md §4.8 defines it
// (with Appendix B). It is the oracle every fast path is tested against, so it favours being
// obviously right over being fast: it walks the layer's filters in arbitration order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "userspace/core/layers.h"
#include "userspace/core/policy.h"
#include "userspace/core/result.h"
#include "userspace/core/value.h"

namespace xfp {

// FWPS_INCOMING_VALUES0: one value per field of the layer's schema, FWP_EMPTY where unknown.
struct IncomingValues {
  uint16_t layerId = 0;
  std::vector<Value> values;

  static IncomingValues emptyFor(const LayerInfo& layer) {
    return IncomingValues{layer.id, std::vector<Value>(layer.fields.size())};
  }
};

// The part of FWPS_INCOMING_METADATA_VALUES0 that arbitration reads.
struct IncomingMetadata {
  bool hasFlowHandle = false;
  uint64_t flowHandle = 0;
};

// FWPS_CLASSIFY_OUT0 as a callout sees and writes it.
struct ClassifyOut {
  ActionType actionType = ActionType::Continue;
  uint64_t outContext = 0;
  uint64_t filterId = 0;
  uint32_t rights = 0;
  uint32_t flags = 0;
};

// What a callout's classifyFn receives, less the packet (layer data comes with the callout
// runtime).
struct CalloutInvocation {
  const LayerInfo& layer;
  const IncomingValues& in;
  const IncomingMetadata& meta;
  const Filter& filter;
};

// The run-time half of callouts, as arbitration needs it. The callout runtime implements this
// with real plugins; tests script answers with it.
class CalloutRegistry {
 public:
  virtual ~CalloutRegistry() = default;
  // True if a callout with this id is registered (FwpsCalloutRegister) right now.
  [[nodiscard]] virtual bool isRegistered(uint32_t calloutId) const = 0;
  // FWP_CALLOUT_FLAG_* of the registration.
  [[nodiscard]] virtual uint32_t registrationFlags(uint32_t calloutId) const = 0;
  // Whether the flow has a context for (layer, callout) (for CONDITIONAL_ON_FLOW).
  [[nodiscard]] virtual bool hasFlowContext(uint32_t calloutId,
                                            uint64_t flowHandle,
                                            uint16_t layerId) const = 0;
  // Runs classifyFn; `out` arrives with the current action and rights.
  virtual void classify(uint32_t calloutId, const CalloutInvocation& call, ClassifyOut& out) = 0;
};

// A registry in which no callout is registered (offline explain, unregistered-callout rules).
class NoCallouts final : public CalloutRegistry {
 public:
  [[nodiscard]] bool isRegistered(uint32_t) const override { return false; }
  [[nodiscard]] uint32_t registrationFlags(uint32_t) const override { return 0; }
  [[nodiscard]] bool hasFlowContext(uint32_t, uint64_t, uint16_t) const override { return false; }
  void classify(uint32_t, const CalloutInvocation&, ClassifyOut&) override {}
};

// What became of one matching filter during arbitration.
enum class FilterOutcome {
  Skipped,   // callout inspection unregistered, or CONDITIONAL_ON_FLOW without a context
  Continue,  // evaluation went on to the next filter
  Applied,   // set the current decision
  Ignored,   // terminating, but a hard decision already stood
  Vetoed,    // a callout BLOCK overturned a hard PERMIT
};

struct FilterStep {
  uint64_t filterId = 0;
  ActionType result = ActionType::Continue;  // PERMIT/BLOCK/CONTINUE after coercion
  FilterOutcome outcome = FilterOutcome::Continue;
  bool calloutInvoked = false;
  uint32_t rightsAfter = 0;  // FWPS_RIGHT_ACTION_WRITE after this filter
  std::string note;          // e.g. "callout unregistered: acts as BLOCK"
};

struct SublayerTrace {
  Guid sublayerKey;
  uint16_t weight = 0;
  std::vector<FilterStep> steps;  // matching filters only, in evaluation order
  size_t notMatched = 0;          // filters of this sublayer whose conditions did not hold
};

struct ClassifyResult {
  ActionType action = ActionType::NoneNoMatch;  // PERMIT, BLOCK, NONE or NONE_NO_MATCH
  uint64_t filterId = 0;                        // the filter that set the final action
  uint64_t outContext = 0;
  uint32_t rights = kRightActionWrite;
  uint32_t flags = 0;  // FWPS_CLASSIFY_OUT_FLAG_ABSORB when the final BLOCK absorbs
  bool vetoed = false;
  std::vector<SublayerTrace> trace;  // every sublayer that has filters at this layer

  // What the data path does: NONE and NONE_NO_MATCH permit (wfp-model.md §4.7).
  [[nodiscard]] bool permits() const { return action != ActionType::Block; }
};

// Classifies one indication at `in.layerId`. Fails (FWP_E_LAYER_NOT_FOUND / TYPE_MISMATCH) when
// the layer is unknown or an incoming value does not have its field's type.
Result<ClassifyResult> classify(const Policy& policy,
                                const IncomingValues& in,
                                const IncomingMetadata& meta,
                                CalloutRegistry& callouts);

// True when every condition group of the entry holds for `in` (AND across fields, OR within).
bool filterMatches(const ArbitrationEntry& entry, const IncomingValues& in);

std::string_view filterOutcomeName(FilterOutcome o);

}  // namespace xfp
