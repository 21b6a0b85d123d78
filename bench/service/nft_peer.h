// The nftables peer of the commit benchmark: one table and one input chain in a namespace of the
// benchmark's own, driven two ways, each timed like the FWPM calls it stands beside:
//  - in process through libnftables (nft_run_cmd_from_buffer: what nft -f does, one netlink
//    batch = one nf_tables transaction), on a thread that entered the namespace and keeps one
//    nft context for the whole run (as a management program keeps one engine handle). The
//    library is dlopen'ed (libnftables.so.1; its headers are not needed);
//  - the nft command (fork + exec inside the namespace, waited for): what an administrator runs.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace xfp::bench::service {

struct NftTimed {
  bool ok = false;
  double ms = 0;
  std::string error;
};

class NftPeer {
 public:
  static constexpr const char* kTable = "xfpbench";
  static constexpr const char* kChain = "in";

  NftPeer() = default;
  NftPeer(const NftPeer&) = delete;
  NftPeer& operator=(const NftPeer&) = delete;
  ~NftPeer();

  // Loads libnftables and starts the worker in namespace `ns`; "" or why not (then only the CLI
  // is available, if at all).
  std::string start(const std::string& ns);
  [[nodiscard]] bool hasLibrary() const { return ctx_ != nullptr; }

  // `commands` (nft syntax, one per line) in one call; only the library call is timed.
  NftTimed run(const std::string& commands);
  // The nft program with `args` (e.g. {"-f", path}), fork to exit timed.
  NftTimed runCli(const std::vector<std::string>& args);

  // Drops and re-creates the table with an empty input chain (policy accept).
  std::string reset();
  // Replaces the chain's rules by `rules` (nft rule bodies), in one batch; its time.
  NftTimed load(const std::vector<std::string>& rules);
  static std::string addRule(const std::string& body);

 private:
  void onWorker(const std::function<void()>& fn);
  std::string ns_;
  void* lib_ = nullptr;
  void* ctx_ = nullptr;
  void* (*ctxNew_)(unsigned) = nullptr;
  void (*ctxFree_)(void*) = nullptr;
  int (*bufferOutput_)(void*) = nullptr;
  int (*bufferError_)(void*) = nullptr;
  const char* (*errorBuffer_)(void*) = nullptr;
  int (*runCmd_)(void*, const char*) = nullptr;

  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool jobDone_ = false;
  bool quit_ = false;
};

}  // namespace xfp::bench::service
