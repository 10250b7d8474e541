// temp_inventory -- a temporary inventory directory for the loader's tests: empty, or a copy of the
// bundled example inventory that a test edits. Removed with the object.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace phoenix::horizon::test_support {

inline const std::filesystem::path kExampleInventory =
    std::filesystem::path(PHOENIX_SOURCE_DIR) / "packaging/examples/inventory";

class TempInventory {
 public:
  explicit TempInventory(const std::string& prefix, bool copy_example) {
    path_ = std::filesystem::temp_directory_path() /
            (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
    if (copy_example)
      for (auto& f : std::filesystem::directory_iterator(kExampleInventory))
        std::filesystem::copy(f.path(), path_ / f.path().filename());
  }
  ~TempInventory() { std::filesystem::remove_all(path_); }
  TempInventory(const TempInventory&) = delete;
  TempInventory& operator=(const TempInventory&) = delete;

  const std::filesystem::path& path() const { return path_; }
  nlohmann::json read(const std::string& file) const {
    std::ifstream in(path_ / file);
    return nlohmann::json::parse(in);
  }
  void write(const std::string& file, const nlohmann::json& j) const { std::ofstream(path_ / file) << j.dump(); }
  void write_raw(const std::string& file, const std::string& text) const { std::ofstream(path_ / file) << text; }

 private:
  std::filesystem::path path_;
  static inline int counter_ = 0;
};

}  // namespace phoenix::horizon::test_support
