// A callout registry whose callouts answer as told on the command line
// (`--callout NAME=permit!`), so `xfpctl explain` can show what a callout's answer would do.
#pragma once

#include <map>
#include <string>

#include "userspace/core/classifier.h"

namespace xfp::ctl {

struct ScriptedAnswer {
  ActionType action = ActionType::Continue;
  bool clearWriteRight = false;
  bool absorb = false;
};

// "permit", "block", "continue", with "!" to clear FWPS_RIGHT_ACTION_WRITE and "+absorb" to set
// FWPS_CLASSIFY_OUT_FLAG_ABSORB, e.g. "block!+absorb".
Result<ScriptedAnswer> parseScriptedAnswer(const std::string& text);

class ScriptedCallouts final : public CalloutRegistry {
 public:
  void registerCallout(uint32_t calloutId, ScriptedAnswer answer) { answers_[calloutId] = answer; }

  [[nodiscard]] bool isRegistered(uint32_t id) const override { return answers_.contains(id); }
  [[nodiscard]] uint32_t registrationFlags(uint32_t) const override { return 0; }
  [[nodiscard]] bool hasFlowContext(uint32_t, uint64_t, uint16_t) const override { return false; }
  void classify(uint32_t id, const CalloutInvocation&, ClassifyOut& out) override;

 private:
  std::map<uint32_t, ScriptedAnswer> answers_;
};

}  // namespace xfp::ctl
