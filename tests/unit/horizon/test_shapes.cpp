// Every shape the real inventory has had loads: hand-made fixtures in tests/data/shapes, one per shape.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "horizon/loader.hpp"
#include "horizon/plan.hpp"

using namespace phoenix::horizon;
namespace fs = std::filesystem;

namespace {

fs::path shape(const std::string& name) { return fs::path(PHOENIX_SOURCE_DIR) / "tests/data/shapes" / name; }

Inventory load_ok(const std::string& name, Diagnostics* out = nullptr) {
  auto r = load_inventory(shape(name));
  std::string all;
  for (auto& d : r.diagnostics.items()) all += d.format() + "\n";
  EXPECT_FALSE(r.diagnostics.has_errors()) << all;
  if (out) *out = r.diagnostics;
  if (!r.inventory) {
    ADD_FAILURE() << name << " refused:\n" << all;
    return {};
  }
  return std::move(*r.inventory);
}

std::vector<std::string> messages(const Diagnostics& d) {
  std::vector<std::string> out;
  for (auto& i : d.items()) out.push_back(i.format());
  return out;
}

const PublishedService* service(const HorizonPlan& p, const std::string& name) {
  for (auto& s : p.services)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace

TEST(Shapes, DockerStacksAsStringsOrObjects) {
  auto inv = load_ok("stacks-as-objects");
  ASSERT_EQ(inv.guests.size(), 2u);
  const Guest& apps = inv.guests[0];
  ASSERT_EQ(apps.docker_stacks.size(), 2u);
  EXPECT_EQ(apps.docker_stacks[0].name, "shop");
  EXPECT_EQ(apps.docker_stacks[0].environment, "production");
  EXPECT_EQ(apps.docker_stacks[0].where.pointer, "/vms/0/docker_stacks/0");
  EXPECT_EQ(apps.docker_stacks[1].name, "wiki");
  EXPECT_EQ(apps.docker_stacks[1].environment, "");
  EXPECT_TRUE(apps.runs("shop", "production"));
  EXPECT_FALSE(apps.runs("shop", "testing"));
  EXPECT_TRUE(apps.runs("wiki", "production"));
  EXPECT_EQ(inv.stack_environments.at("shop").size(), 3u);

  // The environment picks which routes land on which guest; an environment nobody runs has no backend.
  Diagnostics d;
  auto plan = derive_plan(inv, d);
  ASSERT_FALSE(d.has_errors()) << messages(d).front();
  ASSERT_NE(service(plan, "shop"), nullptr);
  EXPECT_EQ(service(plan, "shop")->backend->to_string(), "10.1.0.60");
  EXPECT_EQ(service(plan, "shop-test")->backend->to_string(), "10.1.0.61");
  EXPECT_FALSE(service(plan, "shop-dev")->backend.has_value());
  EXPECT_EQ(service(plan, "wiki")->backend->to_string(), "10.1.0.60");
}

TEST(Shapes, UnknownStackOrEnvironmentIsNamed) {
  auto tmp = fs::temp_directory_path() / ("shapes-" + std::to_string(::getpid()));
  fs::remove_all(tmp);
  fs::copy(shape("stacks-as-objects"), tmp);
  {
    std::string vm = R"({"vms": [{"vmid": 2002, "name": "staging", "network_config": {"ip": "10.1.0.61/24"},
                         "docker_stacks": [{"name": "shop", "environment": "qa"}, "blog", 7]}]})";
    std::ofstream(tmp / kVmFile) << vm;
  }
  auto bad = load_inventory(tmp);
  fs::remove_all(tmp);
  auto all = messages(bad.diagnostics);
  auto has = [&](const std::string& needle) {
    return std::any_of(all.begin(), all.end(), [&](auto& m) { return m.find(needle) != std::string::npos; });
  };
  EXPECT_TRUE(has("warning: phoenix_vm_configs.json: /vms/0/docker_stacks/0/environment: stack \"shop\" has no "
                  "environment \"qa\" (it has: development, production, testing)"));
  EXPECT_TRUE(has("warning: phoenix_vm_configs.json: /vms/0/docker_stacks/1: vm 2002 (staging) runs stack \"blog\""));
  EXPECT_TRUE(has("error: phoenix_vm_configs.json: /vms/0/docker_stacks/2: invalid value 7"));
}

TEST(Shapes, GlobalFirewallAsABareList) {
  Diagnostics d;
  auto inv = load_ok("firewall-list", &d);
  const Firewall& fw = inv.host.firewall;
  EXPECT_TRUE(fw.present);
  EXPECT_EQ(fw.where.pointer, "/firewall");
  ASSERT_EQ(fw.rules.size(), 2u);
  EXPECT_EQ(fw.rules[0].port, "443");
  EXPECT_EQ(fw.rules[0].where.pointer, "/firewall/0");
  EXPECT_EQ(fw.rules[1].macro, "DNS");
  EXPECT_EQ(fw.policy_in, "DROP");
  EXPECT_EQ(fw.policy_out, "ACCEPT");
  // No "enabled" anywhere: the firewall stays off, and the loader says so rather than guessing.
  EXPECT_FALSE(fw.enabled);
  auto all = messages(d);
  EXPECT_NE(std::find(all.begin(), all.end(),
                      "warning: phoenix_hypervisor_config.json: /firewall: no \"enabled\": cluster.fw is written with "
                      "enable: 0, and no rule applies anywhere"),
            all.end());
}

TEST(Shapes, GlobalFirewallUnderSharedVolumes) {
  auto inv = load_ok("firewall-shared-volumes");
  const Firewall& fw = inv.host.firewall;
  EXPECT_TRUE(fw.enabled);
  EXPECT_EQ(fw.policy_in, "REJECT");
  ASSERT_EQ(fw.rules.size(), 2u);
  EXPECT_EQ(fw.rules[1].port, "53");  // written as "dport"
  EXPECT_EQ(fw.rules[1].where.pointer, "/shared_volumes/firewall/global_firewall_rules/1");
}

TEST(Shapes, GlobalFirewallObjectWithEveryRuleKey) {
  auto inv = load_ok("firewall-object");
  const Firewall& fw = inv.host.firewall;
  EXPECT_FALSE(fw.enabled);
  EXPECT_TRUE(fw.enabled_given);
  EXPECT_EQ(fw.policy_out, "DROP");
  EXPECT_EQ(inv.host.interface_name, "vmbr0");
  ASSERT_EQ(fw.rules.size(), 3u);
  EXPECT_EQ(fw.rules[0].iface, "vmbr0");
  EXPECT_EQ(fw.rules[0].log, "info");
  EXPECT_EQ(fw.rules[1].enable, std::optional<bool>(false));
  EXPECT_EQ(fw.rules[2].sport, "53");
  for (auto& r : fw.rules) EXPECT_TRUE(r.unknown_keys.empty());
}

TEST(Shapes, MissingGuestFilesAreWarningsNamingTheFile) {
  Diagnostics d;
  auto inv = load_ok("no-guest-files", &d);
  EXPECT_TRUE(inv.guests.empty());
  auto all = messages(d);
  EXPECT_NE(std::find(all.begin(), all.end(),
                      "warning: phoenix_lxc_configs.json: no LXC guests: phoenix_lxc_configs.json not found"),
            all.end());
  EXPECT_NE(std::find(all.begin(), all.end(),
                      "warning: phoenix_vm_configs.json: no virtual machines: phoenix_vm_configs.json not found"),
            all.end());
  // The stacks' routes need a gateway guest that is in the missing file: a warning naming it, no error.
  Diagnostics pd;
  auto plan = derive_plan(inv, pd);
  EXPECT_FALSE(pd.has_errors()) << (pd.items().empty() ? "" : pd.items().front().format());
  auto p = messages(pd);
  EXPECT_TRUE(std::any_of(p.begin(), p.end(), [](auto& m) {
    return m.find("phoenix_lxc_configs.json not found") != std::string::npos && m.rfind("warning:", 0) == 0;
  }));
}
