// dns -- the server's own answers, offline: zone files written from the snapshot the server builds
// (query::build_serving_snapshot, printed by zones::zone_to_text), and a
// query answered by phoenix::query::process_query, so netgen shows exactly what phoenix-dns serves.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model.hpp"
#include "zones/snapshot.hpp"

namespace phoenix::netgen {

/// Where SOA serials come from. The server's own state directory gives the serials it serves; without
/// one, each zone's serial is derived from its content (stable for the same content, not monotonic).
struct SerialSource {
  std::optional<std::filesystem::path> state_dir;
  std::optional<uint32_t> fixed;  ///< --serial
};

/// Builds the snapshot the server would build; nullptr with errors in `diag`.
std::shared_ptr<zones::Snapshot> build_server_snapshot(const Model& m, const SerialSource& serials,
                                                       horizon::Diagnostics& diag);

/// One RFC 1035 master file per view and zone: "<view>/<zone>.zone".
std::vector<OutputFile> zone_files(const zones::Snapshot& snap);
/// The text of one zone in canonical order, absolute names, one record per line.
std::string zone_text(const zones::Zone& zone, const std::string& view);

/// What `phoenix-netgen view` reports.
struct ViewAnswer {
  std::string view;      ///< "" if no view matches
  std::string selector;  ///< the match_clients entry that matched
  std::string selector_where;
  std::vector<std::string> skipped;  ///< earlier views, and why they did not match
  std::string qname, qtype;
  std::string rcode;
  std::vector<std::string> flags;
  std::vector<std::string> answer, authority, additional;  ///< records in presentation form
  std::vector<std::string> sources;  ///< why each answer record exists (from the plan)
  std::string note;                  ///< why there is no data, when the reply is REFUSED
  std::string format() const;
};

/// Asks the snapshot as `client` would, through process_query. nullopt with `why` for a bad name/type.
/// `recursion_desired` sets RD, as a guest's stub resolver does; without it, the authoritative answer only.
std::optional<ViewAnswer> ask_view(const Model& m, const zones::Snapshot& snap, const horizon::IpAddr& client,
                                   const std::string& name, const std::string& type, std::string& why,
                                   bool recursion_desired = false);

}  // namespace phoenix::netgen
