#include "userspace/callout/plugin_host.h"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "userspace/callout/runtime_impl.h"
#include "userspace/core/wfp_constants.h"

namespace xfp::callout {

struct PluginHost::Plugin {
  std::string name;
  std::string path;
  std::string parameters;
  void* handle = nullptr;
  DEVICE_OBJECT device;
  DRIVER_OBJECT driver{};
  std::u16string registryPath;
  UNICODE_STRING registryString{};
};

namespace {

std::vector<std::shared_ptr<RegisteredCallout>> calloutsOf(RuntimeImpl& rt, const void* device) {
  std::vector<std::shared_ptr<RegisteredCallout>> out;
  std::shared_lock lock(rt.regMu);
  for (const auto& [id, c] : rt.callouts) {
    if (c->device == device) {
      out.push_back(c);
    }
  }
  return out;
}

// Removes what a failed or misbehaving plugin left registered (its code is about to go).
void forceUnregister(RuntimeImpl& rt, const void* device) {
  for (auto& c : calloutsOf(rt, device)) {
    // Its flow contexts go with flowDeleteFn, once each (wfp-model.md §5.5): the code is still
    // mapped, and the plugin frees what the contexts point to.
    std::vector<std::pair<uint16_t, uint64_t>> dropped;
    {
      std::lock_guard lock(rt.flowMu);
      for (auto& [k, f] : rt.flows) {
        for (auto it = f->contexts.begin(); it != f->contexts.end();) {
          if (it->first.second == c->id) {
            dropped.emplace_back(it->first.first, it->second);
            it = f->contexts.erase(it);
          } else {
            ++it;
          }
        }
      }
    }
    for (const auto& [layer, ctx] : dropped) {
      if (c->flowDeleteFn != nullptr) {
        try {
          c->flowDeleteFn(layer, c->id, ctx);
        } catch (...) {
          rt.stats.pluginFaults.fetch_add(1);
        }
      }
    }
    (void)FwpsCalloutUnregisterById0(c->id);
  }
}

}  // namespace

PluginHost::PluginHost(RuntimeImpl& runtime) : runtime_(runtime) {}

PluginHost::~PluginHost() {
  std::vector<std::string> names;
  {
    std::lock_guard lock(mu_);
    for (auto it = plugins_.rbegin(); it != plugins_.rend(); ++it) {
      names.push_back((*it)->name);
    }
  }
  for (const auto& n : names) {
    if (auto r = unload(n); !r) {
      spdlog::warn("plugin {}: {}; its callouts are unregistered by force", n, r.error().message);
      std::unique_ptr<Plugin> p;
      {
        std::lock_guard lock(mu_);
        auto it =
            std::find_if(plugins_.begin(), plugins_.end(), [&](auto& q) { return q->name == n; });
        if (it == plugins_.end()) {
          continue;
        }
        p = std::move(*it);
        plugins_.erase(it);
      }
      forceUnregister(runtime_, &p->device);
      dlclose(p->handle);
    }
  }
}

Result<void> PluginHost::load(const std::string& path,
                              const std::string& parameters,
                              std::string name) {
  if (name.empty()) {
    name = std::filesystem::path(path).stem().string();
  }
  {
    std::lock_guard lock(mu_);
    for (const auto& p : plugins_) {
      if (p->name == name) {
        return fail(status::kAlreadyExists, "plugin " + name + " is already loaded");
      }
    }
  }
  auto p = std::make_unique<Plugin>();
  p->name = name;
  p->path = path;
  p->parameters = parameters;
  p->device.pluginName = name;
  p->handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (p->handle == nullptr) {
    const char* e = dlerror();
    return fail(0, "plugin " + path + ": " + (e != nullptr ? e : "dlopen failed"));
  }
  if (auto* version = reinterpret_cast<XFP_PLUGIN_ABI_VERSION_FN*>(
          dlsym(p->handle, XFP_PLUGIN_ABI_VERSION_SYMBOL));
      version != nullptr && version() != XFP_PLUGIN_ABI_VERSION) {
    dlclose(p->handle);
    return fail(0,
                "plugin " + path + ": built for plugin ABI " + std::to_string(version()) +
                    ", this host speaks " + std::to_string(XFP_PLUGIN_ABI_VERSION));
  }
  auto* entry = reinterpret_cast<DRIVER_INITIALIZE*>(dlsym(p->handle, XFP_PLUGIN_ENTRY_SYMBOL));
  if (entry == nullptr) {
    dlclose(p->handle);
    return fail(0, "plugin " + path + ": no DriverEntry (export it with XFP_PLUGIN_EXPORT)");
  }
  p->driver.DeviceObject = &p->device;
  p->driver.DriverName = p->name.c_str();
  p->driver.XfpParameters = p->parameters.c_str();
  p->registryPath = std::u16string(name.begin(), name.end());
  p->registryString.Length = static_cast<USHORT>(p->registryPath.size() * 2);
  p->registryString.MaximumLength = p->registryString.Length;
  p->registryString.Buffer = reinterpret_cast<WCHAR*>(p->registryPath.data());
  NTSTATUS st = STATUS_UNSUCCESSFUL;
  std::string why;
  try {
    st = entry(&p->driver, &p->registryString);
  } catch (const std::exception& e) {
    runtime_.stats.pluginFaults.fetch_add(1);
    why = std::string(": DriverEntry threw: ") + e.what();
  } catch (...) {
    runtime_.stats.pluginFaults.fetch_add(1);
    why = ": DriverEntry threw";
  }
  if (!NT_SUCCESS(st)) {
    forceUnregister(runtime_, &p->device);
    dlclose(p->handle);
    char code[16];
    std::snprintf(code, sizeof code, "0x%08X", static_cast<unsigned>(st));
    return fail(0,
                "plugin " + name + ": DriverEntry failed" +
                    (why.empty() ? std::string(" with ") + code : why));
  }
  spdlog::info("plugin {} loaded from {}", name, path);
  std::lock_guard lock(mu_);
  plugins_.push_back(std::move(p));
  return {};
}

Result<void> PluginHost::unload(const std::string& name) {
  Plugin* p = nullptr;
  {
    std::lock_guard lock(mu_);
    for (auto& q : plugins_) {
      if (q->name == name) {
        p = q.get();
      }
    }
  }
  if (p == nullptr) {
    return fail(status::kNotFound, "no plugin named " + name);
  }
  if (p->driver.DriverUnload != nullptr) {
    try {
      p->driver.DriverUnload(&p->driver);
    } catch (...) {
      runtime_.stats.pluginFaults.fetch_add(1);
    }
  }
  const auto left = calloutsOf(runtime_, &p->device);
  if (!left.empty()) {
    return fail(status::kInUse,
                "plugin " + name + " still has " + std::to_string(left.size()) +
                    " callout(s) registered after DriverUnload: not unloaded");
  }
  std::unique_ptr<Plugin> owned;
  {
    std::lock_guard lock(mu_);
    auto it = std::find_if(plugins_.begin(), plugins_.end(), [&](auto& q) { return q.get() == p; });
    owned = std::move(*it);
    plugins_.erase(it);
  }
  dlclose(owned->handle);
  spdlog::info("plugin {} unloaded", name);
  return {};
}

std::vector<PluginInfo> PluginHost::list() const {
  std::vector<PluginInfo> out;
  std::lock_guard lock(mu_);
  for (const auto& p : plugins_) {
    PluginInfo info{p->name, p->path, {}};
    for (auto& c : calloutsOf(runtime_, &p->device)) {
      info.calloutIds.push_back(c->id);
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace xfp::callout
