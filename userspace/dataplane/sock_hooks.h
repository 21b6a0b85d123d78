// SockHooks: the socket-hook object xfp_sock (bpf/progs/sock.bpf.c) loaded and attached to one
// cgroup v2 directory (and so to every process below it). It is the kernel half of the ALE
// layers that Windows classifies at a socket call (docs/ale.md): bind and connect redirection,
// resource assignment, and the endpoint lifetime events. Attachments are bpf_links owned by this
// object: destroying it detaches every program, unless takeOver() pinned them (then they stay,
// and refuse the socket calls at active layers while no runtime answers: fail closed).
//
// Two channels reach user space through one ring buffer (xfp_sock_events):
//   * upcalls (XFP_SOCK_EV_REQUEST): a socket call at a layer with filters waits, bounded by
//     wait_ns, for reply() with the request's seq; no answer in time: EPERM (fail closed);
//   * one-way lifetime events (bound, established, TCP closed, released).
// The identity of a socket's owner is kept per socket cookie (owner()).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "userspace/dataplane/bpf_error.h"
#include "xfp/abi.h"

namespace xfp::dataplane {

struct SockHooksImpl;

class SockHooks {
 public:
  // Loads xfp_sock and attaches all of its programs to the cgroup v2 directory `cgroupPath`.
  // With a pinDir, takeOver() later pins the links there (one bpffs file per program).
  [[nodiscard]] static BpfResult<std::unique_ptr<SockHooks>> attach(const std::string& cgroupPath,
                                                                    const std::string& pinDir = "");
  ~SockHooks();
  SockHooks(const SockHooks&) = delete;
  SockHooks& operator=(const SockHooks&) = delete;

  // Which socket calls are upcalls (XFP_SOCK_* bits), how long a hook waits for the answer, and
  // the process whose own calls are never upcalls (the one answering them). At most CPUs - 1
  // hooks wait at once, system-wide; beyond that a socket call fails with EAGAIN.
  void configure(uint32_t layers, uint64_t waitNs, uint32_t runtimeTgid);
  // What became of the upcalls of this object (posted, answered, timed out, refused as busy or
  // for want of a runtime).
  [[nodiscard]] xfp_sock_stats stats() const;
  // With a pinDir: detaches the links an earlier owner left pinned there (which refused the
  // socket calls at active layers while nobody answered) and pins this object's links in their
  // place, so that they outlive this process (a crash, or a stop that leaves them attached). Call
  // it after configure() and heartbeat(): until then the predecessor keeps the layers closed
  // (both run meanwhile; the stale one refuses). Without a pinDir: nothing to do.
  [[nodiscard]] BpfResult<void> takeOver();
  // Detaches every program now, pinned or not, and removes the pins (a clean stop).
  void detach();
  // Detaches and unpins the socket hooks an earlier owner left pinned in dir (a service whose
  // configuration no longer names a cgroup). A pin that is not a cgroup link is an error, and
  // then nothing is changed.
  [[nodiscard]] static BpfResult<void> retirePinned(const std::string& dir);
  // Proves the answering side is alive (CLOCK_MONOTONIC now); without a fresh heartbeat an
  // upcall is refused at once (EPERM).
  void heartbeat();

  // The ring buffer's epoll fd (readable: events wait) and draining it: fn runs per event.
  [[nodiscard]] int eventsEpollFd() const;
  // The ring buffer map itself (pollable): several threads that must all be woken each add it to
  // an epoll instance of their own (waiters of one epoll fd are woken one at a time).
  [[nodiscard]] int eventsMapFd() const;
  size_t consume(const std::function<void(const xfp_sock_event&)>& fn);
  // Positions in the event ring (bytes, ever growing): every event posted before a reading of
  // producedPosition() has been taken off the ring (and handed to consume()'s fn) once
  // consumedPosition() has reached it. A barrier for a thread that is not the consumer.
  [[nodiscard]] uint64_t producedPosition() const;
  [[nodiscard]] uint64_t consumedPosition() const;
  // Answers the upcall r.seq (all fields written first, seq last).
  void reply(const xfp_sock_reply& r);

  // The recorded owner of a socket (by cookie), if it was created or used below the cgroup.
  [[nodiscard]] std::optional<xfp_sock_owner> owner(uint64_t cookie) const;
  // The redirect record of a redirected TCP connection, by the client's local address (what a
  // proxy's getsockopt(XFP_SOL, XFP_SO_REDIRECT_RECORDS) reads).
  [[nodiscard]] std::optional<xfp_redirect_record> redirectRecord(
      const xfp_redirect_key& key) const;

  // The cgroup's id (the inode of its directory): xfp_sock_owner.cgroup_id of its processes.
  [[nodiscard]] uint64_t cgroupId() const;
  [[nodiscard]] const std::string& cgroupPath() const;
  // A map of the object by name (tests), -1 if there is none.
  [[nodiscard]] int mapFd(const char* name) const;

 private:
  explicit SockHooks(std::unique_ptr<SockHooksImpl> impl);
  std::unique_ptr<SockHooksImpl> impl_;
};

}  // namespace xfp::dataplane
