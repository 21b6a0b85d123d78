// The Fwpm* C functions of fwpmu.h: argument checks, FWPM C structs -> core objects
// (fwpm_convert) -> proto (userspace/rpc/codec), one request on the handle's session stream
// (engine_session), and the reply back to C. Nothing here throws across the C boundary.

// This translation unit defines (and libxfpm.so exports) the GUIDs of fwpm_guids.h.
#define INITGUID
#include <fwpmu.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "userspace/client/engine_session.h"
#include "userspace/client/fwpm_convert.h"
#include "userspace/client/net_event_convert.h"
#include "userspace/core/wfp_constants.h"
#include "userspace/rpc/codec.h"

namespace xfp::client {
namespace {

// FWPM_PROVIDER_CONTEXT1/2 are FWPM_PROVIDER_CONTEXT0 with other IPsec pointee types only.
static_assert(sizeof(FWPM_PROVIDER_CONTEXT1) == sizeof(FWPM_PROVIDER_CONTEXT0));
static_assert(sizeof(FWPM_PROVIDER_CONTEXT2) == sizeof(FWPM_PROVIDER_CONTEXT0));
static_assert(offsetof(FWPM_PROVIDER_CONTEXT2, dataBuffer) ==
              offsetof(FWPM_PROVIDER_CONTEXT0, dataBuffer));
static_assert(offsetof(FWPM_PROVIDER_CONTEXT2, providerContextId) ==
              offsetof(FWPM_PROVIDER_CONTEXT0, providerContextId));

thread_local std::string tLastError;

DWORD succeed() {
  tLastError.clear();
  return ERROR_SUCCESS;
}

DWORD failWith(const Error& e) {
  // A failure without a code would read as success to the caller.
  const DWORD code = e.status != 0 ? e.status : RPC_E_INVALID_DATA;
  tLastError = e.message.empty() ? std::string(statusName(code)) : e.message;
  return code;
}

DWORD failWith(DWORD code, std::string message) {
  return failWith(Error{code, std::move(message)});
}

// Runs one API call; a C++ exception (memory, threads) becomes a status.
template <class F>
DWORD guarded(F&& f) noexcept {
  try {
    return f();
  } catch (const std::bad_alloc&) {
    return failWith(ERROR_NOT_ENOUGH_MEMORY, "out of memory");
  } catch (const std::system_error& e) {
    return failWith(ERROR_NOT_ENOUGH_MEMORY, fmt::format("out of resources: {}", e.what()));
  } catch (const std::exception& e) {
    return failWith(RPC_E_SERVERFAULT, fmt::format("internal error in libxfpm: {}", e.what()));
  } catch (...) {
    return failWith(RPC_E_SERVERFAULT, "internal error in libxfpm");
  }
}

// ---- engine handles ----

// Open engine handles by number (a HANDLE is the number, never reused, so a stale handle is
// refused rather than reaching another session). Never destroyed: sessions still open at exit
// end when the process's connections close (the service treats that as the client's death).
struct Registry {
  std::mutex mu;
  std::unordered_map<uint64_t, std::shared_ptr<EngineSession>> sessions;
  uint64_t next = 1;
};

Registry& registry() {
  static auto* r = new Registry;
  return *r;
}

uint64_t handleNumber(HANDLE h) {
  return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(h));
}
HANDLE handleOf(uint64_t n) {
  return reinterpret_cast<HANDLE>(static_cast<uintptr_t>(n));
}

Error invalidEngineHandle() {
  return Error{HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE), "not an open engine handle"};
}

Result<std::shared_ptr<EngineSession>> session(HANDLE h) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.sessions.find(handleNumber(h));
  if (it == r.sessions.end()) {
    return tl::unexpected(invalidEngineHandle());
  }
  return it->second;
}

// ---- helpers ----

Error nullArgument(const char* name) {
  return Error{FWP_E_NULL_POINTER, fmt::format("{} is NULL", name)};
}

Error invalidData(const std::string& what, const Error& e) {
  return Error{RPC_E_INVALID_DATA, fmt::format("xfpd's {}: {}", what, e.message)};
}

Result<void> noSecurityDescriptor(PSECURITY_DESCRIPTOR sd) {
  if (sd != nullptr) {
    return fail(FWP_E_INVALID_PARAMETER,
                "object security descriptors are not supported: pass NULL (access to xfpd is "
                "by its socket's group)");
  }
  return {};
}

// One request on the handle's session; returns the reply or the error as a status.
template <class Fill>
Result<v1::SessionReply> request(HANDLE h, Fill&& fill) {
  auto s = session(h);
  if (!s) {
    return tl::unexpected(s.error());
  }
  v1::SessionRequest req;
  fill(req);
  return (*s)->call(req);
}

// The key of a *ByKey call.
Result<std::string> keyBytes(const GUID* key) {
  if (key == nullptr) {
    return tl::unexpected(nullArgument("key"));
  }
  return rpc::guidToBytes(guidFromC(*key));
}

DWORD done(const Result<v1::SessionReply>& reply) {
  return reply ? succeed() : failWith(reply.error());
}

// An object a get call returns (`msg`: the reply's, nullptr when missing): decoded, then one C
// block.
template <class C, class Msg, class ToC>
DWORD returnObject(
    const Result<v1::SessionReply>& reply, const Msg* msg, const char* what, ToC toC, C** out) {
  if (!reply) {
    return failWith(reply.error());
  }
  if (msg == nullptr) {
    return failWith(RPC_E_INVALID_DATA, fmt::format("xfpd answered without the {}", what));
  }
  auto object = rpc::fromProto(*msg, what);
  if (!object) {
    return failWith(invalidData(what, object.error()));
  }
  C* c = toC(*object);
  if (c == nullptr) {
    return failWith(ERROR_NOT_ENOUGH_MEMORY, "out of memory");
  }
  *out = c;
  return succeed();
}

// ---- enumeration ----

template <class Fill>
DWORD createEnum(HANDLE h, v1::ObjectKind kind, Fill&& fillTemplate, HANDLE* enumHandle) {
  if (enumHandle == nullptr) {
    return failWith(nullArgument("enumHandle"));
  }
  auto reply = request(h, [&](v1::SessionRequest& r) {
    v1::CreateEnum* c = r.mutable_create_enum();
    c->set_kind(kind);
    fillTemplate(*c);
  });
  if (!reply) {
    return failWith(reply.error());
  }
  if (reply->result_case() != v1::SessionReply::kId || reply->id() == 0) {
    return failWith(RPC_E_INVALID_DATA, "xfpd answered create_enum without a handle");
  }
  *enumHandle = handleOf(reply->id());
  return succeed();
}

// Decodes a page of entries and returns it as one C block.
template <class C, class Msgs, class ToC>
DWORD returnEntries(
    const Msgs& msgs, const char* what, ToC toC, C*** entries, UINT32* numEntriesReturned) {
  using Object = typename decltype(rpc::fromProto(msgs.Get(0)))::value_type;
  std::vector<Object> objects;
  objects.reserve(static_cast<size_t>(msgs.size()));
  for (int i = 0; i < msgs.size(); ++i) {
    auto object = rpc::fromProto(msgs.Get(i), what);
    if (!object) {
      return failWith(invalidData(what, object.error()));
    }
    objects.push_back(std::move(*object));
  }
  C** out = toC(objects);
  if (out == nullptr && !objects.empty()) {
    return failWith(ERROR_NOT_ENOUGH_MEMORY, "out of memory");
  }
  *entries = out;
  *numEntriesReturned = static_cast<UINT32>(objects.size());
  return succeed();
}

template <class C, class Page>
DWORD enumNext(HANDLE h,
               v1::ObjectKind kind,
               HANDLE enumHandle,
               UINT32 numEntriesRequested,
               C*** entries,
               UINT32* numEntriesReturned,
               Page&& page) {
  if (entries == nullptr) {
    return failWith(nullArgument("entries"));
  }
  if (numEntriesReturned == nullptr) {
    return failWith(nullArgument("numEntriesReturned"));
  }
  auto reply = request(h, [&](v1::SessionRequest& r) {
    v1::EnumNext* n = r.mutable_enum_next();
    n->set_kind(kind);
    n->set_handle(handleNumber(enumHandle));
    n->set_count(numEntriesRequested);
  });
  if (!reply) {
    return failWith(reply.error());
  }
  // An empty page may come without the (empty) entries message.
  return page(reply->entries(), entries, numEntriesReturned);
}

DWORD destroyEnum(HANDLE h, v1::ObjectKind kind, HANDLE enumHandle) {
  return done(request(h, [&](v1::SessionRequest& r) {
    v1::DestroyEnum* d = r.mutable_destroy_enum();
    d->set_kind(kind);
    d->set_handle(handleNumber(enumHandle));
  }));
}

// ---- one skeleton per call, parameterised by the object kind ----

// What the add/delete/get/enum calls of one object kind differ in: the C and core types, the
// converters, and which request and reply members carry them. Members a kind has no call for
// stay null (provider contexts are not enumerated here; only callouts and filters have ids).
template <class C, class Obj, class Msg>
struct Kind {
  const char* what;  // the reply member, for errors
  Result<Obj> (*fromC)(const C*);
  C* (*toC)(const Obj&);
  void (*add)(v1::SessionRequest&, const Obj&);
  void (*deleteKey)(v1::SessionRequest&, const std::string&);
  void (*getKey)(v1::SessionRequest&, const std::string&);
  void (*deleteId)(v1::SessionRequest&, UINT64);
  void (*getId)(v1::SessionRequest&, UINT64);
  // The object in a get reply, nullptr when the reply lacks it.
  const Msg* (*answer)(const v1::SessionReply&);
  v1::ObjectKind kind;
  C** (*manyToC)(const std::vector<Obj>&);
  const google::protobuf::RepeatedPtrField<Msg>& (*entries)(const v1::EnumEntries&);
};

constexpr Kind<FWPM_PROVIDER0, Provider, v1::Provider> kProvider{
    "provider",
    providerFromC,
    providerToC,
    [](v1::SessionRequest& r, const Provider& p) { *r.mutable_add_provider() = rpc::toProto(p); },
    [](v1::SessionRequest& r, const std::string& k) { r.set_delete_provider(k); },
    [](v1::SessionRequest& r, const std::string& k) { r.set_get_provider(k); },
    nullptr,
    nullptr,
    [](const v1::SessionReply& r) { return r.has_provider() ? &r.provider() : nullptr; },
    v1::OBJECT_KIND_PROVIDER,
    providersToC,
    [](const v1::EnumEntries& e) -> decltype(auto) { return e.providers(); }};

constexpr Kind<FWPM_PROVIDER_CONTEXT0, ProviderContext, v1::ProviderContext> kProviderContext{
    "provider_context",
    providerContextFromC,
    providerContextToC,
    [](v1::SessionRequest& r, const ProviderContext& c) {
      *r.mutable_add_provider_context() = rpc::toProto(c);
    },
    [](v1::SessionRequest& r, const std::string& k) { r.set_delete_provider_context(k); },
    [](v1::SessionRequest& r, const std::string& k) { r.set_get_provider_context(k); },
    nullptr,
    nullptr,
    [](const v1::SessionReply& r) {
      return r.has_provider_context() ? &r.provider_context() : nullptr;
    },
    v1::OBJECT_KIND_PROVIDER_CONTEXT,
    nullptr,
    nullptr};

constexpr Kind<FWPM_SUBLAYER0, Sublayer, v1::Sublayer> kSublayer{
    "sublayer",
    sublayerFromC,
    sublayerToC,
    [](v1::SessionRequest& r, const Sublayer& s) { *r.mutable_add_sublayer() = rpc::toProto(s); },
    [](v1::SessionRequest& r, const std::string& k) { r.set_delete_sublayer(k); },
    [](v1::SessionRequest& r, const std::string& k) { r.set_get_sublayer(k); },
    nullptr,
    nullptr,
    [](const v1::SessionReply& r) { return r.has_sublayer() ? &r.sublayer() : nullptr; },
    v1::OBJECT_KIND_SUBLAYER,
    sublayersToC,
    [](const v1::EnumEntries& e) -> decltype(auto) { return e.sublayers(); }};

constexpr Kind<FWPM_CALLOUT0, Callout, v1::Callout> kCallout{
    "callout",
    calloutFromC,
    calloutToC,
    [](v1::SessionRequest& r, const Callout& c) { *r.mutable_add_callout() = rpc::toProto(c); },
    [](v1::SessionRequest& r, const std::string& k) { r.mutable_delete_callout()->set_key(k); },
    [](v1::SessionRequest& r, const std::string& k) { r.mutable_get_callout()->set_key(k); },
    [](v1::SessionRequest& r, UINT64 id) { r.mutable_delete_callout()->set_id(id); },
    [](v1::SessionRequest& r, UINT64 id) { r.mutable_get_callout()->set_id(id); },
    [](const v1::SessionReply& r) { return r.has_callout() ? &r.callout() : nullptr; },
    v1::OBJECT_KIND_CALLOUT,
    calloutsToC,
    [](const v1::EnumEntries& e) -> decltype(auto) { return e.callouts(); }};

constexpr Kind<FWPM_FILTER0, Filter, v1::Filter> kFilter{
    "filter",
    filterFromC,
    filterToC,
    [](v1::SessionRequest& r, const Filter& f) { *r.mutable_add_filter() = rpc::toProto(f); },
    [](v1::SessionRequest& r, const std::string& k) { r.mutable_delete_filter()->set_key(k); },
    [](v1::SessionRequest& r, const std::string& k) { r.mutable_get_filter()->set_key(k); },
    [](v1::SessionRequest& r, UINT64 id) { r.mutable_delete_filter()->set_id(id); },
    [](v1::SessionRequest& r, UINT64 id) { r.mutable_get_filter()->set_id(id); },
    [](const v1::SessionReply& r) { return r.has_filter() ? &r.filter() : nullptr; },
    v1::OBJECT_KIND_FILTER,
    filtersToC,
    [](const v1::EnumEntries& e) -> decltype(auto) { return e.filters(); }};

// *Add0: no security descriptor, the C struct converted, one add request; the new object's id
// (UINT32 for callouts, UINT64 otherwise) goes to *id when the call has one and it is not NULL.
template <class C, class Obj, class Msg, class Id = UINT64>
DWORD addObject(
    HANDLE h, const Kind<C, Obj, Msg>& k, const C* c, PSECURITY_DESCRIPTOR sd, Id* id = nullptr) {
  if (auto r = noSecurityDescriptor(sd); !r) {
    return failWith(r.error());
  }
  auto object = k.fromC(c);
  if (!object) {
    return failWith(object.error());
  }
  auto reply = request(h, [&](v1::SessionRequest& r) { k.add(r, *object); });
  if (!reply) {
    return failWith(reply.error());
  }
  if (id != nullptr) {
    *id = static_cast<Id>(reply->id());
  }
  return succeed();
}

// FwpmProviderContextAdd0/1/2: CONTEXT1 and CONTEXT2 are CONTEXT0 with other IPsec pointee
// types only (checked at the top).
template <class Context>
DWORD providerContextAdd(HANDLE h, const Context* c, PSECURITY_DESCRIPTOR sd, UINT64* id) {
  return guarded([&] {
    return addObject(
        h, kProviderContext, reinterpret_cast<const FWPM_PROVIDER_CONTEXT0*>(c), sd, id);
  });
}

// A request naming its object by key: the key checked, then set by `set`.
Result<v1::SessionReply> keyRequest(HANDLE h,
                                    const GUID* key,
                                    void (*set)(v1::SessionRequest&, const std::string&)) {
  auto k = keyBytes(key);
  if (!k) {
    return tl::unexpected(k.error());
  }
  return request(h, [&](v1::SessionRequest& r) { set(r, *k); });
}

Result<v1::SessionReply> idRequest(HANDLE h, UINT64 id, void (*set)(v1::SessionRequest&, UINT64)) {
  return request(h, [&](v1::SessionRequest& r) { set(r, id); });
}

// *Get*0: the out pointer checked (named `outName` in the error), `send` run, the answer
// returned as one C block.
template <class C, class Obj, class Msg, class Send>
DWORD getObject(const Kind<C, Obj, Msg>& k, C** out, const char* outName, Send&& send) {
  if (out == nullptr) {
    return failWith(nullArgument(outName));
  }
  auto reply = send();
  const Msg* m = reply ? k.answer(*reply) : nullptr;
  return returnObject(reply, m, k.what, k.toC, out);
}

// *Enum0 of an object kind: one page as one C block.
template <class C, class Obj, class Msg>
DWORD enumObjects(HANDLE h,
                  const Kind<C, Obj, Msg>& k,
                  HANDLE enumHandle,
                  UINT32 numEntriesRequested,
                  C*** entries,
                  UINT32* numEntriesReturned) {
  return enumNext(h,
                  k.kind,
                  enumHandle,
                  numEntriesRequested,
                  entries,
                  numEntriesReturned,
                  [&](const v1::EnumEntries& e, C*** out, UINT32* n) {
                    return returnEntries(k.entries(e), k.what, k.manyToC, out, n);
                  });
}

}  // namespace
}  // namespace xfp::client

using namespace xfp::client;  // NOLINT(google-build-using-namespace): the C functions below
namespace rpc = xfp::rpc;
namespace v1 = xfp::v1;

extern "C" {

// ---- memory ----

void FwpmFreeMemory0(void** p) {
  if (p != nullptr) {
    std::free(*p);
    *p = nullptr;
  }
}

const char* XfpmLastErrorMessage(void) {
  return tLastError.c_str();
}

// ---- sessions and transactions ----

DWORD FwpmEngineOpen0(const WCHAR* serverName,
                      UINT32 authnService,
                      SEC_WINNT_AUTH_IDENTITY_W* authIdentity,
                      const FWPM_SESSION0* session,
                      HANDLE* engineHandle) {
  return guarded([&]() -> DWORD {
    if (engineHandle == nullptr) {
      return failWith(nullArgument("engineHandle"));
    }
    if (serverName != nullptr) {
      return failWith(FWP_E_INVALID_PARAMETER,
                      "serverName must be NULL: xfp serves the local engine only");
    }
    if (authnService != RPC_C_AUTHN_WINNT && authnService != RPC_C_AUTHN_DEFAULT) {
      return failWith(FWP_E_INVALID_PARAMETER,
                      fmt::format("authnService {} is neither RPC_C_AUTHN_WINNT nor "
                                  "RPC_C_AUTHN_DEFAULT",
                                  authnService));
    }
    if (authIdentity != nullptr) {
      return failWith(FWP_E_INVALID_PARAMETER,
                      "authIdentity must be NULL: xfpd knows the caller by the socket's peer "
                      "credentials");
    }
    auto options = sessionOptionsFromC(session);
    if (!options) {
      return failWith(options.error());
    }
    auto opened = EngineSession::open(serviceSocketPath(), *options);
    if (!opened) {
      return failWith(opened.error());
    }
    Registry& r = registry();
    std::lock_guard<std::mutex> lock(r.mu);
    const uint64_t n = r.next++;
    r.sessions.emplace(n, std::move(*opened));
    *engineHandle = handleOf(n);
    return succeed();
  });
}

DWORD FwpmEngineClose0(HANDLE engineHandle) {
  return guarded([&]() -> DWORD {
    std::shared_ptr<EngineSession> s;
    {
      Registry& r = registry();
      std::lock_guard<std::mutex> lock(r.mu);
      auto it = r.sessions.find(handleNumber(engineHandle));
      if (it == r.sessions.end()) {
        return failWith(invalidEngineHandle());
      }
      s = std::move(it->second);
      r.sessions.erase(it);
    }
    auto closed = s->close();
    return closed ? succeed() : failWith(closed.error());
  });
}

DWORD FwpmTransactionBegin0(HANDLE engineHandle, UINT32 flags) {
  return guarded([&] {
    return done(request(engineHandle, [&](v1::SessionRequest& r) { r.set_begin(flags); }));
  });
}

DWORD FwpmTransactionCommit0(HANDLE engineHandle) {
  return guarded([&] {
    return done(request(engineHandle, [](v1::SessionRequest& r) { r.mutable_commit(); }));
  });
}

DWORD FwpmTransactionAbort0(HANDLE engineHandle) {
  return guarded([&] {
    return done(request(engineHandle, [](v1::SessionRequest& r) { r.mutable_abort(); }));
  });
}

// ---- providers, provider contexts, sublayers, callouts, filters ----
// Each call is the skeleton of its shape above with the object kind's constant.

DWORD FwpmProviderAdd0(HANDLE engineHandle,
                       const FWPM_PROVIDER0* provider,
                       PSECURITY_DESCRIPTOR sd) {
  return guarded([&] { return addObject(engineHandle, kProvider, provider, sd); });
}

DWORD FwpmProviderDeleteByKey0(HANDLE engineHandle, const GUID* key) {
  return guarded([&] { return done(keyRequest(engineHandle, key, kProvider.deleteKey)); });
}

DWORD FwpmProviderGetByKey0(HANDLE engineHandle, const GUID* key, FWPM_PROVIDER0** provider) {
  return guarded([&] {
    return getObject(kProvider, provider, "provider", [&] {
      return keyRequest(engineHandle, key, kProvider.getKey);
    });
  });
}

DWORD FwpmProviderCreateEnumHandle0(HANDLE engineHandle,
                                    const FWPM_PROVIDER_ENUM_TEMPLATE0* enumTemplate,
                                    HANDLE* enumHandle) {
  (void)enumTemplate;  // reserved in WFP: providers are enumerated whole
  return guarded([&] {
    return createEnum(
        engineHandle, kProvider.kind, [](v1::CreateEnum&) {}, enumHandle);
  });
}

DWORD FwpmProviderEnum0(HANDLE engineHandle,
                        HANDLE enumHandle,
                        UINT32 numEntriesRequested,
                        FWPM_PROVIDER0*** entries,
                        UINT32* numEntriesReturned) {
  return guarded([&] {
    return enumObjects(
        engineHandle, kProvider, enumHandle, numEntriesRequested, entries, numEntriesReturned);
  });
}

DWORD FwpmProviderDestroyEnumHandle0(HANDLE engineHandle, HANDLE enumHandle) {
  return guarded([&] { return destroyEnum(engineHandle, kProvider.kind, enumHandle); });
}

// ---- provider contexts ----

DWORD FwpmProviderContextAdd0(HANDLE engineHandle,
                              const FWPM_PROVIDER_CONTEXT0* providerContext,
                              PSECURITY_DESCRIPTOR sd,
                              UINT64* id) {
  return providerContextAdd(engineHandle, providerContext, sd, id);
}

DWORD FwpmProviderContextAdd1(HANDLE engineHandle,
                              const FWPM_PROVIDER_CONTEXT1* providerContext,
                              PSECURITY_DESCRIPTOR sd,
                              UINT64* id) {
  return providerContextAdd(engineHandle, providerContext, sd, id);
}

DWORD FwpmProviderContextAdd2(HANDLE engineHandle,
                              const FWPM_PROVIDER_CONTEXT2* providerContext,
                              PSECURITY_DESCRIPTOR sd,
                              UINT64* id) {
  return providerContextAdd(engineHandle, providerContext, sd, id);
}

DWORD FwpmProviderContextDeleteByKey0(HANDLE engineHandle, const GUID* key) {
  return guarded([&] { return done(keyRequest(engineHandle, key, kProviderContext.deleteKey)); });
}

DWORD FwpmProviderContextGetByKey0(HANDLE engineHandle,
                                   const GUID* key,
                                   FWPM_PROVIDER_CONTEXT0** providerContext) {
  return guarded([&] {
    return getObject(kProviderContext, providerContext, "providerContext", [&] {
      return keyRequest(engineHandle, key, kProviderContext.getKey);
    });
  });
}

// ---- sublayers ----

DWORD FwpmSubLayerAdd0(HANDLE engineHandle,
                       const FWPM_SUBLAYER0* subLayer,
                       PSECURITY_DESCRIPTOR sd) {
  return guarded([&] { return addObject(engineHandle, kSublayer, subLayer, sd); });
}

DWORD FwpmSubLayerDeleteByKey0(HANDLE engineHandle, const GUID* key) {
  return guarded([&] { return done(keyRequest(engineHandle, key, kSublayer.deleteKey)); });
}

DWORD FwpmSubLayerGetByKey0(HANDLE engineHandle, const GUID* key, FWPM_SUBLAYER0** subLayer) {
  return guarded([&] {
    return getObject(kSublayer, subLayer, "subLayer", [&] {
      return keyRequest(engineHandle, key, kSublayer.getKey);
    });
  });
}

DWORD FwpmSubLayerCreateEnumHandle0(HANDLE engineHandle,
                                    const FWPM_SUBLAYER_ENUM_TEMPLATE0* enumTemplate,
                                    HANDLE* enumHandle) {
  return guarded([&] {
    const auto t = sublayerEnumTemplateFromC(enumTemplate);
    return createEnum(
        engineHandle,
        kSublayer.kind,
        [&](v1::CreateEnum& c) {
          if (t) {
            *c.mutable_sublayer_template() = rpc::toProto(*t);
          }
        },
        enumHandle);
  });
}

DWORD FwpmSubLayerEnum0(HANDLE engineHandle,
                        HANDLE enumHandle,
                        UINT32 numEntriesRequested,
                        FWPM_SUBLAYER0*** entries,
                        UINT32* numEntriesReturned) {
  return guarded([&] {
    return enumObjects(
        engineHandle, kSublayer, enumHandle, numEntriesRequested, entries, numEntriesReturned);
  });
}

DWORD FwpmSubLayerDestroyEnumHandle0(HANDLE engineHandle, HANDLE enumHandle) {
  return guarded([&] { return destroyEnum(engineHandle, kSublayer.kind, enumHandle); });
}

// ---- callouts ----

DWORD FwpmCalloutAdd0(HANDLE engineHandle,
                      const FWPM_CALLOUT0* callout,
                      PSECURITY_DESCRIPTOR sd,
                      UINT32* id) {
  return guarded([&] { return addObject(engineHandle, kCallout, callout, sd, id); });
}

DWORD FwpmCalloutDeleteById0(HANDLE engineHandle, UINT32 id) {
  return guarded([&] { return done(idRequest(engineHandle, id, kCallout.deleteId)); });
}

DWORD FwpmCalloutDeleteByKey0(HANDLE engineHandle, const GUID* key) {
  return guarded([&] { return done(keyRequest(engineHandle, key, kCallout.deleteKey)); });
}

DWORD FwpmCalloutGetById0(HANDLE engineHandle, UINT32 id, FWPM_CALLOUT0** callout) {
  return guarded([&] {
    return getObject(
        kCallout, callout, "callout", [&] { return idRequest(engineHandle, id, kCallout.getId); });
  });
}

DWORD FwpmCalloutGetByKey0(HANDLE engineHandle, const GUID* key, FWPM_CALLOUT0** callout) {
  return guarded([&] {
    return getObject(kCallout, callout, "callout", [&] {
      return keyRequest(engineHandle, key, kCallout.getKey);
    });
  });
}

DWORD FwpmCalloutCreateEnumHandle0(HANDLE engineHandle,
                                   const FWPM_CALLOUT_ENUM_TEMPLATE0* enumTemplate,
                                   HANDLE* enumHandle) {
  return guarded([&] {
    const auto t = calloutEnumTemplateFromC(enumTemplate);
    return createEnum(
        engineHandle,
        kCallout.kind,
        [&](v1::CreateEnum& c) {
          if (t) {
            *c.mutable_callout_template() = rpc::toProto(*t);
          }
        },
        enumHandle);
  });
}

DWORD FwpmCalloutEnum0(HANDLE engineHandle,
                       HANDLE enumHandle,
                       UINT32 numEntriesRequested,
                       FWPM_CALLOUT0*** entries,
                       UINT32* numEntriesReturned) {
  return guarded([&] {
    return enumObjects(
        engineHandle, kCallout, enumHandle, numEntriesRequested, entries, numEntriesReturned);
  });
}

DWORD FwpmCalloutDestroyEnumHandle0(HANDLE engineHandle, HANDLE enumHandle) {
  return guarded([&] { return destroyEnum(engineHandle, kCallout.kind, enumHandle); });
}

// ---- filters ----

DWORD FwpmFilterAdd0(HANDLE engineHandle,
                     const FWPM_FILTER0* filter,
                     PSECURITY_DESCRIPTOR sd,
                     UINT64* id) {
  return guarded([&] { return addObject(engineHandle, kFilter, filter, sd, id); });
}

DWORD FwpmFilterDeleteById0(HANDLE engineHandle, UINT64 id) {
  return guarded([&] { return done(idRequest(engineHandle, id, kFilter.deleteId)); });
}

DWORD FwpmFilterDeleteByKey0(HANDLE engineHandle, const GUID* key) {
  return guarded([&] { return done(keyRequest(engineHandle, key, kFilter.deleteKey)); });
}

DWORD FwpmFilterGetById0(HANDLE engineHandle, UINT64 id, FWPM_FILTER0** filter) {
  return guarded([&] {
    return getObject(
        kFilter, filter, "filter", [&] { return idRequest(engineHandle, id, kFilter.getId); });
  });
}

DWORD FwpmFilterGetByKey0(HANDLE engineHandle, const GUID* key, FWPM_FILTER0** filter) {
  return guarded([&] {
    return getObject(
        kFilter, filter, "filter", [&] { return keyRequest(engineHandle, key, kFilter.getKey); });
  });
}

DWORD FwpmFilterCreateEnumHandle0(HANDLE engineHandle,
                                  const FWPM_FILTER_ENUM_TEMPLATE0* enumTemplate,
                                  HANDLE* enumHandle) {
  return guarded([&]() -> DWORD {
    auto t = filterEnumTemplateFromC(enumTemplate);
    if (!t) {
      return failWith(t.error());
    }
    return createEnum(
        engineHandle,
        kFilter.kind,
        [&](v1::CreateEnum& c) {
          if (*t) {
            *c.mutable_filter_template() = rpc::toProto(**t);
          }
        },
        enumHandle);
  });
}

DWORD FwpmFilterEnum0(HANDLE engineHandle,
                      HANDLE enumHandle,
                      UINT32 numEntriesRequested,
                      FWPM_FILTER0*** entries,
                      UINT32* numEntriesReturned) {
  return guarded([&] {
    return enumObjects(
        engineHandle, kFilter, enumHandle, numEntriesRequested, entries, numEntriesReturned);
  });
}

DWORD FwpmFilterDestroyEnumHandle0(HANDLE engineHandle, HANDLE enumHandle) {
  return guarded([&] { return destroyEnum(engineHandle, kFilter.kind, enumHandle); });
}

DWORD FwpmFilterSubscribeChanges0(HANDLE engineHandle,
                                  const FWPM_FILTER_SUBSCRIPTION0* subscription,
                                  FWPM_FILTER_CHANGE_CALLBACK0 callback,
                                  void* context,
                                  HANDLE* changeHandle) {
  return guarded([&]() -> DWORD {
    if (callback == nullptr) {
      return failWith(nullArgument("callback"));
    }
    if (changeHandle == nullptr) {
      return failWith(nullArgument("changeHandle"));
    }
    auto sub = filterSubscriptionFromC(subscription);
    if (!sub) {
      return failWith(sub.error());
    }
    auto s = session(engineHandle);
    if (!s) {
      return failWith(s.error());
    }
    auto handle = (*s)->subscribeFilterChanges(*sub, callback, context);
    if (!handle) {
      return failWith(handle.error());
    }
    *changeHandle = handleOf(*handle);
    return succeed();
  });
}

DWORD FwpmFilterUnsubscribeChanges0(HANDLE engineHandle, HANDLE changeHandle) {
  return guarded([&]() -> DWORD {
    auto s = session(engineHandle);
    if (!s) {
      return failWith(s.error());
    }
    auto r = (*s)->unsubscribeFilterChanges(handleNumber(changeHandle));
    return r ? succeed() : failWith(r.error());
  });
}

DWORD FwpmFilterSubscriptionsGet0(HANDLE engineHandle,
                                  FWPM_FILTER_SUBSCRIPTION0*** entries,
                                  UINT32* numEntries) {
  return guarded([&]() -> DWORD {
    if (entries == nullptr) {
      return failWith(nullArgument("entries"));
    }
    if (numEntries == nullptr) {
      return failWith(nullArgument("numEntries"));
    }
    auto s = session(engineHandle);
    if (!s) {
      return failWith(s.error());
    }
    v1::SessionRequest req;
    req.mutable_filter_subscriptions();
    auto reply = (*s)->call(req);
    if (!reply) {
      return failWith(reply.error());
    }
    const xfp::Guid sessionKey = (*s)->sessionKey();
    return returnEntries(
        reply->subscriptions().subscriptions(),
        "filter_subscription",
        [&](const std::vector<xfp::engine::FilterSubscription>& v) {
          return filterSubscriptionsToC(v, sessionKey);
        },
        entries,
        numEntries);
  });
}

// ---- net events ----

DWORD FwpmNetEventCreateEnumHandle0(HANDLE engineHandle,
                                    const FWPM_NET_EVENT_ENUM_TEMPLATE0* enumTemplate,
                                    HANDLE* enumHandle) {
  return guarded([&]() -> DWORD {
    auto t = netEventTemplateFromC(enumTemplate);
    if (!t) {
      return failWith(t.error());
    }
    return createEnum(
        engineHandle,
        v1::OBJECT_KIND_NET_EVENT,
        [&](v1::CreateEnum& c) { *c.mutable_net_event_template() = *t; },
        enumHandle);
  });
}

DWORD FwpmNetEventEnum1(HANDLE engineHandle,
                        HANDLE enumHandle,
                        UINT32 numEntriesRequested,
                        FWPM_NET_EVENT1*** entries,
                        UINT32* numEntriesReturned) {
  return guarded([&] {
    return enumNext(engineHandle,
                    v1::OBJECT_KIND_NET_EVENT,
                    enumHandle,
                    numEntriesRequested,
                    entries,
                    numEntriesReturned,
                    [](const v1::EnumEntries& e, FWPM_NET_EVENT1*** out, UINT32* n) -> DWORD {
                      FWPM_NET_EVENT1** events = netEventsToC(e.net_events());
                      if (events == nullptr && !e.net_events().empty()) {
                        return failWith(ERROR_NOT_ENOUGH_MEMORY, "out of memory");
                      }
                      *out = events;
                      *n = static_cast<UINT32>(e.net_events().size());
                      return succeed();
                    });
  });
}

DWORD FwpmNetEventDestroyEnumHandle0(HANDLE engineHandle, HANDLE enumHandle) {
  return guarded([&] { return destroyEnum(engineHandle, v1::OBJECT_KIND_NET_EVENT, enumHandle); });
}

DWORD FwpmNetEventSubscribe0(HANDLE engineHandle,
                             const FWPM_NET_EVENT_SUBSCRIPTION0* subscription,
                             FWPM_NET_EVENT_CALLBACK0 callback,
                             void* context,
                             HANDLE* eventsHandle) {
  return guarded([&]() -> DWORD {
    if (subscription == nullptr) {
      return failWith(nullArgument("subscription"));
    }
    if (callback == nullptr) {
      return failWith(nullArgument("callback"));
    }
    if (eventsHandle == nullptr) {
      return failWith(nullArgument("eventsHandle"));
    }
    if (subscription->flags != 0) {
      return failWith(FWP_E_INVALID_FLAGS,
                      fmt::format("net event subscription flags 0x{:x}: reserved, must be 0",
                                  subscription->flags));
    }
    auto t = netEventTemplateFromC(subscription->enumTemplate);
    if (!t) {
      return failWith(t.error());
    }
    auto s = session(engineHandle);
    if (!s) {
      return failWith(s.error());
    }
    auto handle = (*s)->subscribeNetEvents(*t, callback, context);
    if (!handle) {
      return failWith(handle.error());
    }
    *eventsHandle = handleOf(*handle);
    return succeed();
  });
}

DWORD FwpmNetEventUnsubscribe0(HANDLE engineHandle, HANDLE eventsHandle) {
  return guarded([&]() -> DWORD {
    auto s = session(engineHandle);
    if (!s) {
      return failWith(s.error());
    }
    auto r = (*s)->unsubscribeNetEvents(handleNumber(eventsHandle));
    return r ? succeed() : failWith(r.error());
  });
}

}  // extern "C"
