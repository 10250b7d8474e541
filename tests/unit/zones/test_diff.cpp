#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "zones/diff.hpp"
#include "zones/zonefile.hpp"

using namespace phoenix;
using zones::diff_zone_text;

namespace {

const char* kSoa = "example. 300 SOA ns.example. admin.example. 5 3600 600 86400 300\n";

std::string zone(const std::string& serial, const std::string& body) {
  return "example. 300 SOA ns.example. admin.example. " + serial + " 3600 600 86400 300\n" + body;
}

std::shared_ptr<zones::Snapshot> snapshot_of(const std::vector<std::pair<std::string, std::string>>& views) {
  auto snap = std::make_shared<zones::Snapshot>();
  for (auto& [view, text] : views) {
    horizon::Diagnostics diag;
    auto z = zones::load_zone_text(text, *zones::Name::from_text("example."), "test", diag);
    EXPECT_TRUE(z) << diag.items().size();
    zones::ViewData vd;
    vd.name = view;
    vd.zones.add(z);
    snap->view_data.push_back(std::move(vd));
  }
  return snap;
}

}  // namespace

TEST(ZoneDiff, CountsAddedRemovedChangedPerOwnerAndType) {
  auto before = zone("5", "a.example. 300 A 10.0.0.1\nb.example. 300 A 10.0.0.2\nc.example. 300 A 10.0.0.3\n"
                          "m.example. 300 A 10.0.0.4\nm.example. 300 A 10.0.0.5\n");
  // a: changed value; b: removed; c: TTL changed; d: added; m: one of two values replaced.
  auto after = zone("6", "a.example. 300 A 10.0.0.9\nc.example. 60 A 10.0.0.3\nd.example. 300 AAAA ::1\n"
                         "m.example. 300 A 10.0.0.4\nm.example. 300 A 10.0.0.6\n");
  auto d = diff_zone_text(before, after);
  EXPECT_EQ(d.added, 1u);
  EXPECT_EQ(d.removed, 1u);
  EXPECT_EQ(d.changed, 3u);
  EXPECT_EQ(d.old_serial, 5u);
  EXPECT_EQ(d.new_serial, 6u);
  EXPECT_TRUE(d.was_served && d.is_served);
  EXPECT_EQ(zones::describe(d), "view , zone : +1 -1 ~3 records, serial 5 -> 6");
}

TEST(ZoneDiff, SerialAloneIsNoRecordChange) {
  auto d = diff_zone_text(zone("5", "a.example. 300 A 10.0.0.1\n"), zone("7", "a.example. 300 A 10.0.0.1\n"));
  EXPECT_FALSE(d.records_changed());
  EXPECT_EQ(d.new_serial, 7u);
}

TEST(ZoneDiff, NewAndRemovedZones) {
  auto n = diff_zone_text("", std::string(kSoa) + "a.example. 300 A 10.0.0.1\n");
  EXPECT_FALSE(n.was_served);
  EXPECT_EQ(n.added, 1u);
  auto r = diff_zone_text(std::string(kSoa) + "a.example. 300 A 10.0.0.1\n", "");
  EXPECT_FALSE(r.is_served);
  EXPECT_EQ(r.removed, 1u);
}

TEST(ZoneDiff, SnapshotsCompareOnlyZonesWhoseSerialMoved) {
  auto base = "ns.example. 300 A 10.0.0.53\nexample. 300 NS ns.example.\n";
  auto s1 = snapshot_of({{"internal", zone("5", std::string(base) + "a.example. 300 A 10.0.0.1\n")},
                         {"external", zone("5", base)}});
  // Same serial in "external" although the text differs: trusted as unchanged (SerialStore's promise).
  auto s2 = snapshot_of({{"internal", zone("6", std::string(base) + "a.example. 300 A 10.0.0.2\n")},
                         {"external", zone("5", std::string(base) + "x.example. 300 A 10.0.0.7\n")}});
  auto diffs = zones::diff_snapshots(*s1, *s2);
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_EQ(diffs[0].view, "internal");
  EXPECT_EQ(diffs[0].zone, "example.");
  EXPECT_EQ(diffs[0].changed, 1u);
  EXPECT_EQ(zones::summarize(diffs), "1 zone changed (+0 -0 ~1 records)");
  EXPECT_EQ(zones::summarize({}), "no zone changed");
  // A view that disappears reports its zones as removed.
  auto s3 = snapshot_of({{"internal", zone("6", std::string(base) + "a.example. 300 A 10.0.0.2\n")}});
  diffs = zones::diff_snapshots(*s2, *s3);
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_EQ(diffs[0].view, "external");
  EXPECT_FALSE(diffs[0].is_served);
}

TEST(ZoneDiff, ServedStateRoundTrips) {
  auto dir = std::filesystem::temp_directory_path() / ("phoenix-served-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  auto base = "ns.example. 300 A 10.0.0.53\nexample. 300 NS ns.example.\n";
  auto s1 = snapshot_of({{"internal", zone("5", base)}, {"gone", zone("5", base)}});
  ASSERT_EQ(zones::write_served(dir, *s1), "");
  std::string err;
  auto served = zones::read_served(dir, err);
  EXPECT_EQ(err, "");
  EXPECT_EQ(served, zones::served_text(*s1));
  EXPECT_TRUE(zones::diff_served(served, *s1).empty());
  auto s2 = snapshot_of({{"internal", zone("6", std::string(base) + "b.example. 300 A 10.0.0.2\n")}});
  auto diffs = zones::diff_served(served, *s2);
  ASSERT_EQ(diffs.size(), 2u);
  EXPECT_EQ(zones::describe(diffs[0]), "view internal, zone example.: +1 -0 ~0 records, serial 5 -> 6");
  EXPECT_EQ(zones::describe(diffs[1]), "view gone, zone example.: removed (2 records, serial 5)");
  // Writing the new state removes the zone (and view) no longer served.
  ASSERT_EQ(zones::write_served(dir, *s2), "");
  EXPECT_FALSE(std::filesystem::exists(dir / "gone"));
  EXPECT_EQ(zones::read_served(dir, err).size(), 1u);
  std::filesystem::remove_all(dir);
  zones::read_served(dir, err);
  EXPECT_NE(err, "");
}
