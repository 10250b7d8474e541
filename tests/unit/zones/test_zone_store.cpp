// The compact zone store: what the builder keeps, merges and reports, and that a big zone finds
// every name it was given (the index grows many times while building).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "zones/zone.hpp"

using namespace phoenix::zones;

namespace {

Name N(const std::string& t) { return *Name::from_text(t); }
std::string A(uint32_t v) {
  return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

ZoneBuilder with_apex(const char* origin = "z.test") {
  ZoneBuilder b(N(origin));
  b.add(N(origin), rrtype::SOA, 60, rdata_soa(N("ns.z.test"), N("h.z.test"), 1, 1, 1, 1, 30));
  b.add(N(origin), rrtype::NS, 60, rdata_name(N("ns.z.test")));
  return b;
}

bool has(const std::vector<ZoneIssue>& issues, ZoneProblem p, const std::string& owner = {}) {
  return std::any_of(issues.begin(), issues.end(),
                     [&](const ZoneIssue& i) { return i.problem == p && (owner.empty() || i.owner == owner); });
}

}  // namespace

TEST(ZoneStore, EveryNameOfABigZoneIsFoundWithItsAddress) {
  auto b = with_apex();
  const uint32_t n = 20000;
  for (uint32_t i = 0; i < n; ++i) b.add(N("host" + std::to_string(i) + ".z.test"), rrtype::A, 300, A(0x0a000000 + i));
  std::vector<ZoneIssue> issues;
  auto z = b.build(issues);
  ASSERT_TRUE(z);
  EXPECT_TRUE(issues.empty());
  EXPECT_EQ(z->node_count(), n + 1);
  EXPECT_EQ(z->record_count(), n + 2);
  for (uint32_t i = 0; i < n; ++i) {
    NodeView node = z->find_node(N("host" + std::to_string(i) + ".z.test").wire());
    ASSERT_TRUE(node) << i;
    RRsetView a = node.find(rrtype::A);
    ASSERT_TRUE(a);
    EXPECT_EQ(a.ttl(), 300u);
    ASSERT_EQ(a.size(), 1u);
    EXPECT_EQ(*a.begin(), A(0x0a000000 + i));
    EXPECT_FALSE(node.find(rrtype::AAAA));
  }
  EXPECT_FALSE(z->find_node(N("host" + std::to_string(n) + ".z.test").wire()));
  // The point of the store: far less than the ~600 bytes per name of a map of strings and vectors.
  EXPECT_LT(z->memory_bytes() / n, 80u);
}

TEST(ZoneStore, RrsetKeepsRecordsInTheOrderAddedAndMergesDuplicates) {
  auto b = with_apex();
  b.add(N("multi.z.test"), rrtype::A, 300, A(3));
  b.add(N("multi.z.test"), rrtype::TXT, 300, std::string("\x02hi", 3));
  b.add(N("multi.z.test"), rrtype::A, 300, A(1));
  b.add(N("MULTI.z.test"), rrtype::A, 300, A(3));  // same record again (owners compare case-insensitively)
  b.add(N("multi.z.test"), rrtype::A, 300, A(2));
  std::vector<ZoneIssue> issues;
  auto z = b.build(issues);
  ASSERT_TRUE(z);
  NodeView node = z->find_node(N("multi.z.test").wire());
  ASSERT_TRUE(node);
  ASSERT_EQ(node.rrset_count(), 2u);
  std::vector<uint16_t> types;
  for (RRsetView r : node.rrsets()) types.push_back(r.type());
  EXPECT_EQ(types, (std::vector<uint16_t>{rrtype::A, rrtype::TXT}));
  std::vector<std::string> rdata;
  for (std::string_view rd : node.find(rrtype::A)) rdata.emplace_back(rd);
  EXPECT_EQ(rdata, (std::vector<std::string>{A(3), A(1), A(2)}));
  EXPECT_EQ(z->record_count(), 2u + 4u);
}

TEST(ZoneStore, EmbeddedNamesAreLowerCasedButOwnersOfOtherDataAreNot) {
  auto b = with_apex();
  b.add(N("c.z.test"), rrtype::CNAME, 60, rdata_name(N("WWW.Z.test")));
  b.add(N("t.z.test"), rrtype::TXT, 60, std::string("\x02Hi", 3));
  std::vector<ZoneIssue> issues;
  auto z = b.build(issues);
  ASSERT_TRUE(z);
  EXPECT_EQ(*z->find_node(N("c.z.test").wire()).find(rrtype::CNAME).begin(), N("www.z.test").wire());
  EXPECT_EQ(*z->find_node(N("t.z.test").wire()).find(rrtype::TXT).begin(), std::string("\x02Hi", 3));
}

TEST(ZoneStore, DifferentTtlsInOneRrsetWarnAndKeepTheFirst) {
  auto b = with_apex();
  b.add(N("a.z.test"), rrtype::A, 300, A(1), "line 7");
  b.add(N("a.z.test"), rrtype::A, 600, A(2), "line 8");
  std::vector<ZoneIssue> issues;
  auto z = b.build(issues);
  ASSERT_TRUE(z);
  ASSERT_TRUE(has(issues, ZoneProblem::ttl_mismatch, "a.z.test."));
  EXPECT_FALSE(issues.front().fatal);
  EXPECT_EQ(issues.front().detail, "line 8");
  EXPECT_EQ(z->find_node(N("a.z.test").wire()).find(rrtype::A).ttl(), 300u);
}

TEST(ZoneStore, StructuralProblemsAreFatalAndNameTheOwnerAndSource) {
  auto b = with_apex();
  b.add(N("z.test"), rrtype::SOA, 60, rdata_soa(N("ns2.z.test"), N("h.z.test"), 2, 1, 1, 1, 30), "line 3");
  b.add(N("x.z.test"), rrtype::SOA, 60, rdata_soa(N("ns.z.test"), N("h.z.test"), 1, 1, 1, 1, 30), "line 4");
  b.add(N("c.z.test"), rrtype::CNAME, 60, rdata_name(N("a.z.test")), "line 5");
  b.add(N("c.z.test"), rrtype::CNAME, 60, rdata_name(N("b.z.test")), "line 6");
  b.add(N("bad.z.test"), rrtype::CNAME, 60, std::string("\x05short", 6), "line 9");
  std::vector<ZoneIssue> issues;
  EXPECT_FALSE(b.build(issues));
  EXPECT_TRUE(has(issues, ZoneProblem::multiple_soa, "z.test."));
  EXPECT_TRUE(has(issues, ZoneProblem::soa_not_at_apex, "x.z.test."));
  EXPECT_TRUE(has(issues, ZoneProblem::multiple_cnames, "c.z.test."));
  EXPECT_TRUE(has(issues, ZoneProblem::invalid_rdata, "bad.z.test."));
  for (auto& i : issues)
    if (i.owner == "x.z.test.") {
      EXPECT_EQ(i.detail, "line 4");
    }
}

TEST(ZoneStore, DataBelowADelegationWarnsOnceButGlueDoesNot) {
  auto b = with_apex();
  b.add(N("sub.z.test"), rrtype::NS, 60, rdata_name(N("ns.sub.z.test")));
  b.add(N("ns.sub.z.test"), rrtype::A, 60, A(1));                        // glue
  b.add(N("deep.x.sub.z.test"), rrtype::TXT, 60, std::string("\x01x", 2));  // occluded
  b.add(N("inner.sub.z.test"), rrtype::NS, 60, rdata_name(N("ns.sub.z.test")));
  b.add(N("w.inner.sub.z.test"), rrtype::MX, 60, std::string("\0\1", 2) + N("ns.sub.z.test").wire());
  std::vector<ZoneIssue> issues;
  auto z = b.build(issues);
  ASSERT_TRUE(z);
  auto count = [&](const std::string& owner) {
    return std::count_if(issues.begin(), issues.end(), [&](const ZoneIssue& i) {
      return i.problem == ZoneProblem::data_below_delegation && i.owner == owner;
    });
  };
  EXPECT_EQ(count("deep.x.sub.z.test."), 1);
  EXPECT_EQ(count("w.inner.sub.z.test."), 1);  // below two cuts, said once
  EXPECT_EQ(count("ns.sub.z.test."), 0);
  EXPECT_EQ(count("inner.sub.z.test."), 1);  // NS below a cut is not glue either
}

TEST(ZoneStore, SortedNodesAreInCanonicalOrderAndIncludeEmptyNonTerminals) {
  auto b = with_apex();
  for (const char* n : {"b.z.test", "a.z.test", "z.a.z.test", "*.z.test", "x.y.z.test"}) b.add(N(n), rrtype::A, 60, A(1));
  std::vector<ZoneIssue> issues;
  auto z = b.build(issues);
  ASSERT_TRUE(z);
  std::vector<std::string> got;
  for (NodeView n : z->sorted_nodes()) got.push_back(n.owner().to_text());
  // RFC 4034 §6.1: by labels from the right; y.z.test exists as an empty non-terminal.
  EXPECT_EQ(got, (std::vector<std::string>{"z.test.", "*.z.test.", "a.z.test.", "z.a.z.test.", "b.z.test.", "y.z.test.",
                                           "x.y.z.test."}));
  NodeView ent = z->find_node(N("y.z.test").wire());
  ASSERT_TRUE(ent);
  EXPECT_EQ(ent.rrset_count(), 0u);
}

TEST(ZoneStore, SortedNodesMatchCanonicalLessWithOctetsZeroAndOneInLabels) {
  // sorted_nodes sorts by precomputed keys; labels holding \000 or \001 (escaped in the keys) and
  // labels that are prefixes of others must come out as canonical_less orders them.
  auto b = with_apex();
  for (const char* n : {"a.z.test", "a\\000.z.test", "a\\000b.z.test", "a\\001.z.test", "\\000.z.test",
                        "\\001\\000.z.test", "\\002.z.test", "ab.z.test", "a.a\\000.z.test", "b.a.z.test",
                        "A\\255.z.test", "\\255.z.test"})
    b.add(N(n), rrtype::A, 60, A(1));
  std::vector<ZoneIssue> issues;
  auto z = b.build(issues);
  ASSERT_TRUE(z);
  std::vector<Name> got, want;
  for (NodeView n : z->sorted_nodes()) got.push_back(n.owner());
  want = got;
  std::sort(want.begin(), want.end(), [](const Name& x, const Name& y) { return canonical_less(x, y); });
  ASSERT_EQ(got.size(), 13u);  // the apex and the twelve names
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].to_text(), want[i].to_text()) << i;
}

TEST(ZoneStore, RrsetBlobEncodesLikeTheZone) {
  RRset rr{rrtype::TXT, 0, {std::string("\x03one", 4), std::string("\x03two", 4)}};
  RRsetBlob blob(rr);
  RRsetView v = blob.view();
  ASSERT_TRUE(v);
  EXPECT_EQ(v.type(), rrtype::TXT);
  EXPECT_EQ(v.size(), 2u);
  std::vector<std::string> rd;
  for (std::string_view r : v) rd.emplace_back(r);
  EXPECT_EQ(rd, rr.rdata);
  EXPECT_FALSE(RRsetBlob().view());
}

TEST(ZoneStore, BigRrsetsMergeDuplicatesPerOwnerAndTypeLikeSmallOnes) {
  // Past ZoneBuilder's linear walk (16 records at a node) duplicates are found by hash: the same
  // rules must hold there. Two owners and two types share rdata, so a key missing the owner or the
  // type would merge records that are not duplicates.
  auto b = with_apex();
  const uint32_t n = 3000;
  auto V = [](uint32_t i) { return A(0x03000000 + i); };  // also a valid TXT: one 3-byte string
  for (const char* owner : {"big.z.test", "big2.z.test"})
    for (int pass = 0; pass < 2; ++pass)  // the second pass adds every record again
      for (uint32_t i = 0; i < n; ++i) {
        b.add(N(owner), rrtype::A, 300, V(i));
        b.add(N(owner), rrtype::TXT, 300, V(i));  // the same bytes as the A record
      }
  b.add(N("big.z.test"), rrtype::A, 600, V(n));  // a new record with another TTL: reported
  b.add(N("big.z.test"), rrtype::A, 600, V(n));  // and merged
  std::vector<ZoneIssue> issues;
  auto z = b.build(issues);
  ASSERT_TRUE(z);
  EXPECT_EQ(z->record_count(), 2 + 4 * n + 1);
  EXPECT_TRUE(has(issues, ZoneProblem::ttl_mismatch, "big.z.test."));
  EXPECT_EQ(std::count_if(issues.begin(), issues.end(), [](const ZoneIssue& i) { return i.problem == ZoneProblem::ttl_mismatch; }), 1);
  for (const char* owner : {"big.z.test", "big2.z.test"}) {
    NodeView node = z->find_node(N(owner).wire());
    ASSERT_TRUE(node);
    RRsetView a = node.find(rrtype::A), txt = node.find(rrtype::TXT);
    ASSERT_TRUE(a && txt);
    EXPECT_EQ(a.ttl(), 300u);  // the first record's TTL
    EXPECT_EQ(txt.size(), n);
    EXPECT_EQ(a.size(), std::string(owner) == "big.z.test" ? n + 1 : n);
    uint32_t i = 0;
    for (std::string_view rd : a) EXPECT_EQ(rd, V(i++));  // in the order first added
  }
}

TEST(ZoneStore, DuplicatesOfANodeAtTheWalkLimitAreMergedAndIndexedOnce) {
  // A node with exactly ZoneBuilder's walk limit (16) of records, then every record many times again
  // (a zone file concatenated with itself): merged, in order, first TTL kept, no warning.
  auto b = with_apex();
  for (int pass = 0; pass < 500; ++pass)
    for (uint32_t i = 0; i < 16; ++i) b.add(N("edge.z.test"), rrtype::A, 300, A(i));
  b.add(N("edge.z.test"), rrtype::A, 300, A(16));  // the 17th: found through the index from now on
  b.add(N("edge.z.test"), rrtype::A, 300, A(16));
  b.add(N("edge.z.test"), rrtype::A, 300, A(3));
  std::vector<ZoneIssue> issues;
  auto z = b.build(issues);
  ASSERT_TRUE(z);
  EXPECT_TRUE(issues.empty());
  RRsetView a = z->find_node(N("edge.z.test").wire()).find(rrtype::A);
  ASSERT_TRUE(a);
  ASSERT_EQ(a.size(), 17u);
  uint32_t i = 0;
  for (std::string_view rd : a) EXPECT_EQ(rd, A(i++));
}
