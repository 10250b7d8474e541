// last_good -- what the server last served, kept in --state-dir, so that a start with a broken
// inventory (a half-edited file, then a reboot) still answers with the data from before the edit.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "horizon/plan.hpp"
#include "zones/snapshot.hpp"

namespace phoenix::server {

inline constexpr const char* kLastGoodFile = "last-good.json";
/// 2: views keep match_destinations, match_keys, rate_limit, transfer and catalog; TSIG keys and
/// require_cookie are kept (version 1 files lost them: a restart on them served without RRL or keys).
inline constexpr int kLastGoodVersion = 2;

/// A snapshot rebuilt from the file, with what start-up needs besides it.
struct LastGood {
  std::shared_ptr<zones::Snapshot> snapshot;  ///< complete: locally served zones and precompiled answers added
  std::vector<horizon::Endpoint> listen;      ///< dns_server.listen as the inventory had it
  std::string written;                        ///< when it was written, UTC, "2026-12-01T10:40:00Z"
  std::string inventory;                      ///< the inventory directory it was built from
};

/// The file's text (JSON, "version": kLastGoodVersion): every view with its selectors (match-clients,
/// match-destinations, match-keys), recursion, rate limit, transfer settings, catalog name and zones; each zone once, as RFC 1035 text (zone_to_text, so serials and every record are kept);
/// the inventory's upstreams, forwarding settings, listen addresses, CH identity, require_cookie and
/// TSIG keys (secrets included: the file is written mode 0600). The locally
/// served zones are left out (they are added again on reading, by the rules of that version).
/// The zones' texts come from `texts` (nullptr: made here); when it stops, the result is incomplete
/// and must not be written (`texts->stopped()` tells).
std::string last_good_text(const zones::Snapshot& snap, const horizon::HorizonPlan& plan,
                           const std::filesystem::path& inventory, std::string_view written,
                           zones::ZoneTexts* texts = nullptr);

/// Parses a file's text; on any problem (not JSON, another version, a zone that does not load) the
/// reason goes to `error` and nothing is returned. Never throws.
std::optional<LastGood> parse_last_good(std::string_view text, std::string& error);

/// Writes <dir>/last-good.json atomically; "" or why not. Nothing is written when `texts` stops.
std::string save_last_good(const std::filesystem::path& dir, const zones::Snapshot& snap,
                           const horizon::HorizonPlan& plan, const std::filesystem::path& inventory,
                           zones::ZoneTexts* texts = nullptr);

/// Reads <dir>/last-good.json. nullopt with `error` empty: there is none; with `error` set: it is unusable.
std::optional<LastGood> load_last_good(const std::filesystem::path& dir, std::string& error);

}  // namespace phoenix::server
