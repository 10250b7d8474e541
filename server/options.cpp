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
  std::string metrics_listen;
  app.add_option("--metrics-listen", metrics_listen,
                 "ADDR[:PORT] for the Prometheus endpoint (GET /metrics; port 9153 if omitted); replaces "
                 "dns_server.metrics.listen (default: no endpoint)");
  std::string resolv_conf = cl.server.resolv_conf.string();
  app.add_option("--resolv-conf", resolv_conf,
                 "when neither --upstream nor dns_server.upstream_servers names an upstream, forward to this "
                 "file's nameservers that are not this server")
      ->capture_default_str();
  app.add_flag("--check", cl.check, "load and check the inventory, print a summary, and exit (non-zero on errors)");
  app.add_flag("--diff-from-state", cl.diff_from_state,
               "with --check: also print what a reload would change, per view and zone, against what the running "
               "server last published (kept in --state-dir)");
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
  // TCP under pressure (RFC 7766 §6.2.3); start-up settings.
  int64_t idle_ms = cl.server.tcp.idle_timeout.count(), message_ms = cl.server.tcp.message_timeout.count();
  std::string client_prefix = "32/64";
  app.add_option("--tcp-max-connections", cl.server.tcp.max_connections,
                 "TCP connection table size; at the cap a new connection closes the longest-idle one "
                 "(default 0: RLIMIT_NOFILE minus descriptors kept for UDP and files)")
      ->capture_default_str();
  app.add_option("--tcp-max-per-client", cl.server.tcp.max_per_client,
                 "TCP connections one client (see --tcp-client-prefix) may hold; more are closed at once; 0: no cap")
      ->capture_default_str();
  app.add_option("--tcp-client-prefix", client_prefix, "V4LEN/V6LEN: what counts as one client for the per-client cap")
      ->capture_default_str();
  app.add_option("--tcp-idle-timeout", idle_ms,
                 "ms without an answered query before a TCP connection is closed; shrinks to a tenth as "
                 "the table fills past half")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{100}, int64_t{3600000}));
  app.add_option("--tcp-message-timeout", message_ms, "ms a TCP message may take from its first octet to its last")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{100}, int64_t{600000}));
  app.add_option("--tcp-max-unsent", cl.server.tcp.max_unsent,
                 "bytes of unsent replies after which a client that does not read is closed")
      ->capture_default_str()
      ->check(CLI::Range(size_t{65536}, size_t{64} << 20));
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
      "  /var/lib/phoenix-dns/served/          the zones as last published (for --check --diff-from-state)\n"
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
  cl.server.tcp.idle_timeout = std::chrono::milliseconds(idle_ms);
  cl.server.tcp.message_timeout = std::chrono::milliseconds(message_ms);
  {
    unsigned v4 = 0, v6 = 0;
    char tail = 0;
    if (std::sscanf(client_prefix.c_str(), "%u/%u%c", &v4, &v6, &tail) != 2 || v4 > 32 || v6 > 128) {
      std::fprintf(stderr, "phoenix-dns: --tcp-client-prefix %s: not V4LEN/V6LEN (e.g. 32/64)\n", client_prefix.c_str());
      cl.exit_code = 2;
      return cl;
    }
    cl.server.tcp.client_prefix_v4 = static_cast<uint8_t>(v4);
    cl.server.tcp.client_prefix_v6 = static_cast<uint8_t>(v6);
  }
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
  if (!metrics_listen.empty()) {
    auto ep = horizon::Endpoint::parse(metrics_listen, 9153);
    if (!ep) {
      std::fprintf(stderr, "phoenix-dns: --metrics-listen %s: not an address or address:port\n", metrics_listen.c_str());
      cl.exit_code = 2;
      return cl;
    }
    cl.server.metrics_listen = *ep;
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
  // A check never writes state; with --diff-from-state it reads the serials, so that they come out
  // as a reload of the running server would assign them.
  zones::SerialStore serials(cl.diff_from_state ? cl.server.state_dir : std::nullopt);
  auto out = load_snapshot(cl.server.inventory, serials);
  for (auto& d : out.diagnostics.items()) std::printf("%s\n", d.format().c_str());
  if (!out.snapshot) {
    std::printf("%s: %zu errors, %zu warnings\n", cl.server.inventory.c_str(), out.diagnostics.error_count(),
                out.diagnostics.warning_count());
    return 1;
  }
  std::printf("%s\n%s: OK (%zu warnings)\n", describe_snapshot(out.plan, *out.snapshot).c_str(),
              cl.server.inventory.c_str(), out.diagnostics.warning_count());
  if (cl.diff_from_state) {
    if (!cl.server.state_dir) {
      std::fprintf(stderr, "phoenix-dns: --diff-from-state needs --state-dir\n");
      return 1;
    }
    std::string err;
    auto served = zones::read_served(*cl.server.state_dir / kServedDir, err);
    if (!err.empty()) {
      std::fprintf(stderr, "phoenix-dns: --diff-from-state: %s\n", err.c_str());
      return 1;
    }
    auto changes = zones::diff_served(served, *out.snapshot);
    for (auto& d : changes) std::printf("reload would change: %s\n", zones::describe(d).c_str());
    std::printf("reload would change: %s\n", zones::summarize(changes).c_str());
  }
  return 0;
}

}  // namespace phoenix::server
