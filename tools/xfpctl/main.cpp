// xfpctl: the command-line client of xfp. This file only reads the command line (CLI11) and
// dispatches; each command family lives in a file of its own.
//
// Offline (no service needed):
//   xfpctl explain --policy FILE --layer LAYER --packet "FIELD=VALUE ..." [--json]
//   xfpctl check   --policy FILE [--json]     validate a policy file, list filters in order
//   xfpctl layers  [LAYER] [--json]           built-in layers and their fields
// Against xfpd (gRPC on --socket PATH, else $XFP_SOCKET, else /run/xfp/xfpd.sock):
//   xfpctl show filters|sublayers|providers|callouts|layers|counters|sessions|status
//              [--json] [--layer LAYER] [--counters]
//   xfpctl add filter --layer L --name N --action permit|block|callout-terminating:CALLOUT
//              [--condition FIELD=VALUE]... [--weight W] [--sublayer S] [--persistent]
//              [--key GUID] [--json OBJECT]             (prints the new filter id)
//   xfpctl add sublayer|provider ...                    (prints the new key)
//   xfpctl add --layer L ...                            (a filter: `add filter` shortened)
//   xfpctl delete filter ID|KEY|NAME, delete sublayer|provider|callout KEY|NAME
//   xfpctl apply FILE [--dry-run]                       (one transaction, all or nothing)
//   xfpctl explain --layer L --packet P [--callout NAME=ANSWER] [--json]
//   xfpctl events [--follow] [--json] [--protocol P] [--remote-port N] ... [--timeout S]
//   xfpctl plugin load PATH [--params P] | unload NAME | list
//
// Exit status (docs/xfpctl.md):
//   0 done (explain: whatever the verdict)
//   2 bad command line (unknown layer, bad flag value, unknown object name)
//   3 policy file error (apply FILE, add --json OBJECT)
//   4 bad packet description or field value
//   5 xfpd unreachable (no socket, nothing listening, connection broke)
//   6 refused by xfpd: the caller may not manage (not root, not in the socket's group)
//   7 the engine refused the operation (the FWP_E_* name and the engine's message are printed)
// Errors go to stderr, prefixed "xfpctl: ".
#include <iostream>

#include <CLI/CLI.hpp>

#include "tools/xfpctl/edit_commands.h"
#include "tools/xfpctl/events_command.h"
#include "tools/xfpctl/explain_command.h"
#include "tools/xfpctl/offline_commands.h"
#include "tools/xfpctl/plugin_commands.h"
#include "tools/xfpctl/service_client.h"
#include "tools/xfpctl/show_commands.h"

namespace {

using namespace xfp::ctl;

int finish(const Outcome<void>& r) {
  if (r) {
    return kExitOk;
  }
  std::cerr << "xfpctl: " << r.error().message << "\n";
  return r.error().exitCode;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"xfpctl: manage and query xfp, the Windows Filtering Platform model on eBPF"};
  app.require_subcommand(1);
  std::string socket;
  // --socket is accepted before the command and after it (on every command that talks to xfpd).
  const auto socketOption = [&](CLI::App* a) {
    a->add_option(
        "--socket",
        socket,
        "xfpd's control socket (default: $XFP_SOCKET, else " + std::string(kDefaultSocket) + ")");
  };
  socketOption(&app);
  bool asJson = false;
  const auto jsonFlag = [&](CLI::App* a, const std::string& what = "print JSON") {
    a->add_flag("--json", asJson, what);
  };

  // explain (offline with --policy, else online)
  ExplainOptions ex;
  auto* explain = app.add_subcommand(
      "explain", "decide one packet against a policy file (--policy) or the live policy");
  explain->add_option("--policy", ex.policyPath, "policy file (JSON); without it, ask xfpd");
  explain->add_option("--layer", ex.layer, "layer, e.g. INBOUND_TRANSPORT_V4")->required();
  explain->add_option("--packet", ex.packet, "incoming values: \"FIELD=VALUE ...\"");
  explain->add_option(
      "--callout", ex.callouts, "a callout that answers: NAME=permit|block|continue[!][+absorb]");
  jsonFlag(explain);
  socketOption(explain);

  std::string policyPath;
  auto* check = app.add_subcommand("check", "validate a policy file and list its filters");
  check->add_option("--policy", policyPath, "policy file (JSON)")->required();
  jsonFlag(check);

  std::string layersArg;
  auto* layers = app.add_subcommand("layers", "list layers, or one layer's fields");
  layers->add_option("layer", layersArg, "a layer name");
  jsonFlag(layers);

  // show
  ShowOptions sh;
  auto* show = app.add_subcommand("show", "show xfpd's live objects, counters, sessions, status");
  show->add_option("what",
                   sh.what,
                   "filters|sublayers|providers|callouts|layers|counters|"
                   "sessions|status")
      ->required()
      ->check(CLI::IsMember(std::vector<std::string>(std::begin(kShowWhat), std::end(kShowWhat))));
  show->add_option("--layer", sh.layer, "only this layer (filters, counters, layers)");
  show->add_flag("--counters", sh.counters, "show layers: with the data path's counters (online)");
  jsonFlag(show, "print JSON (keys: docs/xfpctl.md)");
  socketOption(show);

  // add
  auto* add = app.add_subcommand(
      "add", "add a filter, sublayer or provider to xfpd (without a kind: a filter)");
  // `xfpctl add --layer ...` is `xfpctl add filter --layer ...` (xfpd's demo banner says so).
  add->require_subcommand(0, 1);
  AddFilterOptions af;
  auto* addFilter = add->add_subcommand("filter", "add a filter; prints its id");
  const auto filterOptions = [&](CLI::App* a) {
    a->add_option("--layer", af.layer, "layer, e.g. INBOUND_TRANSPORT_V4");
    a->add_option("--name", af.name, "display name");
    a->add_option("--description", af.description, "description");
    a->add_option("--action",
                  af.action,
                  "permit | block | callout-terminating:CALLOUT | callout-inspection:CALLOUT | "
                  "callout-unknown:CALLOUT (CALLOUT: name or key)");
    a->add_option("--weight", af.weight, "auto (default) | N (FWP_UINT64) | range:K (0..15)");
    a->add_option("--sublayer", af.sublayer, "sublayer name or key (default: UNIVERSAL)");
    a->add_option("--provider", af.provider, "provider name or key");
    a->add_option("--condition",
                  af.conditions,
                  "FIELD=VALUE (also !=, >=, <=, >, <, FIELD:MATCH=VALUE); repeat for more; "
                  "values as in a policy file");
    a->add_option("--flag", af.flags, "a FWPM_FILTER_FLAG_* name, e.g. CLEAR_ACTION_RIGHT");
    a->add_flag("--persistent", af.persistent, "FWPM_FILTER_FLAG_PERSISTENT");
    a->add_flag("--boottime", af.boottime, "FWPM_FILTER_FLAG_BOOTTIME");
    a->add_option("--key", af.key, "the filter's GUID (default: generated)");
    a->add_option("--json", af.json, "a filter object in the policy file format");
    socketOption(a);
  };
  filterOptions(addFilter);
  filterOptions(add);
  AddSublayerOptions as;
  auto* addSublayer = add->add_subcommand("sublayer", "add a sublayer; prints its key");
  addSublayer->add_option("--name", as.name, "display name");
  addSublayer->add_option("--description", as.description, "description");
  addSublayer->add_option("--weight", as.weight, "0..65535, higher is evaluated first")
      ->check(CLI::Range(0, 65535));
  addSublayer->add_option("--provider", as.provider, "provider name or key");
  addSublayer->add_option("--key", as.key, "the sublayer's GUID (default: generated)");
  addSublayer->add_flag("--persistent", as.persistent, "FWPM_SUBLAYER_FLAG_PERSISTENT");
  addSublayer->add_option("--json", as.json, "a sublayer object in the policy file format");
  socketOption(addSublayer);
  AddProviderOptions ap;
  auto* addProvider = add->add_subcommand("provider", "add a provider; prints its key");
  addProvider->add_option("--name", ap.name, "display name");
  addProvider->add_option("--description", ap.description, "description");
  addProvider->add_option("--service-name", ap.serviceName, "the provider's service (unit)");
  addProvider->add_option("--key", ap.key, "the provider's GUID (default: generated)");
  addProvider->add_flag("--persistent", ap.persistent, "FWPM_PROVIDER_FLAG_PERSISTENT");
  addProvider->add_option("--json", ap.json, "a provider object in the policy file format");
  socketOption(addProvider);

  // delete
  DeleteOptions del;
  auto* remove = app.add_subcommand("delete", "delete a filter, sublayer, provider or callout");
  remove->add_option("kind", del.kind, "filter|sublayer|provider|callout")
      ->required()
      ->check(CLI::IsMember({"filter", "sublayer", "provider", "callout"}));
  remove->add_option("target", del.target, "id (filter, callout), key, or a unique name")
      ->required();
  socketOption(remove);

  // apply
  ApplyOptions apply;
  auto* applyCmd =
      app.add_subcommand("apply", "add every object of a policy file in one transaction");
  applyCmd->add_option("file", apply.path, "policy file (JSON)")->required();
  applyCmd->add_flag("--dry-run", apply.dryRun, "let xfpd check everything, then abort");
  socketOption(applyCmd);

  // events
  EventsOptions ev;
  auto* events = app.add_subcommand("events", "the net-event log: what the data path dropped");
  events->add_flag("--follow,-f", ev.follow, "keep streaming new events (Ctrl-C ends)");
  events->add_option("--protocol", ev.protocol, "only this IP protocol (number or tcp, udp, ...)");
  events->add_option("--local-port", ev.localPort, "only this local port")
      ->check(CLI::Range(0, 65535));
  events->add_option("--remote-port", ev.remotePort, "only this remote port")
      ->check(CLI::Range(0, 65535));
  events->add_option("--local-addr", ev.localAddr, "only this local address");
  events->add_option("--remote-addr", ev.remoteAddr, "only this remote address");
  events->add_option("--type", ev.type, "drop | allow")->check(CLI::IsMember({"drop", "allow"}));
  events->add_option("--since", ev.since, "only the last S seconds")->check(CLI::NonNegativeNumber);
  events->add_option("--timeout", ev.timeout, "stop after S seconds")
      ->check(CLI::NonNegativeNumber);
  events->add_option("--count", ev.count, "stop after N events");
  jsonFlag(events, "one JSON object per line");
  socketOption(events);

  // plugin
  PluginOptions pl;
  auto* plugin = app.add_subcommand("plugin", "load, unload or list callout plugins in xfpd");
  plugin->require_subcommand(1);
  auto* pluginLoad = plugin->add_subcommand("load", "load a callout plugin (.so)");
  pluginLoad->add_option("path", pl.target, "the .so (relative: in xfpd's plugin directory)")
      ->required();
  pluginLoad->add_option("--params", pl.parameters, "parameters for its DriverEntry");
  socketOption(pluginLoad);
  auto* pluginUnload = plugin->add_subcommand("unload", "unload a plugin");
  pluginUnload->add_option("name", pl.target, "the plugin's name or path")->required();
  socketOption(pluginUnload);
  auto* pluginList = plugin->add_subcommand("list", "list loaded plugins");
  jsonFlag(pluginList);
  socketOption(pluginList);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }
  socket = resolveSocket(socket);

  if (explain->parsed()) {
    ex.socket = socket;
    ex.json = asJson;
    return finish(runExplain(ex));
  }
  if (check->parsed()) {
    return finish(runCheck(policyPath, asJson));
  }
  if (layers->parsed()) {
    return finish(runLayers(layersArg, asJson));
  }
  if (show->parsed()) {
    sh.socket = socket;
    sh.json = asJson;
    return finish(runShow(sh));
  }
  if (addFilter->parsed() || (add->parsed() && add->get_subcommands().empty())) {
    af.socket = socket;
    return finish(runAddFilter(af));
  }
  if (addSublayer->parsed()) {
    as.socket = socket;
    return finish(runAddSublayer(as));
  }
  if (addProvider->parsed()) {
    ap.socket = socket;
    return finish(runAddProvider(ap));
  }
  if (remove->parsed()) {
    del.socket = socket;
    return finish(runDelete(del));
  }
  if (applyCmd->parsed()) {
    apply.socket = socket;
    return finish(runApply(apply));
  }
  if (events->parsed()) {
    ev.socket = socket;
    ev.json = asJson;
    return finish(runEvents(ev));
  }
  pl.socket = socket;
  pl.json = asJson;
  pl.action = pluginLoad->parsed() ? "load" : pluginUnload->parsed() ? "unload" : "list";
  return finish(runPlugin(pl));
}
