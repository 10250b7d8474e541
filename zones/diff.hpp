// diff -- what a new snapshot changes against the one served: per view and zone, records and serial.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "snapshot.hpp"

namespace phoenix::zones {

/// The change of one zone in one view. Records are compared per owner and type (SOA aside, its
/// serial is reported on its own): a record whose RRset lost one value and gained another counts as
/// changed, the rest of the difference as added or removed; a TTL change changes every record of it.
struct ZoneDiff {
  std::string view, zone;  ///< zone with its trailing dot
  bool was_served = true, is_served = true;  ///< false: the zone is new (was) or gone (is)
  size_t added = 0, removed = 0, changed = 0;
  uint32_t old_serial = 0, new_serial = 0;
  bool records_changed() const { return added || removed || changed; }
};

/// zone_to_text() of every zone, keyed by (view, zone): what a snapshot serves, in text.
using ServedText = std::map<std::pair<std::string, std::string>, std::string>;

/// The difference between two zone_to_text() outputs; "" stands for a zone not served.
ZoneDiff diff_zone_text(std::string_view before, std::string_view after);

/// Every zone that is new, gone, or whose serial moved. A zone with the same serial has the same
/// content (zones::SerialStore), so only those are compared record by record.
std::vector<ZoneDiff> diff_snapshots(const Snapshot& before, const Snapshot& after);
/// Counts a zone served before and after (same view, new serial) without the text compare: fills
/// added/removed/changed of `d` and returns true, or returns false to have it compared as text.
using RecordCounter = std::function<bool(const std::string& view, const Zone& before, const Zone& after, ZoneDiff& d)>;
std::vector<ZoneDiff> diff_snapshots(const Snapshot& before, const Snapshot& after, const RecordCounter& counter);
/// The same against a description of what was served (read_served()).
std::vector<ZoneDiff> diff_served(const ServedText& before, const Snapshot& after);

/// "view internal, zone internal.example.: +1 -0 ~2 records, serial 5 -> 6" (or "new", "removed").
std::string describe(const ZoneDiff& d);
/// One line for the unit's status: "2 zones changed (+3 -1 ~2 records)" or "no zone changed".
std::string summarize(const std::vector<ZoneDiff>& diffs);

ServedText served_text(const Snapshot& snap);
/// Writes `dir`/<view>/<zone>zone for every zone (atomically per file) and removes the files of zones
/// no longer served; returns "" or the first reason it failed. View names that are not safe as a
/// directory name are skipped. The texts come from `texts`; when it stops, writing ends there
/// (every file written is whole; `texts.stopped()` tells).
std::string write_served(const std::filesystem::path& dir, const Snapshot& snap, ZoneTexts& texts);
inline std::string write_served(const std::filesystem::path& dir, const Snapshot& snap) {
  ZoneTexts texts;
  return write_served(dir, snap, texts);
}
/// Reads what write_served() wrote; `error` is set when `dir` cannot be read.
ServedText read_served(const std::filesystem::path& dir, std::string& error);

}  // namespace phoenix::zones
