// The loader's side of zone transfers: TSIG keys (inline and tsig-keygen file), a view's
// match_keys, match_destinations, transfer and catalog, and every error naming file and pointer.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "horizon/loader.hpp"
#include "horizon/plan.hpp"

using namespace phoenix::horizon;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const fs::path kExample = fs::path(PHOENIX_SOURCE_DIR) / "packaging/examples/inventory";
constexpr const char* kHv = "phoenix_hypervisor_config.json";
// 32 bytes, as tsig-keygen makes for hmac-sha256.
constexpr const char* kSecret = "q8bAy2Z4aDcO8vaJDHDp6Ehf5rb9wT1bS1+q0t5K3zA=";

class Scratch {
 public:
  Scratch() {
    dir_ = fs::temp_directory_path() / ("phoenix-xfrcfg-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    for (auto& f : fs::directory_iterator(kExample)) fs::copy(f.path(), dir_ / f.path().filename());
    std::ifstream in(dir_ / kHv);
    doc_ = json::parse(in);
  }
  ~Scratch() { fs::remove_all(dir_); }
  json& dns() { return doc_["dns_server"]; }
  void write_file(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  LoadResult load() {
    std::ofstream(dir_ / kHv) << doc_.dump(1);
    return load_inventory(dir_);
  }

 private:
  fs::path dir_;
  json doc_;
  static inline int counter_ = 0;
};

std::string all(const Diagnostics& d) {
  std::string out;
  for (auto& i : d.items()) out += i.format() + "\n";
  return out;
}

bool has(const Diagnostics& d, const std::string& needle) { return all(d).find(needle) != std::string::npos; }

const ViewSpec* view(const Inventory& inv, const std::string& name) {
  for (auto& v : inv.dns.views)
    if (v.name == name) return &v;
  return nullptr;
}

/// The issue's example: two keys (one from a file), both views with keys, transfer and a catalog.
void full_config(Scratch& s) {
  s.write_file("tsig.keys", std::string("key \"external-xfr\" {\n\talgorithm hmac-sha512;\n\tsecret \"") + kSecret +
                                "\";\n};\n");
  s.dns()["tsig_keys_file"] = "tsig.keys";
  s.dns()["tsig_keys"] = {{"Internal-XFR", {{"algorithm", "hmac-sha256"}, {"secret", kSecret}}}};
  s.dns()["views"] = json::parse(R"([
    {"name": "internal", "match_clients": ["10.0.0.0/24", "127.0.0.1/32", "::1"],
     "match_keys": ["internal-xfr"], "match_destinations": ["127.0.0.1", "10.0.0.13"],
     "transfer": {"allow": ["key:internal-xfr", "10.0.0.20/32"],
                  "notify": [{"address": "10.0.0.20:5300", "key": "internal-xfr"}, {"address": "::1"}]},
     "catalog": "Catalog.Internal.invalid."},
    {"name": "external", "match_clients": ["any"], "match_keys": ["external-xfr"],
     "transfer": {"allow": ["key:external-xfr"], "notify": [{"address": "10.0.0.21", "key": "external-xfr"}]}}])");
}

}  // namespace

TEST(TransferConfig, LoadsKeysViewsAndTransfers) {
  Scratch s;
  full_config(s);
  auto r = s.load();
  ASSERT_TRUE(r.inventory) << all(r.diagnostics);
  const auto& keys = r.inventory->dns.tsig_keys;
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].name, "external-xfr");  // the file is read first
  EXPECT_EQ(keys[0].algorithm, TsigAlgorithm::hmac_sha512);
  EXPECT_EQ(keys[0].where.file, "tsig.keys");
  EXPECT_EQ(keys[1].name, "internal-xfr");  // names compare lower-cased
  EXPECT_EQ(keys[1].algorithm, TsigAlgorithm::hmac_sha256);
  EXPECT_EQ(keys[1].secret.size(), 32u);

  const ViewSpec* in = view(*r.inventory, "internal");
  ASSERT_TRUE(in);
  EXPECT_EQ(in->match_keys, std::vector<std::string>{"internal-xfr"});
  ASSERT_EQ(in->match_destinations.size(), 2u);
  EXPECT_EQ(in->match_destinations[0].to_string(), "127.0.0.1/32");
  ASSERT_EQ(in->transfer.allow.size(), 2u);
  EXPECT_EQ(in->transfer.allow[0].key, "internal-xfr");
  EXPECT_FALSE(in->transfer.allow[0].prefix);
  ASSERT_TRUE(in->transfer.allow[1].prefix);
  EXPECT_EQ(in->transfer.allow[1].prefix->to_string(), "10.0.0.20/32");
  ASSERT_EQ(in->transfer.notify.size(), 2u);
  EXPECT_EQ(in->transfer.notify[0].address.port, 5300);
  EXPECT_EQ(in->transfer.notify[0].key, "internal-xfr");
  EXPECT_EQ(in->transfer.notify[1].address.port, 53);
  EXPECT_EQ(in->transfer.notify[1].key, "");
  EXPECT_EQ(in->catalog, "catalog.internal.invalid");

  const ViewSpec* ex = view(*r.inventory, "external");
  ASSERT_TRUE(ex);
  EXPECT_TRUE(ex->match_destinations.empty());
  EXPECT_FALSE(ex->catalog);
  ASSERT_EQ(ex->transfer.notify.size(), 1u);
  EXPECT_EQ(ex->transfer.notify[0].address.to_string(), "10.0.0.21:53");
}

TEST(TransferConfig, NothingGivenMeansNoKeysAndNoTransfers) {
  Scratch s;
  auto r = s.load();
  ASSERT_TRUE(r.inventory) << all(r.diagnostics);
  EXPECT_TRUE(r.inventory->dns.tsig_keys.empty());
  for (auto& v : r.inventory->dns.views) {
    EXPECT_TRUE(v.match_keys.empty());
    EXPECT_TRUE(v.transfer.allow.empty());
    EXPECT_FALSE(v.catalog);
  }
}

TEST(TransferConfig, AViewSelectedOnlyByKeyNeedsNoClients) {
  Scratch s;
  full_config(s);
  s.dns()["views"].insert(s.dns()["views"].begin(), json::parse(R"({"name": "xfr", "match_keys": ["internal-xfr"]})"));
  auto r = s.load();
  ASSERT_TRUE(r.inventory) << all(r.diagnostics);
  EXPECT_TRUE(view(*r.inventory, "xfr")->match_clients.empty());
}

TEST(TransferConfig, UndefinedKeysAreErrorsWhereverNamed) {
  Scratch s;
  full_config(s);
  auto& v = s.dns()["views"][0];
  v["match_keys"] = {"internal-xfr", "nokey1"};
  v["transfer"]["allow"] = {"key:nokey2"};
  v["transfer"]["notify"] = json::parse(R"([{"address": "10.0.0.20", "key": "nokey3"}])");
  auto r = s.load();
  EXPECT_FALSE(r.inventory);
  const std::string f = std::string(kHv) + ": ";
  EXPECT_TRUE(has(r.diagnostics, f + "/dns_server/views/0/match_keys/1: TSIG key \"nokey1\" is not defined"))
      << all(r.diagnostics);
  EXPECT_TRUE(has(r.diagnostics, f + "/dns_server/views/0/transfer/allow/0: TSIG key \"nokey2\" is not defined"))
      << all(r.diagnostics);
  EXPECT_TRUE(has(r.diagnostics, f + "/dns_server/views/0/transfer/notify/0/key: TSIG key \"nokey3\" is not defined"))
      << all(r.diagnostics);
}

TEST(TransferConfig, BadKeysNameFileAndPointer) {
  Scratch s;
  full_config(s);
  s.dns()["tsig_keys"] = json::parse(R"({"a": {"algorithm": "hmac-sha256", "secret": "not base64!"},
                                          "b": {"algorithm": "hmac-md5", "secret": "AAAA"},
                                          "c": {"algorithm": "hmac-sha1", "secret": "AAAA", "extra": 1}})");
  s.dns()["views"][0]["match_keys"] = json::array();
  s.dns()["views"][0]["transfer"] = json::object();
  auto r = s.load();
  EXPECT_FALSE(r.inventory);
  EXPECT_TRUE(has(r.diagnostics, "/dns_server/tsig_keys/a: TSIG key \"a\": secret is not valid base64")) << all(r.diagnostics);
  EXPECT_TRUE(has(r.diagnostics, "/dns_server/tsig_keys/b: TSIG key \"b\": unknown algorithm \"hmac-md5\""))
      << all(r.diagnostics);
  EXPECT_TRUE(has(r.diagnostics, "/dns_server/tsig_keys/c/extra: unknown TSIG key field")) << all(r.diagnostics);
}

TEST(TransferConfig, UnparsableOrMissingKeyFileIsAnError) {
  {
    Scratch s;
    full_config(s);
    s.write_file("tsig.keys", "key \"external-xfr\" {\n algorithm hmac-sha512;\n secret \"AAAA\"\n");
    auto r = s.load();
    EXPECT_FALSE(r.inventory);
    EXPECT_TRUE(has(r.diagnostics, "tsig.keys: line ")) << all(r.diagnostics);
  }
  {
    Scratch s;
    full_config(s);
    s.dns()["tsig_keys_file"] = "missing.keys";
    auto r = s.load();
    EXPECT_FALSE(r.inventory);
    EXPECT_TRUE(has(r.diagnostics, "/dns_server/tsig_keys_file: cannot read TSIG key file \"missing.keys\""))
        << all(r.diagnostics);
  }
  {
    Scratch s;
    full_config(s);
    s.write_file("dup.keys", std::string("key \"internal-xfr\" { algorithm hmac-sha256; secret \"") + kSecret + "\"; };\n");
    s.dns()["tsig_keys_file"] = "dup.keys";
    auto r = s.load();
    EXPECT_FALSE(r.inventory);
    EXPECT_TRUE(has(r.diagnostics, "duplicate TSIG key \"internal-xfr\"")) << all(r.diagnostics);
  }
}

TEST(TransferConfig, BadTransferEntriesAreErrors) {
  Scratch s;
  full_config(s);
  auto& v = s.dns()["views"][0];
  v["match_destinations"] = {"10.0.0.300"};
  v["transfer"] = json::parse(R"({"allow": ["key:", "10.0.0.0/33", "everyone"],
                                  "notify": [{"address": "secondary.example"}, {"key": "internal-xfr"},
                                             {"address": "10.0.0.20", "port": 53}, "10.0.0.21"],
                                  "also_notify": []})");
  v["catalog"] = "not a zone";
  auto r = s.load();
  EXPECT_FALSE(r.inventory);
  const std::string e = all(r.diagnostics);
  const std::string t = "/dns_server/views/0/transfer";
  EXPECT_TRUE(has(r.diagnostics, "/dns_server/views/0/match_destinations/0: \"10.0.0.300\" is not an address")) << e;
  EXPECT_TRUE(has(r.diagnostics, t + "/allow/0: invalid TSIG key name")) << e;
  EXPECT_TRUE(has(r.diagnostics, t + "/allow/1: \"10.0.0.0/33\" is not an address prefix")) << e;
  EXPECT_TRUE(has(r.diagnostics, t + "/allow/2: \"everyone\" is not an address prefix")) << e;
  EXPECT_TRUE(has(r.diagnostics, t + "/notify/0/address: \"secondary.example\" is not an address")) << e;
  EXPECT_TRUE(has(r.diagnostics, t + "/notify/1: missing required field \"address\"")) << e;
  EXPECT_TRUE(has(r.diagnostics, t + "/notify/2/port: unknown key \"port\"")) << e;
  EXPECT_TRUE(has(r.diagnostics, t + "/notify/3: invalid value")) << e;
  EXPECT_TRUE(has(r.diagnostics, t + "/also_notify: unknown key \"also_notify\"")) << e;
  EXPECT_TRUE(has(r.diagnostics, "/dns_server/views/0/catalog: invalid zone name \"not a zone\"")) << e;
}

TEST(TransferConfig, ThePlanCarriesKeysAndTransfers) {
  Scratch s;
  full_config(s);
  auto r = s.load();
  ASSERT_TRUE(r.inventory) << all(r.diagnostics);
  Diagnostics diag;
  HorizonPlan plan = derive_plan(*r.inventory, diag);
  ASSERT_FALSE(diag.has_errors()) << all(diag);
  EXPECT_EQ(plan.tsig_keys, r.inventory->dns.tsig_keys);
  ASSERT_EQ(plan.views.size(), 2u);
  EXPECT_EQ(plan.views[0].match_keys, std::vector<std::string>{"internal-xfr"});
  EXPECT_EQ(plan.views[0].match_destinations.size(), 2u);
  EXPECT_EQ(plan.views[0].transfer, r.inventory->dns.views[0].transfer);
  EXPECT_EQ(plan.views[0].catalog, "catalog.internal.invalid");
  EXPECT_EQ(plan.views[1].transfer.allow.size(), 1u);
}
