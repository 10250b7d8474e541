// Readers of what Proxmox deploys (.fw files, pct.conf/qm.conf guest configs), the conversion of a
// deployed rule into netgen's rule model, unified diffs, and the owned-files writer.
#include <unistd.h>

#include "deployed/deployed_fw.hpp"
#include "deployed/guest_conf.hpp"
#include "deployed/owned.hpp"
#include "deployed/pve_fw.hpp"
#include "deployed/udiff.hpp"
#include "netgen_test_util.hpp"

namespace phoenix::netgen::deployed {
namespace {

std::vector<std::string> problems(const std::vector<FileProblem>& ps) {
  std::vector<std::string> out;
  for (auto& p : ps) out.push_back(p.format());
  return out;
}

TEST(NetgenDeployed, FwFileEverySection) {
  auto f = parse_fw_file(
      "# cluster-wide\n"
      "[OPTIONS]\n"
      "\n"
      "enable: 1\n"
      "policy_in: DROP\n"
      "[ALIASES]\n"
      "traefik 10.0.0.12 # the proxy\n"
      "[IPSET admins] # people\n"
      "10.0.0.0/28\n"
      "!10.0.0.5 # not him\n"
      "[RULES]\n"
      "IN SSH(ACCEPT) -i net0 -source +admins -log info # admin\n"
      "|OUT DROP -dest traefik -p tcp -dport 80,443 -sport 1024:65535\n"
      "GROUP web -i net0\n"
      "[group web] # web servers\n"
      "IN ACCEPT -p tcp -dport 443\n",
      "cluster.fw");
  EXPECT_TRUE(f.problems.empty()) << problems(f.problems).at(0);
  EXPECT_TRUE(f.flag("enable", false));
  EXPECT_EQ(f.option_line("policy_in"), 5u);
  EXPECT_EQ(f.aliases.at("traefik").value, "10.0.0.12");
  ASSERT_EQ(f.ipsets.at("admins").size(), 2u);
  EXPECT_TRUE(f.ipsets.at("admins")[1].negated);
  ASSERT_EQ(f.rules.size(), 3u);
  EXPECT_EQ(f.rules_line, 11u);
  auto& ssh = f.rules[0];
  EXPECT_EQ(ssh.line, 12u);
  EXPECT_EQ(ssh.macro, "SSH");
  EXPECT_EQ(ssh.action, "ACCEPT");
  EXPECT_EQ(ssh.iface, "net0");
  EXPECT_EQ(ssh.comment, "admin");
  EXPECT_EQ(ssh.text(), "IN SSH(ACCEPT) -i net0 -source +admins -log info # admin");
  EXPECT_FALSE(f.rules[1].enabled);
  EXPECT_EQ(f.rules[1].sport, "1024:65535");
  EXPECT_EQ(f.rules[2].type, "GROUP");
  EXPECT_EQ(f.groups.at("web").size(), 1u);
}

TEST(NetgenDeployed, SameMeaningSameKey) {
  auto a = parse_fw_file("[RULES]\nIN ACCEPT -source 10.0.0.12/32 -p TCP -dport 80 -log nolog # x\n", "a");
  auto b = parse_fw_file("[RULES]\nin accept -source 10.0.0.12 -p tcp -dport 80 # y\n", "b");
  ASSERT_EQ(a.rules.size(), 1u);
  ASSERT_EQ(b.rules.size(), 1u);
  EXPECT_EQ(a.rules[0].key(), b.rules[0].key());
  auto c = parse_fw_file("[RULES]\nIN ACCEPT -source 10.0.0.12 -p tcp -dport 80 -log info\n", "c");
  EXPECT_NE(a.rules[0].key(), c.rules[0].key());
}

TEST(NetgenDeployed, FwFileProblemsNameFileAndLine) {
  auto f = parse_fw_file(
      "IN ACCEPT\n"
      "[RULES]\n"
      "IN ALLOW -p tcp\n"
      "IN ACCEPT -p tcp -dport\n"
      "IN ACCEPT -frob 1\n"
      "SIDEWAYS ACCEPT\n"
      "IN ACCEPT -log loud\n"
      "[NONSENSE]\n"
      "[OPTIONS]\n"
      "enable 1\n",
      "firewall/102.fw");
  EXPECT_TRUE(f.rules.empty());
  EXPECT_EQ(problems(f.problems), (std::vector<std::string>{
                                      "firewall/102.fw:1: \"IN ACCEPT\" outside of any [SECTION]",
                                      "firewall/102.fw:3: action \"ALLOW\" is not ACCEPT, DROP or REJECT",
                                      "firewall/102.fw:4: option \"-dport\" has no value",
                                      "firewall/102.fw:5: unknown rule option \"-frob\"",
                                      "firewall/102.fw:6: rule type \"SIDEWAYS\" is not IN, OUT, FORWARD or GROUP",
                                      "firewall/102.fw:7: log level \"loud\" is not one of emerg, alert, crit, err, "
                                      "warning, notice, info, debug, nolog",
                                      "firewall/102.fw:8: unknown section \"[NONSENSE]\"",
                                      "firewall/102.fw:10: \"enable 1\" is not an option line (key: value)",
                                  }));
}

TEST(NetgenDeployed, LxcConfigSnapshotDoesNotOverride) {
  auto g = parse_guest_conf(
      "#description\n"
      "hostname: web\n"
      "net0: name=eth0,bridge=vmbr0,firewall=1,gw=10.0.0.1,hwaddr=BC:24:11:00:00:01,ip=10.0.0.12/24,type=veth\n"
      "net1: name=eth1,bridge=vmbr1,ip=dhcp\n"
      "\n"
      "[snap1]\n"
      "hostname: old\n"
      "net0: name=eth0,bridge=vmbr0,firewall=0,ip=10.0.0.99/24\n",
      "lxc/101.conf", GuestConf::Kind::lxc, 101);
  EXPECT_TRUE(g.problems.empty());
  EXPECT_EQ(g.name, "web");
  ASSERT_EQ(g.nics.size(), 2u);
  EXPECT_EQ(g.nics[0].ip, "10.0.0.12/24");
  EXPECT_EQ(g.nics[0].line, 3u);
  EXPECT_EQ(g.nics[0].firewall, true);
  EXPECT_EQ(g.nics[0].ifname, "eth0");
  EXPECT_FALSE(g.nics[1].firewall.has_value());
  EXPECT_EQ(g.nic_for("10.0.0.12")->index, 0u);
}

TEST(NetgenDeployed, LxcRawKeysMayRepeat) {
  auto g = parse_guest_conf(
      "hostname: gpu\n"
      "net0: name=eth0,bridge=vmbr0,firewall=1,ip=10.0.0.155/24\n"
      "lxc.cgroup2.devices.allow: c 195:* rwm\n"
      "lxc.cgroup2.devices.allow: c 509:* rwm\n"
      "lxc.mount.entry: /dev/nvidia0 dev/nvidia0 none bind,optional,create=file\n"
      "lxc.mount.entry: /dev/nvidiactl dev/nvidiactl none bind,optional,create=file\n"
      "lxc.idmap: u 0 100000 1005\n"
      "lxc.idmap: u 1005 1005 1\n"
      "hostname: again\n",
      "lxc/914.conf", GuestConf::Kind::lxc, 914);
  EXPECT_EQ(problems(g.problems), (std::vector<std::string>{"lxc/914.conf:9: \"hostname\" set twice (line 1 and here)"}));
  EXPECT_EQ(g.name, "gpu");
  ASSERT_NE(g.nic(0), nullptr);
  EXPECT_EQ(g.nic(0)->firewall, true);
}

TEST(NetgenDeployed, QemuConfigFoldsIpconfigIntoTheNic) {
  auto g = parse_guest_conf(
      "name: portainer\n"
      "net0: virtio=BC:24:11:7E:10:01,bridge=vmbr0,firewall=1\n"
      "ipconfig0: ip=10.0.0.111/24,gw=10.0.0.1\n"
      "ipconfig3: ip=10.0.0.9/24\n"
      "net0: virtio=BC:24:11:7E:10:02\n"
      "net1: e1000=BC:24:11:7E:10:03,bridge=vmbr0,firewall=2\n",
      "qemu-server/1001.conf", GuestConf::Kind::qemu, 1001);
  ASSERT_NE(g.nic(0), nullptr);
  EXPECT_EQ(g.nic(0)->mac, "BC:24:11:7E:10:01");
  EXPECT_EQ(g.nic(0)->ip, "10.0.0.111/24");
  EXPECT_EQ(g.nic(0)->ip_line, 3u);
  EXPECT_EQ(problems(g.problems), (std::vector<std::string>{
                                      "qemu-server/1001.conf:5: \"net0\" set twice (line 2 and here)",
                                      "qemu-server/1001.conf:6: net1: firewall=2 is not 0 or 1",
                                      "qemu-server/1001.conf:4: ipconfig3 without net3",
                                  }));
}

// Ports as pve-firewall's macro table has them; an entry's source port or ICMP type is kept.
TEST(NetgenDeployed, MacrosMeanWhatProxmoxLoads) {
  auto f = parse_fw_file(
      "[RULES]\nIN DCC(ACCEPT)\nIN VNC(ACCEPT)\nIN Ping(ACCEPT)\nIN SMB(ACCEPT)\nIN DHCPfwd(ACCEPT)\n", "firewall/102.fw");
  ASSERT_EQ(f.rules.size(), 5u);
  EXPECT_EQ(canonical_rule(f.rules[0], &f, nullptr).key(), parse_fw_file("[RULES]\nIN ACCEPT -p tcp -dport 6277\n", "g").rules[0].key());
  EXPECT_EQ(canonical_rule(f.rules[2], &f, nullptr).key(),
            parse_fw_file("[RULES]\nIN ACCEPT -p icmp -icmp-type echo-request\n", "g").rules[0].key());
  EXPECT_NE(canonical_rule(f.rules[2], &f, nullptr).key(), parse_fw_file("[RULES]\nIN ACCEPT -p icmp\n", "g").rules[0].key());
  EXPECT_EQ(canonical_rule(f.rules[4], &f, nullptr).key(),
            parse_fw_file("[RULES]\nIN ACCEPT -p udp -dport 67:68 -sport 67:68\n", "g").rules[0].key());
  std::vector<FileProblem> ps;
  auto dcc = to_model_rules(f.rules[0], {&f, nullptr, "net0", 1}, ps);
  ASSERT_EQ(dcc.size(), 1u);
  ASSERT_EQ(dcc[0].dports.size(), 1u);
  EXPECT_EQ(dcc[0].dports[0].lo, 6277);
  auto vnc = to_model_rules(f.rules[1], {&f, nullptr, "net0", 2}, ps);
  ASSERT_EQ(vnc.size(), 1u);
  EXPECT_EQ(vnc[0].dports[0].hi, 5999);
  EXPECT_TRUE(ps.empty());
  // SMB's "udp 1024:65535 from port 137" cannot be modelled: the rule is left out, with a reason.
  EXPECT_TRUE(to_model_rules(f.rules[3], {&f, nullptr, "net0", 4}, ps).empty());
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_NE(ps[0].message.find("macro SMB has an entry with a source port"), std::string::npos) << ps[0].message;
}

TEST(NetgenDeployed, ConversionToModelRules) {
  auto cluster = parse_fw_file(
      "[ALIASES]\ntraefik 10.0.0.12\n[IPSET dns]\n10.0.0.13\n10.0.0.14\n[group web]\nIN HTTPS(ACCEPT)\n", "cluster.fw");
  auto f = parse_fw_file(
      "[RULES]\n"
      "IN DNS(ACCEPT) -source traefik\n"
      "|IN ACCEPT -p tcp -dport 22\n"
      "IN ACCEPT -i net1 -p tcp -dport 23\n"
      "OUT REJECT -dest +dns -p udp -dport 53:54\n"
      "GROUP web -i net0\n"
      "IN ACCEPT -p tcp -sport 1000\n"
      "IN ACCEPT -source nowhere\n"
      "IN Bogus(ACCEPT)\n",
      "firewall/102.fw");
  std::vector<FileProblem> ps;
  std::vector<Rule> all;
  for (size_t i = 0; i < f.rules.size(); ++i) {
    auto rs = to_model_rules(f.rules[i], {&f, &cluster, "net0", i + 1}, ps);
    all.insert(all.end(), rs.begin(), rs.end());
  }
  std::vector<std::string> text;
  for (auto& r : all) text.push_back(r.to_proxmox() + " @" + r.where.pointer);
  EXPECT_EQ(text, (std::vector<std::string>{
                      "IN ACCEPT -source 10.0.0.12 -p udp -dport 53 -log nolog @line 2",
                      "IN ACCEPT -source 10.0.0.12 -p tcp -dport 53 -log nolog @line 2",
                      "OUT REJECT -dest 10.0.0.13,10.0.0.14 -p udp -dport 53:54 -log nolog @line 5",
                      "IN ACCEPT -p tcp -dport 443 -log nolog @line 7",
                  }));
  EXPECT_EQ(problems(ps).size(), 3u);
  EXPECT_NE(problems(ps)[0].find("firewall/102.fw:7: -sport"), std::string::npos);
  EXPECT_NE(problems(ps)[1].find("firewall/102.fw:8: \"nowhere\""), std::string::npos);
  EXPECT_NE(problems(ps)[2].find("firewall/102.fw:9: macro \"Bogus\""), std::string::npos);
}

TEST(NetgenDeployed, UnifiedDiffHunks) {
  EXPECT_EQ(unified_diff("a\nb\n", "a\nb\n", "x", "y"), "");
  EXPECT_EQ(unified_diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nFIVE\n6\n7\n8\n9\n", "old", "new"),
            "--- old\n+++ new\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+FIVE\n 6\n 7\n 8\n");
  EXPECT_EQ(unified_diff("", "a\n", "/dev/null", "new"), "--- /dev/null\n+++ new\n@@ -0,0 +1,1 @@\n+a\n");
}

}  // namespace
}  // namespace phoenix::netgen::deployed

namespace phoenix::netgen::deployed {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path dir = fs::temp_directory_path() / ("netgen-owned-" + std::to_string(::getpid()) + "-" +
                                              std::to_string(reinterpret_cast<uintptr_t>(this)));
  TempDir() { fs::create_directories(dir); }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

TEST(NetgenOwned, AtomicWriteKeepsModeAndLeavesNoTemporaryFile) {
  TempDir t;
  auto p = t.dir / "102.fw";
  std::string err;
  ASSERT_TRUE(atomic_write(p, "one\n", err)) << err;
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_TRUE(atomic_write(p, "two\n", err)) << err;
  EXPECT_EQ(netgen::testing::read_text(p), "two\n");
  EXPECT_EQ(fs::status(p).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(std::distance(fs::directory_iterator(t.dir), fs::directory_iterator()), 1);
  EXPECT_FALSE(atomic_write(t.dir / "missing-dir" / "x", "x", err));
  EXPECT_NE(err.find("cannot create"), std::string::npos);
}

TEST(NetgenOwned, PlanOwnsOnlyWhatItWrote) {
  TempDir t;
  std::vector<std::string> progress;
  std::string err;
  auto first = plan_changes({{t.dir, "firewall", {{"cluster.fw", "c\n"}, {"914.fw", "g\n"}}}});
  ASSERT_TRUE(first.errors.empty());
  ASSERT_TRUE(execute(first, progress, err)) << err;
  std::ofstream(t.dir / "950.fw") << "foreign\n";
  std::ofstream(t.dir / "cluster.fw") << "edited\n";
  auto second = plan_changes({{t.dir, "firewall", {{"cluster.fw", "c\n"}, {"950.fw", "mine now\n"}}}});
  ASSERT_EQ(second.changes.size(), 3u);
  EXPECT_EQ(second.changes[0].kind, Change::Kind::update);
  EXPECT_TRUE(second.changes[0].edited);
  EXPECT_FALSE(second.changes[0].foreign);
  EXPECT_EQ(second.changes[1].kind, Change::Kind::update);
  EXPECT_TRUE(second.changes[1].foreign);
  EXPECT_EQ(second.changes[2].kind, Change::Kind::remove);
  EXPECT_EQ(second.changes[2].path, t.dir / "914.fw");
  // Another command's files in the same directory are not its to remove.
  auto other = plan_changes({{t.dir, "traefik", {{"traefik-dynamic.yml", "y\n"}}}});
  ASSERT_EQ(other.changes.size(), 1u);
  EXPECT_EQ(other.changes[0].kind, Change::Kind::create);
}

TEST(NetgenOwned, ManifestCannotNameFilesOutsideItsDirectory) {
  TempDir t;
  fs::create_directories(t.dir / "firewall");
  std::ofstream(t.dir / "victim.conf") << "not netgen's\n";
  for (const std::string& bad : std::vector<std::string>{"../victim.conf", (t.dir / "victim.conf").string(), "sub/../../victim.conf"}) {
    std::ofstream(t.dir / "firewall" / kManifestName)
        << Manifest::file_text({{"firewall", "cluster.fw", ""}, {"firewall", bad, ""}});
    auto plan = plan_changes({{t.dir / "firewall", "firewall", {{"cluster.fw", "c\n"}}}});
    ASSERT_EQ(plan.errors.size(), 1u) << bad;
    EXPECT_NE(plan.errors[0].find("not a relative path inside this directory"), std::string::npos) << plan.errors[0];
    for (auto& c : plan.changes) EXPECT_NE(c.kind, Change::Kind::remove) << c.path;
  }
  EXPECT_EQ(netgen::testing::read_text(t.dir / "victim.conf"), "not netgen's\n");
  // Subdirectories (zones: <view>/<zone>.zone) stay allowed.
  std::ofstream(t.dir / "firewall" / kManifestName) << Manifest::file_text({{"zones", "internal/a.zone", ""}});
  std::string err;
  EXPECT_EQ(load_manifest(t.dir / "firewall", err).entries.size(), 1u);
  EXPECT_TRUE(err.empty()) << err;
}

TEST(NetgenOwned, RollbackRestoresOnlyFromInsideItsSet) {
  TempDir t;
  fs::create_directories(t.dir / "set" / "files");
  std::ofstream(t.dir / "secret") << "not a backup\n";
  std::ofstream(t.dir / "set" / "files" / "1") << "old\n";
  auto target = (t.dir / "102.fw").string();
  std::ofstream(target) << "current\n";
  std::vector<std::string> progress;
  std::string err;
  for (auto [path, saved] : std::vector<std::pair<std::string, std::string>>{
           {target, "files/../../secret"}, {target, (t.dir / "secret").string()}, {"102.fw", "files/1"}}) {
    nlohmann::json j = {{"files", {{{"path", path}, {"existed", true}, {"saved", saved}}}}};
    std::ofstream(t.dir / "set" / "backup.json") << j.dump();
    err.clear();
    EXPECT_FALSE(restore_backup(t.dir / "set", progress, err)) << saved;
    EXPECT_NE(err.find("nothing restored"), std::string::npos) << err;
    EXPECT_EQ(netgen::testing::read_text(target), "current\n");
  }
  nlohmann::json ok = {{"files", {{{"path", target}, {"existed", true}, {"saved", "files/1"}}}}};
  std::ofstream(t.dir / "set" / "backup.json") << ok.dump();
  EXPECT_TRUE(restore_backup(t.dir / "set", progress, err)) << err;
  EXPECT_EQ(netgen::testing::read_text(target), "old\n");
}

}  // namespace
}  // namespace phoenix::netgen::deployed
