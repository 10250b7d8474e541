// example_snapshot -- the example inventory as a snapshot, built once by the real pipeline.
#pragma once

#include <filesystem>
#include <memory>

#include "server/reload.hpp"

namespace phoenix::test {

inline const zones::Snapshot& example_snapshot() {
  static std::shared_ptr<zones::Snapshot> snap = [] {
    zones::SerialStore serials(std::nullopt);
    return server::load_snapshot(std::filesystem::path(PHOENIX_SOURCE_DIR) / "packaging/examples/inventory", serials)
        .snapshot;
  }();
  return *snap;
}

}  // namespace phoenix::test
