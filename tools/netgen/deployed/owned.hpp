// owned -- the files netgen owns in a directory, and how it changes them. A manifest
// (.phoenix-netgen-manifest.json) in each directory netgen writes lists what it wrote there, per
// command; only those files are ever replaced or removed, so a directory shared with other tools (the
// Proxmox firewall directory, Traefik's dynamic directory) keeps everything else untouched. Every write
// is atomic (temporary file in the same directory, fsync, rename, fsync of the directory): a reader or
// a crash sees the old file or the new one, never a mix. `--out` and `apply` share this code.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "model.hpp"

namespace phoenix::netgen::deployed {

inline constexpr const char* kManifestName = ".phoenix-netgen-manifest.json";

struct OwnedEntry {
  std::string command;  ///< what produced it: "firewall", "traefik", ...
  std::string path;     ///< relative to the manifest's directory
  std::string hash;     ///< FNV-1a 64 of the bytes written, hex (notices later hand edits; not security)
};

struct Manifest {
  std::vector<OwnedEntry> entries;
  bool owns(const std::string& path) const;
  const OwnedEntry* find(const std::string& path) const;
  static std::string file_text(const std::vector<OwnedEntry>& entries);
};

/// The manifest of `dir`; an empty one when there is none. Sets `error` when it exists but is broken.
Manifest load_manifest(const std::filesystem::path& dir, std::string& error);

std::string content_hash(const std::string& bytes);

/// Writes `content` to `path` atomically (mode kept when the file exists, else 0644). On failure
/// returns false with `error`, and the old file is as it was.
bool atomic_write(const std::filesystem::path& path, const std::string& content, std::string& error);
/// Removes `path` and makes the removal durable (fsync of its directory).
bool durable_remove(const std::filesystem::path& path, std::string& error);

/// One directory netgen writes: the files of one command, relative to `dir`.
struct OwnedDir {
  std::filesystem::path dir;
  std::string command;
  std::vector<OutputFile> files;
};

struct Change {
  enum class Kind { create, update, remove, unchanged };
  Kind kind = Kind::unchanged;
  std::filesystem::path path;
  std::string before, after;  ///< before: "" for create; after: "" for remove
  bool foreign = false;  ///< an existing file netgen did not write that it will now replace
  bool edited = false;   ///< an owned file whose bytes are not what netgen last wrote
};

struct ChangePlan {
  std::vector<Change> changes;  ///< in directory order, then file order; removals last per directory
  std::vector<OwnedDir> dirs;
  std::vector<std::string> errors;  ///< unreadable manifests or files: nothing is written then
  /// A manifest to bring up to date or temporary files to remove (what a killed run leaves), with
  /// no file content to change.
  bool tidy = false;
  bool changed() const;
};

/// What writing `dirs` would change, from the files on disk and each directory's manifest.
ChangePlan plan_changes(const std::vector<OwnedDir>& dirs);

/// Carries out a plan: manifests first list old and new files (so a crash never leaves an owned file
/// unlisted), then each file is written or removed, then the manifests list only the new files.
/// `progress` receives one line per change. Returns false on the first failure (with `error`).
bool execute(const ChangePlan& plan, std::vector<std::string>& progress, std::string& error);

/// A timestamped copy of everything `plan` replaces or removes, and of each manifest, under `root`;
/// returns the backup directory.
std::optional<std::filesystem::path> make_backup(const ChangePlan& plan, const std::filesystem::path& root,
                                                 std::string& error);
/// Puts every file of a backup set back as it was (files the apply created are removed).
bool restore_backup(const std::filesystem::path& backup, std::vector<std::string>& progress, std::string& error);

/// Test hook: PHOENIX_NETGEN_TEST_KILL="temp:N" or "rename:N" kills the process (SIGKILL) at the Nth
/// atomic write, after its temporary file is complete or right after its rename.
void test_kill_point(const char* stage);

}  // namespace phoenix::netgen::deployed
