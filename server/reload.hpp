// reload -- load -> derive -> build -> check: the one pipeline behind start-up, SIGHUP and --check.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "horizon/diagnostics.hpp"
#include "horizon/plan.hpp"
#include "server/xfr/ixfr_history.hpp"
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

/// What a reload changes, per view and zone, for the log and the status line (zones::diff_snapshots).
/// Call after attach_ixfr_history: a zone whose step was just recorded is counted from that step, so
/// its records are compared once, in wire form, for both; the text compare of a million-record zone
/// took seconds of the reload thread.
std::vector<zones::ZoneDiff> reload_changes(const zones::Snapshot& old, const zones::Snapshot& fresh);
/// The counts of `history`'s last step if it goes from serial `from` to `to`; false if it does not.
bool count_step(const xfr::IxfrHistory& history, uint32_t from, uint32_t to, zones::ZoneDiff& d);

/// The human summary printed by --check and logged at start-up: views, zones, serials, records.
std::string describe_snapshot(const horizon::HorizonPlan& plan, const zones::Snapshot& snap);

}  // namespace phoenix::server
