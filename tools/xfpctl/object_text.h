// FWPM objects as xfpctl shows them: conditions, actions, flags and lifetimes in the policy
// file's words, so what `xfpctl show filters` prints can be typed back into `xfpctl add filter
// --condition` (e.g. "IP_LOCAL_PORT=10000..20000", "IP_REMOTE_ADDRESS!=fd00::53",
// "IP_REMOTE_ADDRESS=10.99.0.0/16"); the --json forms of the show commands (keys documented in
// docs/xfpctl.md); and an aligned text table.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "userspace/core/layers.h"
#include "userspace/core/objects.h"
#include "userspace/engine/session.h"

namespace xfp::ctl {

// Names of the live objects a filter refers to, by key (from the service's enumerations).
struct ObjectNames {
  std::map<Guid, std::string> sublayers;
  std::map<Guid, std::string> callouts;
  std::map<Guid, std::string> providers;
};

// "INBOUND_TRANSPORT_V4", or the GUID for a layer the core does not know.
std::string layerText(const Guid& layerKey);
// "FWP_MATCH_NOT_EQUAL" -> "not_equal" (the policy file's spelling).
std::string matchText(MatchType m);
// A condition value in the text form value_text.h reads back for `field` (may be null).
std::string conditionValueText(const FieldInfo* field, const ConditionValue& value);
// "IP_LOCAL_PORT=22", "IP_REMOTE_ADDRESS!=fd00::53", "FLAGS:flags_all_set=0x1".
std::string conditionText(const Condition& c, const LayerInfo* layer);
// "block", "permit", "callout_terminating" (the policy file's action words).
std::string actionWord(ActionType t);
// "block", "permit", "callout_terminating:connection inspector".
std::string actionText(const Action& a, const ObjectNames& names);
// "built-in", "persistent", "static", "dynamic".
std::string lifetimeText(Lifetime l);
// Flag words ("PERSISTENT", "BOOTTIME", ...) of each object kind; empty list for none.
std::vector<std::string> filterFlagWords(uint32_t flags);
std::vector<std::string> sublayerFlagWords(uint32_t flags);
std::vector<std::string> providerFlagWords(uint32_t flags);
std::vector<std::string> calloutFlagWords(uint32_t flags);
// Words joined by '|', or "-" for none (a table cell is never empty).
std::string joinFlags(const std::vector<std::string>& words);
// A name or, for an object without one, its key.
std::string nameOr(const DisplayData& d, const Guid& key);

nlohmann::json filterJson(const Filter& f, const ObjectNames& names);
nlohmann::json sublayerJson(const Sublayer& s, const ObjectNames& names);
nlohmann::json providerJson(const Provider& p);
nlohmann::json calloutJson(const Callout& c);
nlohmann::json sessionJson(const engine::SessionInfo& s);

// Columns padded to their widest cell (UTF-8 aware), two spaces apart; the last column is not
// padded. A header ending in '>' is right-aligned (numbers), the '>' is not printed.
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  void add(std::vector<std::string> row);
  [[nodiscard]] std::string render() const;
  [[nodiscard]] size_t rows() const { return rows_.size(); }

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace xfp::ctl
