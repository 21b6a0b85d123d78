// The commands that change xfpd's policy: `add filter|sublayer|provider`, `delete
// filter|sublayer|provider|callout` and `apply FILE` (a whole policy file as one transaction).
// Objects are read by policy_objects.h, i.e. in the policy file's syntax, whether they come
// from flags, from --json or from a file.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tools/xfpctl/outcome.h"

namespace xfp::ctl {

struct AddFilterOptions {
  std::string socket;
  std::string json;  // a filter object in the policy file format; flags override its members
  std::string layer;
  std::string name;
  std::string description;
  std::string action;  // permit | block | callout-terminating:CALLOUT | callout-inspection:... |
                       // callout-unknown:...   (CALLOUT: a name or a key)
  std::string weight;  // auto | N | range:K
  std::string sublayer;
  std::string provider;
  std::string key;
  std::vector<std::string>
      conditions;                  // FIELD=VALUE, FIELD!=VALUE, FIELD>=VALUE, FIELD:MATCH=VALUE
  std::vector<std::string> flags;  // FWPM_FILTER_FLAG_* names
  bool persistent = false;
  bool boottime = false;
};

struct AddSublayerOptions {
  std::string socket;
  std::string json;
  std::string name;
  std::string description;
  std::string key;
  std::string provider;
  std::optional<unsigned> weight;
  bool persistent = false;
};

struct AddProviderOptions {
  std::string socket;
  std::string json;
  std::string name;
  std::string description;
  std::string key;
  std::string serviceName;
  bool persistent = false;
};

struct DeleteOptions {
  std::string socket;
  std::string kind;    // filter | sublayer | provider | callout
  std::string target;  // an id (filters, callouts), a key, or a unique name
};

struct ApplyOptions {
  std::string socket;
  std::string path;
  bool dryRun = false;
};

// Print the new filter's id / the new object's key on stdout (for scripts).
Outcome<void> runAddFilter(const AddFilterOptions& options);
Outcome<void> runAddSublayer(const AddSublayerOptions& options);
Outcome<void> runAddProvider(const AddProviderOptions& options);
Outcome<void> runDelete(const DeleteOptions& options);
// Every object of the file in one transaction: begin, add..., commit (--dry-run: abort). The
// first refusal aborts the transaction and names the object; nothing changes.
Outcome<void> runApply(const ApplyOptions& options);

}  // namespace xfp::ctl
