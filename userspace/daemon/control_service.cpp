#include "userspace/daemon/control_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include "compiler/fast_path_fields.h"
#include "tools/xfpctl/explain_report.h"
#include "tools/xfpctl/scripted_callouts.h"
#include "userspace/callout/plugin_host.h"
#include "userspace/callout/runtime.h"
#include "userspace/core/classifier.h"
#include "userspace/core/value_text.h"
#include "userspace/daemon/control_socket.h"
#include "userspace/daemon/net_event_log.h"
#include "userspace/dataplane/fast_path.h"
#include "userspace/engine/engine.h"
#include "userspace/engine/engine_status.h"
#include "userspace/rpc/codec.h"

namespace xfp::daemon {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds kStreamPoll{200};  // how often a stream notices cancellation/stop

void setError(v1::SessionReply& reply, const Error& e) {
  reply.set_status(e.status != 0 ? e.status : status::kInvalidParameter);
  reply.set_message(e.message);
}

void setError(v1::SessionReply& reply, uint32_t code, const std::string& message) {
  reply.set_status(code);
  reply.set_message(message);
}

// Runs `then` with the value of `r`, or puts its error into the reply.
template <typename T, typename F>
void with(v1::SessionReply& reply, Result<T>&& r, F&& then) {
  if (!r) {
    setError(reply, r.error());
  } else {
    then(std::move(*r));
  }
}

template <typename F>
void with(v1::SessionReply& reply, Result<void>&& r, F&& then) {
  if (!r) {
    setError(reply, r.error());
  } else {
    then();
  }
}

// Net-event enumeration handles live here, not in the engine: the log is the daemon's.
struct NetEventEnum {
  std::vector<v1::NetEvent> events;
  size_t next = 0;
};

}  // namespace

struct ControlService::SessionState {
  engine::SessionId id = 0;
  uint32_t pid = 0;
  std::map<uint64_t, NetEventEnum> netEventEnums;
  uint64_t nextNetEventHandle = 1;
};

ControlService::ControlService(ServiceParts parts) : p_(std::move(parts)) {}
ControlService::~ControlService() = default;

void ControlService::shutdown() {
  stopping_ = true;
}

grpc::Status ControlService::admit(grpc::ServerContext* context, uint32_t* pid) {
  auto peer = p_.socket != nullptr ? p_.socket->peer(context->peer()) : std::nullopt;
  if (!peer) {
    return {grpc::StatusCode::PERMISSION_DENIED,
            "xfpd: the caller's credentials are unknown (connect through the control socket)"};
  }
  if (!peer->mayManage) {
    return {grpc::StatusCode::PERMISSION_DENIED, peer->refusal};
  }
  *pid = static_cast<uint32_t>(peer->pid);
  return grpc::Status::OK;
}

bool ControlService::ownsSession(uint64_t sessionId, uint32_t pid, std::string* why) const {
  auto info = p_.engine->session(sessionId);
  if (!info) {
    *why = fmt::format("no open session {}", sessionId);
    return false;
  }
  if (info->options.processId != pid) {
    *why = fmt::format("session {} belongs to another process", sessionId);
    return false;
  }
  return true;
}

grpc::Status ControlService::Session(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::SessionReply, v1::SessionRequest>* stream) {
  uint32_t pid = 0;
  if (auto st = admit(context, &pid); !st.ok()) {
    return st;
  }
  v1::SessionRequest request;
  if (!stream->Read(&request)) {
    // Nothing readable: the client hung up at once, or sent bytes that are no SessionRequest
    // (gRPC ends the read on a message that does not parse).
    return {grpc::StatusCode::INVALID_ARGUMENT,
            "xfpd: a session stream must start with an open request (SessionRequest.open); "
            "nothing parsable arrived"};
  }
  v1::SessionReply reply;
  if (request.op_case() != v1::SessionRequest::kOpen) {
    setError(reply, status::kInvalidParameter, "the first request of a session must be open");
    stream->Write(reply);
    return grpc::Status::OK;
  }
  auto options = rpc::fromProto(request.open(), "open");
  if (!options) {
    setError(reply, options.error());
    stream->Write(reply);
    return grpc::Status::OK;
  }
  auto peer = p_.socket->peer(context->peer());
  options->processId = pid;
  options->uid = peer ? peer->uid : 0;
  options->username = peer ? peer->username : "";
  auto id = p_.engine->open(*options);
  if (!id) {
    setError(reply, id.error());
    stream->Write(reply);
    return grpc::Status::OK;
  }
  SessionState s;
  s.id = *id;
  s.pid = pid;
  if (auto info = p_.engine->session(s.id)) {
    *reply.mutable_session() = rpc::toProto(*info);
  }
  bool closed = false;
  if (stream->Write(reply)) {
    while (!stopping_ && stream->Read(&request)) {
      if (request.op_case() == v1::SessionRequest::kClose) {
        v1::SessionReply r;
        with(r, p_.engine->close(s.id), [] {});
        closed = true;
        stream->Write(r);
        break;
      }
      if (!stream->Write(handle(s, request))) {
        break;
      }
    }
  }
  if (!closed) {  // the client went away without FwpmEngineClose0: RPC rundown (§7.1)
    (void)p_.engine->clientDied(s.id);
  }
  return grpc::Status::OK;
}

v1::SessionReply ControlService::handle(SessionState& s, const v1::SessionRequest& q) {
  engine::Engine& e = *p_.engine;
  v1::SessionReply r;
  const auto key = [&](const std::string& bytes, const char* where) {
    return rpc::guidFromBytes(bytes, where);
  };
  switch (q.op_case()) {
    case v1::SessionRequest::kOpen:
      setError(r, status::kInvalidParameter, "this stream's session is open already");
      break;
    case v1::SessionRequest::kBegin:
      with(r, e.begin(s.id, q.begin()), [] {});
      break;
    case v1::SessionRequest::kCommit:
      with(r, e.commit(s.id), [] {});
      break;
    case v1::SessionRequest::kAbort:
      with(r, e.abort(s.id), [] {});
      break;

    case v1::SessionRequest::kAddProvider:
      with(r, rpc::fromProto(q.add_provider(), "add_provider"), [&](Provider v) {
        with(r, e.addProvider(s.id, std::move(v)), [] {});
      });
      break;
    case v1::SessionRequest::kDeleteProvider:
      with(r, key(q.delete_provider(), "delete_provider"), [&](Guid k) {
        with(r, e.deleteProvider(s.id, k), [] {});
      });
      break;
    case v1::SessionRequest::kGetProvider:
      with(r, key(q.get_provider(), "get_provider"), [&](Guid k) {
        with(r, e.getProvider(s.id, k), [&](Provider v) {
          *r.mutable_provider() = rpc::toProto(v);
        });
      });
      break;
    case v1::SessionRequest::kAddProviderContext:
      with(r,
           rpc::fromProto(q.add_provider_context(), "add_provider_context"),
           [&](ProviderContext v) {
             with(r, e.addProviderContext(s.id, std::move(v)), [&](uint64_t id) { r.set_id(id); });
           });
      break;
    case v1::SessionRequest::kDeleteProviderContext:
      with(r, key(q.delete_provider_context(), "delete_provider_context"), [&](Guid k) {
        with(r, e.deleteProviderContext(s.id, k), [] {});
      });
      break;
    case v1::SessionRequest::kGetProviderContext:
      with(r, key(q.get_provider_context(), "get_provider_context"), [&](Guid k) {
        with(r, e.getProviderContext(s.id, k), [&](ProviderContext v) {
          *r.mutable_provider_context() = rpc::toProto(v);
        });
      });
      break;
    case v1::SessionRequest::kAddSublayer:
      with(r, rpc::fromProto(q.add_sublayer(), "add_sublayer"), [&](Sublayer v) {
        with(r, e.addSublayer(s.id, std::move(v)), [] {});
      });
      break;
    case v1::SessionRequest::kDeleteSublayer:
      with(r, key(q.delete_sublayer(), "delete_sublayer"), [&](Guid k) {
        with(r, e.deleteSublayer(s.id, k), [] {});
      });
      break;
    case v1::SessionRequest::kGetSublayer:
      with(r, key(q.get_sublayer(), "get_sublayer"), [&](Guid k) {
        with(r, e.getSublayer(s.id, k), [&](Sublayer v) {
          *r.mutable_sublayer() = rpc::toProto(v);
        });
      });
      break;
    case v1::SessionRequest::kAddCallout:
      with(r, rpc::fromProto(q.add_callout(), "add_callout"), [&](Callout v) {
        with(r, e.addCallout(s.id, std::move(v)), [&](uint32_t id) { r.set_id(id); });
      });
      break;
    case v1::SessionRequest::kDeleteCallout:
      if (q.delete_callout().has_id()) {
        if (q.delete_callout().id() > UINT32_MAX) {
          setError(r, status::kCalloutNotFound, "delete_callout.id: no such callout id");
        } else {
          with(r, e.deleteCalloutById(s.id, uint32_t(q.delete_callout().id())), [] {});
        }
      } else {
        with(r, key(q.delete_callout().key(), "delete_callout.key"), [&](Guid k) {
          with(r, e.deleteCalloutByKey(s.id, k), [] {});
        });
      }
      break;
    case v1::SessionRequest::kGetCallout: {
      const auto put = [&](Callout v) { *r.mutable_callout() = rpc::toProto(v); };
      if (q.get_callout().has_id()) {
        if (q.get_callout().id() > UINT32_MAX) {
          setError(r, status::kCalloutNotFound, "get_callout.id: no such callout id");
        } else {
          with(r, e.getCalloutById(s.id, uint32_t(q.get_callout().id())), put);
        }
      } else {
        with(r, key(q.get_callout().key(), "get_callout.key"), [&](Guid k) {
          with(r, e.getCalloutByKey(s.id, k), put);
        });
      }
      break;
    }
    case v1::SessionRequest::kAddFilter:
      with(r, rpc::fromProto(q.add_filter(), "add_filter"), [&](Filter v) {
        with(r, e.addFilter(s.id, std::move(v)), [&](uint64_t id) { r.set_id(id); });
      });
      break;
    case v1::SessionRequest::kDeleteFilter:
      if (q.delete_filter().has_id()) {
        with(r, e.deleteFilterById(s.id, q.delete_filter().id()), [] {});
      } else {
        with(r, key(q.delete_filter().key(), "delete_filter.key"), [&](Guid k) {
          with(r, e.deleteFilterByKey(s.id, k), [] {});
        });
      }
      break;
    case v1::SessionRequest::kGetFilter: {
      const auto put = [&](Filter v) { *r.mutable_filter() = rpc::toProto(v); };
      if (q.get_filter().has_id()) {
        with(r, e.getFilterById(s.id, q.get_filter().id()), put);
      } else {
        with(r, key(q.get_filter().key(), "get_filter.key"), [&](Guid k) {
          with(r, e.getFilterByKey(s.id, k), put);
        });
      }
      break;
    }

    case v1::SessionRequest::kCreateEnum: {
      const v1::CreateEnum& c = q.create_enum();
      const auto put = [&](uint64_t h) { r.set_id(h); };
      switch (c.kind()) {
        case v1::OBJECT_KIND_FILTER:
          if (c.has_filter_template()) {
            with(r,
                 rpc::fromProto(c.filter_template(), "create_enum.filter_template"),
                 [&](engine::FilterEnumTemplate t) {
                   with(r, e.createFilterEnumHandle(s.id, &t), put);
                 });
          } else {
            with(r, e.createFilterEnumHandle(s.id, nullptr), put);
          }
          break;
        case v1::OBJECT_KIND_PROVIDER:
          with(r, e.createProviderEnumHandle(s.id), put);
          break;
        case v1::OBJECT_KIND_SUBLAYER:
          if (c.has_sublayer_template()) {
            with(r,
                 rpc::fromProto(c.sublayer_template(), "create_enum.sublayer_template"),
                 [&](engine::SublayerEnumTemplate t) {
                   with(r, e.createSublayerEnumHandle(s.id, &t), put);
                 });
          } else {
            with(r, e.createSublayerEnumHandle(s.id, nullptr), put);
          }
          break;
        case v1::OBJECT_KIND_CALLOUT:
          if (c.has_callout_template()) {
            with(r,
                 rpc::fromProto(c.callout_template(), "create_enum.callout_template"),
                 [&](engine::CalloutEnumTemplate t) {
                   with(r, e.createCalloutEnumHandle(s.id, &t), put);
                 });
          } else {
            with(r, e.createCalloutEnumHandle(s.id, nullptr), put);
          }
          break;
        case v1::OBJECT_KIND_NET_EVENT:
          with(r, NetEventFilter::fromProto(c.net_event_template()), [&](const NetEventFilter& f) {
            const uint64_t h = s.nextNetEventHandle++;
            s.netEventEnums[h].events = p_.events->snapshot(f);
            put(h);
          });
          break;
        default:
          setError(
              r,
              status::kInvalidEnumerator,
              fmt::format("create_enum.kind {}: not an enumerable object kind", int(c.kind())));
      }
      break;
    }
    case v1::SessionRequest::kEnumNext: {
      const v1::EnumNext& n = q.enum_next();
      v1::EnumEntries* out = r.mutable_entries();
      switch (n.kind()) {
        case v1::OBJECT_KIND_FILTER:
          with(r, e.enumFilters(s.id, n.handle(), n.count()), [&](std::vector<Filter> v) {
            for (const Filter& f : v) {
              *out->add_filters() = rpc::toProto(f);
            }
          });
          break;
        case v1::OBJECT_KIND_PROVIDER:
          with(r, e.enumProviders(s.id, n.handle(), n.count()), [&](std::vector<Provider> v) {
            for (const Provider& x : v) {
              *out->add_providers() = rpc::toProto(x);
            }
          });
          break;
        case v1::OBJECT_KIND_SUBLAYER:
          with(r, e.enumSublayers(s.id, n.handle(), n.count()), [&](std::vector<Sublayer> v) {
            for (const Sublayer& x : v) {
              *out->add_sublayers() = rpc::toProto(x);
            }
          });
          break;
        case v1::OBJECT_KIND_CALLOUT:
          with(r, e.enumCallouts(s.id, n.handle(), n.count()), [&](std::vector<Callout> v) {
            for (const Callout& x : v) {
              *out->add_callouts() = rpc::toProto(x);
            }
          });
          break;
        case v1::OBJECT_KIND_NET_EVENT: {
          auto it = s.netEventEnums.find(n.handle());
          if (it == s.netEventEnums.end()) {
            setError(r, status::kInvalidParameter, "enum_next: no such net event enumeration");
            break;
          }
          NetEventEnum& ne = it->second;
          const size_t end = std::min(ne.events.size(), ne.next + n.count());
          for (; ne.next < end; ++ne.next) {
            *out->add_net_events() = ne.events[ne.next];
          }
          break;
        }
        default:
          setError(r, status::kInvalidEnumerator, "enum_next.kind: not an enumerable kind");
      }
      break;
    }
    case v1::SessionRequest::kDestroyEnum: {
      const v1::DestroyEnum& d = q.destroy_enum();
      switch (d.kind()) {
        case v1::OBJECT_KIND_FILTER:
          with(r, e.destroyFilterEnumHandle(s.id, d.handle()), [] {});
          break;
        case v1::OBJECT_KIND_PROVIDER:
          with(r, e.destroyProviderEnumHandle(s.id, d.handle()), [] {});
          break;
        case v1::OBJECT_KIND_SUBLAYER:
          with(r, e.destroySublayerEnumHandle(s.id, d.handle()), [] {});
          break;
        case v1::OBJECT_KIND_CALLOUT:
          with(r, e.destroyCalloutEnumHandle(s.id, d.handle()), [] {});
          break;
        case v1::OBJECT_KIND_NET_EVENT:
          if (s.netEventEnums.erase(d.handle()) == 0) {
            setError(r, status::kInvalidParameter, "destroy_enum: no such net event enumeration");
          }
          break;
        default:
          setError(r, status::kInvalidEnumerator, "destroy_enum.kind: not an enumerable kind");
      }
      break;
    }
    case v1::SessionRequest::kUnsubscribeFilterChanges:
      with(r, e.unsubscribeFilterChanges(s.id, q.unsubscribe_filter_changes()), [] {});
      break;
    case v1::SessionRequest::kFilterSubscriptions:
      with(r, e.filterSubscriptions(s.id), [&](std::vector<engine::FilterSubscription> v) {
        v1::Subscriptions* out = r.mutable_subscriptions();
        for (const auto& x : v) {
          *out->add_subscriptions() = rpc::toProto(x);
        }
      });
      break;

    case v1::SessionRequest::kCounters: {
      v1::Counters* out = r.mutable_counters();
      std::vector<uint64_t> ids(q.counters().filter_ids().begin(), q.counters().filter_ids().end());
      if (ids.empty()) {
        for (const auto& [id, f] : e.committed()->filters()) {
          ids.push_back(id);
        }
      }
      for (uint64_t id : ids) {
        auto c = p_.fastPath->counters(id);
        v1::FilterCounter* fc = out->add_filters();
        fc->set_filter_id(id);
        if (c) {
          fc->set_packets(c->packets);
          fc->set_bytes(c->bytes);
        }
      }
      for (int slot = 0; slot < XFP_LS_COUNT; ++slot) {
        auto st = p_.fastPath->layerStats(static_cast<uint32_t>(slot));
        if (!st) {
          continue;
        }
        const LayerInfo* l = layerById(fastpath::layerIdOf(slot));
        v1::LayerCounter* lc = out->add_layers();
        lc->set_layer(l != nullptr ? std::string(l->name) : std::to_string(slot));
        lc->set_permitted(st->verdict[XFP_VERDICT_NO_MATCH] + st->verdict[XFP_VERDICT_NONE] +
                          st->verdict[XFP_VERDICT_PERMIT]);
        lc->set_blocked(st->verdict[XFP_VERDICT_BLOCK]);
        lc->set_punted(st->verdict[XFP_VERDICT_PUNT]);
      }
      if (auto ev = p_.fastPath->netEventCounts()) {
        out->set_net_events_emitted(ev->emitted);
        out->set_net_events_suppressed(ev->suppressed);
      }
      break;
    }
    case v1::SessionRequest::kExplain: {
      const v1::ExplainRequest& x = q.explain();
      const LayerInfo* layer = layerByName(x.layer());
      if (layer == nullptr || !layer->hasSchema()) {
        setError(r,
                 status::kLayerNotFound,
                 fmt::format("explain.layer \"{}\": no such layer (xfpctl layers lists them)",
                             x.layer()));
        break;
      }
      auto in = parseIncomingValues(*layer, x.packet());
      if (!in) {
        setError(r, in.error().status, "explain.packet: " + in.error().message);
        break;
      }
      std::shared_ptr<const Policy> policy = e.committed();
      ctl::ScriptedCallouts callouts;
      bool bad = false;
      for (const std::string& spec : x.callouts()) {
        const size_t eq = spec.rfind('=');
        const std::string name = eq == std::string::npos ? spec : spec.substr(0, eq);
        const Callout* found = nullptr;
        for (const auto& [k, c] : policy->callouts()) {
          if ((c.displayData.name && *c.displayData.name == name) || k.toString() == name) {
            found = &c;
          }
        }
        auto answer = eq == std::string::npos
                          ? Result<ctl::ScriptedAnswer>(tl::unexpected(
                                Error{status::kInvalidParameter, "expected NAME=ANSWER"}))
                          : ctl::parseScriptedAnswer(spec.substr(eq + 1));
        if (found == nullptr || !answer) {
          setError(r,
                   status::kInvalidParameter,
                   fmt::format("explain.callouts \"{}\": {}",
                               spec,
                               found == nullptr ? "no such callout in the live policy"
                                                : answer.error().message));
          bad = true;
          break;
        }
        callouts.registerCallout(found->calloutId, *answer);
      }
      if (bad) {
        break;
      }
      auto result = classify(*policy, *in, IncomingMetadata{}, callouts);
      if (!result) {
        setError(r, result.error());
        break;
      }
      r.mutable_explain()->set_text(ctl::explainText(*policy, *layer, *in, *result));
      r.mutable_explain()->set_json(ctl::explainJson(*policy, *layer, *in, *result).dump());
      break;
    }
    case v1::SessionRequest::kPluginLoad: {
      std::filesystem::path path = q.plugin_load().path();
      if (path.empty()) {
        setError(r, status::kInvalidParameter, "plugin_load.path: empty");
        break;
      }
      if (path.is_relative()) {
        path = std::filesystem::path(p_.pluginDir) / path;
      }
      with(r, p_.runtime->plugins().load(path.string(), q.plugin_load().parameters()), [&] {
        spdlog::info("plugin {} loaded (session {})", path.string(), s.id);
      });
      break;
    }
    case v1::SessionRequest::kPluginUnload: {
      std::string name = q.plugin_unload();
      for (const auto& info : p_.runtime->plugins().list()) {
        if (info.path == name) {
          name = info.name;
        }
      }
      with(r, p_.runtime->plugins().unload(name), [&] {
        spdlog::info("plugin {} unloaded (session {})", name, s.id);
      });
      break;
    }
    case v1::SessionRequest::kPluginList:
      for (const auto& info : p_.runtime->plugins().list()) {
        v1::PluginInfo* pi = r.mutable_plugins()->add_plugins();
        pi->set_name(info.name);
        pi->set_path(info.path);
        for (uint32_t id : info.calloutIds) {
          pi->add_callout_ids(id);
        }
      }
      r.mutable_plugins();  // an empty list is still an answer
      break;
    case v1::SessionRequest::kStatus: {
      v1::EngineStatus* st = r.mutable_engine_status();
      st->set_generation(e.generation());
      st->set_filters(e.committed()->filters().size());
      for (const std::string& i : p_.interfaces) {
        st->add_interfaces(i);
      }
      for (const auto& info : e.sessions()) {
        *st->add_sessions() = rpc::toProto(info);
      }
      st->set_daemon_pid(static_cast<uint32_t>(::getpid()));
      st->set_adopted(p_.adopted);
      break;
    }
    case v1::SessionRequest::kClose:  // handled by Session()
    case v1::SessionRequest::OP_NOT_SET:
      setError(r, status::kInvalidParameter, "empty request: no operation set");
      break;
  }
  return r;
}

grpc::Status ControlService::SubscribeFilterChanges(
    grpc::ServerContext* context,
    const v1::SubscribeFilterChangesRequest* request,
    grpc::ServerWriter<v1::FilterChangeMessage>* writer) {
  uint32_t pid = 0;
  if (auto st = admit(context, &pid); !st.ok()) {
    return st;
  }
  v1::FilterChangeMessage first;
  std::string why;
  if (!ownsSession(request->session_id(), pid, &why)) {
    first.set_status(engine::engine_status::kInvalidHandle);
    first.set_message(why);
    writer->Write(first);
    return grpc::Status::OK;
  }
  auto sub = rpc::fromProto(request->subscription(), "subscription");
  if (!sub) {
    first.set_status(sub.error().status);
    first.set_message(sub.error().message);
    writer->Write(first);
    return grpc::Status::OK;
  }
  struct Queue {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<engine::FilterChange> changes;
  };
  auto queue = std::make_shared<Queue>();
  const engine::SessionId session = request->session_id();
  auto handle =
      p_.engine->subscribeFilterChanges(session, *sub, [queue](const engine::FilterChange& c) {
        {
          std::lock_guard lock(queue->mu);
          if (queue->changes.size() < 65536) {  // unreliable by definition (§7.6): bounded
            queue->changes.push_back(c);
          }
        }
        queue->cv.notify_one();
      });
  if (!handle) {
    first.set_status(handle.error().status);
    first.set_message(handle.error().message);
    writer->Write(first);
    return grpc::Status::OK;
  }
  first.set_handle(*handle);
  bool open = writer->Write(first);
  while (open && !stopping_ && !context->IsCancelled()) {
    std::deque<engine::FilterChange> batch;
    {
      std::unique_lock lock(queue->mu);
      queue->cv.wait_for(lock, kStreamPoll, [&] { return !queue->changes.empty(); });
      batch.swap(queue->changes);
    }
    for (const auto& c : batch) {
      v1::FilterChangeMessage m;
      m.set_handle(*handle);
      m.set_change_type(static_cast<uint32_t>(c.changeType));
      m.set_filter_key(rpc::guidToBytes(c.filterKey));
      m.set_filter_id(c.filterId);
      open = open && writer->Write(m);
    }
    if (!p_.engine->session(session)) {
      break;  // the session ended: so did its subscriptions
    }
  }
  (void)p_.engine->unsubscribeFilterChanges(session, *handle);
  return grpc::Status::OK;
}

grpc::Status ControlService::NetEvents(grpc::ServerContext* context,
                                       const v1::NetEventsRequest* request,
                                       grpc::ServerWriter<v1::NetEventMessage>* writer) {
  uint32_t pid = 0;
  if (auto st = admit(context, &pid); !st.ok()) {
    return st;
  }
  v1::NetEventMessage first;
  auto filter = NetEventFilter::fromProto(request->template_());
  if (!filter) {
    first.set_status(filter.error().status);
    first.set_message(filter.error().message);
    writer->Write(first);
    return grpc::Status::OK;
  }
  // Subscribe before reading the history so nothing falls between them.
  auto sub = request->follow() ? p_.events->subscribe(*filter) : nullptr;
  bool open = writer->Write(first);
  if (open && request->history()) {
    for (const auto& ev : p_.events->snapshot(*filter)) {
      v1::NetEventMessage m;
      *m.mutable_event() = ev;
      open = open && writer->Write(m);
    }
  }
  while (sub && open && !stopping_ && !context->IsCancelled()) {
    std::deque<v1::NetEvent> batch;
    {
      std::unique_lock lock(sub->mu);
      sub->cv.wait_for(lock, kStreamPoll, [&] { return !sub->queue.empty(); });
      batch.swap(sub->queue);
    }
    for (auto& ev : batch) {
      v1::NetEventMessage m;
      *m.mutable_event() = std::move(ev);
      open = open && writer->Write(m);
    }
  }
  if (sub) {
    p_.events->unsubscribe(sub);
  }
  return grpc::Status::OK;
}

}  // namespace xfp::daemon
