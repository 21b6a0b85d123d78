#include "tools/xfpctl/plugin_commands.h"

#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/xfpctl/object_text.h"
#include "tools/xfpctl/service_client.h"

namespace xfp::ctl {
namespace {

// xfpd resolves a relative path in its plugin directory. A path that names a file here is meant
// as the user's file, so it goes as an absolute path (xfpd runs elsewhere).
std::string pluginPath(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path p(path);
  if (p.is_relative() && std::filesystem::is_regular_file(p, ec)) {
    return std::filesystem::absolute(p, ec).string();
  }
  return path;
}

}  // namespace

Outcome<void> runPlugin(const PluginOptions& o) {
  auto client = ServiceClient::open(o.socket, "xfpctl plugin " + o.action);
  if (!client) {
    return tl::unexpected(client.error());
  }
  v1::SessionRequest q;
  if (o.action == "load") {
    q.mutable_plugin_load()->set_path(pluginPath(o.target));
    q.mutable_plugin_load()->set_parameters(o.parameters);
  } else if (o.action == "unload") {
    q.set_plugin_unload(o.target);
  } else {
    q.mutable_plugin_list();
  }
  auto r = (*client)->call(q);
  if (!r) {
    Failure f = r.error();
    f.message = fmt::format("plugin {} {}: {}", o.action, o.target, f.message);
    return tl::unexpected(f);
  }
  if (o.action == "load") {
    fmt::print("loaded {}\n", q.plugin_load().path());
  } else if (o.action == "unload") {
    fmt::print("unloaded {}\n", o.target);
  } else if (o.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& p : r->plugins().plugins()) {
      out.push_back(
          {{"name", p.name()},
           {"path", p.path()},
           {"callout_ids", std::vector<uint32_t>(p.callout_ids().begin(), p.callout_ids().end())}});
    }
    std::cout << out.dump(2) << "\n";
  } else if (r->plugins().plugins().empty()) {
    fmt::print("no plugins loaded\n");
  } else {
    Table t({"NAME", "CALLOUT IDS", "PATH"});
    for (const auto& p : r->plugins().plugins()) {
      std::string ids;
      for (uint32_t id : p.callout_ids()) {
        ids += (ids.empty() ? "" : ",") + std::to_string(id);
      }
      t.add({p.name(), ids.empty() ? "-" : ids, p.path()});
    }
    std::cout << t.render();
  }
  return (*client)->close();
}

}  // namespace xfp::ctl
