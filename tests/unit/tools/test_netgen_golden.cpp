// Golden files: every command on the bundled example must print exactly tests/data/netgen/<case>.golden.
// After an intended change, regenerate with PHOENIX_UPDATE_GOLDEN=1 ctest -R golden and review the diff.
#include <cstdlib>

#include "netgen_test_util.hpp"

namespace phoenix::netgen::testing {
namespace {

struct GoldenCase {
  const char* name;
  const char* command;
  std::vector<std::string> args;
  bool json;
  int exit_code;
};

std::vector<GoldenCase> cases() {
  return {
      {"firewall", "firewall", {}, false, 0},
      {"traefik", "traefik", {}, false, 0},
      {"nginx", "nginx", {}, false, 0},
      {"zones", "zones", {}, false, 0},
      {"check", "check", {}, false, 0},
      {"check_json", "check", {}, true, 0},
      {"diagram", "diagram", {}, false, 0},
      {"reach_allow", "reach", {"10.0.0.111", "drphoenix", "9001/tcp"}, false, 0},
      {"reach_drop", "reach", {"Traefik-Internal", "1002", "9001/tcp"}, false, 1},
      {"reach_json", "reach", {"10.0.0.155", "host", "53/udp"}, true, 0},
      {"view_external", "view", {"127.0.0.2", "ollama.phoenix.thinkheads.ai"}, false, 0},
      {"view_refused", "view", {"127.0.0.2", "ollama.internal.thinkheads.ai"}, false, 0},
      {"view_ptr", "view", {"10.0.0.7", "155.0.0.10.in-addr.arpa", "PTR"}, false, 0},
      {"view_ns_additional", "view", {"::1", "internal.thinkheads.ai", "NS"}, false, 0},
      {"view_out_of_zone", "view", {"127.0.0.1", "example.com", "A"}, false, 0},
      {"view_json", "view", {"10.0.0.7", "portainer-agent.internal.thinkheads.ai"}, true, 0},
  };
}

// Keeps ctest's test names readable instead of a byte dump of the parameter.
void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

class Golden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, MatchesFile) {
  const GoldenCase& c = GetParam();
  auto r = run(c.command, example_dir(), c.args, c.json);
  EXPECT_EQ(r.exit_code, c.exit_code);
  std::string got = render_stdout(r);
  auto path = std::filesystem::path(PHOENIX_SOURCE_DIR) / "tests" / "data" / "netgen" / (std::string(c.name) + ".golden");
  if (const char* upd = std::getenv("PHOENIX_UPDATE_GOLDEN"); upd && std::string(upd) == "1") {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << got;
    GTEST_SKIP() << "rewrote " << path;
  }
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " missing; run with PHOENIX_UPDATE_GOLDEN=1";
  std::string want = read_text(path);
  if (got == want) return;
  // Point at the first differing line rather than dumping two long files.
  std::istringstream g(got), w(want);
  std::string gl, wl;
  for (int line = 1;; ++line) {
    bool gm = static_cast<bool>(std::getline(g, gl)), wm = static_cast<bool>(std::getline(w, wl));
    if (!gm && !wm) break;
    if (gl != wl || gm != wm) {
      ADD_FAILURE() << path << " line " << line << "\n  want: " << (wm ? wl : "<end>") << "\n  got:  " << (gm ? gl : "<end>");
      break;
    }
  }
  FAIL() << "output differs from " << path;
}

TEST_P(Golden, SameBytesTwice) {
  const GoldenCase& c = GetParam();
  EXPECT_EQ(render_stdout(run(c.command, example_dir(), c.args, c.json)),
            render_stdout(run(c.command, example_dir(), c.args, c.json)));
}

INSTANTIATE_TEST_SUITE_P(Example, Golden, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<GoldenCase>& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace phoenix::netgen::testing
