// RFC 9432 catalog zones as build_snapshot serves them.
#include <gtest/gtest.h>

#include "zones/snapshot.hpp"

using namespace phoenix;

namespace {

horizon::ZonePlan zone_plan(const std::string& origin, const std::string& host, const std::string& ip) {
  horizon::ZonePlan z;
  z.origin = origin;
  z.primary_ns = "ns." + origin;
  z.hostmaster = "hostmaster." + origin;
  z.records.push_back({host + "." + origin, horizon::RecordKind::a, ip, "test"});
  return z;
}

horizon::HorizonPlan two_views(const std::vector<std::string>& internal_zones) {
  horizon::HorizonPlan plan;
  horizon::ViewPlan in, ex;
  in.name = "internal";
  in.catalog = "catalog.internal.invalid";
  in.where = {"phoenix_hypervisor_config.json", "/dns_server/views/0"};
  for (auto& z : internal_zones) in.zones.push_back(zone_plan(z, "www", "10.0.0.1"));
  ex.name = "external";
  ex.zones.push_back(zone_plan("example.com", "www", "192.0.2.1"));
  plan.views = {in, ex};
  return plan;
}

const zones::Zone* zone_named(const zones::ViewData& vd, const std::string& name) {
  for (auto& z : vd.zones.zones())
    if (z->origin().to_text() == name) return z.get();
  return nullptr;
}

std::string record_lines(const zones::Zone& z) { return zones::zone_to_text(z); }

}  // namespace

TEST(CatalogZone, ListsEveryZoneOfTheViewWithVersionAndInvalidNs) {
  zones::SerialStore serials(std::nullopt);
  horizon::Diagnostics diag;
  auto snap = zones::build_snapshot(two_views({"a.example", "b.example"}), serials, diag);
  ASSERT_TRUE(snap) << diag.items().size();
  const auto* cat = zone_named(snap->view_data[0], "catalog.internal.invalid.");
  ASSERT_TRUE(cat);
  std::string text = record_lines(*cat);
  EXPECT_NE(text.find("catalog.internal.invalid. 0 NS invalid."), std::string::npos) << text;
  EXPECT_NE(text.find("version.catalog.internal.invalid. 0 TXT \"2\""), std::string::npos) << text;
  for (const char* m : {"a.example", "b.example"}) {
    std::string line = zones::catalog_member_id(m) + ".zones.catalog.internal.invalid. 0 PTR " + m + ".";
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  // SOA, NS, TXT and two PTRs; nothing else (the catalog does not list itself).
  EXPECT_EQ(cat->record_count(), 5u);
  // The view without a catalog gets none.
  EXPECT_EQ(snap->view_data[1].zones.zones().size(), 1u);
}

TEST(CatalogZone, MemberIdIsStableHexAndIgnoresCaseAndTrailingDot) {
  auto id = zones::catalog_member_id("internal.thinkheads.ai");
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(id, zones::catalog_member_id("Internal.ThinkHeads.AI."));
  EXPECT_NE(id, zones::catalog_member_id("phoenix.thinkheads.ai"));
  // FNV-1a 64 of "internal.thinkheads.ai." (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
  EXPECT_EQ(id, "e73d9e4d279ffae3");
}

TEST(CatalogZone, SerialStaysForTheSameMembersAndGrowsWhenTheyChange) {
  zones::SerialStore serials(std::nullopt);
  auto serial_of = [&](const std::vector<std::string>& members, const std::string& ip = "10.0.0.1") {
    horizon::Diagnostics diag;
    auto plan = two_views(members);
    for (auto& z : plan.views[0].zones) z.records[0].value = ip;
    auto snap = zones::build_snapshot(plan, serials, diag);
    EXPECT_TRUE(snap);
    return zone_named(snap->view_data[0], "catalog.internal.invalid.")->serial();
  };
  uint32_t first = serial_of({"a.example", "b.example"});
  EXPECT_EQ(serial_of({"a.example", "b.example"}), first);
  // A member's own data changing does not change the catalog.
  EXPECT_EQ(serial_of({"a.example", "b.example"}, "10.0.0.2"), first);
  uint32_t added = serial_of({"a.example", "b.example", "c.example"});
  EXPECT_TRUE(zones::serial_gt(added, first));
  uint32_t removed = serial_of({"a.example", "c.example"});
  EXPECT_TRUE(zones::serial_gt(removed, added));
}

TEST(CatalogZone, MemberKeepsItsIdWhenOthersComeAndGo) {
  zones::SerialStore serials(std::nullopt);
  auto ptr_owner_of = [&](const std::vector<std::string>& members) {
    horizon::Diagnostics diag;
    auto snap = zones::build_snapshot(two_views(members), serials, diag);
    EXPECT_TRUE(snap);
    std::string text = record_lines(*zone_named(snap->view_data[0], "catalog.internal.invalid."));
    auto at = text.find(" PTR b.example.");
    EXPECT_NE(at, std::string::npos);
    return text.substr(text.rfind('\n', at) + 1, at - text.rfind('\n', at) - 1);
  };
  EXPECT_EQ(ptr_owner_of({"a.example", "b.example"}), ptr_owner_of({"b.example", "z.example"}));
}

TEST(CatalogZone, ACatalogNamedLikeAMemberIsAnErrorNamingTheView) {
  zones::SerialStore serials(std::nullopt);
  horizon::Diagnostics diag;
  auto plan = two_views({"a.example"});
  plan.views[0].catalog = "a.example";
  EXPECT_FALSE(zones::build_snapshot(plan, serials, diag));
  ASSERT_TRUE(diag.has_errors());
  EXPECT_NE(diag.items()[0].format().find("/dns_server/views/0/catalog"), std::string::npos) << diag.items()[0].format();
}
