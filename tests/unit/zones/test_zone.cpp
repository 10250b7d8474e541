#include <gtest/gtest.h>

#include "zones/name.hpp"
#include "zones/serial.hpp"
#include "zones/zone.hpp"

using namespace phoenix::zones;

namespace {

Name N(const char* t) { return *Name::from_text(t); }
std::string A(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return std::string{char(a), char(b), char(c), char(d)}; }

/// example.test with a CNAME chain, a wildcard, an empty non-terminal and a delegation.
std::shared_ptr<const Zone> make_zone(std::vector<ZoneIssue>* issues_out = nullptr) {
  ZoneBuilder b(N("example.test"));
  b.add(N("example.test"), rrtype::SOA, 3600, rdata_soa(N("ns1.example.test"), N("h.example.test"), 7, 1, 2, 3, 60));
  b.add(N("example.test"), rrtype::NS, 3600, rdata_name(N("ns1.example.test")));
  b.add(N("ns1.example.test"), rrtype::A, 3600, A(192, 0, 2, 1));
  b.add(N("www.example.test"), rrtype::A, 300, A(192, 0, 2, 10));
  b.add(N("alias.example.test"), rrtype::CNAME, 300, rdata_name(N("WWW.example.test")));
  b.add(N("alias2.example.test"), rrtype::CNAME, 300, rdata_name(N("alias.example.test")));
  b.add(N("outside.example.test"), rrtype::CNAME, 300, rdata_name(N("www.other.test")));
  b.add(N("loop1.example.test"), rrtype::CNAME, 300, rdata_name(N("loop2.example.test")));
  b.add(N("loop2.example.test"), rrtype::CNAME, 300, rdata_name(N("loop1.example.test")));
  b.add(N("*.wild.example.test"), rrtype::A, 300, A(192, 0, 2, 20));
  b.add(N("deep.ent.wild.example.test"), rrtype::A, 300, A(192, 0, 2, 21));
  b.add(N("sub.example.test"), rrtype::NS, 300, rdata_name(N("ns.sub.example.test")));
  b.add(N("ns.sub.example.test"), rrtype::A, 300, A(192, 0, 2, 30));
  b.add(N("mx.example.test"), rrtype::MX, 300, std::string("\0\x0a", 2) + N("www.example.test").wire());
  std::vector<ZoneIssue> issues;
  auto z = b.build(issues);
  if (issues_out) *issues_out = issues;
  return z;
}

LookupResult look(const Zone& z, const char* name, uint16_t type) {
  LookupResult r;
  z.lookup(N(name).wire(), type, r);
  return r;
}

}  // namespace

TEST(Name, TextAndWireRoundTrip) {
  auto n = Name::from_text("WWW.Example.TEST.");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->to_text(), "www.example.test.");
  EXPECT_EQ(n->label_count(), 3u);
  EXPECT_TRUE(n->is_subdomain_of(N("example.test")));
  EXPECT_FALSE(N("badexample.test").is_subdomain_of(N("example.test")));
  EXPECT_FALSE(Name::from_text(std::string(64, 'a') + ".test"));
  EXPECT_FALSE(Name::from_text("a..b"));
  EXPECT_EQ(N("a\\.b.test").label_count(), 2u);
  EXPECT_TRUE(canonical_less(N("a.example.test"), N("b.example.test")));
  EXPECT_TRUE(canonical_less(N("z.a.test"), N("a.b.test")));
}

TEST(Zone, BuildsWithoutProblems) {
  std::vector<ZoneIssue> issues;
  auto z = make_zone(&issues);
  ASSERT_TRUE(z);
  EXPECT_TRUE(issues.empty());
  EXPECT_EQ(z->serial(), 7u);
  EXPECT_EQ(z->negative_ttl(), 60u);  // min(SOA TTL 3600, MINIMUM 60)
}

TEST(Zone, ExactAnswer) {
  auto z = make_zone();
  auto r = look(*z, "www.example.test", rrtype::A);
  EXPECT_EQ(r.status, LookupStatus::answer);
  ASSERT_EQ(r.answer.size, 1u);
  EXPECT_EQ(r.answer.items[0].owner, nullptr);  // the query name itself
}

TEST(Zone, CnameChainIsFollowedInsideTheZone) {
  auto z = make_zone();
  auto r = look(*z, "alias2.example.test", rrtype::A);
  EXPECT_EQ(r.status, LookupStatus::answer);
  ASSERT_EQ(r.answer.size, 3u);
  EXPECT_EQ(r.answer.items[0].rrset.type(), rrtype::CNAME);
  EXPECT_EQ(r.answer.items[1].rrset.type(), rrtype::CNAME);
  EXPECT_EQ(r.answer.items[2].rrset.type(), rrtype::A);
}

TEST(Zone, CnameOutOfZoneStops) {
  auto zone = make_zone();  // the result points into the zone: keep it alive
  auto r = look(*zone, "outside.example.test", rrtype::A);
  EXPECT_EQ(r.status, LookupStatus::answer);
  EXPECT_EQ(r.answer.size, 1u);
}

TEST(Zone, CnameLoopIsCut) {
  auto zone = make_zone();  // the result points into the zone: keep it alive
  auto r = look(*zone, "loop1.example.test", rrtype::A);
  EXPECT_LE(r.answer.size, 9u);
  EXPECT_GE(r.answer.size, 2u);
}

TEST(Zone, WildcardSynthesisAndEmptyNonTerminalBlocking) {
  auto z = make_zone();
  auto r = look(*z, "anything.wild.example.test", rrtype::A);
  EXPECT_EQ(r.status, LookupStatus::answer);
  ASSERT_EQ(r.answer.size, 1u);
  EXPECT_EQ(r.answer.items[0].owner, nullptr);  // synthesised with the query name
  EXPECT_EQ(r.wildcard, N("*.wild.example.test").wire());  // rate limiting counts it as the wildcard
  EXPECT_TRUE(look(*z, "deep.ent.wild.example.test", rrtype::A).wildcard.empty());  // a name of its own
  EXPECT_TRUE(look(*z, "nothing.example.test", rrtype::A).wildcard.empty());
  // ent.wild exists as an empty non-terminal: NODATA, and it blocks *.wild below it (RFC 4592 §2.2.2).
  EXPECT_EQ(look(*z, "ent.wild.example.test", rrtype::A).status, LookupStatus::nodata);
  EXPECT_EQ(look(*z, "x.ent.wild.example.test", rrtype::A).status, LookupStatus::nxdomain);
  EXPECT_EQ(look(*z, "a.b.wild.example.test", rrtype::A).status, LookupStatus::answer);
}

TEST(Zone, DelegationGivesReferralWithGlue) {
  auto zone = make_zone();  // the result points into the zone: keep it alive
  auto r = look(*zone, "host.sub.example.test", rrtype::A);
  EXPECT_EQ(r.status, LookupStatus::referral);
  EXPECT_FALSE(r.authoritative);
  ASSERT_EQ(r.authority.size, 1u);
  EXPECT_EQ(r.authority.items[0].rrset.type(), rrtype::NS);
  ASSERT_EQ(r.additional.size, 1u);
  EXPECT_EQ(r.additional.items[0].rrset.type(), rrtype::A);
}

TEST(Zone, NegativeAnswersCarrySoaWithNegativeTtl) {
  auto z = make_zone();
  auto nx = look(*z, "nope.example.test", rrtype::A);
  EXPECT_EQ(nx.status, LookupStatus::nxdomain);
  ASSERT_EQ(nx.authority.size, 1u);
  EXPECT_EQ(nx.authority.items[0].ttl, 60u);
  auto nd = look(*z, "www.example.test", rrtype::AAAA);
  EXPECT_EQ(nd.status, LookupStatus::nodata);
  EXPECT_EQ(nd.authority.items[0].rrset.type(), rrtype::SOA);
}

TEST(Zone, MxGetsAdditionalAddress) {
  auto zone = make_zone();  // the result points into the zone: keep it alive
  auto r = look(*zone, "mx.example.test", rrtype::MX);
  EXPECT_EQ(r.status, LookupStatus::answer);
  ASSERT_EQ(r.additional.size, 1u);
}

TEST(Zone, AnyReturnsOneRrset) {
  auto zone = make_zone();  // the result points into the zone: keep it alive
  auto r = look(*zone, "example.test", rrtype::ANY);
  EXPECT_EQ(r.status, LookupStatus::answer);
  EXPECT_EQ(r.answer.size, 1u);
}

TEST(ZoneBuilder, RejectsCnameWithOtherData) {
  ZoneBuilder b(N("z.test"));
  b.add(N("z.test"), rrtype::SOA, 60, rdata_soa(N("ns.z.test"), N("h.z.test"), 1, 1, 1, 1, 1));
  b.add(N("z.test"), rrtype::NS, 60, rdata_name(N("ns.z.test")));
  b.add(N("a.z.test"), rrtype::CNAME, 60, rdata_name(N("b.z.test")));
  b.add(N("a.z.test"), rrtype::A, 60, A(1, 2, 3, 4));
  std::vector<ZoneIssue> issues;
  EXPECT_FALSE(b.build(issues));
  ASSERT_FALSE(issues.empty());
  EXPECT_EQ(issues[0].problem, ZoneProblem::cname_and_other_data);
}

TEST(ZoneBuilder, RejectsMissingSoaAndOutOfZoneData) {
  ZoneBuilder b(N("z.test"));
  b.add(N("other.test"), rrtype::A, 60, A(1, 2, 3, 4));
  std::vector<ZoneIssue> issues;
  EXPECT_FALSE(b.build(issues));
  bool out = false, soa = false;
  for (auto& i : issues) {
    out |= i.problem == ZoneProblem::out_of_zone;
    soa |= i.problem == ZoneProblem::no_soa;
  }
  EXPECT_TRUE(out);
  EXPECT_TRUE(soa);
}

TEST(Serial, SameContentSameSerialChangedContentGreater) {
  SerialStore s(std::nullopt);
  uint32_t a = s.serial_for("internal/z", 1);
  EXPECT_EQ(s.serial_for("internal/z", 1), a);
  uint32_t b = s.serial_for("internal/z", 2);
  EXPECT_TRUE(serial_gt(b, a));
  uint32_t c = s.serial_for("internal/z", 1);  // back to old content is still a change
  EXPECT_TRUE(serial_gt(c, b));
}

TEST(Serial, SurvivesRestartThroughStateFile) {
  auto dir = std::filesystem::temp_directory_path() / ("phoenix-serial-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  uint32_t a;
  {
    SerialStore s(dir);
    a = s.serial_for("v/z", 42);
    ASSERT_EQ(s.save(), "");
  }
  SerialStore again(dir);
  EXPECT_EQ(again.serial_for("v/z", 42), a);
  EXPECT_TRUE(serial_gt(again.serial_for("v/z", 43), a));
  std::filesystem::remove_all(dir);
}

TEST(Serial, Rfc1982Comparison) {
  EXPECT_TRUE(serial_gt(1, 0));
  EXPECT_TRUE(serial_gt(0, 0xffffffffu));
  EXPECT_FALSE(serial_gt(5, 5));
  EXPECT_FALSE(serial_gt(0, 0x7fffffffu));
  EXPECT_TRUE(serial_gt(0x7fffffffu, 0));
}

TEST(Zone, CnameLoopBackToTheQueryNameStopsAtOneRound) {
  // Regression (issue 3): loop1 -> loop2 -> loop1 used to repeat loop1's CNAME once more.
  auto zone = make_zone();
  auto r = look(*zone, "loop1.example.test", rrtype::A);
  EXPECT_EQ(r.answer.size, 2u);
  EXPECT_EQ(r.status, LookupStatus::answer);
}

TEST(Zone, DsAtADelegationIsAnsweredFromTheParent) {
  // RFC 4035 §3.1.4.1: the parent holds DS; no DS here means NODATA with AA, not a referral.
  auto zone = make_zone();
  auto r = look(*zone, "sub.example.test", rrtype::DS);
  EXPECT_EQ(r.status, LookupStatus::nodata);
  EXPECT_TRUE(r.authoritative);
  EXPECT_EQ(r.authority.size, 1u);
  EXPECT_EQ(r.authority.items[0].rrset.type(), rrtype::SOA);
  auto below = look(*zone, "x.sub.example.test", rrtype::DS);
  EXPECT_EQ(below.status, LookupStatus::referral);
}
