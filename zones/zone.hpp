// zone -- an immutable authoritative zone and its RFC 1034 §4.3.2 lookup.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "huge_pages.hpp"
#include "name.hpp"
#include "rrset.hpp"

namespace phoenix::zones {

/// All RRsets of one owner, as the zone stores them: owner length u8, owner (lower-cased wire), RRset
/// count u16, then the RRsets in RRsetView form. A node without RRsets is an empty non-terminal (it
/// exists, so it blocks wildcards). A view is one pointer into the zone's arena.
class NodeView {
 public:
  NodeView() = default;
  explicit NodeView(const uint8_t* p) : p_(p) {}
  explicit operator bool() const { return p_ != nullptr; }
  std::string_view owner_wire() const { return {reinterpret_cast<const char*>(p_ + 1), p_[0]}; }
  Name owner() const { return Name::from_wire(owner_wire()); }
  uint16_t rrset_count() const { return read_u16(p_ + 1 + p_[0]); }
  /// The RRset of `type`, or a null view.
  RRsetView find(uint16_t type) const;
  /// Bytes the node takes in the arena.
  size_t encoded_size() const;

  class iterator {
   public:
    iterator(const uint8_t* p, uint16_t left) : p_(p), left_(left) {}
    RRsetView operator*() const { return RRsetView(p_); }
    iterator& operator++() {
      p_ += RRsetView(p_).encoded_size();
      --left_;
      return *this;
    }
    bool operator!=(const iterator& o) const { return left_ != o.left_; }

   private:
    const uint8_t* p_;
    uint16_t left_;
  };
  struct Range {
    const uint8_t* first;
    uint16_t count;
    iterator begin() const { return {first, count}; }
    iterator end() const { return {first, 0}; }
  };
  Range rrsets() const { return {p_ + 3 + p_[0], rrset_count()}; }

 private:
  const uint8_t* p_ = nullptr;
};

/// One RRset placed in a reply. The owner is either the query name (as the client wrote it, so that
/// it compresses to the question) or an uncompressed wire name owned by the zone.
struct RRsetRef {
  RRsetView rrset;
  const char* owner = nullptr;  ///< wire name; nullptr means "the query name"
  uint32_t ttl = 0;
  uint16_t rrclass = 1;  ///< IN; CH only for the server's own identity answers
};

/// A small fixed-capacity list: lookups never allocate.
template <size_t N>
struct RefList {
  std::array<RRsetRef, N> items{};
  size_t size = 0;
  bool push(const RRsetRef& r) {
    if (size == N) return false;
    items[size++] = r;
    return true;
  }
  const RRsetRef* begin() const { return items.data(); }
  const RRsetRef* end() const { return items.data() + size; }
};

enum class LookupStatus { answer, nodata, nxdomain, referral };

struct LookupResult {
  LookupStatus status = LookupStatus::nxdomain;
  bool authoritative = true;  ///< false for referrals (AA clear)
  std::string_view qname;     ///< the name asked for (lower-cased wire), to cut CNAME loops back to it
  /// The wildcard the answer to the name asked for was synthesised from (RFC 4592 §3.3.1; its owner,
  /// lower-cased wire, in the zone), else empty: rate limiting counts such answers by the wildcard.
  std::string_view wildcard;
  RefList<16> answer;
  RefList<8> authority;
  RefList<32> additional;
};

/// An immutable zone in one arena: every node back to back (NodeView form), found through an
/// open-addressing index of arena offsets. About 60 bytes per name for an A record, no allocation
/// per name, and a lookup is a hash probe per label.
class Zone {
 public:
  const Name& origin() const { return origin_; }
  NodeView apex() const { return apex_; }
  RRsetView soa() const { return soa_; }
  uint32_t serial() const;
  /// RFC 2308 §5: negative answers carry the SOA with TTL = min(SOA TTL, SOA MINIMUM).
  uint32_t negative_ttl() const { return negative_ttl_; }
  size_t record_count() const { return record_count_; }
  size_t node_count() const { return node_count_; }
  size_t memory_bytes() const { return arena_.capacity() + index_.capacity() * sizeof(Slot); }

  /// Exact node by lower-cased wire name, or a null view.
  NodeView find_node(std::string_view wire) const noexcept;

  /// Answers `qname` (lower-cased wire, inside this zone) for `qtype` into `out`.
  void lookup(std::string_view qname, uint16_t qtype, LookupResult& out) const;

  /// Calls f(NodeView) for every node, in the order they were first added (cheaper than sorted_nodes()).
  template <class F>
  void for_each_node(F&& f) const {
    for (size_t off = 0; off < arena_.size();) {
      NodeView n(arena_.data() + off);
      f(n);
      off += n.encoded_size();
    }
  }

  /// Every node in canonical order (zone files, transfers, tests).
  std::vector<NodeView> sorted_nodes() const;

 private:
  friend class ZoneBuilder;
  struct Slot {
    uint32_t tag = 0;     ///< upper hash bits: most mismatches are skipped without touching the arena
    uint32_t offset = 0;  ///< arena offset + 1; 0 = empty
  };
  void add_additional(RRsetView rrset, LookupResult& out) const;
  void answer_node(NodeView node, const char* owner, uint16_t qtype, LookupResult& out, int depth) const;
  void lookup_chain(std::string_view qname, const char* owner, uint16_t qtype, LookupResult& out, int depth) const;

  Name origin_;
  BigVector<uint8_t> arena_;
  BigVector<Slot> index_;
  size_t mask_ = 0;
  NodeView apex_;
  RRsetView soa_;
  uint32_t negative_ttl_ = 0;
  size_t record_count_ = 0;
  size_t node_count_ = 0;
  bool has_wildcards_ = false;
  bool has_delegations_ = false;
};

/// One record as a master-file line (RFC 1035 §5.1): "owner<TAB>TTL<TAB>IN<TAB>TYPE<TAB>rdata", absolute names.
std::string record_to_text(const Name& owner, uint16_t type, uint32_t ttl, std::string_view rdata);

enum class ZoneTextStyle {
  compare,      ///< "owner TTL type rdata", RRsets by type: equal text means equal zones (tests and the
                ///< zone-file fuzz target compare loaders with it)
  master_file,  ///< record_to_text lines, SOA then NS then by type, each RRset's lines sorted (netgen's zone files)
};

/// Every record of `zone`, one line each, owners in canonical order.
std::string zone_to_text(const Zone& zone, ZoneTextStyle style = ZoneTextStyle::compare);

/// zone_to_text() (compare style) of each zone object once, for writers that need the same zones'
/// text several times: what is served and the last good data (server/last_good.hpp) both hold every
/// zone, and a zone served in several views is one object. With `stop`, asked every few thousand
/// owners, a text is abandoned as soon as it returns true: text() then returns nullptr from then on,
/// so that the state of a generation about to be replaced never delays the reload replacing it.
class ZoneTexts {
 public:
  explicit ZoneTexts(std::function<bool()> stop = {}) : stop_(std::move(stop)) {}
  const std::string* text(const Zone& zone);
  bool stopped() const { return stopped_; }

 private:
  std::function<bool()> stop_;
  std::map<const Zone*, std::string> texts_;
  bool stopped_ = false;
};

/// Semantic problems a zone can have, with one message each (the table is in zone.cpp).
enum class ZoneProblem {
  out_of_zone,
  cname_and_other_data,
  multiple_cnames,
  no_soa,
  no_apex_ns,
  multiple_soa,
  soa_not_at_apex,
  invalid_rdata,
  ttl_mismatch,
  data_below_delegation,
  too_large,
};
const char* zone_problem_text(ZoneProblem p);

struct ZoneIssue {
  ZoneProblem problem;
  std::string owner;   ///< presentation form
  std::string detail;  ///< file:line or source, when known
  bool fatal;
};

/// Collects records, then checks and freezes them into a Zone. Records go to flat pools (no
/// allocation per record), grouped by owner through an index of its own.
class ZoneBuilder {
 public:
  explicit ZoneBuilder(Name origin);
  /// Adds one record; `where` is quoted in problems found later. Duplicate records are merged.
  void add(const Name& owner, uint16_t type, uint32_t ttl, std::string_view rdata, std::string_view where = {});
  /// Sizes the pools for about `records` records from `bytes` of text (untouched capacity costs only
  /// address space), so a big zone file is read without regrowing them.
  void reserve(size_t records, size_t bytes);
  /// The same for an owner already in lower-cased, validated wire form (zone-file loading).
  void add_wire(std::string_view owner, uint16_t type, uint32_t ttl, std::string_view rdata, std::string_view where);
  /// Checks (RFC 1034 §3.6.2 CNAME, RFC 1035 SOA/NS at apex, glue-only below cuts) and builds.
  /// Returns nullptr if a fatal problem was found; `issues` lists every problem. The stages, in
  /// order: check_nodes, check_below_cuts (checks; nothing is built if one is fatal), write_arena,
  /// index_nodes (the zone), release_pools. Each has its own tests (tests/unit/zones/test_zone_builder.cpp).
  std::shared_ptr<const Zone> build(std::vector<ZoneIssue>& issues);

 private:
  static constexpr uint32_t kNone = 0xffffffffu;
  struct PendingNode {
    uint32_t name_off;
    uint32_t first = kNone, last = kNone;  ///< record list, in the order added
    uint32_t where_off = 0;
    uint32_t count = 0;  ///< records so far; from kLinearMax on, duplicates are found through dup_
    uint16_t where_len = 0;
    uint8_t name_len;
    bool cut = false;
  };
  /// Up to this many records a node's list is walked to find a duplicate; past it (one big RRset,
  /// say) a hash table keeps adding linear instead of quadratic.
  static constexpr uint32_t kLinearMax = 16;
  struct PendingRecord {
    uint32_t next = kNone;
    uint32_t rdata_off;
    uint32_t ttl;
    uint16_t rdata_len;
    uint16_t type;
  };
  std::string_view name_of(const PendingNode& n) const {
    return {names_.data() + n.name_off, n.name_len};
  }
  std::string_view rdata_of(const PendingRecord& r) const { return {rdata_.data() + r.rdata_off, r.rdata_len}; }
  /// The node for `wire`, created (with its empty non-terminal parents) if new.
  uint32_t node_for(std::string_view wire);
  uint32_t find(std::string_view wire, uint64_t h) const;
  void insert_index(uint32_t node, uint64_t h);
  /// Rebuilds the index with `cap` slots (a power of two).
  void rehash(size_t cap);
  /// Duplicate detection for big nodes: (node, record) pairs by hash of (node, type, rdata).
  static uint64_t dup_hash(uint32_t node, uint16_t type, std::string_view rdata);
  void dup_insert(uint32_t node, uint32_t record);
  bool dup_find(uint32_t node, uint16_t type, std::string_view rdata) const;
  std::string where_of(const PendingNode& n) const { return {wheres_.data() + n.where_off, n.where_len}; }

  friend struct ZoneBuilderStages;  // the per-stage tests
  /// Problems found so far, and whether one is fatal.
  struct Checks {
    std::vector<ZoneIssue>& issues;
    bool fatal = false;
  };
  /// A node's distinct types in the order first added, and how many records each has.
  struct NodeTypes {
    std::vector<uint16_t> types;
    std::vector<uint32_t> counts;
    uint32_t count_of(uint16_t type) const;
  };
  void node_types(const PendingNode& node, NodeTypes& out) const;
  void report(Checks& c, ZoneProblem p, const PendingNode& node, bool fatal) const;
  /// Stage: the checks of each node on its own (SOA and NS at the apex, SOA elsewhere, CNAME with
  /// other data, sizes); marks zone cuts, notes wildcards and counts records in `z`. Returns the
  /// arena size the zone needs.
  size_t check_nodes(Checks& c, Zone& z);
  /// Stage: data other than glue below a zone cut (a warning: it is occluded, not served).
  void check_below_cuts(Checks& c) const;
  /// Stage: the nodes back to back into `z`'s arena of `arena` bytes, RRsets grouped by type.
  void write_arena(Zone& z, size_t arena) const;
  /// Stage: the lookup index over the arena, and the apex, its SOA and the negative TTL.
  void index_nodes(Zone& z) const;
  /// Stage: frees the builder's pools (as large as the zone itself).
  void release_pools();

  Name origin_;
  BigVector<char> names_, rdata_, wheres_;
  BigVector<PendingNode> nodes_;
  BigVector<PendingRecord> records_;
  BigVector<uint64_t> index_;  ///< hash tag << 32 | node + 1; 0 = empty
  std::vector<uint64_t> dup_;  ///< node << 32 | record + 1; 0 = empty. Only nodes past kLinearMax.
  size_t dup_count_ = 0;
  std::unordered_map<uint64_t, uint32_t> first_of_type_;  ///< node << 16 | type -> first record, big nodes
  std::vector<ZoneIssue> early_;
};

}  // namespace phoenix::zones
