// zonefile -- RFC 1035 §5 master files read with ldns into a ZoneBuilder, then checked like any zone.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "horizon/diagnostics.hpp"
#include "name.hpp"
#include "zone.hpp"

namespace phoenix::zones {

/// Loads the zone file `path` for `origin`. Every problem goes to `diag` naming `display` (the file
/// as the operator wrote it) and "line N"; returns nullptr if any problem is fatal. $INCLUDE is refused
/// (a zone file never reads other files), records of a class other than IN are refused.
std::shared_ptr<const Zone> load_zone_file(const std::filesystem::path& path, const Name& origin,
                                           const std::string& display, horizon::Diagnostics& diag);

/// The same from text in memory (tests and the fuzz target). `fast` = false reads every line with
/// ldns, the reference the simple-line parser (zonefile_fast.hpp) is compared against.
std::shared_ptr<const Zone> load_zone_text(std::string_view text, const Name& origin, const std::string& display,
                                           horizon::Diagnostics& diag, bool fast = true);

}  // namespace phoenix::zones
