#include "userspace/daemon/config.h"

#include <fstream>
#include <set>
#include <sstream>
#include <toml++/toml.h>

#include <fmt/format.h>

namespace xfp::daemon {
namespace {

Error configError(const std::string& origin, const std::string& what) {
  return Error{0, origin + ": " + what};
}

// Every key of `table` must be in `known`.
Result<void> onlyKnown(const toml::table& table,
                       const std::set<std::string>& known,
                       const std::string& where,
                       const std::string& origin) {
  for (const auto& [key, value] : table) {
    (void)value;
    if (known.count(std::string(key.str())) == 0) {
      return tl::unexpected(
          configError(origin, fmt::format("{}unknown key \"{}\"", where, key.str())));
    }
  }
  return {};
}

template <class T>
Result<void> read(const toml::table& t,
                  const char* key,
                  T& out,
                  const std::string& where,
                  const std::string& origin) {
  const toml::node* n = t.get(key);
  if (n == nullptr) {
    return {};
  }
  if constexpr (std::is_same_v<T, std::string>) {
    if (const auto* v = n->as_string()) {  // strict: value<>() would convert
      out = v->get();
      return {};
    }
    return tl::unexpected(
        configError(origin, fmt::format("{}{}: a string is expected", where, key)));
  } else if constexpr (std::is_same_v<T, bool>) {
    if (const auto* v = n->as_boolean()) {
      out = v->get();
      return {};
    }
    return tl::unexpected(
        configError(origin, fmt::format("{}{}: true or false is expected", where, key)));
  } else {
    if (const auto* v = n->as_integer(); v != nullptr && v->get() >= 0) {
      out = static_cast<T>(v->get());
      return {};
    }
    return tl::unexpected(
        configError(origin, fmt::format("{}{}: a non-negative integer is expected", where, key)));
  }
}

}  // namespace

Result<DaemonConfig> parseConfig(const std::string& text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    const auto& src = e.source();
    return tl::unexpected(configError(
        origin,
        fmt::format("line {}, column {}: {}", src.begin.line, src.begin.column, e.description())));
  }
  DaemonConfig c;
  if (auto r = onlyKnown(root,
                         {"policy",
                          "plugin_dir",
                          "state_dir",
                          "pin_dir",
                          "socket",
                          "socket_group",
                          "workers",
                          "pend_timeout_ms",
                          "max_pended",
                          "drop_events",
                          "allow_events",
                          "net_event_log_size",
                          "detach_on_stop",
                          "log_format",
                          "cgroup",
                          "socket_wait_ms",
                          "interface",
                          "plugin"},
                         "",
                         origin);
      !r) {
    return tl::unexpected(r.error());
  }
  int64_t pendMs = c.pendTimeout.count();
  int64_t sockWaitMs = c.socketWait.count();
  for (auto r : {read(root, "policy", c.policyFile, "", origin),
                 read(root, "plugin_dir", c.pluginDir, "", origin),
                 read(root, "state_dir", c.stateDir, "", origin),
                 read(root, "pin_dir", c.pinDir, "", origin),
                 read(root, "socket", c.socketPath, "", origin),
                 read(root, "socket_group", c.socketGroup, "", origin),
                 read(root, "workers", c.workers, "", origin),
                 read(root, "pend_timeout_ms", pendMs, "", origin),
                 read(root, "max_pended", c.maxPended, "", origin),
                 read(root, "drop_events", c.dropEvents, "", origin),
                 read(root, "allow_events", c.allowEvents, "", origin),
                 read(root, "net_event_log_size", c.netEventLogSize, "", origin),
                 read(root, "detach_on_stop", c.detachOnStop, "", origin),
                 read(root, "log_format", c.logFormat, "", origin),
                 read(root, "cgroup", c.cgroup, "", origin),
                 read(root, "socket_wait_ms", sockWaitMs, "", origin)}) {
    if (!r) {
      return tl::unexpected(r.error());
    }
  }
  if (pendMs == 0) {
    return tl::unexpected(configError(origin, "pend_timeout_ms: must be above 0"));
  }
  c.pendTimeout = std::chrono::milliseconds(pendMs);
  if (sockWaitMs < 1 || sockWaitMs > 1000) {
    return tl::unexpected(configError(origin, "socket_wait_ms: 1 to 1000"));
  }
  c.socketWait = std::chrono::milliseconds(sockWaitMs);
  if (!c.cgroup.empty() && c.cgroup.front() != '/') {
    return tl::unexpected(configError(origin, "cgroup: an absolute path of a cgroup v2 directory"));
  }
  if (c.logFormat != "text" && c.logFormat != "json") {
    return tl::unexpected(
        configError(origin, "log_format: \"text\" or \"json\", not \"" + c.logFormat + "\""));
  }
  if (c.netEventLogSize == 0 || c.netEventLogSize > (1u << 20)) {
    return tl::unexpected(configError(origin, "net_event_log_size: 1 to 1048576 events"));
  }
  if (c.workers > 64) {
    return tl::unexpected(configError(origin, "workers: at most 64"));
  }
  auto arrayOfTables =
      [&](const char* key,
          const std::function<Result<void>(const toml::table&, const std::string&)>& each)
      -> Result<void> {
    const toml::node* n = root.get(key);
    if (n == nullptr) {
      return {};
    }
    const toml::array* arr = n->as_array();
    if (arr == nullptr) {
      return tl::unexpected(configError(
          origin, fmt::format("{}: an array of tables ([[{}]]) is expected", key, key)));
    }
    for (size_t i = 0; i < arr->size(); ++i) {
      const toml::table* t = arr->get(i)->as_table();
      const std::string where = fmt::format("{}[{}].", key, i);
      if (t == nullptr) {
        return tl::unexpected(configError(origin, where + " a table is expected"));
      }
      if (auto r = each(*t, where); !r) {
        return r;
      }
    }
    return {};
  };
  if (auto r = arrayOfTables("interface",
                             [&](const toml::table& t, const std::string& where) -> Result<void> {
                               if (auto k = onlyKnown(t, {"name", "netns"}, where, origin); !k) {
                                 return k;
                               }
                               InterfaceConfig ic;
                               if (auto k = read(t, "name", ic.name, where, origin); !k) {
                                 return k;
                               }
                               if (auto k = read(t, "netns", ic.netns, where, origin); !k) {
                                 return k;
                               }
                               if (ic.name.empty() || ic.name.size() > 15) {
                                 return tl::unexpected(configError(
                                     origin, where + "name: an interface name of 1-15 characters"));
                               }
                               c.interfaces.push_back(ic);
                               return {};
                             });
      !r) {
    return tl::unexpected(r.error());
  }
  if (auto r =
          arrayOfTables("plugin",
                        [&](const toml::table& t, const std::string& where) -> Result<void> {
                          if (auto k = onlyKnown(t, {"path", "parameters"}, where, origin); !k) {
                            return k;
                          }
                          PluginConfig pc;
                          if (auto k = read(t, "path", pc.path, where, origin); !k) {
                            return k;
                          }
                          if (auto k = read(t, "parameters", pc.parameters, where, origin); !k) {
                            return k;
                          }
                          if (pc.path.empty()) {
                            return tl::unexpected(configError(origin, where + "path: required"));
                          }
                          if (pc.path.front() != '/') {
                            pc.path = c.pluginDir + "/" + pc.path;
                          }
                          c.plugins.push_back(pc);
                          return {};
                        });
      !r) {
    return tl::unexpected(r.error());
  }
  return c;
}

Result<DaemonConfig> loadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return tl::unexpected(Error{0, path + ": cannot be read"});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parseConfig(text.str(), path);
}

}  // namespace xfp::daemon
