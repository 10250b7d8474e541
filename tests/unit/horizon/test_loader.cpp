#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "horizon/loader.hpp"
#include "horizon/plan.hpp"
#include "temp_inventory.hpp"

using namespace phoenix::horizon;
namespace fs = std::filesystem;

namespace {

const fs::path kExample = test_support::kExampleInventory;

/// A scratch copy of the example inventory whose JSON a test may edit.
struct Scratch : test_support::TempInventory {
  Scratch() : TempInventory("phoenix-unit", true) {}
  const fs::path& dir() const { return path(); }
};

bool has_message(const Diagnostics& d, const std::string& needle) {
  for (auto& i : d.items())
    if (i.format().find(needle) != std::string::npos) return true;
  return false;
}

std::vector<std::string> values(const HorizonPlan& plan, const std::string& view, const std::string& zone,
                                const std::string& owner) {
  std::vector<std::string> out;
  for (auto& v : plan.views)
    if (v.name == view)
      for (auto& z : v.zones)
        if (z.origin == zone)
          for (auto& r : z.records)
            if (r.owner == owner) out.push_back(r.value);
  return out;
}

}  // namespace

TEST(Loader, LoadsTheBundledExample) {
  auto r = load_inventory(kExample);
  ASSERT_TRUE(r.inventory) << (r.diagnostics.items().empty() ? "" : r.diagnostics.items()[0].format());
  const Inventory& inv = *r.inventory;
  EXPECT_EQ(inv.host.domain_name, "internal.thinkheads.ai");
  EXPECT_EQ(inv.host.address.to_string(), "10.0.0.13/24");
  EXPECT_EQ(inv.guests.size(), 8u);
  EXPECT_EQ(inv.stack_routes.size(), 1u);
  EXPECT_EQ(inv.stack_routes[0].host, "qdrant.internal.thinkheads.ai");
  EXPECT_EQ(inv.stack_routes[0].port, 6333);
  EXPECT_TRUE(inv.host.firewall.present);
  EXPECT_EQ(inv.dns.views.size(), 2u);
  EXPECT_EQ(inv.dns.upstreams.size(), 2u);
}

TEST(Loader, MissingDirectoryIsAnError) {
  auto r = load_inventory("/nonexistent/inventory");
  EXPECT_FALSE(r.inventory);
  EXPECT_TRUE(has_message(r.diagnostics, "not a directory"));
}

TEST(Loader, AFifoIsRefusedNotRead) {
  // Opening a FIFO blocks until someone writes to it: a reload would hang instead of failing.
  Scratch s;
  std::filesystem::remove(s.dir() / kLxcFile);
  ASSERT_EQ(::mkfifo((s.dir() / kLxcFile).c_str(), 0600), 0);
  auto r = load_inventory(s.dir());
  EXPECT_FALSE(r.inventory);
  EXPECT_TRUE(has_message(r.diagnostics, "phoenix_lxc_configs.json: cannot read file (not a regular file)"));
}

TEST(Loader, InvalidJsonNamesFileAndLine) {
  Scratch s;
  s.write_raw(kLxcFile, "{\n\"lxc_configs\": {\n  \"101\": [\n");
  auto r = load_inventory(s.dir());
  EXPECT_FALSE(r.inventory);
  EXPECT_TRUE(has_message(r.diagnostics, "phoenix_lxc_configs.json: line"));
  EXPECT_TRUE(has_message(r.diagnostics, "not valid JSON"));
}

TEST(Loader, NumberTooLargeIsAnErrorNotACrash) {
  // Regression (fuzz_inventory, issue 3): nlohmann throws out_of_range, not parse_error, for 1e400.
  Scratch s;
  s.write_raw(kVmFile, "{\"vms\": [{\"vmid\": 1e400}]}");
  auto r = load_inventory(s.dir());
  EXPECT_FALSE(r.inventory);
  EXPECT_TRUE(has_message(r.diagnostics, "phoenix_vm_configs.json: not valid JSON"));
}

TEST(Loader, WrongFieldsNameFileAndPointer) {
  Scratch s;
  auto vms = s.read(kVmFile);
  vms["vms"][2]["network_config"]["ip"] = "10.0.0.300/24";
  vms["vms"][1]["traefik_service"]["port"] = "http";
  s.write(kVmFile, vms);
  auto r = load_inventory(s.dir());
  EXPECT_FALSE(r.inventory);
  EXPECT_TRUE(has_message(r.diagnostics,
                          "phoenix_vm_configs.json: /vms/2/network_config/ip: \"10.0.0.300/24\" is not an IPv4 address/prefix"));
  EXPECT_TRUE(has_message(r.diagnostics, "phoenix_vm_configs.json: /vms/1/traefik_service/port: invalid port"));
  EXPECT_EQ(r.diagnostics.error_count(), 2u);
}

TEST(Loader, FirewallUnderSharedVolumesIsRead) {
  Scratch s;
  auto h = s.read(kHypervisorFile);
  h["shared_volumes"] = {{"firewall", h["firewall"]}};
  h.erase("firewall");
  s.write(kHypervisorFile, h);
  auto r = load_inventory(s.dir());
  ASSERT_TRUE(r.inventory);
  EXPECT_EQ(r.inventory->host.firewall.where.pointer, "/shared_volumes/firewall");
  EXPECT_EQ(r.inventory->host.firewall.rules.size(), 4u);
}

TEST(Plan, DerivesTheContractsNames) {
  auto r = load_inventory(kExample);
  ASSERT_TRUE(r.inventory);
  Diagnostics d;
  auto plan = derive_plan(*r.inventory, d);
  EXPECT_FALSE(d.has_errors());
  EXPECT_EQ(plan.internal_zone, "internal.thinkheads.ai");
  EXPECT_EQ(plan.external_zone, "phoenix.thinkheads.ai");
  EXPECT_EQ(plan.reverse_zone, "0.0.10.in-addr.arpa");
  ASSERT_TRUE(plan.gateway.ip);
  EXPECT_EQ(plan.gateway.ip->to_string(), "10.0.0.153");
  auto in = [&](const std::string& o) { return values(plan, "internal", "internal.thinkheads.ai", o); };
  EXPECT_EQ(in("ollama-gpu0.internal.thinkheads.ai"), std::vector<std::string>{"10.0.0.155"});
  EXPECT_EQ(in("ollama.internal.thinkheads.ai"), std::vector<std::string>{"10.0.0.155"});
  EXPECT_EQ(in("portainer-agent.internal.thinkheads.ai"), std::vector<std::string>{"10.0.0.102"});
  EXPECT_EQ(in("qdrant.internal.thinkheads.ai"), std::vector<std::string>{"10.0.0.153"});
  EXPECT_EQ(in("ns1.internal.thinkheads.ai"), std::vector<std::string>{"10.0.0.13"});
  EXPECT_EQ(in("copy-cuda12-8.internal.thinkheads.ai"), std::vector<std::string>{"10.0.0.201"});
  auto ex = [&](const std::string& o) { return values(plan, "external", "phoenix.thinkheads.ai", o); };
  EXPECT_EQ(ex("ollama.phoenix.thinkheads.ai"), std::vector<std::string>{"10.0.0.153"});
  EXPECT_EQ(ex("qdrant.phoenix.thinkheads.ai"), std::vector<std::string>{"10.0.0.153"});
  EXPECT_TRUE(ex("portainer-agent.phoenix.thinkheads.ai").empty()) << "raw TCP must not be published";
  EXPECT_TRUE(ex("ollama-gpu0.phoenix.thinkheads.ai").empty()) << "no direct guest names outside";
  EXPECT_EQ(values(plan, "internal", "0.0.10.in-addr.arpa", "155.0.0.10.in-addr.arpa"),
            std::vector<std::string>{"ollama-gpu0.internal.thinkheads.ai"});
}

TEST(Plan, ExplicitRecordsWinPerView) {
  Scratch s;
  auto h = s.read(kHypervisorFile);
  h["dns_server"]["authoritative_zones"] = nlohmann::json::array(
      {{{"zone_name", "phoenix.thinkheads.ai"},
        {"records", {{{"hostname", "ollama"}, {"ip_internal", "10.0.0.155"}, {"ip_external", "192.0.2.1"}},
                     {{"hostname", "status"}, {"ip_external", "192.0.2.2"}},
                     {{"hostname", "secret"}, {"ip_internal", "10.0.0.99"}}}}}});
  s.write(kHypervisorFile, h);
  auto r = load_inventory(s.dir());
  ASSERT_TRUE(r.inventory);
  Diagnostics d;
  auto plan = derive_plan(*r.inventory, d);
  ASSERT_FALSE(d.has_errors());
  const std::string z = "phoenix.thinkheads.ai";
  EXPECT_EQ(values(plan, "internal", z, "ollama." + z), std::vector<std::string>{"10.0.0.155"});
  EXPECT_EQ(values(plan, "external", z, "ollama." + z), std::vector<std::string>{"192.0.2.1"});
  EXPECT_EQ(values(plan, "internal", z, "status." + z), std::vector<std::string>{"192.0.2.2"});
  EXPECT_EQ(values(plan, "external", z, "status." + z), std::vector<std::string>{"192.0.2.2"});
  EXPECT_EQ(values(plan, "internal", z, "secret." + z), std::vector<std::string>{"10.0.0.99"});
  EXPECT_TRUE(values(plan, "external", z, "secret." + z).empty());
}

TEST(Plan, ConflictNamesBothSources) {
  Scratch s;
  auto l = s.read(kLxcFile);
  l["lxc_configs"]["915"] = {{"name", "ca"}, {"network_config", {{"ip", "10.0.0.77/24"}}}};
  s.write(kLxcFile, l);
  auto r = load_inventory(s.dir());
  ASSERT_TRUE(r.inventory);
  Diagnostics d;
  derive_plan(*r.inventory, d);
  ASSERT_TRUE(d.has_errors());
  EXPECT_TRUE(has_message(d, "ca.internal.thinkheads.ai conflicts"));
  EXPECT_TRUE(has_message(d, "lxc 915 (ca)"));
  EXPECT_TRUE(has_message(d, "lxc 103 (Step-CA)"));
}

TEST(Plan, GatewayFallsBackToNginxNamedGuest) {
  Scratch s;
  auto l = s.read(kLxcFile);
  l["lxc_configs"]["101"].erase("traefik_service");
  s.write(kLxcFile, l);
  auto r = load_inventory(s.dir());
  ASSERT_TRUE(r.inventory);
  Diagnostics d;
  auto plan = derive_plan(*r.inventory, d);
  ASSERT_TRUE(plan.gateway.ip);
  EXPECT_EQ(plan.gateway.ip->to_string(), "10.0.0.153");
  EXPECT_NE(plan.gateway.reason.find("named nginx"), std::string::npos);
}

TEST(Plan, ExplicitGatewayWins) {
  Scratch s;
  auto h = s.read(kHypervisorFile);
  h["dns_server"]["gateway_ip"] = "10.0.0.250";
  s.write(kHypervisorFile, h);
  auto r = load_inventory(s.dir());
  ASSERT_TRUE(r.inventory);
  Diagnostics d;
  auto plan = derive_plan(*r.inventory, d);
  EXPECT_EQ(plan.gateway.ip->to_string(), "10.0.0.250");
  EXPECT_EQ(values(plan, "external", "phoenix.thinkheads.ai", "ollama.phoenix.thinkheads.ai"),
            std::vector<std::string>{"10.0.0.250"});
}

TEST(Plan, DefaultViewsWhenNoneGiven) {
  Scratch s;
  auto h = s.read(kHypervisorFile);
  h["dns_server"].erase("views");
  s.write(kHypervisorFile, h);
  auto r = load_inventory(s.dir());
  ASSERT_TRUE(r.inventory);
  Diagnostics d;
  auto plan = derive_plan(*r.inventory, d);
  ASSERT_EQ(plan.views.size(), 2u);
  EXPECT_EQ(plan.views[0].name, "internal");
  EXPECT_EQ(plan.views[0].match_clients[0].to_string(), "10.0.0.0/24");
  EXPECT_EQ(plan.views[0].match_clients[1].to_string(), "127.0.0.0/8");
  EXPECT_EQ(plan.views[0].zones.size(), 3u);
  EXPECT_TRUE(plan.views[0].recursion);
  EXPECT_EQ(plan.views[1].zones.size(), 1u);
  EXPECT_FALSE(plan.views[1].recursion);
}

TEST(Plan, ReverseZoneOnOctetBoundary) {
  EXPECT_EQ(reverse_zone_for(*IpPrefix::parse("10.0.0.0/24")), "0.0.10.in-addr.arpa");
  EXPECT_EQ(reverse_zone_for(*IpPrefix::parse("10.20.0.0/16")), "20.10.in-addr.arpa");
  EXPECT_EQ(reverse_zone_for(*IpPrefix::parse("10.20.16.0/20")), "20.10.in-addr.arpa");
}
