// ixfr_history -- what changed between successive versions of a zone, per view, kept bounded and
// saved in --state-dir, and the RFC 1995 answer built from it: the difference sequence from the
// client's serial, or the AXFR form when that serial is not in the history.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/xfr/xfr_stream.hpp"
#include "zones/zone.hpp"

namespace phoenix::xfr {

struct DiffRecord {
  std::string owner;  ///< lower-cased uncompressed wire name
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string rdata;
  bool operator==(const DiffRecord&) const = default;
};

/// One serial step (RFC 1995 §4): going from the version with SOA `old_soa` to the one with
/// `new_soa`, delete `removed`, then add `added`. A TTL change is a delete and an add.
struct ZoneDiff {
  DiffRecord old_soa, new_soa;
  std::vector<DiffRecord> removed, added;
  uint32_t from_serial() const;
  uint32_t to_serial() const;
  size_t size() const { return removed.size() + added.size() + 2; }
};

/// The difference between two versions of one zone (same origin). Nodes are matched through the new
/// zone's index, so nothing but the differences is held.
ZoneDiff diff_zones(const zones::Zone& old_zone, const zones::Zone& new_zone);

/// The steps of one zone in one view, oldest first, each starting where the previous one ended.
/// Bounded by step count and by records (like BIND's max-journal-size): the oldest go first.
class IxfrHistory {
 public:
  void add(std::shared_ptr<const ZoneDiff> step, size_t max_steps, size_t max_records);
  const std::vector<std::shared_ptr<const ZoneDiff>>& steps() const { return steps_; }
  size_t records() const { return records_; }

 private:
  std::vector<std::shared_ptr<const ZoneDiff>> steps_;
  size_t records_ = 0;
};

/// How to answer an IXFR for `client_serial` when the zone is at `current_serial`.
enum class IxfrAnswer {
  up_to_date,   ///< the client's serial is ours or newer: the current SOA alone (RFC 1995 §2)
  incremental,  ///< the history reaches back to it: the difference sequence
  axfr,         ///< unknown or older than the history: the whole zone, AXFR form (RFC 1995 §4)
};
IxfrAnswer plan_ixfr(const IxfrHistory* history, uint32_t client_serial, uint32_t current_serial,
                     size_t& first_step);

/// The client's serial in an IXFR request: the SOA in its authority section whose owner is the
/// question's name (RFC 1995 §3; its names may be compressed). False if the message is not an IXFR
/// request with exactly one question and such a SOA (answer FORMERR).
bool ixfr_request_serial(const uint8_t* msg, size_t len, uint32_t& serial) noexcept;

/// The RFC 1995 §4 incremental answer: the current SOA; per step the old SOA, the deletions, the new
/// SOA, the additions; the current SOA again. Holds the zone and its steps for the transfer's life.
class IxfrSource final : public RecordSource {
 public:
  IxfrSource(std::shared_ptr<const zones::Zone> zone, const IxfrHistory& history, size_t first_step);
  bool peek(XfrRecord& out) override;
  void advance() override;

 private:
  std::shared_ptr<const zones::Zone> zone_;
  std::vector<std::shared_ptr<const ZoneDiff>> steps_;
  size_t step_ = 0, pos_ = 0;  ///< pos_ within a step: 0 old SOA, removed..., new SOA, added...
  int edge_ = 0;               ///< 0: the leading SOA, 1: steps, 2: the trailing SOA, 3: done
};

/// The zone's SOA alone: the IXFR answer to a client that is up to date (RFC 1995 §2), and over UDP
/// to one whose difference sequence does not fit a datagram (RFC 1995 §2, "the SOA alone").
class SoaSource final : public RecordSource {
 public:
  explicit SoaSource(std::shared_ptr<const zones::Zone> zone) : zone_(std::move(zone)) {}
  bool peek(XfrRecord& out) override;
  void advance() override { taken_ = true; }

 private:
  std::shared_ptr<const zones::Zone> zone_;
  bool taken_ = false;
};

/// Every view's and zone's history, as the server keeps it across reloads and restarts.
class IxfrHistoryStore {
 public:
  static constexpr size_t kDefaultMaxSteps = 64;
  static constexpr size_t kDefaultMaxRecords = 1 << 20;
  explicit IxfrHistoryStore(size_t max_steps = kDefaultMaxSteps, size_t max_records = kDefaultMaxRecords)
      : max_steps_(max_steps), max_records_(max_records) {}

  /// After a reload: adds the step from `old_zone` to `new_zone` for (view, zone) when the serial
  /// moved forward (nothing when it did not; the history restarts when it went backwards or the
  /// history does not end at `old_zone`'s serial).
  /// `cache`: steps already computed during this reload, by (old zone, new zone) object; views that
  /// serve the same zone objects (one zone file in several views) share one step instead of each
  /// comparing the zone again.
  using StepCache = std::map<std::pair<const zones::Zone*, const zones::Zone*>, std::shared_ptr<const ZoneDiff>>;
  void record(const std::string& view, const zones::Zone& old_zone, const zones::Zone& new_zone,
              StepCache* cache = nullptr);
  /// Drops every (view, zone) not in `keep` (zones that left a view).
  void retain(const std::vector<std::pair<std::string, std::string>>& keep);

  const IxfrHistory* find(const std::string& view, std::string_view origin_wire) const;
  size_t zone_count() const { return histories_.size(); }

  /// The versioned binary form (magic, version, entries, FNV-1a checksum) and back. parse() checks
  /// every name, rdata, count and serial chain; on any problem it returns the reason and leaves `out`
  /// empty (the caller serves without history rather than half of one).
  std::string serialize() const;
  static std::string parse(std::string_view bytes, IxfrHistoryStore& out);

  /// `<state_dir>/ixfr-history.bin`, written to a temporary file and renamed; "" or the reason.
  std::string save(const std::filesystem::path& state_dir) const;
  /// Reads it back; a missing file is an empty history (""), a corrupt one the reason (and empty).
  std::string load(const std::filesystem::path& state_dir);
  static constexpr const char* kFileName = "ixfr-history.bin";

 private:
  size_t max_steps_, max_records_;
  std::map<std::pair<std::string, std::string>, IxfrHistory> histories_;  ///< (view, origin wire)
};

}  // namespace phoenix::xfr
