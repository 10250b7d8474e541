// Helpers for the phoenix-netgen unit tests: the bundled example, copied and edited as JSON.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>

#include "cli.hpp"
#include "model.hpp"

namespace phoenix::netgen::testing {

inline std::filesystem::path example_dir() {
  return std::filesystem::path(PHOENIX_SOURCE_DIR) / "packaging" / "examples" / "inventory";
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// A copy of the example inventory in a fresh temporary directory, removed at scope end.
class TempInventory {
 public:
  using Files = std::map<std::string, nlohmann::json>;
  explicit TempInventory(const std::function<void(Files&)>& edit = {}) {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("netgen-unit-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    Files files;
    for (auto& e : std::filesystem::directory_iterator(example_dir()))
      files[e.path().filename().string()] = nlohmann::json::parse(read_text(e.path()));
    if (edit) edit(files);
    for (auto& [name, j] : files) std::ofstream(dir_ / name) << j.dump(2);
  }
  ~TempInventory() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempInventory(const TempInventory&) = delete;
  TempInventory& operator=(const TempInventory&) = delete;
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

inline Model load(const std::filesystem::path& dir) {
  horizon::Diagnostics diag;
  auto m = Model::load(dir, diag);
  if (!m) {
    std::string all;
    for (auto& d : diag.items()) all += d.format() + "\n";
    ADD_FAILURE() << "inventory refused:\n" << all;
    std::abort();
  }
  return std::move(*m);
}

inline CommandResult run(const std::string& command, const std::filesystem::path& dir,
                         std::vector<std::string> args = {}, bool json = false) {
  Options o;
  o.command = command;
  o.inventory = dir;
  o.args = std::move(args);
  o.json = json;
  return run_command(o);
}

}  // namespace phoenix::netgen::testing
