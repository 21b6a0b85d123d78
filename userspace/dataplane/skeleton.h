// Skeleton<T>: owns a bpftool-generated skeleton (T::open/load/destroy, bpftool >= 7.1 C++
// helpers). Movable; destroying it closes the object, its maps and programs (attachments keep
// their own program reference, see XdpAttachment/TcAttachment). A failed load carries the end of
// the verifier log.
#pragma once

#include <bpf/libbpf.h>

#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "userspace/dataplane/bpf_error.h"

namespace xfp::dataplane {

template <class T>
class Skeleton {
 public:
  // Opens the embedded object (no kernel objects yet); rodata may be written before load().
  [[nodiscard]] static BpfResult<Skeleton> open(std::string name) {
    auto log = std::make_unique<std::vector<char>>(kLogSize, '\0');
    bpf_object_open_opts opts{};
    opts.sz = sizeof(opts);
    opts.kernel_log_buf = log->data();
    opts.kernel_log_size = log->size();
    errno = 0;
    T* raw = T::open(&opts);
    if (raw == nullptr) {
      return bpfFailure(-errno, "open " + name);
    }
    return Skeleton(raw, std::move(name), std::move(log));
  }

  // Opens and loads (verifies) in one step.
  [[nodiscard]] static BpfResult<Skeleton> openAndLoad(std::string name) {
    auto skel = open(std::move(name));
    if (!skel) {
      return skel;
    }
    if (auto loaded = skel->load(); !loaded) {
      return tl::unexpected(loaded.error());
    }
    return skel;
  }

  [[nodiscard]] BpfResult<void> load() {
    const int err = T::load(skel_.get());
    if (err != 0) {
      return bpfFailure(err, "load " + name_, logTail());
    }
    return {};
  }

  [[nodiscard]] T* get() const noexcept { return skel_.get(); }
  T* operator->() const noexcept { return skel_.get(); }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

 private:
  static constexpr std::size_t kLogSize = 1 << 20;
  static constexpr std::size_t kTail = 4096;

  struct Deleter {
    void operator()(T* s) const noexcept { T::destroy(s); }
  };

  Skeleton(T* raw, std::string name, std::unique_ptr<std::vector<char>> log)
      : log_(std::move(log)), name_(std::move(name)), skel_(raw) {}

  std::string logTail() const {
    std::string text(log_->data());
    return text.size() > kTail ? text.substr(text.size() - kTail) : text;
  }

  // The bpf_object keeps a pointer to the log buffer: it lives on the heap (stable across moves)
  // and is declared before skel_ so it outlives the object.
  std::unique_ptr<std::vector<char>> log_;
  std::string name_;
  std::unique_ptr<T, Deleter> skel_;
};

}  // namespace xfp::dataplane
