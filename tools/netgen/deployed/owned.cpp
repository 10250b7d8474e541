#include "owned.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "pve_tree.hpp"
#include "zones/serial.hpp"

namespace phoenix::netgen::deployed {

namespace fs = std::filesystem;
using nlohmann::json;

void test_kill_point(const char* stage) {
  static int count = 0;
  const char* spec = std::getenv("PHOENIX_NETGEN_TEST_KILL");
  if (!spec) return;
  std::string s = spec;
  if (std::string(stage) == "temp") ++count;  // every atomic write passes "temp" first
  auto colon = s.find(':');
  if (colon == std::string::npos || s.substr(0, colon) != stage) return;
  if (count == std::atoi(s.c_str() + colon + 1)) ::kill(::getpid(), SIGKILL);
}

namespace {

std::string errno_text(const std::string& what, const fs::path& p) { return what + " " + p.string() + ": " + std::strerror(errno); }

/// A directory's entries are durable only once the directory itself is synced (rename, unlink).
bool sync_dir(const fs::path& dir, std::string& error) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    error = errno_text("cannot open directory", dir);
    return false;
  }
  // Some file systems (FUSE ones such as Proxmox's pmxcfs) do not sync directories; their
  // renames are durable when they return.
  bool ok = ::fsync(fd) == 0 || errno == EINVAL || errno == ENOTSUP || errno == ENOSYS;
  if (!ok) error = errno_text("cannot sync directory", dir);
  ::close(fd);
  return ok;
}

bool write_all(int fd, const std::string& content) {
  size_t off = 0;
  while (off < content.size()) {
    ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string utc_stamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

bool inside_dir(const std::string& path) {
  fs::path p(path);
  if (path.empty() || p.has_root_path()) return false;
  for (auto& part : p)
    if (part.empty() || part == "." || part == "..") return false;
  return true;
}

std::vector<OwnedEntry> parse_entries(const std::string& text, std::string& error) {
  std::vector<OwnedEntry> out;
  try {
    auto j = json::parse(text);
    for (auto& e : j.at("files")) {
      std::string path = e.at("path").get<std::string>();
      // Plans join these to the manifest's directory and remove what they name: a path that leaves the
      // directory would let an edited manifest make apply delete or replace any file on the host.
      if (!inside_dir(path)) {
        error = "entry \"" + path + "\" is not a relative path inside this directory";
        return {};
      }
      out.push_back({e.at("command").get<std::string>(), path, e.value("hash", std::string())});
    }
  } catch (const json::exception& e) {
    error = std::string("not a netgen manifest: ") + e.what();
  }
  return out;
}

}  // namespace

bool Manifest::owns(const std::string& path) const { return find(path) != nullptr; }

const OwnedEntry* Manifest::find(const std::string& path) const {
  for (auto& e : entries)
    if (e.path == path) return &e;
  return nullptr;
}

std::string Manifest::file_text(const std::vector<OwnedEntry>& entries) {
  json files = json::array();
  for (auto& e : entries) files.push_back({{"command", e.command}, {"path", e.path}, {"hash", e.hash}});
  json j = {{"written_by", "phoenix-netgen"},
            {"note", "files phoenix-netgen owns in this directory; it replaces or removes only these"},
            {"files", files}};
  return j.dump(2) + "\n";
}

Manifest load_manifest(const fs::path& dir, std::string& error) {
  Manifest m;
  std::error_code ec;
  fs::path p = dir / kManifestName;
  if (!fs::exists(p, ec)) return m;
  auto text = read_file(p);
  if (!text) {
    error = p.string() + ": cannot be read";
    return m;
  }
  std::string why;
  m.entries = parse_entries(*text, why);
  if (!why.empty()) error = p.string() + ": " + why;
  return m;
}

std::string content_hash(const std::string& bytes) {
  const uint64_t h = zones::content_hash(bytes);  // the zones' FNV-1a: manifests written before stay valid
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

bool atomic_write(const fs::path& path, const std::string& content, std::string& error) {
  fs::path dir = path.parent_path();
  mode_t mode = 0644;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) mode = st.st_mode & 07777;
  static unsigned seq = 0;
  fs::path tmp = dir / ("." + path.filename().string() + ".netgen-tmp." + std::to_string(::getpid()) + "." + std::to_string(++seq));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    error = errno_text("cannot create", tmp);
    return false;
  }
  bool ok = write_all(fd, content);
  if (!ok) error = errno_text("cannot write", tmp);
  if (ok && ::fsync(fd) != 0) {
    ok = false;
    error = errno_text("cannot sync", tmp);
  }
  ::fchmod(fd, mode);
  ::close(fd);
  if (ok) test_kill_point("temp");
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    ok = false;
    error = errno_text("cannot rename into place", path);
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return false;
  }
  test_kill_point("rename");
  return sync_dir(dir, error);
}

bool durable_remove(const fs::path& path, std::string& error) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    error = errno_text("cannot remove", path);
    return false;
  }
  return sync_dir(path.parent_path(), error);
}

bool ChangePlan::changed() const {
  return std::any_of(changes.begin(), changes.end(), [](auto& c) { return c.kind != Change::Kind::unchanged; });
}

namespace {

/// Per directory: the entries before, and after every OwnedDir of that directory is written.
struct DirState {
  std::vector<OwnedEntry> before, after;
};

std::map<fs::path, DirState> dir_states(const std::vector<OwnedDir>& dirs, std::vector<std::string>* errors) {
  std::map<fs::path, DirState> states;
  for (auto& d : dirs) {
    if (states.count(d.dir)) continue;
    std::string err;
    auto m = load_manifest(d.dir, err);
    if (!err.empty() && errors) errors->push_back(err);
    states[d.dir] = {m.entries, m.entries};
  }
  for (auto& d : dirs) {
    auto& after = states[d.dir].after;
    std::set<std::string> produced;
    for (auto& f : d.files) produced.insert(f.path);
    std::erase_if(after, [&](const OwnedEntry& e) { return e.command == d.command || produced.count(e.path); });
    for (auto& f : d.files) after.push_back({d.command, f.path, content_hash(f.content)});
  }
  return states;
}

}  // namespace

ChangePlan plan_changes(const std::vector<OwnedDir>& dirs) {
  ChangePlan plan;
  plan.dirs = dirs;
  for (auto& [dir, st] : dir_states(dirs, &plan.errors)) {
    auto old = read_file(dir / kManifestName);
    if ((old || !st.after.empty()) && old.value_or("") != Manifest::file_text(st.after)) plan.tidy = true;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec))
      if (e.path().filename().string().find(".netgen-tmp.") != std::string::npos) plan.tidy = true;
  }
  for (auto& d : dirs) {
    std::string err;
    Manifest m = load_manifest(d.dir, err);
    std::set<std::string> produced;
    for (auto& f : d.files) {
      produced.insert(f.path);
      Change c;
      c.path = d.dir / f.path;
      c.after = f.content;
      std::error_code ec;
      if (!fs::exists(c.path, ec)) {
        c.kind = Change::Kind::create;
      } else if (auto old = read_file(c.path)) {
        c.before = *old;
        c.kind = *old == f.content ? Change::Kind::unchanged : Change::Kind::update;
        const OwnedEntry* e = m.find(f.path);
        c.foreign = !e;
        c.edited = e && !e->hash.empty() && e->hash != content_hash(*old);
      } else {
        plan.errors.push_back(c.path.string() + ": cannot be read");
        continue;
      }
      plan.changes.push_back(std::move(c));
    }
    for (auto& e : m.entries) {
      if (e.command != d.command || produced.count(e.path)) continue;
      Change c;
      c.path = d.dir / e.path;
      c.kind = Change::Kind::remove;
      std::error_code ec;
      if (!fs::exists(c.path, ec)) continue;  // already gone: only the manifest forgets it
      auto old = read_file(c.path);
      if (!old) {
        plan.errors.push_back(c.path.string() + ": cannot be read");
        continue;
      }
      c.before = *old;
      c.edited = !e.hash.empty() && e.hash != content_hash(*old);
      plan.changes.push_back(std::move(c));
    }
  }
  return plan;
}

bool execute(const ChangePlan& plan, std::vector<std::string>& progress, std::string& error) {
  auto states = dir_states(plan.dirs, nullptr);
  for (auto& [dir, st] : states) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      error = "cannot create " + dir.string() + ": " + ec.message();
      return false;
    }
    std::vector<OwnedEntry> both = st.before;
    for (auto& e : st.after)
      if (std::none_of(both.begin(), both.end(), [&](auto& b) { return b.path == e.path; })) both.push_back(e);
    if (both.size() != st.before.size() && !atomic_write(dir / kManifestName, Manifest::file_text(both), error)) return false;
  }
  for (auto& c : plan.changes) {
    switch (c.kind) {
      case Change::Kind::unchanged: progress.push_back("unchanged " + c.path.string()); break;
      case Change::Kind::create:
      case Change::Kind::update: {
        std::error_code ec;
        fs::create_directories(c.path.parent_path(), ec);  // zones: <view>/<zone>.zone
        if (!atomic_write(c.path, c.after, error)) return false;
        progress.push_back("wrote " + c.path.string());
        break;
      }
      case Change::Kind::remove:
        if (!durable_remove(c.path, error)) return false;
        progress.push_back("removed " + c.path.string() +
                           " (netgen wrote it before; the inventory no longer produces it)");
        break;
    }
  }
  for (auto& [dir, st] : states) {
    // Temporary files of an apply that was killed: only atomic_write makes names like these.
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec)) {
      std::string name = e.path().filename().string();
      if (name.size() > 1 && name[0] == '.' && name.find(".netgen-tmp.") != std::string::npos) {
        fs::remove(e.path(), ec);
        progress.push_back("removed " + e.path().string() + " (left by an interrupted write)");
      }
    }
    std::string text = Manifest::file_text(st.after);
    auto old = read_file(dir / kManifestName);
    if ((!old || *old != text) && !atomic_write(dir / kManifestName, text, error)) return false;
  }
  return true;
}

std::optional<fs::path> make_backup(const ChangePlan& plan, const fs::path& root, std::string& error) {
  std::error_code ec;
  fs::path dir = root / utc_stamp();
  for (int n = 2; fs::exists(dir, ec); ++n) dir = root / (utc_stamp() + "-" + std::to_string(n));
  fs::create_directories(dir / "files", ec);
  if (ec) {
    error = "cannot create backup directory " + dir.string() + ": " + ec.message();
    return std::nullopt;
  }
  json entries = json::array();
  size_t n = 0;
  auto save = [&](const fs::path& path, const std::optional<std::string>& before) {
    json e = {{"path", fs::absolute(path).string()}, {"existed", before.has_value()}};
    if (before) {
      std::string name = "files/" + std::to_string(++n);
      if (!atomic_write(dir / name, *before, error)) return false;
      e["saved"] = name;
    }
    entries.push_back(e);
    return true;
  };
  for (auto& c : plan.changes) {
    if (c.kind == Change::Kind::unchanged) continue;
    if (!save(c.path, c.kind == Change::Kind::create ? std::nullopt : std::optional(c.before))) return std::nullopt;
  }
  std::set<fs::path> dirs;
  for (auto& d : plan.dirs) dirs.insert(d.dir);
  for (auto& d : dirs) {
    fs::path m = d / kManifestName;
    if (!save(m, fs::exists(m, ec) ? read_file(m) : std::nullopt)) return std::nullopt;
  }
  // backup.json last: a set without it is incomplete, and rollback refuses it.
  json j = {{"created", utc_stamp()}, {"files", entries}};
  if (!atomic_write(dir / "backup.json", j.dump(2) + "\n", error)) return std::nullopt;
  return dir;
}

bool restore_backup(const fs::path& backup, std::vector<std::string>& progress, std::string& error) {
  auto text = read_file(backup / "backup.json");
  if (!text) {
    error = (backup / "backup.json").string() + ": cannot be read (not a complete netgen backup set)";
    return false;
  }
  json j;
  try {
    j = json::parse(*text);
    // Check every entry before touching anything: a set apply did not write (saved copies outside
    // the set, relative targets that would land wherever rollback runs) restores nothing.
    for (auto& e : j.at("files")) {
      fs::path path = e.at("path").get<std::string>();
      if (!path.is_absolute()) {
        error = (backup / "backup.json").string() + ": \"" + path.string() + "\" is not an absolute path; nothing restored";
        return false;
      }
      if (e.at("existed").get<bool>()) {
        std::string saved = e.at("saved").get<std::string>();
        if (saved.rfind("files/", 0) != 0 || !inside_dir(saved)) {
          error = (backup / "backup.json").string() + ": saved copy \"" + saved + "\" is not inside the backup set; nothing restored";
          return false;
        }
      }
    }
    for (auto& e : j.at("files")) {
      fs::path path = e.at("path").get<std::string>();
      std::error_code ec;
      if (!e.at("existed").get<bool>()) {
        if (fs::exists(path, ec)) {
          if (!durable_remove(path, error)) return false;
          progress.push_back("removed " + path.string() + " (it did not exist before)");
        }
        continue;
      }
      auto saved = read_file(backup / e.at("saved").get<std::string>());
      if (!saved) {
        error = (backup / e.at("saved").get<std::string>()).string() + ": cannot be read";
        return false;
      }
      auto now = read_file(path);
      if (now && *now == *saved) {
        progress.push_back("unchanged " + path.string());
        continue;
      }
      fs::create_directories(path.parent_path(), ec);
      if (!atomic_write(path, *saved, error)) return false;
      progress.push_back("restored " + path.string());
    }
  } catch (const json::exception& e) {
    error = (backup / "backup.json").string() + ": " + e.what();
    return false;
  }
  return true;
}

}  // namespace phoenix::netgen::deployed
