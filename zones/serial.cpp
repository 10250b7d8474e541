#include "serial.hpp"

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

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
      entries_[key] = {std::stoull(v.at("hash").get<std::string>(), nullptr, 16), v.at("serial").get<uint32_t>()};
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
  auto tmp = *file_;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return "cannot write " + tmp.string();
    out << j.dump(2) << "\n";
    if (!out.flush()) return "cannot write " + tmp.string();
  }
  std::filesystem::rename(tmp, *file_, ec);
  if (ec) return "cannot rename " + tmp.string() + " (" + ec.message() + ")";
  return "";
}

}  // namespace phoenix::zones
