// example_inventory -- the bundled example inventory through the server's own load path, for unit tests.
#pragma once

#include <filesystem>
#include <memory>

#include "server/reload.hpp"

namespace phoenix::test_data {

inline const std::filesystem::path kExampleInventory =
    std::filesystem::path(PHOENIX_SOURCE_DIR) / "packaging/examples/inventory";

/// A snapshot of its own, which the caller may change.
inline std::shared_ptr<zones::Snapshot> load_example() {
  zones::SerialStore serials(std::nullopt);
  return server::load_snapshot(kExampleInventory, serials).snapshot;
}

/// One shared, read-only snapshot: the internal view (127.0.0.1) has recursion and serves
/// 0.0.10.in-addr.arpa; upstreams 8.8.8.8 and 1.1.1.1 (never contacted: nothing in a unit test forwards).
inline const zones::Snapshot& example_snapshot() {
  static std::shared_ptr<zones::Snapshot> snap = load_example();
  return *snap;
}

}  // namespace phoenix::test_data
