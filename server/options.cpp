#include "options.hpp"

#include <CLI/CLI.hpp>
#include <cstdio>

#include "server/reload.hpp"

namespace phoenix::server {

#ifndef PHOENIX_VERSION
#define PHOENIX_VERSION "0.0.0"
#endif

CommandLine parse_command_line(int argc, char** argv) {
  CommandLine cl;
  CLI::App app{
      "phoenix-dns " PHOENIX_VERSION " -- authoritative split-horizon DNS server for the Phoenix inventory.\n"
      "Serves internal and external views of the zones derived from the inventory; SIGHUP reloads,\n"
      "SIGTERM/SIGINT stop after answering what is in flight.",
      "phoenix-dns"};
  std::string inventory = "/usr/local/phoenix_hypervisor/etc";
  std::vector<std::string> listen;
  std::string state_dir = "/var/lib/phoenix-dns";
  app.add_option("-i,--inventory", inventory, "inventory directory (phoenix_*_config(s).json)")
      ->capture_default_str();
  app.add_option("-l,--listen", listen,
                 "address[:port] or [v6addr]:port to serve on, UDP and TCP; repeatable; replaces "
                 "dns_server.listen (default: the host address, port 53)");
  app.add_flag("--check", cl.check, "load and check the inventory, print a summary, and exit (non-zero on errors)");
  app.add_option("-t,--threads", cl.server.threads, "UDP worker threads (default: one per core)");
  app.add_option("--state-dir", state_dir, "where SOA serials are remembered across restarts")->capture_default_str();
  app.add_option("--log-level", cl.log_level, "trace, debug, info, warn, error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.set_version_flag("-V,--version", "phoenix-dns " PHOENIX_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    cl.exit_code = app.exit(e);
    return cl;
  }
  cl.server.inventory = inventory;
  if (!state_dir.empty()) cl.server.state_dir = state_dir;
  for (auto& l : listen) {
    auto ep = horizon::Endpoint::parse(l, 53);
    if (!ep) {
      std::fprintf(stderr, "phoenix-dns: --listen %s: not an address or address:port\n", l.c_str());
      cl.exit_code = 2;
      return cl;
    }
    cl.server.listen.push_back(*ep);
  }
  return cl;
}

int run_check(const CommandLine& cl) {
  zones::SerialStore serials(std::nullopt);  // a check never writes state
  auto out = load_snapshot(cl.server.inventory, serials);
  for (auto& d : out.diagnostics.items()) std::printf("%s\n", d.format().c_str());
  if (!out.snapshot) {
    std::printf("%s: %zu errors, %zu warnings\n", cl.server.inventory.c_str(), out.diagnostics.error_count(),
                out.diagnostics.warning_count());
    return 1;
  }
  std::printf("%s\n%s: OK (%zu warnings)\n", describe_snapshot(out.plan, *out.snapshot).c_str(),
              cl.server.inventory.c_str(), out.diagnostics.warning_count());
  return 0;
}

}  // namespace phoenix::server
