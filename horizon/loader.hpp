// loader -- reads an inventory directory into an Inventory, collecting every problem.
#pragma once

#include <filesystem>
#include <optional>

#include "diagnostics.hpp"
#include "inventory.hpp"

namespace phoenix::horizon {

inline constexpr const char* kHypervisorFile = "phoenix_hypervisor_config.json";
inline constexpr const char* kLxcFile = "phoenix_lxc_configs.json";
inline constexpr const char* kVmFile = "phoenix_vm_configs.json";
inline constexpr const char* kStacksFile = "phoenix_stacks_config.json";

struct LoadResult {
  std::optional<Inventory> inventory;  ///< set unless diagnostics has errors
  Diagnostics diagnostics;
};

/// Reads the four JSON files of `dir` (only the hypervisor file is required).
/// Unknown fields are ignored; messy-but-valid data gives warnings; every error names file + pointer.
LoadResult load_inventory(const std::filesystem::path& dir);

}  // namespace phoenix::horizon
