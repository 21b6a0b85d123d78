#include "userspace/engine/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <system_error>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace xfp::engine {

using nlohmann::json;

namespace {

constexpr std::array<uint32_t, 256> makeCrc32cTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) {
      c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    table[i] = c;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kCrc32cTable = makeCrc32cTable();

constexpr std::string_view kHead = R"({"xfp_store":)";
constexpr std::string_view kPayloadMember = R"(,"payload":)";
constexpr std::string_view kTrailerStart = R"(,"crc32c":")";
constexpr std::string_view kTrailerEnd = "\"}\n";
constexpr size_t kTrailerSize = kTrailerStart.size() + 8 + kTrailerEnd.size();

tl::unexpected<Error> ioError(const std::filesystem::path& path, const char* what, int err) {
  return fail(status::kSuccess, fmt::format("{}: {}: {}", path.string(), what, std::strerror(err)));
}

// A file's bytes; nullopt when it does not exist.
Result<std::optional<std::string>> readFile(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      return std::optional<std::string>();
    }
    return ioError(path, "cannot open", errno);
  }
  std::string out;
  std::array<char, 65536> buf;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int err = errno;
      ::close(fd);
      return ioError(path, "cannot read", err);
    }
    if (n == 0) {
      break;
    }
    out.append(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return std::optional<std::string>(std::move(out));
}

// Writes `bytes` to a new file at `path` (replacing one left there) and fsyncs it.
Result<void> writeFileSynced(const std::filesystem::path& path, std::string_view bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    return ioError(path, "cannot create", errno);
  }
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int err = errno;
      ::close(fd);
      return ioError(path, "cannot write", err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return ioError(path, "fsync failed", err);
  }
  if (::close(fd) != 0) {
    return ioError(path, "close failed", errno);
  }
  return {};
}

Result<void> removeIfPresent(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ioError(path, "cannot remove", errno);
  }
  return {};
}

Result<void> renameFile(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return ioError(to, fmt::format("cannot rename {} to it", from.string()).c_str(), errno);
  }
  return {};
}

Result<void> syncDirectory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return ioError(dir, "cannot open directory", errno);
  }
  if (::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    return ioError(dir, "fsync of the directory failed", err);
  }
  ::close(fd);
  return {};
}

tl::unexpected<Error> corrupt(const std::string& what) {
  return fail(status::kSuccess, what);
}

// The envelope checks, cheapest first: format name and version (so a newer format is named as
// such rather than as damage), the checksum trailer (truncation), the checksum (damage, edits).
Result<void> checkEnvelope(std::string_view bytes) {
  if (bytes.empty()) {
    return corrupt("empty file (0 bytes)");
  }
  if (bytes.substr(0, kHead.size()) != kHead.substr(0, std::min(bytes.size(), kHead.size()))) {
    return corrupt(fmt::format("not an xfp store file (it does not start with {})", kHead));
  }
  if (bytes.size() <= kHead.size()) {
    return corrupt(fmt::format("truncated ({} bytes)", bytes.size()));
  }
  size_t i = kHead.size();
  uint64_t version = 0;
  while (i < bytes.size() && bytes[i] >= '0' && bytes[i] <= '9' && version < 1000000) {
    version = version * 10 + static_cast<uint64_t>(bytes[i] - '0');
    ++i;
  }
  if (i == kHead.size()) {
    return corrupt("not an xfp store file (no format version after \"xfp_store\")");
  }
  if (version != kStoreFormatVersion) {
    return corrupt(fmt::format("format version {} is not supported (this xfpd reads version {})",
                               version,
                               kStoreFormatVersion));
  }
  const size_t size = bytes.size();
  if (size < kHead.size() + kTrailerSize ||
      bytes.substr(size - kTrailerEnd.size()) != kTrailerEnd ||
      bytes.substr(size - kTrailerSize, kTrailerStart.size()) != kTrailerStart) {
    return corrupt(
        fmt::format("truncated or damaged: the checksum trailer {}...\"}} is missing ({} bytes)",
                    kTrailerStart,
                    size));
  }
  const std::string_view hex = bytes.substr(size - kTrailerSize + kTrailerStart.size(), 8);
  uint32_t stored = 0;
  for (char c : hex) {
    const int d = detail::hexValue(c);
    if (d < 0) {
      return corrupt(fmt::format("damaged checksum trailer \"{}\"", hex));
    }
    stored = stored * 16 + static_cast<uint32_t>(d);
  }
  const uint32_t computed = crc32c(bytes.substr(0, size - kTrailerSize));
  if (stored != computed) {
    return corrupt(fmt::format(
        "checksum mismatch: the file records crc32c {:08x} but its contents give {:08x} "
        "(damaged or edited)",
        stored,
        computed));
  }
  return {};
}

// store.json or store.prev.json restored; nullopt when the file does not exist.
Result<std::optional<Policy>> tryRead(const std::filesystem::path& path) {
  auto bytes = readFile(path);
  if (!bytes) {
    return tl::unexpected(bytes.error());
  }
  if (!bytes->has_value()) {
    return std::optional<Policy>();
  }
  auto objects = decodeStoreFile(**bytes);
  if (!objects) {
    return tl::unexpected(Error(objects.error()).within(path.string()));
  }
  auto policy = restorePolicy(*objects);
  if (!policy) {
    return tl::unexpected(Error(policy.error()).within(path.string()));
  }
  return std::optional<Policy>(std::move(*policy));
}

}  // namespace

uint32_t crc32c(std::string_view data, uint32_t crc) {
  crc = ~crc;
  for (char ch : data) {
    crc = kCrc32cTable[(crc ^ static_cast<uint8_t>(ch)) & 0xFF] ^ (crc >> 8);
  }
  return ~crc;
}

Result<std::string> encodeStoreFile(const PersistentObjects& objects) {
  std::string out;
  out += kHead;
  out += std::to_string(kStoreFormatVersion);
  out += kPayloadMember;
  try {
    out += objectsToJson(objects).dump();
  } catch (const json::exception& e) {
    return fail(status::kInvalidParameter, std::string("cannot encode the store: ") + e.what());
  }
  const uint32_t crc = crc32c(out);
  out += kTrailerStart;
  out += fmt::format("{:08x}", crc);
  out += kTrailerEnd;
  return out;
}

Result<PersistentObjects> decodeStoreFile(std::string_view bytes) {
  if (auto r = checkEnvelope(bytes); !r) {
    return tl::unexpected(r.error());
  }
  const json root = json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (root.is_discarded() || !root.is_object()) {
    return corrupt("not valid JSON although its checksum matches");
  }
  auto payload = root.find("payload");
  if (payload == root.end()) {
    return corrupt("no \"payload\" member");
  }
  return objectsFromJson(*payload);
}

Result<Policy> readStoreFile(const std::filesystem::path& path) {
  auto r = tryRead(path);
  if (!r) {
    return tl::unexpected(r.error());
  }
  if (!r->has_value()) {
    return fail(status::kSuccess, path.string() + ": does not exist");
  }
  return std::move(**r);
}

Store::Store(std::filesystem::path directory) : dir_(std::move(directory)) {}

Result<void> Store::save(const Policy& policy) {
  std::error_code ec;
  if (std::filesystem::create_directories(dir_, ec)) {
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all, ec);
  }
  if (ec) {
    return fail(
        status::kSuccess,
        fmt::format("{}: cannot create the state directory: {}", dir_.string(), ec.message()));
  }
  const std::filesystem::path prevTemp = dir_ / "store.prev.json.tmp";
  // Leftovers of a save that crashed before its rename: never committed, never read.
  if (auto r = removeIfPresent(tempPath()); !r) {
    return r;
  }
  if (auto r = removeIfPresent(prevTemp); !r) {
    return r;
  }

  auto bytes = encodeStoreFile(collectPersistent(policy));
  if (!bytes) {
    return tl::unexpected(bytes.error());
  }
  auto current = readFile(currentPath());
  if (!current) {
    return tl::unexpected(current.error());
  }
  if (current->has_value() && **current == *bytes) {
    return {};  // already committed
  }

  // 1. The new state, complete and on disk, under a name load() never reads.
  if (auto r = writeFileSynced(tempPath(), *bytes); !r) {
    (void)removeIfPresent(tempPath());
    return r;
  }
  // 2. The committed state becomes the previous one (only a good one: a bad store.json must not
  //    replace a good fallback; it is kept as store.corrupt.json for inspection instead).
  //    store.json itself stays in place throughout.
  if (current->has_value()) {
    if (checkEnvelope(**current)) {
      if (::link(currentPath().c_str(), prevTemp.c_str()) != 0) {
        if (auto r = writeFileSynced(prevTemp, **current); !r) {
          return r;
        }
      }
      if (auto r = renameFile(prevTemp, previousPath()); !r) {
        return r;
      }
    } else {
      const std::filesystem::path kept = dir_ / "store.corrupt.json";
      (void)removeIfPresent(kept);
      (void)::link(currentPath().c_str(), kept.c_str());
    }
  }
  // 3. The commit point: an atomic rename over store.json, made durable with the directory.
  if (auto r = renameFile(tempPath(), currentPath()); !r) {
    return r;
  }
  return syncDirectory(dir_);
}

Result<Loaded> Store::load() const {
  const std::filesystem::path cur = currentPath();
  const std::filesystem::path prev = previousPath();
  auto current = tryRead(cur);
  if (current && current->has_value()) {
    return Loaded{std::move(**current), LoadReport{LoadReport::Source::Current, cur, {}}};
  }
  auto previous = tryRead(prev);
  LoadReport report;
  if (current) {  // store.json does not exist
    if (previous && !previous->has_value()) {
      return Loaded{Policy(), report};  // first start
    }
    if (!previous) {
      return fail(previous.error().status,
                  fmt::format("{}: missing, and the previous store is bad: {}",
                              cur.string(),
                              previous.error().message));
    }
    report.problems.push_back(
        fmt::format("{}: missing although {} exists", cur.string(), prev.string()));
  } else {
    if (previous && !previous->has_value()) {
      return fail(current.error().status,
                  fmt::format("{}; no previous good store to fall back to ({} does not exist)",
                              current.error().message,
                              prev.string()));
    }
    if (!previous) {
      return fail(current.error().status,
                  fmt::format("{}; the previous store is bad too: {}",
                              current.error().message,
                              previous.error().message));
    }
    report.problems.push_back(current.error().message);
  }
  report.source = LoadReport::Source::Previous;
  report.path = prev;
  return Loaded{std::move(**previous), std::move(report)};
}

}  // namespace xfp::engine
