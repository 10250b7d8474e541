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
  j["version"] = 2;
  EXPECT_NE(reason(j.dump()).find("version 2, this build reads version 1"), std::string::npos);
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
  auto back = server::load_last_good(dir, error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->written.size(), 20u);  // 2026-12-01T10:40:00Z
  std::ofstream(dir / "last-good.json") << "{\"format\": \"phoenix-dns last good data\", \"version\": 1}";
  EXPECT_FALSE(server::load_last_good(dir, error));
  EXPECT_NE(error.find((dir / "last-good.json").string()), std::string::npos);
  std::filesystem::remove_all(dir);
}
