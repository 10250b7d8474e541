#include <gtest/gtest.h>

#include "zones/zonefile.hpp"

using namespace phoenix;
using namespace phoenix::zones;

namespace {

const Name kOrigin = *Name::from_text("lab.example");

std::string errors_of(const horizon::Diagnostics& d) {
  std::string s;
  for (auto& i : d.items()) s += i.format() + "\n";
  return s;
}

constexpr const char* kGood = R"($TTL 3600
@       SOA  ns1 hostmaster 1 7200 900 1209600 300
        NS   ns1
ns1     A    192.0.2.1
www     A    192.0.2.80
Alias   CNAME www
*.wild  TXT  "w"
)";

}  // namespace

TEST(ZoneFile, LoadsRecordsRelativeToOrigin) {
  horizon::Diagnostics d;
  auto z = load_zone_text(kGood, kOrigin, "lab.zone", d);
  ASSERT_TRUE(z) << errors_of(d);
  EXPECT_EQ(z->serial(), 1u);
  EXPECT_EQ(z->negative_ttl(), 300u);
  EXPECT_TRUE(z->find_node(Name::from_text("alias.lab.example")->wire()));  // owners are lower-cased
  LookupResult r;
  z->lookup(Name::from_text("x.wild.lab.example")->wire(), rrtype::TXT, r);
  EXPECT_EQ(r.status, LookupStatus::answer);
}

TEST(ZoneFile, SyntaxErrorsNameFileAndLine) {
  horizon::Diagnostics d;
  std::string text = std::string(kGood) + "bad A 999.1.1.1\nworse NOTATYPE x\n\n; note\nmulti ( A\n 300.1.1.1 )\n";
  EXPECT_FALSE(load_zone_text(text, kOrigin, "lab.zone", d));
  std::string e = errors_of(d);
  EXPECT_NE(e.find("lab.zone: line 8: "), std::string::npos) << e;
  EXPECT_NE(e.find("lab.zone: line 9: "), std::string::npos) << e;
  EXPECT_NE(e.find("lab.zone: line 12: "), std::string::npos) << e;  // a multi-line record: its first line
}

TEST(ZoneFile, RefusesIncludeAndOtherClasses) {
  horizon::Diagnostics d;
  EXPECT_FALSE(load_zone_text(std::string(kGood) + "$INCLUDE /etc/passwd\n", kOrigin, "lab.zone", d));
  EXPECT_NE(errors_of(d).find("$INCLUDE is not supported"), std::string::npos) << errors_of(d);
  horizon::Diagnostics d2;
  EXPECT_FALSE(load_zone_text(std::string(kGood) + "ch CH TXT \"x\"\n", kOrigin, "lab.zone", d2));
  EXPECT_NE(errors_of(d2).find("class other than IN"), std::string::npos) << errors_of(d2);
}

TEST(ZoneFile, SemanticProblemsNameTheLine) {
  horizon::Diagnostics d;
  EXPECT_FALSE(load_zone_text(std::string(kGood) + "www CNAME ns1\nother.example. A 192.0.2.9\n", kOrigin, "lab.zone", d));
  std::string e = errors_of(d);
  EXPECT_NE(e.find("CNAME and other data"), std::string::npos) << e;
  EXPECT_NE(e.find("line 9: [lab.example.] record outside the zone"), std::string::npos) << e;
}

TEST(ZoneFile, MissingFileAndEmptyText) {
  horizon::Diagnostics d;
  EXPECT_FALSE(load_zone_file("/nonexistent/lab.zone", kOrigin, "lab.zone", d));
  EXPECT_NE(errors_of(d).find("cannot read zone file"), std::string::npos);
  horizon::Diagnostics d3;
  EXPECT_FALSE(load_zone_file("/dev/zero", kOrigin, "lab.zone", d3));
  EXPECT_NE(errors_of(d3).find("not a regular file"), std::string::npos) << errors_of(d3);
  horizon::Diagnostics d2;
  EXPECT_FALSE(load_zone_text("", kOrigin, "lab.zone", d2));
  EXPECT_NE(errors_of(d2).find("no SOA"), std::string::npos);
}
