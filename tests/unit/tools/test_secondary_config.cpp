// phoenix-netgen secondary-config: what each secondary's configuration contains (not its bytes:
// tests/integration/test_secondary_config.py has the servers' own checkers accept it).
#include <gtest/gtest.h>

#include "netgen_test_util.hpp"

using namespace phoenix::netgen;
using namespace phoenix::netgen::testing;

namespace {

constexpr const char* kSecret = "ypiLzrz0E9kwNXG5prjzk76f2lTc9EatxYlvYCPI7vE=";

void with_transfers(TempInventory::Files& f) {
  auto& dns = f["phoenix_hypervisor_config.json"]["dns_server"];
  dns["tsig_keys"] = {{"internal-xfr", {{"algorithm", "hmac-sha256"}, {"secret", kSecret}}},
                      {"other", {{"algorithm", "hmac-sha1"}, {"secret", "c2VjcmV0"}}}};
  dns["views"][0]["match_keys"] = {"internal-xfr"};
  dns["views"][0]["transfer"] = {{"allow", {"key:internal-xfr"}},
                                 {"notify", {{{"address", "127.0.0.1:5300"}, {"key", "internal-xfr"}}}}};
  dns["views"][0]["catalog"] = "catalog.internal.invalid";
}

CommandResult secondary(const TempInventory& inv, const std::string& view, const std::string& server,
                        const std::string& primary = "192.0.2.53:5353", const std::string& key = "") {
  Options o;
  o.command = "secondary-config";
  o.inventory = inv.dir();
  o.secondary_view = view;
  o.secondary_server = server;
  o.secondary_primary = primary;
  o.secondary_key = key;
  return run_command(o);
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

size_t occurrences(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

bool noted(const CommandResult& r, const std::string& part) {
  for (auto& m : r.messages)
    if (has(m, part)) return true;
  return false;
}

}  // namespace

TEST(SecondaryConfig, KnotFollowsTheCatalogWithTheViewsKeyPrimaryAndNotifyAcl) {
  TempInventory inv(with_transfers);
  auto r = secondary(inv, "internal", "knot");
  ASSERT_EQ(r.exit_code, 0);
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_EQ(r.files[0].path, "secondary-internal.knot.conf");
  const auto& t = r.files[0].content;
  EXPECT_TRUE(has(t, "  - id: internal-xfr\n    algorithm: hmac-sha256\n    secret: " + std::string(kSecret))) << t;
  EXPECT_TRUE(has(t, "address: 192.0.2.53@5353")) << t;
  EXPECT_TRUE(has(t, "address: 192.0.2.53\n    key: internal-xfr\n    action: notify")) << t;
  EXPECT_TRUE(has(t, "domain: catalog.internal.invalid")) << t;
  EXPECT_TRUE(has(t, "catalog-role: interpret")) << t;
  // With the catalog, the members are not listed one by one.
  EXPECT_FALSE(has(t, "domain: internal.thinkheads.ai")) << t;
  EXPECT_FALSE(has(t, "other")) << t;  // only the view's key, never every secret
}

TEST(SecondaryConfig, NsdListsEveryZoneSinceItHasNoCatalogsAndSaysSo) {
  TempInventory inv(with_transfers);
  auto r = secondary(inv, "internal", "nsd", "10.0.0.13");
  ASSERT_EQ(r.exit_code, 0);
  const auto& t = r.files[0].content;
  for (const char* z : {"internal.thinkheads.ai", "phoenix.thinkheads.ai", "0.0.10.in-addr.arpa"})
    EXPECT_TRUE(has(t, std::string("name: \"") + z + "\"\n    include-pattern: \"phoenix-internal\"")) << t;
  EXPECT_FALSE(has(t, "catalog.internal.invalid")) << t;
  EXPECT_TRUE(has(t, "request-xfr: 10.0.0.13@53 internal-xfr")) << t;  // port 53 when none is given
  EXPECT_TRUE(has(t, "allow-notify: 10.0.0.13 internal-xfr")) << t;
  EXPECT_TRUE(has(t, "secret: \"" + std::string(kSecret) + "\"")) << t;
  EXPECT_TRUE(noted(r, "NSD cannot consume catalog zones"));
}

TEST(SecondaryConfig, BindConsumesTheCatalogThroughItsOptions) {
  TempInventory inv(with_transfers);
  auto r = secondary(inv, "internal", "bind");
  ASSERT_EQ(r.exit_code, 0);
  const auto& t = r.files[0].content;
  EXPECT_TRUE(has(t, "key \"internal-xfr\" {\n\talgorithm hmac-sha256;\n\tsecret \"" + std::string(kSecret) + "\";")) << t;
  EXPECT_TRUE(has(t, "primaries \"phoenix-internal\" { 192.0.2.53 port 5353 key \"internal-xfr\"; };")) << t;
  EXPECT_TRUE(has(t, "zone \"catalog.internal.invalid\" default-primaries")) << t;
  EXPECT_EQ(occurrences(t, "type secondary;"), 1u) << t;  // the catalog; its members come from it
  EXPECT_TRUE(has(t, "allow-notify { key \"internal-xfr\"; };")) << t;
}

TEST(SecondaryConfig, AViewWithoutCatalogListsItsZonesForEveryServer) {
  TempInventory inv(with_transfers);
  for (const char* server : {"knot", "bind"}) {
    auto r = secondary(inv, "external", server);
    ASSERT_EQ(r.exit_code, 0);
    const auto& t = r.files[0].content;
    EXPECT_TRUE(has(t, "phoenix.thinkheads.ai")) << t;
    EXPECT_FALSE(has(t, "internal.thinkheads.ai")) << t;  // the internal view's zone
    EXPECT_FALSE(has(t, "secret")) << t;                  // the external view names no key
    EXPECT_TRUE(noted(r, "names no TSIG key"));
  }
}

TEST(SecondaryConfig, AnExplicitKeyIsUsedAndOneTheViewDoesNotAllowIsWarnedAbout) {
  TempInventory inv(with_transfers);
  auto r = secondary(inv, "internal", "knot", "127.0.0.1", "Other.");
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_TRUE(has(r.files[0].content, "id: other\n    algorithm: hmac-sha1\n    secret: c2VjcmV0")) << r.files[0].content;
  EXPECT_TRUE(noted(r, "does not allow transfers signed with key other"));
}

TEST(SecondaryConfig, BadRequestsAreUsageErrorsNamingWhatIsWrong) {
  TempInventory inv(with_transfers);
  auto view = secondary(inv, "nosuch", "knot");
  EXPECT_EQ(view.exit_code, 2);
  EXPECT_TRUE(noted(view, "no view \"nosuch\" (views: internal external)"));
  EXPECT_EQ(secondary(inv, "internal", "powerdns").exit_code, 2);
  EXPECT_EQ(secondary(inv, "internal", "knot", "not-an-address").exit_code, 2);
  auto key = secondary(inv, "internal", "knot", "127.0.0.1", "missing");
  EXPECT_EQ(key.exit_code, 2);
  EXPECT_TRUE(noted(key, "no TSIG key \"missing\""));
}
