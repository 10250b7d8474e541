// snapshot -- one immutable generation of everything a worker answers from: views, zones, settings.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "horizon/diagnostics.hpp"
#include "horizon/plan.hpp"
#include "horizon/view_table.hpp"
#include "answer_table.hpp"
#include "serial.hpp"
#include "zone.hpp"

namespace phoenix::xfr {
class IxfrHistoryStore;
}

namespace phoenix::zones {

/// The zones of one view, found by longest suffix of the query name.
class ZoneSet {
 public:
  void add(std::shared_ptr<const Zone> zone);
  /// The zone with the longest origin that `qname` (lower-cased wire) lies in, or nullptr.
  const Zone* find_zone(std::string_view qname) const;
  const std::vector<std::shared_ptr<const Zone>>& zones() const { return zones_; }

 private:
  std::vector<std::shared_ptr<const Zone>> zones_;
  std::unordered_map<std::string_view, const Zone*> by_origin_;
};

struct ViewData {
  std::string name;
  bool recursion = false;
  /// Where this view's queries are counted (query::QueryStats::by_view); the server assigns it by
  /// name before publishing, so that the counts of a view stay with it across reloads.
  uint8_t metrics_slot = 0;
  /// Where transfers of each of own_zones() are counted (query::QueryStats::xfr), and those of names
  /// that are no zone of this view; assigned with metrics_slot. Empty: the overflow slot.
  std::vector<uint16_t> zone_slots;
  uint16_t unknown_zone_slot = 0;
  uint16_t zone_slot(size_t own_zone_index) const { return own_zone_index < zone_slots.size() ? zone_slots[own_zone_index] : 0; }
  horizon::RateLimitSettings rate_limit;  ///< response rate limiting for UDP replies (server/query/rrl.hpp)
  ZoneSet zones;
  /// How many of `zones`, at the end, the server added itself (RFC 6303 locally served zones,
  /// server/forward/policy.hpp) rather than the inventory: left out of counts and listings.
  size_t local_zones = 0;
  /// The zones from the inventory (without the locally served ones).
  size_t own_zone_count() const { return zones.zones().size() - local_zones; }
  std::span<const std::shared_ptr<const Zone>> own_zones() const { return {zones.zones().data(), own_zone_count()}; }
  horizon::TransferSettings transfer;  ///< who may AXFR/IXFR this view's zones, whom to NOTIFY
  std::optional<std::string> catalog;  ///< the view's RFC 9432 catalog zone name, if any
};

struct Snapshot {
  horizon::ViewTable views;
  std::vector<ViewData> view_data;  ///< indexed by ViewId
  std::vector<horizon::Endpoint> upstreams;
  horizon::ForwardSettings forward;
  /// CH TXT answers (dns_server.chaos); an empty RRset means "not configured": REFUSED.
  RRsetBlob chaos_version, chaos_identity;
  uint64_t generation = 0;
  bool require_cookie = false;  ///< dns_server.require_cookie
  bool rate_limited = false;  ///< some view limits its response rate: the transports ask the limiter
  /// Precompiled replies for the common queries (server/query/precompiled.hpp); null = full path only.
  std::unique_ptr<const AnswerTable> answers;
  /// dns_server.tsig_keys: part of the snapshot, so that a reload swaps keys and views together.
  std::vector<horizon::TsigKey> tsig_keys;
  /// Where requests signed with each of tsig_keys are counted (query::QueryStats::tsig_accepted),
  /// assigned by key name with the views' metrics slots. Empty: the overflow slot.
  std::vector<uint8_t> tsig_key_slots;
  /// The IXFR history (server/xfr/ixfr_history.hpp) that ends at this snapshot's zones, attached by
  /// the server when it publishes; null: no history, every IXFR is answered in AXFR form.
  std::shared_ptr<const xfr::IxfrHistoryStore> ixfr;

  size_t zone_count() const;
  size_t record_count() const;
  /// "2 views, 5 zones, 63 records"
  std::string summary() const;
};

/// Builds every zone of every view from the plan (and zone files), checks them, and freezes the result.
/// Problems go to `diag`; returns nullptr if any is an error. Serials come from `serials`.
std::shared_ptr<Snapshot> build_snapshot(const horizon::HorizonPlan& plan, SerialStore& serials,
                                               horizon::Diagnostics& diag);

/// The CH TXT RRset for dns_server.chaos text (at most 255 octets); empty when unset.
RRsetBlob identity_txt(const std::optional<std::string>& text);

/// Builds one derived zone; `serial` goes in its SOA.
std::shared_ptr<const Zone> build_zone(const horizon::ZonePlan& zp, uint32_t serial, std::vector<ZoneIssue>& issues);

/// Canonical text of a derived zone's content (without the serial), the input of its content hash.
std::string zone_plan_text(const horizon::ZonePlan& zp);

/// RFC 9432 §4.4.1: the unique-id label of a member zone in a catalog: 16 hex digits of the FNV-1a
/// (64-bit) hash of its lower-cased name with the trailing dot, so a member keeps its id (and a
/// consumer its copy of the zone) across reloads.
std::string catalog_member_id(std::string_view member);

/// Canonical text of a catalog's content (its members, sorted), the input of its content hash.
std::string catalog_text(const std::string& catalog, std::vector<std::string> members);

/// The RFC 9432 version 2 catalog zone `catalog` (lower-case, no trailing dot) listing `members`
/// (zone names in any form): SOA and NS "invalid." at the apex (§4.1), TXT "2" at version.<catalog>
/// (§4.2.1), one PTR per member at <unique-id>.zones.<catalog> (§4.2.2). nullptr with `issues` on a
/// bad name.
std::shared_ptr<const Zone> build_catalog_zone(const std::string& catalog, const std::vector<std::string>& members,
                                               uint32_t serial, std::vector<ZoneIssue>& issues);

}  // namespace phoenix::zones
