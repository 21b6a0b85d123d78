#include "tools/xfpctl/scripted_callouts.h"

#include <fmt/format.h>

namespace xfp::ctl {

Result<ScriptedAnswer> parseScriptedAnswer(const std::string& text) {
  ScriptedAnswer a;
  std::string t = text;
  if (const size_t plus = t.find("+absorb"); plus != std::string::npos && plus + 7 == t.size()) {
    a.absorb = true;
    t.resize(plus);
  }
  if (!t.empty() && t.back() == '!') {
    a.clearWriteRight = true;
    t.pop_back();
  }
  if (t == "permit") {
    a.action = ActionType::Permit;
  } else if (t == "block") {
    a.action = ActionType::Block;
  } else if (t == "continue") {
    a.action = ActionType::Continue;
  } else {
    return fail(status::kInvalidParameter,
                fmt::format("callout answer \"{}\": expected permit|block|continue, optionally "
                            "followed by ! (clear the write right) and +absorb",
                            text));
  }
  return a;
}

void ScriptedCallouts::classify(uint32_t id, const CalloutInvocation&, ClassifyOut& out) {
  const ScriptedAnswer& a = answers_.at(id);
  out.actionType = a.action;
  if (a.clearWriteRight) {
    out.rights &= ~kRightActionWrite;
  }
  if (a.absorb) {
    out.flags |= kClassifyOutFlagAbsorb;
  }
}

}  // namespace xfp::ctl
