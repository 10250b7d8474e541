// serial -- SOA serials: the same content keeps its serial, changed content gets a greater one (RFC 1982).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace phoenix::zones {

/// 64-bit FNV-1a, stable across builds and machines (std::hash is not). The default seed is not
/// FNV's offset basis (one digit short of it); it stays, since serials and netgen's manifests hold
/// hashes made with it. Pass 0xcbf29ce484222325 for the standard FNV-1a (the catalog ids do).
uint64_t content_hash(std::string_view data, uint64_t seed = 1469598103934665603ULL);

/// True if a is greater than b in RFC 1982 serial number arithmetic.
bool serial_gt(uint32_t a, uint32_t b);

/// Replaces `path` with `content` so that a reader or a crash sees the old file or the new one, never
/// a part: a temp file beside it, fsync, rename, fsync of the directory. Returns "" or why it failed.
std::string write_file_atomically(const std::filesystem::path& path, std::string_view content, mode_t mode = 0640);

/// Remembers (content hash, serial) per zone key in `<state_dir>/serials.json`, so that serials survive restarts.
/// Without a state directory the memory is per process.
class SerialStore {
 public:
  explicit SerialStore(std::optional<std::filesystem::path> state_dir);

  /// The serial for `key` given its content hash: unchanged if the hash is known, else strictly greater
  /// than the last one (and at least the current Unix time, so a lost state file still moves forward).
  uint32_t serial_for(const std::string& key, uint64_t hash);

  /// Makes `key` with content `hash` keep `serial`, as if it had been served before (phoenix-netgen pins
  /// serials this way so that generated zone files are the same bytes for the same inventory).
  void pin(const std::string& key, uint64_t hash, uint32_t serial);

  /// Writes the state file atomically (temp file + rename); returns "" or the reason it failed.
  std::string save();
  /// "" or why the state could not be read at start (it then starts empty).
  const std::string& load_error() const { return load_error_; }

 private:
  struct Entry {
    uint64_t hash;
    uint32_t serial;
  };
  std::optional<std::filesystem::path> file_;
  std::map<std::string, Entry> entries_;
  std::string load_error_;
  std::mutex mu_;
};

}  // namespace phoenix::zones
