/* Socket hooks (object xfp_sock): cgroup programs on the socket calls of the processes below one
 * cgroup v2 directory; see bpf/include/xfp/abi.h "Socket hooks" and
 * userspace/dataplane/sock_hooks.h.
 *   cgroup/sock_create       records the owner (xfp_sock_owners) by socket cookie
 *   cgroup/bind4|6           BIND_REDIRECT upcall (may rewrite the address bound to)
 *   cgroup/post_bind4|6      RESOURCE_ASSIGNMENT upcall, else a BOUND event
 *   cgroup/connect4|6        CONNECT_REDIRECT upcall (may rewrite the destination)
 *   cgroup/sendmsg4|6        the same for unconnected UDP, once per socket and peer
 *   sockops                  redirect bookkeeping, ESTABLISHED and TCP_CLOSED events
 *   cgroup/sock_release      RELEASED event, per-socket state dropped
 *   cgroup/getsockopt        a redirected connection's record / original destination
 *   cgroup/setsockopt        attach redirect records to an outgoing socket
 *
 * Upcalls: the request goes out through the ring buffer xfp_sock_events (forced wake-up) and the
 * hook polls xfp_sock_replies[seq % XFP_SOCK_SLOTS] with bpf_loop() until the runtime's answer
 * carries its seq or cfg.wait_ns passes. A hook runs in the calling process's context and cannot
 * sleep: the polling CPU does nothing else meanwhile (the kernel is built PREEMPT_NONE here), so
 * the answering thread must be able to run on another CPU: at most cfg.max_waiters (CPUs - 1)
 * hooks wait at once over all xfp_sock objects (xfp_sock_waiters, pinned by user space); a
 * socket call beyond that fails at once with EAGAIN.
 *
 * What the kernel (6.18) forced, against the first design:
 *   - cgroup/getsockopt and setsockopt programs have no bpf_get_socket_cookie() (the verifier:
 *     "program of this type cannot use helper bpf_get_socket_cookie#46"). The socket's cookie is
 *     therefore also kept in socket-local storage (xfp_sock_ids), written where the cookie is
 *     known (sock_create, bind, connect, sendmsg), and setsockopt reads it from there to key
 *     xfp_sock_records by cookie as everything else is. A socket no hook has seen (created
 *     outside the cgroup) gets the kernel's own answer to the setsockopt.
 *   - cgroup/sock_release may not read src_ip4/src_ip6/src_port of its context (post_bind-only
 *     fields: "invalid bpf_context access"). The local end is read from the kernel socket through
 *     the kfunc bpf_cast_to_kern_ctx() and CO-RE (struct sock___xfp below); dst_* and state are
 *     context fields as usual.
 *   - sockops remote_port holds the network-order port in its upper 16 bits on little endian:
 *     host order is bpf_ntohl() of it. bpf_sock.dst_port is a plain __be16 (bpf_ntohs).
 * Only a TCP connect moves its record from xfp_redirect_pending to xfp_redirects (sockops
 * TCP_CONNECT_CB knows the local port); a redirected UDP connect's pending record is dropped when
 * the socket is released. */
#include <linux/bpf.h>

/* libbpf headers use the UAPI types above */
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xfp/abi.h"

#define XFP_AF_INET 2
#define XFP_AF_INET6 10
#define XFP_IPPROTO_TCP 6
#define XFP_SOL_IP 0
#define XFP_SOL_IPV6 41
/* bpf_loop() runs at most this many iterations (BPF_MAX_LOOPS); longer waits take several */
#define XFP_POLL_BATCH (1u << 23)
#define XFP_POLL_ROUNDS 64

#ifndef barrier
#define barrier() asm volatile("" ::: "memory")
#endif

/* Reads a context field here and now, as an opaque value. Where the family decides which fields
 * are used, clang otherwise sinks the loads into the branches and merges them into one load
 * through a computed context pointer, which the verifier refuses ("dereference of modified ctx
 * ptr"). */
#define XFP_READ(field)              \
  ({                                 \
    __u32 xfp_v_ = (field);          \
    asm volatile("" : "+r"(xfp_v_)); \
    xfp_v_;                          \
  })

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct xfp_sock_cfg);
} xfp_sock_cfg SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} xfp_sock_seq SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1u << 20);
} xfp_sock_events SEC(".maps");

/* key 0: hooks waiting for an answer right now, over every xfp_sock object (user space pins it
 * at XFP_SOCK_WAITERS_PIN before load, so later objects reuse it) */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64); /* 64-bit: clang-14 uses a fetching add's result only at that width */
} xfp_sock_waiters SEC(".maps");

/* key 0: struct xfp_sock_stats */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct xfp_sock_stats);
} xfp_sock_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, XFP_SOCK_SLOTS);
  __uint(map_flags, BPF_F_MMAPABLE);
  __type(key, __u32);
  __type(value, struct xfp_sock_reply);
} xfp_sock_replies SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, XFP_SOCK_OWNERS);
  __type(key, __u64);
  __type(value, struct xfp_sock_owner);
} xfp_sock_owners SEC(".maps");

/* cookie -> the records a proxy attached to its outgoing socket (setsockopt) */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, XFP_REDIRECTS);
  __type(key, __u64);
  __type(value, struct xfp_redirect_record);
} xfp_sock_records SEC(".maps");

/* cookie -> a connect just redirected whose local port is not known yet */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, XFP_REDIRECTS);
  __type(key, __u64);
  __type(value, struct xfp_redirect_record);
} xfp_redirect_pending SEC(".maps");

/* the redirected socket's local address (the proxy's peer) -> its record */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, XFP_REDIRECTS);
  __type(key, struct xfp_redirect_key);
  __type(value, struct xfp_redirect_record);
} xfp_redirects SEC(".maps");

struct xfp_sendmsg_key {
  __u64 cookie;
  __u8 addr[16];
  __u16 port; /* host order */
  __u16 _pad0;
  __u32 _pad1;
};

struct xfp_sendmsg_answer {
  __u32 verdict;
  __u32 rewrite;
  __u8 addr[16];
  __u16 port; /* host order */
  __u16 _pad0;
  __u32 _pad1;
};

/* unconnected UDP: the answer for one socket and peer (asked once) */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, XFP_REDIRECTS);
  __type(key, struct xfp_sendmsg_key);
  __type(value, struct xfp_sendmsg_answer);
} xfp_sendmsg_seen SEC(".maps");

/* the socket's cookie, for the sockopt programs that cannot ask for it */
struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, __u64);
} xfp_sock_ids SEC(".maps");

/* The wait of one upcall (on the hook's stack: bpf_loop's context). */
struct xfp_wait {
  __u64 seq;
  __u64 deadline;
  __u32 slot;
  __u32 got;
  struct xfp_sock_reply r;
};

static __always_inline struct xfp_sock_cfg* xfp_cfg(void) {
  __u32 k = 0;
  return bpf_map_lookup_elem(&xfp_sock_cfg, &k);
}

static __always_inline void xfp_ev_init(struct xfp_sock_event* ev, __u64 cookie, __u32 type) {
  __builtin_memset(ev, 0, sizeof(*ev));
  ev->cookie = cookie;
  ev->type = type;
}

/* The calling process as an owner. */
static __always_inline void xfp_fill_owner(struct xfp_sock_owner* o) {
  const __u64 pt = bpf_get_current_pid_tgid();
  const __u64 ug = bpf_get_current_uid_gid();
  o->cgroup_id = bpf_get_current_cgroup_id();
  o->tgid = (__u32)(pt >> 32);
  o->pid = (__u32)pt;
  o->uid = (__u32)ug;
  o->gid = (__u32)(ug >> 32);
  bpf_get_current_comm(o->comm, sizeof(o->comm));
}

/* Records the calling process as the owner of `cookie` (o is filled) and keeps the cookie in
 * the socket's storage for the sockopt programs. */
static __always_inline void xfp_refresh_owner(struct bpf_sock* sk,
                                              __u64 cookie,
                                              struct xfp_sock_owner* o) {
  xfp_fill_owner(o);
  bpf_map_update_elem(&xfp_sock_owners, &cookie, o, BPF_ANY);
  if (sk) {
    __u64* id = bpf_sk_storage_get(&xfp_sock_ids, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (id) {
      *id = cookie;
    }
  }
}

/* Copies the recorded owner of `cookie` (if any) into o. */
static __always_inline void xfp_recorded_owner(__u64 cookie, struct xfp_sock_owner* o) {
  const struct xfp_sock_owner* r = bpf_map_lookup_elem(&xfp_sock_owners, &cookie);
  if (r) {
    __builtin_memcpy(o, r, sizeof(*o));
  }
}

/* Whether a socket call of the current process at `layer` is an upcall. */
static __always_inline int xfp_layer_active(__u32 layer) {
  const struct xfp_sock_cfg* cfg = xfp_cfg();
  if (!cfg || !(cfg->layers & layer)) {
    return 0;
  }
  return (__u32)(bpf_get_current_pid_tgid() >> 32) != cfg->runtime_tgid;
}

static __always_inline void xfp_emit(struct xfp_sock_event* ev) {
  bpf_ringbuf_output(&xfp_sock_events, ev, sizeof(*ev), 0);
}

/* bpf_loop callback: 1 (stop) once the slot holds our answer or the deadline passed. */
static long xfp_poll_reply(__u32 i, void* data) {
  struct xfp_wait* w = data;
  __u32 slot = w->slot;
  (void)i;
  const struct xfp_sock_reply* s = bpf_map_lookup_elem(&xfp_sock_replies, &slot);
  if (!s) {
    return 1;
  }
  if (*(volatile const __u64*)&s->seq == w->seq) {
    barrier();
    __builtin_memcpy(&w->r, s, sizeof(w->r));
    barrier();
    /* the runtime writes seq last: still ours, so the fields copied belong to it */
    if (*(volatile const __u64*)&s->seq == w->seq) {
      w->got = 1;
      return 1;
    }
  }
  return bpf_ktime_get_ns() > w->deadline ? 1 : 0;
}

static __always_inline struct xfp_sock_stats* xfp_stats(void) {
  __u32 k = 0;
  return bpf_map_lookup_elem(&xfp_sock_stats, &k);
}

/* Posts the request ev (type, layer, addresses, owner filled) and waits for the answer.
 * 1: answered PERMIT (w->r holds the answer); 0: refused (BLOCK, no runtime, no answer: EPERM;
 * too many hooks waiting already: EAGAIN through bpf_set_retval). */
static __always_inline int xfp_upcall(struct xfp_sock_event* ev, struct xfp_wait* w) {
  w->got = 0; /* callers read it on every path */
  const struct xfp_sock_cfg* cfg = xfp_cfg();
  struct xfp_sock_stats* st = xfp_stats();
  __u32 k = 0;
  __u64* waiters = bpf_map_lookup_elem(&xfp_sock_waiters, &k);
  if (!cfg || !st || !waiters) {
    return 0;
  }
  const __u64 now = bpf_ktime_get_ns();
  const __u64 heartbeat = cfg->heartbeat_ns;
  const __u64 wait = cfg->wait_ns;
  if (heartbeat == 0 || now > heartbeat + XFP_RUNTIME_STALE_NS) {
    __sync_fetch_and_add(&st->no_runtime, 1);
    return 0;
  }
  /* One CPU must stay free for the answer. */
  if (__sync_fetch_and_add(waiters, 1) >= cfg->max_waiters) {
    __sync_fetch_and_add(waiters, -1);
    __sync_fetch_and_add(&st->busy, 1);
    bpf_set_retval(-11 /* EAGAIN */);
    return 0;
  }
  __u64* seqp = bpf_map_lookup_elem(&xfp_sock_seq, &k);
  if (!seqp) {
    __sync_fetch_and_add(waiters, -1);
    return 0;
  }
  const __u64 seq = __sync_fetch_and_add(seqp, 1) + 1;
  ev->seq = seq;
  if (bpf_ringbuf_output(&xfp_sock_events, ev, sizeof(*ev), BPF_RB_FORCE_WAKEUP) != 0) {
    __sync_fetch_and_add(waiters, -1);
    __sync_fetch_and_add(&st->no_runtime, 1);
    return 0;
  }
  __sync_fetch_and_add(&st->upcalls, 1);
  w->seq = seq;
  w->slot = (__u32)(seq % XFP_SOCK_SLOTS);
  w->got = 0;
  w->deadline = now + wait;
  for (int round = 0; round < XFP_POLL_ROUNDS; round++) {
    bpf_loop(XFP_POLL_BATCH, xfp_poll_reply, w, 0);
    if (w->got || bpf_ktime_get_ns() > w->deadline) {
      break;
    }
  }
  __sync_fetch_and_add(waiters, -1);
  if (w->got) {
    __sync_fetch_and_add(&st->answered, 1);
  } else {
    __sync_fetch_and_add(&st->timed_out, 1);
  }
  return w->got && w->r.verdict == XFP_SOCK_PERMIT;
}

static __always_inline void xfp_put4(__u8* dst, __u32 ip) {
  __builtin_memcpy(dst, &ip, 4);
}

static __always_inline __u32 xfp_get4(const __u8* src) {
  __u32 ip;
  __builtin_memcpy(&ip, src, 4);
  return ip;
}

/* An IPv6 address that is an IPv4-mapped one (::ffff:a.b.c.d). */
static __always_inline int xfp_mapped(__u32 a0, __u32 a1, __u32 a2) {
  return a0 == 0 && a1 == 0 && a2 == bpf_htonl(0xffff);
}

/* The address a sock_addr call names is IPv6 for WFP: an AF_INET6 call to an IPv4-mapped address
 * (a dual-stack socket reaching an IPv4 peer) is classified at the _V4 layer with the IPv4
 * address, as Windows does, and a rewrite is mapped back. */
static __always_inline int xfp_addr_is6(struct bpf_sock_addr* ctx, int v6) {
  if (!v6) {
    return 0;
  }
  const __u32 a0 = XFP_READ(ctx->user_ip6[0]);
  const __u32 a1 = XFP_READ(ctx->user_ip6[1]);
  const __u32 a2 = XFP_READ(ctx->user_ip6[2]);
  return !xfp_mapped(a0, a1, a2);
}

/* ctx's address (the one the call names) into dst: 16 bytes if is6, else the IPv4 address (of
 * an AF_INET call, or the last word of a mapped AF_INET6 one). */
static __always_inline void xfp_get_user_addr(struct bpf_sock_addr* ctx,
                                              int v6,
                                              int is6,
                                              __u8* dst) {
  if (is6) {
    xfp_put4(dst, ctx->user_ip6[0]);
    xfp_put4(dst + 4, ctx->user_ip6[1]);
    xfp_put4(dst + 8, ctx->user_ip6[2]);
    xfp_put4(dst + 12, ctx->user_ip6[3]);
  } else if (v6) {
    xfp_put4(dst, ctx->user_ip6[3]);
  } else {
    xfp_put4(dst, ctx->user_ip4);
  }
}

/* Writes addr/port (host order) as ctx's address: the inverse of xfp_get_user_addr. */
static __always_inline void xfp_set_user_addr(
    struct bpf_sock_addr* ctx, int v6, int is6, const __u8* addr, __u16 port) {
  if (is6) {
    ctx->user_ip6[0] = xfp_get4(addr);
    ctx->user_ip6[1] = xfp_get4(addr + 4);
    ctx->user_ip6[2] = xfp_get4(addr + 8);
    ctx->user_ip6[3] = xfp_get4(addr + 12);
  } else if (v6) {
    ctx->user_ip6[0] = 0;
    ctx->user_ip6[1] = 0;
    ctx->user_ip6[2] = bpf_htonl(0xffff);
    ctx->user_ip6[3] = xfp_get4(addr);
  } else {
    ctx->user_ip4 = xfp_get4(addr);
  }
  ctx->user_port = bpf_htons(port);
}

/* A redirect key; IPv4-mapped IPv6 addresses become IPv4 keys (a dual-stack proxy accepts an
 * IPv4 client as ::ffff:a.b.c.d). */
static __always_inline void xfp_key(struct xfp_redirect_key* key,
                                    __u32 family,
                                    __u32 ip4,
                                    __u32 a0,
                                    __u32 a1,
                                    __u32 a2,
                                    __u32 a3,
                                    __u16 port,
                                    __u8 proto) {
  __builtin_memset(key, 0, sizeof(*key));
  key->port = port;
  key->proto = proto;
  if (family == XFP_AF_INET6 && !xfp_mapped(a0, a1, a2)) {
    key->v6 = 1;
    xfp_put4(key->addr, a0);
    xfp_put4(key->addr + 4, a1);
    xfp_put4(key->addr + 8, a2);
    xfp_put4(key->addr + 12, a3);
  } else {
    xfp_put4(key->addr, family == XFP_AF_INET6 ? a3 : ip4);
  }
}

/* ---------------------------------------------------------------------------------------------
 * Creation and binding */

SEC("cgroup/sock_create")
int xfp_sock_create(struct bpf_sock* ctx) {
  struct xfp_sock_owner o = {};
  const __u64 cookie = bpf_get_socket_cookie(ctx);
  xfp_fill_owner(&o);
  bpf_map_update_elem(&xfp_sock_owners, &cookie, &o, BPF_ANY);
  __u64* id = bpf_sk_storage_get(&xfp_sock_ids, ctx, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (id) {
    *id = cookie;
  }
  return 1;
}

static __always_inline int xfp_bind(struct bpf_sock_addr* ctx, int v6) {
  struct xfp_sock_event ev;
  const __u64 cookie = bpf_get_socket_cookie(ctx);
  xfp_ev_init(&ev, cookie, XFP_SOCK_EV_REQUEST);
  xfp_refresh_owner(ctx->sk, cookie, &ev.owner);
  const int is6 = xfp_addr_is6(ctx, v6);
  const __u32 layer = is6 ? XFP_SOCK_BIND_REDIRECT_V6 : XFP_SOCK_BIND_REDIRECT_V4;
  if (!xfp_layer_active(layer)) {
    return 1;
  }
  ev.layer = layer;
  ev.proto = (__u8)ctx->protocol;
  ev.v6 = (__u8)is6;
  xfp_get_user_addr(ctx, v6, is6, ev.local);
  ev.local_port = bpf_ntohs((__u16)ctx->user_port);
  struct xfp_wait w;
  if (!xfp_upcall(&ev, &w)) {
    return 0;
  }
  if (w.r.rewrite) {
    xfp_set_user_addr(ctx, v6, is6, w.r.addr, w.r.port);
  }
  return 1;
}

SEC("cgroup/bind4")
int xfp_bind4(struct bpf_sock_addr* ctx) {
  return xfp_bind(ctx, 0);
}

SEC("cgroup/bind6")
int xfp_bind6(struct bpf_sock_addr* ctx) {
  return xfp_bind(ctx, 1);
}

static __always_inline int xfp_post_bind(struct bpf_sock* ctx, int v6) {
  struct xfp_sock_event ev;
  const __u64 cookie = bpf_get_socket_cookie(ctx);
  /* bound to an IPv4-mapped address: an IPv4 assignment (see xfp_addr_is6) */
  __u32 s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  if (v6) { /* post_bind4 may not read src_ip6 (v6 is a constant in each program) */
    s0 = XFP_READ(ctx->src_ip6[0]);
    s1 = XFP_READ(ctx->src_ip6[1]);
    s2 = XFP_READ(ctx->src_ip6[2]);
    s3 = XFP_READ(ctx->src_ip6[3]);
  }
  const int is6 = v6 && !xfp_mapped(s0, s1, s2);
  const __u32 layer = is6 ? XFP_SOCK_RESOURCE_ASSIGNMENT_V6 : XFP_SOCK_RESOURCE_ASSIGNMENT_V4;
  const int ask = xfp_layer_active(layer);
  xfp_ev_init(&ev, cookie, ask ? XFP_SOCK_EV_REQUEST : XFP_SOCK_EV_BOUND);
  ev.layer = ask ? layer : 0;
  ev.proto = (__u8)ctx->protocol;
  ev.v6 = (__u8)is6;
  if (is6) {
    xfp_put4(ev.local, s0);
    xfp_put4(ev.local + 4, s1);
    xfp_put4(ev.local + 8, s2);
    xfp_put4(ev.local + 12, s3);
  } else if (v6) {
    xfp_put4(ev.local, s3);
  } else {
    xfp_put4(ev.local, ctx->src_ip4);
  }
  ev.local_port = (__u16)ctx->src_port;
  xfp_fill_owner(&ev.owner);
  if (!ask) {
    xfp_emit(&ev);
    return 1;
  }
  struct xfp_wait w;
  return xfp_upcall(&ev, &w) ? 1 : 0;
}

SEC("cgroup/post_bind4")
int xfp_post_bind4(struct bpf_sock* ctx) {
  return xfp_post_bind(ctx, 0);
}

SEC("cgroup/post_bind6")
int xfp_post_bind6(struct bpf_sock* ctx) {
  return xfp_post_bind(ctx, 1);
}

/* ---------------------------------------------------------------------------------------------
 * Connect and unconnected sends */

/* The request of a connect (or a first sendmsg to a peer): destination asked for, local address
 * if bound, attached records. */
static __always_inline void xfp_connect_request(
    struct bpf_sock_addr* ctx, struct xfp_sock_event* ev, int v6, int is6, __u32 layer) {
  ev->layer = layer;
  ev->proto = (__u8)ctx->protocol;
  ev->v6 = (__u8)is6;
  xfp_get_user_addr(ctx, v6, is6, ev->remote);
  ev->remote_port = bpf_ntohs((__u16)ctx->user_port);
  struct bpf_sock* sk = ctx->sk;
  if (sk) {
    if (is6) {
      xfp_put4(ev->local, sk->src_ip6[0]);
      xfp_put4(ev->local + 4, sk->src_ip6[1]);
      xfp_put4(ev->local + 8, sk->src_ip6[2]);
      xfp_put4(ev->local + 12, sk->src_ip6[3]);
    } else if (v6) {
      /* a dual-stack socket toward an IPv4 peer: bound to a mapped address, or unspecified */
      const __u32 s0 = XFP_READ(sk->src_ip6[0]);
      const __u32 s1 = XFP_READ(sk->src_ip6[1]);
      const __u32 s2 = XFP_READ(sk->src_ip6[2]);
      const __u32 s3 = XFP_READ(sk->src_ip6[3]);
      if (xfp_mapped(s0, s1, s2)) {
        xfp_put4(ev->local, s3);
      }
    } else {
      xfp_put4(ev->local, sk->src_ip4);
    }
    ev->local_port = (__u16)sk->src_port;
    if (ev->local_port != 0) {
      ev->flags |= XFP_SOCK_F_HAD_LOCAL_PORT;
    }
  }
  const __u64 cookie = ev->cookie;
  const struct xfp_redirect_record* rec = bpf_map_lookup_elem(&xfp_sock_records, &cookie);
  if (rec) {
    ev->flags |= XFP_SOCK_F_RECORDS;
    ev->records_handle = rec->redirect_handle;
  }
}

/* Written into xfp_redirect_pending first and filled in place (saves a record on the stack). */
static const struct xfp_redirect_record xfp_zero_record = {};

static __always_inline int xfp_connect(struct bpf_sock_addr* ctx, int v6) {
  struct xfp_sock_event ev;
  const __u64 cookie = bpf_get_socket_cookie(ctx);
  xfp_ev_init(&ev, cookie, XFP_SOCK_EV_REQUEST);
  xfp_refresh_owner(ctx->sk, cookie, &ev.owner);
  const int is6 = xfp_addr_is6(ctx, v6);
  const __u32 layer = is6 ? XFP_SOCK_CONNECT_REDIRECT_V6 : XFP_SOCK_CONNECT_REDIRECT_V4;
  if (!xfp_layer_active(layer)) {
    return 1;
  }
  xfp_connect_request(ctx, &ev, v6, is6, layer);
  struct xfp_wait w;
  if (!xfp_upcall(&ev, &w)) {
    return 0;
  }
  if (!w.r.rewrite) {
    return 1;
  }
  xfp_set_user_addr(ctx, v6, is6, w.r.addr, w.r.port);
  if (bpf_map_update_elem(&xfp_redirect_pending, &cookie, &xfp_zero_record, BPF_ANY) != 0) {
    return 1;
  }
  struct xfp_redirect_record* rec = bpf_map_lookup_elem(&xfp_redirect_pending, &cookie);
  if (!rec) {
    return 1;
  }
  __builtin_memcpy(rec->orig_addr, ev.remote, sizeof(rec->orig_addr));
  rec->orig_port = ev.remote_port;
  rec->v6 = (__u8)is6;
  rec->target_pid = w.r.target_pid;
  rec->redirect_handle = w.r.redirect_handle;
  rec->context_len =
      w.r.context_len > sizeof(rec->context) ? sizeof(rec->context) : w.r.context_len;
  __builtin_memcpy(rec->context, w.r.context, sizeof(rec->context));
  return 1;
}

SEC("cgroup/connect4")
int xfp_connect4(struct bpf_sock_addr* ctx) {
  return xfp_connect(ctx, 0);
}

SEC("cgroup/connect6")
int xfp_connect6(struct bpf_sock_addr* ctx) {
  return xfp_connect(ctx, 1);
}

static __always_inline int xfp_sendmsg(struct bpf_sock_addr* ctx, int v6) {
  const int is6 = xfp_addr_is6(ctx, v6);
  const __u32 layer = is6 ? XFP_SOCK_CONNECT_REDIRECT_V6 : XFP_SOCK_CONNECT_REDIRECT_V4;
  if (!xfp_layer_active(layer)) {
    return 1;
  }
  const __u64 cookie = bpf_get_socket_cookie(ctx);
  struct xfp_sendmsg_key key;
  __builtin_memset(&key, 0, sizeof(key));
  key.cookie = cookie;
  xfp_get_user_addr(ctx, v6, is6, key.addr);
  key.port = bpf_ntohs((__u16)ctx->user_port);
  const struct xfp_sendmsg_answer* seen = bpf_map_lookup_elem(&xfp_sendmsg_seen, &key);
  if (seen) {
    if (seen->verdict != XFP_SOCK_PERMIT) {
      return 0;
    }
    if (seen->rewrite) {
      xfp_set_user_addr(ctx, v6, is6, seen->addr, seen->port);
    }
    return 1;
  }
  struct xfp_sock_event ev;
  xfp_ev_init(&ev, cookie, XFP_SOCK_EV_REQUEST);
  xfp_refresh_owner(ctx->sk, cookie, &ev.owner);
  xfp_connect_request(ctx, &ev, v6, is6, layer);
  ev.flags |= XFP_SOCK_F_SENDMSG;
  struct xfp_wait w;
  const int permit = xfp_upcall(&ev, &w);
  if (!w.got) {
    return 0; /* no answer: refused, and asked again next time */
  }
  struct xfp_sendmsg_answer a;
  __builtin_memset(&a, 0, sizeof(a));
  a.verdict = permit ? XFP_SOCK_PERMIT : XFP_SOCK_BLOCK;
  a.rewrite = permit && w.r.rewrite;
  __builtin_memcpy(a.addr, w.r.addr, sizeof(a.addr));
  a.port = w.r.port;
  bpf_map_update_elem(&xfp_sendmsg_seen, &key, &a, BPF_ANY);
  if (!permit) {
    return 0;
  }
  if (a.rewrite) {
    xfp_set_user_addr(ctx, v6, is6, w.r.addr, w.r.port);
  }
  return 1;
}

SEC("cgroup/sendmsg4")
int xfp_sendmsg4(struct bpf_sock_addr* ctx) {
  return xfp_sendmsg(ctx, 0);
}

SEC("cgroup/sendmsg6")
int xfp_sendmsg6(struct bpf_sock_addr* ctx) {
  return xfp_sendmsg(ctx, 1);
}

/* ---------------------------------------------------------------------------------------------
 * TCP lifetime (sockops) */

/* The connection's 4-tuple into ev (ports in host order). */
static __always_inline void xfp_ops_tuple(struct bpf_sock_ops* skops, struct xfp_sock_event* ev) {
  const __u32 family = XFP_READ(skops->family);
  const __u32 l4 = XFP_READ(skops->local_ip4);
  const __u32 r4 = XFP_READ(skops->remote_ip4);
  const __u32 l0 = XFP_READ(skops->local_ip6[0]);
  const __u32 l1 = XFP_READ(skops->local_ip6[1]);
  const __u32 l2 = XFP_READ(skops->local_ip6[2]);
  const __u32 l3 = XFP_READ(skops->local_ip6[3]);
  const __u32 r0 = XFP_READ(skops->remote_ip6[0]);
  const __u32 r1 = XFP_READ(skops->remote_ip6[1]);
  const __u32 r2 = XFP_READ(skops->remote_ip6[2]);
  const __u32 r3 = XFP_READ(skops->remote_ip6[3]);
  ev->v6 = family == XFP_AF_INET6;
  if (ev->v6) {
    xfp_put4(ev->local, l0);
    xfp_put4(ev->local + 4, l1);
    xfp_put4(ev->local + 8, l2);
    xfp_put4(ev->local + 12, l3);
    xfp_put4(ev->remote, r0);
    xfp_put4(ev->remote + 4, r1);
    xfp_put4(ev->remote + 8, r2);
    xfp_put4(ev->remote + 12, r3);
  } else {
    xfp_put4(ev->local, l4);
    xfp_put4(ev->remote, r4);
  }
  ev->local_port = (__u16)XFP_READ(skops->local_port);
  /* the kernel loads the network-order port into the upper 16 bits (little endian) */
  ev->remote_port = (__u16)bpf_ntohl(XFP_READ(skops->remote_port));
  ev->proto = XFP_IPPROTO_TCP;
}

static __always_inline void xfp_ops_key(struct bpf_sock_ops* skops, struct xfp_redirect_key* key) {
  xfp_key(key,
          XFP_READ(skops->family),
          XFP_READ(skops->local_ip4),
          XFP_READ(skops->local_ip6[0]),
          XFP_READ(skops->local_ip6[1]),
          XFP_READ(skops->local_ip6[2]),
          XFP_READ(skops->local_ip6[3]),
          (__u16)XFP_READ(skops->local_port),
          XFP_IPPROTO_TCP);
}

SEC("sockops")
int xfp_sockops(struct bpf_sock_ops* skops) {
  const __u32 op = skops->op;
  if (op == BPF_SOCK_OPS_TCP_CONNECT_CB) {
    const __u64 cookie = bpf_get_socket_cookie(skops);
    const struct xfp_redirect_record* rec = bpf_map_lookup_elem(&xfp_redirect_pending, &cookie);
    if (rec) {
      struct xfp_redirect_key key;
      xfp_ops_key(skops, &key);
      bpf_map_update_elem(&xfp_redirects, &key, rec, BPF_ANY);
      bpf_map_delete_elem(&xfp_redirect_pending, &cookie);
      /* The record goes at TCP_CLOSE: also when the connection never establishes. */
      bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
    }
    return 1;
  }
  if (op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB || op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB) {
    struct xfp_sock_event ev;
    const __u64 cookie = bpf_get_socket_cookie(skops);
    xfp_ev_init(&ev, cookie, XFP_SOCK_EV_ESTABLISHED);
    xfp_ops_tuple(skops, &ev);
    if (op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
      ev.flags = XFP_SOCK_F_ACTIVE;
    }
    xfp_recorded_owner(cookie, &ev.owner);
    xfp_emit(&ev);
    bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
    return 1;
  }
  if (op == BPF_SOCK_OPS_STATE_CB && skops->args[1] == BPF_TCP_CLOSE) {
    struct xfp_sock_event ev;
    const __u64 cookie = bpf_get_socket_cookie(skops);
    xfp_ev_init(&ev, cookie, XFP_SOCK_EV_TCP_CLOSED);
    xfp_ops_tuple(skops, &ev);
    ev.tcp_state = (__u8)skops->args[0];
    xfp_recorded_owner(cookie, &ev.owner);
    xfp_emit(&ev);
    struct xfp_redirect_key key;
    xfp_ops_key(skops, &key);
    bpf_map_delete_elem(&xfp_redirects, &key);
  }
  return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Release */

/* The kernel's struct sock, as far as sock_release reads it (CO-RE: libbpf relocates the offsets
 * against the running kernel's BTF; the ___xfp suffix keeps the names apart from any header). */
struct in6_addr___xfp {
  union {
    __u32 u6_addr32[4];
  } in6_u;
} __attribute__((preserve_access_index));

struct sock_common___xfp {
  __u32 skc_rcv_saddr; /* network order */
  __u16 skc_num;       /* local port, host order */
  struct in6_addr___xfp skc_v6_rcv_saddr;
} __attribute__((preserve_access_index));

struct sock___xfp {
  struct sock_common___xfp __sk_common;
} __attribute__((preserve_access_index));

/* kfunc (6.2+): the program's context as the kernel object behind it (struct sock here) */
extern void* bpf_cast_to_kern_ctx(void* obj) __ksym;

SEC("cgroup/sock_release")
int xfp_sock_release(struct bpf_sock* ctx) {
  struct xfp_sock_event ev;
  __u64 cookie = bpf_get_socket_cookie(ctx);
  xfp_ev_init(&ev, cookie, XFP_SOCK_EV_RELEASED);
  /* src_ip4/src_ip6/src_port are post_bind-only fields of the context: the local end comes from
   * the kernel socket itself */
  const struct sock___xfp* ks = bpf_cast_to_kern_ctx(ctx);
  const __u32 family = XFP_READ(ctx->family);
  const __u32 l4 = ks->__sk_common.skc_rcv_saddr;
  const __u32 r4 = XFP_READ(ctx->dst_ip4);
  const __u32 l0 = ks->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[0];
  const __u32 l1 = ks->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[1];
  const __u32 l2 = ks->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[2];
  const __u32 l3 = ks->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[3];
  const __u32 r0 = XFP_READ(ctx->dst_ip6[0]);
  const __u32 r1 = XFP_READ(ctx->dst_ip6[1]);
  const __u32 r2 = XFP_READ(ctx->dst_ip6[2]);
  const __u32 r3 = XFP_READ(ctx->dst_ip6[3]);
  const __u16 localPort = ks->__sk_common.skc_num;
  ev.proto = (__u8)ctx->protocol;
  ev.v6 = family == XFP_AF_INET6;
  if (ev.v6) {
    xfp_put4(ev.local, l0);
    xfp_put4(ev.local + 4, l1);
    xfp_put4(ev.local + 8, l2);
    xfp_put4(ev.local + 12, l3);
    xfp_put4(ev.remote, r0);
    xfp_put4(ev.remote + 4, r1);
    xfp_put4(ev.remote + 8, r2);
    xfp_put4(ev.remote + 12, r3);
  } else {
    xfp_put4(ev.local, l4);
    xfp_put4(ev.remote, r4);
  }
  ev.local_port = localPort;
  ev.remote_port = bpf_ntohs((__u16)XFP_READ(ctx->dst_port));
  if (ctx->state == BPF_TCP_LISTEN) {
    ev.flags = XFP_SOCK_F_LISTENING;
  }
  xfp_recorded_owner(cookie, &ev.owner);
  xfp_emit(&ev);
  bpf_map_delete_elem(&xfp_sock_owners, &cookie);
  bpf_map_delete_elem(&xfp_sock_records, &cookie);
  bpf_map_delete_elem(&xfp_redirect_pending, &cookie);
  return 1;
}

/* ---------------------------------------------------------------------------------------------
 * Socket options */

struct xfp_sockaddr_in {
  __u16 family;
  __u16 port; /* network order */
  __u32 addr;
  __u8 zero[8];
};

struct xfp_sockaddr_in6 {
  __u16 family;
  __u16 port; /* network order */
  __u32 flowinfo;
  __u8 addr[16];
  __u32 scope_id;
};

SEC("cgroup/getsockopt")
int xfp_getsockopt(struct bpf_sockopt* ctx) {
  const int level = ctx->level;
  const int name = ctx->optname;
  int what;
  if (level == XFP_SOL && name == XFP_SO_REDIRECT_RECORDS) {
    what = 0;
  } else if (level == XFP_SOL_IP && name == XFP_SO_ORIGINAL_DST) {
    what = 1;
  } else if (level == XFP_SOL_IPV6 && name == XFP_SO_ORIGINAL_DST) {
    what = 2;
  } else {
    return 1;
  }
  struct bpf_sock* sk = ctx->sk;
  if (!sk) {
    return 1;
  }
  struct xfp_redirect_key key;
  xfp_key(&key,
          XFP_READ(sk->family),
          XFP_READ(sk->dst_ip4),
          XFP_READ(sk->dst_ip6[0]),
          XFP_READ(sk->dst_ip6[1]),
          XFP_READ(sk->dst_ip6[2]),
          XFP_READ(sk->dst_ip6[3]),
          bpf_ntohs((__u16)XFP_READ(sk->dst_port)),
          (__u8)XFP_READ(sk->protocol));
  const struct xfp_redirect_record* rec = bpf_map_lookup_elem(&xfp_redirects, &key);
  if (!rec) {
    return 1;
  }
  __u8* p = ctx->optval;
  __u8* end = ctx->optval_end;
  if (what == 0) {
    if (p + sizeof(*rec) > end) {
      return 1;
    }
    __builtin_memcpy(p, rec, sizeof(*rec));
    ctx->optlen = sizeof(*rec);
  } else if (what == 1) {
    if (rec->v6 || p + sizeof(struct xfp_sockaddr_in) > end) {
      return 1;
    }
    struct xfp_sockaddr_in* sa = (struct xfp_sockaddr_in*)p;
    __builtin_memset(sa, 0, sizeof(*sa));
    sa->family = XFP_AF_INET;
    sa->port = bpf_htons(rec->orig_port);
    sa->addr = xfp_get4(rec->orig_addr);
    ctx->optlen = sizeof(*sa);
  } else {
    if (p + sizeof(struct xfp_sockaddr_in6) > end) {
      return 1;
    }
    struct xfp_sockaddr_in6* sa = (struct xfp_sockaddr_in6*)p;
    __builtin_memset(sa, 0, sizeof(*sa));
    sa->family = XFP_AF_INET6;
    sa->port = bpf_htons(rec->orig_port);
    if (rec->v6) {
      __builtin_memcpy(sa->addr, rec->orig_addr, sizeof(sa->addr));
    } else {
      sa->addr[10] = 0xff;
      sa->addr[11] = 0xff;
      __builtin_memcpy(sa->addr + 12, rec->orig_addr, 4);
    }
    ctx->optlen = sizeof(*sa);
  }
  ctx->retval = 0;
  return 1;
}

SEC("cgroup/setsockopt")
int xfp_setsockopt(struct bpf_sockopt* ctx) {
  if (ctx->level != XFP_SOL || ctx->optname != XFP_SO_REDIRECT_RECORDS) {
    return 1;
  }
  struct xfp_redirect_record rec;
  const __u8* p = ctx->optval;
  const __u8* end = ctx->optval_end;
  if (ctx->optlen < (int)sizeof(rec) || p + sizeof(rec) > end) {
    return 1;
  }
  struct bpf_sock* sk = ctx->sk;
  if (!sk) {
    return 1;
  }
  const __u64* id = bpf_sk_storage_get(&xfp_sock_ids, sk, 0, 0);
  if (!id) {
    return 1; /* a socket no hook has seen: the kernel's own answer (ENOPROTOOPT) */
  }
  const __u64 cookie = *id;
  __builtin_memcpy(&rec, p, sizeof(rec));
  if (bpf_map_update_elem(&xfp_sock_records, &cookie, &rec, BPF_ANY) != 0) {
    return 0; /* EPERM: the records could not be kept */
  }
  ctx->optlen = -1; /* handled: the kernel's setsockopt is skipped, the call returns 0 */
  return 1;
}

char LICENSE[] SEC("license") = "GPL";
