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

// An object a get call returns: decoded from the reply, then one C block.
template <class C, class Msg, class ToC>
DWORD returnObject(const Result<v1::SessionReply>& reply,
                   bool present,
                   const Msg& (v1::SessionReply::*member)() const,
                   const char* what,
                   ToC toC,
                   C** out) {
  if (!reply) {
    return failWith(reply.error());
  }
  if (!present) {
    return failWith(RPC_E_INVALID_DATA, fmt::format("xfpd answered without the {}", what));
  }
  auto object = rpc::fromProto(((*reply).*member)(), what);
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

DWORD providerContextAdd(HANDLE h,
                         const FWPM_PROVIDER_CONTEXT0* providerContext,
                         PSECURITY_DESCRIPTOR sd,
                         UINT64* id) {
  if (auto r = noSecurityDescriptor(sd); !r) {
    return failWith(r.error());
  }
  auto context = providerContextFromC(providerContext);
  if (!context) {
    return failWith(context.error());
  }
  auto reply = request(h, [&](v1::SessionRequest& r) {
    *r.mutable_add_provider_context() = rpc::toProto(*context);
  });
  if (!reply) {
    return failWith(reply.error());
  }
  if (id != nullptr) {
    *id = reply->id();
  }
  return succeed();
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

// ---- providers ----

DWORD FwpmProviderAdd0(HANDLE engineHandle,
                       const FWPM_PROVIDER0* provider,
                       PSECURITY_DESCRIPTOR sd) {
  return guarded([&]() -> DWORD {
    if (auto r = noSecurityDescriptor(sd); !r) {
      return failWith(r.error());
    }
    auto p = providerFromC(provider);
    if (!p) {
      return failWith(p.error());
    }
    return done(request(engineHandle, [&](v1::SessionRequest& r) {
      *r.mutable_add_provider() = rpc::toProto(*p);
    }));
  });
}

DWORD FwpmProviderDeleteByKey0(HANDLE engineHandle, const GUID* key) {
  return guarded([&]() -> DWORD {
    auto k = keyBytes(key);
    if (!k) {
      return failWith(k.error());
    }
    return done(request(engineHandle, [&](v1::SessionRequest& r) { r.set_delete_provider(*k); }));
  });
}

DWORD FwpmProviderGetByKey0(HANDLE engineHandle, const GUID* key, FWPM_PROVIDER0** provider) {
  return guarded([&]() -> DWORD {
    if (provider == nullptr) {
      return failWith(nullArgument("provider"));
    }
    auto k = keyBytes(key);
    if (!k) {
      return failWith(k.error());
    }
    auto reply = request(engineHandle, [&](v1::SessionRequest& r) { r.set_get_provider(*k); });
    return returnObject(reply,
                        reply && reply->has_provider(),
                        &v1::SessionReply::provider,
                        "provider",
                        providerToC,
                        provider);
  });
}

DWORD FwpmProviderCreateEnumHandle0(HANDLE engineHandle,
                                    const FWPM_PROVIDER_ENUM_TEMPLATE0* enumTemplate,
                                    HANDLE* enumHandle) {
  (void)enumTemplate;  // reserved in WFP: providers are enumerated whole
  return guarded([&] {
    return createEnum(
        engineHandle, v1::OBJECT_KIND_PROVIDER, [](v1::CreateEnum&) {}, enumHandle);
  });
}

DWORD FwpmProviderEnum0(HANDLE engineHandle,
                        HANDLE enumHandle,
                        UINT32 numEntriesRequested,
                        FWPM_PROVIDER0*** entries,
                        UINT32* numEntriesReturned) {
  return guarded([&] {
    return enumNext(engineHandle,
                    v1::OBJECT_KIND_PROVIDER,
                    enumHandle,
                    numEntriesRequested,
                    entries,
                    numEntriesReturned,
                    [](const v1::EnumEntries& e, FWPM_PROVIDER0*** out, UINT32* n) {
                      return returnEntries(e.providers(), "provider", providersToC, out, n);
                    });
  });
}

DWORD FwpmProviderDestroyEnumHandle0(HANDLE engineHandle, HANDLE enumHandle) {
  return guarded([&] { return destroyEnum(engineHandle, v1::OBJECT_KIND_PROVIDER, enumHandle); });
}

// ---- provider contexts ----

DWORD FwpmProviderContextAdd0(HANDLE engineHandle,
                              const FWPM_PROVIDER_CONTEXT0* providerContext,
                              PSECURITY_DESCRIPTOR sd,
                              UINT64* id) {
  return guarded([&] { return providerContextAdd(engineHandle, providerContext, sd, id); });
}

DWORD FwpmProviderContextAdd1(HANDLE engineHandle,
                              const FWPM_PROVIDER_CONTEXT1* providerContext,
                              PSECURITY_DESCRIPTOR sd,
                              UINT64* id) {
  return guarded([&] {
    return providerContextAdd(
        engineHandle, reinterpret_cast<const FWPM_PROVIDER_CONTEXT0*>(providerContext), sd, id);
  });
}

DWORD FwpmProviderContextAdd2(HANDLE engineHandle,
                              const FWPM_PROVIDER_CONTEXT2* providerContext,
                              PSECURITY_DESCRIPTOR sd,
                              UINT64* id) {
  return guarded([&] {
    return providerContextAdd(
        engineHandle, reinterpret_cast<const FWPM_PROVIDER_CONTEXT0*>(providerContext), sd, id);
  });
}

DWORD FwpmProviderContextDeleteByKey0(HANDLE engineHandle, const GUID* key) {
  return guarded([&]() -> DWORD {
    auto k = keyBytes(key);
    if (!k) {
      return failWith(k.error());
    }
    return done(
        request(engineHandle, [&](v1::SessionRequest& r) { r.set_delete_provider_context(*k); }));
  });
}

DWORD FwpmProviderContextGetByKey0(HANDLE engineHandle,
                                   const GUID* key,
                                   FWPM_PROVIDER_CONTEXT0** providerContext) {
  return guarded([&]() -> DWORD {
    if (providerContext == nullptr) {
      return failWith(nullArgument("providerContext"));
    }
    auto k = keyBytes(key);
    if (!k) {
      return failWith(k.error());
    }
    auto reply =
        request(engineHandle, [&](v1::SessionRequest& r) { r.set_get_provider_context(*k); });
    return returnObject(reply,
                        reply && reply->has_provider_context(),
                        &v1::SessionReply::provider_context,
                        "provider_context",
                        providerContextToC,
                        providerContext);
  });
}

// ---- sublayers ----

DWORD FwpmSubLayerAdd0(HANDLE engineHandle,
                       const FWPM_SUBLAYER0* subLayer,
                       PSECURITY_DESCRIPTOR sd) {
  return guarded([&]() -> DWORD {
    if (auto r = noSecurityDescriptor(sd); !r) {
      return failWith(r.error());
    }
    auto s = sublayerFromC(subLayer);
    if (!s) {
      return failWith(s.error());
    }
    return done(request(engineHandle, [&](v1::SessionRequest& r) {
      *r.mutable_add_sublayer() = rpc::toProto(*s);
    }));
  });
}

DWORD FwpmSubLayerDeleteByKey0(HANDLE engineHandle, const GUID* key) {
  return guarded([&]() -> DWORD {
    auto k = keyBytes(key);
    if (!k) {
      return failWith(k.error());
    }
    return done(request(engineHandle, [&](v1::SessionRequest& r) { r.set_delete_sublayer(*k); }));
  });
}

DWORD FwpmSubLayerGetByKey0(HANDLE engineHandle, const GUID* key, FWPM_SUBLAYER0** subLayer) {
  return guarded([&]() -> DWORD {
    if (subLayer == nullptr) {
      return failWith(nullArgument("subLayer"));
    }
    auto k = keyBytes(key);
    if (!k) {
      return failWith(k.error());
    }
    auto reply = request(engineHandle, [&](v1::SessionRequest& r) { r.set_get_sublayer(*k); });
    return returnObject(reply,
                        reply && reply->has_sublayer(),
                        &v1::SessionReply::sublayer,
                        "sublayer",
                        sublayerToC,
                        subLayer);
  });
}

DWORD FwpmSubLayerCreateEnumHandle0(HANDLE engineHandle,
                                    const FWPM_SUBLAYER_ENUM_TEMPLATE0* enumTemplate,
                                    HANDLE* enumHandle) {
  return guarded([&] {
    const auto t = sublayerEnumTemplateFromC(enumTemplate);
    return createEnum(
        engineHandle,
        v1::OBJECT_KIND_SUBLAYER,
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
    return enumNext(engineHandle,
                    v1::OBJECT_KIND_SUBLAYER,
                    enumHandle,
                    numEntriesRequested,
                    entries,
                    numEntriesReturned,
                    [](const v1::EnumEntries& e, FWPM_SUBLAYER0*** out, UINT32* n) {
                      return returnEntries(e.sublayers(), "sublayer", sublayersToC, out, n);
                    });
  });
}

DWORD FwpmSubLayerDestroyEnumHandle0(HANDLE engineHandle, HANDLE enumHandle) {
  return guarded([&] { return destroyEnum(engineHandle, v1::OBJECT_KIND_SUBLAYER, enumHandle); });
}

// ---- callouts ----

DWORD FwpmCalloutAdd0(HANDLE engineHandle,
                      const FWPM_CALLOUT0* callout,
                      PSECURITY_DESCRIPTOR sd,
                      UINT32* id) {
  return guarded([&]() -> DWORD {
    if (auto r = noSecurityDescriptor(sd); !r) {
      return failWith(r.error());
    }
    auto c = calloutFromC(callout);
    if (!c) {
      return failWith(c.error());
    }
    auto reply = request(
        engineHandle, [&](v1::SessionRequest& r) { *r.mutable_add_callout() = rpc::toProto(*c); });
    if (!reply) {
      return failWith(reply.error());
    }
    if (id != nullptr) {
      *id = static_cast<UINT32>(reply->id());
    }
    return succeed();
  });
}

DWORD FwpmCalloutDeleteById0(HANDLE engineHandle, UINT32 id) {
  return guarded([&] {
    return done(request(engineHandle,
                        [&](v1::SessionRequest& r) { r.mutable_delete_callout()->set_id(id); }));
  });
}

DWORD FwpmCalloutDeleteByKey0(HANDLE engineHandle, const GUID* key) {
  return guarded([&]() -> DWORD {
    auto k = keyBytes(key);
    if (!k) {
      return failWith(k.error());
    }
    return done(request(engineHandle,
                        [&](v1::SessionRequest& r) { r.mutable_delete_callout()->set_key(*k); }));
  });
}

DWORD FwpmCalloutGetById0(HANDLE engineHandle, UINT32 id, FWPM_CALLOUT0** callout) {
  return guarded([&]() -> DWORD {
    if (callout == nullptr) {
      return failWith(nullArgument("callout"));
    }
    auto reply =
        request(engineHandle, [&](v1::SessionRequest& r) { r.mutable_get_callout()->set_id(id); });
    return returnObject(reply,
                        reply && reply->has_callout(),
                        &v1::SessionReply::callout,
                        "callout",
                        calloutToC,
                        callout);
  });
}

DWORD FwpmCalloutGetByKey0(HANDLE engineHandle, const GUID* key, FWPM_CALLOUT0** callout) {
  return guarded([&]() -> DWORD {
    if (callout == nullptr) {
      return failWith(nullArgument("callout"));
    }
    auto k = keyBytes(key);
    if (!k) {
      return failWith(k.error());
    }
    auto reply =
        request(engineHandle, [&](v1::SessionRequest& r) { r.mutable_get_callout()->set_key(*k); });
    return returnObject(reply,
                        reply && reply->has_callout(),
                        &v1::SessionReply::callout,
                        "callout",
                        calloutToC,
                        callout);
  });
}

DWORD FwpmCalloutCreateEnumHandle0(HANDLE engineHandle,
                                   const FWPM_CALLOUT_ENUM_TEMPLATE0* enumTemplate,
                                   HANDLE* enumHandle) {
  return guarded([&] {
    const auto t = calloutEnumTemplateFromC(enumTemplate);
    return createEnum(
        engineHandle,
        v1::OBJECT_KIND_CALLOUT,
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
    return enumNext(engineHandle,
                    v1::OBJECT_KIND_CALLOUT,
                    enumHandle,
                    numEntriesRequested,
                    entries,
                    numEntriesReturned,
                    [](const v1::EnumEntries& e, FWPM_CALLOUT0*** out, UINT32* n) {
                      return returnEntries(e.callouts(), "callout", calloutsToC, out, n);
                    });
  });
}

DWORD FwpmCalloutDestroyEnumHandle0(HANDLE engineHandle, HANDLE enumHandle) {
  return guarded([&] { return destroyEnum(engineHandle, v1::OBJECT_KIND_CALLOUT, enumHandle); });
}

// ---- filters ----

DWORD FwpmFilterAdd0(HANDLE engineHandle,
                     const FWPM_FILTER0* filter,
                     PSECURITY_DESCRIPTOR sd,
                     UINT64* id) {
  return guarded([&]() -> DWORD {
    if (auto r = noSecurityDescriptor(sd); !r) {
      return failWith(r.error());
    }
    auto f = filterFromC(filter);
    if (!f) {
      return failWith(f.error());
    }
    auto reply = request(
        engineHandle, [&](v1::SessionRequest& r) { *r.mutable_add_filter() = rpc::toProto(*f); });
    if (!reply) {
      return failWith(reply.error());
    }
    if (id != nullptr) {
      *id = reply->id();
    }
    return succeed();
  });
}

DWORD FwpmFilterDeleteById0(HANDLE engineHandle, UINT64 id) {
  return guarded([&] {
    return done(request(engineHandle,
                        [&](v1::SessionRequest& r) { r.mutable_delete_filter()->set_id(id); }));
  });
}

DWORD FwpmFilterDeleteByKey0(HANDLE engineHandle, const GUID* key) {
  return guarded([&]() -> DWORD {
    auto k = keyBytes(key);
    if (!k) {
      return failWith(k.error());
    }
    return done(request(engineHandle,
                        [&](v1::SessionRequest& r) { r.mutable_delete_filter()->set_key(*k); }));
  });
}

DWORD FwpmFilterGetById0(HANDLE engineHandle, UINT64 id, FWPM_FILTER0** filter) {
  return guarded([&]() -> DWORD {
    if (filter == nullptr) {
      return failWith(nullArgument("filter"));
    }
    auto reply =
        request(engineHandle, [&](v1::SessionRequest& r) { r.mutable_get_filter()->set_id(id); });
    return returnObject(reply,
                        reply && reply->has_filter(),
                        &v1::SessionReply::filter,
                        "filter",
                        filterToC,
                        filter);
  });
}

DWORD FwpmFilterGetByKey0(HANDLE engineHandle, const GUID* key, FWPM_FILTER0** filter) {
  return guarded([&]() -> DWORD {
    if (filter == nullptr) {
      return failWith(nullArgument("filter"));
    }
    auto k = keyBytes(key);
    if (!k) {
      return failWith(k.error());
    }
    auto reply =
        request(engineHandle, [&](v1::SessionRequest& r) { r.mutable_get_filter()->set_key(*k); });
    return returnObject(reply,
                        reply && reply->has_filter(),
                        &v1::SessionReply::filter,
                        "filter",
                        filterToC,
                        filter);
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
        v1::OBJECT_KIND_FILTER,
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
    return enumNext(engineHandle,
                    v1::OBJECT_KIND_FILTER,
                    enumHandle,
                    numEntriesRequested,
                    entries,
                    numEntriesReturned,
                    [](const v1::EnumEntries& e, FWPM_FILTER0*** out, UINT32* n) {
                      return returnEntries(e.filters(), "filter", filtersToC, out, n);
                    });
  });
}

DWORD FwpmFilterDestroyEnumHandle0(HANDLE engineHandle, HANDLE enumHandle) {
  return guarded([&] { return destroyEnum(engineHandle, v1::OBJECT_KIND_FILTER, enumHandle); });
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
