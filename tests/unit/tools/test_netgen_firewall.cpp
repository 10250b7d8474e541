// Firewall model: validation, Proxmox syntax, merging, file placement, and reach's walk through the levels.
#include "firewall.hpp"
#include "netgen_test_util.hpp"
#include "reach.hpp"

namespace phoenix::netgen::testing {
namespace {

using nlohmann::json;

horizon::FirewallRule raw(std::string dir, std::string action, std::string proto, std::string port,
                          std::string source = "", std::string dest = "") {
  horizon::FirewallRule r;
  r.direction = std::move(dir);
  r.action = std::move(action);
  r.proto = std::move(proto);
  r.port = std::move(port);
  r.source = std::move(source);
  r.dest = std::move(dest);
  r.where = {"phoenix_hypervisor_config.json", "/firewall/global_firewall_rules/0"};
  return r;
}

FirewallModel cluster_with(std::vector<horizon::FirewallRule> rules) {
  horizon::Inventory inv;
  inv.host.firewall.present = true;
  inv.host.firewall.enabled = true;
  inv.host.firewall.rules = std::move(rules);
  return build_firewall(inv);
}

std::vector<std::string> codes(const FirewallModel& fw) {
  std::vector<std::string> out;
  for (auto& p : fw.problems) out.push_back(std::string(severity_text(p.severity)) + " " + p.code + " " + p.where.at(0).pointer);
  return out;
}

TEST(NetgenFirewall, ValidRuleInProxmoxSyntax) {
  auto fw = cluster_with({raw("in", "accept", "TCP", "8000", "10.0.0.12")});
  ASSERT_TRUE(fw.problems.empty());
  ASSERT_EQ(fw.cluster.merged.size(), 1u);
  EXPECT_EQ(fw.cluster.merged[0].to_proxmox(), "IN ACCEPT -source 10.0.0.12 -p tcp -dport 8000 -log nolog");
  auto r = raw("out", "DROP", "udp", "53,8000:8010", "", "10.0.0.0/24");
  r.comment = "multi\nline";
  auto fw2 = cluster_with({r});
  EXPECT_EQ(fw2.cluster.merged.at(0).to_proxmox(), "OUT DROP -dest 10.0.0.0/24 -p udp -dport 53,8000:8010 -log nolog # multi line");
}

TEST(NetgenFirewall, EachInvalidFieldIsAnError) {
  auto fw = cluster_with({
      raw("sideways", "ACCEPT", "tcp", "80"),
      raw("in", "ALLOW", "tcp", "80"),
      raw("in", "ACCEPT", "tcpp", ""),
      raw("in", "ACCEPT", "tcp", "0"),
      raw("in", "ACCEPT", "tcp", "70000"),
      raw("in", "ACCEPT", "tcp", "90:80"),
      raw("in", "ACCEPT", "tcp", "80-90"),
      raw("in", "ACCEPT", "icmp", "80"),
      raw("in", "ACCEPT", "", "80"),
      raw("in", "ACCEPT", "tcp", "80", "10.0.0.300"),
      raw("in", "ACCEPT", "tcp", "80", "", "10.0.0.0/33"),
  });
  EXPECT_TRUE(fw.cluster.rules.empty());
  EXPECT_EQ(codes(fw), (std::vector<std::string>{
                           "error invalid-rule /firewall/global_firewall_rules/0/type",
                           "error invalid-rule /firewall/global_firewall_rules/0/action",
                           "error invalid-rule /firewall/global_firewall_rules/0/proto",
                           "error invalid-rule /firewall/global_firewall_rules/0/port",
                           "error invalid-rule /firewall/global_firewall_rules/0/port",
                           "error invalid-rule /firewall/global_firewall_rules/0/port",
                           "error invalid-rule /firewall/global_firewall_rules/0/port",
                           "error invalid-rule /firewall/global_firewall_rules/0/port",
                           "error invalid-rule /firewall/global_firewall_rules/0/port",
                           "error invalid-rule /firewall/global_firewall_rules/0/source",
                           "error invalid-rule /firewall/global_firewall_rules/0/dest",
                       }));
}

TEST(NetgenFirewall, IdenticalRulesMergeWithWarning) {
  auto a = raw("in", "ACCEPT", "tcp", "80", "10.0.0.10");
  a.comment = "first";
  auto b = raw("IN", "accept", "tcp", "80", "10.0.0.10/32");
  b.comment = "second";
  auto fw = cluster_with({a, b, raw("in", "DROP", "tcp", "80", "10.0.0.10")});
  ASSERT_EQ(fw.cluster.merged.size(), 2u);
  EXPECT_EQ(fw.cluster.merged[0].comment, "first");
  ASSERT_EQ(fw.problems.size(), 1u);
  EXPECT_EQ(fw.problems[0].code, "duplicate-rule");
  EXPECT_EQ(fw.problems[0].severity, Severity::warning);
}

TEST(NetgenFirewall, CoversIsSubsetOfTraffic) {
  auto fw = cluster_with({raw("in", "ACCEPT", "tcp", "80,443", "10.0.0.0/24"), raw("in", "ACCEPT", "tcp", "443", "10.0.0.10"),
                          raw("in", "ACCEPT", "", ""), raw("in", "ACCEPT", "tcp", "400:500", "10.0.0.10")});
  const auto& r = fw.cluster.rules;
  EXPECT_TRUE(r[0].covers(r[1]));
  EXPECT_FALSE(r[1].covers(r[0]));
  EXPECT_TRUE(r[2].covers(r[0]));
  EXPECT_FALSE(r[0].covers(r[3]));
  EXPECT_FALSE(r[0].same_match(r[1]));
}

TEST(NetgenFirewall, GuestRulesGoToTheirOwnFileSortedByVmid) {
  auto m = load(example_dir());
  auto files = firewall_files(build_firewall(m.inventory()));
  std::vector<std::string> names;
  for (auto& f : files) names.push_back(f.path);
  EXPECT_EQ(names, (std::vector<std::string>{"cluster.fw", "101.fw", "102.fw", "103.fw", "914.fw", "1001.fw", "1002.fw"}));
  // Guest rules never leak into cluster.fw (the old script's bug).
  EXPECT_EQ(files[0].content.find("10.0.0.111"), std::string::npos);
  EXPECT_NE(files[0].content.find("policy_in: DROP"), std::string::npos);
  EXPECT_NE(files.back().content.find("IN ACCEPT -source 10.0.0.111 -p tcp -dport 9001 -log nolog"), std::string::npos);
}

TEST(NetgenFirewall, PortProtoParsing) {
  uint16_t port = 0;
  std::string proto;
  EXPECT_TRUE(parse_port_proto("9001/tcp", port, proto));
  EXPECT_EQ(port, 9001);
  EXPECT_EQ(proto, "tcp");
  EXPECT_TRUE(parse_port_proto("53/UDP", port, proto));
  EXPECT_EQ(proto, "udp");
  EXPECT_TRUE(parse_port_proto("443", port, proto));
  EXPECT_EQ(proto, "tcp");
  EXPECT_TRUE(parse_port_proto("icmp", port, proto));
  EXPECT_EQ(port, 0);
  EXPECT_FALSE(parse_port_proto("0/tcp", port, proto));
  EXPECT_FALSE(parse_port_proto("70000/tcp", port, proto));
  EXPECT_FALSE(parse_port_proto("80/icmp", port, proto));
  EXPECT_FALSE(parse_port_proto("http", port, proto));
}

// --- reach: one case per level and outcome ---

ReachResult ask(const Model& m, const std::string& src, const std::string& dst, const std::string& pp) {
  std::string why;
  auto s = resolve_party(m, src, why);
  auto d = resolve_party(m, dst, why);
  EXPECT_TRUE(s && d) << why;
  uint16_t port = 0;
  std::string proto;
  EXPECT_TRUE(parse_port_proto(pp, port, proto));
  return reach(m, build_firewall(m.inventory()), *s, *d, proto, port);
}

TEST(NetgenReach, GuestToGuestAllowedNamesBothRules) {
  auto m = load(example_dir());
  auto r = ask(m, "Portainer", "portainer-agent.internal.thinkheads.ai", "9001/tcp");
  EXPECT_TRUE(r.allowed);
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[0].level, "vm 1001 (Portainer) OUT");
  EXPECT_EQ(r.steps[1].where->pointer, "/vms/2/firewall/rules/0");
  EXPECT_NE(r.note.find("ESTABLISHED"), std::string::npos);
}

TEST(NetgenReach, DestinationGuestPolicyDrops) {
  auto m = load(example_dir());
  auto r = ask(m, "10.0.0.12", "10.0.0.102", "9001/tcp");
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.steps.back().verdict, "DROP");
  EXPECT_EQ(r.steps.back().where->pointer, "/vms/2/firewall");
}

TEST(NetgenReach, ReturnDirectionIsANewFlow) {
  // Stateful: replies pass, but the agent may not open connections back to the server.
  auto m = load(example_dir());
  EXPECT_FALSE(ask(m, "10.0.0.102", "10.0.0.111", "9001/tcp").allowed);
}

TEST(NetgenReach, SourceGuestOutRuleDrops) {
  TempInventory inv([](auto& f) {
    f["phoenix_lxc_configs.json"]["lxc_configs"]["914"]["firewall"]["rules"].push_back(
        json{{"type", "out"}, {"action", "REJECT"}, {"dest", "10.0.0.13"}, {"proto", "udp"}, {"port", "53"}});
  });
  auto m = load(inv.dir());
  auto r = ask(m, "ollama-gpu0", "host", "53/udp");
  EXPECT_FALSE(r.allowed);
  ASSERT_EQ(r.steps.size(), 1u);  // never reaches the host
  EXPECT_EQ(r.steps[0].verdict, "REJECT");
  EXPECT_EQ(r.steps[0].where->pointer, "/lxc_configs/914/firewall/rules/1");
}

TEST(NetgenReach, HostLevelRulesAndPolicy) {
  auto m = load(example_dir());
  auto ok = ask(m, "10.0.0.155", "host", "53/udp");
  EXPECT_TRUE(ok.allowed);
  EXPECT_EQ(ok.steps.back().where->pointer, "/firewall/global_firewall_rules/2");
  auto outside = ask(m, "203.0.113.9", "host", "53/udp");
  EXPECT_FALSE(outside.allowed);
  EXPECT_NE(outside.steps.back().reason.find("policy_in DROP"), std::string::npos);
  EXPECT_TRUE(ask(m, "10.0.0.155", "host", "8006/tcp").allowed);  // Proxmox management rule
  EXPECT_FALSE(ask(m, "203.0.113.9", "host", "8006/tcp").allowed);
}

TEST(NetgenReach, DisabledGuestFirewallAndDisabledCluster) {
  TempInventory guest_off([](auto& f) { f["phoenix_vm_configs.json"]["vms"][2]["firewall"]["enabled"] = false; });
  auto m = load(guest_off.dir());
  auto r = ask(m, "10.0.0.12", "10.0.0.102", "9001/tcp");
  EXPECT_TRUE(r.allowed);
  EXPECT_NE(r.steps.back().reason.find("disabled"), std::string::npos);
  TempInventory cluster_off([](auto& f) { f["phoenix_hypervisor_config.json"]["firewall"]["enabled"] = false; });
  auto m2 = load(cluster_off.dir());
  EXPECT_TRUE(ask(m2, "203.0.113.9", "host", "22/tcp").allowed);
}

TEST(NetgenReach, ResolvesPartiesOrExplains) {
  auto m = load(example_dir());
  std::string why;
  EXPECT_FALSE(resolve_party(m, "9000", why));
  EXPECT_NE(why.find("dhcp"), std::string::npos);
  EXPECT_FALSE(resolve_party(m, "no-such-thing", why));
  auto agent = resolve_party(m, "portainer-agent", why);
  ASSERT_TRUE(agent) << why;
  EXPECT_EQ(agent->addr.to_string(), "10.0.0.102");
  auto p = resolve_party(m, "Copy-Cuda12.8", why);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->addr.to_string(), "10.0.0.201");
}

// --- every rule key, in Proxmox's syntax, and what reach makes of it ---

TEST(NetgenFirewall, EveryRuleKeyInProxmoxSyntax) {
  auto r = raw("in", "ACCEPT", "tcp", "22", "10.0.0.0/24");
  r.iface = "vmbr0";
  r.log = "info";
  r.sport = "1024:65535";
  r.comment = "ssh";
  auto fw = cluster_with({r});
  ASSERT_TRUE(fw.problems.empty()) << fw.problems.front().format();
  EXPECT_EQ(fw.cluster.merged.at(0).to_proxmox(),
            "IN ACCEPT -i vmbr0 -source 10.0.0.0/24 -p tcp -dport 22 -sport 1024:65535 -log info # ssh");
  auto m = raw("in", "ACCEPT", "", "", "10.0.0.0/24");
  m.macro = "ssh";  // Proxmox's names are case-insensitive; the file gets its own spelling
  auto off = raw("out", "DROP", "udp", "53");
  off.enable = false;
  auto fw2 = cluster_with({m, off});
  ASSERT_TRUE(fw2.problems.empty()) << fw2.problems.front().format();
  EXPECT_EQ(fw2.cluster.merged.at(0).to_proxmox(), "IN SSH(ACCEPT) -source 10.0.0.0/24 -log nolog");
  EXPECT_EQ(fw2.cluster.merged.at(1).to_proxmox(), "|OUT DROP -p udp -dport 53 -log nolog");
}

TEST(NetgenFirewall, UnknownKeysMacrosAndBadValuesAreErrors) {
  auto unknown = raw("in", "ACCEPT", "tcp", "80");
  unknown.unknown_keys = {"icmp_type"};
  auto macro = raw("in", "ACCEPT", "", "");
  macro.macro = "Gopher";
  auto clash = raw("in", "ACCEPT", "tcp", "2222");
  clash.macro = "SSH";
  auto log = raw("in", "ACCEPT", "tcp", "80");
  log.log = "loud";
  auto fw = cluster_with({unknown, macro, clash, log});
  EXPECT_TRUE(fw.cluster.rules.empty());
  EXPECT_EQ(codes(fw), (std::vector<std::string>{
                           "error invalid-rule /firewall/global_firewall_rules/0/icmp_type",
                           "error invalid-rule /firewall/global_firewall_rules/0/macro",
                           "error invalid-rule /firewall/global_firewall_rules/0/port",
                           "error invalid-rule /firewall/global_firewall_rules/0/log",
                       }));
  // A guest's rules name the guest's own NIC: "vmbr0" there is the host's bridge, not an interface of it.
  TempInventory inv([](auto& f) {
    f["phoenix_lxc_configs.json"]["lxc_configs"]["103"]["firewall"]["rules"][0]["iface"] = "vmbr0";
    f["phoenix_lxc_configs.json"]["lxc_configs"]["103"]["firewall"]["policy"] = "ACCEPT";
  });
  auto m = load(inv.dir());
  auto gfw = build_firewall(m.inventory());
  EXPECT_EQ(codes(gfw), (std::vector<std::string>{"warning duplicate-rule /lxc_configs/101/firewall/rules/1",
                                                  "error invalid-rule /lxc_configs/103/firewall/policy",
                                                  "error invalid-rule /lxc_configs/103/firewall/rules/0/iface"}));
  auto r = run("firewall", inv.dir());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.files.empty());
}

TEST(NetgenReach, IfaceDisabledAndMacroRulesAsProxmoxAppliesThem) {
  TempInventory inv([](auto& f) {
    auto& rules = f["phoenix_lxc_configs.json"]["lxc_configs"]["103"]["firewall"]["rules"];
    rules[0]["iface"] = "net1";  // Traefik -> Step-CA 9000, but on an interface the guest does not have
    rules.push_back({{"type", "in"}, {"action", "ACCEPT"}, {"source", "10.0.0.12"}, {"proto", "tcp"},
                     {"port", "9001"}, {"enable", false}});
    rules.push_back({{"type", "in"}, {"action", "ACCEPT"}, {"source", "10.0.0.0/24"}, {"macro", "SSH"}});
    rules.push_back({{"type", "in"}, {"action", "ACCEPT"}, {"source", "10.0.0.12"}, {"macro", "DNS"}, {"iface", "net0"}});
  });
  auto m = load(inv.dir());
  EXPECT_FALSE(ask(m, "Traefik-Internal", "Step-CA", "9000/tcp").allowed);
  auto disabled = ask(m, "Traefik-Internal", "Step-CA", "9001/tcp");
  EXPECT_FALSE(disabled.allowed);
  EXPECT_NE(disabled.steps.back().reason.find("no rule matched"), std::string::npos) << disabled.format();
  auto ssh = ask(m, "Traefik-Internal", "Step-CA", "22/tcp");
  EXPECT_TRUE(ssh.allowed);
  EXPECT_NE(ssh.steps.back().reason.find("by rule 2 \"IN SSH(ACCEPT) -source 10.0.0.0/24 -log nolog\""),
            std::string::npos)
      << ssh.format();
  EXPECT_FALSE(ask(m, "Traefik-Internal", "Step-CA", "23/tcp").allowed);
  EXPECT_TRUE(ask(m, "Traefik-Internal", "Step-CA", "53/udp").allowed);
  EXPECT_TRUE(ask(m, "Traefik-Internal", "Step-CA", "53/tcp").allowed);
  EXPECT_FALSE(ask(m, "Traefik-Internal", "Step-CA", "53/sctp").allowed);
}

TEST(NetgenReach, HostIfaceRuleMatchesOnlyTheHostInterface) {
  TempInventory on_bridge([](auto& f) {
    auto& rules = f["phoenix_hypervisor_config.json"]["firewall"]["global_firewall_rules"];
    rules[2]["iface"] = "vmbr0";  // DNS over UDP from the guests, on the host's bridge
  });
  EXPECT_TRUE(ask(load(on_bridge.dir()), "Step-CA", "host", "53/udp").allowed);
  TempInventory elsewhere([](auto& f) {
    auto& rules = f["phoenix_hypervisor_config.json"]["firewall"]["global_firewall_rules"];
    rules[2]["iface"] = "eno1";
  });
  EXPECT_FALSE(ask(load(elsewhere.dir()), "Step-CA", "host", "53/udp").allowed);
}

}  // namespace
}  // namespace phoenix::netgen::testing
