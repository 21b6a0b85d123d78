// The persistent object store of xfpd (wfp-model.md §7.5): the PERSISTENT providers, provider
// contexts, sublayers, callouts and filters of the engine's policy, kept crash-safely in a state
// directory and re-added, with their ids, when the engine starts.
//
//   <dir>/store.json       the last committed state
//   <dir>/store.prev.json  the state committed before it (the fallback)
//   <dir>/store.json.tmp   a save in progress (removed by the next save; never read)
//
// File format, crash-safety steps and recovery: docs/engine.md ("Persistent store").
// Not thread-safe: one Store per directory, saves serialized by the caller.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "userspace/core/policy.h"
#include "userspace/core/result.h"
#include "userspace/engine/policy_writer.h"

namespace xfp::engine {

// The store format this build writes and reads.
constexpr int kStoreFormatVersion = 1;

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as in iSCSI/ext4: crc32c("123456789")
// is 0xE3069283. `crc` continues a previous call.
uint32_t crc32c(std::string_view data, uint32_t crc = 0);

// The bytes of a store file holding `objects`: {"xfp_store":1,"payload":{...},"crc32c":"..."}
// with the CRC-32C of every byte before ,"crc32c". Fails only on text that is not valid UTF-8.
Result<std::string> encodeStoreFile(const PersistentObjects& objects);

// Checks the envelope (format name, version, checksum trailer, checksum) and decodes the
// payload. Errors say what is wrong ("checksum mismatch: ...", "truncated ...", "format version
// 7 is not supported ...", "filters[0].weight.type: ..."), without a file name.
Result<PersistentObjects> decodeStoreFile(std::string_view bytes);

// Reads, decodes and restores one store file into a fresh Policy (restorePolicy). Every error
// starts with the path.
Result<Policy> readStoreFile(const std::filesystem::path& path);

struct LoadReport {
  enum class Source {
    Empty,     // no store yet (first start): no persistent objects
    Current,   // store.json
    Previous,  // store.prev.json, because store.json is missing or bad
  };
  Source source = Source::Empty;
  std::filesystem::path path;         // the file the state came from; empty for Empty
  std::vector<std::string> problems;  // what was wrong with store.json ("<path>: <what>")
};

struct Loaded {
  Policy policy;  // built-ins plus the stored objects, all Persistent, with their stored ids
  LoadReport report;
};

class Store {
 public:
  explicit Store(std::filesystem::path directory);

  [[nodiscard]] const std::filesystem::path& directory() const { return dir_; }
  [[nodiscard]] std::filesystem::path currentPath() const { return dir_ / "store.json"; }
  [[nodiscard]] std::filesystem::path previousPath() const { return dir_ / "store.prev.json"; }
  [[nodiscard]] std::filesystem::path tempPath() const { return dir_ / "store.json.tmp"; }

  // Commits the persistent objects of `policy`: removes leftovers of an interrupted save,
  // writes store.json.tmp and fsyncs it, keeps the current store.json (if it verifies) as
  // store.prev.json, renames the new file over store.json and fsyncs the directory. When the
  // function fails the last committed store.json is untouched. Creates the directory (0700) if
  // needed. Saving a state identical to the committed one writes nothing.
  Result<void> save(const Policy& policy);

  // The committed state: store.json; if it is missing or bad (empty, truncated, checksum,
  // version, shape or validation), the problem goes into report.problems and store.prev.json
  // is loaded instead. No store at all is an empty state. Fails, naming both files and what is
  // wrong with each, when store.json is bad and no good store.prev.json exists. Never writes.
  [[nodiscard]] Result<Loaded> load() const;

 private:
  std::filesystem::path dir_;
};

}  // namespace xfp::engine
