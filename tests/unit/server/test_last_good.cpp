// Issue 12: the last good data in --state-dir is what was served, and reads back to the same answers.
#include <gtest/gtest.h>

#include <fstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "example_inventory.hpp"
#include "server/last_good.hpp"
#include "server/query/processor.hpp"
#include "server/wire/query_builder.hpp"
#include "server/reload.hpp"

using namespace phoenix;

namespace {

const std::filesystem::path& kExample = test_data::kExampleInventory;

server::LoadOutcome example() {
  zones::SerialStore serials(std::nullopt);
  auto out = server::load_snapshot(kExample, serials);
  out.snapshot->forward.rebind_allow = {"lan.example"};
  return out;
}

std::vector<uint8_t> answer(const zones::Snapshot& snap, const std::string& name, uint16_t type, const char* client) {
  auto q = wire::build_query(name, type, 0x0102, true, std::nullopt);
  std::vector<uint8_t> out(1232);
  query::QueryContext ctx{&snap, *horizon::IpAddr::parse(client), false, nullptr, nullptr};
  out.resize(query::process_query(q.data(), q.size(), ctx, out.data(), out.size()));
  return out;
}

}  // namespace

TEST(LastGood, ReadsBackToTheSameViewsZonesAndAnswers) {
  auto lo = example();
  std::string text = server::last_good_text(*lo.snapshot, lo.plan, kExample, "2026-12-01T10:40:00Z");
  std::string error;
  auto back = server::parse_last_good(text, error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->written, "2026-12-01T10:40:00Z");
  EXPECT_EQ(back->inventory, kExample.string());
  EXPECT_EQ(back->listen, lo.plan.listen);
  const auto& a = *lo.snapshot;
  const auto& b = *back->snapshot;
  ASSERT_EQ(a.view_data.size(), b.view_data.size());
  for (size_t v = 0; v < a.view_data.size(); ++v) {
    EXPECT_EQ(a.view_data[v].name, b.view_data[v].name);
    EXPECT_EQ(a.view_data[v].recursion, b.view_data[v].recursion);
    EXPECT_EQ(a.view_data[v].local_zones, b.view_data[v].local_zones);
    ASSERT_EQ(a.view_data[v].zones.zones().size(), b.view_data[v].zones.zones().size());
    for (size_t z = 0; z < a.view_data[v].zones.zones().size(); ++z)
      EXPECT_EQ(zones::zone_to_text(*a.view_data[v].zones.zones()[z]), zones::zone_to_text(*b.view_data[v].zones.zones()[z]));
  }
  EXPECT_EQ(b.upstreams, lo.plan.upstreams);
  EXPECT_EQ(b.forward, a.forward);
  ASSERT_TRUE(b.answers);  // precompiled again
  for (auto [name, type, client] : {std::tuple{"ollama.internal.thinkheads.ai", 1, "127.0.0.1"},
                                    {"ollama.phoenix.thinkheads.ai", 1, "127.0.0.2"},
                                    {"155.0.0.10.in-addr.arpa", 12, "127.0.0.1"},
                                    {"1.1.168.192.in-addr.arpa", 12, "127.0.0.1"},
                                    {"internal.thinkheads.ai", 6, "127.0.0.1"},
                                    {"ollama.internal.thinkheads.ai", 1, "127.0.0.2"}})
    EXPECT_EQ(answer(a, name, static_cast<uint16_t>(type), client), answer(b, name, static_cast<uint16_t>(type), client))
        << name;
  // The same text again: stable, so an unchanged inventory rewrites the same bytes.
  EXPECT_EQ(server::last_good_text(b, lo.plan, kExample, "2026-12-01T10:40:00Z"), text);
}

TEST(LastGood, KeepsSelectorsRateLimitsTransfersAndKeys) {
  // What a restart on the last good data must not lose: a view chosen by destination or TSIG key,
  // its rate limit (flood protection), who may transfer and whom to NOTIFY, and the keys themselves.
  auto lo = example();
  auto& snap = *lo.snapshot;
  auto& in = snap.view_data[0];
  in.rate_limit.enabled = true;
  in.rate_limit.responses_per_second = 7;
  in.rate_limit.slip = 0;
  in.rate_limit.exempt = {*horizon::IpPrefix::parse("10.0.0.0/24")};
  in.transfer.allow = {{horizon::IpPrefix::parse("127.0.0.0/8"), "", {}}, {std::nullopt, "xfr-key", {}}};
  in.transfer.notify = {{*horizon::Endpoint::parse("127.0.0.9:5300", 53), "xfr-key", {}}};
  in.catalog = "catalog.internal.invalid";
  lo.plan.views[0].match_keys = {"xfr-key"};
  lo.plan.views[0].match_destinations = {*horizon::IpPrefix::parse("127.0.0.1/32")};
  snap.require_cookie = true;
  snap.tsig_keys = {{"xfr-key", horizon::TsigAlgorithm::hmac_sha512, std::string("\x00\x01secret\xff", 9), {}}};
  std::string error;
  auto back = server::parse_last_good(server::last_good_text(snap, lo.plan, kExample, "t"), error);
  ASSERT_TRUE(back) << error;
  const auto& b = *back->snapshot;
  EXPECT_EQ(b.view_data[0].rate_limit, in.rate_limit);
  EXPECT_TRUE(b.rate_limited);
  EXPECT_EQ(b.view_data[0].transfer, in.transfer);
  EXPECT_EQ(b.view_data[0].catalog, in.catalog);
  EXPECT_EQ(b.view_data[1].rate_limit, snap.view_data[1].rate_limit);
  EXPECT_TRUE(b.require_cookie);
  EXPECT_EQ(b.tsig_keys, snap.tsig_keys);
  // Selectors: a query signed with xfr-key would pick view 0; from 127.0.0.1 to another local address,
  // view 0's match_destinations no longer match, so the next view that matches the client answers.
  EXPECT_EQ(b.views.match_key("xfr-key"), 0u);
  EXPECT_EQ(b.views.match(*horizon::IpAddr::parse("127.0.0.1"), *horizon::IpAddr::parse("127.0.0.1")), 0u);
  EXPECT_NE(b.views.match(*horizon::IpAddr::parse("127.0.0.1"), *horizon::IpAddr::parse("127.0.0.2")), 0u);
}

TEST(LastGood, BrokenFilesAreRefusedWithAReason) {
  auto lo = example();
  std::string good = server::last_good_text(*lo.snapshot, lo.plan, kExample, "t");
  auto reason = [](const std::string& text) {
    std::string error;
    EXPECT_FALSE(server::parse_last_good(text, error)) << text.substr(0, 80);
    return error;
  };
  EXPECT_NE(reason("").find("parse"), std::string::npos);
  EXPECT_NE(reason(good.substr(0, good.size() / 2)).find("parse"), std::string::npos);  // cut short
  EXPECT_EQ(reason("{\"format\": \"something else\"}"), "not a last good data file");
  auto j = nlohmann::json::parse(good);
  j["version"] = 1;  // lost the rate limits, transfer settings and keys: not read
  EXPECT_NE(reason(j.dump()).find("version 1, this build reads version 2"), std::string::npos);
  j = nlohmann::json::parse(good);
  j["zones"][0]["text"] = "this is not a record\n";
  EXPECT_FALSE(reason(j.dump()).empty());
  j = nlohmann::json::parse(good);
  j["views"][0]["zones"].push_back(99);
  EXPECT_NE(reason(j.dump()).find("names zone 99"), std::string::npos);
  j = nlohmann::json::parse(good);
  j["views"][0]["match_clients"][0] = "10.0.0.0/99";
  EXPECT_NE(reason(j.dump()).find("bad match-clients prefix"), std::string::npos);
}

TEST(LastGood, SavedAtomicallyAndLoadedFromTheStateDir) {
  auto dir = std::filesystem::temp_directory_path() / ("phoenix-lastgood-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::string error;
  EXPECT_FALSE(server::load_last_good(dir, error));
  EXPECT_EQ(error, "");  // none yet: not an error
  auto lo = example();
  ASSERT_EQ(server::save_last_good(dir, *lo.snapshot, lo.plan, kExample), "");
  EXPECT_TRUE(std::filesystem::exists(dir / "last-good.json"));
  EXPECT_FALSE(std::filesystem::exists(dir / "last-good.json.tmp"));
  // It holds the TSIG secrets: owner only.
  EXPECT_EQ(std::filesystem::status(dir / "last-good.json").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  auto back = server::load_last_good(dir, error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->written.size(), 20u);  // 2026-12-01T10:40:00Z
  std::ofstream(dir / "last-good.json") << "{\"format\": \"phoenix-dns last good data\", \"version\": 1}";
  EXPECT_FALSE(server::load_last_good(dir, error));
  EXPECT_NE(error.find((dir / "last-good.json").string()), std::string::npos);
  std::filesystem::remove_all(dir);
}
