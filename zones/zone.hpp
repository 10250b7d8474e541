// zone -- an immutable authoritative zone and its RFC 1034 §4.3.2 lookup.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "name.hpp"
#include "rrset.hpp"

namespace phoenix::zones {

/// All RRsets of one owner. An empty node is an empty non-terminal (it exists, so it blocks wildcards).
struct Node {
  Name owner;
  std::vector<RRset> rrsets;
  const RRset* find(uint16_t type) const {
    for (auto& r : rrsets)
      if (r.type == type) return &r;
    return nullptr;
  }
};

/// One RRset placed in a reply. The owner is either the query name (as the client wrote it, so that
/// it compresses to the question) or an uncompressed wire name owned by the zone.
struct RRsetRef {
  const RRset* rrset = nullptr;
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
  RefList<16> answer;
  RefList<8> authority;
  RefList<32> additional;
};

class Zone {
 public:
  const Name& origin() const { return origin_; }
  const Node& apex() const { return *apex_; }
  const RRset& soa() const { return *soa_; }
  uint32_t serial() const;
  /// RFC 2308 §5: negative answers carry the SOA with TTL = min(SOA TTL, SOA MINIMUM).
  uint32_t negative_ttl() const { return negative_ttl_; }
  size_t record_count() const { return record_count_; }
  size_t node_count() const { return nodes_.size(); }

  /// Exact node by lower-cased wire name.
  const Node* find_node(std::string_view wire) const;

  /// Answers `qname` (lower-cased wire, inside this zone) for `qtype` into `out`.
  void lookup(std::string_view qname, uint16_t qtype, LookupResult& out) const;

  /// Calls f(const Node&) for every node, in no particular order (cheaper than sorted_nodes()).
  template <class F>
  void for_each_node(F&& f) const {
    for (auto& kv : nodes_) f(kv.second);
  }

  /// Every node in canonical order (zone files, transfers, tests).
  std::vector<const Node*> sorted_nodes() const;

 private:
  friend class ZoneBuilder;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void add_additional(const RRset& rrset, LookupResult& out) const;
  void answer_node(const Node& node, const char* owner, uint16_t qtype, LookupResult& out, int depth) const;
  void lookup_chain(std::string_view qname, const char* owner, uint16_t qtype, LookupResult& out, int depth) const;

  Name origin_;
  std::unordered_map<std::string, Node, Hash, std::equal_to<>> nodes_;
  const Node* apex_ = nullptr;
  const RRset* soa_ = nullptr;
  uint32_t negative_ttl_ = 0;
  size_t record_count_ = 0;
  bool has_wildcards_ = false;
  bool has_delegations_ = false;
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
};
const char* zone_problem_text(ZoneProblem p);

struct ZoneIssue {
  ZoneProblem problem;
  std::string owner;   ///< presentation form
  std::string detail;  ///< file:line or source, when known
  bool fatal;
};

/// Collects records, then checks and freezes them into a Zone.
class ZoneBuilder {
 public:
  explicit ZoneBuilder(Name origin);
  /// Adds one record; `where` is quoted in problems found later. Duplicate records are merged.
  void add(const Name& owner, uint16_t type, uint32_t ttl, std::string rdata, std::string where = {});
  /// Checks (RFC 1034 §3.6.2 CNAME, RFC 1035 SOA/NS at apex, glue-only below cuts) and builds.
  /// Returns nullptr if a fatal problem was found; `issues` lists every problem.
  std::shared_ptr<const Zone> build(std::vector<ZoneIssue>& issues);

 private:
  Name origin_;
  std::unique_ptr<Zone> zone_;
  std::unordered_map<std::string, std::string> where_;  // owner wire -> first source
  std::vector<ZoneIssue> early_;
};

}  // namespace phoenix::zones
