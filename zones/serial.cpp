#include "serial.hpp"

#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <unistd.h>
#include <nlohmann/json.hpp>
#include <sstream>

#include "horizon/json_number.hpp"

namespace phoenix::zones {

uint64_t content_hash(std::string_view data, uint64_t seed) {
  uint64_t h = seed;
  for (char c : data) {
    h ^= static_cast<uint8_t>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

bool serial_gt(uint32_t a, uint32_t b) {
  return (a < b && b - a > 0x80000000u) || (a > b && a - b < 0x80000000u);
}

SerialStore::SerialStore(std::optional<std::filesystem::path> state_dir) {
  if (!state_dir) return;
  file_ = *state_dir / "serials.json";
  std::ifstream in(*file_);
  if (!in) return;  // first start
  try {
    std::stringstream buf;
    buf << in.rdbuf();
    auto j = nlohmann::json::parse(buf.str());
    for (auto& [key, v] : j.items())
      entries_[key] = {std::stoull(v.at("hash").get<std::string>(), nullptr, 16), horizon::json_whole_number<uint32_t>(v.at("serial"), key + ".serial")};
  } catch (const std::exception& e) {
    load_error_ = file_->string() + ": " + e.what();
    entries_.clear();
  }
}

uint32_t SerialStore::serial_for(const std::string& key, uint64_t hash) {
  std::lock_guard lock(mu_);
  auto now = static_cast<uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.hash == hash) return it->second.serial;
  uint32_t serial = now;
  if (it != entries_.end()) {
    uint32_t next = it->second.serial + 1;
    if (!serial_gt(now, it->second.serial)) serial = next;
    if (serial == 0) serial = 1;  // some secondaries treat 0 as "unset"
  }
  entries_[key] = {hash, serial};
  return serial;
}

void SerialStore::pin(const std::string& key, uint64_t hash, uint32_t serial) {
  std::lock_guard lock(mu_);
  entries_[key] = {hash, serial};
}

std::string SerialStore::save() {
  std::lock_guard lock(mu_);
  if (!file_) return "";
  nlohmann::json j = nlohmann::json::object();
  for (auto& [key, e] : entries_) {
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(e.hash));
    j[key] = {{"hash", hex}, {"serial", e.serial}};
  }
  std::error_code ec;
  std::filesystem::create_directories(file_->parent_path(), ec);
  return write_file_atomically(*file_, j.dump(2) + "\n");
}

std::string write_file_atomically(const std::filesystem::path& path, std::string_view content, mode_t mode) {
  auto tmp = path;
  tmp += ".tmp";
  auto failed = [&](const char* what) {
    std::string why = std::string(what) + " " + tmp.string() + " (" + std::strerror(errno) + ")";
    ::unlink(tmp.c_str());
    return why;
  };
  // A temporary file left by a crash keeps the mode it was created with: start from none.
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return failed("cannot create");
  for (size_t done = 0; done < content.size();) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return failed("cannot write");
    }
    done += static_cast<size_t>(n);
  }
  // The data reaches the disk before the name points at it: a crash leaves the old file or the new one.
  if (::fsync(fd) != 0) {
    ::close(fd);
    return failed("cannot sync");
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return failed("cannot rename");
  // And the rename itself, which lives in the directory.
  auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  if (int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return "";
}

}  // namespace phoenix::zones
