// ZoneBuilder::build, stage by stage: each stage run on its own through ZoneBuilderStages.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "zones/zone.hpp"

namespace phoenix::zones {

/// Runs the builder's stages one at a time (it is the builder's friend).
struct ZoneBuilderStages {
  explicit ZoneBuilderStages(ZoneBuilder& builder) : b(builder) {}
  ZoneBuilder& b;
  std::vector<ZoneIssue> issues;
  ZoneBuilder::Checks checks{issues};
  Zone zone;

  size_t check_nodes() { return b.check_nodes(checks, zone); }
  void check_below_cuts() { b.check_below_cuts(checks); }
  void write_arena(size_t arena) { b.write_arena(zone, arena); }
  void index_nodes() { b.index_nodes(zone); }
  bool cut(std::string_view text) const {
    auto n = Name::from_text(text);
    uint32_t i = b.find(n->wire(), hash_of(n->wire()));
    return i != ZoneBuilder::kNone && b.nodes_[i].cut;
  }
  static uint64_t hash_of(std::string_view w);
};

}  // namespace phoenix::zones

#include "zones/hash.hpp"

namespace phoenix::zones {
uint64_t ZoneBuilderStages::hash_of(std::string_view w) { return hash_bytes(w); }
}  // namespace phoenix::zones

using namespace phoenix::zones;

namespace {

Name name(const char* text) { return *Name::from_text(text); }
std::string a(uint8_t last) { return std::string("\xc0\x00\x02", 3) + static_cast<char>(last); }

/// example.test with SOA and NS at the apex, then whatever the test adds.
ZoneBuilder base() {
  ZoneBuilder b(name("example.test"));
  b.add(name("example.test"), rrtype::SOA, 300,
        rdata_soa(name("ns1.example.test"), name("h.example.test"), 1, 2, 3, 4, 60), "soa");
  b.add(name("example.test"), rrtype::NS, 300, rdata_name(name("ns1.example.test")), "ns");
  b.add(name("ns1.example.test"), rrtype::A, 300, a(1), "ns1");
  return b;
}

bool has(const std::vector<ZoneIssue>& issues, ZoneProblem p, const std::string& owner) {
  for (auto& i : issues)
    if (i.problem == p && i.owner == owner) return true;
  return false;
}

}  // namespace

TEST(ZoneBuilderStages, CheckNodesFindsPerNodeProblemsAndMarksCuts) {
  ZoneBuilder b = base();
  b.add(name("www.example.test"), rrtype::CNAME, 300, rdata_name(name("ns1.example.test")), "line 4");
  b.add(name("www.example.test"), rrtype::A, 300, a(2), "line 5");
  b.add(name("sub.example.test"), rrtype::NS, 300, rdata_name(name("ns.sub.example.test")), "line 6");
  b.add(name("x.example.test"), rrtype::SOA, 300, rdata_soa(name("a.test"), name("b.test"), 1, 2, 3, 4, 5), "line 7");
  ZoneBuilderStages s{b};
  size_t arena = s.check_nodes();
  EXPECT_TRUE(s.checks.fatal);
  EXPECT_TRUE(has(s.issues, ZoneProblem::cname_and_other_data, "www.example.test."));
  EXPECT_TRUE(has(s.issues, ZoneProblem::soa_not_at_apex, "x.example.test."));
  EXPECT_EQ(s.issues.size(), 2u);
  EXPECT_TRUE(s.cut("sub.example.test"));
  EXPECT_FALSE(s.cut("www.example.test"));
  EXPECT_EQ(s.zone.record_count(), 7u);
  EXPECT_GT(arena, 0u);
}

TEST(ZoneBuilderStages, CheckNodesWantsSoaAndNsAtTheApex) {
  ZoneBuilder b(name("example.test"));
  b.add(name("www.example.test"), rrtype::A, 300, a(1));
  ZoneBuilderStages s{b};
  s.check_nodes();
  EXPECT_TRUE(has(s.issues, ZoneProblem::no_soa, "example.test."));
  EXPECT_TRUE(has(s.issues, ZoneProblem::no_apex_ns, "example.test."));
  EXPECT_TRUE(s.checks.fatal);
}

TEST(ZoneBuilderStages, CheckBelowCutsWarnsForNonGlueOnly) {
  ZoneBuilder b = base();
  b.add(name("sub.example.test"), rrtype::NS, 300, rdata_name(name("ns.sub.example.test")));
  b.add(name("ns.sub.example.test"), rrtype::A, 300, a(3));
  b.add(name("txt.sub.example.test"), rrtype::TXT, 300, std::string("\x02hi", 3));
  ZoneBuilderStages s{b};
  s.check_nodes();
  ASSERT_FALSE(s.checks.fatal);
  s.check_below_cuts();
  EXPECT_TRUE(has(s.issues, ZoneProblem::data_below_delegation, "txt.sub.example.test."));
  EXPECT_FALSE(has(s.issues, ZoneProblem::data_below_delegation, "ns.sub.example.test."));
  EXPECT_FALSE(s.checks.fatal);  // occluded data is a warning
}

TEST(ZoneBuilderStages, WriteArenaGroupsRrsetsAndIndexFindsEveryNode) {
  ZoneBuilder b = base();
  b.add(name("www.example.test"), rrtype::A, 300, a(7));
  b.add(name("www.example.test"), rrtype::TXT, 60, std::string("\x01x", 2));
  b.add(name("www.example.test"), rrtype::A, 999, a(8));  // joins the A RRset, which keeps TTL 300
  ZoneBuilderStages s{b};
  size_t arena = s.check_nodes();
  ASSERT_FALSE(s.checks.fatal);
  s.write_arena(arena);
  s.index_nodes();
  NodeView www = s.zone.find_node(name("www.example.test").wire());
  ASSERT_TRUE(www);
  EXPECT_EQ(www.rrset_count(), 2u);
  RRsetView as = www.find(rrtype::A);
  ASSERT_TRUE(as);
  EXPECT_EQ(as.size(), 2u);
  EXPECT_EQ(as.ttl(), 300u);
  EXPECT_EQ(*as.begin(), a(7));  // records in the order added
  EXPECT_EQ(www.find(rrtype::TXT).ttl(), 60u);
  EXPECT_TRUE(s.zone.find_node(name("ns1.example.test").wire()));
  EXPECT_TRUE(s.zone.find_node(name("example.test").wire()));
  EXPECT_FALSE(s.zone.find_node(name("nope.example.test").wire()));
  EXPECT_EQ(s.zone.node_count(), 3u);
  EXPECT_EQ(s.zone.serial(), 1u);
  EXPECT_EQ(s.zone.negative_ttl(), 60u);  // min(SOA TTL 300, MINIMUM 60)
}
