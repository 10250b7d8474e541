// check's findings on hand-made inventories: tests/data/checks/clean has none, and each other folder
// replaces one file of it with the one mistake its name says.
#include "check.hpp"
#include "netgen_test_util.hpp"
#include "reach.hpp"

#include <set>

namespace phoenix::netgen::testing {
namespace {

namespace fs = std::filesystem;

fs::path checks_dir() { return fs::path(PHOENIX_SOURCE_DIR) / "tests" / "data" / "checks"; }

/// The clean inventory with the files of `overlay` laid over it, in a temporary directory.
class Overlay {
 public:
  explicit Overlay(const std::string& overlay) {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("netgen-checks-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(dir_);
    for (auto& e : fs::directory_iterator(checks_dir() / "clean")) fs::copy_file(e.path(), dir_ / e.path().filename());
    if (!overlay.empty())
      for (auto& e : fs::directory_iterator(checks_dir() / overlay))
        fs::copy_file(e.path(), dir_ / e.path().filename(), fs::copy_options::overwrite_existing);
  }
  ~Overlay() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
};

std::vector<Finding> findings(const fs::path& dir) {
  auto m = load(dir);
  return check_inventory(m, build_firewall(m.inventory()));
}

struct Case {
  const char* overlay;
  const char* code;
  Severity severity;
  const char* text;  ///< a piece of the message
};

class CheckFixture : public ::testing::TestWithParam<Case> {};

TEST(NetgenChecks, CleanInventoryHasNoFinding) {
  Overlay clean("");
  auto f = findings(clean.dir());
  std::string all;
  for (auto& x : f) all += x.format() + "\n";
  EXPECT_TRUE(f.empty()) << all;
}

TEST_P(CheckFixture, FindsItsMistake) {
  const Case& c = GetParam();
  Overlay inv(c.overlay);
  auto f = findings(inv.dir());
  std::string all;
  bool found = false;
  for (auto& x : f) {
    all += x.format() + "\n";
    if (x.code == c.code && x.severity == c.severity && x.message.find(c.text) != std::string::npos) found = true;
  }
  EXPECT_TRUE(found) << c.code << " \"" << c.text << "\" not among:\n" << all;
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, CheckFixture,
    ::testing::Values(
        Case{"traefik-service-on-tcp", "traefik-service-on-tcp", Severity::warning,
             "traefik_service agent of vm 2002 (agent) is raw TCP (port 9001)"},
        Case{"agent-unreachable", "route-dropped", Severity::error,
             "Portainer server -> agent vm 2002 (agent): vm 2001 (portainer) 10.1.0.70 -> vm 2002 (agent) 10.1.0.71:9001/tcp"},
        Case{"dns-unreachable", "dns-unreachable", Severity::error, "10.1.0.60 -> host 10.1.0.2:53/udp"},
        Case{"dns-unreachable", "dns-unreachable", Severity::error, "10.1.0.60 -> host 10.1.0.2:53/tcp"},
        Case{"nfs-unreachable", "nfs-unreachable", Severity::error, "10.1.0.70 -> host 10.1.0.2:111/tcp"},
        Case{"host-resolver", "host-resolver", Severity::error, "the host resolves through lxc 101 (nginx-gw) 10.1.0.50, a guest"},
        Case{"internal-name-dropped", "internal-name-dropped", Severity::warning,
             "view internal resolves wiki.internal.example.net to 10.1.0.60 directly: 10.1.0.1 -> lxc 110 (wiki)"},
        Case{"gateway-unreachable", "gateway-unreachable", Severity::error,
             "view external sends clients to the gateway 10.1.0.50, but 203.0.113.1 cannot reach it"}),
    [](const ::testing::TestParamInfo<Case>& p) {
      std::string n = std::string(p.param.overlay) + "_" + std::to_string(p.index);
      for (auto& ch : n)
        if (ch == '-') ch = '_';
      return n;
    });

TEST(NetgenChecks, ReachSaysWhenAnAddressIsNotOfTheInventory) {
  Overlay clean("");
  auto r = run("reach", clean.dir(), {"10.1.0.101", "wiki", "3000"});
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_EQ(r.exit_code, 0);  // 10.1.0.0/24 may reach the wiki
  EXPECT_NE(r.files[0].content.find("note: 10.1.0.101 is not an address of the inventory"), std::string::npos)
      << r.files[0].content;
  auto known = run("reach", clean.dir(), {"10.1.0.70", "wiki", "3000"});
  EXPECT_EQ(known.files.at(0).content.find("not an address of the inventory"), std::string::npos);
}

}  // namespace
}  // namespace phoenix::netgen::testing

namespace phoenix::netgen::testing {
namespace {

TEST(NetgenCli, ReachAndViewResolveNamesAlike) {
  auto m = load(example_dir());
  std::string why;
  // "traefik" is the proxy the model found (Traefik-Internal), "portainer" the service of vm 1001.
  auto t = resolve_target(m, "traefik", why);
  ASSERT_TRUE(t) << why;
  EXPECT_EQ(t->addr.to_string(), "10.0.0.12");
  EXPECT_EQ(t->fqdn, "traefik-internal.internal.thinkheads.ai");
  auto p = resolve_target(m, "portainer", why);
  ASSERT_TRUE(p) << why;
  EXPECT_EQ(p->addr.to_string(), "10.0.0.111");
  EXPECT_EQ(resolve_target(m, "1001", why)->addr.to_string(), "10.0.0.111");
  EXPECT_EQ(resolve_target(m, "ollama", why)->fqdn, "ollama.internal.thinkheads.ai");
  auto r = run("reach", example_dir(), {"traefik", "portainer", "9443"});
  ASSERT_EQ(r.files.size(), 1u);
  EXPECT_EQ(r.files[0].content.rfind("ALLOW 10.0.0.12 -> 10.0.0.111:9443/tcp", 0), 0u) << r.files[0].content;
  // view takes the same words: a guest as the client, a service name as the question.
  auto v = run("view", example_dir(), {"Traefik-Internal", "ollama"});
  ASSERT_EQ(v.files.size(), 1u) << (v.messages.empty() ? "" : v.messages.back());
  EXPECT_NE(v.files[0].content.find("ollama.internal.thinkheads.ai.\t300\tIN\tA\t10.0.0.155"), std::string::npos)
      << v.files[0].content;
}

int cli(std::vector<std::string> args, std::string& out, std::string& err) {
  std::vector<char*> argv{const_cast<char*>("phoenix-netgen")};
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream o, e;
  int rc = run_cli(static_cast<int>(argv.size()), argv.data(), o, e);
  out = o.str();
  err = e.str();
  return rc;
}

TEST(NetgenCli, VersionUnknownCommandAndWarningsOnce) {
  std::string out, err;
  EXPECT_EQ(cli({"--version"}, out, err), 0);
  EXPECT_EQ(out.rfind("phoenix-netgen ", 0), 0u) << out;
  EXPECT_EQ(cli({"frobnicate", "--inventory", example_dir().string()}, out, err), 2);
  EXPECT_NE(err.find("unknown command \"frobnicate\""), std::string::npos) << err;
  EXPECT_NE(err.find(" dnsmasq-diff secondary-config)"), std::string::npos) << "every command listed: " << err;
  // zones loads the inventory and builds the server's snapshot: each warning still comes once.
  EXPECT_EQ(cli({"zones", "--inventory", example_dir().string()}, out, err), 0) << err;
  std::istringstream lines(err);
  std::set<std::string> seen;
  for (std::string line; std::getline(lines, line);) EXPECT_TRUE(seen.insert(line).second) << "twice: " << line;
  EXPECT_FALSE(seen.empty());
}

}  // namespace
}  // namespace phoenix::netgen::testing

namespace phoenix::netgen::testing {
namespace {

TEST(NetgenTraefik, RouterLabelsHttpsCaAndOneHostOneRoute) {
  auto ok = run("traefik", example_dir());
  ASSERT_EQ(ok.exit_code, 0);
  const std::string& y = ok.files.at(0).content;
  EXPECT_NE(y.find("      entryPoints: [websecure]\n      middlewares: [secure-headers@file, compress@file]\n"
                   "      tls:\n        certResolver: internal-resolver\n"),
            std::string::npos)
      << y;
  EXPECT_NE(y.find("- url: \"https://10.0.0.10:9000\""), std::string::npos) << y;  // Traefik's bootstrap_ca_url
  TempInventory twice([](auto& f) {
    f["phoenix_stacks_config.json"]["docker_stacks"]["qdrant_service"]["environments"]["production"]["services"]
     ["qdrant"]["traefik_labels"]
         .push_back("traefik.http.routers.llm.rule=Host(`ollama.internal.thinkheads.ai`)");
  });
  auto bad = run("traefik", twice.dir());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(bad.files.empty());
  bool named = false;
  for (auto& msg : bad.messages)
    named |= msg.find("error: ollama.internal.thinkheads.ai is claimed by route ollama") != std::string::npos;
  EXPECT_TRUE(named);
}

TEST(NetgenTraefik, AnUnknownTraefikServiceKeyIsAnErrorInTraefikAndCheck) {
  TempInventory odd([](auto& f) { f["phoenix_lxc_configs.json"]["lxc_configs"]["914"]["traefik_service"]["path"] = "/api"; });
  auto bad = run("traefik", odd.dir());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(bad.files.empty());
  std::string all;
  for (auto& msg : bad.messages) all += msg + "\n";
  EXPECT_NE(all.find("error invalid-service: unknown traefik_service key \"path\" of lxc 914 (ollama-gpu0) (netgen would "
                     "write the route without it; known: name, port, protocol) [phoenix_lxc_configs.json: "
                     "/lxc_configs/914/traefik_service/path]\n"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("error: traefik-dynamic.yml not written: a traefik_service has keys netgen does not know\n"),
            std::string::npos)
      << all;
  bool checked = false;
  for (auto& x : findings(odd.dir()))
    checked |= x.code == "invalid-service" && x.severity == Severity::error &&
               x.where.at(0).pointer == "/lxc_configs/914/traefik_service/path";
  EXPECT_TRUE(checked);
  // DNS is not affected: zones are still written.
  EXPECT_EQ(run("zones", odd.dir()).exit_code, 0);
}

TEST(NetgenTraefik, OneHostTwoWaysIsAnInventoryContradictionTheSameRouteTwiceIsNot) {
  TempInventory two([](auto& f) {
    f["phoenix_stacks_config.json"]["docker_stacks"]["qdrant_service"]["environments"]["production"]["services"]
     ["qdrant"]["traefik_labels"]
         .push_back("traefik.http.routers.llm.rule=Host(`ollama.internal.thinkheads.ai`)");
  });
  auto bad = run("traefik", two.dir());
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(bad.files.empty());
  std::string all;
  for (auto& msg : bad.messages) all += msg + "\n";
  // Both routes with their backends and places, what is wrong, and what to do.
  EXPECT_NE(all.find("error: ollama.internal.thinkheads.ai is claimed by route ollama -> http://10.0.0.155:11434 "
                     "(lxc 914 (ollama-gpu0) at phoenix_lxc_configs.json: /lxc_configs/914/traefik_service) and "
                     "route ollama-2 -> http://10.0.0.102:6333 (stack qdrant_service/production/qdrant at "
                     "phoenix_stacks_config.json: /docker_stacks/qdrant_service/environments/production/services/"
                     "qdrant/traefik_labels/7): the inventory gives one Host() two backends; keep one of the two, "
                     "or make them agree\n"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("error: traefik-dynamic.yml not written: the inventory contradicts itself on a Host() (see above)\n"),
            std::string::npos)
      << all;

  // A second router of the qdrant service on its own name, without qdrant's TLS and middlewares:
  // Traefik might serve the name without them.
  auto qdrant_labels = [](auto& f) -> nlohmann::json& {
    return f["phoenix_stacks_config.json"]["docker_stacks"]["qdrant_service"]["environments"]["production"]
            ["services"]["qdrant"]["traefik_labels"];
  };
  TempInventory bare([&](auto& f) { qdrant_labels(f).push_back("traefik.http.routers.vectors.rule=Host(`qdrant.internal.thinkheads.ai`)"); });
  auto refused = run("traefik", bare.dir());
  EXPECT_EQ(refused.exit_code, 1);
  all.clear();
  for (auto& msg : refused.messages) all += msg + "\n";
  EXPECT_NE(all.find("error: qdrant.internal.thinkheads.ai is claimed by route qdrant -> http://10.0.0.102:6333"), std::string::npos) << all;
  EXPECT_NE(all.find("the inventory gives one Host() two sets of router settings (entry points, middlewares, TLS)"),
            std::string::npos)
      << all;
  // check gives the same verdict.
  bool checked = false;
  for (auto& x : findings(bare.dir()))
    checked |= x.code == "duplicate-route" && x.severity == Severity::error &&
               x.message.find("with different router settings (entry points, middlewares, TLS)") != std::string::npos;
  EXPECT_TRUE(checked);

  // The same router settings to the same backend: only a repetition, so the file is written.
  TempInventory same([&](auto& f) {
    for (const char* l : {"traefik.http.routers.vectors.rule=Host(`qdrant.internal.thinkheads.ai`)",
                          "traefik.http.routers.vectors.entrypoints=websecure", "traefik.http.routers.vectors.tls=true",
                          "traefik.http.routers.vectors.tls.certresolver=internal-resolver",
                          "traefik.http.routers.vectors.middlewares=secure-headers@file,compress@file"})
      qdrant_labels(f).push_back(l);
  });
  auto ok = run("traefik", same.dir());
  EXPECT_EQ(ok.exit_code, 0);
  ASSERT_EQ(ok.files.size(), 1u);
  EXPECT_NE(ok.files[0].content.find("    qdrant-2:\n"), std::string::npos) << ok.files[0].content;
  bool warned = false;
  for (auto& msg : ok.messages)
    warned |= msg.rfind("warning: qdrant.internal.thinkheads.ai is claimed by route qdrant -> http://10.0.0.102:6333", 0) == 0 &&
              msg.find("route qdrant-2 -> http://10.0.0.102:6333") != std::string::npos &&
              msg.find(": the same backend and router settings twice") != std::string::npos;
  EXPECT_TRUE(warned);
  size_t repeats = 0;
  for (auto& x : findings(same.dir()))
    if (x.code == "duplicate-route") {
      EXPECT_EQ(x.severity, Severity::warning) << x.format();
      ++repeats;
    }
  EXPECT_EQ(repeats, 1u);  // one finding for the pair of routes, not one per name
}

}  // namespace
}  // namespace phoenix::netgen::testing
