// xfp_examples.h: the diagnostic entry points the example plugins export besides DriverEntry,
// for tests and for anyone who wants to watch them work. A host reaches them with
// dlopen(path, RTLD_NOW | RTLD_NOLOAD) on the loaded plugin's path, then dlsym(name).
#ifndef XFP_EXAMPLES_H
#define XFP_EXAMPLES_H

#include <xfp_wintypes.h>

#ifdef __cplusplus
extern "C" {
#endif

// xfp_connect_guard
typedef struct XfpConnectGuardCounters_ {
  UINT64 pended;        // connects pended (either style)
  UINT64 completed;     // pends it completed (FwpsCompleteClassify0 / FwpsCompleteOperation0)
  UINT64 reauthorized;  // re-authorization classifies it answered
} XfpConnectGuardCounters;
typedef void XFP_CONNECT_GUARD_STATS_FN(XfpConnectGuardCounters* out);
#define XFP_CONNECT_GUARD_STATS_SYMBOL "XfpConnectGuardStats"

// xfp_udp_rewriter
typedef struct XfpUdpRewriterCounters_ {
  UINT64 classified;  // classifyFn calls
  UINT64 injected;    // modified copies injected
  UINT64 completed;   // injection completions (clones freed)
  UINT64 seenOwn;     // classifies of its own injections (0 in xfp: they are not re-classified)
} XfpUdpRewriterCounters;
typedef void XFP_UDP_REWRITER_STATS_FN(XfpUdpRewriterCounters* out);
#define XFP_UDP_REWRITER_STATS_SYMBOL "XfpUdpRewriterStats"

// xfp_flow_bytes
typedef struct XfpFlowBytesDelete_ {
  UINT64 flowId;  // the flow handle the context was associated with
  UINT16 layerId;
  UINT32 calloutId;
} XfpFlowBytesDelete;  // one flowDeleteFn call
typedef struct XfpFlowBytesTotal_ {
  UINT64 flowId;
  UINT64 bytesOut;  // transport payload bytes seen at OUTBOUND_TRANSPORT_V4
  UINT64 bytesIn;   // ... at INBOUND_TRANSPORT_V4
  UINT64 packetsOut;
  UINT64 packetsIn;
} XfpFlowBytesTotal;  // a flow whose last context was deleted
typedef struct XfpFlowBytesReport_ {
  UINT32 calloutIdOut;  // the callout ids it registered (0 when not registered)
  UINT32 calloutIdIn;
  UINT32 deletes;  // entries filled in `deleteLog` / `totals` (up to the capacities passed)
  UINT32 totals;
  UINT32 liveFlows;  // flows that carry one of its contexts now
} XfpFlowBytesReport;
typedef void XFP_FLOW_BYTES_REPORT_FN(XfpFlowBytesReport* report,
                                      XfpFlowBytesDelete* deleteLog,
                                      UINT32 deleteCapacity,
                                      XfpFlowBytesTotal* totals,
                                      UINT32 totalsCapacity);
#define XFP_FLOW_BYTES_REPORT_SYMBOL "XfpFlowBytesGetReport"

// xfp_redirect_proxy
typedef struct XfpRedirectProxyCounters_ {
  UINT64 redirected;  // connects sent to the proxy
  UINT64 bySelf;      // connects carrying its own redirect records (the proxy's), let through
} XfpRedirectProxyCounters;
typedef void XFP_REDIRECT_PROXY_STATS_FN(XfpRedirectProxyCounters* out);
#define XFP_REDIRECT_PROXY_STATS_SYMBOL "XfpRedirectProxyStats"

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // XFP_EXAMPLES_H
