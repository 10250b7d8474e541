#include "options.hpp"

#include <spdlog/version.h>

#include <CLI/CLI.hpp>
#include <boost/version.hpp>
#include <cstdio>

#include "server/reload.hpp"

namespace phoenix::server {

#ifndef PHOENIX_VERSION
#define PHOENIX_VERSION "0.0.0"
#endif

namespace {

std::string version_text() {
  std::string v = "phoenix-dns " PHOENIX_VERSION "\n";
  v += "built with ";
#if defined(__clang__)
  v += "clang " __clang_version__;
#elif defined(__GNUC__)
  v += "GCC " __VERSION__;
#endif
  v += ", Boost " + std::to_string(BOOST_VERSION / 100000) + "." + std::to_string(BOOST_VERSION / 100 % 1000) +
       ", spdlog " + std::to_string(SPDLOG_VER_MAJOR) + "." + std::to_string(SPDLOG_VER_MINOR) +
       "; sd_notify built in";
  return v;
}

}  // namespace

CommandLine parse_command_line(int argc, char** argv) {
  CommandLine cl;
  CLI::App app{
      "phoenix-dns " PHOENIX_VERSION " -- authoritative split-horizon DNS server for the Phoenix inventory.\n\n"
      "Reads the Phoenix Hypervisor inventory (phoenix_*_config(s).json), derives the internal, external\n"
      "and reverse zones from it, and answers each client from the view its source address matches.\n",
      "phoenix-dns"};
  app.get_formatter()->column_width(34);
  std::string inventory = "/usr/local/phoenix_hypervisor/etc";
  std::vector<std::string> listen;
  std::string state_dir = "/var/lib/phoenix-dns";
  std::string user;
  app.add_option("-i,--inventory", inventory, "inventory directory (phoenix_*_config(s).json)")
      ->capture_default_str();
  app.add_option("-l,--listen", listen,
                 "ADDR[:PORT] or [V6ADDR]:PORT to serve UDP and TCP on; repeatable; replaces "
                 "dns_server.listen (default: the host address, port 53)");
  std::vector<std::string> upstreams;
  app.add_option("--upstream", upstreams,
                 "address[:port] to forward names outside our zones to; repeatable; replaces "
                 "dns_server.upstream_servers; \"none\" turns forwarding off");
  std::string resolv_conf = cl.server.resolv_conf.string();
  app.add_option("--resolv-conf", resolv_conf,
                 "when neither --upstream nor dns_server.upstream_servers names an upstream, forward to this "
                 "file's nameservers that are not this server")
      ->capture_default_str();
  app.add_flag("--check", cl.check, "load and check the inventory, print a summary, and exit (non-zero on errors)");
  app.add_option("-t,--threads", cl.server.threads, "UDP worker threads per listen address (default: one per core)");
  app.add_option("--udp-spread", cl.server.udp_spread,
                 "with several UDP threads: cpu = each datagram to the thread of the CPU that received it "
                 "(keeps its data in that CPU's cache); flow = by a hash of addresses and ports (better with "
                 "fewer network queues than threads)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cpu", "flow"}));
  app.add_option("--state-dir", state_dir,
                 "where SOA serials and the last good data (served when a start finds the inventory broken) are kept")->capture_default_str();
  app.add_option("-u,--user", user,
                 "after binding, switch to this user and its group (required as root)");
  app.add_flag("--strict", cl.server.strict,
               "refuse to start when the inventory has errors, even with last good data in --state-dir");
  app.add_flag("--allow-root", cl.server.allow_root, "as root without --user, serve as root anyway (not advised)");
  app.add_option("--log-level", cl.log_level, "trace, debug, info, warn, error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.set_version_flag("-V,--version", version_text());
  app.footer(
      "Signals:\n"
      "  SIGHUP           re-read the inventory and swap it in atomically; if it has errors, keep\n"
      "                   serving the last good data and log each error (file and JSON pointer)\n"
      "  SIGTERM, SIGINT  stop accepting, answer what already arrived, exit 0 (a second one: at once)\n"
      "\n"
      "Privileges:\n"
      "  Never serves as root. Started as root, it binds, then switches to --user. Under systemd, run it\n"
      "  as a non-root (or dynamic) user with AmbientCapabilities=CAP_NET_BIND_SERVICE instead.\n"
      "\n"
      "Files:\n"
      "  /usr/local/phoenix_hypervisor/etc/    the default inventory\n"
      "  /var/lib/phoenix-dns/serials.json     SOA serials (same content, same serial; changed, greater)\n"
      "  /var/lib/phoenix-dns/last-good.json   what was last served; used at start if the inventory has errors\n"
      "  /etc/resolv.conf                      upstreams when the inventory names none (--resolv-conf)\n"
      "\n"
      "Environment:\n"
      "  NOTIFY_SOCKET    set by systemd (Type=notify): READY=1, RELOADING=1, STOPPING=1 are sent there\n"
      "\n"
      "Exit status:\n"
      "  0 clean stop, or --check passed; 1 inventory errors, cannot bind, or privilege problem;\n"
      "  2 command line error\n"
      "\n"
      "Examples:\n"
      "  phoenix-dns --check --inventory /usr/local/phoenix_hypervisor/etc\n"
      "  phoenix-dns --listen 10.0.0.13:53 --user phoenix-dns\n"
      "  systemctl reload phoenix-dns      # or: kill -HUP $(pidof phoenix-dns)\n"
      "\n"
      "See phoenix-dns(8).");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every usage error exits 2, as the help text promises.
    cl.exit_code = app.exit(e) == 0 ? 0 : 2;
    return cl;
  }
  cl.server.inventory = inventory;
  cl.server.resolv_conf = resolv_conf;
  if (!user.empty()) cl.server.user = user;
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
  if (!upstreams.empty()) cl.server.upstreams.emplace();
  for (auto& u : upstreams) {
    if (u == "none") continue;
    auto ep = horizon::Endpoint::parse(u, 53);
    if (!ep) {
      std::fprintf(stderr, "phoenix-dns: --upstream %s: not an address or address:port\n", u.c_str());
      cl.exit_code = 2;
      return cl;
    }
    cl.server.upstreams->push_back(*ep);
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
