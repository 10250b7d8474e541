// reload -- load -> derive -> build -> check: the one pipeline behind start-up, SIGHUP and --check.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "horizon/diagnostics.hpp"
#include "horizon/plan.hpp"
#include "zones/diff.hpp"
#include "zones/serial.hpp"
#include "zones/snapshot.hpp"

namespace phoenix::server {

struct LoadOutcome {
  std::shared_ptr<zones::Snapshot> snapshot;  ///< null when diagnostics has errors
  horizon::HorizonPlan plan;
  horizon::Diagnostics diagnostics;
  /// On a reload: what publishing `snapshot` changes against the data served when it was built.
  std::vector<zones::ZoneDiff> changes;
};

/// Reads the inventory and builds a complete snapshot aside; nothing is published here.
LoadOutcome load_snapshot(const std::filesystem::path& inventory, zones::SerialStore& serials);

/// Gives `fresh` its IXFR history (RFC 1995): `old`'s, plus for every zone of a view whose serial
/// moved the step from `old`'s version of it; at start (`old` null) what `state_dir` kept. Zones that
/// left a view lose theirs. Saved to `state_dir` (when given) if it changed. Returns a warning or "".
std::string attach_ixfr_history(const zones::Snapshot* old, zones::Snapshot& fresh, const std::filesystem::path* state_dir);

/// The human summary printed by --check and logged at start-up: views, zones, serials, records.
std::string describe_snapshot(const horizon::HorizonPlan& plan, const zones::Snapshot& snap);

}  // namespace phoenix::server
